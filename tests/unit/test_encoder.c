/* test_encoder: BERT forward parity with HF transformers (fixtures made by
 * tests/ref/make_fixtures.py): a tiny random F16 model kept in the repo and a
 * MiniLM-shaped model whose weights are a pure function of the tensor name,
 * rebuilt here; plus the safetensors reader's error paths, .npy I/O and
 * enc_save round trips. */
#include <jansson.h>
#include <stdint.h>
#include <sys/wait.h>

#include "../check.h"
#include "encoder.h"
#include "kernels.h"
#include "npy.h"
#include "safetensors.h"
#include "util.h"

#define FX "tests/fixtures/encoder/"
#define TOL 1e-4

static npy_array load(const char *name)
{
    npy_array a;
    sy_err err;
    char p[256];
    snprintf(p, sizeof p, FX "%s", name);
    if (npy_read(p, &a, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    return a;
}

static double maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

/* Run the model on HF's ids; compare last_hidden_state rows (valid tokens)
 * and the pooled vectors. */
static void check_against(enc_model *m, const char *prefix, int nhidden, const char *label)
{
    char nm[64];
    snprintf(nm, sizeof nm, "%s_ids.npy", prefix);
    npy_array ids = load(nm);
    snprintf(nm, sizeof nm, "%s_lens.npy", prefix);
    npy_array lens = load(nm);
    snprintf(nm, sizeof nm, "%s_cls.npy", prefix);
    npy_array cls = load(nm);
    snprintf(nm, sizeof nm, "%s_mean.npy", prefix);
    npy_array mean = load(nm);
    int B = (int)ids.shape[0], T = (int)ids.shape[1], C = enc_dim(m);
    CHECK_EQ_INT(cls.shape[1], C);
    sy_err err;
    size_t na = enc_acts_layout(NULL, NULL, &m->cfg, B, T, 0);
    float *mem = malloc(na * sizeof *mem);
    enc_acts a;
    enc_acts_layout(&a, mem, &m->cfg, B, T, 0);
    int rc = enc_forward(m, &a, ids.data, lens.data, B, T, 0, &err);
    CHECK(rc == 0, "%s", err.msg);
    float *hs = enc_acts_output(&a, &m->cfg, B, T, 0);
    float *pc = malloc((size_t)B * C * 4), *pm = malloc((size_t)B * C * 4);
    pool_cls_forward(pc, hs, B, T, C);
    pool_mean_forward(pm, hs, lens.data, B, T, C);
    double dc = maxdiff(pc, cls.data, (size_t)B * C), dm = maxdiff(pm, mean.data, (size_t)B * C);
    double dh = 0;
    if (nhidden) {
        snprintf(nm, sizeof nm, "%s_hidden.npy", prefix);
        npy_array hid = load(nm);
        for (int b = 0; b < nhidden; b++) {
            int len = ((int *)lens.data)[b];
            double d = maxdiff(hs + (size_t)b * T * C, (float *)hid.data + (size_t)b * T * C, (size_t)len * C);
            if (d > dh) dh = d;
        }
        npy_free(&hid);
    }
    CHECK(dc <= TOL && dm <= TOL && dh <= TOL, "%s: max abs diff cls %g mean %g hidden %g", label, dc, dm, dh);
    printf("# %s parity (%d texts, T=%d): max abs diff cls %.2e, mean %.2e, last_hidden_state %.2e\n",
           label, B, T, dc, dm, dh);
    free(mem); free(pc); free(pm);
    npy_free(&ids); npy_free(&lens); npy_free(&cls); npy_free(&mean);
}

/* 1 when the shared data the fixture texts come from is there; otherwise the
 * group is skipped naming the missing file, and 0. */
static int need_fixture_data(void)
{
    const char *files[2] = { "cranfield/corpus.jsonl", "cisi/corpus.jsonl" };
    char p[600];
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", check_shared_data(), files[i]);
        if (!check_need(p)) return 0;
    }
    return 1;
}

/* The N texts of the tiny fixture, as make_fixtures.py picks them. */
static char **fixture_texts(size_t *n)
{
    struct { const char *file; size_t count; } src[4] = {
        { "cranfield/corpus.jsonl", 120 }, { "cisi/corpus.jsonl", 100 },
        { "cranfield/queries.jsonl", 60 }, { NULL, 20 },
    };
    char **out = calloc(300, sizeof *out);
    *n = 0;
    for (int s = 0; s < 4; s++) {
        char p[600];
        if (src[s].file) snprintf(p, sizeof p, "%s/%s", check_shared_data(), src[s].file);
        else snprintf(p, sizeof p, "tests/fixtures/tokenizer/hard_cases.jsonl");
        size_t len;
        char *f = sy_read_file(p, &len, NULL);
        if (!f) { fprintf(stderr, "cannot read %s\n", p); exit(2); }
        char *save = NULL;
        size_t k = 0;
        for (char *l = strtok_r(f, "\n", &save); l && k < src[s].count; l = strtok_r(NULL, "\n", &save), k++) {
            json_t *j = json_loads(l, JSON_ALLOW_NUL, NULL);
            /* C strings: drop embedded NULs (HF drops them too) */
            json_t *t = json_object_get(j, "text");
            size_t tl = json_string_length(t), w = 0;
            char *c = malloc(tl + 1);
            for (size_t q = 0; q < tl; q++) if (json_string_value(t)[q]) c[w++] = json_string_value(t)[q];
            c[w] = 0;
            out[(*n)++] = c;
            json_decref(j);
        }
        free(f);
    }
    return out;
}

TEST(tiny_parity)
{
    sy_err err;
    enc_model *m = enc_load(FX "tiny", &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m) return;
    CHECK_EQ_STR(m->dtype, "F16");
    CHECK_EQ_INT(m->cfg.layers, 2);
    CHECK_EQ_INT(m->max_len, 64);
    check_against(m, "tiny", 16, "tiny F16 BERT");

    /* our tokenizer on the model's own vocab gives HF's ids */
    if (!need_fixture_data()) { enc_free(m); return; }
    size_t n;
    char **texts = fixture_texts(&n);
    npy_array ids = load("tiny_ids.npy"), lens = load("tiny_lens.npy");
    CHECK_EQ_INT(n, ids.shape[0]);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t mine[64];
        size_t k = tok_encode(m->tok, texts[i], strlen(texts[i]), mine, 64, NULL);
        int want = ((int *)lens.data)[i];
        if ((int)k != want || memcmp(mine, (int *)ids.data + i * 64, k * 4) != 0) {
            if (bad++ < 3) {
                fprintf(stderr, "text %zu (%.60s): ours", i, texts[i]);
                for (size_t q = 0; q < k; q++) fprintf(stderr, " %d", mine[q]);
                fprintf(stderr, "\n  hf:");
                for (int q = 0; q < want; q++) fprintf(stderr, " %d", ((int *)ids.data)[i * 64 + q]);
                fprintf(stderr, "\n");
            }
        }
    }
    CHECK(bad == 0, "%d of %zu texts tokenized differently from HF", bad, n);

    /* enc_embed end to end: cls, mean, normalised */
    npy_array cls = load("tiny_cls.npy"), mean = load("tiny_mean.npy");
    int C = enc_dim(m);
    float *out = malloc(n * (size_t)C * 4);
    CHECK(enc_embed(m, (const char *const *)texts, n, 0, out, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(maxdiff(out, cls.data, n * C) <= TOL, "embed cls %g", maxdiff(out, cls.data, n * C));
    m->pooling = ENC_POOL_MEAN;
    m->normalize = 1;
    CHECK(enc_embed(m, (const char *const *)texts, n, 1, out, NULL, NULL, &err) == 0, "%s", err.msg);
    l2norm_forward(mean.data, NULL, (int)n, C);
    CHECK(maxdiff(out, mean.data, n * C) <= TOL, "embed mean+norm %g", maxdiff(out, mean.data, n * C));
    /* a prefix changes the vectors (and only for the side it is set on) */
    float *o2 = malloc(n * (size_t)C * 4);
    m->query_prefix = strdup("query: ");
    CHECK(enc_embed(m, (const char *const *)texts, 4, 1, o2, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(maxdiff(o2, out, 4 * C) > 1e-3, "query prefix has an effect");
    CHECK(enc_embed(m, (const char *const *)texts, 4, 0, o2, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(maxdiff(o2, out, 4 * C) <= 1e-6, "passage side unaffected");

    /* enc_save round trip: F32 file, same vectors */
    char *dir = check_tmpdir("enc");
    CHECK(enc_save(m, dir, &err) == 0, "%s", err.msg);
    enc_model *m2 = enc_load(dir, &err);
    CHECK(m2 != NULL, "%s", err.msg);
    if (m2) {
        CHECK_EQ_STR(m2->dtype, "F32");
        CHECK(m2->num_params == m->num_params &&
              memcmp(m2->params_memory, m->params_memory, m->num_params * 4) == 0, "same weights");
        enc_free(m2);
    }
    check_rmrf(dir);
    free(dir);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts); free(out); free(o2);
    npy_free(&ids); npy_free(&lens); npy_free(&cls); npy_free(&mean);
    enc_free(m);
}

/* ---- MiniLM-shaped model rebuilt from the name-derived weights ---- */

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) { h ^= (uint8_t)*s; h *= 0x100000001b3ULL; }
    return h;
}
static uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static float *gen_param(const char *name, size_t n, int64_t fan_in)
{
    float *p = malloc(n * sizeof *p);
    float off = 0.0f, scale;
    size_t nl = strlen(name);
    if (nl > 16 && !strcmp(name + nl - 16, "LayerNorm.weight")) { off = 1.0f; scale = 0.2f; }
    else if (nl > 4 && !strcmp(name + nl - 4, "bias")) scale = 0.1f;
    else if (strstr(name, "embeddings")) scale = 0.5f;
    else scale = (float)(1.7 / sqrt((double)fan_in));
    uint64_t key = fnv1a64(name);
    for (size_t i = 0; i < n; i++) {
        float u = (float)(splitmix64(key + i) >> 40) * 0x1p-23f - 1.0f;
        p[i] = scale * u + off;
    }
    return p;
}

static int write_minilm(const char *dir, sy_err *err)
{
    const int V = 30522, C = 384, L = 6, I = 1536, P = 512;
    size_t cap = 5 + 16 * L, n = 0;
    char **names = calloc(cap, sizeof *names);
    int *nd = calloc(cap, sizeof *nd);
    int64_t *shapes = calloc(2 * cap, sizeof *shapes);
    float **data = calloc(cap, sizeof *data);
    size_t si = 0;
#define ADD(nm, d0, d1) do { names[n] = nm; shapes[si++] = (d0); if (d1) { shapes[si++] = (d1); nd[n] = 2; } else nd[n] = 1; \
        data[n] = gen_param(names[n] + 5, (size_t)(d0) * ((d1) ? (size_t)(d1) : 1), (d1) ? (d1) : (d0)); n++; } while (0)
    /* stored with the "bert." prefix, as BertForMaskedLM-style checkpoints are */
    ADD(strdup("bert.embeddings.word_embeddings.weight"), V, C);
    ADD(strdup("bert.embeddings.position_embeddings.weight"), P, C);
    ADD(strdup("bert.embeddings.token_type_embeddings.weight"), 2, C);
    ADD(strdup("bert.embeddings.LayerNorm.weight"), C, 0);
    ADD(strdup("bert.embeddings.LayerNorm.bias"), C, 0);
    static const char *const lin[] = { "attention.self.query", "attention.self.key", "attention.self.value",
                                       "attention.output.dense", "intermediate.dense", "output.dense" };
    for (int l = 0; l < L; l++) {
        for (int k = 0; k < 6; k++) {
            int out = k == 4 ? I : C, in = k == 5 ? I : C;
            ADD(sy_strdup_printf("bert.encoder.layer.%d.%s.weight", l, lin[k]), out, in);
            ADD(sy_strdup_printf("bert.encoder.layer.%d.%s.bias", l, lin[k]), out, 0);
        }
        ADD(sy_strdup_printf("bert.encoder.layer.%d.attention.output.LayerNorm.weight", l), C, 0);
        ADD(sy_strdup_printf("bert.encoder.layer.%d.attention.output.LayerNorm.bias", l), C, 0);
        ADD(sy_strdup_printf("bert.encoder.layer.%d.output.LayerNorm.weight", l), C, 0);
        ADD(sy_strdup_printf("bert.encoder.layer.%d.output.LayerNorm.bias", l), C, 0);
    }
#undef ADD
    char *p = sy_path_join(dir, "model.safetensors");
    int rc = st_write_f32(p, n, (const char *const *)names, nd, shapes, (const float *const *)data, err);
    free(p);
    for (size_t i = 0; i < n; i++) { free(names[i]); free(data[i]); }
    free(names); free(nd); free(shapes); free(data);
    if (rc) return rc;
    const char cfg[] = "{\"model_type\": \"bert\", \"vocab_size\": 30522, \"hidden_size\": 384, "
                       "\"num_hidden_layers\": 6, \"num_attention_heads\": 12, \"intermediate_size\": 1536, "
                       "\"max_position_embeddings\": 512, \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", "
                       "\"layer_norm_eps\": 1e-12}";
    p = sy_path_join(dir, "config.json");
    rc = sy_write_file_atomic(p, cfg, sizeof cfg - 1, err);
    free(p);
    char src[600];
    snprintf(src, sizeof src, "%s/bert-base-uncased/vocab.txt", check_shared_data());
    size_t len;
    char *v = sy_read_file(src, &len, err);
    if (!v) return -1;
    p = sy_path_join(dir, "vocab.txt");
    rc = rc ? rc : sy_write_file_atomic(p, v, len, err);
    free(p);
    free(v);
    return rc;
}

TEST(minilm_parity)
{
    sy_err err;
    char vocab[600];
    snprintf(vocab, sizeof vocab, "%s/bert-base-uncased/vocab.txt", check_shared_data());
    if (!check_need(vocab)) return;
    char *dir = check_tmpdir("minilm");
    CHECK(write_minilm(dir, &err) == 0, "%s", err.msg);
    enc_model *m = enc_load(dir, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(m->num_params >= 22500000, "MiniLM size: %zu parameters", m->num_params);
        check_against(m, "minilm", 0, "MiniLM-shaped BERT (bert. prefix, F32)");
    }
    enc_free(m);
    check_rmrf(dir);
    free(dir);
}

/* ---- error paths ---- */

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char *p = sy_path_join(dir, name);
    sy_write_file_atomic(p, data, len, NULL);
    free(p);
}

TEST(errors)
{
    sy_err err;
    enc_model *m = enc_load("/nonexistent-model", &err);
    CHECK(!m && err.code == SY_ENOTFOUND && strstr(err.msg, "/nonexistent-model"), "%s", err.msg);
    char *dir = check_tmpdir("encerr");
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_ENOTFOUND && strstr(err.msg, "config.json"), "%s", err.msg);
    const char deb[] = "{\"model_type\": \"deberta-v2\"}";   /* RoBERTa is read since issue 13 */
    put(dir, "config.json", deb, sizeof deb - 1);
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_EUNSUP && strstr(err.msg, "deberta-v2"), "%s", err.msg);
    /* copy the tiny model, then damage it */
    size_t len;
    char *cfg = sy_read_file(FX "tiny/config.json", &len, NULL);
    put(dir, "config.json", cfg, len);
    char *voc = sy_read_file(FX "tiny/vocab.txt", &len, NULL);
    put(dir, "vocab.txt", voc, len);
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_ENOTFOUND && strstr(err.msg, "model.safetensors"), "%s", err.msg);
    char *st = sy_read_file(FX "tiny/model.safetensors", &len, NULL);
    put(dir, "model.safetensors", st, len / 2);        /* truncated */
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_EFORMAT && strstr(err.msg, "model.safetensors"), "truncated: %s", err.msg);
    put(dir, "model.safetensors", st, 5);
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_EFORMAT, "too short: %s", err.msg);
    uint8_t huge[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}' };
    put(dir, "model.safetensors", huge, sizeof huge);
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_EFORMAT && strstr(err.msg, "header length"), "huge header: %s", err.msg);
    /* config says hidden 64: every tensor mis-shaped, the first is named */
    put(dir, "model.safetensors", st, len);
    json_t *j = json_loads(cfg, 0, NULL);
    json_object_set_new(j, "intermediate_size", json_integer(50));
    char *c2 = json_dumps(j, 0);
    put(dir, "config.json", c2, strlen(c2));
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_EFORMAT && strstr(err.msg, "intermediate.dense.weight") && strstr(err.msg, "[48,32]"),
          "mis-shaped: %s", err.msg);
    free(c2);
    json_object_set_new(j, "intermediate_size", json_integer(48));
    json_object_set_new(j, "num_hidden_layers", json_integer(3));
    c2 = json_dumps(j, 0);
    put(dir, "config.json", c2, strlen(c2));
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_ENOTFOUND && strstr(err.msg, "encoder.layer.2."), "missing layer: %s", err.msg);
    free(c2);
    json_object_set_new(j, "num_hidden_layers", json_integer(2));
    json_object_set_new(j, "hidden_act", json_string("relu"));
    c2 = json_dumps(j, 0);
    put(dir, "config.json", c2, strlen(c2));
    m = enc_load(dir, &err);
    CHECK(!m && err.code == SY_EUNSUP && strstr(err.msg, "relu"), "act: %s", err.msg);
    free(c2);
    json_decref(j);
    free(cfg); free(voc); free(st);
    check_rmrf(dir);
    free(dir);
}

