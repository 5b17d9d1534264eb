/* pane_run: the run view, opened by Enter in the jobs panel.  For a training
 * run: its state (with the reason), configuration, the data at launch (pool
 * composition, label counts), the loss curve and the nDCG@10 / MRR@10 /
 * R@100 curves drawn in the terminal (braille dots, labelled axes), and the
 * tail of its log.  For any other job: its command, state and log tail.
 * Everything is read from the run's files (engine/runinfo.h) when they
 * change, so a run started elsewhere reads the same.  j/k scroll the log. */
#include <curses.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/runinfo.h"
#include "tui.h"

static int job = -1;          /* index into t->jobs (re-found by ident: the list moves) */
static char ident[1024];      /* the job's folder or its run's */
static runinfo ri;
static int have_ri;
static off_t seen_size = -1;  /* progress.jsonl size when last loaded */
static int log_back;          /* lines scrolled back from the end of the log */

static off_t file_size(const char *dir, const char *name)
{
    char *p = sy_path_join(dir, name);
    struct stat sb;
    off_t r = p && stat(p, &sb) == 0 ? sb.st_size : -1;
    free(p);
    return r;
}

static void reload(tui *t)
{
    if (job < 0 || job >= t->njobs || !t->jobs[job].run_dir) return;
    off_t sz = file_size(t->jobs[job].run_dir, "progress.jsonl");
    if (have_ri && sz == seen_size) {
        runs_read_status(t->jobs[job].run_dir, &ri.st, NULL);   /* cheap: the state may change alone */
        return;
    }
    if (have_ri) runinfo_free(&ri);
    have_ri = runinfo_load(t->jobs[job].run_dir, &ri, NULL) == 0;
    seen_size = sz;
}

int tui_run_view_open(tui *t, int i)
{
    if (i < 0 || i >= t->njobs) return TUI_REDRAW;
    if (have_ri) runinfo_free(&ri);
    have_ri = 0;
    seen_size = -1;
    log_back = 0;
    job = i;
    snprintf(ident, sizeof ident, "%s", t->jobs[i].dir ? t->jobs[i].dir : t->jobs[i].run_dir ? t->jobs[i].run_dir : "");
    if (t->overlay != &pane_run) tui_toggle(t, &pane_run);
    return TUI_REDRAW;
}

/* ---- the plot ---- */

static void fmt_axis(char *b, size_t n, double v)
{
    if (fabs(v) >= 1000 || (fabs(v) < 0.01 && v != 0)) snprintf(b, n, "%.2g", v);
    else snprintf(b, n, "%.3f", v);
}

