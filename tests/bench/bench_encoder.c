/* bench_encoder: encoding throughput of a MiniLM-shaped BERT (6 layers, 384
 * hidden, 12 heads, 1536 intermediate, random weights) in sequences/s, at
 * length 128 and at a realistic length mix (cranfield abstracts, max 256),
 * against PyTorch (tests/bench/bench_encoder_torch.py, Debian python3-torch)
 * on the same inputs, the same weights and the same thread count, measured in
 * this run.  Also reports the max abs difference between the two outputs.
 * Environment: SHARED_DATA, BENCH_THREADS (default: all cores), BENCH_PY
 * (default /usr/bin/python3), BENCH_SECONDS (per measurement, default 8). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoder.h"
#include "kernels.h"
#include "npy.h"
#include "safetensors.h"
#include "util.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static int write_model(const char *dir, const char *vocab_src)
{
    const int V = 30522, C = 384, L = 6, I = 1536, P = 512;
    size_t cap = 5 + 16 * L, n = 0, si = 0;
    char *names[128];
    int nd[128];
    int64_t shapes[256];
    float *data[128];
#define ADD(nm, d0, d1, sc, off) do { names[n] = nm; shapes[si++] = (d0); \
        if (d1) { shapes[si++] = (d1); nd[n] = 2; } else nd[n] = 1; \
        size_t ne = (size_t)(d0) * ((d1) ? (size_t)(d1) : 1); data[n] = malloc(ne * 4); \
        for (size_t q = 0; q < ne; q++) data[n][q] = (off) + (sc) * frand(); \
        n++; } while (0)
    (void)cap;
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
    if (rc) { fprintf(stderr, "%s\n", err.msg); return -1; }
    const char cfg[] = "{\"model_type\": \"bert\", \"vocab_size\": 30522, \"hidden_size\": 384, "
                       "\"num_hidden_layers\": 6, \"num_attention_heads\": 12, \"intermediate_size\": 1536, "
                       "\"max_position_embeddings\": 512, \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", "
                       "\"layer_norm_eps\": 1e-12}";
    p = sy_path_join(dir, "config.json");
    sy_write_file_atomic(p, cfg, sizeof cfg - 1, NULL);
    free(p);
    size_t len;
    char *v = sy_read_file(vocab_src, &len, &err);
    if (!v) { fprintf(stderr, "%s\n", err.msg); return -1; }
    p = sy_path_join(dir, "vocab.txt");
    sy_write_file_atomic(p, v, len, NULL);
    free(p);
    free(v);
    return 0;
}

/* Encode pre-tokenised batches of ids[n, T] (lens[n]) sorted by length as
 * enc_embed does; returns seconds for one pass and fills out[n, C] (cls). */
static double run_c(const enc_model *m, const int *ids, const int *lens, int n, int T, float *out)
{
    int C = enc_dim(m), budget = 8192;
    size_t need = enc_acts_layout(NULL, NULL, &m->cfg, 1, budget, 0);
    float *mem = malloc(need * 4);
    int *bids = malloc((size_t)budget * sizeof *bids);
    double t0 = sy_now();
    for (int i = 0; i < n;) {
        int bT = lens[i], bB = budget / bT;
        if (bB > 128) bB = 128;
        if (bB > n - i) bB = n - i;
        for (int b = 0; b < bB; b++)
            for (int t = 0; t < bT; t++) bids[(size_t)b * bT + t] = t < lens[i + b] ? ids[(size_t)(i + b) * T + t] : 0;
        enc_acts a;
        enc_acts_layout(&a, mem, &m->cfg, bB, bT, 0);
        sy_err err;
        if (enc_forward(m, &a, bids, lens + i, bB, bT, 0, &err)) { fprintf(stderr, "%s\n", err.msg); exit(1); }
        pool_cls_forward(out + (size_t)i * C, enc_acts_output(&a, &m->cfg, bB, bT, 0), bB, bT, C);
        i += bB;
    }
    double dt = sy_now() - t0;
    free(mem);
    free(bids);
    return dt;
}

static int cmp_desc(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }

int main(void)
{
    const char *shared = getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data";
    const char *py = getenv("BENCH_PY") ? getenv("BENCH_PY") : "/usr/bin/python3";
    double secs = getenv("BENCH_SECONDS") ? atof(getenv("BENCH_SECONDS")) : 8;
    int threads = kern_set_threads(getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS")) : 0);
    char dir[] = "/tmp/syneg-bench-enc-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char vocab[600];
    snprintf(vocab, sizeof vocab, "%s/bert-base-uncased/vocab.txt", shared);
    if (write_model(dir, vocab)) return 1;
    sy_err err;
    enc_model *m = enc_load(dir, &err);
    if (!m) { fprintf(stderr, "%s\n", err.msg); return 1; }

    /* inputs: (a) 256 sequences of exactly 128 tokens, (b) cranfield abstracts, max 256 tokens */
    int n1 = 256, T1 = 128, n2 = 0, T2 = 256;
    int *ids1 = malloc((size_t)n1 * T1 * sizeof *ids1), *lens1 = malloc((size_t)n1 * sizeof *lens1);
    for (int i = 0; i < n1; i++) {
        lens1[i] = T1;
        for (int t = 0; t < T1; t++) ids1[(size_t)i * T1 + t] = t == 0 ? 101 : t == T1 - 1 ? 102 : 1000 + (int)((frand() + 1) * 14000);
    }
    char cp[600];
    snprintf(cp, sizeof cp, "%s/cranfield/corpus.jsonl", shared);
    size_t flen;
    char *f = sy_read_file(cp, &flen, &err);
    if (!f) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int cap2 = 512;
    int *ids2 = malloc((size_t)cap2 * T2 * sizeof *ids2), *lens2 = malloc((size_t)cap2 * sizeof *lens2);
    int32_t *tmp = malloc((size_t)T2 * sizeof *tmp);
    char *save = NULL;
    for (char *l = strtok_r(f, "\n", &save); l && n2 < cap2; l = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(l, 0, NULL);
        const char *txt = json_string_value(json_object_get(j, "text"));
        if (txt) {
            size_t k = tok_encode(m->tok, txt, strlen(txt), tmp, (size_t)T2, NULL);
            lens2[n2] = (int)k;
            for (int t = 0; t < T2; t++) ids2[(size_t)n2 * T2 + t] = t < (int)k ? tmp[t] : 0;
            n2++;
        }
        json_decref(j);
    }
    free(f);
    /* sort the mix by length (descending) as enc_embed does; both engines get the same order */
    {
        int *order = malloc((size_t)n2 * 2 * sizeof *order);
        for (int i = 0; i < n2; i++) { order[2 * i] = lens2[i]; order[2 * i + 1] = i; }
        qsort(order, (size_t)n2, 2 * sizeof *order, cmp_desc);
        int *ids2s = malloc((size_t)n2 * T2 * sizeof *ids2s), *lens2s = malloc((size_t)n2 * sizeof *lens2s);
        for (int i = 0; i < n2; i++) {
            int o = order[2 * i + 1];
            lens2s[i] = lens2[o];
            memcpy(ids2s + (size_t)i * T2, ids2 + (size_t)o * T2, (size_t)T2 * sizeof *ids2s);
        }
        free(ids2); free(lens2); free(order);
        ids2 = ids2s; lens2 = lens2s;
    }
    long tok2 = 0;
    for (int i = 0; i < n2; i++) tok2 += lens2[i];
    int C = enc_dim(m);
    float *out1 = malloc((size_t)n1 * C * 4), *out2 = malloc((size_t)n2 * C * 4);
    /* save inputs for the PyTorch peer */
    char p1[700], p2[700], l1[700], l2[700], o1[700], o2[700];
    snprintf(p1, sizeof p1, "%s/ids128.npy", dir); snprintf(l1, sizeof l1, "%s/lens128.npy", dir);
    snprintf(p2, sizeof p2, "%s/idsmix.npy", dir); snprintf(l2, sizeof l2, "%s/lensmix.npy", dir);
    snprintf(o1, sizeof o1, "%s/c128.npy", dir); snprintf(o2, sizeof o2, "%s/cmix.npy", dir);
    /* ids as float32 matrices (exact for ids < 2^24): npy_write_f32 is what we have */
    float *fi = malloc((size_t)(n2 > n1 ? n2 : n1) * T2 * 4);
    for (size_t i = 0; i < (size_t)n1 * T1; i++) fi[i] = (float)ids1[i];
    npy_write_f32(p1, fi, (size_t)n1, (size_t)T1, NULL);
    for (int i = 0; i < n1; i++) fi[i] = (float)lens1[i];
    npy_write_f32(l1, fi, (size_t)n1, 1, NULL);
    for (size_t i = 0; i < (size_t)n2 * T2; i++) fi[i] = (float)ids2[i];
    npy_write_f32(p2, fi, (size_t)n2, (size_t)T2, NULL);
    for (int i = 0; i < n2; i++) fi[i] = (float)lens2[i];
    npy_write_f32(l2, fi, (size_t)n2, 1, NULL);
    free(fi);

    /* warm up, then repeat passes for about `secs` seconds each */
    run_c(m, ids1, lens1, 32, T1, out1);
    double best1 = 1e30, best2 = 1e30, t_end = sy_now() + secs;
    do { double d = run_c(m, ids1, lens1, n1, T1, out1); if (d < best1) best1 = d; } while (sy_now() < t_end);
    t_end = sy_now() + secs;
    do { double d = run_c(m, ids2, lens2, n2, T2, out2); if (d < best2) best2 = d; } while (sy_now() < t_end);
    double c1 = n1 / best1, c2 = n2 / best2;
    npy_write_f32(o1, out1, (size_t)n1, (size_t)C, NULL);
    npy_write_f32(o2, out2, (size_t)n2, (size_t)C, NULL);
    printf("syneg encoder (MiniLM shape, fp32, %d threads): length 128: %.1f seq/s; "
           "cranfield mix (%d texts, mean %.0f tokens): %.1f seq/s\n",
           threads, c1, n2, (double)tok2 / n2, c2);
    fflush(stdout);

    /* the PyTorch peer */
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=PASSIVE %s tests/bench/bench_encoder_torch.py %s %d %g",
             py, dir, threads, secs);
    FILE *pp = popen(cmd, "r");
    double t1 = 0, t2 = 0, d1 = -1, d2 = -1;
    char line[1024];
    while (pp && fgets(line, sizeof line, pp)) {
        fputs(line, stdout);
        sscanf(line, "RESULT %lf %lf %lf %lf", &t1, &t2, &d1, &d2);
    }
    int prc = pp ? pclose(pp) : -1;
    if (t1 > 0 && t2 > 0) {
        printf("pytorch %s: length 128: %.1f seq/s; mix: %.1f seq/s; max |syneg - torch| cls %.2e / %.2e\n",
               "fp32", t1, t2, d1, d2);
        printf("RATIO encoder length-128 syneg/pytorch = %.2fx (target >= 1.3x)\n", c1 / t1);
        printf("RATIO encoder length-mix syneg/pytorch = %.2fx\n", c2 / t2);
    } else {
        printf("pytorch peer unavailable (exit %d); install python3-torch (make bench-deps)\n", prc);
    }
    enc_free(m);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(ids1); free(lens1); free(ids2); free(lens2); free(tmp); free(out1); free(out2);
    return 0;
}
