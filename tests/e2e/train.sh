#!/bin/sh
# End to end: syneg train / syneg runs on the real Cranfield collection, with a
# tiny from-scratch model and a handful of steps (seconds, not a benchmark):
# foreground run, --detach + --follow, --cancel, and a run killed with SIGKILL
# that resumes and ends with the same final metrics as an uninterrupted run.
. tests/e2e/lib.sh.inc
DATA=$SHARED_DATA/cranfield
S=$T/cran
need "$DATA/corpus.jsonl" "training on Cranfield" || { done_tests; exit; }
check "init session" "$SYNEG" init "$S" --beir "$DATA"
COMMON="--scratch tiny --vocab-size 2000 --group 1 --batch 8 --max-len 32 --eval-queries 20 --threads 2 --seed 7"

# foreground
if out=$("$SYNEG" train "$S" $COMMON --max-steps 3 2>&1); then ok "foreground run"; else fail "foreground run" "$out"; fi
echo "$out" | grep -q '^step 3/3 ' && ok "prints steps" || fail "prints steps" "$out"
echo "$out" | grep -q 'eval @ step 3 .*(final)' && ok "prints the final evaluation" || fail "prints the final evaluation" "$out"
ID1=$(ls "$S/runs" | head -n 1)
[ -f "$S/runs/$ID1/final/model.safetensors" ] && [ -f "$S/runs/$ID1/final/modules.json" ] && ok "final HF folder" || fail "final HF folder"
n=$(grep -c '"loss"' "$S/runs/$ID1/progress.jsonl")
[ "$n" -eq 3 ] && ok "one progress line per step" || fail "one progress line per step" "$n lines"
"$SYNEG" runs "$S" | grep -q "$ID1 *done *3/3" && ok "runs lists it done" || fail "runs lists it done" "$("$SYNEG" runs "$S" 2>&1)"

# the session's train.* settings are defaults; flags override them
"$SYNEG" set "$S" train.batch 4 >/dev/null 2>&1
NOBATCH="--scratch tiny --vocab-size 2000 --group 1 --max-len 32 --eval-queries 20 --threads 2 --seed 7"
out=$("$SYNEG" train "$S" $NOBATCH --max-steps 1 --eval-docs 50 2>&1)
echo "$out" | grep -q '^data: .* batch 4,' && ok "session train.batch is the default" || fail "session train.batch is the default" "$out"
echo "$out" | grep -q 'docs): nDCG' && ok "--eval-docs searches a subset" || fail "--eval-docs searches a subset" "$out"
out=$("$SYNEG" train "$S" $NOBATCH --batch 2 --max-steps 1 --eval-docs 50 2>&1)
echo "$out" | grep -q '^data: .* batch 2,' && ok "a flag overrides the setting" || fail "a flag overrides the setting" "$out"

# usage errors
"$SYNEG" train "$S" --batch 0 --scratch tiny >/dev/null 2>&1; [ $? -eq 2 ] && ok "bad option is a usage error" || fail "bad option is a usage error"
out=$("$SYNEG" train "$S" --init /nonexistent --max-steps 1 2>&1); [ $? -eq 1 ] && echo "$out" | grep -q nonexistent && ok "missing model named" || fail "missing model named" "$out"

# detach + follow
ID2=$("$SYNEG" train "$S" $COMMON --max-steps 4 --detach 2>/dev/null)
[ -n "$ID2" ] && ok "detach prints the id" || fail "detach prints the id"
if out=$("$SYNEG" runs "$S" --follow "$ID2" 2>&1); then ok "follow ends when the run is done"; else fail "follow ends when the run is done" "$out"; fi
echo "$out" | grep -q '^step 4/4 ' && ok "follow shows the steps" || fail "follow shows the steps" "$out"

