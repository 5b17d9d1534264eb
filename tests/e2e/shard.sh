#!/bin/sh
# syneg mine --shard I/N: the shards' segments together equal one unsharded run,
# in the session that mined them and in any other session they are copied into.
. tests/e2e/lib.sh.inc
CRAN=$SHARED_DATA/cranfield
check "init A" "$SYNEG" init "$T/a" --beir "$CRAN"
check "init B" "$SYNEG" init "$T/b" --beir "$CRAN"
check "init C" "$SYNEG" init "$T/c" --beir "$CRAN"
check "index A" "$SYNEG" index "$T/a"
for i in 0 1 2; do
    "$SYNEG" mine "$T/a" --retriever bm25 --num 5 --shard $i/3 >"$T/m$i" 2>&1 || fail "mine shard $i/3" "$(cat "$T/m$i")"
done
[ -f "$T/a/cache/mine-bm25-report.shard-1-of-3.json" ] && grep -q '"shard": "1/3"' "$T/a/cache/mine-bm25-report.shard-1-of-3.json" \
    && ok "each shard keeps its own report" || fail "shard report" "$(ls "$T/a/cache")"
m=0; for i in 0 1 2; do m=$((m + $(python3 -c "import json;print(json.load(open('$T/a/cache/mine-bm25-report.shard-$i-of-3.json'))['mined'])"))); done
"$SYNEG" mine "$T/b" --retriever bm25 --num 5 >/dev/null 2>&1 || fail "mine B"
mb=$(python3 -c "import json;print(json.load(open('$T/b/cache/mine-bm25-report.json'))['mined'])")
[ "$m" = "$mb" ] && [ "$m" -gt 0 ] && ok "shards mine disjoint slices covering all $mb queries" || fail "mined $m vs $mb"
"$SYNEG" export "$T/a" --format trec -o "$T/a.trec" >/dev/null 2>&1
"$SYNEG" export "$T/b" --format trec -o "$T/b.trec" >/dev/null 2>&1
[ -s "$T/a.trec" ] && cmp -s "$T/a.trec" "$T/b.trec" && ok "3 shards == one run (TREC pool byte-identical)" || fail "pools differ" "$(diff "$T/a.trec" "$T/b.trec" | head -5)"
cp "$T"/a/negatives/*.seg "$T/c/negatives/"
"$SYNEG" export "$T/c" --format trec -o "$T/c.trec" >/dev/null 2>&1
cmp -s "$T/c.trec" "$T/b.trec" && ok "segments copied into another session merge there" || fail "copied segments"
"$SYNEG" mine "$T/a" --retriever bm25 --shard 3/3 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "shard" "$T/err" && ok "--shard 3/3: usage error" || fail "bad shard rc=$rc"
"$SYNEG" mine "$T/a" --retriever bm25 --shard x 2>/dev/null; [ $? = 2 ] && ok "--shard x: usage error" || fail "shard x"

# export --launch slurm: the script, run under fake sbatch/srun/scontrol/torchrun
# that execute each step here, indexes, mines in shards, exports and trains
mkdir -p "$T/bin" "$T/w"
cat > "$T/bin/sbatch" <<'F'
#!/bin/sh
arr=""
while [ $# -gt 0 ]; do case "$1" in --array) arr=$2; shift 2;; --parsable) shift;; --*) shift 2;; *) break;; esac; done
echo "sbatch array=$arr $*" >> "$LOG"
if [ -n "$arr" ]; then
    i=0; while [ $i -le "${arr#0-}" ]; do SLURM_ARRAY_TASK_ID=$i "$@" >>"$LOG" 2>&1 || exit 1; i=$((i + 1)); done
else SLURM_JOB_NODELIST=node1 "$@" >>"$LOG" 2>&1 || exit 1; fi
echo 4242
F
printf '#!/bin/sh\necho node1\n' > "$T/bin/scontrol"
printf '#!/bin/sh\nshift 2\nSLURM_NODEID=0 exec "$@"\n' > "$T/bin/srun"
printf '#!/bin/sh\necho "torchrun NODE_RANK=$NODE_RANK MASTER_ADDR=$MASTER_ADDR $*" >> "$LOG"\n' > "$T/bin/torchrun"
chmod +x "$T"/bin/*
check "init D" "$SYNEG" init "$T/w/d" --beir "$CRAN"
(cd "$T/w" && "$SYNEG" mine d --retriever bm25 --num 2 --split test >/dev/null 2>&1)
(cd "$T/w" && "$SYNEG" export d --format flag -o "it's.jsonl" --num 2 --launch slurm --shards 3 --gpus 2 --nodes 1 --split test >"$T/ex.out" 2>&1) \
    && [ -x "$T/w/it's.jsonl.slurm.sh" ] && [ -x "$T/w/it's.jsonl.launch.sh" ] && bash -n "$T/w/it's.jsonl.slurm.sh" \
    && ok "export --launch slurm writes both scripts, valid bash" || fail "slurm export" "$(cat "$T/ex.out")"
rm "$T/w/it's.jsonl"
LOG=$T/log PATH="$T/bin:$PATH" bash "$T/w/it's.jsonl.slurm.sh" >"$T/sub.out" 2>&1 \
    && grep -q "submitted: index 4242" "$T/sub.out" && ok "the Slurm script submits its four steps" || fail "submit" "$(cat "$T/sub.out" "$T/log")"
[ -f "$T/w/d/cache/bm25/index.bin" ] && [ "$(ls "$T"/w/d/cache/mine-bm25-report.shard-*-of-3.json | wc -l)" = 3 ] \
    && [ -s "$T/w/it's.jsonl" ] && grep -q "torchrun NODE_RANK=0 MASTER_ADDR=node1 .*--nproc_per_node 2" "$T/log" \
    && ok "steps ran: index, 3 mining shards, export again, torchrun per node" || fail "steps" "$(cat "$T/log")"
grep -q "sbatch array=0-2 .*slurm.sh mine" "$T/log" && ok "mining submitted as an array of 3" || fail "array" "$(grep sbatch "$T/log")"

# syneg embed --shard I/N: the shards' matrices, concatenated, are the whole one
TINY=tests/fixtures/encoder/tiny
for i in 1 2 3 4 5 6 7 8 9 10 11; do echo "{\"text\":\"passage number $i about wings and lift\"}"; done > "$T/in.jsonl"
check "embed whole" "$SYNEG" embed -q --model "$TINY" --threads 1 "$T/in.jsonl" -o "$T/all.npy"
for i in 0 1 2; do check "embed shard $i/3" "$SYNEG" embed -q --model "$TINY" --threads 1 --shard $i/3 "$T/in.jsonl" -o "$T/s$i.npy"; done
python3 - "$T" <<'P' && ok "3 embed shards concatenated == the whole matrix (to 1e-5)" || fail "embed shards differ"
import struct, sys
def load(p):
    b = open(p, "rb").read()
    hl = struct.unpack("<H", b[8:10])[0]
    h = b[10:10 + hl].decode()
    return h, b[10 + hl:]
t = sys.argv[1]
h, whole = load(t + "/all.npy")
parts = [load(f"{t}/s{i}.npy") for i in range(3)]
assert "(11, " in h, h
assert [p[0].split("(")[1].split(",")[0] for p in parts] == ["3", "4", "4"], [p[0] for p in parts]
cat = b"".join(p[1] for p in parts)
assert len(cat) == len(whole)
a = struct.unpack(f"<{len(whole)//4}f", whole)
c = struct.unpack(f"<{len(cat)//4}f", cat)
# batches of other shapes sum in another order: equal to float rounding
d = max(abs(x - y) for x, y in zip(a, c))
assert d < 1e-5, d
P
done_tests
