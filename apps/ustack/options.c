/*
 * Shared command-line parsing for the ustack subcommands (see options.h).
 * Built on getopt_long, with our own messages instead of getopt's.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_writer.h"
#include "ustack/runner.h"
#include "ustack/socket.h"
#include "ustack/ustack.h"

#define DEFAULT_IFNAME "ustack0"
#define DEFAULT_KERNEL_ADDR 0x0a000001u /* 10.0.0.1 */
#define DEFAULT_PREFIX_LEN 24
#define DEFAULT_ADDR 0x0a000002u /* 10.0.0.2 */
#define DEFAULT_MTU 1500
#define MIN_MTU 68    /* RFC 791: every IPv4 link carries 68-byte packets */
#define MAX_MTU 65535

#define MAX_OPTIONS 48

/* Keys of the shared options, far above any command's own keys. */
enum {
    KEY_IFNAME = CLI_LONG_ONLY + 1000,
    KEY_KERNEL_ADDR,
    KEY_ADDR,
    KEY_NETNS,
    KEY_PCAP,
    KEY_MTU,
    /* The TCP options, KEY_USER_TIMEOUT..KEY_RCVBUF (is_tcp_key). */
    KEY_USER_TIMEOUT,
    KEY_KEEPALIVE,
    KEY_RTO_MIN,
    KEY_CONGESTION,
    KEY_SNDBUF,
    KEY_RCVBUF,
    KEY_IMPAIR,
    KEY_TAP,
    KEY_MAC,
    KEY_TRACE,
    KEY_TRACE_MAX_FILES,
    KEY_TRACE_MAX_BYTES,
    KEY_CTL,
    KEY_NO_CTL,
    KEY_BUSY_POLL,
    KEY_VERBOSE = 'v',
    KEY_HELP = 'h',
};

static const struct cli_option stack_options[] = {
    {"ifname", KEY_IFNAME, "NAME", "device to create (default " DEFAULT_IFNAME ")"},
    {"tap", KEY_TAP, NULL, "a TAP device (Ethernet, ARP) instead of TUN"},
    {"mac", KEY_MAC, "XX:XX:XX:XX:XX:XX",
     "ustack's MAC with --tap (default: a random local one)"},
    {"kernel-addr", KEY_KERNEL_ADDR, "A.B.C.D/LEN", "kernel side's address (default 10.0.0.1/24)"},
    {"addr", KEY_ADDR, "A.B.C.D", "ustack's address, in that prefix (default 10.0.0.2)"},
    {"netns", KEY_NETNS, "NAME", "create the device in netns NAME (ip netns add)"},
    {"pcap", KEY_PCAP, "FILE", "record every frame in and out to FILE (pcap)"},
    {"mtu", KEY_MTU, "BYTES", "link MTU, 68..65535 (default 1500)"},
    {"impair", KEY_IMPAIR, "[in:|out:]SPEC",
     "impair frames, e.g. loss=5%,delay=20ms (repeatable; README)"},
    {"busy-poll", KEY_BUSY_POLL, "USEC",
     "poll USEC us before sleeping, 0..1000000 (default 0: off)"},
    {"verbose", KEY_VERBOSE, NULL, "log the stack's messages (-vv: and every frame)"},
    {0, 0, 0, 0},
};

static const struct cli_option tcp_options[] = {
    {"user-timeout", KEY_USER_TIMEOUT, "MS",
     "fail a connection whose data stays unacknowledged MS ms"},
    {"keepalive", KEY_KEEPALIVE, "IDLE,INTVL,CNT",
     "probe an idle connection after IDLE s, every INTVL s; fail after CNT"},
    {"rto-min", KEY_RTO_MIN, "MS",
     "lower bound on the retransmission timeout, 1..60000 (default 1000)"},
    {"congestion", KEY_CONGESTION, "ALGO", "congestion control: cubic (default), newreno or bbr"},
    {"sndbuf", KEY_SNDBUF, "BYTES",
     "send buffer, 256..16M (K, M suffixes), fixed; default 256K..4M auto"},
    {"rcvbuf", KEY_RCVBUF, "BYTES",
     "receive buffer, the largest window offered, 256..16M (default 256K)"},
    {0, 0, 0, 0},
};

static const struct cli_option obs_options[] = {
    {"trace", KEY_TRACE, "DIR", "write a CSV trace of every TCP connection into DIR"},
    {"trace-max-files", KEY_TRACE_MAX_FILES, "N",
     "trace at most N connections (default 64)"},
    {"trace-max-bytes", KEY_TRACE_MAX_BYTES, "BYTES",
     "stop a trace file at BYTES (default 16777216)"},
    {"ctl", KEY_CTL, "PATH",
     "control socket for `ustack stat` (default /run/ustack/IFNAME.sock)"},
    {"no-ctl", KEY_NO_CTL, NULL, "no control socket"},
    {0, 0, 0, 0},
};

