/* tui_draw: drawing helpers shared by the panes: colour classes with a
 * monochrome fallback, width-aware UTF-8 output clipped to a width, greedy
 * word wrap, query-term highlighting and sparklines.  All output goes to
 * stdscr; only the main loop calls refresh. */
#include <ctype.h>
#include <curses.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>
#include <wchar.h>

#include "tui.h"

static int attrs[C_NCOLORS];
static int draw_utf8 = 1;

void tui_colors_init(tui *t)
{
    draw_utf8 = t->utf8;
    int mono[C_NCOLORS] = {
        [C_NORMAL] = A_NORMAL, [C_TITLE] = A_BOLD,       [C_CURSOR] = A_REVERSE,
        [C_ACCEPT] = A_NORMAL, [C_REJECT] = A_BOLD,      [C_SUSPECT] = A_UNDERLINE,
        [C_DIM] = A_DIM,       [C_STATUS] = A_REVERSE,   [C_KEY] = A_BOLD,
        [C_HILITE] = A_BOLD | A_UNDERLINE,               [C_ERR] = A_BOLD | A_REVERSE,
        [C_SEL] = A_BOLD,
    };
    memcpy(attrs, mono, sizeof attrs);
    const char *nc = getenv("NO_COLOR");
    t->color = !t->headless && has_colors() && !(nc && *nc);
    if (!t->color) return;
    start_color();
    use_default_colors();
    static const short fg[C_NCOLORS] = {
        [C_NORMAL] = -1,          [C_TITLE] = COLOR_CYAN,   [C_CURSOR] = COLOR_BLACK,
        [C_ACCEPT] = COLOR_GREEN, [C_REJECT] = COLOR_RED,   [C_SUSPECT] = COLOR_YELLOW,
        [C_DIM] = -1,             [C_STATUS] = COLOR_WHITE, [C_KEY] = COLOR_YELLOW,
        [C_HILITE] = COLOR_YELLOW,[C_ERR] = COLOR_WHITE,    [C_SEL] = COLOR_MAGENTA,
    };
    static const short bg[C_NCOLORS] = {
        [C_NORMAL] = -1, [C_TITLE] = -1, [C_CURSOR] = COLOR_CYAN, [C_ACCEPT] = -1, [C_REJECT] = -1,
        [C_SUSPECT] = -1, [C_DIM] = -1, [C_STATUS] = COLOR_BLUE, [C_KEY] = -1, [C_HILITE] = -1,
        [C_ERR] = COLOR_RED, [C_SEL] = -1,
    };
    for (int c = 1; c < C_NCOLORS; c++) {
        init_pair((short)c, fg[c], bg[c]);
        attrs[c] = (int)COLOR_PAIR(c);
    }
    attrs[C_TITLE] |= A_BOLD;
    attrs[C_REJECT] |= A_BOLD;
    attrs[C_KEY] |= A_BOLD;
    attrs[C_HILITE] |= A_BOLD;
    attrs[C_ERR] |= A_BOLD;
    attrs[C_DIM] = A_DIM;
}

int tui_attr(tui *t, int c)
{
    (void)t;
    return c >= 0 && c < C_NCOLORS ? attrs[c] : 0;
}

int tui_cursor_attr(tui *t, int focused) { return focused ? tui_attr(t, C_CURSOR) | A_BOLD : (int)A_REVERSE; }

/* next code point of s[i..n); invalid bytes become U+FFFD */
static int32_t next_cp(const char *s, size_t n, size_t *i)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + *i, (utf8proc_ssize_t)(n - *i), &cp);
    if (k <= 0) {
        (*i)++;
        return 0xFFFD;
    }
    *i += (size_t)k;
    return cp;
}

static int cp_width(int32_t cp)
{
    if (cp < 32 || cp == 127) return 1;   /* control characters are drawn as spaces */
    int w = utf8proc_charwidth(cp);
    return w < 0 ? 1 : w;
}

size_t tui_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) w += (size_t)cp_width(next_cp(s, n, &i));
    return w;
}

