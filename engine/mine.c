/* mine: positive-aware hard-negative mining (see mine.h). */
#include "mine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negstore.h"
#include "passage.h"
#include "util.h"

#define MINE_BATCH 256

void mine_opts_default(mine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->range_lo = 10;
    o->range_hi = 100;
    o->num = 8;
    o->seed = 42;
    o->max_rel = 0.95;
    o->margin = NAN;
    o->max_score = NAN;
}

int mine_parse_range(const char *s, unsigned *lo, unsigned *hi, sy_err *err)
{
    char *end;
    unsigned long a = strtoul(s, &end, 10);
    if (end == s || *end != ':') goto bad;
    const char *p = end + 1;
    unsigned long b = strtoul(p, &end, 10);
    if (end == p || *end || b <= a || b > 100000) goto bad;
    *lo = (unsigned)a;
    *hi = (unsigned)b;
    return 0;
bad:
    return sy_fail(err, SY_EINVAL, "range '%s': expected A:B with 0 <= A < B <= 100000, e.g. 10:100", s);
}

/* ---- growable value lists for distributions ---- */
typedef struct { double *v; size_t n, cap; } dlist;

static int dl_add(dlist *d, double x)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 1024;
        double *p = realloc(d->v, nc * sizeof *p);
        if (!p) return -1;
        d->v = p;
        d->cap = nc;
    }
    d->v[d->n++] = x;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void dl_summary(dlist *d, mine_dist *out)
{
    memset(out, 0, sizeof *out);
    out->n = d->n;
    if (!d->n) return;
    qsort(d->v, d->n, sizeof *d->v, cmp_double);
    double s = 0;
    for (size_t i = 0; i < d->n; i++) s += d->v[i];
    out->mean = s / (double)d->n;
    out->min = d->v[0];
    out->max = d->v[d->n - 1];
    out->p10 = d->v[(size_t)(0.10 * (double)(d->n - 1) + 0.5)];
    out->p50 = d->v[(size_t)(0.50 * (double)(d->n - 1) + 0.5)];
    out->p90 = d->v[(size_t)(0.90 * (double)(d->n - 1) + 0.5)];
}

static uint64_t doc_hash(const corpus *c, uint32_t d, sy_buf *tmp)
{
    tmp->len = 0;   /* always with the title: two documents are copies when both agree */
    passage_append(tmp, corpus_doc_title(c, d), corpus_doc_text(c, d), corpus_doc_text_len(c, d), PASSAGE_TITLES);
    return sy_text_hash(tmp->data ? tmp->data : "", tmp->len);
}

/* text hashes are computed once per document and kept (0 = not yet) */
static uint64_t doc_hash_cached(const corpus *c, uint32_t d, uint64_t *cache, sy_buf *tmp)
{
    if (!cache[d]) cache[d] = doc_hash(c, d, tmp) | 1;
    return cache[d];
}

/* insert h into the open-addressing set (cap a power of two); 1 if it was new */
static int set_add(uint64_t *set, size_t cap, uint64_t h)
{
    size_t i = (size_t)(h ^ (h >> 31)) & (cap - 1);
    while (set[i]) {
        if (set[i] == h) return 0;
        i = (i + 1) & (cap - 1);
    }
    set[i] = h;
    return 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    uint32_t rank;    /* index in the retrieved list (0-based) */
    uint8_t flags;
} cand;

