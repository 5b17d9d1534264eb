/* parfor: every index runs exactly once, in the part the contract names, for
 * part counts from 1 to SY_PAR_MAX and sizes below, at and above them; the
 * part count rule (small jobs on one thread). */
#include <stdatomic.h>

#include "../check.h"
#include "parfor.h"

typedef struct {
    size_t n;
    int nparts;
    atomic_int *hits;
    atomic_int bad;
} ctx_t;

static void mark(void *p, size_t lo, size_t hi, int part)
{
    ctx_t *c = p;
    size_t elo = 0, ehi = c->n;      /* 0 or 1 parts: one call over everything */
    if (c->nparts > 1) elo = c->n * (size_t)part / (size_t)c->nparts, ehi = c->n * (size_t)(part + 1) / (size_t)c->nparts;
    if (lo != elo || hi != ehi || lo >= hi) atomic_fetch_add(&c->bad, 1);
    for (size_t i = lo; i < hi && i < c->n; i++) atomic_fetch_add(&c->hits[i], 1);
}

TEST(every_index_once_in_its_part)
{
    const size_t sizes[] = {0, 1, 2, 7, 63, 64, 65, 1000};
    const int parts[] = {0, 1, 2, 3, 8, 16, 64, 100};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t b = 0; b < sizeof parts / sizeof *parts; b++) {
            size_t n = sizes[a];
            int np = parts[b] > SY_PAR_MAX ? SY_PAR_MAX : parts[b];
            atomic_int hits[1000];
            for (size_t i = 0; i < 1000; i++) atomic_init(&hits[i], 0);
            ctx_t c = {.n = n, .nparts = np, .hits = hits};
            atomic_init(&c.bad, 0);
            sy_par_for(n, parts[b], mark, &c);
            int once = 1;
            for (size_t i = 0; i < n; i++) once &= atomic_load(&hits[i]) == 1;
            CHECK(once, "n %zu, %d parts: some index not run exactly once", n, parts[b]);
            CHECK(atomic_load(&c.bad) == 0, "n %zu, %d parts: a part got the wrong range", n, parts[b]);
        }
}

TEST(part_count)
{
    CHECK_EQ_INT(sy_par_parts(10, 8, 1.0), 1);            /* tiny job: one thread */
    CHECK_EQ_INT(sy_par_parts(1000000, 8, 1.0), 8);
    CHECK_EQ_INT(sy_par_parts(3, 8, 1e9), 3);             /* never more parts than items */
    CHECK_EQ_INT(sy_par_parts(1000000, 0, 1.0), 1);
    CHECK_EQ_INT(sy_par_parts(1000000, 1000, 1.0), SY_PAR_MAX);
}

int main(void)
{
    RUN(every_index_once_in_its_part);
    RUN(part_count);
    return check_done();
}
