#!/bin/sh
# End to end: init on real data (Cranfield), info --json counts, labels through
# the CLI, the lock, help and exit codes.
. tests/e2e/lib.sh.inc
CRAN=$SHARED_DATA/cranfield
S=$T/sessions/cran
need "$CRAN/corpus.jsonl" "init/info/label on Cranfield" || { done_tests; exit; }
jget() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval('d'+sys.argv[1]))" "$2"; }

check "init cranfield" "$SYNEG" init "$S" --beir "$CRAN"
"$SYNEG" info "$S" --json > "$T/info.json" 2>"$T/err" || fail "info --json" "$(cat "$T/err")"
train_rows=$(($(wc -l < "$CRAN/qrels/train.tsv") - 1))
test_rows=$(($(wc -l < "$CRAN/qrels/test.tsv") - 1))
[ "$(jget "$T/info.json" "['docs']")" = 1400 ] && ok "1400 docs" || fail "docs: $(jget "$T/info.json" "['docs']")"
[ "$(jget "$T/info.json" "['queries']['total']")" = 225 ] && ok "225 queries" || fail "queries"
[ "$(jget "$T/info.json" "['qrels']['train']")" = "$train_rows" ] && ok "train qrels = $train_rows" || fail "train qrels $(jget "$T/info.json" "['qrels']['train']") != $train_rows"
[ "$(jget "$T/info.json" "['qrels']['test']")" = "$test_rows" ] && ok "test qrels = $test_rows" || fail "test qrels"
for k in "['negatives']['total']" "['labels']['accept']" "['labels']['reject']" "['runs']"; do
    [ "$(jget "$T/info.json" "$k")" = 0 ] && ok "fresh session: $k = 0" || fail "fresh session: $k"
done

check "label accept" "$SYNEG" label "$S" 1 186 accept --note "near miss"
check "label reject" "$SYNEG" label "$S" 1 29 reject
"$SYNEG" info "$S" --json > "$T/info2.json"
[ "$(jget "$T/info2.json" "['labels']['accept']")" = 1 ] && [ "$(jget "$T/info2.json" "['labels']['reject']")" = 1 ] \
    && ok "labels counted by kind" || fail "labels after CLI acts: $(cat "$T/info2.json")"
grep -q '"note":"near miss"' "$S/labels.jsonl" && ok "journal line holds the note" || fail "journal"

"$SYNEG" label "$S" nosuchq 184 accept 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "nosuchq" "$T/err" && ok "unknown query id: exit 1 naming it" || fail "unknown query rc=$rc" "$(cat "$T/err")"
"$SYNEG" label "$S" 1 186 maybe 2>"$T/err"; rc=$?
[ $rc = 2 ] && ok "bad act: usage error (2)" || fail "bad act rc=$rc"
# doc 184 is a judged positive of query 1 (qrels rel 3): accepting it as a negative is refused
"$SYNEG" label "$S" 1 184 accept 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "judged positive of query 1" "$T/err" && grep -q -- "--force" "$T/err" \
    && ok "accepting a judged positive is refused, naming --force" || fail "positive accepted: rc=$rc" "$(cat "$T/err")"
"$SYNEG" label "$S" 1 184 accept --force 2>"$T/err" >/dev/null; rc=$?
[ $rc = 0 ] && grep -q "warning: .*judged positive" "$T/err" && ok "--force saves it with a warning" || fail "--force rc=$rc" "$(cat "$T/err")"
"$SYNEG" label "$S" 1 184 clear >/dev/null 2>&1
"$SYNEG" label "$S" 1 184 reject >/dev/null 2>"$T/err" && ! grep -q warning "$T/err" && "$SYNEG" label "$S" 1 184 clear >/dev/null 2>&1 \
    && ok "rejecting a positive needs no --force" || fail "reject positive" "$(cat "$T/err")"
"$SYNEG" init "$S" --beir "$CRAN" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "already exists" "$T/err" && ok "init refuses an existing session" || fail "re-init rc=$rc"
"$SYNEG" init "$T/x" --beir "$T/nowhere" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "nowhere" "$T/err" && [ ! -e "$T/x/session.json" ] && ok "missing data: error naming the path, nothing written" || fail "missing data rc=$rc" "$(cat "$T/err")"
"$SYNEG" frobnicate 2>/dev/null; [ $? = 2 ] && ok "unknown command: exit 2" || fail "unknown command"

# one writer at a time: hold the lock and try to label
if command -v flock >/dev/null; then
    flock "$S/lock" sleep 2 &
    fl=$!
    sleep 0.5
    "$SYNEG" label "$S" 1 51 accept 2>"$T/err"; rc=$?
    [ $rc = 1 ] && grep -qi "in use\|read-only" "$T/err" && ok "locked session refuses labels" || fail "locked rc=$rc" "$(cat "$T/err")"
    "$SYNEG" info "$S" --json >/dev/null && ok "info works read-only while locked" || fail "info while locked"
    wait $fl 2>/dev/null   # flock's child holds the lock until it ends
    # a background job beside the lock holder writes its own segment and is merged
    flock "$S/lock" sleep 4 &
    fl=$!
    sleep 0.5
    "$SYNEG" mine "$S" --retriever bm25 --num 4 >/dev/null 2>"$T/err" && ok "mining runs beside the lock holder" || fail "mine while locked" "$(cat "$T/err")"
    "$SYNEG" synth "$S" --offline --limit 3 >/dev/null 2>"$T/err" && ok "synthesis runs beside the lock holder" || fail "synth while locked" "$(cat "$T/err")"
    wait $fl 2>/dev/null
    "$SYNEG" info "$S" --json > "$T/info3.json"
    [ "$(jget "$T/info3.json" "['negatives']['bm25']")" -gt 0 ] && [ "$(jget "$T/info3.json" "['negatives']['offline']")" -gt 0 ] \
        && ok "the jobs' segments are merged into the session" || fail "negatives after jobs: $(cat "$T/info3.json")"
fi

# settings through the CLI: JSON values, strings, secrets refused, --unset
check "set a number" "$SYNEG" set "$S" bm25.k1 1.2
check "set a string" "$SYNEG" set "$S" llm.model my-model
[ "$("$SYNEG" set "$S" bm25.k1)" = "1.2" ] && ok "read back a number" || fail "read back bm25.k1"
[ "$("$SYNEG" set "$S" llm.model)" = '"my-model"' ] && ok "read back a string" || fail "read back llm.model"
"$SYNEG" set "$S" llm.api_key sk-abc 2>"$T/err"; rc=$?
[ $rc = 1 ] && ! grep -q sk-abc "$S/session.json" && ok "a secret is refused and not saved" || fail "secret rc=$rc"
check "unset" "$SYNEG" set "$S" llm.model --unset
"$SYNEG" set "$S" llm.model >/dev/null 2>&1 && fail "unset left the value" || ok "unset removed the value"

# every command has --help, exit 0, mentioning its usage
for c in $("$SYNEG" --help | awk '/^commands:/{on=1;next} on && /^  [a-z]/{print $1}'); do
    "$SYNEG" "$c" --help > "$T/h" 2>&1 && grep -q "usage: syneg $c" "$T/h" && ok "$c --help" || fail "$c --help"
done
done_tests
