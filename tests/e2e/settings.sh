#!/bin/sh
# The one settings table: `syneg set`, `:set`, `syneg train` flags and the
# launch scripts refuse bad values with the allowed range (exit 2, nothing
# saved); --list shows values and origins; the README's list is the table's.
. tests/e2e/lib.sh.inc
S=$T/cran
check "init session" "$SYNEG" init "$S" --beir "$SHARED_DATA/cranfield"
cp "$S/session.json" "$T/before.json"

# each defect of issue 15: refused, exit 2, the message names setting and range
refuse() {  # NAME VALUE RANGE-TEXT
    "$SYNEG" set "$S" "$1" "$2" 2>"$T/err"; rc=$?
    if [ $rc = 2 ] && grep -q -- "$1" "$T/err" && grep -q -- "$3" "$T/err" && cmp -s "$S/session.json" "$T/before.json"; then
        ok "set $1 $2 refused (exit 2, names $3)"
    else
        fail "set $1 $2: rc=$rc" "$(cat "$T/err")"
    fi
}
refuse bm25.k1 abc "0..100"
refuse bm25.b 7 "0..1"
refuse train.batch lots "1..4096"
refuse llm.concurrency 0 "1..1024"
refuse train.scratch huge "tiny|mini"
"$SYNEG" set "$S" no.such 1 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "set --list" "$T/err" && ok "an unknown setting is refused" || fail "unknown setting rc=$rc" "$(cat "$T/err")"
"$SYNEG" train "$S" --scratch tiny --lr -1 --max-steps 1 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "train.lr" "$T/err" && grep -q "> 0" "$T/err" && [ ! -d "$S/runs/"* ] 2>/dev/null \
    && ok "train --lr -1 refused before a run is made" || fail "train --lr -1: rc=$rc" "$(cat "$T/err"; ls "$S/runs")"
"$SYNEG" train "$S" --scratch tiny --batch lots 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "1..4096" "$T/err" && ok "train --batch lots refused with the range" || fail "train --batch lots rc=$rc" "$(cat "$T/err")"

# good values are typed, listed with their origin
check "set bm25.b 0.75" "$SYNEG" set "$S" bm25.b 0.75
check "set train.batch 24" "$SYNEG" set "$S" train.batch 24
grep -q '"batch": 24' "$S/session.json" && ok "an integer is stored as one" || fail "train.batch stored" "$(cat "$S/session.json")"
"$SYNEG" set "$S" --list > "$T/list"
grep -q '^bm25.b  *0.75  *session' "$T/list" && ok "--list: a session value" || fail "--list session origin" "$(cat "$T/list")"
grep -q '^bm25.k1  *0.9  *default' "$T/list" && ok "--list: a default" || fail "--list default origin" "$(cat "$T/list")"
SYNEG_LLM_MODEL=envmodel "$SYNEG" set "$S" --list | grep -q '^llm.model  *envmodel  *env' \
    && ok "--list: the environment" || fail "--list env origin"
# a value stored by hand that the table refuses stops the command that reads it
python3 -c "import json,sys; p=sys.argv[1]; d=json.load(open(p)); d['settings']['bm25']['k1']='abc'; json.dump(d,open(p,'w'))" "$S/session.json"
"$SYNEG" search "$S" "flow" 2>"$T/err" >/dev/null; rc=$?
[ $rc != 0 ] && grep -q "bm25.k1" "$T/err" && ok "a bad stored value is reported, not replaced by the default" \
    || fail "bad stored bm25.k1: rc=$rc" "$(cat "$T/err")"
check "--unset fixes it" "$SYNEG" set "$S" bm25.k1 --unset

# train defaults: the launch script carries the table's (same as syneg train)
"$SYNEG" set "$S" train.batch --unset >/dev/null
"$SYNEG" mine "$S" --retriever bm25 --num 3 >/dev/null 2>&1
"$SYNEG" export "$S" --format flag -o "$T/x/train.jsonl" --launch torchrun >/dev/null 2>&1
L="$T/x/train.jsonl.launch.sh"
for kv in BATCH:16 PASSAGE_MAX_LEN:128 QUERY_MAX_LEN:32 LR:2e-05; do
    grep -q "^${kv%%:*}=\"\\{0,1\}\${${kv%%:*}:-'\\{0,1\}${kv#*:}'\\{0,1\}}\"\\{0,1\}\$" "$L" && ok "launch script ${kv%%:*} = ${kv#*:} (train's default)" \
        || fail "launch script ${kv%%:*}" "$(grep "^${kv%%:*}=" "$L")"
done

# :set in the workbench goes through the same table
printf ':set bm25.b 7\n' > "$T/set.script"
"$SYNEG" tui "$S" --script "$T/set.script" --dump "$T/set.dump" --size 120x30 >/dev/null 2>&1
grep -q "0..1" "$T/set.dump" && grep -q '"b": 0.75' "$S/session.json" && ok ":set bm25.b 7 refused on screen, nothing saved" \
    || fail ":set bm25.b 7" "$(tail -3 "$T/set.dump"; cat "$S/session.json")"

# README's settings list is generated from the table
"$SYNEG" set --doc > "$T/doc"
sed -n '/<!-- settings:begin -->/,/<!-- settings:end -->/p' README.md | sed '1d;$d' > "$T/readme"
cmp -s "$T/doc" "$T/readme" && ok "README's settings list is the table ($(wc -l < "$T/doc") lines)" \
    || fail "README's settings list differs from 'syneg set --doc'" "$(diff "$T/readme" "$T/doc" | head)"
done_tests
