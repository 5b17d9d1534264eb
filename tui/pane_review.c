/* pane_review: the review queue, one negative at a time (Prodigy's one-key
 * flow).  The queue holds the unlabelled negatives of every query in the
 * (filtered) list, in one order chosen by queue_cmp:
 *   likely  most likely false negatives first (neg_row_queue_key: the
 *           miner's/judge's false-negative likelihood, 0.5 for a flagged row
 *           without a number), then by rank (rank 1 of every query first);
 *   query   query by query in list order, synthetic then retrieved, by rank.
 * The screen shows the query, the negative large beside the query's positive
 * (the one it shares most words with), words shared with the query and the
 * positive highlighted, and for an edit-based synthetic negative (offline
 * swap/replace/negate, or any LLM text that is mostly the positive's words)
 * the words changed against the positive.  Keys: a accept, x reject, s or
 * Space skip, u undo (through the journal), 1-9 a preset reason
 * (review.reasons) recorded as the note of the next a/x, j/k move, o switches
 * the order, q/Esc close.  Every act is a tui_label (journal first). */
#include <curses.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/settings.h"
#include "tui.h"

typedef struct {
    float key;          /* false-negative likelihood key, larger first */
    uint32_t rank;      /* 0 (none) sorts last */
    uint32_t vpos;      /* position in the query view */
    uint8_t syn;
    neg_ref ref;
} qitem;

enum { ORDER_LIKELY = 0, ORDER_QUERY = 1, ORDER_COUNT };
static const char *const order_names[ORDER_COUNT] = {"likely", "query"};
static const char *const order_help[ORDER_COUNT] = {"likely false negatives first", "query by query"};

static struct {
    qitem *items;
    size_t n, cur, skipped;
    int order;
    size_t domain, reviewed;   /* negatives of the listed queries; accepted/rejected among them */
    size_t acts;               /* acts made in the queue since it opened */
    double t_first;            /* time of the first of them */
    int reason;                /* 1-9: the preset reason the next a/x records; 0 none */
    char reasons[9][96];
    int nreasons;
} Q;

static int queue_cmp(const void *a, const void *b)
{
    const qitem *x = a, *y = b;
    if (Q.order == ORDER_LIKELY) {
        if (x->key != y->key) return x->key > y->key ? -1 : 1;
        uint32_t rx = x->rank ? x->rank : UINT32_MAX, ry = y->rank ? y->rank : UINT32_MAX;
        if (rx != ry) return rx < ry ? -1 : 1;
        if (x->vpos != y->vpos) return x->vpos < y->vpos ? -1 : 1;
    } else {
        if (x->vpos != y->vpos) return x->vpos < y->vpos ? -1 : 1;
        if (x->syn != y->syn) return x->syn ? -1 : 1;
        if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    }
    if (x->ref.seg != y->ref.seg) return x->ref.seg < y->ref.seg ? -1 : 1;
    return x->ref.row < y->ref.row ? -1 : x->ref.row > y->ref.row;
}

static void load_reasons(tui *t)
{
    const char *s = settings_str(t->s, "review.reasons");
    Q.nreasons = 0;
    while (s && *s && Q.nreasons < 9) {
        size_t n = strcspn(s, ";");
        snprintf(Q.reasons[Q.nreasons], sizeof Q.reasons[0], "%.*s", (int)n, s);
        if (n) Q.nreasons++;
        s += n;
        if (*s == ';') s++;
    }
}

static int labelled(tui *t, const neg_row *row)
{
    label_entry e;
    return tui_row_label(t, row, &e) != LABEL_NONE;
}

