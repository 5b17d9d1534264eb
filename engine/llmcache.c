/* llmcache: append-only pack files indexed by request key (see llmcache.h). */
#include "llmcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

typedef struct {
    uint8_t key[32];
    uint32_t pack;      /* UINT32_MAX: empty slot */
    uint32_t len;       /* line length without the newline; 0: forgotten */
    uint64_t off;
} slot;

struct llm_cache {
    char *dir;
    char **packs;       /* file names (full paths) */
    int *fds;           /* read fds, -1 until opened */
    size_t npacks;
    slot *tab;
    size_t cap, n;
    int wfd;            /* our own pack, opened on first store */
    uint32_t wpack;
    uint64_t wsize;
};

static const char PREFIX[] = "{\"key\":\"";

static int unhex(const char *h, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = h[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

static size_t slot_of(const llm_cache *c, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    size_t i = (size_t)h & (c->cap - 1);
    while (c->tab[i].pack != UINT32_MAX && memcmp(c->tab[i].key, key, 32)) i = (i + 1) & (c->cap - 1);
    return i;
}

static int grow(llm_cache *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    slot *old = c->tab, *nt = malloc(ncap * sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < ncap; i++) nt[i].pack = UINT32_MAX;
    size_t ocap = c->cap;
    c->tab = nt;
    c->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].pack != UINT32_MAX) c->tab[slot_of(c, old[i].key)] = old[i];
    free(old);
    return 0;
}

static int put(llm_cache *c, const uint8_t key[32], uint32_t pack, uint64_t off, uint32_t len)
{
    if ((c->n + 1) * 2 > c->cap && grow(c) < 0) return -1;
    size_t i = slot_of(c, key);
    if (c->tab[i].pack == UINT32_MAX) c->n++;
    memcpy(c->tab[i].key, key, 32);
    c->tab[i].pack = pack;
    c->tab[i].off = off;
    c->tab[i].len = len;
    return 0;
}

static int add_pack(llm_cache *c, char *path)
{
    char **np = realloc(c->packs, (c->npacks + 1) * sizeof *np);
    if (!np) return -1;
    c->packs = np;
    int *nf = realloc(c->fds, (c->npacks + 1) * sizeof *nf);
    if (!nf) return -1;
    c->fds = nf;
    c->packs[c->npacks] = path;
    c->fds[c->npacks] = -1;
    c->npacks++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Index one pack: every complete line that starts with {"key":"<64 hex>". */
static int index_pack(llm_cache *c, uint32_t pi)
{
    sy_map m;
    if (sy_map_open(&m, c->packs[pi], NULL) < 0) return 0;   /* unreadable: ignore */
    const char *p = (const char *)m.data, *end = p + m.len;
    size_t pl = sizeof PREFIX - 1;
    int rc = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;   /* torn tail */
        uint8_t key[32];
        if ((size_t)(nl - p) > pl + 64 && !memcmp(p, PREFIX, pl) && p[pl + 64] == '"' && unhex(p + pl, key) == 0 &&
            (size_t)(nl - p) < UINT32_MAX) {
            if (put(c, key, pi, (uint64_t)(p - (const char *)m.data), (uint32_t)(nl - p)) < 0) { rc = -1; break; }
        }
        p = nl + 1;
    }
    sy_map_close(&m);
    return rc;
}

llm_cache *llm_cache_open(const char *dir, sy_err *err)
{
    if (sy_mkdir_p(dir, err) < 0) return NULL;
    chmod(dir, 0700);   /* answers may quote private data: private to the owner */
    llm_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir)) || grow(c) < 0) goto nomem;
    c->wfd = -1;
    DIR *d = opendir(dir);
    if (!d) {
        sy_fail_errno(err, errno, "cannot read the LLM cache folder %s", dir);
        llm_cache_free(c);
        return NULL;
    }
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "pack-", 5) || l < 11 || strcmp(e->d_name + l - 6, ".jsonl")) continue;
        char **n2 = realloc(names, (nn + 1) * sizeof *n2);
        char *path = sy_path_join(dir, e->d_name);
        if (!n2 || !path) { free(n2 ? NULL : names); free(path); closedir(d); goto nomem; }
        names = n2;
        names[nn++] = path;
    }
    closedir(d);
    /* oldest first (names start with the ISO time), so later lines win */
    if (nn) qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        if (add_pack(c, names[i]) < 0) {
            for (size_t j = i; j < nn; j++) free(names[j]);
            free(names);
            goto nomem;
        }
    }
    free(names);
    for (uint32_t i = 0; i < c->npacks; i++)
        if (index_pack(c, i) < 0) goto nomem;
    return c;
