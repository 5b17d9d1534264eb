/* test_encoder_bf16: the encoder at precision bf16 against fp32 on the same
 * model and texts -- the fixture models of tests/fixtures/models (BERT
 * WordPiece, RoBERTa BPE with BF16 weights, XLM-R Unigram, F16 + Dense) and a
 * MiniLM-shaped model (6 layers, 384 hidden, random weights) -- on the
 * fixture texts and the first Cranfield passages.
 *
 * Tolerance (README, "Precision"): bf16 keeps 8 significant bits, so every
 * Linear product is off by ~2-3e-3 relative (tests/unit/test_kernels_bf16.c),
 * whatever its length; the error passes through LayerNorm and the residuals
 * layer by layer without growing much.  We require every vector's cosine to
 * its fp32 twin to be >= 0.9995 and the mean >= 0.9999 (measured: min
 * 0.99996-0.99998, mean 0.99998-0.999999 on these models), and that the vectors
 * are NOT identical (the bf16 path really ran).  Also: bf16 on a CPU without
 * avx512_bf16 is refused (tested where that is the case), "auto" resolves to
 * what the CPU has, and switching back to fp32 gives the fp32 bits again. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>

#include "../check.h"
#include "encoder.h"
#include "kernels.h"
#include "kernels_bf16.h"
#include "safetensors.h"
#include "util.h"

#define FX "tests/fixtures/models/"

static const char **all_texts;
static size_t nall, nfix;

/* cosine of every row pair: min, mean; and max abs diff */
static void compare(const float *a, const float *b, size_t n, int D, double *min_cos, double *mean_cos, double *maxd)
{
    *min_cos = 1;
    *mean_cos = 0;
    *maxd = 0;
    for (size_t i = 0; i < n; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int d = 0; d < D; d++) {
            double x = a[i * D + d], y = b[i * D + d];
            ab += x * y; aa += x * x; bb += y * y;
            if (fabs(x - y) > *maxd || x != x || y != y) *maxd = x != x || y != y ? INFINITY : fabs(x - y);
        }
        double c = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
        if (c < *min_cos || c != c) *min_cos = c != c ? -1 : c;
        *mean_cos += c / (double)n;
    }
}

