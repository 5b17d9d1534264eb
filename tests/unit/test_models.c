/* test_models: model folders as transformers / sentence-transformers write
 * them load, and give SentenceTransformer.encode's vectors (max abs diff
 * <= 1e-4) on tests/fixtures/models/texts.json (made by
 * tests/ref/make_model_fixtures.py):
 *   every Pooling config format (ST 2.x booleans, 2.2 weightedmean/lasttoken,
 *   3.x include_prompt, 6.x "pooling_mode" strings, two modes concatenated),
 *   prompts with include_prompt false, sentence_bert_config max_seq_length,
 *   legacy 0_Transformer layout, F16 weights, Dense (Tanh) + Normalize,
 *   RoBERTa (byte-level BPE, BF16, sharded) and XLM-R (Unigram);
 * and every unreadable or unsupported folder fails naming the file. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "../check.h"
#include "encoder.h"
#include "npy.h"
#include "train_ckpt.h"
#include "util.h"

#define FX "tests/fixtures/models/"

static json_t *texts;
static const char **tx;
static size_t ntx;

static unsigned char *has_nul;   /* texts with a NUL cannot be passed as C strings: not compared */

static float max_diff(const float *a, const float *b, size_t rows, size_t D)
{
    float d = 0;
    for (size_t r = 0; r < rows; r++) {
        if (has_nul[r]) continue;
        for (size_t i = r * D; i < (r + 1) * D; i++) {
            float e = fabsf(a[i] - b[i]);
            if (!(e <= d)) d = e;   /* NaN counts as a difference */
        }
    }
    return d;
}

/* Embed the texts with prefix and compare with ref_npy. */
static void check_vectors(const enc_model *m, const char *prefix, const char *ref_npy, const char *what)
{
    npy_array ref;
    sy_err err;
    CHECK(npy_read(ref_npy, &ref, &err) == 0, "%s", err.msg);
    if (ref.n == 0) return;
    size_t D = ref.shape[1];
    CHECK(ref.shape[0] == ntx && D == (size_t)enc_dim(m), "%s: reference [%zu, %zu], model dim %d", what,
          ref.shape[0], D, enc_dim(m));
    if (D != (size_t)enc_dim(m)) { npy_free(&ref); return; }
    float *out = malloc(ntx * D * sizeof *out);
    int rc = enc_embed_prefix(m, tx, ntx, prefix, out, NULL, NULL, &err);
    CHECK(rc == 0, "%s: %s", what, err.msg);
    if (rc == 0) {
        float d = max_diff(out, ref.data, ntx, D);
        CHECK(d <= 1e-4f, "%s: max abs diff %g against sentence-transformers", what, d);
        if (d > 1e-4f && getenv("SYNEG_TEST_VERBOSE"))
            for (size_t r = 0; r < ntx; r++) {
                float dr = has_nul[r] ? 0 : max_diff(out + r * D, (float *)ref.data + r * D, 1, D);
                if (dr > 1e-4f) fprintf(stderr, "  row %zu diff %g: %.40s\n", r, dr, tx[r]);
            }
    }
    free(out);
    npy_free(&ref);
}

static void copy_file(const char *src, const char *dst)
{
    size_t len;
    char *b = sy_read_file(src, &len, NULL);
    if (b) sy_write_file_atomic(dst, b, len, NULL);
    free(b);
}

static char tmpdir[64];

static void rm_rf(const char *d)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd)) {}
}

/* a copy of wp_uncased with another 1_Pooling/config.json */
static void make_variant(const char *pool_json)
{
    static const char *const files[] = { "config.json", "model.safetensors", "tokenizer.json",
                                         "tokenizer_config.json", "sentence_bert_config.json",
                                         "modules.json", NULL };
    char s[512], d[512];
    rm_rf(tmpdir);
    snprintf(d, sizeof d, "%s/1_Pooling", tmpdir);
    sy_mkdir_p(d, NULL);
    for (const char *const *f = files; *f; f++) {
        snprintf(s, sizeof s, FX "wp_uncased/%s", *f);
        snprintf(d, sizeof d, "%s/%s", tmpdir, *f);
        copy_file(s, d);
    }
    snprintf(d, sizeof d, "%s/1_Pooling/config.json", tmpdir);
    if (pool_json) sy_write_file_atomic(d, pool_json, strlen(pool_json), NULL);
}

TEST(pooling_formats)
{
    DIR *dd = opendir(FX "wp_uncased/ref");
    CHECK(dd != NULL, "fixture folder");
    if (!dd) return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dd))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "pool_", 5) || l < 6 || strcmp(e->d_name + l - 5, ".json")) continue;
        char name[128], p[512];
        snprintf(name, sizeof name, "%.*s", (int)(l - 5), e->d_name);
        snprintf(p, sizeof p, FX "wp_uncased/ref/%s", e->d_name);
        char *cfg = sy_read_file(p, NULL, NULL);
        make_variant(cfg);
        free(cfg);
        sy_err err;
        enc_model *m = enc_load(tmpdir, &err);
        CHECK(m != NULL, "%s: %s", name, err.msg);
        if (!m) continue;
        CHECK_EQ_INT(m->max_len, 64);   /* sentence_bert_config.json, not model_max_length 128 */
        snprintf(p, sizeof p, FX "wp_uncased/ref/%s.npy", name);
        check_vectors(m, NULL, p, name);
        snprintf(p, sizeof p, FX "wp_uncased/ref/%s_prompt.npy", name);
        if (sy_file_exists(p)) check_vectors(m, "query: ", p, name);
        enc_free(m);
        n++;
    }
    closedir(dd);
    CHECK(n >= 14, "only %d pooling variants found", n);
}

