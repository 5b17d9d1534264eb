/* pane_jobs: running and recent jobs: progress bar, rate, ETA, the last line
 * of the log, and for training a sparkline of the loss.  j/k choose a job,
 * K stops it, Enter opens it (the run view, pane_run.c).  A train job and
 * its run are one row; a job stopped from here reads "cancelled", not FAILED. */
#include <curses.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

static int sel = -1;

static void open_jobs(tui *t) { sel = t->njobs - 1; }

static void fmt_secs(char *b, size_t n, double s)
{
    if (s < 0 || s > 1e7) snprintf(b, n, "-");
    else if (s < 90) snprintf(b, n, "%.0fs", s);
    else if (s < 5400) snprintf(b, n, "%.0fm%02.0fs", s / 60 - 0.5, s - 60 * (int)(s / 60));
    else snprintf(b, n, "%.1fh", s / 3600);
}

static void draw(tui *t, tui_rect r)
{
    char title[128];
    snprintf(title, sizeof title, " JOBS %d running, %d listed   j/k choose  Enter opens  K stops  q closes", tui_jobs_running(t), t->njobs);
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, 1);
    int y = r.y + 1, end = r.y + r.h;
    if (!t->njobs) {
        tui_put(y, r.x + 1, r.w - 1, "no jobs yet: :mine, :synth, R (regenerate), :train or :export start one", 72, tui_attr(t, C_DIM));
        return;
    }
    if (sel >= t->njobs) sel = t->njobs - 1;
    for (int i = t->njobs - 1; i >= 0 && y < end; i--) {
        tui_job *j = &t->jobs[i];
        int base = i == sel ? tui_attr(t, C_CURSOR) : 0;
        tui_fill(y, r.x, r.w, base);
        int sattr;
        const char *state = tui_job_state(t, j, &sattr);
        int x = r.x + 1;
        x += tui_putf(y, x, r.x + r.w - x, base | A_BOLD, "%-8s ", j->kind);
        x += tui_putf(y, x, r.x + r.w - x, base | (i == sel ? (int)A_BOLD : sattr), "%-9s ", state);
        if (j->total > 0) {
            int bw = r.w / 4, fill = (int)(bw * (j->done / j->total));
            if (fill > bw) fill = bw;
            char bar[256];
            for (int k = 0; k < bw && k < 255; k++) bar[k] = k < fill ? '#' : '.';
            bar[bw < 255 ? bw : 255] = 0;
            x += tui_putf(y, x, r.x + r.w - x, base, "[%s] %3.0f%% ", bar, 100 * j->done / j->total);
            char eta[32];
            fmt_secs(eta, sizeof eta, j->rate > 0 && j->running ? (j->total - j->done) / j->rate : -1);
            x += tui_putf(y, x, r.x + r.w - x, base, "%.0f/%.0f %.1f/s ETA %s", j->done, j->total, j->rate, eta);
        } else {
            char el[32];
            fmt_secs(el, sizeof el, (j->running ? sy_now() : j->ended) - j->started);
            x += tui_putf(y, x, r.x + r.w - x, base, "%s", j->started > 0 && j->pid > 0 ? el : "");
        }
        y++;
        if (y < end) {
            const char *rid = j->run_dir && j->dir ? strrchr(j->run_dir, '/') : NULL;
            if (rid) tui_putf(y++, r.x + 3, r.w - 3, tui_attr(t, C_DIM), "training run %s: %s", rid + 1, j->args ? j->args : "");
            else tui_put(y++, r.x + 3, r.w - 3, j->args ? j->args : "", j->args ? strlen(j->args) : 0, tui_attr(t, C_DIM));
        }
        if (y < end && (j->extra[0] || j->last[0])) {
            tui_putf(y++, r.x + 3, r.w - 3, j->running ? 0 : sattr, "%s%s%s", j->extra,
                     j->extra[0] && j->last[0] ? "  " : "", j->last);
        }
        if (y < end && j->eval[0]) tui_put(y++, r.x + 3, r.w - 3, j->eval, strlen(j->eval), tui_attr(t, C_ACCEPT));
        if (y < end && j->nhist > 1) {
            int x2 = r.x + 3;
            x2 += tui_putf(y, x2, r.w - 3, 0, "loss %.4g ", (double)j->hist[j->nhist - 1]);
            tui_sparkline(y, x2, r.x + r.w - x2 - 1, j->hist, j->nhist, tui_attr(t, C_ACCEPT), t->utf8);
            y++;
        }
        y++;
    }
}

static int key(tui *t, int action, int k)
{
    if (action == ACT_down && sel > 0) return sel--, TUI_REDRAW;
    if (action == ACT_up && sel + 1 < t->njobs) return sel++, TUI_REDRAW;
    if (action == ACT_detail || k == '\n' || k == '\r' || k == KEY_ENTER) {
        if (sel < 0 || sel >= t->njobs) return TUI_REDRAW;
        return tui_run_view_open(t, sel);
    }
    if (k == 'K') {
        if (tui_job_kill(t, sel) < 0) tui_err(t, "that job is not running");
        else tui_msg(t, "asked %s to stop", t->jobs[sel].kind);
        return TUI_REDRAW;
    }
    return TUI_UNHANDLED;
}

const tui_pane pane_jobs = {"jobs", open_jobs, draw, key, NULL};

int act_jobs(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return tui_toggle(t, &pane_jobs);
}

int act_kill_job(tui *t, int argc, char **argv)
{
    int i = t->njobs - 1;
    if (argc > 1) i = t->njobs - atoi(argv[1]);   /* 1 = the newest, as listed */
    while (argc <= 1 && i >= 0 && !t->jobs[i].running) i--;
    if (tui_job_kill(t, i) < 0) tui_err(t, "kill-job: no such running job");
    else tui_msg(t, "asked %s to stop", t->jobs[i].kind);
    return TUI_REDRAW;
}

int act_ablate(tui *t, int argc, char **argv)
{
    sy_err err;
    if (tui_job_start(t, "ablate", argc - 1, argv + 1, 1, &err) < 0) tui_err(t, "ablate: %s", err.msg);
    else tui_msg(t, "ablation started in the background; its runs appear in J as they start");
    return TUI_REDRAW;
}

int act_wait_jobs(tui *t, int argc, char **argv)
{
    double limit = argc > 1 ? atof(argv[1]) : 120, start = sy_now();
    int flags = 0;
    while (tui_jobs_running(t) && sy_now() - start < limit) {
        usleep(50000);
        flags |= tui_jobs_poll(t);
    }
    tui_runs_scan(t);          /* runs the jobs created */
    flags |= tui_jobs_poll(t);
    if (tui_jobs_running(t)) tui_err(t, "wait-jobs: still running after %.0f s", limit);
    return flags | TUI_REDRAW;
}
