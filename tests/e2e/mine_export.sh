#!/bin/sh
# Mining with a second retriever keeps the first one's rows (one row per
# source); export says when it pads short queries by repeating negatives and
# --no-repeat writes only the distinct ones; a TREC run lists a document once.
. tests/e2e/lib.sh.inc
S=$T/s
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }
check "init" "$SYNEG" init "$S" --beir tests/golden/export/data
check "mine bm25" "$SYNEG" mine "$S" --retriever bm25 --range 0:5 --num 5
"$SYNEG" info "$S" --json > "$T/i1.json"
bm0=$(jget "$T/i1.json" "['negatives']['bm25']")
check "mine dense" "$SYNEG" mine "$S" --retriever dense --model tests/fixtures/encoder/tiny --range 0:5 --num 5
"$SYNEG" info "$S" --json > "$T/i2.json"
bm1=$(jget "$T/i2.json" "['negatives']['bm25']"); dn=$(jget "$T/i2.json" "['negatives']['dense']")
[ "$bm0" -gt 0 ] && [ "$bm1" = "$bm0" ] && [ "$dn" -gt 0 ] \
    && ok "dense mining keeps the bm25 rows ($bm0 bm25, $dn dense)" || fail "bm25 rows after dense mining: $bm0 -> $bm1 (dense $dn)"

# q2 has 2 + the dense rows; ask for more negatives than any query has
"$SYNEG" export "$S" --format flag --num 12 -o "$T/a.jsonl" > "$T/out" 2>&1 || fail "export" "$(cat "$T/out")"
grep -q "padded: .* instances had fewer than 12 distinct negatives" "$T/out" && grep -q -- "--no-repeat" "$T/out" \
    && ok "export says it padded short queries and offers --no-repeat" || fail "padding report" "$(cat "$T/out")"
python3 - "$T/a.jsonl" <<'PY' && ok "report.json: padded_instances and the fewest, groups of 12 with repeats" || fail "padded report.json"
import json, sys
rep = json.load(open(sys.argv[1] + ".report.json"))
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rep["padded_instances"] == len(rows) > 0 and rep["repeats"] > 0 and not rep["no_repeat"], rep
assert rep["padded_fewest"]["distinct"] < 12, rep
assert all(len(r["neg"]) == 12 for r in rows)
PY
"$SYNEG" export "$S" --format flag --num 12 --no-repeat -o "$T/b.jsonl" > "$T/out" 2>&1 || fail "export --no-repeat" "$(cat "$T/out")"
python3 - "$T/b.jsonl" <<'PY' && ok "--no-repeat: distinct negatives only, no document twice" || fail "--no-repeat output"
import json, sys
rep = json.load(open(sys.argv[1] + ".report.json"))
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rep["no_repeat"] and rep["repeats"] == 0, rep
for r in rows:
    assert 0 < len(r["neg"]) < 12 and len(set(r["neg"])) == len(r["neg"]), r
PY
grep -q "short: .*hold only those" "$T/out" && ok "--no-repeat says the groups are short" || fail "--no-repeat message" "$(cat "$T/out")"
"$SYNEG" export "$S" --format trec -o "$T/run" > "$T/out" 2>&1 || fail "export trec" "$(cat "$T/out")"
dups=$(awk '{print $1, $3}' "$T/run" | sort | uniq -d | wc -l)
[ -s "$T/run" ] && [ "$dups" = 0 ] && ok "trec run: each document once per query" || fail "trec run has $dups repeated (query, doc)"
done_tests
