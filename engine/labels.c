/* labels: the append-only, fsync'd labels journal and its snapshot.  See labels.h. */
#include "labels.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MAX_WARNINGS 16
#define AUTO_COMPACT_LINES 4096

typedef struct {
    char *key;            /* "QUERY\0NEG\0" (owned): both ids, NUL-separated */
    size_t qlen;          /* length of the query part of key */
    char *note;           /* owned, NULL when none */
    char time[32];
    int kind;
    uint64_t seq;
} entry;

struct labels {
    char *journal_path, *snap_path, *dir;
    int fd;               /* journal, O_APPEND; -1 when read-only */
    int readonly;
    entry *e;
    size_t n, cap;
    sy_strmap map;        /* key -> index into e */
    size_t counts[3];
    uint64_t seq, snap_seq;
    size_t journal_lines; /* good lines in the journal since the snapshot */
    off_t journal_size;   /* size of the journal's good prefix */
    size_t nskipped;
    struct stat seen_journal, seen_snap;  /* what load_all last read, for labels_reload */
    char *warnings[MAX_WARNINGS];
    size_t nwarn_msgs;
};

static const char *const kind_names[] = {"none", "accept", "reject"};

const char *label_kind_name(int kind)
{
    return kind >= 0 && kind <= 2 ? kind_names[kind] : "?";
}

int label_act_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "accept")) return ACT_ACCEPT;
    if (!strcmp(s, "reject")) return ACT_REJECT;
    if (!strcmp(s, "clear")) return ACT_CLEAR;
    return -1;
}

static const char *act_name(int act)
{
    return act == ACT_ACCEPT ? "accept" : act == ACT_REJECT ? "reject" : "clear";
}

static int act_kind(int act)
{
    return act == ACT_ACCEPT ? LABEL_ACCEPT : act == ACT_REJECT ? LABEL_REJECT : LABEL_NONE;
}

static void warn(labels *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(labels *l, const char *fmt, ...)
{
    l->nskipped++;
    if (l->nwarn_msgs >= MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    char *m = NULL;
    if (vasprintf(&m, fmt, ap) < 0) m = NULL;
    va_end(ap);
    if (m) l->warnings[l->nwarn_msgs++] = m;
}

static void reset_state(labels *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].key);
        free(l->e[i].note);
    }
    free(l->e);
    l->e = NULL;
    l->n = l->cap = 0;
    sy_strmap_free(&l->map);
    memset(l->counts, 0, sizeof l->counts);
    for (size_t i = 0; i < l->nwarn_msgs; i++) free(l->warnings[i]);
    l->nwarn_msgs = 0;
    l->nskipped = 0;
    l->seq = l->snap_seq = 0;
    l->journal_lines = 0;
}

/* Apply one act to the in-memory state.  0, or -1 on ENOMEM. */
static int apply(labels *l, const char *q, const char *n, int kind, const char *note,
                 const char *time, uint64_t seq)
{
    size_t ql = strlen(q), nl = strlen(n);
    char *key = malloc(ql + nl + 2);
    if (!key) return -1;
    memcpy(key, q, ql);
    key[ql] = '\0';
    memcpy(key + ql + 1, n, nl + 1);
    uint32_t idx;
    if (sy_strmap_get(&l->map, key, ql + nl + 1, &idx)) {
        free(key);
    } else {
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 64;
            entry *ne = realloc(l->e, cap * sizeof *ne);
            if (!ne) {
                free(key);
                return -1;
            }
            l->e = ne;
            l->cap = cap;
        }
        idx = (uint32_t)l->n;
        entry *e = &l->e[l->n++];
        memset(e, 0, sizeof *e);
        e->key = key;
        e->qlen = ql;
        e->kind = LABEL_NONE;
        if (sy_strmap_put(&l->map, e->key, ql + nl + 1, idx, NULL) < 0) return -1;
        l->counts[LABEL_NONE]++;
    }
    entry *e = &l->e[idx];
    l->counts[e->kind]--;
    e->kind = kind;
    l->counts[kind]++;
    free(e->note);
    e->note = note && *note ? strdup(note) : NULL;
    snprintf(e->time, sizeof e->time, "%s", time ? time : "");
    e->seq = seq;
    if (seq > l->seq) l->seq = seq;
    return 0;
}

