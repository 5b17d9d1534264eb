/* syneg label: one act on one (query, negative) pair, through the journal. */
#include <getopt.h>
#include <string.h>

#include "../engine/session.h"
#include "cli.h"

const char cmd_label_help[] =
    "usage: syneg label SESSION QUERY_ID DOC_ID accept|reject|clear [--note TEXT]\n"
    "\n"
    "Record a judgement of DOC_ID as a negative for QUERY_ID:\n"
    "  accept   a real hard negative: keep it for training\n"
    "  reject   a false negative (it answers the query): never train on it as a negative\n"
    "  clear    remove the judgement\n"
    "DOC_ID is a corpus document id or a synthetic negative's id (e.g. llm:0123abcd...).\n"
    "The act is written to SESSION/labels.jsonl and fsync'd before 'saved' is printed.\n"
    "Fails (exit 1) when another syneg holds the session lock.\n"
    "  --note TEXT   attach a note to the judgement\n";

int cmd_label(int argc, char **argv)
{
    static const struct option opts[] = {{"note", required_argument, 0, 'n'}, {0, 0, 0, 0}};
    const char *note = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n') note = optarg;
        else return cli_usage("label", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 4) return cli_usage("label", "expected SESSION QUERY_ID DOC_ID accept|reject|clear");
    const char *dir = argv[optind], *qid = argv[optind + 1], *nid = argv[optind + 2];
    int act = label_act_parse(argv[optind + 3]);
    if (act < 0) return cli_usage("label", "'%s' is not an act: use accept, reject or clear", argv[optind + 3]);
    sy_err err = {0};
    session *s = session_open(dir, SESSION_WRITE, &err);
    if (!s) return cli_fail(&err);
    if (session_readonly(s)) {
        long pid = session_lock_holder(s);
        session_close(s);
        if (pid > 0) return cli_error("%s: session is in use by another syneg (pid %ld); label it there or close it first", dir, pid);
        return cli_error("%s: session is read-only (locked or not writable); label not saved", dir);
    }
    corpus *co = session_corpus(s, &err);
    if (!co) {
        session_close(s);
        return cli_fail(&err);
    }
    if (corpus_query_find(co, qid) < 0) {
        session_close(s);
        return cli_error("%s: unknown query id '%s'; see 'syneg info %s'", dir, qid, dir);
    }
    if (corpus_doc_find(co, nid) < 0 && !neg_store_find(session_negs(s), qid, nid, NULL)) {
        session_close(s);
        return cli_error("%s: '%s' is neither a document id nor a negative of query '%s'", dir, nid, qid);
    }
    if (labels_act(session_labels(s), qid, nid, act, note, &err) < 0) {
        session_close(s);
        return cli_fail(&err);
    }
    printf("saved %s %s %s\n", qid, nid, argv[optind + 3]);
    session_close(s);
    return EXIT_OK;
}
