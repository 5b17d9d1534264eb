/* syneg embed: encode texts with a BERT-family model into a .npy matrix. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/encoder.h"
#include "../engine/kernels.h"
#include "../engine/npy.h"
#include "../engine/settings.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_embed_help[] =
    "usage: syneg embed --model DIR [options] INPUT.jsonl -o OUT.npy\n"
    "\n"
    "Encode every line of INPUT with the model in DIR (a Hugging Face or\n"
    "sentence-transformers folder of a BERT, RoBERTa or XLM-RoBERTa encoder:\n"
    "config.json, tokenizer.json or vocab.txt, model.safetensors or shards, F32/F16/BF16;\n"
    "modules.json's Pooling, Dense and Normalize are applied) and write a NumPy\n"
    "float32 matrix [n, dim] in input order, as SentenceTransformer.encode gives.\n"
    "INPUT holds one JSON object per line: {\"text\": ...}, or a BEIR corpus line\n"
    "({\"_id\", \"title\", \"text\"}: embedded as \"TITLE TEXT\" when the title is not\n"
    "empty) or a BEIR queries line.\n"
    "  -m, --model DIR          model folder (required)\n"
    "  -o, --output OUT.npy     where to write the matrix (required)\n"
    "      --pooling MODE       cls, mean, max, mean_sqrt_len, weightedmean or lasttoken\n"
    "                           (default: the folder's Pooling module, else cls)\n"
    "      --normalize          L2-normalise the vectors (default: on when the folder's\n"
    "                           modules.json has a Normalize module)\n"
    "      --no-normalize       do not normalise\n"
    "      --max-len N          truncate to N tokens, [CLS] and [SEP] included (default:\n"
    "                           sentence_bert_config.json max_seq_length, else tokenizer_config.json\n"
    "                           model_max_length; at most 512)\n"
    "      --as query|passage   which prefix applies (default: query when INPUT's file\n"
    "                           name starts with \"queries\", else passage); the prefixes default\n"
    "                           to config_sentence_transformers.json's prompts \"query\" and\n"
    "                           \"passage\" (or \"document\")\n"
    "      --prompt NAME        put that prompt of config_sentence_transformers.json first instead\n"
    "      --query-prefix STR   text put before each query, e.g. \"query: \" for e5\n"
    "      --passage-prefix STR text put before each passage, e.g. \"passage: \" for e5\n"
    "      --threads N          threads (default: all cores)\n"
    "      --precision P        matrix products in fp32, bf16 (AVX-512 BF16, fp32 sums; vectors\n"
    "                           within cosine 0.9995 of fp32, ~1.7x faster) or auto (bf16 where the\n"
    "                           CPU has avx512_bf16); bf16 on a CPU without it is an error\n"
    "                           (default: setting encoder.precision, $SYNEG_PRECISION, else fp32)\n"
    "      --shard I/N          encode only share I (0-based) of N of the lines (a contiguous\n"
    "                           slice); the N outputs, concatenated in shard order, are the\n"
    "                           matrix of the whole INPUT\n"
    "  -q, --quiet              no progress bar\n"
    "Exit status: 0 ok, 1 error (bad input names file and line), 2 usage.\n";

typedef struct {
    int quiet;
} prog_state;

static int on_progress(void *ctx, size_t done, size_t total)
{
    prog_state *p = ctx;
    if (!p->quiet) cli_progress("embedding", (double)done, (double)total, NULL);
    return 0;
}

int cmd_embed(int argc, char **argv)
{
    enum { O_POOL = 256, O_NORM, O_NONORM, O_MAXLEN, O_AS, O_QP, O_PP, O_THREADS, O_SHARD, O_PROMPT, O_PREC };
    static const struct option opts[] = {
        { "model", required_argument, 0, 'm' }, { "output", required_argument, 0, 'o' },
        { "pooling", required_argument, 0, O_POOL }, { "normalize", no_argument, 0, O_NORM },
        { "no-normalize", no_argument, 0, O_NONORM }, { "max-len", required_argument, 0, O_MAXLEN },
        { "as", required_argument, 0, O_AS }, { "query-prefix", required_argument, 0, O_QP },
        { "passage-prefix", required_argument, 0, O_PP }, { "threads", required_argument, 0, O_THREADS },
        { "prompt", required_argument, 0, O_PROMPT }, { "precision", required_argument, 0, O_PREC },
        { "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' },
        { "shard", required_argument, 0, O_SHARD }, { 0, 0, 0, 0 },
    };
    const char *model = NULL, *out = NULL, *pooling = NULL, *as = NULL, *qp = NULL, *pp = NULL, *prompt = NULL;
    const char *precision = NULL;
    enc_pooling pool_mode = ENC_POOL_CLS;
    int normalize = -1, quiet = 0, c;
    long max_len = 0, threads = 0;
    unsigned shard_i = 0, shard_n = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(cmd_embed_help, stdout); return EXIT_OK;
        case O_POOL:
            if (enc_pool_parse(optarg, &pool_mode))
                return cli_usage("embed", "--pooling takes cls, mean, max, mean_sqrt_len, weightedmean or "
                                 "lasttoken, not '%s'", optarg);
            pooling = optarg;
            break;
        case O_PROMPT: prompt = optarg; break;
        case O_PREC: precision = optarg; break;
        case O_NORM: normalize = 1; break;
        case O_NONORM: normalize = 0; break;
        case O_MAXLEN:
            if (cli_parse_long(optarg, 2, 512, &max_len)) return cli_usage("embed", "--max-len takes 2..512");
            break;
        case O_AS:
            if (strcmp(optarg, "query") && strcmp(optarg, "passage"))
                return cli_usage("embed", "--as takes query or passage, not '%s'", optarg);
            as = optarg;
            break;
        case O_QP: qp = optarg; break;
        case O_PP: pp = optarg; break;
        case O_THREADS:
            if (cli_parse_long(optarg, 1, 256, &threads)) return cli_usage("embed", "--threads takes 1..256");
            break;
        case O_SHARD:
            if (cli_parse_shard(optarg, &shard_i, &shard_n) < 0)
                return cli_usage("embed", "--shard '%s': expected I/N with 0 <= I < N, e.g. 3/16", optarg);
            break;
        default:
            return cli_usage("embed", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!model) return cli_usage("embed", "--model DIR is required");
    if (!out) return cli_usage("embed", "-o OUT.npy is required");
    if (optind != argc - 1) return cli_usage("embed", "expected exactly one INPUT.jsonl");
    const char *input = argv[optind];
    kern_set_threads((int)threads);

    sy_err err = { 0 };
    enc_precision prec;
    const char *prec_from = "--precision";
    if (!precision) {   /* the setting's environment variable, else its default */
        precision = settings_str(NULL, "encoder.precision");
        prec_from = "SYNEG_PRECISION (setting encoder.precision)";
    }
    if (enc_precision_parse(precision, &prec, &err)) return cli_usage("embed", "%s: %s", prec_from, err.msg);
    enc_model *m = enc_load(model, &err);
    if (!m) return cli_fail(&err);
    if (enc_set_precision(m, prec, &err)) { enc_free(m); return cli_fail(&err); }
    if (pooling) { m->pooling = pool_mode; m->npool_concat = 0; }
    if (normalize >= 0) m->normalize = normalize;
    if (max_len > 0) {
        int cap = m->cfg.max_position - m->cfg.pos_offset;
        if (cap > 512) cap = 512;
        m->max_len = (int)max_len < cap ? (int)max_len : cap;
    }
    const char *prompt_text = NULL;
    if (prompt && !(prompt_text = enc_prompt(m, prompt))) {
        sy_buf names = { 0 };
        for (int i = 0; i < m->nprompts; i++) sy_buf_printf(&names, "%s%s", i ? ", " : "", m->prompt_names[i]);
        int r = cli_usage("embed", "--prompt %s: %s/config_sentence_transformers.json has %s%s", prompt, model,
                          m->nprompts ? "only these prompts: " : "no prompts", names.data ? names.data : "");
        sy_buf_free(&names);
        enc_free(m);
        return r;
    }
    if (qp) { free(m->query_prefix); m->query_prefix = strdup(qp); }
    if (pp) { free(m->passage_prefix); m->passage_prefix = strdup(pp); }
    const char *base = strrchr(input, '/') ? strrchr(input, '/') + 1 : input;
    int is_query = as ? !strcmp(as, "query") : strncmp(base, "queries", 7) == 0;

    size_t len;
    char *f = sy_read_file(input, &len, &err);
    if (!f) { enc_free(m); return cli_fail(&err); }
    size_t cap = 1024, n = 0, lineno = 0;
    char **texts = malloc(cap * sizeof *texts);
    int rc = EXIT_OK;
    char *p = f;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *l = p;
        p = nl ? nl + 1 : NULL;
        while (*l == ' ' || *l == '\t' || *l == '\r') l++;
        if (!*l) continue;
        json_error_t je;
        json_t *j = json_loads(l, 0, &je);
        json_t *t = json_object_get(j, "text");
        if (!json_is_string(t)) {
            rc = cli_error("%s:%zu: %s; each line must be a JSON object with a \"text\" string", input, lineno,
                           j ? "no \"text\" string" : je.text);
            json_decref(j);
            break;
        }
        const char *title = json_string_value(json_object_get(j, "title"));
        if (n == cap) texts = realloc(texts, (cap *= 2) * sizeof *texts);
        texts[n++] = title && *title ? sy_strdup_printf("%s %s", title, json_string_value(t))
                                     : strdup(json_string_value(t));
        json_decref(j);
    }
    free(f);
    /* --shard I/N: the contiguous slice [I*n/N, (I+1)*n/N) of the lines */
    size_t lo = n * shard_i / shard_n, hi = n * (shard_i + 1) / shard_n, total = n;
    char **all = texts;
    texts += lo;
    n = hi - lo;
    float *vec = NULL;
    if (rc == EXIT_OK) {
        int dim = enc_dim(m);
        vec = malloc((n ? n : 1) * (size_t)dim * sizeof *vec);
        prog_state ps = { quiet };
        double t0 = sy_now();
        if (!vec) rc = cli_error("out of memory for %zu x %d floats", n, dim);
        else if (prompt ? enc_embed_prefix(m, (const char *const *)texts, n, prompt_text, vec, on_progress, &ps, &err)
                        : enc_embed(m, (const char *const *)texts, n, is_query, vec, on_progress, &ps, &err))
            rc = cli_fail(&err);
        else if (npy_write_f32(out, vec, n, (size_t)dim, &err))
            rc = cli_fail(&err);
        if (!quiet) cli_progress_end();
        if (rc == EXIT_OK && !quiet && shard_n > 1)
            fprintf(stderr, "syneg embed: shard %u/%u: lines %zu..%zu of %zu\n", shard_i, shard_n, lo + 1, hi, total);
        if (rc == EXIT_OK && !quiet)
            fprintf(stderr, "syneg embed: %zu %s texts -> %s [%zu, %d] (%s pooling%s%s, max-len %d) in %.1fs\n",
                    n, prompt ? prompt : is_query ? "query" : "passage", out, n, dim,
                    m->npool_concat ? "concatenated" : enc_pool_name(m->pooling), m->ndense ? ", dense" : "",
                    m->normalize ? ", normalized" : "", m->max_len, sy_now() - t0);
    }
    for (size_t i = 0; i < total; i++) free(all[i]);
    free(all);
    free(vec);
    enc_free(m);
    return rc;
}
