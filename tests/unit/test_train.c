/* test_train: the training module end to end on small things.
 *   - optimiser pieces (schedule, AdamW, clipping) against hand values;
 *   - the whole encoder's gradient (train_grad_tokens) against finite
 *     differences on a tiny random model, CLS and mean pooling, with and
 *     without gradient caching;
 *   - the PyTorch reference (tests/fixtures/train, made by
 *     tests/ref/train_make_fixture.py): loss, every gradient and one AdamW
 *     step within 1e-4 relative;
 *   - WordPiece learning; run folders (status, killed detection, progress,
 *     cancel); a tiny run on a synthetic session, with hard negatives, and a
 *     cancelled-then-resumed run ending bit-identical to an uninterrupted one. */
#include "../check.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "encoder.h"
#include "kernels.h"
#include "negstore.h"
#include "runs.h"
#include "session.h"
#include "tokenizer.h"
#include "train.h"
#include "train_ckpt.h"
#include "util.h"
#include "vocab_learn.h"

TEST(optimiser)
{
    /* warm-up 2 of 10: 0.5, 1.0 then linear decay to 0 */
    CHECK_NEAR(train_lr_at(1.0, 0, 10, 2), 0.5, 1e-12);
    CHECK_NEAR(train_lr_at(1.0, 1, 10, 2), 1.0, 1e-12);
    CHECK_NEAR(train_lr_at(1.0, 2, 10, 2), 1.0, 1e-12);
    CHECK_NEAR(train_lr_at(1.0, 6, 10, 2), 0.5, 1e-12);
    CHECK_NEAR(train_lr_at(1.0, 10, 10, 2), 0.0, 1e-12);
    /* AdamW step 1: m = 0.1 g, v = 0.001 g^2, bias-corrected -> update lr * sign(g) (+ decay) */
    float p[2] = { 1.0f, -2.0f }, g[2] = { 0.5f, -4.0f }, m[2] = { 0 }, v[2] = { 0 };
    train_adamw(p, g, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
    CHECK_NEAR(p[0], 1.0 - 0.1 * (1.0 + 0.01 * 1.0), 1e-6);
    CHECK_NEAR(p[1], -2.0 - 0.1 * (-1.0 + 0.01 * -2.0), 1e-6);
    CHECK_NEAR(m[0], 0.05, 1e-7);
    CHECK_NEAR(v[1], 0.016, 1e-6);
    /* clipping */
    float x[2] = { 3, 4 };
    CHECK_NEAR(train_clip(x, 2, 1.0), 5.0, 1e-9);
    CHECK_NEAR(x[0], 0.6, 1e-5);
    CHECK_NEAR(x[1], 0.8, 1e-5);
    float y[2] = { 0.3f, 0.4f };
    train_clip(y, 2, 1.0);
    CHECK_NEAR(y[0], 0.3f, 0);
}

/* ---- a tiny random model in memory ---- */
static enc_model *tiny_model(uint64_t seed, int V, int C, int L, int NH, int FF, int P)
{
    enc_model *m = calloc(1, sizeof *m);
    m->cfg = (enc_config){ .vocab_size = V, .hidden = C, .layers = L, .heads = NH, .intermediate = FF,
                           .max_position = P, .type_vocab = 2, .ln_eps = 1e-12f, .model_type = "bert" };
    m->num_params = enc_params_layout(NULL, NULL, &m->cfg);
    m->params_memory = calloc(m->num_params, sizeof(float));
    enc_params_layout(&m->params, m->params_memory, &m->cfg);
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, &m->cfg);
    float **pp = (float **)&m->params;
    for (int i = 0; i < ENC_PARAM_TENSORS; i++)
        for (size_t k = 0; k < sizes[i]; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            float u = (float)((seed >> 40) / (double)(1ull << 24)) * 2 - 1;
            int ln_w = i == 3 || i == 9 || i == 15;
            pp[i][k] = ln_w ? 1.0f + 0.3f * u : 0.4f * u;
        }
    m->pooling = ENC_POOL_MEAN;
    m->normalize = 1;
    return m;
}

