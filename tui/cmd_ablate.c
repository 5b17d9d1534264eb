/* syneg ablate: the SyNeg ablation (engine/ablate.h) from the command line:
 * plan, train (foreground or detached), resume, follow, show the table. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/ablate.h"
#include "../engine/mix.h"
#include "../engine/runs.h"
#include "../engine/session.h"
#include "../engine/settings.h"
#include "cli.h"

const char cmd_ablate_help[] =
    "usage: syneg ablate SESSION (--init MODEL_DIR | --scratch tiny|mini) [options]\n"
    "       syneg ablate SESSION --resume ID [--detach]\n"
    "       syneg ablate SESSION --follow ID | --show ID [--json]\n"
    "\n"
    "The SyNeg ablation in one command: the same model, steps and seeds trained\n"
    "once per arm, each arm drawing negatives only from its own sources, evaluated\n"
    "on the session's eval split, printed as one table (mean ± sd over seeds):\n"
    "  inbatch     in-batch negatives only (group 1)\n"
    "  retrieved   mined/imported negatives only (mix 0, no fill)\n"
    "  synthetic   LLM/offline negatives only (mix 1, no fill)\n"
    "  hybrid      R synthetic and 1-R retrieved per group (--mix R, no fill)\n"
    "Every (arm, seed) is an ordinary run under SESSION/runs/ ('syneg runs', the\n"
    "workbench's jobs panel and run view show them); the plan and the ablation's\n"
    "status live in SESSION/ablations/ID/.\n"
    "\n"
    "Options:\n"
    "  --seeds S1,S2,...  seeds, each arm trained once per seed (default 1,2,3)\n"
    "  --mix R            the hybrid arm's synthetic fraction (default train.mix)\n"
    "  --arms LIST        a subset: inbatch,retrieved,synthetic,hybrid (default all)\n"
    "  --init, --scratch, --max-steps, --epochs, --batch, --group, --lr, --temp,\n"
    "  --max-len, --query-max-len, --vocab-size, --eval-every, --eval-queries,\n"
    "  --eval-docs, --threads, --include-offline\n"
    "                     as for 'syneg train'; the rest of train.* comes from the\n"
    "                     session's settings\n"
    "  --detach           run in the background (prints the ID; survives the terminal)\n"
    "  --resume ID        continue a killed or cancelled ablation: finished runs are\n"
    "                     kept, an unfinished one resumes from its checkpoint\n"
    "  --follow ID        print each run as it starts and the table when it ends\n"
    "  --show ID          print the table from the run folders\n"
    "  --json             the table as JSON (--show, or at the end)\n"
    "  --quiet            print only the table\n"
    "Ctrl-C (or 'syneg runs SESSION --cancel RUN' on the current run) stops cleanly.\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }
static int should_stop(void *ctx) { (void)ctx; return stop_flag; }

typedef struct { int quiet; } out_ctx;

static void on_run(void *ctx, const char *arm, uint64_t seed, const char *id, int k, int n)
{
    out_ctx *o = ctx;
    if (!o->quiet) printf("[%d/%d] arm %s, seed %llu: run %s\n", k, n, arm, (unsigned long long)seed, id);
    fflush(stdout);
}

static void on_line(void *ctx, const char *line)
{
    out_ctx *o = ctx;
    if (o->quiet || !strstr(line, "\"final\"")) return;   /* each run's final evaluation */
    sy_buf b = {0};
    if (runs_format_progress(line, 0, &b) == 0 && b.data) printf("  %s\n", b.data);
    sy_buf_free(&b);
    fflush(stdout);
}

static int show(const char *session_dir, const char *dir, int as_json)
{
    sy_err err = {0};
    json_t *t = ablate_table(session_dir, dir, &err);
    if (!t) return cli_fail(&err);
    if (as_json) {
        char *s = json_dumps(t, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
        if (s) printf("%s\n", s);
        free(s);
    } else {
        sy_buf b = {0};
        ablate_format_table(t, &b);
        if (b.data) fputs(b.data, stdout);
        sy_buf_free(&b);
    }
    json_decref(t);
    return EXIT_OK;
}

static int run_foreground(const char *session_dir, const char *dir, const char *id, int quiet, int as_json)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    out_ctx oc = {quiet};
    ablate_hooks h = {should_stop, on_line, on_run, &oc};
    if (!quiet) printf("ablation %s (%s)\n", id, dir);
    fflush(stdout);
    sy_err err = {0};
    int rc = ablate_run(session_dir, dir, &h, &err);
    if (rc < 0 && err.code == SY_ECANCEL) {
        fprintf(stderr, "syneg: %s; continue with 'syneg ablate %s --resume %s'\n", err.msg, session_dir, id);
        return EXIT_ERR;
    }
    if (rc < 0) return cli_fail(&err);
    return show(session_dir, dir, as_json);
}

