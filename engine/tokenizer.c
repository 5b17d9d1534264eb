/* tokenizer: the pipeline of Hugging Face `tokenizers` (added tokens,
 * normalizers, pre-tokenizers, model, post-processor template) and the
 * vocab.txt loader (see tokenizer.h).  Models live in tok_models.c, the
 * tokenizer.json reader in tok_json.c. */
#include "tok_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- character classes (as the Rust `tokenizers` crate) ---------------- */

int tok_is_ws(int32_t c)
{
    switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

static int is_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
           cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS;
}

static int is_chinese(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int tok_is_punct(int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

static int cat_major(int32_t c)    /* 'L', 'N', 'M', 'P', ... */
{
    const char *s = utf8proc_category_string(c);
    return s ? s[0] : '?';
}

int tok_cps_push(tok_cps *b, int32_t c)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        int32_t *v = realloc(b->v, nc * sizeof *v);
        if (!v) return -1;
        b->v = v;
        b->cap = nc;
    }
    b->v[b->n++] = c;
    return 0;
}

static int cps_reserve(tok_cps *b, size_t extra)
{
    if (b->n + extra <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->n + extra) nc *= 2;
    int32_t *v = realloc(b->v, nc * sizeof *v);
    if (!v) return -1;
    b->v = v;
    b->cap = nc;
    return 0;
}

/* ---- vocabulary -------------------------------------------------------------- */

int tok_vocab_init(tokenizer *t, size_t n)
{
    t->tokens = calloc(n + 1, sizeof *t->tokens);
    t->n = n;
    t->unk = t->cls = t->sep = t->pad = -1;
    for (int i = 0; i < 256; i++) t->byte_ids[i] = -1;
    if (!t->tokens || sy_strmap_init(&t->full, n + 16)) return -1;
    return 0;
}

int tok_set_token(tokenizer *t, int32_t id, const char *s, size_t len)
{
    if (id < 0 || (size_t)id >= t->n) return -1;
    t->tokens[id] = (char *)s;
    return sy_strmap_put(&t->full, s, len, (uint32_t)id, NULL) < 0 ? -1 : 0;
}

static int add_special(tokenizer *t, const char *s)
{
    int32_t id = tok_id(t, s);
    if (id < 0) return 0;
    tok_added *a = realloc(t->added, (t->nadded + 1) * sizeof *a);
    if (!a) return -1;
    t->added = a;
    tok_added *x = &t->added[t->nadded++];
    memset(x, 0, sizeof *x);
    if (!(x->content = strdup(s))) return -1;
    x->len = strlen(s);
    x->id = id;
    x->special = 1;
    t->added_first[(unsigned char)s[0]] = 1;
    return 0;
}

/* The BERT pipeline: BertNormalizer, BertPreTokenizer, [CLS] A [SEP] (B [SEP]). */
static int bert_pipeline(tokenizer *t, const tok_opts *o)
{
    t->norm = calloc(1, sizeof *t->norm);
    t->pre = calloc(1, sizeof *t->pre);
    if (!t->norm || !t->pre) return -1;
    t->nnorm = t->npre = 1;
    t->norm[0] = (tok_norm){ .kind = NORM_BERT, .clean = 1, .chinese = o->chinese_chars != 0,
                             .lowercase = o->lowercase != 0,
                             .strip_accents = o->strip_accents < 0 ? o->lowercase != 0 : o->strip_accents != 0 };
    t->pre[0] = (tok_pre){ .kind = PRE_BERT };
    tok_tpl_item c = { 0, 0, { t->cls }, 1 }, s = { 0, 0, { t->sep }, 1 }, s1 = { 0, 1, { t->sep }, 1 };
    t->single[0] = c; t->single[1] = (tok_tpl_item){ 1, 0, { 0 }, 0 }; t->single[2] = s;
    t->nsingle = 3;
    t->pair[0] = c; t->pair[1] = (tok_tpl_item){ 1, 0, { 0 }, 0 }; t->pair[2] = s;
    t->pair[3] = (tok_tpl_item){ 2, 1, { 0 }, 0 }; t->pair[4] = s1;
    t->npair = 5;
    return 0;
}