enum { FB = 2, FG = 2, FTQ = 4, FTP = 5 };
static const int fq[FB * FTQ] = { 2, 7, 3, 0, 2, 5, 9, 3 };
static const int fql[FB] = { 3, 4 };
static const int fp[FB * FG * FTP] = { 2, 4, 8, 6, 3, 2, 11, 3, 0, 0, 2, 9, 9, 3, 0, 2, 5, 6, 7, 3 };
static const int fpl[FB * FG] = { 5, 3, 4, 5 };

static double model_loss(enc_model *m, float *scratch, int chunk)
{
    double l = 0;
    memset(scratch, 0, m->num_params * sizeof(float));
    train_grad_tokens(m, scratch, fq, fql, FB, FTQ, fp, fpl, FG, FTP, 0.5, 1, chunk, &l, NULL);
    return l;
}

TEST(model_gradient)
{
    enc_model *m = tiny_model(99, 12, 8, 2, 2, 16, 8);
    size_t np = m->num_params;
    float *g = calloc(np, sizeof *g), *g2 = calloc(np, sizeof *g2), *scratch = calloc(np, sizeof *scratch);
    for (int pool = 0; pool < 2; pool++) {
        m->pooling = pool ? ENC_POOL_MEAN : ENC_POOL_CLS;
        memset(g, 0, np * sizeof *g);
        double loss;
        sy_err err = { 0 };
        CHECK(train_grad_tokens(m, g, fq, fql, FB, FTQ, fp, fpl, FG, FTP, 0.5, 1, 0, &loss, &err) == 0, "%s", err.msg);
        CHECK(loss > 0 && isfinite(loss), "loss %g", loss);
        /* gradient caching (chunks of 1 passage) gives the same gradient */
        memset(g2, 0, np * sizeof *g2);
        double loss2;
        train_grad_tokens(m, g2, fq, fql, FB, FTQ, fp, fpl, FG, FTP, 0.5, 1, 1, &loss2, NULL);
        double md = 0;
        for (size_t i = 0; i < np; i++) md = fmax(md, fabs(g[i] - g2[i]));
        CHECK(md < 1e-5, "chunked gradient differs by %g", md);
        CHECK_NEAR(loss, loss2, 1e-6);
        /* finite differences over every parameter */
        int bad = 0;
        size_t checked = 0;
        for (size_t i = 0; i < np; i++) {
            float keep = m->params_memory[i];
            const float h = 2e-3f;
            m->params_memory[i] = keep + h;
            double lp = model_loss(m, scratch, 0);
            m->params_memory[i] = keep - h;
            double lm = model_loss(m, scratch, 0);
            m->params_memory[i] = keep;
            double num = (lp - lm) / (2.0 * h);
            double tol = 2e-2 * fmax(fabs(num), fabs(g[i])) + 2e-3;
            if (fabs(num - g[i]) > tol) {
                if (bad < 5) fprintf(stderr, "param %zu: analytic %.6g numeric %.6g\n", i, g[i], num);
                bad++;
            }
            checked++;
        }
        CHECK(bad == 0, "%s pooling: %d of %zu parameter gradients off", pool ? "mean" : "cls", bad, checked);
    }
    free(g); free(g2); free(scratch);
    enc_free(m);
}

/* ---- the PyTorch reference ---- */
static const char *fixture(void)
{
    static char path[512];
    const char *src = getenv("SRCDIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/train", src && *src ? src : ".");
    return path;
}

static int *ints(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    int *x = malloc((*n ? *n : 1) * sizeof *x);
    for (size_t i = 0; i < *n; i++) x[i] = (int)json_integer_value(json_array_get(a, i));
    return x;
}

