#!/bin/sh
# Issue 14 on Cranfield: offline synthesis then a hybrid export.  Synthetic
# negatives must not be told apart by form: the export's shortcut audit puts
# title and length AUCs at or below 0.75, and the synthetic negatives do not
# copy their positive (median word overlap <= 0.8).
. tests/e2e/lib.sh.inc
S=$T/cran
check "init session" "$SYNEG" init "$S" --beir "$SHARED_DATA/cranfield"
check "mine" "$SYNEG" mine "$S" --retriever bm25 --num 8
check "offline synthesis" "$SYNEG" synth "$S" --offline
"$SYNEG" export "$S" --format st --mix 0.5 --num 8 -o "$T/plain.jsonl" > "$T/plain.out" 2>&1
grep -q "left out [0-9]* negatives of the offline generator" "$T/plain.out" \
    && ok "export leaves offline negatives out by default and says so" || fail "offline default" "$(cat "$T/plain.out")"
check "hybrid export --include-offline" "$SYNEG" export "$S" --format st --mix 0.5 --num 8 --include-offline -o "$T/st.jsonl"
python3 - "$T/st.jsonl.report.json" > "$T/audit.out" 2>&1 <<'PY' && ok "audit: $(cat "$T/audit.out")" || fail "audit" "$(cat "$T/audit.out")"
import json, sys
r = json.load(open(sys.argv[1]))
a = r['audit']
print(f"title {a['auc']['title']}, length {a['auc']['length']}, logistic {a['logistic_auc']}, "
      f"median overlap {a['median_overlap']['synthetic']} ({a['synthetic']} synthetic, {a['retrieved']} retrieved)")
ok = a['synthetic'] > 1000 and a['auc']['title'] <= 0.75 and a['auc']['length'] <= 0.75 \
     and a['median_overlap']['synthetic'] <= 0.8 and r['negatives']['offline'] > 0
sys.exit(0 if ok else 1)
PY
# rebalance: length-matched sampling keeps the length AUC at most where it was
check "export --length-match" "$SYNEG" export "$S" --format st --mix 0.5 --num 8 --include-offline --length-match -o "$T/lm.jsonl"
python3 - "$T/st.jsonl.report.json" "$T/lm.jsonl.report.json" > "$T/lm.out" 2>&1 <<'PY' && ok "length-matched: $(cat "$T/lm.out")" || fail "length match" "$(cat "$T/lm.out")"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
la, lb = a['audit']['auc']['length'], b['audit']['auc']['length']
print(f"length AUC {la} -> {lb}")
sys.exit(0 if b['length_match'] and lb <= la + 0.02 else 1)
PY
# the offline rows carry titles and say what made them
python3 - "$T/st.jsonl" > "$T/titles.out" 2>&1 <<'PY' && ok "synthetic passages read 'title text' like the collection" || fail "titles" "$(cat "$T/titles.out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(lines[0]['negative_1'][:120])
sys.exit(0 if len(lines) > 100 else 1)
PY
done_tests
