/* encoder: BERT forward over a HF model folder (see encoder.h). */
#include "encoder.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "safetensors.h"
#include "util.h"

#define ENC_ALIGN 16   /* floats: 64 bytes */

static size_t align_up(size_t n) { return (n + ENC_ALIGN - 1) / ENC_ALIGN * ENC_ALIGN; }

void enc_param_sizes(size_t s[ENC_PARAM_TENSORS], const enc_config *c)
{
    size_t V = (size_t)c->vocab_size, C = (size_t)c->hidden, L = (size_t)c->layers,
           I = (size_t)c->intermediate, P = (size_t)c->max_position, TT = (size_t)c->type_vocab;
    size_t v[ENC_PARAM_TENSORS] = {
        V * C, P * C, TT * C, C, C,
        L * 3 * C * C, L * 3 * C, L * C * C, L * C, L * C, L * C,
        L * I * C, L * I, L * C * I, L * C, L * C, L * C,
    };
    memcpy(s, v, sizeof v);
}

size_t enc_params_layout(enc_params *p, float *base, const enc_config *cfg)
{
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, cfg);
    enc_params tmp;
    if (!p) p = &tmp;
    float **ptrs[ENC_PARAM_TENSORS] = {
        &p->wte, &p->wpe, &p->wtt, &p->emb_ln_w, &p->emb_ln_b,
        &p->qkv_w, &p->qkv_b, &p->attproj_w, &p->attproj_b, &p->ln1_w, &p->ln1_b,
        &p->fc_w, &p->fc_b, &p->fcproj_w, &p->fcproj_b, &p->ln2_w, &p->ln2_b,
    };
    size_t off = 0;
    for (int i = 0; i < ENC_PARAM_TENSORS; i++) {
        *ptrs[i] = base ? base + off : NULL;
        off += align_up(sizes[i]);
    }
    return off;
}

size_t enc_acts_layout(enc_acts *a, float *base, const enc_config *cfg, int B, int T, int all_layers)
{
    size_t BT = (size_t)B * T, C = (size_t)cfg->hidden, I = (size_t)cfg->intermediate,
           NH = (size_t)cfg->heads, L = all_layers ? (size_t)cfg->layers : 1;
    size_t sizes[] = {
        BT * C, BT * C, BT, BT,
        L * BT * 3 * C, all_layers ? L * B * NH * T * T : 0, L * BT * C, L * BT * C, L * BT * C,
        L * BT, L * BT, L * BT * I, L * BT * I, L * BT * C, L * BT * C, L * BT, L * BT,
    };
    enc_acts tmp;
    if (!a) a = &tmp;
    float **ptrs[] = {
        &a->emb, &a->emb_ln, &a->emb_mean, &a->emb_rstd,
        &a->qkv, &a->att, &a->atty, &a->res1, &a->ln1, &a->ln1_mean, &a->ln1_rstd,
        &a->fch, &a->fch_gelu, &a->res2, &a->ln2, &a->ln2_mean, &a->ln2_rstd,
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = base && sizes[i] ? base + off : NULL;
        off += align_up(sizes[i]);
    }
    return off;
}

float *enc_acts_output(const enc_acts *a, const enc_config *cfg, int B, int T, int all_layers)
{
    size_t l = all_layers ? (size_t)cfg->layers - 1 : 0;
    return a->ln2 + l * (size_t)B * T * cfg->hidden;
}

/* ---- loading ------------------------------------------------------------------ */

static json_t *load_json(const char *dir, const char *name, int required, sy_err *err)
{
    char *p = sy_path_join(dir, name);
    if (!p) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    if (!sy_file_exists(p)) {
        if (required)
            sy_fail(err, SY_ENOTFOUND, "%s: missing; hint: a model folder needs config.json, "
                    "vocab.txt and model.safetensors (save_pretrained(safe_serialization=True))", p);
        free(p);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!json_is_object(j)) {
        sy_fail(err, SY_EPARSE, "%s:%d: %s", p, je.line, j ? "not a JSON object" : je.text);
        json_decref(j);
        j = NULL;
    }
    free(p);
    return j;
}

