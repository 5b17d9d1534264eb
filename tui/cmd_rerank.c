/* syneg rerank: score (query, passage) pairs with a cross-encoder into a .npy vector. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/crossenc.h"
#include "../engine/kernels.h"
#include "../engine/npy.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_rerank_help[] =
    "usage: syneg rerank --model DIR PAIRS.jsonl -o OUT.npy [--sigmoid]\n"
    "\n"
    "Score every (query, passage) pair of PAIRS with the cross-encoder in DIR (a\n"
    "BertForSequenceClassification or (XLM-)RobertaForSequenceClassification folder\n"
    "with one label: config.json, tokenizer.json or vocab.txt, model.safetensors or\n"
    "shards) and write a NumPy float32 vector [n] in input order: the raw logits, as\n"
    "transformers gives them. Pairs use the tokenizer's pair template and are\n"
    "truncated longest-first to its model_max_length (at most 512), as\n"
    "sentence-transformers' CrossEncoder does.\n"
    "PAIRS holds one JSON object per line: {\"query\": ..., \"passage\": ...}.\n"
    "  -m, --model DIR          cross-encoder folder (required)\n"
    "  -o, --output OUT.npy     where to write the scores (required)\n"
    "      --sigmoid            write 1 / (1 + exp(-logit)), the score CrossEncoder.predict\n"
    "                           reports for a one-label model\n"
    "      --threads N          threads (default: all cores)\n"
    "  -q, --quiet              no summary line\n"
    "Exit status: 0 ok, 1 error (a bad line names file and line; nothing is written),\n"
    "2 usage.\n";

int cmd_rerank(int argc, char **argv)
{
    enum { O_SIGMOID = 256, O_THREADS };
    static const struct option opts[] = {
        { "model", required_argument, 0, 'm' }, { "output", required_argument, 0, 'o' },
        { "sigmoid", no_argument, 0, O_SIGMOID }, { "threads", required_argument, 0, O_THREADS },
        { "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *model = NULL, *out = NULL;
    int sigmoid = 0, quiet = 0, c;
    long threads = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(cmd_rerank_help, stdout); return EXIT_OK;
        case O_SIGMOID: sigmoid = 1; break;
        case O_THREADS:
            if (cli_parse_long(optarg, 1, 256, &threads)) return cli_usage("rerank", "--threads takes 1..256");
            break;
        default:
            return cli_usage("rerank", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!model) return cli_usage("rerank", "--model DIR is required");
    if (!out) return cli_usage("rerank", "-o OUT.npy is required");
    if (optind != argc - 1) return cli_usage("rerank", "expected exactly one PAIRS.jsonl");
    const char *input = argv[optind];
    kern_set_threads((int)threads);

    /* read every pair first: a bad line fails before the model is loaded */
    sy_err err = { 0 };
    size_t len;
    char *f = sy_read_file(input, &len, &err);
    if (!f) return cli_fail(&err);
    size_t cap = 256, n = 0, lineno = 0;
    char **q = malloc(cap * sizeof *q), **p = malloc(cap * sizeof *p);
    int rc = EXIT_OK;
    char *s = f;
    while (s && *s && rc == EXIT_OK) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *l = s;
        s = nl ? nl + 1 : NULL;
        while (*l == ' ' || *l == '\t' || *l == '\r') l++;
        if (!*l) continue;
        json_error_t je;
        json_t *j = json_loads(l, 0, &je);
        json_t *jq = json_object_get(j, "query"), *jp = json_object_get(j, "passage");
        if (!json_is_string(jq) || !json_is_string(jp)) {
            rc = cli_error("%s:%zu: %s; each line must be {\"query\": \"...\", \"passage\": \"...\"}", input, lineno,
                           !j ? je.text : !json_is_string(jq) ? "no \"query\" string" : "no \"passage\" string");
        } else {
            if (n == cap) {
                cap *= 2;
                q = realloc(q, cap * sizeof *q);
                p = realloc(p, cap * sizeof *p);
            }
            q[n] = strdup(json_string_value(jq));
            p[n] = strdup(json_string_value(jp));
            n++;
        }
        json_decref(j);
    }
    free(f);
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    crossenc *ce = NULL;
    double t0 = sy_now();
    if (rc == EXIT_OK) {
        if (!scores) rc = cli_error("out of memory for %zu scores", n);
        else if (!(ce = crossenc_load(model, &err))) rc = cli_fail(&err);
        else if (crossenc_score(ce, (const char *const *)q, (const char *const *)p, n, scores, &err)) rc = cli_fail(&err);
    }
    if (rc == EXIT_OK) {
        if (sigmoid)
            for (size_t i = 0; i < n; i++) scores[i] = 1.0f / (1.0f + expf(-scores[i]));
        if (npy_write_f32_vec(out, scores, n, &err)) rc = cli_fail(&err);
        else if (!quiet)
            fprintf(stderr, "syneg rerank: %zu pairs -> %s [%zu] (%s) in %.1fs\n", n, out, n,
                    sigmoid ? "sigmoid" : "logits", sy_now() - t0);
    }
    crossenc_free(ce);
    for (size_t i = 0; i < n; i++) { free(q[i]); free(p[i]); }
    free(q);
    free(p);
    free(scores);
    return rc;
}
