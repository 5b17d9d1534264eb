/* negstore: immutable, mmap'd segments of candidate negatives.  See negstore.h;
 * the segment format is in negseg.h, the writer in negwrite.c.  This file
 * reads: source names, segments, the merged view (from scratch, or seeded
 * from the index in negindex.h), refresh, queries, the review queue,
 * compaction. */
#include "negstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "negindex.h"
#include "negseg.h"
#include "util.h"

static const char *const source_names[NEG_NSOURCES] = {"bm25", "dense", "llm", "offline", "manual", "import"};

const char *neg_source_name(int source)
{
    return source >= 0 && source < NEG_NSOURCES ? source_names[source] : "?";
}

int neg_source_parse(const char *name)
{
    for (int i = 0; name && i < NEG_NSOURCES; i++)
        if (!strcmp(name, source_names[i])) return i;
    return -1;
}

void neg_synthetic_id(int source, const char *text, char *buf, size_t n)
{
    snprintf(buf, n, "%s:%016llx", neg_source_name(source),
             (unsigned long long)sy_text_hash(text, strlen(text)));
}

/* ======================= store ======================= */

typedef struct {
    char *name;
    sy_map map;
    uint64_t seq;
    unsigned flags;
    size_t nrows;
    const uint8_t *rows;
    const char *blob;
    size_t blob_len;
    uint64_t checksum;   /* the stored one: the file's last 8 bytes */
} segment;

typedef struct {
    neg_ref *v;          /* cap 0 with n > 0: borrowed from the index mapping, read-only */
    uint32_t n, cap;
    int dirty;
    int touched;         /* in the merge under way (its counts are off the totals) */
} qlist;

struct neg_store {
    char *dir;
    segment *segs;
    size_t nsegs, capsegs;
    sy_strmap qmap;      /* query id (points into a segment blob) -> index in qs */
    qlist *qs;
    const char **qids;
    size_t nq, capq;
    uint32_t *live;      /* indices of queries that have rows, first-seen order */
    size_t nlive;
    size_t total, by_source[NEG_NSOURCES], by_flag[8];
    /* Opened from the merged index (negindex.h): queries, their rows and the
     * counts come from ix, and qmap/qs/qids/live are empty.  NULL: merged here. */
    negidx *ix;
    /* An index the merged view was seeded from (new segments folded onto it):
     * its queries are the first in qs, found through its hash (qmap holds
     * only the ones merged since); qids and borrowed lists point into it. */
    negidx *seed;
    char *ix_path;       /* SESSION/cache/negatives.idx */
};

static const char *seg_str(const segment *g, uint32_t off) { return off ? g->blob + off : NULL; }

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A segment the merged index vouches for: one open, its size, header and
 * stored checksum read with pread and compared with what the index recorded,
 * then mapped; the rows are not read.  pread, not the mapping: touching a
 * mapped page can map the whole large folio around it, and a store opened
 * from the index should hold only the rows it reads.  NULL, or why not. */
static const char *seg_map_vouched(segment *g, const char *path, const negidx_seg *expect)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open it";
    uint8_t hdr[HDR], tail[8];
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != expect->size || st.st_size < HDR + 8 ||
        pread(fd, tail, 8, st.st_size - 8) != 8 || sy_get_u64(tail) != expect->checksum)
        why = "changed since the negatives index was written";
    else if (pread(fd, hdr, HDR, 0) != HDR)
        why = "cannot read the segment header";
    else {
        size_t len = (size_t)st.st_size;
        uint64_t nrows = sy_get_u64(hdr + 16), blob_len = sy_get_u64(hdr + 24);
        if (memcmp(hdr, SEG_MAGIC, 8) || nrows > (len - HDR - 8) / ROW || blob_len != len - HDR - 8 - nrows * ROW)
            why = "segment header does not match the index";
        else {
            void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) why = "cannot map it";
            else {   /* pointers only from counts that fit the file */
                g->map.data = p;
                g->map.len = len;
                g->nrows = nrows;
                g->blob_len = blob_len;
                g->rows = g->map.data + HDR;
                g->blob = (const char *)g->map.data + HDR + nrows * ROW;
                g->flags = sy_get_u32(hdr + 12);
                g->seq = sy_get_u64(hdr + 32);
                g->checksum = expect->checksum;
            }
        }
    }
    close(fd);
    return why;
}

