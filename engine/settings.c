/* settings: the table and its parser.  See settings.h. */
#include "settings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mix.h"

static int check_mix(const char *text, sy_err *err)
{
    double a, b;
    if (mix_parse_ratio(text, &a, &b) < 0)
        return sy_fail(err, SY_EINVAL, "expected R or R0:R1 with fractions in 0..1");
    return 0;
}

/* review.reasons: "a;b;c", at most 9 (keys 1-9), none empty */
static int check_reasons(const char *text, sy_err *err)
{
    int n = 1;
    for (const char *p = text; *p; p++) n += *p == ';';
    if (!*text || n > 9) return sy_fail(err, SY_EINVAL, "expected 1 to 9 reasons separated by ';' (keys 1-9), got %d", *text ? n : 0);
    for (const char *p = text;; p++) {
        if ((*p == ';' || !*p) && (p == text || p[-1] == ';')) return sy_fail(err, SY_EINVAL, "an empty reason between ';'s");
        if (!*p) break;
    }
    return 0;
}

#define BIG 1e15
/* One row per setting, grouped by prefix; keep each row on its own lines so
 * additions merge cleanly.  Ranges are inclusive unless .lo_open. */
static const setting_info table[] = {
    /* ---- BM25 (retriever.c, index) ---- */
    {.name = "bm25.k1", .type = SET_NUM, .def = "0.9", .lo = 0, .hi = 100,
     .help = "BM25 term-frequency saturation (Lucene BM25Similarity k1)"},
    {.name = "bm25.b", .type = SET_NUM, .def = "0.4", .lo = 0, .hi = 1,
     .help = "BM25 document-length normalisation"},

    /* ---- passages (passage.c) ---- */
    {.name = "passage.titles", .type = SET_BOOL, .def = "true",
     .help = "passages are \"title text\" (false: the text alone, every source alike)"},

    /* ---- hard-negative mining (mine.c; the flags of syneg mine/fneval override) ---- */
    {.name = "mine.fn_threshold", .type = SET_NUM, .def = "0.5", .lo = 0, .lo_open = 1, .hi = 2,
     .help = "false-negative likelihood at or above which a mined row is a suspect (above 1: off)"},
    {.name = "mine.suspect_min", .type = SET_NUM, .def = "0.1", .lo = 0, .hi = 1,
     .help = "the likelihood flags at least this share of the mined rows (the threshold is lowered)"},
    {.name = "mine.suspect_max", .type = SET_NUM, .def = "0.2", .lo = 0, .hi = 1,
     .help = "the likelihood flags at most this share of the mined rows (the threshold is raised)"},
    {.name = "mine.pool", .type = SET_INT, .def = "3", .lo = 1, .hi = 1000,
     .help = "negatives are the least likely false negatives among the pool x num best-ranked clean ones"},

    /* ---- dense encoder (index.c) ---- */
    {.name = "dense.pooling", .type = SET_ENUM, .choices = "cls|mean",
     .help = "pooling of the dense encoder (unset: the model's own)"},
    {.name = "dense.normalize", .type = SET_BOOL,
     .help = "L2-normalise dense vectors (unset: the model's own)"},
    {.name = "dense.max_len", .type = SET_INT, .def = "0", .lo = 0, .hi = 512,
     .help = "tokens per text for dense encoding (0: the model's limit, at most 512)"},
    {.name = "dense.query_prefix", .type = SET_STR, .def = "",
     .help = "text put before each query, e.g. \"query: \" for e5"},
    {.name = "dense.passage_prefix", .type = SET_STR, .def = "",
     .help = "text put before each passage, e.g. \"passage: \" for e5"},
    {.name = "dense.storage", .type = SET_ENUM, .choices = "fp32|bf16|int8", .def = "fp32",
     .help = "dense vectors scanned as fp32, bf16 (half the bytes) or int8 (a quarter); bf16/int8 rescore their best 4k in fp32"},

    /* ---- encoder precision (encoder_bf16.c: embed, search, mine, train) ---- */
    {.name = "encoder.precision", .type = SET_ENUM, .def = "fp32", .choices = "fp32|bf16|auto", .env = "SYNEG_PRECISION",
     .help = "encoder matrix products: fp32, bf16 (AVX-512 BF16; vectors within cosine 0.9995 of fp32) or auto (bf16 where the CPU has it)"},

    /* ---- LLM endpoint and client (synth.c, llm.c) ---- */
    {.name = "llm.url", .type = SET_STR, .env = "SYNEG_LLM_URL",
     .help = "OpenAI-compatible endpoint (empty: the offline generator)"},
    {.name = "llm.model", .type = SET_STR, .env = "SYNEG_LLM_MODEL",
     .help = "model name sent to the endpoint"},
    {.name = "llm.temperature", .type = SET_NUM, .def = "0.7", .lo = 0, .hi = 2,
     .help = "sampling temperature"},
    {.name = "llm.max_tokens", .type = SET_INT, .def = "2048", .lo = 1, .hi = 1000000,
     .help = "completion tokens per request"},
    {.name = "llm.seed", .type = SET_INT, .def = "-1", .lo = -1, .hi = 2147483647,
     .help = "seed sent with each request (-1: none)"},
    {.name = "llm.json_mode", .type = SET_BOOL, .def = "false",
     .help = "send response_format json_object"},
    {.name = "llm.response_format", .type = SET_ENUM, .def = "none", .choices = "none|json_object|json_schema",
     .help = "structured output: json_schema sends the answer's schema (OpenAI form; vLLM, llama.cpp, Ollama)"},
    {.name = "llm.concurrency", .type = SET_INT, .def = "8", .lo = 1, .hi = 1024,
     .help = "requests in flight"},
    {.name = "llm.rpm", .type = SET_NUM, .def = "0", .lo = 0, .hi = BIG,
     .help = "requests per minute limit (0: none)"},
    {.name = "llm.tpm", .type = SET_NUM, .def = "0", .lo = 0, .hi = BIG,
     .help = "tokens per minute limit (0: none)"},
    {.name = "llm.connect_timeout_s", .type = SET_NUM, .def = "10", .lo = 0, .lo_open = 1, .hi = 3600,
     .help = "seconds to connect"},
    {.name = "llm.timeout_s", .type = SET_NUM, .def = "120", .lo = 0, .lo_open = 1, .hi = 86400,
     .help = "seconds per request"},
    {.name = "llm.backoff_s", .type = SET_NUM, .def = "1", .lo = 0, .hi = 3600,
     .help = "first retry delay; doubles per retry, half jittered"},
    {.name = "llm.backoff_max_s", .type = SET_NUM, .def = "60", .lo = 0, .hi = 86400,
     .help = "longest retry delay"},
    {.name = "llm.max_retries", .type = SET_INT, .def = "5", .lo = 0, .hi = 100,
     .help = "retries per request"},
    {.name = "llm.retry_budget", .type = SET_INT, .def = "1000", .lo = -1, .hi = BIG,
     .help = "retries over a whole run (-1: unlimited)"},
    {.name = "llm.budget_usd", .type = SET_NUM, .def = "0", .lo = 0, .hi = BIG,
     .help = "cap in USD on the session's spending, all runs together (0: none; needs llm.prices)"},
    {.name = "llm.max_body_mb", .type = SET_NUM, .def = "8", .lo = 0, .lo_open = 1, .hi = 4096,
     .help = "largest response body in MB; a larger one aborts the request"},
    {.name = "llm.prices.*.input", .type = SET_NUM, .lo = 0, .hi = BIG,
     .help = "USD per 1M prompt tokens of model *"},
    {.name = "llm.prices.*.output", .type = SET_NUM, .lo = 0, .hi = BIG,
     .help = "USD per 1M completion tokens of model *"},

    /* ---- synthesis (synth.c) ---- */
    {.name = "synth.per_query", .type = SET_INT, .def = "4", .lo = 1, .hi = 64,
     .help = "synthetic negatives asked per query"},
    {.name = "synth.reflect", .type = SET_INT, .def = "1", .lo = 0, .hi = 2,
     .help = "self-reflection rounds"},
    {.name = "synth.seed", .type = SET_INT, .def = "1", .lo = 0, .hi = BIG,
     .help = "seed of the offline generator and task order"},
    {.name = "synth.attributes.*", .type = SET_STR,
     .help = "prompt attribute * for synthesis (wins over attributes.*)"},
    {.name = "attributes.*", .type = SET_STR,
     .help = "prompt attribute * (the attributes pane edits these)"},

    /* ---- the workbench (tui/) ---- */
    {.name = "review.reasons", .type = SET_STR,
     .def = "near duplicate of the positive;answers the query;off topic;too easy;wrong facts", .check = check_reasons,
     .help = "preset reasons of the review queue, ';' between them (at most 9): keys 1-9 record one as the note"},

    /* ---- training (train.c, cmd_train, the dialog, launch scripts) ---- */
    {.name = "train.init", .type = SET_STR,
     .help = "Hugging Face model folder to fine-tune (launch scripts: model name too)"},
    {.name = "train.scratch", .type = SET_ENUM, .choices = "tiny|mini",
     .help = "train a new model of this size instead of train.init"},
    {.name = "train.vocab_size", .type = SET_INT, .def = "8000", .lo = 200, .hi = 200000,
     .help = "WordPiece vocabulary of a scratch model"},
    {.name = "train.pooling", .type = SET_ENUM, .choices = "cls|mean",
     .help = "pooling (unset: the model's; mean for scratch)"},
    {.name = "train.epochs", .type = SET_INT, .def = "1", .lo = 1, .hi = 100000,
     .help = "passes over the training instances"},
    {.name = "train.max_steps", .type = SET_INT, .def = "0", .lo = 0, .hi = 1000000000,
     .help = "stop after this many updates (0: epochs decide)"},
    {.name = "train.batch", .type = SET_INT, .def = "16", .lo = 1, .hi = 4096,
     .help = "queries per micro-batch (per device in launch scripts)"},
    {.name = "train.group", .type = SET_INT, .def = "8", .lo = 1, .hi = 256,
     .help = "passages per query: 1 positive + group-1 hard negatives"},
    {.name = "train.accum", .type = SET_INT, .def = "1", .lo = 1, .hi = 1024,
     .help = "micro-batches per update"},
    {.name = "train.lr", .type = SET_NUM, .lo = 0, .lo_open = 1, .hi = 1,
     .help = "peak learning rate (unset: 2e-5 fine-tuning, 1e-3 scratch tiny, 5e-4 mini)"},
    {.name = "train.temp", .type = SET_NUM, .def = "0.02", .lo = 0, .lo_open = 1, .hi = 10,
     .help = "InfoNCE temperature"},
    {.name = "train.weight_decay", .type = SET_NUM, .def = "0.01", .lo = 0, .hi = 1,
     .help = "AdamW decoupled weight decay"},
    {.name = "train.warmup", .type = SET_NUM, .def = "0.1", .lo = 0, .hi = 1,
     .help = "fraction of updates warming up, then linear decay"},
    {.name = "train.clip", .type = SET_NUM, .def = "1", .lo = 0, .hi = 1e6,
     .help = "clip the global gradient norm (0: off)"},
    {.name = "train.max_len", .type = SET_INT, .def = "128", .lo = 4, .hi = 512,
     .help = "passage tokens"},
    {.name = "train.query_max_len", .type = SET_INT, .def = "32", .lo = 4, .hi = 512,
     .help = "query tokens"},
    {.name = "train.mix", .type = SET_STR, .def = "0.5", .check = check_mix,
     .help = "synthetic fraction of each group, R or a schedule R0:R1"},
    {.name = "train.fill", .type = SET_BOOL, .def = "false",
     .help = "a class short of rows borrows from the other (else repeats its own)"},
    {.name = "train.include_offline", .type = SET_BOOL, .def = "false",
     .help = "train on the offline generator's negatives too (a stand-in for an LLM; left out by default, as in export)"},
    {.name = "train.inbatch", .type = SET_BOOL, .def = "true",
     .help = "other queries' passages in the batch count as negatives"},
    {.name = "train.seed", .type = SET_INT, .def = "42", .lo = 0, .hi = BIG,
     .help = "shuffling and initialisation seed"},
    {.name = "train.threads", .type = SET_INT, .def = "0", .lo = 0, .hi = 1024,
     .help = "CPU threads (0: all cores)"},
    {.name = "train.act_budget_mb", .type = SET_INT, .def = "0", .lo = 0, .hi = 1 << 20,
     .help = "activation memory per chunk in MiB (0: auto)"},
    {.name = "train.eval_every", .type = SET_INT, .def = "0", .lo = 0, .hi = 1000000000,
     .help = "updates between evaluations (0: start and end only)"},
    {.name = "train.eval_queries", .type = SET_INT, .def = "0", .lo = 0, .hi = 1000000000,
     .help = "evaluate on the first N judged queries (0: all)"},
    {.name = "train.eval_docs", .type = SET_INT, .def = "0", .lo = 0, .hi = 2000000000,
     .help = "search judged documents plus N sampled others (0: whole corpus)"},
    {.name = "train.ckpt_every", .type = SET_INT, .def = "100", .lo = 0, .hi = 1000000000,
     .help = "updates between checkpoints (0: end only)"},
};
#define NROWS (sizeof table / sizeof table[0])

