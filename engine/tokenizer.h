/* tokenizer: BERT WordPiece exactly as Hugging Face's BertTokenizerFast
 * (the `tokenizers` BertNormalizer + BertPreTokenizer + WordPiece):
 *   clean text (drop NUL, U+FFFD and control/format/unassigned characters,
 *   map whitespace to ' '), put spaces around CJK ideographs, strip accents
 *   (NFD, drop non-spacing marks; on by default when lower-casing), lower-case,
 *   split on whitespace and punctuation, then greedy longest-match WordPiece
 *   with "##" continuations; a word over 100 characters, or one with no
 *   matching piece, becomes [UNK].  Output is [CLS] ids... [SEP], truncated
 *   to max_len (the [SEP] is kept, as HF truncation does).
 *
 * The tokenizer is immutable after tok_load, so one handle may be shared by
 * threads.  Invalid UTF-8 bytes are read as U+FFFD (and so dropped).
 * Errors through sy_err. */
#ifndef SY_TOKENIZER_H
#define SY_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct tokenizer tokenizer;

typedef struct {
    int lowercase;        /* 1 for uncased vocabularies */
    int strip_accents;    /* -1: follow lowercase (HF default), 0 or 1 */
    int chinese_chars;    /* 1 (HF default): split CJK ideographs apart */
} tok_opts;

#define TOK_OPTS_UNCASED ((tok_opts){ 1, -1, 1 })
#define TOK_OPTS_CASED   ((tok_opts){ 0, -1, 1 })

/* Load vocab.txt (one token a line, id = line number).  Fails when a special
 * token ([CLS], [SEP], [UNK], [PAD]) is missing. */
tokenizer *tok_load(const char *vocab_path, const tok_opts *opts, sy_err *err);
void tok_free(tokenizer *t);

/* Tokenize text[0..len) into ids (room for max_len >= 2 ids) as
 * [CLS] ... [SEP].  Returns the number of ids written (2..max_len).
 * When `full` is not NULL it receives the untruncated length. */
size_t tok_encode(const tokenizer *t, const char *text, size_t len,
                  int32_t *ids, size_t max_len, size_t *full);

size_t tok_vocab_size(const tokenizer *t);
/* Token string of id (borrowed, lives as long as t), NULL when out of range. */
const char *tok_token(const tokenizer *t, int32_t id);
/* id of a token string, -1 when absent. */
int32_t tok_id(const tokenizer *t, const char *token);
int32_t tok_cls(const tokenizer *t);
int32_t tok_sep(const tokenizer *t);
int32_t tok_unk(const tokenizer *t);
int32_t tok_pad(const tokenizer *t);

#endif
