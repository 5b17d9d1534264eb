/* fneval_judge: `syneg fneval --judge-llm | --judge-cross-encoder DIR`, the
 * held-out measurement of mining followed by a judge (engine/judge.h's
 * judge_list_run on the rows mining would write).  Kept apart from
 * cmd_fneval.c (helper-owned): cmd_fneval calls these hooks and nothing else. */
#ifndef SY_FNEVAL_JUDGE_H
#define SY_FNEVAL_JUDGE_H

#include <getopt.h>
#include <jansson.h>

#include "../engine/fneval.h"
#include "../engine/judge.h"

enum { FNEVAL_O_JUDGE_LLM = 0x401, FNEVAL_O_JUDGE_CE, FNEVAL_O_JUDGE_LOW, FNEVAL_O_JUDGE_HIGH,
       FNEVAL_O_JUDGE_MODEL, FNEVAL_O_JUDGE_BUDGET, FNEVAL_O_JUDGE_LIMIT };

#define FNEVAL_JUDGE_OPTIONS \
    {"judge-llm", no_argument, 0, FNEVAL_O_JUDGE_LLM}, \
    {"judge-cross-encoder", required_argument, 0, FNEVAL_O_JUDGE_CE}, \
    {"judge-low", required_argument, 0, FNEVAL_O_JUDGE_LOW}, \
    {"judge-high", required_argument, 0, FNEVAL_O_JUDGE_HIGH}, \
    {"judge-model", required_argument, 0, FNEVAL_O_JUDGE_MODEL}, \
    {"judge-budget", required_argument, 0, FNEVAL_O_JUDGE_BUDGET}, \
    {"judge-limit", required_argument, 0, FNEVAL_O_JUDGE_LIMIT}

#define FNEVAL_JUDGE_HELP \
    "With a judge: the rows mining would write are judged after mining, as\n" \
    "'syneg judge --all' judges stored rows (every one, or the most likely with\n" \
    "--judge-limit); a false-negative verdict makes the row a suspect, a negative\n" \
    "verdict a clean negative, no verdict leaves mining's call:\n" \
    "  --judge-llm               the LLM judge (llm.* settings, SYNEG_LLM_URL; answers\n" \
    "                            cached in SESSION/cache/llm, so a rerun is free)\n" \
    "  --judge-model M           its model (default llm.model)\n" \
    "  --judge-budget USD        its spending cap (default llm.budget_usd)\n" \
    "  --judge-limit N           judge only the N rows most likely false negatives\n" \
    "                            (the first N of the queue; default all)\n" \
    "  --judge-cross-encoder DIR the cross-encoder judge, thresholds --judge-low P\n" \
    "                            and --judge-high P on sigmoid(logit) (0.1 / 0.9)\n"

typedef struct {
    judge_llm_opts lo;
    judge_ce_opts co;
    judge_list jl;
    int llm, low_set, high_set, llm_only_set;
} fneval_judge;

void fneval_judge_init(fneval_judge *j);
/* One option: 1 if ours (*rc: 0 or a usage exit status), else 0. */
int fneval_judge_option(fneval_judge *j, int c, const char *arg, int *rc);
/* After parsing: 0 or a usage exit status. */
int fneval_judge_check(fneval_judge *j);
/* The judge for fneval_run_judged, or NULL when none was asked; *ctx set. */
fneval_judge_fn fneval_judge_hook(fneval_judge *j, session *s, const char *split, void **ctx, sy_err *err);
/* The judge's counts: printed (json NULL) or added to the report as "judge". */
void fneval_judge_report(const fneval_judge *j, json_t *json);

#endif
