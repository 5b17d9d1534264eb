/* test_prompt: template rendering, the attribute catalogue and its resolution,
 * and the shipped prompts/ files. */
#include "../check.h"

#include "prompt.h"
#include "util.h"

static const char *CAT =
    "# comment\n"
    "[difficulty]\n"
    "description = how hard\n"
    "values = hard | very hard | subtle\n"
    "default = hard\n"
    "sample = yes\n"
    "\n"
    "[domain]\n"
    "values = same | *\n"
    "default = same\n"
    "[note]\n"
    "description = optional\n";

TEST(catalogue_parse_and_resolve)
{
    sy_err err = {0};
    prompt_catalogue *c = prompt_catalogue_parse(CAT, "cat.txt", &err);
    CHECK(c != NULL, "%s", err.msg);
    if (!c) return;
    CHECK_EQ_INT(prompt_catalogue_size(c), 3);
    const prompt_attr *d = prompt_catalogue_find(c, "difficulty");
    CHECK(d && d->nvalues == 3 && d->sample && !strcmp(d->values[1], "very hard"), "difficulty parsed");
    CHECK(prompt_catalogue_find(c, "domain")->any, "domain allows any text");
    prompt_kv *out;
    size_t n;
    /* no overrides: difficulty drawn (deterministic), domain default, note left out */
    CHECK(prompt_resolve(c, NULL, 0, NULL, 0, 7, "q1", &out, &n, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[0].name, "difficulty");
    char first[32];
    snprintf(first, sizeof first, "%s", out[0].value);
    free(out);
    prompt_resolve(c, NULL, 0, NULL, 0, 7, "q1", &out, &n, NULL);
    CHECK_EQ_STR(out[0].value, first);
    free(out);
    /* draws vary over queries */
    int seen[3] = {0};
    for (int i = 0; i < 60; i++) {
        char q[16];
        snprintf(q, sizeof q, "q%d", i);
        prompt_resolve(c, NULL, 0, NULL, 0, 7, q, &out, &n, NULL);
        for (int v = 0; v < 3; v++) seen[v] += !strcmp(out[0].value, d->values[v]);
        free(out);
    }
    CHECK(seen[0] && seen[1] && seen[2], "all values drawn: %d %d %d", seen[0], seen[1], seen[2]);
    /* override beats session beats draw */
    prompt_kv over[] = {{"difficulty", "subtle"}, {"domain", "physics"}};
    prompt_kv sess[] = {{"difficulty", "very hard"}, {"note", "keep it short"}};
    CHECK(prompt_resolve(c, over, 2, sess, 2, 7, "q1", &out, &n, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(out[0].value, "subtle");
    CHECK_EQ_STR(out[1].value, "physics");
    CHECK_EQ_STR(out[2].value, "keep it short");
    char *list = prompt_attr_list(c, out, n);
    CHECK(strstr(list, "- difficulty: subtle (how hard)\n- domain: physics\n") != NULL, "list: %s", list);
    free(list);
    free(out);
    prompt_resolve(c, NULL, 0, sess, 1, 7, "q1", &out, &n, NULL);
    CHECK_EQ_STR(out[0].value, "very hard");
    free(out);
    /* bad overrides name what to do */
    prompt_kv bad1[] = {{"colour", "red"}};
    CHECK(prompt_resolve(c, bad1, 1, NULL, 0, 7, "q", &out, &n, &err) < 0, "unknown attr");
    CHECK(strstr(err.msg, "unknown attribute 'colour'") && strstr(err.msg, "[colour]"), "%s", err.msg);
    prompt_kv bad2[] = {{"difficulty", "easy"}};
    CHECK(prompt_resolve(c, bad2, 1, NULL, 0, 7, "q", &out, &n, &err) < 0, "bad value");
    CHECK(strstr(err.msg, "'very hard'") != NULL, "%s", err.msg);
    CHECK(prompt_resolve(c, NULL, 0, bad2, 1, 7, "q", &out, &n, &err) < 0, "bad session value");
    CHECK(strstr(err.msg, "synth.attributes.difficulty") != NULL, "%s", err.msg);
    prompt_catalogue_free(c);
}

TEST(catalogue_errors_name_line)
{
    sy_err err = {0};
    CHECK(!prompt_catalogue_parse("[a]\nvalues = x\nbogus = 1\n", "c.txt", &err), "bogus key");
    CHECK(strstr(err.msg, "c.txt:3:") != NULL, "%s", err.msg);
    CHECK(!prompt_catalogue_parse("values = x\n", "c.txt", &err), "no header");
    CHECK(strstr(err.msg, "c.txt:1:") != NULL, "%s", err.msg);
    CHECK(!prompt_catalogue_parse("[a b]\n", "c.txt", &err), "bad name");
    CHECK(!prompt_catalogue_parse("[a]\n[a]\n", "c.txt", &err), "twice");
    CHECK(strstr(err.msg, "c.txt:2:") && strstr(err.msg, "twice"), "%s", err.msg);
    CHECK(!prompt_catalogue_parse("[a]\nvalues = x | y\ndefault = z\n", "c.txt", &err), "bad default");
    CHECK(!prompt_catalogue_parse("[a]\nsample = maybe\n", "c.txt", &err), "bad sample");
    CHECK(!prompt_catalogue_parse("[a]\nsample = yes\n", "c.txt", &err), "sample with no values");
}

TEST(template_render)
{
    const char *tpl = "{{! header comment }}\n[system]\nYou help.\n\n[user]\nQ: {{query}}\nK={{k}} D={{attr.domain}}"
                      " X={{attr.unset}}\n{{#previous}}\nBefore: {{previous}}\n{{/previous}}\nEnd.\n";
    sy_err err = {0};
    prompt_template *t = prompt_template_parse(tpl, "t.txt", &err);
    CHECK(t != NULL, "%s", err.msg);
    if (!t) return;
    CHECK_EQ_INT(strlen(prompt_template_hash(t)), 16);
    prompt_kv v[] = {{"query", "what is lift?"}, {"k", "3"}, {"attr.domain", "aero"}, {"previous", ""}};
    json_t *m = prompt_render(t, v, 4, &err);
    CHECK(m && json_array_size(m) == 2, "%s", err.msg);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(m, 0), "role")), "system");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(m, 0), "content")), "You help.");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(m, 1), "content")),
                 "Q: what is lift?\nK=3 D=aero X=\nEnd.");
    json_decref(m);
    v[3].value = "negative, unrelated";
    m = prompt_render(t, v, 4, &err);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(m, 1), "content")),
                 "Q: what is lift?\nK=3 D=aero X=\nBefore: negative, unrelated\nEnd.");
    json_decref(m);
    char *text = prompt_render_text(t, v, 4, &err);
    CHECK(text && !strncmp(text, "[system]\nYou help.\n\n[user]\nQ: what", 34), "text: %s", text);
    free(text);
    /* a placeholder with no value names file and line */
    CHECK(prompt_render(t, v, 1, &err) == NULL, "missing var");
    CHECK(strstr(err.msg, "t.txt:7:") && strstr(err.msg, "{{k}}"), "%s", err.msg);
    prompt_template_free(t);
    /* the hash follows the text */
    prompt_template *t2 = prompt_template_parse("[user]\nhello\n", "a", NULL);
    prompt_template *t3 = prompt_template_parse("[user]\nhello!\n", "a", NULL);
    CHECK(strcmp(prompt_template_hash(t2), prompt_template_hash(t3)) != 0, "hash differs");
    prompt_template_free(t2);
    prompt_template_free(t3);
    CHECK(!prompt_template_parse("stray text\n[user]\nx\n", "b.txt", &err), "text before a section");
    CHECK(strstr(err.msg, "b.txt:1:") != NULL, "%s", err.msg);
    prompt_template *t4 = prompt_template_parse("[user]\n{{#x}} never closed\n", "c.txt", &err);
    prompt_kv none[] = {{"y", "1"}};
    CHECK(t4 && !prompt_render(t4, none, 1, &err) && strstr(err.msg, "never closed"), "%s", err.msg);
    prompt_template_free(t4);
}

