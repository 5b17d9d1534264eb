/* index: exact dense search with corpus embeddings cached in the session
 * (see index.h for the cache format). */
#include "index.h"
#include "dscan.h"
#include "parfor.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoder.h"
#include "kernels.h"
#include "passage.h"
#include "settings.h"
#include "util.h"

#define DENSE_MAGIC "SYDENSE"
#define DENSE_VERSION 1
#define DENSE_HDR 64
#define DENSE_CHUNK 512          /* passages embedded between checkpoints */
#define DENSE_RESCORE 4          /* bf16/int8: candidates per hit rescored in fp32 */

struct dense_index {
    enc_model *m;
    size_t ndocs;
    int dim;
    sy_map map;                  /* the finished cache file */
    float *mem;                  /* in-memory matrix when the session is read-only */
    const float *mat;
    char *path;
    dscan_docs docs;             /* what search reads: mat, or the bf16/int8 copy */
    sy_map qmap;                 /* the bf16/int8 copy's file */
    uint8_t *qmem;               /* ... or its image in memory (read-only folder) */
    char *qpath;
    char notice[512];
    int titles;                  /* PASSAGE_TITLES or PASSAGE_NO_TITLES */
};

/* ---- top-k core ------------------------------------------------------------------- */

typedef struct {
    const float *S;           /* [qb, db] scores of this block */
    size_t q0, qb, d0, db, k;
    float *hs;                /* [nq, k] heaps */
    uint32_t *hd;
} topk_ctx;

static void topk_rows(void *p, size_t lo, size_t hi, int part)
{
    topk_ctx *c = p;
    (void)part;
    for (size_t i = lo; i < hi; i++) {
        const float *row = c->S + i * c->db;
        float *hs = c->hs + (c->q0 + i) * c->k;
        uint32_t *hd = c->hd + (c->q0 + i) * c->k;
        float thr = hs[0];
        size_t j = 0;
        /* most chunks hold no candidate once the heap has filled: test 16
         * scores at once with a branch-free OR of comparisons (vectorises
         * without fast-math), and walk a chunk only when one may enter */
        for (; j + 16 <= c->db; j += 16) {
            int any = 0;
            for (int u = 0; u < 16; u++) any |= row[j + u] >= thr;
            if (!any) continue;
            for (int u = 0; u < 16; u++)
                if (row[j + u] >= thr) {  /* >=: ties resolve by doc index in heap_offer */
                    dscan_heap_offer(hs, hd, c->k, row[j + u], (uint32_t)(c->d0 + j + u));
                    thr = hs[0];
                }
        }
        for (; j < c->db; j++) {
            if (row[j] >= thr) {
                dscan_heap_offer(hs, hd, c->k, row[j], (uint32_t)(c->d0 + j));
                thr = hs[0];
            }
        }
    }
}

#define TOPK_QB 512      /* queries per sgemm: the D block is packed once per 512 queries */
#define TOPK_DB 4096     /* documents per block: S is 8 MB */

/* many queries: blocked sgemm (documents of another type widened a block at a
 * time), then the scores of each block through the bounded heaps */
