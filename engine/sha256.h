/* sha256: FIPS 180-4 SHA-256, for content-addressed cache keys and template
 * hashes.  Pure functions over caller-owned state; thread-safe.  Never fails. */
#ifndef SY_SHA256_H
#define SY_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    uint8_t buf[64];
    size_t nbuf;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *p, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
/* One-shot digest as 64 lower-case hex digits + NUL into hex (>= 65 bytes). */
void sha256_hex(const void *p, size_t n, char hex[65]);

#endif
