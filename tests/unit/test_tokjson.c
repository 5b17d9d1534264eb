/* test_tokjson: tokenizer.json parity with HF tokenizers (transformers 5,
 * tokenizers 0.23) on tests/fixtures/models/texts.json (hard texts: accents,
 * CJK, emoji, control characters, very long words, empty strings, added
 * tokens in the text) for WordPiece (uncased, cased, full bert-base vocab),
 * byte-level BPE (RoBERTa), Unigram + Metaspace (XLM-R as transformers 5
 * writes it, and with NFKC + Replace), single texts untruncated and truncated
 * to 16, and pairs truncated longest-first (cross-encoder fixtures). */
#include <jansson.h>
#include <stdint.h>

#include "../check.h"
#include "tokenizer.h"
#include "util.h"

#define FX "tests/fixtures/models/"

static json_t *texts;

static int ids_equal(json_t *ref, const int32_t *ids, size_t n)
{
    if (json_array_size(ref) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(ref, i)) != ids[i]) return 0;
    return 1;
}

static void dump(const char *what, json_t *ref, const int32_t *ids, size_t n)
{
    char *r = json_dumps(ref, JSON_COMPACT);
    fprintf(stderr, "  %s ref %s\n  got", what, r);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
    free(r);
}

static void check_folder(const char *dir, const char *refdir)
{
    sy_err err;
    tokenizer *t = tok_load_dir(dir, &err);
    CHECK(t != NULL, "%s: %s", dir, err.msg);
    if (!t) return;
    char path[512];
    snprintf(path, sizeof path, "%s/ids.jsonl", refdir);
    size_t len;
    char *body = sy_read_file(path, &len, &err);
    CHECK(body != NULL, "%s", err.msg);
    if (!body) { tok_free(t); return; }
    char *save = NULL, *line = strtok_r(body, "\n", &save);   /* header line */
    size_t i = 0, bad = 0;
    int32_t ids[4096];
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        json_t *row = json_loads(line, JSON_ALLOW_NUL, NULL);
        const char *tx = json_string_value(json_array_get(texts, i));
        size_t tl = json_string_length(json_array_get(texts, i));
        size_t n = tok_encode(t, tx, tl, ids, 4096, NULL);
        if (!ids_equal(json_object_get(row, "ids"), ids, n)) {
            if (bad++ < 3) { fprintf(stderr, "%s text %zu:\n", dir, i); dump("full", json_object_get(row, "ids"), ids, n); }
        }
        n = tok_encode(t, tx, tl, ids, 16, NULL);
        if (!ids_equal(json_object_get(row, "ids16"), ids, n)) {
            if (bad++ < 3) { fprintf(stderr, "%s text %zu:\n", dir, i); dump("trunc16", json_object_get(row, "ids16"), ids, n); }
        }
        json_decref(row);
    }
    CHECK(i == json_array_size(texts), "%s: %zu reference rows for %zu texts", dir, i, json_array_size(texts));
    CHECK(bad == 0, "%s: %zu of %zu texts differ from HF", dir, bad, i);
    free(body);
    tok_free(t);
}

TEST(wordpiece_json)
{
    check_folder(FX "tok_bert_full", FX "tok_bert_full/ref");
    check_folder(FX "wp_uncased", FX "wp_uncased/ref");
    check_folder(FX "wp_cased_f16/0_Transformer", FX "wp_cased_f16/ref");
}

TEST(bpe_bytelevel) { check_folder(FX "bpe_roberta_bf16", FX "bpe_roberta_bf16/ref"); }

TEST(unigram_metaspace)
{
    check_folder(FX "uni_xlmr", FX "uni_xlmr/ref");
    check_folder(FX "tok_uni_nfkc", FX "tok_uni_nfkc/ref");
    /* SentencePiece nmt_nfkc charsmap (Precompiled normalizer), ids from the tokenizers library */
    check_folder(FX "tok_uni_precompiled", FX "tok_uni_precompiled/ref");
}

static void check_pairs(const char *dir)
{
    char p[512];
    sy_err err;
    tokenizer *t = tok_load_dir(dir, &err);
    CHECK(t != NULL, "%s: %s", dir, err.msg);
    if (!t) return;
    snprintf(p, sizeof p, "%s/ref/pairs.json", dir);
    json_t *pairs = json_load_file(p, 0, NULL);
    snprintf(p, sizeof p, "%s/ref/pair_ids.jsonl", dir);
    char *body = sy_read_file(p, NULL, &err);
    CHECK(pairs && body, "%s: fixture missing", dir);
    char *save = NULL;
    size_t i = 0, bad = 0;
    for (char *line = body ? strtok_r(body, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save), i++) {
        json_t *row = json_loads(line, 0, NULL), *pr = json_array_get(pairs, i);
        const char *q = json_string_value(json_object_get(pr, "query")), *ps = json_string_value(json_object_get(pr, "passage"));
        int32_t ids[64], types[64];
        if (!*ps) { json_decref(row); continue; }   /* tokenizer(q, "") is a single text in HF */
        size_t n = tok_encode_pair(t, q, strlen(q), ps, strlen(ps), ids, types, 40);
        int ok = ids_equal(json_object_get(row, "ids"), ids, n);
        json_t *ty = json_object_get(row, "types");
        if (ok && json_is_array(ty)) ok = ids_equal(ty, types, n);
        if (!ok && bad++ < 3) { fprintf(stderr, "%s pair %zu:\n", dir, i); dump("pair", json_object_get(row, "ids"), ids, n); }
        json_decref(row);
    }
    CHECK(i > 10 && bad == 0, "%s: %zu of %zu pairs differ", dir, bad, i);
    free(body);
    json_decref(pairs);
    tok_free(t);
}

TEST(pairs_longest_first)
{
    check_pairs(FX "ce_bert");
    check_pairs(FX "ce_xlmr");
}

TEST(errors)
{
    sy_err err;
    char dir[] = "/tmp/syneg_tokjson_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    tokenizer *t = tok_load_dir(dir, &err);
    CHECK(!t && strstr(err.msg, "tokenizer.json") && strstr(err.msg, "hint"), "empty folder: %s", err.msg);
    char *p = sy_path_join(dir, "tokenizer.json");
    const char *bad = "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}";
    sy_write_file_atomic(p, bad, strlen(bad), NULL);
    t = tok_load_dir(dir, &err);
    CHECK(!t && strstr(err.msg, "WordLevel") && strstr(err.msg, p), "unsupported model: %s", err.msg);
    const char *bad2 = "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0}},"
                       " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"x\"}}}";
    sy_write_file_atomic(p, bad2, strlen(bad2), NULL);
    t = tok_load_dir(dir, &err);
    CHECK(!t && strstr(err.msg, "Split"), "unsupported pre-tokenizer named: %s", err.msg);
    const char *bad3 = "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0}},"
                       " \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"[a-z]+\"}, \"content\": \"\"}}";
    sy_write_file_atomic(p, bad3, strlen(bad3), NULL);
    t = tok_load_dir(dir, &err);
    CHECK(!t && strstr(err.msg, "[a-z]+"), "unsupported regex named: %s", err.msg);
    unlink(p);
    free(p);
    rmdir(dir);
}

int main(void)
{
    texts = json_load_file(FX "texts.json", JSON_ALLOW_NUL, NULL);
    CHECK(json_is_array(texts), "texts.json");
    RUN(wordpiece_json);
    RUN(bpe_bytelevel);
    RUN(unigram_metaspace);
    RUN(pairs_longest_first);
    RUN(errors);
    json_decref(texts);
    return check_done();
}
