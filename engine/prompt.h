/* prompt: prompt templates and the attribute catalogue, both plain editable
 * text files (see prompts/synth.txt, prompts/reflect.txt, prompts/attributes.txt
 * for the formats, documented in their header comments and the README).
 *
 * Templates: sections "[system]" / "[user]" / "[assistant]"; comments are
 * {{! ... }} (may span lines; a line holding only a comment leaves nothing),
 * so Markdown such as "## Task" headings reaches the model intact;
 * placeholders {{name}}, {{attr.NAME}}, and {{#name}}...{{/name}} blocks kept
 * only when name is non-empty ("{{{x}}" is a literal '{' then {{x}}, for JSON
 * examples).  Rendering with a placeholder that
 * has no value fails with "FILE:LINE: unknown placeholder".
 * Catalogue: "[name]" blocks with description/values/default/sample keys.
 * Attribute values resolve per request: override (e.g. --attr), then session
 * value (synth.attributes), then a deterministic draw (sample = yes) from
 * (seed, query id, name), then the default.
 *
 * Ownership: handles own their strings (x_free, NULL-safe); prompt_kv arrays
 * returned by prompt_resolve are malloc'd (free() the array) and point into
 * the catalogue or the caller's inputs, so they live as long as both.
 * Pure data, no I/O after load; a loaded handle is safe to read from several
 * threads.  Errors through sy_err with file:line. */
#ifndef SY_PROMPT_H
#define SY_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

typedef struct { const char *name, *value; } prompt_kv;

/* ---- attribute catalogue ---- */
typedef struct {
    char *name, *description, *def;   /* def may be "" (leave out) */
    char **values;                    /* allowed values */
    size_t nvalues;
    int any;                          /* '*' listed: any text allowed */
    int sample;                       /* draw a value per request when unset */
} prompt_attr;

typedef struct prompt_catalogue prompt_catalogue;
prompt_catalogue *prompt_catalogue_load(const char *path, sy_err *err);
prompt_catalogue *prompt_catalogue_parse(const char *text, const char *name_for_errors, sy_err *err);
void prompt_catalogue_free(prompt_catalogue *c);
size_t prompt_catalogue_size(const prompt_catalogue *c);
const prompt_attr *prompt_catalogue_at(const prompt_catalogue *c, size_t i);
const prompt_attr *prompt_catalogue_find(const prompt_catalogue *c, const char *name);
/* Check an override: known attribute and allowed value, else SY_EINVAL with a hint. */
int prompt_check_attr(const prompt_catalogue *c, const char *name, const char *value, sy_err *err);
/* Resolve every attribute (see above).  *out gets the attributes that have a
 * value, in catalogue order; free(*out).  Unknown or disallowed overrides and
 * session values fail. */
int prompt_resolve(const prompt_catalogue *c, const prompt_kv *over, size_t nover,
                   const prompt_kv *sess, size_t nsess, uint64_t seed, const char *query_id,
                   prompt_kv **out, size_t *nout, sy_err *err);
/* "- name: value (description)" lines for {{attributes}}; malloc'd. */
char *prompt_attr_list(const prompt_catalogue *c, const prompt_kv *attrs, size_t n);

/* ---- templates ---- */
typedef struct prompt_template prompt_template;
prompt_template *prompt_template_load(const char *path, sy_err *err);
prompt_template *prompt_template_parse(const char *text, const char *name_for_errors, sy_err *err);
void prompt_template_free(prompt_template *t);
/* First 16 hex digits of the SHA-256 of the template text (recorded in provenance). */
const char *prompt_template_hash(const prompt_template *t);
const char *prompt_template_path(const prompt_template *t);
/* Render to a chat messages array [{"role","content"}...] (new reference).
 * vars: plain names ("query") and "attr.NAME" entries. */
json_t *prompt_render(const prompt_template *t, const prompt_kv *vars, size_t n, sy_err *err);
/* The same as readable text: "[system]\n...\n\n[user]\n..." (malloc'd). */
char *prompt_render_text(const prompt_template *t, const prompt_kv *vars, size_t n, sy_err *err);

/* Find the prompts folder: the first of SESSION/prompts (when session_dir is
 * given and it holds synth.txt), $SYNEG_PROMPTS, ../prompts and ../../prompts
 * and ../share/syneg/prompts beside the running executable, ./prompts,
 * /usr/local/share/syneg/prompts, /usr/share/syneg/prompts that holds
 * synth.txt.  malloc'd path, or NULL with SY_ENOTFOUND listing where it looked. */
char *prompt_find_dir(const char *session_dir, sy_err *err);

#endif
