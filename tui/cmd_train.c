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
    "  --no-titles          passages as their text alone, for every source (default:\n"
    "                       \"title text\" where there is a title; setting\n"
    "                       passage.titles)\n"
    "  --seed N             shuffling and initialisation seed (default 42)\n"
    "  --threads N          CPU threads (default: all cores); results are\n"
    "                       deterministic for a given seed and thread count\n"
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

/* train.* settings of the session (the keys the launch scripts read too):
 * init, scratch, epochs, batch, group, lr, temp, max_len, query_max_len,
 * warmup, seed, mix ("R" or "R0:R1" or a number), eval_every, threads. */
static void session_defaults(const char *dir, train_opts *o)
{
    session *s = session_open(dir, SESSION_READ, NULL);
    if (!s) return;
    const char *v;
    if ((v = session_get_str(s, "train.init", NULL)) && *v) snprintf(o->init, sizeof o->init, "%s", v);
    else if ((v = session_get_str(s, "train.scratch", NULL)) && *v) snprintf(o->scratch, sizeof o->scratch, "%s", v);
#define NUM(key, field, type) \
    if (json_is_number(session_get(s, "train." key))) o->field = (type)session_get_num(s, "train." key, 0)
    NUM("epochs", epochs, int);
    NUM("batch", batch, int);
    NUM("group", group, int);
    NUM("lr", lr, double);
    NUM("temp", temp, double);
    NUM("max_len", max_len_p, int);
    NUM("query_max_len", max_len_q, int);
    NUM("warmup", warmup, double);
    NUM("seed", seed, uint64_t);
    NUM("eval_every", eval_every, int);
    NUM("threads", threads, int);
#undef NUM
    json_t *mx = session_get(s, "train.mix");
    if (json_is_number(mx)) o->mix_start = o->mix_end = json_number_value(mx);
    else if (json_is_string(mx)) mix_parse_ratio(json_string_value(mx), &o->mix_start, &o->mix_end);
    session_close(s);
}

/* passage.titles (passage.h): no makes --no-titles the default; a bad value is an error */
static int titles_default(const char *dir, train_opts *o)
{
    session *s = session_open(dir, SESSION_READ, NULL);
    if (!s) return 0;   /* the real open below reports it */
    sy_err err = {0};
    int t = passage_titles_setting(s, &err);
    session_close(s);
    if (t < 0) { cli_fail(&err); return -1; }
    o->no_titles = t == PASSAGE_NO_TITLES;
    return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *v)
{
    if (cli_parse_long(s, lo, hi, v) < 0) return cli_usage("train", "%s %s: expected a whole number in %ld..%ld", opt, s, lo, hi);
    return 0;
}

static int parse_num(const char *opt, const char *s, double *v)
{
    if (cli_parse_double(s, v) < 0) return cli_usage("train", "%s %s: expected a number", opt, s);
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
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return cli_error("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        setsid();
        signal(SIGHUP, SIG_IGN);
        int in = open("/dev/null", O_RDONLY);
        char *log = sy_path_join(run_dir, "log.txt");
        int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
        free(log);
        if (in >= 0) { dup2(in, 0); close(in); }
        if (out >= 0) { dup2(out, 1); dup2(out, 2); close(out); }
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
           O_SEED, O_THREADS, O_BUDGET, O_EVALEVERY, O_EVALQ, O_EVALD, O_CKPT, O_DETACH, O_RESUME, O_QUIET,
           O_HELP, O_NOTITLES };
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
        {"no-titles", no_argument, 0, O_NOTITLES},
        {0, 0, 0, 0},
    };
    train_opts o;
    train_opts_default(&o);
    const char *resume = NULL;
    int detach = 0, quiet = 0, c, nset = 0;
    long v;
    double d;
    int pass = 0, cli_init = 0, cli_scratch = 0;
    const char *session_dir = NULL;
