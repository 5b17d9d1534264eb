/* Fuzz the safetensors reader: the header (length, JSON, offsets, dtypes,
 * shapes) and reading every tensor as float32. */
#include "fuzz.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_put("model.safetensors", data, size);
    st_file *f = st_open(path, NULL);
    for (size_t i = 0; f && i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        st_find(f, t->name);
        size_t n = t->nelem;
        if (n > (1u << 20)) continue;
        float *dst = malloc((n ? n : 1) * sizeof *dst);
        static const char *const prefixes[] = {"", NULL};
        st_read_f32(f, prefixes, t->name, dst, t->ndim, t->shape, NULL);
        free(dst);
    }
    st_close(f);
    free(path);
    return 0;
}
