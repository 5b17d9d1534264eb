/* dscan: streaming top-k for few queries, fp32/bf16/int8 documents.  See dscan.h.
 *
 * Exactness: the AVX-512 code, the portable code and the naive twin all
 * compute each product and each sum as separate fp32 operations in the lane
 * order dscan.h defines.  The build's -std=c11 keeps GCC from contracting
 * them into FMAs (-ffp-contract=off); test_dscan fails if that ever changes. */
#include "dscan.h"
#include "kernels.h"
#include "parfor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_CODE 1
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#else
#define HAVE_AVX512_CODE 0
#endif

int dscan_have_avx512(void)
{
#if HAVE_AVX512_CODE
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

const char *dscan_dtype_name(dscan_dtype t)
{
    return t == DSCAN_BF16 ? "bf16" : t == DSCAN_INT8 ? "int8" : "fp32";
}

size_t dscan_row_bytes(dscan_dtype t, int dim)
{
    return (size_t)dim * (t == DSCAN_BF16 ? 2 : t == DSCAN_INT8 ? 1 : 4);
}

/* ---- the heap ------------------------------------------------------------------- */

/* (s1, d1) ranks below (s2, d2): lower score, or equal score and higher doc */
static inline int worse(float s1, uint32_t d1, float s2, uint32_t d2)
{
    return s1 < s2 || (s1 == s2 && d1 > d2);
}

static void sift_down(float *hs, uint32_t *hd, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(hs[l], hd[l], hs[m], hd[m])) m = l;
        if (r < n && worse(hs[r], hd[r], hs[m], hd[m])) m = r;
        if (m == i) return;
        float ts = hs[i]; hs[i] = hs[m]; hs[m] = ts;
        uint32_t td = hd[i]; hd[i] = hd[m]; hd[m] = td;
        i = m;
    }
}

void dscan_heap_offer(float *hs, uint32_t *hd, size_t k, float s, uint32_t d)
{
    if (!worse(hs[0], hd[0], s, d)) return;   /* NaN never passes: both compares are false */
    hs[0] = s;
    hd[0] = d;
    sift_down(hs, hd, k, 0);
}

void dscan_heap_sort(float *hs, uint32_t *hd, size_t k)
{
    for (size_t n = k; n > 1; n--) {
        float ts = hs[0]; hs[0] = hs[n - 1]; hs[n - 1] = ts;
        uint32_t td = hd[0]; hd[0] = hd[n - 1]; hd[n - 1] = td;
        sift_down(hs, hd, n - 1, 0);
    }
}

/* ---- storage conversion --------------------------------------------------------- */

void dscan_to_bf16(uint16_t *out, const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) { out[i] = (uint16_t)((u >> 16) | 0x40); continue; }   /* quiet NaN */
        u += 0x7fffu + ((u >> 16) & 1);   /* round to nearest even */
        out[i] = (uint16_t)(u >> 16);
    }
}

void dscan_to_bf16_rows(uint16_t *out, const float *x, size_t n, int dim, const float *offset)
{
    if (!offset) { dscan_to_bf16(out, x, n * (size_t)dim); return; }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++) {
            float v = x[i * (size_t)dim + c] - offset[c];
            dscan_to_bf16(&out[i * (size_t)dim + c], &v, 1);
        }
}

void dscan_mean(const float *x, size_t n, int dim, double *sum, float *mean, size_t total)
{
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++) sum[c] += x[i * (size_t)dim + c];
    if (mean)
        for (int c = 0; c < dim; c++) mean[c] = total ? (float)(sum[c] / (double)total) : 0;
}

float dscan_bf16_to_f32(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void dscan_int8_range(const float *x, size_t n, int dim, float *mn, float *mx)
{
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++) {
            float v = x[i * (size_t)dim + c];
            if (v < mn[c]) mn[c] = v;
            if (v > mx[c]) mx[c] = v;
        }
}

void dscan_int8_params(const float *mn, const float *mx, int dim, float *scale, float *offset)
{
    for (int c = 0; c < dim; c++) {
        if (!(mx[c] >= mn[c]) || !isfinite(mx[c] - mn[c])) { scale[c] = 1; offset[c] = 0; continue; }  /* no rows */
        offset[c] = mn[c] / 2 + mx[c] / 2;
        scale[c] = mx[c] > mn[c] ? (mx[c] - mn[c]) / 254 : 1;
    }
}

