#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const sy_err *err)
{
    fprintf(stderr, "syneg: %s\n", err && err->msg[0] ? err->msg : "unknown error");
    return EXIT_ERR;
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

void cli_progress(const char *what, double done, double total, const char *extra)
{
    if (!isatty(2)) return;
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
