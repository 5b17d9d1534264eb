/* encoder: a BERT-architecture text encoder (BERT, MiniLM, bge, e5,
 * Contriever, RoBERTa, XLM-RoBERTa) read from a Hugging Face or
 * sentence-transformers model folder, giving the vectors transformers and
 * SentenceTransformer.encode give, in float32.
 *
 * A model folder (encoder_load.c reads it) holds config.json (model_type
 * "bert", "roberta", "xlm-roberta" or "camembert"; hidden_act "gelu";
 * absolute positions, offset by padding_idx + 1 for the RoBERTa family;
 * type_vocab_size 1 or 2), a tokenizer (tokenizer.json, else vocab.txt +
 * tokenizer_config.json; see tokenizer.h), and weights as model.safetensors or
 * shards listed by model.safetensors.index.json (F32, F16 or BF16; names with
 * or without the "bert."/"roberta." prefix).  A sentence-transformers folder
 * adds modules.json, whose modules are applied in order: Transformer (its
 * path may be a subfolder such as 0_Transformer), Pooling (every config
 * format sentence-transformers 2.x-6.x writes: the pooling_mode_* booleans,
 * "pooling_mode": "mean", include_prompt), Dense (Tanh or Identity) and
 * Normalize; sentence_bert_config.json's max_seq_length and
 * config_sentence_transformers.json's prompts are the defaults for max_len
 * and the query/passage prefixes.  An unknown module, pooling mode or
 * unreadable module config is an error naming the file, never a fallback.
 * Without modules.json the pooling is CLS (a plain transformers folder).
 *
 * Parameters live in ONE float allocation (enc_model.params_memory), pointed
 * into by enc_params, whose layout enc_params_layout computes; a trainer
 * allocates gradients and optimizer moments with the same function.  Q, K and
 * V are fused into one [3C, C] matrix per layer (HF's three are stacked in the
 * order query, key, value).  Per-layer tensors are stacked over layers:
 * layer l of qkv_w starts at qkv_w + l * 3C*C.
 *
 * Activations likewise live in one allocation (enc_acts, enc_acts_layout),
 * with everything the backward pass needs when allocated for training.
 *
 * Ownership: enc_load returns an owned model (enc_free).  A model is not
 * modified by the forward pass, but enc_forward uses caller-owned activation
 * buffers, so threads may share a model given their own enc_acts.  enc_embed
 * allocates its own scratch.  Errors through sy_err. */
#ifndef SY_ENCODER_H
#define SY_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tokenizer.h"

typedef struct {
    int vocab_size;        /* V */
    int hidden;            /* C */
    int layers;            /* L */
    int heads;             /* NH (C % NH == 0) */
    int intermediate;      /* I */
    int max_position;      /* P */
    int type_vocab;        /* TT (>= 1) */
    float ln_eps;          /* layer_norm_eps, 1e-12 for BERT */
    int pos_offset;        /* first position id: 0 (BERT), padding_idx + 1 (RoBERTa family,
                              where a padding id inside a text takes position padding_idx
                              and is not counted, as transformers does) */
    char model_type[16];   /* config.json model_type: "bert", "roberta", "xlm-roberta", ... */
} enc_config;

typedef struct {
    float *wte;        /* [V, C]  word embeddings */
    float *wpe;        /* [P, C]  position embeddings */
    float *wtt;        /* [TT, C] token type embeddings (row 0 is used) */
    float *emb_ln_w;   /* [C] */
    float *emb_ln_b;   /* [C] */
    float *qkv_w;      /* [L, 3C, C]  query | key | value weights (Linear layout) */
    float *qkv_b;      /* [L, 3C] */
    float *attproj_w;  /* [L, C, C]   attention.output.dense */
    float *attproj_b;  /* [L, C] */
    float *ln1_w;      /* [L, C]      attention.output.LayerNorm */
    float *ln1_b;      /* [L, C] */
    float *fc_w;       /* [L, I, C]   intermediate.dense */
    float *fc_b;       /* [L, I] */
    float *fcproj_w;   /* [L, C, I]   output.dense */
    float *fcproj_b;   /* [L, C] */
    float *ln2_w;      /* [L, C]      output.LayerNorm */
    float *ln2_b;      /* [L, C] */
} enc_params;

/* Sizes (in floats) of the 17 tensors above, in struct order. */
#define ENC_PARAM_TENSORS 17
void enc_param_sizes(size_t sizes[ENC_PARAM_TENSORS], const enc_config *cfg);
/* Point p's tensors into base (which holds at least the returned number of
 * floats, 64-byte aligned offsets); with base NULL only counts.  Returns the
 * total number of floats. */
