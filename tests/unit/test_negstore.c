/* negatives store: segments, merge rules, refresh, compaction, damaged files. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "../check.h"
#include "negstore.h"
#include "util.h"

static int add(neg_writer *w, const char *q, const char *n, int src, unsigned rank, float score, const char *text)
{
    neg_row r = {0};
    r.query_id = q;
    r.neg_id = n;
    r.source = (uint8_t)src;
    r.rank = rank;
    r.score = score;
    r.text = text;
    r.prov = text ? "{\"model\":\"m\"}" : NULL;
    sy_err err;
    return neg_writer_add(w, &r, &err);
}

TEST(write_read_merge)
{
    char *d = check_tmpdir("negs");
    sy_err err = {0};
    neg_writer *w = neg_writer_new(d, "mine-bm25", NEG_REPLACE, &err);
    CHECK(w != NULL, "%s", err.msg);
    add(w, "q1", "d3", NEG_BM25, 2, 7.5f, NULL);
    add(w, "q1", "d2", NEG_BM25, 1, 9.0f, NULL);
    add(w, "q2", "d9", NEG_BM25, 1, 3.0f, NULL);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    /* nothing committed: nothing visible */
    w = neg_writer_new(d, "aborted", 0, &err);
    add(w, "q1", "d7", NEG_BM25, 1, 1.0f, NULL);
    neg_writer_free(w);

    neg_store *s = neg_store_open(d, &err);
    CHECK(s != NULL, "%s", err.msg);
    CHECK_EQ_INT(neg_store_count(s), 3);
    CHECK_EQ_INT(neg_store_nqueries(s), 2);
    size_t n;
    const neg_ref *refs = neg_store_query(s, "q1", &n);
    CHECK_EQ_INT(n, 2);
    neg_row r;
    neg_store_get(s, refs[0], &r);
    CHECK_EQ_STR(r.neg_id, "d2"); /* ordered by rank */
    CHECK_NEAR(r.score, 9.0, 0);
    CHECK(r.text == NULL && r.prov == NULL, "corpus rows have no text/prov");

    /* synthesis appends beside, a job commits while the store is open */
    w = neg_writer_new(d, "synth", 0, &err);
    char id[64];
    neg_synthetic_id(NEG_LLM, "A made-up passage.", id, sizeof id);
    CHECK(!strncmp(id, "llm:", 4) && strlen(id) == 20, "synthetic id %s", id);
    add(w, "q1", id, NEG_LLM, 0, 0, "A made-up passage.");
    neg_writer_commit(w, &err);
    neg_writer_free(w);
    int changed = 0;
    CHECK_EQ_INT(neg_store_refresh(s, &changed, &err), 0);
    CHECK_EQ_INT(changed, 1);
    CHECK_EQ_INT(neg_store_count(s), 4);
    CHECK_EQ_INT(neg_store_count_source(s, NEG_LLM), 1);
    CHECK(neg_store_find(s, "q1", id, &r), "find synthetic");
    CHECK_EQ_STR(r.text, "A made-up passage.");
    CHECK_EQ_STR(r.prov, "{\"model\":\"m\"}");

    /* re-mining q1 replaces q1's bm25 rows only; q2 and the llm row stay */
    w = neg_writer_new(d, "mine-bm25", NEG_REPLACE, &err);
    unsigned char fl = NEG_F_SUSPECT | NEG_F_MAXREL;
    neg_row sr = {.query_id = "q1", .neg_id = "d5", .source = NEG_BM25, .rank = 1, .score = 11, .flags = fl};
    neg_writer_add(w, &sr, &err);
    neg_writer_commit(w, &err);
    neg_writer_free(w);
    neg_store_refresh(s, &changed, &err);
    refs = neg_store_query(s, "q1", &n);
    CHECK_EQ_INT(n, 2);
    CHECK(!neg_store_find(s, "q1", "d2", NULL), "old bm25 row replaced");
    CHECK(neg_store_find(s, "q1", "d5", &r) && r.flags == fl, "new row with flags");
    CHECK(neg_store_find(s, "q2", "d9", NULL), "other query untouched");
    CHECK_EQ_INT(neg_store_count_flag(s, NEG_F_SUSPECT), 1);
    neg_store_free(s);

    /* a fresh open sees the same state; compaction keeps it in one segment */
    s = neg_store_open(d, &err);
    CHECK_EQ_INT(neg_store_count(s), 3);
    CHECK_EQ_INT(neg_store_compact(s, &err), 0);
    CHECK_EQ_INT(neg_store_count(s), 3);
    neg_store_free(s);
    s = neg_store_open(d, &err);
    CHECK_EQ_INT(neg_store_count(s), 3);
    CHECK(neg_store_find(s, "q1", "d5", NULL) && neg_store_find(s, "q1", id, NULL), "compacted rows");
    neg_store_free(s);
    char *nd = sy_path_join(d, "negatives");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", nd);
    CHECK(system(cmd) == 0, "one segment after compaction");
    free(nd);
    check_rmrf(d);
    free(d);
}

