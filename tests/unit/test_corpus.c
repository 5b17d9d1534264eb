/* test_corpus: loading BEIR, MS MARCO and FlagEmbedding data from small inline
 * fixtures written to a temp folder, plus the real cranfield and cisi sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../check.h"
#include <jansson.h>

#include "corpus.h"

static char *tmp;

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    if (system(cmd) != 0) exit(2);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fputs(text, f);
    fclose(f);
}

static char *sub(const char *rel)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    return p;
}

/* Count data lines (non-empty, minus the header) of a qrels file. */
static long count_rows(const char *path, int header)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f))
        if (line[0] != '\n' && line[0] != '\r') n++;
    fclose(f);
    return n - header;
}

static int sorted(const corpus_qrels *qr)
{
    for (size_t i = 1; i < qr->n; i++) {
        const corpus_qrel *a = &qr->rows[i - 1], *b = &qr->rows[i];
        if (a->query > b->query || (a->query == b->query && a->doc >= b->doc)) return 0;
    }
    return 1;
}

static int has_warning(const corpus *c, const char *needle1, const char *needle2)
{
    for (size_t i = 0; i < corpus_nwarning_msgs(c); i++) {
        const char *w = corpus_warning(c, i);
        if (strstr(w, needle1) && (!needle2 || strstr(w, needle2))) return 1;
    }
    return 0;
}

TEST(beir_small)
{
    put("beir/corpus.jsonl",
        "{\"_id\": \"d1\", \"title\": \"T one\", \"text\": \"first doc\"}\n"
        "{\"text\": \"caf\\u00e9 \\\"q\\\" a\\\\b \\/ \\t tab \\ud83d\\ude00\", \"_id\": \"d2\", \"metadata\": {\"text\": \"wrong\", \"n\": [1, 2.5e3, true, null]}}\n"
        "\n"
        "{\"_id\": 3, \"text\": \"numeric id\"}\n"
        "{\"_id\": \"d4\", \"title\": \"\", \"text\": \"x\", \"text\": \"last wins\"}\n");
    put("beir/queries.jsonl",
        "{\"_id\": \"q1\", \"text\": \"what is one\"}\n"
        "{\"_id\": \"q2\", \"text\": \"   \"}\n"
        "{\"_id\": \"q3\", \"text\": \"three\", \"metadata\": {}}\n");
    put("beir/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq3\td2\t1\nq1\td4\t2\nq1\td1\t0\n");
    put("beir/qrels/train.tsv", "query-id\tcorpus-id\tscore\r\nq1\t3\t1\r\n");
    put("beir/qrels/notes.txt", "ignored\n");
    corpus_format fmt = CORPUS_FLAG;
    sy_err err = {0};
    CHECK_EQ_INT(corpus_detect(sub("beir"), &fmt, &err), 0);
    CHECK_EQ_INT(fmt, CORPUS_BEIR);
    corpus *c = corpus_load(sub("beir"), CORPUS_BEIR, &err);
    CHECK(c != NULL, "load failed: %s", err.msg);
    if (!c) return;
    CHECK_EQ_INT(corpus_ndocs(c), 4);
    CHECK_EQ_STR(corpus_doc_id(c, 0), "d1");
    CHECK_EQ_STR(corpus_doc_title(c, 0), "T one");
    CHECK_EQ_STR(corpus_doc_text(c, 0), "first doc");
    CHECK_EQ_STR(corpus_doc_id(c, 1), "d2");
    CHECK_EQ_STR(corpus_doc_title(c, 1), "");
    CHECK_EQ_STR(corpus_doc_text(c, 1), "caf\xC3\xA9 \"q\" a\\b / \t tab \xF0\x9F\x98\x80");
    CHECK_EQ_INT(corpus_doc_text_len(c, 1), strlen(corpus_doc_text(c, 1)));
    CHECK_EQ_STR(corpus_doc_id(c, 2), "3");
    CHECK_EQ_STR(corpus_doc_text(c, 3), "last wins");
    CHECK_EQ_INT(corpus_doc_find(c, "d4"), 3);
    CHECK_EQ_INT(corpus_doc_find(c, "3"), 2);
    CHECK_EQ_INT(corpus_doc_find(c, "nope"), -1);
    CHECK(corpus_doc_id(c, 4) == NULL, "out of range id not NULL");
    CHECK_EQ_INT(corpus_nqueries(c), 2);
    CHECK_EQ_STR(corpus_query_id(c, 1), "q3");
    CHECK_EQ_STR(corpus_query_text(c, 0), "what is one");
    CHECK_EQ_INT(corpus_query_find(c, "q2"), -1);
    CHECK_EQ_INT(corpus_nwarnings(c), 1);
    CHECK(has_warning(c, "queries.jsonl:2:", "empty text"), "empty query warning missing");
    CHECK_EQ_INT(corpus_nsplits(c), 2);
    CHECK_EQ_STR(corpus_split(c, 0)->name, "test");
    CHECK_EQ_STR(corpus_split(c, 1)->name, "train");
    const corpus_qrels *t = corpus_qrels_for(c, "test");
    CHECK(t && t->n == 3 && sorted(t), "test split");
    CHECK(corpus_qrels_for(c, "dev") == NULL, "absent split");
    size_t n;
    const corpus_qrel *r = corpus_qrels_of(t, 0, &n);
    CHECK_EQ_INT(n, 2);
    if (r && n == 2) {
        CHECK_EQ_INT(r[0].doc, 0);
        CHECK_EQ_INT(r[0].rel, 0);
        CHECK_EQ_INT(r[1].doc, 3);
        CHECK_EQ_INT(r[1].rel, 2);
    }
    r = corpus_qrels_of(t, 1, &n);
    CHECK(r && n == 1 && r[0].doc == 1 && r[0].rel == 1, "q3 rows");
    r = corpus_qrels_of(t, 7, &n);
    CHECK(r == NULL && n == 0, "no rows");
    CHECK_EQ_INT(corpus_qrels_nqueries(t), 2);
    const corpus_qrels *tr = corpus_qrels_for(c, "train");
    CHECK(tr && tr->n == 1 && tr->rows[0].doc == 2, "train split with CRLF");
    CHECK(corpus_memory(c) > 0, "memory");
    corpus_free(c);
}