static void fmt_prov(sy_buf *b, double pos, int have_pos, float score, unsigned flags)
{
    b->len = 0;
    if (have_pos) sy_buf_printf(b, "{\"pos\":%.6g,\"ratio\":%.4f", pos, pos > 0 ? score / pos : 0.0);
    else sy_buf_puts(b, "{\"pos\":null");
    sy_buf_puts(b, ",\"filters\":[");
    int first = 1;
    static const struct { unsigned f; const char *name; } names[] = {
        {NEG_F_DUP, "dup-positive"}, {NEG_F_MAXSCORE, "max-score"}, {NEG_F_MARGIN, "margin"}, {NEG_F_MAXREL, "max-rel"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (flags & names[i].f) {
            sy_buf_printf(b, "%s\"%s\"", first ? "" : ",", names[i].name);
            first = 0;
        }
    sy_buf_puts(b, "]}");
}

int mine_run(session *s, retriever *r, const mine_opts *o, mine_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    double t_start = sy_now();
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    const char *split = o->split ? o->split : session_train_split(s);
    const corpus_qrels *qr = corpus_qrels_for(c, split);
    if (!qr) return sy_fail(err, SY_ENOTFOUND, "the data set has no qrels split '%s' to mine; pick one with --split", split);
    if (o->range_hi <= o->range_lo || o->num == 0)
        return sy_fail(err, SY_EINVAL, "mine: empty range %u:%u or --num 0", o->range_lo, o->range_hi);
    snprintf(rep->retriever, sizeof rep->retriever, "%s", retriever_kind(r));
    snprintf(rep->split, sizeof rep->split, "%s", split);
    rep->range_lo = o->range_lo;
    rep->range_hi = o->range_hi;
    rep->num = o->num;
    rep->sample_random = o->sample_random;
    rep->seed = o->seed;
    rep->max_rel = o->max_rel > 0 ? o->max_rel : NAN;
    rep->margin = o->margin;
    rep->max_score = o->max_score;
    int is_dense = !strcmp(retriever_kind(r), "dense");
    size_t k = o->range_hi;
    int rc = -1;
    uint32_t *qs = malloc((qr->n + 1) * sizeof *qs);
    size_t batch = (size_t)4 << 20;   /* at most ~4M hits (32 MiB) in flight */
    batch = batch / k < MINE_BATCH ? batch / k : MINE_BATCH;
    if (batch < 1) batch = 1;
    const char **texts = malloc(batch * sizeof *texts);
    uint32_t *docs = malloc(batch * k * sizeof *docs);
    float *scores = malloc(batch * k * sizeof *scores);
    cand *cands = malloc((k + 1) * sizeof *cands);
    uint32_t *pos = NULL, *clean = malloc((k + 1) * sizeof *clean);
    float *pscore = NULL;
    size_t seen_cap = 16;
    while (seen_cap < 2 * (k + 1)) seen_cap *= 2;
    uint64_t *phash = NULL, *seen = malloc(seen_cap * sizeof *seen);
    uint64_t *dhash = calloc(corpus_ndocs(c) + 1, sizeof *dhash);
    size_t pcap = 0;
    sy_buf tmp = {0}, prov = {0};
    dlist dpos = {0}, dneg = {0}, dgap = {0}, dsus = {0};
    neg_writer *w = NULL;
    char tag[32];
    snprintf(tag, sizeof tag, "mine-%s", retriever_kind(r));
    if (!qs || !texts || !docs || !scores || !cands || !clean || !seen || !dhash) { sy_fail(err, SY_ENOMEM, "mine: out of memory"); goto out; }
    size_t nqs = 0;
    for (size_t i = 0; i < qr->n; i++)
        if (!nqs || qs[nqs - 1] != qr->rows[i].query) qs[nqs++] = qr->rows[i].query;
    rep->queries = nqs;
    /* keep the queries that have a positive */
    size_t nm = 0;
    for (size_t i = 0; i < nqs; i++) {
        size_t n;
        const corpus_qrel *rows = corpus_qrels_of(qr, qs[i], &n);
        int any = 0;
        for (size_t j = 0; j < n; j++) any |= rows[j].rel >= 1;
        if (any) qs[nm++] = qs[i];
        else rep->no_positive++;
    }
    if (o->max_queries && nm > o->max_queries) nm = o->max_queries;
    if (!(w = neg_writer_new(session_dir(s), tag, NEG_REPLACE, err))) goto out;
    int src = is_dense ? NEG_DENSE : NEG_BM25;
    for (size_t b0 = 0; b0 < nm; b0 += batch) {
        size_t nb = nm - b0 < batch ? nm - b0 : batch;
        for (size_t i = 0; i < nb; i++) texts[i] = corpus_query_text(c, qs[b0 + i]);
        double t0 = sy_now();
        if (retriever_search(r, texts, nb, k, docs, scores, err) < 0) goto out;
        rep->retrieve_seconds += sy_now() - t0;
        for (size_t i = 0; i < nb; i++) {
            uint32_t q = qs[b0 + i];
            const char *qid = corpus_query_id(c, q);
            const uint32_t *qd = docs + i * k;
            const float *qsc = scores + i * k;
            size_t n, np = 0;
            const corpus_qrel *rows = corpus_qrels_of(qr, q, &n);
            if (n > pcap) {
                uint32_t *a = realloc(pos, n * sizeof *a);
                if (a) pos = a;
                float *b = realloc(pscore, n * sizeof *b);
                if (b) pscore = b;
                uint64_t *h = realloc(phash, n * sizeof *h);
                if (h) phash = h;
                if (!a || !b || !h) { sy_fail(err, SY_ENOMEM, "mine: out of memory"); goto out; }
                pcap = n;
            }
            for (size_t j = 0; j < n; j++) if (rows[j].rel >= 1) pos[np++] = rows[j].doc;
            qsort(pos, np, sizeof *pos, cmp_u32);
            for (size_t j = 0; j < np; j++) phash[j] = doc_hash_cached(c, pos[j], dhash, &tmp);
            /* the best positive's score */
            int have_pos = 0;
            double P = 0;
            if (!is_dense) {
                if (retriever_score_docs(r, texts[i], pos, np, pscore, err) < 0) goto out;
                for (size_t j = 0; j < np; j++) if (!have_pos || pscore[j] > P) { P = pscore[j]; have_pos = 1; }
            } else {
                for (size_t h = 0; h < k && qd[h] != UINT32_MAX; h++)
                    if (bsearch(&qd[h], pos, np, sizeof *pos, cmp_u32) && (!have_pos || qsc[h] > P)) {
                        P = qsc[h];
                        have_pos = 1;
                    }
            }
            if (have_pos && P <= 0) have_pos = 0;   /* no positive matches at all: no scale to compare with */
            if (have_pos) dl_add(&dpos, P);
            else rep->no_pos_score++;
            /* candidates in the window */
            size_t nc = 0, nclean = 0;
            memset(seen, 0, seen_cap * sizeof *seen);
            for (size_t h = o->range_lo; h < k && qd[h] != UINT32_MAX; h++) {
                rep->candidates++;
                if (bsearch(&qd[h], pos, np, sizeof *pos, cmp_u32)) { rep->masked_pos++; continue; }
                uint64_t th = doc_hash_cached(c, qd[h], dhash, &tmp);
                unsigned flags = 0;
                if (!set_add(seen, seen_cap, th)) { rep->dup_neg++; continue; }
                for (size_t j = 0; j < np; j++)
                    if (phash[j] == th) { flags |= NEG_F_DUP; rep->dup_pos++; break; }
                double sc = qsc[h];
                if (!isnan(o->max_score) && sc > o->max_score) { flags |= NEG_F_MAXSCORE; rep->by_max_score++; }
                if (have_pos && !isnan(o->margin) && sc > P - o->margin) { flags |= NEG_F_MARGIN; rep->by_margin++; }
                if (have_pos && o->max_rel > 0 && sc > o->max_rel * P) { flags |= NEG_F_MAXREL; rep->by_max_rel++; }
                if (flags) flags |= NEG_F_SUSPECT;
                cands[nc].rank = (uint32_t)h;
                cands[nc].flags = (uint8_t)flags;
                if (!flags) clean[nclean++] = (uint32_t)nc;
                nc++;
            }
            /* choose num clean candidates */
            size_t take = nclean < o->num ? nclean : o->num;
            if (o->sample_random && nclean > take) {
                uint64_t st = o->seed ^ sy_hash64(qid, strlen(qid));
                for (size_t j = 0; j < take; j++) {
                    size_t pick = j + (size_t)(sy_splitmix64(&st) % (nclean - j));
                    uint32_t t = clean[j]; clean[j] = clean[pick]; clean[pick] = t;
                }
                qsort(clean, take, sizeof *clean, cmp_u32);
            }
            if (take < o->num) rep->short_queries++;
            rep->mined++;
            /* write: chosen clean negatives, then every suspect */
            size_t ci = 0;
            for (size_t j = 0; j < nc; j++) {
                int chosen = ci < take && clean[ci] == j;
                if (chosen) ci++;
                if (!chosen && !cands[j].flags) continue;
                float sc = qsc[cands[j].rank];
                fmt_prov(&prov, P, have_pos, sc, cands[j].flags);
                neg_row row = {.query_id = qid, .neg_id = corpus_doc_id(c, qd[cands[j].rank]), .prov = prov.data,
                               .rank = cands[j].rank + 1, .score = sc, .source = (uint8_t)src,
                               .flags = cands[j].flags};
                if (neg_writer_add(w, &row, err) < 0) goto out;
                if (cands[j].flags) { rep->suspects++; dl_add(&dsus, sc); }
                else {
                    rep->negatives++;
                    dl_add(&dneg, sc);
                    if (have_pos) dl_add(&dgap, P - sc);
                }
            }
        }
        if (o->progress) o->progress(o->progress_ctx, b0 + nb, nm);
    }
    if (neg_writer_commit(w, err) < 0) goto out;
    dl_summary(&dpos, &rep->pos);
    dl_summary(&dneg, &rep->neg);
    dl_summary(&dgap, &rep->gap);
    dl_summary(&dsus, &rep->suspect);
    rep->seconds = sy_now() - t_start;
    /* save the report */
    {
        char rel[64];
        snprintf(rel, sizeof rel, "cache/mine-%s-report.json", retriever_kind(r));
        char *dir = session_path(s, "cache"), *path = session_path(s, rel);
        json_t *j = mine_report_json(rep);
        char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
        int ok = dir && path && txt && sy_mkdir_p(dir, err) == 0 &&
                 sy_write_file_atomic(path, txt, strlen(txt), err) == 0;
        if (!ok && dir && path && !txt) sy_fail(err, SY_ENOMEM, "mine: out of memory");
        free(dir); free(path); free(txt);
        json_decref(j);
        if (!ok) goto out;
    }
    rc = 0;
out:
    neg_writer_free(w);
    free(qs); free(texts); free(docs); free(scores); free(cands); free(pos); free(clean);
    free(pscore); free(phash); free(seen); free(dhash);
    sy_buf_free(&tmp); sy_buf_free(&prov);
    free(dpos.v); free(dneg.v); free(dgap.v); free(dsus.v);
    return rc;
}

static json_t *dist_json(const mine_dist *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)d->n));
    json_object_set_new(o, "mean", json_real(d->mean));
    json_object_set_new(o, "min", json_real(d->min));
    json_object_set_new(o, "p10", json_real(d->p10));
    json_object_set_new(o, "p50", json_real(d->p50));
    json_object_set_new(o, "p90", json_real(d->p90));
    json_object_set_new(o, "max", json_real(d->max));
    return o;
}