size_t settings_count(void) { return NROWS; }
const setting_info *settings_at(size_t i) { return i < NROWS ? &table[i] : NULL; }

static int match(const char *pat, const char *name)
{
    const char *star = strchr(pat, '*');
    if (!star) return strcmp(pat, name) == 0;
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1), n = strlen(name);
    if (n <= pre + suf || strncmp(pat, name, pre) || strcmp(name + n - suf, star + 1)) return 0;
    /* the '*' stands for one non-empty component */
    for (const char *p = name + pre; p < name + n - suf; p++)
        if (*p == '.') return 0;
    return 1;
}

const setting_info *settings_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < NROWS; i++)
        if (match(table[i].name, name)) return &table[i];
    return NULL;
}

const char *settings_origin_name(setting_origin o)
{
    static const char *const names[] = {"default", "session", "env", "flag"};
    return (unsigned)o < 4 ? names[o] : "?";
}

static void fmt_num(char *buf, size_t n, double v)
{
    if (v >= BIG) snprintf(buf, n, "inf");
    else snprintf(buf, n, "%.10g", v);
}

void settings_range_text(const setting_info *si, char *buf, size_t n)
{
    char lo[32], hi[32];
    fmt_num(lo, sizeof lo, si->lo);
    fmt_num(hi, sizeof hi, si->hi);
    switch (si->type) {
    case SET_INT:
        if (si->hi >= BIG) snprintf(buf, n, "whole number >= %s", lo);
        else snprintf(buf, n, "whole number %s..%s", lo, hi);
        break;
    case SET_NUM:
        if (si->lo_open) snprintf(buf, n, "> %s and <= %s", lo, hi);
        else if (si->hi >= BIG) snprintf(buf, n, ">= %s", lo);
        else snprintf(buf, n, "%s..%s", lo, hi);
        break;
    case SET_BOOL: snprintf(buf, n, "true|false"); break;
    case SET_ENUM: snprintf(buf, n, "%s", si->choices); break;
    default:
        snprintf(buf, n, si->check == check_mix ? "R or R0:R1, fractions 0..1" : si->check == check_reasons ? "1 to 9 texts, ';' between" : "text");
        break;
    }
}

