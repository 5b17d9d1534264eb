/* corpus_store: write a parsed corpus as one mmap-able file, open it in place.
 * See corpus_store.h for the layout.  Sections: checksum and hashing, layout
 * arithmetic (shared by writer and reader so they cannot disagree), writer,
 * reader, fingerprint of the source files, accessors. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "corpus_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define HDR 192
#define HDR_SUM 184
#define CHUNK ((uint64_t)16384)   /* bytes a chunk checksum covers (v3) */
#define REBUILD_HINT "; hint: delete it and the next command rebuilds it from the data set"

_Static_assert(sizeof(corpus_qrel) == 12, "qrel rows are 12 bytes on disk");
_Static_assert(sizeof(corpus_given_neg) == 8, "given negatives are 8 bytes on disk");

typedef struct {
    uint64_t id;
    uint32_t title, text, len, pad;
} doc_rec;
typedef struct {
    uint64_t id;
    uint32_t text, pad;
} query_rec;
typedef struct {
    uint64_t name, first, n, nqueries;
} split_rec;
_Static_assert(sizeof(doc_rec) == 24 && sizeof(query_rec) == 16 && sizeof(split_rec) == 32, "record sizes");

/* ---- checksum and hashing --------------------------------------------------- */

#define P1 0x9e3779b97f4a7c15ull
#define P2 0xff51afd7ed558ccdull

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* The checksum, fed in pieces (the writer streams the blob through it). */
typedef struct {
    uint64_t h[4], n;
    uint8_t tail[32];
    size_t ntail;
} csum;

static void csum_init(csum *c)
{
    memset(c, 0, sizeof *c);
    c->h[0] = P1, c->h[1] = P2, c->h[2] = P1 ^ P2, c->h[3] = ~P1;
}

static void csum_block(csum *c, const uint8_t *b)
{
    for (int j = 0; j < 4; j++) {
        c->h[j] = (c->h[j] ^ rd64(b + 8 * j)) * P1;
        c->h[j] ^= c->h[j] >> 29;
    }
}

static void csum_add(csum *c, const void *data, size_t n)
{
    const uint8_t *b = data;
    c->n += n;
    if (c->ntail) {
        size_t k = 32 - c->ntail < n ? 32 - c->ntail : n;
        memcpy(c->tail + c->ntail, b, k);
        c->ntail += k, b += k, n -= k;
        if (c->ntail < 32) return;
        csum_block(c, c->tail);
        c->ntail = 0;
    }
    /* the lanes in locals: b may alias c, so the compiler would otherwise
     * store and reload them every block */
    uint64_t h0 = c->h[0], h1 = c->h[1], h2 = c->h[2], h3 = c->h[3];
    for (; n >= 32; b += 32, n -= 32) {
        h0 = (h0 ^ rd64(b)) * P1, h0 ^= h0 >> 29;
        h1 = (h1 ^ rd64(b + 8)) * P1, h1 ^= h1 >> 29;
        h2 = (h2 ^ rd64(b + 16)) * P1, h2 ^= h2 >> 29;
        h3 = (h3 ^ rd64(b + 24)) * P1, h3 ^= h3 >> 29;
    }
    c->h[0] = h0, c->h[1] = h1, c->h[2] = h2, c->h[3] = h3;
    memcpy(c->tail, b, n);
    c->ntail = n;
}

static uint64_t csum_end(csum *c)
{
    memset(c->tail + c->ntail, 0, 32 - c->ntail);
    csum_block(c, c->tail);
    uint64_t r = c->n * P2;
    for (int j = 0; j < 4; j++) {
        r = (r ^ c->h[j]) * P2;
        r ^= r >> 32;
    }
    return r;
}

