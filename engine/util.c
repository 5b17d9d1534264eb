#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- buffer ---- */

int sy_buf_reserve(sy_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int sy_buf_append(sy_buf *b, const void *p, size_t n)
{
    if (sy_buf_reserve(b, n)) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sy_buf_puts(sy_buf *b, const char *s) { return sy_buf_append(b, s, strlen(s)); }

int sy_buf_printf(sy_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sy_buf_reserve(b, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void sy_buf_free(sy_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- hashing: a 64-bit multiply-mix hash (wyhash-like folding) ---- */

static inline uint64_t mix64(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t sy_hash64_seed(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *s = p;
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    uint64_t h = seed ^ mix64(seed ^ k0, k1) ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = mix64(h ^ v ^ k0, k1);
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)s[i] << (8 * i);
    h = mix64(h ^ v ^ k1, k0 ^ n);
    return mix64(h, k1 ^ 0x8ebc6af09c88c6e3ull);
}

uint64_t sy_hash64(const void *p, size_t n) { return sy_hash64_seed(p, n, 0x53594e4547ull); }

uint64_t sy_text_hash(const char *s, size_t n)
{
    /* streaming FNV-1a over the normalised form, then a final mix */
    uint64_t h = 0xcbf29ce484222325ull;
    int gap = 0, any = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 128 && !isalnum(c)) { gap = 1; continue; }
        if (gap && any) { h ^= ' '; h *= 0x100000001b3ull; }
        gap = 0;
        any = 1;
        h ^= (c < 128) ? (unsigned char)tolower(c) : c;
        h *= 0x100000001b3ull;
    }
    return mix64(h, 0x9e3779b97f4a7c15ull);
}

/* ---- string map ---- */

int sy_strmap_init(sy_strmap *m, size_t expect)
{
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expect * 2) cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->klen = calloc(cap, sizeof *m->klen);
    m->vals = calloc(cap, sizeof *m->vals);
    m->hashes = calloc(cap, sizeof *m->hashes);
    if (!m->keys || !m->klen || !m->vals || !m->hashes) {
        sy_strmap_free(m);
        return -1;
    }
    m->cap = cap;
    return 0;
}

static size_t strmap_find(const sy_strmap *m, const char *key, size_t klen, uint64_t h)
{
    size_t mask = m->cap - 1, i = h & mask;
    while (m->keys[i]) {
        if (m->hashes[i] == h && m->klen[i] == klen && memcmp(m->keys[i], key, klen) == 0) return i;
        i = (i + 1) & mask;
    }
    return i;
}

static int strmap_grow(sy_strmap *m)
{
    sy_strmap nm;
    memset(&nm, 0, sizeof nm);
    size_t cap = m->cap * 2;
    nm.keys = calloc(cap, sizeof *nm.keys);
    nm.klen = calloc(cap, sizeof *nm.klen);
    nm.vals = calloc(cap, sizeof *nm.vals);
    nm.hashes = calloc(cap, sizeof *nm.hashes);
    if (!nm.keys || !nm.klen || !nm.vals || !nm.hashes) {
        sy_strmap_free(&nm);
        return -1;
    }
    nm.cap = cap;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = strmap_find(&nm, m->keys[i], m->klen[i], m->hashes[i]);
        nm.keys[j] = m->keys[i];
        nm.klen[j] = m->klen[i];
        nm.vals[j] = m->vals[i];
        nm.hashes[j] = m->hashes[i];
    }
    nm.n = m->n;
    sy_strmap_free(m);
    *m = nm;
    return 0;
}

int sy_strmap_put(sy_strmap *m, const char *key, size_t klen, uint32_t val, uint32_t *old)
{
    if (!m->cap && sy_strmap_init(m, 16)) return -1;
    if ((m->n + 1) * 4 > m->cap * 3 && strmap_grow(m)) return -1;
    uint64_t h = sy_hash64(key, klen);
    size_t i = strmap_find(m, key, klen, h);
    if (m->keys[i]) {
        if (old) *old = m->vals[i];
        return 0;
    }
    m->keys[i] = key;
    m->klen[i] = (uint32_t)klen;
    m->vals[i] = val;
    m->hashes[i] = h;
    m->n++;
    return 1;
}

int sy_strmap_get(const sy_strmap *m, const char *key, size_t klen, uint32_t *val)
{
    if (!m->cap) return 0;
    size_t i = strmap_find(m, key, klen, sy_hash64(key, klen));
    if (!m->keys[i]) return 0;
    if (val) *val = m->vals[i];
    return 1;
}

void sy_strmap_free(sy_strmap *m)
{
    free(m->keys);
    free(m->klen);
    free(m->vals);
    free(m->hashes);
    memset(m, 0, sizeof *m);
}

/* ---- files ---- */

char *sy_read_file(const char *path, size_t *len, sy_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sy_fail_errno(err, errno, "%s: cannot open", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        sy_fail_errno(err, errno, "%s: cannot stat", path);
        close(fd);
        return NULL;
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size : 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        sy_fail(err, SY_ENOMEM, "%s: out of memory reading %zu bytes", path, cap);
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                close(fd);
                sy_fail(err, SY_ENOMEM, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            sy_fail_errno(err, errno, "%s: read failed", path);
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int sy_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int sy_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int sy_atomic_open(sy_atomic *a, const char *path, sy_err *err)
{
    a->fd = -1;
    a->path = strdup(path);
    a->tmp = sy_strdup_printf("%s.tmp.%ld", path, (long)getpid());
    if (!a->path || !a->tmp) {
        sy_atomic_abort(a);
        return sy_fail(err, SY_ENOMEM, "out of memory");
    }
    /* a new file is private (0600); a replaced one keeps the mode it had */
    struct stat old;
    mode_t mode = stat(path, &old) == 0 ? (old.st_mode & 07777) : 0600;
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (a->fd < 0 || (mode != 0600 && fchmod(a->fd, mode) < 0)) {
        sy_fail_errno(err, errno, "%s: cannot create", a->tmp);
        sy_atomic_abort(a);
        return -1;
    }
    return 0;
}

void sy_atomic_abort(sy_atomic *a)
{
    if (a->fd >= 0) close(a->fd);
    if (a->tmp) unlink(a->tmp);
    free(a->path);
    free(a->tmp);
    a->fd = -1;
    a->path = a->tmp = NULL;
}

int sy_atomic_commit(sy_atomic *a, sy_err *err)
{
    if (fsync(a->fd) < 0) {
        sy_fail_errno(err, errno, "%s: cannot write (the previous %s is untouched)", a->tmp, a->path);
        sy_atomic_abort(a);
        return -1;
    }
    int rc = close(a->fd);
    a->fd = -1;
    if (rc < 0 || rename(a->tmp, a->path) < 0) {
        sy_fail_errno(err, errno, "%s: cannot rename into place (the previous file is untouched)", a->path);
        sy_atomic_abort(a);
        return -1;
    }
    free(a->tmp);
    a->tmp = NULL;
    char *dir = dir_of(a->path);
    if (dir) {
        sy_fsync_dir(dir);
        free(dir);
    }
    free(a->path);
    a->path = NULL;
    return 0;
}

int sy_write_file_atomic(const char *path, const void *data, size_t len, sy_err *err)
{
    sy_atomic a;
    if (sy_atomic_open(&a, path, err) < 0) return -1;
    if (sy_write_all(a.fd, data, len) < 0) {
        sy_fail_errno(err, errno, "%s: cannot write (the previous %s is untouched)", a.tmp, path);
        sy_atomic_abort(&a);
        return -1;
    }
    return sy_atomic_commit(&a, err);
}

int sy_mkdir_p(const char *path, sy_err *err)
{
    char *p = strdup(path);
    if (!p) return sy_fail(err, SY_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                sy_fail_errno(err, errno, "%s: cannot create folder", p);
                free(p);
                return -1;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    if (!sy_is_dir(path)) return sy_fail(err, SY_EIO, "%s: exists but is not a folder", path);
    return 0;
}

int sy_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int sy_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *sy_strdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

char *sy_path_join(const char *a, const char *b)
{
    if (!a || !*a || b[0] == '/') return strdup(b);
    size_t la = strlen(a);
    return sy_strdup_printf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

int sy_shell_quote(sy_buf *b, const char *s)
{
    int plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("_./:+,=@%-", *p) != NULL;
    if (plain) return sy_buf_puts(b, s);
    int rc = sy_buf_puts(b, "'");
    for (const char *p = s; *p && !rc; p++)
        rc = *p == '\'' ? sy_buf_puts(b, "'\\''") : sy_buf_append(b, p, 1);
    return rc ? rc : sy_buf_puts(b, "'");
}

static int secret_param(const char *name, size_t len)
{
    static const char *const names[] = {"key", "api_key", "apikey", "api-key", "token", "access_token",
                                        "auth", "sig", "signature", "password", "secret"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && !strncasecmp(name, names[i], len)) return 1;
    return 0;
}

int sy_url_redact(const char *url, char *out, size_t n)
{
    sy_buf b = {0};
    int cut = 0;
    const char *p = url ? url : "";
    const char *scheme = strstr(p, "://");
    if (scheme) {
        const char *host = scheme + 3;
        size_t auth_len = strcspn(host, "/?#");
        const char *at = memchr(host, '@', auth_len);
        for (const char *q = at; q && q + 1 < host + auth_len; q++)   /* the last '@' of the authority */
            if (q[1] == '@') at = q + 1;
        sy_buf_append(&b, p, (size_t)(host - p));
        if (at) {
            sy_buf_puts(&b, "[REDACTED]@");
            cut++;
            p = at + 1;
        } else {
            p = host;
        }
    }
    size_t path_len = strcspn(p, "?");
    sy_buf_append(&b, p, path_len);
    p += path_len;
    while (*p) {   /* '?' or '&' then name[=value] */
        sy_buf_append(&b, p, 1);
        p++;
        size_t plen = strcspn(p, "&#"), nlen = strcspn(p, "=&#");
        if (nlen < plen && secret_param(p, nlen)) {
            sy_buf_append(&b, p, nlen + 1);
            sy_buf_puts(&b, "[REDACTED]");
            cut++;
        } else {
            sy_buf_append(&b, p, plen);
        }
        p += plen;
        if (*p == '#') { sy_buf_puts(&b, p); break; }
    }
    if (n) snprintf(out, n, "%s", b.data ? b.data : "");
    sy_buf_free(&b);
    return cut;
}

const char *sy_find_control(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return s;
    return NULL;
}

int sy_map_open(sy_map *m, const char *path, sy_err *err)
{
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sy_fail_errno(err, errno, "%s: cannot open", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return sy_fail_errno(err, e, "%s: cannot stat", path);
    }
    if (st.st_size == 0) {
        close(fd);
        static const uint8_t empty[1];
        m->data = empty;
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return sy_fail_errno(err, errno, "%s: cannot map", path);
    m->data = p;
    m->len = (size_t)st.st_size;
    return 0;
}

void sy_map_close(sy_map *m)
{
    if (m->len) munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

/* ---- processes ---- */

int sy_proc_token(long pid, char *buf, size_t n)
{
    if (pid <= 0 || n == 0) return -1;
    char path[64], st[1024], boot[64] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, st, sizeof st - 1);
    close(fd);
    if (r <= 0) return -1;
    st[r] = '\0';
    /* field 2 (comm) may hold spaces and ')': fields count from the last ')' */
    const char *p = strrchr(st, ')');
    if (!p) return -1;
    p++;
    for (int field = 2; field < 21 && p; field++) p = strchr(p + 1, ' ');
    if (!p) return -1;
    unsigned long long start = strtoull(p + 1, NULL, 10);
    fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        r = read(fd, boot, sizeof boot - 1);
        close(fd);
        boot[r > 0 ? r : 0] = '\0';
        boot[strcspn(boot, "\n")] = '\0';
    }
    snprintf(buf, n, "%s:%llu", boot, start);
    return 0;
}

int sy_proc_signal(long pid, const char *token, int sig)
{
    long target = pid < 0 ? -pid : pid;
    char now[128];
    if (!token || !*token || target <= 1) { errno = ESRCH; return -1; }
    int pfd = -1;
#ifdef SYS_pidfd_open
    if (pid > 0) pfd = (int)syscall(SYS_pidfd_open, (pid_t)target, 0);
#endif
    if (sy_proc_token(target, now, sizeof now) < 0 || strcmp(now, token) != 0) {
        if (pfd >= 0) close(pfd);
        errno = ESRCH;
        return -1;
    }
    int rc;
#ifdef SYS_pidfd_send_signal
    if (pfd >= 0) {
        rc = (int)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
        int e = errno;
        close(pfd);
        errno = e;
        return rc;
    }
#endif
    if (pfd >= 0) close(pfd);
    rc = kill((pid_t)pid, sig);
    return rc;
}

double sy_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void sy_iso_time(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tmp[32];
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03ldZ", tmp, ts.tv_nsec / 1000000);
}
