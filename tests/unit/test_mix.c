/* test_mix: hybrid sampling on the fixture session (see mix_fixture.h):
 * exclusions by reason, labels winning, ratios, fills, repeats, strategies,
 * schedule and determinism. */
#include "../check.h"

#include "mix.h"
#include "util.h"
#include "mix_fixture.h"

static mix_set *build(session *s, const mix_opts *o)
{
    sy_err err = {0};
    mix_set *m = mix_build(s, o, &err);
    CHECK(m != NULL, "mix_build: %s", err.msg);
    return m;
}

static int draw(mix_set *m, unsigned e, unsigned n)
{
    sy_err err = {0};
    int rc = mix_draw(m, e, n, &err);
    CHECK(rc == 0, "mix_draw: %s", err.msg);
    return rc;
}

static int has_neg(const mix_instance *in, const char *id)
{
    for (size_t j = 0; j < in->nneg; j++)
        if (!strcmp(in->negs[j]->id, id)) return 1;
    return 0;
}

static size_t count_class(const mix_instance *in, int cls)
{
    size_t k = 0;
    for (size_t j = 0; j < in->nneg; j++) k += mix_source_class(in->negs[j]->source) == cls;
    return k;
}

TEST(parse)
{
    double a, b;
    CHECK(mix_parse_ratio("0.3", &a, &b) == 0 && a == 0.3 && b == 0.3, "R");
    CHECK(mix_parse_ratio("0.2:0.6", &a, &b) == 0 && a == 0.2 && b == 0.6, "R0:R1");
    CHECK(mix_parse_ratio("1.5", &a, &b) < 0, "out of range");
    CHECK(mix_parse_ratio("0.2:", &a, &b) < 0, "dangling colon");
    CHECK(mix_parse_ratio("x", &a, &b) < 0, "garbage");
    CHECK_EQ_INT(mix_strategy_parse("batch"), MIX_BATCH);
    CHECK_EQ_INT(mix_strategy_parse("nope"), -1);
    CHECK_EQ_INT(mix_source_class(NEG_LLM), MIX_SYNTHETIC);
    CHECK_EQ_INT(mix_source_class(NEG_OFFLINE), MIX_SYNTHETIC);
    CHECK_EQ_INT(mix_source_class(NEG_IMPORT), MIX_RETRIEVED);
    CHECK_EQ_INT(mix_source_class(NEG_MANUAL), MIX_RETRIEVED);
}

TEST(exclusions_unlabelled)
{
    char *dir = fx_session("mix-ex", 0);
    session *s = fx_open(dir, SESSION_READ);
    mix_opts o;
    mix_opts_default(&o);
    mix_set *m = build(s, &o);
    if (m) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(mix_ninstances(m), 3);
        CHECK_EQ_INT(r->queries, 2);
        CHECK_EQ_INT(r->positives_qrels, 3);
        CHECK_EQ_INT(r->excluded[MIX_X_POSITIVE], 1);
        CHECK_EQ_INT(r->excluded[MIX_X_SUSPECT], 2);
        CHECK_EQ_INT(r->excluded[MIX_X_FILTERED], 1);
        CHECK_EQ_INT(r->excluded[MIX_X_DUPLICATE], 1);
        CHECK_EQ_INT(r->excluded[MIX_X_UNKNOWN], 1);
        CHECK_EQ_INT(r->excluded[MIX_X_REJECTED], 0);
        CHECK_EQ_INT(r->candidates[NEG_BM25], 5);
        CHECK_EQ_INT(r->candidates[NEG_DENSE], 1);
        CHECK_EQ_INT(r->candidates[NEG_LLM], 2);
        CHECK_EQ_INT(r->candidates[NEG_OFFLINE], 1);
        size_t n;
        const mix_passage *pool = mix_query_pool(m, 0, &n);
        CHECK_EQ_INT(n, 6);
        for (size_t i = 0; i < n; i++) {
            CHECK(strcmp(pool[i].id, "d1") && strcmp(pool[i].id, "d5") && strcmp(pool[i].id, "d8"),
                  "excluded %s in the pool", pool[i].id);
        }
        const mix_passage *pos = mix_query_positives(m, 0, &n);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_STR(pos[0].id, "d1");
        CHECK_EQ_STR(pos[1].id, "d2");
        CHECK_EQ_INT(pos[1].source, MIX_SRC_QRELS);
    }
    mix_free(m);
    session_close(s);
    fx_remove(dir);
}

