/* encoder: BERT forward over a HF model folder (see encoder.h). */
#include "encoder.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_bf16.h"
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

/* ---- forward ------------------------------------------------------------------------ */

/* out[N,OC] = inp[N,C] @ w^T + b: fp32 through BLAS, or bf16 with the weight
 * of layer l packed by enc_set_precision (`which` as enc_bf16_weight). */
static int linear(const enc_model *m, int l, int which, float *out, const float *inp, const float *w,
                  const float *b, int N, int C, int OC, sy_err *err)
{
    const kbf_mat *pw = enc_bf16_weight(m, l, which);
    if (!pw) {
        matmul_forward(out, inp, w, b, N, C, OC);
        return 0;
    }
    if (kbf_gemm(out, OC, inp, C, 0, pw, b, N, 0))
        return sy_fail(err, SY_ENOMEM, "out of memory in a bf16 product");
    return 0;
}

int enc_forward(const enc_model *m, enc_acts *a, const int *ids, const int *lens,
                int B, int T, int all_layers, sy_err *err)
{
    return enc_forward_types(m, a, ids, NULL, lens, B, T, all_layers, err);
}

int enc_forward_types(const enc_model *m, enc_acts *a, const int *ids, const int *types,
                      const int *lens, int B, int T, int all_layers, sy_err *err)
{
    const enc_config *c = &m->cfg;
    const enc_params *p = &m->params;
    int C = c->hidden, I = c->intermediate, NH = c->heads;
    size_t BT = (size_t)B * T;
    if (T + c->pos_offset > c->max_position)
        return sy_fail(err, SY_EINVAL, "sequence length %d exceeds the %d positions of the model", T,
                       c->max_position - c->pos_offset);
    for (size_t i = 0; i < BT; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return sy_fail(err, SY_EINVAL, "token id %d at position %zu is outside the vocabulary "
                           "(%d)", ids[i], i, c->vocab_size);
    /* RoBERTa numbers positions from padding_idx + 1 */
    const float *wpe = p->wpe + (size_t)c->pos_offset * C;
    if (types)
        for (size_t i = 0; i < BT; i++)
            if (types[i] < 0 || types[i] >= c->type_vocab)
                return sy_fail(err, SY_EINVAL, "token type %d at position %zu is outside the model's %d",
                               types[i], i, c->type_vocab);
    if (!types && !c->pos_offset) {
        embedding_forward(a->emb, ids, p->wte, wpe, p->wtt, B, T, C);
    } else {
        int pad = c->pos_offset - 1;
        for (int b = 0; b < B; b++) {
            int count = 0;
            for (int t = 0; t < T; t++) {
                size_t i = (size_t)b * T + t;
                int pos = t;
                if (c->pos_offset) pos = ids[i] == pad && t < lens[b] ? pad : c->pos_offset + count++;
                float *o = a->emb + i * C;
                const float *we = p->wte + (size_t)ids[i] * C, *pe = p->wpe + (size_t)pos * C,
                            *te = p->wtt + (size_t)(types ? types[i] : 0) * C;
                for (int k = 0; k < C; k++) o[k] = we[k] + pe[k] + te[k];
            }
        }
    }
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
        if (linear(m, l, 0, qkv, x, p->qkv_w + L * 3 * C * C, p->qkv_b + L * 3 * C, (int)BT, C, 3 * C, err)) return -1;
        if (m->precision == ENC_BF16 ? kbf_attention_forward(atty, att, qkv, lens, B, T, C, NH)
                                     : attention_forward(atty, att, qkv, lens, B, T, C, NH))
            return sy_fail(err, SY_ENOMEM, "out of memory in attention");
        if (linear(m, l, 1, res1, atty, p->attproj_w + L * C * C, p->attproj_b + L * C, (int)BT, C, C, err)) return -1;
        residual_forward(res1, res1, x, BT * C);
        layernorm_forward(ln1, a->ln1_mean + s * BT, a->ln1_rstd + s * BT, res1,
                          p->ln1_w + L * C, p->ln1_b + L * C, (int)BT, C, c->ln_eps);
        if (linear(m, l, 2, fch, ln1, p->fc_w + L * I * C, p->fc_b + L * I, (int)BT, C, I, err)) return -1;
        const kbf_mat *w3 = all_layers ? NULL : enc_bf16_weight(m, l, 3);
        if (w3) {
            /* inference at bf16: GELU writes the bf16 pairs the next product
             * reads (in fch_gelu's memory), not a float32 copy; same bits */
            uint32_t *g2 = (uint32_t *)fchg;
            if (kbf_gelu_pairs(g2, fch, BT, I) || kbf_gemm_pairs(res2, C, g2, w3, p->fcproj_b + L * C, (int)BT, 0))
                return sy_fail(err, SY_ENOMEM, "out of memory in a bf16 product");
        } else {
            gelu_forward(fchg, fch, BT * I);
            if (linear(m, l, 3, res2, fchg, p->fcproj_w + L * C * I, p->fcproj_b + L * C, (int)BT, I, C, err)) return -1;
        }
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

/* One sentence-transformers pooling mode over rows [from, len) of h[T, C]
 * into out[C] (cls takes row 0 whatever `from` is, as ST does). */
static void pool_one(float *out, const float *h, int from, int len, int C, enc_pooling mode)
{
    if (from > len) from = len;
    switch (mode) {
    case ENC_POOL_CLS:
        memcpy(out, h, (size_t)C * sizeof *out);
        return;
    case ENC_POOL_LAST:
        memcpy(out, h + (size_t)(len > 0 ? len - 1 : 0) * C, (size_t)C * sizeof *out);
        return;
    case ENC_POOL_MAX:
        for (int c = 0; c < C; c++) out[c] = -1e9f;
        for (int t = from; t < len; t++)
            for (int c = 0; c < C; c++) if (h[(size_t)t * C + c] > out[c]) out[c] = h[(size_t)t * C + c];
        return;
    default: {
        double w_sum = 0;
        for (int c = 0; c < C; c++) out[c] = 0;
        for (int t = from; t < len; t++) {
            float w = mode == ENC_POOL_WEIGHTED ? (float)(t + 1) : 1.0f;
            for (int c = 0; c < C; c++) out[c] += w * h[(size_t)t * C + c];
            w_sum += w;
        }
        if (w_sum < 1e-9) w_sum = 1e-9;
        float d = mode == ENC_POOL_MEAN_SQRT ? (float)sqrt(w_sum) : (float)w_sum;
        for (int c = 0; c < C; c++) out[c] /= d;
        return;
    }
    }
}

/* Pooling (+ Dense, Normalize) of one batch: hs[B,T,C] -> out rows of enc_dim. */
static void pool_batch(const enc_model *m, float *pooled, float *tmp, const float *hs, const int *lens,
                       int from, int B, int T)
{
    int C = m->cfg.hidden, D = enc_dim(m);
    int np = m->npool_concat ? m->npool_concat : 1;
    for (int b = 0; b < B; b++) {
        const float *h = hs + (size_t)b * T * C;
        float *x = tmp + (size_t)b * (C * np > D ? C * np : D) * 2;
        if (m->npool_concat) {
            for (int k = 0; k < np; k++) pool_one(x + (size_t)k * C, h, from, lens[b], C, (enc_pooling)m->pool_concat[k]);
        } else if (m->pooling == ENC_POOL_MEAN && from == 0) {
            pool_mean_forward(x, h, lens + b, 1, T, C);    /* the kernel the trainer shares */
        } else {
            pool_one(x, h, from, lens[b], C, m->pooling);
        }
        int dim = C * np;
        for (int l = 0; l < m->ndense; l++) {
            const enc_dense *d = &m->dense[l];
            float *y = x + (size_t)(C * np > D ? C * np : D);
            for (int o = 0; o < d->out; o++) {
                float acc = d->b ? d->b[o] : 0.0f;
                const float *w = d->w + (size_t)o * d->in;
                for (int i = 0; i < d->in; i++) acc += w[i] * x[i];
                y[o] = d->tanh ? tanhf(acc) : acc;
            }
            memcpy(x, y, (size_t)d->out * sizeof *x);
            dim = d->out;
        }
        memcpy(pooled + (size_t)b * D, x, (size_t)dim * sizeof *x);
    }
    if (m->normalize) l2norm_forward(pooled, NULL, B, D);
}

int enc_embed(const enc_model *m, const char *const *texts, size_t n, int is_query,
              float *out, enc_progress_fn progress, void *ctx, sy_err *err)
{
    return enc_embed_prefix(m, texts, n, is_query ? m->query_prefix : m->passage_prefix, out, progress,
                            ctx, err);
}

int enc_embed_prefix(const enc_model *m, const char *const *texts, size_t n, const char *prefix,
                     float *out, enc_progress_fn progress, void *ctx, sy_err *err)
{
    if (n == 0) return 0;
    int T = m->max_len, C = m->cfg.hidden, D = enc_dim(m);
    size_t plen = prefix ? strlen(prefix) : 0;
    /* include_prompt false: pooling skips the prompt's tokens, counted as
     * sentence-transformers does (the prompt's ids without the last special) */
    int from = 0;
    if (plen && m->pool_skip_prompt) {
        int32_t *tmp = malloc((size_t)T * sizeof *tmp);
        if (!tmp) return sy_fail(err, SY_ENOMEM, "out of memory");
        from = (int)tok_encode(m->tok, prefix, plen, tmp, (size_t)T, NULL) - 1;
        free(tmp);
        if (from < 0) from = 0;
    }
    enc_item *items = calloc(n, sizeof *items);
    int32_t *idbuf = malloc(n * (size_t)T * sizeof *idbuf);
    float *actmem = NULL, *pooled = NULL, *ptmp = NULL;
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
    if (maxT < 1) { sy_fail(err, SY_EINVAL, "max_len %d cannot hold the tokenizer's special tokens", T); goto done; }
    /* every batch holds at most ENC_BATCH_TOKENS tokens (max_len <= 512), so
     * one buffer shaped [1, budget] fits them all */
    size_t need;
    need = enc_acts_layout(NULL, NULL, &m->cfg, 1, ENC_BATCH_TOKENS > maxT ? ENC_BATCH_TOKENS : maxT, 0);
    actmem = malloc(need * sizeof *actmem);
    size_t wide = (size_t)(C * (m->npool_concat ? m->npool_concat : 1) > D ? C * (m->npool_concat ? m->npool_concat : 1) : D);
    pooled = malloc((size_t)ENC_BATCH_MAX * D * sizeof *pooled);
    ptmp = malloc((size_t)ENC_BATCH_MAX * wide * 2 * sizeof *ptmp);
    bids = malloc((size_t)(ENC_BATCH_TOKENS > maxT ? ENC_BATCH_TOKENS : maxT) * sizeof *bids);
    blens = malloc(ENC_BATCH_MAX * sizeof *blens);
    if (!actmem || !pooled || !ptmp || !bids || !blens) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    int padid = tok_pad(m->tok) >= 0 ? tok_pad(m->tok) : 0;
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
            for (int t = 0; t < bT; t++) bids[(size_t)b * bT + t] = t < it->len ? it->ids[t] : padid;
        }
        enc_acts a;
        enc_acts_layout(&a, actmem, &m->cfg, bB, bT, 0);
        if (enc_forward(m, &a, bids, blens, bB, bT, 0, err)) goto done;
        float *hs = enc_acts_output(&a, &m->cfg, bB, bT, 0);
        pool_batch(m, pooled, ptmp, hs, blens, from, bB, bT);
        for (int b = 0; b < bB; b++)
            memcpy(out + items[done_n + (size_t)b].idx * D, pooled + (size_t)b * D, (size_t)D * sizeof *out);
        done_n += (size_t)bB;
        if (progress && progress(ctx, done_n, n)) {
            sy_fail(err, SY_ECANCEL, "embedding cancelled after %zu of %zu texts", done_n, n);
            goto done;
        }
    }
    rc = 0;
done:
    free(items); free(idbuf); free(actmem); free(pooled); free(ptmp); free(bids); free(blens);
    return rc;
}

