/* vocab_learn: WordPiece vocabulary learning (BPE merges by pair frequency
 * with "##" continuation pieces, as tokenizers' WordPieceTrainer does).
 * Contract in vocab_learn.h.
 *
 * Merges are incremental: a hash of pair -> (count, words holding it) and a
 * max-heap of (count, pair) with lazy deletion, so each merge touches only
 * the words that hold the pair. */
#include "vocab_learn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util.h"

/* ---- an arena whose strings never move ---- */
typedef struct { char **blocks; size_t nb, used, cap; } arena;

static char *arena_dup(arena *a, const char *s, size_t n)
{
    if (a->nb == 0 || a->used + n + 1 > a->cap) {
        size_t cap = n + 1 > (1u << 20) ? n + 1 : (1u << 20);
        char **bl = realloc(a->blocks, (a->nb + 1) * sizeof *bl);
        if (!bl) return NULL;
        a->blocks = bl;
        if (!(bl[a->nb] = malloc(cap))) return NULL;
        a->nb++;
        a->used = 0;
        a->cap = cap;
    }
    char *p = a->blocks[a->nb - 1] + a->used;
    memcpy(p, s, n);
    p[n] = '\0';
    a->used += n + 1;
    return p;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->nb; i++) free(a->blocks[i]);
    free(a->blocks);
}

