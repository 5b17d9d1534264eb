/* safetensors: bounds-checked reader and F32 writer (see safetensors.h). */
#include "safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ST_MAX_HEADER (100u << 20)   /* the format's own limit is 100 MB */

struct st_file {
    char *path;
    sy_map map;
    st_tensor *t;
    size_t n;
};

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {                       /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float st_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);  /* quiet NaN */
    b += 0x7fff + ((b >> 16) & 1);
    return (uint16_t)(b >> 16);
}

static int parse_dtype(const char *s, st_dtype *d, size_t *size)
{
    static const struct { const char *name; st_dtype d; size_t size; } tab[] = {
        { "F32", ST_F32, 4 }, { "F16", ST_F16, 2 }, { "BF16", ST_BF16, 2 },
        { "F64", ST_OTHER, 8 }, { "I64", ST_OTHER, 8 }, { "I32", ST_OTHER, 4 },
        { "I16", ST_OTHER, 2 }, { "I8", ST_OTHER, 1 }, { "U8", ST_OTHER, 1 },
        { "BOOL", ST_OTHER, 1 }, { "U16", ST_OTHER, 2 }, { "U32", ST_OTHER, 4 },
        { "U64", ST_OTHER, 8 }, { "F8_E4M3", ST_OTHER, 1 }, { "F8_E5M2", ST_OTHER, 1 },
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) { *d = tab[i].d; *size = tab[i].size; return 0; }
    return -1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

st_file *st_open(const char *path, sy_err *err)
{
    st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        sy_fail(err, SY_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (sy_map_open(&f->map, path, err) < 0) { free(f->path); free(f); return NULL; }
    const uint8_t *d = f->map.data;
    size_t len = f->map.len;
    json_t *root = NULL;
    if (len < 8) {
        sy_fail(err, SY_EFORMAT, "%s: %zu bytes is too short for a safetensors file", path, len);
        goto fail;
    }
    uint64_t hlen = sy_get_u64(d);
    if (hlen > ST_MAX_HEADER || hlen > len - 8) {
        sy_fail(err, SY_EFORMAT, "%s: header length %llu does not fit in the %zu-byte file; "
                "hint: is this really a .safetensors file?", path, (unsigned long long)hlen, len);
        goto fail;
    }
    json_error_t je;
    root = json_loadb((const char *)d + 8, (size_t)hlen, 0, &je);
    if (!json_is_object(root)) {
        sy_fail(err, SY_EFORMAT, "%s: header is not a JSON object (%s)", path,
                root ? "not an object" : je.text);
        goto fail;
    }
    size_t data_start = 8 + (size_t)hlen, data_len = len - data_start;
    f->t = calloc(json_object_size(root) + 1, sizeof *f->t);
    if (!f->t) { sy_fail(err, SY_ENOMEM, "%s: out of memory", path); goto fail; }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) continue;
        st_tensor *t = &f->t[f->n];
        json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
               *off = json_object_get(v, "data_offsets");
        size_t esize;
        if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off) ||
            json_array_size(off) != 2 || json_array_size(sh) > ST_MAX_DIMS) {
            sy_fail(err, SY_EFORMAT, "%s: tensor '%s' lacks dtype, shape (at most %d dims) or "
                    "data_offsets", path, key, ST_MAX_DIMS);
            goto fail;
        }
        if (parse_dtype(json_string_value(dt), &t->dtype, &esize) < 0) {
            sy_fail(err, SY_EFORMAT, "%s: tensor '%s' has unknown dtype '%s'", path, key,
                    json_string_value(dt));
            goto fail;
        }
        snprintf(t->dtype_name, sizeof t->dtype_name, "%s", json_string_value(dt));
        t->ndim = (int)json_array_size(sh);
        size_t nelem = 1;
        for (int i = 0; i < t->ndim; i++) {
            json_t *x = json_array_get(sh, (size_t)i);
            json_int_t s = json_is_integer(x) ? json_integer_value(x) : -1;
            if (s < 0 || (s > 0 && nelem > SIZE_MAX / 16 / (size_t)s)) {
                sy_fail(err, SY_EFORMAT, "%s: tensor '%s' has a bad shape", path, key);
                goto fail;
            }
            t->shape[i] = s;
            nelem *= (size_t)s;
        }
        json_t *b0 = json_array_get(off, 0), *b1 = json_array_get(off, 1);
        json_int_t begin = json_is_integer(b0) ? json_integer_value(b0) : -1;
        json_int_t end = json_is_integer(b1) ? json_integer_value(b1) : -1;
        if (begin < 0 || end < begin || (uint64_t)end > data_len) {
            sy_fail(err, SY_EFORMAT, "%s: tensor '%s' data_offsets [%lld, %lld] fall outside the "
                    "%zu data bytes; hint: the file may be truncated", path, key,
                    (long long)begin, (long long)end, data_len);
            goto fail;
        }
        if ((size_t)(end - begin) != nelem * esize) {
            sy_fail(err, SY_EFORMAT, "%s: tensor '%s' holds %lld bytes but its shape and dtype "
                    "need %zu", path, key, (long long)(end - begin), nelem * esize);
            goto fail;
        }
        t->nelem = nelem;
        t->data = d + data_start + begin;
        t->nbytes = (size_t)(end - begin);
        if (!(t->name = strdup(key))) { sy_fail(err, SY_ENOMEM, "%s: out of memory", path); goto fail; }
        f->n++;
    }
    qsort(f->t, f->n, sizeof *f->t, by_name);
    json_decref(root);
    return f;
