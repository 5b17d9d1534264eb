/* passage: title + text -> the passage string (see passage.h). */
#include "passage.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "settings.h"

int passage_append(sy_buf *b, const char *title, const char *text, size_t text_len, int titles)
{
    if (!text) text = "", text_len = 0;
    if (text_len == (size_t)-1) text_len = strlen(text);
    if (titles && title && *title)
        if (sy_buf_puts(b, title) || sy_buf_puts(b, " ")) return -1;
    return sy_buf_append(b, text, text_len);   /* NUL-terminates, even when empty */
}

char *passage_format(const char *title, const char *text, int titles)
{
    sy_buf b = {0};
    if (passage_append(&b, title, text, (size_t)-1, titles)) {
        sy_buf_free(&b);
        return NULL;
    }
    return b.data;
}

int passage_titles_value(const char *v, const char *what, sy_err *err)
{
    static const char *on[] = {"yes", "true", "1", "on"}, *off[] = {"no", "false", "0", "off"};
    for (size_t i = 0; v && i < 4; i++) {
        if (!strcasecmp(v, on[i])) return PASSAGE_TITLES;
        if (!strcasecmp(v, off[i])) return PASSAGE_NO_TITLES;
    }
    return sy_fail(err, SY_EINVAL, "%s: '%s' is not yes or no; use yes (\"title text\") or no (text only)",
                   what, v ? v : "");
}

int passage_titles_setting(session *s, sy_err *err)
{
    /* the row "passage.titles" of the settings table (settings.h) decides; a bad stored value fails */
    if (!s) return PASSAGE_TITLES;
    if (settings_check_session(s, "passage.titles", err) < 0) return -1;
    return settings_bool(s, "passage.titles") ? PASSAGE_TITLES : PASSAGE_NO_TITLES;
}