/* Map and validate one segment file.  With expect (the merged index vouches
 * for it), only the header, the size and the stored checksum are compared with
 * what the index recorded (seg_map_vouched). */
static int seg_load(segment *g, const char *dir, const char *name, const negidx_seg *expect, sy_err *err)
{
    memset(g, 0, sizeof *g);
    char *path = sy_path_join(dir, name);
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    const char *why = NULL;
    if (expect) {
        why = seg_map_vouched(g, path, expect);
        if (why) {
            sy_fail(err, SY_EFORMAT, "%s: %s", name, why);
            free(path);
            return -1;
        }
    } else {
        if (sy_map_open(&g->map, path, err) < 0) {
            free(path);
            return -1;
        }
        const uint8_t *d = g->map.data;
        size_t len = g->map.len;
        if (len < HDR + 8 || memcmp(d, SEG_MAGIC, 8)) why = "not a syneg negatives segment";
        else if (sy_get_u32(d + 8) < SEG_VERSION_MIN || sy_get_u32(d + 8) > SEG_VERSION) why = "unsupported segment version (made by a newer syneg?)";
        else {
            uint64_t nrows = sy_get_u64(d + 16), blob_len = sy_get_u64(d + 24);
            if (nrows > (len - HDR - 8) / ROW || blob_len != len - HDR - 8 - nrows * ROW || blob_len == 0)
                why = "segment sizes do not match the file";
            else if (sy_get_u64(d + len - 8) != sy_hash64(d, len - 8))
                why = "segment checksum mismatch (the file was damaged)";
            else {
                g->nrows = nrows;
                g->blob_len = blob_len;
                g->rows = d + HDR;
                g->blob = (const char *)d + HDR + nrows * ROW;
                if (g->blob[blob_len - 1] != '\0') why = "segment string table is not terminated";
                for (size_t i = 0; !why && i < nrows; i++) {
                    const uint8_t *r = g->rows + i * ROW;
                    for (int k = 0; k < 4; k++)
                        if (sy_get_u32(r + 4 * k) >= blob_len) why = "a row points outside the string table";
                    if (!sy_get_u32(r) || !sy_get_u32(r + 4)) why = "a row lacks its query or negative id";
                    if (r[24] >= NEG_NSOURCES) why = "a row has an unknown source";
                }
            }
        }
        if (why) {
            sy_fail(err, SY_EFORMAT, "%s: %s; move the file out of the negatives folder to open the session", path,
                    why);
            sy_map_close(&g->map);
            free(path);
            return -1;
        }
        g->flags = sy_get_u32(d + 12);
        g->seq = sy_get_u64(d + 32);
        g->checksum = sy_get_u64(d + len - 8);
    }
    free(path);
    g->name = strdup(name);
    if (!g->name) {
        sy_map_close(&g->map);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    return 0;
}

static void seg_free(segment *g)
{
    sy_map_close(&g->map);
    free(g->name);
}

/* Index in qs of a query: the seed index's queries keep their index there
 * (found through its hash), the ones merged since are in qmap; -1 if none. */
static int64_t query_find(const neg_store *s, const char *qid, size_t len)
{
    uint32_t idx;
    if (s->qmap.cap && sy_strmap_get(&s->qmap, qid, len, &idx)) return idx;
    return s->seed ? negidx_find(s->seed, qid) : -1;
}

static int64_t query_slot(neg_store *s, const char *qid)
{
    size_t len = strlen(qid);
    int64_t found = query_find(s, qid, len);
    if (found >= 0) return found;
    if (s->nq == s->capq) {
        size_t cap = s->capq ? s->capq * 2 : 1024;
        qlist *nq = realloc(s->qs, cap * sizeof *nq);
        if (!nq) return -1;
        s->qs = nq;
        const char **ni = realloc(s->qids, cap * sizeof *ni);
        if (!ni) return -1;
        s->qids = ni;
        s->capq = cap;
    }
    memset(&s->qs[s->nq], 0, sizeof s->qs[s->nq]);
    s->qids[s->nq] = qid;
    if (sy_strmap_put(&s->qmap, qid, len, (uint32_t)s->nq, NULL) < 0) return -1;
    return (int64_t)s->nq++;
}

static void row_at(const neg_store *s, neg_ref r, const uint8_t **row, const segment **seg)
{
    *seg = &s->segs[r.seg];
    *row = (*seg)->rows + (size_t)r.row * ROW;
}

/* Fold segment gi into the per-query lists. */
static int apply_segment(neg_store *s, uint32_t gi)
{
    const segment *g = &s->segs[gi];
    /* replace: first pass collects, per query, the sources this segment holds */
    if (g->flags & NEG_REPLACE) {
        for (size_t i = 0; i < g->nrows; i++) {
            const uint8_t *r = g->rows + i * ROW;
            int64_t qi = query_slot(s, g->blob + sy_get_u32(r));
            if (qi < 0) return -1;
            qlist *ql = &s->qs[qi];
            unsigned src = r[24];
            uint32_t k = 0;
            for (uint32_t j = 0; j < ql->n; j++) {
                const uint8_t *orow;
                const segment *og;
                row_at(s, ql->v[j], &orow, &og);
                if (ql->v[j].seg != gi && orow[24] == src) continue; /* dropped */
                ql->v[k++] = ql->v[j];
            }
            if (k != ql->n) ql->dirty = 1;
            ql->n = k;
        }
    }
    for (size_t i = 0; i < g->nrows; i++) {
        const uint8_t *r = g->rows + i * ROW;
        int64_t qi = query_slot(s, g->blob + sy_get_u32(r));
        if (qi < 0) return -1;
        qlist *ql = &s->qs[qi];
        const char *nid = g->blob + sy_get_u32(r + 4);
        neg_ref ref = {gi, (uint32_t)i};
        int replaced = 0;
        /* merge key: (query, negative id, source); one row per source */
        for (uint32_t j = 0; j < ql->n; j++) {
            const uint8_t *orow;
            const segment *og;
            row_at(s, ql->v[j], &orow, &og);
            if (orow[24] == r[24] && !strcmp(og->blob + sy_get_u32(orow + 4), nid)) {
                ql->v[j] = ref;
                replaced = 1;
                break;
            }
        }
        if (!replaced) {
            if (ql->n == ql->cap) {
                uint32_t cap = ql->cap ? ql->cap * 2 : 8;
                neg_ref *nv = realloc(ql->v, cap * sizeof *nv);
                if (!nv) return -1;
                ql->v = nv;
                ql->cap = cap;
            }
            ql->v[ql->n++] = ref;
        }
        ql->dirty = 1;
    }
    return 0;
}

static int cmp_refs_ctx(const neg_store *s, const neg_ref *a, const neg_ref *b)
{
    const uint8_t *ra, *rb;
    const segment *ga, *gb;
    row_at(s, *a, &ra, &ga);
    row_at(s, *b, &rb, &gb);
    if (ra[24] != rb[24]) return ra[24] < rb[24] ? -1 : 1;
    uint32_t ka = sy_get_u32(ra + 16), kb = sy_get_u32(rb + 16);
    if (ka != kb) return ka == 0 ? 1 : kb == 0 ? -1 : (ka < kb ? -1 : 1);
    if (a->seg != b->seg) return a->seg < b->seg ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

static int cmp_refs(const void *a, const void *b, void *ctx)
{
    return cmp_refs_ctx(ctx, a, b);
}

/* Add (sign 1) or take off (-1) a query's rows from the totals. */
static void count_rows(neg_store *s, const qlist *ql, int sign)
{
    for (uint32_t j = 0; j < ql->n; j++) {
        const uint8_t *r;
        const segment *g;
        row_at(s, ql->v[j], &r, &g);
        s->total += (size_t)sign;
        s->by_source[r[24]] += (size_t)sign;
        for (int b = 0; b < 8; b++)
            if (r[25] & (1u << b)) s->by_flag[b] += (size_t)sign;
    }
}

/* Before segment gi is folded in: each query it holds that this merge has not
 * touched yet has its rows taken off the totals (settle adds them back as
 * they end up) and, when borrowed from an index, copied so it can change.
 * Queries new to the store are created here, in first-seen order. */
static int touch_segment(neg_store *s, uint32_t gi)
{
    const segment *g = &s->segs[gi];
    for (size_t i = 0; i < g->nrows; i++) {
        int64_t qi = query_slot(s, g->blob + sy_get_u32(g->rows + i * ROW));
        if (qi < 0) return -1;
        qlist *ql = &s->qs[qi];
        if (ql->touched) continue;
        ql->touched = 1;
        count_rows(s, ql, -1);
        if (!ql->cap && ql->n) {
            neg_ref *v = malloc(ql->n * sizeof *v);
            if (!v) return -1;
            memcpy(v, ql->v, ql->n * sizeof *v);
            ql->v = v;
            ql->cap = ql->n;
        }
    }
    return 0;
}

/* After folding: sort what changed, count it back, list the live queries.
 * Costs the rows of the queries the new segments hold, not of the store. */
static void settle(neg_store *s)
{
    free(s->live);
    s->live = malloc((s->nq ? s->nq : 1) * sizeof *s->live);
    s->nlive = 0;
    for (size_t q = 0; q < s->nq; q++) {
        qlist *ql = &s->qs[q];
        if (ql->n && s->live) s->live[s->nlive++] = (uint32_t)q;
        if (!ql->touched) continue;
        if (ql->dirty) {
            qsort_r(ql->v, ql->n, sizeof *ql->v, cmp_refs, s);
            ql->dirty = 0;
        }
        count_rows(s, ql, 1);
        ql->touched = 0;
    }
}

static void zero_counts(neg_store *s)
{
    s->total = 0;
    memset(s->by_source, 0, sizeof s->by_source);
    memset(s->by_flag, 0, sizeof s->by_flag);
}

/* Forget the merged view (and its counts); the segments stay loaded. */
static void clear_index(neg_store *s)
{
    zero_counts(s);
    negidx_free(s->ix);
    s->ix = NULL;
    for (size_t q = 0; q < s->nq; q++)
        if (s->qs[q].cap) free(s->qs[q].v);
    free(s->qs);
    free(s->qids);
    free(s->live);
    s->qs = NULL;
    s->qids = NULL;
    s->live = NULL;
    s->nlive = 0;
    s->nq = s->capq = 0;
    sy_strmap_free(&s->qmap);
    negidx_free(s->seed);   /* after the lists and ids that point into it */
    s->seed = NULL;
}

/* List segment names in the folder, sorted (= commit order). */
static char **list_segments(const char *dir, size_t *n, sy_err *err)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return calloc(1, sizeof(char *));
        sy_fail_errno(err, errno, "%s: cannot list", dir);
        return NULL;
    }
    size_t cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".seg") || e->d_name[0] == '.') continue;
        if (*n == cap) {
            char **nn = realloc(names, (cap *= 2) * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (!names) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    qsort(names, *n, sizeof *names, cmp_names);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Load every segment not loaded yet; rebuild from scratch when a new one sorts
 * before one already folded in. */
static int load_new(neg_store *s, int *changed, sy_err *err)
{
    size_t n;
    char **names = list_segments(s->dir, &n, err);
    if (!names) return -1;
    int rebuild = 0, any = 0;
    size_t have = s->nsegs;
    /* which names are new? segments are named in commit order */
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t j = 0; j < have && !known; j++) known = !strcmp(s->segs[j].name, names[i]);
        if (known) continue;
        if (have && strcmp(names[i], s->segs[have - 1].name) < 0) rebuild = 1;
        if (s->nsegs == s->capsegs) {
            size_t cap = s->capsegs ? s->capsegs * 2 : 16;
            segment *ns = realloc(s->segs, cap * sizeof *ns);
            if (!ns) {
                free_names(names, n);
                return sy_fail(err, SY_ENOMEM, "out of memory");
            }
            s->segs = ns;
            s->capsegs = cap;
        }
        if (seg_load(&s->segs[s->nsegs], s->dir, names[i], NULL, err) < 0) {
            free_names(names, n);
            return -1;
        }
        s->nsegs++;
        any = 1;
    }
    free_names(names, n);
    if (changed) *changed = any;
    if (!any) return 0;
    if (rebuild) {
        /* keep segments in name order, then fold all again */
        for (size_t i = 1; i < s->nsegs; i++)
            for (size_t j = i; j > 0 && strcmp(s->segs[j - 1].name, s->segs[j].name) > 0; j--) {
                segment t = s->segs[j];
                s->segs[j] = s->segs[j - 1];
                s->segs[j - 1] = t;
            }
        clear_index(s);
        have = 0;
    }
    if (!s->qmap.cap && sy_strmap_init(&s->qmap, 1024)) return sy_fail(err, SY_ENOMEM, "out of memory");
    for (size_t i = have; i < s->nsegs; i++)
        if (touch_segment(s, (uint32_t)i) < 0 || apply_segment(s, (uint32_t)i) < 0)
            return sy_fail(err, SY_ENOMEM, "out of memory loading negatives");
    settle(s);
    return 0;
}

