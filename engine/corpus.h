/* corpus: loads a retrieval data set into memory: documents, queries and
 * relevance judgements (qrels) per split.
 *
 * Formats (see README "File formats"):
 *   CORPUS_BEIR     DIR/corpus.jsonl ({"_id","title","text"}), DIR/queries.jsonl
 *                   ({"_id","text"}), DIR/qrels/<split>.tsv ("query-id corpus-id score"
 *                   header, then tab-separated rows).
 *   CORPUS_MSMARCO  DIR/collection.tsv (pid \t text), DIR/queries.<split>.tsv
 *                   (qid \t text), DIR/qrels.<split>.tsv (TREC: qid 0 pid rel).
 *   CORPUS_FLAG     one FlagEmbedding JSONL file ({"query","pos":[..],"neg":[..]});
 *                   passages are de-duplicated by text and given ids "p<N>",
 *                   queries "q<N>" (line order); pos become qrels of split
 *                   "train" (rel 1); neg are kept as given negatives.
 *
 * String ids map to dense indices 0..n-1 in file order; all text lives in one
 * arena owned by the corpus.  Every pointer a getter returns is borrowed and
 * lives until corpus_free.  A loaded corpus is immutable, so concurrent readers
 * are safe.  Bad input never crashes: fatal problems (missing file, missing
 * qrels header, `pos` given as a string) fail with an sy_err naming file and
 * line; recoverable ones (a malformed line, invalid UTF-8, duplicate id, qrels
 * naming an unknown id, empty text) are counted as warnings, each naming file
 * and line, and the offending row is skipped (invalid UTF-8 is repaired with
 * U+FFFD instead; a document with empty title and text is kept, warned, so
 * indices and qrels stay aligned; a query with empty text is skipped).
 * Duplicate ids and duplicate qrels rows keep the first (a query repeated
 * with the same text, as across MS MARCO's query files, is not warned).  FlagEmbedding lines
 * repeating a query text are merged into one query. */
#ifndef SY_CORPUS_H
#define SY_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum { CORPUS_BEIR, CORPUS_MSMARCO, CORPUS_FLAG } corpus_format;

typedef struct corpus corpus;

typedef struct {
    uint32_t query, doc;   /* dense indices */
    int32_t rel;           /* graded relevance as in the file (may be <= 0) */
} corpus_qrel;

typedef struct {
    const char *name;          /* split name, e.g. "train", "test" */
    const corpus_qrel *rows;   /* sorted by (query, doc) */
    size_t n;
} corpus_qrels;

typedef struct {
    uint32_t query, doc;       /* a negative given by the source (FlagEmbedding "neg") */
} corpus_given_neg;

/* Guess the format of PATH: a folder with corpus.jsonl is BEIR, with
 * collection.tsv is MS MARCO, a .jsonl file is FlagEmbedding.  -1 if unknown. */
int corpus_detect(const char *path, corpus_format *fmt, sy_err *err);
corpus *corpus_load(const char *path, corpus_format fmt, sy_err *err);
/* corpus_load where only the qrels splits named in splits[0..n) (n 0: all)
 * must load: any other qrels file that fails to parse is left out and named
 * in a warning (a stray file beside them cannot fail the load); those that
 * parse stay available (--split NAME). */
corpus *corpus_load_splits(const char *path, corpus_format fmt, const char *const *splits, size_t n,
                           sy_err *err);
/* The qrels split names PATH holds, sorted, without reading them (BEIR
 * qrels/NAME.tsv, MS MARCO qrels.NAME.tsv, FlagEmbedding: "train").  *names
 * is malloc'd, each name too; none when there are no qrels.  0 / -1. */
int corpus_split_names(const char *path, corpus_format fmt, char ***names, size_t *n, sy_err *err);
void corpus_free(corpus *c);

