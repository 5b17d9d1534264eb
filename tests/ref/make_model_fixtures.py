#!/usr/bin/env python3
"""Make the model-folder parity fixtures (tests/fixtures/models/) with the
Hugging Face reference: transformers, tokenizers and sentence-transformers.

    python3 tests/ref/make_model_fixtures.py DATA_DIR OUT_DIR

DATA_DIR holds vocab.txt (bert-base-uncased) and cranfield.jsonl (corpus
lines, used to train the tiny tokenizers).  No network, no downloaded
weights: every model is random-initialised (seeded) at hidden 32, 2 layers,
4 heads, and every reference number is computed on the CPU in float32 (F16 and
BF16 models are rounded first, so the f32 reference is exact for their weights).

OUT_DIR gets one folder per fixture, each with a ref/ folder of expectations:
  texts.json               the hard texts every fixture is checked on
  tok_bert_full/           BertTokenizerFast over the full bert-base-uncased vocab:
                           tokenizer.json (+ tokenizer_config.json), ref ids.jsonl
  wp_uncased/              tiny WordPiece (trained, lowercase), BertModel F32; ST
                           pooling variants: pool_<name>.json (the 1_Pooling config
                           as written) and pool_<name>.npy (ST encode, no normalise)
  wp_cased_f16/            ST folder, legacy 0_Transformer/ layout, cased WordPiece,
                           F16 weights, cls pooling (ST 2.x booleans), Dense 32->16
                           Tanh, Normalize, prompts query/passage; ref plain.npy,
                           query.npy (prompt_name="query")
  bpe_roberta_bf16/        ST folder (current save format), RoBERTa byte-level BPE,
                           BF16 weights sharded (model.safetensors.index.json),
                           mean pooling include_prompt=False, prompt "query";
                           ref plain.npy, query.npy
  uni_xlmr/                ST folder, XLM-R Unigram + Metaspace + NFKC, F32, mean
                           pooling + Normalize; ref plain.npy
  ce_bert/, ce_xlmr/       BertForSequenceClassification /
                           XLMRobertaForSequenceClassification (num_labels 1,
                           model_max_length 40 so pairs get truncated); ref
                           pairs.json, logits.npy, pair_ids.jsonl, sigmoid.npy
                           (CrossEncoder.predict) when sentence-transformers has it
Every tokenizer folder's ref/ids.jsonl: one line per text {"ids": [...],
"ids16": [...]} = tokenizer(text)["input_ids"] untruncated and with
truncation=True, max_length=16.
"""
import json
import os
import shutil
import sys
import traceback

import numpy as np
import torch

torch.set_grad_enabled(False)

HARD_EXTRA = [
    "<s> hello </s> <pad>", "[CLS] x [SEP] [MASK] y", "hello <mask> world", "hello<mask>world",
    "  leading and   multiple   spaces  ", "trailing space ",
    "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 \uff76\uff80\uff76\uff85 \u2460\u2461\u2462 \ufb01 ligature \u2126",
    "\u00c5ngstr\u00f6m \ufb00 \u212b", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01",
    "x" * 300, "1234567890 3.14159 1,000,000 2nd 10th", "it's 'quoted' they'll we've I'm you'd",
    "a\u0308o\u0308u\u0308 \u00e4\u00f6\u00fc", "\u00a0\u00a0nbsp lead", "CamelCaseWordsHere and snake_case_words",
    "tabs\t\tand\n\nnewlines\r\n", "\U0001F600\U0001F600\U0001F600", "\u200b", "\x7f\x1b[31mansi",
    "Supersonic flow over a flat plate with a shock wave boundary layer interaction.",
]


def read_jsonl(path, n=None):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if n and len(out) >= n:
                break
    return out


def save_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)


def write_ids(tok, texts, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"class": type(tok).__name__, "len": len(tok)}) + "\n")
        for t in texts:
            a = tok(t)["input_ids"]
            b = tok(t, truncation=True, max_length=16)["input_ids"]
            f.write(json.dumps({"ids": a, "ids16": b}) + "\n")


def round_dtype(model, dt):
    for p in model.parameters():
        p.data = p.data.to(dt).to(torch.float32)


