/* train_int: what the parts of the train module share (private; not for
 * other modules): the trainer state, its buffers and the step/eval entry
 * points.  train.c runs, train_step.c computes a batch's gradient and the
 * optimiser step, train_eval.c evaluates. */
#ifndef SY_TRAIN_INT_H
#define SY_TRAIN_INT_H

#include <math.h>
#include <stdint.h>

#include "corpus.h"
#include "encoder.h"
#include "mix.h"
#include "session.h"
#include "train.h"
#include "util.h"

/* ---- random numbers: splitmix64 ------------------------------------------- */

static inline uint64_t rng_next(uint64_t *s) { return sy_splitmix64(s); }
static inline double rng_unit(uint64_t *s) { return ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static inline float rng_normal(uint64_t *s)
{
    double u = rng_unit(s), v = rng_unit(s);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- the trainer ------------------------------------------------------------ */

typedef struct {
    int query;        /* dense corpus query index */
    const char *qtext;
    const char *ptitle[256], *ptext[256];
    int64_t pdoc[256];   /* corpus doc index of each passage, -1 for synthetic text */
} train_inst;

typedef struct {
    train_opts o;
    char *session_dir, *run_dir;
    session *s;
    corpus *c;
    const corpus_qrels *train_qr;
    enc_model *m;
    enc_params g;              /* gradients, pointing into grad */
    float *grad, *am, *av;
    size_t np;                 /* floats in each of params, grad, am, av */
    /* data */
    mix_set *mix;
    uint32_t *pairs;           /* group 1: (query, doc) pairs, 2 per instance */
    size_t npairs, *perm;
    size_t ninst;
    long steps_per_epoch, total_steps, warm_steps;
    int cur_epoch;             /* epoch whose draw is loaded, -1 none */
    const void *hooks;         /* the train_hooks of train_run (progress lines) */
    size_t drawn_prev[NEG_NSOURCES], fills_prev, repeats_prev;   /* mix counters before this epoch */
    /* batch buffers */
    int B, G, P;               /* instances, passages per instance, passages per micro-batch */
    int chunk;                 /* passages per activation chunk */
    int *ids_q, *lens_q, *ids_p, *lens_p;
    float *acts_q, *acts_p;
    float *qemb, *pemb, *qnorm, *pnorm, *dq, *dp, *dpool;
    float *d1, *d2, *dI1, *dqkv, *dlast;
    unsigned char *valid;
    struct kbf_mat *kscratch;  /* bf16 backward: packed right-hand sides (kernels_bf16.h), owned */
    train_inst *inst;
    sy_buf text;
    /* evaluation: the documents searched (all, or a fixed subset) and their texts */
    uint32_t *eval_docs;
    char **doc_texts;
    size_t ndoc_texts;
} trainer;

void train_state_free(trainer *t);
float *train_falloc(size_t n);
/* Allocate the batch buffers for t->o (batch, group, lengths) and t->m. */
int train_alloc_buffers(trainer *t, sy_err *err);
/* Loss and gradient of the batch held in t->ids_q/lens_q/ids_p/lens_p/valid,
 * gradient scaled by `scale`, accumulated into t->g. */
int train_compute_batch(trainer *t, double scale, double *loss, double *acc, sy_err *err);
/* One evaluation on the session's eval split (JSON object, NULL on error). */
json_t *train_evaluate(trainer *t, sy_err *err);
/* "title text" of a corpus document (malloc'd). */
char *train_doc_text(const corpus *c, uint32_t d, int titles);   /* passage.h's format */

#endif
