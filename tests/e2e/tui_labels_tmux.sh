#!/bin/sh
# Labelling you can trust, in a real terminal (tmux): every act lands on the
# row the person sees.  Each case opens its own copy of the pristine demo data
# (the tracked sessions/demo/data and session.json only, never the checkout's
# sessions/demo state), prepared as `make demo` does, drives keys through tmux
# and reads SESSION/labels.jsonl to see which (query, negative) each act hit.
. tests/e2e/lib.sh.inc
command -v tmux >/dev/null || { fail "tmux is not installed (Debian package tmux)"; done_tests; exit 1; }
export LSAN_OPTIONS="suppressions=$(pwd)/tests/tui/lsan.supp:print_suppressions=0"
unset SYNEG_LLM_URL SYNEG_TUIRC

BASE=$T/base
mkdir -p "$BASE"
cp -r sessions/demo/data sessions/demo/session.json "$BASE/"
"$SYNEG" mine "$BASE" --retriever bm25 --range 0:50 --num 8 >/dev/null 2>"$T/err" || fail "mine the demo copy" "$(cat "$T/err")"
"$SYNEG" synth "$BASE" --offline >/dev/null 2>"$T/err" || fail "offline synth on the demo copy" "$(cat "$T/err")"

TM="tmux -L syneg-labels-$$ -f /dev/null"
trap '$TM kill-server 2>/dev/null; rm -rf "$T"' EXIT
# open NAME [COLS ROWS] [ARGS]: a workbench on a fresh copy in tmux session NAME
open_wb() {
    name=$1; cols=${2:-100}; rows=${3:-30}
    rm -rf "$T/$name"; cp -r "$BASE" "$T/$name"
    $TM new-session -d -s "$name" -x "$cols" -y "$rows" \
        "env TERM=xterm-256color LC_ALL=C.UTF-8 '$SYNEG' tui '$T/$name' 2>'$T/$name.stderr'; echo \$? >'$T/$name.exit'; sleep 60"
    wait_for "$name" "QUERIES" || fail "$name: no workbench on screen" "$(screen "$name")"
}
# reopen NAME: the workbench again on the same session folder (resume)
reopen_wb() {
    rm -f "$T/$1.exit"
    $TM kill-session -t "$1" 2>/dev/null
    $TM new-session -d -s "$1" -x "${2:-100}" -y "${3:-30}" \
        "env TERM=xterm-256color LC_ALL=C.UTF-8 '$SYNEG' tui '$T/$1' 2>'$T/$1.stderr'; echo \$? >'$T/$1.exit'; sleep 60"
    wait_for "$1" "reviewed" || fail "$1: no workbench on screen" "$(screen "$1")"
}
screen() { $TM capture-pane -t "$1" -p; }
# wait_for NAME PATTERN: up to 15 s for the screen to show it
wait_for() {
    i=0
    while [ $i -lt 150 ]; do
        screen "$1" | grep -q -- "$2" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
keys() { n=$1; shift; $TM send-keys -t "$n" "$@"; }
# sync NAME: every key sent before has been handled (an echo comes back)
_sync=0
sync_wb() {
    _sync=$((_sync + 1))
    $TM send-keys -t "$1" : "echo sync-$_sync" Enter
    wait_for "$1" "sync-$_sync" || fail "$1: the workbench did not answer" "$(screen "$1")"
}
quit_wb() {
    $TM send-keys -t "$1" Escape q
    i=0; while [ ! -f "$T/$1.exit" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
# acts NAME: the journal as "query neg act [note]" lines
acts() {
    python3 -c "
import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l); print(o['q'], o['n'], o['a'], o.get('note',''))" "$T/$1/labels.jsonl" 2>/dev/null
}

# (a) ^L must not move the cursor under the next act: each key is a fresh request
open_wb plain
keys plain Tab Tab j j a; sync_wb plain
open_wb redraw
keys redraw Tab Tab C-l j j a; sync_wb redraw
a1=$(acts plain | tail -n 1); a2=$(acts redraw | tail -n 1)
[ -n "$a1" ] && [ "$a1" = "$a2" ] && ok "Tab Tab ^L j j a labels the same row as Tab Tab j j a ($a1)" ||
    fail "^L moved the act: '$a1' vs '$a2'"
keys redraw C-l j a; sync_wb redraw
keys plain j a; sync_wb plain
a1=$(acts plain | tail -n 1); a2=$(acts redraw | tail -n 1)
[ -n "$a1" ] && [ "$a1" = "$a2" ] && ok "and keys after a second ^L still land on the row on screen" || fail "after ^L: '$a1' vs '$a2'"
quit_wb plain; quit_wb redraw

# (b) ^R then Esc at the : prompt leaves no search behind to run a history entry
open_wb search
keys search Tab Tab : "label reject" Enter; sync_wb search
keys search : C-r lab
wait_for search "(reverse-i-search)" && ok "^R shows the reverse search on the prompt line" || fail "no visible ^R search" "$(screen search | tail -n 2)"
keys search Escape
wait_for search "cancelled" || fail "Esc did not cancel the prompt" "$(screen search | tail -n 2)"
keys search : "echo hello-after-search" Enter
wait_for search "hello-after-search" && ok "after ^R Esc, the next : line runs what was typed" || fail "the echo did not run" "$(screen search | tail -n 3)"
n=$(acts search | grep -c reject)
[ "$n" = 1 ] && ok "^R Esc ran no history entry (one reject in the journal)" || fail "history entry ran: $n rejects" "$(acts search)"
quit_wb search

# (c) a/x with the query list focused label nothing the person cannot see highlighted
open_wb qfocus
keys qfocus a; sync_wb qfocus
[ -z "$(acts qfocus)" ] && ok "a with the query list focused labels nothing" || fail "a labelled an unseen negative" "$(acts qfocus)"
keys qfocus a; sync_wb qfocus
[ "$(acts qfocus | wc -l)" = 1 ] && ok "the second a labels the negative now highlighted" || fail "second a" "$(acts qfocus)"
quit_wb qfocus

# (c) presses at the end of a column move on: never the same act twice on one pair
open_wb endcol
keys endcol Tab Tab G a a a a a; sync_wb endcol
n=$(acts endcol | wc -l); u=$(acts endcol | cut -d' ' -f1,2 | sort -u | wc -l)
[ "$n" = 5 ] && [ "$u" = 5 ] && ok "five a presses from the end of a column label five different negatives" ||
    fail "end of column: $n acts on $u pairs" "$(acts endcol)"
quit_wb endcol

# (c) ... and at the end of the queue say so, writing nothing more
open_wb qdone
keys qdone / "coffee beans fresh" Enter Tab; sync_wb qdone
i=0; while [ $i -lt 25 ]; do keys qdone x; i=$((i + 1)); done
wait_for qdone "queue done" && ok "the end of the queue says queue done" || fail "no queue done" "$(screen qdone | tail -n 3)"
sync_wb qdone
n=$(acts qdone | wc -l); u=$(acts qdone | cut -d' ' -f1,2 | sort -u | wc -l); q=$(acts qdone | cut -d' ' -f1 | sort -u)
[ "$n" -gt 0 ] && [ "$n" = "$u" ] && [ "$q" = q02 ] && ok "25 presses on one query of $n negatives: $n journal lines, no repeats" ||
    fail "queue: $n acts on $u pairs of '$q'" "$(acts qdone)"
quit_wb qdone

# (d) notes survive the acts that follow
open_wb notes
keys notes Tab m "near miss" Enter
wait_for notes "still unlabelled" && ok "m on an unlabelled negative says the note is on it, still unlabelled" || fail "note message" "$(screen notes | tail -n 2)"
keys notes a; sync_wb notes
l=$(acts notes | tail -n 1)
case "$l" in *" accept near miss") ok "m note, then a: the accept keeps the note ($l)";; *) fail "a dropped the note: '$l'" "$(acts notes)";; esac
first=$(echo "$l" | cut -d' ' -f1,2)
keys notes : "bulk reject synthetic" Enter
wait_for notes "reject [0-9]* negatives* in 1 query? y/n" && ok ":bulk previews what it would write and asks y/n" || fail "no bulk preview" "$(screen notes | tail -n 2)"
keys notes n
wait_for notes "bulk cancelled" || fail "n did not cancel the bulk act" "$(screen notes | tail -n 2)"
[ "$(acts notes | grep -c reject)" = 0 ] && ok "n at the preview writes nothing" || fail "bulk wrote before y" "$(acts notes)"
keys notes : "bulk reject synthetic" Enter
wait_for notes "y/n" || fail "no second preview"
keys notes y; sync_wb notes
l=$(acts notes | grep "^$first " | tail -n 1)
case "$l" in *" reject near miss") ok ":bulk keeps the note ($l)";; *) fail ":bulk overwrote the note: '$l'" "$(acts notes)";; esac
quit_wb notes

