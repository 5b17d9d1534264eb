/* tui_cmd: the one command language of the workbench (the `:` prompt, the
 * startup file and scripts) and the handlers of the global actions.
 *
 * A command line is words split shell-style ('single', "double", \escape);
 * the first word names an action of actions.def (exact or a unique prefix),
 * the rest are its arguments.  Keys run the same handlers with no arguments. */
#include <ctype.h>
#include <curses.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

const tui_action_info tui_actions[ACT_COUNT] = {
#define ACTION(id, name, keys, flags, args, help) [ACT_##id] = {name, keys, args, help, flags, act_##id},
#include "actions.def"
#undef ACTION
};

int tui_action_find(const char *name)
{
    int found = -1, n = 0;
    size_t len = strlen(name);
    if (!len) return -1;
    for (int a = 0; a < ACT_COUNT; a++) {
        if (!strcmp(tui_actions[a].name, name)) return a;
        if (!strncmp(tui_actions[a].name, name, len)) found = a, n++;
    }
    if (!strcmp(name, "q")) return ACT_quit;
    return n == 1 ? found : -1;
}

int tui_split_args(const char *line, char ***argvp)
{
    size_t cap = 8;
    int argc = 0;
    char **argv = malloc(cap * sizeof *argv);
    char *word = malloc(strlen(line) + 1);
    if (!argv || !word) {
        free(argv), free(word);
        *argvp = NULL;
        return -1;
    }
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        size_t n = 0;
        char quote = 0;
        for (; *p; p++) {
            if (quote) {
                if (*p == quote) quote = 0;
                else if (*p == '\\' && quote == '"' && p[1]) word[n++] = *++p;
                else word[n++] = *p;
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
            } else if (*p == '\\' && p[1]) {
                word[n++] = *++p;
            } else if (*p == ' ' || *p == '\t') {
                break;
            } else {
                word[n++] = *p;
            }
        }
        word[n] = 0;
        if ((size_t)argc + 2 > cap) {
            cap *= 2;
            char **na = realloc(argv, cap * sizeof *na);
            if (!na) break;
            argv = na;
        }
        argv[argc++] = strdup(word);
    }
    argv[argc] = NULL;
    free(word);
    *argvp = argv;
    return argc;
}

void tui_free_args(int argc, char **argv)
{
    if (!argv) return;
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
}

int tui_run_action(tui *t, int action, int argc, char **argv)
{
    if (action < 0 || action >= ACT_COUNT) return TUI_NONE;
    if ((tui_actions[action].flags & AF_WRITE) && t->readonly) {
        tui_err(t, "%s: read-only session (%s)", tui_actions[action].name, t->ro_why);
        return TUI_REDRAW;
    }
    return tui_actions[action].fn(t, argc, argv) | TUI_REDRAW;
}

int tui_run_command(tui *t, const char *line)
{
    char **argv;
    int argc = tui_split_args(line, &argv);
    if (argc <= 0) {
        tui_free_args(argc, argv);
        return TUI_NONE;
    }
    int flags = TUI_REDRAW;
    int a = tui_action_find(argv[0]);
    if (a < 0) tui_err(t, "unknown command '%s'; Tab completes, ? lists them", argv[0]);
    else flags = tui_run_action(t, a, argc, argv);
    tui_free_args(argc, argv);
    return flags;
}

/* words argv[from..] joined by spaces into a malloc'd string, NULL when none */
static char *join(int argc, char **argv, int from)
{
    if (from >= argc) return NULL;
    sy_buf b = {0};
    for (int i = from; i < argc; i++) {
        if (i > from) sy_buf_puts(&b, " ");
        sy_buf_puts(&b, argv[i]);
    }
    return b.data;
}

/* ---- moving ---- */

static tui_col *focus_col(tui *t)
{
    return t->focus == FOCUS_SYN ? &t->col[COL_SYN] : t->focus == FOCUS_RET ? &t->col[COL_RET] : NULL;
}

static int move_cursor(tui *t, long delta, int absolute)
{
    tui_load_query(t);
    tui_col *c = focus_col(t);
    size_t n = c ? c->n : t->nview, *cur = c ? &c->cur : &t->qcur;
    if (!n) return TUI_REDRAW;
    long v = absolute ? delta : (long)*cur + delta;
    if (v < 0) v = 0;
    if (v >= (long)n) v = (long)n - 1;
    *cur = (size_t)v;
    return TUI_REDRAW;
}

