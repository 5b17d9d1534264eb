/* mix_fixture.h: a small session for the mix and export tests, built from
 * tests/golden/export/data (10 documents, 4 queries) with negatives written
 * straight through neg_writer (no mining or synthesis needed).
 *
 * Pool (query: rows), with the rules each row exercises:
 *   q1 (positives d1, d2):
 *     bm25  d1 (a qrels positive -> excluded "positive"), d3, d4, d5 SUSPECT, d6
 *     dense d8 MAXREL (filtered), d10
 *     llm   A, B REFLECT_FN (accepted by a person -> kept), E DUP (duplicate)
 *     offline C
 *     manual "nosuch" (unknown id)
 *   q2 (positive d7): bm25 d1, d2; llm D
 *   q3 (only a rel-0 qrels row): bm25 d1, d2  -> no instance unless promoted
 * Labels when labelled = 1: accept (q1, B), reject (q3, d1). */
#ifndef MIX_FIXTURE_H
#define MIX_FIXTURE_H

#include <limits.h>
#include <stdlib.h>

#include "labels.h"
#include "negstore.h"
#include "session.h"

#define FX_TEXT_A "A laminar layer on a plate thickens downstream in a flat-plate flow model (synthetic)."
#define FX_TEXT_B "Boundary layer growth on curved surfaces, not flat plates (synthetic)."
#define FX_TEXT_C "Wake behind a flat plate normal to the stream (offline)."
#define FX_TEXT_D "Buckling of flat plates under shear, not shells (synthetic)."
#define FX_TEXT_E "The laminar boundary layer thickens along a flat plate."

static inline void fx_row(neg_writer *w, const char *q, const char *id, const char *text, int src,
                          unsigned rank, float score, unsigned flags)
{
    char sid[64];
    neg_row r = {0};
    r.query_id = q;
    if (text) {
        neg_synthetic_id(src, text, sid, sizeof sid);
        r.neg_id = sid;
    } else {
        r.neg_id = id;
    }
    r.text = text;
    r.rank = rank;
    r.score = score;
    r.source = (uint8_t)src;
    r.flags = (uint8_t)flags;
    sy_err err = {0};
    if (neg_writer_add(w, &r, &err)) { fprintf(stderr, "fixture: %s\n", err.msg); exit(2); }
}

/* Create the fixture session in a fresh folder; returns the folder (malloc'd). */
static inline char *fx_session(const char *tag, int labelled)
{
    char *tmp = check_tmpdir(tag);
    char *dir = sy_path_join(tmp, "s");
    free(tmp);
    char src_path[PATH_MAX];
    const char *rel = "tests/golden/export/data";
    if (!realpath(rel, src_path)) { perror(rel); exit(2); }
    session_source src = { src_path, CORPUS_BEIR, "train", "test" };
    sy_err err = {0};
    if (session_create(dir, &src, &err)) { fprintf(stderr, "fixture: %s\n", err.msg); exit(2); }
    neg_writer *w = neg_writer_new(dir, "fixture", 0, &err);
    if (!w) { fprintf(stderr, "fixture: %s\n", err.msg); exit(2); }
    fx_row(w, "q1", "d1", NULL, NEG_BM25, 1, 12.5f, 0);
    fx_row(w, "q1", "d3", NULL, NEG_BM25, 2, 11.0f, 0);
    fx_row(w, "q1", "d4", NULL, NEG_BM25, 3, 10.25f, 0);
    fx_row(w, "q1", "d5", NULL, NEG_BM25, 4, 9.5f, NEG_F_SUSPECT);
    fx_row(w, "q1", "d6", NULL, NEG_BM25, 5, 7.0f, 0);
    fx_row(w, "q1", "d8", NULL, NEG_DENSE, 1, 0.91f, NEG_F_MAXREL);
    fx_row(w, "q1", "d10", NULL, NEG_DENSE, 2, 0.85f, 0);
    fx_row(w, "q1", NULL, FX_TEXT_A, NEG_LLM, 1, 0, 0);
    fx_row(w, "q1", NULL, FX_TEXT_B, NEG_LLM, 2, 0, NEG_F_REFLECT_FN);
    fx_row(w, "q1", NULL, FX_TEXT_E, NEG_LLM, 3, 0, NEG_F_DUP);
    fx_row(w, "q1", NULL, FX_TEXT_C, NEG_OFFLINE, 1, 0, 0);
    fx_row(w, "q1", "nosuch", NULL, NEG_MANUAL, 0, 0, 0);
    fx_row(w, "q2", "d1", NULL, NEG_BM25, 1, 5.0f, 0);
    fx_row(w, "q2", "d2", NULL, NEG_BM25, 2, 4.0f, 0);
    fx_row(w, "q2", NULL, FX_TEXT_D, NEG_LLM, 1, 0, 0);
    fx_row(w, "q3", "d1", NULL, NEG_BM25, 1, 3.0f, 0);
    fx_row(w, "q3", "d2", NULL, NEG_BM25, 2, 2.0f, 0);
    if (neg_writer_commit(w, &err)) { fprintf(stderr, "fixture: %s\n", err.msg); exit(2); }
    neg_writer_free(w);
    if (labelled) {
        labels *l = labels_open(dir, 0, &err);
        char sid[64];
        neg_synthetic_id(NEG_LLM, FX_TEXT_B, sid, sizeof sid);
        if (!l || labels_act(l, "q1", sid, ACT_ACCEPT, NULL, &err) ||
            labels_act(l, "q3", "d1", ACT_REJECT, "it answers", &err)) {
            fprintf(stderr, "fixture: %s\n", err.msg);
            exit(2);
        }
        labels_free(l);
    }
    return dir;
}

static inline session *fx_open(const char *dir, int mode)
{
    sy_err err = {0};
    session *s = session_open(dir, mode, &err);
    if (!s) { fprintf(stderr, "fixture: %s\n", err.msg); exit(2); }
    return s;
}

/* Remove the folder made by fx_session (its parent temp folder). */
static inline void fx_remove(char *dir)
{
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    check_rmrf(dir);
    free(dir);
}

#endif
