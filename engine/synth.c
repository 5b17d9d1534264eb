/* synth: synthesis, self-reflection and the answer parser (see synth.h). */
#include "synth.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"
#include "negstore.h"
#include "offline.h"
#include "settings.h"
#include "util.h"

#define COMMIT_EVERY 50

/* The client's counters into the progress report (one place for both copies). */
static void synth_copy_stats(synth_progress *g, const llm_stats *st)
{
    g->requests = st->http_requests;
    g->cache_hits = st->cache_hits;
    g->retries = st->retries;
    g->silent_retries = st->silent_retries;
    g->usage_estimated = st->usage_estimated;
    g->prompt_tokens = st->prompt_tokens;
    g->completion_tokens = st->completion_tokens;
    g->cost_usd = st->cost_usd;
    g->session_cost_usd = st->ledger_usd;
    g->budget_reached = st->budget_reached;
}

static int validate_answer(void *ctx, const char *content, char *why, size_t n)
{
    (void)ctx;
    synth_answer a;
    if (synth_parse_answer(content, &a, why, n) < 0) return -1;
    synth_answer_free(&a);
    return 0;
}

static int validate_verdict(void *ctx, const char *content, char *why, size_t n)
{
    (void)ctx;
    int fn;
    char *r;
    if (synth_parse_verdict(content, &fn, &r, why, n) < 0) return -1;
    free(r);
    return 0;
}

/* ======================= the plan: everything taken from the session ======================= */
typedef struct {
    char *qid, *qtext, *pos_id, *pos_text;   /* pos_text: "title\ntext" (reflection) */
    const char *pos_title, *pos_body;        /* borrowed from the corpus */
    char pos_words[16];                      /* the positive's length in words */
    uint32_t pos_doc;
} task;

typedef struct {
    char *session_dir, *job_dir, *cache_dir, *job_name;
    char *url, *model, *trace;
    const char *key;            /* borrowed from the environment, never stored */
    double temperature;
    int max_tokens, json_mode, concurrency, max_retries;
    long llm_seed, retry_budget;
    double rpm, tpm, timeout_s, backoff_s, price_in, price_out, budget, max_body_mb;
    int per_query, reflect, offline;
    int titled;                 /* most documents of the collection have a title */
    uint64_t variant;           /* regenerate: a fresh variant gives the offline generator a fresh seed */
    uint64_t seed;
    prompt_template *tpl, *rtpl;
    prompt_catalogue *cat;
    prompt_kv *over, *sess;
    size_t nover, nsess;
    char **strs;                /* owned strings behind over/sess */
    size_t nstrs;
    task *tasks;
    size_t ntasks;
    const corpus *corpus;
    uint32_t *positives;        /* every positive doc of the selected queries' qrels, for exclusion */
    size_t *pos_off;            /* [ntasks + 1] offsets into positives */
    char *batch_export, *batch_import;
    const char *response_format;  /* llm.response_format (table string) */
    double connect_timeout_s, backoff_max_s;
    char notice[1024];            /* what the user must be told (offline, model chosen) */
    json_t *answer_schema, *verdict_schema;   /* sent with llm.response_format json_schema */
} plan;

static char *own(plan *p, const char *s)
{
    char *d = strdup(s ? s : "");
    char **n = d ? realloc(p->strs, (p->nstrs + 1) * sizeof *n) : NULL;
    if (!n) { free(d); return NULL; }
    p->strs = n;
    p->strs[p->nstrs++] = d;
    return d;
}

static void plan_free(plan *p)
{
    if (!p) return;
    json_decref(p->answer_schema);
    json_decref(p->verdict_schema);
    free(p->session_dir); free(p->job_dir); free(p->cache_dir); free(p->job_name);
    free(p->url); free(p->model); free(p->trace);
    prompt_template_free(p->tpl);
    prompt_template_free(p->rtpl);
    prompt_catalogue_free(p->cat);
    free(p->over);
    free(p->sess);
    for (size_t i = 0; i < p->nstrs; i++) free(p->strs[i]);
    free(p->strs);
    for (size_t i = 0; i < p->ntasks; i++) {
        free(p->tasks[i].qid); free(p->tasks[i].qtext); free(p->tasks[i].pos_id); free(p->tasks[i].pos_text);
    }
    free(p->tasks);
    free(p->positives);
    free(p->pos_off);
    free(p->batch_export);
    free(p->batch_import);
    free(p);
}

static char *doc_text(const corpus *c, uint32_t d)
{
    const char *t = corpus_doc_title(c, d);
    if (t && *t) return sy_strdup_printf("%s\n%s", t, corpus_doc_text(c, d));
    return strdup(corpus_doc_text(c, d));
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    for (int in = 0; *s; s++) {
        int w = !isspace((unsigned char)*s);
        n += w && !in;
        in = w;
    }
    return n;
}

/* Format parity: does the collection carry titles (at least half its documents)? */
static int corpus_titled(const corpus *c)
{
    uint32_t nd = corpus_ndocs(c), with = 0;
    for (uint32_t d = 0; d < nd; d++) with += *corpus_doc_title(c, d) != '\0';
    return nd && 2 * (uint64_t)with >= nd;
}

