#!/bin/sh
# Runs every unit test binary (build/tests/test_*) and every end-to-end script
# (tests/e2e/*.sh), sums their "# N passed, M failed" lines, and ends with
# "N passed, N failed".  A binary or script that crashes or prints no summary
# counts as one failure.  Environment: BUILD, SYNEG, SHARED_DATA.
BUILD=${BUILD:-build}
passed=0; failed=0
log=$(mktemp)
run_one() {
    name=$1; shift
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    summary=$(grep -E '^# [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$summary" ]; then
        p=0; f=1
    else
        p=$(echo "$summary" | sed -E 's/^# ([0-9]+) passed.*/\1/')
        f=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed$/\1/')
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    fi
    passed=$((passed + p)); failed=$((failed + f))
    secs=$(( $(date +%s) - start ))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $name ($p passed, $f failed, exit $rc, ${secs}s)"
        sed 's/^/    /' "$log" | grep -v '^    ok - ' | tail -n 60
    else
        echo "ok   $name ($p passed, ${secs}s)"
    fi
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for s in tests/e2e/*.sh; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s")" sh "$s"
done
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
