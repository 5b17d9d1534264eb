#!/usr/bin/env python3
"""GPU check of syneg's exports (run on the GPU machine; see README "Export").

    python3 tests/ref/check_export.py DIR [--steps 5]

DIR holds what `syneg export` wrote: train.flag.jsonl, train.st.jsonl,
train.tevatron.jsonl (each with its .report.json) and the launch scripts
train.st.jsonl.launch.sh (+ train_st.py) and train.flag.jsonl.launch.sh.
For each format it parses every row strictly (the fields each trainer reads),
checks the line count against the report, turns rows into (query, positive,
negatives) and runs a few steps of sentence-transformers'
MultipleNegativesRankingLoss on a random-initialised tiny BERT (2 layers, 128
hidden, vocabulary built from the data), fed directly from the parsed rows (no
`datasets` package).  Then it runs the generated torchrun scripts with one GPU
for a few steps, as far as the installed packages allow (FlagEmbedding is not
installed there: that failure is reported, not hidden).  Prints one JSON line
per result; exit status 1 if a format fails to parse or train."""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def fail(msg):
    print(json.dumps({"error": msg}), flush=True)
    sys.exit(1)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield n, json.loads(line)


def rows_flag(path):
    out = []
    for n, r in read_jsonl(path):
        assert isinstance(r["query"], str) and r["query"], f"{path}:{n}: query"
        assert isinstance(r["pos"], list) and r["pos"] and all(isinstance(x, str) for x in r["pos"]), f"{path}:{n}: pos"
        assert isinstance(r["neg"], list) and r["neg"] and all(isinstance(x, str) for x in r["neg"]), f"{path}:{n}: neg"
        if "pos_scores" in r:
            assert len(r["pos_scores"]) == len(r["pos"]) and len(r["neg_scores"]) == len(r["neg"]), f"{path}:{n}: scores"
        if "prompt" in r:
            assert isinstance(r["prompt"], str), f"{path}:{n}: prompt"
        out.append((r.get("prompt", "") + r["query"], r["pos"][0], r["neg"]))
    return out


def rows_st(path):
    out = []
    for n, r in read_jsonl(path):
        negs = sorted((k for k in r if k.startswith("negative_")), key=lambda k: int(k[9:]))
        assert negs == [f"negative_{i + 1}" for i in range(len(negs))] and negs, f"{path}:{n}: negative_i columns"
        assert set(r) == {"anchor", "positive", *negs}, f"{path}:{n}: columns {sorted(r)}"
        out.append((r["anchor"], r["positive"], [r[k] for k in negs]))
    return out


def rows_tevatron(path):
    out = []
    for n, r in read_jsonl(path):
        assert isinstance(r["query_id"], str) and isinstance(r["query"], str), f"{path}:{n}: query"
        for key in ("positive_passages", "negative_passages"):
            assert r[key] and all(set(p) == {"docid", "title", "text"} for p in r[key]), f"{path}:{n}: {key}"

        def text(p):
            return (p["title"] + " " + p["text"]) if p["title"] else p["text"]
        out.append((r["query"], text(r["positive_passages"][0]), [text(p) for p in r["negative_passages"]]))
    return out