/* Save the merged view for the next open (negindex.h).  Best effort: a
 * session folder that cannot be written only opens the slow way. */
static void write_index(neg_store *s)
{
    if (!s->nsegs || s->ix) return;
    negidx_seg *segs = malloc(s->nsegs * sizeof *segs);
    const char **qids = malloc((s->nlive ? s->nlive : 1) * sizeof *qids);
    const neg_ref **refs = malloc((s->nlive ? s->nlive : 1) * sizeof *refs);
    uint32_t *nrefs = malloc((s->nlive ? s->nlive : 1) * sizeof *nrefs);
    char *cache = strdup(s->ix_path);
    if (segs && qids && refs && nrefs && cache) {
        for (size_t i = 0; i < s->nsegs; i++)
            segs[i] = (negidx_seg){s->segs[i].name, s->segs[i].map.len, s->segs[i].checksum};
        for (size_t i = 0; i < s->nlive; i++) {
            qids[i] = s->qids[s->live[i]];
            refs[i] = s->qs[s->live[i]].v;
            nrefs[i] = s->qs[s->live[i]].n;
        }
        negidx_data d = {.nsegs = s->nsegs, .segs = segs, .nq = s->nlive, .qids = qids, .refs = refs, .nrefs = nrefs};
        for (int i = 0; i < NEG_NSOURCES; i++) d.by_source[i] = s->by_source[i];
        for (int i = 0; i < 8; i++) d.by_flag[i] = s->by_flag[i];
        char *slash = strrchr(cache, '/');
        if (slash) *slash = '\0';
        if (sy_mkdir_p(cache, NULL) == 0) negidx_write(s->ix_path, &d, NULL);
    }
    free(segs), free(qids), free(refs), free(nrefs), free(cache);
}

