/* test_synth: answer parsing, then whole synthesis runs on a small session
 * against tests/tools/fakellm.py: rows and provenance, reflection flags,
 * recorded failures, zero requests on a rerun, batch export/import, the
 * offline generator, the TUI calls, and that the key reaches no file. */
#include "../check.h"
#include "../tools/fakellm.h"

#include <dirent.h>

#include "export.h"
#include "llm.h"
#include "negstore.h"
#include "session.h"
#include "synth.h"
#include "util.h"

static fake_llm F;
static const char *KEY = "sk-synth-TESTKEY-9f8e7d6c5b4a";

TEST(parse_answers)
{
    synth_answer a;
    char why[256];
    const char *plain = "{\"reasoning\":\"because\",\"negatives\":[{\"text\":\" one \",\"attributes\":{\"x\":1}},"
                        "{\"text\":\"two\",\"extra\":true}],\"unknown\":5}";
    CHECK(synth_parse_answer(plain, &a, why, sizeof why) == 0, "%s", why);
    CHECK_EQ_INT(a.n, 2);
    CHECK_EQ_STR(a.reasoning, "because");
    CHECK_EQ_STR(a.negs[0].text, "one");
    CHECK(json_is_object(a.negs[0].attributes), "attributes kept");
    CHECK(a.negs[1].attributes == NULL, "no attributes");
    synth_answer_free(&a);
    const char *fenced = "Here you go:\n```json\n{\"negatives\": [\"plain string\"]}\n```\nThanks";
    CHECK(synth_parse_answer(fenced, &a, why, sizeof why) == 0, "%s", why);
    CHECK_EQ_INT(a.n, 1);
    CHECK_EQ_STR(a.negs[0].text, "plain string");
    CHECK_EQ_STR(a.reasoning, "");
    synth_answer_free(&a);
    const char *prose = "Sure! {not json} The answer: {\"reasoning\": \"r\", \"negatives\": [{\"text\": \"t\"}]} Bye {";
    CHECK(synth_parse_answer(prose, &a, why, sizeof why) == 0, "%s", why);
    CHECK_EQ_STR(a.negs[0].text, "t");
    CHECK_EQ_STR(a.negs[0].title, "");
    synth_answer_free(&a);
    /* the negative's own title (format parity) is kept, trimmed */
    const char *titled = "{\"negatives\": [{\"title\": \" Wing drag \", \"text\": \"t\"}, {\"title\": null, \"text\": \"u\"}]}";
    CHECK(synth_parse_answer(titled, &a, why, sizeof why) == 0, "%s", why);
    CHECK_EQ_STR(a.negs[0].title, "Wing drag");
    CHECK_EQ_STR(a.negs[1].title, "");
    synth_answer_free(&a);
    const char *bad[] = {
        "{\"negatives\": [{\"title\": 7, \"text\": \"x\"}]}",
        "no json here", "{\"negatives\": []}", "{\"negatives\": \"x\"}", "{\"negatives\": [{\"txt\": \"x\"}]}",
        "{\"negatives\": [3]}", "{\"reasoning\": 5, \"negatives\": [\"x\"]}", "{\"negatives\": [{\"text\": \"  \"}]}",
        "{\"negatives\": [{\"text\": \"cut",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        CHECK(synth_parse_answer(bad[i], &a, why, sizeof why) < 0, "accepted: %s", bad[i]);
        CHECK(why[0] != '\0', "a reason for %s", bad[i]);
    }
    int fn;
    char *reason;
    CHECK(synth_parse_verdict("```json\n{\"verdict\":\"false_negative\",\"reason\":\"says it\"}\n```", &fn, &reason,
                              why, sizeof why) == 0, "%s", why);
    CHECK(fn == 1 && !strcmp(reason, "says it"), "fn");
    free(reason);
    CHECK(synth_parse_verdict("I think {\"verdict\": \"negative\"}", &fn, &reason, why, sizeof why) == 0, "%s", why);
    CHECK(fn == 0 && !strcmp(reason, ""), "negative");
    free(reason);
    CHECK(synth_parse_verdict("{\"verdict\": \"maybe\"}", &fn, &reason, why, sizeof why) < 0, "maybe");
    CHECK(strstr(why, "maybe") != NULL, "%s", why);
}