static const setting_info *need(const char *name, sy_err *err)
{
    const setting_info *si = settings_find(name);
    if (!si) sy_fail(err, SY_EINVAL, "no setting '%s'; 'syneg set --list' shows every setting", name ? name : "");
    return si;
}

static int range_fail(const setting_info *si, const char *name, const char *text, const char *why, sy_err *err)
{
    char r[96];
    settings_range_text(si, r, sizeof r);
    return sy_fail(err, SY_EINVAL, "%s = %s: %s; allowed: %s", name, text, why, r);
}

static int in_range(const setting_info *si, double v)
{
    if (!(v <= si->hi)) return 0;
    return si->lo_open ? v > si->lo : v >= si->lo;
}

json_t *settings_parse(const char *name, const char *text, sy_err *err)
{
    const setting_info *si = need(name, err);
    if (!si) return NULL;
    if (!text) text = "";
    char *end;
    errno = 0;
    switch (si->type) {
    case SET_INT: {
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno) { range_fail(si, name, text, "not a whole number", err); return NULL; }
        if (!in_range(si, (double)v)) { range_fail(si, name, text, "out of range", err); return NULL; }
        return json_integer((json_int_t)v);
    }
    case SET_NUM: {
        double v = strtod(text, &end);
        if (!*text || *end || errno || !isfinite(v)) { range_fail(si, name, text, "not a number", err); return NULL; }
        if (!in_range(si, v)) { range_fail(si, name, text, "out of range", err); return NULL; }
        return json_real(v);
    }
    case SET_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes") || !strcmp(text, "on")) return json_true();
        if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no") || !strcmp(text, "off")) return json_false();
        range_fail(si, name, text, "not a boolean", err);
        return NULL;
    case SET_ENUM: {
        size_t l = strlen(text);
        for (const char *c = si->choices; l && *c;) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == l && !strncmp(c, text, l)) return json_string(text);
            c += cl + (bar != NULL);
        }
        range_fail(si, name, text, "not one of the choices", err);
        return NULL;
    }
    default:
        if (si->check) {
            sy_err e = {0};
            if (si->check(text, &e) < 0) { range_fail(si, name, text, e.msg, err); return NULL; }
        }
        json_t *v = json_string(text);
        if (!v) sy_fail(err, SY_EINVAL, "%s: the value is not valid UTF-8", name);
        return v;
    }
}

