/* syneg set: read or change session settings by dotted name, through the one
 * settings table (engine/settings.h). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/session.h"
#include "../engine/settings.h"
#include "cli.h"

const char cmd_set_help[] =
    "usage: syneg set SESSION                 list every setting (as --list)\n"
    "       syneg set SESSION NAME            print one setting's value\n"
    "       syneg set SESSION NAME VALUE      change one setting\n"
    "       syneg set SESSION NAME --unset    back to the default\n"
    "       syneg set [SESSION] --list        every setting: value, origin, allowed values\n"
    "       syneg set --doc                   the settings table as Markdown (README)\n"
    "\n"
    "Settings live in SESSION/session.json under \"settings\", addressed by dotted\n"
    "names (bm25.k1, llm.model, train.lr, ...).  Every setting is one row of one\n"
    "table (engine/settings.c) with a type, a default and its allowed values; a\n"
    "VALUE outside them is refused with the allowed range (exit 2) and nothing is\n"
    "saved.  --list shows where each value comes from: default, session or env\n"
    "(SYNEG_LLM_URL / SYNEG_LLM_MODEL override llm.url / llm.model).  A '*' in a\n"
    "name stands for one free component: llm.prices.MODEL.input (USD per 1M\n"
    "tokens), attributes.NAME (prompt attributes).  Secrets are refused: API keys\n"
    "come only from the environment (SYNEG_LLM_KEY or OPENAI_API_KEY).\n";

static void print_list(session *s)
{
    printf("%-24s %-14s %-8s %s\n", "NAME", "VALUE", "ORIGIN", "ALLOWED");
    for (size_t i = 0; i < settings_count(); i++) {
        const setting_info *si = settings_at(i);
        char v[256], r[96];
        setting_origin o;
        settings_range_text(si, r, sizeof r);
        if (strchr(si->name, '*')) {
            printf("%-24s %-14s %-8s %s\n", si->name, "-", "-", r);
            continue;
        }
        settings_value_text(s, NULL, si->name, v, sizeof v, &o);
        printf("%-24s %-14s %-8s %s\n", si->name, v[0] ? v : si->def ? "\"\"" : "(unset)", settings_origin_name(o), r);
    }
}

static void print_doc(void)
{
    puts("| setting | default | allowed | meaning |");
    puts("|---|---|---|---|");
    for (size_t i = 0; i < settings_count(); i++) {
        const setting_info *si = settings_at(i);
        char r[96];
        settings_range_text(si, r, sizeof r);
        for (char *p = r; *p; p++)
            if (*p == '|') *p = '/';
        const char *d = si->def ? (*si->def ? si->def : "\"\"") : "unset";
        printf("| `%s` | %s | %s | %s%s%s |\n", si->name, d, r, si->help, si->env ? "; env " : "", si->env ? si->env : "");
    }
}

/* The value in effect as JSON: the environment's, the stored one (a bad one
 * is shown and named on stderr, never replaced), or the default. */
static int print_one(session *s, const char *dir, const char *name)
{
    const setting_info *si = settings_find(name);
    json_t *v = session_get(s, name), *j = NULL;
    const char *env = si->env ? getenv(si->env) : NULL;
    sy_err err = {0};
    if (env && *env) j = json_string(env);
    else if (v && !json_is_null(v)) {
        j = json_incref(v);
        if (settings_check_value(name, v, &err) < 0) fprintf(stderr, "syneg: warning: %s\n", err.msg);
    } else if (si->def) {
        j = settings_parse(name, si->def, NULL);
    } else {
        return cli_error("%s: %s is not set (see 'syneg set %s --list')", dir, name, dir);
    }
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(12)) : NULL;
    puts(t ? t : "null");
    free(t);
    json_decref(j);
    return EXIT_OK;
}

int cmd_set(int argc, char **argv)
{
    static const struct option opts[] = {{"unset", no_argument, 0, 'u'}, {"list", no_argument, 0, 'l'},
                                         {"doc", no_argument, 0, 'd'}, {0, 0, 0, 0}};
    int unset = 0, list = 0, doc = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'u') unset = 1;
        else if (c == 'l') list = 1;
        else if (c == 'd') doc = 1;
        else return cli_usage("set", "unknown option '%s'", argv[optind - 1]);
    }
    int n = argc - optind;
    if (doc) {
        if (n) return cli_usage("set", "--doc takes no arguments");
        print_doc();
        return EXIT_OK;
    }
    if (list && n > 1) return cli_usage("set", "--list takes at most a SESSION");
    if (list && n == 0) {
        print_list(NULL);
        return EXIT_OK;
    }
    if (n < 1 || n > 3 || (unset && n != 2)) return cli_usage("set", "expected SESSION [NAME [VALUE | --unset]]");
    const char *dir = argv[optind], *name = n > 1 ? argv[optind + 1] : NULL;
    sy_err err = {0};
    /* refuse a bad value before touching the session */
    json_t *parsed = NULL;
    if (name && settings_is_secret(name))
        return cli_error("'%s' looks like a secret; API keys come from the environment "
                         "(SYNEG_LLM_KEY or OPENAI_API_KEY) and are never saved", name);
    if (n == 3) {
        parsed = settings_parse(name, argv[optind + 2], &err);
        if (!parsed) return cli_usage("set", "%s", err.msg);
        json_decref(parsed);
    } else if (name && !settings_find(name)) {
        return cli_usage("set", "no setting '%s'; 'syneg set --list' shows every setting", name);
    }
    session *s = session_open(dir, n == 3 || unset ? SESSION_WRITE : SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    int rc = EXIT_OK;
    if (n == 1) {
        print_list(s);
    } else if (n == 2 && !unset) {
        rc = print_one(s, dir, name);
    } else if (session_readonly(s)) {
        rc = cli_error("%s: session is in use by another syneg (pid %ld); change settings there", dir,
                       session_lock_holder(s));
    } else if (unset) {
        if (settings_unset(s, name, &err) < 0) rc = cli_fail(&err);
    } else if (settings_set(s, name, argv[optind + 2], &err) < 0) {
        rc = err.code == SY_EINVAL ? cli_usage("set", "%s", err.msg) : cli_fail(&err);
    }
    cli_session_close(s);
    return rc;
}
