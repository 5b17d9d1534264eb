/* syneg label: one act on one (query, negative) pair, or many from a file,
 * through the journal (one lock, one write and one fsync for a whole file). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/session.h"
#include "cli.h"

#define MAX_LINE_ERRORS 20

const char cmd_label_help[] =
    "usage: syneg label SESSION QUERY_ID DOC_ID accept|reject|clear [--note TEXT] [--wait]\n"
    "                   [--force]\n"
    "       syneg label SESSION --file FILE [--wait] [--force]\n"
    "\n"
    "Record a judgement of DOC_ID as a negative for QUERY_ID:\n"
    "  accept   a real hard negative: keep it for training\n"
    "  reject   a false negative (it answers the query): never train on it as a negative\n"
    "  clear    remove the judgement\n"
    "DOC_ID is a corpus document id or a synthetic negative's id (e.g. llm:0123abcd...).\n"
    "The act is written to SESSION/labels.jsonl and fsync'd before 'saved' is printed.\n"
    "Fails (exit 1) when another syneg holds the session lock, unless --wait.\n"
    "  --note TEXT   attach a note to the judgement\n"
    "  --file FILE   label in bulk: one JSON object a line, {\"q\":QUERY_ID,\"n\":DOC_ID,\n"
    "                \"a\":\"accept\"|\"reject\"|\"clear\",\"note\":TEXT} (\"query_id\", \"doc_id\",\n"
    "                \"act\" are accepted too); FILE '-' reads standard input.  Every line is\n"
    "                checked first: on any bad line nothing is saved and each error names\n"
    "                FILE:LINE (exit 2 for a malformed line, 1 for an unknown id).  All\n"
    "                acts are then written in order with one write and one fsync.\n"
    "  --wait        queue behind the process holding the session lock instead of failing\n"
    "  --force       accept a document the qrels judge relevant to the query (a judged\n"
    "                positive) as a negative; without it that is refused (exit 1)\n";

typedef struct {
    label_req *reqs;
    size_t *lineno;
    json_t **objs;   /* owners of the strings reqs point into */
    size_t n, cap;
} batch;

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++) json_decref(b->objs[i]);
    free(b->reqs);
    free(b->lineno);
    free(b->objs);
}

static const char *field(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(o, a);
    if (!v && b) v = json_object_get(o, b);
    if (!v && c) v = json_object_get(o, c);
    return json_string_value(v);
}

/* Print one line's error; returns the exit code it deserves. */
static int line_error(int *nerr, int code, const char *file, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int line_error(int *nerr, int code, const char *file, size_t line, const char *fmt, ...)
{
    if (++*nerr <= MAX_LINE_ERRORS) {
        va_list ap;
        fprintf(stderr, "syneg: %s:%zu: ", file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    return code;
}

/* Read and parse every line of FILE (syntax only).  Returns EXIT_OK or the worst exit code. */
static int read_batch(const char *file, batch *b, int *nerr)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) return cli_error("%s: cannot open: %s", file, strerror(errno));
    const char *name = f == stdin ? "(stdin)" : file;
    char *line = NULL;
    size_t lcap = 0, lineno = 0;
    ssize_t len;
    int rc = EXIT_OK;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (strspn(line, " \t") == (size_t)len) continue;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(o)) {
            json_decref(o);
            rc = line_error(nerr, EXIT_USAGE, name, lineno, "%s", o ? "not a JSON object" : je.text);
            continue;
        }
        const char *q = field(o, "q", "query_id", "query"), *n = field(o, "n", "doc_id", "neg_id");
        const char *a = field(o, "a", "act", NULL);
        json_t *nv = json_object_get(o, "note");
        int act = label_act_parse(a);
        const char *bad = !q || !*q ? "needs \"q\" (the query id, a string)"
                        : !n || !*n ? "needs \"n\" (the document or negative id, a string)"
                        : act < 0   ? "needs \"a\": accept, reject or clear"
                        : nv && !json_is_string(nv) && !json_is_null(nv) ? "\"note\" must be a string"
                                                                          : NULL;
        if (bad) {
            rc = line_error(nerr, EXIT_USAGE, name, lineno, "%s%s%s%s", bad, a && act < 0 ? " (got '" : "",
                            a && act < 0 ? a : "", a && act < 0 ? "')" : "");
            json_decref(o);
            continue;
        }
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 256;
            label_req *r = realloc(b->reqs, cap * sizeof *r);
            if (r) b->reqs = r;
            size_t *ln = realloc(b->lineno, cap * sizeof *ln);
            if (ln) b->lineno = ln;
            json_t **os = realloc(b->objs, cap * sizeof *os);
            if (os) b->objs = os;
            if (!r || !ln || !os) {
                json_decref(o);
                rc = cli_error("out of memory reading %s", name);
                break;
            }
            b->cap = cap;
        }
        b->reqs[b->n] = (label_req){.query_id = q, .neg_id = n, .act = act, .note = json_string_value(nv)};
        b->lineno[b->n] = lineno;
        b->objs[b->n++] = o;
    }
    free(line);
    if (ferror(f)) rc = cli_error("%s: read error: %s", name, strerror(errno));
    if (f != stdin) fclose(f);
    return rc;
}

