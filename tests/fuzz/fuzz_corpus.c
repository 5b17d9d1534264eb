/* Fuzz the data set readers: the first byte picks BEIR (corpus, queries,
 * qrels), FlagEmbedding (one JSONL) or MS MARCO (collection, queries, qrels);
 * the rest is split at "\n@@\n" into the files. */
#include "corpus.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int fmt = data[0] % 3;
    const uint8_t *part[3];
    size_t len[3];
    fuzz_split(data + 1, size - 1, part, len, 3);
    char *dir = sy_path_join(fuzz_dir(), "c");
    char *a = NULL, *b = NULL, *c = NULL, *target = NULL;
    corpus *co = NULL;
    if (fmt == 0) {
        a = fuzz_put("c/corpus.jsonl", part[0], len[0]);
        b = fuzz_put("c/queries.jsonl", part[1], len[1]);
        c = fuzz_put("c/qrels/test.tsv", part[2], len[2]);
        co = corpus_load(dir, CORPUS_BEIR, NULL);
    } else if (fmt == 1) {
        target = fuzz_put("f/train.jsonl", data + 1, size - 1);
        co = corpus_load(target, CORPUS_FLAG, NULL);
    } else {
        a = fuzz_put("m/collection.tsv", part[0], len[0]);
        b = fuzz_put("m/queries.dev.tsv", part[1], len[1]);
        c = fuzz_put("m/qrels.dev.tsv", part[2], len[2]);
        char *m = sy_path_join(fuzz_dir(), "m");
        co = corpus_load(m, CORPUS_MSMARCO, NULL);
        free(m);
    }
    if (co) {   /* touch what a reader would */
        for (uint32_t d = 0; d < corpus_ndocs(co) && d < 64; d++) corpus_doc_find(co, corpus_doc_id(co, d));
        for (size_t i = 0; i < corpus_nsplits(co); i++) {
            const corpus_qrels *qr = corpus_split(co, i);
            size_t n;
            for (uint32_t q = 0; q < corpus_nqueries(co) && q < 64; q++) corpus_qrels_of(qr, q, &n);
        }
        corpus_free(co);
    }
    free(a); free(b); free(c); free(target); free(dir);
    return 0;
}
