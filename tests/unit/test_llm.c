/* test_llm: the LLM client against tests/tools/fakellm.py, fault by fault. */
#include "../check.h"
#include "../tools/fakellm.h"

#include <dirent.h>
#include <sys/stat.h>

#include "llm.h"
#include "sha256.h"
#include "util.h"

static fake_llm F;

typedef struct {
    int done, outcome, cached, attempts;
    char content[2048], error[600], finish[32];
    long pt, ct;
    double cost;
} result;

static void on_done(void *ctx, const llm_result *r)
{
    result *x = ctx;
    x->done++;
    x->outcome = r->outcome;
    x->cached = r->cached;
    x->attempts = r->attempts;
    snprintf(x->content, sizeof x->content, "%s", r->content ? r->content : "");
    snprintf(x->error, sizeof x->error, "%s", r->error ? r->error : "");
    snprintf(x->finish, sizeof x->finish, "%s", r->finish_reason ? r->finish_reason : "");
    x->pt = r->prompt_tokens;
    x->ct = r->completion_tokens;
    x->cost = r->cost_usd;
}

static json_t *msgs(const char *user)
{
    return json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", "You write hard negatives. verdict-free.",
                     "role", "user", "content", user);
}

static void cfg_base(llm_config *c, const char *cache)
{
    llm_config_defaults(c);
    c->url = F.url;
    c->model = "fake-model";
    c->temperature = 0;
    c->max_tokens = 400;
    c->backoff_base_s = 0.05;
    c->backoff_max_s = 0.2;
    c->timeout_s = 5;
    c->connect_timeout_s = 2;
    c->cache_dir = cache;
}

/* Run requests (texts) to completion on a fresh client; returns the client stats. */
static llm_stats run_all(const llm_config *cfg, const char *const *texts, size_t n, result *res,
                         llm_validate_fn v)
{
    sy_err err = {0};
    llm_stats st;
    memset(&st, 0, sizeof st);
    llm_client *c = llm_client_new(cfg, &err);
    CHECK(c != NULL, "client: %s", err.msg);
    if (!c) return st;
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        json_t *m = msgs(texts[i]);
        llm_request rq = {.messages = m, .validate = v, .done = on_done, .ctx = &res[i]};
        CHECK(llm_submit(c, &rq, NULL, &err) == 0, "submit: %s", err.msg);
        json_decref(m);
    }
    double t0 = sy_now();
    while (llm_step(c, 200) > 0 && sy_now() - t0 < 60) {}
    llm_get_stats(c, &st);
    llm_client_free(c);
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(res[i].done, 1);
    return st;
}

TEST(sha256_vectors)
{
    char h[65];
    sha256_hex("abc", 3, h);
    CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("", 0, h);
    CHECK_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(m, strlen(m), h);
    CHECK_EQ_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* streaming in odd pieces equals one shot */
    char big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (char)('a' + i % 26);
    sha256_ctx c;
    uint8_t d1[32], d2[32];
    sha256_init(&c);
    for (int i = 0; i < 1000; i += 7) sha256_update(&c, big + i, i + 7 <= 1000 ? 7 : 1000 - i);
    sha256_final(&c, d1);
    sha256_init(&c);
    sha256_update(&c, big, 1000);
    sha256_final(&c, d2);
    CHECK(memcmp(d1, d2, 32) == 0, "streaming digest differs");
}

