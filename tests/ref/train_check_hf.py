#!/usr/bin/env python3
"""Check that a syneg training checkpoint loads in the Hugging Face ecosystem
and gives the vectors syneg gives.

  python3 tests/ref/train_check_hf.py CKPT_DIR OURS.json

OURS.json (written by build/tools/train_embed CKPT_DIR TEXTS) holds
{"texts": [...], "embeddings": [[...], ...]} from syneg's own encoder.  The
script loads CKPT_DIR with transformers.AutoModel + AutoTokenizer and with
sentence_transformers.SentenceTransformer, encodes the same texts, and fails
(exit 1) when either differs from syneg's vectors by more than 1e-4 (max abs,
vectors are L2-normalised) or the loads report missing weights."""
import json, sys

import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer

ckpt, ours_path = sys.argv[1], sys.argv[2]
ours = json.load(open(ours_path))
texts = ours["texts"]
E = torch.tensor(ours["embeddings"], dtype=torch.float32)
ok = True

tok = AutoTokenizer.from_pretrained(ckpt)
model, info = AutoModel.from_pretrained(ckpt, output_loading_info=True)
model.eval()
missing = [k for k in info["missing_keys"] if not k.startswith("pooler")]
print("AutoModel:", type(model).__name__, "missing (non-pooler):", missing, "unexpected:", info["unexpected_keys"])
ok &= not missing and not info["unexpected_keys"]
pool = json.load(open(ckpt + "/1_Pooling/config.json"))
with torch.no_grad():
    enc = tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    h = model(**enc).last_hidden_state
    if pool.get("pooling_mode_cls_token"):
        e = h[:, 0]
    else:
        m = enc["attention_mask"].unsqueeze(-1).float()
        e = (h * m).sum(1) / m.sum(1)
    e = torch.nn.functional.normalize(e, dim=-1)
d1 = (e - E).abs().max().item()
print("AutoModel vs syneg: max abs diff %.3g" % d1)
ok &= d1 < 1e-4

st = SentenceTransformer(ckpt, device="cpu")
print("SentenceTransformer modules:", [type(m).__name__ for m in st])
s = torch.tensor(st.encode(texts, convert_to_numpy=True))
d2 = (s - E).abs().max().item()
print("SentenceTransformer vs syneg: max abs diff %.3g" % d2)
ok &= d2 < 1e-4
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
