/* index: exact dense search over corpus embeddings cached in the session.
 *
 * dense_open loads (or computes, with progress through the callback, and
 * caches under SESSION/cache/dense/<key>/emb.bin) the corpus embeddings for
 * the model folder, then answers top-k queries by blocked sgemm plus bounded
 * heaps.  The handle owns everything it returns; not thread-safe per handle.
 * Errors through sy_err.
 *
 * Options come from dense_opts, else the session settings "dense.pooling",
 * "dense.normalize", "dense.max_len", "dense.query_prefix",
 * "dense.passage_prefix", else the model folder's defaults.  A passage is
 * embedded as passage.h formats it ("TITLE TEXT", or the text alone when
 * titles are off: dense_opts.titles, else the setting "passage.titles"),
 * with the passage prefix in front.
 *
 * Cache file (little-endian): a 64-byte header
 *   0  magic "SYDENSE\0"        8  u32 version (1)      12 u32 dim
 *   16 u64 ndocs               24 u64 rows done        32 u64 key (model
 *   weights + options)         40 u64 corpus hash      48 u32 pooling
 *   52 u32 normalize           56 u32 max_len          60 u32 reserved
 * then ndocs x dim float32 rows in corpus order.  Rows are written in chunks
 * and "rows done" is updated after each fsync'ed chunk, so an interrupted
 * embedding resumes where it stopped.  The key folder name is the hex key
 * mixed with the corpus hash, so a changed model, option or corpus never
 * reuses stale vectors.  The file is flock'ed while being written, so
 * processes (read-only session handles too) share it safely; where it cannot
 * be written the vectors are computed in memory.  The finished file is mmap'ed, and search streams it
 * in blocks, so corpora larger than RAM work.
 *
 * Storage (dense_opts.storage, else the setting "dense.storage"): fp32 searches
 * emb.bin itself; bf16 or int8 search a copy made from it once, beside it, as
 * emb.bf16 / emb.int8 (half / a quarter of the bytes to stream), written
 * through the atomic writer.  Copy file (little-endian): a 64-byte header
 *   0  magic "SYDENSQ\0"        8  u32 version (1)      12 u32 type (1 bf16,
 *   2 int8)                     16 u64 ndocs            24 u32 dim
 *   32 u64 key (as emb.bin)     40 u64 corpus hash      48..63 zero
 * then the per-dimension parameters, padded to a multiple of 64 bytes (bf16:
 * dim f32 offsets, the corpus mean; int8: dim f32 scales, then dim f32
 * offsets, from the corpus range), then ndocs x dim values: bf16 of x - offset
 * (rounded to nearest even) or int8 v with x ~ offset[d] + scale[d] * v, v in
 * -127..127 (see dscan.h).  Queries stay
 * fp32.  A copy whose version, type, shape, key or size does not match is
 * rebuilt from emb.bin, and dense_notice says why; emb.bin's own format
 * (version 1) is unchanged, so indexes made before storage types existed open
 * as they are.  Where the folder is read-only the copy is built in memory. */
#ifndef SY_INDEX_H
#define SY_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "dscan.h"
#include "err.h"
#include "session.h"

typedef struct dense_index dense_index;

typedef struct {
    const char *pooling;      /* "cls" | "mean" | NULL for the model's default */
    int normalize;            /* L2-normalise vectors (-1: model default) */
    int max_len;              /* 0: model default (512) */
    const char *query_prefix, *passage_prefix;  /* e.g. "query: ", "passage: "; NULL none */
    int titles;               /* 1 with titles, -1 without, 0: setting "passage.titles" */
    const char *storage;      /* "fp32" | "bf16" | "int8"; NULL: setting "dense.storage" */
    const char *precision;    /* encoder "fp32" | "bf16" | "auto"; NULL: setting "encoder.precision" */
    /* progress while embedding the corpus: done/total passages; may be NULL */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} dense_opts;

dense_index *dense_open(session *s, const char *model_dir, const dense_opts *opts, sy_err *err);
/* Top-k for nq query texts: docs/scores are [nq * k], best first; slots
 * beyond the corpus size hold doc UINT32_MAX and score -INFINITY.  With bf16
 * or int8 storage the scan keeps 4k candidates and their fp32 rows (read from
 * emb.bin, only those) give the final order and scores, so it returns what
 * fp32 would unless a true hit falls outside the 4k (on embeddings with a
 * strong common direction, bf16's own order alone loses up to a quarter of
 * the top 10).  Few queries stream (dscan.h), many use sgemm (dense_topk_docs). */
int dense_search(dense_index *ix, const char *const *queries, size_t nq, size_t k,
                 uint32_t *docs, float *scores, sy_err *err);
void dense_free(dense_index *ix);
/* The query vectors dense_search would use: out [nq, dim]. */
int dense_embed_queries(dense_index *ix, const char *const *queries, size_t nq, float *out, sy_err *err);

size_t dense_ndocs(const dense_index *ix);
int dense_dim(const dense_index *ix);
/* The cached corpus matrix [ndocs, dim] (borrowed; lives until dense_free). */
const float *dense_matrix(const dense_index *ix);
/* Path of the cache file (borrowed). */
const char *dense_cache_path(const dense_index *ix);
/* Path of the bf16/int8 copy searched (borrowed), NULL for fp32. */
const char *dense_storage_path(const dense_index *ix);
/* The documents search reads (fp32 matrix or the bf16/int8 copy; borrowed). */
const dscan_docs *dense_docs(const dense_index *ix);
/* What dense_open had to repair (e.g. a copy of an older format rebuilt), or
 * NULL; borrowed. */
const char *dense_notice(const dense_index *ix);

/* The search core, on plain matrices: for each of nq query rows of Q[nq, dim]
 * the k largest inner products with the rows of D[nd, dim], best first (ties:
 * lower doc index first); docs/scores [nq * k], slots beyond nd hold
 * UINT32_MAX / -INFINITY.  One query or a few (dscan_streams) stream the matrix once
 * with the top-k inline (dscan.h: AVX-512 where the CPU has it, exact lane
 * arithmetic, NaN scores never returned); more use blocked sgemm (memory
 * O(block), not O(nq * nd)) with bounded heaps split over kern_threads()
 * threads.  dense_topk_docs takes fp32, bf16 or int8 documents (dscan_docs;
 * sgemm widens them a block at a time).  dense_topk_naive is the obvious twin
 * of the sgemm path for tests (the streaming path has its own, in dscan.h). */
int dense_topk_docs(const float *Q, size_t nq, const dscan_docs *D, size_t k, uint32_t *docs, float *scores,
                    sy_err *err);
int dense_topk(const float *Q, size_t nq, const float *D, size_t nd, int dim, size_t k,
               uint32_t *docs, float *scores, sy_err *err);
int dense_topk_naive(const float *Q, size_t nq, const float *D, size_t nd, int dim, size_t k,
                     uint32_t *docs, float *scores, sy_err *err);

#endif
