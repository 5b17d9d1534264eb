#!/bin/sh
# dense_search.sh: `syneg search --retriever dense` after the streaming kernel
# (one query no longer goes through sgemm) returns the same top-10 as the
# syneg before it, and --storage bf16/int8 work from the CLI.
# tests/fixtures/dense_search/demo_wp_uncased.jsonl was written by the
# previous build (main at 58207dd, sgemm path) with
#   syneg search DEMO --retriever dense --model tests/fixtures/models/wp_uncased -k 10 --json QUERY
# for the five queries in it, on the shipped demo session.
. tests/e2e/lib.sh.inc
M=tests/fixtures/models/wp_uncased
G=tests/fixtures/dense_search/demo_wp_uncased.jsonl
pristine_demo "$T/demo" || fail "copy the demo session"

# compare A B TOL: same ids in the same order, scores within TOL
compare() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
a, b, tol = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
ia, ib = [h["id"] for h in a["hits"]], [h["id"] for h in b["hits"]]
if ia != ib:
    sys.exit("ids differ:\n  before %s\n  now    %s" % (ia, ib))
d = max(abs(x["score"] - y["score"]) for x, y in zip(a["hits"], b["hits"]))
if d > tol:
    sys.exit("scores differ by %g" % d)
PY
}

n=0
while IFS= read -r line; do
    n=$((n + 1))
    q=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["query"])')
    if now=$("$SYNEG" search "$T/demo" --retriever dense --model $M -k 10 --json "$q" 2>"$T/err"); then
        if msg=$(compare "$line" "$now" 1e-4 2>&1); then ok "query $n: same top-10 as before"; else fail "query $n: same top-10 as before" "$msg"; fi
        for st in int8 bf16; do
            if s2=$("$SYNEG" search "$T/demo" --retriever dense --model $M --storage $st -k 10 --json "$q" 2>"$T/err2"); then
                # the scan's 40 best are rescored in fp32: the same hits with the fp32 scores
                if msg=$(compare "$line" "$s2" 1e-4 2>&1); then ok "query $n: --storage $st equals fp32"; else fail "query $n: --storage $st equals fp32" "$msg"; fi
            else
                fail "query $n: --storage $st" "$(cat "$T/err2")"
            fi
        done
    else
        fail "query $n: dense search" "$(cat "$T/err")"
    fi
done < "$G"
[ "$n" -eq 5 ] && ok "five golden queries read" || fail "five golden queries read ($n)"

ls "$T"/demo/cache/dense/*/emb.int8 >/dev/null 2>&1 && ls "$T"/demo/cache/dense/*/emb.bf16 >/dev/null 2>&1 \
    && ok "bf16 and int8 copies beside emb.bin" || fail "bf16 and int8 copies beside emb.bin" "$(ls -R "$T/demo/cache/dense")"

# a damaged copy is rebuilt with a message naming it
f=$(ls "$T"/demo/cache/dense/*/emb.int8 | head -1)
printf 'XXXXXXXX' | dd of="$f" conv=notrunc 2>/dev/null
if "$SYNEG" search "$T/demo" --retriever dense --model $M --storage int8 -k 3 telescope >/dev/null 2>"$T/err"; then
    grep -q "emb.int8.*rebuilt" "$T/err" && ok "damaged int8 copy rebuilt, said so" || fail "damaged int8 copy rebuilt, said so" "$(cat "$T/err")"
else
    fail "damaged int8 copy: search" "$(cat "$T/err")"
fi

# bad values: exit 2, naming the value
"$SYNEG" search "$T/demo" --retriever dense --model $M --storage fp16 telescope >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "fp16" "$T/err" && ok "--storage fp16 refused (exit 2)" || fail "--storage fp16 refused (exit 2)" "$(cat "$T/err")"
"$SYNEG" search "$T/demo" --storage int8 telescope >/dev/null 2>"$T/err"
[ $? -eq 2 ] && ok "--storage with bm25 refused (exit 2)" || fail "--storage with bm25 refused (exit 2)" "$(cat "$T/err")"
"$SYNEG" set "$T/demo" dense.storage int4 >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "int8" "$T/err" && ok "set dense.storage int4 refused, choices named" || fail "set dense.storage int4 refused" "$(cat "$T/err")"
done_tests
