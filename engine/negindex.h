/* negindex: the negatives store's merged view as one file, so a session with
 * many segments (one per `mine --shard I/N` run, per synthesis job, ...) opens
 * without reading or merging their rows: SESSION/cache/negatives.idx.
 *
 * neg_store (negstore.c) is its only user: after it has merged the segments
 * the slow way it writes this file; the next neg_store_open maps it and, when
 * the segment files named in it are exactly the ones in the folder (same
 * names, sizes and stored checksums), answers from it: counts from the
 * header, a query's rows through one hash lookup, rows from the segments
 * mapped in place.  It is a cache: deleting it only makes the next open slow.
 *
 * Layout (fixed fields little-endian; the reader refuses big-endian hosts,
 * whose neg_ref layout differs):
 *   header, 192 bytes:
 *     0 magic "SYNEGNIX"  8 u32 version (2)  12 u32 segments
 *     16 u64 file size    24 u64 live queries (with rows)  32 u64 rows
 *     40 u64 hash slots (a power of two)  48 u64 blob bytes
 *     56 6 x u64 rows by source  104 8 x u64 rows by flag bit
 *     168 u64 filter bits (a power of two, >= 16 x live queries)  176..191 zero
 *   segments  segments x {u32 name, u32 0, u64 file size, u64 stored checksum
 *             (the segment's last 8 bytes), u64 0}
 *   queries   live queries x {u32 id, u32 rows, u64 first row in refs}, in
 *             the store's first-seen order
 *   slots     hash slots x {u32 0 empty, else query index + 1; u32 tag = the
 *             id's sy_hash64 >> 32}; the slot of an id = sy_hash64(id) &
 *             (slots - 1), linear probing
 *   filter    filter bits / 8 bytes: bit (sy_hash64(id) >> 32) & (bits - 1) is
 *             set for each live query, so most absent ids are answered from
 *             it without touching the slots
 *   refs      rows x {u32 segment, u32 row}: each query's rows in store order
 *   blob      NUL-terminated strings (segment names, query ids); offset 0 = ""
 *   u64 cstore_checksum of everything before it (checked at open: the file
 *   is ~8 bytes a row, against ~32 + strings a row in the segments; the
 *   4-lane checksum reads it ~4x faster than sy_hash64 did in version 1)
 * Written through sy_write_file_atomic: a crash leaves the previous file or
 * none.  Handles are read-only and may be shared between threads; pointers
 * returned live until negidx_free.  Errors through sy_err. */
#ifndef SY_NEGINDEX_H
#define SY_NEGINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "negstore.h"

typedef struct {
    const char *name;      /* file name inside SESSION/negatives */
    uint64_t size;         /* file size in bytes */
    uint64_t checksum;     /* the segment's stored checksum (its last 8 bytes) */
} negidx_seg;

/* What negidx_write stores: the merged view of a neg_store. */
typedef struct {
    size_t nsegs;
    const negidx_seg *segs;
    size_t nq;                    /* live queries, in order */
    const char *const *qids;
    const neg_ref *const *refs;   /* refs[i]: nrefs[i] rows of query i */
    const uint32_t *nrefs;
    uint64_t by_source[NEG_NSOURCES], by_flag[8];
} negidx_data;

int negidx_write(const char *path, const negidx_data *d, sy_err *err);

typedef struct negidx negidx;
/* Map and check path.  NULL with err (SY_ENOTFOUND when there is none). */
negidx *negidx_open(const char *path, sy_err *err);
void negidx_free(negidx *ix);

size_t negidx_nsegs(const negidx *ix);
negidx_seg negidx_seg_at(const negidx *ix, size_t i);
size_t negidx_nqueries(const negidx *ix);
uint64_t negidx_total(const negidx *ix);
uint64_t negidx_count_source(const negidx *ix, int source);
uint64_t negidx_count_flag_bit(const negidx *ix, int bit);
const char *negidx_query_id(const negidx *ix, size_t i);
/* Rows of the i-th live query (borrowed, into the mapping). */
const neg_ref *negidx_query_refs(const negidx *ix, size_t i, size_t *n);
/* Index of a query among the live ones, or -1. */
int64_t negidx_find(const negidx *ix, const char *query_id);

#endif