TEST(dense_normalize_f16_legacy_layout)
{
    sy_err err;
    enc_model *m = enc_load(FX "wp_cased_f16", &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m) return;
    CHECK(m->ndense == 1 && m->normalize && enc_dim(m) == 16 && !strcmp(m->dtype, "F16"), "modules read");
    CHECK(m->query_prefix && !strcmp(m->query_prefix, "query: ") && m->passage_prefix &&
          !strcmp(m->passage_prefix, "passage: "), "prompts from config_sentence_transformers.json");
    check_vectors(m, NULL, FX "wp_cased_f16/ref/plain.npy", "plain");
    check_vectors(m, m->query_prefix, FX "wp_cased_f16/ref/query.npy", "query prompt");
    check_vectors(m, enc_prompt(m, "passage"), FX "wp_cased_f16/ref/passage.npy", "passage prompt");
    enc_free(m);
}

TEST(roberta_bpe_bf16_sharded)
{
    sy_err err;
    enc_model *m = enc_load(FX "bpe_roberta_bf16", &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m) return;
    CHECK(m->cfg.pos_offset == 2 && !strcmp(m->dtype, "BF16") && m->pool_skip_prompt && m->max_len == 128,
          "offset %d dtype %s skip %d max_len %d", m->cfg.pos_offset, m->dtype, m->pool_skip_prompt, m->max_len);
    CHECK(m->query_prefix && !strcmp(m->query_prefix, "Represent this query: ") && !m->passage_prefix,
          "ST 6 prompts (query, empty document)");
    check_vectors(m, NULL, FX "bpe_roberta_bf16/ref/plain.npy", "plain");
    check_vectors(m, m->query_prefix, FX "bpe_roberta_bf16/ref/query.npy", "query, include_prompt false");
    enc_free(m);
}

TEST(xlmr_unigram)
{
    sy_err err;
    enc_model *m = enc_load(FX "uni_xlmr", &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m) return;
    CHECK(m->normalize && m->pooling == ENC_POOL_MEAN && !strcmp(m->cfg.model_type, "xlm-roberta"), "modules");
    check_vectors(m, NULL, FX "uni_xlmr/ref/plain.npy", "plain");
    enc_free(m);
}

static void expect_error(const char *what, const char *needle1, const char *needle2)
{
    sy_err err;
    enc_model *m = enc_load(tmpdir, &err);
    CHECK(m == NULL, "%s: loaded", what);
    CHECK(m || (strstr(err.msg, needle1) && (!needle2 || strstr(err.msg, needle2))),
          "%s: message lacks '%s'/'%s': %s", what, needle1, needle2 ? needle2 : "", err.msg);
    enc_free(m);
}

