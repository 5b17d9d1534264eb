/* syneg index: build the session's BM25 index. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/bm25.h"
#include "../engine/retriever.h"
#include "../engine/session.h"
#include "../engine/settings.h"
#include "../engine/util.h"
#include "cli.h"

const char cmd_index_help[] =
    "usage: syneg index SESSION [--k1 X] [--b Y] [--threads N]\n"
    "\n"
    "Build (or rebuild) the BM25 index of SESSION's corpus into\n"
    "SESSION/cache/bm25/index.bin: title and text analyzed like Lucene's English\n"
    "analyzer (Unicode words, possessives dropped, lower case, English stop words,\n"
    "Porter stems).  The index does not depend on k1 and b; search, eval and mine\n"
    "read them from the session settings bm25.k1 / bm25.b (defaults 0.9 / 0.4) and\n"
    "build the index themselves when it is missing or the corpus changed.\n"
    "  --k1 X       save bm25.k1 = X in the session settings (X >= 0)\n"
    "  --b Y        save bm25.b = Y in the session settings (0 <= Y <= 1)\n"
    "  --threads N  analysis threads (default 2)\n";

static void progress(void *ctx, const char *what, size_t done, size_t total)
{
    (void)ctx;
    cli_progress(what, (double)done, (double)total, NULL);
}

int cmd_index(int argc, char **argv)
{
    static const struct option opts[] = {
        {"k1", required_argument, 0, 'k'}, {"b", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {0, 0, 0, 0}};
    double k1 = -1, b = -1;
    long threads = 2;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
        case 'b': {
            sy_err e = {0};
            json_t *v = settings_parse(c == 'k' ? "bm25.k1" : "bm25.b", optarg, &e);
            if (!v) return cli_usage("index", "--%s: %s", c == 'k' ? "k1" : "b", e.msg);
            *(c == 'k' ? &k1 : &b) = json_number_value(v);
            json_decref(v);
            break;
        }
        case 't':
            if (cli_parse_long(optarg, 1, 32, &threads) < 0)
                return cli_usage("index", "--threads '%s': expected 1..32", optarg);
            break;
        default: return cli_usage("index", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage("index", "expected exactly one SESSION folder");
    sy_err err = {0};
    session *s = session_open(argv[optind], SESSION_WRITE, &err);
    if (!s) return cli_fail(&err);
    int rc = EXIT_ERR;
    if ((k1 >= 0 || b >= 0) && session_readonly(s)) {
        cli_error("%s is open in another syneg (pid %ld); close it to change bm25.k1/bm25.b",
                  session_dir(s), session_lock_holder(s));
        goto out;
    }
    if (k1 >= 0 && session_set(s, "bm25.k1", json_real(k1), &err) < 0) { rc = cli_fail(&err); goto out; }
    if (b >= 0 && session_set(s, "bm25.b", json_real(b), &err) < 0) { rc = cli_fail(&err); goto out; }
    retriever_opts ro = {.kind = "bm25", .nthreads = (int)threads, .progress = progress};
    double t0 = sy_now();
    if (retriever_bm25_build(s, &ro, &err) < 0) {
        cli_progress_end();
        rc = cli_fail(&err);
        goto out;
    }
    cli_progress_end();
    double secs = sy_now() - t0;
    char *path = retriever_bm25_path(s);
    bm25_index *ix = bm25_open(path, &err);
    if (!ix) { free(path); rc = cli_fail(&err); goto out; }
    printf("indexed %u documents (%u non-empty) in %.2fs (%.0f docs/s): %u terms, %llu postings, "
           "avgdl %.2f, %.1f MiB at %s\n",
           bm25_ndocs(ix), bm25_doc_count(ix), secs, secs > 0 ? bm25_ndocs(ix) / secs : 0.0, bm25_nterms(ix),
           (unsigned long long)bm25_npostings(ix), bm25_avgdl(ix), bm25_file_size(ix) / 1048576.0, path);
    printf("bm25.k1 = %g, bm25.b = %g\n", settings_num(s, "bm25.k1"), settings_num(s, "bm25.b"));
    bm25_free(ix);
    free(path);
    rc = EXIT_OK;
out:
    cli_session_close(s);
    return rc;
}
