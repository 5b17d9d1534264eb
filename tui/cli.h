/* cli: what every `syneg CMD` shares: the command table, exit codes, error
 * printing and help handling.  Commands live one per file, tui/cmd_NAME.c,
 * each defining `int cmd_NAME(int argc, char **argv)` (argv[0] is "NAME")
 * and `const char cmd_NAME_help[]` (the full text `syneg NAME --help` prints).
 * To add a command, add one CMD line to tui/commands.def. */
#ifndef SY_CLI_H
#define SY_CLI_H

#include <stdio.h>
#include <sys/types.h>

#include "../engine/err.h"

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

#define CMD(name, summary) \
    int cmd_##name(int argc, char **argv); \
    extern const char cmd_##name##_help[];
#include "commands.def"
#undef CMD

/* Print "syneg: MESSAGE" for an engine error to stderr; returns EXIT_ERR. */
int cli_fail(const sy_err *err);
/* Print "syneg CMD: MESSAGE" and "try 'syneg CMD --help'"; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a formatted error; returns EXIT_ERR. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse numbers strictly: the whole string must be a number in range. 0 / -1. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
/* Parse "I/N" (0 <= I < N, 1 <= N <= 100000) for --shard. 0 / -1. */
int cli_parse_shard(const char *s, unsigned *i, unsigned *n);
/* The encoder precision for CMD: `flag` (--precision) when not NULL, else
 * the setting encoder.precision of session s (s NULL: its environment
 * variable $SYNEG_PRECISION or its default).  An unknown value, or bf16 on a
 * CPU without avx512_bf16, is a usage error: printed naming where the value
 * came from and the fix, EXIT_USAGE returned.  Else 0, *name = the value. */
struct session;
/* Print what opening the session's corpus did (a store built or rebuilt, and
 * why) to stderr, once: later calls print nothing until there is news. */
void cli_notice(struct session *s);
/* cli_notice, then session_close: every command that opened a session ends
 * here, so a rebuilt store is never silent. */
void cli_session_close(struct session *s);
int cli_precision(const char *cmd, struct session *s, const char *flag, const char **name);
/* True when stderr is a terminal (progress bars are drawn only then). */
int cli_isatty_err(void);
/* fork() for a detached background run: in the child (0 returned) the process
 * leads a new session, ignores SIGHUP, reads /dev/null and writes stdout and
 * stderr to DIR/log.txt (appended).  The parent gets the child's pid, or -1
 * with errno set.  stdout/stderr are flushed first so nothing is written twice. */
pid_t cli_fork_detached(const char *dir);
/* Draw/refresh a one-line progress bar on stderr (no-op when not a tty). */
void cli_progress(const char *what, double done, double total, const char *extra);
void cli_progress_end(void);

#endif
