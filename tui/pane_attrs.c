/* pane_attrs: the prompt attribute panel and the prompt view.
 *
 * The catalogue is prompts/attributes.txt (SESSION/prompts/ first, then
 * $SYNEG_PROMPTS, then ./prompts): blocks of [name], values = a | b | c,
 * default = ..., sample = yes|no.  Current values are the session settings
 * synth.attributes.NAME.  Changing one (h/l cycle, Enter types a value, or
 * `:set NAME VALUE`) saves session.json; R regenerates the current query's
 * synthetic negatives as a background `syneg synth` job, and the new ones
 * appear beside the old (newest first) with their attributes.  Without
 * SYNEG_LLM_URL the job runs the offline generator and the panel says so. */
#include <curses.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tui.h"

#define MAX_ATTRS 64
#define MAX_VALS 16
typedef struct {
    char *name, *desc, *def;
    char *vals[MAX_VALS];
    int nvals, any, sample;
} attr_def;

static attr_def cat[MAX_ATTRS];
static int ncat, sel, pscroll;
static char cat_path[4096];

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static int find_prompt_file(tui *t, const char *name, char *out, size_t n)
{
    char *p = session_path(t->s, "prompts");
    snprintf(out, n, "%s/%s", p ? p : ".", name);
    free(p);
    if (sy_file_exists(out)) return 1;
    const char *env = getenv("SYNEG_PROMPTS");
    if (env && *env) {
        snprintf(out, n, "%s/%s", env, name);
        if (sy_file_exists(out)) return 1;
    }
    snprintf(out, n, "prompts/%s", name);
    if (sy_file_exists(out)) return 1;
    snprintf(out, n, "/usr/local/share/syneg/prompts/%s", name);
    return sy_file_exists(out);
}

void tui_attrs_free(tui *t)
{
    (void)t;
    for (int i = 0; i < ncat; i++) {
        free(cat[i].name), free(cat[i].desc), free(cat[i].def);
        for (int k = 0; k < cat[i].nvals; k++) free(cat[i].vals[k]);
    }
    ncat = 0;
}

void tui_attrs_load(tui *t)
{
    tui_attrs_free(t);
    if (!find_prompt_file(t, "attributes.txt", cat_path, sizeof cat_path)) {
        cat_path[0] = 0;
        return;
    }
    FILE *f = fopen(cat_path, "r");
    if (!f) return;
    char line[2048];
    attr_def *a = NULL;
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e || ncat == MAX_ATTRS) continue;
            *e = 0;
            a = &cat[ncat++];
            memset(a, 0, sizeof *a);
            a->name = strdup(s + 1);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!a || !eq) continue;
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        if (!strcmp(k, "description")) free(a->desc), a->desc = strdup(v);
        else if (!strcmp(k, "default")) free(a->def), a->def = strdup(v);
        else if (!strcmp(k, "sample")) a->sample = !strcmp(v, "yes");
        else if (!strcmp(k, "values")) {
            for (char *tok = strtok(v, "|"); tok && a->nvals < MAX_VALS; tok = strtok(NULL, "|")) {
                tok = trim(tok);
                if (!strcmp(tok, "*")) a->any = 1;
                else if (*tok) a->vals[a->nvals++] = strdup(tok);
            }
        }
    }
    fclose(f);
}

static attr_def *find_attr(const char *name)
{
    for (int i = 0; i < ncat; i++)
        if (!strcmp(cat[i].name, name)) return &cat[i];
    return NULL;
}

size_t tui_attr_names(tui *t, const char **names, size_t max)
{
    (void)t;
    size_t n = 0;
    for (int i = 0; i < ncat && n < max; i++) names[n++] = cat[i].name;
    return n;
}

size_t tui_attr_values(tui *t, const char *name, const char **vals, size_t max)
{
    (void)t;
    attr_def *a = find_attr(name);
    size_t n = 0;
    if (!a) return 0;
    for (int i = 0; i < a->nvals && n < max; i++) vals[n++] = a->vals[i];
    if (n < max) vals[n++] = "default";
    return n;
}

static const char *current(tui *t, const attr_def *a)
{
    char path[256];
    snprintf(path, sizeof path, "synth.attributes.%s", a->name);
    return session_get_str(t->s, path, NULL);
}

