/* fneval --judge-*: see fneval_judge.h. */
#include "fneval_judge.h"

#include <stdio.h>
#include <string.h>

#include "../engine/llm.h"
#include "cli.h"

void fneval_judge_init(fneval_judge *j)
{
    memset(j, 0, sizeof *j);
    judge_llm_opts_default(&j->lo);
    judge_ce_opts_default(&j->co);
}

int fneval_judge_option(fneval_judge *j, int c, const char *arg, int *rc)
{
    *rc = 0;
    switch (c) {
    case FNEVAL_O_JUDGE_LLM: j->llm = 1; return 1;
    case FNEVAL_O_JUDGE_CE: j->co.model_dir = arg; return 1;
    case FNEVAL_O_JUDGE_MODEL: j->lo.model = arg; j->llm_only_set = 1; return 1;
    case FNEVAL_O_JUDGE_LIMIT: {
        long v;
        j->llm_only_set = 1;
        if (cli_parse_long(arg, 1, 1L << 40, &v) < 0) *rc = cli_usage("fneval", "--judge-limit '%s': expected a number >= 1", arg);
        else j->lo.limit = (size_t)v;
        return 1;
    }
    case FNEVAL_O_JUDGE_BUDGET:
        j->llm_only_set = 1;
        if (cli_parse_double(arg, &j->lo.budget_usd) < 0 || !(j->lo.budget_usd >= 0))
            *rc = cli_usage("fneval", "--judge-budget '%s': expected USD >= 0 (0: no cap)", arg);
        return 1;
    case FNEVAL_O_JUDGE_LOW:
    case FNEVAL_O_JUDGE_HIGH: {
        int low = c == FNEVAL_O_JUDGE_LOW;
        double *dst = low ? &j->co.low : &j->co.high;
        if (cli_parse_double(arg, dst) < 0 || !(*dst >= 0 && *dst <= 1))
            *rc = cli_usage("fneval", "--judge-%s '%s': expected a probability in 0..1", low ? "low" : "high", arg);
        if (low) j->low_set = 1;
        else j->high_set = 1;
        return 1;
    }
    }
    return 0;
}

int fneval_judge_check(fneval_judge *j)
{
    if (j->llm && j->co.model_dir) return cli_usage("fneval", "choose one judge: --judge-llm or --judge-cross-encoder DIR");
    if ((j->low_set || j->high_set) && !j->co.model_dir)
        return cli_usage("fneval", "--judge-low and --judge-high go with --judge-cross-encoder DIR");
    if (j->llm_only_set && !j->llm) return cli_usage("fneval", "--judge-model, --judge-budget and --judge-limit go with --judge-llm");
    if (j->co.low > j->co.high)
        return cli_usage("fneval", "--judge-low %g is above --judge-high %g", j->co.low, j->co.high);
    return 0;
}

static void progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    cli_progress("judging", (double)done, (double)total, NULL);
}

fneval_judge_fn fneval_judge_hook(fneval_judge *j, session *s, const char *split, void **ctx, sy_err *err)
{
    *ctx = NULL;
    if (!j->llm && !j->co.model_dir) return NULL;
    if (j->llm && llm_global_init(err) < 0) return NULL;
    j->lo.progress = j->co.progress = progress;
    j->jl = (judge_list){.s = s, .split = split, .llm = j->llm ? &j->lo : NULL, .ce = j->llm ? NULL : &j->co};
    *ctx = &j->jl;
    return judge_list_run;
}

void fneval_judge_report(const fneval_judge *j, json_t *json)
{
    if (!j->llm && !j->co.model_dir) return;
    const judge_report *r = &j->jl.rep;
    const char *what = j->llm ? "llm" : "cross_encoder";
    if (json) {
        json_object_set_new(json, "judge",
                            json_pack("{s:s,s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "kind", what, "model",
                                      j->llm ? j->lo.model : j->co.model_dir, "judged", (json_int_t)r->asked,
                                      "false_negative", (json_int_t)r->false_neg, "negative", (json_int_t)r->negative,
                                      "no_verdict", (json_int_t)(r->failed + r->not_sent), "requests",
                                      (json_int_t)r->requests, "cache_hits", (json_int_t)r->cache_hits,
                                      "escalated", (json_int_t)r->escalated, "cost_usd", r->cost_usd));
        return;
    }
    printf("  judge (%s)    %zu rows judged: %zu false negatives, %zu negatives, %zu without a verdict\n", what,
           r->asked, r->false_neg, r->negative, r->failed + r->not_sent);
    if (j->llm)
        printf("                 %zu requests, %zu cache hits, $%.4f%s\n", r->requests, r->cache_hits, r->cost_usd,
               r->budget_reached ? " (budget reached)" : "");
}
