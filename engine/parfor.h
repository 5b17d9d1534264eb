/* parfor: the engine's one fork/join loop.
 *
 * sy_par_for(n, nparts, fn, ctx) runs fn(ctx, lo, hi, part) over [0, n) cut
 * into nparts contiguous parts, part i = [n*i/nparts, n*(i+1)/nparts): part 0
 * on the calling thread, the others on threads of their own, and returns when
 * every part is done.  A part whose thread cannot be started runs on the
 * calling thread afterwards, so the work is always done.  Parts depend only on
 * n and nparts, so a kernel that reduces per-part results in part order gives
 * the same bits for the same part count.  Empty parts (n < nparts) are not run.
 * No state; safe to call from several threads at once (each call owns its
 * threads).  fn must not fail silently: report through ctx. */
#ifndef SY_PARFOR_H
#define SY_PARFOR_H

#include <stddef.h>

typedef void (*sy_par_fn)(void *ctx, size_t lo, size_t hi, int part);

void sy_par_for(size_t n, int nparts, sy_par_fn fn, void *ctx);

/* How many parts for n items of about `work` flops each, with up to
 * max_threads threads: 1 when the whole job is under ~2e5 flops (a thread
 * costs more than it saves), never more than n or SY_PAR_MAX. */
#define SY_PAR_MAX 64
int sy_par_parts(size_t n, int max_threads, double work);

#endif
