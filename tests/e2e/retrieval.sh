#!/bin/sh
# End-to-end: index, search, eval and mine on Cranfield through the CLI.
. tests/e2e/lib.sh.inc
D="$SHARED_DATA/cranfield"
S="$T/cran"
need "$D/corpus.jsonl" "retrieval on Cranfield" || { done_tests; exit; }

check "init" "$SYNEG" init "$S" --beir "$D"
out=$("$SYNEG" index "$S" 2>&1)
case "$out" in *"indexed 1400 documents (1398 non-empty)"*) ok "index";; *) fail "index" "$out";; esac
[ -s "$S/cache/bm25/index.bin" ] && ok "index file" || fail "index file"

out=$("$SYNEG" search "$S" -k 3 --json what similarity laws must be obeyed 2>&1)
n=$(echo "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["hits"]))' 2>/dev/null)
[ "$n" = 3 ] && ok "search -k 3 --json" || fail "search -k 3 --json" "$out"

out=$("$SYNEG" eval "$S" --json --run "$T/run.txt" 2>&1)
if echo "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
for k in ("ndcg@10", "mrr@10", "recall@100", "recall@1000", "queries"): assert k in j, k
assert j["queries"] == 75, j["queries"]
# recorded value (README); a change in analysis or scoring moves it
assert abs(j["ndcg@10"] - 0.5210) < 5e-4, j["ndcg@10"]
assert 0 < j["recall@100"] <= j["recall@1000"] <= 1
' 2>&1; then ok "eval --json"; else fail "eval --json" "$out"; fi
lines=$(wc -l < "$T/run.txt")
[ "$lines" -gt 50000 ] && ok "run file ($lines lines)" || fail "run file" "$lines lines"
# the run file scored by an independent trec_eval re-implementation gives the same numbers
ref=$(python3 tests/e2e/treceval_ref.py "$D/qrels/test.tsv" "$T/run.txt" -c 2>&1)
if python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for k in ("ndcg@10", "mrr@10", "recall@100", "recall@1000", "map", "queries"):
    assert abs(a[k] - b[k]) < 2e-6, (k, a[k], b[k])
assert b["order_ok"], "run file not in trec_eval order"
' "$out" "$ref" 2>&1; then ok "eval equals the reference trec_eval -c; the run file is in its order"; else fail "eval equals the reference trec_eval" "$out
$ref"; fi
head -1 "$T/run.txt" | grep -Eq '^[^ ]+ Q0 [^ ]+ 1 [0-9]+\.[0-9]{6} syneg-bm25$' && ok "run file format" || fail "run file format" "$(head -1 "$T/run.txt")"

# k1/b from the session settings change the numbers
"$SYNEG" index "$S" --k1 1.2 --b 0.75 >/dev/null 2>&1
out2=$("$SYNEG" eval "$S" --json 2>&1)
a=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ndcg@10"])')
b=$(echo "$out2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ndcg@10"])')
[ -n "$b" ] && [ "$a" != "$b" ] && ok "k1/b settings used ($a -> $b)" || fail "k1/b settings used" "$out2"
"$SYNEG" index "$S" --k1 0.9 --b 0.4 >/dev/null 2>&1

out=$("$SYNEG" mine "$S" --retriever bm25 --range 0:100 --num 8 2>&1)
case "$out" in *"negatives "*" written"*"suspected false negatives"*) ok "mine";; *) fail "mine" "$out";; esac
[ -s "$S/cache/mine-bm25-report.json" ] && ok "mine report saved" || fail "mine report saved"
out=$("$SYNEG" info "$S" --json 2>&1)
echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin)["negatives"]; assert j["bm25"] > 1000 and j["suspects"] > 0, j' 2>/dev/null \
    && ok "negatives in the store" || fail "negatives in the store" "$out"

# usage errors exit 2 with a hint; data errors exit 1
"$SYNEG" mine "$S" >/dev/null 2>&1; [ $? -eq 2 ] && ok "mine without --retriever: usage" || fail "mine without --retriever: usage"
"$SYNEG" mine "$S" --retriever bm25 --range 9:3 >/dev/null 2>&1; [ $? -eq 2 ] && ok "bad range: usage" || fail "bad range: usage"
out=$("$SYNEG" eval "$S" --split nope 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "nope" && ok "unknown split: error names it" || fail "unknown split" "$out"
"$SYNEG" search "$S" >/dev/null 2>&1; [ $? -eq 2 ] && ok "search without query: usage" || fail "search without query: usage"
done_tests
