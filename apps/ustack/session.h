/*
 * A running stack for a CLI subcommand: the TUN device, the stack, its
 * runner, the optional capture, and the signal handling every subcommand
 * shares:
 *   SIGINT, SIGTERM  stop the runner (a second one kills the process)
 *   SIGUSR1          print the counters and the connections without stopping
 * and, for commands with observability options, --trace (a CSV file per
 * connection, trace_writer.h) and the control socket (ctl.h).
 */
#ifndef USTACK_APP_SESSION_H
#define USTACK_APP_SESSION_H

#include <stdint.h>

#include "options.h"
#include "ustack/runner.h"
#include "ustack/ustack.h"

struct cli_session {
    const char *cmd;             /* subcommand name, for messages */
    struct cli_stack_opts opts;
    struct ustack_link *link;
    struct ustack *st;
    struct ustack_runner *runner;
    struct ustack_pcap *pcap;
    int64_t unix_offset_us;      /* monotonic -> Unix time, for pcap */
    uint64_t start_us;           /* when the session opened (for -vv times) */
    ustack_runner_hook_fn hook;  /* the subcommand's per-iteration work */
    void *hook_ctx;
    struct trace_writer *trace;  /* --trace DIR, or NULL */
    struct ctl_server *ctl;      /* control socket for `ustack stat`, or NULL */
};

/* Bring everything up. Prints a one-line error and returns -1 on failure
 * (everything already opened is closed again). */
int cli_session_open(struct cli_session *s, const char *cmd, const struct cli_stack_opts *o);

/* Run until a signal or ustack_runner_stop(). Returns 0, or -1 after
 * printing why the loop failed. */
int cli_session_run(struct cli_session *s);

/* Print the counters, prefixed by a heading, to stdout. */
void cli_session_print_stats(struct cli_session *s, const char *heading);

/* Print the connection table (stat_table.h), prefixed by a heading with
 * the number of connections, to stdout. */
void cli_session_print_connections(struct cli_session *s, const char *heading);

/* Tear down in reverse order. Safe on a partly opened session. */
void cli_session_close(struct cli_session *s);

/* Describe the link in one line, e.g. "ustack0 in netns demo". */
const char *cli_session_where(const struct cli_session *s, char *buf, size_t len);

#endif