/* Parse one line (journal or snapshot).  Returns 0 on success, -1 if malformed. */
static int parse_line(labels *l, const char *line, size_t len, int snapshot, uint64_t min_seq, int *skipped_old)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    json_t *jseq = json_object_get(o, "seq"), *jq = json_object_get(o, "q"), *jn = json_object_get(o, "n"),
           *ja = json_object_get(o, "a"), *jnote = json_object_get(o, "note"), *jt = json_object_get(o, "t");
    int act = label_act_parse(json_string_value(ja));
    if (!json_is_integer(jseq) || !json_is_string(jq) || !json_is_string(jn) || act < 0 ||
        (jnote && !json_is_string(jnote) && !json_is_null(jnote)) || !json_string_length(jq) ||
        !json_string_length(jn)) {
        json_decref(o);
        return -1;
    }
    uint64_t seq = (uint64_t)json_integer_value(jseq);
    if (!snapshot && seq <= min_seq) {
        *skipped_old = 1;   /* already folded into the snapshot */
        json_decref(o);
        return 0;
    }
    int r = apply(l, json_string_value(jq), json_string_value(jn), act_kind(act), json_string_value(jnote),
                  json_string_value(jt), seq);
    json_decref(o);
    return r;
}

static int load_snapshot(labels *l, sy_err *err)
{
    if (!sy_file_exists(l->snap_path)) return 0;
    size_t len;
    char *buf = sy_read_file(l->snap_path, &len, err);
    if (!buf) return -1;
    char *p = buf, *end = buf + len;
    size_t lineno = 0;
    int header = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (!header) {
            json_t *h = json_loadb(p, ll, 0, NULL);
            const char *fmt = json_string_value(json_object_get(h, "format"));
            json_int_t ver = json_integer_value(json_object_get(h, "version"));
            if (!fmt || strcmp(fmt, "syneg-labels-snapshot") || ver != 1) {
                json_decref(h);
                free(buf);
                return sy_fail(err, SY_EFORMAT,
                               "%s:1: not a syneg labels snapshot of version 1; the journal labels.jsonl is "
                               "untouched, move this file aside to open the session",
                               l->snap_path);
            }
            l->snap_seq = (uint64_t)json_integer_value(json_object_get(h, "seq"));
            json_decref(h);
            header = 1;
        } else if (ll > 0) {
            int dummy = 0;
            if (parse_line(l, p, ll, 1, 0, &dummy) < 0)
                warn(l, "%s:%zu: malformed snapshot line skipped", l->snap_path, lineno);
        }
        p = nl ? nl + 1 : end;
    }
    free(buf);
    if (l->snap_seq > l->seq) l->seq = l->snap_seq;
    return 0;
}

/* Replay the journal; sets l->journal_size to the end of the last complete line. */
static int load_journal(labels *l, sy_err *err)
{
    l->journal_size = 0;
    if (!sy_file_exists(l->journal_path)) return 0;
    size_t len;
    char *buf = sy_read_file(l->journal_path, &len, err);
    if (!buf) return -1;
    char *p = buf, *end = buf + len;
    size_t lineno = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        lineno++;
        if (!nl) {
            warn(l, "%s:%zu: torn last line (%zu bytes, no newline) skipped: it was never acknowledged",
                 l->journal_path, lineno, (size_t)(end - p));
            break;
        }
        size_t ll = (size_t)(nl - p);
        if (ll > 0) {
            int old = 0;
            if (parse_line(l, p, ll, 0, l->snap_seq, &old) < 0)
                warn(l, "%s:%zu: malformed journal line skipped", l->journal_path, lineno);
            else if (!old)
                l->journal_lines++;
        }
        p = nl + 1;
        l->journal_size = (off_t)(p - buf);
    }
    free(buf);
    return 0;
}

static void stat_or_zero(const char *path, struct stat *st)
{
    if (stat(path, st) < 0) memset(st, 0, sizeof *st);
}