TEST(labels_win)
{
    char *dir = fx_session("mix-lab", 1);
    session *s = fx_open(dir, SESSION_WRITE);
    sy_err err = {0};
    CHECK(labels_act(session_labels(s), "q1", "d3", ACT_REJECT, NULL, &err) == 0, "%s", err.msg);
    mix_opts o;
    mix_opts_default(&o);
    o.num = 5;
    mix_set *m = build(s, &o);
    char bid[64];
    neg_synthetic_id(NEG_LLM, FX_TEXT_B, bid, sizeof bid);
    if (m) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(r->excluded[MIX_X_REJECTED], 1);
        CHECK_EQ_INT(r->excluded[MIX_X_SUSPECT], 1);      /* B accepted: no longer excluded */
        int sawB = 0;
        for (unsigned e = 0; e < 20; e++) {
            if (draw(m, e, 20)) break;
            for (size_t i = 0; i < mix_ninstances(m); i++) {
                const mix_instance *in = mix_at(m, i);
                if (strcmp(in->query_id, "q1")) continue;
                CHECK(!has_neg(in, "d3"), "rejected d3 drawn in epoch %u", e);
                CHECK(!has_neg(in, "d1") && !has_neg(in, "d5"), "excluded row drawn");
                sawB |= has_neg(in, bid);
            }
        }
        CHECK(sawB, "the accepted suspect B was never drawn");
    }
    mix_free(m);
    /* reviewed-only: only B (accepted) for q1; q2 has nothing reviewed */
    o.reviewed_only = 1;
    o.num = 3;
    m = build(s, &o);
    if (m) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(mix_ninstances(m), 2);
        CHECK_EQ_INT(r->skipped_no_negatives, 1);
        CHECK_EQ_INT(r->excluded[MIX_X_UNREVIEWED], 12);  /* q1: 9 (d3 is rejected), q2: 3 */
        if (!draw(m, 0, 1))
            for (size_t i = 0; i < mix_ninstances(m); i++)
                for (size_t j = 0; j < 3; j++) CHECK_EQ_STR(mix_at(m, i)->negs[j]->id, bid);
        CHECK_EQ_INT(mix_get_report(m)->repeats, 4);
    }
    mix_free(m);
    /* promote: rejected d3 joins q1's positives, rejected d1 becomes q3's positive */
    mix_opts_default(&o);
    o.promote = 1;
    o.num = 2;
    m = build(s, &o);
    if (m) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(r->positives_promoted, 2);
        CHECK_EQ_INT(mix_ninstances(m), 5);
        CHECK_EQ_INT(r->queries, 3);
        if (!draw(m, 0, 1)) {
            const mix_instance *last = mix_at(m, 4);
            CHECK_EQ_STR(last->query_id, "q3");
            CHECK_EQ_STR(last->pos->id, "d1");
            CHECK_EQ_INT(last->pos->label, LABEL_REJECT);
            CHECK_EQ_STR(last->negs[0]->id, "d2");
            CHECK_EQ_STR(last->negs[1]->id, "d2");
            CHECK_EQ_STR(mix_at(m, 2)->pos->id, "d3");
        }
    }
    mix_free(m);
    session_close(s);
    fx_remove(dir);
}

