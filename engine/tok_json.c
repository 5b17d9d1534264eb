/* tok_json: read a Hugging Face tokenizer.json (model WordPiece, BPE or
 * Unigram; normalizers, pre-tokenizers, post-processor, added tokens) into
 * the tokenizer pipeline, and pick a model folder's tokenizer (see
 * tokenizer.h).  Anything this reader does not implement is an error naming
 * the file and the component, never skipped. */
#include "tok_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define FAIL(...) do { sy_fail(err, SY_EUNSUP, __VA_ARGS__); return -1; } while (0)
#define BAD(...) do { sy_fail(err, SY_EFORMAT, __VA_ARGS__); return -1; } while (0)

static int to_cps(const char *s, int32_t **out, size_t *n)
{
    size_t len = strlen(s);
    *out = malloc((len + 1) * sizeof **out);
    if (!*out) return -1;
    *n = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) { c = 0xFFFD; k = 1; }
        (*out)[(*n)++] = c;
        i += (size_t)k;
    }
    return 0;
}

static int first_cp(const char *s)
{
    utf8proc_int32_t c = 0;
    if (s && *s) utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &c);
    return c;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

static unsigned char *b64decode(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *out = malloc(len / 4 * 3 + 4);
    if (!out) return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) { bits -= 8; out[k++] = (unsigned char)(acc >> bits); }
    }
    *n = k;
    return out;
}

/* ---- normalizers ------------------------------------------------------------- */