int settings_check_value(const char *name, const json_t *v, sy_err *err)
{
    const setting_info *si = need(name, err);
    if (!si) return -1;
    char shown[128];
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(shown, sizeof shown, "%s", t ? t : "?");
    free(t);
    switch (si->type) {
    case SET_INT:
        if (json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v))) {
            if (in_range(si, json_number_value(v))) return 0;
            return range_fail(si, name, shown, "out of range", err);
        }
        return range_fail(si, name, shown, "not a whole number", err);
    case SET_NUM:
        if (!json_is_number(v)) return range_fail(si, name, shown, "not a number", err);
        return in_range(si, json_number_value(v)) ? 0 : range_fail(si, name, shown, "out of range", err);
    case SET_BOOL:
        if (json_is_boolean(v) || (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)))
            return 0;
        if (json_is_string(v)) {   /* "yes" / "no" as typed by hand */
            json_t *p = settings_parse(name, json_string_value(v), err);
            json_decref(p);
            return p ? 0 : -1;
        }
        return range_fail(si, name, shown, "not a boolean", err);
    default: {
        if (si->check && json_is_number(v)) {   /* train.mix stored as a plain number */
            char t[64];
            snprintf(t, sizeof t, "%.17g", json_number_value(v));
            json_t *p = settings_parse(name, t, err);
            json_decref(p);
            return p ? 0 : -1;
        }
        if (!json_is_string(v)) return range_fail(si, name, shown, "not a string", err);
        json_t *p = settings_parse(name, json_string_value(v), err);
        json_decref(p);
        return p ? 0 : -1;
    }
    }
}