int tui_attr_set(tui *t, const char *name, const char *value, sy_err *err)
{
    attr_def *a = find_attr(name);
    if (!a)
        return sy_fail(err, SY_EINVAL, "set: no attribute '%s' in %s; Tab completes names", name,
                       cat_path[0] ? cat_path : "prompts/attributes.txt");
    int ok = a->any || !strcmp(value, "default");
    for (int i = 0; i < a->nvals && !ok; i++) ok = !strcmp(a->vals[i], value);
    if (!ok) return sy_fail(err, SY_EINVAL, "set: '%s' is not a value of %s; Tab completes values", value, name);
    char path[256];
    snprintf(path, sizeof path, "synth.attributes.%s", name);
    return session_set(t->s, path, strcmp(value, "default") ? json_string(value) : json_null(), err);
}

/* ---- the panel ---- */

static void draw(tui *t, tui_rect r)
{
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w},
                  " ATTRIBUTES   j/k choose  h/l change  Enter type a value  R regenerate  P prompt  q closes", 1);
    int y = r.y + 1, end = r.y + r.h;
    tui_putf(y++, r.x + 1, r.w - 1, t->offline ? tui_attr(t, C_SUSPECT) : tui_attr(t, C_ACCEPT), "%s",
             t->offline ? "offline generator (no SYNEG_LLM_URL): regenerate uses the built-in templates, no API calls"
                        : "LLM endpoint from SYNEG_LLM_URL: regenerate calls it (the budget applies)");
    tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "catalogue: %s", cat_path[0] ? cat_path : "(none found: prompts/attributes.txt)");
    y++;
    if (sel >= ncat) sel = ncat - 1;
    if (sel < 0) sel = 0;
    for (int i = 0; i < ncat && y < end; i++) {
        attr_def *a = &cat[i];
        const char *cur = current(t, a);
        int base = i == sel ? tui_attr(t, C_CURSOR) : 0;
        tui_fill(y, r.x, r.w, base);
        int x = r.x + 1;
        x += tui_putf(y, x, r.x + r.w - x, base | A_BOLD, "%-12s ", a->name);
        if (cur) tui_putf(y, x, r.x + r.w - x, base, "= %s", cur);
        else tui_putf(y, x, r.x + r.w - x, base | tui_attr(t, C_DIM), "%s", a->sample ? "(sampled per request)" : "(default)");
        y++;
        if (y < end) tui_putf(y++, r.x + 4, r.w - 4, tui_attr(t, C_DIM), "%s", a->desc ? a->desc : "");
        if (i == sel && y < end) {
            int x2 = r.x + 4;
            for (int k = 0; k < a->nvals && x2 < r.x + r.w; k++) {
                int on = cur && !strcmp(cur, a->vals[k]);
                x2 += tui_putf(y, x2, r.x + r.w - x2, on ? tui_attr(t, C_KEY) : 0, "%s%s%s  ", on ? "[" : "", a->vals[k], on ? "]" : "");
            }
            if (a->any) tui_put(y, x2, r.x + r.w - x2, "| any text", 10, tui_attr(t, C_DIM));
            y++;
        }
    }
}

static int cycle(tui *t, int d)
{
    if (!ncat) return TUI_REDRAW;
    attr_def *a = &cat[sel];
    const char *cur = current(t, a);
    int i = -1;   /* -1 = default */
    for (int k = 0; k < a->nvals; k++)
        if (cur && !strcmp(cur, a->vals[k])) i = k;
    i += d;
    if (i < -1) i = a->nvals - 1;
    if (i >= a->nvals) i = -1;
    sy_err err;
    if (t->readonly) tui_err(t, "read-only session: attributes cannot change here");
    else if (tui_attr_set(t, a->name, i < 0 ? "default" : a->vals[i], &err) < 0) tui_err(t, "%s", err.msg);
    else tui_msg(t, "%s = %s; R regenerates this query's synthetic negatives", a->name, i < 0 ? "(default)" : a->vals[i]);
    return TUI_REDRAW;
}

