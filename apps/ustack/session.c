/*
 * Bringing a stack up for a CLI subcommand, and the signals around it.
 */
#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "stat_table.h"
#include "trace_writer.h"
#include "ustack/trace.h"

/* Signal handlers can only reach the session through globals. A process
 * runs one session at a time. */
static struct ustack_runner *signal_runner;
static volatile sig_atomic_t stats_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (signal_runner)
        ustack_runner_stop(signal_runner);
}

static void on_stats_signal(int sig)
{
    (void)sig;
    stats_requested = 1;
    if (signal_runner)
        ustack_runner_wake(signal_runner);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    /* SA_RESETHAND: if stopping hangs, a second Ctrl-C kills the process. */
    sa.sa_flags = SA_RESETHAND;
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_stats_signal;
    sigaction(SIGUSR1, &sa, NULL);
}

static void restore_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
}

/* ---- stack callbacks ----------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* -vv: one line per frame. The frame is untrusted, so only fields inside
 * it are read (an IPv4 header needs 20 bytes). */
static void log_frame(struct cli_session *s, enum ustack_dir dir, uint64_t now,
                      const uint8_t *f, size_t len)
{
    const char *arrow = dir == USTACK_DIR_IN ? "in " : "out";
    double t = (double)(now - s->start_us) / 1e6;
    if (s->link->kind == USTACK_LINK_ETHERNET) {
        /* A TAP link: say what the Ethernet header carries; look inside
         * only IPv4. */
        unsigned type = len >= 14 ? (unsigned)f[12] << 8 | f[13] : 0;
        if (type != 0x0800) {
            fprintf(stderr, "%s %s: [%10.6f] %s %zu bytes %s\n", CLI_PROG, s->cmd, t, arrow,
                    len, type == 0x0806 ? "ARP" : "(not IPv4)");
            return;
        }
        f += 14;
        len -= 14;
    }
    if (len >= 20 && f[0] >> 4 == 4) {
        char src[16], dst[16];
        fprintf(stderr, "%s %s: [%10.6f] %s %zu bytes %s > %s proto %u\n", CLI_PROG, s->cmd, t,
                arrow, len, ustack_format_ipv4(be32(f + 12), src),
                ustack_format_ipv4(be32(f + 16), dst), f[9]);
    } else {
        fprintf(stderr, "%s %s: [%10.6f] %s %zu bytes (not IPv4)\n", CLI_PROG, s->cmd, t, arrow,
                len);
    }
}

/* Every frame in and out: to the capture, and to stderr with -vv. */
static void tap(void *ctx, enum ustack_dir dir, uint64_t now, const void *frame, size_t len)
{
    struct cli_session *s = ctx;
    /* A raw-IP capture needs no direction: the addresses tell it. */
    ustack_pcap_write(s->pcap, (uint64_t)((int64_t)now + s->unix_offset_us), frame, len);
    if (s->opts.verbose >= 2)
        log_frame(s, dir, now, frame, len);
}

static void log_to_stderr(void *ctx, int level, const char *msg)
{
    struct cli_session *s = ctx;
    static const char *const names[] = {"error", "info", "debug"};
    const char *name = level >= 0 && level <= 2 ? names[level] : "log";
    fprintf(stderr, "%s %s: [%s] %s\n", CLI_PROG, s->cmd, name, msg);
}

