/* bench_bm25: BM25 index build rate and top-100 query throughput against two
 * peers measured in the same run, SQLite FTS5's bm25() and Xapian (Debian's
 * libxapian 1.4, through the co-process bench_bm25_xapian.cc that `make bench`
 * builds with g++), on the same texts: Cranfield, and a generated Zipfian
 * corpus (300k documents of ~60 words by default; BENCH_BM25_DOCS=N to change:
 * 1000000 for the README's numbers, ~15 min on the shared machine).
 * Also mining time for every training query at --range 0:1000.
 *
 * Fairness: all three index the same "title\ntext" strings into files
 * (FTS5: porter+unicode61 tokenizer, one transaction, journal off; Xapian:
 * Porter stemmer, every term stemmed, Lucene's 33 stop words, no positions,
 * BM25Weight(k1, 0, 1, b, 0) with syneg's k1/b).  Queries run one at a time
 * on one thread on every side (our 2-thread batch rate is printed separately);
 * the query sets are timed in BENCH_BM25_ROUNDS rounds (default 5), the order
 * of the three turning each round, and the medians are compared.  FTS5
 * answers the first m queries that fit in its time cap (it has no dynamic
 * pruning) and is compared with syneg on those same m; Xapian answers all.
 * Agreement: overlap@10 of the top-10 sets, with Xapian at the same k1/b,
 * with FTS5 at its fixed k1 = 1.2, b = 0.75 (syneg set to the same).
 * Peak memory is VmHWM growth during the phase (reset through clear_refs);
 * Xapian's is its process's peak. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bm25.h"
#include "corpus.h"
#include "mine.h"
#include "retriever.h"
#include "session.h"
#include "util.h"

static char tmpdir[256];

/* ---- memory ---- */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) { v = atol(line + kl + 1); break; }
    if (f) fclose(f);
    return v;
}
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) { fputs("5", f); fclose(f); }
}
static double peak_growth_mb(long base_kb) { return (status_kb("VmHWM:") - base_kb) / 1024.0; }

/* process CPU seconds (user + system, all threads) */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- texts ---- */
typedef struct {
    char **text;
    size_t *len;
    uint32_t n;
} texts;

static void get_doc(void *ctx, uint32_t d, const char **title, size_t *tl, const char **text, size_t *xl)
{
    const texts *t = ctx;
    *title = NULL;
    *tl = 0;
    *text = t->text[d];
    *xl = t->len[d];
}

static void free_texts(texts *t)
{
    for (uint32_t i = 0; i < t->n; i++) free(t->text[i]);
    free(t->text);
    free(t->len);
}

/* ---- FTS5 ---- */
static sqlite3 *fts_build(const texts *t, const char *path, double *secs, double *cpu)
{
    double c0 = cpu_now();
    unlink(path);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return NULL;
    sqlite3_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;", 0, 0, 0);
    double t0 = sy_now();
    if (sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61')", 0, 0, 0) != SQLITE_OK) {
        fprintf(stderr, "fts5: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_exec(db, "BEGIN", 0, 0, 0);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t(rowid, body) VALUES (?, ?)", -1, &st, NULL);
    for (uint32_t i = 0; i < t->n; i++) {
        sqlite3_bind_int64(st, 1, i + 1);
        sqlite3_bind_text(st, 2, t->text[i], (int)t->len[i], SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", 0, 0, 0);
    *secs = sy_now() - t0;
    *cpu = cpu_now() - c0;
    return db;
}

/* '"w1" OR "w2" ...' from the query's alphanumeric words */
static void fts_match(const char *q, sy_buf *out)
{
    out->len = 0;
    if (out->data) out->data[0] = '\0';
    const char *p = q;
    int n = 0;
    while (*p) {
        while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) p++;
        const char *s = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) p++;
        if (p > s) {
            sy_buf_printf(out, "%s\"%.*s\"", n++ ? " OR " : "", (int)(p - s), s);
        }
    }
}

/* queries/s over as many queries as fit in cap seconds; *done = how many */
static double fts_queries(sqlite3 *db, char **qs, size_t nq, double cap, size_t *done, double *cpu)
{
    double c0 = cpu_now();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 100", -1, &st,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "fts5: %s\n", sqlite3_errmsg(db));
        return 0;
    }
    sy_buf m = {0};
    double t0 = sy_now();
    size_t i;
    long hits = 0;
    for (i = 0; i < nq && sy_now() - t0 < cap; i++) {
        fts_match(qs[i], &m);
        if (!m.len) continue;
        sqlite3_bind_text(st, 1, m.data, (int)m.len, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) hits++;
        sqlite3_reset(st);
    }
    double secs = sy_now() - t0;
    *cpu = cpu_now() - c0;
    sqlite3_finalize(st);
    sy_buf_free(&m);
    *done = i;
    return secs > 0 ? i / secs : 0;
}

