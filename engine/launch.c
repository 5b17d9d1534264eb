/* launch: writes, beside exported data, a script that runs an existing
 * distributed trainer on it (see launch.h). */
#include "launch.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "train.h"
#include "util.h"

/* The sentence-transformers trainer written next to st data (train_st.py). */
static const char st_script[] =
    "#!/usr/bin/env python3\n"
    "\"\"\"Fine-tune a sentence-transformers model with MultipleNegativesRankingLoss on a\n"
    "`syneg export --format st` file (JSONL columns anchor, positive, negative_1..N).\n"
    "\n"
    "Written by syneg beside the exported data.  Runs under torchrun (one process per\n"
    "GPU, DistributedDataParallel, rows sharded by rank) or as plain python (one\n"
    "device).  Needs torch, transformers and sentence-transformers; not the\n"
    "`datasets` package: rows are parsed and batched here.  --model scratch:tiny\n"
    "builds a random 2-layer BERT with a vocabulary taken from the data.\"\"\"\n"
    "import argparse\n"
    "import collections\n"
    "import json\n"
    "import math\n"
    "import os\n"
    "import random\n"
    "import re\n"
    "import time\n"
    "\n"
    "import torch\n"
    "\n"
    "\n"
    "def parse_args():\n"
    "    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])\n"
    "    ap.add_argument(\"--data\", required=True, help=\"syneg st JSONL\")\n"
    "    ap.add_argument(\"--model\", default=\"scratch:tiny\", help=\"HF / sentence-transformers model, or scratch:tiny\")\n"
    "    ap.add_argument(\"--output\", required=True, help=\"folder for the trained model\")\n"
    "    ap.add_argument(\"--epochs\", type=int, default=1)\n"
    "    ap.add_argument(\"--batch\", type=int, default=32, help=\"instances per device and step\")\n"
    "    ap.add_argument(\"--lr\", type=float, default=2e-5)\n"
    "    ap.add_argument(\"--temp\", type=float, default=0.02, help=\"softmax temperature (scale = 1/temp)\")\n"
    "    ap.add_argument(\"--max-len\", type=int, default=256)\n"
    "    ap.add_argument(\"--warmup\", type=float, default=0.1, help=\"warm-up fraction of the steps\")\n"
    "    ap.add_argument(\"--seed\", type=int, default=42)\n"
    "    ap.add_argument(\"--max-steps\", type=int, default=-1, help=\"stop after this many steps (-1: all)\")\n"
    "    ap.add_argument(\"--no-shuffle\", action=\"store_true\", help=\"keep file order (for a --mix schedule)\")\n"
    "    return ap.parse_args()\n"
    "\n"
    "\n"
    "def load_rows(path):\n"
    "    rows = []\n"
    "    with open(path, encoding=\"utf-8\") as f:\n"
    "        for n, line in enumerate(f, 1):\n"
    "            line = line.strip()\n"
    "            if not line:\n"
    "                continue\n"
    "            try:\n"
    "                r = json.loads(line)\n"
    "                keys = sorted((k for k in r if k.startswith(\"negative_\")), key=lambda k: int(k[9:]))\n"
    "                rows.append((r[\"anchor\"], r[\"positive\"], [r[k] for k in keys]))\n"
    "            except (ValueError, KeyError) as e:\n"
    "                raise SystemExit(f\"{path}:{n}: not a syneg st row ({e}); export with --format st\")\n"
    "    if not rows:\n"
    "        raise SystemExit(f\"{path}: no rows\")\n"
    "    return rows\n"
    "\n"
    "\n"
    "def scratch_model(rows, max_len, work):\n"
    "    from sentence_transformers import SentenceTransformer, models\n"
    "    from transformers import BertConfig, BertModel, BertTokenizerFast\n"
    "    cnt = collections.Counter()\n"
    "    for a, p, negs in rows:\n"
    "        for t in (a, p, *negs):\n"
    "            cnt.update(re.findall(r\"\\w+|[^\\w\\s]\", t.lower()))\n"
    "    vocab = [\"[PAD]\", \"[UNK]\", \"[CLS]\", \"[SEP]\", \"[MASK]\"] + sorted(w for w, _ in cnt.most_common(8000))\n"
    "    os.makedirs(work, exist_ok=True)\n"
    "    with open(os.path.join(work, \"vocab.txt\"), \"w\", encoding=\"utf-8\") as f:\n"
    "        f.write(\"\\n\".join(vocab) + \"\\n\")\n"
    "    tok = BertTokenizerFast(vocab_file=os.path.join(work, \"vocab.txt\"), do_lower_case=True)\n"
    "    cfg = BertConfig(vocab_size=len(vocab), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,\n"
    "                     intermediate_size=512, max_position_embeddings=max(512, max_len))\n"
    "    BertModel(cfg).save_pretrained(work)\n"
    "    tok.save_pretrained(work)\n"
    "    try:\n"
    "        word = models.Transformer(work, max_seq_length=max_len)\n"
    "        return SentenceTransformer(modules=[word, models.Pooling(cfg.hidden_size, \"mean\")])\n"
    "    except Exception:  # API moved: a plain HF folder loads with mean pooling\n"
    "        m = SentenceTransformer(work)\n"
    "        m.max_seq_length = max_len\n"
    "        return m\n"
    "\n"
    "\n"
    "def main():\n"
    "    args = parse_args()\n"
    "    rank, world = int(os.environ.get(\"RANK\", 0)), int(os.environ.get(\"WORLD_SIZE\", 1))\n"
    "    local = int(os.environ.get(\"LOCAL_RANK\", 0))\n"
    "    if world > 1:\n"
    "        torch.distributed.init_process_group(\"nccl\" if torch.cuda.is_available() else \"gloo\")\n"
    "    device = torch.device(f\"cuda:{local}\" if torch.cuda.is_available() else \"cpu\")\n"
    "    if device.type == \"cuda\":\n"
    "        torch.cuda.set_device(device)\n"
    "    random.seed(args.seed)\n"
    "    torch.manual_seed(args.seed)\n"
    "    from sentence_transformers import SentenceTransformer\n"
    "    from sentence_transformers.losses import MultipleNegativesRankingLoss\n"
    "\n"
    "    rows = load_rows(args.data)\n"
    "    if args.model.startswith(\"scratch:\"):\n"
    "        model = scratch_model(rows, args.max_len, os.path.join(args.output, \"scratch-init\"))\n"
    "    else:\n"
    "        model = SentenceTransformer(args.model)\n"
    "        model.max_seq_length = args.max_len\n"
    "    model.to(device)\n"
    "    loss_fn = MultipleNegativesRankingLoss(model, scale=1.0 / args.temp)\n"
    "    step_fn = loss_fn\n"
    "    if world > 1:\n"
    "        step_fn = torch.nn.parallel.DistributedDataParallel(\n"
    "            loss_fn, device_ids=[local] if device.type == \"cuda\" else None)\n"
    "    shard = rows[rank::world]\n"
    "    per_epoch = max(1, len(shard) // args.batch)\n"
    "    total = per_epoch * args.epochs\n"
    "    if args.max_steps > 0:\n"
    "        total = min(total, args.max_steps)\n"
    "    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)\n"
    "    warm = int(total * args.warmup)\n"
    "    sched = torch.optim.lr_scheduler.LambdaLR(\n"
    "        opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (total - s) / max(1, total - warm)))\n"
    "\n"
    "    def feats(texts):\n"
    "        f = model.tokenize(texts)\n"
    "        return {k: (v.to(device) if hasattr(v, \"to\") else v) for k, v in f.items()}\n"
    "\n"
    "    model.train()\n"
    "    step, t0 = 0, time.time()\n"
    "    for epoch in range(args.epochs):\n"
    "        order = list(range(len(shard)))\n"
    "        if not args.no_shuffle:\n"
    "            random.Random(args.seed + epoch).shuffle(order)\n"
    "        for b in range(per_epoch):\n"
    "            if step >= total:\n"
    "                break\n"
    "            batch = [shard[i] for i in order[b * args.batch:(b + 1) * args.batch]]\n"
    "            cols = [[r[0] for r in batch], [r[1] for r in batch]]\n"
    "            for j in range(min(len(r[2]) for r in batch)):\n"
    "                cols.append([r[2][j] for r in batch])\n"
    "            loss = step_fn([feats(c) for c in cols], None)\n"
    "            loss.backward()\n"
    "            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
    "            opt.step()\n"
    "            sched.step()\n"
    "            opt.zero_grad(set_to_none=True)\n"
    "            step += 1\n"
    "            if rank == 0 and (step % 10 == 0 or step == 1 or step == total):\n"
    "                print(json.dumps({\"step\": step, \"epoch\": epoch, \"loss\": round(loss.item(), 5),\n"
    "                                  \"lr\": sched.get_last_lr()[0], \"seconds\": round(time.time() - t0, 2),\n"
    "                                  \"world\": world}), flush=True)\n"
    "    if rank == 0:\n"
    "        model.save(args.output)\n"
    "        print(json.dumps({\"done\": True, \"steps\": step, \"output\": args.output}), flush=True)\n"
    "    if world > 1:\n"
    "        torch.distributed.destroy_process_group()\n"
    "\n"
    "\n"
    "if __name__ == \"__main__\":\n"
    "    main()\n";

