/* tok_models: the three `tokenizers` models over one pre-tokenized word:
 * WordPiece (greedy longest match), BPE (ranked merges, byte-level or not)
 * and Unigram (Viterbi over piece scores), with their unknown-token rules,
 * plus the SentencePiece precompiled charsmap lookup. */
#include "tok_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int32_t tok_byte_char(unsigned b)
{
    if (b <= 32) return 256 + (int32_t)b;
    if (b >= 127 && b <= 160) return 289 + (int32_t)(b - 127);
    if (b == 173) return 323;
    return (int32_t)b;
}

/* UTF-8 of w[0..nc) into a fresh buffer with the byte offset of each char. */
static char *utf8_of(const int32_t *w, size_t nc, size_t **off_out)
{
    char *buf = malloc(nc * 4 + 1);
    size_t *off = malloc((nc + 1) * sizeof *off);
    if (!buf || !off) { free(buf); free(off); return NULL; }
    size_t nb = 0;
    for (size_t i = 0; i < nc; i++) {
        off[i] = nb;
        nb += (size_t)utf8proc_encode_char(w[i], (utf8proc_uint8_t *)buf + nb);
    }
    off[nc] = nb;
    buf[nb] = 0;
    *off_out = off;
    return buf;
}

static int lookup(const sy_strmap *m, const char *k, size_t n, int32_t *id)
{
    uint32_t v;
    if (!sy_strmap_get(m, k, n, &v)) return 0;
    *id = (int32_t)v;
    return 1;
}

/* ---- WordPiece ------------------------------------------------------------- */

int tok_wordpiece(const tokenizer *t, const int32_t *w, size_t nc, tok_cps *out)
{
    if (nc > (size_t)t->max_word_chars) return tok_cps_push(out, t->unk);
    size_t *off;
    char *buf = utf8_of(w, nc, &off);
    if (!buf) return -1;
    size_t mark = out->n, start = 0;
    int rc = 0;
    while (start < nc) {
        size_t end = nc;
        int32_t id = -1;
        while (end > start) {
            const char *k = buf + off[start];
            size_t kl = off[end] - off[start];
            if (start == 0 ? lookup(&t->full, k, kl, &id) : lookup(&t->cont, k, kl, &id)) break;
            end--;
        }
        if (end == start) {   /* no piece: the whole word is unknown */
            out->n = mark;
            rc = tok_cps_push(out, t->unk);
            break;
        }
        if ((rc = tok_cps_push(out, id))) break;
        start = end;
    }
    free(buf);
    free(off);
    return rc;
}

/* ---- BPE --------------------------------------------------------------------- */

/* An unknown piece: its bytes as <0xXX> tokens (byte_fallback), else the
 * unknown token, fused with an unknown token just emitted for this word. */
static int push_unknown(const tokenizer *t, const char *s, size_t n, tok_cps *out, size_t word_start, int fuse)
{
    if (t->byte_fallback) {
        int ok = 1;
        for (size_t i = 0; i < n; i++) ok &= t->byte_ids[(unsigned char)s[i]] >= 0;
        if (ok) {
            for (size_t i = 0; i < n; i++)
                if (tok_cps_push(out, t->byte_ids[(unsigned char)s[i]])) return -1;
            return 0;
        }
    }
    if (t->unk < 0) return 0;
    if (fuse && out->n > word_start && out->v[out->n - 1] == t->unk) return 0;
    return tok_cps_push(out, t->unk);
}

int tok_bpe(const tokenizer *t, const int32_t *w, size_t nc, tok_cps *out)
{
    if (!nc) return 0;
    size_t *off;
    char *buf = utf8_of(w, nc, &off);
    if (!buf) return -1;
    int32_t id;
    int rc = 0;
    if (t->ignore_merges && !t->end_suffix && lookup(&t->full, buf, off[nc], &id)) {
        rc = tok_cps_push(out, id);
        free(buf); free(off);
        return rc;
    }
    int32_t *sym = malloc(nc * sizeof *sym);
    size_t m = 0, pl = t->cont_prefix ? strlen(t->cont_prefix) : 0, sl = t->end_suffix ? strlen(t->end_suffix) : 0;
    char *key = malloc(off[nc] + pl + sl + 8);
    if (!sym || !key) { rc = -1; goto done; }
    /* initial symbols; a character not in the vocabulary ends up unknown
     * (runs of such characters are kept apart from mergeable ones) */
    size_t mark = out->n;
    for (size_t i = 0; i < nc; i++) {
        size_t kl = 0;
        if (i > 0 && pl) { memcpy(key, t->cont_prefix, pl); kl = pl; }
        memcpy(key + kl, buf + off[i], off[i + 1] - off[i]);
        kl += off[i + 1] - off[i];
        if (i == nc - 1 && sl) { memcpy(key + kl, t->end_suffix, sl); kl += sl; }
        if (lookup(&t->full, key, kl, &id)) sym[m++] = id;
        else sym[m++] = -1 - (int32_t)i;   /* unknown char i */
    }
    /* merge the lowest-ranked adjacent pair, leftmost first, until none is left */
    for (;;) {
        uint32_t best = UINT32_MAX;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            if (sym[i] < 0 || sym[i + 1] < 0) continue;
            uint32_t k2[2] = { (uint32_t)sym[i], (uint32_t)sym[i + 1] }, r;
            if (sy_strmap_get(&t->merges, (const char *)k2, sizeof k2, &r) && r < best) { best = r; bi = i; }
        }
        if (best == UINT32_MAX) break;
        sym[bi] = t->merge_new[best];
        memmove(sym + bi + 1, sym + bi + 2, (m - bi - 2) * sizeof *sym);
        m--;
    }
    for (size_t i = 0; i < m && !rc; i++) {
        if (sym[i] >= 0) rc = tok_cps_push(out, sym[i]);
        else {
            size_t c = (size_t)(-1 - sym[i]);
            rc = push_unknown(t, buf + off[c], off[c + 1] - off[c], out, mark, t->fuse_unk);
        }
    }
