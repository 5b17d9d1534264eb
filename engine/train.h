/* train: contrastive fine-tuning of the BERT encoder on the CPU, as a run.
 *
 * A run is a folder SESSION/runs/ID (runs.h) whose config.json holds the
 * train_opts below.  train_create makes the folder and writes the config;
 * train_run trains it to the end (or to a cancel), resuming from its last
 * checkpoint when it has one, so a killed run continues with the same data
 * order and ends with the same weights and metrics as an uninterrupted run of
 * the same seed and thread count.
 *
 * One step = accum micro-batches of `batch` training instances (mix.h: a
 * query, its positive and group-1 negatives; with group 1 the positives of the
 * train split alone).  Loss: InfoNCE (kernels_bwd.h) of the L2-normalised
 * pooled embeddings with temperature temp, in-batch negatives on by default.
 * Passage activations are cached for backward in chunks of at most
 * act_budget_mb (default: a quarter of physical memory, at most 4 GiB); when a batch does not fit, embeddings are computed first and
 * each chunk is recomputed for its backward (gradient caching), so memory
 * stays bounded for any batch.  AdamW (betas 0.9/0.999, eps 1e-8, no decay on
 * biases and LayerNorm), linear warm-up then linear decay to 0, clipping of
 * the global gradient norm.  No dropout.  Deterministic given the seed and
 * the thread count.
 *
 * Checkpoints: SESSION/runs/ID/ckpt/step-NNNNNNN/ is a Hugging Face folder
 * (config.json, model.safetensors, vocab.txt, tokenizer_config.json,
 * modules.json, sentence_bert_config.json, 1_Pooling/config.json,
 * 2_Normalize/) plus train_state.bin (AdamW moments and position, format in
 * train.c); the finished model is written the same way to final/.  The last
 * two checkpoints are kept.
 *
 * Progress: one JSON line per step in progress.jsonl
 *   {"t":ISO,"step":N,"epoch":E,"loss":..,"acc":..,"lr":..,"grad_norm":..,"seq_s":..}
 * and per evaluation (at step 0, every eval_every steps, and at the end)
 *   {"t":ISO,"step":N,"eval":{"split":..,"queries":..,"ndcg@10":..,"mrr@10":..,"recall@100":..}}
 *
 * Not thread-safe per run; uses kern_set_threads.  Errors through sy_err. */
#ifndef SY_TRAIN_H
#define SY_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "encoder.h"
#include "err.h"
#include "session.h"

typedef struct {
    char init[1024];       /* HF model folder ("" with scratch) */
    char scratch[16];      /* "tiny" | "mini" | "" */
    int vocab_size;        /* scratch vocabulary size (default 8000) */
    int epochs;            /* default 1 */
    long max_steps;        /* > 0: stop after this many updates (and size the schedule on it) */
    int batch;             /* instances per micro-batch (default 16) */
    int group;             /* passages per instance: 1 positive + group-1 negatives (default 8) */
    int accum;             /* micro-batches per update (default 1) */
    double lr;             /* default 2e-5 with init, 1e-3 scratch tiny, 5e-4 scratch mini */
    double temp;           /* default 0.02 */
    double weight_decay;   /* default 0.01 */
    double warmup;         /* fraction of updates spent warming up (default 0.1) */
    double clip;           /* max global gradient norm, 0 = off (default 1.0) */
    int max_len_q;         /* default 32 */
    int max_len_p;         /* default 128 */
    double mix_start, mix_end;  /* synthetic fraction of each group (mix.h; default 0.5) */
    int inbatch;           /* in-batch negatives (default 1) */
    int fill;              /* mix_opts.fill: a short class borrows from the other (default 0) */
    int include_offline;   /* draw the offline generator's rows too (default 0: mix_opts.skip_offline,
                              as export does without --include-offline) */
    int eval_every;        /* updates between evaluations, 0 = start and end only */
    int ckpt_every;        /* updates between checkpoints, 0 = end only (default 100) */
    int eval_queries;      /* cap on evaluated queries, 0 = all */
    int eval_docs;         /* > 0: search the judged documents plus a seeded sample of
                              this many others instead of the whole corpus */
    int threads;           /* 0 = all cores */
    uint64_t seed;         /* default 42 */
    char pooling[8];       /* "cls" | "mean" | "" (model default; mean for scratch) */
    int act_budget_mb;     /* activation cache per chunk in MiB; 0 (default) = a
                              quarter of physical memory, 256 MiB .. 4 GiB */
    int no_titles;         /* passages as text alone, for every source (passage.h);
                              default 0: "title text" where a title exists */
    char precision[8];     /* "fp32" | "bf16" | "auto" (encoder.h; setting encoder.precision,
                              $SYNEG_PRECISION; "" = fp32): bf16 products in the forward and
                              backward passes, fp32 master weights, gradients and moments */
} train_opts;

