/* pane_train: the training dialog.  Every field but the model is a train.*
 * row of the settings table (engine/settings.c): its value is the session's
 * setting, its default, range and help come from the table, so the dialog,
 * `syneg train` and the launch scripts agree.  The model is train.scratch
 * (tiny | mini) or train.init (a Hugging Face folder); an unset learning
 * rate follows the model (train_default_lr: 1e-3 scratch tiny, 5e-4 mini,
 * 2e-5 fine-tuning), and a set one that does not fit the model is flagged.
 *
 * Enter edits a field in place (its value only: ^U clears the value, never a
 * command; Enter saves through settings_set, which refuses a bad value with
 * its range; Esc cancels).  D puts a field back to its default.  L launches
 * `syneg train` as a job with these settings (one row in J, Enter there opens
 * the run view); W writes the training file and a torchrun launch script
 * (`syneg export --launch`). */
#include <curses.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/settings.h"
#include "../engine/train.h"
#include "tui.h"

#define MODEL_FIELD "model"
static const char *const fields[] = {
    MODEL_FIELD, "train.max_steps", "train.eval_every", "train.lr", "train.mix", "train.group", "train.epochs",
    "train.batch", "train.temp",
};
#define NFIELDS (int)(sizeof fields / sizeof fields[0])
static int sel, editing;
static char edit[512];

static const char *model_text(tui *t, char *buf, size_t n)
{
    const char *init = settings_str(t->s, "train.init"), *sc = settings_str(t->s, "train.scratch");
    if (*init) snprintf(buf, n, "%s", init);
    else if (*sc) snprintf(buf, n, "scratch %s", sc);
    else snprintf(buf, n, "scratch tiny");
    return buf;
}

/* the scratch size in force ("" when fine-tuning a folder) */
static const char *model_scratch(tui *t)
{
    if (*settings_str(t->s, "train.init")) return "";
    const char *sc = settings_str(t->s, "train.scratch");
    return *sc ? sc : "tiny";
}

static const char *value(tui *t, int i, char *buf, size_t n)
{
    if (!strcmp(fields[i], MODEL_FIELD)) return model_text(t, buf, n);
    settings_value_text(t->s, NULL, fields[i], buf, n, NULL);
    return buf;
}

/* a note beside the value: where an unset lr comes from, or a mismatch */
static const char *note(tui *t, int i, char *buf, size_t n, int *warn)
{
    *warn = 0;
    buf[0] = 0;
    if (!strcmp(fields[i], "train.lr")) {
        double fit = train_default_lr(model_scratch(t));
        if (!settings_is_set(t->s, "train.lr")) {
            snprintf(buf, n, "%g: fits %s%s", fit, *model_scratch(t) ? "scratch " : "fine-tuning", model_scratch(t));
        } else {
            double lr = settings_num(t->s, "train.lr");
            if (lr > fit * 10 || lr < fit / 10) {
                snprintf(buf, n, "set; %s usually trains with %g (D resets)", *model_scratch(t) ? "a scratch model" : "fine-tuning", fit);
                *warn = 1;
            }
        }
    } else if (!strcmp(fields[i], MODEL_FIELD) && !settings_is_set(t->s, "train.init") && !settings_is_set(t->s, "train.scratch")) {
        snprintf(buf, n, "(default)");
    } else if (!strcmp(fields[i], "train.max_steps") && settings_int(t->s, "train.max_steps") == 0) {
        snprintf(buf, n, "(epochs decide)");
    }
    return buf;
}

static void draw(tui *t, tui_rect r)
{
    tui_box_title(t, (tui_rect){r.y, r.x, 1, r.w},
                  editing ? " TRAIN   editing: Enter saves  ^U clears  Esc cancels"
                          : " TRAIN   j/k field  Enter edit  D default  L launch  W write launch script  q closes", 1);
    int y = r.y + 2, end = r.y + r.h;
    for (int i = 0; i < NFIELDS && y < end; i++, y++) {
        char v[512], nb[160];
        int warn, base = i == sel ? tui_attr(t, C_CURSOR) : 0;
        tui_fill(y, r.x, r.w, base);
        int x = r.x + 2;
        const char *label = !strcmp(fields[i], MODEL_FIELD) ? "model" : fields[i] + 6;
        x += tui_putf(y, x, r.w - 2, base | A_BOLD, "%-12s ", label);
        if (editing && i == sel) x += tui_putf(y, x, r.x + r.w - x, base | A_UNDERLINE, "%s_", edit), x++;
        else x += tui_putf(y, x, r.x + r.w - x, base, "%-24s ", value(t, i, v, sizeof v));
        note(t, i, nb, sizeof nb, &warn);
        if (nb[0]) x += tui_putf(y, x, r.x + r.w - x, base | tui_attr(t, warn ? C_SUSPECT : C_DIM), "%s  ", nb);
        const setting_info *si = strcmp(fields[i], MODEL_FIELD) ? settings_find(fields[i]) : NULL;
        tui_putf(y, x, r.x + r.w - x, base | tui_attr(t, C_DIM), "%s",
                 si ? si->help : "scratch tiny | scratch mini | a Hugging Face model folder");
    }
    y++;
    if (y < end) tui_putf(y++, r.x + 2, r.w - 2, tui_attr(t, C_DIM), "Other train.* settings: :set train.NAME VALUE (syneg set --list shows them).");
    if (y < end) tui_putf(y++, r.x + 2, r.w - 2, tui_attr(t, C_DIM), "The run appears in J (jobs); Enter there opens its curves, config and log.");
}

