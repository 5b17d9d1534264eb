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

# damaged: a command that opens it eagerly (all but info, label and the
# workbench, which check only what they read) rebuilds it from the data set,
# naming what was wrong
printf 'X' | dd of="$S/corpus.syc" bs=1 seek=200 conv=notrunc 2>/dev/null
"$SYNEG" export "$S" --format flag --out "$T/x.jsonl" >/dev/null 2>"$T/err"
"$SYNEG" info "$S" --json >"$T/i4.json" 2>>"$T/err"
[ "$(jget "$T/i4.json" "['docs']")" = 1401 ] && grep -q "corpus.syc: session store damaged" "$T/err" \
    && ok "damaged store: rebuilt, damage named" || fail "damaged" "$(cat "$T/err")"

# the workbench opens the store lazily (its big tables and texts are checked
# where they are read): damage there is still caught, named, and nothing
# from it is shown (exit 1, no screen dump); an eager command then rebuilds
flip_every() {   # flip one byte every 16 KiB in [from, to) of the store
    python3 - "$S/corpus.syc" "$1" "$2" <<'PY'
import sys
p, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(p, "r+b") as f:
    for at in range(a, b, 16384):
        f.seek(at); c = f.read(1); f.seek(at); f.write(bytes([c[0] ^ 0x5a]))
PY
}
hdr() { python3 -c "import struct,sys; f=open('$S/corpus.syc','rb'); f.seek(int(sys.argv[1])); print(struct.unpack('<Q', f.read(8))[0])" "$1"; }
printf 'q\n' > "$T/quit.script"
check "workbench on an intact store" "$SYNEG" tui "$S" --script "$T/quit.script" --dump "$T/screen0.txt"
ndocs=$(python3 -c "import struct; f=open('$S/corpus.syc','rb'); f.seek(32); print(struct.unpack('<I', f.read(4))[0])")
for part in "document table:192:$((192 + 24 * ndocs))" "texts:$(hdr 88):$(hdr 96)"; do
    name=${part%%:*}; range=${part#*:}
    flip_every "${range%:*}" "${range#*:}"
    rm -f "$T/screen1.txt"
    "$SYNEG" tui "$S" --script "$T/quit.script" --dump "$T/screen1.txt" 2>"$T/err"; rc=$?
    [ $rc = 1 ] && grep -q "$S/corpus.syc: session store damaged ($name" "$T/err" && grep -q "delete it" "$T/err" \
        && [ ! -e "$T/screen1.txt" ] && ok "workbench: damage in the $name found where read, named, nothing shown" \
        || fail "workbench, damaged $name: rc=$rc" "$(cat "$T/err")"
    # an eager open (export) checks every chunk, texts too: it rebuilds and says why
    "$SYNEG" export "$S" --format flag --out "$T/x.jsonl" >/dev/null 2>"$T/err"
    grep -q "session store damaged ($name" "$T/err" && grep -q "built corpus.syc from the data set" "$T/err" \
        && ok "an eager open rebuilds the damaged $name, saying so" || fail "rebuild" "$(cat "$T/err")"
    check "workbench after the $name is restored" "$SYNEG" tui "$S" --script "$T/quit.script" --dump "$T/screen2.txt"
    cmp -s "$T/screen0.txt" "$T/screen2.txt" && ok "same screen as before the damage" || fail "screen differs after $name"
done

# label and info open it lazily too: a lookup in a damaged id hash, or the
# load warnings (strings at the end of the texts), report the damage; no label
# is saved
dslots=$(hdr 64)
dhash=$((192 + 24 * ndocs + 16 * $(python3 -c "import struct; f=open('$S/corpus.syc','rb'); f.seek(36); print(struct.unpack('<I', f.read(4))[0])")))
cp "$S/labels.jsonl" "$T/labels.before" 2>/dev/null || : > "$T/labels.before"
flip_every "$dhash" "$((dhash + 4 * dslots))"
"$SYNEG" label "$S" 1 12 reject 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "$S/corpus.syc: session store damaged (.*document id hash" "$T/err" \
    && ok "label: damage in the document id hash named, exit 1" || fail "label, damaged hash: rc=$rc" "$(cat "$T/err")"
printf '{"q":"1","n":"12","a":"reject"}\n' > "$T/one.jsonl"
"$SYNEG" label "$S" --file "$T/one.jsonl" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "document id hash" "$T/err" && ok "label --file: the same" || fail "label --file: rc=$rc" "$(cat "$T/err")"
cmp -s "$S/labels.jsonl" "$T/labels.before" && ok "no label saved from a damaged store" || fail "a label was saved"
flip_every "$dhash" "$((dhash + 4 * dslots))"
check "label on the restored store" "$SYNEG" label "$S" 1 12 reject
end=$(hdr 96)
flip_every "$((end - 2))" "$((end - 1))"
"$SYNEG" info "$S" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "session store damaged (texts" "$T/err" && ok "info: damaged warning strings named, exit 1" \
    || fail "info, damaged warnings: rc=$rc" "$(cat "$T/err")"
flip_every "$((end - 2))" "$((end - 1))"
check "info on the restored store" "$SYNEG" info "$S"

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
