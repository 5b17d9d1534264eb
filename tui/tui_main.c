/* tui_main: the main loop, the layout, and headless scripted mode.
 *
 * The loop reads one key (get_wch with a timeout, so jobs and new negatives
 * are polled while the keyboard is idle), maps it to an action, runs the
 * handler (an open panel's key hook first), and acts on the TUI_* flags it
 * returns.  Only tui_draw_all draws.  Headless mode (--script) opens curses on
 * /dev/null at a fixed size, feeds the script's keys and commands through the
 * same dispatch, and dumps the screen as text. */
#include <curses.h>
#include <term.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "../engine/llm.h"
#include "../engine/settings.h"
#include "tui.h"

static volatile sig_atomic_t got_signal;

/* SYNEG_TUI_TIMING=FILE: key-to-redraw times (handler + full redraw +
 * doupdate) and the open time, for the benchmark */
static double *key_times;
static size_t nkey_times, cap_key_times;
static double open_secs;
static void record_key_time(double dt)
{
    if (nkey_times == cap_key_times) {
        size_t cap = cap_key_times ? 2 * cap_key_times : 1024;
        double *n = realloc(key_times, cap * sizeof *n);
        if (!n) return;
        key_times = n, cap_key_times = cap;
    }
    key_times[nkey_times++] = dt;
}
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static void write_timing(void)
{
    const char *path = getenv("SYNEG_TUI_TIMING");
    if (path && *path) {
        FILE *f = fopen(path, "w");
        if (f) {
            qsort(key_times, nkey_times, sizeof *key_times, cmp_double);
            double med = nkey_times ? key_times[nkey_times / 2] : 0, p95 = nkey_times ? key_times[nkey_times * 95 / 100] : 0;
            double max = nkey_times ? key_times[nkey_times - 1] : 0;
            fprintf(f, "open_s %.6f\nkeys %zu\nmedian_ms %.4f\np95_ms %.4f\nmax_ms %.4f\n", open_secs, nkey_times, med * 1e3,
                    p95 * 1e3, max * 1e3);
            fclose(f);
        }
    }
    free(key_times);
    key_times = NULL;
    nkey_times = cap_key_times = 0;
}
static void on_signal(int sig) { got_signal = sig; }

/* ---- the panes ---- */

/* every pane, in one list: the browse layout's four, then the panels */
const tui_pane *const tui_panes[] = {
    &pane_queries, &pane_query, &pane_negs_syn, &pane_negs_ret,
    &pane_help, &pane_detail, &pane_jobs, &pane_attrs, &pane_prompt_view, &pane_train, &pane_run, &pane_review, NULL,
};

int tui_toggle(tui *t, const tui_pane *p)
{
    const tui_pane *was = t->overlay;
    if (was && was->close) was->close(t);
    t->overlay = was == p ? NULL : p;
    if (t->overlay && p->open) p->open(t);
    return TUI_REDRAW;
}

/* ---- layout and drawing ---- */

