/* session: create/open, the writer lock, settings, errors. */
#include <unistd.h>

#include "../check.h"
#include "corpus_store.h"
#include "session.h"
#include "settings.h"
#include "util.h"

static char *make_beir(void)
{
    char *d = check_tmpdir("beir");
    char *p;
    sy_err err;
    p = sy_path_join(d, "corpus.jsonl");
    const char *corpus = "{\"_id\":\"d1\",\"title\":\"Coffee\",\"text\":\"Steep four minutes.\"}\n"
                         "{\"_id\":\"d2\",\"title\":\"Tea\",\"text\":\"Green tea at 80 degrees.\"}\n";
    sy_write_file_atomic(p, corpus, strlen(corpus), &err);
    free(p);
    p = sy_path_join(d, "queries.jsonl");
    const char *q = "{\"_id\":\"q1\",\"text\":\"how long to steep coffee\"}\n{\"_id\":\"q2\",\"text\":\"tea temperature\"}\n";
    sy_write_file_atomic(p, q, strlen(q), &err);
    free(p);
    p = sy_path_join(d, "qrels");
    sy_mkdir_p(p, &err);
    free(p);
    p = sy_path_join(d, "qrels/train.tsv");
    const char *tr = "query-id\tcorpus-id\tscore\nq1\td1\t1\n";
    sy_write_file_atomic(p, tr, strlen(tr), &err);
    free(p);
    p = sy_path_join(d, "qrels/test.tsv");
    const char *te = "query-id\tcorpus-id\tscore\nq2\td2\t2\n";
    sy_write_file_atomic(p, te, strlen(te), &err);
    free(p);
    return d;
}

TEST(create_open_lock_settings)
{
    char *data = make_beir(), *root = check_tmpdir("sess");
    char *dir = sy_path_join(root, "sessions/one");
    sy_err err = {0};
    session_source src = {.path = data, .format = CORPUS_BEIR};
    CHECK_EQ_INT(session_create(dir, &src, &err), 0);
    CHECK_EQ_INT(session_create(dir, &src, &err), -1);
    CHECK_EQ_INT(err.code, SY_EEXIST);

    session *a = session_open(dir, SESSION_WRITE, &err);
    CHECK(a != NULL, "%s", err.msg);
    CHECK_EQ_INT(session_readonly(a), 0);
    CHECK_EQ_STR(session_name(a), "one");
    CHECK_EQ_STR(session_train_split(a), "train");
    corpus *c = session_corpus(a, &err);
    CHECK(c && corpus_ndocs(c) == 2, "corpus via session");
    CHECK(session_get(a, "bm25.k1") == NULL, "a new session stores no defaults (the settings table has them)");
    CHECK_NEAR(settings_num(a, "bm25.k1"), 0.9, 1e-12);

    /* a second writer falls back to read-only and names the holder */
    session *b = session_open(dir, SESSION_WRITE, &err);
    CHECK(b != NULL, "%s", err.msg);
    CHECK_EQ_INT(session_readonly(b), 1);
    CHECK_EQ_INT(session_lock_holder(b), getpid());
    CHECK_EQ_INT(labels_act(session_labels(b), "q1", "d2", ACT_ACCEPT, NULL, &err), -1);
    CHECK_EQ_INT(err.code, SY_EREADONLY);
    CHECK_EQ_INT(session_set(b, "bm25.k1", json_real(1.2), &err), -1);
    session_close(b);

    CHECK_EQ_INT(labels_act(session_labels(a), "q1", "d2", ACT_ACCEPT, NULL, &err), 0);
    CHECK_EQ_INT(session_set(a, "llm.model", json_string("gpt-x"), &err), 0);
    CHECK_EQ_INT(session_set(a, "llm.max_tokens", json_integer(512), &err), 0);
    CHECK_EQ_INT(session_set(a, "llm.api_key", json_string("sk-secret"), &err), -1);
    CHECK(strstr(err.msg, "environment") != NULL, "secret refused with a hint: %s", err.msg);
    CHECK_EQ_INT(session_set(a, "source.path", json_string("/x"), &err), -1);
    session_close(a);

    /* the lock is gone with the writer; settings and labels persisted */
    b = session_open(dir, SESSION_WRITE, &err);
    CHECK_EQ_INT(session_readonly(b), 0);
    CHECK_EQ_STR(session_get_str(b, "llm.model", NULL), "gpt-x");
    CHECK_EQ_INT(labels_get(session_labels(b), "q1", "d2", NULL), LABEL_ACCEPT);
    char *js = sy_path_join(dir, "session.json");
    char *text = sy_read_file(js, NULL, &err);
    CHECK(text && !strstr(text, "sk-secret"), "no secret in session.json");
    free(text);
    free(js);
    session_close(b);
    free(dir);
    check_rmrf(root);
    check_rmrf(data);
    free(root);
    free(data);
}