static int topk_gemm(const float *Q, size_t nq, const dscan_docs *D, size_t k, uint32_t *docs, float *scores,
                     sy_err *err)
{
    size_t nd = D->n;
    int dim = D->dim;
    float *hs = malloc(nq * k * sizeof *hs);
    uint32_t *hd = malloc(nq * k * sizeof *hd);
    size_t qb = nq < TOPK_QB ? nq : TOPK_QB, db = nd < TOPK_DB ? (nd ? nd : 1) : TOPK_DB;
    float *S = malloc(qb * db * sizeof *S);
    float *W = D->dtype == DSCAN_F32 ? NULL : malloc(db * (size_t)dim * sizeof *W);
    if (!hs || !hd || !S || (D->dtype != DSCAN_F32 && !W)) {
        free(hs); free(hd); free(S); free(W);
        return sy_fail(err, SY_ENOMEM, "out of memory for top-%zu of %zu queries", k, nq);
    }
    for (size_t i = 0; i < nq * k; i++) { hs[i] = -INFINITY; hd[i] = UINT32_MAX; }
    int nt = kern_threads();
    if (nt > 16) nt = 16;
    /* documents outer: each block of D is read from memory (or the mapping) once */
    for (size_t d0 = 0; d0 < nd; d0 += db) {
        size_t dn = nd - d0 < db ? nd - d0 : db;
        const float *blk = (const float *)D->rows + d0 * (size_t)dim;
        if (W) { dscan_rows_f32(W, D, d0, dn); blk = W; }
        for (size_t q0 = 0; q0 < nq; q0 += qb) {
            size_t qn = nq - q0 < qb ? nq - q0 : qb;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qn, (int)dn, dim, 1.0f,
                        Q + q0 * (size_t)dim, dim, blk, dim, 0.0f, S, (int)dn);
            topk_ctx c = { S, q0, qn, d0, dn, k, hs, hd };
            sy_par_for(qn, nt < (int)qn ? nt : (int)qn, topk_rows, &c);
        }
    }
    for (size_t q = 0; q < nq; q++) {
        dscan_heap_sort(hs + q * k, hd + q * k, k);     /* best first */
        memcpy(docs + q * k, hd + q * k, k * sizeof *docs);
        memcpy(scores + q * k, hs + q * k, k * sizeof *scores);
    }
    free(hs); free(hd); free(S); free(W);
    return 0;
}

int dense_topk_docs(const float *Q, size_t nq, const dscan_docs *D, size_t k, uint32_t *docs, float *scores,
                    sy_err *err)
{
    if (k == 0 || nq == 0) return 0;
    if (dscan_streams(nq, D->dim)) return dscan_topk(Q, nq, D, k, 0, DSCAN_AUTO, docs, scores, err);
    return topk_gemm(Q, nq, D, k, docs, scores, err);
}

int dense_topk(const float *Q, size_t nq, const float *D, size_t nd, int dim, size_t k,
               uint32_t *docs, float *scores, sy_err *err)
{
    dscan_docs dd = {.dtype = DSCAN_F32, .n = nd, .dim = dim, .rows = D};
    return dense_topk_docs(Q, nq, &dd, k, docs, scores, err);
}

int dense_topk_naive(const float *Q, size_t nq, const float *D, size_t nd, int dim, size_t k,
                     uint32_t *docs, float *scores, sy_err *err)
{
    (void)err;
    for (size_t q = 0; q < nq; q++) {
        uint32_t *od = docs + q * k;
        float *os = scores + q * k;
        for (size_t i = 0; i < k; i++) { od[i] = UINT32_MAX; os[i] = -INFINITY; }
        for (size_t d = 0; d < nd; d++) {
            float s = 0;
            for (int c = 0; c < dim; c++) s += Q[q * dim + c] * D[d * dim + c];
            dscan_offer_sorted(os, od, k, s, (uint32_t)d);
        }
    }
    return 0;
}

/* ---- the cache ---------------------------------------------------------------------- */

static uint64_t model_key(const enc_model *m, int titles)
{
    uint64_t h = sy_hash64(m->params_memory, m->num_params * sizeof(float));
    char opts[1024];
    snprintf(opts, sizeof opts, "v%d|pool=%d|norm=%d|len=%d|pp=%s|vocab=%zu", DENSE_VERSION,
             (int)m->pooling, m->normalize, m->max_len, m->passage_prefix ? m->passage_prefix : "",
             tok_vocab_size(m->tok));
    size_t n = strlen(opts);   /* keys with titles stay as they were */
    if (titles == PASSAGE_NO_TITLES) snprintf(opts + n, sizeof opts - n, "|notitles");
    n = strlen(opts);   /* bf16 vectors are cached apart from fp32 ones (fp32 keys unchanged) */
    if (m->precision == ENC_BF16) snprintf(opts + n, sizeof opts - n, "|bf16");
    return sy_hash64_seed(opts, strlen(opts), h);
}

