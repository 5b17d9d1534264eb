/* audit: the shortcut audit (see audit.h). */
#include "audit.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "negstore.h"
#include "passage.h"

static const char *const feat_names[AUDIT_NFEAT] = {"title", "length", "punct", "digits", "overlap", "score"};
const char *audit_feature_name(int f) { return f >= 0 && f < AUDIT_NFEAT ? feat_names[f] : "?"; }

/* ---- word overlap ---- */

static int is_wbyte(unsigned char c) { return isalnum(c) || c >= 0x80; }

/* Distinct lower-cased words of s, as hashes, sorted; *n of them. */
static uint64_t *word_set(const char *s, size_t *n)
{
    size_t cap = 64, k = 0;
    uint64_t *v = malloc(cap * sizeof *v);
    char w[64];
    for (size_t i = 0; v && s && s[i];) {
        while (s[i] && !is_wbyte((unsigned char)s[i])) i++;
        size_t l = 0;
        while (s[i] && is_wbyte((unsigned char)s[i])) {
            if (l < sizeof w) w[l++] = (char)tolower((unsigned char)s[i]);
            i++;
        }
        if (!l) continue;
        if (k == cap) {
            uint64_t *nv = realloc(v, (cap *= 2) * sizeof *nv);
            if (!nv) { free(v); return NULL; }
            v = nv;
        }
        v[k++] = sy_hash64(w, l);
    }
    if (!v) { *n = 0; return NULL; }
    for (size_t i = 1; i < k; i++)   /* insertion sort: passages are short */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) { uint64_t t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (!u || v[u - 1] != v[i]) v[u++] = v[i];
    *n = u;
    return v;
}

double audit_word_overlap(const char *a, const char *b)
{
    size_t na, nb;
    uint64_t *wa = word_set(a, &na), *wb = word_set(b, &nb);
    size_t hit = 0;
    for (size_t i = 0, j = 0; i < na && j < nb;) {
        if (wa[i] == wb[j]) { hit++; i++; j++; }
        else if (wa[i] < wb[j]) i++;
        else j++;
    }
    free(wa);
    free(wb);
    return na ? (double)hit / (double)na : 0;
}

void audit_features(const char *title, const char *text, const char *positive, double score,
                    double x[AUDIT_NFEAT])
{
    sy_buf b = {0};
    passage_append(&b, title, text, (size_t)-1, PASSAGE_TITLES);
    const char *p = b.data ? b.data : "";
    size_t chars = 0, punct = 0, digits = 0, words = 0;
    for (size_t i = 0; p[i]; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c & 0xc0) == 0x80) continue;   /* count characters, not UTF-8 bytes */
        chars++;
        punct += c < 128 && ispunct(c);
        digits += c < 128 && isdigit(c);
        words += !isspace(c) && (i == 0 || isspace((unsigned char)p[i - 1]));
    }
    x[AUDIT_TITLE] = title && *title;
    x[AUDIT_LENGTH] = (double)words;
    x[AUDIT_PUNCT] = chars ? (double)punct / (double)chars : 0;
    x[AUDIT_DIGITS] = chars ? (double)digits / (double)chars : 0;
    x[AUDIT_OVERLAP] = audit_word_overlap(p, positive);
    x[AUDIT_SCORE] = score;
    sy_buf_free(&b);
}

/* ---- AUC ---- */

typedef struct { double v; int cls; } vc;

static int cmp_vc(const void *a, const void *b)
{
    const vc *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* Rank AUC of class 1 over class 0 from n (value, class) pairs (sorted in place). */
static double auc_pairs(vc *p, size_t n)
{
    qsort(p, n, sizeof *p, cmp_vc);
    double rank_sum = 0;
    size_t n1 = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].v == p[i].v) j++;
        double avg = (double)(i + 1 + j) / 2.0;   /* 1-based ranks i+1..j */
        for (size_t k = i; k < j; k++)
            if (p[k].cls) { rank_sum += avg; n1++; }
        i = j;
    }
    size_t n0 = n - n1;
    if (!n1 || !n0) return NAN;
    return (rank_sum - (double)n1 * (double)(n1 + 1) / 2.0) / ((double)n1 * (double)n0);
}

double audit_auc(const double *a, size_t na, const double *b, size_t nb)
{
    vc *p = malloc((na + nb + 1) * sizeof *p);
    if (!p) return NAN;
    for (size_t i = 0; i < na; i++) p[i] = (vc){a[i], 1};
    for (size_t i = 0; i < nb; i++) p[na + i] = (vc){b[i], 0};
    double r = auc_pairs(p, na + nb);
    free(p);
    return r;
}

/* ---- the logistic model ---- */

/* Fit w (d + 1 weights, last the bias) on the samples with (i % 2) == fold
 * over standardised features; plain gradient descent, L2 1e-3. */