/* (re)build the queue from the query list; keeps the current item if it is still there */
static void build(tui *t)
{
    neg_ref keep = {UINT32_MAX, UINT32_MAX};
    if (Q.cur < Q.n) keep = Q.items[Q.cur].ref;
    free(Q.items);
    Q.items = NULL;
    Q.n = Q.cur = Q.skipped = 0;
    Q.domain = Q.reviewed = 0;
    size_t cap = 0;
    for (size_t v = 0; v < t->nview && t->ns; v++) {
        const char *qid = corpus_query_id(t->c, t->qlist[t->view[v]]);
        size_t n;
        const neg_ref *refs = neg_store_query(t->ns, qid, &n);
        for (size_t i = 0; i < n; i++) {
            neg_row row;
            neg_store_get(t->ns, refs[i], &row);
            Q.domain++;
            if (labelled(t, &row)) {
                Q.reviewed++;
                continue;
            }
            if (Q.n == cap) {
                size_t nc = cap ? 2 * cap : 1024;
                qitem *ni = realloc(Q.items, nc * sizeof *ni);
                if (!ni) break;
                Q.items = ni, cap = nc;
            }
            float k = neg_row_queue_key(&row);
            Q.items[Q.n++] = (qitem){k == k ? k : 0, row.rank, (uint32_t)v, (uint8_t)tui_is_synthetic(row.source), refs[i]};
        }
    }
    if (Q.n > 1) qsort(Q.items, Q.n, sizeof *Q.items, queue_cmp);
    for (size_t i = 0; i < Q.n; i++)
        if (Q.items[i].ref.seg == keep.seg && Q.items[i].ref.row == keep.row) Q.cur = i;
}

/* the first unlabelled item from i on (labels made elsewhere are passed over) */
static size_t next_open(tui *t, size_t i)
{
    for (; i < Q.n; i++) {
        neg_row row;
        neg_store_get(t->ns, Q.items[i].ref, &row);
        if (!labelled(t, &row)) break;
    }
    return i;
}

static char resume_q[256], resume_n[256];   /* the negative to start at (saved state) */

static void open_review(tui *t)
{
    load_reasons(t);
    build(t);
    if (resume_q[0]) {
        for (size_t i = 0; i < Q.n; i++) {
            neg_row row;
            neg_store_get(t->ns, Q.items[i].ref, &row);
            if (!strcmp(row.query_id, resume_q) && !strcmp(row.neg_id, resume_n)) {
                Q.cur = i;
                break;
            }
        }
        resume_q[0] = resume_n[0] = 0;
    }
    Q.cur = next_open(t, Q.cur);
    Q.acts = 0;
    Q.reason = 0;
}

/* "2,000" */
static const char *thousands(size_t v, char *buf, size_t n)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "%zu", v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

/* ---- words ---- */

static int word_byte(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }

/* the lowercased word of s[i..j) (letters and digits only) into w */
static void norm(const char *s, size_t i, size_t j, char *w, size_t n)
{
    size_t o = 0;
    for (size_t k = i; k < j && o + 1 < n; k++)
        if (word_byte((unsigned char)s[k])) w[o++] = (char)((s[k] >= 'A' && s[k] <= 'Z') ? s[k] + 32 : s[k]);
    w[o] = 0;
}

/* whitespace-separated tokens of s: start/end offsets; count (at most max) */
static size_t tokens(const char *s, size_t *st, size_t *en, size_t max)
{
    size_t n = 0, i = 0, len = strlen(s);
    while (i < len && n < max) {
        while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) i++;
        if (i >= len) break;
        st[n] = i;
        while (i < len && !(s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) i++;
        en[n++] = i;
    }
    return n;
}

enum { MAXTOK = 400 };

/* Word diff of the negative against the positive (LCS over normalized
 * tokens): changed[i] = 1 for a negative token not in the common sequence.
 * Returns the length of the common sequence. */
static size_t word_diff(const char *pos, const char *neg, uint8_t *changed, size_t *nneg, char *summary, size_t sn)
{
    static size_t ps[MAXTOK], pe[MAXTOK], ns[MAXTOK], ne[MAXTOK];
    static char pw[MAXTOK][32], nw[MAXTOK][32];
    static uint16_t L[MAXTOK + 1][MAXTOK + 1];
    size_t np = tokens(pos, ps, pe, MAXTOK), nn = tokens(neg, ns, ne, MAXTOK);
    for (size_t i = 0; i < np; i++) norm(pos, ps[i], pe[i], pw[i], sizeof pw[i]);
    for (size_t j = 0; j < nn; j++) norm(neg, ns[j], ne[j], nw[j], sizeof nw[j]);
    for (size_t i = np + 1; i-- > 0;)
        for (size_t j = nn + 1; j-- > 0;) {
            if (i == np || j == nn) L[i][j] = 0;
            else if (!strcmp(pw[i], nw[j])) L[i][j] = (uint16_t)(L[i + 1][j + 1] + 1);
            else L[i][j] = L[i + 1][j] > L[i][j + 1] ? L[i + 1][j] : L[i][j + 1];
        }
    size_t i = 0, j = 0, o = 0;
    if (summary && sn) summary[0] = 0;
    memset(changed, 0, nn);
    while (i < np || j < nn) {
        if (i < np && j < nn && !strcmp(pw[i], nw[j])) i++, j++;
        else if (j < nn && (i == np || L[i][j + 1] >= L[i + 1][j])) {
            changed[j] = 1;
            if (summary) o = tui_appendf(summary, sn, o, " +%.*s", (int)(ne[j] - ns[j]), neg + ns[j]);
            j++;
        } else {
            if (summary) o = tui_appendf(summary, sn, o, " -%.*s", (int)(pe[i] - ps[i]), pos + ps[i]);
            i++;
        }
    }
    *nneg = nn;
    return L[0][0];
}