/* {{! }} comments: Markdown '#' headings are text, comments vanish, errors name lines */
TEST(template_comments)
{
    const char *tpl = "{{! a comment naming {{query}} and\n    {{#x}}blocks{{/x}} over lines }}\n"
                      "[system]\n## Task\nDo it.{{! inline }}\n  {{! alone on a line }}\n# Note\n"
                      "[user]\n### Query\n{{query}}\nJSON: [{{{#t}}\"title\": 1, {{/t}}\"text\": 2}]\n";
    sy_err err = {0};
    prompt_template *t = prompt_template_parse(tpl, "c.txt", &err);
    CHECK(t != NULL, "%s", err.msg);
    if (!t) return;
    prompt_kv v[] = {{"query", "lift?"}, {"t", "yes"}};
    json_t *m = prompt_render(t, v, 2, &err);
    CHECK(m && json_array_size(m) == 2, "%s", err.msg);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(m, 0), "content")), "## Task\nDo it.\n# Note");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(m, 1), "content")),
                 "### Query\nlift?\nJSON: [{\"title\": 1, \"text\": 2}]");
    json_decref(m);
    v[1].value = "";
    m = prompt_render(t, v, 2, &err);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(m, 1), "content")),
                 "### Query\nlift?\nJSON: [{\"text\": 2}]");
    json_decref(m);
    prompt_template_free(t);
    /* an unclosed comment names its line; a '#' line before any section says what changed */
    CHECK(!prompt_template_parse("[user]\nx\n{{! never closed\n", "d.txt", &err) && strstr(err.msg, "d.txt:3:") &&
          strstr(err.msg, "{{!"), "%s", err.msg);
    CHECK(!prompt_template_parse("# old comment\n[user]\nx\n", "e.txt", &err) && strstr(err.msg, "e.txt:1:") &&
          strstr(err.msg, "{{! ... }}"), "%s", err.msg);
    /* line numbers after a multi-line comment stay right */
    t = prompt_template_parse("{{! one\ntwo }}\n[user]\n{{nosuch}}\n", "f.txt", &err);
    CHECK(t && !prompt_render(t, v, 2, &err) && strstr(err.msg, "f.txt:4:"), "%s", err.msg);
    prompt_template_free(t);
}

