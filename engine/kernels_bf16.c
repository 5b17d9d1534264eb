/* kernels_bf16: bf16 x bf16 -> fp32 matrix products (see kernels_bf16.h).
 *
 * Blocking (BLIS style, sized for a core with 32 KB L1 and 1-2 MB L2):
 *   - B is packed in panels of NR = 48 columns, K in pairs: panel p holds
 *     uint32 [K/2][48], each uint32 the bf16 pair (B[2k][n], B[2k+1][n]), the
 *     operand layout vdpbf16ps wants.  Columns past N and a K past an odd
 *     end are zero.
 *   - A is converted per block of MC rows into a scratch of bf16 pairs:
 *     row-major ([row][K/2]) when A is given row-major, or in groups of MR
 *     rows ([K/2][8]) when A is given transposed (then the conversion reads
 *     rows of the source contiguously).
 *   - The micro-kernel keeps an 8 x 48 tile of C in 24 zmm accumulators and
 *     walks KC = 256 pairs of K: the 48 x 512 B slice it reuses (48 KB) is
 *     larger than L1 but streams from L2 well, and a whole K of 384 or 512
 *     (the encoder's hidden sizes) takes one block, so the C tile is written
 *     once: measured 3-5 % faster than 128 pairs at the encoder's shapes.
 * Every output element is a float32 sum over K in increasing pairs, whatever
 * the thread count or block, so results are reproducible. */
#pragma GCC optimize("O3")
#include "kernels_bf16.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_math.h"
#include "parfor.h"

#define NR 48
#define MR 8
#define KCP 256
#define MC_MAX 64

struct kbf_mat {
    int N, K, kp2, np;      /* kp2 = pairs of K, np = panels */
    size_t cap;             /* uint32 capacity of data */
    uint32_t *data;         /* np panels of [kp2][NR] */
};

int kbf_mat_n(const kbf_mat *m) { return m ? m->N : 0; }
int kbf_mat_k(const kbf_mat *m) { return m ? m->K : 0; }

void kbf_mat_free(kbf_mat *m)
{
    if (!m) return;
    free(m->data);
    free(m);
}

/* ---- scalar conversion (the naive path, and the reference for the vector
 * conversion: vcvtneps2bf16 rounds to nearest even, treats input denormals
 * as zero and keeps NaNs quiet) ---- */

uint16_t kbf_round(float x)
{
    uint32_t u = float_to_bits(x);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);     /* zero, denormal */
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float kbf_to_float(uint16_t b) { return bits_to_float((uint32_t)b << 16); }

static uint32_t pair_of(float lo, float hi) { return (uint32_t)kbf_round(lo) | (uint32_t)kbf_round(hi) << 16; }

void kbf_gemm_naive(float *out, int ldo, const float *a, int lda, int a_trans, const float *w,
                    int ldw, int w_trans, const float *bias, int M, int N, int K, int accumulate)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = accumulate ? out[(size_t)m * ldo + n] : 0.0;
            if (bias) s += bias[n];
            for (int k = 0; k < K; k++) {
                float x = a_trans ? a[(size_t)k * lda + m] : a[(size_t)m * lda + k];
                float y = w_trans ? w[(size_t)k * ldw + n] : w[(size_t)n * ldw + k];
                s += (double)kbf_to_float(kbf_round(x)) * kbf_to_float(kbf_round(y));
            }
            out[(size_t)m * ldo + n] = (float)s;
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KBF_X86 1
#define KBF_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#endif

