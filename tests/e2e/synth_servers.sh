#!/bin/sh
# `syneg synth` against what real servers send (issue 16), on the fixture data
# with tests/tools/fakellm.py: a reasoning model out of tokens (content null +
# reasoning_content), <think> blocks, content as an array of parts, structured
# output (llm.response_format), llm.model unset (/models), a run where no
# request succeeds (non-zero exit, the reason printed), an answer with 100,000
# negatives, and the offline generator only when chosen or with no endpoint.
. tests/e2e/lib.sh.inc
DATA=$(pwd)/tests/golden/export/data
S=$T/s
FAKE_PID=""
cleanup() { [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fake() { curl -s --max-time 10 "http://127.0.0.1:$PORT$1" ${2:+-d "$2"}; }
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }
# a copy of the prompts whose synthesis prompt carries a fault marker for the fake server
prompts_with() {
    rm -rf "$T/p"; cp -r prompts "$T/p"
    [ -n "$1" ] && printf '\n%s\n' "$1" >> "$T/p/synth.txt"
    echo "$T/p"
}

check "init" "$SYNEG" init "$S" --beir "$DATA"
python3 tests/tools/fakellm.py --port-file "$T/port" --models only-model &
FAKE_PID=$!
i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$T/port")
[ -n "$PORT" ] && ok "fake server on port $PORT" || { fail "fake server did not start"; done_tests; exit 1; }
export SYNEG_LLM_URL="http://127.0.0.1:$PORT/v1"
"$SYNEG" set "$S" llm.max_retries 1 >/dev/null
"$SYNEG" set "$S" llm.backoff_s 0.05 >/dev/null
"$SYNEG" set "$S" synth.per_query 2 >/dev/null

# 1. llm.model unset: the only model /models lists is used, and said
"$SYNEG" synth "$S" --limit 1 --reflect 0 --json >"$T/m1.json" 2>"$T/m1.err"; rc=$?
[ $rc = 0 ] && [ "$(jget "$T/m1.json" "['ok']")" = 1 ] && grep -q "only-model" "$T/m1.err" \
    && ok "no llm.model: the server's only model is used and named" || fail "one model rc=$rc" "$(cat "$T/m1.err")"
fake /control '{"models": ["model-a", "model-b"]}' >/dev/null
"$SYNEG" synth "$S" --limit 1 --reflect 0 >/dev/null 2>"$T/m2.err"; rc=$?
[ $rc != 0 ] && grep -q "model-a, model-b" "$T/m2.err" && grep -q "llm.model" "$T/m2.err" \
    && ok "no llm.model, two served: error lists them (exit $rc)" || fail "two models rc=$rc" "$(cat "$T/m2.err")"
"$SYNEG" set "$S" llm.model fake-model >/dev/null

# 2. a reasoning model that ran out of tokens: the reason says raise llm.max_tokens; exit non-zero
"$SYNEG" synth "$S" --limit 2 --reflect 0 --prompts "$(prompts_with '[[fault:reasoning:9]]')" >/dev/null 2>"$T/r.err"; rc=$?
[ $rc = 1 ] && grep -q "no request succeeded" "$T/r.err" && grep -q "raise llm.max_tokens" "$T/r.err" \
    && ok "content null + reasoning_content: exit 1, the first failure says raise llm.max_tokens" \
    || fail "reasoning rc=$rc" "$(cat "$T/r.err")"

# 3. <think> blocks, content as parts: answers are read
for f in think parts; do
    "$SYNEG" synth "$S" --limit 2 --reflect 0 --json --prompts "$(prompts_with "[[fault:$f:9]]")" >"$T/$f.json" 2>"$T/$f.err"; rc=$?
    [ $rc = 0 ] && [ "$(jget "$T/$f.json" "['ok']")" = 2 ] && [ "$(jget "$T/$f.json" "['negatives']")" = 4 ] \
        && ok "$f: both queries answered" || fail "$f rc=$rc" "$(cat "$T/$f.json" "$T/$f.err")"
done

# 4. an answer with 100,000 negatives stores what was asked (2)
"$SYNEG" synth "$S" --limit 1 --reflect 1 --json --prompts "$(prompts_with '[[fault:many:9]]')" >"$T/many.json" 2>"$T/many.err"; rc=$?
[ $rc = 0 ] && [ "$(jget "$T/many.json" "['negatives']")" = 2 ] && [ "$(jget "$T/many.json" "['requests']")" -le 3 ] \
    && ok "100,000 negatives in one answer: 2 stored, 2 reflections sent" || fail "many rc=$rc" "$(cat "$T/many.json" "$T/many.err")"

# 5. structured output: the schema goes out as OpenAI response_format
"$SYNEG" set "$S" llm.response_format json_schema >/dev/null
"$SYNEG" synth "$S" --limit 1 --reflect 0 --seed 5 --json --prompts "$(prompts_with '[[fault:parts:0]] schema')" >"$T/js.json" 2>"$T/js.err"; rc=$?
rf=$(fake /stats | python3 -c "import json,sys; r=json.load(sys.stdin)['response_format'] or {}; s=r.get('json_schema',{}).get('schema',{}); print(r.get('type'), s.get('required'), s.get('properties',{}).get('negatives',{}).get('maxItems'))")
[ $rc = 0 ] && [ "$rf" = "json_schema ['negatives'] 2" ] && ok "llm.response_format json_schema sends the answer's schema" \
    || fail "json_schema rc=$rc: $rf" "$(cat "$T/js.err")"
"$SYNEG" set "$S" llm.response_format json_object >/dev/null
"$SYNEG" synth "$S" --limit 1 --reflect 0 --json --prompts "$(prompts_with '[[fault:parts:0]] object')" >/dev/null 2>&1
rf=$(fake /stats | python3 -c "import json,sys; print((json.load(sys.stdin)['response_format'] or {}).get('type'))")
[ "$rf" = json_object ] && ok "llm.response_format json_object" || fail "json_object: $rf"
"$SYNEG" set "$S" llm.response_format bogus >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "an unknown response_format is refused (exit 2)" || fail "bogus response_format rc=$rc"
"$SYNEG" set "$S" llm.response_format none >/dev/null

# 6. an unreachable endpoint: exit 1 with the reason, not exit 0 after a long run
SYNEG_LLM_URL="http://127.0.0.1:1/v1" "$SYNEG" synth "$S" --limit 2 --reflect 0 >/dev/null 2>"$T/u.err"; rc=$?
[ $rc = 1 ] && grep -q "127.0.0.1:1" "$T/u.err" && grep -q "no request succeeded" "$T/u.err" \
    && ok "nothing succeeded: exit 1, the first failure printed" || fail "unreachable rc=$rc" "$(cat "$T/u.err")"

# 7. the offline generator: only when chosen or with no endpoint, said on stderr; LLM-only flags need an endpoint
env -u SYNEG_LLM_URL "$SYNEG" synth "$S" --limit 1 >/dev/null 2>"$T/o1.err"; rc=$?
[ $rc = 0 ] && grep -q "offline generator" "$T/o1.err" && ok "no endpoint: offline, and said so" || fail "offline rc=$rc" "$(cat "$T/o1.err")"
"$SYNEG" synth "$S" --limit 1 --offline >/dev/null 2>"$T/o2.err"; rc=$?
[ $rc = 0 ] && grep -q "offline generator (--offline)" "$T/o2.err" && ok "--offline: said so" || fail "--offline rc=$rc"
for flag in "--reflect 1" "--budget 1" "--concurrency 2"; do
    env -u SYNEG_LLM_URL "$SYNEG" synth "$S" --limit 1 $flag >/dev/null 2>"$T/o3.err"; rc=$?
    [ $rc = 2 ] && grep -q "needs an LLM endpoint" "$T/o3.err" && ok "$flag without an endpoint: exit 2, no silent fallback" \
        || fail "$flag rc=$rc" "$(cat "$T/o3.err")"
done
done_tests