TEST(ok_cache_and_zero_rerun)
{
    char *dir = check_tmpdir("llm");
    char *cache = sy_path_join(dir, "cache");
    llm_config cfg;
    cfg_base(&cfg, cache);
    cfg.price_in = 1.0;
    cfg.price_out = 2.0;
    fake_reset(&F);
    const char *t[] = {"Query: what is lift\nWrite 2 hard negatives", "Query: drag\nWrite 3 hard negatives"};
    result r[2];
    llm_stats st = run_all(&cfg, t, 2, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_EQ_INT(r[1].outcome, LLM_OK);
    CHECK(strstr(r[0].content, "\"negatives\"") != NULL, "content: %s", r[0].content);
    CHECK(r[0].pt > 0 && r[0].ct > 0, "usage %ld %ld", r[0].pt, r[0].ct);
    CHECK_NEAR(r[0].cost, (r[0].pt * 1.0 + r[0].ct * 2.0) / 1e6, 1e-12);
    CHECK_EQ_INT(st.http_requests, 2);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 2);
    /* a second client on the same cache sends nothing */
    fake_reset(&F);
    st = run_all(&cfg, t, 2, r, NULL);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 0);
    CHECK_EQ_INT(st.cache_hits, 2);
    CHECK(r[0].cached && r[1].cached, "cached flags %d %d", r[0].cached, r[1].cached);
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_NEAR(st.cost_usd, 0, 0);
    /* a changed parameter is a different request */
    cfg.temperature = 0.7;
    st = run_all(&cfg, t, 1, r, NULL);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 1);
    CHECK_EQ_INT(r[0].cached, 0);
    /* a damaged cache entry is a miss, replaced by a good one */
    char key[65];
    llm_client *c = llm_client_new(&cfg, NULL);
    json_t *m = msgs(t[0]);
    CHECK(llm_request_key(c, m, key, NULL) == 0, "key");
    json_decref(m);
    llm_client_free(c);
    /* damage the stored line (the key stays readable, the answer does not parse) */
    DIR *dd = opendir(cache);
    struct dirent *de;
    char *p = NULL, *pack = NULL, *resp = NULL;
    size_t plen = 0;
    while (dd && !resp && (de = readdir(dd))) {
        if (strncmp(de->d_name, "pack-", 5)) continue;
        free(p);
        free(pack);
        p = sy_path_join(cache, de->d_name);
        pack = sy_read_file(p, &plen, NULL);
        char *line = pack ? strstr(pack, key) : NULL;
        resp = line ? strstr(line, "\"response\":{") : NULL;
    }
    if (dd) closedir(dd);
    CHECK(resp != NULL, "the entry for %s", key);
    if (resp) {
        resp[11] = '[';   /* {"response":[... no longer parses */
        sy_write_file_atomic(p, pack, plen, NULL);
    }
    free(pack);
    fake_reset(&F);
    run_all(&cfg, t, 1, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_EQ_INT(r[0].cached, 0);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 1);
    char *content = NULL;
    CHECK(llm_cache_get(cache, key, &content) == 1, "re-cached: the later line wins");
    free(content);
    /* a torn last line (a kill mid-write) is skipped, the rest still served */
    FILE *pf = p ? fopen(p, "a") : NULL;
    if (pf) { fputs("{\"key\":\"abc", pf); fclose(pf); }
    fake_reset(&F);
    run_all(&cfg, t, 1, r, NULL);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 0);
    CHECK_EQ_INT(r[0].cached, 1);
    free(p);
    free(cache);
    check_rmrf(dir);
    free(dir);
}

TEST(retry_429_honours_retry_after)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    fake_reset(&F);
    const char *t[] = {"Query: q429 [[fault:429:2]]"};
    result r[1];
    double t0 = sy_now();
    llm_stats st = run_all(&cfg, t, 1, r, NULL);
    double el = sy_now() - t0;
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_EQ_INT(r[0].attempts, 3);
    CHECK_EQ_INT(st.retries, 2);
    CHECK(el >= 1.9, "two Retry-After: 1 waits took only %.2f s", el);
    CHECK_EQ_INT(fake_stat(&F, "faults.429"), 2);
    /* exhausted: a clear outcome */
    cfg.max_retries = 1;
    const char *t2[] = {"Query: q429b [[fault:429:5]]"};
    run_all(&cfg, t2, 1, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_E_RATE);
    CHECK_EQ_INT(r[0].attempts, 2);
    CHECK(strstr(r[0].error, "HTTP 429") != NULL, "error: %s", r[0].error);
}