tokenizer *tok_load(const char *vocab_path, const tok_opts *opts, sy_err *err)
{
    tok_opts o = opts ? *opts : TOK_OPTS_UNCASED;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) { sy_fail(err, SY_ENOMEM, "%s: out of memory", vocab_path); return NULL; }
    size_t len;
    t->arena = sy_read_file(vocab_path, &len, err);
    if (!t->arena) { free(t); return NULL; }
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += t->arena[i] == '\n';
    lines += len > 0 && t->arena[len - 1] != '\n';
    t->model = TOK_WORDPIECE;
    t->max_word_chars = 100;
    if (tok_vocab_init(t, lines) || sy_strmap_init(&t->cont, lines / 4 + 16)) goto oom;
    char *p = t->arena, *end = t->arena + len;
    size_t n = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        *e = 0;
        /* HF trims trailing whitespace of each line */
        char *q = e;
        while (q > p && (q[-1] == '\r' || q[-1] == ' ' || q[-1] == '\t')) *--q = 0;
        int32_t id = (int32_t)n++;
        if (tok_set_token(t, id, p, (size_t)(q - p)) ||
            (q - p > 2 && p[0] == '#' && p[1] == '#' &&
             sy_strmap_put(&t->cont, p + 2, (size_t)(q - p - 2), (uint32_t)id, NULL) < 0))
            goto oom;
        p = e + 1;
    }
    t->n = n;
    static const char *const special[4] = { "[CLS]", "[SEP]", "[UNK]", "[PAD]" };
    int32_t *dst[4] = { &t->cls, &t->sep, &t->unk, &t->pad };
    for (int i = 0; i < 4; i++) {
        if ((*dst[i] = tok_id(t, special[i])) < 0) {
            sy_fail(err, SY_EFORMAT, "%s: the vocabulary has no %s token (%zu lines read); "
                    "hint: is this a BERT WordPiece vocab.txt?", vocab_path, special[i], t->n);
            tok_free(t);
            return NULL;
        }
    }
    static const char *const added[5] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
    for (int i = 0; i < 5; i++)
        if (add_special(t, added[i])) goto oom;
    if (bert_pipeline(t, &o)) goto oom;
    return t;
oom:
    tok_free(t);
    sy_fail(err, SY_ENOMEM, "%s: out of memory", vocab_path);
    return NULL;
}

void tok_free(tokenizer *t)
{
    if (!t) return;
    sy_strmap_free(&t->full);
    sy_strmap_free(&t->cont);
    sy_strmap_free(&t->merges);
    free(t->merge_keys);
    free(t->merge_new);
    free(t->cont_prefix);
    free(t->end_suffix);
    free(t->scores);
    for (size_t i = 0; i < t->nnorm; i++) {
        free(t->norm[i].pat);
        free(t->norm[i].rep);
        free(t->norm[i].blob);
    }
    free(t->norm);
    free(t->pre);
    for (size_t i = 0; i < t->nadded; i++) free(t->added[i].content);
    free(t->added);
    free(t->tokens);
    free(t->arena);
    free(t);
}

size_t tok_vocab_size(const tokenizer *t) { return t->n; }
const char *tok_token(const tokenizer *t, int32_t id)
{
    return id >= 0 && (size_t)id < t->n ? t->tokens[id] : NULL;
}
int32_t tok_id(const tokenizer *t, const char *token)
{
    uint32_t v;
    return sy_strmap_get(&t->full, token, strlen(token), &v) ? (int32_t)v : -1;
}
int32_t tok_cls(const tokenizer *t) { return t->cls; }
int32_t tok_sep(const tokenizer *t) { return t->sep; }
int32_t tok_unk(const tokenizer *t) { return t->unk; }
int32_t tok_pad(const tokenizer *t) { return t->pad; }

/* ---- normalizers ------------------------------------------------------------------ */

