/* syneg eval: trec_eval-exact metrics of a retriever on a qrels split. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/eval.h"
#include "../engine/retriever.h"
#include "../engine/session.h"
#include "cli.h"

const char cmd_eval_help[] =
    "usage: syneg eval SESSION [--retriever bm25|dense] [--model DIR] [--split NAME]\n"
    "                  [--run FILE] [--json] [-k CUTS] [--depth N] [--drop-no-hits]\n"
    "                  [--remove-query]\n"
    "\n"
    "Retrieve for every judged query of a split and report nDCG@k, MRR@k, Recall@k,\n"
    "P@k and MAP exactly as trec_eval 9 computes them (ties: score descending, then\n"
    "document id descending; graded gains). Means are over every judged query, as\n"
    "trec_eval -c and BEIR/Anserini report them: queries without hits count as 0,\n"
    "and so do judged queries without a relevant document. The output says which.\n"
    "  --retriever NAME   bm25 (default) or dense\n"
    "  --model DIR        model folder for --retriever dense\n"
    "  --split NAME       qrels split (default: the session's eval split, usually test)\n"
    "  --run FILE         also write a TREC run file (qid Q0 docid rank score tag),\n"
    "                     each query's hits in trec_eval's order (equal scores:\n"
    "                     document id descending)\n"
    "  --json             print one JSON object: \"ndcg@K\", \"mrr@K\", \"recall@K\", \"p@K\"\n"
    "                     for every cut-off, \"map\", \"queries\", \"judged\", \"no_hits\",\n"
    "                     \"no_relevant\", \"complete\" (true: over every judged\n"
    "                     query), \"split\", \"retriever\", \"seconds\"\n"
    "  -k CUTS            comma-separated cut-offs (default 10,100,1000)\n"
    "  --depth N          hits retrieved per query (default max(1000, largest cut-off))\n"
    "  --drop-no-hits     leave judged queries without hits out of the means\n"
    "                     (trec_eval without -c); --complete, the default, keeps them\n"
    "  --remove-query     drop hits whose document id equals the query id (as\n"
    "                     Pyserini's --remove-query for BEIR ArguAna/Quora)\n";

static void progress(void *ctx, const char *what, size_t done, size_t total)
{
    (void)ctx;
    cli_progress(what, (double)done, (double)total, NULL);
}

static void eval_progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    cli_progress("queries", (double)done, (double)total, NULL);
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"retriever", required_argument, 0, 'r'}, {"model", required_argument, 0, 'm'},
        {"split", required_argument, 0, 's'}, {"run", required_argument, 0, 'R'},
        {"json", no_argument, 0, 'j'}, {"depth", required_argument, 0, 'd'},
        {"complete", no_argument, 0, 'c'}, {"drop-no-hits", no_argument, 0, 'D'},
        {"remove-query", no_argument, 0, 'q'}, {0, 0, 0, 0}};
    const char *kind = "bm25", *model = NULL, *split = NULL, *run = NULL;
    int json = 0, c;
    long depth = 0;
    eval_run_opts eo;
    memset(&eo, 0, sizeof eo);
    eval_opts_default(&eo.metrics);
    sy_err err = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
        switch (c) {
        case 'r': kind = optarg; break;
        case 'm': model = optarg; break;
        case 's': split = optarg; break;
        case 'R': run = optarg; break;
        case 'j': json = 1; break;
        case 'c': eo.metrics.complete = 1; break;
        case 'D': eo.metrics.complete = 0; break;
        case 'q': eo.remove_query = 1; break;
        case 'd':
            if (cli_parse_long(optarg, 1, 100000, &depth) < 0) return cli_usage("eval", "--depth '%s': expected 1..100000", optarg);
            break;
        case 'k':
            if (eval_parse_cuts(&eo.metrics, optarg, &err) < 0) return cli_usage("eval", "%s", err.msg);
            break;
        default: return cli_usage("eval", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (strcmp(kind, "bm25") && strcmp(kind, "dense")) return cli_usage("eval", "--retriever '%s': use bm25 or dense", kind);
    if (!strcmp(kind, "dense") && !model) return cli_usage("eval", "--retriever dense needs --model DIR");
    if (optind != argc - 1) return cli_usage("eval", "expected exactly one SESSION folder");
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    int rc = EXIT_ERR;
    retriever *r = NULL;
    corpus *co = session_corpus(s, &err);
    if (!co) { rc = cli_fail(&err); goto out; }
    if (!split) split = session_eval_split(s);
    if (!corpus_qrels_for(co, split)) {
        cli_error("%s: the data set has no qrels split '%s'; pick one with --split (see 'syneg info %s')",
                  session_source_path(s), split, argv[optind]);
        goto out;
    }
    retriever_opts ro = {.kind = kind, .model_dir = model, .progress = progress};
    r = retriever_open(s, &ro, &err);
    cli_progress_end();
    if (!r) { rc = cli_fail(&err); goto out; }
    eo.split = split;
    eo.depth = (size_t)depth;
    eo.run_path = run;
    eo.progress = eval_progress;
    eval_report rep;
    int erc = eval_retriever(r, co, &eo, &rep, &err);
    cli_progress_end();
    if (erc < 0) { rc = cli_fail(&err); goto out; }
    const eval_opts *m = &eo.metrics;
    if (json) {
        json_t *o = json_object();
        char key[32];
        for (size_t i = 0; i < m->ncuts; i++) {
            snprintf(key, sizeof key, "ndcg@%u", m->cuts[i]);
            json_object_set_new(o, key, json_real(rep.mean.ndcg[i]));
            snprintf(key, sizeof key, "mrr@%u", m->cuts[i]);
            json_object_set_new(o, key, json_real(rep.mean.mrr[i]));
            snprintf(key, sizeof key, "recall@%u", m->cuts[i]);
            json_object_set_new(o, key, json_real(rep.mean.recall[i]));
            snprintf(key, sizeof key, "p@%u", m->cuts[i]);
            json_object_set_new(o, key, json_real(rep.mean.precision[i]));
        }
        json_object_set_new(o, "map", json_real(rep.mean.map));
        json_object_set_new(o, "queries", json_integer((json_int_t)rep.queries));
        json_object_set_new(o, "judged", json_integer((json_int_t)rep.judged));
        json_object_set_new(o, "no_hits", json_integer((json_int_t)rep.no_hits));
        json_object_set_new(o, "no_relevant", json_integer((json_int_t)rep.no_relevant));
        json_object_set_new(o, "complete", json_boolean(m->complete));
        json_object_set_new(o, "split", json_string(split));
        json_object_set_new(o, "retriever", json_string(kind));
        json_object_set_new(o, "seconds", json_real(rep.seconds));
        char *t = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        puts(t);
        free(t);
        json_decref(o);
    } else {
        printf("%s on split %s: %zu queries evaluated (%zu judged, %zu without hits, %zu without a relevant document)\n",
               kind, split, rep.queries, rep.judged, rep.no_hits, rep.no_relevant);
        if (m->complete)
            printf("means over all %zu judged queries (as trec_eval -c, BEIR, Anserini); %zu without hits count as 0\n",
                   rep.judged, rep.no_hits);
        else
            printf("means over the %zu queries with hits: %zu judged queries without hits left out (--drop-no-hits,\n"
                   "as trec_eval without -c; BEIR and Anserini count them as 0)\n", rep.queries, rep.no_hits);
        printf("%-8s %8s %8s %8s %8s\n", "cut-off", "nDCG", "MRR", "Recall", "P");
        for (size_t i = 0; i < m->ncuts; i++)
            printf("@%-7u %8.4f %8.4f %8.4f %8.4f\n", m->cuts[i], rep.mean.ndcg[i], rep.mean.mrr[i],
                   rep.mean.recall[i], rep.mean.precision[i]);
        printf("MAP      %8.4f\n", rep.mean.map);
        printf("retrieval %.2fs (%.0f queries/s)%s%s\n", rep.seconds,
               rep.seconds > 0 ? rep.judged / rep.seconds : 0.0, run ? ", run file " : "", run ? run : "");
    }
    rc = EXIT_OK;
out:
    retriever_free(r);
    cli_session_close(s);
    return rc;
}
