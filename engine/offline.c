/* offline: the offline generator, a stand-in for an LLM (see offline.h). */
#include "offline.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- words ---------------------------------------------------------------- */
static const char *const STOP[] = {
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "if", "in", "into", "is", "it", "its", "may", "of", "on", "or", "such", "than", "that", "the",
    "their", "then", "there", "these", "they", "this", "to", "was", "were", "what", "when", "where", "which",
    "while", "who", "why", "will", "with", "would", "any", "some", "also", "other", "not", "no", "between",
    "about", "after", "over", "under", "we", "our", "one", "two", "all", "each", "both", "made", "given", "used",
    "using", "should", "could", "must", "very", "more", "most", "only", "same", "so", "them", "those", "which",
};

static int is_word_byte(unsigned char c) { return isalnum(c) || c >= 0x80; }

static int is_stop(const char *w, size_t n)
{
    if (n < 2) return 1;
    for (size_t i = 0; i < sizeof STOP / sizeof *STOP; i++)
        if (strlen(STOP[i]) == n && !strncmp(STOP[i], w, n)) return 1;
    return 0;
}

/* Next word of s from *pos: start/len, lower-cased into buf (<= 63 bytes). 0 at end. */
static int next_word(const char *s, size_t *pos, size_t *start, size_t *len, char *buf)
{
    size_t i = *pos;
    while (s[i] && !is_word_byte((unsigned char)s[i])) i++;
    if (!s[i]) { *pos = i; return 0; }
    size_t b = i;
    while (s[i] && (is_word_byte((unsigned char)s[i]) ||
                    (s[i] == '.' && isdigit((unsigned char)s[i + 1]) && i > b && isdigit((unsigned char)s[i - 1]))))
        i++;
    *start = b;
    *len = i - b;
    size_t n = *len < 63 ? *len : 63;
    for (size_t k = 0; k < n; k++) buf[k] = (char)tolower((unsigned char)s[b + k]);
    buf[n] = '\0';
    *pos = i;
    return 1;
}

/* ---- the lexical index ---------------------------------------------------------- */
struct offline_index {
    const corpus *c;
    sy_strmap vocab;        /* keys point into arena */
    char **chunks;          /* arena blocks (stable pointers) */
    size_t nchunks;
    uint32_t *df, *off, *post;
    uint32_t nterms, ndocs;
};

void offline_index_free(offline_index *ix)
{
    if (!ix) return;
    sy_strmap_free(&ix->vocab);
    for (size_t i = 0; i < ix->nchunks; i++) free(ix->chunks[i]);
    free(ix->chunks);
    free(ix->df);
    free(ix->off);
    free(ix->post);
    free(ix);
}

static const char *intern(offline_index *ix, const char *w, size_t n)
{
    char *d = malloc(n + 1);
    char **nc = d ? realloc(ix->chunks, (ix->nchunks + 1) * sizeof *nc) : NULL;
    if (!nc) { free(d); return NULL; }
    ix->chunks = nc;
    memcpy(d, w, n);
    d[n] = '\0';
    ix->chunks[ix->nchunks++] = d;
    return d;
}

/* Counting pass: off[] holds "last doc + 1" per term so a doc counts once. */
static void count_df(offline_index *ix, uint32_t id, uint32_t doc)
{
    if (ix->off[id] == doc + 1) return;
    ix->off[id] = doc + 1;
    ix->df[id]++;
}

