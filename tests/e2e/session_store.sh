#!/bin/sh
# The session store (SESSION/corpus.syc): built by init, mapped by later
# commands; old sessions converted once with a message; a changed data set or a
# damaged store rebuilt and said so; a damaged store without its data set named.
. tests/e2e/lib.sh.inc
cp -r "$SHARED_DATA/cranfield" "$T/cran-data"
S=$T/cran
jget() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval('d'+sys.argv[1]))" "$2"; }
check "init" "$SYNEG" init "$S" --beir "$T/cran-data"
[ -s "$S/corpus.syc" ] && ok "init builds corpus.syc" || fail "no store after init"
"$SYNEG" info "$S" --json >"$T/i1.json" 2>"$T/err"
[ "$(jget "$T/i1.json" "['docs']")" = 1400 ] && [ ! -s "$T/err" ] && ok "info from the store, silently" || fail "info" "$(cat "$T/err")"

# an old session (no store): converted once, with a message, then silent
rm "$S/corpus.syc"
"$SYNEG" info "$S" --json >"$T/i2.json" 2>"$T/err"
grep -q "built corpus.syc from the data set.*before the store" "$T/err" && [ -s "$S/corpus.syc" ] \
    && ok "old session converted with a message" || fail "conversion" "$(cat "$T/err")"
cmp -s "$T/i1.json" "$T/i2.json" && ok "same info after conversion" || fail "info differs"
"$SYNEG" info "$S" >/dev/null 2>"$T/err"
[ ! -s "$T/err" ] && ok "converted once" || fail "second open: $(cat "$T/err")"

# the data set changed: rebuilt, said so
echo '{"_id":"new1","title":"","text":"a new document about wings"}' >> "$T/cran-data/corpus.jsonl"
"$SYNEG" info "$S" --json >"$T/i3.json" 2>"$T/err"
[ "$(jget "$T/i3.json" "['docs']")" = 1401 ] && grep -q "data set changed" "$T/err" \
    && ok "changed data set: rebuilt with a message" || fail "stale store" "$(cat "$T/err")"
check "label a document added later" "$SYNEG" label "$S" 1 new1 accept

# damaged: rebuilt from the data set, naming what was wrong
printf 'X' | dd of="$S/corpus.syc" bs=1 seek=200 conv=notrunc 2>/dev/null
"$SYNEG" info "$S" --json >"$T/i4.json" 2>"$T/err"
[ "$(jget "$T/i4.json" "['docs']")" = 1401 ] && grep -q "corpus.syc: session store damaged" "$T/err" \
    && ok "damaged store: rebuilt, damage named" || fail "damaged" "$(cat "$T/err")"

# a crashed builder's temporary file leaves the store usable
cp "$S/corpus.syc" "$S/corpus.syc.tmp.99999"
head -c 1000 "$S/corpus.syc" > "$S/corpus.syc.tmp.99999"
"$SYNEG" info "$S" >/dev/null 2>"$T/err" && [ ! -s "$T/err" ] && ok "a half-written temporary is ignored" || fail "tmp" "$(cat "$T/err")"

# without the data set the store holds everything; damaged then, the error names it
mv "$T/cran-data" "$T/gone"
"$SYNEG" info "$S" --json >"$T/i5.json" 2>"$T/err"
[ "$(jget "$T/i5.json" "['docs']")" = 1401 ] && ok "opens from the store alone" || fail "no data" "$(cat "$T/err")"
check "search from the store alone" "$SYNEG" search "$S" "wing lift" --retriever bm25 -k 3
printf 'X' | dd of="$S/corpus.syc" bs=1 seek=60 conv=notrunc 2>/dev/null
"$SYNEG" info "$S" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "$S/corpus.syc: session store damaged" "$T/err" && ok "damaged, no data set: exit 1 naming the file" \
    || fail "rc=$rc" "$(cat "$T/err")"
done_tests
