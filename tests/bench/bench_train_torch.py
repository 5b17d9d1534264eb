#!/usr/bin/env python3
"""PyTorch peer for bench_train: the same contrastive training step (plain
torch.nn BERT with eager attention, mean pooling, L2 normalisation, InfoNCE
over every passage of the batch with temperature 0.02, clip_grad_norm_ 1.0,
AdamW lr 2e-5 with weight decay 0.01 on matrices) over the model folder and
token ids bench_train wrote, on the given thread count, in fp32 and in bf16
autocast (forward under torch.autocast("cpu", dtype=torch.bfloat16), backward
and AdamW on the fp32 master weights: PyTorch's mixed-precision recipe; each
precision trains its own copy of the weights).

    bench_train_torch.py MODEL_DIR THREADS STEPS

Prints "RESULT seconds_per_step peak_rss_mib loss" (fp32, best of STEPS
after one warm-up step).  With STEPS 0 it prints READY, then runs one step per
"step fp32" / "step bf16" line read from stdin (printing "STEP seconds
loss"), and prints RESULT at end of input."""
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

d, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
cfg = json.load(open(d + "/config.json"))
raw = open(d + "/model.safetensors", "rb").read()
n = int.from_bytes(raw[:8], "little")
hdr = json.loads(raw[8:8 + n])
W0 = {}
for k, v in hdr.items():
    if k == "__metadata__":
        continue
    a, b = v["data_offsets"]
    W0[k] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32).reshape(v["shape"]).clone()
C, L, NH = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
eps = cfg["layer_norm_eps"]
hs = C // NH


def encode(W, ids):
    Bn, T = ids.shape
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T][None] \
        + W["embeddings.token_type_embeddings.weight"][0]
    x = F.layer_norm(x, (C,), W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    for l in range(L):
        p = "encoder.layer.%d." % l
        q = F.linear(x, W[p + "attention.self.query.weight"], W[p + "attention.self.query.bias"]).view(Bn, T, NH, hs).transpose(1, 2)
        k = F.linear(x, W[p + "attention.self.key.weight"], W[p + "attention.self.key.bias"]).view(Bn, T, NH, hs).transpose(1, 2)
        v = F.linear(x, W[p + "attention.self.value.weight"], W[p + "attention.self.value.bias"]).view(Bn, T, NH, hs).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hs), dim=-1)
        y = (a @ v).transpose(1, 2).reshape(Bn, T, C)
        y = F.linear(y, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"])
        x = F.layer_norm(x + y, (C,), W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        h = F.gelu(F.linear(x, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"]))
        h = F.linear(h, W[p + "output.dense.weight"], W[p + "output.dense.bias"])
        x = F.layer_norm(x + h, (C,), W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return F.normalize(x.mean(1), dim=-1)   # every sequence is full length: mean over all tokens


ids = json.load(open(d + "/ids.json"))
B, G, Tq, Tp = ids["B"], ids["G"], ids["Tq"], ids["Tp"]
qids = torch.tensor(ids["q"]).view(B, Tq)
pids = torch.tensor(ids["p"]).view(B * G, Tp)


class Trainer:
    def __init__(self, bf16):
        self.bf16 = bf16
        self.W = {k: v.clone().requires_grad_(True) for k, v in W0.items()}
        decay = [w for k, w in self.W.items() if "LayerNorm" not in k and not k.endswith(".bias")]
        nodecay = [w for k, w in self.W.items() if "LayerNorm" in k or k.endswith(".bias")]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                      {"params": nodecay, "weight_decay": 0.0}],
                                     lr=2e-5, betas=(0.9, 0.999), eps=1e-8)

    def step(self):
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            qe, pe = encode(self.W, qids), encode(self.W, pids)
        s = qe.float() @ pe.float().T / 0.02   # the scores in fp32, as syneg's InfoNCE
        l = F.cross_entropy(s, torch.arange(B) * G)
        l.backward()
        torch.nn.utils.clip_grad_norm_(list(self.W.values()), 1.0)
        self.opt.step()
        return time.perf_counter() - t0, l.item()


trainers = {"fp32": Trainer(False)}
best, loss = 1e30, 0.0
if steps > 0:
    for s in range(steps + 1):
        dt, loss = trainers["fp32"].step()
        if s > 0:
            best = min(best, dt)
else:
    # interleaved mode: one step per "step PREC" line on stdin, so bench_train
    # can alternate its own steps with ours and share the machine's noise
    trainers["bf16"] = Trainer(True)
    print("READY torch %s threads %d" % (torch.__version__, torch.get_num_threads()), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if len(cmd) != 2 or cmd[0] != "step" or cmd[1] not in trainers:
            break
        dt, loss = trainers[cmd[1]].step()
        best = min(best, dt)
        print("STEP %.4f %.4f" % (dt, loss), flush=True)
print("RESULT %.4f %.1f %.4f" % (best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, loss), flush=True)
