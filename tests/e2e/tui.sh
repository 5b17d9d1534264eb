#!/bin/sh
# The workbench, headless: each tests/tui/NAME.script runs on a fresh copy of
# a small session (tests/tui/data, mined with BM25) through
#   syneg tui SESSION --script NAME.script --dump OUT --size COLSxROWS
# and OUT must equal tests/tui/NAME.dump.  UPDATE_GOLDEN=1 rewrites the
# dumps (inspect the diff before committing).  Then checks that the screen
# cannot show: labels reached the journal, read-only mode, jobs, regenerate.
. tests/e2e/lib.sh.inc
G=tests/tui
export LC_ALL=C.UTF-8 NO_COLOR=1
unset SYNEG_LLM_URL SYNEG_TUIRC
# ncurses and readline keep allocations until exit by design
export LSAN_OPTIONS="suppressions=$(pwd)/$G/lsan.supp:print_suppressions=0"
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }

BASE=$T/base
"$SYNEG" init "$BASE" --beir "$(pwd)/$G/data" >/dev/null 2>"$T/err" || { fail "init fixture" "$(cat "$T/err")"; done_tests; exit 1; }
"$SYNEG" mine "$BASE" --retriever bm25 --num 4 --range 0:10 --fn-threshold 2 --max-rel 0.95 >/dev/null 2>"$T/err" || fail "mine fixture" "$(cat "$T/err")"
mkdir -p "$BASE/prompts" && cp "$G"/prompts/*.txt "$BASE/prompts/"

fresh() { rm -rf "$T/$1"; cp -r "$BASE" "$T/$1"; }

for script in "$G"/*.script; do
    name=$(basename "$script" .script)
    size=$(sed -n 's/^# size: *//p' "$script" | head -n 1)
    fresh "$name"
    out=$T/$name.out
    if ! "$SYNEG" tui "$T/$name" --script "$script" --dump "$out" --size "${size:-100x30}" 2>"$T/err"; then
        fail "$name: syneg tui exits 0" "$(cat "$T/err")"
        continue
    fi
    if [ -n "${UPDATE_GOLDEN:-}" ]; then
        cp "$out" "$G/$name.dump"
        ok "$name: golden dump written"
    elif [ ! -f "$G/$name.dump" ]; then
        fail "$name: no golden dump $G/$name.dump (run with UPDATE_GOLDEN=1)"
    elif diff -u "$G/$name.dump" "$out" >"$T/diff"; then
        ok "$name: screen matches $G/$name.dump"
    else
        fail "$name: screen differs from $G/$name.dump" "$(head -n 40 "$T/diff")"
    fi
done

# the label script's acts are in the journal, in order, with the note
L=$T/label/labels.jsonl
acts=$(python3 -c "import json,sys; print(' '.join(json.loads(l)['a'] for l in open(sys.argv[1])))" "$L" 2>/dev/null)
[ "$acts" = "accept reject clear reject clear accept" ] && ok "journal holds every act in order (undo/redo too)" || fail "journal acts: '$acts'"
grep -q '"note":"near miss: wrong topic, same words"' "$L" && ok "the note typed at the prompt is in the journal" || fail "note not in journal" "$(cat "$L")"
"$SYNEG" info "$T/label" --json >"$T/info.json" 2>/dev/null
[ "$(jget "$T/info.json" "['labels']['accept']")" = 1 ] && ok "info --json sees the accepted label" || fail "info after TUI labels" "$(cat "$T/info.json")"

# a bulk act previewed and not confirmed writes nothing
[ ! -s "$T/bulk_preview/labels.jsonl" ] && ok "bulk preview: nothing written before y" || fail "bulk preview wrote labels" "$(cat "$T/bulk_preview/labels.jsonl")"

