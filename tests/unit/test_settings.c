/* settings: the one table — parsing refuses bad values naming the range,
 * getters read session then default, stored bad values are reported, and
 * `syneg train` and the launch scripts get the same train.* values. */
#include "../check.h"

#include "launch.h"
#include "settings.h"
#include "train.h"
#include "util.h"
#include "mix_fixture.h"

static int refused(const char *name, const char *text, const char *needle)
{
    sy_err err = {0};
    json_t *v = settings_parse(name, text, &err);
    json_decref(v);
    if (v) return 0;
    if (err.code != SY_EINVAL) return 0;
    if (!strstr(err.msg, name)) return 0;          /* the message names the setting */
    return !needle || strstr(err.msg, needle) != NULL;  /* and the allowed range */
}

TEST(parse_refuses_with_range)
{
    CHECK(refused("bm25.k1", "abc", "0..100"), "bm25.k1 abc");
    CHECK(refused("bm25.b", "7", "0..1"), "bm25.b 7");
    CHECK(refused("train.batch", "lots", "1..4096"), "train.batch lots");
    CHECK(refused("llm.concurrency", "0", "1..1024"), "llm.concurrency 0");
    CHECK(refused("train.lr", "-1", "> 0"), "train.lr -1");
    CHECK(refused("train.lr", "0", "> 0"), "train.lr 0 (open lower bound)");
    CHECK(refused("train.batch", "16.5", NULL), "a fraction is not a whole number");
    CHECK(refused("train.scratch", "huge", "tiny|mini"), "enum choice");
    CHECK(refused("train.mix", "1.5", NULL), "mix outside 0..1");
    CHECK(refused("llm.json_mode", "maybe", NULL), "boolean");
    CHECK(refused("bm25.k1", "nan", NULL), "nan");
    sy_err err = {0};
    CHECK(settings_parse("no.such", "1", &err) == NULL && strstr(err.msg, "--list"), "unknown name: %s", err.msg);

    json_t *v = settings_parse("bm25.b", "0.75", &err);
    CHECK(json_is_real(v) && json_real_value(v) == 0.75, "0.75 parses");
    json_decref(v);
    v = settings_parse("train.batch", "32", &err);
    CHECK(json_is_integer(v) && json_integer_value(v) == 32, "integer");
    json_decref(v);
    v = settings_parse("train.mix", "0.2:0.8", &err);
    CHECK(json_is_string(v), "mix schedule");
    json_decref(v);
    v = settings_parse("llm.prices.gpt-x.input", "0.15", &err);
    CHECK(json_is_real(v), "wildcard row: %s", err.msg);
    json_decref(v);
    CHECK(settings_find("llm.prices.a.b.input") == NULL, "'*' is one component");
}

TEST(table_is_sane)
{
    for (size_t i = 0; i < settings_count(); i++) {
        const setting_info *si = settings_at(i);
        CHECK(si->help && *si->help, "%s has help", si->name);
        CHECK(settings_find(si->name) == si || strchr(si->name, '*'), "%s found by name (no duplicate)", si->name);
        if (si->def) {
            sy_err err = {0};
            json_t *v = settings_parse(si->name, si->def, &err);
            CHECK(v != NULL, "default of %s is allowed: %s", si->name, err.msg);
            json_decref(v);
        }
    }
}

