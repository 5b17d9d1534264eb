/* mix: hybrid sampling of negatives per training instance (see mix.h). */
#include "mix.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "synth.h"
#include "util.h"

/* ---- seeded PRNG: splitmix64 seeds xoshiro256** ------------------------ */
typedef struct { uint64_t s[4]; } mix_rng;


static void rng_seed(mix_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t x = seed;
    x ^= sy_splitmix64(&(uint64_t){a * 0xd1b54a32d192ed03ULL + 1});
    x ^= sy_splitmix64(&(uint64_t){b * 0x8cb92ba72f3d8dd7ULL + 7}) << 1;
    for (int i = 0; i < 4; i++) r->s[i] = sy_splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(mix_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n) without modulo bias (Lemire). */
static size_t rng_below(mix_rng *r, size_t n)
{
    if (n <= 1) return 0;
    uint64_t x = rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -(uint64_t)n % n;
        while (l < t) {
            x = rng_next(r);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (size_t)(m >> 64);
}

/* ---- a small arena for copied strings ---------------------------------- */
typedef struct arena_blk { struct arena_blk *next; size_t used, cap; char data[]; } arena_blk;

static const char *arena_dup(arena_blk **a, const char *s)
{
    size_t n = strlen(s) + 1;
    if (!*a || (*a)->cap - (*a)->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        arena_blk *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = *a; b->used = 0; b->cap = cap;
        *a = b;
    }
    char *p = (*a)->data + (*a)->used;
    memcpy(p, s, n);
    (*a)->used += n;
    return p;
}

static void arena_free(arena_blk *a)
{
    while (a) {
        arena_blk *n = a->next;
        free(a);
        a = n;
    }
}

/* ---- the set ------------------------------------------------------------ */
typedef struct {
    uint32_t query;
    size_t pos_off, npos;     /* into m->pos */
    size_t pool_off, npool;   /* into m->pool */
    size_t syn_off, nsyn;     /* into m->cls_idx: local pool indices */
    size_t ret_off, nret;
} mix_query;

typedef struct { uint32_t q, pos; } inst_key;    /* query slot, local positive index */

struct mix_set {
    corpus *c;
    mix_opts o;
    arena_blk *arena;
    mix_query *qs; size_t nq, capq;
    mix_passage *pos; size_t npos, cappos;
    mix_passage *pool; size_t npool, cappool;
    uint32_t *cls_idx; size_t ncls, capcls;
    inst_key *keys; size_t nkeys, capkeys;
    /* draw state */
    mix_instance *inst;            /* [nkeys] in training order */
    size_t *inst_key;              /* key index of each position */
    const mix_passage **negs;      /* [nkeys * num] */
    uint32_t *scratch;
    int drawn;
    mix_report rep;
    /* during mix_build: queries of equal text form rings (twin[q] == q: alone) */
    uint32_t *twin;
    const corpus_qrels *qr;
};

#define GROW(arr, n, cap)                                                  \
    ((n) < (cap) ? 0 : grow_((void **)&(arr), &(cap), sizeof *(arr)))

static int grow_(void **p, size_t *cap, size_t elem)
{
    size_t nc = *cap ? *cap * 2 : 64;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

void mix_opts_default(mix_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mix_start = o->mix_end = 0.5;
    o->num = 7;
    o->strategy = MIX_INSTANCE;
    o->batch_size = 32;
    o->seed = 42;
}

int mix_parse_ratio(const char *s, double *start, double *end)
{
    if (!s || !*s) return -1;
    char *e;
    double a = strtod(s, &e), b;
    if (e == s) return -1;
    if (*e == ':') {
        const char *t = e + 1;
        b = strtod(t, &e);
        if (e == t || *e) return -1;
    } else if (*e) {
        return -1;
    } else {
        b = a;
    }
    if (!(a >= 0 && a <= 1 && b >= 0 && b <= 1)) return -1;
    *start = a;
    *end = b;
    return 0;
}

int mix_strategy_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "instance")) return MIX_INSTANCE;
    if (!strcmp(s, "batch")) return MIX_BATCH;
    return -1;
}

const char *mix_strategy_name(int st) { return st == MIX_BATCH ? "batch" : "instance"; }

int mix_source_class(int src)
{
    return src == NEG_LLM || src == NEG_OFFLINE ? MIX_SYNTHETIC : MIX_RETRIEVED;
}