fail:
    json_decref(root);
    st_close(f);
    return NULL;
}

void st_close(st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free(f->t[i].name);
    free(f->t);
    sy_map_close(&f->map);
    free(f->path);
    free(f);
}

size_t st_count(const st_file *f) { return f->n; }
const st_tensor *st_at(const st_file *f, size_t i) { return i < f->n ? &f->t[i] : NULL; }

const st_tensor *st_find(const st_file *f, const char *name)
{
    st_tensor key = { .name = (char *)name };
    return bsearch(&key, f->t, f->n, sizeof *f->t, by_name);
}

int st_read_f32(const st_file *f, const char *const *prefixes, const char *name,
                float *dst, int ndim, const int64_t *shape, sy_err *err)
{
    static const char *const none[] = { "", NULL };
    const st_tensor *t = NULL;
    char full[512];
    for (const char *const *p = prefixes ? prefixes : none; *p && !t; p++) {
        snprintf(full, sizeof full, "%s%s", *p, name);
        t = st_find(f, full);
    }
    if (!t)
        return sy_fail(err, SY_ENOTFOUND, "%s: tensor '%s' is missing (with or without the "
                       "'bert.' prefix); hint: is this a BERT model?", f->path, name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char want[128] = "", got[128] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "", (long long)shape[i]);
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        return sy_fail(err, SY_EFORMAT, "%s: tensor '%s' has shape [%s], config.json implies [%s]",
                       f->path, t->name, got, want);
    }
    const uint8_t *s = t->data;
    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, s, t->nelem * 4);
        break;
    case ST_F16:
        for (size_t i = 0; i < t->nelem; i++) dst[i] = st_f16_to_f32((uint16_t)(s[2 * i] | s[2 * i + 1] << 8));
        break;
    case ST_BF16:
        for (size_t i = 0; i < t->nelem; i++) dst[i] = st_bf16_to_f32((uint16_t)(s[2 * i] | s[2 * i + 1] << 8));
        break;
    default:
        return sy_fail(err, SY_EFORMAT, "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 "
                       "are supported", f->path, t->name, t->dtype_name);
    }
    return 0;
}

int st_write_f32(const char *path, size_t n, const char *const *names, const int *ndims,
                 const int64_t *shapes, const float *const *data, sy_err *err)
{
    json_t *hdr = json_object();
    size_t off = 0, total = 0;
    const int64_t *sh = shapes;
    for (size_t i = 0; i < n; i++) {
        size_t ne = 1;
        json_t *shape = json_array();
        for (int d = 0; d < ndims[i]; d++) {
            ne *= (size_t)sh[d];
            json_array_append_new(shape, json_integer(sh[d]));
        }
        sh += ndims[i];
        json_object_set_new(hdr, names[i], json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape",
                                                     shape, "data_offsets", (json_int_t)off,
                                                     (json_int_t)(off + ne * 4)));
        off += ne * 4;
    }
    total = off;
    char *h = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    if (!h) return sy_fail(err, SY_ENOMEM, "%s: out of memory", path);
    size_t hl = strlen(h), pad = (8 - hl % 8) % 8;
    size_t len = 8 + hl + pad + total;
    uint8_t *buf = malloc(len);
    if (!buf) { free(h); return sy_fail(err, SY_ENOMEM, "%s: out of memory (%zu bytes)", path, len); }
    sy_put_u64(buf, hl + pad);
    memcpy(buf + 8, h, hl);
    memset(buf + 8 + hl, ' ', pad);
    free(h);
    uint8_t *p = buf + 8 + hl + pad;
    sh = shapes;
    for (size_t i = 0; i < n; i++) {
        size_t ne = 1;
        for (int d = 0; d < ndims[i]; d++) ne *= (size_t)sh[d];
        sh += ndims[i];
        for (size_t j = 0; j < ne; j++) {     /* explicit little-endian */
            uint32_t b;
            memcpy(&b, &data[i][j], 4);
            sy_put_u32(p, b);
            p += 4;
        }
    }
    int rc = sy_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

/* ---- a model's weights: one file or the shards of an index ------------------ */

struct st_model {
    char *dir;
    st_file **files;
    size_t n;
};

void st_model_close(st_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) st_close(m->files[i]);
    free(m->files);
    free(m->dir);
    free(m);
}

static int add_file(st_model *m, const char *path, sy_err *err)
{
    st_file **a = realloc(m->files, (m->n + 1) * sizeof *a);
    if (!a) return sy_fail(err, SY_ENOMEM, "out of memory");
    m->files = a;
    if (!(m->files[m->n] = st_open(path, err))) return -1;
    m->n++;
    return 0;
}