static int add_norm(tokenizer *t, const char *path, json_t *j, sy_err *err)
{
    if (!j || json_is_null(j)) return 0;
    const char *ty = json_string_value(json_object_get(j, "type"));
    if (!ty) BAD("%s: normalizer without a \"type\"", path);
    if (!strcmp(ty, "Sequence")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "normalizers"), i, v)
            if (add_norm(t, path, v, err)) return -1;
        return 0;
    }
    tok_norm nm = { 0 };
    if (!strcmp(ty, "BertNormalizer")) {
        nm.kind = NORM_BERT;
        json_t *c = json_object_get(j, "clean_text"), *h = json_object_get(j, "handle_chinese_chars"),
               *s = json_object_get(j, "strip_accents"), *l = json_object_get(j, "lowercase");
        nm.clean = !c || json_is_true(c);
        nm.chinese = !h || json_is_true(h);
        nm.lowercase = !l || json_is_true(l);
        nm.strip_accents = json_is_boolean(s) ? json_is_true(s) : nm.lowercase;
    } else if (!strcmp(ty, "Lowercase")) nm.kind = NORM_LOWER;
    else if (!strcmp(ty, "StripAccents")) nm.kind = NORM_STRIP_ACCENTS;
    else if (!strcmp(ty, "NFD")) nm.kind = NORM_NFD;
    else if (!strcmp(ty, "NFKD")) nm.kind = NORM_NFKD;
    else if (!strcmp(ty, "NFC")) nm.kind = NORM_NFC;
    else if (!strcmp(ty, "NFKC")) nm.kind = NORM_NFKC;
    else if (!strcmp(ty, "Strip")) {
        nm.kind = NORM_STRIP;
        nm.left = json_is_true(json_object_get(j, "strip_left"));
        nm.right = json_is_true(json_object_get(j, "strip_right"));
    } else if (!strcmp(ty, "Prepend")) {
        nm.kind = NORM_PREPEND;
        const char *p = json_string_value(json_object_get(j, "prepend"));
        if (!p || to_cps(p, &nm.rep, &nm.nrep)) BAD("%s: Prepend normalizer without \"prepend\"", path);
    } else if (!strcmp(ty, "Replace")) {
        nm.kind = NORM_REPLACE;
        json_t *pat = json_object_get(j, "pattern");
        const char *content = json_string_value(json_object_get(j, "content"));
        const char *str = json_string_value(json_object_get(pat, "String"));
        const char *rx = json_string_value(json_object_get(pat, "Regex"));
        if (!content) BAD("%s: Replace normalizer without \"content\"", path);
        if (str) {
            if (to_cps(str, &nm.pat, &nm.npat)) return -1;
        } else if (rx) {
            /* only the one-character repeats tokenizer files use, e.g. " {2,}" */
            int32_t *c; size_t n;
            if (to_cps(rx, &c, &n)) return -1;
            int min = 0;
            if (n >= 2 && c[1] == '+') min = n == 2 ? 1 : 0;
            else if (n >= 5 && c[1] == '{' && c[n - 1] == '}' && c[n - 2] == ',') {
                min = 0;
                for (size_t i = 2; i < n - 2; i++) {
                    if (c[i] < '0' || c[i] > '9') { min = 0; break; }
                    min = min * 10 + (c[i] - '0');
                }
            }
            if (min <= 0 || c[0] == '\\' || c[0] == '.' || c[0] == '[' || c[0] == '(') {
                free(c);
                FAIL("%s: Replace normalizer regex \"%s\" is not supported (only a repeated "
                     "literal character such as \" {2,}\")", path, rx);
            }
            nm.pat = c;
            nm.npat = 1;
            nm.min_repeat = min;
        } else {
            BAD("%s: Replace normalizer pattern must be {\"String\": ...} or {\"Regex\": ...}", path);
        }
        if (to_cps(content, &nm.rep, &nm.nrep)) { free(nm.pat); return -1; }
    } else if (!strcmp(ty, "Precompiled")) {
        nm.kind = NORM_PRECOMPILED;
        const char *b = json_string_value(json_object_get(j, "precompiled_charsmap"));
        size_t n = 0;
        if (b && *b) {
            nm.blob = b64decode(b, &n);
            if (!nm.blob) return sy_fail(err, SY_ENOMEM, "out of memory");
            uint32_t ts = n >= 4 ? (uint32_t)nm.blob[0] | (uint32_t)nm.blob[1] << 8 |
                                   (uint32_t)nm.blob[2] << 16 | (uint32_t)nm.blob[3] << 24 : 0;
            if (n < 4 || ts % 4 || ts > n - 4) {
                free(nm.blob);
                BAD("%s: Precompiled normalizer charsmap is truncated", path);
            }
            nm.trie = (const uint32_t *)(nm.blob + 4);   /* malloc'd: aligned */
            nm.trie_units = ts / 4;
            nm.pool = (const char *)nm.blob + 4 + ts;
            nm.pool_len = n - 4 - ts;
        }
    } else {
        FAIL("%s: normalizer \"%s\" is not supported; hint: supported are BertNormalizer, "
             "Lowercase, StripAccents, NFD, NFKD, NFC, NFKC, Replace, Strip, Prepend, Precompiled", path, ty);
    }
    tok_norm *a = realloc(t->norm, (t->nnorm + 1) * sizeof *a);
    if (!a) { free(nm.pat); free(nm.rep); free(nm.blob); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    t->norm = a;
    t->norm[t->nnorm++] = nm;
    return 0;
}

/* ---- pre-tokenizers ------------------------------------------------------------- */

