/* negatives store opened from its merged index (negindex.h): with many
 * segments (as `mine --shard` leaves them), an open from the index gives the
 * same answers as merging every segment; a stale or damaged index is noticed
 * and rebuilt; refresh and compaction work from an indexed open. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "negindex.h"
#include "negstore.h"
#include "util.h"

static uint64_t rs = 7;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

/* nseg segments over 60 queries: shards of fresh mining (replace), re-mining
 * of earlier queries (replace: drops their older bm25 rows), dense rows, and
 * appended synthetic texts; flags and likelihoods on some rows. */
static void write_segments(const char *d, int first, int nseg)
{
    char q[32], n[32], text[96];
    sy_err err = {0};
    for (int g = first; g < first + nseg; g++) {
        int kind = g % 4;   /* 0, 1: bm25 shard (replace), 2: dense, 3: synthetic */
        neg_writer *w = neg_writer_new(d, kind == 3 ? "synth" : "mine-shard", kind < 2 ? NEG_REPLACE : 0, &err);
        CHECK(w != NULL, "%s", err.msg);
        if (!w) return;
        for (int qi = 0; qi < 6; qi++) {
            snprintf(q, sizeof q, "q%d", (int)((g * 6 + qi) % 60 + (kind == 1 ? 3 : 0)) % 60);
            int k = 3 + (int)(rnd() % 5);
            for (int j = 0; j < k; j++) {
                uint64_t x = rnd();
                neg_row r = {0};
                r.query_id = q;
                r.rank = (uint32_t)(j + 1);
                r.score = 10.0f - (float)j + (float)(x % 7) / 10;
                r.flags = x % 5 == 0 ? NEG_F_SUSPECT : (x % 11 == 0 ? NEG_F_DUP : 0);
                r.fnl = x % 3 == 0 ? (float)(x % 97 + 1) / 100.0f : 0.0f;
                if (kind == 3) {
                    snprintf(text, sizeof text, "made-up passage %d about %s", (int)(x % 9), q);
                    neg_synthetic_id(NEG_LLM, text, n, sizeof n);
                    r.neg_id = n;
                    r.text = text;
                    r.prov = "{\"model\":\"m\"}";
                    r.source = NEG_LLM;
                    r.rank = 0;
                } else {
                    /* a small pool of documents, so the same (query, doc) recurs */
                    snprintf(n, sizeof n, "d%d", (int)(x % 25));
                    r.neg_id = n;
                    r.source = kind == 2 ? NEG_DENSE : NEG_BM25;
                }
                CHECK_EQ_INT(neg_writer_add(w, &r, &err), 0);
            }
        }
        CHECK(neg_writer_commit(w, &err) == 0, "%s", err.msg);
        neg_writer_free(w);
    }
}

static int same_row(const neg_row *a, const neg_row *b)
{
    return !strcmp(a->query_id, b->query_id) && !strcmp(a->neg_id, b->neg_id) &&
           !strcmp(a->text ? a->text : "-", b->text ? b->text : "-") &&
           !strcmp(a->prov ? a->prov : "-", b->prov ? b->prov : "-") && a->rank == b->rank &&
           a->score == b->score && a->source == b->source && a->flags == b->flags && a->seq == b->seq &&
           a->fnl == b->fnl;
}

