/* kernels_bwd: the backward pass of every encoder op, in the llm.c way.
 *
 * Each function mirrors one forward op (see kernels.h for the forwards) and
 * ACCUMULATES into its gradient outputs with +=, so callers zero gradients
 * once per step and residual branches simply add.  Plain functions over flat
 * float arrays, outputs first, shapes in the comment; row-major throughout;
 * weights in the PyTorch Linear layout w[OC][C].  The matrix products go
 * through cblas (OpenBLAS), everything else is plain loops; results depend
 * only on the inputs and the BLAS thread count.  No allocation except where a
 * comment says so; no state; thread-safe.
 *
 * The loss lives here too: InfoNCE over query and passage embeddings with
 * in-batch negatives and a temperature, forward and backward in one call. */
#ifndef SY_KERNELS_BWD_H
#define SY_KERNELS_BWD_H

#include <stddef.h>
#include <stdint.h>

/* embedding_forward: out[B,T,C] = wte[ids] + wpe[t] + wtt[0].
 * dwte [V,C], dwpe [P,C], dwtt [TT,C] (row 0; may be NULL), dout [B,T,C]. */
void embedding_backward(float *dwte, float *dwpe, float *dwtt, const float *dout,
                        const int *ids, int B, int T, int C);

/* layernorm_forward: dinp, inp, dout [N,C]; dw, db [C]; mean, rstd [N]. */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C);
/* The same with dinp overwritten (=), not accumulated (saves zeroing it
 * first; the values are those layernorm_backward adds to zeros). */
void layernorm_backward_set(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, const float *mean, const float *rstd, int N, int C);

/* matmul_forward: out[N,OC] = inp[N,C] @ w[OC,C]^T + b.  dinp [N,C] may be
 * NULL (no input gradient wanted), dw [OC,C], db [OC] may be NULL. */
void matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC);

/* attention_forward: dqkv [B,T,3C] accumulates, dout [B,T,C], qkv [B,T,3C],
 * att [B,NH,T,T] the forward's probabilities, lens [B].  Query rows
 * t >= lens[b] carry no gradient (their output is defined as 0).
 * Per (sequence, head) sgemms; allocates T*T floats of scratch (returns -1
 * if that fails, else 0).  The naive twin loops. */
int attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                       const int *lens, int B, int T, int C, int NH);
int attention_backward_naive(float *dqkv, const float *dout, const float *qkv, const float *att,
                             const int *lens, int B, int T, int C, int NH);

/* gelu_forward (exact erf): dinp, inp, dout [N]. */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N);
/* In place: d[i] = gelu'(inp[i]) * d[i] (what gelu_backward adds to zeros). */
void gelu_backward_inplace(float *d, const float *inp, size_t N);

/* pool_cls_forward / pool_mean_forward: dinp [B,T,C] accumulates from
 * dout [B,C]. */
void pool_cls_backward(float *dinp, const float *dout, int B, int T, int C);
void pool_mean_backward(float *dinp, const float *dout, const int *lens, int B, int T, int C);

/* l2norm_forward (in place): out [N,C] is the normalised output and norm [N]
 * the norms the forward saved; dinp [N,C] accumulates. */
void l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm,
                     int N, int C);

/* InfoNCE.  q [B,D] query embeddings, p [B*G,D] passages: row b*G is query
 * b's positive, rows b*G+1 .. b*G+G-1 its hard negatives.  Scores are
 * q.p / temp over every passage of the batch when inbatch is set (the other
 * queries' positives and negatives are in-batch negatives), else only over the
 * query's own group.  Returns the mean cross-entropy of the positive; dq
 * [B,D] and dp [B*G,D] are OVERWRITTEN with its gradient (may be NULL for a
 * forward only).  valid [B, B*G] (may be NULL: all valid) drops a passage
 * from query b's softmax where it is 0 (another instance's positive that is
 * also a positive of b is no negative); own-group columns stay.  Allocates
 * B*B*G floats of scratch; returns NAN if that fails.  *acc (may be NULL)
 * receives the fraction of queries whose positive scored highest. */
double infonce_loss(float *dq, float *dp, const float *q, const float *p, int B, int G, int D,
                    double temp, int inbatch, const unsigned char *valid, double *acc);

#endif