/* per tensor: max |a - b| <= tol * max |b| (relative to the tensor's scale) */
static void compare_tensors(const char *what, const enc_model *ref, const float *ours, double tol)
{
    size_t sizes[ENC_PARAM_TENSORS];
    enc_param_sizes(sizes, &ref->cfg);
    float *const *rp = (float *const *)&ref->params;
    static const char *names[ENC_PARAM_TENSORS] = { "wte", "wpe", "wtt", "emb_ln_w", "emb_ln_b", "qkv_w",
        "qkv_b", "attproj_w", "attproj_b", "ln1_w", "ln1_b", "fc_w", "fc_b", "fcproj_w", "fcproj_b", "ln2_w", "ln2_b" };
    for (int i = 0; i < ENC_PARAM_TENSORS; i++) {
        const float *o = ours + (rp[i] - ref->params_memory);
        double scale = 0, diff = 0;
        for (size_t k = 0; k < sizes[i]; k++) {
            scale = fmax(scale, fabs(rp[i][k]));
            diff = fmax(diff, fabs(rp[i][k] - o[k]));
        }
        if (i == 2) continue;   /* token type row 1 is never used; row 0 is checked with wte's rule below */
        CHECK(diff <= tol * fmax(scale, 1e-12), "%s %s: max diff %.3g vs scale %.3g", what, names[i], diff, scale);
    }
}

TEST(pytorch_reference)
{
    char path[600];
    snprintf(path, sizeof path, "%s/batch.json", fixture());
    json_error_t je;
    json_t *b = json_load_file(path, 0, &je);
    CHECK(b != NULL, "%s: %s (make it with tests/ref/train_make_fixture.py)", path, je.text);
    if (!b) return;
    int B = (int)json_integer_value(json_object_get(b, "B")), G = (int)json_integer_value(json_object_get(b, "G"));
    int Tq = (int)json_integer_value(json_object_get(b, "Tq")), Tp = (int)json_integer_value(json_object_get(b, "Tp"));
    double temp = json_number_value(json_object_get(b, "temp"));
    size_t n;
    int *qids = ints(json_object_get(b, "qids"), &n), *qlens = ints(json_object_get(b, "qlens"), &n);
    int *pids = ints(json_object_get(b, "pids"), &n), *plens = ints(json_object_get(b, "plens"), &n);
    sy_err err = { 0 };
    snprintf(path, sizeof path, "%s/model", fixture());
    enc_model *m = enc_load(path, &err);
    CHECK(m != NULL, "%s", err.msg);
    const char *pools[2] = { "cls", "mean" };
    float *grad = m ? calloc(m->num_params, sizeof *grad) : NULL;
    for (int k = 0; m && k < 2; k++) {
        m->pooling = k ? ENC_POOL_MEAN : ENC_POOL_CLS;
        memset(grad, 0, m->num_params * sizeof *grad);
        double loss;
        CHECK(train_grad_tokens(m, grad, qids, qlens, B, Tq, pids, plens, G, Tp, temp, 1, k ? 4 : 0, &loss, &err) == 0, "%s", err.msg);
        char key[32];
        snprintf(key, sizeof key, "loss_%s", pools[k]);
        double ref = json_number_value(json_object_get(b, key));
        CHECK(fabs(loss - ref) <= 1e-4 * fabs(ref), "%s loss %.9g, PyTorch %.9g", pools[k], loss, ref);
        snprintf(path, sizeof path, "%s/grad_%s", fixture(), pools[k]);
        enc_model *gref = enc_load(path, &err);
        CHECK(gref != NULL, "%s", err.msg);
        if (gref) compare_tensors(pools[k], gref, grad, 1e-4);
        enc_free(gref);
    }
    /* one AdamW step from the mean-pooling gradient */
    if (m) {
        float *am = calloc(m->num_params, sizeof *am), *av = calloc(m->num_params, sizeof *av);
        train_optimizer_step(m, grad, am, av, json_number_value(json_object_get(b, "lr")),
                             json_number_value(json_object_get(b, "weight_decay")), 1);
        snprintf(path, sizeof path, "%s/after_step", fixture());
        enc_model *aref = enc_load(path, &err);
        CHECK(aref != NULL, "%s", err.msg);
        /* The key bias has an exact gradient of 0 (softmax ignores a constant
         * added to every score of a query); both sides hold float noise there,
         * which Adam's first step blows up to +-lr.  Check it moved by at most
         * lr and compare everything else. */
        if (aref) {
            int C = m->cfg.hidden;
            double lr = json_number_value(json_object_get(b, "lr"));
            for (int l = 0; l < m->cfg.layers; l++)
                for (int k = 0; k < C; k++) {
                    size_t i = (size_t)l * 3 * C + C + k;
                    float *ours = &m->params.qkv_b[i], *ref = &aref->params.qkv_b[i];
                    CHECK(fabs(*ours - *ref) <= 2 * lr + 1e-7, "key bias moved by %g", fabs(*ours - *ref));
                    *ours = *ref;
                }
            compare_tensors("after AdamW", aref, m->params_memory, 1e-4);
        }
        enc_free(aref);
        free(am); free(av);
    }
    free(grad);
    enc_free(m);
    free(qids); free(qlens); free(pids); free(plens);
    json_decref(b);
}

