/* synth_parse: the JSON answer parsers of synth.h (synthesis answers and
 * reflection verdicts), apart from the run logic in synth.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

/* Deepest nesting of braces followed in an answer: real answers use 3-4. */
#define FIND_MAX_DEPTH 64

/* Find the first JSON object in content that has member `need`: in a ```json
 * fence, else the first balanced {...} span (the innermost first) that parses
 * and has it.  One pass over the text: a span is parsed only when it closes
 * and holds the quoted member name, so hostile nesting costs at most
 * FIND_MAX_DEPTH parses of each byte (it used to restart a parse at every '{'). */
static json_t *find_object_in(const char *content, const char *need)
{
    /* 1. a ```json (or ```) fence */
    const char *f = strstr(content, "```");
    if (f) {
        const char *b = f + 3;
        while (isalpha((unsigned char)*b)) b++;
        const char *e = strstr(b, "```");
        if (e) {
            json_t *j = json_loadb(b, (size_t)(e - b), 0, NULL);
            if (json_is_object(j) && json_object_get(j, need)) return j;
            json_decref(j);
        }
    }
    /* 2. balanced spans, strings respected inside them (prose outside may hold quotes) */
    char key[80];
    int kl = snprintf(key, sizeof key, "\"%s\"", need);
    if (kl < 0 || (size_t)kl >= sizeof key) return NULL;
    const char *open[FIND_MAX_DEPTH];
    int depth = 0, in_str = 0;
    for (const char *p = content; *p; p++) {
        if (depth && in_str) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_str = 0;
            continue;
        }
        if (*p == '"' && depth) in_str = 1;
        else if (*p == '{') {
            if (depth == FIND_MAX_DEPTH) { depth = 0; continue; }   /* too deep: drop it, go on */
            open[depth++] = p;
        } else if (*p == '}' && depth) {
            const char *b = open[--depth];
            size_t len = (size_t)(p - b) + 1;
            if (!memmem(b, len, key, (size_t)kl)) continue;
            json_t *j = json_loadb(b, len, 0, NULL);
            if (json_is_object(j) && json_object_get(j, need)) return j;
            json_decref(j);
        }
    }
    return NULL;
}

/* A reasoning model's <think> block may hold drafts and stray braces: look
 * after it first, then (an answer left inside it) everywhere. */
static json_t *find_object(const char *content, const char *need)
{
    const char *after = content;
    for (const char *t; (t = strstr(after, "</think>"));) after = t + 8;
    json_t *j = find_object_in(after, need);
    return j || after == content ? j : find_object_in(content, need);
}

void synth_answer_truncate(synth_answer *a, size_t keep)
{
    while (a && a->n > keep) {
        a->n--;
        free(a->negs[a->n].title);
        free(a->negs[a->n].text);
        json_decref(a->negs[a->n].attributes);
    }
}

void synth_answer_free(synth_answer *a)
{
    if (!a) return;
    synth_answer_truncate(a, 0);
    free(a->negs);
    free(a->reasoning);
    memset(a, 0, sizeof *a);
}

int synth_parse_answer(const char *content, synth_answer *out, char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    json_t *j = content ? find_object(content, "negatives") : NULL;
    if (!j) {
        snprintf(why, n, "no JSON object with a \"negatives\" member in the answer");
        return -1;
    }
    json_t *negs = json_object_get(j, "negatives");
    json_t *r = json_object_get(j, "reasoning");
    if (!json_is_array(negs) || json_array_size(negs) == 0) {
        snprintf(why, n, "\"negatives\" must be a non-empty array");
        json_decref(j);
        return -1;
    }
    if (r && !json_is_string(r) && !json_is_null(r)) {
        snprintf(why, n, "\"reasoning\" must be a string");
        json_decref(j);
        return -1;
    }
    out->reasoning = strdup(json_is_string(r) ? json_string_value(r) : "");
    out->negs = calloc(json_array_size(negs), sizeof *out->negs);
    if (!out->reasoning || !out->negs) {
        snprintf(why, n, "out of memory");
        goto fail;
    }
    size_t i;
    json_t *it;
    json_array_foreach(negs, i, it) {
        const char *text = NULL, *title = NULL;
        json_t *attrs = NULL;
        if (json_is_string(it)) text = json_string_value(it);
        else if (json_is_object(it)) {
            text = json_string_value(json_object_get(it, "text"));
            json_t *jt = json_object_get(it, "title");
            if (jt && !json_is_string(jt) && !json_is_null(jt)) {
                snprintf(why, n, "negatives[%zu]: \"title\" must be a string", i);
                goto fail;
            }
            title = json_string_value(jt);
            attrs = json_object_get(it, "attributes");
            if (attrs && !json_is_object(attrs)) attrs = NULL;
        } else {
            snprintf(why, n, "negatives[%zu] is neither an object nor a string", i);
            goto fail;
        }
        const char *t = text;
        while (t && isspace((unsigned char)*t)) t++;
        if (!t || !*t) {
            snprintf(why, n, "negatives[%zu] has no \"text\"", i);
            goto fail;
        }
        synth_neg *sn = &out->negs[out->n++];
        sn->text = strdup(t);
        size_t l = sn->text ? strlen(sn->text) : 0;
        while (l && isspace((unsigned char)sn->text[l - 1])) sn->text[--l] = '\0';
        while (title && isspace((unsigned char)*title)) title++;
        sn->title = strdup(title ? title : "");
        l = sn->title ? strlen(sn->title) : 0;
        while (l && isspace((unsigned char)sn->title[l - 1])) sn->title[--l] = '\0';
        if (!sn->text || !sn->title) {
            snprintf(why, n, "out of memory");
            goto fail;
        }
        sn->attributes = attrs ? json_incref(attrs) : NULL;
    }
    json_decref(j);
    return 0;
fail:
    json_decref(j);
    synth_answer_free(out);
    return -1;
}

int synth_parse_verdict(const char *content, int *is_fn, char **reason, char *why, size_t n)
{
    *reason = NULL;
    json_t *j = content ? find_object(content, "verdict") : NULL;
    if (!j) {
        snprintf(why, n, "no JSON object with a \"verdict\" member in the answer");
        return -1;
    }
    const char *v = json_string_value(json_object_get(j, "verdict"));
    const char *r = json_string_value(json_object_get(j, "reason"));
    int rc = 0;
    if (v && (!strcmp(v, "negative") || !strcmp(v, "not_relevant"))) *is_fn = 0;
    else if (v && (!strcmp(v, "false_negative") || !strcmp(v, "false negative"))) *is_fn = 1;
    else {
        snprintf(why, n, "\"verdict\" must be \"negative\" or \"false_negative\", not %s%s%s", v ? "\"" : "",
                 v ? v : "a non-string", v ? "\"" : "");
        rc = -1;
    }
    if (!rc && !(*reason = strdup(r ? r : ""))) rc = -1;
    json_decref(j);
    return rc;
}


char *synth_prov_title(const char *prov)
{
    if (!prov || !strstr(prov, "\"title\"")) return NULL;
    json_t *j = json_loads(prov, 0, NULL);
    const char *t = json_string_value(json_object_get(j, "title"));
    char *out = t && *t ? strdup(t) : NULL;
    json_decref(j);
    return out;
}