/* Turn a store answering from its index into a merged view seeded from it:
 * the index's queries in its order, each list borrowed from the mapping (a
 * list is copied only when a new segment changes it), its counts kept.  Then
 * load_new folds only the segments the index does not cover onto it, with
 * the order and newest-wins rules of a merge from scratch: the index holds
 * exactly what merging its segments gave, in first-seen order. */
static int seed_from_index(neg_store *s, sy_err *err)
{
    negidx *ix = s->ix;
    size_t nq = negidx_nqueries(ix);
    s->ix = NULL;
    s->seed = ix;
    s->qs = calloc(nq ? nq : 1, sizeof *s->qs);
    s->qids = malloc((nq ? nq : 1) * sizeof *s->qids);
    free(s->live);
    s->live = malloc((nq ? nq : 1) * sizeof *s->live);   /* consistent even if nothing is folded in */
    s->nlive = 0;
    if (!s->qs || !s->qids || !s->live || sy_strmap_init(&s->qmap, 1024))
        return sy_fail(err, SY_ENOMEM, "out of memory");
    s->capq = nq;
    for (size_t i = 0; i < nq; i++) {
        size_t n;
        const char *qid = negidx_query_id(ix, i);
        s->qs[i].v = (neg_ref *)negidx_query_refs(ix, i, &n);   /* borrowed: cap 0 */
        s->qs[i].n = (uint32_t)n;
        s->qids[i] = qid;
        s->nq = i + 1;
        s->live[s->nlive++] = (uint32_t)i;
    }
    return 0;
}

