/* main: `syneg CMD ...` dispatch over the table in commands.def. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name, *summary, *help;
    int (*fn)(int, char **);
} command;

static const command commands[] = {
#define CMD(name, summary) {#name, summary, cmd_##name##_help, cmd_##name},
#include "commands.def"
#undef CMD
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: syneg COMMAND [ARGS...]\n"
            "\n"
            "syneg builds dense-retrieval training data with LLM-synthesized hard negatives\n"
            "and lets a person judge every negative before it trains a model.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "'syneg COMMAND --help' describes one command.  Exit status: 0 success,\n"
            "1 error, 2 usage error.  SESSION is a folder (sessions/NAME by convention).\n"
            "Environment: SYNEG_LLM_URL, SYNEG_LLM_MODEL, SYNEG_LLM_KEY (or OPENAI_API_KEY).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    fputs(commands[i].help, stdout);
                    return EXIT_OK;
                }
        }
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        puts("syneg 0.1");
        return EXIT_OK;
    }
    const char *detached = getenv("SYNEG_JOB_DETACHED");
    if (detached && *detached == '1') signal(SIGHUP, SIG_IGN);   /* a detached workbench job outlives its terminal */
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        for (int a = 2; a < argc; a++) {
            if (!strcmp(argv[a], "--")) break;
            if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
                fputs(commands[i].help, stdout);
                return EXIT_OK;
            }
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "syneg: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
