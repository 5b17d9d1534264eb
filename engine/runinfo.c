/* runinfo: a run's curves, config and launch data; comparisons.  See runinfo.h. */
#include "runinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

int runinfo_load(const char *run_dir, runinfo *ri, sy_err *err)
{
    memset(ri, 0, sizeof *ri);
    if (runs_read_status(run_dir, &ri->st, err) < 0) return -1;
    char *cp = sy_path_join(run_dir, "config.json");
    json_t *cfg = cp ? json_load_file(cp, 0, NULL) : NULL;
    free(cp);
    if (json_is_object(json_object_get(cfg, "options"))) ri->options = json_incref(json_object_get(cfg, "options"));
    json_decref(cfg);
    size_t off = 0, caps = 0, cape = 0;
    sy_buf b = {0};
    if (runs_read_progress(run_dir, &off, &b, NULL) < 0) { sy_buf_free(&b); return 0; }
    for (char *line = b.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        json_t *o = json_loads(line, 0, NULL);
        if (!o) continue;
        long step = (long)json_integer_value(json_object_get(o, "step"));
        json_t *ev = json_object_get(o, "eval"), *d = json_object_get(o, "data");
        if (json_is_number(json_object_get(o, "loss"))) {
            if (grow((void **)&ri->steps, &caps, ri->nsteps, sizeof *ri->steps) == 0)
                ri->steps[ri->nsteps++] = (runinfo_step){step, num(o, "loss"), num(o, "acc"), num(o, "lr")};
        } else if (json_is_object(ev)) {
            if (grow((void **)&ri->evals, &cape, ri->nevals, sizeof *ri->evals) == 0)
                ri->evals[ri->nevals++] = (runinfo_eval){step, num(ev, "ndcg@10"), num(ev, "mrr@10"), num(ev, "recall@100"),
                                                         (long)json_integer_value(json_object_get(ev, "queries")),
                                                         json_is_true(json_object_get(o, "final"))};
            const char *sp = json_string_value(json_object_get(ev, "split"));
            if (sp) snprintf(ri->split, sizeof ri->split, "%s", sp);
        } else if (json_is_object(d)) {
            json_decref(ri->data);
            ri->data = json_incref(d);
        } else if (json_is_true(json_object_get(o, "cancelled"))) {
            ri->cancelled_line = 1;
        }
        json_decref(o);
    }
    sy_buf_free(&b);
    return 0;
}

void runinfo_free(runinfo *ri)
{
    if (!ri) return;
    json_decref(ri->options);
    json_decref(ri->data);
    free(ri->steps);
    free(ri->evals);
    memset(ri, 0, sizeof *ri);
}

const runinfo_eval *runinfo_last_eval(const runinfo *ri)
{
    for (size_t i = ri->nevals; i-- > 0;)
        if (ri->evals[i].final) return &ri->evals[i];
    return ri->nevals ? &ri->evals[ri->nevals - 1] : NULL;
}

const runinfo_eval *runinfo_untrained(const runinfo *ri)
{
    for (size_t i = 0; i < ri->nevals; i++)
        if (ri->evals[i].step == 0) return &ri->evals[i];
    return NULL;
}

static json_t *eval_json(const runinfo_eval *e)
{
    if (!e) return json_null();
    return json_pack("{s:I, s:f, s:f, s:f, s:I}", "step", (json_int_t)e->step, "ndcg@10", e->ndcg10, "mrr@10",
                     e->mrr10, "recall@100", e->recall100, "queries", (json_int_t)e->queries);
}

