#!/bin/sh
# syneg ablate on Cranfield with the tiny scratch model, 2 seeds, 2 steps:
# the four arms are printed, every (arm, seed) is an ordinary run folder with
# its arm's settings and drawing only from its own sources, the table is the
# run folders' numbers, and a stopped ablation resumes without redoing runs.
# The numbers themselves are not asserted.
. tests/e2e/lib.sh.inc
S=$T/cran
check "init session" "$SYNEG" init "$S" --beir "$SHARED_DATA/cranfield"
check "mine" "$SYNEG" mine "$S" --retriever bm25 --num 3
check "offline synthesis" "$SYNEG" synth "$S" --offline
ARGS="--scratch tiny --vocab-size 2000 --max-steps 2 --seeds 1,2 --batch 4 --group 4 --max-len 32 --eval-queries 10 --eval-docs 200 --threads 2 --mix 0.5 --include-offline"

# detached; stopped (SIGTERM) after its first run; resumed to the end
ID=$("$SYNEG" ablate "$S" $ARGS --detach 2>"$T/det.err")
[ -n "$ID" ] && [ -f "$S/ablations/$ID/ablation.json" ] && ok "ablate --detach prints the ID ($ID)" || fail "ablate --detach" "$(cat "$T/det.err")"
st() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])" "$S/ablations/$ID/status.json" "$1"; }
for i in $(seq 1 300); do [ "$(st step 2>/dev/null)" -ge 1 ] 2>/dev/null && break; sleep 0.2; done
kill -TERM "$(st pid)" 2>/dev/null
for i in $(seq 1 300); do [ "$(st state)" != running ] && break; sleep 0.2; done
[ "$(st state)" = cancelled ] && ok "stopped: the ablation reads cancelled after $(st step) of 8 runs" || fail "stop" "$(cat "$S/ablations/$ID/status.json")"
"$SYNEG" ablate "$S" --resume "$ID" > "$T/out" 2>&1; rc=$?
[ $rc = 0 ] && ok "--resume finishes it" || fail "--resume rc=$rc" "$(cat "$T/out")"
for arm in untrained inbatch retrieved synthetic hybrid; do
    grep -q "^$arm " "$T/out" || { fail "table lacks $arm" "$(cat "$T/out")"; break; }
done
[ "$(grep -c '  2/2  ' "$T/out")" = 4 ] && grep -q '±' "$T/out" && ok "the table: four arms, 2 of 2 runs each, mean ± sd" || fail "table" "$(cat "$T/out")"
[ "$(ls "$S/runs" | wc -l)" = 8 ] && ok "8 run folders: the resume redid no run" || fail "runs: $(ls "$S/runs" | wc -l)"

# consistency with the run folders: settings per arm, sources drawn, the numbers in the table
"$SYNEG" ablate "$S" --show "$ID" --json > "$T/table.json" || fail "--show --json"
python3 - "$S" "$ID" "$T/table.json" <<'PY' > "$T/check.out" 2>&1 && ok "runs match their arms, draw only their own sources, and give the table's means ($(cat "$T/check.out"))" || fail "consistency" "$(cat "$T/check.out")"
import json, sys, statistics
S, ID, tab = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
plan = json.load(open(f"{S}/ablations/{ID}/ablation.json"))
syn, ret = {"llm", "offline"}, {"bm25", "dense", "import", "manual"}
for arm in plan["arms"]:
    name, finals = arm["name"], []
    for seed, rid in zip(plan["seeds"], arm["runs"]):
        o = json.load(open(f"{S}/runs/{rid}/config.json"))["options"]
        assert o["seed"] == seed and o["max_steps"] == 2 and o["scratch"] == "tiny" and not o["fill"], (rid, o)
        if name == "inbatch": assert o["group"] == 1, o
        else: assert o["group"] == 4 and o["mix_start"] == {"retrieved": 0, "synthetic": 1, "hybrid": 0.5}[name], o
        assert json.load(open(f"{S}/runs/{rid}/status.json"))["state"] == "done"
        drawn = set()
        for l in open(f"{S}/runs/{rid}/progress.jsonl"):
            d = json.loads(l)
            drawn |= set(d.get("drawn", {}))
            if d.get("final"): finals.append(d["eval"]["ndcg@10"])
        if name == "retrieved": assert drawn and not drawn & syn, drawn
        if name == "synthetic": assert drawn and not drawn & ret, drawn
        if name == "hybrid": assert drawn & syn and drawn & ret, drawn
        if name == "inbatch": assert not drawn, drawn
    row = [a for a in tab["arms"] if a["name"] == name][0]
    assert row["n"] == 2 and abs(row["mean"]["ndcg@10"] - statistics.mean(finals)) < 1e-6, (row, finals)
    assert abs(row["sd"]["ndcg@10"] - statistics.stdev(finals)) < 1e-6, (row, finals)
print("4 arms x 2 seeds")
PY
"$SYNEG" runs "$S" | grep -c ' done ' | grep -q '^8$' && ok "syneg runs lists the 8 runs as done" || fail "runs list" "$("$SYNEG" runs "$S")"
"$SYNEG" ablate "$S" --follow "$ID" | grep -q '^hybrid ' && ok "--follow on a finished ablation prints the table" || fail "--follow"
"$SYNEG" ablate "$S" --resume "$ID" --quiet | grep -q '^retrieved ' && [ "$(ls "$S/runs" | wc -l)" = 8 ] \
    && ok "resuming a finished ablation trains nothing" || fail "resume done"
"$SYNEG" ablate "$S" --scratch tiny --arms bogus 2>/dev/null; [ $? = 2 ] && ok "a bad --arms is refused (exit 2)" || fail "bad arms"
done_tests
