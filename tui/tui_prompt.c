/* tui_prompt: the `:` command line, readline running inside curses through
 * its callback interface (tig's src/prompt.c settings): readline never
 * touches the terminal (no prep, no signal or SIGWINCH handling, output to
 * /dev/null); every key the main loop reads while the prompt is open is fed
 * to it byte by byte through rl_getc_function, and the line is drawn by the
 * main loop on the last screen row.  Completion knows the commands of the
 * action table, attribute names and values, filter and sort names, and query
 * ids.  History is kept per session in SESSION/history. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "tui.h"

static tui *T;                     /* the one workbench (readline's hooks carry no context) */
static unsigned char feed[64];
static int nfeed, ifeed;
static char *done_line;
static int line_ready;
static char matches_msg[512];
static FILE *rl_null;

static int prompt_getc(FILE *f)
{
    (void)f;
    return ifeed < nfeed ? feed[ifeed++] : EOF;
}

static int prompt_input_available(void) { return ifeed < nfeed; }
static void prompt_redisplay(void) {}   /* the main loop draws the line */

static void prompt_line(char *line)
{
    done_line = line;
    line_ready = 1;
    rl_callback_handler_remove();
}

static void show_matches(char **matches, int n, int maxlen)
{
    (void)maxlen;
    size_t o = 0;
    o = tui_appendf(matches_msg, sizeof matches_msg, 0, "%d matches:", n);
    for (int i = 1; i <= n && o < sizeof matches_msg - 1; i++)
        o = tui_appendf(matches_msg, sizeof matches_msg, o, " %s", matches[i]);
}

/* ---- completion ---- */

static const char **cands;
static size_t ncands, capcands;

static void cand(const char *s)
{
    if (ncands == capcands) {
        size_t cap = capcands ? 2 * capcands : 64;
        const char **n = realloc(cands, cap * sizeof *n);
        if (!n) return;
        cands = n, capcands = cap;
    }
    cands[ncands++] = s;
}