static int add_pre(tokenizer *t, const char *path, json_t *j, sy_err *err)
{
    if (!j || json_is_null(j)) return 0;
    const char *ty = json_string_value(json_object_get(j, "type"));
    if (!ty) BAD("%s: pre_tokenizer without a \"type\"", path);
    if (!strcmp(ty, "Sequence")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "pretokenizers"), i, v)
            if (add_pre(t, path, v, err)) return -1;
        return 0;
    }
    tok_pre p = { 0 };
    if (!strcmp(ty, "BertPreTokenizer")) p.kind = PRE_BERT;
    else if (!strcmp(ty, "Whitespace")) p.kind = PRE_WHITESPACE;
    else if (!strcmp(ty, "WhitespaceSplit")) p.kind = PRE_WSSPLIT;
    else if (!strcmp(ty, "Punctuation")) {
        const char *b = json_string_value(json_object_get(j, "behavior"));
        if (b && strcmp(b, "Isolated")) FAIL("%s: Punctuation pre-tokenizer behavior \"%s\" is not supported "
                                             "(only Isolated)", path, b);
        p.kind = PRE_PUNCT;
    } else if (!strcmp(ty, "Digits")) {
        p.kind = PRE_DIGITS;
        p.individual = json_is_true(json_object_get(j, "individual_digits"));
    } else if (!strcmp(ty, "Metaspace")) {
        p.kind = PRE_METASPACE;
        const char *r = json_string_value(json_object_get(j, "replacement"));
        p.replacement = r ? first_cp(r) : 0x2581;
        const char *ps = json_string_value(json_object_get(j, "prepend_scheme"));
        json_t *aps = json_object_get(j, "add_prefix_space");
        if (ps) p.prepend = !strcmp(ps, "always") ? 1 : !strcmp(ps, "first") ? 2 : !strcmp(ps, "never") ? 0 : -1;
        else p.prepend = !aps || json_is_true(aps);
        if (p.prepend < 0) BAD("%s: Metaspace prepend_scheme \"%s\" is unknown", path, ps);
        json_t *sp = json_object_get(j, "split");
        p.split = !sp || json_is_true(sp);
    } else if (!strcmp(ty, "ByteLevel")) {
        p.kind = PRE_BYTELEVEL;
        p.add_prefix_space = json_is_true(json_object_get(j, "add_prefix_space"));
        json_t *ur = json_object_get(j, "use_regex");
        p.use_regex = !ur || json_is_true(ur);
        t->byte_level = 1;
    } else {
        FAIL("%s: pre-tokenizer \"%s\" is not supported; hint: supported are BertPreTokenizer, "
             "Whitespace, WhitespaceSplit, Punctuation, Digits, Metaspace, ByteLevel", path, ty);
    }
    tok_pre *a = realloc(t->pre, (t->npre + 1) * sizeof *a);
    if (!a) return sy_fail(err, SY_ENOMEM, "out of memory");
    t->pre = a;
    t->pre[t->npre++] = p;
    return 0;
}

/* ---- post-processor ---------------------------------------------------------------- */

static int tpl_special(tokenizer *t, const char *path, const char *name, json_t *specials, int type,
                       tok_tpl_item *it, sy_err *err)
{
    it->seq = 0;
    it->type = type;
    it->nids = 0;
    json_t *ids = json_object_get(json_object_get(specials, name), "ids");
    if (json_is_array(ids)) {
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) {
            if (it->nids == 4) BAD("%s: special token \"%s\" has more than 4 ids", path, name);
            it->ids[it->nids++] = (int32_t)json_integer_value(v);
        }
        return 0;
    }
    int32_t id = tok_id(t, name);
    if (id < 0) BAD("%s: post_processor special token \"%s\" is not in the vocabulary", path, name);
    it->ids[0] = id;
    it->nids = 1;
    return 0;
}

static int parse_template(tokenizer *t, const char *path, json_t *arr, json_t *specials, tok_tpl_item *out,
                          int *n, int cap, sy_err *err)
{
    size_t i;
    json_t *v;
    *n = 0;
    json_array_foreach(arr, i, v) {
        if (*n == cap) BAD("%s: post_processor template is too long", path);
        json_t *sp = json_object_get(v, "SpecialToken"), *sq = json_object_get(v, "Sequence");
        if (sp) {
            if (tpl_special(t, path, json_string_value(json_object_get(sp, "id")) ? json_string_value(json_object_get(sp, "id")) : "",
                            specials, (int)json_integer_value(json_object_get(sp, "type_id")), &out[*n], err))
                return -1;
        } else if (sq) {
            const char *id = json_string_value(json_object_get(sq, "id"));
            out[*n] = (tok_tpl_item){ id && !strcmp(id, "B") ? 2 : 1,
                                      (int)json_integer_value(json_object_get(sq, "type_id")), { 0 }, 0 };
        } else {
            BAD("%s: post_processor template item is neither SpecialToken nor Sequence", path);
        }
        (*n)++;
    }
    return 0;
}

static int pair_ids(tokenizer *t, const char *path, json_t *p, const char *key, int32_t *id, sy_err *err)
{
    json_t *v = json_object_get(p, key);
    if (!json_is_array(v) || json_array_size(v) != 2) BAD("%s: post_processor \"%s\" must be [token, id]", path, key);
    *id = (int32_t)json_integer_value(json_array_get(v, 1));
    (void)t;
    return 0;
}

