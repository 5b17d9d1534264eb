/* llm: OpenAI-compatible chat client on the curl multi interface (see llm.h). */
#include "llm.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "llmcache.h"
#include "settings.h"
#include "sha256.h"
#include "util.h"

#define LLM_DEFAULT_MAX_BODY ((size_t)8 << 20)
/* usage counts past this are not believed (a server bug or a hostile one) */
#define LLM_MAX_SANE_TOKENS 10000000L

static const char *const outcome_names[LLM_NOUTCOMES] = {
    "ok", "http_error", "rate_limited", "server_error", "timeout", "network_error",
    "bad_body", "empty", "truncated", "invalid_answer", "budget", "retry_budget",
    "deferred", "cancelled",
};

const char *llm_outcome_name(int o)
{
    return o >= 0 && o < LLM_NOUTCOMES ? outcome_names[o] : "unknown";
}

int llm_global_init(sy_err *err)
{
    /* curl_global_init is reference counted and cheap after the first call */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return sy_fail(err, SY_ENET, "libcurl failed to initialise");
    return 0;
}

void llm_config_defaults(llm_config *c)
{
    memset(c, 0, sizeof *c);
    c->temperature = -1;
    c->seed = -1;
    /* the one place these defaults live is the settings table */
    c->concurrency = (int)settings_int(NULL, "llm.concurrency");
    c->connect_timeout_s = settings_num(NULL, "llm.connect_timeout_s");
    c->timeout_s = settings_num(NULL, "llm.timeout_s");
    c->max_retries = (int)settings_int(NULL, "llm.max_retries");
    c->retry_budget = settings_int(NULL, "llm.retry_budget");
    c->backoff_base_s = settings_num(NULL, "llm.backoff_s");
    c->backoff_max_s = settings_num(NULL, "llm.backoff_max_s");
    c->price_in = c->price_out = -1;
    c->jitter_seed = 0x9e3779b97f4a7c15ull;
    c->max_body_bytes = LLM_DEFAULT_MAX_BODY;
}

void llm_config_from_session(session *s, const char *model, llm_config *c)
{
    llm_config_defaults(c);
    c->url = settings_str(s, "llm.url");      /* SYNEG_LLM_URL wins (the table's env) */
    c->model = model ? model : settings_str(s, "llm.model");   /* SYNEG_LLM_MODEL wins */
    c->key = getenv("SYNEG_LLM_KEY");        /* secrets: the environment only */
    if (!c->key || !*c->key) c->key = getenv("OPENAI_API_KEY");
    c->temperature = settings_num(s, "llm.temperature");
    c->max_tokens = (int)settings_int(s, "llm.max_tokens");
    c->seed = settings_int(s, "llm.seed");
    c->json_mode = settings_bool(s, "llm.json_mode");
    c->response_format = settings_str(s, "llm.response_format");
    c->concurrency = (int)settings_int(s, "llm.concurrency");
    c->rpm = settings_num(s, "llm.rpm");
    c->tpm = settings_num(s, "llm.tpm");
    c->connect_timeout_s = settings_num(s, "llm.connect_timeout_s");
    c->timeout_s = settings_num(s, "llm.timeout_s");
    c->backoff_base_s = settings_num(s, "llm.backoff_s");
    c->backoff_max_s = settings_num(s, "llm.backoff_max_s");
    c->max_retries = (int)settings_int(s, "llm.max_retries");
    c->retry_budget = settings_int(s, "llm.retry_budget");
    c->max_body_bytes = (size_t)(settings_num(s, "llm.max_body_mb") * 1048576.0);
    c->budget_usd = settings_num(s, "llm.budget_usd");
    llm_config_prices(s, c);
    const char *tr = getenv("SYNEG_TRACE");
    c->trace_path = tr && *tr ? tr : NULL;
}

void llm_config_prices(session *s, llm_config *c)
{
    c->price_in = c->price_out = -1;
    json_t *price = json_object_get(session_get(s, "llm.prices"), c->model ? c->model : "");
    if (!json_is_object(price)) return;
    json_t *pi = json_object_get(price, "input"), *po = json_object_get(price, "output");
    if (json_is_number(pi)) c->price_in = json_number_value(pi);
    if (json_is_number(po)) c->price_out = json_number_value(po);
}

/* ---- one request ------------------------------------------------------------ */
typedef struct req req;
struct req {
    req *next;              /* queue / wait list link */
    char *body;             /* serialised request */
    size_t body_len;
    char key[65];
    llm_validate_fn validate;
    llm_done_fn done;
    void *ctx;
    int attempts, retries;
    int checked;            /* cache / export already consulted */
    int truncations;        /* finish_reason length seen */
    double not_before;      /* monotonic time before which it must not start */
    double est_tokens, reserved_usd;
    long http_status, retry_after_ms;
    double retry_after_asked;   /* seconds the server asked for when past the cap (0: none) */
    size_t sent;                /* body bytes handed to libcurl this attempt */
    int rewinds;                /* times libcurl rewound the body (a silent re-send) */
    int too_big;                /* the body passed max_body_bytes: aborted */
    size_t max_body;
    long prompt_tokens, completion_tokens;
    double cost;
    int last_fault;         /* llm_outcome of the last failed attempt */
    char error[512];
    sy_buf resp;
    CURL *easy;
    size_t slot;
    uint64_t id;
};

struct llm_client {
    llm_config cfg;
    char *url, *model, *key_copy, *cache_dir;
    char *url_shown;                /* url with userinfo and key parameters cut (sy_url_redact) */
    char *url_secret;               /* the userinfo of url ("user:pass"), redacted like the key */
    CURLM *multi;
    struct curl_slist *headers;
    CURL **pool;                    /* idle easy handles (keep-alive) */
    size_t npool;
    req **inflight;                 /* [concurrency]; r->slot indexes it */
    req *queue_head, *queue_tail;   /* ready to start, FIFO */
    req *waiting;                   /* backing off, unsorted */
    size_t ninflight, nqueued, nwaiting;
    double rpm_tokens, tpm_tokens, last_refill;
    double reserved_usd;
    int budget_blocked;             /* the queue head waits for in-flight costs to settle */
    int ledger_fd;                  /* -1: none */
    char *ledger_path;
    off_t ledger_off;               /* bytes of the ledger summed into ledger_usd */
    double ledger_usd;
    long retries_left;
    uint64_t rng, next_id;
    llm_cache *cache;
    FILE *trace;
    FILE *export_f;
    sy_strmap exported;             /* keys already written to the export file */
    char **exported_keys;
    size_t nexported;
    llm_stats st;
};

static double rnd01(llm_client *c)
{
    return (double)(sy_splitmix64(&c->rng) >> 11) / 9007199254740992.0;
}