/* Open SESSION for writing; with wait, queue behind the holder.  NULL after printing why. */
static session *open_writer(const char *dir, int wait, int *rc)
{
    sy_err err = {0};
    session *s = session_open(dir, SESSION_WRITE, &err);
    if (s && session_readonly(s) && wait && session_lock_holder(s)) {
        long pid = session_lock_holder(s);
        cli_session_close(s);
        if (pid > 0) fprintf(stderr, "syneg: %s: waiting for the session lock (held by pid %ld)...\n", dir, pid);
        else fprintf(stderr, "syneg: %s: waiting for the session lock...\n", dir);
        s = session_open(dir, SESSION_WRITE_WAIT, &err);
    }
    if (!s) {
        *rc = cli_fail(&err);
        return NULL;
    }
    if (session_readonly(s)) {
        long pid = session_lock_holder(s);
        cli_session_close(s);
        if (pid > 0)
            *rc = cli_error("%s: session is in use by another syneg (pid %ld); label it there, close it first, "
                            "or pass --wait",
                            dir, pid);
        else *rc = cli_error("%s: session is read-only (locked or not writable); label not saved", dir);
        return NULL;
    }
    return s;
}

/* Is (qid, nid) a pair this session can label?  0, or an error message in msg. */
static int check_pair(session *s, corpus *co, const char *qid, const char *nid, char *msg, size_t msgn)
{
    if (corpus_query_find(co, qid) < 0) {
        snprintf(msg, msgn, "unknown query id '%s'; see 'syneg info %s'", qid, session_dir(s));
        return -1;
    }
    if (corpus_doc_find(co, nid) < 0 && !neg_store_find(session_negs(s), qid, nid, NULL)) {
        snprintf(msg, msgn, "'%s' is neither a document id nor a negative of query '%s'", nid, qid);
        return -1;
    }
    return 0;
}

/* Accepting a judged positive (rel > 0 in any loaded qrels split) as a negative
 * contradicts the qrels: 1 with the split and grade in msg, else 0. */
static int judged_positive(corpus *co, const char *qid, const char *nid, char *msg, size_t msgn)
{
    int64_t q = corpus_query_find(co, qid), d = corpus_doc_find(co, nid);
    if (q < 0 || d < 0) return 0;
    for (size_t i = 0; i < corpus_nsplits(co); i++) {
        size_t n;
        const corpus_qrel *r = corpus_qrels_of(corpus_split(co, i), (uint32_t)q, &n);
        for (size_t k = 0; k < n; k++)
            if (r[k].doc == (uint32_t)d && r[k].rel > 0) {
                snprintf(msg, msgn, "document %s is a judged positive of query %s (qrels split %s, relevance %d); "
                         "accepting it as a negative contradicts the qrels", nid, qid, corpus_split(co, i)->name,
                         (int)r[k].rel);
                return 1;
            }
    }
    return 0;
}

