/* session: folder layout, session.json, the writer lock.  See session.h. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include "corpus_store.h"
#include "util.h"

struct session {
    char *dir, *name, *source_path;
    json_t *cfg;
    int lock_fd, readonly;
    long holder;
    corpus *corpus;
    char *notice;       /* what opening the corpus did that the user should know */
    labels *labels;
    neg_store *negs;
};

static const char *const format_names[] = {"beir", "msmarco", "flag"};

static int format_parse(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, format_names[i])) return i;
    return -1;
}

static char *abs_path(const char *p)
{
    char *r = realpath(p, NULL);
    return r ? r : strdup(p);
}

/* path as stored in session.json: relative to dir when inside it */
static char *stored_source_path(const char *dir, const char *src)
{
    char *ad = abs_path(dir), *as = abs_path(src), *out = NULL;
    size_t l = ad ? strlen(ad) : 0;
    if (ad && as && !strncmp(as, ad, l) && as[l] == '/') out = strdup(as + l + 1);
    else if (as) out = strdup(as);
    free(ad);
    free(as);
    return out;
}

#define STORE_NAME "corpus.syc"

/* Write DIR/corpus.syc from c, parsed from src (fingerprinted before parsing
 * by the caller of open_corpus, after it here: init has just read it). */
static int build_store(const char *dir, const char *src, corpus_format fmt, const corpus *c, sy_err *err)
{
    uint64_t fp;
    char *p = sy_path_join(dir, STORE_NAME);
    int r = !p ? sy_fail(err, SY_ENOMEM, "out of memory")
               : cstore_source_fingerprint(src, fmt, &fp, err) < 0 ? -1 : cstore_write(c, fp, p, err);
    free(p);
    return r;
}

/* The file holding split NAME's qrels (or the data set's documents when name
 * is NULL), for messages. */
static char *source_file(const session_source *src, const char *name)
{
    if (src->format == CORPUS_FLAG) return strdup(src->path);
    if (!name) return sy_path_join(src->path, src->format == CORPUS_BEIR ? "corpus.jsonl" : "collection.tsv");
    return src->format == CORPUS_BEIR ? sy_strdup_printf("%s/qrels/%s.tsv", src->path, name)
                                      : sy_strdup_printf("%s/qrels.%s.tsv", src->path, name);
}

/* Split selection and checks for init: the train split (default "train") and
 * the eval split (default "test", else "dev" when the data set has no test,
 * as MS MARCO) must load; another qrels file that does not parse is left out
 * with a warning (open_corpus does the same when it rebuilds the store).
 * The eval split must exist; a train split only when it was named
 * (a test-only BEIR set makes a session without one).  Errors: no documents,
 * or a split whose judgements resolve to no query and document. */
static corpus *load_for_init(const char *dir, const session_source *src, char **train_out, char **eval_out,
                             sy_err *err)
{
    char **have = NULL;
    size_t nhave = 0;
    if (corpus_split_names(src->path, src->format, &have, &nhave, err) < 0) return NULL;
    int has_test = 0, has_dev = 0;
    sy_buf list = {0};
    for (size_t i = 0; i < nhave; i++) {
        has_test |= !strcmp(have[i], "test");
        has_dev |= !strcmp(have[i], "dev");
        sy_buf_printf(&list, "%s%s", i ? ", " : "", have[i]);
        free(have[i]);
    }
    free(have);
    const char *train = src->train_split ? src->train_split : "train";
    const char *evals = src->eval_split ? src->eval_split : !has_test && has_dev ? "dev" : "test";
    const char *want[2] = {train, evals};
    /* streamed: the texts go to a temporary file as they are parsed, not to
     * memory; build_store copies them into the store */
    char *store = sy_path_join(dir, STORE_NAME);
    corpus *c = store ? corpus_load_streamed(src->path, src->format, want, 2, store, err) : NULL;
    free(store);
    const char *missing = !c ? NULL
                          : !corpus_qrels_for(c, evals) ? evals
                          : src->train_split && !corpus_qrels_for(c, train) ? train : NULL;
    char *file = NULL;
    if (missing) {
        sy_fail(err, SY_ENOTFOUND, "%s: no qrels for split '%s' (splits found: %s); choose with --train-split / --eval-split",
                src->path, missing, list.len ? list.data : "none");
    } else if (c && corpus_ndocs(c) == 0) {
        file = source_file(src, NULL);
        sy_fail(err, SY_EFORMAT, "%s: no documents loaded; check that this is the right data set", file);
    } else if (c) {
        for (int i = 0; i < 2 && !file; i++) {
            const corpus_qrels *qr = corpus_qrels_for(c, want[i]);
            if (!qr || qr->n) continue;
            file = source_file(src, want[i]);
            int w = corpus_nwarning_msgs(c) > 0;
            sy_fail(err, SY_EFORMAT, "%s: no judgement of split '%s' names a known query and document%s%s%s; "
                    "check that the qrels belong to this corpus", file, want[i],
                    w ? " (first warning: " : "", w ? corpus_warning(c, 0) : "", w ? ")" : "");
        }
    }
    sy_buf_free(&list);
    if (missing || file) {
        free(file);
        corpus_free(c);
        return NULL;
    }
    if (c) {
        *train_out = strdup(train);
        *eval_out = strdup(evals);
    }
    return c;
}