static void draw_status(tui *t, int y)
{
    int a = tui_attr(t, C_STATUS);
    tui_fill(y, 0, t->cols, a);
    char buf[512];
    size_t rev, tot;
    tui_overall(t, &rev, &tot);
    size_t acc = t->lb ? labels_count(t->lb, LABEL_ACCEPT) : 0, rej = t->lb ? labels_count(t->lb, LABEL_REJECT) : 0;
    size_t o = tui_appendf(buf, sizeof buf, 0, " %s | q %zu/%zu", session_name(t->s), t->nview ? t->qcur + 1 : 0, t->nview);
    if (t->nview != t->nq) o = tui_appendf(buf, sizeof buf, o, " (%s of %zu)", tui_filter_names[t->filter], t->nq);
    o = tui_appendf(buf, sizeof buf, o, " | reviewed %zu/%zu %d%% (+%zu x%zu)", rev, tot,
                  tot ? (int)(100.0 * rev / tot) : 0, acc, rej);
    double spent = t->spent, budget = settings_num(t->s, "llm.budget_usd");
    if (t->offline) o = tui_appendf(buf, sizeof buf, o, " | offline generator");
    else o = tui_appendf(buf, sizeof buf, o, " | LLM %s", settings_is_set(t->s, "llm.model") ? settings_str(t->s, "llm.model") : "endpoint");
    if (budget > 0) o = tui_appendf(buf, sizeof buf, o, " $%.2f/$%.2f", spent, budget);
    else if (spent > 0) o = tui_appendf(buf, sizeof buf, o, " $%.2f", spent);
    int running = tui_jobs_running(t);
    if (running) {
        for (int i = t->njobs - 1; i >= 0; i--)
            if (t->jobs[i].running) {
                tui_job *j = &t->jobs[i];
                o = tui_appendf(buf, sizeof buf, o, " | jobs %d: %s", running, j->kind);
                if (j->total > 0) o = tui_appendf(buf, sizeof buf, o, " %d%%", (int)(100 * j->done / j->total));
                break;
            }
    }
    int used = tui_put(y, 0, t->cols, buf, o, a);
    if (t->readonly) {
        char ro[96];
        int n = snprintf(ro, sizeof ro, t->lock_free ? " READ-ONLY (writer quit: W takes over) " : " READ-ONLY (%s) ", t->ro_why);
        if (n >= (int)sizeof ro) n = (int)sizeof ro - 1;
        int x = t->cols - n > used ? t->cols - n : used;
        tui_put(y, x, t->cols - x, ro, (size_t)n, tui_attr(t, C_ERR));
    }
}

static void draw_keybar(tui *t, int y)
{
    int x = 0;
    /* help first, so it shows at any width; then the table's order */
    for (int i = -1; i < ACT_COUNT && x < t->cols; i++) {
        int a = i < 0 ? ACT_help : i;
        if (i >= 0 && a == ACT_help) continue;
        if (!(tui_actions[a].flags & AF_BAR)) continue;
        if ((tui_actions[a].flags & AF_WRITE) && t->readonly) continue;
        char k[32];
        if (!keys_first(t, a, k, sizeof k)) continue;
        int need = (int)strlen(k) + 1 + (int)strlen(tui_actions[a].name) + 2;
        if (x + need > t->cols) break;
        x += tui_put(y, x, t->cols - x, k, strlen(k), tui_attr(t, C_KEY));
        x += tui_put(y, x, t->cols - x, " ", 1, 0);
        x += tui_put(y, x, t->cols - x, tui_actions[a].name, strlen(tui_actions[a].name), 0);
        x += tui_put(y, x, t->cols - x, "  ", 2, 0);
    }
}

/* a separator; the Unicode line (not the alternate charset) so dumps and
 * terminal captures read the same */
static void sep_line(tui *t, int y, int x, int h)
{
    for (int i = 0; i < h; i++) tui_put(y + i, x, 1, t->utf8 ? "\xe2\x94\x82" : "|", t->utf8 ? 3 : 1, tui_attr(t, C_DIM));
}

