/* train_step: the gradient of one batch (forward with cached activations,
 * InfoNCE, the encoder's backward mirroring enc_forward) and the optimiser.
 * Part of the train module (train.h); shared state in train_int.h. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels.h"
#include "kernels_bwd.h"
#include "kernels_bf16.h"
#include "parfor.h"
#include "tokenizer.h"
#include "train_int.h"

/* ---- optimiser pieces ----------------------------------------------------- */

double train_lr_at(double lr, long step, long total, long warm)
{
    if (warm > 0 && step < warm) return lr * (double)(step + 1) / (double)warm;
    if (total <= warm) return lr;
    double f = (double)(total - step) / (double)(total - warm);
    return f > 0 ? lr * f : 0.0;
}

typedef struct {
    float *p, *m, *v, *g;
    const float *cg;
    float lr, b1, b2, eps, wd, c1, c2;
    size_t n, chunk;
    double *part;
    float k;
} opt_ctx;

static void adamw_part(void *x, size_t lo, size_t hi, int part)
{
    (void)part;
    const opt_ctx *c = x;
    float *p = c->p, *m = c->m, *v = c->v;
    const float *g = c->cg;
    float b1 = c->b1, b2 = c->b2, c1 = c->c1, c2 = c->c2, lr = c->lr, eps = c->eps, wd = c->wd;
    for (size_t i = lo; i < hi; i++) {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        float mh = mi / c1, vh = vi / c2;
        p[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * p[i]);
    }
}

/* Elementwise, so splitting it over the kernels' threads changes no bit. */
void train_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                 float b2, float eps, float wd, long t)
{
    opt_ctx c = { .p = p, .m = m, .v = v, .cg = g, .lr = lr, .b1 = b1, .b2 = b2, .eps = eps, .wd = wd,
                  .c1 = 1.0f - powf(b1, (float)t), .c2 = 1.0f - powf(b2, (float)t) };
    int nt = kern_threads();
    sy_par_for(n, sy_par_parts(n, nt < 16 ? nt : 16, 20.0), adamw_part, &c);
}

/* The squared norm is summed in fixed chunks (each in order, in double) and
 * the chunks in order, so the norm does not depend on the thread count. */
#define CLIP_CHUNKS 256
static void sumsq_part(void *x, size_t lo, size_t hi, int part)
{
    (void)part;
    const opt_ctx *c = x;
    for (size_t b = lo; b < hi; b++) {
        size_t i0 = b * c->chunk, i1 = i0 + c->chunk < c->n ? i0 + c->chunk : c->n;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)c->g[i] * c->g[i];
        c->part[b] = s;
    }
}

static void scale_part(void *x, size_t lo, size_t hi, int part)
{
    (void)part;
    const opt_ctx *c = x;
    for (size_t i = lo; i < hi; i++) c->g[i] *= c->k;
}

double train_clip(float *g, size_t n, double clip)
{
    double part[CLIP_CHUNKS];
    opt_ctx c = { .g = g, .n = n, .part = part };
    c.chunk = (n + CLIP_CHUNKS - 1) / CLIP_CHUNKS;
    if (c.chunk < 4096) c.chunk = 4096;
    size_t nb = (n + c.chunk - 1) / c.chunk;
    int nt = kern_threads();
    nt = nt < 16 ? nt : 16;
    sy_par_for(nb, sy_par_parts(nb, nt, 2.0 * (double)c.chunk), sumsq_part, &c);
    double s = 0;
    for (size_t b = 0; b < nb; b++) s += part[b];
    double norm = sqrt(s);
    if (clip > 0 && norm > clip) {
        c.k = (float)(clip / (norm + 1e-6));
        sy_par_for(n, sy_par_parts(n, nt, 1.0), scale_part, &c);
    }
    return norm;
}

void train_state_free(trainer *t)
{
    mix_free(t->mix);
    enc_free(t->m);
    free(t->grad); free(t->am); free(t->av);
    free(t->pairs); free(t->perm);
    free(t->ids_q); free(t->lens_q); free(t->ids_p); free(t->lens_p);
    free(t->acts_q); free(t->acts_p);
    free(t->qemb); free(t->pemb); free(t->qnorm); free(t->pnorm); free(t->dq); free(t->dp);
    free(t->dpool);
    free(t->d1); free(t->d2); free(t->dI1); free(t->dqkv); free(t->dlast);
    free(t->valid); free(t->inst);
    kbf_mat_free(t->kscratch);
    sy_buf_free(&t->text);
    for (size_t i = 0; i < t->ndoc_texts; i++) free(t->doc_texts[i]);
    free(t->doc_texts);
    free(t->eval_docs);
    if (t->s) session_close(t->s);
    free(t->session_dir);
    free(t->run_dir);
}