static void put(const char *dir, const char *name, const char *text)
{
    char *p = sy_path_join(dir, name);
    sy_write_file_atomic(p, text, strlen(text), NULL);
    free(p);
}

/* A tiny BEIR data set: q1..q6, each with one positive. */
static char *make_data(const char *root)
{
    char *d = sy_path_join(root, "data"), *qd = sy_path_join(d, "qrels");
    sy_mkdir_p(qd, NULL);
    put(d, "corpus.jsonl",
        "{\"_id\":\"d1\",\"title\":\"Wing lift\",\"text\":\"The lift of a wing is proportional to the square of the airspeed. It is larger at higher angles of attack.\"}\n"
        "{\"_id\":\"d2\",\"title\":\"\",\"text\":\"Water boils at 100 degrees at sea level. The boiling point is lower at altitude.\"}\n"
        "{\"_id\":\"d3\",\"title\":\"\",\"text\":\"Heat conduction in composite slabs is solved with Laplace transforms. The method is exact.\"}\n"
        "{\"_id\":\"d4\",\"title\":\"\",\"text\":\"The drag of a cylinder depends on the Reynolds number. It drops sharply near 300000.\"}\n"
        "{\"_id\":\"d5\",\"title\":\"\",\"text\":\"Shock waves form when a body moves faster than sound. They are thin regions of steep change.\"}\n"
        "{\"_id\":\"d6\",\"title\":\"\",\"text\":\"Boundary layers thicken downstream. Transition to turbulence increases skin friction.\"}\n"
        "{\"_id\":\"d7\",\"title\":\"\",\"text\":\"Airspeed is measured with a pitot tube. The wing area is 20 square metres.\"}\n"
        "{\"_id\":\"d8\",\"title\":\"\",\"text\":\"Ethanol boils at 78 degrees. Its vapour pressure is higher than that of water.\"}\n");
    put(d, "queries.jsonl",
        "{\"_id\":\"q1\",\"text\":\"what is the lift of a wing\"}\n"
        "{\"_id\":\"q2\",\"text\":\"FALSENEG boiling point of water\"}\n"
        "{\"_id\":\"q3\",\"text\":\"heat conduction in slabs [[fault:500:99]]\"}\n"
        "{\"_id\":\"q4\",\"text\":\"drag of a cylinder [[fault:429:1]]\"}\n"
        "{\"_id\":\"q5\",\"text\":\"how do shock waves form [[fault:fence:1]]\"}\n"
        "{\"_id\":\"q6\",\"text\":\"boundary layer transition [[fault:prose:1]]\"}\n");
    put(qd, "train.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq4\td4\t1\nq5\td5\t1\nq6\td6\t1\n");
    put(qd, "test.tsv", "query-id\tcorpus-id\tscore\nq1\td7\t1\n");
    free(qd);
    return d;
}

static session *make_session(const char *root, const char *name)
{
    char *data = make_data(root), *dir = sy_path_join(root, name);
    session_source src = {data, CORPUS_BEIR, "train", "test"};
    sy_err err = {0};
    CHECK(session_create(dir, &src, &err) == 0, "create: %s", err.msg);
    session *s = session_open(dir, SESSION_WRITE, &err);
    CHECK(s != NULL, "open: %s", err.msg);
    if (s) {
        session_set(s, "llm.model", json_string("fake-model"), NULL);
        session_set(s, "llm.max_retries", json_integer(1), NULL);
        session_set(s, "llm.backoff_s", json_real(0.05), NULL);
        session_set(s, "synth.per_query", json_integer(2), NULL);
    }
    free(data);
    free(dir);
    return s;
}

static size_t count_source(const char *dir, int source, size_t *suspects)
{
    neg_store *st = neg_store_open(dir, NULL);
    size_t n = st ? neg_store_count_source(st, source) : 0;
    if (suspects) *suspects = st ? neg_store_count_flag(st, NEG_F_REFLECT_FN) : 0;
    neg_store_free(st);
    return n;
}

static int file_has(const char *path, const char *needle)
{
    size_t n;
    char *s = sy_read_file(path, &n, NULL);
    int hit = s && memmem(s, n, needle, strlen(needle)) != NULL;
    free(s);
    return hit;
}

