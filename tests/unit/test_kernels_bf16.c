/* test_kernels_bf16: the bf16 product against its naive twin (same bf16
 * rounding of both operands, sums in double) on odd shapes -- M, N, K not
 * multiples of the 8 x 48 tile, of the 256-pair K block or of 2 -- in all
 * operand layouts, with bias and accumulation; the rounding itself; and how
 * far bf16 products are from fp32 ones (the tolerance bf16 allows).
 *
 * Where the CPU lacks avx512_bf16 the fast-kernel groups are skipped with
 * that reason (the portable fp32 path is what runs there; test_kernels and
 * test_encoder test it) and kbf_gemm must refuse. */
#include <stdint.h>

#include "../check.h"
#include "kernels.h"
#include "kernels_bwd.h"
#include "kernels_bf16.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n, float scale)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}

TEST(rounding)
{
    CHECK_EQ_INT(kbf_round(1.0f), 0x3f80);
    CHECK_EQ_INT(kbf_round(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0) */
    CHECK_EQ_INT(kbf_round(1.0f + 1.0f / 256), 0x3f80);
    /* 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up */
    CHECK_EQ_INT(kbf_round(1.0f + 3.0f / 256), 0x3f82);
    CHECK_EQ_INT(kbf_round(1.0f + 1.0f / 256 + 1.0f / 65536), 0x3f81);   /* above half: up */
    CHECK(kbf_to_float(kbf_round(3.14159265f)) == 3.140625f, "pi %g", kbf_to_float(kbf_round(3.14159265f)));
    CHECK(kbf_to_float(kbf_round(1e-40f)) == 0.0f, "denormals are zero, as vcvtneps2bf16");
    float nan = NAN;
    CHECK(isnan(kbf_to_float(kbf_round(nan))), "NaN stays NaN");
    CHECK(isinf(kbf_to_float(kbf_round(INFINITY))), "inf stays inf");
    /* 8 significant bits: relative rounding error at most 2^-8 */
    double worst = 0;
    for (int i = 0; i < 100000; i++) {
        float x = frand() * 1000.0f;
        if (x == 0) continue;
        double e = fabs((double)kbf_to_float(kbf_round(x)) - x) / fabs(x);
        if (e > worst) worst = e;
    }
    CHECK(worst <= 1.0 / 256 && worst > 1.0 / 512, "worst relative rounding error %g", worst);
}

/* |fast - naive| <= tol * sum_k |a_k b_k| per element, over all elements */
static double rel_err(const float *o1, const float *o2, const float *a, int lda, int at, const float *w,
                      int ldw, int wt, int M, int N, int K, int ldo)
{
    double worst = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 1e-30;
            for (int k = 0; k < K; k++) {
                float x = at ? a[(size_t)k * lda + m] : a[(size_t)m * lda + k];
                float y = wt ? w[(size_t)k * ldw + n] : w[(size_t)n * ldw + k];
                s += fabs((double)x * y);
            }
            double d = fabs((double)o1[(size_t)m * ldo + n] - o2[(size_t)m * ldo + n]) / (s + 1.0);
            if (d > worst || d != d) worst = d != d ? INFINITY : d;
        }
    return worst;
}

TEST(gemm_vs_naive)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (the fp32 kernels are tested instead)"); return; }
    /* M, N, K: tails on every axis; K > 512 crosses a K block; K odd pads a pair */
    int shapes[][3] = { { 1, 1, 1 }, { 7, 5, 3 }, { 8, 48, 2 }, { 9, 49, 257 }, { 65, 97, 33 },
                        { 130, 47, 384 }, { 3, 200, 301 }, { 200, 96, 64 }, { 19, 50, 1101 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int at = 0; at < 2; at++)
            for (int wt = 0; wt < 2; wt++)
                for (int mode = 0; mode < 3; mode++) {   /* 0 plain, 1 bias, 2 bias + accumulate */
                    int lda = (at ? M : K) + 3, ldw = (wt ? N : K) + 5, ldo = N + 2;
                    float *a = rnd((size_t)(at ? K : M) * lda, 1.0f);
                    float *w = rnd((size_t)(wt ? K : N) * ldw, 0.5f);
                    float *bias = rnd((size_t)N, 1.0f);
                    float *o1 = rnd((size_t)M * ldo, 1.0f), *o2 = malloc((size_t)M * ldo * sizeof *o2);
                    memcpy(o2, o1, (size_t)M * ldo * sizeof *o2);
                    kbf_mat *b = NULL;
                    CHECK(kbf_pack(&b, w, ldw, wt, N, K) == 0, "pack");
                    CHECK(kbf_mat_n(b) == N && kbf_mat_k(b) == K, "shape");
                    int rc = kbf_gemm(o1, ldo, a, lda, at, b, mode ? bias : NULL, M, mode == 2);
                    kbf_gemm_naive(o2, ldo, a, lda, at, w, ldw, wt, mode ? bias : NULL, M, N, K, mode == 2);
                    CHECK(rc == 0, "gemm rc");
                    double e = rel_err(o1, o2, a, lda, at, w, ldw, wt, M, N, K, ldo);
                    CHECK(e < 2e-6, "M %d N %d K %d a_trans %d w_trans %d mode %d: err %g", M, N, K, at, wt, mode, e);
                    /* the padding columns of out (ldo > N) are never written */
                    int untouched = 1;
                    for (int m = 0; m < M; m++)
                        if (o1[(size_t)m * ldo + N] != o2[(size_t)m * ldo + N]) untouched = 0;
                    CHECK(untouched, "wrote past N (M %d N %d K %d)", M, N, K);
                    kbf_mat_free(b);
                    free(a); free(w); free(bias); free(o1); free(o2);
                }
    }
}