static void free_segments(neg_store *s)
{
    for (size_t i = 0; i < s->nsegs; i++) seg_free(&s->segs[i]);
    s->nsegs = 0;
}

/* Open from the merged index when the segment files it lists are the first
 * ones in the folder, unchanged; 0 when it did, -1 (nothing kept) when it
 * cannot.  When newer segments follow them (a job committed since the index
 * was written), only those are merged, onto a view seeded from the index,
 * and the index is saved again. */
static int open_indexed(neg_store *s)
{
    size_t n;
    char **names = list_segments(s->dir, &n, NULL);
    negidx *ix = names && n ? negidx_open(s->ix_path, NULL) : NULL;
    size_t k = ix ? negidx_nsegs(ix) : 0;
    int ok = ix && k && k <= n;
    if (ok && k > s->capsegs) {
        segment *ns = realloc(s->segs, k * sizeof *ns);
        if (ns) s->segs = ns, s->capsegs = k;
        ok = ns != NULL;
    }
    for (size_t i = 0; ok && i < k; i++) {
        negidx_seg e = negidx_seg_at(ix, i);
        ok = !strcmp(e.name, names[i]) && seg_load(&s->segs[i], s->dir, names[i], &e, NULL) == 0;
        if (ok) s->nsegs = i + 1;
    }
    if (names) free_names(names, n);
    if (!ok) {
        free_segments(s);
        negidx_free(ix);
        return -1;
    }
    s->ix = ix;
    s->total = negidx_total(ix);
    for (int i = 0; i < NEG_NSOURCES; i++) s->by_source[i] = negidx_count_source(ix, i);
    for (int i = 0; i < 8; i++) s->by_flag[i] = negidx_count_flag_bit(ix, i);
    s->nlive = negidx_nqueries(ix);
    if (k < n) {   /* newer segments: fold only those in */
        if (seed_from_index(s, NULL) < 0 || load_new(s, NULL, NULL) < 0) {
            clear_index(s);
            free_segments(s);
            return -1;
        }
        write_index(s);
    }
    return 0;
}