TEST(retry_5xx_drop_garbage_empty)
{
    char *dir = check_tmpdir("llm5");
    llm_config cfg;
    cfg_base(&cfg, dir);
    fake_reset(&F);
    const char *t[] = {"Query: a [[fault:500:2]]", "Query: b [[fault:503:1]]", "Query: c [[fault:drop:2]]",
                       "Query: d [[fault:garbage:1]]", "Query: e [[fault:empty:2]]"};
    result r[5];
    llm_stats st = run_all(&cfg, t, 5, r, NULL);
    /* a dropped connection that curl had reused is re-sent by curl itself
     * once, so that case may take fewer attempts of ours than faults */
    int want_attempts[] = {3, 2, 3, 2, 3};
    for (int i = 0; i < 5; i++) {
        CHECK(r[i].outcome == LLM_OK, "%s: outcome %s (%s)", t[i], llm_outcome_name(r[i].outcome), r[i].error);
        CHECK(i == 2 ? r[i].attempts >= 2 && r[i].attempts <= 3 : r[i].attempts == want_attempts[i],
              "%s: %d attempts", t[i], r[i].attempts);
    }
    CHECK(st.retries >= 7 && st.retries <= 8, "retries %zu", st.retries);
    CHECK_EQ_INT(fake_stat(&F, "faults.drop"), 2);
    /* permanent failures are reported and never cached */
    cfg.max_retries = 2;
    const char *bad[] = {"Query: f [[fault:503:9]]", "Query: g [[fault:empty:9]]", "Query: h [[fault:drop:9]]"};
    fake_reset(&F);
    run_all(&cfg, bad, 3, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_E_SERVER);
    CHECK_EQ_INT(r[1].outcome, LLM_E_EMPTY);
    CHECK_EQ_INT(r[2].outcome, LLM_E_NET);
    CHECK_EQ_INT(r[0].attempts, 3);
    CHECK(strstr(r[0].error, "HTTP 503") != NULL, "%s", r[0].error);
    long first = fake_stat(&F, "requests");
    CHECK(first >= 9, "sent %ld", first);
    fake_reset(&F);
    run_all(&cfg, bad, 3, r, NULL);
    CHECK(fake_stat(&F, "requests") >= 9, "nothing was cached: all sent again");
    CHECK_EQ_INT(r[1].outcome, LLM_E_EMPTY);
    check_rmrf(dir);
    free(dir);
}

TEST(timeout_and_truncation)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.timeout_s = 1;
    fake_reset(&F);
    const char *t[] = {"Query: slow [[fault:timeout:1]]", "Query: long [[fault:length:5]]",
                       "Query: once [[fault:length:1]]"};
    result r[3];
    run_all(&cfg, t, 3, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_EQ_INT(r[0].attempts, 2);
    CHECK_EQ_INT(r[1].outcome, LLM_E_TRUNCATED);   /* retried once only: it would be cut again */
    CHECK_EQ_INT(r[1].attempts, 2);
    CHECK_EQ_INT(r[2].outcome, LLM_OK);
    CHECK_EQ_INT(r[2].attempts, 2);
    CHECK_EQ_STR(r[1].finish, "length");
    CHECK(strstr(r[1].error, "max_tokens") != NULL, "hint: %s", r[1].error);
    cfg.max_retries = 0;
    const char *t2[] = {"Query: slow2 [[fault:timeout:1]]"};
    run_all(&cfg, t2, 1, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_E_TIMEOUT);
}

static int want_json(void *ctx, const char *content, char *why, size_t n)
{
    (void)ctx;
    if (strchr(content, '{')) return 0;
    snprintf(why, n, "no JSON object in the answer");
    return -1;
}

