/* test_index: the blocked top-k against its naive twin, and the session
 * cache: created once, reused, keyed by options, resumed after an interruption,
 * and searched (a passage's own text finds it first). */
#include <stdint.h>
#include <sys/stat.h>

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

/* ---- bf16 / int8 storage ---------------------------------------------------------- */

static double recall10(const uint32_t *ref, const uint32_t *got, size_t nq)
{
    size_t hit = 0, n = 0;
    for (size_t q = 0; q < nq; q++)
        for (int i = 0; i < 10; i++) {
            if (ref[q * 10 + i] == UINT32_MAX) continue;
            n++;
            for (int j = 0; j < 10; j++) hit += got[q * 10 + j] == ref[q * 10 + i];
        }
    return n ? (double)hit / n : 1;
}

/* a session over `ndocs` generated passages (or a data set folder) */
static session *small_session(const char *root, const char *dataset, int ndocs, sy_err *err)
{
    char *sess = sy_path_join(root, "sess"), *data = NULL;
    if (!dataset) {
        data = sy_path_join(root, "data");
        char *qd = sy_path_join(data, "qrels");
        sy_mkdir_p(qd, NULL);
        sy_buf t = {0};
        static const char *const w[] = {"wing", "flow", "pressure", "boundary", "layer", "shock", "heat", "mach"};
        for (int i = 0; i < ndocs; i++)
            sy_buf_printf(&t, "{\"_id\": \"d%d\", \"title\": \"%s\", \"text\": \"%s %s %s %d\"}\n", i, w[i % 8],
                          w[(i * 3) % 8], w[(i * 5 + 1) % 8], w[(i / 8) % 8], i);
        put_file(data, "corpus.jsonl", t.data);
        sy_buf_free(&t);
        put_file(data, "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"wing flow\"}\n");
        put_file(qd, "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
        free(qd);
    }
    session_source src = {dataset ? dataset : data, CORPUS_BEIR, NULL, NULL};
    session *s = session_create(sess, &src, err) == 0 ? session_open(sess, SESSION_WRITE, err) : NULL;
    free(sess);
    free(data);
    return s;
}

/* An index made with fp32 (the only type before) opens unchanged; bf16 and
 * int8 copies are made from it without embedding again, found again on the
 * next open, rebuilt with a notice when their version or size is wrong, and
 * searched by the streaming kernel exactly as dscan_topk_naive would. */
TEST(storage_copies)
{
    char *root = check_tmpdir("dstore");
    sy_err err;
    session *s = small_session(root, NULL, 700, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) return;
    dense_opts o = {.pooling = "mean", .normalize = 1, .progress = prog};
    dense_index *ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
    CHECK(ix && dense_storage_path(ix) == NULL && dense_docs(ix)->dtype == DSCAN_F32, "fp32: %s", ix ? "" : err.msg);
    if (!ix) return;
    const char *qs[3] = {"wing flow 12", "heat mach boundary", "shock"};
    uint32_t ref[3 * 10], got[3 * 10];
    float rs[3 * 10], gs[3 * 10];
    CHECK(dense_search(ix, qs, 3, 10, ref, rs, &err) == 0, "%s", err.msg);
    size_t emb_len;
    char *emb = sy_read_file(dense_cache_path(ix), &emb_len, &err);
    dense_free(ix);
    static const char *const types[] = {"bf16", "int8"};
    for (int t = 0; t < 2; t++) {
        o.storage = types[t];
        calls = 0;
        ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
        CHECK(ix != NULL, "%s: %s", types[t], err.msg);
        if (!ix) break;
        CHECK(calls <= 1, "%s: no embedding again (%zu progress calls)", types[t], calls);
        const char *qp = dense_storage_path(ix);
        CHECK(qp && sy_file_exists(qp) && strstr(qp, types[t]), "%s copy at %s", types[t], qp ? qp : "(none)");
        CHECK(dense_docs(ix)->dtype == (t ? DSCAN_INT8 : DSCAN_BF16) && !dense_notice(ix), "%s: type, no notice",
              types[t]);
        size_t len;
        char *now = sy_read_file(dense_cache_path(ix), &len, &err);
        CHECK(now && len == emb_len && !memcmp(now, emb, len), "%s: emb.bin unchanged", types[t]);
        free(now);
        CHECK(dense_search(ix, qs, 3, 10, got, gs, &err) == 0, "%s", err.msg);
        double r = recall10(ref, got, 3);
        CHECK(r >= 0.9, "%s recall@10 vs fp32 %.3f", types[t], r);
        printf("# tiny encoder, 700 passages: %s recall@10 vs fp32 %.3f\n", types[t], r);
        /* the streaming kernel over the copy equals the naive twin */
        float Q[3 * 32];
        CHECK(dense_embed_queries(ix, qs, 3, Q, &err) == 0, "%s", err.msg);
        uint32_t d1[3 * 10], d2[3 * 10];
        float s1[3 * 10], s2[3 * 10];
        dscan_topk(Q, 3, dense_docs(ix), 10, 2, DSCAN_AUTO, d1, s1, &err);
        dscan_topk_naive(Q, 3, dense_docs(ix), 10, d2, s2, &err);
        CHECK(!memcmp(d1, d2, sizeof d1) && !memcmp(s1, s2, sizeof s1), "%s kernel == naive", types[t]);
        {   /* rescored in fp32: the hits carry fp32 scores */
            dscan_docs f = {.dtype = DSCAN_F32, .n = dense_ndocs(ix), .dim = 32, .rows = dense_matrix(ix)};
            CHECK(got[0] != UINT32_MAX && gs[0] == dscan_score(Q, &f, got[0]), "%s hits carry fp32 scores", types[t]);
        }
        char *path = strdup(qp);
        dense_free(ix);
        /* reopened: the copy is used as it is */
        struct stat st1, st2;
        stat(path, &st1);
        ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
        stat(path, &st2);
        CHECK(ix && !dense_notice(ix) && st1.st_ino == st2.st_ino, "%s copy reused", types[t]);
        dense_free(ix);
        /* another format version: rebuilt, and said so */
        char *f = sy_read_file(path, &len, &err);
        f[8] = 2;
        sy_write_file_atomic(path, f, len, NULL);
        ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
        CHECK(ix && dense_notice(ix) && strstr(dense_notice(ix), "version 2") && strstr(dense_notice(ix), "rebuilt"),
              "%s: notice %s", types[t], ix && dense_notice(ix) ? dense_notice(ix) : "(none)");
        dense_free(ix);
        /* cut short: rebuilt too */
        f[8] = 1;
        sy_write_file_atomic(path, f, len - 5, NULL);
        ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
        CHECK(ix && dense_notice(ix) && strstr(dense_notice(ix), "damaged"), "%s: short file",
              types[t]);
        if (ix) CHECK(dense_search(ix, qs, 3, 10, d1, s1, &err) == 0 && !memcmp(d1, got, sizeof d1),
                      "%s: same hits after the rebuild", types[t]);
        dense_free(ix);
        ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
        CHECK(ix && !dense_notice(ix), "%s: fine after the rebuild", types[t]);
        dense_free(ix);
        free(f);
        free(path);
    }
    o.storage = "fp16";
    ix = dense_open(s, "tests/fixtures/encoder/tiny", &o, &err);
    CHECK(!ix && err.code == SY_EINVAL && strstr(err.msg, "fp16") && strstr(err.msg, "int8"), "%s", err.msg);
    free(emb);
    session_close(s);
    check_rmrf(root);
    free(root);
}

/* recall@10 of bf16 and int8 storage against fp32 on real collections,
 * embedded by the (random-init, real-geometry) fixture models, all queries:
 * the streaming kernel's own top-10 over each copy (printed: these vectors
 * share a strong common direction, which bf16's relative rounding serves
 * worst), and dense_search's, which rescores 40 candidates in fp32 (>= 0.99
 * required).  Printed for the README. */
static void recall_on(const char *dataset, const char *model, const char *pool)
{
    char *root = check_tmpdir("drecall");
    sy_err err;
    session *s = small_session(root, dataset, 0, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) { check_rmrf(root); free(root); return; }
    corpus *c = session_corpus(s, &err);
    size_t nq = corpus_nqueries(c);
    const char **qs = malloc(nq * sizeof *qs);
    for (size_t q = 0; q < nq; q++) qs[q] = corpus_query_text(c, (uint32_t)q);
    dense_opts o = {.pooling = pool, .normalize = -1, .max_len = 128};
    dense_index *ix = dense_open(s, model, &o, &err);
    CHECK(ix != NULL, "%s", err.msg);
    if (!ix) { session_close(s); check_rmrf(root); free(root); free(qs); return; }
    int dim = dense_dim(ix);
    float *Q = malloc(nq * dim * 4);
    uint32_t *ref = malloc(nq * 40), *got = malloc(nq * 40), *sr = malloc(nq * 40);
    float *sc = malloc(nq * 40);
    CHECK(dense_embed_queries(ix, qs, nq, Q, &err) == 0, "%s", err.msg);
    dscan_topk(Q, nq, dense_docs(ix), 10, 0, DSCAN_AUTO, ref, sc, &err);
    CHECK(dense_search(ix, qs, nq, 10, sr, sc, &err) == 0, "%s", err.msg);
    double rs = recall10(ref, sr, nq);
    CHECK(rs >= 0.99, "fp32 batch (sgemm) vs streaming %.4f", rs);
    dense_free(ix);
    static const char *const types[] = {"bf16", "int8"};
    for (int t = 0; t < 2; t++) {
        o.storage = types[t];
        ix = dense_open(s, model, &o, &err);
        CHECK(ix != NULL, "%s", err.msg);
        if (!ix) continue;
        dscan_topk(Q, nq, dense_docs(ix), 10, 0, DSCAN_AUTO, got, sc, &err);
        double raw = recall10(ref, got, nq);
        CHECK(dense_search(ix, qs, nq, 10, got, sc, &err) == 0, "%s", err.msg);
        double final = recall10(ref, got, nq);
        printf("# %s, %s (dim %d, %zu docs, %zu queries): %s recall@10 vs fp32: scan %.4f, dense_search %.4f\n",
               strrchr(dataset, '/') + 1, strrchr(model, '/') + 1, dim, dense_ndocs(ix), nq, types[t], raw, final);
        CHECK(final >= 0.99, "%s %s recall %.4f", dataset, types[t], final);
        dense_free(ix);
    }
    free(Q); free(ref); free(got); free(sr); free(sc); free(qs);
    session_close(s);
    check_rmrf(root);
    free(root);
}

TEST(recall_cranfield)
{
    if (!check_need("../shared/data/cranfield/corpus.jsonl")) return;
    char *abs = realpath("../shared/data/cranfield", NULL);
    recall_on(abs, "tests/fixtures/models/wp_uncased", NULL);
    free(abs);
}

TEST(recall_cisi)
{
    if (!check_need("../shared/data/cisi/corpus.jsonl")) return;
    char *abs = realpath("../shared/data/cisi", NULL);
    recall_on(abs, "tests/fixtures/models/uni_xlmr", NULL);
    free(abs);
}

int main(void)
{
    kern_set_threads(0);
    RUN(topk_vs_naive);
    RUN(session_cache);
    RUN(storage_copies);
    RUN(recall_cranfield);
    RUN(recall_cisi);
    return check_done();
}
