/* bm25: SmallFloat norms, hand-computed Lucene BM25 scores, MaxScore against
 * its exhaustive twin, file format checks, thread-count independence. */
#include "../check.h"
#include "bm25.h"
#include "corpus.h"
#include "util.h"

static char *dir;

typedef struct { const char *const *texts; } tctx;

static void get_doc(void *ctx, uint32_t d, const char **title, size_t *tl, const char **text, size_t *xl)
{
    const tctx *t = ctx;
    *title = NULL;
    *tl = 0;
    *text = t->texts[d];
    *xl = strlen(t->texts[d]);
}

static bm25_index *build(const char *const *texts, uint32_t n, const char *name, int threads)
{
    tctx t = {texts};
    char *path = sy_path_join(dir, name);
    sy_err err = {0};
    bm25_build_opts o = {threads, NULL, NULL};
    bm25_index *ix = NULL;
    if (bm25_build_texts(n, get_doc, &t, 1234, path, &o, &err) == 0) ix = bm25_open(path, &err);
    CHECK(ix != NULL, "build/open %s: %s", name, err.msg);
    free(path);
    return ix;
}

TEST(smallfloat)
{
    for (uint32_t i = 0; i < 24; i++) CHECK_EQ_INT(bm25_int_to_byte4(i), i);
    CHECK_EQ_INT(bm25_int_to_byte4(24), 24);
    CHECK_EQ_INT(bm25_int_to_byte4(100), 57);     /* 100-24 = 76 = 0b1001100: shift 3, mantissa 1 */
    CHECK_EQ_INT(bm25_byte4_to_int(57), 96);      /* 24 + (8|1) << 3 */
    CHECK_EQ_INT(bm25_byte4_to_int(bm25_int_to_byte4(110)), 104);
    CHECK_EQ_INT(bm25_int_to_byte4(0x7fffffff), 255);
    uint32_t prev = 0;
    for (int b = 0; b < 256; b++) {
        uint32_t v = bm25_byte4_to_int((uint8_t)b);
        CHECK(b == 0 || v > prev, "byte4ToInt must increase: %d -> %u", b, v);
        CHECK(bm25_int_to_byte4(v) == b, "round trip of byte %d", b);
        prev = v;
    }
    for (uint32_t i = 0; i < 100000; i += 7) CHECK(bm25_byte4_to_int(bm25_int_to_byte4(i)) <= i, "decode(encode(%u)) <= %u", i, i);
}

TEST(hand_computed_scores)
{
    static const char *const texts[] = {"apple banana", "apple apple cherry", "banana", "the of", ""};
    bm25_index *ix = build(texts, 5, "tiny.bin", 2);
    if (!ix) return;
    CHECK_EQ_INT(bm25_ndocs(ix), 5);
    CHECK_EQ_INT(bm25_doc_count(ix), 3);     /* docs 3 and 4 have no terms */
    CHECK_NEAR(bm25_avgdl(ix), 2.0, 1e-9);
    CHECK_EQ_INT(bm25_df(ix, "appl"), 2);
    CHECK_EQ_INT(bm25_df(ix, "the"), 0);
    uint32_t d[10];
    float s[10];
    sy_err err = {0};
    /* idf(apple) = ln(1 + 1.5/2.5) = 0.4700036292; k1 = 0.9, b = 0.4, avgdl 2
     * d1: tf 2, dl 3: 0.4700036292 * 2 / (2 + 0.9 * (0.6 + 0.4 * 1.5)) = 0.3051971618
     * d0: tf 1, dl 2: 0.4700036292 / (1 + 0.9) = 0.2473703312 */
    long n = bm25_search(ix, "apples", 10, d, s, &err);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(d[0], 1);
    CHECK_NEAR(s[0], 0.3051971618, 1e-6);
    CHECK_EQ_INT(d[1], 0);
    CHECK_NEAR(s[1], 0.2473703312, 1e-6);
    /* d2: banana tf 1, dl 1: 0.4700036292 / (1 + 0.9 * 0.8) = 0.2732579240 */
    n = bm25_search(ix, "Apple BANANA", 10, d, s, &err);
    CHECK_EQ_INT(n, 3);
    CHECK(d[0] == 0 && d[1] == 1 && d[2] == 2, "order %u %u %u", d[0], d[1], d[2]);
    CHECK_NEAR(s[0], 0.4947406624, 1e-6);
    CHECK_NEAR(s[2], 0.2732579240, 1e-6);
    /* a repeated query word weighs twice (Anserini's bag-of-words boost) */
    n = bm25_search(ix, "apple apple", 1, d, s, &err);
    CHECK_EQ_INT(n, 1);
    CHECK_NEAR(s[0], 2 * 0.3051971618, 2e-6);
    /* k1 / b are query time */
    CHECK(bm25_set_params(ix, 1.2f, 0.75f, &err) == 0, "set params");
    n = bm25_search(ix, "apple", 1, d, s, &err);
    /* 0.4700036292 * 2 / (2 + 1.2 * (0.25 + 0.75 * 1.5)) = 0.2581134... */
    CHECK_NEAR(s[0], 0.4700036292 * 2 / (2 + 1.2 * (0.25 + 0.75 * 1.5)), 1e-6);
    CHECK(bm25_set_params(ix, 1.0f, 1.5f, &err) < 0 && err.code == SY_EINVAL, "b > 1 refused");
    /* nothing matches */
    CHECK_EQ_INT(bm25_search(ix, "durian", 10, d, s, &err), 0);
    CHECK_EQ_INT(bm25_search(ix, "the of", 10, d, s, &err), 0);
    CHECK_EQ_INT(bm25_search(ix, "apple", 0, d, s, &err), 0);
    bm25_free(ix);
}

