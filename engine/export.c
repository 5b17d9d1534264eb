/* export: training-data formats out of the curated pool, and the flag importer
 * (see export.h). */
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include "passage.h"
#include "retriever.h"
#include "settings.h"

#define GROWK(arr, n, cap) ((n) < (cap) ? 0 : growk_((void **)&(arr), &(cap), sizeof *(arr)))
static int growk_(void **p, size_t *cap, size_t elem)
{
    size_t nc = *cap ? *cap * 2 : 64;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static const char *const fmt_names[EXPORT_NFORMATS] = { "flag", "st", "tevatron", "trec" };

const char *export_format_name(int f) { return f >= 0 && f < EXPORT_NFORMATS ? fmt_names[f] : "?"; }

int export_format_parse(const char *s)
{
    for (int i = 0; s && i < EXPORT_NFORMATS; i++)
        if (!strcmp(s, fmt_names[i])) return i;
    if (s && !strcmp(s, "sentence-transformers")) return EXPORT_ST;
    if (s && !strcmp(s, "flagembedding")) return EXPORT_FLAG;
    return -1;
}

void export_opts_default(export_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = EXPORT_FLAG;
    mix_opts_default(&o->mix);
    o->epochs = 1;
}

/* ---- a streaming, atomic file writer (buffered over sy_atomic) ----------- */
typedef struct {
    int fd;          /* a.fd while open, else -1 */
    char *path;      /* for messages */
    sy_atomic a;
    sy_buf b;
    size_t bytes;
    int failed;
} out_file;

static int out_open(out_file *f, const char *path, sy_err *err)
{
    memset(f, 0, sizeof *f);
    f->fd = f->a.fd = -1;
    f->path = strdup(path);
    if (!f->path) return sy_fail(err, SY_ENOMEM, "out of memory");
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {         /* create the output folder when missing */
        char *dir = strndup(path, (size_t)(slash - path));
        if (!dir) return sy_fail(err, SY_ENOMEM, "out of memory");
        int rc = sy_is_dir(dir) ? 0 : sy_mkdir_p(dir, err);
        free(dir);
        if (rc) {
            sy_err_prefix(err, "%s: cannot create the output folder", path);
            return -1;
        }
    }
    if (sy_atomic_open(&f->a, path, err) < 0) {
        sy_err_prefix(err, "%s: cannot create the export file; check the folder exists and is writable", path);
        return -1;
    }
    f->fd = f->a.fd;
    return 0;
}

static int out_flush(out_file *f, sy_err *err)
{
    if (f->b.len && sy_write_all(f->fd, f->b.data, f->b.len))
        return sy_fail_errno(err, errno, "%s: write failed", f->path);
    f->bytes += f->b.len;
    f->b.len = 0;
    return 0;
}

static int out_maybe_flush(out_file *f, sy_err *err)
{
    if (f->failed) return sy_fail(err, SY_ENOMEM, "%s: out of memory while formatting", f->path);
    return f->b.len >= (1u << 20) ? out_flush(f, err) : 0;
}

static void out_abort(out_file *f)
{
    sy_atomic_abort(&f->a);
    free(f->path);
    sy_buf_free(&f->b);
    f->fd = -1;
    f->path = NULL;
}

static int out_commit(out_file *f, sy_err *err)
{
    if (out_flush(f, err)) { out_abort(f); return -1; }
    int rc = sy_atomic_commit(&f->a, err);   /* fsync, rename, fsync the folder */
    f->fd = -1;
    out_abort(f);
    return rc;
}

/* ---- JSON pieces ----------------------------------------------------------- */
static void esc(out_file *f, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (s > run && sy_buf_append(&f->b, run, (size_t)(s - run))) f->failed = 1;
        char e[8] = { '\\', 0 };
        size_t n = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4]; e[5] = hex[c & 15];
            n = 6;
        }
        if (sy_buf_append(&f->b, e, n)) f->failed = 1;
        run = s + 1;
    }
    if (s > run && sy_buf_append(&f->b, run, (size_t)(s - run))) f->failed = 1;
}

static void put(out_file *f, const char *s)
{
    if (sy_buf_puts(&f->b, s)) f->failed = 1;
}

