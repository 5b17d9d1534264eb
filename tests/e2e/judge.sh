#!/bin/sh
# End to end: `syneg judge --llm` on the demo (mined as make demo does) against
# the fake server (tests/tools/fakellm.py, ports 22000-22999): verdicts land
# on the rows (flags, likelihood, prov), the queue order follows them, a run
# in two parts asks each row once (no request is paid twice), --force finds
# every answer in the cache, failures leave rows unchanged and are counted,
# the budget stops new requests, the cascade asks the second model only where
# the first said false negative.
. tests/e2e/lib.sh.inc
FAKE_PID=""
cleanup() { [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
PORT=$((22000 + $$ % 900))
start_fake() {
    [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
    rm -f "$T/port"
    python3 tests/tools/fakellm.py --port "$PORT" --port-file "$T/port" --seed 3 "$@" >/dev/null 2>&1 &
    FAKE_PID=$!
    i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$T/port" ]
}
stat() { curl -s --max-time 10 "http://127.0.0.1:$PORT/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])" "$1" "$2"; }

S=$T/demo
pristine_demo "$S" || fail "copy the demo"
"$SYNEG" mine "$S" --retriever bm25 --range 0:50 --num 8 >/dev/null 2>"$T/err" || fail "mine" "$(cat "$T/err")"
start_fake --fn-rate 0.3 && ok "fake server on port $PORT" || { fail "fake server did not start"; done_tests; exit 1; }
export SYNEG_LLM_URL="http://127.0.0.1:$PORT/v1" SYNEG_LLM_MODEL=fake-small
"$SYNEG" set "$S" llm.backoff_s 0 >/dev/null
"$SYNEG" suspects "$S" --limit 0 --json >"$T/before.json"

# 1. the first 10 of the queue, then the rest: each row asked once
"$SYNEG" judge "$S" --llm --limit 10 --json >"$T/j1.json" 2>"$T/err" || fail "judge --limit 10" "$(cat "$T/err")"
[ "$(jget "$T/j1.json" asked)" = 10 ] && [ "$(jget "$T/j1.json" requests)" = 10 ] && ok "10 rows judged with 10 requests" \
    || fail "judge --limit 10" "$(cat "$T/j1.json")"
"$SYNEG" judge "$S" --llm --json >"$T/j2.json" 2>"$T/err" || fail "judge the rest" "$(cat "$T/err")"
python3 - "$T/before.json" "$T/j1.json" "$T/j2.json" "$(stat "['requests']")" "$(stat "['bodies']")" <<'PY' \
    && ok "resumed run skipped the judged rows: no request sent twice" || fail "resume" "$(cat "$T/j1.json" "$T/j2.json")"
import json, sys
before = json.load(open(sys.argv[1])); j1, j2 = (json.load(open(p)) for p in sys.argv[2:4])
requests, bodies = int(sys.argv[4]), int(sys.argv[5])
assert j1["false_negative"] + j1["negative"] == 10
assert j2["already"] >= j1["false_negative"], (j1, j2)          # FN verdicts stay in the queue
assert requests == bodies == j1["asked"] + j2["asked"], (requests, bodies)
assert j1["asked"] + j2["asked"] <= len(before)
PY
"$SYNEG" suspects "$S" --limit 0 --all --json >"$T/after.json"
python3 - "$T/before.json" "$T/after.json" <<'PY' && ok "verdicts on the rows: flags, likelihood, reasons, queue order" \
    || fail "verdicts on the rows"
import json, sys
before = {(r["query"], r["passage"]): r for r in json.load(open(sys.argv[1]))}
after = json.load(open(sys.argv[2]))
judged = [r for r in after if r["judge"] and "llm" in r["judge"]]
assert len(judged) >= 20, len(judged)
for r in judged:
    v = r["judge"]["llm"]
    assert v["verdict"] in ("false_negative", "negative") and v["reason"] and len(v["request"]) == 64, v
    old = before[(r["query"], r["passage"])]["likelihood"]
    if v["verdict"] == "false_negative":
        assert r["suspect"] and r["likelihood"] >= 0.9 and r["likelihood"] >= old, r
    else:
        assert not r["suspect"] and r["likelihood"] < old, (r, old)
like = [r["likelihood"] for r in after]
assert like == sorted(like, reverse=True)
PY
out=$("$SYNEG" suspects "$S" --limit 3)
echo "$out" | grep -q "llm:false_negative" && ok "suspects shows the verdicts" || fail "suspects shows the verdicts" "$out"

# the workbench shows the verdict beside the row
q=$(python3 -c '
import json,sys
rows=[r for r in json.load(open(sys.argv[1])) if r["judge"] and r["judge"]["llm"]["verdict"]=="false_negative"]
print(rows[0]["query"])' "$T/after.json")
printf ':goto %s\n' "$q" >"$T/g.script"
"$SYNEG" tui "$S" --script "$T/g.script" --dump "$T/g.dump" --size 160x60 >/dev/null 2>&1
grep -q "llm:FN" "$T/g.dump" && ok "workbench: llm:FN beside the row of $q" || fail "workbench verdict" "$(cat "$T/g.dump")"

# 2. --force: every answer from the cache, nothing paid
r0=$(stat "['requests']")
"$SYNEG" judge "$S" --llm --force --all --limit 15 --json >"$T/j3.json" 2>"$T/err"
[ "$(stat "['requests']")" = "$r0" ] && [ "$(jget "$T/j3.json" cache_hits)" -ge 1 ] \
    && ok "--force: answers from the cache, no request ($(jget "$T/j3.json" cache_hits) hits)" || fail "--force" "$(cat "$T/j3.json")"

# 3. failures: every request fails; rows keep what they had, the run says so (exit 1)
S2=$T/demo2
pristine_demo "$S2" && "$SYNEG" mine "$S2" --retriever bm25 --range 0:50 --num 8 >/dev/null 2>&1
"$SYNEG" set "$S2" llm.max_retries 0 >/dev/null
"$SYNEG" set "$S2" llm.backoff_s 0 >/dev/null
start_fake --mix "500:1"
"$SYNEG" suspects "$S2" --limit 0 --json >"$T/f0.json"
"$SYNEG" judge "$S2" --llm --limit 5 --json >"$T/f.json" 2>"$T/err"; rc=$?
"$SYNEG" suspects "$S2" --limit 0 --json >"$T/f1.json"
[ $rc = 1 ] && [ "$(jget "$T/f.json" failed)" = 5 ] && cmp -s "$T/f0.json" "$T/f1.json" \
    && ok "failed requests: counted, exit 1, rows unchanged" || fail "failures (rc $rc)" "$(cat "$T/f.json")"

# 4. budget: a price and a tiny cap stop new requests
start_fake --fn-rate 0.3
"$SYNEG" set "$S2" llm.prices.fake-small.input 100 >/dev/null
"$SYNEG" set "$S2" llm.prices.fake-small.output 100 >/dev/null
"$SYNEG" judge "$S2" --llm --budget 1 --json >"$T/b.json" 2>"$T/err"; rc=$?
python3 -c '
import json,sys; j=json.load(open(sys.argv[1]))
assert j["not_sent"] > 0 and j["budget_reached"] and 0 < j["requests"] < j["asked"] and j["cost_usd"] <= 1, j' "$T/b.json" && [ $rc = 1 ] \
    && ok "budget: $(jget "$T/b.json" requests) sent, $(jget "$T/b.json" not_sent) not sent" || fail "budget (rc $rc)" "$(cat "$T/b.json")"

# 5. cascade: the second model only where the first says false negative
S3=$T/demo3
pristine_demo "$S3" && "$SYNEG" mine "$S3" --retriever bm25 --range 0:50 --num 8 >/dev/null 2>&1
"$SYNEG" set "$S3" llm.backoff_s 0 >/dev/null
"$SYNEG" judge "$S3" --llm --cascade fake-large --limit 20 --json >"$T/c.json" 2>"$T/err" || fail "cascade" "$(cat "$T/err")"
"$SYNEG" suspects "$S3" --limit 0 --all --json >"$T/c1.json"
python3 - "$T/c.json" "$T/c1.json" <<'PY' && ok "cascade: escalated only the false-negative verdicts" || fail "cascade" "$(cat "$T/c.json")"
import json, sys
j = json.load(open(sys.argv[1])); rows = json.load(open(sys.argv[2]))
casc = [r for r in rows if r["judge"] and "llm_cascade" in r["judge"]]
assert j["escalated"] == len(casc) > 0, (j, len(casc))
for r in casc:
    assert r["judge"]["llm"]["verdict"] == "false_negative"
    assert r["judge"]["llm_cascade"]["model"] == "fake-large"
    assert r["suspect"] == (r["judge"]["llm_cascade"]["verdict"] == "false_negative")
PY
# 6. cross-encoder judge (helper 13's fixture, random weights): verdicts follow
# the thresholds, and the stored logits are the ones `syneg rerank` gives
S4=$T/demo4
CE=tests/fixtures/models/ce_bert
if need "$CE/config.json" "cross-encoder judge"; then
    pristine_demo "$S4" && "$SYNEG" mine "$S4" --retriever bm25 --range 0:50 --num 8 >/dev/null 2>&1
    "$SYNEG" judge "$S4" --cross-encoder "$CE" --all --low 0.6 --high 0.64 --json >"$T/ce.json" 2>"$T/err" \
        || fail "judge --cross-encoder" "$(cat "$T/err")"
    "$SYNEG" suspects "$S4" --limit 0 --all --json >"$T/ce_rows.json"
    python3 - "$T/ce_rows.json" "$S4/data" "$T/pairs.jsonl" <<'PY' || fail "cross-encoder verdicts" "$(cat "$T/ce.json")"
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["judge"] and "cross_encoder" in r["judge"]]
assert len(rows) > 300, len(rows)
docs = {d["_id"]: d for d in map(json.loads, open(sys.argv[2] + "/corpus.jsonl"))}
qs = {q["_id"]: q["text"] for q in map(json.loads, open(sys.argv[2] + "/queries.jsonl"))}
kinds = set()
with open(sys.argv[3], "w") as f:
    for r in rows:
        v = r["judge"]["cross_encoder"]
        want = "false_negative" if v["p"] >= 0.64 else "negative" if v["p"] <= 0.6 else "unsure"
        assert v["verdict"] == want, (v, want)
        kinds.add(want)
        if want == "false_negative": assert r["suspect"], r
        d = docs[r["passage"]]
        f.write(json.dumps({"query": qs[r["query"]], "passage": (d["title"] + " " + d["text"]) if d["title"] else d["text"]}) + "\n")
assert kinds == {"false_negative", "negative", "unsure"}, kinds
PY
    [ $? = 0 ] && ok "cross-encoder: verdicts follow --low/--high, suspects follow verdicts"
    "$SYNEG" rerank --model "$CE" "$T/pairs.jsonl" -o "$T/ce.npy" -q 2>"$T/err" || fail "rerank" "$(cat "$T/err")"
    python3 - "$T/ce_rows.json" "$T/ce.npy" <<'PY' && ok "cross-encoder: stored logits equal syneg rerank's" || fail "logit parity"
import json, struct, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["judge"] and "cross_encoder" in r["judge"]]
raw = open(sys.argv[2], "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
vals = struct.unpack("<%df" % len(rows), raw[10 + hl:10 + hl + 4 * len(rows)])
for r, x in zip(rows, vals):
    assert abs(r["judge"]["cross_encoder"]["logit"] - x) < 1e-4, (r["judge"], x)
PY
fi
# 7. mine --rescore: the rows one mining run wrote, and only those, get the
# cross-encoder's verdict (judge --cross-encoder's code path): mine all
# queries, then re-mine half of them (--shard 0/2) with --rescore
if need "$CE/config.json" "mine --rescore"; then
    S5=$T/demo5
    pristine_demo "$S5" && "$SYNEG" mine "$S5" --retriever bm25 --range 0:50 --num 8 >/dev/null 2>&1
    "$SYNEG" mine "$S5" --retriever bm25 --range 0:50 --num 8 --shard 0/2 --rescore "$CE" --rescore-low 0.6 \
        --rescore-high 0.64 --json >"$T/rs.json" 2>"$T/err" || fail "mine --rescore" "$(cat "$T/err")"
    "$SYNEG" suspects "$S5" --limit 0 --all --json >"$T/rs_rows.json"
    python3 - "$T/rs.json" "$T/rs_rows.json" "$S5/data" "$T/rs_pairs.jsonl" <<'PY' \
        && ok "mine --rescore: verdicts on exactly the rows the run wrote, by --rescore-low/--rescore-high" \
        || fail "mine --rescore rows" "$(head -c 600 "$T/rs.json")"
import json, sys
rep = json.load(open(sys.argv[1])); rows = json.load(open(sys.argv[2]))
rs = rep["rescore"]
assert rs["low"] == 0.6 and rs["high"] == 0.64, rs
assert rs["scored"] == rep["negatives"] + rep["suspects"] > 0, (rs, rep["negatives"], rep["suspects"])
assert rs["false_negative"] + rs["negative"] + rs["unsure"] == rs["scored"], rs
judged = [r for r in rows if r["judge"] and "cross_encoder" in r["judge"]]
assert len(judged) == rs["scored"], (len(judged), rs)
jq = {r["query"] for r in judged}
other = [r for r in rows if r["query"] not in jq]
assert other and not any(r["judge"] for r in other), "rows of the queries not re-mined must stay unjudged"
assert all(r["source"] == "bm25" for r in judged)
kinds = {}
for r in judged:
    v = r["judge"]["cross_encoder"]
    want = "false_negative" if v["p"] >= 0.64 else "negative" if v["p"] <= 0.6 else "unsure"
    assert v["verdict"] == want, (v, want)
    kinds[want] = kinds.get(want, 0) + 1
    if want == "false_negative": assert r["suspect"], r
assert kinds.get("false_negative") == rs["false_negative"] and kinds.get("negative") == rs["negative"], (kinds, rs)
docs = {d["_id"]: d for d in map(json.loads, open(sys.argv[3] + "/corpus.jsonl"))}
qs = {q["_id"]: q["text"] for q in map(json.loads, open(sys.argv[3] + "/queries.jsonl"))}
with open(sys.argv[4], "w") as f:
    for r in judged:
        d = docs[r["passage"]]
        f.write(json.dumps({"query": qs[r["query"]], "passage": (d["title"] + " " + d["text"]) if d["title"] else d["text"]}) + "\n")
PY
    "$SYNEG" rerank --model "$CE" "$T/rs_pairs.jsonl" -o "$T/rs.npy" -q 2>"$T/err" || fail "rerank" "$(cat "$T/err")"
    python3 - "$T/rs_rows.json" "$T/rs.npy" <<'PY' && ok "mine --rescore: each row's logit is its own pair's (syneg rerank)" || fail "rescore logit parity"
import json, struct, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["judge"] and "cross_encoder" in r["judge"]]
raw = open(sys.argv[2], "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
vals = struct.unpack("<%df" % len(rows), raw[10 + hl:10 + hl + 4 * len(rows)])
for r, x in zip(rows, vals):
    assert abs(r["judge"]["cross_encoder"]["logit"] - x) < 1e-4, (r["judge"], x)
PY
    # bad values: exit 2 naming the flag, nothing mined
    cp -r "$S5/negatives" "$T/negs_before"
    for bad in "--rescore-low 1.5" "--rescore-high -0.1" "--rescore-high nan" "--rescore-low 0.9 --rescore-high 0.2"; do
        flag=$(echo "$bad" | awk '{print $(NF-1)}')
        # shellcheck disable=SC2086
        "$SYNEG" mine "$S5" --retriever bm25 --rescore "$CE" $bad >"$T/o" 2>&1; rc=$?
        [ $rc = 2 ] && grep -q -- "$flag" "$T/o" && ok "mine $bad: exit 2 naming $flag" || fail "mine $bad (rc $rc)" "$(cat "$T/o")"
    done
    "$SYNEG" mine "$S5" --retriever bm25 --rescore-high 0.5 >"$T/o" 2>&1; rc=$?
    [ $rc = 2 ] && grep -q -- "--rescore" "$T/o" && ok "--rescore-high without --rescore: exit 2" || fail "threshold alone (rc $rc)" "$(cat "$T/o")"
    "$SYNEG" mine "$S5" --retriever bm25 --rescore "$T/nope" >"$T/o" 2>&1; rc=$?
    [ $rc = 1 ] && grep -q "nope" "$T/o" && diff -r "$T/negs_before" "$S5/negatives" >/dev/null \
        && ok "--rescore without a model folder: error before mining, store unchanged" || fail "rescore nope (rc $rc)" "$(cat "$T/o")"
fi
"$SYNEG" judge "$S" --cross-encoder "$T/nope" >"$T/o" 2>&1; [ $? = 1 ] && ok "missing cross-encoder folder: error" || fail "missing ce" "$(cat "$T/o")"
"$SYNEG" judge "$S" --llm --cross-encoder "$CE" >/dev/null 2>&1; [ $? = 2 ] && ok "two judges at once: usage" || fail "two judges"
# usage
"$SYNEG" judge "$S" >/dev/null 2>&1; [ $? = 2 ] && ok "judge without a judge: usage" || fail "judge without --llm"
SYNEG_LLM_URL= "$SYNEG" judge "$S" --llm >"$T/o" 2>&1; [ $? = 1 ] && grep -q "endpoint" "$T/o" && ok "no endpoint: a clear error" \
    || fail "no endpoint" "$(cat "$T/o")"
done_tests
