/* pane_query: the current query and its positive passage(s), top right. */
#include <curses.h>
#include <stdlib.h>
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
    y += tui_put_wrapped(y, r.x + 1, r.w - 1, 0, end - y > 3 ? 2 : 1, text, strlen(text), A_BOLD, 0, NULL);
    size_t nrel = 0;
    const corpus_qrel *rel = t->qrels ? corpus_qrels_of(t->qrels, q, &nrel) : NULL;
    size_t npos = 0;
    for (size_t i = 0; i < nrel; i++) npos += rel[i].rel > 0;
    if (y < end) tui_putf(y++, r.x, r.w, tui_attr(t, C_TITLE), " POSITIVES %zu", npos);
    if (!npos && y < end) tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "(no positive in split %s)", session_train_split(t->s));
    /* as many positives as fit with at least one line each, from pos_top
     * (] and [ scroll); the rest are counted on a last line ("+20 more"),
     * never silently dropped */
    if (t->pos_query != pos) t->pos_query = pos, t->pos_top = 0;
    int left = end - y;
    size_t fit = npos <= (size_t)(left > 0 ? left : 0) ? npos : (size_t)(left > 1 ? left - 1 : 0);
    if (t->pos_top + fit > npos) t->pos_top = npos > fit ? npos - fit : 0;
    size_t skip = t->pos_top, shown = 0;
    fit = npos - skip < fit ? npos - skip : fit;
    for (size_t i = 0; i < nrel && shown < fit && y < end; i++) {
        if (rel[i].rel <= 0) continue;
        if (skip) {
            skip--;
            continue;
        }
        int room = end - y - (fit < npos ? 1 : 0);
        int lines = room / (int)(fit - shown);
        if (lines < 1) lines = 1;
        shown++;
        const char *id = corpus_doc_id(t->c, rel[i].doc), *ti = corpus_doc_title(t->c, rel[i].doc);
        const char *dt = corpus_doc_text(t->c, rel[i].doc);
        int x = r.x + 1;
        x += tui_putf(y, x, r.x + r.w - x, tui_attr(t, C_ACCEPT), "+ %s ", id);
        char *pass = tui_passage(ti, dt);
        const char *ps = pass ? pass : dt;
        y += tui_put_wrapped(y, r.x + 3, r.w - 3, x - (r.x + 3), lines, ps, strlen(ps), 0, 0, NULL);
        free(pass);
    }
    if (shown < npos && y < end) {
        size_t after = npos - t->pos_top - shown;
        if (t->pos_top && after) tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "%zu above, +%zu more ([ ] scroll)", t->pos_top, after);
        else if (t->pos_top) tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "%zu above ([ scrolls up)", t->pos_top);
        else tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "+%zu more (] scrolls, Enter on a negative shows them all)", after);
    }
}

const tui_pane pane_query = {"query", NULL, draw, NULL, NULL};
