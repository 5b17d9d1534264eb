/* syneg mine: retrieve hard negatives for the training queries, with
 * positive-aware false-negative filters. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/mine.h"
#include "../engine/retriever.h"
#include "../engine/session.h"
#include "cli.h"
#include "mine_cli.h"
#include "mine_rescore.h"

const char cmd_mine_help[] =
    "usage: syneg mine SESSION --retriever bm25|dense [--model DIR] [--split NAME]\n"
    "                  [--range A:B] [--num N] [--sample top|random] [--seed S]\n"
    "                  [--fn-threshold L] [--max-rel R] [--margin M] [--max-score S]\n"
    "                  [--json] [--shard I/N] [--rescore DIR]\n"
    "\n"
    "For every query of the training split: retrieve, keep ranks A+1..B, mask the\n"
    "known positives, drop texts repeated among the candidates, and keep N\n"
    "negatives.  Candidates that look like false negatives are not thrown away but\n"
    "stored as suspects for review in the TUI, ranked by the false-negative\n"
    "likelihood (0..1) every row carries.  The likelihood combines signals that do\n"
    "not depend on the scorer's scale: the score's place between the list's floor\n"
    "and the best positive's score, its place in the list, the step down after it,\n"
    "its rank, and (BM25) its similarity to the known positives.\n"
    "  --fn-threshold L suspect when the likelihood >= L (default 0.5; above 1: off)\n"
    "A text equal to a positive's is always a suspect.  Optional hard filters on\n"
    "the raw score, against the query's best positive score P:\n"
    "  --max-rel R      suspect when score > R * P (default off; 0 turns it off)\n"
    "  --margin M       suspect when score > P - M (default off)\n"
    "  --max-score S    suspect when score > S (default off)\n"
    "Other options:\n"
    "  --retriever NAME bm25 or dense (required)\n"
    "  --model DIR      model folder for --retriever dense\n"
    "  --split NAME     qrels split to mine (default: the session's train split)\n"
    "  --range A:B      rank window, 0-based start and end (default 10:100)\n"
    "  --num N          negatives per query (default 8)\n"
    "  --sample top|random   best-ranked clean candidates, or a random choice (default top)\n"
    "  --seed S         seed for --sample random (default 42)\n"
    "  --json           print the report as JSON\n"
    "  --shard I/N      mine only share I (0-based) of N of the queries (a contiguous\n"
    "                   slice in split order), e.g. one Slurm array task each; the\n"
    "                   shards' segments cover disjoint queries and merge in any\n"
    "                   session (copy SESSION/negatives/*.seg); report: SESSION/cache/\n"
    "                   mine-<retriever>-report.shard-I-of-N.json\n"
    MINE_RESCORE_HELP
    "Rows replace this retriever's earlier rows of each mined query in the negatives\n"
    "store.  The report (counts per filter, the suspect rate, queries left short or\n"
    "without any clean negative, score distributions of positives, negatives,\n"
    "suspects and the positive-negative gap) is printed and saved as\n"
    "SESSION/cache/mine-<retriever>-report.json; it warns when more than 25% of\n"
    "the rows are suspects or whole windows were flagged.  Measure the filters on\n"
    "your data with 'syneg fneval'; list the queue with 'syneg suspects'.\n";

static void progress(void *ctx, const char *what, size_t done, size_t total)
{
    (void)ctx;
    cli_progress(what, (double)done, (double)total, NULL);
}

static void mine_progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    cli_progress("mining", (double)done, (double)total, NULL);
}

static void print_dist(const char *name, const mine_dist *d)
{
    if (!d->n) { printf("  %-10s none\n", name); return; }
    printf("  %-10s n %-7zu mean %8.3f  min %8.3f  p10 %8.3f  p50 %8.3f  p90 %8.3f  max %8.3f\n", name, d->n,
           d->mean, d->min, d->p10, d->p50, d->p90, d->max);
}

int mine_cli_option(const char *cmd, int c, const char *arg, mine_opts *mo, const char **kind, const char **model,
                    int *rc)
{
    long v;
    sy_err err = {0};
    *rc = 0;
    switch (c) {
    case 'r': *kind = arg; return 1;
    case 'm': *model = arg; return 1;
    case 'S': mo->split = arg; return 1;
    case 'R':
        if (mine_parse_range(arg, &mo->range_lo, &mo->range_hi, &err) < 0) *rc = cli_usage(cmd, "%s", err.msg);
        return 1;
    case 'n':
        if (cli_parse_long(arg, 1, 100000, &v) < 0) *rc = cli_usage(cmd, "--num '%s': expected 1..100000", arg);
        else mo->num = (unsigned)v;
        return 1;
    case 'p':
        if (!strcmp(arg, "top")) mo->sample_random = 0;
        else if (!strcmp(arg, "random")) mo->sample_random = 1;
        else *rc = cli_usage(cmd, "--sample '%s': use top or random", arg);
        return 1;
    case 's':
        if (cli_parse_long(arg, 0, 0x7fffffffffffffffL, &v) < 0) *rc = cli_usage(cmd, "--seed '%s': expected a number >= 0", arg);
        else mo->seed = (uint64_t)v;
        return 1;
    case 'T':
        if (cli_parse_double(arg, &mo->fn_threshold) < 0 || !(mo->fn_threshold > 0))
            *rc = cli_usage(cmd, "--fn-threshold '%s': expected a likelihood above 0 such as 0.5 (above 1: off)", arg);
        return 1;
    case 'x':
        if (cli_parse_double(arg, &mo->max_rel) < 0 || mo->max_rel < 0 || mo->max_rel > 10)
            *rc = cli_usage(cmd, "--max-rel '%s': expected a ratio such as 0.95 (0 turns it off)", arg);
        return 1;
    case 'g':
        if (cli_parse_double(arg, &mo->margin) < 0 || isnan(mo->margin)) *rc = cli_usage(cmd, "--margin '%s': expected a number", arg);
        return 1;
    case 'X':
        if (cli_parse_double(arg, &mo->max_score) < 0 || isnan(mo->max_score))
            *rc = cli_usage(cmd, "--max-score '%s': expected a number", arg);
        return 1;
    }
    return 0;
}

int mine_cli_check(const char *cmd, const char *kind, const char *model)
{
    if (!kind) return cli_usage(cmd, "give --retriever bm25 or --retriever dense");
    if (strcmp(kind, "bm25") && strcmp(kind, "dense")) return cli_usage(cmd, "--retriever '%s': use bm25 or dense", kind);
    if (!strcmp(kind, "dense") && !model) return cli_usage(cmd, "--retriever dense needs --model DIR");
    return 0;
}

int cmd_mine(int argc, char **argv)
{
    static const struct option opts[] = {MINE_CLI_OPTIONS, {"json", no_argument, 0, 'j'},
                                         {"shard", required_argument, 0, 'H'}, MINE_RESCORE_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *kind = NULL, *model = NULL;
    int json = 0, c, urc;
    mine_opts mo;
    mine_opts_default(&mo);
    mine_rescore rs;   /* --rescore: a separate block (tui/mine_rescore.c) */
    mine_rescore_init(&rs);
    sy_err err = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (mine_cli_option("mine", c, optarg, &mo, &kind, &model, &urc)) {
            if (urc) return urc;
            continue;
        }
        if (mine_rescore_option(&rs, c, optarg, &urc)) {
            if (urc) return urc;
            continue;
        }
        if (c == 'j') json = 1;
        else if (c == 'H') {
            if (cli_parse_shard(optarg, &mo.shard_i, &mo.shard_n) < 0)
                return cli_usage("mine", "--shard '%s': expected I/N with 0 <= I < N, e.g. 3/16", optarg);
        } else return cli_usage("mine", "unknown option '%s'", argv[optind - 1]);
    }
    if ((urc = mine_cli_check("mine", kind, model))) return urc;
    if (optind != argc - 1) return cli_usage("mine", "expected exactly one SESSION folder");
    if ((urc = mine_rescore_attach(&rs, kind, &mo))) return urc;
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    int rc = EXIT_ERR;
    retriever_opts ro = {.kind = kind, .model_dir = model, .progress = progress};
    retriever *r = retriever_open(s, &ro, &err);
    cli_progress_end();
    if (!r) { rc = cli_fail(&err); goto out; }
    mo.progress = mine_progress;
    mine_report rep;
    int mrc = mine_run(s, r, &mo, &rep, &err);
    cli_progress_end();
    if (mrc < 0) { rc = cli_fail(&err); goto out; }
    if (mine_rescore_run(&rs, s, &err) < 0) { rc = cli_fail(&err); goto out; }
    if (json) {
        json_t *j = mine_report_json(&rep);
        mine_rescore_report(&rs, j);
        char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        puts(t);
        free(t);
        json_decref(j);
    } else {
        printf("mined %zu of %zu %s queries with %s, ranks %u:%u, %u per query (%s) in %.2fs\n", rep.mined,
               rep.queries, rep.split, rep.retriever, rep.range_lo, rep.range_hi, rep.num,
               mo.sample_random ? "random" : "top", rep.seconds);
        printf("  negatives %zu written, %zu suspected false negatives kept for review (suspect rate %.1f%%)\n",
               rep.negatives, rep.suspects, 100.0 * rep.suspect_rate);
        printf("  candidates %zu: %zu positives masked, %zu equal to a positive's text, %zu repeated texts dropped\n",
               rep.candidates, rep.masked_pos, rep.dup_pos, rep.dup_neg);
        printf("  filters: likelihood >= %g %zu, max-rel %zu, margin %zu, max-score %zu\n", rep.fn_threshold,
               rep.by_likelihood, rep.by_max_rel, rep.by_margin, rep.by_max_score);
        printf("  queries: %zu short of %u negatives, %zu without a clean negative, %zu with every candidate\n"
               "           flagged, %zu without a positive, %zu without a positive score\n",
               rep.short_queries, rep.num, rep.no_clean, rep.whole_window, rep.no_positive, rep.no_pos_score);
        printf("scores:\n");
        print_dist("positive", &rep.pos);
        print_dist("negative", &rep.neg);
        print_dist("gap", &rep.gap);
        print_dist("suspect", &rep.suspect);
        if (rep.shard_n > 1)
            printf("report saved to %s/cache/mine-%s-report.shard-%u-of-%u.json\n", session_dir(s), rep.retriever,
                   rep.shard_i, rep.shard_n);
        else printf("report saved to %s/cache/mine-%s-report.json\n", session_dir(s), rep.retriever);
        mine_rescore_report(&rs, NULL);
    }
    if (rep.warning[0]) fprintf(stderr, "syneg mine: warning: %s\n", rep.warning);
    rc = EXIT_OK;
out:
    mine_rescore_free(&rs);
    retriever_free(r);
    session_close(s);
    return rc;
}