int kbf_cpu_ok(void)
{
#ifdef KBF_X86
    const char *off = getenv("SYNEG_NO_BF16");   /* tests: act as a CPU without it */
    if (off && *off && strcmp(off, "0")) return 0;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

/* ---- packing B ---- */

typedef struct {
    kbf_mat *m;
    const float *w;
    int ldw, trans;
} pack_ctx;

static void pack_panel_scalar(const pack_ctx *c, int p)
{
    const kbf_mat *m = c->m;
    uint32_t *dst = m->data + (size_t)p * m->kp2 * NR;
    for (int kp = 0; kp < m->kp2; kp++)
        for (int j = 0; j < NR; j++) {
            int n = p * NR + j, k = 2 * kp;
            float lo = 0, hi = 0;
            if (n < m->N) {
                lo = c->trans ? c->w[(size_t)k * c->ldw + n] : c->w[(size_t)n * c->ldw + k];
                if (k + 1 < m->K) hi = c->trans ? c->w[(size_t)(k + 1) * c->ldw + n] : c->w[(size_t)n * c->ldw + k + 1];
            }
            dst[(size_t)kp * NR + j] = pair_of(lo, hi);
        }
}

#ifdef KBF_X86
/* bf16 pairs of 16 lanes: lane i = (lo[i], hi[i]) */
KBF_TARGET static inline __m512i pairs16(__m512 lo, __m512 hi)
{
    __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
    __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

static inline __mmask16 mask16(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

KBF_TARGET static void pack_panel_avx(const pack_ctx *c, int p)
{
    const kbf_mat *m = c->m;
    uint32_t *dst = m->data + (size_t)p * m->kp2 * NR;
    int n0 = p * NR;
    if (c->trans) {   /* w[k][n]: rows 2kp and 2kp+1 give the pair, 16 columns at a time */
        for (int kp = 0; kp < m->kp2; kp++) {
            const float *r0 = c->w + (size_t)(2 * kp) * c->ldw;
            int has1 = 2 * kp + 1 < m->K;
            for (int j = 0; j < NR; j += 16) {
                __mmask16 mk = mask16(m->N - n0 - j);
                __m512 lo = _mm512_maskz_loadu_ps(mk, r0 + n0 + j);
                __m512 hi = has1 ? _mm512_maskz_loadu_ps(mk, r0 + c->ldw + n0 + j) : _mm512_setzero_ps();
                _mm512_storeu_si512(dst + (size_t)kp * NR + j, pairs16(lo, hi));
            }
        }
        return;
    }
    /* w[n][k]: a row gives 16 pairs of k at a time (cvtne2ps keeps them adjacent) */
    uint32_t tmp[16];
    for (int j = 0; j < NR; j++) {
        int n = n0 + j;
        if (n >= m->N) {
            for (int kp = 0; kp < m->kp2; kp++) dst[(size_t)kp * NR + j] = 0;
            continue;
        }
        const float *row = c->w + (size_t)n * c->ldw;
        for (int k = 0; k < m->K; k += 32) {
            __m512 lo = _mm512_maskz_loadu_ps(mask16(m->K - k), row + k);
            __m512 hi = _mm512_maskz_loadu_ps(mask16(m->K - k - 16), row + k + 16);
            _mm512_storeu_si512(tmp, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
            int np = (m->K - k + 1) / 2;
            if (np > 16) np = 16;
            for (int q = 0; q < np; q++) dst[(size_t)(k / 2 + q) * NR + j] = tmp[q];
        }
    }
}
#endif

static void pack_part(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    const pack_ctx *c = p;
    for (size_t i = lo; i < hi; i++) {
#ifdef KBF_X86
        if (kbf_cpu_ok()) { pack_panel_avx(c, (int)i); continue; }
#endif
        pack_panel_scalar(c, (int)i);
    }
}

int kbf_pack(kbf_mat **mp, const float *w, int ldw, int trans, int N, int K)
{
    if (N < 0 || K < 0) return -1;
    int kp2 = (K + 1) / 2, np = (N + NR - 1) / NR;
    size_t need = (size_t)np * kp2 * NR;
    kbf_mat *m = *mp;
    if (!m || m->cap < need) {
        kbf_mat *n = calloc(1, sizeof *n);
        void *d = NULL;
        if (!n || posix_memalign(&d, 64, (need ? need : 1) * sizeof(uint32_t))) { free(n); return -1; }
        n->data = d;
        n->cap = need;
        kbf_mat_free(m);
        *mp = m = n;
    }
    m->N = N;
    m->K = K;
    m->kp2 = kp2;
    m->np = np;
    pack_ctx c = { m, w, ldw, trans };
    int nt = kern_threads();
    sy_par_for((size_t)np, sy_par_parts((size_t)np, nt < 16 ? nt : 16, 4.0 * NR * K), pack_part, &c);
    return 0;
}

/* ---- the product ---- */

#ifdef KBF_X86
/* C[rows, cols] (8 x 48 at most) op= A[8 rows, nkp pairs] . B panel slice.
 * A pair (r, k) is a[r * ars + k * aks].  mode 0: C = 0 + ...; 1 and 2: C +=.
 * bias (when not NULL) is added once, for the first K block. */
KBF_TARGET __attribute__((always_inline)) static inline void
ukr(const uint32_t *a, size_t ars, size_t aks, const uint32_t *b, int nkp, float *c, size_t ldc,
    int rows, int cols, int mode, const float *bias)
{
    __m512 acc[MR][3];
    __mmask16 cm[3] = { mask16(cols), mask16(cols - 16), mask16(cols - 32) };
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < 3; j++)
            acc[r][j] = mode && r < rows ? _mm512_maskz_loadu_ps(cm[j], c + r * ldc + 16 * j) : _mm512_setzero_ps();
    if (bias)
        for (int j = 0; j < 3; j++) {
            __m512 bv = _mm512_maskz_loadu_ps(cm[j], bias + 16 * j);
            for (int r = 0; r < MR; r++) acc[r][j] = _mm512_add_ps(acc[r][j], bv);
        }
    for (int k = 0; k < nkp; k++) {
        const uint32_t *bk = b + (size_t)k * NR;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bk);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(bk + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(bk + 32);
        for (int r = 0; r < MR; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r * ars + k * aks]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], av, b2);
        }
    }
    for (int r = 0; r < MR; r++) {
        if (r >= rows) break;
        for (int j = 0; j < 3; j++) _mm512_mask_storeu_ps(c + r * ldc + 16 * j, cm[j], acc[r][j]);
    }
}

/* A row-major in scratch: pair (r, k) at a[r * lda2 + k] */
KBF_TARGET static void ukr_rows(const uint32_t *a, size_t lda2, const uint32_t *b, int nkp, float *c,
                                size_t ldc, int rows, int cols, int mode, const float *bias)
{
    ukr(a, lda2, 1, b, nkp, c, ldc, rows, cols, mode, bias);
}