static long page(tui *t) { return t->focus == FOCUS_QUERIES ? (t->rows > 8 ? t->rows - 5 : 1) : 4; }

int act_down(tui *t, int argc, char **argv) { (void)argc, (void)argv; return move_cursor(t, 1, 0); }
int act_up(tui *t, int argc, char **argv) { (void)argc, (void)argv; return move_cursor(t, -1, 0); }
int act_page_down(tui *t, int argc, char **argv) { (void)argc, (void)argv; return move_cursor(t, page(t), 0); }
int act_page_up(tui *t, int argc, char **argv) { (void)argc, (void)argv; return move_cursor(t, -page(t), 0); }
int act_first(tui *t, int argc, char **argv) { (void)argc, (void)argv; return move_cursor(t, 0, 1); }
int act_last(tui *t, int argc, char **argv) { (void)argc, (void)argv; return move_cursor(t, 1L << 40, 1); }

/* focus queries -> synthetic -> retrieved, passing over an empty column when
 * the other has negatives (the cursor is always on something visible) */
static int cycle_focus(tui *t, int step)
{
    tui_load_query(t);
    t->focus = (t->focus + step) % 3;
    if (t->focus != FOCUS_QUERIES && !t->col[t->focus == FOCUS_SYN ? COL_SYN : COL_RET].n &&
        t->col[t->focus == FOCUS_SYN ? COL_RET : COL_SYN].n)
        t->focus = (t->focus + step) % 3;
    return TUI_REDRAW;
}

int act_next_col(tui *t, int argc, char **argv) { (void)argc, (void)argv; return cycle_focus(t, 1); }
int act_prev_col(tui *t, int argc, char **argv) { (void)argc, (void)argv; return cycle_focus(t, 2); }

static void focus_first_nonempty(tui *t)
{
    tui_load_query(t);
    if (t->focus == FOCUS_QUERIES) return;
    if (t->focus == FOCUS_SYN && !t->col[COL_SYN].n && t->col[COL_RET].n) t->focus = FOCUS_RET;
    if (t->focus == FOCUS_RET && !t->col[COL_RET].n && t->col[COL_SYN].n) t->focus = FOCUS_SYN;
}

static int step_query(tui *t, int d)
{
    if (!t->nview) return TUI_REDRAW;
    if (d > 0 && t->qcur + 1 < t->nview) t->qcur++;
    else if (d < 0 && t->qcur > 0) t->qcur--;
    else tui_msg(t, d > 0 ? "last query" : "first query");
    focus_first_nonempty(t);
    return TUI_REDRAW;
}

int act_next_query(tui *t, int argc, char **argv) { (void)argc, (void)argv; return step_query(t, 1); }
int act_prev_query(tui *t, int argc, char **argv) { (void)argc, (void)argv; return step_query(t, -1); }

static int unlabelled_in(tui *t, int c, size_t from)
{
    tui_col *col = &t->col[c];
    for (size_t i = from; i < col->n; i++) {
        neg_row row;
        label_entry e;
        neg_store_get(t->ns, col->refs[i], &row);
        if (tui_row_label(t, &row, &e) == LABEL_NONE) {
            col->cur = i;
            t->focus = c == COL_SYN ? FOCUS_SYN : FOCUS_RET;
            return 1;
        }
    }
    return 0;
}

int tui_next_unlabelled(tui *t)
{
    tui_load_query(t);
    /* after the cursor in this query: the focused column, then the other */
    int c = t->focus == FOCUS_RET ? COL_RET : COL_SYN;
    size_t from = t->focus == FOCUS_QUERIES ? 0 : t->col[c].cur + 1;
    if (unlabelled_in(t, c, from)) return 1;
    if (c == COL_SYN && unlabelled_in(t, COL_RET, 0)) return 1;
    /* then the following queries; k == nview comes back to this one from its top */
    for (size_t k = 1; k <= t->nview; k++) {
        size_t v = (t->qcur + k) % t->nview;
        const tui_qstat *st = tui_stat(t, t->view[v]);
        if (st->reviewed >= st->nsyn + st->nret) continue;
        size_t was = t->qcur;
        t->qcur = v;
        tui_load_query(t);
        if (unlabelled_in(t, COL_SYN, 0) || unlabelled_in(t, COL_RET, 0)) return 1;
        t->qcur = was;   /* counts were stale: stay */
        tui_load_query(t);
    }
    return 0;
}