TEST(ratio_fill_repeat)
{
    char *dir = fx_session("mix-ratio", 1);
    session *s = fx_open(dir, SESSION_READ);
    mix_opts o;
    mix_opts_default(&o);
    o.num = 4;
    o.mix_start = o.mix_end = 0.5;
    mix_set *m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        for (size_t i = 0; i < 2; i++) {      /* q1: 3 synthetic, 4 retrieved */
            const mix_instance *in = mix_at(m, i);
            CHECK_EQ_STR(in->query_id, "q1");
            CHECK_EQ_INT(count_class(in, MIX_SYNTHETIC), 2);
            CHECK_EQ_INT(count_class(in, MIX_RETRIEVED), 2);
            for (size_t a = 0; a < 4; a++)
                for (size_t b = a + 1; b < 4; b++) CHECK(in->negs[a] != in->negs[b], "repeat in q1");
        }
        CHECK_EQ_INT(mix_get_report(m)->repeats, 1);  /* q2: pool of 3 for 4 */
        CHECK_EQ_INT(mix_at(m, 2)->nneg, 4);
    }
    mix_free(m);
    session_close(s);
    fx_remove(dir);

    dir = fx_session("mix-fill", 0);
    s = fx_open(dir, SESSION_READ);
    /* a ratio means what it says: R 1 is synthetic only, R 0 retrieved only;
     * short classes repeat their own rows, nothing is filled */
    o.mix_start = o.mix_end = 1.0;
    m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(r->fill_synthetic_short, 0);
        CHECK_EQ_INT(r->fill_retrieved_short, 0);
        size_t syn = r->drawn[NEG_LLM] + r->drawn[NEG_OFFLINE];
        CHECK_EQ_INT(syn, 4 * mix_ninstances(m));
        CHECK_EQ_INT(r->repeats, 4 * mix_ninstances(m) - 5);   /* q1: 2 rows for 4, twice; q2: 1 for 4 */
    }
    mix_free(m);
    o.mix_start = o.mix_end = 0.0;
    m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(r->drawn[NEG_LLM] + r->drawn[NEG_OFFLINE], 0);
        CHECK_EQ_INT(r->fill_retrieved_short + r->fill_synthetic_short, 0);
        CHECK_EQ_INT(r->repeats, 2);   /* q2: d1, d2 for 4 (its synthetic D is not drawn) */
    }
    mix_free(m);

    /* filling from the other class is an explicit option, and counted */
    o.fill = 1;
    o.mix_start = o.mix_end = 1.0;
    m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(r->fill_synthetic_short, 6);   /* q1: 2 twice, q2: 2 */
        CHECK_EQ_INT(r->fill_retrieved_short, 0);
        CHECK_EQ_INT(r->repeats, 1);
        size_t syn = r->drawn[NEG_LLM] + r->drawn[NEG_OFFLINE];   /* q1 2+2, q2 1 (+1 if the repeat is D) */
        CHECK(syn == 5 || syn == 6, "synthetic drawn %zu", syn);
    }
    mix_free(m);
    o.mix_start = o.mix_end = 0.0;
    m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        CHECK_EQ_INT(count_class(mix_at(m, 0), MIX_SYNTHETIC), 0);
        CHECK_EQ_INT(mix_get_report(m)->fill_retrieved_short, 1);   /* q2: d1, d2 + D */
    }
    mix_free(m);
    o.fill = 0;
    session_close(s);
    fx_remove(dir);
}

/* a pool < N: padded by repeats and reported (which query, how many distinct);
 * no_repeat gives the shorter group instead */
TEST(padding_reported_and_no_repeat)
{
    char *dir = fx_session("mix-pad", 1);
    session *s = fx_open(dir, SESSION_READ);
    mix_opts o;
    mix_opts_default(&o);
    o.num = 4;
    mix_set *m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(r->padded_instances, 1);          /* q2: 3 distinct for 4 slots */
        CHECK_EQ_STR(r->padded_query, "q2");
        CHECK_EQ_INT(r->padded_distinct, 3);
        CHECK_EQ_INT(r->repeats, 1);
    }
    mix_free(m);
    o.no_repeat = 1;
    m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        const mix_instance *in = mix_at(m, 2);
        CHECK_EQ_STR(in->query_id, "q2");
        CHECK_EQ_INT(in->nneg, 3);
        for (size_t a = 0; a < in->nneg; a++)
            for (size_t b = a + 1; b < in->nneg; b++) CHECK(in->negs[a] != in->negs[b], "repeat with no_repeat");
        CHECK_EQ_INT(mix_get_report(m)->repeats, 0);
        CHECK_EQ_INT(mix_get_report(m)->padded_instances, 1);
        CHECK_EQ_INT(mix_at(m, 0)->nneg, 4);           /* q1 has enough: full groups */
    }
    mix_free(m);
    session_close(s);
    fx_remove(dir);
}

/* a document BM25 and dense mining both found (one store row per source) is
 * one candidate, never twice in a group */
