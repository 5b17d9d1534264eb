/* test_corpus_bad: a table of bad inputs.  Each case writes a few small files
 * to a temp folder, loads them, and checks that the load either fails with a
 * message naming the file and line (fatal cases) or succeeds with a counted
 * warning naming the file and line, and keeps the good rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "corpus.h"

typedef struct {
    const char *path;
    const char *data;
    size_t len;
} bad_file;

#define F(p, lit) {p, lit, sizeof(lit) - 1}
#define CORPUS_OK F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"two\"}\n")
#define QUERIES_OK F("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": \"q2\", \"text\": \"second\"}\n")
#define QRELS_OK F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
#define MS_OK F("collection.tsv", "0\tzero\n1\tone\n"), F("queries.dev.tsv", "5\tfive\n")

typedef struct {
    const char *name;
    corpus_format fmt;
    const char *target;    /* what to load, relative to the case folder ("" = the folder) */
    bad_file files[4];
    int fatal;             /* 1: the load must fail */
    int code;              /* the sy_err code for fatal cases */
    const char *where;     /* "FILE:LINE:" relative to the case folder, or "FILE:" */
    const char *what;      /* a phrase the message must hold */
    int nwarn;             /* warnings expected when not fatal */
    int ndocs, nqueries;   /* counts after a non-fatal load */
    long nrows;            /* rows of split "test" (BEIR/MS MARCO: "dev"), -1 to skip */
} bad_case;

