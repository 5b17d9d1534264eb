/* runs: run folders, status files, progress logs, listing, cancel.
 * Contract in runs.h. */
#include "runs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int valid_id(const char *id)
{
    if (!id || !*id || strlen(id) >= sizeof ((run_status *)0)->id) return 0;
    for (const char *p = id; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return id[0] != '.';
}

char *runs_create(const char *session_dir, const char *tag, char **id_out, sy_err *err)
{
    char *root = sy_path_join(session_dir, "runs");
    if (!root) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    if (sy_mkdir_p(root, err)) { free(root); return NULL; }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    char id[96];
    for (int n = 1; n < 1000; n++) {
        if (n == 1) snprintf(id, sizeof id, "%s-%s", stamp, tag && *tag ? tag : "run");
        else snprintf(id, sizeof id, "%s-%s-%d", stamp, tag && *tag ? tag : "run", n);
        char *dir = sy_path_join(root, id);
        if (!dir) break;
        if (mkdir(dir, 0755) == 0) {
            free(root);
            if (id_out) *id_out = strdup(id);
            return dir;
        }
        int e = errno;
        free(dir);
        if (e != EEXIST) {
            sy_fail_errno(err, e, "%s/%s: cannot create the run folder", root, id);
            free(root);
            return NULL;
        }
    }
    sy_fail(err, SY_EEXIST, "%s: cannot find a free run id", root);
    free(root);
    return NULL;
}

char *runs_find(const char *session_dir, const char *id, sy_err *err)
{
    if (!valid_id(id)) {
        sy_fail(err, SY_EINVAL, "'%s' is not a run id; 'syneg runs %s' lists them", id ? id : "",
                session_dir);
        return NULL;
    }
    char *dir = sy_strdup_printf("%s/runs/%s", session_dir, id);
    if (!dir) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    if (!sy_is_dir(dir)) {
        sy_fail(err, SY_ENOTFOUND, "%s: no such run; 'syneg runs %s' lists them", dir, session_dir);
        free(dir);
        return NULL;
    }
    return dir;
}

int runs_state_final(const char *state)
{
    return strcmp(state, "running") != 0;
}

int runs_write_status(const char *run_dir, const run_status *st, sy_err *err)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}",
                          "format", RUNS_STATUS_FORMAT, "version", RUNS_STATUS_VERSION,
                          "id", st->id, "state", st->state, "pid", (json_int_t)st->pid,
                          "step", (json_int_t)st->step, "total", (json_int_t)st->total,
                          "epoch", (json_int_t)st->epoch, "updated", st->updated,
                          "message", st->message);
    if (!o) return sy_fail(err, SY_ENOMEM, "out of memory");
    /* who the pid is, taken now: a later reader can tell a reused pid */
    char tok[80] = "";
    if (st->pid > 0 && sy_proc_token(st->pid, tok, sizeof tok) == 0)
        json_object_set_new(o, "pid_start", json_string(tok));
    json_object_set_new(o, "checkpoint",
                        st->checkpoint[0] ? json_string(st->checkpoint) : json_null());
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return sy_fail(err, SY_ENOMEM, "out of memory");
    char *path = sy_path_join(run_dir, "status.json");
    size_t n = strlen(s);
    s[n] = '\0';
    int rc = path ? sy_write_file_atomic(path, s, n, err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(path);
    free(s);
    return rc;
}

/* Alive and not a zombie (a killed detached run whose parent is gone may
 * linger unreaped where nothing reaps orphans). */