# (e) text: no word lost on a long title, a repeated title shown once, cut text
# marked, many positives counted, the width used, too small said
if [ -d "$SHARED_DATA/cranfield" ]; then
    C=$T/cran
    "$SYNEG" init "$C" --beir "$SHARED_DATA/cranfield" >/dev/null 2>"$T/err" || fail "init cranfield" "$(cat "$T/err")"
    "$SYNEG" mine "$C" --retriever bm25 --num 4 --range 0:40 >/dev/null 2>"$T/err" || fail "mine cranfield" "$(cat "$T/err")"
    $TM new-session -d -s cran -x 100 -y 30 "env TERM=xterm-256color LC_ALL=C.UTF-8 '$SYNEG' tui '$C'; sleep 60"
    wait_for cran QUERIES || fail "cranfield workbench" "$(screen cran)"
    keys cran : "goto 28" Enter; sync_wb cran
    screen cran | grep -q "│ *ndrical" && fail "a long title lost the middle of a word (-cyli)" "$(screen cran | head -n 12)" ||
        ok "Cranfield :goto 28: no word cut in the middle ('quasi-cylindrical' whole)"
    screen cran | grep -q "quasi-cylindrical" && ok "the positive's words are on screen" || fail "positive missing" "$(screen cran | head -n 12)"
    screen cran | grep -q "…" && ok "text that does not fit ends with …" || fail "no ellipsis on cut text" "$(screen cran)"
    keys cran : "goto 1" Enter; sync_wb cran
    screen cran | grep -q "POSITIVES 29" && screen cran | grep -q "+[0-9]* more" && ok "POSITIVES 29 says how many more it does not show" ||
        fail "no +N more for 29 positives" "$(screen cran | head -n 12)"
    keys cran ']' ']'; sync_wb cran
    screen cran | grep -q "2 above, +[0-9]* more" && ok "] scrolls the positives (2 above, the rest counted)" || fail "positives do not scroll" "$(screen cran | head -n 12)"
    keys cran z; sync_wb cran
    screen cran | grep -q "QUERIES" && fail "z did not hide the query list" "$(screen cran | head -n 3)" || ok "z hides the query list"
    keys cran z; sync_wb cran
    screen cran | grep -q "QUERIES" && ok "z again shows it wide" || fail "z did not bring the list back" "$(screen cran | head -n 3)"
    keys cran z
    $TM resize-window -t cran -x 200 -y 50; sleep 0.3
    keys cran : "goto 28" Enter; sync_wb cran
    n=$(screen cran | grep -o "linearised theory of supersonic flow" | wc -l)
    [ "$n" = 1 ] && ok "a title the text repeats is printed once" || fail "title printed $n times" "$(screen cran | head -n 12)"
    $TM resize-window -t cran -x 70 -y 20; sleep 0.3
    wait_for cran "terminal too small" && ok "below 80x24 the screen says the terminal is too small" || fail "no too-small message at 70x20" "$(screen cran)"
    $TM send-keys -t cran q