TEST(one_candidate_per_document)
{
    char *dir = fx_session("mix-twice", 1);
    sy_err err = {0};
    neg_writer *w = neg_writer_new(dir, "mine-dense", 0, &err);
    fx_row(w, "q2", "d1", NULL, NEG_DENSE, 1, 0.9f, 0);
    fx_row(w, "q2", "d2", NULL, NEG_DENSE, 2, 0.8f, 0);
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    session *s = fx_open(dir, SESSION_READ);
    mix_opts o;
    mix_opts_default(&o);
    o.num = 3;
    o.no_repeat = 1;   /* no padding: any repeat would be the document counted twice */
    mix_set *m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        const mix_instance *in = mix_at(m, 2);
        CHECK_EQ_STR(in->query_id, "q2");
        size_t n;
        mix_query_pool(m, 2, &n);
        CHECK_EQ_INT(n, 3);                            /* d1, d2, D: not d1, d2 twice */
        for (size_t a = 0; a < in->nneg; a++)
            for (size_t b = a + 1; b < in->nneg; b++) CHECK(strcmp(in->negs[a]->id, in->negs[b]->id), "same document twice");
        CHECK_EQ_INT(mix_get_report(m)->excluded[MIX_X_DUPLICATE], 2 + 1);   /* the two dense rows + q1's DUP row */
    }
    mix_free(m);
    session_close(s);
    fx_remove(dir);
}

/* two queries with the same text and different qrels: a positive of one is
 * not a negative of the other */
TEST(same_text_queries)
{
    char *tmp = check_tmpdir("mix-same");
    char *data = sy_path_join(tmp, "data"), *dir = sy_path_join(tmp, "s");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/qrels' && cd '%s' && "
             "printf '{\"_id\":\"d1\",\"title\":\"\",\"text\":\"one\"}\n{\"_id\":\"d2\",\"title\":\"\",\"text\":\"two\"}\n{\"_id\":\"d3\",\"title\":\"\",\"text\":\"three\"}\n' > corpus.jsonl && "
             "printf '{\"_id\":\"c89\",\"text\":\"the same claim\"}\n{\"_id\":\"c90\",\"text\":\"the same claim\"}\n{\"_id\":\"c91\",\"text\":\"another claim\"}\n' > queries.jsonl && "
             "printf 'query-id\tcorpus-id\tscore\nc89\td1\t1\nc90\td2\t1\nc91\td3\t1\n' > qrels/train.tsv && "
             "printf 'query-id\tcorpus-id\tscore\nc91\td3\t1\n' > qrels/test.tsv", data, data);
    CHECK(system(cmd) == 0, "write the data set");
    session_source src = { data, CORPUS_BEIR, "train", "test" };
    sy_err err = {0};
    CHECK(session_create(dir, &src, &err) == 0, "%s", err.msg);
    neg_writer *w = neg_writer_new(dir, "mine-bm25", 0, &err);
    fx_row(w, "c89", "d2", NULL, NEG_BM25, 1, 3.0f, 0);   /* c90's positive */
    fx_row(w, "c89", "d3", NULL, NEG_BM25, 2, 2.0f, 0);
    fx_row(w, "c90", "d1", NULL, NEG_BM25, 1, 3.0f, 0);   /* c89's positive */
    fx_row(w, "c90", "d3", NULL, NEG_BM25, 2, 2.0f, 0);
    fx_row(w, "c91", "d1", NULL, NEG_BM25, 1, 1.0f, 0);   /* another text: a fine negative */
    CHECK_EQ_INT(neg_writer_commit(w, &err), 0);
    neg_writer_free(w);
    session *s = session_open(dir, SESSION_READ, &err);
    CHECK(s != NULL, "%s", err.msg);
    mix_opts o;
    mix_opts_default(&o);
    o.num = 2;
    mix_set *m = s ? build(s, &o) : NULL;
    if (m && !draw(m, 0, 1)) {
        const mix_report *r = mix_get_report(m);
        CHECK_EQ_INT(r->same_text_queries, 2);
        CHECK_EQ_INT(r->same_text_excluded, 2);
        CHECK_EQ_STR(r->same_text_query, "c89");
        CHECK_EQ_STR(r->same_text_twin, "c90");
        CHECK_EQ_STR(r->same_text_doc, "d2");
        for (size_t i = 0; i < mix_ninstances(m); i++) {
            const mix_instance *in = mix_at(m, i);
            if (!strcmp(in->query_id, "c89")) CHECK(!has_neg(in, "d2"), "c90's positive is a negative of c89");
            if (!strcmp(in->query_id, "c90")) CHECK(!has_neg(in, "d1"), "c89's positive is a negative of c90");
            if (!strcmp(in->query_id, "c91")) CHECK(has_neg(in, "d1"), "c91 keeps d1");
        }
    }
    mix_free(m);
    session_close(s);
    check_rmrf(tmp);
    free(tmp); free(data); free(dir);
}

