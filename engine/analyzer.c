/* analyzer: UAX#29-style word splitting, possessive removal, lower-casing,
 * stop words and Porter stemming (see analyzer.h). */
#include "analyzer.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define AN_MAX_TOKEN 255   /* Lucene StandardTokenizer's default max token length (chars) */

/* word-break classes we distinguish */
enum {
    WB_OTHER, WB_ALETTER, WB_NUMERIC, WB_KATAKANA, WB_EXTENDNUMLET,
    WB_MIDLETTER, WB_MIDNUM, WB_MIDNUMLET, WB_EXTEND, WB_IDEO, WB_EMOJI, WB_ZWJ, WB_RI, WB_EMOD, WB_HEBREW, WB_SA, WB_SA_MARK,
    WB_QUNIT   /* pseudo-class: a finished Hebrew HL' unit */
};

#define AHLETTER(c) ((c) == WB_ALETTER || (c) == WB_HEBREW)

/* stem cache: lower-cased token -> final term, so repeated words skip the
 * stemmer (most of the analysis cost); cleared when full */
#define CACHE_SLOTS_DEFAULT (1u << 16)
#define STOP_MARK 0xFFFF
#define CACHE_MAX_SLOTS (1u << 24)
typedef struct {
    uint64_t hash;   /* 0: empty */
    uint32_t off;    /* key bytes then term bytes in the arena */
    uint16_t klen, tlen;
    uint32_t user;   /* a slot for the caller (an_analyze_slots), UINT32_MAX when new */
    char key[12];    /* short keys also inline: a hit then touches one cache line */
} cache_ent;

struct analyzer {
    struct sb_stemmer *stem;
    char *buf;       /* lower-cased token */
    char *tbuf;      /* its stem */
    size_t cap;
    cache_ent *cache;
    size_t cache_n, cache_slots;
    int grows;       /* grow instead of starting over when full */
    char *arena;
    size_t arena_len, arena_cap;
};

static const char *const stopwords[] = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
    "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
    "there", "these", "they", "this", "to", "was", "will", "with",
};

int an_is_stopword(const char *w, size_t len)
{
    if (len < 1 || len > 5) return 0;
    for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
        if (stopwords[i][0] == w[0] && strlen(stopwords[i]) == len && memcmp(stopwords[i], w, len) == 0) return 1;
    return 0;
}

static void init_ascii_class(void);

analyzer *an_new(sy_err *err) { return an_new_cache(0, err); }

analyzer *an_new_cache(size_t words, sy_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_ascii_class);
    analyzer *a = calloc(1, sizeof *a);
    if (!a) { sy_fail(err, SY_ENOMEM, "analyzer: out of memory"); return NULL; }
    a->stem = sb_stemmer_new("porter", "UTF_8");
    if (!a->stem) {
        free(a);
        sy_fail(err, SY_EUNSUP, "libstemmer has no \"porter\" algorithm; install libstemmer0d");
        return NULL;
    }
    a->cap = 4 * AN_MAX_TOKEN + 8;
    a->buf = malloc(a->cap);
    a->tbuf = malloc(a->cap);
    a->cache_slots = CACHE_SLOTS_DEFAULT;
    a->grows = words > 0;
    while (a->cache_slots < 2 * words && a->cache_slots < CACHE_MAX_SLOTS) a->cache_slots *= 2;
    a->cache = calloc(a->cache_slots, sizeof *a->cache);
    a->arena_cap = a->cache_slots * 16;
    a->arena = malloc(a->arena_cap);
    if (!a->buf || !a->tbuf || !a->cache || !a->arena) { an_free(a); sy_fail(err, SY_ENOMEM, "analyzer: out of memory"); return NULL; }
    return a;
}

void an_free(analyzer *a)
{
    if (!a) return;
    if (a->stem) sb_stemmer_delete(a->stem);
    free(a->buf);
    free(a->tbuf);
    free(a->cache);
    free(a->arena);
    free(a);
}

static signed char ascii_class[128];

