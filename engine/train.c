/* train: options, data (mix.h instances or the qrels), scratch models and
 * the run loop (status, progress, checkpoints, resume).  Contract in train.h;
 * the batch gradient and optimiser are in train_step.c, evaluation in
 * train_eval.c, checkpoint folders in train_ckpt.c.
 *
 * train_state.bin (in each checkpoint folder), little-endian:
 *   "SYTRST\0\0" | u32 version (1) | u32 0 | u64 step (updates done) |
 *   u64 nfloats | f32 m[nfloats] | f32 v[nfloats] | u64 sy_hash64 of all before
 * nfloats is the enc_params_layout size, so the moments carry the same
 * alignment padding as the parameters. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"
#include "encoder.h"
#include "kernels.h"
#include "mix.h"
#include "negstore.h"
#include "passage.h"
#include "runs.h"
#include "session.h"
#include "tokenizer.h"
#include "train_ckpt.h"
#include "train_int.h"
#include "util.h"
#include "vocab_learn.h"

/* ---- options ---------------------------------------------------------- */

void train_opts_default(train_opts *o)
{
    /* the defaults are the settings table's (settings.c, train.* rows) */
    train_opts_from_settings(o, NULL, NULL, NULL);
}

double train_default_lr(const char *scratch)
{
    if (!scratch || !scratch[0]) return 2e-5;
    return strcmp(scratch, "mini") == 0 ? 5e-4 : 1e-3;
}

void train_opts_finish(train_opts *o)
{
    if (o->lr <= 0) o->lr = train_default_lr(o->scratch);
}

static json_t *opts_json_base(const train_opts *o);
static json_t *opts_json_extra(const train_opts *o, json_t *j);

json_t *train_opts_to_json(const train_opts *o)
{
    return opts_json_extra(o, opts_json_base(o));
}

static json_t *opts_json_base(const train_opts *o)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:I, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:i, s:i,"
                     " s:f, s:f, s:b, s:i, s:i, s:i, s:i, s:I, s:s, s:i}",
                     "init", o->init, "scratch", o->scratch, "vocab_size", o->vocab_size,
                     "epochs", o->epochs, "max_steps", (json_int_t)o->max_steps, "batch", o->batch,
                     "group", o->group, "accum", o->accum, "lr", o->lr, "temp", o->temp,
                     "weight_decay", o->weight_decay, "warmup", o->warmup, "clip", o->clip,
                     "max_len_q", o->max_len_q, "max_len_p", o->max_len_p,
                     "mix_start", o->mix_start, "mix_end", o->mix_end, "inbatch", o->inbatch,
                     "eval_every", o->eval_every, "ckpt_every", o->ckpt_every,
                     "eval_queries", o->eval_queries, "threads", o->threads,
                     "seed", (json_int_t)o->seed, "pooling", o->pooling,
                     "act_budget_mb", o->act_budget_mb);
}

static json_t *opts_json_extra(const train_opts *o, json_t *j)
{
    if (j) json_object_set_new(j, "eval_docs", json_integer(o->eval_docs));
    if (j) json_object_set_new(j, "fill", json_boolean(o->fill));
    if (j && o->no_titles) json_object_set_new(j, "no_titles", json_true());   /* older configs stay as they were */
    if (j) json_object_set_new(j, "include_offline", json_boolean(o->include_offline));
    if (j && o->precision[0] && strcmp(o->precision, "fp32"))   /* fp32 configs stay as they were */
        json_object_set_new(j, "precision", json_string(o->precision));
    return j;
}

