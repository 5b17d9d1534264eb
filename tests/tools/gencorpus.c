/* gencorpus: write a synthetic retrieval data set for benchmarks.
 *
 *   gencorpus [--format beir|msmarco|flag] [--docs N] [--queries Q] [--words W]
 *             [--vocab V] [--seed S] OUTDIR
 *
 * Documents have W words on average drawn from a
 * Zipfian vocabulary of V pseudo-words (rank r -> syllables "ka", "lo", ...;
 * exponent 1.0, alias-table sampling).  Lengths (--lengths): "msmarco"
 * (default) is log-normal with sigma 0.42 and mean W, cut to [1, 6W] --
 * the shape of MS MARCO's passages (mean ~56 words, sd ~24, a long right
 * tail); "uniform" is uniform in [W/2, 3W/2].  Each query is 3-6 words picked from one
 * random target document, which becomes its only relevant document (rel 1);
 * the first 80% of queries go to split "train", the rest to "test" (BEIR) or
 * "dev" (MS MARCO).  Same arguments and seed -> byte-identical output.
 *
 * BEIR:     OUTDIR/corpus.jsonl {"_id":"d<i>","title":..,"text":..},
 *           OUTDIR/queries.jsonl {"_id":"q<i>","text":..}, OUTDIR/qrels/{train,test}.tsv
 * MS MARCO: OUTDIR/collection.tsv (i<TAB>text), OUTDIR/queries.{train,dev}.tsv,
 *           OUTDIR/qrels.{train,dev}.tsv (TREC "qid 0 pid 1").
 * flag:     OUTDIR/train.jsonl, Q lines {"query","pos":[1 passage],"neg":[7 passages]}
 *           drawn from a pool of N passages (so passages repeat across lines,
 *           as in real mined data). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng_state;
static uint64_t rng(void)   /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rng_below(uint64_t n) { return n ? rng() % n : 0; }
static double rng_unit(void) { return (double)(rng() >> 11) * (1.0 / 9007199254740992.0); }

/* words in one document of mean length `mean` (see --lengths) */
static int lognormal_lengths = 1;
#define LOGNORMAL_SIGMA 0.42
static size_t doc_words(size_t mean)
{
    size_t nw;
    if (lognormal_lengths) {
        double u1 = rng_unit(), u2 = rng_unit();
        double z = sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-300)) * cos(6.283185307179586 * u2);
        double mu = log((double)mean) - LOGNORMAL_SIGMA * LOGNORMAL_SIGMA / 2;
        double x = exp(mu + LOGNORMAL_SIGMA * z);
        nw = x > 6.0 * (double)mean ? 6 * mean : (size_t)(x + 0.5);
    } else {
        nw = mean / 2 + rng_below(mean + 1);
    }
    return nw ? nw : 1;
}

/* Vose alias table over Zipf(1.0) ranks. */
static double *alias_p;
static uint32_t *alias_a;
static size_t nvocab;
static char **words;
static size_t *word_len;

static void build_vocab(size_t v)
{
    static const char cons[] = "kltmnprsdbgvzfhjwcxy", vow[] = "aeiou";
    nvocab = v;
    words = malloc(v * sizeof *words);
    word_len = malloc(v * sizeof *word_len);
    for (size_t r = 0; r < v; r++) {
        char buf[32];
        int digits[8], nd = 0;
        size_t x = r;
        do {
            digits[nd++] = (int)(x % 100);
            x /= 100;
        } while (x);
        int l = 0;
        for (int i = nd - 1; i >= 0; i--) {
            buf[l++] = cons[digits[i] / 5];
            buf[l++] = vow[digits[i] % 5];
        }
        buf[l] = '\0';
        words[r] = strdup(buf);
        word_len[r] = (size_t)l;
    }
    double *p = malloc(v * sizeof *p), sum = 0;
    for (size_t r = 0; r < v; r++) sum += p[r] = 1.0 / (double)(r + 1);
    alias_p = malloc(v * sizeof *alias_p);
    alias_a = malloc(v * sizeof *alias_a);
    uint32_t *small = malloc(v * sizeof *small), *large = malloc(v * sizeof *large);
    size_t ns = 0, nl = 0;
    for (size_t r = 0; r < v; r++) {
        p[r] = p[r] / sum * (double)v;
        if (p[r] < 1.0) small[ns++] = (uint32_t)r;
        else large[nl++] = (uint32_t)r;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], g = large[--nl];
        alias_p[s] = p[s];
        alias_a[s] = g;
        p[g] -= 1.0 - p[s];
        if (p[g] < 1.0) small[ns++] = g;
        else large[nl++] = g;
    }
    while (nl) alias_p[large[--nl]] = 1.0;
    while (ns) alias_p[small[--ns]] = 1.0;
    free(p);
    free(small);
    free(large);
}

