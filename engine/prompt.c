/* prompt: templates and the attribute catalogue (see prompt.h). */
#include "prompt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"
#include "util.h"

/* ---- small helpers ---------------------------------------------------------- */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

/* Split text into lines in place; returns the next line or NULL. */
static char *next_line(char **cur)
{
    if (!*cur) return NULL;
    char *s = *cur, *nl = strchr(s, '\n');
    if (nl) { *nl = '\0'; *cur = nl + 1; }
    else *cur = NULL;
    size_t n = strlen(s);
    if (n && s[n - 1] == '\r') s[n - 1] = '\0';
    return s;
}

/* ---- catalogue -------------------------------------------------------------- */
struct prompt_catalogue {
    prompt_attr *a;
    size_t n;
};

static void attr_clear(prompt_attr *a)
{
    free(a->name);
    free(a->description);
    free(a->def);
    for (size_t i = 0; i < a->nvalues; i++) free(a->values[i]);
    free(a->values);
}

void prompt_catalogue_free(prompt_catalogue *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) attr_clear(&c->a[i]);
    free(c->a);
    free(c);
}

size_t prompt_catalogue_size(const prompt_catalogue *c) { return c->n; }
const prompt_attr *prompt_catalogue_at(const prompt_catalogue *c, size_t i) { return &c->a[i]; }

const prompt_attr *prompt_catalogue_find(const prompt_catalogue *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->a[i].name, name)) return &c->a[i];
    return NULL;
}

static int value_allowed(const prompt_attr *a, const char *v)
{
    if (a->any || a->nvalues == 0) return 1;
    for (size_t i = 0; i < a->nvalues; i++)
        if (!strcmp(a->values[i], v)) return 1;
    return 0;
}