static void init_ascii_class(void)
{
    for (int c = 0; c < 128; c++) {
        int k = WB_OTHER;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k = WB_ALETTER;
        else if (c >= '0' && c <= '9') k = WB_NUMERIC;
        else if (c == '_') k = WB_EXTENDNUMLET;
        else if (c == ':') k = WB_MIDLETTER;
        else if (c == '.' || c == '\'') k = WB_MIDNUMLET;
        else if (c == ',' || c == ';') k = WB_MIDNUM;
        ascii_class[c] = (signed char)k;
    }
}

static int wb_class_slow(int32_t c)
{
    if (c < 128) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return WB_ALETTER;
        if (c >= '0' && c <= '9') return WB_NUMERIC;
        switch (c) {
        case '_': return WB_EXTENDNUMLET;
        case ':': return WB_MIDLETTER;
        case '.': case '\'': return WB_MIDNUMLET;
        case ',': case ';': return WB_MIDNUM;
        default: return WB_OTHER;
        }
    }
    switch (c) {
    case 0x00B7: case 0x0387: case 0x05F4: case 0x2027: case 0xFE13: case 0xFE55: case 0xFF1A:
        return WB_MIDLETTER;
    case 0x2018: case 0x2019: case 0x2024: case 0xFE52: case 0xFF07: case 0xFF0E:
        return WB_MIDNUMLET;
    case 0x037E: case 0x0589: case 0x060C: case 0x060D: case 0x066C: case 0x07F8:
    case 0x2044: case 0xFE10: case 0xFE14: case 0xFE50: case 0xFE54: case 0xFF0C: case 0xFF1B:
        return WB_MIDNUM;
    default: break;
    }
    if ((c >= 0x3040 && c <= 0x309F) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
        (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F) || (c >= 0x2E80 && c <= 0x2FDF) ||
        c == 0x3005 || c == 0x3007 || (c >= 0x3021 && c <= 0x3029) || (c >= 0x3038 && c <= 0x303B))
        return WB_IDEO;   /* Han (and Hiragana): one token per character */
    if (c == 0x30FB) return WB_OTHER;   /* katakana middle dot */
    if ((c >= 0x30A0 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0xFF66 && c <= 0xFF9F))
        return WB_KATAKANA;
    if (c >= 0x1F3FB && c <= 0x1F3FF) return WB_EMOD;     /* emoji skin-tone modifiers */
    if (c == 0x200D) return WB_ZWJ;
    if (c == 0x200B) return WB_OTHER;                      /* zero width space is no Format */
    if (c >= 0x1F1E6 && c <= 0x1F1FF) return WB_RI;
    if (utf8proc_get_property(c)->boundclass == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC) return WB_EMOJI;
    int cat = utf8proc_category(c);
    int letter = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
                 cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO;
    int mark = cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
    /* Southeast-Asian scripts (Line_Break = Complex_Context): letters and marks run together */
    if ((letter || mark) &&
        ((c >= 0x0E00 && c <= 0x0EFF) || (c >= 0x1000 && c <= 0x109F) || (c >= 0x1780 && c <= 0x17FF) ||
         (c >= 0x1950 && c <= 0x19DF) || (c >= 0x1A20 && c <= 0x1AAF) || (c >= 0xA9E0 && c <= 0xA9FF) ||
         (c >= 0xAA60 && c <= 0xAADF)))
        return letter ? WB_SA : WB_SA_MARK;
    if (cat == UTF8PROC_CATEGORY_LO && ((c >= 0x05D0 && c <= 0x05F2) || (c >= 0xFB1D && c <= 0xFB4F)))
        return WB_HEBREW;
    switch (cat) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
        return WB_ALETTER;
    case UTF8PROC_CATEGORY_ND: return WB_NUMERIC;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF: return WB_EXTEND;
    case UTF8PROC_CATEGORY_PC: return WB_EXTENDNUMLET;
    default: return WB_OTHER;
    }
}

