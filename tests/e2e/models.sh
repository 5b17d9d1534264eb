#!/bin/sh
# syneg rerank and syneg embed --prompt on the model fixtures
# (tests/fixtures/models, made by tests/ref/make_model_fixtures.py):
# scores equal transformers' logits / CrossEncoder.predict within 1e-4,
# prompts come from config_sentence_transformers.json, and bad input fails
# naming the file and line with nothing written.
. tests/e2e/lib.sh.inc
FX=tests/fixtures/models
# npy_close A.npy REF.npy: same shape, max abs diff <= 1e-4
npy_close() {
    python3 - "$1" "$2" <<'PY'
import struct, sys, ast
def load(p):
    b = open(p, 'rb').read()
    hl = struct.unpack('<H', b[8:10])[0]
    h = ast.literal_eval(b[10:10 + hl].decode())
    d = b[10 + hl:]
    return h['shape'], struct.unpack('<%df' % (len(d) // 4), d)
import os
(sa, a), (sb, b) = load(sys.argv[1]), load(sys.argv[2])
skip = set(int(x) for x in os.environ.get('SKIP_ROWS', '').split())   # texts with a NUL: not passable
w = sa[1] if len(sa) == 2 else 1
d = max((abs(x - y) for i, (x, y) in enumerate(zip(a, b)) if i // w not in skip), default=0)
print('shape', sa, sb, 'max diff', d)
sys.exit(0 if sa == sb and d <= 1e-4 else 1)
PY
}
python3 -c "
import json
for p in json.load(open('$FX/ce_xlmr/ref/pairs.json')): print(json.dumps(p))" > "$T/pairs.jsonl"

"$SYNEG" rerank --model "$FX/ce_xlmr" "$T/pairs.jsonl" -o "$T/logits.npy" -q
out=$(npy_close "$T/logits.npy" "$FX/ce_xlmr/ref/logits.npy") && ok "rerank: XLM-R logits equal transformers' ($out)" \
    || fail "rerank logits" "$out"
"$SYNEG" rerank --model "$FX/ce_bert" "$T/pairs.jsonl" -o "$T/sig.npy" --sigmoid -q
out=$(npy_close "$T/sig.npy" "$FX/ce_bert/ref/sigmoid.npy") && ok "rerank --sigmoid: BERT scores equal CrossEncoder.predict ($out)" \
    || fail "rerank --sigmoid" "$out"

printf '{"query": "q", "passage": "p"}\n{"query": "q2"}\n' > "$T/bad.jsonl"
"$SYNEG" rerank --model "$FX/ce_bert" "$T/bad.jsonl" -o "$T/bad.npy" -q 2> "$T/err"; rc=$?
[ $rc = 1 ] && grep -q "bad.jsonl:2" "$T/err" && grep -q passage "$T/err" && [ ! -e "$T/bad.npy" ] \
    && ok "rerank: a bad line fails naming file:line, nothing written" || fail "rerank bad line (rc $rc)" "$(cat "$T/err")"
"$SYNEG" rerank --model "$FX/wp_uncased" "$T/pairs.jsonl" -o "$T/x.npy" -q 2> "$T/err"; rc=$?
[ $rc = 1 ] && grep -q "SequenceClassification" "$T/err" && [ ! -e "$T/x.npy" ] \
    && ok "rerank: an embedding model is refused by name" || fail "rerank embedding model (rc $rc)" "$(cat "$T/err")"
"$SYNEG" rerank "$T/pairs.jsonl" -o "$T/x.npy" 2>/dev/null; [ $? = 2 ] && ok "rerank: usage exit 2" || fail "rerank usage"

# embed --prompt / --as query take config_sentence_transformers.json's prompts
python3 -c "
import json
for t in json.load(open('$FX/texts.json')): print(json.dumps({'text': t.replace(chr(0), '')}))" > "$T/texts.jsonl"
SKIP_ROWS=$(python3 -c "
import json
print(' '.join(str(i) for i, t in enumerate(json.load(open('$FX/texts.json'))) if chr(0) in t))")
export SKIP_ROWS
"$SYNEG" embed --model "$FX/bpe_roberta_bf16" --prompt query "$T/texts.jsonl" -o "$T/q.npy" -q
out=$(npy_close "$T/q.npy" "$FX/bpe_roberta_bf16/ref/query.npy") \
    && ok "embed --prompt query: encode(prompt_name='query') with include_prompt false ($out)" || fail "embed --prompt" "$out"
"$SYNEG" embed --model "$FX/bpe_roberta_bf16" --as query "$T/texts.jsonl" -o "$T/q2.npy" -q
cmp -s "$T/q.npy" "$T/q2.npy" && ok "embed --as query uses the \"query\" prompt" || fail "embed --as query"
"$SYNEG" embed --model "$FX/bpe_roberta_bf16" --prompt nope "$T/texts.jsonl" -o "$T/n.npy" -q 2> "$T/err"; rc=$?
[ $rc = 2 ] && grep -q "query" "$T/err" && [ ! -e "$T/n.npy" ] && ok "embed --prompt NAME: an unknown name lists the prompts" \
    || fail "embed --prompt nope (rc $rc)" "$(cat "$T/err")"
done_tests
