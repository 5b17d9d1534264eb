/* cmd_synth: `syneg synth SESSION ...`: synthetic hard negatives (engine/synth.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/llm.h"
#include "../engine/session.h"
#include "../engine/synth.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_synth_help[] =
    "usage: syneg synth SESSION [--limit N | --queries ID,...] [--attr NAME=VALUE]...\n"
    "                   [--per-query K] [--concurrency N] [--budget USD] [--reflect R]\n"
    "                   [--offline] [--seed N] [--batch-export FILE] [--batch-import FILE]\n"
    "                   [--prompts DIR] [--json]\n"
    "\n"
    "Write synthetic hard negatives for the training queries of SESSION: for each\n"
    "query with a positive in the train split, an LLM writes K negatives under the\n"
    "attribute constraints of the prompt and explains itself; R reflection rounds\n"
    "then ask whether each negative answers the query.  Negatives judged false\n"
    "negatives are kept and flagged for review.  New rows appear beside older ones.\n"
    "\n"
    "  --limit N            only the first N queries (in file order)\n"
    "  --queries ID,...     only these query ids\n"
    "  --attr NAME=VALUE    fix an attribute of the catalogue for every request\n"
    "                       (repeatable; see prompts/attributes.txt)\n"
    "  --per-query K        negatives per query (default: synth.per_query, else 4)\n"
    "  --concurrency N      requests in flight (default: llm.concurrency, else 8)\n"
    "  --budget USD         stop sending new requests once this much is spent\n"
    "                       (default: llm.budget_usd; needs llm.prices.<model>)\n"
    "  --reflect R          reflection rounds, 0 to 2 (default: synth.reflect, else 1)\n"
    "  --offline            use the offline generator, a stand-in for an LLM\n"
    "                       (sentence recombination and entity swaps from related\n"
    "                       passages, no model); also used when no endpoint is\n"
    "                       configured.  export leaves its negatives out unless\n"
    "                       given --include-offline\n"
    "  --seed N             seed for attribute draws and offline edits (default 1)\n"
    "  --batch-export FILE  write the requests not yet answered to FILE in the OpenAI\n"
    "                       Batch API JSONL format instead of sending them\n"
    "  --batch-import FILE  store the answers of a Batch API output file in the cache,\n"
    "                       then run (answered requests are not sent again)\n"
    "  --prompts DIR        folder with synth.txt, reflect.txt, attributes.txt\n"
    "                       (default: SESSION/prompts, $SYNEG_PROMPTS, the installed ones)\n"
    "  --json               print the report as JSON on stdout\n"
    "\n"
    "Endpoint: session settings llm.url, llm.model, llm.temperature, llm.max_tokens,\n"
    "llm.prices, llm.budget_usd, overridden by SYNEG_LLM_URL and SYNEG_LLM_MODEL.\n"
    "The key comes only from SYNEG_LLM_KEY (or OPENAI_API_KEY) and is never written.\n"
    "SYNEG_TRACE=FILE logs every request and response (Authorization redacted).\n"
    "Answers are cached in SESSION/cache/llm/: a rerun sends no request already\n"
    "answered.  Failures are listed in SESSION/jobs/<job>/failures.jsonl.\n"
    "Ctrl-C stops cleanly (rows so far are kept).  Exit status: 0 when the run\n"
    "finished (even if some queries failed: see the report), 1 on errors or when\n"
    "no request succeeded (the first failure's reason is printed), 2 on usage.\n";

static volatile sig_atomic_t stop_flag;
static atomic_int cancel_flag;   /* lock-free: safe to store from the signal handler */

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
    atomic_store(&cancel_flag, 1);
}

static void progress(void *ctx, const synth_progress *p)
{
    (void)ctx;
    char extra[160];
    snprintf(extra, sizeof extra, "%zu negs, %zu failed, %zu req, %zu cached, $%.4f", p->negatives,
             p->queries_failed, p->requests, p->cache_hits, p->cost_usd);
    cli_progress("synth", (double)p->queries_done, (double)p->queries_total, extra);
}

/* Split "a,b,c" in place into an array (malloc'd). */
static const char **split_ids(char *s, size_t *n)
{
    size_t cap = 1;
    for (char *p = s; *p; p++) cap += *p == ',';
    const char **v = calloc(cap, sizeof *v);
    *n = 0;
    if (!v) return NULL;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t) v[(*n)++] = t;
    return v;
}