TEST(beir_edge_lines)
{
    /* a byte-order mark, no newline at the end, CRLF, a line longer than the 4 MiB read chunk */
    size_t big = 5u << 20;
    char *s = malloc(big + 200);
    strcpy(s, "\xEF\xBB\xBF{\"_id\": \"a\", \"text\": \"x\"}\r\n{\"_id\": \"big\", \"text\": \"");
    size_t l = strlen(s);
    for (size_t i = 0; i < big; i++) s[l + i] = (char)('a' + i % 26);
    strcpy(s + l + big, "\"}\n{\"_id\": \"z\", \"title\": \"tz\", \"text\": \"last\"}");
    put("edge/corpus.jsonl", s);
    free(s);
    put("edge/queries.jsonl", "{\"_id\": \"q\", \"text\": \"x\"}");
    sy_err err = {0};
    corpus *c = corpus_load(sub("edge"), CORPUS_BEIR, &err);
    CHECK(c != NULL, "load failed: %s", err.msg);
    if (!c) return;
    CHECK_EQ_INT(corpus_ndocs(c), 3);
    CHECK_EQ_INT(corpus_doc_text_len(c, 1), big);
    CHECK_EQ_INT(corpus_doc_text(c, 1)[big - 1], 'a' + (big - 1) % 26);
    CHECK_EQ_STR(corpus_doc_text(c, 0), "x");
    CHECK_EQ_STR(corpus_doc_text(c, 2), "last");
    CHECK_EQ_INT(corpus_nqueries(c), 1);
    CHECK_EQ_INT(corpus_nsplits(c), 0);
    CHECK(has_warning(c, "qrels", "missing"), "missing qrels folder warning");
    corpus_free(c);
}