static const bad_case cases[] = {
    {"malformed_json", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"two\n{\"_id\": \"d3\", \"text\": \"x\"}\n"),
      QUERIES_OK, QRELS_OK},
     0, 0, "corpus.jsonl:2:", "malformed JSON", 1, 2, 2, 1},
    {"truncated_last_line", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"te"), QUERIES_OK, QRELS_OK},
     0, 0, "corpus.jsonl:2:", "malformed JSON", 1, 1, 2, 1},
    {"not_an_object", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n[\"d2\", \"two\"]\n"), QUERIES_OK, QRELS_OK},
     0, 0, "corpus.jsonl:2:", "JSON object", 1, 1, 2, 1},
    {"lone_surrogate", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"bad \\ud800 x\"}\n"),
      QUERIES_OK, QRELS_OK},
     0, 0, "corpus.jsonl:2:", "malformed JSON", 1, 1, 2, 1},
    {"invalid_utf8", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"caf\xE9 \xC0\xAF ok\"}\n"),
      QUERIES_OK, QRELS_OK},
     0, 0, "corpus.jsonl:2:", "U+FFFD", 1, 2, 2, 1},
    {"nul_byte", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"o\0ne\"}\n{\"_id\": \"d2\", \"text\": \"two\"}\n"), QUERIES_OK,
      QRELS_OK},
     0, 0, "corpus.jsonl:1:", "U+FFFD", 1, 2, 2, 1},
    {"duplicate_doc_id", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"two\"}\n{\"_id\": \"d1\", \"text\": \"again\"}\n"),
      QUERIES_OK, QRELS_OK},
     0, 0, "corpus.jsonl:3:", "duplicate document id \"d1\"", 1, 2, 2, 1},
    {"duplicate_query_id", CORPUS_BEIR, "",
     {CORPUS_OK, F("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": \"q1\", \"text\": \"again\"}\n"),
      QRELS_OK},
     0, 0, "queries.jsonl:2:", "duplicate query id \"q1\" with a different text", 1, 2, 1, 1},
    {"missing_id", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"title\": \"t\", \"text\": \"two\"}\n"), QUERIES_OK,
      QRELS_OK},
     0, 0, "corpus.jsonl:2:", "_id", 1, 1, 2, 1},
    {"text_not_string", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": 42}\n"), QUERIES_OK,
      QRELS_OK},
     0, 0, "corpus.jsonl:2:", "\"text\" is not a string", 1, 1, 2, 1},
    {"empty_doc_kept", CORPUS_BEIR, "",
     {F("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"title\": \"\", \"text\": \" \"}\n"),
      QUERIES_OK, QRELS_OK},
     0, 0, "corpus.jsonl:2:", "empty title and text", 1, 2, 2, 1},
    {"empty_query_skipped", CORPUS_BEIR, "",
     {CORPUS_OK, F("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": \"q2\", \"text\": \"\"}\n"),
      F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")},
     0, 0, "queries.jsonl:2:", "empty text", 2, 2, 1, 1},
    {"qrels_unknown_doc", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td9\t1\nq2\td2\t2\n")},
     0, 0, "qrels/test.tsv:3:", "unknown document id \"d9\"", 1, 2, 2, 2},
    {"qrels_unknown_query", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq7\td1\t1\nq2\td2\t2\n")},
     0, 0, "qrels/test.tsv:2:", "unknown query id \"q7\"", 1, 2, 2, 1},
    {"qrels_non_numeric", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\tyes\nq2\td2\t1.5\nq2\td1\t2\n")},
     0, 0, "qrels/test.tsv:2:", "not an integer", 2, 2, 2, 1},
    /* NaN, inf and 1e30 scores: refused before any float-to-int conversion (UBSan float-cast-overflow) */
    {"qrels_nan_huge_scores", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\tnan\nq2\td2\t1e30\nq2\td1\t-inf\nq1\td2\t2\n")},
     0, 0, "qrels/test.tsv:2:", "not an integer", 3, 2, 2, 1},
    {"qrels_short_row", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\nq2\td2\t1\n")},
     0, 0, "qrels/test.tsv:2:", "expected 3 fields", 1, 2, 2, 1},
    {"qrels_duplicate_row", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq1\td1\t2\n")},
     0, 0, "qrels/test.tsv:4:", "first (line 2) is kept", 1, 2, 2, 2},
    {"qrels_missing_header", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "q1\td1\t1\nq2\td2\t1\n")},
     1, SY_EPARSE, "qrels/test.tsv:1:", "missing header line", 0, 0, 0, -1},
    {"qrels_blank_then_data", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "\nq1\td1\t1\n")},
     1, SY_EPARSE, "qrels/test.tsv:2:", "missing header line", 0, 0, 0, -1},
    {"qrels_blank_then_header", CORPUS_BEIR, "",
     {CORPUS_OK, QUERIES_OK, F("qrels/test.tsv", "\n\nquery-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td1\n")},
     0, 0, "qrels/test.tsv:6:", "expected 3 fields", 1, 2, 2, 2},
    {"missing_corpus", CORPUS_BEIR, "", {QUERIES_OK, QRELS_OK}, 1, SY_ENOTFOUND, "corpus.jsonl:", "missing", 0, 0, 0, -1},
    {"missing_queries", CORPUS_BEIR, "", {CORPUS_OK}, 0, 0, "queries.jsonl:", "documents only", 1, 2, 0, -1},
    {"empty_corpus", CORPUS_BEIR, "", {F("corpus.jsonl", "\n"), QUERIES_OK}, 0, 0, "case:", "no documents", 2, 0, 2, -1},
    {"flag_pos_string", CORPUS_FLAG, "flag.jsonl",
     {F("flag.jsonl", "{\"query\": \"a\", \"pos\": [\"p\"], \"neg\": []}\n{\"query\": \"b\", \"pos\": \"p\", \"neg\": []}\n")},
     1, SY_EPARSE, "flag.jsonl:2:", "\"pos\" is a string, expected a list", 0, 0, 0, -1},
    {"flag_neg_string", CORPUS_FLAG, "flag.jsonl",
     {F("flag.jsonl", "{\"query\": \"a\", \"pos\": [\"p\"], \"neg\": \"n\"}\n")},
     1, SY_EPARSE, "flag.jsonl:1:", "\"neg\" is a string", 0, 0, 0, -1},
    {"flag_malformed", CORPUS_FLAG, "flag.jsonl",
     {F("flag.jsonl", "{\"query\": \"a\", \"pos\": [\"p\"], \"neg\": [\"n\"]}\n{\"query\": \"b\", \"pos\": [\"p\"\n")},
     0, 0, "flag.jsonl:2:", "malformed JSON", 1, 2, 1, -1},
    {"flag_no_query", CORPUS_FLAG, "flag.jsonl",
     {F("flag.jsonl", "{\"pos\": [\"p\"]}\n{\"query\": \"b\", \"pos\": [\"p\", 3]}\n")},
     0, 0, "flag.jsonl:1:", "no \"query\"", 2, 1, 1, -1},
    {"flag_missing_file", CORPUS_FLAG, "nope.jsonl", {{0}}, 1, SY_ENOTFOUND, "nope.jsonl:", "missing", 0, 0, 0, -1},
    {"msmarco_no_tab", CORPUS_MSMARCO, "",
     {F("collection.tsv", "0\tzero\n1 one without tab\n2\ttwo\n"), F("queries.dev.tsv", "5\tfive\n")},
     0, 0, "collection.tsv:2:", "no tab", 1, 2, 1, -1},
    {"msmarco_bad_utf8", CORPUS_MSMARCO, "",
     {F("collection.tsv", "0\tzero\n1\tone \xFF\xFE\n"), F("queries.dev.tsv", "5\tfive\n")},
     0, 0, "collection.tsv:2:", "2 bytes", 1, 2, 1, -1},
    {"msmarco_qrels_short", CORPUS_MSMARCO, "",
     {MS_OK, F("qrels.dev.tsv", "5\t0\t1\t1\n5 1\n")},
     0, 0, "qrels.dev.tsv:2:", "expected 4 fields", 1, 2, 1, 1},
    {"msmarco_qrels_unknown", CORPUS_MSMARCO, "",
     {MS_OK, F("qrels.dev.tsv", "5\t0\t1\t1\n5\t0\t99\t1\n")},
     0, 0, "qrels.dev.tsv:2:", "unknown document id \"99\"", 1, 2, 1, 1},
    {"msmarco_missing_collection", CORPUS_MSMARCO, "", {F("queries.dev.tsv", "5\tfive\n")}, 1, SY_ENOTFOUND,
     "collection.tsv:", "missing", 0, 0, 0, -1},
};

