/* eval: trec_eval-exact metrics and the retrieval evaluation driver (see eval.h). */
#include "eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void eval_opts_default(eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ncuts = 3;
    o->cuts[0] = 10;
    o->cuts[1] = 100;
    o->cuts[2] = 1000;
    o->rel_level = 1;
    o->complete = 1;   /* over every judged query, as BEIR/Anserini numbers are (trec_eval -c) */
}

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

int eval_parse_cuts(eval_opts *o, const char *s, sy_err *err)
{
    size_t n = 0;
    unsigned cuts[EVAL_MAX_CUTS];
    const char *p = s;
    while (*p) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v == 0 || v > 1000000 || (*end && *end != ','))
            return sy_fail(err, SY_EINVAL, "cut-offs '%s': expected comma-separated positive numbers, e.g. 10,100,1000", s);
        if (n == EVAL_MAX_CUTS)
            return sy_fail(err, SY_EINVAL, "cut-offs '%s': at most %d values", s, EVAL_MAX_CUTS);
        cuts[n++] = (unsigned)v;
        p = *end ? end + 1 : end;
    }
    if (!n) return sy_fail(err, SY_EINVAL, "cut-offs '%s': give at least one number", s);
    qsort(cuts, n, sizeof *cuts, cmp_uint);
    o->ncuts = 0;
    for (size_t i = 0; i < n; i++)
        if (!o->ncuts || cuts[i] != o->cuts[o->ncuts - 1]) o->cuts[o->ncuts++] = cuts[i];
    return 0;
}

/* trec_eval's comp_sim_docno: score descending, then docno descending */
static int cmp_hit(const void *a, const void *b)
{
    const eval_hit *x = a, *y = b;
    if (x->score > y->score) return -1;
    if (x->score < y->score) return 1;
    return strcmp(y->docno, x->docno);
}

static int cmp_judg(const void *a, const void *b)
{
    return strcmp(((const eval_judgment *)a)->docno, ((const eval_judgment *)b)->docno);
}

static int cmp_int_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

int eval_query(const eval_opts *o, eval_hit *hits, size_t nhits, const eval_judgment *j, size_t nj,
               eval_result *out, sy_err *err)
{
    memset(out, 0, sizeof *out);
    int level = o->rel_level > 0 ? o->rel_level : 1;
    eval_judgment *js = malloc((nj + 1) * sizeof *js);
    int *rels = malloc((nhits + 1) * sizeof *rels), *ideal = malloc((nj + 1) * sizeof *ideal);
    if (!js || !rels || !ideal) {
        free(js); free(rels); free(ideal);
        return sy_fail(err, SY_ENOMEM, "eval: out of memory");
    }
    if (nj) memcpy(js, j, nj * sizeof *js);
    if (nj) qsort(js, nj, sizeof *js, cmp_judg);
    if (nhits) qsort(hits, nhits, sizeof *hits, cmp_hit);
    size_t nideal = 0;
    for (size_t i = 0; i < nj; i++) {
        if (js[i].rel >= level) out->num_rel++;
        if (js[i].rel > 0) ideal[nideal++] = js[i].rel;
    }
    qsort(ideal, nideal, sizeof *ideal, cmp_int_desc);
    /* relevance of each hit: binary search in the sorted judgments; unjudged = -1 */
    for (size_t i = 0; i < nhits; i++) {
        eval_judgment key = {hits[i].docno, 0};
        const eval_judgment *f = nj ? bsearch(&key, js, nj, sizeof *js, cmp_judg) : NULL;
        rels[i] = f ? (f->rel < 0 ? -2 : f->rel) : -1;
    }
    out->num_ret = nhits;
    double dcg = 0, idcg = 0, ap = 0;
    size_t rel_ret = 0, first_rel = 0, c = 0;
    size_t last_cut = o->ncuts ? o->cuts[o->ncuts - 1] : 0;
    size_t upto = nhits > last_cut ? nhits : last_cut;
    for (size_t i = 0; i < upto; i++) {
        int r = i < nhits ? rels[i] : 0;
        if (i < nhits) {
            if (r > 0) dcg += r / log2((double)(i + 2));
            if (r >= level) {
                rel_ret++;
                ap += (double)rel_ret / (double)(i + 1);
                if (!first_rel) first_rel = i + 1;
            }
        }
        if (i < nideal) idcg += ideal[i] / log2((double)(i + 2));
        while (c < o->ncuts && o->cuts[c] == i + 1) {
            out->ndcg[c] = idcg > 0 ? dcg / idcg : 0;
            out->recall[c] = out->num_rel ? (double)rel_ret / (double)out->num_rel : 0;
            out->precision[c] = (double)rel_ret / (double)o->cuts[c];
            out->mrr[c] = first_rel ? 1.0 / (double)first_rel : 0;
            c++;
        }
    }
    out->num_rel_ret = 0;
    for (size_t i = 0; i < nhits; i++) out->num_rel_ret += rels[i] >= level;
    out->map = out->num_rel ? ap / (double)out->num_rel : 0;
    free(js); free(rels); free(ideal);
    return 0;
}

