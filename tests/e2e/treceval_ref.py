# Reference for tests/e2e/retrieval.sh: an independent re-implementation of
# trec_eval 9 (ndcg_cut.10, recip_rank cut at 10, recall.100/1000, map) over a
# TREC run file and a BEIR qrels TSV; scores are read as 32-bit floats and ties
# broken by docno descending, as trec_eval does.
# Usage: treceval_ref.py QRELS RUN [-c]
#   -c: as trec_eval -c, every judged query counts (those absent from the run as 0);
#       without it, only judged queries present in the run.
# The output also holds "order_ok": whether every query's lines in RUN are already in
# that order with ranks 1..n (the rank column is the rank trec_eval scores).
import sys, math, struct, json
def f32(x): return struct.unpack('f', struct.pack('f', float(x)))[0]
qrels_path, run_path = sys.argv[1], sys.argv[2]
complete = '-c' in sys.argv[3:]
qrels = {}
with open(qrels_path) as f:
    next(f)
    for line in f:
        q, d, r = line.rstrip('\n').split('\t')
        qrels.setdefault(q, {})[d] = int(r)
run = {}
ranks = {}
with open(run_path) as f:
    for line in f:
        q, _, d, rank, s, tag = line.split()
        run.setdefault(q, []).append((f32(s), d))
        ranks.setdefault(q, []).append(int(rank))
import functools
def cmp(a, b):
    if a[0] != b[0]: return -1 if a[0] > b[0] else 1
    return (b[1] > a[1]) - (b[1] < a[1])
tot = {"ndcg@10": 0, "mrr@10": 0, "recall@100": 0, "recall@1000": 0, "map": 0}
n = 0
order_ok = True
for q, hits in run.items():
    srt = sorted(hits, key=functools.cmp_to_key(cmp))
    if srt != hits or ranks[q] != list(range(1, len(hits) + 1)): order_ok = False
if complete:
    for q in qrels: run.setdefault(q, [])
for q, hits in run.items():
    if q not in qrels: continue
    n += 1
    hits.sort(key=functools.cmp_to_key(cmp))
    j = qrels[q]
    nrel = sum(1 for r in j.values() if r >= 1)
    rels = [j.get(d, -1) for _, d in hits]
    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rels[:10]) if r > 0)
    ideal = sorted([r for r in j.values() if r > 0], reverse=True)
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal[:10]))
    tot["ndcg@10"] += dcg / idcg if idcg > 0 else 0
    first = next((i + 1 for i, r in enumerate(rels[:10]) if r >= 1), None)
    tot["mrr@10"] += 1 / first if first else 0
    for k in (100, 1000):
        tot["recall@%d" % k] += (sum(1 for r in rels[:k] if r >= 1) / nrel) if nrel else 0
    ap, c = 0, 0
    for i, r in enumerate(rels):
        if r >= 1: c += 1; ap += c / (i + 1)
    tot["map"] += ap / nrel if nrel else 0
out = {k: v / n for k, v in tot.items()}; out["queries"] = n; out["order_ok"] = order_ok
print(json.dumps(out))
