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

#define LLM_WEIGHT 0.9   /* how far one LLM verdict moves the likelihood */
#define CE_WEIGHT 0.7    /* ... and a cross-encoder verdict */
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

struct run;
typedef struct {
    struct run *r;
    neg_ref ref;
    const char *qtext;      /* borrowed from the corpus */
    char *pos, *neg;        /* passages */
    json_t *judge;          /* verdicts so far */
    int stage;              /* 0: first model, 1: cascade */
    int is_fn;              /* last usable verdict, -1 none */
} item;

typedef struct run {
    session *s;
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
    row.fnl = judge_combine(base, it->is_fn, LLM_WEIGHT);
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
        write_row(r, it);
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

/* A client configured from the session's llm.* settings, as synthesis does. */
static llm_client *client_for(session *s, const char *model, double budget, sy_err *err)
{
    llm_config cfg;
    llm_config_defaults(&cfg);
    cfg.url = settings_str(s, "llm.url");
    cfg.model = model;
    cfg.key = getenv("SYNEG_LLM_KEY");
    if (!cfg.key || !*cfg.key) cfg.key = getenv("OPENAI_API_KEY");
    cfg.temperature = settings_num(s, "llm.temperature");
    cfg.max_tokens = (int)settings_int(s, "llm.max_tokens");
    cfg.seed = settings_int(s, "llm.seed");
    cfg.json_mode = settings_bool(s, "llm.json_mode");
    cfg.concurrency = (int)settings_int(s, "llm.concurrency");
    cfg.rpm = settings_num(s, "llm.rpm");
    cfg.tpm = settings_num(s, "llm.tpm");
    cfg.connect_timeout_s = settings_num(s, "llm.connect_timeout_s");
    cfg.timeout_s = settings_num(s, "llm.timeout_s");
    cfg.backoff_base_s = settings_num(s, "llm.backoff_s");
    cfg.backoff_max_s = settings_num(s, "llm.backoff_max_s");
    cfg.max_retries = (int)settings_int(s, "llm.max_retries");
    cfg.retry_budget = settings_int(s, "llm.retry_budget");
    cfg.budget_usd = budget;
    json_t *price = json_object_get(session_get(s, "llm.prices"), model);
    if (json_is_object(price)) {
        json_t *pi = json_object_get(price, "input"), *po = json_object_get(price, "output");
        if (json_is_number(pi)) cfg.price_in = json_number_value(pi);
        if (json_is_number(po)) cfg.price_out = json_number_value(po);
    }
    const char *tr = getenv("SYNEG_TRACE");
    cfg.trace_path = tr && *tr ? tr : NULL;
    char *cache = session_path(s, "cache/llm");
    cfg.cache_dir = cache;
    llm_client *c = cache ? llm_client_new(&cfg, err) : NULL;
    if (!cache) sy_fail(err, SY_ENOMEM, "out of memory");
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

int judge_llm_run(session *s, const judge_llm_opts *o, judge_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    if (settings_check_session(s, "llm.", err) < 0) return -1;
    const char *url = settings_str(s, "llm.url");
    const char *model = o->model ? o->model : settings_str(s, "llm.model");
    if (!url || !*url)
        return sy_fail(err, SY_EINVAL, "the LLM judge needs an endpoint: set SYNEG_LLM_URL or 'syneg set SESSION llm.url URL'");
    if (!model || !*model)
        return sy_fail(err, SY_EINVAL, "the LLM judge needs a model: set SYNEG_LLM_MODEL, llm.model or --model");
    const corpus_qrels *qr = corpus_qrels_for(c, session_train_split(s));
    if (!qr) return sy_fail(err, SY_ENOTFOUND, "the data set has no qrels split '%s'", session_train_split(s));
    run r = {.s = s, .ns = session_negs(s), .o = o, .rep = rep, .model1 = model, .model2 = o->cascade_model};
    int rc = -1, changed;
    item *items = NULL;
    size_t nitems = 0, nq = 0;
    neg_ref *queue = NULL;
    if (!r.ns || neg_store_refresh(r.ns, &changed, err) < 0) return r.ns ? -1 : sy_fail(err, SY_EIO, "no negatives store");
    /* the template */
    if (o->template_path) r.tpl = prompt_template_load(o->template_path, err);
    else {
        char *pd = prompt_find_dir(session_dir(s), err);
        char *tp = pd ? sy_path_join(pd, "reflect.txt") : NULL;
        r.tpl = tp ? prompt_template_load(tp, err) : NULL;
        free(pd);
        free(tp);
    }
    if (!r.tpl) goto out;
    /* the rows to judge: retrieved corpus documents of the queue, most likely first */
    queue = neg_store_ranked(r.ns, !o->all_rows, &nq);
    items = calloc(nq ? nq : 1, sizeof *items);
    if (!items) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < nq; i++) {
        neg_row row;
        neg_store_get(r.ns, queue[i], &row);
        int64_t d = row.text ? -1 : corpus_doc_find(c, row.neg_id);
        int64_t q = corpus_query_find(c, row.query_id);
        if (d < 0 || q < 0) continue;
        rep->queue++;
        if (!o->force && is_judged(&row)) { rep->already++; continue; }
        if (o->limit && nitems >= o->limit) continue;
        size_t n;
        const corpus_qrel *rows = corpus_qrels_of(qr, (uint32_t)q, &n);
        const corpus_qrel *best = NULL;
        for (size_t j = 0; j < n; j++)
            if (rows[j].rel > 0 && (!best || rows[j].rel > best->rel)) best = &rows[j];
        if (!best) continue;
        item *it = &items[nitems++];
        it->r = &r;
        it->ref = queue[i];
        it->qtext = corpus_query_text(c, (uint32_t)q);
        it->pos = doc_text(c, best->doc);
        it->neg = doc_text(c, (uint32_t)d);
        it->judge = json_object();
        it->is_fn = -1;
        if (!it->pos || !it->neg || !it->judge) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    }
    r.total = nitems;
    rep->asked = nitems;
    if (!nitems) { rc = 0; goto out; }
    double budget = o->budget_usd >= 0 ? o->budget_usd : settings_num(s, "llm.budget_usd");
    if (!(r.first = client_for(s, model, budget, err))) goto out;
    if (o->cascade_model && !(r.second = client_for(s, o->cascade_model, budget, err))) goto out;
    if (!(r.w = neg_writer_new(session_dir(s), "judge-llm", 0, err))) goto out;
    size_t next = 0, window = (size_t)settings_int(s, "llm.concurrency") * 2 + 4;
    while (next < nitems || llm_pending(r.first) || (r.second && llm_pending(r.second))) {
        while (next < nitems && llm_pending(r.first) < window) {
            if (submit(&r, &items[next], err) < 0) goto out;
            next++;
        }
        llm_step(r.first, r.second ? 50 : 250);
        if (r.second) llm_step(r.second, 50);
    }
    if (r.uncommitted && neg_writer_commit(r.w, &r.werr) < 0) r.write_failed = 1;
    if (r.write_failed) {
        *err = r.werr;
        if (!err->msg[0]) sy_fail(err, SY_ENOMEM, "judge: out of memory writing verdicts");
        goto out;
    }
    rc = 0;
out:
    for (int k = 0; k < 2; k++) {
        llm_client *cl = k ? r.second : r.first;
        if (!cl) continue;
        llm_stats st;
        llm_get_stats(cl, &st);
        rep->requests += st.http_requests;
        rep->cache_hits += st.cache_hits;
        rep->cost_usd += st.cost_usd;
        rep->budget_reached |= st.budget_reached;
    }
    llm_client_free(r.first);
    llm_client_free(r.second);
    neg_writer_free(r.w);
    prompt_template_free(r.tpl);
    for (size_t i = 0; i < nitems; i++) {
        free(items[i].pos);
        free(items[i].neg);
        json_decref(items[i].judge);
    }
    free(items);
    free(queue);
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
        row.fnl = judge_combine(base, is_fn, CE_WEIGHT);
        if (is_fn) row.flags |= NEG_F_SUSPECT;
        else if (!(row.flags & (NEG_F_DUP | NEG_F_MAXREL | NEG_F_MARGIN | NEG_F_MAXSCORE | NEG_F_REFLECT_FN)))
            row.flags &= (uint8_t)~NEG_F_SUSPECT;
    }
    row.prov = ps;
    int rc = neg_writer_add(w, &row, err);
    free(ps);
    return rc;
}

