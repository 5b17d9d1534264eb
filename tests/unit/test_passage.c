/* test_passage: the one passage formatter (title + text) and its switch. */
#include "../check.h"

#include "passage.h"
#include "train.h"
#include "util.h"

TEST(format)
{
    char *p = passage_format("Flat plates", "The layer thickens.", PASSAGE_TITLES);
    CHECK_EQ_STR(p, "Flat plates The layer thickens.");
    free(p);
    p = passage_format("Flat plates", "The layer thickens.", PASSAGE_NO_TITLES);
    CHECK_EQ_STR(p, "The layer thickens.");
    free(p);
    p = passage_format("", "The layer thickens.", PASSAGE_TITLES);
    CHECK_EQ_STR(p, "The layer thickens.");
    free(p);
    p = passage_format(NULL, NULL, PASSAGE_TITLES);
    CHECK_EQ_STR(p, "");
    free(p);
    /* appending keeps what is there and honours an explicit text length */
    sy_buf b = {0};
    sy_buf_puts(&b, "passage: ");
    CHECK(passage_append(&b, "T", "abcdef", 3, PASSAGE_TITLES) == 0, "append");
    CHECK_EQ_STR(b.data, "passage: T abc");
    b.len = 0;
    CHECK(passage_append(&b, "T", "", (size_t)-1, PASSAGE_NO_TITLES) == 0 && b.data && !*b.data, "empty passage is \"\"");
    sy_buf_free(&b);
}

TEST(switch_values)
{
    sy_err err = {0};
    CHECK_EQ_INT(passage_titles_value("yes", "x", &err), PASSAGE_TITLES);
    CHECK_EQ_INT(passage_titles_value("On", "x", &err), PASSAGE_TITLES);
    CHECK_EQ_INT(passage_titles_value("no", "x", &err), PASSAGE_NO_TITLES);
    CHECK_EQ_INT(passage_titles_value("false", "x", &err), PASSAGE_NO_TITLES);
    CHECK(passage_titles_value("sometimes", "--titles", &err) < 0 && err.code == SY_EINVAL &&
          strstr(err.msg, "--titles") && strstr(err.msg, "sometimes"), "bad value named: %s", err.msg);
    CHECK_EQ_INT(passage_titles_setting(NULL, &err), PASSAGE_TITLES);
}

/* a run's config.json keeps the switch, so a resumed run formats alike */
TEST(train_config)
{
    train_opts o, back;
    train_opts_default(&o);
    json_t *j = train_opts_to_json(&o);
    CHECK(j && !json_object_get(j, "no_titles"), "older configs unchanged");
    json_decref(j);
    o.no_titles = 1;
    j = train_opts_to_json(&o);
    train_opts_default(&back);
    sy_err err = {0};
    CHECK(train_opts_from_json(&back, j, "config.json", &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(back.no_titles, 1);
    json_decref(j);
}

/* offline rows: a new config says whether they are drawn; a config written
 * before the switch existed drew them, so its resumed run still does */
TEST(offline_config)
{
    train_opts o, back;
    train_opts_default(&o);
    CHECK_EQ_INT(o.include_offline, 0);
    json_t *j = train_opts_to_json(&o);
    sy_err err = {0};
    train_opts_default(&back);
    CHECK(train_opts_from_json(&back, j, "config.json", &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(back.include_offline, 0);
    json_object_del(j, "include_offline");
    train_opts_default(&back);
    CHECK(train_opts_from_json(&back, j, "config.json", &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(back.include_offline, 1);
    json_decref(j);
}

int main(void)
{
    RUN(format);
    RUN(switch_values);
    RUN(train_config);
    RUN(offline_config);
    return check_done();
}
