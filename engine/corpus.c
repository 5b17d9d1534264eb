/* corpus: loading BEIR, MS MARCO and FlagEmbedding data into dense tables.
 *
 * Layout in memory:
 *   - all strings (ids, titles, texts) live in an arena of big blocks that never
 *     move, so the id maps (sy_strmap, keys not copied) can point into it;
 *   - docs[] / queries[] hold pointers into the arena, indexed densely in file order;
 *   - each split holds its qrels sorted by (query, doc).
 * Files are read with read(2) in big chunks (not mmap), so the resident size is
 * the arena + tables, not arena + file.  Every line is checked for UTF-8 first
 * (invalid bytes become U+FFFD, with a warning); JSON lines (BEIR and
 * FlagEmbedding) go through a strict hand-written fast path that falls back to
 * jansson for anything unusual, so jansson has the last word on what is
 * malformed.  Sections: arena, line reader, UTF-8, adding rows, JSON fast
 * path, BEIR, qrels, MS MARCO, FlagEmbedding, public getters. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus_store.h"
#include "util.h"

#define WARN_MSGS_MAX 32
#define ARENA_FIRST_BLOCK (1u << 20)
#define ARENA_MAX_BLOCK (64u << 20)
#define READ_CHUNK (4u << 20)

/* ---- arena: a list of big blocks; reserve, write, then commit ------------- */

typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    char data[];
} arena_block;

typedef struct {
    arena_block *head;
    size_t total, next_size;
} arena;

/* A pointer to n writable bytes at the end of the arena; nothing is committed
 * until arena_commit, so a rejected row costs nothing. */
static char *arena_reserve(arena *a, size_t n)
{
    arena_block *b = a->head;
    if (b && b->cap - b->used >= n) return b->data + b->used;
    size_t sz = a->next_size ? a->next_size : ARENA_FIRST_BLOCK;
    if (sz < n) sz = n;
    b = malloc(sizeof *b + sz);
    if (!b) return NULL;
    b->cap = sz;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    a->total += sizeof *b + sz;
    if (!a->next_size) a->next_size = ARENA_FIRST_BLOCK;
    if (a->next_size < ARENA_MAX_BLOCK) a->next_size *= 2;
    return b->data;
}

static void arena_commit(arena *a, size_t n) { a->head->used += n; }

static char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_reserve(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    arena_commit(a, n + 1);
    return p;
}

static void arena_free(arena *a)
{
    for (arena_block *b = a->head, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    memset(a, 0, sizeof *a);
}

/* ---- the corpus ------------------------------------------------------------ */

typedef struct {
    const char *id, *title, *text;   /* title, text: NULL while streamed (corpus_load_streamed) */
    uint32_t text_len, title_len;
} doc_rec;

typedef struct {
    const char *id, *text;
} query_rec;

typedef struct {
    corpus_qrels pub;   /* first member: corpus_qrels_nqueries casts back */
    size_t nqueries;
} split_rec;

struct corpus {
    cstore *st;         /* when set, docs and queries are served from the mapping */
    cstore_sink *sink;  /* when set, documents' titles and texts went there, not to the arena */
    arena ar;
    doc_rec *docs;
    size_t ndocs, cap_docs;
    query_rec *queries;
    size_t nqueries, cap_queries;
    sy_strmap doc_map, query_map;
    split_rec *splits;
    size_t nsplits;
    corpus_given_neg *negs;
    size_t nnegs, cap_negs;
    size_t nwarn, nwarn_msgs;
    char *warn_msgs[WARN_MSGS_MAX];
    int splits_mapped;  /* split rows and negs point into st's mapping */
    /* load time: only these qrels splits (corpus_load_splits; nonly 0: all) */
    const char *const *only;
    size_t nonly;
    /* load-time scratch */
    sy_buf fix, s1, s2, s3;
};

static void warnf(corpus *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(corpus *c, const char *fmt, ...)
{
    c->nwarn++;
    if (c->nwarn_msgs >= WARN_MSGS_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) >= 0) c->warn_msgs[c->nwarn_msgs++] = s;
    va_end(ap);
}

/* How many bytes of s (n long) to print in a message: at most 60, cut at a
 * character boundary. */
static int clip(const char *s, size_t n)
{
    if (n <= 60) return (int)n;
    n = 60;
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return (int)n;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* ---- line reader over read(2) --------------------------------------------- */

typedef struct {
    int fd;
    const char *path;
    char *buf;
    size_t cap, start, end, lineno;
    int eof;
} line_reader;

static int lr_open(line_reader *r, const char *path, sy_err *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) return sy_fail_errno(err, errno, "%s: cannot open", path);
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(r->fd);
        r->fd = -1;
        return sy_fail(err, SY_EINVAL, "%s: is a folder, expected a file", path);
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    r->cap = READ_CHUNK;
    r->buf = malloc(r->cap + 1);
    if (!r->buf) {
        close(r->fd);
        r->fd = -1;
        return sy_fail(err, SY_ENOMEM, "%s: out of memory", path);
    }
    return 0;
}

static void lr_close(line_reader *r)
{
    if (r->fd >= 0) close(r->fd);
    free(r->buf);
    r->fd = -1;
    r->buf = NULL;
}

/* 1 with the next line (NUL-terminated in place, without "\n" or "\r\n"),
 * 0 at the end, -1 on a read error. */
static int lr_next(line_reader *r, char **line, size_t *len, sy_err *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl || (r->eof && r->start < r->end)) {
            char *s = r->buf + r->start;
            size_t n = nl ? (size_t)(nl - s) : r->end - r->start;
            r->start = nl ? r->start + n + 1 : r->end;
            if (n && s[n - 1] == '\r') n--;
            s[n] = '\0';
            if (r->lineno == 0 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {   /* a UTF-8 byte-order mark */
                s += 3;
                n -= 3;
            }
            r->lineno++;
            *line = s;
            *len = n;
            return 1;
        }
        if (r->eof) return 0;
        if (r->start) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        if (r->end == r->cap) {
            char *nb = realloc(r->buf, r->cap * 2 + 1);
            if (!nb) return sy_fail(err, SY_ENOMEM, "%s:%zu: out of memory for a long line", r->path, r->lineno + 1);
            r->buf = nb;
            r->cap *= 2;
        }
        ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (got < 0) {
            if (errno == EINTR) continue;
            return sy_fail_errno(err, errno, "%s:%zu: read failed", r->path, r->lineno + 1);
        }
        if (got == 0) r->eof = 1;
        r->end += (size_t)got;
    }
}

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, <= U+10FFFF), or 0 when invalid.  NUL counts as invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c >= 1 && c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;
        if (c == 0xED && s[1] > 0x9F) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] > 0x8F) return 0;
        return 4;
    }
    return 0;
}

/* Offset of the first invalid byte, or n when all of s is valid. */
static size_t utf8_check(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    for (;;) {
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            /* any high bit, or any zero byte */
            if ((v & 0x8080808080808080ull) || ((v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull)) break;
            i += 8;
        }
        if (i >= n) return n;
        size_t k = utf8_seq(s + i, n - i);
        if (!k) return i;
        i += k;
    }
}

/* If line is not valid UTF-8, write a repaired copy (each bad byte becomes
 * U+FFFD) into c->fix, point *line at it and warn.  Returns the count of bytes
 * replaced. */