offline_index *offline_index_build(const corpus *c, sy_err *err)
{
    offline_index *ix = calloc(1, sizeof *ix);
    if (!ix || sy_strmap_init(&ix->vocab, 1 << 14) < 0) goto nomem;
    ix->c = c;
    ix->ndocs = corpus_ndocs(c);
    /* pass 1: vocabulary and document frequencies (off[] as last-seen doc) */
    size_t offcap = 1 << 14;
    ix->off = calloc(offcap, sizeof *ix->off);
    if (!ix->off) goto nomem;
    for (uint32_t d = 0; d < ix->ndocs; d++) {
        const char *srcs[2] = {corpus_doc_title(c, d), corpus_doc_text(c, d)};
        for (int k = 0; k < 2; k++) {
            const char *s = srcs[k];
            size_t pos = 0, st, len;
            char w[64];
            while (s && next_word(s, &pos, &st, &len, w)) {
                size_t wl = strlen(w);
                if (is_stop(w, wl)) continue;
                uint32_t id;
                if (!sy_strmap_get(&ix->vocab, w, wl, &id)) {
                    const char *key = intern(ix, w, wl);
                    if (!key || sy_strmap_put(&ix->vocab, key, wl, ix->nterms, NULL) < 0) goto nomem;
                    id = ix->nterms++;
                    if (ix->nterms > offcap) {
                        size_t nc = offcap * 2;
                        uint32_t *no = realloc(ix->off, nc * sizeof *no);
                        if (!no) goto nomem;
                        memset(no + offcap, 0, (nc - offcap) * sizeof *no);
                        ix->off = no;
                        offcap = nc;
                    }
                    uint32_t *ndf = realloc(ix->df, offcap * sizeof *ndf);
                    if (!ndf) goto nomem;
                    ix->df = ndf;
                    ix->df[id] = 0;
                }
                count_df(ix, id, d);
            }
        }
    }
    /* offsets */
    uint64_t total = 0;
    for (uint32_t t = 0; t < ix->nterms; t++) {
        ix->off[t] = (uint32_t)total;
        total += ix->df[t];
    }
    if (total > UINT32_MAX) {
        offline_index_free(ix);
        sy_fail(err, SY_EUNSUP, "the corpus is too large for the offline generator's index (%llu postings)",
                (unsigned long long)total);
        return NULL;
    }
    uint32_t *next = malloc((ix->nterms + 1) * sizeof *next);
    ix->post = malloc((total ? total : 1) * sizeof *ix->post);
    uint32_t *noff = realloc(ix->off, (ix->nterms + 1) * sizeof *noff);
    if (!next || !ix->post || !noff) { free(next); goto nomem; }
    ix->off = noff;
    ix->off[ix->nterms] = (uint32_t)total;
    memcpy(next, ix->off, (ix->nterms + 1) * sizeof *next);
    /* pass 2: postings, each doc once per term (docs come in order, so check the tail) */
    for (uint32_t d = 0; d < ix->ndocs; d++) {
        const char *srcs[2] = {corpus_doc_title(c, d), corpus_doc_text(c, d)};
        for (int k = 0; k < 2; k++) {
            const char *s = srcs[k];
            size_t pos = 0, st, len;
            char w[64];
            while (s && next_word(s, &pos, &st, &len, w)) {
                size_t wl = strlen(w);
                uint32_t id;
                if (is_stop(w, wl) || !sy_strmap_get(&ix->vocab, w, wl, &id)) continue;
                if (next[id] > ix->off[id] && ix->post[next[id] - 1] == d) continue;
                ix->post[next[id]++] = d;
            }
        }
    }
    free(next);
    return ix;
nomem:
    offline_index_free(ix);
    sy_fail(err, SY_ENOMEM, "out of memory building the offline generator's index");
    return NULL;
}

typedef struct { uint32_t doc; float w; } hit;

