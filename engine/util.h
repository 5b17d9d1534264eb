/* util: small shared helpers for the engine: growable buffers, a string->u32
 * hash map, 64-bit hashing, and careful file operations (atomic replace with
 * fsync, mkdir -p, whole-file reads, mmap).
 *
 * Ownership: sy_buf and sy_strmap own their memory and are released with
 * sy_buf_free / sy_strmap_free.  sy_strmap does NOT copy keys: the caller
 * keeps key bytes alive (the corpus arena does).  Nothing here is thread-safe
 * per object; distinct objects may be used from distinct threads.
 * Errors go through sy_err (see err.h). */
#ifndef SY_UTIL_H
#define SY_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* ---- growable byte buffer ---------------------------------------------- */
typedef struct {
    char *data;    /* always NUL-terminated when len > 0 or after any append */
    size_t len, cap;
} sy_buf;

int sy_buf_reserve(sy_buf *b, size_t extra);           /* 0 or -1 (ENOMEM) */
int sy_buf_append(sy_buf *b, const void *p, size_t n);
int sy_buf_puts(sy_buf *b, const char *s);
int sy_buf_printf(sy_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sy_buf_free(sy_buf *b);

/* ---- hashing ------------------------------------------------------------ */
uint64_t sy_hash64(const void *p, size_t n);           /* fast, non-cryptographic */
uint64_t sy_hash64_seed(const void *p, size_t n, uint64_t seed);
/* Normalised text hash: lower-cased ASCII, runs of whitespace and punctuation
 * collapsed, so trivially different copies of one text hash alike. */
uint64_t sy_text_hash(const char *s, size_t n);

/* ---- string -> u32 map (keys not copied) -------------------------------- */
typedef struct {
    const char **keys;
    uint32_t *klen, *vals;
    uint64_t *hashes;
    size_t cap, n;
} sy_strmap;

int sy_strmap_init(sy_strmap *m, size_t expect);
/* Insert key -> val.  Returns 1 if inserted, 0 if the key existed (then
 * *old, if given, receives the existing value and nothing changes), -1 on ENOMEM. */
int sy_strmap_put(sy_strmap *m, const char *key, size_t klen, uint32_t val, uint32_t *old);
/* Returns 1 and sets *val when found, 0 when absent. */
int sy_strmap_get(const sy_strmap *m, const char *key, size_t klen, uint32_t *val);
void sy_strmap_free(sy_strmap *m);

/* ---- files ---------------------------------------------------------------- */
/* Read a whole file; result NUL-terminated, *len excludes the NUL. Caller frees. */
char *sy_read_file(const char *path, size_t *len, sy_err *err);
/* THE atomic file writer (every file replaced in place goes through it):
 * write PATH.tmp.PID, fsync it, rename it over PATH, fsync the folder.  A new
 * file is private (0600); a replaced one keeps its mode.  On any failure the
 * temporary is removed and the previous PATH is untouched. */
int sy_write_file_atomic(const char *path, const void *data, size_t len, sy_err *err);
/* The same, streamed: open, write to a.fd (sy_write_all), then commit (or
 * abort).  commit aborts by itself when it fails. */
typedef struct {
    int fd;
    char *path, *tmp;
} sy_atomic;
int sy_atomic_open(sy_atomic *a, const char *path, sy_err *err);
int sy_atomic_commit(sy_atomic *a, sy_err *err);
void sy_atomic_abort(sy_atomic *a);   /* safe on a zeroed or finished sy_atomic */
/* write(2) all of it, retrying on EINTR; on failure errno is kept. 0 / -1. */
int sy_write_all(int fd, const void *p, size_t n);
int sy_mkdir_p(const char *path, sy_err *err);
int sy_fsync_dir(const char *dir);
int sy_file_exists(const char *path);
int sy_is_dir(const char *path);
/* snprintf into a fresh malloc'd string. */
char *sy_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sy_path_join(const char *a, const char *b);     /* malloc'd "a/b" */
/* Append s to b as ONE shell word: as is when every byte is in
 * [A-Za-z0-9_./:+,=@%-] (and s is not empty), else in single quotes with each
 * ' written '\''.  The one quoting rule for every value put in a generated
 * script.  0 / -1 (ENOMEM). */
int sy_shell_quote(sy_buf *b, const char *s);
/* Copy url into out (always NUL-terminated) with its secrets cut: the
 * userinfo of scheme://USER:PASS@host becomes [REDACTED]@, and the value of a
 * query parameter named key, api_key, apikey, api-key, token, access_token,
 * auth, sig, signature, password or secret becomes [REDACTED].  Returns how
 * many secrets were cut (0: the URL is safe to show as is).  Every URL that
 * reaches a message, a file or a trace goes through this. */
int sy_url_redact(const char *url, char *out, size_t n);
/* The first control character (< 0x20 or 0x7f) in s, or NULL: names that go
 * into scripts, comments or one-line files are refused when they hold one. */
const char *sy_find_control(const char *s);

/* Read-only whole-file mapping (empty files map to a valid zero-length view). */
typedef struct {
    const uint8_t *data;
    size_t len;
} sy_map;
int sy_map_open(sy_map *m, const char *path, sy_err *err);
void sy_map_close(sy_map *m);

/* ---- processes ------------------------------------------------------------ */
/* Who a pid is: "BOOTID:START" (the boot's id and the process' start time in
 * clock ticks, from /proc), so a pid written to a file can be told apart from
 * a later process that reuses the number or one on another machine.  0, or -1
 * when the process is gone (or there is no /proc). */
int sy_proc_token(long pid, char *buf, size_t n);
/* Send sig to pid only when it is still the process token names (a pidfd
 * holds it between the check and the signal where the kernel has one).
 * pid < 0 signals the process group -pid, its leader checked.  0 sent; -1
 * with errno ESRCH when gone or a different process (nothing sent). */
int sy_proc_signal(long pid, const char *token, int sig);

/* ---- time ------------------------------------------------------------------ */
double sy_now(void);                    /* monotonic seconds */
/* UTC "2026-11-21T06:10:12.345Z" into buf (>= 32 bytes). */
void sy_iso_time(char *buf, size_t n);

/* ---- seeded pseudo-random numbers ---------------------------------------- */
/* One splitmix64 step: advances *state and returns 64 random bits.  The one
 * generator behind every seeded choice (mining samples, hybrid sampling,
 * offline edits, training order, retry jitter), so runs are reproducible. */
static inline uint64_t sy_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- little-endian fixed-size fields for binary formats -------------------- */
static inline void sy_put_u32(uint8_t *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static inline uint32_t sy_get_u32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline void sy_put_u64(uint8_t *p, uint64_t v) { sy_put_u32(p, (uint32_t)v); sy_put_u32(p + 4, (uint32_t)(v >> 32)); }
static inline uint64_t sy_get_u64(const uint8_t *p) { return sy_get_u32(p) | (uint64_t)sy_get_u32(p + 4) << 32; }

#endif