static const char *const excl_names[MIX_NX] = {
    "rejected", "unreviewed", "suspect", "filtered", "duplicate", "positive", "unknown", "offline",
};
const char *mix_exclusion_name(int x) { return x >= 0 && x < MIX_NX ? excl_names[x] : "?"; }

void mix_free(mix_set *m)
{
    if (!m) return;
    arena_free(m->arena);
    free(m->qs); free(m->pos); free(m->pool); free(m->cls_idx); free(m->keys);
    free(m->inst); free(m->inst_key); free(m->negs); free(m->scratch); free(m->twin);
    free(m);
}

/* Is doc d a positive (rel > 0) among the query's qrels rows? */
static int is_qrels_positive(const corpus_qrel *rows, size_t n, int64_t d)
{
    if (d < 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].doc == (uint32_t)d) return rows[i].rel > 0;
    return 0;
}

static int add_pos(mix_set *m, const mix_passage *p)
{
    if (GROW(m->pos, m->npos, m->cappos)) return -1;
    m->pos[m->npos++] = *p;
    return 0;
}

/* A synthetic passage's title (synth_prov_title), in the arena; "" if none. */
static const char *synthetic_title(mix_set *m, const char *prov)
{
    char *t = synth_prov_title(prov);
    const char *out = t ? arena_dup(&m->arena, t) : "";
    free(t);
    return out;
}

/* Resolve a store row to a passage: synthetic text or a corpus document.
 * 0 ok, 1 unknown, -1 ENOMEM. */
static int row_passage(mix_set *m, const neg_row *r, int label, mix_passage *out)
{
    memset(out, 0, sizeof *out);
    out->source = r->source;
    out->score = r->score;
    out->label = label;
    if (r->text && *r->text) {
        out->id = arena_dup(&m->arena, r->neg_id);
        out->text = arena_dup(&m->arena, r->text);
        out->title = synthetic_title(m, r->prov);
        return out->id && out->text && out->title ? 0 : -1;
    }
    int64_t d = corpus_doc_find(m->c, r->neg_id);
    if (d < 0) return 1;
    out->id = corpus_doc_id(m->c, (uint32_t)d);
    out->title = corpus_doc_title(m->c, (uint32_t)d);
    out->text = corpus_doc_text(m->c, (uint32_t)d);
    return 0;
}

typedef struct { uint32_t q; size_t order; const char *neg; } rej_label;