/* A in groups of 8 rows: pair (r, k) at a[k * 8 + r] */
KBF_TARGET static void ukr_group(const uint32_t *a, const uint32_t *b, int nkp, float *c, size_t ldc,
                                 int rows, int cols, int mode, const float *bias)
{
    ukr(a, 1, MR, b, nkp, c, ldc, rows, cols, mode, bias);
}

typedef struct {
    float *out;
    int ldo;
    const float *a;
    const uint32_t *a2;     /* A given as bf16 pairs (kbf_gemm_pairs), else NULL */
    int lda, a_trans;
    const kbf_mat *b;
    const float *bias;
    int M, accumulate, mc;
    int failed;
} gemm_ctx;

/* Convert rows [m0, m0 + mc) of A into scratch (zero rows past M, rounded up to 8). */
KBF_TARGET static void convert_a(const gemm_ctx *c, uint32_t *s, int m0, int mc)
{
    int K = c->b->K, kp2 = c->b->kp2, mc8 = (mc + MR - 1) / MR * MR;
    if (!c->a_trans) {
        for (int r = 0; r < mc8; r++) {
            uint32_t *dst = s + (size_t)r * kp2;
            if (r >= mc) { memset(dst, 0, (size_t)kp2 * sizeof *dst); continue; }
            const float *row = c->a + (size_t)(m0 + r) * c->lda;
            for (int k = 0; k < K; k += 32) {
                __m512 lo = _mm512_maskz_loadu_ps(mask16(K - k), row + k);
                __m512 hi = _mm512_maskz_loadu_ps(mask16(K - k - 16), row + k + 16);
                _mm512_mask_storeu_epi32(dst + k / 2, mask16((K - k + 1) / 2),
                                         (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
            }
        }
        return;
    }
    /* transposed: a[k * lda + m]; groups of 8 rows, 16 rows (two groups) per vector */
    for (int g = 0; g < mc8; g += 16) {
        __mmask16 mk = mask16(mc - g);
        uint32_t *d0 = s + (size_t)(g / MR) * kp2 * MR, *d1 = d0 + (size_t)kp2 * MR;
        int two = g + MR < mc8;
        for (int kp = 0; kp < kp2; kp++) {
            const float *r0 = c->a + (size_t)(2 * kp) * c->lda + m0 + g;
            __m512 lo = _mm512_maskz_loadu_ps(mk, r0);
            __m512 hi = 2 * kp + 1 < K ? _mm512_maskz_loadu_ps(mk, r0 + c->lda) : _mm512_setzero_ps();
            __m512i p = pairs16(lo, hi);
            _mm256_storeu_si256((__m256i *)(d0 + (size_t)kp * MR), _mm512_castsi512_si256(p));
            if (two) _mm256_storeu_si256((__m256i *)(d1 + (size_t)kp * MR), _mm512_extracti64x4_epi64(p, 1));
        }
    }
}

KBF_TARGET static void gemm_part(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    gemm_ctx *c = p;
    const kbf_mat *b = c->b;
    int kp2 = b->kp2, N = b->N;
    uint32_t *s = NULL;
    if (posix_memalign((void **)&s, 64, ((size_t)c->mc + MR) * kp2 * sizeof *s + 64)) { c->failed = 1; return; }
    for (size_t blk = lo; blk < hi; blk++) {
        int m0 = (int)blk * c->mc, mc = c->M - m0 < c->mc ? c->M - m0 : c->mc;
        const uint32_t *as = s;
        if (!c->a2) {
            convert_a(c, s, m0, mc);
        } else if (mc % MR == 0) {
            as = c->a2 + (size_t)m0 * kp2;    /* the micro-kernel reads whole groups of 8 rows */
        } else {
            int mc8 = (mc + MR - 1) / MR * MR;
            memcpy(s, c->a2 + (size_t)m0 * kp2, (size_t)mc * kp2 * sizeof *s);
            memset(s + (size_t)mc * kp2, 0, (size_t)(mc8 - mc) * kp2 * sizeof *s);
        }
        for (int kc = 0; kc < kp2; kc += KCP) {
            int nk = kp2 - kc < KCP ? kp2 - kc : KCP;
            int mode = kc ? 2 : c->accumulate;
            for (int pn = 0; pn < b->np; pn++) {
                const uint32_t *bp = b->data + ((size_t)pn * kp2 + kc) * NR;
                int n0 = pn * NR, cols = N - n0 < NR ? N - n0 : NR;
                const float *bias = !kc && c->bias ? c->bias + n0 : NULL;
                for (int g = 0; g < mc; g += MR) {
                    int rows = mc - g < MR ? mc - g : MR;
                    float *cp = c->out + (size_t)(m0 + g) * c->ldo + n0;
                    if (c->a_trans)
                        ukr_group(as + ((size_t)(g / MR) * kp2 + kc) * MR, bp, nk, cp, (size_t)c->ldo, rows, cols, mode, bias);
                    else
                        ukr_rows(as + (size_t)g * kp2 + kc, (size_t)kp2, bp, nk, cp, (size_t)c->ldo, rows, cols, mode, bias);
                }
            }
        }
    }
    free(s);
}
#endif

static int gemm_run(float *out, int ldo, const float *a, const uint32_t *a2, int lda, int a_trans,
                    const kbf_mat *b, const float *bias, int M, int accumulate);

int kbf_gemm(float *out, int ldo, const float *a, int lda, int a_trans, const kbf_mat *b,
             const float *bias, int M, int accumulate)
{
    return gemm_run(out, ldo, a, NULL, lda, a_trans, b, bias, M, accumulate);
}

int kbf_gemm_pairs(float *out, int ldo, const uint32_t *a2, const kbf_mat *b, const float *bias, int M,
                   int accumulate)
{
    return gemm_run(out, ldo, NULL, a2, 0, 0, b, bias, M, accumulate);
}

static int gemm_run(float *out, int ldo, const float *a, const uint32_t *a2, int lda, int a_trans,
                    const kbf_mat *b, const float *bias, int M, int accumulate)
{
#ifdef KBF_X86
    if (!kbf_cpu_ok()) return -1;
    int N = b->N;
    if (M <= 0 || N <= 0) return 0;
    if (b->K == 0) {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
                out[(size_t)m * ldo + n] = (accumulate ? out[(size_t)m * ldo + n] : 0.0f) + (bias ? bias[n] : 0.0f);
        return 0;
    }
    int nt = kern_threads();
    if (nt > 16) nt = 16;
    /* blocks of MC_MAX rows, smaller when that leaves threads idle */
    int mc = MC_MAX;
    while (mc > MR && (M + mc - 1) / mc < 2 * nt) mc -= MR;
    size_t nb = (size_t)((M + mc - 1) / mc);
    gemm_ctx c = { out, ldo, a, a2, lda, a_trans, b, bias, M, accumulate, mc, 0 };
    sy_par_for(nb, sy_par_parts(nb, nt, 2.0 * mc * N * b->K), gemm_part, &c);
    return c.failed ? -1 : 0;
#else
    (void)out; (void)ldo; (void)a; (void)a2; (void)lda; (void)a_trans; (void)b; (void)bias; (void)M; (void)accumulate;
    return -1;
#endif
}

#ifdef KBF_X86
typedef struct {
    uint32_t *out;
    const float *inp;
    int K;
} gelu2_ctx;

/* rows [lo, hi): GELU in float (the operations of gelu_forward, written the
 * same so the values are equal), 32 at a time, then rounded in pairs */
KBF_TARGET static void gelu2_part(void *p, size_t lo, size_t hi, int part)
{
    (void)part;
    const gelu2_ctx *c = p;
    int K = c->K, kp = (K + 1) / 2;
    float g[32], pad[32];
    for (size_t m = lo; m < hi; m++) {
        const float *x = c->inp + m * (size_t)K;
        uint32_t *o = c->out + m * (size_t)kp;
        for (int k = 0; k < K; k += 32) {
            int n = K - k < 32 ? K - k : 32;
            const float *v = x + k;
            if (n < 32) {   /* the tail: zeros past K (GELU(0) = 0 pads an odd K) */
                for (int i = 0; i < 32; i++) pad[i] = i < n ? v[i] : 0.0f;
                v = pad;
            }
            for (int i = 0; i < 32; i++) g[i] = 0.5f * v[i] * (1.0f + fast_erf(v[i] * 0.70710678118654752f));
            __m512i pr = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(g + 16), _mm512_loadu_ps(g));
            _mm512_mask_storeu_epi32(o + k / 2, mask16((n + 1) / 2), pr);
        }
    }
}
#endif

int kbf_gelu_pairs(uint32_t *out, const float *inp, size_t M, int K)
{
#ifdef KBF_X86
    if (!kbf_cpu_ok()) return -1;
    gelu2_ctx c = { out, inp, K };
    int nt = kern_threads();
    sy_par_for(M, sy_par_parts(M, nt < 16 ? nt : 16, 30.0 * K), gelu2_part, &c);
    return 0;
#else
    (void)out; (void)inp; (void)M; (void)K;
    return -1;
#endif
}

int kbf_matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int C, int OC, kbf_mat **scratch, int dinp_acc)
{
    if (!kbf_cpu_ok()) return -1;
    if (N <= 0) return 0;
    /* dinp[N,C] += dout[N,OC] @ w[OC,C]: B = w as [K=OC][N=C] */
    if (dinp && (kbf_pack(scratch, w, C, 1, C, OC) || kbf_gemm(dinp, C, dout, OC, 0, *scratch, NULL, N, dinp_acc != 0)))
        return -1;
    /* dw[OC,C] += dout^T[OC,N] @ inp[N,C]: A = dout transposed, B = inp as [K=N][N=C] */
    if (kbf_pack(scratch, inp, C, 1, C, N) || kbf_gemm(dw, C, dout, OC, 1, *scratch, NULL, OC, 1)) return -1;
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++) db[o] += d[o];
        }
    return 0;
}

