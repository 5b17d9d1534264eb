/* tui_model: what the workbench shows, independent of how it is drawn.
 *
 * The query list is every query with a positive in the train split or with
 * negatives in the store (all queries when neither exists), in corpus order.
 * Per-query counts (synthetic, retrieved, reviewed, suspects) are computed on
 * demand and cached, so opening a session with 500,000 queries costs one pass
 * over the query ids, not over the negatives; a filter or sort that needs
 * every count computes them then.  Labelling goes through the labels journal
 * (fsync'd before labels_act returns) and only then updates the screen; undo
 * and redo are further acts through the same journal. */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/mix.h"
#include "../engine/synth.h"
#include "tui.h"

const char *const tui_filter_names[FILTER_COUNT] = {"all", "unreviewed", "suspects", "reviewed", "negatives", "text"};
const char *const tui_sort_names[SORT_COUNT] = {"id", "suspects", "unreviewed", "negatives"};

/* the engine's one classification (mix_source_class): the columns, counts and
 * bulk acts agree with what mixing and export call synthetic */
int tui_is_synthetic(int source) { return mix_source_class(source) == MIX_SYNTHETIC; }

/* undo across a restart: the journal's last acts become the undo stack (one
 * step per act; a bulk act of an earlier run is undone act by act) */
static void undo_from_journal(tui *t)
{
    label_hist *h;
    size_t n;
    sy_err err;
    if (labels_history(t->lb, 1000, &h, &n, &err) < 0) {
        tui_err(t, "undo history not read: %s", err.msg);
        return;
    }
    t->undo = calloc(n ? n : 1, sizeof *t->undo);
    if (!t->undo) {
        labels_history_free(h, n);
        return;
    }
    t->undo_cap = n ? n : 1;
    for (size_t i = 0; i < n; i++) {
        t->undo[i] = (tui_undo){h[i].query_id, h[i].neg_id, h[i].prev_kind, h[i].act, h[i].prev_note, h[i].note, ++t->undo_group};
        h[i].query_id = h[i].neg_id = h[i].prev_note = h[i].note = NULL;   /* moved */
    }
    t->nundo = t->undo_pos = n;
    labels_history_free(h, n);
}

int tui_model_open(tui *t, sy_err *err)
{
    /* lazily checked: the workbench reads a few documents; tui_run asks
     * session_check after each key and stops on damage */
    t->c = session_corpus_lazy(t->s, err);
    if (!t->c) return -1;
    t->ns = session_negs(t->s);
    t->lb = session_labels(t->s);
    t->qrels = corpus_qrels_for(t->c, session_train_split(t->s));
    uint32_t nq = corpus_nqueries(t->c);
    uint8_t *mark = calloc(nq ? nq : 1, 1);
    if (!mark) return sy_fail(err, SY_ENOMEM, "out of memory for %u queries", nq);
    size_t nmarked = 0;
    if (t->qrels)
        for (size_t i = 0; i < t->qrels->n; i++) {
            const corpus_qrel *r = &t->qrels->rows[i];
            if (r->rel > 0 && r->query < nq && !mark[r->query]) mark[r->query] = 1, nmarked++;
        }
    if (t->ns && neg_store_nqueries(t->ns)) {
        /* one hash lookup per query (neg_store_query_at walks the list per call) */
        for (uint32_t q = 0; q < nq; q++) {
            size_t n;
            if (!mark[q] && neg_store_query(t->ns, corpus_query_id(t->c, q), &n) && n) mark[q] = 1, nmarked++;
        }
    }
    if (!nmarked) memset(mark, 1, nq), nmarked = nq;
    t->qlist = malloc((nmarked ? nmarked : 1) * sizeof *t->qlist);
    t->view = malloc((nmarked ? nmarked : 1) * sizeof *t->view);
    t->stats = calloc(nmarked ? nmarked : 1, sizeof *t->stats);
    t->stat_ok = calloc(nmarked ? nmarked : 1, 1);
    if (!t->qlist || !t->view || !t->stats || !t->stat_ok) {
        free(mark);
        return sy_fail(err, SY_ENOMEM, "out of memory for %zu queries", nmarked);
    }
    t->nq = 0;
    for (uint32_t q = 0; q < nq; q++)
        if (mark[q]) t->qlist[t->nq++] = q;
    free(mark);
    t->shown = -1;
    if (t->lb && !session_readonly(t->s)) undo_from_journal(t);
    t->filter = FILTER_ALL;
    t->sort = SORT_ID;
    tui_rebuild_view(t);
    return 0;
}