static int cmp_rej(const void *a, const void *b)
{
    const rej_label *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int build_query(mix_set *m, neg_store *ns, labels *lb, uint32_t q,
                       const corpus_qrel *rows, size_t nrows,
                       const rej_label *rej, size_t nrej, sy_err *err)
{
    const char *qid = corpus_query_id(m->c, q);
    mix_query mq = { .query = q, .pos_off = m->npos, .pool_off = m->npool };
    size_t excl[MIX_NX] = {0}, cand[NEG_NSOURCES] = {0}, promoted = 0, from_qrels = 0, sametext = 0;
    const char *ex_q = NULL, *ex_t = NULL, *ex_doc = NULL;

    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].rel <= 0) continue;
        uint32_t d = rows[i].doc;
        mix_passage p = {
            .id = corpus_doc_id(m->c, d), .title = corpus_doc_title(m->c, d),
            .text = corpus_doc_text(m->c, d), .source = MIX_SRC_QRELS,
            .score = (float)rows[i].rel, .label = LABEL_NONE,
        };
        if (add_pos(m, &p)) goto nomem;
        from_qrels++;
    }

    size_t nref = 0, src_start = 0;
    const neg_ref *refs = ns ? neg_store_query(ns, qid, &nref) : NULL;
    for (size_t i = 0; i < nref; i++) {
        neg_row r;
        neg_store_get(ns, refs[i], &r);
        /* a document several retrievers found has one row per source (rows come
         * ordered by source): its first row decides, the others are duplicates */
        if (i) {
            neg_row p0;
            neg_store_get(ns, refs[i - 1], &p0);
            if (p0.source != r.source) src_start = i;
        }
        int again = 0;
        for (size_t j = 0; j < src_start && !(r.text && *r.text) && !again; j++) {
            neg_row o;
            neg_store_get(ns, refs[j], &o);
            again = !strcmp(o.neg_id, r.neg_id);
        }
        if (again) { excl[MIX_X_DUPLICATE]++; continue; }
        label_entry le;
        int label = lb ? labels_get(lb, qid, r.neg_id, &le) : LABEL_NONE;
        int x = -1;
        if (is_qrels_positive(rows, nrows, r.text && *r.text ? -1 : corpus_doc_find(m->c, r.neg_id)))
            x = MIX_X_POSITIVE;
        else if (label == LABEL_REJECT)
            x = MIX_X_REJECTED;
        else if (m->o.reviewed_only && label != LABEL_ACCEPT)
            x = MIX_X_UNREVIEWED;
        else if (label != LABEL_ACCEPT && (r.flags & (NEG_F_SUSPECT | NEG_F_REFLECT_FN)))
            x = MIX_X_SUSPECT;
        else if (label != LABEL_ACCEPT && (r.flags & (NEG_F_MAXREL | NEG_F_MARGIN | NEG_F_MAXSCORE)))
            x = MIX_X_FILTERED;
        else if (label != LABEL_ACCEPT && (r.flags & NEG_F_DUP))
            x = MIX_X_DUPLICATE;
        mix_passage p;
        int rc = row_passage(m, &r, label, &p);
        if (rc < 0) goto nomem;
        if (x == -1 && rc == 1) x = MIX_X_UNKNOWN;
        if (x == -1 && m->o.skip_offline && r.source == NEG_OFFLINE) x = MIX_X_OFFLINE;
        if (x == -1 && rc == 0 && !(r.text && *r.text) && m->twin && m->twin[q] != q) {
            /* a positive of another query with this same text: the text would train both ways */
            int64_t d = corpus_doc_find(m->c, r.neg_id);
            for (uint32_t t = m->twin[q]; t != q; t = m->twin[t]) {
                size_t nt;
                const corpus_qrel *rt = corpus_qrels_of(m->qr, t, &nt);
                if (!is_qrels_positive(rt, nt, d)) continue;
                if (!m->rep.same_text_query && ex_doc == NULL) {
                    ex_q = qid;
                    ex_t = corpus_query_id(m->c, t);
                    ex_doc = p.id;
                }
                sametext++;
                x = MIX_NX;   /* excluded, counted apart */
                break;
            }
            if (x == MIX_NX) continue;
        }
        if (x >= 0) {
            excl[x]++;
            if (x == MIX_X_REJECTED && m->o.promote && rc == 0) {
                p.score = 1;       /* judged relevant: a positive of grade 1 */
                if (add_pos(m, &p)) goto nomem;
                promoted++;
            }
            continue;
        }
        if (GROW(m->pool, m->npool, m->cappool)) goto nomem;
        m->pool[m->npool++] = p;
        cand[r.source < NEG_NSOURCES ? r.source : NEG_IMPORT]++;
    }

    /* rejected labels on corpus documents that are not in the store */
    for (size_t i = 0; i < nrej; i++) {
        neg_row r;
        if (ns && neg_store_find(ns, qid, rej[i].neg, &r)) continue;
        int64_t d = corpus_doc_find(m->c, rej[i].neg);
        if (d < 0 || is_qrels_positive(rows, nrows, d)) continue;
        mix_passage p = {
            .id = corpus_doc_id(m->c, (uint32_t)d), .title = corpus_doc_title(m->c, (uint32_t)d),
            .text = corpus_doc_text(m->c, (uint32_t)d), .source = NEG_MANUAL,
            .score = 1, .label = LABEL_REJECT,
        };
        if (add_pos(m, &p)) goto nomem;
        promoted++;
    }

    mq.npos = m->npos - mq.pos_off;
    mq.npool = m->npool - mq.pool_off;
    if (mq.npos == 0) {
        m->npool = mq.pool_off;     /* a query without positives gives nothing */
        return 0;
    }
    /* counted only for queries that have positives: what training would see */
    m->rep.positives_qrels += from_qrels;
    m->rep.positives_promoted += promoted;
    for (int i = 0; i < MIX_NX; i++) m->rep.excluded[i] += excl[i];
    m->rep.same_text_excluded += sametext;
    if (ex_doc && !m->rep.same_text_query) {
        m->rep.same_text_query = ex_q;
        m->rep.same_text_twin = ex_t;
        m->rep.same_text_doc = ex_doc;
    }
    for (int i = 0; i < NEG_NSOURCES; i++) m->rep.candidates[i] += cand[i];
    if (mq.npool == 0) {
        m->rep.skipped_no_negatives += mq.npos;
        return 0;
    }
    mq.syn_off = m->ncls;
    for (size_t i = 0; i < mq.npool; i++)
        if (mix_source_class(m->pool[mq.pool_off + i].source) == MIX_SYNTHETIC) {
            if (GROW(m->cls_idx, m->ncls, m->capcls)) goto nomem;
            m->cls_idx[m->ncls++] = (uint32_t)i;
        }
    mq.nsyn = m->ncls - mq.syn_off;
    mq.ret_off = m->ncls;
    for (size_t i = 0; i < mq.npool; i++)
        if (mix_source_class(m->pool[mq.pool_off + i].source) == MIX_RETRIEVED) {
            if (GROW(m->cls_idx, m->ncls, m->capcls)) goto nomem;
            m->cls_idx[m->ncls++] = (uint32_t)i;
        }
    mq.nret = m->ncls - mq.ret_off;
    if (!m->o.fill) {
        /* a pure ratio draws from its one class only: R 0 is retrieved only,
         * R 1 synthetic only; a query with none of that class is skipped */
        double lo = m->o.mix_start < m->o.mix_end ? m->o.mix_start : m->o.mix_end;
        double hi = m->o.mix_start < m->o.mix_end ? m->o.mix_end : m->o.mix_start;
        if (hi <= 0) mq.nsyn = 0;
        if (lo >= 1) mq.nret = 0;
        if (mq.nsyn + mq.nret == 0) {
            m->ncls = mq.syn_off;
            m->npool = mq.pool_off;
            m->rep.skipped_no_negatives += mq.npos;
            m->rep.skipped_no_class += mq.npos;
            return 0;
        }
    }
    if (GROW(m->qs, m->nq, m->capq)) goto nomem;
    m->qs[m->nq] = mq;
    for (size_t i = 0; i < mq.npos; i++) {
        if (GROW(m->keys, m->nkeys, m->capkeys)) goto nomem;
        m->keys[m->nkeys++] = (inst_key){ (uint32_t)m->nq, (uint32_t)i };
    }
    m->nq++;
    m->rep.queries++;
    return 0;
