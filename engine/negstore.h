/* negstore: the session's store of candidate negatives, built for millions of rows.
 *
 * Each producer (a mining run, a synthesis job, an import, a manual add) writes
 * its own immutable segment file under SESSION/negatives/ through a neg_writer:
 * rows are buffered, then written to a temporary file, fsync'd and renamed
 * into place on commit, so a reader never sees half a segment and a job never
 * fights the TUI for a file.  A neg_store maps every segment (mmap) and keeps
 * only compact references per query; neg_store_refresh picks up segments that
 * background jobs committed since.  Merging rules, oldest segment first:
 *   - the same (query, negative id, source) seen again: the later row wins;
 *     the same negative from another source is a row of its own (a document
 *     both BM25 and dense mining found has one row per retriever);
 *   - a segment written with NEG_REPLACE drops, for each query it holds, every
 *     earlier row of the sources it holds for that query (re-mining replaces
 *     the old bm25 list; synthesis appends beside the old).
 * neg_store_compact rewrites the live rows into one segment (writer only).
 * Opening: after merging the segments, the store saves the merged view in
 * SESSION/cache/negatives.idx (negindex.h); the next open that finds the
 * same segment files unchanged maps it instead of reading and merging every
 * row, so `info`, `label` and the workbench open in time proportional to what
 * they touch.  Answers are the same either way.
 *
 * Negative ids: a corpus document's own id; synthetic texts get
 * "<source>:<16 hex of the normalised text hash>" (see neg_synthetic_id).
 * Each row may carry a false-negative likelihood (fnl, written by mining and
 * the judges); the review queue orders suspects by it.
 * Rows returned by neg_store_get point into the mapped segments and live until
 * neg_store_free or the next neg_store_refresh/compact.  Not thread-safe per
 * object.  Segment format: README, "negatives/NAME.seg". */
#ifndef SY_NEGSTORE_H
#define SY_NEGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum {
    NEG_BM25, NEG_DENSE, NEG_LLM, NEG_OFFLINE, NEG_MANUAL, NEG_IMPORT,
    NEG_NSOURCES
} neg_source;

/* row flags */
enum {
    NEG_F_SUSPECT    = 1 << 0,  /* suspected false negative: needs a person */
    NEG_F_MAXREL     = 1 << 1,  /* removed by the --max-rel filter */
    NEG_F_MARGIN     = 1 << 2,  /* removed by the --margin filter */
    NEG_F_MAXSCORE   = 1 << 3,  /* removed by the --max-score filter */
    NEG_F_REFLECT_FN = 1 << 4,  /* the reflection pass judged it a false negative */
    NEG_F_DUP        = 1 << 5,  /* text duplicates a positive or another negative */
};

/* segment flags */
enum { NEG_REPLACE = 1 };

typedef struct {
    const char *query_id;
    const char *neg_id;
    const char *text;      /* synthetic text; NULL for corpus documents */
    const char *prov;      /* provenance, a JSON object as text, or NULL */
    uint32_t rank;         /* 1-based rank within its source list, 0 if none */
    float score;
    uint8_t source;        /* neg_source */
    uint8_t flags;         /* NEG_F_* */
    uint64_t seq;          /* segment sequence: larger is newer */
    float fnl;             /* false-negative likelihood in (0, 1], most likely = 1;
                            * 0, negative or NaN: not computed (a row built with {0}
                            * has none; rows of version-1 segments read as 0).  The
                            * signals behind it are in prov under "fn" (see mine.h). */
} neg_row;

/* 1 when the row carries a computed false-negative likelihood. */
static inline int neg_row_has_fnl(const neg_row *r) { return r->fnl > 0; }

typedef struct { uint32_t seg, row; } neg_ref;

const char *neg_source_name(int source);     /* "bm25", "dense", "llm", ... */
int neg_source_parse(const char *name);      /* -1 when unknown */
/* "<source>:<16 hex>" for a synthetic text, written into buf (>= 40 bytes). */
void neg_synthetic_id(int source, const char *text, char *buf, size_t n);

/* ---- writing ---- */
typedef struct neg_writer neg_writer;
/* tag: a short name for the producer ("mine-bm25", "synth"), used in the file name. */
neg_writer *neg_writer_new(const char *session_dir, const char *tag, unsigned seg_flags, sy_err *err);
int neg_writer_add(neg_writer *w, const neg_row *row, sy_err *err);  /* copies the strings */
size_t neg_writer_count(const neg_writer *w);
int neg_writer_commit(neg_writer *w, sy_err *err);   /* durable when it returns 0 */
void neg_writer_free(neg_writer *w);                 /* discards uncommitted rows */

/* ---- reading ---- */
typedef struct neg_store neg_store;
neg_store *neg_store_open(const char *session_dir, sy_err *err);
void neg_store_free(neg_store *s);
/* 1 when s answers from the merged index file, 2 when it was seeded from it
 * and merged only the segments committed after it, 0 when it merged every
 * segment (tests, benchmarks). */
int neg_store_from_index(const neg_store *s);
/* Load segments committed since open/last refresh; *changed = 1 if any. */
int neg_store_refresh(neg_store *s, int *changed, sy_err *err);
size_t neg_store_count(const neg_store *s);                    /* live rows */
size_t neg_store_count_source(const neg_store *s, int source);
size_t neg_store_count_flag(const neg_store *s, unsigned flag);
size_t neg_store_nqueries(const neg_store *s);                 /* queries with rows */
/* Live rows of one query, ordered by source then rank then segment age.  A
 * negative id may appear once per source. */
const neg_ref *neg_store_query(const neg_store *s, const char *query_id, size_t *n);
/* The i-th query that has rows (0 <= i < nqueries), in first-seen order. */
const char *neg_store_query_at(const neg_store *s, size_t i);
void neg_store_get(const neg_store *s, neg_ref ref, neg_row *out);
/* Find one live row; 1 if found. */
int neg_store_find(const neg_store *s, const char *query_id, const char *neg_id, neg_row *out);
/* The review queue: live rows ordered most likely false negative first (the
 * key is neg_row_queue_key; ties: query first-seen order, then list order).
 * only_suspects: rows flagged NEG_F_SUSPECT only; else every row with a
 * positive key.  Returns a malloc'd array the caller frees (NULL with *n = 0
 * when empty or out of memory; *n says which). */
neg_ref *neg_store_ranked(const neg_store *s, int only_suspects, size_t *n);
/* The queue's ordering key: the row's fnl when computed; otherwise 0.5 for a
 * row flagged suspect by a producer that gives no number (duplicate of a
 * positive, reflection verdict), 0 for the rest. */
float neg_row_queue_key(const neg_row *r);
/* Rewrite all live rows into one segment and remove the old ones.  The new
 * segment is ordered where the newest merged one was, so segments other
 * processes commit meanwhile keep winning over the rows it copies. */
int neg_store_compact(neg_store *s, sy_err *err);
/* The one compaction policy for producers that commit many small segments
 * (judge and synthesis commit every few dozen rows so a kill loses little):
 * at the end of a run, compact when the store holds more than
 * NEG_COMPACT_SEGMENTS segments.  1 compacted, 0 not needed, -1 error. */
#define NEG_COMPACT_SEGMENTS 64
int neg_store_compact_if_many(neg_store *s, sy_err *err);
size_t neg_store_nsegments(const neg_store *s);

#endif
