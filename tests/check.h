/* check.h: the tiny test harness every unit test uses.
 *
 *   CHECK(cond, "fmt", ...)          one assertion; failures print file:line and the message
 *   CHECK_EQ_INT(a, b) / CHECK_EQ_STR(a, b) / CHECK_NEAR(a, b, tol)
 *   TEST(name) { ... }  + RUN(name)  group assertions; each group counts as one test
 *   if (!check_need(path)) return;   inside a group: skip it (counted, naming the
 *                                    path) when data it needs is absent
 *   SKIP("fmt", ...)                 skip the group for another stated reason
 *   return check_done();             prints "# N passed, M failed, K skipped", exit status
 *
 * A group passes when all its assertions pass; a skipped group is neither passed
 * nor failed (a failed assertion before or after the skip still fails it).
 * Skip only for data that is really absent: tests/run.sh counts skips and fails
 * the suite when a skip names data that is present (or any data under
 * $SHARED_DATA while that folder exists). */
#ifndef SY_CHECK_H
#define SY_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_group_failed, check_group_skipped, check_passed, check_failed, check_skipped;
static const char *check_group = "main";

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            check_group_failed = 1;                                                \
            fprintf(stderr, "%s:%d: [%s] check failed: %s: ", __FILE__, __LINE__,  \
                    check_group, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                         \
    do {                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);            \
        CHECK(check_a_ == check_b_, "%s = %lld, expected %lld", #a, check_a_, check_b_); \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                         \
    do {                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                               \
        CHECK(check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0,             \
              "%s = \"%s\", expected \"%s\"", #a, check_a_ ? check_a_ : "(null)",  \
              check_b_ ? check_b_ : "(null)");                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                      \
    do {                                                                           \
        double check_a_ = (a), check_b_ = (b);                                     \
        CHECK(fabs(check_a_ - check_b_) <= (tol), "%s = %.9g, expected %.9g (tol %g)", \
              #a, check_a_, check_b_, (double)(tol));                              \
    } while (0)

/* The line tests/run.sh reads: "skip - GROUP: REASON"; a reason "needs PATH"
 * names the data the group needs. */
#define SKIP(...)                                                                  \
    do {                                                                           \
        check_group_skipped = 1;                                                   \
        printf("skip - %s: ", check_group);                                        \
        printf(__VA_ARGS__);                                                       \
        putchar('\n');                                                             \
        fflush(stdout);                                                            \
    } while (0)

/* 1 when PATH exists; otherwise the group is skipped, naming PATH, and 0. */
static inline int check_need(const char *path)
{
    if (access(path, F_OK) == 0) return 1;
    SKIP("needs %s", path);
    return 0;
}

#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                  \
    do {                                                                           \
        check_group = #name;                                                       \
        check_group_failed = 0;                                                    \
        check_group_skipped = 0;                                                   \
        test_##name();                                                             \
        if (check_group_failed) { check_failed++; printf("not ok - %s\n", #name); } \
        else if (check_group_skipped) check_skipped++;                             \
        else { check_passed++; printf("ok - %s\n", #name); }                       \
        fflush(stdout);                                                            \
    } while (0)

static inline int check_done(void)
{
    printf("# %d passed, %d failed, %d skipped\n", check_passed, check_failed, check_skipped);
    return check_failed ? 1 : 0;
}

/* A fresh temporary folder for a test (removed by the caller with check_rmrf). */
static inline char *check_tmpdir(const char *tag)
{
    char *p = malloc(256);
    const char *base = getenv("TMPDIR");
    snprintf(p, 256, "%s/syneg-test-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(p)) { perror("mkdtemp"); exit(2); }
    return p;
}
static inline void check_rmrf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}
static inline const char *check_shared_data(void)
{
    const char *d = getenv("SHARED_DATA");
    return d && *d ? d : "../shared/data";
}

#endif
