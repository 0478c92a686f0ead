/*
 * ustack: command-line front end. `ustack COMMAND [OPTIONS]`.
 *
 * Each subcommand lives in its own file as `int cmd_NAME(int argc, char
 * **argv)` (argv[0] is the command name) and is listed once in COMMANDS
 * below; that line declares it and puts it in the dispatch table.
 */
#include <stdio.h>
#include <string.h>

#include "options.h"

#define COMMANDS(X)                                                           \
    X(up, "bring the stack up on a TUN device and answer ping until stopped") \
    X(ping, "send ICMP echo requests from ustack and print round-trip times") \
    X(serve, "serve echo, discard, chargen and HTTP over ustack's TCP")        \
    X(connect, "open a TCP connection from ustack and relay stdin/stdout")   \
    X(plot, "draw a connection trace (--trace) as an SVG picture")          \
    X(stat, "list the TCP connections of a running ustack, like ss -ti")

#define DECLARE(name, summary) int cmd_##name(int argc, char **argv);
COMMANDS(DECLARE)
#undef DECLARE

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
#define ENTRY(name, summary) {#name, cmd_##name, summary},
    COMMANDS(ENTRY)
#undef ENTRY
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s COMMAND [OPTIONS]\n\n"
            "ustack is a TCP/IP stack that runs inside this process and talks to the\n"
            "kernel through a TUN device. Commands:\n\n",
            CLI_PROG);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "  %-8s show this help, or a command's: %s help COMMAND\n\n"
            "Options: --help, --version. Every command accepts --help.\n"
            "Creating a TUN device needs root or CAP_NET_ADMIN.\n",
            "help", CLI_PROG);
}

/* `ustack help [COMMAND]`: the same text as `ustack COMMAND --help`. */
static int help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    const struct command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "%s: unknown command '%s'; see '%s help'\n", CLI_PROG, argv[1],
                CLI_PROG);
        return 2;
    }
    char *args[] = {(char *)c->name, "--help", NULL};
    return c->run(2, args);
}

int main(int argc, char **argv)
{
    /* Line-buffered even into a pipe or file, so output from a long-running
     * `ustack up` shows up as it happens. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h"))
        return help(argc - 1, argv + 1);
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("%s %s\n", CLI_PROG, CLI_VERSION);
        return 0;
    }
    const struct command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "%s: unknown command '%s'; see '%s help'\n", CLI_PROG, name, CLI_PROG);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
