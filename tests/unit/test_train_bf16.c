/* test_train_bf16: a training step at precision bf16 against fp32 on the same
 * model and batch (a random BERT of 2 layers, 128 hidden, 4 heads, 512
 * intermediate; 6 queries x (1 positive + 3 negatives), in-batch negatives):
 *   - the loss of one batch, and the whole gradient: relative L2 error and
 *     cosine against the fp32 gradient, overall and per Linear weight;
 *   - a loss curve of 12 AdamW steps from the same start: every step's loss
 *     within the stated tolerance of fp32's, and both curves going down;
 *   - the fp32 master weights: after a bf16 step the params are float32
 *     values that bf16 could not hold (the update is not rounded to bf16), and
 *     the packed bf16 weights follow the optimiser (re-packed each step).
 *
 * Tolerances (README, "Precision"): every product's inputs are rounded to 8
 * significant bits, ~2-3e-3 relative error per product (test_kernels_bf16);
 * a gradient passes through ~2 products per layer on the way back plus the
 * forward's, so we allow 3% relative L2 error on the whole gradient (cosine
 * >= 0.999) and 10% on any single weight matrix; a batch's loss within 1%,
 * and along the curve |loss_bf16 - loss_fp32| <= 1% of (loss_fp32 + 0.2)
 * (near zero loss the rounding of the scores, multiplied by 1/temperature,
 * dominates a relative measure).
 * Measured values are printed. */
#include <stdint.h>

#include "../check.h"
#include "encoder.h"
#include "kernels_bf16.h"
#include "train.h"

static enc_model *tiny_model(uint64_t seed, int V, int C, int L, int NH, int FF, int P)
{
    enc_model *m = calloc(1, sizeof *m);
    m->cfg = (enc_config){ .vocab_size = V, .hidden = C, .layers = L, .heads = NH, .intermediate = FF,
                           .max_position = P, .type_vocab = 2, .ln_eps = 1e-12f, .model_type = "bert" };
    m->num_params = enc_params_layout(NULL, NULL, &m->cfg);
    m->params_memory = calloc(m->num_params, sizeof(float));
    enc_params_layout(&m->params, m->params_memory, &m->cfg);
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, &m->cfg);
    float **pp = (float **)&m->params;
    for (int i = 0; i < ENC_PARAM_TENSORS; i++)
        for (size_t k = 0; k < sizes[i]; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            float u = (float)((seed >> 40) / (double)(1ull << 24)) * 2 - 1;
            int ln_w = i == 3 || i == 9 || i == 15;
            int mat = i == 5 || i == 7 || i == 11 || i == 13;
            size_t in = i == 13 ? (size_t)FF : (size_t)C;
            pp[i][k] = ln_w ? 1.0f + 0.1f * u : mat ? 1.7f * u / sqrtf((float)in) : 0.4f * u;
        }
    m->pooling = ENC_POOL_MEAN;
    m->normalize = 1;
    return m;
}

enum { V = 300, C = 128, L = 2, NH = 4, FF = 512, P = 64, B = 6, G = 4, TQ = 12, TP = 40 };
static int qids[B * TQ], qlens[B], pids[B * G * TP], plens[B * G];

static void make_batch(uint64_t s)
{
    for (int i = 0; i < B * TQ; i++) { s = s * 6364136223846793005ull + 1; qids[i] = 5 + (int)((s >> 33) % (V - 5)); }
    for (int i = 0; i < B * G * TP; i++) { s = s * 6364136223846793005ull + 1; pids[i] = 5 + (int)((s >> 33) % (V - 5)); }
    for (int b = 0; b < B; b++) qlens[b] = 4 + b % (TQ - 3);
    for (int i = 0; i < B * G; i++) plens[i] = 9 + (i * 7) % (TP - 8);
}

static double rel_l2(const float *a, const float *ref, size_t n, double *cos)
{
    double d = 0, r = 0, ab = 0, aa = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        r += (double)ref[i] * ref[i];
        ab += (double)a[i] * ref[i];
        aa += (double)a[i] * a[i];
    }
    if (cos) *cos = ab / sqrt(aa * r + 1e-300);
    return sqrt(d / (r + 1e-300));
}

TEST(gradient)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (bf16 training is refused there; fp32 is test_train)"); return; }
    make_batch(7);
    enc_model *m = tiny_model(11, V, C, L, NH, FF, P);
    float *g32 = calloc(m->num_params, sizeof *g32), *g16 = calloc(m->num_params, sizeof *g16);
    sy_err err;
    double l32, l16;
    CHECK(train_grad_tokens(m, g32, qids, qlens, B, TQ, pids, plens, G, TP, 0.05, 1, 0, &l32, &err) == 0, "%s", err.msg);
    CHECK(enc_set_precision(m, ENC_BF16, &err) == 0, "%s", err.msg);
    CHECK(train_grad_tokens(m, g16, qids, qlens, B, TQ, pids, plens, G, TP, 0.05, 1, 0, &l16, &err) == 0, "%s", err.msg);
    double cos, e = rel_l2(g16, g32, m->num_params, &cos);
    printf("# loss fp32 %.6f bf16 %.6f (rel %.1e); gradient rel L2 error %.2e, cosine %.6f\n", l32, l16,
           fabs(l16 - l32) / l32, e, cos);
    CHECK(fabs(l16 - l32) <= 0.01 * fabs(l32), "loss %g vs %g", l16, l32);
    CHECK(e < 0.03 && cos > 0.999, "gradient rel error %g cosine %g", e, cos);
    CHECK(e > 0, "bf16 gradient equals fp32 bit for bit: the bf16 path did not run");
    /* every Linear weight's gradient, and with gradient caching (chunks of 5) the same as without */
    enc_params a, r;
    enc_params_layout(&a, g16, &m->cfg);
    enc_params_layout(&r, g32, &m->cfg);
    const float *ga[4] = { a.qkv_w, a.attproj_w, a.fc_w, a.fcproj_w }, *gr[4] = { r.qkv_w, r.attproj_w, r.fc_w, r.fcproj_w };
    size_t n[4] = { (size_t)L * 3 * C * C, (size_t)L * C * C, (size_t)L * FF * C, (size_t)L * C * FF };
    const char *nm[4] = { "qkv", "attproj", "fc", "fcproj" };
    for (int k = 0; k < 4; k++) {
        double ek = rel_l2(ga[k], gr[k], n[k], NULL);
        printf("#   d%-8s rel L2 error %.2e\n", nm[k], ek);
        CHECK(ek < 0.10, "d%s rel error %g", nm[k], ek);
    }
    float *gc = calloc(m->num_params, sizeof *gc);
    double lc;
    CHECK(train_grad_tokens(m, gc, qids, qlens, B, TQ, pids, plens, G, TP, 0.05, 1, 5, &lc, &err) == 0, "%s", err.msg);
    CHECK(rel_l2(gc, g16, m->num_params, NULL) < 1e-5, "bf16 with gradient caching differs: %g", rel_l2(gc, g16, m->num_params, NULL));
    free(gc);
    free(g32); free(g16);
    enc_free(m);
}