static uint32_t zipf_word(void)
{
    uint32_t i = (uint32_t)rng_below(nvocab);
    return rng_unit() < alias_p[i] ? i : alias_a[i];
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "gencorpus: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) die("cannot create", path);
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

static void close_out(FILE *f, const char *name)
{
    if (ferror(f) || fclose(f)) die("cannot write", name);
}

typedef struct {
    uint32_t doc, query;
} target;

static int target_cmp(const void *a, const void *b)
{
    const target *x = a, *y = b;
    return x->doc != y->doc ? (x->doc < y->doc ? -1 : 1) : (x->query < y->query ? -1 : x->query > y->query);
}


/* Words of passage i of the flag pool: its own seeded stream, so any passage
 * can be regenerated without keeping the pool in memory. */
static size_t passage(uint64_t seed, size_t i, size_t mean, uint32_t *w)
{
    uint64_t saved = rng_state;
    rng_state = seed * 0x9e3779b97f4a7c15ull ^ (i + 1) * 0xd1b54a32d192ed03ull;
    size_t nw = doc_words(mean);
    for (size_t k = 0; k < nw; k++) w[k] = zipf_word();
    rng_state = saved;
    return nw;
}

static char *put_words(char *p, const uint32_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ' ';
        memcpy(p, words[w[i]], word_len[w[i]]);
        p += word_len[w[i]];
    }
    return p;
}

static int gen_flag(const char *out, size_t npool, size_t nlines, size_t mean, uint64_t seed)
{
    FILE *f = open_out(out, "train.jsonl");
    size_t cap = 64 + mean * 6;
    uint32_t *w = malloc(cap * sizeof *w), q[8];
    char *line = malloc(9 * (cap * 18 + 16) + 256);
    for (size_t l = 0; l < nlines; l++) {
        size_t target = rng_below(npool), nw = passage(seed, target, mean, w), nq = 3 + rng_below(4);
        for (size_t k = 0; k < nq; k++) q[k] = w[rng_below(nw)];
        char *p = line;
        p += sprintf(p, "{\"query\": \"");
        p = put_words(p, q, nq);
        p += sprintf(p, "\", \"pos\": [\"");
        p = put_words(p, w, nw);
        p += sprintf(p, "\"], \"neg\": [");
        for (int k = 0; k < 7; k++) {
            size_t d = rng_below(npool);
            if (d == target) d = (d + 1) % npool;
            p += sprintf(p, "%s\"", k ? ", " : "");
            p = put_words(p, w, passage(seed, d, mean, w));
            *p++ = '"';
        }
        p += sprintf(p, "]}\n");
        fwrite(line, 1, (size_t)(p - line), f);
    }
    close_out(f, "train.jsonl");
    free(w);
    free(line);
    return 0;
}

static const char usage[] =
    "usage: gencorpus [--format beir|msmarco|flag] [--docs N] [--queries Q] [--words W]\n"
    "                 [--lengths msmarco|uniform] [--vocab V] [--seed S] OUTDIR\n"
    "  --format   beir (default), msmarco, or flag (FlagEmbedding train.jsonl: Q lines over a pool of N passages)\n"
    "  --docs     number of documents (default 10000)\n"
    "  --queries  number of queries, each with one relevant document (default 100)\n"
    "  --words    mean words per document (default 55)\n"
    "  --lengths  msmarco (default: log-normal, sd ~0.43 of the mean, long right tail) or uniform (W/2..3W/2)\n"
    "  --vocab    vocabulary size, Zipf-distributed (default 50000)\n"
    "  --seed     random seed (default 1)\n";

