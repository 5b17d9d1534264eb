/* train_embed MODEL_DIR TEXTS_FILE: print {"texts":[...],"embeddings":[[...]]}
 * with syneg's encoder (passage side, the folder's pooling and normalisation),
 * one text per line of TEXTS_FILE.  Used by tests/ref/train_check_hf.py. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: train_embed MODEL_DIR TEXTS_FILE\n"); return 2; }
    sy_err err = { 0 };
    enc_model *m = enc_load(argv[1], &err);
    if (!m) { fprintf(stderr, "train_embed: %s\n", err.msg); return 1; }
    size_t len;
    char *buf = sy_read_file(argv[2], &len, &err);
    if (!buf) { fprintf(stderr, "train_embed: %s\n", err.msg); return 1; }
    const char *texts[1024];
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l && n < 1024; l = strtok_r(NULL, "\n", &save)) texts[n++] = l;
    int C = enc_dim(m);
    float *e = malloc(n * C * sizeof *e);
    if (!e || enc_embed(m, texts, n, 0, e, NULL, NULL, &err)) { fprintf(stderr, "train_embed: %s\n", err.msg); return 1; }
    json_t *o = json_object(), *t = json_array(), *E = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(t, json_string(texts[i]));
        json_t *row = json_array();
        for (int k = 0; k < C; k++) json_array_append_new(row, json_real(e[i * C + k]));
        json_array_append_new(E, row);
    }
    json_object_set_new(o, "texts", t);
    json_object_set_new(o, "embeddings", E);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    puts(s);
    free(s);
    json_decref(o);
    free(e);
    free(buf);
    enc_free(m);
    return 0;
}
