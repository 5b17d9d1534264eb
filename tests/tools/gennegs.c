/* gennegs: write generated negatives into a session, as many segments as
 * `syneg mine --shard I/N` runs would leave (benchmarks and tests).
 *
 *   gennegs SESSION --queries Q [--qprefix P] --docs D [--dprefix P]
 *           [--per-query K] [--segments S] [--seed X]
 *
 * Queries P0 .. P(Q-1) (gencorpus' training queries are its first 80 %) are
 * split into S contiguous shards, one segment each (tag "mine-shard",
 * NEG_REPLACE, as mining writes them).  Each query gets K negatives: K - 2
 * "bm25" rows of random documents with falling scores and rank 1.., 1 in 20
 * flagged suspect with a likelihood, and 2 synthetic "offline" texts of
 * ~56 words.  Same arguments -> the same rows. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negstore.h"
#include "util.h"

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

static const char *const words[] = {"the", "passage", "describes", "a", "related", "topic", "but", "does", "not",
                                    "answer", "question", "about", "which", "mentions", "several", "terms", "from",
                                    "query", "in", "different", "context", "history", "of", "region", "and", "its"};

int main(int argc, char **argv)
{
    const char *qprefix = "", *dprefix = "";
    long nq = -1, ndocs = -1, per = 8, nseg = 1;
    rs = 88172645463325252ull;
    static const struct option opts[] = {{"queries", 1, 0, 'q'},   {"qprefix", 1, 0, 'Q'},  {"docs", 1, 0, 'd'},
                                         {"dprefix", 1, 0, 'D'},   {"per-query", 1, 0, 'k'}, {"segments", 1, 0, 's'},
                                         {"seed", 1, 0, 'x'},      {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'q': nq = atol(optarg); break;
        case 'Q': qprefix = optarg; break;
        case 'd': ndocs = atol(optarg); break;
        case 'D': dprefix = optarg; break;
        case 'k': per = atol(optarg); break;
        case 's': nseg = atol(optarg); break;
        case 'x': rs = strtoull(optarg, NULL, 10) | 1; break;
        default: return 2;
        }
    }
    if (optind != argc - 1 || nq < 1 || ndocs < 1 || per < 3 || nseg < 1) {
        fprintf(stderr, "usage: gennegs SESSION --queries Q [--qprefix P] --docs D [--dprefix P] [--per-query K>=3] "
                        "[--segments S] [--seed X]\n");
        return 2;
    }
    const char *session = argv[optind];
    sy_err err = {0};
    char qid[64], nid[64], doc[64];
    sy_buf text = {0};
    for (long s = 0; s < nseg; s++) {
        long lo = nq * s / nseg, hi = nq * (s + 1) / nseg;
        neg_writer *w = neg_writer_new(session, "mine-shard", NEG_REPLACE, &err);
        if (!w) goto fail;
        for (long q = lo; q < hi; q++) {
            snprintf(qid, sizeof qid, "%s%ld", qprefix, q);
            for (long k = 0; k < per; k++) {
                uint64_t x = rnd();
                neg_row r = {0};
                r.query_id = qid;
                r.score = 20.0f - (float)k;
                if (k < per - 2) {
                    snprintf(doc, sizeof doc, "%s%llu", dprefix, (unsigned long long)(x % (uint64_t)ndocs));
                    r.neg_id = doc;
                    r.rank = (uint32_t)(k + 1);
                    r.source = NEG_BM25;
                    r.flags = x % 20 == 0 ? NEG_F_SUSPECT : 0;
                    r.fnl = r.flags ? 0.5f + (float)(x % 50) / 100.0f : 0.0f;
                    r.prov = "{\"pos\":21.5,\"ratio\":0.9}";
                } else {
                    text.len = 0;
                    sy_buf_printf(&text, "synthetic %ld for query %s:", k, qid);
                    for (int i = 0; i < 50; i++) sy_buf_printf(&text, " %s", words[rnd() % (sizeof words / sizeof *words)]);
                    neg_synthetic_id(NEG_OFFLINE, text.data, nid, sizeof nid);
                    r.neg_id = nid;
                    r.text = text.data;
                    r.source = NEG_OFFLINE;
                    r.prov = "{\"generator\":\"offline\",\"attributes\":{\"difficulty\":\"hard\"}}";
                }
                if (neg_writer_add(w, &r, &err) < 0) {
                    neg_writer_free(w);
                    goto fail;
                }
            }
        }
        if (neg_writer_commit(w, &err) < 0) {
            neg_writer_free(w);
            goto fail;
        }
        neg_writer_free(w);
    }
    sy_buf_free(&text);
    printf("%ld negatives for %ld queries in %ld segments\n", nq * per, nq, nseg);
    return 0;
fail:
    sy_buf_free(&text);
    fprintf(stderr, "gennegs: %s\n", err.msg);
    return 1;
}