static int pid_alive(long pid)
{
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

static void copy_str(char *dst, size_t n, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    snprintf(dst, n, "%s", s);
}

int runs_read_status(const char *run_dir, run_status *st, sy_err *err)
{
    memset(st, 0, sizeof *st);
    const char *slash = strrchr(run_dir, '/');
    snprintf(st->id, sizeof st->id, "%s", slash ? slash + 1 : run_dir);
    char *path = sy_path_join(run_dir, "status.json");
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        int rc = sy_fail(err, sy_file_exists(path) ? SY_EPARSE : SY_ENOTFOUND,
                         "%s:%d: %s; the run may have died before its first status", path,
                         je.line, je.text);
        free(path);
        return rc;
    }
    free(path);
    if (json_is_string(json_object_get(o, "id"))) copy_str(st->id, sizeof st->id, json_object_get(o, "id"));
    copy_str(st->state, sizeof st->state, json_object_get(o, "state"));
    copy_str(st->updated, sizeof st->updated, json_object_get(o, "updated"));
    copy_str(st->checkpoint, sizeof st->checkpoint, json_object_get(o, "checkpoint"));
    copy_str(st->message, sizeof st->message, json_object_get(o, "message"));
    st->pid = (long)json_integer_value(json_object_get(o, "pid"));
    copy_str(st->pid_start, sizeof st->pid_start, json_object_get(o, "pid_start"));
    st->step = (long)json_integer_value(json_object_get(o, "step"));
    st->total = (long)json_integer_value(json_object_get(o, "total"));
    st->epoch = (long)json_integer_value(json_object_get(o, "epoch"));
    json_decref(o);
    char tok[80];
    if (strcmp(st->state, "running") == 0 &&
        (!pid_alive(st->pid) ||
         (st->pid_start[0] && (sy_proc_token(st->pid, tok, sizeof tok) < 0 || strcmp(tok, st->pid_start)))))
        snprintf(st->state, sizeof st->state, "killed");
    return 0;
}

int runs_log(const char *run_dir, const char *json_line, sy_err *err)
{
    char *path = sy_path_join(run_dir, "progress.jsonl");
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = sy_fail_errno(err, errno, "%s: cannot open", path);
        free(path);
        return rc;
    }
    size_t n = strlen(json_line);
    char *line = malloc(n + 2);
    if (!line) { close(fd); free(path); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    memcpy(line, json_line, n);
    line[n] = '\n';
    int rc = 0;
    if (sy_write_all(fd, line, n + 1) < 0) rc = sy_fail_errno(err, errno, "%s: cannot append", path);
    close(fd);
    free(line);
    free(path);
    return rc;
}

static int cmp_status(const void *a, const void *b)
{
    return strcmp(((const run_status *)a)->id, ((const run_status *)b)->id);
}

int runs_list(const char *session_dir, run_status **out, size_t *n, sy_err *err)
{
    *out = NULL;
    *n = 0;
    char *root = sy_path_join(session_dir, "runs");
    if (!root) return sy_fail(err, SY_ENOMEM, "out of memory");
    DIR *d = opendir(root);
    if (!d) {
        int e = errno;
        free(root);
        if (e == ENOENT) return 0;
        return sy_fail_errno(err, e, "%s/runs: cannot list", session_dir);
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!valid_id(de->d_name)) continue;
        char *dir = sy_path_join(root, de->d_name);
        if (!dir) { rc = sy_fail(err, SY_ENOMEM, "out of memory"); break; }
        if (!sy_is_dir(dir)) { free(dir); continue; }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            run_status *p = realloc(*out, cap * sizeof *p);
            if (!p) { free(dir); rc = sy_fail(err, SY_ENOMEM, "out of memory"); break; }
            *out = p;
        }
        run_status *st = &(*out)[*n];
        if (runs_read_status(dir, st, NULL) < 0) {
            /* a folder without a readable status: show it rather than hide it */
            memset(st, 0, sizeof *st);
            snprintf(st->id, sizeof st->id, "%.95s", de->d_name);
            snprintf(st->state, sizeof st->state, "unknown");
            snprintf(st->message, sizeof st->message, "no readable status.json");
        }
        (*n)++;
        free(dir);
    }
    closedir(d);
    free(root);
    if (rc) { free(*out); *out = NULL; *n = 0; return rc; }
    if (*n > 1) qsort(*out, *n, sizeof **out, cmp_status); /* *out may be NULL when empty */
    return 0;
}

