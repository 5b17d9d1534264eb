/* passage: the one place where a document's title and text become the
 * passage string a model reads.  Index (dense embedding), mining (text
 * de-duplication), training, export and cross-encoder scoring all format
 * passages here, so retrieved documents, positives and synthetic negatives
 * have the same shape.
 *
 * The rule: "TITLE TEXT" (the title, one space, the text) when titles are on
 * and the title is not empty; otherwise the text alone.  Titles off
 * (PASSAGE_NO_TITLES) applies to every source alike: corpus documents,
 * retrieved and synthetic negatives.  The session setting "passage.titles"
 * (a row of the settings table, settings.h; default true) chooses it for
 * indexing, training and export; passage_titles_value parses a flag's value.
 *
 * Pure functions, no state, thread-safe.  Returned strings are malloc'd
 * (free()); appending forms write into the caller's sy_buf. */
#ifndef SY_PASSAGE_H
#define SY_PASSAGE_H

#include <stddef.h>

#include "err.h"
#include "session.h"
#include "util.h"

enum { PASSAGE_TITLES = 1, PASSAGE_NO_TITLES = 0 };

/* Append the passage to b; 0, or -1 when out of memory.  NULL title or text
 * count as "".  text_len: bytes of text, or (size_t)-1 for strlen. */
int passage_append(sy_buf *b, const char *title, const char *text, size_t text_len, int titles);
/* The passage as a new string (NULL when out of memory). */
char *passage_format(const char *title, const char *text, int titles);
/* Parse a "passage.titles" value: yes/true/1/on -> PASSAGE_TITLES,
 * no/false/0/off -> PASSAGE_NO_TITLES; anything else fails with SY_EINVAL
 * naming `what` (e.g. "--titles" or "passage.titles"). */
int passage_titles_value(const char *v, const char *what, sy_err *err);
/* The session's "passage.titles" (absent: PASSAGE_TITLES) through the
 * settings table; a stored value that is not a boolean fails naming it. */
int passage_titles_setting(session *s, sy_err *err);

#endif