# a bulk act then undo leaves no label; the prompt's bulk rejected ranks <= 2
"$SYNEG" info "$T/bulk_undo" --json >"$T/info.json" 2>/dev/null
[ "$(jget "$T/info.json" "['labels']['accept']")" = 0 ] && ok "bulk accept undone in one step" || fail "bulk undo" "$(cat "$T/bulk_undo/labels.jsonl")"
"$SYNEG" info "$T/prompt" --json >"$T/info.json" 2>/dev/null
n=$(jget "$T/info.json" "['labels']['reject']")
[ "$n" -ge 1 ] && ok "bulk reject rank<=2 labelled $n negatives" || fail "bulk reject from the prompt: $n"
grep -q '"difficulty": *"very hard"' "$T/attrs/session.json" && ok "attribute change saved in session.json" || fail "attribute not saved" "$(cat "$T/attrs/session.json")"

# read-only: another process holds the lock; the screen says so and acts are refused
fresh ro
printf 'a\n:dump %s\n' "$T/ro.out" >"$T/ro.script"
if command -v flock >/dev/null; then
    flock "$T/ro/lock" sleep 5 &
    holder=$!
    sleep 0.3
    "$SYNEG" tui "$T/ro" --script "$T/ro.script" --size 100x30 2>"$T/err" || fail "read-only tui exits 0" "$(cat "$T/err")"
    kill $holder 2>/dev/null; wait $holder 2>/dev/null
    grep -q "READ-ONLY" "$T/ro.out" && ok "read-only: the status line says READ-ONLY" || fail "no READ-ONLY on screen" "$(cat "$T/ro.out")"
    grep -q "read-only" "$T/ro.out" && ok "read-only: the refused act says why" || fail "no read-only message" "$(tail -n 2 "$T/ro.out")"
    [ ! -s "$T/ro/labels.jsonl" ] && ok "read-only: nothing written to the journal" || fail "read-only wrote labels"
fi

# jobs: mining as a child process, its progress and end visible in the jobs panel
fresh jobs
printf ':mine --retriever bm25 --num 2 --range 0:5\n:wait-jobs 60\nJ\n' >"$T/jobs.script"
"$SYNEG" tui "$T/jobs" --script "$T/jobs.script" --dump "$T/jobs.out" --size 100x30 2>"$T/err" || fail "jobs script" "$(cat "$T/err")"
grep -q "mine .*done" "$T/jobs.out" && ok "jobs panel: mine job done" || fail "jobs panel" "$(cat "$T/jobs.out")"
ls "$T"/jobs/jobs/*/log >/dev/null 2>&1 && ok "the job wrote its own log folder" || fail "no job folder"
"$SYNEG" info "$T/jobs" --json >"$T/info.json" 2>/dev/null
fresh jobs_cli
"$SYNEG" mine "$T/jobs_cli" --retriever bm25 --num 2 --range 0:5 >/dev/null 2>&1
"$SYNEG" info "$T/jobs_cli" --json >"$T/info2.json" 2>/dev/null
a=$(jget "$T/info.json" "['negatives']['bm25']"); b=$(jget "$T/info2.json" "['negatives']['bm25']")
[ "$a" = "$b" ] && [ "$a" != 20 ] && ok "the job's rows replaced the old bm25 rows ($a, as the CLI run)" || fail "re-mine from the TUI: $a rows, CLI: $b"

# training from the workbench: a tiny run; the jobs panel follows the run's
# progress (loss curve, evaluation)
fresh train
printf ':train --scratch tiny --batch 4 --group 2 --max-steps 3 --epochs 3 --eval-every 3 --threads 1\n:wait-jobs 120\nJ\n' >"$T/train.script"
"$SYNEG" tui "$T/train" --script "$T/train.script" --dump "$T/train.out" --size 110x30 2>"$T/err" || fail "train script" "$(cat "$T/err")"
grep -q "training run .*-tiny" "$T/train.out" && ok "jobs panel lists the training run" || fail "no run in the jobs panel" "$(cat "$T/train.out")"
n=$(grep -c '^ *\(train\|run\)  *\(running\|done\|cancelled\|FAILED\|killed\|ended\)' "$T/train.out")
[ "$n" = 1 ] && ok "the train job and its run are one row" || fail "train job and run listed $n times" "$(cat "$T/train.out")"
grep -q "eval @ step" "$T/train.out" && ok "jobs panel shows the run's evaluation" || fail "no evaluation shown" "$(cat "$T/train.out")"
grep -q "^   loss [0-9.]* ." "$T/train.out" && ok "jobs panel draws the loss curve" || fail "no loss sparkline" "$(cat "$T/train.out")"

# the training dialog: change the mix ratio (Enter edits through the prompt),
# W writes the training file and a torchrun launch script as a job
fresh dialog
printf 'T\nj\nj\nj\nj\n<Enter>\n^U0.3<Enter>\nW\n:wait-jobs 60\n' >"$T/dialog.script"
"$SYNEG" tui "$T/dialog" --script "$T/dialog.script" --size 110x30 2>"$T/err" || fail "dialog script" "$(cat "$T/err")"
[ -s "$T/dialog/exports/train.jsonl" ] && [ -f "$T/dialog/exports/train.jsonl.launch.sh" ] \
    && ok "training dialog W: training file and launch script written" || fail "dialog W wrote nothing" "$(ls -R "$T/dialog/jobs")"
grep -q '"mix": "0.3"' "$T/dialog/session.json" && ok "training dialog field saved (train.mix)" || fail "dialog field not saved"
grep -q -- "--mix 0.3" "$T"/dialog/jobs/*/cmd && ok "the job used the edited field" || fail "job command" "$(cat "$T"/dialog/jobs/*/cmd)"

