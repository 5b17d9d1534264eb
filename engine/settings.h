/* settings: the one table of session settings (tig's OPTION_INFO).
 *
 * Every setting syneg reads from SESSION/session.json is one row of the table
 * in settings.c: its dotted name, type, default, allowed range or choices and
 * one line of help.  `syneg set`, `:set`, `syneg set --list`, the training
 * defaults (CLI, dialog, launch scripts), the LLM client and the README's
 * settings list all read this table; nobody else writes a default or parses a
 * setting's value.  Adding a setting is adding one row.
 *
 * Values are stored in session.json with their JSON type (integers, numbers,
 * true/false, strings).  settings_parse turns the text a person typed into that
 * value or refuses it with a message naming the setting and its allowed range.
 * A stored value that is no longer valid (edited by hand, older syneg) is never
 * replaced by the default silently: settings_check_session reports it, and
 * commands that read settings call it first.
 *
 * Names may hold one '*' standing for one free component
 * ("llm.prices.*.input" matches "llm.prices.gpt-4o-mini.input").
 *
 * The table is constant; all functions are thread-safe given a session that
 * is not being modified.  Errors through sy_err (SY_EINVAL for a bad value or
 * an unknown name). */
#ifndef SY_SETTINGS_H
#define SY_SETTINGS_H

#include <jansson.h>

#include "err.h"
#include "session.h"

typedef enum { SET_INT, SET_NUM, SET_BOOL, SET_STR, SET_ENUM } setting_type;

typedef struct {
    const char *name;
    setting_type type;
    const char *def;        /* default as text; NULL: unset (derived; help says how) */
    double lo, hi;          /* SET_INT / SET_NUM: allowed range */
    int lo_open;            /* lower bound excluded (lr > 0) */
    const char *choices;    /* SET_ENUM: "cls|mean" */
    const char *env;        /* environment variable that overrides the session, or NULL */
    /* extra check for SET_STR (e.g. train.mix "R" or "R0:R1"); 0 ok */
    int (*check)(const char *text, sy_err *err);
    const char *help;
} setting_info;

typedef enum { SET_FROM_DEFAULT, SET_FROM_SESSION, SET_FROM_ENV, SET_FROM_FLAG } setting_origin;

size_t settings_count(void);
const setting_info *settings_at(size_t i);
/* The row for name (wildcards matched), or NULL. */
const setting_info *settings_find(const char *name);
/* "default", "session", "env", "flag" */
const char *settings_origin_name(setting_origin o);
/* Allowed values as text: "0..1", "> 0 and <= 1", "cls|mean", "true|false", "text". */
void settings_range_text(const setting_info *si, char *buf, size_t n);

/* Parse text into a new JSON value of the setting's type, or fail naming the
 * setting and its allowed range ("bm25.b = 7: out of range; allowed 0..1"). */
json_t *settings_parse(const char *name, const char *text, sy_err *err);
/* Check a JSON value against the setting's row. */
int settings_check_value(const char *name, const json_t *v, sy_err *err);
/* Parse, validate and save (session_set).  Secret-looking names are refused. */
int settings_set(session *s, const char *name, const char *text, sy_err *err);
/* Names whose last component looks like a credential (key, token, ...). */
int settings_is_secret(const char *name);
/* Remove a stored value (back to the default); fails for an unknown name. */
int settings_unset(session *s, const char *name, sy_err *err);
/* Check every stored value that has a row and whose name starts with prefix
 * (NULL: all); the first bad one fails, naming
 * it, its value and the fix ('syneg set SESSION NAME VALUE' or --unset).
 * Stored names without a row are ignored (they may belong to a newer syneg). */
int settings_check_session(session *s, const char *prefix, sy_err *err);

/* The value in effect: the environment (rows with env), then the session
 * (s may be NULL), then the default.  A stored value of the wrong type or out
 * of range reads as the default here: call settings_check_session first.
 * Unset settings without a default read as 0 / "" / false.  Strings are
 * borrowed from the session, the environment or the table. */
long settings_int(session *s, const char *name);
double settings_num(session *s, const char *name);
int settings_bool(session *s, const char *name);
const char *settings_str(session *s, const char *name);
/* 1 when a value is in effect from the environment or the session (not the default). */
int settings_is_set(session *s, const char *name);

/* The value in effect as text (buf) and where it comes from.  flags (an
 * object of name -> JSON value, may be NULL) wins over everything: callers
 * pass the command-line flags they were given. */
const char *settings_value_text(session *s, const json_t *flags, const char *name, char *buf, size_t n,
                                setting_origin *origin);

#endif
