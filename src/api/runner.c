/*
 * The event loop for real devices; see include/ustack/runner.h for the
 * contract. Its clock (ustack_clock_us) is the one every `now` comes from;
 * the only other clock read, bsd.c's, sets condition-variable deadlines.
 */
#include "ustack/runner.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/stack.h"

/* epoll_pwait2 arrived in glibc 2.35 (and Linux 5.11). */
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 35)
#define HAVE_EPOLL_PWAIT2 1
#endif
#endif

/* Largest frame we can receive: a maximal IPv4 packet plus an Ethernet
 * header with one VLAN tag. Allocated once, so no frame is ever truncated
 * by us; the stack judges lengths. */
#define RUNNER_FRAME_MAX (65535 + 18)
#define RUNNER_EVENTS 32

struct app_fd {
    int fd;
    ustack_runner_fd_fn fn;
    void *ctx;
};

struct ustack_runner {
    struct ustack *st;
    struct ustack_link *link;
    int epfd;
    int wakefd;                 /* eventfd: stop() and wake() write it */
    atomic_bool stopped;
    pthread_mutex_t lock;       /* held whenever the stack is in use */
    unsigned batch;
    unsigned busy_poll_us;      /* spin this long before sleeping; 0 = off */
    bool no_pwait2;             /* kernel said ENOSYS: use epoll_wait */

    ustack_runner_hook_fn after_io;
    void *after_io_ctx;

    uint64_t link_deadline;     /* the link's poll op: when it next needs us */

    struct app_fd *fds;         /* application descriptors, unordered */
    size_t nfds, fds_cap;

    uint8_t *frame;             /* receive buffer, RUNNER_FRAME_MAX bytes */
};

/* ---- clock --------------------------------------------------------------- */

static uint64_t timespec_us(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000u + (uint64_t)ts->tv_nsec / 1000u;
}

uint64_t ustack_clock_us(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer; it never jumps when
     * the wall clock is set, which is what timers need. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return timespec_us(&ts);
}

int64_t ustack_clock_unix_offset_us(void)
{
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    return (int64_t)timespec_us(&real) - (int64_t)ustack_clock_us();
}

/* ---- creation ------------------------------------------------------------ */

static int watch(int epfd, int op, int fd, uint32_t events)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

struct ustack_runner *ustack_runner_new(struct ustack *st, struct ustack_link *link)
{
    struct ustack_runner *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->st = st;
    r->link = link;
    r->batch = USTACK_RUNNER_DEFAULT_BATCH;
    r->link_deadline = USTACK_NEVER;
    r->epfd = r->wakefd = -1;
    atomic_init(&r->stopped, false);
    int err = pthread_mutex_init(&r->lock, NULL);
    if (err) {
        free(r);
        errno = err;
        return NULL;
    }
    r->frame = malloc(RUNNER_FRAME_MAX);
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!r->frame || r->epfd < 0 || r->wakefd < 0)
        goto fail;
    if ((err = watch(r->epfd, EPOLL_CTL_ADD, r->wakefd, EPOLLIN)) < 0)
        goto fail_errno;
    if (link->fd >= 0 && (err = watch(r->epfd, EPOLL_CTL_ADD, link->fd, EPOLLIN)) < 0)
        goto fail_errno;
    return r;
fail_errno:
    errno = -err;
fail:
    err = errno ? errno : ENOMEM;
    ustack_runner_free(r);
    errno = err;
    return NULL;
}

void ustack_runner_free(struct ustack_runner *r)
{
    if (!r)
        return;
    if (r->epfd >= 0)
        close(r->epfd);
    if (r->wakefd >= 0)
        close(r->wakefd);
    pthread_mutex_destroy(&r->lock);
    free(r->fds);
    free(r->frame);
    free(r);
}

/* ---- settings and application descriptors ------------------------------- */

void ustack_runner_set_after_io(struct ustack_runner *r, ustack_runner_hook_fn fn,
                                void *ctx)
{
    r->after_io = fn;
    r->after_io_ctx = ctx;
}

void ustack_runner_set_batch(struct ustack_runner *r, unsigned frames)
{
    if (frames < 1)
        frames = 1;
    if (frames > USTACK_RUNNER_MAX_BATCH)
        frames = USTACK_RUNNER_MAX_BATCH;
    r->batch = frames;
}

void ustack_runner_set_busy_poll(struct ustack_runner *r, unsigned usec)
{
    r->busy_poll_us = usec > USTACK_RUNNER_MAX_BUSY_POLL_US ? USTACK_RUNNER_MAX_BUSY_POLL_US
                                                           : usec;
}

static struct app_fd *find_fd(struct ustack_runner *r, int fd)
{
    for (size_t i = 0; i < r->nfds; i++)
        if (r->fds[i].fd == fd)
            return &r->fds[i];
    return NULL;
}

