/* synth: synthetic hard negatives for a session's training queries.
 *
 * For each selected query of the session's train split that has a positive
 * (the first qrels row with rel > 0), synth renders the synthesis prompt
 * (prompt.h; the attribute values resolved per request), asks the LLM
 * (llm.h) for K negatives, parses the JSON answer, and, for R reflection
 * rounds (0-2), asks the model whether each negative answers the query.
 * Every negative is written to the negatives store (negstore.h) through its
 * own segment (no NEG_REPLACE: new rows appear beside old ones), source
 * NEG_LLM (or NEG_OFFLINE), id neg_synthetic_id(), and a provenance JSON object
 * {"generator","model","template","reflect_template","attributes",
 *  "model_attributes","reasoning","verdict","verdict_reason","rounds",
 *  "positive","request","job","seed"[,"title"]}.
 * Format parity: the prompt gets the positive's title ({{title}}), whether the
 * collection carries titles ({{titled}}: "yes" when at least half of its
 * documents have one) and the positive's length ({{words}}); a negative's
 * title is kept in its provenance as "title" (mix.h reads it back), so
 * synthetic passages are formatted like every other (passage.h).  A negative judged "false_negative"
 * is kept and flagged NEG_F_SUSPECT|NEG_F_REFLECT_FN for a person.
 * With no endpoint configured, or offline set, the offline generator
 * (offline.h) edits the positive instead (notice says which; LLM-only options
 * -- reflect, budget, concurrency, batch files -- without an endpoint are an
 * error, never a silent fallback); with an endpoint and no model, the
 * server's /models decides (its only model, else an error listing them); its rows say source offline and
 * "generator":"offline".
 *
 * Every query ends with its negatives, a recorded failure (SESSION/jobs/
 * <job>/failures.jsonl: query id, stage, outcome, reason), or "deferred" when
 * its request went to a batch export file.  report.json in the same folder
 * holds the totals.  Rows are committed every 50 queries (and at the end), so
 * a kill loses at most that many queries' rows; their answers are in the
 * cache, so a rerun sends no request that was already answered.
 *
 * Settings read (session_get_*): llm.url, llm.model, llm.temperature,
 * llm.max_tokens, llm.seed, llm.json_mode, llm.concurrency, llm.rpm, llm.tpm,
 * llm.timeout_s, llm.max_retries, llm.retry_budget, llm.backoff_s, llm.prices.<model>.input/
 * output (USD per 1M tokens), llm.budget_usd (caps the session's spend ledger,
 * SESSION/cache/llm/spend.jsonl: every run, regeneration and judge together),
 * llm.max_body_mb (8), synth.attributes.<name> (else the
 * top-level session.json "attributes".<name>),
 * synth.per_query, synth.reflect, synth.seed.  The environment
 * (SYNEG_LLM_URL, SYNEG_LLM_MODEL, SYNEG_LLM_KEY / OPENAI_API_KEY,
 * SYNEG_TRACE, SYNEG_PROMPTS) overrides them; the key is never read from or
 * written to the session.
 *
 * Threading: synth_run works on the calling thread.  synth_regen_start copies
 * what it needs from the session on the calling thread, then works on its own
 * thread (touching only the corpus, which is immutable, and its own segment
 * file); the session must stay open until synth_job_free.  Call
 * llm_global_init() from the main thread first.  Errors through sy_err. */
#ifndef SY_SYNTH_H
#define SY_SYNTH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "prompt.h"
#include "session.h"

typedef struct {
    size_t queries_total;      /* selected */
    size_t queries_done;       /* finished: with negatives, failed or deferred */
    size_t queries_ok, queries_failed, queries_deferred;
    size_t negatives;          /* rows written */
    size_t suspects;           /* of which judged false negatives */
    size_t requests, cache_hits, retries;   /* LLM: HTTP attempts, answers from the cache */
    size_t silent_retries;     /* POSTs libcurl re-sent by itself (counted in requests) */
    size_t usage_estimated;    /* answers without sane usage: tokens estimated from the text */
    long prompt_tokens, completion_tokens;
    double cost_usd;           /* this run */
    double session_cost_usd;   /* the session's spend ledger (what the budget caps) */
    int budget_reached;
    int offline;               /* the offline generator was used */
    char job_dir[512];         /* SESSION/jobs/<job> with failures.jsonl and report.json */
    char notice[1024];         /* for the user: why the offline generator runs, or which model was chosen */
    char first_failure[640];   /* the first recorded failure ("query Q (stage, outcome): reason"), "" none */
} synth_progress;

