#!/usr/bin/env python3
"""FAISS peer for bench_dense_search: IndexFlatIP over the same vectors.

    bench_dense_search_faiss.py DIR THREADS K

DIR holds q.npy, d.npy (float32) and ours.npy (syneg's top-k ids as float32).
The caller sets OMP_NUM_THREADS / OMP_WAIT_POLICY / OPENBLAS_NUM_THREADS
before starting it.  After loading it prints "READY version"; then for each
line on stdin it runs one timed search and prints "TIME seconds [agreement]":
  batch   all queries (agreement: share of top-k id slots equal to syneg's)
  one I   query I alone
so the C side can alternate its own runs with these."""
import sys
import time

import faiss
import numpy as np


def main():
    d, threads, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    faiss.omp_set_num_threads(threads)
    q = np.ascontiguousarray(np.load(d + '/q.npy'))
    x = np.ascontiguousarray(np.load(d + '/d.npy'))
    ours = np.load(d + '/ours.npy').astype(np.int64)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    del x
    print('READY %s' % faiss.__version__, flush=True)
    for line in sys.stdin:
        req = line.split()
        if not req:
            continue
        if req[0] == 'batch':
            t0 = time.perf_counter()
            _, ids = index.search(q, k)
            t = time.perf_counter() - t0
            print('TIME %.6f %.6f' % (t, float((ids == ours).mean())), flush=True)
        elif req[0] == 'one':
            i = int(req[1]) % q.shape[0]
            one = np.ascontiguousarray(q[i:i + 1])
            t0 = time.perf_counter()
            index.search(one, k)
            print('TIME %.6f' % (time.perf_counter() - t0), flush=True)


if __name__ == '__main__':
    main()
