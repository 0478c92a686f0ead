/*
 * The --busy-poll stack option of every ustack subcommand that brings a
 * stack up (apps/ustack/options.c): parsed into cli_stack_opts.busy_poll_us,
 * which the session hands to ustack_runner_set_busy_poll; off by default;
 * values past the runner's limit, signs and junk are refused; commands
 * without the stack options do not take it.
 */
#include "../../apps/ustack/options.h" /* compiled in by cli_options.c */

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

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

static int busy_no_own_options(void *ctx, int key, const char *arg, char *err,
                               size_t errlen)
{
    (void)ctx, (void)key, (void)arg;
    snprintf(err, errlen, "no such option");
    return -1;
}

/* Parse "<cmd> --busy-poll VALUE" with stderr (the refusals) sent to
 * /dev/null meanwhile. */
static int parse_busy_poll(const struct cli_command *cmd, const char *value,
                           struct cli_stack_opts *so)
{
    char *argv[] = {(char *)cmd->name, "--busy-poll", (char *)value, NULL};
    int operands;
    cli_stack_opts_init(so);
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0)
        dup2(null, 2);
    int rc = cli_parse(cmd, 3, argv, so, busy_no_own_options, NULL, &operands);
    fflush(stderr);
    if (saved >= 0 && null >= 0)
        dup2(saved, 2);
    if (saved >= 0)
        close(saved);
    if (null >= 0)
        close(null);
    return rc;
}

TEST(cli_busy_poll_parsed)
{
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    CHECK_EQ(so.busy_poll_us, 0); /* not given: off */
    CHECK_EQ(parse_busy_poll(&busy_with_stack, "50", &so), CLI_PARSED);
    CHECK_EQ(so.busy_poll_us, 50);
    CHECK_EQ(parse_busy_poll(&busy_with_stack, "0", &so), CLI_PARSED);
    CHECK_EQ(so.busy_poll_us, 0);
    CHECK_EQ(parse_busy_poll(&busy_with_stack, "1000000", &so), CLI_PARSED);
    CHECK_EQ(so.busy_poll_us, USTACK_RUNNER_MAX_BUSY_POLL_US);
}

TEST(cli_busy_poll_refused)
{
    struct cli_stack_opts so;
    const char *bad[] = {"1000001", "-1", "+5", "50us", "", " 5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(parse_busy_poll(&busy_with_stack, bad[i], &so), CLI_ERROR);
        CHECK_EQ(so.busy_poll_us, 0);
    }
    /* Only commands that bring a stack up have a runner to tune. */
    CHECK_EQ(parse_busy_poll(&busy_without_stack, "50", &so), CLI_ERROR);
}
