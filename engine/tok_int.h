/* tok_int: the tokenizer's private layout, shared by tokenizer.c (pipeline,
 * vocab.txt), tok_models.c (WordPiece, BPE, Unigram) and tok_json.c
 * (tokenizer.json).  Not part of the engine's API: include tokenizer.h. */
#ifndef SY_TOK_INT_H
#define SY_TOK_INT_H

#include "tokenizer.h"
#include "util.h"

enum { TOK_WORDPIECE, TOK_BPE, TOK_UNIGRAM };

enum { NORM_BERT, NORM_LOWER, NORM_STRIP_ACCENTS, NORM_NFD, NORM_NFKD, NORM_NFC, NORM_NFKC,
       NORM_REPLACE, NORM_STRIP, NORM_PREPEND, NORM_PRECOMPILED };

typedef struct {
    int kind;
    int clean, chinese, strip_accents, lowercase;   /* NORM_BERT */
    int32_t *pat, *rep;                             /* NORM_REPLACE / NORM_PREPEND (rep) */
    size_t npat, nrep;
    int min_repeat;                                 /* Replace regex "X{n,}": pat = X, n; 0 = literal */
    int left, right;                                /* NORM_STRIP */
    const uint32_t *trie; size_t trie_units;        /* NORM_PRECOMPILED (into blob) */
    const char *pool; size_t pool_len;
    unsigned char *blob;
} tok_norm;

enum { PRE_BERT, PRE_WHITESPACE, PRE_WSSPLIT, PRE_METASPACE, PRE_BYTELEVEL, PRE_PUNCT, PRE_DIGITS };

typedef struct {
    int kind;
    int32_t replacement;      /* Metaspace */
    int prepend;              /* Metaspace: 0 never, 1 always, 2 first */
    int split;                /* Metaspace */
    int add_prefix_space;     /* ByteLevel */
    int use_regex;            /* ByteLevel */
    int individual;           /* Digits */
} tok_pre;

typedef struct {
    int seq;                  /* 0: special ids, 1: sequence A, 2: sequence B */
    int type;
    int32_t ids[4];
    int nids;
} tok_tpl_item;

typedef struct {
    char *content;
    size_t len;
    int32_t id;
    int lstrip, rstrip, special;
} tok_added;

struct tokenizer {
    int model;
    /* vocabulary: id -> token (strings in `arena`), token -> id */
    char *arena;
    char **tokens;
    size_t n;
    sy_strmap full;
    int32_t unk;              /* -1: none */
    /* WordPiece */
    sy_strmap cont;
    int max_word_chars;
    /* BPE */
    uint32_t *merge_keys;     /* [nmerges][2] ids, the map's key bytes */
    int32_t *merge_new;       /* [nmerges] id of the merged token */
    size_t nmerges;
    sy_strmap merges;         /* 8-byte (a, b) -> rank */
    char *cont_prefix, *end_suffix;
    int fuse_unk, byte_fallback, ignore_merges, byte_level;
    int32_t byte_ids[256];    /* <0xXX> tokens for byte fallback, -1 if absent */
    /* Unigram */
    double *scores;
    double min_score;
    int max_piece_chars;
    /* pipeline */
    tok_norm *norm; size_t nnorm;
    tok_pre *pre; size_t npre;
    tok_added *added; size_t nadded;
    unsigned char added_first[256];
    tok_tpl_item single[8], pair[12];
    int nsingle, npair;
    int32_t cls, sep, pad;
    int do_lower_case;        /* vocab.txt path: tokenizer_config.json do_lower_case */
};

/* a growable code point buffer */
typedef struct { int32_t *v; size_t n, cap; } tok_cps;
int tok_cps_push(tok_cps *b, int32_t c);

/* Character classes as the Rust `tokenizers` crate. */
int tok_is_ws(int32_t c);
int tok_is_punct(int32_t c);

/* Models: tokenize one pre-tokenized word (code points) and append ids. */
int tok_wordpiece(const tokenizer *t, const int32_t *w, size_t nc, tok_cps *out);
int tok_bpe(const tokenizer *t, const int32_t *w, size_t nc, tok_cps *out);
int tok_unigram(const tokenizer *t, const int32_t *w, size_t nc, tok_cps *out);

/* Register token `s` (copied into no arena: s must live as long as t) as id. */
int tok_vocab_init(tokenizer *t, size_t n);
int tok_set_token(tokenizer *t, int32_t id, const char *s, size_t len);
/* Byte-level BPE's byte -> code point table (GPT-2 bytes_to_unicode). */
int32_t tok_byte_char(unsigned b);

/* Precompiled (SentencePiece) charsmap normalisation of one UTF-8 chunk;
 * returns the replacement (borrowed, NUL-terminated) or NULL. */
const char *tok_precompiled_lookup(const tok_norm *nm, const char *s, size_t len);

#endif