uint32_t corpus_ndocs(const corpus *c);
const char *corpus_doc_id(const corpus *c, uint32_t d);
const char *corpus_doc_title(const corpus *c, uint32_t d);   /* "" when none */
const char *corpus_doc_text(const corpus *c, uint32_t d);
size_t corpus_doc_text_len(const corpus *c, uint32_t d);
/* Index of a document id, or -1 when unknown. */
int64_t corpus_doc_find(const corpus *c, const char *id);

uint32_t corpus_nqueries(const corpus *c);
const char *corpus_query_id(const corpus *c, uint32_t q);
const char *corpus_query_text(const corpus *c, uint32_t q);
int64_t corpus_query_find(const corpus *c, const char *id);

size_t corpus_nsplits(const corpus *c);
const corpus_qrels *corpus_split(const corpus *c, size_t i);
const corpus_qrels *corpus_qrels_for(const corpus *c, const char *split); /* NULL if absent */
/* Rows of one query within a split: *n rows starting at the returned pointer
 * (NULL and *n = 0 when the query has none). Binary search, O(log n). */
const corpus_qrel *corpus_qrels_of(const corpus_qrels *qr, uint32_t query, size_t *n);
/* Number of distinct queries that have at least one row in the split. */
size_t corpus_qrels_nqueries(const corpus_qrels *qr);

const corpus_given_neg *corpus_given_negs(const corpus *c, size_t *n);

/* Warnings collected while loading: the count of all, and the first few
 * messages (each "FILE:LINE: what; hint"). */
size_t corpus_nwarnings(const corpus *c);
size_t corpus_nwarning_msgs(const corpus *c);
const char *corpus_warning(const corpus *c, size_t i);

/* Hashes for caches built from the corpus to check they still match it
 * (the BM25 index uses the first, the dense index the second).  Store-backed
 * corpora return the values computed when the store was built, in O(1);
 * parsed ones compute them (one pass).
 *   ids fingerprint: document count, ids, title and text lengths, in order
 *   content hash:    document count, titles and texts, in order */
uint64_t corpus_ids_fingerprint(const corpus *c);
uint64_t corpus_content_hash(const corpus *c);

/* Serve a corpus from a mapped session store (corpus_store.h) instead of
 * parsing: every getter above reads the mapping in place, so opening costs
 * what the tables' checks touch, not the collection.  Takes ownership of st
 * (freed on failure too). */
struct cstore;
corpus *corpus_from_store(struct cstore *st, sy_err *err);
/* The store behind c, or NULL when c was parsed. */
const struct cstore *corpus_store(const corpus *c);
/* -1 with err when c's store was opened lazily and a read met a damaged
 * chunk (the getters gave "" or -1 there); 0 otherwise (cstore_damage). */
int corpus_store_damage(const corpus *c, sy_err *err);

/* For building the session store without holding the collection (init):
 * documents' titles and texts are written to a sink (corpus_store.h) as they
 * are parsed, and only ids, lengths, queries and qrels stay in memory.  The
 * corpus answers counts, ids, lengths, finds, queries, qrels and warnings;
 * corpus_doc_title/text return NULL and corpus_content_hash 0.  Its one use:
 * cstore_write(c, ...) (which takes the texts from the sink), then
 * corpus_free.  FlagEmbedding files are loaded as by corpus_load_splits. */
corpus *corpus_load_streamed(const char *path, corpus_format fmt, const char *const *splits, size_t nsplits,
                             const char *store_path, sy_err *err);
struct cstore_sink;
struct cstore_sink *corpus_sink(const corpus *c);   /* NULL unless streamed */
size_t corpus_doc_title_len(const corpus *c, uint32_t d);
/* One document's step of corpus_content_hash (the store writer hashes a
 * streamed corpus's texts with it); the hash starts at the document count. */
uint64_t corpus_content_hash_add(uint64_t h, const char *title, size_t tlen, const char *text, size_t xlen);

/* Bytes the corpus holds in memory (arena + tables), for reports/benchmarks. */
size_t corpus_memory(const corpus *c);

#endif
