/* syneg train: fine-tune (or train from scratch) the encoder on the session's
 * curated pool, as a run under SESSION/runs/. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/mix.h"
#include "../engine/runs.h"
#include "../engine/passage.h"
#include "../engine/session.h"
#include "../engine/settings.h"
#include "../engine/train.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_train_help[] =
    "usage: syneg train SESSION (--init MODEL_DIR | --scratch tiny|mini) [options]\n"
    "       syneg train SESSION --resume ID [--detach]\n"
    "\n"
    "Contrastive fine-tuning of a BERT-family encoder on the CPU: InfoNCE over each\n"
    "query's positive, its group of hard negatives from the curated pool (mined and\n"
    "synthetic negatives mixed per --mix, human labels applied) and the other queries'\n"
    "passages in the batch.  The run lives in SESSION/runs/ID: config.json,\n"
    "status.json, progress.jsonl (one JSON line per step and per evaluation),\n"
    "checkpoints ckpt/step-N/ and the finished model final/, all Hugging Face folders\n"
    "that transformers.AutoModel and SentenceTransformer load.\n"
    "\n"
    "Model:\n"
    "  --init MODEL_DIR     start from a Hugging Face BERT folder (config.json,\n"
    "                       model.safetensors, vocab.txt)\n"
    "  --scratch SIZE       a new model: tiny (2 layers, 128 hidden, 2 heads) or mini\n"
    "                       (6 layers, 384 hidden, 12 heads), with a WordPiece\n"
    "                       vocabulary learned from the session's corpus\n"
    "  --vocab-size N       scratch vocabulary size (default 8000)\n"
    "  --pooling cls|mean   pooling (default: the model's; mean for scratch)\n"
    "Training:\n"
    "  --epochs N           passes over the training instances (default 1)\n"
    "  --max-steps N        stop after N updates (the schedule spans N)\n"
    "  --batch B            instances (queries) per micro-batch (default 16)\n"
    "  --group G            passages per query: 1 positive + G-1 hard negatives\n"
    "                       (default 8; 1 = in-batch negatives only)\n"
    "  --accum N            micro-batches per update (default 1)\n"
    "  --lr LR              peak learning rate (default 2e-5 with --init; scratch:\n"
    "                       1e-3 tiny, 5e-4 mini)\n"
    "  --temp T             InfoNCE temperature (default 0.02)\n"
    "  --warmup F           fraction of updates warming up linearly (default 0.1);\n"
    "                       then linear decay to 0\n"
    "  --weight-decay W     AdamW decoupled weight decay (default 0.01)\n"
    "  --clip N             clip the global gradient norm to N (default 1; 0 = off)\n"
    "  --max-len N          passage tokens (default 128)\n"
    "  --query-max-len N    query tokens (default 32)\n"
    "  --mix R | R0:R1      synthetic fraction of each group, or a linear schedule\n"
    "                       from R0 to R1 over the run (default 0.5)\n"
    "  --no-inbatch         score each query against its own group only\n"
    "  --fill               a mix class short of rows borrows from the other\n"
    "                       (counted); default: it repeats its own rows, so\n"
    "                       --mix 0 is retrieved negatives only\n"
    "  --include-offline    also draw the offline generator's negatives (a stand-in\n"
    "                       for an LLM, not SyNeg's method; left out by default, as\n"
    "                       in export; setting train.include_offline)\n"
    "  --no-titles          passages as their text alone, for every source (default:\n"
    "                       \"title text\" where there is a title; setting\n"
    "                       passage.titles)\n"
    "  --seed N             shuffling and initialisation seed (default 42)\n"
    "  --threads N          CPU threads (default: all cores); results are\n"
    "                       deterministic for a given seed and thread count\n"
    "  --precision P        matrix products in fp32, bf16 (AVX-512 BF16 with fp32\n"
    "                       sums, forward and backward; fp32 master weights,\n"
    "                       gradients and AdamW moments) or auto (bf16 where the CPU\n"
    "                       has avx512_bf16); default: setting encoder.precision,\n"
    "                       $SYNEG_PRECISION, else fp32\n"
    "  --act-budget MB      activation memory per chunk (default 0: a quarter of\n"
    "                       physical memory, at most 4096); larger batches are\n"
    "                       processed with gradient caching (same gradient, one\n"
    "                       more forward pass)\n"
    "Evaluation and checkpoints:\n"
    "  --eval-every N       evaluate every N updates on the eval split (default:\n"
    "                       at the start and the end only)\n"
    "  --eval-queries N     evaluate on the first N judged queries only\n"
    "  --eval-docs N        search the judged documents plus a fixed sample of N\n"
    "                       others instead of the whole corpus (big collections)\n"
    "  --ckpt-every N       checkpoint every N updates (default 100)\n"
    "Running:\n"
    "  --detach             run in the background as its own process session (it\n"
    "                       survives the terminal); prints the run ID\n"
    "  --resume ID          continue a killed or cancelled run from its last\n"
    "                       checkpoint, with the same data order\n"
    "  --quiet              print only the final evaluation\n"
    "\n"
    "Defaults come from the session's train.* settings when set (init, scratch,\n"
    "epochs, batch, group, lr, temp, max_len, query_max_len, warmup, seed, mix,\n"
    "eval_every, threads: the keys export's launch scripts read); flags override.\n"
    "\n"
    "Follow a run with 'syneg runs SESSION --follow ID'; stop it cleanly with\n"
    "'syneg runs SESSION --cancel ID' or Ctrl-C (a checkpoint is written first).\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }
static int should_stop(void *ctx) { (void)ctx; return stop_flag; }

typedef struct { long total; int quiet; const char *run_dir; } line_ctx;

static void on_line(void *ctx, const char *json_line)
{
    line_ctx *lc = ctx;
    run_status st;
    if (lc->total <= 0 && runs_read_status(lc->run_dir, &st, NULL) == 0) lc->total = st.total;
    if (lc->quiet && !strstr(json_line, "\"final\"")) return;
    sy_buf b = { 0 };
    if (runs_format_progress(json_line, lc->total, &b) == 0 && b.data) printf("%s\n", b.data);
    fflush(stdout);
    sy_buf_free(&b);
}

/* --flag VALUE -> the setting it overrides; parsed and range-checked by the
 * settings table, so the CLI and `syneg set` refuse the same values. */
