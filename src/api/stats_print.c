/*
 * ustack_print_stats (include/ustack/ustack.h): the counters as "name value"
 * lines on a FILE. It lives here, not in src/core, because the core does no
 * I/O; it only reads the table src/core/stats.c generates.
 */
#include <stdio.h>

#include "ustack/ustack.h"

void ustack_print_stats(const struct ustack *st, void *out, bool all)
{
    FILE *f = out;
    struct ustack_stats stats;
    size_t n;
    const struct ustack_stat_info *t = ustack_stat_table(&n);
    ustack_get_stats(st, &stats);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = ustack_stat_value(&stats, &t[i]);
        if (v || all)
            fprintf(f, "%-32s %llu\n", t[i].name, (unsigned long long)v);
    }
}
