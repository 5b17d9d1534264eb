/* analyzer: golden token lists for Lucene-EnglishAnalyzer-like analysis. */
#include "../check.h"
#include "analyzer.h"
#include "util.h"

static int collect(void *ctx, const char *t, size_t n)
{
    sy_buf *b = ctx;
    sy_buf_puts(b, "[");
    sy_buf_append(b, t, n);
    sy_buf_puts(b, "]");
    return 0;
}

static analyzer *A;

static void expect(const char *text, const char *want, long want_n)
{
    sy_buf b = {0};
    long n = an_analyze(A, text, strlen(text), collect, &b);
    CHECK_EQ_STR(b.data ? b.data : "", want);
    CHECK(n == want_n, "'%s': %ld terms, expected %ld", text, n, want_n);
    sy_buf_free(&b);
}

TEST(words_and_punctuation)
{
    expect("The U.S. wing's lift, 1,000.5 tests", "[u.][wing][lift][1,000.5][test]", 5);
    expect("hello:world 3.14abc e.g. end. x--y", "[hello:world][3.14abc][e.g][end][x][y]", 6);
    expect("foo_bar x,y 1,2,3", "[foo_bar][x][y][1,2,3]", 4);
    expect("", "", 0);
    expect("  ...  --  ", "", 0);
}

TEST(stop_words_do_not_count)
{
    expect("a an and are as at be but by for if in into is it no not of on or such that "
           "the their then there these they this to was will with", "", 0);
    expect("To be OR not to be", "", 0);
    CHECK(an_is_stopword("the", 3), "the is a stop word");
    CHECK(!an_is_stopword("them", 4), "them is not a Lucene stop word");
}

TEST(possessives_and_case)
{
    expect("CAFÉ’s O'Neil's don't", "[café][o'neil][don't]", 3);
    expect("WING'S Wing’S", "[wing][wing]", 2);
    expect("Ünïcode ÉTÉ", "[ünïcode][été]", 2);
}

TEST(porter_like_lucene)
{
    expect("Running runners ran", "[run][runner][ran]", 3);
    /* Lucene's PorterStemmer departures: bli -> ble, logi -> log */
    expect("possibly responsibly humbly technology technological biology",
           "[possibl][respons][humbl][technolog][technolog][biologi]", 6);
    /* tokens of two characters are not stemmed (Lucene: k > 1) */
    expect("us as is", "[us]", 1);
    expect("generalizations aerodynamics", "[gener][aerodynam]", 2);
}

TEST(cjk_and_bad_bytes)
{
    expect("日本語 カタカナ", "[日][本][語][カタカナ]", 4);
    expect("bad\xff\xfe" "bytes", "[bad][byte]", 2);
    /* a combining mark stays with its base letter */
    expect("cafe\xcc\x81 naïve", "[cafe\xcc\x81][naïv]", 2);
}

static int stop_after_one(void *ctx, const char *t, size_t n)
{
    (void)t; (void)n;
    (*(int *)ctx)++;
    return 1;
}

TEST(callback_can_stop)
{
    int calls = 0;
    long n = an_analyze(A, "one two three", 13, stop_after_one, &calls);
    CHECK(n == -1, "stopped analysis returns -1, got %ld", n);
    CHECK_EQ_INT(calls, 1);
}

/* many distinct words: the restarting cache (an_new) and the growing one
 * (an_new_cache) must give the same terms, and slots must stay consistent */
typedef struct { sy_buf out; size_t slot_hits; } slot_ctx;

static int collect_slots(void *ctx, const char *t, size_t n, uint32_t *slot)
{
    slot_ctx *c = ctx;
    if (*slot != UINT32_MAX) {
        c->slot_hits++;
        CHECK(*slot == (uint32_t)(n * 131 + (unsigned char)t[0]), "slot kept with its word");
    }
    *slot = (uint32_t)(n * 131 + (unsigned char)t[0]);
    sy_buf_append(&c->out, t, n);
    sy_buf_puts(&c->out, " ");
    return 0;
}

TEST(word_cache_restart_and_growth)
{
    sy_buf text = {0};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 60000; i++) sy_buf_printf(&text, "Running%dx the %s ", i, i % 3 ? "lifts" : "wing's");
    analyzer *g = an_new_cache(1, NULL);
    CHECK(g != NULL, "an_new_cache");
    if (!g) { sy_buf_free(&text); return; }
    sy_buf a = {0};
    slot_ctx sc = {{0}, 0};
    long na = an_analyze(A, text.data, text.len, collect, &a);
    long ng = an_analyze_slots(g, text.data, text.len, collect_slots, &sc);
    CHECK(na == ng && na == 3 * 60000 * 2, "%ld vs %ld terms", na, ng);
    /* same terms in the same order ("[t]" vs "t ") */
    sy_buf b = {0};
    const char *p = a.data;
    while (p && *p) {
        const char *e = strchr(p, ']');
        sy_buf_append(&b, p + 1, (size_t)(e - p - 1));
        sy_buf_puts(&b, " ");
        p = e + 1;
    }
    CHECK(b.len == sc.out.len && memcmp(b.data, sc.out.data, b.len) == 0, "restarting and growing caches agree");
    CHECK(sc.slot_hits >= (size_t)(2 * 60000 * 2), "a growing cache keeps every word's slot: %zu hits", sc.slot_hits);
    an_free(g);
    sy_buf_free(&a); sy_buf_free(&b); sy_buf_free(&sc.out); sy_buf_free(&text);
}