static size_t utf8_fix(corpus *c, char **line, size_t *len, const char *path, size_t lineno)
{
    size_t n = *len, i = utf8_check(*line, n);
    if (i == n) return 0;
    const unsigned char *s = (const unsigned char *)*line;
    c->fix.len = 0;
    size_t bad = 0, first = i;
    if (sy_buf_reserve(&c->fix, n * 3 + 1)) return 0;
    memcpy(c->fix.data, s, i);
    c->fix.len = i;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        if (k) {
            memcpy(c->fix.data + c->fix.len, s + i, k);
            c->fix.len += k;
            i += k;
        } else {
            memcpy(c->fix.data + c->fix.len, "\xEF\xBF\xBD", 3);
            c->fix.len += 3;
            i++;
            bad++;
        }
    }
    c->fix.data[c->fix.len] = '\0';
    *line = c->fix.data;
    *len = c->fix.len;
    warnf(c, "%s:%zu: invalid UTF-8 (%zu byte%s, first at byte %zu) replaced with U+FFFD; "
             "re-encode the file as UTF-8 to keep the original characters",
          path, lineno, bad, bad == 1 ? "" : "s", first + 1);
    return bad;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}


/* Expected number of lines of path, from its size and the first MiB, so the
 * id map and the document table are sized once instead of grown and rehashed. */
static size_t estimate_lines(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    size_t est = 0;
    char *buf = malloc(1u << 20);
    if (buf && fstat(fd, &st) == 0) {
        ssize_t got = pread(fd, buf, 1u << 20, 0);
        size_t nl = 0;
        for (char *s = buf, *e = buf + (got > 0 ? got : 0); (s = memchr(s, '\n', (size_t)(e - s))); s++) nl++;
        if (got > 0) est = (size_t)st.st_size <= (size_t)got ? nl + 1 : (size_t)((double)st.st_size * nl / got) + 1;
    }
    free(buf);
    close(fd);
    return est;
}

static int presize_docs(corpus *c, const char *path)
{
    size_t est = estimate_lines(path);
    if (est < 4096 || c->ndocs || est > UINT32_MAX) return 0;
    sy_strmap m;
    if (sy_strmap_init(&m, est * 2 / 3 + 1)) return 0;   /* cap >= 4/3 est: no rehash, load <= 3/4 */
    sy_strmap_free(&c->doc_map);
    c->doc_map = m;
    size_t cap = est + est / 32;   /* exact, not a power of two: later growth doubles from here */
    doc_rec *d = realloc(c->docs, cap * sizeof *d);
    if (d) {
        c->docs = d;
        c->cap_docs = cap;
    }
    return 0;
}

/* ---- adding rows ----------------------------------------------------------- */

static int oom(sy_err *err, const char *path, size_t line)
{
    return sy_fail(err, SY_ENOMEM, "%s:%zu: out of memory; the data set needs more RAM than is free", path, line);
}

/* Add one document; the strings are copied.  1 added, 0 skipped (warned), -1 error. */
static int add_doc(corpus *c, const char *id, size_t idlen, const char *title, size_t tlen,
                   const char *text, size_t xlen, const char *path, size_t line, sy_err *err)
{
    if (!idlen || is_blank(id, idlen)) {
        warnf(c, "%s:%zu: document without an id; line skipped; give every document a unique id", path, line);
        return 0;
    }
    if (c->ndocs >= UINT32_MAX - 1 || xlen > UINT32_MAX || tlen > UINT32_MAX)
        return sy_fail(err, SY_EUNSUP, "%s:%zu: too many or too long documents (limit 4G)", path, line);
    if (grow((void **)&c->docs, &c->cap_docs, c->ndocs + 1, sizeof *c->docs)) return oom(err, path, line);
    /* copy first, then insert the arena copy as the key; a duplicate is not
     * committed.  With a sink (init streaming into the store) only the id stays
     * in memory and the strings go to the sink; else all three to the arena. */
    size_t need = c->sink ? idlen + 1 : idlen + tlen + xlen + 3;
    char *p = arena_reserve(&c->ar, need);
    if (!p) return oom(err, path, line);
    memcpy(p, id, idlen);
    p[idlen] = '\0';
    int put = sy_strmap_put(&c->doc_map, p, idlen, (uint32_t)c->ndocs, NULL);
    if (put < 0) return oom(err, path, line);
    if (put == 0) {
        warnf(c, "%s:%zu: duplicate document id \"%.*s\"; the first is kept, this line skipped", path, line,
              clip(id, idlen), id);
        return 0;
    }
    doc_rec *d = &c->docs[c->ndocs];
    *d = (doc_rec){.id = p, .text_len = (uint32_t)xlen, .title_len = (uint32_t)tlen};
    if (c->sink) {
        if (cstore_sink_doc(c->sink, p, idlen, title, tlen, text, xlen, err) < 0) return -1;
    } else {
        p += idlen + 1;
        d->title = p;
        memcpy(p, title, tlen);
        p[tlen] = '\0';
        p += tlen + 1;
        d->text = p;
        memcpy(p, text, xlen);
        p[xlen] = '\0';
    }
    arena_commit(&c->ar, need);
    c->ndocs++;
    if (is_blank(title, tlen) && is_blank(text, xlen))
        warnf(c, "%s:%zu: document \"%.*s\" has an empty title and text; kept (so indices and qrels stay "
                 "aligned) but it can never match a query",
              path, line, clip(id, idlen), id);
    return 1;
}

static int add_query(corpus *c, const char *id, size_t idlen, const char *text, size_t xlen,
                     const char *path, size_t line, sy_err *err)
{
    if (!idlen || is_blank(id, idlen)) {
        warnf(c, "%s:%zu: query without an id; line skipped; give every query a unique id", path, line);
        return 0;
    }
    if (c->nqueries >= UINT32_MAX - 1) return sy_fail(err, SY_EUNSUP, "%s:%zu: too many queries", path, line);
    uint32_t old;
    if (sy_strmap_get(&c->query_map, id, idlen, &old)) {
        /* the same query again (MS MARCO's queries.dev.small.tsv repeats queries.dev.tsv): nothing to say */
        const char *ot = c->queries[old].text;
        if (strlen(ot) == xlen && memcmp(ot, text, xlen) == 0) return 0;
        warnf(c, "%s:%zu: duplicate query id \"%.*s\" with a different text; the first is kept, this line skipped",
              path, line, clip(id, idlen), id);
        return 0;
    }
    if (is_blank(text, xlen)) {
        warnf(c, "%s:%zu: query \"%.*s\" has empty text; skipped (qrels naming it will be skipped too)", path,
              line, clip(id, idlen), id);
        return 0;
    }
    if (grow((void **)&c->queries, &c->cap_queries, c->nqueries + 1, sizeof *c->queries))
        return oom(err, path, line);
    char *p = arena_reserve(&c->ar, idlen + xlen + 2);
    if (!p) return oom(err, path, line);
    query_rec *q = &c->queries[c->nqueries];
    q->id = p;
    memcpy(p, id, idlen);
    p[idlen] = '\0';
    q->text = p + idlen + 1;
    memcpy(p + idlen + 1, text, xlen);
    p[idlen + 1 + xlen] = '\0';
    arena_commit(&c->ar, idlen + xlen + 2);
    if (sy_strmap_put(&c->query_map, q->id, idlen, (uint32_t)c->nqueries, NULL) < 0) return oom(err, path, line);
    c->nqueries++;
    return 1;
}

/* ---- JSON fields ------------------------------------------------------------ */

/* A field read from one JSON line: kind tells what was found. */
enum { JF_ABSENT, JF_STRING, JF_NULL, JF_OTHER, JF_LIST };

