/*
 * The counter table, generated from the list in include/ustack/stats.h.
 * Printing it is the application's side (src/api/stats_print.c): the core
 * does no I/O.
 */
#include <string.h>

#include "core/stack.h"

static const struct ustack_stat_info stat_table[] = {
#define STAT_ROW(layer, name, desc) \
    {#layer "." #name, desc, offsetof(struct ustack_stats, layer##_##name)},
    USTACK_STATS(STAT_ROW)
#undef STAT_ROW
};

const struct ustack_stat_info *ustack_stat_table(size_t *count)
{
    *count = sizeof(stat_table) / sizeof(stat_table[0]);
    return stat_table;
}

uint64_t ustack_stat_value(const struct ustack_stats *stats,
                           const struct ustack_stat_info *info)
{
    uint64_t v;
    memcpy(&v, (const char *)stats + info->offset, sizeof(v));
    return v;
}

void ustack_get_stats(const struct ustack *st, struct ustack_stats *out)
{
    *out = st->stats;
}
