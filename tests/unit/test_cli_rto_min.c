/*
 * The --rto-min TCP option of `ustack serve` and `ustack connect`
 * (apps/ustack/options.c): parsed into cli_stack_opts.rto_min_ms, which
 * the session hands to the stack as cfg.tcp.rto_min_ms; only commands
 * that take the TCP options accept it; bad values are refused.
 */
#include "cli_test.h" /* options.c, compiled in by cli_options.c */
#include "test.h"

static const struct cli_command with_tcp = {
    .name = "serve", .synopsis = "", .description = "",
    .stack_options = true, .tcp_options = true, .max_operands = 0,
};
static const struct cli_command without_tcp = {
    .name = "up", .synopsis = "", .description = "",
    .stack_options = true, .tcp_options = false, .max_operands = 0,
};

TEST(cli_rto_min_parsed)
{
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    CHECK_EQ(so.rto_min_ms, 0); /* not given: the stack's default (1 s) */
    CHECK_EQ(cli_test_parse(&with_tcp, &so, "--rto-min", "200"), CLI_PARSED);
    CHECK_EQ(so.rto_min_ms, 200);
    CHECK_EQ(cli_test_parse(&with_tcp, &so, "--rto-min", "1"), CLI_PARSED);
    CHECK_EQ(so.rto_min_ms, 1);
    CHECK_EQ(cli_test_parse(&with_tcp, &so, "--rto-min", "60000"), CLI_PARSED);
    CHECK_EQ(so.rto_min_ms, 60000);
}

TEST(cli_rto_min_refused)
{
    struct cli_stack_opts so;
    const char *bad[] = {"0", "60001", "-5", "200ms", "", " 200", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(cli_test_parse(&with_tcp, &so, "--rto-min", bad[i]), CLI_ERROR);
        CHECK_EQ(so.rto_min_ms, 0);
    }
    /* A command without the TCP options does not know it. */
    CHECK_EQ(cli_test_parse(&without_tcp, &so, "--rto-min", "200"), CLI_ERROR);
    CHECK_EQ(so.rto_min_ms, 0);
}
