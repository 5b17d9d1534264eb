#!/bin/sh
# README and --help say the same thing; the demo session prepares offline and
# gives curation real work (planted false negatives reach the screen).
. tests/e2e/lib.sh.inc
head -5 README.md | grep -q '^make demo' && head -5 README.md | grep -q '^make test' \
    && ok "README opens with make demo and make test" || fail "README's first commands"
python3 - "$SYNEG" README.md > "$T/help.out" 2>&1 <<'PY'
import subprocess, sys
syneg, readme = sys.argv[1], open(sys.argv[2]).read()
top = subprocess.run([syneg, '--help'], capture_output=True, text=True).stdout
cmds, on = [], False
for l in top.split('\n'):
    if l.startswith('commands:'): on = True; continue
    if on and l.startswith('  ') and l.strip(): cmds.append(l.split()[0])
    elif on and cmds and not l.strip(): on = False
bad = [] if top.rstrip('\n') in readme else ['syneg --help']
for c in cmds:
    h = subprocess.run([syneg, c, '--help'], capture_output=True, text=True).stdout.rstrip('\n')
    if not h or h not in readme: bad.append(c)
print('commands:', len(cmds))
print('stale:', ' '.join(bad) if bad else 'none')
sys.exit(1 if bad or len(cmds) < 10 else 0)
PY
[ $? = 0 ] && ok "README carries every command's --help verbatim ($(head -1 "$T/help.out"))" \
    || fail "README is stale for: $(tail -1 "$T/help.out")" "regenerate the CLI reference from 'syneg CMD --help'"

# the demo session, prepared as make demo does (Makefile target demo), on a copy
D=$T/demo
pristine_demo "$D" || fail "copy the shipped demo session"
check "demo: mine" "$SYNEG" mine "$D" --retriever bm25 --range 0:50 --num 8
check "demo: mine the test split" "$SYNEG" mine "$D" --retriever bm25 --range 0:50 --num 8 --split test
check "demo: offline synthesis" "$SYNEG" synth "$D" --offline
"$SYNEG" info "$D" --json > "$T/info.json"
python3 - "$T/info.json" <<'PY' && ok "demo has retrieved negatives for every query and offline ones for train queries" || fail "demo negatives" "$(cat "$T/info.json")"
import json, sys
d = json.load(open(sys.argv[1])); n = d['negatives']
sys.exit(0 if n['bm25'] > 0 and n['offline'] > 0 and n['queries'] == d['queries']['train'] + d['queries']['test'] else 1)
PY
# planted false negatives (sessions/demo/data/README.md) must be in the pool, waiting for a person
planted=$(sed -n 's/^- \(q[0-9]*\) -> \(d[0-9]*\).*/\1 \2/p' sessions/demo/data/README.md)
found=0; total=0
for pair in $(echo "$planted" | tr ' ' ':'); do
    q=${pair%%:*}; d=${pair##*:}
    total=$((total + 1))
    printf ':goto %s\n' "$q" > "$T/g.script"
    "$SYNEG" tui "$D" --script "$T/g.script" --dump "$T/g.dump" --size 160x60 >/dev/null 2>&1
    grep -q "$d" "$T/g.dump" && found=$((found + 1))
done
[ $total -ge 40 ] && [ $found -ge $((total * 3 / 4)) ] && ok "planted false negatives on screen for review: $found of $total" \
    || fail "planted false negatives on screen: $found of $total"
grep -q "offline generator" "$T/g.dump" && ok "the screen says the offline generator is in use" || fail "offline notice" "$(cat "$T/g.dump")"
done_tests