int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"limit", required_argument, 0, 'l'},       {"queries", required_argument, 0, 'q'},
        {"attr", required_argument, 0, 'a'},        {"per-query", required_argument, 0, 'k'},
        {"concurrency", required_argument, 0, 'c'}, {"budget", required_argument, 0, 'b'},
        {"reflect", required_argument, 0, 'r'},     {"offline", no_argument, 0, 'o'},
        {"seed", required_argument, 0, 's'},        {"batch-export", required_argument, 0, 'E'},
        {"batch-import", required_argument, 0, 'I'}, {"prompts", required_argument, 0, 'P'},
        {"json", no_argument, 0, 'j'},              {0, 0, 0, 0},
    };
    synth_opts o;
    synth_opts_defaults(&o);
    prompt_kv *attrs = calloc((size_t)argc + 1, sizeof *attrs);
    const char **ids = NULL;
    size_t nids = 0;
    int json_out = 0, have_limit = 0;
    long v;
    double d;
    int rc = EXIT_OK, c;
    if (!attrs) return cli_error("out of memory");
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_long(optarg, 1, 1000000000L, &v) < 0) { rc = cli_usage("synth", "--limit needs a positive number, not '%s'", optarg); goto out; }
            o.limit = (size_t)v;
            have_limit = 1;
            break;
        case 'q':
            free(ids);
            ids = split_ids(optarg, &nids);
            if (!ids || !nids) { rc = cli_usage("synth", "--queries needs a comma-separated list of query ids"); goto out; }
            break;
        case 'a': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) { rc = cli_usage("synth", "--attr needs NAME=VALUE, not '%s'", optarg); goto out; }
            *eq = '\0';
            attrs[o.nattrs++] = (prompt_kv){optarg, eq + 1};
            break;
        }
        case 'k':
            if (cli_parse_long(optarg, 1, 64, &v) < 0) { rc = cli_usage("synth", "--per-query needs 1 to 64, not '%s'", optarg); goto out; }
            o.per_query = (int)v;
            break;
        case 'c':
            if (cli_parse_long(optarg, 1, 1024, &v) < 0) { rc = cli_usage("synth", "--concurrency needs 1 to 1024, not '%s'", optarg); goto out; }
            o.concurrency = (int)v;
            break;
        case 'b':
            if (cli_parse_double(optarg, &d) < 0 || d < 0) { rc = cli_usage("synth", "--budget needs an amount in USD, not '%s'", optarg); goto out; }
            o.budget_usd = d;
            break;
        case 'r':
            if (cli_parse_long(optarg, 0, 2, &v) < 0) { rc = cli_usage("synth", "--reflect needs 0, 1 or 2, not '%s'", optarg); goto out; }
            o.reflect = (int)v;
            break;
        case 'o': o.offline = 1; break;
        case 's':
            if (cli_parse_long(optarg, 1, 0x7fffffffL, &v) < 0) { rc = cli_usage("synth", "--seed needs a positive number, not '%s'", optarg); goto out; }
            o.seed = (uint64_t)v;
            break;
        case 'E': o.batch_export = optarg; break;
        case 'I': o.batch_import = optarg; break;
        case 'P': o.prompts_dir = optarg; break;
        case 'j': json_out = 1; break;
        default:
            rc = cli_usage("synth", "unknown option '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind != argc - 1) { rc = cli_usage("synth", optind >= argc ? "missing SESSION" : "too many arguments"); goto out; }
    if (have_limit && ids) { rc = cli_usage("synth", "use --limit or --queries, not both"); goto out; }
    if (ids) { o.query_ids = ids; o.nquery_ids = nids; }
    o.attrs = attrs;
    o.progress = progress;
    o.cancel = &cancel_flag;
    sy_err err = {0};
    if (llm_global_init(&err) < 0) { rc = cli_fail(&err); goto out; }
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) { rc = cli_fail(&err); goto out; }
    {   /* a key in the URL works (curl sends it), but say so: SYNEG_LLM_KEY is the place */
        const char *url = getenv("SYNEG_LLM_URL");
        if (!url || !*url) url = session_get_str(s, "llm.url", NULL);
        char shown[1024];
        if (url && sy_url_redact(url, shown, sizeof shown) > 0)
            fprintf(stderr, "syneg: warning: the LLM URL holds a key or password (%s); it is never shown or saved, "
                    "but put the key in SYNEG_LLM_KEY instead\n", shown);
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    synth_progress rep;
    int r = synth_run(s, &o, &rep, &err);
    sigaction(SIGINT, &old, NULL);
    cli_progress_end();
    if (r < 0 && err.code != SY_ECANCEL) {
        rc = cli_fail(&err);
        if (err.code == SY_EUNSUP) rc = EXIT_USAGE;   /* an option that needs an endpoint, without one */
        cli_session_close(s);
        goto out;
    }
    if (json_out) {
        json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:b,s:b,s:s}",
                              "generator", rep.offline ? "offline" : "llm", "queries", (json_int_t)rep.queries_total,
                              "ok", (json_int_t)rep.queries_ok, "failed", (json_int_t)rep.queries_failed,
                              "deferred", (json_int_t)rep.queries_deferred, "negatives", (json_int_t)rep.negatives,
                              "suspects", (json_int_t)rep.suspects, "requests", (json_int_t)rep.requests,
                              "cache_hits", (json_int_t)rep.cache_hits, "retries", (json_int_t)rep.retries,
                              "prompt_tokens", (json_int_t)rep.prompt_tokens,
                              "completion_tokens", (json_int_t)rep.completion_tokens, "cost_usd", rep.cost_usd,
                              "budget_reached", rep.budget_reached, "cancelled", r < 0, "job", rep.job_dir);
        if (j) {
            json_object_set_new(j, "silent_retries", json_integer((json_int_t)rep.silent_retries));
            json_object_set_new(j, "usage_estimated", json_integer((json_int_t)rep.usage_estimated));
            json_object_set_new(j, "session_cost_usd", json_real(rep.session_cost_usd));
        }
        char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (js) puts(js);
        free(js);
        json_decref(j);
    } else {
        printf("synth (%s): %zu queries: %zu with negatives, %zu failed, %zu deferred\n",
               rep.offline ? "offline generator, a stand-in for an LLM" : "llm", rep.queries_total, rep.queries_ok, rep.queries_failed,
               rep.queries_deferred);
        printf("  %zu negatives written, %zu suspected false negatives (flagged for review)\n", rep.negatives,
               rep.suspects);
        if (!rep.offline)
            printf("  %zu requests sent, %zu answers from the cache, %zu retries; %ld prompt + %ld completion "
                   "tokens, %.4f USD\n", rep.requests, rep.cache_hits, rep.retries, rep.prompt_tokens,
                   rep.completion_tokens, rep.cost_usd);
        if (!rep.offline && (rep.session_cost_usd > rep.cost_usd || rep.silent_retries || rep.usage_estimated))
            printf("  session spend %.4f USD (all runs); %zu requests re-sent by libcurl on a dead connection; "
                   "%zu answers without usable usage (tokens estimated from the text)\n",
                   rep.session_cost_usd, rep.silent_retries, rep.usage_estimated);
        printf("  job folder: %s\n", rep.job_dir);
        if (rep.queries_failed) printf("  failures: %s/failures.jsonl (rerun to retry them)\n", rep.job_dir);
        if (rep.queries_deferred && o.batch_export)
            printf("  %zu queries wait for batch results: submit %s, then rerun with --batch-import\n",
                   rep.queries_deferred, o.batch_export);
    }
    if (rep.notice[0] && !(r < 0 && err.code != SY_ECANCEL)) fprintf(stderr, "syneg: %s\n", rep.notice);
    if (rep.budget_reached)
        fprintf(stderr, "syneg: the budget is reached: later queries were not sent; raise --budget to go on\n");
    if (rep.first_failure[0])
        fprintf(stderr, "syneg: %zu of %zu queries failed; the first: %s\n", rep.queries_failed, rep.queries_total,
                rep.first_failure);
    /* a run where no request succeeded is a failure, whatever the reason */
    if (r == 0 && !rep.offline && rep.queries_total && !rep.queries_ok && !rep.queries_deferred) {
        fprintf(stderr, "syneg: no request succeeded; see %s/failures.jsonl\n", rep.job_dir);
        rc = EXIT_ERR;
    }
    if (r < 0) {
        fprintf(stderr, "syneg: %s\n", err.msg);
        rc = EXIT_ERR;
    }
    cli_session_close(s);
out:
    free(attrs);
    free(ids);
    (void)stop_flag;
    return rc;
}