neg_store *neg_store_open(const char *session_dir, sy_err *err)
{
    neg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = sy_path_join(session_dir, "negatives")) ||
        !(s->ix_path = sy_path_join(session_dir, "cache/negatives.idx"))) {
        if (s) free(s->dir);
        free(s);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    if (open_indexed(s) == 0) return s;
    if (load_new(s, NULL, err) < 0) {
        neg_store_free(s);
        return NULL;
    }
    write_index(s);
    return s;
}

int neg_store_from_index(const neg_store *s) { return s->ix ? 1 : s->seed ? 2 : 0; }

void neg_store_free(neg_store *s)
{
    if (!s) return;
    clear_index(s);
    free_segments(s);
    free(s->segs);
    free(s->dir);
    free(s->ix_path);
    free(s);
}

int neg_store_refresh(neg_store *s, int *changed, sy_err *err)
{
    if (s->ix) {
        /* the same files as the index lists: nothing to do */
        size_t n;
        char **names = list_segments(s->dir, &n, err);
        if (!names) return -1;
        int prefix = n >= s->nsegs;
        for (size_t i = 0; prefix && i < s->nsegs; i++) prefix = !strcmp(names[i], s->segs[i].name);
        free_names(names, n);
        if (prefix && n == s->nsegs) {
            if (changed) *changed = 0;
            return 0;
        }
        if (prefix) {
            /* only newer segments: fold them onto the index's view */
            if (seed_from_index(s, err) < 0) return -1;
        } else {
            /* one went away (compacted): merge every segment here, as an
             * open without an index does */
            clear_index(s);
            free_segments(s);
        }
    }
    int any = 0;
    if (load_new(s, &any, err) < 0) return -1;
    if (changed) *changed = any;
    if (any) write_index(s);
    return 0;
}

