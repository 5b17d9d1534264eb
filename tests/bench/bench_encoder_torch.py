#!/usr/bin/env python3
"""PyTorch peer for bench_encoder: a plain torch.nn BERT (same maths as HF
BertModel, eager attention) over the model folder that bench_encoder wrote,
on the same token ids, batches and thread count.

    bench_encoder_torch.py MODEL_DIR THREADS SECONDS

Prints "RESULT seq_s_128 seq_s_mix maxdiff_128 maxdiff_mix" (max abs
difference of the [CLS] vectors against syneg's, read from MODEL_DIR)."""
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


def run(model, ids, lens, budget=8192):
    outs = []
    i, n = 0, len(lens)
    with torch.inference_mode():
        while i < n:
            T = int(lens[i])
            B = min(max(budget // T, 1), 128, n - i)
            x = torch.from_numpy(ids[i:i + B, :T].astype(np.int64))
            m = torch.from_numpy((np.arange(T)[None, :] < lens[i:i + B, None]).astype(np.int64))
            outs.append(model(x, m)[:, 0])
            i += B
    return torch.cat(outs).numpy()


def main():
    d, threads, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(threads)
    cfg = json.load(open(d + '/config.json'))
    model = Bert(load_safetensors(d + '/model.safetensors'), cfg)
    res = []
    for name in ('128', 'mix'):
        ids = np.load(d + '/ids%s.npy' % name).astype(np.int64)
        lens = np.load(d + '/lens%s.npy' % name).astype(np.int64)[:, 0]
        ref = np.load(d + '/c%s.npy' % name)
        run(model, ids[:32], lens[:32])
        best, end = 1e30, time.time() + secs
        while True:
            t0 = time.time()
            out = run(model, ids, lens)
            best = min(best, time.time() - t0)
            if time.time() > end:
                break
        res.append((len(lens) / best, float(np.abs(out - ref).max())))
        print('pytorch %s %s threads=%d: %.1f seq/s' % (torch.__version__, name, threads, len(lens) / best),
              flush=True)
    print('RESULT %.3f %.3f %.3e %.3e' % (res[0][0], res[1][0], res[0][1], res[1][1]))


if __name__ == '__main__':
    main()
