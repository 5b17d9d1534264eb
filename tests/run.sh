#!/bin/sh
# Runs every unit test binary (build/tests/test_*) and every end-to-end script
# (tests/e2e/*.sh), sums their "# N passed, M failed, K skipped" lines (the
# older "# N passed, M failed" is read too) and ends with
# "N passed, N failed, N skipped".  A binary or script that crashes or prints
# no summary counts as one failure.
#
# Skips are counted, never passed off as passes, and a skip is a FAILURE when
# the data it says it needs is present: a skip line "skip - NAME: needs PATH"
# fails when PATH exists, or when PATH is under $SHARED_DATA and that folder
# exists; any other skip (a "# skipped" line, a reason naming no path) fails
# while $SHARED_DATA exists.  So with ../shared/data in place nothing may skip.
# Exit status: 0 only when nothing failed.  Environment: BUILD, E2E, SYNEG,
# SHARED_DATA.
BUILD=${BUILD:-build}
E2E=${E2E:-tests/e2e}   # the folder of end-to-end scripts (tests/e2e/runner.sh points it elsewhere)
SHARED_DATA=${SHARED_DATA:-$(cd .. && pwd)/shared/data}
passed=0; failed=0; skipped=0
log=$(mktemp)
# bad_skips LOG: how many of LOG's skips are not allowed (their data is present)
bad_skips() {
    n=0
    grep -E '^(# )?skip(ped)?( -|:|$)' "$1" > "$log.skips"
    while IFS= read -r line; do
        need=$(printf '%s\n' "$line" | sed -n 's/^skip - [^:]*: needs \(.*\)$/\1/p')
        if [ -n "$need" ]; then
            if [ -e "$need" ]; then
                n=$((n + 1)); echo "    skipped although present: $need" >&2
            elif [ -d "$SHARED_DATA" ]; then
                case "$need" in "$SHARED_DATA"/*|../shared/data/*)
                    n=$((n + 1)); echo "    skipped although $SHARED_DATA exists: $need" >&2;; esac
            fi
        elif [ -d "$SHARED_DATA" ]; then
            n=$((n + 1)); echo "    skipped although $SHARED_DATA exists: $line" >&2
        fi
    done < "$log.skips"
    echo $n
}
run_one() {
    name=$1; shift
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    summary=$(grep -E '^# [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
    if [ -z "$summary" ]; then
        p=0; f=1; s=0
    else
        p=$(echo "$summary" | sed -E 's/^# ([0-9]+) passed.*/\1/')
        f=$(echo "$summary" | sed -E 's/^# [0-9]+ passed, ([0-9]+) failed.*/\1/')
        s=$(echo "$summary" | sed -n -E 's/.* ([0-9]+) skipped$/\1/p')
        if [ -z "$s" ]; then   # the old form: count its "# skipped" lines
            s=$(grep -c -E '^(# )?skip(ped)?( -|:|$)' "$log")
        fi
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    fi
    if [ "$s" -gt 0 ]; then
        b=$(bad_skips "$log" 2>"$log.why")
        if [ "$b" -gt 0 ]; then f=$((f + b)); s=$((s - b)); [ "$s" -lt 0 ] && s=0; cat "$log.why" >> "$log"; fi
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    secs=$(( $(date +%s) - start ))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $name ($p passed, $f failed, $s skipped, exit $rc, ${secs}s)"
        sed 's/^/    /' "$log" | grep -v '^    ok - ' | tail -n 60
    elif [ "$s" -ne 0 ]; then
        echo "ok   $name ($p passed, $s skipped, ${secs}s)"
        grep -E '^(# )?skip' "$log" | sed 's/^/    /'
    else
        echo "ok   $name ($p passed, ${secs}s)"
    fi
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for e in "$E2E"/*.sh; do
    [ -f "$e" ] || continue
    run_one "$(basename "$e")" sh "$e"
done
rm -f "$log" "$log.skips" "$log.why"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