void tui_model_close(tui *t)
{
    free(t->qlist);
    free(t->view);
    free(t->stats);
    free(t->stat_ok);
    for (int c = 0; c < 2; c++) {
        free(t->col[c].refs);
        free(t->col[c].sel);
    }
    for (size_t i = 0; i < t->nundo; i++) {
        free(t->undo[i].qid);
        free(t->undo[i].nid);
        free(t->undo[i].prev_note);
        free(t->undo[i].new_note);
    }
    free(t->undo);
    free(t->row_title);
    t->row_title = NULL;
}

static const char *qid_at(const tui *t, size_t pos) { return corpus_query_id(t->c, t->qlist[pos]); }

const tui_qstat *tui_stat(tui *t, size_t pos)
{
    if (t->stat_ok[pos]) return &t->stats[pos];
    tui_qstat st = {0};
    if (t->ns) {
        const char *qid = qid_at(t, pos);
        size_t n;
        const neg_ref *refs = neg_store_query(t->ns, qid, &n);
        for (size_t i = 0; i < n; i++) {
            neg_row row;
            neg_store_get(t->ns, refs[i], &row);
            if (tui_is_synthetic(row.source)) st.nsyn++;
            else st.nret++;
            label_entry e;
            int k = t->lb ? labels_get(t->lb, qid, row.neg_id, &e) : LABEL_NONE;
            if (k != LABEL_NONE) st.reviewed++;
            else if (row.flags & (NEG_F_SUSPECT | NEG_F_REFLECT_FN)) st.suspects++;
        }
    }
    t->stats[pos] = st;
    t->stat_ok[pos] = 1;
    return &t->stats[pos];
}

void tui_stat_invalidate(tui *t, size_t pos)
{
    if (pos < t->nq) {
        t->stat_ok[pos] = 0;
        if (pos < t->stat_idle) t->stat_idle = pos;
    }
}

int tui_stat_idle(tui *t, double budget)
{
    double end = sy_now() + budget;
    while (t->stat_idle < t->nq) {
        for (int k = 0; k < 256 && t->stat_idle < t->nq; k++) tui_stat(t, t->stat_idle++);
        if (sy_now() > end) break;
    }
    return t->stat_idle < t->nq;
}

static size_t qlist_pos(const tui *t, const char *qid)
{
    int64_t q = corpus_query_find(t->c, qid);
    if (q < 0) return SIZE_MAX;
    size_t lo = 0, hi = t->nq;   /* qlist is ascending */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->qlist[mid] < (uint32_t)q) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->nq && t->qlist[lo] == (uint32_t)q ? lo : SIZE_MAX;
}

/* case-insensitive: does hay contain every space-separated word of needle? */
static int contains_words(const char *hay, const char *needle)
{
    char w[128];
    const char *p = needle;
    while (*p) {
        while (*p == ' ') p++;
        size_t n = 0;
        while (p[n] && p[n] != ' ' && n < sizeof w - 1) w[n] = p[n], n++;
        if (!n) break;
        w[n] = 0;
        p += n;
        if (!strcasestr(hay, w)) return 0;
    }
    return 1;
}

