/* bench_encoder: encoder forward throughput of a MiniLM-shaped BERT (6
 * layers, 384 hidden, 12 heads, 1536 intermediate, random weights) in
 * sequences/s, syneg fp32 and bf16 against PyTorch fp32 and PyTorch bf16
 * autocast (tests/bench/bench_encoder_torch.py, Debian python3-torch for
 * /usr/bin/python3) on the same token ids, batches, weights and thread count.
 * Workloads: the reference shape, batches of 32 sequences of 128 tokens; and
 * Cranfield abstracts (max 256 tokens, length-sorted, 8192-token batches as
 * enc_embed forms them).  The four engines' passes ALTERNATE round by round
 * (the order rotates), the PyTorch peer running as a server over a pipe, and
 * each figure is the MEDIAN over the rounds.  Also printed: GFLOP/s and the
 * share of the machine's peak, and how far each bf16 output is from its fp32
 * twin (cosine).
 * Environment: SHARED_DATA, BENCH_THREADS (default: all cores), BENCH_PY
 * (default /usr/bin/python3), BENCH_ROUNDS (default 5), BENCH_N128 (sequences
 * of 128 tokens per pass, default 64), BENCH_NMIX (Cranfield texts per pass,
 * default 96), BENCH_PEAK_FP32 / BENCH_PEAK_BF16 (GFLOP/s of the whole
 * machine, default 115 / 226 per thread: this CPU's 1 / 2 zmm FMAs a cycle). */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "encoder.h"
#include "kernels.h"
#include "kernels_bf16.h"
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

/* One pass: batches of `batch` sequences (0: an 8192-token budget) over
 * ids[n, T] (lens[n], sorted by length, descending); [CLS] vectors to out[n, C].
 * Returns seconds. */
static double run_c(const enc_model *m, const int *ids, const int *lens, int n, int T, int batch, float *out)
{
    int C = enc_dim(m), budget = 8192;
    size_t need = enc_acts_layout(NULL, NULL, &m->cfg, 1, budget, 0);
    float *mem = malloc(need * 4);
    int *bids = malloc((size_t)budget * sizeof *bids);
    double t0 = sy_now();
    for (int i = 0; i < n;) {
        int bT = lens[i], bB = batch > 0 ? batch : budget / bT;
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
static int cmp_dbl(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp_dbl); return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

/* the PyTorch server: write commands, read one line back */
typedef struct { FILE *to, *from; pid_t pid; } peer;

static int peer_start(peer *p, const char *py, const char *dir, int threads)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return -1;
    p->pid = fork();
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]); close(out[0]);
        char th[16];
        snprintf(th, sizeof th, "%d", threads);
        execl(py, py, "tests/bench/bench_encoder_torch.py", dir, th, (char *)NULL);
        _exit(127);
    }
    close(in[0]); close(out[1]);
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    return p->to && p->from ? 0 : -1;
}

static int peer_ask(peer *p, const char *cmd, char *line, size_t n)
{
    fprintf(p->to, "%s\n", cmd);
    fflush(p->to);
    return fgets(line, (int)n, p->from) ? 0 : -1;
}

static double peer_time(peer *p, const char *name, const char *prec)
{
    char cmd[64], line[256];
    double t = -1;
    snprintf(cmd, sizeof cmd, "run %s %s", name, prec);
    if (peer_ask(p, cmd, line, sizeof line) || sscanf(line, "TIME %lf", &t) != 1) return -1;
    return t;
}

static void peer_stop(peer *p)
{
    if (p->to) { fprintf(p->to, "quit\n"); fclose(p->to); }
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
}

/* min and mean cosine of rows of a and b [n, D] */
static void cosines(const float *a, const float *b, int n, int D, double *mn, double *mean)
{
    *mn = 1; *mean = 0;
    for (int i = 0; i < n; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int d = 0; d < D; d++) {
            double x = a[(size_t)i * D + d], y = b[(size_t)i * D + d];
            ab += x * y; aa += x * x; bb += y * y;
        }
        double c = ab / sqrt(aa * bb + 1e-300);
        if (c < *mn) *mn = c;
        *mean += c / n;
    }
}

