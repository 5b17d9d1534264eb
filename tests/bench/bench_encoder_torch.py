#!/usr/bin/env python3
"""PyTorch peer for bench_encoder: a plain torch.nn BERT (same maths as HF
BertModel, eager attention) over the model folder that bench_encoder wrote,
on the same token ids, batches and thread count, in float32 and in bfloat16
autocast (torch.autocast("cpu", dtype=torch.bfloat16)).

    bench_encoder_torch.py MODEL_DIR THREADS

A server driven by bench_encoder over stdin/stdout, so that the two sides'
passes alternate (A/B) in one run:
    run NAME PREC    one timed pass over MODEL_DIR/idsNAME.npy (PREC fp32|bf16)
                     -> "TIME seconds"
    save NAME PREC   one pass, [CLS] vectors to MODEL_DIR/tNAME_PREC.npy -> "OK"
    quit
It prints "READY torch VERSION threads N" once loaded.

bf16: the Linear weights and biases are converted to bfloat16 once, at load
(as syneg packs its weights once per model load), so autocast casts only
the activations; LayerNorm, softmax and GELU run as autocast decides (float32
for layer_norm and softmax on CPU)."""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], 'little')
    hdr = json.loads(raw[8:8 + n])
    out = {}
    for k, v in hdr.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        assert v['dtype'] == 'F32'
        out[k] = torch.from_numpy(np.frombuffer(raw, dtype='<f4', count=(b - a) // 4,
                                                offset=8 + n + a).reshape(v['shape']).copy())
    return out


class Bert(torch.nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        self.w, self.cfg = w, cfg

    def forward(self, ids, mask):
        w, c = self.w, self.cfg
        B, T = ids.shape
        C, NH = c['hidden_size'], c['num_attention_heads']
        hs = C // NH
        eps = c['layer_norm_eps']
        x = w['embeddings.word_embeddings.weight'][ids] + \
            w['embeddings.position_embeddings.weight'][:T] + w['embeddings.token_type_embeddings.weight'][0]
        x = F.layer_norm(x, (C,), w['embeddings.LayerNorm.weight'], w['embeddings.LayerNorm.bias'], eps)
        add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in range(c['num_hidden_layers']):
            p = 'encoder.layer.%d.' % l
            q = F.linear(x, w[p + 'attention.self.query.weight'], w[p + 'attention.self.query.bias'])
            k = F.linear(x, w[p + 'attention.self.key.weight'], w[p + 'attention.self.key.bias'])
            v = F.linear(x, w[p + 'attention.self.value.weight'], w[p + 'attention.self.value.bias'])
            q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hs) + add
            a = torch.matmul(torch.softmax(s, -1), v).transpose(1, 2).reshape(B, T, C)
            a = F.linear(a, w[p + 'attention.output.dense.weight'], w[p + 'attention.output.dense.bias'])
            x = F.layer_norm(a + x, (C,), w[p + 'attention.output.LayerNorm.weight'],
                             w[p + 'attention.output.LayerNorm.bias'], eps)
            h = F.gelu(F.linear(x, w[p + 'intermediate.dense.weight'], w[p + 'intermediate.dense.bias']))
            h = F.linear(h, w[p + 'output.dense.weight'], w[p + 'output.dense.bias'])
            x = F.layer_norm(h + x, (C,), w[p + 'output.LayerNorm.weight'], w[p + 'output.LayerNorm.bias'], eps)
        return x


def run(model, ids, lens, bf16, batch, budget=8192):
    """Batches as bench_encoder forms them: `batch` sequences when > 0, else
    a token budget over length-sorted texts."""
    outs = []
    i, n = 0, len(lens)
    with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        while i < n:
            T = int(lens[i])
            B = min(batch if batch > 0 else max(budget // T, 1), 128, n - i)
            x = torch.from_numpy(ids[i:i + B, :T].astype(np.int64))
            m = torch.from_numpy((np.arange(T)[None, :] < lens[i:i + B, None]).astype(np.int64))
            outs.append(model(x, m)[:, 0].float())
            i += B
    return torch.cat(outs).numpy()


def main():
    d, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    cfg = json.load(open(d + '/config.json'))
    w = load_safetensors(d + '/model.safetensors')
    w16 = {k: (v.to(torch.bfloat16) if '.dense.' in k or '.self.' in k else v) for k, v in w.items()}
    models = {'fp32': Bert(w, cfg), 'bf16': Bert(w16, cfg)}
    data = {}
    print('READY torch %s threads %d' % (torch.__version__, torch.get_num_threads()), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == 'quit':
            break
        name, prec = cmd[1], cmd[2]
        if name not in data:
            ids = np.load(d + '/ids%s.npy' % name).astype(np.int64)
            lens = np.load(d + '/lens%s.npy' % name).astype(np.int64)[:, 0]
            batch = int(open(d + '/batch%s.txt' % name).read())
            data[name] = (ids, lens, batch)
        ids, lens, batch = data[name]
        t0 = time.perf_counter()
        out = run(models[prec], ids, lens, prec == 'bf16', batch)
        dt = time.perf_counter() - t0
        if cmd[0] == 'save':
            np.save(d + '/t%s_%s.npy' % (name, prec), out.astype(np.float32))
            print('OK', flush=True)
        else:
            print('TIME %.6f' % dt, flush=True)


if __name__ == '__main__':
    main()
