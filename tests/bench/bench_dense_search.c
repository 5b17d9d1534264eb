/* bench_dense_search: exact top-10 of 1,000 queries over 100,000 passages of
 * 384 dims (random unit vectors, seeded) by dense_topk, against FAISS
 * IndexFlatIP (Debian python3-faiss, tests/bench/bench_dense_search_faiss.py)
 * and against this machine's sgemm rate (OpenBLAS, same thread count), all
 * measured in this run.  Environment: BENCH_THREADS (default all cores),
 * BENCH_PY (default /usr/bin/python3), BENCH_NQ / BENCH_ND (sizes). */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "index.h"
#include "kernels.h"
#include "npy.h"
#include "util.h"

static uint64_t rng = 0xD1B54A32D192ED03ULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static void unit_rows(float *x, size_t n, int dim)
{
    for (size_t i = 0; i < n * (size_t)dim; i++) x[i] = frand();
    l2norm_forward(x, NULL, (int)n, dim);
}

int main(void)
{
    const char *py = getenv("BENCH_PY") ? getenv("BENCH_PY") : "/usr/bin/python3";
    size_t nq = getenv("BENCH_NQ") ? strtoul(getenv("BENCH_NQ"), NULL, 10) : 1000;
    size_t nd = getenv("BENCH_ND") ? strtoul(getenv("BENCH_ND"), NULL, 10) : 100000;
    int dim = 384, threads = kern_set_threads(getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS")) : 0);
    size_t k = 10;
    float *Q = malloc(nq * dim * 4), *D = malloc(nd * dim * 4);
    if (!Q || !D) { fprintf(stderr, "out of memory\n"); return 1; }
    unit_rows(Q, nq, dim);
    unit_rows(D, nd, dim);
    double flops = 2.0 * nq * nd * dim;

    /* sgemm rate: the search's own products without the selection (the same
     * blocks dense_topk uses), and a large square product */
    size_t db = 4096, qb = 512;   /* as TOPK_DB, TOPK_QB in engine/index.c */
    float *S = malloc(qb * db * 4);
    double best_blk = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = sy_now();
        for (size_t d0 = 0; d0 < nd; d0 += db)
            for (size_t q0 = 0; q0 < nq; q0 += qb) {
                size_t dn = nd - d0 < db ? nd - d0 : db, qn = nq - q0 < qb ? nq - q0 : qb;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qn, (int)dn, dim, 1.0f,
                            Q + q0 * dim, dim, D + d0 * dim, dim, 0.0f, S, (int)dn);
            }
        double t = sy_now() - t0;
        if (t < best_blk) best_blk = t;
    }
    free(S);
    int n = 2048;
    float *A = malloc((size_t)n * n * 4), *B = malloc((size_t)n * n * 4), *Cm = malloc((size_t)n * n * 4);
    for (size_t i = 0; i < (size_t)n * n; i++) { A[i] = frand(); B[i] = frand(); }
    double best_sq = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = sy_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, Cm, n);
        double t = sy_now() - t0;
        if (t < best_sq) best_sq = t;
    }
    free(A); free(B); free(Cm);
    double peak = 2.0 * n * (double)n * n / best_sq / 1e9, blk = flops / best_blk / 1e9;

    /* ours */
    uint32_t *docs = malloc(nq * k * 4);
    float *sc = malloc(nq * k * 4);
    double best = 1e30;
    sy_err err;
    for (int r = 0; r < 3; r++) {
        double t0 = sy_now();
        if (dense_topk(Q, nq, D, nd, dim, k, docs, sc, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double t = sy_now() - t0;
        if (t < best) best = t;
    }
    double ours = flops / best / 1e9;
    printf("sgemm (OpenBLAS, %d threads): square 2048: %.1f GFLOP/s; search-shaped blocks: %.1f GFLOP/s\n",
           threads, peak, blk);
    printf("syneg dense_topk %zu x %zu x %d top-%zu: %.3fs = %.1f GFLOP/s, %.0f queries/s\n", nq, nd, dim, k, best,
           ours, nq / best);
    printf("RATIO dense search syneg/sgemm-peak = %.2f (target >= 0.85); vs search-shaped sgemm = %.2f\n",
           ours / peak, ours / blk);
    fflush(stdout);

    /* the FAISS peer */
    char dir[] = "/tmp/syneg-bench-dense-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char pq[600], pd[600], pr[600];
    snprintf(pq, sizeof pq, "%s/q.npy", dir);
    snprintf(pd, sizeof pd, "%s/d.npy", dir);
    snprintf(pr, sizeof pr, "%s/ours.npy", dir);
    float *fd = malloc(nq * k * 4);
    for (size_t i = 0; i < nq * k; i++) fd[i] = (float)docs[i];
    if (npy_write_f32(pq, Q, nq, (size_t)dim, &err) || npy_write_f32(pd, D, nd, (size_t)dim, &err) ||
        npy_write_f32(pr, fd, nq, k, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    free(D);   /* give the peer the memory */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s tests/bench/bench_dense_search_faiss.py %s %d %zu", py, dir, threads, k);
    FILE *pp = popen(cmd, "r");
    double ft = 0, agree = -1;
    char line[512];
    while (pp && fgets(line, sizeof line, pp)) {
        fputs(line, stdout);
        sscanf(line, "RESULT %lf %lf", &ft, &agree);
    }
    int prc = pp ? pclose(pp) : -1;
    if (ft > 0) {
        printf("faiss IndexFlatIP: %.3fs = %.1f GFLOP/s; top-%zu ids agree with syneg on %.2f%% of slots\n", ft,
               flops / ft / 1e9, k, agree * 100);
        printf("RATIO dense search syneg/faiss = %.2fx (target >= 1.0x)\n", ft / best);
    } else {
        printf("faiss peer unavailable (exit %d); install python3-faiss (make bench-deps)\n", prc);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(Q); free(docs); free(sc); free(fd);
    return 0;
}