static int add_task(plan *p, const corpus *c, const corpus_qrels *qr, uint32_t q, size_t *cap, sy_err *err)
{
    size_t n;
    const corpus_qrel *rows = corpus_qrels_of(qr, q, &n);
    const corpus_qrel *pos = NULL;
    for (size_t i = 0; i < n && !pos; i++)
        if (rows[i].rel > 0) pos = &rows[i];
    if (!pos) return 0;
    if (p->ntasks == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        task *nt = realloc(p->tasks, ncap * sizeof *nt);
        if (!nt) return sy_fail(err, SY_ENOMEM, "out of memory");
        p->tasks = nt;
        size_t *no = realloc(p->pos_off, (ncap + 1) * sizeof *no);
        if (!no) return sy_fail(err, SY_ENOMEM, "out of memory");
        p->pos_off = no;
        if (p->ntasks == 0) p->pos_off[0] = 0;
        *cap = ncap;
    }
    task *t = &p->tasks[p->ntasks];
    t->qid = strdup(corpus_query_id(c, q));
    t->qtext = strdup(corpus_query_text(c, q));
    t->pos_id = strdup(corpus_doc_id(c, pos->doc));
    t->pos_text = doc_text(c, pos->doc);
    t->pos_title = corpus_doc_title(c, pos->doc);
    t->pos_body = corpus_doc_text(c, pos->doc);
    snprintf(t->pos_words, sizeof t->pos_words, "%zu", count_words(t->pos_body));
    t->pos_doc = pos->doc;
    size_t base = p->pos_off[p->ntasks];
    uint32_t *np = realloc(p->positives, (base + n + 1) * sizeof *np);
    if (!t->qid || !t->qtext || !t->pos_id || !t->pos_text || !np) {
        free(t->qid); free(t->qtext); free(t->pos_id); free(t->pos_text);
        if (np) p->positives = np;
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    p->positives = np;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].rel > 0) np[base + k++] = rows[i].doc;
    p->pos_off[++p->ntasks] = base + k;
    return 1;
}

