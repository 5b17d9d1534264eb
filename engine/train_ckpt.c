/* train_ckpt: HF checkpoint folders and the optimiser state.  Contract in
 * train_ckpt.h; train_state.bin layout in train.c. */
#include "train_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "tokenizer.h"
#include "util.h"

#define STATE_MAGIC "SYTRST\0\0"
#define STATE_VERSION 1

static int write_json(const char *dir, const char *name, json_t *j, sy_err *err)
{
    if (!j) return sy_fail(err, SY_ENOMEM, "out of memory");
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    char *path = sy_path_join(dir, name);
    int rc = s && path ? sy_write_file_atomic(path, s, strlen(s), err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(s);
    free(path);
    return rc;
}

static int write_weights(const enc_model *m, const char *dir, sy_err *err)
{
    const enc_config *c = &m->cfg;
    const enc_params *p = &m->params;
    int64_t C = c->hidden, I = c->intermediate;
    size_t cap = 5 + 16 * (size_t)c->layers;
    const char **names = calloc(cap, sizeof *names);
    char **owned = calloc(cap, sizeof *owned);
    int *nd = calloc(cap, sizeof *nd);
    int64_t *shapes = calloc(2 * cap, sizeof *shapes);
    const float **data = calloc(cap, sizeof *data);
    int rc = -1;
    size_t n = 0, ns = 0;
    if (!names || !owned || !nd || !shapes || !data) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
#define ADD(nm, ptr, d0, d1)                                                    \
    do {                                                                        \
        owned[n] = strdup(nm);                                                  \
        if (!owned[n]) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }  \
        names[n] = owned[n];                                                    \
        data[n] = (ptr);                                                        \
        shapes[ns++] = (d0);                                                    \
        if ((d1) > 0) { shapes[ns++] = (d1); nd[n] = 2; } else nd[n] = 1;       \
        n++;                                                                    \
    } while (0)
    ADD("embeddings.word_embeddings.weight", p->wte, c->vocab_size, C);
    ADD("embeddings.position_embeddings.weight", p->wpe, c->max_position, C);
    ADD("embeddings.token_type_embeddings.weight", p->wtt, c->type_vocab, C);
    ADD("embeddings.LayerNorm.weight", p->emb_ln_w, C, 0);
    ADD("embeddings.LayerNorm.bias", p->emb_ln_b, C, 0);
    static const char *qkv[3] = { "query", "key", "value" };
    for (int l = 0; l < c->layers; l++) {
        char nm[128];
        for (int k = 0; k < 3; k++) {
            snprintf(nm, sizeof nm, "encoder.layer.%d.attention.self.%s.weight", l, qkv[k]);
            ADD(nm, p->qkv_w + ((size_t)l * 3 + k) * C * C, C, C);
            snprintf(nm, sizeof nm, "encoder.layer.%d.attention.self.%s.bias", l, qkv[k]);
            ADD(nm, p->qkv_b + ((size_t)l * 3 + k) * C, C, 0);
        }
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.dense.weight", l);
        ADD(nm, p->attproj_w + (size_t)l * C * C, C, C);
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.dense.bias", l);
        ADD(nm, p->attproj_b + (size_t)l * C, C, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(nm, p->ln1_w + (size_t)l * C, C, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(nm, p->ln1_b + (size_t)l * C, C, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.weight", l);
        ADD(nm, p->fc_w + (size_t)l * I * C, I, C);
        snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.bias", l);
        ADD(nm, p->fc_b + (size_t)l * I, I, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.weight", l);
        ADD(nm, p->fcproj_w + (size_t)l * C * I, C, I);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.bias", l);
        ADD(nm, p->fcproj_b + (size_t)l * C, C, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(nm, p->ln2_w + (size_t)l * C, C, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.output.LayerNorm.bias", l);
        ADD(nm, p->ln2_b + (size_t)l * C, C, 0);
    }
#undef ADD
    {
        char *path = sy_path_join(dir, "model.safetensors");
        rc = path ? st_write_f32(path, n, names, nd, shapes, data, err) : sy_fail(err, SY_ENOMEM, "out of memory");
        free(path);
    }
out:
    for (size_t i = 0; owned && i < n; i++) free(owned[i]);
    free(owned);
    free(names);
    free(nd);
    free(shapes);
    free(data);
    return rc;
}

static int write_vocab(const enc_model *m, const char *dir, sy_err *err)
{
    sy_buf b = { 0 };
    size_t V = tok_vocab_size(m->tok);
    for (size_t i = 0; i < V; i++) {
        const char *s = tok_token(m->tok, (int32_t)i);
        if (sy_buf_puts(&b, s ? s : "") || sy_buf_puts(&b, "\n")) { sy_buf_free(&b); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    }
    char *path = sy_path_join(dir, "vocab.txt");
    int rc = path ? sy_write_file_atomic(path, b.data ? b.data : "", b.len, err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(path);
    sy_buf_free(&b);
    return rc;
}

/* Lower-casing: keep what the source folder said, uncased otherwise. */
static int source_lowercase(const enc_model *m)
{
    if (!m->dir) return 1;
    char *path = sy_path_join(m->dir, "tokenizer_config.json");
    json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    int lc = 1;
    if (j && json_is_boolean(json_object_get(j, "do_lower_case"))) lc = json_is_true(json_object_get(j, "do_lower_case"));
    json_decref(j);
    return lc;
}

/* Copy src_dir/name to dir/name when it exists (tokenizer files, kept as they are). */
static int copy_if_present(const char *src_dir, const char *dir, const char *name, int *copied, sy_err *err)
{
    char *src = sy_path_join(src_dir, name), *dst = sy_path_join(dir, name);
    int rc = 0;
    if (!src || !dst) rc = sy_fail(err, SY_ENOMEM, "out of memory");
    else if (strcmp(src, dst) && sy_file_exists(src)) {
        size_t len;
        char *body = sy_read_file(src, &len, err);
        rc = !body || sy_write_file_atomic(dst, body, len, err) ? -1 : 0;
        free(body);
        if (!rc && copied) (*copied)++;
    }
    free(src);
    free(dst);
    return rc;
}

/* The source model's transformer config.json (architecture, pad and special
 * ids, RoBERTa's position offset all stay), with the trained sizes set. */
static json_t *model_config(const enc_model *m, int pad)
{
    const enc_config *c = &m->cfg;
    char *src = m->tf_dir ? sy_path_join(m->tf_dir, "config.json") : NULL;
    json_t *cfg = src && sy_file_exists(src) ? json_load_file(src, 0, NULL) : NULL;
    free(src);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        cfg = json_pack("{s:[s], s:s, s:s, s:f, s:f, s:f, s:i, s:s}", "architectures", "BertModel",
                        "model_type", "bert", "hidden_act", "gelu", "hidden_dropout_prob", 0.1,
                        "attention_probs_dropout_prob", 0.1, "initializer_range", 0.02,
                        "pad_token_id", pad, "position_embedding_type", "absolute");
        if (!cfg) return NULL;
    } else {
        /* an embedding model now, whatever head the source had */
        const char *mt = c->model_type[0] ? c->model_type : "bert";
        const char *arch = !strcmp(mt, "roberta") ? "RobertaModel" : !strcmp(mt, "xlm-roberta") ? "XLMRobertaModel"
                         : !strcmp(mt, "camembert") ? "CamembertModel" : "BertModel";
        json_object_set_new(cfg, "architectures", json_pack("[s]", arch));
        json_object_del(cfg, "id2label");
        json_object_del(cfg, "label2id");
        json_object_del(cfg, "num_labels");
        json_object_del(cfg, "dtype");
    }
    enc_config_to_json(cfg, c);
    json_object_set_new(cfg, "torch_dtype", json_string("float32"));
    return cfg;
}

/* Prompts: the source's config_sentence_transformers.json (every prompt and
 * default_prompt_name kept), with the model's query/passage prefixes set. */
static json_t *st_config(const enc_model *m)
{
    char *src = m->dir ? sy_path_join(m->dir, "config_sentence_transformers.json") : NULL;
    json_t *st = src && sy_file_exists(src) ? json_load_file(src, 0, NULL) : NULL;
    free(src);
    if (!json_is_object(st)) { json_decref(st); st = json_object(); }
    if (!st) return NULL;
    json_object_set_new(st, "similarity_fn_name", json_string("cosine"));
    json_t *pr = json_object_get(st, "prompts");
    if (!json_is_object(pr)) {
        pr = json_object();
        json_object_set_new(st, "prompts", pr);
    }
    if (m->query_prefix) json_object_set_new(pr, "query", json_string(m->query_prefix));
    if (m->passage_prefix)
        json_object_set_new(pr, json_object_get(pr, "document") && !json_object_get(pr, "passage") ? "document"
                                                                                                    : "passage",
                            json_string(m->passage_prefix));
    if (!json_object_size(pr)) json_object_del(st, "prompts");
    return st;
}

int ckpt_write_hf(const enc_model *m, const char *dir, int max_len, sy_err *err)
{
    const enc_config *c = &m->cfg;
    if (sy_mkdir_p(dir, err)) return -1;
    int pad = tok_pad(m->tok);
    if (write_json(dir, "config.json", model_config(m, pad), err)) return -1;
    if (write_weights(m, dir, err)) return -1;
    /* the source's tokenizer files as they are (tokenizer.json, SentencePiece or
     * BPE vocabularies, their configs); a vocab.txt-only or scratch model gets a
     * BERT vocab.txt and tokenizer_config.json */
    int copied = 0;
    if (m->tf_dir) {
        char *tj = sy_path_join(m->tf_dir, "tokenizer.json");
        int has_json = tj && sy_file_exists(tj);
        free(tj);
        if (has_json) {
            static const char *const files[] = { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                                 "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt",
                                                 "sentencepiece.bpe.model", "spiece.model", NULL };
            for (const char *const *f = files; *f; f++)
                if (copy_if_present(m->tf_dir, dir, *f, &copied, err)) return -1;
        }
    }
    if (!copied) {
        if (write_vocab(m, dir, err)) return -1;
        int lc = source_lowercase(m);
        if (write_json(dir, "tokenizer_config.json",
                       json_pack("{s:s, s:b, s:b, s:i, s:s, s:s, s:s, s:s, s:s}", "tokenizer_class",
                                 "BertTokenizer", "do_lower_case", lc, "tokenize_chinese_chars", 1,
                                 "model_max_length", c->max_position, "unk_token", "[UNK]",
                                 "sep_token", "[SEP]", "pad_token", "[PAD]", "cls_token", "[CLS]",
                                 "mask_token", "[MASK]"), err))
            return -1;
        if (write_json(dir, "special_tokens_map.json",
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "unk_token", "[UNK]", "sep_token", "[SEP]",
                                 "pad_token", "[PAD]", "cls_token", "[CLS]", "mask_token", "[MASK]"), err))
            return -1;
    }
    if (write_json(dir, "sentence_bert_config.json",
                   json_pack("{s:i, s:b}", "max_seq_length", max_len, "do_lower_case", 0), err))
        return -1;
    json_t *mods = json_pack("[{s:i, s:s, s:s, s:s}, {s:i, s:s, s:s, s:s}]",
                             "idx", 0, "name", "0", "path", "", "type", "sentence_transformers.models.Transformer",
                             "idx", 1, "name", "1", "path", "1_Pooling", "type", "sentence_transformers.models.Pooling");
    if (mods && m->normalize)
        json_array_append_new(mods, json_pack("{s:i, s:s, s:s, s:s}", "idx", 2, "name", "2", "path",
                                              "2_Normalize", "type", "sentence_transformers.models.Normalize"));
    if (write_json(dir, "modules.json", mods, err)) return -1;
    char *pd = sy_path_join(dir, "1_Pooling");
    int rc = pd ? sy_mkdir_p(pd, err) : sy_fail(err, SY_ENOMEM, "out of memory");
    if (!rc)
        rc = write_json(pd, "config.json",
                        json_pack("{s:i, s:b, s:b, s:b, s:b, s:b}", "word_embedding_dimension", c->hidden,
                                  "pooling_mode_cls_token", m->pooling == ENC_POOL_CLS,
                                  "pooling_mode_mean_tokens", m->pooling == ENC_POOL_MEAN,
                                  "pooling_mode_max_tokens", 0, "pooling_mode_mean_sqrt_len_tokens", 0,
                                  "include_prompt", !m->pool_skip_prompt),
                        err);
    free(pd);
    if (rc) return -1;
    if (m->normalize) {
        char *nd = sy_path_join(dir, "2_Normalize");
        rc = nd ? sy_mkdir_p(nd, err) : sy_fail(err, SY_ENOMEM, "out of memory");
        free(nd);
        if (rc) return -1;
    }
    if (m->query_prefix || m->passage_prefix) {   /* syneg's own encoder reads prefixes here */
        json_t *sj = json_object();
        if (m->query_prefix) json_object_set_new(sj, "query_prefix", json_string(m->query_prefix));
        if (m->passage_prefix) json_object_set_new(sj, "passage_prefix", json_string(m->passage_prefix));
        if (write_json(dir, "syneg.json", sj, err)) return -1;
    }
    return write_json(dir, "config_sentence_transformers.json", st_config(m), err);
}

static int rmrf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0) return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char *p = sy_path_join(path, de->d_name);
            if (p) rmrf(p);
            free(p);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int write_state(const char *dir, const float *am, const float *av, size_t np, long step,
                       sy_err *err)
{
    size_t n = 32 + 8 * np + 8;
    uint8_t *b = malloc(n);
    if (!b) return sy_fail(err, SY_ENOMEM, "out of memory for the optimiser state");
    memcpy(b, STATE_MAGIC, 8);
    sy_put_u32(b + 8, STATE_VERSION);
    sy_put_u32(b + 12, 0);
    sy_put_u64(b + 16, (uint64_t)step);
    sy_put_u64(b + 24, (uint64_t)np);
    uint8_t *q = b + 32;
    for (size_t i = 0; i < np; i++, q += 4) { uint32_t u; memcpy(&u, &am[i], 4); sy_put_u32(q, u); }
    for (size_t i = 0; i < np; i++, q += 4) { uint32_t u; memcpy(&u, &av[i], 4); sy_put_u32(q, u); }
    sy_put_u64(q, sy_hash64(b, n - 8));
    char *path = sy_path_join(dir, "train_state.bin");
    int rc = path ? sy_write_file_atomic(path, b, n, err) : sy_fail(err, SY_ENOMEM, "out of memory");
    free(path);
    free(b);
    return rc;
}

int ckpt_read_state(const char *dir, float *am, float *av, size_t np, long *step, sy_err *err)
{
    char *path = sy_path_join(dir, "train_state.bin");
    if (!path) return sy_fail(err, SY_ENOMEM, "out of memory");
    sy_map mp;
    if (sy_map_open(&mp, path, err)) { free(path); return -1; }
    int rc = 0;
    const uint8_t *b = mp.data;
    if (mp.len < 40 || memcmp(b, STATE_MAGIC, 8))
        rc = sy_fail(err, SY_EFORMAT, "%s: not a syneg training state", path);
    else if (sy_get_u32(b + 8) != STATE_VERSION)
        rc = sy_fail(err, SY_EFORMAT, "%s: version %u, this syneg reads %d", path, sy_get_u32(b + 8), STATE_VERSION);
    else if (sy_get_u64(b + 24) != np || mp.len != 32 + 8 * np + 8)
        rc = sy_fail(err, SY_EFORMAT, "%s: holds %llu parameters, the model has %zu", path,
                     (unsigned long long)sy_get_u64(b + 24), np);
    else if (sy_get_u64(b + mp.len - 8) != sy_hash64(b, mp.len - 8))
        rc = sy_fail(err, SY_EFORMAT, "%s: checksum mismatch (torn write?); delete this checkpoint to use the one before", path);
    else {
        *step = (long)sy_get_u64(b + 16);
        const uint8_t *q = b + 32;
        for (size_t i = 0; i < np; i++, q += 4) { uint32_t u = sy_get_u32(q); memcpy(&am[i], &u, 4); }
        for (size_t i = 0; i < np; i++, q += 4) { uint32_t u = sy_get_u32(q); memcpy(&av[i], &u, 4); }
    }
    sy_map_close(&mp);
    free(path);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* keep the newest `keep` step-* folders */
static void prune(const char *root, int keep)
{
    DIR *d = opendir(root);
    if (!d) return;
    char *names[4096];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 4096)
        if (!strncmp(de->d_name, "step-", 5) && !strchr(de->d_name, '.')) names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (names[i] && i + (size_t)keep < n) {
            char *p = sy_path_join(root, names[i]);
            if (p) rmrf(p);
            free(p);
        }
        free(names[i]);
    }
}

int ckpt_save(const enc_model *m, const char *run_dir, long step, const float *am,
              const float *av, size_t np, int max_len, char *rel_out, size_t rel_n, sy_err *err)
{
    char *root = sy_path_join(run_dir, "ckpt");
    char *fin = root ? sy_strdup_printf("%s/step-%07ld", root, step) : NULL;
    char *tmp = fin ? sy_strdup_printf("%s.tmp", fin) : NULL;
    int rc = -1;
    if (!tmp) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    rmrf(tmp);
    if (ckpt_write_hf(m, tmp, max_len, err) || write_state(tmp, am, av, np, step, err)) goto out;
    rmrf(fin);
    if (rename(tmp, fin) < 0) { sy_fail_errno(err, errno, "%s: cannot rename into place", tmp); goto out; }
    sy_fsync_dir(root);
    snprintf(rel_out, rel_n, "ckpt/step-%07ld", step);
    prune(root, 2);
    rc = 0;
out:
    free(root);
    free(fin);
    free(tmp);
    return rc;
}

int ckpt_save_final(const enc_model *m, const char *run_dir, int max_len, sy_err *err)
{
    char *fin = sy_path_join(run_dir, "final");
    char *tmp = fin ? sy_strdup_printf("%s.tmp", fin) : NULL;
    int rc = -1;
    if (!tmp) { sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    rmrf(tmp);
    if (ckpt_write_hf(m, tmp, max_len, err)) goto out;
    rmrf(fin);
    if (rename(tmp, fin) < 0) { sy_fail_errno(err, errno, "%s: cannot rename into place", tmp); goto out; }
    sy_fsync_dir(run_dir);
    rc = 0;
out:
    free(fin);
    free(tmp);
    return rc;
}
