/*
 * The control socket of a running ustack command (up, serve, connect): a
 * Unix stream socket that `ustack stat` asks for the connection table.
 *
 * Default path /run/ustack/IFNAME.sock (/run/ustack/NETNS.IFNAME.sock with
 * --netns, so namespaces may reuse a device name); --ctl PATH chooses
 * another, --no-ctl none. The socket is mode 0600 and removed on exit.
 *
 * Protocol: one request per connection, one line: "stat\n". The answer,
 * then the server closes:
 *   ustack-stat 1
 *   conn state=... local=... (one line per connection, stat_table.h)
 *   end LISTED TOTAL
 * At most CTL_MAX_CONNS connections are listed (TOTAL says how many there
 * were). An unknown request gets "error unknown request". Served from the
 * runner's loop without blocking: at most CTL_MAX_CLIENTS clients at once
 * (a new one pushes out the oldest), requests of at most 64 bytes.
 */
#ifndef USTACK_APP_CTL_H
#define USTACK_APP_CTL_H

#include <stddef.h>

#include "ustack/runner.h"
#include "ustack/ustack.h"

#define CTL_DIR "/run/ustack"
#define CTL_MAX_CLIENTS 8
#define CTL_MAX_CONNS 4096

struct ctl_server;

/* The default path for a device (and namespace, or NULL) into buf.
 * -1 if the name cannot be part of a path. */
int ctl_default_path(const char *ifname, const char *netns, char *buf, size_t len);

/* Listen on path (creating CTL_DIR when path is the default one's
 * directory). NULL with a message in err on failure. */
struct ctl_server *ctl_open(struct ustack_runner *r, struct ustack *st, const char *path,
                            char *err, size_t errlen);

/* Stop listening, drop clients, remove the socket file. NULL is fine. */
void ctl_close(struct ctl_server *c);

#endif
