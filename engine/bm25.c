/* bm25: index build (threads), on-disk format, Lucene-exact scoring, MaxScore
 * top-k search (see bm25.h). */
#include "bm25.h"
#include "parfor.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer.h"
#include "util.h"

/* ---- file format ----------------------------------------------------------
 * All fields little-endian; sections 8-byte aligned.
 *   header (128 bytes): magic "SYBM25IX", u32 version, u32 header size,
 *     u32 ndocs, u32 doc_count, u64 sum_total_tf, u32 nterms, u32 block size,
 *     u64 npostings, u64 fingerprint, u64 offsets of norms, terms, strings,
 *     docs, tfs, blocks, u64 nblocks, u64 file size, u64 reserved.
 *   norms   u8[ndocs]        SmallFloat.intToByte4(length); 0 for empty docs
 *   terms   32 bytes each, sorted by term bytes: u32 string offset, u32 length,
 *           u32 df, u32 max tf, u64 first posting, u32 first block, u8 min norm, 3 pad
 *   strings term bytes
 *   docs    u32[npostings]   per term ascending document index
 *   tfs     u32[npostings]
 *   blocks  8 bytes each, one per BLOCK postings of a term: u32 last doc,
 *           u32 (max tf << 8 | min norm), max tf saturating at 2^24-1. */
#define BM25_MAGIC "SYBM25IX"
#define BM25_VERSION 1
#define HDR_SIZE 128
#define TERM_SIZE 32
#define BLOCK 128

static const uint8_t *hdr_at(const uint8_t *p, size_t off) { return p + off; }

/* ---- SmallFloat ------------------------------------------------------------ */

static uint32_t long_to_int4(uint64_t i)
{
    int nbits = i ? 64 - __builtin_clzll(i) : 0;
    if (nbits < 4) return (uint32_t)i;
    int shift = nbits - 4;
    uint32_t enc = (uint32_t)(i >> shift) & 0x07;
    return enc | (uint32_t)(shift + 1) << 3;
}

static uint64_t int4_to_long(uint32_t i)
{
    uint64_t bits = i & 0x07;
    int shift = (int)(i >> 3) - 1;
    return shift == -1 ? bits : (bits | 0x08) << shift;
}

#define NUM_FREE_VALUES 24   /* 255 - longToInt4(Integer.MAX_VALUE) */

uint8_t bm25_int_to_byte4(uint32_t i)
{
    if (i > 0x7fffffffu) i = 0x7fffffffu;
    if (i < NUM_FREE_VALUES) return (uint8_t)i;
    return (uint8_t)(NUM_FREE_VALUES + long_to_int4(i - NUM_FREE_VALUES));
}

uint32_t bm25_byte4_to_int(uint8_t b)
{
    if (b < NUM_FREE_VALUES) return b;
    uint64_t d = NUM_FREE_VALUES + int4_to_long(b - NUM_FREE_VALUES);
    return d > 0x7fffffffu ? 0x7fffffffu : (uint32_t)d;
}

/* ---- build: per-thread term dictionaries ------------------------------------ */

typedef struct {
    uint64_t *hash;     /* 0 = empty slot */
    uint32_t *id;       /* slot -> term id */
    size_t cap, n;
    uint32_t *str_off, *str_len;   /* by id */
    size_t ids_cap;
    sy_buf arena;
} dict;

static int dict_init(dict *d)
{
    memset(d, 0, sizeof *d);
    d->cap = 1 << 14;
    d->hash = calloc(d->cap, sizeof *d->hash);
    d->id = malloc(d->cap * sizeof *d->id);
    return d->hash && d->id ? 0 : -1;
}

static void dict_free(dict *d)
{
    free(d->hash); free(d->id); free(d->str_off); free(d->str_len);
    sy_buf_free(&d->arena);
}

static int dict_grow(dict *d)
{
    size_t nc = d->cap * 2;
    uint64_t *nh = calloc(nc, sizeof *nh);
    uint32_t *ni = malloc(nc * sizeof *ni);
    if (!nh || !ni) { free(nh); free(ni); return -1; }
    for (size_t i = 0; i < d->cap; i++) {
        if (!d->hash[i]) continue;
        size_t j = d->hash[i] & (nc - 1);
        while (nh[j]) j = (j + 1) & (nc - 1);
        nh[j] = d->hash[i];
        ni[j] = d->id[i];
    }
    free(d->hash); free(d->id);
    d->hash = nh; d->id = ni; d->cap = nc;
    return 0;
}

