/* syneg fneval: the held-out-positives measurement of the false-negative
 * filters (engine/fneval.h) with the options `syneg mine` takes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/fneval.h"
#include "../engine/retriever.h"
#include "../engine/session.h"
#include "cli.h"
#include "fneval_judge.h"
#include "mine_cli.h"

const char cmd_fneval_help[] =
    "usage: syneg fneval SESSION --retriever bm25|dense [--model DIR] [--hide SHARE]\n"
    "                    [--hide-seed S] [--features FILE] [--json] [mining options]\n"
    "                    [--judge-llm | --judge-cross-encoder DIR]\n"
    "\n"
    "Measure how well mining catches false negatives on your own data: in every\n"
    "query with several positives, hide a seeded share of the positives (one always\n"
    "stays known), mine as 'syneg mine' would with the same options, and report\n"
    "what happened to the hidden positives.  Nothing is written to the session.\n"
    "A hidden positive is mined when mining would write it: as a suspect (caught)\n"
    "or as a clean negative (exported: it would train the model as a negative).\n"
    "  recall         caught / mined hidden positives\n"
    "  recall@10%     mined hidden positives in the first 10% of the queue (the\n"
    "                 rows mining would write, most likely first) / mined\n"
    "  window recall  caught / hidden positives anywhere in the rank window\n"
    "  suspect rate   suspects among the rows mining would write\n"
    "  clean kept     clean negatives written / negatives requested (num x queries)\n"
    "  exported       exported / mined hidden positives\n"
    "Options:\n"
    "  --hide SHARE     share of each multi-positive query's positives to hide\n"
    "                   (default 0.3)\n"
    "  --hide-seed S    seed of the choice (default 1)\n"
    "  --features FILE  write every candidate's signals and whether it was hidden\n"
    "                   (tab-separated) to fit or check the likelihood model\n"
    "  --json           print the report as JSON\n"
    "Mining options (as 'syneg mine', with the session's mine.* settings):\n"
    "--retriever, --model, --split, --range, --num, --sample, --seed,\n"
    "--fn-threshold, --suspects, --pool, --max-rel, --margin, --max-score.\n"
    FNEVAL_JUDGE_HELP;

int cmd_fneval(int argc, char **argv)
{
    static const struct option opts[] = {MINE_CLI_OPTIONS,
                                         {"hide", required_argument, 0, 'H'},
                                         {"hide-seed", required_argument, 0, 'E'},
                                         {"features", required_argument, 0, 'F'},
                                         {"json", no_argument, 0, 'j'},
                                         FNEVAL_JUDGE_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *kind = NULL, *model = NULL, *features = NULL;
    int json = 0, c, urc;
    long v;
    mine_opts mo;
    mine_opts_default(&mo);
    mine_cli_begin(&mo);
    mo.hide_share = FNEVAL_HIDE_DEFAULT;
    mo.hide_seed = 1;
    fneval_judge fj;   /* --judge-*: a separate block (tui/fneval_judge.c) */
    fneval_judge_init(&fj);
    sy_err err = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (mine_cli_option("fneval", c, optarg, &mo, &kind, &model, &urc)) {
            if (urc) return urc;
            continue;
        }
        if (fneval_judge_option(&fj, c, optarg, &urc)) {
            if (urc) return urc;
            continue;
        }
        switch (c) {
        case 'H':
            if (cli_parse_double(optarg, &mo.hide_share) < 0 || !(mo.hide_share > 0 && mo.hide_share < 1))
                return cli_usage("fneval", "--hide '%s': expected a share between 0 and 1, e.g. 0.3", optarg);
            break;
        case 'E':
            if (cli_parse_long(optarg, 0, 0x7fffffffffffffffL, &v) < 0)
                return cli_usage("fneval", "--hide-seed '%s': expected a number >= 0", optarg);
            mo.hide_seed = (uint64_t)v;
            break;
        case 'F': features = optarg; break;
        case 'j': json = 1; break;
        default: return cli_usage("fneval", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if ((urc = mine_cli_check("fneval", kind, model))) return urc;
    if (optind != argc - 1) return cli_usage("fneval", "expected exactly one SESSION folder");
    if ((urc = fneval_judge_check(&fj))) return urc;
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    int rc = EXIT_ERR;
    retriever *r = NULL;
    if ((urc = mine_cli_settings(s, &mo))) { rc = urc; goto out; }
    retriever_opts ro = {.kind = kind, .model_dir = model};
    r = retriever_open(s, &ro, &err);
    if (!r) { rc = cli_fail(&err); goto out; }
    fneval_report rep;
    void *jctx;
    fneval_judge_fn jfn = fneval_judge_hook(&fj, s, mo.split, &jctx, &err);
    if (!jfn && err.code) { rc = cli_fail(&err); goto out; }
    int frc = fneval_run_judged(s, r, &mo, features, jfn, jctx, &rep, &err);
    cli_progress_end();
    if (frc < 0) { rc = cli_fail(&err); goto out; }
    if (json) {
        json_t *j = fneval_report_json(&rep);
        fneval_judge_report(&fj, j);
        char *t = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
        if (t) puts(t);
        free(t);
        json_decref(j);
    } else {
        printf("held out %zu positives (%.0f%% of each multi-positive query's): %zu in ranks %u:%u, %zu mined\n",
               rep.hidden, 100.0 * rep.hide_share, rep.in_window, rep.mine.range_lo, rep.mine.range_hi, rep.mined);
        fneval_judge_report(&fj, NULL);
        printf("  recall         %.3f  (%zu of %zu mined caught as suspects)\n", rep.recall, rep.caught, rep.mined);
        printf("  recall@10%%     %.3f  (%zu in the first 10%% of the queue)\n", rep.recall_top10, rep.caught_top10);
        printf("  window recall  %.3f  (%zu of %zu in the window)\n", rep.recall_window, rep.caught, rep.in_window);
        printf("  suspect rate   %.3f  (%zu of %zu rows)\n", rep.suspect_rate, rep.suspects, rep.rows);
        printf("  clean kept     %.3f  (%zu of %zu requested)\n", rep.clean_kept, rep.clean, rep.requested);
        printf("  exported       %.3f  (%zu hidden positives written as negatives)\n", rep.exported_share,
               rep.exported);
        if (rep.mine.warning[0]) printf("warning: %s\n", rep.mine.warning);
    }
    rc = EXIT_OK;
out:
    retriever_free(r);
    cli_session_close(s);
    return rc;
}