void tui_draw_all(tui *t)
{
    erase();
    int rows = t->rows, cols = t->cols;
    if (rows < TUI_MIN_ROWS || cols < TUI_MIN_COLS) {
        /* no squeezed layout that hides text: say so, keep the prompt usable */
        char m[160];
        snprintf(m, sizeof m, "terminal too small: %dx%d, the workbench needs at least %dx%d (q quits, : still works)", cols, rows,
                 TUI_MIN_COLS, TUI_MIN_ROWS);
        tui_put_wrapped(0, 0, cols, 0, rows > 1 ? rows - 1 : 1, m, strlen(m), tui_attr(t, C_ERR), 0, NULL);
        if (t->prompting && rows > 1) tui_prompt_draw(t, rows - 1);
        else if (t->msg[0] && rows > 1) tui_put(rows - 1, 0, cols, t->msg, strlen(t->msg), t->msg_err ? tui_attr(t, C_ERR) : 0);
        if (!t->prompting) curs_set(0);
        refresh();
        return;
    }
    int h = rows - 2;
    tui_load_query(t);
    if (t->overlay) {
        t->overlay->draw(t, (tui_rect){0, 0, h, cols});
    } else {
        int lw = cols >= 140 ? cols * 3 / 10 : cols >= 100 ? 32 : 26;
        if (t->list_mode == 2) lw = cols / 2;   /* wide: query texts in full */
        int rx = lw + 1, rw = cols - rx;
        if (t->list_mode == 1) {   /* hidden: the negatives take the width */
            rx = 0, rw = cols;
            if (t->focus == FOCUS_QUERIES) t->focus = t->col[COL_SYN].n || !t->col[COL_RET].n ? FOCUS_SYN : FOCUS_RET;
        } else {
            pane_queries.draw(t, (tui_rect){0, 0, h, lw});
            sep_line(t, 0, lw, h);
        }
        int th = h / 3;
        if (th < 5) th = 5;
        if (th > 12) th = 12;
        pane_query.draw(t, (tui_rect){0, rx, th, rw});
        int cw = (rw - 1) / 2;
        pane_negs_syn.draw(t, (tui_rect){th, rx, h - th, cw});
        sep_line(t, th, rx + cw, h - th);
        pane_negs_ret.draw(t, (tui_rect){th, rx + cw + 1, h - th, rw - cw - 1});
    }
    draw_status(t, rows - 2);
    if (t->prompting) {
        tui_prompt_draw(t, rows - 1);
    } else {
        if (t->msg[0]) tui_put(rows - 1, 0, cols, t->msg, strlen(t->msg), t->msg_err ? tui_attr(t, C_ERR) : 0);
        else draw_keybar(t, rows - 1);
        curs_set(0);
    }
    refresh();
}

int tui_resize(tui *t, int rows, int cols)
{
    if (rows < 1 || cols < 1) return TUI_NONE;
    if (rows != LINES || cols != COLS) resizeterm(rows, cols);
    t->rows = rows;
    t->cols = cols;
    clearok(curscr, TRUE);
    return TUI_REDRAW;
}

/* ---- the screen as text ---- */

static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 0x3F)), o[2] = (char)(0x80 | (c & 0x3F)), 3;
    return o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | (c >> 12 & 0x3F)), o[2] = (char)(0x80 | (c >> 6 & 0x3F)),
           o[3] = (char)(0x80 | (c & 0x3F)), 4;
}

int tui_dump(tui *t, const char *path, sy_err *err)
{
    sy_buf out = {0};
    wchar_t *line = malloc(((size_t)t->cols + 1) * sizeof *line);
    char *enc = malloc((size_t)t->cols * 4 + 2);
    if (!line || !enc) {
        free(line), free(enc);
        return sy_fail(err, SY_ENOMEM, "out of memory dumping the screen");
    }
    for (int y = 0; y < t->rows; y++) {
        int n = mvwinnwstr(stdscr, y, 0, line, t->cols);
        size_t o = 0;
        for (int i = 0; i < n && line[i]; i++) {
            o += put_utf8(enc + o, (uint32_t)line[i]);
        }
        while (o && enc[o - 1] == ' ') o--;
        sy_buf_append(&out, enc, o);
        sy_buf_append(&out, "\n", 1);
    }
    free(line), free(enc);
    int r = sy_write_file_atomic(path, out.data ? out.data : "", out.len, err);
    sy_buf_free(&out);
    return r;
}

/* ---- keys ---- */

