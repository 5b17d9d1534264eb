/* kernels_bf16: matrix products with bfloat16 inputs and float32
 * accumulation, for the encoder's forward pass and the trainer's forward and
 * backward passes when the precision is bf16 (encoder.h, enc_set_precision).
 *
 * Why hand-written: the products run on AVX-512 BF16 (vdpbf16ps: 32 bf16
 * products per instruction, summed in pairs into 16 float32 lanes), twice the
 * fp32 FMA rate on this class of CPU.  Debian's OpenBLAS 0.3.21 (the BLAS we
 * link) does not export sbgemm (checked with nm), so there is no library call
 * to delegate to.
 *
 * Operands: the right-hand side B [K,N] is packed once into a kbf_mat
 * (bf16, panels of 48 columns, K in pairs), e.g. a Linear weight at model
 * load; the left-hand side A [M,K] is converted to bf16 inside every call
 * (round to nearest even, as torch's autocast does).  Accumulation is float32
 * over the whole K; bias and the accumulate-into-out option are applied in
 * float32.  Numerics: the inputs keep 8 significant bits (relative rounding
 * error <= 2^-8 each), so each product is off by ~3e-3 relative (rms) and a
 * dot product of K random-sign terms by about as much relative to its size,
 * whatever K (the float32 sum adds ~1e-7); see the parity notes in
 * tests/unit/test_kernels_bf16.c and the README.
 *
 * Threads: kbf_gemm splits M over up to kern_threads() threads (parfor.h);
 * results do not depend on the thread count (every output element is summed
 * in the same order).  No state; thread-safe for distinct outputs.
 *
 * CPU: kbf_cpu_ok() says whether this machine runs the kernel (avx512_bf16);
 * where it does not, kbf_gemm returns -1 without computing and callers must
 * refuse bf16 with a clear error (never fall back silently).  The naive twin
 * runs anywhere and computes the same products (same bf16 rounding of both
 * operands) in double: tests compare the two. */
#ifndef SY_KERNELS_BF16_H
#define SY_KERNELS_BF16_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the CPU (and this build) can run the bf16 kernel, else 0.  The
 * environment variable SYNEG_NO_BF16=1 makes it 0 (so the refusal of bf16 on
 * CPUs without it can be tested anywhere). */
int kbf_cpu_ok(void);

/* float -> bf16 bits, round to nearest even (NaN stays NaN); and back. */
uint16_t kbf_round(float x);
float kbf_to_float(uint16_t b);

/* A packed right-hand side: N columns of depth K.  Owned by its creator. */
typedef struct kbf_mat kbf_mat;

/* Pack w into *m, (re)allocating it when its capacity is too small (*m may
 * be NULL: a new one).  trans 0: w is [N,K] with row stride ldw (a Linear
 * weight [out,in], used as out = x @ w^T); trans 1: w is [K,N], stride ldw.
 * Returns 0, or -1 when memory runs out (then *m is unchanged). */
int kbf_pack(kbf_mat **m, const float *w, int ldw, int trans, int N, int K);
void kbf_mat_free(kbf_mat *m);
int kbf_mat_n(const kbf_mat *m);
int kbf_mat_k(const kbf_mat *m);

/* out[M,N] (row stride ldo) = (accumulate ? out : 0) + A @ B + bias[N]
 * where A is [M,K]: a_trans 0: a[m*lda + k]; a_trans 1: a[k*lda + m].
 * bias may be NULL.  Returns 0, or -1 (nothing written) when the CPU lacks
 * avx512_bf16 or scratch memory could not be allocated. */
int kbf_gemm(float *out, int ldo, const float *a, int lda, int a_trans, const kbf_mat *b,
             const float *bias, int M, int accumulate);

/* The same with A already in bf16 pairs: a2[m * kp + p] = (A[m][2p],
 * A[m][2p+1]) with kp = (K + 1) / 2 (K = the packed B's depth), as
 * kbf_gelu_pairs writes them; the products equal kbf_gemm's on the float A
 * they were rounded from, bit for bit.  Returns as kbf_gemm. */
int kbf_gemm_pairs(float *out, int ldo, const uint32_t *a2, const kbf_mat *b, const float *bias, int M,
                   int accumulate);

/* GELU (kernels.h's gelu_forward, the same float operations) of inp[M,K],
 * rounded to bf16 pairs out[m * ((K+1)/2) + p] (a zero pads an odd K): the
 * left operand of the next product without a float32 copy in between.
 * Each value is kbf_round(gelu_forward(x)) exactly.  Returns 0, or -1
 * (nothing written) when the CPU lacks avx512_bf16. */
int kbf_gelu_pairs(uint32_t *out, const float *inp, size_t M, int K);

/* The backward of out[N,OC] = inp[N,C] @ w[OC,C]^T + b in bf16 products
 * (as kernels_bwd.h's matmul_backward, accumulating with +=):
 *   dinp[N,C] += dout @ w      (dinp may be NULL; dinp_acc 0: = instead of
 *                              +=, so the caller need not zero it)
 *   dw[OC,C]  += dout^T @ inp  (sums over the N rows in float32)
 *   db[OC]    += column sums of dout, in float32 (db may be NULL).
 * Both right-hand sides are packed into *scratch (grown as needed, owned by
 * the caller, kbf_mat_free).  Returns 0, or -1 (CPU lacks avx512_bf16, or
 * out of memory) with the gradients untouched only when it fails before the
 * first product. */
int kbf_matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int C, int OC, kbf_mat **scratch, int dinp_acc);

/* Multi-head self-attention over qkv [B,T,3C] (as kernels.h's
 * attention_forward: NH heads of C/NH, keys past lens[b] masked, rows past
 * lens[b] zero) with bf16 products and float32 sums: S = Q K^T / sqrt(hs),
 * softmax in float32 (kept in att [B,NH,T,T] when att is not NULL, for the
 * backward), O = P V with P rounded to bf16.  Splits the (sequence, head)
 * pairs over kern_threads() threads; each output is summed in one fixed
 * order, so results do not depend on the thread count.  Returns 0, or -1
 * (nothing defined) when the CPU lacks avx512_bf16 or memory runs out. */
int kbf_attention_forward(float *out, float *att, const float *qkv, const int *lens, int B, int T, int C, int NH);

/* Its backward (as kernels_bwd.h's attention_backward, accumulating into
 * dqkv with +=) with bf16 products: dV = P^T dO, dP = dO V^T,
 * dS = P (dP - rowsum(P dP)) / sqrt(hs) in float32, dQ = dS K, dK = dS^T Q.
 * Returns 0, or -1 (CPU lacks avx512_bf16, out of memory). */
int kbf_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const int *lens, int B, int T, int C, int NH);

/* Their naive twins: the same bf16 roundings of every product's operands,
 * sums and softmax in double; run on any CPU.  -1 only when out of memory. */
int kbf_attention_forward_naive(float *out, float *att, const float *qkv, const int *lens, int B, int T, int C, int NH);
int kbf_attention_backward_naive(float *dqkv, const float *dout, const float *qkv, const float *att,
                                 const int *lens, int B, int T, int C, int NH);

/* The naive twin: the same with B given as floats (w, ldw, w_trans as in
 * kbf_pack), both operands rounded to bf16, sums in double. */
void kbf_gemm_naive(float *out, int ldo, const float *a, int lda, int a_trans, const float *w,
                    int ldw, int w_trans, const float *bias, int M, int N, int K, int accumulate);

#endif
