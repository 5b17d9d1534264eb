/* ablate: arms x seeds of ordinary runs, their plan and status, the table.
 * Contract in ablate.h. */
#include "ablate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runinfo.h"
#include "runs.h"

static const struct {
    int bit;
    const char *name;
} arm_names[] = {
    {ABLATE_INBATCH, "inbatch"}, {ABLATE_RETRIEVED, "retrieved"}, {ABLATE_SYNTHETIC, "synthetic"}, {ABLATE_HYBRID, "hybrid"},
};
#define NARMS 4

const char *ablate_arm_name(int bit)
{
    for (int i = 0; i < NARMS; i++)
        if (arm_names[i].bit == bit) return arm_names[i].name;
    return "?";
}

int ablate_parse_arms(const char *s)
{
    int bits = 0;
    const char *p = s;
    while (p && *p) {
        size_t l = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < NARMS; i++)
            if (strlen(arm_names[i].name) == l && !strncmp(arm_names[i].name, p, l)) bits |= arm_names[i].bit, found = 1;
        if (!found) return -1;
        p += l + (p[l] == ',');
    }
    return bits ? bits : -1;
}

/* ---- the plan (ablation.json) and status ---- */

static int write_json(const char *dir, const char *name, json_t *o, sy_err *err)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    char *p = sy_path_join(dir, name);
    sy_buf b = {0};
    int rc = s && p && !sy_buf_puts(&b, s) && !sy_buf_puts(&b, "\n") ? sy_write_file_atomic(p, b.data, b.len, err)
                                                                     : sy_fail(err, SY_ENOMEM, "out of memory");
    sy_buf_free(&b);
    free(s);
    free(p);
    return rc;
}

static json_t *read_plan(const char *dir, sy_err *err)
{
    char *p = sy_path_join(dir, "ablation.json");
    json_error_t je;
    json_t *o = p ? json_load_file(p, 0, &je) : NULL;
    if (!o) sy_fail(err, SY_EPARSE, "%s: %s", p ? p : dir, p ? je.text : "out of memory");
    else if (strcmp(json_string_value(json_object_get(o, "format")) ? json_string_value(json_object_get(o, "format")) : "", "syneg-ablation")) {
        sy_fail(err, SY_EFORMAT, "%s: not a syneg ablation plan", p);
        json_decref(o);
        o = NULL;
    }
    free(p);
    return o;
}

static void set_status(const char *dir, const char *state, long done, long total, const char *msg)
{
    run_status st;
    memset(&st, 0, sizeof st);
    const char *slash = strrchr(dir, '/');
    snprintf(st.id, sizeof st.id, "%s", slash ? slash + 1 : dir);
    snprintf(st.state, sizeof st.state, "%s", state);
    st.pid = (long)getpid();
    st.step = done;
    st.total = total;
    sy_iso_time(st.updated, sizeof st.updated);
    snprintf(st.message, sizeof st.message, "%s", msg ? msg : "");
    runs_write_status(dir, &st, NULL);
}

char *ablate_find(const char *session_dir, const char *id, sy_err *err)
{
    if (!id || !*id || strchr(id, '/') || id[0] == '.') {
        sy_fail(err, SY_EINVAL, "'%s' is not an ablation id; see %s/ablations/", id ? id : "", session_dir);
        return NULL;
    }
    char *dir = sy_strdup_printf("%s/ablations/%s", session_dir, id);
    if (dir && !sy_is_dir(dir)) {
        sy_fail(err, SY_ENOTFOUND, "%s: no such ablation; ls %s/ablations/ lists them", dir, session_dir);
        free(dir);
        return NULL;
    }
    if (!dir) sy_fail(err, SY_ENOMEM, "out of memory");
    return dir;
}

