/* pane_detail: one negative in full: the query, the negative's whole text
 * with the query's terms highlighted, its label and note, its provenance (the
 * LLM's reasoning, attributes, model, prompt hash) and the positives to
 * compare with.  Labelling keys work here and move to the next negative. */
#include <curses.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

static int dscroll;

/* a tiny virtual page: lines before `dscroll` are skipped, the rest drawn */
typedef struct {
    tui *t;
    tui_rect r;
    int line, y;
    const char *terms;
} page;

static void emit(page *p, const char *s, int attr, int hl, int indent)
{
    size_t len = strlen(s), starts[512], ends[512];
    size_t n = tui_wrap(s, len, p->r.w - 1 - indent, starts, ends, 512);
    if (!n) n = 1, starts[0] = ends[0] = 0;
    for (size_t i = 0; i < n; i++, p->line++) {
        if (p->line < dscroll || p->y >= p->r.y + p->r.h) continue;
        if (hl) tui_put_hl(p->y, p->r.x + 1 + indent, p->r.w - 1 - indent, s + starts[i], ends[i] - starts[i], attr,
                           tui_attr(p->t, C_HILITE), p->terms);
        else tui_put(p->y, p->r.x + 1 + indent, p->r.w - 1 - indent, s + starts[i], ends[i] - starts[i], attr);
        p->y++;
    }
}

static void emitf(page *p, int attr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void emitf(page *p, int attr, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(p, buf, attr, 0, 0);
}

static void draw(tui *t, tui_rect r)
{
    neg_row row;
    if (!tui_cur_row(t, &row)) {
        tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, " DETAIL", 1);
        tui_put(r.y + 1, r.x + 1, r.w - 1, "no negative under the cursor", 28, tui_attr(t, C_DIM));
        return;
    }
    label_entry e;
    int kind = tui_row_label(t, &row, &e);
    char title[512];
    snprintf(title, sizeof title, " DETAIL %s / %s   %s   j/k scroll  a/x label  q closes", row.query_id, row.neg_id,
             kind == LABEL_ACCEPT ? "[+] accepted" : kind == LABEL_REJECT ? "[X] rejected (false negative)" : "[ ] unlabelled");
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, 1);
    int64_t q = corpus_query_find(t->c, row.query_id);
    const char *qtext = q >= 0 ? corpus_query_text(t->c, (uint32_t)q) : "";
    char terms[1024];
    tui_query_terms(qtext, terms, sizeof terms);
    page p = {t, {r.y + 1, r.x, r.h - 1, r.w}, 0, r.y + 1, terms};
    emit(&p, "QUERY", tui_attr(t, C_TITLE), 0, 0);
    emit(&p, qtext, A_BOLD, 1, 2);
    emit(&p, "", 0, 0, 0);
    emitf(&p, tui_attr(t, C_TITLE), "NEGATIVE  %s  rank %u  score %.4g  rel %.3f%s%s%s", neg_source_name(row.source), row.rank,
          (double)row.score, tui_row_rel(t, &row), row.flags & NEG_F_SUSPECT ? "  SUSPECT" : "",
          row.flags & NEG_F_REFLECT_FN ? "  reflection: false negative" : "", row.flags & NEG_F_DUP ? "  duplicate" : "");
    const char *ti, *text = tui_row_text(t, &row, &ti);
    if (ti && *ti) emit(&p, ti, A_BOLD, 1, 2);
    emit(&p, text, 0, 1, 2);
    if (kind != LABEL_NONE || e.note) {
        emit(&p, "", 0, 0, 0);
        emitf(&p, tui_attr(t, C_TITLE), "LABEL  %s  %s", label_kind_name(kind), e.time ? e.time : "");
        if (e.note) emitf(&p, 0, "  note: %s", e.note);
    }
    if (row.prov && *row.prov) {
        emit(&p, "", 0, 0, 0);
        emit(&p, "PROVENANCE", tui_attr(t, C_TITLE), 0, 0);
        json_t *j = json_loads(row.prov, 0, NULL);
        if (!json_is_object(j)) emit(&p, row.prov, 0, 0, 2);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (json_is_string(v)) {
                emitf(&p, A_BOLD, "  %s:", k);
                emit(&p, json_string_value(v), 0, !strcmp(k, "reasoning"), 4);
            } else {
                char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
                emitf(&p, 0, "  %s: %s", k, d ? d : "");
                free(d);
            }
        }
        json_decref(j);
    }
    size_t nrel = 0;
    const corpus_qrel *rel = t->qrels && q >= 0 ? corpus_qrels_of(t->qrels, (uint32_t)q, &nrel) : NULL;
    for (size_t i = 0; i < nrel; i++) {
        if (rel[i].rel <= 0) continue;
        emit(&p, "", 0, 0, 0);
        emitf(&p, tui_attr(t, C_ACCEPT), "POSITIVE %s", corpus_doc_id(t->c, rel[i].doc));
        emit(&p, corpus_doc_text(t->c, rel[i].doc), 0, 1, 2);
    }
    if (dscroll > 0 && p.line - dscroll < r.h - 1) dscroll = p.line - (r.h - 1) > 0 ? p.line - (r.h - 1) : 0;
}

static void open_detail(tui *t) { (void)t; dscroll = 0; }

static int key(tui *t, int action, int k)
{
    (void)t, (void)k;
    switch (action) {
    case ACT_down: dscroll++; return TUI_REDRAW;
    case ACT_up: if (dscroll > 0) dscroll--; return TUI_REDRAW;
    case ACT_page_down: dscroll += 10; return TUI_REDRAW;
    case ACT_page_up: dscroll = dscroll > 10 ? dscroll - 10 : 0; return TUI_REDRAW;
    case ACT_first: dscroll = 0; return TUI_REDRAW;
    case ACT_accept: case ACT_reject: case ACT_clear: case ACT_next_unrev: case ACT_next_query: case ACT_prev_query:
        dscroll = 0;
        return TUI_UNHANDLED;
    case ACT_detail: return TUI_UNHANDLED;
    }
    return TUI_UNHANDLED;
}

const tui_pane pane_detail = {"detail", open_detail, draw, key, NULL};

int act_detail(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    if (t->overlay != &pane_detail && t->focus == FOCUS_QUERIES) t->focus = t->col[COL_SYN].n ? FOCUS_SYN : FOCUS_RET;
    return tui_toggle(t, &pane_detail);
}