fi
# wide terminals: a column with few items gives each more lines of text
open_wb wide 200 50
keys wide n Tab; sync_wb wide
screen wide | python3 -c "
import sys
lines = sys.stdin.read().split('\n')
for i, l in enumerate(lines):
    x = l.find('[ ] 1 offline')
    if x >= 0: break
else: sys.exit(1)
n = 0
for l in lines[i + 2:]:          # below the header and the attributes line
    if not l[x:x + 60].strip(): break
    n += 1
sys.exit(0 if n > 3 else 1)" && ok "200x50: a synthetic item shows more than 3 lines of text" || fail "wide terminal: text still cut at 3 lines" "$(screen wide)"
quit_wb wide

# (f) one classification of sources: the workbench asks mix_source_class
if grep -n "NEG_LLM\|NEG_OFFLINE\|NEG_MANUAL" tui/tui_model.c tui/tui_cmd.c tui/pane_negs.c tui/pane_detail.c; then
    fail "the workbench decides synthetic/retrieved itself"
else ok "the workbench classifies sources only through mix_source_class"; fi

# (g) a read-only second workbench offers the lock once the writer quits, and takes it
open_wb lock
$TM new-window -t lock "env TERM=xterm-256color LC_ALL=C.UTF-8 '$SYNEG' tui '$T/lock' 2>'$T/lock2.stderr'; sleep 60"
wait_for lock:1 "READ-ONLY (locked by pid" && ok "a second workbench opens read-only" || fail "second workbench" "$(screen lock:1)"
$TM send-keys -t lock:0 q
wait_for lock:1 "W takes" && ok "when the writer quits the read-only workbench offers to take the lock" ||
    fail "no offer after the writer quit" "$(screen lock:1 | tail -n 3)"