static char *gen(const char *text, int state)
{
    static size_t i, len;
    if (!state) i = 0, len = strlen(text);
    while (i < ncands) {
        const char *c = cands[i++];
        if (!strncmp(c, text, len)) return strdup(c);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;   /* never file names */
    ncands = 0;
    char *head = strndup(rl_line_buffer, (size_t)start);
    char **argv;
    int argc = tui_split_args(head ? head : "", &argv);
    free(head);
    if (argc < 0) return NULL;
    int a = argc > 0 ? tui_action_find(argv[0]) : -1;
    if (argc == 0) {
        for (int i = 0; i < ACT_COUNT; i++) cand(tui_actions[i].name);
    } else if (a == ACT_goto) {
        if (argc == 1)
            for (size_t i = 0; i < T->nq; i++) cand(corpus_query_id(T->c, T->qlist[i]));
    } else if (a == ACT_set) {
        const char *names[256];
        if (argc == 1) {
            size_t n = tui_attr_names(T, names, 256);
            for (size_t i = 0; i < n; i++) cand(names[i]);
        } else if (argc == 2) {
            size_t n = tui_attr_values(T, argv[1], names, 256);
            for (size_t i = 0; i < n; i++) cand(names[i]);
        }
    } else if (a == ACT_label || a == ACT_bulk) {
        static const char *const acts[] = {"accept", "reject", "clear"};
        static const char *const more[] = {"synthetic", "retrieved", "all", "rel>", "score>", "rank<=", "suspect",
                                           "unlabelled", "source=", "every-query"};
        if (argc == 1)
            for (int i = 0; i < 3; i++) cand(acts[i]);
        else if (a == ACT_bulk)
            for (int i = 0; i < 10; i++) cand(more[i]);
    } else if (a == ACT_filter && argc == 1) {
        for (int i = 0; i < FILTER_COUNT; i++) cand(tui_filter_names[i]);
    } else if (a == ACT_review && argc == 1) {
        cand("likely"), cand("query");
    } else if (a == ACT_list_width && argc == 1) {
        cand("normal"), cand("hidden"), cand("wide");
    } else if (a == ACT_sort && argc == 1) {
        for (int i = 0; i < SORT_COUNT; i++) cand(tui_sort_names[i]);
    } else if (a == ACT_bind && argc == 2) {
        for (int i = 0; i < ACT_COUNT; i++) cand(tui_actions[i].name);
    }
    tui_free_args(argc, argv);
    if (!ncands) return NULL;
    return rl_completion_matches(text, gen);
}

/* ---- life cycle ---- */

void tui_prompt_init(tui *t)
{
    T = t;
    rl_null = fopen("/dev/null", "w");
    rl_readline_name = "syneg";
    rl_instream = t->devnull ? t->devnull : stdin;
    rl_outstream = rl_null ? rl_null : stderr;
    rl_change_environment = 0;
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_prep_term_function = NULL;
    rl_deprep_term_function = NULL;
    rl_redisplay_function = prompt_redisplay;
    rl_getc_function = prompt_getc;
    rl_input_available_hook = prompt_input_available;
    rl_attempted_completion_function = complete;
    rl_completion_display_matches_hook = show_matches;
    rl_completer_quote_characters = "\"'";
    rl_basic_word_break_characters = " \t";
    rl_completion_append_character = ' ';
    using_history();
    char *h = session_path(t->s, "history");
    snprintf(t->history_path, sizeof t->history_path, "%s", h ? h : "");
    free(h);
    if (t->history_path[0] && !t->headless) read_history(t->history_path);
}

void tui_prompt_done(tui *t)
{
    if (t->prompting) rl_callback_handler_remove();
    t->prompting = 0;
    if (t->history_path[0] && !t->readonly && !t->headless) history_truncate_file(t->history_path, 1000);
    clear_history();
    free(cands);
    cands = NULL;
    ncands = capcands = 0;
    if (rl_null) fclose(rl_null);
    rl_null = NULL;
    rl_outstream = NULL;
    rl_instream = NULL;
}

void tui_prompt_open(tui *t, const char *prefill)
{
    if (t->prompting) return;
    t->prompting = 1;
    matches_msg[0] = 0;
    line_ready = 0;
    rl_callback_handler_install(":", prompt_line);
    if (prefill && *prefill) {
        rl_insert_text(prefill);
        rl_point = rl_end;
    }
}

/* Forget the line being edited and every readline state that could outlive
 * it: an incremental search (^R) still waiting for keys would otherwise take
 * the next prompt's keys and Enter would run the history entry it found. */
static void reset_line(void)
{
    if (RL_ISSTATE(RL_STATE_CALLBACK)) rl_callback_sigcleanup();   /* ends ^R search, numeric args, ... */
    rl_free_line_state();
    rl_replace_line("", 1);
    rl_point = rl_end = 0;
    rl_mark = 0;
    rl_callback_handler_remove();
    history_set_pos(history_length);   /* the next Up starts from the newest entry again */
    ifeed = nfeed = 0;
    line_ready = 0;
    free(done_line);
    done_line = NULL;
}

static void push(const char *bytes, int n)
{
    if (ifeed >= nfeed) ifeed = nfeed = 0;
    for (int i = 0; i < n && nfeed < (int)sizeof feed; i++) feed[nfeed++] = (unsigned char)bytes[i];
}

int tui_prompt_key(tui *t, int key)
{
    switch (key) {
    case KEY_RESIZE: return tui_resize(t, LINES, COLS);
    case 27:   /* Esc alone: cancel, and leave nothing of this line behind */
        reset_line();
        t->prompting = 0;
        tui_msg(t, "cancelled");
        return TUI_REDRAW;
    case KEY_UP: push("\033[A", 3); break;
    case KEY_DOWN: push("\033[B", 3); break;
    case KEY_RIGHT: push("\033[C", 3); break;
    case KEY_LEFT: push("\033[D", 3); break;
    case KEY_HOME: push("\001", 1); break;
    case KEY_END: push("\005", 1); break;
    case KEY_DC: push("\004", 1); break;
    case KEY_BACKSPACE: push("\177", 1); break;
    case KEY_ENTER: case '\n': push("\r", 1); break;
    default:
        if (key >= 0 && key < 256) {
            char c = (char)key;
            push(&c, 1);
        }
        break;
    }
    matches_msg[0] = 0;
    while (ifeed < nfeed && t->prompting && !line_ready) rl_callback_read_char();
    ifeed = nfeed = 0;
    if (!line_ready) return TUI_REDRAW;
    /* the line is complete: run it */
    line_ready = 0;
    t->prompting = 0;
    char *line = done_line;
    done_line = NULL;
    int flags = TUI_REDRAW;
    if (line && *line) {
        add_history(line);
        if (t->history_path[0] && !t->readonly && !t->headless) {
            FILE *f = fopen(t->history_path, "a");   /* append_history needs an existing file */
            if (f) fclose(f);
            append_history(1, t->history_path);
        }
        flags |= tui_run_command(t, line);
    }
    free(line);
    return flags;
}

void tui_prompt_draw(tui *t, int y)
{
    if (matches_msg[0]) {
        tui_fill(y - 1, 0, t->cols, tui_attr(t, C_STATUS));
        tui_put(y - 1, 0, t->cols, matches_msg, strlen(matches_msg), tui_attr(t, C_STATUS));
    }
    const char *line = rl_line_buffer ? rl_line_buffer : "";
    size_t pt = (size_t)(rl_point > 0 ? rl_point : 0);
    size_t before = tui_width(line, pt);
    int avail = t->cols - 2;
    size_t skip = 0;   /* scroll long lines so the cursor stays visible */
    while (avail > 0 && before - tui_width(line, skip) >= (size_t)avail && skip < pt) {
        skip++;
        while (skip < pt && ((unsigned char)line[skip] & 0xC0) == 0x80) skip++;
    }
    /* a ^R search shows readline's own prompt: (reverse-i-search)`label': */
    const char *pr = ":";
    if (RL_ISSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH) && rl_display_prompt && *rl_display_prompt) pr = rl_display_prompt;
    int pw = tui_put(y, 0, t->cols, pr, strlen(pr), tui_attr(t, C_KEY));
    tui_put(y, pw, t->cols - pw, line + skip, strlen(line + skip), 0);
    int cx = pw + (int)(before - tui_width(line, skip));
    move(y, cx < t->cols ? cx : t->cols - 1);
    curs_set(1);
}