json_t *mine_report_json(const mine_report *r)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char range[32];
    snprintf(range, sizeof range, "%u:%u", r->range_lo, r->range_hi);
    json_object_set_new(o, "retriever", json_string(r->retriever));
    json_object_set_new(o, "split", json_string(r->split));
    json_object_set_new(o, "range", json_string(range));
    json_object_set_new(o, "num", json_integer(r->num));
    json_object_set_new(o, "sample", json_string(r->sample_random ? "random" : "top"));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "max_rel", isnan(r->max_rel) ? json_null() : json_real(r->max_rel));
    json_object_set_new(o, "margin", isnan(r->margin) ? json_null() : json_real(r->margin));
    json_object_set_new(o, "max_score", isnan(r->max_score) ? json_null() : json_real(r->max_score));
#define I(name) json_object_set_new(o, #name, json_integer((json_int_t)r->name))
    I(queries); I(mined); I(no_positive); I(short_queries); I(no_pos_score); I(candidates);
    I(masked_pos); I(dup_pos); I(dup_neg); I(by_max_score); I(by_margin); I(by_max_rel);
    I(suspects); I(negatives);
#undef I
    json_object_set_new(o, "positive_score", dist_json(&r->pos));
    json_object_set_new(o, "negative_score", dist_json(&r->neg));
    json_object_set_new(o, "gap", dist_json(&r->gap));
    json_object_set_new(o, "suspect_score", dist_json(&r->suspect));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    json_object_set_new(o, "retrieve_seconds", json_real(r->retrieve_seconds));
    return o;
}
