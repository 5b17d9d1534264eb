/* vocab_learn: learn a WordPiece vocabulary from texts, for models trained
 * from scratch (train --scratch).
 *
 * Words are cut the way the BERT tokenizer cuts them (tokenizer.h): clean,
 * lower-case, strip accents (NFD, drop marks), split on whitespace and on
 * punctuation.  Then, as Hugging Face's WordPiece trainer does, pieces start
 * as single characters (word-initial "c", continuation "##c") and the pair
 * with the best score freq(ab) / (freq(a) * freq(b)) is merged, ties broken
 * by the lexically smaller merged piece, until the vocabulary reaches
 * vocab_size or no pair occurs twice.  The vocabulary is written one token a
 * line: [PAD] [UNK] [CLS] [SEP] [MASK] first, then every single character
 * (both forms), then the merges in order.  Deterministic; words beyond the
 * max_words most frequent are ignored (0 = 200000).  Thread-safe; errors
 * through sy_err. */
#ifndef SY_VOCAB_LEARN_H
#define SY_VOCAB_LEARN_H

#include <stddef.h>

#include "err.h"

typedef struct {
    size_t vocab_size;     /* target size including specials (>= 100) */
    size_t max_words;      /* distinct words kept, most frequent first; 0 = 200000 */
    size_t min_freq;       /* merges need a pair seen this often (default 2 when 0) */
} vocab_opts;

/* Learn from n texts (NUL-terminated UTF-8) and write the vocabulary to
 * out_path atomically.  *size_out (may be NULL) receives the final size. */
int vocab_learn(const char *const *texts, size_t n, const vocab_opts *opts, const char *out_path,
                size_t *size_out, sy_err *err);

#endif