size_t neg_store_count(const neg_store *s) { return s->total; }

size_t neg_store_count_source(const neg_store *s, int source)
{
    return source >= 0 && source < NEG_NSOURCES ? s->by_source[source] : 0;
}

size_t neg_store_count_flag(const neg_store *s, unsigned flag)
{
    for (int b = 0; b < 8; b++)
        if (flag == (1u << b)) return s->by_flag[b];
    return 0;
}

size_t neg_store_nqueries(const neg_store *s) { return s->nlive; }

/* Rows of the li-th live query. */
static const neg_ref *live_refs(const neg_store *s, size_t li, size_t *n)
{
    if (s->ix) return negidx_query_refs(s->ix, li, n);
    *n = s->qs[s->live[li]].n;
    return s->qs[s->live[li]].v;
}

const neg_ref *neg_store_query(const neg_store *s, const char *query_id, size_t *n)
{
    if (s->ix) {
        int64_t i = negidx_find(s->ix, query_id);
        if (i < 0) {
            *n = 0;
            return NULL;
        }
        return negidx_query_refs(s->ix, (size_t)i, n);
    }
    int64_t idx = query_find(s, query_id, strlen(query_id));
    if (idx < 0) {
        *n = 0;
        return NULL;
    }
    *n = s->qs[idx].n;
    return s->qs[idx].v;
}

const char *neg_store_query_at(const neg_store *s, size_t i)
{
    if (s->ix) return negidx_query_id(s->ix, i);
    return i < s->nlive ? s->qids[s->live[i]] : NULL;
}

void neg_store_get(const neg_store *s, neg_ref ref, neg_row *out)
{
    const uint8_t *r;
    const segment *g;
    row_at(s, ref, &r, &g);
    out->query_id = g->blob + sy_get_u32(r);
    out->neg_id = g->blob + sy_get_u32(r + 4);
    out->text = seg_str(g, sy_get_u32(r + 8));
    out->prov = seg_str(g, sy_get_u32(r + 12));
    out->rank = sy_get_u32(r + 16);
    uint32_t sb = sy_get_u32(r + 20);
    memcpy(&out->score, &sb, 4);
    out->source = r[24];
    out->flags = r[25];
    out->seq = g->seq;
    sb = sy_get_u32(r + 28);   /* version 1: 0 = none */
    memcpy(&out->fnl, &sb, 4);
    if (!(out->fnl > 0)) out->fnl = 0;
}

int neg_store_find(const neg_store *s, const char *query_id, const char *neg_id, neg_row *out)
{
    size_t n;
    const neg_ref *refs = neg_store_query(s, query_id, &n);
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(s, refs[i], &row);
        if (!strcmp(row.neg_id, neg_id)) {
            if (out) *out = row;
            return 1;
        }
    }
    return 0;
}

float neg_row_queue_key(const neg_row *r)
{
    if (neg_row_has_fnl(r)) return r->fnl;
    return (r->flags & NEG_F_SUSPECT) ? 0.5f : 0.0f;
}

