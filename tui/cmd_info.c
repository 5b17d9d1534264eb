/* syneg info: what a session holds. */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/session.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_info_help[] =
    "usage: syneg info SESSION [--json]\n"
    "\n"
    "Show what SESSION holds: documents, queries and qrels per split, negatives per\n"
    "source (and suspected false negatives), labels per kind, training runs, and\n"
    "any warnings (skipped data lines, skipped journal lines).\n"
    "  --json   print one JSON object: docs, queries{total,SPLIT..}, qrels{SPLIT..},\n"
    "           negatives{total,suspects,SOURCE..}, labels{accept,reject,clear,total},\n"
    "           runs, warnings, readonly\n";

static size_t count_runs(const session *s)
{
    char *p = session_path(s, "runs");
    DIR *d = p ? opendir(p) : NULL;
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    free(p);
    return n;
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    int json_out = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') json_out = 1;
        else return cli_usage("info", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1) return cli_usage("info", "expected exactly one SESSION folder");
    sy_err err = {0};
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    corpus *co = session_corpus_lazy(s, &err);   /* counts: the big tables are not read */
    if (!co) {
        cli_session_close(s);
        return cli_fail(&err);
    }
    cli_notice(s);
    neg_store *ns = session_negs(s);
    labels *lb = session_labels(s);
    json_t *o = json_object();
    json_object_set_new(o, "session", json_string(session_dir(s)));
    json_object_set_new(o, "source", json_string(session_source_path(s)));
    json_object_set_new(o, "train_split", json_string(session_train_split(s)));
    json_object_set_new(o, "eval_split", json_string(session_eval_split(s)));
    json_object_set_new(o, "docs", json_integer(corpus_ndocs(co)));
    json_t *q = json_object(), *qr = json_object();
    json_object_set_new(q, "total", json_integer(corpus_nqueries(co)));
    for (size_t i = 0; i < corpus_nsplits(co); i++) {
        const corpus_qrels *sp = corpus_split(co, i);
        json_object_set_new(q, sp->name, json_integer((json_int_t)corpus_qrels_nqueries(sp)));
        json_object_set_new(qr, sp->name, json_integer((json_int_t)sp->n));
    }
    json_object_set_new(o, "queries", q);
    json_object_set_new(o, "qrels", qr);
    json_t *n = json_object();
    json_object_set_new(n, "total", json_integer((json_int_t)neg_store_count(ns)));
    for (int src = 0; src < NEG_NSOURCES; src++)
        json_object_set_new(n, neg_source_name(src), json_integer((json_int_t)neg_store_count_source(ns, src)));
    json_object_set_new(n, "suspects", json_integer((json_int_t)neg_store_count_flag(ns, NEG_F_SUSPECT)));
    json_object_set_new(n, "queries", json_integer((json_int_t)neg_store_nqueries(ns)));
    json_object_set_new(o, "negatives", n);
    json_t *l = json_object();
    json_object_set_new(l, "accept", json_integer((json_int_t)labels_count(lb, LABEL_ACCEPT)));
    json_object_set_new(l, "reject", json_integer((json_int_t)labels_count(lb, LABEL_REJECT)));
    json_object_set_new(l, "clear", json_integer((json_int_t)labels_count(lb, LABEL_NONE)));
    json_object_set_new(l, "total", json_integer((json_int_t)labels_size(lb)));
    json_object_set_new(o, "labels", l);
    json_object_set_new(o, "runs", json_integer((json_int_t)count_runs(s)));
    json_t *w = json_array();
    for (size_t i = 0; i < corpus_nwarning_msgs(co); i++) json_array_append_new(w, json_string(corpus_warning(co, i)));
    for (size_t i = 0; i < labels_nskipped(lb) && labels_warning(lb, i); i++)
        json_array_append_new(w, json_string(labels_warning(lb, i)));
    json_object_set_new(o, "warnings", w);
    json_object_set_new(o, "warning_count",
                        json_integer((json_int_t)(corpus_nwarnings(co) + labels_nskipped(lb))));
    if (session_check(s, &err) < 0) {   /* what was read lazily is intact */
        json_decref(o);
        cli_session_close(s);
        return cli_fail(&err);
    }
    if (json_out) {
        char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(t);
        free(t);
    } else {
        printf("session   %s (data: %s)\n", session_dir(s), session_source_path(s));
        printf("docs      %u\n", corpus_ndocs(co));
        printf("queries   %u", corpus_nqueries(co));
        for (size_t i = 0; i < corpus_nsplits(co); i++)
            printf(", %s %zu", corpus_split(co, i)->name, corpus_qrels_nqueries(corpus_split(co, i)));
        printf("  (train: %s, eval: %s)\n", session_train_split(s), session_eval_split(s));
        printf("qrels    ");
        for (size_t i = 0; i < corpus_nsplits(co); i++)
            printf(" %s %zu", corpus_split(co, i)->name, corpus_split(co, i)->n);
        printf("\nnegatives %zu over %zu queries", neg_store_count(ns), neg_store_nqueries(ns));
        const char *sep = " (";
        for (int src = 0; src < NEG_NSOURCES; src++)
            if (neg_store_count_source(ns, src)) {
                printf("%s%s %zu", sep, neg_source_name(src), neg_store_count_source(ns, src));
                sep = ", ";
            }
        printf("%s; %zu suspected false negatives\n", *sep == ',' ? ")" : "", neg_store_count_flag(ns, NEG_F_SUSPECT));
        printf("labels    %zu accepted, %zu rejected, %zu cleared\n", labels_count(lb, LABEL_ACCEPT),
               labels_count(lb, LABEL_REJECT), labels_count(lb, LABEL_NONE));
        printf("runs      %zu\n", count_runs(s));
        size_t nw = json_array_size(w);
        for (size_t i = 0; i < nw; i++) printf("warning: %s\n", json_string_value(json_array_get(w, i)));
    }
    json_decref(o);
    cli_session_close(s);
    return EXIT_OK;
}