TEST(dtypes_and_npy)
{
    CHECK(st_f16_to_f32(0x3c00) == 1.0f && st_f16_to_f32(0xc000) == -2.0f, "f16 normal");
    CHECK(st_f16_to_f32(0x0001) == 0x1p-24f, "f16 subnormal %g", st_f16_to_f32(0x0001));
    CHECK(isinf(st_f16_to_f32(0x7c00)) && st_f16_to_f32(0x8000) == 0.0f, "f16 inf/-0");
    CHECK(st_bf16_to_f32(0x3f80) == 1.0f && st_bf16_to_f32(st_f32_to_bf16(3.140625f)) == 3.140625f, "bf16");
    CHECK(st_f32_to_bf16(1.00390625f) == 0x3f80, "bf16 rounds to even");
    /* a hand-made BF16 file, read through st_read_f32 */
    char *dir = check_tmpdir("st");
    const char hdr[] = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                       "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[6,14]}}";
    uint8_t buf[256];
    sy_put_u64(buf, sizeof hdr - 1);
    memcpy(buf + 8, hdr, sizeof hdr - 1);
    uint8_t *d = buf + 8 + sizeof hdr - 1;
    uint16_t v[3] = { 0x3f80, 0xc040, 0x0000 };
    for (int i = 0; i < 3; i++) { d[2 * i] = v[i] & 0xff; d[2 * i + 1] = v[i] >> 8; }
    memset(d + 6, 0, 8);
    put(dir, "a.safetensors", buf, 8 + sizeof hdr - 1 + 14);
    char *p = sy_path_join(dir, "a.safetensors");
    sy_err err;
    st_file *f = st_open(p, &err);
    CHECK(f != NULL, "%s", err.msg);
    if (f) {
        float out[3];
        int64_t sh[1] = { 3 };
        CHECK(st_read_f32(f, NULL, "w", out, 1, sh, &err) == 0, "%s", err.msg);
        CHECK(out[0] == 1.0f && out[1] == -3.0f && out[2] == 0.0f, "bf16 values");
        sh[0] = 1;
        CHECK(st_read_f32(f, NULL, "i", out, 1, sh, &err) < 0 && strstr(err.msg, "I64"), "%s", err.msg);
        CHECK(st_read_f32(f, NULL, "nope", out, 1, sh, &err) < 0 && err.code == SY_ENOTFOUND, "missing");
        st_close(f);
    }
    free(p);
    /* npy round trip */
    float mat[6] = { 1, 2, 3, 4, 5, -6.5f };
    p = sy_path_join(dir, "x.npy");
    CHECK(npy_write_f32(p, mat, 2, 3, &err) == 0, "%s", err.msg);
    npy_array a;
    CHECK(npy_read(p, &a, &err) == 0, "%s", err.msg);
    CHECK(a.type == 'f' && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 &&
          memcmp(a.data, mat, sizeof mat) == 0, "npy round trip");
    size_t len;
    char *raw = sy_read_file(p, &len, NULL);
    CHECK((len - 24) % 64 == 0 && raw[len - 25] == '\n', "header padded to 64 bytes (len %zu)", len);
    free(raw);
    npy_free(&a);
    free(p);
    check_rmrf(dir);
    free(dir);
}