TEST(loss_curve)
{
    if (!kbf_cpu_ok()) { SKIP("this CPU lacks avx512_bf16 (bf16 training is refused there; fp32 is test_train)"); return; }
    enc_model *m32 = tiny_model(23, V, C, L, NH, FF, P), *m16 = tiny_model(23, V, C, L, NH, FF, P);
    sy_err err;
    CHECK(enc_set_precision(m16, ENC_BF16, &err) == 0, "%s", err.msg);
    size_t np = m32->num_params;
    float *g = calloc(np, sizeof *g), *am32 = calloc(np, 4), *av32 = calloc(np, 4), *am16 = calloc(np, 4),
          *av16 = calloc(np, 4);
    enum { STEPS = 12 };
    double c32[STEPS], c16[STEPS], worst = 0;
    for (int s = 0; s < STEPS; s++) {
        make_batch(100 + (uint64_t)(s % 3));   /* three batches in turn */
        memset(g, 0, np * sizeof *g);
        CHECK(train_grad_tokens(m32, g, qids, qlens, B, TQ, pids, plens, G, TP, 0.05, 1, 0, &c32[s], &err) == 0, "%s", err.msg);
        train_optimizer_step(m32, g, am32, av32, 3e-4, 0.01, s + 1);
        memset(g, 0, np * sizeof *g);
        CHECK(train_grad_tokens(m16, g, qids, qlens, B, TQ, pids, plens, G, TP, 0.05, 1, 0, &c16[s], &err) == 0, "%s", err.msg);
        train_optimizer_step(m16, g, am16, av16, 3e-4, 0.01, s + 1);
        /* relative, with a floor: near zero loss the bf16 rounding of the
         * scores (temperature 0.05 multiplies them by 20) dominates */
        double d = fabs(c16[s] - c32[s]) / (fabs(c32[s]) + 0.2);
        if (d > worst) worst = d;
        printf("#   step %2d loss fp32 %.5f bf16 %.5f\n", s + 1, c32[s], c16[s]);
    }
    printf("# loss curve, 12 AdamW steps (lr 3e-4): fp32 %.4f -> %.4f, bf16 %.4f -> %.4f; worst step |diff| / (loss + 0.2) %.2e\n",
           c32[0], c32[STEPS - 1], c16[0], c16[STEPS - 1], worst);
    CHECK(worst <= 0.01, "a step's loss differs by %g of (loss + 0.2)", worst);
    CHECK(c32[STEPS - 1] < 0.8 * c32[0] && c16[STEPS - 1] < 0.8 * c16[0], "both curves go down: %g -> %g, %g -> %g",
          c32[0], c32[STEPS - 1], c16[0], c16[STEPS - 1]);
    /* the masters are float32: some parameter is not a bf16 value */
    size_t not_bf16 = 0;
    for (size_t i = 0; i < np; i++) not_bf16 += kbf_to_float(kbf_round(m16->params_memory[i])) != m16->params_memory[i];
    CHECK(not_bf16 > np / 2, "only %zu of %zu parameters are off the bf16 grid: masters rounded?", not_bf16, np);
    /* the packed weights follow the optimiser: a fresh pack of the current
     * masters gives the same forward as the re-packed one */
    float *fresh = calloc(np, sizeof *fresh), *cur = calloc(np, sizeof *cur);
    double lf, lcur;
    CHECK(train_grad_tokens(m16, cur, qids, qlens, B, TQ, pids, plens, G, TP, 0.05, 1, 0, &lcur, &err) == 0, "%s", err.msg);
    enc_set_precision(m16, ENC_FP32, &err);
    CHECK(enc_set_precision(m16, ENC_BF16, &err) == 0, "%s", err.msg);
    CHECK(train_grad_tokens(m16, fresh, qids, qlens, B, TQ, pids, plens, G, TP, 0.05, 1, 0, &lf, &err) == 0, "%s", err.msg);
    CHECK(lf == lcur && memcmp(fresh, cur, np * sizeof *cur) == 0, "stale packed weights: loss %.9g vs fresh %.9g", lcur, lf);
    free(fresh); free(cur);
    free(g); free(am32); free(av32); free(am16); free(av16);
    enc_free(m32);
    enc_free(m16);
}

int main(void)
{
    RUN(gradient);
    RUN(loss_curve);
    return check_done();
}
