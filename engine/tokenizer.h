/* tokenizer: the Hugging Face `tokenizers` pipeline, giving the ids
 * AutoTokenizer gives for the folders transformers and sentence-transformers
 * write:
 *   added tokens ([CLS], <s>, <mask> ... matched in the raw text first, with
 *   their lstrip/rstrip), then normalizers (BertNormalizer, Lowercase,
 *   StripAccents, NFD/NFKD/NFC/NFKC via utf8proc, Replace, Strip, Prepend,
 *   SentencePiece Precompiled), pre-tokenizers (BertPreTokenizer, Whitespace,
 *   WhitespaceSplit, Punctuation, Digits, Metaspace, ByteLevel with GPT-2's
 *   split), the model (WordPiece, BPE incl. byte-level and byte fallback,
 *   Unigram) and the post-processor template (TemplateProcessing,
 *   BertProcessing, RobertaProcessing) for single texts and pairs.
 * tok_load reads a BERT vocab.txt (BertNormalizer + BertPreTokenizer +
 * WordPiece, [CLS] A [SEP]); tok_load_json reads tokenizer.json; tok_load_dir
 * picks tokenizer.json, else vocab.txt + tokenizer_config.json (do_lower_case,
 * strip_accents, tokenize_chinese_chars).  A component this reader does not
 * implement is an error naming the file and component, never skipped.
 *
 * The tokenizer is immutable after loading, so one handle may be shared by
 * threads.  Invalid UTF-8 bytes are read as U+FFFD.  Errors through sy_err. */
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
tokenizer *tok_load_json(const char *path, sy_err *err);
tokenizer *tok_load_dir(const char *dir, sy_err *err);
void tok_free(tokenizer *t);

/* Tokenize text[0..len) into ids (room for max_len ids) with the single
 * template, e.g. [CLS] ... [SEP]; the text is truncated so the result fits
 * and the template's specials are kept (as HF truncation does).  Returns the
 * number of ids written, 0 when max_len cannot hold the specials (or < 2).
 * When `full` is not NULL it receives the untruncated length. */
size_t tok_encode(const tokenizer *t, const char *text, size_t len,
                  int32_t *ids, size_t max_len, size_t *full);
/* Tokenize a pair with the pair template ([CLS] a [SEP] b [SEP], token types
 * 0/1 for BERT; <s> a </s></s> b </s> for RoBERTa), truncated longest-first
 * to max_len as `tokenizers` does.  ids and types (may be NULL) have room for
 * max_len.  Returns the number written, 0 when max_len < specials + 2. */
size_t tok_encode_pair(const tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                       int32_t *ids, int32_t *types, size_t max_len);
/* Number of special ids the single (pair = 0) or pair template adds. */
size_t tok_special_count(const tokenizer *t, int pair);

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
