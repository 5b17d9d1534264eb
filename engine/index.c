/* Placeholder until the dense-retrieval work lands: every call reports that
 * dense retrieval is not available yet.  Replaced by the encoder issue. */
#include "index.h"

dense_index *dense_open(session *s, const char *model_dir, const dense_opts *opts, sy_err *err)
{
    (void)s; (void)opts;
    sy_fail(err, SY_EUNSUP, "%s: dense retrieval is not available in this build yet", model_dir);
    return NULL;
}

int dense_search(dense_index *ix, const char *const *queries, size_t nq, size_t k,
                 uint32_t *docs, float *scores, sy_err *err)
{
    (void)ix; (void)queries; (void)nq; (void)k; (void)docs; (void)scores;
    return sy_fail(err, SY_EUNSUP, "dense retrieval is not available in this build yet");
}

void dense_free(dense_index *ix) { (void)ix; }
