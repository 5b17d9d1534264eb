/* npy: NumPy .npy reader/writer for float32/int32 (see npy.h). */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int write_f32(const char *path, const float *data, size_t rows, size_t cols, int vec, sy_err *err)
{
    char dict[128];
    int dl = vec ? snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu,), }", rows)
                 : snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                            rows, cols);
    size_t hl = 10 + (size_t)dl + 1, pad = (64 - hl % 64) % 64;
    size_t hdr = hl + pad, len = hdr + rows * cols * 4;
    uint8_t *buf = malloc(len);
    if (!buf) return sy_fail(err, SY_ENOMEM, "%s: out of memory (%zu bytes)", path, len);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)((hdr - 10) & 0xff);
    buf[9] = (uint8_t)((hdr - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)dl);
    memset(buf + 10 + dl, ' ', pad);
    buf[hdr - 1] = '\n';
    uint8_t *p = buf + hdr;
    for (size_t i = 0; i < rows * cols; i++, p += 4) {
        uint32_t b;
        memcpy(&b, &data[i], 4);
        sy_put_u32(p, b);
    }
    int rc = sy_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, sy_err *err)
{
    return write_f32(path, data, rows, cols, 0, err);
}

int npy_write_f32_vec(const char *path, const float *data, size_t n, sy_err *err)
{
    return write_f32(path, data, n, 1, 1, err);
}

int npy_read(const char *path, npy_array *out, sy_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len;
    char *f = sy_read_file(path, &len, err);
    if (!f) return -1;
    const uint8_t *u = (const uint8_t *)f;
    if (len < 10 || memcmp(f, "\x93NUMPY", 6) != 0 || (u[6] != 1 && u[6] != 2)) {
        free(f);
        return sy_fail(err, SY_EFORMAT, "%s: not a .npy file (version 1 or 2)", path);
    }
    size_t hl, start;
    if (u[6] == 1) { hl = (size_t)u[8] | (size_t)u[9] << 8; start = 10; }
    else { if (len < 12) { free(f); return sy_fail(err, SY_EFORMAT, "%s: truncated", path); }
           hl = sy_get_u32(u + 8); start = 12; }
    if (hl > len - start) { free(f); return sy_fail(err, SY_EFORMAT, "%s: header runs past the end", path); }
    char *h = strndup(f + start, hl);
    char *d = h ? strstr(h, "'descr':") : NULL, *s = h ? strstr(h, "'shape':") : NULL;
    int bad = !d || !s || strstr(h, "'fortran_order': True") != NULL;
    if (!bad) {
        if (strstr(d, "'<f4'")) out->type = 'f';
        else if (strstr(d, "'<i4'")) out->type = 'i';
        else bad = 1;
    }
    if (!bad) {
        char *p = strchr(s, '(');
        out->n = 1;
        while (p && *++p && *p != ')') {
            while (*p == ' ' || *p == ',') p++;
            if (*p == ')') break;
            char *e;
            unsigned long long v = strtoull(p, &e, 10);
            if (e == p || out->ndim == 4) { bad = 1; break; }
            out->shape[out->ndim++] = (size_t)v;
            out->n *= (size_t)v;
            p = e - 1;
        }
    }
    free(h);
    size_t at = start + hl;
    if (bad || out->n > (len - at) / 4 || out->n * 4 != len - at) {
        free(f);
        memset(out, 0, sizeof *out);
        return sy_fail(err, SY_EFORMAT, "%s: unsupported .npy (need little-endian float32/int32, "
                       "C order, size matching the header)", path);
    }
    out->data = malloc(out->n * 4 + 4);
    if (!out->data) { free(f); return sy_fail(err, SY_ENOMEM, "%s: out of memory", path); }
    for (size_t i = 0; i < out->n; i++) {
        uint32_t b = sy_get_u32(u + at + 4 * i);
        memcpy((char *)out->data + 4 * i, &b, 4);
    }
    free(f);
    return 0;
}

void npy_free(npy_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