/* every question the API can ask, asked of both */
static void check_same(const neg_store *a, const neg_store *b)
{
    CHECK_EQ_INT(neg_store_count(b), neg_store_count(a));
    CHECK_EQ_INT(neg_store_nqueries(b), neg_store_nqueries(a));
    for (int src = 0; src < NEG_NSOURCES; src++)
        CHECK_EQ_INT(neg_store_count_source(b, src), neg_store_count_source(a, src));
    for (int bit = 0; bit < 8; bit++) CHECK_EQ_INT(neg_store_count_flag(b, 1u << bit), neg_store_count_flag(a, 1u << bit));
    size_t rows = 0;
    for (size_t i = 0; i < neg_store_nqueries(a); i++) {
        const char *qa = neg_store_query_at(a, i), *qb = neg_store_query_at(b, i);
        CHECK_EQ_STR(qb, qa);
        if (!qa || !qb) return;
        size_t na, nb;
        const neg_ref *ra = neg_store_query(a, qa, &na), *rb = neg_store_query(b, qa, &nb);
        CHECK_EQ_INT(nb, na);
        for (size_t j = 0; j < na && j < nb; j++) {
            neg_row x, y, f;
            neg_store_get(a, ra[j], &x);
            neg_store_get(b, rb[j], &y);
            CHECK(same_row(&x, &y), "query %s row %zu: %s/%d vs %s/%d", qa, j, x.neg_id, x.source, y.neg_id, y.source);
            /* a label names (query, negative): find lands on a row with those ids */
            CHECK(neg_store_find(b, qa, x.neg_id, &f) == 1, "find %s %s", qa, x.neg_id);
            neg_row fa;
            neg_store_find(a, qa, x.neg_id, &fa);
            CHECK(same_row(&f, &fa), "find %s %s gives the same row", qa, x.neg_id);
            rows++;
        }
    }
    CHECK_EQ_INT(rows, neg_store_count(a));
    CHECK(neg_store_query_at(b, neg_store_nqueries(b)) == NULL, "past the end");
    size_t n;
    CHECK(neg_store_query(b, "no-such-query", &n) == NULL && n == 0, "unknown query");
    /* many absent ids: most are answered by the index's filter, the ~6 % it
     * lets through by the slots; none may be found */
    int found = 0;
    for (int i = 0; i < 5000; i++) {
        char id[32];
        snprintf(id, sizeof id, i % 2 ? "absent-%d" : "q%d", i % 2 ? i : 100000 + i);
        found += neg_store_query(b, id, &n) != NULL || n != 0;
        found += neg_store_query(a, id, &n) != NULL || n != 0;
    }
    CHECK_EQ_INT(found, 0);
    CHECK(!neg_store_find(b, "q1", "no-such-doc", NULL), "unknown negative");
    for (int only = 0; only < 2; only++) {
        size_t ka, kb;
        neg_ref *xa = neg_store_ranked(a, only, &ka), *xb = neg_store_ranked(b, only, &kb);
        CHECK_EQ_INT(kb, ka);
        for (size_t i = 0; i < ka && i < kb; i++) {
            neg_row x, y;
            neg_store_get(a, xa[i], &x);
            neg_store_get(b, xb[i], &y);
            CHECK(same_row(&x, &y), "ranked %d row %zu", only, i);
        }
        free(xa);
        free(xb);
    }
}

static char *index_path(const char *d) { return sy_path_join(d, "cache/negatives.idx"); }

TEST(many_segments_same_answers)
{
    char *d = check_tmpdir("negidx");
    write_segments(d, 0, 48);
    sy_err err = {0};
    char *ix = index_path(d);
    CHECK(!sy_file_exists(ix), "no index before the first open");
    neg_store *merged = neg_store_open(d, &err);
    CHECK(merged != NULL, "%s", err.msg);
    CHECK(!neg_store_from_index(merged), "the first open merges");
    CHECK(sy_file_exists(ix), "the first open saves the merged view");
    neg_store *lazy = neg_store_open(d, &err);
    CHECK(lazy != NULL, "%s", err.msg);
    CHECK(neg_store_from_index(lazy), "the second open uses the index");
    CHECK(neg_store_count(merged) > 500 && neg_store_nqueries(merged) == 60, "%zu rows, %zu queries",
          neg_store_count(merged), neg_store_nqueries(merged));
    CHECK(neg_store_count_source(merged, NEG_LLM) > 0 && neg_store_count_source(merged, NEG_DENSE) > 0, "sources");
    check_same(merged, lazy);

    /* the index lists its segments */
    negidx *x = negidx_open(ix, &err);
    CHECK(x != NULL, "%s", err.msg);
    if (x) {
        CHECK_EQ_INT(negidx_nsegs(x), 48);
        negidx_free(x);
    }
    neg_store_free(lazy);
    neg_store_free(merged);
    free(ix);
    check_rmrf(d);
    free(d);
}

