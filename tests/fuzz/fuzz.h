/* fuzz.h: what the libFuzzer harnesses share: a private scratch folder per
 * process and a helper that writes the input (or a piece of it) to a file
 * there.  Header-only; every harness defines LLVMFuzzerTestOneInput. */
#ifndef SY_FUZZ_H
#define SY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

__attribute__((unused)) static const char *fuzz_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/syneg-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

/* Write bytes to DIR/name (sub-folders created); returns the malloc'd path. */
__attribute__((unused)) static char *fuzz_put(const char *name, const uint8_t *p, size_t n)
{
    char *path = sy_path_join(fuzz_dir(), name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    sy_mkdir_p(path, NULL);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n) fwrite(p, 1, n, f);
    fclose(f);
    return path;
}

/* Split data at "\n@@\n" into at most max pieces (the rest stays in the last). */
__attribute__((unused)) static size_t fuzz_split(const uint8_t *d, size_t n, const uint8_t **part, size_t *len, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i + 4 <= n && k + 1 < max; i++)
        if (!memcmp(d + i, "\n@@\n", 4)) {
            part[k] = d + start;
            len[k++] = i - start;
            start = i + 4;
            i += 3;
        }
    part[k] = d + start;
    len[k++] = n - start;
    for (size_t i = k; i < max; i++) { part[i] = d; len[i] = 0; }
    return k;
}

#endif
