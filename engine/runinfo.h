/* runinfo: one training run's history as data, and runs side by side.
 *
 * runinfo_load reads a run folder (runs.h): status.json, config.json's
 * options, and progress.jsonl as curves (loss per step; nDCG@10, MRR@10,
 * R@100 per evaluation) plus the "data" line written at launch (instances,
 * pool composition, label counts).  The run view of the workbench and
 * `syneg runs --compare` read runs only through here.
 *
 * runinfo_compare builds one table of runs: each run's config, its final (or
 * last) evaluation, and the baselines of the same evaluation: "untrained"
 * (the run's own step-0 evaluation, the model before any update) and,
 * when given, BM25 on the same split and query cap (computed by the caller,
 * which owns retrieval).  Config keys whose values differ between the runs
 * are listed in "differs".
 *
 * Everything returned is owned by the caller; no shared state (thread-safe).
 * Errors through sy_err. */
#ifndef SY_RUNINFO_H
#define SY_RUNINFO_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "runs.h"
#include "util.h"

typedef struct {
    long step;
    double loss, acc, lr;
} runinfo_step;

typedef struct {
    long step;
    double ndcg10, mrr10, recall100;
    long queries;
    int final;
} runinfo_eval;

typedef struct {
    run_status st;
    json_t *options;          /* config.json "options" (train_opts_to_json), NULL if unreadable */
    json_t *data;             /* the last "data" progress object, NULL before launch finished */
    runinfo_step *steps;
    size_t nsteps;
    runinfo_eval *evals;
    size_t nevals;
    char split[64];           /* eval split named by the evaluations */
    int cancelled_line;       /* a "cancelled" progress line was seen */
} runinfo;

int runinfo_load(const char *run_dir, runinfo *ri, sy_err *err);
void runinfo_free(runinfo *ri);
/* The final evaluation, else the last one; NULL when none. */
const runinfo_eval *runinfo_last_eval(const runinfo *ri);
/* The step-0 evaluation (the untrained model); NULL when none. */
const runinfo_eval *runinfo_untrained(const runinfo *ri);

/* Compare runs (ids of session_dir): an object
 *   {"runs":[{"id","state","step","total","options":{...},"eval":{...}|null,
 *             "untrained":{...}|null}],
 *    "differs":[config keys whose values are not all equal],
 *    "baselines":{"bm25":{...}|absent, "untrained":{...}|absent}}
 * bm25 (may be NULL) is added as baselines.bm25 (borrowed). */
json_t *runinfo_compare(const char *session_dir, const char *const *ids, size_t n, const json_t *bm25, sy_err *err);
/* The same as CSV (one header line, one line per run and baseline):
 * kind,id,state,step,ndcg@10,mrr@10,recall@100,<differing config keys...> */
int runinfo_compare_csv(const json_t *cmp, sy_buf *out);

#endif