int session_create(const char *dir, const session_source *src, sy_err *err)
{
    if (sy_find_control(dir))   /* a newline in the name would break every line it is written on */
        return sy_fail(err, SY_EINVAL, "session folder name holds a control character (byte 0x%02x); choose a plain name",
                       (unsigned char)*sy_find_control(dir));
    char *cfg_path = sy_path_join(dir, "session.json");
    if (!cfg_path) return sy_fail(err, SY_ENOMEM, "out of memory");
    if (sy_file_exists(cfg_path)) {
        sy_fail(err, SY_EEXIST, "%s: a session already exists here; open it, or choose another folder", cfg_path);
        free(cfg_path);
        return -1;
    }
    /* the data must load, with its named splits, before anything is written */
    char *train = NULL, *evals = NULL;
    corpus *c = load_for_init(dir, src, &train, &evals, err);
    if (!c) {
        free(cfg_path);
        return -1;
    }
    if (sy_mkdir_p(dir, err) < 0 || build_store(dir, src->path, src->format, c, err) < 0) {
        corpus_free(c);
        free(cfg_path); free(train); free(evals);
        return -1;
    }
    corpus_free(c);
    chmod(dir, 0700);   /* labels, answers, traces: private to the owner */
    static const char *const sub[] = {"negatives", "runs", "jobs", "cache"};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        char *p = sy_path_join(dir, sub[i]);
        int r = p ? sy_mkdir_p(p, err) : sy_fail(err, SY_ENOMEM, "out of memory");
        free(p);
        if (r < 0) {
            free(cfg_path); free(train); free(evals);
            return -1;
        }
    }
    char *stored = stored_source_path(dir, src->path);
    char created[32];
    sy_iso_time(created, sizeof created);
    /* settings start empty: defaults live only in the settings table (settings.h) */
    json_t *cfg = json_pack("{s:s,s:i,s:s,s:{s:s,s:s,s:s,s:s},s:{},s:{}}",
                            "format", SESSION_FORMAT, "version", SESSION_VERSION, "created", created,
                            "source", "format", format_names[src->format], "path", stored ? stored : src->path,
                            "train_split", train, "eval_split", evals,
                            "settings",
                            "attributes");
    free(stored);
    free(train);
    free(evals);
    char *text = cfg ? json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(cfg);
    if (!text) {
        free(cfg_path);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    size_t tl = strlen(text);
    char *full = realloc(text, tl + 2);
    if (full) {
        full[tl] = '\n';
        full[tl + 1] = '\0';
    }
    int r = full ? sy_write_file_atomic(cfg_path, full, tl + 1, err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(full ? full : text);
    free(cfg_path);
    return r;
}

static int take_lock(session *s, int wait, sy_err *err)
{
    char *p = sy_path_join(s->dir, "lock");
    if (!p) return sy_fail(err, SY_ENOMEM, "out of memory");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        /* a folder we cannot write to: read-only */
        free(p);
        s->readonly = 1;
        return 0;
    }
    int fr;
    while ((fr = flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB)) < 0 && errno == EINTR) {}
    if (fr < 0) {
        char buf[32] = {0};
        if (pread(fd, buf, sizeof buf - 1, 0) > 0) s->holder = strtol(buf, NULL, 10);
        if (s->holder <= 0) s->holder = -1;
        close(fd);
        free(p);
        s->readonly = 1;
        return 0;
    }
    /* the pid is informative only (read-only openers report it): failures are harmless */
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0) buf[0] = '\0';
    free(p);
    s->lock_fd = fd;
    return 0;
}

