/*
 * Shared by the tests of the CLI's options (test_cli_*.c): parse
 * "<cmd> ARGS..." (at most 6 arguments) with cli_parse() into a fresh
 * `so`, the command having no options of its own, and with stderr (where
 * refusals are explained) sent to /dev/null meanwhile. Returns what
 * cli_parse() returns. Defined in cli_options.c.
 *
 *     cli_test_parse(&cmd, &so, "--rto-min", "200")
 */
#ifndef USTACK_TEST_CLI_TEST_H
#define USTACK_TEST_CLI_TEST_H

#include "../../apps/ustack/options.h"

#define cli_test_parse(cmd, so, ...) cli_test_parse_(cmd, so, (const char *[]){__VA_ARGS__, NULL})
int cli_test_parse_(const struct cli_command *cmd, struct cli_stack_opts *so, const char **args);

#endif
