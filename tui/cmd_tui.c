/* cmd_tui: `syneg tui SESSION`, the workbench (tui_main.c and friends). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tui.h"

const char cmd_tui_help[] =
    "usage: syneg tui SESSION [--read-only] [--script FILE [--dump FILE] [--size COLSxROWS]]\n"
    "\n"
    "Open the workbench on SESSION: the query list on the left, the query and its\n"
    "positives top right, synthetic | retrieved negatives below, a status line and\n"
    "a key bar.  Press ? for every key and command, : for the command line.\n"
    "Every label is written to SESSION/labels.jsonl (fsync'd) before it shows.\n"
    "When another syneg holds the session lock the workbench opens read-only and\n"
    "says so.\n"
    "\n"
    "options:\n"
    "  --read-only        never take the session lock; labels cannot be changed\n"
    "  --script FILE      headless: no terminal; run FILE (one line each: ':command',\n"
    "                     or keys such as 'jj<Down>a'; # comments), then quit.\n"
    "                     The environment variable SYNEG_TUI_SCRIPT does the same.\n"
    "  --dump FILE        headless: write the final screen as text to FILE\n"
    "  --size COLSxROWS   headless screen size (default 100x30)\n"
    "  --keys             print the key and command reference (Markdown, from the\n"
    "                     action table) and exit\n"
    "  -h, --help         this text\n"
    "\n"
    "environment:\n"
    "  SYNEG_LLM_URL      an OpenAI-compatible endpoint; without it synthesis uses\n"
    "                     the offline generator (the status line says so)\n"
    "  SYNEG_TUIRC        a file of commands run at start (default\n"
    "                     ~/.config/syneg/tuirc; not read in headless mode)\n"
    "  NO_COLOR           monochrome\n"
    "\n"
    "exit status: 0 ok, 1 error (the message says what and where), 2 usage.\n";

/* the reference, straight from actions.def: what the help screen shows */
static void md(const char *s)   /* a table cell: '|' escaped */
{
    for (; *s; s++) {
        if (*s == '|') putchar('\\');
        putchar(*s);
    }
}

static void print_keys(void)
{
    printf("| keys | command | what |\n|---|---|---|\n");
    for (int a = 0; a < ACT_COUNT; a++) {
        const tui_action_info *x = &tui_actions[a];
        printf("| %s", *x->keys ? "`" : "");
        md(x->keys);
        printf("%s | `:%s%s", *x->keys ? "`" : "", x->name, *x->args ? " " : "");
        md(x->args);
        printf("` | ");
        md(x->help);
        printf("%s |\n", x->flags & AF_WRITE ? " (not in read-only mode)" : "");
    }
}

int cmd_tui(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"script", required_argument, NULL, 's'},
        {"dump", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 'z'},
        {"read-only", no_argument, NULL, 'r'},
        {"keys", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tui_opts o = {.rows = 30, .cols = 100};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o.script = optarg; break;
        case 'd': o.dump = optarg; break;
        case 'r': o.readonly = 1; break;
        case 'z':
            if (sscanf(optarg, "%dx%d", &o.cols, &o.rows) != 2 || o.cols < 20 || o.rows < 5 || o.cols > 1000 || o.rows > 500)
                return cli_usage("tui", "--size wants COLSxROWS such as 100x30, not '%s'", optarg);
            break;
        case 'h': fputs(cmd_tui_help, stdout); return EXIT_OK;
        case 'k': print_keys(); return EXIT_OK;
        default: return cli_usage("tui", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage("tui", optind >= argc ? "missing SESSION" : "one SESSION only");
    o.session_dir = argv[optind];
    if (!o.script) {
        const char *s = getenv("SYNEG_TUI_SCRIPT");
        if (s && *s) o.script = s;
    }
    if (o.dump && !o.script) return cli_usage("tui", "--dump needs --script (headless mode)");
    sy_err err = {0};
    if (tui_run(&o, &err) < 0) return cli_fail(&err);
    return EXIT_OK;
}
