/* test_dscan: the streaming top-k kernel against its naive twin, bit for bit:
 * fp32, bf16 and int8 documents; AVX-512 (when this CPU has it) and portable
 * code; many part counts; dims that are and are not multiples of 16; k beyond
 * the corpus; exact ties; NaN and infinite scores.  Also the storage
 * conversions (bf16 rounding, int8 ranges). */
#include <stdint.h>

#include "../check.h"
#include "dscan.h"
#include "kernels.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* D's rows in storage type t (the conversions under test build them) */
typedef struct {
    dscan_docs d;
    uint16_t *b16;
    int8_t *i8;
    float *scale, *offset;
} stored;

#define BF16_PLAIN 3   /* store(): bf16 without an offset */
static void store(stored *s, const float *X, size_t n, int dim, int t)
{
    memset(s, 0, sizeof *s);
    s->d = (dscan_docs){.dtype = t, .n = n, .dim = dim, .rows = X};
    if (t == DSCAN_BF16 || t == BF16_PLAIN) {   /* centred on the mean, as the index stores it, or plain */
        s->d.dtype = DSCAN_BF16;
        s->b16 = malloc(n * dim * 2 + 2);
        if (t == DSCAN_BF16) {
            double *sum = calloc(dim, sizeof *sum);
            s->offset = malloc(dim * 4);
            dscan_mean(X, n, dim, sum, s->offset, n);
            free(sum);
            s->d.offset = s->offset;
        }
        dscan_to_bf16_rows(s->b16, X, n, dim, s->offset);
        s->d.rows = s->b16;
    } else if (t == DSCAN_INT8) {
        float *mn = malloc(dim * 4), *mx = malloc(dim * 4);
        for (int c = 0; c < dim; c++) { mn[c] = INFINITY; mx[c] = -INFINITY; }
        dscan_int8_range(X, n, dim, mn, mx);
        s->scale = malloc(dim * 4);
        s->offset = malloc(dim * 4);
        dscan_int8_params(mn, mx, dim, s->scale, s->offset);
        s->i8 = malloc(n * dim + 1);
        dscan_to_int8(s->i8, X, n, dim, s->scale, s->offset);
        s->d.rows = s->i8;
        s->d.scale = s->scale;
        s->d.offset = s->offset;
        free(mn); free(mx);
    }
}

static void unstore(stored *s)
{
    free(s->b16); free(s->i8); free(s->scale); free(s->offset);
}

/* kernel == naive, bit for bit, for every implementation and part count */
static int same_as_naive(const float *Q, size_t nq, const dscan_docs *D, size_t k, const char *what)
{
    uint32_t *d0 = malloc(nq * k * 4 + 4), *d1 = malloc(nq * k * 4 + 4);
    float *s0 = malloc(nq * k * 4 + 4), *s1 = malloc(nq * k * 4 + 4);
    sy_err err;
    int ok = 1;
    CHECK(dscan_topk_naive(Q, nq, D, k, d0, s0, &err) == 0, "naive: %s", err.msg);
    static const int threads[] = {1, 2, 3, 7};
    for (int impl = DSCAN_PORTABLE; impl <= DSCAN_AVX512; impl++) {
        if (impl == DSCAN_AVX512 && !dscan_have_avx512()) continue;
        for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
            memset(d1, 0xab, nq * k * 4);
            CHECK(dscan_topk(Q, nq, D, k, threads[t], (dscan_impl)impl, d1, s1, &err) == 0, "%s", err.msg);
            int same = !memcmp(d0, d1, nq * k * 4) && !memcmp(s0, s1, nq * k * 4);
            if (!same) {
                size_t i = 0;
                while (i < nq * k && d0[i] == d1[i] && !memcmp(&s0[i], &s1[i], 4)) i++;
                CHECK(same, "%s %s impl %d threads %d: slot %zu: naive doc %u %.9g, kernel doc %u %.9g", what,
                      dscan_dtype_name(D->dtype), impl, threads[t], i, d0[i], s0[i], d1[i], s1[i]);
                ok = 0;
            }
        }
    }
    free(d0); free(d1); free(s0); free(s1);
    return ok;
}