/* Draw text word-wrapped from y, at most maxl lines: a token marked in
 * `changed` gets chg, a word in `terms` (" w1 w2 ") gets hl.  Returns lines. */
static int draw_words(tui *t, int y, int x, int w, int maxl, const char *s, const char *terms, const uint8_t *changed,
                      size_t nchanged, int base)
{
    static size_t st[4096], en[4096];
    size_t n = tokens(s, st, en, 4096);
    int line = 0, col = 0;
    for (size_t k = 0; k < n; k++) {
        int ww = (int)tui_width(s + st[k], en[k] - st[k]);
        if (col && col + 1 + ww > w) {
            if (line + 1 >= maxl) {
                tui_put(y + line, x + (col < w ? col : w - 1), w - col > 0 ? w - col : 1, t->utf8 ? "\xe2\x80\xa6" : "~",
                        t->utf8 ? 3 : 1, base);
                return line + 1;
            }
            line++, col = 0;
        }
        if (col) col += tui_put(y + line, x + col, w - col, " ", 1, base);
        char key[40];
        key[0] = ' ';
        norm(s, st[k], en[k], key + 1, sizeof key - 2);
        size_t kl = strlen(key);
        key[kl] = ' ', key[kl + 1] = 0;
        int a = base;
        if (changed && k < nchanged && changed[k]) a = tui_attr(t, C_REJECT) | A_UNDERLINE;
        else if (terms && kl > 3 && strstr(terms, key)) a = tui_attr(t, C_HILITE);
        col += tui_put(y + line, x + col, w - col, s + st[k], en[k] - st[k], a);
    }
    return n ? line + 1 : 0;
}

/* ---- drawing ---- */

static int edit_based(const neg_row *row)
{
    if (row->source == NEG_OFFLINE) return 1;
    return row->prov && (strstr(row->prov, "\"method\"") != NULL);
}

