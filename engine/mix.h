/* mix: hybrid sampling: turns the curated pool (negatives store + every human
 * label) into training instances, each a (query, positive) with a group of N
 * negatives, a fraction R of them synthetic and 1 - R retrieved (SyNeg's
 * per-instance mixing).  Used by export (files for external trainers) and by
 * the built-in trainer in-process.
 *
 * Sources.  synthetic = NEG_LLM, NEG_OFFLINE; retrieved = NEG_BM25,
 * NEG_DENSE, NEG_IMPORT, NEG_MANUAL (mix_source_class).
 *
 * Instances.  The positives of a query are its qrels rows with rel > 0 in
 * the split (default: the session's train split), then, with opts.promote,
 * every negative a person rejected (a false negative is a positive), in
 * store order.  One instance per (query, positive); queries are taken in
 * corpus order (dense index), never in hash order.  A query with positives
 * but no usable negative at all is skipped and counted.
 *
 * Human labels win, applied once in mix_build to each candidate (query, row):
 *   rejected (LABEL_REJECT)          never a negative (promoted with opts.promote);
 *   opts.reviewed_only               only LABEL_ACCEPT rows are candidates;
 *   flags SUSPECT / REFLECT_FN       excluded unless accepted ("suspect");
 *   flags MAXREL / MARGIN / MAXSCORE excluded unless accepted ("filtered");
 *   flag DUP                         excluded unless accepted ("duplicate");
 *   a qrels positive of the query    always excluded ("positive");
 *   an id neither in the corpus nor carrying text: excluded ("unknown");
 *   opts.skip_offline and source NEG_OFFLINE: excluded ("offline").
 * Each exclusion is counted once per (query, row) in mix_report, for the
 * queries that have positives (the ones training sees).
 *
 * Drawing (mix_draw, per epoch).  Strategy MIX_INSTANCE: each group takes
 * round(R*N) synthetic and the rest retrieved, sampled without replacement.
 * A ratio means what it says: a class short of rows repeats its own rows
 * (counted in repeats) so every group has exactly N; R 0 draws retrieved rows
 * only and R 1 synthetic only (a query without that class is skipped,
 * counted in skipped_no_class).  Only when a query has no row of one class at
 * all does the other class take its share (counted in fill_*).  opts.fill
 * (explicit) lets a short class borrow from the other class first (counted in
 * fill_*), then repeats.  A group short of N distinct rows is counted in
 * padded_instances (the query with the fewest distinct named in
 * padded_query); with opts.no_repeat it holds only its distinct rows
 * (nneg < N) instead of repeats.
 * A document several retrievers found (one store row per source) is one
 * candidate: its first row in store order decides, the others are counted
 * as "duplicate".
 *
 * Queries with the same text.  Two queries of the split whose texts are equal
 * (SciFact claims 89 and 90) may have different qrels: a passage positive for
 * one would be a negative of the other, the same text training both ways.
 * Such a negative is excluded and counted in same_text_excluded (the first
 * case named in same_text_query/_twin/_doc); same_text_queries counts the
 * queries that share their text with another query of the split.
 *
 * Strategy MIX_BATCH: each instance draws all N
 * from one class; within every run of batch_size consecutive instances
 * round(R*batch_size) are synthetic (positions chosen at random); a class
 * short of rows behaves as above.  Schedule: R moves linearly from mix_start
 * to mix_end over the whole run (all epochs, instance positions in training
 * order): R(p) with p = (epoch*n + i) / (nepochs*n - 1).  With opts.shuffle the
 * instance order of each epoch is a seeded permutation; otherwise corpus order.
 *
 * Determinism.  Everything is a function of (session contents, opts, epoch,
 * nepochs): a private splitmix64/xoshiro256** stream seeded from opts.seed and
 * the epoch; no global state, no time, no hash-order iteration.
 *
 * Ownership.  mix_set owns copies of every negative id and synthetic text it
 * uses, so a later neg_store_refresh does not invalidate it.  Corpus texts
 * (query text, document title/text) are borrowed from session_corpus and live
 * until session_close.  Instances returned by mix_at live until the next
 * mix_draw or mix_free.  Not thread-safe per object; two mix_sets may be used
 * side by side.  Errors through sy_err. */
#ifndef SY_MIX_H
#define SY_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "session.h"

typedef enum { MIX_INSTANCE = 0, MIX_BATCH = 1 } mix_strategy;
typedef enum { MIX_RETRIEVED = 0, MIX_SYNTHETIC = 1 } mix_class;

/* Source of a positive taken from qrels (a negative's source is a neg_source). */
#define MIX_SRC_QRELS (-1)