$TM send-keys -t lock:1 W
wait_for lock:1 "now holds the session lock" && ok "W takes the lock" || fail "W did not take the lock" "$(screen lock:1 | tail -n 3)"
screen lock:1 | grep -q "READ-ONLY" && fail "still READ-ONLY after W" "$(screen lock:1 | tail -n 3)"
$TM send-keys -t lock:1 Tab a
i=0; while [ "$(acts lock | wc -l)" != 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(acts lock | wc -l)" = 1 ] && ok "and labels from it reach the journal" || fail "no label after taking the lock" "$(screen lock:1 | tail -n 3)"

# (h) the status line is clamped however long its parts (ASan sees any overflow)
rm -rf "$T/long"; cp -r "$BASE" "$T/long"
"$SYNEG" set "$T/long" llm.model "$(python3 -c "print('m' * 700)")" >/dev/null 2>&1
"$SYNEG" set "$T/long" llm.budget_usd 5 >/dev/null 2>&1
printf ':echo status-ok\n' >"$T/long.script"
SYNEG_LLM_URL=http://127.0.0.1:11999 "$SYNEG" tui "$T/long" --script "$T/long.script" --dump "$T/long.out" --size 100x30 2>"$T/err" &&
    grep -q "status-ok" "$T/long.out" && grep -q "LLM mmmm" "$T/long.out" && ok "a 700-character model name and a budget: the status line draws, clipped" ||
    fail "long status line" "$(cat "$T/err")"

# the review queue: 100 negatives labelled in at most 110 keys (counted here)
rm -rf "$T/q100"; cp -r "$BASE" "$T/q100"
{ echo "Q"; i=0; while [ $i -lt 100 ]; do [ $((i % 3)) = 0 ] && echo x || echo a; i=$((i + 1)); done; } >"$T/q100.script"
nkeys=$(grep -v '^#' "$T/q100.script" | tr -d '\n' | wc -c)
"$SYNEG" tui "$T/q100" --script "$T/q100.script" --dump "$T/q100.out" --size 120x40 2>"$T/err" || fail "review script" "$(cat "$T/err")"
n=$(acts q100 | wc -l); u=$(acts q100 | cut -d' ' -f1,2 | sort -u | wc -l); nq=$(acts q100 | cut -d' ' -f1 | sort -u | wc -l)
[ "$n" = 100 ] && [ "$u" = 100 ] && [ "$nkeys" -le 110 ] &&
    ok "review queue: 100 negatives labelled with $nkeys keys, 100 journal lines on 100 pairs in $nq queries" ||
    fail "review queue: $n acts on $u pairs with $nkeys keys" "$(tail -n 5 "$T/q100.out")"
total=$("$SYNEG" info "$BASE" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['negatives']['total'])")
grep -q "100 / $total reviewed" "$T/q100.out" && ok "the queue's header counts progress (100 / $total reviewed)" || fail "progress header" "$(head -n 2 "$T/q100.out")"
# likely false negatives first: the first act is on a row the miner flagged
first=$(acts q100 | head -n 1 | cut -d' ' -f1,2)
python3 - "$SYNEG" "$T/q100" $first <<'PY' && ok "the queue starts with a suspected false negative ($first)" || fail "first queue item not a suspect: $first"
import json, subprocess, sys
rows = json.loads(subprocess.run([sys.argv[1], 'suspects', sys.argv[2], '--json'], capture_output=True, text=True).stdout)
sys.exit(0 if rows and (rows[0]['query'], rows[0]['passage']) == (sys.argv[3], sys.argv[4]) else 1)
PY

# ... and in a real terminal: a, x, skip, undo, a preset reason as the note
open_wb review 120 40
keys review Q
wait_for review "REVIEW  0 / $total reviewed" && ok "Q opens the review queue with its progress" || fail "no review queue" "$(screen review | head -n 3)"
keys review a x s u; sync_wb review
keys review 3 x; sync_wb review
acts review >"$T/review.acts"
a1=$(sed -n 1p "$T/review.acts" | cut -d' ' -f3); a2=$(sed -n 2p "$T/review.acts" | cut -d' ' -f3); a3=$(sed -n 3p "$T/review.acts" | cut -d' ' -f3)
p2=$(sed -n 2p "$T/review.acts" | cut -d' ' -f1,2); p4=$(sed -n 4p "$T/review.acts" | cut -d' ' -f1,2)
[ "$a1 $a2 $a3" = "accept reject clear" ] && ok "a accepts, x rejects, s skips (no act), u undoes through the journal" || fail "queue acts" "$(cat "$T/review.acts")"
case "$(sed -n 4p "$T/review.acts")" in *" reject off topic") [ "$p4" = "$p2" ] && ok "after u the undone negative is back; 3 then x records reason 3 as the note" || fail "reason on the wrong pair: $p4 vs $p2";;
    *) fail "reason 3 not recorded" "$(cat "$T/review.acts")";; esac