static void fit(const double *X, const int *y, size_t n, int d, int fold, double *w)
{
    memset(w, 0, (size_t)(d + 1) * sizeof *w);
    double *g = calloc((size_t)d + 1, sizeof *g);
    if (!g) return;
    size_t m = 0;
    for (size_t i = (size_t)fold; i < n; i += 2) m++;
    if (!m) { free(g); return; }
    for (int it = 0; it < 300; it++) {
        memset(g, 0, (size_t)(d + 1) * sizeof *g);
        for (size_t i = (size_t)fold; i < n; i += 2) {
            const double *x = X + i * (size_t)d;
            double z = w[d];
            for (int k = 0; k < d; k++) z += w[k] * x[k];
            double e = 1.0 / (1.0 + exp(-z)) - y[i];
            for (int k = 0; k < d; k++) g[k] += e * x[k];
            g[d] += e;
        }
        for (int k = 0; k <= d; k++) w[k] -= 0.5 * (g[k] / (double)m + (k < d ? 1e-3 * w[k] : 0));
    }
    free(g);
}

static double logistic_auc(const audit_sample *s, size_t n, const int *use, int d)
{
    double *X = malloc(n * (size_t)(d ? d : 1) * sizeof *X);
    int *y = malloc(n * sizeof *y);
    vc *p = malloc(n * sizeof *p);
    double w[AUDIT_NFEAT + 1], r = NAN;
    if (!X || !y || !p || !d) goto out;
    for (int k = 0, c = 0; k < AUDIT_NFEAT; k++) {   /* standardise each used feature */
        if (!use[k]) continue;
        double mu = 0, sd = 0;
        for (size_t i = 0; i < n; i++) mu += s[i].x[k];
        mu /= (double)n;
        for (size_t i = 0; i < n; i++) sd += (s[i].x[k] - mu) * (s[i].x[k] - mu);
        sd = sqrt(sd / (double)n);
        for (size_t i = 0; i < n; i++) X[i * (size_t)d + c] = sd > 0 ? (s[i].x[k] - mu) / sd : 0;
        c++;
    }
    for (size_t i = 0; i < n; i++) y[i] = s[i].synthetic;
    for (int fold = 0; fold < 2; fold++) {   /* fit on one half, score the other */
        fit(X, y, n, d, fold, w);
        for (size_t i = (size_t)(1 - fold); i < n; i += 2) {
            double z = w[d];
            for (int k = 0; k < d; k++) z += w[k] * X[i * (size_t)d + k];
            p[i] = (vc){z, y[i]};
        }
    }
    r = auc_pairs(p, n);
    if (!isnan(r) && r < 0.5) r = 1 - r;   /* a model that separates "backwards" still separates */
out:
    free(X);
    free(y);
    free(p);
    return r;
}

static double median(double *v, size_t n)
{
    if (!n) return NAN;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) { double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int audit_compute(const audit_sample *s, size_t n, int have_score, audit_report *r, sy_err *err)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        if (s[i].synthetic) r->nsyn++;
        else r->nret++;
    }
    double *a = malloc((r->nsyn + 1) * sizeof *a), *b = malloc((r->nret + 1) * sizeof *b);
    if (!a || !b) { free(a); free(b); return sy_fail(err, SY_ENOMEM, "out of memory for the audit"); }
    int use[AUDIT_NFEAT] = {0}, d = 0;
    for (int k = 0; k < AUDIT_NFEAT; k++) {
        r->auc[k] = r->direction[k] = NAN;
        if (k == AUDIT_SCORE && !have_score) continue;
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i].synthetic) a[na++] = s[i].x[k];
            else b[nb++] = s[i].x[k];
        }
        double A = audit_auc(a, na, b, nb);
        r->have[k] = 1;
        r->direction[k] = A;
        r->auc[k] = isnan(A) ? NAN : A < 0.5 ? 1 - A : A;
        if (!isnan(r->auc[k]) && r->auc[k] > AUDIT_WARN) r->warn = 1;
        use[k] = 1;
        d++;
        if (k == AUDIT_OVERLAP) {
            qsort(a, na, sizeof *a, cmp_double);
            qsort(b, nb, sizeof *b, cmp_double);
            r->median_overlap_syn = median(a, na);
            r->median_overlap_ret = median(b, nb);
        }
        if (k == AUDIT_LENGTH || k == AUDIT_TITLE) {
            double sa = 0, sb = 0;
            for (size_t i = 0; i < na; i++) sa += a[i];
            for (size_t i = 0; i < nb; i++) sb += b[i];
            double ma = na ? sa / (double)na : NAN, mb = nb ? sb / (double)nb : NAN;
            if (k == AUDIT_LENGTH) { r->mean_len_syn = ma; r->mean_len_ret = mb; }
            else { r->title_syn = ma; r->title_ret = mb; }
        }
    }
    free(a);
    free(b);
    r->logistic_auc = r->nsyn && r->nret ? logistic_auc(s, n, use, d) : NAN;
    if (!isnan(r->logistic_auc) && r->logistic_auc > AUDIT_WARN) r->warn = 1;
    return 0;
}