/* the merge key holds the source: dense mining of a BM25-mined session keeps
 * the BM25 row of a document both found (one row per source), and re-mining
 * with one retriever replaces only its own rows */
TEST(one_row_per_source)
{
    char *d = check_tmpdir("negsrc");
    sy_err err = {0};
    neg_writer *w = neg_writer_new(d, "mine-bm25", NEG_REPLACE, &err);
    add(w, "q1", "d1", NEG_BM25, 1, 9.0f, NULL);
    add(w, "q1", "d2", NEG_BM25, 2, 8.0f, NULL);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    w = neg_writer_new(d, "mine-dense", NEG_REPLACE, &err);
    add(w, "q1", "d2", NEG_DENSE, 1, 0.9f, NULL);
    add(w, "q1", "d3", NEG_DENSE, 2, 0.8f, NULL);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    neg_store *s = neg_store_open(d, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) { check_rmrf(d); free(d); return; }
    CHECK_EQ_INT(neg_store_count(s), 4);
    CHECK_EQ_INT(neg_store_count_source(s, NEG_BM25), 2);
    CHECK_EQ_INT(neg_store_count_source(s, NEG_DENSE), 2);
    size_t n;
    const neg_ref *refs = neg_store_query(s, "q1", &n);
    int d2_bm25 = 0, d2_dense = 0;
    for (size_t i = 0; i < n; i++) {
        neg_row r;
        neg_store_get(s, refs[i], &r);
        if (!strcmp(r.neg_id, "d2")) { d2_bm25 += r.source == NEG_BM25; d2_dense += r.source == NEG_DENSE; }
    }
    CHECK(d2_bm25 == 1 && d2_dense == 1, "d2 once per source: bm25 %d dense %d", d2_bm25, d2_dense);
    neg_store_free(s);
    /* the same (query, id, source) again: the later row wins, the other source stays */
    w = neg_writer_new(d, "mine-dense", NEG_REPLACE, &err);
    add(w, "q1", "d2", NEG_DENSE, 1, 0.5f, NULL);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    w = neg_writer_new(d, "manual", 0, &err);
    add(w, "q1", "d1", NEG_BM25, 1, 9.5f, NULL);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    s = neg_store_open(d, &err);
    CHECK_EQ_INT(neg_store_count(s), 3);   /* bm25 d1 (new), bm25 d2, dense d2 */
    CHECK_EQ_INT(neg_store_count_source(s, NEG_DENSE), 1);
    refs = neg_store_query(s, "q1", &n);
    for (size_t i = 0; i < n; i++) {
        neg_row r;
        neg_store_get(s, refs[i], &r);
        if (!strcmp(r.neg_id, "d1")) CHECK_NEAR(r.score, 9.5, 0);
        if (!strcmp(r.neg_id, "d2") && r.source == NEG_DENSE) CHECK_NEAR(r.score, 0.5, 1e-6);
    }
    neg_store_free(s);
    check_rmrf(d);
    free(d);
}

TEST(damaged_segment_is_named)
{
    char *d = check_tmpdir("damaged");
    sy_err err = {0};
    neg_writer *w = neg_writer_new(d, "x", 0, &err);
    add(w, "q1", "d1", NEG_BM25, 1, 1, NULL);
    neg_writer_commit(w, &err);
    neg_writer_free(w);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "f=$(ls '%s'/negatives/*.seg); printf 'Z' | dd of=$f bs=1 seek=70 conv=notrunc 2>/dev/null", d);
    CHECK(system(cmd) == 0, "corrupt");
    neg_store *s = neg_store_open(d, &err);
    CHECK(s == NULL, "damaged segment refused");
    CHECK_EQ_INT(err.code, SY_EFORMAT);
    CHECK(strstr(err.msg, ".seg") && strstr(err.msg, "checksum"), "message names the file: %s", err.msg);
    neg_store_free(s);
    check_rmrf(d);
    free(d);
}

TEST(many_rows)
{
    char *d = check_tmpdir("many");
    sy_err err = {0};
    neg_writer *w = neg_writer_new(d, "big", 0, &err);
    char q[32], n[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(q, sizeof q, "q%d", i / 20);
        snprintf(n, sizeof n, "d%d", i);
        add(w, q, n, NEG_BM25, (unsigned)(i % 20) + 1, (float)i, NULL);
    }
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    neg_store *s = neg_store_open(d, &err);
    CHECK_EQ_INT(neg_store_count(s), 200000);
    CHECK_EQ_INT(neg_store_nqueries(s), 10000);
    size_t cnt;
    const neg_ref *refs = neg_store_query(s, "q777", &cnt);
    CHECK_EQ_INT(cnt, 20);
    neg_row r;
    neg_store_get(s, refs[19], &r);
    CHECK_EQ_INT(r.rank, 20);
    CHECK_EQ_STR(neg_store_query_at(s, 3), "q3");
    neg_store_free(s);
    check_rmrf(d);
    free(d);
}