TEST(kernel_equals_naive)
{
    static const int dims[] = {1, 7, 16, 17, 33, 100, 384};
    static const size_t ns[] = {0, 1, 5, 97, 2003};
    static const size_t nqs[] = {1, 3, 15};
    for (size_t a = 0; a < sizeof dims / sizeof *dims; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t c = 0; c < sizeof nqs / sizeof *nqs; c++) {
                int dim = dims[a];
                size_t n = ns[b], nq = nqs[c];
                float *X = malloc(n * dim * 4 + 4), *Q = malloc(nq * dim * 4);
                for (size_t i = 0; i < n * dim; i++) X[i] = frand();
                for (size_t i = 0; i < nq * dim; i++) Q[i] = frand();
                for (int t = DSCAN_F32; t <= BF16_PLAIN; t++) {
                    stored s;
                    store(&s, X, n, dim, t);
                    char what[64];
                    snprintf(what, sizeof what, "dim %d n %zu nq %zu", dim, n, nq);
                    same_as_naive(Q, nq, &s.d, 10, what);
                    same_as_naive(Q, nq, &s.d, n + 3, what);   /* k beyond the corpus: padded */
                    unstore(&s);
                }
                free(X); free(Q);
            }
}

TEST(padding_and_order)
{
    int dim = 20;
    size_t n = 6, k = 9;
    float X[6 * 20], q[20];
    for (size_t i = 0; i < n * dim; i++) X[i] = frand();
    for (int c = 0; c < dim; c++) q[c] = frand();
    dscan_docs D = {.dtype = DSCAN_F32, .n = n, .dim = dim, .rows = X};
    uint32_t d[9];
    float s[9];
    sy_err err;
    CHECK(dscan_topk(q, 1, &D, k, 2, DSCAN_AUTO, d, s, &err) == 0, "%s", err.msg);
    for (size_t i = 1; i < n; i++) CHECK(s[i - 1] >= s[i] && d[i] < n, "sorted, real docs first (slot %zu)", i);
    for (size_t i = n; i < k; i++) CHECK(d[i] == UINT32_MAX && isinf(s[i]) && s[i] < 0, "padding slot %zu", i);
    /* the defined score is close to the real inner product */
    for (size_t i = 0; i < n; i++) {
        double ref = 0;
        for (int c = 0; c < dim; c++) ref += (double)q[c] * X[d[i] * dim + c];
        CHECK(fabs(ref - s[i]) < 1e-5, "slot %zu: %g vs %g", i, s[i], ref);
        CHECK(s[i] == dscan_score(q, &D, d[i]), "dscan_score agrees");
    }
    CHECK(dscan_topk(q, 1, &D, 0, 2, DSCAN_AUTO, d, s, &err) == 0, "k = 0 is a no-op");
}

/* integer data: scores are small integers, so most documents tie with many
 * others; equal scores must come out by lower document index, across parts */
TEST(ties_by_doc_index)
{
    int dim = 19;
    size_t n = 3001, nq = 4, k = 50;
    float *X = malloc(n * dim * 4), *Q = malloc(nq * dim * 4);
    for (size_t i = 0; i < n * dim; i++) X[i] = (float)((int)((frand() + 1) * 1.5f) - 1);   /* -1, 0, 1 */
    for (size_t i = 0; i < nq * dim; i++) Q[i] = (float)((int)((frand() + 1) * 1.5f) - 1);
    for (int t = DSCAN_F32; t <= BF16_PLAIN; t++) {
        stored s;
        store(&s, X, n, dim, t);
        same_as_naive(Q, nq, &s.d, k, "ties");
        uint32_t d[4 * 50];
        float sc[4 * 50];
        sy_err err;
        dscan_topk(Q, nq, &s.d, k, 3, DSCAN_AUTO, d, sc, &err);
        int ties = 0;
        for (size_t q = 0; q < nq; q++)
            for (size_t i = 1; i < k; i++) {
                float a = sc[q * k + i - 1], b = sc[q * k + i];
                CHECK(a > b || (a == b && d[q * k + i - 1] < d[q * k + i]), "q %zu slot %zu: order", q, i);
                ties += a == b;
            }
        if (t != DSCAN_BF16)   /* centring on the (fractional) mean breaks most ties */
            CHECK(ties > 100, "%s (%d): the data really ties (%d)", dscan_dtype_name(s.d.dtype), t, ties);
        unstore(&s);
    }
    free(X); free(Q);
}

