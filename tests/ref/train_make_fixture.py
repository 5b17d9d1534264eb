#!/usr/bin/env python3
"""Make tests/fixtures/train/: the PyTorch reference for one training step.

A tiny random BERT (vocab 64, hidden 16, 2 layers, 2 heads, intermediate 32)
is saved as a Hugging Face folder (model/).  For a fixed batch of token ids
(batch.json: 3 queries, groups of 3 passages, varied lengths with padding) the
InfoNCE loss of the L2-normalised pooled embeddings (temperature 0.05, every
passage of the batch a candidate) is computed in float64 with PyTorch, for
mean and for CLS pooling; the gradient of every parameter is saved as a model
folder of its own (grad_mean/, grad_cls/: model.safetensors holds gradients
under the parameter names, so the C test reads them with enc_load), and the
parameters after one torch.optim.AdamW step (lr 1e-3, weight decay 0.01 on
the weight matrices and embeddings, none on biases and LayerNorm) of the mean
case are saved as after_step/.  LayerNorm weights and biases are randomised
too, so every term of the backward is exercised.

Run: python3 tests/ref/train_make_fixture.py tests/fixtures/train
(made on the GPU machine's CPU: torch 2.11, transformers 5.x)."""
import json, os, sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/train"
torch.manual_seed(1234)
V, C, L, NH, I, P = 64, 16, 2, 2, 32, 32
cfg = BertConfig(vocab_size=V, hidden_size=C, num_hidden_layers=L, num_attention_heads=NH,
                 intermediate_size=I, max_position_embeddings=P, type_vocab_size=2,
                 hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                 layer_norm_eps=1e-12, pad_token_id=0)
model = BertModel(cfg, add_pooling_layer=False)
with torch.no_grad():
    for n, p in model.named_parameters():
        if "LayerNorm.weight" in n:
            p.copy_(1.0 + 0.2 * torch.randn_like(p))
        else:
            p.normal_(0.0, 0.2)
model.eval()
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["tok%d" % i for i in range(5, V)]


def save_folder(dirname, tensors):
    d = os.path.join(out, dirname)
    os.makedirs(d, exist_ok=True)
    cfgd = cfg.to_dict()
    cfgd["architectures"] = ["BertModel"]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfgd, f, indent=2, sort_keys=True)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True}, f)
    save_file({k: v.detach().float().contiguous() for k, v in tensors.items()},
              os.path.join(d, "model.safetensors"))


save_folder("model", dict(model.named_parameters()))

B, G, Tq, Tp, temp = 3, 3, 6, 10, 0.05
g = torch.Generator().manual_seed(7)


def make(n, T, lo):
    ids = torch.zeros(n, T, dtype=torch.long)
    lens = torch.randint(lo, T + 1, (n,), generator=g)
    for i in range(n):
        ids[i, 0] = 2
        ids[i, 1:lens[i] - 1] = torch.randint(5, V, (int(lens[i]) - 2,), generator=g)
        ids[i, lens[i] - 1] = 3
    return ids, lens


qids, qlens = make(B, Tq, 3)
pids, plens = make(B * G, Tp, 3)
qlens[0] = Tq
plens[0] = Tp  # at least one full-length sequence each
qids[0, Tq - 1] = 3
pids[0, Tp - 1] = 3
batch = {"B": B, "G": G, "Tq": Tq, "Tp": Tp, "temp": temp, "lr": 1e-3, "weight_decay": 0.01,
         "qids": qids.flatten().tolist(), "qlens": qlens.tolist(),
         "pids": pids.flatten().tolist(), "plens": plens.tolist()}


def mask(lens, T):
    return (torch.arange(T)[None, :] < lens[:, None]).long()


def embed(m, ids, lens, pooling):
    am = mask(lens, ids.shape[1])
    h = m(input_ids=ids, attention_mask=am).last_hidden_state
    if pooling == "cls":
        e = h[:, 0]
    else:
        w = am.to(h.dtype)[:, :, None]
        e = (h * w).sum(1) / w.sum(1)
    return torch.nn.functional.normalize(e, dim=-1)


def loss_of(m, pooling):
    q = embed(m, qids, qlens, pooling)
    p = embed(m, pids, plens, pooling)
    s = q @ p.T / temp
    return torch.nn.functional.cross_entropy(s, torch.arange(B) * G)


m64 = BertModel(cfg, add_pooling_layer=False)
for pooling in ("cls", "mean"):
    m64.load_state_dict(model.state_dict())
    m64.double()
    m64.zero_grad()
    l = loss_of(m64, pooling)
    l.backward()
    batch["loss_" + pooling] = l.item()
    save_folder("grad_" + pooling, {n: p.grad for n, p in m64.named_parameters()})

# one AdamW step of the mean case (m64 holds its gradients)
decay = [p for n, p in m64.named_parameters() if "LayerNorm" not in n and not n.endswith(".bias")]
nodecay = [p for n, p in m64.named_parameters() if "LayerNorm" in n or n.endswith(".bias")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                         {"params": nodecay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
opt.step()
save_folder("after_step", dict(m64.named_parameters()))
with open(os.path.join(out, "batch.json"), "w") as f:
    json.dump(batch, f, indent=1)
print("fixture written to", out, "loss_mean", batch["loss_mean"], "loss_cls", batch["loss_cls"])