keys review : "review q" Tab Enter; sync_wb review
screen review | grep -q "query by query" && ok ":review q<Tab> completes the order; query orders the queue query by query" || fail ":review query" "$(screen review | head -n 3)"
quit_wb review

# resume where you left off: filter, sort, query, focus, cursor, then undo
# across the restart through the journal; and the review queue's place
open_wb resume
keys resume / coffee Enter s j Tab j a; sync_wb resume
screen resume | head -n 27 >"$T/resume.before"
quit_wb resume
[ -f "$T/resume/tui-state.json" ] && ok "quitting saves SESSION/tui-state.json" || fail "no state file"
reopen_wb resume; sync_wb resume
screen resume | head -n 27 >"$T/resume.after"
diff "$T/resume.before" "$T/resume.after" >"$T/resume.diff" && ok "reopened on the same filter, sort, query, focus and cursor" ||
    fail "the reopened screen differs" "$(cat "$T/resume.diff")"
last=$(acts resume | tail -n 1 | cut -d' ' -f1,2)
keys resume u; sync_wb resume
l=$(acts resume | tail -n 1)
[ "$l" = "$last clear " ] && ok "u after a restart undoes the last act through the journal ($last)" || fail "undo after restart: '$l' (last act on $last)" "$(acts resume)"
keys resume Q a a; sync_wb resume
q1=$(screen resume | grep "in the queue" | sed 's/.*in the queue *//')
keys resume : quit Enter
i=0; while [ ! -f "$T/resume.exit" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
reopen_wb resume 100 30
wait_for resume "REVIEW" && ok "the review queue, open at quit, is open again" || fail "queue not reopened" "$(screen resume | head -n 3)"
q2=$(screen resume | grep "in the queue" | sed 's/.*in the queue *//')
[ -n "$q1" ] && [ "$q1" = "$q2" ] && ok "... on the same negative ($q2)" || fail "queue place lost: '$q1' vs '$q2'"
quit_wb resume

done_tests