TEST(shipped_prompts)
{
    sy_err err = {0};
    char *dir = prompt_find_dir(NULL, &err);
    CHECK(dir != NULL, "%s", err.msg);
    if (!dir) return;
    char *sp = sy_path_join(dir, "synth.txt"), *rp = sy_path_join(dir, "reflect.txt"),
         *ap = sy_path_join(dir, "attributes.txt");
    prompt_template *s = prompt_template_load(sp, &err);
    CHECK(s != NULL, "%s", err.msg);
    prompt_template *r = prompt_template_load(rp, &err);
    CHECK(r != NULL, "%s", err.msg);
    prompt_catalogue *c = prompt_catalogue_load(ap, &err);
    CHECK(c != NULL, "%s", err.msg);
    if (s && r && c) {
        const char *need[] = {"domain", "difficulty", "length"};
        for (int i = 0; i < 3; i++) CHECK(prompt_catalogue_find(c, need[i]) != NULL, "catalogue has %s", need[i]);
        prompt_kv *attrs;
        size_t na;
        CHECK(prompt_resolve(c, NULL, 0, NULL, 0, 1, "q1", &attrs, &na, &err) == 0, "%s", err.msg);
        char *list = prompt_attr_list(c, attrs, na);
        prompt_kv v[] = {{"query", "QUERYTEXT"}, {"positive", "POSTEXT"}, {"k", "4"}, {"attributes", list},
                         {"title", "POSTITLE"}, {"titled", "yes"}, {"words", "123"}};
        char *text = prompt_render_text(s, v, 7, &err);
        CHECK(text != NULL, "%s", err.msg);
        if (text) {
            CHECK(strstr(text, "QUERYTEXT") && strstr(text, "POSTEXT") && strstr(text, "Write 4 hard negative"),
                  "rendered");
            CHECK(strstr(text, "\"negatives\"") && strstr(text, "reasoning") && strstr(text, "- difficulty: "),
                  "the paper's structure");
            /* every section heading of the SyNeg prompt survives, as its own line */
            const char *sections[] = {"\n## Task", "\n## Form", "\n## Output format", "\n## Reflection",
                                      "\n## Attributes"};
            for (int i = 0; i < 5; i++) CHECK(strstr(text, sections[i]), "section %s lost:\n%s", sections[i] + 1, text);
            /* format parity: the title asked for and shown, the length given */
            CHECK(strstr(text, "\"title\": \"<the negative's title>\"") && strstr(text, "Title: POSTITLE") &&
                  strstr(text, "about 123 words") && strstr(text, "a title of its own"), "parity:\n%s", text);
            CHECK(!strstr(text, "{{") && !strstr(text, "Placeholders") && !strstr(text, "SHA-256"),
                  "comment or placeholder leaked:\n%s", text);
        }
        free(text);
        /* an untitled collection: no title asked for, none shown */
        v[4].value = v[5].value = "";
        text = prompt_render_text(s, v, 7, &err);
        CHECK(text && !strstr(text, "title") && !strstr(text, "Title:") && strstr(text, "\"text\": \"<passage>\""),
              "untitled:\n%s", text ? text : err.msg);
        free(text);
        prompt_kv rv[] = {{"query", "Q"}, {"positive", "P"}, {"negative", "N"}, {"previous", ""}};
        text = prompt_render_text(r, rv, 4, &err);
        CHECK(text && strstr(text, "<<< N >>>") && strstr(text, "false_negative") && !strstr(text, "earlier"),
              "reflect: %s", text ? text : err.msg);
        free(text);
        free(list);
        free(attrs);
    }
    prompt_template_free(s);
    prompt_template_free(r);
    prompt_catalogue_free(c);
    free(sp); free(rp); free(ap);
    free(dir);
    /* a session's own copy wins */
    char *tmp = check_tmpdir("prompt");
    char *pd = sy_path_join(tmp, "prompts");
    sy_mkdir_p(pd, NULL);
    char *f = sy_path_join(pd, "synth.txt");
    sy_write_file_atomic(f, "[user]\nx\n", 9, NULL);
    char *found = prompt_find_dir(tmp, &err);
    CHECK(found && !strcmp(found, pd), "session prompts: %s", found ? found : err.msg);
    free(found); free(f); free(pd);
    check_rmrf(tmp);
    free(tmp);
}

int main(void)
{
    RUN(catalogue_parse_and_resolve);
    RUN(catalogue_errors_name_line);
    RUN(template_render);
    RUN(template_comments);
    RUN(shipped_prompts);
    return check_done();
}
