/* mine_cli: the mining options `syneg mine` and `syneg fneval` share (one
 * parser, one help text), so the measurement runs exactly what mining runs. */
#ifndef SY_MINE_CLI_H
#define SY_MINE_CLI_H

#include <getopt.h>

#include "../engine/mine.h"

/* getopt_long entries of the shared options (terminated by a zero entry is NOT
 * included: append these to a command's own table). */
#define MINE_CLI_OPTIONS \
    {"retriever", required_argument, 0, 'r'}, {"model", required_argument, 0, 'm'}, \
    {"split", required_argument, 0, 'S'}, {"range", required_argument, 0, 'R'}, \
    {"num", required_argument, 0, 'n'}, {"sample", required_argument, 0, 'p'}, \
    {"seed", required_argument, 0, 's'}, {"max-rel", required_argument, 0, 'x'}, \
    {"margin", required_argument, 0, 'g'}, {"max-score", required_argument, 0, 'X'}, \
    {"fn-threshold", required_argument, 0, 'T'}, {"suspects", required_argument, 0, 'U'}, \
    {"pool", required_argument, 0, 'P'}

/* Handle one shared option; 1 if it was one (0 otherwise), or the exit
 * status of a usage error (EXIT_USAGE) through *rc. */
int mine_cli_option(const char *cmd, int c, const char *arg, mine_opts *mo, const char **kind, const char **model,
                    int *rc);
/* Before parsing: the options that have a session setting (mine.fn_threshold,
 * mine.suspect_min/max, mine.pool) marked unset, so that after the session is
 * opened mine_cli_settings fills the ones no flag gave. */
void mine_cli_begin(mine_opts *mo);
/* After the session is opened: check its mine.* settings and fill the options
 * no flag gave; 0 or the exit status of the error (printed). */
int mine_cli_settings(session *s, mine_opts *mo);
/* Check the retriever choice after parsing; 0 or a usage exit status. */
int mine_cli_check(const char *cmd, const char *kind, const char *model);

#endif
