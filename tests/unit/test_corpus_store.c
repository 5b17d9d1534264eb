/* corpus_store: the mmap'd session store serves exactly what the parser gives
 * (Cranfield, CISI, a FlagEmbedding file with given negatives), and a damaged
 * or truncated store fails with an error naming the file. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "corpus.h"
#include "corpus_store.h"
#include "util.h"

static void same_corpus(const corpus *a, const corpus *b)
{
    CHECK_EQ_INT(corpus_ndocs(a), corpus_ndocs(b));
    CHECK_EQ_INT(corpus_nqueries(a), corpus_nqueries(b));
    int bad = 0;
    for (uint32_t d = 0; d < corpus_ndocs(a) && d < corpus_ndocs(b) && bad < 5; d++) {
        int ok = !strcmp(corpus_doc_id(a, d), corpus_doc_id(b, d)) &&
                 !strcmp(corpus_doc_title(a, d), corpus_doc_title(b, d)) &&
                 corpus_doc_text_len(a, d) == corpus_doc_text_len(b, d) &&
                 !memcmp(corpus_doc_text(a, d), corpus_doc_text(b, d), corpus_doc_text_len(a, d) + 1) &&
                 corpus_doc_find(b, corpus_doc_id(a, d)) == d;
        if (!ok) bad++;
        CHECK(ok, "doc %u (%s) differs", d, corpus_doc_id(a, d));
    }
    for (uint32_t q = 0; q < corpus_nqueries(a) && q < corpus_nqueries(b) && bad < 5; q++) {
        int ok = !strcmp(corpus_query_id(a, q), corpus_query_id(b, q)) &&
                 !strcmp(corpus_query_text(a, q), corpus_query_text(b, q)) &&
                 corpus_query_find(b, corpus_query_id(a, q)) == q;
        if (!ok) bad++;
        CHECK(ok, "query %u (%s) differs", q, corpus_query_id(a, q));
    }
    CHECK(corpus_ids_fingerprint(a) == corpus_ids_fingerprint(b), "ids fingerprint kept");
    CHECK(corpus_content_hash(a) == corpus_content_hash(b), "content hash kept");
    CHECK_EQ_INT(corpus_doc_find(b, "no-such-doc"), -1);
    CHECK_EQ_INT(corpus_query_find(b, "no-such-query"), -1);
    CHECK_EQ_INT(corpus_nsplits(a), corpus_nsplits(b));
    for (size_t i = 0; i < corpus_nsplits(a) && i < corpus_nsplits(b); i++) {
        const corpus_qrels *x = corpus_split(a, i), *y = corpus_split(b, i);
        CHECK_EQ_STR(x->name, y->name);
        CHECK_EQ_INT(x->n, y->n);
        CHECK_EQ_INT(corpus_qrels_nqueries(x), corpus_qrels_nqueries(y));
        CHECK(x->n == y->n && (!x->n || !memcmp(x->rows, y->rows, x->n * sizeof *x->rows)), "qrels of %s differ", x->name);
        CHECK(corpus_qrels_for(b, x->name) == y, "qrels_for %s", x->name);
        size_t n1, n2;
        const corpus_qrel *r1 = corpus_qrels_of(x, x->n ? x->rows[x->n / 2].query : 0, &n1);
        const corpus_qrel *r2 = corpus_qrels_of(y, x->n ? x->rows[x->n / 2].query : 0, &n2);
        CHECK(n1 == n2 && (!n1 || !memcmp(r1, r2, n1 * sizeof *r1)), "qrels_of");
    }
    size_t na, nb;
    const corpus_given_neg *ga = corpus_given_negs(a, &na), *gb = corpus_given_negs(b, &nb);
    CHECK(na == nb && (!na || !memcmp(ga, gb, na * sizeof *ga)), "given negatives differ (%zu vs %zu)", na, nb);
    CHECK_EQ_INT(corpus_nwarnings(a), corpus_nwarnings(b));
    CHECK_EQ_INT(corpus_nwarning_msgs(a), corpus_nwarning_msgs(b));
    for (size_t i = 0; i < corpus_nwarning_msgs(a) && i < corpus_nwarning_msgs(b); i++)
        CHECK_EQ_STR(corpus_warning(a, i), corpus_warning(b, i));
}

static void round_trip(const char *src, corpus_format fmt, const char *store)
{
    sy_err err = {0};
    corpus *a = corpus_load(src, fmt, &err);
    CHECK(a != NULL, "load %s: %s", src, err.msg);
    if (!a) return;
    uint64_t fp = 0;
    CHECK_EQ_INT(cstore_source_fingerprint(src, fmt, &fp, &err), 0);
    CHECK_EQ_INT(cstore_write(a, fp, store, &err), 0);
    /* streamed (init): the texts go through a temporary file, not memory;
     * the store must be the same bytes */
    corpus *sc = corpus_load_streamed(src, fmt, NULL, 0, store, &err);
    CHECK(sc != NULL, "streamed load %s: %s", src, err.msg);
    CHECK(sc && (fmt == CORPUS_FLAG) == (corpus_sink(sc) == NULL), "streamed unless FlagEmbedding");
    char *sstore = sy_strdup_printf("%s.streamed", store);
    if (sc) {
        CHECK(corpus_ids_fingerprint(sc) == corpus_ids_fingerprint(a), "ids fingerprint of the streamed corpus");
        CHECK_EQ_INT(cstore_write(sc, fp, sstore, &err), 0);
        size_t n1 = 0, n2 = 0;
        char *b1 = sy_read_file(store, &n1, &err), *b2 = sy_read_file(sstore, &n2, &err);
        CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1), "%s: the streamed store differs (%zu vs %zu bytes)", src, n1, n2);
        free(b1), free(b2);
        unlink(sstore);
    }
    corpus_free(sc);
    free(sstore);
    cstore *st = cstore_open(store, &err);
    CHECK(st != NULL, "open store: %s", err.msg);
    if (st) {
        CHECK(cstore_fingerprint(st) == fp, "fingerprint kept");
        CHECK_EQ_INT(cstore_verify(st, &err), 0);
        corpus *b = corpus_from_store(st, &err);
        CHECK(b != NULL && corpus_store(b) != NULL, "from store");
        if (b) same_corpus(a, b);
        corpus_free(b);
    }
    corpus_free(a);
}

