/* bench_tui: the workbench's responsiveness on a big generated session.
 *
 * Builds (once, cached under $BUILD/bench-data/) a session of MS MARCO-like
 * passages: gencorpus writes BENCH_TUI_DOCS passages (default 1,000,000;
 * MS MARCO has 8,841,823) of MS MARCO's length distribution (log-normal,
 * mean 56 words) and BENCH_TUI_QUERIES queries (default 100,000; MS MARCO
 * has 502,939 training queries), `syneg init` makes the session, and
 * tools/gennegs writes 8 negatives per training query (6 retrieved with
 * scores, 2 synthetic texts of ~56 words, 1 in 20 flagged as suspect) in 16
 * segments, as `syneg mine --shard I/16` would leave them, and one `syneg
 * info` merges them and saves the merged index, as the first command after
 * mining does.  Then it runs
 *   SYNEG_TUI_TIMING=F syneg tui SESSION --script KEYS --size 120x40
 * (headless: curses computes and writes every update, to /dev/null) and
 * reports the open time (session + corpus + first screen) and the
 * key-to-redraw times (handler + full redraw + doupdate) of ~400 moving,
 * paging, query-switching, detail and filter keys.  Peers measured in the
 * same run: `syneg info` on the same session (the open time of the engine
 * alone) and the same keys on a small session (1,000 queries), so the ratios
 * show what size costs.  Target: median key-to-redraw under 16 ms.
 * Environment: BUILD (default build), SYNEG, BENCH_TUI_DOCS/QUERIES. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static const char *syneg, *build;

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "bench_tui: failed (%d): %s\n", rc, cmd);
    return rc;
}

static double time_cmd(const char *cmd)
{
    double t0 = sy_now();
    if (run(cmd) != 0) return -1;
    return sy_now() - t0;
}

/* make (or reuse) a session of ndocs passages and nq queries under dir */
static int prepare(const char *dir, long ndocs, long nq)
{
    char *stamp = sy_strdup_printf("%s/ready", dir);
    if (sy_file_exists(stamp)) {
        free(stamp);
        return 0;
    }
    /* gencorpus' training queries are its first 80 % */
    char *cmd = sy_strdup_printf("rm -rf '%s' && mkdir -p '%s' && '%s/tools/gencorpus' --format msmarco --docs %ld --queries %ld "
                                 "--words 56 --lengths msmarco --seed 7 '%s/data' >/dev/null && '%s' init '%s/s' --msmarco '%s/data' "
                                 "--eval-split dev >/dev/null && '%s/tools/gennegs' '%s/s' --queries %ld --docs %ld --segments 16",
                                 dir, dir, build, ndocs, nq, dir, syneg, dir, dir, build, dir, nq * 8 / 10, ndocs);
    printf("  generating %ld passages, %ld queries in %s ...\n", ndocs, nq, dir);
    fflush(stdout);
    double t = time_cmd(cmd);
    free(cmd);
    if (t < 0) return free(stamp), -1;
    /* the first open after new segments merges them and saves the merged
     * index (SESSION/cache/negatives.idx); the opens measured below use it */
    char *info = sy_strdup_printf("'%s' info '%s/s' >/dev/null", syneg, dir);
    double first = time_cmd(info);
    free(info);
    if (first < 0) return free(stamp), -1;
    sy_write_file_atomic(stamp, "ok\n", 3, NULL);
    free(stamp);
    printf("  prepared in %.1f s; the first `syneg info` (merges the 16 segments, saves the index) %.2f s\n", t, first);
    return 0;
}

typedef struct { double open_s, median_ms, p95_ms, max_ms; long keys; } timing;

