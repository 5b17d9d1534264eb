/* syneg mine: retrieve hard negatives for the training queries, with
 * positive-aware false-negative filters. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/mine.h"
#include "../engine/retriever.h"
#include "../engine/session.h"
#include "../engine/settings.h"
#include "cli.h"
#include "mine_cli.h"
#include "mine_rescore.h"

const char cmd_mine_help[] =
    "usage: syneg mine SESSION --retriever bm25|dense [--model DIR] [--split NAME]\n"
    "                  [--range A:B] [--num N] [--sample top|random] [--seed S]\n"
    "                  [--fn-threshold L] [--suspects MIN:MAX] [--pool P]\n"
    "                  [--max-rel R] [--margin M] [--max-score S] [--json] [--shard I/N]\n"
    "                  [--precision P] [--rescore DIR]\n"
    "\n"
    "For every query of the training split: retrieve, keep ranks A+1..B, mask the\n"
    "known positives, drop texts repeated among the candidates, and keep N\n"
    "negatives.  Candidates that look like false negatives are not thrown away but\n"
    "stored as suspects for review in the TUI, ranked by the false-negative\n"
    "likelihood (0..1) every row carries.  The likelihood combines signals that do\n"
    "not depend on the scorer's scale: the score's place between the list's floor\n"
    "and the best positive's score, its place in the list, the step down after it,\n"
    "its rank, and (BM25) its similarity to the known positives.\n"
    "  --fn-threshold L suspect when the likelihood >= L (default: setting\n"
    "                   mine.fn_threshold, 0.5; above 1: off)\n"
    "  --suspects MIN:MAX  the likelihood flags at least MIN and at most MAX of the\n"
    "                   rows: the threshold is moved to keep the share in range,\n"
    "                   measured on up to 2000 of the split's queries first\n"
    "                   (default: mine.suspect_min:mine.suspect_max, 0.1:0.2;\n"
    "                   0:1 uses the threshold as given)\n"
    "  --pool P         the N negatives are the least likely false negatives among\n"
    "                   the P x N best-ranked clean candidates (default: mine.pool,\n"
    "                   3; 1: simply the best-ranked)\n"
    "A text equal to a positive's is always a suspect.  Optional hard filters on\n"
    "the raw score, against the query's best positive score P:\n"
    "  --max-rel R      suspect when score > R * P (default off; 0 turns it off)\n"
    "  --margin M       suspect when score > P - M (default off)\n"
    "  --max-score S    suspect when score > S (default off)\n"
    "Other options:\n"
    "  --retriever NAME bm25 or dense (required)\n"
    "  --model DIR      model folder for --retriever dense\n"
    "  --precision P    the encoder's matrix products for --retriever dense: fp32,\n"
    "                   bf16 (AVX-512 BF16, fp32 sums) or auto (default: setting\n"
    "                   encoder.precision, $SYNEG_PRECISION, else fp32); bf16 on a\n"
    "                   CPU without avx512_bf16 exits 2\n"
    "  --split NAME     qrels split to mine (default: the session's train split)\n"
    "  --range A:B      rank window, 0-based start and end (default 10:100)\n"
    "  --num N          negatives per query (default 8)\n"
    "  --sample top|random   the pool's least likely clean candidates, or a random\n"
    "                   choice among all clean ones (default top)\n"
    "  --seed S         seed for --sample random (default 42)\n"
    "  --json           print the report as JSON\n"
    "  --shard I/N      mine only share I (0-based) of N of the queries (a contiguous\n"
    "                   slice in split order), e.g. one Slurm array task each; the\n"
    "                   shards' segments cover disjoint queries and merge in any\n"
    "                   session (copy SESSION/negatives/*.seg); every shard gets the\n"
    "                   same threshold (calibrated on the whole split); report:\n"
    "                   SESSION/cache/mine-<retriever>-report.shard-I-of-N.json\n"
    MINE_RESCORE_HELP
    "Rows replace this retriever's earlier rows of each mined query in the negatives\n"
    "store.  The report (counts per filter, the threshold used, the suspect rate,\n"
    "queries left short or without any clean negative, score distributions of\n"
    "positives, negatives, suspects and the positive-negative gap) is printed and\n"
    "saved as SESSION/cache/mine-<retriever>-report.json; it warns when more than\n"
    "25% of the rows are suspects or whole windows were flagged.  Measure the\n"
    "filters on your data with 'syneg fneval'; list the queue with 'syneg suspects'.\n";

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
    case 'U': {
        char *colon = strchr(arg, ':');
        double a, b;
        char buf[64];
        if (!colon || (size_t)(colon - arg) >= sizeof buf) goto bad_suspects;
        memcpy(buf, arg, (size_t)(colon - arg));
        buf[colon - arg] = 0;
        if (cli_parse_double(buf, &a) < 0 || cli_parse_double(colon + 1, &b) < 0 || !(a >= 0 && a <= b && b <= 1))
            goto bad_suspects;
        mo->suspect_min = a;
        mo->suspect_max = b;
        return 1;
    bad_suspects:
        *rc = cli_usage(cmd, "--suspects '%s': expected MIN:MAX shares with 0 <= MIN <= MAX <= 1, e.g. 0.1:0.2", arg);
        return 1;
    }
    case 'P':
        if (cli_parse_long(arg, 1, 1000, &v) < 0) *rc = cli_usage(cmd, "--pool '%s': expected 1..1000", arg);
        else mo->pool = (unsigned)v;
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

void mine_cli_begin(mine_opts *mo)
{
    mo->fn_threshold = mo->suspect_min = mo->suspect_max = NAN;
    mo->pool = 0;
}

int mine_cli_settings(session *s, mine_opts *mo)
{
    sy_err err = {0};
    /* a bad stored value is a bad value: exit 2, as a bad flag */
    if (settings_check_session(s, "mine.", &err) < 0) { cli_fail(&err); return EXIT_USAGE; }
    mine_opts_settings(s, mo);
    if (mo->suspect_min > mo->suspect_max) {
        sy_fail(&err, SY_EINVAL, "mine.suspect_min %g is above mine.suspect_max %g; set one of them or pass --suspects",
                mo->suspect_min, mo->suspect_max);
        cli_fail(&err);
        return EXIT_USAGE;
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

enum { O_MINE_PREC = 0x2000 };   /* clear of the shared option codes (mine_cli.h, mine_rescore.h) */

int cmd_mine(int argc, char **argv)
{
    static const struct option opts[] = {MINE_CLI_OPTIONS, {"json", no_argument, 0, 'j'},
                                         {"shard", required_argument, 0, 'H'}, {"precision", required_argument, 0, O_MINE_PREC},
                                         MINE_RESCORE_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *kind = NULL, *model = NULL, *precision = NULL;
    int json = 0, c, urc;
    mine_opts mo;
    mine_opts_default(&mo);
    mine_cli_begin(&mo);
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
        else if (c == O_MINE_PREC) precision = optarg;
        else if (c == 'H') {
            if (cli_parse_shard(optarg, &mo.shard_i, &mo.shard_n) < 0)
                return cli_usage("mine", "--shard '%s': expected I/N with 0 <= I < N, e.g. 3/16", optarg);
        } else return cli_usage("mine", "unknown option '%s'", argv[optind - 1]);
    }
    if ((urc = mine_cli_check("mine", kind, model))) return urc;
    if (precision && strcmp(kind, "dense")) return cli_usage("mine", "--precision is for --retriever dense");
    if (optind != argc - 1) return cli_usage("mine", "expected exactly one SESSION folder");
    if ((urc = mine_rescore_attach(&rs, kind, &mo))) return urc;
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    int rc = EXIT_ERR;
    retriever *r = NULL;
    if ((urc = mine_cli_settings(s, &mo))) { rc = urc; goto out; }
    retriever_opts ro = {.kind = kind, .model_dir = model, .progress = progress};
    if (!strcmp(kind, "dense") && (urc = cli_precision("mine", s, precision, &ro.precision))) { rc = urc; goto out; }
    r = retriever_open(s, &ro, &err);
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
        printf("  filters: likelihood >= %.4g %zu, max-rel %zu, margin %zu, max-score %zu\n", rep.threshold,
               rep.by_likelihood, rep.by_max_rel, rep.by_margin, rep.by_max_score);
        if (rep.calib_queries)
            printf("  threshold: fn-threshold %g held to %.0f-%.0f%% suspects on %zu calibration queries\n",
                   rep.fn_threshold, 100.0 * rep.suspect_min, 100.0 * rep.suspect_max, rep.calib_queries);
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
    cli_session_close(s);
    return rc;
}