TEST(stale_or_damaged_index)
{
    char *d = check_tmpdir("negidx");
    write_segments(d, 0, 12);
    sy_err err = {0};
    char *ix = index_path(d);
    neg_store_free(neg_store_open(d, &err));   /* writes the index */

    /* a shard committed after: the index is stale, the open merges again */
    write_segments(d, 12, 3);
    neg_store *a = neg_store_open(d, &err);
    CHECK(a && neg_store_from_index(a) == 2, "a new segment: only it is merged, onto the index's view");
    neg_store *b = neg_store_open(d, &err);
    CHECK(b && neg_store_from_index(b), "and the open saved a fresh one");
    if (a && b) check_same(a, b);
    neg_store_free(b);
    neg_store_free(a);
    {   /* the reference: every segment merged from scratch */
        char *ixs = index_path(d);
        unlink(ixs);
        free(ixs);
        a = neg_store_open(d, &err);
        CHECK(a && !neg_store_from_index(a), "no index: every segment merged");
    }

    /* a damaged index: noticed, the open merges, the answers stay the same */
    int fd = open(ix, O_RDWR);
    CHECK(fd >= 0, "open %s", ix);
    char c = 0;
    CHECK_EQ_INT(pread(fd, &c, 1, 300), 1);
    c ^= 0x5a;
    CHECK_EQ_INT(pwrite(fd, &c, 1, 300), 1);
    close(fd);
    CHECK(negidx_open(ix, &err) == NULL && strstr(err.msg, "checksum"), "damage is reported: %s", err.msg);
    b = neg_store_open(d, &err);
    CHECK(b && !neg_store_from_index(b), "a damaged index is not used");
    if (a && b) check_same(a, b);
    neg_store_free(b);

    /* a truncated one too */
    b = neg_store_open(d, &err);
    CHECK(b && neg_store_from_index(b), "rewritten");
    neg_store_free(b);
    CHECK_EQ_INT(truncate(ix, 100), 0);
    b = neg_store_open(d, &err);
    CHECK(b && !neg_store_from_index(b), "a truncated index is not used");
    neg_store_free(b);

    /* a segment removed (as another process's compaction does) */
    neg_store_free(a);
    size_t before;
    {
        neg_store *s = neg_store_open(d, &err);
        before = s ? neg_store_count(s) : 0;
        CHECK(s && neg_store_from_index(s), "indexed");
        CHECK_EQ_INT(neg_store_compact(s, &err), 0);
        CHECK_EQ_INT(neg_store_count(s), before);
        neg_store_free(s);
    }
    b = neg_store_open(d, &err);
    CHECK(b && neg_store_from_index(b), "compaction saved the index of its one segment");
    CHECK_EQ_INT(b ? neg_store_count(b) : 0, before);
    neg_store_free(b);

    /* a segment whose stored checksum changed is not vouched for by the index:
     * the open checks it in full, and the damage is reported naming it */
    char cmd[600], seg[512] = "";
    snprintf(cmd, sizeof cmd, "ls '%s'/negatives/*.seg | head -n 1", d);
    FILE *p = popen(cmd, "r");
    CHECK(p && fgets(seg, sizeof seg, p), "a segment");
    if (p) pclose(p);
    seg[strcspn(seg, "\n")] = '\0';
    struct stat sst;
    int sfd = open(seg, O_RDWR);
    CHECK(sfd >= 0 && fstat(sfd, &sst) == 0, "open %s", seg);
    unsigned char last = 0;
    CHECK_EQ_INT(pread(sfd, &last, 1, sst.st_size - 1), 1);
    last ^= 0xff;
    CHECK_EQ_INT(pwrite(sfd, &last, 1, sst.st_size - 1), 1);
    close(sfd);
    b = neg_store_open(d, &err);
    CHECK(b == NULL && strstr(err.msg, ".seg") && strstr(err.msg, "checksum"), "damaged segment: %s", err.msg);
    neg_store_free(b);
    free(ix);
    check_rmrf(d);
    free(d);
}