uint64_t cstore_checksum(const void *data, size_t n)
{
    csum c;
    csum_init(&c);
    csum_add(&c, data, n);
    return csum_end(&c);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- layout ------------------------------------------------------------------ */

typedef struct {
    uint64_t ndocs, nqueries, nsplits, nwmsgs, nnegs, dslots, qslots, nrows;
    uint64_t docs, queries, dhash, qhash, splits, qrels, negs, warns, blob; /* offsets */
} layout;

static uint64_t al8(uint64_t x) { return (x + 7) & ~(uint64_t)7; }

static uint64_t slots_for(uint64_t n)
{
    uint64_t s = 16;
    while (s < 2 * n) s *= 2;
    return s;
}

/* Section offsets from the counts; -1 when they cannot fit in limit bytes. */
static int lay_out(layout *L, uint64_t limit)
{
    /* every count is bounded by limit, so none of these products overflows */
    if (L->ndocs > limit || L->nqueries > limit || L->nsplits > limit || L->nwmsgs > limit || L->nnegs > limit ||
        L->dslots > 4 * limit + 64 || L->qslots > 4 * limit + 64 || L->nrows > limit)
        return -1;
    uint64_t o = HDR;
    L->docs = o, o += L->ndocs * sizeof(doc_rec);
    L->queries = o, o += L->nqueries * sizeof(query_rec);
    L->dhash = o, o = al8(o + L->dslots * 4);
    L->qhash = o, o = al8(o + L->qslots * 4);
    L->splits = o, o += L->nsplits * sizeof(split_rec);
    L->qrels = o, o = al8(o + L->nrows * sizeof(corpus_qrel));
    L->negs = o, o += L->nnegs * sizeof(corpus_given_neg);
    L->warns = o, o += L->nwmsgs * 8;
    L->blob = o;
    return o <= limit ? 0 : -1;
}

/* ---- writer ------------------------------------------------------------------ */

static void hash_put(uint8_t *tab, uint64_t slots, const char *id, uint32_t idx)
{
    uint64_t i = fnv1a(id) & (slots - 1);
    while (rd32(tab + 4 * i)) i = (i + 1) & (slots - 1);
    wr32(tab + 4 * i, idx + 1);
}

/* The blob is streamed to the file through a 4 MiB buffer and the checksum,
 * so writing the store costs the tables (~40 bytes a document), not a second
 * copy of the collection. */
typedef struct {
    int fd, failed;
    uint8_t *buf;
    size_t len;
    uint64_t pos;   /* blob bytes so far = offset of the next string */
    csum sum;       /* of the chunk being written */
    uint64_t *sums; /* one per finished chunk of the blob */
    size_t nsums, cap;
} blob_out;

#define BLOB_BUF (4u << 20)

static uint64_t nchunks(uint64_t bytes) { return (bytes + CHUNK - 1) / CHUNK; }

static void blob_flush(blob_out *o)
{
    if (o->len && !o->failed && sy_write_all(o->fd, o->buf, o->len) < 0) o->failed = errno ? errno : EIO;
    o->len = 0;
}

static void blob_put_raw(blob_out *o, const void *p, size_t n);

static void sums_push(blob_out *o, uint64_t v)
{
    if (o->nsums == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 1024;
        uint64_t *ns = realloc(o->sums, cap * sizeof *ns);
        if (!ns) {
            o->failed = ENOMEM;
            return;
        }
        o->sums = ns, o->cap = cap;
    }
    o->sums[o->nsums++] = v;
}

static void blob_put(blob_out *o, const void *p, size_t n)
{
    for (size_t done = 0; done < n;) {   /* the checksum restarts at each chunk */
        size_t room = CHUNK - (size_t)(o->pos % CHUNK), k = n - done < room ? n - done : room;
        csum_add(&o->sum, (const uint8_t *)p + done, k);
        o->pos += k, done += k;
        if (o->pos % CHUNK == 0) {
            sums_push(o, csum_end(&o->sum));
            csum_init(&o->sum);
        }
    }
    blob_put_raw(o, p, n);
}

static void blob_put_raw(blob_out *o, const void *p, size_t n)
{
    for (; n; ) {
        size_t k = BLOB_BUF - o->len < n ? BLOB_BUF - o->len : n;
        memcpy(o->buf + o->len, p, k);
        o->len += k, p = (const uint8_t *)p + k, n -= k;
        if (o->len == BLOB_BUF) blob_flush(o);
    }
}

static uint64_t put_str(blob_out *o, const char *s)
{
    uint64_t at = o->pos;
    blob_put(o, s, strlen(s) + 1);
    return at;
}

/* pwrite all n bytes; 0, or an errno */
static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        p = (const uint8_t *)p + w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

/* ---- the sink of a streamed load -------------------------------------------- */

struct cstore_sink {
    blob_out o;   /* fd: the unlinked temporary file; pos: bytes so far */
};

cstore_sink *cstore_sink_new(const char *near, sy_err *err)
{
    char *dir = near ? strdup(near) : NULL;
    for (char *slash; dir && (slash = strrchr(dir, '/'));) {   /* the nearest existing folder */
        *slash = '\0';
        if (*dir && sy_is_dir(dir)) break;
        if (!*dir) {
            free(dir);
            dir = NULL;
        }
    }
    if (dir && !sy_is_dir(dir)) {
        free(dir);
        dir = NULL;
    }
    if (!dir && near && near[0] != '/') dir = strdup(".");   /* relative: the working folder exists */
    const char *tmp = getenv("TMPDIR");
    char *tmpl = sy_strdup_printf("%s/.syneg-store-XXXXXX", dir ? dir : tmp && *tmp ? tmp : "/tmp");
    free(dir);
    cstore_sink *k = calloc(1, sizeof *k);
    if (!tmpl || !k || !(k->o.buf = malloc(BLOB_BUF))) {
        free(tmpl), cstore_sink_free(k);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    k->o.fd = mkostemp(tmpl, O_CLOEXEC);
    if (k->o.fd < 0) {
        sy_fail_errno(err, errno, "%s: cannot create a temporary file for the session store's texts", tmpl);
        free(tmpl), free(k->o.buf), free(k);
        return NULL;
    }
    unlink(tmpl);   /* gone with the last descriptor, crash or not */
    free(tmpl);
    csum_init(&k->o.sum);
    blob_put(&k->o, "", 1);   /* offset 0 is the empty string */
    return k;
}

int cstore_sink_doc(cstore_sink *k, const char *id, size_t idlen, const char *title, size_t tlen, const char *text,
                    size_t xlen, sy_err *err)
{
    blob_put(&k->o, id, idlen);
    blob_put(&k->o, "", 1);
    blob_put(&k->o, title, tlen);
    blob_put(&k->o, "", 1);
    blob_put(&k->o, text, xlen);
    blob_put(&k->o, "", 1);
    if (k->o.failed) return sy_fail_errno(err, k->o.failed, "cannot write the session store's texts to a temporary file");
    return 0;
}

void cstore_sink_free(cstore_sink *k)
{
    if (!k) return;
    if (k->o.fd > 0) close(k->o.fd);
    free(k->o.buf);
    free(k->o.sums);
    free(k);
}

/* The content hash (corpus_content_hash) of the documents in the sink: read
 * back in order through a buffer, not mapped, so the resident size stays the
 * buffer's. */
static int sink_content_hash(cstore_sink *k, const corpus *c, uint64_t *out)
{
    uint32_t n = corpus_ndocs(c);
    uint64_t h = n, off = 1, wstart = 0, wlen = 0;
    size_t cap = BLOB_BUF;
    uint8_t *buf = malloc(cap);
    if (!buf) return ENOMEM;
    for (uint32_t d = 0; d < n; d++) {
        size_t il = strlen(corpus_doc_id(c, d)), tl = corpus_doc_title_len(c, d), xl = corpus_doc_text_len(c, d);
        uint64_t span = il + tl + xl + 3;
        if (off < wstart || off + span > wstart + wlen) {
            if (span > cap) {
                uint8_t *nb = realloc(buf, span);
                if (!nb) {
                    free(buf);
                    return ENOMEM;
                }
                buf = nb, cap = span;
            }
            ssize_t got = pread(k->o.fd, buf, cap, (off_t)off);
            if (got < (ssize_t)span) {
                free(buf);
                return got < 0 ? errno : EIO;
            }
            wstart = off, wlen = (uint64_t)got;
        }
        const char *p = (const char *)buf + (off - wstart);
        h = corpus_content_hash_add(h, p + il + 1, tl, p + il + tl + 2, xl);
        off += span;
    }
    free(buf);
    *out = h;
    return 0;
}

/* Copy n bytes of the sink from its start to fd at off (in the kernel when it can). */
static int sink_copy(cstore_sink *k, int fd, uint64_t off, uint64_t n)
{
    loff_t in = 0, out = (loff_t)off;
    while (n) {
        ssize_t c = copy_file_range(k->o.fd, &in, fd, &out, n, 0);
        if (c > 0) {
            n -= (uint64_t)c;
            continue;
        }
        if (c == 0) return EIO;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) return errno;
        while (n) {   /* no in-kernel copy here: through the buffer */
            size_t want = n < BLOB_BUF ? (size_t)n : BLOB_BUF;
            ssize_t got = pread(k->o.fd, k->o.buf, want, in);
            if (got <= 0) return got < 0 ? errno : EIO;
            int e = pwrite_all(fd, k->o.buf, (size_t)got, (uint64_t)out);
            if (e) return e;
            in += got, out += got, n -= (uint64_t)got;
        }
    }
    return 0;
}

/* ---- writer ------------------------------------------------------------------ */

int cstore_write(const corpus *c, uint64_t fingerprint, const char *path, sy_err *err)
{
    cstore_sink *k = corpus_sink(c);   /* streamed: the documents' strings are there already */
    layout L = {0};
    L.ndocs = corpus_ndocs(c);
    L.nqueries = corpus_nqueries(c);
    L.nsplits = corpus_nsplits(c);
    L.nwmsgs = corpus_nwarning_msgs(c);
    size_t nnegs = 0;
    const corpus_given_neg *negs = corpus_given_negs(c, &nnegs);
    L.nnegs = nnegs;
    L.dslots = slots_for(L.ndocs);
    L.qslots = slots_for(L.nqueries);
    uint64_t blob_len = 1; /* offset 0 is the empty string */
    for (uint32_t d = 0; d < L.ndocs; d++) {
        size_t il = strlen(corpus_doc_id(c, d)), tl = corpus_doc_title_len(c, d);
        if (il + tl + 2 > UINT32_MAX || corpus_doc_text_len(c, d) > UINT32_MAX)
            return sy_fail(err, SY_EINVAL, "document %s: id and title over 4 GB; cannot store it",
                           corpus_doc_id(c, d));
        blob_len += il + tl + corpus_doc_text_len(c, d) + 3;
    }
    uint64_t docs_end = blob_len;
    for (uint32_t q = 0; q < L.nqueries; q++)
        blob_len += strlen(corpus_query_id(c, q)) + strlen(corpus_query_text(c, q)) + 2;
    for (size_t i = 0; i < L.nsplits; i++) {
        blob_len += strlen(corpus_split(c, i)->name) + 1;
        L.nrows += corpus_split(c, i)->n;
    }
    for (size_t i = 0; i < L.nwmsgs; i++) blob_len += strlen(corpus_warning(c, i)) + 1;
    if (lay_out(&L, UINT64_MAX / 8) < 0) return sy_fail(err, SY_EINVAL, "%s: corpus too large to store", path);
    if (k && k->o.pos != docs_end)
        return sy_fail(err, SY_EINVAL, "%s: the streamed texts (%llu bytes) do not match the documents (%llu)", path,
                       (unsigned long long)k->o.pos, (unsigned long long)docs_end);
    uint64_t ntab = nchunks(L.blob - HDR), nblob = nchunks(blob_len), ctab = L.blob + blob_len;
    uint64_t total = ctab + 8 * (ntab + nblob);
    uint8_t *f = calloc(1, L.blob);
    blob_out local = {.buf = k ? NULL : malloc(BLOB_BUF), .sums = k ? NULL : malloc(8 * nblob), .cap = nblob};
    uint64_t *tsums = malloc(8 * (ntab ? ntab : 1));
    if (!f || !tsums || (!k && (!local.buf || !local.sums))) {
        free(f), free(local.buf), free(local.sums), free(tsums);
        return sy_fail(err, SY_ENOMEM, "%s: out of memory building the session store (%llu MB of tables)", path,
                       (unsigned long long)(L.blob >> 20));
    }
    sy_atomic a;
    if (sy_atomic_open(&a, path, err) < 0) {
        free(f), free(local.buf), free(local.sums), free(tsums);
        return -1;
    }
    /* the blob goes out first (or is in the sink), then the chunk table; the
     * tables and header go in last, at offset 0, once every checksum is known */
    blob_out *o = k ? &k->o : &local;
    if (!k) {
        local.fd = a.fd;
        csum_init(&local.sum);
        if (lseek(a.fd, (off_t)L.blob, SEEK_SET) < 0) local.failed = errno;
        blob_put(&local, "", 1);
    }
    /* documents: their strings sit at running offsets, in order */
    uint64_t at = 1;
    for (uint32_t d = 0; d < L.ndocs; d++) {
        const char *id = corpus_doc_id(c, d);
        size_t il = strlen(id), tl = corpus_doc_title_len(c, d), xl = corpus_doc_text_len(c, d);
        doc_rec r = {.id = at, .title = (uint32_t)(il + 1), .text = (uint32_t)(il + tl + 2), .len = (uint32_t)xl};
        if (!k) {
            blob_put(&local, id, il + 1);
            blob_put(&local, corpus_doc_title(c, d), tl + 1);
            blob_put(&local, corpus_doc_text(c, d), xl);
            blob_put(&local, "", 1);
        }
        at += il + tl + xl + 3;
        memcpy(f + L.docs + d * sizeof r, &r, sizeof r);
        hash_put(f + L.dhash, L.dslots, id, d);
    }
    for (uint32_t q = 0; q < L.nqueries; q++) {
        query_rec r = {0};
        r.id = put_str(o, corpus_query_id(c, q));
        r.text = (uint32_t)(put_str(o, corpus_query_text(c, q)) - r.id);
        memcpy(f + L.queries + q * sizeof r, &r, sizeof r);
        hash_put(f + L.qhash, L.qslots, corpus_query_id(c, q), q);
    }
    uint64_t row = 0;
    for (size_t i = 0; i < L.nsplits; i++) {
        const corpus_qrels *sp = corpus_split(c, i);
        split_rec r = {.name = put_str(o, sp->name), .first = row, .n = sp->n,
                       .nqueries = corpus_qrels_nqueries(sp)};
        memcpy(f + L.splits + i * sizeof r, &r, sizeof r);
        if (sp->n) memcpy(f + L.qrels + row * sizeof(corpus_qrel), sp->rows, sp->n * sizeof(corpus_qrel));
        row += sp->n;
    }
    if (nnegs) memcpy(f + L.negs, negs, nnegs * sizeof *negs);
    for (size_t i = 0; i < L.nwmsgs; i++) wr64(f + L.warns + 8 * i, put_str(o, corpus_warning(c, i)));
    if (o->pos % CHUNK) sums_push(o, csum_end(&o->sum));
    blob_flush(o);
    int failed = o->failed;
    if (!failed && (o->pos != blob_len || o->nsums != nblob)) failed = EIO;   /* the size pass and this one disagree */
    uint64_t content = 0;
    if (!failed && k) failed = sink_content_hash(k, c, &content);
    else content = corpus_content_hash(c);
    if (!failed && k) failed = sink_copy(k, a.fd, L.blob, blob_len);
    /* the chunk table after the blob: the tables' chunks, then the blob's */
    for (uint64_t j = 0; j < ntab; j++) {
        uint64_t from = HDR + j * CHUNK, n = L.blob - from < CHUNK ? L.blob - from : CHUNK;
        tsums[j] = cstore_checksum(f + from, n);
    }
    csum ct;
    csum_init(&ct);
    csum_add(&ct, tsums, 8 * ntab);
    if (!failed) csum_add(&ct, o->sums, 8 * nblob);
    if (!failed) failed = pwrite_all(a.fd, tsums, 8 * ntab, ctab);
    if (!failed) failed = pwrite_all(a.fd, o->sums, 8 * nblob, ctab + 8 * ntab);
    free(tsums);
    free(local.buf), free(local.sums);
    memcpy(f, CSTORE_MAGIC, 8);
    wr32(f + 8, CSTORE_VERSION);
    wr32(f + 12, HDR);
    wr64(f + 16, total);
    wr64(f + 24, fingerprint);
    wr32(f + 32, (uint32_t)L.ndocs);
    wr32(f + 36, (uint32_t)L.nqueries);
    wr32(f + 40, (uint32_t)L.nsplits);
    wr32(f + 44, (uint32_t)L.nwmsgs);
    wr64(f + 48, L.nnegs);
    wr64(f + 56, corpus_nwarnings(c));
    wr64(f + 64, L.dslots);
    wr64(f + 72, L.qslots);
    wr64(f + 80, csum_end(&ct));
    wr64(f + 88, L.blob);
    wr64(f + 96, ctab);
    wr64(f + 104, L.nrows);
    wr64(f + 112, corpus_ids_fingerprint(c));
    wr64(f + 120, content);
    wr64(f + 128, CHUNK);
    wr64(f + 136, ntab);
    wr64(f + 144, nblob);
    wr64(f + HDR_SUM, cstore_checksum(f, HDR_SUM));
    if (!failed) failed = pwrite_all(a.fd, f, L.blob, 0);
    free(f);
    if (failed) {
        sy_fail_errno(err, failed, "%s: cannot write the session store (the previous one is untouched)", a.tmp);
        sy_atomic_abort(&a);
        return -1;
    }
    return sy_atomic_commit(&a, err);
}

/* ---- reader ------------------------------------------------------------------ */

struct cstore {
    char *path;
    sy_map map;
    layout L;
    uint64_t fingerprint, nwarnings, blob_len, ids_fp, content_hash;
    int version, lazy;
    uint64_t ntab, nblob, ctab;      /* v3: chunk counts, chunk table offset */
    const uint8_t *sums;             /* v3: the chunk table */
    uint8_t *state;                  /* per chunk: 0 not checked, 1 good, 2 damaged */
    uint64_t damaged;                /* first damaged chunk + 1, 0 if none (atomic) */
    const uint8_t *blob;
    const doc_rec *docs;
    const query_rec *queries;
    const uint32_t *dhash, *qhash;
    const split_rec *splits;
    const corpus_qrel *qrels;
    const corpus_given_neg *negs;
    const uint64_t *warns;
};

static cstore *bad(cstore *s, sy_err *err, const char *what)
{
    sy_fail(err, SY_EFORMAT, "%s: session store damaged (%s)" REBUILD_HINT, s->path, what);
    cstore_free(s);
    return NULL;
}

/* Chunk k's bytes: the tables' chunks cover [HDR, blob), the blob's [blob, chunk table). */
static void chunk_span(const cstore *s, uint64_t k, uint64_t *at, uint64_t *n)
{
    uint64_t base = k < s->ntab ? HDR : s->L.blob, end = k < s->ntab ? s->L.blob : s->ctab;
    *at = base + (k < s->ntab ? k : k - s->ntab) * CHUNK;
    *n = end - *at < CHUNK ? end - *at : CHUNK;
}

/* Is chunk k intact?  Checked once (threads may race to check it: both get
 * the same answer); a damaged one is remembered for cstore_damage. */
static int chunk_ok(const cstore *cs, uint64_t k)
{
    cstore *s = (cstore *)cs;   /* the check's cache is not part of the value */
    uint8_t st = __atomic_load_n(&s->state[k], __ATOMIC_ACQUIRE);
    if (st) return st == 1;
    uint64_t at, n;
    chunk_span(s, k, &at, &n);
    st = cstore_checksum(s->map.data + at, n) == rd64(s->sums + 8 * k) ? 1 : 2;
    __atomic_store_n(&s->state[k], st, __ATOMIC_RELEASE);
    uint64_t none = 0;
    if (st == 2) __atomic_compare_exchange_n(&s->damaged, &none, k + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return st == 1;
}

/* Are the n bytes at file offset off (all in the tables or all in the blob)
 * intact?  Always yes unless the store was opened lazily: an eager open
 * checked every chunk, texts too. */
static int range_ok(const cstore *s, uint64_t off, uint64_t n)
{
    if (!s->lazy) return 1;
    int tab = off < s->L.blob;
    uint64_t base = tab ? HDR : s->L.blob, first = (off - base) / CHUNK, last = (off + (n ? n : 1) - 1 - base) / CHUNK;
    uint64_t shift = tab ? 0 : s->ntab, limit = tab ? s->ntab : s->nblob;
    for (uint64_t k = first; k <= last && k < limit; k++)
        if (!chunk_ok(s, k + shift)) return 0;
    return 1;
}

static int check_chunks(cstore *s, uint64_t from, uint64_t to)
{
    for (uint64_t k = from; k < to; k++)
        if (!chunk_ok(s, k)) return -1;
    return 0;
}

static const char *section_of(const cstore *s, uint64_t off)
{
    const layout *L = &s->L;
    return off >= L->blob ? "texts" : off >= L->splits ? "qrels and splits" : off >= L->qhash ? "query id hash"
         : off >= L->dhash ? "document id hash" : off >= L->queries ? "query table" : "document table";
}

static int damage_error(const cstore *s, uint64_t k, sy_err *err)
{
    uint64_t at, n;
    chunk_span(s, k, &at, &n);
    const char *first = section_of(s, at), *last = section_of(s, at + n - 1);
    return sy_fail(err, SY_EFORMAT, "%s: session store damaged (%s%s%s checksum, bytes %llu-%llu)" REBUILD_HINT, s->path,
                   first, first == last ? "" : "/", first == last ? "" : last, (unsigned long long)at,
                   (unsigned long long)(at + n));
}

cstore *cstore_open(const char *path, sy_err *err) { return cstore_open_mode(path, 0, err); }

cstore *cstore_open_mode(const char *path, int lazy, sy_err *err)
{
    const uint16_t one = 1;
    if (*(const uint8_t *)&one != 1) {
        sy_fail(err, SY_EUNSUP, "%s: the session store is little-endian; this host is not", path);
        return NULL;
    }
    cstore *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    if (sy_map_open(&s->map, path, err) < 0) {
        cstore_free(s);
        return NULL;
    }
    const uint8_t *f = s->map.data;
    size_t len = s->map.len;
    if (len < HDR || memcmp(f, CSTORE_MAGIC, 8)) return bad(s, err, len < HDR ? "shorter than its header" : "no magic");
    s->version = (int)rd32(f + 8);
    if ((s->version != CSTORE_VERSION && s->version != 2) || rd32(f + 12) != HDR) {
        sy_fail(err, SY_EFORMAT, "%s: session store version %u; this build reads versions 2 and %d" REBUILD_HINT, path,
                rd32(f + 8), CSTORE_VERSION);
        cstore_free(s);
        return NULL;
    }
    if (rd64(f + HDR_SUM) != cstore_checksum(f, HDR_SUM)) return bad(s, err, "header checksum");
    if (rd64(f + 16) != len) return bad(s, err, "truncated or extended: size differs from its header");
    layout *L = &s->L;
    L->ndocs = rd32(f + 32);
    L->nqueries = rd32(f + 36);
    L->nsplits = rd32(f + 40);
    L->nwmsgs = rd32(f + 44);
    L->nnegs = rd64(f + 48);
    L->dslots = rd64(f + 64);
    L->qslots = rd64(f + 72);
    L->nrows = rd64(f + 104);
    if (lay_out(L, len) < 0 || L->blob != rd64(f + 88) || L->blob >= len) return bad(s, err, "tables do not fit");
    if ((L->dslots & (L->dslots - 1)) || (L->qslots & (L->qslots - 1)) || L->dslots <= L->ndocs ||
        L->qslots <= L->nqueries)
        return bad(s, err, "hash table size");
    if (s->version == 2) {   /* one checksum over the tables, checked now; no chunks */
        if (rd64(f + 80) != cstore_checksum(f + HDR, L->blob - HDR)) return bad(s, err, "tables checksum");
        s->ctab = len;
    } else {
        s->ctab = rd64(f + 96);
        s->ntab = rd64(f + 136);
        s->nblob = rd64(f + 144);
        if (rd64(f + 128) != CHUNK || s->ctab <= L->blob || s->ctab > len || s->ntab != nchunks(L->blob - HDR) ||
            s->nblob != nchunks(s->ctab - L->blob) || (len - s->ctab) / 8 != s->ntab + s->nblob || (len - s->ctab) % 8)
            return bad(s, err, "chunk table does not fit");
        s->sums = f + s->ctab;
        if (rd64(f + 80) != cstore_checksum(s->sums, len - s->ctab)) return bad(s, err, "chunk table checksum");
        s->state = calloc(s->ntab + s->nblob, 1);
        if (!s->state) {
            cstore_free(s);
            sy_fail(err, SY_ENOMEM, "out of memory");
            return NULL;
        }
        /* the small tables (splits, qrels, given negatives, warnings) are read
         * whole below: check them now; the big ones now, or when touched */
        uint64_t from = lazy ? (L->splits - HDR) / CHUNK : 0;
        if (check_chunks(s, from, s->ntab) < 0) {
            damage_error(s, s->damaged - 1, err);
            cstore_free(s);
            return NULL;
        }
        s->lazy = lazy;
    }
    s->fingerprint = rd64(f + 24);
    s->nwarnings = rd64(f + 56);
    s->ids_fp = rd64(f + 112);
    s->content_hash = rd64(f + 120);
    s->blob = f + L->blob;
    s->blob_len = s->ctab - L->blob;
    if (s->blob[s->blob_len - 1] != '\0') return bad(s, err, "last string not terminated");
    s->docs = (const doc_rec *)(f + L->docs);
    s->queries = (const query_rec *)(f + L->queries);
    s->dhash = (const uint32_t *)(f + L->dhash);
    s->qhash = (const uint32_t *)(f + L->qhash);
    s->splits = (const split_rec *)(f + L->splits);
    s->qrels = (const corpus_qrel *)(f + L->qrels);
    s->negs = (const corpus_given_neg *)(f + L->negs);
    s->warns = (const uint64_t *)(f + L->warns);
    for (size_t i = 0; i < L->nsplits; i++)
        if (s->splits[i].name >= s->blob_len || s->splits[i].first > L->nrows ||
            s->splits[i].n > L->nrows - s->splits[i].first)
            return bad(s, err, "split table");
    for (size_t i = 0; i < L->nrows; i++)
        if (s->qrels[i].query >= L->nqueries || s->qrels[i].doc >= L->ndocs) return bad(s, err, "qrels row");
    for (size_t i = 0; i < L->nnegs; i++)
        if (s->negs[i].query >= L->nqueries || s->negs[i].doc >= L->ndocs) return bad(s, err, "given negative");
    /* an eager handle's accessors trust every byte: the texts too are checked
     * now (bulk commands read most of them anyway; a damaged text must not
     * flow silently into an export, an index or a training run) */
    if (!s->lazy && cstore_verify(s, err) < 0) {
        cstore_free(s);
        return NULL;
    }
    return s;
}

void cstore_free(cstore *s)
{
    if (!s) return;
    sy_map_close(&s->map);
    free(s->state);
    free(s->path);
    free(s);
}

int cstore_verify(const cstore *s, sy_err *err)
{
    if (s->version == 2) {
        if (rd64(s->map.data + 96) != cstore_checksum(s->blob, s->blob_len))
            return sy_fail(err, SY_EFORMAT, "%s: session store damaged (texts checksum)" REBUILD_HINT, s->path);
        return 0;
    }
    if (check_chunks((cstore *)s, 0, s->ntab + s->nblob) < 0) return damage_error(s, s->damaged - 1, err);
    return 0;
}

int cstore_damage(const cstore *s, sy_err *err)
{
    uint64_t k = __atomic_load_n(&s->damaged, __ATOMIC_ACQUIRE);
    return k ? damage_error(s, k - 1, err) : 0;
}

/* ---- fingerprint of the source -------------------------------------------- */

static int data_file(const char *name)
{
    size_t l = strlen(name);
    return name[0] != '.' && ((l > 4 && !strcmp(name + l - 4, ".tsv")) || (l > 6 && !strcmp(name + l - 6, ".jsonl")));
}

static uint64_t file_print(const char *name, const struct stat *st)
{
    uint64_t h = fnv1a(name);
    h = (h ^ (uint64_t)st->st_size) * P1;
    h = (h ^ (uint64_t)st->st_mtim.tv_sec) * P2;
    h = (h ^ (uint64_t)st->st_mtim.tv_nsec) * P1;
    return h ^ (h >> 31);
}

/* Sum of the prints of DIR's data files (order-free); 0 when DIR is absent. */
static uint64_t dir_print(const char *dir)
{
    DIR *d = opendir(dir);
    uint64_t sum = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!data_file(e->d_name)) continue;
        char *p = sy_path_join(dir, e->d_name);
        struct stat st;
        if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode)) sum += file_print(e->d_name, &st);
        free(p);
    }
    if (d) closedir(d);
    return sum;
}

