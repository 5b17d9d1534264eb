/* kernels: BERT forward building blocks (see kernels.h).
 *
 * Fast versions: sgemm through OpenBLAS; GELU and softmax through
 * vectorisable polynomial erf/exp (max error ~1e-7 against libm, checked by
 * test_kernels); reductions written with 16 partial sums so the compiler can
 * vectorise them without fast-math; the outer loops split with sy_par_for (parfor.h).
 * Each function is compiled for AVX-512, AVX2 and baseline x86-64 and the
 * loader picks the best (target_clones). */
#pragma GCC optimize("O3")
#include "kernels.h"
#include "parfor.h"
#include "kernels_math.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && defined(__GNUC__) && !defined(__clang__)
#define KERN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERN_CLONES
#endif

/* ---- threads --------------------------------------------------------------- */

int kern_set_threads(int n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    openblas_set_num_threads(n);
    return kern_threads();
}

int kern_threads(void)
{
    int n = openblas_get_num_threads();
    return n > 0 ? n : 1;
}

/* Run fn over [0, n) in at most 16 parts (sy_par_for); `work` is a rough
 * cost per item in flops: small jobs stay on the calling thread. */
static void par_for(size_t n, double work, sy_par_fn fn, void *ctx)
{
    int nt = kern_threads();
    sy_par_for(n, sy_par_parts(n, nt < 16 ? nt : 16, work), fn, ctx);
}

/* ---- matmul ---------------------------------------------------------------- */

void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    int N, int C, int OC)
{
    if (N <= 0 || OC <= 0) return;
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < N; i++) memcpy(out + (size_t)i * OC, bias, (size_t)OC * sizeof *out);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C, beta, out, OC);
}

void matmul_forward_naive(float *out, const float *inp, const float *w, const float *bias,
                          int N, int C, int OC)
{
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += (double)inp[(size_t)i * C + c] * w[(size_t)o * C + c];
            out[(size_t)i * OC + o] = (float)s;
        }
}

/* ---- layernorm --------------------------------------------------------------- */

typedef struct {
    float *out, *mean, *rstd;
    const float *inp, *w, *b;
    int C;
    float eps;
} ln_ctx;

KERN_CLONES
static void ln_rows(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    ln_ctx *c = p;
    int C = c->C;
    for (size_t i = lo; i < hi; i++) {
        const float *x = c->inp + i * (size_t)C;
        float acc[16] = { 0 };
        int j = 0;
        for (; j + 16 <= C; j += 16)
            for (int k = 0; k < 16; k++) acc[k] += x[j + k];
        float s = 0;
        for (int k = 0; k < 16; k++) s += acc[k];
        for (; j < C; j++) s += x[j];
        float m = s / (float)C;
        float acc2[16] = { 0 };
        j = 0;
        for (; j + 16 <= C; j += 16)
            for (int k = 0; k < 16; k++) { float d = x[j + k] - m; acc2[k] += d * d; }
        float v = 0;
        for (int k = 0; k < 16; k++) v += acc2[k];
        for (; j < C; j++) { float d = x[j] - m; v += d * d; }
        v /= (float)C;
        float r = 1.0f / sqrtf(v + c->eps);
        float *o = c->out + i * (size_t)C;
        for (j = 0; j < C; j++) o[j] = (x[j] - m) * r * c->w[j] + c->b[j];
        if (c->mean) c->mean[i] = m;
        if (c->rstd) c->rstd[i] = r;
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C, float eps)
{
    ln_ctx c = { out, mean, rstd, inp, w, b, C, eps };
    par_for((size_t)N, 8.0 * C, ln_rows, &c);
}

void layernorm_forward_naive(float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C, float eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        double m = 0, v = 0;
        for (int j = 0; j < C; j++) m += x[j];
        m /= C;
        for (int j = 0; j < C; j++) v += (x[j] - m) * (x[j] - m);
        v /= C;
        double r = 1.0 / sqrt(v + eps);
        for (int j = 0; j < C; j++) out[(size_t)i * C + j] = (float)((x[j] - m) * r * w[j] + b[j]);
        if (mean) mean[i] = (float)m;
        if (rstd) rstd[i] = (float)r;
    }
}