TEST(cranfield_and_cisi_identical)
{
    char *d = check_tmpdir("cstore"), src[1024], *store = sy_path_join(d, "corpus.syc");
    snprintf(src, sizeof src, "%s/cranfield", check_shared_data());
    round_trip(src, CORPUS_BEIR, store);
    snprintf(src, sizeof src, "%s/cisi", check_shared_data());
    round_trip(src, CORPUS_BEIR, store);
    free(store);
    check_rmrf(d);
    free(d);
}

TEST(flag_with_given_negatives_and_warnings)
{
    char *d = check_tmpdir("cstore-flag"), *src = sy_path_join(d, "train.jsonl"), *store = sy_path_join(d, "c.syc");
    FILE *f = fopen(src, "w");
    fputs("{\"query\":\"what is a wing\",\"pos\":[\"a wing lifts\"],\"neg\":[\"a tail steers\",\"wheels roll\"]}\n"
          "not json\n"
          "{\"query\":\"what is a tail\",\"pos\":[\"a tail steers\"],\"neg\":[\"a wing lifts\"]}\n",
          f);
    fclose(f);
    round_trip(src, CORPUS_FLAG, store);
    free(src);
    free(store);
    check_rmrf(d);
    free(d);
}

/* A collection bigger than the writer's 4 MiB blob buffer, with lengths that
 * are not multiples of 32, so the streamed blob and its checksum cross buffer
 * and block boundaries many times: the store must read back identical and
 * pass cstore_verify (which checksums the blob in one piece). */
