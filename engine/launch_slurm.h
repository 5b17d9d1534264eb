/* launch_slurm: a Slurm script that runs a session's pipeline past one
 * machine, written beside exported training data as DATA.slurm.sh.
 *
 * Run on a login node, the script submits itself four times, each step
 * depending on the one before (afterok):
 *   index   one task: `syneg index SESSION` (the BM25 index the shards share)
 *   mine    an array of SHARDS tasks: `syneg mine SESSION --retriever R
 *           --shard $SLURM_ARRAY_TASK_ID/SHARDS MINE_ARGS`; each writes its own
 *           segment into SESSION/negatives/, merged by every later open
 *   export  one task: the `syneg export` command that wrote DATA, run again
 *           on the merged pool (its words kept exactly, from the same folder)
 *   train   NODES x GPUS: DATA.launch.sh (the torchrun script) under srun,
 *           one task per node with NODE_RANK and MASTER_ADDR from Slurm
 * Every value is a VAR=${VAR:-'value'} the environment overrides, quoted with
 * sy_shell_quote (one shell word whatever it holds).  The session must sit on
 * a file system every node sees.  Written atomically, mode 755. */
#ifndef SY_LAUNCH_SLURM_H
#define SY_LAUNCH_SLURM_H

#include "err.h"
#include "util.h"

typedef struct {
    const char *syneg;          /* absolute path of the syneg binary */
    const char *session;        /* absolute session folder */
    const char *workdir;        /* folder the export command ran in */
    const char *const *export_argv; /* the export command's words after "syneg" */
    size_t export_argc;
    const char *retriever;      /* "bm25" (default) or "dense" */
    const char *model;          /* model folder for dense; NULL otherwise */
    unsigned shards;            /* >= 1 */
    unsigned gpus, nodes;       /* of the training step */
    unsigned num;               /* negatives to mine per query (--num of mine) */
} launch_slurm_opts;

/* The script text, appended to out.  0 / -1 (ENOMEM). */
int launch_slurm_script(const launch_slurm_opts *o, const char *data_path, sy_buf *out);
/* Write DATA.slurm.sh; *script_path (optional) receives its malloc'd path. */
int launch_slurm_write(const launch_slurm_opts *o, const char *data_path, char **script_path, sy_err *err);

#endif
