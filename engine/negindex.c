/* negindex: the merged view of the negatives store as one mapped file.  See negindex.h. */
#include "negindex.h"

#include <stdlib.h>
#include <string.h>

#include "corpus_store.h"   /* cstore_checksum: the one 4-lane file checksum */
#include "util.h"

#define NIX_MAGIC "SYNEGNIX"
#define NIX_VERSION 2
#define NIX_HDR 192
#define NIX_SEG 32
#define NIX_Q 16

_Static_assert(sizeof(neg_ref) == 8 && offsetof(neg_ref, row) == 4, "neg_ref is read in place from the index");

struct negidx {
    sy_map map;
    size_t nsegs, nq, nslots, blob_len, fbits;
    uint64_t total;
    const uint8_t *segs, *qs, *slots, *filter, *blob;
    const neg_ref *refs;
};

typedef struct {
    size_t segs, qs, slots, filter, refs, blob, end;   /* offsets; end = where the checksum goes */
} layout;

static size_t pad8(size_t x) { return (x + 7) & ~(size_t)7; }

static layout layout_of(size_t nsegs, size_t nq, size_t nslots, size_t fbits, uint64_t total, size_t blob_len)
{
    layout l;
    l.segs = NIX_HDR;
    l.qs = l.segs + nsegs * NIX_SEG;
    l.slots = l.qs + nq * NIX_Q;
    l.filter = l.slots + nslots * 8;
    l.refs = l.filter + fbits / 8;
    l.blob = l.refs + (size_t)total * 8;
    l.end = pad8(l.blob + blob_len);
    return l;
}

static size_t slots_for(size_t nq)
{
    size_t n = 16;
    while (n < nq * 2) n *= 2;
    return n;
}

/* The filter: 16 bits a query (one set per query: ~6 % of absent ids pass),
 * indexed by the hash's high half, so a lookup of an id that has no rows
 * (most of a corpus's queries, at the workbench's open) reads one bit of a
 * small array instead of a slot of a large one. */
static size_t fbits_for(size_t nq)
{
    size_t n = 64;
    while (n < nq * 16) n *= 2;
    return n;
}
static size_t fbit(uint64_t hv, size_t fbits) { return (size_t)(hv >> 32) & (fbits - 1); }