float *train_falloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

/* ---- buffers ---- */

static size_t acts_floats(const enc_config *cfg, int B, int T)
{
    enc_acts a;
    return enc_acts_layout(&a, NULL, cfg, B, T, 1);
}

int train_alloc_buffers(trainer *t, sy_err *err)
{
    const enc_config *cfg = &t->m->cfg;
    const train_opts *o = &t->o;
    t->B = (int)((size_t)o->batch < t->ninst ? (size_t)o->batch : t->ninst);
    t->G = o->group;
    t->P = t->B * t->G;
    size_t budget = (size_t)o->act_budget_mb << 20;
    if (o->act_budget_mb <= 0) {   /* auto: a quarter of physical memory, 256 MiB .. 4 GiB */
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        budget = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz / 4 : (size_t)1 << 30;
        if (budget > (size_t)4 << 30) budget = (size_t)4 << 30;
        if (budget < (size_t)256 << 20) budget = (size_t)256 << 20;
    }
    int chunk = t->P;
    while (chunk > 1 && acts_floats(cfg, chunk, o->max_len_p) * sizeof(float) > budget) chunk = (chunk + 1) / 2;
    t->chunk = chunk;
    int C = cfg->hidden, FF = cfg->intermediate;
    size_t nq = (size_t)t->B * o->max_len_q, np = (size_t)chunk * o->max_len_p;
    size_t maxN = nq > np ? nq : np;
    t->ids_q = calloc(nq, sizeof(int));
    t->lens_q = calloc((size_t)t->B, sizeof(int));
    t->ids_p = calloc((size_t)t->P * o->max_len_p, sizeof(int));
    t->lens_p = calloc((size_t)t->P, sizeof(int));
    t->acts_q = train_falloc(acts_floats(cfg, t->B, o->max_len_q));
    t->acts_p = train_falloc(acts_floats(cfg, chunk, o->max_len_p));
    t->qemb = train_falloc((size_t)t->B * C);
    t->pemb = train_falloc((size_t)t->P * C);
    t->qnorm = train_falloc((size_t)t->B);
    t->pnorm = train_falloc((size_t)t->P);
    t->dq = train_falloc((size_t)t->B * C);
    t->dp = train_falloc((size_t)t->P * C);
    t->dpool = train_falloc((size_t)t->P * C);
    t->d1 = train_falloc(maxN * C);
    t->d2 = train_falloc(maxN * C);
    t->dlast = train_falloc(maxN * C);
    t->dI1 = train_falloc(maxN * FF);
    t->dqkv = train_falloc(maxN * 3 * C);
    t->valid = malloc((size_t)t->B * t->P);
    t->inst = calloc((size_t)t->B, sizeof *t->inst);
    if (!t->ids_q || !t->lens_q || !t->ids_p || !t->lens_p || !t->acts_q || !t->acts_p ||
        !t->qemb || !t->pemb || !t->qnorm || !t->pnorm || !t->dq || !t->dp || !t->dpool ||
        !t->d1 || !t->d2 || !t->dlast || !t->dI1 || !t->dqkv || !t->valid || !t->inst)
        return sy_fail(err, SY_ENOMEM, "out of memory for training buffers; lower --batch, --group or --max-len");
    return 0;
}

/* ---- forward helpers ---- */

static int max_len_of(const int *lens, int n)
{
    int T = 1;
    for (int i = 0; i < n; i++)
        if (lens[i] > T) T = lens[i];
    return T;
}

/* Pack n sequences (ids rows of stride `stride`) into a [n, T] block. */
static void pack(int *dst, const int *src, const int *lens, int n, int T, int stride, int pad)
{
    for (int b = 0; b < n; b++)
        for (int j = 0; j < T; j++)
            dst[(size_t)b * T + j] = j < lens[b] ? src[(size_t)b * stride + j] : pad;
}

/* Forward n sequences with activations cached in base; pooled + normalised
 * embeddings to emb[n,C], norms to norm[n].  *acts receives the layout. */
