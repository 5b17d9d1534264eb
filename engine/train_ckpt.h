/* train_ckpt: checkpoints of a training run (part of the train module).
 *
 * ckpt_write_hf writes a model as a Hugging Face + sentence-transformers
 * folder: config.json (BertModel), model.safetensors (F32, HF names without
 * the "bert." prefix, Q/K/V split back out), vocab.txt, tokenizer_config.json,
 * special_tokens_map.json, sentence_bert_config.json, modules.json
 * (Transformer, Pooling, Normalize), 1_Pooling/config.json, 2_Normalize/,
 * config_sentence_transformers.json, and syneg.json with the query/passage
 * prefixes when the model has them (enc_load reads them there).
 * ckpt_save adds train_state.bin (format in train.c) under
 * RUN/ckpt/step-NNNNNNN/, built in a temporary folder and renamed into place,
 * and deletes all but the newest two checkpoints.  Errors through sy_err. */
#ifndef SY_TRAIN_CKPT_H
#define SY_TRAIN_CKPT_H

#include <stddef.h>

#include "encoder.h"
#include "err.h"

int ckpt_write_hf(const enc_model *m, const char *dir, int max_len, sy_err *err);
/* Writes RUN/ckpt/step-N; rel_out receives "ckpt/step-N". */
int ckpt_save(const enc_model *m, const char *run_dir, long step, const float *am,
              const float *av, size_t np, int max_len, char *rel_out, size_t rel_n, sy_err *err);
/* Writes RUN/final (replacing an older one). */
int ckpt_save_final(const enc_model *m, const char *run_dir, int max_len, sy_err *err);
/* Reads dir/train_state.bin: moments into am/av (np floats each) and the step. */
int ckpt_read_state(const char *dir, float *am, float *av, size_t np, long *step, sy_err *err);

#endif