int act_next_unrev(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    size_t was = t->qcur;
    if (!tui_next_unlabelled(t)) tui_msg(t, "queue done: every negative in the list is labelled");
    else if (t->qcur < was) tui_msg(t, "wrapped to the top of the list");
    return TUI_REDRAW;
}

int act_list_width(tui *t, int argc, char **argv)
{
    static const char *const names[] = {"normal", "hidden", "wide"};
    int m = (t->list_mode + 1) % 3;
    if (argc > 1) {
        m = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(argv[1], names[i])) m = i;
        if (m < 0) {
            tui_err(t, "list-width: normal, hidden or wide");
            return TUI_REDRAW;
        }
    }
    t->list_mode = m;
    tui_msg(t, "query list %s%s", names[m], m == 1 ? " (z shows it again; n/p still move between queries)" : "");
    return TUI_REDRAW;
}

int act_pos_down(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    t->pos_top++;   /* clamped when drawn */
    return TUI_REDRAW;
}

int act_pos_up(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    if (t->pos_top) t->pos_top--;
    return TUI_REDRAW;
}

int act_goto(tui *t, int argc, char **argv)
{
    if (argc < 2) {
        tui_prompt_open(t, "goto ");
        return TUI_REDRAW;
    }
    if (tui_goto_query(t, argv[1]) < 0) {
        tui_err(t, "goto: no query '%s' in this session; Tab completes query ids", argv[1]);
        return TUI_REDRAW;
    }
    focus_first_nonempty(t);
    return TUI_REDRAW;
}

/* ---- labelling ---- */

/* Label the negative under the cursor.  It must be one the person sees
 * highlighted: with the query list focused nothing is labelled, the focus
 * moves to this query's first unlabelled negative instead.  keep_note: a
 * NULL note keeps the pair's note (a then x never drops "near miss").
 * advance: then move to the next unlabelled negative, saying "queue done"
 * when there is none. */
static int label_current(tui *t, int act, const char *note, int keep_note, int advance)
{
    tui_load_query(t);
    if (t->focus == FOCUS_QUERIES) {
        if (!t->col[COL_SYN].n && !t->col[COL_RET].n) {
            tui_err(t, "this query has no negatives yet: try :mine or :synth");
            return TUI_REDRAW;
        }
        if (!unlabelled_in(t, COL_SYN, 0) && !unlabelled_in(t, COL_RET, 0))
            t->focus = t->col[COL_SYN].n ? FOCUS_SYN : FOCUS_RET;
        char k[32];
        keys_first(t, act == ACT_REJECT ? ACT_reject : act == ACT_ACCEPT ? ACT_accept : ACT_clear, k, sizeof k);
        tui_msg(t, "nothing labelled: the cursor is now on a negative; press %s again to %s it", k,
                act == ACT_REJECT ? "reject" : act == ACT_ACCEPT ? "accept" : "clear");
        return TUI_REDRAW;
    }
    neg_row row;
    if (!tui_cur_row(t, &row)) {
        tui_err(t, "no negative under the cursor (this query has none yet: try :mine or :synth)");
        return TUI_REDRAW;
    }
    char qid[256], nid[256];
    snprintf(qid, sizeof qid, "%s", row.query_id);
    snprintf(nid, sizeof nid, "%s", row.neg_id);
    label_entry e;
    tui_row_label(t, &row, &e);
    char *kept = keep_note && !note && e.note ? strdup(e.note) : NULL;
    int r = tui_label(t, qid, nid, act, kept ? kept : note, 1);
    free(kept);
    if (r >= 0 && advance && !tui_next_unlabelled(t)) {
        char m[sizeof t->msg];
        snprintf(m, sizeof m, "%s", t->msg);
        tui_msg(t, "%.400s; queue done: every negative in the list is labelled", m);
    }
    return TUI_REDRAW;
}

static int act_with_note(tui *t, int act, int argc, char **argv)
{
    char *note = join(argc, argv, 1);
    int r = label_current(t, act, note, 1, 1);
    free(note);
    return r;
}

