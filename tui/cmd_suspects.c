/* syneg suspects: the review queue of suspected false negatives, most likely
 * first (the order of neg_store_ranked, which the workbench uses too). */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/negstore.h"
#include "../engine/session.h"
#include "cli.h"

const char cmd_suspects_help[] =
    "usage: syneg suspects SESSION [--limit N] [--all] [--json]\n"
    "\n"
    "List the suspected false negatives, most likely first: the queue a person\n"
    "reviews.  Each line: position, query, passage, the false-negative likelihood\n"
    "(0..1; '-' when none was computed), the source, and the signals behind it\n"
    "(from mining: prel = score between the list's floor and the positive's,\n"
    "list = place in the query's score range, posnear = similarity to the nearest\n"
    "known positive, ...; from judges: their verdicts).\n"
    "  --limit N   list the first N (default 50; 0: all)\n"
    "  --all       every row that has a likelihood, not only the flagged suspects\n"
    "  --json      one JSON array: {position, query, passage, likelihood, suspect,\n"
    "              source, rank, score, signals, judge}\n";

/* prov "fn" (mining signals) and "judge" (verdicts), borrowed from root */
static void prov_parts(json_t *root, json_t **fn, json_t **judge)
{
    *fn = root ? json_object_get(root, "fn") : NULL;
    *judge = root ? json_object_get(root, "judge") : NULL;
}

static void print_signals(json_t *fn, json_t *judge)
{
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(fn, k, v) {
        if (!strcmp(k, "likelihood") || !json_is_number(v)) continue;
        printf("%s%s=%.2f", first ? "" : " ", k, json_number_value(v));
        first = 0;
    }
    json_object_foreach(judge, k, v) {
        json_t *verdict = json_is_object(v) ? json_object_get(v, "verdict") : NULL;
        if (json_is_string(verdict)) {
            printf("%s%s:%s", first ? "" : " ", k, json_string_value(verdict));
            first = 0;
        }
    }
}

int cmd_suspects(int argc, char **argv)
{
    static const struct option opts[] = {{"limit", required_argument, 0, 'n'}, {"all", no_argument, 0, 'a'},
                                         {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    int json = 0, all = 0, c;
    long limit = 50;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (cli_parse_long(optarg, 0, 1L << 40, &limit) < 0)
                return cli_usage("suspects", "--limit '%s': expected a number >= 0 (0: all)", optarg);
            break;
        case 'a': all = 1; break;
        case 'j': json = 1; break;
        default: return cli_usage("suspects", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage("suspects", "expected exactly one SESSION folder");
    sy_err err = {0};
    session *s = session_open(argv[optind], SESSION_READ, &err);
    if (!s) return cli_fail(&err);
    neg_store *ns = session_negs(s);
    size_t n = 0;
    neg_ref *q = ns ? neg_store_ranked(ns, !all, &n) : NULL;
    if (n && !q) {
        cli_session_close(s);
        return cli_error("out of memory listing the queue");
    }
    size_t m = limit && (size_t)limit < n ? (size_t)limit : n;
    json_t *arr = json ? json_array() : NULL;
    if (!json) printf("%zu %s in the queue%s\n", n, all ? "rows" : "suspects", m < n ? "" : "");
    for (size_t i = 0; i < m; i++) {
        neg_row r;
        neg_store_get(ns, q[i], &r);
        json_t *root = r.prov ? json_loads(r.prov, 0, NULL) : NULL, *fn, *judge;
        prov_parts(root, &fn, &judge);
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "position", json_integer((json_int_t)i + 1));
            json_object_set_new(o, "query", json_string(r.query_id));
            json_object_set_new(o, "passage", json_string(r.neg_id));
            json_object_set_new(o, "likelihood", neg_row_has_fnl(&r) ? json_real(r.fnl) : json_null());
            json_object_set_new(o, "suspect", json_boolean(r.flags & NEG_F_SUSPECT));
            json_object_set_new(o, "source", json_string(neg_source_name(r.source)));
            json_object_set_new(o, "rank", json_integer(r.rank));
            json_object_set_new(o, "score", json_real(r.score));
            json_object_set_new(o, "signals", fn ? json_incref(fn) : json_null());
            json_object_set_new(o, "judge", judge ? json_incref(judge) : json_null());
            json_array_append_new(arr, o);
        } else {
            char lk[16];
            if (neg_row_has_fnl(&r)) snprintf(lk, sizeof lk, "%.3f", r.fnl);
            else snprintf(lk, sizeof lk, "-");
            printf("%5zu  %-12s %-20s %6s %c %-7s ", i + 1, r.query_id, r.neg_id, lk,
                   (r.flags & NEG_F_SUSPECT) ? '*' : ' ', neg_source_name(r.source));
            print_signals(fn, judge);
            putchar('\n');
        }
        json_decref(root);
    }
    if (json) {
        char *t = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (t) puts(t);
        free(t);
        json_decref(arr);
    } else if (m < n) printf("(%zu more; --limit 0 lists all)\n", n - m);
    free(q);
    cli_session_close(s);
    return EXIT_OK;
}
