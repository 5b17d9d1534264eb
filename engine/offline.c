/* offline: hard negatives by editing the positive (see offline.h). */
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

static char *do_replace(const char *query, const char *pos, const char *const *rel, size_t nrel, size_t variant,
                        char **detail)
{
    if (!nrel) return NULL;
    span ps[256];
    size_t n = sentences(pos, ps, 256);
    if (!n) return NULL;
    size_t a = answering(query, pos, ps, n);
    /* the best-matching sentences over the related passages; take the variant-th */
    typedef struct { size_t r; span s; int o; } cand;
    cand best[8];
    size_t nb = 0;
    for (size_t r = 0; r < nrel; r++) {
        span rs[256];
        size_t m = sentences(rel[r], rs, 256);
        for (size_t i = 0; i < m; i++) {
            if (rs[i].len < 20) continue;
            char *piece = strndup(rel[r] + rs[i].start, rs[i].len);
            int inpos = piece && strstr(pos, piece) != NULL;
            free(piece);
            if (inpos) continue;
            int o = overlap(query, rel[r], rs[i]);
            size_t at = nb;
            while (at > 0 && best[at - 1].o < o) at--;
            if (at >= 8) continue;
            if (nb < 8) nb++;
            memmove(best + at + 1, best + at, (nb - 1 - at) * sizeof *best);
            best[at] = (cand){r, rs[i], o};
        }
    }
    if (!nb) return NULL;
    cand c = best[variant % nb];
    sy_buf out = {0};
    sy_buf_append(&out, pos, ps[a].start);
    sy_buf_append(&out, rel[c.r] + c.s.start, c.s.len);
    sy_buf_puts(&out, pos + ps[a].start + ps[a].len);
    *detail = sy_strdup_printf("replaced the answering sentence %zu (\"%.*s%s\") with a sentence of related passage %zu",
                               a + 1, (int)(ps[a].len > 60 ? 60 : ps[a].len), pos + ps[a].start,
                               ps[a].len > 60 ? "..." : "", c.r + 1);
    return out.data;
}

static const char *const NEG[][2] = {
    {" is not ", " is "}, {" are not ", " are "}, {" was not ", " was "}, {" were not ", " were "},
    {" cannot ", " can "}, {" does not ", " does "}, {" do not ", " do "},
    {" is ", " is not "}, {" are ", " are not "}, {" was ", " was not "}, {" were ", " were not "},
    {" can ", " cannot "}, {" will ", " will not "}, {" has ", " has not "}, {" have ", " have not "},
    {" increases ", " decreases "}, {" decreases ", " increases "}, {" increase ", " decrease "},
    {" decrease ", " increase "}, {" increased ", " decreased "}, {" decreased ", " increased "},
    {" higher ", " lower "}, {" lower ", " higher "}, {" greater ", " smaller "}, {" larger ", " smaller "},
    {" smaller ", " larger "}, {" more ", " less "}, {" less ", " more "}, {" always ", " never "},
    {" never ", " always "}, {" agree ", " disagree "}, {" good ", " poor "}, {" significant ", " negligible "},
    {" stable ", " unstable "}, {" possible ", " impossible "},
};

static char *do_negate(const char *query, const char *pos, size_t variant, char **detail)
{
    span ps[256];
    size_t n = sentences(pos, ps, 256);
    if (!n) return NULL;
    size_t a = answering(query, pos, ps, n);
    /* the answering sentence first, then the others in order */
    for (size_t k = 0; k < n; k++) {
        size_t si = k == 0 ? a : (k <= a ? k - 1 : k);
        span s = ps[si];
        /* the variant-th matching site within the sentence, else the first */
        const char *best = NULL;
        size_t which = 0, found = 0;
        for (const char *p = pos + s.start; p < pos + s.start + s.len; p++) {
            for (size_t r = 0; r < sizeof NEG / sizeof *NEG; r++) {
                size_t l = strlen(NEG[r][0]);
                if (p + l <= pos + s.start + s.len + 1 && !strncasecmp(p, NEG[r][0], l)) {
                    if (found == 0 || found == variant % 3) { best = p; which = r; }
                    found++;
                    p += l - 2;
                    break;
                }
            }
        }
        if (!best) continue;
        sy_buf out = {0};
        sy_buf_append(&out, pos, (size_t)(best - pos));
        sy_buf_puts(&out, NEG[which][1]);
        sy_buf_puts(&out, best + strlen(NEG[which][0]));
        char a1[32], b1[32];
        snprintf(a1, sizeof a1, "%s", NEG[which][0] + 1);
        snprintf(b1, sizeof b1, "%s", NEG[which][1] + 1);
        a1[strlen(a1) - 1] = b1[strlen(b1) - 1] = '\0';
        *detail = sy_strdup_printf("negated a claim of sentence %zu: '%s' -> '%s'", si + 1, a1, b1);
        return out.data;
    }
    return NULL;
}

void offline_neg_free(offline_neg *n)
{
    if (!n) return;
    free(n->text);
    free(n->detail);
    n->text = n->detail = NULL;
}

size_t offline_generate(const char *query, const char *positive, const char *const *related, size_t nrelated,
                        uint64_t seed, size_t k, offline_neg *out)
{
    static const char *const methods[] = {"swap", "replace", "negate"};
    uint64_t rng = seed;
    size_t n = 0, start = (size_t)(rng_next(&rng) % 3);
    uint64_t ph = sy_text_hash(positive, strlen(positive));
    for (size_t t = 0; t < k * 4 + 3 && n < k; t++) {
        size_t m = (start + t) % 3, variant = t / 3;
        char *detail = NULL, *text = NULL;
        if (m == 0) text = do_swap(query, positive, related, nrelated, &rng, &detail);
        else if (m == 1) text = do_replace(query, positive, related, nrelated, variant, &detail);
        else text = do_negate(query, positive, variant, &detail);
        if (!text) { free(detail); continue; }
        uint64_t h = sy_text_hash(text, strlen(text));
        int dup = h == ph;
        for (size_t i = 0; i < n && !dup; i++) dup = sy_text_hash(out[i].text, strlen(out[i].text)) == h;
        if (dup) { free(text); free(detail); continue; }
        out[n++] = (offline_neg){text, methods[m], detail};
    }
    return n;
}