static float *read_npy(const char *dir, const char *name, int n, int D)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    npy_array a;
    sy_err err;
    if (npy_read(path, &a, &err)) { fprintf(stderr, "%s\n", err.msg); return NULL; }
    if (a.n != (size_t)n * D) { npy_free(&a); return NULL; }
    float *v = malloc(a.n * sizeof *v);
    memcpy(v, a.data, a.n * sizeof *v);
    npy_free(&a);
    return v;
}

typedef struct {
    const char *name;
    int *ids, *lens, n, T, batch;
    double gflop;        /* per pass */
} workload;

static void save_inputs(const char *dir, const workload *w)
{
    char p[700];
    float *f = malloc((size_t)w->n * w->T * sizeof *f);
    for (size_t i = 0; i < (size_t)w->n * w->T; i++) f[i] = (float)w->ids[i];   /* exact below 2^24 */
    snprintf(p, sizeof p, "%s/ids%s.npy", dir, w->name);
    npy_write_f32(p, f, (size_t)w->n, (size_t)w->T, NULL);
    for (int i = 0; i < w->n; i++) f[i] = (float)w->lens[i];
    snprintf(p, sizeof p, "%s/lens%s.npy", dir, w->name);
    npy_write_f32(p, f, (size_t)w->n, 1, NULL);
    free(f);
    snprintf(p, sizeof p, "%s/batch%s.txt", dir, w->name);
    char b[16];
    snprintf(b, sizeof b, "%d", w->batch);
    sy_write_file_atomic(p, b, strlen(b), NULL);
}

/* forward flops of one sequence of length T: the Linear products and the
 * two attention products (2 T^2 C each) */
static double seq_flops(const enc_config *c, int T)
{
    double C = c->hidden, I = c->intermediate;
    return c->layers * (2.0 * T * (4 * C * C + 2 * C * I) + 4.0 * T * T * C);
}