session *session_open(const char *dir, int mode, sy_err *err)
{
    session *s = calloc(1, sizeof *s);
    if (!s) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    s->lock_fd = -1;
    s->readonly = mode != SESSION_WRITE && mode != SESSION_WRITE_WAIT;
    s->dir = strdup(dir);
    char *cfg_path = sy_path_join(dir, "session.json");
    if (!s->dir || !cfg_path) {
        free(cfg_path);
        session_close(s);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    {
        size_t l = strlen(s->dir);
        while (l > 1 && s->dir[l - 1] == '/') s->dir[--l] = '\0';
        const char *slash = strrchr(s->dir, '/');
        s->name = strdup(slash ? slash + 1 : s->dir);
    }
    if (!sy_file_exists(cfg_path)) {
        sy_fail(err, SY_ENOTFOUND, "%s: no session here (session.json missing); create one with 'syneg init %s --beir DIR'",
                dir, dir);
        free(cfg_path);
        session_close(s);
        return NULL;
    }
    json_error_t je;
    s->cfg = json_load_file(cfg_path, 0, &je);
    if (!s->cfg || !json_is_object(s->cfg)) {
        sy_fail(err, SY_EPARSE, "%s:%d: %s; fix the JSON by hand (labels and negatives are untouched)", cfg_path,
                je.line, s->cfg ? "not a JSON object" : je.text);
        free(cfg_path);
        session_close(s);
        return NULL;
    }
    const char *fmt = json_string_value(json_object_get(s->cfg, "format"));
    json_int_t ver = json_integer_value(json_object_get(s->cfg, "version"));
    if (!fmt || strcmp(fmt, SESSION_FORMAT) || ver < 1 || ver > SESSION_VERSION) {
        sy_fail(err, SY_EFORMAT, "%s: format '%s' version %lld is not a syneg session this build can read (%s %d)",
                cfg_path, fmt ? fmt : "?", (long long)ver, SESSION_FORMAT, SESSION_VERSION);
        free(cfg_path);
        session_close(s);
        return NULL;
    }
    const char *sp = json_string_value(json_object_get(json_object_get(s->cfg, "source"), "path"));
    if (!sp || format_parse(json_string_value(json_object_get(json_object_get(s->cfg, "source"), "format"))) < 0) {
        sy_fail(err, SY_EPARSE, "%s: \"source\" needs \"path\" and \"format\" (beir, msmarco or flag)", cfg_path);
        free(cfg_path);
        session_close(s);
        return NULL;
    }
    free(cfg_path);
    s->source_path = sp[0] == '/' ? strdup(sp) : sy_path_join(dir, sp);
    if (!s->readonly && take_lock(s, mode == SESSION_WRITE_WAIT, err) < 0) {
        session_close(s);
        return NULL;
    }
    s->labels = labels_open(dir, s->readonly, err);
    if (!s->labels) {
        session_close(s);
        return NULL;
    }
    s->negs = neg_store_open(dir, err);
    if (!s->negs) {
        session_close(s);
        return NULL;
    }
    return s;
}

void session_close(session *s)
{
    if (!s) return;
    corpus_free(s->corpus);
    free(s->notice);
    labels_free(s->labels);
    neg_store_free(s->negs);
    json_decref(s->cfg);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
    free(s->dir);
    free(s->name);
    free(s->source_path);
    free(s);
}

int session_take_lock(session *s, sy_err *err)
{
    if (!s->readonly) return 1;
    if (s->lock_fd >= 0) return 0;
    s->readonly = 0;
    s->holder = 0;
    if (take_lock(s, 0, err) < 0) {
        s->readonly = 1;
        return -1;
    }
    if (s->readonly) return 0;   /* still held (holder updated), or the folder is not writable */
    labels *l = labels_open(s->dir, 0, err);   /* the journal again, now for writing */
    if (!l) {
        close(s->lock_fd);
        s->lock_fd = -1;
        s->readonly = 1;
        return -1;
    }
    labels_free(s->labels);
    s->labels = l;
    return 1;
}

const char *session_dir(const session *s) { return s->dir; }
const char *session_name(const session *s) { return s->name; }
int session_readonly(const session *s) { return s->readonly; }
long session_lock_holder(const session *s) { return s->readonly ? s->holder : 0; }
labels *session_labels(session *s) { return s->labels; }
neg_store *session_negs(session *s) { return s->negs; }
const char *session_source_path(const session *s) { return s->source_path; }

const char *session_train_split(const session *s)
{
    const char *v = json_string_value(json_object_get(json_object_get(s->cfg, "source"), "train_split"));
    return v ? v : "train";
}

const char *session_eval_split(const session *s)
{
    const char *v = json_string_value(json_object_get(json_object_get(s->cfg, "source"), "eval_split"));
    return v ? v : "test";
}

/* Map SESSION/corpus.syc when it matches the data set; otherwise parse the
 * data set once and (re)build it, saying why in s->notice.  A missing data set
 * with a good store still opens: the store holds everything. */
static corpus *open_corpus(session *s, corpus_format fmt, int lazy, sy_err *err)
{
    char *sp = sy_path_join(s->dir, STORE_NAME);
    if (!sp) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    uint64_t fp = 0;
    sy_err fe = {0}, se = {0};
    int have_fp = cstore_source_fingerprint(s->source_path, fmt, &fp, &fe) == 0;
    int existed = sy_file_exists(sp);
    cstore *st = existed ? cstore_open_mode(sp, lazy, &se) : NULL;
    /* an older format is converted once, when the data set is there to
     * rebuild from (else it is read as it is) */
    int old = st && have_fp && cstore_version(st) != CSTORE_VERSION;
    if (st && (!have_fp || cstore_fingerprint(st) == fp) && !old) {
        free(sp);
        return corpus_from_store(st, err);
    }
    int stale = st != NULL && !old;
    cstore_free(st);
    if (!have_fp) {
        free(sp);
        if (err) *err = existed ? se : fe;
        return NULL;
    }
    const char *why = old     ? "converted from the version 2 store, which every command had to check whole"
                      : stale ? "the data set changed since it was built"
                      : existed ? se.msg : "a session from before the store";
    double t0 = sy_now();
    const char *want[2] = {session_train_split(s), session_eval_split(s)};   /* as init read it */
    corpus *c = corpus_load_streamed(s->source_path, fmt, want, 2, sp, err);
    if (c) {
        sy_err we = {0};
        double dt = sy_now() - t0;
        int built = cstore_write(c, fp, sp, &we) == 0;
        /* serve the store just written (the streamed corpus holds no texts) */
        cstore *nst = built ? cstore_open_mode(sp, lazy, &we) : NULL;
        if (built && !nst) built = 0;
        corpus_free(c);
        c = nst ? corpus_from_store(nst, err) : NULL;
        if (!c && !built) c = corpus_load_splits(s->source_path, fmt, want, 2, err);   /* could not save: parse */
        if (built)
            s->notice = sy_strdup_printf("%s: built %s from the data set in %.1f s (%s); later commands open it in "
                                         "place", s->dir, STORE_NAME, dt, why);
        else
            s->notice = sy_strdup_printf("%s: could not save %s (%s); the data set will be parsed again next time",
                                         s->dir, STORE_NAME, we.msg);
    }
    free(sp);
    return c;
}

static corpus *corpus_mode(session *s, int lazy, sy_err *err)
{
    if (s->corpus) return s->corpus;
    int fmt = format_parse(json_string_value(json_object_get(json_object_get(s->cfg, "source"), "format")));
    s->corpus = open_corpus(s, (corpus_format)fmt, lazy, err);
    if (!s->corpus) sy_err_prefix(err, "session %s", s->dir);
    return s->corpus;
}

corpus *session_corpus(session *s, sy_err *err) { return corpus_mode(s, 0, err); }
corpus *session_corpus_lazy(session *s, sy_err *err) { return corpus_mode(s, 1, err); }

int session_check(const session *s, sy_err *err) { return corpus_store_damage(s->corpus, err); }

const char *session_notice(const session *s) { return s->notice; }
char *session_take_notice(session *s)
{
    char *n = s ? s->notice : NULL;
    if (s) s->notice = NULL;
    return n;
}

json_t *session_config(session *s) { return s->cfg; }

/* Walk "a.b.c" under "settings" (or from the root when the path starts with
 * "source." or "attributes").  create: make missing objects. */
static json_t *walk(session *s, const char *path, int create, char *last, size_t lastn)
{
    json_t *o = s->cfg;
    if (strncmp(path, "source.", 7) && strncmp(path, "attributes", 10)) {
        json_t *st = json_object_get(o, "settings");
        if (!st && create) json_object_set_new(o, "settings", st = json_object());
        o = st;
    }
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l >= lastn) return NULL;
        memcpy(last, p, l);
        last[l] = '\0';
        if (!dot) return json_is_object(o) ? o : NULL;
        json_t *next = json_object_get(o, last);
        if (!next && create) {
            next = json_object();
            json_object_set_new(o, last, next);
        }
        if (!json_is_object(next)) return NULL;
        o = next;
        p = dot + 1;
    }
}