const char *launch_trainer_name(int t) { return t == LAUNCH_ST ? "st" : "flag"; }

int launch_trainer_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "flag") || !strcmp(s, "flagembedding")) return LAUNCH_FLAG;
    if (!strcmp(s, "st") || !strcmp(s, "sentence-transformers")) return LAUNCH_ST;
    return -1;
}

/* VAR=${VAR:-'value'}: the environment overrides it; the value is one shell
 * word whatever it holds (sy_shell_quote), so a name cannot run commands. */
static void setting(sy_buf *b, const char *var, const char *val)
{
    sy_buf_printf(b, "%s=${%s:-", var, var);
    sy_shell_quote(b, val);
    sy_buf_puts(b, "}\n");
}
static void setting_num(sy_buf *b, const char *var, double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.10g", v);
    setting(b, var, t);
}

int launch_params_from_session(session *s, launch_params *p, sy_err *err)
{
    memset(p, 0, sizeof *p);
    /* the same train.* values `syneg train` uses: the settings table's
     * defaults, then the session's settings (a bad stored value fails) */
    train_opts o;
    if (train_opts_from_settings(&o, s, NULL, err) < 0) return -1;
    if (o.init[0]) snprintf(p->model, sizeof p->model, "%s", o.init);
    else if (o.scratch[0]) snprintf(p->model, sizeof p->model, "scratch:%s", o.scratch);
    else snprintf(p->model, sizeof p->model, "%s", LAUNCH_DEFAULT_MODEL);
    p->epochs = (unsigned)o.epochs;
    p->batch = (unsigned)o.batch;
    p->lr = o.lr > 0 ? o.lr : train_default_lr(o.scratch);
    p->temp = o.temp;
    p->query_max_len = (unsigned)o.max_len_q;
    p->max_len = (unsigned)o.max_len_p;
    p->warmup = o.warmup;
    p->seed = (unsigned)o.seed;
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int launch_script(const launch_opts *o, const launch_params *p, const char *data_path, sy_buf *out)
{
    sy_buf *b = out;
    int st = o->trainer == LAUNCH_ST;
    unsigned gpus = o->gpus ? o->gpus : 1, nodes = o->nodes ? o->nodes : 1;
    sy_buf_puts(b, "#!/usr/bin/env bash\n");
    sy_buf_puts(b, "# Written by `syneg export --launch torchrun` for session ");
    sy_shell_quote(b, o->session_name ? o->session_name : "");   /* no newline: launch_write refuses them */
    sy_buf_puts(b, ".\n");
    if (st)
        sy_buf_puts(b,
            "# Fine-tunes with sentence-transformers' MultipleNegativesRankingLoss through\n"
            "# train_st.py (next to this script); needs torch, transformers, sentence-transformers.\n");
    else
        sy_buf_puts(b,
            "# Fine-tunes an embedder with FlagEmbedding (pip install -U \"FlagEmbedding[finetune]\").\n");
    sy_buf_puts(b,
        "# Hyper-parameters come from the session's train.* settings; any variable below\n"
        "# can be overridden from the environment (e.g. MAX_STEPS=20 GPUS=1 ./this.sh).\n"
        "# Several nodes: run this same script on each with NODE_RANK=0..NODES-1 and\n"
        "# MASTER_ADDR naming node 0 (or under your scheduler, which sets both).\n"
        "set -euo pipefail\n"
        "HERE=\"$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\"\n");
    sy_buf_puts(b, "DATA=${DATA:-\"$HERE\"/");
    sy_shell_quote(b, base_name(data_path));
    sy_buf_puts(b, "}\n");
    setting(b, "MODEL", p->model);
    sy_buf_printf(b, "OUTPUT_DIR=${OUTPUT_DIR:-\"$HERE\"/model-%s}\n", launch_trainer_name(o->trainer));
    setting_num(b, "GPUS", gpus);
    setting_num(b, "NODES", nodes);
    setting(b, "NODE_RANK", "0");
    setting(b, "MASTER_ADDR", "127.0.0.1");
    setting(b, "MASTER_PORT", "29500");
    setting_num(b, "EPOCHS", p->epochs);
    setting_num(b, "BATCH", p->batch);
    setting_num(b, "LR", p->lr);
    setting_num(b, "TEMP", p->temp);
    setting_num(b, "QUERY_MAX_LEN", p->query_max_len);
    setting_num(b, "PASSAGE_MAX_LEN", p->max_len);
    setting_num(b, "WARMUP", p->warmup);
    setting_num(b, "SEED", p->seed);
    setting_num(b, "GROUP", o->num + 1);
    setting(b, "MAX_STEPS", "-1");
    sy_buf_puts(b,
        "TORCHRUN=\"${TORCHRUN:-torchrun}\"\n"
        "command -v \"$TORCHRUN\" >/dev/null 2>&1 || TORCHRUN=\"python3 -m torch.distributed.run\"\n"
        "LAUNCH=($TORCHRUN --nnodes \"$NODES\" --nproc_per_node \"$GPUS\" --node_rank \"$NODE_RANK\"\n"
        "        --master_addr \"$MASTER_ADDR\" --master_port \"$MASTER_PORT\")\n");
    if (st) {
        sy_buf_printf(b, "SHUFFLE=${SHUFFLE:-%s}\n", o->schedule ? "--no-shuffle" : "");
        sy_buf_puts(b,
            "exec \"${LAUNCH[@]}\" \"$HERE/train_st.py\" --data \"$DATA\" --model \"$MODEL\" --output \"$OUTPUT_DIR\" \\\n"
            "    --epochs \"$EPOCHS\" --batch \"$BATCH\" --lr \"$LR\" --temp \"$TEMP\" --max-len \"$PASSAGE_MAX_LEN\" \\\n"
            "    --warmup \"$WARMUP\" --seed \"$SEED\" --max-steps \"$MAX_STEPS\" $SHUFFLE ${EXTRA_ARGS:-}\n");
    } else {
        setting(b, "QUERY_INSTRUCTION", o->prompt ? o->prompt : "");
        sy_buf_puts(b,
            "PRECISION=${PRECISION:---fp16}\n"
            "CROSS=()\n"
            "[ $((GPUS * NODES)) -gt 1 ] && CROSS=(--negatives_cross_device)\n"
            "exec \"${LAUNCH[@]}\" -m FlagEmbedding.finetune.embedder.encoder_only.base \\\n"
            "    --model_name_or_path \"$MODEL\" --train_data \"$DATA\" --train_group_size \"$GROUP\" \\\n"
            "    --query_max_len \"$QUERY_MAX_LEN\" --passage_max_len \"$PASSAGE_MAX_LEN\" --pad_to_multiple_of 8 \\\n"
            "    --query_instruction_for_retrieval \"$QUERY_INSTRUCTION\" --query_instruction_format '{}{}' \\\n");
        sy_buf_printf(b, "    --knowledge_distillation %s \\\n", o->scores ? "True" : "False");
        sy_buf_puts(b,
            "    --output_dir \"$OUTPUT_DIR\" --overwrite_output_dir --learning_rate \"$LR\" $PRECISION \\\n"
            "    --num_train_epochs \"$EPOCHS\" --max_steps \"$MAX_STEPS\" --per_device_train_batch_size \"$BATCH\" \\\n"
            "    --dataloader_drop_last True --warmup_ratio \"$WARMUP\" --logging_steps 10 --save_steps 1000 \\\n"
            "    --temperature \"$TEMP\" --sentence_pooling_method cls --normalize_embeddings True \\\n"
            "    --seed \"$SEED\" \"${CROSS[@]}\" ${EXTRA_ARGS:-}\n");
    }
    return b->data ? 0 : -1;
}

int launch_write(session *s, const launch_opts *o, const char *data_path, char **script_path, sy_err *err)
{
    if (script_path) *script_path = NULL;
    if (o->gpus < 1 || o->nodes < 1)
        return sy_fail(err, SY_EINVAL, "launch: --gpus and --nodes must be at least 1");
    if (o->launcher && strcmp(o->launcher, "torchrun"))
        return sy_fail(err, SY_EUNSUP, "launch: unknown launcher '%s'; only torchrun is supported", o->launcher);
    launch_params p;
    if (launch_params_from_session(s, &p, err) < 0) return -1;
    /* a newline in a name would end the comment line it is put in, and no
     * sane name holds a control character: refuse rather than rewrite */
    const char *names[][2] = {{"the session name", o->session_name}, {"the data file name", data_path},
                              {"the model name (train.init)", p.model}, {"the query instruction", o->prompt}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (sy_find_control(names[i][1]))
            return sy_fail(err, SY_EINVAL, "launch: %s holds a control character (byte 0x%02x); rename it first",
                           names[i][0], (unsigned char)*sy_find_control(names[i][1]));
    sy_buf b = {0};
    if (launch_script(o, &p, data_path, &b)) { sy_buf_free(&b); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    char *sp = sy_strdup_printf("%s.launch.sh", data_path);
    if (!sp) { sy_buf_free(&b); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    int rc = sy_write_file_atomic(sp, b.data, b.len, err);
    sy_buf_free(&b);
    if (rc == 0 && chmod(sp, 0755)) rc = sy_fail_errno(err, errno, "%s: chmod failed", sp);
    if (rc == 0 && o->trainer == LAUNCH_ST) {
        const char *slash = strrchr(data_path, '/');
        char *py = slash ? sy_strdup_printf("%.*s/train_st.py", (int)(slash - data_path), data_path)
                         : strdup("train_st.py");
        if (!py) rc = sy_fail(err, SY_ENOMEM, "out of memory");
        else {
            rc = sy_write_file_atomic(py, st_script, sizeof st_script - 1, err);
            if (rc == 0 && chmod(py, 0755)) rc = sy_fail_errno(err, errno, "%s: chmod failed", py);
            free(py);
        }
    }
    if (rc) { free(sp); return -1; }
    if (script_path) *script_path = sp;
    else free(sp);
    return 0;
}
