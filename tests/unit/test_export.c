/* test_export: golden files for every format on the fixture session (a label
 * that must change the output included), byte-identical re-exports, the
 * report, the flag importer and the launch scripts.
 * SYNEG_UPDATE_GOLDEN=1 rewrites tests/golden/export/ instead of comparing. */
#include "../check.h"

#include <sys/stat.h>

#include "export.h"
#include "launch.h"
#include "retriever.h"
#include "util.h"
#include "mix_fixture.h"

#define GOLDEN "tests/golden/export/"

static char *slurp(const char *path)
{
    size_t n;
    sy_err err = {0};
    char *d = sy_read_file(path, &n, &err);
    CHECK(d != NULL, "%s", err.msg);
    return d;
}

static void golden(const char *got_path, const char *name)
{
    char *g = sy_path_join(GOLDEN, name);
    char *got = slurp(got_path);
    const char *up = getenv("SYNEG_UPDATE_GOLDEN");
    if (up && *up == '1' && got) {
        sy_err err = {0};
        CHECK(sy_write_file_atomic(g, got, strlen(got), &err) == 0, "%s", err.msg);
        fprintf(stderr, "updated %s\n", g);
    } else if (got) {
        size_t n;
        char *want = sy_read_file(g, &n, NULL);
        CHECK(want != NULL, "%s missing; run with SYNEG_UPDATE_GOLDEN=1 and review it", g);
        if (want) {
            int same = !strcmp(want, got);
            CHECK(same, "%s differs from %s", got_path, g);
            if (!same) {
                char cmd[1024];
                snprintf(cmd, sizeof cmd, "diff -u '%s' '%s' | head -40 >&2", g, got_path);
                if (system(cmd)) {}
            }
        }
        free(want);
    }
    free(got);
    free(g);
}

static int do_export(session *s, const export_opts *o, const char *path, export_stats *st)
{
    sy_err err = {0};
    int rc = export_write(s, o, path, st, &err);
    CHECK(rc == 0, "export %s: %s", export_format_name(o->format), err.msg);
    return rc;
}

/* The golden session: labelled fixture plus reject (q1, d4). */
static session *golden_session(char **dirp)
{
    char *dir = fx_session("exp-golden", 1);
    session *s = fx_open(dir, SESSION_WRITE);
    sy_err err = {0};
    CHECK(labels_act(session_labels(s), "q1", "d4", ACT_REJECT, NULL, &err) == 0, "%s", err.msg);
    *dirp = dir;
    return s;
}

TEST(golden_formats)
{
    char *dir;
    session *s = golden_session(&dir);
    char *tmp = check_tmpdir("exp-out");
    static const char *const files[] = { "flag.jsonl", "st.jsonl", "tevatron.jsonl", "trec.run" };
    for (int f = 0; f < EXPORT_NFORMATS; f++) {
        export_opts o;
        export_opts_default(&o);
        o.format = f;
        o.mix.num = 3;
        o.mix.promote = 1;
        o.include_offline = 1;   /* the fixture's offline row C stays in the golden files */
        if (f == EXPORT_FLAG) {
            o.scores = 1;
            o.prompt = "Represent this query for retrieving passages: ";
        }
        char *p = sy_path_join(tmp, files[f]);
        export_stats st;
        if (do_export(s, &o, p, &st) == 0) {
            golden(p, files[f]);
            char *rp = sy_strdup_printf("%s.report.json", p);
            char *rn = sy_strdup_printf("%s.report.json", files[f]);
            golden(rp, rn);
            free(rp);
            free(rn);
            if (f == EXPORT_TREC) {
                char *qp = sy_strdup_printf("%s.qrels", p);
                golden(qp, "trec.run.qrels");
                char *q = slurp(qp);
                CHECK(q && strstr(q, "q3 0 d1 1\n"), "rejected (q3, d1) is relevant in the qrels");
                CHECK(q && strstr(q, "q1 0 d4 1\n"), "rejected (q1, d4) is relevant in the qrels");
                free(q);
                free(qp);
                CHECK_EQ_INT(st.labels_relevant, 2);
                CHECK_EQ_INT(st.not_in_corpus, 7);  /* run: A B E C nosuch of q1, D of q2; qrels: B */
            } else {
                CHECK_EQ_INT(st.lines, 5);               /* q1 x2, q1 promoted d4, q2, q3 promoted d1 */
                char *t = slurp(p);
                CHECK(t && strstr(t, "Buckling of flat plates") != NULL, "q2's synthetic D is drawn");
                if (f == EXPORT_FLAG)      /* rejected d4: a positive (promoted), never a negative */
                    CHECK(t && strstr(t, "\"pos\":[\"Plate heating") && !strstr(t, ",\"Plate heating") &&
                          !strstr(t, "\"neg\":[\"Plate heating"), "d4 placed wrongly");
                free(t);
            }
        }
        free(p);
    }
    check_rmrf(tmp);
    free(tmp);
    session_close(s);
    fx_remove(dir);
}