/* ---- gelu, residual -------------------------------------------------------------- */

typedef struct {
    float *out;
    const float *inp;
} gelu_ctx;

KERN_CLONES
static void gelu_part(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    gelu_ctx *c = p;
    for (size_t i = lo; i < hi; i++) {
        float x = c->inp[i];
        c->out[i] = 0.5f * x * (1.0f + fast_erf(x * 0.70710678118654752f));
    }
}

void gelu_forward(float *out, const float *inp, size_t N)
{
    gelu_ctx c = { out, inp };
    par_for(N, 30.0, gelu_part, &c);
}

void gelu_forward_naive(float *out, const float *inp, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        double x = inp[i];
        out[i] = (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    }
}

typedef struct {
    float *out;
    const float *a, *b;
} res_ctx;

static void res_part(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    const res_ctx *c = p;
    for (size_t i = lo; i < hi; i++) c->out[i] = c->a[i] + c->b[i];
}

void residual_forward(float *out, const float *a, const float *b, size_t N)
{
    res_ctx c = { out, a, b };
    par_for(N, 2.0, res_part, &c);
}

/* ---- attention ------------------------------------------------------------------- */

typedef struct {
    float *out, *att;
    const float *qkv;
    const int *lens;
    int B, T, C, NH;
    int failed;
} att_ctx;