void eval_acc_init(eval_acc *a, const eval_opts *o)
{
    memset(a, 0, sizeof *a);
    a->o = *o;
}

void eval_acc_add(eval_acc *a, const eval_result *r, size_t nhits)
{
    if (nhits == 0 && !a->o.complete) return;
    for (size_t c = 0; c < a->o.ncuts; c++) {
        a->sum.ndcg[c] += r->ndcg[c];
        a->sum.mrr[c] += r->mrr[c];
        a->sum.recall[c] += r->recall[c];
        a->sum.precision[c] += r->precision[c];
    }
    a->sum.map += r->map;
    a->sum.num_rel += r->num_rel;
    a->sum.num_ret += r->num_ret;
    a->sum.num_rel_ret += r->num_rel_ret;
    a->queries++;
}

void eval_acc_mean(const eval_acc *a, eval_result *m)
{
    memset(m, 0, sizeof *m);
    if (!a->queries) return;
    double n = (double)a->queries;
    for (size_t c = 0; c < a->o.ncuts; c++) {
        m->ndcg[c] = a->sum.ndcg[c] / n;
        m->mrr[c] = a->sum.mrr[c] / n;
        m->recall[c] = a->sum.recall[c] / n;
        m->precision[c] = a->sum.precision[c] / n;
    }
    m->map = a->sum.map / n;
    m->num_rel = a->sum.num_rel;
    m->num_ret = a->sum.num_ret;
    m->num_rel_ret = a->sum.num_rel_ret;
}

int eval_format_run_line(char *buf, size_t n, const char *qid, const char *docid, size_t rank,
                         float score, const char *tag)
{
    return snprintf(buf, n, "%s Q0 %s %zu %.6f %s\n", qid, docid, rank, (double)score, tag);
}

/* the score trec_eval reads back from a "%.6f" run file */
static float run_file_score(float s)
{
    return (float)(nearbyint((double)s * 1e6) / 1e6);
}

#define EVAL_BATCH 512

/* one hit on its way to the run file: the trec_eval key and the score as retrieved */
typedef struct { eval_hit h; float raw; } run_hit;

static int cmp_run_hit(const void *a, const void *b)
{
    return cmp_hit(&((const run_hit *)a)->h, &((const run_hit *)b)->h);
}