typedef struct {
    size_t limit;                       /* 0: every train query with a positive */
    const char *const *query_ids;       /* NULL: all (then limit) */
    size_t nquery_ids;
    const prompt_kv *attrs;             /* --attr overrides (checked against the catalogue) */
    size_t nattrs;
    int per_query;                      /* 0: setting synth.per_query, else 4 */
    int concurrency;                    /* 0: setting llm.concurrency, else 8 */
    double budget_usd;                  /* < 0: setting llm.budget_usd (0 = none) */
    int reflect;                        /* < 0: setting synth.reflect, else 1; at most 2 */
    int offline;                        /* use the offline generator even with an endpoint */
    uint64_t seed;                      /* 0: setting synth.seed, else 1 */
    long variant;                       /* != 0: sent as the request seed, so answers differ */
    const char *batch_export;           /* misses go to this Batch API JSONL file */
    const char *batch_import;           /* Batch API results stored in the cache first */
    const char *prompts_dir;            /* NULL: prompt_find_dir(session) */
    /* progress, called from the working thread after each query; may be NULL */
    void (*progress)(void *ctx, const synth_progress *p);
    void *progress_ctx;
    const atomic_int *cancel;           /* non-zero stops the run (SY_ECANCEL); set from any thread or a signal handler */
} synth_opts;

void synth_opts_defaults(synth_opts *o);   /* every field "use the settings" */

/* Run synthesis.  report (may be NULL) gets the totals.  Fails on setup errors
 * (no prompts, bad attribute, unknown query id, budget without prices, ...);
 * per-query failures are recorded, not returned. */
int synth_run(session *s, const synth_opts *o, synth_progress *report, sy_err *err);

/* ---- for the TUI ---- */
enum { SYNTH_PROMPT_SYNTH = 0, SYNTH_PROMPT_REFLECT = 1 };
/* The prompt that synthesis (or reflection of negative_text, round 1) would
 * send for a query, as readable text "[system]\n...\n\n[user]\n...", with the
 * attributes resolved as a run would (attrs override).  malloc'd. */
char *synth_render_prompt(session *s, const char *query_id, const prompt_kv *attrs, size_t nattrs,
                          int which, const char *negative_text, sy_err *err);

/* Regenerate one query's negatives in the background with these attribute
 * overrides; base may be NULL (settings).  A fresh variant is used, so the
 * answers are new; the rows land in a new segment: call neg_store_refresh
 * after the job finishes. */
typedef struct synth_job synth_job;
synth_job *synth_regen_start(session *s, const char *query_id, const prompt_kv *attrs, size_t nattrs,
                             const synth_opts *base, sy_err *err);
/* 0 running, 1 finished, -1 failed (synth_job_error says why); p may be NULL. */
int synth_job_poll(synth_job *j, synth_progress *p);
const char *synth_job_error(synth_job *j);
void synth_job_cancel(synth_job *j);
void synth_job_free(synth_job *j);       /* cancels if running, joins, frees */

/* ---- answer parsing (exposed for tests) ---- */
typedef struct {
    char *title;               /* the negative's own title, "" when the answer gave none */
    char *text;
    json_t *attributes;        /* as the model reported them (object), or NULL */
} synth_neg;
typedef struct {
    char *reasoning;           /* "" when absent */
    synth_neg *negs;
    size_t n;
} synth_answer;
/* Accepts {"reasoning": "...", "negatives": [{"title": "...", "text": "...",
 * "attributes": {...}} | "text", ...]}, bare or in a ```json fence or in
 * prose; ignores unknown keys; "title" is optional (a non-string title fails).
 * 0, or -1 with the reason in why. */
int synth_parse_answer(const char *content, synth_answer *out, char *why, size_t n);
void synth_answer_free(synth_answer *a);
/* Keep the first `keep` negatives, free the rest (an answer with more than asked). */
void synth_answer_truncate(synth_answer *a, size_t keep);
/* {"verdict": "negative" | "false_negative", "reason": "..."}: *is_fn set;
 * *reason malloc'd (may be ""). 0 or -1 with why. */
int synth_parse_verdict(const char *content, int *is_fn, char **reason, char *why, size_t n);
/* A synthetic row's title, read back from its provenance's "title": a
 * malloc'd copy, or NULL when the provenance has none (or is not JSON, or
 * out of memory).  The one reader: mixing, export and the workbench. */
char *synth_prov_title(const char *prov);

#endif