prompt_catalogue *prompt_catalogue_parse(const char *text, const char *fname, sy_err *err)
{
    prompt_catalogue *c = calloc(1, sizeof *c);
    char *copy = strdup(text), *cur = copy, *line;
    size_t lineno = 0, cap = 0;
    prompt_attr *a = NULL;
    if (!c || !copy) goto nomem;
    while ((line = next_line(&cur))) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        if (*s == '[') {
            size_t n = strlen(s);
            if (s[n - 1] != ']') {
                sy_fail(err, SY_EPARSE, "%s:%zu: an attribute header must look like [name]", fname, lineno);
                goto fail;
            }
            s[n - 1] = '\0';
            char *name = trim(s + 1);
            if (!valid_name(name)) {
                sy_fail(err, SY_EPARSE, "%s:%zu: attribute name '%s' may hold only letters, digits, '_' and '-'",
                        fname, lineno, name);
                goto fail;
            }
            if (prompt_catalogue_find(c, name)) {
                sy_fail(err, SY_EPARSE, "%s:%zu: attribute [%s] is defined twice", fname, lineno, name);
                goto fail;
            }
            if (c->n == cap) {
                cap = cap ? cap * 2 : 8;
                prompt_attr *na = realloc(c->a, cap * sizeof *na);
                if (!na) goto nomem;
                c->a = na;
            }
            a = &c->a[c->n++];
            memset(a, 0, sizeof *a);
            a->name = strdup(name);
            a->description = strdup("");
            a->def = strdup("");
            if (!a->name || !a->description || !a->def) goto nomem;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!a || !eq) {
            sy_fail(err, SY_EPARSE, "%s:%zu: expected '[name]' or 'key = value'%s", fname, lineno,
                    a ? "" : " after an [name] header");
            goto fail;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        if (!strcmp(k, "description")) {
            free(a->description);
            if (!(a->description = strdup(v))) goto nomem;
        } else if (!strcmp(k, "default")) {
            free(a->def);
            if (!(a->def = strdup(v))) goto nomem;
        } else if (!strcmp(k, "sample")) {
            if (!strcmp(v, "yes") || !strcmp(v, "true")) a->sample = 1;
            else if (!strcmp(v, "no") || !strcmp(v, "false")) a->sample = 0;
            else {
                sy_fail(err, SY_EPARSE, "%s:%zu: sample must be yes or no, not '%s'", fname, lineno, v);
                goto fail;
            }
        } else if (!strcmp(k, "values")) {
            char *save = NULL;
            for (char *tok = strtok_r(v, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
                char *t = trim(tok);
                if (!*t) continue;
                if (!strcmp(t, "*")) { a->any = 1; continue; }
                char **nv = realloc(a->values, (a->nvalues + 1) * sizeof *nv);
                if (!nv) goto nomem;
                a->values = nv;
                if (!(a->values[a->nvalues] = strdup(t))) goto nomem;
                a->nvalues++;
            }
        } else {
            sy_fail(err, SY_EPARSE, "%s:%zu: unknown key '%s'; use description, values, default or sample",
                    fname, lineno, k);
            goto fail;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        prompt_attr *x = &c->a[i];
        if (*x->def && !value_allowed(x, x->def)) {
            sy_fail(err, SY_EPARSE, "%s: attribute [%s]: the default '%s' is not among its values", fname,
                    x->name, x->def);
            goto fail;
        }
        if (x->sample && x->nvalues == 0) {
            sy_fail(err, SY_EPARSE, "%s: attribute [%s] has sample = yes but no values to draw from", fname,
                    x->name);
            goto fail;
        }
    }
    free(copy);
    return c;
nomem:
    sy_fail(err, SY_ENOMEM, "out of memory reading %s", fname);
fail:
    free(copy);
    prompt_catalogue_free(c);
    return NULL;
}

prompt_catalogue *prompt_catalogue_load(const char *path, sy_err *err)
{
    char *text = sy_read_file(path, NULL, err);
    if (!text) return NULL;
    prompt_catalogue *c = prompt_catalogue_parse(text, path, err);
    free(text);
    return c;
}

int prompt_check_attr(const prompt_catalogue *c, const char *name, const char *value, sy_err *err)
{
    const prompt_attr *a = prompt_catalogue_find(c, name);
    if (!a) {
        sy_buf b = {0};
        for (size_t i = 0; i < c->n; i++) sy_buf_printf(&b, "%s%s", i ? ", " : "", c->a[i].name);
        sy_fail(err, SY_EINVAL, "unknown attribute '%s'; known: %s; add a [%s] block to the attribute catalogue "
                "to define it", name, b.data ? b.data : "(none)", name);
        sy_buf_free(&b);
        return -1;
    }
    if (!value_allowed(a, value)) {
        sy_buf b = {0};
        for (size_t i = 0; i < a->nvalues; i++) sy_buf_printf(&b, "%s'%s'", i ? ", " : "", a->values[i]);
        sy_fail(err, SY_EINVAL, "attribute %s cannot be '%s'; allowed: %s (or add '*' to its values in the "
                "catalogue to allow any text)", name, value, b.data ? b.data : "");
        sy_buf_free(&b);
        return -1;
    }
    return 0;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int prompt_resolve(const prompt_catalogue *c, const prompt_kv *over, size_t nover, const prompt_kv *sess,
                   size_t nsess, uint64_t seed, const char *query_id, prompt_kv **out, size_t *nout, sy_err *err)
{
    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < nover; i++)
        if (prompt_check_attr(c, over[i].name, over[i].value, err) < 0) return -1;
    for (size_t i = 0; i < nsess; i++)
        if (prompt_check_attr(c, sess[i].name, sess[i].value, err) < 0) {
            sy_err_prefix(err, "session setting synth.attributes.%s", sess[i].name);
            return -1;
        }
    prompt_kv *r = calloc(c->n ? c->n : 1, sizeof *r);
    if (!r) return sy_fail(err, SY_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const prompt_attr *a = &c->a[i];
        const char *v = NULL;
        for (size_t j = nover; j-- > 0 && !v;)   /* the last --attr wins */
            if (!strcmp(over[j].name, a->name)) v = over[j].value;
        for (size_t j = 0; j < nsess && !v; j++)
            if (!strcmp(sess[j].name, a->name)) v = sess[j].value;
        if (!v && a->sample && a->nvalues) {
            uint64_t h = mix(seed ^ sy_hash64(query_id, strlen(query_id)) ^ mix(sy_hash64(a->name, strlen(a->name))));
            v = a->values[h % a->nvalues];
        }
        if (!v && *a->def) v = a->def;
        if (v && *v) r[n++] = (prompt_kv){a->name, v};
    }
    *out = r;
    *nout = n;
    return 0;
}

char *prompt_attr_list(const prompt_catalogue *c, const prompt_kv *attrs, size_t n)
{
    sy_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        const prompt_attr *a = prompt_catalogue_find(c, attrs[i].name);
        if (a && *a->description)
            sy_buf_printf(&b, "%s- %s: %s (%s)", i ? "\n" : "", attrs[i].name, attrs[i].value, a->description);
        else
            sy_buf_printf(&b, "%s- %s: %s", i ? "\n" : "", attrs[i].name, attrs[i].value);
    }
    if (!b.data) return strdup("- (none)");
    return b.data;
}

/* ---- templates ----------------------------------------------------------------- */
typedef struct {
    char *role;
    char *text;
    size_t first_line;   /* file line of the section's first text line */
} section;

struct prompt_template {
    section *s;
    size_t n;
    char hash[17];
    char *path;
};

void prompt_template_free(prompt_template *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) { free(t->s[i].role); free(t->s[i].text); }
    free(t->s);
    free(t->path);
    free(t);
}