int tui_put(int y, int x, int w, const char *s, size_t n, int attr)
{
    if (w <= 0 || !s) return 0;
    wchar_t buf[512];
    int used = 0, k = 0;
    for (size_t i = 0; i < n && k < 510;) {
        int32_t cp = next_cp(s, n, &i);
        int cw = cp_width(cp);
        if (cw == 0) continue;            /* combining marks: keep the column math exact */
        if (used + cw > w) break;
        if (cp < 32 || cp == 127) cp = ' ';
        else if (!draw_utf8 && cp > 126) cp = '?', cw = 1;
        buf[k++] = (wchar_t)cp;
        used += cw;
    }
    buf[k] = 0;
    attron(attr);
    mvaddnwstr(y, x, buf, k);
    attroff(attr);
    return used;
}

size_t tui_appendf(char *buf, size_t cap, size_t o, const char *fmt, ...)
{
    if (!cap) return 0;
    if (o >= cap) return cap - 1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + o, cap - o, fmt, ap);
    va_end(ap);
    if (n < 0) return o;
    return o + (size_t)n >= cap ? cap - 1 : o + (size_t)n;
}

int tui_putf(int y, int x, int w, int attr, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return tui_put(y, x, w, buf, strlen(buf), attr);
}

void tui_fill(int y, int x, int w, int attr)
{
    if (w <= 0) return;
    attron(attr);
    mvhline(y, x, ' ', w);
    attroff(attr);
}

