/* test_offline: the offline generator (a stand-in for an LLM): both methods,
 * no bare negation, titles, determinism, and on the real Cranfield corpus
 * related passages plus the overlap, title and length of what it writes. */
#include "../check.h"

#include "corpus.h"
#include "audit.h"
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

static const offline_doc POSD = {"Boiling of water", NULL};
static const offline_doc RELD[] = {
    {"Ethanol", NULL}, {"Boiling on mountains", NULL},
};

static int find_method(offline_neg *o, size_t n, const char *m)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(o[i].method, m)) return (int)i;
    return -1;
}

static size_t gen(uint64_t seed, size_t k, offline_neg *out, int titled, size_t nrel)
{
    offline_doc pos = POSD, rel[2] = {RELD[0], RELD[1]};
    pos.text = POS;
    rel[0].text = REL[0];
    rel[1].text = REL[1];
    if (!titled) pos.title = rel[0].title = rel[1].title = "";
    return offline_generate(Q, &pos, nrel ? rel : NULL, nrel, seed, k, out);
}

TEST(two_methods_no_negation)
{
    offline_neg out[6];
    size_t n = gen(42, 4, out, 1, 2);
    CHECK(n >= 3, "negatives: %zu", n);
    int r = find_method(out, n, "recombine"), s = find_method(out, n, "swap");
    CHECK(r >= 0 && s >= 0, "both methods used");
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(out[i].text, POS) != 0, "edit %zu differs from the positive", i);
        CHECK(out[i].detail && *out[i].detail, "detail");
        CHECK(!strstr(out[i].text, " not ") && !strstr(out[i].text, "cannot"), "no bare negation: %s", out[i].text);
        /* format parity: a title of the collection (a related passage's), never none */
        CHECK(!strcmp(out[i].title, "Ethanol") || !strcmp(out[i].title, "Boiling on mountains"), "title '%s'",
              out[i].title);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(out[i].text, out[j].text) != 0, "distinct %zu %zu", i, j);
    }
    if (r >= 0) {
        CHECK(strstr(out[r].text, "100 degrees") == NULL, "the answer is gone: %s", out[r].text);
        CHECK(strstr(out[r].text, "Water is a common liquid.") != NULL, "the topic sentence is kept: %s", out[r].text);
        CHECK(strstr(out[r].text, "boils at 78") || strstr(out[r].text, "near 70"), "related sentences: %s", out[r].text);
        CHECK(strstr(out[r].detail, "recombined") && strstr(out[r].detail, "left out"), "%s", out[r].detail);
        CHECK(audit_word_overlap(out[r].text, POS) <= 0.8, "overlap %.2f: %s", audit_word_overlap(out[r].text, POS),
              out[r].text);
    }
    if (s >= 0) {
        /* the answering sentence states another fact: its number or term swapped from a related passage */
        CHECK(strstr(out[s].detail, "swapped") != NULL, "%s", out[s].detail);
        CHECK(!strstr(out[s].text, "boils at 100 degrees Celsius"), "answer intact: %s", out[s].text);
    }
    for (size_t i = 0; i < n; i++) offline_neg_free(&out[i]);
}

TEST(deterministic_by_seed)
{
    offline_neg a[4], b[4], c[4];
    size_t na = gen(7, 4, a, 1, 2), nb = gen(7, 4, b, 1, 2), nc = gen(8, 4, c, 1, 2);
    CHECK_EQ_INT(na, nb);
    int same = na == nc;
    for (size_t i = 0; i < na && i < nb; i++) CHECK_EQ_STR(a[i].text, b[i].text);
    for (size_t i = 0; same && i < na; i++) same = !strcmp(a[i].text, c[i].text);
    CHECK(!same, "another seed gives other negatives");
    for (size_t i = 0; i < na; i++) offline_neg_free(&a[i]);
    for (size_t i = 0; i < nb; i++) offline_neg_free(&b[i]);
    for (size_t i = 0; i < nc; i++) offline_neg_free(&c[i]);
}

TEST(untitled_and_no_related)
{
    offline_neg out[3];
    size_t n = gen(1, 3, out, 0, 2);
    CHECK(n >= 2, "untitled: %zu", n);
    for (size_t i = 0; i < n; i++) CHECK_EQ_STR(out[i].title, "");
    for (size_t i = 0; i < n; i++) offline_neg_free(&out[i]);
    n = gen(1, 3, out, 1, 0);
    CHECK(find_method(out, n, "recombine") < 0, "recombine needs a related passage");
    for (size_t i = 0; i < n; i++) {
        CHECK(!strcmp(out[i].method, "swap") && !strcmp(out[i].title, ""), "no related: swap, no title");
        offline_neg_free(&out[i]);
    }
    /* a text with nothing to use gives nothing rather than a copy */
    offline_doc tiny = {"", "ok"};
    n = offline_generate("x", &tiny, NULL, 0, 1, 3, out);
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
    /* negatives for real positives: titled like the collection, about as long,
     * sharing the topic but not copying the positive (median overlap <= 0.8) */
    const corpus_qrels *qr = corpus_qrels_for(c, "train");
    double ov[400];
    size_t nov = 0, titled = 0, total = 0, len_ok = 0;
    for (uint32_t qi = 0; qi < corpus_nqueries(c) && nov < 360; qi++) {
        size_t nr;
        const corpus_qrel *rows = corpus_qrels_of(qr, qi, &nr);
        if (!nr) continue;
        uint32_t pd = rows[0].doc;
        size_t m = offline_related(ix, corpus_query_text(c, qi), &pd, 1, out, 8);
        offline_doc rel[8];
        for (size_t i = 0; i < m; i++) rel[i] = (offline_doc){corpus_doc_title(c, out[i]), corpus_doc_text(c, out[i])};
        offline_doc pos = {corpus_doc_title(c, pd), corpus_doc_text(c, pd)};
        offline_neg neg[4];
        size_t k = offline_generate(corpus_query_text(c, qi), &pos, rel, m, 3, 4, neg);
        for (size_t i = 0; i < k; i++) {
            total++;
            titled += *neg[i].title != 0;
            ov[nov++] = audit_word_overlap(neg[i].text, pos.text);
            double lr = (double)strlen(neg[i].text) / (double)(strlen(pos.text) + 1);
            len_ok += lr > 0.5 && lr < 2.0;
            offline_neg_free(&neg[i]);
        }
    }
    for (size_t i = 1; i < nov; i++)   /* insertion sort for the median */
        for (size_t j = i; j > 0 && ov[j - 1] > ov[j]; j--) { double t = ov[j]; ov[j] = ov[j - 1]; ov[j - 1] = t; }
    double med = nov ? ov[nov / 2] : 1;
    printf("# cranfield: %zu negatives, median word overlap with the positive %.3f, %zu titled, %zu of similar length\n",
           total, med, titled, len_ok);
    CHECK(total >= 300, "negatives made: %zu", total);
    CHECK(med <= 0.8, "median overlap %.3f", med);
    CHECK(titled == total, "titled: %zu of %zu", titled, total);
    CHECK(len_ok >= total * 9 / 10, "similar length: %zu of %zu", len_ok, total);
    offline_index_free(ix);
    corpus_free(c);
}

int main(void)
{
    RUN(two_methods_no_negation);
    RUN(deterministic_by_seed);
    RUN(untitled_and_no_related);
    RUN(cranfield_related);
    return check_done();
}