static int tree_has(const char *dir, const char *needle, size_t *files)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int hit = 0;
    while (!hit && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = sy_path_join(dir, e->d_name);
        if (sy_is_dir(p)) hit = tree_has(p, needle, files);
        else { hit = file_has(p, needle); (*files)++; }
        free(p);
    }
    closedir(d);
    return hit;
}

TEST(llm_run_reflect_failures_rerun)
{
    char *root = check_tmpdir("synth");
    session *s = make_session(root, "sess");
    if (!s) return;
    const char *dir = session_dir(s);
    char *trace = sy_path_join(dir, "trace.jsonl");
    setenv("SYNEG_LLM_URL", F.url, 1);
    setenv("SYNEG_LLM_KEY", KEY, 1);
    setenv("SYNEG_TRACE", trace, 1);
    fake_reset(&F);
    synth_opts o;
    synth_opts_defaults(&o);
    o.reflect = 1;
    synth_progress rep;
    sy_err err = {0};
    CHECK(synth_run(s, &o, &rep, &err) == 0, "run: %s", err.msg);
    CHECK_EQ_INT(rep.queries_total, 6);
    CHECK_EQ_INT(rep.queries_done, 6);
    CHECK_EQ_INT(rep.queries_ok, 5);
    CHECK_EQ_INT(rep.queries_failed, 1);
    CHECK_EQ_INT(rep.negatives, 10);
    CHECK_EQ_INT(rep.suspects, 2);
    CHECK(!rep.offline, "llm used");
    size_t sus = 0;
    CHECK_EQ_INT(count_source(dir, NEG_LLM, &sus), 10);
    CHECK_EQ_INT(sus, 2);
    CHECK(fake_stat(&F, "authorized") > 0, "the key was sent");
    /* the failure is recorded with its reason */
    char *fp = sy_path_join(rep.job_dir, "failures.jsonl"), *rp = sy_path_join(rep.job_dir, "report.json");
    CHECK(file_has(fp, "\"query_id\":\"q3\"") && file_has(fp, "server_error") && file_has(fp, "HTTP 500"),
          "q3's failure recorded in %s", fp);
    CHECK(file_has(rp, "\"negatives\": 10"), "report.json");
    free(fp);
    free(rp);
    /* rows and provenance */
    neg_store *st = neg_store_open(dir, &err);
    size_t n;
    const neg_ref *refs = neg_store_query(st, "q2", &n);
    CHECK_EQ_INT(n, 2);
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(st, refs[i], &row);
        CHECK_EQ_INT(row.source, NEG_LLM);
        CHECK(row.flags & NEG_F_SUSPECT && row.flags & NEG_F_REFLECT_FN, "q2 flagged");
        CHECK(!strncmp(row.neg_id, "llm:", 4), "id %s", row.neg_id);
        CHECK(row.text && strstr(row.text, "FALSENEG"), "text %s", row.text);
        json_t *prov = json_loads(row.prov, 0, NULL);
        CHECK(prov != NULL, "prov is JSON: %s", row.prov);
        CHECK_EQ_STR(json_string_value(json_object_get(prov, "verdict")), "false_negative");
        CHECK_EQ_STR(json_string_value(json_object_get(prov, "model")), "fake-model");
        CHECK_EQ_STR(json_string_value(json_object_get(prov, "generator")), "llm");
        CHECK_EQ_INT(strlen(json_string_value(json_object_get(prov, "template"))), 16);
        CHECK(strlen(json_string_value(json_object_get(prov, "reasoning"))) > 10, "reasoning kept");
        CHECK(json_string_value(json_object_get(json_object_get(prov, "attributes"), "difficulty")), "attributes");
        CHECK(json_string_value(json_object_get(prov, "verdict_reason")), "verdict reason");
        CHECK_EQ_INT(json_array_size(json_object_get(prov, "rounds")), 1);
        json_decref(prov);
    }
    refs = neg_store_query(st, "q5", &n);   /* fenced answers parse */
    CHECK_EQ_INT(n, 2);
    neg_row row;
    if (n) {
        neg_store_get(st, refs[0], &row);
        CHECK(!(row.flags & NEG_F_SUSPECT), "q5 not flagged");
        CHECK(strstr(row.prov, "\"verdict\":\"negative\"") != NULL, "%s", row.prov);
    }
    neg_store_query(st, "q3", &n);
    CHECK_EQ_INT(n, 0);
    neg_store_free(st);
    /* a rerun sends only the failed query's requests (max_retries 1: two) */
    long before = fake_stat(&F, "requests");
    CHECK(synth_run(s, &o, &rep, &err) == 0, "rerun: %s", err.msg);
    CHECK_EQ_INT(fake_stat(&F, "requests") - before, 2);
    CHECK_EQ_INT(rep.requests, 2);
    CHECK_EQ_INT(rep.queries_failed, 1);
    CHECK_EQ_INT(count_source(dir, NEG_LLM, NULL), 10);   /* same ids: nothing doubled */
    /* two reflection rounds: new requests only for the second round */
    o.reflect = 2;
    o.query_ids = (const char *[]){"q1"};
    o.nquery_ids = 1;
    before = fake_stat(&F, "requests");
    CHECK(synth_run(s, &o, &rep, &err) == 0, "reflect 2: %s", err.msg);
    CHECK_EQ_INT(fake_stat(&F, "requests") - before, 2);
    st = neg_store_open(dir, NULL);
    refs = neg_store_query(st, "q1", &n);
    if (n) {
        neg_store_get(st, refs[0], &row);
        json_t *prov = json_loads(row.prov, 0, NULL);
        CHECK_EQ_INT(json_array_size(json_object_get(prov, "rounds")), 2);
        json_decref(prov);
    }
    neg_store_free(st);
    /* the key is in no file under the session (trace included) */
    size_t files = 0;
    CHECK(!tree_has(dir, KEY, &files), "the key was written under %s", dir);
    CHECK(files >= 5, "searched %zu files", files);
    CHECK(file_has(trace, "[REDACTED]"), "the trace redacts the header");
    unsetenv("SYNEG_TRACE");
    free(trace);
    session_close(s);
    check_rmrf(root);
    free(root);
}