TEST(lossy_length_norm)
{
    /* a 100-word document is scored as if it had 96 words, as in Lucene */
    static char longdoc[1200];
    size_t o = 0;
    for (int i = 0; i < 100; i++) o += (size_t)snprintf(longdoc + o, sizeof longdoc - o, "w%d ", i);
    const char *texts[] = {longdoc, "w1 x"};
    bm25_index *ix = build(texts, 2, "norm.bin", 1);
    if (!ix) return;
    CHECK_EQ_INT(bm25_doc_norm_length(ix, 0), 96);
    CHECK_EQ_INT(bm25_doc_norm_length(ix, 1), 2);
    /* avgdl = 102 / 2 = 51; idf(w1) = ln(1 + 0.5/2.5); doc 0: tf 1, dl 96 */
    double idf = log(1 + 0.5 / 2.5), want = idf / (1 + 0.9 * (0.6 + 0.4 * 96 / 51.0));
    uint32_t d[2];
    float s[2];
    sy_err err = {0};
    CHECK_EQ_INT(bm25_search(ix, "w1", 2, d, s, &err), 2);
    CHECK_EQ_INT(d[1], 0);
    CHECK_NEAR(s[1], want, 1e-6);
    bm25_free(ix);
}

/* a Zipfian synthetic corpus: MaxScore must equal the exhaustive twin exactly */
static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)rng; }
static unsigned zipf_word(unsigned vocab)
{
    /* inverse-CDF-free approximation: floor(vocab^u) - 1 is roughly Zipf(1) */
    double u = (next_rand() % 1000000) / 1000000.0;
    unsigned w = (unsigned)pow((double)vocab, u);
    return w ? w - 1 : 0;
}

TEST(maxscore_equals_exhaustive)
{
    enum { N = 3000, VOCAB = 2000 };
    char **texts = calloc(N, sizeof *texts);
    for (int i = 0; i < N; i++) {
        sy_buf b = {0};
        int len = 5 + (int)(next_rand() % 60);
        for (int j = 0; j < len; j++) sy_buf_printf(&b, "t%u ", zipf_word(VOCAB));
        texts[i] = b.data;
    }
    bm25_index *ix = build((const char *const *)texts, N, "zipf.bin", 2);
    if (!ix) return;
    uint32_t d1[200], d2[200];
    float s1[200], s2[200];
    sy_err err = {0};
    int mism = 0;
    for (int q = 0; q < 300; q++) {
        char query[256];
        size_t o = 0;
        int nw = 1 + q % 8;
        for (int j = 0; j < nw; j++) o += (size_t)snprintf(query + o, sizeof query - o, "t%u ", zipf_word(VOCAB));
        size_t k = (size_t[]){1, 10, 100, 200}[q % 4];
        long n1 = bm25_search(ix, query, k, d1, s1, &err);
        long n2 = bm25_search_exhaustive(ix, query, k, d2, s2, &err);
        if (n1 != n2) { mism++; continue; }
        for (long i = 0; i < n1; i++)
            if (d1[i] != d2[i] || s1[i] != s2[i]) { mism++; break; }
        /* scoring given documents gives the same numbers */
        float s3[200];
        if (n1 > 0 && bm25_score_docs(ix, query, d1, (size_t)n1, s3, &err) == 0)
            for (long i = 0; i < n1; i++)
                if (s3[i] != s1[i]) { mism++; break; }
        /* in any order, repeated, or past the corpus (0): the documents are
         * visited sorted, each score goes back to its slot */
        if (n1 > 1) {
            uint32_t d4[203];
            float s4[203];
            for (long i = 0; i < n1; i++) d4[i] = d1[n1 - 1 - i];
            d4[n1] = d1[0];
            d4[n1 + 1] = (uint32_t)N + 5;
            d4[n1 + 2] = d1[n1 - 1];
            if (bm25_score_docs(ix, query, d4, (size_t)n1 + 3, s4, &err) < 0) mism++;
            for (long i = 0; i < n1; i++)
                if (s4[i] != s1[n1 - 1 - i]) { mism++; break; }
            if (s4[n1] != s1[0] || s4[n1 + 1] != 0 || s4[n1 + 2] != s1[n1 - 1]) mism++;
        }
    }
    CHECK_EQ_INT(mism, 0);
    bm25_free(ix);
    /* one thread or two: the same bytes */
    bm25_index *ix1 = build((const char *const *)texts, N, "zipf1.bin", 1);
    char *p1 = sy_path_join(dir, "zipf1.bin"), *p2 = sy_path_join(dir, "zipf.bin");
    size_t l1, l2;
    char *a = sy_read_file(p1, &l1, NULL), *b = sy_read_file(p2, &l2, NULL);
    CHECK(a && b && l1 == l2 && memcmp(a, b, l1) == 0, "1- and 2-thread builds differ");
    free(a); free(b); free(p1); free(p2);
    bm25_free(ix1);
    for (int i = 0; i < N; i++) free(texts[i]);
    free(texts);
}

