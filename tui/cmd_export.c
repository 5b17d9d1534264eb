/* syneg export: the curated pool as training data (flag, st, tevatron, trec),
 * a report beside it, and optionally a torchrun launch script. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/export.h"
#include "../engine/launch.h"
#include "../engine/launch_slurm.h"
#include "../engine/session.h"
#include "cli.h"

const char cmd_export_help[] =
    "usage: syneg export SESSION --format FORMAT -o FILE [options]\n"
    "\n"
    "Write the session's curated pool, with every human label applied, as training\n"
    "data.  One line per training instance (query, positive) with a group of N\n"
    "negatives, a fraction R synthetic (llm, offline) and 1-R retrieved (bm25, dense,\n"
    "import, manual).  Rejected negatives never appear; suspected false negatives\n"
    "and filtered rows only when a person accepted them.  The same seed gives\n"
    "byte-identical files.  A report (instances, negatives per source, fills,\n"
    "exclusions by reason) is printed and written to FILE.report.json.  It says\n"
    "how many instances were padded: a query with fewer than N distinct negatives\n"
    "repeats some of them to fill its group (see --no-repeat).  A negative that is\n"
    "a positive of another query with the same text (duplicate queries with\n"
    "different qrels) is left out and reported.\n"
    "\n"
    "formats:\n"
    "  flag       FlagEmbedding JSONL {query, pos, neg[, pos_scores, neg_scores][, prompt]}\n"
    "  st         sentence-transformers JSONL {anchor, positive, negative_1..negative_N}\n"
    "  tevatron   Tevatron JSONL {query_id, query, positive_passages, negative_passages}\n"
    "  trec       the pool as a TREC run (FILE) and the labels applied to the split's\n"
    "             qrels as TREC qrels (FILE.qrels): rejected negatives become relevant\n"
    "\n"
    "options:\n"
    "  -f, --format FORMAT   flag | st | tevatron | trec (required)\n"
    "  -o, --output FILE     output file (required)\n"
    "  --mix R | R0:R1       synthetic fraction per group, 0..1 (default 0.5); R0:R1 moves\n"
    "                        it linearly from R0 to R1 over the instances and epochs written\n"
    "  --num N               negatives per instance (default 7)\n"
    "  --no-repeat           a query short of N distinct negatives gets a shorter group\n"
    "                        instead of repeated negatives\n"
    "  --strategy S          instance: every group mixes both kinds (default);\n"
    "                        batch: each instance from one kind, batches balanced to R\n"
    "  --batch-size B        batch window for --strategy batch (default 32)\n"
    "  --seed S              sampling seed (default 42)\n"
    "  --epochs E            write E epochs one after another, fresh draws each (default 1)\n"
    "  --shuffle             seeded shuffle of the instances of each epoch (default: corpus order)\n"
    "  --promote             rejected negatives (false negatives) join the positives\n"
    "  --reviewed-only       only negatives a person accepted\n"
    "  --fill                a class short of rows borrows from the other class (counted as\n"
    "                        fills); default: it repeats its own rows, and --mix 0 / 1 draw\n"
    "                        retrieved / synthetic negatives only\n"
    "  --split NAME          qrels split giving the positives (default: the session's train split)\n"
    "  --scores              flag: add pos_scores and neg_scores, every passage scored by the\n"
    "                        session's BM25 (one scorer for positives and negatives, so\n"
    "                        --launch's --knowledge_distillation compares like with like)\n"
    "  --prompt TEXT         flag: add \"prompt\": TEXT (query instruction) to every line\n"
    "  --no-title            flag/st: passages without their title (default \"title text\";\n"
    "                        setting passage.titles), for every source alike\n"
    "  --include-offline     include the offline generator's negatives (a stand-in for\n"
    "                        an LLM, not SyNeg's method); left out by default\n"
    "  --length-match        rebalance: draw the synthetic negatives closest in length to\n"
    "                        the query's retrieved ones (when the audit flags length)\n"
    "  --json                print the report as JSON instead of text\n"
    "  --launch torchrun     also write FILE.launch.sh for a multi-GPU run of an existing trainer\n"
    "  --trainer T           flag (FlagEmbedding embedder fine-tuning, for --format flag) or\n"
    "                        st (train_st.py, MultipleNegativesRankingLoss, for --format st);\n"
    "                        default follows the format\n"
    "  --launch slurm        also write FILE.slurm.sh: run on a login node, it submits index,\n"
    "                        mining as a Slurm array of --shards tasks (mine --shard I/N),\n"
    "                        this export again on the merged pool, then FILE.launch.sh\n"
    "                        (written too) on --nodes x --gpus; values overridable by env\n"
    "  --shards N            mining tasks in the Slurm array (default 16)\n"
    "  --retriever R         bm25 (default) or dense, for the Slurm mining step\n"
    "  --model DIR           model folder for --retriever dense\n"
    "  --gpus G              GPUs per node in the launch script (default 1)\n"
    "  --nodes K             nodes in the launch script (default 1)\n"
    "Hyper-parameters of the launch script come from the session's train.* settings\n"
    "(train.init, train.epochs, train.batch, train.lr, train.temp, train.max_len, ...).\n";

static void print_report(const char *path, const export_opts *o, const export_stats *st)
{
    if (o->format == EXPORT_TREC) {
        printf("wrote %s (trec run: %zu rows over %zu queries, %zu bytes)\n", path, st->lines, st->run_queries, st->bytes);
        printf("wrote %s.qrels (%zu rows; labels made %zu relevant, %zu non-relevant)\n", path, st->qrels_rows,
               st->labels_relevant, st->labels_nonrelevant);
        if (st->not_in_corpus) printf("  %zu rows left out: synthetic or not in the corpus (no docid)\n", st->not_in_corpus);
        printf("report %s.report.json\n", path);
        return;
    }
    const mix_report *m = &st->mix;
    printf("wrote %s (%s, %zu lines, %zu bytes)\n", path, export_format_name(o->format), st->lines, st->bytes);
    printf("  instances %zu per epoch over %zu queries (positives: %zu from qrels, %zu promoted)\n",
           m->instances, m->queries, m->positives_qrels, m->positives_promoted);
    if (m->skipped_no_negatives)
        printf("  skipped %zu positives whose query has no usable negative%s\n", m->skipped_no_negatives,
               m->skipped_no_class ? " of the ratio's class (--fill borrows from the other)" : "");
    size_t syn = 0, ret = 0;
    for (int i = 0; i < NEG_NSOURCES; i++) {
        if (mix_source_class(i) == MIX_SYNTHETIC) syn += m->drawn[i];
        else ret += m->drawn[i];
    }
    printf("  negatives %zu: synthetic %zu (", syn + ret, syn);
    int first = 1;
    for (int i = 0; i < NEG_NSOURCES; i++)
        if (mix_source_class(i) == MIX_SYNTHETIC) { printf("%s%s %zu", first ? "" : ", ", neg_source_name(i), m->drawn[i]); first = 0; }
    printf("), retrieved %zu (", ret);
    first = 1;
    for (int i = 0; i < NEG_NSOURCES; i++)
        if (mix_source_class(i) == MIX_RETRIEVED) { printf("%s%s %zu", first ? "" : ", ", neg_source_name(i), m->drawn[i]); first = 0; }
    printf(")\n");
    printf("  fills%s: %zu retrieved for missing synthetic, %zu synthetic for missing retrieved; repeats %zu\n",
           o->mix.fill ? " (--fill)" : "", m->fill_synthetic_short, m->fill_retrieved_short, m->repeats);
    if (m->padded_instances && o->mix.no_repeat)
        printf("  short: %zu instances had fewer than %u distinct negatives and hold only those (--no-repeat;\n"
               "         fewest: query %s, %zu)\n", m->padded_instances, o->mix.num, m->padded_query, m->padded_distinct);
    else if (m->padded_instances)
        printf("  padded: %zu instances had fewer than %u distinct negatives; %zu slots repeat a negative of the\n"
               "          same group (fewest: query %s, %zu distinct in %u slots); --no-repeat writes only the distinct ones\n",
               m->padded_instances, o->mix.num, m->repeats, m->padded_query, m->padded_distinct, o->mix.num);
    if (m->same_text_excluded)
        printf("  same text: %zu negatives left out because a query with the same text has them as positives\n"
               "             (%zu queries share their text; first: query %s, document %s, positive of query %s)\n",
               m->same_text_excluded, m->same_text_queries, m->same_text_query, m->same_text_doc, m->same_text_twin);
    else if (m->same_text_queries)
        printf("  same text: %zu queries share their text with another query (no conflicting negative)\n",
               m->same_text_queries);
    printf("  excluded:");
    for (int i = 0; i < MIX_NX; i++) printf("%s %s %zu", i ? "," : "", mix_exclusion_name(i), m->excluded[i]);
    printf("\n");
    if (o->include_offline && m->drawn[NEG_OFFLINE])
        printf("  includes %zu negatives of the offline generator (a stand-in for an LLM, not SyNeg's method)\n",
               m->drawn[NEG_OFFLINE]);
    else if (m->excluded[MIX_X_OFFLINE])
        printf("  left out %zu negatives of the offline generator (a stand-in for an LLM); --include-offline "
               "includes them\n", m->excluded[MIX_X_OFFLINE]);
    if (st->audited) {
        sy_buf b = {0};
        audit_report_text(&st->audit, &b);
        if (b.data) fputs(b.data, stdout);
        sy_buf_free(&b);
    }
    printf("report %s.report.json\n", path);
}

/* DATA.slurm.sh: the export's own words (without the launch options) are
 * run again by its export step. */