def tiny_model(rows, work, max_len=128):
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast
    cnt = collections.Counter()
    for q, p, negs in rows:
        for t in (q, p, *negs):
            cnt.update(re.findall(r"\w+|[^\w\s]", t.lower()))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(w for w, _ in cnt.most_common(8000))
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=os.path.join(work, "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=512, max_position_embeddings=512)
    BertModel(cfg).save_pretrained(work)
    tok.save_pretrained(work)
    try:
        word = models.Transformer(work, max_seq_length=max_len)
        return SentenceTransformer(modules=[word, models.Pooling(cfg.hidden_size, "mean")])
    except Exception:  # API moved: a plain HF folder loads with mean pooling
        m = SentenceTransformer(work)
        m.max_seq_length = max_len
        return m


def train_steps(rows, steps, batch, work):
    import torch
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    torch.manual_seed(0)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = tiny_model(rows, work).to(dev)
    loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    nneg = min(len(r[2]) for r in rows)
    losses = []
    t0 = time.time()
    for s in range(steps):
        b = [rows[(s * batch + i) % len(rows)] for i in range(batch)]
        cols = [[r[0] for r in b], [r[1] for r in b]] + [[r[2][j] for r in b] for j in range(nneg)]
        feats = [{k: (v.to(dev) if hasattr(v, "to") else v) for k, v in model.tokenize(c).items()} for c in cols]
        loss = loss_fn(feats, None)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(round(loss.item(), 4))
    return {"device": dev, "rows": len(rows), "negatives_per_row": nneg, "batch": batch, "steps": steps,
            "losses": losses, "seconds": round(time.time() - t0, 2),
            "finite": all(x == x and abs(x) < 1e9 for x in losses)}


def run_script(script, env_extra, timeout):
    env = dict(os.environ, **env_extra)
    t0 = time.time()
    try:
        p = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=timeout)
        rc, out = p.returncode, (p.stdout + p.stderr)
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", str(e.stdout or "") + str(e.stderr or "")
    lines = [l for l in out.splitlines() if l.strip()]
    steps = [l for l in lines if l.startswith("{")]          # train_st.py's JSON log lines
    errors = [l for l in lines if "Error" in l or "error:" in l][:4]
    return {"script": os.path.basename(script), "rc": rc, "seconds": round(time.time() - t0, 1),
            "log": steps[-6:], "errors": errors, "tail": lines[-3:]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    import torch
    import sentence_transformers
    import transformers
    print(json.dumps({"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                      "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                      "sentence_transformers": sentence_transformers.__version__,
                      "transformers": transformers.__version__}), flush=True)
    bad = 0
    work = tempfile.mkdtemp(prefix="syneg-check-")
    for fmt, reader in (("flag", rows_flag), ("st", rows_st), ("tevatron", rows_tevatron)):
        path = os.path.join(args.dir, f"train.{fmt}.jsonl")
        try:
            rows = reader(path)
            rep = json.load(open(path + ".report.json"))
            assert rep["lines"] == len(rows), f"report says {rep['lines']} lines, file has {len(rows)}"
            res = train_steps(rows, args.steps, args.batch, os.path.join(work, fmt))
            res["format"] = fmt
            res["report_instances"] = rep["instances"]
            print(json.dumps(res), flush=True)
            bad += not res["finite"]
        except Exception as e:  # noqa: BLE001 - report and go on to the next format
            bad += 1
            print(json.dumps({"format": fmt, "error": f"{type(e).__name__}: {e}"}), flush=True)
    out = os.path.join(work, "out")
    st = os.path.join(args.dir, "train.st.jsonl.launch.sh")
    if os.path.exists(st):
        r = run_script(st, {"GPUS": "1", "NODES": "1", "MAX_STEPS": str(args.steps), "BATCH": str(args.batch),
                            "MODEL": "scratch:tiny", "OUTPUT_DIR": out + "-st", "LR": "1e-3"}, 300)
        r["saved_model"] = os.path.exists(os.path.join(out + "-st", "modules.json"))
        print(json.dumps(r), flush=True)
        bad += r["rc"] != 0
    fl = os.path.join(args.dir, "train.flag.jsonl.launch.sh")
    if os.path.exists(fl):
        r = run_script(fl, {"GPUS": "1", "NODES": "1", "MAX_STEPS": str(args.steps), "BATCH": "2",
                            "MODEL": os.path.join(work, "flag"), "OUTPUT_DIR": out + "-flag"}, 300)
        print(json.dumps(r), flush=True)   # FlagEmbedding may be missing: reported, not counted
    print(json.dumps({"failed": bad}), flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