void tui_plot(tui *t, tui_rect r, const char *title, const double *const *xs, const double *const *ys,
              const int *ns, const int *attrs, int nseries)
{
    if (r.h < 4 || r.w < 16) return;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < nseries; s++)
        for (int i = 0; i < ns[s]; i++) {
            if (!isfinite(ys[s][i])) continue;
            if (xs[s][i] < x0) x0 = xs[s][i];
            if (xs[s][i] > x1) x1 = xs[s][i];
            if (ys[s][i] < y0) y0 = ys[s][i];
            if (ys[s][i] > y1) y1 = ys[s][i];
        }
    tui_putf(r.y, r.x, r.w, A_BOLD, "%s", title);
    if (!(x0 <= x1)) {
        tui_putf(r.y + 1, r.x + 2, r.w - 2, tui_attr(t, C_DIM), "(no points yet)");
        return;
    }
    if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
    if (x1 - x0 < 1e-12) x1 = x0 + 1;
    char lo[16], hi[16];
    fmt_axis(hi, sizeof hi, y1);
    fmt_axis(lo, sizeof lo, y0);
    int lw = (int)(strlen(hi) > strlen(lo) ? strlen(hi) : strlen(lo)) + 1;
    int ph = r.h - 2, pw = r.w - lw - 1;   /* plot cells: below the title, above the x axis */
    if (ph < 1 || pw < 4) return;
    tui_putf(r.y + 1, r.x, lw, tui_attr(t, C_DIM), "%*s", lw - 1, hi);
    tui_putf(r.y + ph, r.x, lw, tui_attr(t, C_DIM), "%*s", lw - 1, lo);
    for (int k = 0; k < ph; k++) tui_put(r.y + 1 + k, r.x + lw, 1, t->utf8 ? "\xe2\x94\x82" : "|", t->utf8 ? 3 : 1, tui_attr(t, C_DIM));
    /* dots: braille cells of 2x4 dots (utf8), else one '*' per cell */
    int dw = t->utf8 ? 2 : 1, dh = t->utf8 ? 4 : 1;
    int gw = pw * dw, gh = ph * dh;
    unsigned char *cell = calloc((size_t)pw * ph, 1);
    int *owner = calloc((size_t)pw * ph, sizeof *owner);
    if (!cell || !owner) { free(cell); free(owner); return; }
    static const unsigned char bit[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}};
    for (int s = 0; s < nseries; s++) {
        int px = -1, py = -1;
        for (int i = 0; i < ns[s]; i++) {
            if (!isfinite(ys[s][i])) continue;
            int gx = (int)lround((xs[s][i] - x0) / (x1 - x0) * (gw - 1));
            int gy = (int)lround((y1 - ys[s][i]) / (y1 - y0) * (gh - 1));
            /* connect to the previous point so sparse evaluations read as a line */
            int steps = px < 0 ? 1 : (abs(gx - px) > abs(gy - py) ? abs(gx - px) : abs(gy - py));
            if (steps < 1) steps = 1;
            for (int k = 1; k <= steps; k++) {
                int x = px < 0 ? gx : px + (gx - px) * k / steps, y = px < 0 ? gy : py + (gy - py) * k / steps;
                int c = (y / dh) * pw + x / dw;
                cell[c] |= t->utf8 ? bit[y % 4][x % 2] : 1;
                owner[c] = s;
            }
            px = gx, py = gy;
        }
    }
    for (int cy = 0; cy < ph; cy++)
        for (int cx = 0; cx < pw; cx++) {
            unsigned char m = cell[cy * pw + cx];
            if (!m) continue;
            int a = attrs ? attrs[owner[cy * pw + cx]] : 0;
            if (t->utf8) {
                unsigned cp = 0x2800u + m;
                char u[4] = {(char)(0xe0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3f)), (char)(0x80 | (cp & 0x3f)), 0};
                tui_put(r.y + 1 + cy, r.x + lw + 1 + cx, 1, u, 3, a);
            } else {
                tui_put(r.y + 1 + cy, r.x + lw + 1 + cx, 1, "*", 1, a);
            }
        }
    free(cell);
    free(owner);
    char xa[32], xb[32];
    snprintf(xa, sizeof xa, "%.0f", x0);
    snprintf(xb, sizeof xb, "step %.0f", x1);
    tui_putf(r.y + r.h - 1, r.x + lw, r.w - lw, tui_attr(t, C_DIM), "%s", xa);
    tui_putf(r.y + r.h - 1, r.x + r.w - (int)strlen(xb), (int)strlen(xb), tui_attr(t, C_DIM), "%s", xb);
}

/* ---- the view ---- */

static int draw_kv(int y, int x, int w, const char *k, const char *v, int attr)
{
    return tui_putf(y, x, w, attr, "%s %s  ", k, v);
}

static void draw_config(int *y, tui_rect r)
{
    if (!ri.options) return;
    static const char *const keys[] = {"init", "scratch", "lr", "batch", "group", "mix_start", "mix_end", "fill", "max_steps",
                                       "epochs", "eval_every", "seed", "temp", "max_len_p", "inbatch"};
    int x = r.x + 1;
    tui_putf(*y, x, r.w - 1, A_BOLD, "config ");
    x += 7;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(ri.options, keys[i]);
        if (!v || (json_is_string(v) && !*json_string_value(v))) continue;
        char buf[160];
        if (json_is_string(v)) snprintf(buf, sizeof buf, "%s", json_string_value(v));
        else if (json_is_real(v)) snprintf(buf, sizeof buf, "%g", json_real_value(v));
        else if (json_is_boolean(v)) snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "yes" : "no");
        else snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        int need = (int)(strlen(keys[i]) + strlen(buf) + 3);
        if (x + need > r.x + r.w) {
            (*y)++;
            x = r.x + 8;
        }
        x += draw_kv(*y, x, r.x + r.w - x, keys[i], buf, 0);
    }
    (*y)++;
}