int negidx_write(const char *path, const negidx_data *d, sy_err *err)
{
    uint64_t total = 0;
    size_t blob_len = 1;
    for (size_t i = 0; i < d->nq; i++) total += d->nrefs[i], blob_len += strlen(d->qids[i]) + 1;
    for (size_t i = 0; i < d->nsegs; i++) blob_len += strlen(d->segs[i].name) + 1;
    if (blob_len > UINT32_MAX) return sy_fail(err, SY_EINVAL, "%s: too many query ids for one index", path);
    size_t nslots = slots_for(d->nq), fbits = fbits_for(d->nq);
    layout l = layout_of(d->nsegs, d->nq, nslots, fbits, total, blob_len);
    uint8_t *f = calloc(1, l.end + 8);
    if (!f) return sy_fail(err, SY_ENOMEM, "out of memory writing %s", path);
    memcpy(f, NIX_MAGIC, 8);
    sy_put_u32(f + 8, NIX_VERSION);
    sy_put_u32(f + 12, (uint32_t)d->nsegs);
    sy_put_u64(f + 16, l.end + 8);
    sy_put_u64(f + 24, d->nq);
    sy_put_u64(f + 32, total);
    sy_put_u64(f + 40, nslots);
    sy_put_u64(f + 48, blob_len);
    for (int i = 0; i < NEG_NSOURCES; i++) sy_put_u64(f + 56 + 8 * i, d->by_source[i]);
    for (int i = 0; i < 8; i++) sy_put_u64(f + 104 + 8 * i, d->by_flag[i]);
    sy_put_u64(f + 168, fbits);
    char *blob = (char *)f + l.blob;
    size_t bo = 1;
    for (size_t i = 0; i < d->nsegs; i++) {
        uint8_t *e = f + l.segs + i * NIX_SEG;
        size_t n = strlen(d->segs[i].name) + 1;
        memcpy(blob + bo, d->segs[i].name, n);
        sy_put_u32(e, (uint32_t)bo);
        sy_put_u64(e + 8, d->segs[i].size);
        sy_put_u64(e + 16, d->segs[i].checksum);
        bo += n;
    }
    uint64_t first = 0;
    for (size_t i = 0; i < d->nq; i++) {
        uint8_t *e = f + l.qs + i * NIX_Q;
        size_t n = strlen(d->qids[i]) + 1;
        memcpy(blob + bo, d->qids[i], n);
        sy_put_u32(e, (uint32_t)bo);
        sy_put_u32(e + 4, d->nrefs[i]);
        sy_put_u64(e + 8, first);
        bo += n;
        for (uint32_t j = 0; j < d->nrefs[i]; j++) {
            uint8_t *r = f + l.refs + (first + j) * 8;
            sy_put_u32(r, d->refs[i][j].seg);
            sy_put_u32(r + 4, d->refs[i][j].row);
        }
        first += d->nrefs[i];
        uint64_t hv = sy_hash64(d->qids[i], n - 1);
        size_t h = hv & (nslots - 1);
        while (sy_get_u32(f + l.slots + h * 8)) h = (h + 1) & (nslots - 1);
        sy_put_u32(f + l.slots + h * 8, (uint32_t)i + 1);
        sy_put_u32(f + l.slots + h * 8 + 4, (uint32_t)(hv >> 32));
        size_t b = fbit(hv, fbits);
        f[l.filter + b / 8] |= (uint8_t)(1u << (b % 8));
    }
    sy_put_u64(f + l.end, cstore_checksum(f, l.end));
    int r = sy_write_file_atomic(path, f, l.end + 8, err);
    free(f);
    return r;
}

negidx *negidx_open(const char *path, sy_err *err)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    sy_fail(err, SY_EUNSUP, "%s: the negatives index is read on little-endian hosts only", path);
    return NULL;
#endif
    if (!sy_file_exists(path)) {
        sy_fail(err, SY_ENOTFOUND, "%s: no negatives index", path);
        return NULL;
    }
    negidx *ix = calloc(1, sizeof *ix);
    if (!ix) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    if (sy_map_open(&ix->map, path, err) < 0) {
        free(ix);
        return NULL;
    }
    const uint8_t *f = ix->map.data;
    size_t len = ix->map.len;
    const char *why = NULL;
    if (len < NIX_HDR + 8 || memcmp(f, NIX_MAGIC, 8)) why = "not a negatives index";
    else if (sy_get_u32(f + 8) != NIX_VERSION) why = "unsupported index version";
    else if (sy_get_u64(f + 16) != len) why = "truncated";
    else {
        ix->nsegs = sy_get_u32(f + 12);
        ix->nq = sy_get_u64(f + 24);
        ix->total = sy_get_u64(f + 32);
        ix->nslots = sy_get_u64(f + 40);
        ix->blob_len = sy_get_u64(f + 48);
        ix->fbits = sy_get_u64(f + 168);
        if (ix->nq > len / NIX_Q || ix->total > len / 8 || ix->nslots > len / 8 || ix->blob_len > len ||
            ix->nslots < 16 || (ix->nslots & (ix->nslots - 1)) || ix->nslots < ix->nq * 2 ||
            ix->fbits / 8 > len || ix->fbits != fbits_for(ix->nq) ||
            ix->nsegs > len / NIX_SEG)
            why = "sizes do not match the file";
        else {
            layout l = layout_of(ix->nsegs, ix->nq, ix->nslots, ix->fbits, ix->total, ix->blob_len);
            if (l.end + 8 != len) why = "sizes do not match the file";
            else if (sy_get_u64(f + l.end) != cstore_checksum(f, l.end)) why = "checksum mismatch (the file was damaged)";
            else {
                ix->segs = f + l.segs;
                ix->qs = f + l.qs;
                ix->slots = f + l.slots;
                ix->filter = f + l.filter;
                ix->refs = (const neg_ref *)(const void *)(f + l.refs);
                ix->blob = f + l.blob;
                if (ix->blob_len == 0 || ix->blob[ix->blob_len - 1] != '\0') why = "string table is not terminated";
                for (size_t i = 0; !why && i < ix->nsegs; i++)
                    if (sy_get_u32(ix->segs + i * NIX_SEG) >= ix->blob_len) why = "a segment name is out of range";
                uint64_t first = 0;
                for (size_t i = 0; !why && i < ix->nq; i++) {
                    const uint8_t *e = ix->qs + i * NIX_Q;
                    if (sy_get_u32(e) >= ix->blob_len || sy_get_u64(e + 8) != first) why = "a query entry is out of range";
                    first += sy_get_u32(e + 4);
                }
                if (!why && first != ix->total) why = "query rows do not add up";
                uint32_t maxseg = 0;   /* one branch-free pass (vectorised), not a test per row */
                for (uint64_t i = 0; i < ix->total; i++) maxseg = ix->refs[i].seg > maxseg ? ix->refs[i].seg : maxseg;
                if (!why && ix->total && maxseg >= ix->nsegs) why = "a row names a segment that is not listed";
            }
        }
    }
    if (why) {
        sy_fail(err, SY_EFORMAT, "%s: %s; it is a cache, rebuilt at the next open", path, why);
        negidx_free(ix);
        return NULL;
    }
    return ix;
}