static const struct cli_option help_option[] = {
    {"help", KEY_HELP, NULL, "show this help and exit"},
    {0, 0, 0, 0},
};

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s %s: ", CLI_PROG, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1; /* no sign, no space, not empty */
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

void cli_stack_opts_init(struct cli_stack_opts *so)
{
    memset(so, 0, sizeof(*so));
    so->ifname = DEFAULT_IFNAME;
    so->kernel_addr = DEFAULT_KERNEL_ADDR;
    so->prefix_len = DEFAULT_PREFIX_LEN;
    so->addr = DEFAULT_ADDR;
    so->mtu = DEFAULT_MTU;
    ustack_impair_config_init(&so->impair);
    so->trace_max_files = TRACE_DEFAULT_MAX_FILES;
    so->trace_max_bytes = TRACE_DEFAULT_MAX_BYTES;
}

/* ---- usage --------------------------------------------------------------- */

static void print_options(const struct cli_option *opts)
{
    for (; opts && opts->name; opts++) {
        char left[64];
        int n = 0;
        if (opts->key < CLI_LONG_ONLY)
            n = snprintf(left, sizeof(left), "-%c, ", opts->key);
        snprintf(left + n, sizeof(left) - (size_t)n, "--%s%s%s", opts->name,
                 opts->arg ? " " : "", opts->arg ? opts->arg : "");
        printf("  %-26s %s\n", left, opts->help);
    }
}

void cli_usage(const struct cli_command *cmd)
{
    printf("Usage: %s %s %s\n\n%s\n", CLI_PROG, cmd->name, cmd->synopsis, cmd->description);
    if (cmd->options && cmd->options->name) {
        printf("\nOptions:\n");
        print_options(cmd->options);
    }
    if (cmd->tcp_options) {
        printf("\nTCP options:\n");
        print_options(tcp_options);
    }
    if (cmd->obs_options) {
        printf("\nObservability options:\n");
        print_options(obs_options);
    }
    if (cmd->stack_options) {
        printf("\nStack options:\n");
        print_options(stack_options);
    }
    printf("\n");
    print_options(help_option);
}

/* ---- shared option values ------------------------------------------------ */

/* "xx:xx:xx:xx:xx:xx" (hex, either case) into mac. The address must be
 * usable by a host: unicast (low bit of the first octet clear), not zero. */
static int parse_mac(const char *s, uint8_t mac[6])
{
    if (strlen(s) != 17)
        return -1;
    for (int i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
            (i < 5 && p[2] != ':'))
            return -1;
        mac[i] = (uint8_t)strtoul((char[]){p[0], p[1], 0}, NULL, 16);
    }
    if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
        return -1;
    return 0;
}

static int stack_option(struct cli_stack_opts *so, int key, const char *arg, char *err,
                        size_t errlen)
{
    unsigned long v;
    switch (key) {
    case KEY_IFNAME:
        so->ifname = arg;
        return 0;
    case KEY_NETNS:
        so->netns = arg;
        return 0;
    case KEY_PCAP:
        so->pcap = arg;
        return 0;
    case KEY_VERBOSE:
        so->verbose++;
        return 0;
    case KEY_TAP:
        so->tap = true;
        return 0;
    case KEY_MAC:
        if (parse_mac(arg, so->mac) == 0) {
            so->has_mac = true;
            return 0;
        }
        snprintf(err, errlen,
                 "--mac wants a unicast MAC address like 02:00:00:00:00:01, not '%s'", arg);
        return -1;
    case KEY_KERNEL_ADDR:
        if (ustack_parse_cidr(arg, &so->kernel_addr, &so->prefix_len) == 0)
            return 0;
        snprintf(err, errlen, "--kernel-addr wants A.B.C.D/LEN, not '%s'", arg);
        return -1;
    case KEY_ADDR:
        if (ustack_parse_ipv4(arg, &so->addr) == 0)
            return 0;
        snprintf(err, errlen, "--addr wants an IPv4 address A.B.C.D, not '%s'", arg);
        return -1;
    case KEY_MTU:
        if (cli_parse_uint(arg, MIN_MTU, MAX_MTU, &v) == 0) {
            so->mtu = (unsigned)v;
            return 0;
        }
        snprintf(err, errlen, "--mtu wants a number from %d to %d, not '%s'", MIN_MTU,
                 MAX_MTU, arg);
        return -1;
    case KEY_BUSY_POLL:
        if (cli_parse_uint(arg, 0, USTACK_RUNNER_MAX_BUSY_POLL_US, &v) == 0) {
            so->busy_poll_us = (unsigned)v;
            return 0;
        }
        snprintf(err, errlen, "--busy-poll wants microseconds from 0 to %d, not '%s'",
                 USTACK_RUNNER_MAX_BUSY_POLL_US, arg);
        return -1;
    case KEY_IMPAIR: {
        char why[200];
        if (ustack_impair_parse(arg, &so->impair, why, sizeof(why)) == 0) {
            so->impair_on = true;
            return 0;
        }
        snprintf(err, errlen, "--impair: %s", why);
        return -1;
    }
    }
    snprintf(err, errlen, "internal error: unhandled option");
    return -1;
}