TEST(bad_files)
{
    sy_err err = {0};
    char *p = sy_path_join(dir, "junk.bin");
    char junk[256];
    memset(junk, 'x', sizeof junk);
    sy_write_file_atomic(p, junk, sizeof junk, NULL);
    CHECK(bm25_open(p, &err) == NULL && err.code == SY_EFORMAT, "junk: %s", err.msg);
    CHECK(strstr(err.msg, "syneg index") != NULL, "message gives the fix: %s", err.msg);
    /* truncate a real index */
    char *good = sy_path_join(dir, "tiny.bin");
    size_t len;
    char *data = sy_read_file(good, &len, NULL);
    CHECK(data != NULL, "read tiny.bin");
    if (data) {
        sy_write_file_atomic(p, data, len - 3, NULL);
        sy_err_clear(&err);
        CHECK(bm25_open(p, &err) == NULL && err.code == SY_EFORMAT, "truncated: %s", err.msg);
        data[8] = 99;   /* version */
        sy_write_file_atomic(p, data, len, NULL);
        CHECK(bm25_open(p, &err) == NULL && err.code == SY_EFORMAT, "version: %s", err.msg);
    }
    sy_err_clear(&err);
    CHECK(bm25_open("/nonexistent/index.bin", &err) == NULL && err.code == SY_ENOTFOUND, "missing: %s", err.msg);
    free(data); free(p); free(good);
}

TEST(cranfield)
{
    char *path = sy_path_join(check_shared_data(), "cranfield");
    if (!check_need(path)) { free(path); return; }
    sy_err err = {0};
    corpus *c = corpus_load(path, CORPUS_BEIR, &err);
    free(path);
    CHECK(c != NULL, "%s", err.msg);
    if (!c) return;
    char *ip = sy_path_join(dir, "cran.bin");
    CHECK(bm25_build(c, ip, NULL, &err) == 0, "%s", err.msg);
    bm25_index *ix = bm25_open(ip, &err);
    CHECK(ix != NULL, "%s", err.msg);
    if (ix) {
        CHECK_EQ_INT(bm25_ndocs(ix), 1400);
        CHECK_EQ_INT(bm25_doc_count(ix), 1398);   /* two documents are empty */
        CHECK(bm25_fingerprint(ix) == bm25_corpus_fingerprint(c), "fingerprint stored");
        uint32_t d1[100], d2[100];
        float s1[100], s2[100];
        int mism = 0;
        for (uint32_t q = 0; q < corpus_nqueries(c); q++) {
            long n1 = bm25_search(ix, corpus_query_text(c, q), 100, d1, s1, &err);
            long n2 = bm25_search_exhaustive(ix, corpus_query_text(c, q), 100, d2, s2, &err);
            if (n1 != n2 || memcmp(d1, d2, (size_t)n1 * 4) || memcmp(s1, s2, (size_t)n1 * 4)) mism++;
        }
        CHECK_EQ_INT(mism, 0);
    }
    bm25_free(ix);
    free(ip);
    corpus_free(c);
}

/* Lucene 8.7 on the same corpus (tests/fixtures/lucene-cranfield/README): the
 * same statistics, every term's df, every norm byte, and the top 10 of every
 * query with bit-identical scores */
