/* bench_train: training throughput of one contrastive step on the MiniLM
 * shape (6 layers, 384 hidden, 12 heads, 1536 intermediate, vocab 30522,
 * random weights): batch 16 queries of 32 tokens, group 8 (128 passages of
 * 128 tokens), InfoNCE with in-batch negatives, gradient clipping and AdamW,
 * in examples (queries) per second, against the same step in PyTorch
 * (tests/bench/bench_train_torch.py, Debian python3-torch) on the same
 * weights, ids and thread count, measured in this run: the two alternate
 * step by step so they share the machine's load, and each side's best step
 * counts.  Peak memory (max RSS)
 * of both is reported.  Environment: SHARED_DATA, BENCH_THREADS (default: all
 * cores), BENCH_PY (default /usr/bin/python3), BENCH_STEPS (default 3). */
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
#include "tokenizer.h"
#include "train.h"
#include "train_ckpt.h"
#include "util.h"

enum { B = 16, G = 8, TQ = 32, TP = 128 };

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t nextr(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static float frand(void) { return (float)((nextr() >> 40) * (1.0 / 8388608.0)) - 1.0f; }

int main(void)
{
    const char *shared = getenv("SHARED_DATA");
    const char *py = getenv("BENCH_PY");
    const char *th = getenv("BENCH_THREADS");
    const char *st = getenv("BENCH_STEPS");
    int threads = kern_set_threads(th ? atoi(th) : 0);
    int steps = st ? atoi(st) : 3;
    if (steps < 1) steps = 1;
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/bert-base-uncased/vocab.txt", shared && *shared ? shared : "../shared/data");
    sy_err err = { 0 };
    enc_model *m = calloc(1, sizeof *m);
    m->tok = tok_load(vocab, &TOK_OPTS_UNCASED, &err);
    if (!m->tok) { fprintf(stderr, "bench_train: %s\n", err.msg); return 1; }
    m->cfg = (enc_config){ 30522, 384, 6, 12, 1536, 512, 2, 1e-12f };
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
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=PASSIVE exec %s tests/bench/bench_train_torch.py %s %d 0",
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

    size_t np = m->num_params;
    float *grad = calloc(np, sizeof *grad), *am = calloc(np, sizeof *am), *av = calloc(np, sizeof *av);
    double best = 1e30, loss = 0, tbest = 1e30, tloss = 0, tmem = 0;
    train_batch *tb = train_batch_new(m, B, G, TQ, TP, -1, 0.02, 1, &err);
    if (!tb) { fprintf(stderr, "bench_train: %s\n", err.msg); return 1; }
    for (int s = 0; s <= steps; s++) {   /* step 0 warms both up */
        double t0 = sy_now();
        memset(grad, 0, np * sizeof *grad);
        if (train_batch_grad(tb, grad, qids, qlens, pids, plens, &loss, &err)) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            return 1;
        }
        train_clip(grad, np, 1.0);
        train_optimizer_step(m, grad, am, av, 2e-5, 0.01, s + 1);
        double d = sy_now() - t0;
        if (s > 0 && d < best) best = d;
        if (peer) {
            fputs("step\n", tin);
            fflush(tin);
            double td = 0;
            if (!fgets(line, sizeof line, tout) || sscanf(line, "STEP %lf %lf", &td, &tloss) != 2) peer = 0;
            else if (s > 0 && td < tbest) tbest = td;
        }
    }
    train_batch_free(tb);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double ours = B / best;
    printf("syneg train step (MiniLM shape, batch %d, group %d, q %d / p %d tokens, %d threads): "
           "%.2f s/step, %.2f examples/s, %.1f passages+queries/s, peak RSS %.0f MiB, loss %.4f\n",
           B, G, TQ, TP, threads, best, ours, (B + B * G) / best, ru.ru_maxrss / 1024.0, loss);
    if (tin) fclose(tin);   /* end of input: the peer prints RESULT and exits */
    while (tout && fgets(line, sizeof line, tout))
        if (sscanf(line, "RESULT %*f %lf", &tmem) == 1) break;
    if (tout) fclose(tout);
    int status = 0;
    if (child > 0) waitpid(child, &status, 0);
    if (peer && tbest < 1e30) {
        printf("pytorch train step: %.2f s/step, %.2f examples/s, peak RSS %.0f MiB, loss %.4f\n", tbest, B / tbest, tmem, tloss);
        printf("RATIO train examples/s syneg/pytorch = %.2fx (target >= 1.2x)\n", ours / (B / tbest));
        printf("RATIO train peak memory syneg/pytorch = %.2fx\n", (ru.ru_maxrss / 1024.0) / tmem);
    } else {
        printf("pytorch peer unavailable (exit %d); install python3-torch (make bench-deps)\n", status);
    }
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(grad); free(am); free(av); free(qids); free(pids);
    enc_free(m);
    return 0;
}
