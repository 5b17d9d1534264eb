/* tui: the workbench, an ncurses front end over one session.
 *
 * Shape (tig/htop style):
 *   - tui_main.c   the one main loop: reads keys (or a script), dispatches them
 *                  through the key map to actions, and is the only place that
 *                  draws.  Handlers return what changed (TUI_REDRAW, TUI_RELOAD,
 *                  TUI_RESIZE, TUI_QUIT); the loop acts on that.
 *   - actions.def  every user action, declared once (name, default keys, help);
 *                  it feeds the key map (keys.c), the `:` command line
 *                  (tui_cmd.c, tui_prompt.c completion) and the help pane.
 *   - tui_model.c  what the screen shows: the query list (filter/sort), the
 *                  current query's synthetic and retrieved negatives, per-query
 *                  counts (computed lazily), labelling through the journal with
 *                  undo/redo.
 *   - pane_*.c     one pane per file, each a table of hooks (open/draw/key/close)
 *                  with private state; tui_panes[] registers them.
 *   - tui_jobs.c   long work as child processes (`syneg mine ...`) writing to
 *                  SESSION/jobs/ID/log; the loop polls their progress.
 *   - tui_prompt.c readline inside curses through the callback interface.
 *
 * Threads.  Everything in `struct tui` (and every pane's private state, the
 * curses screen, readline) belongs to the one main thread.  One kind of work
 * runs on another thread: a regenerate (R, tui_regen_start) is an engine
 * worker (synth_regen_start).  That worker touches only its own synth_job: a
 * plan copied from the session on the main thread before it starts, its
 * progress (behind the job's mutex), its cancel flag and state (atomic_int),
 * and the files it writes (a new segment under SESSION/negatives/, the LLM
 * cache).  The main thread reaches it only through tui_job.worker with
 * synth_job_poll / _error / _cancel / _free, and sees its rows by
 * neg_store_refresh once it has finished.  Other jobs are child processes
 * started with posix_spawn (never fork + setenv in this threaded process).
 *
 * Requests.  Each key (or command) is one request: its handler's TUI_* flags
 * are acted on and forgotten before the next key, so nothing from an earlier
 * key (a reload, say) can move the cursor under a later act. */
#ifndef SY_TUI_H
#define SY_TUI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../engine/corpus.h"
#include "../engine/labels.h"
#include "../engine/negstore.h"
#include "../engine/session.h"
#include "../engine/util.h"

/* what a handler changed; the main loop redraws/reloads accordingly */
enum {
    TUI_NONE = 0,
    TUI_REDRAW = 1 << 0,   /* repaint the screen */
    TUI_RELOAD = 1 << 1,   /* query rows / counts may have changed */
    TUI_RESIZE = 1 << 2,   /* terminal size changed */
    TUI_QUIT = 1 << 3,
    TUI_UNHANDLED = 1 << 4 /* pane key hook: not mine, run the global action */
};

/* action ids, one per line of actions.def */
typedef enum {
#define ACTION(id, name, keys, flags, args, help) ACT_##id,
#include "actions.def"
#undef ACTION
    ACT_COUNT,
    ACT_NONE = -1
} tui_action;

enum { AF_BAR = 1, AF_WRITE = 2, AF_HIDDEN = 4 }; /* key bar; needs a writable session; not in help */

typedef struct tui tui;
typedef int (*tui_handler)(tui *t, int argc, char **argv);

typedef struct {
    const char *name, *keys, *args, *help;
    unsigned flags;
    tui_handler fn;
} tui_action_info;
extern const tui_action_info tui_actions[ACT_COUNT];
int tui_action_find(const char *name);   /* exact, then unique prefix; -1 */
/* the handlers, defined in tui_cmd.c and the pane files */
#define ACTION(id, name, keys, flags, args, help) int act_##id(tui *t, int argc, char **argv);
#include "actions.def"
#undef ACTION

typedef struct { int y, x, h, w; } tui_rect;

/* A pane: a table of hooks with private state (static in its file). */
typedef struct {
    const char *name;
    void (*open)(tui *t);
    void (*draw)(tui *t, tui_rect r);
    /* key: a keypress already mapped to an action (ACT_NONE when unbound);
     * returns TUI_* flags, TUI_UNHANDLED to fall through to the global action */
    int (*key)(tui *t, int action, int key);
    void (*close)(tui *t);
} tui_pane;

extern const tui_pane pane_queries, pane_query, pane_negs_syn, pane_negs_ret,
    pane_help, pane_detail, pane_jobs, pane_attrs, pane_train, pane_prompt_view, pane_run, pane_review;
/* the run view (pane_run.c) on job i of t->jobs: a run's curves, config,
 * data, log tail and state; other jobs: their command, state and log tail */