/* Replace every copy of secret k in b by [REDACTED] (in place when it fits). */
static void redact_one(const char *k, sy_buf *b)
{
    if (!k || !*k || !b->data) return;
    size_t kl = strlen(k);
    char *p;
    while ((p = strstr(b->data, k))) {
        static const char mask[] = "[REDACTED]";
        size_t off = (size_t)(p - b->data), ml = sizeof mask - 1;
        if (kl >= ml) {
            memcpy(p, mask, ml);
            memmove(p + ml, p + kl, b->len - off - kl + 1);
            b->len -= kl - ml;
        } else {
            memset(p, '*', kl);
        }
    }
}

/* Every secret the client holds (the key, the URL's userinfo and its password). */
static void redact(const llm_client *c, sy_buf *b)
{
    redact_one(c->key_copy, b);
    redact_one(c->url_secret, b);
    const char *pw = c->url_secret ? strchr(c->url_secret, ':') : NULL;
    if (pw && strlen(pw + 1) >= 4) redact_one(pw + 1, b);
}

static void trace_line(llm_client *c, json_t *obj)
{
    if (!c->trace) { json_decref(obj); return; }
    char t[40];
    sy_iso_time(t, sizeof t);
    json_object_set_new(obj, "t", json_string(t));
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) return;
    sy_buf b = {0};
    if (sy_buf_puts(&b, s) == 0) {
        redact(c, &b);
        fwrite(b.data, 1, b.len, c->trace);
        fputc('\n', c->trace);
        fflush(c->trace);
    }
    sy_buf_free(&b);
    free(s);
}

static json_t *json_or_string(const char *s, size_t n)
{
    json_t *j = s ? json_loadb(s, n, 0, NULL) : NULL;
    return j ? j : json_stringn(s ? s : "", s ? n : 0);
}

/* ---- the spend ledger ------------------------------------------------------------ */
/* Add the complete lines written since the last look (by any process). */
static void ledger_refresh(llm_client *c)
{
    if (c->ledger_fd < 0) return;
    struct stat st;
    if (fstat(c->ledger_fd, &st) < 0 || st.st_size <= c->ledger_off) return;
    size_t want = (size_t)(st.st_size - c->ledger_off);
    char *buf = malloc(want + 1);
    if (!buf) return;
    ssize_t n = pread(c->ledger_fd, buf, want, c->ledger_off);
    if (n <= 0) { free(buf); return; }
    size_t used = 0;
    for (size_t i = 0; i < (size_t)n; i++) {
        if (buf[i] != '\n') continue;
        json_t *j = json_loadb(buf + used, i - used, 0, NULL);
        double v = json_number_value(json_object_get(j, "cost_usd"));
        if (isfinite(v) && v > 0) c->ledger_usd += v;
        json_decref(j);
        used = i + 1;
    }
    c->ledger_off += (off_t)used;
    free(buf);
}

/* Append one request's cost, fsync'd before the answer is used. */
static void ledger_add(llm_client *c, const req *r, long pt, long ct, double cost, int estimated)
{
    if (c->ledger_fd < 0) { c->ledger_usd += cost; return; }
    char t[40];
    sy_iso_time(t, sizeof t);
    json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:f,s:b}", "t", t, "model", c->model, "key", r->key,
                          "prompt_tokens", (json_int_t)pt, "completion_tokens", (json_int_t)ct, "cost_usd", cost,
                          "estimated", estimated);
    char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (line) {
        size_t l = strlen(line);
        line[l] = '\n';   /* over the NUL: one write(2) for the line */
        if (sy_write_all(c->ledger_fd, line, l + 1) == 0) fdatasync(c->ledger_fd);
        line[l] = '\0';
        free(line);
    }
    ledger_refresh(c);
}

/* fopen for files that hold prompts and answers: created 0600 (traces and
 * batch files may quote private documents). */
static FILE *open_private(const char *path, const char *mode)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode[0] == 'a' ? O_APPEND : O_TRUNC);
    int fd = open(path, flags, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, mode) : NULL;
    if (fd >= 0 && !f) close(fd);
    return f;
}

