/* test_kernels_bwd: every backward op against central finite differences of
 * its forward (kernels.c), plus the fast attention backward against its
 * naive twin.  Loss L = sum(out * R) for a fixed random R, so dL/dout = R. */
#include "../check.h"

#include <stdint.h>

#include "kernels.h"
#include "kernels_bwd.h"

static uint64_t rs = 12345;
static float urand(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rs >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}
static float *rnd(size_t n, float scale)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = urand() * scale;
    return x;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* compare analytic gradient g[n] of x[n] with finite differences of loss() */
#define H 1e-3f
static int fd_bad;
static void fd_check(const char *what, float *x, const float *g, size_t n, double (*loss)(void))
{
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + H;
        double lp = loss();
        x[i] = keep - H;
        double lm = loss();
        x[i] = keep;
        double num = (lp - lm) / (2.0 * H);
        double diff = fabs(num - g[i]);
        double tol = 1e-2 * fmax(fabs(num), fabs(g[i])) + 2e-3;
        if (diff > tol) {
            if (bad < 5) fprintf(stderr, "%s[%zu]: analytic %.6g, numeric %.6g\n", what, i, g[i], num);
            bad++;
        }
        if (diff > worst) worst = diff;
    }
    CHECK(bad == 0, "%s: %d of %zu gradients off (worst abs diff %.3g)", what, bad, n, worst);
    fd_bad += bad;
}

/* ---- matmul ---- */
enum { MN = 3, MC = 5, MO = 4 };
static float *mx, *mw, *mb, *mr, *mout;
static double matmul_loss(void)
{
    matmul_forward(mout, mx, mw, mb, MN, MC, MO);
    return dot(mout, mr, MN * MO);
}
TEST(matmul)
{
    mx = rnd(MN * MC, 1); mw = rnd(MO * MC, 1); mb = rnd(MO, 1); mr = rnd(MN * MO, 1); mout = zeros(MN * MO);
    float *dx = zeros(MN * MC), *dw = zeros(MO * MC), *db = zeros(MO);
    matmul_backward(dx, dw, db, mr, mx, mw, MN, MC, MO);
    fd_check("matmul dinp", mx, dx, MN * MC, matmul_loss);
    fd_check("matmul dw", mw, dw, MO * MC, matmul_loss);
    fd_check("matmul db", mb, db, MO, matmul_loss);
    /* accumulation: a second call doubles */
    float d0 = dw[3];
    matmul_backward(NULL, dw, NULL, mr, mx, mw, MN, MC, MO);
    CHECK_NEAR(dw[3], 2 * d0, 1e-5);
    free(mx); free(mw); free(mb); free(mr); free(mout); free(dx); free(dw); free(db);
}

/* ---- layernorm ---- */
enum { LN = 3, LC = 8 };
static float *lx, *lw, *lb, *lr, *lout, *lmean, *lrstd;
static double ln_loss(void)
{
    layernorm_forward(lout, lmean, lrstd, lx, lw, lb, LN, LC, 1e-5f);
    return dot(lout, lr, LN * LC);
}
TEST(layernorm)
{
    lx = rnd(LN * LC, 2); lw = rnd(LC, 1); lb = rnd(LC, 1); lr = rnd(LN * LC, 1);
    lout = zeros(LN * LC); lmean = zeros(LN); lrstd = zeros(LN);
    ln_loss();
    float *dx = zeros(LN * LC), *dw = zeros(LC), *db = zeros(LC);
    layernorm_backward(dx, dw, db, lr, lx, lw, lmean, lrstd, LN, LC);
    fd_check("layernorm dinp", lx, dx, LN * LC, ln_loss);
    fd_check("layernorm dw", lw, dw, LC, ln_loss);
    fd_check("layernorm db", lb, db, LC, ln_loss);
    free(lx); free(lw); free(lb); free(lr); free(lout); free(lmean); free(lrstd); free(dx); free(dw); free(db);
}