static double our_queries(bm25_index *ix, char **qs, size_t nq, double *cpu)
{
    uint32_t d[100];
    float s[100];
    double t0 = sy_now(), c0 = cpu_now();
    for (size_t i = 0; i < nq; i++) bm25_search(ix, qs[i], 100, d, s, NULL);
    double secs = sy_now() - t0;
    if (cpu) *cpu = cpu_now() - c0;
    return secs > 0 ? nq / secs : 0;
}

static double file_mb(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size / 1048576.0 : 0;
}

static double dir_mb(const char *path)
{
    DIR *d = opendir(path);
    double mb = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = sy_path_join(path, e->d_name);
        mb += file_mb(p);
        free(p);
    }
    if (d) closedir(d);
    return mb;
}

/* ---- Xapian: a co-process (bench_bm25_xapian.cc) driven line by line ---- */
typedef struct {
    pid_t pid;
    FILE *to, *from;
} peer;

static int peer_start(peer *p, const char *exe, const char *dbdir)
{
    int in[2], out[2];
    memset(p, 0, sizeof *p);
    if (access(exe, X_OK) != 0 || pipe(in) < 0) return -1;
    if (pipe(out) < 0) { close(in[0]); close(in[1]); return -1; }
    p->pid = fork();
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        /* bulk loading: flush every 100k documents instead of Xapian's 10k */
        setenv("XAPIAN_FLUSH_THRESHOLD", "100000", 0);
        execl(exe, exe, dbdir, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    if (p->pid < 0) { close(in[1]); close(out[0]); return -1; }
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    return p->to && p->from ? 0 : -1;
}

/* send one command, read its one-line answer into buf; 0 unless it says "error" or dies */
static int peer_cmd(peer *p, char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int peer_cmd(peer *p, char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->to, fmt, ap);
    va_end(ap);
    fputc('\n', p->to);
    fflush(p->to);
    if (!fgets(buf, (int)n, p->from)) return snprintf(buf, n, "xapian peer exited"), -1;
    buf[strcspn(buf, "\n")] = '\0';
    return strncmp(buf, "error", 5) ? 0 : -1;
}

static void peer_stop(peer *p)
{
    if (!p->pid) return;
    if (p->to) { fputs("quit\n", p->to); fclose(p->to); }
    if (p->from) fclose(p->from);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

/* ---- result agreement ---- */
typedef struct {
    uint32_t *d;   /* nq x 10, UINT32_MAX where fewer hits */
    size_t nq;
} top10;

static void top_ours(bm25_index *ix, char **qs, size_t nq, top10 *t)
{
    t->nq = nq;
    t->d = malloc(nq * 10 * sizeof *t->d);
    for (size_t i = 0; i < nq; i++) {
        float sc[10];
        long n = bm25_search(ix, qs[i], 10, t->d + i * 10, sc, NULL);
        for (long k = n < 0 ? 0 : n; k < 10; k++) t->d[i * 10 + k] = UINT32_MAX;
    }
}

static void top_fts(sqlite3 *db, char **qs, size_t nq, top10 *t)
{
    t->nq = nq;
    t->d = malloc(nq * 10 * sizeof *t->d);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10", -1, &st, NULL);
    sy_buf m = {0};
    for (size_t i = 0; i < nq; i++) {
        int k = 0;
        fts_match(qs[i], &m);
        if (m.len) {
            sqlite3_bind_text(st, 1, m.data, (int)m.len, SQLITE_STATIC);
            while (k < 10 && sqlite3_step(st) == SQLITE_ROW) t->d[i * 10 + k++] = (uint32_t)(sqlite3_column_int64(st, 0) - 1);
            sqlite3_reset(st);
        }
        for (; k < 10; k++) t->d[i * 10 + k] = UINT32_MAX;
    }
    sqlite3_finalize(st);
    sy_buf_free(&m);
}

static int top_xapian(peer *p, const char *path, size_t nq, top10 *t)
{
    char buf[512];
    t->nq = 0;
    t->d = NULL;
    if (peer_cmd(p, buf, sizeof buf, "top 10 %s", path) < 0) return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    t->d = malloc(nq * 10 * sizeof *t->d);
    char line[1024];
    for (size_t i = 0; i < nq; i++) {
        int k = 0;
        if (fgets(line, sizeof line, f)) {
            char *q = line, *e;
            for (unsigned long v; k < 10 && (v = strtoul(q, &e, 10), e != q); q = e) t->d[i * 10 + k++] = (uint32_t)v;
        }
        for (; k < 10; k++) t->d[i * 10 + k] = UINT32_MAX;
    }
    fclose(f);
    t->nq = nq;
    return 0;
}

/* mean over queries where either side has hits of |A n B| / max(|A|, |B|) */
static double overlap(const top10 *a, const top10 *b, size_t nq)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < nq && i < a->nq && i < b->nq; i++) {
        int na = 0, nb = 0, both = 0;
        for (int x = 0; x < 10; x++) {
            uint32_t da = a->d[i * 10 + x];
            if (da != UINT32_MAX) na++;
            if (b->d[i * 10 + x] != UINT32_MAX) nb++;
            for (int y = 0; y < 10 && da != UINT32_MAX; y++) both += da == b->d[i * 10 + y];
        }
        if (na || nb) sum += (double)both / (na > nb ? na : nb), n++;
    }
    return n ? sum / n : 1.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

enum { MAX_ROUNDS = 15 };

static void compare(const char *name, texts *t, char **qsets[], const char *qnames[], size_t nsets, size_t nq,
                    double fts_cap)
{
    char ours[300], fts[300], xdb[300], xdocs[300], xq[300], xtop[300], buf[512];
    snprintf(ours, sizeof ours, "%s/%s.bm25", tmpdir, name);
    snprintf(fts, sizeof fts, "%s/%s.fts5", tmpdir, name);
    snprintf(xdb, sizeof xdb, "%s/%s.xapian", tmpdir, name);
    snprintf(xdocs, sizeof xdocs, "%s/%s.docs", tmpdir, name);
    snprintf(xq, sizeof xq, "%s/%s.queries", tmpdir, name);
    snprintf(xtop, sizeof xtop, "%s/%s.xtop", tmpdir, name);
    int rounds = getenv("BENCH_BM25_ROUNDS") ? atoi(getenv("BENCH_BM25_ROUNDS")) : 5;
    if (rounds < 1) rounds = 1;
    if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
    sy_err err = {0};
    bm25_build_opts bo = {2, NULL, NULL};
    if (t->n < 100000) {
        /* small corpora: one warm-up build on each side, so first-call costs
         * (page faults in code and allocator) do not dominate */
        double ws, wc;
        bm25_build_texts(t->n, get_doc, t, 0, ours, &bo, NULL);
        sqlite3 *w = fts_build(t, fts, &ws, &wc);
        if (w) sqlite3_close(w);
    }
    long base = status_kb("VmRSS:");
    reset_peak();
    double t0 = sy_now(), c0 = cpu_now();
    if (bm25_build_texts(t->n, get_doc, t, 0, ours, &bo, &err) < 0) { printf("build failed: %s\n", err.msg); return; }
    double our_build = sy_now() - t0, our_cpu = cpu_now() - c0, our_peak = peak_growth_mb(base);
    t0 = sy_now();
    bm25_index *ix = bm25_open(ours, &err);
    double open_ms = (sy_now() - t0) * 1000;
    if (!ix) { printf("open failed: %s\n", err.msg); return; }
    base = status_kb("VmRSS:");
    reset_peak();
    double fts_secs = 0, fts_cpu = 0;
    sqlite3 *db = fts_build(t, fts, &fts_secs, &fts_cpu);
    double fts_peak = peak_growth_mb(base);
    if (!db) { printf("fts5 build failed\n"); bm25_free(ix); return; }

    /* Xapian: the same "title\ntext" strings, NUL-separated */
    peer xp = {0};
    char exe[300];
    snprintf(exe, sizeof exe, "%s/bench/peer_bm25_xapian", getenv("BUILD") ? getenv("BUILD") : "build");
    int have_x = 0;
    double x_build = 0, x_cpu = 0;
    long x_peak = 0;
    FILE *f = fopen(xdocs, "w");
    for (uint32_t i = 0; f && i < t->n; i++) fwrite(t->text[i], 1, t->len[i] + 1, f);
    if (f && fclose(f) == 0 && peer_start(&xp, exe, xdb) == 0) {
        if (peer_cmd(&xp, buf, sizeof buf, "build %s %g %g", xdocs, (double)BM25_K1_DEFAULT, (double)BM25_B_DEFAULT) == 0 &&
            sscanf(buf, "built %lf %lf %ld", &x_build, &x_cpu, &x_peak) == 3)
            have_x = 1;
        else
            printf("  xapian: %s\n", buf);
    } else {
        printf("  xapian: skipped (%s not built: make bench builds it with g++ and libxapian-dev)\n", exe);
    }
    unlink(xdocs);

    printf("%s: %u docs\n", name, t->n);
    printf("  build   syneg  %9.0f docs/s (%.2fs wall, %.2fs CPU, 2 threads, index %.1f MiB, peak +%.0f MiB, opens in %.2f ms)\n",
           t->n / our_build, our_build, our_cpu, file_mb(ours), our_peak, open_ms);
    printf("          fts5   %9.0f docs/s (%.2fs wall, %.2fs CPU, index %.1f MiB, peak +%.0f MiB)\n", t->n / fts_secs,
           fts_secs, fts_cpu, file_mb(fts), fts_peak);
    if (have_x)
        printf("          xapian %9.0f docs/s (%.2fs wall, %.2fs CPU, 1 thread, index %.1f MiB, peak %.0f MiB)\n",
               t->n / x_build, x_build, x_cpu, dir_mb(xdb), x_peak / 1024.0);
    printf("          ratio vs fts5 %.1fx wall, %.1fx CPU", fts_secs / our_build, fts_cpu / our_cpu);
    if (have_x) printf("; vs xapian %.1fx wall, %.1fx CPU", x_build / our_build, x_cpu / our_cpu);
    printf("\n");
    for (size_t s = 0; s < nsets; s++) {
        char **qs = qsets[s];
        /* FTS5 has no dynamic pruning: it answers the first m queries, m as many
         * as fit in fts_cap / rounds seconds (calibrated once); the others all */
        size_t m = 0;
        double fcpu, ocpu;
        fts_queries(db, qs, nq, fts_cap / rounds, &m, &fcpu);
        if (m < 5) m = nq < 5 ? nq : 5;   /* at least 5, however slow: one query is no rate */
        if (have_x) {
            f = fopen(xq, "w");
            for (size_t i = 0; f && i < nq; i++) {
                for (const char *c = qs[i]; *c; c++) fputc(*c == '\n' ? ' ' : *c, f);
                fputc('\n', f);
            }
            if (!f || fclose(f) != 0 || peer_cmd(&xp, buf, sizeof buf, "queries %s", xq) < 0) have_x = 0;
        }
        double r_our[MAX_ROUNDS], r_our_m[MAX_ROUNDS], r_fts[MAX_ROUNDS], r_x[MAX_ROUNDS];
        double c_our[MAX_ROUNDS], c_fts[MAX_ROUNDS], c_x[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
            /* A/B alternation: the order of the three turns each round */
            for (int k = 0; k < 3; k++) {
                int who = (r % 2 ? 2 - k : k + r) % 3;
                if (who == 0) {
                    r_our[r] = our_queries(ix, qs, nq, &ocpu);
                    c_our[r] = ocpu / nq;
                    r_our_m[r] = m < nq ? our_queries(ix, qs, m, NULL) : r_our[r];
                } else if (who == 1) {
                    size_t done;
                    r_fts[r] = fts_queries(db, qs, m, 1e9, &done, &fcpu);
                    c_fts[r] = fcpu / (double)(done ? done : 1);
                } else if (have_x) {
                    double wall = 0, c = 0;
                    long hits;
                    if (peer_cmd(&xp, buf, sizeof buf, "run 100 %zu", nq) < 0 ||
                        sscanf(buf, "ran %lf %lf %ld", &wall, &c, &hits) != 3) {
                        printf("  xapian: %s\n", buf);
                        have_x = 0;
                    }
                    r_x[r] = wall > 0 ? nq / wall : 0;
                    c_x[r] = c / nq;
                }
            }
        }
        double oq = median(r_our, rounds), oqm = m == nq ? oq : median(r_our_m, rounds), fq = median(r_fts, rounds);
        double oc = median(c_our, rounds), fc = median(c_fts, rounds);
        printf("  top-100 %-8s syneg %9.0f q/s (%zu queries)   fts5 %8.1f q/s (first %zu; syneg on those %.0f q/s)"
               "   ratio %.1fx wall, %.1fx CPU\n",
               qnames[s], oq, nq, fq, m, oqm, fq > 0 ? oqm / fq : 0, oc > 0 ? fc / oc : 0);
        top10 to = {0}, tf = {0}, tx = {0};
        if (have_x) {
            double xq_s = median(r_x, rounds), xc = median(c_x, rounds);
            printf("  %-16s xapian %8.0f q/s (%zu queries)                                     ratio %.1fx wall, %.1fx CPU\n",
                   "", xq_s, nq, xq_s > 0 ? oq / xq_s : 0, oc > 0 ? xc / oc : 0);
        }
        /* agreement: top-10 sets, syneg at its k1/b against Xapian at the same;
         * FTS5's bm25() is fixed at k1 = 1.2, b = 0.75, so syneg is set to those
         * for the FTS5 comparison */
        top_ours(ix, qs, nq, &to);
        if (have_x && top_xapian(&xp, xtop, nq, &tx) == 0)
            printf("  %-16s overlap@10 with xapian %.3f (k1 %.2g, b %.2g, %zu queries)", "", overlap(&to, &tx, nq),
                   (double)BM25_K1_DEFAULT, (double)BM25_B_DEFAULT, nq);
        else
            printf("  %-16s", "");
        free(to.d);
        bm25_set_params(ix, 1.2f, 0.75f, NULL);
        top_ours(ix, qs, m, &to);
        top_fts(db, qs, m, &tf);
        bm25_set_params(ix, BM25_K1_DEFAULT, BM25_B_DEFAULT, NULL);
        printf("; with fts5 %.3f (k1 1.2, b 0.75, %zu queries)\n", overlap(&to, &tf, m), m);
        free(to.d), free(tf.d), free(tx.d);
        unlink(xq);
        unlink(xtop);
    }
    if (xp.pid) peer_stop(&xp);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", xdb);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", xdb);
    sqlite3_close(db);
    bm25_free(ix);
    unlink(ours);
    unlink(fts);
}