int eval_retriever(retriever *r, const corpus *c, const eval_run_opts *o, eval_report *out, sy_err *err)
{
    memset(out, 0, sizeof *out);
    const corpus_qrels *qr = o->split ? corpus_qrels_for(c, o->split) : NULL;
    if (!qr)
        return sy_fail(err, SY_ENOTFOUND, "split '%s' has no qrels in this data set; use --split with one of its qrels files",
                       o->split ? o->split : "(none)");
    size_t depth = o->depth;
    size_t last_cut = o->metrics.ncuts ? o->metrics.cuts[o->metrics.ncuts - 1] : 0;
    if (!depth) depth = last_cut > 1000 ? last_cut : 1000;
    /* the judged queries, in qrels order */
    size_t batch = ((size_t)4 << 20) / depth;   /* at most ~4M hits (32 MiB) in flight */
    if (batch > EVAL_BATCH) batch = EVAL_BATCH;
    if (batch < 1) batch = 1;
    uint32_t *qs = malloc((qr->n + 1) * sizeof *qs);
    const char **texts = malloc(batch * sizeof *texts);
    uint32_t *docs = malloc(batch * depth * sizeof *docs);
    float *scores = malloc(batch * depth * sizeof *scores);
    eval_hit *hits = malloc((depth + 1) * sizeof *hits);
    run_hit *rh = malloc((depth + 1) * sizeof *rh);
    eval_judgment *jud = NULL;
    size_t jcap = 0, nqs = 0;
    FILE *run = NULL;
    int rc = -1;
    char tag[64];
    snprintf(tag, sizeof tag, "%s", o->run_tag ? o->run_tag : "");
    if (!o->run_tag) snprintf(tag, sizeof tag, "syneg-%s", retriever_kind(r));
    if (!qs || !texts || !docs || !scores || !hits || !rh) { sy_fail(err, SY_ENOMEM, "eval: out of memory"); goto out; }
    for (size_t i = 0; i < qr->n; i++)
        if (!nqs || qs[nqs - 1] != qr->rows[i].query) qs[nqs++] = qr->rows[i].query;
    if (o->run_path && !(run = fopen(o->run_path, "w"))) {
        sy_fail_errno(err, errno, "%s: cannot write the run file", o->run_path);
        goto out;
    }
    eval_acc acc;
    eval_acc_init(&acc, &o->metrics);
    out->judged = nqs;
    for (size_t b0 = 0; b0 < nqs; b0 += batch) {
        size_t nb = nqs - b0 < batch ? nqs - b0 : batch;
        for (size_t i = 0; i < nb; i++) texts[i] = corpus_query_text(c, qs[b0 + i]);
        double t0 = sy_now();
        if (retriever_search(r, texts, nb, depth, docs, scores, err) < 0) goto out;
        out->seconds += sy_now() - t0;
        for (size_t i = 0; i < nb; i++) {
            uint32_t q = qs[b0 + i];
            const char *qid = corpus_query_id(c, q);
            size_t nh = 0;
            for (size_t h = 0; h < depth; h++) {
                uint32_t d = docs[i * depth + h];
                if (d == UINT32_MAX) break;
                const char *did = corpus_doc_id(c, d);
                if (o->remove_query && !strcmp(did, qid)) continue;
                rh[nh].h.docno = did;
                rh[nh].h.score = run_file_score(scores[i * depth + h]);
                rh[nh].raw = scores[i * depth + h];
                nh++;
            }
            /* the run lists hits in the order trec_eval evaluates them (equal scores
             * as written: document id descending), so its rank column is that order */
            if (nh) qsort(rh, nh, sizeof *rh, cmp_run_hit);
            for (size_t h = 0; h < nh; h++) {
                hits[h] = rh[h].h;
                if (run && fprintf(run, "%s Q0 %s %zu %.6f %s\n", qid, rh[h].h.docno, h + 1,
                                   (double)rh[h].raw, tag) < 0) {
                    sy_fail_errno(err, errno, "%s: cannot write the run file", o->run_path);
                    goto out;
                }
            }
            size_t nj;
            const corpus_qrel *rows = corpus_qrels_of(qr, q, &nj);
            if (nj > jcap) {
                eval_judgment *nw = realloc(jud, nj * sizeof *nw);
                if (!nw) { sy_fail(err, SY_ENOMEM, "eval: out of memory"); goto out; }
                jud = nw;
                jcap = nj;
            }
            int any_rel = 0;
            for (size_t k = 0; k < nj; k++) {
                jud[k].docno = corpus_doc_id(c, rows[k].doc);
                jud[k].rel = rows[k].rel;
                any_rel |= rows[k].rel >= (o->metrics.rel_level > 0 ? o->metrics.rel_level : 1);
            }
            out->no_relevant += !any_rel;
            out->no_hits += nh == 0;
            eval_result res;
            if (eval_query(&o->metrics, hits, nh, jud, nj, &res, err) < 0) goto out;
            eval_acc_add(&acc, &res, nh);
        }
        if (o->progress) o->progress(o->progress_ctx, b0 + nb, nqs);
    }
    eval_acc_mean(&acc, &out->mean);
    out->queries = acc.queries;
    if (run) {
        int bad = ferror(run);
        if (fclose(run) != 0 || bad) {
            run = NULL;
            sy_fail_errno(err, errno, "%s: cannot write the run file", o->run_path);
            goto out;
        }
        run = NULL;
    }
    rc = 0;
out:
    if (run) fclose(run);
    free(qs); free(texts); free(docs); free(scores); free(hits); free(rh); free(jud);
    return rc;
}