done:
    free(sym);
    free(key);
    free(buf);
    free(off);
    return rc;
}

/* ---- Unigram ------------------------------------------------------------------- */

int tok_unigram(const tokenizer *t, const int32_t *w, size_t nc, tok_cps *out)
{
    if (!nc) return 0;
    size_t *off;
    char *buf = utf8_of(w, nc, &off);
    if (!buf) return -1;
    double *best = malloc((nc + 1) * sizeof *best);
    size_t *from = malloc((nc + 1) * sizeof *from);
    int32_t *tid = malloc((nc + 1) * sizeof *tid);
    int32_t *rev = malloc((nc + 1) * sizeof *rev);
    size_t *rs = malloc((nc + 1) * sizeof *rs);
    int rc = 0;
    if (!best || !from || !tid || !rev || !rs) { rc = -1; goto done; }
    for (size_t i = 0; i <= nc; i++) { from[i] = (size_t)-1; best[i] = 0; }
    double unk_score = t->min_score - 10.0;
    for (size_t s = 0; s < nc; s++) {
        double here = best[s];
        int single = 0;
        size_t maxl = nc - s < (size_t)t->max_piece_chars ? nc - s : (size_t)t->max_piece_chars;
        for (size_t L = 1; L <= maxl; L++) {
            int32_t id;
            if (!lookup(&t->full, buf + off[s], off[s + L] - off[s], &id)) continue;
            double cand = here + t->scores[id];
            if (from[s + L] == (size_t)-1 || cand > best[s + L]) {
                best[s + L] = cand;
                from[s + L] = s;
                tid[s + L] = id;
            }
            if (L == 1) single = 1;
        }
        if (!single) {
            double cand = here + unk_score;
            if (from[s + 1] == (size_t)-1 || cand > best[s + 1]) {
                best[s + 1] = cand;
                from[s + 1] = s;
                tid[s + 1] = t->unk;
            }
        }
    }
    /* backtrack, then emit in order (runs of unknown pieces fuse into one) */
    size_t k = 0, mark = out->n;
    for (size_t e = nc; e > 0; e = from[e]) { rev[k] = tid[e]; rs[k] = from[e]; k++; }
    for (size_t i = k; i-- > 0 && !rc;) {
        int32_t id = rev[i];
        if (id == t->unk && t->unk >= 0) {
            size_t s = rs[i], e = i ? rs[i - 1] : nc;
            rc = push_unknown(t, buf + off[s], off[e] - off[s], out, mark, 1);
        } else {
            rc = tok_cps_push(out, id);
        }
    }
done:
    free(best); free(from); free(tid); free(rev); free(rs);
    free(buf);
    free(off);
    return rc;
}

/* ---- SentencePiece precompiled charsmap (a darts-clone double array) ---------- */

const char *tok_precompiled_lookup(const tok_norm *nm, const char *s, size_t len)
{
    const uint32_t *a = nm->trie;
    size_t n = nm->trie_units, pos = 0;
    if (!n) return NULL;
    uint32_t unit = a[0];
    pos ^= (size_t)((unit >> 10) << ((unit & (1U << 9)) >> 6));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        pos ^= c;
        if (pos >= n) return NULL;
        unit = a[pos];
        if ((unit & ((1U << 31) | 0xFF)) != c) return NULL;
        pos ^= (size_t)((unit >> 10) << ((unit & (1U << 9)) >> 6));
        if (pos >= n) return NULL;
        if ((unit >> 8) & 1) {   /* has a leaf: the first (shortest) match wins */
            uint32_t v = a[pos] & ((1U << 31) - 1);
            if (v >= nm->pool_len) return NULL;
            return nm->pool + v;
        }
    }
    return NULL;
}
