/* Fuzz the label journal and snapshot replay: the input, split at "\n@@\n",
 * is SESSION/labels.jsonl and SESSION/labels.snap.jsonl; opened read-only,
 * every entry and the history read back. */
#include "fuzz.h"
#include "labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[2];
    size_t len[2];
    fuzz_split(data, size, part, len, 2);
    char *j = fuzz_put("l/labels.jsonl", part[0], len[0]);
    char *s = fuzz_put("l/labels.snap.jsonl", part[1], len[1]);
    char *dir = sy_path_join(fuzz_dir(), "l");
    labels *l = labels_open(dir, 1, NULL);
    if (l) {
        label_entry e;
        for (size_t i = 0; i < labels_size(l); i++) {
            labels_at(l, i, &e);
            labels_get(l, e.query_id, e.neg_id, &e);
        }
        for (size_t i = 0; i < labels_nskipped(l) && i < 16; i++) labels_warning(l, i);
        label_hist *h = NULL;
        size_t n = 0;
        if (labels_history(l, 100, &h, &n, NULL) == 0) labels_history_free(h, n);
        labels_free(l);
    }
    free(j); free(s); free(dir);
    return 0;
}
