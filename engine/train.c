/* train: the training loop, optimiser, checkpoints and evaluation of a run.
 * Contract in train.h.  The encoder's backward (mirroring enc_forward) lives
 * here as encoder_backward; the per-op backwards are in kernels_bwd.c.
 *
 * train_state.bin (in each checkpoint folder), little-endian:
 *   "SYTRST\0\0" | u32 version (1) | u32 0 | u64 step (updates done) |
 *   u64 nfloats | f32 m[nfloats] | f32 v[nfloats] | u64 sy_hash64 of all before
 * nfloats is the enc_params_layout size, so the moments carry the same
 * alignment padding as the parameters. */
#include "train.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"
#include "encoder.h"
#include "eval.h"
#include "kernels.h"
#include "kernels_bwd.h"
#include "mix.h"
#include "negstore.h"
#include "runs.h"
#include "safetensors.h"
#include "session.h"
#include "tokenizer.h"
#include "train_ckpt.h"
#include "util.h"
#include "vocab_learn.h"

/* ---- options ---------------------------------------------------------- */

void train_opts_default(train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->vocab_size = 8000;
    o->epochs = 1;
    o->batch = 16;
    o->group = 8;
    o->accum = 1;
    o->temp = 0.02;
    o->weight_decay = 0.01;
    o->warmup = 0.1;
    o->clip = 1.0;
    o->max_len_q = 32;
    o->max_len_p = 128;
    o->mix_start = o->mix_end = 0.5;
    o->inbatch = 1;
    o->ckpt_every = 100;
    o->seed = 42;
    o->act_budget_mb = 0;
}

void train_opts_finish(train_opts *o)
{
    if (o->lr <= 0) o->lr = !o->scratch[0] ? 2e-5 : strcmp(o->scratch, "mini") == 0 ? 5e-4 : 1e-3;
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
        STR(init) STR(scratch) STR(pooling)
        INT(vocab_size) INT(epochs) INT(max_steps) INT(batch) INT(group) INT(accum)
        INT(max_len_q) INT(max_len_p) INT(inbatch) INT(eval_every) INT(ckpt_every)
        INT(eval_queries) INT(eval_docs) INT(threads) INT(seed) INT(act_budget_mb)
        NUM(lr) NUM(temp) NUM(weight_decay) NUM(warmup) NUM(clip) NUM(mix_start) NUM(mix_end)
#undef STR
#undef INT
#undef NUM
        continue;   /* unknown keys (written by a newer syneg) are ignored */
    bad:
        return sy_fail(err, SY_EPARSE, "%s: key \"%s\" has the wrong type", what, key);
    }
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
    if (!(o->lr > 0 && o->lr < 1)) return sy_fail(err, SY_EINVAL, "--lr %g: use a value in (0, 1)", o->lr);
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
    if (o->act_budget_mb != 0 && o->act_budget_mb < 16)
        return sy_fail(err, SY_EINVAL, "--act-budget %d MB: use 0 (auto) or >= 16", o->act_budget_mb);
    return 0;
}

/* ---- optimiser pieces ----------------------------------------------------- */

double train_lr_at(double lr, long step, long total, long warm)
{
    if (warm > 0 && step < warm) return lr * (double)(step + 1) / (double)warm;
    if (total <= warm) return lr;
    double f = (double)(total - step) / (double)(total - warm);
    return f > 0 ? lr * f : 0.0;
}

void train_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                 float b2, float eps, float wd, long t)
{
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        float mh = mi / c1, vh = vi / c2;
        p[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * p[i]);
    }
}

double train_clip(float *g, size_t n, double clip)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    double norm = sqrt(s);
    if (clip > 0 && norm > clip) {
        float k = (float)(clip / (norm + 1e-6));
        for (size_t i = 0; i < n; i++) g[i] *= k;
    }
    return norm;
}