int ustack_runner_add_fd(struct ustack_runner *r, int fd, uint32_t events,
                         ustack_runner_fd_fn fn, void *ctx)
{
    if (fd < 0 || !fn)
        return -EINVAL;
    if (fd == r->wakefd || fd == r->link->fd || find_fd(r, fd))
        return -EEXIST;
    if (r->nfds == r->fds_cap) {
        size_t cap = r->fds_cap ? r->fds_cap * 2 : 4;
        struct app_fd *n = realloc(r->fds, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        r->fds = n;
        r->fds_cap = cap;
    }
    int err = watch(r->epfd, EPOLL_CTL_ADD, fd, events);
    if (err < 0)
        return err;
    r->fds[r->nfds++] = (struct app_fd){fd, fn, ctx};
    return 0;
}

int ustack_runner_remove_fd(struct ustack_runner *r, int fd)
{
    struct app_fd *a = find_fd(r, fd);
    if (!a)
        return -ENOENT;
    /* The descriptor may already be closed, which removed it from epoll. */
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
    *a = r->fds[--r->nfds];
    /* Events already collected for fd are dropped at dispatch, because
     * dispatch looks the descriptor up again (see dispatch_app_fds). */
    return 0;
}

/* ---- stopping, waking, locking ------------------------------------------- */

/* Both are called from signal handlers: only write(2) and an atomic store,
 * and errno is preserved for the interrupted code. */
void ustack_runner_wake(struct ustack_runner *r)
{
    int saved = errno;
    uint64_t one = 1;
    /* EAGAIN means the counter is already huge: a wake-up is pending. */
    ssize_t n = write(r->wakefd, &one, sizeof(one));
    (void)n;
    errno = saved;
}

void ustack_runner_stop(struct ustack_runner *r)
{
    atomic_store(&r->stopped, true);
    ustack_runner_wake(r);
}

void ustack_runner_lock(struct ustack_runner *r)
{
    pthread_mutex_lock(&r->lock);
    /* The stack's clock only moves when it is told the time; do it now so
     * the caller's work is stamped with the current time, not with that of
     * the runner's last wake-up. */
    ustack_timer(r->st, ustack_clock_us());
}

void ustack_runner_unlock(struct ustack_runner *r)
{
    pthread_mutex_unlock(&r->lock);
    /* The caller may have scheduled a timer earlier than the one the
     * runner is sleeping towards. */
    ustack_runner_wake(r);
}

pthread_mutex_t *ustack_runner_mutex(struct ustack_runner *r)
{
    return &r->lock;
}

/* ---- one iteration ------------------------------------------------------- */

/* Frames between two readings of the clock while draining: they were all
 * queued before we woke, and reading it costs about as much as the IP
 * layer's work on a frame. Timestamps stay within a few microseconds. */
#define RUNNER_CLOCK_EVERY 8

/* Feed up to `batch` frames to the stack, as one input batch: TCP answers
 * each connection once, at the end (ustack_input_batch_begin). Returns 0
 * or the link's -errno. */
static int drain_link(struct ustack_runner *r)
{
    int rc = 0;
    unsigned i;
    uint64_t now = 0;
    ustack_input_batch_begin(r->st);
    for (i = 0; i < r->batch; i++) {
        ssize_t n = ustack_link_recv(r->link, r->frame, RUNNER_FRAME_MAX);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        if (i % RUNNER_CLOCK_EVERY == 0)
            now = ustack_clock_us();
        ustack_input(r->st, r->frame, (size_t)n, now);
    }
    ustack_input_batch_end(r->st);
    /* Frames may remain; the link fd stays readable, so the next wait
     * returns at once, after timers had their turn. */
    if (i == r->batch)
        STAT_INC(r->st, link_rx_batch_limit);
    return rc;
}

/* Run the callbacks of ready application descriptors; returns how many. */
static int dispatch_app_fds(struct ustack_runner *r, const struct epoll_event *ev, int n)
{
    int ran = 0;
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd == r->wakefd || fd == r->link->fd)
            continue;
        /* Looked up afresh: an earlier callback may have removed it. */
        struct app_fd *a = find_fd(r, fd);
        if (a) {
            a->fn(a->ctx, fd, ev[i].events);
            ran++;
        }
    }
    return ran;
}

/* A link that holds frames (ustack_link_ops.poll, e.g. the impairment
 * decorator) sends those that are due; its deadline joins the stack's in
 * the wait. A past deadline means it has received frames to give. */
static uint64_t poll_link(struct ustack_runner *r)
{
    if (!r->link->ops->poll)
        return USTACK_NEVER;
    r->link_deadline = ustack_link_poll(r->link, ustack_clock_us());
    return r->link_deadline;
}

/* Input, timers, application callbacks and hook; the next deadline goes
 * to *deadline. Called with the lock held. */