static void jstr(out_file *f, const char *s)
{
    put(f, "\"");
    esc(f, s ? s : "");
    put(f, "\"");
}

/* A passage as flag/st text, formatted by passage.h ("title text", or the
 * text alone when no_title is set or the passage has no title). */
static void jpassage(out_file *f, const mix_passage *p, int no_title)
{
    sy_buf t = {0};
    if (passage_append(&t, p->title, p->text, (size_t)-1, no_title ? PASSAGE_NO_TITLES : PASSAGE_TITLES))
        f->failed = 1;
    jstr(f, t.data);
    sy_buf_free(&t);
}

static void jnum(out_file *f, double v)
{
    if (!isfinite(v)) { put(f, "null"); return; }
    if (sy_buf_printf(&f->b, "%.6g", v) < 0) f->failed = 1;
}

static void jdoc(out_file *f, const mix_passage *p)
{
    put(f, "{\"docid\":"); jstr(f, p->id);
    put(f, ",\"title\":"); jstr(f, p->title);
    put(f, ",\"text\":"); jstr(f, p->text);
    put(f, "}");
}

/* sc: with o->scores, the positive's score then each negative's, all from
 * one scorer (score_instance) */
static void write_instance(out_file *f, const export_opts *o, const mix_instance *in, const float *sc)
{
    size_t N = in->nneg;
    switch (o->format) {
    case EXPORT_FLAG:
        put(f, "{\"query\":"); jstr(f, in->query_text);
        put(f, ",\"pos\":["); jpassage(f, in->pos, o->no_title);
        put(f, "],\"neg\":[");
        for (size_t j = 0; j < N; j++) {
            if (j) put(f, ",");
            jpassage(f, in->negs[j], o->no_title);
        }
        put(f, "]");
        if (o->scores) {
            put(f, ",\"pos_scores\":["); jnum(f, sc[0]);
            put(f, "],\"neg_scores\":[");
            for (size_t j = 0; j < N; j++) {
                if (j) put(f, ",");
                jnum(f, sc[1 + j]);
            }
            put(f, "]");
        }
        if (o->prompt) { put(f, ",\"prompt\":"); jstr(f, o->prompt); }
        put(f, "}\n");
        break;
    case EXPORT_ST:
        put(f, "{\"anchor\":"); jstr(f, in->query_text);
        put(f, ",\"positive\":"); jpassage(f, in->pos, o->no_title);
        for (size_t j = 0; j < N; j++) {
            if (sy_buf_printf(&f->b, ",\"negative_%zu\":", j + 1) < 0) f->failed = 1;
            jpassage(f, in->negs[j], o->no_title);
        }
        put(f, "}\n");
        break;
    case EXPORT_TEVATRON:
        put(f, "{\"query_id\":"); jstr(f, in->query_id);
        put(f, ",\"query\":"); jstr(f, in->query_text);
        put(f, ",\"positive_passages\":["); jdoc(f, in->pos);
        put(f, "],\"negative_passages\":[");
        for (size_t j = 0; j < N; j++) {
            if (j) put(f, ",");
            jdoc(f, in->negs[j]);
        }
        put(f, "]}\n");
        break;
    }
}

/* Teacher scores for distillation: the positive and every negative scored by
 * one scorer, the session's BM25 (k1/b from its settings), so a softmax over
 * them compares like with like.  The store's row scores cannot be used: a
 * positive has only its qrels grade, and rows of different sources carry
 * different scales (BM25, cosine, none for synthetic text). */
static int score_instance(retriever *r, const mix_instance *in, float *sc, sy_err *err)
{
    size_t n = 1 + in->nneg;
    const char **titles = malloc(2 * n * sizeof *titles), **texts = titles + n;
    if (!titles) return sy_fail(err, SY_ENOMEM, "out of memory");
    titles[0] = in->pos->title;
    texts[0] = in->pos->text;
    for (size_t j = 0; j < in->nneg; j++) {
        titles[1 + j] = in->negs[j]->title;
        texts[1 + j] = in->negs[j]->text;
    }
    int rc = retriever_score_texts(r, in->query_text, titles, texts, n, sc, err);
    free(titles);
    return rc;
}

/* ---- report ---------------------------------------------------------------- */
static json_t *jsize(size_t v) { return json_integer((json_int_t)v); }