/* ---- saving ------------------------------------------------------------------------------ */

/* The model's dimensions as config.json names them, set into cfg (the one
 * place enc_save and training checkpoints write them). */
void enc_config_to_json(json_t *cfg, const enc_config *c)
{
    json_object_set_new(cfg, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(cfg, "hidden_size", json_integer(c->hidden));
    json_object_set_new(cfg, "num_hidden_layers", json_integer(c->layers));
    json_object_set_new(cfg, "num_attention_heads", json_integer(c->heads));
    json_object_set_new(cfg, "intermediate_size", json_integer(c->intermediate));
    json_object_set_new(cfg, "max_position_embeddings", json_integer(c->max_position));
    json_object_set_new(cfg, "type_vocab_size", json_integer(c->type_vocab));
    json_object_set_new(cfg, "layer_norm_eps", json_real(c->ln_eps));
}

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
    char *src_cfg = m->tf_dir ? sy_path_join(m->tf_dir, "config.json") : NULL;
    json_t *cfg = src_cfg && sy_file_exists(src_cfg) ? json_load_file(src_cfg, 0, NULL) : NULL;
    free(src_cfg);
    if (!json_is_object(cfg)) { json_decref(cfg); cfg = json_object(); }
    json_object_set_new(cfg, "model_type", json_string(c->model_type[0] ? c->model_type : "bert"));
    enc_config_to_json(cfg, c);
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
    static const char *const copy[] = { "tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                        "modules.json", "syneg.json", "1_Pooling/config.json", NULL };
    for (const char *const *f = copy; *f; f++) {
        /* tokenizer files live beside the transformer (dir or dir/0_Transformer) */
        const char *from = m->tf_dir && (strstr(*f, "token") || strstr(*f, "vocab")) ? m->tf_dir : m->dir;
        char *src = sy_path_join(from, *f), *dst = sy_path_join(dir, *f);
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
