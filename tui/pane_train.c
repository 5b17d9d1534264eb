/* pane_train: the training dialog.  Fields (kept in session settings
 * train.*, rows of the settings table): model (scratch size or a pretrained
 * Hugging Face folder), mix ratio, group, epochs, max steps, eval interval,
 * batch, learning rate (by model when unset), temperature.
 * L launches the built-in trainer as a detached job (`syneg train`), W writes
 * the training file and a torchrun launch script (`syneg export --launch`). */
#include <curses.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/settings.h"
#include "../engine/train.h"
#include "tui.h"

/* each field is a train.* row of the settings table (engine/settings.c):
 * its default, range and help come from there */
static const char *const fields[] = {
    "train.scratch", "train.init", "train.mix", "train.group", "train.epochs", "train.max_steps",
    "train.eval_every", "train.batch", "train.lr", "train.temp",
};
#define NFIELDS (int)(sizeof fields / sizeof fields[0])
static int sel;

static const char *value(tui *t, int i, char *buf, size_t n)
{
    settings_value_text(t->s, NULL, fields[i], buf, n, NULL);
    if (!buf[0] && !strcmp(fields[i], "train.lr")) {
        const char *sc = settings_str(t->s, "train.scratch");
        snprintf(buf, n, "%g (by model)", train_default_lr(settings_str(t->s, "train.init")[0] ? "" : sc));
    }
    return buf;
}

static void draw(tui *t, tui_rect r)
{
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w}, " TRAIN   j/k field  Enter edit  L launch (detached)  W write launch script  q closes", 1);
    int y = r.y + 2, end = r.y + r.h;
    for (int i = 0; i < NFIELDS && y < end; i++, y++) {
        char v[256];
        int base = i == sel ? tui_attr(t, C_CURSOR) : 0;
        tui_fill(y, r.x, r.w, base);
        int x = r.x + 2;
        x += tui_putf(y, x, r.w - 2, base | A_BOLD, "%-20s ", fields[i]);
        x += tui_putf(y, x, r.x + r.w - x, base, "%-28s ", value(t, i, v, sizeof v));
        tui_putf(y, x, r.x + r.w - x, base | tui_attr(t, C_DIM), "%s", settings_find(fields[i])->help);
    }
    y++;
    if (y < end) tui_putf(y++, r.x + 2, r.w - 2, tui_attr(t, C_DIM), "The run appears in J (jobs) with its loss curve; runs started elsewhere appear there too.");
}

static void argv_for(tui *t, sy_buf *b, int launch)
{
    /* train reads every train.* setting itself; export takes mix and group */
    if (launch) {
        if (!settings_is_set(t->s, "train.init") && !settings_is_set(t->s, "train.scratch")) sy_buf_printf(b, "--scratch tiny");
    } else {
        sy_buf_printf(b, "--format flag -o '%s/exports/train.jsonl' --mix %s --num %ld --launch torchrun",
                      session_dir(t->s), settings_str(t->s, "train.mix"),
                      settings_int(t->s, "train.group") - 1);
    }
}

static int key(tui *t, int action, int k)
{
    if (action == ACT_down) return sel + 1 < NFIELDS ? sel++ : 0, TUI_REDRAW;
    if (action == ACT_up) return sel > 0 ? sel-- : 0, TUI_REDRAW;
    if (action == ACT_detail) {
        char pre[128], v[256];
        snprintf(pre, sizeof pre, "set %s %s", fields[sel], value(t, sel, v, sizeof v));
        tui_prompt_open(t, pre);
        return TUI_REDRAW;
    }
    if (k == 'L' || k == 'W') {
        sy_buf b = {0};
        sy_buf_puts(&b, k == 'L' ? "train " : "export ");
        argv_for(t, &b, k == 'L');
        if (k == 'W') {
            char *d = session_path(t->s, "exports");
            sy_mkdir_p(d, NULL);
            free(d);
        }
        int r = tui_run_command(t, b.data);
        sy_buf_free(&b);
        return r;
    }
    return TUI_UNHANDLED;
}

const tui_pane pane_train = {"train", NULL, draw, key, NULL};

int act_train_dialog(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return tui_toggle(t, &pane_train);
}