static int cmp_hit_doc(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int cmp_hit_score(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

size_t offline_related(const offline_index *ix, const char *text, const uint32_t *exclude, size_t nexclude,
                       uint32_t *out, size_t k)
{
    hit *h = NULL;
    size_t nh = 0, cap = 0;
    size_t pos = 0, st, len;
    char w[64];
    uint32_t seen[64];
    size_t nseen = 0;
    while (next_word(text, &pos, &st, &len, w)) {
        size_t wl = strlen(w);
        uint32_t id;
        if (is_stop(w, wl) || !sy_strmap_get(&ix->vocab, w, wl, &id)) continue;
        int dup = 0;
        for (size_t i = 0; i < nseen; i++) dup |= seen[i] == id;
        if (dup || nseen == 64) continue;
        seen[nseen++] = id;
        uint32_t df = ix->df[id];
        if (df == 0 || df > ix->ndocs / 4 + 1) continue;   /* too common to tell passages apart */
        float idf = (float)log((double)ix->ndocs / df);
        if (nh + df > cap) {
            cap = (nh + df) * 2;
            hit *nh2 = realloc(h, cap * sizeof *nh2);
            if (!nh2) { free(h); return 0; }
            h = nh2;
        }
        for (uint32_t p = ix->off[id]; p < ix->off[id + 1]; p++) h[nh++] = (hit){ix->post[p], idf};
    }
    if (!nh) { free(h); return 0; }
    qsort(h, nh, sizeof *h, cmp_hit_doc);
    size_t m = 0;
    for (size_t i = 0; i < nh; i++) {
        if (m && h[m - 1].doc == h[i].doc) h[m - 1].w += h[i].w;
        else h[m++] = h[i];
    }
    qsort(h, m, sizeof *h, cmp_hit_score);
    size_t n = 0;
    for (size_t i = 0; i < m && n < k; i++) {
        int ex = 0;
        for (size_t j = 0; j < nexclude; j++) ex |= exclude[j] == h[i].doc;
        if (!ex) out[n++] = h[i].doc;
    }
    free(h);
    return n;
}

/* ---- editing ------------------------------------------------------------------------ */
static inline uint64_t rng_next(uint64_t *s) { return sy_splitmix64(s); }

typedef struct { size_t start, len; } span;

/* Sentences of s (ends at ". ", "? ", "! ", newline or the end), trimmed. */
static size_t sentences(const char *s, span *out, size_t max)
{
    size_t n = 0, i = 0, b = 0;
    size_t L = strlen(s);
    while (i <= L && n < max) {
        int end = i == L || s[i] == '\n' ||
                  ((s[i] == '.' || s[i] == '?' || s[i] == '!') && (s[i + 1] == ' ' || s[i + 1] == '\n' || !s[i + 1]) &&
                   !(i > 0 && isdigit((unsigned char)s[i - 1]) && isdigit((unsigned char)s[i + 1])));
        if (end) {
            size_t e = i < L && s[i] != '\n' ? i + 1 : i;
            while (b < e && isspace((unsigned char)s[b])) b++;
            size_t ee = e;
            while (ee > b && isspace((unsigned char)s[ee - 1])) ee--;
            if (ee > b + 3) out[n++] = (span){b, ee - b};
            b = e;
        }
        i++;
    }
    return n;
}

/* Number of distinct non-stop query words found in s[sp]. */
static int overlap(const char *query, const char *s, span sp)
{
    char *piece = strndup(s + sp.start, sp.len);
    if (!piece) return 0;
    for (char *p = piece; *p; p++) *p = (char)tolower((unsigned char)*p);
    int n = 0;
    size_t pos = 0, st, len;
    char w[64];
    while (next_word(query, &pos, &st, &len, w)) {
        size_t wl = strlen(w);
        if (is_stop(w, wl)) continue;
        const char *hitp = piece;
        while ((hitp = strstr(hitp, w))) {
            size_t off = (size_t)(hitp - piece);
            if ((off == 0 || !is_word_byte((unsigned char)piece[off - 1])) && !is_word_byte((unsigned char)hitp[wl])) {
                n++;
                break;
            }
            hitp++;
        }
    }
    free(piece);
    return n;
}

/* Index of the sentence most like the query (ties: the earliest). */
static size_t answering(const char *query, const char *s, const span *sp, size_t n)
{
    size_t best = 0;
    int bo = -1;
    for (size_t i = 0; i < n; i++) {
        int o = overlap(query, s, sp[i]);
        if (o > bo) { bo = o; best = i; }
    }
    return best;
}

static int contains_word(const char *text, const char *w)
{
    size_t pos = 0, st, len;
    char b[64];
    while (next_word(text, &pos, &st, &len, b))
        if (!strcmp(b, w)) return 1;
    return 0;
}

static int is_number(const char *w)
{
    int digit = 0;
    for (; *w; w++) {
        if (isdigit((unsigned char)*w)) digit = 1;
        else if (*w != '.' && *w != ',') return 0;
    }
    return digit;
}

/* kind: 0 number, 1 capitalised word, 2 rare-looking content word (>= 7 letters) */
static int word_kind(const char *orig, size_t len, const char *lw, int sentence_start)
{
    if (is_number(lw)) return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalpha((unsigned char)orig[i])) return -1;
    if (isupper((unsigned char)orig[0]) && !sentence_start) return 1;
    if (len >= 7) return 2;
    return -1;
}

typedef struct { char w[64]; int kind; } pool_word;

static char *do_swap(const char *query, const char *pos, const char *const *rel, size_t nrel, uint64_t *rng,
                     char **detail)
{
    /* the pool: words of related passages not in the positive or the query */
    pool_word *pool = NULL;
    size_t np = 0, cap = 0;
    for (size_t r = 0; r < nrel; r++) {
        size_t p = 0, st, len;
        char w[64];
        int prev_end = 1;
        while (next_word(rel[r], &p, &st, &len, w)) {
            int k = word_kind(rel[r] + st, len, w, prev_end);
            prev_end = p > 0 && (rel[r][p] == '.' || rel[r][p] == '\n');
            if (k < 0 || is_stop(w, strlen(w)) || contains_word(pos, w) || contains_word(query, w)) continue;
            int dup = 0;
            for (size_t i = 0; i < np && !dup; i++) dup = !strcmp(pool[i].w, w);
            if (dup) continue;
            if (np == cap) {
                cap = cap ? cap * 2 : 64;
                pool_word *n2 = realloc(pool, cap * sizeof *n2);
                if (!n2) { free(pool); return NULL; }
                pool = n2;
            }
            snprintf(pool[np].w, sizeof pool[np].w, "%.*s", (int)len, rel[r] + st);
            pool[np++].kind = k;
        }
    }
    /* the targets: specific words of the positive that the query does not use */
    span tg[256];
    int tk[256];
    char (*reps)[64] = calloc(256, 64);
    if (!reps) { free(pool); return NULL; }
    size_t nt = 0, p = 0, st, len;
    char w[64];
    int sstart = 1;
    while (nt < 256 && next_word(pos, &p, &st, &len, w)) {
        int k = word_kind(pos + st, len, w, sstart);
        sstart = pos[p] == '.' || pos[p] == '\n' || pos[p] == '?';
        if (k < 0 || is_stop(w, strlen(w)) || contains_word(query, w)) continue;
        tg[nt] = (span){st, len};
        tk[nt++] = k;
    }
    sy_buf out = {0}, det = {0};
    size_t last = 0;
    int swaps = 0, want = nt >= 9 ? 3 : nt >= 3 ? 2 : 1;
    size_t first = nt ? (size_t)(rng_next(rng) % nt) : 0;
    /* Visit targets from a seeded offset, every other one first; a word is
     * swapped only for one of the same kind and, for plain words, the same
     * 3- (else 2-) letter ending, which keeps the part of speech roughly intact. */
    int *chosen = calloc(nt ? nt : 1, sizeof *chosen);
    size_t *order = calloc(nt ? nt : 1, sizeof *order), no = 0;
    for (size_t pass = 0; order && pass < 2; pass++)
        for (size_t i = pass; i < nt; i += 2) order[no++] = (first + i) % nt;
    for (size_t oi = 0; chosen && order && oi < no && swaps < want; oi++) {
        size_t i = order[oi];
        if (chosen[i]) continue;
        const char *rep = NULL;
        char num[64];
        for (int suf = 3; !rep && suf >= (tk[i] == 2 ? 2 : 0); suf--) {
            size_t cands = 0;
            const char *tend = pos + tg[i].start + tg[i].len - (size_t)suf;
            for (size_t j = 0; j < np; j++) {
                size_t l = strlen(pool[j].w);
                cands += pool[j].kind == tk[i] && (tk[i] != 2 || (l > (size_t)suf &&
                                                                  !strncasecmp(pool[j].w + l - suf, tend, (size_t)suf)));
            }
            if (!cands) continue;
            size_t pick = (size_t)(rng_next(rng) % cands);
            for (size_t j = 0; j < np; j++) {
                size_t l = strlen(pool[j].w);
                int ok = pool[j].kind == tk[i] && (tk[i] != 2 || (l > (size_t)suf &&
                                                                  !strncasecmp(pool[j].w + l - suf, tend, (size_t)suf)));
                if (ok && pick-- == 0) { rep = pool[j].w; break; }
            }
            if (tk[i] != 2) break;
        }
        if (!rep && tk[i] == 0) {   /* a number with nothing to draw from: change it */
            double v = atof(pos + tg[i].start);
            double f[] = {2.0, 0.5, 1.5, 3.0};
            double nv = v * f[rng_next(rng) % 4];
            if (nv == v) nv = v + 1;
            int has_dot = memchr(pos + tg[i].start, '.', tg[i].len) != NULL;
            snprintf(num, sizeof num, has_dot ? "%.2f" : "%.0f", nv);
            rep = num;
        }
        if (!rep) continue;
        chosen[i] = 1;
        snprintf(reps[i], sizeof reps[i], "%s", rep);
        swaps++;
    }
    for (size_t i = 0; chosen && i < nt; i++) {
        if (!chosen[i]) continue;
        const char *rep = reps[i];
        sy_buf_append(&out, pos + last, tg[i].start - last);
        if (tk[i] != 0 && isupper((unsigned char)pos[tg[i].start]) && islower((unsigned char)rep[0])) {
            char cap1 = (char)toupper((unsigned char)rep[0]);
            sy_buf_append(&out, &cap1, 1);
            sy_buf_puts(&out, rep + 1);
        } else {
            sy_buf_puts(&out, rep);
        }
        sy_buf_printf(&det, "%s'%.*s' -> '%s'", det.len ? ", " : "", (int)tg[i].len, pos + tg[i].start, rep);
        last = tg[i].start + tg[i].len;
    }
    free(order);
    free(chosen);
    free(pool);
    free(reps);
    if (!swaps) { sy_buf_free(&out); sy_buf_free(&det); return NULL; }
    sy_buf_puts(&out, pos + last);
    *detail = sy_strdup_printf("swapped %s, drawn from related passages", det.data);
    sy_buf_free(&det);
    return out.data;
}

/* ---- composing a negative ------------------------------------------------------------ */

/* The text as sentences, without a leading sentence that repeats the title
 * (Cranfield-style documents open with their title). */
typedef struct {
    const char *s;
    span sp[256];
    size_t n, first;     /* first: 1 when sentence 0 repeats the title */
} sents;

static int starts_with_title(const char *title, const char *text)
{
    size_t tl = title ? strlen(title) : 0;
    while (tl && (isspace((unsigned char)title[tl - 1]) || title[tl - 1] == '.')) tl--;
    return tl >= 4 && !strncasecmp(title, text, tl);
}

static void split_doc(const offline_doc *d, sents *out)
{
    out->s = d->text ? d->text : "";
    out->n = sentences(out->s, out->sp, 256);
    out->first = out->n > 1 && starts_with_title(d->title, out->s) && out->sp[0].start == 0 &&
                 out->sp[0].len <= strlen(d->title) + 3;
}

static size_t span_words(const char *s, span sp)
{
    size_t n = 0;
    for (size_t i = 0; i < sp.len; i++)
        n += !isspace((unsigned char)s[sp.start + i]) && (i == 0 || isspace((unsigned char)s[sp.start + i - 1]));
    return n;
}

static size_t text_words(const char *s)
{
    return span_words(s, (span){0, strlen(s)});
}

typedef struct { size_t r; span s; int o; } rsent;

static int cmp_rsent(const void *a, const void *b)
{
    const rsent *x = a, *y = b;
    if (x->o != y->o) return y->o - x->o;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    return x->s.start < y->s.start ? -1 : x->s.start > y->s.start;
}

/* Sentences of the related passages that are not in the positive, best
 * query overlap first.  *out malloc'd. */
static size_t related_sentences(const char *query, const char *pos, const sents *rs, size_t nrel, rsent **out)
{
    size_t cap = 0, n = 0;
    rsent *v = NULL;
    for (size_t r = 0; r < nrel; r++)
        for (size_t i = rs[r].first; i < rs[r].n; i++) {
            span sp = rs[r].sp[i];
            if (sp.len < 20) continue;
            char *piece = strndup(rs[r].s + sp.start, sp.len);
            int inpos = !piece || strstr(pos, piece) != NULL;
            free(piece);
            if (inpos) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 32;
                rsent *nv = realloc(v, cap * sizeof *nv);
                if (!nv) { free(v); *out = NULL; return 0; }
                v = nv;
            }
            v[n++] = (rsent){r, sp, overlap(query, rs[r].s, sp)};
        }
    if (n) qsort(v, n, sizeof *v, cmp_rsent);
    *out = v;
    return n;
}