TEST(repack_and_threads)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (the fp32 kernels are tested instead)"); return; }
    /* a packed matrix is reused for a smaller shape, then a larger one; and the
     * result is the same bits whatever the thread count */
    int M = 333, N = 150, K = 190;
    float *a = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 1);
    float *o1 = malloc((size_t)M * N * 4), *o2 = malloc((size_t)M * N * 4);
    kbf_mat *b = NULL;
    CHECK(kbf_pack(&b, w, K, 0, 20, 30) == 0, "small pack");
    CHECK(kbf_pack(&b, w, K, 0, N, K) == 0, "repack bigger");
    int old = kern_threads();
    kern_set_threads(1);
    kbf_gemm(o1, N, a, K, 0, b, NULL, M, 0);
    kern_set_threads(2);
    kbf_gemm(o2, N, a, K, 0, b, NULL, M, 0);
    kern_set_threads(old);
    CHECK(memcmp(o1, o2, (size_t)M * N * 4) == 0, "1 and 2 threads differ");
    kbf_mat_free(b);
    kbf_mat_free(NULL);
    free(a); free(w); free(o1); free(o2);
}

/* How far a bf16 product is from the fp32 one: the error bf16 allows.
 * Inputs rounded to 8 significant bits carry a relative error up to 2^-8
 * (about uniform, rms 2^-8 / sqrt(3)) each, so every product a*b is off by
 * rms ~2^-8 * sqrt(2/3) ~ 3.2e-3 relative; for K random-sign terms these
 * errors add like the terms themselves (both grow as sqrt(K)), so the
 * relative error of an output does not grow with K: expected ~2-3e-3 rms
 * (the fp32 accumulation adds only ~1e-7).  We check the rms relative error
 * stays below 4e-3 and the cosine between bf16 and fp32 output rows above
 * 0.9999 (measured: 2.2e-3 and 0.999997 at K 1536). */
TEST(gemm_vs_fp32)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (the fp32 kernels are tested instead)"); return; }
    int M = 128, N = 384, K = 1536;
    float *a = rnd((size_t)M * K, 1), *w = rnd((size_t)N * K, 0.05f);
    float *o1 = malloc((size_t)M * N * 4), *o2 = malloc((size_t)M * N * 4);
    kbf_mat *b = NULL;
    kbf_pack(&b, w, K, 0, N, K);
    kbf_gemm(o1, N, a, K, 0, b, NULL, M, 0);
    matmul_forward(o2, a, w, NULL, M, K, N);
    double num = 0, den = 0, worst_cos = 1;
    for (int m = 0; m < M; m++) {
        double d12 = 0, d11 = 0, d22 = 0;
        for (int n = 0; n < N; n++) {
            double x = o1[(size_t)m * N + n], y = o2[(size_t)m * N + n];
            num += (x - y) * (x - y);
            den += y * y;
            d12 += x * y; d11 += x * x; d22 += y * y;
        }
        double c = d12 / sqrt(d11 * d22);
        if (c < worst_cos) worst_cos = c;
    }
    double rms = sqrt(num / den);
    printf("# bf16 vs fp32 product, K %d: rms relative error %.2e, worst row cosine %.7f\n", K, rms, worst_cos);
    CHECK(rms < 4e-3 && rms > 1e-4, "rms relative error %g (bf16 should be ~1e-3, not exact)", rms);
    CHECK(worst_cos > 0.9999, "worst cosine %g", worst_cos);
    kbf_mat_free(b);
    free(a); free(w); free(o1); free(o2);
}

