/* pane_train: the training dialog.  Fields (kept in session settings
 * tui.train.*): model (a pretrained Hugging Face folder, or "scratch"), mix
 * ratio, negatives per query, epochs, batch, learning rate, temperature.
 * L launches the built-in trainer as a detached job (`syneg train`), W writes
 * the training file and a torchrun launch script (`syneg export --launch`). */
#include <curses.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

typedef struct {
    const char *key, *label, *def, *help;
} field;

static const field fields[] = {
    {"model", "model", "scratch", "a pretrained HF folder (e.g. ../shared/data/bert-base-uncased) or scratch"},
    {"mix", "mix ratio", "0.5", "fraction of synthetic negatives per group (0..1)"},
    {"negs", "negatives per query", "7", "hard negatives in each training group"},
    {"epochs", "epochs", "1", ""},
    {"batch", "batch", "16", "queries per batch"},
    {"lr", "learning rate", "2e-5", "1e-3 suits a model from scratch"},
    {"temp", "temperature", "0.02", "InfoNCE temperature"},
};
#define NFIELDS (int)(sizeof fields / sizeof fields[0])
static int sel;

static const char *value(tui *t, int i, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "tui.train.%s", fields[i].key);
    json_t *v = session_get(t->s, path);
    if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_number(v)) snprintf(buf, n, "%g", json_number_value(v));
    else snprintf(buf, n, "%s", fields[i].def);
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
        x += tui_putf(y, x, r.w - 2, base | A_BOLD, "%-20s ", fields[i].label);
        x += tui_putf(y, x, r.x + r.w - x, base, "%-28s ", value(t, i, v, sizeof v));
        tui_putf(y, x, r.x + r.w - x, base | tui_attr(t, C_DIM), "%s", fields[i].help);
    }
    y++;
    if (y < end) tui_putf(y++, r.x + 2, r.w - 2, tui_attr(t, C_DIM), "The run appears in J (jobs) with its loss curve; runs started elsewhere appear there too.");
}

static void argv_for(tui *t, sy_buf *b, int launch)
{
    char v[NFIELDS][256];
    for (int i = 0; i < NFIELDS; i++) value(t, i, v[i], sizeof v[i]);
    if (launch) {
        if (!strcmp(v[0], "scratch")) sy_buf_printf(b, "--scratch mini");
        else sy_buf_printf(b, "--init '%s'", v[0]);
        sy_buf_printf(b, " --mix %s --group %d --epochs %s --batch %s --lr %s --temp %s", v[1], atoi(v[2]) + 1, v[3], v[4], v[5], v[6]);
    } else {
        sy_buf_printf(b, "--format flag -o '%s/exports/train.jsonl' --mix %s --num %s --epochs %s --launch torchrun", session_dir(t->s), v[1],
                      v[2], v[3]);
    }
}

static int key(tui *t, int action, int k)
{
    if (action == ACT_down) return sel + 1 < NFIELDS ? sel++ : 0, TUI_REDRAW;
    if (action == ACT_up) return sel > 0 ? sel-- : 0, TUI_REDRAW;
    if (action == ACT_detail) {
        char pre[128], v[256];
        snprintf(pre, sizeof pre, "set tui.train.%s %s", fields[sel].key, value(t, sel, v, sizeof v));
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
