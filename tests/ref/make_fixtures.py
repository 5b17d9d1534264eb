#!/usr/bin/env python3
"""Make the dense-retrieval parity fixtures with the Hugging Face reference.

Run on a machine with `tokenizers`, `transformers`, `torch`, `safetensors` and
numpy (the GPU machine's Python has them; nothing here needs a network or a
GPU: every reference number is computed on the CPU in float32).

    python3 tests/ref/make_fixtures.py DATA_DIR OUT_DIR

DATA_DIR holds cranfield/{corpus,queries}.jsonl, cisi/{corpus,queries}.jsonl
and vocab.txt (bert-base-uncased), copied from ../shared/data.  OUT_DIR gets:

tokenizer/hf_ids.tsv   one line per text:
    set  source  line  n  fnv64  [ids]
  set     uncased | cased | uncased_trunc16 (BertWordPieceTokenizer with
          lowercase True/False; trunc16 = enable_truncation(16))
  source  cranfield.corpus.text, cranfield.corpus.title, cranfield.queries.text,
          the same for cisi, and hard_cases.text (tests/fixtures/tokenizer/hard_cases.jsonl)
  line    0-based line of the JSONL file the text comes from
  n       number of ids ([CLS] and [SEP] included, no truncation unless trunc16)
  fnv64   FNV-1a 64 over the ids as int32 little-endian bytes, hex
  ids     space-separated ids, only for the hard cases
  The cased and trunc16 sets cover the queries and hard cases only.
  Titles that are empty are skipped.

encoder/tiny/          a random-initialised tiny BertModel (2 layers, hidden 32,
                       4 heads, intermediate 48, max_position 64) over a reduced
                       vocabulary, saved with save_pretrained(safe_serialization=True)
                       in float16 (weights rounded to f16 first, so the f32
                       reference below is exact for them), plus tokenizer_config.json
encoder/tiny_ref.npz-like .npy files:
  tiny_ids.npy     int32 [N, 64] input ids from AutoTokenizer(model folder),
                   max_length 64, padded with 0
  tiny_lens.npy    int32 [N]
  tiny_cls.npy     float32 [N, 32] last_hidden_state[:, 0]
  tiny_mean.npy    float32 [N, 32] masked mean of last_hidden_state
  tiny_hidden.npy  float32 [H, 64, 32] last_hidden_state of the first H texts
                   (rows beyond lens are zero)
  The N texts are, in order: the "text" of cranfield corpus lines 0..119,
  cisi corpus lines 0..99, cranfield queries lines 0..59, hard_cases lines 0..19.
minilm_*.npy         the same for a MiniLM-shaped model (6 layers, 384 hidden,
                     12 heads, 1536 intermediate, full vocabulary) whose weights
                     are a pure function of the tensor name (splitmix64 of
                     fnv1a64(name) + index, see gen_param), so the C test can
                     rebuild the model without any download:
  minilm_ids.npy int32 [M, 128] (M = 48: texts 0..23 and 120..143), minilm_lens.npy, minilm_cls.npy, minilm_mean.npy
"""
import json
import os
import sys
import time

import numpy as np


def fnv64_ids(ids):
    h = 0xcbf29ce484222325
    for i in ids:
        v = i & 0xffffffff
        for _ in range(4):
            h ^= v & 0xff
            h = (h * 0x100000001b3) & 0xffffffffffffffff
            v >>= 8
    return h


