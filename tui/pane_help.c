/* pane_help: every action of the table with the keys bound to it now, its
 * command and arguments, and its help text; the same table feeds the key map
 * and the command line, so the three never disagree. */
#include <curses.h>
#include <string.h>

#include "tui.h"

static int hscroll;

static void open_help(tui *t) { (void)t; hscroll = 0; }

static void keys_of(const tui *t, int a, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < 1024 && o < n; k++) {
        if (t->keymap[k] != a || k == '\r' || k == KEY_ENTER || k == 127) continue;
        char name[32];
        o = tui_appendf(buf, n, o, "%s%s", o ? " " : "", keys_name(k, name, sizeof name));
    }
}

static const char *const legend[] = {
    "[+] accepted: a true negative    [X] rejected: a false negative    [ ] not yet labelled",
    "*  selected for :bulk    SUSPECT  the miner suspects a false negative    refl:FN  so did the LLM's reflection",
    "Every label is fsync'd to SESSION/labels.jsonl before it shows.  Commands: ':' then Tab completes.",
    "",
};

/* rows of one action: its help text wrapped beside the keys and command */
static size_t help_rows(const tui *t, int a, int w, size_t *st, size_t *en, size_t max)
{
    char text[512];
    int ro = (tui_actions[a].flags & AF_WRITE) && t->readonly;
    snprintf(text, sizeof text, "%s%s", tui_actions[a].help, ro ? " (read-only)" : "");
    size_t n = tui_wrap(text, strlen(text), w > 10 ? w : 10, st, en, max);
    return n ? n : 1;
}

static void draw(tui *t, tui_rect r)
{
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, " HELP   j/k scroll   q or Esc closes", 1);
    const int kw = 16, cw = 34, hx = 1 + kw + 1 + cw + 1, hw = r.w - hx;
    size_t st[8], en[8];
    int nlines = 4 + 1;
    for (int a = 0; a < ACT_COUNT; a++)
        if (!(tui_actions[a].flags & AF_HIDDEN)) {
            char cmd[160];
            size_t cs[8], ce[8];
            snprintf(cmd, sizeof cmd, "%s %s", tui_actions[a].name, tui_actions[a].args);
            size_t h = help_rows(t, a, hw, st, en, 8), c = tui_wrap(cmd, strlen(cmd), cw - 2, cs, ce, 8);
            nlines += (int)(h > c ? h : c);
        }
    if (hscroll > nlines - (r.h - 1)) hscroll = nlines - (r.h - 1);
    if (hscroll < 0) hscroll = 0;
    int y = r.y + 1, line = 0, end = r.y + r.h;
    for (int i = 0; i < 4; i++, line++)
        if (line >= hscroll && y < end) tui_put(y++, r.x + 1, r.w - 1, legend[i], strlen(legend[i]), i < 2 ? 0 : tui_attr(t, C_DIM));
    if (line++ >= hscroll && y < end) tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_TITLE), "%-*s %-*s %s", kw, "KEYS", cw, ":COMMAND", "WHAT");
    for (int a = 0; a < ACT_COUNT; a++) {
        if (tui_actions[a].flags & AF_HIDDEN) continue;
        char text[512];
        int ro = (tui_actions[a].flags & AF_WRITE) && t->readonly;
        snprintf(text, sizeof text, "%s%s", tui_actions[a].help, ro ? " (read-only)" : "");
        size_t n = help_rows(t, a, hw, st, en, 8);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "%s %s", tui_actions[a].name, tui_actions[a].args);
        size_t cs[8], ce[8], nc = tui_wrap(cmd, strlen(cmd), cw - 2, cs, ce, 8);
        if (nc > n) n = nc;
        for (size_t k = 0; k < n; k++, line++) {
            if (line < hscroll || y >= end) continue;
            if (k == 0) {
                char keys[64];
                keys_of(t, a, keys, sizeof keys);
                tui_putf(y, r.x + 1, kw, tui_attr(t, C_KEY), "%s", keys);
            }
            if (k < nc) tui_put(y, r.x + 1 + kw + 1 + (k ? 2 : 0), cw - (k ? 2 : 0), cmd + cs[k], ce[k] - cs[k], 0);
            if (hw > 0 && k < 8 && k < help_rows(t, a, hw, st, en, 8) && en[k] > st[k])
                tui_put(y, r.x + hx, hw, text + st[k], en[k] - st[k], ro ? tui_attr(t, C_DIM) : 0);
            y++;
        }
    }
}

static int key(tui *t, int action, int k)
{
    (void)t, (void)k;
    switch (action) {
    case ACT_down: hscroll++; return TUI_REDRAW;
    case ACT_up: hscroll--; return TUI_REDRAW;
    case ACT_page_down: hscroll += 10; return TUI_REDRAW;
    case ACT_page_up: hscroll -= 10; return TUI_REDRAW;
    case ACT_first: hscroll = 0; return TUI_REDRAW;
    case ACT_help: return TUI_UNHANDLED | 0;
    }
    return TUI_UNHANDLED;
}

const tui_pane pane_help = {"help", open_help, draw, key, NULL};

int act_help(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return tui_toggle(t, &pane_help);
}