static void draw_data(int *y, tui_rect r)
{
    if (!ri.data) return;
    sy_buf b = {0};
    json_t *pool = json_object_get(ri.data, "pool"), *lab = json_object_get(ri.data, "labels");
    sy_buf_printf(&b, "%lld instances, %lld queries", (long long)json_integer_value(json_object_get(ri.data, "instances")),
                  (long long)json_integer_value(json_object_get(ri.data, "queries")));
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(pool, k, v) {
        sy_buf_printf(&b, "%s%s %lld", first ? "; pool " : ", ", k, (long long)json_integer_value(v));
        first = 0;
    }
    if (lab)
        sy_buf_printf(&b, "; labels %lld accepted, %lld rejected", (long long)json_integer_value(json_object_get(lab, "accepted")),
                      (long long)json_integer_value(json_object_get(lab, "rejected")));
    if (json_integer_value(json_object_get(ri.data, "skipped_no_negatives")))
        sy_buf_printf(&b, "; %lld positives skipped (no negatives)",
                      (long long)json_integer_value(json_object_get(ri.data, "skipped_no_negatives")));
    tui_putf((*y)++, r.x + 1, r.w - 1, 0, "at launch  %s", b.data ? b.data : "");
    sy_buf_free(&b);
}

static void draw_log(tui *t, const tui_job *j, int y, int end, tui_rect r)
{
    if (y >= end) return;
    char *p = j->run_dir ? sy_path_join(j->run_dir, "log.txt") : NULL;
    size_t n = 0;
    char *text = p ? sy_read_file(p, &n, NULL) : NULL;
    free(p);
    if (!text && j->dir) {
        p = sy_path_join(j->dir, "log");
        text = p ? sy_read_file(p, &n, NULL) : NULL;
        free(p);
    }
    tui_putf(y++, r.x + 1, r.w - 1, A_BOLD, "log%s", text ? "" : " (none: the run prints to the terminal that started it)");
    if (!text) return;
    /* the last lines that fit, scrolled back by log_back */
    int rows = end - y, nl = 0;
    for (size_t i = 0; i < n; i++) nl += text[i] == '\n';
    int last = nl - log_back, first = last - rows;
    if (first < 0) first = 0;
    int line = 0;
    for (char *s = text, *e; s && *s && y < end; s = e ? e + 1 : NULL, line++) {
        e = strchr(s, '\n');
        if (line < first || line >= last) continue;
        char *cr = memrchr(s, '\r', e ? (size_t)(e - s) : strlen(s));   /* progress bars: the last frame */
        const char *from = cr ? cr + 1 : s;
        tui_put(y++, r.x + 2, r.w - 3, from, e ? (size_t)(e - from) : strlen(from), tui_attr(t, C_DIM));
    }
    free(text);
}

static void refind(tui *t)
{
    for (int i = 0; ident[0] && i < t->njobs; i++) {
        const char *d = t->jobs[i].dir ? t->jobs[i].dir : t->jobs[i].run_dir;
        if (d && !strcmp(d, ident)) { job = i; return; }
    }
}

