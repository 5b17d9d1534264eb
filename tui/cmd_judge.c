/* syneg judge: second opinions on retrieved negatives (engine/judge.h). */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/judge.h"
#include "../engine/llm.h"
#include "../engine/session.h"
#include "cli.h"

const char cmd_judge_help[] =
    "usage: syneg judge SESSION --llm [--model M] [--cascade M] [--limit N] [--all]\n"
    "                   [--force] [--budget USD] [--template FILE] [--json]\n"
    "                   [--shard I/N]\n"
    "       syneg judge SESSION --cross-encoder DIR [--low P] [--high P] [--limit N]\n"
    "                   [--all] [--json] [--shard I/N]\n"
    "\n"
    "Ask an LLM whether the retrieved negatives of the review queue really are\n"
    "negatives (the verification prompt, prompts/reflect.txt), most likely false\n"
    "negative first.  A false_negative verdict keeps the row a suspect and raises\n"
    "its likelihood; a negative verdict lowers it and clears the suspect flag\n"
    "(unless a duplicate text or a hard filter set it).  Verdicts and reasons are\n"
    "stored with the row (prov \"judge\") and shown by 'syneg suspects' and the\n"
    "workbench.  The client, cache and budget are synthesis' (llm.* settings,\n"
    "SYNEG_LLM_URL, SYNEG_LLM_MODEL, SYNEG_LLM_KEY): answers are cached, verdicts\n"
    "are saved every 32 rows, and a second run skips rows that have a verdict, so\n"
    "a stopped run resumes without paying twice.\n"
    "  --llm            use the LLM judge (required)\n"
    "  --model M        model (default: llm.model)\n"
    "  --cascade M      ask model M too where the first says false negative or\n"
    "                   gives no usable answer; its verdict is final\n"
    "  --limit N        judge at most N rows (default: the whole queue)\n"
    "  --all            every row with a likelihood, not only the suspects\n"
    "  --force          ask again about rows that have a verdict (cached answers\n"
    "                   cost nothing)\n"
    "  --budget USD     spending cap for this run (default llm.budget_usd; needs\n"
    "                   llm.prices for the model)\n"
    "  --template FILE  a verification prompt of the reflect.txt format\n"
    "  --json           print the report as JSON\n"
    "  --shard I/N      judge only the rows of the queries whose id hashes to share\n"
    "                   I (0-based) of N: fixed by the ids, so N runs on copies of\n"
    "                   one mined session (other machines, a Slurm array) judge\n"
    "                   disjoint rows; copy their SESSION/negatives/*judge*.seg into\n"
    "                   any copy and they merge to what one run writes\n"
    "Cross-encoder judge: score the same rows with a cross-encoder folder (as\n"
    "'syneg rerank' reads it) and apply RocketQA-style thresholds on\n"
    "p = sigmoid(logit): p >= --high (default 0.9) false negative, p <= --low\n"
    "(default 0.1) negative, in between unsure (the row keeps its likelihood).\n"
    "Exit status 1 when some rows got no verdict (failures, budget).\n";

static void progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    cli_progress("judging", (double)done, (double)total, NULL);
}