void dscan_to_int8(int8_t *out, const float *x, size_t n, int dim, const float *scale, const float *offset)
{
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < dim; c++) {
            float v = (x[i * (size_t)dim + c] - offset[c]) / scale[c];
            long r = v != v ? 0 : v > 127 ? 127 : v < -127 ? -127 : lroundf(v);
            out[i * (size_t)dim + c] = (int8_t)r;
        }
}

void dscan_rows_f32(float *out, const dscan_docs *D, size_t i0, size_t n)
{
    size_t dim = (size_t)D->dim;
    if (D->dtype == DSCAN_F32) {
        memcpy(out, (const float *)D->rows + i0 * dim, n * dim * sizeof *out);
    } else if (D->dtype == DSCAN_BF16) {
        const uint16_t *r = (const uint16_t *)D->rows + i0 * dim;
        for (size_t i = 0; i < n * dim; i++) out[i] = dscan_bf16_to_f32(r[i]);
        if (D->offset)
            for (size_t i = 0; i < n; i++)
                for (size_t c = 0; c < dim; c++) out[i * dim + c] = D->offset[c] + out[i * dim + c];
    } else {
        const int8_t *r = (const int8_t *)D->rows + i0 * dim;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < dim; c++) out[i * dim + c] = D->offset[c] + D->scale[c] * (float)r[i * dim + c];
    }
}

/* ---- the defined score ---------------------------------------------------------- */

static float tree16(const float *acc)
{
    float a8[8], a4[4], a2[2];
    for (int l = 0; l < 8; l++) a8[l] = acc[l] + acc[l + 8];
    for (int l = 0; l < 4; l++) a4[l] = a8[l] + a8[l + 4];
    for (int l = 0; l < 2; l++) a2[l] = a4[l] + a4[l + 2];
    return a2[0] + a2[1];
}

static float value_at(const dscan_docs *D, size_t i, int c)
{
    size_t at = i * (size_t)D->dim + (size_t)c;
    switch (D->dtype) {
    case DSCAN_BF16: return dscan_bf16_to_f32(((const uint16_t *)D->rows)[at]);
    case DSCAN_INT8: return (float)((const int8_t *)D->rows)[at];
    default: return ((const float *)D->rows)[at];
    }
}

/* the lane dot of q with row i of D (values as value_at gives them) */
static float lane_dot(const float *q, const dscan_docs *D, size_t i)
{
    float acc[16] = {0};
    for (int c = 0; c < D->dim; c++) {
        float p = q[c] * value_at(D, i, c);
        acc[c % 16] = acc[c % 16] + p;
    }
    return tree16(acc);
}

void dscan_prep(const float *q, const dscan_docs *D, float *qs, float *bias)
{
    float acc[16] = {0};
    for (int c = 0; c < D->dim; c++) {
        if (D->offset) {
            float p = q[c] * D->offset[c];
            acc[c % 16] = acc[c % 16] + p;
        }
        qs[c] = D->scale ? q[c] * D->scale[c] : q[c];
    }
    *bias = tree16(acc);
}

static int has_prep(const dscan_docs *D) { return D->dtype != DSCAN_F32 && (D->scale || D->offset); }

float dscan_score(const float *q, const dscan_docs *D, size_t i)
{
    if (!has_prep(D)) return lane_dot(q, D, i);
    float *qs = malloc((size_t)D->dim * sizeof *qs), bias;
    if (!qs) return NAN;
    dscan_prep(q, D, qs, &bias);
    float s = bias + lane_dot(qs, D, i);
    free(qs);
    return s;
}

int dscan_topk_naive(const float *Q, size_t nq, const dscan_docs *D, size_t k, uint32_t *docs, float *scores,
                     sy_err *err)
{
    size_t dim = (size_t)D->dim;
    float *qs = malloc((dim ? dim : 1) * sizeof *qs);
    if (!qs) return sy_fail(err, SY_ENOMEM, "out of memory");
    for (size_t q = 0; q < nq; q++) {
        uint32_t *od = docs + q * k;
        float *os = scores + q * k;
        for (size_t i = 0; i < k; i++) { od[i] = UINT32_MAX; os[i] = -INFINITY; }
        float bias = 0;
        const float *qv = Q + q * dim;
        if (has_prep(D)) { dscan_prep(qv, D, qs, &bias); qv = qs; }
        for (size_t d = 0; d < D->n; d++) {
            float s = lane_dot(qv, D, d);
            if (has_prep(D)) s = bias + s;
            if (s != s) continue;   /* NaN: never returned */
            dscan_offer_sorted(os, od, k, s, (uint32_t)d);
        }
    }
    free(qs);
    return 0;
}

