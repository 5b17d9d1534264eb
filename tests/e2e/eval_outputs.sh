#!/bin/sh
# syneg eval on a tiny collection: means over every judged query by default
# (trec_eval -c; a query without hits counts as 0) and say so, --drop-no-hits
# keeps the old mean; the run file lists tied scores in trec_eval's order
# (document id descending), which the reference re-implementation confirms.
. tests/e2e/lib.sh.inc
D=$T/data; S=$T/s
mkdir -p "$D/qrels"
cat > "$D/corpus.jsonl" <<'J'
{"_id": "d1", "title": "", "text": "apple pie"}
{"_id": "d2", "title": "", "text": "apple pie"}
{"_id": "d3", "title": "", "text": "apple pie"}
{"_id": "d4", "title": "", "text": "banana split"}
J
cat > "$D/queries.jsonl" <<'J'
{"_id": "q1", "text": "apple"}
{"_id": "q2", "text": "zzzz"}
{"_id": "q3", "text": "banana"}
J
printf 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td4\t1\n' > "$D/qrels/test.tsv"
printf 'query-id\tcorpus-id\tscore\nq3\td4\t1\n' > "$D/qrels/train.tsv"
check "init" "$SYNEG" init "$S" --beir "$D"
jv() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

out=$("$SYNEG" eval "$S" --json -k 10 --run "$T/run.txt" 2>"$T/err")
[ "$(jv "$out" queries)" = 2 ] && [ "$(jv "$out" judged)" = 2 ] && [ "$(jv "$out" no_hits)" = 1 ] \
    && [ "$(jv "$out" complete)" = True ] && ok "default: over both judged queries, complete: true" \
    || fail "default eval" "$out $(cat "$T/err")"
# q1: d1 (relevant) is third of three tied hits -> nDCG@10 = 1/log2(4) = 0.5; q2 has no hits -> 0
python3 -c "import json,sys; v=json.loads(sys.argv[1])['ndcg@10']; sys.exit(0 if abs(v-0.25)<1e-9 else 1)" "$out" \
    && ok "the query without hits counts as 0 (nDCG@10 0.25)" || fail "complete mean" "$out"
dropped=$("$SYNEG" eval "$S" --json -k 10 --drop-no-hits 2>&1)
[ "$(jv "$dropped" queries)" = 1 ] && [ "$(jv "$dropped" complete)" = False ] \
    && python3 -c "import json,sys; sys.exit(0 if abs(json.loads(sys.argv[1])['ndcg@10']-0.5)<1e-9 else 1)" "$dropped" \
    && ok "--drop-no-hits: over the query with hits only (0.5)" || fail "--drop-no-hits" "$dropped"
txt=$("$SYNEG" eval "$S" -k 10 2>&1)
echo "$txt" | grep -q "means over all 2 judged queries" && ok "the text output says the means are complete" || fail "text output" "$txt"
txt=$("$SYNEG" eval "$S" -k 10 --drop-no-hits 2>&1)
echo "$txt" | grep -q "1 judged queries without hits left out" && ok "and says when queries were left out" || fail "text output, dropped" "$txt"

# ties in trec_eval's order: d3, d2, d1 with ranks 1, 2, 3
got=$(awk '$1=="q1"{printf "%s:%s ", $3, $4}' "$T/run.txt")
[ "$got" = "d3:1 d2:2 d1:3 " ] && ok "run file: tied scores by document id descending" || fail "run file order: $got" "$(cat "$T/run.txt")"
ref=$(python3 tests/e2e/treceval_ref.py "$D/qrels/test.tsv" "$T/run.txt" -c 2>&1)
python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert b["order_ok"] and b["queries"] == a["queries"] == 2, b
assert abs(a["ndcg@10"] - b["ndcg@10"]) < 1e-9, (a, b)
' "$out" "$ref" && ok "the reference trec_eval -c agrees, and finds the file in its order" || fail "reference" "$out
$ref"
done_tests