static uint64_t corpus_hash(const corpus *c) { return corpus_content_hash(c); }

static void put_header(uint8_t *h, const dense_index *ix, uint64_t done, uint64_t key, uint64_t ch)
{
    memset(h, 0, DENSE_HDR);
    memcpy(h, DENSE_MAGIC, 8);
    sy_put_u32(h + 8, DENSE_VERSION);
    sy_put_u32(h + 12, (uint32_t)ix->dim);
    sy_put_u64(h + 16, ix->ndocs);
    sy_put_u64(h + 24, done);
    sy_put_u64(h + 32, key);
    sy_put_u64(h + 40, ch);
    sy_put_u32(h + 48, (uint32_t)ix->m->pooling);
    sy_put_u32(h + 52, (uint32_t)ix->m->normalize);
    sy_put_u32(h + 56, (uint32_t)ix->m->max_len);
}

static char *passage_text(const corpus *c, uint32_t d, int titles)
{
    return passage_format(corpus_doc_title(c, d), corpus_doc_text(c, d), titles);
}

typedef struct {
    const dense_opts *o;
    size_t base, total;
} prog_ctx;

static int embed_progress(void *ctx, size_t done, size_t total)
{
    (void)total;
    prog_ctx *p = ctx;
    if (p->o && p->o->progress) p->o->progress(p->o->progress_ctx, p->base + done, p->total);
    return 0;
}

/* Embed passages [from, ndocs) into dst rows (or the file when fd >= 0). */
static int embed_corpus(dense_index *ix, const corpus *c, int fd, size_t from, float *dst,
                        uint64_t key, uint64_t ch, const dense_opts *o, sy_err *err)
{
    size_t n = ix->ndocs, dim = (size_t)ix->dim;
    float *buf = malloc(DENSE_CHUNK * dim * sizeof *buf);
    char **texts = calloc(DENSE_CHUNK, sizeof *texts);
    if (!buf || !texts) { free(buf); free(texts); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    int rc = 0;
    uint8_t hdr[DENSE_HDR];
    for (size_t s = from; s < n && !rc; s += DENSE_CHUNK) {
        size_t cn = n - s < DENSE_CHUNK ? n - s : DENSE_CHUNK;
        for (size_t i = 0; i < cn; i++)
            if (!(texts[i] = passage_text(c, (uint32_t)(s + i), ix->titles))) rc = sy_fail(err, SY_ENOMEM, "out of memory");
        prog_ctx pc = { o, s, n };
        float *out = dst ? dst + s * dim : buf;
        if (!rc) rc = enc_embed(ix->m, (const char *const *)texts, cn, 0, out, embed_progress, &pc, err);
        for (size_t i = 0; i < cn; i++) { free(texts[i]); texts[i] = NULL; }
        /* a lazily opened store reads a damaged text as "": never cache its vector */
        if (!rc && corpus_store_damage(c, err) < 0) rc = -1;
        if (rc || fd < 0) continue;
        uint8_t *le = (uint8_t *)buf;
        for (size_t i = 0; i < cn * dim; i++) { uint32_t b; memcpy(&b, &buf[i], 4); sy_put_u32(le + 4 * i, b); }
        off_t at = (off_t)(DENSE_HDR + s * dim * 4);
        size_t len = cn * dim * 4, w = 0;
        while (w < len) {
            ssize_t k = pwrite(fd, le + w, len - w, at + (off_t)w);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) { rc = sy_fail_errno(err, errno, "%s: writing embeddings", ix->path); break; }
            w += (size_t)k;
        }
        if (rc) break;
        put_header(hdr, ix, s + cn, key, ch);
        if (fdatasync(fd) || pwrite(fd, hdr, DENSE_HDR, 0) != DENSE_HDR || fdatasync(fd))
            rc = sy_fail_errno(err, errno, "%s: saving progress", ix->path);
    }
    free(buf);
    free(texts);
    return rc;
}