/* Copy a string field of obj (or an integer when allow_int) into buf; returns JF_*. */
static int json_field(json_t *obj, const char *key, sy_buf *buf, int allow_int)
{
    json_t *v = json_object_get(obj, key);
    buf->len = 0;
    sy_buf_reserve(buf, 0);
    if (buf->data) buf->data[0] = '\0';
    if (!v) return JF_ABSENT;
    if (json_is_string(v)) {
        sy_buf_append(buf, json_string_value(v), json_string_length(v));
        return JF_STRING;
    }
    if (allow_int && json_is_integer(v)) {
        sy_buf_printf(buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return JF_STRING;
    }
    if (json_is_null(v)) return JF_NULL;
    return JF_OTHER;
}

static json_t *json_line(corpus *c, const char *line, size_t len, const char *path, size_t lineno)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    if (!o) {
        warnf(c, "%s:%zu: malformed JSON (%s, column %d); line skipped; fix or delete the line", path, lineno,
              je.text, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        warnf(c, "%s:%zu: expected a JSON object per line; line skipped", path, lineno);
        json_decref(o);
        return NULL;
    }
    return o;
}


/* ---- the JSON fast path ------------------------------------------------------
 * A strict parser for one JSON object per line that decodes the wanted
 * top-level string fields and validates (skips) everything else.  It accepts
 * only what jansson accepts and gives the same values (last duplicate key
 * wins); whenever it meets anything unusual (escaped keys, exponents, long or
 * "-0" numbers, \u0000, lone surrogates, deep nesting) or malformed, it
 * returns 0 and the caller asks jansson, whose verdict and message count. */

typedef struct {
    const char *p, *e;
} jcur;

static void jws(jcur *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int hex4(const char *p, const char *e, uint32_t *u)
{
    if (e - p < 4) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *u = v;
    return 0;
}

static size_t utf8_enc(uint32_t u, char *b)
{
    if (u < 0x80) { b[0] = (char)u; return 1; }
    if (u < 0x800) { b[0] = (char)(0xC0 | u >> 6); b[1] = (char)(0x80 | (u & 0x3F)); return 2; }
    if (u < 0x10000) {
        b[0] = (char)(0xE0 | u >> 12);
        b[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        b[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | u >> 18);
    b[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    b[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}


#define SWAR_ONES 0x0101010101010101ull
#define SWAR_HIGH 0x8080808080808080ull
#define SWAR_LESS(x, n) (((x) - SWAR_ONES * (n)) & ~(x) & SWAR_HIGH)   /* some byte < n (n <= 128) */
#define SWAR_ZERO(x) SWAR_LESS(x, 1)

/* The end of the run of bytes that need no care inside a JSON string: not '"',
 * not '\\', not a control character.  Eight bytes at a time. */
static const char *plain_run(const char *p, const char *e)
{
    for (;;) {
        while (e - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (SWAR_ZERO(v ^ (SWAR_ONES * '"')) | SWAR_ZERO(v ^ (SWAR_ONES * '\\')) | SWAR_LESS(v, 0x20)) break;
            p += 8;
        }
        const char *lim = e - p > 8 ? p + 8 : e;
        while (p < lim && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
        if (p < lim || p >= e) return p;
    }
}

/* The string after an opening quote: decoded into out, or only checked when
 * out is NULL.  0 ok, -1 leave it to jansson. */
static int jstr(jcur *j, sy_buf *out)
{
    const char *p = j->p, *e = j->e;
    for (;;) {
        const char *s = p;
        p = plain_run(p, e);
        if (out && p > s && sy_buf_append(out, s, (size_t)(p - s))) return -1;
        if (p >= e || (unsigned char)*p < 0x20) return -1;
        if (*p == '"') {
            j->p = p + 1;
            return 0;
        }
        if (e - p < 2) return -1;
        char ch, c = p[1];
        p += 2;
        switch (c) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            uint32_t u, lo;
            if (hex4(p, e, &u)) return -1;
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, e, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u == 0 || (u >= 0xDC00 && u <= 0xDFFF)) {
                return -1;
            }
            char b[4];
            if (out && sy_buf_append(out, b, utf8_enc(u, b))) return -1;
            continue;
        }
        default: return -1;
        }
        if (out && sy_buf_append(out, &ch, 1)) return -1;
    }
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A number; *is_int when it has no fraction.  Exponents and long literals are
 * left to jansson (its overflow rules). */
static int jnum(jcur *j, int *is_int)
{
    const char *p = j->p, *e = j->e, *s = p;
    if (p < e && *p == '-') p++;
    if (p >= e) return -1;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9')
        while (p < e && is_digit(*p)) p++;
    else return -1;
    *is_int = 1;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p)) return -1;
        while (p < e && is_digit(*p)) p++;
        *is_int = 0;
    }
    if (p < e && (*p == 'e' || *p == 'E')) return -1;
    if (p - s > 18 || (p - s == 2 && s[0] == '-' && s[1] == '0')) return -1;
    j->p = p;
    return 0;
}

static int jskip(jcur *j, int depth)
{
    if (j->p >= j->e) return -1;
    char c = *j->p;
    if (c == '"') {
        j->p++;
        return jstr(j, NULL);
    }
    if (c == '{' || c == '[') {
        if (depth > 64) return -1;
        char close = c == '{' ? '}' : ']';
        j->p++;
        jws(j);
        if (j->p < j->e && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                if (j->p >= j->e || *j->p != '"') return -1;
                j->p++;
                if (jstr(j, NULL)) return -1;
                jws(j);
                if (j->p >= j->e || *j->p != ':') return -1;
                j->p++;
                jws(j);
            }
            if (jskip(j, depth + 1)) return -1;
            jws(j);
            if (j->p >= j->e) return -1;
            if (*j->p == ',') {
                j->p++;
                jws(j);
                continue;
            }
            if (*j->p == close) {
                j->p++;
                return 0;
            }
            return -1;
        }
    }
    if (c == '-' || is_digit(c)) {
        int is_int;
        return jnum(j, &is_int);
    }
    static const char *const lit[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lit[i]);
        if ((size_t)(j->e - j->p) >= l && memcmp(j->p, lit[i], l) == 0) {
            j->p += l;
            return 0;
        }
    }
    return -1;
}

/* Decode the top-level fields names[0..nf) of the object on this line into
 * bufs (kinds[i] = JF_*); field int_field may also be an integer.  A field in
 * list_mask may be a list of strings: kinds JF_LIST, the strings stored one
 * after another in its buf, each ending in NUL, counts[i] of them (a string
 * cannot hold NUL: \u0000 goes to jansson and raw NULs were repaired).  1 when
 * the line was parsed, 0 when jansson must decide. */
static int fast_fields(const char *s, size_t n, const char *const *names, sy_buf **bufs, int *kinds, int nf,
                       int int_field, unsigned list_mask, size_t *counts)
{
    jcur j = {s, s + n};
    for (int i = 0; i < nf; i++) {
        kinds[i] = JF_ABSENT;
        bufs[i]->len = 0;
        if (sy_buf_reserve(bufs[i], 0)) return 0;
        bufs[i]->data[0] = '\0';
    }
    jws(&j);
    if (j.p >= j.e || *j.p != '{') return 0;
    j.p++;
    jws(&j);
    if (j.p < j.e && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            if (j.p >= j.e || *j.p != '"') return 0;
            const char *k = ++j.p;
            while (j.p < j.e && *j.p != '"' && *j.p != '\\' && (unsigned char)*j.p >= 0x20) j.p++;
            if (j.p >= j.e || *j.p != '"') return 0;
            size_t kl = (size_t)(j.p - k);
            j.p++;
            jws(&j);
            if (j.p >= j.e || *j.p != ':') return 0;
            j.p++;
            jws(&j);
            int f = -1;
            for (int i = 0; i < nf && f < 0; i++)
                if (strlen(names[i]) == kl && memcmp(names[i], k, kl) == 0) f = i;
            if (f < 0) {
                if (jskip(&j, 1)) return 0;
            } else {
                sy_buf *b = bufs[f];
                b->len = 0;
                b->data[0] = '\0';
                char c = j.p < j.e ? *j.p : 0;
                const char *ns = j.p;
                int is_int;
                if (c == '"') {
                    j.p++;
                    if (jstr(&j, b)) return 0;
                    kinds[f] = JF_STRING;
                } else if (c == '[' && (list_mask >> f & 1u)) {
                    size_t cnt = 0;
                    j.p++;
                    jws(&j);
                    if (j.p < j.e && *j.p == ']') {
                        j.p++;
                    } else {
                        for (;;) {
                            if (j.p >= j.e || *j.p != '"') return 0;
                            j.p++;
                            if (jstr(&j, b) || sy_buf_append(b, "", 1)) return 0;
                            cnt++;
                            jws(&j);
                            if (j.p < j.e && *j.p == ',') {
                                j.p++;
                                jws(&j);
                                continue;
                            }
                            if (j.p < j.e && *j.p == ']') {
                                j.p++;
                                break;
                            }
                            return 0;
                        }
                    }
                    kinds[f] = JF_LIST;
                    counts[f] = cnt;
                } else if (f == int_field && (c == '-' || is_digit(c))) {
                    if (jnum(&j, &is_int)) return 0;
                    if (is_int && sy_buf_append(b, ns, (size_t)(j.p - ns))) return 0;
                    kinds[f] = is_int ? JF_STRING : JF_OTHER;
                } else if (j.e - j.p >= 4 && memcmp(j.p, "null", 4) == 0) {
                    j.p += 4;
                    kinds[f] = JF_NULL;
                } else {
                    if (jskip(&j, 1)) return 0;
                    kinds[f] = JF_OTHER;
                }
            }
            jws(&j);
            if (j.p >= j.e) return 0;
            if (*j.p == ',') {
                j.p++;
                jws(&j);
                continue;
            }
            if (*j.p == '}') {
                j.p++;
                break;
            }
            return 0;
        }
    }
    jws(&j);
    return j.p == j.e;
}