int tui_run_view_open(tui *t, int job);
/* A line plot of n points (xs ascending) in r, braille dots with utf8 (else
 * '*'), y axis labelled with min/max on the left, x axis with the first and
 * last x under it; several series share the axes (attr per series). */
void tui_plot(tui *t, tui_rect r, const char *title, const double *const *xs, const double *const *ys,
              const int *ns, const int *attrs, int nseries);
extern const tui_pane *const tui_panes[];   /* all of them, NULL-terminated (tui_main.c) */
/* open panel p over the browse layout, or close it when it is the one open */
int tui_toggle(tui *t, const tui_pane *p);

/* ---- model ---- */
enum { COL_SYN = 0, COL_RET = 1 };
enum { FOCUS_QUERIES = 0, FOCUS_SYN = 1, FOCUS_RET = 2 };
enum { FILTER_ALL, FILTER_UNREVIEWED, FILTER_SUSPECTS, FILTER_REVIEWED, FILTER_NEGS, FILTER_TEXT, FILTER_COUNT };
enum { SORT_ID, SORT_SUSPECTS, SORT_UNREVIEWED, SORT_NEGS, SORT_COUNT };
extern const char *const tui_filter_names[FILTER_COUNT];
extern const char *const tui_sort_names[SORT_COUNT];

typedef struct {
    uint32_t nsyn, nret, reviewed, suspects;
} tui_qstat;

typedef struct {
    neg_ref *refs;
    size_t n, cap;
    size_t cur, top;
    uint8_t *sel;       /* selection marks, n of them */
    size_t nsel;
} tui_col;

typedef struct {
    char *qid, *nid;
    int prev_kind, new_act;
    char *prev_note, *new_note;
    unsigned group;     /* acts of one bulk command share a group: undone together */
} tui_undo;

#define TUI_MAX_JOBS 32
typedef struct {
    char *dir;          /* SESSION/jobs/ID */
    char *kind;         /* "mine", "synth", "train", ... */
    char *args;         /* the command line, for the panel */
    long pid;           /* 0 when not ours (found on disk) */
    int running, status;/* status: exit code, -1 unknown */
    double started, ended;
    off_t log_off;      /* bytes of the log already read */
    double done, total, rate;
    double last_t, last_done;
    char what[64], extra[160], last[640];
    float hist[64];     /* last values of a "loss=" figure, for a sparkline */
    int nhist;
    char query[128];    /* regenerate jobs: the query they serve */
    void *worker;       /* synth_job* for a regenerate running on an engine worker thread */
    char *run_dir;      /* a training run (SESSION/runs/ID): status.json and progress.jsonl */
    size_t prog_off;
    char eval[160];     /* the last evaluation, as text */
    double cost;        /* LLM spend, USD */
    char state[16];     /* runs: status.json's state (running, done, cancelled, killed, failed) */
    int cancelled;      /* stopped from the workbench (K / :kill-job): not a failure */
    long step;          /* runs: the last step in progress.jsonl (status.json lags by up to 10) */
} tui_job;

struct tui {
    session *s;
    corpus *c;
    neg_store *ns;
    labels *lb;
    const corpus_qrels *qrels;   /* train split */
    int readonly;
    long lock_pid;
    char ro_why[64];             /* "locked by pid N" or "--read-only" */
    int lock_free;               /* read-only and the writer has quit: W (take-lock) is offered */
    int list_mode;               /* query list: 0 normal, 1 hidden, 2 wide */
    size_t pos_top;              /* first positive shown (scrolled with [ ]) */
    long pos_query;              /* qlist position pos_top belongs to */
    char *state_last;            /* the state file's text as last written (tui_state.c) */
    int state_bad;               /* the state file was not valid JSON: never overwrite it */
    double last_state;
    char confirm[512];           /* a bulk command previewed, waiting for y (any other key cancels) */
    int bulk_confirmed;          /* set for the one run of the confirmed command */

    /* queries */
    uint32_t *qlist;             /* corpus query indices being curated */
    size_t nq;
    tui_qstat *stats;            /* per qlist entry */
    uint8_t *stat_ok;
    size_t stat_idle;            /* next position the idle loop fills in */
    uint32_t *view;              /* positions in qlist after filter+sort */
    size_t nview, qcur, qtop;
    int filter, sort;
    char filter_text[128];
    long shown;                  /* qlist position whose rows are loaded, -1 none */

    tui_col col[2];
    int focus;

    /* undo/redo */
    tui_undo *undo;
    size_t nundo, undo_pos, undo_cap;
    unsigned undo_group;

    /* screen */
    int rows, cols, color, headless, utf8;
    const tui_pane *overlay;     /* NULL: the browse layout */
    char msg[512];
    int msg_err;
    int keymap[1024];            /* key code -> action, -1 none (keys < 1024) */