/* The composed negative under construction. */
typedef struct {
    sy_buf text, det;
    size_t words, target;
    unsigned used[64];          /* sentences taken per related passage */
} draft;

static void put_sentence(draft *d, const char *s, span sp)
{
    if (d->text.len) sy_buf_puts(&d->text, " ");
    sy_buf_append(&d->text, s + sp.start, sp.len);
    d->words += span_words(s, sp);
}

/* Fill with related sentences up to the positive's length: the sentences of
 * related passage `home` first (in order, so the passage reads like that
 * document), then the best query matches of the others.  Returns how many. */
static size_t fill_related(draft *d, const sents *rs, size_t home, const rsent *cand, size_t ncand, int *taken)
{
    size_t added = 0;
    for (size_t i = rs[home].first; i < rs[home].n && d->words < d->target; i++) {
        span sp = rs[home].sp[i];
        for (size_t c = 0; c < ncand; c++)
            if (cand[c].r == home && cand[c].s.start == sp.start && !taken[c]) {
                if (d->words && d->words + span_words(rs[home].s, sp) > d->target + d->target / 4) break;
                taken[c] = 1;
                put_sentence(d, rs[home].s, sp);
                d->used[home < 64 ? home : 63]++;
                added++;
                break;
            }
    }
    for (size_t c = 0; c < ncand && d->words < d->target; c++) {
        if (taken[c]) continue;
        size_t w = span_words(rs[cand[c].r].s, cand[c].s);
        if (d->words && d->words + w > d->target + d->target / 4) continue;
        taken[c] = 1;
        put_sentence(d, rs[cand[c].r].s, cand[c].s);
        d->used[cand[c].r < 64 ? cand[c].r : 63]++;
        added++;
    }
    return added;
}

