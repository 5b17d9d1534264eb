/* syneg runs: list, follow and cancel the training runs of a session. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/runs.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_runs_help[] =
    "usage: syneg runs SESSION [--json]\n"
    "       syneg runs SESSION --follow ID [--json]\n"
    "       syneg runs SESSION --cancel ID\n"
    "\n"
    "List the training runs under SESSION/runs/ (id, state, step/total, last\n"
    "evaluation, last update).  States: running, done, failed, cancelled, and\n"
    "killed (the status says running but its process is gone; resume it with\n"
    "'syneg train SESSION --resume ID').\n"
    "  --follow ID   print the run's progress (every step and evaluation) and keep\n"
    "                printing new lines until the run ends; exit 0 when it ends done\n"
    "  --cancel ID   ask a running run to stop cleanly at its next step boundary (it\n"
    "                writes a checkpoint first)\n"
    "  --json        raw JSON: the list as an array of status objects, or the\n"
    "                progress lines as they are in progress.jsonl\n";

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

int cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", required_argument, 0, 'f'}, {"cancel", required_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *fol = NULL, *can = NULL;
    int as_json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': fol = optarg; break;
        case 'c': can = optarg; break;
        case 'j': as_json = 1; break;
        case 'h': fputs(cmd_runs_help, stdout); return EXIT_OK;
        default: return cli_usage("runs", "unknown option '%s'", argv[optind - 1]);
        }
    }
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