static void write_file(const char *dir, const bad_file *f)
{
    char path[600], cmd[700];
    snprintf(path, sizeof path, "%s/%s", dir, f->path);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    if (system(cmd) != 0) exit(2);
    *slash = '/';
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(f->data, 1, f->len, fp) != f->len) { perror(path); exit(2); }
    fclose(fp);
}

static const char *tmp;

TEST(table)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bad_case *k = &cases[i];
        char dir[512], target[600], where[700];
        snprintf(dir, sizeof dir, "%s/%s", tmp, k->name);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        if (system(cmd) != 0) exit(2);
        for (int j = 0; j < 4 && k->files[j].path; j++) write_file(dir, &k->files[j]);
        snprintf(target, sizeof target, "%s%s%s", dir, *k->target ? "/" : "", k->target);
        if (strcmp(k->where, "case:") == 0) snprintf(where, sizeof where, "%s:", dir);
        else snprintf(where, sizeof where, "%s/%s", dir, k->where);
        sy_err err = {0};
        corpus *c = corpus_load(target, k->fmt, &err);
        if (k->fatal) {
            CHECK(c == NULL, "%s: expected the load to fail", k->name);
            CHECK(err.code == k->code, "%s: code %s, expected %s", k->name, sy_code_name(err.code),
                  sy_code_name(k->code));
            CHECK(strncmp(err.msg, where, strlen(where)) == 0, "%s: message does not start with %s: %s", k->name,
                  where, err.msg);
            CHECK(strstr(err.msg, k->what) != NULL, "%s: message lacks \"%s\": %s", k->name, k->what, err.msg);
            corpus_free(c);
            continue;
        }
        CHECK(c != NULL, "%s: load failed: %s", k->name, err.msg);
        if (!c) continue;
        int found = 0;
        for (size_t w = 0; w < corpus_nwarning_msgs(c); w++) {
            const char *m = corpus_warning(c, w);
            if (strncmp(m, where, strlen(where)) == 0 && strstr(m, k->what)) found = 1;
        }
        CHECK(found, "%s: no warning starting with %s holding \"%s\" (%zu warnings, first: %s)", k->name, where,
              k->what, corpus_nwarnings(c), corpus_nwarning_msgs(c) ? corpus_warning(c, 0) : "-");
        CHECK(corpus_nwarnings(c) == (size_t)k->nwarn, "%s: %zu warnings, expected %d", k->name, corpus_nwarnings(c),
              k->nwarn);
        CHECK(corpus_nwarnings(c) == corpus_nwarning_msgs(c), "%s: messages kept", k->name);
        CHECK(corpus_ndocs(c) == (uint32_t)k->ndocs, "%s: %u docs, expected %d", k->name, corpus_ndocs(c), k->ndocs);
        CHECK(corpus_nqueries(c) == (uint32_t)k->nqueries, "%s: %u queries, expected %d", k->name, corpus_nqueries(c),
              k->nqueries);
        if (k->nrows >= 0) {
            const corpus_qrels *qr = corpus_qrels_for(c, k->fmt == CORPUS_MSMARCO ? "dev" : "test");
            CHECK(qr && (long)qr->n == k->nrows, "%s: %ld qrels rows, expected %ld", k->name, qr ? (long)qr->n : -1L,
                  k->nrows);
        }
        for (uint32_t d = 0; d < corpus_ndocs(c); d++)
            CHECK(strlen(corpus_doc_text(c, d)) == corpus_doc_text_len(c, d), "%s: doc %u length", k->name, d);
        corpus_free(c);
    }
}

