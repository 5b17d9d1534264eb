/* labels journal: acts, replay, torn lines, compaction, full disk, read-only. */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "labels.h"
#include "util.h"

static void append_raw(const char *dir, const char *name, const char *text)
{
    char *p = sy_path_join(dir, name);
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (write(fd, text, strlen(text)) < 0) perror("write");
    close(fd);
    free(p);
}

TEST(act_and_replay)
{
    char *d = check_tmpdir("labels");
    sy_err err = {0};
    labels *l = labels_open(d, 0, &err);
    CHECK(l != NULL, "open: %s", err.msg);
    CHECK_EQ_INT(labels_act(l, "q1", "d1", ACT_ACCEPT, NULL, &err), 0);
    CHECK_EQ_INT(labels_act(l, "q1", "d2", ACT_REJECT, "answers it", &err), 0);
    CHECK_EQ_INT(labels_act(l, "q2", "llm:00ff", ACT_ACCEPT, NULL, &err), 0);
    CHECK_EQ_INT(labels_act(l, "q2", "llm:00ff", ACT_CLEAR, NULL, &err), 0);
    CHECK_EQ_INT(labels_count(l, LABEL_ACCEPT), 1);
    CHECK_EQ_INT(labels_count(l, LABEL_REJECT), 1);
    CHECK_EQ_INT(labels_count(l, LABEL_NONE), 1);
    labels_free(l);
    l = labels_open(d, 0, &err);
    label_entry e;
    CHECK_EQ_INT(labels_get(l, "q1", "d2", &e), LABEL_REJECT);
    CHECK_EQ_STR(e.note, "answers it");
    CHECK_EQ_INT(labels_get(l, "q1", "d1", NULL), LABEL_ACCEPT);
    CHECK_EQ_INT(labels_get(l, "q2", "llm:00ff", NULL), LABEL_NONE);
    CHECK_EQ_INT(labels_get(l, "q9", "d1", NULL), LABEL_NONE);
    CHECK_EQ_INT(labels_size(l), 3);
    CHECK_EQ_INT(labels_seq(l), 4);
    labels_at(l, 0, &e);
    CHECK_EQ_STR(e.query_id, "q1");
    CHECK_EQ_STR(e.neg_id, "d1");
    CHECK_EQ_INT(labels_nskipped(l), 0);
    CHECK_EQ_INT(labels_act(l, "", "d1", ACT_ACCEPT, NULL, &err), -1);
    CHECK_EQ_INT(err.code, SY_EINVAL);
    labels_free(l);
    check_rmrf(d);
    free(d);
}

TEST(torn_last_line_is_skipped_reported_and_cut)
{
    char *d = check_tmpdir("torn");
    sy_err err = {0};
    labels *l = labels_open(d, 0, &err);
    labels_act(l, "q1", "d1", ACT_ACCEPT, NULL, &err);
    labels_free(l);
    append_raw(d, "labels.jsonl", "{\"seq\":2,\"t\":\"x\",\"q\":\"q1\",\"n\":\"d2\",\"a\":\"rej");
    l = labels_open(d, 0, &err);
    CHECK(l != NULL, "open after torn line: %s", err.msg);
    CHECK_EQ_INT(labels_nskipped(l), 1);
    CHECK(labels_warning(l, 0) && strstr(labels_warning(l, 0), "labels.jsonl:2"), "warning names file and line: %s",
          labels_warning(l, 0));
    CHECK_EQ_INT(labels_get(l, "q1", "d1", NULL), LABEL_ACCEPT);
    CHECK_EQ_INT(labels_get(l, "q1", "d2", NULL), LABEL_NONE);
    /* the next act must land on its own line */
    CHECK_EQ_INT(labels_act(l, "q1", "d3", ACT_REJECT, NULL, &err), 0);
    labels_free(l);
    l = labels_open(d, 1, &err);
    CHECK_EQ_INT(labels_nskipped(l), 0);
    CHECK_EQ_INT(labels_get(l, "q1", "d3", NULL), LABEL_REJECT);
    labels_free(l);
    /* a malformed line in the middle is skipped, later lines still count */
    append_raw(d, "labels.jsonl", "not json\n{\"seq\":9,\"t\":\"x\",\"q\":\"q5\",\"n\":\"d5\",\"a\":\"accept\"}\n");
    l = labels_open(d, 1, &err);
    CHECK_EQ_INT(labels_nskipped(l), 1);
    CHECK_EQ_INT(labels_get(l, "q5", "d5", NULL), LABEL_ACCEPT);
    labels_free(l);
    check_rmrf(d);
    free(d);
}