TEST(validator_retries_and_never_caches)
{
    char *dir = check_tmpdir("llmv");
    llm_config cfg;
    cfg_base(&cfg, dir);
    cfg.max_retries = 2;
    fake_reset(&F);
    const char *t[] = {"Query: x [[fault:nonjson:1]]", "Query: y [[fault:fence:1]]"};
    result r[2];
    run_all(&cfg, t, 2, r, want_json);
    CHECK_EQ_INT(r[0].outcome, LLM_E_INVALID);
    CHECK_EQ_INT(r[0].attempts, 3);
    CHECK(strstr(r[0].error, "no JSON object") != NULL, "error %s", r[0].error);
    CHECK_EQ_INT(r[1].outcome, LLM_OK);
    CHECK(strstr(r[1].content, "```json") != NULL, "fenced content kept verbatim: %s", r[1].content);
    fake_reset(&F);
    run_all(&cfg, t, 2, r, want_json);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 3);   /* the invalid one again, the good one cached */
    check_rmrf(dir);
    free(dir);
}

TEST(budget_stops_new_requests)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.concurrency = 1;
    cfg.max_tokens = 100;
    cfg.price_in = 1000;    /* USD per 1M tokens: about 0.05 USD per request here */
    cfg.price_out = 1000;
    cfg.budget_usd = 0.5;
    fake_reset(&F);
    const char *t[20];
    char buf[20][64];
    for (int i = 0; i < 20; i++) { snprintf(buf[i], 64, "Query: budget %d", i); t[i] = buf[i]; }
    result r[20];
    llm_stats st = run_all(&cfg, t, 20, r, NULL);
    long sent = fake_stat(&F, "requests");
    CHECK(sent > 0 && sent < 20, "sent %ld", sent);
    CHECK(st.budget_reached, "budget flag");
    CHECK(st.cost_usd <= cfg.budget_usd, "spent %.4f over the budget", st.cost_usd);
    CHECK_EQ_INT(st.outcomes[LLM_E_BUDGET], 20 - sent);
    CHECK_EQ_INT(r[19].outcome, LLM_E_BUDGET);
    CHECK(strstr(r[19].error, "budget") != NULL, "%s", r[19].error);
    /* a budget without prices is refused up front */
    cfg.price_in = -1;
    sy_err err = {0};
    CHECK(llm_client_new(&cfg, &err) == NULL && err.code == SY_EINVAL, "no prices");
    CHECK(strstr(err.msg, "llm.prices.fake-model") != NULL, "%s", err.msg);
}

TEST(retry_budget)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.retry_budget = 1;
    cfg.concurrency = 1;
    fake_reset(&F);
    const char *t[] = {"Query: rb1 [[fault:500:1]]", "Query: rb2 [[fault:500:1]]"};
    result r[2];
    run_all(&cfg, t, 2, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_EQ_INT(r[1].outcome, LLM_E_RETRY_BUDGET);
}

TEST(rpm_limit_spaces_requests)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.rpm = 60;    /* burst of 6, then one per second */
    fake_reset(&F);
    const char *t[8];
    char buf[8][32];
    for (int i = 0; i < 8; i++) { snprintf(buf[i], 32, "Query: rpm %d", i); t[i] = buf[i]; }
    result r[8];
    double t0 = sy_now();
    run_all(&cfg, t, 8, r, NULL);
    double el = sy_now() - t0;
    CHECK(el >= 1.5, "8 requests at 60 rpm (burst 6) took %.2f s", el);
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(r[i].outcome, LLM_OK);
}

