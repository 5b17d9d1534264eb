/* audit: the shortcut audit.  Can simple surface features tell synthetic
 * negatives from retrieved ones?  If they can, a model trained on the mix
 * may learn "looks generated => negative" instead of relevance (the
 * source-dependent shortcut of SyNeg's follow-up work).
 *
 * For every negative of the drawn training instances (as the model sees
 * them, formatted by passage.h) it measures
 *   title     1 when the passage carries a title, else 0
 *   length    words of the passage
 *   punct     punctuation characters per character
 *   digits    digits per character
 *   overlap   word overlap with the instance's positive (audit_word_overlap)
 *   score     the current scorer's score of (query, passage), when one is
 *             given (e.g. the session's BM25: synthetic and retrieved on one scale)
 * and reports per feature the AUC of separating synthetic (class 1) from
 * retrieved (class 0) negatives, as max(A, 1 - A) so 0.5 means "no shortcut"
 * and 1.0 "perfect shortcut", plus the AUC of a small logistic model over all
 * features (standardised, L2-regularised, fitted on half the samples and
 * scored on the other half, both ways).  Any AUC above AUDIT_WARN (0.75)
 * raises the warning.  Samples beyond AUDIT_MAX_SAMPLES are thinned
 * deterministically.
 *
 * Pure computation: no I/O, no globals; the audit of a mix_set reads only
 * the instances of its last draw.  Errors through sy_err. */
#ifndef SY_AUDIT_H
#define SY_AUDIT_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "mix.h"
#include "retriever.h"
#include "util.h"

#define AUDIT_WARN 0.75
#define AUDIT_MAX_SAMPLES 200000

enum { AUDIT_TITLE, AUDIT_LENGTH, AUDIT_PUNCT, AUDIT_DIGITS, AUDIT_OVERLAP, AUDIT_SCORE, AUDIT_NFEAT };
const char *audit_feature_name(int f);   /* "title", "length", ... */

typedef struct {
    double x[AUDIT_NFEAT];
    int synthetic;                 /* 1 synthetic, 0 retrieved */
} audit_sample;

typedef struct {
    size_t nsyn, nret;             /* samples of each class */
    int have[AUDIT_NFEAT];         /* feature measured (score: only with a scorer) */
    double auc[AUDIT_NFEAT];       /* separation AUC, 0.5..1 */
    double direction[AUDIT_NFEAT]; /* P(synthetic > retrieved): above 0.5, synthetic higher */
    double logistic_auc;           /* the small model over every measured feature */
    double median_overlap_syn, median_overlap_ret;
    double mean_len_syn, mean_len_ret, title_syn, title_ret;   /* fractions with a title */
    int warn;                      /* some AUC > AUDIT_WARN */
    char scorer[32];               /* "bm25", or "" */
} audit_report;

/* Distinct lower-cased words of a that also occur in b, over the distinct
 * words of a (0 when a has none). */
double audit_word_overlap(const char *a, const char *b);
/* The features of one negative passage (title, text as the model reads them,
 * i.e. after passage.h) against its positive passage; x[AUDIT_SCORE] = score. */
void audit_features(const char *title, const char *text, const char *positive, double score,
                    double x[AUDIT_NFEAT]);
/* Rank AUC, P(a > b) + P(a = b) / 2; NAN when either side is empty. */
double audit_auc(const double *a, size_t na, const double *b, size_t nb);
/* The report of n samples; have_score says whether x[AUDIT_SCORE] is measured. */
int audit_compute(const audit_sample *s, size_t n, int have_score, audit_report *r, sy_err *err);
/* The audit of the instances of the mix's last draw, passages formatted with
 * titles (PASSAGE_TITLES) or not; scorer may be NULL (no score feature). */
int audit_mix(const mix_set *m, int titles, retriever *scorer, audit_report *r, sy_err *err);

/* {"synthetic","retrieved","auc":{feature: AUC},"direction":{...},"logistic_auc",
 *  "median_overlap":{"synthetic","retrieved"},"warning": bool,"threshold",
 *  "scorer"} (new reference). */
json_t *audit_report_json(const audit_report *r);
/* Lines for a terminal: the AUCs, and a WARNING line naming the features above
 * the threshold with what to do. */
void audit_report_text(const audit_report *r, sy_buf *out);

#endif