/* Read settings, prompts and the selected tasks from the session. */
static plan *plan_new(session *s, const synth_opts *o, int make_job, sy_err *err)
{
    plan *p = calloc(1, sizeof *p);
    if (!p) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    p->session_dir = strdup(session_dir(s));
    p->cache_dir = session_path(s, "cache/llm");
    /* endpoint: settings, overridden by the environment */
    if (settings_check_session(s, "llm.", err) < 0 || settings_check_session(s, "synth.", err) < 0) goto fail;
    /* the client's configuration: the one reader of llm.* and the key (llm.h) */
    llm_config lc;
    llm_config_from_session(s, NULL, &lc);
    p->url = strdup(lc.url ? lc.url : "");
    p->model = strdup(lc.model ? lc.model : "");
    p->key = lc.key;
    p->trace = lc.trace_path ? strdup(lc.trace_path) : NULL;
    p->temperature = lc.temperature;
    p->max_tokens = lc.max_tokens;
    p->llm_seed = lc.seed;
    p->json_mode = lc.json_mode;
    p->concurrency = o->concurrency > 0 ? o->concurrency : lc.concurrency;
    p->rpm = lc.rpm;
    p->tpm = lc.tpm;
    p->timeout_s = lc.timeout_s;
    p->backoff_s = lc.backoff_base_s;
    p->max_retries = lc.max_retries;
    p->retry_budget = lc.retry_budget;
    p->max_body_mb = (double)lc.max_body_bytes / 1048576.0;
    p->budget = o->budget_usd >= 0 ? o->budget_usd : lc.budget_usd;
    p->price_in = lc.price_in;
    p->price_out = lc.price_out;
    p->per_query = o->per_query > 0 ? o->per_query : (int)settings_int(s, "synth.per_query");
    p->reflect = o->reflect >= 0 ? o->reflect : (int)settings_int(s, "synth.reflect");
    p->seed = o->seed ? o->seed : (uint64_t)settings_num(s, "synth.seed");
    if (o->variant) p->llm_seed = o->variant;
    p->variant = (uint64_t)o->variant;
    p->response_format = lc.response_format;
    /* the answers synth_parse_answer / synth_parse_verdict accept, as JSON schemas */
    p->answer_schema = json_pack("{s:s,s:{s:{s:s},s:{s:s,s:I,s:I,s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s}},s:[s]}}},s:[s]}",
        "type", "object", "properties", "reasoning", "type", "string", "negatives", "type", "array",
        "minItems", (json_int_t)1, "maxItems", (json_int_t)(p->per_query > 0 ? p->per_query : 1), "items", "type", "object", "properties", "title", "type",
        "string", "text", "type", "string", "attributes", "type", "object", "required", "text", "required", "negatives");
    p->verdict_schema = json_pack("{s:s,s:{s:{s:s,s:[s,s]},s:{s:s}},s:[s,s]}", "type", "object", "properties",
        "verdict", "type", "string", "enum", "negative", "false_negative", "reason", "type", "string",
        "required", "verdict", "reason");
    if (!p->answer_schema || !p->verdict_schema) goto nomem;
    p->connect_timeout_s = lc.connect_timeout_s;
    p->backoff_max_s = lc.backoff_max_s;
    p->batch_export = o->batch_export ? strdup(o->batch_export) : NULL;
    p->batch_import = o->batch_import ? strdup(o->batch_import) : NULL;
    if (!p->session_dir || !p->cache_dir || !p->url || !p->model) goto nomem;
    /* The offline generator runs only when asked (--offline) or when no
     * endpoint is configured, and the user is told which; flags that only a
     * model can honour make "no endpoint" an error, never a silent fallback. */
    if (o->offline) {
        p->offline = 1;
        snprintf(p->notice, sizeof p->notice, "the offline generator (--offline): edits of the positive, no model");
    } else if (!*p->url) {
        const char *flag = o->reflect >= 0 ? "--reflect" : o->budget_usd >= 0 ? "--budget"
                         : o->batch_export ? "--batch-export" : o->batch_import ? "--batch-import"
                         : o->concurrency > 0 ? "--concurrency" : NULL;
        if (flag) {
            sy_fail(err, SY_EUNSUP, "%s needs an LLM endpoint, and none is configured: set llm.url (syneg set %s "
                    "llm.url URL) or SYNEG_LLM_URL, or drop %s and pass --offline for the offline generator",
                    flag, p->session_dir, flag);
            goto fail;
        }
        p->offline = 1;
        snprintf(p->notice, sizeof p->notice, "no LLM endpoint is configured (llm.url / SYNEG_LLM_URL): "
                 "the offline generator writes edits of the positive instead; pass --offline to choose it");
    }
    if (!p->offline && !*p->model) {   /* ask the server: its only model, or the list in the error */
        char **ids = NULL, shown[512];
        size_t nid = 0;
        sy_url_redact(p->url, shown, sizeof shown);
        if (llm_list_models(p->url, p->key, p->connect_timeout_s + 10, &ids, &nid, err) < 0) {
            sy_err_prefix(err, "no model is set (llm.model / SYNEG_LLM_MODEL) and asking %s for its models failed", shown);
            goto fail;
        }
        if (nid == 1) {
            free(p->model);
            p->model = ids[0];
            ids[0] = NULL;
            snprintf(p->notice, sizeof p->notice, "no model is set: using '%s', the only model %s lists "
                     "(syneg set %s llm.model NAME to choose)", p->model, shown, p->session_dir);
        } else {
            sy_buf l = {0};
            for (size_t i = 0; i < nid && i < 20; i++) sy_buf_printf(&l, "%s%s", i ? ", " : "", ids[i]);
            if (nid > 20) sy_buf_printf(&l, ", ... (%zu in all)", nid);
            sy_fail(err, SY_EINVAL, "no model is set and %s lists %s%s; choose one with 'syneg set %s llm.model NAME' "
                    "or SYNEG_LLM_MODEL", shown, nid ? "these: " : "none", l.data ? l.data : "", p->session_dir);
            sy_buf_free(&l);
        }
        for (size_t i = 0; i < nid; i++) free(ids[i]);
        free(ids);
        if (nid != 1) goto fail;
        lc.model = p->model;   /* prices of the model found */
        llm_config_prices(s, &lc);
        p->price_in = lc.price_in;
        p->price_out = lc.price_out;
    }
    if (p->per_query < 1 || p->per_query > 64) {
        sy_fail(err, SY_EINVAL, "per-query count %d is out of range; use 1 to 64", p->per_query);
        goto fail;
    }
    if (p->reflect < 0 || p->reflect > 2) {
        sy_fail(err, SY_EINVAL, "reflection rounds %d out of range; use 0, 1 or 2", p->reflect);
        goto fail;
    }
    if (p->offline && (p->batch_export || p->batch_import)) {
        sy_fail(err, SY_EINVAL, "batch export/import needs an LLM endpoint (llm.url / SYNEG_LLM_URL) and model; "
                "the offline generator makes no requests");
        goto fail;
    }
    /* prompts and the catalogue */
    char *pd = o->prompts_dir ? strdup(o->prompts_dir) : prompt_find_dir(p->session_dir, err);
    if (!pd) goto fail;
    char *sp = sy_path_join(pd, "synth.txt"), *rp = sy_path_join(pd, "reflect.txt"),
         *ap = sy_path_join(pd, "attributes.txt");
    free(pd);
    p->tpl = sp ? prompt_template_load(sp, err) : NULL;
    p->rtpl = p->tpl && rp ? prompt_template_load(rp, err) : NULL;
    p->cat = p->rtpl && ap ? prompt_catalogue_load(ap, err) : NULL;
    free(sp); free(rp); free(ap);
    if (!p->cat) goto fail;
    /* attribute overrides and session values, checked now */
    p->over = calloc(o->nattrs + 1, sizeof *p->over);
    if (!p->over) goto nomem;
    for (size_t i = 0; i < o->nattrs; i++) {
        if (prompt_check_attr(p->cat, o->attrs[i].name, o->attrs[i].value, err) < 0) goto fail;
        p->over[i].name = own(p, o->attrs[i].name);
        p->over[i].value = own(p, o->attrs[i].value);
        if (!p->over[i].name || !p->over[i].value) goto nomem;
    }
    p->nover = o->nattrs;
    /* session attribute values: the top-level "attributes" object of
     * session.json, then settings synth.attributes (which wins) */
    json_t *srcs[2] = {session_get(s, "attributes"), session_get(s, "synth.attributes")};
    const char *srcname[2] = {"attributes", "synth.attributes"};
    p->sess = calloc(json_object_size(srcs[0]) + json_object_size(srcs[1]) + 1, sizeof *p->sess);
    if (!p->sess) goto nomem;
    for (int si = 1; si >= 0; si--) {
        const char *k;
        json_t *v;
        json_object_foreach(srcs[si], k, v) {
            int dup = 0;
            for (size_t i = 0; i < p->nsess && !dup; i++) dup = !strcmp(p->sess[i].name, k);
            if (dup) continue;
            if (!json_is_string(v)) {
                sy_fail(err, SY_EINVAL, "session setting %s.%s must be a string", srcname[si], k);
                goto fail;
            }
            if (prompt_check_attr(p->cat, k, json_string_value(v), err) < 0) {
                sy_err_prefix(err, "session setting %s.%s", srcname[si], k);
                goto fail;
            }
            p->sess[p->nsess].name = own(p, k);
            p->sess[p->nsess].value = own(p, json_string_value(v));
            if (!p->sess[p->nsess].name || !p->sess[p->nsess].value) goto nomem;
            p->nsess++;
        }
    }
    /* the queries */
    corpus *c = session_corpus(s, err);
    if (!c) goto fail;
    p->corpus = c;
    p->titled = corpus_titled(c);
    const char *split = session_train_split(s);
    const corpus_qrels *qr = corpus_qrels_for(c, split);
    if (!qr) {
        sy_fail(err, SY_ENOTFOUND, "the data set has no qrels for the train split '%s'; synthesis needs each "
                "query's positive from it", split);
        goto fail;
    }
    size_t cap = 0;
    if (o->query_ids) {
        for (size_t i = 0; i < o->nquery_ids; i++) {
            int64_t q = corpus_query_find(c, o->query_ids[i]);
            if (q < 0) {
                sy_fail(err, SY_ENOTFOUND, "unknown query id '%s'; see 'syneg info' for the queries", o->query_ids[i]);
                goto fail;
            }
            int r = add_task(p, c, qr, (uint32_t)q, &cap, err);
            if (r < 0) goto fail;
            if (r == 0) {
                sy_fail(err, SY_ENOTFOUND, "query '%s' has no positive (rel > 0) in the train split '%s'",
                        o->query_ids[i], split);
                goto fail;
            }
        }
    } else {
        for (uint32_t q = 0; q < corpus_nqueries(c); q++) {
            if (o->limit && p->ntasks >= o->limit) break;
            if (add_task(p, c, qr, q, &cap, err) < 0) goto fail;
        }
    }
    if (make_job) {
        p->job_dir = session_new_job_dir(s, "synth", err);
        if (!p->job_dir || sy_mkdir_p(p->job_dir, err) < 0) goto fail;
        const char *slash = strrchr(p->job_dir, '/');
        p->job_name = strdup(slash ? slash + 1 : p->job_dir);
        if (!p->job_name) goto nomem;
    }
    return p;
nomem:
    sy_fail(err, SY_ENOMEM, "out of memory");
fail:
    plan_free(p);
    return NULL;
}

