/* test_crossenc: cross-encoder logits equal transformers'
 * AutoModelForSequenceClassification (BERT and XLM-R heads, pairs truncated
 * longest-first to model_max_length 40) within 1e-4 on
 * tests/fixtures/models/ce_{bert,xlmr}; sigmoid of them equals
 * sentence-transformers' CrossEncoder.predict; bad folders fail by name. */
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "../check.h"
#include "crossenc.h"
#include "npy.h"
#include "util.h"

#define FX "tests/fixtures/models/"

static void check_ce(const char *name)
{
    char p[512];
    sy_err err;
    snprintf(p, sizeof p, FX "%s", name);
    crossenc *ce = crossenc_load(p, &err);
    CHECK(ce != NULL, "%s: %s", name, err.msg);
    if (!ce) return;
    snprintf(p, sizeof p, FX "%s/ref/pairs.json", name);
    json_t *pairs = json_load_file(p, 0, NULL);
    size_t n = json_array_size(pairs);
    const char **q = calloc(n + 1, sizeof *q), **d = calloc(n + 1, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        q[i] = json_string_value(json_object_get(json_array_get(pairs, i), "query"));
        d[i] = json_string_value(json_object_get(json_array_get(pairs, i), "passage"));
    }
    float *lg = malloc((n + 1) * sizeof *lg);
    int rc = crossenc_score(ce, q, d, n, lg, &err);
    CHECK(rc == 0, "%s: %s", name, err.msg);
    npy_array ref, sig;
    snprintf(p, sizeof p, FX "%s/ref/logits.npy", name);
    CHECK(npy_read(p, &ref, &err) == 0 && ref.n == n, "%s: %s", name, err.msg);
    snprintf(p, sizeof p, FX "%s/ref/sigmoid.npy", name);
    CHECK(npy_read(p, &sig, &err) == 0 && sig.n == n, "%s: %s", name, err.msg);
    float dl = 0, ds = 0;
    for (size_t i = 0; rc == 0 && i < n && ref.n == n && sig.n == n; i++) {
        float a = fabsf(lg[i] - ((float *)ref.data)[i]);
        float s = fabsf(1.0f / (1.0f + expf(-lg[i])) - ((float *)sig.data)[i]);
        if (a > 1e-4f) fprintf(stderr, "  %s pair %zu: logit %g, transformers %g\n", name, i, lg[i], ((float *)ref.data)[i]);
        if (!(a <= dl)) dl = a;
        if (!(s <= ds)) ds = s;
    }
    CHECK(dl <= 1e-4f, "%s: logits max abs diff %g", name, dl);
    CHECK(ds <= 1e-4f, "%s: sigmoid max abs diff %g against CrossEncoder.predict", name, ds);
    /* order does not matter: one pair alone scores the same */
    float one;
    CHECK(crossenc_score(ce, q + 1, d + 1, 1, &one, &err) == 0 && fabsf(one - lg[1]) <= 1e-5f, "%s: alone %g vs %g",
          name, one, lg[1]);
    npy_free(&ref);
    npy_free(&sig);
    free(lg); free(q); free(d);
    json_decref(pairs);
    crossenc_free(ce);
}

TEST(bert_head) { check_ce("ce_bert"); }
TEST(xlmr_head) { check_ce("ce_xlmr"); }

/* token_type_ids 0/1 reach the model when the tokenizer says so (BERT's
 * tokenizers; here via model_input_names): logits from transformers with
 * return_token_type_ids=True */
TEST(bert_token_types)
{
    char dir[] = "/tmp/syneg_ce_XXXXXX", s[512], d[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    static const char *const files[] = { "config.json", "model.safetensors", "tokenizer.json", NULL };
    for (const char *const *f = files; *f; f++) {
        size_t len;
        snprintf(s, sizeof s, FX "ce_bert/%s", *f);
        snprintf(d, sizeof d, "%s/%s", dir, *f);
        char *b = sy_read_file(s, &len, NULL);
        sy_write_file_atomic(d, b, len, NULL);
        free(b);
    }
    json_t *tc = json_load_file(FX "ce_bert/tokenizer_config.json", 0, NULL);
    json_object_set_new(tc, "model_input_names", json_pack("[s,s,s]", "input_ids", "token_type_ids", "attention_mask"));
    snprintf(d, sizeof d, "%s/tokenizer_config.json", dir);
    json_dump_file(tc, d, 0);
    json_decref(tc);
    sy_err err;
    crossenc *ce = crossenc_load(dir, &err);
    CHECK(ce != NULL, "%s", err.msg);
    json_t *pairs = json_load_file(FX "ce_bert/ref/pairs.json", 0, NULL);
    size_t n = json_array_size(pairs);
    const char **q = calloc(n + 1, sizeof *q), **p = calloc(n + 1, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        q[i] = json_string_value(json_object_get(json_array_get(pairs, i), "query"));
        p[i] = json_string_value(json_object_get(json_array_get(pairs, i), "passage"));
    }
    float *lg = malloc((n + 1) * sizeof *lg);
    npy_array ref = { 0 };
    CHECK(npy_read(FX "ce_bert/ref/logits_types.npy", &ref, &err) == 0 && ref.n == n, "%s", err.msg);
    if (ce && ref.n == n && crossenc_score(ce, q, p, n, lg, &err) == 0) {
        float dl = 0;
        for (size_t i = 0; i < n; i++) {
            float a = fabsf(lg[i] - ((float *)ref.data)[i]);
            if (!(a <= dl)) dl = a;
        }
        CHECK(dl <= 1e-4f, "logits with token types: max abs diff %g", dl);
    }
    npy_free(&ref);
    free(lg); free(q); free(p);
    json_decref(pairs);
    crossenc_free(ce);
    static const char *const rm[] = { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", NULL };
    for (const char *const *f = rm; *f; f++) { snprintf(d, sizeof d, "%s/%s", dir, *f); unlink(d); }
    rmdir(dir);
}

TEST(errors)
{
    sy_err err;
    crossenc *ce = crossenc_load(FX "wp_uncased", &err);   /* an embedding model */
    CHECK(!ce && strstr(err.msg, "BertModel") && strstr(err.msg, "config.json"), "embedding model: %s", err.msg);
    ce = crossenc_load("/nonexistent-ce", &err);
    CHECK(!ce && strstr(err.msg, "/nonexistent-ce"), "missing: %s", err.msg);
    crossenc_free(NULL);
}

int main(void)
{
    RUN(bert_head);
    RUN(xlmr_head);
    RUN(bert_token_types);
    RUN(errors);
    return check_done();
}