json_t *runinfo_compare(const char *session_dir, const char *const *ids, size_t n, const json_t *bm25, sy_err *err)
{
    json_t *out = json_object(), *runs = json_array(), *differs = json_array(), *base = json_object();
    json_object_set_new(out, "runs", runs);
    json_object_set_new(out, "differs", differs);
    json_object_set_new(out, "baselines", base);
    for (size_t i = 0; i < n; i++) {
        char *dir = runs_find(session_dir, ids[i], err);
        runinfo ri;
        if (!dir || runinfo_load(dir, &ri, err) < 0) {
            free(dir);
            json_decref(out);
            return NULL;
        }
        free(dir);
        json_t *r = json_pack("{s:s, s:s, s:I, s:I}", "id", ri.st.id, "state", ri.st.state, "step",
                              (json_int_t)ri.st.step, "total", (json_int_t)ri.st.total);
        json_object_set_new(r, "options", ri.options ? json_incref(ri.options) : json_object());
        json_object_set_new(r, "eval", eval_json(runinfo_last_eval(&ri)));
        json_object_set_new(r, "untrained", eval_json(runinfo_untrained(&ri)));
        json_object_set_new(r, "split", json_string(ri.split));
        json_array_append_new(runs, r);
        /* the untrained baseline: the first run's step-0 evaluation */
        if (!json_object_get(base, "untrained") && runinfo_untrained(&ri))
            json_object_set_new(base, "untrained", eval_json(runinfo_untrained(&ri)));
        runinfo_free(&ri);
    }
    /* config keys whose values differ */
    json_t *first = n ? json_object_get(json_array_get(runs, 0), "options") : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(first, k, v) {
        for (size_t i = 1; i < n; i++) {
            json_t *o = json_object_get(json_object_get(json_array_get(runs, i), "options"), k);
            if (!o || !json_equal(o, v)) {
                json_array_append_new(differs, json_string(k));
                break;
            }
        }
    }
    if (bm25) json_object_set_new(base, "bm25", json_deep_copy(bm25));
    return out;
}

static void csv_val(sy_buf *b, json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strpbrk(s, ",\"\n")) {
            sy_buf_puts(b, "\"");
            for (; *s; s++) {
                if (*s == '"') sy_buf_puts(b, "\"");
                sy_buf_append(b, s, 1);
            }
            sy_buf_puts(b, "\"");
        } else {
            sy_buf_puts(b, s);
        }
    } else if (json_is_real(v)) {
        sy_buf_printf(b, "%.6g", json_real_value(v));
    } else if (v && !json_is_null(v)) {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        sy_buf_puts(b, t ? t : "");
        free(t);
    }
}

static void csv_row(sy_buf *b, const char *kind, json_t *id, json_t *state, json_t *step, json_t *ev, json_t *opts,
                    json_t *differs)
{
    sy_buf_printf(b, "%s,", kind);
    csv_val(b, id), sy_buf_puts(b, ",");
    csv_val(b, state), sy_buf_puts(b, ",");
    csv_val(b, step), sy_buf_puts(b, ",");
    csv_val(b, json_object_get(ev, "ndcg@10")), sy_buf_puts(b, ",");
    csv_val(b, json_object_get(ev, "mrr@10")), sy_buf_puts(b, ",");
    csv_val(b, json_object_get(ev, "recall@100"));
    for (size_t i = 0; i < json_array_size(differs); i++) {
        sy_buf_puts(b, ",");
        csv_val(b, json_object_get(opts, json_string_value(json_array_get(differs, i))));
    }
    sy_buf_puts(b, "\n");
}

int runinfo_compare_csv(const json_t *cmp, sy_buf *out)
{
    json_t *runs = json_object_get(cmp, "runs"), *differs = json_object_get(cmp, "differs"),
           *base = json_object_get(cmp, "baselines");
    sy_buf_puts(out, "kind,id,state,step,ndcg@10,mrr@10,recall@100");
    for (size_t i = 0; i < json_array_size(differs); i++) sy_buf_printf(out, ",%s", json_string_value(json_array_get(differs, i)));
    sy_buf_puts(out, "\n");
    const char *bn[] = {"bm25", "untrained"};
    for (int i = 0; i < 2; i++) {
        json_t *ev = json_object_get(base, bn[i]);
        if (!ev) continue;
        json_t *id = json_string(bn[i]);
        csv_row(out, "baseline", id, NULL, json_object_get(ev, "step"), ev, NULL, differs);
        json_decref(id);
    }
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        csv_row(out, "run", json_object_get(r, "id"), json_object_get(r, "state"), json_object_get(r, "step"),
                json_object_get(r, "eval"), json_object_get(r, "options"), differs);
    }
    return out->data ? 0 : -1;
}
