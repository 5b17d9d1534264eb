#!/bin/sh
# Hostile names, pids and URLs (issue 16): a data file or session name cannot
# run commands through a generated launch script; `runs --cancel` signals only
# the process that wrote the run's status; a key in the endpoint URL never
# reaches a file or message; session files are private.
. tests/e2e/lib.sh.inc
DATA=$(pwd)/tests/golden/export/data
S=$T/s
VICTIM=""
cleanup() { [ -n "$VICTIM" ] && kill "$VICTIM" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
setting() {
    python3 - "$S/session.json" "$1" "$2" <<'EOF'
import json, sys, os
p, path, val = sys.argv[1], sys.argv[2].split("."), json.loads(sys.argv[3])
d = json.load(open(p))
o = d.setdefault("settings", {})
for k in path[:-1]:
    o = o.setdefault(k, {})
o[path[-1]] = val
json.dump(d, open(p + ".tmp", "w"), indent=2)
os.rename(p + ".tmp", p)
EOF
}

check "init" "$SYNEG" init "$S" --beir "$DATA"
"$SYNEG" import "$S" tests/golden/export/pool.jsonl >/dev/null 2>&1

# 0. private files: the session folder, session.json, the label journal, the LLM cache
"$SYNEG" label "$S" q1 d2 accept >/dev/null 2>&1
m=$(for f in "$S" "$S/session.json" "$S/labels.jsonl"; do stat -c %a "$f"; done 2>&1 | tr '\n' ' ')
m=${m% }
[ "$m" = "700 600 600" ] && ok "session folder, session.json, labels.jsonl are $m" \
    || fail "modes: $m (want 700 600 600)"

# 1. launch scripts: a data file name that is a command substitution stays a name
mkdir -p "$T/out"
for fmt in st flag; do
    name='a$(touch${IFS}PWNED).'$fmt".jsonl"
    if "$SYNEG" export "$S" --format $fmt -o "$T/out/$name" --launch torchrun >"$T/l.$fmt" 2>&1 &&
       [ -x "$T/out/$name.launch.sh" ]; then
        (cd "$T" && TORCHRUN=true bash "out/$name.launch.sh" >/dev/null 2>&1)
        if [ ! -e "$T/PWNED" ] && [ ! -e "$T/out/PWNED" ] && [ ! -e PWNED ]; then
            ok "$fmt launch script run with data file $name: nothing executed"
        else fail "$fmt launch script ran the file name"; rm -f "$T/PWNED" "$T/out/PWNED" PWNED; fi
        (cd "$T" && TORCHRUN=echo bash "out/$name.launch.sh" >"$T/argv.$fmt" 2>&1)
        grep -qF "$T/out/$name" "$T/argv.$fmt" && ok "$fmt script passes the file name through intact" \
            || fail "$fmt data path" "$(cat "$T/argv.$fmt")"
    else fail "$fmt export --launch" "$(cat "$T/l.$fmt")"; fi
done
q="it's \$HOME \`id\` \"q\""
if "$SYNEG" export "$S" --format flag -o "$T/out/$q.jsonl" --launch torchrun >/dev/null 2>&1 &&
   (cd "$T" && TORCHRUN=echo bash "out/$q.jsonl.launch.sh" 2>&1) | grep -qF "$q.jsonl"; then
    ok "quotes, \$ and backquotes in a file name survive"
else fail "quotes in a file name"; fi

# 2. a session folder whose name holds a newline: refused, never written into a script
NL="$T/bad
touch PWNED2"
cp -r "$S" "$NL"
out=$("$SYNEG" export "$NL" --format st -o "$T/out/nl.jsonl" --launch torchrun 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "control character" && [ ! -e "$T/out/nl.jsonl.launch.sh" ]; then
    ok "a session name with a newline is refused for launch scripts (exit $rc)"
else fail "newline session name" "rc=$rc $out"; fi
out=$("$SYNEG" init "$T/new
name" --beir "$DATA" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "control character" && ok "init refuses a folder name with a newline" \
    || fail "init newline" "rc=$rc $out"

# 3. runs --cancel: a status naming an unrelated process does not signal it
sleep 120 &
VICTIM=$!
mkdir -p "$S/runs/20260101-000000-x"
write_status() {   # PID_START ("" for none)
    python3 - "$S/runs/20260101-000000-x/status.json" "$VICTIM" "$1" <<'EOF'
import json, sys
st = {"format": "syneg-run-status", "version": 1, "id": "20260101-000000-x", "state": "running",
      "pid": int(sys.argv[2]), "step": 1, "total": 10, "epoch": 0, "updated": "", "message": ""}
if sys.argv[3] != "none":
    st["pid_start"] = sys.argv[3]
json.dump(st, open(sys.argv[1], "w"))
EOF
}
token=$(python3 -c "
import sys
boot = open('/proc/sys/kernel/random/boot_id').read().strip()
st = open('/proc/%s/stat' % sys.argv[1]).read()
print(boot + ':' + st[st.rindex(')') + 2:].split()[19])" "$VICTIM")
write_status none
"$SYNEG" runs "$S" --cancel 20260101-000000-x >/dev/null 2>&1
sleep 0.2
kill -0 "$VICTIM" 2>/dev/null && ok "cancel without a recorded identity does not signal pid $VICTIM" \
    || { fail "cancel killed an unrelated process (no identity)"; sleep 120 & VICTIM=$!; }
rm -f "$S/runs/20260101-000000-x/cancel"
write_status "otherboot:12345"
out=$("$SYNEG" runs "$S" --cancel 20260101-000000-x 2>&1); rc=$?
sleep 0.2
kill -0 "$VICTIM" 2>/dev/null && [ $rc -ne 0 ] && ok "a pid reused by another process reads as killed and is not signalled" \
    || { fail "cancel with a foreign identity" "rc=$rc $out"; sleep 120 & VICTIM=$!; }
"$SYNEG" runs "$S" --json 2>/dev/null | grep -q '"killed"' && ok "runs lists it as killed" || fail "runs state"
write_status "$token"
"$SYNEG" runs "$S" --cancel 20260101-000000-x >/dev/null 2>&1
i=0; while kill -0 "$VICTIM" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if ! kill -0 "$VICTIM" 2>/dev/null; then ok "the process that wrote the status is signalled"; VICTIM=""
else fail "cancel did not signal the right process"; fi

# 4. a key in the endpoint URL reaches no file and no message
KEY="sk-url-LEAK-$$-77"
setting llm.model '"fake-model"'
setting llm.max_retries 0
setting llm.timeout_s 2
SYNEG_LLM_URL="http://user:$KEY@127.0.0.1:16999/v1?api_key=$KEY" SYNEG_TRACE="$S/trace.jsonl" \
    "$SYNEG" synth "$S" --limit 1 --reflect 0 >"$T/u.out" 2>"$T/u.err"
grep -q "REDACTED" "$S"/jobs/*/failures.jsonl 2>/dev/null && ok "failures.jsonl names the URL redacted" \
    || fail "no redacted URL in failures.jsonl" "$(cat "$S"/jobs/*/failures.jsonl "$T/u.err" 2>&1)"
if grep -rqF "$KEY" "$S" "$T/u.out" "$T/u.err"; then fail "the URL's key leaked" "$(grep -rlF "$KEY" "$S" "$T/u.out" "$T/u.err")"
else ok "the URL's key is in no file, trace or message"; fi
grep -q "warning.*URL" "$T/u.err" && ok "a key in the URL is warned about" || fail "no warning" "$(cat "$T/u.err")"
m=$(stat -c %a "$S/cache/llm" "$S/trace.jsonl" 2>&1 | tr '\n' ' ')
[ "$m" = "700 600 " ] && ok "cache/llm and the trace are private ($m)" || fail "cache/llm, trace modes $m"

done_tests