int runs_cancel(const char *session_dir, const char *id, sy_err *err)
{
    char *dir = runs_find(session_dir, id, err);
    if (!dir) return -1;
    run_status st;
    if (runs_read_status(dir, &st, err) < 0) { free(dir); return -1; }
    if (strcmp(st.state, "running") != 0) {
        free(dir);
        return sy_fail(err, SY_EINVAL, "run %s is %s, not running; nothing to cancel", id, st.state);
    }
    char *flag = sy_path_join(dir, "cancel");
    int rc = 0;
    if (!flag || sy_write_file_atomic(flag, "cancel\n", 7, err) < 0) rc = -1;
    /* signal only the process that wrote the status (a reused pid or a copied
     * session names someone else); without a recorded identity the run still
     * sees the cancel file at its next step */
    if (!rc && st.pid_start[0] && sy_proc_signal(st.pid, st.pid_start, SIGTERM) < 0 && errno != ESRCH)
        rc = sy_fail_errno(err, errno, "run %s: cannot signal process %ld", id, st.pid);
    free(flag);
    free(dir);
    return rc;
}

int runs_cancel_requested(const char *run_dir)
{
    char *flag = sy_path_join(run_dir, "cancel");
    int r = flag && sy_file_exists(flag);
    free(flag);
    return r;
}

void runs_clear_cancel(const char *run_dir)
{
    char *flag = sy_path_join(run_dir, "cancel");
    if (flag) unlink(flag);
    free(flag);
}

int runs_read_progress(const char *run_dir, size_t *offset, sy_buf *out, sy_err *err)
{
    char *path = sy_path_join(run_dir, "progress.jsonl");
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(path);
        return e == ENOENT ? 0 : sy_fail_errno(err, e, "%s/progress.jsonl: cannot open", run_dir);
    }
    free(path);
    if (lseek(fd, (off_t)*offset, SEEK_SET) < 0) { close(fd); return 0; }
    size_t start = out->len;
    char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (sy_buf_append(out, buf, (size_t)r)) { close(fd); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    }
    close(fd);
    /* keep complete lines only */
    size_t end = out->len;
    while (end > start && out->data[end - 1] != '\n') end--;
    *offset += end - start;
    out->len = end;
    if (out->data) out->data[end] = '\0';
    return 0;
}