TEST(streamed_blob_over_buffers)
{
    char *d = check_tmpdir("cstore-big"), *store = sy_path_join(d, "corpus.syc");
    char *cp = sy_path_join(d, "corpus.jsonl"), *qp = sy_path_join(d, "queries.jsonl"), *qr = sy_path_join(d, "qrels");
    FILE *f = fopen(cp, "w");
    uint64_t x = 99;
    size_t bytes = 0;
    for (int i = 0; bytes < (9u << 20); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int words = 1 + (int)(x % 120);
        bytes += (size_t)fprintf(f, "{\"_id\": \"doc-%d\", \"title\": \"t%d\", \"text\": \"", i, (int)(x % 1000));
        for (int w = 0; w < words; w++) bytes += (size_t)fprintf(f, "%sw%llu", w ? " " : "", (unsigned long long)((x >> (w % 40)) % 5000));
        bytes += (size_t)fprintf(f, "\"}\n");
    }
    fputs("{\"_id\": \"doc-1\", \"title\": \"a duplicate id\", \"text\": \"skipped\"}\n", f);
    fclose(f);
    f = fopen(qp, "w");
    fputs("{\"_id\": \"q1\", \"text\": \"w1 w2\"}\n{\"_id\": \"q2\", \"text\": \"w3\"}\n", f);
    fclose(f);
    sy_mkdir_p(qr, NULL);
    char *tp = sy_path_join(qr, "test.tsv");
    f = fopen(tp, "w");
    fputs("query-id\tcorpus-id\tscore\nq1\tdoc-1\t1\nq2\tdoc-7\t1\n", f);
    fclose(f);
    round_trip(d, CORPUS_BEIR, store);
    struct stat st;
    CHECK(stat(store, &st) == 0 && st.st_size > (8 << 20), "the store is over two buffers: %lld bytes", (long long)st.st_size);
    free(tp), free(cp), free(qp), free(qr), free(store);
    check_rmrf(d);
    free(d);
}

/* MS MARCO layout, with a duplicate document id, an empty document and a
 * duplicate query: the streamed store equals the parsed one byte for byte
 * (round_trip compares them) */
