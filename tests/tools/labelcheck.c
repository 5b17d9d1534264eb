/* labelcheck SESSION_DIR: prints every labelled pair as "Q N KIND", then
 * "seq S" and "skipped K"; exit 1 if the journal cannot be opened. */
#include <stdio.h>

#include "labels.h"

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    sy_err err = {0};
    labels *l = labels_open(argv[1], 1, &err);
    if (!l) {
        fprintf(stderr, "labelcheck: %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < labels_size(l); i++) {
        label_entry e;
        labels_at(l, i, &e);
        printf("%s %s %d\n", e.query_id, e.neg_id, e.kind);
    }
    printf("seq %llu\nskipped %zu\n", (unsigned long long)labels_seq(l), labels_nskipped(l));
    labels_free(l);
    return 0;
}