static void draw(tui *t, tui_rect r)
{
    char a[32], b[32], c[32], head[256];
    size_t done = Q.reviewed;
    size_t o = tui_appendf(head, sizeof head, 0, " REVIEW  %s / %s reviewed", thousands(done, a, sizeof a),
                           thousands(Q.domain, b, sizeof b));
    double el = Q.acts ? sy_now() - Q.t_first : 0;
    if (Q.acts >= 2 && el >= 30) {
        double rate = (double)Q.acts / el * 3600;
        o = tui_appendf(head, sizeof head, o, ", %s an hour", thousands((size_t)(rate + 0.5), c, sizeof c));
        double left = (double)(Q.domain - done) / rate;
        if (left >= 1) o = tui_appendf(head, sizeof head, o, ", %.0f h left", left);
        else o = tui_appendf(head, sizeof head, o, ", %.0f min left", left * 60);
    }
    tui_appendf(head, sizeof head, o, "   order: %s (o switches)", order_help[Q.order]);
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, head, 1);
    int y = r.y + 1, end = r.y + r.h;
    if (Q.cur >= Q.n) {
        tui_putf(y + 1, r.x + 2, r.w - 2, tui_attr(t, C_ACCEPT), "queue done: every negative of the %zu listed quer%s is labelled%s",
                 t->nview, t->nview == 1 ? "y" : "ies", Q.skipped ? " or skipped" : "");
        if (Q.skipped) tui_putf(y + 2, r.x + 2, r.w - 2, 0, "%zu skipped: q closes, Q opens the queue again with them", Q.skipped);
        return;
    }
    neg_row row;
    neg_store_get(t->ns, Q.items[Q.cur].ref, &row);
    int64_t q = corpus_query_find(t->c, row.query_id);
    const char *qtext = q >= 0 ? corpus_query_text(t->c, (uint32_t)q) : "";
    /* line 1: where we are, what the negative is */
    char info[512];
    o = tui_appendf(info, sizeof info, 0, " %s of %s in the queue   query %s   %s rank %u score %.3g", thousands(Q.cur + 1, a, sizeof a),
                    thousands(Q.n, b, sizeof b), row.query_id, neg_source_name(row.source), row.rank, (double)row.score);
    if (neg_row_queue_key(&row) > 0) o = tui_appendf(info, sizeof info, o, "   false-negative likelihood %.2f", (double)neg_row_queue_key(&row));
    if (row.flags & NEG_F_SUSPECT) o = tui_appendf(info, sizeof info, o, "  SUSPECT");
    if (row.flags & NEG_F_REFLECT_FN) o = tui_appendf(info, sizeof info, o, "  refl:FN");
    tui_put(y++, r.x, r.w, info, o, tui_attr(t, C_DIM));
    char qterms[1024];
    tui_query_terms(qtext, qterms, sizeof qterms);
    y += tui_put_wrapped(y, r.x + 1, r.w - 1, 0, 2, qtext, strlen(qtext), A_BOLD, tui_attr(t, C_HILITE), qterms);
    y++;
    /* the negative's text, and the positive it shares most words with */
    const char *nti, *nbody = tui_row_text(t, &row, &nti);
    char *ntext = tui_passage(nti, nbody);
    size_t nrel = 0;
    const corpus_qrel *rel = t->qrels && q >= 0 ? corpus_qrels_of(t->qrels, (uint32_t)q, &nrel) : NULL;
    static uint8_t changed[MAXTOK];
    size_t nneg = 0, best = 0;
    int64_t bdoc = -1;
    char *ptext = NULL;
    for (size_t i = 0; i < nrel; i++) {
        if (rel[i].rel <= 0) continue;
        char *pt = tui_passage(corpus_doc_title(t->c, rel[i].doc), corpus_doc_text(t->c, rel[i].doc));
        if (!pt) continue;
        size_t common = word_diff(pt, ntext ? ntext : nbody, changed, &nneg, NULL, 0);
        if (bdoc < 0 || common > best) {
            best = common, bdoc = rel[i].doc;
            free(ptext);
            ptext = pt;
        } else free(pt);
    }
    int lw = (r.w - 1) / 2, rx = r.x + lw + 1, rw = r.w - lw - 1;
    int h = end - y - 3;   /* leave the reasons and keys lines */
    if (h < 3) h = 3;
    char summary[512] = "";
    int diff = 0;
    nneg = 0;
    if (ptext && edit_based(&row)) {
        /* the edit is of the positive's text (a synthetic text has no title) */
        const char *pbody = corpus_doc_text(t->c, (uint32_t)bdoc), *nb = ntext ? ntext : nbody;
        if (row.text) nb = nbody;
        size_t common = word_diff(pbody, nb, changed, &nneg, summary, sizeof summary);
        diff = nneg && common * 2 >= nneg;   /* mostly the positive's words: an edit of it */
        if (diff && nb != (ntext ? ntext : nbody)) nneg = 0;   /* shown text has a title: no per-word marks */
    }
    /* shared words: the negative's with the query and the positive, and back */
    char pterms[4096] = "", nterms[4096] = "", hl_neg[5120], hl_pos[5120];
    if (ptext) tui_query_terms(ptext, pterms, sizeof pterms);
    tui_query_terms(ntext ? ntext : nbody, nterms, sizeof nterms);
    snprintf(hl_neg, sizeof hl_neg, "%s%s", qterms, pterms);
    snprintf(hl_pos, sizeof hl_pos, "%s%s", qterms, nterms);
    label_entry e;
    int kind = tui_row_label(t, &row, &e);
    tui_putf(y, rx, rw, tui_attr(t, C_TITLE), "NEGATIVE %s%s", row.text ? "" : row.neg_id,
             kind == LABEL_ACCEPT ? "  [+] accepted" : kind == LABEL_REJECT ? "  [X] rejected" : "");
    if (ptext) tui_putf(y, r.x + 1, lw - 1, tui_attr(t, C_ACCEPT), "POSITIVE %s", corpus_doc_id(t->c, (uint32_t)bdoc));
    else tui_put(y, r.x + 1, lw - 1, "(no positive in the train split)", 32, tui_attr(t, C_DIM));
    y++;
    int top = y;
    if (diff && summary[0]) {
        int x = rx + tui_put(y, rx, rw, "edits of the positive:", 22, tui_attr(t, C_DIM));
        tui_put_wrapped(y++, rx, rw, x - rx, 1, summary, strlen(summary), tui_attr(t, C_REJECT), 0, NULL);
    }
    draw_words(t, y, rx, rw, top + h - y, ntext ? ntext : nbody, hl_neg, diff ? changed : NULL, nneg, 0);
    if (ptext) draw_words(t, top, r.x + 1, lw - 1, h, ptext, hl_pos, NULL, 0, 0);
    for (int i = top - 1; i < top + h && i < end; i++) tui_put(i, r.x + lw, 1, t->utf8 ? "\xe2\x94\x82" : "|", t->utf8 ? 3 : 1, tui_attr(t, C_DIM));
    if (e.note && top + h < end) tui_putf(top + h, rx, rw, tui_attr(t, C_KEY), "note: %s", e.note);
    free(ntext);
    free(ptext);
    /* the reasons and the keys */
    char rs[640];
    o = 0;
    for (int i = 0; i < Q.nreasons; i++)
        o = tui_appendf(rs, sizeof rs, o, "%s%d %s", i ? "  " : "", i + 1, Q.reasons[i]);
    if (!Q.nreasons) o = tui_appendf(rs, sizeof rs, 0, "no preset reasons (review.reasons)");
    tui_put_wrapped(end - 2, r.x + 1, r.w - 1, 0, 1, rs, o, Q.reason ? tui_attr(t, C_DIM) : 0, 0, NULL);
    if (Q.reason)
        tui_putf(end - 1, r.x + 1, r.w - 1, tui_attr(t, C_KEY), "reason %d \"%s\": a or x records it as the note (%d again drops it)",
                 Q.reason, Q.reasons[Q.reason - 1], Q.reason);
    else
        tui_putf(end - 1, r.x + 1, r.w - 1, 0, "a accept  x reject  s/Space skip  u undo  1-9 reason  j/k move  o order  q close");
}