TEST(settings_errors)
{
    char *root = check_tmpdir("synthe");
    session *s = make_session(root, "sess");
    if (!s) return;
    setenv("SYNEG_LLM_URL", F.url, 1);
    synth_opts o;
    synth_opts_defaults(&o);
    sy_err err = {0};
    o.query_ids = (const char *[]){"nope"};
    o.nquery_ids = 1;
    CHECK(synth_run(s, &o, NULL, &err) < 0 && strstr(err.msg, "unknown query id 'nope'"), "%s", err.msg);
    synth_opts_defaults(&o);
    prompt_kv bad = {"difficulty", "trivial"};
    o.attrs = &bad;
    o.nattrs = 1;
    CHECK(synth_run(s, &o, NULL, &err) < 0 && strstr(err.msg, "difficulty cannot be 'trivial'"), "%s", err.msg);
    synth_opts_defaults(&o);
    o.budget_usd = 1;
    CHECK(synth_run(s, &o, NULL, &err) < 0 && strstr(err.msg, "llm.prices.fake-model"), "%s", err.msg);
    session_close(s);
    check_rmrf(root);
    free(root);
}

TEST(batch_export_import)
{
    char *root = check_tmpdir("synthb");
    session *s = make_session(root, "sess");
    if (!s) return;
    const char *dir = session_dir(s);
    setenv("SYNEG_LLM_URL", F.url, 1);
    char *out = sy_path_join(root, "batch.jsonl"), *res = sy_path_join(root, "results.jsonl");
    synth_opts o;
    synth_opts_defaults(&o);
    o.reflect = 0;
    o.batch_export = out;
    synth_progress rep;
    sy_err err = {0};
    fake_reset(&F);
    CHECK(synth_run(s, &o, &rep, &err) == 0, "export: %s", err.msg);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 0);
    CHECK_EQ_INT(rep.queries_deferred, 6);
    CHECK_EQ_INT(count_source(dir, NEG_LLM, NULL), 0);
    FILE *f = fopen(out, "r"), *g = fopen(res, "w");
    char line[16384];
    int lines = 0;
    while (f && g && fgets(line, sizeof line, f)) {
        json_t *o2 = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(o2, "custom_id"));
        char content[256];
        snprintf(content, sizeof content, "{\"reasoning\":\"batch\",\"negatives\":[{\"text\":\"batch negative %d a\"},"
                 "{\"text\":\"batch negative %d b\"}]}", lines, lines);
        json_t *a = json_pack("{s:s,s:{s:i,s:{s:s,s:[{s:{s:s,s:s},s:s}],s:{s:i,s:i}}},s:n}", "custom_id", id,
                              "response", "status_code", 200, "body", "model", "fake-model", "choices", "message",
                              "role", "assistant", "content", content, "finish_reason", "stop", "usage",
                              "prompt_tokens", 100, "completion_tokens", 20, "error");
        char *sa = json_dumps(a, JSON_COMPACT);
        fprintf(g, "%s\n", sa);
        free(sa);
        json_decref(a);
        json_decref(o2);
        lines++;
    }
    if (f) fclose(f);
    if (g) fclose(g);
    CHECK_EQ_INT(lines, 6);
    o.batch_export = NULL;
    o.batch_import = res;
    CHECK(synth_run(s, &o, &rep, &err) == 0, "import: %s", err.msg);
    CHECK_EQ_INT(fake_stat(&F, "requests"), 0);
    CHECK_EQ_INT(rep.queries_ok, 6);
    CHECK_EQ_INT(rep.cache_hits, 6);
    CHECK_EQ_INT(count_source(dir, NEG_LLM, NULL), 12);
    free(out);
    free(res);
    session_close(s);
    check_rmrf(root);
    free(root);
}