def fnv1a64_str(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xffffffffffffffff
    return h


def splitmix64(z):
    z = z + np.uint64(0x9e3779b97f4a7c15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
    return z ^ (z >> np.uint64(31))


def gen_param(name, shape):
    """Deterministic weights: u in [-1, 1) from 24 random bits, then
    offset + scale * u in float32 (engine side: tests/unit/test_encoder.c)."""
    n = int(np.prod(shape))
    with np.errstate(over='ignore'):
        z = np.uint64(fnv1a64_str(name)) + np.arange(n, dtype=np.uint64)
        h = splitmix64(z)
    u = (h >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23) - np.float32(1.0)
    if name.endswith('LayerNorm.weight'):
        off, scale = 1.0, 0.2
    elif name.endswith('bias'):
        off, scale = 0.0, 0.1
    elif 'embeddings' in name:
        off, scale = 0.0, 0.5
    else:
        off, scale = 0.0, 1.7 / np.sqrt(float(shape[-1]))
    v = np.float32(scale) * u + np.float32(off)
    return v.astype(np.float32).reshape(shape)


def read_jsonl(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    data, out = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    hard = os.path.join(here, '..', 'fixtures', 'tokenizer', 'hard_cases.jsonl')
    os.makedirs(os.path.join(out, 'tokenizer'), exist_ok=True)
    os.makedirs(os.path.join(out, 'encoder'), exist_ok=True)
    import tokenizers
    import transformers
    import torch
    print('tokenizers', tokenizers.__version__, 'transformers', transformers.__version__,
          'torch', torch.__version__, flush=True)
    vocab = os.path.join(data, 'vocab.txt')

    # ---------------- tokenizer ----------------
    t0 = time.time()
    unc = tokenizers.BertWordPieceTokenizer(vocab, lowercase=True)
    cas = tokenizers.BertWordPieceTokenizer(vocab, lowercase=False)
    tr16 = tokenizers.BertWordPieceTokenizer(vocab, lowercase=True)
    tr16.enable_truncation(16)
    assert unc.encode('the cat').ids == [101, 1996, 4937, 102], unc.encode('the cat').ids
    # the AutoTokenizer route must agree with the tokenizers route
    tokdir = os.path.join(out, 'tokdir')
    os.makedirs(tokdir, exist_ok=True)
    with open(os.path.join(tokdir, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write(open(vocab, encoding='utf-8').read())
    with open(os.path.join(tokdir, 'tokenizer_config.json'), 'w') as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True}, f)
    auto = transformers.AutoTokenizer.from_pretrained(tokdir)
    assert auto('the cat')['input_ids'] == [101, 1996, 4937, 102]

    texts = []   # (source, line, text, keep_ids)
    for ds in ('cranfield', 'cisi'):
        for i, r in enumerate(read_jsonl(os.path.join(data, ds, 'corpus.jsonl'))):
            texts.append((ds + '.corpus.text', i, r.get('text', ''), False))
            if r.get('title'):
                texts.append((ds + '.corpus.title', i, r['title'], False))
        for i, r in enumerate(read_jsonl(os.path.join(data, ds, 'queries.jsonl'))):
            texts.append((ds + '.queries.text', i, r.get('text', ''), True))
    for i, r in enumerate(read_jsonl(hard)):
        texts.append(('hard_cases.text', i, r['text'], True))
    lines = []
    disagree = 0
    for name, tk in (('uncased', unc), ('cased', cas), ('uncased_trunc16', tr16)):
        for src, i, text, keep in texts:
            if name != 'uncased' and not keep:
                continue
            ids = tk.encode(text).ids
            if name == 'uncased' and auto(text)['input_ids'] != ids:
                disagree += 1
            row = [name, src, str(i), str(len(ids)), '%016x' % fnv64_ids(ids)]
            if src == 'hard_cases.text':
                row.append(' '.join(map(str, ids)))
            lines.append('\t'.join(row))
    with open(os.path.join(out, 'tokenizer', 'hf_ids.tsv'), 'w') as f:
        f.write('# made by tests/ref/make_fixtures.py with tokenizers %s; columns: '
                'set source line n fnv64 [ids]\n' % tokenizers.__version__)
        f.write('\n'.join(lines) + '\n')
    print('tokenizer: %d lines, AutoTokenizer disagreements %d, %.1fs'
          % (len(lines), disagree, time.time() - t0), flush=True)
    for src, i, text, keep in texts:
        if src == 'hard_cases.text':
            print('  hard %2d %r -> %s' % (i, text[:40], unc.encode(text).tokens[:24]))

    # ---------------- encoders ----------------
    torch.manual_seed(1234)
    np.random.seed(1234)
    cran = read_jsonl(os.path.join(data, 'cranfield', 'corpus.jsonl'))
    cisi = read_jsonl(os.path.join(data, 'cisi', 'corpus.jsonl'))
    cq = read_jsonl(os.path.join(data, 'cranfield', 'queries.jsonl'))
    sample = [r['text'] for r in cran[:120]] + [r['text'] for r in cisi[:100]] + \
             [r['text'] for r in cq[:60]] + [r['text'] for r in read_jsonl(hard)[:20]]

    def run_model(model, tok, texts, maxlen, prefix):
        enc = tok(texts, padding='max_length', truncation=True, max_length=maxlen,
                  return_tensors='pt')
        with torch.no_grad():
            hs = model(input_ids=enc['input_ids'], attention_mask=enc['attention_mask'],
                       token_type_ids=torch.zeros_like(enc['input_ids'])).last_hidden_state
        mask = enc['attention_mask'].unsqueeze(-1).float()
        mean = (hs * mask).sum(1) / mask.sum(1)
        lens = enc['attention_mask'].sum(1).int().numpy()
        hs = (hs * mask).numpy().astype(np.float32)
        np.save(os.path.join(out, 'encoder', prefix + '_ids.npy'),
                enc['input_ids'].int().numpy().astype(np.int32))
        np.save(os.path.join(out, 'encoder', prefix + '_lens.npy'), lens.astype(np.int32))
        np.save(os.path.join(out, 'encoder', prefix + '_cls.npy'), hs[:, 0].copy())
        np.save(os.path.join(out, 'encoder', prefix + '_mean.npy'), mean.numpy().astype(np.float32))
        return hs

    # tiny model over a reduced vocabulary (keeps the fixture small)
    t0 = time.time()
    full = [l.rstrip('\n') for l in open(vocab, encoding='utf-8')]
    used = set()
    for t in sample:
        used.update(unc.encode(t).ids)
    keep = sorted({0, 100, 101, 102, 103} | used)
    small = [full[i] for i in keep]
    tiny = os.path.join(out, 'encoder', 'tiny')
    os.makedirs(tiny, exist_ok=True)
    with open(os.path.join(tiny, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(small) + '\n')
    cfg = transformers.BertConfig(vocab_size=len(small), hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=48,
                                  max_position_embeddings=64, type_vocab_size=2,
                                  hidden_act='gelu', layer_norm_eps=1e-12,
                                  pad_token_id=small.index('[PAD]'))
    model = transformers.BertModel(cfg, add_pooling_layer=False)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith('LayerNorm.weight'):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif n.endswith('bias'):
                p.copy_(0.2 * torch.randn_like(p))
            else:
                p.copy_(0.4 * torch.randn_like(p))
            p.copy_(p.half().float())
    model.eval()
    model.config._attn_implementation = 'eager'
    with open(os.path.join(tiny, 'tokenizer_config.json'), 'w') as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True}, f)
    tok = transformers.AutoTokenizer.from_pretrained(tiny)
    hs = run_model(model, tok, sample, 64, 'tiny')
    np.save(os.path.join(out, 'encoder', 'tiny_hidden.npy'), hs[:16].copy())
    model.half().save_pretrained(tiny, safe_serialization=True)
    print('tiny: vocab %d, files %s, %.1fs' % (len(small), sorted(os.listdir(tiny)), time.time() - t0),
          flush=True)

    # MiniLM-shaped model with name-derived weights
    t0 = time.time()
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6,
                                  num_attention_heads=12, intermediate_size=1536,
                                  max_position_embeddings=512, type_vocab_size=2,
                                  hidden_act='gelu', layer_norm_eps=1e-12)
    model = transformers.BertModel(cfg, add_pooling_layer=False)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(torch.from_numpy(gen_param(n, tuple(p.shape))))
    model.eval()
    model.config._attn_implementation = 'eager'
    print('minilm params:', [n for n, _ in model.named_parameters()][:8], flush=True)
    run_model(model, auto, sample[:24] + sample[120:144], 128, 'minilm')
    print('minilm: %.1fs' % (time.time() - t0), flush=True)


if __name__ == '__main__':
    main()
