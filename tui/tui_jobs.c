/* tui_jobs: long work as child processes, never in the keyboard loop.
 *
 * A job is `syneg KIND SESSION ARGS...` run from /proc/self/exe in its own
 * process group, with stdout and stderr appended to SESSION/jobs/ID/log and
 * SYNEG_PROGRESS=1 in its environment, so cli_progress writes lines
 *   progress: WHAT DONE/TOTAL EXTRA
 * there.  The main loop reads new log bytes every 200 ms while jobs run,
 * keeps the last progress figures (rate and ETA from their change) and the
 * last other line, and collects `loss=` values for a sparkline.  A job's
 * folder also holds `cmd` (its command line), `pid`, and `status` (exit code,
 * written when it ends while the workbench watches).  Jobs started elsewhere
 * (or by an earlier workbench) are found on disk by tui_jobs_scan.  Jobs write
 * their own files (new negative segments, run folders); the store picks them
 * up by neg_store_refresh, so a job never fights the workbench for a file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../engine/llm.h"
#include "../engine/runs.h"
#include "../engine/synth.h"
#include "tui.h"

static void write_small(const char *dir, const char *name, const char *text)
{
    char *p = sy_path_join(dir, name);
    if (p) sy_write_file_atomic(p, text, strlen(text), NULL);
    free(p);
}

static char *read_small(const char *dir, const char *name)
{
    char *p = sy_path_join(dir, name);
    size_t n;
    char *s = p ? sy_read_file(p, &n, NULL) : NULL;
    free(p);
    if (s) s[strcspn(s, "\n")] = 0;
    return s;
}

extern char **environ;

/* the job's environment: ours, with SYNEG_PROGRESS=1 and SYNEG_JOB_DIR=dir
 * (and SYNEG_JOB_DETACHED=1: the job ignores SIGHUP); NULL on ENOMEM */
static char **job_env(const char *dir, int detached)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 4, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SYNEG_PROGRESS=", 15) && strncmp(environ[i], "SYNEG_JOB_DIR=", 14) &&
            strncmp(environ[i], "SYNEG_JOB_DETACHED=", 19))
            env[k++] = strdup(environ[i]);
    env[k++] = strdup("SYNEG_PROGRESS=1");
    env[k++] = sy_strdup_printf("SYNEG_JOB_DIR=%s", dir);
    if (detached) env[k++] = strdup("SYNEG_JOB_DETACHED=1");
    for (size_t i = 0; i < k; i++)
        if (!env[i]) {
            for (size_t j = 0; j < k; j++) free(env[j]);
            free(env);
            return NULL;
        }
    return env;
}

static void free_env(char **env)
{
    if (!env) return;
    for (size_t i = 0; env[i]; i++) free(env[i]);
    free(env);
}

static tui_job *new_slot(tui *t)
{
    if (t->njobs == TUI_MAX_JOBS) {   /* forget the oldest finished job */
        int i = 0;
        while (i < t->njobs && t->jobs[i].running) i++;
        if (i == t->njobs) return NULL;
        free(t->jobs[i].dir), free(t->jobs[i].kind), free(t->jobs[i].args), free(t->jobs[i].run_dir);
        memmove(&t->jobs[i], &t->jobs[i + 1], (size_t)(t->njobs - i - 1) * sizeof t->jobs[0]);
        t->njobs--;
    }
    tui_job *j = &t->jobs[t->njobs++];
    memset(j, 0, sizeof *j);
    j->status = -1;
    return j;
}