int act_accept(tui *t, int argc, char **argv) { return act_with_note(t, ACT_ACCEPT, argc, argv); }
int act_reject(tui *t, int argc, char **argv) { return act_with_note(t, ACT_REJECT, argc, argv); }
int act_clear(tui *t, int argc, char **argv) { (void)argc, (void)argv; return label_current(t, ACT_CLEAR, NULL, 1, 0); }

int act_label(tui *t, int argc, char **argv)
{
    int act = argc > 1 ? label_act_parse(argv[1]) : -1;
    if (act < 0) {
        tui_err(t, "label: say accept, reject or clear (then an optional note)");
        return TUI_REDRAW;
    }
    char *note = join(argc, argv, 2);
    int r = label_current(t, act, note, 1, act != ACT_CLEAR);
    free(note);
    return r;
}

int act_note(tui *t, int argc, char **argv)
{
    if (argc < 2) {
        tui_prompt_open(t, "note ");
        return TUI_REDRAW;
    }
    neg_row row;
    if (t->focus == FOCUS_QUERIES || !tui_cur_row(t, &row)) {
        tui_err(t, "note: no negative under the cursor (Tab focuses the negatives)");
        return TUI_REDRAW;
    }
    label_entry e;
    int kind = tui_row_label(t, &row, &e);
    char *note = join(argc, argv, 1);
    /* the label stays as it is; an unlabelled negative keeps no label */
    int r = label_current(t, kind == LABEL_ACCEPT ? ACT_ACCEPT : kind == LABEL_REJECT ? ACT_REJECT : ACT_CLEAR, note, 0, 0);
    free(note);
    return r;
}

int act_undo(tui *t, int argc, char **argv) { (void)argc, (void)argv; return tui_undo_step(t, 0); }
int act_redo(tui *t, int argc, char **argv) { (void)argc, (void)argv; return tui_undo_step(t, 1); }

int act_select(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    tui_load_query(t);
    tui_col *c = focus_col(t);
    if (!c || !c->n) {
        tui_err(t, "select: focus a negatives column first (Tab)");
        return TUI_REDRAW;
    }
    c->sel[c->cur] ^= 1;
    c->nsel += c->sel[c->cur] ? 1 : (size_t)-1;
    if (c->cur + 1 < c->n) c->cur++;
    tui_msg(t, "%zu selected; :bulk accept|reject|clear labels them", t->col[0].nsel + t->col[1].nsel);
    return TUI_REDRAW;
}

typedef struct {
    enum { CO_REL, CO_SCORE, CO_RANK, CO_SOURCE, CO_SUSPECT, CO_UNLABELLED } what;
    int op;            /* '<', '>', 'l' (<=), 'g' (>=), '=' */
    double v;
    int source;
} bulk_cond;

static int parse_cond(const char *s, bulk_cond *c)
{
    memset(c, 0, sizeof *c);
    if (!strcmp(s, "suspect") || !strcmp(s, "suspects")) return c->what = CO_SUSPECT, 0;
    if (!strcmp(s, "unlabelled") || !strcmp(s, "unlabeled") || !strcmp(s, "unreviewed")) return c->what = CO_UNLABELLED, 0;
    static const struct { const char *name; int what; } names[] = {
        {"rel", CO_REL}, {"score", CO_SCORE}, {"rank", CO_RANK}, {"source", CO_SOURCE}};
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(names[i].name);
        if (strncmp(s, names[i].name, n)) continue;
        const char *p = s + n;
        int op = *p;
        if (op != '<' && op != '>' && op != '=') return -1;
        p++;
        if (*p == '=') op = op == '<' ? 'l' : op == '>' ? 'g' : '=', p++;
        c->what = names[i].what;
        c->op = op;
        if (c->what == CO_SOURCE) {
            c->source = neg_source_parse(p);
            return c->source < 0 || op != '=' ? -1 : 0;
        }
        char *end;
        c->v = strtod(p, &end);
        return end == p || *end ? -1 : 0;
    }
    return -1;
}