typedef struct { float key; uint32_t q, j; neg_ref ref; } ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

neg_ref *neg_store_ranked(const neg_store *s, int only_suspects, size_t *n)
{
    *n = 0;
    size_t m = 0;
    ranked *v = malloc((s->total ? s->total : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t li = 0; li < s->nlive; li++) {
        size_t nr;
        const neg_ref *refs = live_refs(s, li, &nr);
        for (uint32_t j = 0; j < nr; j++) {
            neg_row r;
            neg_store_get(s, refs[j], &r);
            float key = neg_row_queue_key(&r);
            if (only_suspects ? !(r.flags & NEG_F_SUSPECT) : !(key > 0)) continue;
            v[m++] = (ranked){key, (uint32_t)li, j, refs[j]};
        }
    }
    qsort(v, m, sizeof *v, cmp_ranked);
    neg_ref *out = malloc((m ? m : 1) * sizeof *out);
    if (out)
        for (size_t i = 0; i < m; i++) out[i] = v[i].ref;
    free(v);
    if (!out) return NULL;
    *n = m;
    if (!m) {
        free(out);
        return NULL;
    }
    return out;
}

int neg_store_compact(neg_store *s, sy_err *err)
{
    if (s->nsegs <= 1) return 0;
    char *session_dir = strndup(s->dir, strlen(s->dir) - strlen("/negatives"));
    neg_writer *w = session_dir ? neg_writer_new(session_dir, "compact", 0, err) : NULL;
    free(session_dir);
    if (!w) return -1;
    /* The compacted segment takes the place of the newest segment it merges
     * (its commit time + 1 ns), not "now": a segment another process commits
     * meanwhile sorts after it, so that segment's rows and NEG_REPLACE still
     * win over the older rows compaction copies (merge order = name order). */
    uint64_t newest = 0;
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].seq > newest) newest = s->segs[i].seq;
    neg_writer_set_time(w, newest + 1);
    for (size_t li = 0; li < s->nlive; li++) {
        size_t nr;
        const neg_ref *refs = live_refs(s, li, &nr);
        for (uint32_t j = 0; j < nr; j++) {
            neg_row row;
            neg_store_get(s, refs[j], &row);
            if (neg_writer_add(w, &row, err) < 0) {
                neg_writer_free(w);
                return -1;
            }
        }
    }
    if (neg_writer_commit(w, err) < 0) {
        neg_writer_free(w);
        return -1;
    }
    neg_writer_free(w);
    /* the compacted segment holds every live row: the old ones can go */
    size_t old = s->nsegs;
    char **names = malloc(old * sizeof *names);
    if (!names) return sy_fail(err, SY_ENOMEM, "out of memory");
    for (size_t i = 0; i < old; i++) names[i] = strdup(s->segs[i].name);
    clear_index(s);
    free_segments(s);
    for (size_t i = 0; i < old; i++) {
        char *p = names[i] ? sy_path_join(s->dir, names[i]) : NULL;
        if (p) unlink(p);
        free(p);
        free(names[i]);
    }
    free(names);
    sy_fsync_dir(s->dir);
    if (load_new(s, NULL, err) < 0) return -1;
    write_index(s);
    return 0;
}

size_t neg_store_nsegments(const neg_store *s) { return s->nsegs; }

/* Why 64: every open lists, maps and checks each segment (and the kernel caps
 * a process's mappings at vm.max_map_count, 65530 by default), while a
 * compaction rewrites every live row; 64 keeps opens cheap and compacts a
 * long judge run (a segment per 32 verdicts) about once per 2,000 verdicts'
 * worth of segments, at the end of the run, never mid-way. */
int neg_store_compact_if_many(neg_store *s, sy_err *err)
{
    if (s->nsegs <= NEG_COMPACT_SEGMENTS) return 0;
    return neg_store_compact(s, err) < 0 ? -1 : 1;
}