char *ablate_create(const char *session_dir, const ablate_opts *o, char **id_out, sy_err *err)
{
    unsigned arms = o->arms ? o->arms : ABLATE_ALL;
    if (o->nseeds < 1 || o->nseeds > ABLATE_MAX_SEEDS)
        return sy_fail(err, SY_EINVAL, "ablate: give 1 to %d seeds", ABLATE_MAX_SEEDS), NULL;
    if (!(o->mix >= 0 && o->mix <= 1)) return sy_fail(err, SY_EINVAL, "ablate: --mix %g: use a fraction in 0..1", o->mix), NULL;
    if (train_opts_check(&o->base, err) < 0) return NULL;
    char *root = sy_path_join(session_dir, "ablations");
    if (!root || sy_mkdir_p(root, err) < 0) { free(root); return NULL; }
    char stamp[32], *dir = NULL, *id = NULL;
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    for (int k = 1; k < 100 && !dir; k++) {
        id = k == 1 ? sy_strdup_printf("%s-ablate", stamp) : sy_strdup_printf("%s-ablate-%d", stamp, k);
        char *d = id ? sy_path_join(root, id) : NULL;
        if (d && !sy_is_dir(d) && sy_mkdir_p(d, NULL) == 0) dir = d;
        else free(d), free(id), id = NULL;
    }
    free(root);
    if (!dir) return sy_fail(err, SY_EIO, "%s/ablations: cannot make a folder for the ablation", session_dir), NULL;
    json_t *seeds = json_array(), *jarms = json_array();
    for (int s = 0; s < o->nseeds; s++) json_array_append_new(seeds, json_integer((json_int_t)o->seeds[s]));
    int narms = 0;
    for (int i = 0; i < NARMS; i++) {
        if (!(arms & (unsigned)arm_names[i].bit)) continue;
        int bit = arm_names[i].bit;
        double mix = bit == ABLATE_RETRIEVED ? 0 : bit == ABLATE_SYNTHETIC ? 1 : o->mix;
        json_t *runs = json_array();
        for (int s = 0; s < o->nseeds; s++) json_array_append_new(runs, json_null());
        json_array_append_new(jarms, json_pack("{s:s, s:f, s:i, s:o}", "name", arm_names[i].name, "mix", mix, "group",
                                               bit == ABLATE_INBATCH ? 1 : o->base.group, "runs", runs));
        narms++;
    }
    char created[40];
    sy_iso_time(created, sizeof created);
    json_t *plan = json_pack("{s:s, s:i, s:s, s:s, s:o, s:f, s:o, s:o}", "format", "syneg-ablation", "version", 1, "id", id,
                             "created", created, "options", train_opts_to_json(&o->base), "mix", o->mix, "seeds", seeds,
                             "arms", jarms);
    int rc = plan ? write_json(dir, "ablation.json", plan, err) : sy_fail(err, SY_ENOMEM, "out of memory");
    json_decref(plan);
    if (rc == 0) set_status(dir, "running", 0, (long)narms * o->nseeds, "planned");
    if (rc) { free(dir); free(id); return NULL; }
    if (id_out) *id_out = id;
    else free(id);
    return dir;
}

/* ---- running ---- */

typedef struct { const ablate_hooks *h; } hook_ctx;
static int stop_fn(void *ctx) { const ablate_hooks *h = ((hook_ctx *)ctx)->h; return h && h->should_stop && h->should_stop(h->ctx); }
static void line_fn(void *ctx, const char *l) { const ablate_hooks *h = ((hook_ctx *)ctx)->h; if (h && h->on_line) h->on_line(h->ctx, l); }

int ablate_run(const char *session_dir, const char *abl_dir, const ablate_hooks *h, sy_err *err)
{
    json_t *plan = read_plan(abl_dir, err);
    if (!plan) return -1;
    train_opts base;
    train_opts_default(&base);
    if (train_opts_from_json(&base, json_object_get(plan, "options"), "ablation.json options", err) < 0) {
        json_decref(plan);
        return -1;
    }
    json_t *seeds = json_object_get(plan, "seeds"), *arms = json_object_get(plan, "arms");
    long total = (long)(json_array_size(seeds) * json_array_size(arms)), done = 0, k = 0;
    hook_ctx hc = {h};
    train_hooks th = {stop_fn, line_fn, &hc};
    int rc = 0;
    set_status(abl_dir, "running", 0, total, "training");
    for (size_t a = 0; a < json_array_size(arms) && !rc; a++) {
        json_t *arm = json_array_get(arms, a), *runs = json_object_get(arm, "runs");
        const char *name = json_string_value(json_object_get(arm, "name"));
        for (size_t s = 0; s < json_array_size(seeds) && !rc; s++, k++) {
            uint64_t seed = (uint64_t)json_integer_value(json_array_get(seeds, s));
            const char *rid = json_string_value(json_array_get(runs, s));
            char *run_dir = NULL, *id = NULL;
            if (rid) {
                run_status st;
                run_dir = runs_find(session_dir, rid, err);
                if (!run_dir) { rc = -1; break; }
                if (runs_read_status(run_dir, &st, NULL) == 0 && !strcmp(st.state, "done")) {
                    free(run_dir);
                    done++;
                    continue;
                }
                id = strdup(rid);
            } else {
                train_opts o = base;
                o.seed = seed;
                o.fill = 0;   /* each arm draws only from its own sources */
                o.group = (int)json_integer_value(json_object_get(arm, "group"));
                o.mix_start = o.mix_end = json_number_value(json_object_get(arm, "mix"));
                run_dir = train_create(session_dir, &o, &id, err);
                if (!run_dir) { rc = -1; break; }
                json_array_set_new(runs, s, json_string(id));
                if (write_json(abl_dir, "ablation.json", plan, err) < 0) { rc = -1; free(run_dir); free(id); break; }
            }
            if (h && h->on_run) h->on_run(h->ctx, name, seed, id, (int)k + 1, (int)total);
            char msg[160];
            snprintf(msg, sizeof msg, "arm %s, seed %llu: run %s", name, (unsigned long long)seed, id);
            set_status(abl_dir, "running", done, total, msg);
            if (train_run(session_dir, run_dir, &th, err) < 0) {
                rc = -1;
                if (err && err->code != SY_ECANCEL) sy_err_prefix(err, "arm %s, seed %llu (run %s)", name, (unsigned long long)seed, id);
            } else {
                done++;
            }
            free(run_dir);
            free(id);
        }
    }
    json_decref(plan);
    if (rc == 0) set_status(abl_dir, "done", done, total, "finished; 'syneg ablate SESSION --show ID' prints the table");
    else if (err && err->code == SY_ECANCEL)
        set_status(abl_dir, "cancelled", done, total, "cancelled; continue with 'syneg ablate SESSION --resume ID'");
    else set_status(abl_dir, "failed", done, total, err ? err->msg : "failed");
    return rc;
}