/* ---- BEIR ------------------------------------------------------------------- */

typedef int (*line_fn)(corpus *c, char *line, size_t len, const char *path, size_t lineno, sy_err *err);

/* Run fn over every non-blank line of path (UTF-8 repaired first). */
static int each_line(corpus *c, const char *path, line_fn fn, sy_err *err)
{
    line_reader r;
    if (lr_open(&r, path, err)) return -1;
    char *line;
    size_t len;
    int rc;
    while ((rc = lr_next(&r, &line, &len, err)) == 1) {
        if (is_blank(line, len)) continue;
        utf8_fix(c, &line, &len, path, r.lineno);
        if (fn(c, line, len, path, r.lineno, err) < 0) {
            rc = -1;
            break;
        }
    }
    lr_close(&r);
    return rc < 0 ? -1 : 0;
}

static const char *const beir_doc_keys[] = {"_id", "title", "text"};

static int beir_doc_line(corpus *c, char *line, size_t len, const char *path, size_t lineno, sy_err *err)
{
    sy_buf *b[3] = {&c->s1, &c->s2, &c->s3};
    int k[3];
    if (!fast_fields(line, len, beir_doc_keys, b, k, 3, 0, 0, NULL)) {
        json_t *o = json_line(c, line, len, path, lineno);
        if (!o) return 0;
        for (int i = 0; i < 3; i++) k[i] = json_field(o, beir_doc_keys[i], b[i], i == 0);
        json_decref(o);
    }
    if (k[0] != JF_STRING) {
        warnf(c, "%s:%zu: no \"_id\" string; line skipped; every document needs {\"_id\",\"title\",\"text\"}",
              path, lineno);
        return 0;
    }
    if (k[1] == JF_OTHER || k[2] == JF_OTHER) {
        warnf(c, "%s:%zu: \"%s\" is not a string; line skipped", path, lineno, k[1] == JF_OTHER ? "title" : "text");
        return 0;
    }
    return add_doc(c, c->s1.data, c->s1.len, k[1] == JF_STRING ? c->s2.data : "", k[1] == JF_STRING ? c->s2.len : 0,
                   k[2] == JF_STRING ? c->s3.data : "", k[2] == JF_STRING ? c->s3.len : 0, path, lineno, err);
}

static const char *const beir_query_keys[] = {"_id", "text"};

static int beir_query_line(corpus *c, char *line, size_t len, const char *path, size_t lineno, sy_err *err)
{
    sy_buf *b[2] = {&c->s1, &c->s3};
    int k[2];
    if (!fast_fields(line, len, beir_query_keys, b, k, 2, 0, 0, NULL)) {
        json_t *o = json_line(c, line, len, path, lineno);
        if (!o) return 0;
        for (int i = 0; i < 2; i++) k[i] = json_field(o, beir_query_keys[i], b[i], i == 0);
        json_decref(o);
    }
    if (k[0] != JF_STRING) {
        warnf(c, "%s:%zu: no \"_id\" string; line skipped; every query needs {\"_id\",\"text\"}", path, lineno);
        return 0;
    }
    if (k[1] == JF_OTHER) {
        warnf(c, "%s:%zu: \"text\" is not a string; line skipped", path, lineno);
        return 0;
    }
    return add_query(c, c->s1.data, c->s1.len, k[1] == JF_STRING ? c->s3.data : "", k[1] == JF_STRING ? c->s3.len : 0,
                     path, lineno, err);
}

/* ---- qrels -------------------------------------------------------------------- */

typedef struct {
    uint32_t q, d;
    int32_t rel;
    uint32_t line;
} qrow;