/* ---- attention in bf16 products ----
 *
 * Per (sequence, head), over the L = lens[b] valid rows, every product is a
 * small bf16 GEMM (att_mm, an 8 x 32 tile) on operands packed into a
 * per-thread scratch: S = Q K^T * scale and O = P V forward (softmax in
 * float32 between them, P kept in float32 for the backward), and backward
 * dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(P dP)) scale, dQ = dS K,
 * dK = dS^T Q.  Packed layouts (uint32 = a bf16 pair, low half first):
 *   rows:  A[m][p] = (X[m][2p], X[m][2p+1])        (pairs along a row)
 *   cols:  B[p][n] = (X[2p][n], X[2p+1][n])        (pairs down a column)
 *   tcols: B[p][n] = (X[n][2p], X[n][2p+1])        (X^T's column pairs)
 * A "cols" block also serves as the left operand of a transposed product
 * (A = X^T: row stride 1, pair stride ld).  Rows are padded to 8 and
 * columns to 32 with zeros, so the tile never reads past its buffers. */

#define AT_RM 8
#define AT_NC 32

static size_t up_to(size_t n, size_t m) { return (n + m - 1) / m * m; }

#ifdef KBF_X86
/* c[M,N] (ldc) = (accumulate ? c : 0) + alpha * A[M, kp pairs] . B[kp][N];
 * A pair (m, k) at a[m * ars + k * aks] (rows up to M rounded to 8 readable);
 * B row k at b + k * ldb with ldb >= N rounded to 32 (zero past N). */
