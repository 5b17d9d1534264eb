#include "cli.h"
#include "../engine/encoder.h"
#include "../engine/session.h"
#include "../engine/settings.h"
#include "../engine/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const sy_err *err)
{
    fprintf(stderr, "syneg: %s\n", err && err->msg[0] ? err->msg : "unknown error");
    return EXIT_ERR;
}

void cli_notice(struct session *s)
{
    char *n = session_take_notice(s);
    if (n) fprintf(stderr, "syneg: %s\n", n);
    free(n);
}

void cli_session_close(struct session *s)
{
    if (!s) return;
    cli_notice(s);
    session_close(s);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "syneg %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'syneg %s --help'\n", cmd);
    return EXIT_USAGE;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "syneg: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_ERR;
}

int cli_parse_shard(const char *s, unsigned *i, unsigned *n)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || slash == s || (size_t)(slash - s) > 16) return -1;
    char a[24];
    memcpy(a, s, (size_t)(slash - s));
    a[slash - s] = '\0';
    long vi, vn;
    if (cli_parse_long(a, 0, 99999, &vi) < 0 || cli_parse_long(slash + 1, 1, 100000, &vn) < 0 || vi >= vn) return -1;
    *i = (unsigned)vi;
    *n = (unsigned)vn;
    return 0;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int cli_isatty_err(void) { return isatty(2); }

/* Under the workbench's jobs (SYNEG_PROGRESS set, stderr a log file) progress
 * goes out as lines "progress: WHAT DONE/TOTAL EXTRA", at most 5 a second
 * plus the last, which the jobs panel parses. */
static void progress_line(const char *what, double done, double total, const char *extra)
{
    static double last;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = ts.tv_sec + ts.tv_nsec * 1e-9;
    if (now - last < 0.2 && done < total) return;
    last = now;
    fprintf(stderr, "progress: %s %.0f/%.0f %s\n", what && *what ? what : "work", done, total, extra ? extra : "");
    fflush(stderr);
}

void cli_progress(const char *what, double done, double total, const char *extra)
{
    if (!isatty(2)) {
        const char *p = getenv("SYNEG_PROGRESS");
        if (p && *p) progress_line(what, done, total, extra);
        return;
    }
    int width = 30, fill = total > 0 ? (int)(width * done / total) : 0;
    if (fill > width) fill = width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%-12s [%s] %.0f/%.0f %s\033[K", what, bar, done, total, extra ? extra : "");
    fflush(stderr);
}

void cli_progress_end(void)
{
    if (isatty(2)) fputc('\n', stderr);
}

pid_t cli_fork_detached(const char *dir)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    setsid();
    signal(SIGHUP, SIG_IGN);
    int in = open("/dev/null", O_RDONLY);
    char *log = sy_path_join(dir, "log.txt");
    int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
    free(log);
    if (in >= 0) { dup2(in, 0); close(in); }
    if (out >= 0) { dup2(out, 1); dup2(out, 2); close(out); }
    return 0;
}

int cli_precision(const char *cmd, struct session *s, const char *flag, const char **name)
{
    const char *v = flag ? flag : settings_str(s, "encoder.precision");
    enc_precision p;
    sy_err err = { 0 };
    if (enc_precision_parse(v, &p, &err))
        return cli_usage(cmd, "%s: %s", flag ? "--precision" : "encoder.precision (the setting, or $SYNEG_PRECISION)", err.msg);
    *name = v;
    return 0;
}