int settings_is_secret(const char *name)
{
    const char *last = strrchr(name, '.');
    last = last ? last + 1 : name;
    size_t l = strlen(last);
    return (l >= 3 && !strcmp(last + l - 3, "key")) || !strcmp(last, "token") || !strcmp(last, "secret") ||
           !strcmp(last, "password") || !strcmp(last, "authorization");
}

int settings_set(session *s, const char *name, const char *text, sy_err *err)
{
    if (name && settings_is_secret(name))
        return sy_fail(err, SY_EINVAL, "'%s' looks like a secret; API keys come from the environment "
                                       "(SYNEG_LLM_KEY or OPENAI_API_KEY) and are never saved", name);
    json_t *v = settings_parse(name, text, err);
    if (!v) return -1;
    return session_set(s, name, v, err);
}

int settings_unset(session *s, const char *name, sy_err *err)
{
    if (!need(name, err)) return -1;
    if (!session_get(s, name)) return 0;
    /* the parent object of the last component */
    char path[512];
    snprintf(path, sizeof path, "%s", name);
    char *dot = strrchr(path, '.');
    json_t *parent;
    if (dot) {
        *dot = '\0';
        parent = session_get(s, path);
    } else {
        parent = json_object_get(session_config(s), "settings");
    }
    if (!json_is_object(parent) || json_object_del(parent, dot ? dot + 1 : path) < 0)
        return sy_fail(err, SY_EINVAL, "%s: cannot remove the setting", name);
    return session_save(s, err);
}