static int load_all(labels *l, sy_err *err)
{
    stat_or_zero(l->journal_path, &l->seen_journal);
    stat_or_zero(l->snap_path, &l->seen_snap);
    reset_state(l);
    if (sy_strmap_init(&l->map, 1024)) return sy_fail(err, SY_ENOMEM, "out of memory");
    if (load_snapshot(l, err) < 0 || load_journal(l, err) < 0) return -1;
    return 0;
}

labels *labels_open(const char *session_dir, int readonly, sy_err *err)
{
    labels *l = calloc(1, sizeof *l);
    if (!l) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    l->fd = -1;
    l->readonly = readonly;
    l->dir = strdup(session_dir);
    l->journal_path = sy_path_join(session_dir, "labels.jsonl");
    l->snap_path = sy_path_join(session_dir, "labels.snap.jsonl");
    if (!l->dir || !l->journal_path || !l->snap_path) {
        labels_free(l);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    if (load_all(l, err) < 0) {
        labels_free(l);
        return NULL;
    }
    if (readonly) return l;
    int existed = sy_file_exists(l->journal_path);
    l->fd = open(l->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (l->fd < 0) {
        sy_fail_errno(err, errno, "%s: cannot open the labels journal for writing", l->journal_path);
        labels_free(l);
        return NULL;
    }
    if (!existed) sy_fsync_dir(session_dir);
    /* cut a torn tail so the next append starts on a fresh line */
    struct stat st;
    if (fstat(l->fd, &st) == 0 && st.st_size > l->journal_size) {
        if (ftruncate(l->fd, l->journal_size) < 0 || fsync(l->fd) < 0) {
            sy_fail_errno(err, errno, "%s: cannot cut the torn last line", l->journal_path);
            labels_free(l);
            return NULL;
        }
    }
    if (l->journal_lines >= AUTO_COMPACT_LINES) {
        sy_err e2;
        labels_compact(l, &e2); /* best effort: the journal stays valid if this fails */
    }
    return l;
}

void labels_free(labels *l)
{
    if (!l) return;
    if (l->fd >= 0) close(l->fd);
    reset_state(l);
    free(l->journal_path);
    free(l->snap_path);
    free(l->dir);
    free(l);
}

/* Append one act's journal line (with its '\n') to b.  0, or -1 with err set. */
static int format_act(sy_buf *b, const label_req *r, uint64_t seq, const char *t, sy_err *err)
{
    if (!r->query_id || !*r->query_id || !r->neg_id || !*r->neg_id)
        return sy_fail(err, SY_EINVAL, "a label needs a query id and a negative id");
    if (r->act != ACT_ACCEPT && r->act != ACT_REJECT && r->act != ACT_CLEAR)
        return sy_fail(err, SY_EINVAL, "unknown label act %d; use accept, reject or clear", r->act);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s}", "seq", (json_int_t)seq, "t", t, "q", r->query_id, "n",
                          r->neg_id, "a", act_name(r->act));
    if (!o) return sy_fail(err, SY_EINVAL, "label ids or note are not valid UTF-8");
    if (r->note && *r->note && json_object_set_new(o, "note", json_string(r->note)) < 0) {
        json_decref(o);
        return sy_fail(err, SY_EINVAL, "the note is not valid UTF-8");
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    int bad = !line || sy_buf_puts(b, line) || sy_buf_puts(b, "\n");
    free(line);
    return bad ? sy_fail(err, SY_ENOMEM, "out of memory") : 0;
}

int labels_act_batch(labels *l, const label_req *reqs, size_t n, sy_err *err)
{
    if (l->readonly || l->fd < 0)
        return sy_fail(err, SY_EREADONLY,
                       "%s: the session is open read-only (another syneg holds its lock); label not saved",
                       l->dir);
    if (!n) return 0;
    char t[32];
    sy_iso_time(t, sizeof t);
    sy_buf b = {0};
    for (size_t i = 0; i < n; i++)
        if (format_act(&b, &reqs[i], l->seq + 1 + i, t, err) < 0) {
            sy_buf_free(&b);
            return -1;
        }
    if (sy_write_all(l->fd, b.data, b.len) < 0 || fsync(l->fd) < 0) {
        int e = errno;
        sy_buf_free(&b);
        /* remove whatever part of the batch reached the file: earlier lines stay intact */
        if (ftruncate(l->fd, l->journal_size) == 0) fsync(l->fd);
        if (n == 1)
            return sy_fail_errno(err, e, "%s: label %s %s %s not saved", l->journal_path, reqs[0].query_id,
                                 reqs[0].neg_id, act_name(reqs[0].act));
        return sy_fail_errno(err, e, "%s: none of the %zu labels was saved", l->journal_path, n);
    }
    l->journal_size += (off_t)b.len;
    l->journal_lines += n;
    sy_buf_free(&b);
    uint64_t seq0 = l->seq;
    for (size_t i = 0; i < n; i++)
        if (apply(l, reqs[i].query_id, reqs[i].neg_id, act_kind(reqs[i].act), reqs[i].note, t, seq0 + 1 + i) < 0)
            return sy_fail(err, SY_ENOMEM, "labels saved but out of memory updating the view; reopen the session");
    if (l->journal_lines >= AUTO_COMPACT_LINES) {
        sy_err e2;
        labels_compact(l, &e2); /* best effort */
    }
    return 0;
}

int labels_act(labels *l, const char *query_id, const char *neg_id, int act, const char *note, sy_err *err)
{
    label_req r = {.query_id = query_id, .neg_id = neg_id, .act = act, .note = note};
    return labels_act_batch(l, &r, 1, err);
}

static void fill(const labels *l, size_t i, label_entry *out)
{
    const entry *e = &l->e[i];
    out->query_id = e->key;
    out->neg_id = e->key + e->qlen + 1;
    out->kind = e->kind;
    out->note = e->note;
    out->time = e->time;
    out->seq = e->seq;
}

int labels_get(const labels *l, const char *query_id, const char *neg_id, label_entry *out)
{
    size_t ql = strlen(query_id), nl = strlen(neg_id);
    char stack[512], *key = ql + nl + 2 <= sizeof stack ? stack : malloc(ql + nl + 2);
    if (!key) return LABEL_NONE;
    memcpy(key, query_id, ql);
    key[ql] = '\0';
    memcpy(key + ql + 1, neg_id, nl + 1);
    uint32_t idx;
    int found = sy_strmap_get(&l->map, key, ql + nl + 1, &idx);
    if (key != stack) free(key);
    if (!found) {
        if (out) memset(out, 0, sizeof *out);
        return LABEL_NONE;
    }
    if (out) {
        fill(l, idx, out);
        out->query_id = query_id;
        out->neg_id = neg_id;
    }
    return l->e[idx].kind;
}

size_t labels_count(const labels *l, int kind) { return kind >= 0 && kind <= 2 ? l->counts[kind] : 0; }
size_t labels_size(const labels *l) { return l->n; }
uint64_t labels_seq(const labels *l) { return l->seq; }
size_t labels_nskipped(const labels *l) { return l->nskipped; }

const char *labels_warning(const labels *l, size_t i) { return i < l->nwarn_msgs ? l->warnings[i] : NULL; }

void labels_at(const labels *l, size_t i, label_entry *out)
{
    fill(l, i, out);
}

int labels_compact(labels *l, sy_err *err)
{
    if (l->readonly || l->fd < 0) return sy_fail(err, SY_EREADONLY, "%s: the session is read-only", l->dir);
    sy_buf b = {0};
    int bad = sy_buf_printf(&b, "{\"format\":\"syneg-labels-snapshot\",\"version\":1,\"seq\":%llu}\n",
                            (unsigned long long)l->seq);
    for (size_t i = 0; i < l->n && !bad; i++) {
        const entry *e = &l->e[i];
        json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "t", e->time, "q", e->key, "n",
                              e->key + e->qlen + 1, "a",
                              e->kind == LABEL_ACCEPT ? "accept" : e->kind == LABEL_REJECT ? "reject" : "clear");
        if (o && e->note) json_object_set_new(o, "note", json_string(e->note));
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        bad = !line || sy_buf_puts(&b, line) || sy_buf_puts(&b, "\n");
        free(line);
    }
    if (bad) {
        sy_buf_free(&b);
        return sy_fail(err, SY_ENOMEM, "out of memory writing the labels snapshot");
    }
    if (sy_write_file_atomic(l->snap_path, b.data, b.len, err) < 0) {
        sy_buf_free(&b);
        return -1;
    }
    sy_buf_free(&b);
    l->snap_seq = l->seq;
    /* the snapshot now holds every act; emptying the journal is safe at any moment */
    if (ftruncate(l->fd, 0) < 0 || fsync(l->fd) < 0)
        return sy_fail_errno(err, errno, "%s: snapshot written but the journal could not be emptied",
                             l->journal_path);
    l->journal_size = 0;
    l->journal_lines = 0;
    return 0;
}

