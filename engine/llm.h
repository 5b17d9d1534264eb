/* llm: a production client for OpenAI-compatible chat completions
 * (OpenAI, vLLM, llama.cpp server, Ollama, ...), libcurl multi + jansson.
 *
 * What it does: many requests in flight on ONE thread through the curl multi
 * interface (no busy waiting: it sleeps in curl_multi_poll until a socket, a
 * retry deadline or a rate-limit refill is due); global requests-per-minute
 * and tokens-per-minute limits; retries with exponential backoff and jitter
 * on 429 (honouring Retry-After), 5xx, 408, timeouts, dropped connections,
 * unparseable bodies, empty `choices`, answers the caller's validator
 * rejects, and (once) answers cut off by max_tokens, within a per-request limit and a client-wide retry budget; usage
 * and cost accounting from per-model prices (usage outside 0..10M tokens, or
 * none, is replaced by an estimate from the text); a budget on a spend ledger
 * shared by every client of a session (ledger_path) that holds a request
 * while in-flight ones could pass it and refuses it when the spent total plus
 * its worst case would; a response body cap; Retry-After capped and said;
 * libcurl's silent re-sends counted; a content-addressed disk
 * cache of successful answers; a batch mode that writes cache misses to an
 * OpenAI Batch API JSONL file instead of sending them.
 * What it does not do: build prompts or parse answers (synth does that).
 *
 * Cache (llmcache.h): append-only packs CACHE_DIR/pack-*.jsonl, one entry
 * per line, keyed by the SHA-256 (hex) of the request body serialised with
 * sorted keys (model, messages, temperature, max_tokens, seed,
 * response_format): the same request always finds its answer, whatever the
 * URL or key.  Only answers that passed every check (and the validator) are
 * stored; failures never.  An entry that does not parse, or whose answer the
 * validator rejects, counts as a miss (and a good answer is appended later).
 *
 * Secrets: the key is borrowed from the config, held only in memory (the
 * Authorization header) and never written anywhere: the trace (SYNEG_TRACE)
 * shows "Authorization: Bearer [REDACTED]" and any copy of the key that
 * appears in a logged body or error message is replaced by [REDACTED].
 *
 * Threading: call llm_global_init() once from the main thread before any
 * thread makes a client (it wraps curl_global_init).  A client and its
 * callbacks belong to the one thread that calls llm_step; distinct clients
 * may run on distinct threads.  Errors: sy_err for setup; per-request
 * outcomes come through the done callback (llm_result). */
#ifndef SY_LLM_H
#define SY_LLM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "session.h"

int llm_global_init(sy_err *err);    /* idempotent per process; call from main thread */

typedef struct {
    const char *url;        /* base ("http://127.0.0.1:8000/v1") or full ".../chat/completions" */
    const char *model;
    const char *key;        /* borrowed; NULL or "" sends no Authorization header */
    double temperature;     /* < 0: not sent */
    int max_tokens;         /* <= 0: not sent */
    long seed;              /* < 0: not sent */
    int json_mode;          /* send response_format {"type":"json_object"} */
    /* "json_object" or "json_schema" (NULL/"none": json_mode decides): sent as
     * OpenAI's response_format, which vLLM, llama.cpp's server and Ollama also
     * accept.  json_schema uses the request's schema (llm_request.schema);
     * a request without one falls back to json_object. */
    const char *response_format;
    int concurrency;        /* requests in flight (default 8) */
    double connect_timeout_s, timeout_s;     /* default 10 and 120 */
    int max_retries;        /* retries per request (default 5) */
    long retry_budget;      /* retries for the client's whole life (default 1000; < 0 unlimited) */
    double backoff_base_s, backoff_max_s;    /* default 1 and 60; delay = base*2^n, half jittered */
    double rpm, tpm;        /* global limits; 0 = none */
    double price_in, price_out;  /* USD per 1M prompt / completion tokens; < 0 unknown */
    double budget_usd;      /* 0 = none; needs known prices */
    const char *cache_dir;  /* NULL: no cache */
    const char *trace_path; /* NULL: no trace; else JSON lines appended */
    const char *batch_export_path;  /* non-NULL: misses go to this JSONL file, not the network */
    size_t max_body_bytes;  /* a response body past this aborts the attempt (default 8 MiB) */
    /* The spend ledger: every request's cost appended (one fsync'd JSON line)
     * and the file's total is what budget_usd caps, so all runs, regenerations
     * and judges of a session share one budget.  NULL: CACHE_DIR/spend.jsonl
     * when a cache is set, else this client's own spending only. */
    const char *ledger_path;
    uint64_t jitter_seed;
} llm_config;

/* Defaults from the settings table (settings.h: llm.concurrency,
 * llm.timeout_s, ...); temperature, max_tokens and seed not sent;
 * url/model/key/cache/trace NULL.  Session values are the caller's (synth.c
 * reads them through settings.h). */
void llm_config_defaults(llm_config *c);

/* The one place a session's client is configured (synthesis and the judges):
 * the llm.* settings (SYNEG_LLM_URL / SYNEG_LLM_MODEL win through the
 * settings table), model (NULL: llm.model), the key from SYNEG_LLM_KEY or
 * OPENAI_API_KEY (the environment only: never a setting or a file),
 * llm.budget_usd, the prices of the model (llm_config_prices) and SYNEG_TRACE.
 * Strings are borrowed from the session and the environment; cache_dir,
 * ledger, batch export and jitter seed are the caller's. */
void llm_config_from_session(session *s, const char *model, llm_config *c);
/* price_in/price_out of c->model from llm.prices (-1 when unknown). */
void llm_config_prices(session *s, llm_config *c);