TEST(session_values_and_origin)
{
    char *dir = fx_session("settings", 0);
    session *s = fx_open(dir, SESSION_WRITE);
    sy_err err = {0};
    CHECK_NEAR(settings_num(s, "bm25.k1"), 0.9, 1e-12);
    char buf[64];
    setting_origin o;
    settings_value_text(s, NULL, "bm25.k1", buf, sizeof buf, &o);
    CHECK(o == SET_FROM_DEFAULT && !strcmp(buf, "0.9"), "default origin: %s", buf);
    CHECK_EQ_INT(settings_set(s, "bm25.k1", "1.2", &err), 0);
    CHECK_NEAR(settings_num(s, "bm25.k1"), 1.2, 1e-12);
    settings_value_text(s, NULL, "bm25.k1", buf, sizeof buf, &o);
    CHECK(o == SET_FROM_SESSION && !strcmp(buf, "1.2"), "session origin: %s", buf);
    json_t *flags = json_pack("{s:f}", "bm25.k1", 2.0);
    settings_value_text(s, flags, "bm25.k1", buf, sizeof buf, &o);
    CHECK(o == SET_FROM_FLAG && !strcmp(buf, "2"), "flag origin: %s", buf);
    json_decref(flags);

    /* refused values leave the stored one alone */
    CHECK_EQ_INT(settings_set(s, "bm25.k1", "abc", &err), -1);
    CHECK_NEAR(settings_num(s, "bm25.k1"), 1.2, 1e-12);
    CHECK_EQ_INT(settings_set(s, "llm.api_key", "sk-x", &err), -1);

    /* a bad value stored by hand is reported, not replaced silently */
    CHECK_EQ_INT(session_set(s, "train.batch", json_string("lots"), &err), 0);
    CHECK_EQ_INT(settings_check_session(s, NULL, &err), -1);
    CHECK(strstr(err.msg, "train.batch") && strstr(err.msg, "1..4096"), "%s", err.msg);
    CHECK_EQ_INT(settings_check_session(s, "bm25.", &err), 0);
    train_opts to;
    CHECK_EQ_INT(train_opts_from_settings(&to, s, NULL, &err), -1);
    launch_params lp;
    CHECK_EQ_INT(launch_params_from_session(s, &lp, &err), -1);
    CHECK_EQ_INT(settings_unset(s, "train.batch", &err), 0);
    CHECK_EQ_INT(settings_check_session(s, NULL, &err), 0);
    session_close(s);
    fx_remove(dir);
}

/* the CLI trainer and the launch scripts read the same train.* values */
TEST(train_defaults_shared)
{
    char *dir = fx_session("settings-train", 0);
    session *s = fx_open(dir, SESSION_WRITE);
    sy_err err = {0};
    train_opts o;
    launch_params p;
    CHECK_EQ_INT(train_opts_from_settings(&o, s, NULL, &err), 0);
    CHECK_EQ_INT(launch_params_from_session(s, &p, &err), 0);
    CHECK_EQ_INT((int)p.batch, o.batch);
    CHECK_EQ_INT((int)p.max_len, o.max_len_p);
    CHECK_EQ_INT((int)p.query_max_len, o.max_len_q);
    CHECK_EQ_INT((int)p.epochs, o.epochs);
    CHECK_NEAR(p.temp, o.temp, 0);
    CHECK_NEAR(p.warmup, o.warmup, 0);
    CHECK_EQ_INT(o.batch, (int)settings_int(NULL, "train.batch"));
    CHECK_NEAR(p.lr, 2e-5, 0);   /* lr unset: by model (fine-tuning) */

    CHECK_EQ_INT(settings_set(s, "train.batch", "48", &err), 0);
    CHECK_EQ_INT(settings_set(s, "train.max_len", "200", &err), 0);
    CHECK_EQ_INT(settings_set(s, "train.scratch", "tiny", &err), 0);
    CHECK_EQ_INT(train_opts_from_settings(&o, s, NULL, &err), 0);
    CHECK_EQ_INT(launch_params_from_session(s, &p, &err), 0);
    CHECK_EQ_INT(o.batch, 48);
    CHECK_EQ_INT((int)p.batch, 48);
    CHECK_EQ_INT((int)p.max_len, 200);
    train_opts_finish(&o);
    CHECK_NEAR(o.lr, 1e-3, 0);
    CHECK_NEAR(p.lr, 1e-3, 0);

    /* flags override the session and are checked like `syneg set` */
    json_t *flags = json_pack("{s:i,s:f}", "train.batch", 8, "train.lr", -1.0);
    CHECK_EQ_INT(train_opts_from_settings(&o, s, flags, &err), -1);
    CHECK(strstr(err.msg, "train.lr"), "%s", err.msg);
    json_object_set_new(flags, "train.lr", json_real(0.01));
    CHECK_EQ_INT(train_opts_from_settings(&o, s, flags, &err), 0);
    CHECK_EQ_INT(o.batch, 8);
    CHECK_NEAR(o.lr, 0.01, 0);
    json_decref(flags);
    session_close(s);
    fx_remove(dir);
}

int main(void)
{
    RUN(parse_refuses_with_range);
    RUN(table_is_sane);
    RUN(session_values_and_origin);
    RUN(train_defaults_shared);
    return check_done();
}
