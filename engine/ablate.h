/* ablate: the SyNeg ablation in one go — the same model, steps and seeds
 * trained once per arm, each arm drawing negatives only from its own sources:
 *
 *   inbatch     group 1: no hard negatives, the other queries' positives only
 *   retrieved   mix 0: mined / imported / manual negatives only (no fill)
 *   synthetic   mix 1: LLM / offline negatives only (no fill)
 *   hybrid      mix R (given): R synthetic, 1-R retrieved per group (no fill)
 *
 * Every (arm, seed) is a normal run folder (SESSION/runs/ID, train.h) that
 * `syneg runs`, the workbench's jobs panel and run view read like any other.
 * The ablation itself is SESSION/ablations/ID/:
 *   ablation.json  {"format":"syneg-ablation","version":1,"id","created",
 *                   "options":{train_opts of the base},"mix":R,"seeds":[..],
 *                   "arms":[{"name","mix","group","runs":[run id | null per seed]}]}
 *                  rewritten atomically as runs are created
 *   status.json    runs.h's status format: state running|done|failed|
 *                  cancelled (killed when its process is gone), step = runs
 *                  finished, total = runs planned, message
 * ablate_run trains the runs in order (arm by arm, seed by seed), skipping
 * runs already done and resuming an unfinished one from its checkpoint, so
 * a killed or cancelled ablation continues where it stopped.
 *
 * ablate_table reads only the run folders (their final evaluations): one row
 * per arm with the mean and sample standard deviation over seeds of
 * nDCG@10, MRR@10 and R@100, plus the untrained model (step 0).
 *
 * Not thread-safe per ablation; errors through sy_err. */
#ifndef SY_ABLATE_H
#define SY_ABLATE_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "train.h"
#include "util.h"

enum { ABLATE_INBATCH = 1, ABLATE_RETRIEVED = 2, ABLATE_SYNTHETIC = 4, ABLATE_HYBRID = 8, ABLATE_ALL = 15 };
#define ABLATE_MAX_SEEDS 16

typedef struct {
    train_opts base;       /* model, steps, batch, group, evaluation; seed and mix set per run */
    double mix;            /* the hybrid arm's synthetic fraction */
    uint64_t seeds[ABLATE_MAX_SEEDS];
    int nseeds;
    unsigned arms;         /* ABLATE_* bits; 0 = all */
} ablate_opts;

const char *ablate_arm_name(int bit);            /* "inbatch", ... */
/* "inbatch,retrieved,..." -> bits; -1 for an unknown name */
int ablate_parse_arms(const char *s);

/* Make SESSION/ablations/ID with ablation.json and a running status.
 * Returns the malloc'd folder; *id_out (optional) a malloc'd ID. */
char *ablate_create(const char *session_dir, const ablate_opts *o, char **id_out, sy_err *err);
/* malloc'd SESSION/ablations/ID, SY_ENOTFOUND when absent */
char *ablate_find(const char *session_dir, const char *id, sy_err *err);

typedef struct {
    /* non-zero stops at the next step boundary (the current run is cancelled
     * cleanly, the ablation's status becomes "cancelled") */
    int (*should_stop)(void *ctx);
    /* every progress line of the run in training (may be NULL) */
    void (*on_line)(void *ctx, const char *json_line);
    /* a run starts: arm name, seed, run id, k-th of n (may be NULL) */
    void (*on_run)(void *ctx, const char *arm, uint64_t seed, const char *run_id, int k, int n);
    void *ctx;
} ablate_hooks;

/* Train every planned run not done yet.  SY_ECANCEL when stopped. */
int ablate_run(const char *session_dir, const char *abl_dir, const ablate_hooks *h, sy_err *err);

/* {"id","state","seeds":[..],"arms":[{"name","mix","group","runs":[{"id","seed",
 *  "state","ndcg@10","mrr@10","recall@100"}],"n","mean":{..},"sd":{..}}],
 *  "untrained":{"ndcg@10",..}|null,"queries":N,"split":..} from the run folders. */
json_t *ablate_table(const char *session_dir, const char *abl_dir, sy_err *err);
/* The table as text: one line per arm, "mean ± sd (n)" per metric. */
int ablate_format_table(const json_t *table, sy_buf *out);

#endif