/* Open or create the cache file; returns rows already done (or -1). */
static long long cache_prepare(dense_index *ix, int *fdp, uint64_t key, uint64_t ch, sy_err *err)
{
    int fd = open(ix->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return sy_fail_errno(err, errno, "%s: cannot open the embedding cache", ix->path);
    /* one writer at a time; a second process waits, then finds the rows done */
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR) {}
    uint8_t h[DENSE_HDR];
    size_t want = DENSE_HDR + ix->ndocs * (size_t)ix->dim * 4;
    long long done = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size == want && pread(fd, h, DENSE_HDR, 0) == DENSE_HDR &&
        !memcmp(h, DENSE_MAGIC, 8) && sy_get_u32(h + 8) == DENSE_VERSION &&
        sy_get_u32(h + 12) == (uint32_t)ix->dim && sy_get_u64(h + 16) == ix->ndocs &&
        sy_get_u64(h + 32) == key && sy_get_u64(h + 40) == ch && sy_get_u64(h + 24) <= ix->ndocs) {
        done = (long long)sy_get_u64(h + 24);
    } else {
        put_header(h, ix, 0, key, ch);
        if (ftruncate(fd, 0) || ftruncate(fd, (off_t)want) || pwrite(fd, h, DENSE_HDR, 0) != DENSE_HDR) {
            int e = errno;
            close(fd);
            return sy_fail_errno(err, e, "%s: cannot size the embedding cache (%zu bytes)", ix->path, want);
        }
    }
    *fdp = fd;
    return done;
}

static void apply_opts(enc_model *m, session *s, const dense_opts *o)
{
    const char *pool = o && o->pooling ? o->pooling : settings_str(s, "dense.pooling");
    if (pool && !strcmp(pool, "mean")) m->pooling = ENC_POOL_MEAN;
    else if (pool && !strcmp(pool, "cls")) m->pooling = ENC_POOL_CLS;
    int norm = o ? o->normalize : -1;
    if (norm < 0 && settings_is_set(s, "dense.normalize")) norm = settings_bool(s, "dense.normalize");
    if (norm >= 0) m->normalize = norm != 0;
    int ml = o && o->max_len > 0 ? o->max_len : (int)settings_int(s, "dense.max_len");
    int cap = m->cfg.max_position < 512 ? m->cfg.max_position : 512;
    if (ml > 0) m->max_len = ml < cap ? ml : cap;
    const char *qp = o && o->query_prefix ? o->query_prefix
                     : settings_is_set(s, "dense.query_prefix") ? settings_str(s, "dense.query_prefix") : NULL;
    const char *pp = o && o->passage_prefix ? o->passage_prefix
                     : settings_is_set(s, "dense.passage_prefix") ? settings_str(s, "dense.passage_prefix") : NULL;
    if (qp) { free(m->query_prefix); m->query_prefix = *qp ? strdup(qp) : NULL; }
    if (pp) { free(m->passage_prefix); m->passage_prefix = *pp ? strdup(pp) : NULL; }
}

/* ---- bf16 / int8 copies (format in index.h) ------------------------------------------ */

#define QUANT_MAGIC "SYDENSQ"
#define QUANT_VERSION 1
#define QUANT_HDR 64
#define QUANT_CHUNK 4096         /* rows converted per write */

static size_t quant_params_bytes(dscan_dtype t, int dim)
{
    size_t per = t == DSCAN_INT8 ? 8 : t == DSCAN_BF16 ? 4 : 0;   /* scale + offset | offset */
    return ((size_t)dim * per + 63) / 64 * 64;
}

static size_t quant_size(dscan_dtype t, size_t n, int dim)
{
    return QUANT_HDR + quant_params_bytes(t, dim) + n * dscan_row_bytes(t, dim);
}

