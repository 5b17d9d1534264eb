/* mine_rescore: `syneg mine --rescore DIR`, the cross-encoder judge on the
 * rows one mining run wrote.  Kept apart from cmd_mine.c (the mining options
 * live there): cmd_mine calls these four hooks and nothing else.  The scoring,
 * thresholds and verdict rows are judge_ce_run's (engine/judge.h), the same
 * code path as `syneg judge --cross-encoder`. */
#ifndef SY_MINE_RESCORE_H
#define SY_MINE_RESCORE_H

#include <getopt.h>
#include <jansson.h>

#include "../engine/judge.h"
#include "../engine/mine.h"
#include "../engine/session.h"

enum { MINE_O_RESCORE = 0x301, MINE_O_RESCORE_LOW, MINE_O_RESCORE_HIGH };

#define MINE_RESCORE_OPTIONS \
    {"rescore", required_argument, 0, MINE_O_RESCORE}, \
    {"rescore-low", required_argument, 0, MINE_O_RESCORE_LOW}, \
    {"rescore-high", required_argument, 0, MINE_O_RESCORE_HIGH}

#define MINE_RESCORE_HELP \
    "  --rescore DIR    then score the rows this run wrote with the cross-encoder\n" \
    "                   folder DIR, as 'syneg judge --cross-encoder' does: p =\n" \
    "                   sigmoid(logit) >= --rescore-high (default 0.9) makes a row a\n" \
    "                   suspect, <= --rescore-low (default 0.1) a negative, in\n" \
    "                   between unsure; the verdict and logit go to prov \"judge\"\n"

typedef struct {
    judge_ce_opts co;
    int on, low_set, high_set;
    judge_cand *c;           /* the rows mining wrote (from mine_opts.on_cand) */
    size_t n, cap;
    int oom;
    judge_report rep;
} mine_rescore;

void mine_rescore_init(mine_rescore *m);
/* One option: 1 if it was one of ours (*rc: 0 or a usage exit status), else 0. */
int mine_rescore_option(mine_rescore *m, int c, const char *arg, int *rc);
/* After parsing: check the choice (usage exit status or 0) and, when on,
 * collect the written rows through mo->on_cand (which must be free). */
int mine_rescore_attach(mine_rescore *m, const char *kind, mine_opts *mo);
/* After mine_run: score (nothing when off); 0, or -1 with err. */
int mine_rescore_run(mine_rescore *m, session *s, sy_err *err);
/* The report: printed (json NULL) or added to the mining report as "rescore". */
void mine_rescore_report(const mine_rescore *m, json_t *json);
void mine_rescore_free(mine_rescore *m);

#endif