/* ---- gelu ---- */
enum { GN = 40 };
static float *gx, *gr, *gout;
static double gelu_loss(void)
{
    gelu_forward(gout, gx, GN);
    return dot(gout, gr, GN);
}
TEST(gelu)
{
    gx = rnd(GN, 4); gr = rnd(GN, 1); gout = zeros(GN);
    float *dx = zeros(GN);
    gelu_backward(dx, gx, gr, GN);
    fd_check("gelu dinp", gx, dx, GN, gelu_loss);
    free(gx); free(gr); free(gout); free(dx);
}

/* ---- attention ---- */
enum { AB = 2, AT = 5, AC = 8, AH = 2 };
static int alens[AB] = { 5, 3 };
static float *aqkv, *ar, *aout, *aatt;
static double att_loss(void)
{
    attention_forward(aout, aatt, aqkv, alens, AB, AT, AC, AH);
    /* padded query rows are defined as 0 and carry no gradient */
    double s = 0;
    for (int b = 0; b < AB; b++)
        for (int t = 0; t < alens[b]; t++)
            s += dot(aout + (b * AT + t) * AC, ar + (b * AT + t) * AC, AC);
    return s;
}
TEST(attention)
{
    aqkv = rnd(AB * AT * 3 * AC, 1.5f); ar = rnd(AB * AT * AC, 1);
    aout = zeros(AB * AT * AC); aatt = zeros(AB * AH * AT * AT);
    for (int b = 0; b < AB; b++)
        for (int t = alens[b]; t < AT; t++)
            for (int i = 0; i < AC; i++) ar[(b * AT + t) * AC + i] = 0;
    att_loss();
    float *d = zeros(AB * AT * 3 * AC), *dn = zeros(AB * AT * 3 * AC);
    CHECK(attention_backward(d, ar, aqkv, aatt, alens, AB, AT, AC, AH) == 0, "attention_backward failed");
    CHECK(attention_backward_naive(dn, ar, aqkv, aatt, alens, AB, AT, AC, AH) == 0, "naive failed");
    double md = 0;
    for (int i = 0; i < AB * AT * 3 * AC; i++) md = fmax(md, fabs(d[i] - dn[i]));
    CHECK(md < 1e-5, "fast and naive attention backward differ by %g", md);
    fd_check("attention dqkv", aqkv, d, AB * AT * 3 * AC, att_loss);
    /* masked keys of sequence 1 get no gradient */
    for (int t = alens[1]; t < AT; t++)
        for (int i = 0; i < 3 * AC; i++) CHECK(d[(AT + t) * 3 * AC + i] == 0, "padding got a gradient");
    free(aqkv); free(ar); free(aout); free(aatt); free(d); free(dn);
}

/* ---- embeddings ---- */
enum { EB = 2, ET = 3, EC = 4, EV = 6 };
static int eids[EB * ET] = { 1, 2, 1, 5, 0, 2 };
static float *ewte, *ewpe, *ewtt, *er, *eout;
static double emb_loss(void)
{
    embedding_forward(eout, eids, ewte, ewpe, ewtt, EB, ET, EC);
    return dot(eout, er, EB * ET * EC);
}
TEST(embedding)
{
    ewte = rnd(EV * EC, 1); ewpe = rnd(ET * EC, 1); ewtt = rnd(2 * EC, 1); er = rnd(EB * ET * EC, 1);
    eout = zeros(EB * ET * EC);
    float *dte = zeros(EV * EC), *dpe = zeros(ET * EC), *dtt = zeros(2 * EC);
    embedding_backward(dte, dpe, dtt, er, eids, EB, ET, EC);
    fd_check("embedding dwte", ewte, dte, EV * EC, emb_loss);
    fd_check("embedding dwpe", ewpe, dpe, ET * EC, emb_loss);
    fd_check("embedding dwtt", ewtt, dtt, 2 * EC, emb_loss);
    free(ewte); free(ewpe); free(ewtt); free(er); free(eout); free(dte); free(dpe); free(dtt);
}

