/* syneg init: create a session folder from a data set. */
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/session.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_init_help[] =
    "usage: syneg init SESSION (--beir DIR | --msmarco DIR | --flag FILE)\n"
    "                  [--train-split NAME] [--eval-split NAME]\n"
    "\n"
    "Create the session folder SESSION (sessions/NAME by convention) for a data set:\n"
    "  --beir DIR         BEIR layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv\n"
    "  --msmarco DIR      MS MARCO TSV: collection.tsv, queries.<split>.tsv, qrels.<split>.tsv\n"
    "  --flag FILE        FlagEmbedding JSONL ({\"query\",\"pos\":[..],\"neg\":[..]}); its\n"
    "                     negatives are imported into the session (source 'import')\n"
    "  --train-split NAME qrels split used for mining and training (default train)\n"
    "  --eval-split NAME  qrels split used for evaluation (default test, or dev when the\n"
    "                     data set has no test split, as MS MARCO; train for --flag)\n"
    "\n"
    "These two splits must load; another qrels file that does not parse is left out\n"
    "with a warning naming it (the others stay usable with --split NAME).\n"
    "A data set with only an eval split (a test-only BEIR set) makes a session\n"
    "without a train split: evaluation works, mining and export need --split.\n"
    "The data is loaded and checked first; nothing is written if it does not load,\n"
    "has no documents, or a split's judgements name no known query and document.\n"
    "Warnings about skipped lines name the file and line.\n";

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"beir", required_argument, 0, 'b'},        {"msmarco", required_argument, 0, 'm'},
        {"flag", required_argument, 0, 'f'},        {"train-split", required_argument, 0, 't'},
        {"eval-split", required_argument, 0, 'e'},  {0, 0, 0, 0},
    };
    session_source src = {0};
    int nsrc = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': src.path = optarg; src.format = CORPUS_BEIR; nsrc++; break;
        case 'm': src.path = optarg; src.format = CORPUS_MSMARCO; nsrc++; break;
        case 'f': src.path = optarg; src.format = CORPUS_FLAG; nsrc++; break;
        case 't': src.train_split = optarg; break;
        case 'e': src.eval_split = optarg; break;
        default: return cli_usage("init", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage("init", "expected exactly one SESSION folder");
    if (nsrc != 1) return cli_usage("init", "give exactly one of --beir, --msmarco or --flag");
    if (src.format == CORPUS_FLAG && !src.eval_split) src.eval_split = "train";
    struct stat st;
    if (src.format != CORPUS_FLAG && stat(src.path, &st) == 0 && !S_ISDIR(st.st_mode)) {
        /* a file of the data set: name the folder to give instead */
        char *parent = strdup(src.path), *slash = strrchr(parent, '/');
        if (slash) *slash = '\0';
        if (slash && (slash = strrchr(parent, '/')) && !strcmp(slash + 1, "qrels")) *slash = '\0';
        int rc = cli_usage("init", "%s is a file; %s takes the data set's folder (the one holding %s), e.g. %s",
                           src.path, src.format == CORPUS_BEIR ? "--beir" : "--msmarco",
                           src.format == CORPUS_BEIR ? "corpus.jsonl, queries.jsonl and qrels/"
                                                     : "collection.tsv, queries.<split>.tsv and qrels.<split>.tsv",
                           strchr(src.path, '/') ? parent : ".");
        free(parent);
        return rc;
    }
    const char *dir = argv[optind];
    sy_err err = {0};
    if (session_create(dir, &src, &err) < 0) return cli_fail(&err);
    session *s = session_open(dir, SESSION_WRITE, &err);
    if (!s) return cli_fail(&err);
    corpus *co = session_corpus(s, &err);
    if (!co) {
        cli_session_close(s);
        return cli_fail(&err);
    }
    size_t ngiven = 0;
    const corpus_given_neg *given = corpus_given_negs(co, &ngiven);
    if (ngiven) {
        neg_writer *w = neg_writer_new(dir, "import-flag", NEG_REPLACE, &err);
        int bad = !w;
        for (size_t i = 0; !bad && i < ngiven; i++) {
            neg_row r = {0};
            r.query_id = corpus_query_id(co, given[i].query);
            r.neg_id = corpus_doc_id(co, given[i].doc);
            r.source = NEG_IMPORT;
            r.rank = 0;
            bad = neg_writer_add(w, &r, &err) < 0;
        }
        if (!bad) bad = neg_writer_commit(w, &err) < 0;
        neg_writer_free(w);
        if (bad) {
            cli_session_close(s);
            return cli_fail(&err);
        }
    }
    size_t nw = corpus_nwarnings(co);
    for (size_t i = 0; i < corpus_nwarning_msgs(co); i++) fprintf(stderr, "warning: %s\n", corpus_warning(co, i));
    if (nw > corpus_nwarning_msgs(co))
        fprintf(stderr, "warning: ... and %zu more warnings\n", nw - corpus_nwarning_msgs(co));
    if (!corpus_qrels_for(co, session_train_split(s)))
        fprintf(stderr, "warning: %s: no qrels for the train split '%s': the session has only the eval split '%s'; "
                "eval works, while mine, synth, export and train need a split with positives (--split NAME)\n",
                session_source_path(s), session_train_split(s), session_eval_split(s));
    printf("created session %s: %u docs, %u queries", dir, corpus_ndocs(co), corpus_nqueries(co));
    for (size_t i = 0; i < corpus_nsplits(co); i++)
        printf(", %s: %zu qrels", corpus_split(co, i)->name, corpus_split(co, i)->n);
    if (ngiven) printf(", %zu imported negatives", ngiven);
    if (nw) printf(" (%zu warnings)", nw);
    printf("\n");
    cli_session_close(s);
    return EXIT_OK;
}
