/* judge: LLM verdicts on retrieved negatives (see judge.h). */
#include "judge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crossenc.h"
#include "llm.h"
#include "negstore.h"
#include "passage.h"
#include "prompt.h"
#include "settings.h"
#include "synth.h"
#include "util.h"

#define CE_BATCH 32

void judge_llm_opts_default(judge_llm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->budget_usd = -1;
}

float judge_combine(float fnl, int is_fn, double weight)
{
    double p = fnl > 0 && fnl <= 1 ? fnl : 0.5;   /* no likelihood yet: no opinion */
    double w = weight < 0 ? 0 : weight > 1 ? 1 : weight;
    p = is_fn ? 1.0 - (1.0 - p) * (1.0 - w) : p * (1.0 - w);
    return p < 1e-6 ? 1e-6f : (float)p;
}

/* the passage as the reflection prompt shows it: title, then the text */
static char *doc_text(const corpus *c, uint32_t d)
{
    const char *t = corpus_doc_title(c, d);
    if (t && *t) return sy_strdup_printf("%s\n%s", t, corpus_doc_text(c, d));
    return strdup(corpus_doc_text(c, d));
}

int judge_in_shard(const char *query_id, unsigned shard_i, unsigned shard_n)
{
    if (shard_n <= 1) return 1;
    return sy_hash64(query_id, strlen(query_id)) % shard_n == shard_i;
}

/* The best-graded positive of query q in qr other than the candidate itself
 * (a positive is never judged against itself); JUDGE_POS_BEST when none. */
static uint32_t best_positive(const corpus_qrels *qr, uint32_t q, uint32_t cand)
{
    size_t n;
    const corpus_qrel *rows = corpus_qrels_of(qr, q, &n);
    const corpus_qrel *best = NULL;
    for (size_t j = 0; j < n; j++)
        if (rows[j].rel > 0 && rows[j].doc != cand && (!best || rows[j].rel > best->rel)) best = &rows[j];
    return best ? best->doc : JUDGE_POS_BEST;
}

struct run;
typedef struct {
    struct run *r;
    neg_ref ref;            /* the store row (cand == NULL) */
    judge_cand *cand;       /* or the list entry that gets the verdict */
    const char *qtext;      /* borrowed from the corpus */
    char *pos, *neg;        /* passages */
    json_t *judge;          /* verdicts so far */
    int stage;              /* 0: first model, 1: cascade */
    int is_fn;              /* last usable verdict, -1 none */
} item;

typedef struct run {
    session *s;
    corpus *c;
    const corpus_qrels *qr;
    neg_store *ns;
    const judge_llm_opts *o;
    prompt_template *tpl;
    llm_client *first, *second;
    const char *model1, *model2;
    neg_writer *w;
    size_t uncommitted, done, total;
    judge_report *rep;
    sy_err werr;
    int write_failed;
} run;

static int validate(void *ctx, const char *content, char *why, size_t n)
{
    (void)ctx;
    int is_fn;
    char *reason = NULL;
    int rc = synth_parse_verdict(content, &is_fn, &reason, why, n);
    free(reason);
    return rc;
}

static int submit(run *r, item *it, sy_err *err);