json_t *session_get(session *s, const char *path)
{
    char last[256];
    json_t *o = walk(s, path, 0, last, sizeof last);
    return o ? json_object_get(o, last) : NULL;
}

const char *session_get_str(session *s, const char *path, const char *def)
{
    const char *v = json_string_value(session_get(s, path));
    return v ? v : def;
}

double session_get_num(session *s, const char *path, double def)
{
    json_t *v = session_get(s, path);
    return json_is_number(v) ? json_number_value(v) : def;
}

int session_save(session *s, sy_err *err)
{
    if (s->readonly) return sy_fail(err, SY_EREADONLY, "%s: the session is open read-only; settings not saved", s->dir);
    char *text = json_dumps(s->cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    char *path = sy_path_join(s->dir, "session.json");
    int r = -1;
    if (text && path) {
        sy_buf b = {0};
        if (!sy_buf_puts(&b, text) && !sy_buf_puts(&b, "\n")) r = sy_write_file_atomic(path, b.data, b.len, err);
        else sy_fail(err, SY_ENOMEM, "out of memory");
        sy_buf_free(&b);
    } else {
        sy_fail(err, SY_ENOMEM, "out of memory");
    }
    free(text);
    free(path);
    return r;
}

int session_set(session *s, const char *path, json_t *value, sy_err *err)
{
    if (!value) return sy_fail(err, SY_EINVAL, "%s: no value", path);
    if (s->readonly) {
        json_decref(value);
        return sy_fail(err, SY_EREADONLY, "%s: the session is open read-only; setting %s not saved", s->dir, path);
    }
    if (!strncmp(path, "source", 6)) {
        json_decref(value);
        return sy_fail(err, SY_EINVAL, "%s: the data source is fixed when the session is created", path);
    }
    char last[256];
    json_t *o = walk(s, path, 1, last, sizeof last);
    if (!o) {
        json_decref(value);
        return sy_fail(err, SY_EINVAL, "'%s' is not a valid setting path (use dotted names like bm25.k1)", path);
    }
    /* secrets never reach session.json */
    size_t ll = strlen(last);
    if ((ll >= 3 && !strcmp(last + ll - 3, "key")) || !strcmp(last, "token") || !strcmp(last, "secret") ||
        !strcmp(last, "password") || !strcmp(last, "authorization")) {
        json_decref(value);
        return sy_fail(err, SY_EINVAL, "'%s' looks like a secret; API keys come from the environment "
                                       "(SYNEG_LLM_KEY or OPENAI_API_KEY) and are never saved", path);
    }
    json_object_set_new(o, last, value);
    return session_save(s, err);
}

char *session_path(const session *s, const char *rel) { return sy_path_join(s->dir, rel); }

char *session_new_job_dir(const session *s, const char *kind, sy_err *err)
{
    char t[32];
    sy_iso_time(t, sizeof t);
    for (char *p = t; *p; p++)
        if (*p == ':' || *p == '.') *p = '-';
    char *rel = sy_strdup_printf("jobs/%s-%s-%ld", t, kind, (long)getpid());
    char *p = rel ? sy_path_join(s->dir, rel) : NULL;
    free(rel);
    if (!p) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    if (sy_mkdir_p(p, err) < 0) {
        free(p);
        return NULL;
    }
    return p;
}