const char *prompt_template_hash(const prompt_template *t) { return t->hash; }
const char *prompt_template_path(const prompt_template *t) { return t->path; }

/* Blank out every {{! ... }} comment in place with COMMENT_MARK bytes (newlines
 * kept, so line numbers stay right).  0, or -1 with the line of an unclosed one. */
#define COMMENT_MARK '\x01'
static int blank_comments(char *s, size_t *bad_line)
{
    size_t line = 1;
    for (char *p = s; *p; p++) {
        if (*p == '\n') line++;
        if (p[0] != '{' || p[1] != '{' || p[2] != '!') continue;
        /* placeholders may be named inside a comment: {{ }} pairs nest */
        size_t start = line, depth = 0;
        char *end = p;
        for (; *end; end++) {
            if (end[0] == '{' && end[1] == '{') { depth++; end++; }
            else if (end[0] == '}' && end[1] == '}') { end++; if (--depth == 0) break; }
        }
        if (!*end) { *bad_line = start; return -1; }
        for (; p <= end; p++) {
            if (*p == '\n') line++;
            else *p = COMMENT_MARK;
        }
        p--;
    }
    return 0;
}

/* Drop comment bytes from a line; 1 when the line held a comment and nothing
 * else but blanks (a comment-only line leaves no blank line behind). */
static int strip_comment_line(char *line)
{
    char *w = line;
    int had = 0, text = 0;
    for (char *r = line; *r; r++) {
        if (*r == COMMENT_MARK) { had = 1; continue; }
        if (!isspace((unsigned char)*r)) text = 1;
        *w++ = *r;
    }
    *w = '\0';
    return had && !text;
}