/* ---- TCP option values ------------------------------------------------------ */

/* "IDLE,INTVL,CNT": seconds, seconds, probes (ranges of ustack/socket.h). */
static int parse_keepalive(struct cli_stack_opts *so, const char *arg)
{
    char buf[64];
    if (strlen(arg) >= sizeof(buf))
        return -1;
    strcpy(buf, arg);
    char *intvl = strchr(buf, ',');
    char *cnt = intvl ? strchr(intvl + 1, ',') : NULL;
    if (!cnt)
        return -1;
    *intvl++ = '\0';
    *cnt++ = '\0';
    unsigned long i, v, n;
    if (cli_parse_uint(buf, 1, 32767, &i) < 0 || cli_parse_uint(intvl, 1, 32767, &v) < 0 ||
        cli_parse_uint(cnt, 1, 127, &n) < 0)
        return -1;
    so->keep_idle_s = (unsigned)i;
    so->keep_intvl_s = (unsigned)v;
    so->keep_cnt = (unsigned)n;
    return 0;
}

/* "cubic", "newreno" or "bbr": the names of src/tcp's algorithms. */
static int parse_congestion(struct cli_stack_opts *so, const char *arg)
{
    int algo = ustack_tcp_cc_from_name(arg);
    if (algo < 0)
        return -1;
    so->congestion = algo;
    return 0;
}

/* A buffer size: decimal bytes, or KiB or MiB with a K or M suffix
 * ("4M"), within [CLI_BUF_MIN, CLI_BUF_MAX]. Outside it the stack would
 * clamp the value silently; here it is refused. */
static int parse_buffer_size(const char *arg, unsigned *out)
{
    char digits[16];
    size_t len = strlen(arg);
    unsigned long unit = 1, v;
    if (len && (arg[len - 1] == 'K' || arg[len - 1] == 'k'))
        unit = 1024;
    else if (len && (arg[len - 1] == 'M' || arg[len - 1] == 'm'))
        unit = 1024 * 1024;
    if (unit > 1)
        len--;
    if (len == 0 || len >= sizeof(digits))
        return -1;
    memcpy(digits, arg, len);
    digits[len] = '\0';
    if (cli_parse_uint(digits, 0, CLI_BUF_MAX / unit, &v) < 0 || v * unit < CLI_BUF_MIN)
        return -1;
    *out = (unsigned)(v * unit);
    return 0;
}

static int tcp_option(struct cli_stack_opts *so, int key, const char *arg, char *err,
                      size_t errlen)
{
    unsigned long v;
    if (key == KEY_USER_TIMEOUT) {
        if (cli_parse_uint(arg, 1, 2147483647, &v) == 0) {
            so->user_timeout_ms = (unsigned)v;
            return 0;
        }
        snprintf(err, errlen, "--user-timeout wants milliseconds, 1 or more, not '%s'", arg);
        return -1;
    }
    if (key == KEY_RTO_MIN) {
        if (cli_parse_uint(arg, 1, CLI_RTO_MIN_MAX_MS, &v) == 0) {
            so->rto_min_ms = (unsigned)v;
            return 0;
        }
        snprintf(err, errlen, "--rto-min wants milliseconds from 1 to %d, not '%s'",
                 CLI_RTO_MIN_MAX_MS, arg);
        return -1;
    }
    if (key == KEY_CONGESTION) {
        if (parse_congestion(so, arg) == 0)
            return 0;
        snprintf(err, errlen, "--congestion wants cubic, newreno or bbr, not '%s'", arg);
        return -1;
    }
    if (key == KEY_SNDBUF || key == KEY_RCVBUF) {
        if (parse_buffer_size(arg, key == KEY_SNDBUF ? &so->sndbuf : &so->rcvbuf) == 0)
            return 0;
        snprintf(err, errlen, "--%s wants bytes from %u to %u (or with K or M: 4M), not '%s'",
                 key == KEY_SNDBUF ? "sndbuf" : "rcvbuf", CLI_BUF_MIN, CLI_BUF_MAX, arg);
        return -1;
    }
    if (parse_keepalive(so, arg) == 0)
        return 0;
    snprintf(err, errlen, "--keepalive wants IDLE,INTVL,CNT (seconds 1..32767, seconds "
                          "1..32767, probes 1..127), not '%s'", arg);
    return -1;
}

