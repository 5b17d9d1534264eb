#!/bin/sh
# bench_open: how long a command takes to open a big session, against reading
# the corpus file once.  Builds (once, cached under $BUILD/bench-data/open-v3/: v3 is the chunked session store) a
# BEIR collection of BENCH_OPEN_DOCS passages (default 1,000,000) of MS MARCO's
# length distribution (gencorpus --lengths msmarco: log-normal, mean 56 words,
# sd ~24) and BENCH_OPEN_QUERIES queries (default 100,000), `syneg init`s it
# (one parse; the session store SESSION/corpus.syc), and writes 8 negatives per
# training query in BENCH_OPEN_SEGMENTS segments (default 64), as that many
# `syneg mine --shard I/64` runs leave them (tools/gennegs).  Then, in
# BENCH_OPEN_ROUNDS rounds (default 7), each round running every command once
# in an order that turns each round: `syneg --help` (process start-up),
# `cat corpus.jsonl` (one read of the collection, warm cache), `syneg info`, a
# headless `syneg tui` that opens and quits, one `syneg label` (reject, then
# clear, in turn, so every act writes), after one untimed warm-up round.
# Prints medians, each open net of
# start-up as a ratio of the cat time (target <= 0.25), and the peak RSS of
# each (target for info <= 100 MB).
BUILD=${BUILD:-build}
SYNEG=${SYNEG:-$(pwd)/$BUILD/syneg}
N=${BENCH_OPEN_DOCS:-1000000}
Q=${BENCH_OPEN_QUERIES:-100000}
S=${BENCH_OPEN_SEGMENTS:-64}
D=$BUILD/bench-data/open-v3/$N-$Q-$S
if [ ! -s "$D/ready" ]; then
    rm -rf "$D" && mkdir -p "$D"
    "$BUILD/tools/gencorpus" --format beir --docs "$N" --queries "$Q" --words 56 --lengths msmarco "$D/data" >/dev/null || exit 1
    "$SYNEG" init "$D/s" --beir "$D/data" >/dev/null || exit 1
    "$BUILD/tools/gennegs" "$D/s" --queries $((Q * 8 / 10)) --qprefix q --docs "$N" --dprefix d --segments "$S" >/dev/null || exit 1
    echo ok > "$D/ready"
fi
printf 'q\n' > "$D/quit.script"
python3 - "$SYNEG" "$D" "${BENCH_OPEN_ROUNDS:-7}" "$S" <<'PY'
import os, statistics, subprocess, sys, time
syneg, d, rounds, nseg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = d + "/s"
cases = {"start-up (syneg --help)": [syneg, "--help"],
         "cat corpus.jsonl": ["cat", d + "/data/corpus.jsonl"],
         "info": [syneg, "info", s],
         "tui (headless open+quit)": [syneg, "tui", s, "--script", d + "/quit.script", "--size", "120x40"],
         "label (one act)": None}
acts = ["reject", "clear"]
times = {k: [] for k in cases}
rss = {k: 0.0 for k in cases}
names = list(cases)
nlabel = 0
# one untimed warm-up round: page cache, and caches a first open writes
# (SESSION/cache/negatives.idx after new segments) are not what is measured
for k in names:
    cmd = cases[k] or [syneg, "label", s, "q1", "d1", "clear"]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for r in range(rounds):
    order = names[r % len(names):] + names[:r % len(names)]
    if r % 2: order.reverse()
    for k in order:
        cmd = cases[k]
        if cmd is None:
            cmd = [syneg, "label", s, "q1", "d1", acts[nlabel % 2]]
            nlabel += 1
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times[k].append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.exit(f"bench_open: {' '.join(cmd)} failed: {p.stderr.strip()}")
        rss[k] = max(rss[k], int(p.stderr.strip().splitlines()[-1]) / 1024)
med = {k: statistics.median(v) for k, v in times.items()}
size = os.path.getsize(d + "/data/corpus.jsonl")
t_help, t_cat = med["start-up (syneg --help)"], med["cat corpus.jsonl"]
print(f"corpus.jsonl {size/1e6:.0f} MB, {nseg} negative segments; medians of {rounds} rounds (order turning each round),")
print(f"each under /usr/bin/time; start-up (syneg --help) {t_help*1e3:.1f} ms; cat {t_cat*1e3:.1f} ms, peak RSS {rss['cat corpus.jsonl']:.0f} MB")
for k in ["info", "tui (headless open+quit)", "label (one act)"]:
    net = max(med[k] - t_help, 0.0)
    print(f"{k:26s} {med[k]*1e3:7.1f} ms, net {net*1e3:7.1f} ms = {net/t_cat:.3f}x cat (target <= 0.25), peak RSS {rss[k]:.0f} MB")
print(f"info peak RSS {rss['info']:.0f} MB (target <= 100)")
PY