/* kbf_matmul_backward against the naive twin composed the same way (same
 * bf16 operands: agreement to float32 summation order) and against the fp32
 * matmul_backward (agreement to the bf16 tolerance); odd N, C, OC. */
TEST(matmul_backward)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (the fp32 kernels are tested instead)"); return; }
    int shapes[][3] = { { 5, 3, 7 }, { 131, 67, 50 }, { 300, 96, 49 } };
    kbf_mat *scratch = NULL;
    for (size_t s = 0; s < 3; s++) {
        int N = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
        float *dout = rnd((size_t)N * OC, 1), *inp = rnd((size_t)N * C, 1), *w = rnd((size_t)OC * C, 0.5f);
        float *dx1 = rnd((size_t)N * C, 1), *dw1 = rnd((size_t)OC * C, 1), *db1 = rnd((size_t)OC, 1);
        float *dx2 = malloc((size_t)N * C * 4), *dw2 = malloc((size_t)OC * C * 4), *db2 = malloc((size_t)OC * 4);
        float *dx3 = malloc((size_t)N * C * 4), *dw3 = malloc((size_t)OC * C * 4), *db3 = malloc((size_t)OC * 4);
        memcpy(dx2, dx1, (size_t)N * C * 4); memcpy(dw2, dw1, (size_t)OC * C * 4); memcpy(db2, db1, (size_t)OC * 4);
        memcpy(dx3, dx1, (size_t)N * C * 4); memcpy(dw3, dw1, (size_t)OC * C * 4); memcpy(db3, db1, (size_t)OC * 4);
        CHECK(kbf_matmul_backward(dx1, dw1, db1, dout, inp, w, N, C, OC, &scratch, 1) == 0, "rc");
        /* naive: dinp += dout @ w (w as [K=OC][N=C]); dw += dout^T @ inp */
        kbf_gemm_naive(dx2, C, dout, OC, 0, w, C, 1, NULL, N, C, OC, 1);
        kbf_gemm_naive(dw2, C, dout, OC, 1, inp, C, 1, NULL, OC, C, N, 1);
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) db2[o] += dout[(size_t)n * OC + o];
        matmul_backward(dx3, dw3, db3, dout, inp, w, N, C, OC);
        double ex = 0, ew = 0, eb = 0, rx = 0, rw = 0;
        for (size_t i = 0; i < (size_t)N * C; i++) {
            ex = fmax(ex, fabs(dx1[i] - dx2[i]) / (1 + fabs(dx2[i])));
            rx = fmax(rx, fabs(dx1[i] - dx3[i]) / (1 + fabs(dx3[i])));
        }
        for (size_t i = 0; i < (size_t)OC * C; i++) {
            ew = fmax(ew, fabs(dw1[i] - dw2[i]) / (1 + fabs(dw2[i])));
            rw = fmax(rw, fabs(dw1[i] - dw3[i]) / (1 + fabs(dw3[i])));
        }
        for (int o = 0; o < OC; o++) eb = fmax(eb, fabs(db1[o] - db3[o]));
        CHECK(ex < 1e-5 && ew < 1e-5, "N %d C %d OC %d vs naive: dinp %g dw %g", N, C, OC, ex, ew);
        CHECK(eb < 1e-4, "db is float32 sums: %g", eb);
        CHECK(rx < 0.05 && rw < 0.05 && (rx > 0 || rw > 0), "vs fp32: dinp %g dw %g", rx, rw);
        CHECK(kbf_matmul_backward(NULL, dw1, NULL, dout, inp, w, N, C, OC, &scratch, 1) == 0, "no dinp, no db");
        /* dinp_acc 0 overwrites: the product alone, the same bits as += onto zeros */
        float *dx4 = rnd((size_t)N * C, 1), *dx5 = calloc((size_t)N * C, 4), *dw4 = calloc((size_t)OC * C, 4);
        CHECK(kbf_matmul_backward(dx4, dw4, NULL, dout, inp, w, N, C, OC, &scratch, 0) == 0, "rc");
        CHECK(kbf_matmul_backward(dx5, dw4, NULL, dout, inp, w, N, C, OC, &scratch, 1) == 0, "rc");
        CHECK(!memcmp(dx4, dx5, (size_t)N * C * 4), "dinp_acc 0: dinp = dout @ w, whatever it held");
        free(dx4); free(dx5); free(dw4);
        free(dout); free(inp); free(w); free(dx1); free(dw1); free(db1); free(dx2); free(dw2); free(db2);
        free(dx3); free(dw3); free(db3);
    }
    kbf_mat_free(scratch);
}

