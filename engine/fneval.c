/* fneval: held-out positives through a dry mining run (see fneval.h). */
#include "fneval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct { float fnl; uint8_t hidden, outcome; uint32_t query, doc; } written;

typedef struct {
    written *v;
    size_t n, cap;
    size_t in_window, exported, caught;
    FILE *feat;
    const corpus *c;
    int oom;
} collect;

static void put_num(FILE *f, float v)
{
    if (isnan(v)) fputs("\tnan", f);
    else fprintf(f, "\t%.5f", v);
}

static void on_cand(void *ctx, const mine_cand *mc)
{
    collect *k = ctx;
    if (k->feat && (mc->outcome != MINE_DROPPED || mc->fnl > 0)) {
        fprintf(k->feat, "%s\t%s\t%d\t%d\t%u\t%.5f", corpus_query_id(k->c, mc->query), corpus_doc_id(k->c, mc->doc),
                mc->hidden, mc->outcome, mc->rank, mc->fnl);
        put_num(k->feat, mc->sig.prel);
        put_num(k->feat, mc->sig.list);
        put_num(k->feat, mc->sig.gap);
        put_num(k->feat, mc->sig.rank);
        put_num(k->feat, mc->sig.posrel);
        put_num(k->feat, mc->sig.possim);
        put_num(k->feat, mc->sig.posnear);
        put_num(k->feat, mc->sig.posmean);
        put_num(k->feat, mc->sig.posrr);
        put_num(k->feat, mc->sig.posref);
        put_num(k->feat, mc->sig.agree);
        fputc('\n', k->feat);
    }
    if (mc->hidden && (mc->fnl > 0 || mc->outcome != MINE_DROPPED)) {
        k->in_window++;
        if (mc->outcome == MINE_CLEAN) k->exported++;
        if (mc->outcome == MINE_SUSPECT) k->caught++;
    }
    if (mc->outcome == MINE_DROPPED) return;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 4096;
        written *p = realloc(k->v, nc * sizeof *p);
        if (!p) { k->oom = 1; return; }
        k->v = p;
        k->cap = nc;
    }
    k->v[k->n++] = (written){mc->fnl, (uint8_t)mc->hidden, (uint8_t)mc->outcome, mc->query, mc->doc};
}

static int cmp_fnl_desc(const void *a, const void *b)
{
    const written *x = a, *y = b;
    if (x->fnl != y->fnl) return x->fnl > y->fnl ? -1 : 1;
    /* ties: suspects before clean rows, then hidden last (no credit for luck) */
    if (x->outcome != y->outcome) return x->outcome > y->outcome ? -1 : 1;
    return (int)x->hidden - (int)y->hidden;
}

static double share(size_t a, size_t b) { return b ? (double)a / (double)b : 0.0; }

/* The judge step (fneval_run_judged): the rows mining would write go to the
 * judge; a verdict sets the row's outcome (false negative: suspect; negative:
 * clean) and its likelihood, and the counts are taken again from the rows. */
static int judge_rows(collect *k, fneval_judge_fn judge, void *ctx, sy_err *err)
{
    judge_cand *jc = calloc(k->n ? k->n : 1, sizeof *jc);
    if (!jc) return sy_fail(err, SY_ENOMEM, "fneval: out of memory");
    for (size_t i = 0; i < k->n; i++)
        jc[i] = (judge_cand){.query = k->v[i].query, .doc = k->v[i].doc, .pos = JUDGE_POS_BEST, .fnl = k->v[i].fnl};
    if (judge(ctx, jc, k->n, err) < 0) {
        free(jc);
        return -1;
    }
    k->caught = k->exported = 0;
    for (size_t i = 0; i < k->n; i++) {
        written *w = &k->v[i];
        if (jc[i].verdict >= 0) {
            w->outcome = jc[i].verdict ? MINE_SUSPECT : MINE_CLEAN;
            w->fnl = jc[i].fnl;
        }
        if (w->hidden && w->outcome == MINE_SUSPECT) k->caught++;
        if (w->hidden && w->outcome == MINE_CLEAN) k->exported++;
    }
    free(jc);
    return 0;
}