nomem:
    llm_cache_free(c);
    sy_fail(err, SY_ENOMEM, "out of memory indexing the LLM cache %s", dir);
    return NULL;
}

void llm_cache_free(llm_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->npacks; i++) {
        if (c->fds[i] >= 0) close(c->fds[i]);
        free(c->packs[i]);
    }
    if (c->wfd >= 0) close(c->wfd);
    free(c->packs);
    free(c->fds);
    free(c->tab);
    free(c->dir);
    free(c);
}

size_t llm_cache_count(const llm_cache *c) { return c->n; }

json_t *llm_cache_lookup(llm_cache *c, const char *key)
{
    uint8_t k[32];
    if (!key || strlen(key) != 64 || unhex(key, k) < 0) return NULL;
    slot *s = &c->tab[slot_of(c, k)];
    if (s->pack == UINT32_MAX || s->len == 0) return NULL;
    if (c->fds[s->pack] < 0 && (c->fds[s->pack] = open(c->packs[s->pack], O_RDONLY | O_CLOEXEC)) < 0) return NULL;
    char *buf = malloc(s->len);
    if (!buf) return NULL;
    json_t *resp = NULL;
    if (pread(c->fds[s->pack], buf, s->len, (off_t)s->off) == (ssize_t)s->len) {
        json_t *o = json_loadb(buf, s->len, 0, NULL);
        const char *kk = json_string_value(json_object_get(o, "key"));
        if (kk && !strcmp(kk, key) && json_is_object(json_object_get(o, "response")))
            resp = json_incref(json_object_get(o, "response"));
        json_decref(o);
    }
    free(buf);
    if (!resp) s->len = 0;   /* damaged: a miss from now on */
    return resp;
}

void llm_cache_forget(llm_cache *c, const char *key)
{
    uint8_t k[32];
    if (!key || strlen(key) != 64 || unhex(key, k) < 0) return;
    slot *s = &c->tab[slot_of(c, k)];
    if (s->pack != UINT32_MAX) s->len = 0;
}

int llm_cache_store(llm_cache *c, const char *key, const char *model, const char *request_json,
                    const char *response_json, size_t response_len, sy_err *err)
{
    uint8_t k[32];
    if (!key || strlen(key) != 64 || unhex(key, k) < 0) return sy_fail(err, SY_EINVAL, "bad cache key");
    json_t *resp = json_loadb(response_json, response_len, 0, NULL);
    if (!resp) return sy_fail(err, SY_EPARSE, "the answer to cache is not JSON");
    json_t *req = request_json ? json_loads(request_json, 0, NULL) : NULL;
    char t[40];
    sy_iso_time(t, sizeof t);
    json_t *o = json_object();   /* insertion order kept: "key" first, as the index needs */
    json_object_set_new(o, "key", json_string(key));
    json_object_set_new(o, "model", model ? json_string(model) : json_null());
    json_object_set_new(o, "created", json_string(t));
    json_object_set_new(o, "request", req ? req : json_null());
    json_object_set_new(o, "response", resp);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return sy_fail(err, SY_ENOMEM, "out of memory");
    size_t len = strlen(s);
    s[len] = '\n';   /* json_dumps gave len + 1 bytes; the NUL becomes the newline */
    if (c->wfd < 0) {
        char ts[40];
        sy_iso_time(ts, sizeof ts);
        for (char *p = ts; *p; p++)
            if (*p == ':' || *p == '.') *p = '-';
        char *path = NULL;
        for (int n = 0; n < 1000 && c->wfd < 0; n++) {
            free(path);
            path = sy_strdup_printf("%s/pack-%s-%ld-%d.jsonl", c->dir, ts, (long)getpid(), n);
            if (!path) break;
            c->wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
            if (c->wfd < 0 && errno != EEXIST) break;
        }
        if (c->wfd < 0 || add_pack(c, path) < 0) {
            int e = errno;
            if (c->wfd >= 0) close(c->wfd);
            c->wfd = -1;
            sy_fail_errno(err, e, "cannot create a pack in the LLM cache %s", c->dir);
            free(path);
            free(s);
            return -1;
        }
        c->wpack = (uint32_t)(c->npacks - 1);
        c->wsize = 0;
    }
    if (sy_write_all(c->wfd, s, len + 1) < 0) {
        int e = errno;
        /* cut a partial line away so the next entry starts clean */
        if (ftruncate(c->wfd, (off_t)c->wsize) < 0) {}
        free(s);
        return sy_fail_errno(err, e, "cannot append to the LLM cache in %s", c->dir);
    }
    int rc = put(c, k, c->wpack, c->wsize, (uint32_t)len);
    c->wsize += len + 1;
    free(s);
    return rc < 0 ? sy_fail(err, SY_ENOMEM, "out of memory") : 0;
}
