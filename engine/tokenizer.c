/* tokenizer: BERT WordPiece matching HF tokenizers' BertNormalizer,
 * BertPreTokenizer and WordPiece models (see tokenizer.h). */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util.h"

#define TOK_MAX_WORD_CHARS 100

struct tokenizer {
    char *text;               /* the vocab file, lines NUL-terminated in place */
    size_t n;
    const char **tokens;      /* id -> token */
    sy_strmap full;           /* token -> id */
    sy_strmap cont;           /* "##" tokens by their text after "##" */
    int32_t cls, sep, unk, pad;
    int32_t special[5];       /* [PAD] [UNK] [CLS] [SEP] [MASK] ids, -1 if absent */
    int lowercase, strip_accents, chinese;
};

/* ---- character classes (as the Rust `tokenizers` crate) ---------------- */

static int is_ws(int32_t c)
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

static int is_punct(int32_t c)
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

/* ---- loading ------------------------------------------------------------- */

tokenizer *tok_load(const char *vocab_path, const tok_opts *opts, sy_err *err)
{
    tok_opts o = opts ? *opts : TOK_OPTS_UNCASED;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) { sy_fail(err, SY_ENOMEM, "%s: out of memory", vocab_path); return NULL; }
    size_t len;
    t->text = sy_read_file(vocab_path, &len, err);
    if (!t->text) { free(t); return NULL; }
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += t->text[i] == '\n';
    lines += len > 0 && t->text[len - 1] != '\n';
    t->tokens = calloc(lines + 1, sizeof *t->tokens);
    if (!t->tokens || sy_strmap_init(&t->full, lines) || sy_strmap_init(&t->cont, lines / 4 + 16)) {
        tok_free(t);
        sy_fail(err, SY_ENOMEM, "%s: out of memory", vocab_path);
        return NULL;
    }
    char *p = t->text, *end = t->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        *e = 0;
        /* HF trims trailing whitespace of each line */
        char *q = e;
        while (q > p && (q[-1] == '\r' || q[-1] == ' ' || q[-1] == '\t')) *--q = 0;
        int32_t id = (int32_t)t->n++;
        t->tokens[id] = p;
        if (sy_strmap_put(&t->full, p, (size_t)(q - p), (uint32_t)id, NULL) < 0 ||
            (q - p > 2 && p[0] == '#' && p[1] == '#' &&
             sy_strmap_put(&t->cont, p + 2, (size_t)(q - p - 2), (uint32_t)id, NULL) < 0)) {
            tok_free(t);
            sy_fail(err, SY_ENOMEM, "%s: out of memory", vocab_path);
            return NULL;
        }
        p = e + 1;
    }
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
    for (int i = 0; i < 5; i++) t->special[i] = tok_id(t, added[i]);
    t->lowercase = o.lowercase != 0;
    t->strip_accents = o.strip_accents < 0 ? t->lowercase : o.strip_accents != 0;
    t->chinese = o.chinese_chars != 0;
    return t;
}

