#!/bin/sh
# Training you can see and steer, headless on the workbench (tests/tui/data):
# the dialog's defaults fit the model, a field is edited in place (^U clears
# the value, not a command), L trains with exactly those settings, the jobs
# panel shows one row per run with a moving step count, Enter opens the run
# view (curves, config, state), and a run stopped with K reads "cancelled".
. tests/e2e/lib.sh.inc
G=tests/tui
export LC_ALL=C.UTF-8 NO_COLOR=1
unset SYNEG_LLM_URL SYNEG_TUIRC
export LSAN_OPTIONS="suppressions=$(pwd)/$G/lsan.supp:print_suppressions=0"
S=$T/s
"$SYNEG" init "$S" --beir "$(pwd)/$G/data" >/dev/null 2>&1 || fail "init"
"$SYNEG" mine "$S" --retriever bm25 --num 4 --range 0:10 --fn-threshold 2 --max-rel 0.95 >/dev/null 2>&1 || fail "mine"

tui() {  # NAME SCRIPT-TEXT
    printf "$2" > "$T/$1.script"
    "$SYNEG" tui "$S" --script "$T/$1.script" --dump "$T/$1.dump" --size 140x40 2>"$T/$1.err" || fail "$1: tui exits 0" "$(cat "$T/$1.err")"
}

# defaults from the settings table, fitting the model
tui open 'T\n'
grep -q 'model  *scratch tiny' "$T/open.dump" && grep -q 'lr  *0.001: fits scratch tiny' "$T/open.dump" \
    && ok "dialog: scratch tiny with lr 1e-3 by default" || fail "dialog defaults" "$(cat "$T/open.dump")"
"$SYNEG" set "$S" train.init "$(pwd)/tests/fixtures/encoder" >/dev/null 2>&1
tui init 'T\n'
grep -q 'lr  *2e-05: fits fine-tuning' "$T/init.dump" && ok "dialog: fine-tuning a folder shows lr 2e-5" || fail "dialog lr for init" "$(cat "$T/init.dump")"
"$SYNEG" set "$S" train.init --unset >/dev/null
"$SYNEG" set "$S" train.lr 2e-5 >/dev/null
tui mismatch 'T\n'
grep -q 'a scratch model usually trains with 0.001' "$T/mismatch.dump" && ok "dialog: an lr that does not fit the model is flagged" \
    || fail "lr mismatch not flagged" "$(cat "$T/mismatch.dump")"
"$SYNEG" set "$S" train.lr --unset >/dev/null

# edit max_steps and eval_every in place: ^U clears the value only; a bad value is refused
tui edit 'T\nj\n<Enter>\n^U3<Enter>\nj\n<Enter>\n^U1<Enter>\nj\nj\n<Enter>\n^U7<Enter>\n<Esc>\n'
grep -q '"max_steps": 3' "$S/session.json" && grep -q '"eval_every": 1' "$S/session.json" \
    && ok "fields edited in place (^U cleared the value, Enter saved)" || fail "fields not saved" "$(cat "$S/session.json"; tail -3 "$T/edit.dump")"
grep -q '"mix": 7' "$S/session.json" && fail "mix 7 saved" || ok "a bad value (mix 7) is refused, nothing saved"

# L trains with these settings; one row in J; Enter opens the run view
"$SYNEG" set "$S" train.batch 4 >/dev/null; "$SYNEG" set "$S" train.threads 1 >/dev/null; "$SYNEG" set "$S" train.epochs 5 >/dev/null
tui launch 'T\nL\n:wait-jobs 120\nJ\n<Enter>\n'
RUN=$(ls "$S/runs" | head -n 1)
python3 - "$S/runs/$RUN/config.json" <<'PY' && ok "the run got the dialog's settings (scratch tiny, lr 1e-3, 3 steps, eval every 1)" || fail "run config" "$(cat "$S/runs/$RUN/config.json")"
import json, sys
o = json.load(open(sys.argv[1]))['options']
sys.exit(0 if o['scratch'] == 'tiny' and abs(o['lr'] - 1e-3) < 1e-12 and o['max_steps'] == 3 and o['eval_every'] == 1 else 1)
PY
grep -q "RUN $RUN" "$T/launch.dump" && grep -q '^ *done  *step 3/3' "$T/launch.dump" \
    && ok "Enter in J opens the run view, state done at 3/3" || fail "run view" "$(cat "$T/launch.dump")"
grep -q 'config scratch tiny  lr 0.001' "$T/launch.dump" && grep -q 'nDCG@10' "$T/launch.dump" && grep -q 'step 3' "$T/launch.dump" \
    && ok "the run view shows config, evaluation curves with a labelled step axis" || fail "run view content" "$(cat "$T/launch.dump")"
n=$(grep -c 'eval' "$S/runs/$RUN/progress.jsonl")
[ "$n" -ge 4 ] && ok "evaluations at 0,1,2,3 ($n lines) are the plotted points" || fail "evaluations: $n"

# K stops a running job: it reads "cancelled", not FAILED
"$SYNEG" set "$S" train.max_steps 100000 >/dev/null; "$SYNEG" set "$S" train.epochs 100000 >/dev/null
tui cancel 'T\nL\n:wait-jobs 2\nJ\nK\n:wait-jobs 60\n'
grep -q '^ *train  *cancelled' "$T/cancel.dump" && ! grep -q 'FAILED' "$T/cancel.dump" \
    && ok "a run stopped with K reads cancelled" || fail "cancel state" "$(cat "$T/cancel.dump")"

# syneg runs --compare: both runs, the baselines, the differing config, CSV
R2=$(ls "$S/runs" | tail -n 1)
"$SYNEG" runs "$S" --compare "$RUN" "$R2" > "$T/cmp.txt" 2>&1
grep -q 'baseline: BM25' "$T/cmp.txt" && grep -q 'baseline: untrained model' "$T/cmp.txt" && grep -q "^$RUN  *done" "$T/cmp.txt" \
    && grep -q "^$R2  *cancelled" "$T/cmp.txt" && grep -q '\*max_steps' "$T/cmp.txt" \
    && ok "runs --compare: runs, baselines, differing config marked" || fail "runs --compare" "$(cat "$T/cmp.txt")"
"$SYNEG" runs "$S" --compare "$RUN" "$R2" --csv > "$T/cmp.csv" 2>&1
head -n 1 "$T/cmp.csv" | grep -q '^kind,id,state,step,ndcg@10,mrr@10,recall@100,.*max_steps' && [ "$(grep -c '^run,' "$T/cmp.csv")" = 2 ] \
    && [ "$(grep -c '^baseline,' "$T/cmp.csv")" = 2 ] && ok "runs --compare --csv" || fail "compare csv" "$(cat "$T/cmp.csv")"
"$SYNEG" runs "$S" --compare "$RUN" --json | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d['runs'][0]['eval']['step']==3 and 'bm25' in d['baselines'] else 1)" \
    && ok "runs --compare --json" || fail "compare json"
done_tests