static int set_post(tokenizer *t, const char *path, json_t *p, sy_err *err)
{
    tok_tpl_item A = { 1, 0, { 0 }, 0 }, B = { 2, 0, { 0 }, 0 };
    if (!p || json_is_null(p)) {
        t->single[0] = A; t->nsingle = 1;
        t->pair[0] = A; t->pair[1] = B; t->npair = 2;
        return 0;
    }
    const char *ty = json_string_value(json_object_get(p, "type"));
    if (!ty) BAD("%s: post_processor without a \"type\"", path);
    if (!strcmp(ty, "Sequence")) {
        size_t i;
        json_t *v;
        json_t *use = NULL;
        json_array_foreach(json_object_get(p, "processors"), i, v) {
            const char *t2 = json_string_value(json_object_get(v, "type"));
            if (t2 && !strcmp(t2, "ByteLevel")) continue;   /* offsets only */
            if (use) FAIL("%s: a post_processor Sequence with two templates is not supported", path);
            use = v;
        }
        return set_post(t, path, use, err);
    }
    if (!strcmp(ty, "ByteLevel")) return set_post(t, path, NULL, err);
    if (!strcmp(ty, "TemplateProcessing")) {
        json_t *sp = json_object_get(p, "special_tokens");
        return parse_template(t, path, json_object_get(p, "single"), sp, t->single, &t->nsingle, 8, err) ||
               parse_template(t, path, json_object_get(p, "pair"), sp, t->pair, &t->npair, 12, err) ? -1 : 0;
    }
    int bert = !strcmp(ty, "BertProcessing");
    if (bert || !strcmp(ty, "RobertaProcessing")) {
        int32_t cls, sep;
        if (pair_ids(t, path, p, "cls", &cls, err) || pair_ids(t, path, p, "sep", &sep, err)) return -1;
        tok_tpl_item C = { 0, 0, { cls }, 1 }, S = { 0, 0, { sep }, 1 }, S1 = { 0, bert, { sep }, 1 };
        B.type = bert;
        t->single[0] = C; t->single[1] = A; t->single[2] = S; t->nsingle = 3;
        if (bert) {
            t->pair[0] = C; t->pair[1] = A; t->pair[2] = S; t->pair[3] = B; t->pair[4] = S1; t->npair = 5;
        } else {
            t->pair[0] = C; t->pair[1] = A; t->pair[2] = S; t->pair[3] = S; t->pair[4] = B; t->pair[5] = S;
            t->npair = 6;
        }
        return 0;
    }
    FAIL("%s: post_processor \"%s\" is not supported; hint: supported are TemplateProcessing, "
         "BertProcessing, RobertaProcessing, ByteLevel", path, ty);
}

/* ---- model ------------------------------------------------------------------------- */

typedef struct { sy_buf arena; size_t *offs; size_t n; } strtab;