static int handle_key(tui *t, int key)
{
    if (t->prompting) return tui_prompt_key(t, key);
    if (key == KEY_RESIZE) return tui_resize(t, LINES, COLS);
    t->msg[0] = 0;
    if (t->confirm[0]) {   /* a previewed bulk act: y writes it, any other key drops it */
        char line[sizeof t->confirm];
        snprintf(line, sizeof line, "%s", t->confirm);
        t->confirm[0] = 0;
        if (key != 'y' && key != 'Y') {
            tui_msg(t, "bulk cancelled: nothing written");
            return TUI_REDRAW;
        }
        t->bulk_confirmed = 1;
        return tui_run_command(t, line);
    }
    int action = key >= 0 && key < 1024 ? t->keymap[key] : ACT_NONE;
    if (t->overlay && t->overlay->key) {
        int r = t->overlay->key(t, action, key);
        if (!(r & TUI_UNHANDLED)) return r;
        if (action == ACT_quit || action == ACT_close) return tui_toggle(t, t->overlay);   /* q or Esc closes a panel */
    }
    if (action == ACT_NONE) {
        char k[32];
        tui_err(t, "%s is not bound to anything; ? lists the keys", keys_name(key, k, sizeof k));
        return TUI_REDRAW;
    }
    char *argv[2] = {(char *)tui_actions[action].name, NULL};
    return tui_run_action(t, action, 1, argv);
}

/* act on one request's flags.  A reload re-reads the rows of the query on
 * screen keeping each column's cursor on the same negative (by id): it never
 * moves the cursor, so the next act lands on the row the person sees. */
static int after(tui *t, int flags)
{
    if (flags & TUI_RELOAD) tui_reload_rows(t);
    return flags & TUI_QUIT;
}

/* read-only because another workbench held the lock: once that process is
 * gone, offer to take the lock (once; W or :take-lock does it) */
static void offer_lock(tui *t)
{
    if (!t->readonly || t->lock_free || t->lock_pid <= 0 || t->prompting) return;
    if (kill((pid_t)t->lock_pid, 0) == 0 || errno != ESRCH) return;   /* still there */
    t->lock_free = 1;
    char k[32] = "";
    keys_first(t, ACT_take_lock, k, sizeof k);
    tui_msg(t, "the writer (pid %ld) has quit: %s takes the session lock so you can label here", t->lock_pid, k[0] ? k : ":take-lock");
}

/* Returns TUI_REDRAW when something on screen changed behind the person's
 * back (new negatives on disk, another workbench's labels): the screen must
 * show it at once, or the next key would act on rows not yet shown. */
static int periodic(tui *t)
{
    int flags = 0;
    double now = sy_now();
    if (now - t->last_poll >= 0.2) {
        t->last_poll = now;
        after(t, tui_jobs_poll(t));
    }
    if (now - t->last_runs >= 2.0) {   /* runs started elsewhere (or by :train) */
        t->last_runs = now;
        tui_runs_scan(t);
    }
    if (now - t->last_state >= 30.0) {   /* where you left off, also across a crash */
        t->last_state = now;
        tui_state_save(t, 0);
    }
    if (now - t->last_refresh >= 1.0) {
        t->last_refresh = now;
        flags |= tui_refresh_store(t) & TUI_REDRAW;
        offer_lock(t);
    }
    return flags;
}

/* one script line: ":command" or "key SPEC"/"SPEC" (keys); # comments */
static int script_line(tui *t, char *line, const char *path, size_t lineno, sy_err *err)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') return 0;
    int flags;
    if (*p == ':') {
        flags = tui_run_command(t, p + 1);
    } else {
        if (!strncmp(p, "key ", 4)) p += 4;
        int keys[256];
        int nk = keys_parse(p, keys, 256);
        if (nk < 0) return sy_fail(err, SY_EPARSE, "%s:%zu: too many keys on one line; split it", path, lineno);
        flags = 0;
        for (int i = 0; i < nk && !(flags & TUI_QUIT); i++) {
            double t0 = sy_now();
            int r = handle_key(t, keys[i]);   /* a fresh request per key: nothing sticks */
            after(t, r);
            flags = r & TUI_QUIT;
            tui_draw_all(t);
            record_key_time(sy_now() - t0);
        }
    }
    if (*p == ':') after(t, flags);
    tui_draw_all(t);
    if (t->msg_err == 1 && t->msg[0]) {   /* errors of a script line also go to stderr, naming the line */
        fprintf(stderr, "%s:%zu: %s\n", path, lineno, t->msg);
        t->msg_err = 2;              /* reported once */
    }
    return flags & TUI_QUIT ? 1 : 0;
}

