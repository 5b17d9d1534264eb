/* session: a folder holding everything about one curation project.
 *
 *   SESSION/session.json        format, version, data source, settings, prompt attributes
 *   SESSION/lock                flock(2)ed by the one writer; holds its pid
 *   SESSION/labels.jsonl        the labels journal (labels.h)
 *   SESSION/labels.snap.jsonl   its compacted snapshot
 *   SESSION/negatives/NAME.seg  the negatives store (negstore.h)
 *   SESSION/runs/ID/            one folder per training run
 *   SESSION/jobs/ID/            one folder per background job (its own log/progress files)
 *   SESSION/cache/              caches (LLM responses, indexes, embeddings)
 *
 * session_open takes the lock when asked to write; when another process holds
 * it the session opens read-only and session_readonly() says who holds it.
 * The corpus is loaded lazily by session_corpus.  Settings are a JSON object
 * addressed by dotted paths ("bm25.k1", "llm.model"); never a secret: the
 * API key lives only in the environment.  Handles and everything they return
 * are owned by the session and live until session_close.  Not thread-safe. */
#ifndef SY_SESSION_H
#define SY_SESSION_H

#include <jansson.h>

#include "corpus.h"
#include "err.h"
#include "labels.h"
#include "negstore.h"

typedef struct session session;

typedef struct {
    const char *path;           /* data set folder or file */
    corpus_format format;
    const char *train_split;    /* default "train" */
    const char *eval_split;     /* default "test" */
} session_source;

/* SESSION_WRITE_WAIT blocks until the lock holder lets go (flock queue),
 * instead of falling back to read-only. */
enum { SESSION_READ = 0, SESSION_WRITE = 1, SESSION_WRITE_WAIT = 2 };

#define SESSION_FORMAT "syneg-session"
#define SESSION_VERSION 1

/* Create DIR (and parents) with session.json and its sub-folders.  Fails with
 * SY_EEXIST if DIR already holds a session.  The source path is stored
 * relative to DIR when it lies inside it, absolute otherwise.  Checks that the
 * source loads (and that the named splits exist) before writing anything. */
int session_create(const char *dir, const session_source *src, sy_err *err);
/* mode SESSION_WRITE tries the lock and falls back to read-only. */
session *session_open(const char *dir, int mode, sy_err *err);
void session_close(session *s);

const char *session_dir(const session *s);
const char *session_name(const session *s);      /* last path component */
int session_readonly(const session *s);
/* pid of the process holding the lock when we are read-only, else 0 */
long session_lock_holder(const session *s);
/* A session opened read-only because another process held the lock: take the
 * lock now if it is free and reopen the labels journal for writing.  1 taken
 * (session_labels returns a new handle: the old one is freed), 0 still held
 * (session_lock_holder says by whom), -1 error. */
int session_take_lock(session *s, sy_err *err);

/* Loads on first call: maps SESSION/corpus.syc (corpus_store.h) when it
 * matches the data set's files; otherwise parses the data set once and
 * rebuilds the store (old sessions, changed or damaged store), which
 * session_notice then explains. */
corpus *session_corpus(session *s, sy_err *err);
/* The same, but the store's big tables and texts are checked chunk by chunk
 * as they are read (cstore_open_mode), not all at open: for a client that
 * reads a few documents and asks session_check before it trusts what it
 * showed or wrote.  Returns the corpus already loaded if there is one. */
corpus *session_corpus_lazy(session *s, sy_err *err);
/* -1 with err (naming the file, the section and what to do) when a lazy read
 * met damage in the session store; 0 otherwise. */
int session_check(const session *s, sy_err *err);
/* A message for the user about what session_corpus did (NULL when nothing). */
const char *session_notice(const session *s);
/* The notice, handed to the caller (free it), so it is shown once; NULL if none. */
char *session_take_notice(session *s);
labels *session_labels(session *s);
neg_store *session_negs(session *s);
const char *session_train_split(const session *s);
const char *session_eval_split(const session *s);
const char *session_source_path(const session *s);  /* resolved, absolute or relative to cwd */

/* Settings by dotted path; the returned json_t is borrowed (NULL if absent). */
json_t *session_config(session *s);                /* the whole session.json object */
json_t *session_get(session *s, const char *path);
const char *session_get_str(session *s, const char *path, const char *def);
double session_get_num(session *s, const char *path, double def);
/* Set (steals a reference to value) and save session.json atomically. */
int session_set(session *s, const char *path, json_t *value, sy_err *err);
int session_save(session *s, sy_err *err);

/* malloc'd path "SESSION/rel". */
char *session_path(const session *s, const char *rel);
/* Make a fresh job folder SESSION/jobs/<time>-<kind>-<pid>; returns its malloc'd path. */
char *session_new_job_dir(const session *s, const char *kind, sy_err *err);

#endif