static int same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int labels_reload(labels *l, sy_err *err)
{
    /* viewers poll this: re-read only when the journal or the snapshot changed */
    struct stat j, s;
    stat_or_zero(l->journal_path, &j);
    stat_or_zero(l->snap_path, &s);
    if (same_file_state(&j, &l->seen_journal) && same_file_state(&s, &l->seen_snap)) return 0;
    return load_all(l, err);
}

/* ---- history (undo across a restart) ---- */

void labels_history_free(label_hist *h, size_t n)
{
    if (!h) return;
    for (size_t i = 0; i < n; i++) free(h[i].query_id), free(h[i].neg_id), free(h[i].note), free(h[i].prev_note);
    free(h);
}

int labels_history(const labels *l, size_t max, label_hist **out, size_t *nout, sy_err *err)
{
    *out = NULL;
    *nout = 0;
    if (!max || !sy_file_exists(l->journal_path)) return 0;
    /* replay the snapshot into a scratch state, then the journal line by line,
     * noting each pair's state just before each act */
    labels *tmp = calloc(1, sizeof *tmp);
    if (!tmp) return sy_fail(err, SY_ENOMEM, "out of memory");
    tmp->fd = -1;
    tmp->readonly = 1;
    tmp->journal_path = strdup(l->journal_path);
    tmp->snap_path = strdup(l->snap_path);
    if (!tmp->journal_path || !tmp->snap_path) {
        labels_free(tmp);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    if (load_snapshot(tmp, err) < 0) {
        labels_free(tmp);
        return -1;
    }
    size_t len;
    char *buf = sy_read_file(l->journal_path, &len, err);
    if (!buf) {
        labels_free(tmp);
        return -1;
    }
    label_hist *h = NULL;
    size_t n = 0, cap = 0;
    int failed = 0;
    for (char *p = buf, *end = buf + len; p < end && !failed;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;   /* a torn tail was never acknowledged */
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        p = nl + 1;
        const char *q = json_string_value(json_object_get(o, "q")), *ng = json_string_value(json_object_get(o, "n"));
        const char *note = json_string_value(json_object_get(o, "note"));
        int act = label_act_parse(json_string_value(json_object_get(o, "a")));
        json_t *jseq = json_object_get(o, "seq");
        if (!q || !ng || !*q || !*ng || act < 0 || !json_is_integer(jseq) || (uint64_t)json_integer_value(jseq) <= tmp->snap_seq) {
            json_decref(o);   /* malformed (labels_open reported it) or folded into the snapshot */
            continue;
        }
        label_entry e;
        int prev = labels_get(tmp, q, ng, &e);
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            label_hist *nh = realloc(h, nc * sizeof *nh);
            if (!nh) failed = 1;
            else h = nh, cap = nc;
        }
        if (!failed) {
            h[n] = (label_hist){strdup(q), strdup(ng), note && *note ? strdup(note) : NULL, e.note ? strdup(e.note) : NULL,
                                act, prev, (uint64_t)json_integer_value(jseq)};
            n++;
            if (apply(tmp, q, ng, act_kind(act), note, NULL, (uint64_t)json_integer_value(jseq)) < 0) failed = 1;
        }
        json_decref(o);
    }
    free(buf);
    labels_free(tmp);
    if (failed) {
        labels_history_free(h, n);
        return sy_fail(err, SY_ENOMEM, "out of memory reading the labels history");
    }
    if (n > max) {   /* keep the newest */
        for (size_t i = 0; i < n - max; i++) free(h[i].query_id), free(h[i].neg_id), free(h[i].note), free(h[i].prev_note);
        memmove(h, h + (n - max), max * sizeof *h);
        n = max;
    }
    *out = h;
    *nout = n;
    return 0;
}