/* ======================= running ======================= */
typedef struct run run;
typedef struct qstate qstate;

typedef struct {
    qstate *q;
    size_t i;
    int round;          /* rounds done */
    int verdict;        /* -1 not judged, 0 negative, 1 false negative, 2 unjudged (failed) */
    char *reason;
    json_t *rounds;     /* [{"verdict","reason"}] */
} nstate;

struct qstate {
    run *r;
    task *t;
    prompt_kv *attrs;
    size_t nattrs;
    synth_answer ans;
    nstate *ns;
    size_t pending;
    int deferred;
    char key[65];
};

struct run {
    plan *p;
    llm_client *client;
    neg_writer *w;
    size_t since_commit;
    FILE *failures;
    synth_progress prog;
    const atomic_int *cancel;
    void (*progress)(void *ctx, const synth_progress *p);
    void *progress_ctx;
    size_t active;          /* queries started and not finished */
    int write_failed;
    sy_err werr;
};

static int cancelled(const run *r) { return r->cancel && atomic_load(r->cancel); }

static void record_failure(run *r, const task *t, const char *stage, const char *outcome, const char *why,
                           int attempts)
{
    if (!r->prog.first_failure[0])
        snprintf(r->prog.first_failure, sizeof r->prog.first_failure, "query %s (%s, %s): %s", t->qid, stage, outcome,
                 why ? why : "");
    if (!r->failures) return;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i}", "query_id", t->qid, "stage", stage, "outcome", outcome,
                          "reason", why ? why : "", "attempts", attempts);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) { fprintf(r->failures, "%s\n", s); fflush(r->failures); }
    free(s);
    json_decref(o);
}

static int commit_rows(run *r)
{
    if (!r->w) return 0;
    int rc = 0;
    if (neg_writer_count(r->w) && neg_writer_commit(r->w, &r->werr) < 0) { r->write_failed = 1; rc = -1; }
    neg_writer_free(r->w);
    r->w = NULL;
    r->since_commit = 0;
    return rc;
}

static int add_row(run *r, const neg_row *row)
{
    if (r->write_failed) return -1;
    if (!r->w && !(r->w = neg_writer_new(r->p->session_dir, "synth", 0, &r->werr))) {
        r->write_failed = 1;
        return -1;
    }
    if (neg_writer_add(r->w, row, &r->werr) < 0) { r->write_failed = 1; return -1; }
    return 0;
}

static void query_finished(run *r, int ok)
{
    if (ok == 1) r->prog.queries_ok++;
    else if (ok == 0) r->prog.queries_failed++;
    else r->prog.queries_deferred++;
    r->prog.queries_done++;
    r->active--;
    if (++r->since_commit >= COMMIT_EVERY) commit_rows(r);
    if (r->client) {
        llm_stats st;
        llm_get_stats(r->client, &st);
        synth_copy_stats(&r->prog, &st);
    }
    if (r->progress) r->progress(r->progress_ctx, &r->prog);
}

static json_t *attrs_json(const prompt_kv *a, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) json_object_set_new(o, a[i].name, json_string(a[i].value));
    return o;
}

static void emit_llm(run *r, qstate *q)
{
    plan *p = r->p;
    uint64_t pos_hash = sy_text_hash(q->t->pos_text, strlen(q->t->pos_text)),
             body_hash = sy_text_hash(q->t->pos_body, strlen(q->t->pos_body));
    for (size_t i = 0; i < q->ans.n; i++) {
        synth_neg *sn = &q->ans.negs[i];
        nstate *ns = q->ns ? &q->ns[i] : NULL;
        const char *verdict = !ns ? "not_reflected" : ns->verdict == 1 ? "false_negative"
                            : ns->verdict == 0 ? "negative" : "unjudged";
        json_t *prov = json_pack("{s:s,s:s,s:s,s:s,s:o,s:O?,s:s,s:s,s:s?,s:O?,s:s,s:s,s:s?,s:I}",
                                 "generator", "llm", "model", p->model, "template", prompt_template_hash(p->tpl),
                                 "reflect_template", prompt_template_hash(p->rtpl),
                                 "attributes", attrs_json(q->attrs, q->nattrs), "model_attributes", sn->attributes,
                                 "reasoning", q->ans.reasoning, "verdict", verdict,
                                 "verdict_reason", ns ? ns->reason : NULL, "rounds", ns ? ns->rounds : NULL,
                                 "positive", q->t->pos_id, "request", q->key, "job", p->job_name,
                                 "seed", (json_int_t)p->seed);
        if (prov && sn->title && *sn->title) json_object_set_new(prov, "title", json_string(sn->title));
        char *ps = prov ? json_dumps(prov, JSON_COMPACT) : NULL;
        json_decref(prov);
        char id[64];
        neg_synthetic_id(NEG_LLM, sn->text, id, sizeof id);
        uint8_t flags = 0;
        if (ns && ns->verdict == 1) flags |= NEG_F_SUSPECT | NEG_F_REFLECT_FN;
        uint64_t th = sy_text_hash(sn->text, strlen(sn->text));
        if (th == pos_hash || th == body_hash) flags |= NEG_F_DUP | NEG_F_SUSPECT;
        neg_row row = {.query_id = q->t->qid, .neg_id = id, .text = sn->text, .prov = ps,
                       .rank = (uint32_t)(i + 1), .score = 0, .source = NEG_LLM, .flags = flags};
        if (add_row(r, &row) == 0) {
            r->prog.negatives++;
            if (flags & NEG_F_SUSPECT) r->prog.suspects++;
        }
        free(ps);
    }
}

