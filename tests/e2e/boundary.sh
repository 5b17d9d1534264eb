#!/bin/sh
# The engine stays a UI-free library: no curses/readline includes, no printing
# to stdout, no exit(), and tui/ reaches the engine only through engine/*.h.
. tests/e2e/lib.sh.inc
hits=$(grep -nE '#include[[:space:]]*[<"](n?curses|ncursesw/|readline/)' engine/*.[ch])
[ -z "$hits" ] && ok "engine includes no UI headers" || fail "engine includes UI headers" "$hits"
hits=$(grep -nE '(^|[^_a-zA-Z])(exit|printf|puts|putchar|perror)[[:space:]]*\(' engine/*.c | grep -v '^[^:]*:[0-9]*:[[:space:]]*/\?\*' | grep -v '^[^:]*:[0-9]*:[[:space:]]*"')
[ -z "$hits" ] && ok "engine neither prints nor exits" || fail "engine prints or exits" "$hits"
hits=$(grep -nE '(stdout|stderr)' engine/*.c | grep -v '^[^:]*:[0-9]*:[[:space:]]*/\?\*' | grep -v '^[^:]*:[0-9]*:[[:space:]]*"')
[ -z "$hits" ] && ok "engine does not touch stdout/stderr" || fail "engine uses stdout/stderr" "$hits"
hits=$(grep -nE '#include[[:space:]]*"' tui/*.c tui/*.h 2>/dev/null | grep -vE '"(\.\./engine/[a-z_0-9]+\.h|[a-z_0-9]+\.(h|def))"')
[ -z "$hits" ] && ok "tui includes only engine headers and its own" || fail "tui includes something else" "$hits"
# jansson's json_is_* are macros that evaluate their argument twice: an assignment
# or a load inside one runs twice and leaks the first result.
hits=$(grep -nE 'json_is_[a-z]+\([^()]*(=[^=]|json_load|json_loads)' engine/*.c tui/*.c)
[ -z "$hits" ] && ok "no side effects inside jansson's json_is_* macros" || fail "json_is_* argument with a side effect" "$hits"
done_tests