static int key(tui *t, int action, int k)
{
    switch (action) {
    case ACT_down: if (sel + 1 < ncat) sel++; return TUI_REDRAW;
    case ACT_up: if (sel > 0) sel--; return TUI_REDRAW;
    case ACT_next_col: return cycle(t, 1);
    case ACT_prev_col: return cycle(t, -1);
    case ACT_detail:
        if (ncat) {
            char pre[128];
            snprintf(pre, sizeof pre, "set %s ", cat[sel].name);
            tui_prompt_open(t, pre);
        }
        return TUI_REDRAW;
    }
    (void)k;
    return TUI_UNHANDLED;
}

static void open_attrs(tui *t) { tui_attrs_load(t); }

const tui_pane pane_attrs = {"attributes", open_attrs, draw, key, NULL};

static int toggle(tui *t, const tui_pane *p)
{
    if (t->overlay == p) {
        t->overlay = NULL;
        return TUI_REDRAW;
    }
    if (t->overlay && t->overlay->close) t->overlay->close(t);
    t->overlay = p;
    if (p->open) p->open(t);
    return TUI_REDRAW;
}

int act_attrs(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return toggle(t, &pane_attrs);
}

int act_set(tui *t, int argc, char **argv)
{
    if (argc < 3) {
        tui_err(t, "set: usage: set ATTR VALUE (or set a.dotted.setting VALUE); Tab completes");
        return TUI_REDRAW;
    }
    sy_buf v = {0};
    for (int i = 2; i < argc; i++) sy_buf_printf(&v, "%s%s", i > 2 ? " " : "", argv[i]);
    sy_err err;
    int r;
    if (strchr(argv[1], '.')) {   /* a session setting: numbers and booleans as such */
        char *end;
        double d = strtod(v.data, &end);
        json_t *j = *end == 0 && end != v.data ? json_real(d)
                    : !strcmp(v.data, "true") ? json_true() : !strcmp(v.data, "false") ? json_false() : json_string(v.data);
        r = session_set(t->s, argv[1], j, &err);
    } else {
        r = tui_attr_set(t, argv[1], v.data, &err);
    }
    if (r < 0) tui_err(t, "%s", err.msg);
    else tui_msg(t, "%s = %s", argv[1], v.data);
    sy_buf_free(&v);
    return TUI_REDRAW;
}

int act_regenerate(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    const char *qid = tui_cur_qid(t);
    if (!qid) {
        tui_err(t, "regenerate: no query under the cursor");
        return TUI_REDRAW;
    }
    char *av[4] = {"--query", (char *)qid, t->offline ? "--offline" : NULL, NULL};
    sy_err err;
    if (tui_job_start(t, "synth", t->offline ? 3 : 2, av, 0, &err) < 0) tui_err(t, "regenerate: %s", err.msg);
    else tui_msg(t, "regenerating %s's synthetic negatives %s in the background", qid, t->offline ? "offline" : "with the LLM");
    return TUI_REDRAW;
}

/* ---- the prompt as rendered for the current query ---- */

static char *template_text(tui *t, char *path, size_t n)
{
    if (!find_prompt_file(t, "synth.txt", path, n)) return NULL;
    size_t len;
    return sy_read_file(path, &len, NULL);
}

static void render(tui *t, const char *tpl, sy_buf *out)
{
    long pos = tui_cur_pos(t);
    const char *query = pos >= 0 ? corpus_query_text(t->c, t->qlist[pos]) : "";
    const char *positive = "";
    size_t nrel = 0;
    const corpus_qrel *rel = pos >= 0 && t->qrels ? corpus_qrels_of(t->qrels, t->qlist[pos], &nrel) : NULL;
    for (size_t i = 0; i < nrel; i++)
        if (rel[i].rel > 0) {
            positive = corpus_doc_text(t->c, rel[i].doc);
            break;
        }
    sy_buf attrs = {0};
    for (int i = 0; i < ncat; i++) {
        const char *v = current(t, &cat[i]);
        if (!v) v = cat[i].sample ? "(sampled)" : cat[i].def;
        if (v && *v) sy_buf_printf(&attrs, "%s- %s: %s (%s)", attrs.len ? "\n" : "", cat[i].name, v, cat[i].desc ? cat[i].desc : "");
    }
    int k = (int)session_get_num(t->s, "synth.k", 4);
    for (const char *p = tpl; *p;) {
        if (*p == '#' && (p == tpl || p[-1] == '\n')) {   /* comment lines */
            const char *e = strchr(p, '\n');
            p = e ? e + 1 : p + strlen(p);
            continue;
        }
        if (p[0] == '{' && p[1] == '{') {
            const char *e = strstr(p, "}}");
            if (e) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(e - p - 2 < 127 ? e - p - 2 : 127), p + 2);
                if (!strcmp(name, "query")) sy_buf_puts(out, query);
                else if (!strcmp(name, "positive")) sy_buf_puts(out, positive);
                else if (!strcmp(name, "k")) sy_buf_printf(out, "%d", k);
                else if (!strcmp(name, "attributes")) sy_buf_puts(out, attrs.data ? attrs.data : "");
                else if (!strncmp(name, "attr.", 5)) {
                    attr_def *a = find_attr(name + 5);
                    const char *v = a ? current(t, a) : NULL;
                    sy_buf_puts(out, v ? v : a && a->def ? a->def : "");
                }
                p = e + 2;
                continue;
            }
        }
        sy_buf_append(out, p, 1);
        p++;
    }
    sy_buf_free(&attrs);
}