/* ---- setup -------------------------------------------------------------------- */
llm_client *llm_client_new(const llm_config *cfg, sy_err *err)
{
    if (!cfg->url || !*cfg->url) {
        sy_fail(err, SY_EINVAL, "no LLM endpoint: set SYNEG_LLM_URL or the session setting llm.url, "
                                "or use --offline");
        return NULL;
    }
    if (!cfg->model || !*cfg->model) {
        sy_fail(err, SY_EINVAL, "no LLM model: set SYNEG_LLM_MODEL or the session setting llm.model");
        return NULL;
    }
    if (cfg->response_format && *cfg->response_format && strcmp(cfg->response_format, "none") &&
        strcmp(cfg->response_format, "json_object") && strcmp(cfg->response_format, "json_schema")) {
        sy_fail(err, SY_EINVAL, "llm.response_format '%s' is unknown; use none, json_object or json_schema",
                cfg->response_format);
        return NULL;
    }
    if (cfg->budget_usd > 0 && (cfg->price_in < 0 || cfg->price_out < 0)) {
        sy_fail(err, SY_EINVAL, "a budget of %.4g USD is set but model '%s' has no price; add "
                "llm.prices.%s = {\"input\": USD_PER_1M, \"output\": USD_PER_1M} to the session settings",
                cfg->budget_usd, cfg->model, cfg->model);
        return NULL;
    }
    if (llm_global_init(err) < 0) return NULL;
    llm_client *c = calloc(1, sizeof *c);
    if (!c) { sy_fail(err, SY_ENOMEM, "out of memory"); return NULL; }
    c->cfg = *cfg;
    if (c->cfg.concurrency < 1) c->cfg.concurrency = 1;
    /* times become integer milliseconds for libcurl: keep them representable */
    double *times[] = {&c->cfg.connect_timeout_s, &c->cfg.timeout_s, &c->cfg.backoff_base_s, &c->cfg.backoff_max_s};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        if (!isfinite(*times[i]) || *times[i] > 1e6) *times[i] = 1e6;
        else if (*times[i] < 0) *times[i] = 0;
    size_t ul = strlen(cfg->url);
    while (ul && cfg->url[ul - 1] == '/') ul--;
    if (ul >= 17 && !strncmp(cfg->url + ul - 17, "/chat/completions", 17))
        c->url = strndup(cfg->url, ul);
    else
        c->url = sy_strdup_printf("%.*s/chat/completions", (int)ul, cfg->url);
    c->model = strdup(cfg->model);
    size_t shown = strlen(c->url ? c->url : "") * 6 + 32;   /* room for every [REDACTED] */
    if (c->url && (c->url_shown = malloc(shown))) sy_url_redact(c->url, c->url_shown, shown);
    const char *sch = c->url ? strstr(c->url, "://") : NULL;
    if (sch) {
        size_t alen = strcspn(sch + 3, "/?#");
        const char *at = NULL;
        for (const char *q = sch + 3; q < sch + 3 + alen; q++) if (*q == '@') at = q;
        if (at) c->url_secret = strndup(sch + 3, (size_t)(at - sch - 3));
    }
    c->key_copy = cfg->key && *cfg->key ? strdup(cfg->key) : NULL;
    c->cache_dir = cfg->cache_dir ? strdup(cfg->cache_dir) : NULL;
    c->cfg.url = c->url;
    c->cfg.model = c->model;
    c->cfg.key = NULL;
    c->cfg.cache_dir = c->cache_dir;
    c->rng = cfg->jitter_seed ^ (uint64_t)getpid();
    c->retries_left = cfg->retry_budget;
    c->rpm_tokens = cfg->rpm > 0 ? (cfg->rpm < 1 ? 1 : cfg->rpm / 60.0 * 5 + 1) : 0;
    c->tpm_tokens = cfg->tpm;
    c->last_refill = sy_now();
    c->ledger_fd = -1;
    if (!c->cfg.max_body_bytes) c->cfg.max_body_bytes = LLM_DEFAULT_MAX_BODY;
    if (cfg->ledger_path) c->ledger_path = strdup(cfg->ledger_path);
    else if (cfg->cache_dir) c->ledger_path = sy_path_join(cfg->cache_dir, "spend.jsonl");
    if (!c->url || !c->model || !c->url_shown || (cfg->key && *cfg->key && !c->key_copy) || (cfg->cache_dir && !c->cache_dir) ||
        sy_strmap_init(&c->exported, 64) < 0) {
        llm_client_free(c);
        sy_fail(err, SY_ENOMEM, "out of memory");
        return NULL;
    }
    if (c->cache_dir && !(c->cache = llm_cache_open(c->cache_dir, err))) { llm_client_free(c); return NULL; }
    if (c->ledger_path) {
        c->ledger_fd = open(c->ledger_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (c->ledger_fd < 0) {
            sy_fail_errno(err, errno, "cannot open the spend ledger %s", c->ledger_path);
            llm_client_free(c);
            return NULL;
        }
        ledger_refresh(c);
        c->st.ledger_usd = c->ledger_usd;
    }
    if (cfg->trace_path && !(c->trace = open_private(cfg->trace_path, "a"))) {
        sy_fail_errno(err, errno, "cannot open the trace file %s (SYNEG_TRACE)", cfg->trace_path);
        llm_client_free(c);
        return NULL;
    }
    if (cfg->batch_export_path && !(c->export_f = open_private(cfg->batch_export_path, "w"))) {
        sy_fail_errno(err, errno, "cannot create the batch export file %s", cfg->batch_export_path);
        llm_client_free(c);
        return NULL;
    }
    c->multi = curl_multi_init();
    c->pool = calloc((size_t)c->cfg.concurrency, sizeof *c->pool);
    c->inflight = calloc((size_t)c->cfg.concurrency, sizeof *c->inflight);
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip for bodies over 1 KiB */
    if (c->headers) c->headers = curl_slist_append(c->headers, "Expect:");
    if (c->key_copy) {
        char *h = sy_strdup_printf("Authorization: Bearer %s", c->key_copy);
        struct curl_slist *n = h ? curl_slist_append(c->headers, h) : NULL;
        if (h) { memset(h, 0, strlen(h)); free(h); }
        if (!n) c->multi = (curl_multi_cleanup(c->multi), NULL);
        else c->headers = n;
    }
    if (!c->multi || !c->pool || !c->inflight || !c->headers) {
        llm_client_free(c);
        sy_fail(err, SY_ENOMEM, "cannot set up libcurl");
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->cfg.concurrency);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->cfg.concurrency);
    return c;
}

static void req_free(req *r)
{
    if (!r) return;
    free(r->body);
    sy_buf_free(&r->resp);
    free(r);
}

static void list_free(req *r)
{
    while (r) { req *n = r->next; req_free(r); r = n; }
}

void llm_client_free(llm_client *c)
{
    if (!c) return;
    for (size_t i = 0; c->inflight && i < c->ninflight; i++) {
        req *r = c->inflight[i];
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        req_free(r);
    }
    for (size_t i = 0; i < c->npool; i++) curl_easy_cleanup(c->pool[i]);
    if (c->multi) curl_multi_cleanup(c->multi);
    free(c->pool);
    free(c->inflight);
    list_free(c->queue_head);
    list_free(c->waiting);
    curl_slist_free_all(c->headers);
    llm_cache_free(c->cache);
    if (c->ledger_fd >= 0) close(c->ledger_fd);
    free(c->ledger_path);
    if (c->trace) fclose(c->trace);
    if (c->export_f) fclose(c->export_f);
    for (size_t i = 0; i < c->nexported; i++) free(c->exported_keys[i]);
    free(c->exported_keys);
    sy_strmap_free(&c->exported);
    if (c->key_copy) memset(c->key_copy, 0, strlen(c->key_copy));
    free(c->key_copy);
    if (c->url_secret) memset(c->url_secret, 0, strlen(c->url_secret));
    free(c->url_secret);
    if (c->url) memset(c->url, 0, strlen(c->url));
    free(c->url_shown);
    free(c->url);
    free(c->model);
    free(c->cache_dir);
    free(c);
}

/* ---- request bodies and keys ----------------------------------------------------- */
static char *build_body(const llm_client *c, json_t *messages, json_t *schema, const char *schema_name, sy_err *err)
{
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        sy_fail(err, SY_EINVAL, "a chat request needs a non-empty messages array");
        return NULL;
    }
    json_t *b = json_object();
    json_object_set_new(b, "model", json_string(c->cfg.model));
    json_object_set(b, "messages", messages);
    if (c->cfg.temperature >= 0) json_object_set_new(b, "temperature", json_real(c->cfg.temperature));
    if (c->cfg.max_tokens > 0) json_object_set_new(b, "max_tokens", json_integer(c->cfg.max_tokens));
    if (c->cfg.seed >= 0) json_object_set_new(b, "seed", json_integer(c->cfg.seed));
    const char *rf = c->cfg.response_format;
    if (rf && !strcmp(rf, "json_schema") && json_is_object(schema))
        json_object_set_new(b, "response_format",
                            json_pack("{s:s,s:{s:s,s:O,s:b}}", "type", "json_schema", "json_schema", "name",
                                      schema_name ? schema_name : "answer", "schema", schema, "strict", 0));
    else if ((rf && (!strcmp(rf, "json_object") || !strcmp(rf, "json_schema"))) || c->cfg.json_mode)
        json_object_set_new(b, "response_format", json_pack("{s:s}", "type", "json_object"));
    char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(b);
    if (!s) sy_fail(err, SY_ENOMEM, "out of memory serialising a request");
    return s;
}