static int bert_push(tok_cps *out, int32_t c, const tok_norm *nm)
{
    if (nm->strip_accents) {
        utf8proc_int32_t buf[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char(c, buf, 32, UTF8PROC_DECOMPOSE, &last);
        if (k < 0 || k > 32) { buf[0] = c; k = 1; }
        for (utf8proc_ssize_t i = 0; i < k; i++) {
            if (utf8proc_category(buf[i]) == UTF8PROC_CATEGORY_MN) continue;
            if (tok_cps_push(out, nm->lowercase ? utf8proc_tolower(buf[i]) : buf[i])) return -1;
        }
        return 0;
    }
    if (nm->lowercase && c == 0x130) return tok_cps_push(out, 'i') || tok_cps_push(out, 0x307);
    return tok_cps_push(out, nm->lowercase ? utf8proc_tolower(c) : c);
}

static int unicode_form(const tok_cps *in, tok_cps *out, int kind)
{
    if (!in->n) return 0;
    /* encode, map, decode */
    size_t cap = in->n * 4 + 1;
    utf8proc_uint8_t *s = malloc(cap), *m = NULL;
    if (!s) return -1;
    size_t nb = 0;
    for (size_t i = 0; i < in->n; i++) nb += (size_t)utf8proc_encode_char(in->v[i], s + nb);
    s[nb] = 0;
    int flags = UTF8PROC_STABLE | (kind == NORM_NFD || kind == NORM_NFKD ? UTF8PROC_DECOMPOSE : UTF8PROC_COMPOSE) |
                (kind == NORM_NFKC || kind == NORM_NFKD ? UTF8PROC_COMPAT : 0);
    utf8proc_ssize_t r = utf8proc_map(s, (utf8proc_ssize_t)nb, &m, flags);
    free(s);
    if (r < 0) return -1;
    for (utf8proc_ssize_t i = 0; i < r;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(m + i, r - i, &c);
        if (k <= 0) { c = 0xFFFD; k = 1; }
        if (tok_cps_push(out, c)) { free(m); return -1; }
        i += k;
    }
    free(m);
    return 0;
}

static int precompiled(const tok_norm *nm, const tok_cps *in, tok_cps *out)
{
    /* tokenizers' Precompiled: per extended grapheme cluster, the whole cluster
     * when it is shorter than 6 bytes and mapped, else char by char */
    size_t i = 0;
    char buf[64];
    while (i < in->n) {
        size_t j = i + 1;
        utf8proc_int32_t state = 0;
        while (j < in->n && !utf8proc_grapheme_break_stateful(in->v[j - 1], in->v[j], &state)) j++;
        size_t nb = 0;
        int fits = 1;
        for (size_t k = i; k < j; k++) {
            if (nb + 4 >= sizeof buf) { fits = 0; break; }
            nb += (size_t)utf8proc_encode_char(in->v[k], (utf8proc_uint8_t *)buf + nb);
        }
        const char *rep = fits && nb < 6 ? tok_precompiled_lookup(nm, buf, nb) : NULL;
        if (!rep) {
            for (size_t k = i; k < j; k++) {
                char cb[4];
                size_t cl = (size_t)utf8proc_encode_char(in->v[k], (utf8proc_uint8_t *)cb);
                const char *r = tok_precompiled_lookup(nm, cb, cl);
                if (!r) { if (tok_cps_push(out, in->v[k])) return -1; continue; }
                for (size_t q = 0, rl = strlen(r); q < rl;) {
                    utf8proc_int32_t c;
                    utf8proc_ssize_t k2 = utf8proc_iterate((const utf8proc_uint8_t *)r + q, (utf8proc_ssize_t)(rl - q), &c);
                    if (k2 <= 0) break;
                    if (tok_cps_push(out, c)) return -1;
                    q += (size_t)k2;
                }
            }
        } else {
            for (size_t q = 0, rl = strlen(rep); q < rl;) {
                utf8proc_int32_t c;
                utf8proc_ssize_t k2 = utf8proc_iterate((const utf8proc_uint8_t *)rep + q, (utf8proc_ssize_t)(rl - q), &c);
                if (k2 <= 0) break;
                if (tok_cps_push(out, c)) return -1;
                q += (size_t)k2;
            }
        }
        i = j;
    }
    return 0;
}

static int normalize_step(const tok_norm *nm, const tok_cps *in, tok_cps *out)
{
    out->n = 0;
    switch (nm->kind) {
    case NORM_BERT:
        if (cps_reserve(out, in->n + 8)) return -1;
        for (size_t i = 0; i < in->n; i++) {
            int32_t c = in->v[i];
            if (nm->clean) {
                if (c == 0 || c == 0xFFFD || is_control(c)) continue;
                if (tok_is_ws(c)) { if (tok_cps_push(out, ' ')) return -1; continue; }
            }
            if (nm->chinese && is_chinese(c)) {
                if (tok_cps_push(out, ' ') || bert_push(out, c, nm) || tok_cps_push(out, ' ')) return -1;
                continue;
            }
            if (bert_push(out, c, nm)) return -1;
        }
        return 0;
    case NORM_LOWER:
        for (size_t i = 0; i < in->n; i++) {
            int32_t c = in->v[i];
            if (c == 0x130 ? tok_cps_push(out, 'i') || tok_cps_push(out, 0x307)
                           : tok_cps_push(out, utf8proc_tolower(c))) return -1;
        }
        return 0;
    case NORM_STRIP_ACCENTS:
        for (size_t i = 0; i < in->n; i++)
            if (utf8proc_category(in->v[i]) != UTF8PROC_CATEGORY_MN && tok_cps_push(out, in->v[i])) return -1;
        return 0;
    case NORM_NFD: case NORM_NFKD: case NORM_NFC: case NORM_NFKC:
        return unicode_form(in, out, nm->kind);
    case NORM_REPLACE:
        for (size_t i = 0; i < in->n;) {
            size_t m = 0;
            if (nm->min_repeat) {
                while (i + m < in->n && in->v[i + m] == nm->pat[0]) m++;
                if (m < (size_t)nm->min_repeat) m = 0;
            } else if (nm->npat && i + nm->npat <= in->n &&
                       !memcmp(in->v + i, nm->pat, nm->npat * sizeof *nm->pat)) {
                m = nm->npat;
            }
            if (m) {
                for (size_t k = 0; k < nm->nrep; k++) if (tok_cps_push(out, nm->rep[k])) return -1;
                i += m;
            } else {
                if (tok_cps_push(out, in->v[i])) return -1;
                i++;
            }
        }
        return 0;
    case NORM_STRIP: {
        size_t a = 0, b = in->n;
        if (nm->left) while (a < b && tok_is_ws(in->v[a])) a++;
        if (nm->right) while (b > a && tok_is_ws(in->v[b - 1])) b--;
        for (size_t i = a; i < b; i++) if (tok_cps_push(out, in->v[i])) return -1;
        return 0;
    }
    case NORM_PREPEND:
        if (in->n) for (size_t k = 0; k < nm->nrep; k++) if (tok_cps_push(out, nm->rep[k])) return -1;
        for (size_t i = 0; i < in->n; i++) if (tok_cps_push(out, in->v[i])) return -1;
        return 0;
    case NORM_PRECOMPILED:
        return precompiled(nm, in, out);
    }
    return -1;
}

/* ---- pre-tokenizers ------------------------------------------------------------------ */

typedef struct {
    tok_cps cps;          /* all words' code points */
    size_t *start, *len, *orig;   /* per word: into cps; offset in the normalized segment */
    size_t n, cap;
} words;

static int words_add(words *w, size_t start, size_t len, size_t orig)
{
    if (!len) return 0;
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 32;
        size_t *a = realloc(w->start, nc * sizeof *a), *b = a ? realloc(w->len, nc * sizeof *b) : NULL,
               *c = b ? realloc(w->orig, nc * sizeof *c) : NULL;
        if (a) w->start = a;
        if (b) w->len = b;
        if (!c) return -1;
        w->orig = c;
        w->cap = nc;
    }
    w->start[w->n] = start;
    w->len[w->n] = len;
    w->orig[w->n] = orig;
    w->n++;
    return 0;
}