/* NaN scores are never returned; infinite ones are ranked like any other */
TEST(nan_and_inf)
{
    int dim = 18;
    size_t n = 40, k = 45;
    float *X = malloc(n * dim * 4), q[18];
    for (size_t i = 0; i < n * dim; i++) X[i] = frand();
    for (int c = 0; c < dim; c++) q[c] = frand();
    X[3 * dim + 5] = NAN;                      /* doc 3 scores NaN */
    X[7 * dim + 17] = INFINITY;                /* doc 7: +inf or -inf by q's sign */
    X[9 * dim + 0] = INFINITY; X[9 * dim + 1] = -INFINITY;   /* doc 9: NaN unless a q is 0 */
    dscan_docs D = {.dtype = DSCAN_F32, .n = n, .dim = dim, .rows = X};
    same_as_naive(q, 1, &D, k, "nan");
    same_as_naive(q, 1, &D, 5, "nan");
    uint32_t d[45];
    float s[45];
    sy_err err;
    dscan_topk(q, 1, &D, k, 2, DSCAN_AUTO, d, s, &err);
    size_t real = 0;
    for (size_t i = 0; i < k; i++) {
        CHECK(d[i] != 3 && d[i] != 9, "a NaN score is not returned (slot %zu)", i);
        CHECK(!isnan(s[i]), "no NaN score");
        real += d[i] != UINT32_MAX;
    }
    CHECK(real == n - 2, "%zu real hits, want %zu", real, n - 2);
    CHECK((q[17] > 0 && d[0] == 7 && isinf(s[0])) || (q[17] < 0 && d[real - 1] == 7 && isinf(s[real - 1])),
          "the infinite score ranks at its end");
    /* a NaN query: nothing at all */
    q[0] = NAN;
    dscan_topk(q, 1, &D, 5, 2, DSCAN_AUTO, d, s, &err);
    CHECK(d[0] == UINT32_MAX && d[4] == UINT32_MAX, "NaN query: only padding");
    free(X);
}

TEST(conversions)
{
    float x[6] = {1.0f, 0, -2.5f, 0, NAN, 3.0e38f};
    uint32_t u = 0x3f808000u;   /* a tie: rounds to even 0x3f80 */
    memcpy(&x[1], &u, 4);
    u = 0x3f818000u;            /* a tie: rounds to even 0x3f82 */
    memcpy(&x[3], &u, 4);
    uint16_t b[6];
    dscan_to_bf16(b, x, 6);
    CHECK(b[0] == 0x3f80 && b[1] == 0x3f80 && b[2] == 0xc020 && b[3] == 0x3f82, "%04x %04x %04x %04x", b[0], b[1],
          b[2], b[3]);
    CHECK(isnan(dscan_bf16_to_f32(b[4])), "NaN stays NaN");
    CHECK(dscan_bf16_to_f32(b[0]) == 1.0f, "widen");
    /* int8: every value within half a step of its reconstruction */
    int dim = 5;
    size_t n = 300;
    float *X = malloc(n * dim * 4);
    for (size_t i = 0; i < n * dim; i++) X[i] = frand() * (float)(1 + i % dim) + (float)(i % dim);
    stored s;
    store(&s, X, n, dim, DSCAN_INT8);
    float *back = malloc(n * dim * 4);
    dscan_rows_f32(back, &s.d, 0, n);
    double worst = 0;
    for (size_t i = 0; i < n * dim; i++) {
        double e = fabs(back[i] - X[i]) / s.scale[i % dim];
        if (e > worst) worst = e;
    }
    CHECK(worst <= 0.5001, "int8 error %.4f steps", worst);
    /* a constant dimension: scale 1, exact */
    for (size_t i = 0; i < n; i++) X[i * dim + 2] = 0.25f;
    unstore(&s);
    store(&s, X, n, dim, DSCAN_INT8);
    dscan_rows_f32(back, &s.d, 0, n);
    CHECK(s.scale[2] == 1 && back[7 * dim + 2] == 0.25f, "constant dimension: scale %g, value %g", s.scale[2],
          back[7 * dim + 2]);
    unstore(&s);
    free(X); free(back);
}

