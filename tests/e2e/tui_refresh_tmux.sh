#!/bin/sh
# The workbench in a real terminal (tmux) shows negatives another process
# writes (a `syneg mine` from a shell) within a second or two, WITHOUT a key:
# before, it reloaded them but drew the old rows until a key, so the next
# label key acted on rows the person had not seen.  When the negative under
# the cursor is gone from the new rows, it says so.
. tests/e2e/lib.sh.inc
command -v tmux >/dev/null || { fail "tmux is not installed (Debian package tmux; the Makefile installs it)"; done_tests; exit 1; }
export LSAN_OPTIONS="suppressions=$(pwd)/tests/tui/lsan.supp:print_suppressions=0"
unset SYNEG_LLM_URL SYNEG_TUIRC
S=$T/demo
pristine_demo "$S" || { fail "copy the shipped demo session"; done_tests; exit 1; }
"$SYNEG" mine "$S" --retriever bm25 --num 6 >/dev/null 2>"$T/err" || fail "mine the demo copy" "$(cat "$T/err")"

TM="tmux -L syneg-refresh-$$ -f /dev/null"
trap '$TM kill-server 2>/dev/null; rm -rf "$T"' EXIT
$TM new-session -d -s w -x 120 -y 34 \
    "env TERM=xterm-256color LC_ALL=C.UTF-8 '$SYNEG' tui '$S' 2>'$T/stderr'; echo \$? >'$T/exit'; sleep 60"
screen() { $TM capture-pane -t w -p; }
wait_for() {   # PATTERN [TENTHS]: the screen shows it within TENTHS/10 s (default 15 s)
    i=0
    while [ $i -lt "${2:-150}" ]; do
        screen | grep -q "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
keys() { $TM send-keys -t w "$@"; sleep 0.3; }

wait_for "RETRIEVED [6-9]" && ok "the workbench shows the retrieved negatives" || fail "no RETRIEVED 6+" "$(screen)"
n1=$(screen | grep -o "RETRIEVED [0-9]*" | head -n 1)
keys Tab   # the synthetic column is empty here: Tab lands on the retrieved one
keys G     # its last row
screen | grep -q "q 1/" && ok "cursor on the first query's last retrieved negative" || fail "focus" "$(screen | tail -n 2)"
"$SYNEG" mine "$S" --retriever bm25 --num 3 >/dev/null 2>"$T/err" || fail "mine again" "$(cat "$T/err")"
# no key from here on: the screen alone must follow
i=0; while [ "$(screen | grep -o "RETRIEVED [0-9]*" | head -n 1)" = "$n1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
n2=$(screen | grep -o "RETRIEVED [0-9]*" | head -n 1)
[ "$n2" != "$n1" ] && [ "${n2#RETRIEVED }" -lt "${n1#RETRIEVED }" ] && ok "new negatives on disk show within 5 s, without a key ($n1 -> $n2)" \
    || fail "the screen still shows the old rows ($n1 -> $n2)" "$(screen | grep -n RETRIEVED)"
wait_for "replaced the one under the cursor" 30 && ok "it says the negative under the cursor is gone" \
    || fail "no word about the cursor's negative" "$(screen | tail -n 2)"
# the label lands on the negative shown under the cursor: open it (Enter shows
# its id), reject it, and read the journal
keys Enter
shown=$(screen | sed -n 's/.*DETAIL q01 \/ \([^ ]*\).*/\1/p' | head -n 1)
keys x
sleep 0.3
last=$(tail -n 1 "$S/labels.jsonl" | python3 -c "import json,sys; o=json.load(sys.stdin); print(o['q'], o['n'], o['a'])")
[ -n "$shown" ] && [ "$last" = "q01 $shown reject" ] && "$SYNEG" info "$S" --json >/dev/null \
    && ok "x rejects the negative on screen ($shown), as the journal says" || fail "journal: '$last', shown '$shown'" "$(screen | head -n 3)"
keys Escape
keys q
i=0; while [ ! -s "$T/exit" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat "$T/exit" 2>/dev/null)" = 0 ] && ok "quits with 0" || fail "exit $(cat "$T/exit" 2>/dev/null)" "$(cat "$T/stderr")"
done_tests