int llm_request_key(const llm_client *c, json_t *messages, char key_out[65], sy_err *err)
{
    char *s = build_body(c, messages, NULL, NULL, err);
    if (!s) return -1;
    sha256_hex(s, strlen(s), key_out);
    free(s);
    return 0;
}

int llm_submit(llm_client *c, const llm_request *q, char key_out[65], sy_err *err)
{
    if (!q->done) return sy_fail(err, SY_EINVAL, "llm_submit needs a done callback");
    req *r = calloc(1, sizeof *r);
    if (!r) return sy_fail(err, SY_ENOMEM, "out of memory");
    if (!(r->body = build_body(c, q->messages, q->schema, q->schema_name, err))) { free(r); return -1; }
    r->body_len = strlen(r->body);
    sha256_hex(r->body, r->body_len, r->key);
    if (key_out) memcpy(key_out, r->key, 65);
    r->validate = q->validate;
    r->done = q->done;
    r->ctx = q->ctx;
    r->id = ++c->next_id;
    r->est_tokens = (double)r->body_len / 4.0 + (c->cfg.max_tokens > 0 ? c->cfg.max_tokens : 512);
    if (c->queue_tail) c->queue_tail->next = r;
    else c->queue_head = r;
    c->queue_tail = r;
    c->nqueued++;
    c->st.submitted++;
    return 0;
}

size_t llm_pending(const llm_client *c) { return c->nqueued + c->nwaiting + c->ninflight; }

void llm_get_stats(const llm_client *c, llm_stats *out) { *out = c->st; }

/* ---- parsing a chat completion ------------------------------------------------------- */
typedef struct {
    const char *content, *finish;
    long pt, ct;
    int has_usage, usage_bad;
} parsed;

/* content as an array of parts ([{"type": "text", "text": ...}, ...], as some
 * servers send it): joined into one string that replaces it in msg, so the
 * text lives as long as the response object.  NULL when there is no text. */
static const char *join_parts(json_t *msg, json_t *parts)
{
    sy_buf b = {0};
    size_t i;
    json_t *part;
    json_array_foreach(parts, i, part) {
        const char *t = json_is_string(part) ? json_string_value(part) : json_string_value(json_object_get(part, "text"));
        const char *type = json_string_value(json_object_get(part, "type"));
        if (t && (!type || !strcmp(type, "text") || !strcmp(type, "output_text"))) sy_buf_puts(&b, t);
    }
    const char *out = NULL;
    if (b.len && json_object_set_new(msg, "content", json_stringn(b.data, b.len)) == 0)
        out = json_string_value(json_object_get(msg, "content"));
    sy_buf_free(&b);
    return out;
}

/* 0 ok; else an llm_outcome (LLM_E_BADBODY / LLM_E_EMPTY / LLM_E_TRUNCATED
 * for a reasoning model that spent its tokens thinking) with why filled. */
static int parse_completion(json_t *j, parsed *p, char *why, size_t n)
{
    memset(p, 0, sizeof *p);
    if (!json_is_object(j)) { snprintf(why, n, "the response body is not a JSON object"); return LLM_E_BADBODY; }
    json_t *u = json_object_get(j, "usage");
    if (json_is_object(u)) {
        /* believed only when both are whole numbers in [0, LLM_MAX_SANE_TOKENS];
         * otherwise the cost is estimated from the text (usage_bad says why) */
        json_t *a = json_object_get(u, "prompt_tokens"), *b = json_object_get(u, "completion_tokens");
        json_int_t pt = json_integer_value(a), ct = json_integer_value(b);
        if (json_is_integer(a) && json_is_integer(b) && pt >= 0 && ct >= 0 && pt <= LLM_MAX_SANE_TOKENS &&
            ct <= LLM_MAX_SANE_TOKENS) {
            p->has_usage = 1;
            p->pt = (long)pt;
            p->ct = (long)ct;
        } else {
            p->usage_bad = 1;
        }
    }
    json_t *ch = json_object_get(j, "choices");
    if (!json_is_array(ch)) { snprintf(why, n, "the response has no \"choices\" array"); return LLM_E_BADBODY; }
    if (json_array_size(ch) == 0) { snprintf(why, n, "the response has an empty \"choices\" array"); return LLM_E_EMPTY; }
    json_t *c0 = json_array_get(ch, 0);
    p->finish = json_string_value(json_object_get(c0, "finish_reason"));
    json_t *msg = json_object_get(c0, "message");
    json_t *content = json_object_get(msg, "content");
    p->content = json_is_array(content) ? join_parts(msg, content) : json_string_value(content);
    if (!p->content) p->content = json_string_value(json_object_get(c0, "text"));
    const char *thought = json_string_value(json_object_get(msg, "reasoning_content"));
    if (!thought) thought = json_string_value(json_object_get(msg, "reasoning"));
    if ((!p->content || !*p->content) && thought && *thought) {
        snprintf(why, n, "the model wrote only its reasoning (%zu bytes of reasoning_content, no content; "
                 "finish_reason %s): it ran out of tokens while thinking; raise llm.max_tokens",
                 strlen(thought), p->finish ? p->finish : "none");
        return LLM_E_TRUNCATED;
    }
    if (!p->content || !*p->content) {
        snprintf(why, n, "the first choice has no content (finish_reason %s)", p->finish ? p->finish : "none");
        return LLM_E_EMPTY;
    }
    return 0;
}

/* ---- completion ------------------------------------------------------------------------ */
static void finish(llm_client *c, req *r, int outcome, const char *content, const char *finish_reason, int cached)
{
    llm_result res = {
        .outcome = outcome, .cached = cached, .attempts = r->attempts, .http_status = r->http_status,
        .content = content, .finish_reason = finish_reason, .error = outcome == LLM_OK ? "" : r->error,
        .key = r->key, .prompt_tokens = r->prompt_tokens, .completion_tokens = r->completion_tokens,
        .cost_usd = r->cost,
    };
    c->st.completed++;
    c->st.outcomes[outcome]++;
    if (outcome == LLM_OK) c->st.ok++;
    else if (outcome == LLM_DEFERRED) c->st.deferred++;
    else c->st.failed++;
    if (c->trace && outcome != LLM_OK) {
        trace_line(c, json_pack("{s:s,s:I,s:s,s:s,s:s,s:i}", "event", "fail", "id", (json_int_t)r->id,
                                "key", r->key, "outcome", llm_outcome_name(outcome), "error", r->error,
                                "attempts", r->attempts));
    }
    r->done(r->ctx, &res);
    req_free(r);
}

/* The longest wait a Retry-After gets: 5 backoff maxima, at most 2 minutes
 * (a date years away must not park a request for hours). */
