/*
 * The blocking API (include/ustack/bsd.h): BSD-like calls for threads,
 * built on the event API and the runner.
 *
 * The runner owns a thread that feeds frames and timers to the stack with
 * the runner lock held. Every call here takes the same lock, brings the
 * stack's clock up to date, and makes the event-API call; when that would
 * block (-EAGAIN, -EINPROGRESS) it sleeps on a condition variable with the
 * lock released, and retries when the socket is notified.
 *
 * One condition variable per socket slot, not one for the whole stack: the
 * stack notifies on nearly every segment, and with a single broadcast
 * condvar every blocked thread would wake (and take the lock) for every
 * segment of every connection. Per slot, a notification wakes only the
 * threads blocked on that socket. The price is one pthread_cond_t per slot
 * (48 bytes; under 1 MB for the default 16384 slots), allocated once.
 *
 * A sleeping thread cannot trust its descriptor number after waking: the
 * socket may have been closed, and the slot even handed out again, by
 * another thread. So it remembers the slot's generation and fails with
 * EBADF when that changed.
 */
#include "ustack/bsd.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/socket.h"
#include "ustack/runner.h"

struct bsd_slot {
    pthread_cond_t cond;  /* signalled when the socket may be ready */
    unsigned waiters;     /* threads sleeping on cond */
    /* USTACK_BSD_RCVTIMEO / SNDTIMEO in ms (0 = forever), valid while the
     * slot's generation is still timeo_generation: a new socket in the slot
     * starts without timeouts. */
    uint32_t timeo_generation;
    int rcvtimeo_ms, sndtimeo_ms;
};

struct ustack_bsd {
    struct ustack *st;
    struct ustack_runner *runner;
    pthread_t thread;
    struct bsd_slot *slots;
    unsigned nslots;
    /* Guarded by the runner lock: */
    int dead_errno;       /* non-zero once stopped (ECANCELED) or the runner
                           * failed: calls fail with it instead of waiting */
    unsigned callers;     /* threads inside a call, so stop can wait for them */
    pthread_cond_t idle;  /* signalled when callers drops to 0 after stop */
};

static int fail(int neg_errno)
{
    errno = -neg_errno;
    return -1;
}

/* ---- entering and leaving the stack -------------------------------------- */

static pthread_mutex_t *bsd_mutex(struct ustack_bsd *b)
{
    return ustack_runner_mutex(b->runner);
}

/* Take the lock. ustack_runner_lock() also brings the stack's time up to
 * date, so RTT samples and timers armed by this call see real time. */
static void bsd_enter(struct ustack_bsd *b)
{
    ustack_runner_lock(b->runner);
    b->callers++;
}

/* Release the lock. The runner is woken by the unlock: this call may have
 * queued output or armed a timer earlier than its current deadline. */
static void bsd_leave(struct ustack_bsd *b)
{
    b->callers--;
    if (b->dead_errno) {
        /* Stopping (or the runner is gone): the last caller out lets
         * ustack_bsd_stop go on, which frees b and the runner as soon as
         * we unlock, so unlock without touching the runner again. */
        if (b->callers == 0)
            pthread_cond_broadcast(&b->idle);
        pthread_mutex_unlock(bsd_mutex(b));
        return;
    }
    ustack_runner_unlock(b->runner);
}

/* Turn an event-API result into the BSD convention. */
static int bsd_result(int rc)
{
    return rc < 0 ? fail(rc) : rc;
}

/* The sock_table waker: socket sd may be ready or was closed. Runs with the
 * lock held (inside the stack, or inside an API call). */
static void bsd_wake(void *ctx, int sd)
{
    struct ustack_bsd *b = ctx;
    if (sd >= 0 && (unsigned)sd < b->nslots && b->slots[sd].waiters)
        pthread_cond_broadcast(&b->slots[sd].cond);
}

