#!/bin/sh
# A CI-length smoke of the libFuzzer harnesses (tests/fuzz/, issue 16): when
# clang and its fuzzer runtime are installed, build them (ASan + UBSan with
# float-cast-overflow, in build/fuzz; `make fuzz` runs them longer) and run
# each a few seconds from its seeds.  Any crash, leak or UB report fails.
. tests/e2e/lib.sh.inc
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    skip "fuzz smoke" "needs clang and libclang-rt-14-dev (make fuzz-deps installs them)"
    done_tests; exit 0
fi
if make --no-print-directory -j2 fuzz-build >"$T/build.log" 2>&1; then ok "fuzz harnesses build with clang, ASan + UBSan"
else fail "fuzz build" "$(tail -n 20 "$T/build.log")"; done_tests; exit 1; fi
for src in tests/fuzz/fuzz_*.c; do
    f=$(basename "$src" .c)
    mkdir -p "$T/corpus/$f"
    if build/fuzz/bin/$f -max_total_time=${FUZZ_SMOKE_SECONDS:-3} -max_len=16384 -rss_limit_mb=2048 -artifact_prefix="$T/" \
         "$T/corpus/$f" "tests/fuzz/seeds/$f" >"$T/$f.log" 2>&1 && ! grep -q "runtime error" "$T/$f.log"; then
        ok "$f: $(grep -o 'Done [0-9]* runs' "$T/$f.log") without a report"
    else fail "$f" "$(grep -E 'ERROR|runtime error|SUMMARY|Test unit' "$T/$f.log" | head -n 5)"; fi
done
done_tests
