/* launch_slurm: the Slurm pipeline script.  See launch_slurm.h. */
#include "launch_slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* VAR=${VAR:-'value'}: the environment overrides; one shell word. */
static void setting(sy_buf *b, const char *var, const char *val)
{
    sy_buf_printf(b, "%s=${%s:-", var, var);
    sy_shell_quote(b, val ? val : "");
    sy_buf_puts(b, "}\n");
}

static void setting_u(sy_buf *b, const char *var, unsigned v)
{
    char t[16];
    snprintf(t, sizeof t, "%u", v);
    setting(b, var, t);
}

int launch_slurm_script(const launch_slurm_opts *o, const char *data_path, sy_buf *b)
{
    const char *base = strrchr(data_path, '/');
    base = base ? base + 1 : data_path;
    sy_buf_puts(b,
        "#!/usr/bin/env bash\n"
        "# Written by `syneg export --launch slurm`.  On a login node run it with no\n"
        "# argument: it submits itself as four dependent Slurm jobs --\n"
        "#   index  (1 task)        syneg index SESSION\n"
        "#   mine   (SHARDS tasks)  syneg mine SESSION --shard I/SHARDS: each task one slice of\n"
        "#                          the queries, writing its own segment into SESSION/negatives/\n"
        "#   export (1 task)        the export that wrote the data, again, on the merged pool\n"
        "#   train  (NODES x GPUS)  the torchrun script beside this one, under srun\n"
        "# Any variable below can be overridden from the environment, e.g.\n"
        "#   SHARDS=64 PARTITION=gpu SBATCH_EXTRA='--account=me' ./this.sh\n"
        "# SESSION must be on a file system every node sees.\n"
        "set -euo pipefail\n"
        "HERE=\"$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\"\n"
        "SELF=\"$HERE/$(basename \"${BASH_SOURCE[0]}\")\"\n");
    setting(b, "SYNEG", o->syneg);
    setting(b, "SESSION", o->session);
    setting(b, "WORKDIR", o->workdir);
    setting_u(b, "SHARDS", o->shards ? o->shards : 1);
    setting(b, "RETRIEVER", o->retriever ? o->retriever : "bm25");
    setting(b, "MODEL_DIR", o->model ? o->model : "");
    setting_u(b, "NUM", o->num ? o->num : 8);
    setting_u(b, "GPUS", o->gpus ? o->gpus : 1);
    setting_u(b, "NODES", o->nodes ? o->nodes : 1);
    setting(b, "PARTITION", "");
    setting(b, "GPU_PARTITION", "");
    setting(b, "CPUS_PER_TASK", "4");
    setting(b, "MEM", "16G");
    setting(b, "TIME", "04:00:00");
    setting(b, "SBATCH_EXTRA", "");
    sy_buf_puts(b, "LAUNCH=\"$HERE\"/");
    sy_buf_puts(b, "${LAUNCH_SCRIPT:-");
    {
        sy_buf t = {0};
        sy_buf_printf(&t, "%s.launch.sh", base);
        sy_shell_quote(b, t.data ? t.data : "");
        sy_buf_free(&t);
    }
    sy_buf_puts(b, "}\n");
    sy_buf_puts(b, "EXPORT=(");
    for (size_t i = 0; i < o->export_argc; i++) {
        if (i) sy_buf_puts(b, " ");
        sy_shell_quote(b, o->export_argv[i]);
    }
    sy_buf_puts(b, ")\n");
    sy_buf_puts(b,
        "MODEL_ARGS=()\n"
        "[ -n \"$MODEL_DIR\" ] && MODEL_ARGS=(--model \"$MODEL_DIR\")\n"
        "SB=(sbatch --parsable --cpus-per-task \"$CPUS_PER_TASK\" --mem \"$MEM\" --time \"$TIME\")\n"
        "[ -n \"$PARTITION\" ] && SB+=(--partition \"$PARTITION\")\n"
        "# shellcheck disable=SC2206\n"
        "SB+=($SBATCH_EXTRA)\n"
        "# NUM: negatives mined per query (default: the export's --num)\n"
        "case \"${1:-submit}\" in\n"
        "submit)\n"
        "    ix=$(\"${SB[@]}\" --job-name syneg-index \"$SELF\" index)\n"
        "    mine=$(\"${SB[@]}\" --job-name syneg-mine --dependency \"afterok:$ix\" --array \"0-$((SHARDS - 1))\" \"$SELF\" mine)\n"
        "    ex=$(\"${SB[@]}\" --job-name syneg-export --dependency \"afterok:$mine\" \"$SELF\" export)\n"
        "    GP=()\n"
        "    [ -n \"$GPU_PARTITION\" ] && GP=(--partition \"$GPU_PARTITION\")\n"
        "    tr=$(\"${SB[@]}\" \"${GP[@]}\" --job-name syneg-train --dependency \"afterok:$ex\" --nodes \"$NODES\" \\\n"
        "        --ntasks-per-node 1 --gres \"gpu:$GPUS\" \"$SELF\" train)\n"
        "    echo \"submitted: index $ix, mine $mine (array of $SHARDS), export $ex, train $tr\"\n"
        "    ;;\n"
        "index) exec \"$SYNEG\" index \"$SESSION\" ;;\n"
        "mine)\n"
        "    exec \"$SYNEG\" mine \"$SESSION\" --retriever \"$RETRIEVER\" \"${MODEL_ARGS[@]}\" --num \"$NUM\" \\\n"
        "        --shard \"${SLURM_ARRAY_TASK_ID:?run the mine step as a Slurm array task}/$SHARDS\" ${MINE_ARGS:-}\n"
        "    ;;\n"
        "export) cd \"$WORKDIR\" && exec \"$SYNEG\" \"${EXPORT[@]}\" ;;\n"
        "train)\n"
        "    MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
        "    export MASTER_ADDR GPUS NODES\n"
        "    exec srun --ntasks-per-node 1 bash -c 'NODE_RANK=$SLURM_NODEID exec \"$0\"' \"$LAUNCH\"\n"
        "    ;;\n"
        "*) echo \"usage: $0 [submit|index|mine|export|train]\" >&2; exit 2 ;;\n"
        "esac\n");
    return b->data ? 0 : -1;
}

int launch_slurm_write(const launch_slurm_opts *o, const char *data_path, char **script_path, sy_err *err)
{
    if (script_path) *script_path = NULL;
    const char *names[] = {o->syneg, o->session, o->workdir, o->model, data_path};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (sy_find_control(names[i]))
            return sy_fail(err, SY_EINVAL, "launch: '%s' holds a control character; rename it first", names[i]);
    for (size_t i = 0; i < o->export_argc; i++)
        if (sy_find_control(o->export_argv[i]))
            return sy_fail(err, SY_EINVAL, "launch: an export argument holds a control character");
    sy_buf b = {0};
    char *sp = sy_strdup_printf("%s.slurm.sh", data_path);
    if (!sp || launch_slurm_script(o, data_path, &b)) {
        free(sp);
        sy_buf_free(&b);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    int rc = sy_write_file_atomic(sp, b.data, b.len, err);
    sy_buf_free(&b);
    if (rc == 0 && chmod(sp, 0755)) rc = sy_fail_errno(err, errno, "%s: chmod failed", sp);
    if (rc) {
        free(sp);
        return -1;
    }
    if (script_path) *script_path = sp;
    else free(sp);
    return 0;
}