typedef struct {
    double mix_start, mix_end;   /* R: synthetic fraction, 0..1; equal = no schedule */
    unsigned num;                /* N negatives per instance (>= 1) */
    int strategy;                /* mix_strategy */
    unsigned batch_size;         /* MIX_BATCH balancing window (default 32 when 0) */
    uint64_t seed;
    int promote;                 /* rejected negatives join the positives */
    int reviewed_only;           /* only accepted negatives are candidates */
    int shuffle;                 /* seeded permutation of instances per epoch */
    int length_match;            /* rebalance: each synthetic negative drawn is the one
                                    closest in length (words) to a randomly drawn retrieved
                                    candidate of the same query (length-matched sampling) */
    int skip_offline;            /* leave out the offline generator's rows (a stand-in
                                    for an LLM; export does unless --include-offline) */
    int no_repeat;               /* a pool < N gives a shorter group, not repeats */
    int fill;                    /* a class short of rows borrows from the other (counted
                                    in fill_*); default 0: it repeats its own rows */
    const char *split;           /* NULL: session_train_split */
    /* optional: restrict to these query ids (NULL: all queries of the split) */
    const char *const *queries;
    size_t nqueries;
} mix_opts;

/* Defaults: R 0.5 (no schedule), N 7, instance strategy, batch 32, seed 42. */
void mix_opts_default(mix_opts *o);
/* Parse "R" or "R0:R1" into start/end; -1 when malformed or outside 0..1. */
int mix_parse_ratio(const char *s, double *start, double *end);
int mix_strategy_parse(const char *s);       /* -1 when unknown */
const char *mix_strategy_name(int strategy);
int mix_source_class(int neg_source);        /* MIX_SYNTHETIC or MIX_RETRIEVED */

typedef struct {
    const char *id;       /* corpus doc id, or "<source>:<hash>" for synthetic text */
    const char *title;    /* "" when none; synthetic: the provenance's "title" (synth.h) */
    const char *text;
    int source;           /* neg_source, or MIX_SRC_QRELS for a qrels positive */
    float score;          /* row score; for a positive its grade (qrels rel, 1 if promoted) */
    int label;            /* label_kind the person gave (LABEL_NONE if none) */
} mix_passage;

typedef struct {
    uint32_t query;             /* dense query index in the session corpus */
    const char *query_id, *query_text;
    const mix_passage *pos;     /* the positive of this instance */
    const mix_passage *const *negs;   /* opts.num negatives (fewer with no_repeat) */
    size_t nneg;
    double ratio;               /* R in force for this instance */
    int cls;                    /* MIX_BATCH: the class drawn (else -1) */
} mix_instance;

/* Counters.  Exclusions are per (query, row) at build; the draw counters
 * accumulate over every mix_draw since mix_build. */
enum { MIX_X_REJECTED, MIX_X_UNREVIEWED, MIX_X_SUSPECT, MIX_X_FILTERED,
       MIX_X_DUPLICATE, MIX_X_POSITIVE, MIX_X_UNKNOWN, MIX_X_OFFLINE, MIX_NX };
typedef struct {
    size_t queries;             /* queries with >= 1 instance */
    size_t instances;           /* instances per epoch */
    size_t positives_qrels, positives_promoted;
    size_t skipped_no_negatives;   /* (query, positive) pairs with an empty pool */
    size_t candidates[NEG_NSOURCES];   /* usable pool rows per source */
    size_t excluded[MIX_NX];
    /* draws */
    size_t drawn_instances;
    size_t drawn[NEG_NSOURCES];     /* negatives emitted per source */
    size_t fill_synthetic_short;    /* retrieved used because synthetic ran out */
    size_t fill_retrieved_short;    /* synthetic used because retrieved ran out */
    size_t repeats;                 /* negatives repeated because the pool < N */
    size_t padded_instances;        /* instances whose pool was < N (repeated, or short with no_repeat) */
    const char *padded_query;       /* the padded query with the fewest distinct negatives (NULL: none) */
    size_t padded_distinct;         /* ... and how many distinct it had */
    size_t same_text_queries;       /* queries whose text another query of the split has too */
    size_t same_text_excluded;      /* negatives that are a positive of a same-text query */
    const char *same_text_query, *same_text_twin, *same_text_doc;   /* the first such case */
    size_t skipped_no_class;        /* of skipped_no_negatives: positives whose query has
                                       no row of the ratio's one class (R 0 or 1, no fill) */
} mix_report;
const char *mix_exclusion_name(int x);   /* "rejected", "unreviewed", ... */

typedef struct mix_set mix_set;

/* Gather positives and candidate pools of every query, applying labels.
 * Loads the corpus through session_corpus.  Fails with SY_ENOTFOUND when the
 * split does not exist, SY_EINVAL for bad options. */
mix_set *mix_build(session *s, const mix_opts *opts, sy_err *err);
void mix_free(mix_set *m);
size_t mix_ninstances(const mix_set *m);      /* per epoch */
/* Draw the negatives of every instance for epoch (0-based) of nepochs. */
int mix_draw(mix_set *m, unsigned epoch, unsigned nepochs, sy_err *err);
/* i-th instance in training order of the last draw (i < mix_ninstances). */
const mix_instance *mix_at(const mix_set *m, size_t i);
const mix_report *mix_get_report(const mix_set *m);
/* Positives of instance i's query (all of them, for formats listing every
 * positive); *n receives the count. */
const mix_passage *mix_query_positives(const mix_set *m, size_t i, size_t *n);
/* Every usable candidate of instance i's query (after exclusions). */
const mix_passage *mix_query_pool(const mix_set *m, size_t i, size_t *n);

#endif