/* ---- the table ---- */

static void mean_sd(const double *v, int n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : NAN;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

static json_t *stats(double v[3][ABLATE_MAX_SEEDS], int n, int which_sd)
{
    static const char *const keys[3] = {"ndcg@10", "mrr@10", "recall@100"};
    json_t *o = json_object();
    for (int m = 0; m < 3; m++) {
        double mean, sd;
        mean_sd(v[m], n, &mean, &sd);
        json_object_set_new(o, keys[m], n ? json_real(which_sd ? sd : mean) : json_null());
    }
    return o;
}

json_t *ablate_table(const char *session_dir, const char *abl_dir, sy_err *err)
{
    json_t *plan = read_plan(abl_dir, err);
    if (!plan) return NULL;
    run_status ast;
    memset(&ast, 0, sizeof ast);
    runs_read_status(abl_dir, &ast, NULL);
    json_t *out = json_pack("{s:O, s:s, s:O, s:O, s:O}", "id", json_object_get(plan, "id"), "state", ast.state,
                            "seeds", json_object_get(plan, "seeds"), "mix", json_object_get(plan, "mix"), "options",
                            json_object_get(plan, "options"));
    json_t *jarms = json_array();
    json_object_set_new(out, "arms", jarms);
    double u[3][ABLATE_MAX_SEEDS];
    int nu = 0;
    long queries = -1;
    char split[64] = "";
    json_t *arms = json_object_get(plan, "arms");
    for (size_t a = 0; a < json_array_size(arms); a++) {
        json_t *arm = json_array_get(arms, a), *runs = json_object_get(arm, "runs"), *jr = json_array();
        double v[3][ABLATE_MAX_SEEDS];
        int n = 0;
        for (size_t s = 0; s < json_array_size(runs) && s < ABLATE_MAX_SEEDS; s++) {
            const char *rid = json_string_value(json_array_get(runs, s));
            json_t *row = json_pack("{s:o, s:O}", "id", rid ? json_string(rid) : json_null(), "seed",
                                    json_array_get(json_object_get(plan, "seeds"), s));
            json_array_append_new(jr, row);
            if (!rid) {
                json_object_set_new(row, "state", json_string("planned"));
                continue;
            }
            char *dir = runs_find(session_dir, rid, NULL);
            runinfo ri;
            if (!dir || runinfo_load(dir, &ri, NULL) < 0) {
                free(dir);
                json_object_set_new(row, "state", json_string("missing"));
                continue;
            }
            free(dir);
            json_object_set_new(row, "state", json_string(ri.st.state));
            const runinfo_eval *e = runinfo_last_eval(&ri), *z = runinfo_untrained(&ri);
            if (e && e->final && !strcmp(ri.st.state, "done")) {
                json_object_set_new(row, "ndcg@10", json_real(e->ndcg10));
                json_object_set_new(row, "mrr@10", json_real(e->mrr10));
                json_object_set_new(row, "recall@100", json_real(e->recall100));
                v[0][n] = e->ndcg10, v[1][n] = e->mrr10, v[2][n] = e->recall100;
                n++;
                if (queries < 0) queries = e->queries;
                if (!split[0]) snprintf(split, sizeof split, "%s", ri.split);
            }
            if (a == 0 && z && nu < ABLATE_MAX_SEEDS) u[0][nu] = z->ndcg10, u[1][nu] = z->mrr10, u[2][nu] = z->recall100, nu++;
            runinfo_free(&ri);
        }
        json_t *ja = json_pack("{s:O, s:O, s:O, s:o, s:i}", "name", json_object_get(arm, "name"), "mix",
                               json_object_get(arm, "mix"), "group", json_object_get(arm, "group"), "runs", jr, "n", n);
        json_object_set_new(ja, "mean", stats(v, n, 0));
        json_object_set_new(ja, "sd", stats(v, n, 1));
        json_array_append_new(jarms, ja);
    }
    if (nu) {
        json_t *uj = json_object();
        json_object_set_new(uj, "n", json_integer(nu));
        json_object_set_new(uj, "mean", stats(u, nu, 0));
        json_object_set_new(uj, "sd", stats(u, nu, 1));
        json_object_set_new(out, "untrained", uj);
    } else {
        json_object_set_new(out, "untrained", json_null());
    }
    json_object_set_new(out, "queries", json_integer(queries < 0 ? 0 : queries));
    json_object_set_new(out, "split", json_string(split));
    json_decref(plan);
    return out;
}

static void cell(sy_buf *b, json_t *mean, json_t *sd, const char *k)
{
    json_t *m = json_object_get(mean, k), *s = json_object_get(sd, k);
    if (json_is_number(m)) sy_buf_printf(b, "  %.4f ± %.4f", json_number_value(m), json_number_value(s));
    else sy_buf_printf(b, "  %-15s", "-");
}

int ablate_format_table(const json_t *t, sy_buf *b)
{
    json_t *o = json_object_get(t, "options");
    const char *sc = json_string_value(json_object_get(o, "scratch"));
    const char *init = json_string_value(json_object_get(o, "init"));
    sy_buf_printf(b, "ablation %s (%s): model %s%s, %lld steps, seeds", json_string_value(json_object_get(t, "id")),
                  json_string_value(json_object_get(t, "state")), sc && *sc ? "scratch " : "", sc && *sc ? sc : init ? init : "?",
                  (long long)json_integer_value(json_object_get(o, "max_steps")));
    json_t *seeds = json_object_get(t, "seeds");
    for (size_t i = 0; i < json_array_size(seeds); i++)
        sy_buf_printf(b, "%s%lld", i ? "," : " ", (long long)json_integer_value(json_array_get(seeds, i)));
    sy_buf_printf(b, "; eval on %s, %lld queries\n", json_string_value(json_object_get(t, "split")),
                  (long long)json_integer_value(json_object_get(t, "queries")));
    sy_buf_printf(b, "%-10s %-5s %-5s %-5s  %-15s  %-15s  %-15s\n", "ARM", "MIX", "GROUP", "RUNS", "nDCG@10", "MRR@10", "R@100");
    json_t *u = json_object_get(t, "untrained");
    if (json_is_object(u)) {
        sy_buf_printf(b, "%-10s %-5s %-5s %-5lld", "untrained", "-", "-", (long long)json_integer_value(json_object_get(u, "n")));
        cell(b, json_object_get(u, "mean"), json_object_get(u, "sd"), "ndcg@10");
        cell(b, json_object_get(u, "mean"), json_object_get(u, "sd"), "mrr@10");
        cell(b, json_object_get(u, "mean"), json_object_get(u, "sd"), "recall@100");
        sy_buf_puts(b, "\n");
    }
    json_t *arms = json_object_get(t, "arms");
    for (size_t i = 0; i < json_array_size(arms); i++) {
        json_t *a = json_array_get(arms, i);
        char mix[16], runs[16];
        const char *name = json_string_value(json_object_get(a, "name"));
        if (name && !strcmp(name, "inbatch")) snprintf(mix, sizeof mix, "-");
        else snprintf(mix, sizeof mix, "%g", json_number_value(json_object_get(a, "mix")));
        snprintf(runs, sizeof runs, "%lld/%zu", (long long)json_integer_value(json_object_get(a, "n")),
                 json_array_size(json_object_get(a, "runs")));
        sy_buf_printf(b, "%-10s %-5s %-5lld %-5s", name ? name : "?", mix, (long long)json_integer_value(json_object_get(a, "group")), runs);
        cell(b, json_object_get(a, "mean"), json_object_get(a, "sd"), "ndcg@10");
        cell(b, json_object_get(a, "mean"), json_object_get(a, "sd"), "mrr@10");
        cell(b, json_object_get(a, "mean"), json_object_get(a, "sd"), "recall@100");
        sy_buf_puts(b, "\n");
    }
    sy_buf_puts(b, "mean ± sample sd over the seeds' final evaluations; each arm's runs are ordinary runs ('syneg runs SESSION')\n");
    return b->data ? 0 : -1;
}
