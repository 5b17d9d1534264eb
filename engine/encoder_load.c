/* encoder_load: read a Hugging Face / sentence-transformers model folder into
 * an enc_model (the folder layout and the rules are in encoder.h). */
#include "encoder.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "util.h"

#define ENC_ALIGN 16
static size_t align_up(size_t n) { return (n + ENC_ALIGN - 1) / ENC_ALIGN * ENC_ALIGN; }

/* dir/name as a JSON object; NULL with no error when absent and not required */
static json_t *load_json(const char *dir, const char *name, int required, sy_err *err)
{
    char *p = sy_path_join(dir, name);
    if (!p) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    if (!sy_file_exists(p)) {
        if (required)
            sy_fail(err, SY_ENOTFOUND, "%s: missing; hint: a model folder holds config.json, a tokenizer "
                    "(tokenizer.json or vocab.txt) and its weights (model.safetensors, or shards with "
                    "model.safetensors.index.json)", p);
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
    if (!v || json_is_null(v)) {
        if (def < 0) return sy_fail(err, SY_EFORMAT, "%s/config.json lacks \"%s\"", path, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return sy_fail(err, SY_EFORMAT, "%s/config.json: \"%s\" must be an integer in %d..%d",
                       path, key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int parse_config(json_t *j, const char *dir, enc_config *c, sy_err *err)
{
    const char *mt = json_string_value(json_object_get(j, "model_type"));
    int roberta = mt && (!strcmp(mt, "roberta") || !strcmp(mt, "xlm-roberta") || !strcmp(mt, "camembert"));
    if (!mt || (strcmp(mt, "bert") && !roberta))
        return sy_fail(err, SY_EUNSUP, "%s/config.json: model_type \"%s\" is not supported; "
                       "supported are BERT-architecture encoders: bert (BERT, MiniLM, bge, e5, "
                       "Contriever), roberta, xlm-roberta, camembert", dir, mt ? mt : "(none)");
    snprintf(c->model_type, sizeof c->model_type, "%s", mt);
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
    int pad = 0;
    if (cfg_int(j, "vocab_size", -1, 1, 1 << 24, dir, &c->vocab_size, err) ||
        cfg_int(j, "hidden_size", -1, 1, 1 << 16, dir, &c->hidden, err) ||
        cfg_int(j, "num_hidden_layers", -1, 1, 256, dir, &c->layers, err) ||
        cfg_int(j, "num_attention_heads", -1, 1, 1024, dir, &c->heads, err) ||
        cfg_int(j, "intermediate_size", -1, 1, 1 << 18, dir, &c->intermediate, err) ||
        cfg_int(j, "max_position_embeddings", 512, 2, 1 << 16, dir, &c->max_position, err) ||
        cfg_int(j, "type_vocab_size", 2, 1, 1 << 10, dir, &c->type_vocab, err) ||
        cfg_int(j, "pad_token_id", roberta ? 1 : 0, 0, 1 << 24, dir, &pad, err))
        return -1;
    if (c->hidden % c->heads)
        return sy_fail(err, SY_EFORMAT, "%s/config.json: hidden_size %d is not a multiple of "
                       "num_attention_heads %d", dir, c->hidden, c->heads);
    /* RoBERTa numbers positions from padding_idx + 1 */
    c->pos_offset = roberta ? pad + 1 : 0;
    if (c->pos_offset + 2 > c->max_position)
        return sy_fail(err, SY_EFORMAT, "%s/config.json: pad_token_id %d leaves no positions of %d",
                       dir, pad, c->max_position);
    json_t *eps = json_object_get(j, "layer_norm_eps");
    c->ln_eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-12f;
    return 0;
}

static const char *const WEIGHT_PREFIXES[] = { "", "bert.", "roberta.", "model.", NULL };

static int load_weights(enc_model *m, const st_model *f, sy_err *err)
{
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
        rc = st_model_read_f32(f, WEIGHT_PREFIXES, top[i].name, top[i].dst, top[i].nd, shape, err);
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
            rc = st_model_read_f32(f, WEIGHT_PREFIXES, name, per[i].dst, per[i].nd, shape, err);
        }
    }
    if (!rc) {
        const st_tensor *t = st_model_find(f, WEIGHT_PREFIXES, "embeddings.word_embeddings.weight", NULL);
        m->dtype = strdup(t ? t->dtype_name : "?");
    }
    return rc;
}

/* config.json, tokenizer and weights of the transformer in folder tf */
static int load_transformer(enc_model *m, const char *tf, sy_err *err)
{
    json_t *cfg = NULL, *tc = NULL;
    st_model *w = NULL;
    int rc = -1;
    if (!(m->tf_dir = strdup(tf))) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    if (!(cfg = load_json(tf, "config.json", 1, err)) || parse_config(cfg, tf, &m->cfg, err)) goto done;
    if (!(m->tok = tok_load_dir(tf, err))) goto done;
    if (tok_vocab_size(m->tok) > (size_t)m->cfg.vocab_size) {
        sy_fail(err, SY_EFORMAT, "%s: the tokenizer has %zu tokens but config.json vocab_size is %d", tf,
                tok_vocab_size(m->tok), m->cfg.vocab_size);
        goto done;
    }
    sy_err e2;
    tc = load_json(tf, "tokenizer_config.json", 0, &e2);
    json_t *ml = json_object_get(tc, "model_max_length");
    if (json_is_integer(ml) && json_integer_value(ml) > 0 && json_integer_value(ml) < 1000000)
        m->max_len = (int)json_integer_value(ml);
    if (!(w = st_model_open(tf, err))) goto done;
    m->num_params = enc_params_layout(NULL, NULL, &m->cfg);
    m->params_memory = aligned_alloc(64, align_up(m->num_params) * sizeof(float));
    if (!m->params_memory) {
        sy_fail(err, SY_ENOMEM, "%s: out of memory for %zu parameters", tf, m->num_params);
        goto done;
    }
    memset(m->params_memory, 0, m->num_params * sizeof(float));
    enc_params_layout(&m->params, m->params_memory, &m->cfg);
    if (load_weights(m, w, err)) goto done;
    rc = 0;
done:
    st_model_close(w);
    json_decref(cfg);
    json_decref(tc);
    return rc;
}

/* ---- sentence-transformers modules ------------------------------------------------- */

static int parse_pooling(enc_model *m, const char *dir, sy_err *err)
{
    char *path = sy_path_join(dir, "config.json");
    json_t *j = NULL;
    int rc = -1;
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    if (!sy_file_exists(path)) {
        sy_fail(err, SY_ENOTFOUND, "%s: missing; the Pooling module needs its config; hint: copy the "
                "whole sentence-transformers folder", path);
        goto done;
    }
    json_error_t je;
    if ((j = json_load_file(path, 0, &je), !json_is_object(j))) {
        sy_fail(err, SY_EPARSE, "%s:%d: %s; hint: the Pooling config is a JSON object such as "
                "{\"embedding_dimension\": 384, \"pooling_mode\": \"mean\"}", path, je.line,
                j ? "not a JSON object" : je.text);
        goto done;
    }
    /* ST order of concatenation: cls, max, mean, mean_sqrt_len, weightedmean, lasttoken */
    static const struct { const char *key, *name; enc_pooling mode; } modes[] = {
        { "pooling_mode_cls_token", "cls", ENC_POOL_CLS },
        { "pooling_mode_max_tokens", "max", ENC_POOL_MAX },
        { "pooling_mode_mean_tokens", "mean", ENC_POOL_MEAN },
        { "pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", ENC_POOL_MEAN_SQRT },
        { "pooling_mode_weightedmean_tokens", "weightedmean", ENC_POOL_WEIGHTED },
        { "pooling_mode_lasttoken", "lasttoken", ENC_POOL_LAST },
    };
    int on[6] = { 0 };
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        int known = !strcmp(key, "word_embedding_dimension") || !strcmp(key, "embedding_dimension") ||
                    !strcmp(key, "include_prompt") || !strcmp(key, "pooling_mode");
        for (int i = 0; i < 6 && !known; i++)
            if (!strcmp(key, modes[i].key)) {
                known = 1;
                if (!json_is_boolean(v)) {
                    sy_fail(err, SY_EFORMAT, "%s: \"%s\" must be true or false", path, key);
                    goto done;
                }
                on[i] = json_is_true(v);
            }
        if (!known && strncmp(key, "module_", 7) != 0) {
            sy_fail(err, SY_EUNSUP, "%s: unknown pooling setting \"%s\"; hint: syneg reads the "
                    "sentence-transformers 2.x-6.x Pooling fields, and refuses to guess", path, key);
            goto done;
        }
    }
    json_t *pm = json_object_get(j, "pooling_mode");
    if (pm) {
        const char *s = json_string_value(pm);
        int hit = -1;
        static const char *const alias[6][3] = {
            { "cls", "cls_token", NULL }, { "max", "max_tokens", NULL }, { "mean", "mean_tokens", NULL },
            { "mean_sqrt_len_tokens", "mean_sqrt_len", NULL }, { "weightedmean", "weightedmean_tokens", NULL },
            { "lasttoken", NULL, NULL },
        };
        for (int i = 0; i < 6 && s && hit < 0; i++)
            for (int k = 0; k < 3 && alias[i][k]; k++)
                if (!strcmp(s, alias[i][k])) hit = i;
        if (hit < 0) {
            sy_fail(err, SY_EUNSUP, "%s: pooling_mode %s is not one of cls, max, mean, mean_sqrt_len_tokens, "
                    "weightedmean, lasttoken", path, s ? s : "(not a string)");
            goto done;
        }
        on[hit] = 1;
    }
    m->npool_concat = 0;
    int first = -1, count = 0;
    for (int i = 0; i < 6; i++)
        if (on[i]) {
            if (first < 0) first = i;
            m->pool_concat[count++] = modes[i].mode;
        }
    if (!count) {
        sy_fail(err, SY_EFORMAT, "%s: no pooling mode is on; hint: set \"pooling_mode\" (e.g. \"mean\")", path);
        goto done;
    }
    m->pooling = modes[first].mode;
    m->npool_concat = count > 1 ? count : 0;
    json_t *ip = json_object_get(j, "include_prompt");
    if (ip && !json_is_boolean(ip)) {
        sy_fail(err, SY_EFORMAT, "%s: \"include_prompt\" must be true or false", path);
        goto done;
    }
    m->pool_skip_prompt = ip && !json_is_true(ip);
    json_t *d = json_object_get(j, "embedding_dimension");
    if (!d) d = json_object_get(j, "word_embedding_dimension");
    if (json_is_integer(d) && json_integer_value(d) != m->cfg.hidden) {
        sy_fail(err, SY_EFORMAT, "%s: embedding dimension %lld does not match the transformer's hidden_size %d",
                path, (long long)json_integer_value(d), m->cfg.hidden);
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    free(path);
    return rc;
}

static int parse_dense(enc_model *m, const char *dir, int in, sy_err *err)
{
    char *path = sy_path_join(dir, "config.json");
    json_t *j = NULL;
    st_model *w = NULL;
    int rc = -1;
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    json_error_t je;
    if (!sy_file_exists(path) || (j = json_load_file(path, 0, &je), !json_is_object(j))) {
        sy_fail(err, j || !sy_file_exists(path) ? SY_ENOTFOUND : SY_EPARSE, "%s: %s; the Dense module needs "
                "{\"in_features\", \"out_features\", \"bias\", \"activation_function\"}", path,
                sy_file_exists(path) ? "not a JSON object" : "missing");
        goto done;
    }
    json_t *fi = json_object_get(j, "in_features"), *fo = json_object_get(j, "out_features");
    json_t *bias = json_object_get(j, "bias");
    const char *act = json_string_value(json_object_get(j, "activation_function"));
    if (!json_is_integer(fi) || !json_is_integer(fo) || json_integer_value(fo) < 1 ||
        json_integer_value(fo) > (1 << 16)) {
        sy_fail(err, SY_EFORMAT, "%s: in_features and out_features must be positive integers", path);
        goto done;
    }
    if (json_integer_value(fi) != in) {
        sy_fail(err, SY_EFORMAT, "%s: in_features %lld, but the module before gives %d", path,
                (long long)json_integer_value(fi), in);
        goto done;
    }
    int tanh = 1;   /* sentence-transformers' default */
    if (act) {
        const char *dot = strrchr(act, '.');
        const char *nm = dot ? dot + 1 : act;
        if (!strcmp(nm, "Tanh")) tanh = 1;
        else if (!strcmp(nm, "Identity")) tanh = 0;
        else {
            sy_fail(err, SY_EUNSUP, "%s: activation_function \"%s\" is not supported (Tanh or Identity)", path, act);
            goto done;
        }
    }
    enc_dense *a = realloc(m->dense, (size_t)(m->ndense + 1) * sizeof *a);
    if (!a) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    m->dense = a;
    enc_dense *d = &m->dense[m->ndense++];
    memset(d, 0, sizeof *d);
    d->in = in;
    d->out = (int)json_integer_value(fo);
    d->tanh = tanh;
    d->w = malloc((size_t)d->in * d->out * sizeof *d->w);
    if (!bias || json_is_true(bias)) d->b = malloc((size_t)d->out * sizeof *d->b);
    if (!d->w || ((!bias || json_is_true(bias)) && !d->b)) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    if (!(w = st_model_open(dir, err))) goto done;
    static const char *const pre[] = { "", NULL };
    int64_t ws[2] = { d->out, d->in }, bs[1] = { d->out };
    if (st_model_read_f32(w, pre, "linear.weight", d->w, 2, ws, err) ||
        (d->b && st_model_read_f32(w, pre, "linear.bias", d->b, 1, bs, err)))
        goto done;
    rc = 0;
done:
    st_model_close(w);
    json_decref(j);
    free(path);
    return rc;
}

static int load_prompts(enc_model *m, const char *dir, sy_err *err)
{
    char *cp = sy_path_join(dir, "config_sentence_transformers.json");
    int present = cp && sy_file_exists(cp);
    free(cp);
    if (!present) return 0;
    json_t *j = load_json(dir, "config_sentence_transformers.json", 0, err);
    if (!j) return -1;
    json_t *pr = json_object_get(j, "prompts");
    const char *k;
    json_t *v;
    size_t n = json_object_size(pr);
    m->prompt_names = calloc(n + 1, sizeof *m->prompt_names);
    m->prompt_texts = calloc(n + 1, sizeof *m->prompt_texts);
    if (!m->prompt_names || !m->prompt_texts) { json_decref(j); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    json_object_foreach(pr, k, v) {
        if (!json_is_string(v)) {
            sy_fail(err, SY_EFORMAT, "%s/config_sentence_transformers.json: prompts[\"%s\"] must be a string", dir, k);
            json_decref(j);
            return -1;
        }
        m->prompt_names[m->nprompts] = strdup(k);
        m->prompt_texts[m->nprompts] = strdup(json_string_value(v));
        if (!m->prompt_names[m->nprompts] || !m->prompt_texts[m->nprompts]) {
            json_decref(j);
            return sy_fail(err, SY_ENOMEM, "out of memory");
        }
        m->nprompts++;
    }
    const char *def = json_string_value(json_object_get(j, "default_prompt_name"));
    const char *q = enc_prompt(m, "query"), *p = enc_prompt(m, "passage");
    if (!p || !*p) p = enc_prompt(m, "document");
    if (def && !enc_prompt(m, def)) {
        sy_fail(err, SY_EFORMAT, "%s/config_sentence_transformers.json: default_prompt_name \"%s\" is not "
                "in prompts", dir, def);
        json_decref(j);
        return -1;
    }
    if ((!q || !*q) && def) q = enc_prompt(m, def);
    if ((!p || !*p) && def) p = enc_prompt(m, def);
    if (q && *q && !(m->query_prefix = strdup(q))) { json_decref(j); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    if (p && *p && !(m->passage_prefix = strdup(p))) { json_decref(j); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    json_decref(j);
    return 0;
}

const char *enc_prompt(const enc_model *m, const char *name)
{
    for (int i = 0; i < m->nprompts; i++)
        if (!strcmp(m->prompt_names[i], name)) return m->prompt_texts[i];
    return NULL;
}

static const char *module_kind(const char *type)
{
    const char *dot = type ? strrchr(type, '.') : NULL;
    return dot ? dot + 1 : type ? type : "";
}

/* modules.json: Transformer first, then Pooling, Dense..., Normalize */
static int load_modules(enc_model *m, const char *dir, json_t *mods, sy_err *err)
{
    char *mp = sy_path_join(dir, "modules.json");
    int rc = -1, seen_pool = 0;
    size_t i;
    json_t *v;
    if (!mp) return sy_fail(err, SY_ENOMEM, "out of memory");
    json_array_foreach(mods, i, v) {
        const char *ty = json_string_value(json_object_get(v, "type"));
        const char *path = json_string_value(json_object_get(v, "path"));
        const char *kind = module_kind(ty);
        if (!path || strstr(path, "..") || path[0] == '/') {
            sy_fail(err, SY_EFORMAT, "%s: module %zu needs a \"path\" inside the folder", mp, i);
            goto done;
        }
        char *sub = path[0] ? sy_path_join(dir, path) : strdup(dir);
        if (!sub) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
        int bad = 0;
        if (!strcmp(kind, "Transformer")) {
            if (i != 0) {
                sy_fail(err, SY_EUNSUP, "%s: the Transformer must be the first module", mp);
                bad = 1;
            } else {
                bad = load_transformer(m, sub, err);
            }
        } else if (i == 0) {
            sy_fail(err, SY_EUNSUP, "%s: the first module is %s, not a Transformer; hint: syneg reads "
                    "transformer encoders", mp, ty ? ty : "(no type)");
            bad = 1;
        } else if (!strcmp(kind, "Pooling")) {
            bad = seen_pool || m->ndense || m->normalize
                      ? sy_fail(err, SY_EUNSUP, "%s: Pooling must come once, right after the Transformer", mp)
                      : parse_pooling(m, sub, err);
            seen_pool = 1;
        } else if (!strcmp(kind, "Dense")) {
            if (!seen_pool || m->normalize)
                bad = sy_fail(err, SY_EUNSUP, "%s: a Dense module must come after Pooling and before "
                              "Normalize", mp);
            else
                bad = parse_dense(m, sub, enc_dim(m), err);
        } else if (!strcmp(kind, "Normalize")) {
            m->normalize = 1;
        } else {
            sy_fail(err, SY_EUNSUP, "%s: module %zu (%s, in \"%s\") is not supported; hint: syneg reads "
                    "Transformer, Pooling, Dense and Normalize modules", mp, i, ty ? ty : "(no type)", path);
            bad = 1;
        }
        free(sub);
        if (bad) goto done;
    }
    if (!json_array_size(mods)) {
        sy_fail(err, SY_EFORMAT, "%s: no modules", mp);
        goto done;
    }
    if (!seen_pool) {
        sy_fail(err, SY_EUNSUP, "%s: no Pooling module; hint: syneg pools token vectors as the "
                "folder's Pooling module says, and needs one", mp);
        goto done;
    }
    rc = 0;
done:
    free(mp);
    return rc;
}

static enc_model *load(const char *dir, int modules, sy_err *err)
{
    enc_model *m = calloc(1, sizeof *m);
    json_t *mods = NULL, *sb = NULL, *sj = NULL;
    if (!m || !(m->dir = strdup(dir))) { sy_fail(err, SY_ENOMEM, "out of memory"); goto fail; }
    m->pooling = ENC_POOL_CLS;
    if (!sy_is_dir(dir)) {
        sy_fail(err, SY_ENOTFOUND, "%s: not a folder; hint: --model takes a Hugging Face or "
                "sentence-transformers model folder", dir);
        goto fail;
    }
    char *mp = sy_path_join(dir, "modules.json");
    int has_mods = modules && mp && sy_file_exists(mp);
    if (has_mods) {
        json_error_t je;
        mods = json_load_file(mp, 0, &je);
        if (!json_is_array(mods)) {
            sy_fail(err, SY_EPARSE, "%s:%d: %s", mp, je.line, mods ? "not a JSON array of modules" : je.text);
            free(mp);
            goto fail;
        }
    }
    free(mp);
    if (has_mods ? load_modules(m, dir, mods, err) : load_transformer(m, dir, err)) goto fail;
    if (!has_mods && modules) {
        /* a folder without modules.json but with a Pooling config: read it, never ignore it */
        char *pd = sy_path_join(dir, "1_Pooling");
        int hp = pd && sy_is_dir(pd);
        if (hp && parse_pooling(m, pd, err)) { free(pd); goto fail; }
        free(pd);
    }
    /* sentence_bert_config.json: max_seq_length, do_lower_case */
    sy_err e2;
    sb = load_json(m->tf_dir, "sentence_bert_config.json", 0, &e2);
    if (!sb && strcmp(m->tf_dir, dir)) sb = load_json(dir, "sentence_bert_config.json", 0, &e2);
    if (sb) {
        json_t *ms = json_object_get(sb, "max_seq_length");
        if (json_is_integer(ms) && json_integer_value(ms) > 0) m->max_len = (int)json_integer_value(ms);
        if (json_is_true(json_object_get(sb, "do_lower_case"))) {
            sy_fail(err, SY_EUNSUP, "%s/sentence_bert_config.json: do_lower_case true is not supported; hint: "
                    "lower-case the texts before embedding, or use a tokenizer that lower-cases", m->tf_dir);
            goto fail;
        }
    }
    int cap = m->cfg.max_position - m->cfg.pos_offset;
    if (cap > 512) cap = 512;
    if (m->max_len <= 0 || m->max_len > cap) m->max_len = cap;
    if (modules && load_prompts(m, dir, err)) goto fail;
    /* syneg's own prefixes (written by older syneg checkpoints) win */
    sj = load_json(dir, "syneg.json", 0, &e2);
    if (sj) {
        json_t *q = json_object_get(sj, "query_prefix"), *p = json_object_get(sj, "passage_prefix");
        if (json_is_string(q)) { free(m->query_prefix); m->query_prefix = strdup(json_string_value(q)); }
        if (json_is_string(p)) { free(m->passage_prefix); m->passage_prefix = strdup(json_string_value(p)); }
    }
    json_decref(mods); json_decref(sb); json_decref(sj);
    return m;
fail:
    json_decref(mods); json_decref(sb); json_decref(sj);
    enc_free(m);
    return NULL;
}

enc_model *enc_load(const char *dir, sy_err *err) { return load(dir, 1, err); }
enc_model *enc_load_transformer(const char *dir, sy_err *err) { return load(dir, 0, err); }

void enc_free(enc_model *m)
{
    if (!m) return;
    enc_set_precision(m, ENC_FP32, NULL);   /* frees the packed bf16 weights */
    tok_free(m->tok);
    free(m->params_memory);
    free(m->query_prefix);
    free(m->passage_prefix);
    for (int i = 0; i < m->ndense; i++) { free(m->dense[i].w); free(m->dense[i].b); }
    free(m->dense);
    for (int i = 0; i < m->nprompts; i++) { free(m->prompt_names[i]); free(m->prompt_texts[i]); }
    free(m->prompt_names);
    free(m->prompt_texts);
    free(m->dir);
    free(m->tf_dir);
    free(m->dtype);
    free(m);
}

int enc_dim(const enc_model *m)
{
    if (m->ndense) return m->dense[m->ndense - 1].out;
    return m->cfg.hidden * (m->npool_concat ? m->npool_concat : 1);
}

static const char *const POOL_NAMES[ENC_POOL_MODES] = { "cls", "mean", "max", "mean_sqrt_len", "weightedmean",
                                                        "lasttoken" };

const char *enc_pool_name(enc_pooling p)
{
    return (unsigned)p < ENC_POOL_MODES ? POOL_NAMES[p] : "?";
}

int enc_pool_parse(const char *s, enc_pooling *out)
{
    for (int i = 0; i < ENC_POOL_MODES; i++)
        if (!strcmp(s, POOL_NAMES[i])) { *out = (enc_pooling)i; return 0; }
    return -1;
}