/* The repaired texts hold U+FFFD where the bad bytes were. */
TEST(repair_content)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/invalid_utf8", tmp);
    corpus *c = corpus_load(dir, CORPUS_BEIR, NULL);
    CHECK(c != NULL, "load");
    if (!c) return;
    CHECK_EQ_STR(corpus_doc_text(c, 1), "caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD ok");
    corpus_free(c);
    snprintf(dir, sizeof dir, "%s/nul_byte", tmp);
    c = corpus_load(dir, CORPUS_BEIR, NULL);
    CHECK(c != NULL, "load");
    if (!c) return;
    CHECK_EQ_STR(corpus_doc_text(c, 0), "o\xEF\xBF\xBDne");
    corpus_free(c);
}

/* Many bad lines: all counted, only the first few messages kept. */
TEST(many_warnings)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/many", tmp);
    snprintf(path, sizeof path, "mkdir -p '%s'", dir);
    if (system(path) != 0) exit(2);
    snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 1000; i++) fprintf(f, "{\"_id\": \"d%d\", \"text\": \"t\"}\n{oops}\n", i);
    fclose(f);
    corpus *c = corpus_load(dir, CORPUS_BEIR, NULL);
    CHECK(c != NULL, "load");
    if (!c) return;
    CHECK_EQ_INT(corpus_ndocs(c), 1000);
    CHECK_EQ_INT(corpus_nwarnings(c), 1001);   /* 1000 bad lines + missing queries */
    CHECK(corpus_nwarning_msgs(c) > 0 && corpus_nwarning_msgs(c) < 100, "kept %zu", corpus_nwarning_msgs(c));
    CHECK(strstr(corpus_warning(c, 0), "corpus.jsonl:2:") != NULL, "first: %s", corpus_warning(c, 0));
    corpus_free(c);
}


/* The on-disk fixtures in tests/fixtures/bad (see its README): every listed
 * warning or error appears, naming file and line. */
static void fixture_dir(char *out, size_t n, const char *name)
{
    /* __FILE__ is tests/unit/test_corpus_bad.c relative to the repository root, where tests run */
    char src[512];
    snprintf(src, sizeof src, "%s", __FILE__);
    char *slash = strrchr(src, '/');
    if (slash) *slash = '\0';
    snprintf(out, n, "%s/../fixtures/bad/%s", slash ? src : ".", name);
}

