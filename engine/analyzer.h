/* analyzer: English text analysis as Anserini's DefaultEnglishAnalyzer does it
 * (the analyzer of the BEIR "flat" BM25 baselines), checked term for term
 * against Lucene 8.7 (tests/fixtures/lucene-cranfield):
 *   1. Unicode word splitting as Lucene's StandardTokenizer (UAX#29 word
 *      boundaries): letters and digits join into words; "." and "'" join
 *      letters ("u.s", "don't") and digits ("3.14"); "," and ";" join digits
 *      ("1,000"); "_" joins anything; combining marks and format characters stay
 *      with their base; Han ideographs and Hiragana are one token per character,
 *      Katakana and Hangul runs one token, Thai/Lao/Myanmar/Khmer runs one token;
 *      Hebrew's ' and " rules; emoji (with modifier, U+FE0F, ZWJ sequences),
 *      flags and keycaps are tokens of their own.
 *   2. English possessive removal: a trailing 's / ’s / ＇s is dropped.
 *   3. Lower-casing per code point (utf8proc).
 *   4. Lucene's 33 English stop words removed (they do not count in lengths).
 *   5. Porter stemming with libstemmer's "porter" algorithm; as in Lucene's
 *      PorterStemmer, tokens of at most two characters are left unstemmed.
 * Differences from Lucene are listed in README (BM25 notes).
 *
 * An analyzer owns a stemmer and scratch buffers: not thread-safe, so each
 * thread makes its own (cheap).  Terms passed to the callback are borrowed and
 * valid only during the call.  Errors through sy_err. */
#ifndef SY_ANALYZER_H
#define SY_ANALYZER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct analyzer analyzer;

/* Called once per emitted term (UTF-8, NUL-terminated, len bytes).  Return
 * non-zero to stop the analysis early. */
typedef int (*an_term_fn)(void *ctx, const char *term, size_t len);

analyzer *an_new(sy_err *err);
/* The same with a word cache sized for `words` distinct words that grows
 * (to 8M words) instead of starting over, so slots live long (index builders;
 * an_new keeps a small cache of 32k words that restarts when full). */
analyzer *an_new_cache(size_t words, sy_err *err);
void an_free(analyzer *a);

/* Analyze len bytes of text (need not be NUL-terminated).  Returns the number
 * of terms emitted (the Lucene field length), or -1 when the callback stopped. */
long an_analyze(analyzer *a, const char *text, size_t len, an_term_fn fn, void *ctx);

/* Like an_analyze, but the callback also gets a slot the analyzer keeps with
 * the cached analysis of the word: UINT32_MAX the first time, then whatever
 * the callback stored there (index builders keep a term id in it and skip
 * their own dictionary lookup).  Slots are forgotten (UINT32_MAX again) when
 * the analyzer's word cache fills up and restarts. */
typedef int (*an_slot_fn)(void *ctx, const char *term, size_t len, uint32_t *slot);
long an_analyze_slots(analyzer *a, const char *text, size_t len, an_slot_fn fn, void *ctx);

/* 1 when the lower-cased word is one of Lucene's English stop words. */
int an_is_stopword(const char *w, size_t len);

#endif