st_model *st_model_open(const char *dir, sy_err *err)
{
    st_model *m = calloc(1, sizeof *m);
    char *single = sy_path_join(dir, "model.safetensors"), *index = sy_path_join(dir, "model.safetensors.index.json");
    char *bin = sy_path_join(dir, "pytorch_model.bin"), *binx = sy_path_join(dir, "pytorch_model.bin.index.json");
    json_t *ix = NULL;
    if (!m || !single || !index || !bin || !binx || !(m->dir = strdup(dir))) {
        sy_fail(err, SY_ENOMEM, "out of memory");
        goto fail;
    }
    if (sy_file_exists(single)) {
        if (add_file(m, single, err)) goto fail;
    } else if (sy_file_exists(index)) {
        json_error_t je;
        ix = json_load_file(index, 0, &je);
        json_t *wm = json_object_get(ix, "weight_map");
        if (!json_is_object(wm) || !json_object_size(wm)) {
            sy_fail(err, SY_EFORMAT, "%s:%d: expected {\"weight_map\": {tensor: shard file}}%s%s", index,
                    ix ? 0 : je.line, ix ? "" : ": ", ix ? "" : je.text);
            goto fail;
        }
        /* each distinct shard once, in order of first mention */
        const char *k;
        json_t *v;
        json_t *seen = json_object();
        json_object_foreach(wm, k, v) {
            const char *shard = json_string_value(v);
            if (!shard || strchr(shard, '/') || !strcmp(shard, "..") || !*shard) {
                json_decref(seen);
                sy_fail(err, SY_EFORMAT, "%s: weight_map[\"%s\"] must name a file in the folder", index, k);
                goto fail;
            }
            if (json_object_get(seen, shard)) continue;
            json_object_set_new(seen, shard, json_true());
            char *p = sy_path_join(dir, shard);
            int bad = !p || !sy_file_exists(p);
            if (bad) {
                sy_fail(err, SY_ENOTFOUND, "%s: shard missing (named by %s for tensor '%s'); hint: copy "
                        "every model-*.safetensors file of the checkpoint", p ? p : shard, index, k);
            } else {
                bad = add_file(m, p, err);
            }
            free(p);
            if (bad) { json_decref(seen); goto fail; }
        }
        json_decref(seen);
    } else if (sy_file_exists(bin) || sy_file_exists(binx)) {
        sy_fail(err, SY_EUNSUP, "%s: missing; the folder has only %s (a pickle, which syneg does not "
                "read); convert it once with: python3 -c \"import torch; from safetensors.torch import "
                "save_file; save_file({k: v.clone().contiguous() for k, v in torch.load('%s', "
                "map_location='cpu', weights_only=True).items()}, '%s', metadata={'format': 'pt'})\"%s",
                single, sy_file_exists(bin) ? bin : binx, bin, single,
                sy_file_exists(binx) ? " (sharded: load it with transformers' from_pretrained and "
                                       "save_pretrained it instead)" : "");
        goto fail;
    } else {
        sy_fail(err, SY_ENOTFOUND, "%s: missing (and no %s); hint: a model folder holds its weights as "
                "model.safetensors or sharded model-0000N-of-0000M.safetensors with that index",
                single, "model.safetensors.index.json");
        goto fail;
    }
    json_decref(ix);
    free(single); free(index); free(bin); free(binx);
    return m;
fail:
    json_decref(ix);
    free(single); free(index); free(bin); free(binx);
    st_model_close(m);
    return NULL;
}

const st_tensor *st_model_find(const st_model *m, const char *const *prefixes, const char *name,
                               const st_file **file)
{
    static const char *const none[] = { "", NULL };
    char full[512];
    for (const char *const *p = prefixes ? prefixes : none; *p; p++) {
        snprintf(full, sizeof full, "%s%s", *p, name);
        for (size_t i = 0; i < m->n; i++) {
            const st_tensor *t = st_find(m->files[i], full);
            if (t) {
                if (file) *file = m->files[i];
                return t;
            }
        }
    }
    return NULL;
}

int st_model_read_f32(const st_model *m, const char *const *prefixes, const char *name,
                      float *dst, int ndim, const int64_t *shape, sy_err *err)
{
    const st_file *f = NULL;
    const st_tensor *t = st_model_find(m, prefixes, name, &f);
    if (!t) {
        char tried[256] = "";
        static const char *const none[] = { "", NULL };
        for (const char *const *p = prefixes ? prefixes : none; *p; p++)
            snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s'%s'", tried[0] ? ", " : "", *p);
        return sy_fail(err, SY_ENOTFOUND, "%s: tensor '%s' is missing from the weights (prefixes tried: %s); "
                       "hint: does config.json's architecture match the weights?", m->dir, name, tried);
    }
    const char *const exact[] = { "", NULL };
    return st_read_f32(f, exact, t->name, dst, ndim, shape, err);
}