static int run_script(tui *t, const char *path, sy_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return sy_fail_errno(err, errno, "%s: cannot open the script", path);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int r = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        r = script_line(t, line, path, lineno, err);
        if (r) break;
    }
    free(line);
    fclose(f);
    return r < 0 ? -1 : 0;
}

int tui_source_file(tui *t, const char *path, int *flags, sy_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return sy_fail_errno(err, errno, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == ':') p++;
        p[strcspn(p, "\r\n")] = 0;
        if (!*p || *p == '#') continue;
        t->msg_err = 0;
        *flags |= tui_run_command(t, p);
        if (t->msg_err) {
            char m[sizeof t->msg];
            snprintf(m, sizeof m, "%s", t->msg);
            tui_err(t, "%s:%zu: %s", path, lineno, m);
            break;
        }
    }
    free(line);
    fclose(f);
    return 0;
}

/* ---- set-up ---- */

static int start_curses(tui *t, const tui_opts *o, sy_err *err)
{
    if (o->script) {
        t->headless = 1;
        t->devnull = fopen("/dev/null", "r+");
        if (!t->devnull) return sy_fail_errno(err, errno, "/dev/null");
        char buf[16];
        snprintf(buf, sizeof buf, "%d", o->rows);
        setenv("LINES", buf, 1);
        snprintf(buf, sizeof buf, "%d", o->cols);
        setenv("COLUMNS", buf, 1);
        const char *term = getenv("SYNEG_TUI_TERM");
        SCREEN *scr = newterm(term && *term ? term : "xterm", t->devnull, t->devnull);
        if (!scr) return sy_fail(err, SY_EUNSUP, "cannot start curses on /dev/null (terminfo for xterm missing?)");
        set_term(scr);
        t->screen = scr;
        resizeterm(o->rows, o->cols);
    } else {
        if (!isatty(0) || !isatty(1))
            return sy_fail(err, SY_EINVAL, "syneg tui needs a terminal; for automation use --script FILE --dump FILE");
        SCREEN *scr = newterm(NULL, stdout, stdin);
        if (!scr) return sy_fail(err, SY_EUNSUP, "cannot start curses: unknown terminal type TERM=%s", getenv("TERM") ? getenv("TERM") : "");
        set_term(scr);
        t->screen = scr;
        const char *cup = tigetstr("cup");
        if (!cup || cup == (char *)-1) {
            endwin();
            delscreen(scr);
            t->screen = NULL;
            return sy_fail(err, SY_EUNSUP, "TERM=%s cannot move the cursor; run syneg tui in a real terminal (xterm, tmux) or use --script",
                           getenv("TERM") ? getenv("TERM") : "");
        }
    }
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    t->rows = LINES;
    t->cols = COLS;
    tui_colors_init(t);
    return 0;
}

static void set_locale(tui *t)
{
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    if (strcmp(cs, "UTF-8")) {
        /* the data is UTF-8: prefer a UTF-8 locale when the environment has none */
        if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "");
        cs = nl_langinfo(CODESET);
    }
    t->utf8 = !strcmp(cs, "UTF-8");
}