/* ---- keys ---- */

static int act(tui *t, int a)
{
    if (Q.cur >= Q.n) {
        tui_msg(t, "queue done: nothing to label (q closes)");
        return TUI_REDRAW;
    }
    if (t->readonly) {
        tui_err(t, "read-only (%s): labels cannot be changed here", t->ro_why);
        return TUI_REDRAW;
    }
    neg_row row;
    neg_store_get(t->ns, Q.items[Q.cur].ref, &row);
    char qid[256], nid[256];
    snprintf(qid, sizeof qid, "%s", row.query_id);
    snprintf(nid, sizeof nid, "%s", row.neg_id);
    label_entry e;
    int was = tui_row_label(t, &row, &e);
    char *note = Q.reason ? strdup(Q.reasons[Q.reason - 1]) : e.note ? strdup(e.note) : NULL;
    int w = tui_label(t, qid, nid, a, note, 1);
    free(note);
    if (w < 0) return TUI_REDRAW;
    if (was == LABEL_NONE && a != ACT_CLEAR) Q.reviewed++;
    if (!Q.acts++) Q.t_first = sy_now();
    Q.reason = 0;
    Q.cur = next_open(t, Q.cur + 1);
    if (Q.cur >= Q.n) {
        char m[sizeof t->msg];
        snprintf(m, sizeof m, "%s", t->msg);
        tui_msg(t, "%.400s; queue done", m);
    }
    return TUI_REDRAW;
}

static int undo(tui *t)
{
    if (!t->undo_pos) return tui_undo_step(t, 0);
    tui_undo *u = &t->undo[t->undo_pos - 1];
    char qid[256], nid[256];
    snprintf(qid, sizeof qid, "%s", u->qid);
    snprintf(nid, sizeof nid, "%s", u->nid);
    label_entry e;
    int before = t->lb ? labels_get(t->lb, qid, nid, &e) : LABEL_NONE;
    int r = tui_undo_step(t, 0);
    int after = t->lb ? labels_get(t->lb, qid, nid, &e) : LABEL_NONE;
    if (before != LABEL_NONE && after == LABEL_NONE && Q.reviewed) Q.reviewed--;
    /* back to the undone negative, if it is in the queue */
    for (size_t i = 0; i < Q.n; i++) {
        neg_row row;
        neg_store_get(t->ns, Q.items[i].ref, &row);
        if (!strcmp(row.query_id, qid) && !strcmp(row.neg_id, nid)) {
            Q.cur = i;
            break;
        }
    }
    return r;
}