/* Rewrite a segment's version (and zero the fnl field of every row, as
 * version 1 wrote it), fixing the checksum. */
static void patch_version(const char *dir, unsigned version)
{
    char *nd = sy_path_join(dir, "negatives");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls '%s'/*.seg", nd);
    FILE *p = popen(cmd, "r");
    char path[400] = "";
    if (p && fgets(path, sizeof path, p)) path[strcspn(path, "\n")] = 0;
    if (p) pclose(p);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL, "open %s", path);
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    sy_put_u32(buf + 8, version);
    uint64_t nrows = sy_get_u64(buf + 16);
    if (version == 1)
        for (uint64_t i = 0; i < nrows; i++) sy_put_u32(buf + 64 + i * 32 + 28, 0);
    sy_put_u64(buf + len - 8, sy_hash64(buf, len - 8));
    rewind(f);
    fwrite(buf, 1, len, f);
    fclose(f);
    free(nd);
}

TEST(fnl_round_trip_and_old_segments)
{
    char *d = check_tmpdir("fnl");
    sy_err err = {0};
    neg_writer *w = neg_writer_new(d, "mine-bm25", NEG_REPLACE, &err);
    neg_row a = {.query_id = "q1", .neg_id = "d1", .source = NEG_BM25, .rank = 1, .score = 5, .fnl = 0.25f};
    neg_row b = {.query_id = "q1", .neg_id = "d2", .source = NEG_BM25, .rank = 2, .score = 4,
                 .flags = NEG_F_SUSPECT, .fnl = 0.9f};
    neg_row c = {.query_id = "q2", .neg_id = "d3", .source = NEG_BM25, .rank = 1, .score = 4, .fnl = NAN};
    neg_row e = {.query_id = "q2", .neg_id = "d4", .source = NEG_BM25, .rank = 2, .score = 3, .fnl = -1};
    neg_row f = {.query_id = "q2", .neg_id = "d5", .source = NEG_BM25, .rank = 3, .score = 3, .fnl = 7};
    neg_row g = {.query_id = "q3", .neg_id = "d6", .source = NEG_LLM, .rank = 1, .flags = NEG_F_SUSPECT | NEG_F_DUP};
    neg_writer_add(w, &a, &err);
    neg_writer_add(w, &b, &err);
    neg_writer_add(w, &c, &err);
    neg_writer_add(w, &e, &err);
    neg_writer_add(w, &f, &err);
    neg_writer_add(w, &g, &err);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    neg_store *s = neg_store_open(d, &err);
    CHECK(s != NULL, "%s", err.msg);
    neg_row r;
    CHECK(neg_store_find(s, "q1", "d1", &r) && neg_row_has_fnl(&r), "fnl kept");
    CHECK_NEAR(r.fnl, 0.25, 0);
    CHECK(neg_store_find(s, "q2", "d3", &r) && !neg_row_has_fnl(&r) && r.fnl == 0, "NaN: none (%g)", r.fnl);
    CHECK(neg_store_find(s, "q2", "d4", &r) && !neg_row_has_fnl(&r), "negative: none");
    CHECK(neg_store_find(s, "q2", "d5", &r) && r.fnl == 1.0f, "clamped to 1 (%g)", r.fnl);
    /* the queue: d5 (1.0), d2 (0.9), d6 (suspect without a number: 0.5), d1 (0.25) */
    size_t n;
    neg_ref *q = neg_store_ranked(s, 0, &n);
    CHECK_EQ_INT(n, 4);
    const char *want[] = {"d5", "d2", "d6", "d1"};
    for (size_t i = 0; i < n && i < 4; i++) {
        neg_store_get(s, q[i], &r);
        CHECK_EQ_STR(r.neg_id, want[i]);
    }
    free(q);
    q = neg_store_ranked(s, 1, &n);
    CHECK_EQ_INT(n, 2);
    neg_store_get(s, q[0], &r);
    CHECK_EQ_STR(r.neg_id, "d2");
    free(q);
    neg_store_free(s);

    /* a version-1 segment (no fnl field) still opens; its rows have none */
    patch_version(d, 1);
    s = neg_store_open(d, &err);
    CHECK(s != NULL, "version 1 readable: %s", s ? "" : err.msg);
    CHECK(neg_store_find(s, "q1", "d2", &r) && !neg_row_has_fnl(&r) && (r.flags & NEG_F_SUSPECT), "v1 row");
    q = neg_store_ranked(s, 0, &n);
    CHECK_EQ_INT(n, 2);   /* the two flagged suspects, at 0.5 */
    free(q);
    neg_store_free(s);
    /* a newer version is refused with a message */
    patch_version(d, 3);
    s = neg_store_open(d, &err);
    CHECK(s == NULL && strstr(err.msg, "version"), "version 3 refused");
    neg_store_free(s);
    check_rmrf(d);
    free(d);
}

