/* test_audit: the shortcut audit: AUCs on constructed cases (an obvious
 * shortcut >= 0.95, none ~ 0.5), word overlap, and the audit of a real mix. */
#include "../check.h"

#include "audit.h"
#include "mix_fixture.h"
#include "util.h"

TEST(auc_basics)
{
    double a[] = {3, 4, 5}, b[] = {0, 1, 2}, c[] = {1, 1}, d[] = {1, 1};
    CHECK_NEAR(audit_auc(a, 3, b, 3), 1.0, 1e-12);
    CHECK_NEAR(audit_auc(b, 3, a, 3), 0.0, 1e-12);
    CHECK_NEAR(audit_auc(c, 2, d, 2), 0.5, 1e-12);   /* ties count half */
    double e[] = {1, 3}, f[] = {2};
    CHECK_NEAR(audit_auc(e, 2, f, 1), 0.5, 1e-12);
    CHECK(isnan(audit_auc(a, 3, NULL, 0)), "empty side");
}

TEST(word_overlap)
{
    CHECK_NEAR(audit_word_overlap("the cat sat", "The cat ran"), 2.0 / 3.0, 1e-9);
    CHECK_NEAR(audit_word_overlap("a a a", "a"), 1.0, 1e-9);
    CHECK_NEAR(audit_word_overlap("", "a"), 0.0, 1e-9);
    CHECK_NEAR(audit_word_overlap("x y", ""), 0.0, 1e-9);
    double x[AUDIT_NFEAT];
    audit_features("Wing", "lift is 12 N.", "Wing lift", 3.5, x);
    CHECK_EQ_INT(x[AUDIT_TITLE], 1);
    CHECK_EQ_INT(x[AUDIT_LENGTH], 5);                 /* "Wing lift is 12 N." */
    CHECK_NEAR(x[AUDIT_DIGITS], 2.0 / 18.0, 1e-9);
    CHECK_NEAR(x[AUDIT_PUNCT], 1.0 / 18.0, 1e-9);
    CHECK_NEAR(x[AUDIT_OVERLAP], 2.0 / 5.0, 1e-9);
    CHECK_NEAR(x[AUDIT_SCORE], 3.5, 1e-12);
}

static double rnd(uint64_t *s) { return (double)(sy_splitmix64(s) >> 11) / 9007199254740992.0; }

/* Synthetic negatives without titles and longer: the audit must see it. */
TEST(obvious_shortcut)
{
    enum { N = 400 };
    audit_sample s[N];
    uint64_t st = 1;
    for (int i = 0; i < N; i++) {
        char text[256];
        int syn = i % 2;
        int words = syn ? 60 + (int)(rnd(&st) * 20) : 30 + (int)(rnd(&st) * 20);
        size_t l = 0;
        for (int w = 0; w < words && l < sizeof text - 8; w++) l += (size_t)snprintf(text + l, sizeof text - l, "w%d ", w % 9);
        audit_features(syn ? "" : "A title", text, "w1 w2 w3", 0, s[i].x);
        s[i].synthetic = syn;
    }
    audit_report r;
    sy_err err = {0};
    CHECK(audit_compute(s, N, 0, &r, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(r.nsyn, N / 2);
    CHECK(r.auc[AUDIT_TITLE] >= 0.95, "title AUC %.3f", r.auc[AUDIT_TITLE]);
    CHECK(r.auc[AUDIT_LENGTH] >= 0.95, "length AUC %.3f", r.auc[AUDIT_LENGTH]);
    CHECK(r.direction[AUDIT_TITLE] < 0.5, "synthetic have fewer titles");
    CHECK(r.logistic_auc >= 0.95, "logistic AUC %.3f", r.logistic_auc);
    CHECK(r.warn, "warning raised");
    CHECK(!r.have[AUDIT_SCORE], "no scorer, no score feature");
    sy_buf b = {0};
    audit_report_text(&r, &b);
    CHECK(b.data && strstr(b.data, "WARNING") && strstr(b.data, "title (1.00)") && strstr(b.data, "--no-title"),
          "text: %s", b.data);
    sy_buf_free(&b);
    json_t *j = audit_report_json(&r);
    CHECK(json_is_true(json_object_get(j, "warning")) && json_real_value(json_object_get(json_object_get(j, "auc"), "title")) >= 0.95,
          "json");
    json_decref(j);
}

/* Both classes from one distribution: every AUC near 0.5, no warning. */
TEST(no_shortcut)
{
    enum { N = 2000 };
    audit_sample *s = calloc(N, sizeof *s);
    uint64_t st = 7;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < AUDIT_NFEAT; k++) s[i].x[k] = k == AUDIT_TITLE ? (rnd(&st) < 0.7) : rnd(&st) * 100;
        s[i].synthetic = rnd(&st) < 0.5;
    }
    audit_report r;
    sy_err err = {0};
    CHECK(audit_compute(s, N, 1, &r, &err) == 0, "%s", err.msg);
    for (int k = 0; k < AUDIT_NFEAT; k++)
        CHECK(r.have[k] && r.auc[k] < 0.56, "%s AUC %.3f", audit_feature_name(k), r.auc[k]);
    CHECK(r.logistic_auc < 0.58, "logistic AUC %.3f", r.logistic_auc);
    CHECK(!r.warn, "no warning");
    free(s);
}

/* The audit of a drawn mix on the fixture session: synthetic rows (no title)
 * against titled retrieved documents. */
TEST(audit_of_a_mix)
{
    char *dir = fx_session("audit-mix", 0);
    session *s = fx_open(dir, SESSION_READ);
    mix_opts o;
    mix_opts_default(&o);
    o.num = 4;
    sy_err err = {0};
    mix_set *m = mix_build(s, &o, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (m && mix_draw(m, 0, 1, &err) == 0) {
        audit_report r;
        CHECK(audit_mix(m, 1, NULL, &r, &err) == 0, "%s", err.msg);
        CHECK(r.nsyn > 0 && r.nret > 0, "both classes: %zu %zu", r.nsyn, r.nret);
        CHECK(r.auc[AUDIT_TITLE] >= 0.95, "the fixture's synthetic rows have no title: %.3f", r.auc[AUDIT_TITLE]);
        audit_report r2;   /* without titles for every source, the title shortcut is gone */
        CHECK(audit_mix(m, 0, NULL, &r2, &err) == 0, "%s", err.msg);
        CHECK_NEAR(r2.auc[AUDIT_TITLE], 0.5, 1e-9);
    }
    mix_free(m);
    session_close(s);
    fx_remove(dir);
}

int main(void)
{
    RUN(auc_basics);
    RUN(word_overlap);
    RUN(obvious_shortcut);
    RUN(no_shortcut);
    RUN(audit_of_a_mix);
    return check_done();
}