static void qstate_free(qstate *q)
{
    if (!q) return;
    for (size_t i = 0; q->ns && i < q->ans.n; i++) {
        free(q->ns[i].reason);
        json_decref(q->ns[i].rounds);
    }
    free(q->ns);
    synth_answer_free(&q->ans);
    free(q->attrs);
    free(q);
}

static void on_reflect(void *ctx, const llm_result *res);

static int submit_reflect(run *r, nstate *ns)
{
    qstate *q = ns->q;
    char prev[1200] = "";
    if (ns->round > 0 && ns->reason)
        snprintf(prev, sizeof prev, "verdict %s: %s", ns->verdict == 1 ? "false_negative" : "negative", ns->reason);
    const synth_neg *sn = &q->ans.negs[ns->i];
    char *neg = *sn->title ? sy_strdup_printf("%s\n%s", sn->title, sn->text) : strdup(sn->text);
    if (!neg) return -1;
    prompt_kv v[] = {{"query", q->t->qtext}, {"positive", q->t->pos_text}, {"negative", neg}, {"previous", prev}};
    sy_err err = {0};
    json_t *m = prompt_render(r->p->rtpl, v, 4, &err);
    free(neg);
    if (!m) return -1;
    llm_request rq = {.messages = m, .validate = validate_verdict, .done = on_reflect, .ctx = ns,
                      .schema = r->p->verdict_schema, .schema_name = "verdict"};
    int rc = llm_submit(r->client, &rq, NULL, &err);
    json_decref(m);
    return rc;
}

static void reflect_done(run *r, qstate *q)
{
    if (--q->pending) return;
    if (q->deferred) {
        query_finished(r, -1);
    } else {
        emit_llm(r, q);
        query_finished(r, 1);
    }
    qstate_free(q);
}

static void on_reflect(void *ctx, const llm_result *res)
{
    nstate *ns = ctx;
    qstate *q = ns->q;
    run *r = q->r;
    if (res->outcome == LLM_DEFERRED || res->outcome == LLM_CANCELLED) {
        q->deferred = 1;   /* no rows until every verdict is in */
    } else if (res->outcome == LLM_OK) {
        int fn = 0;
        char *reason = NULL, why[256];
        if (synth_parse_verdict(res->content, &fn, &reason, why, sizeof why) == 0) {
            ns->verdict = fn;
            free(ns->reason);
            ns->reason = reason;
            if (!ns->rounds) ns->rounds = json_array();
            json_array_append_new(ns->rounds, json_pack("{s:s,s:s}", "verdict", fn ? "false_negative" : "negative",
                                                        "reason", reason));
            ns->round++;
            if (ns->round < r->p->reflect && !cancelled(r) && submit_reflect(r, ns) == 0) return;
        }
    } else {
        if (ns->round == 0) ns->verdict = 2;   /* a later round failing keeps the earlier verdict */
        free(ns->reason);
        ns->reason = sy_strdup_printf("reflection failed (%s): %s", llm_outcome_name(res->outcome), res->error);
        record_failure(r, q->t, "reflection", llm_outcome_name(res->outcome), res->error, res->attempts);
    }
    reflect_done(r, q);
}

static void on_synth(void *ctx, const llm_result *res)
{
    qstate *q = ctx;
    run *r = q->r;
    if (res->outcome == LLM_DEFERRED) {
        query_finished(r, -1);
        qstate_free(q);
        return;
    }
    char why[256];
    if (res->outcome != LLM_OK) {
        record_failure(r, q->t, "synthesis", llm_outcome_name(res->outcome), res->error, res->attempts);
        query_finished(r, 0);
        qstate_free(q);
        return;
    }
    if (synth_parse_answer(res->content, &q->ans, why, sizeof why) < 0) {
        record_failure(r, q->t, "parse", "invalid_answer", why, res->attempts);
        query_finished(r, 0);
        qstate_free(q);
        return;
    }
    /* an answer with more negatives than asked keeps the first per_query (each
     * costs a row and a reflection request): the rest are dropped, not stored */
    synth_answer_truncate(&q->ans, (size_t)r->p->per_query);
    if (r->p->reflect == 0 || cancelled(r)) {
        emit_llm(r, q);
        query_finished(r, 1);
        qstate_free(q);
        return;
    }
    q->ns = calloc(q->ans.n, sizeof *q->ns);
    if (!q->ns) {
        record_failure(r, q->t, "reflection", "error", "out of memory", 0);
        query_finished(r, 0);
        qstate_free(q);
        return;
    }
    q->pending = q->ans.n;
    for (size_t i = 0; i < q->ans.n; i++) {
        q->ns[i] = (nstate){.q = q, .i = i, .verdict = -1};
    }
    size_t n = q->ans.n;
    for (size_t i = 0; i < n; i++) {
        nstate *ns = &q->ns[i];
        if (submit_reflect(r, ns) < 0) {
            ns->verdict = 2;
            ns->reason = strdup("the reflection prompt could not be rendered");
            record_failure(r, q->t, "reflection", "error", ns->reason, 0);
            reflect_done(r, q);   /* may free q on the last one */
        }
    }
}