int cstore_source_fingerprint(const char *path, corpus_format fmt, uint64_t *fp, sy_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0) return sy_fail_errno(err, errno, "%s: cannot open data set", path);
    uint64_t h = ((uint64_t)fmt + 1) * P2;
    if (S_ISDIR(st.st_mode)) {
        char *q = sy_path_join(path, "qrels");
        h += dir_print(path) + 3 * (q ? dir_print(q) : 0);
        free(q);
    } else {
        const char *b = strrchr(path, '/');
        h += file_print(b ? b + 1 : path, &st);
    }
    *fp = h ? h : 1;
    return 0;
}

/* ---- accessors ----------------------------------------------------------------- */

/* The string at blob offset off, n bytes with its NUL when n is known (0:
 * find its end); "" when it is out of range or, opened lazily, in a damaged
 * chunk (cstore_damage says so). */
static const char *str_at(const cstore *s, uint64_t off, uint64_t n)
{
    if (off >= s->blob_len) return "";
    if (!s->lazy) return (const char *)s->blob + off;
    if (n) return n <= s->blob_len - off && range_ok(s, s->L.blob + off, n) ? (const char *)s->blob + off : "";
    for (uint64_t p = off;;) {   /* chunk by chunk up to the NUL */
        if (!range_ok(s, s->L.blob + p, 1)) return "";
        uint64_t end = (p / CHUNK + 1) * CHUNK;   /* blob chunks start at the blob */
        if (end > s->blob_len) end = s->blob_len;
        if (memchr(s->blob + p, 0, end - p)) return (const char *)s->blob + off;
        if ((p = end) >= s->blob_len) return "";
    }
}