static int forward_cached(trainer *t, float *base, enc_acts *acts, int *packed, const int *lens,
                          int n, int T, float *emb, float *norm, sy_err *err)
{
    const enc_model *m = t->m;
    int C = m->cfg.hidden;
    enc_acts_layout(acts, base, &m->cfg, n, T, 1);
    if (enc_forward(m, acts, packed, lens, n, T, 1, err)) return -1;
    float *h = enc_acts_output(acts, &m->cfg, n, T, 1);
    if (m->pooling == ENC_POOL_MEAN) pool_mean_forward(emb, h, lens, n, T, C);
    else pool_cls_forward(emb, h, n, T, C);
    l2norm_forward(emb, norm, n, C);
    return 0;
}

/* matmul_backward in the model's precision: at bf16 the two products take
 * bf16 operands with float32 sums (kernels_bf16.h); the gradients themselves,
 * the fp32 master weights and the optimiser state stay float32. */
static int mm_bwd(trainer *t, int dinp_acc, float *dinp, float *dw, float *db, const float *dout,
                  const float *inp, const float *w, int N, int C, int OC)
{
    if (t->m->precision == ENC_BF16)
        return kbf_matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC, &t->kscratch, dinp_acc);
    if (!dinp_acc && dinp) memset(dinp, 0, (size_t)N * C * sizeof *dinp);
    matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC);
    return 0;
}

/* The backward of enc_forward (all_layers=1), given dout = d last_hidden_state
 * [B,T,C] (overwritten).  Gradients accumulate into t->g. */
static int encoder_backward(trainer *t, const enc_acts *a, float *dout, const int *ids,
                            const int *lens, int B, int T)
{
    const enc_config *cfg = &t->m->cfg;
    const enc_params *p = &t->m->params;
    enc_params *g = &t->g;
    int C = cfg->hidden, FF = cfg->intermediate, NH = cfg->heads, N = B * T;
    size_t NC = (size_t)N * C, NI = (size_t)N * FF;
    float *dx = dout, *d1 = t->d1, *d2 = t->d2;
    for (int l = cfg->layers - 1; l >= 0; l--) {
        const float *x_in = l ? a->ln2 + (size_t)(l - 1) * NC : a->emb_ln;
        const float *qkv = a->qkv + (size_t)l * NC * 3;
        const float *att = a->att + (size_t)l * B * NH * T * T;
        const float *atty = a->atty + (size_t)l * NC, *res1 = a->res1 + (size_t)l * NC;
        const float *ln1 = a->ln1 + (size_t)l * NC, *res2 = a->res2 + (size_t)l * NC;
        const float *fch = a->fch + (size_t)l * NI, *fchg = a->fch_gelu + (size_t)l * NI;
        size_t lc = (size_t)l * C;
        /* the "=" forms (layernorm_backward_set, dinp_acc 0, gelu in place)
         * write what "+=" would add to zeros, without zeroing first */
        layernorm_backward_set(d1, g->ln2_w + lc, g->ln2_b + lc, dx, res2, p->ln2_w + lc,
                               a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N, C);
        memcpy(d2, d1, NC * sizeof *d2);                     /* residual into ln1 */
        if (mm_bwd(t, 0, t->dI1, g->fcproj_w + (size_t)l * C * FF, g->fcproj_b + lc, d1, fchg,
                   p->fcproj_w + (size_t)l * C * FF, N, FF, C)) return -1;
        gelu_backward_inplace(t->dI1, fch, NI);
        if (mm_bwd(t, 1, d2, g->fc_w + (size_t)l * FF * C, g->fc_b + (size_t)l * FF, t->dI1, ln1,
                   p->fc_w + (size_t)l * FF * C, N, C, FF)) return -1;
        layernorm_backward_set(d1, g->ln1_w + lc, g->ln1_b + lc, d2, res1, p->ln1_w + lc,
                               a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, N, C);
        memcpy(dx, d1, NC * sizeof *dx);                     /* residual into the layer input */
        if (mm_bwd(t, 0, d2, g->attproj_w + (size_t)l * C * C, g->attproj_b + lc, d1, atty,
                   p->attproj_w + (size_t)l * C * C, N, C, C)) return -1;
        memset(t->dqkv, 0, NC * 3 * sizeof *t->dqkv);
        if (t->m->precision == ENC_BF16 ? kbf_attention_backward(t->dqkv, d2, qkv, att, lens, B, T, C, NH)
                                        : attention_backward(t->dqkv, d2, qkv, att, lens, B, T, C, NH)) return -1;
        if (mm_bwd(t, 1, dx, g->qkv_w + (size_t)l * 3 * C * C, g->qkv_b + (size_t)l * 3 * C,
                   t->dqkv, x_in, p->qkv_w + (size_t)l * 3 * C * C, N, C, 3 * C)) return -1;
    }
    layernorm_backward_set(d1, g->emb_ln_w, g->emb_ln_b, dx, a->emb, p->emb_ln_w, a->emb_mean,
                           a->emb_rstd, N, C);
    /* positions start at pos_offset for the RoBERTa family (encoder.h) */
    embedding_backward(g->wte, g->wpe + (size_t)cfg->pos_offset * C, g->wtt, d1, ids, B, T, C);
    return 0;
}