static int is_word_char(int32_t c)   /* regex \w */
{
    int m = cat_major(c);
    return m == 'L' || m == 'M' || m == 'N' || utf8proc_category(c) == UTF8PROC_CATEGORY_PC ||
           c == 0x200C || c == 0x200D;
}

/* GPT-2's 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t gpt2_piece(const int32_t *c, size_t n)
{
    if (c[0] == '\'' && n > 1) {
        int32_t a = c[1], b = n > 2 ? c[2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    size_t i = 0;
    if (c[0] == ' ' && n > 1 && !tok_is_ws(c[1])) i = 1;
    if (i < n && !tok_is_ws(c[i])) {
        int m = cat_major(c[i]);
        int cls = m == 'L' ? 1 : m == 'N' ? 2 : 3;
        size_t j = i;
        while (j < n && !tok_is_ws(c[j])) {
            int mj = cat_major(c[j]);
            int cj = mj == 'L' ? 1 : mj == 'N' ? 2 : 3;
            if (cj != cls) break;
            j++;
        }
        return j;
    }
    size_t k = 0;
    while (k < n && tok_is_ws(c[k])) k++;
    if (k == n || k == 1) return k;
    return k - 1;
}

static int pre_step(const tokenizer *t, const tok_pre *p, const words *in, words *out, int first_seg)
{
    out->n = 0;
    out->cps.n = 0;
    for (size_t w = 0; w < in->n; w++) {
        const int32_t *c = in->cps.v + in->start[w];
        size_t n = in->len[w], o = in->orig[w];
        size_t base = out->cps.n;
        switch (p->kind) {
        case PRE_BERT: case PRE_WSSPLIT: case PRE_PUNCT: case PRE_WHITESPACE: case PRE_DIGITS: {
            if (cps_reserve(&out->cps, n)) return -1;
            memcpy(out->cps.v + base, c, n * sizeof *c);
            out->cps.n += n;
            size_t s = 0;
            for (size_t i = 0; i <= n; i++) {
                int32_t ch = i < n ? c[i] : ' ';
                int ws = i == n || (p->kind != PRE_PUNCT && p->kind != PRE_DIGITS && tok_is_ws(ch));
                int iso = 0;
                if (!ws) {
                    if (p->kind == PRE_BERT || p->kind == PRE_PUNCT) iso = tok_is_punct(ch);
                    else if (p->kind == PRE_DIGITS) iso = cat_major(ch) == 'N' && utf8proc_category(ch) == UTF8PROC_CATEGORY_ND;
                    else if (p->kind == PRE_WHITESPACE)
                        iso = s < i && is_word_char(ch) != is_word_char(c[s]);   /* class change */
                }
                if (p->kind == PRE_DIGITS && !p->individual && iso) {
                    /* a run of digits is one piece */
                    if (s < i) { if (words_add(out, base + s, i - s, o + s)) return -1; }
                    size_t j = i;
                    while (j < n && utf8proc_category(c[j]) == UTF8PROC_CATEGORY_ND) j++;
                    if (words_add(out, base + i, j - i, o + i)) return -1;
                    s = j;
                    i = j - 1;
                    continue;
                }
                if (p->kind == PRE_WHITESPACE) {
                    if (ws || iso) {
                        if (words_add(out, base + s, i - s, o + s)) return -1;
                        s = ws ? i + 1 : i;
                    }
                    continue;
                }
                if (ws || iso) {
                    if (words_add(out, base + s, i - s, o + s)) return -1;
                    if (iso && words_add(out, base + i, 1, o + i)) return -1;
                    s = i + 1;
                }
            }
            break;
        }
        case PRE_METASPACE: {
            int pre = n && c[0] != p->replacement && c[0] != ' ' &&
                      (p->prepend == 1 || (p->prepend == 2 && first_seg && o == 0));
            if (n && p->prepend && c[0] == ' ') pre = 0;
            if (cps_reserve(&out->cps, n + 1)) return -1;
            if (pre) out->cps.v[out->cps.n++] = p->replacement;
            for (size_t i = 0; i < n; i++) out->cps.v[out->cps.n++] = c[i] == ' ' ? p->replacement : c[i];
            size_t m = out->cps.n - base;
            if (!p->split) { if (words_add(out, base, m, o)) return -1; break; }
            size_t s = 0;
            for (size_t i = 1; i <= m; i++)
                if (i == m || out->cps.v[base + i] == p->replacement) {
                    if (words_add(out, base + s, i - s, o + s)) return -1;
                    s = i;
                }
            break;
        }
        case PRE_BYTELEVEL: {
            tok_cps tmp = { 0 };
            const int32_t *src = c;
            size_t sn = n;
            if (p->add_prefix_space && n && c[0] != ' ') {
                if (tok_cps_push(&tmp, ' ')) return -1;
                for (size_t i = 0; i < n; i++) if (tok_cps_push(&tmp, c[i])) { free(tmp.v); return -1; }
                src = tmp.v;
                sn = tmp.n;
            }
            for (size_t i = 0; i < sn;) {
                size_t k = p->use_regex ? gpt2_piece(src + i, sn - i) : sn - i;
                size_t wb = out->cps.n;
                for (size_t j = i; j < i + k; j++) {
                    unsigned char b[4];
                    int nb = (int)utf8proc_encode_char(src[j], b);
                    for (int q = 0; q < nb; q++)
                        if (tok_cps_push(&out->cps, tok_byte_char(b[q]))) { free(tmp.v); return -1; }
                }
                if (words_add(out, wb, out->cps.n - wb, o + i)) { free(tmp.v); return -1; }
                i += k;
            }
            free(tmp.v);
            break;
        }
        }
    }
    (void)t;
    return 0;
}