static void parity(const char *dir, const char *what, const char **texts, size_t ntexts)
{
    sy_err err;
    enc_model *m = enc_load(dir, &err);
    CHECK(m, "%s: %s", what, err.msg);
    if (!m) return;
    CHECK(m->precision == ENC_FP32, "%s: fp32 after loading", what);
    int D = enc_dim(m);
    float *f32 = malloc(ntexts * D * sizeof *f32), *b16 = malloc(ntexts * D * sizeof *b16),
          *again = malloc(ntexts * D * sizeof *again);
    CHECK(enc_embed(m, texts, ntexts, 0, f32, NULL, NULL, &err) == 0, "%s fp32: %s", what, err.msg);
    CHECK(enc_set_precision(m, ENC_BF16, &err) == 0, "%s: %s", what, err.msg);
    CHECK(m->precision == ENC_BF16 && enc_bf16_weight(m, 0, 0), "%s: bf16 weights packed", what);
    CHECK(enc_embed(m, texts, ntexts, 0, b16, NULL, NULL, &err) == 0, "%s bf16: %s", what, err.msg);
    double mn, mean, maxd;
    compare(f32, b16, ntexts, D, &mn, &mean, &maxd);
    printf("# %-28s %zu texts, dim %d: cosine bf16/fp32 min %.6f mean %.6f, max |diff| %.2e\n", what, ntexts, D,
           mn, mean, maxd);
    CHECK(mn >= 0.9995, "%s: min cosine %.6f < 0.9995", what, mn);
    CHECK(mean >= 0.9999, "%s: mean cosine %.6f < 0.9999", what, mean);
    CHECK(maxd > 0, "%s: bf16 vectors equal fp32 bit for bit: the bf16 path did not run", what);
    /* back to fp32: the same bits as before */
    CHECK(enc_set_precision(m, ENC_FP32, &err) == 0 && enc_bf16_weight(m, 0, 0) == NULL, "%s: back to fp32", what);
    CHECK(enc_embed(m, texts, ntexts, 0, again, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(memcmp(again, f32, ntexts * D * sizeof *f32) == 0, "%s: fp32 after bf16 differs", what);
    free(f32); free(b16); free(again);
    enc_free(m);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* A MiniLM-shaped BERT with random weights (the bench's model) in dir, with
 * the first 8000 words of the BERT vocabulary (a smaller embedding to write). */
static int write_minilm(const char *dir, const char *vocab_src)
{
    const int V = 8000, C = 384, L = 6, I = 1536, P = 512;
    size_t n = 0, si = 0;
    char *names[128];
    int nd[128];
    int64_t shapes[256];
    float *data[128];
#define ADD(nm, d0, d1, sc, off) do { names[n] = nm; shapes[si++] = (d0); \
        if (d1) { shapes[si++] = (d1); nd[n] = 2; } else nd[n] = 1; \
        size_t ne = (size_t)(d0) * ((d1) ? (size_t)(d1) : 1); data[n] = malloc(ne * 4); \
        for (size_t q = 0; q < ne; q++) data[n][q] = (off) + (sc) * frand(); \
        n++; } while (0)
    ADD(strdup("embeddings.word_embeddings.weight"), V, C, 0.5f, 0);
    ADD(strdup("embeddings.position_embeddings.weight"), P, C, 0.5f, 0);
    ADD(strdup("embeddings.token_type_embeddings.weight"), 2, C, 0.5f, 0);
    ADD(strdup("embeddings.LayerNorm.weight"), C, 0, 0.2f, 1);
    ADD(strdup("embeddings.LayerNorm.bias"), C, 0, 0.1f, 0);
    static const char *const lin[] = { "attention.self.query", "attention.self.key", "attention.self.value",
                                       "attention.output.dense", "intermediate.dense", "output.dense" };
    for (int l = 0; l < L; l++) {
        for (int k = 0; k < 6; k++) {
            int out = k == 4 ? I : C, in = k == 5 ? I : C;
            ADD(sy_strdup_printf("encoder.layer.%d.%s.weight", l, lin[k]), out, in, 1.7f / sqrtf((float)in), 0);
            ADD(sy_strdup_printf("encoder.layer.%d.%s.bias", l, lin[k]), out, 0, 0.1f, 0);
        }
        ADD(sy_strdup_printf("encoder.layer.%d.attention.output.LayerNorm.weight", l), C, 0, 0.2f, 1);
        ADD(sy_strdup_printf("encoder.layer.%d.attention.output.LayerNorm.bias", l), C, 0, 0.1f, 0);
        ADD(sy_strdup_printf("encoder.layer.%d.output.LayerNorm.weight", l), C, 0, 0.2f, 1);
        ADD(sy_strdup_printf("encoder.layer.%d.output.LayerNorm.bias", l), C, 0, 0.1f, 0);
    }
#undef ADD
    sy_err err;
    char *p = sy_path_join(dir, "model.safetensors");
    int rc = st_write_f32(p, n, (const char *const *)names, nd, shapes, (const float *const *)data, &err);
    free(p);
    for (size_t i = 0; i < n; i++) { free(names[i]); free(data[i]); }
    if (rc) return -1;
    const char cfg[] = "{\"model_type\": \"bert\", \"vocab_size\": 8000, \"hidden_size\": 384, "
                       "\"num_hidden_layers\": 6, \"num_attention_heads\": 12, \"intermediate_size\": 1536, "
                       "\"max_position_embeddings\": 512, \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", "
                       "\"layer_norm_eps\": 1e-12}";
    p = sy_path_join(dir, "config.json");
    rc = sy_write_file_atomic(p, cfg, sizeof cfg - 1, NULL);
    free(p);
    size_t len;
    char *v = sy_read_file(vocab_src, &len, &err);
    if (!v) return -1;
    size_t cut = 0;
    for (int lines = 0; cut < len && lines < V; cut++) lines += v[cut] == '\n';
    p = sy_path_join(dir, "vocab.txt");
    rc |= sy_write_file_atomic(p, v, cut, NULL);
    free(p);
    free(v);
    return rc;
}

TEST(fixture_models)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (bf16 is refused there; see refused)"); return; }
    const char **texts = all_texts;
    size_t ntexts = nall;
    parity(FX "wp_uncased", "BERT WordPiece (mean)", texts, ntexts);
    parity(FX "bpe_roberta_bf16", "RoBERTa BPE, BF16 weights", texts, ntexts);
    parity(FX "uni_xlmr", "XLM-R Unigram + Normalize", texts, ntexts);
    parity(FX "wp_cased_f16", "F16 + Dense", texts, ntexts);
}

TEST(minilm_shape)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (bf16 is refused there; see refused)"); return; }
    const char *shared = getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data";
    char vocab[512];
    snprintf(vocab, sizeof vocab, "%s/bert-base-uncased/vocab.txt", shared);
    if (!check_need(vocab)) return;
    char dir[] = "/tmp/syneg-test-bf16-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(write_minilm(dir, vocab) == 0, "writing the model");
    /* 40 texts: the first Cranfield passages (the last fixture texts without them) */
    size_t from = nall > nfix ? nfix : nall > 40 ? nall - 40 : 0, n = nall - from > 40 ? 40 : nall - from;
    parity(dir, "MiniLM shape (6 x 384), cls", all_texts + from, n);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "rm");
}