static void wake_all(struct ustack_bsd *b)
{
    for (unsigned i = 0; i < b->nslots; i++)
        if (b->slots[i].waiters)
            pthread_cond_broadcast(&b->slots[i].cond);
}

/* ---- waiting ------------------------------------------------------------- */

/* An absolute CLOCK_MONOTONIC deadline ms from now; NULL for ms = 0. */
static const struct timespec *deadline_in(struct timespec *ts, int ms)
{
    if (ms <= 0)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Sleep (lock held on entry and exit) until socket fd is notified or the
 * deadline passes. Returns 0 to retry the call, -EAGAIN on timeout, -EBADF
 * when fd was closed meanwhile, or the stop/failure errno. */
static int bsd_wait(struct ustack_bsd *b, int fd, uint32_t generation,
                    const struct timespec *deadline)
{
    if (b->dead_errno)
        return -b->dead_errno;
    struct bsd_slot *slot = &b->slots[fd];
    /* The call that brought us here may have armed a timer (a SYN's
     * retransmission, a persist probe): the runner must see it before we
     * sleep, since nothing else wakes it. */
    ustack_runner_wake(b->runner);
    slot->waiters++;
    int rc = deadline ? pthread_cond_timedwait(&slot->cond, bsd_mutex(b), deadline)
                      : pthread_cond_wait(&slot->cond, bsd_mutex(b));
    slot->waiters--;
    if (b->dead_errno)
        return -b->dead_errno;
    if (sock_generation(b->st, fd) != generation)
        return -EBADF;
    ustack_timer(b->st, ustack_clock_us());
    return rc == ETIMEDOUT ? -EAGAIN : 0;
}

/* A descriptor we may wait on: open in the table. Returns 0 or -EBADF. */
static int check_fd(struct ustack_bsd *b, int fd)
{
    int type;
    if (fd < 0 || (unsigned)fd >= b->nslots)
        return -EBADF;
    return ustack_getsockopt(b->st, fd, USTACK_SO_TYPE, &type) < 0 ? -EBADF : 0;
}

static int timeout_ms(struct ustack_bsd *b, int fd, bool sending)
{
    struct bsd_slot *slot = &b->slots[fd];
    if (slot->timeo_generation != sock_generation(b->st, fd))
        return 0;
    return sending ? slot->sndtimeo_ms : slot->rcvtimeo_ms;
}

/* ---- the stack thread ---------------------------------------------------- */

static void *runner_main(void *arg)
{
    struct ustack_bsd *b = arg;
    int rc = ustack_runner_run(b->runner);
    if (rc < 0) {
        /* The link failed: nothing will ever notify a waiter again. */
        ustack_runner_lock(b->runner);
        if (!b->dead_errno)
            b->dead_errno = -rc;
        wake_all(b);
        ustack_runner_unlock(b->runner);
    }
    return NULL;
}

static int slots_init(struct ustack_bsd *b)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr))
        return -ENOMEM;
    /* Timeouts are measured on the monotonic clock, like the stack's. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int err = 0;
    for (unsigned i = 0; i < b->nslots && !err; i++) {
        err = pthread_cond_init(&b->slots[i].cond, &attr);
        if (err)
            b->nslots = i; /* destroy only what was made */
    }
    if (!err)
        err = pthread_cond_init(&b->idle, &attr);
    pthread_condattr_destroy(&attr);
    return -err;
}

static void bsd_free(struct ustack_bsd *b, bool idle_made)
{
    for (unsigned i = 0; i < b->nslots; i++)
        pthread_cond_destroy(&b->slots[i].cond);
    if (idle_made)
        pthread_cond_destroy(&b->idle);
    free(b->slots);
    ustack_runner_free(b->runner);
    free(b);
}