static void describe_used(draft *d, size_t nrel)
{
    int first = 1;
    for (size_t r = 0; r < nrel && r < 64; r++)
        if (d->used[r]) {
            sy_buf_printf(&d->det, "%s%u of related passage %zu", first ? "" : ", ", d->used[r], r + 1);
            first = 0;
        }
}

/* The positive's sentence that least matches the query (not the answering
 * one, not the title): topic and entities without the answer.  -1 if none. */
static long context_sentence(const char *query, const sents *ps, size_t a)
{
    long best = -1;
    int bo = 1 << 30;
    for (size_t i = ps->first; i < ps->n; i++) {
        if (i == a || ps->sp[i].len < 20) continue;
        int o = overlap(query, ps->s, ps->sp[i]);
        if (o < bo) { bo = o; best = (long)i; }
    }
    return best;
}

/* The home passage of variant v: the v-th related passage (cycling), one
 * with a title when the positive has one, so the negative can carry it. */
static size_t home_of(const offline_doc *rel, size_t nrel, size_t v, int want_title)
{
    for (size_t k = 0; k < nrel; k++) {
        size_t r = (v + k) % nrel;
        if (!want_title || (rel[r].title && *rel[r].title)) return r;
    }
    return v % nrel;
}

static char *finish(draft *d, const offline_doc *pos, const offline_doc *rel, size_t home, char **title_out)
{
    const char *title = pos->title && *pos->title ? (rel[home].title ? rel[home].title : "") : "";
    *title_out = strdup(title);
    if (*title && starts_with_title(pos->title, pos->text)) {   /* the collection opens texts with the title */
        sy_buf t = {0};
        sy_buf_puts(&t, title);
        sy_buf_puts(&t, " ");
        sy_buf_append(&t, d->text.data, d->text.len);
        sy_buf_free(&d->text);
        d->text = t;
    }
    return d->text.data;
}

