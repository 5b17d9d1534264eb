/* crossenc: a cross-encoder (reranker) read from a Hugging Face model folder:
 * BertForSequenceClassification (pooler dense+tanh over [CLS], then the
 * classifier) or RobertaForSequenceClassification /
 * XLMRobertaForSequenceClassification (classifier.dense + tanh +
 * classifier.out_proj over <s>), giving the logits transformers gives.
 *
 * Each (query, passage) pair is tokenized with the pair template of the
 * model's tokenizer ([CLS] q [SEP] p [SEP] with token types 0/1 for BERT,
 * <s> q </s></s> p </s> for (XLM-)RoBERTa), truncated "longest first" to the
 * tokenizer's model_max_length (at most 512), as sentence-transformers'
 * CrossEncoder does.  Passages are passed in already formatted (the caller
 * joins title and text with the one passage formatter).
 *
 * A model with num_labels > 1 is refused by crossenc_load (one logit per pair
 * is what reranking needs); the score of a pair is its raw logit, and
 * CrossEncoder.predict's default score is 1 / (1 + exp(-logit)).
 *
 * Ownership: crossenc_load returns an owned handle (crossenc_free, NULL-safe).
 * The handle is immutable after loading; crossenc_score allocates its own
 * scratch, so threads may share one handle.  Errors through sy_err: a folder
 * that is not a supported cross-encoder fails naming the file, what was
 * expected and the fix. */
#ifndef SY_CROSSENC_H
#define SY_CROSSENC_H

#include <stddef.h>

#include "err.h"

typedef struct crossenc crossenc;

crossenc *crossenc_load(const char *dir, sy_err *err);

/* Score n pairs: logits[i] = the model's logit for (queries[i], passages[i]).
 * NULL strings count as empty.  Returns 0, or -1 with err set (logits then
 * hold nothing useful). */
int crossenc_score(crossenc *ce, const char *const *queries, const char *const *passages,
                   size_t n, float *logits, sy_err *err);

void crossenc_free(crossenc *ce);

#endif