prompt_template *prompt_template_parse(const char *text, const char *fname, sy_err *err)
{
    prompt_template *t = calloc(1, sizeof *t);
    char *copy = strdup(text), *cur = copy, *line;
    sy_buf body = {0};
    size_t lineno = 0, bad_line = 0;
    if (!t || !copy || !(t->path = strdup(fname))) goto nomem;
    char hex[65];
    sha256_hex(text, strlen(text), hex);
    memcpy(t->hash, hex, 16);
    t->hash[16] = '\0';
    if (blank_comments(copy, &bad_line)) {
        sy_fail(err, SY_EPARSE, "%s:%zu: comment '{{!' without a closing '}}'", fname, bad_line);
        goto fail;
    }
    section *cs = NULL;
    while ((line = next_line(&cur))) {
        lineno++;
        if (strip_comment_line(line)) continue;
        if (!strcmp(line, "[system]") || !strcmp(line, "[user]") || !strcmp(line, "[assistant]")) {
            if (cs) {   /* close the previous section, trimming blank edges */
                cs->text = body.data ? body.data : strdup("");
                body = (sy_buf){0};
                if (!cs->text) goto nomem;
                size_t l = strlen(cs->text);
                while (l && (cs->text[l - 1] == '\n' || cs->text[l - 1] == ' ')) cs->text[--l] = '\0';
            }
            section *ns = realloc(t->s, (t->n + 1) * sizeof *ns);
            if (!ns) goto nomem;
            t->s = ns;
            cs = &t->s[t->n++];
            memset(cs, 0, sizeof *cs);
            line[strlen(line) - 1] = '\0';
            if (!(cs->role = strdup(line + 1))) goto nomem;
            cs->first_line = lineno + 1;
            continue;
        }
        if (!cs) {
            if (!*trim(line)) continue;
            if (line[0] == '#')   /* a template written for the old '#' comment syntax */
                sy_fail(err, SY_EPARSE, "%s:%zu: text before the first [system] or [user] section; "
                        "'#' lines are Markdown headings, not comments: wrap comments in {{! ... }}", fname, lineno);
            else
                sy_fail(err, SY_EPARSE, "%s:%zu: text before the first [system] or [user] section", fname, lineno);
            goto fail;
        }
        if (!body.len && !*line) { cs->first_line = lineno + 1; continue; }  /* leading blank lines */
        if (sy_buf_puts(&body, line) < 0 || sy_buf_puts(&body, "\n") < 0) goto nomem;
    }
    if (cs) {
        cs->text = body.data ? body.data : strdup("");
        body = (sy_buf){0};
        if (!cs->text) goto nomem;
        size_t l = strlen(cs->text);
        while (l && (cs->text[l - 1] == '\n' || cs->text[l - 1] == ' ')) cs->text[--l] = '\0';
    }
    if (!t->n) {
        sy_fail(err, SY_EPARSE, "%s: no [system] or [user] section; a template needs at least [user]", fname);
        goto fail;
    }
    free(copy);
    return t;
nomem:
    sy_fail(err, SY_ENOMEM, "out of memory reading %s", fname);
fail:
    sy_buf_free(&body);
    free(copy);
    prompt_template_free(t);
    return NULL;
}

prompt_template *prompt_template_load(const char *path, sy_err *err)
{
    char *text = sy_read_file(path, NULL, err);
    if (!text) return NULL;
    prompt_template *t = prompt_template_parse(text, path, err);
    free(text);
    return t;
}

static const char *lookup(const prompt_kv *vars, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(vars[i].name) == len && !strncmp(vars[i].name, name, len)) return vars[i].value;
    return NULL;
}

static size_t line_of(const section *s, const char *p)
{
    size_t l = s->first_line;
    for (const char *q = s->text; q < p; q++) l += *q == '\n';
    return l;
}

