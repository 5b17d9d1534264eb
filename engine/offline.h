/* offline: hard negatives without a model, by editing the positive passage.
 *
 * Three edits, chosen in turn and seeded (same inputs and seed, same output):
 *   "swap"     numbers and specific terms (capitalised words, rare words that
 *              are not in the query) replaced by ones of the same kind drawn
 *              from related passages, so the passage keeps its topic and its
 *              shape but states different facts;
 *   "replace"  the sentence that best matches the query (the answering one)
 *              replaced by the best-matching sentence of a related passage;
 *   "negate"   a claim of the answering sentence negated ("is" -> "is not",
 *              "increases" -> "decreases", ...).
 * Related passages come from offline_related, a small lexical (tf-idf
 * overlap) index over the corpus, excluding the query's positives.
 * Results are labelled source = offline by the caller (synth).
 *
 * Ownership: offline_index_build returns an owned index (offline_index_free,
 * NULL-safe); it borrows the corpus, which must outlive it.  A built index is
 * read-only: offline_related may run on several threads at once.
 * offline_generate fills caller-provided offline_neg slots whose strings the
 * caller frees with offline_neg_free.  Errors through sy_err. */
#ifndef SY_OFFLINE_H
#define SY_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "corpus.h"
#include "err.h"

typedef struct offline_index offline_index;

offline_index *offline_index_build(const corpus *c, sy_err *err);
void offline_index_free(offline_index *ix);
/* Up to k documents most related to text (best first), skipping the exclude
 * list; returns how many were written to out. */
size_t offline_related(const offline_index *ix, const char *text, const uint32_t *exclude, size_t nexclude,
                       uint32_t *out, size_t k);

typedef struct {
    char *text;
    const char *method;   /* "swap", "replace" or "negate" (static strings) */
    char *detail;         /* what was changed, human readable */
} offline_neg;

/* Write up to k edited versions of positive to out; returns how many (distinct,
 * each different from the positive).  related: texts of related passages. */
size_t offline_generate(const char *query, const char *positive, const char *const *related, size_t nrelated,
                        uint64_t seed, size_t k, offline_neg *out);
void offline_neg_free(offline_neg *n);

#endif