/* `syneg embed` end to end (when the test runner gives us the binary) */
TEST(cli_embed)
{
    const char *syneg = getenv("SYNEG");
    if (!syneg || !*syneg) { SKIP("needs SYNEG (the syneg binary; make test sets it)"); return; }
    if (!need_fixture_data()) return;
    size_t n;
    char **texts = fixture_texts(&n);
    char *dir = check_tmpdir("embed");
    char *in = sy_path_join(dir, "in.jsonl"), *out = sy_path_join(dir, "out.npy");
    sy_buf b = { 0 };
    size_t use = 40;
    for (size_t i = 0; i < use; i++) {
        json_t *j = json_pack("{s:s}", "text", texts[i]);
        char *line = json_dumps(j, 0);
        sy_buf_printf(&b, "%s\n", line);
        free(line);
        json_decref(j);
    }
    sy_write_file_atomic(in, b.data, b.len, NULL);
    sy_buf_free(&b);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' embed --model " FX "tiny --pooling mean --quiet '%s' -o '%s'", syneg, in, out);
    CHECK(system(cmd) == 0, "%s", cmd);
    npy_array a, mean = load("tiny_mean.npy");
    sy_err err;
    CHECK(npy_read(out, &a, &err) == 0, "%s", err.msg);
    if (a.data) {
        CHECK(a.ndim == 2 && a.shape[0] == use && a.shape[1] == 32, "shape");
        CHECK(maxdiff(a.data, mean.data, use * 32) <= TOL, "cli mean vectors %g", maxdiff(a.data, mean.data, use * 32));
    }
    /* a bad line is reported with file and line, exit status 1 */
    sy_write_file_atomic(in, "{\"text\": \"ok\"}\n{\"title\": 3}\n", 29, NULL);
    snprintf(cmd, sizeof cmd, "'%s' embed --model " FX "tiny --quiet '%s' -o '%s' 2>'%s.err'", syneg, in, out, out);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "bad input exit %d", rc);
    char ep[600];
    snprintf(ep, sizeof ep, "%s.err", out);
    size_t el;
    char *e = sy_read_file(ep, &el, NULL);
    CHECK(e && strstr(e, "in.jsonl:2"), "error names file:line: %s", e ? e : "(none)");
    free(e);
    npy_free(&a);
    npy_free(&mean);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts); free(in); free(out);
    check_rmrf(dir);
    free(dir);
}

int main(void)
{
    kern_set_threads(0);
    RUN(tiny_parity);
    RUN(cli_embed);
    RUN(minilm_parity);
    RUN(errors);
    RUN(dtypes_and_npy);
    return check_done();
}
