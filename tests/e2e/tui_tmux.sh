#!/bin/sh
# The workbench end to end in a real terminal (tmux): open a copy of the demo
# session, label two negatives with keys, change a prompt attribute and
# regenerate offline, quit; then `syneg info --json` must show the labels and
# the new synthetic negatives, and session.json the attribute.  It starts from
# the shipped demo files only (pristine_demo), so it passes after `make demo`.
. tests/e2e/lib.sh.inc
command -v tmux >/dev/null || { fail "tmux is not installed (Debian package tmux; the Makefile installs it)"; done_tests; exit 1; }
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }
export LSAN_OPTIONS="suppressions=$(pwd)/tests/tui/lsan.supp:print_suppressions=0"
unset SYNEG_LLM_URL SYNEG_TUIRC

# the demo as shipped, whatever `make demo` or a workbench left in sessions/demo
S=$T/demo
pristine_demo "$S" || { fail "copy the shipped demo session"; done_tests; exit 1; }
n0=$("$SYNEG" info "$S" --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['negatives']['total'])")
if [ "${n0:-0}" = 0 ]; then
    "$SYNEG" mine "$S" --retriever bm25 --num 6 >/dev/null 2>"$T/err" || fail "mine the demo copy" "$(cat "$T/err")"
fi
"$SYNEG" info "$S" --json >"$T/before.json" 2>/dev/null
acc0=$(jget "$T/before.json" "['labels']['accept']"); rej0=$(jget "$T/before.json" "['labels']['reject']")
off0=$(jget "$T/before.json" "['negatives']['offline']")

TM="tmux -L syneg-e2e-$$ -f /dev/null"
trap '$TM kill-server 2>/dev/null; rm -rf "$T"' EXIT
# the "editor" marks the template it is given, so :edit-prompt can be checked
printf '#!/bin/sh\necho "# edited in the tmux test" >> "$1"\n' >"$T/editor" && chmod +x "$T/editor"
$TM new-session -d -s w -x 100 -y 30 \
    "env TERM=xterm-256color LC_ALL=C.UTF-8 EDITOR='$T/editor' VISUAL= '$SYNEG' tui '$S' 2>'$T/stderr'; echo \$? >'$T/exit'; sleep 60"
screen() { $TM capture-pane -t w -p; }
# wait_for PATTERN: up to 15 s for the screen to show it
wait_for() {
    i=0
    while [ $i -lt 150 ]; do
        screen | grep -q "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
keys() { $TM send-keys -t w "$@"; sleep 0.3; }

wait_for "QUERIES" && ok "the workbench opens in a terminal" || fail "no workbench on screen" "$(screen)"
screen | grep -q "offline generator" && ok "status line: offline generator" || fail "status line" "$(screen | tail -n 2)"
keys n
keys Tab   # focus the negatives: from the query list a labels nothing
keys a
wait_for "accepted for" && ok "a accepts (message on screen)" || fail "accept" "$(screen | tail -n 2)"
keys x
wait_for "rejected (false negative)" && ok "x rejects" || fail "reject" "$(screen | tail -n 2)"
# a second workbench on the same session opens read-only, says so, and follows
# the writer's labels
$TM new-window -t w "env TERM=xterm-256color LC_ALL=C.UTF-8 '$SYNEG' tui '$S'; sleep 60"
sleep 0.5
screen1() { $TM capture-pane -t w:1 -p; }
i=0; while ! screen1 | grep -q "READ-ONLY" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
screen1 | grep -q "READ-ONLY (locked by pid" && ok "a second workbench opens read-only and says so" || fail "second workbench" "$(screen1)"
before=$(screen1 | grep -o "| reviewed [0-9]*" | head -n 1)
$TM send-keys -t w:0 a; sleep 0.3
i=0; while [ "$(screen1 | grep -o "| reviewed [0-9]*" | head -n 1)" = "$before" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
after=$(screen1 | grep -o "| reviewed [0-9]*" | head -n 1)
[ "$after" != "$before" ] && ok "the read-only workbench follows the writer's labels ($before -> $after)" || fail "viewer did not follow ($before)"
$TM send-keys -t w:1 q; sleep 0.3
$TM select-window -t w:0
keys A
wait_for "ATTRIBUTES" && ok "A opens the attribute panel" || fail "attribute panel" "$(screen)"
keys j
keys l
wait_for "difficulty   = " && ok "l changes an attribute" || fail "attribute change" "$(screen)"
keys R
keys Escape
wait_for "SYNTHETIC [1-9]" && ok "R regenerates: new synthetic negatives appear" || fail "no synthetic negatives after R" "$(screen)"
keys :
keys "goto " Tab
keys Escape
keys : "edit-prompt" Enter
wait_for "prompt template reloaded" && ok ":edit-prompt runs the editor and comes back" || fail "edit-prompt" "$(screen | tail -n 2)"
grep -q "edited in the tmux test" "$S/prompts/synth.txt" && ok ":edit-prompt edited SESSION/prompts/synth.txt" || fail "template not edited"
keys P
wait_for "PROMPT for" && screen | grep -q "Query:" && ok "P shows the prompt rendered for the query" || fail "prompt view" "$(screen)"
keys Escape
keys '?'
wait_for "HELP" && ok "? opens help" || fail "help" "$(screen)"
keys q
keys q
i=0; while [ ! -f "$T/exit" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat "$T/exit" 2>/dev/null)" = 0 ] && ok "q quits with status 0" || fail "exit status: $(cat "$T/exit" 2>/dev/null)" "$(cat "$T/stderr")"

"$SYNEG" info "$S" --json >"$T/after.json" 2>"$T/err" || fail "info after" "$(cat "$T/err")"
[ "$(jget "$T/after.json" "['labels']['accept']")" = $((acc0 + 2)) ] && ok "the accept was saved" || fail "accepts: $(jget "$T/after.json" "['labels']")"
[ "$(jget "$T/after.json" "['labels']['reject']")" = $((rej0 + 1)) ] && ok "the reject was saved" || fail "rejects: $(jget "$T/after.json" "['labels']")"
off1=$(jget "$T/after.json" "['negatives']['offline']")
[ "$off1" -gt "$off0" ] && ok "the regenerated negatives were saved ($off0 -> $off1 offline)" || fail "offline negatives $off0 -> $off1"
grep -q '"difficulty"' "$S/session.json" && ok "the attribute was saved in session.json" || fail "attribute not in session.json"
done_tests