TEST(tpm_limit_waits_for_refunds)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.max_tokens = 400;
    cfg.tpm = 600;    /* one request's estimate (~450 tokens) fits, two do not */
    fake_control(&F, "{\"latency\": 0.3}");
    const char *t[] = {"Query: tpm one", "Query: tpm two"};
    result r[2];
    double t0 = sy_now();
    run_all(&cfg, t, 2, r, NULL);
    double el = sy_now() - t0;
    fake_control(&F, "{\"latency\": 0}");
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_EQ_INT(r[1].outcome, LLM_OK);
    /* the second starts only when the first's real usage refunds its estimate */
    CHECK(el >= 0.55, "two requests under a 600 tpm limit took only %.2f s", el);
    CHECK(el < 10, "the refund came (%.2f s)", el);
}

static int file_contains(const char *path, const char *needle)
{
    size_t n;
    char *s = sy_read_file(path, &n, NULL);
    int hit = s && memmem(s, n, needle, strlen(needle)) != NULL;
    free(s);
    return hit;
}

static int tree_contains(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int hit = 0;
    while (!hit && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = sy_path_join(dir, e->d_name);
        hit = sy_is_dir(p) ? tree_contains(p, needle) : file_contains(p, needle);
        free(p);
    }
    closedir(d);
    return hit;
}

TEST(key_never_written_trace_redacted)
{
    char *dir = check_tmpdir("llmkey");
    char *cache = sy_path_join(dir, "cache"), *trace = sy_path_join(dir, "trace.jsonl");
    const char *key = "sk-test-SECRET-0123456789abcdef";
    llm_config cfg;
    cfg_base(&cfg, cache);
    cfg.key = key;
    cfg.trace_path = trace;
    fake_reset(&F);
    const char *t[] = {"Query: secret one", "Query: secret two [[fault:500:1]]"};
    result r[2];
    run_all(&cfg, t, 2, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_OK);
    CHECK_EQ_INT(fake_stat(&F, "authorized"), 3);
    CHECK(file_contains(trace, "Bearer [REDACTED]"), "trace shows the redacted header");
    CHECK(file_contains(trace, "\"event\":\"retry\""), "trace logs the retry");
    CHECK(!tree_contains(dir, key), "the key appears in a file under %s", dir);
    CHECK(!tree_contains(dir, "SECRET-0123"), "part of the key appears in a file");
    free(cache);
    free(trace);
    check_rmrf(dir);
    free(dir);
}

TEST(batch_export_import)
{
    char *dir = check_tmpdir("llmbatch");
    char *cache = sy_path_join(dir, "cache"), *out = sy_path_join(dir, "batch.jsonl"),
         *res = sy_path_join(dir, "results.jsonl");
    llm_config cfg;
    cfg_base(&cfg, cache);
    cfg.batch_export_path = out;
    fake_reset(&F);
    const char *t[] = {"Query: b1", "Query: b2", "Query: b1"};
    result r[3];
    llm_stats st = run_all(&cfg, t, 3, r, NULL);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 0);
    CHECK_EQ_INT(st.deferred, 3);
    CHECK_EQ_INT(r[0].outcome, LLM_DEFERRED);
    /* two distinct requests -> two lines; answer them as the Batch API would */
    FILE *f = fopen(out, "r"), *g = fopen(res, "w");
    char line[8192];
    int lines = 0;
    while (f && g && fgets(line, sizeof line, f)) {
        lines++;
        json_t *o = json_loads(line, 0, NULL);
        CHECK_EQ_STR(json_string_value(json_object_get(o, "url")), "/v1/chat/completions");
        CHECK_EQ_STR(json_string_value(json_object_get(o, "method")), "POST");
        json_t *body = json_object_get(o, "body");
        CHECK_EQ_STR(json_string_value(json_object_get(body, "model")), "fake-model");
        json_t *ans = json_pack("{s:s,s:s,s:{s:i,s:{s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:{s:i,s:i}}},s:n}",
                                "id", "batch_req_1", "custom_id", json_string_value(json_object_get(o, "custom_id")),
                                "response", "status_code", 200, "body", "model", "fake-model", "choices",
                                "index", 0, "message", "role", "assistant", "content", "{\"batch\":true}",
                                "finish_reason", "stop", "usage", "prompt_tokens", 10, "completion_tokens", 5,
                                "error");
        char *s = json_dumps(ans, JSON_COMPACT);
        fprintf(g, "%s\n", s);
        free(s);
        json_decref(ans);
        json_decref(o);
    }
    if (g) fprintf(g, "{\"custom_id\":\"%064d\",\"response\":{\"status_code\":500,\"body\":{}},\"error\":null}\n", 0);
    if (f) fclose(f);
    if (g) fclose(g);
    CHECK_EQ_INT(lines, 2);
    size_t stored, failed;
    sy_err err = {0};
    CHECK(llm_batch_import(cache, res, &stored, &failed, &err) == 0, "import: %s", err.msg);
    CHECK_EQ_INT(stored, 2);
    CHECK_EQ_INT(failed, 1);
    cfg.batch_export_path = NULL;
    fake_reset(&F);
    run_all(&cfg, t, 3, r, NULL);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 0);
    CHECK_EQ_INT(r[1].outcome, LLM_OK);
    CHECK_EQ_STR(r[1].content, "{\"batch\":true}");
    /* a malformed results file names its line */
    sy_write_file_atomic(res, "{\"custom_id\":\"zz\"}\n", 19, NULL);
    CHECK(llm_batch_import(cache, res, &stored, &failed, &err) < 0, "bad import");
    CHECK(strstr(err.msg, "results.jsonl:1:") != NULL, "%s", err.msg);
    free(cache); free(out); free(res);
    check_rmrf(dir);
    free(dir);
}

