/* mine --rescore: the cross-encoder judge on the rows a mining run wrote
 * (see mine_rescore.h). */
#include "mine_rescore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/negstore.h"
#include "../engine/util.h"
#include "cli.h"

void mine_rescore_init(mine_rescore *m)
{
    memset(m, 0, sizeof *m);
    judge_ce_opts_default(&m->co);
}

int mine_rescore_option(mine_rescore *m, int c, const char *arg, int *rc)
{
    *rc = 0;
    switch (c) {
    case MINE_O_RESCORE:
        m->on = 1;
        m->co.model_dir = arg;
        return 1;
    case MINE_O_RESCORE_LOW:
    case MINE_O_RESCORE_HIGH: {
        int low = c == MINE_O_RESCORE_LOW;
        double *dst = low ? &m->co.low : &m->co.high;
        if (cli_parse_double(arg, dst) < 0 || !(*dst >= 0 && *dst <= 1))
            *rc = cli_usage("mine", "--rescore-%s '%s': expected a probability in 0..1", low ? "low" : "high", arg);
        if (low) m->low_set = 1;
        else m->high_set = 1;
        return 1;
    }
    }
    return 0;
}

static void on_cand(void *ctx, const mine_cand *mc)
{
    mine_rescore *m = ctx;
    if (mc->outcome == MINE_DROPPED || m->oom) return;
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        judge_cand *p = realloc(m->c, nc * sizeof *p);
        if (!p) { m->oom = 1; return; }
        m->c = p;
        m->cap = nc;
    }
    m->c[m->n++] = (judge_cand){.query = mc->query, .doc = mc->doc, .pos = JUDGE_POS_BEST, .fnl = mc->fnl};
}

int mine_rescore_attach(mine_rescore *m, const char *kind, mine_opts *mo)
{
    if (!m->on) {
        if (m->low_set || m->high_set) return cli_usage("mine", "--rescore-low and --rescore-high go with --rescore DIR");
        return 0;
    }
    if (m->co.low > m->co.high)
        return cli_usage("mine", "--rescore-low %g is above --rescore-high %g", m->co.low, m->co.high);
    /* a folder that cannot be a model fails before mining, not after */
    struct stat st;
    char *cfg = sy_path_join(m->co.model_dir, "config.json");
    int bad = !cfg || stat(cfg, &st) != 0;
    free(cfg);
    if (bad)
        return cli_error("%s: no config.json there: --rescore needs a cross-encoder folder (as 'syneg rerank --model' "
                         "reads it)", m->co.model_dir);
    m->co.only_source = neg_source_parse(kind);
    m->co.all_rows = 1;
    mo->on_cand = on_cand;
    mo->cand_ctx = m;
    return 0;
}

static void progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    cli_progress("rescoring", (double)done, (double)total, NULL);
}

int mine_rescore_run(mine_rescore *m, session *s, sy_err *err)
{
    if (!m->on) return 0;
    if (m->oom) return sy_fail(err, SY_ENOMEM, "mine --rescore: out of memory listing the rows");
    m->co.only = m->c;
    m->co.nonly = m->n;
    m->co.progress = progress;
    int rc = judge_ce_run(s, &m->co, &m->rep, err);
    cli_progress_end();
    return rc;
}

void mine_rescore_report(const mine_rescore *m, json_t *json)
{
    if (!m->on) return;
    const judge_report *r = &m->rep;
    if (json) {
        json_object_set_new(json, "rescore",
                            json_pack("{s:s,s:f,s:f,s:I,s:I,s:I,s:I}", "model", m->co.model_dir, "low", m->co.low,
                                      "high", m->co.high, "scored", (json_int_t)r->asked, "false_negative",
                                      (json_int_t)r->false_neg, "negative", (json_int_t)r->negative, "unsure",
                                      (json_int_t)r->failed));
        return;
    }
    printf("rescored %zu rows with %s: %zu false negatives (p >= %g), %zu negatives (p <= %g), %zu unsure\n",
           r->asked, m->co.model_dir, r->false_neg, m->co.high, r->negative, m->co.low, r->failed);
}

void mine_rescore_free(mine_rescore *m)
{
    free(m->c);
    m->c = NULL;
}
