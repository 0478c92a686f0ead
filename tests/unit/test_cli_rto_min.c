/*
 * The --rto-min TCP option of `ustack serve` and `ustack connect`
 * (apps/ustack/options.c): parsed into cli_stack_opts.rto_min_ms, which
 * the session hands to the stack as cfg.tcp.rto_min_ms; only commands
 * that take the TCP options accept it; bad values are refused.
 */
#include "../../apps/ustack/options.h" /* compiled in by cli_options.c */

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "test.h"

static const struct cli_command with_tcp = {
    .name = "serve", .synopsis = "", .description = "",
    .stack_options = true, .tcp_options = true, .max_operands = 0,
};
static const struct cli_command without_tcp = {
    .name = "up", .synopsis = "", .description = "",
    .stack_options = true, .tcp_options = false, .max_operands = 0,
};

static int no_own_options(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    (void)ctx, (void)key, (void)arg;
    snprintf(err, errlen, "no such option");
    return -1;
}

/* Parse "<cmd> --rto-min VALUE" with stderr (the refusals) sent to
 * /dev/null meanwhile. */
static int parse_rto_min(const struct cli_command *cmd, const char *value,
                         struct cli_stack_opts *so)
{
    char *argv[] = {(char *)cmd->name, "--rto-min", (char *)value, NULL};
    int operands;
    cli_stack_opts_init(so);
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0)
        dup2(null, 2);
    int rc = cli_parse(cmd, 3, argv, so, no_own_options, NULL, &operands);
    fflush(stderr);
    if (saved >= 0 && null >= 0)
        dup2(saved, 2);
    if (saved >= 0)
        close(saved);
    if (null >= 0)
        close(null);
    return rc;
}

TEST(cli_rto_min_parsed)
{
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    CHECK_EQ(so.rto_min_ms, 0); /* not given: the stack's default (1 s) */
    CHECK_EQ(parse_rto_min(&with_tcp, "200", &so), CLI_PARSED);
    CHECK_EQ(so.rto_min_ms, 200);
    CHECK_EQ(parse_rto_min(&with_tcp, "1", &so), CLI_PARSED);
    CHECK_EQ(so.rto_min_ms, 1);
    CHECK_EQ(parse_rto_min(&with_tcp, "60000", &so), CLI_PARSED);
    CHECK_EQ(so.rto_min_ms, 60000);
}

TEST(cli_rto_min_refused)
{
    struct cli_stack_opts so;
    const char *bad[] = {"0", "60001", "-5", "200ms", "", " 200", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(parse_rto_min(&with_tcp, bad[i], &so), CLI_ERROR);
        CHECK_EQ(so.rto_min_ms, 0);
    }
    /* A command without the TCP options does not know it. */
    CHECK_EQ(parse_rto_min(&without_tcp, "200", &so), CLI_ERROR);
    CHECK_EQ(so.rto_min_ms, 0);
}
