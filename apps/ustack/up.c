/*
 * `ustack up`: bring the stack up and answer ping until stopped.
 */
#include <stdio.h>
#include <unistd.h>

#include "options.h"
#include "session.h"

static const struct cli_command up_command = {
    .name = "up",
    .synopsis = "[OPTIONS]",
    .description =
        "Create a TUN device, give the kernel's end of it an address, and run ustack\n"
        "on the other end. ustack answers ping (and, as they arrive, more protocols)\n"
        "until SIGINT or SIGTERM, then prints its counters. SIGUSR1 prints the\n"
        "counters without stopping.\n\n"
        "Example:\n"
        "  ustack up --ifname ustack0 --kernel-addr 10.0.0.1/24 --addr 10.0.0.2\n"
        "  ping 10.0.0.2            # in another terminal",
    .options = NULL,
    .stack_options = true,
    .obs_options = true,
    .min_operands = 0,
    .max_operands = 0,
};

static int no_own_options(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    (void)ctx;
    (void)arg;
    snprintf(err, errlen, "unhandled option %d", key);
    return -1;
}

int cmd_up(int argc, char **argv)
{
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    int first;
    int rc = cli_parse(&up_command, argc, argv, &so, no_own_options, NULL, &first);
    if (rc != CLI_PARSED)
        return rc == CLI_HELP_SHOWN ? 0 : 2;

    struct cli_session s;
    if (cli_session_open(&s, up_command.name, &so) < 0)
        return 1;
    char where[96], k[16], a[16];
    printf("ustack %s is up on %s: kernel side %s/%u, ustack %s, MTU %u%s%s\n", CLI_VERSION,
           cli_session_where(&s, where, sizeof(where)), ustack_format_ipv4(so.kernel_addr, k),
           so.prefix_len, ustack_format_ipv4(so.addr, a), s.link->mtu,
           so.pcap ? ", capturing to " : "", so.pcap ? so.pcap : "");
    printf("Stop with Ctrl-C or SIGTERM; `kill -USR1 %ld` prints the counters.\n",
           (long)getpid());

    rc = cli_session_run(&s);
    cli_session_print_stats(&s, "ustack stopped; counters");
    cli_session_close(&s);
    return rc < 0 ? 1 : 0;
}