typedef enum {
    LLM_OK = 0,        /* content holds the answer (cached says whether from disk) */
    LLM_E_HTTP,        /* a non-retryable HTTP status (400, 401, 404, ...) */
    LLM_E_RATE,        /* still 429 after the retries */
    LLM_E_SERVER,      /* still 5xx after the retries */
    LLM_E_TIMEOUT,     /* connect or total timeout, after the retries */
    LLM_E_NET,         /* connection refused/dropped, after the retries */
    LLM_E_BADBODY,     /* the body was not a chat completion, after the retries */
    LLM_E_EMPTY,       /* empty choices or empty content, after the retries */
    LLM_E_TRUNCATED,   /* finish_reason "length" twice (retried once); raise max_tokens */
    LLM_E_INVALID,     /* the validator rejected every answer */
    LLM_E_BUDGET,      /* not sent: the USD budget is reached */
    LLM_E_RETRY_BUDGET,/* the client-wide retry budget ran out */
    LLM_DEFERRED,      /* written to the batch export file, not sent */
    LLM_CANCELLED,
    LLM_NOUTCOMES
} llm_outcome;

const char *llm_outcome_name(int outcome);   /* "ok", "rate_limited", ... */

typedef struct {
    int outcome;                 /* llm_outcome */
    int cached;                  /* answer came from the disk cache */
    int attempts;                /* HTTP attempts made (0 when cached/deferred/budget) */
    long http_status;            /* of the last attempt, 0 if none */
    const char *content;         /* the answer text (OK, TRUNCATED, INVALID); borrowed */
    const char *finish_reason;   /* borrowed, may be NULL */
    const char *error;           /* what went wrong, "" when OK; borrowed */
    const char *key;             /* the request's cache key (64 hex) */
    long prompt_tokens, completion_tokens;   /* summed over attempts that returned usage */
    double cost_usd;             /* of this request's attempts */
} llm_result;

/* Returns 0 to accept content, else -1 with a reason in why (the answer is
 * then retried like a fault and never cached). */
typedef int (*llm_validate_fn)(void *ctx, const char *content, char *why, size_t n);
/* Called exactly once per submitted request, from inside llm_step (or
 * llm_cancel_all); r and its strings live until it returns.  It may submit. */
typedef void (*llm_done_fn)(void *ctx, const llm_result *r);

typedef struct {
    json_t *messages;            /* borrowed: [{"role","content"},...]; serialised at submit */
    llm_validate_fn validate;    /* may be NULL */
    llm_done_fn done;            /* required */
    void *ctx;
    json_t *schema;              /* borrowed, may be NULL: the answer's JSON schema (json_schema mode) */
    const char *schema_name;     /* its name ("answer" when NULL) */
} llm_request;

typedef struct llm_client llm_client;

/* Fails with SY_EINVAL when url/model are missing, or a budget is set without
 * prices, or response_format is unknown; SY_EIO when the cache, trace or
 * export file cannot be opened. */
llm_client *llm_client_new(const llm_config *cfg, sy_err *err);
void llm_client_free(llm_client *c);      /* in-flight requests are dropped silently */

/* Queue a request.  Its cache key (hex) is written to key_out when given. */
int llm_submit(llm_client *c, const llm_request *req, char key_out[65], sy_err *err);
/* The cache key a request would get, without queueing it. */
int llm_request_key(const llm_client *c, json_t *messages, char key_out[65], sy_err *err);
/* Do all work that is due, then wait at most max_wait_ms for more (0: don't
 * wait).  Returns the number of requests not yet completed (queued, waiting
 * to retry or in flight). */
size_t llm_step(llm_client *c, int max_wait_ms);
size_t llm_pending(const llm_client *c);
/* Complete every unfinished request with LLM_CANCELLED. */
void llm_cancel_all(llm_client *c);

typedef struct {
    size_t submitted, completed, ok, cache_hits, http_requests, retries, failed, deferred;
    size_t silent_retries;       /* POSTs libcurl re-sent by itself on a dead reused connection */
    size_t usage_estimated;      /* answers whose cost came from the text (no or absurd usage) */
    size_t outcomes[LLM_NOUTCOMES];
    long prompt_tokens, completion_tokens;
    double cost_usd;             /* spent by this client (cache hits cost nothing) */
    double ledger_usd;           /* the ledger's total (all clients of the session), this one included */
    int budget_reached;
} llm_stats;
void llm_get_stats(const llm_client *c, llm_stats *out);

/* Parse a chat-completion body exactly as the client does (for tests and the
 * fuzzers): 0 with *content malloc'd, else an llm_outcome with why filled. */
int llm_parse_response(const char *body, size_t n, char **content, char *why, size_t wn);
/* A Retry-After header value in ms (delta-seconds or HTTP date, clamped to a
 * day); -1 when it is not a finite non-negative value. */
long llm_parse_retry_after(const char *value);

/* GET BASE/models (url as in llm_config, key may be NULL): the model ids the
 * server lists, malloc'd (free each, then the array).  For llm.model unset:
 * use the only one, or show the list.  Fails with SY_ENET / SY_EPARSE naming
 * the (redacted) URL. */
int llm_list_models(const char *url, const char *key, double timeout_s, char ***ids, size_t *n, sy_err *err);

/* Read an OpenAI Batch API output file (JSONL: {"custom_id": KEY, "response":
 * {"status_code", "body"}, "error"}) and store each successful answer in the
 * cache under its custom_id (the key written by batch export).  Counts go to
 * *stored and *failed; a malformed line fails with file:line. */
int llm_batch_import(const char *cache_dir, const char *path, size_t *stored, size_t *failed, sy_err *err);

/* Write the cached answer text for key into *content (malloc'd); 1 hit, 0 miss. */
int llm_cache_get(const char *cache_dir, const char *key, char **content);

#endif
