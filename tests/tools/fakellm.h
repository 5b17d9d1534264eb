/* fakellm.h: start/stop/query tests/tools/fakellm.py from C tests and benchmarks.
 * Header-only (static functions); needs libcurl and jansson, which every test links.
 *   fake_llm f; fake_start(&f, "--latency 0.2");  ...  fake_stat(&f, "requests");  fake_stop(&f);
 * The script is found at $FAKELLM or tests/tools/fakellm.py (tests run from the repo root). */
#ifndef SY_FAKELLM_H
#define SY_FAKELLM_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

typedef struct {
    pid_t pid;
    int port;
    char url[64];       /* http://127.0.0.1:PORT/v1 */
    char portfile[128];
} fake_llm;

static int fake_start(fake_llm *f, const char *args)
{
    const char *script = getenv("FAKELLM");
    if (!script || !*script) script = "tests/tools/fakellm.py";
    memset(f, 0, sizeof *f);
    snprintf(f->portfile, sizeof f->portfile, "%s/fakellm-%ld-%ld.port",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(), (long)time(NULL));
    unlink(f->portfile);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "exec python3 '%s' --port-file '%s' %s", script, f->portfile, args ? args : "");
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    f->pid = pid;
    for (int i = 0; i < 200; i++) {   /* up to 10 s */
        FILE *pf = fopen(f->portfile, "r");
        if (pf) {
            int ok = fscanf(pf, "%d", &f->port) == 1;
            fclose(pf);
            if (ok && f->port > 0) {
                snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/v1", f->port);
                return 0;
            }
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    f->pid = 0;
    return -1;
}

static void fake_stop(fake_llm *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    f->pid = 0;
    unlink(f->portfile);
}

typedef struct { char data[8192]; size_t used; } fake_buf_;

static size_t fake_wr_(char *p, size_t s, size_t n, void *ud)
{
    fake_buf_ *b = ud;
    size_t len = s * n;
    if (b->used + len >= sizeof b->data) len = sizeof b->data - 1 - b->used;
    memcpy(b->data + b->used, p, len);
    b->used += len;
    b->data[b->used] = '\0';
    return s * n;
}

/* GET/POST a control endpoint; returns the parsed JSON (caller decrefs) or NULL. */
static json_t *fake_call(const fake_llm *f, const char *path, const char *post)
{
    static __thread fake_buf_ buf;
    buf.used = 0;
    buf.data[0] = '\0';
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fake_wr_);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
    if (post) curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    return rc == CURLE_OK ? json_loads(buf.data, 0, NULL) : NULL;
}

/* One counter from /stats ("requests", "ok", "authorized", "bad_key", "bodies",
 * or "faults.NAME"); -1 when unreachable. */
__attribute__((unused)) static long fake_stat(const fake_llm *f, const char *name)
{
    json_t *s = fake_call(f, "/stats", NULL);
    if (!s) return -1;
    json_t *v = !strncmp(name, "faults.", 7) ? json_object_get(json_object_get(s, "faults"), name + 7)
                                              : json_object_get(s, name);
    long r = v ? (long)json_integer_value(v) : 0;
    json_decref(s);
    return r;
}

__attribute__((unused)) static int fake_reset(const fake_llm *f)
{
    json_t *r = fake_call(f, "/reset", "{}");
    json_decref(r);
    return r ? 0 : -1;
}

__attribute__((unused)) static int fake_control(const fake_llm *f, const char *json)
{
    json_t *r = fake_call(f, "/control", json);
    json_decref(r);
    return r ? 0 : -1;
}

#endif