TEST(msmarco_small)
{
    put("ms/collection.tsv", "0\tThe first passage.\n1\tSecond passage\twith a tab.\n7\t\xC3\xA9t\xC3\xA9\n");
    put("ms/queries.train.tsv", "100\twhat is first\n101\tsecond?\n");
    put("ms/queries.dev.tsv", "200\tdev query\n");
    put("ms/queries.dev.small.tsv", "200\tdev query\n");   /* a subset, repeating dev: no warning */
    put("ms/qrels.train.tsv", "100 0 0 1\n101\t0\t1\t1\n100\t0\t7\t1\n");
    put("ms/qrels.dev.tsv", "200\t0\t7\t1\n");
    put("ms/qrels.dev.small.tsv", "200\t0\t7\t1\n");
    corpus_format fmt;
    sy_err err = {0};
    CHECK_EQ_INT(corpus_detect(sub("ms"), &fmt, &err), 0);
    CHECK_EQ_INT(fmt, CORPUS_MSMARCO);
    corpus *c = corpus_load(sub("ms"), CORPUS_MSMARCO, &err);
    CHECK(c != NULL, "load failed: %s", err.msg);
    if (!c) return;
    CHECK_EQ_INT(corpus_ndocs(c), 3);
    CHECK_EQ_STR(corpus_doc_id(c, 2), "7");
    CHECK_EQ_STR(corpus_doc_title(c, 2), "");
    CHECK_EQ_STR(corpus_doc_text(c, 1), "Second passage\twith a tab.");
    CHECK_EQ_INT(corpus_nqueries(c), 3);
    /* query files in name order: dev before train */
    CHECK_EQ_STR(corpus_query_id(c, 0), "200");
    CHECK_EQ_STR(corpus_query_text(c, 2), "second?");
    CHECK_EQ_INT(corpus_nsplits(c), 3);
    CHECK_EQ_STR(corpus_split(c, 1)->name, "dev.small");
    const corpus_qrels *tr = corpus_qrels_for(c, "train");
    CHECK(tr && tr->n == 3 && sorted(tr), "train split");
    CHECK_EQ_INT(corpus_qrels_nqueries(tr), 2);
    size_t n;
    const corpus_qrel *r = corpus_qrels_of(tr, (uint32_t)corpus_query_find(c, "100"), &n);
    CHECK(r && n == 2 && r[0].doc == 0 && r[1].doc == 2, "query 100 rows");
    const corpus_qrels *dv = corpus_qrels_for(c, "dev");
    CHECK(dv && dv->n == 1 && dv->rows[0].query == 0 && dv->rows[0].doc == 2, "dev split");
    CHECK_EQ_INT(corpus_nwarnings(c), 0);
    corpus_free(c);
}

TEST(flag_small)
{
    put("flag.jsonl",
        "{\"query\": \"what is a cat\", \"pos\": [\"A cat is an animal.\"], \"neg\": [\"Dogs bark.\", \"Cars drive.\"]}\n"
        "{\"query\": \"what barks\", \"pos\": [\"Dogs bark.\"], \"neg\": [\"A cat is an animal.\", \"Cars drive.\", \"Cars drive.\"], \"prompt\": \"x\"}\n"
        "{\"query\": \"what is a cat\", \"pos\": [\"Cats purr.\", \"A cat is an animal.\"], \"neg\": []}\n");
    corpus_format fmt;
    sy_err err = {0};
    CHECK_EQ_INT(corpus_detect(sub("flag.jsonl"), &fmt, &err), 0);
    CHECK_EQ_INT(fmt, CORPUS_FLAG);
    corpus *c = corpus_load(sub("flag.jsonl"), CORPUS_FLAG, &err);
    CHECK(c != NULL, "load failed: %s", err.msg);
    if (!c) return;
    CHECK_EQ_INT(corpus_ndocs(c), 4);
    CHECK_EQ_STR(corpus_doc_id(c, 0), "p0");
    CHECK_EQ_STR(corpus_doc_text(c, 0), "A cat is an animal.");
    CHECK_EQ_STR(corpus_doc_text(c, 2), "Cars drive.");
    CHECK_EQ_STR(corpus_doc_id(c, 3), "p3");
    CHECK_EQ_INT(corpus_doc_find(c, "p3"), 3);
    CHECK_EQ_INT(corpus_nqueries(c), 2);   /* the repeated query is merged */
    CHECK_EQ_STR(corpus_query_id(c, 1), "q1");
    CHECK_EQ_STR(corpus_query_text(c, 1), "what barks");
    CHECK_EQ_INT(corpus_nsplits(c), 1);
    const corpus_qrels *tr = corpus_qrels_for(c, "train");
    CHECK(tr && tr->n == 3 && sorted(tr), "train qrels from pos");
    size_t n;
    const corpus_qrel *r = corpus_qrels_of(tr, 0, &n);
    CHECK(r && n == 2 && r[0].doc == 0 && r[1].doc == 3 && r[0].rel == 1, "q0 positives");
    const corpus_given_neg *g = corpus_given_negs(c, &n);
    CHECK_EQ_INT(n, 4);   /* (0,1) (0,2) (1,0) (1,2): the repeated neg merged */
    if (g && n == 4) {
        CHECK(g[0].query == 0 && g[0].doc == 1 && g[3].query == 1 && g[3].doc == 2, "negs sorted");
    }
    CHECK_EQ_INT(corpus_nwarnings(c), 0);
    corpus_free(c);
}