/* ---- random numbers: splitmix64 ------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static float rng_normal(uint64_t *s)
{
    double u = rng_unit(s), v = rng_unit(s);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- the trainer ------------------------------------------------------------ */

typedef struct {
    int query;        /* dense corpus query index */
    const char *qtext;
    const char *ptitle[256], *ptext[256];
    int64_t pdoc[256];   /* corpus doc index of each passage, -1 for synthetic text */
} instance;

typedef struct {
    train_opts o;
    char *session_dir, *run_dir;
    session *s;
    corpus *c;
    const corpus_qrels *train_qr;
    enc_model *m;
    enc_params g;              /* gradients, pointing into grad */
    float *grad, *am, *av;
    size_t np;                 /* floats in each of params, grad, am, av */
    /* data */
    mix_set *mix;
    uint32_t *pairs;           /* group 1: (query, doc) pairs, 2 per instance */
    size_t npairs, *perm;
    size_t ninst;
    long steps_per_epoch, total_steps, warm_steps;
    int cur_epoch;             /* epoch whose draw is loaded, -1 none */
    /* batch buffers */
    int B, G, P;               /* instances, passages per instance, passages per micro-batch */
    int chunk;                 /* passages per activation chunk */
    int *ids_q, *lens_q, *ids_p, *lens_p;
    float *acts_q, *acts_p;
    float *qemb, *pemb, *qnorm, *pnorm, *dq, *dp, *dpool;
    float *d1, *d2, *dI1, *dI2, *dqkv, *dlast;
    unsigned char *valid;
    instance *inst;
    sy_buf text;
    /* evaluation: the documents searched (all, or a fixed subset) and their texts */
    uint32_t *eval_docs;
    char **doc_texts;
    size_t ndoc_texts;
} trainer;

static void trainer_free(trainer *t)
{
    mix_free(t->mix);
    enc_free(t->m);
    free(t->grad); free(t->am); free(t->av);
    free(t->pairs); free(t->perm);
    free(t->ids_q); free(t->lens_q); free(t->ids_p); free(t->lens_p);
    free(t->acts_q); free(t->acts_p);
    free(t->qemb); free(t->pemb); free(t->qnorm); free(t->pnorm); free(t->dq); free(t->dp);
    free(t->dpool);
    free(t->d1); free(t->d2); free(t->dI1); free(t->dI2); free(t->dqkv); free(t->dlast);
    free(t->valid); free(t->inst);
    sy_buf_free(&t->text);
    for (size_t i = 0; i < t->ndoc_texts; i++) free(t->doc_texts[i]);
    free(t->doc_texts);
    free(t->eval_docs);
    if (t->s) session_close(t->s);
    free(t->session_dir);
    free(t->run_dir);
}

static float *falloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

/* ---- model construction ---- */

static char *doc_text(const corpus *c, uint32_t d)
{
    const char *ti = corpus_doc_title(c, d), *tx = corpus_doc_text(c, d);
    return ti && *ti ? sy_strdup_printf("%s %s", ti, tx) : strdup(tx);
}

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
    m->params_memory = falloc(m->num_params);
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
        mo.num = (unsigned)(o->group - 1);
        mo.seed = o->seed;
        mo.shuffle = 1;
        t->mix = mix_build(t->s, &mo, err);
        if (!t->mix) return -1;
        t->ninst = mix_ninstances(t->mix);
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

