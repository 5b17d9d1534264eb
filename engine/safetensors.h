/* safetensors: a bounds-checked reader (and a small F32 writer) for the
 * Hugging Face safetensors format: an 8-byte little-endian header length, a
 * JSON header {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__"},
 * then the raw little-endian tensor bytes.
 *
 * Model files are untrusted input: every offset, shape and dtype is checked
 * against the file size before any byte is read; a bad file fails with a
 * message naming the file and tensor.  The file is mmap'ed; st_file owns the
 * mapping and the tensor table (st_close).  Not thread-safe per handle for
 * opening; reading tensors from one open handle is safe from many threads. */
#ifndef SY_SAFETENSORS_H
#define SY_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum { ST_F32, ST_F16, ST_BF16, ST_OTHER } st_dtype;

#define ST_MAX_DIMS 8
typedef struct {
    char *name;
    st_dtype dtype;
    char dtype_name[16];           /* as in the file, e.g. "F32", "I64" */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nelem;
    const uint8_t *data;           /* into the mapping */
    size_t nbytes;
} st_tensor;

typedef struct st_file st_file;

st_file *st_open(const char *path, sy_err *err);
void st_close(st_file *f);
size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);
/* Find by exact name; NULL when absent. */
const st_tensor *st_find(const st_file *f, const char *name);

/* Copy tensor `name` (after trying "PREFIX" + name for each prefix in the
 * NULL-terminated list, e.g. {"", "bert.", NULL}) converted to float32 into
 * dst, checking that its shape equals shape[0..ndim).  Fails with SY_ENOTFOUND
 * (naming the tensor and file) or SY_EFORMAT (shape or dtype mismatch). */
int st_read_f32(const st_file *f, const char *const *prefixes, const char *name,
                float *dst, int ndim, const int64_t *shape, sy_err *err);

float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);      /* round to nearest even */

/* A model folder's weights: model.safetensors, or every shard that
 * model.safetensors.index.json names (each opened once).  A folder with only
 * pytorch_model.bin fails naming the one-line conversion command. */
typedef struct st_model st_model;
st_model *st_model_open(const char *dir, sy_err *err);
void st_model_close(st_model *m);
/* Find PREFIX+name in any file (prefixes as st_read_f32); NULL when absent. */
const st_tensor *st_model_find(const st_model *m, const char *const *prefixes, const char *name,
                               const st_file **file);
int st_model_read_f32(const st_model *m, const char *const *prefixes, const char *name,
                      float *dst, int ndim, const int64_t *shape, sy_err *err);

/* Write F32 tensors: names[i], shapes (ndims[i] dims each, concatenated),
 * data[i].  Atomic replace. */
int st_write_f32(const char *path, size_t n, const char *const *names, const int *ndims,
                 const int64_t *shapes, const float *const *data, sy_err *err);

#endif
