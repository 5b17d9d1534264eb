#!/bin/sh
# bench_open: how long a command takes to open a big session, against reading
# the corpus file once.  Builds (once, cached under $BUILD/bench-data/open/) a
# BEIR collection of BENCH_OPEN_DOCS passages (default 1,000,000) of ~56 words
# (MS MARCO's average) with gencorpus, and `syneg init`s it (one parse; the
# session store SESSION/corpus.syc).  Then, medians of 7 runs each, timed in
# this run: `syneg --help` (process start-up), `cat corpus.jsonl` (one read of
# the collection, warm cache), `syneg info`, a headless `syneg tui` that opens
# and quits, one `syneg label`.  Prints each open net of start-up as a ratio of
# the cat time (target <= 0.25) and the peak RSS of info (target <= 100 MB).
BUILD=${BUILD:-build}
SYNEG=${SYNEG:-$(pwd)/$BUILD/syneg}
N=${BENCH_OPEN_DOCS:-1000000}
D=$BUILD/bench-data/open/$N
if [ ! -s "$D/s/corpus.syc" ]; then
    rm -rf "$D" && mkdir -p "$D"
    "$BUILD/tools/gencorpus" --format beir --docs "$N" --queries 10000 --words 56 "$D/data" >/dev/null || exit 1
    "$SYNEG" init "$D/s" --beir "$D/data" >/dev/null || exit 1
fi
printf 'q\n' > "$D/quit.script"
python3 - "$SYNEG" "$D" <<'PY'
import os, statistics, subprocess, sys, time
syneg, d = sys.argv[1], sys.argv[2]
s = d + "/s"
def med(cmd, n=7):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
def rss(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1]) / 1024
size = os.path.getsize(d + "/data/corpus.jsonl")
t_help = med([syneg, "--help"])
t_cat = med(["cat", d + "/data/corpus.jsonl"])
cases = [("info", [syneg, "info", s]),
         ("tui (headless open+quit)", [syneg, "tui", s, "--script", d + "/quit.script", "--size", "120x40"]),
         ("label (one act)", [syneg, "label", s, "q1", "d1", "clear"])]
print(f"corpus.jsonl {size/1e6:.0f} MB; start-up (syneg --help) {t_help*1e3:.1f} ms; cat {t_cat*1e3:.1f} ms")
for name, cmd in cases:
    t = med(cmd)
    net = max(t - t_help, 0.0)
    print(f"{name:26s} {t*1e3:7.1f} ms, net {net*1e3:7.1f} ms = {net/t_cat:.3f}x cat (target <= 0.25)")
print(f"info peak RSS {rss([syneg, 'info', s]):.0f} MB (target <= 100)")
PY