static int model_vocab(tokenizer *t, const char *path, json_t *model, json_t *added, sy_err *err)
{
    const char *ty = json_string_value(json_object_get(model, "type"));
    json_t *vocab = json_object_get(model, "vocab");
    if (!ty) {
        /* old files: the type is implied by the fields */
        if (json_is_array(vocab)) ty = "Unigram";
        else if (json_object_get(model, "merges")) ty = "BPE";
        else if (json_object_get(model, "continuing_subword_prefix")) ty = "WordPiece";
        else BAD("%s: model has no \"type\"", path);
    }
    if (!strcmp(ty, "WordPiece")) t->model = TOK_WORDPIECE;
    else if (!strcmp(ty, "BPE")) t->model = TOK_BPE;
    else if (!strcmp(ty, "Unigram")) t->model = TOK_UNIGRAM;
    else FAIL("%s: model \"%s\" is not supported; hint: supported are WordPiece, BPE and Unigram", path, ty);
    int uni = t->model == TOK_UNIGRAM;
    if (uni ? !json_is_array(vocab) : !json_is_object(vocab))
        BAD("%s: model.vocab must be %s", path, uni ? "an array of [piece, score]" : "an object {token: id}");
    /* ids and total size */
    size_t n = 0, bytes = 0;
    const char *k;
    json_t *v;
    size_t i;
    if (uni) {
        n = json_array_size(vocab);
        json_array_foreach(vocab, i, v) {
            const char *s = json_string_value(json_array_get(v, 0));
            if (!s || !json_is_number(json_array_get(v, 1)))
                BAD("%s: model.vocab[%zu] must be [piece, score]", path, i);
            bytes += json_string_length(json_array_get(v, 0)) + 1;
        }
    } else {
        json_object_foreach(vocab, k, v) {
            json_int_t id = json_integer_value(v);
            if (!json_is_integer(v) || id < 0 || id > (1 << 26)) BAD("%s: model.vocab[\"%s\"] is not a valid id", path, k);
            if ((size_t)id + 1 > n) n = (size_t)id + 1;
            bytes += strlen(k) + 1;
        }
    }
    json_array_foreach(added, i, v) {
        json_int_t id = json_integer_value(json_object_get(v, "id"));
        const char *c = json_string_value(json_object_get(v, "content"));
        if (!c || id < 0 || id > (1 << 26)) BAD("%s: added_tokens[%zu] needs an id and a content", path, i);
        if ((size_t)id + 1 > n) n = (size_t)id + 1;
        bytes += strlen(c) + 1;
    }
    if (tok_vocab_init(t, n) || !(t->arena = malloc(bytes + 1))) return sy_fail(err, SY_ENOMEM, "out of memory");
    size_t off = 0;
#define PUT(ID, S, L) do { size_t l_ = (L); memcpy(t->arena + off, S, l_); t->arena[off + l_] = 0;   \
        if (!t->tokens[ID] && tok_set_token(t, (int32_t)(ID), t->arena + off, l_))               \
            return sy_fail(err, SY_ENOMEM, "out of memory");                                     \
        off += l_ + 1; } while (0)
    if (uni) {
        if (!(t->scores = calloc(n, sizeof *t->scores))) return sy_fail(err, SY_ENOMEM, "out of memory");
        t->min_score = 0;
        json_array_foreach(vocab, i, v) {
            const char *s = json_string_value(json_array_get(v, 0));
            PUT(i, s, json_string_length(json_array_get(v, 0)));
            t->scores[i] = json_number_value(json_array_get(v, 1));
            if (i == 0 || t->scores[i] < t->min_score) t->min_score = t->scores[i];
            size_t chars = 0, sl = json_string_length(json_array_get(v, 0));
            for (size_t q = 0; q < sl; q++) chars += ((unsigned char)s[q] & 0xC0) != 0x80;
            if ((int)chars > t->max_piece_chars) t->max_piece_chars = (int)chars;
        }
        json_t *u = json_object_get(model, "unk_id");
        t->unk = json_is_integer(u) ? (int32_t)json_integer_value(u) : -1;
        if (t->unk >= (int32_t)n) BAD("%s: model.unk_id %d is outside the vocabulary", path, t->unk);
    } else {
        json_object_foreach(vocab, k, v) PUT(json_integer_value(v), k, strlen(k));
    }
    json_array_foreach(added, i, v) PUT(json_integer_value(json_object_get(v, "id")),
                                        json_string_value(json_object_get(v, "content")),
                                        json_string_length(json_object_get(v, "content")));
