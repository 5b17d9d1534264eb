/* syneg set: read or change session settings by dotted name. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/session.h"
#include "cli.h"

const char cmd_set_help[] =
    "usage: syneg set SESSION                 print every setting\n"
    "       syneg set SESSION NAME            print one setting\n"
    "       syneg set SESSION NAME VALUE      change one setting\n"
    "       syneg set SESSION NAME --unset    remove one setting\n"
    "\n"
    "Settings live in SESSION/session.json under \"settings\", addressed by dotted\n"
    "names: bm25.k1, bm25.b, llm.url, llm.model, llm.temperature, llm.max_tokens,\n"
    "llm.budget_usd, llm.prices.MODEL.input / .output (USD per 1M tokens),\n"
    "synth.attributes.NAME, train.lr, ...  Names starting with 'attributes.' address\n"
    "the session's prompt attributes.  VALUE is read as JSON when it parses (numbers,\n"
    "true/false, null, objects) and as a string otherwise.  Secrets are refused:\n"
    "API keys come only from the environment (SYNEG_LLM_KEY or OPENAI_API_KEY).\n";

int cmd_set(int argc, char **argv)
{
    static const struct option opts[] = {{"unset", no_argument, 0, 'u'}, {0, 0, 0, 0}};
    int unset = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'u') unset = 1;
        else return cli_usage("set", "unknown option '%s'", argv[optind - 1]);
    }
    int n = argc - optind;
    if (n < 1 || n > 3 || (unset && n != 2)) return cli_usage("set", "expected SESSION [NAME [VALUE | --unset]]");
    const char *dir = argv[optind], *name = n > 1 ? argv[optind + 1] : NULL;
    sy_err err = {0};
    session *s = session_open(dir, n == 3 || unset ? SESSION_WRITE : SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    int rc = EXIT_OK;
    if (n == 1) {
        json_t *all = json_pack("{s:O?,s:O?}", "settings", json_object_get(session_config(s), "settings"),
                                "attributes", json_object_get(session_config(s), "attributes"));
        char *t = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        puts(t ? t : "{}");
        free(t);
        json_decref(all);
    } else if (n == 2 && !unset) {
        json_t *v = session_get(s, name);
        if (!v) {
            rc = cli_error("%s: no setting '%s' (see 'syneg set %s')", dir, name, dir);
        } else {
            char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_INDENT(2) | JSON_REAL_PRECISION(12));
            puts(t ? t : "null");
            free(t);
        }
    } else if (session_readonly(s)) {
        rc = cli_error("%s: session is in use by another syneg (pid %ld); change settings there", dir,
                       session_lock_holder(s));
    } else if (unset) {
        json_t *parent = NULL;
        char *path = strdup(name), *dot = strrchr(path, '.');
        if (dot) {
            *dot = '\0';
            parent = session_get(s, path);
        } else {
            parent = json_object_get(session_config(s), "settings");
        }
        const char *key = dot ? dot + 1 : path;
        if (!json_is_object(parent) || json_object_del(parent, key) < 0) rc = cli_error("%s: no setting '%s'", dir, name);
        else if (session_save(s, &err) < 0) rc = cli_fail(&err);
        free(path);
    } else {
        const char *text = argv[optind + 2];
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!v) v = json_string(text);
        if (!v) rc = cli_error("'%s' is not valid UTF-8", text);
        else if (session_set(s, name, v, &err) < 0) rc = cli_fail(&err);
    }
    session_close(s);
    return rc;
}