void dscan_offer_sorted(float *os, uint32_t *od, size_t k, float s, uint32_t d)
{
    size_t pos = k;
    while (pos > 0 && (os[pos - 1] < s || (os[pos - 1] == s && od[pos - 1] > d))) pos--;
    if (pos >= k) return;
    memmove(os + pos + 1, os + pos, (k - pos - 1) * sizeof *os);
    memmove(od + pos + 1, od + pos, (k - pos - 1) * sizeof *od);
    os[pos] = s;
    od[pos] = d;
}

/* ---- the streaming kernel ------------------------------------------------------- */

typedef struct scan_ctx scan_ctx;
/* scores of documents [b, e) against one query, offered to its heap */
typedef void (*scan_block_fn)(const scan_ctx *c, const float *q, float bias, size_t b, size_t e, float *hs,
                              uint32_t *hd);

struct scan_ctx {
    const dscan_docs *D;
    const float *Q;          /* [nq, dim]: the queries (int8: pre-scaled) */
    const float *bias;       /* [nq] int8 biases, else NULL */
    size_t nq, k, blk;
    int seq;                 /* one document at a time, in address order (one query) */
    float *hs;               /* [parts, nq, k] heaps */
    uint32_t *hd;
    scan_block_fn block;
};

static inline void offer(const scan_ctx *c, float *hs, uint32_t *hd, float *thr, float s, size_t d)
{
    if (s >= *thr) {   /* NaN fails; a tie with the root is settled by doc index inside */
        dscan_heap_offer(hs, hd, c->k, s, (uint32_t)d);
        *thr = hs[0];
    }
}

/* portable: the same lanes as plain C (GCC vectorises the 16-lane loops) */
#define PORTABLE_BLOCK(NAME, T, CONV)                                                              \
    static void NAME(const scan_ctx *c, const float *q, float bias, size_t b, size_t e, float *hs, \
                     uint32_t *hd)                                                                  \
    {                                                                                               \
        int dim = c->D->dim, full = dim / 16 * 16, hasb = c->bias != NULL;                          \
        const T *X = (const T *)c->D->rows;                                                         \
        float thr = hs[0];                                                                          \
        for (size_t i = b; i < e; i++) {                                                            \
            const T *x = X + i * (size_t)dim;                                                       \
            float acc[16] = {0};                                                                    \
            for (int j = 0; j < full; j += 16)                                                      \
                for (int l = 0; l < 16; l++) {                                                      \
                    float p = q[j + l] * CONV(x[j + l]);                                            \
                    acc[l] = acc[l] + p;                                                            \
                }                                                                                   \
            for (int l = 0; l < dim - full; l++) {                                                  \
                float p = q[full + l] * CONV(x[full + l]);                                          \
                acc[l] = acc[l] + p;                                                                \
            }                                                                                       \
            float s = tree16(acc);                                                                  \
            if (hasb) s = bias + s;                                                                 \
            offer(c, hs, hd, &thr, s, i);                                                           \
        }                                                                                           \
    }
#define CONV_F32(v) (v)
#define CONV_I8(v) ((float)(v))
PORTABLE_BLOCK(block_f32_c, float, CONV_F32)
PORTABLE_BLOCK(block_bf16_c, uint16_t, dscan_bf16_to_f32)
PORTABLE_BLOCK(block_i8_c, int8_t, CONV_I8)

#if HAVE_AVX512_CODE
/* the tree of dscan.h on one register */
static inline AVX512 float hsum16(__m512 v)
{
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 a8 = _mm256_add_ps(lo, hi);
    __m128 a4 = _mm_add_ps(_mm256_castps256_ps128(a8), _mm256_extractf128_ps(a8, 1));
    __m128 a2 = _mm_add_ps(a4, _mm_movehl_ps(a4, a4));
    __m128 a1 = _mm_add_ss(a2, _mm_shuffle_ps(a2, a2, 1));
    return _mm_cvtss_f32(a1);
}

static inline AVX512 __m512 ld_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
static inline AVX512 __m512 ld_bf16(const uint16_t *p, __mmask16 m)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
static inline AVX512 __m512 ld_i8(const int8_t *p, __mmask16 m)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