struct ustack_bsd *ustack_bsd_start(struct ustack *st, struct ustack_link *link,
                                    char *err, size_t errlen)
{
    if (!st || !link) {
        snprintf(err, errlen, "a stack and a link are required");
        return NULL;
    }
    struct ustack_bsd *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->st = st;
    b->nslots = sock_table_size(st);
    b->slots = calloc(b->nslots ? b->nslots : 1, sizeof(*b->slots));
    b->runner = ustack_runner_new(st, link);
    if (!b->slots || !b->runner) {
        snprintf(err, errlen, "%s", b->slots ? strerror(errno) : "out of memory");
        b->nslots = 0;
        bsd_free(b, false);
        return NULL;
    }
    int rc = slots_init(b);
    if (rc < 0) {
        snprintf(err, errlen, "condition variables: %s", strerror(-rc));
        bsd_free(b, false);
        return NULL;
    }
    sock_table_set_waker(st, bsd_wake, b);
    rc = pthread_create(&b->thread, NULL, runner_main, b);
    if (rc) {
        snprintf(err, errlen, "stack thread: %s", strerror(rc));
        sock_table_set_waker(st, NULL, NULL);
        bsd_free(b, true);
        return NULL;
    }
    return b;
}

void ustack_bsd_stop(struct ustack_bsd *b)
{
    if (!b)
        return;
    ustack_runner_lock(b->runner);
    if (!b->dead_errno)
        b->dead_errno = ECANCELED;
    wake_all(b);
    /* Blocked calls now return ECANCELED; wait until they have left, since
     * they still use b and the lock. */
    while (b->callers)
        pthread_cond_wait(&b->idle, bsd_mutex(b));
    sock_table_set_waker(b->st, NULL, NULL);
    ustack_runner_unlock(b->runner);
    ustack_runner_stop(b->runner);
    pthread_join(b->thread, NULL);
    bsd_free(b, true);
}

void ustack_bsd_call(struct ustack_bsd *b, void (*fn)(void *ctx, struct ustack *st),
                     void *ctx)
{
    bsd_enter(b);
    fn(ctx, b->st);
    bsd_leave(b);
}

/* ---- calls that never block ---------------------------------------------- */

int ustack_bsd_socket(struct ustack_bsd *b, int type)
{
    bsd_enter(b);
    int rc = ustack_socket(b->st, type);
    bsd_leave(b);
    return bsd_result(rc);
}

int ustack_bsd_bind(struct ustack_bsd *b, int fd, const struct sockaddr *addr,
                    socklen_t len)
{
    bsd_enter(b);
    int rc = ustack_bind(b->st, fd, addr, len);
    bsd_leave(b);
    return bsd_result(rc);
}

int ustack_bsd_listen(struct ustack_bsd *b, int fd, int backlog)
{
    bsd_enter(b);
    int rc = ustack_listen(b->st, fd, backlog);
    bsd_leave(b);
    return bsd_result(rc);
}

int ustack_bsd_shutdown(struct ustack_bsd *b, int fd, int how)
{
    bsd_enter(b);
    int rc = ustack_shutdown(b->st, fd, how);
    bsd_leave(b);
    return bsd_result(rc);
}

/* Threads blocked on fd wake (the socket table's waker runs from
 * ustack_close) and fail with EBADF. */
int ustack_bsd_close(struct ustack_bsd *b, int fd)
{
    bsd_enter(b);
    int rc = ustack_close(b->st, fd);
    bsd_leave(b);
    return bsd_result(rc);
}

int ustack_bsd_getsockname(struct ustack_bsd *b, int fd, struct sockaddr *addr,
                           socklen_t *len)
{
    bsd_enter(b);
    int rc = ustack_getsockname(b->st, fd, addr, len);
    bsd_leave(b);
    return bsd_result(rc);
}

int ustack_bsd_getpeername(struct ustack_bsd *b, int fd, struct sockaddr *addr,
                           socklen_t *len)
{
    bsd_enter(b);
    int rc = ustack_getpeername(b->st, fd, addr, len);
    bsd_leave(b);
    return bsd_result(rc);
}