int export_report_json(const session *s, const export_opts *o, const export_stats *st, sy_buf *out)
{
    json_t *r = json_object();
    if (!r) return -1;
    json_object_set_new(r, "format", json_string(export_format_name(o->format)));
    json_object_set_new(r, "session", json_string(s ? session_name(s) : ""));
    json_object_set_new(r, "split", json_string(o->mix.split ? o->mix.split
                                                : s ? session_train_split(s) : "train"));
    if (o->format == EXPORT_TREC) {
        json_object_set_new(r, "run_rows", jsize(st->lines));
        json_object_set_new(r, "run_queries", jsize(st->run_queries));
        json_object_set_new(r, "qrels_rows", jsize(st->qrels_rows));
        json_object_set_new(r, "labels_relevant", jsize(st->labels_relevant));
        json_object_set_new(r, "labels_nonrelevant", jsize(st->labels_nonrelevant));
        json_object_set_new(r, "not_in_corpus", jsize(st->not_in_corpus));
    } else {
        const mix_report *m = &st->mix;
        json_object_set_new(r, "seed", json_integer((json_int_t)o->mix.seed));
        json_object_set_new(r, "num", jsize(o->mix.num));
        json_t *mx = json_object();
        json_object_set_new(mx, "start", json_real(o->mix.mix_start));
        json_object_set_new(mx, "end", json_real(o->mix.mix_end));
        json_object_set_new(r, "mix", mx);
        json_object_set_new(r, "strategy", json_string(mix_strategy_name(o->mix.strategy)));
        if (o->mix.strategy == MIX_BATCH)
            json_object_set_new(r, "batch_size", jsize(o->mix.batch_size ? o->mix.batch_size : 32));
        json_object_set_new(r, "epochs", jsize(o->epochs ? o->epochs : 1));
        json_object_set_new(r, "promote", json_boolean(o->mix.promote));
        json_object_set_new(r, "reviewed_only", json_boolean(o->mix.reviewed_only));
        json_object_set_new(r, "shuffle", json_boolean(o->mix.shuffle));
        json_object_set_new(r, "include_offline", json_boolean(o->include_offline));
        json_object_set_new(r, "length_match", json_boolean(o->mix.length_match));
        json_object_set_new(r, "queries", jsize(m->queries));
        json_object_set_new(r, "instances", jsize(m->instances));
        json_object_set_new(r, "lines", jsize(st->lines));
        json_t *pos = json_object();
        json_object_set_new(pos, "qrels", jsize(m->positives_qrels));
        json_object_set_new(pos, "promoted", jsize(m->positives_promoted));
        json_object_set_new(r, "positives", pos);
        json_object_set_new(r, "skipped_no_negatives", jsize(m->skipped_no_negatives));
        json_t *pool = json_object(), *neg = json_object();
        size_t syn = 0, ret = 0;
        for (int i = 0; i < NEG_NSOURCES; i++) {
            json_object_set_new(pool, neg_source_name(i), jsize(m->candidates[i]));
            json_object_set_new(neg, neg_source_name(i), jsize(m->drawn[i]));
            if (mix_source_class(i) == MIX_SYNTHETIC) syn += m->drawn[i];
            else ret += m->drawn[i];
        }
        json_object_set_new(r, "pool", pool);
        json_object_set_new(r, "negatives", neg);
        json_object_set_new(r, "synthetic", jsize(syn));
        json_object_set_new(r, "retrieved", jsize(ret));
        json_t *fills = json_object();
        json_object_set_new(fills, "synthetic_short", jsize(m->fill_synthetic_short));
        json_object_set_new(fills, "retrieved_short", jsize(m->fill_retrieved_short));
        json_object_set_new(fills, "fill_option", json_boolean(o->mix.fill));
        json_object_set_new(r, "fills", fills);
        json_object_set_new(r, "skipped_no_class", jsize(m->skipped_no_class));
        json_object_set_new(r, "repeats", jsize(m->repeats));
        /* queries short of N distinct negatives: padded by repeats, or short groups (--no-repeat) */
        json_object_set_new(r, "no_repeat", json_boolean(o->mix.no_repeat));
        json_object_set_new(r, "padded_instances", jsize(m->padded_instances));
        if (m->padded_query) {
            json_t *pq = json_object();
            json_object_set_new(pq, "query", json_string(m->padded_query));
            json_object_set_new(pq, "distinct", jsize(m->padded_distinct));
            json_object_set_new(r, "padded_fewest", pq);
        }
        /* equal query texts with different qrels */
        json_object_set_new(r, "same_text_queries", jsize(m->same_text_queries));
        json_object_set_new(r, "same_text_excluded", jsize(m->same_text_excluded));
        if (m->same_text_query) {
            json_t *st1 = json_object();
            json_object_set_new(st1, "query", json_string(m->same_text_query));
            json_object_set_new(st1, "twin", json_string(m->same_text_twin));
            json_object_set_new(st1, "doc", json_string(m->same_text_doc));
            json_object_set_new(r, "same_text_first", st1);
        }
        json_t *ex = json_object();
        for (int i = 0; i < MIX_NX; i++) json_object_set_new(ex, mix_exclusion_name(i), jsize(m->excluded[i]));
        json_object_set_new(r, "exclusions", ex);
        if (st->audited) json_object_set_new(r, "audit", audit_report_json(&st->audit));
        if (o->scores && o->format == EXPORT_FLAG) {
            /* what pos_scores / neg_scores are, for whoever distils from them */
            json_t *sj = json_object();
            json_object_set_new(sj, "scorer", json_string("bm25"));
            json_object_set_new(sj, "k1", json_real(settings_num((session *)s, "bm25.k1")));
            json_object_set_new(sj, "b", json_real(settings_num((session *)s, "bm25.b")));
            json_object_set_new(sj, "note", json_string("positives and negatives scored by the same BM25 over "
                                                        "title and text; synthetic texts with the index's statistics"));
            json_object_set_new(r, "scores", sj);
        }
    }
    char *txt = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(r);
    if (!txt) return -1;
    int rc = sy_buf_puts(out, txt) || sy_buf_puts(out, "\n") ? -1 : 0;
    free(txt);
    return rc;
}