/* Why the mapped file cannot serve (a message in why), or 0 when it can. */
static int quant_bad(const sy_map *m, dscan_dtype t, const dense_index *ix, uint64_t key, uint64_t ch, char *why,
                     size_t n)
{
    const uint8_t *h = m->data;
    if (m->len < QUANT_HDR || memcmp(h, QUANT_MAGIC, 8))
        return snprintf(why, n, "not a syneg %s vector file", dscan_dtype_name(t)), 1;
    if (sy_get_u32(h + 8) != QUANT_VERSION)
        return snprintf(why, n, "format version %u, this syneg reads %d", sy_get_u32(h + 8), QUANT_VERSION), 1;
    if (sy_get_u32(h + 12) != (uint32_t)t || sy_get_u64(h + 16) != ix->ndocs || sy_get_u32(h + 24) != (uint32_t)ix->dim ||
        sy_get_u64(h + 32) != key || sy_get_u64(h + 40) != ch)
        return snprintf(why, n, "made for another model, corpus or type"), 1;
    if (m->len != quant_size(t, ix->ndocs, ix->dim))
        return snprintf(why, n, "%zu bytes, expected %zu (damaged)", m->len, quant_size(t, ix->ndocs, ix->dim)), 1;
    return 0;
}

/* where a built copy goes: a file (fd >= 0) or memory */
typedef struct {
    int fd;
    uint8_t *mem;
    size_t at;
} quant_out;

static int quant_put(quant_out *o, const void *p, size_t n)
{
    if (o->fd < 0) {
        memcpy(o->mem + o->at, p, n);
    } else if (sy_write_all(o->fd, p, n) < 0) {
        return -1;
    }
    o->at += n;
    return 0;
}

/* Convert ix->mat to type t into o (header, int8 parameters, rows). */
static int quant_write(const dense_index *ix, dscan_dtype t, uint64_t key, uint64_t ch, quant_out *o)
{
    size_t n = ix->ndocs, dim = (size_t)ix->dim;
    uint8_t h[QUANT_HDR] = {0};
    memcpy(h, QUANT_MAGIC, 8);
    sy_put_u32(h + 8, QUANT_VERSION);
    sy_put_u32(h + 12, (uint32_t)t);
    sy_put_u64(h + 16, n);
    sy_put_u32(h + 24, (uint32_t)dim);
    sy_put_u64(h + 32, key);
    sy_put_u64(h + 40, ch);
    size_t pb = quant_params_bytes(t, ix->dim);
    uint8_t *buf = malloc(pb + QUANT_CHUNK * dim * 2);
    float *par = malloc(dim * 4 * sizeof *par);
    double *sum = calloc(dim ? dim : 1, sizeof *sum);
    if (!buf || !par || !sum) { free(buf); free(par); free(sum); errno = ENOMEM; return -1; }
    int rc = quant_put(o, h, QUANT_HDR);
    float *scale = par, *offset = par + dim, *mn = par + 2 * dim, *mx = par + 3 * dim;
    memset(buf, 0, pb);
    if (t == DSCAN_INT8) {   /* per-dimension range: scale, offset */
        for (size_t c = 0; c < dim; c++) { mn[c] = INFINITY; mx[c] = -INFINITY; }
        dscan_int8_range(ix->mat, n, ix->dim, mn, mx);
        dscan_int8_params(mn, mx, ix->dim, scale, offset);
        for (size_t c = 0; c < dim; c++) {
            uint32_t b;
            memcpy(&b, &scale[c], 4);
            sy_put_u32(buf + 4 * c, b);
            memcpy(&b, &offset[c], 4);
            sy_put_u32(buf + 4 * (dim + c), b);
        }
    } else {                 /* per-dimension mean: offset */
        dscan_mean(ix->mat, n, ix->dim, sum, offset, n);
        for (size_t c = 0; c < dim; c++) {
            uint32_t b;
            memcpy(&b, &offset[c], 4);
            sy_put_u32(buf + 4 * c, b);
        }
    }
    if (!rc) rc = quant_put(o, buf, pb);
    free(sum);
    for (size_t r = 0; r < n && !rc; r += QUANT_CHUNK) {
        size_t cn = n - r < QUANT_CHUNK ? n - r : QUANT_CHUNK;
        const float *x = ix->mat + r * dim;
        if (t == DSCAN_INT8) {
            dscan_to_int8((int8_t *)buf, x, cn, ix->dim, scale, offset);
        } else {
            uint16_t *b16 = (uint16_t *)(void *)(buf + pb);
            dscan_to_bf16_rows(b16, x, cn, ix->dim, offset);
            for (size_t i = 0; i < cn * dim; i++) { uint16_t v = b16[i]; buf[2 * i] = (uint8_t)v; buf[2 * i + 1] = (uint8_t)(v >> 8); }
        }
        rc = quant_put(o, buf, cn * dscan_row_bytes(t, ix->dim));
    }
    free(buf);
    free(par);
    return rc;
}