/* ---- encoding ----------------------------------------------------------------------- */

typedef struct {
    tok_cps a, b;
    words w1, w2;
} scratch;

static void scratch_free(scratch *s)
{
    free(s->a.v); free(s->b.v);
    free(s->w1.cps.v); free(s->w1.start); free(s->w1.len); free(s->w1.orig);
    free(s->w2.cps.v); free(s->w2.start); free(s->w2.len); free(s->w2.orig);
}

static int segment(const tokenizer *t, scratch *s, const char *text, size_t len, int first, tok_cps *out,
                   size_t limit)
{
    s->a.n = 0;
    if (cps_reserve(&s->a, len + 1)) return -1;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) { c = 0xFFFD; k = 1; }
        s->a.v[s->a.n++] = c;
        i += (size_t)k;
    }
    tok_cps *cur = &s->a, *nxt = &s->b;
    for (size_t i = 0; i < t->nnorm; i++) {
        if (normalize_step(&t->norm[i], cur, nxt)) return -1;
        tok_cps *x = cur; cur = nxt; nxt = x;
    }
    if (!cur->n) return 0;
    words *wc = &s->w1, *wn = &s->w2;
    wc->n = 0;
    wc->cps.n = 0;
    if (cps_reserve(&wc->cps, cur->n)) return -1;
    memcpy(wc->cps.v, cur->v, cur->n * sizeof *cur->v);
    wc->cps.n = cur->n;
    if (words_add(wc, 0, cur->n, 0)) return -1;
    for (size_t i = 0; i < t->npre; i++) {
        if (pre_step(t, &t->pre[i], wc, wn, first)) return -1;
        words *x = wc; wc = wn; wn = x;
    }
    for (size_t w = 0; w < wc->n; w++) {
        const int32_t *c = wc->cps.v + wc->start[w];
        int rc = t->model == TOK_WORDPIECE ? tok_wordpiece(t, c, wc->len[w], out)
               : t->model == TOK_BPE ? tok_bpe(t, c, wc->len[w], out)
               : tok_unigram(t, c, wc->len[w], out);
        if (rc) return -1;
        if (out->n >= limit) break;
    }
    return 0;
}

