/* kernels_bwd: backward of every encoder op, and the InfoNCE loss.
 * Contract in kernels_bwd.h. */
#include "kernels_bwd.h"
#include "kernels_math.h"

/* O3 for if-conversion, so the exp/erf selects vectorise (as kernels.c). */
#pragma GCC optimize("O3")

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "parfor.h"

/* ---- a small parallel-for: [0, n) in kern_threads() contiguous parts ---- */
/* Parts are fixed by n and the thread count (at most 16), so results
 * (including per-part partial sums reduced in part order) are deterministic
 * for a given thread count.  Returns the number of parts used. */
static int bpar_parts(size_t n, double work)
{
    int nt = kern_threads();
    return sy_par_parts(n, nt < 16 ? nt : 16, work);
}

void embedding_backward(float *dwte, float *dwpe, float *dwtt, const float *dout,
                        const int *ids, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *x = dwte + (size_t)ids[(size_t)b * T + t] * C;
            float *y = dwpe + (size_t)t * C;
            for (int i = 0; i < C; i++) {
                x[i] += d[i];
                y[i] += d[i];
            }
            if (dwtt)
                for (int i = 0; i < C; i++) dwtt[i] += d[i];
        }
}

typedef struct {
    float *dinp, *pdw, *pdb;
    const float *dout, *inp, *w, *mean, *rstd;
    int C, set;
} ln_ctx;

__attribute__((target_clones("avx512f", "avx2", "default")))
static void ln_bwd_part(void *p, size_t lo, size_t hi, int part)
{
    ln_ctx *c = p;
    int C = c->C;
    float *dw = c->pdw + (size_t)part * C, *db = c->pdb + (size_t)part * C;
    for (size_t n = lo; n < hi; n++) {
        const float *d = c->dout + n * C, *x = c->inp + n * C, *w = c->w;
        float *dx = c->dinp + n * C;
        float m = c->mean[n], r = c->rstd[n];
        /* two reductions: mean of dnorm and mean of dnorm * norm */
        float s1 = 0, s2 = 0;
        for (int i = 0; i < C; i++) {
            float nx = (x[i] - m) * r;
            float dn = w[i] * d[i];
            s1 += dn;
            s2 += dn * nx;
        }
        float m1 = s1 / (float)C, m2 = s2 / (float)C;
        for (int i = 0; i < C; i++) {
            float nx = (x[i] - m) * r;
            float dn = w[i] * d[i];
            db[i] += d[i];
            dw[i] += nx * d[i];
            float v = (dn - m1 - nx * m2) * r;
            dx[i] = c->set ? v : dx[i] + v;
        }
    }
}

static void ln_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C, int set)
{
    int nt = bpar_parts((size_t)N, 10.0 * C);
    float *part = nt > 1 ? calloc((size_t)nt * 2 * C, sizeof *part) : NULL;
    if (!part) nt = 1;
    ln_ctx c = { dinp, part ? part : dw, part ? part + (size_t)nt * C : db, dout, inp, w, mean, rstd, C, set };
    sy_par_for((size_t)N, nt, ln_bwd_part, &c);
    if (part) {
        for (int t = 0; t < nt; t++)
            for (int i = 0; i < C; i++) {
                dw[i] += part[(size_t)t * C + i];
                db[i] += part[(size_t)(nt + t) * C + i];
            }
        free(part);
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C)
{
    ln_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C, 0);
}

void layernorm_backward_set(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, const float *mean, const float *rstd, int N, int C)
{
    ln_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C, 1);
}

void matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC)
{
    /* dinp[N,C] += dout[N,OC] @ w[OC,C] */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
                    1.0f, dinp, C);
    /* dw[OC,C] += dout^T[OC,N] @ inp[N,C] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f,
                dw, C);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++) db[o] += d[o];
        }
}

/* Per (b, h), over the L = lens[b] valid rows, with A = att, O = dout:
 *   dV = A^T dO,  dA = dO V^T,  dS = A * (dA - rowsum(A * dA)) * scale,
 *   dQ = dS K,    dK = dS^T Q.  Rows and columns >= L have A = 0. */
int attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                       const int *lens, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    float *da = malloc((size_t)T * T * sizeof *da);
    if (!da) return -1;
    for (int b = 0; b < B; b++) {
        int L = lens[b];
        for (int h = 0; h < NH; h++) {
            const float *A = att + (((size_t)b * NH + h) * T) * T;   /* [L, T] used part */
            const float *dO = dout + (size_t)b * T * C + h * hs;       /* ld C */
            const float *Q = qkv + (size_t)b * T * C3 + h * hs;        /* ld 3C */
            const float *K = Q + C, *V = Q + 2 * C;
            float *dQ = dqkv + (size_t)b * T * C3 + h * hs;
            float *dK = dQ + C, *dV = dQ + 2 * C;
            /* dV[L,hs] += A^T[L,L] dO[L,hs] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hs, L, 1.0f, A, T, dO, C, 1.0f,
                        dV, C3);
            /* dA[L,L] = dO[L,hs] V^T[hs,L] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hs, 1.0f, dO, C, V, C3, 0.0f,
                        da, L);
            for (int i = 0; i < L; i++) {
                const float *a = A + (size_t)i * T;
                float *d = da + (size_t)i * L;
                float dot = 0;
                for (int j = 0; j < L; j++) dot += a[j] * d[j];
                for (int j = 0; j < L; j++) d[j] = a[j] * (d[j] - dot) * scale;
            }
            /* dQ[L,hs] += dS[L,L] K[L,hs];  dK[L,hs] += dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hs, L, 1.0f, da, L, K, C3, 1.0f,
                        dQ, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hs, L, 1.0f, da, L, Q, C3, 1.0f,
                        dK, C3);
        }
    }
    free(da);
    return 0;
}

int attention_backward_naive(float *dqkv, const float *dout, const float *qkv, const float *att,
                             const int *lens, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    float *da = malloc((size_t)T * sizeof *da);
    if (!da) return -1;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < lens[b]; i++) {
                const float *a = att + (((size_t)b * NH + h) * T + i) * T;
                const float *doi = dout + ((size_t)b * T + i) * C + h * hs;
                const float *qi = qkv + ((size_t)b * T + i) * C3 + h * hs;
                float *dqi = dqkv + ((size_t)b * T + i) * C3 + h * hs;
                float dot = 0;
                for (int j = 0; j < T; j++) {
                    const float *vj = qkv + ((size_t)b * T + j) * C3 + 2 * C + h * hs;
                    float *dvj = dqkv + ((size_t)b * T + j) * C3 + 2 * C + h * hs;
                    float s = 0;
                    for (int e = 0; e < hs; e++) {
                        s += doi[e] * vj[e];
                        dvj[e] += a[j] * doi[e];
                    }
                    da[j] = s;
                    dot += a[j] * s;
                }
                for (int j = 0; j < T; j++) {
                    float ds = a[j] * (da[j] - dot) * scale;
                    const float *kj = qkv + ((size_t)b * T + j) * C3 + C + h * hs;
                    float *dkj = dqkv + ((size_t)b * T + j) * C3 + C + h * hs;
                    for (int e = 0; e < hs; e++) {
                        dqi[e] += ds * kj[e];
                        dkj[e] += ds * qi[e];
                    }
                }
            }
    free(da);
    return 0;
}

typedef struct { float *dinp; const float *inp, *dout; int set; } gelu_ctx;

__attribute__((target_clones("avx512f", "avx2", "default")))
static void gelu_bwd_part(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    gelu_ctx *c = p;
    float *dx = c->dinp + lo;   /* may be dout itself (in place) */
    const float *restrict in = c->inp + lo, *d = c->dout + lo;
    const float inv_sqrt2 = 0.70710678118654752f;
    const float inv_sqrt2pi = 0.39894228040143268f;
    size_t n = hi - lo;
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float cdf = 0.5f * (1.0f + fast_erf(x * inv_sqrt2));
        float pdf = inv_sqrt2pi * fast_exp(-0.5f * x * x);
        float v = (cdf + x * pdf) * d[i];
        dx[i] = c->set ? v : dx[i] + v;
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N)
{
    gelu_ctx c = { dinp, inp, dout, 0 };
    sy_par_for(N, bpar_parts(N, 40.0), gelu_bwd_part, &c);
}

void gelu_backward_inplace(float *d, const float *inp, size_t N)
{
    gelu_ctx c = { d, inp, d, 1 };
    sy_par_for(N, bpar_parts(N, 40.0), gelu_bwd_part, &c);
}

void pool_cls_backward(float *dinp, const float *dout, int B, int T, int C)
{
    for (int b = 0; b < B; b++) {
        float *x = dinp + (size_t)b * T * C;
        const float *d = dout + (size_t)b * C;
        for (int i = 0; i < C; i++) x[i] += d[i];
    }
}

void pool_mean_backward(float *dinp, const float *dout, const int *lens, int B, int T, int C)
{
    for (int b = 0; b < B; b++) {
        if (lens[b] <= 0) continue;
        const float *d = dout + (size_t)b * C;
        float inv = 1.0f / (float)lens[b];
        for (int t = 0; t < lens[b]; t++) {
            float *x = dinp + ((size_t)b * T + t) * C;
            for (int i = 0; i < C; i++) x[i] += d[i] * inv;
        }
    }
}

void l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm,
                     int N, int C)
{
    /* y = x/|x|: dx = (dy - y (y.dy)) / |x| */
    for (int n = 0; n < N; n++) {
        const float *y = out + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        double s = 0;
        for (int i = 0; i < C; i++) s += (double)y[i] * dy[i];
        float inv = 1.0f / norm[n];
        for (int i = 0; i < C; i++) dx[i] += (dy[i] - y[i] * (float)s) * inv;
    }
}

