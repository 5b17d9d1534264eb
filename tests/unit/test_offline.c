/* test_offline: the offline hard-negative generator: each edit, determinism,
 * and related passages on the real Cranfield corpus. */
#include "../check.h"

#include "corpus.h"
#include "offline.h"
#include "util.h"

static const char *Q = "What is the boiling point of water at sea level?";
static const char *POS = "Water is a common liquid. At sea level, water boils at 100 degrees Celsius. "
                         "Pressure changes the boiling point, as Joseph Black observed in Glasgow.";
static const char *REL[] = {
    "Ethanol is another common liquid. At sea level, ethanol boils at 78 degrees Celsius, lower than water. "
    "Its vapour pressure was measured by Henri Regnault in Paris.",
    "Mountain climbers know that water boils at lower temperatures at altitude, near 70 degrees on Everest.",
};

static int find_method(offline_neg *o, size_t n, const char *m)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(o[i].method, m)) return (int)i;
    return -1;
}

TEST(three_edits)
{
    offline_neg out[6];
    size_t n = offline_generate(Q, POS, REL, 2, 42, 3, out);
    CHECK_EQ_INT(n, 3);
    int s = find_method(out, n, "swap"), r = find_method(out, n, "replace"), g = find_method(out, n, "negate");
    CHECK(s >= 0 && r >= 0 && g >= 0, "all three methods used");
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(out[i].text, POS) != 0, "edit %zu differs from the positive", i);
        CHECK(out[i].detail && *out[i].detail, "detail");
        for (size_t j = 0; j < i; j++) CHECK(strcmp(out[i].text, out[j].text) != 0, "distinct %zu %zu", i, j);
    }
    if (g >= 0) {
        /* the answering sentence ("water boils at 100") is the one negated or a claim in it */
        CHECK(strstr(out[g].text, " not ") || strstr(out[g].text, "cannot") || strstr(out[g].text, "decrease") ||
                  strstr(out[g].text, "higher"),
              "negated: %s", out[g].text);
        CHECK(strstr(out[g].detail, "negated") != NULL, "%s", out[g].detail);
    }
    if (r >= 0) {
        CHECK(strstr(out[r].text, "100 degrees") == NULL, "the answering sentence is gone: %s", out[r].text);
        CHECK(strstr(out[r].text, "Water is a common liquid.") != NULL, "the rest is kept: %s", out[r].text);
        CHECK(strstr(out[r].text, "boils at 78") || strstr(out[r].text, "near 70"),
              "a related sentence took its place: %s", out[r].text);
    }
    if (s >= 0) {
        CHECK(strstr(out[s].detail, "swapped") != NULL, "%s", out[s].detail);
        /* swapped words come from the related passages */
        CHECK(strstr(out[s].text, "78") || strstr(out[s].text, "70") || strstr(out[s].text, "Henri") ||
                  strstr(out[s].text, "Regnault") || strstr(out[s].text, "Paris") || strstr(out[s].text, "Ethanol") ||
                  strstr(out[s].text, "Everest") || strstr(out[s].text, "Mountain") ||
                  strstr(out[s].text, "temperatures") || strstr(out[s].text, "climbers") ||
                  strstr(out[s].text, "altitude") || strstr(out[s].text, "measured") || strstr(out[s].text, "another"),
              "swap uses related words: %s", out[s].text);
    }
    for (size_t i = 0; i < n; i++) offline_neg_free(&out[i]);
}

TEST(deterministic_by_seed)
{
    offline_neg a[4], b[4], c[4];
    size_t na = offline_generate(Q, POS, REL, 2, 7, 4, a);
    size_t nb = offline_generate(Q, POS, REL, 2, 7, 4, b);
    size_t nc = offline_generate(Q, POS, REL, 2, 8, 4, c);
    CHECK_EQ_INT(na, nb);
    int same = na == nc;
    for (size_t i = 0; i < na && i < nb; i++) CHECK_EQ_STR(a[i].text, b[i].text);
    for (size_t i = 0; same && i < na; i++) same = !strcmp(a[i].text, c[i].text);
    CHECK(!same, "another seed gives other negatives");
    for (size_t i = 0; i < na; i++) offline_neg_free(&a[i]);
    for (size_t i = 0; i < nb; i++) offline_neg_free(&b[i]);
    for (size_t i = 0; i < nc; i++) offline_neg_free(&c[i]);
}

TEST(no_related_still_edits)
{
    offline_neg out[3];
    size_t n = offline_generate(Q, POS, NULL, 0, 1, 3, out);
    CHECK(n >= 2, "swap (numbers) and negate need no related passage: %zu", n);
    CHECK(find_method(out, n, "replace") < 0, "replace needs a related passage");
    for (size_t i = 0; i < n; i++) offline_neg_free(&out[i]);
    /* a text with nothing to edit gives nothing rather than a copy */
    n = offline_generate("x", "ok", NULL, 0, 1, 3, out);
    CHECK_EQ_INT(n, 0);
}

TEST(cranfield_related)
{
    char *path = sy_path_join(check_shared_data(), "cranfield");
    if (!check_need(path)) { free(path); return; }
    sy_err err = {0};
    corpus *c = corpus_load(path, CORPUS_BEIR, &err);
    free(path);
    CHECK(c != NULL, "%s", err.msg);
    if (!c) return;
    offline_index *ix = offline_index_build(c, &err);
    CHECK(ix != NULL, "%s", err.msg);
    int64_t q = corpus_query_find(c, "3");   /* heat conduction in composite slabs */
    CHECK(q >= 0, "query 3");
    uint32_t out[8];
    int64_t d5 = corpus_doc_find(c, "5");
    uint32_t ex = (uint32_t)d5;
    size_t n = offline_related(ix, corpus_query_text(c, (uint32_t)q), &ex, 1, out, 8);
    CHECK_EQ_INT(n, 8);
    int heat = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(out[i] != ex, "excluded doc returned");
        heat += strstr(corpus_doc_text(c, out[i]), "heat") != NULL;
    }
    CHECK(heat >= 6, "related passages are about heat: %d of 8", heat);
    /* edit a real positive */
    const char *texts[8];
    for (size_t i = 0; i < n; i++) texts[i] = corpus_doc_text(c, out[i]);
    offline_neg neg[4];
    size_t k = offline_generate(corpus_query_text(c, (uint32_t)q), corpus_doc_text(c, ex), texts, n, 3, 4, neg);
    CHECK(k >= 3, "edits of doc 5: %zu", k);
    for (size_t i = 0; i < k; i++) {
        CHECK(strlen(neg[i].text) > 50, "non-trivial text");
        offline_neg_free(&neg[i]);
    }
    offline_index_free(ix);
    corpus_free(c);
}

int main(void)
{
    RUN(three_edits);
    RUN(deterministic_by_seed);
    RUN(no_related_still_edits);
    RUN(cranfield_related);
    return check_done();
}