void negidx_free(negidx *ix)
{
    if (!ix) return;
    sy_map_close(&ix->map);
    free(ix);
}

size_t negidx_nsegs(const negidx *ix) { return ix->nsegs; }

negidx_seg negidx_seg_at(const negidx *ix, size_t i)
{
    const uint8_t *e = ix->segs + i * NIX_SEG;
    return (negidx_seg){(const char *)ix->blob + sy_get_u32(e), sy_get_u64(e + 8), sy_get_u64(e + 16)};
}

size_t negidx_nqueries(const negidx *ix) { return ix->nq; }
uint64_t negidx_total(const negidx *ix) { return ix->total; }

uint64_t negidx_count_source(const negidx *ix, int source)
{
    return source >= 0 && source < NEG_NSOURCES ? sy_get_u64(ix->map.data + 56 + 8 * source) : 0;
}

uint64_t negidx_count_flag_bit(const negidx *ix, int bit)
{
    return bit >= 0 && bit < 8 ? sy_get_u64(ix->map.data + 104 + 8 * bit) : 0;
}

const char *negidx_query_id(const negidx *ix, size_t i)
{
    return i < ix->nq ? (const char *)ix->blob + sy_get_u32(ix->qs + i * NIX_Q) : NULL;
}

const neg_ref *negidx_query_refs(const negidx *ix, size_t i, size_t *n)
{
    if (i >= ix->nq) {
        *n = 0;
        return NULL;
    }
    const uint8_t *e = ix->qs + i * NIX_Q;
    *n = sy_get_u32(e + 4);
    return ix->refs + sy_get_u64(e + 8);
}

int64_t negidx_find(const negidx *ix, const char *query_id)
{
    size_t len = strlen(query_id), mask = ix->nslots - 1;
    uint64_t hv = sy_hash64(query_id, len);
    uint32_t tag = (uint32_t)(hv >> 32);
    size_t b = fbit(hv, ix->fbits), h = hv & mask;
    if (!(ix->filter[b / 8] & (1u << (b % 8)))) return -1;
    for (size_t probes = 0; probes < ix->nslots; probes++, h = (h + 1) & mask) {
        uint32_t v = sy_get_u32(ix->slots + h * 8);
        if (!v) return -1;
        /* the tag spares reading another query's id for almost every miss */
        if (v <= ix->nq && sy_get_u32(ix->slots + h * 8 + 4) == tag && !strcmp(negidx_query_id(ix, v - 1), query_id))
            return (int64_t)v - 1;
    }
    return -1;
}