static double retry_after_cap(const llm_client *c)
{
    double cap = c->cfg.backoff_max_s * 5;
    return cap > 120 ? 120 : cap;
}

static void schedule_retry(llm_client *c, req *r, int fault)
{
    r->last_fault = fault;
    double ra_cap = retry_after_cap(c);
    if (r->retry_after_ms > ra_cap * 1000) {   /* say so: the wait is ours, not the server's */
        size_t l = strlen(r->error);
        snprintf(r->error + l, sizeof r->error - l, "; the server asked to wait %.0f s (Retry-After), capped at %.0f s",
                 r->retry_after_ms / 1000.0, ra_cap);
    }
    if (r->retries >= c->cfg.max_retries) { finish(c, r, fault, NULL, NULL, 0); return; }
    if (c->retries_left == 0) {
        size_t l = strlen(r->error);
        snprintf(r->error + l, sizeof r->error - l, "; the client's retry budget (%ld) is spent",
                 c->cfg.retry_budget);
        finish(c, r, LLM_E_RETRY_BUDGET, NULL, NULL, 0);
        return;
    }
    if (c->retries_left > 0) c->retries_left--;
    r->retries++;
    c->st.retries++;
    double d = c->cfg.backoff_base_s * pow(2.0, r->retries - 1);
    if (d > c->cfg.backoff_max_s) d = c->cfg.backoff_max_s;
    d = d / 2 + rnd01(c) * d / 2;
    if (r->retry_after_ms >= 0) {   /* honour it up to backoff_max_s, a little jitter */
        double ra = r->retry_after_ms / 1000.0, cap = ra_cap;
        d = (ra > cap ? cap : ra) + rnd01(c) * 0.05;
    }
    r->not_before = sy_now() + d;
    if (c->trace)
        trace_line(c, json_pack("{s:s,s:I,s:i,s:s,s:f}", "event", "retry", "id", (json_int_t)r->id,
                                "attempt", r->attempts, "error", r->error, "delay_s", d));
    r->next = c->waiting;
    c->waiting = r;
    c->nwaiting++;
}

/* Count one attempt's tokens and cost: the server's usage when it is sane,
 * else an estimate from the text (4 bytes a token: the request body, and the
 * answer or the whole response body), so a budget holds against any server. */
static void account(llm_client *c, req *r, const parsed *p)
{
    long pt = p->pt, ct = p->ct;
    int estimated = !p->has_usage;
    if (estimated) {
        pt = (long)(r->body_len / 4 + 1);
        ct = (long)((p->content ? strlen(p->content) : r->resp.len) / 4 + 1);
        c->st.usage_estimated++;
    }
    r->prompt_tokens += pt;
    r->completion_tokens += ct;
    c->st.prompt_tokens += pt;
    c->st.completion_tokens += ct;
    double cost = 0;
    if (c->cfg.price_in >= 0) cost += pt * c->cfg.price_in / 1e6;
    if (c->cfg.price_out >= 0) cost += ct * c->cfg.price_out / 1e6;
    r->cost += cost;
    c->st.cost_usd += cost;
    if (cost > 0 || c->cfg.budget_usd > 0) ledger_add(c, r, pt, ct, cost, estimated);
    c->st.ledger_usd = c->ledger_usd;
    if (c->cfg.tpm > 0) {   /* correct the estimate taken at start */
        c->tpm_tokens += r->est_tokens - (double)(pt + ct);
        if (c->tpm_tokens > c->cfg.tpm) c->tpm_tokens = c->cfg.tpm;
    }
}

/* Retry-After in ms: delta-seconds or an HTTP date; -1 when absent or not a
 * finite non-negative number (nan, inf, 1e30 and dates years away are
 * clamped before any conversion to an integer). */
#define RETRY_AFTER_MAX_S 86400.0
static long parse_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t') v++;
    char *end;
    double s = strtod(v, &end);
    if (end != v) {
        if (!isfinite(s) || s < 0) return -1;
        return (long)((s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s) * 1000);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
        double d = difftime(timegm(&tm), time(NULL));
        if (!(d > 0)) return 0;
        return (long)((d > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : d) * 1000);
    }
    return -1;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    req *r = ud;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(buf, "retry-after:", 12)) {
        char v[128];
        size_t m = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, buf + 12, m);
        v[m] = '\0';
        v[strcspn(v, "\r\n")] = '\0';
        r->retry_after_ms = parse_retry_after(v);
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    req *r = ud;
    if (r->resp.len + size * n > r->max_body) {   /* abort the transfer: memory stays bounded */
        r->too_big = 1;
        return 0;
    }
    return sy_buf_append(&r->resp, buf, size * n) == 0 ? size * n : 0;
}

/* The request body through a read callback (not POSTFIELDS), so that a
 * rewind tells when libcurl re-sends a POST on its own (a reused connection
 * found dead): such a send is counted, as the server may have seen both. */
static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    req *r = ud;
    size_t left = r->body_len - r->sent, m = size * n < left ? size * n : left;
    memcpy(buf, r->body + r->sent, m);
    r->sent += m;
    return m;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    req *r = ud;
    if (origin != SEEK_SET || off < 0 || (size_t)off > r->body_len) return CURL_SEEKFUNC_CANTSEEK;
    if (r->sent > 0) r->rewinds++;
    r->sent = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static void inflight_remove(llm_client *c, req *r)
{
    req *last = c->inflight[--c->ninflight];
    c->inflight[r->slot] = last;
    last->slot = r->slot;
}