static int cfg_int(json_t *cfg, const char *key, int def, int lo, int hi, const char *path,
                   int *out, sy_err *err)
{
    json_t *v = json_object_get(cfg, key);
    if (!v) {
        if (def < 0) return sy_fail(err, SY_EFORMAT, "%s: config.json lacks \"%s\"", path, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return sy_fail(err, SY_EFORMAT, "%s: config.json \"%s\" must be an integer in %d..%d",
                       path, key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int parse_config(json_t *j, const char *dir, enc_config *c, sy_err *err)
{
    const char *mt = json_string_value(json_object_get(j, "model_type"));
    if (!mt || strcmp(mt, "bert") != 0)
        return sy_fail(err, SY_EUNSUP, "%s/config.json: model_type \"%s\" is not supported; "
                       "only BERT-architecture encoders (BERT, MiniLM, bge, e5, Contriever) are",
                       dir, mt ? mt : "(none)");
    const char *act = json_string_value(json_object_get(j, "hidden_act"));
    if (act && strcmp(act, "gelu") != 0)
        return sy_fail(err, SY_EUNSUP, "%s/config.json: hidden_act \"%s\" is not supported "
                       "(only exact \"gelu\")", dir, act);
    const char *pe = json_string_value(json_object_get(j, "position_embedding_type"));
    if (pe && strcmp(pe, "absolute") != 0)
        return sy_fail(err, SY_EUNSUP, "%s/config.json: position_embedding_type \"%s\" is not "
                       "supported (only \"absolute\")", dir, pe);
    if (json_is_true(json_object_get(j, "is_decoder")))
        return sy_fail(err, SY_EUNSUP, "%s/config.json: decoder models are not supported", dir);
    if (cfg_int(j, "vocab_size", -1, 1, 1 << 24, dir, &c->vocab_size, err) ||
        cfg_int(j, "hidden_size", -1, 1, 1 << 16, dir, &c->hidden, err) ||
        cfg_int(j, "num_hidden_layers", -1, 1, 256, dir, &c->layers, err) ||
        cfg_int(j, "num_attention_heads", -1, 1, 1024, dir, &c->heads, err) ||
        cfg_int(j, "intermediate_size", -1, 1, 1 << 18, dir, &c->intermediate, err) ||
        cfg_int(j, "max_position_embeddings", 512, 2, 1 << 16, dir, &c->max_position, err) ||
        cfg_int(j, "type_vocab_size", 2, 1, 1 << 10, dir, &c->type_vocab, err))
        return -1;
    if (c->hidden % c->heads)
        return sy_fail(err, SY_EFORMAT, "%s/config.json: hidden_size %d is not a multiple of "
                       "num_attention_heads %d", dir, c->hidden, c->heads);
    json_t *eps = json_object_get(j, "layer_norm_eps");
    c->ln_eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-12f;
    return 0;
}

static int load_weights(enc_model *m, const char *path, sy_err *err)
{
    st_file *f = st_open(path, err);
    if (!f) return -1;
    static const char *const pre[] = { "", "bert.", NULL };
    const enc_config *c = &m->cfg;
    enc_params *p = &m->params;
    int64_t C = c->hidden, I = c->intermediate;
    int rc = 0;
    struct { const char *name; float *dst; int nd; int64_t s0, s1; } top[] = {
        { "embeddings.word_embeddings.weight", p->wte, 2, c->vocab_size, C },
        { "embeddings.position_embeddings.weight", p->wpe, 2, c->max_position, C },
        { "embeddings.token_type_embeddings.weight", p->wtt, 2, c->type_vocab, C },
        { "embeddings.LayerNorm.weight", p->emb_ln_w, 1, C, 0 },
        { "embeddings.LayerNorm.bias", p->emb_ln_b, 1, C, 0 },
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0] && !rc; i++) {
        int64_t shape[2] = { top[i].s0, top[i].s1 };
        rc = st_read_f32(f, pre, top[i].name, top[i].dst, top[i].nd, shape, err);
    }
    char name[160];
    for (int l = 0; l < c->layers && !rc; l++) {
        size_t L = (size_t)l;
        struct { const char *fmt; float *dst; int nd; int64_t s0, s1; } per[] = {
            { "encoder.layer.%d.attention.self.query.weight", p->qkv_w + L * 3 * C * C, 2, C, C },
            { "encoder.layer.%d.attention.self.key.weight", p->qkv_w + L * 3 * C * C + C * C, 2, C, C },
            { "encoder.layer.%d.attention.self.value.weight", p->qkv_w + L * 3 * C * C + 2 * C * C, 2, C, C },
            { "encoder.layer.%d.attention.self.query.bias", p->qkv_b + L * 3 * C, 1, C, 0 },
            { "encoder.layer.%d.attention.self.key.bias", p->qkv_b + L * 3 * C + C, 1, C, 0 },
            { "encoder.layer.%d.attention.self.value.bias", p->qkv_b + L * 3 * C + 2 * C, 1, C, 0 },
            { "encoder.layer.%d.attention.output.dense.weight", p->attproj_w + L * C * C, 2, C, C },
            { "encoder.layer.%d.attention.output.dense.bias", p->attproj_b + L * C, 1, C, 0 },
            { "encoder.layer.%d.attention.output.LayerNorm.weight", p->ln1_w + L * C, 1, C, 0 },
            { "encoder.layer.%d.attention.output.LayerNorm.bias", p->ln1_b + L * C, 1, C, 0 },
            { "encoder.layer.%d.intermediate.dense.weight", p->fc_w + L * I * C, 2, I, C },
            { "encoder.layer.%d.intermediate.dense.bias", p->fc_b + L * I, 1, I, 0 },
            { "encoder.layer.%d.output.dense.weight", p->fcproj_w + L * C * I, 2, C, I },
            { "encoder.layer.%d.output.dense.bias", p->fcproj_b + L * C, 1, C, 0 },
            { "encoder.layer.%d.output.LayerNorm.weight", p->ln2_w + L * C, 1, C, 0 },
            { "encoder.layer.%d.output.LayerNorm.bias", p->ln2_b + L * C, 1, C, 0 },
        };
        for (size_t i = 0; i < sizeof per / sizeof per[0] && !rc; i++) {
            snprintf(name, sizeof name, per[i].fmt, l);
            int64_t shape[2] = { per[i].s0, per[i].s1 };
            rc = st_read_f32(f, pre, name, per[i].dst, per[i].nd, shape, err);
        }
    }
    if (!rc) {
        const st_tensor *t = NULL;
        for (const char *const *q = pre; *q && !t; q++) {
            snprintf(name, sizeof name, "%sembeddings.word_embeddings.weight", *q);
            t = st_find(f, name);
        }
        m->dtype = strdup(t ? t->dtype_name : "?");
    }
    st_close(f);
    return rc;
}

static char *dup_str(json_t *v) { return json_is_string(v) ? strdup(json_string_value(v)) : NULL; }

enc_model *enc_load(const char *dir, sy_err *err)
{
    enc_model *m = calloc(1, sizeof *m);
    json_t *cfg = NULL, *tc = NULL, *pool = NULL, *mods = NULL;
    char *path = NULL;
    if (!m || !(m->dir = strdup(dir))) { sy_fail(err, SY_ENOMEM, "out of memory"); goto fail; }
    if (!sy_is_dir(dir)) {
        sy_fail(err, SY_ENOTFOUND, "%s: not a folder; hint: --model takes a Hugging Face model "
                "folder (config.json, vocab.txt, model.safetensors)", dir);
        goto fail;
    }
    if (!(cfg = load_json(dir, "config.json", 1, err)) || parse_config(cfg, dir, &m->cfg, err))
        goto fail;
    /* tokenizer */
    sy_err e2;
    tc = load_json(dir, "tokenizer_config.json", 0, &e2);
    tok_opts to = TOK_OPTS_UNCASED;
    if (tc) {
        json_t *v = json_object_get(tc, "do_lower_case");
        if (json_is_boolean(v)) to.lowercase = json_is_true(v);
        v = json_object_get(tc, "strip_accents");
        if (json_is_boolean(v)) to.strip_accents = json_is_true(v);
        v = json_object_get(tc, "tokenize_chinese_chars");
        if (json_is_boolean(v)) to.chinese_chars = json_is_true(v);
        json_t *ml = json_object_get(tc, "model_max_length");
        if (json_is_integer(ml) && json_integer_value(ml) > 0 && json_integer_value(ml) < 1000000)
            m->max_len = (int)json_integer_value(ml);
    }
    path = sy_path_join(dir, "vocab.txt");
    if (!sy_file_exists(path)) {
        sy_fail(err, SY_ENOTFOUND, "%s: missing; hint: only WordPiece models with a vocab.txt "
                "are supported (tokenizer.json alone is not read)", path);
        goto fail;
    }
    if (!(m->tok = tok_load(path, &to, err))) goto fail;
    if (tok_vocab_size(m->tok) > (size_t)m->cfg.vocab_size) {
        sy_fail(err, SY_EFORMAT, "%s: %zu tokens but config.json vocab_size is %d", path,
                tok_vocab_size(m->tok), m->cfg.vocab_size);
        goto fail;
    }
    free(path);
    path = NULL;
    /* weights */
    m->num_params = enc_params_layout(NULL, NULL, &m->cfg);
    m->params_memory = aligned_alloc(64, align_up(m->num_params) * sizeof(float));
    if (!m->params_memory) {
        sy_fail(err, SY_ENOMEM, "%s: out of memory for %zu parameters", dir, m->num_params);
        goto fail;
    }
    memset(m->params_memory, 0, m->num_params * sizeof(float));
    enc_params_layout(&m->params, m->params_memory, &m->cfg);
    path = sy_path_join(dir, "model.safetensors");
    if (!sy_file_exists(path)) {
        sy_fail(err, SY_ENOTFOUND, "%s: missing; hint: save the model with "
                "save_pretrained(DIR, safe_serialization=True); pytorch_model.bin is not read", path);
        goto fail;
    }
    if (load_weights(m, path, err)) goto fail;
    /* pooling and normalisation: sentence-transformers modules when present */
    m->pooling = ENC_POOL_CLS;
    pool = load_json(dir, "1_Pooling/config.json", 0, &e2);
    if (pool && json_is_true(json_object_get(pool, "pooling_mode_mean_tokens")))
        m->pooling = ENC_POOL_MEAN;
    char *mp = sy_path_join(dir, "modules.json");
    if (mp && sy_file_exists(mp)) {
        json_error_t je;
        mods = json_load_file(mp, 0, &je);
        size_t i;
        json_t *v;
        json_array_foreach(mods, i, v) {
            const char *ty = json_string_value(json_object_get(v, "type"));
            if (ty && strstr(ty, "Normalize")) m->normalize = 1;
        }
    }
    free(mp);
    int cap = m->cfg.max_position < 512 ? m->cfg.max_position : 512;
    if (m->max_len <= 0 || m->max_len > cap) m->max_len = cap;
    /* e5-style prefixes can be given in a syneg.json next to the model */
    json_t *sj = load_json(dir, "syneg.json", 0, &e2);
    if (sj) {
        m->query_prefix = dup_str(json_object_get(sj, "query_prefix"));
        m->passage_prefix = dup_str(json_object_get(sj, "passage_prefix"));
        json_decref(sj);
    }
    free(path);
    json_decref(cfg); json_decref(tc); json_decref(pool); json_decref(mods);
    return m;
fail:
    free(path);
    json_decref(cfg); json_decref(tc); json_decref(pool); json_decref(mods);
    enc_free(m);
    return NULL;
}

void enc_free(enc_model *m)
{
    if (!m) return;
    tok_free(m->tok);
    free(m->params_memory);
    free(m->query_prefix);
    free(m->passage_prefix);
    free(m->dir);
    free(m->dtype);
    free(m);
}

int enc_dim(const enc_model *m) { return m->cfg.hidden; }

/* ---- forward ------------------------------------------------------------------------ */

int enc_forward(const enc_model *m, enc_acts *a, const int *ids, const int *lens,
                int B, int T, int all_layers, sy_err *err)
{
    const enc_config *c = &m->cfg;
    const enc_params *p = &m->params;
    int C = c->hidden, I = c->intermediate, NH = c->heads;
    size_t BT = (size_t)B * T;
    if (T > c->max_position)
        return sy_fail(err, SY_EINVAL, "sequence length %d exceeds max_position_embeddings %d", T,
                       c->max_position);
    for (size_t i = 0; i < BT; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return sy_fail(err, SY_EINVAL, "token id %d at position %zu is outside the vocabulary "
                           "(%d)", ids[i], i, c->vocab_size);
    embedding_forward(a->emb, ids, p->wte, p->wpe, p->wtt, B, T, C);
    layernorm_forward(a->emb_ln, a->emb_mean, a->emb_rstd, a->emb, p->emb_ln_w, p->emb_ln_b,
                      (int)BT, C, c->ln_eps);
    const float *x = a->emb_ln;
    for (int l = 0; l < c->layers; l++) {
        size_t L = (size_t)l, s = all_layers ? L : 0;
        float *qkv = a->qkv + s * BT * 3 * C, *atty = a->atty + s * BT * C;
        float *att = a->att ? a->att + s * (size_t)B * NH * T * T : NULL;
        float *res1 = a->res1 + s * BT * C, *ln1 = a->ln1 + s * BT * C;
        float *fch = a->fch + s * BT * I, *fchg = a->fch_gelu + s * BT * I;
        float *res2 = a->res2 + s * BT * C, *ln2 = a->ln2 + s * BT * C;
        matmul_forward(qkv, x, p->qkv_w + L * 3 * C * C, p->qkv_b + L * 3 * C, (int)BT, C, 3 * C);
        if (attention_forward(atty, att, qkv, lens, B, T, C, NH))
            return sy_fail(err, SY_ENOMEM, "out of memory in attention");
        matmul_forward(res1, atty, p->attproj_w + L * C * C, p->attproj_b + L * C, (int)BT, C, C);
        residual_forward(res1, res1, x, BT * C);
        layernorm_forward(ln1, a->ln1_mean + s * BT, a->ln1_rstd + s * BT, res1,
                          p->ln1_w + L * C, p->ln1_b + L * C, (int)BT, C, c->ln_eps);
        matmul_forward(fch, ln1, p->fc_w + L * I * C, p->fc_b + L * I, (int)BT, C, I);
        gelu_forward(fchg, fch, BT * I);
        matmul_forward(res2, fchg, p->fcproj_w + L * C * I, p->fcproj_b + L * C, (int)BT, I, C);
        residual_forward(res2, res2, ln1, BT * C);
        layernorm_forward(ln2, a->ln2_mean + s * BT, a->ln2_rstd + s * BT, res2,
                          p->ln2_w + L * C, p->ln2_b + L * C, (int)BT, C, c->ln_eps);
        x = ln2;
    }
    return 0;
}

/* ---- embedding texts ------------------------------------------------------------------ */

typedef struct {
    int32_t *ids;
    int len;
    size_t idx;
} enc_item;

static int by_len_desc(const void *a, const void *b)
{
    const enc_item *x = a, *y = b;
    if (x->len != y->len) return y->len - x->len;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

#define ENC_BATCH_TOKENS 8192
#define ENC_BATCH_MAX 128

int enc_embed(const enc_model *m, const char *const *texts, size_t n, int is_query,
              float *out, enc_progress_fn progress, void *ctx, sy_err *err)
{
    if (n == 0) return 0;
    int T = m->max_len, C = m->cfg.hidden;
    const char *prefix = is_query ? m->query_prefix : m->passage_prefix;
    size_t plen = prefix ? strlen(prefix) : 0;
    enc_item *items = calloc(n, sizeof *items);
    int32_t *idbuf = malloc(n * (size_t)T * sizeof *idbuf);
    float *actmem = NULL, *pooled = NULL;
    int *bids = NULL, *blens = NULL;
    int rc = -1;
    if (!items || !idbuf) { sy_fail(err, SY_ENOMEM, "out of memory for %zu texts", n); goto done; }
    sy_buf sb = { 0 };
    for (size_t i = 0; i < n; i++) {
        const char *t = texts[i] ? texts[i] : "";
        size_t tl = strlen(t);
        if (plen) {
            sb.len = 0;
            if (sy_buf_append(&sb, prefix, plen) || sy_buf_append(&sb, t, tl)) {
                sy_buf_free(&sb);
                sy_fail(err, SY_ENOMEM, "out of memory");
                goto done;
            }
            t = sb.data;
            tl = sb.len;
        }
        items[i].ids = idbuf + i * (size_t)T;
        items[i].len = (int)tok_encode(m->tok, t, tl, items[i].ids, (size_t)T, NULL);
        items[i].idx = i;
    }
    sy_buf_free(&sb);
    qsort(items, n, sizeof *items, by_len_desc);
    int maxT = items[0].len;
    /* every batch holds at most ENC_BATCH_TOKENS tokens (max_len <= 512), so
     * one buffer shaped [1, budget] fits them all */
    size_t need;
    need = enc_acts_layout(NULL, NULL, &m->cfg, 1, ENC_BATCH_TOKENS > maxT ? ENC_BATCH_TOKENS : maxT, 0);
    actmem = malloc(need * sizeof *actmem);
    pooled = malloc((size_t)ENC_BATCH_MAX * C * sizeof *pooled);
    bids = malloc((size_t)(ENC_BATCH_TOKENS > maxT ? ENC_BATCH_TOKENS : maxT) * sizeof *bids);
    blens = malloc(ENC_BATCH_MAX * sizeof *blens);
    if (!actmem || !pooled || !bids || !blens) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    size_t done_n = 0;
    while (done_n < n) {
        int bT = items[done_n].len;
        int bB = ENC_BATCH_TOKENS / bT;
        if (bB < 1) bB = 1;
        if (bB > ENC_BATCH_MAX) bB = ENC_BATCH_MAX;
        if ((size_t)bB > n - done_n) bB = (int)(n - done_n);
        for (int b = 0; b < bB; b++) {
            const enc_item *it = &items[done_n + (size_t)b];
            blens[b] = it->len;
            for (int t = 0; t < bT; t++) bids[(size_t)b * bT + t] = t < it->len ? it->ids[t] : 0;
        }
        enc_acts a;
        enc_acts_layout(&a, actmem, &m->cfg, bB, bT, 0);
        if (enc_forward(m, &a, bids, blens, bB, bT, 0, err)) goto done;
        float *hs = enc_acts_output(&a, &m->cfg, bB, bT, 0);
        if (m->pooling == ENC_POOL_MEAN) pool_mean_forward(pooled, hs, blens, bB, bT, C);
        else pool_cls_forward(pooled, hs, bB, bT, C);
        if (m->normalize) l2norm_forward(pooled, NULL, bB, C);
        for (int b = 0; b < bB; b++)
            memcpy(out + items[done_n + (size_t)b].idx * C, pooled + (size_t)b * C, (size_t)C * sizeof *out);
        done_n += (size_t)bB;
        if (progress && progress(ctx, done_n, n)) {
            sy_fail(err, SY_ECANCEL, "embedding cancelled after %zu of %zu texts", done_n, n);
            goto done;
        }
    }
    rc = 0;
done:
    free(items); free(idbuf); free(actmem); free(pooled); free(bids); free(blens);
    return rc;
}

/* ---- saving ------------------------------------------------------------------------------ */

int enc_save(const enc_model *m, const char *dir, sy_err *err)
{
    if (sy_mkdir_p(dir, err)) return -1;
    const enc_config *c = &m->cfg;
    const enc_params *p = &m->params;
    int64_t C = c->hidden, I = c->intermediate;
    size_t cap = 5 + (size_t)c->layers * 16, n = 0;
    char **names = calloc(cap, sizeof *names);
    int *nd = calloc(cap, sizeof *nd);
    int64_t *shapes = calloc(cap * 2, sizeof *shapes);
    const float **data = calloc(cap, sizeof *data);
    int rc = -1;
    if (!names || !nd || !shapes || !data) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    size_t si = 0;
#define ADD(nm, ptr, d0, d1) do { names[n] = nm; data[n] = (ptr); shapes[si++] = (d0); \
        if ((d1) > 0) { shapes[si++] = (d1); nd[n] = 2; } else nd[n] = 1; n++; } while (0)
    ADD(strdup("embeddings.word_embeddings.weight"), p->wte, c->vocab_size, C);
    ADD(strdup("embeddings.position_embeddings.weight"), p->wpe, c->max_position, C);
    ADD(strdup("embeddings.token_type_embeddings.weight"), p->wtt, c->type_vocab, C);
    ADD(strdup("embeddings.LayerNorm.weight"), p->emb_ln_w, C, 0);
    ADD(strdup("embeddings.LayerNorm.bias"), p->emb_ln_b, C, 0);
    for (int l = 0; l < c->layers; l++) {
        size_t L = (size_t)l;
        ADD(sy_strdup_printf("encoder.layer.%d.attention.self.query.weight", l), p->qkv_w + L * 3 * C * C, C, C);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.self.key.weight", l), p->qkv_w + L * 3 * C * C + C * C, C, C);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.self.value.weight", l), p->qkv_w + L * 3 * C * C + 2 * C * C, C, C);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.self.query.bias", l), p->qkv_b + L * 3 * C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.self.key.bias", l), p->qkv_b + L * 3 * C + C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.self.value.bias", l), p->qkv_b + L * 3 * C + 2 * C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.output.dense.weight", l), p->attproj_w + L * C * C, C, C);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.output.dense.bias", l), p->attproj_b + L * C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.output.LayerNorm.weight", l), p->ln1_w + L * C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.output.LayerNorm.bias", l), p->ln1_b + L * C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.intermediate.dense.weight", l), p->fc_w + L * I * C, I, C);
        ADD(sy_strdup_printf("encoder.layer.%d.intermediate.dense.bias", l), p->fc_b + L * I, I, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.output.dense.weight", l), p->fcproj_w + L * C * I, C, I);
        ADD(sy_strdup_printf("encoder.layer.%d.output.dense.bias", l), p->fcproj_b + L * C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.output.LayerNorm.weight", l), p->ln2_w + L * C, C, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.output.LayerNorm.bias", l), p->ln2_b + L * C, C, 0);
    }