nomem:
    return sy_fail(err, SY_ENOMEM, "mix: out of memory while gathering query %s", qid);
}

mix_set *mix_build(session *s, const mix_opts *opts, sy_err *err)
{
    if (!opts || opts->num < 1 || opts->num > 100000)
        return sy_fail(err, SY_EINVAL, "mix: the number of negatives per instance must be 1..100000"), NULL;
    if (!(opts->mix_start >= 0 && opts->mix_start <= 1 && opts->mix_end >= 0 && opts->mix_end <= 1))
        return sy_fail(err, SY_EINVAL, "mix: the synthetic ratio must lie in 0..1"), NULL;
    if (opts->strategy != MIX_INSTANCE && opts->strategy != MIX_BATCH)
        return sy_fail(err, SY_EINVAL, "mix: unknown strategy %d; use instance or batch", opts->strategy), NULL;
    corpus *c = session_corpus(s, err);
    if (!c) return NULL;
    const char *split = opts->split ? opts->split : session_train_split(s);
    const corpus_qrels *qr = corpus_qrels_for(c, split);
    if (!qr)
        return sy_fail(err, SY_ENOTFOUND, "%s: the data set has no split '%s'; pick one with --split",
                       session_source_path(s), split), NULL;
    mix_set *m = calloc(1, sizeof *m);
    if (!m) return sy_fail(err, SY_ENOMEM, "mix: out of memory"), NULL;
    m->c = c;
    m->o = *opts;
    m->o.queries = NULL;
    m->o.nqueries = 0;
    if (!m->o.batch_size) m->o.batch_size = 32;
    m->o.split = NULL;

    neg_store *ns = session_negs(s);
    labels *lb = session_labels(s);

    /* optional query filter */
    uint8_t *want = NULL;
    if (opts->queries) {
        want = calloc(corpus_nqueries(c) + 1, 1);
        if (!want) goto nomem;
        for (size_t i = 0; i < opts->nqueries; i++) {
            int64_t q = corpus_query_find(c, opts->queries[i]);
            if (q < 0) {
                free(want);
                mix_free(m);
                return sy_fail(err, SY_ENOTFOUND, "mix: unknown query id '%s'", opts->queries[i]), NULL;
            }
            want[q] = 1;
        }
    }

    /* rejected labels by query, for promotion of documents outside the store */
    rej_label *rej = NULL;
    size_t nrej = 0;
    if (opts->promote && lb) {
        size_t nl = labels_size(lb);
        rej = malloc((nl ? nl : 1) * sizeof *rej);
        if (!rej) { free(want); goto nomem; }
        for (size_t i = 0; i < nl; i++) {
            label_entry e;
            labels_at(lb, i, &e);
            if (e.kind != LABEL_REJECT) continue;
            int64_t q = corpus_query_find(c, e.query_id);
            if (q < 0) continue;
            const char *neg = arena_dup(&m->arena, e.neg_id);
            if (!neg) { free(rej); free(want); goto nomem; }
            rej[nrej++] = (rej_label){ (uint32_t)q, i, neg };
        }
        qsort(rej, nrej, sizeof *rej, cmp_rej);
    }

    /* queries of equal text, in rings */
    m->qr = qr;
    m->twin = malloc((corpus_nqueries(c) + 1) * sizeof *m->twin);
    sy_strmap texts;
    if (!m->twin || sy_strmap_init(&texts, corpus_qrels_nqueries(qr) + 1) < 0) { free(rej); free(want); goto nomem; }
    for (uint32_t q = 0; q < corpus_nqueries(c); q++) m->twin[q] = q;
    for (size_t i = 0; i < qr->n; i++) {
        uint32_t q = qr->rows[i].query, first;
        if (i && qr->rows[i - 1].query == q) continue;
        const char *t = corpus_query_text(c, q);
        int put = sy_strmap_put(&texts, t, strlen(t), q, &first);
        if (put < 0) { sy_strmap_free(&texts); free(rej); free(want); goto nomem; }
        if (put == 0) {
            m->rep.same_text_queries += m->twin[first] == first ? 2 : 1;
            m->twin[q] = m->twin[first];
            m->twin[first] = q;
        }
    }
    sy_strmap_free(&texts);

    size_t r = 0, k = 0;
    while (r < qr->n) {
        uint32_t q = qr->rows[r].query;
        size_t e = r;
        while (e < qr->n && qr->rows[e].query == q) e++;
        while (k < nrej && rej[k].q < q) k++;
        size_t k2 = k;
        while (k2 < nrej && rej[k2].q == q) k2++;
        if (!want || want[q]) {
            if (build_query(m, ns, lb, q, qr->rows + r, e - r, rej + k, k2 - k, err)) {
                free(rej); free(want); mix_free(m);
                return NULL;
            }
        }
        k = k2;
        r = e;
    }
    free(rej);
    free(want);
    free(m->twin);
    m->twin = NULL;
    m->rep.instances = m->nkeys;

    size_t maxpool = 1;
    for (size_t i = 0; i < m->nq; i++)
        if (m->qs[i].npool > maxpool) maxpool = m->qs[i].npool;
    m->inst = calloc(m->nkeys ? m->nkeys : 1, sizeof *m->inst);
    m->inst_key = calloc(m->nkeys ? m->nkeys : 1, sizeof *m->inst_key);
    m->negs = calloc((m->nkeys ? m->nkeys : 1) * (size_t)m->o.num, sizeof *m->negs);
    m->scratch = malloc((maxpool > m->o.batch_size ? maxpool : m->o.batch_size) * sizeof *m->scratch);
    if (!m->inst || !m->inst_key || !m->negs || !m->scratch) goto nomem;
    return m;
nomem:
    mix_free(m);
    return sy_fail(err, SY_ENOMEM, "mix: out of memory"), NULL;
}