TEST(offline_generator)
{
    char *root = check_tmpdir("syntho");
    session *s = make_session(root, "sess");
    if (!s) return;
    const char *dir = session_dir(s);
    unsetenv("SYNEG_LLM_URL");   /* no endpoint: offline */
    synth_opts o;
    synth_opts_defaults(&o);
    synth_progress rep;
    sy_err err = {0};
    CHECK(synth_run(s, &o, &rep, &err) == 0, "offline: %s", err.msg);
    CHECK(rep.offline, "offline flag");
    CHECK(rep.negatives >= 6, "rows %zu", rep.negatives);
    CHECK_EQ_INT(count_source(dir, NEG_LLM, NULL), 0);
    size_t n1 = count_source(dir, NEG_OFFLINE, NULL);
    CHECK_EQ_INT(n1, rep.negatives);
    neg_store *st = neg_store_open(dir, NULL);
    size_t n;
    const neg_ref *refs = neg_store_query(st, "q2", &n);
    CHECK(n >= 1, "q2 has offline rows");
    if (n) {
        neg_row row;
        neg_store_get(st, refs[0], &row);
        CHECK(!strncmp(row.neg_id, "offline:", 8), "%s", row.neg_id);
        CHECK(strstr(row.prov, "\"generator\":\"offline\"") && strstr(row.prov, "\"method\""), "%s", row.prov);
        CHECK(row.text && strcmp(row.text, "Water boils at 100 degrees at sea level. The boiling point is lower at altitude."),
              "an edit, not the positive");
    }
    neg_store_free(st);
    /* deterministic: the same seed adds no new ids */
    CHECK(synth_run(s, &o, &rep, &err) == 0, "offline again: %s", err.msg);
    CHECK_EQ_INT(count_source(dir, NEG_OFFLINE, NULL), n1);
    /* regenerate (a fresh variant) gives new text, not the same rows again */
    synth_opts base;
    synth_opts_defaults(&base);
    base.offline = 1;
    base.variant = 12345;
    synth_job *j = synth_regen_start(s, "q1", NULL, 0, &base, &err);
    CHECK(j != NULL, "regen: %s", err.msg);
    if (j) {
        synth_progress pr;
        double t0 = sy_now();
        int state;
        while ((state = synth_job_poll(j, &pr)) == 0 && sy_now() - t0 < 30) {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
        CHECK_EQ_INT(state, 1);
        synth_job_free(j);
        CHECK(count_source(dir, NEG_OFFLINE, NULL) > n1, "regenerate added no new offline text (%zu rows)",
              count_source(dir, NEG_OFFLINE, NULL));
    }
    session_close(s);
    check_rmrf(root);
    free(root);
}

/* Format parity on a titled collection: the prompt asks for a title, the
 * answer's title is stored, and export formats synthetic passages like the
 * collection's ("title text"). */
static session *make_titled_session(const char *root)
{
    char *d = sy_path_join(root, "tdata"), *qd = sy_path_join(d, "qrels"), *dir = sy_path_join(root, "tsess");
    sy_mkdir_p(qd, NULL);
    put(d, "corpus.jsonl",
        "{\"_id\":\"t1\",\"title\":\"Wing lift\",\"text\":\"The lift of a wing grows with the square of the airspeed.\"}\n"
        "{\"_id\":\"t2\",\"title\":\"Boiling water\",\"text\":\"Water boils at 100 degrees at sea level.\"}\n"
        "{\"_id\":\"t3\",\"title\":\"Cylinder drag\",\"text\":\"The drag of a cylinder drops sharply near a Reynolds number of 300000.\"}\n"
        "{\"_id\":\"t4\",\"title\":\"Wing area\",\"text\":\"The wing area of the glider is 20 square metres and its span 15 metres.\"}\n");
    put(d, "queries.jsonl", "{\"_id\":\"a1\",\"text\":\"what is the lift of a wing\"}\n"
                            "{\"_id\":\"a2\",\"text\":\"drag of a cylinder\"}\n");
    put(qd, "train.tsv", "query-id\tcorpus-id\tscore\na1\tt1\t1\na2\tt3\t1\n");
    put(qd, "test.tsv", "query-id\tcorpus-id\tscore\na1\tt4\t1\n");
    session_source src = {d, CORPUS_BEIR, "train", "test"};
    sy_err err = {0};
    CHECK(session_create(dir, &src, &err) == 0, "create: %s", err.msg);
    session *s = session_open(dir, SESSION_WRITE, &err);
    CHECK(s != NULL, "open: %s", err.msg);
    if (s) {
        session_set(s, "llm.model", json_string("fake-model"), NULL);
        session_set(s, "synth.per_query", json_integer(2), NULL);
        session_set(s, "synth.reflect", json_integer(0), NULL);
    }
    free(d); free(qd); free(dir);
    return s;
}

static void check_titled_rows(const char *dir, int source, const char *what)
{
    neg_store *st = neg_store_open(dir, NULL);
    size_t total = 0, titled = 0;
    for (size_t qi = 0; st && qi < neg_store_nqueries(st); qi++) {
        size_t n;
        const neg_ref *refs = neg_store_query(st, neg_store_query_at(st, qi), &n);
        for (size_t i = 0; i < n; i++) {
            neg_row row;
            neg_store_get(st, refs[i], &row);
            if (row.source != source) continue;
            total++;
            json_t *prov = json_loads(row.prov, 0, NULL);
            const char *t = json_string_value(json_object_get(prov, "title"));
            titled += t && *t;
            json_decref(prov);
        }
    }
    neg_store_free(st);
    CHECK(total > 0 && titled == total, "%s: %zu of %zu synthetic rows have a title", what, titled, total);
}

TEST(titled_parity)
{
    char *root = check_tmpdir("synth-titled");
    session *s = make_titled_session(root);
    if (!s) return;
    const char *dir = session_dir(s);
    setenv("SYNEG_LLM_URL", F.url, 1);
    setenv("SYNEG_LLM_KEY", KEY, 1);
    sy_err err = {0};
    char *p = synth_render_prompt(s, "a1", NULL, 0, SYNTH_PROMPT_SYNTH, NULL, &err);
    CHECK(p && strstr(p, "Title: Wing lift") && strstr(p, "\"title\": \"<") && strstr(p, "words"),
          "the prompt asks for a title: %s", p ? p : err.msg);
    free(p);
    synth_opts o;
    synth_opts_defaults(&o);
    synth_progress rep;
    CHECK(synth_run(s, &o, &rep, &err) == 0, "run: %s", err.msg);
    CHECK_EQ_INT(rep.negatives, 4);
    check_titled_rows(dir, NEG_LLM, "llm");
    /* exported like the collection: "title text" for synthetic passages too */
    int changed;
    CHECK(neg_store_refresh(session_negs(s), &changed, &err) == 0, "%s", err.msg);
    char *out = sy_path_join(root, "st.jsonl");
    export_opts eo;
    export_opts_default(&eo);
    eo.format = EXPORT_ST;
    eo.mix.num = 2;
    eo.mix.mix_start = eo.mix.mix_end = 1.0;
    CHECK(export_write(s, &eo, out, NULL, &err) == 0, "export: %s", err.msg);
    char *txt = sy_read_file(out, NULL, &err);
    CHECK(txt && strstr(txt, "\"negative_1\":\"Notes on ") && strstr(txt, "\"positive\":\"Wing lift The lift"),
          "export: %s", txt ? txt : err.msg);
    free(txt);
    free(out);
    /* the offline generator keeps titles too, and says what it is and what it ignored */
    o.offline = 1;
    CHECK(synth_run(s, &o, &rep, &err) == 0, "offline: %s", err.msg);
    CHECK(rep.negatives >= 2, "offline rows %zu", rep.negatives);
    check_titled_rows(dir, NEG_OFFLINE, "offline");
    neg_store *st = neg_store_open(dir, NULL);
    size_t n;
    const neg_ref *refs = neg_store_query(st, "a1", &n);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        neg_row row;
        neg_store_get(st, refs[i], &row);
        if (row.source != NEG_OFFLINE) continue;
        seen = 1;
        CHECK(strstr(row.prov, "stand-in for an LLM") && strstr(row.prov, "\"ignored_attributes\":{") &&
                  strstr(row.prov, "\"difficulty\""), "provenance: %s", row.prov);
    }
    CHECK(seen, "a1 has offline rows");
    neg_store_free(st);
    session_close(s);
    check_rmrf(root);
    free(root);
}