size_t enc_params_layout(enc_params *p, float *base, const enc_config *cfg);

/* Activations of one forward pass over B sequences of padded length T.
 * Per-layer tensors hold L layers when allocated for training (all_layers=1)
 * and one reused slot for inference (all_layers=0). */
typedef struct {
    float *emb;        /* [B,T,C]  word + position + type, before LayerNorm */
    float *emb_ln;     /* [B,T,C]  input of layer 0 */
    float *emb_mean, *emb_rstd;   /* [B,T] */
    float *qkv;        /* [L,B,T,3C] */
    float *att;        /* [L,B,NH,T,T] softmax probabilities */
    float *atty;       /* [L,B,T,C]  attention output, before attproj */
    float *res1;       /* [L,B,T,C]  attproj(atty) + layer input (LN1 input) */
    float *ln1;        /* [L,B,T,C] */
    float *ln1_mean, *ln1_rstd;   /* [L,B,T] */
    float *fch;        /* [L,B,T,I]  before GELU */
    float *fch_gelu;   /* [L,B,T,I]; at bf16 with all_layers 0: the bf16 pairs of GELU(fch) */
    float *res2;       /* [L,B,T,C]  fcproj(fch_gelu) + ln1 (LN2 input) */
    float *ln2;        /* [L,B,T,C]  layer output; last layer's = last_hidden_state */
    float *ln2_mean, *ln2_rstd;   /* [L,B,T] */
} enc_acts;

size_t enc_acts_layout(enc_acts *a, float *base, const enc_config *cfg, int B, int T,
                       int all_layers);
/* Pointer to last_hidden_state [B,T,C] inside acts after enc_forward. */
float *enc_acts_output(const enc_acts *a, const enc_config *cfg, int B, int T, int all_layers);

/* sentence-transformers pooling modes (the numbers are stored in index headers) */
typedef enum {
    ENC_POOL_CLS = 0, ENC_POOL_MEAN = 1, ENC_POOL_MAX = 2, ENC_POOL_MEAN_SQRT = 3,
    ENC_POOL_WEIGHTED = 4, ENC_POOL_LAST = 5
} enc_pooling;
#define ENC_POOL_MODES 6
/* "cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken" */
const char *enc_pool_name(enc_pooling p);
int enc_pool_parse(const char *s, enc_pooling *out);   /* 0, or -1 for an unknown name */

/* A sentence-transformers Dense module: out = act(W x + b). */
typedef struct {
    int in, out;
    float *w;              /* [out, in], owned */
    float *b;              /* [out] or NULL, owned */
    int tanh;              /* 1: Tanh, 0: Identity */
} enc_dense;

/* Precision of the encoder's matrix products (encoder_bf16.c).  fp32 is the
 * reference; bf16 rounds both operands of the Linear products to bfloat16
 * and accumulates in float32 (kernels_bf16.h), with embeddings, attention,
 * softmax, LayerNorm, GELU, residuals and pooling kept in float32.  Vectors
 * then differ from fp32 by a cosine of about 0.9999 (README, "Precision"). */
typedef enum { ENC_FP32 = 0, ENC_BF16 = 1 } enc_precision;
#define ENC_PRECISION_CHOICES "fp32|bf16|auto"
/* "fp32", "bf16" or "auto" (bf16 where the CPU has avx512_bf16, else fp32)
 * into *out.  "bf16" on a CPU without avx512_bf16 is an error (SY_EINVAL,
 * naming the CPU feature and the fix), never a silent fallback; so is an
 * unknown name. */
int enc_precision_parse(const char *s, enc_precision *out, sy_err *err);
const char *enc_precision_name(enc_precision p);

typedef struct enc_bf16 enc_bf16;   /* packed bf16 weights (encoder_bf16.c) */

