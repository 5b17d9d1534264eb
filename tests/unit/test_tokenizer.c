/* test_tokenizer: WordPiece parity with HF tokenizers on every text of
 * cranfield and cisi plus tests/fixtures/tokenizer/hard_cases.jsonl
 * (fixture made by tests/ref/make_fixtures.py), and the edge cases of the API. */
#include <jansson.h>
#include <stdint.h>

#include "../check.h"
#include "tokenizer.h"
#include "util.h"

#define FIXTURE "tests/fixtures/tokenizer/"

static uint64_t fnv64_ids(const int32_t *ids, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        for (int b = 0; b < 4; b++) {
            h ^= v & 0xff;
            h *= 0x100000001b3ULL;
            v >>= 8;
        }
    }
    return h;
}

/* One JSONL file's lines, parsed lazily. */
typedef struct {
    char path[512];
    json_t **rows;
    size_t n;
} jfile;

static int jfile_load(jfile *f, const char *path)
{
    snprintf(f->path, sizeof f->path, "%s", path);
    size_t len;
    char *text = sy_read_file(path, &len, NULL);
    if (!text) return -1;
    size_t cap = 1024;
    f->rows = malloc(cap * sizeof *f->rows);
    f->n = 0;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (*p) {
            if (f->n == cap) f->rows = realloc(f->rows, (cap *= 2) * sizeof *f->rows);
            f->rows[f->n++] = json_loads(p, JSON_ALLOW_NUL, NULL);
        }
        if (!nl) break;
        p = nl + 1;
    }
    free(text);
    return 0;
}

static void jfile_free(jfile *f)
{
    for (size_t i = 0; i < f->n; i++) json_decref(f->rows[i]);
    free(f->rows);
}

static const char *vocab_path(void)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/bert-base-uncased/vocab.txt", check_shared_data());
    return p;
}

TEST(basic)
{
    sy_err err;
    if (!check_need(vocab_path())) return;
    tokenizer *t = tok_load(vocab_path(), NULL, &err);
    CHECK(t != NULL, "%s", err.msg);
    if (!t) return;
    CHECK_EQ_INT(tok_vocab_size(t), 30522);
    int32_t ids[64];
    size_t full = 0;
    size_t n = tok_encode(t, "the cat", 7, ids, 64, &full);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(full, 4);
    CHECK(n == 4 && ids[0] == 101 && ids[1] == 1996 && ids[2] == 4937 && ids[3] == 102, "ids");
    /* truncation keeps [SEP] and reports the full length */
    const char *s = "the cat sat on the mat with another cat";
    n = tok_encode(t, s, strlen(s), ids, 5, &full);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(full, 11);
    CHECK_EQ_INT(ids[4], 102);
    CHECK_EQ_INT(ids[3], tok_id(t, "sat"));
    n = tok_encode(t, s, strlen(s), ids, 2, NULL);
    CHECK(n == 2 && ids[0] == 101 && ids[1] == 102, "max_len 2 gives [CLS] [SEP]");
    CHECK_EQ_INT(tok_encode(t, s, strlen(s), ids, 1, &full), 0);
    /* invalid UTF-8 reads as U+FFFD and is dropped like HF drops U+FFFD */
    n = tok_encode(t, "ca\xff\xfet", 5, ids, 64, NULL);
    CHECK(n == 3 && ids[1] == tok_id(t, "cat"), "invalid bytes dropped: n=%zu", n);
    CHECK_EQ_STR(tok_token(t, 1996), "the");
    CHECK(tok_token(t, 30522) == NULL && tok_token(t, -1) == NULL, "out of range token");
    CHECK_EQ_INT(tok_pad(t), 0);
    CHECK_EQ_INT(tok_unk(t), 100);
    tok_free(t);
    tok_free(NULL);
}

TEST(bad_vocab)
{
    sy_err err;
    tokenizer *t = tok_load("/nonexistent/vocab.txt", NULL, &err);
    CHECK(t == NULL && err.code == SY_ENOTFOUND, "missing file: %d %s", err.code, err.msg);
    char *dir = check_tmpdir("tok");
    char *p = sy_path_join(dir, "vocab.txt");
    const char v[] = "[PAD]\n[CLS]\n[SEP]\nthe\n";
    sy_write_file_atomic(p, v, sizeof v - 1, NULL);
    t = tok_load(p, NULL, &err);
    CHECK(t == NULL && err.code == SY_EFORMAT && strstr(err.msg, "[UNK]") && strstr(err.msg, p),
          "missing [UNK] named: %s", err.msg);
    /* a minimal vocabulary with CRLF line ends works */
    const char v2[] = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nun\r\n##aff\r\n##able\r\n";
    sy_write_file_atomic(p, v2, sizeof v2 - 1, NULL);
    t = tok_load(p, NULL, &err);
    CHECK(t != NULL, "%s", err.msg);
    if (t) {
        int32_t ids[16];
        size_t n = tok_encode(t, "unaffable xyz", 13, ids, 16, NULL);
        CHECK(n == 6 && ids[1] == 4 && ids[2] == 5 && ids[3] == 6 && ids[4] == 1,
              "un ##aff ##able [UNK]: n=%zu", n);
    }
    tok_free(t);
    free(p);
    check_rmrf(dir);
    free(dir);
}