TEST(label_changes_output)
{
    char *dir = fx_session("exp-label", 0);
    session *s = fx_open(dir, SESSION_WRITE);
    char *tmp = check_tmpdir("exp-lab-out");
    char *a = sy_path_join(tmp, "a.jsonl"), *b = sy_path_join(tmp, "b.jsonl"), *c = sy_path_join(tmp, "c.jsonl");
    export_opts o;
    export_opts_default(&o);
    o.format = EXPORT_FLAG;
    o.mix.num = 6;                 /* q1's whole pool: 2 synthetic + 4 retrieved */
    o.mix.mix_start = o.mix.mix_end = 2.0 / 6.0;
    export_stats st;
    do_export(s, &o, a, &st);
    do_export(s, &o, c, &st);
    char *ta = slurp(a), *tc = slurp(c);
    CHECK(ta && tc && !strcmp(ta, tc), "same seed, different bytes");
    char *ra = sy_strdup_printf("%s.report.json", a), *rc = sy_strdup_printf("%s.report.json", c);
    char *tra = slurp(ra), *trc = slurp(rc);
    CHECK(tra && trc && !strcmp(tra, trc), "same seed, different reports");
    CHECK(tra && strstr(tra, "\"rejected\": 0"), "report counts no rejection yet");
    CHECK(ta && strstr(ta, "Plate heating Heat transfer on a flat plate"), "d4 drawn before the label");
    sy_err err = {0};
    CHECK(labels_act(session_labels(s), "q1", "d4", ACT_REJECT, NULL, &err) == 0, "%s", err.msg);
    do_export(s, &o, b, &st);
    char *tb = slurp(b);
    CHECK(tb && ta && strcmp(ta, tb), "a rejected negative did not change the export");
    CHECK(tb && !strstr(tb, "Heat transfer on a flat plate"), "rejected d4 still exported");
    CHECK_EQ_INT(st.mix.excluded[MIX_X_REJECTED], 1);
    o.mix.seed = 43;
    do_export(s, &o, c, &st);
    free(tc);
    tc = slurp(c);
    CHECK(tb && tc && strcmp(tb, tc), "seed 43 gave seed 42's bytes");
    free(ta); free(tb); free(tc); free(tra); free(trc); free(ra); free(rc);
    free(a); free(b); free(c);
    check_rmrf(tmp);
    free(tmp);
    session_close(s);
    fx_remove(dir);
}

/* passage.h's switch: --no-title or the session's passage.titles = no export
 * every passage as its text alone; with titles, corpus passages read "title text". */
TEST(titles_switch)
{
    char *dir = fx_session("exp-titles", 0);
    session *s = fx_open(dir, SESSION_WRITE);
    char *tmp = check_tmpdir("exp-titles-out");
    char *a = sy_path_join(tmp, "a.jsonl"), *b = sy_path_join(tmp, "b.jsonl");
    export_opts o;
    export_opts_default(&o);
    o.format = EXPORT_ST;
    export_stats st;
    do_export(s, &o, a, &st);
    char *ta = slurp(a);
    CHECK(ta && strstr(ta, "\"Boundary layers The laminar boundary layer"), "titled passage: %s", ta);
    sy_err err = {0};
    CHECK(session_set(s, "passage.titles", json_string("no"), &err) == 0, "%s", err.msg);
    do_export(s, &o, b, &st);
    char *tb = slurp(b);
    CHECK(tb && !strstr(tb, "Boundary layers The") && strstr(tb, "\"The laminar boundary layer"), "untitled: %s", tb);
    o.no_title = 1;   /* the flag gives the same bytes */
    do_export(s, &o, a, &st);
    free(ta);
    ta = slurp(a);
    CHECK(ta && tb && !strcmp(ta, tb), "--no-title and passage.titles=no differ");
    CHECK(session_set(s, "passage.titles", json_integer(7), &err) == 0, "%s", err.msg);
    o.no_title = 0;
    CHECK(export_write(s, &o, a, &st, &err) < 0 && err.code == SY_EINVAL, "bad setting accepted");
    free(ta); free(tb); free(a); free(b);
    check_rmrf(tmp);
    free(tmp);
    session_close(s);
    fx_remove(dir);
}

