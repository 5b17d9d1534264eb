/* pane_attrs: the prompt attribute panel and the prompt view.
 *
 * The catalogue is prompts/attributes.txt (SESSION/prompts/ first, then
 * $SYNEG_PROMPTS, then ./prompts): blocks of [name], values = a | b | c,
 * default = ..., sample = yes|no.  Current values are the session settings
 * synth.attributes.NAME.  Changing one (h/l cycle, Enter types a value, or
 * `:set NAME VALUE`) saves session.json; R regenerates the current query's
 * synthetic negatives as a background `syneg synth` job, and the new ones
 * appear beside the old (newest first) with their attributes.  Without
 * SYNEG_LLM_URL the job runs the offline generator (a stand-in for an LLM),
 * which ignores the attributes: the panel and R say so, and R still gives new
 * text (a fresh seed).  The panel also shows the shortcut audit (audit.h) of
 * the session's pool as training would draw it, computed when it opens. */
#include <curses.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/audit.h"
#include "../engine/passage.h"
#include "../engine/prompt.h"
#include "../engine/settings.h"
#include "../engine/synth.h"
#include "tui.h"

static prompt_catalogue *cat;
static int sel, pscroll, pjump;   /* pjump: scroll to [user] at the next draw */
static char cat_path[4096];
static char audit_text[1024];   /* the shortcut audit's lines, made when the panel opens */

static size_t ncat_(void) { return cat ? prompt_catalogue_size(cat) : 0; }
#define ncat ((int)ncat_())
static const prompt_attr *attr_at(int i) { return prompt_catalogue_at(cat, (size_t)i); }

void tui_attrs_free(tui *t)
{
    (void)t;
    prompt_catalogue_free(cat);
    cat = NULL;
}

void tui_attrs_load(tui *t)
{
    tui_attrs_free(t);
    cat_path[0] = 0;
    sy_err err;
    char *dir = prompt_find_dir(session_dir(t->s), &err);
    if (!dir) return;
    snprintf(cat_path, sizeof cat_path, "%s/attributes.txt", dir);
    free(dir);
    cat = prompt_catalogue_load(cat_path, &err);
    if (!cat) tui_err(t, "%s", err.msg);
}

size_t tui_attr_names(tui *t, const char **names, size_t max)
{
    (void)t;
    size_t n = 0;
    for (int i = 0; i < ncat && n < max; i++) names[n++] = attr_at(i)->name;
    return n;
}

size_t tui_attr_values(tui *t, const char *name, const char **vals, size_t max)
{
    (void)t;
    const prompt_attr *a = cat ? prompt_catalogue_find(cat, name) : NULL;
    size_t n = 0;
    if (!a) return 0;
    for (size_t i = 0; i < a->nvalues && n < max; i++) vals[n++] = a->values[i];
    if (n < max) vals[n++] = "default";
    return n;
}

static const char *current(tui *t, const prompt_attr *a)
{
    char path[256];
    snprintf(path, sizeof path, "synth.attributes.%s", a->name);
    return session_get_str(t->s, path, NULL);
}