/* One (b, h) pair: scores for the valid query rows against the valid keys. */
KERN_CLONES
static void att_one(att_ctx *c, int b, int h, float *kt, float *row)
{
    int T = c->T, C = c->C, NH = c->NH, hs = C / NH, C3 = 3 * C;
    int len = c->lens[b];
    if (len > T) len = T;
    if (len < 0) len = 0;
    const float *base = c->qkv + (size_t)b * T * C3;
    float scale = 1.0f / sqrtf((float)hs);
    float *att = c->att ? c->att + (((size_t)b * NH + h) * T) * T : NULL;
    /* K transposed: kt[d * len + j] */
    for (int j = 0; j < len; j++) {
        const float *k = base + (size_t)j * C3 + C + h * hs;
        for (int d = 0; d < hs; d++) kt[(size_t)d * len + j] = k[d];
    }
    for (int i = 0; i < T; i++) {
        float *o = c->out + ((size_t)b * T + i) * C + h * hs;
        float *a = att ? att + (size_t)i * T : row;
        if (i >= len) {
            memset(o, 0, (size_t)hs * sizeof *o);
            if (att) memset(a, 0, (size_t)T * sizeof *a);
            continue;
        }
        const float *q = base + (size_t)i * C3 + h * hs;
        for (int j = 0; j < len; j++) a[j] = 0.0f;
        for (int d = 0; d < hs; d++) {
            float qd = q[d] * scale;
            const float *kr = kt + (size_t)d * len;
            for (int j = 0; j < len; j++) a[j] += qd * kr[j];
        }
        float mx = -INFINITY;
        for (int j = 0; j < len; j++) mx = a[j] > mx ? a[j] : mx;
        float acc[16] = { 0 };
        int j = 0;
        for (; j + 16 <= len; j += 16)
            for (int k = 0; k < 16; k++) { float e = fast_exp(a[j + k] - mx); a[j + k] = e; acc[k] += e; }
        float sum = 0;
        for (int k = 0; k < 16; k++) sum += acc[k];
        for (; j < len; j++) { float e = fast_exp(a[j] - mx); a[j] = e; sum += e; }
        float inv = 1.0f / sum;
        for (j = 0; j < len; j++) a[j] *= inv;
        if (att) for (j = len; j < T; j++) a[j] = 0.0f;
        for (int d = 0; d < hs; d++) o[d] = 0.0f;
        for (j = 0; j < len; j++) {
            const float *v = base + (size_t)j * C3 + 2 * C + h * hs;
            float pj = a[j];
            for (int d = 0; d < hs; d++) o[d] += pj * v[d];
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KERN_HAVE_AVX512 1

/* The same computation as att_one for hs % 16 == 0, 16 keys per vector.
 * kt has room for hs * (len rounded up to 16) floats; vt for len * hs: the
 * head's V rows copied contiguously (in qkv they lie 3C floats apart, which
 * maps them onto a few L1 sets: every row re-read them from L2). */
__attribute__((target("avx512f")))
static void att_one_avx512(att_ctx *c, int b, int h, float *kt, float *row, float *vt)
{
    int T = c->T, C = c->C, NH = c->NH, hs = C / NH, C3 = 3 * C;
    int len = c->lens[b];
    if (len > T) len = T;
    if (len < 0) len = 0;
    int l16 = (len + 15) & ~15;
    const float *base = c->qkv + (size_t)b * T * C3;
    float scale = 1.0f / sqrtf((float)hs);
    float *att = c->att ? c->att + (((size_t)b * NH + h) * T) * T : NULL;
    for (int d = 0; d < hs; d++)
        for (int j = len; j < l16; j++) kt[(size_t)d * l16 + j] = 0.0f;
    for (int j = 0; j < len; j++) {
        const float *k = base + (size_t)j * C3 + C + h * hs;
        for (int d = 0; d < hs; d++) kt[(size_t)d * l16 + j] = k[d];
        memcpy(vt + (size_t)j * hs, k + C, (size_t)hs * sizeof *vt);
    }
    for (int i = 0; i < T; i++) {
        float *o = c->out + ((size_t)b * T + i) * C + h * hs;
        float *a = att ? att + (size_t)i * T : row;
        if (i >= len) {
            memset(o, 0, (size_t)hs * sizeof *o);
            if (att) memset(a, 0, (size_t)T * sizeof *a);
            continue;
        }
        const float *q = base + (size_t)i * C3 + h * hs;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        int j = 0;
        /* 8 independent accumulators (128 keys) per pass hide the FMA latency */
        for (; j + 128 <= l16; j += 128) {
            __m512 acc[8];
            for (int u = 0; u < 8; u++) acc[u] = _mm512_setzero_ps();
            for (int d = 0; d < hs; d++) {
                __m512 qd = _mm512_set1_ps(q[d] * scale);
                const float *kr = kt + (size_t)d * l16 + j;
                for (int u = 0; u < 8; u++) acc[u] = _mm512_fmadd_ps(qd, _mm512_loadu_ps(kr + 16 * u), acc[u]);
            }
            for (int u = 0; u < 8; u++) _mm512_storeu_ps(row + j + 16 * u, acc[u]);
        }
        for (; j < l16; j += 16) {
            __m512 acc = _mm512_setzero_ps();
            for (int d = 0; d < hs; d++)
                acc = _mm512_fmadd_ps(_mm512_set1_ps(q[d] * scale), _mm512_loadu_ps(kt + (size_t)d * l16 + j), acc);
            _mm512_storeu_ps(row + j, acc);
        }
        for (j = 0; j < l16; j += 16) {
            __mmask16 valid = len - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (len - j)) - 1);
            __m512 v = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, _mm512_loadu_ps(row + j));
            vmax = _mm512_max_ps(vmax, v);
            _mm512_storeu_ps(row + j, v);
        }
        __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512 vsum = _mm512_setzero_ps();
        for (int j = 0; j < l16; j += 16) {
            __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(row + j), mx));
            vsum = _mm512_add_ps(vsum, e);
            _mm512_storeu_ps(row + j, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
        for (int j = 0; j < l16; j += 16) _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), inv));
        if (att) {
            memcpy(a, row, (size_t)len * sizeof *a);
            for (int j = len; j < T; j++) a[j] = 0.0f;
        }
        const float *vb = vt;
        for (int d0 = 0; d0 < hs; d0 += 16) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            int jj = 0;
            for (; jj + 4 <= len; jj += 4) {
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(row[jj]), _mm512_loadu_ps(vb + (size_t)jj * hs + d0), a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(row[jj + 1]), _mm512_loadu_ps(vb + (size_t)(jj + 1) * hs + d0), a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(row[jj + 2]), _mm512_loadu_ps(vb + (size_t)(jj + 2) * hs + d0), a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(row[jj + 3]), _mm512_loadu_ps(vb + (size_t)(jj + 3) * hs + d0), a3);
            }
            for (; jj < len; jj++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(row[jj]), _mm512_loadu_ps(vb + (size_t)jj * hs + d0), a0);
            _mm512_storeu_ps(o + d0, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        }
    }
}
#endif