/* d(pooled, normalised embedding) [n,C] -> d last_hidden_state in t->dlast */
static void head_backward(trainer *t, const float *demb, const float *emb, const float *norm,
                          const int *lens, int n, int T)
{
    int C = t->m->cfg.hidden;
    memset(t->dpool, 0, (size_t)n * C * sizeof(float));
    l2norm_backward(t->dpool, demb, emb, norm, n, C);
    memset(t->dlast, 0, (size_t)n * T * C * sizeof(float));
    if (t->m->pooling == ENC_POOL_MEAN) pool_mean_backward(t->dlast, t->dpool, lens, n, T, C);
    else pool_cls_backward(t->dlast, t->dpool, n, T, C);
}

/* Loss and gradient of the batch held in t->ids_q/lens_q/ids_p/lens_p/valid,
 * gradient scaled by `scale`, accumulated into t->g. */
int train_compute_batch(trainer *t, double scale, double *loss, double *acc, sy_err *err)
{
    const train_opts *o = &t->o;
    const enc_model *m = t->m;
    int B = t->B, G = t->G, P = t->P, C = m->cfg.hidden;
    int pad = m->tok ? tok_pad(m->tok) : 0;
    if (pad < 0) pad = 0;
    int Tq = max_len_of(t->lens_q, B);
    int *packed_q = malloc((size_t)B * Tq * sizeof(int));
    int *packed_p = malloc((size_t)t->chunk * o->max_len_p * sizeof(int));
    if (!packed_q || !packed_p) { free(packed_q); free(packed_p); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    pack(packed_q, t->ids_q, t->lens_q, B, Tq, o->max_len_q, pad);
    enc_acts aq, ap;
    int rc = -1;
    /* queries: one cached forward */
    if (forward_cached(t, t->acts_q, &aq, packed_q, t->lens_q, B, Tq, t->qemb, t->qnorm, err)) goto out;
    /* passages, chunk by chunk */
    int nchunks = (P + t->chunk - 1) / t->chunk;
    for (int c0 = 0; c0 < P; c0 += t->chunk) {
        int n = P - c0 < t->chunk ? P - c0 : t->chunk;
        int Tp = max_len_of(t->lens_p + c0, n);
        pack(packed_p, t->ids_p + (size_t)c0 * o->max_len_p, t->lens_p + c0, n, Tp, o->max_len_p, pad);
        if (forward_cached(t, t->acts_p, &ap, packed_p, t->lens_p + c0, n, Tp,
                           t->pemb + (size_t)c0 * C, t->pnorm + c0, err)) goto out;
    }
    *loss = infonce_loss(t->dq, t->dp, t->qemb, t->pemb, B, G, C, o->temp, o->inbatch, t->valid, acc);
    if (isnan(*loss)) { sy_fail(err, SY_ENOMEM, "out of memory in the loss"); goto out; }
    if (scale != 1.0) {
        for (size_t i = 0; i < (size_t)B * C; i++) t->dq[i] *= (float)scale;
        for (size_t i = 0; i < (size_t)P * C; i++) t->dp[i] *= (float)scale;
    }
    /* backward: queries */
    head_backward(t, t->dq, t->qemb, t->qnorm, t->lens_q, B, Tq);
    if (encoder_backward(t, &aq, t->dlast, packed_q, t->lens_q, B, Tq)) goto oom;
    /* passages: the last chunk's activations are still cached; others recompute */
    for (int c0 = (nchunks - 1) * t->chunk; c0 >= 0; c0 -= t->chunk) {
        int n = P - c0 < t->chunk ? P - c0 : t->chunk;
        int Tp = max_len_of(t->lens_p + c0, n);
        pack(packed_p, t->ids_p + (size_t)c0 * o->max_len_p, t->lens_p + c0, n, Tp, o->max_len_p, pad);
        if (c0 != (nchunks - 1) * t->chunk) {   /* recompute: same values as the first pass */
            if (forward_cached(t, t->acts_p, &ap, packed_p, t->lens_p + c0, n, Tp,
                               t->pemb + (size_t)c0 * C, t->pnorm + c0, err)) goto out;
        }
        head_backward(t, t->dp + (size_t)c0 * C, t->pemb + (size_t)c0 * C, t->pnorm + c0,
                      t->lens_p + c0, n, Tp);
        if (encoder_backward(t, &ap, t->dlast, packed_p, t->lens_p + c0, n, Tp)) goto oom;
    }
    rc = 0;
    goto out;
oom:
    sy_fail(err, SY_ENOMEM, "out of memory in the backward pass");
out:
    free(packed_q);
    free(packed_p);
    return rc;
}

struct train_batch { trainer t; };

train_batch *train_batch_new(enc_model *m, int B, int G, int Tq, int Tp, int chunk, double temp,
                             int inbatch, sy_err *err)
{
    train_batch *tb = calloc(1, sizeof *tb);
    if (!tb) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    trainer *t = &tb->t;
    train_opts_default(&t->o);
    t->o.batch = B;
    t->o.group = G;
    t->o.max_len_q = Tq;
    t->o.max_len_p = Tp;
    t->o.temp = temp;
    t->o.inbatch = inbatch;
    t->ninst = (size_t)B;
    t->m = m;
    if (chunk < 0) t->o.act_budget_mb = 1 << 20;   /* everything in one chunk */
    if (train_alloc_buffers(t, err)) { train_batch_free(tb); return NULL; }
    if (chunk > 0 && chunk < t->chunk) t->chunk = chunk;
    memset(t->valid, 1, (size_t)B * t->P);
    return tb;
}

void train_batch_free(train_batch *tb)
{
    if (!tb) return;
    tb->t.m = NULL;   /* borrowed */
    train_state_free(&tb->t);
    free(tb);
}

int train_batch_grad(train_batch *tb, float *grad, const int *qids, const int *qlens,
                     const int *pids, const int *plens, double *loss, sy_err *err)
{
    trainer *t = &tb->t;
    int B = t->B, G = t->G;
    enc_params_layout(&t->g, grad, &t->m->cfg);
    memcpy(t->ids_q, qids, (size_t)B * t->o.max_len_q * sizeof(int));
    memcpy(t->lens_q, qlens, (size_t)B * sizeof(int));
    memcpy(t->ids_p, pids, (size_t)B * G * t->o.max_len_p * sizeof(int));
    memcpy(t->lens_p, plens, (size_t)B * G * sizeof(int));
    double acc;
    return train_compute_batch(t, 1.0, loss, &acc, err);
}

int train_grad_tokens(enc_model *m, float *grad, const int *qids, const int *qlens, int B, int Tq,
                      const int *pids, const int *plens, int G, int Tp, double temp, int inbatch,
                      int chunk, double *loss, sy_err *err)
{
    train_batch *tb = train_batch_new(m, B, G, Tq, Tp, chunk, temp, inbatch, err);
    if (!tb) return -1;
    int rc = train_batch_grad(tb, grad, qids, qlens, pids, plens, loss, err);
    train_batch_free(tb);
    return rc;
}

/* ---- optimiser over the parameter tensors ---- */

void train_optimizer_step(enc_model *m, const float *grad, float *am, float *av, double lr,
                          double wd, long t)
{
    enc_params g;
    enc_params_layout(&g, (float *)grad, &m->cfg);
    float **pp = (float **)&m->params, **gg = (float **)&g;
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, &m->cfg);
    for (int i = 0; i < ENC_PARAM_TENSORS; i++) {
        /* decay the matrices; not biases, not LayerNorm */
        int decay = i <= 2 || i == 5 || i == 7 || i == 11 || i == 13;
        size_t off = (size_t)(pp[i] - m->params_memory);
        train_adamw(pp[i], gg[i], am + off, av + off, sizes[i], (float)lr, 0.9f, 0.999f, 1e-8f,
                    decay ? (float)wd : 0.0f, t);
    }
    /* bf16: re-pack the weights from the updated fp32 masters; the shapes are
     * those packed at load, so the packed memory is reused and this cannot fail */
    enc_weights_changed(m, NULL);
}