int tui_job_start(tui *t, const char *kind, int argc, char **argv, int detached, sy_err *err)
{
    char *dir = session_new_job_dir(t->s, kind, err);
    if (!dir) return -1;
    sy_buf cmd = {0};
    sy_buf_printf(&cmd, "syneg %s %s", kind, session_dir(t->s));
    for (int i = 0; i < argc; i++) sy_buf_printf(&cmd, " %s", argv[i]);
    tui_job *j = new_slot(t);
    if (!j) {
        free(dir);
        sy_buf_free(&cmd);
        return sy_fail(err, SY_EINVAL, "%d jobs are running already; wait or :kill-job", TUI_MAX_JOBS);
    }
    write_small(dir, "cmd", cmd.data);
    char *log = sy_path_join(dir, "log");
    int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    free(log);
    if (fd < 0) {
        t->njobs--;
        sy_buf_free(&cmd);
        int e = errno;
        sy_fail_errno(err, e, "%s/log: cannot create the job log", dir);
        free(dir);
        return -1;
    }
    char **av = calloc((size_t)argc + 4, sizeof *av);
    char **env = job_env(dir, detached);
    pid_t pid = -1;
    int e = ENOMEM;
    if (av && env) {
        av[0] = "syneg";
        av[1] = (char *)kind;
        av[2] = (char *)session_dir(t->s);
        for (int i = 0; i < argc; i++) av[3 + i] = argv[i];
        /* posix_spawn, not fork + setenv: the workbench has worker threads
         * (regenerate), and only async-signal-safe calls are allowed between
         * fork and exec in a threaded process.  Its own session (setsid): ^C in
         * the workbench or closing its terminal leaves the job running. */
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, fd, 1);
        posix_spawn_file_actions_adddup2(&fa, fd, 2);
        posix_spawnattr_init(&at);
        sigset_t def, none;
        sigemptyset(&def);
        sigaddset(&def, SIGPIPE), sigaddset(&def, SIGINT), sigaddset(&def, SIGTERM), sigaddset(&def, SIGHUP);
        sigemptyset(&none);
        posix_spawnattr_setsigdefault(&at, &def);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        e = posix_spawn(&pid, t->exe, &fa, &at, av, env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (e) pid = -1;
    }
    free(av);
    free_env(env);
    close(fd);
    if (pid < 0) {
        t->njobs--;
        sy_buf_free(&cmd);
        sy_fail_errno(err, e, "cannot start the %s job (%s)", kind, t->exe);
        free(dir);
        return -1;
    }
    char pidbuf[128], tok[80] = "";
    sy_proc_token((long)pid, tok, sizeof tok);   /* who it is: a later workbench checks before a kill */
    snprintf(pidbuf, sizeof pidbuf, "%ld %s\n", (long)pid, tok);
    write_small(dir, "pid", pidbuf);
    j->dir = dir;
    j->kind = strdup(kind);
    j->args = cmd.data;
    j->pid = pid;
    j->running = 1;
    j->started = j->last_t = sy_now();
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--query")) snprintf(j->query, sizeof j->query, "%s", argv[i + 1]);
    return 0;
}

int tui_regen_start(tui *t, const char *qid, sy_err *err)
{
    synth_opts o;
    synth_opts_defaults(&o);
    o.offline = t->offline;
    /* rows of this query from later segments will be marked new */
    uint64_t newest = 0;
    size_t n;
    const neg_ref *refs = neg_store_query(t->ns, qid, &n);
    for (size_t i = 0; i < n; i++) {
        neg_row r;
        neg_store_get(t->ns, refs[i], &r);
        if (r.seq > newest) newest = r.seq;
    }
    /* the worker thread's LLM client needs libcurl initialised, and that
     * must happen on the main thread (llm.h) */
    if (llm_global_init(err) < 0) return -1;
    synth_job *w = synth_regen_start(t->s, qid, NULL, 0, &o, err);
    if (!w) return -1;
    snprintf(t->new_qid, sizeof t->new_qid, "%s", qid);
    t->new_seq = newest;
    tui_job *j = new_slot(t);
    if (!j) {
        synth_job_free(w);
        return sy_fail(err, SY_EINVAL, "%d jobs are running already; wait or :kill-job", TUI_MAX_JOBS);
    }
    j->worker = w;
    j->kind = strdup("regen");
    j->args = sy_strdup_printf("regenerate %s (%s, current attributes)", qid, t->offline ? "offline generator" : "LLM");
    j->running = 1;
    j->started = j->last_t = sy_now();
    snprintf(j->query, sizeof j->query, "%s", qid);
    return 0;
}