static int cond_true(tui *t, const bulk_cond *c, const neg_row *row)
{
    double x;
    label_entry e;
    switch (c->what) {
    case CO_SUSPECT: return (row->flags & (NEG_F_SUSPECT | NEG_F_REFLECT_FN)) != 0;
    case CO_UNLABELLED: return tui_row_label(t, row, &e) == LABEL_NONE;
    case CO_SOURCE: return row->source == c->source;
    case CO_REL: x = tui_row_rel(t, row); break;
    case CO_SCORE: x = row->score; break;
    default: x = row->rank; break;
    }
    switch (c->op) {
    case '<': return x < c->v;
    case '>': return x > c->v;
    case 'l': return x <= c->v;
    case 'g': return x >= c->v;
    default: return x == c->v;
    }
}

int act_bulk(tui *t, int argc, char **argv)
{
    int confirmed = t->bulk_confirmed;   /* y answered this command's preview */
    t->bulk_confirmed = 0;
    int act = argc > 1 ? label_act_parse(argv[1]) : -1;
    if (act < 0) {
        tui_err(t, "bulk: usage: bulk accept|reject|clear [synthetic|retrieved|all] [COND...] [every-query]");
        return TUI_REDRAW;
    }
    int cols = 3, every = 0;   /* cols: bit 0 synthetic, bit 1 retrieved */
    bulk_cond conds[16];
    int nc = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "synthetic")) cols = 1;
        else if (!strcmp(argv[i], "retrieved")) cols = 2;
        else if (!strcmp(argv[i], "all")) cols = 3;
        else if (!strcmp(argv[i], "every-query")) every = 1;
        else if (nc == 16 || parse_cond(argv[i], &conds[nc++]) < 0) {
            tui_err(t, "bulk: cannot read condition '%s'; e.g. rel>0.98 score>=12 rank<=5 source=bm25 suspect unlabelled", argv[i]);
            return TUI_REDRAW;
        }
    }
    tui_load_query(t);
    int use_sel = !every && nc == 0 && t->col[0].nsel + t->col[1].nsel > 0;
    if (nc == 0 && !use_sel && (argc <= 2 || every)) {
        tui_err(t, every ? "bulk: every-query needs a condition" : "bulk: select negatives first (v) or give conditions");
        return TUI_REDRAW;
    }
    static const char *const verbs[] = {"", "accept", "reject", "clear"};
    int target = act == ACT_ACCEPT ? LABEL_ACCEPT : act == ACT_REJECT ? LABEL_REJECT : LABEL_NONE;
    size_t done = 0, matched = 0, nqueries = 0, change = 0, nchange_q = 0;
    int record = 1, failed = 0;
    /* pass 0 counts what would change (the preview); pass 1, once confirmed, writes */
    for (int pass = confirmed ? 1 : 0; pass < 2 && !failed; pass++) {
        done = matched = nqueries = change = nchange_q = 0;
        /* the current query's columns, or every query of the filtered list */
        size_t from = every ? 0 : t->qcur, to = every ? t->nview : t->qcur + 1;
        for (size_t v = from; v < to && v < t->nview && !failed; v++) {
            const char *qid = corpus_query_id(t->c, t->qlist[t->view[v]]);
            size_t n;
            const neg_ref *refs = every ? neg_store_query(t->ns, qid, &n) : NULL;
            size_t total = every ? n : t->col[0].n + t->col[1].n;
            int hit = 0, hitc = 0;
            for (size_t k = 0; k < total; k++) {
                neg_row row;
                if (every) neg_store_get(t->ns, refs[k], &row);
                else {
                    int c = k < t->col[0].n ? 0 : 1;
                    size_t i = c ? k - t->col[0].n : k;
                    if (use_sel && !t->col[c].sel[i]) continue;
                    neg_store_get(t->ns, t->col[c].refs[i], &row);
                }
                if (!(cols & (tui_is_synthetic(row.source) ? 1 : 2))) continue;
                int ok = 1;
                for (int j = 0; j < nc && ok; j++) ok = cond_true(t, &conds[j], &row);
                if (!ok) continue;
                matched++;
                hit = 1;
                label_entry e;
                if (tui_row_label(t, &row, &e) != target) change++, hitc = 1;
                if (pass == 0) continue;
                char q[256], nid[256];
                snprintf(q, sizeof q, "%s", row.query_id);
                snprintf(nid, sizeof nid, "%s", row.neg_id);
                char *kept = e.note ? strdup(e.note) : NULL;   /* a bulk act keeps each note */
                int w = tui_label(t, q, nid, act, kept ? kept : act == ACT_CLEAR ? NULL : "bulk", record);
                free(kept);
                if (w < 0) {
                    failed = 1;
                    break;
                }
                if (w > 0) record = 2, done++;
                if (every) refs = neg_store_query(t->ns, qid, &n);   /* labels never move rows, but stay safe */
            }
            nqueries += hit;
            nchange_q += hitc;
        }
        if (pass == 0) {
            if (!change) {
                tui_msg(t, "bulk %s: nothing to change (%zu matching negatives are already so)", verbs[act], matched);
                return TUI_REDRAW;
            }
            /* the preview: nothing is written until y */
            sy_buf b = {0};
            for (int i = 0; i < argc; i++) {
                if (i) sy_buf_puts(&b, " ");
                sy_buf_puts(&b, argv[i]);
            }
            snprintf(t->confirm, sizeof t->confirm, "%s", b.data ? b.data : "");
            sy_buf_free(&b);
            tui_msg(t, "%s %zu negative%s in %zu quer%s? y/n", verbs[act], change, change == 1 ? "" : "s", nchange_q,
                    nchange_q == 1 ? "y" : "ies");
            return TUI_REDRAW;
        }
    }
    for (int c = 0; c < 2; c++) {
        if (t->col[c].sel) memset(t->col[c].sel, 0, t->col[c].n);
        t->col[c].nsel = 0;
    }
    if (!failed)
        tui_msg(t, "bulk %s: %zu of %zu matching negatives in %zu quer%s labelled (u undoes them together)", verbs[act], done,
                matched, nqueries, nqueries == 1 ? "y" : "ies");
    return TUI_REDRAW;
}

