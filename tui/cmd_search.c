/* syneg search: top-k documents for one query. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/retriever.h"
#include "../engine/session.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_search_help[] =
    "usage: syneg search SESSION [-k N] [--retriever bm25|dense] [--model DIR]\n"
    "                    [--storage fp32|bf16|int8] [--precision P] [--json] QUERY...\n"
    "\n"
    "Print the top N documents of SESSION's corpus for QUERY (the words are joined\n"
    "with spaces): rank, score, document id and the start of its title/text.\n"
    "BM25 builds the index first when it is missing (see 'syneg index').\n"
    "  -k, --k N            number of hits (default 10)\n"
    "  --retriever NAME     bm25 (default) or dense\n"
    "  --model DIR          model folder for --retriever dense\n"
    "  --storage TYPE       dense vectors scanned as fp32, bf16 or int8 (default:\n"
    "                       setting dense.storage); bf16/int8 scan a copy made once\n"
    "                       beside the fp32 cache and rescore their best 4k in fp32\n"
    "  --precision P        the encoder's matrix products for --retriever dense: fp32,\n"
    "                       bf16 (AVX-512 BF16, fp32 sums; vectors cached apart) or\n"
    "                       auto (default: setting encoder.precision, $SYNEG_PRECISION,\n"
    "                       else fp32); bf16 on a CPU without avx512_bf16 exits 2\n"
    "  --json               one JSON object: {\"query\", \"hits\": [{\"rank\",\"id\",\"score\"}]}\n";

static void progress(void *ctx, const char *what, size_t done, size_t total)
{
    (void)ctx;
    cli_progress(what, (double)done, (double)total, NULL);
}

static void print_snippet(const char *title, const char *text)
{
    char buf[81];
    size_t n = 0;
    for (const char *p = *title ? title : text; *p && n < 76; p++) buf[n++] = (*p == '\n' || *p == '\t') ? ' ' : *p;
    while (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80) n--;   /* do not cut a UTF-8 sequence */
    if (n > 0 && (unsigned char)buf[n - 1] >= 0xC0) n--;
    buf[n] = '\0';
    printf("    %s\n", buf);
}

int cmd_search(int argc, char **argv)
{
    static const struct option opts[] = {
        {"k", required_argument, 0, 'k'}, {"retriever", required_argument, 0, 'r'},
        {"model", required_argument, 0, 'm'}, {"json", no_argument, 0, 'j'},
        {"storage", required_argument, 0, 's'}, {"precision", required_argument, 0, 'P'}, {0, 0, 0, 0}};
    long k = 10;
    const char *kind = "bm25", *model = NULL, *storage = NULL, *precision = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_parse_long(optarg, 1, 100000, &k) < 0) return cli_usage("search", "-k '%s': expected 1..100000", optarg);
            break;
        case 'r': kind = optarg; break;
        case 'm': model = optarg; break;
        case 's':
            if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16") && strcmp(optarg, "int8"))
                return cli_usage("search", "--storage '%s': use fp32, bf16 or int8", optarg);
            storage = optarg;
            break;
        case 'P': precision = optarg; break;
        case 'j': json = 1; break;
        default: return cli_usage("search", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (strcmp(kind, "bm25") && strcmp(kind, "dense"))
        return cli_usage("search", "--retriever '%s': use bm25 or dense", kind);
    if (!strcmp(kind, "dense") && !model) return cli_usage("search", "--retriever dense needs --model DIR");
    if (storage && strcmp(kind, "dense")) return cli_usage("search", "--storage is for --retriever dense");
    if (precision && strcmp(kind, "dense")) return cli_usage("search", "--precision is for --retriever dense");
    if (argc - optind < 2) return cli_usage("search", "expected SESSION and a QUERY");
    sy_buf q = {0};
    for (int i = optind + 1; i < argc; i++) {
        if (i > optind + 1) sy_buf_puts(&q, " ");
        sy_buf_puts(&q, argv[i]);
    }
    sy_err err = {0};
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) { sy_buf_free(&q); return cli_fail(&err); }
    int rc = EXIT_ERR;
    uint32_t *docs = malloc((size_t)k * sizeof *docs);
    float *scores = malloc((size_t)k * sizeof *scores);
    corpus *co = session_corpus_lazy(s, &err);   /* reads what it prints; checked before it prints */
    if (co) cli_notice(s);
    retriever_opts ro = {.kind = kind, .model_dir = model, .storage = storage, .nthreads = 1, .progress = progress};
    retriever *r = NULL;
    if (co && !strcmp(kind, "dense") && (rc = cli_precision("search", s, precision, &ro.precision))) goto out;
    rc = EXIT_ERR;
    r = co ? retriever_open(s, &ro, &err) : NULL;
    cli_progress_end();
    if (!r) { rc = cli_fail(&err); goto out; }
    if (retriever_notice(r)) fprintf(stderr, "syneg: %s\n", retriever_notice(r));
    const char *qs[1] = {q.data ? q.data : ""};
    if (retriever_search(r, qs, 1, (size_t)k, docs, scores, &err) < 0) { rc = cli_fail(&err); goto out; }
    for (long i = 0; i < k && docs[i] != UINT32_MAX; i++)   /* touch what is printed, then ask */
        (void)corpus_doc_text_len(co, docs[i]), (void)corpus_doc_title(co, docs[i]), (void)corpus_doc_id(co, docs[i]);
    if (session_check(s, &err) < 0) { rc = cli_fail(&err); goto out; }
    if (json) {
        printf("{\"query\": ");
        json_t *js = json_string(qs[0]);
        char *t = json_dumps(js, JSON_ENCODE_ANY);
        printf("%s, \"hits\": [", t ? t : "\"\"");
        free(t);
        json_decref(js);
        for (long i = 0; i < k && docs[i] != UINT32_MAX; i++) {
            js = json_string(corpus_doc_id(co, docs[i]));
            t = json_dumps(js, JSON_ENCODE_ANY);
            printf("%s{\"rank\": %ld, \"id\": %s, \"score\": %.6f}", i ? ", " : "", i + 1, t, (double)scores[i]);
            free(t);
            json_decref(js);
        }
        printf("]}\n");
    } else {
        long n = 0;
        for (long i = 0; i < k && docs[i] != UINT32_MAX; i++, n++) {
            printf("%3ld  %9.4f  %s\n", i + 1, (double)scores[i], corpus_doc_id(co, docs[i]));
            print_snippet(corpus_doc_title(co, docs[i]), corpus_doc_text(co, docs[i]));
        }
        if (!n) printf("no document matches '%s'\n", qs[0]);
    }
    rc = EXIT_OK;
out:
    retriever_free(r);
    free(docs);
    free(scores);
    sy_buf_free(&q);
    cli_session_close(s);
    return rc;
}