/* id of term (inserted if new); -1 on ENOMEM */
static int64_t dict_put(dict *d, const char *s, size_t n)
{
    uint64_t h = sy_hash64(s, n) | 1;
    size_t j = h & (d->cap - 1);
    while (d->hash[j]) {
        if (d->hash[j] == h) {
            uint32_t id = d->id[j];
            if (d->str_len[id] == n && memcmp(d->arena.data + d->str_off[id], s, n) == 0) return id;
        }
        j = (j + 1) & (d->cap - 1);
    }
    if (d->n == d->ids_cap) {
        size_t nc = d->ids_cap ? d->ids_cap * 2 : 4096;
        uint32_t *a = realloc(d->str_off, nc * sizeof *a);
        if (!a) return -1;
        d->str_off = a;
        uint32_t *b = realloc(d->str_len, nc * sizeof *b);
        if (!b) return -1;
        d->str_len = b;
        d->ids_cap = nc;
    }
    uint32_t id = (uint32_t)d->n++;
    d->str_off[id] = (uint32_t)d->arena.len;
    d->str_len[id] = (uint32_t)n;
    if (sy_buf_append(&d->arena, s, n) < 0) return -1;
    d->hash[j] = h;
    d->id[j] = id;
    if (d->n * 2 > d->cap && dict_grow(d) < 0) return -1;
    return id;
}

typedef struct {
    /* inputs */
    bm25_doc_fn fn;
    void *ctx;
    uint32_t lo, hi;       /* document range */
    atomic_size_t *done;
    const bm25_build_opts *report;   /* part 0 (the calling thread) reports progress */
    uint32_t ndocs;
    /* outputs */
    dict dict;
    uint32_t *pairs;       /* (term, tf) pairs, documents in order */
    size_t npairs, pairs_cap;
    uint32_t *doc_npairs;  /* per document in range */
    uint32_t *doc_len;     /* per document in range */
    uint32_t *last_doc, *slot;   /* by local term: last doc seen, its pair index */
    size_t term_cap;
    uint32_t cur_doc;
    int failed;
    /* fill phase */
    uint32_t *local_to_global;
    uint64_t *cursor;      /* by global term: next posting index for this thread */
} build_part;

static int part_term(void *vctx, const char *t, size_t n, uint32_t *slot)
{
    build_part *p = vctx;
    int64_t id = *slot;
    if (*slot == UINT32_MAX) {
        id = dict_put(&p->dict, t, n);
        if (id < 0) { p->failed = 1; return 1; }
        *slot = (uint32_t)id;
    }
    if ((size_t)id >= p->term_cap) {
        size_t nc = p->term_cap ? p->term_cap * 2 : 4096;
        uint32_t *a = realloc(p->last_doc, nc * sizeof *a), *b;
        if (!a) { p->failed = 1; return 1; }
        p->last_doc = a;
        b = realloc(p->slot, nc * sizeof *b);
        if (!b) { p->failed = 1; return 1; }
        p->slot = b;
        for (size_t i = p->term_cap; i < nc; i++) p->last_doc[i] = UINT32_MAX;
        p->term_cap = nc;
    }
    if (p->last_doc[id] == p->cur_doc) {
        p->pairs[2 * (size_t)p->slot[id] + 1]++;
        return 0;
    }
    if (p->npairs == p->pairs_cap) {
        size_t nc = p->pairs_cap ? p->pairs_cap * 2 : 1 << 16;
        uint32_t *a = realloc(p->pairs, nc * 2 * sizeof *a);
        if (!a) { p->failed = 1; return 1; }
        p->pairs = a;
        p->pairs_cap = nc;
    }
    p->last_doc[id] = p->cur_doc;
    p->slot[id] = (uint32_t)p->npairs;
    p->pairs[2 * p->npairs] = (uint32_t)id;
    p->pairs[2 * p->npairs + 1] = 1;
    p->npairs++;
    return 0;
}

static void part_run(void *arg, size_t lo_, size_t hi_, int part)
{
    build_part *p = (build_part *)arg + part;   /* one part per document range */
    (void)lo_, (void)hi_;
    size_t words = (size_t)(p->hi - p->lo) * 4;   /* a first guess; the cache grows */
    analyzer *a = an_new_cache(words < (1u << 16) ? words : (1u << 16), NULL);
    size_t n = p->hi - p->lo;
    if (a && dict_init(&p->dict) == 0) {
        p->doc_npairs = malloc((n + 1) * sizeof *p->doc_npairs);
        p->doc_len = malloc((n + 1) * sizeof *p->doc_len);
    }
    if (!a || !p->doc_npairs || !p->doc_len) {
        an_free(a);
        p->failed = 1;
        return;
    }
    for (uint32_t d = p->lo; d < p->hi && !p->failed; d++) {
        const char *title = NULL, *text = NULL;
        size_t tl = 0, xl = 0;
        p->fn(p->ctx, d, &title, &tl, &text, &xl);
        p->cur_doc = d;
        size_t before = p->npairs;
        long len = 0;
        /* "title\ntext": the newline is a word boundary, so analyze the parts in turn */
        if (title && tl) { long r = an_analyze_slots(a, title, tl, part_term, p); len += r > 0 ? r : 0; }
        if (text && xl) { long r = an_analyze_slots(a, text, xl, part_term, p); len += r > 0 ? r : 0; }
        p->doc_npairs[d - p->lo] = (uint32_t)(p->npairs - before);
        p->doc_len[d - p->lo] = (uint32_t)len;
        if (((d - p->lo) & 255) == 255) {
            atomic_fetch_add(p->done, 256);
            if (p->report && ((d - p->lo) & 4095) == 4095)
                p->report->progress(p->report->progress_ctx, atomic_load(p->done), p->ndocs);
        }
    }
    atomic_fetch_add(p->done, n & 255);
    an_free(a);
}

