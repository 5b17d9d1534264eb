#!/bin/sh
# The negatives store opened from its merged index (SESSION/cache/negatives.idx)
# on a session whose negatives are in many segments (as `mine --shard I/16`
# leaves them): the first command merges them and saves the index, the next
# ones open from it; info, the workbench's screen and the labels it writes are
# the same as when every segment is merged at open.
. tests/e2e/lib.sh.inc
B=${BUILD:-build}
"$B/tools/gencorpus" --docs 300 --queries 40 --words 30 "$T/data" >/dev/null || fail "gencorpus"
# two copies under the same name (the screen shows it): 1/s and 2/s
check "init" "$SYNEG" init "$T/1/s" --beir "$T/data"
check "16 segments of negatives" "$B/tools/gennegs" "$T/1/s" --queries 32 --qprefix q --docs 300 --dprefix d --segments 16
[ "$(ls "$T"/1/s/negatives/*.seg | wc -l)" = 16 ] && ok "16 segment files" || fail "segments" "$(ls "$T/1/s/negatives")"
mkdir -p "$T/2" && cp -r "$T/1/s" "$T/2/s"
a=$T/1/s b=$T/2/s
"$SYNEG" info "$a" --json >"$T/info1.json" 2>&1 || fail "info" "$(cat "$T/info1.json")"
[ -s "$a/cache/negatives.idx" ] && ok "the first open saves the merged index" || fail "no index" "$(ls "$a/cache")"
"$SYNEG" info "$a" --json >"$T/info2.json" 2>&1
cmp -s "$T/info1.json" "$T/info2.json" && ok "info from the index == info merging every segment" \
    || fail "info differs" "$(diff "$T/info1.json" "$T/info2.json")"
grep -q '"negatives"' "$T/info1.json" && ok "info counts negatives" || fail "info" "$(cat "$T/info1.json")"
# the same keys on both: a opens from the index, b (no index yet) merges at open
printf '<Tab>\nj\nj\na\nn\nx\nj\nx\n:goto q20\n<Tab>\njjj\na\n:dump %s\n' "$T/SCREEN" > "$T/keys.script"
for s in a b; do
    sed "s#$T/SCREEN#$T/$s.screen#" "$T/keys.script" > "$T/$s.script"
    [ $s = a ] && d=$a || d=$b
    (cd "$(dirname "$d")" && "$SYNEG" tui s --script "$T/$s.script" --size 120x40) 2>"$T/err" || fail "tui $s" "$(cat "$T/err")"
done
[ -s "$T/a.screen" ] && cmp -s "$T/a.screen" "$T/b.screen" && ok "the workbench shows the same screen" \
    || fail "screens differ" "$(diff "$T/a.screen" "$T/b.screen" | head -20)"
"$B/tools/labelcheck" "$a" | grep -v '^seq\|^skipped' > "$T/a.labels"
"$B/tools/labelcheck" "$b" | grep -v '^seq\|^skipped' > "$T/b.labels"
[ "$(wc -l < "$T/a.labels")" -ge 3 ] && cmp -s "$T/a.labels" "$T/b.labels" && ok "labels land on the same rows: $(tr '\n' ';' < "$T/a.labels")" \
    || fail "labels differ" "$(diff "$T/a.labels" "$T/b.labels"; cat "$T/a.labels")"
# a new shard makes the index stale: the next open merges again and sees it
"$B/tools/gennegs" "$a" --queries 36 --qprefix q --docs 300 --dprefix d --segments 1 --seed 5 >/dev/null
"$SYNEG" info "$a" --json >"$T/info3.json" 2>&1
python3 - "$T/info1.json" "$T/info3.json" <<'PY' && ok "a new segment is seen (stale index)" || fail "stale index" "$(cat "$T/info3.json")"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
def total(j):
    n = j["negatives"]
    return n["total"] if isinstance(n, dict) else n
sys.exit(0 if total(b) > total(a) else 1)
PY
done_tests