#undef ADD
    for (size_t i = 0; i < n; i++) if (!names[i]) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    char *path = sy_path_join(dir, "model.safetensors");
    rc = st_write_f32(path, n, (const char *const *)names, nd, shapes, data, err);
    free(path);
    if (rc) goto done;
    rc = -1;
    /* config.json: the source's when there is one (keeps extra fields), else minimal */
    json_t *cfg = load_json(m->dir, "config.json", 0, NULL);
    if (!cfg) cfg = json_object();
    json_object_set_new(cfg, "model_type", json_string("bert"));
    json_object_set_new(cfg, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(cfg, "hidden_size", json_integer(c->hidden));
    json_object_set_new(cfg, "num_hidden_layers", json_integer(c->layers));
    json_object_set_new(cfg, "num_attention_heads", json_integer(c->heads));
    json_object_set_new(cfg, "intermediate_size", json_integer(c->intermediate));
    json_object_set_new(cfg, "max_position_embeddings", json_integer(c->max_position));
    json_object_set_new(cfg, "type_vocab_size", json_integer(c->type_vocab));
    json_object_set_new(cfg, "layer_norm_eps", json_real(c->ln_eps));
    json_object_set_new(cfg, "hidden_act", json_string("gelu"));
    json_object_set_new(cfg, "torch_dtype", json_string("float32"));
    json_object_del(cfg, "dtype");
    char *txt = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(cfg);
    path = sy_path_join(dir, "config.json");
    int w = txt ? sy_write_file_atomic(path, txt, strlen(txt), err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(txt);
    free(path);
    if (w) goto done;
    /* tokenizer files and sentence-transformers modules: copied as they are */
    static const char *const copy[] = { "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                        "modules.json", "syneg.json", "1_Pooling/config.json", NULL };
    for (const char *const *f = copy; *f; f++) {
        char *src = sy_path_join(m->dir, *f), *dst = sy_path_join(dir, *f);
        if (src && dst && strcmp(src, dst) != 0 && sy_file_exists(src)) {
            size_t len;
            char *body = sy_read_file(src, &len, err);
            if (strchr(*f, '/')) {
                char *sub = sy_path_join(dir, "1_Pooling");
                sy_mkdir_p(sub, NULL);
                free(sub);
            }
            int bad = !body || sy_write_file_atomic(dst, body, len, err);
            free(body);
            if (bad) { free(src); free(dst); goto done; }
        }
        free(src);
        free(dst);
    }
    rc = 0;
done:
    if (names) for (size_t i = 0; i < n; i++) free(names[i]);
    free(names); free(nd); free(shapes); free(data);
    return rc;
}