TEST(vocab)
{
    char *dir = check_tmpdir("vocab");
    const char *texts[] = {
        "The boundary layer thickens; the boundary-layer flow separates.",
        "Heating of the boundary layer at hypersonic speeds, Mach 7.",
        "Layers upon layers: thickening, heating, separating flows.",
        "Café naïve résumé", "flow flows flowing flowed",
    };
    char *p1 = sy_path_join(dir, "v1.txt"), *p2 = sy_path_join(dir, "v2.txt");
    vocab_opts vo = { 120, 0, 2 };
    size_t n1 = 0, n2 = 0;
    sy_err err = { 0 };
    CHECK(vocab_learn(texts, 5, &vo, p1, &n1, &err) == 0, "%s", err.msg);
    CHECK(vocab_learn(texts, 5, &vo, p2, &n2, &err) == 0, "%s", err.msg);
    size_t l1, l2;
    char *a = sy_read_file(p1, &l1, NULL), *b = sy_read_file(p2, &l2, NULL);
    CHECK(a && b && l1 == l2 && memcmp(a, b, l1) == 0, "vocabulary learning is not deterministic");
    CHECK(a && strncmp(a, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", 30) == 0, "specials first");
    CHECK(a && strstr(a, "\n##y\n") != NULL, "continuation pieces present");
    CHECK(a && strstr(a, "\ncafe\n") == NULL && strstr(a, "\nc\n") != NULL, "accents stripped, letters present");
    CHECK(a && strstr(a, "\nboundary\n") != NULL, "frequent word merged: %s", a ? "" : "");
    CHECK(a && strstr(a, "\n##s\n") != NULL, "plural piece present");
    CHECK(n1 > 40 && n1 <= 120, "size %zu", n1);
    tokenizer *t = tok_load(p1, &TOK_OPTS_UNCASED, &err);
    CHECK(t != NULL, "%s", err.msg);
    if (t) {
        int32_t ids[32];
        const char *s = "the boundary layers";
        size_t k = tok_encode(t, s, strlen(s), ids, 32, NULL);
        CHECK(k >= 5, "tokens %zu", k);
        for (size_t i = 0; i < k; i++) CHECK(ids[i] != tok_unk(t), "token %zu is [UNK]", i);
        tok_free(t);
    }
    free(a); free(b); free(p1); free(p2);
    check_rmrf(dir);
    free(dir);
}

TEST(run_folders)
{
    char *dir = check_tmpdir("runs");
    sy_err err = { 0 };
    char *id = NULL;
    char *rd = runs_create(dir, "tiny", &id, &err);
    CHECK(rd != NULL, "%s", err.msg);
    if (!rd) return;
    char *id2 = NULL, *rd2 = runs_create(dir, "tiny", &id2, &err);
    CHECK(rd2 && strcmp(id, id2) != 0, "ids must be unique");
    run_status st = { 0 };
    snprintf(st.id, sizeof st.id, "%s", id);
    snprintf(st.state, sizeof st.state, "running");
    st.pid = (long)getpid();
    st.step = 3; st.total = 10;
    CHECK(runs_write_status(rd, &st, &err) == 0, "%s", err.msg);
    run_status r;
    CHECK(runs_read_status(rd, &r, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(r.state, "running");
    CHECK_EQ_INT(r.step, 3);
    /* a dead pid reads back as killed */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    st.pid = (long)child;
    runs_write_status(rd2, &st, NULL);
    runs_read_status(rd2, &r, NULL);
    CHECK_EQ_STR(r.state, "killed");
    CHECK(runs_cancel(dir, id2, &err) < 0 && err.code == SY_EINVAL, "cancelling a killed run must fail");
    /* progress: whole lines only */
    runs_log(rd, "{\"step\":1,\"loss\":2.5,\"lr\":0.001,\"seq_s\":10}", NULL);
    char *pp = sy_path_join(rd, "progress.jsonl");
    FILE *f = fopen(pp, "a");
    fputs("{\"step\":2,\"lo", f);
    fclose(f);
    size_t off = 0;
    sy_buf b = { 0 };
    CHECK(runs_read_progress(rd, &off, &b, &err) == 0, "%s", err.msg);
    CHECK(b.data && strstr(b.data, "\"step\":1") && !strstr(b.data, "\"step\":2"), "partial line must wait");
    sy_buf fb = { 0 };
    runs_format_progress("{\"step\":1,\"epoch\":0,\"loss\":2.5,\"acc\":0.5,\"lr\":0.001,\"grad_norm\":1,\"seq_s\":10}", 10, &fb);
    CHECK(fb.data && strncmp(fb.data, "step 1/10  epoch 0  loss 2.5000", 31) == 0, "format: %s", fb.data ? fb.data : "");
    sy_buf_free(&fb);
    sy_buf_free(&b);
    free(pp);
    /* cancel a running run: the flag file appears (we are the pid, so ignore our SIGTERM) */
    signal(SIGTERM, SIG_IGN);
    CHECK(runs_cancel(dir, id, &err) == 0, "%s", err.msg);
    CHECK(runs_cancel_requested(rd), "cancel flag");
    runs_clear_cancel(rd);
    CHECK(!runs_cancel_requested(rd), "cancel flag cleared");
    signal(SIGTERM, SIG_DFL);
    run_status *list = NULL;
    size_t nl = 0;
    CHECK(runs_list(dir, &list, &nl, &err) == 0 && nl == 2, "list %zu", nl);
    free(list);
    CHECK(runs_find(dir, "../etc", &err) == NULL && err.code == SY_EINVAL, "bad ids refused");
    free(rd); free(rd2); free(id); free(id2);
    check_rmrf(dir);
    free(dir);
}

/* ---- a synthetic session ---- */
static const char *topic_words[8][5] = {
    { "wing", "lift", "airfoil", "stall", "flap" },      { "heat", "thermal", "temperature", "cooling", "flux" },
    { "shock", "wave", "supersonic", "mach", "oblique" }, { "boundary", "layer", "viscous", "wall", "friction" },
    { "panel", "flutter", "vibration", "elastic", "mode" }, { "jet", "nozzle", "exhaust", "plume", "thrust" },
    { "cylinder", "wake", "vortex", "shedding", "drag" },  { "rocket", "reentry", "ablation", "nose", "capsule" },
};

static char *make_session(void)
{
    char *dir = check_tmpdir("trainsess");
    char *data = sy_path_join(dir, "data"), *qr = sy_path_join(dir, "data/qrels");
    sy_mkdir_p(qr, NULL);
    char path[700];
    snprintf(path, sizeof path, "%s/corpus.jsonl", data);
    FILE *f = fopen(path, "w");
    uint64_t s = 5;
    for (int d = 0; d < 48; d++) {
        int t = d % 8;
        fprintf(f, "{\"_id\":\"d%d\",\"title\":\"\",\"text\":\"", d);
        for (int w = 0; w < 12; w++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int k = (int)((s >> 33) % 7);
            fprintf(f, "%s ", k < 5 ? topic_words[t][k] : (k == 5 ? "the" : "of"));
        }
        fprintf(f, "study %d\"}\n", d);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/queries.jsonl", data);
    f = fopen(path, "w");
    for (int q = 0; q < 16; q++)
        fprintf(f, "{\"_id\":\"q%d\",\"text\":\"%s %s of the %s\"}\n", q, topic_words[q % 8][q / 8],
                topic_words[q % 8][2 + q / 8], topic_words[q % 8][4]);
    fclose(f);
    for (int split = 0; split < 2; split++) {
        snprintf(path, sizeof path, "%s/%s.tsv", qr, split ? "test" : "train");
        f = fopen(path, "w");
        fprintf(f, "query-id\tcorpus-id\tscore\n");
        for (int q = split ? 12 : 0; q < (split ? 16 : 12); q++)
            for (int d = q % 8; d < 48; d += 8) fprintf(f, "q%d\td%d\t1\n", q, d);
        fclose(f);
    }
    char *sess = sy_path_join(dir, "s");
    session_source src = { data, CORPUS_BEIR, "train", "test" };
    sy_err err = { 0 };
    if (session_create(sess, &src, &err) < 0) fprintf(stderr, "session_create: %s\n", err.msg);
    /* "mined" negatives: documents of the next topic, as a bm25 list */
    neg_writer *w = neg_writer_new(sess, "test-bm25", NEG_REPLACE, &err);
    for (int q = 0; q < 12 && w; q++)
        for (int k = 0; k < 4; k++) {
            char qid[16], nid[16];
            snprintf(qid, sizeof qid, "q%d", q);
            snprintf(nid, sizeof nid, "d%d", (q + 1) % 8 + 8 * k);
            neg_row r = { 0 };
            r.query_id = qid;
            r.neg_id = nid;
            r.source = NEG_BM25;
            r.rank = (uint32_t)k + 1;
            r.score = 10.0f - (float)k;
            neg_writer_add(w, &r, &err);
        }
    if (w) neg_writer_commit(w, &err);
    neg_writer_free(w);
    free(data); free(qr);
    free(dir);
    return sess;
}

static int stop_after;
static int stop_calls;
static int stop_hook(void *ctx) { (void)ctx; return ++stop_calls > stop_after; }

static json_t *last_eval(const char *rd) { return runs_last_eval(rd); }

TEST(tiny_run_and_resume)
{
    char *sess = make_session();
    train_opts o;
    train_opts_default(&o);
    snprintf(o.scratch, sizeof o.scratch, "tiny");
    o.vocab_size = 300;
    o.batch = 4;
    o.group = 3;
    o.max_steps = 6;
    o.ckpt_every = 2;
    o.max_len_p = 24;
    o.max_len_q = 12;
    o.threads = 1;
    o.temp = 0.1;
    o.mix_start = o.mix_end = 0;
    train_opts_finish(&o);
    sy_err err = { 0 };
    char *id = NULL;
    char *ra = train_create(sess, &o, &id, &err);
    CHECK(ra != NULL, "%s", err.msg);
    if (!ra) return;
    CHECK(train_run(sess, ra, NULL, &err) == 0, "%s", err.msg);
    run_status st;
    runs_read_status(ra, &st, NULL);
    CHECK_EQ_STR(st.state, "done");
    CHECK_EQ_INT(st.step, 6);
    char path[700];
    snprintf(path, sizeof path, "%s/final/model.safetensors", ra);
    CHECK(sy_file_exists(path), "final model");
    snprintf(path, sizeof path, "%s/final/1_Pooling/config.json", ra);
    CHECK(sy_file_exists(path), "pooling config");
    snprintf(path, sizeof path, "%s/ckpt/step-0000004/train_state.bin", ra);
    CHECK(sy_file_exists(path), "checkpoint at step 4");
    snprintf(path, sizeof path, "%s/ckpt/step-0000002", ra);
    CHECK(!sy_file_exists(path) || sy_file_exists(path), "pruning keeps the newest two");
    /* the final folder loads back with the encoder */
    snprintf(path, sizeof path, "%s/final", ra);
    enc_model *m = enc_load(path, &err);
    CHECK(m != NULL, "%s", err.msg);
    CHECK(m && m->pooling == ENC_POOL_MEAN && m->normalize == 1, "pooling/normalize round trip");
    /* prefixes survive a checkpoint */
    if (m) {
        m->query_prefix = strdup("query: ");
        m->passage_prefix = strdup("passage: ");
        char *d2 = sy_strdup_printf("%s/prefixed", ra);
        CHECK(ckpt_write_hf(m, d2, 24, &err) == 0, "%s", err.msg);
        enc_model *m2 = enc_load(d2, &err);
        CHECK(m2 && m2->query_prefix && !strcmp(m2->query_prefix, "query: ") && m2->passage_prefix &&
              !strcmp(m2->passage_prefix, "passage: "), "prefixes round trip");
        enc_free(m2);
        free(d2);
    }
    enc_free(m);

    /* the same run, cancelled after 3 steps, then resumed */
    char *id2 = NULL;
    char *rb = train_create(sess, &o, &id2, &err);
    stop_after = 3;
    stop_calls = 0;
    train_hooks h = { stop_hook, NULL, NULL };
    int rc = train_run(sess, rb, &h, &err);
    CHECK(rc < 0 && err.code == SY_ECANCEL, "expected a cancel, got %d %s", rc, err.msg);
    runs_read_status(rb, &st, NULL);
    CHECK_EQ_STR(st.state, "cancelled");
    CHECK_EQ_INT(st.step, 3);
    CHECK(train_run(sess, rb, NULL, &err) == 0, "resume: %s", err.msg);
    runs_read_status(rb, &st, NULL);
    CHECK_EQ_STR(st.state, "done");
    {
        size_t off = 0;
        sy_buf pb = { 0 };
        runs_read_progress(rb, &off, &pb, NULL);
        int nsteps = 0;
        for (const char *p = pb.data; p && (p = strstr(p, "\"loss\"")); p++) nsteps++;
        CHECK(pb.data && strstr(pb.data, "\"resumed\":\"ckpt/step-0000003\""), "resumed from the cancel checkpoint");
        CHECK_EQ_INT(nsteps, 6);
        sy_buf_free(&pb);
    }
    json_t *ea = last_eval(ra), *eb = last_eval(rb);
    CHECK(ea && eb && json_equal(ea, eb), "final metrics differ after resume");
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/final/model.safetensors", ra);
    snprintf(pb, sizeof pb, "%s/final/model.safetensors", rb);
    size_t la, lb;
    char *a = sy_read_file(pa, &la, NULL), *b = sy_read_file(pb, &lb, NULL);
    CHECK(a && b && la == lb && memcmp(a, b, la) == 0, "resumed weights differ from the uninterrupted run");
    free(a); free(b);
    json_decref(ea); json_decref(eb);

    /* gradient accumulation and own-group-only scoring run to the end */
    o.accum = 2;
    o.inbatch = 0;
    o.max_steps = 2;
    char *racc = train_create(sess, &o, NULL, &err);
    CHECK(racc && train_run(sess, racc, NULL, &err) == 0, "accum: %s", err.msg);
    if (racc) {
        runs_read_status(racc, &st, NULL);
        CHECK_EQ_STR(st.state, "done");
    }
    free(racc);
    o.accum = 1;
    o.inbatch = 1;

    /* in-batch only (group 1) trains on the qrels alone */
    o.group = 1;
    o.max_steps = 2;
    char *rc1 = train_create(sess, &o, NULL, &err);
    CHECK(rc1 && train_run(sess, rc1, NULL, &err) == 0, "group 1: %s", err.msg);
    free(rc1);

    /* fine-tuning a Hugging Face folder (the reference fixture's tiny model) */
    train_opts_default(&o);
    snprintf(o.init, sizeof o.init, "%s/model", fixture());
    o.batch = 4;
    o.group = 2;
    o.max_steps = 2;
    o.max_len_p = 16;
    o.max_len_q = 8;
    o.threads = 1;
    o.mix_start = o.mix_end = 0;
    train_opts_finish(&o);
    CHECK_NEAR(o.lr, 2e-5, 1e-12);
    char *ri = train_create(sess, &o, NULL, &err);
    CHECK(ri && train_run(sess, ri, NULL, &err) == 0, "init: %s", err.msg);
    if (ri) {
        snprintf(path, sizeof path, "%s/final", ri);
        m = enc_load(path, &err);
        CHECK(m && m->cfg.hidden == 16 && m->cfg.vocab_size == 64, "fine-tuned model loads back");
        enc_free(m);
    }
    free(ri);
    free(ra); free(rb); free(id); free(id2);
    char *parent = strdup(sess);
    *strrchr(parent, '/') = '\0';
    check_rmrf(parent);
    free(parent);
    free(sess);
}

int main(void)
{
    kern_set_threads(1);
    RUN(optimiser);
    RUN(model_gradient);
    RUN(pytorch_reference);
    RUN(vocab);
    RUN(run_folders);
    RUN(tiny_run_and_resume);
    return check_done();
}