int train_opts_from_json(train_opts *o, json_t *j, const char *what, sy_err *err)
{
    if (!json_is_object(j)) return sy_fail(err, SY_EPARSE, "%s: not a JSON object", what);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
#define STR(name)                                                                        \
        if (strcmp(key, #name) == 0) {                                                   \
            if (!json_is_string(v)) goto bad;                                            \
            snprintf(o->name, sizeof o->name, "%s", json_string_value(v));               \
            continue;                                                                    \
        }
#define INT(name)                                                                        \
        if (strcmp(key, #name) == 0) {                                                   \
            if (!json_is_integer(v) && !json_is_boolean(v)) goto bad;                    \
            o->name = json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);      \
            continue;                                                                    \
        }
#define NUM(name)                                                                        \
        if (strcmp(key, #name) == 0) {                                                   \
            if (!json_is_number(v)) goto bad;                                            \
            o->name = json_number_value(v);                                              \
            continue;                                                                    \
        }
        STR(init) STR(scratch) STR(pooling) STR(precision)
        INT(vocab_size) INT(epochs) INT(max_steps) INT(batch) INT(group) INT(accum)
        INT(max_len_q) INT(max_len_p) INT(inbatch) INT(eval_every) INT(ckpt_every)
        INT(eval_queries) INT(eval_docs) INT(fill) INT(threads) INT(seed) INT(act_budget_mb) INT(no_titles)
        INT(include_offline)
        NUM(lr) NUM(temp) NUM(weight_decay) NUM(warmup) NUM(clip) NUM(mix_start) NUM(mix_end)
#undef STR
#undef INT
#undef NUM
        continue;   /* unknown keys (written by a newer syneg) are ignored */
    bad:
        return sy_fail(err, SY_EPARSE, "%s: key \"%s\" has the wrong type", what, key);
    }
    /* runs configured before offline rows were left out drew them: a resumed
     * run keeps drawing what it started with */
    if (!json_object_get(j, "include_offline")) o->include_offline = 1;
    return 0;
}

int train_opts_check(const train_opts *o, sy_err *err)
{
    if (!o->init[0] == !o->scratch[0])
        return sy_fail(err, SY_EINVAL, "give exactly one of --init MODEL_DIR and --scratch tiny|mini");
    if (o->scratch[0] && strcmp(o->scratch, "tiny") && strcmp(o->scratch, "mini"))
        return sy_fail(err, SY_EINVAL, "--scratch %s: unknown size; use tiny or mini", o->scratch);
    if (o->epochs < 1 || o->epochs > 100000) return sy_fail(err, SY_EINVAL, "--epochs %d: use 1..100000", o->epochs);
    if (o->batch < 1 || o->batch > 4096) return sy_fail(err, SY_EINVAL, "--batch %d: use 1..4096", o->batch);
    if (o->group < 1 || o->group > 256) return sy_fail(err, SY_EINVAL, "--group %d: use 1..256", o->group);
    if (o->accum < 1 || o->accum > 1024) return sy_fail(err, SY_EINVAL, "--accum %d: use 1..1024", o->accum);
    if (!(o->lr > 0 && o->lr <= 1)) return sy_fail(err, SY_EINVAL, "--lr %g: use a value in (0, 1]", o->lr);
    if (!(o->temp > 0 && o->temp <= 10)) return sy_fail(err, SY_EINVAL, "--temp %g: use a value in (0, 10]", o->temp);
    if (o->max_len_q < 4 || o->max_len_q > 512 || o->max_len_p < 4 || o->max_len_p > 512)
        return sy_fail(err, SY_EINVAL, "--max-len %d/%d: use 4..512", o->max_len_q, o->max_len_p);
    if (!(o->mix_start >= 0 && o->mix_start <= 1 && o->mix_end >= 0 && o->mix_end <= 1))
        return sy_fail(err, SY_EINVAL, "--mix %g:%g: use fractions in 0..1", o->mix_start, o->mix_end);
    if (o->warmup < 0 || o->warmup > 1) return sy_fail(err, SY_EINVAL, "--warmup %g: use 0..1", o->warmup);
    if (o->pooling[0] && strcmp(o->pooling, "cls") && strcmp(o->pooling, "mean"))
        return sy_fail(err, SY_EINVAL, "--pooling %s: use cls or mean", o->pooling);
    if (o->vocab_size < 200 || o->vocab_size > 200000)
        return sy_fail(err, SY_EINVAL, "--vocab-size %d: use 200..200000", o->vocab_size);
    enc_precision prec;
    if (o->precision[0] && enc_precision_parse(o->precision, &prec, err)) return -1;
    if (o->act_budget_mb != 0 && o->act_budget_mb < 16)
        return sy_fail(err, SY_EINVAL, "--act-budget %d MB: use 0 (auto) or >= 16", o->act_budget_mb);
    return 0;
}

/* ---- model construction ---- */

#define VOCAB_MAX_DOCS 1000000

static enc_model *scratch_model(trainer *t, sy_err *err)
{
    const train_opts *o = &t->o;
    char *vocab = sy_path_join(t->run_dir, "vocab.txt");
    if (!vocab) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    if (!sy_file_exists(vocab)) {   /* a resumed run keeps its vocabulary */
        /* titles and texts of up to VOCAB_MAX_DOCS documents, and the queries */
        size_t nd = corpus_ndocs(t->c), nq = corpus_nqueries(t->c);
        if (nd > VOCAB_MAX_DOCS) nd = VOCAB_MAX_DOCS;
        const char **texts = malloc((2 * nd + nq + 1) * sizeof *texts);
        if (!texts) { free(vocab); sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
        size_t n = 0;
        for (size_t i = 0; i < nd; i++) {
            texts[n++] = corpus_doc_title(t->c, (uint32_t)i);
            texts[n++] = corpus_doc_text(t->c, (uint32_t)i);
        }
        for (size_t i = 0; i < nq; i++) texts[n++] = corpus_query_text(t->c, (uint32_t)i);
        vocab_opts vo = { (size_t)o->vocab_size, 0, 0 };
        int rc = vocab_learn(texts, n, &vo, vocab, NULL, err);
        free(texts);
        if (rc) { free(vocab); return NULL; }
    }
    enc_model *m = calloc(1, sizeof *m);
    if (!m) { free(vocab); sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    m->tok = tok_load(vocab, &TOK_OPTS_UNCASED, err);
    free(vocab);
    if (!m->tok) { free(m); return NULL; }
    int mini = strcmp(o->scratch, "mini") == 0;
    enc_config *cfg = &m->cfg;
    cfg->vocab_size = (int)tok_vocab_size(m->tok);
    cfg->hidden = mini ? 384 : 128;
    cfg->layers = mini ? 6 : 2;
    cfg->heads = mini ? 12 : 2;
    cfg->intermediate = 4 * cfg->hidden;
    cfg->max_position = 512;
    cfg->type_vocab = 2;
    cfg->ln_eps = 1e-12f;
    m->num_params = enc_params_layout(NULL, NULL, cfg);
    m->params_memory = train_falloc(m->num_params);
    if (!m->params_memory) { enc_free(m); sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    enc_params_layout(&m->params, m->params_memory, cfg);
    /* BERT's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm */
    uint64_t rs = o->seed ^ 0x5eedf00dull;
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, cfg);
    float **pp = (float **)&m->params;
    for (int i = 0; i < ENC_PARAM_TENSORS; i++) {
        int ln_w = i == 3 || i == 9 || i == 15;
        int weight = i <= 2 || i == 5 || i == 7 || i == 11 || i == 13;
        for (size_t k = 0; k < sizes[i]; k++)
            pp[i][k] = ln_w ? 1.0f : weight ? 0.02f * rng_normal(&rs) : 0.0f;
    }
    m->pooling = ENC_POOL_MEAN;
    m->normalize = 1;
    m->max_len = o->max_len_p;
    m->dir = strdup(t->run_dir);
    m->dtype = strdup("F32");
    if (!m->dir || !m->dtype) { enc_free(m); sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    return m;
}

/* ---- data ---- */

static int build_data(trainer *t, sy_err *err)
{
    const train_opts *o = &t->o;
    t->train_qr = corpus_qrels_for(t->c, session_train_split(t->s));
    if (!t->train_qr)
        return sy_fail(err, SY_ENOTFOUND, "%s: the data set has no split '%s'; set the session's train split",
                       session_source_path(t->s), session_train_split(t->s));
    if (o->group > 1) {
        mix_opts mo;
        mix_opts_default(&mo);
        mo.mix_start = o->mix_start;
        mo.mix_end = o->mix_end;
        mo.fill = o->fill;
        mo.skip_offline = !o->include_offline;
        mo.num = (unsigned)(o->group - 1);
        mo.seed = o->seed;
        mo.shuffle = 1;
        t->mix = mix_build(t->s, &mo, err);
        if (!t->mix) return -1;
        t->ninst = mix_ninstances(t->mix);
        size_t offline = mix_get_report(t->mix)->excluded[MIX_X_OFFLINE];
        if (!t->ninst && offline)
            return sy_fail(err, SY_ENOTFOUND,
                           "%s: no training instance has a negative: the %zu negatives of the offline generator "
                           "(a stand-in for an LLM) are left out; train on them with --include-offline "
                           "(setting train.include_offline), or mine negatives ('syneg mine')",
                           session_dir(t->s), offline);
        if (!t->ninst)
            return sy_fail(err, SY_ENOTFOUND,
                           "%s: no training instance has a negative; mine negatives first "
                           "('syneg mine') or train with --group 1 (in-batch negatives only)",
                           session_dir(t->s));
    } else {
        size_t cap = t->train_qr->n;
        t->pairs = malloc(2 * (cap ? cap : 1) * sizeof *t->pairs);
        if (!t->pairs) return sy_fail(err, SY_ENOMEM, "out of memory");
        for (size_t i = 0; i < t->train_qr->n; i++)
            if (t->train_qr->rows[i].rel > 0) {
                t->pairs[2 * t->npairs] = t->train_qr->rows[i].query;
                t->pairs[2 * t->npairs + 1] = t->train_qr->rows[i].doc;
                t->npairs++;
            }
        t->ninst = t->npairs;
        t->perm = malloc((t->ninst ? t->ninst : 1) * sizeof *t->perm);
        if (!t->perm) return sy_fail(err, SY_ENOMEM, "out of memory");
        if (!t->ninst)
            return sy_fail(err, SY_ENOTFOUND, "split '%s' has no positive qrels to train on",
                           session_train_split(t->s));
    }
    t->cur_epoch = -1;
    return 0;
}

static void emit(trainer *t, const train_hooks *h, json_t *line);

static int load_epoch(trainer *t, int epoch, sy_err *err)
{
    if (t->cur_epoch == epoch) return 0;
    if (t->mix) {
        if (mix_draw(t->mix, (unsigned)epoch, (unsigned)t->o.epochs, err)) return -1;
        /* what this epoch's groups drew, per source: an arm's sources are visible */
        const mix_report *r = mix_get_report(t->mix);
        json_t *d = json_object();
        for (int k = 0; k < NEG_NSOURCES; k++) {
            if (r->drawn[k] - t->drawn_prev[k]) json_object_set_new(d, neg_source_name(k), json_integer((json_int_t)(r->drawn[k] - t->drawn_prev[k])));
            t->drawn_prev[k] = r->drawn[k];
        }
        size_t fills = r->fill_synthetic_short + r->fill_retrieved_short;
        emit(t, t->hooks, json_pack("{s:i, s:o, s:I, s:I}", "epoch", epoch, "drawn", d, "fills",
                                    (json_int_t)(fills - t->fills_prev), "repeats", (json_int_t)(r->repeats - t->repeats_prev)));
        t->fills_prev = fills;
        t->repeats_prev = r->repeats;
    } else {
        uint64_t rs = t->o.seed * 0x9e3779b97f4a7c15ull + (uint64_t)epoch + 1;
        for (size_t i = 0; i < t->ninst; i++) t->perm[i] = i;
        for (size_t i = t->ninst; i > 1; i--) {
            size_t j = rng_next(&rs) % i, x = t->perm[i - 1];
            t->perm[i - 1] = t->perm[j];
            t->perm[j] = x;
        }
    }
    t->cur_epoch = epoch;
    return 0;
}

static void get_instance(trainer *t, size_t i, train_inst *in)
{
    int G = t->o.group;
    if (t->mix) {
        const mix_instance *mi = mix_at(t->mix, i);
        in->query = (int)mi->query;
        in->qtext = mi->query_text;
        const mix_passage *ps[256];
        ps[0] = mi->pos;
        for (int k = 1; k < G; k++) ps[k] = mi->negs[(size_t)(k - 1) % mi->nneg];
        for (int k = 0; k < G; k++) {
            in->ptitle[k] = ps[k]->title;
            in->ptext[k] = ps[k]->text;
            int synthetic = ps[k]->source != MIX_SRC_QRELS && mix_source_class(ps[k]->source) == MIX_SYNTHETIC;
            in->pdoc[k] = synthetic ? -1 : corpus_doc_find(t->c, ps[k]->id);
        }
    } else {
        size_t k = t->perm[i];
        uint32_t q = t->pairs[2 * k], d = t->pairs[2 * k + 1];
        in->query = (int)q;
        in->qtext = corpus_query_text(t->c, q);
        in->ptitle[0] = corpus_doc_title(t->c, d);
        in->ptext[0] = corpus_doc_text(t->c, d);
        in->pdoc[0] = d;
    }
}

static int is_positive(const trainer *t, int query, int64_t doc)
{
    if (doc < 0) return 0;
    size_t n;
    const corpus_qrel *r = corpus_qrels_of(t->train_qr, (uint32_t)query, &n);
    for (size_t i = 0; i < n; i++)
        if (r[i].doc == (uint32_t)doc) return r[i].rel > 0;
    return 0;
}

static int tokenize(trainer *t, const char *prefix, const char *title, const char *text,
                    int *ids, int max_len)
{
    t->text.len = 0;
    if (prefix) sy_buf_puts(&t->text, prefix);
    passage_append(&t->text, title, text, (size_t)-1, t->o.no_titles ? PASSAGE_NO_TITLES : PASSAGE_TITLES);
    int32_t tmp[512];
    size_t n = tok_encode(t->m->tok, t->text.data ? t->text.data : "", t->text.len, tmp,
                          (size_t)max_len, NULL);
    for (size_t i = 0; i < n; i++) ids[i] = tmp[i];
    return (int)n;
}

/* One micro-batch: instances first..first+B-1 of the current epoch.
 * Accumulates gradients (scaled by `scale`); returns the loss. */
static int micro_batch(trainer *t, size_t first, double scale, double *loss, double *acc,
                       sy_err *err)
{
    const train_opts *o = &t->o;
    const enc_model *m = t->m;
    int B = t->B, G = t->G, P = t->P;
    for (int b = 0; b < B; b++) {
        train_inst *in = &t->inst[b];
        get_instance(t, first + (size_t)b, in);
        t->lens_q[b] = tokenize(t, m->query_prefix, NULL, in->qtext,
                                t->ids_q + (size_t)b * o->max_len_q, o->max_len_q);
        for (int k = 0; k < G; k++)
            t->lens_p[b * G + k] = tokenize(t, m->passage_prefix, in->ptitle[k], in->ptext[k],
                                            t->ids_p + (size_t)(b * G + k) * o->max_len_p,
                                            o->max_len_p);
    }
    /* which in-batch passages are really positives of another query */
    for (int b = 0; b < B; b++)
        for (int j = 0; j < P; j++) {
            int owner = j / G;
            t->valid[(size_t)b * P + j] =
                owner == b || !is_positive(t, t->inst[b].query, t->inst[owner].pdoc[j % G]);
        }
    return train_compute_batch(t, scale, loss, acc, err);
}

static void optimizer_step(trainer *t, double lr, long step1)
{
    train_optimizer_step(t->m, t->grad, t->am, t->av, lr, t->o.weight_decay, step1);
}

/* ---- logging and status ---- */

static void emit(trainer *t, const train_hooks *h, json_t *line)
{
    char ts[40];
    sy_iso_time(ts, sizeof ts);
    json_t *o = json_pack("{s:s}", "t", ts);
    json_object_update(o, line);
    json_decref(line);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(7));
    json_decref(o);
    if (!s) return;
    runs_log(t->run_dir, s, NULL);
    if (h && h->on_line) h->on_line(h->ctx, s);
    free(s);
}

static void set_status(trainer *t, const char *state, long step, const char *ckpt, const char *msg)
{
    run_status st;
    memset(&st, 0, sizeof st);
    const char *slash = strrchr(t->run_dir, '/');
    snprintf(st.id, sizeof st.id, "%s", slash ? slash + 1 : t->run_dir);
    snprintf(st.state, sizeof st.state, "%s", state);
    st.pid = (long)getpid();
    st.step = step;
    st.total = t->total_steps;
    st.epoch = t->steps_per_epoch ? step / t->steps_per_epoch : 0;
    sy_iso_time(st.updated, sizeof st.updated);
    snprintf(st.checkpoint, sizeof st.checkpoint, "%s", ckpt ? ckpt : "");
    snprintf(st.message, sizeof st.message, "%s", msg ? msg : "");
    runs_write_status(t->run_dir, &st, NULL);
}

/* ---- create / run ---- */

char *train_create(const char *session_dir, const train_opts *o, char **id_out, sy_err *err)
{
    if (train_opts_check(o, err)) return NULL;
    if (o->init[0] && !sy_is_dir(o->init)) {
        sy_fail(err, SY_ENOTFOUND, "--init %s: not a folder; give a Hugging Face model folder "
                "(config.json, vocab.txt, model.safetensors) or use --scratch tiny|mini", o->init);
        return NULL;
    }
    char tag[64];
    if (o->scratch[0]) snprintf(tag, sizeof tag, "%s", o->scratch);
    else {
        const char *b = strrchr(o->init, '/');
        b = b && b[1] ? b + 1 : o->init;
        size_t k = 0;
        for (; *b && k < 24; b++)
            tag[k++] = (('a' <= *b && *b <= 'z') || ('A' <= *b && *b <= 'Z') || ('0' <= *b && *b <= '9') || *b == '-') ? *b : '_';
        tag[k] = '\0';
        if (!k) snprintf(tag, sizeof tag, "init");
    }
    char *id = NULL;
    char *dir = runs_create(session_dir, tag, &id, err);
    if (!dir) return NULL;
    json_t *cfg = json_pack("{s:s, s:i, s:o}", "format", "syneg-run-config", "version", 1,
                            "options", train_opts_to_json(o));
    char ts[40];
    sy_iso_time(ts, sizeof ts);
    json_object_set_new(cfg, "created", json_string(ts));
    char *s = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    char *path = sy_path_join(dir, "config.json");
    int rc = s && path ? sy_write_file_atomic(path, s, strlen(s), err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(s);
    free(path);
    run_status st;
    memset(&st, 0, sizeof st);
    snprintf(st.id, sizeof st.id, "%s", id);
    snprintf(st.state, sizeof st.state, "running");
    st.pid = (long)getpid();
    sy_iso_time(st.updated, sizeof st.updated);
    snprintf(st.message, sizeof st.message, "starting");
    if (!rc) rc = runs_write_status(dir, &st, err);
    if (rc) { free(dir); free(id); return NULL; }
    if (id_out) *id_out = id;
    else free(id);
    return dir;
}

static int read_config(const char *run_dir, train_opts *o, sy_err *err)
{
    char *path = sy_path_join(run_dir, "config.json");
    json_error_t je;
    json_t *j = path ? json_load_file(path, 0, &je) : NULL;
    if (!j) {
        int rc = sy_fail(err, SY_EPARSE, "%s:%d: %s", path ? path : run_dir, je.line, je.text);
        free(path);
        return rc;
    }
    train_opts_default(o);
    int rc = train_opts_from_json(o, json_object_get(j, "options"), path, err);
    json_decref(j);
    free(path);
    if (!rc) rc = train_opts_check(o, err);
    return rc;
}

static int setup(trainer *t, long *start_step, char *ckpt_rel, size_t ckpt_n, sy_err *err)
{
    const train_opts *o = &t->o;
    t->s = session_open(t->session_dir, SESSION_READ, err);
    if (!t->s) return -1;
    t->c = session_corpus(t->s, err);
    if (!t->c) return -1;
    /* a checkpoint to resume from? */
    *start_step = 0;
    (void)ckpt_n;
    if (ckpt_rel[0]) {
        char *p = sy_path_join(t->run_dir, ckpt_rel);
        t->m = p ? enc_load(p, err) : NULL;
        free(p);
        if (!t->m) return -1;
    } else if (o->scratch[0]) {
        t->m = scratch_model(t, err);
    } else {
        t->m = enc_load(o->init, err);
    }
    if (!t->m) return -1;
    if (o->pooling[0]) {
        t->m->pooling = strcmp(o->pooling, "mean") == 0 ? ENC_POOL_MEAN : ENC_POOL_CLS;
        t->m->npool_concat = 0;
    }
    /* the trainer's backward knows cls and mean pooling and no Dense module */
    if ((t->m->pooling != ENC_POOL_CLS && t->m->pooling != ENC_POOL_MEAN) || t->m->npool_concat ||
        t->m->ndense || t->m->pool_skip_prompt)
        return sy_fail(err, SY_EUNSUP, "%s: training supports cls or mean pooling over all tokens and no "
                       "Dense module; this model's sentence-transformers modules differ; hint: --pooling "
                       "cls|mean picks one (Dense modules cannot be trained yet)", t->m->dir);
    t->m->normalize = 1;
    t->m->max_len = o->max_len_p;
    /* bf16 products (auto: where this CPU has avx512_bf16); fp32 masters either way */
    if (enc_apply_precision(t->m, o->precision[0] ? o->precision : "fp32", err)) return -1;
    int npos = t->m->cfg.max_position - t->m->cfg.pos_offset;
    if (o->max_len_p > npos || o->max_len_q > npos)
        return sy_fail(err, SY_EINVAL, "--max-len exceeds the model's %d positions", npos);
    t->np = t->m->num_params;
    t->grad = train_falloc(t->np);
    t->am = train_falloc(t->np);
    t->av = train_falloc(t->np);
    if (!t->grad || !t->am || !t->av) return sy_fail(err, SY_ENOMEM, "out of memory for %zu parameters", t->np);
    enc_params_layout(&t->g, t->grad, &t->m->cfg);
    if (ckpt_rel[0]) {
        char *p = sy_path_join(t->run_dir, ckpt_rel);
        int rc = p ? ckpt_read_state(p, t->am, t->av, t->np, start_step, err) : -1;
        free(p);
        if (rc) return -1;
    }
    if (build_data(t, err)) return -1;
    long per_epoch = (long)(t->ninst / ((size_t)(o->batch < (int)t->ninst ? o->batch : (int)t->ninst) * o->accum));
    t->steps_per_epoch = per_epoch > 0 ? per_epoch : 1;
    t->total_steps = t->steps_per_epoch * o->epochs;
    if (o->max_steps > 0 && o->max_steps < t->total_steps) t->total_steps = o->max_steps;
    t->warm_steps = (long)ceil(o->warmup * (double)t->total_steps);
    return train_alloc_buffers(t, err);
}

int train_run(const char *session_dir, const char *run_dir, const train_hooks *h, sy_err *err)
{
    trainer T;
    memset(&T, 0, sizeof T);
    trainer *t = &T;
    sy_err e2;
    if (!err) err = &e2;
    t->session_dir = strdup(session_dir);
    t->run_dir = strdup(run_dir);
    if (!t->session_dir || !t->run_dir) { train_state_free(t); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    if (read_config(run_dir, &t->o, err)) { train_state_free(t); return -1; }
    t->hooks = h;
    const train_opts *o = &t->o;
    kern_set_threads(o->threads);
    long step = 0;
    char ckpt[128] = "";
    /* a checkpoint to resume from? (read before the status is rewritten) */
    run_status old;
    if (runs_read_status(run_dir, &old, NULL) == 0 && old.checkpoint[0]) {
        char *p = sy_path_join(run_dir, old.checkpoint);
        char *sp = p ? sy_path_join(p, "train_state.bin") : NULL;
        if (sp && sy_file_exists(sp)) {
            snprintf(ckpt, sizeof ckpt, "%s", old.checkpoint);
            step = old.step;
        }
        free(sp);
        free(p);
    }
    set_status(t, "running", step, ckpt[0] ? ckpt : NULL, "loading");
    if (setup(t, &step, ckpt, sizeof ckpt, err)) {
        set_status(t, "failed", step, ckpt, err->msg);
        train_state_free(t);
        return -1;
    }
    runs_clear_cancel(run_dir);
    int rc = 0;
    {
        json_t *d = json_pack("{s:I, s:I, s:I, s:i, s:i, s:i, s:I, s:s, s:s}",
                              "instances", (json_int_t)t->ninst, "steps_per_epoch", (json_int_t)t->steps_per_epoch,
                              "total_steps", (json_int_t)t->total_steps, "batch", t->B, "group", t->G,
                              "chunk", t->chunk, "params", (json_int_t)t->np,
                              "pooling", t->m->pooling == ENC_POOL_MEAN ? "mean" : "cls",
                              "model", o->scratch[0] ? o->scratch : o->init);
        json_object_set_new(d, "precision", json_string(enc_precision_name(t->m->precision)));   /* as resolved */
        if (t->mix) {
            const mix_report *r = mix_get_report(t->mix);
            json_t *pool = json_object();
            for (int k = 0; k < NEG_NSOURCES; k++)
                if (r->candidates[k]) json_object_set_new(pool, neg_source_name(k), json_integer((json_int_t)r->candidates[k]));
            json_object_set_new(d, "pool", pool);
            json_object_set_new(d, "queries", json_integer((json_int_t)r->queries));
            json_object_set_new(d, "skipped_no_negatives", json_integer((json_int_t)r->skipped_no_negatives));
            json_t *ex = json_object();
            for (int k = 0; k < MIX_NX; k++)
                if (r->excluded[k]) json_object_set_new(ex, mix_exclusion_name(k), json_integer((json_int_t)r->excluded[k]));
            json_object_set_new(d, "excluded", ex);
            json_object_set_new(d, "positives_promoted", json_integer((json_int_t)r->positives_promoted));
        }
        labels *lb = session_labels(t->s);   /* the labels in force at launch */
        if (lb)
            json_object_set_new(d, "labels", json_pack("{s:I, s:I}", "accepted", (json_int_t)labels_count(lb, LABEL_ACCEPT),
                                                       "rejected", (json_int_t)labels_count(lb, LABEL_REJECT)));
        emit(t, h, json_pack("{s:I, s:o}", "step", (json_int_t)step, "data", d));
    }
    if (step == 0) {
        json_t *ev = train_evaluate(t, err);
        if (!ev) goto fail;
        emit(t, h, json_pack("{s:I, s:o}", "step", (json_int_t)0, "eval", ev));
    } else {
        emit(t, h, json_pack("{s:I, s:s}", "step", (json_int_t)step, "resumed", ckpt));
    }
    set_status(t, "running", step, ckpt[0] ? ckpt : NULL, "training");
    int cancelled = 0;
    while (step < t->total_steps) {
        if ((h && h->should_stop && h->should_stop(h->ctx)) || runs_cancel_requested(run_dir)) {
            cancelled = 1;
            break;
        }
        double t0 = sy_now();
        memset(t->grad, 0, t->np * sizeof *t->grad);
        int epoch = (int)(step / t->steps_per_epoch);
        long pos = step % t->steps_per_epoch;
        if (load_epoch(t, epoch, err)) goto fail;
        double loss = 0, acc = 0;
        for (int a = 0; a < o->accum; a++) {
            double l = 0, ac = 0;
            size_t first = ((size_t)pos * o->accum + a) * (size_t)t->B;
            if (micro_batch(t, first, 1.0 / o->accum, &l, &ac, err)) goto fail;
            loss += l / o->accum;
            acc += ac / o->accum;
        }
        double gn = train_clip(t->grad, t->np, o->clip);
        double lr = train_lr_at(o->lr, step, t->total_steps, t->warm_steps);
        optimizer_step(t, lr, step + 1);
        step++;
        double dt = sy_now() - t0;
        double seqs = (double)o->accum * t->B * (1 + t->G);
        emit(t, h, json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:f}", "step", (json_int_t)step,
                             "epoch", epoch, "loss", loss, "acc", acc, "lr", lr, "grad_norm", gn,
                             "seq_s", dt > 0 ? seqs / dt : 0.0));
        if (!isfinite(loss)) { sy_fail(err, SY_EINVAL, "loss is %g at step %ld; lower --lr", loss, step); goto fail; }
        int last = step == t->total_steps;
        if (o->eval_every > 0 && step % o->eval_every == 0 && !last) {
            json_t *ev = train_evaluate(t, err);
            if (!ev) goto fail;
            emit(t, h, json_pack("{s:I, s:o}", "step", (json_int_t)step, "eval", ev));
        }
        if (!last && o->ckpt_every > 0 && step % o->ckpt_every == 0) {
            if (ckpt_save(t->m, t->run_dir, step, t->am, t->av, t->np, o->max_len_p, ckpt, sizeof ckpt, err)) goto fail;
            set_status(t, "running", step, ckpt, "training");
        } else if (step % 10 == 0) {
            set_status(t, "running", step, ckpt[0] ? ckpt : NULL, "training");
        }
    }
    if (cancelled) {
        if (step > 0 && ckpt_save(t->m, t->run_dir, step, t->am, t->av, t->np, o->max_len_p, ckpt, sizeof ckpt, err)) goto fail;
        emit(t, h, json_pack("{s:I, s:b}", "step", (json_int_t)step, "cancelled", 1));
        set_status(t, "cancelled", step, ckpt[0] ? ckpt : NULL, "cancelled; resume with 'syneg train SESSION --resume ID'");
        train_state_free(t);
        return sy_fail(err, SY_ECANCEL, "run cancelled at step %ld", step);
    }
    {
        json_t *ev = train_evaluate(t, err);
        if (!ev) goto fail;
        emit(t, h, json_pack("{s:I, s:o, s:b}", "step", (json_int_t)step, "eval", ev, "final", 1));
        if (ckpt_save_final(t->m, t->run_dir, t->o.max_len_p, err)) goto fail;
        set_status(t, "done", step, ckpt[0] ? ckpt : NULL, "finished; the model is in final/");
    }
    train_state_free(t);
    return rc;
fail:
    set_status(t, "failed", step, ckpt[0] ? ckpt : NULL, err->msg);
    train_state_free(t);
    return -1;
}