/* The offline generator is a stand-in for an LLM: export leaves its rows out
 * unless asked, counts them, and the report says which. */
TEST(offline_only_when_asked)
{
    char *dir = fx_session("exp-offline", 0);
    session *s = fx_open(dir, SESSION_WRITE);
    char *tmp = check_tmpdir("exp-offline-out");
    char *a = sy_path_join(tmp, "a.jsonl");
    export_opts o;
    export_opts_default(&o);
    o.format = EXPORT_ST;
    o.mix.num = 6;
    o.mix.mix_start = o.mix.mix_end = 0.5;
    export_stats st;
    do_export(s, &o, a, &st);
    char *t = slurp(a);
    CHECK(t && !strstr(t, FX_TEXT_C), "offline row exported by default");
    CHECK_EQ_INT(st.mix.excluded[MIX_X_OFFLINE], 1);
    CHECK_EQ_INT(st.mix.candidates[NEG_OFFLINE], 0);
    char *rp = sy_strdup_printf("%s.report.json", a);
    char *r = slurp(rp);
    CHECK(r && strstr(r, "\"include_offline\": false") && strstr(r, "\"offline\": 1"), "report: %s", r);
    free(t); free(r);
    o.include_offline = 1;
    do_export(s, &o, a, &st);
    t = slurp(a);
    CHECK(t && strstr(t, FX_TEXT_C), "--include-offline lost the offline row");
    CHECK_EQ_INT(st.mix.excluded[MIX_X_OFFLINE], 0);
    r = slurp(rp);
    CHECK(r && strstr(r, "\"include_offline\": true"), "report: %s", r);
    /* the report carries the shortcut audit: the fixture's synthetic rows have no title */
    CHECK(st.audited && st.audit.nsyn > 0 && st.audit.auc[AUDIT_TITLE] > 0.75 && st.audit.warn, "audit");
    CHECK(r && strstr(r, "\"audit\": {") && strstr(r, "\"logistic_auc\"") && strstr(r, "\"warning\": true"),
          "report audit: %s", r);
    free(t); free(r); free(rp); free(a);
    check_rmrf(tmp);
    free(tmp);
    session_close(s);
    fx_remove(dir);
}

/* Distillation targets come from one scorer: every pos_scores / neg_scores
 * entry of a corpus document equals the session's BM25 score of that
 * document for the query (index path, bm25_score_docs), positives included.
 * (Before: pos_scores held the qrels grade, 1, beside BM25 negatives ~4.) */
TEST(scores_one_scorer)
{
    char *dir;
    session *s = golden_session(&dir);
    char *tmp = check_tmpdir("exp-scores");
    char *p = sy_path_join(tmp, "kd.jsonl");
    export_opts o;
    export_opts_default(&o);
    o.format = EXPORT_FLAG;
    o.mix.num = 3;
    o.scores = 1;
    export_stats st;
    sy_err err = {0};
    corpus *c = session_corpus(s, &err);
    retriever_opts ro = {.kind = "bm25"};
    retriever *r = NULL;
    if (do_export(s, &o, p, &st) == 0 && c && (r = retriever_open(s, &ro, &err))) {
        char *t = slurp(p);
        size_t compared = 0, pos_compared = 0, lines = 0;
        for (char *line = t, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            json_t *j = json_loads(line, 0, NULL);
            lines++;
            const char *q = json_string_value(json_object_get(j, "query"));
            const char *keys[2][2] = {{"pos", "pos_scores"}, {"neg", "neg_scores"}};
            for (int k = 0; k < 2; k++) {
                json_t *ps = json_object_get(j, keys[k][0]), *sc = json_object_get(j, keys[k][1]);
                CHECK(json_array_size(ps) == json_array_size(sc), "one score per passage");
                for (size_t i = 0; i < json_array_size(ps); i++) {
                    const char *passage = json_string_value(json_array_get(ps, i));
                    for (uint32_t d = 0; d < corpus_ndocs(c); d++) {
                        char *fmt = sy_strdup_printf("%s %s", corpus_doc_title(c, d), corpus_doc_text(c, d));
                        int same = !strcmp(fmt, passage);
                        free(fmt);
                        if (!same) continue;
                        float want = 0;
                        CHECK(retriever_score_docs(r, q, &d, 1, &want, &err) == 0, "%s", err.msg);
                        double got = json_number_value(json_array_get(sc, i));
                        CHECK_NEAR(got, want, 1e-4 * (1 + want));
                        compared++;
                        pos_compared += k == 0;
                        break;
                    }
                }
            }
            json_decref(j);
        }
        CHECK(lines >= 3 && pos_compared == lines && compared >= lines + 3, "lines %zu, positives %zu, compared %zu", lines,
              pos_compared, compared);
        free(t);
        char *rp = sy_strdup_printf("%s.report.json", p);
        char *rt = slurp(rp);
        CHECK(rt && strstr(rt, "\"scorer\": \"bm25\""), "the report names the scorer");
        free(rt);
        free(rp);
    }
    retriever_free(r);
    free(p);
    check_rmrf(tmp);
    free(tmp);
    session_close(s);
    fx_remove(dir);
}

