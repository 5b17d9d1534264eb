/* crossenc: (query, passage) pair scoring with a sequence-classification
 * checkpoint (see crossenc.h). */
#include "crossenc.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "util.h"

struct crossenc {
    enc_model *m;          /* the transformer */
    int roberta;           /* head: 0 BERT pooler + classifier, 1 classifier.dense + out_proj */
    float *w1, *b1;        /* [C, C], [C]: pooler.dense / classifier.dense */
    float *w2, *b2;        /* [C], [1]: classifier / classifier.out_proj */
    int max_len;
    int use_types;         /* the tokenizer hands token_type_ids to the model */
};

/* transformers passes token_type_ids when the tokenizer's model_input_names
 * has them: tokenizer_config.json's list, else the class default (BERT's
 * tokenizers do; transformers 5's generic TokenizersBackend does not) */
static int tokenizer_types(const char *dir, int type_vocab)
{
    if (type_vocab < 2) return 0;
    char *p = sy_path_join(dir, "tokenizer_config.json");
    json_t *j = p && sy_file_exists(p) ? json_load_file(p, 0, NULL) : NULL;
    free(p);
    json_t *names = json_object_get(j, "model_input_names");
    const char *cls = json_string_value(json_object_get(j, "tokenizer_class"));
    int use = 1;
    if (json_is_array(names)) {
        size_t i;
        json_t *v;
        use = 0;
        json_array_foreach(names, i, v) use |= json_is_string(v) && !strcmp(json_string_value(v), "token_type_ids");
    } else if (cls && !strcmp(cls, "TokenizersBackend")) {
        use = 0;
    }
    json_decref(j);
    return use;
}

void crossenc_free(crossenc *ce)
{
    if (!ce) return;
    enc_free(ce->m);
    free(ce->w1); free(ce->b1); free(ce->w2); free(ce->b2);
    free(ce);
}

crossenc *crossenc_load(const char *dir, sy_err *err)
{
    crossenc *ce = calloc(1, sizeof *ce);
    json_t *cfg = NULL;
    st_model *w = NULL;
    char *cp = sy_path_join(dir, "config.json");
    if (!ce || !cp) { sy_fail(err, SY_ENOMEM, "out of memory"); goto fail; }
    json_error_t je;
    if (sy_file_exists(cp) && (cfg = json_load_file(cp, 0, &je), !json_is_object(cfg))) {
        sy_fail(err, SY_EPARSE, "%s:%d: %s", cp, je.line, cfg ? "not a JSON object" : je.text);
        goto fail;
    }
    const char *arch = json_string_value(json_array_get(json_object_get(cfg, "architectures"), 0));
    static const char *const bert[] = { "BertForSequenceClassification", NULL };
    static const char *const rob[] = { "RobertaForSequenceClassification", "XLMRobertaForSequenceClassification",
                                       "CamembertForSequenceClassification", NULL };
    int known = 0;
    for (int i = 0; arch && bert[i]; i++) known |= !strcmp(arch, bert[i]);
    for (int i = 0; arch && rob[i]; i++) if (!strcmp(arch, rob[i])) { known = 1; ce->roberta = 1; }
    if (cfg && !known) {
        sy_fail(err, SY_EUNSUP, "%s: architectures[0] is %s; a cross-encoder must be "
                "BertForSequenceClassification or (XLM-)RobertaForSequenceClassification; hint: an "
                "embedding model goes to --model of embed/index, not to rerank", cp, arch ? arch : "(none)");
        goto fail;
    }
    json_t *labels = json_object_get(cfg, "id2label");
    json_t *nl = json_object_get(cfg, "num_labels");
    size_t nlab = json_is_object(labels) ? json_object_size(labels) : json_is_integer(nl) ? (size_t)json_integer_value(nl) : 1;
    if (nlab != 1) {
        sy_fail(err, SY_EUNSUP, "%s: the classifier has %zu labels; reranking needs a model with one "
                "logit per pair (num_labels 1)", cp, nlab);
        goto fail;
    }
    if (!(ce->m = enc_load_transformer(dir, err))) goto fail;
    int C = ce->m->cfg.hidden;
    ce->max_len = ce->m->max_len;
    ce->use_types = tokenizer_types(ce->m->tf_dir, ce->m->cfg.type_vocab);
    ce->w1 = malloc((size_t)C * C * sizeof *ce->w1);
    ce->b1 = malloc((size_t)C * sizeof *ce->b1);
    ce->w2 = malloc((size_t)C * sizeof *ce->w2);
    ce->b2 = malloc(sizeof *ce->b2);
    if (!ce->w1 || !ce->b1 || !ce->w2 || !ce->b2) { sy_fail(err, SY_ENOMEM, "out of memory"); goto fail; }
    if (!(w = st_model_open(dir, err))) goto fail;
    static const char *const pre[] = { "", "bert.", NULL }, *const none[] = { "", NULL };
    int64_t cc[2] = { C, C }, c1[1] = { C }, oc[2] = { 1, C }, o1[1] = { 1 };
    int rc = ce->roberta
        ? st_model_read_f32(w, none, "classifier.dense.weight", ce->w1, 2, cc, err) ||
          st_model_read_f32(w, none, "classifier.dense.bias", ce->b1, 1, c1, err) ||
          st_model_read_f32(w, none, "classifier.out_proj.weight", ce->w2, 2, oc, err) ||
          st_model_read_f32(w, none, "classifier.out_proj.bias", ce->b2, 1, o1, err)
        : st_model_read_f32(w, pre, "pooler.dense.weight", ce->w1, 2, cc, err) ||
          st_model_read_f32(w, pre, "pooler.dense.bias", ce->b1, 1, c1, err) ||
          st_model_read_f32(w, none, "classifier.weight", ce->w2, 2, oc, err) ||
          st_model_read_f32(w, none, "classifier.bias", ce->b2, 1, o1, err);
    if (rc) goto fail;
    st_model_close(w);
    json_decref(cfg);
    free(cp);
    return ce;
fail:
    st_model_close(w);
    json_decref(cfg);
    free(cp);
    crossenc_free(ce);
    return NULL;
}