static int set_timeout(struct ustack_bsd *b, int fd, int opt, int ms)
{
    int rc = check_fd(b, fd);
    if (rc < 0)
        return rc;
    if (ms < 0)
        return -EINVAL;
    struct bsd_slot *slot = &b->slots[fd];
    uint32_t generation = sock_generation(b->st, fd);
    if (slot->timeo_generation != generation) {
        slot->timeo_generation = generation;
        slot->rcvtimeo_ms = slot->sndtimeo_ms = 0;
    }
    if (opt == USTACK_BSD_RCVTIMEO)
        slot->rcvtimeo_ms = ms;
    else
        slot->sndtimeo_ms = ms;
    return 0;
}

int ustack_bsd_setsockopt(struct ustack_bsd *b, int fd, int opt, int value)
{
    bsd_enter(b);
    int rc;
    if (opt == USTACK_BSD_RCVTIMEO || opt == USTACK_BSD_SNDTIMEO)
        rc = set_timeout(b, fd, opt, value);
    else
        rc = ustack_setsockopt(b->st, fd, opt, value);
    bsd_leave(b);
    return bsd_result(rc);
}

int ustack_bsd_getsockopt(struct ustack_bsd *b, int fd, int opt, int *value)
{
    bsd_enter(b);
    int rc;
    if (opt == USTACK_BSD_RCVTIMEO || opt == USTACK_BSD_SNDTIMEO) {
        rc = check_fd(b, fd);
        if (rc == 0 && !value)
            rc = -EFAULT;
        if (rc == 0)
            *value = timeout_ms(b, fd, opt == USTACK_BSD_SNDTIMEO);
    } else {
        rc = ustack_getsockopt(b->st, fd, opt, value);
    }
    bsd_leave(b);
    return bsd_result(rc);
}

/* ---- calls that block ---------------------------------------------------- */

/* Accept waits like a receive: RCVTIMEO bounds it (as on Linux). */
int ustack_bsd_accept(struct ustack_bsd *b, int fd, struct sockaddr *peer,
                      socklen_t *len)
{
    bsd_enter(b);
    int rc = check_fd(b, fd);
    uint32_t generation = sock_generation(b->st, fd);
    struct timespec ts;
    const struct timespec *deadline = rc < 0 ? NULL : deadline_in(&ts, timeout_ms(b, fd, false));
    while (rc == 0) {
        rc = ustack_accept(b->st, fd, peer, len);
        if (rc != -EAGAIN)
            break;
        rc = bsd_wait(b, fd, generation, deadline);
    }
    bsd_leave(b);
    return bsd_result(rc);
}

/* Waits until the handshake ends: 0 once established, or the reason it
 * failed (ECONNREFUSED, ETIMEDOUT, ...). When SNDTIMEO runs out first the
 * call fails with EINPROGRESS, as Linux does: the attempt goes on in the
 * background, and closing the socket abandons it. */
int ustack_bsd_connect(struct ustack_bsd *b, int fd, const struct sockaddr *addr,
                       socklen_t len)
{
    bsd_enter(b);
    uint32_t generation = sock_generation(b->st, fd);
    int rc = ustack_connect(b->st, fd, addr, len);
    if (rc == -EINPROGRESS) {
        struct timespec ts;
        const struct timespec *deadline = deadline_in(&ts, timeout_ms(b, fd, true));
        for (;;) {
            /* Asking again tells how the attempt went: -EALREADY while in
             * progress, -EISCONN once established, else the error. Asked
             * before the first wait too: the outcome may already be known. */
            rc = ustack_connect(b->st, fd, addr, len);
            if (rc == -EISCONN)
                rc = 0;
            if (rc != -EALREADY)
                break;
            rc = bsd_wait(b, fd, generation, deadline);
            if (rc < 0) {
                if (rc == -EAGAIN)
                    rc = -EINPROGRESS;
                break;
            }
        }
    }
    bsd_leave(b);
    return bsd_result(rc);
}