static int label_file(const char *dir, const char *file, int wait, int force)
{
    batch b = {0};
    int nerr = 0, rc = read_batch(file, &b, &nerr);
    const char *name = strcmp(file, "-") ? file : "(stdin)";
    if (rc == EXIT_OK && !b.n) rc = cli_error("%s: no labels in it; nothing saved", name);
    if (rc != EXIT_OK) {
        if (nerr > MAX_LINE_ERRORS) fprintf(stderr, "syneg: ... and %d more bad lines\n", nerr - MAX_LINE_ERRORS);
        if (nerr) fprintf(stderr, "syneg: %s: %d bad line%s; nothing saved\n", name, nerr, nerr == 1 ? "" : "s");
        batch_free(&b);
        return rc;
    }
    session *s = open_writer(dir, wait, &rc);
    if (!s) {
        batch_free(&b);
        return rc;
    }
    sy_err err = {0};
    corpus *co = session_corpus_lazy(s, &err);   /* a few lookups: checked where they read */
    if (!co) {
        cli_session_close(s);
        batch_free(&b);
        return cli_fail(&err);
    }
    cli_notice(s);
    char msg[512];
    for (size_t i = 0; i < b.n; i++) {
        if (check_pair(s, co, b.reqs[i].query_id, b.reqs[i].neg_id, msg, sizeof msg) < 0)
            rc = line_error(&nerr, EXIT_ERR, name, b.lineno[i], "%s", msg);
        else if (b.reqs[i].act == ACT_ACCEPT && judged_positive(co, b.reqs[i].query_id, b.reqs[i].neg_id, msg, sizeof msg)) {
            if (force) fprintf(stderr, "syneg: warning: %s:%zu: %s (--force: saved)\n", name, b.lineno[i], msg);
            else rc = line_error(&nerr, EXIT_ERR, name, b.lineno[i], "%s; pass --force to save it anyway", msg);
        }
    }
    if (session_check(s, &err) < 0) {   /* a lookup met a damaged store: say that, save nothing */
        cli_session_close(s);
        batch_free(&b);
        return cli_fail(&err);
    }
    size_t counts[4] = {0};
    if (rc == EXIT_OK && labels_act_batch(session_labels(s), b.reqs, b.n, &err) < 0) rc = cli_fail(&err);
    if (rc == EXIT_OK) {
        for (size_t i = 0; i < b.n; i++) counts[b.reqs[i].act]++;
        printf("saved %zu labels (%zu accept, %zu reject, %zu clear)\n", b.n, counts[ACT_ACCEPT],
               counts[ACT_REJECT], counts[ACT_CLEAR]);
    } else if (nerr) {
        if (nerr > MAX_LINE_ERRORS) fprintf(stderr, "syneg: ... and %d more bad lines\n", nerr - MAX_LINE_ERRORS);
        fprintf(stderr, "syneg: %s: %d bad line%s; nothing saved\n", name, nerr, nerr == 1 ? "" : "s");
    }
    cli_session_close(s);
    batch_free(&b);
    return rc;
}

int cmd_label(int argc, char **argv)
{
    static const struct option opts[] = {{"note", required_argument, 0, 'n'},
                                         {"file", required_argument, 0, 'f'},
                                         {"wait", no_argument, 0, 'w'},
                                         {"force", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    const char *note = NULL, *file = NULL;
    int c, wait = 0, force = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n') note = optarg;
        else if (c == 'f') file = optarg;
        else if (c == 'w') wait = 1;
        else if (c == 'F') force = 1;
        else return cli_usage("label", "unknown option '%s'", argv[optind - 1]);
    }
    if (file) {
        if (argc - optind != 1) return cli_usage("label", "with --file, give only SESSION");
        if (note) return cli_usage("label", "--note goes into each line of the --file (\"note\":TEXT)");
        return label_file(argv[optind], file, wait, force);
    }
    if (argc - optind != 4) return cli_usage("label", "expected SESSION QUERY_ID DOC_ID accept|reject|clear");
    const char *dir = argv[optind], *qid = argv[optind + 1], *nid = argv[optind + 2];
    int act = label_act_parse(argv[optind + 3]);
    if (act < 0) return cli_usage("label", "'%s' is not an act: use accept, reject or clear", argv[optind + 3]);
    int rc = EXIT_OK;
    session *s = open_writer(dir, wait, &rc);
    if (!s) return rc;
    sy_err err = {0};
    corpus *co = session_corpus_lazy(s, &err);   /* two lookups: checked where they read */
    if (!co) {
        cli_session_close(s);
        return cli_fail(&err);
    }
    cli_notice(s);
    char msg[512];
    int unknown = check_pair(s, co, qid, nid, msg, sizeof msg) < 0;
    int positive = !unknown && act == ACT_ACCEPT && judged_positive(co, qid, nid, msg, sizeof msg);
    if (session_check(s, &err) < 0) {   /* a lookup met a damaged store: say that, save nothing */
        cli_session_close(s);
        return cli_fail(&err);
    }
    if (unknown) {
        cli_session_close(s);
        return cli_error("%s: %s", dir, msg);
    }
    if (positive) {
        if (!force) {
            cli_session_close(s);
            return cli_error("%s: %s; not saved (pass --force to save it anyway, or 'reject' it: a positive is "
                             "a false negative)", dir, msg);
        }
        fprintf(stderr, "syneg: warning: %s (--force: saved)\n", msg);
    }
    if (labels_act(session_labels(s), qid, nid, act, note, &err) < 0) {
        cli_session_close(s);
        return cli_fail(&err);
    }
    printf("saved %s %s %s\n", qid, nid, argv[optind + 3]);
    cli_session_close(s);
    return EXIT_OK;
}
