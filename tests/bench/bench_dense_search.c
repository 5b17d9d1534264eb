/* bench_dense_search: exact dense search, measured against this run's own
 * memory-bandwidth floor and against FAISS IndexFlatIP (Debian python3-faiss,
 * tests/bench/bench_dense_search_faiss.py), A/B alternated, medians.
 *
 *   floor      one streaming read (sum) of the whole fp32 document matrix with
 *              the same thread count, AVX-512 loads: no search can be faster
 *   one query  dense_topk with 1 query (the streaming kernel, dscan.h),
 *              printed as floor / time (target >= 0.7); also the scan of
 *              the documents stored as bf16 and int8 (half and a quarter of
 *              the bytes: they may pass the fp32 floor; dense_search adds
 *              the fp32 rescoring of 40 candidates, a few microseconds)
 *   few        4 and 15 queries per query (streamed or through sgemm, as
 *              dense search chooses: dscan_streams)
 *   batch      BENCH_NQ queries (blocked sgemm) against FAISS at its best
 *              setting here, ONE OpenMP thread with OMP_WAIT_POLICY=PASSIVE
 *              (target >= 1.0x), and at syneg's thread count (also PASSIVE)
 *
 * Data: BENCH_ND documents and BENCH_NQ queries of BENCH_DIM dims, random
 * Gaussian unit vectors (seeded).  Environment: BENCH_ND (100000), BENCH_NQ
 * (1000), BENCH_DIM (384), BENCH_REPS (7), BENCH_THREADS (all cores),
 * BENCH_PY (/usr/bin/python3).  Quick run: BENCH_ND=20000 BENCH_NQ=200 BENCH_REPS=3. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dscan.h"
#include "index.h"
#include "kernels.h"
#include "npy.h"
#include "parfor.h"
#include "util.h"

static uint64_t rng = 0xD1B54A32D192ED03ULL;
static double urand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static void gauss_unit_rows(float *x, size_t n, int dim)
{
    for (size_t i = 0; i < n * (size_t)dim; i += 2) {
        double r = sqrt(-2 * log(urand())), t = 6.283185307179586 * urand();
        x[i] = (float)(r * cos(t));
        if (i + 1 < n * (size_t)dim) x[i + 1] = (float)(r * sin(t));
    }
    l2norm_forward(x, NULL, (int)n, dim);
}

static size_t env_size(const char *name, size_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoul(v, NULL, 10) : def;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = 0;
    if (f) {
        if (!fgets(buf, (int)n, f)) buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
}

/* ---- the bandwidth floor: read every byte once, as fast as loads go ---- */
typedef struct {
    const float *x;
    double sum[SY_PAR_MAX];
} floor_ctx;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static float sum_avx512(const float *x, size_t n)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; i++) s += x[i];
    return s;
}
#endif

static float sum_plain(const float *x, size_t n)
{
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) acc[l] += x[i + l];
    float s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    for (; i < n; i++) s += x[i];
    return s;
}

static void floor_part(void *p, size_t lo, size_t hi, int part)
{
    floor_ctx *c = p;
#if defined(__x86_64__) && defined(__GNUC__)
    if (dscan_have_avx512()) { c->sum[part] = sum_avx512(c->x + lo, hi - lo); return; }
#endif
    c->sum[part] = sum_plain(c->x + lo, hi - lo);
}

static double read_floor(const float *D, size_t count, int threads, double *sink)
{
    floor_ctx c = {.x = D};
    double t0 = sy_now();
    sy_par_for(count, threads, floor_part, &c);
    double t = sy_now() - t0;
    for (int i = 0; i < threads; i++) *sink += c.sum[i];
    return t;
}

/* ---- the FAISS peer: a child that searches on request ---- */
typedef struct {
    pid_t pid;
    FILE *to, *from;
    int threads;
} peer;

static int peer_start(peer *p, const char *py, const char *dir, int threads, size_t k)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) return -1;   /* a later peer must not hold this one's pipes */
    p->threads = threads;
    p->pid = fork();
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        char t[16], kk[16];
        snprintf(t, sizeof t, "%d", threads);
        snprintf(kk, sizeof kk, "%zu", k);
        setenv("OMP_NUM_THREADS", t, 1);
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        setenv("OPENBLAS_NUM_THREADS", t, 1);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]); close(out[0]);
        execl(py, py, "tests/bench/bench_dense_search_faiss.py", dir, t, kk, (char *)NULL);
        _exit(127);
    }
    close(in[0]); close(out[1]);
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    char line[512];
    while (fgets(line, sizeof line, p->from)) {   /* "READY version" after loading */
        if (!strncmp(line, "READY", 5)) {
            printf("faiss peer (%d OpenMP thread%s, OMP_WAIT_POLICY=PASSIVE): faiss %s", threads,
                   threads == 1 ? "" : "s", line + 6);
            return 0;
        }
        fputs(line, stdout);
    }
    return -1;
}