static void quant_point(dense_index *ix, dscan_dtype t, const uint8_t *img)
{
    size_t pb = quant_params_bytes(t, ix->dim);
    ix->docs = (dscan_docs){.dtype = t, .n = ix->ndocs, .dim = ix->dim, .rows = img + QUANT_HDR + pb};
    const float *par = (const float *)(const void *)(img + QUANT_HDR);
    if (t == DSCAN_INT8) {
        ix->docs.scale = par;
        ix->docs.offset = par + ix->dim;
    } else {
        ix->docs.offset = par;
    }
}

/* Search the documents as type t: map SESSION/cache/dense/KEY/emb.<t>, or
 * build it from the fp32 matrix (a stale or damaged one is rebuilt, and
 * ix->notice says so); where the folder is read-only, build it in memory. */
static int quant_open(dense_index *ix, dscan_dtype t, uint64_t key, uint64_t ch, sy_err *err)
{
    size_t pl = strlen(ix->path);
    ix->qpath = malloc(pl + 8);
    if (!ix->qpath) return sy_fail(err, SY_ENOMEM, "out of memory");
    memcpy(ix->qpath, ix->path, pl - 3);   /* ".../emb.bin" -> ".../emb.bf16" */
    strcpy(ix->qpath + pl - 3, dscan_dtype_name(t));
    if (sy_file_exists(ix->qpath)) {
        char why[200];
        if (sy_map_open(&ix->qmap, ix->qpath, NULL) == 0) {
            if (!quant_bad(&ix->qmap, t, ix, key, ch, why, sizeof why)) {
                quant_point(ix, t, ix->qmap.data);
                return 0;
            }
            sy_map_close(&ix->qmap);
            memset(&ix->qmap, 0, sizeof ix->qmap);
        } else {
            snprintf(why, sizeof why, "unreadable");
        }
        snprintf(ix->notice, sizeof ix->notice, "%s: %s; rebuilt from the fp32 vectors", ix->qpath, why);
    }
    sy_atomic a = {0};
    if (sy_atomic_open(&a, ix->qpath, NULL) == 0) {
        quant_out o = {.fd = a.fd};
        if (quant_write(ix, t, key, ch, &o) < 0) {
            int e = errno;
            sy_atomic_abort(&a);
            return sy_fail_errno(err, e, "%s: writing %s vectors", ix->qpath, dscan_dtype_name(t));
        }
        if (sy_atomic_commit(&a, err) < 0) return -1;
        if (sy_map_open(&ix->qmap, ix->qpath, err)) return -1;
        quant_point(ix, t, ix->qmap.data);
        return 0;
    }
    size_t size = quant_size(t, ix->ndocs, ix->dim);
    if (!(ix->qmem = malloc(size))) return sy_fail(err, SY_ENOMEM, "out of memory for %zu bytes of %s vectors", size, dscan_dtype_name(t));
    quant_out o = {.fd = -1, .mem = ix->qmem};
    quant_write(ix, t, key, ch, &o);
    quant_point(ix, t, ix->qmem);
    return 0;
}