static const tok_added *match_added(const tokenizer *t, const char *p, size_t n)
{
    const tok_added *best = NULL;
    for (size_t i = 0; i < t->nadded; i++) {
        const tok_added *a = &t->added[i];
        if (a->len <= n && (!best || a->len > best->len) && !memcmp(p, a->content, a->len)) best = a;
    }
    return best;
}

static int is_space_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Tokenize one sequence (no template) into out. */
static int encode_seq(const tokenizer *t, scratch *s, const char *text, size_t len, tok_cps *out,
                      size_t limit)
{
    size_t seg = 0, i = 0;
    int first = 1;
    while (1) {
        const tok_added *m = NULL;
        while (i < len && !(t->added_first[(unsigned char)text[i]] && (m = match_added(t, text + i, len - i)))) i++;
        size_t end = i;
        if (m && m->lstrip) while (end > seg && is_space_byte(text[end - 1])) end--;
        if (end > seg && segment(t, s, text + seg, end - seg, first, out, limit)) return -1;
        first = 0;
        if (!m || out->n >= limit) break;
        if (tok_cps_push(out, m->id)) return -1;
        i += m->len;
        if (m->rstrip) while (i < len && is_space_byte(text[i])) i++;
        seg = i;
    }
    return 0;
}

static size_t tpl_specials(const tok_tpl_item *it, int n)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) if (!it[i].seq) k += (size_t)it[i].nids;
    return k;
}

