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
 *     walks KC = 128 pairs of K: the 48 x 256 B slice it reuses (24 KB) stays
 *     in L1 while the MC / 8 row groups pass over it.
 * Every output element is a float32 sum over K in increasing pairs, whatever
 * the thread count or block, so results are reproducible. */
#pragma GCC optimize("O3")
#include "kernels_bf16.h"

#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_math.h"
#include "parfor.h"

#define NR 48
#define MR 8
#define KCP 128
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
        convert_a(c, s, m0, mc);
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
                        ukr_group(s + ((size_t)(g / MR) * kp2 + kc) * MR, bp, nk, cp, (size_t)c->ldo, rows, cols, mode, bias);
                    else
                        ukr_rows(s + (size_t)g * kp2 + kc, (size_t)kp2, bp, nk, cp, (size_t)c->ldo, rows, cols, mode, bias);
                }
            }
        }
    }
    free(s);
}
#endif

int kbf_gemm(float *out, int ldo, const float *a, int lda, int a_trans, const kbf_mat *b,
             const float *bias, int M, int accumulate)
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
    gemm_ctx c = { out, ldo, a, lda, a_trans, b, bias, M, accumulate, mc, 0 };
    sy_par_for(nb, sy_par_parts(nb, nt, 2.0 * mc * N * b->K), gemm_part, &c);
    return c.failed ? -1 : 0;
#else
    (void)out; (void)ldo; (void)a; (void)lda; (void)a_trans; (void)b; (void)bias; (void)M; (void)accumulate;
    return -1;
#endif
}

int kbf_matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int C, int OC, kbf_mat **scratch)
{
    if (!kbf_cpu_ok()) return -1;
    if (N <= 0) return 0;
    /* dinp[N,C] += dout[N,OC] @ w[OC,C]: B = w as [K=OC][N=C] */
    if (dinp && (kbf_pack(scratch, w, C, 1, C, OC) || kbf_gemm(dinp, C, dout, OC, 0, *scratch, NULL, N, 1)))
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