int tui_run(const tui_opts *o, sy_err *err)
{
    tui t;
    memset(&t, 0, sizeof t);
    double t_open = sy_now();
    set_locale(&t);
    t.exe = "/proc/self/exe";
    t.s = session_open(o->session_dir, o->readonly ? SESSION_READ : SESSION_WRITE, err);
    if (!t.s) return -1;
    t.readonly = session_readonly(t.s);
    t.lock_pid = session_lock_holder(t.s);
    if (!t.readonly) t.lock_pid = 0;
    if (t.lock_pid > 0) snprintf(t.ro_why, sizeof t.ro_why, "locked by pid %ld", t.lock_pid);
    else snprintf(t.ro_why, sizeof t.ro_why, o->readonly ? "--read-only" : "session lock held elsewhere");
    const char *url = settings_str(t.s, "llm.url");   /* SYNEG_LLM_URL wins */
    t.offline = !(url && *url);
    /* libcurl is initialised on this thread when first needed (a regenerate
     * job, a model list), not at every open: it cost 0.7 ms of a 10 ms open */
    if (tui_model_open(&t, err) < 0) {
        tui_model_close(&t);
        session_close(t.s);
        return -1;
    }
    keys_defaults(&t);
    tui_attrs_load(&t);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (start_curses(&t, o, err) < 0) {
        tui_model_close(&t);
        session_close(t.s);
        if (t.devnull) fclose(t.devnull);
        return -1;
    }
    tui_prompt_init(&t);
    tui_jobs_scan(&t);
    tui_runs_scan(&t);
    if (!t.ns || !neg_store_count(t.ns))
        tui_msg(&t, "no negatives yet: ':mine --retriever bm25' retrieves some, R writes synthetic ones for a query");
    if (t.readonly && o->readonly) tui_msg(&t, "read-only (--read-only): labels are shown, not changed");
    else if (t.readonly)
        tui_err(&t, "read-only: another syneg (%s) holds the session lock; labels are shown, not changed", t.ro_why);
    tui_state_load(&t);   /* where you left off */
    int flags = 0;
    const char *rc = getenv("SYNEG_TUIRC");
    char rcbuf[4096];
    if (!rc && !t.headless && getenv("HOME")) {
        snprintf(rcbuf, sizeof rcbuf, "%s/.config/syneg/tuirc", getenv("HOME"));
        if (sy_file_exists(rcbuf)) rc = rcbuf;
    }
    if (rc && *rc) tui_source_file(&t, rc, &flags, NULL);
    after(&t, flags);
    flags &= TUI_QUIT;
    t.last_poll = t.last_refresh = t.last_state = sy_now();
    tui_draw_all(&t);
    open_secs = sy_now() - t_open;

    int r = 0;
    if (t.headless) {
        r = run_script(&t, o->script, err);
        if (r == 0) r = session_check(t.s, err);   /* nothing shown came from a damaged store */
        if (r == 0 && o->dump) r = tui_dump(&t, o->dump, err);
    } else {
        while (!(flags & TUI_QUIT) && !got_signal) {
            if (session_check(t.s, err) < 0) {   /* the store is damaged where it was read: stop, say so */
                r = -1;
                break;
            }
            int busy = t.stat_idle < t.nq;   /* counts still being filled in while idle */
            timeout(busy ? 10 : tui_jobs_running(&t) ? 200 : 1000);
            wint_t wc;
            int kind = get_wch(&wc);
            if (kind == ERR) {
                if (busy) tui_stat_idle(&t, 0.015);
                if ((periodic(&t) & TUI_REDRAW) || t.msg[0] || tui_jobs_running(&t)) tui_draw_all(&t);
                continue;
            }
            int key = (int)wc;
            double t0 = sy_now();
            int req = 0;   /* this key's request: nothing from an earlier key sticks (tig) */
            if (kind == OK && wc >= 0x80 && t.prompting) {
                /* a typed non-ASCII character: readline takes its UTF-8 bytes */
                char mb[8];
                size_t n = put_utf8(mb, (uint32_t)wc);
                for (size_t i = 0; i < n; i++) req |= tui_prompt_key(&t, (unsigned char)mb[i]);
            } else {
                req = handle_key(&t, key);
            }
            flags = req & TUI_QUIT;
            after(&t, req);
            periodic(&t);
            tui_draw_all(&t);
            record_key_time(sy_now() - t0);
        }
        if (r == 0) r = session_check(t.s, err);
    }
    write_timing();
    tui_state_save(&t, 0);
    free(t.state_last);
    tui_prompt_done(&t);
    endwin();
    delscreen(t.screen);
    tui_jobs_free(&t);
    tui_attrs_free(&t);
    tui_model_close(&t);
    session_close(t.s);
    if (t.devnull) fclose(t.devnull);
    return r;
}
