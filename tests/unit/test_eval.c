/* eval: hand-computed trec_eval values for every metric and edge case. */
#include "../check.h"
#include "eval.h"

static eval_opts O;

static void setup(void)
{
    sy_err err = {0};
    eval_opts_default(&O);
    if (eval_parse_cuts(&O, "10,2", &err) < 0) fprintf(stderr, "%s\n", err.msg);
}

/* Q1: A rel 2, B rel 1, C rel 0, D rel 1 (never retrieved), I rel -1 (unjudged).
 * Hits X 3.0, A 2.0, C 2.0, B 1.0, E 0.5, I 0.4: A and C tie; trec_eval puts
 * the larger docno first, so the ranking is X C A B E I.
 *   DCG@10  = 2/log2(4) + 1/log2(5)         = 1.4306765581
 *   IDCG@10 = 2 + 1/log2(3) + 1/log2(4)     = 3.1309297536  -> nDCG 0.4569494274
 *   relevant = 3 (A, B, D); MRR = 1/3; Recall@10 = 2/3; P@10 = 0.2
 *   MAP = (1/3 + 2/4) / 3 = 0.2777777778; @2 everything is 0 */
static const eval_judgment J1[] = {{"A", 2}, {"B", 1}, {"C", 0}, {"D", 1}, {"I", -1}};

