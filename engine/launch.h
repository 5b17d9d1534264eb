/* launch: writes, beside exported training data, a launch script for an
 * existing multi-GPU / multi-node trainer, with hyper-parameters from the
 * session's train.* settings (train.init or train.scratch, train.epochs,
 * train.batch, train.lr, train.temp, train.query_max_len, train.max_len,
 * train.warmup, train.seed).
 *
 *   LAUNCH_FLAG  DATA.launch.sh runs `torchrun -m
 *                FlagEmbedding.finetune.embedder.encoder_only.base` on flag data.
 *   LAUNCH_ST    DATA.launch.sh runs `torchrun train_st.py` on st data, and
 *                train_st.py (a small sentence-transformers trainer with
 *                MultipleNegativesRankingLoss, DDP, no `datasets` package) is
 *                written in the same folder.
 * Every value in the script is a "${VAR:-default}" the environment overrides
 * (GPUS, NODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, MODEL, OUTPUT_DIR, EPOCHS,
 * BATCH, LR, TEMP, QUERY_MAX_LEN, PASSAGE_MAX_LEN, WARMUP, SEED, GROUP,
 * MAX_STEPS, EXTRA_ARGS).  The script finds its data relative to itself, so
 * the folder can be copied to a cluster as is.  Files are written atomically.
 * Errors through sy_err; no state. */
#ifndef SY_LAUNCH_H
#define SY_LAUNCH_H

#include "err.h"
#include "session.h"
#include "util.h"

typedef enum { LAUNCH_FLAG = 0, LAUNCH_ST = 1 } launch_trainer;

#define LAUNCH_DEFAULT_MODEL "BAAI/bge-small-en-v1.5"

typedef struct {
    int trainer;               /* launch_trainer */
    const char *launcher;      /* "torchrun" (NULL = torchrun) */
    unsigned gpus, nodes;      /* per node; >= 1 */
    unsigned num;              /* negatives per instance in the data (group = num + 1) */
    int scores;                /* flag data carries scores: knowledge distillation */
    int schedule;              /* the data follows a --mix schedule: keep file order (st) */
    const char *prompt;        /* flag: query instruction; NULL none */
    const char *session_name;  /* for the script's header comment */
} launch_opts;

typedef struct {
    char model[1040];      /* train.init (1024) or "scratch:SIZE" */
    unsigned epochs, batch, query_max_len, max_len, seed;
    double lr, temp, warmup;
} launch_params;

const char *launch_trainer_name(int t);   /* "flag" | "st" */
int launch_trainer_parse(const char *s);  /* -1 when unknown */
/* Read the train.* settings exactly as `syneg train` does
 * (train_opts_from_settings: the settings table's defaults, then the
 * session); the model is train.init, else scratch:SIZE, else
 * LAUNCH_DEFAULT_MODEL; lr unset: train_default_lr.  A bad stored value fails. */
int launch_params_from_session(session *s, launch_params *p, sy_err *err);
/* The script text for data_path, appended to out. */
int launch_script(const launch_opts *o, const launch_params *p, const char *data_path, sy_buf *out);
/* Write DATA.launch.sh (mode 755) and, for LAUNCH_ST, train_st.py beside it.
 * *script_path (optional) receives the malloc'd script path. */
int launch_write(session *s, const launch_opts *o, const char *data_path, char **script_path, sy_err *err);

#endif