/* Queue all of buf (unless NONBLOCK): returns len, or the bytes queued
 * before a timeout or error stopped it; -1 when nothing was queued. */
ssize_t ustack_bsd_send(struct ustack_bsd *b, int fd, const void *buf, size_t len,
                        int flags)
{
    bool nonblock = flags & USTACK_BSD_NONBLOCK;
    flags &= ~USTACK_BSD_NONBLOCK;
    bsd_enter(b);
    int rc = check_fd(b, fd);
    uint32_t generation = sock_generation(b->st, fd);
    struct timespec ts;
    const struct timespec *deadline = rc < 0 ? NULL : deadline_in(&ts, timeout_ms(b, fd, true));
    size_t done = 0;
    while (rc == 0) {
        ssize_t n = ustack_send(b->st, fd, (const char *)buf + done, len - done, flags);
        if (n > 0 || (n == 0 && len == 0)) {
            done += (size_t)n;
            if (done == len)
                break;
            continue;
        }
        rc = n == 0 ? -EAGAIN : (int)n; /* 0 of a non-empty buffer: full */
        if (rc == -EAGAIN && !nonblock)
            rc = bsd_wait(b, fd, generation, deadline);
    }
    bsd_leave(b);
    if (done > 0 || rc == 0)
        return (ssize_t)done;
    return fail(rc);
}

ssize_t ustack_bsd_recv(struct ustack_bsd *b, int fd, void *buf, size_t len, int flags)
{
    return ustack_bsd_recvfrom(b, fd, buf, len, flags, NULL, NULL);
}

/* One datagram (stream sockets: all of buf, as ustack_bsd_send). */
ssize_t ustack_bsd_sendto(struct ustack_bsd *b, int fd, const void *buf, size_t len,
                          int flags, const struct sockaddr *to, socklen_t tolen)
{
    int type = 0;
    if (!to || (ustack_bsd_getsockopt(b, fd, USTACK_SO_TYPE, &type) == 0 &&
                type == USTACK_SOCK_STREAM))
        return ustack_bsd_send(b, fd, buf, len, flags);
    bool nonblock = flags & USTACK_BSD_NONBLOCK;
    flags &= ~USTACK_BSD_NONBLOCK;
    bsd_enter(b);
    ssize_t n = check_fd(b, fd);
    uint32_t generation = sock_generation(b->st, fd);
    struct timespec ts;
    const struct timespec *deadline = n < 0 ? NULL : deadline_in(&ts, timeout_ms(b, fd, true));
    while (n == 0) {
        n = ustack_sendto(b->st, fd, buf, len, flags, to, tolen);
        if (n != -EAGAIN || nonblock)
            break;
        int rc = bsd_wait(b, fd, generation, deadline);
        if (rc < 0) {
            n = rc;
            break;
        }
        n = 0;
    }
    bsd_leave(b);
    return n < 0 ? fail((int)n) : n;
}

ssize_t ustack_bsd_recvfrom(struct ustack_bsd *b, int fd, void *buf, size_t len, int flags,
                            struct sockaddr *from, socklen_t *fromlen)
{
    bool nonblock = flags & USTACK_BSD_NONBLOCK;
    flags &= ~USTACK_BSD_NONBLOCK;
    bsd_enter(b);
    ssize_t n = check_fd(b, fd);
    uint32_t generation = sock_generation(b->st, fd);
    struct timespec ts;
    const struct timespec *deadline = n < 0 ? NULL : deadline_in(&ts, timeout_ms(b, fd, false));
    while (n == 0) {
        n = ustack_recvfrom(b->st, fd, buf, len, flags, from, fromlen);
        if (n != -EAGAIN || nonblock)
            break; /* data, end of stream (0), a datagram or an error */
        int rc = bsd_wait(b, fd, generation, deadline);
        if (rc < 0) {
            n = rc;
            break;
        }
        n = 0; /* notified: try again */
    }
    bsd_leave(b);
    return n < 0 ? fail((int)n) : n;
}