int judge_ce_run(session *s, const judge_ce_opts *o, judge_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    if (!o->model_dir) return sy_fail(err, SY_EINVAL, "the cross-encoder judge needs a model folder");
    if (!(o->low >= 0 && o->low <= o->high && o->high <= 1))
        return sy_fail(err, SY_EINVAL, "cross-encoder thresholds must satisfy 0 <= low <= high <= 1 (got %g, %g)", o->low,
                       o->high);
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    int titles = passage_titles_setting(s, err);
    if (titles < 0) return -1;
    neg_store *ns = session_negs(s);
    int changed;
    if (!ns || neg_store_refresh(ns, &changed, err) < 0) return ns ? -1 : sy_fail(err, SY_EIO, "no negatives store");
    crossenc *ce = crossenc_load(o->model_dir, err);
    if (!ce) return -1;
    size_t nq = 0, nb = 0;
    neg_ref *queue = neg_store_ranked(ns, !o->all_rows, &nq);
    neg_ref refs[CE_BATCH];
    const char *qs[CE_BATCH];
    char *ps[CE_BATCH];
    float logits[CE_BATCH];
    neg_writer *w = neg_writer_new(session_dir(s), "judge-ce", 0, err);
    int rc = -1;
    size_t total = 0;
    if (!w) goto out;
    for (size_t i = 0; i < nq; i++) {   /* how many will be scored, for progress */
        neg_row row;
        neg_store_get(ns, queue[i], &row);
        if (!row.text && corpus_doc_find(c, row.neg_id) >= 0 && corpus_query_find(c, row.query_id) >= 0) rep->queue++;
    }
    total = o->limit && o->limit < rep->queue ? o->limit : rep->queue;
    for (size_t i = 0; i <= nq; i++) {
        if (i < nq && rep->asked + nb < total) {
            neg_row row;
            neg_store_get(ns, queue[i], &row);
            int64_t d = row.text ? -1 : corpus_doc_find(c, row.neg_id);
            int64_t q = corpus_query_find(c, row.query_id);
            if (d < 0 || q < 0) continue;
            refs[nb] = queue[i];
            qs[nb] = corpus_query_text(c, (uint32_t)q);
            ps[nb] = passage_format(corpus_doc_title(c, (uint32_t)d), corpus_doc_text(c, (uint32_t)d), titles);
            if (!ps[nb]) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
            nb++;
            if (nb < CE_BATCH) continue;
        }
        if (!nb) continue;
        if (crossenc_score(ce, qs, (const char *const *)ps, nb, logits, err) < 0) goto out;
        for (size_t k = 0; k < nb; k++) {
            neg_row row;
            neg_store_get(ns, refs[k], &row);
            double p = 1.0 / (1.0 + exp(-(double)logits[k]));
            int is_fn = p >= o->high ? 1 : p <= o->low ? 0 : -1;
            json_t *v = json_pack("{s:s?,s:f,s:f,s:s}", "verdict",
                                  is_fn < 0 ? "unsure" : is_fn ? "false_negative" : "negative", "logit",
                                  (double)logits[k], "p", p, "model", o->model_dir);
            if (!v) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
            int wr = ce_write(w, &row, v, is_fn, err);
            json_decref(v);
            if (wr < 0) goto out;
            if (is_fn == 1) rep->false_neg++;
            else if (is_fn == 0) rep->negative++;
            else rep->failed++;
            free(ps[k]);
            ps[k] = NULL;
        }
        rep->asked += nb;
        nb = 0;
        if (o->progress) o->progress(o->progress_ctx, rep->asked, total);
    }
    if (neg_writer_commit(w, err) < 0) goto out;
    rc = 0;
out:
    for (size_t k = 0; k < nb; k++) free(ps[k]);
    neg_writer_free(w);
    free(queue);
    crossenc_free(ce);
    return rc;
}