int main(int argc, char **argv)
{
    int msmarco = 0;
    size_t ndocs = 10000, nq = 100, mean = 55, vocab = 50000;
    uint64_t seed = 1;
    static const struct option opts[] = {{"format", 1, 0, 'f'}, {"docs", 1, 0, 'n'},  {"queries", 1, 0, 'q'},
                                         {"words", 1, 0, 'w'},  {"vocab", 1, 0, 'v'}, {"seed", 1, 0, 's'}, {"lengths", 1, 0, 'l'},
                                         {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            if (strcmp(optarg, "beir") == 0) msmarco = 0;
            else if (strcmp(optarg, "msmarco") == 0) msmarco = 1;
            else if (strcmp(optarg, "flag") == 0) msmarco = 2;
            else { fprintf(stderr, "gencorpus: --format must be beir, msmarco or flag\n%s", usage); return 2; }
            break;
        case 'n': ndocs = strtoull(optarg, NULL, 10); break;
        case 'q': nq = strtoull(optarg, NULL, 10); break;
        case 'w': mean = strtoull(optarg, NULL, 10); break;
        case 'v': vocab = strtoull(optarg, NULL, 10); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'l':
            if (strcmp(optarg, "msmarco") == 0) lognormal_lengths = 1;
            else if (strcmp(optarg, "uniform") == 0) lognormal_lengths = 0;
            else { fprintf(stderr, "gencorpus: --lengths must be msmarco or uniform\n%s", usage); return 2; }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc - 1 || !ndocs || !mean || !vocab || ndocs > UINT32_MAX || nq > UINT32_MAX) {
        fputs(usage, stderr);
        return 2;
    }
    const char *out = argv[optind];
    if (mkdir(out, 0755) < 0 && errno != EEXIST) die("cannot create", out);
    rng_state = seed;
    build_vocab(vocab);
    if (msmarco == 2) return gen_flag(out, ndocs, nq, mean, seed);

    target *tg = malloc((nq ? nq : 1) * sizeof *tg);
    for (size_t q = 0; q < nq; q++) tg[q] = (target){(uint32_t)rng_below(ndocs), (uint32_t)q};
    qsort(tg, nq, sizeof *tg, target_cmp);
    char **qtext = calloc(nq ? nq : 1, sizeof *qtext);

    FILE *fc = open_out(out, msmarco ? "collection.tsv" : "corpus.jsonl");
    size_t cap = 64 + mean * 6, *doc = malloc(cap * 2 * sizeof *doc), ti = 0;
    char *line = malloc(cap * 2 * 40 + 256);
    for (size_t d = 0; d < ndocs; d++) {
        size_t nw = doc_words(mean), l = 0;
        for (size_t i = 0; i < nw; i++) doc[i] = zipf_word();
        if (msmarco) {
            l = (size_t)sprintf(line, "%zu\t", d);
        } else {
            l = (size_t)sprintf(line, "{\"_id\": \"d%zu\", \"title\": \"", d);
            size_t nt = 2 + rng_below(4);
            for (size_t i = 0; i < nt; i++) {
                uint32_t w = zipf_word();
                if (i) line[l++] = ' ';
                memcpy(line + l, words[w], word_len[w]);
                l += word_len[w];
            }
            memcpy(line + l, "\", \"text\": \"", 12);
            l += 12;
        }
        for (size_t i = 0; i < nw; i++) {
            if (i) line[l++] = ' ';
            memcpy(line + l, words[doc[i]], word_len[doc[i]]);
            l += word_len[doc[i]];
        }
        if (!msmarco) {
            memcpy(line + l, "\"}", 2);
            l += 2;
        }
        line[l++] = '\n';
        fwrite(line, 1, l, fc);
        for (; ti < nq && tg[ti].doc == d; ti++) {
            size_t k = 3 + rng_below(4), ql = 0;
            char *qt = malloc(k * 24 + 1);
            for (size_t i = 0; i < k; i++) {
                size_t w = doc[rng_below(nw)];
                if (i) qt[ql++] = ' ';
                memcpy(qt + ql, words[w], word_len[w]);
                ql += word_len[w];
            }
            qt[ql] = '\0';
            qtext[tg[ti].query] = qt;
        }
    }
    close_out(fc, "corpus");
    free(line);
    free(doc);

    /* queries and qrels; doc of query q: look it up in the sorted targets */
    uint32_t *qdoc = malloc((nq ? nq : 1) * sizeof *qdoc);
    for (size_t i = 0; i < nq; i++) qdoc[tg[i].query] = tg[i].doc;
    size_t ntrain = nq * 8 / 10;
    if (msmarco) {
        FILE *f[2] = {open_out(out, "queries.train.tsv"), open_out(out, "queries.dev.tsv")};
        FILE *r[2] = {open_out(out, "qrels.train.tsv"), open_out(out, "qrels.dev.tsv")};
        for (size_t q = 0; q < nq; q++) {
            int s = q >= ntrain;
            fprintf(f[s], "%zu\t%s\n", q, qtext[q]);
            fprintf(r[s], "%zu\t0\t%u\t1\n", q, qdoc[q]);
        }
        for (int s = 0; s < 2; s++) {
            close_out(f[s], "queries");
            close_out(r[s], "qrels");
        }
    } else {
        FILE *f = open_out(out, "queries.jsonl");
        char qdir[4096];
        snprintf(qdir, sizeof qdir, "%s/qrels", out);
        if (mkdir(qdir, 0755) < 0 && errno != EEXIST) die("cannot create", qdir);
        FILE *r[2] = {open_out(qdir, "train.tsv"), open_out(qdir, "test.tsv")};
        for (int s = 0; s < 2; s++) fputs("query-id\tcorpus-id\tscore\n", r[s]);
        for (size_t q = 0; q < nq; q++) {
            fprintf(f, "{\"_id\": \"q%zu\", \"text\": \"%s\"}\n", q, qtext[q]);
            fprintf(r[q >= ntrain], "q%zu\td%u\t1\n", q, qdoc[q]);
        }
        close_out(f, "queries");
        for (int s = 0; s < 2; s++) close_out(r[s], "qrels");
    }
    for (size_t q = 0; q < nq; q++) free(qtext[q]);
    free(qtext);
    free(qdoc);
    free(tg);
    for (size_t r = 0; r < nvocab; r++) free(words[r]);
    free(words);
    free(word_len);
    free(alias_p);
    free(alias_a);
    return 0;
}
