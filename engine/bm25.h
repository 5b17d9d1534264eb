/* bm25: Lucene-exact BM25 retrieval over a corpus: build an inverted index
 * (both cores), store it as one versioned little-endian file that opens with
 * mmap in milliseconds, and answer top-k queries with a bounded heap and
 * MaxScore dynamic pruning over block-max skip data.
 *
 * Scoring is Lucene's BM25Similarity (8.x/9.x), float for float:
 *   idf    = (float) ln(1 + (docCount - df + 0.5) / (df + 0.5))
 *   norm   = SmallFloat.intToByte4(doc length)   (one byte per document)
 *   cache  = 1 / (k1 * ((1 - b) + b * byte4ToInt(norm) / avgdl))
 *   score  = w - w / (1 + tf * cache[norm]),  w = (query term count) * idf
 * where docCount counts documents with at least one term and avgdl =
 * (float)(sumTotalTermFreq / docCount).  A document's score is the sum of its
 * term scores (in double, then rounded to float, as Lucene's disjunctions do);
 * ties rank the lower document index first (Lucene's docid order).
 * Text is analyzed by analyzer.h from "title\ntext".
 *
 * Ownership: bm25_open returns an owned handle (bm25_free, NULL-safe) that
 * holds the mapping, an analyzer and search scratch: NOT thread-safe; open the
 * same file once per thread instead (mapping is shared by the OS).  Errors
 * through sy_err.  File format: README "cache/bm25/index.bin". */
#ifndef SY_BM25_H
#define SY_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "corpus.h"
#include "err.h"

#define BM25_K1_DEFAULT 0.9f
#define BM25_B_DEFAULT 0.4f

typedef struct bm25_index bm25_index;

/* One document's text for bm25_build_texts: title (may be NULL) and body. */
typedef void (*bm25_doc_fn)(void *ctx, uint32_t doc, const char **title, size_t *title_len,
                            const char **text, size_t *text_len);

typedef struct {
    int nthreads;                 /* 0: 2 */
    /* progress while analyzing: done/total documents; called from the calling thread */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} bm25_build_opts;

/* Build the index of a corpus into path (written atomically). opts may be NULL. */
int bm25_build(const corpus *c, const char *path, const bm25_build_opts *opts, sy_err *err);
/* Same over any ndocs texts given by fn (fn must be safe to call from several
 * threads at once); fingerprint is stored for staleness checks. */
int bm25_build_texts(uint32_t ndocs, bm25_doc_fn fn, void *ctx, uint64_t fingerprint,
                     const char *path, const bm25_build_opts *opts, sy_err *err);
/* A hash of the corpus' document ids and text lengths, stored in the index so
 * a stale index can be detected. */
uint64_t bm25_corpus_fingerprint(const corpus *c);

bm25_index *bm25_open(const char *path, sy_err *err);
void bm25_free(bm25_index *ix);
/* k1 and b are query-time parameters (defaults 0.9 / 0.4). */
int bm25_set_params(bm25_index *ix, float k1, float b, sy_err *err);

uint32_t bm25_ndocs(const bm25_index *ix);
uint32_t bm25_doc_count(const bm25_index *ix);   /* documents with >= 1 term */
uint32_t bm25_nterms(const bm25_index *ix);
uint64_t bm25_npostings(const bm25_index *ix);
uint64_t bm25_fingerprint(const bm25_index *ix);
size_t bm25_file_size(const bm25_index *ix);
float bm25_avgdl(const bm25_index *ix);
/* Document frequency of an analyzed term (0 when absent). */
uint32_t bm25_df(const bm25_index *ix, const char *term);
/* Lucene field length of a document as decoded from its norm byte. */
uint32_t bm25_doc_norm_length(const bm25_index *ix, uint32_t doc);

/* Top-k for one query: writes up to k hits (best first) to docs/scores and
 * returns their number (0 when no query term is in the index); -1 on error. */
long bm25_search(bm25_index *ix, const char *query, size_t k, uint32_t *docs, float *scores,
                 sy_err *err);
/* Reference twin of bm25_search: scores every matching document, then sorts.
 * Same results; slow; for tests and benchmarks. */
long bm25_search_exhaustive(bm25_index *ix, const char *query, size_t k, uint32_t *docs,
                            float *scores, sy_err *err);
/* Score given documents for a query (0 where no term matches). */
int bm25_score_docs(bm25_index *ix, const char *query, const uint32_t *docs, size_t n,
                    float *scores, sy_err *err);

/* Score texts that need not be in the index (synthetic negatives, or
 * documents) for a query, with the index's statistics (idf, avgdl, k1, b):
 * each text is analyzed as a document would be (title, then text) and scored
 * as if indexed.  For a corpus document this equals bm25_score_docs.  NULL
 * titles: none. */
int bm25_score_texts(bm25_index *ix, const char *query, const char *const *titles, const char *const *texts,
                     size_t n, float *scores, sy_err *err);

/* Lucene's SmallFloat.intToByte4 / byte4ToInt (exposed for tests). */
uint8_t bm25_int_to_byte4(uint32_t i);
uint32_t bm25_byte4_to_int(uint8_t b);

#endif
