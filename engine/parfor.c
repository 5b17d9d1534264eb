/* parfor: the one fork/join loop.  See parfor.h. */
#include "parfor.h"

#include <pthread.h>

typedef struct {
    sy_par_fn fn;
    void *ctx;
    size_t lo, hi;
    int part;
} par_job;

static void *par_run(void *p)
{
    par_job *j = p;
    j->fn(j->ctx, j->lo, j->hi, j->part);
    return NULL;
}

int sy_par_parts(size_t n, int max_threads, double work)
{
    int nt = max_threads < 1 ? 1 : max_threads > SY_PAR_MAX ? SY_PAR_MAX : max_threads;
    if ((size_t)nt > n) nt = n ? (int)n : 1;
    if ((double)n * work < 2e5) nt = 1;
    return nt;
}

void sy_par_for(size_t n, int nparts, sy_par_fn fn, void *ctx)
{
    if (nparts > SY_PAR_MAX) nparts = SY_PAR_MAX;
    if (nparts <= 1) {
        if (n) fn(ctx, 0, n, 0);
        return;
    }
    pthread_t th[SY_PAR_MAX];
    par_job jobs[SY_PAR_MAX];
    int started[SY_PAR_MAX] = {0};
    for (int i = 0; i < nparts; i++) {
        jobs[i] = (par_job){fn, ctx, n * (size_t)i / (size_t)nparts, n * (size_t)(i + 1) / (size_t)nparts, i};
        if (i > 0 && jobs[i].hi > jobs[i].lo) started[i] = pthread_create(&th[i], NULL, par_run, &jobs[i]) == 0;
    }
    if (jobs[0].hi > jobs[0].lo) fn(ctx, jobs[0].lo, jobs[0].hi, 0);
    for (int i = 1; i < nparts; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else if (jobs[i].hi > jobs[i].lo) fn(ctx, jobs[i].lo, jobs[i].hi, i);   /* could not start: do it here */
    }
}