def st_encode(folder, texts, **kw):
    from sentence_transformers import SentenceTransformer
    # load in float32: a model loaded as float16 (transformers 5's dtype "auto") and then
    # .float()'ed still differs from the f32 computation by ~2e-4 (seen on wp_cased_f16)
    try:
        m = SentenceTransformer(folder, device="cpu", model_kwargs={"dtype": torch.float32})
    except TypeError:
        m = SentenceTransformer(folder, device="cpu", model_kwargs={"torch_dtype": torch.float32})
    m.float()
    return m.encode(texts, batch_size=8, convert_to_numpy=True, **kw).astype(np.float32)


LOG = []


def step(name, fn):
    try:
        fn()
        LOG.append("ok   " + name)
    except Exception:
        LOG.append("FAIL " + name + "\n" + traceback.format_exc())


def main():
    data, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    import transformers
    import tokenizers
    from tokenizers import (Tokenizer, models, normalizers, pre_tokenizers, processors, decoders,
                            trainers, Regex)
    try:
        import sentence_transformers as stm
        stv = stm.__version__
    except Exception:
        stm, stv = None, "absent"
    versions = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "sentence_transformers": stv, "torch": torch.__version__}
    hard = [json.loads(l)["text"] for l in open(os.path.join(data, "hard_cases.jsonl"), encoding="utf-8")]
    corpus = [d.get("title", "") + " " + d["text"] for d in read_jsonl(os.path.join(data, "cranfield.jsonl"), 700)]
    texts = hard + HARD_EXTRA + corpus[:12] + ["what is the boundary layer ?", ""]
    save_json(os.path.join(out, "texts.json"), texts)
    train_texts = corpus + hard + HARD_EXTRA * 3
    pairs = [(texts[-3], corpus[i]) for i in range(4)] + [(hard[i], HARD_EXTRA[i % len(HARD_EXTRA)]) for i in range(0, 40, 3)] + \
            [("", ""), ("short q", "x " * 200), ("long " * 60, "p"), ("long " * 60, "longer " * 70)]

    # ---- tokenizers -------------------------------------------------------------
    T = {}

    BERT_SPECIALS = dict(unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
                         mask_token="[MASK]")
    ROBERTA_SPECIALS = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>", cls_token="<s>",
                            pad_token="<pad>", mask_token="<mask>")

    def wrap(t, specials, mml):
        # transformers 5's model-specific tokenizer classes ignore vocab_file and
        # rebuild pipelines; PreTrainedTokenizerFast keeps the tokenizers object as is
        tk = transformers.PreTrainedTokenizerFast(tokenizer_object=t, model_max_length=mml, **specials)
        assert len(tk) > 100, "tokenizer has only %d tokens" % len(tk)
        return tk

    def tok_bert_full():
        d = os.path.join(out, "tok_bert_full")
        os.makedirs(os.path.join(d, "ref"), exist_ok=True)
        wp = tokenizers.BertWordPieceTokenizer(os.path.join(data, "vocab.txt"), lowercase=True)
        t = wp._tokenizer
        t.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))])
        wrap(t, BERT_SPECIALS, 512).save_pretrained(d)
        write_ids(transformers.AutoTokenizer.from_pretrained(d), texts, os.path.join(d, "ref", "ids.jsonl"))
    step("tok_bert_full", tok_bert_full)

    def wordpiece(lower, name):
        wp = tokenizers.BertWordPieceTokenizer(lowercase=lower, strip_accents=None if lower else False)
        wp.train_from_iterator(train_texts, vocab_size=1200, min_frequency=1,
                               special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        t = wp._tokenizer
        cls, sep = ("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))
        if lower:
            t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                             special_tokens=[cls, sep])
        else:
            t.post_processor = processors.BertProcessing(sep, cls)
        return wrap(t, BERT_SPECIALS, 128)

    def bpe():
        b = tokenizers.ByteLevelBPETokenizer()
        b.train_from_iterator(train_texts, vocab_size=1200, min_frequency=1,
                              special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        t = b._tokenizer
        t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")),
                                                        ("<s>", t.token_to_id("<s>")))
        t.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True)])
        return wrap(t, ROBERTA_SPECIALS, 128)

    def unigram_tok():
        t = Tokenizer(models.Unigram())
        t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
        t.pre_tokenizer = pre_tokenizers.Metaspace()
        t.decoder = decoders.Metaspace()
        tr = trainers.UnigramTrainer(vocab_size=1200, unk_token="<unk>",
                                     special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        t.train_from_iterator(train_texts, tr)
        t.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", t.token_to_id("<s>")), ("</s>", t.token_to_id("</s>"))])
        return t

    def unigram():
        # what transformers 5's XLMRobertaTokenizerFast makes of it (it rebuilds the pipeline)
        tk = transformers.XLMRobertaTokenizerFast(tokenizer_object=unigram_tok(), model_max_length=128, **ROBERTA_SPECIALS)
        assert len(tk) > 100
        return tk

    def unigram_nfkc():
        return wrap(unigram_tok(), ROBERTA_SPECIALS, 128)

    for name, fn in [("wp_uncased", lambda: wordpiece(True, "wpu")), ("wp_cased", lambda: wordpiece(False, "wpc")),
                     ("bpe", bpe), ("uni", unigram), ("uni_nfkc", unigram_nfkc)]:
        def mk(name=name, fn=fn):
            T[name] = fn()
        step("train " + name, mk)

    def tok_only(name, key):
        d = os.path.join(out, name)
        T[key].save_pretrained(d)
        os.makedirs(os.path.join(d, "ref"), exist_ok=True)
        write_ids(transformers.AutoTokenizer.from_pretrained(d), texts, os.path.join(d, "ref", "ids.jsonl"))
    step("tok_uni_nfkc", lambda: tok_only("tok_uni_nfkc", "uni_nfkc"))

    def save_tok(tk, d):
        tk.save_pretrained(d)
        os.makedirs(os.path.join(d, "ref"), exist_ok=True)
        write_ids(transformers.AutoTokenizer.from_pretrained(d), texts, os.path.join(d, "ref", "ids.jsonl"))

    def bert_cfg(vocab, **kw):
        return transformers.BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=48, max_position_embeddings=128, initializer_range=0.2, **kw)

    def xlmr_cfg(vocab, pad, roberta=False, **kw):
        C = transformers.RobertaConfig if roberta else transformers.XLMRobertaConfig
        return C(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                 max_position_embeddings=130, type_vocab_size=1, pad_token_id=pad, bos_token_id=0, eos_token_id=2,
                 layer_norm_eps=1e-5, initializer_range=0.2, **kw)

    # ---- A: uncased WordPiece BertModel + every pooling config format --------------
    def fix_a():
        from sentence_transformers import SentenceTransformer, models as stmods
        d = os.path.join(out, "wp_uncased")
        torch.manual_seed(1)
        tk = T["wp_uncased"]
        m = transformers.BertModel(bert_cfg(len(tk)))
        m.eval()
        m.save_pretrained(d, safe_serialization=True)
        save_tok(tk, d)
        save_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": 64, "do_lower_case": False})
        ref = os.path.join(d, "ref")
        base4 = {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
                 "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}
        v22 = dict(base4, pooling_mode_weightedmean_tokens=False, pooling_mode_lasttoken=False)
        v3 = dict(v22, include_prompt=True)
        variants = {
            "v2_cls": dict(base4, pooling_mode_cls_token=True),
            "v2_mean": dict(base4, pooling_mode_mean_tokens=True),
            "v2_max": dict(base4, pooling_mode_max_tokens=True),
            "v2_sqrt": dict(base4, pooling_mode_mean_sqrt_len_tokens=True),
            "v22_weighted": dict(v22, pooling_mode_weightedmean_tokens=True),
            "v22_last": dict(v22, pooling_mode_lasttoken=True),
            "v3_mean": dict(v3, pooling_mode_mean_tokens=True),
            "v3_cls_mean": dict(v3, pooling_mode_cls_token=True, pooling_mode_mean_tokens=True),
            "v3_mean_noprompt": dict(v3, pooling_mode_mean_tokens=True, include_prompt=False),
            "str_mean": {"word_embedding_dimension": 32, "pooling_mode": "mean"},
            "str_cls": {"word_embedding_dimension": 32, "pooling_mode": "cls"},
            "str_max": {"word_embedding_dimension": 32, "pooling_mode": "max"},
            "str_lasttoken": {"word_embedding_dimension": 32, "pooling_mode": "lasttoken"},
            "str_sqrt": {"word_embedding_dimension": 32, "pooling_mode": "mean_sqrt_len_tokens"},
        }
        # what this version's Pooling.save writes, for the record
        try:
            p = stmods.Pooling(32, pooling_mode="mean")
            save_json(os.path.join(ref, "pooling_as_saved_by_installed_st.json"), p.get_config_dict())
        except Exception:
            pass
        save_json(os.path.join(d, "modules.json"), [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
        os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
        prompt = "query: "
        for name, cfg in variants.items():
            save_json(os.path.join(d, "1_Pooling", "config.json"), cfg)
            save_json(os.path.join(ref, "pool_%s.json" % name), cfg)
            try:
                np.save(os.path.join(ref, "pool_%s.npy" % name), st_encode(d, texts))
                if name in ("v3_mean_noprompt", "v3_mean"):
                    np.save(os.path.join(ref, "pool_%s_prompt.npy" % name), st_encode(d, texts, prompt=prompt))
                LOG.append("ok   pool " + name)
            except Exception:
                LOG.append("FAIL pool " + name + "\n" + traceback.format_exc())
        save_json(os.path.join(d, "1_Pooling", "config.json"), variants["v3_mean"])
        # raw last_hidden_state check through transformers (no ST)
        enc = tk(texts[:8], truncation=True, max_length=64, padding=True, return_tensors="pt")
        h = m(**enc).last_hidden_state[:, 0].numpy()
        np.save(os.path.join(ref, "cls_raw.npy"), h.astype(np.float32))
    step("A wp_uncased", fix_a)

    # ---- B: cased WordPiece, F16, legacy 0_Transformer layout, Dense + Normalize, prompts
    def fix_b():
        from sentence_transformers import SentenceTransformer, models as stmods
        d = os.path.join(out, "wp_cased_f16")
        torch.manual_seed(2)
        tk = T["wp_cased"]
        m = transformers.BertModel(bert_cfg(len(tk)))
        round_dtype(m, torch.float16)
        td = os.path.join(d, "0_Transformer")
        m.half().save_pretrained(td, safe_serialization=True)
        save_tok(tk, td)
        shutil.move(os.path.join(td, "ref"), os.path.join(d, "ref"))
        save_json(os.path.join(td, "sentence_bert_config.json"), {"max_seq_length": 128, "do_lower_case": False})
        os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
        save_json(os.path.join(d, "1_Pooling", "config.json"), {
            "word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False,
            "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
        torch.manual_seed(3)
        os.makedirs(os.path.join(d, "2_Dense"), exist_ok=True)
        dense = stmods.Dense(32, 16, bias=True, activation_function=torch.nn.Tanh())
        try:
            dense.save(os.path.join(d, "2_Dense"), safe_serialization=True)
        except TypeError:
            dense.save(os.path.join(d, "2_Dense"))
        os.makedirs(os.path.join(d, "3_Normalize"), exist_ok=True)
        save_json(os.path.join(d, "modules.json"), [
            {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"}])
        save_json(os.path.join(d, "config_sentence_transformers.json"), {
            "__version__": {"sentence_transformers": "2.7.0"}, "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None})
        np.save(os.path.join(d, "ref", "plain.npy"), st_encode(d, texts))
        np.save(os.path.join(d, "ref", "query.npy"), st_encode(d, texts, prompt_name="query"))
        np.save(os.path.join(d, "ref", "passage.npy"), st_encode(d, texts, prompt_name="passage"))
    step("B wp_cased_f16", fix_b)

    # ---- C: RoBERTa BPE, BF16, sharded, ST current save, mean include_prompt False
    def fix_c():
        from sentence_transformers import SentenceTransformer, models as stmods
        d = os.path.join(out, "bpe_roberta_bf16")
        torch.manual_seed(4)
        tk = T["bpe"]
        m = transformers.RobertaModel(xlmr_cfg(len(tk), tk.pad_token_id, roberta=True))
        round_dtype(m, torch.bfloat16)
        tmp = os.path.join(out, "_c_tmp")
        m.save_pretrained(tmp, safe_serialization=True)
        tk.save_pretrained(tmp)
        tr = stmods.Transformer(tmp, max_seq_length=128)
        po = stmods.Pooling(32, pooling_mode="mean")
        try:
            po.include_prompt = False
        except Exception:
            pass
        st = SentenceTransformer(modules=[tr, po], device="cpu", prompts={"query": "Represent this query: "})
        st.save(d)
        shutil.rmtree(tmp)
        # replace the F32 weights by sharded BF16 ones
        for f in os.listdir(d):
            if f.startswith("model") and (f.endswith(".safetensors") or f.endswith(".json")):
                os.remove(os.path.join(d, f))
        m.to(torch.bfloat16).save_pretrained(os.path.join(out, "_c_w"), safe_serialization=True, max_shard_size="40KB")
        for f in os.listdir(os.path.join(out, "_c_w")):
            if f.startswith("model"):
                shutil.move(os.path.join(out, "_c_w", f), os.path.join(d, f))
        shutil.rmtree(os.path.join(out, "_c_w"))
        os.makedirs(os.path.join(d, "ref"), exist_ok=True)
        write_ids(transformers.AutoTokenizer.from_pretrained(d), texts, os.path.join(d, "ref", "ids.jsonl"))
        np.save(os.path.join(d, "ref", "plain.npy"), st_encode(d, texts))
        np.save(os.path.join(d, "ref", "query.npy"), st_encode(d, texts, prompt_name="query"))
    step("C bpe_roberta_bf16", fix_c)

    # ---- D: XLM-R Unigram, F32, mean + Normalize --------------------------------------
    def fix_d():
        from sentence_transformers import SentenceTransformer, models as stmods
        d = os.path.join(out, "uni_xlmr")
        torch.manual_seed(5)
        tk = T["uni"]
        m = transformers.XLMRobertaModel(xlmr_cfg(len(tk), tk.pad_token_id))
        tmp = os.path.join(out, "_d_tmp")
        m.save_pretrained(tmp, safe_serialization=True)
        tk.save_pretrained(tmp)
        st = SentenceTransformer(modules=[stmods.Transformer(tmp, max_seq_length=128), stmods.Pooling(32, pooling_mode="mean"),
                                          stmods.Normalize()], device="cpu")
        st.save(d)
        shutil.rmtree(tmp)
        os.makedirs(os.path.join(d, "ref"), exist_ok=True)
        write_ids(transformers.AutoTokenizer.from_pretrained(d), texts, os.path.join(d, "ref", "ids.jsonl"))
        np.save(os.path.join(d, "ref", "plain.npy"), st_encode(d, texts))
    step("D uni_xlmr", fix_d)

    # ---- E/F: cross-encoders ------------------------------------------------------------
    def cross(name, tk, model):
        d = os.path.join(out, name)
        model.eval()
        tk.model_max_length = 40
        model.save_pretrained(d, safe_serialization=True)
        tk.save_pretrained(d)
        os.makedirs(os.path.join(d, "ref"), exist_ok=True)
        save_json(os.path.join(d, "ref", "pairs.json"), [{"query": q, "passage": p} for q, p in pairs])
        tk2 = transformers.AutoTokenizer.from_pretrained(d)
        qs, ps = [q for q, _ in pairs], [p for _, p in pairs]
        enc = tk2(qs, ps, truncation=True, padding=True, return_tensors="pt")
        logits = transformers.AutoModelForSequenceClassification.from_pretrained(d).float().eval()(**enc).logits[:, 0].numpy()
        np.save(os.path.join(d, "ref", "logits.npy"), logits.astype(np.float32))
        with open(os.path.join(d, "ref", "pair_ids.jsonl"), "w") as f:
            for q, p in pairs:
                e = tk2(q, p, truncation=True)
                f.write(json.dumps({"ids": e["input_ids"], "types": e.get("token_type_ids")}) + "\n")
        try:
            from sentence_transformers import CrossEncoder
            ce = CrossEncoder(d, device="cpu")
            ce.model.float()
            np.save(os.path.join(d, "ref", "sigmoid.npy"), np.asarray(ce.predict(pairs), dtype=np.float32))
        except Exception:
            LOG.append("FAIL CrossEncoder " + name + "\n" + traceback.format_exc())

    def fix_e():
        torch.manual_seed(6)
        tk = T["wp_uncased"]
        cross("ce_bert", tk, transformers.BertForSequenceClassification(bert_cfg(len(tk), num_labels=1)))
    step("E ce_bert", fix_e)

    def fix_f():
        torch.manual_seed(7)
        tk = T["uni"]
        cross("ce_xlmr", tk, transformers.XLMRobertaForSequenceClassification(xlmr_cfg(len(tk), tk.pad_token_id, num_labels=1)))
    step("F ce_xlmr", fix_f)

    # cased tokenizer ids (the cased model's tokenizer is in wp_cased_f16/0_Transformer)
    save_json(os.path.join(out, "versions.json"), versions)
    with open(os.path.join(out, "LOG.txt"), "w") as f:
        f.write("\n".join(LOG) + "\n")
    print("\n".join(LOG))
    print(versions)


if __name__ == "__main__":
    main()