static int flag_setting(json_t *flags, const char *opt, const char *name, const char *text)
{
    sy_err e = {0};
    json_t *v = settings_parse(name, text, &e);
    if (!v) return cli_usage("train", "%s: %s", opt, e.msg);
    json_object_set_new(flags, name, v);
    return 0;
}

static int run_foreground(const char *session_dir, const char *run_dir, const char *id, int quiet)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    line_ctx lc = { 0, quiet, run_dir };
    train_hooks h = { should_stop, on_line, &lc };
    if (!quiet) printf("run %s (%s)\n", id, run_dir);
    fflush(stdout);
    sy_err err = { 0 };
    if (train_run(session_dir, run_dir, &h, &err) < 0) {
        if (err.code == SY_ECANCEL) {
            fprintf(stderr, "syneg: %s; resume with 'syneg train %s --resume %s'\n", err.msg, session_dir, id);
            return EXIT_ERR;
        }
        return cli_fail(&err);
    }
    if (!quiet) printf("done: the model is in %s/final\n", run_dir);
    return EXIT_OK;
}

static int run_detached(const char *session_dir, const char *run_dir, const char *id)
{
    pid_t pid = cli_fork_detached(run_dir);
    if (pid < 0) return cli_error("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int rc = run_foreground(session_dir, run_dir, id, 0);
        fflush(stdout);
        _exit(rc);
    }
    /* the child owns the run from now on: record its pid before we return */
    run_status st;
    if (runs_read_status(run_dir, &st, NULL) == 0) {
        snprintf(st.state, sizeof st.state, "running");
        st.pid = (long)pid;
        sy_iso_time(st.updated, sizeof st.updated);
        runs_write_status(run_dir, &st, NULL);
    }
    printf("%s\n", id);
    fprintf(stderr, "run %s started in the background (pid %ld); follow it with 'syneg runs %s --follow %s'\n",
            id, (long)pid, session_dir, id);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    enum { O_INIT = 1000, O_SCRATCH, O_VOCAB, O_POOL, O_EPOCHS, O_MAXSTEPS, O_BATCH, O_GROUP,
           O_ACCUM, O_LR, O_TEMP, O_WARMUP, O_WD, O_CLIP, O_MAXLEN, O_QMAXLEN, O_MIX, O_NOINB,
           O_SEED, O_THREADS, O_BUDGET, O_EVALEVERY, O_EVALQ, O_EVALD, O_CKPT, O_PREC, O_DETACH, O_RESUME, O_QUIET,
           O_HELP, O_NOTITLES, O_FILL, O_OFFLINE };
    static const struct option opts[] = {
        {"init", required_argument, 0, O_INIT},         {"scratch", required_argument, 0, O_SCRATCH},
        {"vocab-size", required_argument, 0, O_VOCAB},  {"pooling", required_argument, 0, O_POOL},
        {"epochs", required_argument, 0, O_EPOCHS},     {"max-steps", required_argument, 0, O_MAXSTEPS},
        {"batch", required_argument, 0, O_BATCH},       {"group", required_argument, 0, O_GROUP},
        {"accum", required_argument, 0, O_ACCUM},       {"lr", required_argument, 0, O_LR},
        {"temp", required_argument, 0, O_TEMP},         {"warmup", required_argument, 0, O_WARMUP},
        {"weight-decay", required_argument, 0, O_WD},   {"clip", required_argument, 0, O_CLIP},
        {"max-len", required_argument, 0, O_MAXLEN},    {"query-max-len", required_argument, 0, O_QMAXLEN},
        {"mix", required_argument, 0, O_MIX},           {"no-inbatch", no_argument, 0, O_NOINB},
        {"seed", required_argument, 0, O_SEED},         {"threads", required_argument, 0, O_THREADS},
        {"act-budget", required_argument, 0, O_BUDGET}, {"eval-every", required_argument, 0, O_EVALEVERY},
        {"eval-queries", required_argument, 0, O_EVALQ}, {"ckpt-every", required_argument, 0, O_CKPT},
        {"eval-docs", required_argument, 0, O_EVALD},
        {"detach", no_argument, 0, O_DETACH},           {"resume", required_argument, 0, O_RESUME},
        {"quiet", no_argument, 0, O_QUIET},             {"help", no_argument, 0, O_HELP},
        {"no-titles", no_argument, 0, O_NOTITLES},    {"fill", no_argument, 0, O_FILL},
        {"include-offline", no_argument, 0, O_OFFLINE}, {"precision", required_argument, 0, O_PREC},
        {0, 0, 0, 0},
    };
    static const char *const names[] = {
        [O_INIT - O_INIT] = "train.init",           [O_SCRATCH - O_INIT] = "train.scratch",
        [O_VOCAB - O_INIT] = "train.vocab_size",    [O_POOL - O_INIT] = "train.pooling",
        [O_EPOCHS - O_INIT] = "train.epochs",       [O_MAXSTEPS - O_INIT] = "train.max_steps",
        [O_BATCH - O_INIT] = "train.batch",         [O_GROUP - O_INIT] = "train.group",
        [O_ACCUM - O_INIT] = "train.accum",         [O_LR - O_INIT] = "train.lr",
        [O_TEMP - O_INIT] = "train.temp",           [O_WARMUP - O_INIT] = "train.warmup",
        [O_WD - O_INIT] = "train.weight_decay",     [O_CLIP - O_INIT] = "train.clip",
        [O_MAXLEN - O_INIT] = "train.max_len",      [O_QMAXLEN - O_INIT] = "train.query_max_len",
        [O_MIX - O_INIT] = "train.mix",             [O_NOINB - O_INIT] = "train.inbatch",
        [O_SEED - O_INIT] = "train.seed",           [O_THREADS - O_INIT] = "train.threads",
        [O_BUDGET - O_INIT] = "train.act_budget_mb", [O_EVALEVERY - O_INIT] = "train.eval_every",
        [O_EVALQ - O_INIT] = "train.eval_queries",  [O_EVALD - O_INIT] = "train.eval_docs",
        [O_CKPT - O_INIT] = "train.ckpt_every",     [O_PREC - O_INIT] = "encoder.precision",
    };
    train_opts o;
    const char *resume = NULL;
    int detach = 0, quiet = 0, c, nset = 0, cli_init = 0, cli_scratch = 0, rc0 = 0, no_titles = 0;
    json_t *flags = json_object();
    optind = 1;
    opterr = 0;
    while (!rc0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_DETACH: detach = 1; break;
        case O_RESUME: resume = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_NOTITLES: nset++; no_titles = 1; break;
        case O_HELP: fputs(cmd_train_help, stdout); json_decref(flags); return EXIT_OK;
        case O_NOINB: nset++; rc0 = flag_setting(flags, "--no-inbatch", "train.inbatch", "false"); break;
        case O_FILL: nset++; rc0 = flag_setting(flags, "--fill", "train.fill", "true"); break;
        case O_OFFLINE: nset++; rc0 = flag_setting(flags, "--include-offline", "train.include_offline", "true"); break;
        default:
            if (c < O_INIT || c > O_PREC) {
                rc0 = cli_usage("train", "unknown option '%s'", argv[optind - 1]);
                break;
            }
            nset++;
            if (c == O_INIT) cli_init = 1, json_object_del(flags, "train.scratch");
            if (c == O_SCRATCH) cli_scratch = 1, json_object_del(flags, "train.init");
            rc0 = flag_setting(flags, argv[optind - 1], names[c - O_INIT], optarg);
        }
    }
    if (rc0) { json_decref(flags); return rc0; }
    if (optind != argc - 1) { json_decref(flags); return cli_usage("train", "expected exactly one SESSION folder"); }
    const char *session_dir = argv[optind];
    if (cli_init && cli_scratch) { json_decref(flags); return cli_usage("train", "give --init or --scratch, not both"); }
    sy_err err = { 0 };
    char *run_dir = NULL, *id = NULL;
    if (resume) {
        if (nset) { json_decref(flags); return cli_usage("train", "--resume takes no training options: the run keeps its config.json"); }
        json_decref(flags);
        flags = NULL;
        run_dir = runs_find(session_dir, resume, &err);
        if (!run_dir) return cli_fail(&err);
        run_status st;
        if (runs_read_status(run_dir, &st, &err) == 0 && strcmp(st.state, "running") == 0) {
            free(run_dir);
            return cli_error("run %s is still running (pid %ld); cancel it first with 'syneg runs %s --cancel %s'",
                             resume, st.pid, session_dir, resume);
        }
        if (strcmp(st.state, "done") == 0) {
            free(run_dir);
            return cli_error("run %s is already done; its model is in %s/runs/%s/final", resume, session_dir, resume);
        }
        id = strdup(resume);
    } else {
        if (!sy_is_dir(session_dir)) {
            json_decref(flags);
            return cli_error("%s: no such session folder; create it with 'syneg init'", session_dir);
        }
        /* the table's defaults, then the session's train.* settings, then the flags */
        session *s = session_open(session_dir, SESSION_READ, &err);
        int bad = !s || train_opts_from_settings(&o, s, flags, &err) < 0;
        int titles = bad ? 0 : passage_titles_setting(s, &err);   /* passage.titles; a bad value is an error */
        bad = bad || titles < 0;
        o.no_titles = no_titles || titles == PASSAGE_NO_TITLES;
        cli_session_close(s);
        json_decref(flags);
        flags = NULL;
        if (bad) return err.code == SY_EINVAL ? cli_usage("train", "%s", err.msg) : cli_fail(&err);
        if (!o.init[0] && !o.scratch[0]) return cli_usage("train", "give --init MODEL_DIR or --scratch tiny|mini");
        train_opts_finish(&o);
        if (train_opts_check(&o, &err) < 0) return cli_usage("train", "%s", err.msg);
        run_dir = train_create(session_dir, &o, &id, &err);
        if (!run_dir) return cli_fail(&err);
    }
    json_decref(flags);
    int rc = detach ? run_detached(session_dir, run_dir, id) : run_foreground(session_dir, run_dir, id, quiet);
    free(run_dir);
    free(id);
    return rc;
}
