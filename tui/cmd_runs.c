/* syneg runs: list, follow and cancel the training runs of a session. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/eval.h"
#include "../engine/retriever.h"
#include "../engine/runinfo.h"
#include "../engine/runs.h"
#include "../engine/session.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_runs_help[] =
    "usage: syneg runs SESSION [--json]\n"
    "       syneg runs SESSION --follow ID [--json]\n"
    "       syneg runs SESSION --cancel ID\n"
    "       syneg runs SESSION --compare ID ID... [--json | --csv] [--no-bm25]\n"
    "\n"
    "List the training runs under SESSION/runs/ (id, state, step/total, last\n"
    "evaluation, last update).  States: running, done, failed, cancelled, and\n"
    "killed (the status says running but its process is gone; resume it with\n"
    "'syneg train SESSION --resume ID').\n"
    "  --follow ID   print the run's progress (every step and evaluation) and keep\n"
    "                printing new lines until the run ends; exit 0 when it ends done\n"
    "  --cancel ID   ask a running run to stop cleanly at its next step boundary (it\n"
    "                writes a checkpoint first)\n"
    "  --compare ID...  one table of runs: each run's final (or last) nDCG@10,\n"
    "                MRR@10 and R@100, the configuration keys that differ between\n"
    "                them (marked *), and the baselines of the same split: the\n"
    "                untrained model (the runs' step-0 evaluation) and BM25 (the\n"
    "                session's index; --no-bm25 skips it).  BM25 is evaluated on\n"
    "                every judged query of the split: when the runs evaluated on a\n"
    "                subset (--eval-queries / --eval-docs) the table says so\n"
    "  --json        raw JSON: the list as an array of status objects, the\n"
    "                progress lines as they are in progress.jsonl, or the comparison\n"
    "  --csv         the comparison as CSV (for plotting elsewhere)\n";

static void print_list(const char *session_dir, int as_json)
{
    run_status *rs = NULL;
    size_t n = 0;
    sy_err err = { 0 };
    if (runs_list(session_dir, &rs, &n, &err) < 0) { cli_fail(&err); return; }
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json && !n) printf("no runs yet; start one with 'syneg train %s --scratch tiny'\n", session_dir);
    if (!as_json && n)
        printf("%-32s %-9s %11s  %-8s %-8s %-8s  %s\n", "ID", "STATE", "STEP", "nDCG@10", "MRR@10", "R@100", "UPDATED");
    for (size_t i = 0; i < n; i++) {
        char *dir = sy_strdup_printf("%s/runs/%s", session_dir, rs[i].id);
        json_t *ev = dir ? runs_last_eval(dir) : NULL;
        if (as_json) {
            json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "id", rs[i].id,
                                  "state", rs[i].state, "pid", (json_int_t)rs[i].pid,
                                  "step", (json_int_t)rs[i].step, "total", (json_int_t)rs[i].total,
                                  "epoch", (json_int_t)rs[i].epoch, "updated", rs[i].updated,
                                  "checkpoint", rs[i].checkpoint, "message", rs[i].message);
            if (ev) json_object_set(o, "last_eval", ev);
            json_array_append_new(arr, o);
        } else {
            char step[32];
            snprintf(step, sizeof step, "%ld/%ld", rs[i].step, rs[i].total);
            char a[16] = "-", b[16] = "-", c[16] = "-";
            if (ev) {
                snprintf(a, sizeof a, "%.4f", json_number_value(json_object_get(ev, "ndcg@10")));
                snprintf(b, sizeof b, "%.4f", json_number_value(json_object_get(ev, "mrr@10")));
                snprintf(c, sizeof c, "%.4f", json_number_value(json_object_get(ev, "recall@100")));
            }
            printf("%-32s %-9s %11s  %-8s %-8s %-8s  %s\n", rs[i].id, rs[i].state, step, a, b, c, rs[i].updated);
            if (!strcmp(rs[i].state, "failed") && rs[i].message[0]) printf("    %s\n", rs[i].message);
        }
        json_decref(ev);
        free(dir);
    }
    if (as_json) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) printf("%s\n", s);
        free(s);
        json_decref(arr);
    }
    free(rs);
}

static int follow(const char *session_dir, const char *id, int as_json)
{
    sy_err err = { 0 };
    char *dir = runs_find(session_dir, id, &err);
    if (!dir) return cli_fail(&err);
    size_t off = 0;
    run_status st;
    memset(&st, 0, sizeof st);
    for (;;) {
        /* read the status first so no line written before the end is missed */
        int have = runs_read_status(dir, &st, NULL) == 0;
        sy_buf b = { 0 };
        if (runs_read_progress(dir, &off, &b, &err) < 0) { sy_buf_free(&b); free(dir); return cli_fail(&err); }
        char *save = NULL;
        for (char *line = b.len ? strtok_r(b.data, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
            if (as_json) { printf("%s\n", line); continue; }
            sy_buf f = { 0 };
            if (runs_format_progress(line, have ? st.total : 0, &f) == 0 && f.data) printf("%s\n", f.data);
            sy_buf_free(&f);
        }
        sy_buf_free(&b);
        fflush(stdout);
        if (have && runs_state_final(st.state)) break;
        struct timespec ts = { 0, 300 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    free(dir);
    if (!as_json) fprintf(stderr, "run %s: %s%s%s\n", id, st.state, st.message[0] ? ": " : "", st.message);
    return strcmp(st.state, "done") == 0 ? EXIT_OK : EXIT_ERR;
}

static json_t *bm25_baseline(const char *session_dir, const char *split, sy_err *err)
{
    session *s = session_open(session_dir, SESSION_READ, err);
    if (!s) return NULL;
    corpus *c = session_corpus(s, err);
    retriever_opts ro = {.kind = "bm25"};
    retriever *r = c ? retriever_open(s, &ro, err) : NULL;
    json_t *out = NULL;
    if (r) {
        eval_run_opts eo;
        memset(&eo, 0, sizeof eo);
        eval_opts_default(&eo.metrics);
        eval_parse_cuts(&eo.metrics, "10,100", NULL);
        eo.split = split && *split ? split : session_eval_split(s);
        eval_report rep;
        if (eval_retriever(r, c, &eo, &rep, err) == 0)
            out = json_pack("{s:I, s:f, s:f, s:f, s:I, s:s}", "step", (json_int_t)0, "ndcg@10", rep.mean.ndcg[0],
                            "mrr@10", rep.mean.mrr[0], "recall@100", rep.mean.recall[1], "queries", (json_int_t)rep.queries,
                            "split", eo.split);
    }
    retriever_free(r);
    cli_session_close(s);
    return out;
}

static void print_eval_cells(json_t *ev)
{
    if (json_is_object(ev))
        printf("  %-8.4f %-8.4f %-8.4f %6lld", json_number_value(json_object_get(ev, "ndcg@10")),
               json_number_value(json_object_get(ev, "mrr@10")), json_number_value(json_object_get(ev, "recall@100")),
               (long long)json_integer_value(json_object_get(ev, "queries")));
    else
        printf("  %-8s %-8s %-8s %6s", "-", "-", "-", "-");
}

static int compare(const char *session_dir, const char *const *ids, size_t n, int fmt, int bm25)
{
    sy_err err = {0};
    json_t *bm = NULL;
    char split[64] = "";
    /* the split the runs evaluated on (their evaluations name it) */
    char *dir = n ? runs_find(session_dir, ids[0], &err) : NULL;
    if (!dir) return cli_fail(&err);
    runinfo ri;
    if (runinfo_load(dir, &ri, &err) == 0) {
        snprintf(split, sizeof split, "%s", ri.split);
        runinfo_free(&ri);
    }
    free(dir);
    if (bm25 && !(bm = bm25_baseline(session_dir, split, &err))) return cli_fail(&err);
    json_t *cmp = runinfo_compare(session_dir, ids, n, bm, &err);
    json_decref(bm);
    if (!cmp) return cli_fail(&err);
    if (fmt == 'j') {
        char *s = json_dumps(cmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
        if (s) printf("%s\n", s);
        free(s);
    } else if (fmt == 'v') {
        sy_buf b = {0};
        runinfo_compare_csv(cmp, &b);
        if (b.data) fputs(b.data, stdout);
        sy_buf_free(&b);
    } else {
        json_t *runs = json_object_get(cmp, "runs"), *differs = json_object_get(cmp, "differs"),
               *base = json_object_get(cmp, "baselines");
        printf("%-32s %-9s %9s  %-8s %-8s %-8s %6s", "RUN", "STATE", "STEP", "nDCG@10", "MRR@10", "R@100", "QUERIES");
        for (size_t k = 0; k < json_array_size(differs); k++) printf("  *%s", json_string_value(json_array_get(differs, k)));
        printf("\n");
        const char *bn[] = {"bm25", "untrained"};
        for (int b = 0; b < 2; b++) {
            json_t *ev = json_object_get(base, bn[b]);
            if (!ev) continue;
            printf("%-32s %-9s %9s", b ? "baseline: untrained model" : "baseline: BM25", "-", "-");
            print_eval_cells(ev);
            printf("\n");
        }
        long q0 = -1;
        int mixed = 0;
        for (size_t i = 0; i < json_array_size(runs); i++) {
            json_t *r = json_array_get(runs, i), *ev = json_object_get(r, "eval");
            char step[32];
            snprintf(step, sizeof step, "%lld/%lld", (long long)json_integer_value(json_object_get(r, "step")),
                     (long long)json_integer_value(json_object_get(r, "total")));
            printf("%-32s %-9s %9s", json_string_value(json_object_get(r, "id")), json_string_value(json_object_get(r, "state")), step);
            print_eval_cells(ev);
            long q = (long)json_integer_value(json_object_get(ev, "queries"));
            if (q0 < 0) q0 = q;
            else if (q != q0) mixed = 1;
            for (size_t k = 0; k < json_array_size(differs); k++) {
                json_t *v = json_object_get(json_object_get(r, "options"), json_string_value(json_array_get(differs, k)));
                char *t = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
                printf("  %s", t ? t : "-");
                free(t);
            }
            printf("\n");
        }
        json_t *bq = json_object_get(json_object_get(base, "bm25"), "queries");
        if (mixed || (bq && q0 >= 0 && json_integer_value(bq) != q0))
            printf("note: not every row is evaluated on the same queries (QUERIES); compare like with like\n");
    }
    json_decref(cmp);
    return EXIT_OK;
}

int cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", required_argument, 0, 'f'}, {"cancel", required_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},         {"help", no_argument, 0, 'h'},
        {"compare", no_argument, 0, 'C'},      {"csv", no_argument, 0, 'v'},
        {"no-bm25", no_argument, 0, 'n'},
        {0, 0, 0, 0},
    };
    const char *fol = NULL, *can = NULL;
    int as_json = 0, c, cmp = 0, csv = 0, bm25 = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': fol = optarg; break;
        case 'c': can = optarg; break;
        case 'j': as_json = 1; break;
        case 'C': cmp = 1; break;
        case 'v': csv = 1; break;
        case 'n': bm25 = 0; break;
        case 'h': fputs(cmd_runs_help, stdout); return EXIT_OK;
        default: return cli_usage("runs", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (cmp) {
        if (argc - optind < 2) return cli_usage("runs", "--compare: give SESSION and at least one run ID");
        if (as_json && csv) return cli_usage("runs", "give --json or --csv, not both");
        if (!sy_is_dir(argv[optind])) return cli_error("%s: no such session folder", argv[optind]);
        return compare(argv[optind], (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1),
                       as_json ? 'j' : csv ? 'v' : 't', bm25);
    }
    if (csv) return cli_usage("runs", "--csv goes with --compare");
    if (optind != argc - 1) return cli_usage("runs", "expected exactly one SESSION folder");
    if (fol && can) return cli_usage("runs", "give --follow or --cancel, not both");
    const char *session_dir = argv[optind];
    if (!sy_is_dir(session_dir)) return cli_error("%s: no such session folder", session_dir);
    if (fol) return follow(session_dir, fol, as_json);
    if (can) {
        sy_err err = { 0 };
        if (runs_cancel(session_dir, can, &err) < 0) return cli_fail(&err);
        fprintf(stderr, "asked run %s to stop at its next step; 'syneg runs %s --follow %s' shows when it has\n",
                can, session_dir, can);
        return EXIT_OK;
    }
    print_list(session_dir, as_json);
    return EXIT_OK;
}
