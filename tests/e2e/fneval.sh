#!/bin/sh
# End-to-end: the held-out-positives measurement (syneg fneval) on Cranfield and
# CISI with BM25 and the default filters, the suspects queue on the demo, and
# the usage errors.  The figures asserted are the ones reached (README,
# "False negatives"); a change to the signals or the model that loses recall
# or floods the queue fails here.
. tests/e2e/lib.sh.inc
# Three hide seeds per collection (1 was used in fitting the likelihood, 7 and 8
# were not); every run must meet the per-set targets, the means the overall ones.
for name in cranfield cisi; do
    D="$SHARED_DATA/$name"
    need "$D/corpus.jsonl" "fneval on $name" || continue
    S="$T/$name"
    "$SYNEG" init "$S" --beir "$D" >/dev/null 2>&1 || fail "init $name"
    for seed in 1 7 8; do
        "$SYNEG" fneval "$S" --retriever bm25 --split all --hide-seed $seed --json >"$T/$name.$seed.json" 2>"$T/err" \
            || fail "fneval $name seed $seed" "$(cat "$T/err")"
    done
    cp "$T/$name.1.json" "$T/$name.json"
done
if [ -s "$T/cranfield.json" ] && [ -s "$T/cisi.json" ]; then
    out=$(python3 - "$T" <<'PY' 2>&1
import json, sys
runs = {n: [json.load(open("%s/%s.%d.json" % (sys.argv[1], n, s))) for s in (1, 7, 8)] for n in ("cranfield", "cisi")}
mean = lambda n, k: sum(j[k] for j in runs[n]) / len(runs[n])
for n, js in runs.items():
    print(n, " ".join("recall %.2f rate %.3f kept %.2f exported %d/%d;" % (
        j["recall"], j["suspect_rate"], j["clean_kept"], j["exported"], j["mined"]) for j in js))
    for j in js:
        assert j["mined"] >= 25, j["mined"]
        assert j["suspect_rate"] <= 0.205, j["suspect_rate"]      # the band's ceiling, 0.2
        assert j["recall"] >= 0.5, j["recall"]
        assert j["clean_kept"] >= 0.95, j["clean_kept"]
        assert j["exported_share"] <= 0.55, j["exported_share"]
        assert j["mine"]["warning"] is None, j["mine"]["warning"]
        assert j["mine"]["calib_queries"] > 0 and j["mine"]["threshold"] > 0
# measured (seeds 1, 7, 8): Cranfield 0.91-1.00 (mean 0.94), CISI 0.65-0.71
# (0.68); the previous likelihood (best-ranked negatives, fixed threshold)
# reached 0.60-0.74 and 0.39-0.49, so these fail if it comes back
assert mean("cranfield", "recall") >= 0.85, mean("cranfield", "recall")
assert mean("cisi", "recall") >= 0.60, mean("cisi", "recall")
assert (mean("cranfield", "suspect_rate") + mean("cisi", "suspect_rate")) / 2 <= 0.205
ex = sum(j["exported"] for n in runs for j in runs[n]); mi = sum(j["mined"] for n in runs for j in runs[n])
assert ex / mi <= 0.3, (ex, mi)
PY
)
    [ $? = 0 ] && ok "held-out recall and suspect rate: $(echo "$out" | tr '\n' ' ')" || fail "held-out targets" "$out"
    # the threshold follows the settings table; a flag overrides the setting
    "$SYNEG" set "$T/cisi" mine.suspect_max 0.1 >/dev/null 2>&1 || fail "set mine.suspect_max"
    "$SYNEG" fneval "$T/cisi" --retriever bm25 --split all --json >"$T/set.json" 2>/dev/null
    "$SYNEG" fneval "$T/cisi" --retriever bm25 --split all --suspects 0:1 --json >"$T/flag.json" 2>/dev/null
    python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["suspect_rate"] <= 0.101 and a["mine"]["suspect_max"] == 0.1, a["suspect_rate"]
assert b["mine"]["suspect_max"] == 1 and b["suspect_rate"] > 0.101, b["suspect_rate"]' "$T/set.json" "$T/flag.json" \
        && ok "mine.suspect_max from the session; --suspects overrides it" || fail "settings not read"
    "$SYNEG" set "$T/cisi" mine.fn_threshold 0 >/dev/null 2>&1; [ $? -eq 2 ] && ok "mine.fn_threshold 0 refused" \
        || fail "mine.fn_threshold 0 accepted"
    "$SYNEG" set "$T/cisi" mine.suspect_min 0.15 >/dev/null 2>&1
    "$SYNEG" fneval "$T/cisi" --retriever bm25 --split all >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 2 ] && grep -q "suspect_min" "$T/err" && ok "suspect_min above suspect_max: named, exit 2" \
        || fail "inverted band" "rc $rc $(cat "$T/err")"
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
# shards of one run share the threshold calibrated on the whole split, so the
# shards' rows are the rows of the unsharded run
if [ -d "$T/cranfield" ]; then
    M=$T/mine-shards
    cp -r "$T/cranfield" "$M.one" && cp -r "$T/cranfield" "$M.two" && rm -rf "$M.one/negatives" "$M.two/negatives"
    "$SYNEG" mine "$M.one" --retriever bm25 --json >"$T/one.json" 2>/dev/null
    "$SYNEG" mine "$M.two" --retriever bm25 --shard 0/2 --json >"$T/s0.json" 2>/dev/null
    "$SYNEG" mine "$M.two" --retriever bm25 --shard 1/2 --json >"$T/s1.json" 2>/dev/null
    "$SYNEG" suspects "$M.one" --all --limit 0 --json >"$T/one.q" 2>/dev/null
    "$SYNEG" suspects "$M.two" --all --limit 0 --json >"$T/two.q" 2>/dev/null
    python3 -c '