size_t tui_wrap(const char *s, size_t n, int w, size_t *starts, size_t *ends, size_t max)
{
    size_t lines = 0, i = 0;
    if (w < 1) w = 1;
    while (i < n && lines < max) {
        while (i < n && s[i] == ' ') i++;           /* no leading blanks on a line */
        if (i >= n) break;
        size_t start = i, brk = 0, brk_next = 0;
        int used = 0;
        while (i < n) {
            if (s[i] == '\n') {
                brk = i, brk_next = i + 1;
                break;
            }
            size_t j = i;
            int cw = cp_width(next_cp(s, n, &j));
            if (used + cw > w) {
                if (!brk) brk = brk_next = i;        /* a word longer than the line: cut it */
                break;
            }
            if (s[i] == ' ' || s[i] == '\t') brk = i, brk_next = i + 1;
            used += cw;
            i = j;
        }
        if (i >= n) brk = n, brk_next = n;
        starts[lines] = start;
        ends[lines] = brk > start ? brk : (i > start ? i : start + 1);
        lines++;
        i = brk_next > start ? brk_next : ends[lines - 1];
    }
    return lines;
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int tui_title_redundant(const char *title, const char *text)
{
    if (!title || !*title) return 1;
    size_t n = strlen(title);
    while (n && (blank(title[n - 1]) || title[n - 1] == '.')) n--;   /* Cranfield titles end in " ." */
    if (!n) return 1;
    while (*text && blank(*text)) text++;
    if (strncasecmp(title, text, n)) return 0;
    /* the whole title as the text's first sentence ("title ." then more), not
     * just a shared first word ("Matcha: Matcha is ...") */
    const char *p = text + n;
    while (*p == ' ' || *p == '\t') p++;
    return !*p || *p == '.' || *p == '\n' || *p == ':';
}

int tui_put_wrapped(int y, int x, int w, int first, int maxl, const char *s, size_t n, int attr, int hl, const char *terms)
{
    if (maxl <= 0 || w < 2 || !s) return 0;
    static const char ell[] = "\xe2\x80\xa6";   /* the ellipsis */
    size_t off = 0;
    int lines = 0;
    while (lines < maxl) {
        while (off < n && blank(s[off])) off++;
        if (off >= n) break;
        int lw = lines == 0 ? w - first : w, lx = lines == 0 ? x + first : x;
        if (lw < 4) {   /* no room after what precedes the first line: start below */
            lines++;
            continue;
        }
        size_t st, en;
        if (!tui_wrap(s + off, n - off, lw, &st, &en, 1)) break;
        size_t rest = off + en;
        while (rest < n && blank(s[rest])) rest++;
        int cut = lines == maxl - 1 && rest < n;   /* text left over: mark it */
        if (cut) tui_wrap(s + off, n - off, lw - 1, &st, &en, 1);
        if (y >= 0) {
            int used = hl && terms ? tui_put_hl(y + lines, lx, lw, s + off + st, en - st, attr, hl, terms)
                                   : tui_put(y + lines, lx, lw, s + off + st, en - st, attr);
            if (cut) tui_put(y + lines, lx + used, lw - used, draw_utf8 ? ell : "~", draw_utf8 ? 3 : 1, attr);
        }
        off += en;
        lines++;
    }
    return lines;
}

static int is_word_byte(unsigned char c) { return isalnum(c) || c >= 0x80; }

int tui_put_hl(int y, int x, int w, const char *s, size_t n, int attr, int hl, const char *terms)
{
    int used = 0;
    size_t i = 0;
    while (i < n && used < w) {
        size_t j = i;
        int word = is_word_byte((unsigned char)s[i]);
        while (j < n && is_word_byte((unsigned char)s[j]) == word) j++;
        int a = attr;
        if (word && terms && *terms && j - i < 60) {
            char key[64];
            key[0] = ' ';
            for (size_t k = 0; k < j - i; k++) key[k + 1] = (char)tolower((unsigned char)s[i + k]);
            key[j - i + 1] = ' ';
            key[j - i + 2] = 0;
            if (strstr(terms, key)) a = hl;
            else if (j - i > 4 && key[j - i] == 's') {   /* plural of a term */
                key[j - i] = ' ', key[j - i + 1] = 0;
                if (strstr(terms, key)) a = hl;
            }
        }
        used += tui_put(y, x + used, w - used, s + i, j - i, a);
        i = j;
    }
    return used;
}

void tui_query_terms(const char *query, char *out, size_t n)
{
    static const char *const stop =
        " the and for are was were what which who whom how why when where with from that this these those "
        "into onto does did not can could should would has have had its it's than then there their them they "
        "you your about any all but also may might been being such only other some most more very "
        "between over under after before while during use used using is of in on to a an by as at be or ";
    size_t o = 0;
    if (n < 3) return;
    out[o++] = ' ';
    for (const char *p = query; *p;) {
        while (*p && !is_word_byte((unsigned char)*p)) p++;
        const char *st = p;
        while (*p && is_word_byte((unsigned char)*p)) p++;
        size_t len = (size_t)(p - st);
        if (len < 3 || len > 40) continue;
        char w[48];
        w[0] = ' ';
        for (size_t k = 0; k < len; k++) w[k + 1] = (char)tolower((unsigned char)st[k]);
        w[len + 1] = ' ';
        w[len + 2] = 0;
        if (strstr(stop, w)) continue;
        if (o + len + 2 >= n) break;
        memcpy(out + o, w + 1, len + 1);
        o += len + 1;
    }
    out[o] = 0;
}

void tui_box_title(tui *t, tui_rect r, const char *title, int focused)
{
    tui_fill(r.y, r.x, r.w, tui_attr(t, focused ? C_CURSOR : C_TITLE) | (focused ? A_BOLD : 0));
    tui_put(r.y, r.x, r.w, title, strlen(title), tui_attr(t, focused ? C_CURSOR : C_TITLE) | (focused ? A_BOLD : 0));
}

void tui_sparkline(int y, int x, int w, const float *v, int n, int attr, int utf8)
{
    static const char *const bars[8] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
                                        "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    static const char ascii[] = "_.-:=+*#";
    if (n <= 0 || w <= 0) return;
    int from = n > w ? n - w : 0;
    float lo = v[from], hi = v[from];
    for (int i = from; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    for (int i = from; i < n; i++) {
        int lvl = hi > lo ? (int)((v[i] - lo) / (hi - lo) * 7.0f + 0.5f) : 3;
        if (utf8) tui_put(y, x + i - from, 1, bars[lvl], 3, attr);
        else tui_put(y, x + i - from, 1, &ascii[lvl], 1, attr);
    }
}
