/* bench_train: one contrastive training step on the MiniLM shape (6 layers,
 * 384 hidden, 12 heads, 1536 intermediate, vocab 30522, random weights) at
 * the reference shape: 16 queries of 32 tokens + 16 positives + 16 hard
 * negatives of 128 tokens (batch 16, group 2), InfoNCE with in-batch
 * negatives, gradient clipping and AdamW -- syneg fp32 and bf16 (vdpbf16ps
 * products forward and backward, fp32 masters) against PyTorch fp32 and
 * PyTorch bf16 autocast (tests/bench/bench_train_torch.py, Debian
 * python3-torch) on the same weights, ids and thread count.  Each engine
 * trains its own copy from the same start; their steps ALTERNATE one by one
 * (the order rotates every round) and each figure is the MEDIAN step.  Peak
 * memory (max RSS) of both processes is reported (syneg's holds both of its
 * copies).  Environment: SHARED_DATA, BENCH_THREADS (default: all cores),
 * BENCH_PY (default /usr/bin/python3), BENCH_STEPS (timed steps, default 5,
 * after one warm-up step). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "encoder.h"
#include "kernels.h"
#include "kernels_bf16.h"
#include "tokenizer.h"
#include "train.h"
#include "train_ckpt.h"
#include "util.h"

enum { B = 16, G = 2, TQ = 32, TP = 128 };

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t nextr(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static float frand(void) { return (float)((nextr() >> 40) * (1.0 / 8388608.0)) - 1.0f; }
static int cmp_dbl(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp_dbl); return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

int main(void)
{
    const char *shared = getenv("SHARED_DATA");
    const char *py = getenv("BENCH_PY");
    const char *th = getenv("BENCH_THREADS");
    const char *st = getenv("BENCH_STEPS");
    int threads = kern_set_threads(th ? atoi(th) : 0);
    int steps = st ? atoi(st) : 5;
    if (steps < 1) steps = 1;
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/bert-base-uncased/vocab.txt", shared && *shared ? shared : "../shared/data");
    sy_err err = { 0 };
    enc_model *m = calloc(1, sizeof *m);
    m->tok = tok_load(vocab, &TOK_OPTS_UNCASED, &err);
    if (!m->tok) { fprintf(stderr, "bench_train: %s\n", err.msg); return 1; }
    m->cfg = (enc_config){ .vocab_size = 30522, .hidden = 384, .layers = 6, .heads = 12, .intermediate = 1536,
                           .max_position = 512, .type_vocab = 2, .ln_eps = 1e-12f, .model_type = "bert" };
    m->num_params = enc_params_layout(NULL, NULL, &m->cfg);
    m->params_memory = calloc(m->num_params, sizeof(float));
    enc_params_layout(&m->params, m->params_memory, &m->cfg);
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, &m->cfg);
    float **pp = (float **)&m->params;
    for (int i = 0; i < ENC_PARAM_TENSORS; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            pp[i][k] = (i == 3 || i == 9 || i == 15) ? 1.0f + 0.1f * frand() : 0.05f * frand();
    m->pooling = ENC_POOL_MEAN;
    m->normalize = 1;
    m->max_len = TP;
    char dir[] = "/tmp/syneg-bench-train-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    if (ckpt_write_hf(m, dir, TP, &err)) { fprintf(stderr, "bench_train: %s\n", err.msg); return 1; }
    int *qids = malloc(sizeof(int) * B * TQ), *pids = malloc(sizeof(int) * B * G * TP);
    int qlens[B], plens[B * G];
    json_t *jq = json_array(), *jp = json_array();
    for (int b = 0; b < B; b++) {
        qlens[b] = TQ;
        for (int t = 0; t < TQ; t++) {
            qids[b * TQ + t] = t == 0 ? 101 : t == TQ - 1 ? 102 : 1000 + (int)(nextr() % 29000);
            json_array_append_new(jq, json_integer(qids[b * TQ + t]));
        }
    }
    for (int b = 0; b < B * G; b++) {
        plens[b] = TP;
        for (int t = 0; t < TP; t++) {
            pids[b * TP + t] = t == 0 ? 101 : t == TP - 1 ? 102 : 1000 + (int)(nextr() % 29000);
            json_array_append_new(jp, json_integer(pids[b * TP + t]));
        }
    }
    json_t *ids = json_pack("{s:o, s:o, s:i, s:i, s:i, s:i}", "q", jq, "p", jp, "B", B, "G", G, "Tq", TQ, "Tp", TP);
    char idpath[200];
    snprintf(idpath, sizeof idpath, "%s/ids.json", dir);
    json_dump_file(ids, idpath, JSON_COMPACT);
    json_decref(ids);

    /* the PyTorch peer, started first and stepped in turn with ours (one
     * step each, alternating), so both see the same machine load; each side's
     * best step counts */
    char cmd[1200];
    /* the peer runs with OpenMP's default wait policy (its best: a short spin) */
    snprintf(cmd, sizeof cmd, "exec %s tests/bench/bench_train_torch.py %s %d 0",
             py && *py ? py : "/usr/bin/python3", dir, threads);
    int to[2], from[2];
    pid_t child = -1;
    FILE *tin = NULL, *tout = NULL;
    if (pipe(to) == 0 && pipe(from) == 0) {
        child = fork();
        if (child == 0) {
            dup2(to[0], 0);
            dup2(from[1], 1);
            close(to[1]);
            close(from[0]);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        close(to[0]);
        close(from[1]);
        tin = fdopen(to[1], "w");
        tout = fdopen(from[0], "r");
    }
    char line[1024];
    int peer = 0;
    while (tout && fgets(line, sizeof line, tout))
        if (!strncmp(line, "READY", 5)) { peer = 1; break; }
    printf("threads: syneg %d, %s", threads, peer ? line + 6 : "pytorch peer unavailable\n");
    printf("load before: ");
    fflush(stdout);
    if (system("uptime") != 0) printf("?\n");

    /* syneg's two engines: the model above (fp32) and a copy at bf16 */
    enc_model *m16 = calloc(1, sizeof *m16);
    *m16 = *m;
    m16->tok = NULL;
    m16->params_memory = malloc(m->num_params * sizeof(float));
    memcpy(m16->params_memory, m->params_memory, m->num_params * sizeof(float));
    enc_params_layout(&m16->params, m16->params_memory, &m16->cfg);
    m16->dir = m16->tf_dir = m16->dtype = m16->query_prefix = m16->passage_prefix = NULL;
    m16->dense = NULL;
    m16->prompt_names = m16->prompt_texts = NULL;
    int have16 = kbf_cpu_ok();
    if (have16 && enc_set_precision(m16, ENC_BF16, &err)) { fprintf(stderr, "bench_train: %s\n", err.msg); return 1; }
    if (!have16) printf("this CPU lacks avx512_bf16: syneg bf16 is not measured (it is refused there)\n");
    enc_model *ms[2] = { m, m16 };
    size_t np = m->num_params;
    float *grad = calloc(np, sizeof *grad), *am[2], *av[2];
    train_batch *tb[2];
    for (int e = 0; e < 2; e++) {
        am[e] = calloc(np, sizeof(float));
        av[e] = calloc(np, sizeof(float));
        tb[e] = train_batch_new(ms[e], B, G, TQ, TP, -1, 0.02, 1, &err);
        if (!tb[e]) { fprintf(stderr, "bench_train: %s\n", err.msg); return 1; }
    }
    /* engines: 0 syneg fp32, 1 syneg bf16, 2 pytorch fp32, 3 pytorch bf16 autocast */
    double *t[4], first_loss[4] = { 0 }, last_loss[4] = { 0 };
    long nstep[4] = { 0 };
    for (int e = 0; e < 4; e++) t[e] = calloc((size_t)steps + 1, sizeof(double));
    for (int r = 0; r <= steps; r++)   /* round 0 warms everything up */
        for (int q = 0; q < 4; q++) {
            int e = (q + r) % 4;
            double d = -1, loss = 0;
            if (e < 2) {
                if (e == 1 && !have16) continue;
                double t0 = sy_now();
                memset(grad, 0, np * sizeof *grad);
                if (train_batch_grad(tb[e], grad, qids, qlens, pids, plens, &loss, &err)) {
                    fprintf(stderr, "bench_train: %s\n", err.msg);
                    return 1;
                }
                train_clip(grad, np, 1.0);
                train_optimizer_step(ms[e], grad, am[e], av[e], 2e-5, 0.01, ++nstep[e]);
                d = sy_now() - t0;
            } else if (peer) {
                fprintf(tin, "step %s\n", e == 2 ? "fp32" : "bf16");
                fflush(tin);
                if (!fgets(line, sizeof line, tout) || sscanf(line, "STEP %lf %lf", &d, &loss) != 2) { peer = 0; continue; }
            } else {
                continue;
            }
            if (r == 0) first_loss[e] = loss;
            else t[e][r - 1] = d;
            last_loss[e] = loss;
        }
    for (int e = 0; e < 2; e++) train_batch_free(tb[e]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (tin) fclose(tin);   /* end of input: the peer prints RESULT and exits */
    double tmem = 0;
    while (tout && fgets(line, sizeof line, tout))
        if (sscanf(line, "RESULT %*f %lf", &tmem) == 1) break;
    if (tout) fclose(tout);
    int status = 0;
    if (child > 0) waitpid(child, &status, 0);
    const char *lbl[4] = { "syneg fp32", "syneg bf16", "pytorch fp32", "pytorch bf16 autocast" };
    double med[4];
    printf("\ntrain step, MiniLM shape, %d queries (%d tokens) + %d positives + %d negatives (%d tokens); "
           "median of %d alternated steps\n", B, TQ, B, B * (G - 1), TP, steps);
    for (int e = 0; e < 4; e++) {
        med[e] = median(t[e], steps);
        if ((e == 1 && !have16) || (e >= 2 && !peer)) continue;
        printf("  %-22s %6.2f s/step  %6.2f examples/s  %6.1f sequences/s  loss %.4f -> %.4f\n", lbl[e], med[e],
               B / med[e], (B + B * G) / med[e], first_loss[e], last_loss[e]);
    }
    printf("  peak RSS: syneg %.0f MiB (both copies), pytorch %.0f MiB (both copies)\n", ru.ru_maxrss / 1024.0, tmem);
    if (have16) printf("RATIO train syneg bf16 / syneg fp32 = %.2fx\n", med[0] / med[1]);
    if (peer) {
        printf("RATIO train syneg fp32 / pytorch fp32 = %.2fx\n", med[2] / med[0]);
        if (have16) printf("RATIO train syneg bf16 / pytorch bf16 autocast = %.2fx (target >= 1.5x)\n", med[3] / med[1]);
    } else {
        printf("pytorch peer unavailable (exit %d); install python3-torch (make bench-deps)\n", status);
    }
    printf("load after: ");
    fflush(stdout);
    if (system("uptime") != 0) printf("?\n");
    for (int e = 0; e < 4; e++) free(t[e]);
    for (int e = 0; e < 2; e++) { free(am[e]); free(av[e]); }
    enc_free(m16);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(grad); free(qids); free(pids);
    enc_free(m);
    return 0;
}
