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

const char cmd_mine_help[] =
    "usage: syneg mine SESSION --retriever bm25|dense [--model DIR] [--split NAME]\n"
    "                  [--range A:B] [--num N] [--sample top|random] [--seed S]\n"
    "                  [--max-rel R] [--margin M] [--max-score S] [--json]\n"
    "\n"
    "For every query of the training split: retrieve, keep ranks A+1..B, mask the\n"
    "known positives, drop texts repeated among the candidates, and keep N\n"
    "negatives.  Candidates that look like false negatives are not thrown away but\n"
    "stored as suspects for review in the TUI: a text equal to a positive's, or one\n"
    "a filter removes.  Filters compare with the query's best positive score P:\n"
    "  --max-rel R      suspect when score > R * P (default 0.95; 0 turns it off)\n"
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
    "Rows replace this retriever's earlier rows of each mined query in the negatives\n"
    "store.  The report (counts per filter, queries left short, score distributions\n"
    "of positives, negatives, suspects and the positive-negative gap) is printed and\n"
    "saved as SESSION/cache/mine-<retriever>-report.json.\n";

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

int cmd_mine(int argc, char **argv)
{
    static const struct option opts[] = {
        {"retriever", required_argument, 0, 'r'}, {"model", required_argument, 0, 'm'},
        {"split", required_argument, 0, 'S'}, {"range", required_argument, 0, 'R'},
        {"num", required_argument, 0, 'n'}, {"sample", required_argument, 0, 'p'},
        {"seed", required_argument, 0, 's'}, {"max-rel", required_argument, 0, 'x'},
        {"margin", required_argument, 0, 'g'}, {"max-score", required_argument, 0, 'X'},
        {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    const char *kind = NULL, *model = NULL;
    int json = 0, c;
    long v;
    mine_opts mo;
    mine_opts_default(&mo);
    sy_err err = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': kind = optarg; break;
        case 'm': model = optarg; break;
        case 'S': mo.split = optarg; break;
        case 'R':
            if (mine_parse_range(optarg, &mo.range_lo, &mo.range_hi, &err) < 0) return cli_usage("mine", "%s", err.msg);
            break;
        case 'n':
            if (cli_parse_long(optarg, 1, 100000, &v) < 0) return cli_usage("mine", "--num '%s': expected 1..100000", optarg);
            mo.num = (unsigned)v;
            break;
        case 'p':
            if (!strcmp(optarg, "top")) mo.sample_random = 0;
            else if (!strcmp(optarg, "random")) mo.sample_random = 1;
            else return cli_usage("mine", "--sample '%s': use top or random", optarg);
            break;
        case 's':
            if (cli_parse_long(optarg, 0, 0x7fffffffffffffffL, &v) < 0) return cli_usage("mine", "--seed '%s': expected a number >= 0", optarg);
            mo.seed = (uint64_t)v;
            break;
        case 'x':
            if (cli_parse_double(optarg, &mo.max_rel) < 0 || mo.max_rel < 0 || mo.max_rel > 10)
                return cli_usage("mine", "--max-rel '%s': expected a ratio such as 0.95 (0 turns it off)", optarg);
            break;
        case 'g':
            if (cli_parse_double(optarg, &mo.margin) < 0 || isnan(mo.margin))
                return cli_usage("mine", "--margin '%s': expected a number", optarg);
            break;
        case 'X':
            if (cli_parse_double(optarg, &mo.max_score) < 0 || isnan(mo.max_score))
                return cli_usage("mine", "--max-score '%s': expected a number", optarg);
            break;
        case 'j': json = 1; break;
        default: return cli_usage("mine", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!kind) return cli_usage("mine", "give --retriever bm25 or --retriever dense");
    if (strcmp(kind, "bm25") && strcmp(kind, "dense")) return cli_usage("mine", "--retriever '%s': use bm25 or dense", kind);
    if (!strcmp(kind, "dense") && !model) return cli_usage("mine", "--retriever dense needs --model DIR");
    if (optind != argc - 1) return cli_usage("mine", "expected exactly one SESSION folder");
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
    if (json) {
        json_t *j = mine_report_json(&rep);
        char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        puts(t);
        free(t);
        json_decref(j);
    } else {
        printf("mined %zu of %zu %s queries with %s, ranks %u:%u, %u per query (%s) in %.2fs\n", rep.mined,
               rep.queries, rep.split, rep.retriever, rep.range_lo, rep.range_hi, rep.num,
               mo.sample_random ? "random" : "top", rep.seconds);
        printf("  negatives %zu written, %zu suspected false negatives kept for review\n", rep.negatives, rep.suspects);
        printf("  candidates %zu: %zu positives masked, %zu equal to a positive's text, %zu repeated texts dropped\n",
               rep.candidates, rep.masked_pos, rep.dup_pos, rep.dup_neg);
        printf("  filters: max-rel %zu, margin %zu, max-score %zu\n", rep.by_max_rel, rep.by_margin, rep.by_max_score);
        printf("  queries: %zu short of %u negatives, %zu without a positive, %zu without a positive score\n",
               rep.short_queries, rep.num, rep.no_positive, rep.no_pos_score);
        printf("scores:\n");
        print_dist("positive", &rep.pos);
        print_dist("negative", &rep.neg);
        print_dist("gap", &rep.gap);
        print_dist("suspect", &rep.suspect);
        printf("report saved to %s/cache/mine-%s-report.json\n", session_dir(s), rep.retriever);
    }
    rc = EXIT_OK;
out:
    retriever_free(r);
    session_close(s);
    return rc;
}