TEST(detect)
{
    corpus_format fmt;
    sy_err err = {0};
    put("empty/readme.txt", "x\n");
    CHECK_EQ_INT(corpus_detect(sub("empty"), &fmt, &err), -1);
    CHECK_EQ_INT(err.code, SY_EFORMAT);
    CHECK(strstr(err.msg, "corpus.jsonl") != NULL, "hint: %s", err.msg);
    CHECK_EQ_INT(corpus_detect(sub("nothing-here"), &fmt, &err), -1);
    CHECK_EQ_INT(err.code, SY_ENOTFOUND);
    CHECK(strstr(err.msg, "nothing-here") != NULL, "names path: %s", err.msg);
    put("b2/corpus.jsonl", "{}\n");
    CHECK_EQ_INT(corpus_detect(sub("b2/corpus.jsonl"), &fmt, &err), -1);
    CHECK(strstr(err.msg, "give the folder") != NULL, "hint: %s", err.msg);
}


/* The loader's JSON fast path against jansson, the reference: for tricky lines
 * and thousands of seeded random mutations of them, the loaded document (or its
 * absence) must equal what jansson makes of the line. */
static int twin_check(const char *line, size_t len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/twin/corpus.jsonl", tmp);
    unlink(path);   /* a fresh file: rewriting one in place makes ext4 flush it on close */
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(line, 1, len, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/twin", tmp);
    corpus *c = corpus_load(path, CORPUS_BEIR, NULL);
    if (!c) return 0;
    /* what jansson says */
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    char id[64] = "";
    const char *title = "", *text = "";
    int want = 0;
    if (o && json_is_object(o)) {
        json_t *i = json_object_get(o, "_id"), *t = json_object_get(o, "title"), *x = json_object_get(o, "text");
        int ok = 1;
        if (json_is_string(i)) snprintf(id, sizeof id, "%s", json_string_value(i));
        else if (json_is_integer(i)) snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(i));
        else ok = 0;
        if (json_is_string(t)) title = json_string_value(t);
        else if (t && !json_is_null(t)) ok = 0;
        if (json_is_string(x)) text = json_string_value(x);
        else if (x && !json_is_null(x)) ok = 0;
        int blank = 1;
        for (const char *p = id; *p; p++)
            if (*p != ' ' && *p != '\t') blank = 0;
        want = ok && !blank;
    }
    int same = corpus_ndocs(c) == (uint32_t)want;
    if (same && want)
        same = strcmp(corpus_doc_id(c, 0), id) == 0 && strcmp(corpus_doc_title(c, 0), title) == 0 &&
               strcmp(corpus_doc_text(c, 0), text) == 0 && corpus_doc_text_len(c, 0) == strlen(text);
    if (!same)
        fprintf(stderr, "twin mismatch on <%.*s>: loader %u docs%s%s, jansson %d (%s)\n", (int)len, line,
                corpus_ndocs(c), corpus_ndocs(c) ? " text=" : "", corpus_ndocs(c) ? corpus_doc_text(c, 0) : "",
                want, o ? "parsed" : je.text);
    json_decref(o);
    corpus_free(c);
    return same;
}