int runs_format_progress(const char *json_line, long total, sy_buf *out)
{
    json_t *j = json_loads(json_line, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return sy_buf_puts(out, json_line);
    }
    long step = (long)json_integer_value(json_object_get(j, "step"));
    json_t *ev = json_object_get(j, "eval");
    int rc;
    if (json_is_object(ev)) {
        char docs[48] = "";
        if (json_integer_value(json_object_get(ev, "docs")))
            snprintf(docs, sizeof docs, ", %lld docs", (long long)json_integer_value(json_object_get(ev, "docs")));
        rc = sy_buf_printf(out, "eval @ step %ld (%s, %lld queries%s): nDCG@10 %.4f  MRR@10 %.4f  R@100 %.4f%s",
                           step, json_string_value(json_object_get(ev, "split")) ? json_string_value(json_object_get(ev, "split")) : "?",
                           (long long)json_integer_value(json_object_get(ev, "queries")), docs,
                           json_number_value(json_object_get(ev, "ndcg@10")),
                           json_number_value(json_object_get(ev, "mrr@10")),
                           json_number_value(json_object_get(ev, "recall@100")),
                           json_is_true(json_object_get(j, "final")) ? "  (final)" : "");
    } else if (json_object_get(j, "loss")) {
        char tot[32] = "";
        if (total > 0) snprintf(tot, sizeof tot, "/%ld", total);
        rc = sy_buf_printf(out, "step %ld%s  epoch %lld  loss %.4f  acc %.3f  lr %.3g  |g| %.3g  %.1f seq/s",
                           step, tot, (long long)json_integer_value(json_object_get(j, "epoch")),
                           json_number_value(json_object_get(j, "loss")),
                           json_number_value(json_object_get(j, "acc")),
                           json_number_value(json_object_get(j, "lr")),
                           json_number_value(json_object_get(j, "grad_norm")),
                           json_number_value(json_object_get(j, "seq_s")));
    } else if (json_is_object(json_object_get(j, "data"))) {
        json_t *d = json_object_get(j, "data");
        rc = sy_buf_printf(out, "data: %lld instances, batch %lld, group %lld, %lld steps/epoch, %lld steps; model %s (%lld parameters, %s pooling)",
                           (long long)json_integer_value(json_object_get(d, "instances")),
                           (long long)json_integer_value(json_object_get(d, "batch")),
                           (long long)json_integer_value(json_object_get(d, "group")),
                           (long long)json_integer_value(json_object_get(d, "steps_per_epoch")),
                           (long long)json_integer_value(json_object_get(d, "total_steps")),
                           json_string_value(json_object_get(d, "model")) ? json_string_value(json_object_get(d, "model")) : "?",
                           (long long)json_integer_value(json_object_get(d, "params")),
                           json_string_value(json_object_get(d, "pooling")) ? json_string_value(json_object_get(d, "pooling")) : "?");
        const char *prec = json_string_value(json_object_get(d, "precision"));
        if (!rc && prec) rc = sy_buf_printf(out, ", %s products", prec);
        json_t *pool = json_object_get(d, "pool");
        const char *k;
        json_t *v;
        int first = 1;
        if (!rc && json_is_object(pool))
            json_object_foreach(pool, k, v) {
                rc |= sy_buf_printf(out, "%s%s %lld", first ? "; pool: " : ", ", k, (long long)json_integer_value(v));
                first = 0;
            }
        if (!rc && json_integer_value(json_object_get(d, "skipped_no_negatives")))
            rc = sy_buf_printf(out, "; %lld (query, positive) pairs skipped: no negatives",
                               (long long)json_integer_value(json_object_get(d, "skipped_no_negatives")));
    } else if (json_is_object(json_object_get(j, "drawn"))) {
        rc = sy_buf_printf(out, "epoch %lld negatives drawn:", (long long)json_integer_value(json_object_get(j, "epoch")));
        const char *k;
        json_t *v;
        int first = 1;
        json_object_foreach(json_object_get(j, "drawn"), k, v) {
            rc |= sy_buf_printf(out, "%s %s %lld", first ? "" : ",", k, (long long)json_integer_value(v));
            first = 0;
        }
        rc |= sy_buf_printf(out, "; fills %lld, repeats %lld", (long long)json_integer_value(json_object_get(j, "fills")),
                            (long long)json_integer_value(json_object_get(j, "repeats")));
    } else if (json_is_string(json_object_get(j, "resumed"))) {
        rc = sy_buf_printf(out, "resumed at step %ld from %s", step, json_string_value(json_object_get(j, "resumed")));
    } else if (json_is_true(json_object_get(j, "cancelled"))) {
        rc = sy_buf_printf(out, "cancelled at step %ld", step);
    } else {
        rc = sy_buf_puts(out, json_line);
    }
    json_decref(j);
    return rc;
}

struct json_t *runs_last_eval(const char *run_dir)
{
    size_t off = 0;
    sy_buf b = { 0 };
    if (runs_read_progress(run_dir, &off, &b, NULL) < 0 || !b.len) { sy_buf_free(&b); return NULL; }
    json_t *last = NULL;
    char *save = NULL;
    for (char *line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strstr(line, "\"eval\"")) continue;
        json_t *j = json_loads(line, 0, NULL);
        json_t *ev = json_object_get(j, "eval");
        if (json_is_object(ev)) {
            json_decref(last);
            last = json_incref(ev);
            json_object_set(last, "step", json_object_get(j, "step"));
        }
        json_decref(j);
    }
    sy_buf_free(&b);
    return last;
}