/* Runs every loop iteration, lock held. */
static void after_io(void *ctx)
{
    struct cli_session *s = ctx;
    if (stats_requested) {
        stats_requested = 0;
        cli_session_print_stats(s, "counters (SIGUSR1)");
        cli_session_print_connections(s, "connections (SIGUSR1)");
    }
    if (s->hook)
        s->hook(s->hook_ctx);
    trace_writer_flush(s->trace);
    /* One write per batch of frames keeps a capture readable while it
     * grows, without a system call per frame. */
    int rc = ustack_pcap_flush(s->pcap);
    if (rc < 0 && s->opts.pcap) {
        cli_error(s->cmd, "capture %s: %s; no longer recording", s->opts.pcap, strerror(-rc));
        ustack_pcap_close(s->pcap);
        s->pcap = NULL;
        /* The tap still points here and must not write any more. */
        s->opts.pcap = NULL;
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

/* --impair: wrap the device in the impairment decorator, which then owns
 * it. Its clock is the runner's (ustack_clock_us, the default). */
static int open_impair(struct cli_session *s)
{
    if (!s->opts.impair_on)
        return 0;
    struct ustack_link *w = ustack_impair_wrap(s->link, &s->opts.impair);
    if (!w) {
        cli_error(s->cmd, "cannot impair the link: %s", strerror(errno));
        return -1;
    }
    s->link = w;
    char out[256], in[256];
    fprintf(stderr, "%s %s: impairing frames out: %s; in: %s; seed %llu\n", CLI_PROG, s->cmd,
            ustack_impair_format(&s->opts.impair.out, out, sizeof(out)),
            ustack_impair_format(&s->opts.impair.in, in, sizeof(in)),
            (unsigned long long)s->opts.impair.seed);
    return 0;
}

/* One line per direction of what --impair did, for the exit. */
static void print_impair_summary(const struct cli_session *s)
{
    struct ustack_impair_counters c[2];
    if (ustack_impair_counters(s->link, &c[0], &c[1]) < 0)
        return;
    for (int i = 0; i < 2; i++)
        fprintf(stderr,
                "%s %s: impairment %s: %llu frames, %llu passed, %llu dropped, "
                "%llu duplicated, %llu reordered, %llu corrupted, %llu delayed, "
                "%llu over the limit\n",
                CLI_PROG, s->cmd, i ? "in" : "out", (unsigned long long)c[i].frames,
                (unsigned long long)c[i].passed, (unsigned long long)c[i].dropped,
                (unsigned long long)c[i].duplicated, (unsigned long long)c[i].reordered,
                (unsigned long long)c[i].corrupted, (unsigned long long)c[i].delayed,
                (unsigned long long)c[i].overflowed);
}

static int open_link(struct cli_session *s)
{
    struct ustack_tun_config tc = {
        .ifname = s->opts.ifname,
        .kind = s->opts.tap ? USTACK_LINK_ETHERNET : USTACK_LINK_IP,
        .netns = s->opts.netns,
        .kernel_addr = s->opts.kernel_addr,
        .prefix_len = s->opts.prefix_len,
        .mtu = s->opts.mtu,
    };
    char err[256];
    s->link = ustack_tun_open(&tc, err, sizeof(err));
    if (!s->link) {
        cli_error(s->cmd, "%s", err);
        return -1;
    }
    return open_impair(s);
}

static int open_pcap(struct cli_session *s)
{
    if (!s->opts.pcap)
        return 0;
    char err[256];
    s->pcap = ustack_pcap_open(s->opts.pcap, s->link->kind, err, sizeof(err));
    if (!s->pcap) {
        cli_error(s->cmd, "%s", err);
        return -1;
    }
    return 0;
}

static int open_stack(struct cli_session *s)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = s->opts.addr;
    /* ustack shares the kernel side's subnet. */
    cfg.netmask = s->opts.prefix_len ? ~(uint32_t)0 << (32 - s->opts.prefix_len) : 0;
    cfg.has_mac = s->opts.has_mac;
    memcpy(cfg.mac, s->opts.mac, sizeof(cfg.mac));
    if (s->opts.rto_min_ms) /* --rto-min; otherwise RFC 6298's 1 s */
        cfg.tcp.rto_min_ms = s->opts.rto_min_ms;
    if (s->pcap || s->opts.verbose >= 2) {
        cfg.tap = tap;
        cfg.tap_ctx = s;
    }
    if (s->opts.verbose) {
        cfg.log = log_to_stderr;
        cfg.log_ctx = s;
        cfg.log_level = s->opts.verbose;
    }
    s->st = ustack_new(&cfg, s->link, ustack_clock_us());
    if (!s->st) {
        cli_error(s->cmd, "cannot create the stack: out of memory");
        return -1;
    }
    s->runner = ustack_runner_new(s->st, s->link);
    if (!s->runner) {
        cli_error(s->cmd, "cannot create the event loop: %s", strerror(errno));
        return -1;
    }
    ustack_runner_set_after_io(s->runner, after_io, s);
    ustack_runner_set_busy_poll(s->runner, s->opts.busy_poll_us);
    return 0;
}

/* --trace DIR: every connection, one CSV file each (trace_writer.h). */
static int open_trace(struct cli_session *s)
{
    if (!s->opts.trace_dir)
        return 0;
    char err[256];
    s->trace = trace_writer_open(s->opts.trace_dir, s->opts.trace_max_files,
                                 s->opts.trace_max_bytes, s->unix_offset_us, err,
                                 sizeof(err));
    if (!s->trace) {
        cli_error(s->cmd, "%s", err);
        return -1;
    }
    ustack_set_trace_sink(s->st, trace_writer_sink, s->trace);
    ustack_set_trace_all(s->st, true);
    return 0;
}

/* The control socket for `ustack stat` (ctl.h). The default one is a
 * convenience: when it cannot be had (no /run/ustack, another ustack on a
 * device of the same name) the command runs without it, with a warning.
 * One asked for with --ctl must work. */
static int open_ctl(struct cli_session *s)
{
    if (!s->opts.obs || s->opts.ctl_off)
        return 0;
    char path[256], err[512];
    const char *p = s->opts.ctl_path;
    if (!p) {
        if (ctl_default_path(s->opts.ifname, s->opts.netns, path, sizeof(path)) < 0)
            return 0;
        p = path;
    }
    s->ctl = ctl_open(s->runner, s->st, p, err, sizeof(err));
    if (s->ctl)
        return 0;
    if (s->opts.ctl_path) {
        cli_error(s->cmd, "control socket: %s", err);
        return -1;
    }
    cli_error(s->cmd, "no control socket (`ustack stat` will not reach this one): %s", err);
    return 0;
}

/* What --trace wrote, for the exit. */
static void close_trace(struct cli_session *s)
{
    if (!s->trace)
        return;
    struct trace_writer_stats ts;
    trace_writer_get_stats(s->trace, &ts);
    fprintf(stderr,
            "%s %s: trace: %llu files in %s, %llu rows; %llu rows dropped (file size "
            "limit), %llu connections not traced (file limit or errors)%s\n",
            CLI_PROG, s->cmd, (unsigned long long)ts.files, s->opts.trace_dir,
            (unsigned long long)ts.rows, (unsigned long long)ts.rows_dropped,
            (unsigned long long)ts.conns_skipped, ts.write_errors ? "; WRITE ERRORS" : "");
    trace_writer_close(s->trace);
    s->trace = NULL;
}

int cli_session_open(struct cli_session *s, const char *cmd, const struct cli_stack_opts *o)
{
    memset(s, 0, sizeof(*s));
    s->cmd = cmd;
    s->opts = *o;
    /* Sampled once, so capture timestamps keep the monotonic spacing. */
    s->unix_offset_us = ustack_clock_unix_offset_us();
    s->start_us = ustack_clock_us();
    if (open_link(s) < 0 || open_pcap(s) < 0 || open_stack(s) < 0 || open_trace(s) < 0 ||
        open_ctl(s) < 0) {
        cli_session_close(s);
        return -1;
    }
    return 0;
}

int cli_session_run(struct cli_session *s)
{
    signal_runner = s->runner;
    install_signals();
    int rc = ustack_runner_run(s->runner);
    restore_signals();
    signal_runner = NULL;
    if (rc < 0) {
        cli_error(s->cmd, "event loop failed: %s%s", strerror(-rc),
                  rc == -EBADFD || rc == -EIO ? " (was the device deleted?)" : "");
        return -1;
    }
    return 0;
}

void cli_session_print_stats(struct cli_session *s, const char *heading)
{
    printf("%s:\n", heading);
    ustack_print_stats(s->st, stdout, false);
    ustack_impair_print(s->link, stdout, false); /* --impair's, if any */
    fflush(stdout);
}

struct conn_list {
    struct stat_conn *conns;
    size_t n, total;
};

static void list_conn(void *ctx, const struct ustack_tcp_info *info)
{
    struct conn_list *l = ctx;
    if (l->n < CTL_MAX_CONNS && l->conns)
        stat_conn_from_info(&l->conns[l->n++], info);
    l->total++;
}

void cli_session_print_connections(struct cli_session *s, const char *heading)
{
    struct conn_list l = {calloc(CTL_MAX_CONNS, sizeof(struct stat_conn)), 0, 0};
    ustack_tcp_connections(s->st, list_conn, &l);
    printf("%s: %zu\n", heading, l.total);
    if (l.n)
        stat_print_table(stdout, l.conns, l.n);
    if (l.total > l.n)
        printf("... and %zu more\n", l.total - l.n);
    free(l.conns);
    fflush(stdout);
}

void cli_session_close(struct cli_session *s)
{
    ctl_close(s->ctl);
    ustack_runner_free(s->runner);
    ustack_free(s->st); /* the last trace rows (END) come from here */
    close_trace(s);
    int rc = ustack_pcap_close(s->pcap);
    if (rc < 0)
        cli_error(s->cmd, "capture %s: %s", s->opts.pcap, strerror(-rc));
    print_impair_summary(s);
    ustack_link_close(s->link);
    memset(s, 0, sizeof(*s));
}

const char *cli_session_where(const struct cli_session *s, char *buf, size_t len)
{
    char kind[40] = "";
    uint8_t m[6];
    if (s->st && ustack_get_mac(s->st, m))
        snprintf(kind, sizeof(kind), " (TAP, MAC %02x:%02x:%02x:%02x:%02x:%02x)", m[0], m[1],
                 m[2], m[3], m[4], m[5]);
    if (s->opts.netns)
        snprintf(buf, len, "%s%s in netns %s", s->opts.ifname, kind, s->opts.netns);
    else
        snprintf(buf, len, "%s%s", s->opts.ifname, kind);
    return buf;
}
