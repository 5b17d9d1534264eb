/* negwrite: the negatives module's writer (negstore.h): rows gathered with
 * their strings interned, committed as one immutable segment file (negseg.h)
 * through the atomic writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "negseg.h"
#include "negstore.h"
#include "util.h"

struct neg_writer {
    char *dir, *tag;
    unsigned flags;
    uint64_t at;         /* the commit time to name the segment by; 0 = now (compaction sets it) */
    uint8_t *rows;
    size_t nrows, cap;
    sy_buf blob;
    /* intern table: hash -> blob offset (0 = empty slot) */
    uint32_t *slots;
    uint64_t *slot_hash;
    size_t nslots, nused;
};

neg_writer *neg_writer_new(const char *session_dir, const char *tag, unsigned seg_flags, sy_err *err)
{
    neg_writer *w = calloc(1, sizeof *w);
    if (!w) goto oom;
    w->dir = sy_path_join(session_dir, "negatives");
    w->tag = strdup(tag && *tag ? tag : "neg");
    w->flags = seg_flags;
    w->nslots = 1024;
    w->slots = calloc(w->nslots, sizeof *w->slots);
    w->slot_hash = calloc(w->nslots, sizeof *w->slot_hash);
    if (!w->dir || !w->tag || !w->slots || !w->slot_hash || sy_buf_append(&w->blob, "", 1)) goto oom;
    for (char *p = w->tag; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) *p = '-';
    if (sy_mkdir_p(w->dir, err) < 0) {
        neg_writer_free(w);
        return NULL;
    }
    return w;
oom:
    neg_writer_free(w);
    sy_fail(err, SY_ENOMEM, "out of memory");
    return NULL;
}

static int intern_grow(neg_writer *w)
{
    size_t n = w->nslots * 2;
    uint32_t *s = calloc(n, sizeof *s);
    uint64_t *h = calloc(n, sizeof *h);
    if (!s || !h) {
        free(s);
        free(h);
        return -1;
    }
    for (size_t i = 0; i < w->nslots; i++) {
        if (!w->slots[i]) continue;
        size_t j = w->slot_hash[i] & (n - 1);
        while (s[j]) j = (j + 1) & (n - 1);
        s[j] = w->slots[i];
        h[j] = w->slot_hash[i];
    }
    free(w->slots);
    free(w->slot_hash);
    w->slots = s;
    w->slot_hash = h;
    w->nslots = n;
    return 0;
}

/* offset of str in the blob (0 for NULL/""), or -1 */
static int64_t intern(neg_writer *w, const char *str)
{
    if (!str || !*str) return 0;
    size_t len = strlen(str);
    uint64_t h = sy_hash64(str, len);
    size_t i = h & (w->nslots - 1);
    while (w->slots[i]) {
        if (w->slot_hash[i] == h && !strcmp(w->blob.data + w->slots[i], str)) return w->slots[i];
        i = (i + 1) & (w->nslots - 1);
    }
    if (w->blob.len + len + 1 > UINT32_MAX) return -1;
    uint32_t off = (uint32_t)w->blob.len;
    if (sy_buf_append(&w->blob, str, len + 1)) return -1;
    w->slots[i] = off;
    w->slot_hash[i] = h;
    if (++w->nused * 2 > w->nslots && intern_grow(w)) return -1;
    return off;
}

int neg_writer_add(neg_writer *w, const neg_row *r, sy_err *err)
{
    if (!r->query_id || !*r->query_id || !r->neg_id || !*r->neg_id)
        return sy_fail(err, SY_EINVAL, "a negative needs a query id and a negative id");
    if (r->source >= NEG_NSOURCES) return sy_fail(err, SY_EINVAL, "unknown negative source %d", r->source);
    if (w->nrows == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        uint8_t *nr = realloc(w->rows, cap * ROW);
        if (!nr) return sy_fail(err, SY_ENOMEM, "out of memory");
        w->rows = nr;
        w->cap = cap;
    }
    int64_t q = intern(w, r->query_id), n = intern(w, r->neg_id), t = intern(w, r->text), p = intern(w, r->prov);
    if (q < 0 || n < 0 || t < 0 || p < 0)
        return sy_fail(err, SY_ENOMEM, "negatives segment too large or out of memory; commit and start another");
    uint8_t *row = w->rows + w->nrows * ROW;
    memset(row, 0, ROW);
    sy_put_u32(row, (uint32_t)q);
    sy_put_u32(row + 4, (uint32_t)n);
    sy_put_u32(row + 8, (uint32_t)t);
    sy_put_u32(row + 12, (uint32_t)p);
    sy_put_u32(row + 16, r->rank);
    uint32_t sb;
    memcpy(&sb, &r->score, 4);
    sy_put_u32(row + 20, sb);
    row[24] = r->source;
    row[25] = r->flags;
    float fnl = r->fnl > 0 ? (r->fnl < 1 ? r->fnl : 1.0f) : 0.0f;   /* NaN, <= 0: none */
    memcpy(&sb, &fnl, 4);
    sy_put_u32(row + 28, sb);
    w->nrows++;
    return 0;
}

size_t neg_writer_count(const neg_writer *w) { return w->nrows; }

/* `at`: the commit time the segment is named and ordered by; 0 = now. */
static int write_segment(const char *dir, const char *tag, unsigned flags, uint64_t at, const uint8_t *rows,
                         size_t nrows, const char *blob, size_t blob_len, uint64_t *seq_out, sy_err *err)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t created = at ? at : (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    uint8_t hdr[HDR] = {0};
    memcpy(hdr, SEG_MAGIC, 8);
    sy_put_u32(hdr + 8, SEG_VERSION);
    sy_put_u32(hdr + 12, flags);
    sy_put_u64(hdr + 16, nrows);
    sy_put_u64(hdr + 24, blob_len);
    sy_put_u64(hdr + 32, created);
    /* checksum over header, rows and blob, computed over one contiguous copy */
    size_t total = HDR + nrows * ROW + blob_len;
    uint8_t *all = malloc(total + 8);
    if (!all) return sy_fail(err, SY_ENOMEM, "out of memory writing a negatives segment");
    memcpy(all, hdr, HDR);
    if (nrows) memcpy(all + HDR, rows, nrows * ROW);
    memcpy(all + HDR + nrows * ROW, blob, blob_len);
    sy_put_u64(all + total, sy_hash64(all, total));
    char name[256];
    snprintf(name, sizeof name, "%016llx-%06ld-%s.seg", (unsigned long long)created, (long)getpid(), tag);
    char *path = sy_path_join(dir, name);
    if (!path) {
        free(all);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    int r = sy_write_file_atomic(path, all, total + 8, err);
    free(all);
    free(path);
    if (r == 0 && seq_out) *seq_out = created;
    return r;
}

int neg_writer_commit(neg_writer *w, sy_err *err)
{
    if (write_segment(w->dir, w->tag, w->flags, w->at, w->rows, w->nrows, w->blob.data, w->blob.len, NULL, err) < 0)
        return -1;
    w->nrows = 0;
    return 0;
}

void neg_writer_free(neg_writer *w)
{
    if (!w) return;
    free(w->dir);
    free(w->tag);
    free(w->rows);
    free(w->slots);
    free(w->slot_hash);
    sy_buf_free(&w->blob);
    free(w);
}

void neg_writer_set_time(neg_writer *w, uint64_t at) { w->at = at; }
