/* pane_query: the current query and its positive passage(s), top right. */
#include <curses.h>
#include <string.h>

#include "tui.h"

static void draw(tui *t, tui_rect r)
{
    long pos = tui_cur_pos(t);
    if (pos < 0) {
        tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, " QUERY", 0);
        return;
    }
    uint32_t q = t->qlist[pos];
    const tui_qstat *st = tui_stat(t, (size_t)pos);
    char title[256];
    snprintf(title, sizeof title, " QUERY %s   reviewed %u/%u%s", corpus_query_id(t->c, q), st->reviewed,
             st->nsyn + st->nret, st->suspects ? "" : "");
    if (st->suspects) snprintf(title + strlen(title), sizeof title - strlen(title), "   %u suspect%s", st->suspects, st->suspects == 1 ? "" : "s");
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, 0);
    int y = r.y + 1, end = r.y + r.h;
    const char *text = corpus_query_text(t->c, q);
    size_t starts[4], ends[4];
    size_t n = tui_wrap(text, strlen(text), r.w - 1, starts, ends, 2);
    for (size_t i = 0; i < n && y < end; i++, y++)
        tui_put(y, r.x + 1, r.w - 1, text + starts[i], ends[i] - starts[i], A_BOLD);
    size_t nrel = 0;
    const corpus_qrel *rel = t->qrels ? corpus_qrels_of(t->qrels, q, &nrel) : NULL;
    size_t npos = 0;
    for (size_t i = 0; i < nrel; i++) npos += rel[i].rel > 0;
    if (y < end) tui_putf(y++, r.x, r.w, tui_attr(t, C_TITLE), " POSITIVES %zu", npos);
    if (!npos && y < end) tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "(no positive in split %s)", session_train_split(t->s));
    int left = end - y;
    size_t shown = 0;
    for (size_t i = 0; i < nrel && y < end; i++) {
        if (rel[i].rel <= 0) continue;
        int lines = (int)(left / (npos - shown > 0 ? npos - shown : 1));
        if (lines < 1) lines = 1;
        shown++;
        const char *id = corpus_doc_id(t->c, rel[i].doc), *ti = corpus_doc_title(t->c, rel[i].doc);
        const char *dt = corpus_doc_text(t->c, rel[i].doc);
        int x = r.x + 1;
        x += tui_putf(y, x, r.x + r.w - x, tui_attr(t, C_ACCEPT), "+ %s ", id);
        if (ti && *ti) x += tui_putf(y, x, r.x + r.w - x, A_BOLD, "%s: ", ti);
        size_t ps[16], pe[16];
        int firstw = r.x + r.w - x;
        size_t k = tui_wrap(dt, strlen(dt), firstw > 10 ? firstw : 10, ps, pe, 1);
        if (k) tui_put(y, x, r.x + r.w - x, dt + ps[0], pe[0] - ps[0], 0);
        y++;
        size_t off = k ? pe[0] : 0;
        if (lines > 1 && off < strlen(dt)) {
            size_t m = tui_wrap(dt + off, strlen(dt + off), r.w - 3, ps, pe, (size_t)(lines - 1 < 16 ? lines - 1 : 16));
            for (size_t j = 0; j < m && y < end; j++, y++) tui_put(y, r.x + 3, r.w - 3, dt + off + ps[j], pe[j] - ps[j], 0);
        }
        left = end - y;
    }
}

const tui_pane pane_query = {"query", NULL, draw, NULL, NULL};