TEST(tui_calls)
{
    char *root = check_tmpdir("synthr");
    session *s = make_session(root, "sess");
    if (!s) return;
    const char *dir = session_dir(s);
    setenv("SYNEG_LLM_URL", F.url, 1);
    sy_err err = {0};
    prompt_kv a = {"difficulty", "subtle"};
    char *p = synth_render_prompt(s, "q1", &a, 1, SYNTH_PROMPT_SYNTH, NULL, &err);
    CHECK(p && strstr(p, "Query: what is the lift of a wing") && strstr(p, "- difficulty: subtle") &&
              strstr(p, "The lift of a wing is proportional") && strstr(p, "[system]"),
          "prompt: %s", p ? p : err.msg);
    free(p);
    p = synth_render_prompt(s, "q1", NULL, 0, SYNTH_PROMPT_REFLECT, "CANDIDATE", &err);
    CHECK(p && strstr(p, "<<< CANDIDATE >>>"), "reflect prompt: %s", p ? p : err.msg);
    free(p);
    CHECK(!synth_render_prompt(s, "zz", NULL, 0, 0, NULL, &err) && strstr(err.msg, "zz"), "%s", err.msg);
    /* background regeneration */
    fake_reset(&F);
    synth_opts base;
    synth_opts_defaults(&base);
    base.reflect = 0;
    for (int round = 0; round < 2; round++) {
        base.variant = round + 1;
        synth_job *j = synth_regen_start(s, "q1", &a, 1, &base, &err);
        CHECK(j != NULL, "regen: %s", err.msg);
        if (!j) break;
        int state;
        synth_progress pr;
        double t0 = sy_now();
        while ((state = synth_job_poll(j, &pr)) == 0 && sy_now() - t0 < 30) {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
        CHECK_EQ_INT(state, 1);
        CHECK_EQ_INT(pr.negatives, 2);
        synth_job_free(j);
    }
    CHECK_EQ_INT(fake_stat(&F, "requests"), 2);   /* each variant is a new request */
    neg_store *st = neg_store_open(dir, NULL);
    size_t n;
    neg_store_query(st, "q1", &n);
    CHECK_EQ_INT(n, 4);
    neg_store_free(st);
    /* cancelling a job that waits on a slow answer */
    fake_control(&F, "{\"latency\": 3}");
    base.variant = 99;
    synth_job *j = synth_regen_start(s, "q1", NULL, 0, &base, &err);
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    double t0 = sy_now();
    synth_job_free(j);   /* cancels and joins */
    CHECK(sy_now() - t0 < 2.5, "cancel was prompt: %.2f s", sy_now() - t0);
    fake_control(&F, "{\"latency\": 0}");
    session_close(s);
    check_rmrf(root);
    free(root);
}

int main(void)
{
    llm_global_init(NULL);
    RUN(parse_answers);
    if (fake_start(&F, "") < 0) {
        CHECK(0, "cannot start tests/tools/fakellm.py");
        return check_done();
    }
    RUN(llm_run_reflect_failures_rerun);
    RUN(settings_errors);
    RUN(batch_export_import);
    RUN(offline_generator);
    RUN(titled_parity);
    RUN(tui_calls);
    fake_stop(&F);
    return check_done();
}