/* four documents at a time (four independent add chains), the tail lanes
 * masked to zero: adding +0 leaves a lane sum unchanged, which is never -0.
 * Four rows read side by side are four short streams the hardware prefetcher
 * hardly learns, so each step prefetches its share (sizeof(T) lines) of the
 * rows PF_ROWS ahead: the group after next, read in order.  One query is
 * memory-bound with one add chain per document, so it reads one document at
 * a time (c->seq): a single stream the hardware prefetcher follows. */
#define PF_ROWS 8
#define AVX512_BLOCK(NAME, T, LD)                                                                  \
    static AVX512 void NAME(const scan_ctx *c, const float *q, float bias, size_t b, size_t e,     \
                            float *hs, uint32_t *hd)                                                \
    {                                                                                               \
        int dim = c->D->dim, full = dim / 16 * 16, hasb = c->bias != NULL;                          \
        __mmask16 all = 0xffff, tm = (__mmask16)((1u << (dim - full)) - 1);                         \
        const T *X = (const T *)c->D->rows;                                                         \
        float thr = hs[0];                                                                          \
        size_t i = b;                                                                               \
        for (; !c->seq && i + 4 <= e; i += 4) {                                                     \
            const T *x0 = X + i * (size_t)dim, *x1 = x0 + dim, *x2 = x1 + dim, *x3 = x2 + dim;      \
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                             \
            const char *pf = (const char *)(x0 + PF_ROWS * (size_t)dim);                           \
            for (int j = 0; j < full; j += 16, pf += 64 * sizeof(T)) {                              \
                for (size_t l = 0; l < sizeof(T); l++) _mm_prefetch(pf + 64 * l, _MM_HINT_T0);      \
                __m512 qv = _mm512_loadu_ps(q + j);                                                 \
                a0 = _mm512_add_ps(a0, _mm512_mul_ps(qv, LD(x0 + j, all)));                         \
                a1 = _mm512_add_ps(a1, _mm512_mul_ps(qv, LD(x1 + j, all)));                         \
                a2 = _mm512_add_ps(a2, _mm512_mul_ps(qv, LD(x2 + j, all)));                         \
                a3 = _mm512_add_ps(a3, _mm512_mul_ps(qv, LD(x3 + j, all)));                         \
            }                                                                                       \
            if (tm) {                                                                               \
                __m512 qv = _mm512_maskz_loadu_ps(tm, q + full);                                    \
                a0 = _mm512_add_ps(a0, _mm512_mul_ps(qv, LD(x0 + full, tm)));                       \
                a1 = _mm512_add_ps(a1, _mm512_mul_ps(qv, LD(x1 + full, tm)));                       \
                a2 = _mm512_add_ps(a2, _mm512_mul_ps(qv, LD(x2 + full, tm)));                       \
                a3 = _mm512_add_ps(a3, _mm512_mul_ps(qv, LD(x3 + full, tm)));                       \
            }                                                                                       \
            float s0 = hsum16(a0), s1 = hsum16(a1), s2 = hsum16(a2), s3 = hsum16(a3);               \
            if (hasb) { s0 = bias + s0; s1 = bias + s1; s2 = bias + s2; s3 = bias + s3; }           \
            offer(c, hs, hd, &thr, s0, i);                                                          \
            offer(c, hs, hd, &thr, s1, i + 1);                                                      \
            offer(c, hs, hd, &thr, s2, i + 2);                                                      \
            offer(c, hs, hd, &thr, s3, i + 3);                                                      \
        }                                                                                           \
        for (; i < e; i++) {                                                                        \
            const T *x0 = X + i * (size_t)dim;                                                      \
            __m512 a0 = _mm512_setzero_ps();                                                        \
            for (int j = 0; j < full; j += 16)                                                      \
                a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_loadu_ps(q + j), LD(x0 + j, all)));     \
            if (tm) a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_maskz_loadu_ps(tm, q + full),       \
                                                         LD(x0 + full, tm)));                       \
            float s0 = hsum16(a0);                                                                  \
            if (hasb) s0 = bias + s0;                                                               \
            offer(c, hs, hd, &thr, s0, i);                                                          \
        }                                                                                           \
    }
AVX512_BLOCK(block_f32_avx, float, ld_f32)
AVX512_BLOCK(block_bf16_avx, uint16_t, ld_bf16)
AVX512_BLOCK(block_i8_avx, int8_t, ld_i8)
#endif