# live regenerate, offline: new synthetic negatives appear and are saved
fresh regen
printf ':goto q3\nR\n:wait-jobs 60\n:dump %s\n' "$T/regen.out" >"$T/regen.script"
"$SYNEG" tui "$T/regen" --script "$T/regen.script" --size 100x30 2>"$T/err" || fail "regen script" "$(cat "$T/err")"
"$SYNEG" info "$T/regen" --json >"$T/info.json" 2>/dev/null
n=$(jget "$T/info.json" "['negatives']['offline']")
[ "$n" -gt 0 ] && ok "regenerate (offline) stored $n synthetic negatives" || fail "regenerate stored none" "$(tail -n 3 "$T/regen.out")"
grep -q "SYNTHETIC [1-9]" "$T/regen.out" && ok "the new negatives show in the synthetic column" || fail "synthetic column empty" "$(cat "$T/regen.out")"
grep -q "offline generator" "$T/regen.out" && ok "the screen says the offline generator is used" || fail "no offline notice"
# synthetic negatives show their title (kept in provenance) like retrieved ones
python3 - "$T/regen.out" <<'PY' && ok "synthetic negatives show their titles" || fail "a synthetic negative without its title" "$(cat "$T/regen.out")"
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
col = lambda l: l.split("\u2502")[1] if l.count("\u2502") >= 2 else ""
seen = 0
for i, l in enumerate(lines[:-1]):
    if "method=" in col(l):
        seen += 1
        if not re.match(r" *[A-Z][^:]{0,40}: \S", col(lines[i + 1])): sys.exit(1)
sys.exit(0 if seen else 1)
PY

# usage errors
"$SYNEG" tui 2>/dev/null; [ $? = 2 ] && ok "tui without SESSION: exit 2" || fail "tui without SESSION"
"$SYNEG" tui "$T/nowhere" --script "$G/quit.script" --dump "$T/x" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q nowhere "$T/err" && ok "missing session: exit 1 naming it" || fail "missing session rc=$rc" "$(cat "$T/err")"
"$SYNEG" tui "$BASE" --size 10 2>/dev/null; [ $? = 2 ] && ok "bad --size: exit 2" || fail "bad --size"
printf 'a\n' >"$T/bad.script"
"$SYNEG" tui "$BASE" </dev/null >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "needs a terminal" "$T/err" && ok "no terminal: a clear error" || fail "no terminal rc=$rc" "$(cat "$T/err")"
done_tests