int tui_attr_set(tui *t, const char *name, const char *value, sy_err *err)
{
    if (!cat) return sy_fail(err, SY_ENOTFOUND, "set: no attribute catalogue (prompts/attributes.txt) found");
    if (strcmp(value, "default") && prompt_check_attr(cat, name, value, err) < 0) return -1;
    if (!prompt_catalogue_find(cat, name))
        return sy_fail(err, SY_EINVAL, "set: no attribute '%s' in %s; Tab completes names", name, cat_path);
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
             t->offline ? "offline generator (no SYNEG_LLM_URL), a stand-in for an LLM: it IGNORES these attributes;"
                          " R recombines related passages with a fresh seed"
                        : "LLM endpoint from SYNEG_LLM_URL: regenerate calls it (the budget applies)");
    size_t sl = strlen(session_dir(t->s));   /* inside the session: say SESSION/..., not a temp path */
    int inside = !strncmp(cat_path, session_dir(t->s), sl) && cat_path[sl] == '/';
    tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "catalogue: %s%s", inside ? "SESSION" : "",
             cat_path[0] ? cat_path + (inside ? sl : 0) : "(none found: prompts/attributes.txt)");
    for (const char *l = audit_text; *l && y < end;) {   /* the shortcut audit */
        const char *nl = strchr(l, '\n');
        int len = nl ? (int)(nl - l) : (int)strlen(l);
        tui_putf(y++, r.x + 1, r.w - 1, strstr(l, "WARNING") == l + 2 ? tui_attr(t, C_ERR) : tui_attr(t, C_DIM), "%.*s",
                 len, l);
        l += len + (nl != NULL);
    }
    y++;
    if (sel >= ncat) sel = ncat - 1;
    if (sel < 0) sel = 0;
    for (int i = 0; i < ncat && y < end; i++) {
        const prompt_attr *a = attr_at(i);
        const char *cur = current(t, a);
        int base = i == sel ? tui_attr(t, C_CURSOR) : 0;
        tui_fill(y, r.x, r.w, base);
        int x = r.x + 1;
        x += tui_putf(y, x, r.x + r.w - x, base | A_BOLD, "%-12s ", a->name);
        if (cur) tui_putf(y, x, r.x + r.w - x, base, "= %s", cur);
        else tui_putf(y, x, r.x + r.w - x, base | tui_attr(t, C_DIM), "%s", a->sample ? "(sampled per request)" : "(default)");
        y++;
        if (y < end) tui_putf(y++, r.x + 4, r.w - 4, tui_attr(t, C_DIM), "%s", a->description ? a->description : "");
        if (i == sel && y < end) {
            int x2 = r.x + 4;
            for (size_t k = 0; k < a->nvalues && x2 < r.x + r.w; k++) {
                int on = cur && !strcmp(cur, a->values[k]);
                x2 += tui_putf(y, x2, r.x + r.w - x2, on ? tui_attr(t, C_KEY) : 0, "%s%s%s  ", on ? "[" : "", a->values[k], on ? "]" : "");
            }
            if (a->any) tui_put(y, x2, r.x + r.w - x2, "| any text", 10, tui_attr(t, C_DIM));
            y++;
        }
    }
}

static int cycle(tui *t, int d)
{
    if (!ncat) return TUI_REDRAW;
    const prompt_attr *a = attr_at(sel);
    const char *cur = current(t, a);
    int i = -1, nv = (int)a->nvalues;   /* -1 = default */
    for (int k = 0; k < nv; k++)
        if (cur && !strcmp(cur, a->values[k])) i = k;
    i += d;
    if (i < -1) i = nv - 1;
    if (i >= nv) i = -1;
    sy_err err;
    if (t->readonly) tui_err(t, "read-only session: attributes cannot change here");
    else if (tui_attr_set(t, a->name, i < 0 ? "default" : a->values[i], &err) < 0) tui_err(t, "%s", err.msg);
    else tui_msg(t, "%s = %s; R regenerates this query's synthetic negatives", a->name, i < 0 ? "(default)" : a->values[i]);
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
            snprintf(pre, sizeof pre, "set %s ", attr_at(sel)->name);
            tui_prompt_open(t, pre);
        }
        return TUI_REDRAW;
    }
    (void)k;
    return TUI_UNHANDLED;
}

/* The audit of the pool as training would draw it (default mix, one epoch). */
static void audit_pool(tui *t)
{
    audit_text[0] = 0;
    sy_err err = {0};
    mix_opts o;
    mix_opts_default(&o);
    mix_set *m = mix_build(t->s, &o, &err);
    audit_report r;
    int titles = passage_titles_setting(t->s, NULL);
    if (m && mix_draw(m, 0, 1, &err) == 0 && audit_mix(m, titles < 0 ? PASSAGE_TITLES : titles, NULL, &r, &err) == 0) {
        sy_buf b = {0};
        audit_report_text(&r, &b);
        snprintf(audit_text, sizeof audit_text, "%s", b.data ? b.data : "");
        sy_buf_free(&b);
    } else {
        snprintf(audit_text, sizeof audit_text, "shortcut audit: %.200s\n", err.msg[0] ? err.msg : "no training instance yet");
    }
    mix_free(m);
}