TEST(compaction_keeps_everything)
{
    char *d = check_tmpdir("compact");
    sy_err err = {0};
    labels *l = labels_open(d, 0, &err);
    for (int i = 0; i < 50; i++) {
        char q[16], n[16];
        snprintf(q, sizeof q, "q%d", i % 7);
        snprintf(n, sizeof n, "d%d", i);
        labels_act(l, q, n, i % 3 == 0 ? ACT_REJECT : ACT_ACCEPT, i % 5 ? NULL : "n", &err);
    }
    size_t acc = labels_count(l, LABEL_ACCEPT), rej = labels_count(l, LABEL_REJECT);
    CHECK_EQ_INT(labels_compact(l, &err), 0);
    CHECK_EQ_INT(labels_act(l, "q1", "d1", ACT_CLEAR, NULL, &err), 0);
    labels_free(l);
    l = labels_open(d, 0, &err);
    CHECK_EQ_INT(labels_count(l, LABEL_ACCEPT), acc - 1);
    CHECK_EQ_INT(labels_count(l, LABEL_REJECT), rej);
    CHECK_EQ_INT(labels_seq(l), 51);
    label_entry e;
    CHECK_EQ_INT(labels_get(l, "q0", "d0", &e), LABEL_REJECT);
    CHECK_EQ_STR(e.note, "n");
    labels_free(l);
    /* crash between snapshot rename and journal truncation: replay skips seq <= snapshot */
    l = labels_open(d, 0, &err);
    labels_act(l, "q2", "d2", ACT_ACCEPT, NULL, &err);
    char *jp = sy_path_join(d, "labels.jsonl");
    size_t jl;
    char *journal = sy_read_file(jp, &jl, &err);
    labels_compact(l, &err);
    labels_free(l);
    sy_write_file_atomic(jp, journal, jl, &err); /* the old journal is back, as if never emptied */
    l = labels_open(d, 0, &err);
    CHECK_EQ_INT(labels_seq(l), 52);
    CHECK_EQ_INT(labels_get(l, "q1", "d1", NULL), LABEL_NONE);
    CHECK_EQ_INT(labels_get(l, "q2", "d2", NULL), LABEL_ACCEPT);
    CHECK_EQ_INT(labels_nskipped(l), 0);
    labels_free(l);
    free(journal);
    free(jp);
    check_rmrf(d);
    free(d);
}