TEST(refresh_from_index)
{
    char *d = check_tmpdir("negidx");
    write_segments(d, 0, 10);
    sy_err err = {0};
    neg_store_free(neg_store_open(d, &err));
    neg_store *s = neg_store_open(d, &err);
    CHECK(s && neg_store_from_index(s), "indexed");
    if (!s) return;
    int changed = -1;
    CHECK_EQ_INT(neg_store_refresh(s, &changed, &err), 0);
    CHECK_EQ_INT(changed, 0);
    CHECK(neg_store_from_index(s), "nothing new: still indexed");
    /* a background job commits a shard while the store is open */
    write_segments(d, 10, 2);
    CHECK_EQ_INT(neg_store_refresh(s, &changed, &err), 0);
    CHECK_EQ_INT(changed, 1);
    neg_store *m = neg_store_open(d, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (m) check_same(m, s);
    CHECK_EQ_INT(neg_store_refresh(s, &changed, &err), 0);
    CHECK_EQ_INT(changed, 0);
    neg_store_free(m);
    neg_store_free(s);
    check_rmrf(d);
    free(d);
}

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    CHECK(system(cmd) == 0, "%s", cmd);
}

/* The store opened from every segment merged from scratch, in a copy of d
 * without the index (the reference). */
static neg_store *full_merge(const char *d, const char *copy)
{
    sy_err err = {0};
    sh("rm -rf '%s'%s", copy, "");
    sh("cp -r '%s' '%s'", d, copy);
    sh("rm -f '%s/cache/negatives.idx' %s", copy, "");
    neg_store *m = neg_store_open(copy, &err);
    CHECK(m && !neg_store_from_index(m), "reference merged from scratch: %s", err.msg);
    return m;
}

/* A segment that overrides rows of old ones without NEG_REPLACE (same query,
 * document and source: the newer row wins, in place) and adds two queries. */
static void write_override(const char *d)
{
    sy_err err = {0};
    neg_writer *w = neg_writer_new(d, "override", 0, &err);
    char n[16];
    for (int j = 0; j < 25; j++) {
        snprintf(n, sizeof n, "d%d", j);
        neg_row r = {.query_id = j % 2 ? "q5" : "q17", .neg_id = n, .source = NEG_BM25, .rank = (uint32_t)(30 - j),
                     .score = 100.0f + (float)j, .flags = NEG_F_SUSPECT, .fnl = 0.9f};
        CHECK_EQ_INT(neg_writer_add(w, &r, &err), 0);
    }
    neg_row r1 = {.query_id = "qnew1", .neg_id = "d1", .source = NEG_DENSE, .rank = 1, .score = 1};
    neg_row r2 = {.query_id = "qnew2", .neg_id = "d2", .source = NEG_BM25, .rank = 2, .score = 2};
    CHECK_EQ_INT(neg_writer_add(w, &r1, &err), 0);
    CHECK_EQ_INT(neg_writer_add(w, &r2, &err), 0);
    CHECK(neg_writer_commit(w, &err) == 0, "%s", err.msg);
    neg_writer_free(w);
}

/* Segments committed after the index was written are merged onto it, not
 * every segment again; the answers equal a merge from scratch row for row
 * (query order, row order, newest-wins overrides, NEG_REPLACE, new queries),
 * at open and at refresh, and with a compaction racing the open. */
