#!/bin/sh
# make bench: every benchmark, each printing its numbers and a ratio against a
# peer measured in the same run.  Environment: BUILD, SYNEG, SHARED_DATA.
BUILD=${BUILD:-build}
status=0
for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" || status=1
done
for s in tests/bench/bench_*.sh; do
    [ -f "$s" ] || continue
    echo "== $(basename "$s")"
    sh "$s" || status=1
done
exit $status