static const doc_rec *doc_at(const cstore *s, uint32_t d)
{
    return d < s->L.ndocs && range_ok(s, s->L.docs + (uint64_t)d * sizeof(doc_rec), sizeof(doc_rec)) ? &s->docs[d] : NULL;
}

static const query_rec *query_at(const cstore *s, uint32_t q)
{
    return q < s->L.nqueries && range_ok(s, s->L.queries + (uint64_t)q * sizeof(query_rec), sizeof(query_rec))
               ? &s->queries[q] : NULL;
}

const char *cstore_path(const cstore *s) { return s->path; }
uint64_t cstore_fingerprint(const cstore *s) { return s->fingerprint; }
int cstore_version(const cstore *s) { return s->version; }
uint64_t cstore_ids_fingerprint(const cstore *s) { return s->ids_fp; }
uint64_t cstore_content_hash(const cstore *s) { return s->content_hash; }
size_t cstore_size(const cstore *s) { return s->map.len; }
uint32_t cstore_ndocs(const cstore *s) { return (uint32_t)s->L.ndocs; }
uint32_t cstore_nqueries(const cstore *s) { return (uint32_t)s->L.nqueries; }

const char *cstore_doc_id(const cstore *s, uint32_t d)
{
    const doc_rec *r = doc_at(s, d);
    return d >= s->L.ndocs ? NULL : r ? str_at(s, r->id, r->title) : "";
}
const char *cstore_doc_title(const cstore *s, uint32_t d)
{
    const doc_rec *r = doc_at(s, d);
    return d >= s->L.ndocs ? NULL : r && r->text > r->title ? str_at(s, r->id + r->title, r->text - r->title) : "";
}
const char *cstore_doc_text(const cstore *s, uint32_t d)
{
    const doc_rec *r = doc_at(s, d);
    return d >= s->L.ndocs ? NULL : r ? str_at(s, r->id + r->text, (uint64_t)r->len + 1) : "";
}
size_t cstore_doc_text_len(const cstore *s, uint32_t d)
{
    const doc_rec *r = doc_at(s, d);
    if (!r) return 0;
    uint64_t at = r->id + r->text;
    /* a damaged length never reads past the mapping */
    if (at >= s->blob_len || r->len >= s->blob_len - at) return 0;
    return !s->lazy || range_ok(s, s->L.blob + at, (uint64_t)r->len + 1) ? r->len : 0;
}

