#!/bin/sh
# tests/run.sh itself: skips are counted (never passed off as passes), the last
# line is "N passed, N failed, N skipped", the old "# N passed, M failed" form
# is still read, and a skip whose data is present fails the suite.  Also
# pristine_demo copies only the files git tracks under sessions/demo.
. tests/e2e/lib.sh.inc
B=$T/build; mkdir -p "$B/tests" "$T/e2e" "$T/shared/cranfield"
# fake_test NAME OUTPUT: a "test binary" printing OUTPUT
fake_test() { printf '#!/bin/sh\ncat <<"X"\n%s\nX\n' "$2" > "$B/tests/$1" && chmod +x "$B/tests/$1"; }
# runner SHARED: run tests/run.sh over the fake tests; its output in $T/out, status in $rc
runner() { BUILD=$B E2E=$T/e2e SHARED_DATA=$1 sh tests/run.sh > "$T/out" 2>&1; rc=$?; }
last() { tail -n 1 "$T/out"; }

fake_test test_a "ok - one
ok - two
# 2 passed, 0 failed, 0 skipped"
fake_test test_b "# 3 passed, 0 failed"
fake_test test_c "ok - x
skip - y: needs $T/absent/vocab.txt
# 1 passed, 0 failed, 1 skipped"
runner "$T/no-shared"
[ $rc = 0 ] && [ "$(last)" = "6 passed, 0 failed, 1 skipped" ] && ok "skips counted apart, old summary form read" \
    || fail "counts: rc=$rc" "$(cat "$T/out")"
grep -q "needs $T/absent/vocab.txt" "$T/out" && ok "the runner shows what a skip needs" || fail "skip reason not shown" "$(cat "$T/out")"

# data present: the same skip is a failure
mkdir -p "$T/absent" && : > "$T/absent/vocab.txt"
runner "$T/no-shared"
[ $rc = 1 ] && [ "$(last)" = "6 passed, 1 failed, 0 skipped" ] && grep -q "skipped although present" "$T/out" \
    && ok "a skip whose data is present fails" || fail "present data: rc=$rc" "$(cat "$T/out")"
rm -rf "$T/absent"

# a skip of something under SHARED_DATA while that folder exists fails too
fake_test test_c "skip - y: needs $T/shared/cisi
# 0 passed, 0 failed, 1 skipped"
runner "$T/shared"
[ $rc = 1 ] && [ "$(last)" = "5 passed, 1 failed, 0 skipped" ] && ok "shared data folder present: no skip of its data allowed" \
    || fail "shared present: rc=$rc" "$(cat "$T/out")"
runner "$T/no-shared"
[ $rc = 0 ] && [ "$(last)" = "5 passed, 0 failed, 1 skipped" ] && ok "shared data folder absent: the skip is allowed and counted" \
    || fail "shared absent: rc=$rc" "$(cat "$T/out")"

# the old free-text skip ("# skipped: ...", which used to count as a pass)
fake_test test_c "# skipped: no data
# 0 passed, 0 failed"
runner "$T/no-shared"
[ $rc = 0 ] && [ "$(last)" = "5 passed, 0 failed, 1 skipped" ] && ok "an old '# skipped' line is counted as a skip" \
    || fail "old skip: rc=$rc" "$(cat "$T/out")"
runner "$T/shared"
[ $rc = 1 ] && ok "an old '# skipped' line fails while the shared data exists" || fail "old skip, shared: rc=$rc" "$(cat "$T/out")"

# a crash or a missing summary is one failure; an e2e script is counted too
fake_test test_c "ok - half"
printf '. tests/e2e/lib.sh.inc\nok a\nneed "%s" "b" || true\ndone_tests\n' "$T/nothing-here" > "$T/e2e/s.sh"
runner "$T/no-shared"
[ $rc = 1 ] && [ "$(last)" = "6 passed, 1 failed, 1 skipped" ] && ok "no summary: one failure; e2e need/skip counted" \
    || fail "no summary: rc=$rc" "$(cat "$T/out")"

# pristine_demo: only what git tracks, never what make demo wrote
R=$T/repo; mkdir -p "$R/sessions/demo/data/qrels"
echo '{}' > "$R/sessions/demo/session.json"; echo x > "$R/sessions/demo/data/corpus.jsonl"; echo y > "$R/sessions/demo/data/qrels/test.tsv"
if command -v git >/dev/null && (cd "$R" && git init -q . && git add sessions && git -c user.email=t@t -c user.name=t commit -qm x) >/dev/null 2>&1; then
    mkdir -p "$R/sessions/demo/negatives"; echo z > "$R/sessions/demo/negatives/1.seg"; echo l > "$R/sessions/demo/labels.jsonl"
    (cd "$R" && pristine_demo "$T/copy")
    got=$(cd "$T/copy" && find . -type f | sort | tr '\n' ' ')
    [ "$got" = "./data/corpus.jsonl ./data/qrels/test.tsv ./session.json " ] && ok "pristine_demo copies the shipped files only" \
        || fail "pristine_demo copied: $got"
else
    fail "could not make a scratch git repository"
fi
done_tests