typedef struct {
    enc_config cfg;
    enc_params params;
    float *params_memory;       /* owned, num_params floats */
    size_t num_params;
    tokenizer *tok;             /* owned */
    enc_pooling pooling;        /* default from the Pooling module, else cls */
    int pool_concat[ENC_POOL_MODES];  /* > 1 modes on: their vectors concatenated in */
    int npool_concat;           /* sentence-transformers order; 0 = `pooling` alone */
    int pool_skip_prompt;       /* 1: pooling skips the prefix's tokens (include_prompt false) */
    enc_dense *dense;           /* Dense modules after pooling, owned */
    int ndense;
    int normalize;              /* default 0 (1 when the folder has a Normalize module) */
    int max_len;                /* default sentence_bert_config max_seq_length, else
                                   tokenizer_config model_max_length; at most 512 and the positions */
    char *query_prefix;         /* NULL or owned string, e.g. "query: " */
    char *passage_prefix;
    char **prompt_names, **prompt_texts;   /* config_sentence_transformers.json prompts, owned */
    int nprompts;
    char *dir;                  /* model folder, owned */
    char *tf_dir;               /* folder of the transformer (dir or dir/0_Transformer), owned */
    char *dtype;                /* dtype found in the file: "F32", "F16", "BF16" */
    enc_precision precision;    /* ENC_FP32 after loading; enc_set_precision changes it */
    enc_bf16 *bf16;             /* owned: the Linear weights packed as bf16 (precision bf16) */
} enc_model;

enc_model *enc_load(const char *dir, sy_err *err);
/* The transformer of a HF folder alone (config.json, tokenizer, weights; no
 * sentence-transformers modules), for cross-encoders. */
enc_model *enc_load_transformer(const char *dir, sy_err *err);
void enc_free(enc_model *m);
/* The prompt text named `name` in config_sentence_transformers.json (borrowed), or NULL. */
const char *enc_prompt(const enc_model *m, const char *name);
/* Write the model as a HF folder (config.json, vocab.txt copy,
 * model.safetensors F32 with "bert."-less HF names).  For trainers. */
int enc_save(const enc_model *m, const char *dir, sy_err *err);
/* Set the model's dimensions into a config.json object (jansson's json_t), with
 * the names transformers reads; used by enc_save and training checkpoints. */
struct json_t;
void enc_config_to_json(struct json_t *cfg, const enc_config *c);

/* Switch the matrix products to precision p.  bf16 packs the Linear weights
 * once (about half the fp32 weights' memory more); fp32 frees them.  -1 with
 * SY_EINVAL when the CPU lacks avx512_bf16, SY_ENOMEM.  Not thread-safe with
 * a forward pass running on the same model. */
int enc_set_precision(enc_model *m, enc_precision p, sy_err *err);
/* Parse `name` (as enc_precision_parse) and enc_set_precision: the one call
 * commands make with a --precision flag or the encoder.precision setting. */
int enc_apply_precision(enc_model *m, const char *name, sy_err *err);
/* Re-pack the bf16 weights after params changed (a trainer's optimiser step);
 * nothing to do at fp32.  -1 on ENOMEM. */
int enc_weights_changed(enc_model *m, sy_err *err);
/* The packed weight of layer l for x @ w^T: 0 qkv, 1 attproj, 2 fc, 3 fcproj
 * (NULL at fp32).  Borrowed; valid until the next enc_set_precision. */
struct kbf_mat;
const struct kbf_mat *enc_bf16_weight(const enc_model *m, int l, int which);

/* Forward pass: ids[B,T] (padding ids beyond lens[b] are ignored), lens[B].
 * Fills acts; enc_acts_output gives last_hidden_state.  -1 on ENOMEM/ids out
 * of range. */
int enc_forward(const enc_model *m, enc_acts *acts, const int *ids, const int *lens,
                int B, int T, int all_layers, sy_err *err);
/* The same with token type ids types[B,T] (NULL: all 0), for sentence pairs. */
int enc_forward_types(const enc_model *m, enc_acts *acts, const int *ids, const int *types,
                      const int *lens, int B, int T, int all_layers, sy_err *err);

/* Tokenize, encode, pool and (optionally) normalise n texts into out[n, C]
 * in input order.  is_query picks the query or passage prefix.  Batches are
 * formed from length-sorted texts (at most ~8k tokens each).  progress may be
 * NULL; returning non-zero from it cancels (SY_ECANCEL). */
typedef int (*enc_progress_fn)(void *ctx, size_t done, size_t total);
int enc_embed(const enc_model *m, const char *const *texts, size_t n, int is_query,
              float *out, enc_progress_fn progress, void *ctx, sy_err *err);
/* The same with an explicit prefix (NULL: none), e.g. a named prompt. */
int enc_embed_prefix(const enc_model *m, const char *const *texts, size_t n, const char *prefix,
                     float *out, enc_progress_fn progress, void *ctx, sy_err *err);
/* Output dimension: the last Dense's out, else hidden x pooled modes. */
int enc_dim(const enc_model *m);

#endif