static int save_model(tui *t, const char *text, sy_err *err)
{
    const char *p = text;
    while (*p == ' ') p++;
    if (!strncmp(p, "scratch", 7)) p += 7;
    while (*p == ' ' || *p == ':') p++;
    if (!strcmp(p, "tiny") || !strcmp(p, "mini")) {
        if (settings_set(t->s, "train.scratch", p, err) < 0) return -1;
        return settings_unset(t->s, "train.init", err);
    }
    if (!*p || !sy_is_dir(p))
        return sy_fail(err, SY_EINVAL, "model '%s': give scratch tiny, scratch mini or a Hugging Face model folder", text);
    if (settings_set(t->s, "train.init", p, err) < 0) return -1;
    return settings_unset(t->s, "train.scratch", err);
}

static int edit_key(tui *t, int k)
{
    size_t n = strlen(edit);
    if (k == 27) {
        editing = 0;
        tui_msg(t, "not changed");
    } else if (k == '\n' || k == '\r' || k == KEY_ENTER) {
        sy_err err = {0};
        int r = !strcmp(fields[sel], MODEL_FIELD) ? save_model(t, edit, &err) : settings_set(t->s, fields[sel], edit, &err);
        if (r < 0) tui_err(t, "%s", err.msg);   /* stays in edit: fix the value or Esc */
        else editing = 0, tui_msg(t, "%s = %s", fields[sel], edit);
    } else if (k == 21) {                       /* ^U: the value only */
        edit[0] = 0;
    } else if (k == KEY_BACKSPACE || k == 127 || k == 8) {
        while (n > 0 && (edit[n - 1] & 0xc0) == 0x80) n--;   /* a whole UTF-8 character */
        if (n > 0) edit[n - 1] = 0;
    } else if (k >= 32 && k < 256 && k != 127 && n + 1 < sizeof edit) {
        edit[n] = (char)k, edit[n + 1] = 0;
    }
    return TUI_REDRAW;
}

static void argv_for(tui *t, sy_buf *b, int launch)
{
    /* train reads every train.* setting itself; only the model is passed */
    if (launch) {
        const char *init = settings_str(t->s, "train.init");
        if (*init) sy_buf_printf(b, "--init '%s'", init);
        else sy_buf_printf(b, "--scratch %s", model_scratch(t));
    } else {
        sy_buf_printf(b, "--format flag -o '%s/exports/train.jsonl' --mix %s --num %ld --launch torchrun",
                      session_dir(t->s), settings_str(t->s, "train.mix"), settings_int(t->s, "train.group") - 1);
    }
}

static int key(tui *t, int action, int k)
{
    if (editing) return edit_key(t, k);
    if (action == ACT_down) return sel + 1 < NFIELDS ? sel++ : 0, TUI_REDRAW;
    if (action == ACT_up) return sel > 0 ? sel-- : 0, TUI_REDRAW;
    if (action == ACT_detail || k == '\n') {
        value(t, sel, edit, sizeof edit);
        editing = 1;
        return TUI_REDRAW;
    }
    if (k == 'D') {
        sy_err err = {0};
        int r = 0;
        if (!strcmp(fields[sel], MODEL_FIELD)) r = settings_unset(t->s, "train.init", &err) || settings_unset(t->s, "train.scratch", &err);
        else r = settings_unset(t->s, fields[sel], &err);
        if (r) tui_err(t, "%s", err.msg);
        else tui_msg(t, "%s back to its default", fields[sel]);
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

static void close_train(tui *t)
{
    (void)t;
    editing = 0;
}

const tui_pane pane_train = {"train", NULL, draw, key, close_train};

int act_train_dialog(tui *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    return tui_toggle(t, &pane_train);
}
