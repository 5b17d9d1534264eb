/* keys: key notation ("j", "^R", "<Down>", "<Enter>") <-> curses key codes,
 * and the key map built from the default keys of the action table.  The same
 * notation is used by `:bind`, scripts and the help screen. */
#include <ctype.h>
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "tui.h"

static const struct {
    const char *name;
    int code;
} named[] = {
    {"Down", KEY_DOWN},     {"Up", KEY_UP},         {"Left", KEY_LEFT},   {"Right", KEY_RIGHT},
    {"PgDn", KEY_NPAGE},    {"PgUp", KEY_PPAGE},    {"Home", KEY_HOME},   {"End", KEY_END},
    {"Enter", '\n'},        {"Tab", '\t'},          {"BTab", KEY_BTAB},   {"Esc", 27},
    {"Space", ' '},         {"Backspace", KEY_BACKSPACE},                 {"Del", KEY_DC},
    {"lt", '<'},            {"Resize", KEY_RESIZE}, {"F1", KEY_F(1)},     {"F2", KEY_F(2)},
    {"F3", KEY_F(3)},       {"F4", KEY_F(4)},       {"F5", KEY_F(5)},     {"F10", KEY_F(10)},
};
#define NNAMED (sizeof named / sizeof named[0])

int keys_parse(const char *spec, int *keys, int max)
{
    int n = 0;
    for (const char *p = spec; *p;) {
        int code = -1;
        if (*p == '<') {
            const char *e = strchr(p, '>');
            if (e) {
                size_t len = (size_t)(e - p - 1);
                for (size_t i = 0; i < NNAMED; i++)
                    if (strlen(named[i].name) == len && !strncasecmp(p + 1, named[i].name, len)) code = named[i].code;
                if (code >= 0) p = e + 1;
            }
            if (code < 0) code = *p++;   /* a literal '<' */
        } else if (*p == '^' && p[1] && p[1] != ' ') {
            code = toupper((unsigned char)p[1]) & 0x1f;
            p += 2;
        } else {
            code = (unsigned char)*p++;
        }
        if (n >= max) return -1;
        keys[n++] = code;
    }
    return n;
}

const char *keys_name(int key, char *buf, size_t n)
{
    for (size_t i = 0; i < NNAMED; i++)
        if (named[i].code == key && key != '<') {
            snprintf(buf, n, "<%s>", named[i].name);
            return buf;
        }
    if (key == '\r' || key == KEY_ENTER) snprintf(buf, n, "<Enter>");
    else if (key == 127) snprintf(buf, n, "<Backspace>");
    else if (key > 0 && key < 32) snprintf(buf, n, "^%c", key + '@');
    else if (key >= 32 && key < 127) snprintf(buf, n, "%c", key);
    else snprintf(buf, n, "<%d>", key);
    return buf;
}

static void bind_code(tui *t, int code, int action)
{
    if (code >= 0 && code < (int)(sizeof t->keymap / sizeof t->keymap[0])) t->keymap[code] = action;
    /* Enter arrives as \n, \r or KEY_ENTER depending on the terminal */
    if (code == '\n') {
        t->keymap['\r'] = action;
        t->keymap[KEY_ENTER] = action;
    }
    if (code == KEY_BACKSPACE) t->keymap[127] = action;
}

void keys_defaults(tui *t)
{
    for (size_t i = 0; i < sizeof t->keymap / sizeof t->keymap[0]; i++) t->keymap[i] = ACT_NONE;
    for (int a = 0; a < ACT_COUNT; a++) {
        char spec[64];
        snprintf(spec, sizeof spec, "%s", tui_actions[a].keys);
        for (char *tok = strtok(spec, " "); tok; tok = strtok(NULL, " ")) {
            int codes[8];
            if (keys_parse(tok, codes, 8) == 1) bind_code(t, codes[0], a);
        }
    }
}

int keys_bind(tui *t, const char *spec, const char *action, sy_err *err)
{
    int codes[8];
    if (keys_parse(spec, codes, 8) != 1)
        return sy_fail(err, SY_EINVAL, "bind: '%s' is not one key; write e.g. j, ^R, <Down>", spec);
    int a = ACT_NONE;
    if (strcmp(action, "none")) {
        a = tui_action_find(action);
        if (a < 0) return sy_fail(err, SY_EINVAL, "bind: no action '%s'; see the help screen (?)", action);
    }
    bind_code(t, codes[0], a);
    return 0;
}

int keys_first(const tui *t, int action, char *buf, size_t n)
{
    /* the default key first (it is what the help names), if still bound to it */
    char spec[64];
    snprintf(spec, sizeof spec, "%s", tui_actions[action].keys);
    for (char *tok = strtok(spec, " "); tok; tok = strtok(NULL, " ")) {
        int codes[8];
        if (keys_parse(tok, codes, 8) == 1 && codes[0] >= 0 && codes[0] < 1024 && t->keymap[codes[0]] == action) {
            snprintf(buf, n, "%s", tok);
            return 1;
        }
    }
    for (int k = 0; k < 1024; k++)
        if (t->keymap[k] == action) {
            keys_name(k, buf, n);
            return 1;
        }
    return 0;
}