static int parse_storage(session *s, const dense_opts *o, dscan_dtype *t, sy_err *err)
{
    const char *v = o && o->storage ? o->storage : settings_str(s, "dense.storage");
    if (!v || !strcmp(v, "fp32")) *t = DSCAN_F32;
    else if (!strcmp(v, "bf16")) *t = DSCAN_BF16;
    else if (!strcmp(v, "int8")) *t = DSCAN_INT8;
    else return sy_fail(err, SY_EINVAL, "dense storage '%s' is unknown; use fp32, bf16 or int8", v);
    return 0;
}

dense_index *dense_open(session *s, const char *model_dir, const dense_opts *opts, sy_err *err)
{
    if (opts && opts->pooling && strcmp(opts->pooling, "cls") && strcmp(opts->pooling, "mean")) {
        sy_fail(err, SY_EINVAL, "pooling '%s' is unknown; use cls or mean", opts->pooling);
        return NULL;
    }
    if (settings_check_session(s, "dense.", err) < 0) return NULL;
    dscan_dtype storage = DSCAN_F32;
    if (parse_storage(s, opts, &storage, err) < 0) return NULL;
    corpus *c = session_corpus(s, err);
    if (!c) return NULL;
    dense_index *ix = calloc(1, sizeof *ix);
    if (!ix) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    if (!(ix->m = enc_load(model_dir, err))) goto fail;
    apply_opts(ix->m, s, opts);
    /* fp32 or bf16 products: opts, else the encoder.precision setting ($SYNEG_PRECISION) */
    if (settings_check_session(s, "encoder.", err) < 0 ||
        enc_apply_precision(ix->m, opts && opts->precision ? opts->precision : settings_str(s, "encoder.precision"),
                            err)) goto fail;
    if (opts && opts->titles) ix->titles = opts->titles > 0 ? PASSAGE_TITLES : PASSAGE_NO_TITLES;
    else if ((ix->titles = passage_titles_setting(s, err)) < 0) goto fail;
    ix->ndocs = corpus_ndocs(c);
    ix->dim = enc_dim(ix->m);
    uint64_t key = model_key(ix->m, ix->titles), ch = corpus_hash(c);
    char rel[128];
    snprintf(rel, sizeof rel, "cache/dense/%016llx", (unsigned long long)(key ^ ch));
    char *dir = session_path(s, rel);
    if (!dir) { sy_fail(err, SY_ENOMEM, "out of memory"); goto fail; }
    ix->path = sy_path_join(dir, "emb.bin");
    /* The cache file is locked on its own (flock), so sessions opened
     * read-only share it too; where it cannot be written (read-only
     * folder), the vectors are computed in memory. */
    int fd = -1;
    long long done = sy_mkdir_p(dir, NULL) == 0 ? cache_prepare(ix, &fd, key, ch, NULL) : -1;
    free(dir);
    if (done < 0) {
        ix->mem = malloc(ix->ndocs * (size_t)ix->dim * sizeof *ix->mem + 4);
        if (!ix->mem) { sy_fail(err, SY_ENOMEM, "out of memory for the corpus matrix"); goto fail; }
        if (embed_corpus(ix, c, -1, 0, ix->mem, key, ch, opts, err)) goto fail;
        ix->mat = ix->mem;
        goto storage;
    }
    if ((size_t)done < ix->ndocs) {
        int rc = embed_corpus(ix, c, fd, (size_t)done, NULL, key, ch, opts, err);
        close(fd);
        if (rc) goto fail;
    } else {
        close(fd);
    }
    if (opts && opts->progress) opts->progress(opts->progress_ctx, ix->ndocs, ix->ndocs);
    if (sy_map_open(&ix->map, ix->path, err)) goto fail;
    ix->mat = (const float *)(ix->map.data + DENSE_HDR);
storage:
    ix->docs = (dscan_docs){.dtype = DSCAN_F32, .n = ix->ndocs, .dim = ix->dim, .rows = ix->mat};
    if (storage != DSCAN_F32 && quant_open(ix, storage, key, ch, err) < 0) goto fail;
    return ix;
fail:
    dense_free(ix);
    return NULL;
}

