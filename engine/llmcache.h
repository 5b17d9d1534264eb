/* llmcache: the content-addressed disk cache of LLM answers (used by llm.c).
 *
 * Layout: CACHE_DIR/pack-<time>-<pid>-<n>.jsonl, append-only files, one
 * entry per line: {"key": 64 hex, "model", "created", "request", "response"}
 * where key = SHA-256 of the request body (llm.h) and the key is always the
 * first member, so the index is built by reading keys only.  Each client that
 * stores answers appends to its own pack (one write(2) per entry, O_APPEND),
 * so concurrent writers never share a file.  Opening scans every pack and
 * indexes key -> (pack, offset); a later line for the same key wins.  A torn
 * last line (a kill mid-write) or a damaged line is skipped: a miss.  No
 * fsync: a lost entry is only a miss.  Per-answer files were measured to cost
 * ~1 ms of kernel time each on ext4; packs make a store one append.
 *
 * Ownership: handles own everything; lookups return new json_t references.
 * Not thread-safe per handle (one per client).  Errors through sy_err. */
#ifndef SY_LLMCACHE_H
#define SY_LLMCACHE_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

typedef struct llm_cache llm_cache;

/* Create dir if needed and index its packs. */
llm_cache *llm_cache_open(const char *dir, sy_err *err);
void llm_cache_free(llm_cache *c);
/* The stored response object for key (64 hex), or NULL on a miss. */
json_t *llm_cache_lookup(llm_cache *c, const char *key);
/* Append an entry (request_json may be NULL); it wins over earlier ones. 0 / -1. */
int llm_cache_store(llm_cache *c, const char *key, const char *model, const char *request_json,
                    const char *response_json, size_t response_len, sy_err *err);
/* Treat key as absent from now on (in this handle). */
void llm_cache_forget(llm_cache *c, const char *key);
size_t llm_cache_count(const llm_cache *c);       /* distinct keys indexed */

#endif