/* Resolve attributes and build a query's synthesis messages. */
static json_t *synth_messages(const plan *p, const task *t, prompt_kv **attrs, size_t *nattrs, sy_err *err)
{
    if (prompt_resolve(p->cat, p->over, p->nover, p->sess, p->nsess, p->seed, t->qid, attrs, nattrs, err) < 0)
        return NULL;
    char *list = prompt_attr_list(p->cat, *attrs, *nattrs);
    char k[16];
    snprintf(k, sizeof k, "%d", p->per_query);
    enum { NFIXED = 7 };
    size_t nv = NFIXED + *nattrs;
    prompt_kv *v = calloc(nv, sizeof *v);
    char **names = calloc(*nattrs + 1, sizeof *names);
    json_t *m = NULL;
    if (list && v && names) {
        v[0] = (prompt_kv){"query", t->qtext};
        v[1] = (prompt_kv){"positive", t->pos_body};
        v[2] = (prompt_kv){"k", k};
        v[3] = (prompt_kv){"attributes", list};
        v[4] = (prompt_kv){"title", t->pos_title};
        v[5] = (prompt_kv){"titled", p->titled ? "yes" : ""};
        v[6] = (prompt_kv){"words", t->pos_words};
        for (size_t i = 0; i < *nattrs; i++) {
            names[i] = sy_strdup_printf("attr.%s", (*attrs)[i].name);
            v[NFIXED + i] = (prompt_kv){names[i] ? names[i] : "attr.?", (*attrs)[i].value};
        }
        m = prompt_render(p->tpl, v, nv, err);
    } else {
        sy_fail(err, SY_ENOMEM, "out of memory");
    }
    for (size_t i = 0; names && i < *nattrs; i++) free(names[i]);
    free(names);
    free(v);
    free(list);
    if (!m) { free(*attrs); *attrs = NULL; }
    return m;
}

static int start_query(run *r, task *t, sy_err *err)
{
    qstate *q = calloc(1, sizeof *q);
    if (!q) return sy_fail(err, SY_ENOMEM, "out of memory");
    q->r = r;
    q->t = t;
    json_t *m = synth_messages(r->p, t, &q->attrs, &q->nattrs, err);
    if (!m) { free(q); return -1; }
    llm_request rq = {.messages = m, .validate = validate_answer, .done = on_synth, .ctx = q,
                      .schema = r->p->answer_schema, .schema_name = "hard_negatives"};
    r->active++;
    int rc = llm_submit(r->client, &rq, q->key, err);
    json_decref(m);
    if (rc < 0) { r->active--; qstate_free(q); }
    return rc;
}

/* ---- offline ---- */
static int run_offline(run *r, sy_err *err)
{
    plan *p = r->p;
    r->prog.offline = 1;
    offline_index *ix = offline_index_build(p->corpus, err);
    if (!ix) return -1;
    enum { NREL = 8 };
    for (size_t ti = 0; ti < p->ntasks && !cancelled(r); ti++) {
        task *t = &p->tasks[ti];
        r->active++;
        uint32_t rel[NREL];
        const uint32_t *excl = p->positives + p->pos_off[ti];
        size_t nexcl = p->pos_off[ti + 1] - p->pos_off[ti];
        size_t nrel = offline_related(ix, t->qtext, excl, nexcl, rel, NREL);
        if (nrel < NREL) {   /* top up: passages like the positive, then (tiny corpora) any others, seeded */
            uint32_t more[NREL];
            size_t nm = offline_related(ix, t->pos_body, excl, nexcl, more, NREL);
            uint32_t nd = corpus_ndocs(p->corpus);
            uint64_t st = p->seed ^ sy_hash64(t->qid, strlen(t->qid)) ^ 0x5eedULL;
            for (size_t tries = 0; nm < NREL && nd > 1 && tries < 4 * NREL; tries++)
                more[nm++] = (uint32_t)(sy_splitmix64(&st) % nd);
            for (size_t i = 0; i < nm && nrel < NREL; i++) {
                int skip = more[i] == t->pos_doc;
                for (size_t j = 0; j < nexcl && !skip; j++) skip = more[i] == excl[j];
                for (size_t j = 0; j < nrel && !skip; j++) skip = more[i] == rel[j];
                if (!skip) rel[nrel++] = more[i];
            }
        }
        offline_doc docs[NREL];
        for (size_t i = 0; i < nrel; i++)
            docs[i] = (offline_doc){corpus_doc_title(p->corpus, rel[i]), corpus_doc_text(p->corpus, rel[i])};
        offline_doc pos = {t->pos_title, t->pos_body};
        offline_neg *out = calloc((size_t)p->per_query, sizeof *out);
        uint64_t seed = p->seed ^ sy_hash64(t->qid, strlen(t->qid)) ^ (p->variant * 0x9e3779b97f4a7c15ULL);
        size_t n = out ? offline_generate(t->qtext, &pos, docs, nrel, seed, (size_t)p->per_query, out) : 0;
        json_t *relids = json_array();
        for (size_t i = 0; i < nrel; i++) json_array_append_new(relids, json_string(corpus_doc_id(p->corpus, rel[i])));
        /* the attributes a run would send to an LLM: recorded as ignored, never silently dropped */
        prompt_kv *attrs = NULL;
        size_t nattrs = 0;
        if (prompt_resolve(p->cat, p->over, p->nover, p->sess, p->nsess, p->seed, t->qid, &attrs, &nattrs, NULL) < 0)
            nattrs = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *prov = json_pack("{s:s,s:s,s:s,s:{s:s},s:o,s:s,s:s,s:s,s:O,s:s?,s:I,s:s}", "generator", "offline",
                                     "stand_in", OFFLINE_STAND_IN, "method", out[i].method,
                                     "attributes", "method", out[i].method,
                                     "ignored_attributes", attrs_json(attrs, nattrs),
                                     "reasoning", out[i].detail, "verdict", "not_reflected",
                                     "positive", t->pos_id, "related", relids, "job", p->job_name,
                                     "seed", (json_int_t)p->seed, "title", out[i].title);
            char *ps = prov ? json_dumps(prov, JSON_COMPACT) : NULL;
            json_decref(prov);
            char id[64];
            neg_synthetic_id(NEG_OFFLINE, out[i].text, id, sizeof id);
            neg_row row = {.query_id = t->qid, .neg_id = id, .text = out[i].text, .prov = ps,
                           .rank = (uint32_t)(i + 1), .source = NEG_OFFLINE};
            if (add_row(r, &row) == 0) r->prog.negatives++;
            free(ps);
            offline_neg_free(&out[i]);
        }
        free(attrs);
        json_decref(relids);
        free(out);
        if (n == 0)
            record_failure(r, t, "offline", "no_edit",
                           "the offline generator (a stand-in for an LLM) found no related passage or nothing to "
                           "swap in the positive", 0);
        query_finished(r, n > 0);
    }
    offline_index_free(ix);
    return 0;
}

