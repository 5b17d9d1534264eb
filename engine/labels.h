/* labels: the labels journal, the most precious data in a session.
 *
 * SESSION/labels.jsonl is append-only, one JSON object per act:
 *   {"seq":N,"t":"ISO-8601","q":QUERY_ID,"n":NEG_ID,"a":"accept"|"reject"|"clear","note":TEXT?}
 * labels_act appends the line with one write(2) and fsync(2)s it before it
 * returns 0: only then is the act acknowledged.  On open the snapshot
 * (SESSION/labels.snap.jsonl: a header line {"format":"syneg-labels-snapshot",
 * "version":1,"seq":N} then one line per labelled pair) is read, then journal
 * lines with seq > N are replayed.  A torn or malformed line is skipped,
 * counted and reported (labels_nskipped/labels_warning); a torn tail is cut off
 * before the next append so it never glues onto a good line.  A failed write
 * (full disk, EFBIG) truncates the partial line away and returns SY_ENOSPC:
 * everything acknowledged before stays.  labels_compact writes the snapshot to
 * a temporary file, fsyncs, renames, then empties the journal; a crash between
 * any two steps loses nothing because replay skips seq <= snapshot seq.
 *
 * A read-only handle (another process holds the session lock) reads the same
 * state and refuses acts with SY_EREADONLY.  Strings returned are borrowed and
 * live until the next act or labels_free.  Not thread-safe per object. */
#ifndef SY_LABELS_H
#define SY_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum { LABEL_NONE = 0, LABEL_ACCEPT, LABEL_REJECT } label_kind;
typedef enum { ACT_ACCEPT = 1, ACT_REJECT, ACT_CLEAR } label_act;

typedef struct {
    const char *query_id, *neg_id;
    int kind;             /* label_kind */
    const char *note;     /* NULL when none */
    const char *time;     /* ISO time of the last act on this pair */
    uint64_t seq;
} label_entry;

typedef struct labels labels;

labels *labels_open(const char *session_dir, int readonly, sy_err *err);
void labels_free(labels *l);
int labels_act(labels *l, const char *query_id, const char *neg_id, int act,
               const char *note, sy_err *err);
/* Many acts with one write(2) and one fsync(2): on return 0 all n are
 * acknowledged, on -1 none is (a partial write is cut away). Each act is
 * checked (ids non-empty, act known, UTF-8) before anything is written. */
typedef struct {
    const char *query_id, *neg_id;
    int act;              /* ACT_* */
    const char *note;     /* NULL when none */
} label_req;
int labels_act_batch(labels *l, const label_req *reqs, size_t n, sy_err *err);
int labels_get(const labels *l, const char *query_id, const char *neg_id, label_entry *out); /* label_kind */
size_t labels_count(const labels *l, int kind);     /* pairs currently in that state */
size_t labels_size(const labels *l);                /* pairs with an entry (any kind) */
void labels_at(const labels *l, size_t i, label_entry *out); /* i < labels_size, act order */
uint64_t labels_seq(const labels *l);               /* last acknowledged seq */
int labels_compact(labels *l, sy_err *err);
/* Replay any acts appended by another process since open (read-only viewers). */
int labels_reload(labels *l, sy_err *err);
size_t labels_nskipped(const labels *l);
const char *labels_warning(const labels *l, size_t i); /* i < min(nskipped, 16) */
/* The acts of the journal since the snapshot, oldest first (at most the
 * newest `max`), each with the state its pair had just before it: what undo
 * needs after a restart.  *out is malloc'd (free with labels_history_free);
 * 0, or -1 with err set.  Reads the files, not the handle's state. */
typedef struct {
    char *query_id, *neg_id;
    char *note;           /* the act's note, NULL when none */
    char *prev_note;      /* the pair's note before the act */
    int act;              /* ACT_* */
    int prev_kind;        /* label_kind before the act */
    uint64_t seq;
} label_hist;
int labels_history(const labels *l, size_t max, label_hist **out, size_t *n, sy_err *err);
void labels_history_free(label_hist *h, size_t n);
const char *label_kind_name(int kind);     /* "none", "accept", "reject" */
int label_act_parse(const char *s);        /* ACT_* or -1 */

#endif
