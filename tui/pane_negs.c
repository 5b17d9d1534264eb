/* pane_negs: one column of negatives (synthetic or retrieved) for the current
 * query.  Each item: a header line (label badge, rank, source, score, id,
 * flags, reflection verdict), the attributes it was asked for (synthetic),
 * its text wrapped to a few lines, and the label's note.  Two panes share
 * this file, one per column. */
#include <curses.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

/* "name=value ..." of the provenance's attributes, into buf */
static void attrs_line(const char *prov, char *buf, size_t n)
{
    buf[0] = 0;
    if (!prov || !*prov) return;
    json_t *j = json_loads(prov, 0, NULL);
    if (!j) return;
    json_t *a = json_object_get(j, "attributes");
    if (!a) a = json_object_get(j, "attrs");
    const char *k;
    json_t *v;
    size_t o = 0;
    json_object_foreach(a, k, v) {
        if (!json_is_string(v) || o >= n - 1) continue;
        o = tui_appendf(buf, n, o, "%s%s=%s", o ? " " : "", k, json_string_value(v));
    }
    json_decref(j);
}

static const char *verdict(const char *prov, char *buf, size_t n)
{
    buf[0] = 0;
    if (!prov || !strstr(prov, "verdict")) return buf;
    json_t *j = json_loads(prov, 0, NULL);
    json_t *v = json_object_get(j, "verdict");
    /* only a verdict the reflection pass actually gave */
    if (json_is_string(v) && !strcmp(json_string_value(v), "false_negative")) snprintf(buf, n, "FN");
    else if (json_is_string(v) && !strcmp(json_string_value(v), "negative")) snprintf(buf, n, "ok");
    json_decref(j);
    return buf;
}

/* the judges' verdicts (syneg judge: prov "judge"), e.g. "llm:FN ce:ok", into buf */
static void judge_tags(const char *prov, char *buf, size_t n)
{
    buf[0] = 0;
    if (!prov || !strstr(prov, "\"judge\"")) return;
    json_t *j = json_loads(prov, 0, NULL), *jd = json_object_get(j, "judge");
    static const struct { const char *key, *tag; } judges[] = {
        {"llm", "llm"}, {"llm_cascade", "llm2"}, {"cross_encoder", "ce"}};
    size_t o = 0;
    for (size_t i = 0; i < sizeof judges / sizeof judges[0]; i++) {
        const char *v = json_string_value(json_object_get(json_object_get(jd, judges[i].key), "verdict"));
        if (!v) continue;
        const char *sv = !strcmp(v, "false_negative") ? "FN" : !strcmp(v, "negative") ? "ok" : "?";
        o = tui_appendf(buf, n, o, " %s:%s", judges[i].tag, sv);
    }
    json_decref(j);
}

/* lines of text per item, sized to the space: a few on a short column, more
 * on a tall one, and when the column has few items they share its height */
static int text_lines(tui_rect r, size_t nitems)
{
    int base = (r.h - 1) / 5;
    if (base < 2) base = 2;
    if (base > 4) base = 4;
    int share = nitems ? (r.h - 1) / (int)nitems - 3 : base;
    if (share > 12) share = 12;
    return share > base ? share : base;
}