static void expect_warnings(const corpus *c, const char *dir, const char *const *want, size_t nwant)
{
    CHECK(corpus_nwarnings(c) == nwant, "%s: %zu warnings, expected %zu", dir, corpus_nwarnings(c), nwant);
    for (size_t i = 0; i < nwant; i++) {
        char prefix[700];
        snprintf(prefix, sizeof prefix, "%s/%s", dir, want[i]);
        int found = 0;
        for (size_t w = 0; w < corpus_nwarning_msgs(c); w++)
            if (strncmp(corpus_warning(c, w), prefix, strlen(prefix)) == 0) found = 1;
        CHECK(found, "no warning starting with %s", prefix);
    }
}

TEST(fixtures)
{
    char dir[600];
    sy_err err = {0};
    fixture_dir(dir, sizeof dir, "beir-messy");
    corpus *c = corpus_load(dir, CORPUS_BEIR, &err);
    CHECK(c != NULL, "beir-messy: %s", err.msg);
    if (c) {
        static const char *const want[] = {"corpus.jsonl:2: malformed JSON", "corpus.jsonl:3: document \"d3\" has an empty",
                                           "corpus.jsonl:4: duplicate document id \"d1\"", "corpus.jsonl:5: invalid UTF-8",
                                           "queries.jsonl:2: query \"q2\" has empty text",
                                           "qrels/test.tsv:3: unknown document id \"d9\"",
                                           "qrels/test.tsv:4: unknown query id \"q2\"",
                                           "qrels/test.tsv:5: relevance \"high\"",
                                           "qrels/test.tsv:7: duplicate judgement"};
        expect_warnings(c, dir, want, sizeof want / sizeof *want);
        CHECK_EQ_INT(corpus_ndocs(c), 3);
        CHECK_EQ_INT(corpus_nqueries(c), 2);
        const corpus_qrels *t = corpus_qrels_for(c, "test");
        CHECK(t && t->n == 2 && t->rows[1].rel == 2, "beir-messy test split");
        corpus_free(c);
    }
    fixture_dir(dir, sizeof dir, "msmarco-messy");
    c = corpus_load(dir, CORPUS_MSMARCO, &err);
    CHECK(c != NULL, "msmarco-messy: %s", err.msg);
    if (c) {
        static const char *const want[] = {"collection.tsv:2: no tab", "collection.tsv:3: document \"2\" has an empty",
                                           "collection.tsv:4: invalid UTF-8", "queries.dev.tsv:2: query \"11\" has empty",
                                           "qrels.dev.tsv:2: expected 4 fields",
                                           "qrels.dev.tsv:3: unknown document id \"7\"",
                                           "qrels.dev.tsv:4: relevance \"x\""};
        expect_warnings(c, dir, want, sizeof want / sizeof *want);
        CHECK_EQ_INT(corpus_ndocs(c), 3);
        CHECK_EQ_INT(corpus_nqueries(c), 1);
        const corpus_qrels *t = corpus_qrels_for(c, "dev");
        CHECK(t && t->n == 1, "msmarco-messy dev split");
        corpus_free(c);
    }
    char want[700];
    fixture_dir(dir, sizeof dir, "beir-no-header");
    c = corpus_load(dir, CORPUS_BEIR, &err);
    snprintf(want, sizeof want, "%s/qrels/test.tsv:1: missing header line", dir);
    CHECK(c == NULL && strncmp(err.msg, want, strlen(want)) == 0 && strstr(err.msg, "hint:"), "no-header: %s",
          err.msg);
    corpus_free(c);
    fixture_dir(dir, sizeof dir, "flag-pos-string.jsonl");
    c = corpus_load(dir, CORPUS_FLAG, &err);
    snprintf(want, sizeof want, "%s:2: \"pos\" is a string, expected a list", dir);
    CHECK(c == NULL && strncmp(err.msg, want, strlen(want)) == 0 && strstr(err.msg, "hint:"), "pos-string: %s",
          err.msg);
    corpus_free(c);
}


/* Seeded garbage in every file of every format: the loader never crashes, and
 * every error or warning starts with the path of the data set. */
