/* Fuzz negative segments: the input is SESSION/negatives/a.seg; the store
 * maps it, and every live row is read back. */
#include "fuzz.h"
#include "negstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *seg = fuzz_put("n/negatives/a.seg", data, size);
    char *dir = sy_path_join(fuzz_dir(), "n");
    neg_store *s = neg_store_open(dir, NULL);
    if (s) {
        for (size_t q = 0; q < neg_store_nqueries(s) && q < 256; q++) {
            size_t n = 0;
            const neg_ref *refs = neg_store_query(s, neg_store_query_at(s, q), &n);
            for (size_t i = 0; i < n; i++) {
                neg_row r;
                neg_store_get(s, refs[i], &r);
            }
        }
        size_t n = 0;
        free(neg_store_ranked(s, 0, &n));
        neg_store_free(s);
    }
    free(seg); free(dir);
    return 0;
}
