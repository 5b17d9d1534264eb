#!/bin/sh
# Issue 15's export defects on Cranfield: distillation scores come from one
# scorer (positives too), and --mix 0 means retrieved negatives only (filling
# from the synthetic class is the explicit --fill, and counted).
. tests/e2e/lib.sh.inc
S=$T/cran
check "init session" "$SYNEG" init "$S" --beir "$SHARED_DATA/cranfield"
check "mine 3 per query" "$SYNEG" mine "$S" --retriever bm25 --num 3
check "offline synthesis" "$SYNEG" synth "$S" --offline

# --scores + --launch: the launch script distils; the scores it distils from
# must put the positive on the same scale as the negatives
check "export --scores --launch torchrun" "$SYNEG" export "$S" --format flag --scores --num 7 -o "$T/kd/train.jsonl" --launch torchrun
grep -q -- "--knowledge_distillation True" "$T/kd/train.jsonl.launch.sh" && ok "the launch script distils" || fail "no distillation flag"
python3 - "$T/kd/train.jsonl" <<'PY' > "$T/kd.out" 2>&1 && ok "pos_scores are BM25 scores like neg_scores ($(cat "$T/kd.out"))" || fail "distillation scores" "$(cat "$T/kd.out")"
import json, math, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
grade_like = sum(1 for d in lines if d['pos_scores'][0] in (1, 2, 3, 4, 5))
above = sum(1 for d in lines if d['pos_scores'][0] > max(d['neg_scores']))
# the teacher's share of the positive in a softmax over the line (FlagEmbedding's target)
share = sum(math.exp(d['pos_scores'][0]) / sum(math.exp(x) for x in d['pos_scores'] + d['neg_scores']) for d in lines) / len(lines)
print(f"{len(lines)} lines, {grade_like} look like grades, positive above every negative on {above}, mean target on the positive {share:.3f}")
sys.exit(0 if grade_like < len(lines) / 20 and share > 0.01 else 1)
PY
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r['scores']['scorer']=='bm25' else 1)" "$T/kd/train.jsonl.report.json" \
    && ok "the report names the scorer" || fail "report scorer" "$(cat "$T/kd/train.jsonl.report.json")"

# --mix 0: retrieved only, no fills (3 mined per query, 7 asked: repeats, not synthetic)
check "export --mix 0" "$SYNEG" export "$S" --format flag --mix 0 --num 7 -o "$T/m0/train.jsonl"
python3 - "$T/m0/train.jsonl.report.json" <<'PY' > "$T/m0.out" 2>&1 && ok "--mix 0: $(cat "$T/m0.out")" || fail "--mix 0 drew synthetic negatives" "$(cat "$T/m0.out")"
import json, sys
r = json.load(open(sys.argv[1]))
f = r['fills']
print(f"synthetic {r['synthetic']}, fills {f['synthetic_short'] + f['retrieved_short']}, repeats {r['repeats']}")
sys.exit(0 if r['synthetic'] == 0 and f['synthetic_short'] + f['retrieved_short'] == 0 and r['repeats'] > 0 else 1)
PY
check "export --mix 0 --fill" "$SYNEG" export "$S" --format flag --mix 0 --num 7 --fill --include-offline -o "$T/m0f/train.jsonl"
python3 - "$T/m0f/train.jsonl.report.json" <<'PY' > "$T/m0f.out" 2>&1 && ok "--mix 0 --fill fills and counts: $(cat "$T/m0f.out")" || fail "--fill" "$(cat "$T/m0f.out")"
import json, sys
r = json.load(open(sys.argv[1]))
f = r['fills']
print(f"synthetic {r['synthetic']}, fills {f['retrieved_short']}")
sys.exit(0 if 0 < f['retrieved_short'] <= r['synthetic'] and f['fill_option'] else 1)
PY
done_tests