static void handle_done(llm_client *c, req *r, CURLcode cc)
{
    char why[300];
    inflight_remove(c, r);
    c->reserved_usd -= r->reserved_usd;
    r->reserved_usd = 0;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->http_status = status;
    /* give the handle back to the pool (connection kept alive) */
    curl_multi_remove_handle(c->multi, r->easy);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, NULL);
    c->pool[c->npool++] = r->easy;
    r->easy = NULL;
    if (r->rewinds) {   /* libcurl sent the POST again by itself: the server may have answered both */
        c->st.silent_retries += (size_t)r->rewinds;
        c->st.http_requests += (size_t)r->rewinds;
        r->attempts += r->rewinds;
    }
    if (c->trace) {
        json_t *t = json_pack("{s:s,s:I,s:i,s:I,s:s}", "event", "response", "id", (json_int_t)r->id,
                              "attempt", r->attempts, "status", (json_int_t)status,
                              "curl", cc == CURLE_OK ? "ok" : curl_easy_strerror(cc));
        json_object_set_new(t, "body", json_or_string(r->resp.data, r->resp.len));
        trace_line(c, t);
    }
    if (r->too_big) {   /* not retried: the same server would send it again */
        snprintf(r->error, sizeof r->error,
                 "%s sent a response body over %zu bytes (attempt %d); aborted (raise llm.max_body_mb if it is real)",
                 c->url_shown, c->cfg.max_body_bytes, r->attempts);
        finish(c, r, LLM_E_BADBODY, NULL, NULL, 0);
        return;
    }
    if (cc != CURLE_OK) {
        int fault = cc == CURLE_OPERATION_TIMEDOUT ? LLM_E_TIMEOUT : LLM_E_NET;
        snprintf(r->error, sizeof r->error, "%s (attempt %d): %s", c->url_shown, r->attempts, curl_easy_strerror(cc));
        schedule_retry(c, r, fault);
        return;
    }
    json_t *j = r->resp.len ? json_loadb(r->resp.data, r->resp.len, 0, NULL) : NULL;
    if (status != 200) {
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        sy_buf eb = {0};
        sy_buf_printf(&eb, "HTTP %ld from %s (attempt %d)%s%.200s", status, c->url_shown, r->attempts,
                      m ? ": " : "", m ? m : "");
        redact(c, &eb);
        snprintf(r->error, sizeof r->error, "%s", eb.data ? eb.data : "HTTP error");
        sy_buf_free(&eb);
        json_decref(j);
        if (status == 429) { schedule_retry(c, r, LLM_E_RATE); return; }
        if (status >= 500 || status == 408 || status == 409) { schedule_retry(c, r, LLM_E_SERVER); return; }
        if (status == 401 || status == 403)
            strncat(r->error, "; check SYNEG_LLM_KEY / OPENAI_API_KEY", sizeof r->error - strlen(r->error) - 1);
        finish(c, r, LLM_E_HTTP, NULL, NULL, 0);
        return;
    }
    if (!j) {
        snprintf(r->error, sizeof r->error, "%s returned a body that is not JSON (attempt %d, %zu bytes)",
                 c->url_shown, r->attempts, r->resp.len);
        schedule_retry(c, r, LLM_E_BADBODY);
        return;
    }
    parsed p;
    int bad = parse_completion(j, &p, why, sizeof why);
    account(c, r, &p);
    if (bad) {
        snprintf(r->error, sizeof r->error, "%s (attempt %d)", why, r->attempts);
        json_decref(j);
        if (bad == LLM_E_TRUNCATED && r->truncations++ >= 1) {   /* thinking past max_tokens twice: it will not fit */
            finish(c, r, bad, NULL, NULL, 0);
            return;
        }
        schedule_retry(c, r, bad);
        return;
    }
    if (p.finish && !strcmp(p.finish, "length")) {
        snprintf(r->error, sizeof r->error,
                 "the answer was cut off at max_tokens (finish_reason \"length\", attempt %d); raise llm.max_tokens",
                 r->attempts);
        if (r->truncations++ < 1) {   /* a sampled answer may fit next time; twice means it will not */
            json_decref(j);
            schedule_retry(c, r, LLM_E_TRUNCATED);
            return;
        }
        finish(c, r, LLM_E_TRUNCATED, p.content, p.finish, 0);
        json_decref(j);
        return;
    }
    if (r->validate && r->validate(r->ctx, p.content, why, sizeof why) < 0) {
        snprintf(r->error, sizeof r->error, "the answer was rejected (attempt %d): %s", r->attempts, why);
        json_decref(j);
        /* keep the last content? the caller sees the reason; content is not kept */
        schedule_retry(c, r, LLM_E_INVALID);
        return;
    }
    if (c->cache) llm_cache_store(c->cache, r->key, c->model, r->body, r->resp.data, r->resp.len, NULL);
    finish(c, r, LLM_OK, p.content, p.finish, 0);
    json_decref(j);
}

/* ---- dispatch -------------------------------------------------------------------------- */
static void refill(llm_client *c, double now)
{
    double dt = now - c->last_refill;
    c->last_refill = now;
    if (c->cfg.rpm > 0) {
        double cap = c->cfg.rpm / 60.0 * 5 + 1;   /* at most ~5 s of burst */
        c->rpm_tokens += dt * c->cfg.rpm / 60.0;
        if (c->rpm_tokens > cap) c->rpm_tokens = cap;
    }
    if (c->cfg.tpm > 0) {
        c->tpm_tokens += dt * c->cfg.tpm / 60.0;
        if (c->tpm_tokens > c->cfg.tpm) c->tpm_tokens = c->cfg.tpm;
    }
}

/* Seconds until the rate limits allow r to start (0: now). */
static double rate_wait(llm_client *c, const req *r)
{
    double w = 0;
    if (c->cfg.rpm > 0 && c->rpm_tokens < 1) w = (1 - c->rpm_tokens) * 60.0 / c->cfg.rpm;
    if (c->cfg.tpm > 0) {
        double need = r->est_tokens < c->cfg.tpm ? r->est_tokens : c->cfg.tpm;
        if (c->tpm_tokens < need) {
            double w2 = (need - c->tpm_tokens) * 60.0 / c->cfg.tpm;
            if (w2 > w) w = w2;
        }
    }
    return w;
}

/* Try the cache or the export file; 1 when r was completed that way. */
static int serve_offline(llm_client *c, req *r)
{
    if (c->cache) {
        json_t *resp = llm_cache_lookup(c->cache, r->key);
        if (resp) {
            parsed p;
            char why[300];
            int bad = parse_completion(resp, &p, why, sizeof why);
            if (!bad && p.finish && !strcmp(p.finish, "length")) bad = 1;
            if (!bad && r->validate && r->validate(r->ctx, p.content, why, sizeof why) < 0) bad = 1;
            if (!bad) {
                c->st.cache_hits++;
                r->prompt_tokens = p.pt;   /* what it cost once; not counted again */
                r->completion_tokens = p.ct;
                if (c->trace)
                    trace_line(c, json_pack("{s:s,s:I,s:s}", "event", "cache_hit", "id", (json_int_t)r->id,
                                            "key", r->key));
                finish(c, r, LLM_OK, p.content, p.finish, 1);
                json_decref(resp);
                return 1;
            }
            llm_cache_forget(c->cache, r->key);
            json_decref(resp);
        }
    }
    if (c->export_f) {
        uint32_t dummy;
        if (!sy_strmap_get(&c->exported, r->key, 64, &dummy)) {
            json_t *body = json_loads(r->body, 0, NULL);
            json_t *line = json_pack("{s:s,s:s,s:s,s:o}", "custom_id", r->key, "method", "POST",
                                     "url", "/v1/chat/completions", "body", body);
            char *s = line ? json_dumps(line, JSON_COMPACT) : NULL;
            json_decref(line);
            char *k = strdup(r->key);
            char **nk = realloc(c->exported_keys, (c->nexported + 1) * sizeof *nk);
            if (s && k && nk) {
                fprintf(c->export_f, "%s\n", s);
                fflush(c->export_f);
                c->exported_keys = nk;
                nk[c->nexported++] = k;
                sy_strmap_put(&c->exported, k, 64, 0, NULL);
                k = NULL;
            } else if (nk) {
                c->exported_keys = nk;
            }
            free(k);
            free(s);
        }
        snprintf(r->error, sizeof r->error, "written to the batch export file");
        finish(c, r, LLM_DEFERRED, NULL, NULL, 0);
        return 1;
    }
    return 0;
}