/* ---- trec ------------------------------------------------------------------ */
typedef struct { uint32_t q; size_t order; label_entry e; } qlabel;

static int cmp_qlabel(const void *a, const void *b)
{
    const qlabel *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Is row i's document already among rows 0..i-1 of the query?  A document
 * several retrievers found has one row per source; a run lists it once. */
static int listed_before(neg_store *ns, const neg_ref *refs, size_t i, const char *neg_id)
{
    for (size_t j = 0; j < i; j++) {
        neg_row o;
        neg_store_get(ns, refs[j], &o);
        if (!(o.text && *o.text) && !strcmp(o.neg_id, neg_id)) return 1;
    }
    return 0;
}

static int write_trec(session *s, const export_opts *o, const char *path, export_stats *st, sy_err *err)
{
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    const char *split = o->mix.split ? o->mix.split : session_train_split(s);
    const corpus_qrels *qr = corpus_qrels_for(c, split);
    if (!qr)
        return sy_fail(err, SY_ENOTFOUND, "%s: the data set has no split '%s'; pick one with --split",
                       session_source_path(s), split);
    neg_store *ns = session_negs(s);
    labels *lb = session_labels(s);
    uint32_t nq = corpus_nqueries(c);

    out_file f;
    if (out_open(&f, path, err)) { out_abort(&f); return -1; }
    for (uint32_t q = 0; q < nq; q++) {
        const char *qid = corpus_query_id(c, q);
        size_t n = 0;
        const neg_ref *refs = ns ? neg_store_query(ns, qid, &n) : NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            neg_row r;
            neg_store_get(ns, refs[i], &r);
            if ((r.text && *r.text) || corpus_doc_find(c, r.neg_id) < 0) { st->not_in_corpus++; continue; }
            if (listed_before(ns, refs, i, r.neg_id)) continue;
            k++;
        }
        size_t rank = 0;
        for (size_t i = 0; i < n; i++) {
            neg_row r;
            neg_store_get(ns, refs[i], &r);
            if ((r.text && *r.text) || corpus_doc_find(c, r.neg_id) < 0) continue;
            if (listed_before(ns, refs, i, r.neg_id)) continue;
            rank++;
            if (sy_buf_printf(&f.b, "%s Q0 %s %zu %zu syneg\n", qid, r.neg_id, rank, k - rank + 1) < 0) f.failed = 1;
            st->lines++;
        }
        if (k) st->run_queries++;
        if (out_maybe_flush(&f, err)) { out_abort(&f); return -1; }
    }
    st->bytes = f.bytes + f.b.len;
    if (out_commit(&f, err)) return -1;

    /* qrels */
    size_t nl = lb ? labels_size(lb) : 0, nql = 0;
    qlabel *ql = malloc((nl ? nl : 1) * sizeof *ql);
    if (!ql) return sy_fail(err, SY_ENOMEM, "out of memory");
    for (size_t i = 0; i < nl; i++) {
        label_entry e;
        labels_at(lb, i, &e);
        if (e.kind == LABEL_NONE) continue;
        int64_t q = corpus_query_find(c, e.query_id);
        if (q < 0) continue;
        ql[nql++] = (qlabel){ (uint32_t)q, i, e };
    }
    qsort(ql, nql, sizeof *ql, cmp_qlabel);
    char *qpath = sy_strdup_printf("%s.qrels", path);
    if (!qpath || out_open(&f, qpath, err)) { free(ql); free(qpath); out_abort(&f); return qpath ? -1 : sy_fail(err, SY_ENOMEM, "out of memory"); }
    size_t li = 0;
    for (uint32_t q = 0; q < nq; q++) {
        const char *qid = corpus_query_id(c, q);
        size_t nr = 0;
        const corpus_qrel *rows = corpus_qrels_of(qr, q, &nr);
        for (size_t i = 0; i < nr; i++) {
            const char *did = corpus_doc_id(c, rows[i].doc);
            int rel = rows[i].rel;
            label_entry e;
            int kind = lb ? labels_get(lb, qid, did, &e) : LABEL_NONE;
            if (kind == LABEL_REJECT) { if (rel <= 0) rel = 1; st->labels_relevant++; }
            else if (kind == LABEL_ACCEPT) { rel = 0; st->labels_nonrelevant++; }
            if (sy_buf_printf(&f.b, "%s 0 %s %d\n", qid, did, rel) < 0) f.failed = 1;
            st->qrels_rows++;
        }
        while (li < nql && ql[li].q < q) li++;
        for (; li < nql && ql[li].q == q; li++) {
            int64_t d = corpus_doc_find(c, ql[li].e.neg_id);
            if (d < 0) { st->not_in_corpus++; continue; }
            int inq = 0;
            for (size_t i = 0; i < nr; i++) if (rows[i].doc == (uint32_t)d) inq = 1;
            if (inq) continue;
            int rel = ql[li].e.kind == LABEL_REJECT;
            if (rel) st->labels_relevant++;
            else st->labels_nonrelevant++;
            if (sy_buf_printf(&f.b, "%s 0 %s %d\n", qid, ql[li].e.neg_id, rel) < 0) f.failed = 1;
            st->qrels_rows++;
        }
        if (out_maybe_flush(&f, err)) { free(ql); free(qpath); out_abort(&f); return -1; }
    }
    free(ql);
    free(qpath);
    return out_commit(&f, err);
}