typedef struct { int len; size_t idx; } ce_item;

static int by_len(const void *a, const void *b)
{
    const ce_item *x = a, *y = b;
    if (x->len != y->len) return y->len - x->len;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

#define CE_BATCH_TOKENS 8192
#define CE_BATCH_MAX 64

int crossenc_score(crossenc *ce, const char *const *queries, const char *const *passages,
                   size_t n, float *logits, sy_err *err)
{
    if (!n) return 0;
    const enc_model *m = ce->m;
    int T = ce->max_len, C = m->cfg.hidden;
    int32_t *ids = malloc(n * (size_t)T * sizeof *ids), *types = malloc(n * (size_t)T * sizeof *types);
    ce_item *items = calloc(n, sizeof *items);
    int *bids = NULL, *btypes = NULL, *blens = NULL;
    float *act = NULL, *h = NULL;
    int rc = -1;
    if (!ids || !types || !items) { sy_fail(err, SY_ENOMEM, "out of memory for %zu pairs", n); goto done; }
    for (size_t i = 0; i < n; i++) {
        const char *q = queries[i] ? queries[i] : "", *p = passages[i] ? passages[i] : "";
        size_t k = tok_encode_pair(m->tok, q, strlen(q), p, strlen(p), ids + i * T, types + i * T, (size_t)T);
        if (!k) {
            sy_fail(err, SY_EINVAL, "%s: max length %d cannot hold a pair", m->dir, T);
            goto done;
        }
        items[i] = (ce_item){ (int)k, i };
    }
    qsort(items, n, sizeof *items, by_len);
    int maxT = items[0].len, budget = CE_BATCH_TOKENS > maxT ? CE_BATCH_TOKENS : maxT;
    act = malloc(enc_acts_layout(NULL, NULL, &m->cfg, 1, budget, 0) * sizeof *act);
    bids = malloc((size_t)budget * sizeof *bids);
    btypes = malloc((size_t)budget * sizeof *btypes);
    blens = malloc(CE_BATCH_MAX * sizeof *blens);
    h = malloc((size_t)C * sizeof *h);
    if (!act || !bids || !btypes || !blens || !h) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    int pad = tok_pad(m->tok) >= 0 ? tok_pad(m->tok) : 0;
    for (size_t done_n = 0; done_n < n;) {
        int bT = items[done_n].len, bB = CE_BATCH_TOKENS / bT;
        if (bB < 1) bB = 1;
        if (bB > CE_BATCH_MAX) bB = CE_BATCH_MAX;
        if ((size_t)bB > n - done_n) bB = (int)(n - done_n);
        for (int b = 0; b < bB; b++) {
            const ce_item *it = &items[done_n + (size_t)b];
            blens[b] = it->len;
            for (int t = 0; t < bT; t++) {
                int in = t < it->len;
                bids[(size_t)b * bT + t] = in ? ids[it->idx * T + t] : pad;
                /* a single token type in the model (RoBERTa): every type is 0 */
                btypes[(size_t)b * bT + t] = in && ce->use_types ? types[it->idx * T + t] : 0;
            }
        }
        enc_acts a;
        enc_acts_layout(&a, act, &m->cfg, bB, bT, 0);
        if (enc_forward_types(m, &a, bids, btypes, blens, bB, bT, 0, err)) goto done;
        const float *hs = enc_acts_output(&a, &m->cfg, bB, bT, 0);
        for (int b = 0; b < bB; b++) {
            const float *x = hs + (size_t)b * bT * C;   /* [CLS] / <s> */
            for (int o = 0; o < C; o++) {
                float acc = ce->b1[o];
                const float *wr = ce->w1 + (size_t)o * C;
                for (int i = 0; i < C; i++) acc += wr[i] * x[i];
                h[o] = tanhf(acc);
            }
            float z = ce->b2[0];
            for (int i = 0; i < C; i++) z += ce->w2[i] * h[i];
            logits[items[done_n + (size_t)b].idx] = z;
        }
        done_n += (size_t)bB;
    }
    rc = 0;
done:
    free(ids); free(types); free(items); free(bids); free(btypes); free(blens); free(act); free(h);
    return rc;
}
