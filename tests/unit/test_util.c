/* util: the shell quoting rule, URL redaction, process identity, the atomic
 * writer's modes. */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "util.h"

/* Run `sh -c 'X=${X:-QUOTED}; printf %s "$X"'` and compare with the value. */
static int round_trips(const char *shell, const char *v, const char *dir)
{
    sy_buf b = {0};
    sy_buf_printf(&b, "cd '%s' && X=${X:-", dir);
    sy_shell_quote(&b, v);
    sy_buf_puts(&b, "}; printf %s \"$X\"");
    FILE *f = NULL;
    char *cmd = sy_strdup_printf("%s -c \"$SY_T_SCRIPT\"", shell);
    setenv("SY_T_SCRIPT", b.data, 1);
    f = popen(cmd, "r");
    char out[512] = "";
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f) pclose(f);
    free(cmd);
    sy_buf_free(&b);
    return strcmp(out, v) == 0;
}

TEST(shell_quote)
{
    char *d = check_tmpdir("quote");
    static const char *const vals[] = {
        "plain-1.0", "", "a$(touch${IFS}PWNED).jsonl", "it's", "a}b", "x\"y", "back\\slash", "`touch PWNED`",
        "'$HOME'", "${IFS}", "}}", "a b", "~/x", "*", "a\tb", "; touch PWNED", "'", "''\\'",
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        CHECK(round_trips("sh", vals[i], d), "sh: [%s] did not survive quoting", vals[i]);
        CHECK(round_trips("bash", vals[i], d), "bash: [%s] did not survive quoting", vals[i]);
    }
    char *pw = sy_path_join(d, "PWNED");
    CHECK(!sy_file_exists(pw), "a quoted value ran a command");
    free(pw);
    sy_buf b = {0};
    sy_shell_quote(&b, "BAAI/bge-small-en-v1.5");
    CHECK_EQ_STR(b.data, "BAAI/bge-small-en-v1.5");   /* plain words stay readable */
    sy_buf_free(&b);
    CHECK(sy_find_control("a\nb") != NULL, "newline not found");
    CHECK(sy_find_control("tab\there") != NULL, "tab not found");
    CHECK(sy_find_control("plain name é") == NULL, "UTF-8 is not a control character");
    check_rmrf(d);
    free(d);
}

TEST(url_redact)
{
    char out[256];
    CHECK_EQ_INT(sy_url_redact("http://127.0.0.1:8000/v1", out, sizeof out), 0);
    CHECK_EQ_STR(out, "http://127.0.0.1:8000/v1");
    CHECK_EQ_INT(sy_url_redact("http://u:sk-SECRET@host:1/v1/chat/completions", out, sizeof out), 1);
    CHECK_EQ_STR(out, "http://[REDACTED]@host:1/v1/chat/completions");
    CHECK(!strstr(out, "SECRET"), "%s", out);
    CHECK_EQ_INT(sy_url_redact("https://a@b@host/v1?api_key=sk-SECRET&x=1&token=T0K#frag", out, sizeof out), 3);
    CHECK_EQ_STR(out, "https://[REDACTED]@host/v1?api_key=[REDACTED]&x=1&token=[REDACTED]#frag");
    CHECK_EQ_INT(sy_url_redact("http://host/v1?Key=abc", out, sizeof out), 1);
    CHECK_EQ_STR(out, "http://host/v1?Key=[REDACTED]");
    CHECK_EQ_INT(sy_url_redact("http://host/p@th/v1", out, sizeof out), 0);   /* '@' in the path is no userinfo */
    CHECK_EQ_STR(out, "http://host/p@th/v1");
    CHECK_EQ_INT(sy_url_redact("http://u:p@h", out, 8), 1);   /* truncated, still terminated */
    CHECK_EQ_INT((int)strlen(out), 7);
}

TEST(proc_identity)
{
    char me[128], again[128];
    CHECK_EQ_INT(sy_proc_token((long)getpid(), me, sizeof me), 0);
    CHECK(strchr(me, ':') != NULL, "token %s", me);
    CHECK_EQ_INT(sy_proc_token((long)getpid(), again, sizeof again), 0);
    CHECK_EQ_STR(me, again);
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    char tok[128];
    CHECK_EQ_INT(sy_proc_token((long)child, tok, sizeof tok), 0);
    CHECK(strcmp(tok, me) != 0, "two processes share a token");
    /* a token of another process (a reused pid, a copied session): nothing is sent */
    errno = 0;
    CHECK_EQ_INT(sy_proc_signal((long)child, me, SIGTERM), -1);
    CHECK_EQ_INT(errno, ESRCH);
    CHECK_EQ_INT(sy_proc_signal((long)child, "", SIGTERM), -1);
    CHECK_EQ_INT(sy_proc_signal((long)child, "otherboot:1", SIGTERM), -1);
    CHECK_EQ_INT(waitpid(child, NULL, WNOHANG), 0);   /* still alive */
    CHECK_EQ_INT(sy_proc_signal((long)child, tok, SIGTERM), 0);
    int st = 0;
    CHECK_EQ_INT(waitpid(child, &st, 0), child);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %d", st);
    CHECK_EQ_INT(sy_proc_token((long)child, tok, sizeof tok), -1);   /* gone */
}

TEST(atomic_modes)
{
    char *d = check_tmpdir("atomic");
    char *p = sy_path_join(d, "f.json");
    sy_err err = {0};
    CHECK_EQ_INT(sy_write_file_atomic(p, "{}\n", 3, &err), 0);
    struct stat st;
    CHECK_EQ_INT(stat(p, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);   /* new files are private */
    chmod(p, 0640);
    CHECK_EQ_INT(sy_write_file_atomic(p, "[]\n", 3, &err), 0);
    CHECK_EQ_INT(stat(p, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0640);   /* a replaced file keeps its mode */
    free(p);
    check_rmrf(d);
    free(d);
}

int main(void)
{
    RUN(shell_quote);
    RUN(url_redact);
    RUN(proc_identity);
    RUN(atomic_modes);
    return check_done();
}
