/*
 * A minimal test framework.
 *
 *   TEST(ip4_drops_bad_version) {
 *       CHECK_EQ(stats.ip_drop_bad_version, 1);
 *   }
 *
 * Tests register themselves; each tier's binary runs them all (or those whose
 * name contains argv[1]) and prints one line per test:
 *   PASS name | FAIL name | SKIP name: reason
 * tests/run.sh adds the lines of every tier into the final summary.
 * A failed CHECK reports file:line and lets the test continue; REQUIRE
 * returns from the test.
 */
#ifndef USTACK_TEST_H
#define USTACK_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct test_case {
    const char *name;
    void (*fn)(void);
    struct test_case *next;
};

void test_register(struct test_case *tc);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int test_failed(void); /* has the running test failed so far? */

/* Arguments after the filter (argv[2..]) for tests that take parameters,
 * e.g. a seed to replay. NULL when absent. */
const char *test_arg(int i);

#define TEST(name)                                                            \
    static void test_fn_##name(void);                                         \
    static struct test_case test_case_##name = {#name, test_fn_##name, 0};    \
    __attribute__((constructor)) static void test_reg_##name(void)            \
    {                                                                         \
        test_register(&test_case_##name);                                     \
    }                                                                         \
    static void test_fn_##name(void)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                \
    } while (0)

#define REQUIRE(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);              \
            return;                                                           \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        unsigned long long check_a_ = (unsigned long long)(a);                \
        unsigned long long check_b_ = (unsigned long long)(b);                \
        if (check_a_ != check_b_)                                             \
            test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %llu != %llu",   \
                      #a, #b, check_a_, check_b_);                            \
    } while (0)

#define CHECK_MEM(a, b, n)                                                    \
    do {                                                                      \
        if (memcmp((a), (b), (n)) != 0)                                       \
            test_fail(__FILE__, __LINE__, "CHECK_MEM(%s, %s, %s) differ",     \
                      #a, #b, #n);                                            \
    } while (0)

#define SKIP(...)                                                             \
    do {                                                                      \
        test_skip(__VA_ARGS__);                                               \
        return;                                                               \
    } while (0)

#endif