static void write_report(run *r)
{
    if (!r->p->job_dir) return;
    const synth_progress *g = &r->prog;
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:b,s:i,s:i}",
                          "format", "syneg-synth-report", "generator", g->offline ? "offline" : "llm",
                          "model", g->offline ? "" : r->p->model,
                          "queries", (json_int_t)g->queries_total, "ok", (json_int_t)g->queries_ok,
                          "failed", (json_int_t)g->queries_failed, "deferred", (json_int_t)g->queries_deferred,
                          "negatives", (json_int_t)g->negatives, "suspects", (json_int_t)g->suspects,
                          "requests", (json_int_t)g->requests, "cache_hits", (json_int_t)g->cache_hits,
                          "retries", (json_int_t)g->retries, "prompt_tokens", (json_int_t)g->prompt_tokens,
                          "completion_tokens", (json_int_t)g->completion_tokens, "per_query", (json_int_t)r->p->per_query,
                          "cost_usd", g->cost_usd, "budget_reached", g->budget_reached,
                          "reflect", r->p->reflect, "concurrency", r->p->concurrency);
    char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    char *path = sy_path_join(r->p->job_dir, "report.json");
    if (s && path) sy_write_file_atomic(path, s, strlen(s), NULL);
    free(s);
    free(path);
    json_decref(o);
}

static int run_plan(plan *p, const synth_opts *o, synth_progress *report, sy_err *err)
{
    run r = {.p = p, .cancel = o->cancel, .progress = o->progress, .progress_ctx = o->progress_ctx};
    r.prog.queries_total = p->ntasks;
    snprintf(r.prog.notice, sizeof r.prog.notice, "%s", p->notice);
    int rc = 0;
    if (p->job_dir) {
        snprintf(r.prog.job_dir, sizeof r.prog.job_dir, "%s", p->job_dir);
        char *fp = sy_path_join(p->job_dir, "failures.jsonl");
        r.failures = fp ? fopen(fp, "a") : NULL;
        free(fp);
        if (!r.failures) return sy_fail_errno(err, errno, "cannot create %s/failures.jsonl", p->job_dir);
    }
    if (p->offline) {
        rc = run_offline(&r, err);
    } else {
        if (p->batch_import) {
            size_t stored, failed;
            if (llm_batch_import(p->cache_dir, p->batch_import, &stored, &failed, err) < 0) { rc = -1; goto out; }
        }
        llm_config cfg;
        llm_config_defaults(&cfg);
        cfg.url = p->url;
        cfg.model = p->model;
        cfg.key = p->key;
        cfg.temperature = p->temperature;
        cfg.max_tokens = p->max_tokens;
        cfg.seed = p->llm_seed;
        cfg.json_mode = p->json_mode;
        cfg.concurrency = p->concurrency;
        cfg.timeout_s = p->timeout_s;
        cfg.backoff_base_s = p->backoff_s;
        cfg.max_retries = p->max_retries;
        cfg.retry_budget = p->retry_budget;
        cfg.rpm = p->rpm;
        cfg.tpm = p->tpm;
        cfg.price_in = p->price_in;
        cfg.price_out = p->price_out;
        cfg.budget_usd = p->budget;
        cfg.response_format = p->response_format;
        cfg.connect_timeout_s = p->connect_timeout_s;
        cfg.backoff_max_s = p->backoff_max_s;
        cfg.max_body_bytes = (size_t)(p->max_body_mb * 1048576.0);
        cfg.cache_dir = p->cache_dir;
        cfg.trace_path = p->trace;
        cfg.batch_export_path = p->batch_export;
        cfg.jitter_seed = p->seed;
        if (!(r.client = llm_client_new(&cfg, err))) { rc = -1; goto out; }
        size_t next = 0, window = (size_t)p->concurrency * 2 + 4;
        while (!cancelled(&r) && (next < p->ntasks || llm_pending(r.client))) {
            while (next < p->ntasks && r.active < window && !cancelled(&r)) {
                if (start_query(&r, &p->tasks[next], err) < 0) {
                    record_failure(&r, &p->tasks[next], "prompt", "error", err->msg, 0);
                    r.active++;
                    query_finished(&r, 0);
                }
                next++;
            }
            llm_step(r.client, 250);
        }
        if (cancelled(&r)) llm_cancel_all(r.client);
        llm_stats st;
        llm_get_stats(r.client, &st);
        synth_copy_stats(&r.prog, &st);
    }
out:
    if (commit_rows(&r) < 0 || r.write_failed) {
        if (!rc) { *err = r.werr; rc = -1; }
    }
    neg_writer_free(r.w);
    llm_client_free(r.client);
    write_report(&r);
    if (r.failures) fclose(r.failures);
    if (!rc && cancelled(&r)) rc = sy_fail(err, SY_ECANCEL, "synthesis cancelled after %zu of %zu queries; "
                                           "run it again to finish (answers already received are cached)",
                                           r.prog.queries_done, r.prog.queries_total);
    if (report) *report = r.prog;
    return rc;
}