/* "recombine": one context sentence of the positive (its topic and
 * entities, not its answer) followed by sentences of related passages, to the
 * positive's length, under the title of the related passage it leans on. */
static char *do_recombine(const char *query, const offline_doc *pos, const offline_doc *rel, size_t nrel,
                          const sents *ps, const sents *rs, const rsent *cand, size_t ncand, size_t variant,
                          char **title, char **detail)
{
    if (!nrel || !ncand || !ps->n) return NULL;
    size_t a = answering(query, ps->s, ps->sp + ps->first, ps->n - ps->first) + ps->first;
    long c = context_sentence(query, ps, a);
    size_t home = home_of(rel, nrel, variant, pos->title && *pos->title);
    int *taken = calloc(ncand, sizeof *taken);
    if (!taken) return NULL;
    draft d = {.target = text_words(pos->text)};
    if (d.target < 8) d.target = 8;
    if (c >= 0) put_sentence(&d, ps->s, ps->sp[c]);
    size_t added = fill_related(&d, rs, home, cand, ncand, taken);
    free(taken);
    if (!added) { sy_buf_free(&d.text); sy_buf_free(&d.det); return NULL; }
    if (c >= 0) sy_buf_printf(&d.det, "recombined sentence %ld of the positive (least like the query) with ", c + 1);
    else sy_buf_puts(&d.det, "recombined ");
    sy_buf_puts(&d.det, "sentences: ");
    describe_used(&d, nrel);
    sy_buf_printf(&d.det, "; the answering sentence %zu left out", a + 1);
    char *text = finish(&d, pos, rel, home, title);
    if (**title) sy_buf_printf(&d.det, "; title of related passage %zu", home + 1);
    *detail = d.det.data;
    return text;
}

