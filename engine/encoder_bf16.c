/* encoder_bf16: the encoder's precision switch and its packed bf16 weights
 * (see encoder.h, enc_set_precision; the products are kernels_bf16.c). */
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "kernels_bf16.h"

struct enc_bf16 {
    int layers;
    kbf_mat **w;    /* [layers][4]: qkv, attproj, fc, fcproj, packed for x @ w^T */
};

int enc_precision_parse(const char *s, enc_precision *out, sy_err *err)
{
    if (!s || !strcmp(s, "fp32")) { *out = ENC_FP32; return 0; }
    if (!strcmp(s, "auto")) { *out = kbf_cpu_ok() ? ENC_BF16 : ENC_FP32; return 0; }
    if (!strcmp(s, "bf16")) {
        if (!kbf_cpu_ok())
            return sy_fail(err, SY_EINVAL, "precision bf16 needs a CPU with AVX-512 BF16 (the avx512_bf16 flag "
                           "in /proc/cpuinfo), which this one lacks; use --precision fp32, or auto to pick "
                           "bf16 only where it runs");
        *out = ENC_BF16;
        return 0;
    }
    return sy_fail(err, SY_EINVAL, "precision '%s' is unknown; use fp32, bf16 or auto", s);
}

const char *enc_precision_name(enc_precision p) { return p == ENC_BF16 ? "bf16" : "fp32"; }

static void bf16_free(enc_bf16 *b)
{
    if (!b) return;
    for (int i = 0; i < 4 * b->layers; i++) kbf_mat_free(b->w[i]);
    free(b->w);
    free(b);
}

/* Pack every layer's four Linear weights from m->params into b. */
static int bf16_pack(enc_bf16 *b, const enc_model *m)
{
    const enc_config *c = &m->cfg;
    const enc_params *p = &m->params;
    size_t C = (size_t)c->hidden, I = (size_t)c->intermediate;
    for (int l = 0; l < c->layers; l++) {
        size_t L = (size_t)l;
        kbf_mat **w = b->w + 4 * L;
        if (kbf_pack(&w[0], p->qkv_w + L * 3 * C * C, (int)C, 0, (int)(3 * C), (int)C) ||
            kbf_pack(&w[1], p->attproj_w + L * C * C, (int)C, 0, (int)C, (int)C) ||
            kbf_pack(&w[2], p->fc_w + L * I * C, (int)C, 0, (int)I, (int)C) ||
            kbf_pack(&w[3], p->fcproj_w + L * C * I, (int)I, 0, (int)C, (int)I))
            return -1;
    }
    return 0;
}

int enc_set_precision(enc_model *m, enc_precision p, sy_err *err)
{
    if (p == ENC_FP32) {
        bf16_free(m->bf16);
        m->bf16 = NULL;
        m->precision = ENC_FP32;
        return 0;
    }
    if (!kbf_cpu_ok())
        return sy_fail(err, SY_EINVAL, "precision bf16 needs a CPU with AVX-512 BF16 (avx512_bf16); use fp32");
    if (m->bf16) { m->precision = ENC_BF16; return enc_weights_changed(m, err); }
    enc_bf16 *b = calloc(1, sizeof *b);
    if (b) {
        b->layers = m->cfg.layers;
        b->w = calloc((size_t)4 * (b->layers > 0 ? b->layers : 1), sizeof *b->w);
    }
    if (!b || !b->w || bf16_pack(b, m)) {
        bf16_free(b);
        return sy_fail(err, SY_ENOMEM, "out of memory for the bf16 weights; use --precision fp32");
    }
    m->bf16 = b;
    m->precision = ENC_BF16;
    return 0;
}

int enc_weights_changed(enc_model *m, sy_err *err)
{
    if (m->precision != ENC_BF16 || !m->bf16) return 0;
    if (bf16_pack(m->bf16, m)) return sy_fail(err, SY_ENOMEM, "out of memory for the bf16 weights");
    return 0;
}

const kbf_mat *enc_bf16_weight(const enc_model *m, int l, int which)
{
    if (m->precision != ENC_BF16 || !m->bf16 || l < 0 || l >= m->bf16->layers || which < 0 || which > 3) return NULL;
    return m->bf16->w[4 * l + which];
}

int enc_apply_precision(enc_model *m, const char *name, sy_err *err)
{
    enc_precision p;
    if (enc_precision_parse(name, &p, err)) return -1;
    return enc_set_precision(m, p, err);
}