static void open_attrs(tui *t)
{
    tui_attrs_load(t);
    audit_pool(t);
}

const tui_pane pane_attrs = {"attributes", open_attrs, draw, key, NULL};

int act_attrs(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return tui_toggle(t, &pane_attrs);
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
    if (strchr(argv[1], '.')) {   /* a session setting, through the settings table */
        r = settings_set(t->s, argv[1], v.data, &err);
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
    sy_err err;
    if (tui_regen_start(t, qid, &err) < 0) tui_err(t, "regenerate: %s", err.msg);
    else if (t->offline)
        tui_msg(t, "regenerating %s offline in the background: the offline generator (a stand-in for an LLM) ignores "
                "the attributes; a fresh seed gives new text", qid);
    else tui_msg(t, "regenerating %s's synthetic negatives with the LLM in the background", qid);
    return TUI_REDRAW;
}

/* ---- the prompt as rendered for the current query ---- */

static void draw_prompt(tui *t, tui_rect r)
{
    const char *qid = tui_cur_qid(t);
    char title[256];
    snprintf(title, sizeof title, " PROMPT for %s   j/k scroll  :edit-prompt edits the template  q closes", qid ? qid : "-");
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, 1);
    if (!qid) return;
    sy_err err;
    char *text = synth_render_prompt(t->s, qid, NULL, 0, SYNTH_PROMPT_SYNTH, NULL, &err);
    const char *s = text ? text : err.msg;
    size_t len = strlen(s), starts[2048], ends[2048];
    size_t n = tui_wrap(s, len, r.w - 2, starts, ends, 2048);
    if (pjump && text) {   /* open on the part that changes per query: [user] (k scrolls up to [system]) */
        const char *u = strstr(text, "\n[user]\n");
        for (size_t i = 0; u && i < n; i++)
            if (text + starts[i] > u) { pscroll = (int)i; break; }
        pjump = 0;
    }
    if (pscroll > (int)n - (r.h - 1)) pscroll = (int)n - (r.h - 1);
    if (pscroll < 0) pscroll = 0;
    for (int i = 0; i < r.h - 1 && (size_t)(pscroll + i) < n; i++)
        tui_put(r.y + 1 + i, r.x + 1, r.w - 2, s + starts[pscroll + i], ends[pscroll + i] - starts[pscroll + i],
                text ? 0 : tui_attr(t, C_ERR));
    free(text);
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

static void open_prompt(tui *t) { (void)t; pscroll = 0; pjump = 1; }

const tui_pane pane_prompt_view = {"prompt", open_prompt, draw_prompt, key_prompt, NULL};

int act_show_prompt(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return tui_toggle(t, &pane_prompt_view);
}

int act_edit_prompt(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    if (t->headless) {
        tui_err(t, "edit-prompt needs a terminal");
        return TUI_REDRAW;
    }
    char *dir = session_path(t->s, "prompts");
    char *dst = dir ? sy_path_join(dir, "synth.txt") : NULL;
    if (dst && !sy_file_exists(dst)) {   /* copy the shared prompts into the session first */
        char *src = prompt_find_dir(NULL, NULL);
        sy_mkdir_p(dir, NULL);
        static const char *const files[] = {"synth.txt", "reflect.txt", "attributes.txt"};
        for (int i = 0; src && i < 3; i++) {
            char *from = sy_path_join(src, files[i]), *to = sy_path_join(dir, files[i]);
            size_t len;
            char *txt = sy_read_file(from, &len, NULL);
            if (txt && !sy_file_exists(to)) sy_write_file_atomic(to, txt, len, NULL);
            free(txt), free(from), free(to);
        }
        free(src);
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
