/* mine: positive-aware hard-negative mining from a retriever into the
 * session's negatives store.
 *
 * For every query of the training split that has a positive (rel >= 1):
 *   1. retrieve the top range_hi documents; keep ranks range_lo+1..range_hi
 *      (1-based ranks of the retriever's list, positives included in the count);
 *   2. mask every known positive;
 *   3. text de-duplication with sy_text_hash over "title text": a candidate
 *      whose text equals a positive's is kept only as a suspect (NEG_F_DUP |
 *      NEG_F_SUSPECT); a candidate repeating an earlier candidate's text is dropped;
 *   4. every candidate gets a false-negative likelihood (mine_fn_likelihood)
 *      from scale-free signals (mine_signals); a candidate is a suspected false
 *      negative (NEG_F_SUSPECT) when its likelihood reaches the run's threshold:
 *      fn_threshold, moved so that the likelihood flags between suspect_min and
 *      suspect_max of the rows (measured on a calibration sample of the split,
 *      mine.c "the run's threshold");
 *   5. optional hard filters against the query's best positive score P (bm25:
 *      scored exactly; dense: known only when a positive is in the retrieved
 *      list; skipped when P is unknown or P <= 0):
 *        max_score S: score > S                 -> NEG_F_MAXSCORE
 *        margin M:    score > P - M             -> NEG_F_MARGIN
 *        max_rel R:   score > R * P             -> NEG_F_MAXREL
 *      a filtered candidate is kept as a suspect too;
 *   6. from the clean candidates take `num`: the num least likely false
 *      negatives among the pool x num best-ranked ones (sample top; pool 1:
 *      the best-ranked) or a seeded random choice (sample random; the seed
 *      mixed with the query id, so the choice does not depend on order or
 *      threads).  Clean candidates not taken are not written.
 * Rows go to one segment written with NEG_REPLACE (re-mining replaces this
 * source's earlier rows of each query) with source, 1-based rank, score,
 * flags, the likelihood (neg_row.fnl) and prov, a JSON object
 * {"pos":P,"ratio":score/P,"filters":[...],"fn":{signals...,"likelihood":L}}.
 * The report (counts and score distributions) is returned and saved as
 * SESSION/cache/mine-<retriever>-report.json.
 *
 * A dense run opens the session's BM25 index beside it (built on first use):
 * BM25 scores every dense candidate (the agreement signal) and gives the
 * similarity to the known positives, as in a BM25 run.
 *
 * Borrows session and retriever; not thread-safe.  Errors through sy_err. */
#ifndef SY_MINE_H
#define SY_MINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "retriever.h"
#include "session.h"

/* The false-negative signals of one candidate, all free of the scorer's scale
 * (so BM25 raw scores, cosines and cross-encoder logits are read alike).
 * Let F be the score at the bottom of the retrieved list (rank range_hi, or
 * the last hit), T the top score and P the best known positive's score.
 * NaN where unknown. */
typedef struct {
    float prel;     /* (score - F) / (P - F): 1 = as good as the positive, 0 = the floor */
    float list;     /* (score - F) / (T - F): position within the query's score range */
    float gap;      /* (score - next lower score) / (T - F): a step down after it */
    float rank;     /* ln(rank) / ln(range_hi): 0 = top, 1 = bottom of the list */
    float posrel;   /* (P - F) / (T - F): how well the positive itself is retrieved */
    /* Similarity to the known positives (BM25 sessions): each positive's
     * passage is taken as a query and scores the candidates. */
    float possim;   /* max over positives of the candidate's score / the positive's own */
    float posnear;  /* max over positives of the score / the best candidate's score
                     * for that positive (1: the candidate nearest some positive) */
    float posmean;  /* the same, averaged over the positives */
    float posrr;    /* max over positives of 1 / the candidate's rank among the
                     * candidates by similarity to that positive (1: the nearest) */
    float posref;   /* max over positives of the score / the best score of another
                     * known positive for it (NaN with one known positive) */
    /* Agreement between retrievers (dense runs; NaN for BM25): the candidate's
     * BM25 score placed in BM25's own list for the query, (s - F') / (T' - F'). */
    float agree;
} mine_signals;

/* One candidate as mining saw it (for fn-eval and tests). */
typedef struct {
    uint32_t query, doc;      /* corpus indices */
    uint32_t rank;            /* 1-based */
    float score, fnl;         /* fnl: the combined likelihood (0: not computed) */
    mine_signals sig;
    unsigned flags;           /* NEG_F_* */
    int hidden;               /* a positive hidden from the miner (opts.hide_share) */
    int outcome;              /* MINE_DROPPED, MINE_CLEAN (written as a negative), MINE_SUSPECT */
} mine_cand;

enum { MINE_DROPPED = 0, MINE_CLEAN = 1, MINE_SUSPECT = 2 };