typedef struct {
    const char *s;
    uint32_t len;
} term_str;

static int cmp_term_ptr(const void *a, const void *b)
{
    const term_str *x = *(const term_str *const *)a, *y = *(const term_str *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

typedef struct {
    build_part *p;
    uint8_t *img;
    uint64_t off_docs, off_tfs;
} fill_job;

static int write_index(const char *path, const uint8_t *img, size_t len, sy_err *err);

static void fill_run(void *arg, size_t lo_, size_t hi_, int part)
{
    fill_job *j = (fill_job *)arg + part;
    (void)lo_, (void)hi_;
    build_part *p = j->p;
    uint32_t *docs = (uint32_t *)(j->img + j->off_docs);
    uint32_t *tfs = (uint32_t *)(j->img + j->off_tfs);
    size_t k = 0;
    for (uint32_t d = p->lo; d < p->hi; d++) {
        uint32_t np = p->doc_npairs[d - p->lo];
        for (uint32_t i = 0; i < np; i++, k++) {
            uint32_t g = p->local_to_global[p->pairs[2 * k]];
            uint64_t at = p->cursor[g]++;
            docs[at] = d;
            tfs[at] = p->pairs[2 * k + 1];
        }
    }
}

static int host_is_le(void)
{
    uint32_t x = 1;
    return *(uint8_t *)&x == 1;
}

int bm25_build_texts(uint32_t ndocs, bm25_doc_fn fn, void *ctx, uint64_t fingerprint,
                     const char *path, const bm25_build_opts *opts, sy_err *err)
{
    if (!host_is_le()) return sy_fail(err, SY_EUNSUP, "%s: the BM25 index needs a little-endian host", path);
    int nt = opts && opts->nthreads > 0 ? opts->nthreads : 2;
    if (nt > 32) nt = 32;
    if ((uint32_t)nt > ndocs) nt = ndocs ? (int)ndocs : 1;
    build_part *parts = calloc((size_t)nt, sizeof *parts);
    atomic_size_t done = 0;
    int rc = -1;
    uint8_t *img = NULL;
    term_str *gterms = NULL, **order = NULL;
    uint32_t *grank = NULL;
    uint64_t *df = NULL;
    dict g;
    memset(&g, 0, sizeof g);
    if (!parts) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory"); goto out; }
    for (int t = 0; t < nt; t++) {
        parts[t].fn = fn; parts[t].ctx = ctx; parts[t].done = &done; parts[t].ndocs = ndocs;
        parts[t].report = t == 0 && opts && opts->progress ? opts : NULL;
        parts[t].lo = (uint32_t)((uint64_t)ndocs * t / nt);
        parts[t].hi = (uint32_t)((uint64_t)ndocs * (t + 1) / nt);
    }
    if (opts && opts->progress) opts->progress(opts->progress_ctx, 0, ndocs);
    sy_par_for((size_t)nt, nt, part_run, parts);
    if (opts && opts->progress) opts->progress(opts->progress_ctx, ndocs, ndocs);
    for (int t = 0; t < nt; t++)
        if (parts[t].failed) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory while analyzing"); goto out; }

    /* merge dictionaries: global ids in first-seen order, then sorted ranks */
    if (dict_init(&g) < 0) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory"); goto out; }
    for (int t = 0; t < nt; t++) {
        dict *d = &parts[t].dict;
        parts[t].local_to_global = malloc((d->n + 1) * sizeof(uint32_t));
        if (!parts[t].local_to_global) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory"); goto out; }
        for (size_t i = 0; i < d->n; i++) {
            int64_t id = dict_put(&g, d->arena.data + d->str_off[i], d->str_len[i]);
            if (id < 0) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory"); goto out; }
            parts[t].local_to_global[i] = (uint32_t)id;
        }
    }
    size_t nterms = g.n;
    gterms = malloc((nterms + 1) * sizeof *gterms);
    order = malloc((nterms + 1) * sizeof *order);
    grank = malloc((nterms + 1) * sizeof *grank);
    df = calloc(nterms + 1, sizeof *df);
    if (!gterms || !order || !grank || !df) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory"); goto out; }
    for (size_t i = 0; i < nterms; i++) {
        gterms[i].s = g.arena.data + g.str_off[i];
        gterms[i].len = g.str_len[i];
        order[i] = &gterms[i];
    }
    qsort(order, nterms, sizeof *order, cmp_term_ptr);
    for (size_t r = 0; r < nterms; r++) grank[order[r] - gterms] = (uint32_t)r;
    for (int t = 0; t < nt; t++) {
        dict *d = &parts[t].dict;
        for (size_t i = 0; i < d->n; i++) parts[t].local_to_global[i] = grank[parts[t].local_to_global[i]];
    }
    /* per-thread document frequencies give each thread its own output range */
    for (int t = 0; t < nt; t++) {
        parts[t].cursor = calloc(nterms + 1, sizeof(uint64_t));
        if (!parts[t].cursor) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory"); goto out; }
        for (size_t k = 0; k < parts[t].npairs; k++)
            parts[t].cursor[parts[t].local_to_global[parts[t].pairs[2 * k]]]++;
    }
    uint64_t npost = 0, nblocks = 0, sum_ttf = 0, strbytes = 0;
    uint32_t doc_count = 0;
    for (size_t r = 0; r < nterms; r++) {
        uint64_t start = npost;
        for (int t = 0; t < nt; t++) {
            uint64_t c = parts[t].cursor[r];
            parts[t].cursor[r] = npost;
            npost += c;
        }
        df[r] = npost - start;
        nblocks += (df[r] + BLOCK - 1) / BLOCK;
        strbytes += order[r]->len;
    }
    if (npost > UINT32_MAX * (uint64_t)4) { sy_fail(err, SY_EUNSUP, "bm25 build: too many postings"); goto out; }
    for (int t = 0; t < nt; t++)
        for (uint32_t d = parts[t].lo; d < parts[t].hi; d++) {
            uint32_t l = parts[t].doc_len[d - parts[t].lo];
            sum_ttf += l;
            doc_count += l > 0;
        }
#define ALIGN8(x) (((x) + 7) & ~(uint64_t)7)
    uint64_t off_norms = HDR_SIZE;
    uint64_t off_terms = ALIGN8(off_norms + ndocs);
    uint64_t off_strings = off_terms + (uint64_t)nterms * TERM_SIZE;
    uint64_t off_docs = ALIGN8(off_strings + strbytes);
    uint64_t off_tfs = off_docs + npost * 4;
    uint64_t off_blocks = off_tfs + npost * 4;
    uint64_t fsize = off_blocks + nblocks * 8;
    img = calloc(1, fsize);
    if (!img) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory for a %llu-byte index", (unsigned long long)fsize); goto out; }
    /* postings, in parallel: each thread owns its documents' slots */
    fill_job *jobs = calloc((size_t)nt, sizeof *jobs);
    if (!jobs) { sy_fail(err, SY_ENOMEM, "bm25 build: out of memory"); goto out; }
    for (int t = 0; t < nt; t++) jobs[t] = (fill_job){&parts[t], img, off_docs, off_tfs};
    sy_par_for((size_t)nt, nt, fill_run, jobs);
    free(jobs);
    /* norms */
    uint8_t *norms = img + off_norms;
    for (int t = 0; t < nt; t++)
        for (uint32_t d = parts[t].lo; d < parts[t].hi; d++)
            norms[d] = bm25_int_to_byte4(parts[t].doc_len[d - parts[t].lo]);
    /* terms, strings, blocks */
    const uint32_t *docs = (const uint32_t *)(img + off_docs), *tfs = (const uint32_t *)(img + off_tfs);
    uint64_t post = 0, blk = 0, soff = 0;
    for (size_t r = 0; r < nterms; r++) {
        uint8_t *te = img + off_terms + r * TERM_SIZE;
        memcpy(img + off_strings + soff, order[r]->s, order[r]->len);
        uint32_t max_tf = 0;
        uint8_t min_norm = 255;
        uint64_t n = df[r];
        for (uint64_t b0 = 0; b0 < n; b0 += BLOCK) {
            uint64_t b1 = b0 + BLOCK < n ? b0 + BLOCK : n;
            uint32_t bmax = 0;
            uint8_t bmin = 255;
            for (uint64_t i = post + b0; i < post + b1; i++) {
                if (tfs[i] > bmax) bmax = tfs[i];
                if (norms[docs[i]] < bmin) bmin = norms[docs[i]];
            }
            if (bmax > max_tf) max_tf = bmax;
            if (bmin < min_norm) min_norm = bmin;
            uint8_t *be = img + off_blocks + (blk + b0 / BLOCK) * 8;
            sy_put_u32(be, docs[post + b1 - 1]);
            sy_put_u32(be + 4, (bmax > 0xffffff ? 0xffffffu : bmax) << 8 | bmin);
        }
        sy_put_u32(te, (uint32_t)soff);
        sy_put_u32(te + 4, order[r]->len);
        sy_put_u32(te + 8, (uint32_t)n);
        sy_put_u32(te + 12, max_tf);
        sy_put_u64(te + 16, post);
        sy_put_u32(te + 24, (uint32_t)blk);
        te[28] = min_norm;
        soff += order[r]->len;
        post += n;
        blk += (n + BLOCK - 1) / BLOCK;
    }
    memcpy(img, BM25_MAGIC, 8);
    sy_put_u32(img + 8, BM25_VERSION);
    sy_put_u32(img + 12, HDR_SIZE);
    sy_put_u32(img + 16, ndocs);
    sy_put_u32(img + 20, doc_count);
    sy_put_u64(img + 24, sum_ttf);
    sy_put_u32(img + 32, (uint32_t)nterms);
    sy_put_u32(img + 36, BLOCK);
    sy_put_u64(img + 40, npost);
    sy_put_u64(img + 48, fingerprint);
    sy_put_u64(img + 56, off_norms);
    sy_put_u64(img + 64, off_terms);
    sy_put_u64(img + 72, off_strings);
    sy_put_u64(img + 80, off_docs);
    sy_put_u64(img + 88, off_tfs);
    sy_put_u64(img + 96, off_blocks);
    sy_put_u64(img + 104, nblocks);
    sy_put_u64(img + 112, fsize);
    /* free the build state before writing, to keep the peak low */
    for (int t = 0; t < nt; t++) {
        free(parts[t].pairs); parts[t].pairs = NULL;
    }
    rc = write_index(path, img, fsize, err);
out:
    if (parts)
        for (int t = 0; t < nt; t++) {
            dict_free(&parts[t].dict);
            free(parts[t].pairs); free(parts[t].doc_npairs); free(parts[t].doc_len);
            free(parts[t].last_doc); free(parts[t].slot);
            free(parts[t].local_to_global); free(parts[t].cursor);
        }
    if (g.hash) dict_free(&g);
    free(parts); free(img); free(gterms); free(order); free(grank); free(df);
    return rc;
}

/* The index is a cache that bm25_open verifies (magic, version, sizes) and
 * the retriever rebuilds when it does not open; it is written through the
 * one atomic writer all the same. */
static int write_index(const char *path, const uint8_t *img, size_t len, sy_err *err)
{
    if (sy_write_file_atomic(path, img, len, err) < 0) {
        sy_err_prefix(err, "%s: cannot write the index file", path);
        return -1;
    }
    return 0;
}

static void corpus_doc(void *ctx, uint32_t d, const char **title, size_t *tl, const char **text, size_t *xl)
{
    const corpus *c = ctx;
    *title = corpus_doc_title(c, d);
    *tl = strlen(*title);
    *text = corpus_doc_text(c, d);
    *xl = corpus_doc_text_len(c, d);
}

uint64_t bm25_corpus_fingerprint(const corpus *c) { return corpus_ids_fingerprint(c); }

int bm25_build(const corpus *c, const char *path, const bm25_build_opts *opts, sy_err *err)
{
    int rc = bm25_build_texts(corpus_ndocs(c), corpus_doc, (void *)c, bm25_corpus_fingerprint(c),
                              path, opts, err);
    /* a lazily opened store reads a damaged text as "": such an index is not kept */
    if (rc == 0 && corpus_store_damage(c, err) < 0) {
        unlink(path);
        rc = -1;
    }
    return rc;
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct {
    uint32_t id;        /* term rank */
    uint32_t count;     /* occurrences in the query */
    const uint32_t *docs, *tfs;
    const uint8_t *blocks;
    uint32_t df, nblocks;
    float weight;
    double ub;          /* upper bound of this term's score */
    uint32_t pos;       /* cursor */
} qterm;

typedef struct { float score; uint32_t doc; } hit;

struct bm25_index {
    sy_map map;
    char *path;
    uint32_t ndocs, doc_count, nterms;
    uint64_t sum_ttf, npost, fingerprint, nblocks;
    const uint8_t *norms, *terms, *strings, *blocks;
    const uint32_t *docs, *tfs;
    float k1, b, avgdl;
    float cache[256];
    analyzer *an;
    qterm *qt;
    size_t nqt, qt_cap;
    hit *heap;
    size_t heap_cap;
    double *acc;        /* exhaustive search accumulator */
};

uint32_t bm25_ndocs(const bm25_index *ix) { return ix->ndocs; }
uint32_t bm25_doc_count(const bm25_index *ix) { return ix->doc_count; }
uint32_t bm25_nterms(const bm25_index *ix) { return ix->nterms; }
uint64_t bm25_npostings(const bm25_index *ix) { return ix->npost; }
uint64_t bm25_fingerprint(const bm25_index *ix) { return ix->fingerprint; }
size_t bm25_file_size(const bm25_index *ix) { return ix->map.len; }
float bm25_avgdl(const bm25_index *ix) { return ix->avgdl; }
uint32_t bm25_doc_norm_length(const bm25_index *ix, uint32_t doc)
{
    return doc < ix->ndocs ? bm25_byte4_to_int(ix->norms[doc]) : 0;
}

int bm25_set_params(bm25_index *ix, float k1, float b, sy_err *err)
{
    if (!(k1 >= 0 && k1 < 1000) || !(b >= 0 && b <= 1))
        return sy_fail(err, SY_EINVAL, "bm25: k1 = %g, b = %g out of range; use k1 >= 0 and 0 <= b <= 1", k1, b);
    ix->k1 = k1;
    ix->b = b;
    for (int i = 0; i < 256; i++) {
        float len = (float)bm25_byte4_to_int((uint8_t)i);
        ix->cache[i] = 1.0f / (k1 * ((1 - b) + b * len / ix->avgdl));
    }
    return 0;
}

bm25_index *bm25_open(const char *path, sy_err *err)
{
    bm25_index *ix = calloc(1, sizeof *ix);
    if (!ix) { sy_fail(err, SY_ENOMEM, "bm25: out of memory"); return NULL; }
    if (sy_map_open(&ix->map, path, err) < 0) { free(ix); return NULL; }
    const uint8_t *p = ix->map.data;
    size_t len = ix->map.len;
    if (len < HDR_SIZE || memcmp(p, BM25_MAGIC, 8) != 0) {
        sy_fail(err, SY_EFORMAT, "%s: not a syneg BM25 index; rebuild it with 'syneg index SESSION'", path);
        goto fail;
    }
    if (sy_get_u32(p + 8) != BM25_VERSION || sy_get_u32(p + 12) != HDR_SIZE || !host_is_le()) {
        sy_fail(err, SY_EFORMAT, "%s: BM25 index version %u, this syneg reads version %u; rebuild it with 'syneg index SESSION'",
                path, sy_get_u32(p + 8), BM25_VERSION);
        goto fail;
    }
    ix->ndocs = sy_get_u32(p + 16);
    ix->doc_count = sy_get_u32(p + 20);
    ix->sum_ttf = sy_get_u64(p + 24);
    ix->nterms = sy_get_u32(p + 32);
    ix->npost = sy_get_u64(p + 40);
    ix->fingerprint = sy_get_u64(p + 48);
    uint64_t o_norms = sy_get_u64(p + 56), o_terms = sy_get_u64(p + 64), o_str = sy_get_u64(p + 72);
    uint64_t o_docs = sy_get_u64(p + 80), o_tfs = sy_get_u64(p + 88), o_blk = sy_get_u64(p + 96);
    ix->nblocks = sy_get_u64(p + 104);
    if (sy_get_u32(p + 36) != BLOCK || sy_get_u64(p + 112) != len || o_norms + ix->ndocs > len ||
        o_terms + (uint64_t)ix->nterms * TERM_SIZE > len || o_str > len || o_docs % 4 || o_tfs % 4 ||
        o_docs + ix->npost * 4 > len || o_tfs + ix->npost * 4 > len || o_blk + ix->nblocks * 8 != len) {
        sy_fail(err, SY_EFORMAT, "%s: BM25 index is truncated or corrupt; rebuild it with 'syneg index SESSION'", path);
        goto fail;
    }
    ix->norms = hdr_at(p, o_norms);
    ix->terms = hdr_at(p, o_terms);
    ix->strings = hdr_at(p, o_str);
    ix->docs = (const uint32_t *)hdr_at(p, o_docs);
    ix->tfs = (const uint32_t *)hdr_at(p, o_tfs);
    ix->blocks = hdr_at(p, o_blk);
    ix->avgdl = ix->doc_count ? (float)((double)ix->sum_ttf / (double)ix->doc_count) : 1.0f;
    ix->path = strdup(path);
    ix->an = an_new(err);
    if (!ix->an || !ix->path) goto fail;
    bm25_set_params(ix, BM25_K1_DEFAULT, BM25_B_DEFAULT, NULL);
    return ix;
fail:
    bm25_free(ix);
    return NULL;
}

void bm25_free(bm25_index *ix)
{
    if (!ix) return;
    sy_map_close(&ix->map);
    an_free(ix->an);
    free(ix->path); free(ix->qt); free(ix->heap); free(ix->acc);
    free(ix);
}

/* term rank by binary search, -1 when absent */
static int64_t find_term(const bm25_index *ix, const char *t, size_t n)
{
    int64_t lo = 0, hi = (int64_t)ix->nterms - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        const uint8_t *te = ix->terms + (size_t)mid * TERM_SIZE;
        uint32_t so = sy_get_u32(te), sl = sy_get_u32(te + 4);
        size_t m = sl < n ? sl : n;
        int c = memcmp(ix->strings + so, t, m);
        if (!c) c = (sl > n) - (sl < n);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

uint32_t bm25_df(const bm25_index *ix, const char *term)
{
    int64_t r = find_term(ix, term, strlen(term));
    return r < 0 ? 0 : sy_get_u32(ix->terms + (size_t)r * TERM_SIZE + 8);
}

static inline float term_score(const bm25_index *ix, float w, uint32_t tf, uint8_t norm)
{
    return w - w / (1.0f + (float)tf * ix->cache[norm]);
}

static int add_qterm(void *ctx, const char *t, size_t n)
{
    bm25_index *ix = ctx;
    int64_t r = find_term(ix, t, n);
    if (r < 0) return 0;
    for (size_t i = 0; i < ix->nqt; i++)
        if (ix->qt[i].id == (uint32_t)r) { ix->qt[i].count++; return 0; }
    if (ix->nqt == ix->qt_cap) {
        size_t nc = ix->qt_cap ? ix->qt_cap * 2 : 16;
        qterm *q = realloc(ix->qt, nc * sizeof *q);
        if (!q) return 1;
        ix->qt = q;
        ix->qt_cap = nc;
    }
    qterm *q = &ix->qt[ix->nqt++];
    memset(q, 0, sizeof *q);
    q->id = (uint32_t)r;
    q->count = 1;
    return 0;
}

/* Analyze the query into ix->qt with weights and bounds; 0 or -1 */
static int prepare(bm25_index *ix, const char *query, sy_err *err)
{
    ix->nqt = 0;
    if (an_analyze(ix->an, query, strlen(query), add_qterm, ix) < 0)
        return sy_fail(err, SY_ENOMEM, "bm25: out of memory analyzing a query");
    for (size_t i = 0; i < ix->nqt; i++) {
        qterm *q = &ix->qt[i];
        const uint8_t *te = ix->terms + (size_t)q->id * TERM_SIZE;
        q->df = sy_get_u32(te + 8);
        uint32_t max_tf = sy_get_u32(te + 12);
        uint64_t post = sy_get_u64(te + 16);
        q->docs = ix->docs + post;
        q->tfs = ix->tfs + post;
        q->blocks = ix->blocks + (size_t)sy_get_u32(te + 24) * 8;
        q->nblocks = (q->df + BLOCK - 1) / BLOCK;
        float idf = (float)log(1 + ((double)ix->doc_count - q->df + 0.5) / (q->df + 0.5));
        q->weight = (float)q->count * idf;
        q->ub = term_score(ix, q->weight, max_tf, te[28]);
        q->pos = 0;
    }
    return 0;
}

/* heap of the k best: a min-heap by (score, -doc): the root is the worst hit */
static inline int worse(hit a, hit b) { return a.score < b.score || (a.score == b.score && a.doc > b.doc); }

static void heap_push(hit *h, size_t *n, size_t k, hit x)
{
    if (*n < k) {
        size_t i = (*n)++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(x, h[p])) break;
            h[i] = h[p];
            i = p;
        }
        h[i] = x;
        return;
    }
    if (!worse(h[0], x)) return;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        hit mv = x;
        if (l < k && worse(h[l], mv)) { m = l; mv = h[l]; }
        if (r < k && worse(h[r], mv)) { m = r; mv = h[r]; }
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}

static int cmp_hit_best(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

static int ensure_heap(bm25_index *ix, size_t k, sy_err *err)
{
    if (k <= ix->heap_cap) return 0;
    hit *h = realloc(ix->heap, k * sizeof *h);
    if (!h) return sy_fail(err, SY_ENOMEM, "bm25: out of memory for k = %zu", k);
    ix->heap = h;
    ix->heap_cap = k;
    return 0;
}

static long finish(bm25_index *ix, size_t n, uint32_t *docs, float *scores)
{
    qsort(ix->heap, n, sizeof *ix->heap, cmp_hit_best);
    for (size_t i = 0; i < n; i++) {
        docs[i] = ix->heap[i].doc;
        if (scores) scores[i] = ix->heap[i].score;
    }
    return (long)n;
}

/* Move q's cursor to the first posting with doc >= d (block skip, then binary search). */
static inline void advance(qterm *q, uint32_t d)
{
    if (q->pos >= q->df || q->docs[q->pos] >= d) return;
    uint32_t b = q->pos / BLOCK;
    if (sy_get_u32(q->blocks + (size_t)b * 8) < d) {
        /* gallop over blocks */
        uint32_t step = 1, lo = b + 1, hi;
        for (;;) {
            hi = lo + step;
            if (hi >= q->nblocks) { hi = q->nblocks; break; }
            if (sy_get_u32(q->blocks + (size_t)(hi - 1) * 8) >= d) break;
            lo = hi;
            step *= 2;
        }
        while (lo < hi) {   /* first block in [lo, hi) whose last doc >= d */
            uint32_t mid = lo + (hi - lo) / 2;
            if (sy_get_u32(q->blocks + (size_t)mid * 8) >= d) hi = mid; else lo = mid + 1;
        }
        if (lo >= q->nblocks) { q->pos = q->df; return; }
        b = lo;
        q->pos = b * BLOCK;
    }
    uint32_t end = (b + 1) * BLOCK < q->df ? (b + 1) * BLOCK : q->df;
    uint32_t lo = q->pos, hi = end;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (q->docs[mid] >= d) hi = mid; else lo = mid + 1;
    }
    q->pos = lo;
}

static int cmp_qterm_ub(const void *a, const void *b)
{
    const qterm *x = a, *y = b;
    if (x->ub != y->ub) return x->ub < y->ub ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

long bm25_search(bm25_index *ix, const char *query, size_t k, uint32_t *docs, float *scores, sy_err *err)
{
    if (k == 0) return 0;
    if (prepare(ix, query, err) < 0 || ensure_heap(ix, k, err) < 0) return -1;
    size_t nq = ix->nqt, nh = 0;
    if (!nq) return 0;
    qterm *qt = ix->qt;
    qsort(qt, nq, sizeof *qt, cmp_qterm_ub);
    double prefix[nq];   /* prefix[i]: bound of terms 0..i, slightly inflated */
    double s = 0;
    for (size_t i = 0; i < nq; i++) { s += qt[i].ub; prefix[i] = s * (1 + 1e-9); }
    const uint8_t *norms = ix->norms;
    float theta = -1.0f;         /* a hit must beat this when the heap is full */
    size_t first_ess = 0;
    for (;;) {
        if (nh == k) {
            theta = ix->heap[0].score;
            while (first_ess < nq && prefix[first_ess] <= theta) first_ess++;
            if (first_ess == nq) break;
        }
        uint32_t d = UINT32_MAX;
        for (size_t i = first_ess; i < nq; i++)
            if (qt[i].pos < qt[i].df && qt[i].docs[qt[i].pos] < d) d = qt[i].docs[qt[i].pos];
        if (d == UINT32_MAX) break;
        double sc = 0;
        uint8_t nb = norms[d];
        for (size_t i = first_ess; i < nq; i++) {
            qterm *q = &qt[i];
            if (q->pos < q->df && q->docs[q->pos] == d) {
                sc += term_score(ix, q->weight, q->tfs[q->pos], nb);
                q->pos++;
            }
        }
        size_t i = first_ess;
        while (i > 0) {
            i--;
            if (nh == k && sc + prefix[i] <= theta) goto next;
            qterm *q = &qt[i];
            advance(q, d);
            if (q->pos < q->df && q->docs[q->pos] == d) sc += term_score(ix, q->weight, q->tfs[q->pos], nb);
        }
        heap_push(ix->heap, &nh, k, (hit){(float)sc, d});
    next:;
    }
    return finish(ix, nh, docs, scores);
}

long bm25_search_exhaustive(bm25_index *ix, const char *query, size_t k, uint32_t *docs, float *scores,
                            sy_err *err)
{
    if (k == 0) return 0;
    if (prepare(ix, query, err) < 0 || ensure_heap(ix, k, err) < 0) return -1;
    if (!ix->acc) {
        ix->acc = calloc(ix->ndocs + 1, sizeof *ix->acc);
        if (!ix->acc) return sy_fail(err, SY_ENOMEM, "bm25: out of memory");
    }
    for (size_t t = 0; t < ix->nqt; t++) {
        qterm *q = &ix->qt[t];
        for (uint32_t i = 0; i < q->df; i++)
            ix->acc[q->docs[i]] += term_score(ix, q->weight, q->tfs[i], ix->norms[q->docs[i]]);
    }
    size_t nh = 0;
    for (uint32_t d = 0; d < ix->ndocs; d++) {
        if (ix->acc[d] > 0) heap_push(ix->heap, &nh, k, (hit){(float)ix->acc[d], d});
        ix->acc[d] = 0;
    }
    return finish(ix, nh, docs, scores);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The documents are visited in index order, so each term's cursor only moves
 * forward (galloping over the block-max skip data) instead of restarting from
 * the head of its postings for every document: scoring the ~100 candidates of
 * a mined query against a positive passage's ~100 terms is one merge per
 * term.  The sums run over the terms in the same order as before, so the
 * scores are unchanged. */
int bm25_score_docs(bm25_index *ix, const char *query, const uint32_t *docs, size_t n, float *scores,
                    sy_err *err)
{
    if (prepare(ix, query, err) < 0) return -1;
    uint64_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return sy_fail(err, SY_ENOMEM, "bm25: out of memory");
    for (size_t j = 0; j < n; j++) order[j] = (uint64_t)docs[j] << 32 | (uint64_t)j;
    qsort(order, n, sizeof *order, cmp_u64);
    for (size_t i = 0; i < n; i++) {
        double sc = 0;
        uint32_t d = (uint32_t)(order[i] >> 32);
        if (d < ix->ndocs)
            for (size_t t = 0; t < ix->nqt; t++) {
                qterm *q = &ix->qt[t];
                advance(q, d);
                if (q->pos < q->df && q->docs[q->pos] == d)
                    sc += term_score(ix, q->weight, q->tfs[q->pos], ix->norms[d]);
            }
        scores[(uint32_t)order[i]] = (float)sc;
    }
    free(order);
    return 0;
}

/* texts scored against the index's statistics: term counts of one text */
typedef struct { bm25_index *ix; uint32_t *tf; } text_ctx;

static int count_qterm(void *ctx, const char *t, size_t n)
{
    text_ctx *c = ctx;
    int64_t r = find_term(c->ix, t, n);
    if (r < 0) return 0;
    for (size_t i = 0; i < c->ix->nqt; i++)
        if (c->ix->qt[i].id == (uint32_t)r) { c->tf[i]++; break; }
    return 0;
}

int bm25_score_texts(bm25_index *ix, const char *query, const char *const *titles, const char *const *texts,
                     size_t n, float *scores, sy_err *err)
{
    if (prepare(ix, query, err) < 0) return -1;
    uint32_t *tf = calloc(ix->nqt ? ix->nqt : 1, sizeof *tf);
    if (!tf) return sy_fail(err, SY_ENOMEM, "bm25: out of memory");
    text_ctx c = {ix, tf};
    for (size_t j = 0; j < n; j++) {
        memset(tf, 0, (ix->nqt ? ix->nqt : 1) * sizeof *tf);
        long len = 0, r;
        /* as the index sees a document: the title, then the text */
        const char *ti = titles && titles[j] ? titles[j] : "", *tx = texts[j] ? texts[j] : "";
        if (*ti && (r = an_analyze(ix->an, ti, strlen(ti), count_qterm, &c)) > 0) len += r;
        if (*tx && (r = an_analyze(ix->an, tx, strlen(tx), count_qterm, &c)) > 0) len += r;
        uint8_t norm = bm25_int_to_byte4((uint32_t)len);
        double sc = 0;
        for (size_t t = 0; t < ix->nqt; t++)
            if (tf[t]) sc += term_score(ix, ix->qt[t].weight, tf[t], norm);
        scores[j] = (float)sc;
    }
    free(tf);
    return 0;
}