static bool is_tcp_key(int key)
{
    return key >= KEY_USER_TIMEOUT && key <= KEY_RCVBUF; /* in enum order */
}

/* ---- Observability option values --------------------------------------------- */

static bool is_obs_key(int key)
{
    return key >= KEY_TRACE && key <= KEY_NO_CTL;
}

static int obs_option(struct cli_stack_opts *so, int key, const char *arg, char *err,
                      size_t errlen)
{
    unsigned long v;
    switch (key) {
    case KEY_TRACE:
        so->trace_dir = arg;
        return 0;
    case KEY_CTL:
        so->ctl_path = arg;
        return 0;
    case KEY_NO_CTL:
        so->ctl_off = true;
        return 0;
    case KEY_TRACE_MAX_FILES:
        /* Each open file is a descriptor: stay well inside the usual
         * limits. */
        if (cli_parse_uint(arg, 1, 100000, &v) == 0) {
            so->trace_max_files = (unsigned)v;
            return 0;
        }
        snprintf(err, errlen, "--trace-max-files wants a number from 1 to 100000, not '%s'",
                 arg);
        return -1;
    default: /* KEY_TRACE_MAX_BYTES */
        if (cli_parse_uint(arg, 256, 1ul << 40, &v) == 0) {
            so->trace_max_bytes = v;
            return 0;
        }
        snprintf(err, errlen, "--trace-max-bytes wants a byte count from 256 to 2^40, not '%s'",
                 arg);
        return -1;
    }
}

size_t cli_tcp_sockopts(const struct cli_stack_opts *so,
                        struct cli_sockopt out[CLI_TCP_SOCKOPTS_MAX])
{
    size_t n = 0;
    if (so->user_timeout_ms)
        out[n++] = (struct cli_sockopt){USTACK_TCP_USER_TIMEOUT, (int)so->user_timeout_ms};
    if (so->keep_cnt) {
        out[n++] = (struct cli_sockopt){USTACK_TCP_KEEPIDLE, (int)so->keep_idle_s};
        out[n++] = (struct cli_sockopt){USTACK_TCP_KEEPINTVL, (int)so->keep_intvl_s};
        out[n++] = (struct cli_sockopt){USTACK_TCP_KEEPCNT, (int)so->keep_cnt};
        out[n++] = (struct cli_sockopt){USTACK_SO_KEEPALIVE, 1};
    }
    if (so->congestion)
        out[n++] = (struct cli_sockopt){USTACK_TCP_CONGESTION, so->congestion};
    if (so->sndbuf)
        out[n++] = (struct cli_sockopt){USTACK_SO_SNDBUF, (int)so->sndbuf};
    /* Set before connect() or listen(): our window scale is chosen from
     * SO_RCVBUF when the SYN or SYN-ACK goes out (RFC 7323 §2.3). */
    if (so->rcvbuf)
        out[n++] = (struct cli_sockopt){USTACK_SO_RCVBUF, (int)so->rcvbuf};
    return n;
}

/* The two addresses must share a subnet, or the kernel has no route to
 * ustack's address; neither may be the subnet's network or broadcast
 * address (RFC 1122 §3.2.1.3), which only exist from /30 down. */
static int check_addresses(const struct cli_stack_opts *so, char *err, size_t errlen)
{
    uint32_t mask = so->prefix_len ? ~(uint32_t)0 << (32 - so->prefix_len) : 0;
    char a[16], k[16];
    ustack_format_ipv4(so->addr, a);
    ustack_format_ipv4(so->kernel_addr, k);
    if (so->addr == so->kernel_addr) {
        snprintf(err, errlen, "--addr and --kernel-addr are both %s; they must differ", a);
        return -1;
    }
    if ((so->addr & mask) != (so->kernel_addr & mask)) {
        snprintf(err, errlen,
                 "--addr %s is outside the kernel side's prefix %s/%u, so the kernel "
                 "could not reach it",
                 a, k, so->prefix_len);
        return -1;
    }
    if (so->prefix_len <= 30) {
        uint32_t host = ~mask;
        if ((so->addr & host) == 0 || (so->addr & host) == host) {
            snprintf(err, errlen, "--addr %s is the network or broadcast address of /%u", a,
                     so->prefix_len);
            return -1;
        }
        if ((so->kernel_addr & host) == 0 || (so->kernel_addr & host) == host) {
            snprintf(err, errlen, "--kernel-addr %s is the network or broadcast address of /%u",
                     k, so->prefix_len);
            return -1;
        }
    }
    return 0;
}