TEST(json_fast_vs_jansson)
{
    static const char *const lines[] = {
        "{\"_id\": \"a\", \"text\": \"plain\"}",
        "  {  \"_id\"  :  \"a\"  ,  \"text\"  :  \"spaces\"  }  ",
        "{\"_id\":\"a\",\"title\":null,\"text\":\"t\"}",
        "{\"_id\": 12, \"text\": \"int id\"}",
        "{\"_id\": -0, \"text\": \"minus zero\"}",
        "{\"_id\": 1.5, \"text\": \"real id\"}",
        "{\"_id\": 123456789012345678901234, \"text\": \"huge\"}",
        "{\"_id\": \"a\", \"text\": \"t\", \"x\": 1e400}",
        "{\"_id\": \"a\", \"text\": \"t\", \"x\": 1e5}",
        "{\"_\\u0069d\": \"esc\", \"text\": \"escaped key\"}",
        "{\"_id\": \"a\", \"text\": \"\\ud83d\\ude00 \\u00e9 \\u20ac \\b\\f\\n\\r\\t\\\"\\\\\\/\"}",
        "{\"_id\": \"a\", \"text\": \"lone \\udc00\"}",
        "{\"_id\": \"a\", \"text\": \"nul \\u0000\"}",
        "{\"_id\": \"a\", \"text\": \"bad \\x\"}",
        "{\"_id\": \"a\", \"text\": \"tab\tinside\"}",
        "{\"_id\": \"a\", \"text\": \"t\"} trailing",
        "{\"_id\": \"a\", \"text\": \"t\",}",
        "{\"_id\": \"a\" \"text\": \"t\"}",
        "{\"_id\": \"a\", \"text\": \"t\", \"m\": {\"a\": [1, 2, {\"b\": null}], \"c\": true, \"d\": false}}",
        "{\"_id\": \"a\", \"text\": \"t\", \"m\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "{\"_id\": \"a\", \"text\": \"first\", \"text\": \"second\"}",
        "{\"_id\": \"a\", \"text\": \"first\", \"text\": 3}",
        "{\"_id\": \"a\", \"text\": true}",
        "{\"_id\": \"a\", \"text\": tru}",
        "{\"_id\": \"a\", \"text\": nul}",
        "{\"_id\": \"a\", \"text\": \"t\", \"n\": 01}",
        "{\"_id\": \"a\", \"text\": \"t\", \"n\": -}",
        "{\"_id\": \"a\", \"text\": \"t\", \"n\": 1.}",
        "{\"_id\": \"a\", \"text\": \"t\", \"n\": .5}",
        "{}",
        "[]",
        "\"str\"",
        "{\"_id\": \"\", \"text\": \"empty id\"}",
        "{\"_id\": \"a\", \"text\": \"t\"",
        "{\"_id\": \"a\", \"text\": \"t\\",
        "{\"_id\": \"long\", \"text\": \"0123456789abcdef\\n0123456789\\u00e9xyz01234567\\\"89abcdefghij\"}",
        "{\"_id\": \"long\", \"text\": \"0123456789abcdefghijklmnop\x01qrstuvwxyz0123456789\"}",
        "{\"_id\": \"long\", \"text\": \"0123456789abcdefghijklmnopqrstuvwxyz0123456789\x1f\"}",
        "{\"_id\": \"long\", \"text\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 \xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"}",
    };
    char dir[600];
    snprintf(dir, sizeof dir, "mkdir -p '%s/twin'", tmp);
    if (system(dir) != 0) exit(2);
    int bad = 0;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) bad += !twin_check(lines[i], strlen(lines[i]));
    CHECK_EQ_INT(bad, 0);
    /* seeded mutations: replace, insert or delete one to three ASCII bytes */
    static const char alphabet[] = "{}[]\":,\\ u0dD8eE-.1ntrfal_x";
    uint64_t st = 12345;
    int fuzz_bad = 0;
    char buf[512];
    for (int it = 0; it < 3000 && fuzz_bad < 5; it++) {
        const char *base = lines[it % 12 == 0 ? 18 : it % 3 == 0 ? 10 : it % 3 == 1 ? 3 : 2];
        size_t n = strlen(base);
        memcpy(buf, base, n);
        int muts = 1 + (int)((st >> 40) % 3);
        for (int m = 0; m < muts; m++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)((st >> 33) % (n + 1));
            char ch = alphabet[(st >> 20) % (sizeof alphabet - 1)];
            int op = (int)((st >> 10) % 3);
            if (op == 0 && pos < n) buf[pos] = ch;
            else if (op == 1 && n < sizeof buf - 1) {
                memmove(buf + pos + 1, buf + pos, n - pos);
                buf[pos] = ch;
                n++;
            } else if (pos < n) {
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
            }
        }
        fuzz_bad += !twin_check(buf, n);
    }
    CHECK_EQ_INT(fuzz_bad, 0);
}