/* Start r now (it passed the limits).  Returns 0, or -1 when it was completed instead. */
static int start(llm_client *c, req *r, double now)
{
    /* budget: the session's spending (the ledger) + what is in flight + this
     * request's worst case must stay within it.  While others are in flight
     * it waits for their real cost (1); alone, it is the budget's end (-1). */
    double worst = 0;
    if (c->cfg.price_in >= 0 && c->cfg.price_out >= 0) {
        worst = (double)r->body_len / 4.0 * c->cfg.price_in / 1e6 +
                (c->cfg.max_tokens > 0 ? c->cfg.max_tokens : 1024) * c->cfg.price_out / 1e6;
    }
    if (c->cfg.budget_usd > 0) {
        ledger_refresh(c);
        c->st.ledger_usd = c->ledger_usd;
        if (!c->st.budget_reached && c->ledger_usd + c->reserved_usd + worst > c->cfg.budget_usd &&
            c->ninflight > 0) {
            c->budget_blocked = 1;
            return 1;
        }
        if (c->st.budget_reached || c->ledger_usd + worst > c->cfg.budget_usd) {
            c->st.budget_reached = 1;
            snprintf(r->error, sizeof r->error,
                     "not sent: the budget of %.4f USD is reached (spent %.4f USD in this session, %.4f by this run; "
                     "the next request may cost up to %.4f); raise --budget or llm.budget_usd",
                     c->cfg.budget_usd, c->ledger_usd, c->st.cost_usd, worst);
            finish(c, r, LLM_E_BUDGET, NULL, NULL, 0);
            return -1;
        }
    }
    c->budget_blocked = 0;
    r->reserved_usd = worst;
    c->reserved_usd += worst;
    if (c->cfg.rpm > 0) c->rpm_tokens -= 1;
    if (c->cfg.tpm > 0) c->tpm_tokens -= r->est_tokens < c->cfg.tpm ? r->est_tokens : c->cfg.tpm;
    (void)now;
    CURL *e = c->npool ? c->pool[--c->npool] : curl_easy_init();
    if (!e) {
        snprintf(r->error, sizeof r->error, "libcurl could not make a handle (out of memory?)");
        c->reserved_usd -= worst;
        finish(c, r, LLM_E_NET, NULL, NULL, 0);
        return -1;
    }
    r->easy = e;
    r->attempts++;
    r->retry_after_ms = -1;
    r->sent = 0;
    r->rewinds = 0;
    r->too_big = 0;
    r->max_body = c->cfg.max_body_bytes;
    r->resp.len = 0;
    if (r->resp.data) r->resp.data[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->cfg.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->cfg.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "syneg/0.1");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (c->trace) {
        json_t *t = json_pack("{s:s,s:I,s:i,s:s,s:s}", "event", "request", "id", (json_int_t)r->id,
                              "attempt", r->attempts, "url", c->url_shown, "key", r->key);
        json_t *h = json_pack("{s:s}", "Content-Type", "application/json");
        if (c->key_copy) json_object_set_new(h, "Authorization", json_string("Bearer [REDACTED]"));
        json_object_set_new(t, "headers", h);
        json_object_set_new(t, "body", json_or_string(r->body, r->body_len));
        trace_line(c, t);
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        c->pool[c->npool++] = e;
        r->easy = NULL;
        c->reserved_usd -= worst;
        snprintf(r->error, sizeof r->error, "libcurl refused the request");
        finish(c, r, LLM_E_NET, NULL, NULL, 0);
        return -1;
    }
    r->slot = c->ninflight;
    c->inflight[c->ninflight++] = r;
    c->st.http_requests++;
    return 0;
}

static req *pop_front(llm_client *c)
{
    req *r = c->queue_head;
    c->queue_head = r->next;
    if (!c->queue_head) c->queue_tail = NULL;
    c->nqueued--;
    r->next = NULL;
    return r;
}

static void push_front(llm_client *c, req *r)
{
    r->next = c->queue_head;
    c->queue_head = r;
    if (!c->queue_tail) c->queue_tail = r;
    c->nqueued++;
}

/* Start what is due; returns seconds until something else may become due (<= 1). */
static double dispatch(llm_client *c)
{
    double now = sy_now(), next = 1.0;
    refill(c, now);
    /* retries whose time has come go to the front of the queue */
    req **pp = &c->waiting;
    while (*pp) {
        req *r = *pp;
        if (r->not_before <= now) {
            *pp = r->next;
            c->nwaiting--;
            push_front(c, r);
        } else {
            if (r->not_before - now < next) next = r->not_before - now;
            pp = &r->next;
        }
    }
    while (c->queue_head) {
        req *r = c->queue_head;
        if (!r->checked) {   /* cache hits and exports need no slot and no rate allowance */
            pop_front(c);
            r->checked = 1;
            if (serve_offline(c, r)) continue;
            push_front(c, r);
        }
        if (c->ninflight >= (size_t)c->cfg.concurrency) break;
        double w = rate_wait(c, r);
        if (w > 0) {
            if (w < next) next = w;
            break;
        }
        req *h = pop_front(c);
        if (start(c, h, now) > 0) {   /* waits for in-flight costs: a completion wakes us */
            push_front(c, h);
            break;
        }
    }
    return next;
}

size_t llm_step(llm_client *c, int max_wait_ms)
{
    double next = dispatch(c);
    int running = 0;
    curl_multi_perform(c->multi, &running);
    int progressed = 0;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r) { handle_done(c, r, m->data.result); progressed = 1; }
    }
    if (progressed) next = 0;   /* callbacks may have queued work: come back at once */
    size_t pending = llm_pending(c);
    if (pending && max_wait_ms > 0) {
        if (c->queue_head && !c->queue_head->checked) next = 0;
        if (c->queue_head && c->ninflight < (size_t)c->cfg.concurrency && rate_wait(c, c->queue_head) <= 0 &&
            !c->budget_blocked)
            next = 0;
        long ms = (long)ceil(next * 1000);
        if (ms > max_wait_ms) ms = max_wait_ms;
        if (ms > 0) {
            if (c->ninflight) curl_multi_poll(c->multi, NULL, 0, (int)ms, NULL);
            else {
                struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
    }
    return llm_pending(c);
}

void llm_cancel_all(llm_client *c)
{
    while (c->ninflight) {
        req *r = c->inflight[c->ninflight - 1];
        inflight_remove(c, r);
        c->reserved_usd -= r->reserved_usd;
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, NULL);
        c->pool[c->npool++] = r->easy;
        r->easy = NULL;
        snprintf(r->error, sizeof r->error, "cancelled");
        finish(c, r, LLM_CANCELLED, NULL, NULL, 0);
    }
    while (c->waiting) {
        req *r = c->waiting;
        c->waiting = r->next;
        c->nwaiting--;
        snprintf(r->error, sizeof r->error, "cancelled");
        finish(c, r, LLM_CANCELLED, NULL, NULL, 0);
    }
    while (c->queue_head) {
        req *r = pop_front(c);
        snprintf(r->error, sizeof r->error, "cancelled");
        finish(c, r, LLM_CANCELLED, NULL, NULL, 0);
    }
}