int fneval_run(session *s, retriever *r, const mine_opts *base, const char *features_path, fneval_report *rep,
               sy_err *err)
{
    return fneval_run_judged(s, r, base, features_path, NULL, NULL, rep, err);
}

int fneval_run_judged(session *s, retriever *r, const mine_opts *base, const char *features_path,
                      fneval_judge_fn judge, void *judge_ctx, fneval_report *rep, sy_err *err)
{
    memset(rep, 0, sizeof *rep);
    corpus *c = session_corpus(s, err);
    if (!c) return -1;
    mine_opts o = *base;
    if (!(o.hide_share > 0)) o.hide_share = FNEVAL_HIDE_DEFAULT;
    if (o.hide_share >= 1) return sy_fail(err, SY_EINVAL, "fneval: the hidden share must be in (0, 1), got %g", o.hide_share);
    o.dry_run = 1;
    collect k = {.c = c};
    if (features_path) {
        k.feat = fopen(features_path, "w");
        if (!k.feat) return sy_fail_errno(err, errno, "%s: cannot write the features file", features_path);
        fputs("query\tdoc\thidden\toutcome\trank\tfnl\tprel\tlist\tgap\trank_norm\tposrel\tpossim\tposnear\tposmean\tposrr\tposref\tagree\n", k.feat);
    }
    o.on_cand = on_cand;
    o.cand_ctx = &k;
    int rc = mine_run(s, r, &o, &rep->mine, err);
    if (k.feat && fclose(k.feat) != 0 && rc == 0) rc = sy_fail_errno(err, errno, "%s: write failed", features_path);
    if (rc == 0 && k.oom) rc = sy_fail(err, SY_ENOMEM, "fneval: out of memory");
    if (rc == 0 && judge && judge_rows(&k, judge, judge_ctx, err) < 0) rc = -1;
    if (rc < 0) {
        free(k.v);
        return -1;
    }
    rep->hide_share = o.hide_share;
    rep->hidden = rep->mine.hidden;
    rep->in_window = k.in_window;
    rep->caught = k.caught;
    rep->exported = k.exported;
    rep->rows = k.n;
    rep->suspects = rep->mine.suspects;
    rep->clean = rep->mine.negatives;
    if (judge) {   /* the judge moved rows between suspects and clean negatives */
        rep->suspects = rep->clean = 0;
        for (size_t i = 0; i < k.n; i++) {
            rep->suspects += k.v[i].outcome == MINE_SUSPECT;
            rep->clean += k.v[i].outcome == MINE_CLEAN;
        }
    }
    rep->requested = (size_t)o.num * rep->mine.mined;
    qsort(k.v, k.n, sizeof *k.v, cmp_fnl_desc);
    size_t top = (k.n + 9) / 10;
    for (size_t i = 0; i < top; i++) rep->caught_top10 += k.v[i].hidden;
    free(k.v);
    rep->mined = rep->caught + rep->exported;
    rep->recall = share(rep->caught, rep->mined);
    rep->recall_top10 = share(rep->caught_top10, rep->mined);
    rep->recall_window = share(rep->caught, rep->in_window);
    rep->suspect_rate = share(rep->suspects, rep->rows);
    rep->clean_kept = share(rep->clean, rep->requested);
    rep->exported_share = share(rep->exported, rep->mined);
    return 0;
}

json_t *fneval_report_json(const fneval_report *r)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "hide_share", json_real(r->hide_share));
#define I(name) json_object_set_new(o, #name, json_integer((json_int_t)r->name))
#define D(name) json_object_set_new(o, #name, json_real(r->name))
    I(hidden); I(in_window); I(mined); I(caught); I(caught_top10); I(exported); I(rows); I(suspects); I(clean);
    I(requested); D(recall); D(recall_top10); D(recall_window); D(suspect_rate); D(clean_kept); D(exported_share);
#undef I
#undef D
    json_object_set_new(o, "mine", mine_report_json(&r->mine));
    return o;
}