static size_t assemble(const tok_tpl_item *it, int nit, const tok_cps *a, size_t na, const tok_cps *b,
                       size_t nb, int32_t *ids, int32_t *types)
{
    size_t k = 0;
    for (int i = 0; i < nit; i++) {
        if (!it[i].seq) {
            for (int j = 0; j < it[i].nids; j++) { if (types) types[k] = it[i].type; ids[k++] = it[i].ids[j]; }
        } else {
            const tok_cps *src = it[i].seq == 1 ? a : b;
            size_t m = it[i].seq == 1 ? na : nb;
            for (size_t j = 0; j < m; j++) { if (types) types[k] = it[i].type; ids[k++] = src->v[j]; }
        }
    }
    return k;
}

size_t tok_encode(const tokenizer *t, const char *text, size_t len,
                  int32_t *ids, size_t max_len, size_t *full)
{
    size_t nsp = tpl_specials(t->single, t->nsingle);
    if (full) *full = nsp;
    if (max_len < nsp || max_len < 2) return 0;
    scratch s = { 0 };
    tok_cps seq = { 0 };
    /* without `full` the words past max_len need not be tokenized */
    if (encode_seq(t, &s, text, len, &seq, full ? (size_t)-1 : max_len - nsp + 1)) seq.n = 0;   /* out of memory: the empty sequence */
    size_t keep = seq.n < max_len - nsp ? seq.n : max_len - nsp;
    size_t n = assemble(t->single, t->nsingle, &seq, keep, NULL, 0, ids, NULL);
    if (full) *full = seq.n + nsp;
    scratch_free(&s);
    free(seq.v);
    return n;
}

size_t tok_encode_pair(const tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                       int32_t *ids, int32_t *types, size_t max_len)
{
    size_t nsp = tpl_specials(t->pair, t->npair);
    if (max_len < nsp + 2) return 0;
    scratch s = { 0 };
    tok_cps sa = { 0 }, sb = { 0 };
    /* tokenizers' longest_first truncation only needs lengths up to target */
    size_t target = max_len - nsp;
    if (encode_seq(t, &s, a, alen, &sa, target + 1)) sa.n = 0;
    if (encode_seq(t, &s, b, blen, &sb, target + 1)) sb.n = 0;
    size_t n1 = sa.n, n2 = sb.n;
    if (n1 + n2 > target) {
        int swap = n1 > n2;
        if (swap) { size_t x = n1; n1 = n2; n2 = x; }
        if (n1 > target) n2 = n1;
        else n2 = n1 > target - n1 ? n1 : target - n1;
        if (n1 + n2 > target) { n1 = target / 2; n2 = n1 + target % 2; }
        if (swap) { size_t x = n1; n1 = n2; n2 = x; }
        if (n1 > sa.n) n1 = sa.n;
        if (n2 > sb.n) n2 = sb.n;
    }
    size_t n = assemble(t->pair, t->npair, &sa, n1, &sb, n2, ids, types);
    scratch_free(&s);
    free(sa.v);
    free(sb.v);
    return n;
}

size_t tok_special_count(const tokenizer *t, int pair)
{
    return pair ? tpl_specials(t->pair, t->npair) : tpl_specials(t->single, t->nsingle);
}