TEST(hf_parity)
{
    sy_err err;
    if (!check_need(vocab_path())) return;
    tokenizer *unc = tok_load(vocab_path(), &TOK_OPTS_UNCASED, &err);
    tokenizer *cas = tok_load(vocab_path(), &TOK_OPTS_CASED, &err);
    CHECK(unc && cas, "%s", err.msg);
    if (!unc || !cas) return;
    size_t len;
    char *fx = sy_read_file(FIXTURE "hf_ids.tsv", &len, &err);
    CHECK(fx != NULL, "%s", err.msg);
    if (!fx) return;
    const char *names[5] = { "cranfield/corpus.jsonl", "cranfield/queries.jsonl",
                             "cisi/corpus.jsonl", "cisi/queries.jsonl", NULL };
    jfile files[5];
    char path[600];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", check_shared_data(), names[i]);
        CHECK(jfile_load(&files[i], path) == 0, "cannot read %s", path);
    }
    CHECK(jfile_load(&files[4], FIXTURE "hard_cases.jsonl") == 0, "hard cases");
    size_t cap = 1 << 16, checked = 0, bad = 0, lineno = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    size_t per_set[3] = { 0, 0, 0 };
    char *save = NULL;
    for (char *line = strtok_r(fx, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#') continue;
        char *col[6] = { 0 };
        int nc = 0;
        for (char *p = line; nc < 6;) {
            col[nc++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (nc < 5) { CHECK(0, "hf_ids.tsv:%zu: malformed", lineno); continue; }
        int set = !strcmp(col[0], "uncased") ? 0 : !strcmp(col[0], "cased") ? 1 : 2;
        const tokenizer *t = set == 1 ? cas : unc;
        size_t max_len = set == 2 ? 16 : cap;
        char ds[32], kind[32], field[32];
        int parts = sscanf(col[1], "%31[^.].%31[^.].%31s", ds, kind, field);
        if (parts == 2 && !strcmp(ds, "hard_cases")) memcpy(field, kind, sizeof field);
        else if (parts != 3) { CHECK(0, "hf_ids.tsv:%zu: bad source %s", lineno, col[1]); bad++; continue; }
        int fi = !strcmp(ds, "hard_cases") ? 4
               : (strcmp(ds, "cisi") == 0) * 2 + (strcmp(kind, "queries") == 0);
        size_t row = strtoul(col[2], NULL, 10);
        if (row >= files[fi].n || !files[fi].rows[row]) { CHECK(0, "%s line %zu missing", col[1], row); bad++; continue; }
        json_t *v = json_object_get(files[fi].rows[row], field);
        const char *text = json_is_string(v) ? json_string_value(v) : "";
        size_t tlen = json_is_string(v) ? json_string_length(v) : 0;
        size_t n = tok_encode(t, text, tlen, ids, max_len, NULL);
        size_t want_n = strtoul(col[3], NULL, 10);
        uint64_t want_h = strtoull(col[4], NULL, 16);
        checked++;
        per_set[set]++;
        if (n != want_n || fnv64_ids(ids, n) != want_h) {
            if (bad++ < 8) {
                fprintf(stderr, "mismatch %s %s line %zu: n=%zu want %zu\n  text: %.200s\n  ours:",
                        col[0], col[1], row, n, want_n, text);
                for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
                if (nc > 5) fprintf(stderr, "\n  hf:   %.300s", col[5]);
                fprintf(stderr, "\n");
            }
        }
    }
    CHECK(bad == 0, "%zu of %zu texts differ from HF", bad, checked);
    CHECK(per_set[0] > 6000 && per_set[1] > 300 && per_set[2] > 300,
          "fixture covers every set: %zu %zu %zu", per_set[0], per_set[1], per_set[2]);
    printf("# tokenizer parity: %zu texts checked (%zu uncased, %zu cased, %zu truncated), %zu differ\n",
           checked, per_set[0], per_set[1], per_set[2], bad);
    free(ids);
    for (int i = 0; i < 5; i++) jfile_free(&files[i]);
    free(fx);
    tok_free(unc);
    tok_free(cas);
}

int main(void)
{
    RUN(basic);
    RUN(bad_vocab);
    RUN(hf_parity);
    return check_done();
}