static int poll_worker(tui *t, tui_job *j)
{
    synth_progress p;
    memset(&p, 0, sizeof p);
    int r = synth_job_poll(j->worker, &p);
    j->done = (double)p.queries_done;
    j->total = (double)(p.queries_total ? p.queries_total : 1);
    snprintf(j->extra, sizeof j->extra, "%zu negatives, %zu suspects, $%.4f%s", p.negatives, p.suspects, p.cost_usd,
             p.offline ? " (offline)" : "");
    if (r == 0) return 0;
    t->spent += p.cost_usd - j->cost;
    j->cost = p.cost_usd;
    j->status = r > 0 ? 0 : 1;
    if (r < 0) {
        const char *e = synth_job_error(j->worker);
        snprintf(j->last, sizeof j->last, "%s", e ? e : "failed");
    }
    synth_job_free(j->worker);
    j->worker = NULL;
    return 1;
}

/* ---- training runs (runs.h): found on disk, followed through their files ---- */

/* progress.jsonl is the run's live record: status.json is rewritten only every
 * 10 steps, so the step (and the rate and ETA from it) come from here */
static void read_progress(tui_job *j)
{
    sy_buf b = {0};
    if (runs_read_progress(j->run_dir, &j->prog_off, &b, NULL) < 0 || !b.data) {
        sy_buf_free(&b);
        return;
    }
    for (char *line = b.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        json_t *o = json_loads(line, 0, NULL);
        json_t *loss = json_object_get(o, "loss"), *step = json_object_get(o, "step"), *d = json_object_get(o, "data");
        if (json_is_object(d) && json_is_integer(json_object_get(d, "total_steps")))
            j->total = (double)json_integer_value(json_object_get(d, "total_steps"));
        if (json_is_number(loss) && json_is_integer(step)) {
            long s = (long)json_integer_value(step);
            double now = sy_now();
            if (s > j->step && j->step > 0 && now > j->last_t) {
                double r = (double)(s - j->step) / (now - j->last_t);
                j->rate = j->rate > 0 ? 0.7 * j->rate + 0.3 * r : r;
            }
            if (s > j->step) j->last_t = now;
            j->step = s;
            if (j->done < s) j->done = (double)s;
        }
        if (json_is_number(loss)) {
            if (j->nhist == 64) memmove(j->hist, j->hist + 1, 63 * sizeof j->hist[0]), j->nhist--;
            j->hist[j->nhist++] = (float)json_number_value(loss);
        }
        sy_buf txt = {0};
        if (runs_format_progress(line, (long)j->total, &txt) == 0 && txt.data) {
            if (json_object_get(o, "eval")) snprintf(j->eval, sizeof j->eval, "%s", txt.data);
            else snprintf(j->extra, sizeof j->extra, "%s", txt.data);
        }
        sy_buf_free(&txt);
        json_decref(o);
    }
    sy_buf_free(&b);
}

