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
        o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? " " : "", keys_name(k, name, sizeof name));
    }
}

static const char *const legend[] = {
    "[+] accepted: a true negative    [X] rejected: a false negative    [ ] not yet labelled",
    "*  selected for :bulk    SUSPECT  the miner suspects a false negative    refl:FN  so did the LLM's reflection",
    "Every label is fsync'd to SESSION/labels.jsonl before it shows.  Commands: ':' then Tab completes.",
    "",
};

static void draw(tui *t, tui_rect r)
{
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, " HELP   j/k scroll   q or Esc closes", 1);
    int nlines = 4 + 1 + ACT_COUNT;
    if (hscroll > nlines - (r.h - 1)) hscroll = nlines - (r.h - 1);
    if (hscroll < 0) hscroll = 0;
    int y = r.y + 1, line = 0, end = r.y + r.h;
    for (int i = 0; i < 4; i++, line++)
        if (line >= hscroll && y < end) tui_put(y++, r.x + 1, r.w - 1, legend[i], strlen(legend[i]), i < 2 ? 0 : tui_attr(t, C_DIM));
    if (line++ >= hscroll && y < end) tui_putf(y++, r.x + 1, r.w - 1, tui_attr(t, C_TITLE), "%-16s %-34s %s", "KEYS", ":COMMAND", "WHAT");
    for (int a = 0; a < ACT_COUNT; a++) {
        if (tui_actions[a].flags & AF_HIDDEN) continue;
        if (line++ < hscroll || y >= end) continue;
        char keys[64], cmd[96];
        keys_of(t, a, keys, sizeof keys);
        snprintf(cmd, sizeof cmd, "%s %s", tui_actions[a].name, tui_actions[a].args);
        int x = r.x + 1;
        x += tui_putf(y, x, r.x + r.w - x, tui_attr(t, C_KEY), "%-16s ", keys);
        x += tui_putf(y, x, r.x + r.w - x, 0, "%-34.34s ", cmd);
        int ro = (tui_actions[a].flags & AF_WRITE) && t->readonly;
        tui_putf(y, x, r.x + r.w - x, ro ? tui_attr(t, C_DIM) : 0, "%s%s", tui_actions[a].help, ro ? " (read-only)" : "");
        y++;
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
    if (t->overlay == &pane_help) {
        t->overlay = NULL;
        return TUI_REDRAW;
    }
    if (t->overlay && t->overlay->close) t->overlay->close(t);
    t->overlay = &pane_help;
    pane_help.open(t);
    return TUI_REDRAW;
}