static void draw(tui *t, tui_rect r)
{
    refind(t);
    if (job < 0 || job >= t->njobs) {
        tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, " RUN   q closes", 1);
        return;
    }
    tui_job *j = &t->jobs[job];
    reload(t);
    char title[256];
    const char *id = j->run_dir ? strrchr(j->run_dir, '/') : NULL;
    snprintf(title, sizeof title, " RUN %s   j/k scroll the log  K stops  q closes", id ? id + 1 : j->kind);
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, title, 1);
    int y = r.y + 1, end = r.y + r.h;
    int sattr;
    const char *state = tui_job_state(t, j, &sattr);
    const char *why = have_ri && ri.st.message[0] ? ri.st.message : j->last;
    char step[64] = "";
    if (have_ri) snprintf(step, sizeof step, "step %ld/%ld  ", j->step > ri.st.step ? j->step : ri.st.step, ri.st.total);
    tui_putf(y++, r.x + 1, r.w - 1, sattr | A_BOLD, "%s  %s%s", state, step, why ? why : "");
    if (j->args) tui_put(y++, r.x + 1, r.w - 1, j->args, strlen(j->args), tui_attr(t, C_DIM));
    if (have_ri) {
        draw_config(&y, r);
        draw_data(&y, r);
        const runinfo_eval *u = runinfo_untrained(&ri), *l = runinfo_last_eval(&ri);
        if (l)
            tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_ACCEPT), "eval (%s, %ld queries) @ step %ld: nDCG@10 %.4f  MRR@10 %.4f  R@100 %.4f%s",
                     ri.split, l->queries, l->step, l->ndcg10, l->mrr10, l->recall100,
                     u && u != l ? "" : "");
        if (u && l && u != l)
            tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_DIM), "untrained (step 0):              nDCG@10 %.4f  MRR@10 %.4f  R@100 %.4f",
                     u->ndcg10, u->mrr10, u->recall100);
        /* two plots side by side when there is room, else stacked */
        int ph = (end - y) / 2;
        if (ph > 12) ph = 12;
        if (ph >= 5) {
            int half = r.w / 2;
            double *sx = malloc((ri.nsteps + 1) * sizeof *sx), *sy = malloc((ri.nsteps + 1) * sizeof *sy);
            double *ex = malloc((ri.nevals + 1) * sizeof *ex), *e1 = malloc((ri.nevals + 1) * sizeof *e1),
                   *e2 = malloc((ri.nevals + 1) * sizeof *e2), *e3 = malloc((ri.nevals + 1) * sizeof *e3);
            if (sx && sy && ex && e1 && e2 && e3) {
                for (size_t i = 0; i < ri.nsteps; i++) sx[i] = (double)ri.steps[i].step, sy[i] = ri.steps[i].loss;
                for (size_t i = 0; i < ri.nevals; i++)
                    ex[i] = (double)ri.evals[i].step, e1[i] = ri.evals[i].ndcg10, e2[i] = ri.evals[i].mrr10,
                    e3[i] = ri.evals[i].recall100;
                const double *lx[1] = {sx}, *ly[1] = {sy};
                int ln[1] = {(int)ri.nsteps}, la[1] = {tui_attr(t, C_ACCEPT)};
                tui_plot(t, (tui_rect){y, r.x + 1, ph, half - 2}, "loss", lx, ly, ln, la, 1);
                const double *vx[3] = {ex, ex, ex}, *vy[3] = {e1, e2, e3};
                int vn[3] = {(int)ri.nevals, (int)ri.nevals, (int)ri.nevals};
                int va[3] = {tui_attr(t, C_ACCEPT), tui_attr(t, C_HILITE), tui_attr(t, C_SUSPECT)};
                tui_plot(t, (tui_rect){y, r.x + half, ph, r.w - half - 1}, "nDCG@10 (green)  MRR@10  R@100 (yellow)", vx, vy, vn, va, 3);
            }
            free(sx), free(sy), free(ex), free(e1), free(e2), free(e3);
            y += ph;
        }
    }
    draw_log(t, j, y, end, r);
}

static int key(tui *t, int action, int k)
{
    if (action == ACT_down) return log_back > 0 ? log_back-- : 0, TUI_REDRAW;
    if (action == ACT_up) return log_back++, TUI_REDRAW;
    if (k == 'K') {
        if (tui_job_kill(t, job) < 0) tui_err(t, "that job is not running");
        else tui_msg(t, "asked %s to stop", t->jobs[job].kind);
        return TUI_REDRAW;
    }
    if (action == ACT_detail) return TUI_REDRAW;   /* Enter here must not open a negative */
    return TUI_UNHANDLED;
}

static void close_run(tui *t)
{
    (void)t;
    if (have_ri) runinfo_free(&ri);
    have_ri = 0;
}

const tui_pane pane_run = {"run", NULL, draw, key, close_run};
