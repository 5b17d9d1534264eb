#!/usr/bin/env python3
"""FAISS peer for bench_dense_search: IndexFlatIP over the same vectors.

    bench_dense_search_faiss.py DIR THREADS K

DIR holds q.npy, d.npy (float32) and ours.npy (syneg's top-k ids as float32).
Prints "RESULT best_seconds agreement" (share of top-k id slots equal)."""
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
    best = 1e30
    for _ in range(3):
        t0 = time.time()
        _, ids = index.search(q, k)
        best = min(best, time.time() - t0)
    print('faiss %s threads=%d: %.3fs' % (faiss.__version__, threads, best), flush=True)
    print('RESULT %.6f %.6f' % (best, float((ids == ours).mean())))


if __name__ == '__main__':
    main()