static int keep(tui *t, size_t pos)
{
    if (t->filter == FILTER_ALL) return 1;
    if (t->filter == FILTER_TEXT) {
        uint32_t q = t->qlist[pos];
        return contains_words(corpus_query_text(t->c, q), t->filter_text) ||
               contains_words(corpus_query_id(t->c, q), t->filter_text);
    }
    const tui_qstat *st = tui_stat(t, pos);
    uint32_t total = st->nsyn + st->nret;
    switch (t->filter) {
    case FILTER_UNREVIEWED: return st->reviewed < total;
    case FILTER_SUSPECTS: return st->suspects > 0;
    case FILTER_REVIEWED: return total > 0 && st->reviewed == total;
    case FILTER_NEGS: return total > 0;
    }
    return 1;
}

static int cmp_view(const void *a, const void *b, void *ctx)
{
    tui *t = ctx;
    uint32_t pa = *(const uint32_t *)a, pb = *(const uint32_t *)b;
    const tui_qstat *x = &t->stats[pa], *y = &t->stats[pb];
    long ka = 0, kb = 0;
    switch (t->sort) {
    case SORT_SUSPECTS: ka = x->suspects, kb = y->suspects; break;
    case SORT_UNREVIEWED: ka = (long)(x->nsyn + x->nret) - x->reviewed, kb = (long)(y->nsyn + y->nret) - y->reviewed; break;
    case SORT_NEGS: ka = x->nsyn + x->nret, kb = y->nsyn + y->nret; break;
    }
    if (ka != kb) return ka > kb ? -1 : 1;   /* most first */
    return pa < pb ? -1 : pa > pb;
}

void tui_rebuild_view(tui *t)
{
    long keep_pos = tui_cur_pos(t);
    t->nview = 0;
    for (size_t i = 0; i < t->nq; i++)
        if (keep(t, i)) t->view[t->nview++] = (uint32_t)i;
    if (t->sort != SORT_ID) {
        for (size_t i = 0; i < t->nview; i++) tui_stat(t, t->view[i]);
        qsort_r(t->view, t->nview, sizeof *t->view, cmp_view, t);
    }
    t->qcur = 0;
    if (keep_pos >= 0) {
        size_t v = tui_find_view(t, (size_t)keep_pos);
        if (v != SIZE_MAX) t->qcur = v;
    }
    t->qtop = t->qcur > 3 ? t->qcur - 3 : 0;
}

size_t tui_find_view(const tui *t, size_t pos)
{
    for (size_t i = 0; i < t->nview; i++)
        if (t->view[i] == pos) return i;
    return SIZE_MAX;
}

long tui_cur_pos(const tui *t)
{
    if (!t->view || t->qcur >= t->nview) return -1;
    return t->view[t->qcur];
}

const char *tui_cur_qid(const tui *t)
{
    long pos = tui_cur_pos(t);
    return pos < 0 ? NULL : qid_at(t, (size_t)pos);
}

static int col_push(tui_col *c, neg_ref r)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        neg_ref *nr = realloc(c->refs, cap * sizeof *nr);
        uint8_t *ns = realloc(c->sel, cap);
        if (nr) c->refs = nr;
        if (ns) c->sel = ns;
        if (!nr || !ns) return -1;
        c->cap = cap;
    }
    c->sel[c->n] = 0;
    c->refs[c->n++] = r;
    return 0;
}

static int cmp_syn(const void *a, const void *b, void *store)
{
    neg_row x, y;
    neg_store_get(store, *(const neg_ref *)a, &x);
    neg_store_get(store, *(const neg_ref *)b, &y);
    if (x.seq != y.seq) return x.seq > y.seq ? -1 : 1;   /* newest generation first */
    if (x.rank != y.rank) return x.rank < y.rank ? -1 : 1;
    return strcmp(x.neg_id, y.neg_id);
}

/* Returns 1 when the negative under a column's cursor is gone from the
 * reloaded rows of the same query (a newer run replaced them). */