/* Render one section's text into b; blocks {{#x}}..{{/x}} kept when x non-empty. */
static int render_section(const prompt_template *t, const section *s, const prompt_kv *vars, size_t n,
                          sy_buf *b, sy_err *err)
{
    const char *p = s->text;
    const char *skip_until = NULL;   /* name of the block being skipped */
    size_t skip_len = 0;
    while (*p) {
        const char *o = strstr(p, "{{");
        if (!o) { if (!skip_until) sy_buf_puts(b, p); break; }
        while (o[2] == '{') o++;   /* "{{{x}}": a literal '{' (JSON) before {{x}} */
        const char *c = strstr(o + 2, "}}");
        if (!c) return sy_fail(err, SY_EPARSE, "%s:%zu: '{{' without a closing '}}'", t->path, line_of(s, o));
        if (!skip_until) sy_buf_append(b, p, (size_t)(o - p));
        const char *name = o + 2;
        size_t len = (size_t)(c - name);
        p = c + 2;
        if (*name == '#' || *name == '/') {
            int open = *name == '#';
            name++;
            len--;
            if (open && !skip_until) {
                const char *v = lookup(vars, n, name, len);
                if (!v || !*v) { skip_until = name; skip_len = len; }
            } else if (!open && skip_until && len == skip_len && !strncmp(name, skip_until, len)) {
                skip_until = NULL;
            }
            if (*p == '\n') p++;   /* block markers on their own line leave no blank line */
            continue;
        }
        if (skip_until) continue;
        const char *v = lookup(vars, n, name, len);
        if (!v) {
            if (len > 5 && !strncmp(name, "attr.", 5)) continue;   /* an attribute with no value: empty */
            return sy_fail(err, SY_EPARSE, "%s:%zu: unknown placeholder {{%.*s}}; known: query, positive, title, "
                           "titled, words, k, attributes, negative, previous, attr.NAME", t->path, line_of(s, o), (int)len, name);
        }
        sy_buf_puts(b, v);
    }
    if (skip_until)
        return sy_fail(err, SY_EPARSE, "%s: block {{#%.*s}} is never closed with {{/%.*s}}", t->path, (int)skip_len,
                       skip_until, (int)skip_len, skip_until);
    if (!b->data) sy_buf_puts(b, "");
    return b->data ? 0 : sy_fail(err, SY_ENOMEM, "out of memory");
}

json_t *prompt_render(const prompt_template *t, const prompt_kv *vars, size_t n, sy_err *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < t->n; i++) {
        sy_buf b = {0};
        if (render_section(t, &t->s[i], vars, n, &b, err) < 0) {
            sy_buf_free(&b);
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, json_pack("{s:s,s:s}", "role", t->s[i].role, "content", b.data));
        sy_buf_free(&b);
    }
    return arr;
}

char *prompt_render_text(const prompt_template *t, const prompt_kv *vars, size_t n, sy_err *err)
{
    sy_buf out = {0};
    for (size_t i = 0; i < t->n; i++) {
        sy_buf b = {0};
        if (render_section(t, &t->s[i], vars, n, &b, err) < 0) {
            sy_buf_free(&b);
            sy_buf_free(&out);
            return NULL;
        }
        sy_buf_printf(&out, "%s[%s]\n%s\n", i ? "\n" : "", t->s[i].role, b.data);
        sy_buf_free(&b);
    }
    return out.data;
}

/* ---- finding the prompts folder ------------------------------------------------- */
static int has_synth(const char *dir)
{
    char *p = sy_path_join(dir, "synth.txt");
    int ok = p && sy_file_exists(p);
    free(p);
    return ok;
}

char *prompt_find_dir(const char *session_dir, sy_err *err)
{
    char *cand[12];
    size_t n = 0;
    if (session_dir) cand[n++] = sy_path_join(session_dir, "prompts");
    const char *env = getenv("SYNEG_PROMPTS");
    if (env && *env) cand[n++] = strdup(env);
    char exe[4096];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        cand[n++] = sy_strdup_printf("%s/../prompts", exe);
        cand[n++] = sy_strdup_printf("%s/../../prompts", exe);
        cand[n++] = sy_strdup_printf("%s/../share/syneg/prompts", exe);
    }
    cand[n++] = strdup("prompts");
    cand[n++] = strdup("/usr/local/share/syneg/prompts");
    cand[n++] = strdup("/usr/share/syneg/prompts");
    char *found = NULL;
    sy_buf tried = {0};
    for (size_t i = 0; i < n; i++) {
        if (!found && cand[i] && has_synth(cand[i])) { found = cand[i]; continue; }
        if (cand[i]) sy_buf_printf(&tried, "%s%s", tried.len ? ", " : "", cand[i]);
        free(cand[i]);
    }
    if (!found)
        sy_fail(err, SY_ENOTFOUND, "no prompts folder with synth.txt found (looked in %s); set SYNEG_PROMPTS to "
                "the folder holding synth.txt, reflect.txt and attributes.txt", tried.data ? tried.data : "");
    sy_buf_free(&tried);
    return found;
}
