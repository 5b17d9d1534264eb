/* export: writes the curated pool as training data other trainers read, and
 * imports FlagEmbedding JSONL pools into the negatives store.
 *
 * Formats (one line per training instance, instances from mix.h, epochs
 * written one after another, queries in corpus order unless shuffled):
 *   EXPORT_FLAG      FlagEmbedding fine-tune JSONL:
 *                    {"query","pos":[..],"neg":[..],"pos_scores"?,"neg_scores"?,"prompt"?}
 *   EXPORT_ST        sentence-transformers columns, JSONL:
 *                    {"anchor","positive","negative_1",...,"negative_N"}
 *   EXPORT_TEVATRON  {"query_id","query","positive_passages":[{"docid","title","text"}],
 *                     "negative_passages":[...]}
 *   EXPORT_TREC      the pool as a TREC run (PATH: "qid Q0 docid rank score syneg")
 *                    and the judgements as TREC qrels (PATH.qrels: "qid 0 docid rel"):
 *                    the split's qrels with every label applied (rejected
 *                    negative -> 1, accepted negative -> 0).  Corpus documents
 *                    only: synthetic texts (and ids the corpus lacks) have no
 *                    docid an evaluator knows (counted as not_in_corpus).
 * Flag and st passages are formatted by passage.h: "title text" when the
 * passage (corpus or synthetic) has a title, the text alone with
 * opts.no_title or the setting passage.titles = no; tevatron keeps the title
 * apart.  Negatives of the offline generator (a stand-in for an LLM) are left
 * out unless opts.include_offline; the report says which.  The report also
 * holds the shortcut audit (audit.h) of the first epoch's draw, scored by the
 * session's BM25 when its index exists (or --scores opened it).
 *
 * Every export also writes PATH.report.json (format in README) and fills an
 * export_stats.  Files are written to PATH.tmp.PID, fsync'd and renamed, so a
 * reader never sees half a file.  Output is a pure function of the session and
 * the options (no time stamps): the same seed gives byte-identical files.
 * Not thread-safe per session.  Errors through sy_err. */
#ifndef SY_EXPORT_H
#define SY_EXPORT_H

#include <stddef.h>

#include "audit.h"
#include "err.h"
#include "mix.h"
#include "session.h"
#include "util.h"

typedef enum { EXPORT_FLAG, EXPORT_ST, EXPORT_TEVATRON, EXPORT_TREC, EXPORT_NFORMATS } export_format;

typedef struct {
    int format;            /* export_format */
    mix_opts mix;          /* sampling (num, ratio, strategy, seed, labels policy) */
    unsigned epochs;       /* epochs written one after another (0 -> 1) */
    int scores;            /* flag: add pos_scores / neg_scores */
    const char *prompt;    /* flag: "prompt" field on every line; NULL none */
    int no_title;          /* flag/st: passage text without the title */
    int include_offline;   /* include the offline generator's negatives (a stand-in
                              for an LLM); left out (counted "offline") by default */
} export_opts;

typedef struct {
    mix_report mix;        /* instance formats */
    size_t lines;          /* JSONL lines, or TREC run rows */
    size_t bytes;          /* bytes of the main file */
    /* trec */
    size_t run_queries, qrels_rows, labels_relevant, labels_nonrelevant, not_in_corpus;
    /* the shortcut audit of the first epoch's draw (instance formats) */
    audit_report audit;
    int audited;
} export_stats;

const char *export_format_name(int fmt);     /* "flag", "st", "tevatron", "trec" */
int export_format_parse(const char *s);      /* -1 when unknown */
void export_opts_default(export_opts *o);

/* Write PATH (and PATH.qrels for trec) and PATH.report.json. */
int export_write(session *s, const export_opts *o, const char *path, export_stats *st, sy_err *err);
/* The report as JSON text (what PATH.report.json holds), appended to out. */
int export_report_json(const session *s, const export_opts *o, const export_stats *st, sy_buf *out);

/* ---- import ---- */
typedef struct {
    size_t lines;             /* non-empty lines read */
    size_t rows;              /* rows written to the store */
    size_t queries_unknown;   /* lines whose query is not in the corpus (skipped) */
    size_t bad_lines;         /* malformed JSON / fields (skipped) */
    size_t negs_corpus;       /* negatives matched to a corpus document */
    size_t negs_text;         /* negatives kept as text (not in the corpus) */
    size_t negs_dup;          /* negatives equal to a positive of the line (flagged NEG_F_DUP) */
    size_t negs_repeated;     /* the same negative twice in one query (later kept) */
    size_t pos_unmatched;     /* "pos" entries that are not a qrels positive of the query */
    size_t nwarn;             /* warnings (all); the first 8 messages kept below */
    char warn[8][256];
} import_stats;

/* Read a FlagEmbedding JSONL file into one new store segment (source
 * NEG_IMPORT, rank = position in "neg", score = neg_scores when present,
 * prov {"file","line"}).  Queries are matched by "query_id" when given, else by
 * text (exact, then normalised); negatives by corpus text (plain or
 * "title text", exact then normalised), else kept as text with an
 * "import:<hash>" id.  replace: the segment is written with NEG_REPLACE.
 * Needs a writable session.  A line that cannot be used is skipped and
 * reported as "FILE:LINE: what; hint"; a file with no usable line fails. */
int export_import_flag(session *s, const char *path, int replace, import_stats *st, sy_err *err);

#endif
