#!/bin/sh
# End-to-end: the held-out-positives measurement (syneg fneval) on Cranfield and
# CISI with BM25 and the default filters, the suspects queue on the demo, and
# the usage errors.  The figures asserted are the ones reached (README,
# "False negatives"); a change to the signals or the model that loses recall
# or floods the queue fails here.
. tests/e2e/lib.sh.inc
for name in cranfield cisi; do
    D="$SHARED_DATA/$name"
    need "$D/corpus.jsonl" "fneval on $name" || continue
    S="$T/$name"
    "$SYNEG" init "$S" --beir "$D" >/dev/null 2>&1 || fail "init $name"
    "$SYNEG" fneval "$S" --retriever bm25 --split all --json >"$T/$name.json" 2>"$T/err" \
        || fail "fneval $name" "$(cat "$T/err")"
done
if [ -s "$T/cranfield.json" ] && [ -s "$T/cisi.json" ]; then
    out=$(python3 - "$T/cranfield.json" "$T/cisi.json" <<'PY' 2>&1
import json, sys
c, i = (json.load(open(p)) for p in sys.argv[1:3])
for n, j in (("cranfield", c), ("cisi", i)):
    print(n, "recall %.3f@10%% %.3f rate %.3f kept %.3f exported %.3f (%d mined)" % (
        j["recall"], j["recall_top10"], j["suspect_rate"], j["clean_kept"], j["exported_share"], j["mined"]))
    assert j["mined"] >= 40, j["mined"]
    assert j["suspect_rate"] <= 0.25, j["suspect_rate"]
    assert j["recall"] >= 0.45, j["recall"]
    assert j["clean_kept"] >= 0.95, j["clean_kept"]
    assert j["exported_share"] <= 0.55, j["exported_share"]
    assert j["mine"]["warning"] is None, j["mine"]["warning"]
assert c["recall"] >= 0.65, c["recall"]
assert (c["recall"] + i["recall"]) / 2 >= 0.55
assert (c["suspect_rate"] + i["suspect_rate"]) / 2 <= 0.22
assert (c["exported"] + i["exported"]) / (c["mined"] + i["mined"]) <= 0.5
PY
)
    [ $? = 0 ] && ok "held-out recall and suspect rate: $(echo "$out" | tr '\n' ';')" || fail "held-out targets" "$out"
    # the same hidden choice twice: the same figures
    "$SYNEG" fneval "$T/cranfield" --retriever bm25 --split all --json >"$T/again.json" 2>/dev/null
    python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for j in (a, b):
    del j["mine"]["seconds"], j["mine"]["retrieve_seconds"]
sys.exit(0 if a == b else 1)' "$T/again.json" "$T/cranfield.json" && ok "fneval is deterministic" || fail "fneval twice differs"
    # the old default (max-rel 0.95 alone) floods the queue: the measurement shows it
    "$SYNEG" fneval "$T/cranfield" --retriever bm25 --split all --fn-threshold 2 --max-rel 0.95 --json \
        >"$T/old.json" 2>/dev/null
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["suspect_rate"] > 0.3 and j["mine"]["warning"] else 1)' \
        "$T/old.json" && ok "max-rel 0.95 alone: implausible suspect rate, warned" || fail "old default not flagged" "$(cat "$T/old.json")"
    "$SYNEG" fneval "$T/cranfield" --retriever bm25 --split all --features "$T/f.tsv" >/dev/null 2>&1
    head -1 "$T/f.tsv" | grep -q "hidden" && [ "$(wc -l <"$T/f.tsv")" -gt 1000 ] && ok "features file" || fail "features file"
    [ ! -d "$T/cranfield/negatives" ] || [ -z "$(ls "$T/cranfield/negatives")" ] && ok "fneval writes no rows" \
        || fail "fneval wrote rows"
fi
"$SYNEG" fneval "$T" --retriever bm25 --hide 1.5 >/dev/null 2>&1; [ $? -eq 2 ] && ok "--hide 1.5: usage" || fail "--hide 1.5"
"$SYNEG" mine "$T" --retriever bm25 --fn-threshold 0 >/dev/null 2>&1; [ $? -eq 2 ] && ok "--fn-threshold 0: usage" || fail "--fn-threshold 0"

# the demo, mined as make demo does: planted false negatives lead the queue
D=$T/demo
pristine_demo "$D" || fail "copy the demo"
"$SYNEG" mine "$D" --retriever bm25 --range 0:50 --num 8 >/dev/null 2>"$T/err" || fail "demo mine" "$(cat "$T/err")"
"$SYNEG" suspects "$D" --limit 100 --all --json >"$T/q.json" 2>"$T/err" || fail "suspects --json" "$(cat "$T/err")"
sed -n 's/^- \(q[0-9]*\) -> \(d[0-9]*\).*/\1 \2/p' sessions/demo/data/README.md >"$T/planted"
out=$(python3 - "$T/q.json" "$T/planted" sessions/demo/data/qrels/train.tsv <<'PY' 2>&1
import json, sys
q = json.load(open(sys.argv[1]))
planted = set(tuple(l.split()) for l in open(sys.argv[2]))
train = set(l.split()[0] for l in open(sys.argv[3]).readlines()[1:])
reach = [p for p in planted if p[0] in train]
got = sum(1 for r in q if (r["query"], r["passage"]) in planted)
like = [r["likelihood"] for r in q]
assert like == sorted(like, reverse=True), "queue order"
assert all(r["signals"] and "posnear" in r["signals"] for r in q)
print("%d of the %d planted in train queries (%d planted in all)" % (got, len(reach), len(planted)))
assert got >= 25, got
PY
)
[ $? = 0 ] && ok "demo: first 100 of the queue: $out" || fail "demo queue" "$out"
out=$("$SYNEG" suspects "$D" --limit 3 2>&1)
echo "$out" | head -1 | grep -q "suspects in the queue" && [ "$(echo "$out" | grep -c '^ *[0-9]  ')" = 3 ] \
    && ok "suspects --limit 3" || fail "suspects --limit 3" "$out"
"$SYNEG" suspects "$D" --limit x >/dev/null 2>&1; [ $? -eq 2 ] && ok "--limit x: usage" || fail "--limit x"
done_tests
