/* bench_llm: the LLM client's throughput and CPU cost.
 *
 * 1,000 chat requests at concurrency 64 against tests/tools/fakellm.py
 * answering after 200 ms, with the disk cache on (as synth runs it).  The
 * peer is the ideal wall time of a perfect client, 1000 / 64 * 0.2 s: the
 * ratio to it should stay under 1.2, and the client's CPU (user + system of
 * this process only; the server is a child) under 10% of one core.  A second
 * line replays the same 1,000 requests from the cache (no network).
 * Environment: BENCH_LLM_N, BENCH_LLM_CONC, BENCH_LLM_LATENCY override. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../tools/fakellm.h"
#include "llm.h"
#include "util.h"

static size_t ok_count;

static void on_done(void *ctx, const llm_result *r)
{
    (void)ctx;
    if (r->outcome == LLM_OK) ok_count++;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int envi(const char *n, int d)
{
    const char *v = getenv(n);
    return v && *v ? atoi(v) : d;
}

static double run(const char *url, const char *cache, int n, int conc, double *cpu, size_t *sent)
{
    llm_config cfg;
    llm_config_defaults(&cfg);
    cfg.url = url;
    cfg.model = "bench-model";
    cfg.concurrency = conc;
    cfg.temperature = 0;
    cfg.max_tokens = 256;
    cfg.cache_dir = cache;
    sy_err err = {0};
    llm_client *c = llm_client_new(&cfg, &err);
    if (!c) {
        fprintf(stderr, "bench_llm: %s\n", err.msg);
        exit(1);
    }
    ok_count = 0;
    double c0 = cpu_now(), t0 = sy_now();
    char text[128];
    int next = 0;
    while (next < n || llm_pending(c)) {
        /* keep a window of queued work, as synth does */
        while (next < n && llm_pending(c) < (size_t)conc * 2) {
            snprintf(text, sizeof text, "Query: benchmark request %d\nWrite 3 hard negatives", next++);
            json_t *m = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content",
                                  "You write hard negatives for retrieval training.", "role", "user", "content", text);
            llm_request rq = {.messages = m, .done = on_done};
            llm_submit(c, &rq, NULL, &err);
            json_decref(m);
        }
        llm_step(c, 1000);
    }
    double wall = sy_now() - t0;
    *cpu = cpu_now() - c0;
    llm_stats st;
    llm_get_stats(c, &st);
    *sent = st.http_requests;
    llm_client_free(c);
    return wall;
}

int main(void)
{
    int n = envi("BENCH_LLM_N", 1000), conc = envi("BENCH_LLM_CONC", 64);
    const char *lat = getenv("BENCH_LLM_LATENCY");
    double latency = lat && *lat ? atof(lat) : 0.2;
    llm_global_init(NULL);
    fake_llm f;
    char args[64];
    snprintf(args, sizeof args, "--latency %g", latency);
    if (fake_start(&f, args) < 0) {
        fprintf(stderr, "bench_llm: cannot start tests/tools/fakellm.py\n");
        return 1;
    }
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/syneg-bench-llm-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    double cpu, cpu2;
    size_t sent, sent2;
    /* warm up the connections and the server */
    run(f.url, NULL, conc, conc, &cpu, &sent);
    double wall = run(f.url, getenv("BENCH_LLM_NOCACHE") ? NULL : dir, n, conc, &cpu, &sent);
    size_t ok1 = ok_count;
    double ideal = (double)n / conc * latency;
    printf("llm client: %d requests, concurrency %d, %.0f ms latency: %.3f s wall, ideal %.3f s, "
           "ratio %.3f (target < 1.2); CPU %.3f s = %.1f%% of one core (target < 10%%); %zu ok, %zu sent\n",
           n, conc, latency * 1000, wall, ideal, wall / ideal, cpu, 100 * cpu / wall, ok1, sent);
    double wall2 = run(f.url, dir, n, conc, &cpu2, &sent2);
    printf("llm cache replay: %d requests from the cache in %.3f s (%.0f/s), %zu sent, ratio to the networked run %.3f\n",
           n, wall2, n / wall2, sent2, wall2 / wall);
    long served = fake_stat(&f, "requests");
    fake_stop(&f);
    struct rusage ch;
    getrusage(RUSAGE_CHILDREN, &ch);
    printf("fake server CPU over all runs: %.2f s\n",
           ch.ru_utime.tv_sec + ch.ru_utime.tv_usec / 1e6 + ch.ru_stime.tv_sec + ch.ru_stime.tv_usec / 1e6);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_llm: could not remove %s\n", dir);
    int bad = ok1 != (size_t)n || sent2 != 0 || served < n;
    if (bad) fprintf(stderr, "bench_llm: unexpected counts (ok %zu, replay sent %zu, served %ld)\n", ok1, sent2, served);
    return bad;
}