/* Walk the stored settings object, checking leaves that have a row. */
static int check_tree(json_t *o, char *path, size_t len, size_t cap, const char *prefix, sy_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        size_t kl = strlen(k);
        if (len + kl + 2 > cap) continue;
        size_t l = len;
        if (l) path[l++] = '.';
        memcpy(path + l, k, kl + 1);
        const setting_info *si = settings_find(path);
        if (json_is_null(v)) {
            /* null: unset (the attributes pane stores "default" this way) */
        } else if (si) {
            if (prefix && strncmp(path, prefix, strlen(prefix))) {
                /* not asked for */
            } else if (settings_check_value(path, v, err) < 0) return -1;
        } else if (json_is_object(v) && check_tree(v, path, l + kl, cap, prefix, err) < 0) {
            return -1;
        }
        path[len] = '\0';
    }
    return 0;
}

int settings_check_session(session *s, const char *prefix, sy_err *err)
{
    if (!s) return 0;
    char path[512] = "";
    json_t *st = json_object_get(session_config(s), "settings");
    sy_err e = {0};
    if (json_is_object(st) && check_tree(st, path, 0, sizeof path, prefix, &e) < 0)
        return sy_fail(err, e.code, "%s/session.json: %s; fix it with 'syneg set %s %s VALUE' (or --unset)",
                       session_dir(s), e.msg, session_dir(s), path);
    return 0;
}

/* ---- reading ---- */

static json_t *stored(session *s, const setting_info *si, const char *name)
{
    if (!s) return NULL;
    json_t *v = session_get(s, name);
    if (!v || json_is_null(v)) return NULL;
    (void)si;
    return settings_check_value(name, v, NULL) == 0 ? v : NULL;
}

static const char *env_value(const setting_info *si)
{
    if (!si->env) return NULL;
    const char *e = getenv(si->env);
    return e && *e ? e : NULL;
}

static double def_num(const setting_info *si)
{
    if (!si->def) return 0;
    if (si->type == SET_BOOL) return !strcmp(si->def, "true");
    return strtod(si->def, NULL);
}

static double num_of(session *s, const char *name)
{
    const setting_info *si = settings_find(name);
    if (!si) return 0;
    const char *e = env_value(si);
    if (e) {
        json_t *v = settings_parse(name, e, NULL);
        double d = json_is_number(v) ? json_number_value(v) : json_is_true(v) ? 1 : def_num(si);
        json_decref(v);
        return d;
    }
    json_t *v = stored(s, si, name);
    if (json_is_string(v)) {   /* a boolean stored as "yes" / "no" */
        json_t *p = settings_parse(name, json_string_value(v), NULL);
        double d = json_is_true(p);
        json_decref(p);
        return d;
    }
    if (v) return json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
    return def_num(si);
}

long settings_int(session *s, const char *name) { return (long)num_of(s, name); }
double settings_num(session *s, const char *name) { return num_of(s, name); }
int settings_bool(session *s, const char *name) { return num_of(s, name) != 0; }

const char *settings_str(session *s, const char *name)
{
    const setting_info *si = settings_find(name);
    if (!si) return "";
    const char *e = env_value(si);
    if (e) return e;
    json_t *v = stored(s, si, name);
    if (json_is_string(v)) return json_string_value(v);
    return si->def ? si->def : "";
}

int settings_is_set(session *s, const char *name)
{
    const setting_info *si = settings_find(name);
    return si && (env_value(si) || stored(s, si, name));
}

static void json_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) {
        snprintf(buf, n, "%s", json_string_value(v));
    } else if (json_is_real(v)) {
        fmt_num(buf, n, json_real_value(v));
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(buf, n, "%s", t ? t : "");
        free(t);
    }
}

const char *settings_value_text(session *s, const json_t *flags, const char *name, char *buf, size_t n,
                                setting_origin *origin)
{
    const setting_info *si = settings_find(name);
    setting_origin o = SET_FROM_DEFAULT;
    json_t *f = flags ? json_object_get(flags, name) : NULL;
    json_t *v;
    const char *e;
    if (!n) return buf;
    buf[0] = '\0';
    if (f) {
        o = SET_FROM_FLAG;
        json_text(f, buf, n);
    } else if (si && (e = env_value(si))) {
        o = SET_FROM_ENV;
        snprintf(buf, n, "%s", e);
    } else if (s && (v = session_get(s, name)) && !json_is_null(v)) {
        o = SET_FROM_SESSION;
        json_text(v, buf, n);
    } else if (si && si->def) {
        snprintf(buf, n, "%s", si->def);
    }
    if (origin) *origin = o;
    return buf;
}