static int write_slurm(int argc, char **argv, session *s, const char *out, const char *retriever, const char *model,
                       unsigned shards, const launch_opts *lo, int json, sy_err *err)
{
    static const char *const skip[] = {"--launch", "--shards", "--retriever", "--model", "--gpus", "--nodes",
                                       "--trainer"};
    const char **words = calloc((size_t)argc + 1, sizeof *words);
    char *self = realpath("/proc/self/exe", NULL), *sess = realpath(session_dir(s), NULL), *cwd = getcwd(NULL, 0);
    char *mabs = model ? realpath(model, NULL) : NULL;
    int rc = -1;
    if (!words || !self || !sess || !cwd) {
        sy_fail(err, SY_ENOMEM, "launch: cannot resolve the syneg binary, the session or the working folder");
        goto out;
    }
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        size_t k = 0, nk = sizeof skip / sizeof *skip;
        while (k < nk && strncmp(argv[i], skip[k], strlen(skip[k]))) k++;
        if (k < nk && (argv[i][strlen(skip[k])] == '\0' || argv[i][strlen(skip[k])] == '=')) {
            if (!strchr(argv[i], '=')) i++;   /* its value */
            continue;
        }
        words[n++] = argv[i];
    }
    launch_slurm_opts so = {.syneg = self, .session = sess, .workdir = cwd, .export_argv = words, .export_argc = n,
                            .retriever = retriever, .model = mabs ? mabs : model,
                            .shards = shards ? shards : 16, .gpus = lo->gpus, .nodes = lo->nodes, .num = lo->num};
    char *sp = NULL;
    if (launch_slurm_write(&so, out, &sp, err) == 0) {
        fprintf(json ? stderr : stdout, "launch %s (slurm: index, mine in %u shards, export, train on %u node%s x %u GPU%s)\n",
                sp, so.shards, so.nodes, so.nodes > 1 ? "s" : "", so.gpus, so.gpus > 1 ? "s" : "");
        rc = 0;
    }
    free(sp);