void tui_runs_scan(tui *t)
{
    /* only when there is a run (runs_list qsorts a NULL array when there is none) */
    char *root = session_path(t->s, "runs");
    DIR *d = root ? opendir(root) : NULL;
    free(root);
    if (!d) return;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d))) any = e->d_name[0] != '.';
    closedir(d);
    if (!any) return;
    run_status *rs = NULL;
    size_t n = 0;
    if (runs_list(session_dir(t->s), &rs, &n, NULL) < 0) return;
    for (size_t i = n > 8 ? n - 8 : 0; i < n; i++) {
        char *dir = sy_strdup_printf("%s/runs/%s", session_dir(t->s), rs[i].id);
        int known = 0;
        for (int k = 0; k < t->njobs && !known; k++) known = t->jobs[k].run_dir && !strcmp(t->jobs[k].run_dir, dir);
        tui_job *j = known ? NULL : new_slot(t);
        if (!j) {
            free(dir);
            continue;
        }
        j->run_dir = dir;
        j->kind = strdup("run");
        j->args = sy_strdup_printf("training run %s", rs[i].id);
        j->running = !runs_state_final(rs[i].state);
        j->status = !strcmp(rs[i].state, "done") ? 0 : j->running ? -1 : 1;
        snprintf(j->state, sizeof j->state, "%s", rs[i].state);
        j->done = (double)rs[i].step;
        j->total = (double)rs[i].total;
        j->started = j->last_t = sy_now();
        j->last_done = j->done;
        snprintf(j->last, sizeof j->last, "%s%s%s", rs[i].state, rs[i].message[0] ? ": " : "", rs[i].message);
        read_progress(j);   /* the loss curve and last evaluation so far */
    }
    free(rs);
}

static int poll_run(tui_job *j)
{
    run_status st;
    read_progress(j);
    if (runs_read_status(j->run_dir, &st, NULL) < 0) return 0;
    j->done = (double)(st.step > j->step ? st.step : j->step);
    if (st.total > 0) j->total = (double)st.total;
    snprintf(j->state, sizeof j->state, "%s", st.state);
    snprintf(j->what, sizeof j->what, "steps");
    if (!runs_state_final(st.state)) return 0;
    j->status = !strcmp(st.state, "done") ? 0 : 1;
    snprintf(j->last, sizeof j->last, "%s%s%s", st.state, st.message[0] ? ": " : "", st.message);
    return 1;
}

static void parse_line(tui_job *j, char *line)
{
    char *cr = strrchr(line, '\r');   /* a terminal-style progress line: keep the last frame */
    if (cr) line = cr + 1;
    while (*line == ' ') line++;
    if (!*line) return;
    /* `syneg train` names its run first: the job follows that run (one row, not two) */
    if (!j->run_dir && j->kind && !strcmp(j->kind, "train") && !strncmp(line, "run ", 4)) {
        const char *open = strchr(line, '('), *close = open ? strrchr(open, ')') : NULL;
        if (open && close && close > open + 1) j->run_dir = sy_strdup_printf("%.*s", (int)(close - open - 1), open + 1);
    }
    if (!strncmp(line, "progress: ", 10)) {
        char what[64] = "", extra[128] = "";
        double done, total;
        int n = sscanf(line + 10, "%63s %lf/%lf %127[^\n]", what, &done, &total, extra);
        if (n >= 3) {
            double now = sy_now();
            if (now > j->last_t + 0.5 && done >= j->last_done) {
                double r = (done - j->last_done) / (now - j->last_t);
                j->rate = j->rate > 0 ? 0.7 * j->rate + 0.3 * r : r;
                j->last_t = now;
                j->last_done = done;
            }
            snprintf(j->what, sizeof j->what, "%s", what);
            j->done = done;
            j->total = total;
            snprintf(j->extra, sizeof j->extra, "%s", n == 4 ? extra : "");
        }
    } else {
        size_t n = strlen(line) < sizeof j->last - 1 ? strlen(line) : sizeof j->last - 1;
        memcpy(j->last, line, n);
        j->last[n] = 0;
    }
    const char *l = strstr(line, "loss=");
    if (!l) l = strstr(line, "loss ");
    if (l) {
        char *end;
        double v = strtod(l + 5, &end);
        if (end != l + 5) {
            if (j->nhist == 64) memmove(j->hist, j->hist + 1, 63 * sizeof j->hist[0]), j->nhist--;
            j->hist[j->nhist++] = (float)v;
        }
    }
}