TEST(full_disk_gives_error_and_keeps_saved)
{
    char *d = check_tmpdir("full");
    sy_err err = {0};
    labels *l = labels_open(d, 0, &err);
    CHECK_EQ_INT(labels_act(l, "q1", "d1", ACT_ACCEPT, NULL, &err), 0);
    labels_free(l);
    pid_t pid = fork();
    if (pid == 0) {
        /* in the child the file may not grow past its size + 10 bytes: the write fails
         * part-way like on a full disk (EFBIG, reported as SY_ENOSPC) */
        signal(SIGXFSZ, SIG_IGN);
        labels *c = labels_open(d, 0, &err);
        char *jp = sy_path_join(d, "labels.jsonl");
        size_t jl;
        free(sy_read_file(jp, &jl, &err));
        struct rlimit rl = {jl + 10, jl + 10};
        setrlimit(RLIMIT_FSIZE, &rl);
        int r = labels_act(c, "q1", "d2", ACT_REJECT, "a long note that will not fit", &err);
        int ok = r == -1 && err.code == SY_ENOSPC && strstr(err.msg, "labels.jsonl");
        /* the earlier label is still there in memory too */
        ok = ok && labels_get(c, "q1", "d1", NULL) == LABEL_ACCEPT && labels_get(c, "q1", "d2", NULL) == LABEL_NONE;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw the ENOSPC error and kept state (status %d)", st);
    l = labels_open(d, 0, &err);
    CHECK(l != NULL, "reopen: %s", err.msg);
    CHECK_EQ_INT(labels_nskipped(l), 0); /* the partial line was truncated away */
    CHECK_EQ_INT(labels_get(l, "q1", "d1", NULL), LABEL_ACCEPT);
    CHECK_EQ_INT(labels_get(l, "q1", "d2", NULL), LABEL_NONE);
    CHECK_EQ_INT(labels_act(l, "q1", "d2", ACT_REJECT, NULL, &err), 0);
    labels_free(l);
    check_rmrf(d);
    free(d);
}

TEST(readonly_refuses_acts)
{
    char *d = check_tmpdir("ro");
    sy_err err = {0};
    labels *w = labels_open(d, 0, &err);
    labels_act(w, "q1", "d1", ACT_ACCEPT, NULL, &err);
    labels *r = labels_open(d, 1, &err);
    CHECK_EQ_INT(labels_get(r, "q1", "d1", NULL), LABEL_ACCEPT);
    CHECK_EQ_INT(labels_act(r, "q1", "d2", ACT_ACCEPT, NULL, &err), -1);
    CHECK_EQ_INT(err.code, SY_EREADONLY);
    labels_act(w, "q1", "d3", ACT_REJECT, NULL, &err);
    CHECK_EQ_INT(labels_reload(r, &err), 0);
    CHECK_EQ_INT(labels_get(r, "q1", "d3", NULL), LABEL_REJECT);
    labels_free(r);
    labels_free(w);
    check_rmrf(d);
    free(d);
}

TEST(batch_is_one_write_all_or_nothing)
{
    char *d = check_tmpdir("batch");
    sy_err err = {0};
    labels *l = labels_open(d, 0, &err);
    CHECK_EQ_INT(labels_act(l, "q0", "d0", ACT_ACCEPT, NULL, &err), 0);
    label_req r[] = {{.query_id = "q1", .neg_id = "d1", .act = ACT_ACCEPT},
                     {.query_id = "q1", .neg_id = "d2", .act = ACT_REJECT, .note = "answers it"},
                     {.query_id = "q1", .neg_id = "d1", .act = ACT_CLEAR}};
    CHECK_EQ_INT(labels_act_batch(l, r, 3, &err), 0);
    CHECK_EQ_INT(labels_seq(l), 4);
    CHECK_EQ_INT(labels_get(l, "q1", "d1", NULL), LABEL_NONE);
    /* a bad act anywhere: nothing written, state unchanged */
    label_req bad[] = {{.query_id = "q2", .neg_id = "d1", .act = ACT_ACCEPT}, {.query_id = "q2", .neg_id = "", .act = ACT_ACCEPT}};
    CHECK_EQ_INT(labels_act_batch(l, bad, 2, &err), -1);
    CHECK_EQ_INT(err.code, SY_EINVAL);
    CHECK_EQ_INT(labels_get(l, "q2", "d1", NULL), LABEL_NONE);
    labels_free(l);
    l = labels_open(d, 0, &err);
    label_entry e;
    CHECK_EQ_INT(labels_seq(l), 4);
    CHECK_EQ_INT(labels_get(l, "q1", "d2", &e), LABEL_REJECT);
    CHECK_EQ_STR(e.note, "answers it");
    CHECK_EQ_INT(labels_get(l, "q0", "d0", NULL), LABEL_ACCEPT);
    CHECK_EQ_INT(labels_get(l, "q2", "d1", NULL), LABEL_NONE);
    CHECK_EQ_INT(labels_nskipped(l), 0);
    labels_free(l);
    check_rmrf(d);
    free(d);
}

/* undo across a restart: each journal act with its pair's state before it,
 * the first act after a snapshot taking that state from the snapshot */
TEST(history_for_undo)
{
    char *d = check_tmpdir("labels-hist");
    sy_err err = {0};
    labels *l = labels_open(d, 0, &err);
    CHECK(l != NULL, "open: %s", err.msg);
    CHECK_EQ_INT(labels_act(l, "q1", "d1", ACT_ACCEPT, "near miss", &err), 0);
    CHECK_EQ_INT(labels_compact(l, &err), 0);
    CHECK_EQ_INT(labels_act(l, "q1", "d1", ACT_REJECT, NULL, &err), 0);
    CHECK_EQ_INT(labels_act(l, "q1", "d2", ACT_ACCEPT, NULL, &err), 0);
    CHECK_EQ_INT(labels_act(l, "q1", "d2", ACT_CLEAR, "why", &err), 0);
    label_hist *h;
    size_t n;
    CHECK_EQ_INT(labels_history(l, 100, &h, &n, &err), 0);
    CHECK_EQ_INT(n, 3);   /* the accept was folded into the snapshot */
    CHECK_EQ_STR(h[0].neg_id, "d1");
    CHECK_EQ_INT(h[0].act, ACT_REJECT);
    CHECK_EQ_INT(h[0].prev_kind, LABEL_ACCEPT);   /* from the snapshot */
    CHECK_EQ_STR(h[0].prev_note, "near miss");
    CHECK_EQ_INT(h[1].prev_kind, LABEL_NONE);
    CHECK_EQ_INT(h[2].act, ACT_CLEAR);
    CHECK_EQ_INT(h[2].prev_kind, LABEL_ACCEPT);
    CHECK_EQ_STR(h[2].note, "why");
    labels_history_free(h, n);
    CHECK_EQ_INT(labels_history(l, 1, &h, &n, &err), 0);   /* only the newest */
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(h[0].neg_id, "d2");
    CHECK_EQ_INT(h[0].act, ACT_CLEAR);
    labels_history_free(h, n);
    labels_free(l);
    check_rmrf(d);
    free(d);
}

int main(void)
{
    RUN(history_for_undo);
    RUN(act_and_replay);
    RUN(torn_last_line_is_skipped_reported_and_cut);
    RUN(compaction_keeps_everything);
    RUN(full_disk_gives_error_and_keeps_saved);
    RUN(readonly_refuses_acts);
    RUN(batch_is_one_write_all_or_nothing);
    return check_done();
}