/* ---- Cranfield ---- */
static void bench_cranfield(void)
{
    char *path = sy_path_join(getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data", "cranfield");
    sy_err err = {0};
    corpus *c = corpus_load(path, CORPUS_BEIR, &err);
    if (!c) { printf("cranfield: skipped (%s)\n", err.msg); free(path); return; }
    texts t = {calloc(corpus_ndocs(c), sizeof(char *)), calloc(corpus_ndocs(c), sizeof(size_t)), corpus_ndocs(c)};
    for (uint32_t d = 0; d < t.n; d++) {
        t.text[d] = sy_strdup_printf("%s\n%s", corpus_doc_title(c, d), corpus_doc_text(c, d));
        t.len[d] = strlen(t.text[d]);
    }
    size_t nq = corpus_nqueries(c);
    char **qs = malloc(nq * sizeof *qs);
    for (size_t i = 0; i < nq; i++) qs[i] = (char *)corpus_query_text(c, (uint32_t)i);
    char **sets[1] = {qs};
    const char *names[1] = {"queries"};
    compare("cranfield", &t, sets, names, 1, nq, 20);
    free(qs);
    free_texts(&t);
    corpus_free(c);
    free(path);
}

/* ---- Zipfian corpus ---- */
static uint64_t rs = 12345;
static uint64_t rnd(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    char **w;
    double *cdf;
    size_t n;
} vocab;

static void vocab_make(vocab *v, size_t n)
{
    static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
    v->n = n;
    v->w = malloc(n * sizeof *v->w);
    v->cdf = malloc(n * sizeof *v->cdf);
    double s = 0;
    for (size_t r = 0; r < n; r++) {
        char buf[32];
        int l = 0;
        size_t x = r;
        do {
            buf[l++] = cons[x % 14];
            x /= 14;
            buf[l++] = vow[x % 5];
            x /= 5;
        } while (x);
        buf[l++] = 'q';    /* keeps pseudo-words apart from real English stems */
        buf[l] = '\0';
        v->w[r] = strdup(buf);
        s += 1.0 / (double)(r + 1);
        v->cdf[r] = s;
    }
    for (size_t r = 0; r < n; r++) v->cdf[r] /= s;
}

static size_t vocab_zipf(const vocab *v)
{
    double u = (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
    size_t lo = 0, hi = v->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->cdf[mid] < u) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static void bench_zipf(size_t ndocs)
{
    vocab v;
    vocab_make(&v, 200000);
    texts t = {malloc(ndocs * sizeof(char *)), malloc(ndocs * sizeof(size_t)), (uint32_t)ndocs};
    sy_buf b = {0};
    for (size_t d = 0; d < ndocs; d++) {
        b.len = 0;
        int words = 30 + (int)(rnd() % 61);   /* 30..90, mean 60 */
        for (int i = 0; i < words; i++) {
            if (i) sy_buf_puts(&b, " ");
            sy_buf_puts(&b, v.w[vocab_zipf(&v)]);
        }
        t.text[d] = malloc(b.len + 1);
        memcpy(t.text[d], b.data, b.len + 1);
        t.len[d] = b.len;
    }
    sy_buf_free(&b);
    enum { NQ = 400 };
    char **uni = malloc(NQ * sizeof *uni), **zq = malloc(NQ * sizeof *zq);
    for (size_t i = 0; i < NQ; i++) {
        sy_buf q = {0}, z = {0};
        for (int w = 0; w < 4; w++) {
            sy_buf_printf(&q, "%s%s", w ? " " : "", v.w[rnd() % 50000]);
            sy_buf_printf(&z, "%s%s", w ? " " : "", v.w[vocab_zipf(&v)]);
        }
        uni[i] = q.data;
        zq[i] = z.data;
    }
    char **sets[2] = {uni, zq};
    const char *names[2] = {"uniform", "zipf"};
    char name[64];
    snprintf(name, sizeof name, "zipf-%zuk", ndocs / 1000);
    compare(name, &t, sets, names, 2, NQ, 10);
    for (size_t i = 0; i < NQ; i++) { free(uni[i]); free(zq[i]); }
    free(uni); free(zq);
    free_texts(&t);
    for (size_t r = 0; r < v.n; r++) free(v.w[r]);
    free(v.w); free(v.cdf);
}

/* ---- mining ---- */
static void bench_mine(const char *label, const char *data)
{
    char sdir[400];
    snprintf(sdir, sizeof sdir, "%s/sess-%s", tmpdir, label);
    sy_err err = {0};
    session_source src = {data, CORPUS_BEIR, "train", "test"};
    if (session_create(sdir, &src, &err) < 0) { printf("mine %s: skipped (%s)\n", label, err.msg); return; }
    session *s = session_open(sdir, SESSION_WRITE, &err);
    retriever_opts ro = {.kind = "bm25"};
    double t0 = sy_now();
    retriever *r = s ? retriever_open(s, &ro, &err) : NULL;
    double tidx = sy_now() - t0;
    if (!r) { printf("mine %s: %s\n", label, err.msg); session_close(s); return; }
    mine_opts o;
    mine_opts_default(&o);
    o.range_lo = 0;
    o.range_hi = 1000;
    mine_report rep;
    if (mine_run(s, r, &o, &rep, &err) < 0) printf("mine %s: %s\n", label, err.msg);
    else
        printf("mine %s --range 0:1000: %zu training queries in %.2fs (%.0f queries/s; retrieval %.2fs of it, "
               "filters+store %.2fs; index built in %.2fs), %zu negatives, %zu suspects\n",
               label, rep.mined, rep.seconds, rep.mined / rep.seconds, rep.retrieve_seconds,
               rep.seconds - rep.retrieve_seconds, tidx, rep.negatives, rep.suspects);
    retriever_free(r);
    session_close(s);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(tmpdir, sizeof tmpdir, "%s/syneg-bench-bm25-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    double t0 = sy_now();
    bench_cranfield();
    const char *nd = getenv("BENCH_BM25_DOCS");
    /* 300k by default: Xapian's build of 1M takes 4-10 min on the shared 2-core machine */
    size_t ndocs = nd ? strtoul(nd, NULL, 10) : 300000;
    if (ndocs < 1000) ndocs = 1000;
    bench_zipf(ndocs);
    char *cran = sy_path_join(getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data", "cranfield");
    bench_mine("cranfield", cran);
    free(cran);
    /* a larger mining run on a gencorpus data set when the tool is built */
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char cmd[1024], gdir[400];
    snprintf(gdir, sizeof gdir, "%s/gen", tmpdir);
    snprintf(cmd, sizeof cmd, "%s/tools/gencorpus --docs 100000 --queries 5000 %s >/dev/null 2>&1", build, gdir);
    if (system(cmd) == 0) bench_mine("gencorpus-100k", gdir);
    else printf("mine gencorpus: skipped (%s/tools/gencorpus not built)\n", build);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("bench_bm25 total %.1fs\n", sy_now() - t0);
    return 0;
}