/* ---- export ---------------------------------------------------------------- */
static int write_report(session *s, const export_opts *o, const export_stats *st, const char *path, sy_err *err)
{
    sy_buf b = {0};
    if (export_report_json(s, o, st, &b)) { sy_buf_free(&b); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    char *rp = sy_strdup_printf("%s.report.json", path);
    int rc = rp ? sy_write_file_atomic(rp, b.data, b.len, err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(rp);
    sy_buf_free(&b);
    return rc;
}

/* The shortcut audit of a draw, as the model reads it (titles or not), with
 * BM25 scores when a scorer is open or the session's index exists. */
static int audit_draw(session *s, const mix_set *m, const export_opts *o, retriever *scorer, export_stats *st,
                      sy_err *err)
{
    retriever *own = NULL;
    if (!scorer) {
        char *bp = retriever_bm25_path(s);
        if (bp && sy_file_exists(bp)) {
            retriever_opts ro = {.kind = "bm25"};
            own = retriever_open(s, &ro, NULL);
        }
        free(bp);
    }
    int rc = audit_mix(m, o->no_title ? PASSAGE_NO_TITLES : PASSAGE_TITLES, scorer ? scorer : own, &st->audit, err);
    retriever_free(own);
    st->audited = rc == 0;
    return rc;
}

int export_write(session *s, const export_opts *o, const char *path, export_stats *st, sy_err *err)
{
    export_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (!o || o->format < 0 || o->format >= EXPORT_NFORMATS)
        return sy_fail(err, SY_EINVAL, "export: unknown format; use flag, st, tevatron or trec");
    if (!path || !*path) return sy_fail(err, SY_EINVAL, "export: no output file; give -o FILE");
    if (o->format == EXPORT_TREC) {
        if (write_trec(s, o, path, st, err)) return -1;
        return write_report(s, o, st, path, err);
    }
    /* passages as passage.h formats them: without titles when asked here or
     * by the session's passage.titles, for every source alike */
    export_opts eo = *o;
    if (!eo.no_title) {
        int t = passage_titles_setting(s, err);
        if (t < 0) return -1;
        eo.no_title = t == PASSAGE_NO_TITLES;
    }
    eo.mix.skip_offline = !eo.include_offline;
    o = &eo;
    unsigned E = o->epochs ? o->epochs : 1;
    mix_set *m = mix_build(s, &o->mix, err);
    if (!m) return -1;
    if (mix_ninstances(m) == 0) {
        mix_report rep = *mix_get_report(m);
        mix_free(m);
        return sy_fail(err, SY_ENOTFOUND,
                       "%s: no training instance: %zu positives, %zu of them without any usable negative; "
                       "mine or synthesize negatives first (syneg info shows the pool)",
                       session_name(s), rep.positives_qrels + rep.positives_promoted, rep.skipped_no_negatives);
    }
    retriever *scorer = NULL;
    float *sc = NULL;
    if (o->scores && o->format == EXPORT_FLAG) {
        retriever_opts ro = {.kind = "bm25"};
        sc = malloc((o->mix.num + 1) * sizeof *sc);
        if (!sc) { mix_free(m); return sy_fail(err, SY_ENOMEM, "out of memory"); }
        if (!(scorer = retriever_open(s, &ro, err))) { mix_free(m); free(sc); return -1; }
    }
    out_file f;
    if (out_open(&f, path, err)) { out_abort(&f); mix_free(m); retriever_free(scorer); free(sc); return -1; }
    for (unsigned e = 0; e < E; e++) {
        if (mix_draw(m, e, E, err)) goto fail;
        if (e == 0 && audit_draw(s, m, o, scorer, st, err)) goto fail;
        size_t n = mix_ninstances(m);
        for (size_t i = 0; i < n; i++) {
            if (scorer && score_instance(scorer, mix_at(m, i), sc, err) < 0) goto fail;
            write_instance(&f, o, mix_at(m, i), sc);
            st->lines++;
            if (out_maybe_flush(&f, err)) goto fail;
        }
    }
    st->mix = *mix_get_report(m);
    mix_free(m);
    m = NULL;
    retriever_free(scorer);
    scorer = NULL;
    free(sc);
    sc = NULL;
    st->bytes = f.bytes + f.b.len;
    if (out_commit(&f, err)) return -1;
    return write_report(s, o, st, path, err);
fail:
    out_abort(&f);
    mix_free(m);
    retriever_free(scorer);
    free(sc);
    return -1;
}

/* ---- import (FlagEmbedding JSONL -> negatives store) ----------------------- */
typedef struct { uint64_t h; uint32_t idx; } hidx;

static int cmp_hidx(const void *a, const void *b)
{
    const hidx *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int64_t hfind(const hidx *t, size_t n, uint64_t h)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid].h < h) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && t[lo].h == h ? (int64_t)t[lo].idx : -1;
}

