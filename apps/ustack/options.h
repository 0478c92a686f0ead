/*
 * Command-line parsing shared by every ustack subcommand.
 *
 * A subcommand describes itself with a struct cli_command: its synopsis,
 * a paragraph of help, its own options, and whether it takes the shared
 * "stack options" (--ifname, --kernel-addr, --addr, --netns, --pcap, --mtu,
 * --impair, --busy-poll, -v, ...), which every subcommand that brings a
 * stack up accepts. cli_parse()
 * handles the shared options and --help itself and hands the command's own
 * options to a callback, so `--help` output and error messages look the
 * same everywhere.
 */
#ifndef USTACK_APP_OPTIONS_H
#define USTACK_APP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/impair.h"

#define CLI_PROG "ustack"
#define CLI_VERSION "0.1.0"

/* Everything needed to bring a stack up on a TUN (or TAP) device. */
struct cli_stack_opts {
    const char *ifname;     /* TUN or TAP device name */
    bool tap;               /* --tap: a TAP device, Ethernet and ARP */
    bool has_mac;           /* --mac given (TAP only) */
    uint8_t mac[6];
    const char *netns;      /* create the device in this namespace, or NULL */
    const char *pcap;       /* capture file, or NULL */
    uint32_t kernel_addr;   /* kernel side of the link, host order */
    unsigned prefix_len;    /* its prefix length */
    uint32_t addr;          /* ustack's address, host order */
    unsigned mtu;
    int verbose;            /* number of -v */
    /* --impair [in:|out:]SPEC (repeatable, merged in order): the link is
     * wrapped in an impairment decorator when impair_on. */
    struct ustack_impair_config impair;
    bool impair_on;
    /* --busy-poll USEC: the runner polls this long before it sleeps
     * (ustack_runner_set_busy_poll); 0 = off. */
    unsigned busy_poll_us;

    /* TCP options, for commands with tcp_options (0: not given). */
    unsigned user_timeout_ms;  /* --user-timeout MS */
    unsigned keep_idle_s;      /* --keepalive IDLE,INTVL,CNT */
    unsigned keep_intvl_s;
    unsigned keep_cnt;
    /* --rto-min MS: the stack's minimum RTO (cfg.tcp.rto_min_ms), for
     * every connection; 0 keeps RFC 6298's 1 s. */
    unsigned rto_min_ms;
    int congestion;            /* --congestion: an enum ustack_tcp_cc */
    unsigned sndbuf, rcvbuf;   /* --sndbuf, --rcvbuf BYTES (SO_SNDBUF,
                                  SO_RCVBUF) */

    /* Observability, for commands with obs_options. */
    const char *trace_dir;     /* --trace DIR: a CSV trace per connection */
    unsigned trace_max_files;  /* --trace-max-files N */
    uint64_t trace_max_bytes;  /* --trace-max-bytes BYTES (per file) */
    const char *ctl_path;      /* --ctl PATH (NULL: the default path) */
    bool ctl_off;              /* --no-ctl */
    bool obs;                  /* the command has them (cli_parse sets it) */
};

/* One option of a subcommand. */
struct cli_option {
    const char *name; /* long name without "--", e.g. "count" */
    int key;          /* short letter ('c'), or CLI_LONG_ONLY + n */
    const char *arg;  /* argument name for --help ("COUNT"), NULL for a flag */
    const char *help; /* one line */
};

#define CLI_LONG_ONLY 256

/* A command's own option handler: store `arg` for option `key`. Returns 0,
 * or -1 after writing a one-line reason into err. */
typedef int (*cli_option_fn)(void *ctx, int key, const char *arg, char *err,
                             size_t errlen);

struct cli_command {
    const char *name;        /* "ping" */
    const char *synopsis;    /* after "ustack ping ": "[OPTIONS] DEST" */
    const char *description; /* what the command does, may span lines */
    const struct cli_option *options; /* own options, ends with {0}; or NULL */
    bool stack_options;      /* accepts the shared stack options */
    bool tcp_options;        /* accepts --user-timeout, --keepalive, --rto-min,
                                --congestion, --sndbuf, --rcvbuf */
    bool obs_options;        /* accepts --trace, --ctl (long-running) */
    int min_operands, max_operands;
};

/* Results of cli_parse. */
enum { CLI_ERROR = -1, CLI_HELP_SHOWN = 0, CLI_PARSED = 1 };

/* Defaults of the shared stack options. */
void cli_stack_opts_init(struct cli_stack_opts *so);

/* Parse argv (argv[0] is the command name). On CLI_PARSED, *operands is the
 * index of the first operand in argv and the operand count was checked. On
 * CLI_ERROR a message was printed to stderr; on CLI_HELP_SHOWN, the usage
 * was printed to stdout. `so` may be NULL for commands without stack
 * options. */
int cli_parse(const struct cli_command *cmd, int argc, char **argv,
              struct cli_stack_opts *so, cli_option_fn own, void *ctx, int *operands);

/* Print the usage of cmd to stdout. */
void cli_usage(const struct cli_command *cmd);

/* One-line error in the common style: "ustack CMD: message". */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The socket options the TCP options ask for, as (option, value) pairs
 * to pass to ustack_setsockopt or ustack_bsd_setsockopt (on a listener,
 * accepted connections inherit them). Returns how many were written. */
struct cli_sockopt {
    int opt, value;
};
#define CLI_TCP_SOCKOPTS_MAX 8
size_t cli_tcp_sockopts(const struct cli_stack_opts *so,
                        struct cli_sockopt out[CLI_TCP_SOCKOPTS_MAX]);

/* Largest --rto-min: the default maximum RTO (60 s). */
#define CLI_RTO_MIN_MAX_MS 60000

/* --sndbuf and --rcvbuf: what the stack accepts without clamping, from its
 * smallest buffer to its default cfg.tcp.buf_max (16 MiB). */
#define CLI_BUF_MIN 256
#define CLI_BUF_MAX (16u << 20)

/* Strict decimal parser: the whole string, in [min, max]. 0 or -1. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
