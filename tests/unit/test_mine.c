/* mine: masking, text de-duplication, positive-aware filters kept as suspects,
 * top/random sampling, replacement on re-mining, the saved report. */
#include <math.h>

#include "../check.h"
#include "mine.h"
#include "negstore.h"
#include "retriever.h"
#include "session.h"
#include "settings.h"
#include "util.h"

static char *dir, *data, *sdir;

static void write_file(const char *rel, const char *text)
{
    char *p = sy_path_join(data, rel);
    sy_write_file_atomic(p, text, strlen(text), NULL);
    free(p);
}

static void make_data(void)
{
    data = sy_path_join(dir, "data");
    char *q = sy_path_join(data, "qrels");
    sy_mkdir_p(q, NULL);
    free(q);
    sy_buf c = {0};
    sy_buf_puts(&c, "{\"_id\": \"p1\", \"title\": \"\", \"text\": \"wing lift slipstream propeller\"}\n");
    sy_buf_puts(&c, "{\"_id\": \"dup\", \"title\": \"\", \"text\": \"Wing  lift, slipstream propeller!\"}\n");
    sy_buf_puts(&c, "{\"_id\": \"n1\", \"title\": \"\", \"text\": \"wing lift slipstream\"}\n");
    sy_buf_puts(&c, "{\"_id\": \"t1\", \"title\": \"\", \"text\": \"wing tunnel\"}\n");
    sy_buf_puts(&c, "{\"_id\": \"t2\", \"title\": \"\", \"text\": \"wing tunnel\"}\n");
    for (int i = 0; i < 12; i++)
        sy_buf_printf(&c, "{\"_id\": \"f%d\", \"title\": \"\", \"text\": \"wing filler%d words here and there %s\"}\n", i, i,
                      i % 2 ? "more words" : "");
    sy_buf_puts(&c, "{\"_id\": \"p2\", \"title\": \"\", \"text\": \"nothing shared\"}\n");
    sy_buf_puts(&c, "{\"_id\": \"z\", \"title\": \"\", \"text\": \"zebra\"}\n");
    write_file("corpus.jsonl", c.data);
    sy_buf_free(&c);
    write_file("queries.jsonl",
               "{\"_id\": \"q1\", \"text\": \"wing lift slipstream propeller\"}\n"
               "{\"_id\": \"q2\", \"text\": \"wing\"}\n"
               "{\"_id\": \"q3\", \"text\": \"zebra wing\"}\n"
               "{\"_id\": \"q4\", \"text\": \"tunnel\"}\n");
    write_file("qrels/train.tsv", "query-id\tcorpus-id\tscore\nq1\tp1\t1\nq2\tp2\t1\nq4\tt1\t0\n");
    write_file("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq3\tz\t1\n");
    /* q1 with two positives: one can be hidden (fn-eval) */
    write_file("qrels/multi.tsv", "query-id\tcorpus-id\tscore\nq1\tp1\t1\nq1\tn1\t1\n");
}

typedef struct { int n, clean, suspects, dup, maxrel, has_p1, has_t1, has_t2; } qsum;

static qsum summarize(session *s, const char *qid, double *P)
{
    qsum r = {0};
    neg_store *ns = session_negs(s);
    int changed;
    neg_store_refresh(ns, &changed, NULL);
    size_t n;
    const neg_ref *refs = neg_store_query(ns, qid, &n);
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(ns, refs[i], &row);
        r.n++;
        if (row.flags & NEG_F_SUSPECT) r.suspects++; else r.clean++;
        if (row.flags & NEG_F_DUP) r.dup++;
        if (row.flags & NEG_F_MAXREL) r.maxrel++;
        if (!strcmp(row.neg_id, "p1")) r.has_p1 = 1;
        if (!strcmp(row.neg_id, "t1")) r.has_t1 = 1;
        if (!strcmp(row.neg_id, "t2")) r.has_t2 = 1;
        CHECK(row.source == NEG_BM25, "source bm25");
        CHECK(row.rank >= 1, "rank is 1-based");
        CHECK(row.prov && row.prov[0] == '{', "prov is a JSON object");
        if (P && *P > 0) {
            if (row.flags & NEG_F_MAXREL) CHECK(row.score > 0.95 * *P, "max-rel suspect above 0.95 P");
            if (!row.flags) CHECK(row.score <= 0.95 * *P, "clean negative at most 0.95 P: %g vs %g", row.score, *P);
        }
    }
    return r;
}