#undef PUT
    for (size_t q = 0; q < n; q++)
        if (!t->tokens[q]) t->tokens[q] = "";   /* a hole in the ids: never produced */
    t->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_ids[b] = tok_id(t, name);
    }
    if (!uni) {
        const char *unk = json_string_value(json_object_get(model, "unk_token"));
        t->unk = unk ? tok_id(t, unk) : -1;
        if (unk && t->unk < 0) BAD("%s: model.unk_token \"%s\" is not in the vocabulary", path, unk);
    }
    if (t->model == TOK_WORDPIECE) {
        if (t->unk < 0) BAD("%s: WordPiece model without an unk_token", path);
        const char *pre = json_string_value(json_object_get(model, "continuing_subword_prefix"));
        if (!pre) pre = "##";
        size_t pl = strlen(pre);
        json_t *mx = json_object_get(model, "max_input_chars_per_word");
        t->max_word_chars = json_is_integer(mx) ? (int)json_integer_value(mx) : 100;
        if (sy_strmap_init(&t->cont, n / 4 + 16)) return sy_fail(err, SY_ENOMEM, "out of memory");
        for (size_t q = 0; q < n; q++) {
            size_t l = strlen(t->tokens[q]);
            if (l > pl && !memcmp(t->tokens[q], pre, pl) &&
                sy_strmap_put(&t->cont, t->tokens[q] + pl, l - pl, (uint32_t)q, NULL) < 0)
                return sy_fail(err, SY_ENOMEM, "out of memory");
        }
    }
    if (t->model == TOK_BPE) {
        const char *cp = json_string_value(json_object_get(model, "continuing_subword_prefix"));
        const char *es = json_string_value(json_object_get(model, "end_of_word_suffix"));
        if (cp && *cp && !(t->cont_prefix = strdup(cp))) return sy_fail(err, SY_ENOMEM, "out of memory");
        if (es && *es && !(t->end_suffix = strdup(es))) return sy_fail(err, SY_ENOMEM, "out of memory");
        t->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
        t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
        json_t *merges = json_object_get(model, "merges");
        size_t nm = json_array_size(merges);
        t->merge_keys = malloc((nm + 1) * 2 * sizeof *t->merge_keys);
        t->merge_new = malloc((nm + 1) * sizeof *t->merge_new);
        if (!t->merge_keys || !t->merge_new || sy_strmap_init(&t->merges, nm + 16))
            return sy_fail(err, SY_ENOMEM, "out of memory");
        size_t pl = t->cont_prefix ? strlen(t->cont_prefix) : 0;
        sy_buf tmp = { 0 };
        json_array_foreach(merges, i, v) {
            const char *a, *b;
            size_t al, bl;
            const char *s = json_string_value(v);
            if (s) {
                const char *sp = strchr(s, ' ');
                if (!sp) { sy_buf_free(&tmp); BAD("%s: model.merges[%zu] \"%s\" is not \"a b\"", path, i, s); }
                a = s; al = (size_t)(sp - s); b = sp + 1; bl = strlen(b);
            } else {
                a = json_string_value(json_array_get(v, 0));
                b = json_string_value(json_array_get(v, 1));
                if (!a || !b) { sy_buf_free(&tmp); BAD("%s: model.merges[%zu] is not [a, b]", path, i); }
                al = strlen(a); bl = strlen(b);
            }
            uint32_t ia, ib, in;
            tmp.len = 0;
            size_t skip = pl && bl >= pl && !memcmp(b, t->cont_prefix, pl) ? pl : 0;
            if (sy_buf_append(&tmp, a, al) || sy_buf_append(&tmp, b + skip, bl - skip)) {
                sy_buf_free(&tmp);
                return sy_fail(err, SY_ENOMEM, "out of memory");
            }
            if (!sy_strmap_get(&t->full, a, al, &ia) || !sy_strmap_get(&t->full, b, bl, &ib) ||
                !sy_strmap_get(&t->full, tmp.data, tmp.len, &in)) {
                sy_buf_free(&tmp);
                BAD("%s: model.merges[%zu] (\"%.*s\" + \"%.*s\") uses a token that is not in the vocabulary",
                    path, i, (int)al, a, (int)bl, b);
            }
            uint32_t *key = t->merge_keys + 2 * t->nmerges;
            key[0] = ia;
            key[1] = ib;
            int r = sy_strmap_put(&t->merges, (const char *)key, 2 * sizeof *key, (uint32_t)t->nmerges, NULL);
            if (r < 0) { sy_buf_free(&tmp); return sy_fail(err, SY_ENOMEM, "out of memory"); }
            if (r == 1) t->merge_new[t->nmerges++] = (int32_t)in;
        }
        sy_buf_free(&tmp);
    }
    return 0;
}