TEST(import_flag)
{
    char *dir = fx_session("exp-imp", 1);
    session *s = fx_open(dir, SESSION_WRITE);
    char *tmp = check_tmpdir("exp-imp-out");
    char *p = sy_path_join(tmp, "pool.jsonl");
    export_opts o;
    export_opts_default(&o);
    o.format = EXPORT_FLAG;
    o.mix.num = 4;
    o.scores = 1;
    export_stats est;
    do_export(s, &o, p, &est);
    /* append problems: a bad line, an unknown query, a negative equal to its positive */
    sy_buf b = {0};
    char *t = slurp(p);
    sy_buf_puts(&b, t ? t : "");
    sy_buf_puts(&b, "{not json\n");
    sy_buf_puts(&b, "{\"query\":\"what is the meaning of life\",\"pos\":[\"x\"],\"neg\":[\"y\"]}\n");
    sy_buf_puts(&b, "{\"query\":\"choking in nozzles\",\"pos\":[\"Nozzles Flow in convergent-divergent nozzles. Choking conditions.\"],"
                    "\"neg\":[\"Nozzles Flow in convergent-divergent nozzles.\\tChoking conditions.\",\"Cones Pressure distribution on cones at angle of attack.\"]}\n");
    sy_buf_puts(&b, "{\"query\":\"pressure on cones\",\"pos\":\"one string\",\"neg\":[\"z\"]}\n");
    sy_err err = {0};
    CHECK(sy_write_file_atomic(p, b.data, b.len, &err) == 0, "%s", err.msg);
    sy_buf_free(&b);
    free(t);
    session_close(s);
    fx_remove(dir);

    dir = fx_session("exp-imp2", 0);
    s = fx_open(dir, SESSION_WRITE);
    import_stats st;
    int rc = export_import_flag(s, p, 0, &st, &err);
    CHECK(rc == 0, "import: %s", err.msg);
    CHECK_EQ_INT(st.lines, 7);
    CHECK_EQ_INT(st.bad_lines, 2);
    CHECK_EQ_INT(st.queries_unknown, 1);
    CHECK_EQ_INT(st.negs_dup, 1);
    CHECK_EQ_INT(st.rows, st.negs_corpus + st.negs_text);
    CHECK(st.negs_corpus >= 4 && st.negs_text >= 1, "corpus %zu text %zu", st.negs_corpus, st.negs_text);
    CHECK(st.nwarn >= 3 && strstr(st.warn[0], "pool.jsonl:"), "warnings name file and line: %s", st.warn[0]);
    neg_store *ns = session_negs(s);
    CHECK_EQ_INT(neg_store_count_source(ns, NEG_IMPORT), st.rows);
    neg_row r;
    CHECK(neg_store_find(ns, "q3", "d9", &r) && (r.flags & NEG_F_DUP), "q3's d9 imported and flagged duplicate");
    CHECK(neg_store_find(ns, "q3", "d10", &r) && r.source == NEG_IMPORT && r.rank == 2, "q3's d10 at rank 2");
    char aid[64];
    neg_synthetic_id(NEG_LLM, FX_TEXT_A, aid, sizeof aid);
    (void)aid;
    /* the imported pool exports again */
    export_stats est2;
    char *p2 = sy_path_join(tmp, "again.jsonl");
    do_export(s, &o, p2, &est2);
    CHECK(est2.mix.candidates[NEG_IMPORT] > 0, "imported rows are candidates");
    /* a file with nothing usable fails and says why */
    char *bad = sy_path_join(tmp, "bad.jsonl");
    sy_write_file_atomic(bad, "{\"query\":\"nope\",\"neg\":[\"a\"]}\n", 29, NULL);
    CHECK(export_import_flag(s, bad, 0, &st, &err) < 0 && strstr(err.msg, "no usable line"), "%s", err.msg);
    free(bad); free(p2); free(p);
    check_rmrf(tmp);
    free(tmp);
    session_close(s);
    fx_remove(dir);
}

