/* labelstress SESSION_DIR SEED: acts on the labels journal as fast as it can,
 * printing "ack Q N ACT SEQ" on stdout (unbuffered) only after labels_act
 * returned 0, i.e. after the act was fsync'd.  tests/e2e/kill_labels.sh kills
 * it with SIGKILL at random moments and checks every acknowledged act survived. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "labels.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: labelstress DIR SEED\n");
        return 2;
    }
    sy_err err = {0};
    labels *l = labels_open(argv[1], 0, &err);
    if (!l) {
        fprintf(stderr, "labelstress: %s\n", err.msg);
        return 1;
    }
    unsigned seed = (unsigned)strtoul(argv[2], NULL, 10);
    setvbuf(stdout, NULL, _IONBF, 0);
    for (unsigned i = 0;; i++) {
        seed = seed * 1103515245u + 12345u;
        char q[32], n[32];
        snprintf(q, sizeof q, "q%u", (seed >> 8) % 40);
        snprintf(n, sizeof n, "d%u", (seed >> 16) % 50);
        int act = 1 + (int)((seed >> 4) % 3);
        const char *note = (seed >> 3) % 4 == 0 ? "a note with \"quotes\" and \xc3\xa9" : NULL;
        if (labels_act(l, q, n, act, note, &err) < 0) {
            fprintf(stderr, "labelstress: %s\n", err.msg);
            return 1;
        }
        printf("ack %s %s %d %llu\n", q, n, act, (unsigned long long)labels_seq(l));
        if (i % 29 == 28) labels_compact(l, &err); /* kills also land inside compaction */
    }
}