TEST(errors_name_what_to_do)
{
    char *data = make_beir(), *root = check_tmpdir("sesserr");
    char *dir = sy_path_join(root, "s");
    sy_err err = {0};
    session_source src = {.path = data, .format = CORPUS_BEIR, .eval_split = "dev"};
    CHECK_EQ_INT(session_create(dir, &src, &err), -1);
    CHECK(strstr(err.msg, "'dev'") && strstr(err.msg, "train") && strstr(err.msg, "--eval-split"),
          "missing split named with the ones found: %s", err.msg);
    CHECK(!sy_file_exists(dir), "nothing written when the data is wrong");
    session *s = session_open(dir, SESSION_READ, &err);
    CHECK(s == NULL && err.code == SY_ENOTFOUND && strstr(err.msg, "syneg init"), "%s", err.msg);
    sy_mkdir_p(dir, &err);
    char *js = sy_path_join(dir, "session.json");
    sy_write_file_atomic(js, "{\"format\": \"syneg-session\",\n  \"version\": 1,\n  oops}\n", 48, &err);
    s = session_open(dir, SESSION_READ, &err);
    CHECK(s == NULL && err.code == SY_EPARSE && strstr(err.msg, "session.json:3"), "parse error names line: %s",
          err.msg);
    free(js);
    free(dir);
    check_rmrf(root);
    check_rmrf(data);
    free(root);
    free(data);
}

/* Rewrite a version-3 session store as the version 2 that earlier builds
 * wrote: no chunk table; one checksum over the tables (at 80) and one over the
 * texts (at 96); chunk fields zero. */
static int store_to_v2(const char *path)
{
    sy_map m;
    sy_err err;
    if (sy_map_open(&m, path, &err) < 0) return -1;
    uint64_t ctab = sy_get_u64(m.data + 96), blob = sy_get_u64(m.data + 88);
    uint8_t *f = malloc(ctab);
    if (!f) return -1;
    memcpy(f, m.data, ctab);
    sy_map_close(&m);
    sy_put_u32(f + 8, 2);
    sy_put_u64(f + 16, ctab);
    sy_put_u64(f + 80, cstore_checksum(f + 192, blob - 192));
    sy_put_u64(f + 96, cstore_checksum(f + blob, ctab - blob));
    memset(f + 128, 0, 184 - 128);
    sy_put_u64(f + 184, cstore_checksum(f, 184));
    int rc = sy_write_file_atomic(path, f, ctab, &err);
    free(f);
    return rc;
}

static int store_version(const char *path)
{
    sy_map m;
    sy_err err;
    if (sy_map_open(&m, path, &err) < 0) return -1;
    int v = m.len >= 12 ? (int)sy_get_u32(m.data + 8) : -1;
    sy_map_close(&m);
    return v;
}

/* A session whose store an earlier build wrote (version 2) is converted once,
 * saying so, when its data set is there; without it, it is read as it is. */
TEST(old_store_converted_once)
{
    char *data = make_beir(), *root = check_tmpdir("sessv2");
    char *dir = sy_path_join(root, "s"), *store = sy_path_join(dir, "corpus.syc");
    sy_err err = {0};
    session_source src = {.path = data, .format = CORPUS_BEIR};
    CHECK_EQ_INT(session_create(dir, &src, &err), 0);
    session *s = session_open(dir, SESSION_READ, &err);
    CHECK(s && session_corpus(s, &err), "%s", err.msg);
    session_close(s);
    CHECK_EQ_INT(store_version(store), CSTORE_VERSION);
    CHECK_EQ_INT(store_to_v2(store), 0);
    CHECK_EQ_INT(store_version(store), 2);

    s = session_open(dir, SESSION_READ, &err);
    corpus *c = s ? session_corpus_lazy(s, &err) : NULL;
    CHECK(c && corpus_ndocs(c) == 2 && !strcmp(corpus_doc_text(c, 1), "Green tea at 80 degrees."), "%s", err.msg);
    CHECK(s && session_notice(s) && strstr(session_notice(s), "converted from the version 2"),
          "conversion said: %s", s && session_notice(s) ? session_notice(s) : "(nothing)");
    session_close(s);
    CHECK_EQ_INT(store_version(store), CSTORE_VERSION);
    s = session_open(dir, SESSION_READ, &err);
    CHECK(s && session_corpus_lazy(s, &err) && !session_notice(s), "converted once: %s",
          s && session_notice(s) ? session_notice(s) : err.msg);
    session_close(s);

    /* no data set: the version 2 store is all there is, and it is read */
    CHECK_EQ_INT(store_to_v2(store), 0);
    char *gone = sy_strdup_printf("%s.gone", data);
    CHECK_EQ_INT(rename(data, gone), 0);
    s = session_open(dir, SESSION_READ, &err);
    c = s ? session_corpus_lazy(s, &err) : NULL;
    CHECK(c && corpus_ndocs(c) == 2 && !strcmp(corpus_doc_id(c, 0), "d1") && !session_notice(s), "%s", err.msg);
    session_close(s);
    CHECK_EQ_INT(store_version(store), 2);
    CHECK_EQ_INT(rename(gone, data), 0);
    free(gone);
    free(store);
    free(dir);
    check_rmrf(root);
    check_rmrf(data);
    free(root);
    free(data);
}

int main(void)
{
    RUN(create_open_lock_settings);
    RUN(errors_name_what_to_do);
    RUN(old_store_converted_once);
    return check_done();
}
