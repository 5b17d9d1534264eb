/* retriever: one small interface over the session's first-stage retrievers,
 * so eval, mine and search do not care which one they use.
 *   "bm25"   the Lucene-exact BM25 index (bm25.h) under SESSION/cache/bm25/,
 *            built on first use (or when the corpus changed) with k1/b from the
 *            session settings "bm25.k1" / "bm25.b" (defaults 0.9 / 0.4);
 *   "dense"  exact dense search (index.h) with the model folder given.
 * retriever_search answers a batch of queries; bm25 spreads the batch over two
 * threads (one mapped index handle per thread).  The handle borrows the
 * session (which must outlive it); not thread-safe per handle.  Errors through
 * sy_err. */
#ifndef SY_RETRIEVER_H
#define SY_RETRIEVER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "session.h"

typedef struct retriever retriever;

typedef struct {
    const char *kind;          /* "bm25" (default) | "dense" */
    const char *model_dir;     /* dense: the model folder */
    const char *storage;       /* dense: "fp32" | "bf16" | "int8"; NULL: setting dense.storage */
    const char *precision;     /* dense: "fp32" | "bf16" | "auto"; NULL: setting encoder.precision */
    int nthreads;              /* bm25: 0 = 2 */
    int rebuild;               /* bm25: rebuild the index even when it is current */
    /* progress of index building / corpus embedding; may be NULL */
    void (*progress)(void *ctx, const char *what, size_t done, size_t total);
    void *progress_ctx;
} retriever_opts;

/* SESSION/cache/bm25/index.bin, malloc'd */
char *retriever_bm25_path(const session *s);
/* Build (or rebuild) the session's BM25 index now. */
int retriever_bm25_build(session *s, const retriever_opts *o, sy_err *err);

retriever *retriever_open(session *s, const retriever_opts *o, sy_err *err);
void retriever_free(retriever *r);
const char *retriever_kind(const retriever *r);
/* What opening had to repair (e.g. a dense vector copy of an older format
 * rebuilt), or NULL; borrowed, lives as long as r. */
const char *retriever_notice(const retriever *r);

/* Top-k for nq queries: docs/scores are [nq * k], best first; slots past the
 * hits hold doc UINT32_MAX and score -INFINITY. */
int retriever_search(retriever *r, const char *const *queries, size_t nq, size_t k,
                     uint32_t *docs, float *scores, sy_err *err);
/* Scores of given documents for one query (bm25 only; SY_EUNSUP for dense). */
int retriever_score_docs(retriever *r, const char *query, const uint32_t *docs, size_t n,
                         float *scores, sy_err *err);

/* Scores of given texts (title, text; titles may be NULL) for one query, as
 * if they were documents of the index (bm25 only; SY_EUNSUP for dense):
 * synthetic negatives and corpus documents on one scale. */
int retriever_score_texts(retriever *r, const char *query, const char *const *titles, const char *const *texts,
                          size_t n, float *scores, sy_err *err);

#endif