/* ---- pooling and normalisation ---- */
enum { PB = 2, PT = 4, PC = 3 };
static int plens[PB] = { 4, 2 };
static float *ph, *pr, *pout;
static int pmode;
static double pool_loss(void)
{
    if (pmode) pool_mean_forward(pout, ph, plens, PB, PT, PC);
    else pool_cls_forward(pout, ph, PB, PT, PC);
    return dot(pout, pr, PB * PC);
}
TEST(pooling)
{
    ph = rnd(PB * PT * PC, 1); pr = rnd(PB * PC, 1); pout = zeros(PB * PC);
    for (pmode = 0; pmode < 2; pmode++) {
        float *d = zeros(PB * PT * PC);
        if (pmode) pool_mean_backward(d, pr, plens, PB, PT, PC);
        else pool_cls_backward(d, pr, PB, PT, PC);
        fd_check(pmode ? "pool mean" : "pool cls", ph, d, PB * PT * PC, pool_loss);
        free(d);
    }
    free(ph); free(pr); free(pout);
}

enum { NN = 3, NC = 5 };
static float *nx, *nr, *nout, *nnorm;
static double norm_loss(void)
{
    memcpy(nout, nx, NN * NC * sizeof *nx);
    l2norm_forward(nout, nnorm, NN, NC);
    return dot(nout, nr, NN * NC);
}
TEST(l2norm)
{
    nx = rnd(NN * NC, 1); nr = rnd(NN * NC, 1); nout = zeros(NN * NC); nnorm = zeros(NN);
    norm_loss();
    float *d = zeros(NN * NC);
    l2norm_backward(d, nr, nout, nnorm, NN, NC);
    fd_check("l2norm dinp", nx, d, NN * NC, norm_loss);
    free(nx); free(nr); free(nout); free(nnorm); free(d);
}

/* ---- InfoNCE ---- */
enum { IB = 3, IG = 2, ID = 4 };
static float *iq, *ip;
static int iinb;
static unsigned char ivalid[IB * IB * IG];
static double nce_loss(void) { return infonce_loss(NULL, NULL, iq, ip, IB, IG, ID, 0.5, iinb, ivalid, NULL); }
TEST(infonce)
{
    iq = rnd(IB * ID, 1); ip = rnd(IB * IG * ID, 1);
    memset(ivalid, 1, sizeof ivalid);
    ivalid[0 * IB * IG + 2] = 0;   /* query 0 must not see passage 2 (query 1's positive) */
    for (iinb = 0; iinb < 2; iinb++) {
        float *dq = zeros(IB * ID), *dp = zeros(IB * IG * ID);
        double l = infonce_loss(dq, dp, iq, ip, IB, IG, ID, 0.5, iinb, ivalid, NULL);
        CHECK(l > 0 && isfinite(l), "loss %g", l);
        fd_check(iinb ? "infonce dq (in-batch)" : "infonce dq (own group)", iq, dq, IB * ID, nce_loss);
        fd_check(iinb ? "infonce dp (in-batch)" : "infonce dp (own group)", ip, dp, IB * IG * ID, nce_loss);
        free(dq); free(dp);
    }
    /* a hand-computed case: B=1, G=2, positive scores 1, negative 0, temp 1 */
    float q[2] = { 1, 0 }, p[4] = { 1, 0, 0, 1 };
    double acc;
    double l = infonce_loss(NULL, NULL, q, p, 1, 2, 2, 1.0, 1, NULL, &acc);
    CHECK_NEAR(l, log(1 + exp(-1.0)), 1e-6);
    CHECK_NEAR(acc, 1.0, 0);
    free(iq); free(ip);
}