/* The settings table's train.* defaults (settings.h); lr 0 = by model. */
void train_opts_default(train_opts *o);
/* Defaults, then the session's train.* settings (s may be NULL), then flags
 * (an object of setting name -> JSON value, e.g. {"train.lr": 0.001}; may be
 * NULL).  Every value is checked against the settings table first; a bad one
 * fails naming the setting and its allowed range (nothing is replaced by a
 * default).  train.init and train.scratch exclude each other: the later
 * source wins.  In train.c's companion train_opts.c. */
int train_opts_from_settings(train_opts *o, session *s, const json_t *flags, sy_err *err);
/* The learning rate that fits the model: 2e-5 fine-tuning a checkpoint,
 * 1e-3 scratch tiny, 5e-4 scratch mini. */
double train_default_lr(const char *scratch);
/* Defaults that depend on other choices (lr by init/scratch); call after
 * setting options and before train_create. */
void train_opts_finish(train_opts *o);
json_t *train_opts_to_json(const train_opts *o);
/* Missing keys keep their defaults; bad types fail naming the key. */
int train_opts_from_json(train_opts *o, json_t *j, const char *what, sy_err *err);
/* Check values; the message names the option and its range. */
int train_opts_check(const train_opts *o, sy_err *err);

/* Create SESSION/runs/ID with config.json and a status "running" owned by
 * this process.  Returns the malloc'd run folder (and ID via id_out). */
char *train_create(const char *session_dir, const train_opts *o, char **id_out, sy_err *err);

typedef struct {
    /* polled at every step boundary; non-zero stops the run cleanly (a
     * checkpoint is written and the status becomes "cancelled") */
    int (*should_stop)(void *ctx);
    /* every progress line as it is written (may be NULL) */
    void (*on_line)(void *ctx, const char *json_line);
    void *ctx;
} train_hooks;

/* Train the run in run_dir (a folder made by train_create) to its end,
 * resuming from its last checkpoint.  Writes the status (pid = this process)
 * as it goes: "done", "cancelled" (returns SY_ECANCEL) or "failed" (with the
 * message). */
int train_run(const char *session_dir, const char *run_dir, const train_hooks *hooks, sy_err *err);

/* ---- pieces, public for tests ---- */
/* Learning rate of update `step` (0-based) of `total`, warm-up `warm` updates. */
double train_lr_at(double lr, long step, long total, long warm);
/* AdamW on n floats (update t >= 1 counts from 1). */
void train_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                 float b2, float eps, float wd, long t);
/* Scale g so its L2 norm is at most clip (clip <= 0: no change); returns the
 * norm before clipping. */
double train_clip(float *g, size_t n, double clip);

/* One AdamW update of every parameter tensor of m (betas 0.9/0.999, eps
 * 1e-8; weight decay wd on the embedding and weight matrices, none on biases
 * and LayerNorm); grad, am, av are laid out like m->params_memory. */
void train_optimizer_step(enc_model *m, const float *grad, float *am, float *av, double lr,
                          double wd, long t);

/* Loss and gradient of one batch of pre-tokenised sequences (for tests and
 * benchmarks): qids [B,Tq] with qlens [B], pids [B*G,Tp] with plens [B*G],
 * passage b*G the positive of query b; every in-batch passage counts as a
 * negative.  grad (m->num_params floats, laid out like the parameters)
 * accumulates; chunk > 0 caps the passages per activation chunk (to test the
 * gradient caching path), 0 uses the default budget, < 0 caches every
 * passage's activations at once.  The model's pooling is used; embeddings are
 * L2-normalised. */
int train_grad_tokens(enc_model *m, float *grad, const int *qids, const int *qlens, int B,
                      int Tq, const int *pids, const int *plens, int G, int Tp, double temp,
                      int inbatch, int chunk, double *loss, sy_err *err);

/* The same with buffers kept between calls (benchmarks): the handle borrows
 * m; ids have the shapes given to train_batch_new. */
typedef struct train_batch train_batch;
train_batch *train_batch_new(enc_model *m, int B, int G, int Tq, int Tp, int chunk, double temp,
                             int inbatch, sy_err *err);
int train_batch_grad(train_batch *tb, float *grad, const int *qids, const int *qlens,
                     const int *pids, const int *plens, double *loss, sy_err *err);
void train_batch_free(train_batch *tb);

#endif
