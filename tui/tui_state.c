/* tui_state: resume where you left off.  SESSION/tui-state.json (written
 * with sy_write_file_atomic when the workbench quits, and every 30 seconds
 * while something changed) holds the query under the cursor, each column's
 * negative under its cursor (by id), the focus, the filter (and its words),
 * the sort, the query list's width, and the review queue (open or not, its order, its negative).
 * On open they are restored; anything that no longer exists (a query gone
 * from the list, a negative re-mined away) is passed over, never guessed.
 * A read-only workbench reads the file and never writes it.  A file that is
 * not valid JSON is reported on the status line and left alone. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

static const char *const focus_names[] = {"queries", "synthetic", "retrieved"};
static const char *const list_names[] = {"normal", "hidden", "wide"};

static json_t *state_json(tui *t)
{
    json_t *o = json_object();
    const char *qid = tui_cur_qid(t);
    if (qid) json_object_set_new(o, "query", json_string(qid));
    json_object_set_new(o, "focus", json_string(focus_names[t->focus >= 0 && t->focus < 3 ? t->focus : 0]));
    json_object_set_new(o, "filter", json_string(tui_filter_names[t->filter]));
    if (t->filter == FILTER_TEXT) json_object_set_new(o, "filter_text", json_string(t->filter_text));
    json_object_set_new(o, "sort", json_string(tui_sort_names[t->sort]));
    json_object_set_new(o, "list", json_string(list_names[t->list_mode >= 0 && t->list_mode < 3 ? t->list_mode : 0]));
    tui_load_query(t);
    for (int c = 0; c < 2; c++) {
        tui_col *col = &t->col[c];
        if (col->cur >= col->n) continue;
        neg_row row;
        neg_store_get(t->ns, col->refs[col->cur], &row);
        json_object_set_new(o, c == COL_SYN ? "synthetic" : "retrieved", json_string(row.neg_id));
    }
    json_t *q = tui_review_save(t);
    if (q) json_object_set_new(o, "review", q);
    return o;
}

int tui_state_save(tui *t, int force)
{
    if (t->readonly || !t->s || t->state_bad) return 0;
    json_t *o = state_json(t);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!text) return -1;
    if (!force && t->state_last && !strcmp(text, t->state_last)) {
        free(text);
        return 0;
    }
    char *path = session_path(t->s, "tui-state.json");
    size_t n = strlen(text);
    sy_err err;
    int r = path ? sy_write_file_atomic(path, text, n, &err) : -1;
    free(path);
    if (r < 0) {
        tui_err(t, "could not save where you left off: %s", err.msg);
        free(text);
        return -1;
    }
    free(t->state_last);
    t->state_last = text;
    return 0;
}

static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static void cursor_to(tui *t, int c, const char *nid)
{
    if (!nid) return;
    tui_col *col = &t->col[c];
    for (size_t i = 0; i < col->n; i++) {
        neg_row row;
        neg_store_get(t->ns, col->refs[i], &row);
        if (!strcmp(row.neg_id, nid)) {
            col->cur = i;
            return;
        }
    }
}

void tui_state_load(tui *t)
{
    char *path = session_path(t->s, "tui-state.json");
    if (!path || !sy_file_exists(path)) {
        free(path);
        return;
    }
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!json_is_object(o)) {
        tui_err(t, "%s:%d: not valid JSON (%s); starting at the top (the file is left as it is)", path, je.line, je.text);
        t->state_bad = 1;
        json_decref(o);
        free(path);
        return;
    }
    free(path);
    int f = name_index(json_string_value(json_object_get(o, "filter")), tui_filter_names, FILTER_COUNT);
    int s = name_index(json_string_value(json_object_get(o, "sort")), tui_sort_names, SORT_COUNT);
    const char *ft = json_string_value(json_object_get(o, "filter_text"));
    if (f == FILTER_TEXT && ft) snprintf(t->filter_text, sizeof t->filter_text, "%s", ft);
    if (f >= 0 && (f != FILTER_TEXT || ft)) t->filter = f;
    if (s >= 0) t->sort = s;
    if (f >= 0 || s >= 0) tui_rebuild_view(t);
    const char *qid = json_string_value(json_object_get(o, "query"));
    if (qid) tui_goto_query(t, qid);
    tui_load_query(t);
    cursor_to(t, COL_SYN, json_string_value(json_object_get(o, "synthetic")));
    cursor_to(t, COL_RET, json_string_value(json_object_get(o, "retrieved")));
    int fo = name_index(json_string_value(json_object_get(o, "focus")), focus_names, 3);
    if (fo >= 0) t->focus = fo;
    int lm = name_index(json_string_value(json_object_get(o, "list")), list_names, 3);
    if (lm >= 0) t->list_mode = lm;
    json_t *q = json_object_get(o, "review");
    if (json_is_object(q)) tui_review_restore(t, q);
    json_decref(o);
    char *text = json_dumps((o = state_json(t)), JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    free(t->state_last);
    t->state_last = text;
}