TEST(parse_and_refuse)
{
    enc_precision p = ENC_BF16;
    sy_err err;
    CHECK(enc_precision_parse("fp32", &p, &err) == 0 && p == ENC_FP32, "fp32");
    CHECK(enc_precision_parse("auto", &p, &err) == 0 && p == (kbf_cpu_ok() ? ENC_BF16 : ENC_FP32), "auto");
    CHECK(enc_precision_parse("fp16", &p, &err) == -1 && strstr(err.msg, "fp32, bf16 or auto"), "unknown: %s", err.msg);
    int rc = enc_precision_parse("bf16", &p, &err);
    if (kbf_cpu_ok()) CHECK(rc == 0 && p == ENC_BF16, "bf16 here");
    /* a CPU without avx512_bf16 (or acting so): refused, never a fallback */
    setenv("SYNEG_NO_BF16", "1", 1);
    p = ENC_BF16;
    CHECK(enc_precision_parse("auto", &p, &err) == 0 && p == ENC_FP32, "auto without the CPU feature is fp32");
    rc = enc_precision_parse("bf16", &p, &err);
    CHECK(rc == -1 && strstr(err.msg, "avx512_bf16"), "bf16 without the CPU feature must be refused: %s", err.msg);
    enc_model *m = enc_load(FX "wp_uncased", &err);
    CHECK(m && enc_apply_precision(m, "bf16", &err) == -1 && m->precision == ENC_FP32 && !enc_bf16_weight(m, 0, 0),
          "no silent fallback");
    enc_free(m);
    unsetenv("SYNEG_NO_BF16");
    CHECK(!strcmp(enc_precision_name(ENC_BF16), "bf16") && !strcmp(enc_precision_name(ENC_FP32), "fp32"), "names");
}

/* Inference at bf16 (all_layers 0) feeds GELU's bf16 pairs straight into
 * the next product; the trainer's path (all_layers 1) keeps the float32
 * copy and converts it.  Both must give the same bits (odd lengths, 2 and 1
 * threads). */
TEST(gelu_pairs_path)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16"); return; }
    sy_err err = { 0 };
    enc_model *m = enc_load(FX "wp_uncased", &err);
    CHECK(m && enc_apply_precision(m, "bf16", &err) == 0, "load: %s", err.msg);
    if (!m) return;
    int B = 3, T = 13, lens[3] = { 13, 5, 9 };
    int *ids = calloc((size_t)B * T, sizeof *ids);
    for (int i = 0; i < B * T; i++) ids[i] = 100 + (i * 37) % 900;
    size_t n1 = enc_acts_layout(NULL, NULL, &m->cfg, B, T, 0), nall = enc_acts_layout(NULL, NULL, &m->cfg, B, T, 1);
    float *m1 = calloc(n1, sizeof *m1), *mall = calloc(nall, sizeof *mall);
    for (int th = 2; th >= 1; th--) {
        kern_set_threads(th);
        enc_acts a1, aall;
        enc_acts_layout(&a1, m1, &m->cfg, B, T, 0);
        enc_acts_layout(&aall, mall, &m->cfg, B, T, 1);
        CHECK(enc_forward(m, &a1, ids, lens, B, T, 0, &err) == 0 && enc_forward(m, &aall, ids, lens, B, T, 1, &err) == 0,
              "forward: %s", err.msg);
        const float *o1 = enc_acts_output(&a1, &m->cfg, B, T, 0), *oall = enc_acts_output(&aall, &m->cfg, B, T, 1);
        CHECK(!memcmp(o1, oall, sizeof(float) * (size_t)B * T * m->cfg.hidden),
              "inference (GELU pairs) and training (float GELU) outputs differ (%d threads)", th);
    }
    free(ids); free(m1); free(mall);
    enc_free(m);
}

int main(void)
{
    /* texts: the fixture texts, then the first 150 Cranfield passages when present */
    json_t *j = json_load_file(FX "texts.json", JSON_ALLOW_NUL, NULL);
    size_t nj = json_array_size(j);
    all_texts = calloc(nj + 200, sizeof *all_texts);
    for (size_t i = 0; i < nj; i++) all_texts[nall++] = json_string_value(json_array_get(j, i));
    nfix = nall;
    const char *shared = getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data";
    char path[512];
    snprintf(path, sizeof path, "%s/cranfield/corpus.jsonl", shared);
    FILE *f = fopen(path, "r");
    char line[1 << 16];
    json_t *keep = json_array();
    while (f && nall < nj + 150 && fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *t = json_object_get(o, "text");
        if (json_is_string(t)) {
            json_array_append(keep, t);
            all_texts[nall++] = json_string_value(t);
        }
        json_decref(o);
    }
    if (f) fclose(f);
    RUN(fixture_models);
    RUN(minilm_shape);
    RUN(parse_and_refuse);
    RUN(gelu_pairs_path);
    json_decref(keep);
    json_decref(j);
    free(all_texts);
    return check_done();
}