static int key(tui *t, int action, int k)
{
    if (k >= '1' && k <= '9') {
        int i = k - '0';
        if (i > Q.nreasons) {
            tui_err(t, "no reason %d: review.reasons has %d (':set review.reasons \"a;b;c\"' changes them)", i, Q.nreasons);
            return TUI_REDRAW;
        }
        Q.reason = Q.reason == i ? 0 : i;
        return TUI_REDRAW;
    }
    if (k == 'o') {
        Q.order = (Q.order + 1) % ORDER_COUNT;
        build(t);
        Q.cur = next_open(t, 0);
        tui_msg(t, "queue order: %s", order_help[Q.order]);
        return TUI_REDRAW;
    }
    switch (action) {
    case ACT_accept: return act(t, ACT_ACCEPT);
    case ACT_reject: return act(t, ACT_REJECT);
    case ACT_sort: case ACT_select:   /* s and Space: skip */
        if (Q.cur < Q.n) Q.skipped++, Q.cur = next_open(t, Q.cur + 1);
        if (Q.cur >= Q.n) tui_msg(t, "queue done (%zu skipped)", Q.skipped);
        return TUI_REDRAW;
    case ACT_undo: return undo(t);
    case ACT_down: case ACT_page_down:
        if (Q.cur + 1 < Q.n) Q.cur++;
        return TUI_REDRAW;
    case ACT_up: case ACT_page_up:
        if (Q.cur > 0) Q.cur--;
        return TUI_REDRAW;
    case ACT_first: Q.cur = 0; return TUI_REDRAW;
    case ACT_last: Q.cur = Q.n ? Q.n - 1 : 0; return TUI_REDRAW;
    case ACT_review: return tui_toggle(t, &pane_review);
    case ACT_prompt: case ACT_redo: case ACT_help: case ACT_quit: case ACT_close: case ACT_redraw:
        return TUI_UNHANDLED;
    }
    if (action == ACT_NONE) return TUI_UNHANDLED;
    tui_msg(t, "in the review queue: a accept, x reject, s skip, u undo, 1-9 reason, q closes");
    return TUI_REDRAW;
}

static void close_review(tui *t) { (void)t; }

const tui_pane pane_review = {"review", open_review, draw, key, close_review};

int tui_review_order(const char *name)
{
    for (int i = 0; i < ORDER_COUNT; i++)
        if (!strcmp(name, order_names[i])) return i;
    return -1;
}

int act_review(tui *t, int argc, char **argv)
{
    if (argc > 1) {
        int o = tui_review_order(argv[1]);
        if (o < 0) {
            tui_err(t, "review: order is likely (false negatives first) or query");
            return TUI_REDRAW;
        }
        Q.order = o;
        if (t->overlay == &pane_review) {
            build(t);
            Q.cur = next_open(t, 0);
            return TUI_REDRAW;
        }
    }
    if (t->overlay == &pane_review) return tui_toggle(t, &pane_review);
    tui_toggle(t, &pane_review);
    if (argc > 1) Q.cur = next_open(t, 0);
    return TUI_REDRAW;
}

json_t *tui_review_save(tui *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "open", json_boolean(t->overlay == &pane_review));
    json_object_set_new(o, "order", json_string(order_names[Q.order]));
    if (Q.cur < Q.n) {
        neg_row row;
        neg_store_get(t->ns, Q.items[Q.cur].ref, &row);
        json_object_set_new(o, "query", json_string(row.query_id));
        json_object_set_new(o, "negative", json_string(row.neg_id));
    } else if (resume_q[0]) {
        json_object_set_new(o, "query", json_string(resume_q));
        json_object_set_new(o, "negative", json_string(resume_n));
    }
    return o;
}

void tui_review_restore(tui *t, const json_t *o)
{
    int order = tui_review_order(json_string_value(json_object_get(o, "order")) ? json_string_value(json_object_get(o, "order")) : "");
    if (order >= 0) Q.order = order;
    const char *q = json_string_value(json_object_get(o, "query")), *n = json_string_value(json_object_get(o, "negative"));
    if (q && n) {
        snprintf(resume_q, sizeof resume_q, "%s", q);
        snprintf(resume_n, sizeof resume_n, "%s", n);
    }
    if (json_is_true(json_object_get(o, "open")) && t->overlay != &pane_review) tui_toggle(t, &pane_review);
}
