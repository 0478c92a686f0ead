/*
 * The --busy-poll stack option of every ustack subcommand that brings a
 * stack up (apps/ustack/options.c): parsed into cli_stack_opts.busy_poll_us,
 * which the session hands to ustack_runner_set_busy_poll; off by default;
 * values past the runner's limit, signs and junk are refused; commands
 * without the stack options do not take it.
 */
#include "cli_test.h" /* options.c, compiled in by cli_options.c */
#include "test.h"
#include "ustack/runner.h"

static const struct cli_command busy_with_stack = {
    .name = "up", .synopsis = "", .description = "",
    .stack_options = true, .max_operands = 0,
};
static const struct cli_command busy_without_stack = {
    .name = "plot", .synopsis = "", .description = "",
    .stack_options = false, .max_operands = 0,
};

TEST(cli_busy_poll_parsed)
{
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    CHECK_EQ(so.busy_poll_us, 0); /* not given: off */
    CHECK_EQ(cli_test_parse(&busy_with_stack, &so, "--busy-poll", "50"), CLI_PARSED);
    CHECK_EQ(so.busy_poll_us, 50);
    CHECK_EQ(cli_test_parse(&busy_with_stack, &so, "--busy-poll", "0"), CLI_PARSED);
    CHECK_EQ(so.busy_poll_us, 0);
    CHECK_EQ(cli_test_parse(&busy_with_stack, &so, "--busy-poll", "1000000"), CLI_PARSED);
    CHECK_EQ(so.busy_poll_us, USTACK_RUNNER_MAX_BUSY_POLL_US);
}

TEST(cli_busy_poll_refused)
{
    struct cli_stack_opts so;
    const char *bad[] = {"1000001", "-1", "+5", "50us", "", " 5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(cli_test_parse(&busy_with_stack, &so, "--busy-poll", bad[i]), CLI_ERROR);
        CHECK_EQ(so.busy_poll_us, 0);
    }
    /* Only commands that bring a stack up have a runner to tune. */
    CHECK_EQ(cli_test_parse(&busy_without_stack, &so, "--busy-poll", "50"), CLI_ERROR);
}