TEST(batch_and_schedule)
{
    char *dir = fx_session("mix-batch", 1);
    session *s = fx_open(dir, SESSION_READ);
    mix_opts o;
    mix_opts_default(&o);
    o.strategy = MIX_BATCH;
    o.batch_size = 2;
    o.num = 2;
    mix_set *m = build(s, &o);
    if (m && !draw(m, 0, 1)) {
        int c0 = mix_at(m, 0)->cls, c1 = mix_at(m, 1)->cls;
        CHECK(c0 != c1, "a window of 2 at R=0.5 holds one of each class (%d %d)", c0, c1);
        CHECK_EQ_INT(mix_at(m, 2)->cls, MIX_SYNTHETIC);   /* window of 1: round(0.5) = 1 */
        for (size_t i = 0; i < 2; i++) {
            const mix_instance *in = mix_at(m, i);
            CHECK_EQ_INT(count_class(in, in->cls), 2);   /* q1 has enough of both */
        }
    }
    mix_free(m);
    /* schedule 0 -> 1 over two epochs of 3 instances */
    mix_opts_default(&o);
    o.mix_start = 0;
    o.mix_end = 1;
    o.num = 2;
    m = build(s, &o);
    if (m) {
        if (!draw(m, 0, 2)) {
            CHECK_NEAR(mix_at(m, 0)->ratio, 0.0, 1e-12);
            CHECK_NEAR(mix_at(m, 1)->ratio, 0.2, 1e-12);
            CHECK_EQ_INT(count_class(mix_at(m, 0), MIX_SYNTHETIC), 0);
        }
        if (!draw(m, 1, 2)) {
            CHECK_NEAR(mix_at(m, 2)->ratio, 1.0, 1e-12);
            CHECK_EQ_INT(count_class(mix_at(m, 1), MIX_SYNTHETIC), 2);   /* q1 at R 0.8 */
        }
    }
    mix_free(m);
    sy_err err = {0};
    mix_opts_default(&o);
    o.split = "nosuch";
    CHECK(mix_build(s, &o, &err) == NULL && err.code == SY_ENOTFOUND, "unknown split: %s", err.msg);
    mix_opts_default(&o);
    o.num = 0;
    CHECK(mix_build(s, &o, &err) == NULL && err.code == SY_EINVAL, "num 0");
    session_close(s);
    fx_remove(dir);
}

static void signature(mix_set *m, sy_buf *b)
{
    for (size_t i = 0; i < mix_ninstances(m); i++) {
        const mix_instance *in = mix_at(m, i);
        sy_buf_printf(b, "%s/%s:", in->query_id, in->pos->id);
        for (size_t j = 0; j < in->nneg; j++) sy_buf_printf(b, "%s,", in->negs[j]->id);
        sy_buf_puts(b, ";");
    }
}

TEST(determinism)
{
    char *dir = fx_session("mix-det", 1);
    session *s = fx_open(dir, SESSION_READ);
    mix_opts o;
    mix_opts_default(&o);
    o.num = 4;
    o.shuffle = 1;
    o.promote = 1;
    sy_buf a = {0}, b = {0}, c = {0};
    for (int run = 0; run < 3; run++) {
        if (run == 2) o.seed = 7;
        mix_set *m = build(s, &o);
        if (!m) break;
        for (unsigned e = 0; e < 4; e++)
            if (!draw(m, e, 4)) signature(m, run == 0 ? &a : run == 1 ? &b : &c);
        mix_free(m);
    }
    CHECK(a.len && b.len && a.len == b.len && !memcmp(a.data, b.data, a.len), "same seed, different draws");
    CHECK(c.len && (c.len != a.len || memcmp(a.data, c.data, a.len)), "seed 7 drew exactly like seed 42");
    sy_buf_free(&a); sy_buf_free(&b); sy_buf_free(&c);
    session_close(s);
    fx_remove(dir);
}

int main(void)
{
    RUN(parse);
    RUN(exclusions_unlabelled);
    RUN(labels_win);
    RUN(ratio_fill_repeat);
    RUN(padding_reported_and_no_repeat);
    RUN(one_candidate_per_document);
    RUN(same_text_queries);
    RUN(batch_and_schedule);
    RUN(determinism);
    return check_done();
}