static void draw_prompt(tui *t, tui_rect r)
{
    char path[4096];
    char *tpl = template_text(t, path, sizeof path);
    char title[4200];
    snprintf(title, sizeof title, " PROMPT for %s   %s   j/k scroll  :edit-prompt edits  q closes", tui_cur_qid(t) ? tui_cur_qid(t) : "-",
             tpl ? path : "(no prompts/synth.txt)");
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, 1);
    if (!tpl) return;
    sy_buf out = {0};
    render(t, tpl, &out);
    free(tpl);
    const char *s = out.data ? out.data : "";
    size_t len = strlen(s), starts[2048], ends[2048];
    size_t n = tui_wrap(s, len, r.w - 2, starts, ends, 2048);
    if (pscroll > (int)n - (r.h - 1)) pscroll = (int)n - (r.h - 1);
    if (pscroll < 0) pscroll = 0;
    for (int i = 0; i < r.h - 1 && (size_t)(pscroll + i) < n; i++)
        tui_put(r.y + 1 + i, r.x + 1, r.w - 2, s + starts[pscroll + i], ends[pscroll + i] - starts[pscroll + i], 0);
    sy_buf_free(&out);
}

static int key_prompt(tui *t, int action, int k)
{
    (void)t, (void)k;
    if (action == ACT_down) return pscroll++, TUI_REDRAW;
    if (action == ACT_up) return pscroll > 0 ? pscroll-- : 0, TUI_REDRAW;
    if (action == ACT_page_down) return pscroll += 10, TUI_REDRAW;
    if (action == ACT_page_up) return pscroll = pscroll > 10 ? pscroll - 10 : 0, TUI_REDRAW;
    return TUI_UNHANDLED;
}

static void open_prompt(tui *t) { (void)t; pscroll = 0; }

const tui_pane pane_prompt_view = {"prompt", open_prompt, draw_prompt, key_prompt, NULL};

int act_show_prompt(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return toggle(t, &pane_prompt_view);
}

int act_edit_prompt(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    if (t->headless) {
        tui_err(t, "edit-prompt needs a terminal");
        return TUI_REDRAW;
    }
    char src[4096];
    char *dir = session_path(t->s, "prompts");
    char *dst = dir ? sy_path_join(dir, "synth.txt") : NULL;
    if (dst && !sy_file_exists(dst)) {   /* copy the shared template into the session first */
        size_t len;
        char *txt = find_prompt_file(t, "synth.txt", src, sizeof src) ? sy_read_file(src, &len, NULL) : NULL;
        sy_mkdir_p(dir, NULL);
        if (txt) sy_write_file_atomic(dst, txt, len, NULL);
        free(txt);
    }
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed) ed = getenv("EDITOR");
    if (!ed || !*ed) ed = "vi";
    char *cmd = sy_strdup_printf("%s '%s'", ed, dst ? dst : "prompts/synth.txt");
    def_prog_mode();
    endwin();
    int rc = system(cmd);
    reset_prog_mode();
    clearok(curscr, TRUE);
    free(cmd), free(dst), free(dir);
    tui_attrs_load(t);
    if (rc != 0) tui_err(t, "the editor exited with status %d", rc);
    else tui_msg(t, "prompt template reloaded; R regenerates with it");
    return TUI_REDRAW;
}