static int measure(const char *dir, const char *script, timing *tm)
{
    char *out = sy_strdup_printf("%s/timing.txt", dir);
    char *cmd = sy_strdup_printf("SYNEG_TUI_TIMING='%s' LC_ALL=C.UTF-8 '%s' tui '%s/s' --script '%s' --size 120x40", out, syneg, dir, script);
    int rc = run(cmd);
    free(cmd);
    FILE *f = rc == 0 ? fopen(out, "r") : NULL;
    free(out);
    if (!f) return -1;
    memset(tm, 0, sizeof *tm);
    char k[32];
    double v;
    while (fscanf(f, "%31s %lf", k, &v) == 2) {
        if (!strcmp(k, "open_s")) tm->open_s = v;
        else if (!strcmp(k, "median_ms")) tm->median_ms = v;
        else if (!strcmp(k, "p95_ms")) tm->p95_ms = v;
        else if (!strcmp(k, "max_ms")) tm->max_ms = v;
        else if (!strcmp(k, "keys")) tm->keys = (long)v;
    }
    fclose(f);
    return 0;
}

int main(void)
{
    build = getenv("BUILD") && *getenv("BUILD") ? getenv("BUILD") : "build";
    syneg = getenv("SYNEG");
    static char syn_buf[4096];
    if (!syneg || !*syneg) {
        snprintf(syn_buf, sizeof syn_buf, "%s/syneg", build);
        syneg = syn_buf;
    }
    long ndocs = getenv("BENCH_TUI_DOCS") ? atol(getenv("BENCH_TUI_DOCS")) : 1000000;
    long nq = getenv("BENCH_TUI_QUERIES") ? atol(getenv("BENCH_TUI_QUERIES")) : 100000;
    char *root = sy_strdup_printf("%s/bench-data", build);
    sy_mkdir_p(root, NULL);
    /* "v2": realistic lengths and sharded negatives (older caches had 12-word passages) */
    char *big = sy_strdup_printf("%s/tui-v2-%ld-%ld", root, ndocs, nq), *small = sy_strdup_printf("%s/tui-v2-small", root);
    if (prepare(big, ndocs, nq) < 0 || prepare(small, 20000, 1000) < 0) return 1;

    /* the keys: moving, paging, switching queries and columns, detail, filter, sort */
    char *script = sy_strdup_printf("%s/keys.script", root);
    FILE *f = fopen(script, "w");
    if (!f) return 1;
    for (int i = 0; i < 20; i++) fprintf(f, "jjjjjnnnnn\n<Tab>jjjkk<Tab>jjk<Tab>\n<PgDn><PgDn><PgUp>pp\n<Enter>jj<Esc>\n");
    fprintf(f, "G\ng\n:goto %s\n", "100");
    fclose(f);

    printf("syneg tui on %ld passages, %ld queries (8 negatives per training query)\n", ndocs, nq);
    timing tb, ts;
    if (measure(big, script, &tb) < 0 || measure(small, script, &ts) < 0) return 1;
    char *sort_script = sy_strdup_printf("%s/sort.script", root);
    f = fopen(sort_script, "w");
    if (!f) return 1;
    fprintf(f, "s\n");   /* sort by suspects: counts every query's negatives and labels */
    fclose(f);
    timing tsort;
    if (measure(big, sort_script, &tsort) < 0) return 1;
    free(sort_script);
    char *info = sy_strdup_printf("'%s' info '%s/s' >/dev/null 2>&1", syneg, big);
    double info_s = time_cmd(info);
    free(info);
    printf("  open (session + corpus + first screen, inside the process): %.1f ms; peer: the whole `syneg info` process on the "
           "same session: %.1f ms; ratio %.2f\n",
           tb.open_s * 1e3, info_s * 1e3, info_s > 0 ? tb.open_s / info_s : 0);
    printf("  key-to-redraw over %ld keys: median %.3f ms, p95 %.3f ms, max %.3f ms (target: median < 16 ms: %s)\n", tb.keys,
           tb.median_ms, tb.p95_ms, tb.max_ms, tb.median_ms < 16 ? "met" : "NOT met");
    printf("  peer: the same keys on 1,000 queries / 20,000 passages: median %.3f ms, p95 %.3f ms; ratio big/small %.2f\n",
           ts.median_ms, ts.p95_ms, ts.median_ms > 0 ? tb.median_ms / ts.median_ms : 0);
    printf("  sorting the whole list by suspects (every query's counts, in the keyboard loop): %.0f ms\n", tsort.max_ms);
    free(script), free(big), free(small), free(root);
    return 0;
}