/* ---- getopt tables ------------------------------------------------------- */

struct getopt_tables {
    struct option longopts[MAX_OPTIONS + 1];
    char shortopts[3 * MAX_OPTIONS + 2];
    size_t nlong, nshort;
};

static void add_options(struct getopt_tables *t, const struct cli_option *opts)
{
    for (; opts && opts->name && t->nlong < MAX_OPTIONS; opts++) {
        t->longopts[t->nlong++] = (struct option){
            opts->name, opts->arg ? required_argument : no_argument, NULL, opts->key};
        if (opts->key < CLI_LONG_ONLY) {
            t->shortopts[t->nshort++] = (char)opts->key;
            if (opts->arg)
                t->shortopts[t->nshort++] = ':';
        }
    }
}

static void build_tables(struct getopt_tables *t, const struct cli_command *cmd)
{
    memset(t, 0, sizeof(*t));
    /* Leading ':': report a missing argument as ':' instead of '?', so
     * the two mistakes get different messages. */
    t->shortopts[t->nshort++] = ':';
    add_options(t, cmd->options);
    if (cmd->tcp_options)
        add_options(t, tcp_options);
    if (cmd->obs_options)
        add_options(t, obs_options);
    if (cmd->stack_options)
        add_options(t, stack_options);
    add_options(t, help_option);
}

static bool is_stack_key(int key)
{
    for (const struct cli_option *o = stack_options; o->name; o++)
        if (o->key == key)
            return true;
    return false;
}

/* The option getopt just failed on. An unknown short option may sit inside
 * a cluster (-vx), so it is named by optopt; otherwise the word the user
 * typed is argv[optind - 1]. */
static const char *bad_option(int key, char **argv, char *buf, size_t len)
{
    if (key == '?' && optopt > 0 && optopt < CLI_LONG_ONLY) {
        snprintf(buf, len, "-%c", optopt);
        return buf;
    }
    return optind > 0 && argv[optind - 1] ? argv[optind - 1] : "?";
}

static int fail(const struct cli_command *cmd, const char *msg)
{
    cli_error(cmd->name, "%s", msg);
    fprintf(stderr, "Try '%s %s --help' for more information.\n", CLI_PROG, cmd->name);
    return CLI_ERROR;
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv,
              struct cli_stack_opts *so, cli_option_fn own, void *ctx, int *operands)
{
    struct getopt_tables t;
    build_tables(&t, cmd);
    char err[256], name[64];
    int key;
    opterr = 0;
    optind = 1; /* we may parse more than once per process (tests) */
    while ((key = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) != -1) {
        if (key == KEY_HELP) {
            cli_usage(cmd);
            return CLI_HELP_SHOWN;
        }
        if (key == '?') {
            snprintf(err, sizeof(err), "unknown option '%s'",
                     bad_option(key, argv, name, sizeof(name)));
            return fail(cmd, err);
        }
        if (key == ':') {
            snprintf(err, sizeof(err), "option '%s' needs a value",
                     bad_option(key, argv, name, sizeof(name)));
            return fail(cmd, err);
        }
        int rc = (cmd->stack_options && is_stack_key(key))
                     ? stack_option(so, key, optarg, err, sizeof(err))
                 : (cmd->tcp_options && is_tcp_key(key))
                     ? tcp_option(so, key, optarg, err, sizeof(err))
                 : (cmd->obs_options && is_obs_key(key))
                     ? obs_option(so, key, optarg, err, sizeof(err))
                     : own(ctx, key, optarg, err, sizeof(err));
        if (rc < 0)
            return fail(cmd, err);
    }
    int n = argc - optind;
    if (n < cmd->min_operands)
        return fail(cmd, "missing operand");
    if (n > cmd->max_operands) {
        snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind + cmd->max_operands]);
        return fail(cmd, err);
    }
    if (cmd->stack_options && check_addresses(so, err, sizeof(err)) < 0)
        return fail(cmd, err);
    if (cmd->stack_options && so->has_mac && !so->tap)
        return fail(cmd, "--mac needs --tap (a TUN device has no MAC)");
    if (so)
        so->obs = cmd->obs_options;
    *operands = optind;
    return CLI_PARSED;
}