static inline int wb_class(int32_t c) { return c < 128 ? ascii_class[c] : wb_class_slow(c); }

/* Decode one code point at p (n bytes left); invalid bytes read as U+FFFD, 1 byte. */
static inline size_t next_cp(const uint8_t *p, size_t n, int32_t *cp)
{
    if (p[0] < 0x80) { *cp = p[0]; return 1; }
    utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)(n > 4 ? 4 : n), cp);
    if (k <= 0) { *cp = 0xFFFD; return 1; }
    return (size_t)k;
}

/* Skip Extend/Format code points from i; returns the new position. */
static size_t skip_extend(const uint8_t *s, size_t n, size_t i)
{
    while (i < n && s[i] >= 0x80) {   /* no ASCII character is Extend/Format */
        int32_t cp;
        size_t k = next_cp(s + i, n - i, &cp);
        int cl = wb_class(cp);
        if (cl != WB_EXTEND && cl != WB_ZWJ && cl != WB_SA_MARK) break;
        i += k;
    }
    return i;
}

/* Emoji_Modifier_Base (emoji-data): only these take a skin-tone modifier */
static int emoji_base(int32_t c)
{
    static const int32_t r[][2] = {
        {0x261D, 0x261D}, {0x26F9, 0x26F9}, {0x270A, 0x270D}, {0x1F385, 0x1F385}, {0x1F3C2, 0x1F3C4},
        {0x1F3C7, 0x1F3C7}, {0x1F3CA, 0x1F3CC}, {0x1F442, 0x1F443}, {0x1F446, 0x1F450}, {0x1F466, 0x1F478},
        {0x1F47C, 0x1F47C}, {0x1F481, 0x1F483}, {0x1F485, 0x1F487}, {0x1F48F, 0x1F48F}, {0x1F491, 0x1F491},
        {0x1F4AA, 0x1F4AA}, {0x1F574, 0x1F575}, {0x1F57A, 0x1F57A}, {0x1F590, 0x1F590}, {0x1F595, 0x1F596},
        {0x1F645, 0x1F647}, {0x1F64B, 0x1F64F}, {0x1F6A3, 0x1F6A3}, {0x1F6B4, 0x1F6B6}, {0x1F6C0, 0x1F6C0},
        {0x1F6CC, 0x1F6CC}, {0x1F90C, 0x1F90C}, {0x1F90F, 0x1F90F}, {0x1F918, 0x1F91F}, {0x1F926, 0x1F926},
        {0x1F930, 0x1F939}, {0x1F93C, 0x1F93E}, {0x1F977, 0x1F977}, {0x1F9B5, 0x1F9B6}, {0x1F9B8, 0x1F9B9},
        {0x1F9BB, 0x1F9BB}, {0x1F9CD, 0x1F9CF}, {0x1F9D1, 0x1F9DD}, {0x1FAC3, 0x1FAC5}, {0x1FAF0, 0x1FAF8},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (c >= r[i][0] && c <= r[i][1]) return 1;
    return 0;
}

/* After an emoji at [at, i), as Lucene's emoji grammar takes it (found by
 * comparing with Lucene 8.7): a skin-tone modifier when the emoji is a
 * modifier base, then a keycap U+20E3, then Extend/Format characters (a
 * modifier standing alone takes no U+FE0F); ZWJ sequences are joined by the
 * caller. */
static size_t skip_emod(const uint8_t *s, size_t n, size_t at, size_t i)
{
    int32_t base, cp;
    next_cp(s + at, n - at, &base);
    int lone_mod = base >= 0x1F3FB && base <= 0x1F3FF;
    if (i < n && s[i] >= 0x80) {
        size_t k = next_cp(s + i, n - i, &cp);
        if (emoji_base(base) && wb_class(cp) == WB_EMOD) {
            i += k;
            lone_mod = 1;          /* after a modifier no U+FE0F either */
        } else if (cp == 0xFE0F && !lone_mod) {
            i += k;                /* presentation selector: exactly one, then maybe a keycap */
            if (i + 3 <= n && s[i] == 0xE2 && s[i + 1] == 0x83 && s[i + 2] == 0xA3) i += 3;
            return i;
        }
    }
    while (i < n && s[i] >= 0x80) {
        size_t k = next_cp(s + i, n - i, &cp);
        int cl = wb_class(cp);
        if (cp == 0x20E3 || ((cl == WB_EXTEND || cl == WB_SA_MARK) && !(lone_mod && cp == 0xFE0F))) i += k;
        else break;
    }
    return i;
}

static int joins(int prev, int next)
{
    switch (next) {
    case WB_ALETTER: case WB_HEBREW: case WB_NUMERIC:
        return AHLETTER(prev) || prev == WB_NUMERIC || prev == WB_EXTENDNUMLET;
    case WB_KATAKANA: return prev == WB_KATAKANA || prev == WB_EXTENDNUMLET;
    case WB_EXTENDNUMLET:
        return AHLETTER(prev) || prev == WB_NUMERIC || prev == WB_KATAKANA || prev == WB_EXTENDNUMLET;
    default: return 0;
    }
}

/* ---- Lucene's PorterStemmer (the ANSI C port) departs from the published
 * algorithm that libstemmer's "porter" follows in two Step-2 rules:
 * "bli" -> "ble" (instead of "abli" -> "able") and "logi" -> "log".  Both
 * leave libstemmer's output ending in "bli" / "logi", so we finish those
 * words here the way Lucene does (Step 2 rule, then Steps 4 and 5). */
static int p_cons(const char *w, int i)
{
    switch (w[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u': return 0;
    case 'y': return i == 0 ? 1 : !p_cons(w, i - 1);
    default: return 1;
    }
}

/* Porter's measure m of w[0..n) */
static int p_measure(const char *w, int n)
{
    int i = 0, m = 0;
    while (i < n && p_cons(w, i)) i++;
    while (i < n) {
        while (i < n && !p_cons(w, i)) i++;
        if (i >= n) break;
        while (i < n && p_cons(w, i)) i++;
        m++;
    }
    return m;
}

/* w[n-3..n) is consonant-vowel-consonant and the last is not w, x, y */
static int p_cvc(const char *w, int n)
{
    if (n < 3 || !p_cons(w, n - 1) || p_cons(w, n - 2) || !p_cons(w, n - 3)) return 0;
    char c = w[n - 1];
    return c != 'w' && c != 'x' && c != 'y';
}

static size_t lucene_porter_fix(char *w, size_t n)
{
    int len = (int)n;
    if (len >= 5 && !memcmp(w + len - 4, "logi", 4) && p_measure(w, len - 4) > 0) return n - 1;
    if (len >= 4 && !memcmp(w + len - 3, "bli", 3) && w[len - 4] != 'a' && p_measure(w, len - 3) > 0) {
        w[len - 1] = 'e';                          /* Step 2: bli -> ble */
        if (len >= 5 && w[len - 4] == 'i' && p_measure(w, len - 4) > 1) {
            len -= 4;                              /* Step 4: drop "ible" */
        } else {
            int m = p_measure(w, len - 1);         /* Step 5a: drop the final e */
            if (m > 1 || (m == 1 && !p_cvc(w, len - 1))) len--;
        }
        if (len >= 2 && w[len - 1] == 'l' && w[len - 2] == 'l' && p_measure(w, len) > 1) len--;  /* Step 5b */
        return (size_t)len;
    }
    return n;
}

/* Growing caches (an_new_cache) double their table and arena instead of
 * starting over, up to CACHE_MAX_SLOTS; 0, or -1 when they may not grow. */
static int cache_grow(analyzer *a, size_t need)
{
    if (a->cache_n * 2 >= a->cache_slots) {
        if (a->cache_slots >= CACHE_MAX_SLOTS) return -1;
        size_t ns = a->cache_slots * 2;
        cache_ent *nc = calloc(ns, sizeof *nc);
        if (!nc) return -1;
        for (size_t i = 0; i < a->cache_slots; i++) {
            if (!a->cache[i].hash) continue;
            size_t j = (size_t)((a->cache[i].hash * 0x9e3779b97f4a7c15ull) >> 40) & (ns - 1);
            while (nc[j].hash) j = (j + 1) & (ns - 1);
            nc[j] = a->cache[i];
        }
        free(a->cache);
        a->cache = nc;
        a->cache_slots = ns;
    }
    if (a->arena_len + need > a->arena_cap) {
        size_t nc = a->arena_cap * 2;
        if (nc > UINT32_MAX) return -1;
        char *na = realloc(a->arena, nc);
        if (!na) return -1;
        a->arena = na;
        a->arena_cap = nc;
    }
    return 0;
}

static inline int same_bytes(const char *x, const char *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return 0;
    return 1;
}

/* Possessive, lower-case, stop, stem one raw token; emit it.  Returns 0 none
 * emitted, 1 emitted, -1 stop requested. */
static int emit(analyzer *a, const uint8_t *s, size_t n, an_term_fn fn, an_slot_fn sfn, void *ctx)
{
    uint32_t dummy = UINT32_MAX;
    /* EnglishPossessiveFilter: drop a trailing 's (also ’s, ＇s) */
    if (n >= 2 && (s[n - 1] == 's' || s[n - 1] == 'S')) {
        if (s[n - 2] == '\'') n -= 2;
        else if (n >= 4 && s[n - 4] == 0xE2 && s[n - 3] == 0x80 && s[n - 2] == 0x99) n -= 4;
        else if (n >= 4 && s[n - 4] == 0xEF && s[n - 3] == 0xBC && s[n - 2] == 0x87) n -= 4;
    }
    /* lower-case into buf and hash (FNV-1a) in one pass; ASCII fast path */
    size_t o = 0, chars = 0;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n && chars < AN_MAX_TOKEN;) {
        uint8_t c = s[i];
        chars++;
        if (c < 0x80) {
            c = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            a->buf[o++] = (char)c;
            h = (h ^ c) * 0x100000001b3ull;
            i++;
            continue;
        }
        int32_t cp;
        i += next_cp(s + i, n - i, &cp);
        if (cp >= 0x10000) chars++;   /* Lucene counts UTF-16 units */
        size_t k = (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)a->buf + o);
        for (size_t j = 0; j < k; j++) h = (h ^ (uint8_t)a->buf[o + j]) * 0x100000001b3ull;
        o += k;
    }
    if (!o) return 0;
    a->buf[o] = '\0';
    h |= 1;
    size_t slot = (size_t)((h * 0x9e3779b97f4a7c15ull) >> 40) & (a->cache_slots - 1);
    while (a->cache[slot].hash) {
        cache_ent *e = &a->cache[slot];
        if (e->hash == h && e->klen == o && same_bytes(o <= sizeof e->key ? e->key : a->arena + e->off, a->buf, o)) {
            if (e->tlen == STOP_MARK) return 0;
            if (sfn) return sfn(ctx, a->arena + e->off + e->klen, e->tlen, &e->user) ? -1 : 1;
            if (fn && fn(ctx, a->arena + e->off + e->klen, e->tlen)) return -1;
            return 1;
        }
        slot = (slot + 1) & (a->cache_slots - 1);
    }
    const char *t = a->buf;
    size_t tl = o;
    size_t klen = o;
    int stop = an_is_stopword(a->buf, o);
    if (stop) tl = 0;
    else if (chars > 2) {
        const sb_symbol *st = sb_stemmer_stem(a->stem, (const sb_symbol *)a->buf, (int)o);
        if (st) {
            tl = (size_t)sb_stemmer_length(a->stem);
            if (tl > a->cap - 2) tl = a->cap - 2;
            memcpy(a->tbuf, st, tl);
            tl = lucene_porter_fix(a->tbuf, tl);
            a->tbuf[tl] = '\0';
            t = a->tbuf;
        }
    }
    /* remember it: key = the lower-cased token */
    const char *key = a->buf;
    if (a->cache_n * 2 >= a->cache_slots || a->arena_len + klen + tl > a->arena_cap) {
        if (!a->grows || cache_grow(a, klen + tl) < 0) {
            memset(a->cache, 0, a->cache_slots * sizeof *a->cache);
            a->cache_n = 0;
            a->arena_len = 0;
        }
        slot = (size_t)((h * 0x9e3779b97f4a7c15ull) >> 40) & (a->cache_slots - 1);
        while (a->cache[slot].hash) slot = (slot + 1) & (a->cache_slots - 1);
    }
    uint32_t *user = &dummy;
    if (klen < STOP_MARK && tl < STOP_MARK && a->arena_len + klen + tl <= a->arena_cap) {
        cache_ent *e = &a->cache[slot];
        e->user = UINT32_MAX;
        user = &e->user;
        e->hash = h;
        e->off = (uint32_t)a->arena_len;
        e->klen = (uint16_t)klen;
        e->tlen = stop ? STOP_MARK : (uint16_t)tl;
        if (klen <= sizeof e->key) memcpy(e->key, key, klen);
        memcpy(a->arena + a->arena_len, key, klen);
        memcpy(a->arena + a->arena_len + klen, t, tl);
        a->arena_len += klen + tl;
        a->cache_n++;
    }
    if (stop) return 0;
    if (sfn) return sfn(ctx, t, tl, user) ? -1 : 1;
    if (fn && fn(ctx, t, tl)) return -1;
    return 1;
}