/* Write the row again with the verdicts in prov and the moved likelihood. */
static void write_row(run *r, item *it)
{
    neg_row row;
    neg_store_get(r->ns, it->ref, &row);
    json_t *prov = row.prov ? json_loads(row.prov, 0, NULL) : NULL;
    if (!json_is_object(prov)) {
        json_decref(prov);
        prov = json_object();
    }
    json_t *old = json_object_get(prov, "judge");
    if (json_is_object(old)) json_object_update(old, it->judge);
    else json_object_set(prov, "judge", it->judge);
    char *ps = json_dumps(prov, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(prov);
    float base = neg_row_has_fnl(&row) ? row.fnl : neg_row_queue_key(&row);
    row.fnl = judge_combine(base, it->is_fn, JUDGE_LLM_WEIGHT);
    if (it->is_fn) row.flags |= NEG_F_SUSPECT | NEG_F_REFLECT_FN;
    else if (!(row.flags & (NEG_F_DUP | NEG_F_MAXREL | NEG_F_MARGIN | NEG_F_MAXSCORE)))
        row.flags &= (uint8_t)~(NEG_F_SUSPECT | NEG_F_REFLECT_FN);
    row.prov = ps;
    if (!ps || r->write_failed) r->write_failed = 1;
    else if (neg_writer_add(r->w, &row, &r->werr) < 0) r->write_failed = 1;
    else if (++r->uncommitted >= JUDGE_COMMIT_EVERY) {
        if (neg_writer_commit(r->w, &r->werr) < 0) r->write_failed = 1;
        r->uncommitted = 0;
    }
    free(ps);
}

static void finish(run *r, item *it)
{
    if (it->is_fn >= 0) {
        if (it->is_fn) r->rep->false_neg++;
        else r->rep->negative++;
        if (it->cand) it->cand->verdict = it->is_fn;
        else write_row(r, it);
    }
    r->done++;
    if (r->o->progress) r->o->progress(r->o->progress_ctx, r->done, r->total);
}

static void on_done(void *ctx, const llm_result *res)
{
    item *it = ctx;
    run *r = it->r;
    int is_fn = -1;
    char *reason = NULL;
    char why[256] = "";
    if (res->outcome == LLM_OK && synth_parse_verdict(res->content, &is_fn, &reason, why, sizeof why) < 0) is_fn = -1;
    json_t *v = json_object();
    json_object_set_new(v, "verdict", is_fn < 0 ? json_null() : json_string(is_fn ? "false_negative" : "negative"));
    if (reason) json_object_set_new(v, "reason", json_string(reason));
    json_object_set_new(v, "model", json_string(it->stage ? r->model2 : r->model1));
    json_object_set_new(v, "request", json_string(res->key ? res->key : ""));
    if (is_fn < 0) {
        json_object_set_new(v, "error", json_string(res->outcome == LLM_OK ? why : llm_outcome_name(res->outcome)));
        if (!r->rep->first_error[0])
            snprintf(r->rep->first_error, sizeof r->rep->first_error, "%s: %.200s",
                     llm_outcome_name(res->outcome), res->error && *res->error ? res->error : why);
    }
    json_object_set_new(it->judge, it->stage ? "llm_cascade" : "llm", v);
    free(reason);
    if (res->outcome == LLM_E_BUDGET) r->rep->not_sent++;
    else if (is_fn < 0) r->rep->failed++;
    if (is_fn >= 0 || it->stage == 0) {
        /* the cascade's verdict is final; the first one stands when the second gave none */
        if (is_fn >= 0) it->is_fn = is_fn;
    }
    if (it->stage == 0 && r->second && is_fn != 0 && res->outcome != LLM_E_BUDGET) {
        it->stage = 1;
        r->rep->escalated++;
        sy_err err = {0};
        if (submit(r, it, &err) == 0) return;
        r->rep->failed++;
    }
    finish(r, it);
}

static int submit(run *r, item *it, sy_err *err)
{
    prompt_kv v[] = {{"query", it->qtext}, {"positive", it->pos}, {"negative", it->neg}, {"previous", ""}};
    json_t *m = prompt_render(r->tpl, v, 4, err);
    if (!m) return -1;
    llm_request req = {.messages = m, .validate = validate, .done = on_done, .ctx = it};
    int rc = llm_submit(it->stage ? r->second : r->first, &req, NULL, err);
    json_decref(m);
    return rc;
}

/* A client configured as synthesis' is (llm_config_from_session), with the
 * session's answer cache and spend ledger. */
static llm_client *client_for(session *s, const char *model, double budget, sy_err *err)
{
    llm_config cfg;
    llm_config_from_session(s, model, &cfg);
    cfg.budget_usd = budget;
    char *cache = session_path(s, "cache/llm");
    if (!cache) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    cfg.cache_dir = cache;
    llm_client *c = llm_client_new(&cfg, err);
    free(cache);
    return c;
}

static int is_judged(const neg_row *row)
{
    if (!row->prov || !strstr(row->prov, "\"judge\"")) return 0;
    json_t *p = json_loads(row->prov, 0, NULL);
    json_t *v = json_object_get(json_object_get(json_object_get(p, "judge"), "llm"), "verdict");
    int yes = json_is_string(v);
    json_decref(p);
    return yes;
}

/* Checks, the qrels and the template: what every LLM run needs first. */
static int llm_prepare(run *r, session *s, const judge_llm_opts *o, const char *split, sy_err *err)
{
    if (!(r->c = session_corpus(s, err))) return -1;
    if (settings_check_session(s, "llm.", err) < 0) return -1;
    const char *url = settings_str(s, "llm.url");
    r->model1 = o->model ? o->model : settings_str(s, "llm.model");
    if (!url || !*url)
        return sy_fail(err, SY_EINVAL, "the LLM judge needs an endpoint: set SYNEG_LLM_URL or 'syneg set SESSION llm.url URL'");
    if (!r->model1 || !*r->model1)
        return sy_fail(err, SY_EINVAL, "the LLM judge needs a model: set SYNEG_LLM_MODEL, llm.model or --model");
    if (!split) split = session_train_split(s);
    if (!(r->qr = corpus_qrels_for(r->c, split))) return sy_fail(err, SY_ENOTFOUND, "the data set has no qrels split '%s'", split);
    if (o->template_path) r->tpl = prompt_template_load(o->template_path, err);
    else {
        char *pd = prompt_find_dir(session_dir(s), err);
        char *tp = pd ? sy_path_join(pd, "reflect.txt") : NULL;
        r->tpl = tp ? prompt_template_load(tp, err) : NULL;
        free(pd);
        free(tp);
    }
    return r->tpl ? 0 : -1;
}

/* Fill one item: the query, its positive and the candidate's passage. */
static int item_init(run *r, item *it, uint32_t q, uint32_t d, uint32_t pos, sy_err *err)
{
    it->r = r;
    it->qtext = corpus_query_text(r->c, q);
    it->pos = doc_text(r->c, pos);
    it->neg = doc_text(r->c, d);
    it->judge = json_object();
    it->is_fn = -1;
    if (!it->pos || !it->neg || !it->judge) return sy_fail(err, SY_ENOMEM, "out of memory");
    return 0;
}

/* Ask about every item through the client(s); verdicts go to the store (when
 * r->w) or to the items' candidates.  Spending and counts go to r->rep. */
static int llm_drive(run *r, item *items, size_t nitems, int to_store, sy_err *err)
{
    session *s = r->s;
    const judge_llm_opts *o = r->o;
    r->total = nitems;
    r->rep->asked = nitems;
    if (!nitems) return 0;
    double budget = o->budget_usd >= 0 ? o->budget_usd : settings_num(s, "llm.budget_usd");
    if (!(r->first = client_for(s, r->model1, budget, err))) return -1;
    if (o->cascade_model && !(r->second = client_for(s, o->cascade_model, budget, err))) return -1;
    if (to_store && !(r->w = neg_writer_new(session_dir(s), "judge-llm", 0, err))) return -1;
    size_t next = 0, window = (size_t)settings_int(s, "llm.concurrency") * 2 + 4;
    while (next < nitems || llm_pending(r->first) || (r->second && llm_pending(r->second))) {
        while (next < nitems && llm_pending(r->first) < window) {
            if (submit(r, &items[next], err) < 0) return -1;
            next++;
        }
        llm_step(r->first, r->second ? 50 : 250);
        if (r->second) llm_step(r->second, 50);
    }
    if (r->w && r->uncommitted && neg_writer_commit(r->w, &r->werr) < 0) r->write_failed = 1;
    if (r->write_failed) {
        *err = r->werr;
        if (!err->msg[0]) sy_fail(err, SY_ENOMEM, "judge: out of memory writing verdicts");
        return -1;
    }
    return 0;
}

static void llm_cleanup(run *r, item *items, size_t nitems)
{
    for (int k = 0; k < 2; k++) {
        llm_client *cl = k ? r->second : r->first;
        if (!cl) continue;
        llm_stats st;
        llm_get_stats(cl, &st);
        r->rep->requests += st.http_requests;
        r->rep->cache_hits += st.cache_hits;
        r->rep->cost_usd += st.cost_usd;
        r->rep->budget_reached |= st.budget_reached;
    }
    llm_client_free(r->first);
    llm_client_free(r->second);
    neg_writer_free(r->w);
    prompt_template_free(r->tpl);
    for (size_t i = 0; i < nitems; i++) {
        free(items[i].pos);
        free(items[i].neg);
        json_decref(items[i].judge);
    }
    free(items);
}

int judge_llm_run(session *s, const judge_llm_opts *o, judge_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    run r = {.s = s, .ns = session_negs(s), .o = o, .rep = rep, .model2 = o->cascade_model};
    int rc = -1, changed;
    item *items = NULL;
    size_t nitems = 0, nq = 0;
    neg_ref *queue = NULL;
    if (o->shard_n > 1 && o->shard_i >= o->shard_n)
        return sy_fail(err, SY_EINVAL, "judge: shard %u/%u: the index must be below the count", o->shard_i, o->shard_n);
    if (llm_prepare(&r, s, o, NULL, err) < 0) goto out;
    if (!r.ns || neg_store_refresh(r.ns, &changed, err) < 0) {
        if (!r.ns) sy_fail(err, SY_EIO, "no negatives store");
        goto out;
    }
    /* the rows to judge: retrieved corpus documents of the queue, most likely first */
    queue = neg_store_ranked(r.ns, !o->all_rows, &nq);
    items = calloc(nq ? nq : 1, sizeof *items);
    if (!items) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < nq; i++) {
        neg_row row;
        neg_store_get(r.ns, queue[i], &row);
        if (!judge_in_shard(row.query_id, o->shard_i, o->shard_n)) continue;
        int64_t d = row.text ? -1 : corpus_doc_find(r.c, row.neg_id);
        int64_t q = corpus_query_find(r.c, row.query_id);
        if (d < 0 || q < 0) continue;
        rep->queue++;
        if (!o->force && is_judged(&row)) { rep->already++; continue; }
        if (o->limit && nitems >= o->limit) continue;
        uint32_t pos = best_positive(r.qr, (uint32_t)q, (uint32_t)d);
        if (pos == JUDGE_POS_BEST) continue;
        item *it = &items[nitems++];
        it->ref = queue[i];
        if (item_init(&r, it, (uint32_t)q, (uint32_t)d, pos, err) < 0) goto out;
    }
    rc = llm_drive(&r, items, nitems, 1, err);
out:
    llm_cleanup(&r, items, nitems);
    free(queue);
    return rc;
}