/* "swap": the answering sentence with its numbers and specific terms swapped
 * for ones of related passages (so it states a different fact), in a passage
 * of related sentences of the positive's length. */
static char *do_swap_compose(const char *query, const offline_doc *pos, const offline_doc *rel, size_t nrel,
                             const sents *ps, const sents *rs, const rsent *cand, size_t ncand, size_t variant,
                             uint64_t *rng, char **title, char **detail)
{
    if (!ps->n) return NULL;
    size_t a = answering(query, ps->s, ps->sp + ps->first, ps->n - ps->first) + ps->first;
    char *ans = strndup(ps->s + ps->sp[a].start, ps->sp[a].len);
    const char *rel_texts[64];
    size_t nr = nrel < 64 ? nrel : 64;
    for (size_t i = 0; i < nr; i++) rel_texts[i] = rel[i].text;
    char *swapdet = NULL;
    char *swapped = ans ? do_swap(query, ans, rel_texts, nr, rng, &swapdet) : NULL;
    free(ans);
    if (!swapped) { free(swapdet); return NULL; }
    draft d = {.target = text_words(pos->text)};
    if (d.target < 8) d.target = 8;
    sy_buf_puts(&d.text, swapped);
    d.words = text_words(swapped);
    free(swapped);
    size_t home = nrel ? home_of(rel, nrel, variant, pos->title && *pos->title) : 0;
    int *taken = ncand ? calloc(ncand, sizeof *taken) : NULL;
    if (ncand && taken) fill_related(&d, rs, home, cand, ncand, taken);
    free(taken);
    sy_buf_printf(&d.det, "answering sentence %zu with %s", a + 1, swapdet ? swapdet : "swaps");
    free(swapdet);
    int any = 0;
    for (size_t r = 0; r < nrel && r < 64; r++) any |= d.used[r] != 0;
    if (any) {
        sy_buf_puts(&d.det, "; then sentences: ");
        describe_used(&d, nrel);
    }
    char *text;
    if (nrel) {
        text = finish(&d, pos, rel, home, title);
        if (**title) sy_buf_printf(&d.det, "; title of related passage %zu", home + 1);
    } else {   /* no related passage: no title to borrow either */
        offline_doc none = {"", ""};
        text = finish(&d, &none, &none, 0, title);
    }
    *detail = d.det.data;
    return text;
}

