/* test_index: the blocked top-k against its naive twin, and the session
 * cache: created once, reused, keyed by options, resumed after an interruption,
 * and searched (a passage's own text finds it first). */
#include <stdint.h>

#include "../check.h"
#include "index.h"
#include "kernels.h"
#include "session.h"
#include "util.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

TEST(topk_vs_naive)
{
    size_t nq = 300, nd = 20011, k = 10;
    int dim = 24;
    float *Q = malloc(nq * dim * 4), *D = malloc(nd * dim * 4);
    for (size_t i = 0; i < nq * dim; i++) Q[i] = frand();
    for (size_t i = 0; i < nd * dim; i++) D[i] = frand();
    /* exact duplicates: equal scores must order by doc index */
    memcpy(D + 9000 * dim, D + 17 * dim, dim * 4);
    memcpy(D + 15000 * dim, D + 17 * dim, dim * 4);
    memcpy(Q, D + 17 * dim, dim * 4);
    uint32_t *d1 = malloc(nq * k * 4), *d2 = malloc(nq * k * 4);
    float *s1 = malloc(nq * k * 4), *s2 = malloc(nq * k * 4);
    sy_err err;
    CHECK(dense_topk(Q, nq, D, nd, dim, k, d1, s1, &err) == 0, "%s", err.msg);
    CHECK(dense_topk_naive(Q, nq, D, nd, dim, k, d2, s2, &err) == 0, "naive");
    size_t same = 0;
    double md = 0;
    for (size_t i = 0; i < nq * k; i++) {
        same += d1[i] == d2[i];
        if (fabs(s1[i] - s2[i]) > md) md = fabs(s1[i] - s2[i]);
    }
    /* sgemm and the naive loop round differently: near-ties may swap */
    CHECK(same >= nq * k * 99 / 100, "%zu of %zu ranks agree", same, nq * k);
    CHECK(md < 1e-4, "score diff %g", md);
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 1; i < k; i++) CHECK(s1[q * k + i - 1] >= s1[q * k + i], "sorted q=%zu", q);
    CHECK(d1[0] == 17 && d1[1] == 9000 && d1[2] == 15000, "ties by doc index: %u %u %u", d1[0], d1[1], d1[2]);
    /* k larger than the corpus: the rest is padded */
    uint32_t d3[8];
    float s3[8];
    CHECK(dense_topk(Q, 1, D, 5, dim, 8, d3, s3, &err) == 0, "small");
    CHECK(d3[4] < 5 && d3[5] == UINT32_MAX && isinf(s3[7]) && s3[7] < 0, "padding");
    CHECK(dense_topk(Q, 1, D, 0, dim, 3, d3, s3, &err) == 0 && d3[0] == UINT32_MAX, "empty corpus");
    free(Q); free(D); free(d1); free(d2); free(s1); free(s2);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char *p = sy_path_join(dir, name);
    sy_write_file_atomic(p, text, strlen(text), NULL);
    free(p);
}

static size_t calls, last_done;
static void prog(void *ctx, size_t done, size_t total)
{
    (void)ctx; (void)total;
    calls++;
    last_done = done;
}

