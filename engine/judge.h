/* judge: second opinions on retrieved negatives, highest false-negative
 * likelihood first.
 *
 * LLM judge (judge_llm_run): the verification prompt (prompts/reflect.txt,
 * or another template with the same {{query}} {{positive}} {{negative}}
 * placeholders) on the rows of the review queue that are corpus documents
 * (bm25, dense, import), most likely first, through the LLM client of
 * synthesis (llm.h: the llm.* settings, the same disk cache, budget, retries).
 * Optional cascade: a second (stronger) model is asked only where the first
 * says false negative or gives no usable verdict; its verdict is final.
 * A verdict rewrites the row in a new segment (tag "judge-llm"; the later row
 * wins), keeping everything else:
 *   prov "judge": {"llm": {"verdict", "reason", "model", "request"},
 *                  "llm_cascade": {...}}  (request = the cache key)
 *   false_negative: flags |= NEG_F_SUSPECT | NEG_F_REFLECT_FN; likelihood
 *                   raised (judge_combine)
 *   negative:       the likelihood lowered; the suspect flag cleared unless a
 *                   duplicate text or a hard filter set it
 * Rows are committed every JUDGE_COMMIT_EVERY verdicts, so a run that is
 * stopped keeps what it paid for; a later run skips rows that already carry
 * a verdict (unless force) and a forced one finds its answers in the cache:
 * a request is never paid twice.  Failed requests leave the row unchanged and
 * are counted.
 *
 * Cross-encoder judge (judge_ce_run): scores the same rows with a
 * cross-encoder checkpoint (crossenc.h; passages formatted by passage.h),
 * RocketQA-style: probability p = sigmoid(logit); p >= high: false_negative,
 * p <= low: negative, between: unsure (the row keeps its likelihood).  The
 * verdict goes to prov "judge": {"cross_encoder": {"verdict", "logit", "p",
 * "model"}} and moves the likelihood like an LLM verdict, with weight 0.7.
 * Every scored row is rewritten (segment tag "judge-ce"); no cache is needed
 * (scoring is local and deterministic).
 *
 * Lists outside the store (judge_llm_cands, judge_ce_cands): the same prompts,
 * client, cache, thresholds and verdict rules on candidates named by corpus
 * indices, with the verdicts returned in the list and nothing written: for
 * fneval's dry run.  mine --rescore scores exactly the rows a mining run
 * wrote (judge_ce_opts.only).
 *
 * Shards (shard_n > 1): a run judges only the rows of the queries whose id
 * hashes to shard_i (sy_hash64(query id) mod shard_n): fixed by the ids alone,
 * so shards run on copies of a session on other machines judge disjoint rows
 * whatever their queues look like, and their judge-*.seg segments, copied into
 * any session holding the same mined rows, merge to what one run writes.
 *
 * Borrows the session; not thread-safe; errors through sy_err. */
#ifndef SY_JUDGE_H
#define SY_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "session.h"

#define JUDGE_COMMIT_EVERY 32

typedef struct {
    size_t limit;              /* judge at most N rows (0: all in the queue) */
    int all_rows;              /* every row with a likelihood, not only suspects */
    int force;                 /* ask again about rows that carry a verdict */
    const char *model;         /* NULL: llm.model / SYNEG_LLM_MODEL */
    const char *cascade_model; /* NULL: no cascade */
    double budget_usd;         /* < 0: llm.budget_usd */
    const char *template_path; /* NULL: reflect.txt of the prompts folder */
    unsigned shard_i, shard_n; /* shard_n > 1: only the queries of share shard_i */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} judge_llm_opts;

typedef struct {
    size_t queue;              /* rows of the queue that are corpus documents */
    size_t already;            /* skipped: a verdict was there */
    size_t asked;              /* rows sent to the judge */
    size_t false_neg, negative;/* final verdicts */
    size_t escalated;          /* sent on to the cascade model */
    size_t failed;             /* no verdict (errors, unusable answers) */
    size_t not_sent;           /* stopped by the budget */
    size_t requests, cache_hits;
    double cost_usd;
    int budget_reached;
    char first_error[256];
} judge_report;

typedef struct {
    const char *model_dir;     /* cross-encoder folder (required) */
    size_t limit;              /* 0: the whole queue */
    int all_rows;
    double low, high;          /* on sigmoid(logit); defaults 0.1 / 0.9 */
    unsigned shard_i, shard_n; /* shard_n > 1: only the queries of share shard_i */
    /* only != NULL: score exactly the store rows of these (query, doc) pairs
     * with source only_source, instead of the queue (mine --rescore) */
    const struct judge_cand *only;
    size_t nonly;
    int only_source;
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} judge_ce_opts;

/* A candidate named by corpus indices, not a store row. */
typedef struct judge_cand {
    uint32_t query, doc;       /* corpus indices */
    uint32_t pos;              /* the known positive the LLM is shown; JUDGE_POS_BEST:
                                * the best-graded one of the qrels split */
    float fnl;                 /* likelihood (the LLM asks most likely first); 0: none */
    int verdict;               /* out: 1 false negative, 0 negative, -1 none (unsure,
                                * failed, not sent) */
    double p;                  /* out: the cross-encoder's sigmoid(logit); NaN for the LLM */
    float logit;               /* out: its logit */
} judge_cand;
#define JUDGE_POS_BEST UINT32_MAX

void judge_llm_opts_default(judge_llm_opts *o);
void judge_ce_opts_default(judge_ce_opts *o);
/* rep: queue, asked (scored), false_neg, negative; failed = unsure. */
int judge_ce_run(session *s, const judge_ce_opts *o, judge_report *rep, sy_err *err);
int judge_llm_run(session *s, const judge_llm_opts *o, judge_report *rep, sy_err *err);

/* The same judges on a list (all_rows, force, shards and o->only are ignored;
 * the LLM judges the o->limit most likely candidates (0: all), the
 * cross-encoder every one; the split's qrels give JUDGE_POS_BEST).
 * Verdicts go to c[i].verdict (and .p); nothing is written to the store. */
int judge_llm_cands(session *s, const judge_llm_opts *o, const char *split, judge_cand *c, size_t n,
                    judge_report *rep, sy_err *err);
int judge_ce_cands(session *s, const judge_ce_opts *o, judge_cand *c, size_t n, judge_report *rep, sy_err *err);
/* One judge over a list, as fneval's judge step calls it (fneval.h): the
 * verdicts go to c[i].verdict and each c[i].fnl moves as a store row's would
 * (judge_combine with the judge's weight).  Set s, split (NULL: the train
 * split) and exactly one of llm / ce; rep gets the counts. */
typedef struct {
    session *s;
    const char *split;
    const judge_llm_opts *llm;
    const judge_ce_opts *ce;
    judge_report rep;
} judge_list;
int judge_list_run(void *judge_list_ctx, judge_cand *c, size_t n, sy_err *err);

/* 1 when the query id falls in share shard_i of shard_n (shard_n <= 1: always). */
int judge_in_shard(const char *query_id, unsigned shard_i, unsigned shard_n);

/* How a verdict moves a likelihood (the one place): is_fn 1 raises it toward
 * 1, 0 lowers it; weight in [0, 1] is the judge's strength (1: certain). */
float judge_combine(float fnl, int is_fn, double weight);
#define JUDGE_LLM_WEIGHT 0.9   /* one LLM verdict */
#define JUDGE_CE_WEIGHT 0.7    /* one cross-encoder verdict */

#endif