KBF_TARGET static void att_mm(float *c, size_t ldc, const uint32_t *a, size_t ars, size_t aks,
                              const uint32_t *b, size_t ldb, int M, int N, int kp, int accumulate, float alpha)
{
    __m512 va = _mm512_set1_ps(alpha);
    for (int m0 = 0; m0 < M; m0 += AT_RM) {
        int rows = M - m0 < AT_RM ? M - m0 : AT_RM;
        const uint32_t *am = a + (size_t)m0 * ars;
        for (int n0 = 0; n0 < N; n0 += AT_NC) {
            __m512 acc[AT_RM][2];
            for (int r = 0; r < AT_RM; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            const uint32_t *bk = b + n0;
            for (int k = 0; k < kp; k++, bk += ldb) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(bk), b1 = (__m512bh)_mm512_loadu_si512(bk + 16);
                for (int r = 0; r < AT_RM; r++) {
                    __m512bh av = (__m512bh)_mm512_set1_epi32((int)am[r * ars + k * aks]);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
                }
            }
            __mmask16 k0 = mask16(N - n0), k1 = mask16(N - n0 - 16);
            for (int r = 0; r < rows; r++) {
                float *cr = c + (size_t)(m0 + r) * ldc + n0;
                __m512 x0 = _mm512_mul_ps(acc[r][0], va), x1 = _mm512_mul_ps(acc[r][1], va);
                if (accumulate) {
                    x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(k0, cr));
                    x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(k1, cr + 16));
                }
                _mm512_mask_storeu_ps(cr, k0, x0);
                _mm512_mask_storeu_ps(cr + 16, k1, x1);
            }
        }
    }
}

/* rows: dst[m][p] (stride dld >= (K+1)/2) from x[m * ld + k], m < M; rows
 * M..Mpad and pairs past K are zero */