static int load_rows(tui *t, long pos)
{
    int lost = 0;
    char keep_id[2][256] = {{0}, {0}};
    int same = pos == t->shown;
    for (int c = 0; c < 2; c++) {
        tui_col *col = &t->col[c];
        if (same && col->cur < col->n) {
            neg_row row;
            neg_store_get(t->ns, col->refs[col->cur], &row);
            snprintf(keep_id[c], sizeof keep_id[c], "%s", row.neg_id);
        }
        col->n = col->nsel = 0;
        if (!same) col->cur = col->top = 0;
    }
    t->shown = pos;
    if (pos < 0 || !t->ns) return 0;
    size_t n;
    const neg_ref *refs = neg_store_query(t->ns, qid_at(t, (size_t)pos), &n);
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(t->ns, refs[i], &row);
        col_push(&t->col[tui_is_synthetic(row.source) ? COL_SYN : COL_RET], refs[i]);
    }
    if (t->col[COL_SYN].n > 1) qsort_r(t->col[COL_SYN].refs, t->col[COL_SYN].n, sizeof(neg_ref), cmp_syn, t->ns);
    for (int c = 0; c < 2; c++) {
        tui_col *col = &t->col[c];
        int found = 0;
        if (keep_id[c][0])
            for (size_t i = 0; i < col->n && !found; i++) {
                neg_row row;
                neg_store_get(t->ns, col->refs[i], &row);
                if (!strcmp(row.neg_id, keep_id[c])) col->cur = i, found = 1;
            }
        if (keep_id[c][0] && !found) lost = 1;
        if (col->cur >= col->n) col->cur = col->n ? col->n - 1 : 0;
        if (col->top > col->cur) col->top = col->cur;
    }
    return lost;
}

void tui_reload_rows(tui *t) { load_rows(t, tui_cur_pos(t)); }

void tui_load_query(tui *t)
{
    long pos = tui_cur_pos(t);
    if (pos != t->shown) load_rows(t, pos);
}

int tui_cur_row(tui *t, neg_row *row)
{
    tui_load_query(t);
    int c = t->focus == FOCUS_RET ? COL_RET : COL_SYN;
    if (t->focus == FOCUS_QUERIES && !t->col[c].n) c = COL_RET;
    tui_col *col = &t->col[c];
    if (col->cur >= col->n) return 0;
    neg_store_get(t->ns, col->refs[col->cur], row);
    return 1;
}

const char *tui_row_text(tui *t, const neg_row *row, const char **title)
{
    if (title) *title = "";
    if (row->text) {
        /* a synthetic passage: its title lives in its provenance (synth.h) */
        free(t->row_title);
        t->row_title = synth_prov_title(row->prov);
        if (title && t->row_title) *title = t->row_title;
        return row->text;
    }
    int64_t d = corpus_doc_find(t->c, row->neg_id);
    if (d < 0) return "(document not in the corpus)";
    if (title) *title = corpus_doc_title(t->c, (uint32_t)d);
    return corpus_doc_text(t->c, (uint32_t)d);
}

char *tui_passage(const char *title, const char *text)
{
    if (!text) text = "";
    if (tui_title_redundant(title, text)) return strdup(text);
    size_t tl = strlen(title), n = tl + 2 + strlen(text) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s: %s", title, text);
    return s;
}