TEST(msmarco_and_duplicates_streamed)
{
    char *d = check_tmpdir("cstore-ms"), *store = sy_path_join(d, "c.syc");
    const char *files[][2] = {
        {"collection.tsv", "0\tThe first passage.\n1\tSecond passage\twith a tab.\n0\tagain the first id\n5\t\n7\t\xC3\xA9t\xC3\xA9\n"},
        {"queries.train.tsv", "100\twhat is first\n101\tsecond?\n100\twhat is first\n"},
        {"queries.dev.tsv", "200\tdev query\n"},
        {"qrels.train.tsv", "100 0 0 1\n101\t0\t1\t1\n100\t0\t7\t1\n"},
        {"qrels.dev.tsv", "200\t0\t7\t1\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = sy_path_join(d, files[i][0]);
        FILE *f = fopen(p, "w");
        fputs(files[i][1], f);
        fclose(f);
        free(p);
    }
    round_trip(d, CORPUS_MSMARCO, store);
    free(store);
    check_rmrf(d);
    free(d);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (pread(fd, &c, 1, at) == 1) {
        c ^= 0x5a;
        if (pwrite(fd, &c, 1, at) != 1) perror("pwrite");
    }
    close(fd);
}

static uint64_t hdr64(const char *path, off_t at)
{
    uint8_t b[8] = {0};
    int fd = open(path, O_RDONLY);
    if (pread(fd, b, 8, at) != 8) perror("pread");
    close(fd);
    return sy_get_u64(b);
}

TEST(damage_is_named)
{
    char *d = check_tmpdir("cstore-bad"), src[1024], *store = sy_path_join(d, "corpus.syc");
    snprintf(src, sizeof src, "%s/cranfield", check_shared_data());
    sy_err err = {0};
    corpus *a = corpus_load(src, CORPUS_BEIR, &err);
    CHECK_EQ_INT(cstore_write(a, 7, store, &err), 0);
    corpus_free(a);
    struct stat st;
    stat(store, &st);
    off_t blob = (off_t)hdr64(store, 88), ctab = (off_t)hdr64(store, 96);
    CHECK(blob > 192 && ctab > blob && ctab < st.st_size, "layout: blob %lld, chunk table %lld", (long long)blob, (long long)ctab);
    /* a flipped byte in the header, in the document table, in the qrels (a
     * small table: found at open even when lazy), in the chunk table, and in
     * the texts (found by an eager open, by verify, or by a lazy read) */
    const off_t where[] = {40, 192 + 24 * 100 + 3, blob - 5, ctab + 9, blob + (ctab - blob) / 2};
    const char *what[] = {"header", "document table", "qrels", "chunk table", "texts"};
    for (int i = 0; i < 5; i++) {
        flip_byte(store, where[i]);
        cstore *s = cstore_open(store, &err);
        if (i < 4) {
            CHECK(s == NULL, "damage %d at %lld not found at open", i, (long long)where[i]);
            cstore *l = cstore_open_mode(store, 1, &err);
            CHECK((l == NULL) == (i != 1), "lazy open of damage in the %s: %s", what[i], l ? "opened" : err.msg);
            cstore_free(l);
            if (i != 1) CHECK(strstr(err.msg, i == 2 ? "qrels" : what[i]) != NULL, "names the %s: %s", what[i], err.msg);
            cstore_free(cstore_open(store, &err));
        } else {   /* an eager open checks the texts too; a lazy one where they are read */
            CHECK(s == NULL, "a damaged text passed an eager open");
            CHECK(strstr(err.msg, "texts checksum") != NULL, "names the texts: %s", err.msg);
            cstore *l = cstore_open_mode(store, 1, &err);
            CHECK(l != NULL, "lazy open reads no text: %s", err.msg);
            CHECK(l && cstore_verify(l, &err) < 0, "damaged text not found by verify");
            CHECK(strstr(err.msg, "texts checksum") != NULL, "names the texts: %s", err.msg);
            cstore_free(l);
        }
        CHECK(strstr(err.msg, store) != NULL && strstr(err.msg, "damaged") != NULL, "error names the file: %s", err.msg);
        CHECK_EQ_INT(err.code, SY_EFORMAT);
        cstore_free(s);
        flip_byte(store, where[i]);
        s = cstore_open(store, &err);
        CHECK(s != NULL && cstore_verify(s, &err) == 0, "restored byte: %s", err.msg);
        cstore_free(s);
    }
    CHECK_EQ_INT(truncate(store, st.st_size - 1), 0);
    CHECK(cstore_open(store, &err) == NULL && strstr(err.msg, store) && strstr(err.msg, "truncated"), "cut: %s", err.msg);
    CHECK(cstore_open_mode(store, 1, &err) == NULL && strstr(err.msg, "truncated"), "cut, lazy: %s", err.msg);
    CHECK_EQ_INT(truncate(store, 0), 0);
    CHECK(cstore_open(store, &err) == NULL && strstr(err.msg, store), "empty: %s", err.msg);
    free(store);
    check_rmrf(d);
    free(d);
}

/* Opened lazily, each big section is checked where it is read: damage in the
 * document table, the query table, either id hash or a text is never read as
 * data (the accessor gives "" or -1) and cstore_damage names the file and the
 * section; what lies in intact chunks reads as before. */
TEST(lazy_open_catches_damage_where_read)
{
    /* 20,000 documents and 5,000 queries: every section spans several chunks */
    char *d = check_tmpdir("cstore-lazy"), *store = sy_path_join(d, "corpus.syc");
    char *cp = sy_path_join(d, "corpus.jsonl"), *qp = sy_path_join(d, "queries.jsonl"), *qr = sy_path_join(d, "qrels");
    char *tp = sy_path_join(qr, "test.tsv");
    sy_mkdir_p(qr, NULL);
    FILE *f = fopen(cp, "w");
    for (int i = 0; i < 20000; i++) fprintf(f, "{\"_id\": \"doc-%d\", \"title\": \"\", \"text\": \"words of document %d, w%d\"}\n", i, i, i % 97);
    fclose(f);
    f = fopen(qp, "w");
    for (int i = 0; i < 5000; i++) fprintf(f, "{\"_id\": \"q%d\", \"text\": \"query %d\"}\n", i, i);
    fclose(f);
    f = fopen(tp, "w");
    fputs("query-id\tcorpus-id\tscore\nq1\tdoc-1\t1\nq2\tdoc-7\t1\n", f);
    fclose(f);
    sy_err err = {0};
    corpus *a = corpus_load(d, CORPUS_BEIR, &err);
    CHECK(a != NULL, "load: %s", err.msg);
    if (!a) return;
    CHECK_EQ_INT(cstore_write(a, 7, store, &err), 0);
    uint32_t nd = corpus_ndocs(a), nq = corpus_nqueries(a);
    off_t blob = (off_t)hdr64(store, 88);
    off_t docs = 192, queries = docs + 24 * (off_t)nd, dhash = queries + 16 * (off_t)nq;
    off_t qhash = (dhash + 4 * (off_t)hdr64(store, 64) + 7) & ~(off_t)7;
    /* intact: reads as the parsed corpus, and nothing is reported */
    cstore *s = cstore_open_mode(store, 1, &err);
    CHECK(s != NULL, "lazy open: %s", err.msg);
    if (s) {
        corpus *b = corpus_from_store(s, &err);
        if (b) same_corpus(a, b);
        CHECK_EQ_INT(corpus_store_damage(b, &err), 0);
        corpus_free(b);
    }
    /* the text of document 15000 */
    size_t flen = 0;
    char *file = sy_read_file(store, &flen, &err);
    const char *hit = file ? memmem(file + blob, flen - (size_t)blob, corpus_doc_text(a, 15000), corpus_doc_text_len(a, 15000)) : NULL;
    CHECK(hit != NULL, "text of document 15000 in the store");
    off_t text = hit ? (off_t)(hit - file) : blob;
    free(file);
    struct { const char *name; off_t at; } cases[] = {
        {"document table", docs + 24 * 10000 + 2}, {"query table", queries + 16 * 2500 + 1},
        {"document id hash", dhash}, {"query id hash", qhash}, {"texts", text + 3},
    };
    for (int c = 0; c < 5; c++) {
        off_t at = cases[c].at;
        /* the id hashes: damage every chunk, so any lookup meets it */
        off_t end = c == 2 ? dhash + 4 * (off_t)hdr64(store, 64) : c == 3 ? qhash + 4 * (off_t)hdr64(store, 72) : at + 1;
        for (off_t p = at; p < end; p += 16384) flip_byte(store, p);
        s = cstore_open_mode(store, 1, &err);
        CHECK(s != NULL, "%s: the lazy open reads only the small tables: %s", cases[c].name, err.msg);
        if (!s) continue;
        CHECK_EQ_INT(cstore_damage(s, &err), 0);
        CHECK_EQ_STR(cstore_doc_id(s, 1), corpus_doc_id(a, 1));
        CHECK_EQ_INT(cstore_damage(s, &err), 0);
        int64_t r = 0;
        const char *got = NULL, *want = NULL;
        switch (c) {
        case 0: got = cstore_doc_text(s, 10000), want = corpus_doc_text(a, 10000); break;
        case 1: got = cstore_query_text(s, 2500), want = corpus_query_text(a, 2500); break;
        case 2: r = cstore_doc_find(s, corpus_doc_id(a, 5)); break;
        case 3: r = cstore_query_find(s, corpus_query_id(a, 5)); break;
        case 4: got = cstore_doc_text(s, 15000), want = corpus_doc_text(a, 15000); break;
        }
        if (c == 2 || c == 3) CHECK_EQ_INT(r, -1);
        else CHECK(got && !strcmp(got, "") && strcmp(want, ""), "%s: damaged data read as \"%.30s\"", cases[c].name, got ? got : "(null)");
        CHECK_EQ_INT(cstore_damage(s, &err), -1);
        CHECK(strstr(err.msg, store) && strstr(err.msg, cases[c].name) && strstr(err.msg, "delete it"),
              "%s: the error names the file, the section and what to do: %s", cases[c].name, err.msg);
        cstore_free(s);
        for (off_t p = at; p < end; p += 16384) flip_byte(store, p);
    }
    corpus_free(a);
    free(store), free(cp), free(qp), free(tp), free(qr);
    check_rmrf(d);
    free(d);
}

int main(void)
{
    RUN(cranfield_and_cisi_identical);
    RUN(flag_with_given_negatives_and_warnings);
    RUN(damage_is_named);
    RUN(lazy_open_catches_damage_where_read);
    RUN(streamed_blob_over_buffers);
    RUN(msmarco_and_duplicates_streamed);
    return check_done();
}