out:
    free(words);
    free(self);
    free(sess);
    free(cwd);
    free(mabs);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    enum { O_MIX = 256, O_NUM, O_STRATEGY, O_BATCH, O_SEED, O_EPOCHS, O_SHUFFLE, O_PROMOTE, O_REVIEWED,
           O_FILL, O_SPLIT, O_SCORES, O_PROMPT, O_NOTITLE, O_JSON, O_LAUNCH, O_TRAINER, O_GPUS, O_NODES,
           O_SHARDS, O_RETRIEVER, O_MODEL, O_NOREPEAT, O_OFFLINE, O_LENMATCH };
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'},
        {"mix", required_argument, 0, O_MIX}, {"num", required_argument, 0, O_NUM},
        {"strategy", required_argument, 0, O_STRATEGY}, {"batch-size", required_argument, 0, O_BATCH},
        {"seed", required_argument, 0, O_SEED}, {"epochs", required_argument, 0, O_EPOCHS},
        {"shuffle", no_argument, 0, O_SHUFFLE}, {"promote", no_argument, 0, O_PROMOTE},
        {"reviewed-only", no_argument, 0, O_REVIEWED}, {"fill", no_argument, 0, O_FILL}, {"split", required_argument, 0, O_SPLIT},
        {"scores", no_argument, 0, O_SCORES}, {"prompt", required_argument, 0, O_PROMPT},
        {"no-title", no_argument, 0, O_NOTITLE}, {"json", no_argument, 0, O_JSON},
        {"include-offline", no_argument, 0, O_OFFLINE}, {"length-match", no_argument, 0, O_LENMATCH},
        {"launch", required_argument, 0, O_LAUNCH}, {"trainer", required_argument, 0, O_TRAINER},
        {"gpus", required_argument, 0, O_GPUS}, {"nodes", required_argument, 0, O_NODES},
        {"shards", required_argument, 0, O_SHARDS}, {"retriever", required_argument, 0, O_RETRIEVER},
        {"model", required_argument, 0, O_MODEL}, {"no-repeat", no_argument, 0, O_NOREPEAT}, {0, 0, 0, 0}};
    export_opts eo;
    export_opts_default(&eo);
    eo.format = -1;
    const char *out = NULL, *launcher = NULL;
    int trainer = -1, json = 0;
    long v, gpus = 1, nodes = 1, shards = 0;
    const char *retriever = NULL, *mine_model = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if ((eo.format = export_format_parse(optarg)) < 0)
                return cli_usage("export", "unknown format '%s': use flag, st, tevatron or trec", optarg);
            break;
        case 'o': out = optarg; break;
        case O_MIX:
            if (mix_parse_ratio(optarg, &eo.mix.mix_start, &eo.mix.mix_end))
                return cli_usage("export", "--mix takes R or R0:R1 with values in 0..1, not '%s'", optarg);
            break;
        case O_NUM:
            if (cli_parse_long(optarg, 1, 10000, &v)) return cli_usage("export", "--num takes 1..10000, not '%s'", optarg);
            eo.mix.num = (unsigned)v;
            break;
        case O_STRATEGY:
            if ((eo.mix.strategy = mix_strategy_parse(optarg)) < 0)
                return cli_usage("export", "unknown strategy '%s': use instance or batch", optarg);
            break;
        case O_BATCH:
            if (cli_parse_long(optarg, 1, 1000000, &v)) return cli_usage("export", "--batch-size takes a positive number, not '%s'", optarg);
            eo.mix.batch_size = (unsigned)v;
            break;
        case O_SEED:
            if (cli_parse_long(optarg, 0, 0x7fffffffffffffffL, &v)) return cli_usage("export", "--seed takes a non-negative integer, not '%s'", optarg);
            eo.mix.seed = (uint64_t)v;
            break;
        case O_EPOCHS:
            if (cli_parse_long(optarg, 1, 1000, &v)) return cli_usage("export", "--epochs takes 1..1000, not '%s'", optarg);
            eo.epochs = (unsigned)v;
            break;
        case O_SHUFFLE: eo.mix.shuffle = 1; break;
        case O_NOREPEAT: eo.mix.no_repeat = 1; break;
        case O_PROMOTE: eo.mix.promote = 1; break;
        case O_REVIEWED: eo.mix.reviewed_only = 1; break;
        case O_FILL: eo.mix.fill = 1; break;
        case O_SPLIT: eo.mix.split = optarg; break;
        case O_SCORES: eo.scores = 1; break;
        case O_PROMPT: eo.prompt = optarg; break;
        case O_NOTITLE: eo.no_title = 1; break;
        case O_OFFLINE: eo.include_offline = 1; break;
        case O_LENMATCH: eo.mix.length_match = 1; break;
        case O_JSON: json = 1; break;
        case O_LAUNCH: launcher = optarg; break;
        case O_TRAINER:
            if ((trainer = launch_trainer_parse(optarg)) < 0)
                return cli_usage("export", "unknown trainer '%s': use flag or st", optarg);
            break;
        case O_GPUS:
            if (cli_parse_long(optarg, 1, 4096, &gpus)) return cli_usage("export", "--gpus takes 1..4096, not '%s'", optarg);
            break;
        case O_NODES:
            if (cli_parse_long(optarg, 1, 4096, &nodes)) return cli_usage("export", "--nodes takes 1..4096, not '%s'", optarg);
            break;
        case O_SHARDS:
            if (cli_parse_long(optarg, 1, 100000, &shards)) return cli_usage("export", "--shards takes 1..100000, not '%s'", optarg);
            break;
        case O_RETRIEVER:
            if (strcmp(optarg, "bm25") && strcmp(optarg, "dense"))
                return cli_usage("export", "--retriever takes bm25 or dense, not '%s'", optarg);
            retriever = optarg;
            break;
        case O_MODEL: mine_model = optarg; break;
        case ':': return cli_usage("export", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage("export", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return cli_usage("export", "expected one SESSION folder");
    if (eo.format < 0) return cli_usage("export", "--format is required (flag, st, tevatron or trec)");
    if (!out) return cli_usage("export", "-o FILE is required");
    int slurm = launcher && !strcmp(launcher, "slurm");
    if (!slurm && (shards || retriever || mine_model))
        return cli_usage("export", "--shards, --retriever and --model go with --launch slurm");
    if (slurm && retriever && !strcmp(retriever, "dense") && !mine_model)
        return cli_usage("export", "--retriever dense needs --model DIR");
    if (launcher) {
        if (strcmp(launcher, "torchrun") && !slurm)
            return cli_usage("export", "--launch supports torchrun or slurm, not '%s'", launcher);
        if (trainer < 0) trainer = eo.format == EXPORT_ST ? LAUNCH_ST : LAUNCH_FLAG;
        if ((trainer == LAUNCH_FLAG && eo.format != EXPORT_FLAG) || (trainer == LAUNCH_ST && eo.format != EXPORT_ST))
            return cli_usage("export", "--trainer %s reads --format %s data", launch_trainer_name(trainer),
                             trainer == LAUNCH_ST ? "st" : "flag");
    } else if (trainer >= 0 || gpus != 1 || nodes != 1) {
        return cli_usage("export", "--trainer, --gpus and --nodes go with --launch torchrun or slurm");
    }

    sy_err err = {0};
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    export_stats st;
    if (export_write(s, &eo, out, &st, &err)) {
        cli_session_close(s);
        return cli_fail(&err);
    }
    if (json) {
        sy_buf b = {0};
        if (export_report_json(s, &eo, &st, &b) == 0) fputs(b.data, stdout);
        sy_buf_free(&b);
    } else {
        print_report(out, &eo, &st);
    }
    if (launcher) {
        launch_opts lo = {
            .trainer = trainer, .launcher = launcher, .gpus = (unsigned)gpus, .nodes = (unsigned)nodes,
            .num = eo.mix.num, .scores = eo.scores, .schedule = eo.mix.mix_start != eo.mix.mix_end,
            .prompt = eo.prompt, .session_name = session_name(s),
        };
        lo.launcher = "torchrun";
        char *sp = NULL;
        if (slurm && write_slurm(argc, argv, s, out, retriever, mine_model, (unsigned)shards, &lo, json, &err)) {
            cli_session_close(s);
            return cli_fail(&err);
        }
        if (launch_write(s, &lo, out, &sp, &err)) {
            cli_session_close(s);
            return cli_fail(&err);
        }
        fprintf(json ? stderr : stdout, "launch %s (torchrun, %ld node%s x %ld GPU%s, %s)%s\n", sp, nodes,
                nodes > 1 ? "s" : "", gpus, gpus > 1 ? "s" : "",
                trainer == LAUNCH_ST ? "sentence-transformers MNRL" : "FlagEmbedding",
                trainer == LAUNCH_ST ? "; trainer train_st.py beside it" : "");
        free(sp);
    }
    cli_session_close(s);
    return EXIT_OK;
}