/* Compaction while another process commits: the compacted segment keeps the
 * place of what it merged, so a segment committed meanwhile (a later score,
 * a NEG_REPLACE re-mining) still wins after compaction, as it did before. */
TEST(compaction_keeps_commit_order)
{
    char *d = check_tmpdir("negs_compact_race");
    sy_err err = {0};
    neg_writer *w = neg_writer_new(d, "mine-bm25", NEG_REPLACE, &err);
    add(w, "q1", "d1", NEG_BM25, 1, 1.0f, NULL);
    add(w, "q2", "d5", NEG_BM25, 1, 5.0f, NULL);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    w = neg_writer_new(d, "synth", 0, &err);
    add(w, "q1", "llm:00000000000000aa", NEG_LLM, 0, 0, "made up");
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);

    neg_store *s = neg_store_open(d, &err);   /* the compacting process loads two segments */
    CHECK(s != NULL, "%s", err.msg);
    /* meanwhile another process re-mines q1 (replace) and rescores q2's d5 */
    w = neg_writer_new(d, "mine-bm25", NEG_REPLACE, &err);
    add(w, "q1", "d2", NEG_BM25, 1, 2.0f, NULL);
    add(w, "q2", "d5", NEG_BM25, 1, 9.0f, NULL);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    CHECK_EQ_INT(neg_store_compact(s, &err), 0);
    neg_store_free(s);

    s = neg_store_open(d, &err);
    CHECK(s != NULL, "%s", err.msg);
    neg_row r;
    CHECK(neg_store_find(s, "q1", "d1", &r) != 1, "re-mining replaced q1's old bm25 row d1");
    CHECK(neg_store_find(s, "q1", "d2", &r) == 1, "q1's re-mined row d2 is there");
    CHECK(neg_store_find(s, "q1", "llm:00000000000000aa", &r) == 1, "the synthetic row stays");
    CHECK(neg_store_find(s, "q2", "d5", &r) == 1 && r.score == 9.0f, "the later score of q2/d5 wins (got %g)",
          (double)r.score);
    neg_store_free(s);
    check_rmrf(d);
    free(d);
}

/* the one policy: more than NEG_COMPACT_SEGMENTS segments are compacted at
 * the end of a run, fewer are left alone; rows are the same either way */
TEST(compact_if_many)
{
    char *d = check_tmpdir("negs_many_segs");
    sy_err err = {0};
    for (int i = 0; i < NEG_COMPACT_SEGMENTS + 6; i++) {
        neg_writer *w = neg_writer_new(d, "judge", 0, &err);
        char q[16], n[16];
        snprintf(q, sizeof q, "q%d", i % 7);
        snprintf(n, sizeof n, "d%d", i);
        add(w, q, n, NEG_BM25, (unsigned)i + 1, (float)i, NULL);
        CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
        neg_writer_free(w);
        if (i == 2) {
            neg_store *s = neg_store_open(d, &err);
            CHECK_EQ_INT(neg_store_compact_if_many(s, &err), 0);
            CHECK_EQ_INT(neg_store_nsegments(s), 3);
            neg_store_free(s);
        }
    }
    neg_store *s = neg_store_open(d, &err);
    size_t before = neg_store_count(s);
    CHECK_EQ_INT(neg_store_nsegments(s), NEG_COMPACT_SEGMENTS + 6);
    CHECK_EQ_INT(neg_store_compact_if_many(s, &err), 1);
    CHECK_EQ_INT(neg_store_nsegments(s), 1);
    CHECK_EQ_INT(neg_store_count(s), before);
    neg_store_free(s);
    s = neg_store_open(d, &err);
    CHECK_EQ_INT(neg_store_nsegments(s), 1);
    CHECK_EQ_INT(neg_store_count(s), NEG_COMPACT_SEGMENTS + 6);
    neg_row r;
    CHECK(neg_store_find(s, "q3", "d10", &r) == 1 && r.rank == 11, "a row survives compaction whole");
    neg_store_free(s);
    check_rmrf(d);
    free(d);
}

int main(void)
{
    RUN(fnl_round_trip_and_old_segments);
    RUN(write_read_merge);
    RUN(one_row_per_source);
    RUN(damaged_segment_is_named);
    RUN(many_rows);
    RUN(compaction_keeps_commit_order);
    RUN(compact_if_many);
    return check_done();
}
