/* test_kernels: every fast kernel against its naive twin on random inputs,
 * with odd sizes (not multiples of the vector width) and edge lengths. */
#include <stdint.h>

#include "../check.h"
#include "kernels.h"

static uint64_t rng = 88172645463325252ULL;
static float frand(void)   /* uniform in [-1, 1) */
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n, float scale)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}
static double maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

TEST(matmul)
{
    int shapes[][3] = { { 1, 1, 1 }, { 7, 33, 5 }, { 64, 384, 1152 }, { 130, 37, 19 } };
    for (size_t s = 0; s < 4; s++) {
        int N = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
        float *x = rnd((size_t)N * C, 1), *w = rnd((size_t)OC * C, 0.5f), *b = rnd(OC, 1);
        float *o1 = malloc((size_t)N * OC * 4), *o2 = malloc((size_t)N * OC * 4);
        matmul_forward(o1, x, w, b, N, C, OC);
        matmul_forward_naive(o2, x, w, b, N, C, OC);
        CHECK(maxdiff(o1, o2, (size_t)N * OC) < 1e-4, "bias %d %d %d: %g", N, C, OC, maxdiff(o1, o2, (size_t)N * OC));
        matmul_forward(o1, x, w, NULL, N, C, OC);
        matmul_forward_naive(o2, x, w, NULL, N, C, OC);
        CHECK(maxdiff(o1, o2, (size_t)N * OC) < 1e-4, "no bias %d %d %d", N, C, OC);
        free(x); free(w); free(b); free(o1); free(o2);
    }
}

TEST(layernorm)
{
    int N = 301, C = 384 + 7;
    float *x = rnd((size_t)N * C, 3), *w = rnd(C, 1), *b = rnd(C, 1);
    for (int c = 0; c < C; c++) x[c] += 100.0f;       /* a row with a large mean */
    float *o1 = malloc((size_t)N * C * 4), *o2 = malloc((size_t)N * C * 4);
    float m1[301], r1[301], m2[301], r2[301];
    layernorm_forward(o1, m1, r1, x, w, b, N, C, 1e-12f);
    layernorm_forward_naive(o2, m2, r2, x, w, b, N, C, 1e-12f);
    CHECK(maxdiff(o1, o2, (size_t)N * C) < 2e-5, "out %g", maxdiff(o1, o2, (size_t)N * C));
    CHECK(maxdiff(m1, m2, N) < 1e-4 && maxdiff(r1, r2, N) < 1e-4, "mean/rstd");
    layernorm_forward(o1, NULL, NULL, x, w, b, N, C, 1e-5f);   /* NULL saves allowed */
    layernorm_forward_naive(o2, NULL, NULL, x, w, b, N, C, 1e-5f);
    CHECK(maxdiff(o1, o2, (size_t)N * C) < 2e-5, "no saves");
    free(x); free(w); free(b); free(o1); free(o2);
}

TEST(gelu)
{
    size_t N = 100003;
    float *x = rnd(N, 8);
    x[0] = 0; x[1] = -30; x[2] = 30; x[3] = 1e-20f; x[4] = -5.5f;
    float *o1 = malloc(N * 4), *o2 = malloc(N * 4);
    gelu_forward(o1, x, N);
    gelu_forward_naive(o2, x, N);
    CHECK(maxdiff(o1, o2, N) < 2e-6, "gelu maxdiff %g", maxdiff(o1, o2, N));
    CHECK(o1[1] == 0.0f || fabsf(o1[1]) < 1e-30f, "gelu(-30) = %g", o1[1]);
    CHECK(o1[2] == 30.0f, "gelu(30) = %g", o1[2]);
    memcpy(o1, x, N * 4);
    gelu_forward(o1, o1, N);              /* in place */
    CHECK(maxdiff(o1, o2, N) < 2e-6, "in place");
    free(x); free(o1); free(o2);
}

static void attention_case(int B, int T, int NH, int C, const int *lens);

TEST(attention)
{
    int lens[5] = { 37, 1, 20, 36, 17 };
    attention_case(5, 37, 4, 4 * 24, lens);    /* head size 24: portable path */
    attention_case(5, 37, 3, 3 * 32, lens);    /* head size 32: the AVX-512 path where available */
    int lens2[2] = { 128, 100 };
    attention_case(2, 128, 2, 2 * 64, lens2);
}

static void attention_case(int B, int T, int NH, int C, const int *lens)
{
    float *qkv = rnd((size_t)B * T * 3 * C, 2);
    size_t no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *o1 = malloc(no * 4), *o2 = malloc(no * 4), *a1 = malloc(na * 4), *a2 = malloc(na * 4);
    CHECK(attention_forward(o1, a1, qkv, lens, B, T, C, NH) == 0, "fast");
    CHECK(attention_forward_naive(o2, a2, qkv, lens, B, T, C, NH) == 0, "naive");
    CHECK(maxdiff(o1, o2, no) < 1e-5, "out %g", maxdiff(o1, o2, no));
    CHECK(maxdiff(a1, a2, na) < 1e-6, "att %g", maxdiff(a1, a2, na));
    /* rows sum to one over valid keys, masked keys get exactly zero */
    double s = 0;
    for (int j = 0; j < T; j++) s += a1[(size_t)(1 * NH + 1) * T * T + 0 * T + j];
    CHECK_NEAR(s, 1.0, 1e-5);
    CHECK(lens[1] >= T || a1[(size_t)(1 * NH) * T * T + T - 1] == 0.0f, "masked key prob is 0");
    /* padded query rows give zeros; without att the result is the same */
    CHECK(lens[1] >= T || o1[((size_t)1 * T + T - 1) * C + 3] == 0.0f, "padded row zero");
    float *o3 = malloc(no * 4);
    CHECK(attention_forward(o3, NULL, qkv, lens, B, T, C, NH) == 0, "no att");
    CHECK(maxdiff(o1, o3, no) == 0.0, "att NULL differs");
    free(qkv); free(o1); free(o2); free(o3); free(a1); free(a2);
}

TEST(pool_norm)
{
    int B = 3, T = 4, C = 5, lens[3] = { 4, 1, 2 };
    float *h = rnd((size_t)B * T * C, 1), cls[15], mean[15];
    pool_cls_forward(cls, h, B, T, C);
    pool_mean_forward(mean, h, lens, B, T, C);
    CHECK(cls[5 + 2] == h[(size_t)1 * T * C + 2], "cls");
    CHECK(mean[5 + 1] == h[(size_t)1 * T * C + 1], "mean of one token");
    CHECK_NEAR(mean[10], (h[2 * T * C] + h[2 * T * C + C]) / 2, 1e-7);
    float nrm[3];
    l2norm_forward(mean, nrm, B, C);
    double s = 0;
    for (int c = 0; c < C; c++) s += mean[c] * mean[c];
    CHECK_NEAR(s, 1.0, 1e-6);
    float z[4] = { 0, 0, 0, 0 };
    l2norm_forward(z, NULL, 1, 4);
    CHECK(z[0] == 0.0f, "zero vector stays zero");
    free(h);
}

TEST(threads)
{
    int n = kern_set_threads(2);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(kern_threads(), 2);
    CHECK(kern_set_threads(0) >= 1, "all cores");
}

int main(void)
{
    kern_set_threads(0);
    RUN(matmul);
    RUN(layernorm);
    RUN(gelu);
    RUN(attention);
    RUN(pool_norm);
    RUN(threads);
    return check_done();
}