typedef struct { float fnl; size_t i; } by_fnl;

static int cmp_by_fnl(const void *a, const void *b)
{
    const by_fnl *x = a, *y = b;
    if (x->fnl != y->fnl) return x->fnl > y->fnl ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int judge_llm_cands(session *s, const judge_llm_opts *o, const char *split, judge_cand *c, size_t n,
                    judge_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    for (size_t i = 0; i < n; i++) {
        c[i].verdict = -1;
        c[i].p = NAN;
    }
    run r = {.s = s, .o = o, .rep = rep, .model2 = o->cascade_model};
    int rc = -1;
    item *items = NULL;
    size_t nitems = 0;
    by_fnl *order = NULL;
    if (llm_prepare(&r, s, o, split, err) < 0) goto out;
    items = calloc(n ? n : 1, sizeof *items);
    order = malloc((n ? n : 1) * sizeof *order);
    if (!items || !order) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    /* most likely first, as the queue asks (what a budget cuts off is the tail) */
    for (size_t i = 0; i < n; i++) order[i] = (by_fnl){isnan(c[i].fnl) ? 0 : c[i].fnl, i};
    qsort(order, n, sizeof *order, cmp_by_fnl);
    rep->queue = n;
    for (size_t k = 0; k < n && (!o->limit || nitems < o->limit); k++) {
        judge_cand *jc = &c[order[k].i];
        uint32_t pos = jc->pos != JUDGE_POS_BEST ? jc->pos : best_positive(r.qr, jc->query, jc->doc);
        if (pos == JUDGE_POS_BEST) continue;
        item *it = &items[nitems++];
        it->cand = jc;
        if (item_init(&r, it, jc->query, jc->doc, pos, err) < 0) goto out;
    }
    rc = llm_drive(&r, items, nitems, 0, err);
out:
    llm_cleanup(&r, items, nitems);
    free(order);
    return rc;
}

void judge_ce_opts_default(judge_ce_opts *o)
{
    memset(o, 0, sizeof *o);
    o->low = 0.1;
    o->high = 0.9;
}

/* Rewrite a row with the cross-encoder's verdict (is_fn -1: unsure). */
static int ce_write(neg_writer *w, const neg_row *orig, json_t *v, int is_fn, sy_err *err)
{
    neg_row row = *orig;
    json_t *prov = row.prov ? json_loads(row.prov, 0, NULL) : NULL;
    if (!json_is_object(prov)) {
        json_decref(prov);
        prov = json_object();
    }
    json_t *j = json_object_get(prov, "judge");
    if (!json_is_object(j)) {
        j = json_object();
        json_object_set_new(prov, "judge", j);
    }
    json_object_set(j, "cross_encoder", v);
    char *ps = json_dumps(prov, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(prov);
    if (!ps) return sy_fail(err, SY_ENOMEM, "out of memory");
    if (is_fn >= 0) {
        float base = neg_row_has_fnl(&row) ? row.fnl : neg_row_queue_key(&row);
        row.fnl = judge_combine(base, is_fn, JUDGE_CE_WEIGHT);
        if (is_fn) row.flags |= NEG_F_SUSPECT;
        else if (!(row.flags & (NEG_F_DUP | NEG_F_MAXREL | NEG_F_MARGIN | NEG_F_MAXSCORE | NEG_F_REFLECT_FN)))
            row.flags &= (uint8_t)~NEG_F_SUSPECT;
    }
    row.prov = ps;
    int rc = neg_writer_add(w, &row, err);
    free(ps);
    return rc;
}

static int ce_check(const judge_ce_opts *o, sy_err *err)
{
    if (!o->model_dir) return sy_fail(err, SY_EINVAL, "the cross-encoder judge needs a model folder");
    if (!(o->low >= 0 && o->low <= o->high && o->high <= 1))
        return sy_fail(err, SY_EINVAL, "cross-encoder thresholds must satisfy 0 <= low <= high <= 1 (got %g, %g)", o->low,
                       o->high);
    if (o->shard_n > 1 && o->shard_i >= o->shard_n)
        return sy_fail(err, SY_EINVAL, "judge: shard %u/%u: the index must be below the count", o->shard_i, o->shard_n);
    return 0;
}

/* Score jc[0..n) in batches; p and the RocketQA verdict of each (the one place
 * the thresholds are applied).  rep: asked, false_neg, negative, failed (unsure). */
static int ce_score(crossenc *ce, const corpus *c, int titles, const judge_ce_opts *o, judge_cand *jc, size_t n,
                    judge_report *rep, sy_err *err)
{
    const char *qs[CE_BATCH];
    char *ps[CE_BATCH] = {0};
    float logits[CE_BATCH];
    for (size_t b0 = 0; b0 < n; b0 += CE_BATCH) {
        size_t nb = n - b0 < CE_BATCH ? n - b0 : CE_BATCH;
        for (size_t k = 0; k < nb; k++) {
            const judge_cand *x = &jc[b0 + k];
            qs[k] = corpus_query_text(c, x->query);
            ps[k] = passage_format(corpus_doc_title(c, x->doc), corpus_doc_text(c, x->doc), titles);
            if (!ps[k]) {
                for (size_t j = 0; j < k; j++) free(ps[j]);
                return sy_fail(err, SY_ENOMEM, "out of memory");
            }
        }
        int rc = crossenc_score(ce, qs, (const char *const *)ps, nb, logits, err);
        for (size_t k = 0; k < nb; k++) {
            free(ps[k]);
            ps[k] = NULL;
        }
        if (rc < 0) return -1;
        for (size_t k = 0; k < nb; k++) {
            judge_cand *x = &jc[b0 + k];
            double p = 1.0 / (1.0 + exp(-(double)logits[k]));
            x->p = p;
            x->logit = logits[k];
            x->verdict = p >= o->high ? 1 : p <= o->low ? 0 : -1;
            if (x->verdict == 1) rep->false_neg++;
            else if (x->verdict == 0) rep->negative++;
            else rep->failed++;
        }
        rep->asked += nb;
        if (o->progress) o->progress(o->progress_ctx, rep->asked, n);
    }
    return 0;
}

int judge_ce_cands(session *s, const judge_ce_opts *o, judge_cand *jc, size_t n, judge_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    for (size_t i = 0; i < n; i++) {
        jc[i].verdict = -1;
        jc[i].p = NAN;
    }
    if (ce_check(o, err) < 0) return -1;
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    int titles = passage_titles_setting(s, err);
    if (titles < 0) return -1;
    crossenc *ce = crossenc_load(o->model_dir, err);
    if (!ce) return -1;
    rep->queue = n;
    int rc = ce_score(ce, c, titles, o, jc, n, rep, err);
    crossenc_free(ce);
    return rc;
}

/* The store rows a cross-encoder run scores: the queue (shard, limit), or
 * exactly the rows of o->only.  refs[i] and jc[i] name the same row. */
static int ce_rows(neg_store *ns, const corpus *c, const judge_ce_opts *o, neg_ref **refs_out, judge_cand **jc_out,
                   size_t *n_out, judge_report *rep, sy_err *err)
{
    size_t nq = 0, n = 0;
    neg_ref *queue = NULL;
    if (o->only) {
        queue = malloc((o->nonly ? o->nonly : 1) * sizeof *queue);
        if (!queue) return sy_fail(err, SY_ENOMEM, "out of memory");
        for (size_t i = 0; i < o->nonly; i++) {
            const char *qid = corpus_query_id(c, o->only[i].query), *did = corpus_doc_id(c, o->only[i].doc);
            size_t nr;
            const neg_ref *rr = neg_store_query(ns, qid, &nr);
            for (size_t j = 0; j < nr; j++) {
                neg_row row;
                neg_store_get(ns, rr[j], &row);
                if (row.source == o->only_source && !row.text && !strcmp(row.neg_id, did)) {
                    queue[nq++] = rr[j];
                    break;
                }
            }
        }
    } else queue = neg_store_ranked(ns, !o->all_rows, &nq);
    neg_ref *refs = malloc((nq ? nq : 1) * sizeof *refs);
    judge_cand *jc = calloc(nq ? nq : 1, sizeof *jc);
    if (!refs || !jc) {
        free(queue);
        free(refs);
        free(jc);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nq; i++) {
        neg_row row;
        neg_store_get(ns, queue[i], &row);
        if (!o->only && !judge_in_shard(row.query_id, o->shard_i, o->shard_n)) continue;
        int64_t d = row.text ? -1 : corpus_doc_find(c, row.neg_id);
        int64_t q = corpus_query_find(c, row.query_id);
        if (d < 0 || q < 0) continue;
        rep->queue++;
        if (!o->only && o->limit && n >= o->limit) continue;
        refs[n] = queue[i];
        jc[n] = (judge_cand){.query = (uint32_t)q, .doc = (uint32_t)d, .pos = JUDGE_POS_BEST, .fnl = row.fnl,
                             .verdict = -1, .p = NAN};
        n++;
    }
    free(queue);
    *refs_out = refs;
    *jc_out = jc;
    *n_out = n;
    return 0;
}

int judge_ce_run(session *s, const judge_ce_opts *o, judge_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    if (ce_check(o, err) < 0) return -1;
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    int titles = passage_titles_setting(s, err);
    if (titles < 0) return -1;
    neg_store *ns = session_negs(s);
    int changed;
    if (!ns || neg_store_refresh(ns, &changed, err) < 0) return ns ? -1 : sy_fail(err, SY_EIO, "no negatives store");
    crossenc *ce = crossenc_load(o->model_dir, err);
    if (!ce) return -1;
    neg_ref *refs = NULL;
    judge_cand *jc = NULL;
    size_t n = 0;
    neg_writer *w = NULL;
    int rc = -1;
    if (ce_rows(ns, c, o, &refs, &jc, &n, rep, err) < 0) goto out;
    if (ce_score(ce, c, titles, o, jc, n, rep, err) < 0) goto out;
    if (!(w = neg_writer_new(session_dir(s), "judge-ce", 0, err))) goto out;
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(ns, refs[i], &row);
        int is_fn = jc[i].verdict;
        double p = jc[i].p, logit = jc[i].logit;
        json_t *v = json_pack("{s:s,s:f,s:f,s:s}", "verdict",
                              is_fn < 0 ? "unsure" : is_fn ? "false_negative" : "negative", "logit", logit, "p", p,
                              "model", o->model_dir);
        if (!v) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
        int wr = ce_write(w, &row, v, is_fn, err);
        json_decref(v);
        if (wr < 0) goto out;
    }
    if (neg_writer_commit(w, err) < 0) goto out;
    rc = 0;
out:
    neg_writer_free(w);
    free(refs);
    free(jc);
    crossenc_free(ce);
    return rc;
}

int judge_list_run(void *ctx, judge_cand *c, size_t n, sy_err *err)
{
    judge_list *jl = ctx;
    int rc = jl->ce ? judge_ce_cands(jl->s, jl->ce, c, n, &jl->rep, err)
                    : judge_llm_cands(jl->s, jl->llm, jl->split, c, n, &jl->rep, err);
    if (rc < 0) return -1;
    double w = jl->ce ? JUDGE_CE_WEIGHT : JUDGE_LLM_WEIGHT;
    for (size_t i = 0; i < n; i++)
        if (c[i].verdict >= 0) c[i].fnl = judge_combine(c[i].fnl, c[i].verdict, w);
    return 0;
}
