/* test_llm_hostile: the LLM client against a server that lies (usage), floods
 * (bodies), stalls (Retry-After), drops reused connections, and against
 * budgets shared by several clients of one session (issue 16). */
#include "../check.h"
#include "../tools/fakellm.h"

#include <signal.h>
#include <sys/stat.h>

#include "llm.h"
#include "synth.h"
#include "util.h"

static fake_llm F;

typedef struct {
    int done, outcome, attempts;
    char content[2048], error[600];
    long pt, ct;
    double cost;
} result;

static void on_done(void *ctx, const llm_result *r)
{
    result *x = ctx;
    x->done++;
    x->outcome = r->outcome;
    x->attempts = r->attempts;
    snprintf(x->content, sizeof x->content, "%s", r->content ? r->content : "");
    snprintf(x->error, sizeof x->error, "%s", r->error ? r->error : "");
    x->pt = r->prompt_tokens;
    x->ct = r->completion_tokens;
    x->cost = r->cost_usd;
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

static llm_stats run_all(const llm_config *cfg, const char *const *texts, size_t n, result *res)
{
    sy_err err = {0};
    llm_stats st;
    memset(&st, 0, sizeof st);
    llm_client *c = llm_client_new(cfg, &err);
    CHECK(c != NULL, "client: %s", err.msg);
    if (!c) return st;
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        json_t *m = json_pack("[{s:s,s:s}]", "role", "user", "content", texts[i]);
        llm_request rq = {.messages = m, .done = on_done, .ctx = &res[i]};
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

TEST(absurd_usage_is_estimated)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.price_in = 1000;
    cfg.price_out = 1000;
    fake_reset(&F);
    const char *t[] = {"Query: neg [[fault:negusage:1]]", "Query: float [[fault:floatusage:1]]",
                       "Query: none [[fault:nousage:1]]"};
    result r[3];
    llm_stats st = run_all(&cfg, t, 3, r);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(r[i].outcome, LLM_OK);
        CHECK(r[i].pt > 0 && r[i].pt < 10000 && r[i].ct > 0 && r[i].ct < 10000, "%d: tokens %ld %ld", i, r[i].pt, r[i].ct);
        CHECK(r[i].cost > 0 && r[i].cost < 1, "%d: cost %g", i, r[i].cost);
    }
    CHECK_EQ_INT(st.usage_estimated, 3);
    CHECK(st.cost_usd > 0, "a lying server made the cost %g", st.cost_usd);
}

TEST(budget_is_per_session)
{
    char *dir = check_tmpdir("ledger");
    char *cache = sy_path_join(dir, "cache");
    llm_config cfg;
    cfg_base(&cfg, cache);
    cfg.concurrency = 2;
    cfg.max_tokens = 100;
    cfg.price_in = 1000;
    cfg.price_out = 1000;
    cfg.budget_usd = 0.5;
    fake_reset(&F);
    /* five runs, each with new requests (a rerun, a regeneration, a judge...) */
    double spent = 0;
    size_t sent_total = 0;
    for (int run = 0; run < 5; run++) {
        const char *t[8];
        char buf[8][64];
        for (int i = 0; i < 8; i++) { snprintf(buf[i], 64, "Query: run %d item %d [[fault:negusage:1]]", run, i); t[i] = buf[i]; }
        result r[8];
        llm_stats st = run_all(&cfg, t, 8, r);
        spent += st.cost_usd;
        sent_total += st.http_requests;
        CHECK(st.ledger_usd <= cfg.budget_usd + 1e-9, "run %d: the session spent %.4f", run, st.ledger_usd);
    }
    CHECK(spent <= cfg.budget_usd + 1e-9, "five runs spent %.4f of a %.2f budget", spent, cfg.budget_usd);
    CHECK(sent_total > 0 && sent_total < 40, "sent %zu", sent_total);
    char *ledger = sy_path_join(cache, "spend.jsonl");
    struct stat sb;
    CHECK(stat(ledger, &sb) == 0 && (sb.st_mode & 0777) == 0600, "ledger private");
    free(ledger);
    free(cache);
    check_rmrf(dir);
    free(dir);
}

TEST(reservation_waits_instead_of_stopping)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.concurrency = 8;
    cfg.max_tokens = 400;
    cfg.price_in = 1;
    cfg.price_out = 75;   /* worst case 0.03 USD a request; real ones cost about a tenth */
    cfg.budget_usd = 0.1;
    fake_reset(&F);
    const char *t[12];
    char buf[12][64];
    for (int i = 0; i < 12; i++) { snprintf(buf[i], 64, "Query: reserve %d\nWrite 1 hard negative", i); t[i] = buf[i]; }
    result r[12];
    llm_stats st = run_all(&cfg, t, 12, r);
    CHECK_EQ_INT(st.ok, 12);
    CHECK(!st.budget_reached, "stopped with %.4f of %.2f spent", st.cost_usd, cfg.budget_usd);
    CHECK(st.cost_usd <= cfg.budget_usd, "spent %.4f", st.cost_usd);
}

