/*
 * The socket table, as the rest of ustack sees it.
 *
 * The event API (include/ustack/socket.h, src/api/socket.c) keeps every
 * socket in one bounded table owned by the stack (st->socks). The stack
 * creates and frees it; the blocking API (src/api/bsd.c) hooks in to learn
 * when a socket's readiness may have changed so it can wake its waiters.
 */
#ifndef USTACK_API_SOCKET_H
#define USTACK_API_SOCKET_H

#include <stdint.h>

struct ustack;
struct sock_table;

/* Default for ustack_config.max_sockets. */
#define SOCK_DEFAULT_MAX 16384

/* Allocate st->socks (st->cfg.max_sockets slots, allocated once) and install
 * st->sock_notify. Returns 0 or -ENOMEM. */
int sock_table_init(struct ustack *st);

/* Detach every connection from its socket (so TCP never calls back into
 * freed memory) and free the table. Call before TCP is destroyed. */
void sock_table_free(struct ustack *st);

/* Called whenever socket sd may have become ready, or was closed: from
 * st->sock_notify (inside ustack_input/ustack_timer) and from API calls.
 * Runs with the stack in use, so it must not call back into the stack. */
typedef void (*sock_wake_fn)(void *ctx, int sd);
void sock_table_set_waker(struct ustack *st, sock_wake_fn fn, void *ctx);

/* Number of slots (descriptors are 0 .. size-1). */
unsigned sock_table_size(const struct ustack *st);

/* Changes every time slot sd is allocated or freed, so a thread that waits
 * on sd can tell that its socket was closed (and perhaps the slot reused)
 * while it slept. 0 for an out-of-range sd. */
uint32_t sock_generation(const struct ustack *st, int sd);

#endif
