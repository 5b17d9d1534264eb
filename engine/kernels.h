/* kernels: the BERT building blocks as plain functions over flat float32
 * arrays, in the llm.c style.  Outputs come first, then the values a backward
 * pass needs (saved here so engine/kernels_bwd.c can mirror each forward),
 * then inputs, then sizes.  Shapes are row-major and given in the comments;
 * B = batch, T = sequence length (padded), C = hidden size, NH = heads,
 * OC = output channels, I = intermediate size.
 *
 * Every fast kernel has a naive twin (`*_naive`) computing the same thing in
 * the most obvious way; tests/unit/test_kernels.c compares them.
 *
 * Threads: matrix products go through OpenBLAS cblas_sgemm, which uses the
 * thread count set by kern_set_threads (the ONE place the BLAS thread count
 * is set; call it once at start-up; until then OpenBLAS's default applies:
 * OPENBLAS_NUM_THREADS, else all cores).  Kernels that are not sgemm split their outer loop over up to
 * kern_threads() pthreads when the work is large enough.  No mutable globals
 * of our own: the thread count lives in OpenBLAS.
 *
 * Numerics: float32 throughout, exact erf GELU (as HF "gelu"), LayerNorm with
 * the biased variance and eps inside the square root (as torch). */
#ifndef SY_KERNELS_H
#define SY_KERNELS_H

#include <stddef.h>

/* Set the BLAS (and our own) thread count; n <= 0 means all online cores.
 * Returns the count in effect. */
int kern_set_threads(int n);
int kern_threads(void);

/* out[N,OC] = inp[N,C] @ w[OC,C]^T + bias[OC]   (torch.nn.Linear layout:
 * weight is [out, in]).  bias may be NULL. */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    int N, int C, int OC);
void matmul_forward_naive(float *out, const float *inp, const float *w, const float *bias,
                          int N, int C, int OC);

/* out[N,C] = (inp - mean) * rstd * w + b per row; mean[N], rstd[N] are saved
 * for backward (either may be NULL when not needed). */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C, float eps);
void layernorm_forward_naive(float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C, float eps);

/* out[N] = 0.5 * x * (1 + erf(x / sqrt(2)))   (in-place allowed: out == inp) */
void gelu_forward(float *out, const float *inp, size_t N);
void gelu_forward_naive(float *out, const float *inp, size_t N);

/* out[N] = a[N] + b[N]   (out may alias a or b) */
void residual_forward(float *out, const float *a, const float *b, size_t N);

/* Multi-head self-attention with a prefix padding mask.
 *   qkv[B,T,3C]   per token: q (C) | k (C) | v (C); head h uses columns
 *                 h*hs .. h*hs+hs-1 of each, hs = C/NH
 *   lens[B]       valid tokens of sequence b (1..T); keys at t >= lens[b]
 *                 are masked out; query rows t >= lens[b] give out = 0 and
 *                 att = 0 (HF computes garbage there; nobody reads it)
 *   out[B,T,C]    softmax(q k^T / sqrt(hs)) v, heads concatenated
 *   att[B,NH,T,T] the softmax probabilities, saved for backward; may be
 *                 NULL for inference (then a scratch of NH*T*T floats per
 *                 thread is allocated internally).
 * Returns 0, or -1 when scratch memory could not be allocated. */
int attention_forward(float *out, float *att, const float *qkv, const int *lens,
                      int B, int T, int C, int NH);
int attention_forward_naive(float *out, float *att, const float *qkv, const int *lens,
                            int B, int T, int C, int NH);

/* Embeddings: out[B,T,C] = wte[ids[b,t]] + wpe[t] + wtt[0] (token type 0).
 * ids[B,T] must be < V (the caller checks); positions t < P. */
void embedding_forward(float *out, const int *ids, const float *wte, const float *wpe,
                       const float *wtt, int B, int T, int C);

/* Pooling over the valid tokens of hidden[B,T,C] into out[B,C]:
 * cls takes t = 0, mean averages t < lens[b]. */
void pool_cls_forward(float *out, const float *hidden, int B, int T, int C);
void pool_mean_forward(float *out, const float *hidden, const int *lens, int B, int T, int C);
/* Row-wise L2 normalisation in place: x[N,C] /= max(||x||, 1e-12) (as torch
 * F.normalize); norm[N] saved for backward (may be NULL). */
void l2norm_forward(float *x, float *norm, int N, int C);

#endif