void offline_neg_free(offline_neg *n)
{
    if (!n) return;
    free(n->title);
    free(n->text);
    free(n->detail);
    n->title = n->text = n->detail = NULL;
}

size_t offline_generate(const char *query, const offline_doc *positive, const offline_doc *related, size_t nrelated,
                        uint64_t seed, size_t k, offline_neg *out)
{
    static const char *const methods[] = {"recombine", "swap"};
    uint64_t rng = seed;
    size_t n = 0, start = (size_t)(rng_next(&rng) % 2), voff = nrelated ? (size_t)(rng_next(&rng) % nrelated) : 0;
    if (nrelated > 64) nrelated = 64;
    sents *ps = calloc(1, sizeof *ps), *rs = nrelated ? calloc(nrelated, sizeof *rs) : NULL;
    if (!ps || (nrelated && !rs)) { free(ps); free(rs); return 0; }
    split_doc(positive, ps);
    for (size_t r = 0; r < nrelated; r++) split_doc(&related[r], &rs[r]);
    rsent *cand = NULL;
    size_t ncand = related_sentences(query, ps->s, rs, nrelated, &cand);
    uint64_t ph = sy_text_hash(ps->s, strlen(ps->s));
    for (size_t t = 0; t < k * 4 + 2 && n < k; t++) {
        size_t m = (start + t) % 2, variant = voff + t / 2 + (t % 2) * 3;
        char *detail = NULL, *text = NULL, *title = NULL;
        if (m == 0) text = do_recombine(query, positive, related, nrelated, ps, rs, cand, ncand, variant, &title, &detail);
        else text = do_swap_compose(query, positive, related, nrelated, ps, rs, cand, ncand, variant, &rng, &title, &detail);
        if (!text || !title) { free(text); free(title); free(detail); continue; }
        uint64_t h = sy_text_hash(text, strlen(text));
        int dup = h == ph;
        for (size_t i = 0; i < n && !dup; i++) dup = sy_text_hash(out[i].text, strlen(out[i].text)) == h;
        if (dup) { free(text); free(title); free(detail); continue; }
        out[n++] = (offline_neg){title, text, methods[m], detail};
    }
    free(cand);
    free(ps);
    free(rs);
    return n;
}