int cmd_judge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"llm", no_argument, 0, 'L'}, {"model", required_argument, 0, 'm'},
        {"cascade", required_argument, 0, 'c'}, {"limit", required_argument, 0, 'n'},
        {"all", no_argument, 0, 'a'}, {"force", no_argument, 0, 'f'},
        {"budget", required_argument, 0, 'b'}, {"template", required_argument, 0, 't'},
        {"json", no_argument, 0, 'j'}, {"cross-encoder", required_argument, 0, 'C'},
        {"low", required_argument, 0, 'l'}, {"high", required_argument, 0, 'h'},
        {"shard", required_argument, 0, 'H'}, {0, 0, 0, 0}};
    judge_llm_opts jo;
    judge_llm_opts_default(&jo);
    judge_ce_opts co;
    judge_ce_opts_default(&co);
    int use_llm = 0, json = 0, c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'L': use_llm = 1; break;
        case 'm': jo.model = optarg; break;
        case 'c': jo.cascade_model = optarg; break;
        case 'n':
            if (cli_parse_long(optarg, 1, 1L << 40, &v) < 0) return cli_usage("judge", "--limit '%s': expected a number >= 1", optarg);
            jo.limit = (size_t)v;
            break;
        case 'a': jo.all_rows = 1; break;
        case 'f': jo.force = 1; break;
        case 'b':
            if (cli_parse_double(optarg, &jo.budget_usd) < 0 || !(jo.budget_usd >= 0))
                return cli_usage("judge", "--budget '%s': expected USD >= 0 (0: no cap)", optarg);
            break;
        case 't': jo.template_path = optarg; break;
        case 'C': co.model_dir = optarg; break;
        case 'l':
        case 'h': {
            double *dst = c == 'l' ? &co.low : &co.high;
            if (cli_parse_double(optarg, dst) < 0 || !(*dst >= 0 && *dst <= 1))
                return cli_usage("judge", "--%s '%s': expected a probability in 0..1", c == 'l' ? "low" : "high", optarg);
            break;
        }
        case 'j': json = 1; break;
        case 'H':
            if (cli_parse_shard(optarg, &jo.shard_i, &jo.shard_n) < 0)
                return cli_usage("judge", "--shard '%s': expected I/N with 0 <= I < N, e.g. 3/16", optarg);
            co.shard_i = jo.shard_i;
            co.shard_n = jo.shard_n;
            break;
        default: return cli_usage("judge", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (use_llm == !!co.model_dir) return cli_usage("judge", "choose one judge: --llm or --cross-encoder DIR");
    if (co.low > co.high) return cli_usage("judge", "--low %g is above --high %g", co.low, co.high);
    co.limit = jo.limit;
    co.all_rows = jo.all_rows;
    if (optind != argc - 1) return cli_usage("judge", "expected exactly one SESSION folder");
    sy_err err = {0};
    if (llm_global_init(&err) < 0) return cli_fail(&err);
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    jo.progress = co.progress = progress;
    judge_report rep;
    int rc = use_llm ? judge_llm_run(s, &jo, &rep, &err) : judge_ce_run(s, &co, &rep, &err);
    cli_progress_end();
    if (rc < 0) {
        cli_session_close(s);
        return cli_fail(&err);
    }
    if (json) {
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:b,s:s}", "queue", (json_int_t)rep.queue,
                              "already", (json_int_t)rep.already, "asked", (json_int_t)rep.asked, "false_negative",
                              (json_int_t)rep.false_neg, "negative", (json_int_t)rep.negative, "escalated",
                              (json_int_t)rep.escalated, "failed", (json_int_t)rep.failed, "not_sent",
                              (json_int_t)rep.not_sent, "requests", (json_int_t)rep.requests, "cache_hits",
                              (json_int_t)rep.cache_hits, "cost_usd", rep.cost_usd, "budget_reached",
                              rep.budget_reached, "first_error", rep.first_error);
        char *t = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (t) puts(t);
        free(t);
        json_decref(o);
    } else if (!use_llm) {
        printf("scored %zu of %zu queue rows with %s: %zu false negatives (p >= %g), %zu negatives (p <= %g), "
               "%zu unsure\n", rep.asked, rep.queue, co.model_dir, rep.false_neg, co.high, rep.negative, co.low,
               rep.failed);
    } else {
        printf("judged %zu of %zu queue rows (%zu had a verdict already): %zu false negatives, %zu negatives\n",
               rep.asked, rep.queue, rep.already, rep.false_neg, rep.negative);
        printf("  %zu escalated to the cascade model, %zu without a verdict, %zu not sent (budget)\n",
               rep.escalated, rep.failed, rep.not_sent);
        printf("  %zu requests, %zu cache hits, $%.4f%s\n", rep.requests, rep.cache_hits, rep.cost_usd,
               rep.budget_reached ? " (budget reached)" : "");
        if (rep.first_error[0]) printf("  first failure: %s\n", rep.first_error);
        if (rep.not_sent)
            printf("  the budget stopped %zu requests: raise --budget or llm.budget_usd and run again; verdicts\n"
                   "  so far are kept and answered requests are not paid again\n", rep.not_sent);
    }
    cli_session_close(s);
    return use_llm && (rep.failed || rep.not_sent) ? EXIT_ERR : EXIT_OK;
}
