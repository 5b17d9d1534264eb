/* npy: NumPy .npy files (format 1.0), little-endian float32 and int32 only.
 * npy_write_f32 writes a C-order [rows, cols] matrix atomically (tmp file,
 * fsync, rename).  npy_read loads a whole '<f4' or '<i4' array of up to 4
 * dimensions into a malloc'd buffer the caller frees.  Bad files fail with
 * SY_EFORMAT naming the file.  No state; thread-safe. */
#ifndef SY_NPY_H
#define SY_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

int npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, sy_err *err);
/* A float32 vector of shape [n], written the same way. */
int npy_write_f32_vec(const char *path, const float *data, size_t n, sy_err *err);

typedef struct {
    char type;            /* 'f' (float32) or 'i' (int32) */
    int ndim;
    size_t shape[4];
    size_t n;             /* element count */
    void *data;           /* malloc'd, n * 4 bytes */
} npy_array;

int npy_read(const char *path, npy_array *out, sy_err *err);
void npy_free(npy_array *a);

#endif