TEST(mine_bm25)
{
    sy_err err = {0};
    session_source src = {data, CORPUS_BEIR, "train", "test"};
    CHECK(session_create(sdir, &src, &err) == 0, "%s", err.msg);
    session *s = session_open(sdir, SESSION_WRITE, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) return;
    retriever_opts ro = {.kind = "bm25"};
    retriever *r = retriever_open(s, &ro, &err);
    CHECK(r != NULL, "%s", err.msg);
    if (!r) { session_close(s); return; }
    mine_opts o;
    mine_opts_default(&o);
    CHECK(o.max_rel == 0 && o.fn_threshold == settings_num(NULL, "mine.fn_threshold"), "defaults: max-rel off, likelihood on");
    CHECK(o.suspect_min == 0.1 && o.suspect_max == 0.2 && o.pool == 3 && o.fn_threshold == 0.5,
          "the settings table's defaults: band %g..%g, pool %u", o.suspect_min, o.suspect_max, o.pool);
    o.range_lo = 0;
    o.range_hi = 100;
    o.num = 3;
    o.max_rel = 0.95;        /* the hard filter, asked for explicitly */
    o.fn_threshold = 2;      /* likelihood flags off: only the hard filters */
    mine_report rep;
    CHECK(mine_run(s, r, &o, &rep, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(rep.queries, 3);          /* q1, q2, q4 have train rows */
    CHECK_EQ_INT(rep.no_positive, 1);      /* q4: only a rel-0 row */
    CHECK_EQ_INT(rep.mined, 2);
    CHECK_EQ_INT(rep.masked_pos, 1);       /* p1 in q1's list */
    CHECK_EQ_INT(rep.dup_pos, 1);          /* "dup" repeats p1's text */
    CHECK(rep.dup_neg >= 1, "t2 repeats t1: %zu", rep.dup_neg);
    CHECK_EQ_INT(rep.no_pos_score, 1);     /* q2's positive shares no word: P = 0 */
    CHECK(rep.pos.n == 1 && rep.pos.max > 0, "one positive score");
    float P1;
    uint32_t p1 = (uint32_t)corpus_doc_find(session_corpus(s, NULL), "p1");
    retriever_score_docs(r, "wing lift slipstream propeller", &p1, 1, &P1, &err);
    CHECK_NEAR(rep.pos.max, P1, 1e-5);
    double P = P1;
    qsum a = summarize(s, "q1", &P);
    CHECK(!a.has_p1, "the positive is never a negative");
    CHECK_EQ_INT(a.clean, 3);
    CHECK_EQ_INT(a.dup, 1);
    CHECK(a.suspects >= 1 && a.maxrel >= 1, "suspects kept: %d, max-rel %d", a.suspects, a.maxrel);
    CHECK(!(a.has_t1 && a.has_t2), "identical texts t1/t2 never both kept");
    CHECK_EQ_INT(rep.negatives, 3 + 3);    /* q2 has no filters: 3 clean too */
    CHECK_EQ_INT(rep.suspects, (size_t)a.suspects);
    qsum b = summarize(s, "q2", NULL);
    CHECK(b.clean == 3 && b.suspects == 0, "q2: 3 clean, no suspects (%d, %d)", b.clean, b.suspects);
    /* report saved */
    char *rp = session_path(s, "cache/mine-bm25-report.json");
    json_t *j = json_load_file(rp, 0, NULL);
    CHECK(j && json_integer_value(json_object_get(j, "negatives")) == 6, "report saved at %s", rp);
    CHECK(j && json_real_value(json_object_get(j, "max_rel")) == 0.95, "report records max_rel");
    json_decref(j);
    free(rp);

    /* re-mining replaces: a short window, num 1, random, filters off */
    mine_opts o2 = o;
    o2.range_lo = 2;
    o2.range_hi = 8;
    o2.num = 1;
    o2.sample_random = 1;
    o2.seed = 7;
    o2.max_rel = 0;
    CHECK(mine_run(s, r, &o2, &rep, &err) == 0, "%s", err.msg);
    qsum c = summarize(s, "q1", NULL);
    CHECK(c.clean == 1, "replaced: q1 now has 1 clean negative, %d", c.clean);
    CHECK_EQ_INT(rep.by_max_rel, 0);
    /* same seed, same choice; the choice lies in the window */
    neg_store *ns = session_negs(s);
    size_t n;
    const neg_ref *refs = neg_store_query(ns, "q1", &n);
    char first[64] = "";
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(ns, refs[i], &row);
        if (!row.flags) { snprintf(first, sizeof first, "%s", row.neg_id); CHECK(row.rank >= 3 && row.rank <= 8, "rank %u in 3..8", row.rank); }
    }
    CHECK(mine_run(s, r, &o2, &rep, &err) == 0, "%s", err.msg);
    int changed;
    neg_store_refresh(ns, &changed, NULL);
    refs = neg_store_query(ns, "q1", &n);
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(ns, refs[i], &row);
        if (!row.flags) CHECK_EQ_STR(row.neg_id, first);
    }
    /* --max-score and --margin flag their own candidates */
    mine_opts o3 = o;
    o3.max_rel = 0;
    o3.max_score = 0.0;    /* everything scores above 0 */
    CHECK(mine_run(s, r, &o3, &rep, &err) == 0, "%s", err.msg);
    CHECK(rep.negatives == 0 && rep.by_max_score == rep.suspects - 0 && rep.short_queries == 2,
          "max-score 0: all suspects (%zu negatives, %zu by max-score, %zu suspects)", rep.negatives,
          rep.by_max_score, rep.suspects);
    mine_opts o4 = o;
    o4.max_rel = 0;
    o4.margin = 1e9;       /* score > P - 1e9: every candidate of q1 */
    CHECK(mine_run(s, r, &o4, &rep, &err) == 0, "%s", err.msg);
    CHECK(rep.by_margin > 0 && rep.negatives == 3, "margin flags q1's candidates only (%zu, %zu)", rep.by_margin,
          rep.negatives);
    /* bad split */
    mine_opts o5 = o;
    o5.split = "nope";
    CHECK(mine_run(s, r, &o5, &rep, &err) < 0 && err.code == SY_ENOTFOUND, "missing split: %s", err.msg);
    unsigned lo, hi;
    CHECK(mine_parse_range("10:100", &lo, &hi, &err) == 0 && lo == 10 && hi == 100, "range");
    CHECK(mine_parse_range("100:10", &lo, &hi, &err) < 0, "reversed range refused");
    CHECK(mine_parse_range("x", &lo, &hi, &err) < 0, "junk range refused");
    retriever_free(r);
    session_close(s);
}

