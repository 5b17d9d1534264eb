#!/bin/sh
# syneg label --file: many acts under one lock with one write+fsync, errors
# naming FILE:LINE with nothing saved, stdin, and --wait queueing behind a holder.
. tests/e2e/lib.sh.inc
CRAN=$SHARED_DATA/cranfield
S=$T/cran
need "$CRAN/corpus.jsonl" "bulk labelling on Cranfield" || { done_tests; exit; }
jget() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval('d'+sys.argv[1]))" "$2"; }
check "init cranfield" "$SYNEG" init "$S" --beir "$CRAN"

cat > "$T/good.jsonl" <<'J'
{"q":"1","n":"184","a":"accept","note":"near miss"}

{"query_id":"1","doc_id":"29","act":"reject"}
{"q":"2","n":"12","a":"accept"}
{"q":"2","n":"12","a":"clear"}
J
"$SYNEG" label "$S" --file "$T/good.jsonl" --force >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "saved 4 labels (2 accept, 1 reject, 1 clear)" "$T/out" && ok "bulk file saved" || fail "bulk rc=$rc" "$(cat "$T/out" "$T/err")"
[ "$(wc -l < "$S/labels.jsonl")" = 4 ] && ok "4 journal lines" || fail "journal: $(cat "$S/labels.jsonl")"
python3 - "$S/labels.jsonl" <<'P' && ok "journal seq 1..4 in file order" || fail "journal order"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["seq"] for r in rows] == [1, 2, 3, 4], rows
assert [(r["q"], r["n"], r["a"]) for r in rows] == [("1","184","accept"),("1","29","reject"),("2","12","accept"),("2","12","clear")], rows
assert rows[0]["note"] == "near miss"
P
"$SYNEG" info "$S" --json > "$T/info.json"
[ "$(jget "$T/info.json" "['labels']['accept']")" = 1 ] && [ "$(jget "$T/info.json" "['labels']['reject']")" = 1 ] \
    && ok "info counts the bulk labels" || fail "info: $(cat "$T/info.json")"

# one fsync per batch, not per line
if command -v strace >/dev/null; then
    printf '{"q":"3","n":"%s","a":"accept"}\n' 1 2 3 4 5 6 7 8 > "$T/eight.jsonl"
    strace -f -e trace=fsync,fdatasync -o "$T/strace" "$SYNEG" label "$S" --file "$T/eight.jsonl" --force >/dev/null 2>&1
    n=$(grep -c 'fsync(' "$T/strace")
    [ "$n" = 1 ] && ok "8 labels, 1 fsync" || fail "fsyncs for 8 labels: $n" "$(cat "$T/strace")"
fi

# bad lines: every one named, nothing saved
before=$(cat "$S/labels.jsonl")
cat > "$T/bad.jsonl" <<'J'
{"q":"1","n":"51","a":"accept"}
{"q":"1","n":"51","a":"maybe"}
not json
{"q":"1","a":"reject"}
J
"$SYNEG" label "$S" --file "$T/bad.jsonl" 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "bad.jsonl:2: .*maybe" "$T/err" && grep -q "bad.jsonl:3:" "$T/err" && grep -q "bad.jsonl:4: .*\"n\"" "$T/err" \
    && grep -q "nothing saved" "$T/err" && ok "malformed lines: exit 2, each named" || fail "bad rc=$rc" "$(cat "$T/err")"
[ "$before" = "$(cat "$S/labels.jsonl")" ] && ok "nothing saved from a bad file" || fail "journal changed"
printf '{"q":"1","n":"51","a":"accept"}\n{"q":"nosuchq","n":"51","a":"accept"}\n{"q":"1","n":"nosuchdoc","a":"reject"}\n' > "$T/unk.jsonl"
"$SYNEG" label "$S" --file "$T/unk.jsonl" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "unk.jsonl:2: .*nosuchq" "$T/err" && grep -q "unk.jsonl:3: .*nosuchdoc" "$T/err" \
    && [ "$before" = "$(cat "$S/labels.jsonl")" ] && ok "unknown ids: exit 1, lines named, nothing saved" || fail "unknown rc=$rc" "$(cat "$T/err")"
"$SYNEG" label "$S" --file "$T/none.jsonl" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "none.jsonl" "$T/err" && ok "missing file named" || fail "missing rc=$rc"

# standard input
printf '{"q":"4","n":"7","a":"reject"}\n' | "$SYNEG" label "$S" --file - >"$T/out" 2>&1 \
    && grep -q "saved 1 labels" "$T/out" && tail -1 "$S/labels.jsonl" | grep -q '"q":"4","n":"7","a":"reject"' \
    && ok "--file - reads stdin" || fail "stdin" "$(cat "$T/out")"

# --wait queues behind the holder; without it, it fails
if command -v flock >/dev/null; then
    flock "$S/lock" sleep 1.5 &
    fl=$!
    sleep 0.4
    printf '{"q":"5","n":"9","a":"accept"}\n' > "$T/w.jsonl"
    "$SYNEG" label "$S" --file "$T/w.jsonl" 2>"$T/err"; rc=$?
    [ $rc = 1 ] && grep -q -- "--wait" "$T/err" && ok "locked: fails, suggests --wait" || fail "locked rc=$rc" "$(cat "$T/err")"
    "$SYNEG" label "$S" --file "$T/w.jsonl" --wait >"$T/out" 2>"$T/err"; rc=$?
    [ $rc = 0 ] && grep -q "waiting for the session lock" "$T/err" && tail -1 "$S/labels.jsonl" | grep -q '"q":"5"' \
        && ok "--wait queues behind the holder, then saves" || fail "wait rc=$rc" "$(cat "$T/err")"
    wait $fl 2>/dev/null
    flock "$S/lock" sleep 1 &
    fl=$!
    sleep 0.3
    "$SYNEG" label "$S" 6 10 accept --wait >/dev/null 2>&1 && tail -1 "$S/labels.jsonl" | grep -q '"q":"6"' \
        && ok "single act --wait" || fail "single --wait"
    wait $fl 2>/dev/null
fi
done_tests