TEST(lucene_reference)
{
    char *path = sy_path_join(check_shared_data(), "cranfield");
    if (!check_need(path)) { free(path); return; }
    sy_err err = {0};
    corpus *c = corpus_load(path, CORPUS_BEIR, &err);
    free(path);
    CHECK(c != NULL, "%s", err.msg);
    if (!c) return;
    char *ip = sy_path_join(dir, "cran-ref.bin");
    bm25_index *ix = bm25_build(c, ip, NULL, &err) == 0 ? bm25_open(ip, &err) : NULL;
    CHECK(ix != NULL, "%s", err.msg);
    const char *fx = "tests/fixtures/lucene-cranfield/";
    char fp[256];
    FILE *f;
    if (!ix) goto out;
    snprintf(fp, sizeof fp, "%sstats.txt", fx);
    f = fopen(fp, "r");
    CHECK(f != NULL, "fixture %s (run from the repository root)", fp);
    if (f) {
        unsigned long docs = 0, doc_count = 0, sum = 0;
        CHECK(fscanf(f, "docs %lu doc_count %lu sum_total_tf %lu", &docs, &doc_count, &sum) == 3, "stats.txt");
        fclose(f);
        CHECK_EQ_INT(bm25_ndocs(ix), docs);
        CHECK_EQ_INT(bm25_doc_count(ix), doc_count);
        CHECK(bm25_avgdl(ix) == (float)((double)sum / (double)doc_count), "avgdl %g", bm25_avgdl(ix));
    }
    snprintf(fp, sizeof fp, "%sterms.tsv", fx);
    f = fopen(fp, "r");
    CHECK(f != NULL, "fixture %s", fp);
    if (f) {
        char term[1024];
        unsigned df;
        unsigned long ttf;
        int n = 0, bad = 0;
        while (fscanf(f, "%1023s\t%u\t%lu", term, &df, &ttf) == 3) {
            n++;
            if (bm25_df(ix, term) != df) {
                if (bad++ < 5) fprintf(stderr, "term %s: lucene df %u, syneg %u\n", term, df, bm25_df(ix, term));
            }
        }
        fclose(f);
        CHECK(n > 5000 && (uint32_t)n == bm25_nterms(ix), "%d lucene terms, %u ours", n, bm25_nterms(ix));
        CHECK_EQ_INT(bad, 0);
    }
    snprintf(fp, sizeof fp, "%snorms.tsv", fx);
    f = fopen(fp, "r");
    CHECK(f != NULL, "fixture %s", fp);
    if (f) {
        unsigned d, nb;
        int n = 0, bad = 0;
        while (fscanf(f, "%u\t%u", &d, &nb) == 2) {
            n++;
            bad += bm25_int_to_byte4(bm25_doc_norm_length(ix, d)) != nb;
        }
        fclose(f);
        CHECK(n == 1400 && bad == 0, "%d norms, %d differ", n, bad);
    }
    snprintf(fp, sizeof fp, "%srun.tsv", fx);
    f = fopen(fp, "r");
    CHECK(f != NULL, "fixture %s", fp);
    if (f) {
        unsigned q, r, doc, bits, lastq = UINT32_MAX;
        double dec;
        uint32_t dd[10];
        float ss[10];
        long nn = 0;
        int rows = 0, bad_doc = 0, bad_score = 0;
        while (fscanf(f, "%u\t%u\t%u\t%x\t%lf", &q, &r, &doc, &bits, &dec) == 5) {
            rows++;
            if (q != lastq) {
                nn = bm25_search(ix, corpus_query_text(c, q), 10, dd, ss, &err);
                lastq = q;
            }
            if (r < 1 || (long)r > nn || dd[r - 1] != doc) { bad_doc++; continue; }
            float want;
            memcpy(&want, &bits, sizeof want);
            if (ss[r - 1] != want) {
                if (bad_score++ < 5) fprintf(stderr, "q%u r%u: lucene %.9g, syneg %.9g\n", q, r, want, ss[r - 1]);
            }
        }
        fclose(f);
        CHECK(rows > 2000, "%d run rows", rows);
        CHECK_EQ_INT(bad_doc, 0);
        CHECK_EQ_INT(bad_score, 0);
    }
out:
    bm25_free(ix);
    free(ip);
    corpus_free(c);
}

int main(void)
{
    dir = check_tmpdir("bm25");
    RUN(smallfloat);
    RUN(hand_computed_scores);
    RUN(lossy_length_norm);
    RUN(maxscore_equals_exhaustive);
    RUN(bad_files);
    RUN(cranfield);
    RUN(lucene_reference);
    check_rmrf(dir);
    free(dir);
    return check_done();
}