import json, sys
one, s0, s1 = (json.load(open(p)) for p in sys.argv[1:4])
assert one["threshold"] == s0["threshold"] == s1["threshold"], (one["threshold"], s0["threshold"], s1["threshold"])
assert one["calib_queries"] == s0["calib_queries"] == one["mined"] == s0["mined"] + s1["mined"]
a, b = (sorted((r["query"], r["passage"], r["suspect"]) for r in json.load(open(p))) for p in sys.argv[4:6])
assert a == b and len(a) > 1000, (len(a), len(b))' "$T/one.json" "$T/s0.json" "$T/s1.json" "$T/one.q" "$T/two.q" \
        && ok "shards: one threshold, the same rows as one run" || fail "shards differ from one run"
fi
# dense mining scores its candidates with BM25 too (agreement between retrievers,
# similarity to the known positives): with the random tiny fixture encoder the
# dense list alone caught 0 of the mined hidden positives (seed 1: 0 of 4)
if [ -d "$T/cranfield" ]; then
    "$SYNEG" fneval "$T/cranfield" --retriever dense --model tests/fixtures/encoder/tiny --split all --json \
        >"$T/dense.json" 2>"$T/err" || fail "fneval dense" "$(cat "$T/err")"
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print("recall %.2f caught %d rate %.3f kept %.2f" % (j["recall"], j["caught"], j["suspect_rate"], j["clean_kept"]))
assert j["caught"] >= 8 and j["recall"] >= 0.6 and j["suspect_rate"] <= 0.205 and j["clean_kept"] >= 0.95' \
        "$T/dense.json" >"$T/dense.out" 2>&1 && ok "dense fneval with BM25 agreement: $(cat "$T/dense.out")" \
        || fail "dense fneval" "$(cat "$T/dense.out")"
fi
DD=$T/demo-dense
pristine_demo "$DD" || fail "copy the demo"
"$SYNEG" mine "$DD" --retriever dense --model tests/fixtures/encoder/tiny --range 0:50 --num 8 >/dev/null 2>"$T/err" \
    || fail "dense mine" "$(cat "$T/err")"
"$SYNEG" suspects "$DD" --all --limit 0 --json >"$T/dq.json" 2>"$T/err" || fail "dense suspects" "$(cat "$T/err")"
python3 -c '
import json, sys
q = json.load(open(sys.argv[1]))
assert q and all(r["source"] == "dense" and r["signals"]["agree"] is not None and r["signals"]["posnear"] is not None
                 for r in q), q[:2]' "$T/dq.json" && ok "dense rows carry BM25 agreement and similarity signals" \
    || fail "dense signals" "$(head -c 600 "$T/dq.json")"
"$SYNEG" fneval "$T" --retriever bm25 --hide 1.5 >/dev/null 2>&1; [ $? -eq 2 ] && ok "--hide 1.5: usage" || fail "--hide 1.5"
"$SYNEG" mine "$T" --retriever bm25 --fn-threshold 0 >/dev/null 2>&1; [ $? -eq 2 ] && ok "--fn-threshold 0: usage" || fail "--fn-threshold 0"

# the demo, mined as make demo does (both splits): planted false negatives lead the queue
D=$T/demo
pristine_demo "$D" || fail "copy the demo"
for split in train test; do
    "$SYNEG" mine "$D" --retriever bm25 --range 0:50 --num 8 --split $split >/dev/null 2>"$T/err" \
        || fail "demo mine $split" "$(cat "$T/err")"
done
"$SYNEG" synth "$D" --offline >/dev/null 2>"$T/err" || fail "demo offline synthesis" "$(cat "$T/err")"
grep -q -- "--split test" Makefile && ok "make demo mines the test split too" || fail "make demo: test split not mined"
"$SYNEG" suspects "$D" --limit 100 --json >"$T/q.json" 2>"$T/err" || fail "suspects --json" "$(cat "$T/err")"
sed -n 's/^- \(q[0-9]*\) -> \(d[0-9]*\).*/\1 \2/p' sessions/demo/data/README.md >"$T/planted"
out=$(python3 - "$T/q.json" "$T/planted" <<'PY' 2>&1
import json, sys
q = json.load(open(sys.argv[1]))
planted = set(tuple(l.split()) for l in open(sys.argv[2]))
assert len(planted) == 48, len(planted)
got = sum(1 for r in q if (r["query"], r["passage"]) in planted)
like = [r["likelihood"] for r in q]
assert like == sorted(like, reverse=True), "queue order"
assert all(r["signals"] and "posnear" in r["signals"] and "posrr" in r["signals"] for r in q)
print("%d of the %d planted in the first 100" % (got, len(planted)))
assert got >= 40, got   # measured 43
PY
)
[ $? = 0 ] && ok "demo: $out" || fail "demo queue" "$out"
out=$("$SYNEG" suspects "$D" --limit 3 2>&1)
echo "$out" | head -1 | grep -q "suspects in the queue" && [ "$(echo "$out" | grep -c '^ *[0-9]  ')" = 3 ] \
    && ok "suspects --limit 3" || fail "suspects --limit 3" "$out"
"$SYNEG" suspects "$D" --limit x >/dev/null 2>&1; [ $? -eq 2 ] && ok "--limit x: usage" || fail "--limit x"
done_tests