static int qrow_cmp(const void *a, const void *b)
{
    const qrow *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Split s (NUL-terminated, modified) into at most max fields on tabs, or on
 * runs of blanks when there is no tab. */
static int split_fields(char *s, char **f, int max)
{
    int n = 0, tabs = strchr(s, '\t') != NULL;
    char *p = s;
    while (n < max) {
        if (!tabs)
            while (*p == ' ') p++;
        if (!*p && (!tabs || n > 0)) break;
        f[n++] = p;
        char *e = tabs ? strchr(p, '\t') : strpbrk(p, " \t");
        if (!e) break;
        *e = '\0';
        p = e + 1;
    }
    for (int i = 0; i < n; i++) {   /* trim blanks around tab-separated fields */
        while (*f[i] == ' ') f[i]++;
        size_t l = strlen(f[i]);
        while (l && f[i][l - 1] == ' ') f[i][--l] = '\0';
    }
    return n;
}

/* Parse an integer relevance ("2", "-1", "1.0"); 0 on success. */
static int parse_rel(const char *s, int32_t *out)
{
    if (!*s) return -1;
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (!*e && !errno && v >= INT32_MIN && v <= INT32_MAX) {
        *out = (int32_t)v;
        return 0;
    }
    double d = strtod(s, &e);
    /* range first (NaN fails it): only then may it be converted to an integer */
    if (*e || !(d >= INT32_MIN && d <= INT32_MAX) || d != (double)(int32_t)d) return -1;
    *out = (int32_t)d;
    return 0;
}

/* Load one qrels file.  trec: "qid 0 pid rel" without header; else BEIR
 * "query-id corpus-id score" with a header line. */
static int load_qrels(corpus *c, const char *path, const char *name, int trec, sy_err *err)
{
    line_reader r;
    if (lr_open(&r, path, err)) return -1;
    qrow *rows = NULL;
    size_t n = 0, cap = 0;
    char *line, *f[5];
    size_t len;
    int rc, header = !trec;   /* BEIR: the first non-blank line must be the header */
    while ((rc = lr_next(&r, &line, &len, err)) == 1) {
        size_t ln = r.lineno;
        if (is_blank(line, len)) continue;
        utf8_fix(c, &line, &len, path, ln);
        char save[200] = "";
        if (header) snprintf(save, sizeof save, "%s", line);   /* quoted if it is not a header */
        int nf = split_fields(line, f, 5);
        int need = trec ? 4 : 3;
        int32_t rel;
        if (header) {
            header = 0;
            if (nf >= 3 && parse_rel(f[2], &rel) == 0) {
                rc = sy_fail(err, SY_EPARSE,
                             "%s:%zu: missing header line (the first line \"%.60s\" looks like data); hint: BEIR "
                             "qrels start with the header \"query-id<TAB>corpus-id<TAB>score\"",
                             path, ln, save);
                break;
            }
            continue;   /* the header */
        }
        if (nf < need) {
            warnf(c, "%s:%zu: expected %d fields (%s), found %d; line skipped", path, ln, need,
                  trec ? "qid 0 pid rel" : "query-id corpus-id score", nf);
            continue;
        }
        const char *qid = f[0], *did = trec ? f[2] : f[1], *rs = trec ? f[3] : f[2];
        if (parse_rel(rs, &rel)) {
            warnf(c, "%s:%zu: relevance \"%.40s\" is not an integer; line skipped", path, ln, rs);
            continue;
        }
        uint32_t q, d;
        if (!sy_strmap_get(&c->query_map, qid, strlen(qid), &q)) {
            warnf(c, "%s:%zu: unknown query id \"%.*s\" (not in the queries file, or skipped there); line skipped",
                  path, ln, clip(qid, strlen(qid)), qid);
            continue;
        }
        if (!sy_strmap_get(&c->doc_map, did, strlen(did), &d)) {
            warnf(c, "%s:%zu: unknown document id \"%.*s\" (not in the corpus); line skipped", path, ln,
                  clip(did, strlen(did)), did);
            continue;
        }
        if (grow((void **)&rows, &cap, n + 1, sizeof *rows)) {
            rc = oom(err, path, ln);
            break;
        }
        rows[n++] = (qrow){q, d, rel, (uint32_t)ln};
    }
    lr_close(&r);
    if (rc < 0) {
        free(rows);
        return -1;
    }
    if (r.lineno == 0) warnf(c, "%s: empty qrels file; the split \"%s\" has no judgements", path, name);
    if (n) qsort(rows, n, sizeof *rows, qrow_cmp);
    corpus_qrel *out = malloc((n ? n : 1) * sizeof *out);
    split_rec *ns = realloc(c->splits, (c->nsplits + 1) * sizeof *ns);
    char *nm = arena_strndup(&c->ar, name, strlen(name));
    if (ns) c->splits = ns;
    if (!out || !ns || !nm) {
        free(rows);
        free(out);
        return oom(err, path, r.lineno);
    }
    size_t m = 0, nq = 0;
    uint32_t kept_line = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && out[m - 1].query == rows[i].q && out[m - 1].doc == rows[i].d) {
            const char *qi = c->queries[rows[i].q].id, *di = c->docs[rows[i].d].id;
            warnf(c, "%s:%u: duplicate judgement for query \"%.*s\", document \"%.*s\"; the first (line %u) is kept",
                  path, rows[i].line, clip(qi, strlen(qi)), qi, clip(di, strlen(di)), di, kept_line);
            continue;
        }
        kept_line = rows[i].line;
        if (!m || out[m - 1].query != rows[i].q) nq++;
        out[m++] = (corpus_qrel){rows[i].q, rows[i].d, rows[i].rel};
    }
    free(rows);
    split_rec *s = &c->splits[c->nsplits++];
    s->pub.name = nm;
    s->pub.rows = out;
    s->pub.n = m;
    s->nqueries = nq;
    return 0;
}

static int split_name_cmp(const void *a, const void *b)
{
    return strcmp(((const split_rec *)a)->pub.name, ((const split_rec *)b)->pub.name);
}

/* Load every DIR/<prefix><name><suffix> as split <name>. */
static int load_qrels_dir(corpus *c, const char *dir, const char *prefix, const char *suffix, int trec,
                          sy_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        warnf(c, "%s: cannot open (%s); no qrels loaded", dir, strerror(errno));
        return 0;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    size_t lp = strlen(prefix), ls = strlen(suffix);
    int rc = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= lp + ls || strncmp(e->d_name, prefix, lp) || strcmp(e->d_name + l - ls, suffix)) continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = strdup(e->d_name))) {
            if (nn) names = nn;
            rc = sy_fail(err, SY_ENOMEM, "out of memory");
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = sy_path_join(dir, names[i]);
        size_t l = strlen(names[i]);
        names[i][l - ls] = '\0';
        size_t k = 0;
        while (k < c->nonly && strcmp(c->only[k], names[i] + lp)) k++;
        sy_err e2 = {0};
        if (!path) rc = sy_fail(err, SY_ENOMEM, "out of memory");
        else if (!c->nonly || k < c->nonly) rc = load_qrels(c, path, names[i] + lp, trec, err);
        else if (load_qrels(c, path, names[i] + lp, trec, &e2) < 0)   /* another split: never fatal */
            warnf(c, "%s: not loaded (split \"%s\" is not one the session uses, and %s)", path, names[i] + lp,
                  e2.msg);
        free(path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == 0 && c->nsplits > 1) qsort(c->splits, c->nsplits, sizeof *c->splits, split_name_cmp);
    return rc;
}

static int load_beir(corpus *c, const char *dir, sy_err *err)
{
    char *cp = sy_path_join(dir, "corpus.jsonl"), *qp = sy_path_join(dir, "queries.jsonl"),
         *rp = sy_path_join(dir, "qrels");
    int rc = -1;
    if (!cp || !qp || !rp) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        goto out;
    }
    if (!sy_file_exists(cp)) {
        sy_fail(err, SY_ENOTFOUND, "%s: missing; hint: a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/",
                cp);
        goto out;
    }
    presize_docs(c, cp);
    if (each_line(c, cp, beir_doc_line, err)) goto out;
    if (!sy_file_exists(qp)) warnf(c, "%s: missing; loaded documents only (no queries, no qrels)", qp);
    else if (each_line(c, qp, beir_query_line, err)) goto out;
    if (!sy_is_dir(rp)) {
        if (sy_file_exists(qp)) warnf(c, "%s: missing; no relevance judgements loaded", rp);
    } else if (load_qrels_dir(c, rp, "", ".tsv", 0, err)) {
        goto out;
    }
    rc = 0;
out:
    free(cp);
    free(qp);
    free(rp);
    return rc;
}

/* ---- MS MARCO ---------------------------------------------------------------- */

static int tsv_doc_line(corpus *c, char *line, size_t len, const char *path, size_t lineno, sy_err *err)
{
    char *tab = memchr(line, '\t', len);
    if (!tab) {
        warnf(c, "%s:%zu: no tab between id and text; line skipped; expected \"id<TAB>text\"", path, lineno);
        return 0;
    }
    size_t idlen = (size_t)(tab - line);
    return add_doc(c, line, idlen, "", 0, tab + 1, len - idlen - 1, path, lineno, err);
}

static int tsv_query_line(corpus *c, char *line, size_t len, const char *path, size_t lineno, sy_err *err)
{
    char *tab = memchr(line, '\t', len);
    if (!tab) {
        warnf(c, "%s:%zu: no tab between id and text; line skipped; expected \"id<TAB>text\"", path, lineno);
        return 0;
    }
    size_t idlen = (size_t)(tab - line);
    return add_query(c, line, idlen, tab + 1, len - idlen - 1, path, lineno, err);
}