/* bf16 attention, forward and backward, against the naive twins (same bf16
 * operands: agreement to float32 summation order and the float exp; a P or
 * dS that rounds to the other bf16 neighbour moves one term by 2^-8, so the
 * check is relative to the row's scale) and against the fp32 kernels (the
 * bf16 tolerance).  Odd T, lengths 0, 1 and T, head sizes 5, 32 and 33,
 * 1 and 2 threads (same bits). */
static double max_rel(const float *x, const float *y, size_t n)
{
    double e = 0, m = 1e-30;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(y[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - y[i]);
        if (d != d) return INFINITY;
        e = fmax(e, d);
    }
    return e / m;
}

TEST(attention)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (the fp32 kernels are tested instead)"); return; }
    /* B, T, C, NH, and lens */
    struct { int B, T, C, NH; int lens[3]; } sh[] = {
        { 1, 1, 32, 1, { 1 } }, { 2, 7, 15, 3, { 7, 3 } }, { 3, 37, 64, 2, { 37, 0, 20 } },
        { 2, 50, 66, 2, { 1, 49 } }, { 2, 128, 96, 3, { 128, 77 } },
    };
    int had = kern_threads();
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int B = sh[s].B, T = sh[s].T, C = sh[s].C, NH = sh[s].NH;
        const int *lens = sh[s].lens;
        size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
        float *qkv = rnd(nq, 2), *dout = rnd(no, 1);
        float *o1 = rnd(no, 1), *o2 = rnd(no, 1), *o3 = rnd(no, 1), *a1 = rnd(na, 1), *a2 = rnd(na, 1), *a3 = rnd(na, 1);
        CHECK(kbf_attention_forward(o1, a1, qkv, lens, B, T, C, NH) == 0, "forward rc");
        CHECK(kbf_attention_forward_naive(o2, a2, qkv, lens, B, T, C, NH) == 0, "naive rc");
        CHECK(attention_forward(o3, a3, qkv, lens, B, T, C, NH) == 0, "fp32 rc");
        double eo = max_rel(o1, o2, no), ea = max_rel(a1, a2, na), fo = max_rel(o1, o3, no), fa = max_rel(a1, a3, na);
        CHECK(eo < 5e-4 && ea < 1e-5, "B %d T %d C %d NH %d vs naive: out %g att %g", B, T, C, NH, eo, ea);
        CHECK(fo < 0.03 && fa < 0.03 && fo > 0, "vs fp32: out %g att %g", fo, fa);
        /* rows past a length are zero, in out and att */
        for (int b = 0; b < B; b++)
            for (int t = lens[b]; t < T; t++) {
                int z = 1;
                for (int c = 0; c < C; c++) z &= o1[((size_t)b * T + t) * C + c] == 0;
                CHECK(z, "row %d of sequence %d (length %d) is zero", t, b, lens[b]);
            }
        /* inference: att NULL gives the same output; 1 thread the same bits */
        kern_set_threads(1);
        float *o4 = rnd(no, 1);
        CHECK(kbf_attention_forward(o4, NULL, qkv, lens, B, T, C, NH) == 0, "rc");
        CHECK(!memcmp(o4, o1, no * sizeof *o1), "1 thread, no att: same bits");
        kern_set_threads(had);
        /* backward: accumulates into a random dqkv */
        float *g1 = rnd(nq, 1), *g2 = malloc(nq * 4), *g3 = malloc(nq * 4), *g4 = malloc(nq * 4);
        memcpy(g2, g1, nq * 4); memcpy(g3, g1, nq * 4); memcpy(g4, g1, nq * 4);
        CHECK(kbf_attention_backward(g1, dout, qkv, a1, lens, B, T, C, NH) == 0, "backward rc");
        CHECK(kbf_attention_backward_naive(g2, dout, qkv, a1, lens, B, T, C, NH) == 0, "naive rc");
        CHECK(attention_backward(g3, dout, qkv, a1, lens, B, T, C, NH) == 0, "fp32 rc");
        double eg = max_rel(g1, g2, nq), fg = max_rel(g1, g3, nq);
        CHECK(eg < 5e-4, "backward vs naive %g", eg);
        CHECK(fg < 0.03 && fg > 0, "backward vs fp32 %g", fg);
        kern_set_threads(1);
        CHECK(kbf_attention_backward(g4, dout, qkv, a1, lens, B, T, C, NH) == 0, "rc");
        CHECK(!memcmp(g4, g1, nq * sizeof *g1), "backward, 1 thread: same bits");
        kern_set_threads(had);
        printf("# attention B %d T %d C %d NH %d: vs naive out %.1e att %.1e grad %.1e; vs fp32 out %.1e grad %.1e\n",
               B, T, C, NH, eo, ea, eg, fo, fg);
        free(qkv); free(dout); free(o1); free(o2); free(o3); free(o4); free(a1); free(a2); free(a3);
        free(g1); free(g2); free(g3); free(g4);
    }
}