static void garbage(uint64_t *st, char *buf, size_t n, const char *tokens)
{
    for (size_t i = 0; i < n; i++) {
        *st = *st * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(*st >> 33);
        if (r % 4 == 0) buf[i] = tokens[(r >> 8) % strlen(tokens)];
        else if (r % 4 == 1) buf[i] = (char)(r >> 12);   /* any byte, NUL included */
        else buf[i] = "abc01 \t\n"[(r >> 8) % 8];
    }
}

TEST(garbage)
{
    static const char *const beir[] = {"corpus.jsonl", "queries.jsonl", "qrels/test.tsv"};
    static const char *const ms[] = {"collection.tsv", "queries.dev.tsv", "qrels.dev.tsv"};
    uint64_t st = 99;
    char data[2048];
    int bad = 0;
    size_t total_warn = 0, total_docs = 0, failed = 0;
    for (int it = 0; it < 150 && bad < 5; it++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/garbage%d", tmp, it);
        int fmt = it % 3;
        for (int k = 0; k < (fmt == 2 ? 1 : 3); k++) {
            size_t n = 64 + (size_t)(st >> 50) % 1900;
            /* start from a valid-looking prefix half the time so parsing gets past the first bytes */
            static const char *const pre[3][3] = {
                {"{\"_id\": \"d1\", \"text\": \"x\"}\n{\"_id\": \"", "{\"_id\": \"q1\", \"text\": \"x\"}\n{\"_id\": \"",
                 "query-id\tcorpus-id\tscore\nq1\td1\t1\n"},
                {"0\tzero\n1\t", "5\tfive\n", "5 0 0 1\n5\t0\t"},
                {"{\"query\": \"q\", \"pos\": [\"a\"], \"neg\": [\"", "", ""}};
            size_t pl = it % 2 ? strlen(pre[fmt][k]) : 0;
            memcpy(data, pre[fmt][k], pl);
            garbage(&st, data + pl, n, "{}[]\":,\\u0dD8 nulltruefalse\t\n\xc3\xa9\xff");
            bad_file f = {fmt == 0 ? beir[k] : fmt == 1 ? ms[k] : "flag.jsonl", data, pl + n};
            write_file(dir, &f);
        }
        char target[600];
        snprintf(target, sizeof target, "%s%s", dir, fmt == 2 ? "/flag.jsonl" : "");
        sy_err err = {0};
        corpus *c = corpus_load(target, fmt == 0 ? CORPUS_BEIR : fmt == 1 ? CORPUS_MSMARCO : CORPUS_FLAG, &err);
        if (!c) {
            failed++;
            if (strncmp(err.msg, dir, strlen(dir)) != 0) {
                bad++;
                fprintf(stderr, "garbage%d: error without the path: %s\n", it, err.msg);
            }
            continue;
        }
        total_warn += corpus_nwarnings(c);
        total_docs += corpus_ndocs(c);
        for (size_t w = 0; w < corpus_nwarning_msgs(c); w++)
            if (strncmp(corpus_warning(c, w), dir, strlen(dir)) != 0) {
                bad++;
                fprintf(stderr, "garbage%d: warning without the path: %s\n", it, corpus_warning(c, w));
            }
        for (uint32_t d = 0; d < corpus_ndocs(c); d++)
            if (strlen(corpus_doc_text(c, d)) != corpus_doc_text_len(c, d)) bad++;
        for (size_t i = 0; i < corpus_nsplits(c); i++) {
            const corpus_qrels *qr = corpus_split(c, i);
            for (size_t r = 0; r < qr->n; r++)
                if (qr->rows[r].query >= corpus_nqueries(c) || qr->rows[r].doc >= corpus_ndocs(c)) bad++;
        }
        corpus_free(c);
    }
    CHECK_EQ_INT(bad, 0);
    /* the garbage is varied enough to reach warnings, kept documents and errors */
    CHECK(total_warn > 150 && total_docs > 50 && failed > 0, "warnings %zu, docs %zu, failed loads %zu", total_warn,
          total_docs, failed);
}

int main(void)
{
    char *t = check_tmpdir("corpus-bad");
    tmp = t;
    RUN(table);
    RUN(repair_content);
    RUN(many_warnings);
    RUN(fixtures);
    RUN(garbage);
    check_rmrf(t);
    free(t);
    return check_done();
}