/* the height of one item in rows, and (if draw) draw it at y, clipped to end */
static int item(tui *t, tui_col *col, size_t i, int syn, tui_rect r, int y, int end, int draw)
{
    neg_row row;
    neg_store_get(t->ns, col->refs[i], &row);
    label_entry e;
    int kind = tui_row_label(t, &row, &e);
    const char *title, *body = tui_row_text(t, &row, &title);
    char *pass = tui_passage(title, body);
    const char *text = pass ? pass : body;
    char attrs[256] = "";
    if (syn) attrs_line(row.prov, attrs, sizeof attrs);
    int nl = tui_put_wrapped(-1, 0, r.w - 4, 0, text_lines(r, col->n), text, strlen(text), 0, 0, NULL);
    int h = 1 + (attrs[0] ? 1 : 0) + nl + (e.note ? 1 : 0);
    if (!draw || y >= end) {
        free(pass);
        return h;
    }
    int focused = (syn ? FOCUS_SYN : FOCUS_RET) == t->focus, cur = i == col->cur;
    int base = cur ? tui_cursor_attr(t, focused) : 0;
    tui_fill(y, r.x, r.w, base);
    int x = r.x;
    const char *badge = kind == LABEL_ACCEPT ? "[+]" : kind == LABEL_REJECT ? "[X]" : "[ ]";
    int battr = kind == LABEL_ACCEPT ? tui_attr(t, C_ACCEPT) : kind == LABEL_REJECT ? tui_attr(t, C_REJECT) : 0;
    x += tui_put(y, x, r.w, col->sel[i] ? "*" : " ", 1, base | tui_attr(t, C_SEL));
    x += tui_put(y, x, r.x + r.w - x, badge, 3, cur ? base | (int)A_BOLD : battr);
    char head[256];
    size_t o = tui_appendf(head, sizeof head, 0, " %u %s", row.rank, neg_source_name(row.source));
    if (!syn || row.score != 0) o = tui_appendf(head, sizeof head, o, " %.3g", (double)row.score);
    tui_appendf(head, sizeof head, o, " %s", row.text ? "" : row.neg_id);
    x += tui_put(y, x, r.x + r.w - x, head, strlen(head), base);
    char vb[64];
    verdict(row.prov, vb, sizeof vb);
    if (row.flags & NEG_F_REFLECT_FN) x += tui_put(y, x, r.x + r.w - x, " refl:FN", 8, base | tui_attr(t, C_SUSPECT));
    else if (vb[0]) x += tui_putf(y, x, r.x + r.w - x, base, " refl:%s", vb);
    if (row.flags & NEG_F_SUSPECT) x += tui_put(y, x, r.x + r.w - x, " SUSPECT", 8, base | tui_attr(t, C_SUSPECT));
    judge_tags(row.prov, vb, sizeof vb);   /* helper 12: judge verdicts beside the row */
    if (vb[0]) x += tui_put(y, x, r.x + r.w - x, vb, strlen(vb), base | tui_attr(t, C_SUSPECT));
    if (row.flags & NEG_F_DUP) x += tui_put(y, x, r.x + r.w - x, " dup", 4, base);
    if (t->new_qid[0] && row.seq > t->new_seq && !strcmp(row.query_id, t->new_qid))
        x += tui_put(y, x, r.x + r.w - x, " new", 4, base | tui_attr(t, C_KEY));
    if (row.flags & (NEG_F_MAXREL | NEG_F_MARGIN | NEG_F_MAXSCORE)) x += tui_put(y, x, r.x + r.w - x, " filtered", 9, base | tui_attr(t, C_DIM));
    y++;
    if (attrs[0] && y < end) y += tui_put_wrapped(y, r.x + 4, r.w - 4, 0, 1, attrs, strlen(attrs), tui_attr(t, C_DIM), 0, NULL);
    if (y < end)
        y += tui_put_wrapped(y, r.x + 4, r.w - 4, 0, nl < end - y ? nl : end - y, text, strlen(text),
                             kind == LABEL_REJECT ? tui_attr(t, C_DIM) : 0, 0, NULL);
    free(pass);
    if (e.note && y < end) {
        int x = r.x + 4 + tui_put(y, r.x + 4, r.w - 4, "note: ", 6, tui_attr(t, C_KEY));
        tui_put_wrapped(y++, r.x + 4, r.w - 4, x - (r.x + 4), 1, e.note, strlen(e.note), tui_attr(t, C_KEY), 0, NULL);
    }
    return h;
}

static void draw_col(tui *t, tui_rect r, int c)
{
    tui_col *col = &t->col[c];
    int syn = c == COL_SYN, focused = t->focus == (syn ? FOCUS_SYN : FOCUS_RET);
    char title[128];
    size_t o = tui_appendf(title, sizeof title, 0, " %s %zu", syn ? "SYNTHETIC" : "RETRIEVED", col->n);
    if (col->nsel) o = tui_appendf(title, sizeof title, o, "  %zu selected", col->nsel);
    if (syn && t->offline) tui_appendf(title, sizeof title, o, "  (offline generator)");
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, focused);
    int top = r.y + 1, end = r.y + r.h;
    if (!col->n) {
        const char *hint = syn ? "none yet: R regenerates, :synth makes them" : "none yet: :mine --retriever bm25";
        tui_put(top, r.x + 1, r.w - 1, hint, strlen(hint), tui_attr(t, C_DIM));
        return;
    }
    if (col->cur < col->top) col->top = col->cur;
    /* scroll so the whole cursor item fits */
    for (;;) {
        int need = 0;
        for (size_t i = col->top; i <= col->cur; i++) need += item(t, col, i, syn, r, 0, 0, 0) + 1;
        if (need - 1 <= end - top || col->top == col->cur) break;
        col->top++;
    }
    int y = top;
    size_t i = col->top;
    for (; i < col->n && y < end; i++) {
        y += item(t, col, i, syn, r, y, end, 1);
        y++;   /* a blank line between items */
    }
    if (col->top > 0) tui_put(top, r.x + r.w - 1, 1, "^", 1, tui_attr(t, C_DIM));
    if (i < col->n || y > end + 1) tui_put(end - 1, r.x + r.w - 1, 1, "v", 1, tui_attr(t, C_DIM));
}

static void draw_syn(tui *t, tui_rect r) { draw_col(t, r, COL_SYN); }
static void draw_ret(tui *t, tui_rect r) { draw_col(t, r, COL_RET); }

const tui_pane pane_negs_syn = {"synthetic", NULL, draw_syn, NULL, NULL};
const tui_pane pane_negs_ret = {"retrieved", NULL, draw_ret, NULL, NULL};