static long analyze(analyzer *a, const char *text, size_t len, an_term_fn fn, an_slot_fn sfn, void *ctx)
{
    const uint8_t *s = (const uint8_t *)text;
    long count = 0;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        size_t k = next_cp(s + i, len - i, &cp);
        int cls = wb_class(cp);
        /* keycaps: # or * (digits are words anyway), optional U+FE0F, U+20E3 */
        if ((cp == '#' || cp == '*') && i + 1 < len) {
            size_t j = i + 1;
            if (j + 3 <= len && s[j] == 0xEF && s[j + 1] == 0xB8 && s[j + 2] == 0x8F) j += 3;
            if (j + 3 <= len && s[j] == 0xE2 && s[j + 1] == 0x83 && s[j + 2] == 0xA3) {
                size_t end = skip_extend(s, len, j + 3);
                int r = emit(a, s + i, end - i, fn, sfn, ctx);
                if (r < 0) return -1;
                count += r;
                i = end;
                continue;
            }
        }
        /* flags: regional indicators pair up (WB15/16) */
        if (cls == WB_RI) {
            size_t end = skip_extend(s, len, i + k);
            int paired = 0;
            if (end < len) {
                int32_t c2;
                size_t k2 = next_cp(s + end, len - end, &c2);
                if (wb_class(c2) == WB_RI) { end = skip_extend(s, len, end + k2); paired = 1; }
            }
            if (!paired) { i += k; continue; }   /* a lone indicator is no token */
            int r = emit(a, s + i, end - i, fn, sfn, ctx);
            if (r < 0) return -1;
            count += r;
            i = end;
            continue;
        }
        /* a skin-tone modifier with nothing before it is an emoji of its own */
        if (cls == WB_EMOD) cls = WB_EMOJI;
        if (cls == WB_EMOJI) {
            /* an emoji, its modifiers and variation selectors, and ZWJ sequences (WB3c) */
            size_t end = skip_emod(s, len, i, i + k);
            for (;;) {   /* ZWJ sequences */
                if (end + 3 >= len || s[end] != 0xE2 || s[end + 1] != 0x80 || s[end + 2] != 0x8D) break;
                int32_t nx;
                size_t j = end + 3, kn = next_cp(s + j, len - j, &nx);
                if (wb_class(nx) != WB_EMOJI) break;
                end = skip_emod(s, len, j, j + kn);
            }
            int r = emit(a, s + i, end - i, fn, sfn, ctx);
            if (r < 0) return -1;
            count += r;
            i = end;
            continue;
        }
        if (cls == WB_SA || cls == WB_SA_MARK) {
            size_t end = skip_extend(s, len, i + k);
            while (end < len) {
                int32_t c2;
                size_t k2 = next_cp(s + end, len - end, &c2);
                if (wb_class(c2) != WB_SA) break;
                end = skip_extend(s, len, end + k2);
            }
            int r = emit(a, s + i, end - i, fn, sfn, ctx);
            if (r < 0) return -1;
            count += r;
            i = end;
            continue;
        }
        if (cls == WB_IDEO) {
            size_t end = skip_extend(s, len, i + k);
            int r = emit(a, s + i, end - i, fn, sfn, ctx);
            if (r < 0) return -1;
            count += r;
            i = end;
            continue;
        }
        if (!AHLETTER(cls) && cls != WB_NUMERIC && cls != WB_KATAKANA && cls != WB_EXTENDNUMLET) {
            i += k;
            continue;
        }
        size_t start = i, end = skip_extend(s, len, i + k);
        /* Lucene's grammar concatenates units: letter chains (letters joined
         * directly or by MidLetter/MidNumLet), number chains (by MidNum/MidNumLet),
         * and Hebrew units HL' or HL"HL (WB7a-c) whose first letter must begin
         * a unit, i.e. not follow a mid join (hl_ok) */
        int last = cls, has_alnum = cls != WB_EXTENDNUMLET, hl_ok = cls == WB_HEBREW;
        while (end < len) {
            int32_t c2;
            size_t k2 = next_cp(s + end, len - end, &c2);
            int nc = wb_class(c2);
            if (joins(last == WB_QUNIT ? WB_NUMERIC : last, nc)) {
                last = nc;
                hl_ok = nc == WB_HEBREW;
                has_alnum |= nc != WB_EXTENDNUMLET;
                end = skip_extend(s, len, end + k2);
                continue;
            }
            if (nc == WB_MIDLETTER || nc == WB_MIDNUM || nc == WB_MIDNUMLET || c2 == '"') {
                size_t j = skip_extend(s, len, end + k2);
                int nn = WB_OTHER;
                int32_t c3 = 0;
                size_t k3 = 0;
                if (j < len) {
                    k3 = next_cp(s + j, len - j, &c3);
                    nn = wb_class(c3);
                }
                int hq = hl_ok && last == WB_HEBREW;
                if (hq && nn == WB_HEBREW && c2 == '"') {               /* WB7b/c */
                    last = nn;
                    hl_ok = 0;
                    end = skip_extend(s, len, j + k3);
                    continue;
                }
                if (hq && c2 == '\'') {                                 /* WB7a: HL' ends a unit */
                    last = WB_QUNIT;
                    hl_ok = 0;
                    end = j;
                    continue;
                }
                int ok = (AHLETTER(last) && AHLETTER(nn) && (nc == WB_MIDLETTER || nc == WB_MIDNUMLET)) ||
                         (last == WB_NUMERIC && nn == WB_NUMERIC && (nc == WB_MIDNUM || nc == WB_MIDNUMLET));
                if (ok) {
                    last = nn;
                    hl_ok = 0;
                    end = skip_extend(s, len, j + k3);
                    continue;
                }
                break;
            }
            break;
        }
        if (has_alnum) {
            int r = emit(a, s + start, end - start, fn, sfn, ctx);
            if (r < 0) return -1;
            count += r;
        }
        i = end;
    }
    return count;
}

long an_analyze(analyzer *a, const char *text, size_t len, an_term_fn fn, void *ctx)
{
    return analyze(a, text, len, fn, NULL, ctx);
}

long an_analyze_slots(analyzer *a, const char *text, size_t len, an_slot_fn fn, void *ctx)
{
    return analyze(a, text, len, NULL, fn, ctx);
}
