/* syneg import: a FlagEmbedding JSONL pool made elsewhere into the session's
 * negatives store (source "import"), so it can be curated here. */
#include <getopt.h>
#include <string.h>

#include "../engine/export.h"
#include "../engine/session.h"
#include "cli.h"

const char cmd_import_help[] =
    "usage: syneg import SESSION FILE [--format flag] [--replace]\n"
    "\n"
    "Read a FlagEmbedding fine-tune JSONL file ({\"query\", \"pos\": [..], \"neg\": [..],\n"
    "optional \"neg_scores\", \"query_id\"}) into the session's negatives store as one\n"
    "new segment of source 'import'.  Queries are matched to the session's data set\n"
    "by query_id when given, else by text; negatives that are corpus documents (by\n"
    "text, with or without the title) keep their document id, others are kept as\n"
    "text with an id 'import:<hash>'.  A negative equal to a positive of its line is\n"
    "flagged as a duplicate.  Lines that cannot be used are skipped and reported\n"
    "with FILE:LINE.  Fails (exit 1) when another syneg holds the session lock.\n"
    "  --format flag   the input format (only flag for now)\n"
    "  --replace       drop earlier imported rows of the queries in FILE\n";

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"replace", no_argument, 0, 'r'}, {0, 0, 0, 0}};
    int replace = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:", opts, NULL)) != -1) {
        if (c == 'f') {
            if (strcmp(optarg, "flag") && strcmp(optarg, "flagembedding"))
                return cli_usage("import", "only --format flag can be imported, not '%s'", optarg);
        } else if (c == 'r') {
            replace = 1;
        } else if (c == ':') {
            return cli_usage("import", "option '%s' needs a value", argv[optind - 1]);
        } else {
            return cli_usage("import", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) return cli_usage("import", "expected SESSION FILE");
    const char *dir = argv[optind], *file = argv[optind + 1];
    sy_err err = {0};
    session *s = session_open(dir, SESSION_WRITE, &err);
    if (!s) return cli_fail(&err);
    import_stats st;
    int rc = export_import_flag(s, file, replace, &st, &err);
    size_t shown = st.nwarn < 8 ? st.nwarn : 8;
    for (size_t i = 0; i < shown; i++) fprintf(stderr, "warning: %s\n", st.warn[i]);
    if (st.nwarn > shown) fprintf(stderr, "warning: ... and %zu more\n", st.nwarn - shown);
    cli_session_close(s);
    if (rc) return cli_fail(&err);
    printf("imported %zu negatives from %s (%zu lines): %zu corpus documents, %zu texts; "
           "%zu flagged duplicate, %zu repeated, %zu unknown queries, %zu malformed lines, "
           "%zu positives not in the qrels\n",
           st.rows, file, st.lines, st.negs_corpus, st.negs_text, st.negs_dup, st.negs_repeated,
           st.queries_unknown, st.bad_lines, st.pos_unmatched);
    return EXIT_OK;
}