static int load_msmarco(corpus *c, const char *dir, sy_err *err)
{
    char *cp = sy_path_join(dir, "collection.tsv");
    if (!cp) return sy_fail(err, SY_ENOMEM, "out of memory");
    if (!sy_file_exists(cp)) {
        sy_fail(err, SY_ENOTFOUND,
                "%s: missing; hint: an MS MARCO folder holds collection.tsv, queries.<split>.tsv and "
                "qrels.<split>.tsv",
                cp);
        free(cp);
        return -1;
    }
    presize_docs(c, cp);
    int rc = each_line(c, cp, tsv_doc_line, err);
    free(cp);
    if (rc) return -1;
    /* every queries.*.tsv, in name order so query indices are stable */
    DIR *d = opendir(dir);
    if (!d) return sy_fail_errno(err, errno, "%s: cannot open", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 12 || strncmp(e->d_name, "queries.", 8) || strcmp(e->d_name + l - 4, ".tsv")) continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = strdup(e->d_name))) {
            if (nn) names = nn;
            rc = sy_fail(err, SY_ENOMEM, "out of memory");
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    for (size_t i = 0; i + 1 < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *p = sy_path_join(dir, names[i]);
        rc = p ? each_line(c, p, tsv_query_line, err) : sy_fail(err, SY_ENOMEM, "out of memory");
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc) return -1;
    if (!n) warnf(c, "%s: no queries.<split>.tsv files; loaded documents only", dir);
    return load_qrels_dir(c, dir, "qrels.", ".tsv", 1, err);
}

/* ---- FlagEmbedding ------------------------------------------------------------- */

typedef struct {
    sy_strmap doc_by_text, query_by_text;
    corpus_qrel *pos;
    size_t npos, cap_pos;
} flag_state;

/* Index of the passage with this text, adding it as "p<N>" when new; -1 on error. */
static int64_t flag_passage(corpus *c, flag_state *fs, const char *text, size_t len, const char *path,
                            size_t lineno, sy_err *err)
{
    uint32_t d;
    if (sy_strmap_get(&fs->doc_by_text, text, len, &d)) return d;
    char id[24];
    int il = snprintf(id, sizeof id, "p%zu", c->ndocs);
    int r = add_doc(c, id, (size_t)il, "", 0, text, len, path, lineno, err);
    if (r < 0) return -1;
    d = (uint32_t)(c->ndocs - 1);
    if (sy_strmap_put(&fs->doc_by_text, c->docs[d].text, len, d, NULL) < 0) return oom(err, path, lineno);
    return d;
}

/* One passage of a line's "pos" (neg = 0) or "neg" (neg = 1) list. */
static int flag_item(corpus *c, flag_state *fs, uint32_t q, int neg, size_t i, const char *t, size_t l,
                     const char *path, size_t lineno, sy_err *err)
{
    if (is_blank(t, l)) {
        warnf(c, "%s:%zu: \"%s\"[%zu] is empty; skipped", path, lineno, neg ? "neg" : "pos", i);
        return 0;
    }
    int64_t d = flag_passage(c, fs, t, l, path, lineno, err);
    if (d < 0) return -1;
    if (!neg) {
        if (grow((void **)&fs->pos, &fs->cap_pos, fs->npos + 1, sizeof *fs->pos)) return oom(err, path, lineno);
        fs->pos[fs->npos++] = (corpus_qrel){q, (uint32_t)d, 1};
    } else {
        if (grow((void **)&c->negs, &c->cap_negs, c->nnegs + 1, sizeof *c->negs)) return oom(err, path, lineno);
        c->negs[c->nnegs++] = (corpus_given_neg){q, (uint32_t)d};
    }
    return 0;
}

static const char *const flag_keys[] = {"query", "pos", "neg"};

static int flag_line(corpus *c, flag_state *fs, char *line, size_t len, const char *path, size_t lineno,
                     sy_err *err)
{
    sy_buf *b[3] = {&c->s1, &c->s2, &c->s3};
    int k[3];
    size_t cnt[3] = {0, 0, 0};
    json_t *o = NULL, *arr[2] = {NULL, NULL};
    int rc = 0;
    if (!fast_fields(line, len, flag_keys, b, k, 3, -1, 6u, cnt)) {
        if (!(o = json_line(c, line, len, path, lineno))) return 0;
        k[0] = json_field(o, "query", b[0], 0);
        for (int i = 0; i < 2; i++) {
            arr[i] = json_object_get(o, flag_keys[i + 1]);
            k[i + 1] = !arr[i] ? JF_ABSENT : json_is_array(arr[i]) ? JF_LIST : json_is_string(arr[i]) ? JF_STRING
                                                                                                      : JF_OTHER;
            cnt[i + 1] = json_is_array(arr[i]) ? json_array_size(arr[i]) : 0;
        }
    }
    for (int i = 1; i < 3; i++)
        if (k[i] != JF_ABSENT && k[i] != JF_LIST) {
            rc = sy_fail(err, SY_EPARSE,
                         "%s:%zu: \"%s\" is %s, expected a list of passages; hint: write \"%s\": [\"passage\", ...]",
                         path, lineno, flag_keys[i], k[i] == JF_STRING ? "a string" : "not a list", flag_keys[i]);
            goto out;
        }
    if (k[0] != JF_STRING || is_blank(b[0]->data, b[0]->len)) {
        warnf(c, "%s:%zu: %s; line skipped; each line needs {\"query\": \"...\", \"pos\": [...], \"neg\": [...]}",
              path, lineno, k[0] == JF_STRING ? "empty \"query\"" : "no \"query\" string");
        goto out;
    }
    uint32_t q;
    if (!sy_strmap_get(&fs->query_by_text, b[0]->data, b[0]->len, &q)) {
        char id[24];
        int il = snprintf(id, sizeof id, "q%zu", c->nqueries);
        if ((rc = add_query(c, id, (size_t)il, b[0]->data, b[0]->len, path, lineno, err)) <= 0) goto out;
        rc = 0;
        q = (uint32_t)(c->nqueries - 1);
        if (sy_strmap_put(&fs->query_by_text, c->queries[q].text, b[0]->len, q, NULL) < 0) {
            rc = oom(err, path, lineno);
            goto out;
        }
    }
    if (!cnt[1]) warnf(c, "%s:%zu: no positive passages for this query; it gets no qrels", path, lineno);
    for (int neg = 0; neg < 2 && rc == 0; neg++) {
        if (!o) {   /* the fast path's NUL-separated strings */
            const char *t = b[1 + neg]->data;
            for (size_t i = 0; i < cnt[1 + neg] && rc == 0; i++) {
                size_t l = strlen(t);
                rc = flag_item(c, fs, q, neg, i, t, l, path, lineno, err);
                t += l + 1;
            }
            continue;
        }
        size_t i;
        json_t *v;
        json_array_foreach(arr[neg], i, v)
        {
            if (!json_is_string(v)) {
                warnf(c, "%s:%zu: \"%s\"[%zu] is not a string; skipped", path, lineno, neg ? "neg" : "pos", i);
                continue;
            }
            if ((rc = flag_item(c, fs, q, neg, i, json_string_value(v), json_string_length(v), path, lineno, err)))
                break;
        }
    }
out:
    json_decref(o);
    return rc;
}