KBF_TARGET static void pk_rows(uint32_t *dst, size_t dld, const float *x, size_t ld, int M, int Mpad, int K)
{
    for (int m = 0; m < Mpad; m++) {
        uint32_t *d = dst + (size_t)m * dld;
        if (m >= M) { memset(d, 0, dld * sizeof *d); continue; }
        const float *row = x + (size_t)m * ld;
        for (size_t p = 0; p < dld; p += 16) {
            int k = (int)(2 * p);
            __m512 lo = _mm512_maskz_loadu_ps(mask16(K - k), row + k);
            __m512 hi = _mm512_maskz_loadu_ps(mask16(K - k - 16), row + k + 16);
            _mm512_mask_storeu_epi32(d + p, mask16((int)(dld - p)), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

/* cols: dst[p][n] (stride dld, a multiple of 16 >= N) from x[k * ld + n],
 * p < (K+1)/2; columns past N are zero */
KBF_TARGET static void pk_cols(uint32_t *dst, size_t dld, const float *x, size_t ld, int K, int N)
{
    for (int p = 0; p < (K + 1) / 2; p++) {
        const float *r0 = x + (size_t)(2 * p) * ld;
        int has1 = 2 * p + 1 < K;
        for (size_t n = 0; n < dld; n += 16) {
            __mmask16 mk = mask16(N - (int)n);
            __m512 lo = _mm512_maskz_loadu_ps(mk, r0 + n);
            __m512 hi = has1 ? _mm512_maskz_loadu_ps(mk, r0 + ld + n) : _mm512_setzero_ps();
            _mm512_storeu_si512(dst + (size_t)p * dld + n, pairs16(lo, hi));
        }
    }
}

/* tcols: dst[p][n] (stride dld, multiple of 16 >= N) = (x[n][2p], x[n][2p+1])
 * from x[n * ld + k], k < K; columns past N are zero */
/* r[16] rows of 16 uint32 -> r[i] = column i (unpack 32, unpack 64, two
 * 128-bit lane shuffles) */
KBF_TARGET static inline void tr16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(u[i], u[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_i32x4(u[i], u[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_i32x4(u[i + 8], u[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(u[i + 8], u[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

KBF_TARGET static void pk_tcols(uint32_t *dst, size_t dld, const float *x, size_t ld, int N, int K)
{
    int kp = (K + 1) / 2;
    size_t n16 = up_to((size_t)N, 16);
    for (int p = 0; p < kp; p++) memset(dst + (size_t)p * dld + n16, 0, (dld - n16) * sizeof *dst);
    /* 16 rows at a time: their 16 pairs of a 32-wide K slice, transposed */
    for (int n0 = 0; n0 < N; n0 += 16)
        for (int k = 0; k < K; k += 32) {
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                if (n0 + i >= N) { r[i] = _mm512_setzero_si512(); continue; }
                const float *row = x + (size_t)(n0 + i) * ld + k;
                __m512 lo = _mm512_maskz_loadu_ps(mask16(K - k), row);
                __m512 hi = _mm512_maskz_loadu_ps(mask16(K - k - 16), row + 16);
                r[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            }
            tr16(r);
            int np = kp - k / 2 < 16 ? kp - k / 2 : 16;
            for (int q = 0; q < np; q++) _mm512_storeu_si512(dst + (size_t)(k / 2 + q) * dld + n0, r[q]);
        }
}

typedef struct {
    float *out, *att, *dqkv;
    const float *qkv, *dout, *patt;
    const int *lens;
    int B, T, C, NH;
    int failed;
} katt_ctx;

/* the per-thread scratch: floats and pairs for every operand of one head */
typedef struct {
    int T8, T32, hp, hs32, tp;   /* tp = pairs of T (rounded up), + 1 */
    uint32_t *qa, *kt, *pa, *vb, *pt, *dob, *doa, *dsa, *dst, *kb;
    float *s, *dp;
    void *mem;
} katt_scratch;

static int katt_scratch_new(katt_scratch *w, int T, int hs)
{
    w->T8 = (int)up_to((size_t)T, AT_RM);
    w->T32 = (int)up_to((size_t)T, AT_NC);
    w->hp = (int)up_to((size_t)(hs + 1) / 2, 16);
    w->hs32 = (int)up_to((size_t)hs, AT_NC);
    w->tp = (T + 1) / 2 + 1;
    size_t nrow = (size_t)w->T8 * w->hp, ntc = (size_t)w->hp * w->T32, nsq = (size_t)w->T32 * w->T32,
           npa = (size_t)w->T8 * (w->T32 / 2), nhb = (size_t)w->tp * w->hs32, nsqp = (size_t)w->tp * w->T32;
    size_t sizes[12] = { nrow, ntc, npa, nhb, nsqp, nhb, nrow, npa, nsqp, nhb, nsq, nsq };
    size_t total = 0;
    for (int i = 0; i < 12; i++) total += up_to(sizes[i], 16);
    if (posix_memalign(&w->mem, 64, total * 4)) return -1;
    uint32_t *p = w->mem;
    uint32_t **ptrs[10] = { &w->qa, &w->kt, &w->pa, &w->vb, &w->pt, &w->dob, &w->doa, &w->dsa, &w->dst, &w->kb };
    for (int i = 0; i < 10; i++) { *ptrs[i] = p; p += up_to(sizes[i], 16); }
    w->s = (float *)p;
    p += up_to(sizes[10], 16);
    w->dp = (float *)p;
    return 0;
}

static int clamp_len(int len, int T) { return len > T ? T : len < 0 ? 0 : len; }

KBF_TARGET static void katt_fwd_one(katt_ctx *c, katt_scratch *w, int b, int h)
{
    int T = c->T, C = c->C, NH = c->NH, hs = C / NH, C3 = 3 * C;
    int L = clamp_len(c->lens[b], T), L8 = (int)up_to((size_t)L, AT_RM);
    const float *Q = c->qkv + (size_t)b * T * C3 + h * hs, *K = Q + C, *V = Q + 2 * C;
    float *O = c->out + (size_t)b * T * C + h * hs;
    float *att = c->att ? c->att + ((size_t)b * NH + h) * T * T : NULL;
    float scale = 1.0f / sqrtf((float)hs);
    size_t pld = (size_t)w->T32 / 2;
    if (L > 0) {
        pk_rows(w->qa, (size_t)w->hp, Q, (size_t)C3, L, L8, hs);
        pk_tcols(w->kt, (size_t)w->T32, K, (size_t)C3, L, hs);
        att_mm(w->s, (size_t)w->T32, w->qa, (size_t)w->hp, 1, w->kt, (size_t)w->T32, L, L, (hs + 1) / 2, 0, scale);
        for (int i = 0; i < L; i++) {   /* softmax over the L valid keys, 16 at a time */
            float *s = w->s + (size_t)i * w->T32;
            __m512 vmax = _mm512_set1_ps(-INFINITY), vsum = _mm512_setzero_ps();
            for (int j = 0; j < L; j += 16)
                vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, mask16(L - j), s + j));
            __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
            for (int j = 0; j < L; j += 16) {
                __mmask16 mk = mask16(L - j);
                __m512 e = _mm512_maskz_mov_ps(mk, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, s + j), mx)));
                vsum = _mm512_add_ps(vsum, e);
                _mm512_mask_storeu_ps(s + j, mk, e);
            }
            __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
            for (int j = 0; j < L; j += 16) {
                __mmask16 mk = mask16(L - j);
                _mm512_mask_storeu_ps(s + j, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, s + j), inv));
            }
            if (att) {
                memcpy(att + (size_t)i * T, s, (size_t)L * sizeof *s);
                memset(att + (size_t)i * T + L, 0, (size_t)(T - L) * sizeof *s);
            }
        }
        pk_rows(w->pa, pld, w->s, (size_t)w->T32, L, L8, L);
        pk_cols(w->vb, (size_t)w->hs32, V, (size_t)C3, L, hs);
        att_mm(O, (size_t)C, w->pa, pld, 1, w->vb, (size_t)w->hs32, L, hs, (L + 1) / 2, 0, 1.0f);
    }
    for (int i = L; i < T; i++) {
        memset(O + (size_t)i * C, 0, (size_t)hs * sizeof *O);
        if (att) memset(att + (size_t)i * T, 0, (size_t)T * sizeof *att);
    }
}

KBF_TARGET static void katt_bwd_one(katt_ctx *c, katt_scratch *w, int b, int h)
{
    int T = c->T, C = c->C, NH = c->NH, hs = C / NH, C3 = 3 * C;
    int L = clamp_len(c->lens[b], T), L8 = (int)up_to((size_t)L, AT_RM), lp = (L + 1) / 2;
    if (L == 0) return;
    const float *P = c->patt + ((size_t)b * NH + h) * T * T;
    const float *dO = c->dout + (size_t)b * T * C + h * hs;
    const float *Q = c->qkv + (size_t)b * T * C3 + h * hs, *K = Q + C, *V = Q + 2 * C;
    float *dQ = c->dqkv + (size_t)b * T * C3 + h * hs, *dK = dQ + C, *dV = dQ + 2 * C;
    float scale = 1.0f / sqrtf((float)hs);
    size_t T32 = (size_t)w->T32, hs32 = (size_t)w->hs32, hp = (size_t)w->hp;
    /* dV += P^T dO */
    pk_cols(w->pt, T32, P, (size_t)T, L, L);
    pk_cols(w->dob, hs32, dO, (size_t)C, L, hs);
    att_mm(dV, (size_t)C3, w->pt, 1, T32, w->dob, hs32, L, hs, lp, 1, 1.0f);
    /* dP = dO V^T */
    pk_rows(w->doa, hp, dO, (size_t)C, L, L8, hs);
    pk_tcols(w->kt, T32, V, (size_t)C3, L, hs);
    att_mm(w->dp, T32, w->doa, hp, 1, w->kt, T32, L, L, (hs + 1) / 2, 0, 1.0f);
    /* dS = P (dP - rowsum(P dP)) scale, in place of dP */
    for (int i = 0; i < L; i++) {
        const float *a = P + (size_t)i * T;
        float *d = w->dp + (size_t)i * T32;
        float dot = 0;
        for (int j = 0; j < L; j++) dot += a[j] * d[j];
        for (int j = 0; j < L; j++) d[j] = a[j] * (d[j] - dot) * scale;
    }
    /* dQ += dS K;  dK += dS^T Q */
    pk_rows(w->dsa, T32 / 2, w->dp, T32, L, L8, L);
    pk_cols(w->kb, hs32, K, (size_t)C3, L, hs);
    att_mm(dQ, (size_t)C3, w->dsa, T32 / 2, 1, w->kb, hs32, L, hs, lp, 1, 1.0f);
    pk_cols(w->dst, T32, w->dp, T32, L, L);
    pk_cols(w->kb, hs32, Q, (size_t)C3, L, hs);
    att_mm(dK, (size_t)C3, w->dst, 1, T32, w->kb, hs32, L, hs, lp, 1, 1.0f);
}

static void katt_part(void *p, size_t lo, size_t hi, int part, int backward)
{
    (void)part;
    katt_ctx *c = p;
    katt_scratch w;
    if (katt_scratch_new(&w, c->T, c->C / c->NH)) { c->failed = 1; return; }
    for (size_t x = lo; x < hi; x++) {
        int b = (int)(x / (size_t)c->NH), h = (int)(x % (size_t)c->NH);
        if (backward) katt_bwd_one(c, &w, b, h);
        else katt_fwd_one(c, &w, b, h);
    }
    free(w.mem);
}
static void katt_fwd_part(void *p, size_t lo, size_t hi, int part) { katt_part(p, lo, hi, part, 0); }
static void katt_bwd_part(void *p, size_t lo, size_t hi, int part) { katt_part(p, lo, hi, part, 1); }
#endif

int kbf_attention_forward(float *out, float *att, const float *qkv, const int *lens, int B, int T, int C, int NH)
{
#ifdef KBF_X86
    if (!kbf_cpu_ok()) return -1;
    if (B <= 0 || T <= 0) return 0;
    katt_ctx c = { .out = out, .att = att, .qkv = qkv, .lens = lens, .B = B, .T = T, .C = C, .NH = NH };
    int nt = kern_threads();
    size_t n = (size_t)B * NH;
    sy_par_for(n, sy_par_parts(n, nt < 16 ? nt : 16, 4.0 * T * T * (C / NH)), katt_fwd_part, &c);
    return c.failed ? -1 : 0;
#else
    (void)out; (void)att; (void)qkv; (void)lens; (void)B; (void)T; (void)C; (void)NH;
    return -1;
#endif
}

int kbf_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const int *lens, int B, int T, int C, int NH)
{
#ifdef KBF_X86
    if (!kbf_cpu_ok()) return -1;
    if (B <= 0 || T <= 0) return 0;
    katt_ctx c = { .dqkv = dqkv, .dout = dout, .qkv = qkv, .patt = att, .lens = lens, .B = B, .T = T, .C = C, .NH = NH };
    int nt = kern_threads();
    size_t n = (size_t)B * NH;
    sy_par_for(n, sy_par_parts(n, nt < 16 ? nt : 16, 8.0 * T * T * (C / NH)), katt_bwd_part, &c);
    return c.failed ? -1 : 0;
#else
    (void)dqkv; (void)dout; (void)qkv; (void)att; (void)lens; (void)B; (void)T; (void)C; (void)NH;
    return -1;
#endif
}

/* ---- the naive twins: the same roundings (bf16 operands of every product,
 * P rounded where it enters P V), sums in double ---- */

static double bfd(float x) { return (double)kbf_to_float(kbf_round(x)); }

int kbf_attention_forward_naive(float *out, float *att, const float *qkv, const int *lens, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    double *p = malloc((size_t)(T > 0 ? T : 1) * sizeof *p);
    if (!p) return -1;
    double scale = 1.0 / sqrt((double)(float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                int L = clamp_len(lens[b], T);
                float *o = out + ((size_t)b * T + i) * C + h * hs;
                float *a = att ? att + (((size_t)b * NH + h) * T + i) * T : NULL;
                if (i >= L) {
                    for (int d = 0; d < hs; d++) o[d] = 0;
                    if (a) for (int j = 0; j < T; j++) a[j] = 0;
                    continue;
                }
                const float *q = qkv + ((size_t)b * T + i) * C3 + h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < L; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * C3 + C + h * hs;
                    double s = 0;
                    for (int d = 0; d < hs; d++) s += bfd(q[d]) * bfd(k[d]);
                    p[j] = s * scale;
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < L; j++) { p[j] = exp(p[j] - mx); sum += p[j]; }
                for (int j = 0; j < L; j++) p[j] /= sum;
                if (a) for (int j = 0; j < T; j++) a[j] = j < L ? (float)p[j] : 0.0f;
                for (int d = 0; d < hs; d++) {
                    double s = 0;
                    for (int j = 0; j < L; j++) s += bfd((float)p[j]) * bfd(qkv[((size_t)b * T + j) * C3 + 2 * C + h * hs + d]);
                    o[d] = (float)s;
                }
            }
    free(p);
    return 0;
}

int kbf_attention_backward_naive(float *dqkv, const float *dout, const float *qkv, const float *att,
                                 const int *lens, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    double scale = 1.0f / sqrtf((float)hs);
    double *ds = malloc((size_t)(T > 0 ? T : 1) * T * sizeof *ds);
    if (!ds) return -1;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int L = clamp_len(lens[b], T);
            const float *A = att + ((size_t)b * NH + h) * T * T;
#define Qx(i, d) qkv[((size_t)b * T + (i)) * C3 + h * hs + (d)]
#define Kx(i, d) qkv[((size_t)b * T + (i)) * C3 + C + h * hs + (d)]
#define Vx(i, d) qkv[((size_t)b * T + (i)) * C3 + 2 * C + h * hs + (d)]
#define dOx(i, d) dout[((size_t)b * T + (i)) * C + h * hs + (d)]
#define dQKV(i, d, part) dqkv[((size_t)b * T + (i)) * C3 + (part) * C + h * hs + (d)]
            for (int j = 0; j < L; j++)          /* dV = P^T dO */
                for (int d = 0; d < hs; d++) {
                    double s = 0;
                    for (int i = 0; i < L; i++) s += bfd(A[(size_t)i * T + j]) * bfd(dOx(i, d));
                    dQKV(j, d, 2) += (float)s;
                }
            for (int i = 0; i < L; i++) {        /* dP = dO V^T (rounded to float as the kernel's), dS */
                double dot = 0;
                for (int j = 0; j < L; j++) {
                    double s = 0;
                    for (int d = 0; d < hs; d++) s += bfd(dOx(i, d)) * bfd(Vx(j, d));
                    ds[(size_t)i * T + j] = (float)s;
                    dot += A[(size_t)i * T + j] * ds[(size_t)i * T + j];
                }
                for (int j = 0; j < L; j++) ds[(size_t)i * T + j] = (float)(A[(size_t)i * T + j] * (ds[(size_t)i * T + j] - dot) * scale);
            }
            for (int i = 0; i < L; i++)          /* dQ = dS K, dK = dS^T Q */
                for (int d = 0; d < hs; d++) {
                    double sq = 0, sk = 0;
                    for (int j = 0; j < L; j++) {
                        sq += bfd((float)ds[(size_t)i * T + j]) * bfd(Kx(j, d));
                        sk += bfd((float)ds[(size_t)j * T + i]) * bfd(Qx(j, d));
                    }
                    dQKV(i, d, 0) += (float)sq;
                    dQKV(i, d, 1) += (float)sk;
                }
#undef Qx
#undef Kx
#undef Vx
#undef dOx
#undef dQKV
        }
    free(ds);
    return 0;
}