int tui_row_label(tui *t, const neg_row *row, label_entry *e)
{
    memset(e, 0, sizeof *e);
    return t->lb ? labels_get(t->lb, row->query_id, row->neg_id, e) : LABEL_NONE;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int tui_label(tui *t, const char *qid, const char *nid, int act, const char *note, int record)
{
    if (t->readonly || !t->lb) {
        tui_err(t, "read-only (%s): labels cannot be changed here", t->ro_why);
        return -1;
    }
    label_entry prev;
    memset(&prev, 0, sizeof prev);
    int prev_kind = labels_get(t->lb, qid, nid, &prev);
    int kind = act == ACT_ACCEPT ? LABEL_ACCEPT : act == ACT_REJECT ? LABEL_REJECT : LABEL_NONE;
    if (note && !*note) note = NULL;
    if (kind == prev_kind && !strcmp(note ? note : "", prev.note ? prev.note : "")) {
        /* the same act again writes nothing (no identical journal lines) */
        tui_msg(t, "%s is already %s for %s%s%s", nid, kind == LABEL_NONE ? "unlabelled" : label_kind_name(kind) , qid,
                note ? ": " : "", note ? note : "");
        return 0;
    }
    char *prev_note = prev_kind != LABEL_NONE || prev.note ? dup_or_null(prev.note) : NULL;
    char *q = strdup(qid), *n = strdup(nid);
    sy_err err;
    if (labels_act(t->lb, q, n, act, note, &err) < 0) {
        tui_err(t, "label not saved: %s", err.msg);
        free(prev_note), free(q), free(n);
        return -1;
    }
    if (record) {
        for (size_t i = t->undo_pos; i < t->nundo; i++) {   /* a new act drops the redo tail */
            free(t->undo[i].qid), free(t->undo[i].nid);
            free(t->undo[i].prev_note), free(t->undo[i].new_note);
        }
        t->nundo = t->undo_pos;
        if (t->nundo == t->undo_cap) {
            size_t cap = t->undo_cap ? 2 * t->undo_cap : 64;
            tui_undo *u = realloc(t->undo, cap * sizeof *u);
            if (u) t->undo = u, t->undo_cap = cap;
        }
        if (t->nundo < t->undo_cap) {
            if (record == 1) t->undo_group++;
            t->undo[t->nundo++] = (tui_undo){q, n, prev_kind, act, prev_note, dup_or_null(note), t->undo_group};
            t->undo_pos = t->nundo;
            q = n = prev_note = NULL;
        }
    }
    size_t pos = qlist_pos(t, qid);
    tui_stat_invalidate(t, pos);
    static const char *const verb[] = {"", "accepted", "rejected (false negative)", "cleared"};
    if (kind == prev_kind)   /* only the note changed */
        tui_msg(t, "note %s %s for %s (still %s)%s%s", note ? "on" : "removed from", nid, qid,
                kind == LABEL_NONE ? "unlabelled" : label_kind_name(kind), note ? ": " : "", note ? note : "");
    else tui_msg(t, "%s %s for %s%s%s", nid, verb[act], qid, note ? ": " : "", note ? note : "");
    free(prev_note), free(q), free(n);
    return 1;
}

/* show one (query, negative) pair: move the list and column cursors there */
static void focus_pair(tui *t, const char *qid, const char *nid)
{
    tui_goto_query(t, qid);
    tui_load_query(t);
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < t->col[c].n; i++) {
            neg_row row;
            neg_store_get(t->ns, t->col[c].refs[i], &row);
            if (!strcmp(row.neg_id, nid)) {
                t->col[c].cur = i;
                t->focus = c == COL_SYN ? FOCUS_SYN : FOCUS_RET;
                return;
            }
        }
}

static int undo_one(tui *t, int redo)
{
    tui_undo *u = &t->undo[redo ? t->undo_pos : t->undo_pos - 1];
    int act = redo ? u->new_act
                   : u->prev_kind == LABEL_ACCEPT ? ACT_ACCEPT : u->prev_kind == LABEL_REJECT ? ACT_REJECT : ACT_CLEAR;
    const char *note = redo ? u->new_note : u->prev_note;
    if (tui_label(t, u->qid, u->nid, act, note, 0) < 0) return -1;
    t->undo_pos += redo ? 1 : -1;
    return 0;
}