/* The same for FlagEmbedding lines: what jansson finds in the line (query,
 * pos and neg strings) must be what the loader made of it. */
static int flag_twin_check(const char *line, size_t len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/twin/flag.jsonl", tmp);
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(line, 1, len, f);
    fclose(f);
    sy_err err = {0};
    corpus *c = corpus_load(path, CORPUS_FLAG, &err);
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    /* expected: fatal when pos/neg is present but not a list */
    int fatal = 0, nq = 0;
    size_t npos = 0, nneg = 0, ndocs = 0;
    const char *qt = NULL;
    if (o && json_is_object(o)) {
        json_t *q = json_object_get(o, "query"), *l[2] = {json_object_get(o, "pos"), json_object_get(o, "neg")};
        for (int i = 0; i < 2; i++)
            if (l[i] && !json_is_array(l[i])) fatal = 1;
        if (!fatal && json_is_string(q) && strspn(json_string_value(q), " \t") < json_string_length(q)) {
            nq = 1;
            qt = json_string_value(q);
            const char *seen[64];
            size_t ns = 0, npairs[2] = {0, 0};
            for (int i = 0; i < 2; i++) {
                const char *pairs[64];
                size_t np = 0, k;
                json_t *v;
                json_array_foreach(l[i], k, v)
                {
                    if (!json_is_string(v) || strspn(json_string_value(v), " \t") == json_string_length(v)) continue;
                    const char *t = json_string_value(v);
                    int dup = 0;
                    for (size_t m = 0; m < ns; m++) dup |= strcmp(seen[m], t) == 0;
                    if (!dup && ns < 64) seen[ns++] = t;
                    dup = 0;
                    for (size_t m = 0; m < np; m++) dup |= strcmp(pairs[m], t) == 0;
                    if (!dup && np < 64) pairs[np++] = t;
                }
                npairs[i] = np;
            }
            ndocs = ns;
            npos = npairs[0];
            nneg = npairs[1];
        }
    }
    int same;
    if (fatal) same = c == NULL && strstr(err.msg, "flag.jsonl:1:") != NULL;
    else {
        size_t n = 0;
        const corpus_qrels *tr = c ? corpus_qrels_for(c, "train") : NULL;
        if (c) corpus_given_negs(c, &n);
        same = c && corpus_nqueries(c) == (uint32_t)nq && corpus_ndocs(c) == ndocs && tr && tr->n == npos && n == nneg &&
               (!nq || strcmp(corpus_query_text(c, 0), qt) == 0);
    }
    if (!same)
        fprintf(stderr, "flag twin mismatch on <%.*s>: loader %s q=%u d=%u; jansson fatal=%d q=%d d=%zu pos=%zu neg=%zu\n",
                (int)len, line, c ? "ok" : err.msg, c ? corpus_nqueries(c) : 0, c ? corpus_ndocs(c) : 0, fatal, nq,
                ndocs, npos, nneg);
    json_decref(o);
    corpus_free(c);
    return same;
}

TEST(flag_fast_vs_jansson)
{
    static const char *const lines[] = {
        "{\"query\": \"q\", \"pos\": [\"a\", \"b\"], \"neg\": [\"c\", \"a\", \"c\"]}",
        "{\"neg\": [], \"pos\": [\"x \\u00e9\\n\"], \"query\": \"q \\\"quoted\\\"\", \"prompt\": \"Represent: \", \"pos_scores\": [1.0], \"neg_scores\": []}",
        "{\"query\": \"q\", \"pos\": \"a\"}",
        "{\"query\": \"q\", \"pos\": [\"a\", 1, null, \"\"], \"neg\": [[\"b\"]]}",
        "{\"query\": \"q\", \"pos\": [\"a\"], \"pos\": [\"b\", \"c\"]}",
        "{\"query\": \"q\", \"pos\": [\"a\"], \"neg\": null}",
        "{\"query\": \"q\", \"pos\": [\"a\\u0000b\"]}",
        "{\"query\": \"\", \"pos\": [\"a\"]}",
    };
    char dir[600];
    snprintf(dir, sizeof dir, "mkdir -p '%s/twin'", tmp);
    if (system(dir) != 0) exit(2);
    int bad = 0;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) bad += !flag_twin_check(lines[i], strlen(lines[i]));
    CHECK_EQ_INT(bad, 0);
    static const char alphabet[] = "{}[]\":,\\ u0nl1qa";
    uint64_t st = 777;
    int fuzz_bad = 0;
    char buf[512];
    for (int it = 0; it < 1500 && fuzz_bad < 5; it++) {
        const char *base = lines[it % 2];
        size_t n = strlen(base);
        memcpy(buf, base, n);
        int muts = 1 + (int)((st >> 40) % 3);
        for (int m = 0; m < muts; m++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)((st >> 33) % (n + 1));
            char ch = alphabet[(st >> 20) % (sizeof alphabet - 1)];
            int op = (int)((st >> 10) % 3);
            if (op == 0 && pos < n) buf[pos] = ch;
            else if (op == 1 && n < sizeof buf - 1) {
                memmove(buf + pos + 1, buf + pos, n - pos);
                buf[pos] = ch;
                n++;
            } else if (pos < n) {
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
            }
        }
        fuzz_bad += !flag_twin_check(buf, n);
    }
    CHECK_EQ_INT(fuzz_bad, 0);
}