    /* prompt */
    int prompting;
    char history_path[4096];

    /* jobs */
    tui_job jobs[TUI_MAX_JOBS];
    int njobs;
    double last_poll, last_refresh, last_runs;

    /* attribute panel: the current values by name (JSON object) */
    void *attrs;                 /* json_t*, owned */
    int offline;                 /* no LLM endpoint (environment or llm.url) */
    double spent;                /* LLM spend of this workbench's regenerations, USD */
    char new_qid[128];           /* the query last regenerated: its rows newer than new_seq say "new" */
    uint64_t new_seq;
    FILE *devnull;
    void *screen;                /* SCREEN* from newterm */
    const char *exe;             /* path to re-exec ourselves for jobs */
    char *row_title;             /* tui_row_text's last synthetic title (valid until its next call) */
};

/* model (tui_model.c) */
int tui_model_open(tui *t, sy_err *err);
int tui_is_synthetic(int neg_source);          /* mix_source_class(...) == MIX_SYNTHETIC, the one rule */
void tui_model_close(tui *t);
void tui_rebuild_view(tui *t);                 /* apply filter + sort, keep the cursor's query */
const tui_qstat *tui_stat(tui *t, size_t pos);  /* counts for qlist position, computed on demand */
void tui_stat_invalidate(tui *t, size_t pos);
/* Fill in counts for up to `budget` seconds while the keyboard is idle, so a
 * later sort or filter over every query does not wait; 1 while work remains. */
int tui_stat_idle(tui *t, double budget);
void tui_load_query(tui *t);                    /* load rows of view[qcur] when it changed */
/* re-read the rows of view[qcur]; on the same query each column's cursor stays
 * on the same negative (by id), so a reload never moves what an act labels */
void tui_reload_rows(tui *t);
long tui_cur_pos(const tui *t);                 /* qlist position under the cursor or -1 */
const char *tui_cur_qid(const tui *t);
int tui_cur_row(tui *t, neg_row *row);          /* negative under the cursor (focus column); 1 if any */
/* A row's text and (*title) its title: a corpus document's, or a synthetic
 * row's from its provenance; *title stays valid until the next call. */
const char *tui_row_text(tui *t, const neg_row *row, const char **title);
int tui_row_label(tui *t, const neg_row *row, label_entry *e);
/* "title: text" for the screen, or the text alone when the title is empty or
 * the text repeats it; malloc'd (NULL on ENOMEM) */
char *tui_passage(const char *title, const char *text);
/* Label one pair through the journal; the note given is the pair's whole note
 * (NULL or "" for none: callers that mean "keep the note" pass the old one).
 * record: 0 not for undo (undo/redo themselves), 1 a new undo step, 2 part of
 * the last step.  1 written, 0 nothing to write (the pair is already in that
 * state with that note: no identical journal line), -1 refused or failed (the
 * status line says why). */
int tui_label(tui *t, const char *qid, const char *nid, int act, const char *note, int record);
/* move the cursor (and focus, and query) to the next unlabelled negative after
 * the one under the cursor: the rest of this query (synthetic column, then
 * retrieved), then the following queries of the list, wrapping round to the
 * ones before; 0 when every listed negative is labelled ("queue done") */
int tui_next_unlabelled(tui *t);
int tui_undo_step(tui *t, int redo);
int tui_goto_query(tui *t, const char *qid);
int tui_refresh_store(tui *t);                  /* pick up segments jobs committed; TUI_* flags */
void tui_overall(tui *t, size_t *reviewed, size_t *total);
double tui_row_rel(tui *t, const neg_row *row); /* score relative to the best of its source list */
size_t tui_find_view(const tui *t, size_t pos); /* index in view of a qlist position or SIZE_MAX */

