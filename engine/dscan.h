/* dscan: the streaming top-k kernel of exact dense search, for few queries.
 *
 * dscan_topk reads the document matrix once, from front to back, in parallel
 * over contiguous document ranges (sy_par_for), computing each query's inner
 * products with AVX-512 where the CPU has it (else a portable loop with the
 * same arithmetic), and keeps each query's top k inline in a bounded heap: no
 * score matrix, so memory traffic is the matrix itself.  It is meant for
 * one query or a few (dscan_streams); beyond that, blocked sgemm (index.c)
 * reuses each document block across many queries and wins.
 *
 * Documents are stored as fp32, bf16 or int8 (dscan_docs).  The score of one
 * document is defined exactly, so every implementation returns the same bits:
 *   x[c]  the stored value as fp32: fp32 as is; bf16 widened (exact);
 *         int8 v[c] as (float)v[c].  bf16 and int8 may carry per-dimension
 *         offset[] (and int8 scale[]), x ~ offset + scale * v: the query is
 *         then pre-scaled, q'[c] = q[c] * scale[c] (q[c] without scale), and
 *         bias = dot(q, offset) by the lane rule (dscan_prep).
 *   dot   16 lane sums, acc[c % 16] = acc[c % 16] + q[c] * x[c] (product and
 *         sum each rounded to fp32, c increasing), then a fixed tree:
 *         a8[l] = acc[l] + acc[l+8], a4[l] = a8[l] + a8[l+4],
 *         a2[l] = a4[l] + a4[l+2], dot = a2[0] + a2[1].
 *   score dot(q, x), or bias + dot(q', x) with an offset or scale.
 * Ranking: higher score first; equal scores by lower document index.  A
 * document whose score is NaN is never returned.  Slots beyond the documents
 * that can be returned hold doc UINT32_MAX and score -INFINITY.
 * dscan_topk_naive is the obvious twin (one document at a time, sorted
 * insertion); tests require equal output.
 *
 * Pure functions over borrowed arrays: no state, thread-safe.  Errors (out of
 * memory, bad shapes) through sy_err. */
#ifndef SY_DSCAN_H
#define SY_DSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DSCAN_FEW 16   /* dense search streams for fewer queries than this ... */
#define DSCAN_FEW_FLOATS 3072   /* ... whose rows hold at most this many floats in all */

/* Does dense search stream the matrix for nq queries of dim dimensions?  One
 * query always does; a few do while their rows stay small enough to sit in L1
 * beside the documents streaming past (measured on 100k x 384 and x 768, 2
 * threads: 15 queries of 768 streamed in 78 ms against 31 ms through sgemm,
 * 8 of 384 tie).  Else blocked sgemm (index.c). */
static inline int dscan_streams(size_t nq, int dim)
{
    return nq == 1 || (nq < DSCAN_FEW && nq * (size_t)(dim > 0 ? dim : 1) <= DSCAN_FEW_FLOATS);
}

typedef enum { DSCAN_F32 = 0, DSCAN_BF16 = 1, DSCAN_INT8 = 2 } dscan_dtype;

/* A document matrix of n rows of dim values (borrowed pointers). */
typedef struct {
    dscan_dtype dtype;
    size_t n;
    int dim;
    const void *rows;      /* float | uint16_t (bf16 bits) | int8_t, [n, dim] row-major */
    const float *scale;    /* int8: [dim] per-dimension scale (NULL: 1) */
    const float *offset;   /* bf16, int8: [dim] per-dimension offset (NULL: 0) */
} dscan_docs;

/* Which code runs: the best for this CPU, or one forced (tests, benchmarks). */
typedef enum { DSCAN_AUTO = 0, DSCAN_PORTABLE = 1, DSCAN_AVX512 = 2 } dscan_impl;

/* 1 when this CPU runs the AVX-512 code (avx512f, avx512bw, avx512vl). */
int dscan_have_avx512(void);
const char *dscan_dtype_name(dscan_dtype t);   /* "fp32" | "bf16" | "int8" */
size_t dscan_row_bytes(dscan_dtype t, int dim);

/* Top-k of nq queries Q[nq, dim] over D: docs/scores [nq * k], best first.
 * nthreads: parts to split the documents into (<= 0: kern_threads()).
 * impl DSCAN_AVX512 on a CPU without it is an error (SY_EUNSUP). */
int dscan_topk(const float *Q, size_t nq, const dscan_docs *D, size_t k, int nthreads, dscan_impl impl,
               uint32_t *docs, float *scores, sy_err *err);
int dscan_topk_naive(const float *Q, size_t nq, const dscan_docs *D, size_t k, uint32_t *docs, float *scores,
                     sy_err *err);
/* The naive twins' top-k rule in one place (dscan_topk_naive, dense_topk_naive):
 * offer score s of document d to os/od[k], kept sorted best first, ties by
 * the lower document. */
void dscan_offer_sorted(float *os, uint32_t *od, size_t k, float s, uint32_t d);

/* The defined score of one query with document row i (see above). */
float dscan_score(const float *q, const dscan_docs *D, size_t i);
/* qs[dim] = q * scale (or q), *bias = dot(q, offset) (or 0) by the lane rule. */
void dscan_prep(const float *q, const dscan_docs *D, float *qs, float *bias);

/* Storage conversion.  bf16: round to nearest even (NaN stays NaN);
 * dscan_to_bf16_rows stores x - offset (offset may be NULL), offset being the
 * per-dimension mean (dscan_mean: add n rows to sum[dim], doubles starting
 * at 0; with mean non-NULL, mean = sum / total): embeddings that share a
 * strong common direction keep their differences, which bf16's relative
 * rounding would otherwise drown.
 * int8: per-dimension affine over all n rows: offset = (max + min) / 2,
 * scale = (max - min) / 254 (1 where max == min), v = round((x - offset) /
 * scale) clamped to [-127, 127].  dscan_int8_range scans rows for the range
 * (min/max [dim], updated in place: start them at +/-INFINITY). */
void dscan_to_bf16(uint16_t *out, const float *x, size_t count);
void dscan_to_bf16_rows(uint16_t *out, const float *x, size_t n, int dim, const float *offset);
void dscan_mean(const float *x, size_t n, int dim, double *sum, float *mean, size_t total);
float dscan_bf16_to_f32(uint16_t b);
void dscan_int8_range(const float *x, size_t n, int dim, float *mn, float *mx);
void dscan_int8_params(const float *mn, const float *mx, int dim, float *scale, float *offset);
void dscan_to_int8(int8_t *out, const float *x, size_t n, int dim, const float *scale, const float *offset);
/* Rows [i0, i0 + n) of D as fp32 (x = offset + scale * v). */
void dscan_rows_f32(float *out, const dscan_docs *D, size_t i0, size_t n);

/* The bounded heap every top-k in the engine uses (a min-heap whose root is
 * the worst kept item, by the ranking above).  hs/hd [k], start filled with
 * -INFINITY / UINT32_MAX; offer keeps the k best; sort leaves them best first. */
void dscan_heap_offer(float *hs, uint32_t *hd, size_t k, float s, uint32_t d);
void dscan_heap_sort(float *hs, uint32_t *hd, size_t k);

#endif