static int neg_cmp(const void *a, const void *b)
{
    const corpus_given_neg *x = a, *y = b;
    if (x->query != y->query) return x->query < y->query ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int qrel_cmp(const void *a, const void *b)
{
    const corpus_qrel *x = a, *y = b;
    if (x->query != y->query) return x->query < y->query ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int load_flag(corpus *c, const char *path, sy_err *err)
{
    flag_state fs;
    memset(&fs, 0, sizeof fs);
    line_reader r;
    if (lr_open(&r, path, err)) return -1;
    char *line;
    size_t len;
    int rc;
    while ((rc = lr_next(&r, &line, &len, err)) == 1) {
        if (is_blank(line, len)) continue;
        utf8_fix(c, &line, &len, path, r.lineno);
        if (flag_line(c, &fs, line, len, path, r.lineno, err) < 0) {
            rc = -1;
            break;
        }
    }
    lr_close(&r);
    sy_strmap_free(&fs.doc_by_text);
    sy_strmap_free(&fs.query_by_text);
    if (rc < 0) {
        free(fs.pos);
        return -1;
    }
    /* positives -> split "train" (duplicates merged); negatives sorted, deduplicated */
    if (fs.npos) qsort(fs.pos, fs.npos, sizeof *fs.pos, qrel_cmp);
    size_t m = 0, nq = 0;
    for (size_t i = 0; i < fs.npos; i++) {
        if (m && fs.pos[m - 1].query == fs.pos[i].query && fs.pos[m - 1].doc == fs.pos[i].doc) continue;
        if (!m || fs.pos[m - 1].query != fs.pos[i].query) nq++;
        fs.pos[m++] = fs.pos[i];
    }
    if (c->nnegs) qsort(c->negs, c->nnegs, sizeof *c->negs, neg_cmp);
    size_t k = 0;
    for (size_t i = 0; i < c->nnegs; i++) {
        if (k && c->negs[k - 1].query == c->negs[i].query && c->negs[k - 1].doc == c->negs[i].doc) continue;
        c->negs[k++] = c->negs[i];
    }
    c->nnegs = k;
    c->splits = calloc(1, sizeof *c->splits);
    if (!c->splits) {
        free(fs.pos);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    c->nsplits = 1;
    c->splits[0].pub.name = "train";
    c->splits[0].pub.rows = fs.pos;
    c->splits[0].pub.n = m;
    c->splits[0].nqueries = nq;
    return 0;
}

/* ---- public ------------------------------------------------------------------ */

int corpus_detect(const char *path, corpus_format *fmt, sy_err *err)
{
    struct stat st;
    if (!path || stat(path, &st) < 0)
        return sy_fail_errno(err, errno, "%s: cannot open data set", path ? path : "(null)");
    if (S_ISDIR(st.st_mode)) {
        char *a = sy_path_join(path, "corpus.jsonl"), *b = sy_path_join(path, "collection.tsv");
        int beir = a && sy_file_exists(a), ms = b && sy_file_exists(b);
        free(a);
        free(b);
        if (beir) *fmt = CORPUS_BEIR;
        else if (ms) *fmt = CORPUS_MSMARCO;
        else
            return sy_fail(err, SY_EFORMAT,
                           "%s: cannot tell the data format; hint: expected corpus.jsonl (BEIR) or collection.tsv "
                           "(MS MARCO) in the folder",
                           path);
        return 0;
    }
    size_t l = strlen(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strcmp(base, "corpus.jsonl") == 0 || strcmp(base, "queries.jsonl") == 0 || strcmp(base, "collection.tsv") == 0)
        return sy_fail(err, SY_EFORMAT, "%s: this is one file of a %s data set; hint: give the folder that holds it",
                       path, base[0] == 'c' && base[1] == 'o' && base[2] == 'l' ? "MS MARCO" : "BEIR");
    if (l > 6 && strcmp(path + l - 6, ".jsonl") == 0) {
        *fmt = CORPUS_FLAG;
        return 0;
    }
    return sy_fail(err, SY_EFORMAT,
                   "%s: cannot tell the data format; hint: give a BEIR or MS MARCO folder, or a FlagEmbedding "
                   ".jsonl file",
                   path);
}

int corpus_split_names(const char *path, corpus_format fmt, char ***names, size_t *n, sy_err *err)
{
    *names = NULL;
    *n = 0;
    if (fmt == CORPUS_FLAG) {
        char **v = malloc(sizeof *v);
        if (!v || !(v[0] = strdup("train"))) { free(v); return sy_fail(err, SY_ENOMEM, "out of memory"); }
        *names = v;
        *n = 1;
        return 0;
    }
    char *dir = fmt == CORPUS_BEIR ? sy_path_join(path, "qrels") : strdup(path);
    const char *prefix = fmt == CORPUS_BEIR ? "" : "qrels.", *suffix = ".tsv";
    if (!dir) return sy_fail(err, SY_ENOMEM, "out of memory");
    DIR *d = opendir(dir);
    free(dir);
    if (!d) return 0;   /* no qrels: no splits */
    size_t lp = strlen(prefix), ls = strlen(suffix);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= lp + ls || strncmp(e->d_name, prefix, lp) || strcmp(e->d_name + l - ls, suffix)) continue;
        char **nv = realloc(*names, (*n + 1) * sizeof *nv);
        if (!nv) { rc = sy_fail(err, SY_ENOMEM, "out of memory"); break; }
        *names = nv;
        if (!(nv[*n] = strndup(e->d_name + lp, l - lp - ls))) { rc = sy_fail(err, SY_ENOMEM, "out of memory"); break; }
        (*n)++;
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++)   /* sorted, few names */
        for (size_t j = i; j > 0 && strcmp((*names)[j - 1], (*names)[j]) > 0; j--) {
            char *t = (*names)[j]; (*names)[j] = (*names)[j - 1]; (*names)[j - 1] = t;
        }
    return rc;
}

corpus *corpus_load(const char *path, corpus_format fmt, sy_err *err)
{
    return corpus_load_splits(path, fmt, NULL, 0, err);
}

static corpus *load(const char *path, corpus_format fmt, const char *const *splits, size_t nsplits, int stream,
                    const char *store_path, sy_err *err)
{
    corpus *c = calloc(1, sizeof *c);
    if (!c) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    /* FlagEmbedding files name passages by their text (one document per
     * distinct text): the texts stay in memory to find them again */
    if (stream && fmt != CORPUS_FLAG && !(c->sink = cstore_sink_new(store_path, err))) {
        free(c);
        return NULL;
    }
    c->only = splits;
    c->nonly = splits ? nsplits : 0;
    if (!path || !*path) {
        free(c);
        sy_fail(err, SY_EINVAL, "no data set path given");
        return NULL;
    }
    if (sy_strmap_init(&c->doc_map, 1024) || sy_strmap_init(&c->query_map, 256)) {
        corpus_free(c);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    int rc;
    switch (fmt) {
    case CORPUS_BEIR: rc = load_beir(c, path, err); break;
    case CORPUS_MSMARCO: rc = load_msmarco(c, path, err); break;
    case CORPUS_FLAG:
        if (!sy_file_exists(path)) {
            rc = sy_fail(err, SY_ENOTFOUND, "%s: missing; hint: give the path of a FlagEmbedding .jsonl file", path);
            break;
        }
        rc = load_flag(c, path, err);
        break;
    default: rc = sy_fail(err, SY_EINVAL, "%s: unknown corpus format %d", path, (int)fmt); break;
    }
    c->only = NULL;   /* the caller's array: not kept */
    c->nonly = 0;
    sy_buf_free(&c->fix);
    sy_buf_free(&c->s1);
    sy_buf_free(&c->s2);
    sy_buf_free(&c->s3);
    if (!rc && !c->ndocs) warnf(c, "%s: no documents loaded; check that this is the right data set", path);
    if (rc) {
        corpus_free(c);
        return NULL;
    }
    return c;
}

corpus *corpus_load_splits(const char *path, corpus_format fmt, const char *const *splits, size_t nsplits,
                           sy_err *err)
{
    return load(path, fmt, splits, nsplits, 0, NULL, err);
}

corpus *corpus_load_streamed(const char *path, corpus_format fmt, const char *const *splits, size_t nsplits,
                             const char *store_path, sy_err *err)
{
    return load(path, fmt, splits, nsplits, 1, store_path, err);
}

cstore_sink *corpus_sink(const corpus *c) { return c->sink; }

void corpus_free(corpus *c)
{
    if (!c) return;
    cstore_free(c->st);
    cstore_sink_free(c->sink);
    arena_free(&c->ar);
    free(c->docs);
    free(c->queries);
    sy_strmap_free(&c->doc_map);
    sy_strmap_free(&c->query_map);
    for (size_t i = 0; !c->splits_mapped && i < c->nsplits; i++) free((void *)c->splits[i].pub.rows);
    free(c->splits);
    if (!c->splits_mapped) free(c->negs);
    for (size_t i = 0; i < c->nwarn_msgs; i++) free(c->warn_msgs[i]);
    sy_buf_free(&c->fix);
    sy_buf_free(&c->s1);
    sy_buf_free(&c->s2);
    sy_buf_free(&c->s3);
    free(c);
}

uint32_t corpus_ndocs(const corpus *c) { return c->st ? cstore_ndocs(c->st) : (uint32_t)c->ndocs; }
const char *corpus_doc_id(const corpus *c, uint32_t d)
{
    if (c->st) return cstore_doc_id(c->st, d);
    return d < c->ndocs ? c->docs[d].id : NULL;
}
const char *corpus_doc_title(const corpus *c, uint32_t d)
{
    if (c->st) return cstore_doc_title(c->st, d);
    return d < c->ndocs ? c->docs[d].title : NULL;
}
const char *corpus_doc_text(const corpus *c, uint32_t d)
{
    if (c->st) return cstore_doc_text(c->st, d);
    return d < c->ndocs ? c->docs[d].text : NULL;
}
size_t corpus_doc_text_len(const corpus *c, uint32_t d)
{
    if (c->st) return cstore_doc_text_len(c->st, d);
    return d < c->ndocs ? c->docs[d].text_len : 0;
}
size_t corpus_doc_title_len(const corpus *c, uint32_t d)
{
    if (c->st) return strlen(cstore_doc_title(c->st, d));
    return d < c->ndocs ? c->docs[d].title_len : 0;
}

int64_t corpus_doc_find(const corpus *c, const char *id)
{
    if (c->st) return cstore_doc_find(c->st, id);
    uint32_t v;
    return id && sy_strmap_get(&c->doc_map, id, strlen(id), &v) ? (int64_t)v : -1;
}

uint32_t corpus_nqueries(const corpus *c) { return c->st ? cstore_nqueries(c->st) : (uint32_t)c->nqueries; }
const char *corpus_query_id(const corpus *c, uint32_t q)
{
    if (c->st) return cstore_query_id(c->st, q);
    return q < c->nqueries ? c->queries[q].id : NULL;
}
const char *corpus_query_text(const corpus *c, uint32_t q)
{
    if (c->st) return cstore_query_text(c->st, q);
    return q < c->nqueries ? c->queries[q].text : NULL;
}

int64_t corpus_query_find(const corpus *c, const char *id)
{
    if (c->st) return cstore_query_find(c->st, id);
    uint32_t v;
    return id && sy_strmap_get(&c->query_map, id, strlen(id), &v) ? (int64_t)v : -1;
}

size_t corpus_nsplits(const corpus *c) { return c->nsplits; }
const corpus_qrels *corpus_split(const corpus *c, size_t i) { return i < c->nsplits ? &c->splits[i].pub : NULL; }

const corpus_qrels *corpus_qrels_for(const corpus *c, const char *split)
{
    for (size_t i = 0; split && i < c->nsplits; i++)
        if (strcmp(c->splits[i].pub.name, split) == 0) return &c->splits[i].pub;
    return NULL;
}

const corpus_qrel *corpus_qrels_of(const corpus_qrels *qr, uint32_t query, size_t *n)
{
    *n = 0;
    if (!qr) return NULL;
    size_t lo = 0, hi = qr->n;   /* first row with .query >= query */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (qr->rows[mid].query < query) lo = mid + 1;
        else hi = mid;
    }
    size_t e = lo;
    while (e < qr->n && qr->rows[e].query == query) e++;
    *n = e - lo;
    return e > lo ? qr->rows + lo : NULL;
}

size_t corpus_qrels_nqueries(const corpus_qrels *qr) { return qr ? ((const split_rec *)qr)->nqueries : 0; }

const corpus_given_neg *corpus_given_negs(const corpus *c, size_t *n)
{
    *n = c->nnegs;
    return c->nnegs ? c->negs : NULL;
}

size_t corpus_nwarnings(const corpus *c) { return c->nwarn; }
size_t corpus_nwarning_msgs(const corpus *c) { return c->nwarn_msgs; }
const char *corpus_warning(const corpus *c, size_t i) { return i < c->nwarn_msgs ? c->warn_msgs[i] : NULL; }

corpus *corpus_from_store(cstore *st, sy_err *err)
{
    corpus *c = calloc(1, sizeof *c);
    size_t ns = cstore_nsplits(st);
    if (!c || (ns && !(c->splits = calloc(ns, sizeof *c->splits)))) {
        free(c);
        cstore_free(st);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    c->st = st;
    c->splits_mapped = 1;
    c->nsplits = ns;
    for (size_t i = 0; i < ns; i++) {
        size_t n, nq;
        const corpus_qrel *rows;
        c->splits[i].pub.name = cstore_split(st, i, &rows, &n, &nq);
        c->splits[i].pub.rows = rows;
        c->splits[i].pub.n = n;
        c->splits[i].nqueries = nq;
    }
    c->negs = (corpus_given_neg *)cstore_given_negs(st, &c->nnegs);
    c->nwarn = cstore_nwarnings(st);
    for (size_t i = 0; i < cstore_nwarning_msgs(st) && c->nwarn_msgs < WARN_MSGS_MAX; i++) {
        char *m = strdup(cstore_warning(st, i));
        if (m) c->warn_msgs[c->nwarn_msgs++] = m;
    }
    return c;
}

const cstore *corpus_store(const corpus *c) { return c->st; }

int corpus_store_damage(const corpus *c, sy_err *err) { return c && c->st ? cstore_damage(c->st, err) : 0; }

/* Both formulas predate the store (bm25.c and index.c computed them): keep
 * them bit for bit so indexes built before stay valid. */
uint64_t corpus_ids_fingerprint(const corpus *c)
{
    if (c->st) return cstore_ids_fingerprint(c->st);
    uint32_t n = corpus_ndocs(c);
    uint64_t h = sy_hash64(&n, sizeof n);
    for (uint32_t d = 0; d < n; d++) {
        const char *id = corpus_doc_id(c, d);
        uint64_t l = corpus_doc_text_len(c, d) + 1000003ull * corpus_doc_title_len(c, d);
        h = sy_hash64_seed(id, strlen(id), h ^ l);
    }
    return h;
}

uint64_t corpus_content_hash_add(uint64_t h, const char *title, size_t tlen, const char *text, size_t xlen)
{
    h = sy_hash64_seed(title, tlen, h);
    return sy_hash64_seed(text, xlen, h ^ 0x9e3779b97f4a7c15ULL);
}

uint64_t corpus_content_hash(const corpus *c)
{
    if (c->st) return cstore_content_hash(c->st);
    if (c->sink) return 0;   /* the texts are in the sink: cstore_write hashes them there */
    uint64_t h = corpus_ndocs(c);
    for (uint32_t d = 0; d < corpus_ndocs(c); d++) {
        const char *t = corpus_doc_title(c, d);
        h = corpus_content_hash_add(h, t, strlen(t), corpus_doc_text(c, d), corpus_doc_text_len(c, d));
    }
    return h;
}

size_t corpus_memory(const corpus *c)
{
    if (c->st) return sizeof *c + c->nsplits * sizeof *c->splits + cstore_size(c->st);
    size_t m = sizeof *c + c->ar.total + c->cap_docs * sizeof *c->docs + c->cap_queries * sizeof *c->queries +
               (c->doc_map.cap + c->query_map.cap) * (sizeof(char *) + 2 * sizeof(uint32_t) + sizeof(uint64_t)) +
               c->cap_negs * sizeof *c->negs + c->nsplits * sizeof *c->splits;
    for (size_t i = 0; i < c->nsplits; i++) m += c->splits[i].pub.n * sizeof(corpus_qrel);
    return m;
}