static void read_log(tui_job *j)
{
    char *path = sy_path_join(j->dir, "log");
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    free(path);
    if (fd < 0) return;
    char buf[8192];
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf - 1, j->log_off);
        if (n <= 0) break;
        buf[n] = 0;
        char *start = buf, *nl;
        size_t used = 0;
        while ((nl = memchr(start, '\n', (size_t)(buf + n - start)))) {
            *nl = 0;
            parse_line(j, start);
            used += (size_t)(nl - start) + 1;
            start = nl + 1;
        }
        if (used == 0 && n == (ssize_t)sizeof buf - 1) used = (size_t)n;   /* an overlong line: skip it */
        j->log_off += (off_t)used;
        if ((size_t)n < sizeof buf - 1) break;
    }
    close(fd);
}

/* a run listed on its own and followed by a train job: keep the job's row */
static void drop_duplicate_run(tui *t, int *i)
{
    tui_job *j = &t->jobs[*i];
    if (!j->run_dir || !j->dir) return;
    for (int k = 0; k < t->njobs; k++) {
        tui_job *o = &t->jobs[k];
        if (k == *i || o->dir || !o->run_dir || strcmp(o->run_dir, j->run_dir)) continue;
        free(o->kind), free(o->args), free(o->run_dir);
        memmove(&t->jobs[k], &t->jobs[k + 1], (size_t)(t->njobs - k - 1) * sizeof t->jobs[0]);
        t->njobs--;
        if (k < *i) (*i)--;
        return;
    }
}

int tui_jobs_poll(tui *t)
{
    int flags = 0;
    for (int i = 0; i < t->njobs; i++) {
        tui_job *j = &t->jobs[i];
        if (!j->running) continue;
        int st;
        if (j->dir && !j->worker) {
            read_log(j);
            drop_duplicate_run(t, &i);
            j = &t->jobs[i];
        }
        if (j->worker) {
            if (!poll_worker(t, j)) continue;
        } else if (j->run_dir && !j->dir) {
            if (!poll_run(j)) continue;
        } else if ((j->run_dir ? (void)poll_run(j) : (void)0), j->pid > 0) {
            pid_t r = waitpid((pid_t)j->pid, &st, WNOHANG);
            if (r == 0) continue;
            j->status = r < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        } else if (j->pid < 0 && kill((pid_t)-j->pid, 0) == 0) {
            continue;   /* found on disk, still alive */
        }
        if (j->dir) read_log(j);
        if (j->run_dir) read_progress(j);
        j->running = 0;
        j->ended = sy_now();
        char sb[32];
        snprintf(sb, sizeof sb, "%d\n", j->status);
        if (j->pid > 0 && j->dir) write_small(j->dir, "status", sb);
        size_t before = t->ns ? neg_store_count(t->ns) : 0;
        flags |= tui_refresh_store(t) | TUI_REDRAW;
        size_t after = t->ns ? neg_store_count(t->ns) : 0;
        if (j->run_dir && j->dir) poll_run(j);   /* the run's own final state and reason */
        if (j->run_dir && j->state[0] && strcmp(j->state, "running")) j->status = !strcmp(j->state, "done") ? 0 : 1;
        int stopped = j->cancelled || !strcmp(j->state, "cancelled");
        if (j->run_dir)
            j->status == 0 ? tui_msg(t, "training run finished: %s", j->eval[0] ? j->eval : j->last)
            : stopped      ? tui_msg(t, "training run cancelled at step %.0f; resume with :train --resume ID", j->done)
                           : tui_err(t, "training run %s", j->last);
        else if (stopped)
            tui_msg(t, "%s cancelled", j->kind);
        else if (j->status == 0)
            tui_msg(t, "%s finished%s%s: %zd negatives added or replaced%s", j->kind, j->query[0] ? " for " : "", j->query,
                    (ssize_t)(after - before), after == before ? " (see J for its log)" : "");
        else
            tui_err(t, "%s failed (exit %d): %s", j->kind, j->status, j->last[0] ? j->last : "see J for its log");
    }
    return flags;
}