/* one part: its documents in blocks small enough to stay in L1 while every
 * query passes over them (one query: the whole range at once) */
static void scan_part(void *p, size_t lo, size_t hi, int part)
{
    const scan_ctx *c = p;
    size_t dim = (size_t)c->D->dim;
    float *hs = c->hs + (size_t)part * c->nq * c->k;
    uint32_t *hd = c->hd + (size_t)part * c->nq * c->k;
    for (size_t b = lo; b < hi; b += c->blk) {
        size_t e = hi - b < c->blk ? hi : b + c->blk;
        for (size_t q = 0; q < c->nq; q++)
            c->block(c, c->Q + q * dim, c->bias ? c->bias[q] : 0, b, e, hs + q * c->k, hd + q * c->k);
    }
}

int dscan_topk(const float *Q, size_t nq, const dscan_docs *D, size_t k, int nthreads, dscan_impl impl,
               uint32_t *docs, float *scores, sy_err *err)
{
    if (nq == 0 || k == 0) return 0;
    if (D->dim <= 0) return sy_fail(err, SY_EINVAL, "dense search: dimension %d", D->dim);
    if (D->n > UINT32_MAX - 1) return sy_fail(err, SY_EINVAL, "dense search: %zu documents is past the limit", D->n);
    int avx = dscan_have_avx512();
    if (impl == DSCAN_AVX512 && !avx) return sy_fail(err, SY_EUNSUP, "this CPU has no AVX-512 (avx512f/bw/vl)");
    if (impl == DSCAN_PORTABLE) avx = 0;
    scan_ctx c = {.D = D, .Q = Q, .nq = nq, .k = k};
    switch (D->dtype) {
    case DSCAN_BF16: c.block = block_bf16_c; break;
    case DSCAN_INT8: c.block = block_i8_c; break;
    default: c.block = block_f32_c; break;
    }
#if HAVE_AVX512_CODE
    if (avx) c.block = D->dtype == DSCAN_BF16 ? block_bf16_avx : D->dtype == DSCAN_INT8 ? block_i8_avx : block_f32_avx;
#endif
    size_t dim = (size_t)D->dim;
    /* blocks of ~16 KB of documents for several queries: they stay in L1 */
    c.seq = nq == 1;
    c.blk = nq == 1 ? (D->n ? D->n : 1) : (16384 / dscan_row_bytes(D->dtype, D->dim) + 4) / 4 * 4;
    int nt = nthreads > 0 ? nthreads : kern_threads();
    int parts = sy_par_parts(D->n, nt, 2.0 * (double)dim * (double)nq);
    float *qs = NULL, *bias = NULL;
    c.hs = malloc((size_t)parts * nq * k * sizeof *c.hs);
    c.hd = malloc((size_t)parts * nq * k * sizeof *c.hd);
    if (has_prep(D)) {
        qs = malloc(nq * dim * sizeof *qs);
        bias = malloc(nq * sizeof *bias);
    }
    if (!c.hs || !c.hd || (has_prep(D) && (!qs || !bias))) {
        free(c.hs); free(c.hd); free(qs); free(bias);
        return sy_fail(err, SY_ENOMEM, "out of memory for the top-%zu of %zu queries", k, nq);
    }
    if (qs) {
        for (size_t q = 0; q < nq; q++) dscan_prep(Q + q * dim, D, qs + q * dim, &bias[q]);
        c.Q = qs;
        c.bias = bias;
    }
    for (size_t i = 0; i < (size_t)parts * nq * k; i++) { c.hs[i] = -INFINITY; c.hd[i] = UINT32_MAX; }
    sy_par_for(D->n, parts, scan_part, &c);
    /* merge the parts' heaps (the order is total, so the split does not matter) */
    for (size_t q = 0; q < nq; q++) {
        float *os = scores + q * k;
        uint32_t *od = docs + q * k;
        memcpy(os, c.hs + q * k, k * sizeof *os);
        memcpy(od, c.hd + q * k, k * sizeof *od);
        for (int p = 1; p < parts; p++) {
            const float *ps = c.hs + ((size_t)p * nq + q) * k;
            const uint32_t *pd = c.hd + ((size_t)p * nq + q) * k;
            for (size_t i = 0; i < k; i++) dscan_heap_offer(os, od, k, ps[i], pd[i]);
        }
        dscan_heap_sort(os, od, k);
    }
    free(c.hs); free(c.hd); free(qs); free(bias);
    return 0;
}
