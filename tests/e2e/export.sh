#!/bin/sh
# End-to-end: syneg import / label / export (every format, determinism, the
# report, a label that changes the output, launch scripts) on the fixture data
# set tests/golden/export/data, through the CLI.
. tests/e2e/lib.sh.inc
DATA=$(pwd)/tests/golden/export/data
S=$T/s

check "init" "$SYNEG" init "$S" --beir "$DATA"
out=$("$SYNEG" import "$S" tests/golden/export/pool.jsonl 2>"$T/imp.err"); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q "imported 8 negatives" && grep -q "pool.jsonl:3:" "$T/imp.err"; then
    ok "import flag pool (8 rows, unknown query warned with file:line)"
else fail "import" "rc=$rc $out $(cat "$T/imp.err")"; fi

for f in flag st tevatron trec; do
    if "$SYNEG" export "$S" --format $f --num 3 --seed 7 -o "$T/a.$f" >"$T/out.$f" 2>&1 &&
       "$SYNEG" export "$S" --format $f --num 3 --seed 7 -o "$T/b.$f" >/dev/null 2>&1 &&
       cmp -s "$T/a.$f" "$T/b.$f" && cmp -s "$T/a.$f.report.json" "$T/b.$f.report.json"; then
        ok "export $f twice with one seed: byte-identical (data and report)"
    else fail "export $f deterministic" "$(cat "$T/out.$f")"; fi
done
if grep -q '"instances": 3' "$T/a.flag.report.json" && grep -q '"import": 9' "$T/a.flag.report.json" &&
   grep -q "excluded: rejected 0" "$T/out.flag"; then
    ok "report printed and written beside the output"
else fail "report" "$(cat "$T/out.flag" "$T/a.flag.report.json")"; fi
python3 - "$T/a.st" <<'PY' && ok "st rows have anchor, positive, negative_1..3" || fail "st columns"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows and all(sorted(r) == ["anchor", "negative_1", "negative_2", "negative_3", "positive"] for r in rows)
PY

# a rejected negative never appears; with --promote it becomes a positive
check "label reject" "$SYNEG" label "$S" q1 d4 reject
"$SYNEG" export "$S" --format flag --num 4 --seed 7 -o "$T/c.flag" >/dev/null 2>&1
if ! grep -q "Plate heating" "$T/c.flag" && grep -q '"rejected": 1' "$T/c.flag.report.json"; then
    ok "rejected d4 gone from the negatives"
else fail "label changes output" "$(cat "$T/c.flag")"; fi
"$SYNEG" export "$S" --format flag --num 4 --promote -o "$T/d.flag" >/dev/null 2>&1
if grep -q '"pos":\["Plate heating' "$T/d.flag"; then ok "--promote: rejected d4 is a positive"
else fail "promote" "$(cat "$T/d.flag")"; fi
"$SYNEG" export "$S" --format trec -o "$T/pool.run" >/dev/null 2>&1
if grep -q "^q1 0 d4 1$" "$T/pool.run.qrels" && grep -q "^q1 Q0 d3 1 " "$T/pool.run"; then
    ok "trec: run from the pool, rejected negative relevant in qrels"
else fail "trec" "$(cat "$T/pool.run" "$T/pool.run.qrels")"; fi

# launch scripts
if "$SYNEG" export "$S" --format st -o "$T/train.st.jsonl" --launch torchrun --gpus 4 --nodes 2 >"$T/l.out" 2>&1 &&
   [ -x "$T/train.st.jsonl.launch.sh" ] && [ -f "$T/train_st.py" ] &&
   grep -q 'GPUS=${GPUS:-4}' "$T/train.st.jsonl.launch.sh" && bash -n "$T/train.st.jsonl.launch.sh" &&
   python3 -c "import ast,sys; ast.parse(open(sys.argv[1]).read())" "$T/train_st.py"; then
    ok "st launch script and train_st.py written, valid bash and python"
else fail "st launch" "$(cat "$T/l.out")"; fi
if "$SYNEG" export "$S" --format flag -o "$T/train.flag.jsonl" --launch torchrun >/dev/null 2>&1 &&
   grep -q "FlagEmbedding.finetune.embedder.encoder_only.base" "$T/train.flag.jsonl.launch.sh" &&
   bash -n "$T/train.flag.jsonl.launch.sh"; then
    ok "flag launch script"
else fail "flag launch"; fi

# usage errors exit 2, runtime errors exit 1 and name the problem
"$SYNEG" export "$S" --format csv -o "$T/x" >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown format: exit 2" || fail "unknown format"
"$SYNEG" export "$S" --format st -o "$T/x" --launch torchrun --trainer flag >/dev/null 2>&1; [ $? -eq 2 ] && ok "trainer/format mismatch: exit 2" || fail "mismatch"
"$SYNEG" export "$S" --format st -o "$T/new/dir/x.jsonl" >/dev/null 2>&1 && [ -s "$T/new/dir/x.jsonl" ] &&
    ok "missing output folder is created" || fail "output folder"
msg=$("$SYNEG" export "$S" --format flag -o "$T/a.flag/x" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$msg" | grep -q "a.flag/x" && ok "unwritable output: exit 1 naming the file" || fail "unwritable" "$msg"
"$SYNEG" export --help | grep -q -- "--reviewed-only" && ok "help lists options" || fail "help"
# real data: Cranfield, BM25-mined negatives, exported twice with one seed
if need "$SHARED_DATA/cranfield/corpus.jsonl" "cranfield export"; then
    C=$T/cran
    if "$SYNEG" init "$C" --beir "$SHARED_DATA/cranfield" >/dev/null 2>&1 &&
       "$SYNEG" mine "$C" --retriever bm25 --num 8 >/dev/null 2>&1 &&
       "$SYNEG" export "$C" --format flag --num 7 --shuffle --epochs 2 -o "$T/cran/a.jsonl" >/dev/null 2>&1 &&
       "$SYNEG" export "$C" --format flag --num 7 --shuffle --epochs 2 -o "$T/cran/b.jsonl" >/dev/null 2>&1 &&
       cmp -s "$T/cran/a.jsonl" "$T/cran/b.jsonl" &&
       python3 - "$T/cran/a.jsonl" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1] + ".report.json"))
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rep["instances"] > 100 and len(rows) == 2 * rep["instances"] == rep["lines"], rep
assert all(len(r["neg"]) == 7 and len(r["pos"]) == 1 for r in rows)
assert rep["negatives"]["bm25"] == 7 * len(rows) and rep["exclusions"]["positive"] == 0, rep
PY
    then ok "cranfield: mined pool exported (2 epochs, shuffled), byte-identical, report consistent"
    else fail "cranfield export"; fi
fi
done_tests