TEST(incremental_equals_full_merge)
{
    char *d = check_tmpdir("negidx-inc"), *ref = sy_path_join(d, "../negidx-inc-ref");
    char *d2 = sy_path_join(d, "../negidx-inc-compact");
    write_segments(d, 0, 16);
    sy_err err = {0};
    neg_store_free(neg_store_open(d, &err));   /* the index of 16 segments */
    neg_store *r = neg_store_open(d, &err);
    CHECK(r && neg_store_from_index(r) == 1, "indexed");
    /* new segments: re-mining (replace), shifted re-mining, dense, synthetic,
     * then rows overriding old ones and new queries */
    write_segments(d, 16, 4);
    write_override(d);
    neg_store *a = neg_store_open(d, &err);
    CHECK(a && neg_store_from_index(a) == 2, "only the 5 new segments merged, onto the index's view");
    neg_store *m = full_merge(d, ref);
    CHECK(m && neg_store_count(m) > 400 && neg_store_nqueries(m) == 62, "reference: %zu rows, %zu queries",
          m ? neg_store_count(m) : 0, m ? neg_store_nqueries(m) : 0);
    if (a && m) check_same(m, a);
    neg_store *e = neg_store_open(d, &err);
    CHECK(e && neg_store_from_index(e) == 1, "the incremental open saved the index of all 21");
    if (e && m) check_same(m, e);
    /* refresh of a store opened from the old index */
    int changed = 0;
    CHECK(r && neg_store_refresh(r, &changed, &err) == 0 && changed == 1, "refresh: %s", err.msg);
    CHECK(r && neg_store_from_index(r) == 2, "refresh merged only the new segments");
    if (r && m) check_same(m, r);
    /* and a later one on top of it */
    write_segments(d, 21, 2);
    CHECK(r && neg_store_refresh(r, &changed, &err) == 0 && changed == 1, "second refresh: %s", err.msg);
    neg_store_free(m);
    m = full_merge(d, ref);
    if (r && m) check_same(m, r);
    neg_store_free(r), neg_store_free(a), neg_store_free(e), neg_store_free(m);

    /* compaction racing the open: another process has committed its
     * compacted segment (it sorts after every one it merged) but not yet
     * removed the old ones */
    neg_store_free(neg_store_open(d, &err));   /* index of the 23 */
    sh("rm -rf '%s'%s", d2, ""), sh("cp -r '%s' '%s'", d, d2);
    neg_store *c = neg_store_open(d2, &err);
    CHECK(c && neg_store_compact(c, &err) == 0 && neg_store_nsegments(c) == 1, "compacted: %s", err.msg);
    neg_store_free(c);
    sh("cp '%s'/negatives/*compact*.seg '%s'/negatives/", d2, d);
    a = neg_store_open(d, &err);
    CHECK(a && neg_store_from_index(a) == 2, "the compacted segment is merged onto the index");
    m = full_merge(d, ref);
    if (a && m) check_same(m, a);
    neg_store_free(a);
    /* then the old segments go: the index no longer matches, all is merged */
    sh("cd '%s'/negatives && ls | grep -v compact | xargs rm -f %s", d, "");
    a = neg_store_open(d, &err);
    CHECK(a && neg_store_from_index(a) == 0 && neg_store_nsegments(a) == 1, "after the removal: merged again");
    if (a && m) check_same(m, a);
    neg_store_free(a), neg_store_free(m);
    check_rmrf(ref), check_rmrf(d2), check_rmrf(d);
    free(ref), free(d2), free(d);
}

TEST(empty_store_writes_nothing)
{
    char *d = check_tmpdir("negidx");
    sy_err err = {0};
    neg_store *s = neg_store_open(d, &err);
    CHECK(s && neg_store_count(s) == 0 && !neg_store_from_index(s), "empty");
    neg_store_free(s);
    char *ix = index_path(d);
    CHECK(!sy_file_exists(ix), "no index for a session without negatives");
    free(ix);
    check_rmrf(d);
    free(d);
}

int main(void)
{
    RUN(many_segments_same_answers);
    RUN(stale_or_damaged_index);
    RUN(refresh_from_index);
    RUN(incremental_equals_full_merge);
    RUN(empty_store_writes_nothing);
    return check_done();
}