/* messages on the status line */
void tui_msg(tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tui_err(tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* commands (tui_cmd.c) */
int tui_run_command(tui *t, const char *line);  /* TUI_* flags */
int tui_run_action(tui *t, int action, int argc, char **argv);
int tui_split_args(const char *line, char ***argv); /* shell-like words; free with tui_free_args */
void tui_free_args(int argc, char **argv);
int tui_source_file(tui *t, const char *path, int *flags, sy_err *err);

/* where you left off (tui_state.c): SESSION/tui-state.json */
void tui_state_load(tui *t);
int tui_state_save(tui *t, int force);         /* only when changed unless force; not when read-only */
/* the review queue's part of it (pane_review.c); json_t from jansson */
struct json_t;
struct json_t *tui_review_save(tui *t);
void tui_review_restore(tui *t, const struct json_t *o);
int tui_review_order(const char *name);        /* "likely" 0, "query" 1, else -1 */

/* keys (keys.c) */
int keys_parse(const char *spec, int *keys, int max);   /* "jj<Down>^R" -> codes; count or -1 */
const char *keys_name(int key, char *buf, size_t n);     /* code -> "<Down>", "^R", "j" */
void keys_defaults(tui *t);
int keys_bind(tui *t, const char *spec, const char *action, sy_err *err);
int keys_first(const tui *t, int action, char *buf, size_t n);  /* a bound key name; 0 if none */

/* prompt (tui_prompt.c) */
void tui_prompt_init(tui *t);
void tui_prompt_done(tui *t);
void tui_prompt_open(tui *t, const char *prefill);
int tui_prompt_key(tui *t, int key);            /* feed one key; TUI_* flags */
void tui_prompt_draw(tui *t, int y);

/* jobs (tui_jobs.c) */
int tui_job_start(tui *t, const char *kind, int argc, char **argv, int detached, sy_err *err);
/* regenerate one query's synthetic negatives on an engine worker (synth_regen_start) */
int tui_regen_start(tui *t, const char *qid, sy_err *err);
int tui_jobs_poll(tui *t);                      /* TUI_* flags */
void tui_jobs_scan(tui *t);                     /* jobs found on disk (started elsewhere) */
void tui_runs_scan(tui *t);                     /* training runs, new ones included */
int tui_jobs_running(const tui *t);
int tui_job_kill(tui *t, int i);
void tui_jobs_free(tui *t);
/* jobs panel state word ("running", "done", "cancelled", "FAILED", ...) and its colour */
const char *tui_job_state(tui *t, const tui_job *j, int *attr);

/* attributes (pane_attrs.c) */
void tui_attrs_load(tui *t);
void tui_attrs_free(tui *t);
int tui_attr_set(tui *t, const char *name, const char *value, sy_err *err);
size_t tui_attr_names(tui *t, const char **names, size_t max);
size_t tui_attr_values(tui *t, const char *name, const char **vals, size_t max);

/* drawing (tui_draw.c); all drawing goes to stdscr, clipped to a rect */
enum { C_NORMAL = 0, C_TITLE, C_CURSOR, C_ACCEPT, C_REJECT, C_SUSPECT, C_DIM, C_STATUS, C_KEY, C_HILITE, C_ERR, C_SEL, C_NCOLORS };
void tui_colors_init(tui *t);
int tui_attr(tui *t, int c);                    /* curses attribute for a colour class */
int tui_cursor_attr(tui *t, int focused);       /* the one cursor style: focused pane, or the others' */
/* Put UTF-8 text at y,x, at most w columns; returns columns used.  Control
 * characters become spaces. */
int tui_put(int y, int x, int w, const char *s, size_t n, int attr);
int tui_putf(int y, int x, int w, int attr, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void tui_fill(int y, int x, int w, int attr);
/* printf at buf+o; the new offset, never past cap-1 however long the text
 * (so a chain of appends cannot write past the buffer) */
size_t tui_appendf(char *buf, size_t cap, size_t o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Greedy word wrap: byte offsets where each line starts (and ends), at most max lines. */
size_t tui_wrap(const char *s, size_t n, int w, size_t *starts, size_t *ends, size_t max);
/* Draw wrapped text, words found in `terms` (lowercased, space separated) get hl attr. */
int tui_put_hl(int y, int x, int w, const char *s, size_t n, int attr, int hl, const char *terms);
void tui_query_terms(const char *query, char *out, size_t n);
/* Draw s[0..n) word-wrapped into at most maxl lines of width w from y,x (the
 * first line starts `first` columns further right, after what the caller drew
 * there).  Words are cut only when longer than a line; text that does not fit
 * ends the last line with an ellipsis.  y < 0 only measures.  hl/terms as
 * tui_put_hl (hl 0: no highlighting).  Returns the lines used. */
int tui_put_wrapped(int y, int x, int w, int first, int maxl, const char *s, size_t n, int attr, int hl, const char *terms);
/* 1 when the title adds nothing: empty, or the text already begins with it
 * (Cranfield and many BEIR sets repeat the title as the text's first words) */
int tui_title_redundant(const char *title, const char *text);
size_t tui_width(const char *s, size_t n);
void tui_box_title(tui *t, tui_rect r, const char *title, int focused);
void tui_sparkline(int y, int x, int w, const float *v, int n, int attr, int utf8);

/* main (tui_main.c) */
enum { TUI_MIN_COLS = 80, TUI_MIN_ROWS = 24 };   /* below this the screen says it is too small */
typedef struct {
    const char *session_dir;
    const char *script, *dump;
    int rows, cols;        /* headless size */
    int readonly;
} tui_opts;
int tui_run(const tui_opts *o, sy_err *err);
int tui_dump(tui *t, const char *path, sy_err *err);
void tui_draw_all(tui *t);
int tui_resize(tui *t, int rows, int cols);

#endif
