/* offline: the offline generator, a STAND-IN FOR AN LLM, not SyNeg's method:
 * hard negatives without a model, so the rest of the pipeline can run (and be
 * tested) with no endpoint.  Everything it writes is labelled source
 * "offline" and generator "offline" by the caller (synth); export leaves it out
 * unless asked (--include-offline).
 *
 * What it writes shares the positive's topic and entities but not its answer,
 * in the collection's form (title, style, the positive's length):
 *   "recombine"  the positive's sentence least like the query (topic and
 *                entities, not the answer) followed by sentences of related
 *                passages (one "home" passage first, in order, then the best
 *                query matches of the others) up to the positive's length in
 *                words; the answering sentence is left out;
 *   "swap"       the answering sentence with its numbers and specific terms
 *                (capitalised or rare words not in the query) swapped for ones
 *                of the same kind from related passages, so it states a
 *                different fact, then related sentences to the positive's length.
 * No bare negation ("is" -> "is not"): on claim-style data a negated claim
 * often still answers the query.  On a titled collection a negative carries
 * the title of its home passage (and opens its text with it when the
 * collection's texts repeat their title); untitled collections get "".
 * detail says in words what was done (sentence numbers, related passages
 * 1-based in the order given, the swaps).  Attributes (difficulty, type, ...)
 * are not read: the caller says so.
 * Related passages come from offline_related, a small lexical (tf-idf
 * overlap) index over the corpus, excluding the query's positives.
 * Same inputs and seed, same output.
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

/* How every report, provenance and screen names this generator. */
#define OFFLINE_STAND_IN "offline generator: a stand-in for an LLM (sentence recombination and entity swaps from related passages, no model)"

typedef struct offline_index offline_index;

offline_index *offline_index_build(const corpus *c, sy_err *err);
void offline_index_free(offline_index *ix);
/* Up to k documents most related to text (best first), skipping the exclude
 * list; returns how many were written to out. */
size_t offline_related(const offline_index *ix, const char *text, const uint32_t *exclude, size_t nexclude,
                       uint32_t *out, size_t k);

typedef struct { const char *title, *text; } offline_doc;   /* borrowed; title "" when none */

typedef struct {
    char *title;          /* "" on an untitled collection */
    char *text;
    const char *method;   /* "recombine" or "swap" (static strings) */
    char *detail;         /* what was done, human readable */
} offline_neg;

/* Write up to k negatives for (query, positive) to out; returns how many
 * (distinct, each different from the positive).  At most 64 related passages
 * are used; with none, only "swap" can work (and the result is short). */
size_t offline_generate(const char *query, const offline_doc *positive, const offline_doc *related,
                        size_t nrelated, uint64_t seed, size_t k, offline_neg *out);
void offline_neg_free(offline_neg *n);

#endif
