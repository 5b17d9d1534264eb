/* index: exact dense search over corpus embeddings cached in the session.
 *
 * dense_open loads (or computes, with progress through the callback, and
 * caches under SESSION/cache/dense/<model-hash>/) the corpus embeddings for
 * the model folder, then answers top-k queries by blocked sgemm plus bounded
 * heaps.  The handle owns everything it returns; not thread-safe per handle.
 * Errors through sy_err. */
#ifndef SY_INDEX_H
#define SY_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "session.h"

typedef struct dense_index dense_index;

typedef struct {
    const char *pooling;      /* "cls" | "mean" | NULL for the model's default */
    int normalize;            /* L2-normalise vectors (-1: model default) */
    int max_len;              /* 0: model default (512) */
    const char *query_prefix, *passage_prefix;  /* e.g. "query: ", "passage: "; NULL none */
    /* progress while embedding the corpus: done/total passages; may be NULL */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} dense_opts;

dense_index *dense_open(session *s, const char *model_dir, const dense_opts *opts, sy_err *err);
/* Top-k for nq query texts: docs/scores are [nq * k], best first; slots
 * beyond the corpus size hold doc UINT32_MAX and score -INFINITY. */
int dense_search(dense_index *ix, const char *const *queries, size_t nq, size_t k,
                 uint32_t *docs, float *scores, sy_err *err);
void dense_free(dense_index *ix);

#endif
