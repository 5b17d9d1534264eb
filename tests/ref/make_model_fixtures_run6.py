"""Device run 6: (1) a checkpoint syneg trained from an XLM-R ST model loads in
AutoModel and SentenceTransformer and gives syneg's vectors; (2) wp_cased_f16
prompt references in float32; (3) ce_bert logits with token_type_ids;
(4) a SentencePiece Precompiled-normalizer Unigram tokenizer.json + ids."""
import json, os, sys, traceback
import numpy as np, torch
torch.set_grad_enabled(False)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
LOG = []
def step(name, fn):
    try:
        fn(); LOG.append("ok   " + name)
    except Exception:
        LOG.append("FAIL " + name + "\n" + traceback.format_exc())
from sentence_transformers import SentenceTransformer
import transformers

def st_load(d):
    return SentenceTransformer(d, device="cpu", model_kwargs={"dtype": torch.float32})

def roundtrip():
    d = "rt/final"
    m, info = transformers.AutoModel.from_pretrained(d, output_loading_info=True)
    LOG.append("AutoModel %s loading info %s" % (type(m).__name__, {k: v for k, v in info.items() if v}))
    texts = [json.loads(l)["text"] for l in open("rt/texts.jsonl", encoding="utf-8")]
    st = st_load(d)
    LOG.append("ST prompts %s modules %s" % (st.prompts, [type(x).__name__ for x in st]))
    for name, f in (("query", "rt/syneg_q.npy"), ("document", "rt/syneg_p.npy")):
        ref = st.encode(texts, prompt_name=name, batch_size=8, convert_to_numpy=True)
        mine = np.load(f)
        LOG.append("roundtrip %s: shape %s vs %s, max abs diff %.3g" % (name, ref.shape, mine.shape, np.abs(ref - mine).max()))
        np.save(os.path.join(out, "rt_%s.npy" % name), ref.astype(np.float32))
step("roundtrip", roundtrip)

def regen_b():
    d = "b/wp_cased_f16"
    texts = json.load(open("b/texts.json", encoding="utf-8"))
    st = st_load(d)
    for name in ("query", "passage"):
        np.save(os.path.join(out, "b_%s.npy" % name), st.encode(texts, prompt_name=name, batch_size=8, convert_to_numpy=True).astype(np.float32))
step("regen B", regen_b)

def ce_types():
    d = "rt/ce_bert"
    pairs = json.load(open(d + "/ref/pairs.json", encoding="utf-8"))
    tk = transformers.AutoTokenizer.from_pretrained(d)
    qs, ps = [p["query"] for p in pairs], [p["passage"] for p in pairs]
    enc = tk(qs, ps, truncation=True, padding=True, return_token_type_ids=True, return_tensors="pt")
    LOG.append("ce_bert keys %s, type ids used: %s" % (list(enc.keys()), int(enc["token_type_ids"].sum())))
    m = transformers.AutoModelForSequenceClassification.from_pretrained(d, dtype=torch.float32).eval()
    np.save(os.path.join(out, "ce_bert_logits_types.npy"), m(**enc).logits[:, 0].numpy().astype(np.float32))
step("ce types", ce_types)

def precompiled():
    import sentencepiece as spm
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, Regex
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError:
        import sentencepiece.sentencepiece_model_pb2 as pb
    corpus = [json.loads(l)["text"] for l in open("data/cranfield.jsonl", encoding="utf-8")][:600]
    hard = json.load(open("b/texts.json", encoding="utf-8"))
    with open("/tmp/spm_train.txt", "w", encoding="utf-8") as f:
        for t in corpus + [h.replace("\n", " ") for h in hard if h.strip()] * 2:
            f.write(t.replace("\n", " ") + "\n")
    spm.SentencePieceTrainer.train(input="/tmp/spm_train.txt", model_prefix="/tmp/spm", vocab_size=800,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc",
                                   character_coverage=0.9995, bos_id=-1, eos_id=-1, unk_id=0)
    mp = pb.ModelProto()
    mp.ParseFromString(open("/tmp/spm.model", "rb").read())
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0)] + [(p.piece, p.score) for p in mp.pieces]
    unk_id = 3  # spm's <unk> (id 0 there) lands at 3
    t = Tokenizer(models.Unigram(vocab, unk_id, False))
    t.normalizer = normalizers.Sequence([normalizers.Precompiled(mp.normalizer_spec.precompiled_charsmap),
                                         normalizers.Replace(Regex(" {2,}"), " ")])
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    t.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                     special_tokens=[("<s>", 0), ("</s>", 2)])
    t.add_special_tokens(["<s>", "<pad>", "</s>"])
    d = os.path.join(out, "tok_uni_precompiled")
    os.makedirs(d, exist_ok=True)
    t.save(os.path.join(d, "tokenizer.json"))
    full = [t.encode(x).ids for x in hard]
    t.enable_truncation(16)
    short = [t.encode(x).ids for x in hard]
    with open(os.path.join(d, "ids.jsonl"), "w") as f:
        f.write(json.dumps({"class": "tokenizers.Tokenizer", "len": t.get_vocab_size()}) + "\n")
        for a, b in zip(full, short):
            f.write(json.dumps({"ids": a, "ids16": b}) + "\n")
    LOG.append("precompiled charsmap %d bytes, vocab %d" % (len(mp.normalizer_spec.precompiled_charsmap), t.get_vocab_size()))
step("precompiled", precompiled)

open(os.path.join(out, "LOG6.txt"), "w").write("\n".join(LOG) + "\n")
print("\n".join(LOG))