typedef struct { int n, hidden_seen, hidden_outcome; uint32_t hidden_doc; } cand_log;

static void log_cand(void *ctx, const mine_cand *c)
{
    cand_log *l = ctx;
    l->n++;
    if (c->hidden) {
        l->hidden_seen++;
        l->hidden_doc = c->doc;
        l->hidden_outcome = c->outcome;
    }
    CHECK(c->outcome == MINE_DROPPED || c->fnl > 0, "a written candidate has a likelihood");
}

TEST(likelihood_queue_and_hiding)
{
    sy_err err = {0};
    session *s = session_open(sdir, SESSION_WRITE, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) return;
    retriever_opts ro = {.kind = "bm25"};
    retriever *r = retriever_open(s, &ro, &err);
    corpus *c = session_corpus(s, NULL);
    mine_opts o;
    mine_opts_default(&o);
    o.range_lo = 0;
    o.num = 3;
    o.suspect_min = 0;   /* the threshold as given (the band is tested below) */
    o.suspect_max = 1;
    mine_report rep;
    CHECK(mine_run(s, r, &o, &rep, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(rep.by_max_rel, 0);
    CHECK(rep.threshold == o.fn_threshold && rep.calib_queries == 0, "no band: threshold %g", rep.threshold);
    neg_store *ns = session_negs(s);
    int changed;
    neg_store_refresh(ns, &changed, NULL);
    /* every mined row carries its likelihood and signals; suspects are the likely ones */
    size_t n;
    const neg_ref *refs = neg_store_query(ns, "q1", &n);
    CHECK(n > 0, "q1 has rows");
    float n1_fnl = -1;
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(ns, refs[i], &row);
        CHECK(neg_row_has_fnl(&row), "row %s has a likelihood", row.neg_id);
        CHECK(row.prov && strstr(row.prov, "\"fn\":{") && strstr(row.prov, "\"posnear\""), "signals in prov: %s",
              row.prov ? row.prov : "(null)");
        if (!(row.flags & NEG_F_DUP))
            CHECK(((row.flags & NEG_F_SUSPECT) != 0) == (row.fnl >= o.fn_threshold), "%s: flag %d vs fnl %g",
                  row.neg_id, row.flags, row.fnl);
        if (!strcmp(row.neg_id, "n1")) n1_fnl = row.fnl;
    }
    /* n1 shares three of the positive's four words: the likeliest candidate of q1 */
    CHECK(n1_fnl >= o.fn_threshold, "n1 is a suspect: %g", n1_fnl);
    size_t nq;
    neg_ref *queue = neg_store_ranked(ns, 0, &nq);
    CHECK(nq > 0, "a queue");
    neg_row top;
    if (nq) neg_store_get(ns, queue[0], &top);
    CHECK(nq && top.fnl >= n1_fnl, "the queue starts with the most likely row");
    free(queue);

    /* implausible thresholds are reported, not silently applied */
    mine_opts lo = o;
    lo.fn_threshold = 1e-9;
    CHECK(mine_run(s, r, &lo, &rep, &err) == 0, "%s", err.msg);
    CHECK(rep.suspect_rate > 0.9 && rep.no_clean == rep.mined && rep.whole_window == rep.mined,
          "every row a suspect: rate %g, %zu without clean, %zu whole windows", rep.suspect_rate, rep.no_clean,
          rep.whole_window);
    CHECK(strstr(rep.warning, "suspects"), "warning: %s", rep.warning);
    /* the band moves the threshold: a flooding one is raised until at most
     * suspect_max of the rows are suspects, a starving one lowered until at least
     * suspect_min are; the rows flagged anyway (q1's copy of p1) count first */
    mine_opts flood = lo;
    flood.suspect_max = 0.25;
    CHECK(mine_run(s, r, &flood, &rep, &err) == 0, "%s", err.msg);
    CHECK(rep.calib_queries == 2 && rep.threshold > 1e-9, "calibrated on 2 queries: threshold %g", rep.threshold);
    CHECK(rep.suspect_rate <= 0.25 && rep.suspects >= 1, "flood held: rate %g, %zu suspects", rep.suspect_rate,
          rep.suspects);
    mine_opts starve = o;
    starve.fn_threshold = 0.999999;
    starve.suspect_min = 0.5;
    CHECK(mine_run(s, r, &starve, &rep, &err) == 0, "%s", err.msg);
    CHECK(rep.threshold < 0.999999 && rep.by_likelihood >= 1 && rep.suspect_rate >= 0.5,
          "starving threshold lowered to %g: %zu flagged, rate %g", rep.threshold, rep.by_likelihood,
          rep.suspect_rate);
    mine_opts inverted = o;
    inverted.suspect_min = 0.3;
    inverted.suspect_max = 0.2;
    CHECK(mine_run(s, r, &inverted, &rep, &err) < 0 && err.code == SY_EINVAL, "band 0.3..0.2 refused");
    mine_opts bad = o;
    bad.fn_threshold = 0;
    CHECK(mine_run(s, r, &bad, &rep, &err) < 0 && err.code == SY_EINVAL, "threshold 0 refused");

    /* held-out: q1's two positives, one hidden; a dry run writes nothing */
    neg_store_refresh(ns, &changed, NULL);
    size_t before = neg_store_count(ns);
    char *rp = session_path(s, "cache/mine-bm25-report.json");
    json_t *j0 = json_load_file(rp, 0, NULL);
    mine_opts h = o;
    h.split = "multi";
    h.hide_share = 0.99;
    h.hide_seed = 3;
    h.dry_run = 1;
    cand_log log = {0};
    h.on_cand = log_cand;
    h.cand_ctx = &log;
    CHECK(mine_run(s, r, &h, &rep, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(rep.hidden, 1);
    CHECK_EQ_INT(log.hidden_seen, 1);
    const char *hid = corpus_doc_id(c, log.hidden_doc);
    CHECK(!strcmp(hid, "p1") || !strcmp(hid, "n1"), "a positive was hidden: %s", hid);
    CHECK_EQ_INT(rep.masked_pos, 1);   /* the other stays known and masked */
    neg_store_refresh(ns, &changed, NULL);
    CHECK_EQ_INT(neg_store_count(ns), before);
    json_t *j1 = json_load_file(rp, 0, NULL);
    CHECK(json_equal(j0, j1), "dry run leaves the report alone");
    json_decref(j0);
    json_decref(j1);
    free(rp);
    /* the same seed hides the same positive; share 0 hides none */
    cand_log log2 = {0};
    h.cand_ctx = &log2;
    mine_run(s, r, &h, &rep, &err);
    CHECK(log2.hidden_doc == log.hidden_doc, "seeded choice");
    h.hide_share = 0;
    mine_run(s, r, &h, &rep, &err);
    CHECK_EQ_INT(rep.hidden, 0);
    retriever_free(r);
    session_close(s);
}

/* Which clean candidates become negatives (sample top): pool 1 takes the
 * best-ranked; a larger pool the least likely false negatives among the
 * pool x num best-ranked clean ones. */
typedef struct { int n; uint32_t rank[64]; float fnl[64]; int outcome[64]; } pool_log;

static void log_pool(void *ctx, const mine_cand *c)
{
    pool_log *l = ctx;
    if (c->outcome == MINE_DROPPED && !(c->fnl > 0)) return;   /* a repeated text */
    if (c->flags || l->n >= 64) return;   /* only the clean candidates */
    l->rank[l->n] = c->rank;
    l->fnl[l->n] = c->fnl;
    l->outcome[l->n++] = c->outcome;
}

TEST(pool_choice)
{
    sy_err err = {0};
    session *s = session_open(sdir, SESSION_WRITE, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) return;
    retriever_opts ro = {.kind = "bm25"};
    retriever *r = retriever_open(s, &ro, &err);
    mine_opts o;
    mine_opts_default(&o);
    o.range_lo = 0;
    o.num = 2;
    o.fn_threshold = 2;   /* no likelihood flags: every candidate but the copy of p1 is clean */
    o.suspect_min = 0;
    o.suspect_max = 1;
    o.max_queries = 1;    /* q1 */
    o.dry_run = 1;
    o.on_cand = log_pool;
    mine_report rep;
    for (unsigned pool = 1; pool <= 8; pool += 7) {
        pool_log l = {0};
        o.pool = pool;
        o.cand_ctx = &l;
        CHECK(mine_run(s, r, &o, &rep, &err) == 0, "%s", err.msg);
        CHECK(l.n >= 8 && rep.negatives == 2, "pool %u: %d clean candidates, %zu negatives", pool, l.n,
              rep.negatives);
        int chosen = 0, first_two = 0;
        float max_in = 0, min_out = 2;
        for (int i = 0; i < l.n; i++) {
            CHECK(i == 0 || l.rank[i] > l.rank[i - 1], "candidates in rank order");
            if (l.outcome[i] == MINE_CLEAN) {
                chosen++;
                first_two += i < 2;
                if (l.fnl[i] > max_in) max_in = l.fnl[i];
            } else if (i < (int)(pool * o.num) && l.fnl[i] < min_out) min_out = l.fnl[i];
        }
        CHECK_EQ_INT(chosen, 2);
        if (pool == 1) CHECK_EQ_INT(first_two, 2);   /* the best-ranked */
        else {
            CHECK(max_in <= min_out, "pool %u: chosen up to %g, passed over from %g", pool, max_in, min_out);
            CHECK(first_two < 2, "the pool changed the choice on this data (both chosen were the best-ranked)");
        }
    }
    retriever_free(r);
    session_close(s);
}

int main(void)
{
    dir = check_tmpdir("mine");
    make_data();
    sdir = sy_path_join(dir, "sess");
    RUN(mine_bm25);
    RUN(likelihood_queue_and_hiding);
    RUN(pool_choice);
    check_rmrf(dir);
    free(dir); free(data); free(sdir);
    return check_done();
}