TEST(session_cache)
{
    char *root = check_tmpdir("dense");
    char *data = sy_path_join(root, "data"), *sess = sy_path_join(root, "sess");
    sy_mkdir_p(data, NULL);
    char *qd = sy_path_join(data, "qrels");
    sy_mkdir_p(qd, NULL);
    /* 1,300 passages: more than two cache chunks */
    sy_buf corpus_txt = { 0 };
    static const char *const words[] = { "wing", "flow", "pressure", "boundary", "layer", "shock",
                                         "library", "index", "retrieval", "heat", "transfer", "supersonic" };
    for (int i = 0; i < 1300; i++) {
        sy_buf_printf(&corpus_txt, "{\"_id\": \"d%d\", \"title\": \"%s\", \"text\": \"%s %s %s number %d\"}\n", i,
                      i % 3 ? words[i % 12] : "", words[(i * 7) % 12], words[(i * 5 + 1) % 12], words[(i / 12) % 12], i);
    }
    put_file(data, "corpus.jsonl", corpus_txt.data);
    sy_buf_free(&corpus_txt);
    put_file(data, "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"wing flow\"}\n{\"_id\": \"q3\", \"text\": \"heat\"}\n");
    put_file(qd, "train.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
    put_file(qd, "test.tsv", "query-id\tcorpus-id\tscore\nq3\td2\t1\n");
    sy_err err;
    session_source src = { data, CORPUS_BEIR, NULL, NULL };
    CHECK(session_create(sess, &src, &err) == 0, "%s", err.msg);
    session *s = session_open(sess, SESSION_WRITE, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) return;
    dense_opts o = { .pooling = "mean", .normalize = 1, .progress = prog };
    calls = 0;
    double t0 = sy_now();
    dense_index *ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
    double first = sy_now() - t0;
    CHECK(ix != NULL, "%s", err.msg);
    if (!ix) return;
    CHECK(calls > 0 && last_done == 1300, "progress reached the end: %zu calls, %zu", calls, last_done);
    CHECK_EQ_INT(dense_ndocs(ix), 1300);
    CHECK_EQ_INT(dense_dim(ix), 32);
    char *path = strdup(dense_cache_path(ix));
    CHECK(strstr(path, "/cache/dense/") && sy_file_exists(path), "cache at %s", path);
    size_t nfloat = 1300 * 32;
    float *copy = malloc(nfloat * 4);
    memcpy(copy, dense_matrix(ix), nfloat * 4);
    /* a passage's own text (title + space + text) is its own best match */
    const char *qs[2] = { NULL, "wing heat layer number 5" };
    char own[256];   /* d4 as embedded: title "layer", a space, then its text */
    snprintf(own, sizeof own, "%s %s %s %s number %d", words[4 % 12], words[(4 * 7) % 12], words[(4 * 5 + 1) % 12],
             words[(4 / 12) % 12], 4);
    qs[0] = own;
    uint32_t docs[2 * 5];
    float sc[2 * 5];
    CHECK(dense_search(ix, qs, 2, 5, docs, sc, &err) == 0, "%s", err.msg);
    CHECK(docs[0] == 4 && fabsf(sc[0] - 1.0f) < 1e-5, "own text first: doc %u score %g", docs[0], sc[0]);
    dense_free(ix);

    /* reopen: the cache is reused (no embedding, much faster) */
    calls = 0;
    t0 = sy_now();
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
    double again = sy_now() - t0;
    CHECK(ix && calls <= 1, "reused: %zu progress calls", calls);
    CHECK(ix && memcmp(dense_matrix(ix), copy, nfloat * 4) == 0, "same vectors");
    printf("# first open %.2fs, reopen %.3fs\n", first, again);
    dense_free(ix);

    /* other options: another cache file */
    dense_opts o2 = { .pooling = "cls", .normalize = 0 };
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &o2, &err);
    CHECK(ix && strcmp(dense_cache_path(ix), path) != 0, "options change the key");
    dense_free(ix);

    /* titles off (passage.h): another cache file, and the text alone is what was embedded */
    dense_opts o3 = { .pooling = "mean", .normalize = 1, .titles = -1 };
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &o3, &err);
    CHECK(ix && strcmp(dense_cache_path(ix), path) != 0, "titles off change the key");
    if (ix) {
        char bare[256];
        snprintf(bare, sizeof bare, "%s %s %s number %d", words[(4 * 7) % 12], words[(4 * 5 + 1) % 12],
                 words[(4 / 12) % 12], 4);
        const char *q1[1] = { bare };
        CHECK(dense_search(ix, q1, 1, 5, docs, sc, &err) == 0, "%s", err.msg);
        CHECK(docs[0] == 4 && fabsf(sc[0] - 1.0f) < 1e-5, "text alone embedded: doc %u score %g", docs[0], sc[0]);
    }
    dense_free(ix);
    /* the session setting passage.titles = no does the same; a bad value is refused */
    CHECK(session_set(s, "passage.titles", json_string("no"), &err) == 0, "%s", err.msg);
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &(dense_opts){ .pooling = "mean", .normalize = 1 }, &err);
    CHECK(ix && strcmp(dense_cache_path(ix), path) != 0, "setting passage.titles=no changes the key");
    dense_free(ix);
    CHECK(session_set(s, "passage.titles", json_string("maybe"), &err) == 0, "%s", err.msg);
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
    CHECK(!ix && err.code == SY_EINVAL && strstr(err.msg, "passage.titles"), "bad setting refused: %s", err.msg);
    dense_free(ix);
    CHECK(session_set(s, "passage.titles", json_true(), &err) == 0, "%s", err.msg);

    /* interrupted run: mark only 512 rows done and wipe the rest; it resumes */
    size_t len;
    char *f = sy_read_file(path, &len, &err);
    CHECK(f && len == 64 + nfloat * 4, "file size %zu", len);
    sy_put_u64((uint8_t *)f + 24, 512);
    memset(f + 64 + 512 * 32 * 4, 0, (1300 - 512) * 32 * 4);
    sy_write_file_atomic(path, f, len, NULL);
    free(f);
    calls = 0;
    last_done = 0;
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
    CHECK(ix != NULL, "%s", err.msg);
    CHECK(calls > 0 && last_done == 1300, "resumed");
    CHECK(ix && memcmp(dense_matrix(ix), copy, nfloat * 4) == 0, "resumed vectors equal the first run's");
    dense_free(ix);

    /* a damaged header is rebuilt, not trusted */
    f = sy_read_file(path, &len, &err);
    f[0] = 'X';
    sy_write_file_atomic(path, f, len, NULL);
    free(f);
    calls = 0;
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
    CHECK(ix && calls > 1 && memcmp(dense_matrix(ix), copy, nfloat * 4) == 0, "rebuilt after damage");
    dense_free(ix);

    /* errors name the model folder */
    ix = dense_open(s, "/no/such/model", &o, &err);
    CHECK(!ix && strstr(err.msg, "/no/such/model"), "%s", err.msg);
    dense_opts bad = { .pooling = "max" };
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &bad, &err);
    CHECK(!ix && err.code == SY_EINVAL && strstr(err.msg, "max"), "%s", err.msg);
    session_close(s);
    free(copy); free(path); free(qd); free(data); free(sess);
    check_rmrf(root);
    free(root);
}

int main(void)
{
    kern_set_threads(0);
    RUN(topk_vs_naive);
    RUN(session_cache);
    return check_done();
}