void synth_opts_defaults(synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->budget_usd = -1;
    o->reflect = -1;
}

int synth_run(session *s, const synth_opts *o, synth_progress *report, sy_err *err)
{
    if (report) memset(report, 0, sizeof *report);
    /* no lock needed: synthesis commits its own negatives segment and its own
     * cache pack, which is how it runs as a job beside the TUI that holds the lock */
    plan *p = plan_new(s, o, 1, err);
    if (!p) return -1;
    int rc = run_plan(p, o, report, err);
    plan_free(p);
    /* a long run commits a segment every 50 queries: compact once at the end
     * by the store's one policy (negstore.h).  Best effort: the rows are
     * committed either way, and the next run tries again. */
    neg_store *ns = session_negs(s);
    sy_err e2 = {0};
    int changed;
    if (ns && neg_store_refresh(ns, &changed, &e2) == 0) neg_store_compact_if_many(ns, &e2);
    return rc;
}

/* ======================= for the TUI ======================= */
char *synth_render_prompt(session *s, const char *query_id, const prompt_kv *attrs, size_t nattrs, int which,
                          const char *negative_text, sy_err *err)
{
    synth_opts o;
    synth_opts_defaults(&o);
    o.query_ids = &query_id;
    o.nquery_ids = 1;
    o.attrs = attrs;
    o.nattrs = nattrs;
    o.offline = 1;   /* rendering needs no endpoint */
    plan *p = plan_new(s, &o, 0, err);
    if (!p) return NULL;
    char *out = NULL;
    task *t = &p->tasks[0];
    if (which == SYNTH_PROMPT_REFLECT) {
        prompt_kv v[] = {{"query", t->qtext}, {"positive", t->pos_text},
                         {"negative", negative_text ? negative_text : "(the negative)"}, {"previous", ""}};
        out = prompt_render_text(p->rtpl, v, 4, err);
    } else {
        prompt_kv *a = NULL;
        size_t na = 0;
        json_t *m = synth_messages(p, t, &a, &na, err);
        if (m) {
            sy_buf b = {0};
            size_t i;
            json_t *it;
            json_array_foreach(m, i, it)
                sy_buf_printf(&b, "%s[%s]\n%s\n", i ? "\n" : "", json_string_value(json_object_get(it, "role")),
                              json_string_value(json_object_get(it, "content")));
            out = b.data;
            if (!out) sy_fail(err, SY_ENOMEM, "out of memory");
        }
        json_decref(m);
        free(a);
    }
    plan_free(p);
    return out;
}

struct synth_job {
    pthread_t th;
    plan *p;
    synth_opts o;
    pthread_mutex_t mu;
    synth_progress prog;
    atomic_int cancel;     /* written by the workbench thread, read by the worker */
    atomic_int state;      /* 0 running, 1 done, -1 failed */
    sy_err err;
};

static void job_progress(void *ctx, const synth_progress *p)
{
    synth_job *j = ctx;
    pthread_mutex_lock(&j->mu);
    j->prog = *p;
    pthread_mutex_unlock(&j->mu);
}

static void *job_main(void *arg)
{
    synth_job *j = arg;
    synth_progress fin;
    int rc = run_plan(j->p, &j->o, &fin, &j->err);
    job_progress(j, &fin);
    atomic_store(&j->state, rc < 0 ? -1 : 1);
    return NULL;
}

synth_job *synth_regen_start(session *s, const char *query_id, const prompt_kv *attrs, size_t nattrs,
                             const synth_opts *base, sy_err *err)
{
    synth_job *j = calloc(1, sizeof *j);
    if (!j) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    if (base) j->o = *base;
    else synth_opts_defaults(&j->o);
    j->o.query_ids = &query_id;
    j->o.nquery_ids = 1;
    j->o.limit = 0;
    j->o.attrs = attrs;
    j->o.nattrs = nattrs;
    j->o.batch_export = j->o.batch_import = NULL;
    if (!j->o.variant) j->o.variant = (long)(time(NULL) & 0x7fffffff) ^ (long)sy_hash64(query_id, strlen(query_id)) % 100000;
    if (!j->o.variant) j->o.variant = 1;
    j->p = plan_new(s, &j->o, 1, err);
    if (!j->p) { free(j); return NULL; }
    /* the job keeps no pointer into the caller's arrays */
    j->o.query_ids = NULL;
    j->o.attrs = NULL;
    j->o.cancel = &j->cancel;
    j->o.progress = job_progress;
    j->o.progress_ctx = j;
    j->prog.queries_total = 1;
    pthread_mutex_init(&j->mu, NULL);
    if (pthread_create(&j->th, NULL, job_main, j) != 0) {
        pthread_mutex_destroy(&j->mu);
        plan_free(j->p);
        free(j);
        sy_fail(err, SY_ENOMEM, "cannot start a worker thread");
        return NULL;
    }
    return j;
}

int synth_job_poll(synth_job *j, synth_progress *p)
{
    int st = atomic_load(&j->state);
    if (p) {
        pthread_mutex_lock(&j->mu);
        *p = j->prog;
        pthread_mutex_unlock(&j->mu);
    }
    return st;
}

const char *synth_job_error(synth_job *j)
{
    return atomic_load(&j->state) == -1 ? j->err.msg : "";
}

void synth_job_cancel(synth_job *j) { atomic_store(&j->cancel, 1); }

void synth_job_free(synth_job *j)
{
    if (!j) return;
    atomic_store(&j->cancel, 1);
    pthread_join(j->th, NULL);
    pthread_mutex_destroy(&j->mu);
    plan_free(j->p);
    free(j);
}