void tok_free(tokenizer *t)
{
    if (!t) return;
    sy_strmap_free(&t->full);
    sy_strmap_free(&t->cont);
    free(t->tokens);
    free(t->text);
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

/* ---- encoding -------------------------------------------------------------- */

typedef struct {
    int32_t *ids;
    size_t cap, n, total;   /* written (<= cap), produced */
} emit_state;

static void emit(emit_state *s, int32_t id)
{
    if (s->n < s->cap) s->ids[s->n++] = id;
    s->total++;
}

/* Normalise code points into out (capacity checked by the caller: at most
 * 3 + 4 * UTF8PROC decomposition length per input character). */
static size_t push_cp(int32_t *out, size_t n, int32_t c, const tokenizer *t)
{
    if (t->strip_accents) {
        utf8proc_int32_t buf[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char(c, buf, 32, UTF8PROC_DECOMPOSE, &last);
        if (k < 0 || k > 32) { buf[0] = c; k = 1; }
        for (utf8proc_ssize_t i = 0; i < k; i++) {
            if (utf8proc_category(buf[i]) == UTF8PROC_CATEGORY_MN) continue;
            out[n++] = t->lowercase ? utf8proc_tolower(buf[i]) : buf[i];
        }
        return n;
    }
    if (t->lowercase && c == 0x130) { out[n++] = 'i'; out[n++] = 0x307; return n; }
    out[n++] = t->lowercase ? utf8proc_tolower(c) : c;
    return n;
}

static void wordpiece(const tokenizer *t, const int32_t *w, size_t nc, emit_state *s,
                      char *buf, size_t *off, int32_t *pieces)
{
    if (nc > TOK_MAX_WORD_CHARS) { emit(s, t->unk); return; }
    /* UTF-8 bytes of the word and the byte offset of each character */
    size_t nb = 0;
    for (size_t i = 0; i < nc; i++) {
        off[i] = nb;
        nb += (size_t)utf8proc_encode_char(w[i], (utf8proc_uint8_t *)buf + nb);
    }
    off[nc] = nb;
    size_t np = 0, start = 0;
    while (start < nc) {
        size_t end = nc;
        int found = 0;
        uint32_t id = 0;
        while (end > start) {
            const char *k = buf + off[start];
            size_t kl = off[end] - off[start];
            if (start == 0 ? sy_strmap_get(&t->full, k, kl, &id) : sy_strmap_get(&t->cont, k, kl, &id)) {
                found = 1;
                break;
            }
            end--;
        }
        if (!found) { emit(s, t->unk); return; }
        pieces[np++] = (int32_t)id;
        start = end;
    }
    for (size_t i = 0; i < np; i++) emit(s, pieces[i]);
}

size_t tok_encode(const tokenizer *t, const char *text, size_t len,
                  int32_t *ids, size_t max_len, size_t *full)
{
    if (max_len < 2) {
        if (full) *full = 0;
        return 0;
    }
    emit_state s = { ids, max_len - 1, 0, 0 };
    emit(&s, t->cls);
    /* worst case per input byte: 3 code points (CJK spacing) or a
     * decomposition (at most 18 for any Unicode character, we allow 32) */
    size_t cap = len * 3 + 64;
    int32_t *cps = malloc(cap * sizeof *cps);
    int32_t *word = NULL;
    char *buf = malloc((TOK_MAX_WORD_CHARS + 1) * 4 + 8);
    size_t *off = malloc((TOK_MAX_WORD_CHARS + 2) * sizeof *off);
    int32_t *pieces = malloc((TOK_MAX_WORD_CHARS + 1) * sizeof *pieces);
    if (!cps || !buf || !off || !pieces) goto oom;
    size_t n = 0, i = 0;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
                                              (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) { c = 0xFFFD; k = 1; }
        if (c == '[') {
            /* HF matches its special tokens in the raw text first */
            static const char *const added[5] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
            int hit = -1;
            for (int j = 0; j < 5 && hit < 0; j++) {
                size_t sl = strlen(added[j]);
                if (t->special[j] >= 0 && len - i >= sl && !memcmp(text + i, added[j], sl)) {
                    hit = j;
                    k = (utf8proc_ssize_t)sl;
                }
            }
            if (hit >= 0) {
                if (n + 40 > cap) {
                    size_t ncap = cap * 2;
                    int32_t *nc = realloc(cps, ncap * sizeof *nc);
                    if (!nc) break;
                    cps = nc;
                    cap = ncap;
                }
                cps[n++] = -1 - t->special[hit];
                i += (size_t)k;
                continue;
            }
        }
        i += (size_t)k;
        if (n + 40 > cap) {
            size_t ncap = cap * 2;
            int32_t *nc = realloc(cps, ncap * sizeof *nc);
            if (!nc) break;
            cps = nc;
            cap = ncap;
        }
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_ws(c)) { cps[n++] = ' '; continue; }
        if (t->chinese && is_chinese(c)) {
            cps[n++] = ' ';
            n = push_cp(cps, n, c, t);
            cps[n++] = ' ';
            continue;
        }
        n = push_cp(cps, n, c, t);
    }
    /* split on whitespace and punctuation, WordPiece each word */
    word = malloc((n + 1) * sizeof *word);
    if (!word) goto oom;
    size_t wn = 0;
    for (size_t j = 0; j <= n; j++) {
        int32_t c = j < n ? cps[j] : ' ';
        int sp = c < 0, ws = !sp && is_ws(c), pu = !sp && !ws && is_punct(c);
        if (sp || ws || pu) {
            if (wn) {
                if (wn > TOK_MAX_WORD_CHARS) emit(&s, t->unk);
                else wordpiece(t, word, wn, &s, buf, off, pieces);
                wn = 0;
            }
            if (pu) wordpiece(t, &c, 1, &s, buf, off, pieces);
            if (sp) emit(&s, -1 - c);
            if (!full && s.n >= s.cap) break;
        } else {
            word[wn++] = c;
        }
    }
    free(cps); free(word); free(buf); free(off); free(pieces);
    ids[s.n++] = t->sep;
    if (full) *full = s.total + 1;
    return s.n;
oom:
    /* out of memory: give the empty sequence rather than crash */
    free(cps); free(word); free(buf); free(off); free(pieces);
    ids[1] = t->sep;
    if (full) *full = 2;
    return 2;
}