TEST(cancel_and_config_errors)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    sy_err err = {0};
    llm_client *c = llm_client_new(&cfg, &err);
    result r[3];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++) {
        json_t *m = msgs(i == 0 ? "Query: slow [[fault:timeout:9]]" : "Query: queued");
        llm_request rq = {.messages = m, .done = on_done, .ctx = &r[i]};
        llm_submit(c, &rq, NULL, &err);
        json_decref(m);
    }
    llm_step(c, 50);
    CHECK(llm_pending(c) > 0, "pending");
    llm_cancel_all(c);
    CHECK_EQ_INT(llm_pending(c), 0);
    for (int i = 0; i < 3; i++) CHECK(r[i].done == 1, "done %d", i);
    CHECK_EQ_INT(r[0].outcome, LLM_CANCELLED);
    llm_client_free(c);
    cfg.url = NULL;
    CHECK(llm_client_new(&cfg, &err) == NULL && strstr(err.msg, "SYNEG_LLM_URL"), "no url: %s", err.msg);
    /* an unreachable endpoint is a network error after retries */
    cfg_base(&cfg, NULL);
    cfg.url = "http://127.0.0.1:1/v1";
    cfg.max_retries = 1;
    const char *t[] = {"Query: nobody"};
    run_all(&cfg, t, 1, r, NULL);
    CHECK_EQ_INT(r[0].outcome, LLM_E_NET);
    CHECK(strstr(r[0].error, "127.0.0.1:1") != NULL, "%s", r[0].error);
}

int main(void)
{
    llm_global_init(NULL);
    RUN(sha256_vectors);
    if (fake_start(&F, "") < 0) {
        CHECK(0, "cannot start tests/tools/fakellm.py (python3 missing?)");
        return check_done();
    }
    RUN(ok_cache_and_zero_rerun);
    RUN(retry_429_honours_retry_after);
    RUN(retry_5xx_drop_garbage_empty);
    RUN(timeout_and_truncation);
    RUN(validator_retries_and_never_caches);
    RUN(budget_stops_new_requests);
    RUN(retry_budget);
    RUN(rpm_limit_spaces_requests);
    RUN(tpm_limit_waits_for_refunds);
    RUN(key_never_written_trace_redacted);
    RUN(batch_export_import);
    RUN(cancel_and_config_errors);
    fake_stop(&F);
    return check_done();
}
