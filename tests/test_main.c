/*
 * Runner for one test tier: runs every registered test in name order.
 * Usage: <tier> [FILTER [ARGS...]]  (FILTER: substring of the test name;
 * "" or absent runs all).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static struct test_case *tests;
static int current_failed, current_skipped;
static char skip_reason[256];
static int extra_argc;
static char **extra_argv;

void test_register(struct test_case *tc)
{
    /* Insert sorted by name so output order does not depend on link order. */
    struct test_case **p = &tests;
    while (*p && strcmp((*p)->name, tc->name) < 0)
        p = &(*p)->next;
    tc->next = *p;
    *p = tc;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    current_failed = 1;
}

void test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
    va_end(ap);
    current_skipped = 1;
}

int test_failed(void)
{
    return current_failed;
}

const char *test_arg(int i)
{
    return i < extra_argc ? extra_argv[i] : NULL;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : "";
    extra_argc = argc > 2 ? argc - 2 : 0;
    extra_argv = argv + 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, failed = 0, skipped = 0;
    for (struct test_case *tc = tests; tc; tc = tc->next) {
        if (*filter && !strstr(tc->name, filter))
            continue;
        current_failed = current_skipped = 0;
        tc->fn();
        if (current_failed) {
            printf("FAIL %s\n", tc->name);
            failed++;
        } else if (current_skipped) {
            printf("SKIP %s: %s\n", tc->name, skip_reason);
            skipped++;
        } else {
            printf("PASS %s\n", tc->name);
            passed++;
        }
    }
    printf("tier: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