static double gauss(void)
{
    double u = (frand() + 1.0) / 2 + 1e-12, v = (frand() + 1.0) / 2;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* recall@10 of bf16 and int8 against fp32 on random Gaussian unit vectors
 * (the hardest case for int8: no dominant direction, tiny score gaps); int8
 * also after rescoring its top 40 in fp32, as dense_search does */
TEST(recall_gaussian)
{
    size_t n = 20000, nq = 100, k = 10, kk = 40;
    int dim = 384;
    float *X = malloc(n * dim * 4), *Q = malloc(nq * dim * 4);
    for (size_t i = 0; i < n * dim; i++) X[i] = (float)gauss();
    for (size_t i = 0; i < nq * dim; i++) Q[i] = (float)gauss();
    l2norm_forward(X, NULL, (int)n, dim);
    l2norm_forward(Q, NULL, (int)nq, dim);
    dscan_docs f = {.dtype = DSCAN_F32, .n = n, .dim = dim, .rows = X};
    uint32_t *ref = malloc(nq * k * 4), *got = malloc(nq * kk * 4);
    float *sc = malloc(nq * kk * 4);
    sy_err err;
    dscan_topk(Q, nq, &f, k, 0, DSCAN_AUTO, ref, sc, &err);
    for (int t = DSCAN_BF16; t <= BF16_PLAIN; t++) {
        stored s;
        store(&s, X, n, dim, t);
        dscan_topk(Q, nq, &s.d, kk, 0, DSCAN_AUTO, got, sc, &err);
        size_t hit = 0, hit_rs = 0;
        for (size_t q = 0; q < nq; q++) {
            float hs[10];
            uint32_t hd[10];
            for (size_t i = 0; i < k; i++) { hs[i] = -INFINITY; hd[i] = UINT32_MAX; }
            for (size_t i = 0; i < kk; i++)
                dscan_heap_offer(hs, hd, k, dscan_score(Q + q * dim, &f, got[q * kk + i]), got[q * kk + i]);
            for (size_t i = 0; i < k; i++)
                for (size_t j = 0; j < k; j++) {
                    hit += ref[q * k + i] == got[q * kk + j];
                    hit_rs += ref[q * k + i] == hd[j];
                }
        }
        double r = (double)hit / (nq * k), rr = (double)hit_rs / (nq * k);
        const char *name = t == BF16_PLAIN ? "bf16 (no offset)" : dscan_dtype_name((dscan_dtype)t);
        printf("# Gaussian %zu x %d, %zu queries: %s recall@10 vs fp32: scan %.4f, top-40 rescored in fp32 %.4f\n", n,
               dim, nq, name, r, rr);
        if (t != DSCAN_INT8) CHECK(r >= 0.99, "%s recall %.4f", name, r);
        CHECK(rr >= 0.99, "%s rescored recall %.4f", name, rr);
        unstore(&s);
    }
    free(X); free(Q); free(ref); free(got); free(sc);
}

int main(void)
{
    kern_set_threads(0);
    printf("# AVX-512 on this CPU: %s\n", dscan_have_avx512() ? "yes (both codes tested)" : "no (portable only)");
    RUN(kernel_equals_naive);
    RUN(padding_and_order);
    RUN(ties_by_doc_index);
    RUN(nan_and_inf);
    RUN(conversions);
    RUN(recall_gaussian);
    return check_done();
}