TEST(errors)
{
    char p[512];
    make_variant("{\"embedding_dimension\": 32, \"pooling_mode\": \"median\"}");
    expect_error("unknown pooling mode", "1_Pooling/config.json", "median");
    make_variant("{\"embedding_dimension\": 32, \"pooling_mode_mean_tokens\": true, \"pooling_mode_new\": true}");
    expect_error("unknown pooling key", "1_Pooling/config.json", "pooling_mode_new");
    make_variant("{\"embedding_dimension\": 32}");
    expect_error("no pooling mode", "1_Pooling/config.json", "no pooling mode");
    make_variant("{not json");
    expect_error("unreadable pooling config", "1_Pooling/config.json", NULL);
    make_variant(NULL);
    expect_error("missing pooling config", "1_Pooling/config.json", "missing");
    make_variant("{\"embedding_dimension\": 32, \"pooling_mode\": \"mean\"}");
    snprintf(p, sizeof p, "%s/modules.json", tmpdir);
    const char *mods = "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                       "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
                       "{\"idx\":2,\"name\":\"2\",\"path\":\"2_LayerNorm\",\"type\":\"sentence_transformers.models.LayerNorm\"}]";
    sy_write_file_atomic(p, mods, strlen(mods), NULL);
    expect_error("unknown module", "modules.json", "LayerNorm");
    /* weights: only pytorch_model.bin -> the conversion command */
    make_variant("{\"embedding_dimension\": 32, \"pooling_mode\": \"mean\"}");
    char s[512];
    snprintf(s, sizeof s, "%s/model.safetensors", tmpdir);
    snprintf(p, sizeof p, "%s/pytorch_model.bin", tmpdir);
    CHECK(rename(s, p) == 0, "rename");
    expect_error("pytorch_model.bin only", "pytorch_model.bin", "save_file(");
    /* a shard the index names is missing */
    rm_rf(tmpdir);
    sy_mkdir_p(tmpdir, NULL);
    static const char *const files[] = { "config.json", "tokenizer.json", "tokenizer_config.json",
                                         "model.safetensors.index.json", "model-00001-of-00003.safetensors",
                                         "model-00002-of-00003.safetensors", NULL };
    for (const char *const *f = files; *f; f++) {
        snprintf(s, sizeof s, FX "bpe_roberta_bf16/%s", *f);
        snprintf(p, sizeof p, "%s/%s", tmpdir, *f);
        copy_file(s, p);
    }
    expect_error("missing shard", "model-00003-of-00003.safetensors", "missing");
    /* the whole sharded folder (no ST modules) loads */
    snprintf(s, sizeof s, FX "bpe_roberta_bf16/model-00003-of-00003.safetensors");
    snprintf(p, sizeof p, "%s/model-00003-of-00003.safetensors", tmpdir);
    copy_file(s, p);
    sy_err err;
    enc_model *m = enc_load(tmpdir, &err);
    CHECK(m != NULL && m->pooling == ENC_POOL_CLS, "sharded folder: %s", m ? "" : err.msg);
    enc_free(m);
    /* no tokenizer at all */
    snprintf(p, sizeof p, "%s/tokenizer.json", tmpdir);
    unlink(p);
    expect_error("no tokenizer", "tokenizer.json", "vocab.txt");
    /* unsupported architecture */
    snprintf(p, sizeof p, "%s/config.json", tmpdir);
    const char *cfg = "{\"model_type\": \"deberta-v2\", \"vocab_size\": 10}";
    sy_write_file_atomic(p, cfg, strlen(cfg), NULL);
    expect_error("deberta", "config.json", "deberta-v2");
    rm_rf(tmpdir);
}

/* a checkpoint syneg writes from an XLM-R sentence-transformers model keeps the
 * tokenizer files, architecture and prompts, and loads back to the same vectors */
TEST(checkpoint_keeps_source_files)
{
    sy_err err;
    enc_model *m = enc_load(FX "bpe_roberta_bf16", &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m) return;
    free(m->passage_prefix);
    m->passage_prefix = strdup("passage: ");
    rm_rf(tmpdir);
    CHECK(ckpt_write_hf(m, tmpdir, 128, &err) == 0, "%s", err.msg);
    enc_model *b = enc_load(tmpdir, &err);
    CHECK(b != NULL, "reload: %s", err.msg);
    if (b) {
        CHECK(!strcmp(b->cfg.model_type, "roberta") && b->cfg.pos_offset == 2 && b->pool_skip_prompt &&
              b->pooling == ENC_POOL_MEAN, "config: %s offset %d skip %d", b->cfg.model_type, b->cfg.pos_offset,
              b->pool_skip_prompt);
        CHECK(b->query_prefix && !strcmp(b->query_prefix, "Represent this query: ") && b->passage_prefix &&
              !strcmp(b->passage_prefix, "passage: "), "prompts kept");
        char p[512];
        snprintf(p, sizeof p, "%s/tokenizer.json", tmpdir);
        size_t l1, l2;
        char *x = sy_read_file(p, &l1, NULL), *y = sy_read_file(FX "bpe_roberta_bf16/tokenizer.json", &l2, NULL);
        CHECK(x && y && l1 == l2 && !memcmp(x, y, l1), "tokenizer.json copied as it was");
        free(x);
        free(y);
        float *va = malloc(ntx * 32 * sizeof *va), *vb = malloc(ntx * 32 * sizeof *vb);
        CHECK(enc_embed(m, tx, ntx, 1, va, NULL, NULL, &err) == 0 && enc_embed(b, tx, ntx, 1, vb, NULL, NULL, &err) == 0,
              "%s", err.msg);
        CHECK(max_diff(va, vb, ntx, 32) <= 1e-6f, "reloaded checkpoint differs: %g", max_diff(va, vb, ntx, 32));
        free(va);
        free(vb);
    }
    enc_free(b);
    enc_free(m);
    rm_rf(tmpdir);
}

int main(void)
{
    texts = json_load_file(FX "texts.json", JSON_ALLOW_NUL, NULL);
    CHECK(json_is_array(texts), "texts.json");
    ntx = json_array_size(texts);
    tx = calloc(ntx + 1, sizeof *tx);
    has_nul = calloc(ntx + 1, 1);
    for (size_t i = 0; i < ntx; i++) {
        tx[i] = json_string_value(json_array_get(texts, i));
        has_nul[i] = strlen(tx[i]) != json_string_length(json_array_get(texts, i));
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/syneg_models_%d", (int)getpid());
    RUN(pooling_formats);
    RUN(dense_normalize_f16_legacy_layout);
    RUN(roberta_bpe_bf16_sharded);
    RUN(xlmr_unigram);
    RUN(errors);
    RUN(checkpoint_keeps_source_files);
    free(tx);
    free(has_nul);
    json_decref(texts);
    return check_done();
}