static uint64_t thash(const char *s) { return sy_text_hash(s, strlen(s)); }

static void iwarn(import_stats *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void iwarn(import_stats *st, const char *fmt, ...)
{
    if (st->nwarn < 8) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->warn[st->nwarn], sizeof st->warn[0], fmt, ap);
        va_end(ap);
    }
    st->nwarn++;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int export_import_flag(session *s, const char *path, int replace, import_stats *st, sy_err *err)
{
    import_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (session_readonly(s))
        return sy_fail(err, SY_EREADONLY, "%s: the session is open elsewhere (pid %ld); close it there, then import",
                       session_dir(s), session_lock_holder(s));
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    size_t len;
    char *data = sy_read_file(path, &len, err);
    if (!data) return -1;

    uint32_t nd = corpus_ndocs(c), nq = corpus_nqueries(c);
    hidx *dh = malloc(((size_t)nd * 2 + 1) * sizeof *dh), *qh = malloc(((size_t)nq + 1) * sizeof *qh);
    sy_buf tmp = {0};
    sy_strmap seen;
    int seen_ok = sy_strmap_init(&seen, 1024) == 0;
    char **keyv = NULL;
    size_t nkeyv = 0, capkeyv = 0;
    neg_writer *w = NULL;
    if (!dh || !qh || !seen_ok) goto nomem;
    size_t ndh = 0;
    for (uint32_t d = 0; d < nd; d++) {
        dh[ndh++] = (hidx){ thash(corpus_doc_text(c, d)), d };
        const char *t = corpus_doc_title(c, d);
        if (t && *t) {   /* a line may quote the document as its passage with the title */
            tmp.len = 0;
            if (passage_append(&tmp, t, corpus_doc_text(c, d), (size_t)-1, PASSAGE_TITLES)) goto nomem;
            dh[ndh++] = (hidx){ sy_text_hash(tmp.data, tmp.len), d };
        }
    }
    qsort(dh, ndh, sizeof *dh, cmp_hidx);
    for (uint32_t q = 0; q < nq; q++) qh[q] = (hidx){ thash(corpus_query_text(c, q)), q };
    qsort(qh, nq, sizeof *qh, cmp_hidx);
    const corpus_qrels *qr = corpus_qrels_for(c, session_train_split(s));

    w = neg_writer_new(session_dir(s), "import", replace ? NEG_REPLACE : 0, err);
    if (!w) goto fail;

    const char *fname = base_name(path);
    size_t lineno = 0;
    char *p = data, *end = data + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        char *line = p;
        p = nl ? nl + 1 : end;
        while (le > line && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t')) le--;
        if (le == line) continue;
        st->lines++;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)(le - line), 0, &je);
        if (!o || !json_is_object(o)) {
            st->bad_lines++;
            iwarn(st, "%s:%zu: not a JSON object (%s); each line must be {\"query\",\"pos\",\"neg\"}",
                  path, lineno, o ? "other JSON value" : je.text);
            json_decref(o);
            continue;
        }
        json_t *jq = json_object_get(o, "query"), *jqid = json_object_get(o, "query_id");
        json_t *jpos = json_object_get(o, "pos"), *jneg = json_object_get(o, "neg");
        json_t *jns = json_object_get(o, "neg_scores");
        if ((!json_is_string(jq) && !json_is_string(jqid)) || !json_is_array(jneg) ||
            (jpos && !json_is_array(jpos)) || (jns && !json_is_array(jns))) {
            st->bad_lines++;
            iwarn(st, "%s:%zu: needs \"query\" (string) and \"neg\" (list of strings); \"pos\" and "
                  "\"neg_scores\" must be lists", path, lineno);
            json_decref(o);
            continue;
        }
        int64_t q = -1;
        if (json_is_string(jqid)) q = corpus_query_find(c, json_string_value(jqid));
        if (q < 0 && json_is_string(jq)) q = hfind(qh, nq, thash(json_string_value(jq)));
        if (q < 0) {
            st->queries_unknown++;
            iwarn(st, "%s:%zu: query \"%.40s\" is not in the session's data set; import pools built on the same data",
                  path, lineno, json_is_string(jq) ? json_string_value(jq) : json_string_value(jqid));
            json_decref(o);
            continue;
        }
        const char *qid = corpus_query_id(c, (uint32_t)q);
        size_t nprow = 0;
        const corpus_qrel *prow = qr ? corpus_qrels_of(qr, (uint32_t)q, &nprow) : NULL;
        /* positives: hashes (to flag duplicates) and matching against qrels */
        size_t npos = jpos ? json_array_size(jpos) : 0;
        uint64_t posh[64];
        size_t nposh = 0;
        for (size_t i = 0; i < npos; i++) {
            json_t *v = json_array_get(jpos, i);
            if (!json_is_string(v)) continue;
            uint64_t h = thash(json_string_value(v));
            if (nposh < 64) posh[nposh++] = h;
            int64_t d = hfind(dh, ndh, h);
            int ok = 0;
            for (size_t k = 0; d >= 0 && k < nprow; k++)
                if (prow[k].doc == (uint32_t)d && prow[k].rel > 0) ok = 1;
            if (!ok) st->pos_unmatched++;
        }
        size_t nneg = json_array_size(jneg);
        for (size_t i = 0; i < nneg; i++) {
            json_t *v = json_array_get(jneg, i);
            if (!json_is_string(v) || !*json_string_value(v)) {
                iwarn(st, "%s:%zu: neg[%zu] is not a non-empty string; skipped", path, lineno, i);
                continue;
            }
            const char *text = json_string_value(v);
            uint64_t h = thash(text);
            int64_t d = hfind(dh, ndh, h);
            char sid[48];
            neg_row r = { .query_id = qid, .rank = (uint32_t)(i + 1), .source = NEG_IMPORT };
            if (d >= 0) {
                r.neg_id = corpus_doc_id(c, (uint32_t)d);
            } else {
                neg_synthetic_id(NEG_IMPORT, text, sid, sizeof sid);
                r.neg_id = sid;
                r.text = text;
            }
            json_t *sc = jns ? json_array_get(jns, i) : NULL;
            r.score = json_is_number(sc) ? (float)json_number_value(sc) : 0.0f;
            for (size_t k = 0; k < nposh; k++)
                if (posh[k] == h) r.flags |= NEG_F_DUP;
            /* one row per (query, negative) */
            tmp.len = 0;
            if (sy_buf_printf(&tmp, "%u\x1f%s", (unsigned)q, r.neg_id) < 0) goto nomem;
            if (sy_strmap_get(&seen, tmp.data, tmp.len, NULL) == 1) { st->negs_repeated++; continue; }
            if (GROWK(keyv, nkeyv, capkeyv)) goto nomem;
            char *key = strdup(tmp.data);
            if (!key) goto nomem;
            keyv[nkeyv++] = key;
            if (sy_strmap_put(&seen, key, tmp.len, 1, NULL) < 0) goto nomem;
            char prov[600];
            {
                out_file pf = { .fd = -1, .a.fd = -1 };
                put(&pf, "{\"file\":"); jstr(&pf, fname);
                if (sy_buf_printf(&pf.b, ",\"line\":%zu}", lineno) < 0) pf.failed = 1;
                snprintf(prov, sizeof prov, "%s", pf.b.data ? pf.b.data : "{}");
                sy_buf_free(&pf.b);
            }
            r.prov = prov;
            if (neg_writer_add(w, &r, err)) { json_decref(o); goto fail; }
            st->rows++;
            if (d >= 0) st->negs_corpus++;
            else st->negs_text++;
            if (r.flags & NEG_F_DUP) st->negs_dup++;
        }
        json_decref(o);
    }
    if (st->rows == 0) {
        sy_fail(err, SY_EPARSE, "%s: no usable line (%zu lines, %zu malformed, %zu unknown queries)%s%s",
                path, st->lines, st->bad_lines, st->queries_unknown, st->nwarn ? "; first problem: " : "",
                st->nwarn ? st->warn[0] : "");
        goto fail;
    }
    if (neg_writer_commit(w, err)) goto fail;
    neg_writer_free(w);
    w = NULL;
    neg_store *ns = session_negs(s);
    int changed = 0;
    if (ns && neg_store_refresh(ns, &changed, err)) goto fail;
    free(data); free(dh); free(qh);
    sy_buf_free(&tmp);
    sy_strmap_free(&seen);
    for (size_t i = 0; i < nkeyv; i++) free(keyv[i]);
    free(keyv);
    return 0;
nomem:
    sy_fail(err, SY_ENOMEM, "%s: out of memory while importing", path);
fail:
    neg_writer_free(w);
    free(data); free(dh); free(qh);
    sy_buf_free(&tmp);
    if (seen_ok) sy_strmap_free(&seen);
    for (size_t i = 0; i < nkeyv; i++) free(keyv[i]);
    free(keyv);
    return -1;
}
