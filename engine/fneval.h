/* fneval: the held-out-positives measurement of the false-negative filters.
 *
 * In every query with at least two positives a seeded share of the positives
 * is hidden from the miner (mine_opts.hide_share; one always stays known), so
 * they become unlabelled candidates exactly as real false negatives are.  The
 * mining runs dry (nothing is written to the store) and every candidate is
 * scored as usual; this module then reports how the hidden positives fared:
 *   recall        hidden positives in the rank window that were flagged suspects
 *   recall_top10  ... that sit in the first 10 % of the queue (the rows mining
 *                 would write, most likely first)
 *   suspect_rate  suspects / rows written
 *   clean_kept    clean negatives written / (num x mined queries)
 *   exported      hidden positives written as clean negatives (they would
 *                 train the model as negatives), over those in the window.
 * With features_path it also writes every candidate's signals and whether it
 * was hidden, one tab-separated line each, for fitting the likelihood model.
 *
 * Borrows session and retriever; not thread-safe; errors through sy_err. */
#ifndef SY_FNEVAL_H
#define SY_FNEVAL_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "judge.h"
#include "mine.h"
#include "retriever.h"
#include "session.h"

#define FNEVAL_HIDE_DEFAULT 0.3

typedef struct {
    size_t hidden;           /* positives hidden */
    size_t in_window;        /* hidden positives among the candidates */
    size_t caught;           /* of those, flagged suspects */
    size_t caught_top10;     /* of those, within the first 10 % of the queue */
    size_t exported;         /* hidden positives written as clean negatives */
    size_t mined;            /* caught + exported */
    size_t rows, suspects, clean, requested;
    double recall, recall_top10, recall_window, suspect_rate, clean_kept, exported_share;
    double hide_share;
    mine_report mine;
} fneval_report;

/* o: the mining options to measure (hide_share and hide_seed set the hiding;
 * hide_share 0 means FNEVAL_HIDE_DEFAULT).  features_path may be NULL. */
int fneval_run(session *s, retriever *r, const mine_opts *o, const char *features_path, fneval_report *rep,
               sy_err *err);
json_t *fneval_report_json(const fneval_report *rep);

/* The same with a judge between mining and the metrics (syneg fneval
 * --judge-llm / --judge-cross-encoder): judge(ctx, rows, n, err) gets every
 * row mining would write (query, doc, fnl) and sets rows[i].verdict (1: false
 * negative, the row becomes a suspect; 0: negative, a clean negative; -1:
 * mining's outcome stands) and rows[i].fnl; judge_list_run (judge.h) is one.
 * A judge that fails fails the run. */
typedef int (*fneval_judge_fn)(void *ctx, judge_cand *rows, size_t n, sy_err *err);
int fneval_run_judged(session *s, retriever *r, const mine_opts *o, const char *features_path,
                      fneval_judge_fn judge, void *judge_ctx, fneval_report *rep, sy_err *err);

#endif
