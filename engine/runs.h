/* runs: the folder of one training run, its status and progress log, and the
 * listing of a session's runs.  No training here (train.h does that).
 *
 *   SESSION/runs/ID/config.json     the run's settings (written once, by train)
 *   SESSION/runs/ID/status.json     {"format":"syneg-run-status","version":1,"id":..,
 *                                    "state":"running|done|failed|cancelled","pid":N,
 *                                    "pid_start":"BOOTID:TICKS" (who pid was),
 *                                    "step":N,"total":N,"epoch":N,"updated":ISO,
 *                                    "checkpoint":"ckpt/step-000100"|null,"message":..}
 *                                   replaced atomically on every change
 *   SESSION/runs/ID/progress.jsonl  one JSON object per line, appended with one
 *                                   write(2) each: steps and evaluations
 *   SESSION/runs/ID/log.txt         stdout/stderr of a detached run
 *   SESSION/runs/ID/cancel          present once a cancel was asked
 *   SESSION/runs/ID/ckpt/step-N/    checkpoints (see train.h)
 *   SESSION/runs/ID/final/          the finished model (an HF folder)
 *
 * A status that says "running" whose pid is gone, or now names another
 * process (pid_start differs), reads back as "killed" (resumable).  IDs are "YYYYMMDD-HHMMSS-TAG" (unique within the session).
 * Everything returned is owned by the caller.  Thread-safe (no shared state). */
#ifndef SY_RUNS_H
#define SY_RUNS_H

#include <stddef.h>

#include "err.h"
#include "util.h"

typedef struct {
    char id[96];
    char state[16];       /* running, done, failed, cancelled, killed */
    long pid;
    char pid_start[80];   /* sy_proc_token of pid when the status was written; "" unknown */
    long step, total, epoch;
    char updated[40];
    char checkpoint[128]; /* relative to the run folder; "" when none yet */
    char message[512];
} run_status;

#define RUNS_STATUS_FORMAT "syneg-run-status"
#define RUNS_STATUS_VERSION 1

/* Make SESSION/runs/ID/ (ID from the current UTC time and tag); returns the
 * malloc'd folder path and, if id_out is given, a malloc'd copy of the ID. */
char *runs_create(const char *session_dir, const char *tag, char **id_out, sy_err *err);
/* malloc'd "SESSION/runs/ID"; fails with SY_ENOTFOUND (and a hint listing
 * how to see the runs) when there is no such run. */
char *runs_find(const char *session_dir, const char *id, sy_err *err);

int runs_write_status(const char *run_dir, const run_status *st, sy_err *err);
/* Reads status.json; "running" with a dead pid comes back as "killed". */
int runs_read_status(const char *run_dir, run_status *st, sy_err *err);
/* Append one line (no newline in it; one is added) to progress.jsonl. */
int runs_log(const char *run_dir, const char *json_line, sy_err *err);
/* Every run of the session, oldest first; *out is malloc'd (free it). */
int runs_list(const char *session_dir, run_status **out, size_t *n, sy_err *err);
/* Ask a run to stop at its next step boundary: create the cancel file and
 * send SIGTERM to its process when it is alive AND still the process that
 * wrote the status (pid_start; a status without one gets the file only).  Fails with SY_EINVAL when
 * the run is not running. */
int runs_cancel(const char *session_dir, const char *id, sy_err *err);
int runs_cancel_requested(const char *run_dir);
void runs_clear_cancel(const char *run_dir);
/* Append to *out the complete lines of progress.jsonl past *offset and
 * advance *offset past them (a partial last line is left for later). */
int runs_read_progress(const char *run_dir, size_t *offset, sy_buf *out, sy_err *err);
/* One progress line as human text (no newline), e.g.
 *   "step 120/400  epoch 0  loss 0.8123  acc 0.750  lr 9.1e-05  42.1 seq/s"
 *   "eval @ step 120 (test, 75 queries): nDCG@10 0.3120  MRR@10 0.4010  R@100 0.7010"
 * total may be 0 (unknown).  Unparsable lines are copied as they are. */
int runs_format_progress(const char *json_line, long total, sy_buf *out);
/* The last evaluation line of a run's progress log as a JSON object (NULL when
 * none); caller json_decref()s it. */
struct json_t;
struct json_t *runs_last_eval(const char *run_dir);

/* True when the state is final (done, failed, cancelled, killed). */
int runs_state_final(const char *state);

#endif
