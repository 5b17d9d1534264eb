#!/bin/sh
# A damaged TEXT in the session store never reaches an output: a bulk command
# (export, which opens the store eagerly) rebuilds it from the data set and
# writes the right text; without the data set it fails naming the file;
# search (lazy) stops before it prints and keeps no BM25 index built from it.
# Before, eager opens checked only the tables, so export wrote the damaged
# text and exited 0.
. tests/e2e/lib.sh.inc
need "$SHARED_DATA/cranfield/corpus.jsonl" "the damaged-text checks" || { done_tests; exit; }
cp -r "$SHARED_DATA/cranfield" "$T/data"
S=$T/s
check "init" "$SYNEG" init "$S" --beir "$T/data"
check "mine" "$SYNEG" mine "$S" --retriever bm25 --split train --num 4
check "export (good store)" "$SYNEG" export "$S" --format flag --out "$T/good.jsonl"
cp "$S/corpus.syc" "$T/store.good"
# flip the case of one letter in document 1's text (its title repeats at the start)
damage() {
    python3 - "$S/corpus.syc" <<'PY'
import sys
p = sys.argv[1]; d = bytearray(open(p, 'rb').read())
i = d.find(b'experimental investigation of the aerodynamics of a wing in a slipstream . an experimental study')
assert i > 0
d[i + 5] ^= 0x20
open(p, 'wb').write(d)
PY
}
damage
"$SYNEG" export "$S" --format flag --out "$T/after.jsonl" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 0 ] && cmp -s "$T/good.jsonl" "$T/after.jsonl" && ! grep -q "experImental" "$T/after.jsonl" \
    && ok "export after damage: rebuilt from the data set, same bytes as before" \
    || fail "export after damage: rc=$rc" "$(cat "$T/err"; grep -c experImental "$T/after.jsonl")"

# search opens lazily: it reads the damaged chunk to print, so it stops, exit 1
cp "$T/store.good" "$S/corpus.syc"; damage
"$SYNEG" search "$S" "experimental investigation aerodynamics wing slipstream" --retriever bm25 -k 3 >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "$S/corpus.syc: session store damaged (texts" "$T/err" && ! grep -q "experImental" "$T/out" \
    && ok "search: damaged text named, exit 1, nothing damaged printed" || fail "search: rc=$rc" "$(cat "$T/out" "$T/err")"
# a BM25 index built over the damaged text is not kept
rm -rf "$S/cache/bm25"
"$SYNEG" search "$S" "boundary layer" --retriever bm25 -k 3 >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && [ ! -e "$S/cache/bm25/index.bin" ] && grep -q "building the BM25 index.*session store damaged" "$T/err" \
    && ok "no BM25 index kept from a damaged store" || fail "bm25 over damage: rc=$rc" "$(ls "$S/cache/bm25" 2>&1; cat "$T/err")"
grep -q ": :" "$T/err" && fail "doubled separator in the message" "$(cat "$T/err")" || ok "one separator in the message"

# without the data set: export fails naming the store, and writes nothing
mv "$T/data" "$T/gone"
"$SYNEG" export "$S" --format flag --out "$T/none.jsonl" >/dev/null 2>"$T/err"; rc=$?
[ $rc != 0 ] && [ ! -e "$T/none.jsonl" ] && grep -q "$S/corpus.syc: session store damaged (texts" "$T/err" \
    && ok "no data set: export fails naming the damaged texts, writes nothing" \
    || fail "export without data: rc=$rc" "$(cat "$T/err")"
cp "$T/store.good" "$S/corpus.syc"
"$SYNEG" search "$S" "experimental investigation aerodynamics wing slipstream" --retriever bm25 -k 3 >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "experimental investigation" "$T/out" && ok "the good store searches again" \
    || fail "good store: rc=$rc" "$(cat "$T/out" "$T/err")"
done_tests