static int64_t find(const cstore *s, const uint32_t *tab, uint64_t tab_off, uint64_t slots, int docs, const char *id)
{
    if (!id) return -1;
    uint64_t i = fnv1a(id) & (slots - 1);
    for (uint64_t probes = 0; probes < slots; probes++, i = (i + 1) & (slots - 1)) {
        if (!range_ok(s, tab_off + 4 * i, 4)) return -1;
        uint32_t v = tab[i];
        if (!v) return -1;
        uint32_t x = v - 1;
        const char *k = docs ? cstore_doc_id(s, x) : cstore_query_id(s, x);
        if (k && !strcmp(k, id)) return x;
    }
    return -1;
}

int64_t cstore_doc_find(const cstore *s, const char *id) { return find(s, s->dhash, s->L.dhash, s->L.dslots, 1, id); }
int64_t cstore_query_find(const cstore *s, const char *id) { return find(s, s->qhash, s->L.qhash, s->L.qslots, 0, id); }

const char *cstore_query_id(const cstore *s, uint32_t q)
{
    const query_rec *r = query_at(s, q);
    return q >= s->L.nqueries ? NULL : r ? str_at(s, r->id, r->text) : "";
}
const char *cstore_query_text(const cstore *s, uint32_t q)
{
    const query_rec *r = query_at(s, q);
    return q >= s->L.nqueries ? NULL : r ? str_at(s, r->id + r->text, 0) : "";
}

size_t cstore_nsplits(const cstore *s) { return s->L.nsplits; }

const char *cstore_split(const cstore *s, size_t i, const corpus_qrel **rows, size_t *n, size_t *nqueries)
{
    const split_rec *r = &s->splits[i];
    *rows = s->qrels + r->first;
    *n = r->n;
    *nqueries = r->nqueries;
    return str_at(s, r->name, 0);
}

const corpus_given_neg *cstore_given_negs(const cstore *s, size_t *n)
{
    *n = s->L.nnegs;
    return s->L.nnegs ? s->negs : NULL;
}

size_t cstore_nwarnings(const cstore *s) { return s->nwarnings; }
size_t cstore_nwarning_msgs(const cstore *s) { return s->L.nwmsgs; }
const char *cstore_warning(const cstore *s, size_t i)
{
    return i < s->L.nwmsgs ? str_at(s, s->warns[i], 0) : NULL;
}