TEST(launch_scripts)
{
    char *dir = fx_session("exp-launch", 0);
    session *s = fx_open(dir, SESSION_WRITE);
    sy_err err = {0};
    CHECK(session_set(s, "train.lr", json_real(3e-5), &err) == 0, "%s", err.msg);
    CHECK(session_set(s, "train.batch", json_integer(16), &err) == 0, "%s", err.msg);
    char *tmp = check_tmpdir("exp-launch-out");
    char *data = sy_path_join(tmp, "train.st.jsonl");
    launch_opts lo = { .trainer = LAUNCH_ST, .launcher = "torchrun", .gpus = 4, .nodes = 2, .num = 7,
                       .session_name = "fixture" };
    char *sp = NULL;
    CHECK(launch_write(s, &lo, data, &sp, &err) == 0, "%s", err.msg);
    char *txt = sp ? slurp(sp) : NULL;
    CHECK(txt && strstr(txt, "GPUS=${GPUS:-4}"), "gpus in script");
    CHECK(txt && strstr(txt, "NODES=${NODES:-2}"), "nodes in script");
    CHECK(txt && strstr(txt, "LR=${LR:-3e-05}"), "lr from train.lr");
    CHECK(txt && strstr(txt, "BATCH=${BATCH:-16}"), "batch from train.batch");
    CHECK(txt && strstr(txt, "\"$HERE\"/train.st.jsonl"), "data relative to the script");
    CHECK(txt && strstr(txt, "train_st.py"), "st trainer");
    struct stat sb;
    CHECK(sp && stat(sp, &sb) == 0 && (sb.st_mode & 0100), "script executable");
    char *py = sy_path_join(tmp, "train_st.py");
    char *pt = slurp(py);
    CHECK(pt && strstr(pt, "MultipleNegativesRankingLoss"), "train_st.py written");
    free(pt); free(py); free(txt); free(sp);
    lo.trainer = LAUNCH_FLAG;
    lo.gpus = 1; lo.nodes = 1;
    CHECK(launch_write(s, &lo, data, &sp, &err) == 0, "%s", err.msg);
    txt = sp ? slurp(sp) : NULL;
    CHECK(txt && strstr(txt, "FlagEmbedding.finetune.embedder.encoder_only.base"), "flag module");
    CHECK(txt && strstr(txt, "GROUP=${GROUP:-8}"), "group = num + 1");
    free(txt); free(sp);
    lo.launcher = "mpirun";
    CHECK(launch_write(s, &lo, data, NULL, &err) < 0 && err.code == SY_EUNSUP, "mpirun refused");
    free(data);
    check_rmrf(tmp);
    free(tmp);
    session_close(s);
    fx_remove(dir);
}

TEST(errors)
{
    char *dir = fx_session("exp-err", 0);
    session *s = fx_open(dir, SESSION_READ);
    export_opts o;
    export_opts_default(&o);
    sy_err err = {0};
    CHECK(export_write(s, &o, "/dev/null/x.jsonl", NULL, &err) < 0 && strstr(err.msg, "/dev/null/x.jsonl"),
          "names the file: %s", err.msg);
    o.mix.reviewed_only = 1;
    CHECK(export_write(s, &o, "/tmp/never-written.jsonl", NULL, &err) < 0 && err.code == SY_ENOTFOUND &&
          strstr(err.msg, "no training instance"), "empty pool: %s", err.msg);
    CHECK(!sy_file_exists("/tmp/never-written.jsonl"), "nothing written for an empty pool");
    CHECK_EQ_INT(export_format_parse("tevatron"), EXPORT_TEVATRON);
    CHECK_EQ_INT(export_format_parse("csv"), -1);
    session_close(s);
    fx_remove(dir);
}

int main(void)
{
    RUN(golden_formats);
    RUN(label_changes_output);
    RUN(titles_switch);
    RUN(offline_only_when_asked);
    RUN(scores_one_scorer);
    RUN(import_flag);
    RUN(launch_scripts);
    RUN(errors);
    return check_done();
}