static int iterate(struct ustack_runner *r, bool link_ready, const struct epoll_event *ev,
                   int n, uint64_t *deadline)
{
    if (r->link_deadline <= ustack_clock_us())
        link_ready = true; /* held frames are due */
    int rc = link_ready ? drain_link(r) : 0;
    /* Timers first: they also bring the stack's clock up to date, so
     * what the application sends next is stamped (in a capture, in RTT
     * measurements) with the current time. */
    uint64_t next = ustack_timer(r->st, ustack_clock_us());
    bool app_ran = dispatch_app_fds(r, ev, n) > 0;
    if (r->after_io) {
        r->after_io(r->after_io_ctx);
        app_ran = true;
    }
    /* The application may have scheduled work: ask again. */
    if (app_ran)
        next = ustack_timer(r->st, ustack_clock_us());
    /* Last, so what the stack just sent is scheduled (or sent) too. */
    uint64_t link_next = poll_link(r);
    *deadline = link_next < next ? link_next : next;
    return rc;
}

/* ---- waiting ------------------------------------------------------------- */

static int wait_ms(uint64_t deadline, uint64_t now)
{
    if (deadline == USTACK_NEVER)
        return -1;
    if (deadline <= now)
        return 0;
    uint64_t ms = (deadline - now + 999) / 1000; /* round up: never early */
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Wait for events until `deadline`. Returns the number of events (0 on
 * timeout or signal) or -errno. */
static int wait_events(struct ustack_runner *r, uint64_t deadline, struct epoll_event *ev,
                       int max)
{
    uint64_t now = ustack_clock_us();
    int n;
#ifdef HAVE_EPOLL_PWAIT2
    if (!r->no_pwait2) {
        struct timespec ts, *tp = NULL;
        if (deadline != USTACK_NEVER) {
            uint64_t us = deadline > now ? deadline - now : 0;
            ts.tv_sec = (time_t)(us / 1000000u);
            ts.tv_nsec = (long)(us % 1000000u) * 1000;
            tp = &ts;
        }
        n = epoll_pwait2(r->epfd, ev, max, tp, NULL);
        if (n >= 0)
            return n;
        if (errno != ENOSYS)
            return errno == EINTR ? 0 : -errno;
        r->no_pwait2 = true; /* kernel older than 5.11: fall back for good */
    }
#endif
    n = epoll_wait(r->epfd, ev, max, wait_ms(deadline, now));
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    return n;
}

/* Busy polling (ustack_runner_set_busy_poll): before sleeping, ask epoll
 * without waiting, again and again, for up to busy_poll_us (never past the
 * stack's deadline). Waking a sleeping thread when a frame arrives costs
 * the kernel an inter-processor interrupt and the thread a scheduler round
 * trip: tens of microseconds on a virtual machine, more than the stack's
 * whole work for a request. A thread still spinning sees the frame at
 * once. The price is a core kept busy for busy_poll_us after every burst
 * of work. Returns the number of events, 0 when the window passed without
 * any (then the caller sleeps as usual), or -errno. */
static int busy_wait(struct ustack_runner *r, uint64_t deadline, struct epoll_event *ev,
                     int max)
{
    uint64_t now = ustack_clock_us();
    uint64_t until = now + r->busy_poll_us;
    if (deadline < until)
        until = deadline;
    while (now < until && !atomic_load(&r->stopped)) {
        int n = epoll_wait(r->epfd, ev, max, 0);
        if (n > 0)
            return n;
        if (n < 0 && errno != EINTR)
            return -errno;
        now = ustack_clock_us();
    }
    return 0;
}

static void drain_wakefd(struct ustack_runner *r)
{
    uint64_t count;
    ssize_t n = read(r->wakefd, &count, sizeof(count));
    (void)n; /* EAGAIN: already drained; nothing else can fail here */
}

int ustack_runner_run(struct ustack_runner *r)
{
    struct epoll_event ev[RUNNER_EVENTS];
    int n = 0, rc = 0;
    /* Start with a read: frames may have queued before we were called. */
    bool link_ready = r->link->fd >= 0;
    uint64_t deadline;

    while (!atomic_load(&r->stopped)) {
        pthread_mutex_lock(&r->lock);
        rc = iterate(r, link_ready, ev, n, &deadline);
        pthread_mutex_unlock(&r->lock);
        if (rc < 0 || atomic_load(&r->stopped))
            break;
        n = r->busy_poll_us ? busy_wait(r, deadline, ev, RUNNER_EVENTS) : 0;
        if (n == 0)
            n = wait_events(r, deadline, ev, RUNNER_EVENTS);
        if (n < 0) {
            rc = n;
            break;
        }
        link_ready = false;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd == r->wakefd)
                drain_wakefd(r);
            else if (ev[i].data.fd == r->link->fd)
                link_ready = true;
        }
    }
    return rc;
}