/* run one request ("one I" | "batch"); returns seconds, *agree for batch */
static double peer_ask(peer *p, const char *req, double *agree)
{
    char line[512];
    fprintf(p->to, "%s\n", req);
    fflush(p->to);
    while (fgets(line, sizeof line, p->from)) {
        double t, a;
        int n = sscanf(line, "TIME %lf %lf", &t, &a);
        if (n >= 1) {
            if (n == 2 && agree) *agree = a;
            return t;
        }
        fputs(line, stdout);
    }
    return -1;
}

static void peer_stop(peer *p)
{
    if (p->to) fclose(p->to);
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
}

int main(void)
{
    const char *py = getenv("BENCH_PY") ? getenv("BENCH_PY") : "/usr/bin/python3";
    size_t nq = env_size("BENCH_NQ", 1000), nd = env_size("BENCH_ND", 100000), k = 10;
    int dim = (int)env_size("BENCH_DIM", 384), reps = (int)env_size("BENCH_REPS", 7);
    int threads = kern_set_threads((int)env_size("BENCH_THREADS", 0));
    if (reps < 1) reps = 1;
    if (nq < DSCAN_FEW) nq = DSCAN_FEW;
    if (reps > 64) reps = 64;
    char load[128];
    loadavg(load, sizeof load);
    printf("dense search: %zu docs x %d dims (fp32 %.1f MB), %d threads, AVX-512 %s; loadavg at start: %s\n", nd, dim,
           nd * dim * 4 / 1e6, threads, dscan_have_avx512() ? "yes" : "no", load);
    float *Q = malloc(nq * dim * 4), *D = malloc(nd * dim * 4);
    if (!Q || !D) { fprintf(stderr, "out of memory\n"); return 1; }
    gauss_unit_rows(Q, nq, dim);
    gauss_unit_rows(D, nd, dim);
    sy_err err;
    /* bf16 / int8 copies of the documents */
    uint16_t *B = malloc(nd * dim * 2);
    int8_t *I = malloc(nd * dim);
    float *mn = malloc(dim * 4), *mx = malloc(dim * 4), *scale = malloc(dim * 4), *offset = malloc(dim * 4);
    float *mean = malloc(dim * 4);
    double *sum = calloc(dim, sizeof *sum);
    for (int c = 0; c < dim; c++) { mn[c] = INFINITY; mx[c] = -INFINITY; }
    dscan_mean(D, nd, dim, sum, mean, nd);   /* as the index stores them: bf16 of x - mean */
    dscan_to_bf16_rows(B, D, nd, dim, mean);
    dscan_int8_range(D, nd, dim, mn, mx);
    dscan_int8_params(mn, mx, dim, scale, offset);
    dscan_to_int8(I, D, nd, dim, scale, offset);
    dscan_docs docs[3] = {{DSCAN_F32, nd, dim, D, NULL, NULL}, {DSCAN_BF16, nd, dim, B, NULL, mean},
                          {DSCAN_INT8, nd, dim, I, scale, offset}};

    uint32_t *ids = malloc(nq * k * 4);
    float *sc = malloc(nq * k * 4);
    double sink = 0;

    /* one query: the floor and the three storage types, alternated */
    int ones = 8;   /* queries per timing (their mean) */
    double tf[64], t1[3][64];
    for (int r = 0; r < reps; r++) {
        tf[r] = read_floor(D, nd * dim, threads, &sink);
        for (int t = 0; t < 3; t++) {
            double t0 = sy_now();
            for (int j = 0; j < ones; j++)
                if (dense_topk_docs(Q + (size_t)((r * ones + j) % nq) * dim, 1, &docs[t], k, ids, sc, &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
            t1[t][r] = (sy_now() - t0) / ones;
        }
    }
    double floor_t = median(tf, reps);
    printf("bandwidth floor (one streaming read of %.1f MB, median of %d): %.2f ms = %.1f GB/s\n", nd * dim * 4 / 1e6,
           reps, floor_t * 1e3, nd * dim * 4 / floor_t / 1e9);
    for (int t = 0; t < 3; t++) {
        double m = median(t1[t], reps), bytes = (double)nd * dscan_row_bytes(docs[t].dtype, dim);
        if (t == 0)
            printf("RATIO one-query search fp32: %.2f ms, floor/time = %.2f (target >= 0.7)\n", m * 1e3, floor_t / m);
        else
            printf("one-query search %s: %.2f ms, %.2fx the fp32 search, %.1f GB/s of %s rows (%.2f of the floor's rate)\n",
                   dscan_dtype_name(docs[t].dtype), m * 1e3, median(t1[0], reps) / m, bytes / m / 1e9,
                   dscan_dtype_name(docs[t].dtype), bytes / m / (nd * dim * 4 / floor_t));
    }
    /* a few queries, per query, by the path dense search takes for them */
    static const size_t few[] = {4, 15};
    for (size_t f = 0; f < 2; f++) {
        double tt[64];
        for (int r = 0; r < reps; r++) {
            double t0 = sy_now();
            dense_topk(Q, few[f], D, nd, dim, k, ids, sc, &err);
            tt[r] = sy_now() - t0;
        }
        double m = median(tt, reps);
        printf("%zu queries fp32 (%s): %.2f ms, %.2f ms a query (%.2f floors)\n", few[f],
               dscan_streams(few[f], dim) ? "streaming" : "sgemm", m * 1e3,
               m * 1e3 / few[f], m / floor_t);
    }
    fflush(stdout);

    /* the batch, against FAISS */
    if (dense_topk(Q, nq, D, nd, dim, k, ids, sc, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    char dir[] = "/tmp/syneg-bench-dense-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char pq[600], pd[600], pr[600];
    snprintf(pq, sizeof pq, "%s/q.npy", dir);
    snprintf(pd, sizeof pd, "%s/d.npy", dir);
    snprintf(pr, sizeof pr, "%s/ours.npy", dir);
    float *fids = malloc(nq * k * 4);
    for (size_t i = 0; i < nq * k; i++) fids[i] = (float)ids[i];
    if (npy_write_f32(pq, Q, nq, (size_t)dim, &err) || npy_write_f32(pd, D, nd, (size_t)dim, &err) ||
        npy_write_f32(pr, fids, nq, k, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    free(B); free(I);
    signal(SIGPIPE, SIG_IGN);
    peer p1 = {0}, pn = {0};
    int have1 = peer_start(&p1, py, dir, 1, k) == 0;
    int haven = threads > 1 ? peer_start(&pn, py, dir, threads, k) == 0 : 0;
    double tb[64], tb1[64], tfb1[64], tfbn[64], tf1[64], agree = -1;
    char one[64];
    for (int r = 0; r < reps; r++) {
        double t0 = sy_now();
        dense_topk(Q, nq, D, nd, dim, k, ids, sc, &err);
        tb[r] = sy_now() - t0;
        if (threads > 1) {   /* syneg at one thread too: the equal-thread pair with FAISS's best */
            kern_set_threads(1);
            t0 = sy_now();
            dense_topk(Q, nq, D, nd, dim, k, ids, sc, &err);
            tb1[r] = sy_now() - t0;
            kern_set_threads(threads);
        }
        if (have1) tfb1[r] = peer_ask(&p1, "batch", &agree);
        if (haven) tfbn[r] = peer_ask(&pn, "batch", NULL);
        snprintf(one, sizeof one, "one %d", r % (int)nq);
        if (have1) tf1[r] = peer_ask(&p1, one, NULL);
    }
    double ours = median(tb, reps);
    printf("syneg batch %zu queries (sgemm, %d threads): %.3f s, %.0f queries/s\n", nq, threads, ours, nq / ours);
    if (have1) {
        double f1 = median(tfb1, reps);
        printf("Debian FAISS IndexFlatIP batch, 1 OpenMP thread, OMP_WAIT_POLICY=PASSIVE (its best here): %.3f s; "
               "top-%zu ids equal syneg's on %.2f%% of slots\n", f1, k, agree * 100);
        printf("RATIO batch search syneg/faiss-best = %.2fx (target >= 1.0x)\n", f1 / ours);
        if (threads > 1)
            printf("syneg batch at 1 thread: %.3f s; ratio syneg/faiss at 1 thread each = %.2fx\n", median(tb1, reps),
                   f1 / median(tb1, reps));
        double o1 = median(tf1, reps);
        printf("Debian FAISS one query (1 thread): %.2f ms; syneg one query is %.2fx faster\n", o1 * 1e3,
               o1 / median(t1[0], reps));
    } else {
        printf("faiss peer unavailable; install python3-faiss (make bench-deps)\n");
    }
    if (haven) {
        double fn = median(tfbn, reps);
        printf("Debian FAISS batch at syneg's %d threads (PASSIVE): %.3f s; ratio syneg/faiss at equal threads = %.2fx\n",
               threads, fn, fn / ours);
    }
    peer_stop(&p1);
    peer_stop(&pn);
    loadavg(load, sizeof load);
    printf("loadavg at end: %s   (checksum %g)\n", load, sink);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(Q); free(D); free(ids); free(sc); free(fids); free(mn); free(mx); free(scale); free(offset); free(mean); free(sum);
    return 0;
}
