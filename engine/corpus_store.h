/* corpus_store: a loaded corpus as one file that opens with mmap in place
 * (SESSION/corpus.syc), so commands that touch a few documents never parse or
 * copy the collection.  Built once from a parsed corpus (corpus_load); opened
 * by corpus_open_store (corpus.h), which serves the same corpus API.
 *
 * Layout (all fixed fields little-endian; the reader refuses big-endian hosts):
 *   header, 192 bytes:
 *     0 magic "SYNEGCS\0"  8 u32 version (3)  12 u32 header size (192)
 *     16 u64 file size     24 u64 source fingerprint (cstore_fingerprint)
 *     32 u32 ndocs  36 u32 nqueries  40 u32 nsplits  44 u32 warning messages kept
 *     48 u64 given negatives  56 u64 warnings counted
 *     64 u64 doc hash slots  72 u64 query hash slots (powers of two)
 *     80 u64 checksum of the chunk table   88 u64 blob offset
 *     96 u64 chunk table offset (= end of the blob)   104 u64 qrels rows (all splits)
 *     112 u64 corpus_ids_fingerprint  120 u64 corpus_content_hash (kept so
 *     caches can check them without reading every document)
 *     128 u64 chunk bytes (16384)  136 u64 table chunks  144 u64 blob chunks
 *     152..183 zero   184 u64 checksum of bytes [0, 184)
 *   tables, each 8-byte aligned, sizes from the counts:
 *     docs     ndocs x {u64 id, u32 title - id, u32 text - id, u32 text bytes, u32 0}
 *     queries  nqueries x {u64 id, u32 text - id, u32 0}
 *     doc hash, query hash: slots x u32 (0 empty, else index + 1); slot of an id
 *              = FNV-1a-64(id) & (slots - 1), linear probing
 *     splits   nsplits x {u64 name, u64 first row, u64 rows, u64 queries with rows}
 *     qrels    all splits' rows x {u32 query, u32 doc, i32 rel}, each split
 *              sorted by (query, doc); padded to 8
 *     negs     given negatives x {u32 query, u32 doc}
 *     warnings messages x u64
 *   blob: NUL-terminated UTF-8 strings; offsets above are into the blob.  A
 *     document is "id\0title\0text\0", so its strings sit together.
 *   chunk table: one u64 checksum per 16 KiB chunk of the tables [192, blob),
 *     then one per 16 KiB chunk of the blob (the last chunk of each shorter).
 * Checksums: cstore_checksum (4 lanes of 64-bit multiply-xor words, then a
 * mix), defined here so the format does not depend on util's hash.
 *
 * Opening checks the header, the file size, the chunk table, and the chunks
 * of the small tables (splits, qrels, given negatives, warnings).  An eager
 * open (cstore_open) also checks every other chunk, the big tables and the
 * texts (cstore_verify), so its accessors never read a damaged byte: bulk
 * commands (export, mine, train, index builds) read most texts anyway.  A lazy
 * open (cstore_open_mode(path, 1, ...)) checks a chunk of the tables or the
 * texts when an accessor first reads it: a damaged chunk reads as "" (find:
 * -1), never as wrong data, and cstore_damage reports it; callers that open
 * lazily must ask cstore_damage before they trust what they read.  Every
 * failure names the file and says to rebuild.  Version 2 stores (one checksum
 * over the tables, one over the texts) are still read, eagerly (both checked).  Written once
 * through sy_write_file_atomic: a crash while building leaves the previous
 * file.  A handle may be read from several threads (the chunk checks are
 * atomic). */
#ifndef SY_CORPUS_STORE_H
#define SY_CORPUS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "corpus.h"
#include "err.h"

#define CSTORE_MAGIC "SYNEGCS"
#define CSTORE_VERSION 3

typedef struct cstore cstore;

/* Write corpus c to path (atomically), recording the source fingerprint.  A
 * streamed corpus (corpus_load_streamed) has its texts in its sink: they are
 * copied from there, and the bytes written are the same. */
int cstore_write(const corpus *c, uint64_t fingerprint, const char *path, sy_err *err);

/* Where a streamed load writes documents' strings as it parses them: an
 * unlinked temporary file, the first part of the store's string blob, with
 * its chunk checksums kept as it goes.  It is made in the folder the store
 * will be written to (near: the store's path), else the nearest existing
 * folder above it, else $TMPDIR or /tmp: on the store's file system, never a
 * memory-backed /tmp when avoidable. */
typedef struct cstore_sink cstore_sink;
cstore_sink *cstore_sink_new(const char *near, sy_err *err);
/* Append "id\0title\0text\0"; -1 with err when the file cannot be written. */
int cstore_sink_doc(cstore_sink *k, const char *id, size_t idlen, const char *title, size_t tlen, const char *text,
                    size_t xlen, sy_err *err);
void cstore_sink_free(cstore_sink *k);
/* Map path and check it (see above).  NULL with err naming the file. */
cstore *cstore_open(const char *path, sy_err *err);
/* The same with lazy != 0: the big tables and the texts are checked chunk by
 * chunk as they are read. */
cstore *cstore_open_mode(const char *path, int lazy, sy_err *err);
void cstore_free(cstore *s);
/* Check every chunk, texts too (reads the whole file). */
int cstore_verify(const cstore *s, sy_err *err);
/* -1 with err naming the file and the section when a lazy read found a
 * damaged chunk; 0 otherwise. */
int cstore_damage(const cstore *s, sy_err *err);

/* A fingerprint of the data set's files (names, sizes, modification times)
 * for the loader of fmt: changes when any of them does. */
int cstore_source_fingerprint(const char *path, corpus_format fmt, uint64_t *fp, sy_err *err);
uint64_t cstore_checksum(const void *p, size_t n);

/* Accessors (borrowed pointers into the mapping, valid until cstore_free). */
const char *cstore_path(const cstore *s);
uint64_t cstore_fingerprint(const cstore *s);
/* The format version the file was written in (2 or CSTORE_VERSION). */
int cstore_version(const cstore *s);
uint64_t cstore_ids_fingerprint(const cstore *s);
uint64_t cstore_content_hash(const cstore *s);
size_t cstore_size(const cstore *s);
uint32_t cstore_ndocs(const cstore *s);
uint32_t cstore_nqueries(const cstore *s);
const char *cstore_doc_id(const cstore *s, uint32_t d);
const char *cstore_doc_title(const cstore *s, uint32_t d);
const char *cstore_doc_text(const cstore *s, uint32_t d);
size_t cstore_doc_text_len(const cstore *s, uint32_t d);
int64_t cstore_doc_find(const cstore *s, const char *id);
const char *cstore_query_id(const cstore *s, uint32_t q);
const char *cstore_query_text(const cstore *s, uint32_t q);
int64_t cstore_query_find(const cstore *s, const char *id);
size_t cstore_nsplits(const cstore *s);
/* Split i: its name, rows (mapped, sorted) and count of queries with rows. */
const char *cstore_split(const cstore *s, size_t i, const corpus_qrel **rows, size_t *n, size_t *nqueries);
const corpus_given_neg *cstore_given_negs(const cstore *s, size_t *n);
size_t cstore_nwarnings(const cstore *s);
size_t cstore_nwarning_msgs(const cstore *s);
const char *cstore_warning(const cstore *s, size_t i);

#endif