int tui_undo_step(tui *t, int redo)
{
    if (redo ? t->undo_pos >= t->nundo : t->undo_pos == 0) {
        tui_msg(t, redo ? "nothing to redo" : "nothing to undo");
        return TUI_REDRAW;
    }
    size_t first = redo ? t->undo_pos : t->undo_pos - 1, n = 0;
    unsigned group = t->undo[first].group;
    while ((redo ? t->undo_pos < t->nundo : t->undo_pos > 0) &&
           t->undo[redo ? t->undo_pos : t->undo_pos - 1].group == group) {
        if (undo_one(t, redo) < 0) return TUI_REDRAW;
        n++;
    }
    tui_undo *u = &t->undo[first];
    focus_pair(t, u->qid, u->nid);
    label_entry e;
    if (n == 1)
        tui_msg(t, "%s: %s is now %s for %s", redo ? "redone" : "undone", u->nid,
                label_kind_name(labels_get(t->lb, u->qid, u->nid, &e)), u->qid);
    else
        tui_msg(t, "%s: %zu label acts", redo ? "redone" : "undone", n);
    return TUI_REDRAW;
}

int tui_goto_query(tui *t, const char *qid)
{
    size_t pos = qlist_pos(t, qid);
    if (pos == SIZE_MAX) return -1;
    size_t v = tui_find_view(t, pos);
    if (v == SIZE_MAX) {   /* hidden by the filter: show everything again */
        t->filter = FILTER_ALL;
        tui_rebuild_view(t);
        v = tui_find_view(t, pos);
        if (v == SIZE_MAX) return -1;
    }
    t->qcur = v;
    tui_load_query(t);
    return 0;
}

int tui_refresh_store(tui *t)
{
    int flags = 0, changed = 0;
    sy_err err;
    if (t->ns && neg_store_refresh(t->ns, &changed, &err) < 0) {
        tui_err(t, "reading new negatives: %s", err.msg);
        return TUI_REDRAW;
    }
    if (changed) {
        memset(t->stat_ok, 0, t->nq);
        t->stat_idle = 0;
        /* same query: cursors kept by negative id; shown at once (periodic) */
        if (load_rows(t, t->shown))
            tui_msg(t, "new negatives on disk replaced the one under the cursor: check the row before you label");
        flags |= TUI_REDRAW | TUI_RELOAD;
    }
    if (t->readonly && t->lb) {
        uint64_t seq = labels_seq(t->lb);
        if (labels_reload(t->lb, &err) == 0 && labels_seq(t->lb) != seq) {
            memset(t->stat_ok, 0, t->nq);
            t->stat_idle = 0;
            flags |= TUI_REDRAW;
        }
    }
    return flags;
}

void tui_overall(tui *t, size_t *reviewed, size_t *total)
{
    *reviewed = t->lb ? labels_count(t->lb, LABEL_ACCEPT) + labels_count(t->lb, LABEL_REJECT) : 0;
    *total = t->ns ? neg_store_count(t->ns) : 0;
    if (*reviewed > *total) *total = *reviewed;
}

double tui_row_rel(tui *t, const neg_row *row)
{
    /* the miner records the query's best positive score ("pos") and the ratio */
    if (row->prov && (strstr(row->prov, "\"ratio\"") || strstr(row->prov, "\"rel\"") || strstr(row->prov, "\"pos\""))) {
        json_t *j = json_loads(row->prov, 0, NULL);
        double v = -1;
        json_t *x = json_object_get(j, "ratio");
        if (!json_is_number(x)) x = json_object_get(j, "rel");
        if (json_is_number(x)) v = json_number_value(x);
        else if (json_is_number(json_object_get(j, "pos")) && json_number_value(json_object_get(j, "pos")) > 0)
            v = row->score / json_number_value(json_object_get(j, "pos"));
        json_decref(j);
        if (v >= 0) return v;
    }
    /* otherwise relative to the best score of its own source list for the query */
    float best = 0;
    size_t n;
    const neg_ref *refs = neg_store_query(t->ns, row->query_id, &n);
    for (size_t i = 0; i < n; i++) {
        neg_row r;
        neg_store_get(t->ns, refs[i], &r);
        if (r.source == row->source && r.score > best) best = r.score;
    }
    return best > 0 ? row->score / best : 0;
}

void tui_msg(tui *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    t->msg_err = 0;
}

void tui_err(tui *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    t->msg_err = 1;
}
