/* pane_queries: the query list on the left: id, reviewed/total negatives,
 * suspected false negatives, and the query text; filter and sort in the title. */
#include <curses.h>
#include <string.h>

#include "tui.h"

static void draw(tui *t, tui_rect r)
{
    char title[160];
    snprintf(title, sizeof title, " QUERIES %zu%s%s%s", t->nview, t->filter != FILTER_ALL ? " " : "",
             t->filter != FILTER_ALL ? tui_filter_names[t->filter] : "",
             t->sort != SORT_ID ? " by " : "");
    if (t->sort != SORT_ID) strncat(title, tui_sort_names[t->sort], sizeof title - strlen(title) - 1);
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, t->focus == FOCUS_QUERIES);
    int h = r.h - 1;
    if (h <= 0) return;
    if (!t->nview) {
        tui_putf(r.y + 1, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "%s", t->nq ? "no query matches the filter" : "no queries");
        return;
    }
    if (t->qcur < t->qtop) t->qtop = t->qcur;
    if (t->qcur >= t->qtop + (size_t)h) t->qtop = t->qcur - (size_t)h + 1;
    int idw = 2;   /* id column: the widest visible id, at most 10 */
    for (int i = 0; i < h && t->qtop + (size_t)i < t->nview; i++) {
        size_t n = strlen(corpus_query_id(t->c, t->qlist[t->view[t->qtop + i]]));
        if ((int)n > idw) idw = (int)n;
    }
    if (idw > 10) idw = 10;
    int cw = 3, sw = 0;   /* widths of "reviewed/total" and "!suspects" among the visible rows */
    for (int i = 0; i < h && t->qtop + (size_t)i < t->nview; i++) {
        const tui_qstat *st = tui_stat(t, t->view[t->qtop + i]);
        char b[32];
        int n = snprintf(b, sizeof b, "%u/%u", st->reviewed, st->nsyn + st->nret);
        if (n > cw) cw = n;
        if (st->suspects) {
            n = snprintf(b, sizeof b, "!%u", st->suspects);
            if (n > sw) sw = n;
        }
    }
    for (int i = 0; i < h; i++) {
        size_t v = t->qtop + (size_t)i;
        if (v >= t->nview) break;
        size_t pos = t->view[v];
        const tui_qstat *st = tui_stat(t, pos);
        int y = r.y + 1 + i, cur = v == t->qcur;
        int base = cur ? tui_cursor_attr(t, t->focus == FOCUS_QUERIES) : 0;
        tui_fill(y, r.x, r.w, base);
        uint32_t total = st->nsyn + st->nret;
        int x = r.x;
        const char *id = corpus_query_id(t->c, t->qlist[pos]);
        x += tui_putf(y, x, r.w, base, "%-*.*s ", idw, idw, id);
        int done = total && st->reviewed == total;
        char cnt[32], sus[16] = "";
        snprintf(cnt, sizeof cnt, "%u/%u", st->reviewed, total);
        if (st->suspects) snprintf(sus, sizeof sus, "!%u", st->suspects);
        x += tui_putf(y, x, r.x + r.w - x, base | (done && !cur ? tui_attr(t, C_ACCEPT) : 0), "%*s ", cw, cnt);
        x += tui_putf(y, x, r.x + r.w - x, base | (cur ? 0 : tui_attr(t, C_SUSPECT)), "%-*s%s", sw, sus, sw ? " " : "");
        const char *text = corpus_query_text(t->c, t->qlist[pos]);
        tui_put(y, x, r.x + r.w - x, text, strlen(text), base);
    }
}

const tui_pane pane_queries = {"queries", NULL, draw, NULL, NULL};
