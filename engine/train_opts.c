/* train_opts: train_opts from the settings table, the session and flags
 * (train.h).  The one map from train.* setting names to train_opts fields. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mix.h"
#include "settings.h"
#include "train.h"

enum { F_STR, F_INT, F_LONG, F_U64, F_NUM, F_BOOL, F_MIX };

static const struct {
    const char *name;
    int kind;
    size_t off, size;
} fields[] = {
    /* scratch before init: when a session holds both, init wins (as before) */
    {"train.scratch", F_STR, offsetof(train_opts, scratch), sizeof(((train_opts *)0)->scratch)},
    {"train.init", F_STR, offsetof(train_opts, init), sizeof(((train_opts *)0)->init)},
    {"train.pooling", F_STR, offsetof(train_opts, pooling), sizeof(((train_opts *)0)->pooling)},
    {"train.vocab_size", F_INT, offsetof(train_opts, vocab_size), 0},
    {"train.epochs", F_INT, offsetof(train_opts, epochs), 0},
    {"train.max_steps", F_LONG, offsetof(train_opts, max_steps), 0},
    {"train.batch", F_INT, offsetof(train_opts, batch), 0},
    {"train.group", F_INT, offsetof(train_opts, group), 0},
    {"train.accum", F_INT, offsetof(train_opts, accum), 0},
    {"train.lr", F_NUM, offsetof(train_opts, lr), 0},
    {"train.temp", F_NUM, offsetof(train_opts, temp), 0},
    {"train.weight_decay", F_NUM, offsetof(train_opts, weight_decay), 0},
    {"train.warmup", F_NUM, offsetof(train_opts, warmup), 0},
    {"train.clip", F_NUM, offsetof(train_opts, clip), 0},
    {"train.max_len", F_INT, offsetof(train_opts, max_len_p), 0},
    {"train.query_max_len", F_INT, offsetof(train_opts, max_len_q), 0},
    {"train.mix", F_MIX, 0, 0},
    {"train.inbatch", F_BOOL, offsetof(train_opts, inbatch), 0},
    {"train.fill", F_BOOL, offsetof(train_opts, fill), 0},
    {"train.include_offline", F_BOOL, offsetof(train_opts, include_offline), 0},
    {"train.seed", F_U64, offsetof(train_opts, seed), 0},
    {"train.threads", F_INT, offsetof(train_opts, threads), 0},
    {"train.act_budget_mb", F_INT, offsetof(train_opts, act_budget_mb), 0},
    {"train.eval_every", F_INT, offsetof(train_opts, eval_every), 0},
    {"train.eval_queries", F_INT, offsetof(train_opts, eval_queries), 0},
    {"train.eval_docs", F_INT, offsetof(train_opts, eval_docs), 0},
    {"train.ckpt_every", F_INT, offsetof(train_opts, ckpt_every), 0},
    {"encoder.precision", F_STR, offsetof(train_opts, precision), sizeof(((train_opts *)0)->precision)},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* v already checked against the table */
static void apply(train_opts *o, size_t i, const json_t *v)
{
    char *p = (char *)o + fields[i].off;
    double d = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
    switch (fields[i].kind) {
    case F_STR:
        snprintf(p, fields[i].size, "%s", json_string_value(v) ? json_string_value(v) : "");
        /* a model is init or scratch, never both */
        if (!strcmp(fields[i].name, "train.init") && o->init[0]) o->scratch[0] = '\0';
        if (!strcmp(fields[i].name, "train.scratch") && o->scratch[0]) o->init[0] = '\0';
        break;
    case F_INT: *(int *)(void *)p = (int)d; break;
    case F_LONG: *(long *)(void *)p = (long)d; break;
    case F_U64: *(uint64_t *)(void *)p = (uint64_t)d; break;
    case F_NUM: *(double *)(void *)p = d; break;
    case F_BOOL: *(int *)(void *)p = d != 0; break;
    default: {
        char buf[64];
        if (json_is_string(v)) snprintf(buf, sizeof buf, "%s", json_string_value(v));
        else snprintf(buf, sizeof buf, "%.17g", d);
        mix_parse_ratio(buf, &o->mix_start, &o->mix_end);
        break;
    }
    }
}

int train_opts_from_settings(train_opts *o, session *s, const json_t *flags, sy_err *err)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NFIELDS; i++) {
        const setting_info *si = settings_find(fields[i].name);
        if (!si || !si->def) continue;   /* unset: derived (lr by model, pooling by model) */
        json_t *v = settings_parse(fields[i].name, si->def, NULL);
        if (v) apply(o, i, v);
        json_decref(v);
    }
    if (s) {
        if (settings_check_session(s, "train.", err) < 0 || settings_check_session(s, "encoder.", err) < 0) return -1;
        for (size_t i = 0; i < NFIELDS; i++) {
            json_t *v = session_get(s, fields[i].name);
            if (v && !json_is_null(v)) apply(o, i, v);
        }
    }
    /* a row's environment variable (SYNEG_PRECISION) overrides the session */
    for (size_t i = 0; i < NFIELDS; i++) {
        const setting_info *si = settings_find(fields[i].name);
        const char *e = si && si->env ? getenv(si->env) : NULL;
        if (!e || !*e) continue;
        sy_err e2;
        json_t *v = settings_parse(fields[i].name, e, &e2);
        if (!v) return sy_fail(err, SY_EINVAL, "%s=%s: %s", si->env, e, e2.msg);
        apply(o, i, v);
        json_decref(v);
    }
    if (flags) {
        for (size_t i = 0; i < NFIELDS; i++) {
            json_t *v = json_object_get(flags, fields[i].name);
            if (!v) continue;
            if (settings_check_value(fields[i].name, v, err) < 0) return -1;
            apply(o, i, v);
        }
    }
    return 0;
}