TEST(body_cap)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.max_body_bytes = 1 << 20;
    fake_reset(&F);
    const char *t[] = {"Query: flood [[fault:big:9]]"};
    result r[1];
    run_all(&cfg, t, 1, r);
    CHECK_EQ_INT(r[0].outcome, LLM_E_BADBODY);
    CHECK_EQ_INT(r[0].attempts, 1);
    CHECK(strstr(r[0].error, "over 1048576 bytes") && strstr(r[0].error, "llm.max_body_mb"), "%s", r[0].error);
}

TEST(retry_after_capped)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.max_retries = 1;
    fake_reset(&F);
    const char *t[] = {"Query: date [[fault:radate:5]]", "Query: nan [[fault:ranan:1]]", "Query: huge [[fault:rahuge:1]]"};
    result r[3];
    double t0 = sy_now();
    run_all(&cfg, t, 3, r);
    CHECK_EQ_INT(r[0].outcome, LLM_E_RATE);
    CHECK(strstr(r[0].error, "asked to wait") && strstr(r[0].error, "capped at"), "%s", r[0].error);
    CHECK_EQ_INT(r[1].outcome, LLM_OK);
    CHECK_EQ_INT(r[2].outcome, LLM_OK);
    CHECK(sy_now() - t0 < 30, "waited %.1f s for a Retry-After years away", sy_now() - t0);
}

TEST(silent_curl_retry_counted)
{
    llm_config cfg;
    cfg_base(&cfg, NULL);
    cfg.concurrency = 1;
    fake_reset(&F);
    sy_err err = {0};
    llm_client *c = llm_client_new(&cfg, &err);
    result r[2];
    memset(r, 0, sizeof r);
    const char *t[] = {"Query: warm the connection", "Query: reused [[fault:dropreuse:1]]"};
    for (int i = 0; i < 2; i++) {   /* one after the other: the second reuses the connection */
        json_t *m = json_pack("[{s:s,s:s}]", "role", "user", "content", t[i]);
        llm_request rq = {.messages = m, .done = on_done, .ctx = &r[i]};
        llm_submit(c, &rq, NULL, &err);
        json_decref(m);
        double t0 = sy_now();
        while (llm_step(c, 200) > 0 && sy_now() - t0 < 30) {}
    }
    llm_stats st;
    llm_get_stats(c, &st);
    llm_client_free(c);
    CHECK_EQ_INT(r[1].outcome, LLM_OK);
    CHECK_EQ_INT(fake_stat(&F, "faults.dropreuse"), 1);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 3);
    CHECK_EQ_INT(st.http_requests, 3);   /* the re-send is counted */
    CHECK_EQ_INT(st.silent_retries, 1);
    CHECK_EQ_INT(st.retries, 0);
}

TEST(parser_hostile_content)
{
    /* 200,000 nested braces of prose before the answer: one pass, not one parse per '{' */
    const char *ans = "{\"reasoning\": \"r\", \"negatives\": [\"one\", {\"text\": \"two\"}]}";
    size_t n = 200000;
    char *big = malloc(n + strlen(ans) + 1);
    memset(big, '{', n);
    strcpy(big + n, ans);
    synth_answer a;
    char why[256];
    alarm(120);   /* the old finder took minutes here; a hang fails the test */
    CHECK_EQ_INT(synth_parse_answer(big, &a, why, sizeof why), 0);
    CHECK_EQ_INT(a.n, 2);
    synth_answer_free(&a);
    /* strings with braces, a <think> block with a decoy draft */
    const char *think = "<think>draft: {\"negatives\": [\"decoy\"]} {{{ \"</think>\n"
                        "Here: {\"negatives\": [{\"text\": \"a } brace { in text\"}]}";
    CHECK_EQ_INT(synth_parse_answer(think, &a, why, sizeof why), 0);
    CHECK(a.n == 1 && !strcmp(a.negs[0].text, "a } brace { in text"), "got %s", a.n ? a.negs[0].text : "none");
    synth_answer_free(&a);
    alarm(0);
    free(big);
}

int main(void)
{
    llm_global_init(NULL);
    RUN(parser_hostile_content);
    if (fake_start(&F, "") < 0) {
        CHECK(0, "cannot start tests/tools/fakellm.py (python3 missing?)");
        return check_done();
    }
    RUN(absurd_usage_is_estimated);
    RUN(budget_is_per_session);
    RUN(reservation_waits_instead_of_stopping);
    RUN(body_cap);
    RUN(retry_after_capped);
    RUN(silent_curl_retry_counted);
    fake_stop(&F);
    return check_done();
}