static int read_added(tokenizer *t, json_t *added, sy_err *err)
{
    size_t i;
    json_t *v;
    t->added = calloc(json_array_size(added) + 1, sizeof *t->added);
    if (!t->added) return sy_fail(err, SY_ENOMEM, "out of memory");
    json_array_foreach(added, i, v) {
        const char *c = json_string_value(json_object_get(v, "content"));
        if (!c || !*c) continue;
        tok_added *a = &t->added[t->nadded];
        if (!(a->content = strdup(c))) return sy_fail(err, SY_ENOMEM, "out of memory");
        a->len = strlen(c);
        a->id = (int32_t)json_integer_value(json_object_get(v, "id"));
        a->lstrip = json_is_true(json_object_get(v, "lstrip"));
        a->rstrip = json_is_true(json_object_get(v, "rstrip"));
        a->special = json_is_true(json_object_get(v, "special"));
        t->added_first[(unsigned char)c[0]] = 1;
        t->nadded++;
    }
    return 0;
}

tokenizer *tok_load_json(const char *path, sy_err *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
    if (!json_is_object(j)) {
        sy_fail(err, j || sy_file_exists(path) ? SY_EPARSE : SY_ENOTFOUND, "%s:%d: %s", path, je.line,
                j ? "not a JSON object" : je.text);
        json_decref(j);
        return NULL;
    }
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) { json_decref(j); sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    json_t *added = json_object_get(j, "added_tokens");
    if (model_vocab(t, path, json_object_get(j, "model"), added, err) || read_added(t, added, err) ||
        add_norm(t, path, json_object_get(j, "normalizer"), err) ||
        add_pre(t, path, json_object_get(j, "pre_tokenizer"), err) ||
        set_post(t, path, json_object_get(j, "post_processor"), err)) {
        json_decref(j);
        tok_free(t);
        return NULL;
    }
    json_decref(j);
    /* the API's [CLS]/[SEP]/[PAD]: the template's first and last special, the pad token */
    for (int i = 0; i < t->nsingle; i++)
        if (!t->single[i].seq) {
            if (t->cls < 0 && i == 0) t->cls = t->single[i].ids[0];
            t->sep = t->single[i].ids[t->single[i].nids - 1];
        }
    static const char *const pads[] = { "[PAD]", "<pad>", "<|padding|>", NULL };
    for (const char *const *p = pads; *p && t->pad < 0; p++) t->pad = tok_id(t, *p);
    if (t->pad < 0) t->pad = 0;
    return t;
}

tokenizer *tok_load_dir(const char *dir, sy_err *err)
{
    char *tj = sy_path_join(dir, "tokenizer.json"), *vt = sy_path_join(dir, "vocab.txt"),
         *tc = sy_path_join(dir, "tokenizer_config.json");
    tokenizer *t = NULL;
    if (!tj || !vt || !tc) { sy_fail(err, SY_ENOMEM, "out of memory"); goto done; }
    if (sy_file_exists(tj)) {
        t = tok_load_json(tj, err);
    } else if (sy_file_exists(vt)) {
        tok_opts o = TOK_OPTS_UNCASED;
        json_t *c = sy_file_exists(tc) ? json_load_file(tc, 0, NULL) : NULL;
        if (sy_file_exists(tc) && !json_is_object(c)) {
            sy_fail(err, SY_EPARSE, "%s: not a JSON object", tc);
            json_decref(c);
            goto done;
        }
        json_t *v = json_object_get(c, "do_lower_case");
        if (json_is_boolean(v)) o.lowercase = json_is_true(v);
        v = json_object_get(c, "strip_accents");
        if (json_is_boolean(v)) o.strip_accents = json_is_true(v);
        v = json_object_get(c, "tokenize_chinese_chars");
        if (json_is_boolean(v)) o.chinese_chars = json_is_true(v);
        json_decref(c);
        t = tok_load(vt, &o, err);
    } else {
        char *sp = sy_path_join(dir, "sentencepiece.bpe.model"), *sp2 = sy_path_join(dir, "spiece.model");
        int has_sp = (sp && sy_file_exists(sp)) || (sp2 && sy_file_exists(sp2));
        free(sp);
        free(sp2);
        sy_fail(err, SY_ENOTFOUND, "%s: missing (and no vocab.txt); hint: %s", tj,
                has_sp ? "the folder has only a SentencePiece model; write tokenizer.json with python3 -c "
                         "\"from transformers import AutoTokenizer as T; T.from_pretrained('DIR').save_pretrained('DIR')\""
                       : "a model folder needs tokenizer.json or vocab.txt");
    }
done:
    free(tj); free(vt); free(tc);
    return t;
}