static void att_part(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    att_ctx *c = p;
    int hs = c->C / c->NH;
    size_t t16 = ((size_t)c->T + 15) & ~(size_t)15;
    float *kt = malloc(((size_t)2 * hs * t16 + t16) * sizeof *kt);   /* kt, row, vt */
    if (!kt) { c->failed = 1; return; }
#ifdef KERN_HAVE_AVX512
    if (hs % 16 == 0 && __builtin_cpu_supports("avx512f")) {
        for (size_t x = lo; x < hi; x++)
            att_one_avx512(c, (int)(x / (size_t)c->NH), (int)(x % (size_t)c->NH), kt, kt + (size_t)hs * t16,
                           kt + (size_t)hs * t16 + t16);
        free(kt);
        return;
    }
#endif
    for (size_t x = lo; x < hi; x++) att_one(c, (int)(x / (size_t)c->NH), (int)(x % (size_t)c->NH), kt, kt + (size_t)hs * t16);
    free(kt);
}

int attention_forward(float *out, float *att, const float *qkv, const int *lens,
                      int B, int T, int C, int NH)
{
    att_ctx c = { out, att, qkv, lens, B, T, C, NH, 0 };
    par_for((size_t)B * NH, 4.0 * T * T * (C / NH), att_part, &c);
    return c.failed ? -1 : 0;
}

int attention_forward_naive(float *out, float *att, const float *qkv, const int *lens,
                            int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    double *p = malloc((size_t)T * sizeof *p);
    if (!p) return -1;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                float *o = out + ((size_t)b * T + i) * C + h * hs;
                float *a = att ? att + ((((size_t)b * NH + h) * T) + i) * T : NULL;
                int len = lens[b];
                if (i >= len) {
                    for (int d = 0; d < hs; d++) o[d] = 0;
                    if (a) for (int j = 0; j < T; j++) a[j] = 0;
                    continue;
                }
                const float *q = qkv + ((size_t)b * T + i) * C3 + h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < len; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * C3 + C + h * hs;
                    double s = 0;
                    for (int d = 0; d < hs; d++) s += (double)q[d] * k[d];
                    p[j] = s / sqrt((double)hs);
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < len; j++) { p[j] = exp(p[j] - mx); sum += p[j]; }
                for (int j = 0; j < len; j++) p[j] /= sum;
                if (a) for (int j = 0; j < T; j++) a[j] = j < len ? (float)p[j] : 0.0f;
                for (int d = 0; d < hs; d++) {
                    double s = 0;
                    for (int j = 0; j < len; j++) s += p[j] * qkv[((size_t)b * T + j) * C3 + 2 * C + h * hs + d];
                    o[d] = (float)s;
                }
            }
    free(p);
    return 0;
}

/* ---- embeddings, pooling, normalisation ---------------------------------------------- */

void embedding_forward(float *out, const int *ids, const float *wte, const float *wpe,
                       const float *wtt, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *we = wte + (size_t)ids[(size_t)b * T + t] * C, *pe = wpe + (size_t)t * C;
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c] + wtt[c];
        }
}

void pool_cls_forward(float *out, const float *hidden, int B, int T, int C)
{
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * C, hidden + (size_t)b * T * C, (size_t)C * sizeof *out);
}

void pool_mean_forward(float *out, const float *hidden, const int *lens, int B, int T, int C)
{
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        int len = lens[b] < T ? lens[b] : T;
        for (int c = 0; c < C; c++) o[c] = 0.0f;
        for (int t = 0; t < len; t++) {
            const float *h = hidden + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) o[c] += h[c];
        }
        float inv = 1.0f / (float)(len > 0 ? len : 1);
        for (int c = 0; c < C; c++) o[c] *= inv;
    }
}

void l2norm_forward(float *x, float *norm, int N, int C)
{
    for (int i = 0; i < N; i++) {
        float *r = x + (size_t)i * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)r[c] * r[c];
        float n = (float)sqrt(s);
        if (norm) norm[i] = n;
        float inv = 1.0f / (n > 1e-12f ? n : 1e-12f);
        for (int c = 0; c < C; c++) r[c] *= inv;
    }
}