static void check_real(const char *name, unsigned ndocs, unsigned nq, long train, long test)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s", check_shared_data(), name);
    if (!check_need(dir)) return;
    sy_err err = {0};
    corpus *c = corpus_load(dir, CORPUS_BEIR, &err);
    CHECK(c != NULL, "%s: %s", name, err.msg);
    if (!c) return;
    CHECK_EQ_INT(corpus_ndocs(c), ndocs);
    CHECK_EQ_INT(corpus_nqueries(c), nq);
    CHECK_EQ_INT(corpus_nsplits(c), 3);   /* all, test, train */
    snprintf(path, sizeof path, "%s/qrels/train.tsv", dir);
    long rows_train = count_rows(path, 1);
    snprintf(path, sizeof path, "%s/qrels/test.tsv", dir);
    long rows_test = count_rows(path, 1);
    CHECK_EQ_INT(rows_train, train);
    CHECK_EQ_INT(rows_test, test);
    const corpus_qrels *tr = corpus_qrels_for(c, "train"), *te = corpus_qrels_for(c, "test");
    CHECK(tr && te, "splits present");
    if (tr && te) {
        CHECK_EQ_INT(tr->n, rows_train);
        CHECK_EQ_INT(te->n, rows_test);
        CHECK(sorted(tr) && sorted(te), "sorted");
    }
    for (uint32_t d = 0; d < corpus_ndocs(c); d++)
        if (strlen(corpus_doc_text(c, d)) != corpus_doc_text_len(c, d)) {
            CHECK(0, "doc %u text_len", d);
            break;
        }
    corpus_free(c);
}

TEST(cranfield)
{
    /* 1228 and 609 are `wc -l` minus the header of the files; check_real counts them too */
    check_real("cranfield", 1400, 225, 1228, 609);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cranfield", check_shared_data());
    if (access(dir, F_OK) != 0) return;   /* check_real skipped the group */
    corpus *c = corpus_load(dir, CORPUS_BEIR, NULL);
    CHECK(c != NULL, "%s", dir);
    if (!c) return;
    /* docs 471 and 995 have an empty title and text: kept, warned */
    CHECK_EQ_INT(corpus_nwarnings(c), 2);
    CHECK(has_warning(c, "corpus.jsonl:471:", "empty"), "doc 471 warning");
    CHECK_EQ_INT(corpus_doc_find(c, "471"), 470);
    CHECK_EQ_STR(corpus_doc_id(c, 0), "1");
    CHECK(strncmp(corpus_doc_title(c, 0), "experimental investigation of the aerodynamics", 46) == 0, "title");
    const corpus_qrels *tr = corpus_qrels_for(c, "train");
    CHECK(tr != NULL && corpus_qrels_nqueries(tr) == 150, "train queries");
    corpus_free(c);
}

TEST(cisi) { check_real("cisi", 1460, 112, 2154, 960); }

int main(void)
{
    tmp = check_tmpdir("corpus");
    RUN(beir_small);
    RUN(beir_edge_lines);
    RUN(msmarco_small);
    RUN(flag_small);
    RUN(detect);
    RUN(json_fast_vs_jansson);
    RUN(flag_fast_vs_jansson);
    RUN(cranfield);
    RUN(cisi);
    check_rmrf(tmp);
    free(tmp);
    return check_done();
}