static int run_detached(const char *session_dir, const char *dir, const char *id)
{
    pid_t pid = cli_fork_detached(dir);
    if (pid < 0) return cli_error("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int rc = run_foreground(session_dir, dir, id, 0, 0);
        fflush(stdout);
        _exit(rc);
    }
    printf("%s\n", id);
    fprintf(stderr, "ablation %s started in the background (pid %ld); follow it with 'syneg ablate %s --follow %s'\n",
            id, (long)pid, session_dir, id);
    return EXIT_OK;
}

static int follow(const char *session_dir, const char *dir, int as_json)
{
    char last[600] = "";
    for (;;) {
        run_status st;
        if (runs_read_status(dir, &st, NULL) < 0) return cli_error("%s: no status.json", dir);
        if (strcmp(st.message, last)) {
            printf("%s %ld/%ld runs: %s\n", st.state, st.step, st.total, st.message);
            fflush(stdout);
            snprintf(last, sizeof last, "%s", st.message);
        }
        if (runs_state_final(st.state)) {
            show(session_dir, dir, as_json);
            return strcmp(st.state, "done") ? EXIT_ERR : EXIT_OK;
        }
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int parse_seeds(const char *s, ablate_opts *o)
{
    o->nseeds = 0;
    for (const char *p = s; *p;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || (*end && *end != ',') || o->nseeds == ABLATE_MAX_SEEDS) return -1;
        o->seeds[o->nseeds++] = (uint64_t)v;
        p = *end ? end + 1 : end;
    }
    return o->nseeds ? 0 : -1;
}

int cmd_ablate(int argc, char **argv)
{
    enum { O_INIT = 1000, O_SCRATCH, O_MAXSTEPS, O_EPOCHS, O_BATCH, O_GROUP, O_LR, O_TEMP, O_MAXLEN, O_QMAXLEN, O_VOCAB,
           O_EVALEVERY, O_EVALQ, O_EVALD, O_THREADS, O_LAST_TRAIN,
           O_SEEDS, O_MIX, O_ARMS, O_OFFLINE, O_DETACH, O_RESUME, O_FOLLOW, O_SHOW, O_JSON, O_QUIET, O_HELP };
    static const struct option opts[] = {
        {"init", required_argument, 0, O_INIT},           {"scratch", required_argument, 0, O_SCRATCH},
        {"max-steps", required_argument, 0, O_MAXSTEPS},  {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH},         {"group", required_argument, 0, O_GROUP},
        {"lr", required_argument, 0, O_LR},               {"temp", required_argument, 0, O_TEMP},
        {"max-len", required_argument, 0, O_MAXLEN},      {"query-max-len", required_argument, 0, O_QMAXLEN},
        {"vocab-size", required_argument, 0, O_VOCAB},    {"eval-every", required_argument, 0, O_EVALEVERY},
        {"eval-queries", required_argument, 0, O_EVALQ},  {"eval-docs", required_argument, 0, O_EVALD},
        {"threads", required_argument, 0, O_THREADS},     {"seeds", required_argument, 0, O_SEEDS},
        {"mix", required_argument, 0, O_MIX},             {"arms", required_argument, 0, O_ARMS},
        {"include-offline", no_argument, 0, O_OFFLINE},
        {"detach", no_argument, 0, O_DETACH},             {"resume", required_argument, 0, O_RESUME},
        {"follow", required_argument, 0, O_FOLLOW},       {"show", required_argument, 0, O_SHOW},
        {"json", no_argument, 0, O_JSON},                 {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, O_HELP},                 {0, 0, 0, 0},
    };
    static const char *const names[] = {
        "train.init", "train.scratch", "train.max_steps", "train.epochs", "train.batch", "train.group", "train.lr",
        "train.temp", "train.max_len", "train.query_max_len", "train.vocab_size", "train.eval_every",
        "train.eval_queries", "train.eval_docs", "train.threads",
    };
    ablate_opts ao;
    memset(&ao, 0, sizeof ao);
    ao.seeds[0] = 1, ao.seeds[1] = 2, ao.seeds[2] = 3, ao.nseeds = 3;
    ao.mix = -1;
    const char *resume = NULL, *fol = NULL, *shw = NULL;
    int detach = 0, as_json = 0, quiet = 0, ntrain = 0, c, rc = 0;
    json_t *flags = json_object();
    optind = 1;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        sy_err e = {0};
        if (c >= O_INIT && c < O_LAST_TRAIN) {
            json_t *v = settings_parse(names[c - O_INIT], optarg, &e);
            if (!v) rc = cli_usage("ablate", "%s: %s", argv[optind - 1], e.msg);
            else json_object_set_new(flags, names[c - O_INIT], v);
            if (c == O_INIT) json_object_del(flags, "train.scratch");
            if (c == O_SCRATCH) json_object_del(flags, "train.init");
            ntrain++;
            continue;
        }
        switch (c) {
        case O_SEEDS: if (parse_seeds(optarg, &ao) < 0) rc = cli_usage("ablate", "--seeds %s: expected N,N,... (at most %d)", optarg, ABLATE_MAX_SEEDS); ntrain++; break;
        case O_MIX: {
            double a, b;
            if (mix_parse_ratio(optarg, &a, &b) < 0 || a != b) rc = cli_usage("ablate", "--mix %s: expected one fraction in 0..1", optarg);
            ao.mix = a;
            ntrain++;
            break;
        }
        case O_ARMS: {
            int bits = ablate_parse_arms(optarg);
            if (bits < 0) rc = cli_usage("ablate", "--arms %s: use inbatch,retrieved,synthetic,hybrid", optarg);
            ao.arms = (unsigned)bits;
            ntrain++;
            break;
        }
        case O_OFFLINE: json_object_set_new(flags, "train.include_offline", json_true()); ntrain++; break;
        case O_DETACH: detach = 1; break;
        case O_RESUME: resume = optarg; break;
        case O_FOLLOW: fol = optarg; break;
        case O_SHOW: shw = optarg; break;
        case O_JSON: as_json = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_HELP: json_decref(flags); fputs(cmd_ablate_help, stdout); return EXIT_OK;
        default: rc = cli_usage("ablate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (rc) { json_decref(flags); return rc; }
    if (optind != argc - 1) { json_decref(flags); return cli_usage("ablate", "expected exactly one SESSION folder"); }
    const char *session_dir = argv[optind];
    if (!sy_is_dir(session_dir)) { json_decref(flags); return cli_error("%s: no such session folder", session_dir); }
    const char *existing = resume ? resume : fol ? fol : shw;
    if ((resume != NULL) + (fol != NULL) + (shw != NULL) > 1) { json_decref(flags); return cli_usage("ablate", "give one of --resume, --follow, --show"); }
    sy_err err = {0};
    if (existing) {
        json_decref(flags);
        if (ntrain) return cli_usage("ablate", "--resume/--follow/--show take no training options: the plan keeps them");
        char *dir = ablate_find(session_dir, existing, &err);
        if (!dir) return cli_fail(&err);
        if (fol) rc = follow(session_dir, dir, as_json);
        else if (shw) rc = show(session_dir, dir, as_json);
        else {
            run_status st;
            if (runs_read_status(dir, &st, NULL) == 0 && !strcmp(st.state, "running"))
                rc = cli_error("ablation %s is still running (pid %ld)", existing, st.pid);
            else rc = detach ? run_detached(session_dir, dir, existing) : run_foreground(session_dir, dir, existing, quiet, as_json);
        }
        free(dir);
        return rc;
    }
    /* the plan: the table's defaults, the session's train.* settings, then the flags */
    session *s = session_open(session_dir, SESSION_READ, &err);
    int bad = !s || train_opts_from_settings(&ao.base, s, flags, &err) < 0;
    if (!bad && ao.mix < 0) ao.mix = ao.base.mix_start;
    cli_session_close(s);
    json_decref(flags);
    if (bad) return err.code == SY_EINVAL ? cli_usage("ablate", "%s", err.msg) : cli_fail(&err);
    if (!ao.base.init[0] && !ao.base.scratch[0]) return cli_usage("ablate", "give --init MODEL_DIR or --scratch tiny|mini");
    train_opts_finish(&ao.base);
    if (ao.base.group < 2) ao.base.group = 8;   /* the hard-negative arms need a group; inbatch uses 1 */
    char *id = NULL;
    char *dir = ablate_create(session_dir, &ao, &id, &err);
    if (!dir) return err.code == SY_EINVAL ? cli_usage("ablate", "%s", err.msg) : cli_fail(&err);
    rc = detach ? run_detached(session_dir, dir, id) : run_foreground(session_dir, dir, id, quiet, as_json);
    free(dir);
    free(id);
    return rc;
}