int main(void)
{
    const char *shared = getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data";
    const char *py = getenv("BENCH_PY") ? getenv("BENCH_PY") : "/usr/bin/python3";
    int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 5;
    int n1 = getenv("BENCH_N128") ? atoi(getenv("BENCH_N128")) : 64;
    int nmix = getenv("BENCH_NMIX") ? atoi(getenv("BENCH_NMIX")) : 96;
    int threads = kern_set_threads(getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS")) : 0);
    double peak32 = getenv("BENCH_PEAK_FP32") ? atof(getenv("BENCH_PEAK_FP32")) : 115.0 * threads;
    double peak16 = getenv("BENCH_PEAK_BF16") ? atof(getenv("BENCH_PEAK_BF16")) : 226.0 * threads;
    if (rounds < 1) rounds = 1;
    char dir[] = "/tmp/syneg-bench-enc-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char vocab[600];
    snprintf(vocab, sizeof vocab, "%s/bert-base-uncased/vocab.txt", shared);
    if (write_model(dir, vocab)) return 1;
    sy_err err;
    enc_model *m32 = enc_load(dir, &err), *m16 = enc_load(dir, &err);
    if (!m32 || !m16) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int have16 = kbf_cpu_ok();
    if (have16 && enc_set_precision(m16, ENC_BF16, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    if (!have16) printf("this CPU lacks avx512_bf16: syneg bf16 is not measured (it is refused there)\n");

    /* (a) n1 sequences of exactly 128 tokens, batches of 32 */
    workload w[2] = { { .name = "128", .n = n1, .T = 128, .batch = 32 }, { .name = "mix", .T = 256 } };
    w[0].ids = malloc((size_t)n1 * 128 * sizeof(int));
    w[0].lens = malloc((size_t)n1 * sizeof(int));
    for (int i = 0; i < n1; i++) {
        w[0].lens[i] = 128;
        for (int t = 0; t < 128; t++) w[0].ids[(size_t)i * 128 + t] = t == 0 ? 101 : t == 127 ? 102 : 1000 + (int)((frand() + 1) * 14000);
    }
    /* (b) Cranfield abstracts, max 256 tokens, sorted by length as enc_embed does */
    char cp[600];
    snprintf(cp, sizeof cp, "%s/cranfield/corpus.jsonl", shared);
    size_t flen;
    char *f = sy_read_file(cp, &flen, &err);
    if (!f) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int T2 = 256, n2 = 0;
    int *ids2 = malloc((size_t)nmix * T2 * sizeof *ids2), *lens2 = malloc((size_t)nmix * sizeof *lens2);
    int32_t *tmp = malloc((size_t)T2 * sizeof *tmp);
    char *save = NULL;
    for (char *l = strtok_r(f, "\n", &save); l && n2 < nmix; l = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(l, 0, NULL);
        const char *txt = json_string_value(json_object_get(j, "text"));
        if (txt) {
            size_t k = tok_encode(m32->tok, txt, strlen(txt), tmp, (size_t)T2, NULL);
            lens2[n2] = (int)k;
            for (int t = 0; t < T2; t++) ids2[(size_t)n2 * T2 + t] = t < (int)k ? tmp[t] : 0;
            n2++;
        }
        json_decref(j);
    }
    free(f);
    free(tmp);
    int *order = malloc((size_t)n2 * 2 * sizeof *order);
    for (int i = 0; i < n2; i++) { order[2 * i] = lens2[i]; order[2 * i + 1] = i; }
    qsort(order, (size_t)n2, 2 * sizeof *order, cmp_desc);
    w[1].ids = malloc((size_t)n2 * T2 * sizeof(int));
    w[1].lens = malloc((size_t)n2 * sizeof(int));
    w[1].n = n2;
    long tok2 = 0;
    for (int i = 0; i < n2; i++) {
        int o = order[2 * i + 1];
        w[1].lens[i] = lens2[o];
        tok2 += lens2[o];
        memcpy(w[1].ids + (size_t)i * T2, ids2 + (size_t)o * T2, (size_t)T2 * sizeof(int));
    }
    free(ids2); free(lens2); free(order);
    for (int k = 0; k < 2; k++) {
        w[k].gflop = 0;
        for (int i = 0; i < w[k].n; i++) w[k].gflop += seq_flops(&m32->cfg, w[k].lens[i]) * 1e-9;
        save_inputs(dir, &w[k]);
    }

    peer p = { 0 };
    char line[512];
    int have_peer = peer_start(&p, py, dir, threads) == 0 && fgets(line, sizeof line, p.from) &&
                    !strncmp(line, "READY", 5);
    printf("threads: syneg %d, %s", threads, have_peer ? line + 6 : "pytorch peer unavailable\n");
    printf("load before: ");
    fflush(stdout);
    if (system("uptime") != 0) printf("?\n");

    int C = enc_dim(m32);
    for (int k = 0; k < 2; k++) {
        workload *x = &w[k];
        float *o32 = malloc((size_t)x->n * C * 4), *o16 = malloc((size_t)x->n * C * 4);
        /* warm-up and the outputs compared below */
        run_c(m32, x->ids, x->lens, x->n, x->T, x->batch, o32);
        if (have16) run_c(m16, x->ids, x->lens, x->n, x->T, x->batch, o16);
        if (have_peer) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "save %s fp32", x->name);
            peer_ask(&p, cmd, line, sizeof line);
            snprintf(cmd, sizeof cmd, "save %s bf16", x->name);
            peer_ask(&p, cmd, line, sizeof line);
        }
        double *t[4];
        for (int e = 0; e < 4; e++) t[e] = calloc((size_t)rounds, sizeof(double));
        int ok_peer = have_peer;
        for (int r = 0; r < rounds; r++)
            for (int q = 0; q < 4; q++) {
                int e = (q + r) % 4;   /* 0 syneg fp32, 1 syneg bf16, 2 torch fp32, 3 torch bf16 */
                if (e == 0) t[0][r] = run_c(m32, x->ids, x->lens, x->n, x->T, x->batch, o32);
                else if (e == 1) t[1][r] = have16 ? run_c(m16, x->ids, x->lens, x->n, x->T, x->batch, o16) : -1;
                else if (ok_peer) {
                    t[e][r] = peer_time(&p, x->name, e == 2 ? "fp32" : "bf16");
                    if (t[e][r] < 0) ok_peer = 0;
                }
            }
        double med[4];
        for (int e = 0; e < 4; e++) med[e] = median(t[e], rounds);
        const char *lbl[4] = { "syneg fp32", "syneg bf16", "pytorch fp32", "pytorch bf16 autocast" };
        if (k == 0)
            printf("\n[%s] %d sequences of 128 tokens in batches of 32; median of %d alternated rounds\n", x->name, x->n, rounds);
        else
            printf("\n[%s] %d Cranfield abstracts (mean %.0f tokens, max %d), 8192-token batches; median of %d rounds\n",
                   x->name, x->n, (double)tok2 / x->n, x->lens[0], rounds);
        for (int e = 0; e < 4; e++) {
            if ((e == 1 && !have16) || (e >= 2 && !ok_peer)) continue;
            double gf = x->gflop / med[e], pk = e == 1 || e == 3 ? peak16 : peak32;
            printf("  %-22s %8.1f seq/s  %6.1f GFLOP/s  %4.0f%% of the %s peak (%.0f)\n", lbl[e], x->n / med[e], gf,
                   100 * gf / pk, e == 1 || e == 3 ? "bf16" : "fp32", pk);
        }
        if (have16) printf("RATIO encoder-%s syneg bf16 / syneg fp32 = %.2fx\n", x->name, med[0] / med[1]);
        if (ok_peer) {
            printf("RATIO encoder-%s syneg fp32 / pytorch fp32 = %.2fx\n", x->name, med[2] / med[0]);
            if (have16)
                printf("RATIO encoder-%s syneg bf16 / pytorch bf16 autocast = %.2fx (target >= 1.5x)\n", x->name,
                       med[3] / med[1]);
            float *t32 = NULL, *t16 = NULL;
            char nm[64];
            snprintf(nm, sizeof nm, "t%s_fp32.npy", x->name);
            t32 = read_npy(dir, nm, x->n, C);
            snprintf(nm, sizeof nm, "t%s_bf16.npy", x->name);
            t16 = read_npy(dir, nm, x->n, C);
            double mn, mean, maxd = 0;
            if (t32) {
                for (size_t i = 0; i < (size_t)x->n * C; i++) maxd = fmax(maxd, fabs((double)o32[i] - t32[i]));
                printf("  parity: syneg fp32 vs pytorch fp32 max |diff| %.2e\n", maxd);
            }
            if (t32 && have16) {
                cosines(o16, t32, x->n, C, &mn, &mean);
                printf("  parity: syneg bf16 vs pytorch fp32 cosine min %.6f mean %.6f\n", mn, mean);
            }
            if (t32 && t16) {
                cosines(t16, t32, x->n, C, &mn, &mean);
                printf("  parity: pytorch bf16 vs pytorch fp32 cosine min %.6f mean %.6f\n", mn, mean);
            }
            free(t32); free(t16);
        }
        fflush(stdout);
        for (int e = 0; e < 4; e++) free(t[e]);
        free(o32); free(o16);
    }
    if (have_peer) peer_stop(&p);
    printf("load after: ");
    fflush(stdout);
    if (system("uptime") != 0) printf("?\n");
    enc_free(m32);
    enc_free(m16);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    for (int k = 0; k < 2; k++) { free(w[k].ids); free(w[k].lens); }
    return 0;
}