/* Lucene 8.7's own output for the same lines (tests/fixtures/lucene-cranfield/README) */
static void compare_with_lucene(const char *name)
{
    char in[256], want[256];
    snprintf(in, sizeof in, "tests/fixtures/lucene-cranfield/%s.txt", name);
    snprintf(want, sizeof want, "tests/fixtures/lucene-cranfield/%s.tokens", name);
    FILE *fi = fopen(in, "r"), *fw = fopen(want, "r");
    CHECK(fi && fw, "fixtures %s / %s (run from the repository root)", in, want);
    if (!fi || !fw) { if (fi) fclose(fi); if (fw) fclose(fw); return; }
    char *line = NULL, *exp = NULL;
    size_t lcap = 0, ecap = 0;
    int lineno = 0, bad = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, fi)) >= 0) {
        lineno++;
        if (n && line[n - 1] == '\n') line[--n] = '\0';
        ssize_t m = getline(&exp, &ecap, fw);
        if (m < 0) { CHECK(0, "%s: fewer expected lines than inputs", want); break; }
        if (m && exp[m - 1] == '\n') exp[--m] = '\0';
        sy_buf b = {0};
        an_analyze(A, line, (size_t)n, collect, &b);
        /* "[a][b]" -> "a b" */
        sy_buf got = {0};
        for (size_t i = 0; i < b.len; i++) {
            if (b.data[i] == '[') { if (got.len) sy_buf_puts(&got, " "); }
            else if (b.data[i] != ']' || (i + 1 < b.len && b.data[i + 1] != '[')) sy_buf_append(&got, &b.data[i], 1);
        }
        const char *g = got.data ? got.data : "";
        if (strcmp(g, exp) != 0) {
            if (bad < 5) fprintf(stderr, "%s:%d:\n  lucene %s\n  syneg  %s\n", in, lineno, exp, g);
            bad++;
        }
        sy_buf_free(&b);
        sy_buf_free(&got);
    }
    CHECK(bad == 0, "%s: %d of %d lines tokenized unlike Lucene", name, bad, lineno);
    CHECK(lineno > 10, "%s: read %d lines", name, lineno);
    free(line);
    free(exp);
    fclose(fi);
    fclose(fw);
}

TEST(same_terms_as_lucene_tricky) { compare_with_lucene("tricky"); }
TEST(same_terms_as_lucene_random) { compare_with_lucene("random"); }

/* every whole word of the BERT vocabulary: the same terms as Lucene (hash of its output) */
TEST(same_terms_as_lucene_vocab)
{
    char *vp = sy_path_join(check_shared_data(), "bert-base-uncased/vocab.txt");
    if (!check_need(vp)) { free(vp); return; }
    size_t len;
    sy_err err = {0};
    char *v = sy_read_file(vp, &len, &err);
    free(vp);
    CHECK(v != NULL, "%s", err.msg);
    if (!v) return;
    FILE *f = fopen("tests/fixtures/lucene-cranfield/vocab.hash", "r");
    unsigned long long want = 0;
    size_t want_len = 0;
    CHECK(f && fscanf(f, "%llx %zu", &want, &want_len) == 2, "vocab.hash fixture");
    if (f) fclose(f);
    sy_buf out = {0};
    size_t words = 0;
    for (char *line = v, *nl; line < v + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(v + len - line));
        if (!nl) nl = v + len;
        if (nl > line && line[0] != '[' && !(nl - line >= 2 && line[0] == '#' && line[1] == '#')) {
            sy_buf b = {0};
            an_analyze(A, line, (size_t)(nl - line), collect, &b);
            for (size_t i = 0, first = 1; i < b.len; i++) {
                if (b.data[i] == '[') { if (!first) sy_buf_puts(&out, " "); first = 0; }
                else if (b.data[i] != ']') sy_buf_append(&out, &b.data[i], 1);
            }
            sy_buf_puts(&out, "\n");
            sy_buf_free(&b);
            words++;
        }
    }
    CHECK_EQ_INT(words, 23694);
    CHECK(out.len == want_len && sy_hash64(out.data, out.len) == want,
          "terms of the vocabulary differ from Lucene's (%zu bytes vs %zu); diff against Bm25Ref --tokens output",
          out.len, want_len);
    sy_buf_free(&out);
    free(v);
}

int main(void)
{
    A = an_new(NULL);
    if (!A) { fprintf(stderr, "an_new failed\n"); return 1; }
    RUN(words_and_punctuation);
    RUN(stop_words_do_not_count);
    RUN(possessives_and_case);
    RUN(porter_like_lucene);
    RUN(cjk_and_bad_bytes);
    RUN(callback_can_stop);
    RUN(word_cache_restart_and_growth);
    RUN(same_terms_as_lucene_tricky);
    RUN(same_terms_as_lucene_random);
    RUN(same_terms_as_lucene_vocab);
    an_free(A);
    return check_done();
}