# killed with SIGKILL, then resumed: same final metrics as an uninterrupted run
LONG="$COMMON --max-steps 12 --ckpt-every 2"
"$SYNEG" train "$S" $LONG --quiet > "$T/ref.txt" 2>&1 || fail "reference run" "$(cat "$T/ref.txt")"
REF=$(ls "$S/runs" | tail -n 1)
ID3=$("$SYNEG" train "$S" $LONG --detach 2>/dev/null)
i=0
while [ $i -lt 1200 ] && ! grep -q '"step":5,' "$S/runs/$ID3/progress.jsonl" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$S/runs/$ID3/status.json")
kill -9 "$pid" 2>/dev/null
sleep 0.3
"$SYNEG" runs "$S" | grep -q "$ID3 *killed" && ok "a SIGKILLed run lists as killed" || fail "a SIGKILLed run lists as killed" "$("$SYNEG" runs "$S")"
if out=$("$SYNEG" train "$S" --resume "$ID3" --quiet 2>&1); then ok "resume"; else fail "resume" "$out"; fi
grep -q '"resumed"' "$S/runs/$ID3/progress.jsonl" && ok "resumed from a checkpoint" || fail "resumed from a checkpoint"
ref=$(grep '"final"' "$S/runs/$REF/progress.jsonl" | sed 's/.*"eval"://')
got=$(grep '"final"' "$S/runs/$ID3/progress.jsonl" | sed 's/.*"eval"://')
[ -n "$ref" ] && [ "$ref" = "$got" ] && ok "same final metrics after SIGKILL + resume" || fail "same final metrics after SIGKILL + resume" "ref $ref got $got"
cmp -s "$S/runs/$REF/final/model.safetensors" "$S/runs/$ID3/final/model.safetensors" && ok "same final weights" || fail "same final weights"

# cancel
ID4=$("$SYNEG" train "$S" $COMMON --max-steps 400 --detach 2>/dev/null)
i=0
while [ $i -lt 1200 ] && ! grep -q '"loss"' "$S/runs/$ID4/progress.jsonl" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
check "cancel" "$SYNEG" runs "$S" --cancel "$ID4"
"$SYNEG" runs "$S" --follow "$ID4" >/dev/null 2>&1
"$SYNEG" runs "$S" | grep -q "$ID4 *cancelled" && ok "cancelled cleanly" || fail "cancelled cleanly" "$("$SYNEG" runs "$S")"
grep -q '"checkpoint": "ckpt/step-' "$S/runs/$ID4/status.json" && ok "cancel wrote a checkpoint" || fail "cancel wrote a checkpoint"
out=$("$SYNEG" runs "$S" --cancel "$ID4" 2>&1); [ $? -eq 1 ] && ok "cancelling a stopped run fails" || fail "cancelling a stopped run fails" "$out"
# the offline generator's negatives (a stand-in for an LLM) are left out of
# training unless asked for, as export leaves them out
O=$T/offl
"$SYNEG" init "$O" --beir "$(pwd)/tests/tui/data" >/dev/null 2>&1 &&
    "$SYNEG" mine "$O" --retriever bm25 --num 3 --range 0:10 >/dev/null 2>&1 &&
    "$SYNEG" synth "$O" --offline >/dev/null 2>&1 || fail "offline fixture session"
OFF="--scratch tiny --vocab-size 300 --group 3 --batch 2 --max-len 32 --threads 2 --seed 7 --max-steps 1"
offl() { python3 -c "import json,sys; d=[json.loads(l)['data'] for l in open(sys.argv[1]) if '\"data\"' in l][0]; print(d['excluded'].get('offline', 0))" "$1"; }
"$SYNEG" train "$O" $OFF >/dev/null 2>&1; R=$(ls -t "$O/runs" | head -n 1)
n=$(offl "$O/runs/$R/progress.jsonl" 2>&1)
[ "${n:-0}" -gt 0 ] 2>/dev/null && ok "train leaves out $n offline negatives by default" || fail "offline negatives trained on by default" "$n"
"$SYNEG" train "$O" $OFF --include-offline >/dev/null 2>&1; R=$(ls -t "$O/runs" | head -n 1)
n=$(offl "$O/runs/$R/progress.jsonl" 2>&1)
[ "$n" = 0 ] && ok "--include-offline trains on them" || fail "--include-offline still leaves them out" "$n"
"$SYNEG" set "$O" train.include_offline true >/dev/null 2>&1
"$SYNEG" train "$O" $OFF >/dev/null 2>&1; R=$(ls -t "$O/runs" | head -n 1)
n=$(offl "$O/runs/$R/progress.jsonl" 2>&1)
[ "$n" = 0 ] && ok "setting train.include_offline does the same" || fail "train.include_offline ignored" "$n"

O2=$T/offl2
"$SYNEG" init "$O2" --beir "$(pwd)/tests/tui/data" >/dev/null 2>&1 && "$SYNEG" synth "$O2" --offline >/dev/null 2>&1
out=$("$SYNEG" train "$O2" $OFF 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q -- '--include-offline' && ok "only offline negatives: the error says how to train on them" || fail "only-offline session (rc=$rc)" "$out"

done_tests
