/*
 * apps/ustack/options.c, compiled once into the unit tier (the CLI is not
 * part of the library): the tests of its options (test_cli_*.c) use it
 * through options.h, so that more than one of them can; and their shared
 * parsing helper (cli_test.h).
 */
#include "../../apps/ustack/options.c"

#include <fcntl.h>
#include <unistd.h>

#include "cli_test.h"

static int no_own_options(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    (void)ctx, (void)key, (void)arg;
    snprintf(err, errlen, "no such option");
    return -1;
}

int cli_test_parse_(const struct cli_command *cmd, struct cli_stack_opts *so, const char **args)
{
    char *argv[8];
    int argc = 0, operands;
    argv[argc++] = (char *)cmd->name;
    while (*args && argc < 7)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    cli_stack_opts_init(so);
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0)
        dup2(null, 2);
    int rc = cli_parse(cmd, argc, argv, so, no_own_options, NULL, &operands);
    fflush(stderr);
    if (saved >= 0 && null >= 0)
        dup2(saved, 2);
    if (saved >= 0)
        close(saved);
    if (null >= 0)
        close(null);
    return rc;
}