size_t mix_ninstances(const mix_set *m) { return m ? m->nkeys : 0; }
const mix_report *mix_get_report(const mix_set *m) { return &m->rep; }

/* Take k of the n class indices at cls (local pool indices), without replacement. */
static void take(mix_set *m, mix_rng *rng, const mix_query *q, const uint32_t *cls, size_t n,
                 size_t k, const mix_passage **out)
{
    uint32_t *t = m->scratch;
    memcpy(t, cls, n * sizeof *t);
    for (size_t i = 0; i < k; i++) {
        size_t j = i + rng_below(rng, n - i);
        uint32_t x = t[i]; t[i] = t[j]; t[j] = x;
        out[i] = &m->pool[q->pool_off + t[i]];
    }
}

static size_t passage_words(const mix_passage *p)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *s = pass ? p->text : p->title;
        for (size_t i = 0; s && s[i]; i++) n += !isspace((unsigned char)s[i]) && (i == 0 || isspace((unsigned char)s[i - 1]));
    }
    return n;
}

/* opts.length_match: take k of the n synthetic indices at cls, each the one
 * closest in length to a retrieved candidate drawn at random (ties: the
 * earlier of a seeded shuffle), so synthetic negatives follow the retrieved
 * negatives' length distribution. */
static void take_matched(mix_set *m, mix_rng *rng, const mix_query *q, const uint32_t *cls, size_t n, size_t k,
                         const uint32_t *ret, size_t nret, const mix_passage **out)
{
    if (!nret) { take(m, rng, q, cls, n, k, out); return; }
    uint32_t *t = m->scratch;
    memcpy(t, cls, n * sizeof *t);
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(rng, i);
        uint32_t x = t[i - 1]; t[i - 1] = t[j]; t[j] = x;
    }
    for (size_t i = 0; i < k; i++) {
        size_t want = passage_words(&m->pool[q->pool_off + ret[rng_below(rng, nret)]]), best = i, bd = SIZE_MAX;
        for (size_t j = i; j < n; j++) {
            size_t w = passage_words(&m->pool[q->pool_off + t[j]]), d = w > want ? w - want : want - w;
            if (d < bd) { bd = d; best = j; }
        }
        uint32_t x = t[i]; t[i] = t[best]; t[best] = x;
        out[i] = &m->pool[q->pool_off + t[i]];
    }
}