/* ---- the query list ---- */

int act_filter(tui *t, int argc, char **argv)
{
    int f = -1;
    if (argc < 2) {
        f = (t->filter + 1) % FILTER_COUNT;
        if (f == FILTER_TEXT) f = FILTER_ALL;
    } else {
        for (int i = 0; i < FILTER_COUNT; i++)
            if (!strcmp(argv[1], tui_filter_names[i])) f = i;
        if (f < 0) {
            tui_err(t, "filter: one of all, unreviewed, suspects, reviewed, negatives, text WORDS");
            return TUI_REDRAW;
        }
        if (f == FILTER_TEXT) {
            char *w = join(argc, argv, 2);
            snprintf(t->filter_text, sizeof t->filter_text, "%s", w ? w : "");
            free(w);
            if (!t->filter_text[0]) f = FILTER_ALL;
        }
    }
    t->filter = f;
    tui_rebuild_view(t);
    t->focus = t->focus == FOCUS_QUERIES ? FOCUS_QUERIES : t->focus;
    tui_msg(t, "filter %s%s%s: %zu of %zu queries", tui_filter_names[f], f == FILTER_TEXT ? " " : "",
            f == FILTER_TEXT ? t->filter_text : "", t->nview, t->nq);
    return TUI_REDRAW;
}

int act_search(tui *t, int argc, char **argv)
{
    if (argc < 2) {
        tui_prompt_open(t, "search ");
        return TUI_REDRAW;
    }
    char **nv = malloc(((size_t)argc + 2) * sizeof *nv);
    if (!nv) return TUI_REDRAW;
    nv[0] = "filter";
    nv[1] = "text";
    for (int i = 1; i < argc; i++) nv[i + 1] = argv[i];
    int r = act_filter(t, argc + 1, nv);
    free(nv);
    return r;
}

int act_sort(tui *t, int argc, char **argv)
{
    int s = -1;
    if (argc < 2) s = (t->sort + 1) % SORT_COUNT;
    else
        for (int i = 0; i < SORT_COUNT; i++)
            if (!strcmp(argv[1], tui_sort_names[i])) s = i;
    if (s < 0) {
        tui_err(t, "sort: one of id, suspects, unreviewed, negatives");
        return TUI_REDRAW;
    }
    t->sort = s;
    tui_rebuild_view(t);
    t->qcur = t->qtop = 0;   /* a new order starts at its top ("most suspects first") */
    focus_first_nonempty(t);
    tui_msg(t, "sorted by %s%s", tui_sort_names[s], s == SORT_ID ? "" : " (most first)");
    return TUI_REDRAW;
}

/* ---- jobs ---- */