int audit_mix(const mix_set *m, int titles, retriever *scorer, audit_report *r, sy_err *err)
{
    size_t ni = mix_ninstances(m), total = 0;
    for (size_t i = 0; i < ni; i++) total += mix_at(m, i)->nneg;
    size_t step = total > AUDIT_MAX_SAMPLES ? (total + AUDIT_MAX_SAMPLES - 1) / AUDIT_MAX_SAMPLES : 1;
    audit_sample *s = malloc((total / step + 2) * sizeof *s);
    if (!s) return sy_fail(err, SY_ENOMEM, "out of memory for the audit");
    size_t n = 0, seen = 0;
    int have_score = scorer != NULL;
    sy_buf pos = {0};
    for (size_t i = 0; i < ni; i++) {
        const mix_instance *in = mix_at(m, i);
        pos.len = 0;
        passage_append(&pos, in->pos->title, in->pos->text, (size_t)-1, titles);
        for (size_t j = 0; j < in->nneg; j++, seen++) {
            if (seen % step) continue;
            const mix_passage *p = in->negs[j];
            float sc = 0;
            if (have_score) {
                const char *tt[1] = {titles ? p->title : ""}, *tx[1] = {p->text};
                if (retriever_score_texts(scorer, in->query_text, tt, tx, 1, &sc, NULL) < 0) have_score = 0;
            }
            audit_features(titles ? p->title : "", p->text, pos.data ? pos.data : "", sc, s[n].x);
            s[n++].synthetic = mix_source_class(p->source) == MIX_SYNTHETIC;
        }
    }
    sy_buf_free(&pos);
    int rc = audit_compute(s, n, have_score, r, err);
    if (!rc && have_score) snprintf(r->scorer, sizeof r->scorer, "%s", retriever_kind(scorer));
    free(s);
    return rc;
}

static json_t *jnum(double v) { return isnan(v) ? json_null() : json_real(round(v * 1e4) / 1e4); }

json_t *audit_report_json(const audit_report *r)
{
    json_t *o = json_object(), *auc = json_object(), *dir = json_object(), *mo = json_object();
    json_object_set_new(o, "synthetic", json_integer((json_int_t)r->nsyn));
    json_object_set_new(o, "retrieved", json_integer((json_int_t)r->nret));
    for (int k = 0; k < AUDIT_NFEAT; k++) {
        if (!r->have[k]) continue;
        json_object_set_new(auc, feat_names[k], jnum(r->auc[k]));
        json_object_set_new(dir, feat_names[k], jnum(r->direction[k]));
    }
    json_object_set_new(o, "auc", auc);
    json_object_set_new(o, "direction", dir);
    json_object_set_new(o, "logistic_auc", jnum(r->logistic_auc));
    json_object_set_new(mo, "synthetic", jnum(r->median_overlap_syn));
    json_object_set_new(mo, "retrieved", jnum(r->median_overlap_ret));
    json_object_set_new(o, "median_overlap", mo);
    json_object_set_new(o, "threshold", json_real(AUDIT_WARN));
    json_object_set_new(o, "warning", json_boolean(r->warn));
    json_object_set_new(o, "scorer", json_string(r->scorer));
    return o;
}

void audit_report_text(const audit_report *r, sy_buf *out)
{
    if (!r->nsyn || !r->nret) {
        sy_buf_printf(out, "shortcut audit: needs synthetic and retrieved negatives (%zu synthetic, %zu retrieved)\n",
                      r->nsyn, r->nret);
        return;
    }
    sy_buf_printf(out, "shortcut audit (AUC separating %zu synthetic from %zu retrieved negatives; 0.5 = none):\n ",
                  r->nsyn, r->nret);
    for (int k = 0; k < AUDIT_NFEAT; k++)
        if (r->have[k]) sy_buf_printf(out, " %s %.2f", k == AUDIT_SCORE && *r->scorer ? r->scorer : feat_names[k], r->auc[k]);
    sy_buf_printf(out, "; all features (logistic) %.2f\n", r->logistic_auc);
    sy_buf_printf(out, "  median word overlap with the positive: synthetic %.2f, retrieved %.2f\n",
                  r->median_overlap_syn, r->median_overlap_ret);
    if (!r->warn) return;
    sy_buf_puts(out, "  WARNING: a model can tell synthetic negatives by");
    int first = 1;
    for (int k = 0; k < AUDIT_NFEAT; k++)
        if (r->have[k] && r->auc[k] > AUDIT_WARN) {
            sy_buf_printf(out, "%s %s (%.2f)", first ? "" : ",", feat_names[k], r->auc[k]);
            first = 0;
        }
    if (r->logistic_auc > AUDIT_WARN) sy_buf_printf(out, "%s all features together (%.2f)", first ? "" : ",", r->logistic_auc);
    sy_buf_puts(out, " above 0.75");
    if (r->have[AUDIT_TITLE] && r->auc[AUDIT_TITLE] > AUDIT_WARN)
        sy_buf_puts(out, "; titles: regenerate with the current prompt (it asks for one) or export --no-title");
    if (r->have[AUDIT_LENGTH] && r->auc[AUDIT_LENGTH] > AUDIT_WARN) sy_buf_puts(out, "; length: export --length-match");
    sy_buf_puts(out, "\n");
}
