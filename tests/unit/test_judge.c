/* judge: the shard rule (judge --shard I/N) and how a verdict moves a
 * likelihood; the judges themselves run end to end in tests/e2e/judge.sh. */
#include <stdio.h>

#include "../check.h"
#include "judge.h"

TEST(shards_partition_the_queries)
{
    char id[32];
    size_t count[5] = {0};
    for (int q = 0; q < 2000; q++) {
        snprintf(id, sizeof id, "q%d", q);
        int in = 0;
        for (unsigned i = 0; i < 5; i++)
            if (judge_in_shard(id, i, 5)) { in++; count[i]++; }
        CHECK(in == 1, "%s is in %d of 5 shards", id, in);
        CHECK(judge_in_shard(id, 0, 1) && judge_in_shard(id, 0, 0), "one shard holds %s", id);
        CHECK(judge_in_shard(id, 2, 5) == judge_in_shard(id, 2, 5), "the rule is fixed");
    }
    for (unsigned i = 0; i < 5; i++) CHECK(count[i] > 300 && count[i] < 500, "shard %u holds %zu of 2000", i, count[i]);
}

TEST(verdicts_move_the_likelihood)
{
    CHECK_NEAR(judge_combine(0.4f, 1, 1.0), 1.0, 1e-6);
    CHECK(judge_combine(0.4f, 0, 1.0) > 0 && judge_combine(0.4f, 0, 1.0) <= 1e-6f, "certain negative: tiny, not 0");
    CHECK_NEAR(judge_combine(0.4f, 1, JUDGE_LLM_WEIGHT), 1 - 0.6 * 0.1, 1e-6);
    CHECK_NEAR(judge_combine(0.4f, 0, JUDGE_CE_WEIGHT), 0.4 * 0.3, 1e-6);
    CHECK_NEAR(judge_combine(0.0f, 1, 0.5), 0.75, 1e-6);   /* no likelihood yet: from 0.5 */
    CHECK_NEAR(judge_combine(0.4f, 1, 0.0), 0.4, 1e-6);    /* a judge of no weight moves nothing */
    CHECK_NEAR(judge_combine(0.4f, 1, 7.0), 1.0, 1e-6);    /* weights clamp to [0, 1] */
    for (float p = 0.05f; p < 1; p += 0.1f)
        CHECK(judge_combine(p, 1, 0.7) > p && judge_combine(p, 0, 0.7) < p, "at %g a verdict moves it its way", p);
}

int main(void)
{
    RUN(shards_partition_the_queries);
    RUN(verdicts_move_the_likelihood);
    return check_done();
}