int tui_jobs_running(const tui *t)
{
    int n = 0;
    for (int i = 0; i < t->njobs; i++) n += t->jobs[i].running;
    return n;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void tui_jobs_scan(tui *t)
{
    char *root = session_path(t->s, "jobs");
    DIR *d = root ? opendir(root) : NULL;
    if (!d) {
        free(root);
        return;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_name);
    for (int i = n > 8 ? n - 8 : 0; i < n; i++) {   /* the last few, oldest first */
        char *dir = sy_path_join(root, names[i]);
        char *cmd = read_small(dir, "cmd");
        if (!cmd) {
            free(dir);
            continue;
        }
        tui_job *j = new_slot(t);
        if (!j) {
            free(dir), free(cmd);
            break;
        }
        j->dir = dir;
        j->args = cmd;
        char kind[32] = "job";
        sscanf(cmd, "syneg %31s", kind);
        j->kind = strdup(kind);
        char *pid = read_small(dir, "pid"), *st = read_small(dir, "status");
        long p = pid ? atol(pid) : 0;
        j->status = st ? atoi(st) : -1;
        const char *tok = pid ? pid + strcspn(pid, " ") : "";
        char now[80];
        tok += *tok == ' ';
        /* alive AND the same process (not a reused pid or another machine's) */
        j->running = !st && p > 0 && *tok && sy_proc_token(p, now, sizeof now) == 0 && !strcmp(now, tok);
        j->pid = j->running ? -p : 0;   /* negative: not our child, watched by kill(0) */
        j->started = j->last_t = sy_now();
        read_log(j);
        free(pid), free(st);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(root);
}

int tui_job_kill(tui *t, int i)
{
    if (i < 0 || i >= t->njobs || !t->jobs[i].running) return -1;
    t->jobs[i].cancelled = 1;
    if (t->jobs[i].worker) return synth_job_cancel(t->jobs[i].worker), 0;
    if (t->jobs[i].run_dir) {
        const char *id = strrchr(t->jobs[i].run_dir, '/');
        return runs_cancel(session_dir(t->s), id ? id + 1 : t->jobs[i].run_dir, NULL);
    }
    long p = t->jobs[i].pid < 0 ? -t->jobs[i].pid : t->jobs[i].pid;
    if (t->jobs[i].pid > 0) return kill((pid_t)-p, SIGTERM);   /* our unreaped child: it is who we think */
    /* found on disk: signal its group only while its leader is the process recorded */
    char *rec = t->jobs[i].dir ? read_small(t->jobs[i].dir, "pid") : NULL;
    const char *tok = rec ? rec + strcspn(rec, " ") : "";
    tok += *tok == ' ';
    int rc = p > 0 ? sy_proc_signal(-p, tok, SIGTERM) : -1;
    free(rec);
    return rc;
}

const char *tui_job_state(tui *t, const tui_job *j, int *attr)
{
    *attr = 0;
    if (j->running) return j->cancelled ? "stopping" : "running";
    const char *st = j->state[0] && strcmp(j->state, "running") ? j->state : NULL;
    if ((st && !strcmp(st, "cancelled")) || (!st && j->cancelled)) return *attr = tui_attr(t, C_DIM), "cancelled";
    if (st && !strcmp(st, "killed")) return *attr = tui_attr(t, C_SUSPECT), "killed";
    if (st && !strcmp(st, "done")) return "done";
    if (st && !strcmp(st, "failed")) return *attr = tui_attr(t, C_REJECT), "FAILED";
    if (j->status == 0) return "done";
    if (j->status < 0) return "ended";
    return *attr = tui_attr(t, C_REJECT), "FAILED";
}

void tui_jobs_free(tui *t)
{
    for (int i = 0; i < t->njobs; i++) {
        if (t->jobs[i].worker) synth_job_free(t->jobs[i].worker);   /* cancels and joins */
        free(t->jobs[i].dir), free(t->jobs[i].kind), free(t->jobs[i].args), free(t->jobs[i].run_dir);
    }
    t->njobs = 0;
}
