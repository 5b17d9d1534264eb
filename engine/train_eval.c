/* train_eval: evaluation during training: exact dense search with the
 * current weights over the corpus (or a fixed subset), trec_eval-exact
 * metrics from eval.h.  Part of the train module; shared state in train_int.h. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "passage.h"
#include "train_int.h"

char *train_doc_text(const corpus *c, uint32_t d, int titles)
{
    return passage_format(corpus_doc_title(c, d), corpus_doc_text(c, d), titles);
}

/* ---- evaluation ---- */

typedef struct { float s; uint32_t d; } scored;

static void heap_push(scored *h, size_t *n, size_t k, scored x)
{
    /* min-heap of the k best by (score desc, doc asc) */
#define WORSE(a, b) ((a).s < (b).s || ((a).s == (b).s && (a).d > (b).d))
    if (*n < k) {
        size_t i = (*n)++;
        h[i] = x;
        while (i && WORSE(h[i], h[(i - 1) / 2])) {
            scored tmp = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = tmp;
            i = (i - 1) / 2;
        }
        return;
    }
    if (!WORSE(h[0], x)) return;
    h[0] = x;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < *n && WORSE(h[l], h[w])) w = l;
        if (r < *n && WORSE(h[r], h[w])) w = r;
        if (w == i) break;
        scored tmp = h[i]; h[i] = h[w]; h[w] = tmp;
        i = w;
    }
}

/* The documents an evaluation searches, fixed for the run: the whole corpus,
 * or with eval_docs > 0 every judged document of the evaluated queries plus a
 * seeded sample of eval_docs others (a subset evaluation, for big corpora). */
static int eval_corpus(trainer *t, const corpus_qrels *qr, const uint32_t *qs, size_t nq, sy_err *err)
{
    size_t nd = corpus_ndocs(t->c), n = 0;
    t->eval_docs = malloc((nd ? nd : 1) * sizeof *t->eval_docs);
    if (!t->eval_docs) return sy_fail(err, SY_ENOMEM, "out of memory");
    if (t->o.eval_docs <= 0 || (size_t)t->o.eval_docs >= nd) {
        for (size_t d = 0; d < nd; d++) t->eval_docs[n++] = (uint32_t)d;
    } else {
        unsigned char *mark = calloc(nd, 1);
        if (!mark) return sy_fail(err, SY_ENOMEM, "out of memory");
        for (size_t i = 0; i < nq; i++) {
            size_t nr;
            const corpus_qrel *r = corpus_qrels_of(qr, qs[i], &nr);
            for (size_t k = 0; k < nr; k++) mark[r[k].doc] = 1;
        }
        /* a seeded sample: documents whose hash falls below the wanted fraction */
        uint64_t cut = (uint64_t)((double)t->o.eval_docs / (double)nd * 18446744073709551615.0);
        for (size_t d = 0; d < nd; d++) {
            uint64_t s = t->o.seed ^ (0x9e3779b97f4a7c15ull * (d + 1));
            if (rng_next(&s) <= cut) mark[d] = 1;
        }
        for (size_t d = 0; d < nd; d++)
            if (mark[d]) t->eval_docs[n++] = (uint32_t)d;
        free(mark);
    }
    t->doc_texts = calloc(n ? n : 1, sizeof *t->doc_texts);
    if (!t->doc_texts) return sy_fail(err, SY_ENOMEM, "out of memory");
    t->ndoc_texts = n;
    for (size_t i = 0; i < n; i++)
        if (!(t->doc_texts[i] = train_doc_text(t->c, t->eval_docs[i], t->o.no_titles ? PASSAGE_NO_TITLES : PASSAGE_TITLES))) return sy_fail(err, SY_ENOMEM, "out of memory");
    return 0;
}

json_t *train_evaluate(trainer *t, sy_err *err)
{
    const char *split = session_eval_split(t->s);
    const corpus_qrels *qr = corpus_qrels_for(t->c, split);
    if (!qr) {
        sy_fail(err, SY_ENOTFOUND, "%s: no eval split '%s'", session_source_path(t->s), split);
        return NULL;
    }
    size_t nd = corpus_ndocs(t->c), nq = 0;
    uint32_t *qs = malloc((corpus_qrels_nqueries(qr) + 1) * sizeof *qs);
    if (!qs) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    for (size_t i = 0; i < qr->n; i++) {
        if (qr->rows[i].rel <= 0) continue;
        if (nq && qs[nq - 1] == qr->rows[i].query) continue;
        if (t->o.eval_queries > 0 && nq >= (size_t)t->o.eval_queries) break;
        qs[nq++] = qr->rows[i].query;
    }
    if (!t->doc_texts && eval_corpus(t, qr, qs, nq, err)) { free(qs); return NULL; }
    nd = t->ndoc_texts;
    int C = t->m->cfg.hidden;
    float *D = train_falloc(nd * C), *Q = train_falloc((nq ? nq : 1) * C), *S = train_falloc(nd);
    const char **qt = malloc((nq ? nq : 1) * sizeof *qt);
    scored *heap = malloc(100 * sizeof *heap);
    eval_hit *hits = malloc(100 * sizeof *hits);
    eval_judgment *judg = malloc(4096 * sizeof *judg);
    json_t *res = NULL;
    if (!D || !Q || !S || !qt || !heap || !hits || !judg) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < nq; i++) qt[i] = corpus_query_text(t->c, qs[i]);
    if (enc_embed(t->m, (const char *const *)t->doc_texts, nd, 0, D, NULL, NULL, err) ||
        enc_embed(t->m, qt, nq, 1, Q, NULL, NULL, err))
        goto out;
    eval_opts eo;
    eval_opts_default(&eo);
    eo.ncuts = 2;
    eo.cuts[0] = 10;
    eo.cuts[1] = 100;
    eval_acc acc;
    eval_acc_init(&acc, &eo);
    size_t K = nd < 100 ? nd : 100;
    for (size_t i = 0; i < nq; i++) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nd, C, 1.0f, D, C, Q + i * C, 1, 0.0f, S, 1);
        size_t hn = 0;
        for (size_t d = 0; d < nd; d++) heap_push(heap, &hn, K, (scored){ S[d], t->eval_docs[d] });
        size_t nr;
        const corpus_qrel *r = corpus_qrels_of(qr, qs[i], &nr);
        for (size_t k = 0; k < hn; k++) hits[k] = (eval_hit){ corpus_doc_id(t->c, heap[k].d), heap[k].s };
        size_t nj = nr < 4096 ? nr : 4096;
        for (size_t k = 0; k < nj; k++) judg[k] = (eval_judgment){ corpus_doc_id(t->c, r[k].doc), r[k].rel };
        eval_result one;
        if (eval_query(&eo, hits, hn, judg, nj, &one, err)) goto out;
        eval_acc_add(&acc, &one, hn);
    }
    eval_result mean;
    eval_acc_mean(&acc, &mean);
    res = json_pack("{s:s, s:I, s:f, s:f, s:f}", "split", split, "queries", (json_int_t)acc.queries,
                    "ndcg@10", mean.ndcg[0], "mrr@10", mean.mrr[0], "recall@100", mean.recall[1]);
    if (res && nd < corpus_ndocs(t->c)) json_object_set_new(res, "docs", json_integer((json_int_t)nd));
out:
    free(qs); free(D); free(Q); free(S); free(qt); free(heap); free(hits); free(judg);
    return res;
}