/* the threaded paths (per-part partial sums) agree with one thread */
TEST(threads)
{
    enum { N = 512, C = 96 };
    float *x = rnd(N * C, 2), *w = rnd(C, 1), *b = rnd(C, 1), *d = rnd(N * C, 1), *out = zeros(N * C);
    float *mean = zeros(N), *rstd = zeros(N);
    layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-5f);
    float *r[2][3];
    for (int k = 0; k < 2; k++) {
        kern_set_threads(k ? 2 : 1);
        r[k][0] = zeros(N * C); r[k][1] = zeros(C); r[k][2] = zeros(N * C);
        layernorm_backward(r[k][0], r[k][1], b, d, x, w, mean, rstd, N, C);
        gelu_backward(r[k][2], x, d, N * C);
    }
    double m0 = 0, m1 = 0, m2 = 0;
    for (int i = 0; i < N * C; i++) m0 = fmax(m0, fabs(r[0][0][i] - r[1][0][i]));
    for (int i = 0; i < C; i++) m1 = fmax(m1, fabs(r[0][1][i] - r[1][1][i]) / fmax(1, fabs(r[0][1][i])));
    for (int i = 0; i < N * C; i++) m2 = fmax(m2, fabs(r[0][2][i] - r[1][2][i]));
    CHECK(m0 == 0, "layernorm dinp differs across thread counts by %g", m0);
    CHECK(m1 < 1e-5, "layernorm dw differs across thread counts by %g", m1);
    CHECK(m2 == 0, "gelu differs across thread counts by %g", m2);
    for (int k = 0; k < 2; k++) for (int j = 0; j < 3; j++) free(r[k][j]);
    free(x); free(w); free(b); free(d); free(out); free(mean); free(rstd);
    kern_set_threads(1);
}

/* the "=" forms write exactly what the "+=" forms add to zeros, whatever
 * the output held (the trainer skips zeroing with them) */
TEST(set_forms)
{
    enum { N = 37, C = 45 };
    float *x = rnd(N * C, 2), *w = rnd(C, 1), *b = rnd(C, 1), *d = rnd(N * C, 1), *out = zeros(N * C);
    float *mean = zeros(N), *rstd = zeros(N);
    layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-5f);
    for (int th = 1; th <= 2; th++) {
        kern_set_threads(th);
        float *acc = zeros(N * C), *set = rnd(N * C, 5), *dw1 = zeros(C), *db1 = zeros(C), *dw2 = zeros(C), *db2 = zeros(C);
        layernorm_backward(acc, dw1, db1, d, x, w, mean, rstd, N, C);
        layernorm_backward_set(set, dw2, db2, d, x, w, mean, rstd, N, C);
        CHECK(!memcmp(acc, set, sizeof(float) * N * C), "layernorm_backward_set = += onto zeros (%d threads)", th);
        CHECK(!memcmp(dw1, dw2, sizeof(float) * C) && !memcmp(db1, db2, sizeof(float) * C), "dw, db still accumulate");
        float *g1 = zeros(N * C), *g2 = malloc(sizeof(float) * N * C);
        memcpy(g2, d, sizeof(float) * N * C);
        gelu_backward(g1, x, d, N * C);
        gelu_backward_inplace(g2, x, N * C);
        CHECK(!memcmp(g1, g2, sizeof(float) * N * C), "gelu_backward_inplace = += onto zeros (%d threads)", th);
        free(acc); free(set); free(dw1); free(db1); free(dw2); free(db2); free(g1); free(g2);
    }
    kern_set_threads(1);
    free(x); free(w); free(b); free(d); free(out); free(mean); free(rstd);
}

int main(void)
{
    kern_set_threads(1);
    RUN(matmul);
    RUN(layernorm);
    RUN(gelu);
    RUN(attention);
    RUN(embedding);
    RUN(pooling);
    RUN(l2norm);
    RUN(infonce);
    RUN(threads);
    RUN(set_forms);
    return check_done();
}