static int start(tui *t, const char *kind, int argc, char **argv, int detached)
{
    sy_err err;
    if (tui_job_start(t, kind, argc - 1, argv + 1, detached, &err) < 0) tui_err(t, "%s: %s", kind, err.msg);
    else tui_msg(t, "%s started in the background (J shows jobs)", kind);
    return TUI_REDRAW;
}

int act_mine(tui *t, int argc, char **argv) { return start(t, "mine", argc, argv, 0); }
int act_synth(tui *t, int argc, char **argv) { return start(t, "synth", argc, argv, 0); }
int act_export(tui *t, int argc, char **argv) { return start(t, "export", argc, argv, 0); }
int act_train(tui *t, int argc, char **argv) { return start(t, "train", argc, argv, 1); }

/* ---- screen, scripts ---- */

int act_prompt(tui *t, int argc, char **argv)
{
    char *pre = join(argc, argv, 1);
    tui_prompt_open(t, pre ? pre : "");
    free(pre);
    return TUI_REDRAW;
}

int act_redraw(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    clearok(curscr, TRUE);
    memset(t->stat_ok, 0, t->nq);
    t->stat_idle = 0;
    return tui_refresh_store(t) | TUI_RELOAD | TUI_REDRAW;
}

int act_take_lock(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    if (!t->readonly) {
        tui_msg(t, "this workbench already holds the session lock");
        return TUI_REDRAW;
    }
    if (!t->lock_pid) {
        tui_err(t, "take-lock: opened with --read-only; reopen without it to label");
        return TUI_REDRAW;
    }
    sy_err err;
    int r = session_take_lock(t->s, &err);
    if (r < 0) {
        tui_err(t, "take-lock: %s", err.msg);
    } else if (r == 0) {
        t->lock_pid = session_lock_holder(t->s);
        snprintf(t->ro_why, sizeof t->ro_why, "locked by pid %ld", t->lock_pid);
        tui_err(t, "take-lock: the session is still locked (pid %ld); labels are shown, not changed", t->lock_pid);
    } else {
        t->readonly = 0;
        t->lock_pid = 0;
        t->lock_free = 0;
        t->ro_why[0] = 0;
        t->lb = session_labels(t->s);
        memset(t->stat_ok, 0, t->nq);
        t->stat_idle = 0;
        tui_msg(t, "this workbench now holds the session lock: labels can be changed");
    }
    return TUI_REDRAW | TUI_RELOAD;
}

int act_bind(tui *t, int argc, char **argv)
{
    sy_err err;
    if (argc != 3) tui_err(t, "bind: usage: bind KEY ACTION (e.g. bind J down)");
    else if (keys_bind(t, argv[1], argv[2], &err) < 0) tui_err(t, "%s", err.msg);
    else tui_msg(t, "%s runs %s", argv[1], argv[2]);
    return TUI_REDRAW;
}

int act_source(tui *t, int argc, char **argv)
{
    int flags = 0;
    sy_err err;
    if (argc != 2) tui_err(t, "source: usage: source FILE");
    else if (tui_source_file(t, argv[1], &flags, &err) < 0) tui_err(t, "%s", err.msg);
    return flags | TUI_REDRAW;
}

int act_dump(tui *t, int argc, char **argv)
{
    sy_err err;
    if (argc != 2) {
        tui_err(t, "dump: usage: dump FILE");
        return TUI_REDRAW;
    }
    tui_draw_all(t);
    if (tui_dump(t, argv[1], &err) < 0) tui_err(t, "%s", err.msg);
    return TUI_NONE;
}

int act_resize(tui *t, int argc, char **argv)
{
    int c, r;
    if (argc != 2 || sscanf(argv[1], "%dx%d", &c, &r) != 2 || c < 1 || r < 1) {
        tui_err(t, "resize: usage: resize COLSxROWS");
        return TUI_REDRAW;
    }
    return tui_resize(t, r, c);
}

int act_echo(tui *t, int argc, char **argv)
{
    char *s = join(argc, argv, 1);
    tui_msg(t, "%s", s ? s : "");
    free(s);
    return TUI_REDRAW;
}

int act_close(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return t->overlay ? tui_toggle(t, t->overlay) : TUI_REDRAW;
}

int act_quit(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    (void)t;
    return TUI_QUIT;
}