/* kbf_gelu_pairs is kbf_round(gelu_forward(x)) exactly, and kbf_gemm_pairs
 * on those pairs equals kbf_gemm on the float GELU, bit for bit (M not a
 * multiple of the 8-row group, odd K) */
TEST(gelu_pairs)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (the fp32 kernels are tested instead)"); return; }
    int shapes[][3] = { { 1, 1, 1 }, { 7, 33, 5 }, { 64, 64, 48 }, { 70, 97, 50 }, { 131, 1536, 40 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], K = shapes[s][1], N = shapes[s][2], kp = (K + 1) / 2;
        float *x = rnd((size_t)M * K, 4), *g = malloc((size_t)M * K * 4), *w = rnd((size_t)N * K, 0.5f), *bias = rnd((size_t)N, 1);
        uint32_t *p2 = malloc((size_t)M * kp * 4);
        gelu_forward(g, x, (size_t)M * K);
        CHECK(kbf_gelu_pairs(p2, x, (size_t)M, K) == 0, "rc");
        int same = 1;
        for (int m = 0; m < M; m++)
            for (int k = 0; k < 2 * kp; k++) {
                uint16_t want = k < K ? kbf_round(g[(size_t)m * K + k]) : 0;
                uint16_t got = (uint16_t)(p2[(size_t)m * kp + k / 2] >> (k % 2 ? 16 : 0));
                same &= want == got;
            }
        CHECK(same, "M %d K %d: pairs are the rounded gelu_forward", M, K);
        kbf_mat *b = NULL;
        CHECK(kbf_pack(&b, w, K, 0, N, K) == 0, "pack");
        float *o1 = malloc((size_t)M * N * 4), *o2 = malloc((size_t)M * N * 4);
        CHECK(kbf_gemm(o1, N, g, K, 0, b, bias, M, 0) == 0 && kbf_gemm_pairs(o2, N, p2, b, bias, M, 0) == 0, "rc");
        CHECK(!memcmp(o1, o2, (size_t)M * N * 4), "M %d K %d N %d: kbf_gemm_pairs = kbf_gemm", M, K, N);
        free(x); free(g); free(w); free(bias); free(p2); free(o1); free(o2);
        kbf_mat_free(b);
    }
}

TEST(refused_without_cpu)
{
    /* on this CPU or not: SYNEG_NO_BF16 makes the kernel act as on one without */
    int had = kbf_cpu_ok();
    setenv("SYNEG_NO_BF16", "1", 1);
    CHECK(kbf_cpu_ok() == 0, "SYNEG_NO_BF16=1");
    float a[4] = { 1, 2, 3, 4 }, o[4] = { 0 };
    kbf_mat *b = NULL;
    CHECK(kbf_pack(&b, a, 2, 0, 2, 2) == 0, "pack works anywhere");
    CHECK(kbf_gemm(o, 2, a, 2, 0, b, NULL, 2, 0) == -1, "gemm must refuse, not fall back");
    CHECK(o[0] == 0 && o[3] == 0, "nothing written");
    float qkv[6] = { 1, 2, 3, 4, 5, 6 }, att[1] = { 0 }, ao[2] = { 0 };
    int len = 1;
    CHECK(kbf_attention_forward(ao, att, qkv, &len, 1, 1, 2, 1) == -1, "attention must refuse");
    uint32_t g2[2] = { 7, 7 };
    CHECK(kbf_gelu_pairs(g2, a, 1, 4) == -1 && g2[0] == 7, "gelu pairs must refuse, writing nothing");
    CHECK(kbf_attention_backward(qkv, ao, qkv, att, &len, 1, 1, 2, 1) == -1, "its backward too");
    kbf_mat_free(b);
    unsetenv("SYNEG_NO_BF16");
    CHECK(kbf_cpu_ok() == had, "back to the CPU's answer");
}

int main(void)
{
    RUN(rounding);
    RUN(gemm_vs_naive);
    RUN(repack_and_threads);
    RUN(gemm_vs_fp32);
    RUN(matmul_backward);
    RUN(attention);
    RUN(gelu_pairs);
    RUN(refused_without_cpu);
    return check_done();
}