again:
    optind = 1;
    opterr = 0;
    nset = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != O_DETACH && c != O_RESUME && c != O_QUIET && c != O_HELP) nset++;
        switch (c) {
        case O_INIT: snprintf(o.init, sizeof o.init, "%s", optarg); o.scratch[0] = '\0'; cli_init = 1; break;
        case O_SCRATCH: snprintf(o.scratch, sizeof o.scratch, "%s", optarg); o.init[0] = '\0'; cli_scratch = 1; break;
        case O_VOCAB: if (parse_int("--vocab-size", optarg, 200, 200000, &v)) return EXIT_USAGE; o.vocab_size = (int)v; break;
        case O_POOL: snprintf(o.pooling, sizeof o.pooling, "%s", optarg); break;
        case O_EPOCHS: if (parse_int("--epochs", optarg, 1, 100000, &v)) return EXIT_USAGE; o.epochs = (int)v; break;
        case O_MAXSTEPS: if (parse_int("--max-steps", optarg, 1, 1000000000, &v)) return EXIT_USAGE; o.max_steps = v; break;
        case O_BATCH: if (parse_int("--batch", optarg, 1, 4096, &v)) return EXIT_USAGE; o.batch = (int)v; break;
        case O_GROUP: if (parse_int("--group", optarg, 1, 256, &v)) return EXIT_USAGE; o.group = (int)v; break;
        case O_ACCUM: if (parse_int("--accum", optarg, 1, 1024, &v)) return EXIT_USAGE; o.accum = (int)v; break;
        case O_LR: if (parse_num("--lr", optarg, &d)) return EXIT_USAGE; o.lr = d; break;
        case O_TEMP: if (parse_num("--temp", optarg, &d)) return EXIT_USAGE; o.temp = d; break;
        case O_WARMUP: if (parse_num("--warmup", optarg, &d)) return EXIT_USAGE; o.warmup = d; break;
        case O_WD: if (parse_num("--weight-decay", optarg, &d)) return EXIT_USAGE; o.weight_decay = d; break;
        case O_CLIP: if (parse_num("--clip", optarg, &d)) return EXIT_USAGE; o.clip = d; break;
        case O_MAXLEN: if (parse_int("--max-len", optarg, 4, 512, &v)) return EXIT_USAGE; o.max_len_p = (int)v; break;
        case O_QMAXLEN: if (parse_int("--query-max-len", optarg, 4, 512, &v)) return EXIT_USAGE; o.max_len_q = (int)v; break;
        case O_MIX:
            if (mix_parse_ratio(optarg, &o.mix_start, &o.mix_end) < 0)
                return cli_usage("train", "--mix %s: expected R or R0:R1 with fractions in 0..1", optarg);
            break;
        case O_NOINB: o.inbatch = 0; break;
        case O_NOTITLES: o.no_titles = 1; break;
        case O_SEED: if (parse_int("--seed", optarg, 0, 0x7fffffffffffffffL, &v)) return EXIT_USAGE; o.seed = (uint64_t)v; break;
        case O_THREADS: if (parse_int("--threads", optarg, 0, 1024, &v)) return EXIT_USAGE; o.threads = (int)v; break;
        case O_BUDGET: if (parse_int("--act-budget", optarg, 0, 1 << 20, &v)) return EXIT_USAGE; o.act_budget_mb = (int)v; break;
        case O_EVALEVERY: if (parse_int("--eval-every", optarg, 0, 1000000000, &v)) return EXIT_USAGE; o.eval_every = (int)v; break;
        case O_EVALQ: if (parse_int("--eval-queries", optarg, 0, 1000000000, &v)) return EXIT_USAGE; o.eval_queries = (int)v; break;
        case O_EVALD: if (parse_int("--eval-docs", optarg, 0, 2000000000, &v)) return EXIT_USAGE; o.eval_docs = (int)v; break;
        case O_CKPT: if (parse_int("--ckpt-every", optarg, 0, 1000000000, &v)) return EXIT_USAGE; o.ckpt_every = (int)v; break;
        case O_DETACH: detach = 1; break;
        case O_RESUME: resume = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_HELP: fputs(cmd_train_help, stdout); return EXIT_OK;
        default: return cli_usage("train", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage("train", "expected exactly one SESSION folder");
    session_dir = argv[optind];
    if (cli_init && cli_scratch) return cli_usage("train", "give --init or --scratch, not both");
    if (pass == 0 && !resume) {
        /* the session's train.* settings are the defaults; flags override them */
        train_opts_default(&o);
        session_defaults(session_dir, &o);
        if (titles_default(session_dir, &o)) return EXIT_USAGE;
        pass = 1;
        goto again;
    }
    sy_err err = { 0 };
    char *run_dir = NULL, *id = NULL;
    if (resume) {
        if (nset) return cli_usage("train", "--resume takes no training options: the run keeps its config.json");
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
        if (!o.init[0] && !o.scratch[0]) return cli_usage("train", "give --init MODEL_DIR or --scratch tiny|mini");
        train_opts_finish(&o);
        if (train_opts_check(&o, &err) < 0) return cli_usage("train", "%s", err.msg);
        if (!sy_is_dir(session_dir)) return cli_error("%s: no such session folder; create it with 'syneg init'", session_dir);
        run_dir = train_create(session_dir, &o, &id, &err);
        if (!run_dir) return cli_fail(&err);
    }
    int rc = detach ? run_detached(session_dir, run_dir, id) : run_foreground(session_dir, run_dir, id, quiet);
    free(run_dir);
    free(id);
    return rc;
}