int dense_embed_queries(dense_index *ix, const char *const *queries, size_t nq, float *out, sy_err *err)
{
    return nq ? enc_embed(ix->m, queries, nq, 1, out, NULL, NULL, err) : 0;
}

/* bf16/int8: the k * DENSE_RESCORE best of the scan, rescored with their fp32
 * rows (dscan's lane rule): the top k of those, best first */
static int rescore(const dense_index *ix, const float *Q, size_t nq, const uint32_t *cd, size_t kk, size_t k,
                   uint32_t *docs, float *scores)
{
    dscan_docs f = {.dtype = DSCAN_F32, .n = ix->ndocs, .dim = ix->dim, .rows = ix->mat};
    for (size_t q = 0; q < nq; q++) {
        float *hs = scores + q * k;
        uint32_t *hd = docs + q * k;
        for (size_t i = 0; i < k; i++) { hs[i] = -INFINITY; hd[i] = UINT32_MAX; }
        for (size_t i = 0; i < kk; i++) {
            uint32_t d = cd[q * kk + i];
            if (d == UINT32_MAX) break;
            float sc = dscan_score(Q + q * (size_t)ix->dim, &f, d);
            if (sc == sc) dscan_heap_offer(hs, hd, k, sc, d);
        }
        dscan_heap_sort(hs, hd, k);
    }
    return 0;
}

int dense_search(dense_index *ix, const char *const *queries, size_t nq, size_t k,
                 uint32_t *docs, float *scores, sy_err *err)
{
    if (nq == 0 || k == 0) return 0;
    float *Q = malloc(nq * (size_t)ix->dim * sizeof *Q);
    if (!Q) return sy_fail(err, SY_ENOMEM, "out of memory for %zu queries", nq);
    int rc = dense_embed_queries(ix, queries, nq, Q, err);
    if (!rc && ix->docs.dtype != DSCAN_F32) {
        size_t kk = k * DENSE_RESCORE < ix->ndocs ? k * DENSE_RESCORE : (ix->ndocs > k ? ix->ndocs : k);
        uint32_t *cd = malloc(nq * kk * sizeof *cd);
        float *cs = malloc(nq * kk * sizeof *cs);
        if (!cd || !cs) rc = sy_fail(err, SY_ENOMEM, "out of memory for %zu candidates", nq * kk);
        if (!rc) rc = dense_topk_docs(Q, nq, &ix->docs, kk, cd, cs, err);
        if (!rc) rc = rescore(ix, Q, nq, cd, kk, k, docs, scores);
        free(cd);
        free(cs);
    } else if (!rc) {
        rc = dense_topk_docs(Q, nq, &ix->docs, k, docs, scores, err);
    }
    free(Q);
    return rc;
}

void dense_free(dense_index *ix)
{
    if (!ix) return;
    enc_free(ix->m);
    sy_map_close(&ix->map);
    free(ix->mem);
    free(ix->path);
    sy_map_close(&ix->qmap);
    free(ix->qmem);
    free(ix->qpath);
    free(ix);
}

size_t dense_ndocs(const dense_index *ix) { return ix->ndocs; }
int dense_dim(const dense_index *ix) { return ix->dim; }
const float *dense_matrix(const dense_index *ix) { return ix->mat; }
const char *dense_cache_path(const dense_index *ix) { return ix->path; }
const char *dense_storage_path(const dense_index *ix) { return ix->qpath; }
const dscan_docs *dense_docs(const dense_index *ix) { return &ix->docs; }
const char *dense_notice(const dense_index *ix) { return ix->notice[0] ? ix->notice : NULL; }
