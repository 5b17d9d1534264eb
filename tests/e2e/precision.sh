#!/bin/sh
# syneg embed --precision fp32|bf16|auto and the encoder.precision setting
# ($SYNEG_PRECISION): bf16 vectors are within cosine 0.9995 of fp32 (the
# tolerance README's "Precision" explains) but not equal to them; auto is bf16
# exactly where the CPU has avx512_bf16; bad values and bf16 on a CPU without
# it (SYNEG_NO_BF16=1 acts as one) exit 2 naming the fix, writing nothing;
# and a session's dense search reads the setting.
. tests/e2e/lib.sh.inc
FX=tests/fixtures/models
M="$FX/wp_uncased"
python3 -c "
import json
for t in json.load(open('$FX/texts.json')):
    if '\0' not in t: print(json.dumps({'text': t}))" > "$T/in.jsonl"
# cos_min A.npy B.npy: prints the smallest row cosine
cos_min() {
    python3 - "$1" "$2" <<'PY'
import struct, sys, ast, math
def load(p):
    b = open(p, 'rb').read()
    hl = struct.unpack('<H', b[8:10])[0]
    h = ast.literal_eval(b[10:10 + hl].decode())
    d = b[10 + hl:]
    return h['shape'], struct.unpack('<%df' % (len(d) // 4), d)
(sa, a), (sb, b) = load(sys.argv[1]), load(sys.argv[2])
assert sa == sb, (sa, sb)
n, w = sa
worst = 1.0
for i in range(n):
    x, y = a[i * w:(i + 1) * w], b[i * w:(i + 1) * w]
    d = sum(p * q for p, q in zip(x, y)); nx = math.sqrt(sum(p * p for p in x)); ny = math.sqrt(sum(q * q for q in y))
    worst = min(worst, d / (nx * ny) if nx and ny else 1.0)
print('%.6f' % worst)
PY
}
has_bf16=0
grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null && has_bf16=1

check "embed --precision fp32" "$SYNEG" embed --model "$M" --precision fp32 "$T/in.jsonl" -o "$T/f32.npy" -q
check "embed with no flag (default fp32)" "$SYNEG" embed --model "$M" "$T/in.jsonl" -o "$T/def.npy" -q
cmp -s "$T/f32.npy" "$T/def.npy" && ok "default is fp32" || fail "default is fp32"
check "embed --precision auto" "$SYNEG" embed --model "$M" --precision auto "$T/in.jsonl" -o "$T/auto.npy" -q
if [ $has_bf16 = 1 ]; then
    check "embed --precision bf16" "$SYNEG" embed --model "$M" --precision bf16 "$T/in.jsonl" -o "$T/b16.npy" -q
    c=$(cos_min "$T/f32.npy" "$T/b16.npy")
    python3 -c "import sys; sys.exit(0 if float('$c') >= 0.9995 else 1)" && ok "bf16 within cosine 0.9995 of fp32 (min $c)" \
        || fail "bf16 cosine" "$c"
    cmp -s "$T/f32.npy" "$T/b16.npy" && fail "bf16 vectors equal fp32: the bf16 path did not run" || ok "bf16 differs from fp32"
    cmp -s "$T/auto.npy" "$T/b16.npy" && ok "auto is bf16 on this CPU (avx512_bf16)" || fail "auto is bf16 here"
    SYNEG_PRECISION=bf16 "$SYNEG" embed --model "$M" "$T/in.jsonl" -o "$T/env.npy" -q
    cmp -s "$T/env.npy" "$T/b16.npy" && ok "SYNEG_PRECISION=bf16 acts as --precision bf16" || fail "SYNEG_PRECISION"
    "$SYNEG" embed --model "$M" --precision fp32 "$T/in.jsonl" -o "$T/flag.npy" -q
    SYNEG_PRECISION=bf16 "$SYNEG" embed --model "$M" --precision fp32 "$T/in.jsonl" -o "$T/flag2.npy" -q
    cmp -s "$T/flag2.npy" "$T/f32.npy" && ok "the flag wins over SYNEG_PRECISION" || fail "flag over env"
else
    cmp -s "$T/auto.npy" "$T/f32.npy" && ok "auto is fp32 on this CPU (no avx512_bf16)" || fail "auto is fp32 here"
fi
# bf16 where the CPU lacks it: exit 2, the fix named, nothing written
SYNEG_NO_BF16=1 "$SYNEG" embed --model "$M" --precision bf16 "$T/in.jsonl" -o "$T/no.npy" -q 2> "$T/err"; rc=$?
[ $rc = 2 ] && grep -q "avx512_bf16" "$T/err" && grep -q "fp32" "$T/err" && [ ! -e "$T/no.npy" ] \
    && ok "bf16 without avx512_bf16: exit 2, names the CPU flag and fp32" || fail "bf16 refused (rc $rc)" "$(cat "$T/err")"
SYNEG_NO_BF16=1 "$SYNEG" embed --model "$M" --precision auto "$T/in.jsonl" -o "$T/auto2.npy" -q
cmp -s "$T/auto2.npy" "$T/f32.npy" && ok "auto without avx512_bf16 is fp32" || fail "auto falls to fp32 without the CPU flag"
"$SYNEG" embed --model "$M" --precision fp16 "$T/in.jsonl" -o "$T/bad.npy" -q 2> "$T/err"; rc=$?
[ $rc = 2 ] && grep -q "fp32, bf16 or auto" "$T/err" && [ ! -e "$T/bad.npy" ] && ok "--precision fp16: exit 2" \
    || fail "--precision fp16 (rc $rc)" "$(cat "$T/err")"
SYNEG_PRECISION=half "$SYNEG" embed --model "$M" "$T/in.jsonl" -o "$T/bad.npy" -q 2> "$T/err"; rc=$?
[ $rc = 2 ] && grep -q "SYNEG_PRECISION" "$T/err" && ok "SYNEG_PRECISION=half: exit 2 naming the variable" \
    || fail "SYNEG_PRECISION=half (rc $rc)" "$(cat "$T/err")"
"$SYNEG" embed --help | grep -q -- "--precision P" && ok "--help lists --precision" || fail "--help"
"$SYNEG" set --list 2>/dev/null | grep -q "encoder.precision" && ok "setting encoder.precision listed" \
    || fail "set --list has no encoder.precision"

# training: --precision on syneg train (a few steps of a tiny model on Cranfield)
DATA=$SHARED_DATA/cranfield
if need "$DATA/corpus.jsonl" "training at bf16 on Cranfield"; then
    S=$T/cran
    "$SYNEG" init "$S" --beir "$DATA" >/dev/null 2>&1
    COMMON="--scratch tiny --vocab-size 2000 --group 1 --batch 8 --max-len 32 --eval-queries 10 --eval-docs 50 --threads 2 --seed 7 --max-steps 2"
    if [ $has_bf16 = 1 ]; then
        out=$("$SYNEG" train "$S" $COMMON --precision bf16 2>&1) && ok "train --precision bf16 runs" || fail "train bf16" "$out"
        echo "$out" | grep -q 'bf16 products' && ok "the run says it trains with bf16 products" || fail "train prints the precision" "$out"
        ID=$(ls "$S/runs" | head -n 1)
        grep -q '"precision": "bf16"' "$S/runs/$ID/config.json" && ok "config.json keeps precision bf16 (resume and launch use it)" \
            || fail "config.json precision" "$(cat "$S/runs/$ID/config.json")"
        [ -f "$S/runs/$ID/final/model.safetensors" ] && ok "bf16 run writes its final model" || fail "bf16 final model"
    fi
    out=$("$SYNEG" train "$S" $COMMON --precision fp32 2>&1) && echo "$out" | grep -q 'fp32 products' \
        && ok "train --precision fp32" || fail "train fp32" "$out"
    SYNEG_NO_BF16=1 "$SYNEG" train "$S" $COMMON --precision bf16 > "$T/out" 2> "$T/err"; rc=$?
    [ $rc = 2 ] && grep -q avx512_bf16 "$T/err" && ok "train bf16 without avx512_bf16: exit 2" || fail "train bf16 refused (rc $rc)" "$(cat "$T/err")"
    "$SYNEG" train "$S" $COMMON --precision half > "$T/out" 2> "$T/err"; rc=$?
    [ $rc = 2 ] && grep -q "fp32|bf16|auto\|fp32, bf16 or auto" "$T/err" && ok "train --precision half: exit 2" || fail "train --precision half (rc $rc)" "$(cat "$T/err")"
    "$SYNEG" train --help | grep -q -- "--precision P" && ok "train --help lists --precision" || fail "train --help"
    # dense search reads the setting; bf16 vectors get a cache of their own
    "$SYNEG" search "$S" --retriever dense --model "$M" -k 3 --json wing flutter > "$T/s32" 2>&1
    n32=$(ls "$S/cache/dense" 2>/dev/null | wc -l)
    if [ $has_bf16 = 1 ]; then
        "$SYNEG" set "$S" encoder.precision bf16 >/dev/null 2>&1
        "$SYNEG" search "$S" --retriever dense --model "$M" -k 3 --json wing flutter > "$T/s16" 2>&1 \
            && ok "dense search with encoder.precision bf16" || fail "dense search bf16" "$(cat "$T/s16")"
        n16=$(ls "$S/cache/dense" 2>/dev/null | wc -l)
        [ "$n32" = 1 ] && [ "$n16" = 2 ] && ok "bf16 vectors cached apart from fp32 ones" || fail "dense caches: $n32 then $n16"
        SYNEG_NO_BF16=1 "$SYNEG" search "$S" --retriever dense --model "$M" -k 3 wing > "$T/out" 2> "$T/err"; rc=$?
        [ $rc = 2 ] && grep -q avx512_bf16 "$T/err" && grep -q "encoder.precision" "$T/err" \
            && ok "dense search, setting bf16, without avx512_bf16: exit 2 naming the flag and the setting" \
            || fail "dense search bf16 refused (rc $rc)" "$(cat "$T/err")"
        # --precision on search: the flag wins over the session's setting
        "$SYNEG" search "$S" --retriever dense --model "$M" --precision fp32 -k 3 --json wing flutter > "$T/f32" 2>&1
        cmp -s "$T/f32" "$T/s32" && ok "search --precision fp32 over setting bf16 gives the fp32 hits" \
            || fail "search --precision fp32" "$(cat "$T/f32")"
        SYNEG_NO_BF16=1 "$SYNEG" search "$S" --retriever dense --model "$M" --precision fp32 -k 3 wing > /dev/null 2>&1 \
            && ok "search --precision fp32 runs where bf16 is missing, whatever the setting" || fail "search fp32 without bf16"
        "$SYNEG" set "$S" encoder.precision --unset >/dev/null 2>&1 || "$SYNEG" set "$S" --unset encoder.precision >/dev/null 2>&1
        "$SYNEG" search "$S" --retriever dense --model "$M" --precision bf16 -k 3 --json wing flutter > "$T/f16" 2>&1
        cmp -s "$T/f16" "$T/s16" && ok "search --precision bf16 equals the setting's bf16 search" \
            || fail "search --precision bf16" "$(cat "$T/f16")"
        SYNEG_NO_BF16=1 "$SYNEG" search "$S" --retriever dense --model "$M" --precision bf16 -k 3 wing > "$T/out" 2> "$T/err"; rc=$?
        [ $rc = 2 ] && grep -q avx512_bf16 "$T/err" && grep -q -- "--precision" "$T/err" && [ ! -s "$T/out" ] \
            && ok "search --precision bf16 without avx512_bf16: exit 2, no hits" || fail "search --precision bf16 refused (rc $rc)" "$(cat "$T/err")"
        # mine: the same flag and refusal
        nseg=$(ls "$S/negatives" 2>/dev/null | wc -l)
        SYNEG_NO_BF16=1 "$SYNEG" mine "$S" --retriever dense --model "$M" --precision bf16 > "$T/out" 2> "$T/err"; rc=$?
        [ $rc = 2 ] && grep -q avx512_bf16 "$T/err" && [ "$(ls "$S/negatives" 2>/dev/null | wc -l)" = "$nseg" ] \
            && ok "mine --precision bf16 without avx512_bf16: exit 2, nothing mined" || fail "mine bf16 refused (rc $rc)" "$(cat "$T/err")"
        SYNEG_NO_BF16=1 SYNEG_PRECISION=bf16 "$SYNEG" mine "$S" --retriever dense --model "$M" > "$T/out" 2> "$T/err"; rc=$?
        [ $rc = 2 ] && grep -q SYNEG_PRECISION "$T/err" && ok "mine with SYNEG_PRECISION=bf16 without avx512_bf16: exit 2" \
            || fail "mine env bf16 refused (rc $rc)" "$(cat "$T/err")"
        "$SYNEG" mine "$S" --retriever dense --model "$M" --precision bf16 --num 2 > "$T/out" 2>&1 \
            && ok "mine --precision bf16 runs" || fail "mine bf16" "$(cat "$T/out")"
        n16b=$(ls "$S/cache/dense" 2>/dev/null | wc -l)
        [ "$n16b" = 2 ] && ok "mine --precision bf16 reuses the bf16 vectors" || fail "dense caches after mine: $n16b"
    fi
    "$SYNEG" search "$S" --retriever dense --model "$M" --precision half -k 3 wing > /dev/null 2> "$T/err"; rc=$?
    [ $rc = 2 ] && grep -q "fp32, bf16 or auto" "$T/err" && ok "search --precision half: exit 2" || fail "search --precision half (rc $rc)" "$(cat "$T/err")"
    "$SYNEG" mine "$S" --retriever dense --model "$M" --precision half > /dev/null 2> "$T/err"; rc=$?
    [ $rc = 2 ] && grep -q "fp32, bf16 or auto" "$T/err" && ok "mine --precision half: exit 2" || fail "mine --precision half (rc $rc)" "$(cat "$T/err")"
    "$SYNEG" search "$S" --precision bf16 wing > /dev/null 2> "$T/err"; rc=$?
    [ $rc = 2 ] && grep -q "retriever dense" "$T/err" && ok "search --precision with bm25: exit 2" || fail "search bm25 --precision (rc $rc)"
    "$SYNEG" mine "$S" --retriever bm25 --precision bf16 > /dev/null 2> "$T/err"; rc=$?
    [ $rc = 2 ] && grep -q "retriever dense" "$T/err" && ok "mine --precision with bm25: exit 2" || fail "mine bm25 --precision (rc $rc)"
    SYNEG_PRECISION=bf16 SYNEG_NO_BF16=1 "$SYNEG" search "$S" -k 1 wing > /dev/null 2>&1 \
        && ok "bm25 search ignores the encoder precision" || fail "bm25 search with SYNEG_PRECISION=bf16 and no bf16"
    "$SYNEG" search --help | grep -q -- "--precision P" && ok "search --help lists --precision" || fail "search --help"
    "$SYNEG" mine --help | grep -q -- "--precision P" && ok "mine --help lists --precision" || fail "mine --help"
fi
done_tests