static int load_epoch(trainer *t, int epoch, sy_err *err)
{
    if (t->cur_epoch == epoch) return 0;
    if (t->mix) {
        if (mix_draw(t->mix, (unsigned)epoch, (unsigned)t->o.epochs, err)) return -1;
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

static void get_instance(trainer *t, size_t i, instance *in)
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
    if (title && *title) { sy_buf_puts(&t->text, title); sy_buf_puts(&t->text, " "); }
    sy_buf_puts(&t->text, text ? text : "");
    int32_t tmp[512];
    size_t n = tok_encode(t->m->tok, t->text.data ? t->text.data : "", t->text.len, tmp,
                          (size_t)max_len, NULL);
    for (size_t i = 0; i < n; i++) ids[i] = tmp[i];
    return (int)n;
}

/* ---- buffers ---- */

static size_t acts_floats(const enc_config *cfg, int B, int T)
{
    enc_acts a;
    return enc_acts_layout(&a, NULL, cfg, B, T, 1);
}

static int alloc_buffers(trainer *t, sy_err *err)
{
    const enc_config *cfg = &t->m->cfg;
    const train_opts *o = &t->o;
    t->B = (int)((size_t)o->batch < t->ninst ? (size_t)o->batch : t->ninst);
    t->G = o->group;
    t->P = t->B * t->G;
    size_t budget = (size_t)o->act_budget_mb << 20;
    if (o->act_budget_mb <= 0) {   /* auto: a quarter of physical memory, 256 MiB .. 4 GiB */
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        budget = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz / 4 : (size_t)1 << 30;
        if (budget > (size_t)4 << 30) budget = (size_t)4 << 30;
        if (budget < (size_t)256 << 20) budget = (size_t)256 << 20;
    }
    int chunk = t->P;
    while (chunk > 1 && acts_floats(cfg, chunk, o->max_len_p) * sizeof(float) > budget) chunk = (chunk + 1) / 2;
    t->chunk = chunk;
    int C = cfg->hidden, FF = cfg->intermediate;
    size_t nq = (size_t)t->B * o->max_len_q, np = (size_t)chunk * o->max_len_p;
    size_t maxN = nq > np ? nq : np;
    t->ids_q = calloc(nq, sizeof(int));
    t->lens_q = calloc((size_t)t->B, sizeof(int));
    t->ids_p = calloc((size_t)t->P * o->max_len_p, sizeof(int));
    t->lens_p = calloc((size_t)t->P, sizeof(int));
    t->acts_q = falloc(acts_floats(cfg, t->B, o->max_len_q));
    t->acts_p = falloc(acts_floats(cfg, chunk, o->max_len_p));
    t->qemb = falloc((size_t)t->B * C);
    t->pemb = falloc((size_t)t->P * C);
    t->qnorm = falloc((size_t)t->B);
    t->pnorm = falloc((size_t)t->P);
    t->dq = falloc((size_t)t->B * C);
    t->dp = falloc((size_t)t->P * C);
    t->dpool = falloc((size_t)t->P * C);
    t->d1 = falloc(maxN * C);
    t->d2 = falloc(maxN * C);
    t->dlast = falloc(maxN * C);
    t->dI1 = falloc(maxN * FF);
    t->dI2 = falloc(maxN * FF);
    t->dqkv = falloc(maxN * 3 * C);
    t->valid = malloc((size_t)t->B * t->P);
    t->inst = calloc((size_t)t->B, sizeof *t->inst);
    if (!t->ids_q || !t->lens_q || !t->ids_p || !t->lens_p || !t->acts_q || !t->acts_p ||
        !t->qemb || !t->pemb || !t->qnorm || !t->pnorm || !t->dq || !t->dp || !t->dpool ||
        !t->d1 || !t->d2 || !t->dlast || !t->dI1 || !t->dI2 || !t->dqkv || !t->valid || !t->inst)
        return sy_fail(err, SY_ENOMEM, "out of memory for training buffers; lower --batch, --group or --max-len");
    return 0;
}

/* ---- forward helpers ---- */

static int max_len_of(const int *lens, int n)
{
    int T = 1;
    for (int i = 0; i < n; i++)
        if (lens[i] > T) T = lens[i];
    return T;
}

/* Pack n sequences (ids rows of stride `stride`) into a [n, T] block. */
static void pack(int *dst, const int *src, const int *lens, int n, int T, int stride, int pad)
{
    for (int b = 0; b < n; b++)
        for (int j = 0; j < T; j++)
            dst[(size_t)b * T + j] = j < lens[b] ? src[(size_t)b * stride + j] : pad;
}

/* Forward n sequences with activations cached in base; pooled + normalised
 * embeddings to emb[n,C], norms to norm[n].  *acts receives the layout. */
static int forward_cached(trainer *t, float *base, enc_acts *acts, int *packed, const int *lens,
                          int n, int T, float *emb, float *norm, sy_err *err)
{
    const enc_model *m = t->m;
    int C = m->cfg.hidden;
    enc_acts_layout(acts, base, &m->cfg, n, T, 1);
    if (enc_forward(m, acts, packed, lens, n, T, 1, err)) return -1;
    float *h = enc_acts_output(acts, &m->cfg, n, T, 1);
    if (m->pooling == ENC_POOL_MEAN) pool_mean_forward(emb, h, lens, n, T, C);
    else pool_cls_forward(emb, h, n, T, C);
    l2norm_forward(emb, norm, n, C);
    return 0;
}

/* The backward of enc_forward (all_layers=1), given dout = d last_hidden_state
 * [B,T,C] (overwritten).  Gradients accumulate into t->g. */
static int encoder_backward(trainer *t, const enc_acts *a, float *dout, const int *ids,
                            const int *lens, int B, int T)
{
    const enc_config *cfg = &t->m->cfg;
    const enc_params *p = &t->m->params;
    enc_params *g = &t->g;
    int C = cfg->hidden, FF = cfg->intermediate, NH = cfg->heads, N = B * T;
    size_t NC = (size_t)N * C, NI = (size_t)N * FF;
    float *dx = dout, *d1 = t->d1, *d2 = t->d2;
    for (int l = cfg->layers - 1; l >= 0; l--) {
        const float *x_in = l ? a->ln2 + (size_t)(l - 1) * NC : a->emb_ln;
        const float *qkv = a->qkv + (size_t)l * NC * 3;
        const float *att = a->att + (size_t)l * B * NH * T * T;
        const float *atty = a->atty + (size_t)l * NC, *res1 = a->res1 + (size_t)l * NC;
        const float *ln1 = a->ln1 + (size_t)l * NC, *res2 = a->res2 + (size_t)l * NC;
        const float *fch = a->fch + (size_t)l * NI, *fchg = a->fch_gelu + (size_t)l * NI;
        size_t lc = (size_t)l * C;
        memset(d1, 0, NC * sizeof *d1);
        layernorm_backward(d1, g->ln2_w + lc, g->ln2_b + lc, dx, res2, p->ln2_w + lc,
                           a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N, C);
        memcpy(d2, d1, NC * sizeof *d2);                     /* residual into ln1 */
        memset(t->dI1, 0, NI * sizeof *t->dI1);
        matmul_backward(t->dI1, g->fcproj_w + (size_t)l * C * FF, g->fcproj_b + lc, d1, fchg,
                        p->fcproj_w + (size_t)l * C * FF, N, FF, C);
        memset(t->dI2, 0, NI * sizeof *t->dI2);
        gelu_backward(t->dI2, fch, t->dI1, NI);
        matmul_backward(d2, g->fc_w + (size_t)l * FF * C, g->fc_b + (size_t)l * FF, t->dI2, ln1,
                        p->fc_w + (size_t)l * FF * C, N, C, FF);
        memset(d1, 0, NC * sizeof *d1);
        layernorm_backward(d1, g->ln1_w + lc, g->ln1_b + lc, d2, res1, p->ln1_w + lc,
                           a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, N, C);
        memcpy(dx, d1, NC * sizeof *dx);                     /* residual into the layer input */
        memset(d2, 0, NC * sizeof *d2);
        matmul_backward(d2, g->attproj_w + (size_t)l * C * C, g->attproj_b + lc, d1, atty,
                        p->attproj_w + (size_t)l * C * C, N, C, C);
        memset(t->dqkv, 0, NC * 3 * sizeof *t->dqkv);
        if (attention_backward(t->dqkv, d2, qkv, att, lens, B, T, C, NH)) return -1;
        matmul_backward(dx, g->qkv_w + (size_t)l * 3 * C * C, g->qkv_b + (size_t)l * 3 * C,
                        t->dqkv, x_in, p->qkv_w + (size_t)l * 3 * C * C, N, C, 3 * C);
    }
    memset(d1, 0, NC * sizeof *d1);
    layernorm_backward(d1, g->emb_ln_w, g->emb_ln_b, dx, a->emb, p->emb_ln_w, a->emb_mean,
                       a->emb_rstd, N, C);
    embedding_backward(g->wte, g->wpe, g->wtt, d1, ids, B, T, C);
    return 0;
}

/* d(pooled, normalised embedding) [n,C] -> d last_hidden_state in t->dlast */
static void head_backward(trainer *t, const float *demb, const float *emb, const float *norm,
                          const int *lens, int n, int T)
{
    int C = t->m->cfg.hidden;
    memset(t->dpool, 0, (size_t)n * C * sizeof(float));
    l2norm_backward(t->dpool, demb, emb, norm, n, C);
    memset(t->dlast, 0, (size_t)n * T * C * sizeof(float));
    if (t->m->pooling == ENC_POOL_MEAN) pool_mean_backward(t->dlast, t->dpool, lens, n, T, C);
    else pool_cls_backward(t->dlast, t->dpool, n, T, C);
}

/* Loss and gradient of the batch held in t->ids_q/lens_q/ids_p/lens_p/valid,
 * gradient scaled by `scale`, accumulated into t->g. */
static int batch_grad(trainer *t, double scale, double *loss, double *acc, sy_err *err)
{
    const train_opts *o = &t->o;
    const enc_model *m = t->m;
    int B = t->B, G = t->G, P = t->P, C = m->cfg.hidden;
    int pad = m->tok ? tok_pad(m->tok) : 0;
    if (pad < 0) pad = 0;
    int Tq = max_len_of(t->lens_q, B);
    int *packed_q = malloc((size_t)B * Tq * sizeof(int));
    int *packed_p = malloc((size_t)t->chunk * o->max_len_p * sizeof(int));
    if (!packed_q || !packed_p) { free(packed_q); free(packed_p); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    pack(packed_q, t->ids_q, t->lens_q, B, Tq, o->max_len_q, pad);
    enc_acts aq, ap;
    int rc = -1;
    /* queries: one cached forward */
    if (forward_cached(t, t->acts_q, &aq, packed_q, t->lens_q, B, Tq, t->qemb, t->qnorm, err)) goto out;
    /* passages, chunk by chunk */
    int nchunks = (P + t->chunk - 1) / t->chunk;
    for (int c0 = 0; c0 < P; c0 += t->chunk) {
        int n = P - c0 < t->chunk ? P - c0 : t->chunk;
        int Tp = max_len_of(t->lens_p + c0, n);
        pack(packed_p, t->ids_p + (size_t)c0 * o->max_len_p, t->lens_p + c0, n, Tp, o->max_len_p, pad);
        if (forward_cached(t, t->acts_p, &ap, packed_p, t->lens_p + c0, n, Tp,
                           t->pemb + (size_t)c0 * C, t->pnorm + c0, err)) goto out;
    }
    *loss = infonce_loss(t->dq, t->dp, t->qemb, t->pemb, B, G, C, o->temp, o->inbatch, t->valid, acc);
    if (isnan(*loss)) { sy_fail(err, SY_ENOMEM, "out of memory in the loss"); goto out; }
    if (scale != 1.0) {
        for (size_t i = 0; i < (size_t)B * C; i++) t->dq[i] *= (float)scale;
        for (size_t i = 0; i < (size_t)P * C; i++) t->dp[i] *= (float)scale;
    }
    /* backward: queries */
    head_backward(t, t->dq, t->qemb, t->qnorm, t->lens_q, B, Tq);
    if (encoder_backward(t, &aq, t->dlast, packed_q, t->lens_q, B, Tq)) goto oom;
    /* passages: the last chunk's activations are still cached; others recompute */
    for (int c0 = (nchunks - 1) * t->chunk; c0 >= 0; c0 -= t->chunk) {
        int n = P - c0 < t->chunk ? P - c0 : t->chunk;
        int Tp = max_len_of(t->lens_p + c0, n);
        pack(packed_p, t->ids_p + (size_t)c0 * o->max_len_p, t->lens_p + c0, n, Tp, o->max_len_p, pad);
        if (c0 != (nchunks - 1) * t->chunk) {   /* recompute: same values as the first pass */
            if (forward_cached(t, t->acts_p, &ap, packed_p, t->lens_p + c0, n, Tp,
                               t->pemb + (size_t)c0 * C, t->pnorm + c0, err)) goto out;
        }
        head_backward(t, t->dp + (size_t)c0 * C, t->pemb + (size_t)c0 * C, t->pnorm + c0,
                      t->lens_p + c0, n, Tp);
        if (encoder_backward(t, &ap, t->dlast, packed_p, t->lens_p + c0, n, Tp)) goto oom;
    }
    rc = 0;
    goto out;
oom:
    sy_fail(err, SY_ENOMEM, "out of memory in attention backward");
out:
    free(packed_q);
    free(packed_p);
    return rc;
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
        instance *in = &t->inst[b];
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
    return batch_grad(t, scale, loss, acc, err);
}

struct train_batch { trainer t; };

train_batch *train_batch_new(enc_model *m, int B, int G, int Tq, int Tp, int chunk, double temp,
                             int inbatch, sy_err *err)
{
    train_batch *tb = calloc(1, sizeof *tb);
    if (!tb) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    trainer *t = &tb->t;
    train_opts_default(&t->o);
    t->o.batch = B;
    t->o.group = G;
    t->o.max_len_q = Tq;
    t->o.max_len_p = Tp;
    t->o.temp = temp;
    t->o.inbatch = inbatch;
    t->ninst = (size_t)B;
    t->m = m;
    if (chunk < 0) t->o.act_budget_mb = 1 << 20;   /* everything in one chunk */
    if (alloc_buffers(t, err)) { train_batch_free(tb); return NULL; }
    if (chunk > 0 && chunk < t->chunk) t->chunk = chunk;
    memset(t->valid, 1, (size_t)B * t->P);
    return tb;
}

void train_batch_free(train_batch *tb)
{
    if (!tb) return;
    tb->t.m = NULL;   /* borrowed */
    trainer_free(&tb->t);
    free(tb);
}

int train_batch_grad(train_batch *tb, float *grad, const int *qids, const int *qlens,
                     const int *pids, const int *plens, double *loss, sy_err *err)
{
    trainer *t = &tb->t;
    int B = t->B, G = t->G;
    enc_params_layout(&t->g, grad, &t->m->cfg);
    memcpy(t->ids_q, qids, (size_t)B * t->o.max_len_q * sizeof(int));
    memcpy(t->lens_q, qlens, (size_t)B * sizeof(int));
    memcpy(t->ids_p, pids, (size_t)B * G * t->o.max_len_p * sizeof(int));
    memcpy(t->lens_p, plens, (size_t)B * G * sizeof(int));
    double acc;
    return batch_grad(t, 1.0, loss, &acc, err);
}

int train_grad_tokens(enc_model *m, float *grad, const int *qids, const int *qlens, int B, int Tq,
                      const int *pids, const int *plens, int G, int Tp, double temp, int inbatch,
                      int chunk, double *loss, sy_err *err)
{
    train_batch *tb = train_batch_new(m, B, G, Tq, Tp, chunk, temp, inbatch, err);
    if (!tb) return -1;
    int rc = train_batch_grad(tb, grad, qids, qlens, pids, plens, loss, err);
    train_batch_free(tb);
    return rc;
}

/* ---- optimiser over the parameter tensors ---- */

void train_optimizer_step(enc_model *m, const float *grad, float *am, float *av, double lr,
                          double wd, long t)
{
    enc_params g;
    enc_params_layout(&g, (float *)grad, &m->cfg);
    float **pp = (float **)&m->params, **gg = (float **)&g;
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, &m->cfg);
    for (int i = 0; i < ENC_PARAM_TENSORS; i++) {
        /* decay the matrices; not biases, not LayerNorm */
        int decay = i <= 2 || i == 5 || i == 7 || i == 11 || i == 13;
        size_t off = (size_t)(pp[i] - m->params_memory);
        train_adamw(pp[i], gg[i], am + off, av + off, sizes[i], (float)lr, 0.9f, 0.999f, 1e-8f,
                    decay ? (float)wd : 0.0f, t);
    }
}

static void optimizer_step(trainer *t, double lr, long step1)
{
    train_optimizer_step(t->m, t->grad, t->am, t->av, lr, t->o.weight_decay, step1);
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
        if (!(t->doc_texts[i] = doc_text(t->c, t->eval_docs[i]))) return sy_fail(err, SY_ENOMEM, "out of memory");
    return 0;
}

static json_t *evaluate(trainer *t, sy_err *err)
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
    float *D = falloc(nd * C), *Q = falloc((nq ? nq : 1) * C), *S = falloc(nd);
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
    if (o->pooling[0]) t->m->pooling = strcmp(o->pooling, "mean") == 0 ? ENC_POOL_MEAN : ENC_POOL_CLS;
    t->m->normalize = 1;
    t->m->max_len = o->max_len_p;
    if (o->max_len_p > t->m->cfg.max_position || o->max_len_q > t->m->cfg.max_position)
        return sy_fail(err, SY_EINVAL, "--max-len exceeds the model's %d positions", t->m->cfg.max_position);
    t->np = t->m->num_params;
    t->grad = falloc(t->np);
    t->am = falloc(t->np);
    t->av = falloc(t->np);
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
    return alloc_buffers(t, err);
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
    if (!t->session_dir || !t->run_dir) { trainer_free(t); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    if (read_config(run_dir, &t->o, err)) { trainer_free(t); return -1; }
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
        trainer_free(t);
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
        if (t->mix) {
            const mix_report *r = mix_get_report(t->mix);
            json_t *pool = json_object();
            for (int k = 0; k < NEG_NSOURCES; k++)
                if (r->candidates[k]) json_object_set_new(pool, neg_source_name(k), json_integer((json_int_t)r->candidates[k]));
            json_object_set_new(d, "pool", pool);
            json_object_set_new(d, "queries", json_integer((json_int_t)r->queries));
            json_object_set_new(d, "skipped_no_negatives", json_integer((json_int_t)r->skipped_no_negatives));
        }
        emit(t, h, json_pack("{s:I, s:o}", "step", (json_int_t)step, "data", d));
    }
    if (step == 0) {
        json_t *ev = evaluate(t, err);
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
            json_t *ev = evaluate(t, err);
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
        trainer_free(t);
        return sy_fail(err, SY_ECANCEL, "run cancelled at step %ld", step);
    }
    {
        json_t *ev = evaluate(t, err);
        if (!ev) goto fail;
        emit(t, h, json_pack("{s:I, s:o, s:b}", "step", (json_int_t)step, "eval", ev, "final", 1));
        if (ckpt_save_final(t->m, t->run_dir, t->o.max_len_p, err)) goto fail;
        set_status(t, "done", step, ckpt[0] ? ckpt : NULL, "finished; the model is in final/");
    }
    trainer_free(t);
    return rc;
fail:
    set_status(t, "failed", step, ckpt[0] ? ckpt : NULL, err->msg);
    trainer_free(t);
    return -1;
}