double infonce_loss(float *dq, float *dp, const float *q, const float *p, int B, int G, int D,
                    double temp, int inbatch, const unsigned char *valid, double *acc)
{
    size_t P = (size_t)B * G;
    float *s = malloc((size_t)B * P * sizeof *s);
    if (!s) return NAN;
    /* s[B,P] = q @ p^T / temp */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (int)P, D, (float)(1.0 / temp), q, D,
                p, D, 0.0f, s, (int)P);
    double loss = 0;
    size_t correct = 0;
    for (size_t b = 0; b < (size_t)B; b++) {
        float *row = s + b * P;
        size_t own = b * G, lo = inbatch ? 0 : own, hi = inbatch ? P : own + G;
        const unsigned char *ok = valid ? valid + b * P : NULL;
#define IN(j) ((j) >= lo && (j) < hi && (!ok || ok[j] || ((j) >= own && (j) < own + G)))
        double mx = -INFINITY;
        for (size_t j = lo; j < hi; j++)
            if (IN(j) && row[j] > mx) mx = row[j];
        double sum = 0;
        for (size_t j = lo; j < hi; j++)
            if (IN(j)) sum += exp(row[j] - mx);
        double lse = mx + log(sum);
        loss += lse - row[own];
        int best = 1;
        for (size_t j = lo; j < hi; j++)
            if (IN(j) && j != own && row[j] >= row[own]) { best = 0; break; }
        correct += best;
        /* gradient of the mean loss w.r.t. the scores, in place */
        for (size_t j = 0; j < P; j++) {
            double g = IN(j) ? exp(row[j] - lse) : 0.0;
            if (j == own) g -= 1.0;
            row[j] = (float)(g / (double)B / temp);
        }
#undef IN
    }
    if (dq)  /* dq[B,D] = ds[B,P] @ p[P,D] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, (int)P, 1.0f, s, (int)P, p, D,
                    0.0f, dq, D);
    if (dp)  /* dp[P,D] = ds^T[P,B] @ q[B,D] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, D, B, 1.0f, s, (int)P, q, D,
                    0.0f, dp, D);
    free(s);
    if (acc) *acc = B ? (double)correct / (double)B : 0.0;
    return B ? loss / (double)B : 0.0;
}