TEST(ties_graded_unjudged)
{
    eval_hit h[] = {{"B", 1.0f}, {"A", 2.0f}, {"E", 0.5f}, {"X", 3.0f}, {"C", 2.0f}, {"I", 0.4f}};
    eval_result r;
    sy_err err = {0};
    CHECK(eval_query(&O, h, 6, J1, 5, &r, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(h[1].docno, "C");
    CHECK_EQ_STR(h[2].docno, "A");
    CHECK_EQ_INT(O.cuts[0], 2);
    CHECK_EQ_INT(O.cuts[1], 10);
    CHECK_NEAR(r.ndcg[1], 0.4569494274, 1e-9);
    CHECK_NEAR(r.mrr[1], 1.0 / 3, 1e-12);
    CHECK_NEAR(r.recall[1], 2.0 / 3, 1e-12);
    CHECK_NEAR(r.precision[1], 0.2, 1e-12);
    CHECK_NEAR(r.map, 0.2777777778, 1e-9);
    CHECK_NEAR(r.ndcg[0], 0, 1e-12);
    CHECK_NEAR(r.mrr[0], 0, 1e-12);
    CHECK_NEAR(r.recall[0], 0, 1e-12);
    CHECK_EQ_INT(r.num_rel, 3);
    CHECK_EQ_INT(r.num_rel_ret, 2);
    /* the tie broken the other way would put A at rank 2: the order matters */
    eval_hit h2[] = {{"X", 3.0f}, {"A", 2.0f}, {"B", 1.0f}};
    eval_judgment j2[] = {{"A", 1}, {"B", 1}};
    CHECK(eval_query(&O, h2, 3, j2, 2, &r, &err) == 0, "%s", err.msg);
    CHECK_NEAR(r.mrr[0], 0.5, 1e-12);
}

/* Q3: fewer hits than k, graded: G rel 3, H rel 1; hits H 5.0, G 4.0.
 *   DCG = 1 + 3/log2(3) = 2.8927892607; IDCG = 3 + 1/log2(3) = 3.6309297536
 *   nDCG@10 = nDCG@2 = 0.7967075810; MRR 1; Recall 1; MAP 1; P@10 = 0.2 */
TEST(fewer_hits_than_k)
{
    eval_hit h[] = {{"H", 5.0f}, {"G", 4.0f}};
    eval_judgment j[] = {{"G", 3}, {"H", 1}};
    eval_result r;
    sy_err err = {0};
    CHECK(eval_query(&O, h, 2, j, 2, &r, &err) == 0, "%s", err.msg);
    CHECK_NEAR(r.ndcg[1], 0.7967075810, 1e-9);
    CHECK_NEAR(r.ndcg[0], 0.7967075810, 1e-9);
    CHECK_NEAR(r.mrr[1], 1, 1e-12);
    CHECK_NEAR(r.recall[1], 1, 1e-12);
    CHECK_NEAR(r.map, 1, 1e-12);
    CHECK_NEAR(r.precision[1], 0.2, 1e-12);
    CHECK_NEAR(r.precision[0], 1, 1e-12);
}

TEST(no_relevant_and_no_hits)
{
    eval_hit h[] = {{"F", 1.0f}};
    eval_judgment j[] = {{"F", 0}};
    eval_result r1, r2, r3, z, mean;
    sy_err err = {0};
    CHECK(eval_query(&O, h, 1, j, 1, &r2, &err) == 0, "%s", err.msg);
    CHECK(r2.ndcg[1] == 0 && r2.recall[1] == 0 && r2.map == 0 && r2.mrr[1] == 0, "no relevant: all zero");
    /* the query of test ties_graded_unjudged and fewer_hits_than_k, plus this one */
    eval_hit h1[] = {{"B", 1.0f}, {"A", 2.0f}, {"E", 0.5f}, {"X", 3.0f}, {"C", 2.0f}, {"I", 0.4f}};
    eval_query(&O, h1, 6, J1, 5, &r1, &err);
    eval_hit h3[] = {{"H", 5.0f}, {"G", 4.0f}};
    eval_judgment j3[] = {{"G", 3}, {"H", 1}};
    eval_query(&O, h3, 2, j3, 2, &r3, &err);
    eval_query(&O, NULL, 0, j3, 2, &z, &err);
    CHECK(z.ndcg[1] == 0 && z.num_rel == 2, "no hits: zero, 2 relevant");
    eval_acc a;
    eval_opts od = O;
    od.complete = 0;            /* trec_eval without -c (syneg eval --drop-no-hits) */
    eval_acc_init(&a, &od);
    eval_acc_add(&a, &r1, 6);
    eval_acc_add(&a, &r2, 1);   /* judged, nothing relevant: counted as 0 (trec_eval) */
    eval_acc_add(&a, &r3, 2);
    eval_acc_add(&a, &z, 0);    /* judged, no hits: left out without -c */
    eval_acc_mean(&a, &mean);
    CHECK_EQ_INT(a.queries, 3);
    CHECK_NEAR(mean.ndcg[1], 0.4178856695, 1e-9);   /* (0.4569494274 + 0 + 0.7967075810) / 3 */
    CHECK_NEAR(mean.map, (0.2777777778 + 0 + 1) / 3, 1e-9);
    /* the default is trec_eval -c (BEIR, Anserini): the query without hits counts as 0 */
    CHECK_EQ_INT(O.complete, 1);
    eval_opts oc = O;
    eval_acc_init(&a, &oc);
    eval_acc_add(&a, &r1, 6);
    eval_acc_add(&a, &r2, 1);
    eval_acc_add(&a, &r3, 2);
    eval_acc_add(&a, &z, 0);
    eval_acc_mean(&a, &mean);
    CHECK_EQ_INT(a.queries, 4);
    CHECK_NEAR(mean.ndcg[1], 0.3134142521, 1e-9);
    /* nothing counted: zeros, not NaN */
    eval_acc_init(&a, &O);
    eval_acc_mean(&a, &mean);
    CHECK(mean.ndcg[0] == 0 && mean.map == 0, "empty mean is zero");
}

TEST(rel_level_and_cut_parsing)
{
    eval_opts o = O;
    o.rel_level = 2;     /* trec_eval -l 2: only grade >= 2 is relevant; nDCG gains unchanged */
    eval_hit h[] = {{"H", 5.0f}, {"G", 4.0f}};
    eval_judgment j[] = {{"G", 3}, {"H", 1}};
    eval_result r;
    sy_err err = {0};
    eval_query(&o, h, 2, j, 2, &r, &err);
    CHECK_EQ_INT(r.num_rel, 1);
    CHECK_NEAR(r.mrr[1], 0.5, 1e-12);
    CHECK_NEAR(r.map, 0.5, 1e-12);
    CHECK_NEAR(r.ndcg[1], 0.7967075810, 1e-9);
    eval_opts p;
    eval_opts_default(&p);
    CHECK(eval_parse_cuts(&p, "1000,10,100,10", &err) == 0, "%s", err.msg);
    CHECK(p.ncuts == 3 && p.cuts[0] == 10 && p.cuts[2] == 1000, "sorted, de-duplicated");
    CHECK(eval_parse_cuts(&p, "10,x", &err) < 0 && err.code == SY_EINVAL, "bad cut refused");
    CHECK(eval_parse_cuts(&p, "0", &err) < 0, "zero refused");
    CHECK(eval_parse_cuts(&p, "", &err) < 0, "empty refused");
    char line[128];
    eval_format_run_line(line, sizeof line, "q1", "d7", 3, 1.23456789f, "run");
    CHECK_EQ_STR(line, "q1 Q0 d7 3 1.234568 run\n");
}

int main(void)
{
    setup();
    RUN(ties_graded_unjudged);
    RUN(fewer_hits_than_k);
    RUN(no_relevant_and_no_hits);
    RUN(rel_level_and_cut_parsing);
    return check_done();
}
