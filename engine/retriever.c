/* retriever: "bm25" | "dense" behind one batch-search interface (see retriever.h). */
#include "retriever.h"
#include "parfor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bm25.h"
#include "index.h"
#include "settings.h"
#include "util.h"

#define MAX_THREADS 8

struct retriever {
    char kind[8];
    session *s;
    bm25_index *bm[MAX_THREADS];
    int nbm;
    dense_index *dense;
};

char *retriever_bm25_path(const session *s) { return session_path(s, "cache/bm25/index.bin"); }

typedef struct {
    const retriever_opts *o;
} build_ctx;

static void build_progress(void *ctx, size_t done, size_t total)
{
    const retriever_opts *o = ctx;
    if (o && o->progress) o->progress(o->progress_ctx, "bm25 index", done, total);
}

int retriever_bm25_build(session *s, const retriever_opts *o, sy_err *err)
{
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    char *dir = session_path(s, "cache/bm25"), *path = retriever_bm25_path(s);
    int rc = -1;
    if (dir && path && sy_mkdir_p(dir, err) == 0) {
        bm25_build_opts bo = {o ? o->nthreads : 0, build_progress, (void *)o};
        rc = bm25_build(c, path, &bo, err);
        if (rc < 0) sy_err_prefix(err, "building the BM25 index %s", path);
    } else if (!dir || !path) {
        sy_fail(err, SY_ENOMEM, "out of memory");
    }
    free(dir);
    free(path);
    return rc;
}

static int open_bm25(retriever *r, const retriever_opts *o, sy_err *err)
{
    corpus *c = session_corpus(r->s, err);
    if (!c) return -1;
    char *path = retriever_bm25_path(r->s);
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    int rc = -1;
    bm25_index *ix = NULL;
    if (!(o && o->rebuild) && sy_file_exists(path)) {
        ix = bm25_open(path, NULL);
        if (ix && (bm25_fingerprint(ix) != bm25_corpus_fingerprint(c) || bm25_ndocs(ix) != corpus_ndocs(c))) {
            bm25_free(ix);   /* stale: the corpus changed */
            ix = NULL;
        }
    }
    if (!ix) {
        if (retriever_bm25_build(r->s, o, err) < 0) goto out;
        if (!(ix = bm25_open(path, err))) goto out;
    }
    if (settings_check_session(r->s, "bm25.", err) < 0) goto out;
    float k1 = (float)settings_num(r->s, "bm25.k1");
    float b = (float)settings_num(r->s, "bm25.b");
    int nt = o && o->nthreads > 0 ? o->nthreads : 2;
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    r->bm[0] = ix;
    r->nbm = 1;
    for (int t = 1; t < nt; t++) {
        if (!(r->bm[t] = bm25_open(path, err))) goto out;
        r->nbm++;
    }
    for (int t = 0; t < r->nbm; t++)
        if (bm25_set_params(r->bm[t], k1, b, err) < 0) {
            sy_err_prefix(err, "session settings bm25.k1/bm25.b");
            goto out;
        }
    rc = 0;
out:
    free(path);
    return rc;
}

static void dense_progress(void *ctx, size_t done, size_t total)
{
    const retriever_opts *o = ctx;
    if (o && o->progress) o->progress(o->progress_ctx, "embedding", done, total);
}

retriever *retriever_open(session *s, const retriever_opts *o, sy_err *err)
{
    const char *kind = o && o->kind ? o->kind : "bm25";
    retriever *r = calloc(1, sizeof *r);
    if (!r) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    r->s = s;
    if (!strcmp(kind, "bm25")) {
        strcpy(r->kind, "bm25");
        if (open_bm25(r, o, err) < 0) goto fail;
    } else if (!strcmp(kind, "dense")) {
        strcpy(r->kind, "dense");
        if (!o->model_dir) {
            sy_fail(err, SY_EINVAL, "retriever dense needs a model folder; give --model DIR");
            goto fail;
        }
        dense_opts d;
        memset(&d, 0, sizeof d);
        d.normalize = -1;
        d.storage = o->storage;
        d.precision = o->precision;
        d.progress = dense_progress;
        d.progress_ctx = (void *)o;
        if (!(r->dense = dense_open(s, o->model_dir, &d, err))) goto fail;
    } else {
        sy_fail(err, SY_EINVAL, "unknown retriever '%s'; use bm25 or dense", kind);
        goto fail;
    }
    return r;
fail:
    retriever_free(r);
    return NULL;
}

void retriever_free(retriever *r)
{
    if (!r) return;
    for (int t = 0; t < r->nbm; t++) bm25_free(r->bm[t]);
    dense_free(r->dense);
    free(r);
}

const char *retriever_kind(const retriever *r) { return r->kind; }
const char *retriever_notice(const retriever *r) { return r->dense ? dense_notice(r->dense) : NULL; }

typedef struct {
    bm25_index *ix;
    const char *const *queries;
    size_t nq, k, t, nt;
    uint32_t *docs;
    float *scores;
    sy_err err;
    int rc;
} search_job;

static void search_run(void *arg, size_t lo, size_t hi, int part)
{
    search_job *j = (search_job *)arg + part;   /* one part per job: its own index handle */
    (void)lo, (void)hi;
    for (size_t q = j->t; q < j->nq; q += j->nt) {
        uint32_t *d = j->docs + q * j->k;
        float *s = j->scores + q * j->k;
        long n = bm25_search(j->ix, j->queries[q], j->k, d, s, &j->err);
        if (n < 0) { j->rc = -1; return; }
        for (size_t i = (size_t)n; i < j->k; i++) { d[i] = UINT32_MAX; s[i] = -INFINITY; }
    }
}

int retriever_search(retriever *r, const char *const *queries, size_t nq, size_t k,
                     uint32_t *docs, float *scores, sy_err *err)
{
    if (r->dense) return dense_search(r->dense, queries, nq, k, docs, scores, err);
    search_job jobs[MAX_THREADS];
    int nt = r->nbm;
    if ((size_t)nt > nq) nt = nq ? (int)nq : 1;
    for (int t = 0; t < nt; t++) {
        jobs[t] = (search_job){r->bm[t], queries, nq, k, (size_t)t, (size_t)nt, docs, scores, {0}, 0};
    }
    sy_par_for((size_t)nt, nt, search_run, jobs);
    for (int t = 0; t < nt; t++)
        if (jobs[t].rc < 0) {
            if (err) *err = jobs[t].err;
            return -1;
        }
    return 0;
}

int retriever_score_docs(retriever *r, const char *query, const uint32_t *docs, size_t n,
                         float *scores, sy_err *err)
{
    if (!r->nbm) return sy_fail(err, SY_EUNSUP, "scoring given documents is not available for the %s retriever", r->kind);
    return bm25_score_docs(r->bm[0], query, docs, n, scores, err);
}

int retriever_score_texts(retriever *r, const char *query, const char *const *titles, const char *const *texts,
                          size_t n, float *scores, sy_err *err)
{
    if (!r->nbm) return sy_fail(err, SY_EUNSUP, "scoring given texts is not available for the %s retriever", r->kind);
    return bm25_score_texts(r->bm[0], query, titles, texts, n, scores, err);
}