int llm_parse_response(const char *body, size_t n, char **content, char *why, size_t wn)
{
    *content = NULL;
    json_t *j = json_loadb(body, n, 0, NULL);
    if (!j) { snprintf(why, wn, "the body is not JSON"); return LLM_E_BADBODY; }
    parsed p;
    int bad = parse_completion(j, &p, why, wn);
    if (!bad && !(*content = strdup(p.content))) bad = LLM_E_BADBODY;
    json_decref(j);
    return bad;
}

long llm_parse_retry_after(const char *value) { return parse_retry_after(value); }

/* ---- /models --------------------------------------------------------------------------- */
static size_t models_body(char *buf, size_t size, size_t n, void *ud)
{
    sy_buf *b = ud;
    if (b->len + size * n > LLM_DEFAULT_MAX_BODY) return 0;
    return sy_buf_append(b, buf, size * n) == 0 ? size * n : 0;
}

int llm_list_models(const char *url, const char *key, double timeout_s, char ***ids, size_t *n, sy_err *err)
{
    *ids = NULL;
    *n = 0;
    if (!url || !*url) return sy_fail(err, SY_EINVAL, "no LLM endpoint to ask for its models");
    if (llm_global_init(err) < 0) return -1;
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/') ul--;
    if (ul >= 17 && !strncmp(url + ul - 17, "/chat/completions", 17)) ul -= 17;
    char *mu = sy_strdup_printf("%.*s/models", (int)ul, url);
    size_t shown_n = (mu ? strlen(mu) : 0) * 6 + 32;
    char *shown = mu ? malloc(shown_n) : NULL;
    if (!mu || !shown) { free(mu); free(shown); return sy_fail(err, SY_ENOMEM, "out of memory"); }
    sy_url_redact(mu, shown, shown_n);
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    char *auth = key && *key ? sy_strdup_printf("Authorization: Bearer %s", key) : NULL;
    if (auth) h = curl_slist_append(h, auth);
    sy_buf b = {0};
    int rc = -1;
    if (!e) { sy_fail(err, SY_ENOMEM, "cannot set up libcurl"); goto out; }
    if (!isfinite(timeout_s) || timeout_s <= 0 || timeout_s > 3600) timeout_s = 30;
    curl_easy_setopt(e, CURLOPT_URL, mu);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, models_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "syneg/0.1");
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) { sy_fail(err, SY_ENET, "%s: %s", shown, curl_easy_strerror(cc)); goto out; }
    json_t *j = b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    json_t *data = json_object_get(j, "data");
    if (status != 200 || !json_is_array(data)) {
        sy_fail(err, SY_EPARSE, "%s answered HTTP %ld without a model list; set llm.model (or SYNEG_LLM_MODEL)",
                shown, status);
        json_decref(j);
        goto out;
    }
    size_t i;
    json_t *m;
    *ids = calloc(json_array_size(data) + 1, sizeof **ids);
    if (!*ids) { json_decref(j); sy_fail(err, SY_ENOMEM, "out of memory"); goto out; }
    json_array_foreach(data, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (id && *id && !sy_find_control(id) && ((*ids)[*n] = strdup(id))) (*n)++;
    }
    json_decref(j);
    rc = 0;
out:
    if (auth) { memset(auth, 0, strlen(auth)); free(auth); }
    curl_slist_free_all(h);
    if (e) curl_easy_cleanup(e);
    sy_buf_free(&b);
    free(mu);
    free(shown);
    return rc;
}

/* ---- batch import and cache reads ------------------------------------------------- */
static int is_key(const char *k)
{
    if (!k || strlen(k) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f'))) return 0;
    return 1;
}

int llm_batch_import(const char *cache_dir, const char *path, size_t *stored, size_t *failed, sy_err *err)
{
    *stored = *failed = 0;
    if (!cache_dir) return sy_fail(err, SY_EINVAL, "batch import needs a cache folder");
    FILE *f = fopen(path, "r");
    if (!f) return sy_fail_errno(err, errno, "cannot open the batch results %s", path);
    llm_cache *cache = llm_cache_open(cache_dir, err);
    if (!cache) { fclose(f); return -1; }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (!n) continue;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)n, 0, &je);
        const char *id = json_string_value(json_object_get(o, "custom_id"));
        if (!o || !is_key(id)) {
            rc = sy_fail(err, SY_EPARSE, "%s:%zu: %s; each line must be a Batch API result whose custom_id is "
                         "a key written by --batch-export", path, lineno,
                         !o ? je.text : "custom_id is missing or not a 64-hex syneg request key");
            json_decref(o);
            break;
        }
        json_t *resp = json_object_get(o, "response");
        json_t *body = json_object_get(resp, "body");
        long status = (long)json_integer_value(json_object_get(resp, "status_code"));
        parsed p;
        char why[300];
        if (status == 200 && json_is_object(body) && parse_completion(body, &p, why, sizeof why) == 0 &&
            !(p.finish && !strcmp(p.finish, "length"))) {
            char *s = json_dumps(body, JSON_COMPACT);
            if (s && llm_cache_store(cache, id, json_string_value(json_object_get(body, "model")), NULL, s,
                                     strlen(s), NULL) == 0)
                (*stored)++;
            else
                (*failed)++;
            free(s);
        } else {
            (*failed)++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    llm_cache_free(cache);
    return rc;
}

int llm_cache_get(const char *cache_dir, const char *key, char **content)
{
    *content = NULL;
    if (!cache_dir || !is_key(key)) return 0;
    llm_cache *cache = llm_cache_open(cache_dir, NULL);
    json_t *resp = cache ? llm_cache_lookup(cache, key) : NULL;
    llm_cache_free(cache);
    if (!resp) return 0;
    parsed p;
    char why[300];
    if (parse_completion(resp, &p, why, sizeof why) == 0) *content = strdup(p.content);
    json_decref(resp);
    return *content != NULL;
}