static double ratio_at(const mix_set *m, size_t pos, unsigned epoch, unsigned nepochs)
{
    double total = (double)nepochs * (double)m->nkeys;
    double p = total > 1 ? ((double)epoch * (double)m->nkeys + (double)pos) / (total - 1) : 0;
    return m->o.mix_start + (m->o.mix_end - m->o.mix_start) * p;
}

static size_t round_count(double r, size_t n)
{
    size_t k = (size_t)floor(r * (double)n + 0.5);
    return k > n ? n : k;
}

int mix_draw(mix_set *m, unsigned epoch, unsigned nepochs, sy_err *err)
{
    if (!m) return sy_fail(err, SY_EINVAL, "mix_draw: no set");
    if (nepochs == 0 || epoch >= nepochs)
        return sy_fail(err, SY_EINVAL, "mix_draw: epoch %u out of range 0..%u", epoch, nepochs ? nepochs - 1 : 0);
    size_t n = m->nkeys, N = m->o.num;
    mix_rng rng;

    /* training order */
    for (size_t i = 0; i < n; i++) m->inst_key[i] = i;
    if (m->o.shuffle && n > 1) {
        rng_seed(&rng, m->o.seed, 0x5u + epoch, UINT64_MAX);
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = rng_below(&rng, i + 1);
            size_t x = m->inst_key[i]; m->inst_key[i] = m->inst_key[j]; m->inst_key[j] = x;
        }
    }

    /* batch strategy: class per position, balanced within each window */
    if (m->o.strategy == MIX_BATCH) {
        size_t B = m->o.batch_size;
        rng_seed(&rng, m->o.seed, 0xbu + epoch, UINT64_MAX - 1);
        for (size_t b = 0; b < n; b += B) {
            size_t len = n - b < B ? n - b : B;
            size_t k = round_count(ratio_at(m, b, epoch, nepochs), len);
            uint32_t *t = m->scratch;
            for (size_t i = 0; i < len; i++) t[i] = (uint32_t)i;
            for (size_t i = 0; i < k; i++) {
                size_t j = i + rng_below(&rng, len - i);
                uint32_t x = t[i]; t[i] = t[j]; t[j] = x;
            }
            for (size_t i = 0; i < len; i++) m->inst[b + i].cls = MIX_RETRIEVED;
            for (size_t i = 0; i < k; i++) m->inst[b + t[i]].cls = MIX_SYNTHETIC;
        }
    }

    for (size_t i = 0; i < n; i++) {
        size_t key = m->inst_key[i];
        const mix_query *q = &m->qs[m->keys[key].q];
        mix_instance *in = &m->inst[i];
        const mix_passage **out = m->negs + i * N;
        double R = ratio_at(m, i, epoch, nepochs);
        rng_seed(&rng, m->o.seed, epoch, key);
        const uint32_t *S = m->cls_idx + q->syn_off, *T = m->cls_idx + q->ret_off;
        size_t ns = q->nsyn, nr = q->nret, ws, wr;
        if (m->o.strategy == MIX_BATCH) {
            ws = in->cls == MIX_SYNTHETIC ? N : 0;
        } else {
            in->cls = -1;
            ws = round_count(R, N);
        }
        wr = N - ws;
        size_t ws0 = ws, wr0 = wr;
        /* a class with no rows at all for this query gives its share to the
         * other class (rows drawn beyond a class's share count as fills) */
        if (ws && !ns) { wr += ws; ws = 0; }
        if (wr && !nr) { ws += wr; wr = 0; }
        size_t ts = ws < ns ? ws : ns, tr = wr < nr ? wr : nr;
        if (m->o.fill) {
            /* opts.fill: a class short of rows borrows from the other first */
            size_t ds = ws - ts, dr = wr - tr;
            size_t er = ds < nr - tr ? ds : nr - tr, es = dr < ns - ts ? dr : ns - ts;
            tr += er;
            ts += es;
        }
        m->rep.fill_synthetic_short += tr > wr0 ? tr - wr0 : 0;
        m->rep.fill_retrieved_short += ts > ws0 ? ts - ws0 : 0;
        if (m->o.length_match) take_matched(m, &rng, q, S, ns, ts, T, nr, out);
        else take(m, &rng, q, S, ns, ts, out);
        take(m, &rng, q, T, nr, tr, out + ts);
        size_t got = ts + tr, G = m->o.no_repeat ? got : N;
        if (got < N) {
            m->rep.padded_instances++;
            if (!m->rep.padded_query || got < m->rep.padded_distinct) {
                m->rep.padded_query = corpus_query_id(m->c, q->query);
                m->rep.padded_distinct = got;
            }
        }
        if (m->o.no_repeat) {
            /* opts.no_repeat: the group holds only its distinct rows */
        } else if (m->o.fill) {
            for (size_t j = got; j < N; j++) out[j] = out[rng_below(&rng, got)];
        } else {
            /* without fill, a short class repeats its own rows: the ratio holds */
            size_t j = got;
            for (size_t k = ts; k < ws; k++) out[j++] = out[rng_below(&rng, ts)];
            for (size_t k = tr; k < wr; k++) out[j++] = out[ts + rng_below(&rng, tr)];
        }
        m->rep.repeats += G - got;
        /* shuffle the group so position says nothing about the source */
        for (size_t j = G - 1; j > 0; j--) {
            size_t t = rng_below(&rng, j + 1);
            const mix_passage *x = out[j]; out[j] = out[t]; out[t] = x;
        }
        for (size_t j = 0; j < G; j++) m->rep.drawn[out[j]->source]++;
        in->query = q->query;
        in->query_id = corpus_query_id(m->c, q->query);
        in->query_text = corpus_query_text(m->c, q->query);
        in->pos = &m->pos[q->pos_off + m->keys[key].pos];
        in->negs = out;
        in->nneg = G;
        in->ratio = R;
    }
    m->rep.drawn_instances += n;
    m->drawn = 1;
    return 0;
}

const mix_instance *mix_at(const mix_set *m, size_t i)
{
    if (!m || !m->drawn || i >= m->nkeys) return NULL;
    return &m->inst[i];
}

const mix_passage *mix_query_positives(const mix_set *m, size_t i, size_t *n)
{
    if (!m || i >= m->nkeys) { *n = 0; return NULL; }
    const mix_query *q = &m->qs[m->keys[m->drawn ? m->inst_key[i] : i].q];
    *n = q->npos;
    return m->pos + q->pos_off;
}

const mix_passage *mix_query_pool(const mix_set *m, size_t i, size_t *n)
{
    if (!m || i >= m->nkeys) { *n = 0; return NULL; }
    const mix_query *q = &m->qs[m->keys[m->drawn ? m->inst_key[i] : i].q];
    *n = q->npool;
    return m->pool + q->pool_off;
}
