/* eval: retrieval metrics exactly as trec_eval 9.0 computes them, and the
 * driver that runs a retriever over a split and writes a TREC run file.
 *
 * Per query (eval_query), following trec_eval's form_res_rels and measures:
 *   - hits are re-sorted by score descending, ties by docno DEScending
 *     (strcmp(b, a), trec_eval's comp_sim_docno); the given order is ignored;
 *   - a judgment with rel < 0 counts as unjudged; rel >= rel_level (default 1)
 *     is relevant for recall, MAP and MRR;
 *   - ndcg@k: gain = rel value (rel > 0), discount log2(rank + 1), ideal DCG
 *     from every judged document of the query (ndcg_cut);
 *   - recall@k = relevant in top k / all relevant (0 when none relevant);
 *   - mrr@k = 1 / rank of the first relevant within k (recip_rank cut at k);
 *   - map = trec_eval "map" over all hits given.
 * Averages (eval_acc): with `complete` (trec_eval -c; the default, as BEIR and
 * Anserini report) every judged query counts, those without hits as 0;
 * without it, only queries that have judgments AND hits (trec_eval's own
 * default).  Queries judged with no relevant document are counted (all
 * metrics 0), as trec_eval does.
 * The run file (eval_retriever's run_path) lists each query's hits in the
 * order trec_eval evaluates them: score as written descending, equal scores
 * by document id descending; its rank column is that order.
 *
 * Pure computation, no global state: thread-safe.  The driver borrows the
 * retriever and corpus.  Errors through sy_err. */
#ifndef SY_EVAL_H
#define SY_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "corpus.h"
#include "err.h"
#include "retriever.h"

#define EVAL_MAX_CUTS 8

typedef struct { const char *docno; float score; } eval_hit;
typedef struct { const char *docno; int rel; } eval_judgment;

typedef struct {
    size_t ncuts;
    unsigned cuts[EVAL_MAX_CUTS];   /* ascending, e.g. 10, 100, 1000 */
    int rel_level;                  /* 0 means 1 */
    int complete;                   /* trec_eval -c: judged queries without hits count as 0 (default 1) */
} eval_opts;

typedef struct {
    double ndcg[EVAL_MAX_CUTS], mrr[EVAL_MAX_CUTS], recall[EVAL_MAX_CUTS], precision[EVAL_MAX_CUTS];
    double map;
    size_t num_rel, num_ret, num_rel_ret;
} eval_result;

typedef struct {
    eval_opts o;
    eval_result sum;
    size_t queries;
} eval_acc;

/* Default cut-offs 10, 100, 1000, rel_level 1, complete. */
void eval_opts_default(eval_opts *o);
/* Parse "10,100,1000" into o->cuts (sorted, de-duplicated). 0 / -1. */
int eval_parse_cuts(eval_opts *o, const char *s, sy_err *err);

/* Metrics of one query.  hits are sorted in place (trec_eval order); judgments
 * in any order; docnos must be unique within each list. */
int eval_query(const eval_opts *o, eval_hit *hits, size_t nhits, const eval_judgment *j, size_t nj,
               eval_result *out, sy_err *err);

void eval_acc_init(eval_acc *a, const eval_opts *o);
/* Add one judged query; nhits is how many hits it had (for the -c rule). */
void eval_acc_add(eval_acc *a, const eval_result *r, size_t nhits);
/* Mean over the counted queries (zeros when none). */
void eval_acc_mean(const eval_acc *a, eval_result *mean);

/* ---- driver ---- */
typedef struct {
    eval_opts metrics;
    const char *split;        /* qrels split; required */
    size_t depth;             /* hits retrieved per query; 0: max(1000, largest cut) */
    const char *run_path;     /* write a TREC run file here, or NULL */
    const char *run_tag;      /* run name in the file; NULL: "syneg-<retriever>" */
    int remove_query;         /* drop hits whose doc id equals the query id (Pyserini --remove-query) */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} eval_run_opts;

typedef struct {
    eval_result mean;
    size_t queries;           /* queries averaged over */
    size_t judged;            /* queries with judgments in the split */
    size_t no_hits;           /* judged queries the retriever returned nothing for */
    size_t no_relevant;       /* judged queries without any relevant document */
    double seconds;           /* retrieval time */
} eval_report;

int eval_retriever(retriever *r, const corpus *c, const eval_run_opts *o, eval_report *out, sy_err *err);

/* Run-file line for one hit, "qid Q0 docid rank score tag\n", as Anserini writes it. */
int eval_format_run_line(char *buf, size_t n, const char *qid, const char *docid, size_t rank,
                         float score, const char *tag);

#endif