/* ---- pre-tokenisation as the BERT tokenizer does it ---- */
static int is_punct(utf8proc_int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_space(utf8proc_int32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

static int is_control(utf8proc_int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return c == 0 || c == 0xFFFD || k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_CN || k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

static int is_cjk(utf8proc_int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

typedef struct {
    arena ar;
    sy_strmap map;       /* word -> index */
    char **word;
    uint64_t *freq;
    size_t n, cap;
} wordcount;

static int wc_add(wordcount *w, const char *s, size_t n)
{
    if (n == 0 || n > 400) return 0;   /* the tokenizer makes [UNK] of words over 100 chars */
    uint32_t idx;
    if (sy_strmap_get(&w->map, s, n, &idx)) { w->freq[idx]++; return 0; }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        char **a = realloc(w->word, cap * sizeof *a);
        if (!a) return -1;
        w->word = a;
        uint64_t *f = realloc(w->freq, cap * sizeof *f);
        if (!f) return -1;
        w->freq = f;
        w->cap = cap;
    }
    char *k = arena_dup(&w->ar, s, n);
    if (!k || sy_strmap_put(&w->map, k, n, (uint32_t)w->n, NULL) < 0) return -1;
    w->word[w->n] = k;
    w->freq[w->n] = 1;
    w->n++;
    return 0;
}

static int split_text(wordcount *w, const char *text, sy_buf *cur)
{
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t nl = utf8proc_map((const utf8proc_uint8_t *)text, 0, &norm,
                                       UTF8PROC_NULLTERM | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK);
    if (nl < 0) return 0;   /* invalid UTF-8: skip the text */
    cur->len = 0;
    for (utf8proc_ssize_t i = 0; i < nl;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(norm + i, nl - i, &c);
        if (k <= 0) { i++; continue; }
        i += k;
        if (is_control(c)) continue;
        if (is_space(c) || is_punct(c) || is_cjk(c)) {
            if (cur->len && wc_add(w, cur->data, cur->len)) { free(norm); return -1; }
            cur->len = 0;
            if (!is_space(c)) {
                utf8proc_uint8_t b[4];
                utf8proc_ssize_t e = utf8proc_encode_char(c, b);
                if (wc_add(w, (const char *)b, (size_t)e)) { free(norm); return -1; }
            }
            continue;
        }
        utf8proc_uint8_t b[4];
        utf8proc_ssize_t e = utf8proc_encode_char(utf8proc_tolower(c), b);
        if (sy_buf_append(cur, b, (size_t)e)) { free(norm); return -1; }
    }
    free(norm);
    if (cur->len && wc_add(w, cur->data, cur->len)) return -1;
    cur->len = 0;
    return 0;
}

/* ---- symbols and pairs ---- */
typedef struct {
    char **str;          /* symbol strings (in the arena) */
    size_t n, cap;
    sy_strmap map;
} symtab;

static int sym_get(symtab *t, arena *ar, const char *s, size_t n, uint32_t *id)
{
    if (sy_strmap_get(&t->map, s, n, id)) return 0;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        char **a = realloc(t->str, cap * sizeof *a);
        if (!a) return -1;
        t->str = a;
        t->cap = cap;
    }
    char *k = arena_dup(ar, s, n);
    if (!k || sy_strmap_put(&t->map, k, n, (uint32_t)t->n, NULL) < 0) return -1;
    t->str[t->n] = k;
    *id = (uint32_t)t->n++;
    return 0;
}

typedef struct {
    uint64_t key;        /* a << 32 | b, UINT64_MAX empty */
    int64_t count;
    uint32_t *words, nw, cw;
} pairslot;

typedef struct { pairslot *s; size_t cap, n; } pairtab;

static uint64_t mixh(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

static pairslot *pair_find(pairtab *t, uint64_t key, int create)
{
    if (create && (t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1 << 16;
        pairslot *ns = malloc(cap * sizeof *ns);
        if (!ns) return NULL;
        for (size_t i = 0; i < cap; i++) ns[i].key = UINT64_MAX;
        for (size_t i = 0; i < t->cap; i++) {
            if (t->s[i].key == UINT64_MAX) continue;
            size_t j = mixh(t->s[i].key) & (cap - 1);
            while (ns[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
            ns[j] = t->s[i];
        }
        free(t->s);
        t->s = ns;
        t->cap = cap;
    }
    if (!t->cap) return NULL;
    size_t j = mixh(key) & (t->cap - 1);
    while (t->s[j].key != UINT64_MAX) {
        if (t->s[j].key == key) return &t->s[j];
        j = (j + 1) & (t->cap - 1);
    }
    if (!create) return NULL;
    t->s[j].key = key;
    t->s[j].count = 0;
    t->s[j].words = NULL;
    t->s[j].nw = t->s[j].cw = 0;
    t->n++;
    return &t->s[j];
}

typedef struct { int64_t count; uint64_t key; } hent;
typedef struct { hent *h; size_t n, cap; } heap;

static int hbetter(hent a, hent b) { return a.count > b.count || (a.count == b.count && a.key < b.key); }

static int heap_push(heap *h, hent e)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1 << 16;
        hent *p = realloc(h->h, cap * sizeof *p);
        if (!p) return -1;
        h->h = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->h[i] = e;
    while (i && hbetter(h->h[i], h->h[(i - 1) / 2])) {
        hent t = h->h[i]; h->h[i] = h->h[(i - 1) / 2]; h->h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

static hent heap_pop(heap *h)
{
    hent top = h->h[0];
    h->h[0] = h->h[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < h->n && hbetter(h->h[l], h->h[w])) w = l;
        if (r < h->n && hbetter(h->h[r], h->h[w])) w = r;
        if (w == i) break;
        hent t = h->h[i]; h->h[i] = h->h[w]; h->h[w] = t;
        i = w;
    }
    return top;
}

typedef struct {
    pairtab pt;
    heap hp;
} merger;

static int pair_add(merger *m, uint32_t a, uint32_t b, int64_t delta, uint32_t word)
{
    uint64_t key = (uint64_t)a << 32 | b;
    pairslot *s = pair_find(&m->pt, key, 1);
    if (!s) return -1;
    s->count += delta;
    if (delta > 0) {
        if (s->nw == 0 || s->words[s->nw - 1] != word) {
            if (s->nw == s->cw) {
                uint32_t cw = s->cw ? s->cw * 2 : 4;
                uint32_t *p = realloc(s->words, cw * sizeof *p);
                if (!p) return -1;
                s->words = p;
                s->cw = cw;
            }
            s->words[s->nw++] = word;
        }
    }
    if (s->count > 0 && heap_push(&m->hp, (hent){ s->count, key })) return -1;
    return 0;
}

typedef struct { const char *w; uint64_t f; } wf;
static int cmp_wf(const void *a, const void *b)
{
    const wf *x = a, *y = b;
    if (x->f != y->f) return x->f > y->f ? -1 : 1;
    return strcmp(x->w, y->w);
}
static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int vocab_learn(const char *const *texts, size_t n, const vocab_opts *opts, const char *out_path,
                size_t *size_out, sy_err *err)
{
    size_t target = opts && opts->vocab_size ? opts->vocab_size : 8000;
    size_t max_words = opts && opts->max_words ? opts->max_words : 200000;
    int64_t min_freq = opts && opts->min_freq ? (int64_t)opts->min_freq : 2;
    if (target < 100) return sy_fail(err, SY_EINVAL, "vocabulary size %zu: use at least 100", target);
    static const char *specials[] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
    int rc = -1;
    wordcount wc;
    memset(&wc, 0, sizeof wc);
    symtab st;
    memset(&st, 0, sizeof st);
    merger mg;
    memset(&mg, 0, sizeof mg);
    arena sar = { 0 };
    sy_buf cur = { 0 }, out = { 0 };
    wf *order = NULL;
    uint32_t **sym = NULL;
    uint32_t *len = NULL, *stamp = NULL;
    char **alpha = NULL;
    size_t nw = 0, vsize = 0;
    if (sy_strmap_init(&wc.map, 1 << 14) || sy_strmap_init(&st.map, 1 << 12)) goto oom;
    for (size_t i = 0; i < n; i++)
        if (texts[i] && split_text(&wc, texts[i], &cur)) goto oom;
    /* the most frequent words, in a fixed order */
    order = malloc((wc.n ? wc.n : 1) * sizeof *order);
    if (!order) goto oom;
    for (size_t i = 0; i < wc.n; i++) order[i] = (wf){ wc.word[i], wc.freq[i] };
    qsort(order, wc.n, sizeof *order, cmp_wf);
    nw = wc.n < max_words ? wc.n : max_words;
    sym = calloc(nw ? nw : 1, sizeof *sym);
    len = calloc(nw ? nw : 1, sizeof *len);
    stamp = calloc(nw ? nw : 1, sizeof *stamp);
    if (!sym || !len || !stamp) goto oom;
    /* alphabet: every character in both forms it occurs in, sorted */
    for (size_t i = 0; i < nw; i++) {
        const char *w = order[i].w;
        size_t wl = strlen(w), k = 0;
        sym[i] = malloc((wl ? wl : 1) * sizeof **sym);
        if (!sym[i]) goto oom;
        for (size_t p = 0; p < wl;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t cl = utf8proc_iterate((const utf8proc_uint8_t *)w + p, (utf8proc_ssize_t)(wl - p), &c);
            if (cl <= 0) cl = 1;
            char piece[8];
            size_t pl = 0;
            if (p) { piece[0] = '#'; piece[1] = '#'; pl = 2; }
            memcpy(piece + pl, w + p, (size_t)cl);
            pl += (size_t)cl;
            uint32_t id;
            if (sym_get(&st, &sar, piece, pl, &id)) goto oom;
            sym[i][k++] = id;
            p += (size_t)cl;
        }
        len[i] = (uint32_t)k;
    }
    /* the vocabulary so far: specials, then the sorted alphabet */
    size_t nalpha = st.n;
    alpha = malloc((nalpha ? nalpha : 1) * sizeof *alpha);
    if (!alpha) goto oom;
    memcpy(alpha, st.str, nalpha * sizeof *alpha);
    qsort(alpha, nalpha, sizeof *alpha, cmp_cstr);
    for (size_t i = 0; i < 5; i++)
        if (sy_buf_printf(&out, "%s\n", specials[i])) goto oom;
    vsize = 5;
    for (size_t i = 0; i < nalpha; i++) {
        int special = 0;
        for (size_t k = 0; k < 5; k++) special |= strcmp(alpha[i], specials[k]) == 0;
        if (special) continue;
        if (sy_buf_printf(&out, "%s\n", alpha[i])) goto oom;
        vsize++;
    }
    /* initial pair counts */
    for (size_t i = 0; i < nw; i++)
        for (uint32_t k = 0; k + 1 < len[i]; k++)
            if (pair_add(&mg, sym[i][k], sym[i][k + 1], (int64_t)order[i].f, (uint32_t)i)) goto oom;
    uint32_t iter = 0;
    char buf[1024];
    while (vsize < target && mg.hp.n) {
        hent e = heap_pop(&mg.hp);
        pairslot *s = pair_find(&mg.pt, e.key, 0);
        if (!s || s->count != e.count) continue;   /* stale entry */
        if (s->count < min_freq) break;
        uint32_t a = (uint32_t)(e.key >> 32), b = (uint32_t)e.key;
        const char *sa = st.str[a], *sb = st.str[b];
        if (sb[0] == '#' && sb[1] == '#') sb += 2;
        size_t la = strlen(sa), lb = strlen(sb);
        if (la + lb >= sizeof buf) { s->count = 0; continue; }
        memcpy(buf, sa, la);
        memcpy(buf + la, sb, lb);
        size_t before = st.n;
        uint32_t z;
        if (sym_get(&st, &sar, buf, la + lb, &z)) goto oom;
        if (st.n > before) {
            if (sy_buf_printf(&out, "%s\n", st.str[z])) goto oom;
            vsize++;
        }
        iter++;
        /* apply the merge in every word that holds the pair; the list may
         * grow while we walk it, so walk a copy */
        uint32_t nlist = s->nw;
        uint32_t *list = malloc((nlist ? nlist : 1) * sizeof *list);
        if (!list) goto oom;
        memcpy(list, s->words, nlist * sizeof *list);
        for (uint32_t li = 0; li < nlist; li++) {
            uint32_t w = list[li];
            if (stamp[w] == iter) continue;
            stamp[w] = iter;
            int64_t f = (int64_t)order[w].f;
            uint32_t *x = sym[w];
            for (uint32_t k = 0; k + 1 < len[w]; k++) {
                if (x[k] != a || x[k + 1] != b) continue;
                int bad = 0;
                if (k > 0) bad |= pair_add(&mg, x[k - 1], a, -f, w);
                bad |= pair_add(&mg, a, b, -f, w);
                if (k + 2 < len[w]) bad |= pair_add(&mg, b, x[k + 2], -f, w);
                x[k] = z;
                memmove(x + k + 1, x + k + 2, (len[w] - k - 2) * sizeof *x);
                len[w]--;
                if (k > 0) bad |= pair_add(&mg, x[k - 1], z, f, w);
                if (k + 1 < len[w]) bad |= pair_add(&mg, z, x[k + 1], f, w);
                if (bad) { free(list); goto oom; }
            }
        }
        free(list);
    }
    if (sy_write_file_atomic(out_path, out.data ? out.data : "", out.len, err)) goto out;
    if (size_out) *size_out = vsize;
    rc = 0;
    goto out;
oom:
    sy_fail(err, SY_ENOMEM, "out of memory while learning the vocabulary");
out:
    for (size_t i = 0; i < mg.pt.cap; i++)
        if (mg.pt.s[i].key != UINT64_MAX) free(mg.pt.s[i].words);
    free(mg.pt.s);
    free(mg.hp.h);
    for (size_t i = 0; sym && i < nw; i++) free(sym[i]);
    free(sym); free(len); free(stamp); free(order); free(alpha);
    sy_strmap_free(&wc.map);
    sy_strmap_free(&st.map);
    free(wc.word); free(wc.freq); free(st.str);
    arena_free(&wc.ar);
    arena_free(&sar);
    sy_buf_free(&cur);
    sy_buf_free(&out);
    return rc;
}