typedef struct {
    const char *split;        /* NULL: the session's train split */
    unsigned range_lo, range_hi;   /* default 10:100 */
    unsigned num;             /* negatives per query, default 8 */
    int sample_random;        /* 0: top, 1: random */
    uint64_t seed;
    double fn_threshold;      /* likelihood at or above which a row is a suspect
                               * (setting mine.fn_threshold; > 1 turns it off) */
    double suspect_min, suspect_max;   /* the share of rows the likelihood may flag is held
                               * within this range by moving the threshold (mine.c,
                               * "the run's threshold"); 0 and 1: the threshold as given */
    unsigned pool;            /* sample top: the num least likely among the pool x num
                               * best-ranked clean candidates (1: the best-ranked) */
    double max_rel;           /* <= 0: off (default off) */
    double margin;            /* NAN: off */
    double max_score;         /* NAN: off */
    size_t max_queries;       /* 0: all (for tests and benchmarks) */
    unsigned shard_i, shard_n;   /* shard_n > 1: mine only share shard_i (0-based) of N:
                                  * the mined queries [I*m/N, (I+1)*m/N) in split order.
                                  * Shards touch disjoint queries, so their segments merge
                                  * in any session; the report is mine-R-report.shard-I-of-N.json */
    /* held-out evaluation (fneval.h): in queries with >= 2 positives, hide this
     * share of the positives (seeded by hide_seed, query and document ids; at
     * least one stays known); 0: off */
    double hide_share;
    uint64_t hide_seed;
    int dry_run;              /* write neither rows nor the report */
    void (*on_cand)(void *ctx, const mine_cand *c);   /* every candidate; may be NULL */
    void *cand_ctx;
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} mine_opts;


typedef struct {
    size_t n;
    double mean, min, p10, p50, p90, max;
} mine_dist;

typedef struct {
    char retriever[16], split[64];
    unsigned range_lo, range_hi, num;
    int sample_random;
    uint64_t seed;
    double max_rel, margin, max_score;   /* the filters used (NAN: off) */
    double fn_threshold;
    double threshold;         /* the likelihood threshold used (fn_threshold held to the band) */
    double suspect_min, suspect_max;
    size_t calib_queries;     /* queries the threshold was calibrated on (0: not calibrated) */
    unsigned pool;            /* 0: sample random */
    size_t whole_window;      /* queries whose every candidate was a suspect */
    size_t no_clean;          /* mined queries left without any clean negative */
    size_t hidden;            /* positives hidden (opts.hide_share) */
    double suspect_rate;      /* suspects / rows written */
    char warning[256];        /* "" or why the suspect rate looks implausible */
    size_t queries;           /* queries in the split */
    unsigned shard_i, shard_n;   /* the share mined (0/0: all) */
    size_t mined;             /* queries with a positive that were mined */
    size_t no_positive;       /* queries without any positive (skipped) */
    size_t short_queries;     /* mined queries left with fewer than num negatives */
    size_t no_pos_score;      /* queries where the positive score was unknown */
    size_t candidates;        /* candidates in the rank window */
    size_t masked_pos;        /* positives masked */
    size_t dup_pos, dup_neg;  /* texts equal to a positive / to another candidate */
    size_t by_max_score, by_margin, by_max_rel;   /* removed by each filter (overlapping) */
    size_t by_likelihood;     /* flagged because fnl >= fn_threshold */
    size_t suspects;          /* rows written as suspected false negatives */
    size_t negatives;         /* clean negatives written */
    mine_dist pos, neg, gap, suspect;  /* score distributions; gap = P - negative score */
    double seconds, retrieve_seconds;
} mine_report;

/* The defaults: ranks 10:100, 8 per query, sample top, seed 42, no hard
 * filters, and fn_threshold, suspect_min/max and pool from the settings table
 * (mine.* rows of settings.c, the one place their defaults live). */
void mine_opts_default(mine_opts *o);
/* Fill fn_threshold, suspect_min, suspect_max left NAN and pool left 0 from
 * the session's settings (s may be NULL: the table's defaults). */
void mine_opts_settings(session *s, mine_opts *o);
/* Parse "A:B" (0 <= A < B). */
int mine_parse_range(const char *s, unsigned *lo, unsigned *hi, sy_err *err);

int mine_run(session *s, retriever *r, const mine_opts *o, mine_report *rep, sy_err *err);
/* The combined false-negative likelihood in (0, 1) of a candidate's signals
 * (a logistic model fitted on held-out positives; NaN signals are left out). */
float mine_fn_likelihood(const mine_signals *sig);
/* The signals as a JSON object (for prov "fn"; caller owns it). */
json_t *mine_signals_json(const mine_signals *sig);
/* The report as a JSON object (caller owns the reference). */
json_t *mine_report_json(const mine_report *rep);

#endif
