/*
 * The event loop for a stack on a real device (TUN/TAP).
 *
 * The core never reads a clock or waits; the runner does both for it. Each
 * iteration it
 *   1. reads frames from the link until the device is empty, at most
 *      `batch` of them (so a flood cannot starve timers), and feeds them to
 *      ustack_input() with the current monotonic time (read every few
 *      frames), as one input batch: TCP answers each connection once, at
 *      the end of the batch (ustack_input_batch_begin in ustack.h),
 *   2. runs the stack's timers (which also tells it the time),
 *   3. runs the callbacks of the application's own descriptors that are
 *      ready (ustack_runner_add_fd), then the after_io hook (where event-API
 *      applications do their work), then asks the stack for its next
 *      deadline,
 *   4. sleeps in epoll until a descriptor is ready, the deadline passes, or
 *      someone calls ustack_runner_wake()/ustack_runner_stop(); with busy
 *      polling on (ustack_runner_set_busy_poll), it first spins on
 *      non-blocking epoll checks for a while.
 *
 * A link with a poll op (ustack_link_ops.poll: the impairment decorator of
 * ustack/impair.h holds frames for later) is polled at the end of each
 * iteration; its deadline joins the stack's, and when it has passed the
 * runner reads the link even if its descriptor is not readable.
 *
 * Timing: deadlines are microseconds, and the wait uses epoll_pwait2() with
 * a nanosecond timeout, so a 200 us retransmission timer fires on time
 * instead of being rounded to a millisecond. Where epoll_pwait2 is missing
 * (glibc < 2.35 at build time, or Linux < 5.11 at run time, reported as
 * ENOSYS) the runner falls back to epoll_wait() with the timeout rounded
 * *up* to whole milliseconds: timers then fire up to 1 ms late, never early
 * (waking early would only spin).
 *
 * Threads: the runner holds its lock (a plain, non-recursive mutex) whenever
 * it calls into the stack, and also while it runs fd callbacks and the
 * after_io hook, which may therefore call into the stack directly but must
 * not call ustack_runner_lock(). Other threads wrap every stack call in
 * ustack_runner_lock()/ustack_runner_unlock(); unlocking wakes the runner
 * so it recomputes its deadline, since any API call can schedule a timer.
 */
#ifndef USTACK_RUNNER_H
#define USTACK_RUNNER_H

#include <pthread.h>
#include <stdint.h>

#include "ustack/ustack.h"

struct ustack_runner;

/* Called when a registered descriptor is ready; `events` are epoll events
 * (EPOLLIN, EPOLLOUT, EPOLLHUP, ...). Runs on the runner thread, lock held. */
typedef void (*ustack_runner_fd_fn)(void *ctx, int fd, uint32_t events);

/* Called once per loop iteration, after input and timers, lock held. */
typedef void (*ustack_runner_hook_fn)(void *ctx);

/* Default and maximum number of frames read per iteration. */
#define USTACK_RUNNER_DEFAULT_BATCH 64
#define USTACK_RUNNER_MAX_BATCH 4096

/* Create a runner for stack `st` attached to `link` (neither is owned).
 * A link with fd < 0 (e.g. an in-memory link) is simply not polled.
 * Returns NULL with errno set on failure. */
struct ustack_runner *ustack_runner_new(struct ustack *st, struct ustack_link *link);
void ustack_runner_free(struct ustack_runner *r);

/* Loop until ustack_runner_stop(). Returns 0 when stopped, or -errno when
 * the link fails (e.g. the device was deleted) or waiting fails. Once
 * stopped, a runner stays stopped: further calls return 0 at once. */
int ustack_runner_run(struct ustack_runner *r);

/* Make run() return. Async-signal-safe and thread-safe (an atomic flag and
 * an eventfd write), so a SIGINT handler may call it. */
void ustack_runner_stop(struct ustack_runner *r);

/* Interrupt the current wait so the loop iterates once more (e.g. after a
 * signal handler set a flag that after_io checks). Async-signal-safe and
 * thread-safe. */
void ustack_runner_wake(struct ustack_runner *r);

/* Watch an application descriptor: `events` is an epoll mask (EPOLLIN...),
 * level-triggered. Returns 0, -EEXIST if fd is already watched, or -errno.
 * Call from the runner thread (a callback or hook) or before run(). */
int ustack_runner_add_fd(struct ustack_runner *r, int fd, uint32_t events,
                         ustack_runner_fd_fn fn, void *ctx);
/* Stop watching fd (safe from within any callback, including fd's own).
 * Returns 0 or -ENOENT. */
int ustack_runner_remove_fd(struct ustack_runner *r, int fd);

/* Per-iteration hook (NULL to remove). */
void ustack_runner_set_after_io(struct ustack_runner *r, ustack_runner_hook_fn fn,
                                void *ctx);

/* Frames read per iteration, 1..USTACK_RUNNER_MAX_BATCH (clamped). */
void ustack_runner_set_batch(struct ustack_runner *r, unsigned frames);

/* Busy polling, off (0) by default: before going to sleep the runner keeps
 * checking its descriptors without blocking for up to usec microseconds
 * (never past the stack's next deadline), so a frame or a wake-up that
 * comes within that window is handled without the cost of waking a
 * sleeping thread (an inter-processor interrupt and a scheduler round
 * trip: tens of microseconds in a VM). It trades a core's time for latency,
 * as SO_BUSY_POLL does for kernel sockets: after every burst of work the
 * thread spins usec more. Clamped to USTACK_RUNNER_MAX_BUSY_POLL_US. */
#define USTACK_RUNNER_MAX_BUSY_POLL_US 1000000
void ustack_runner_set_busy_poll(struct ustack_runner *r, unsigned usec);

/* Take/release the stack lock from a thread other than the runner's.
 * Taking it also brings the stack's clock to the present (running timers
 * that are due), so what the caller sends is stamped with the current time. */
void ustack_runner_lock(struct ustack_runner *r);
void ustack_runner_unlock(struct ustack_runner *r);
/* The lock itself, for pthread_cond_wait() by blocking APIs. A thread that
 * leaves a condition wait holding it releases it with ustack_runner_unlock. */
pthread_mutex_t *ustack_runner_mutex(struct ustack_runner *r);

/* CLOCK_MONOTONIC in microseconds: the clock every `now` in ustack comes
 * from (the blocking API reads CLOCK_MONOTONIC too, but only for its
 * condition-variable deadlines). */
uint64_t ustack_clock_us(void);

/* Microseconds to add to ustack_clock_us() to get Unix time (sampled once
 * by the caller, e.g. for pcap timestamps; a later wall-clock step does not
 * disturb a capture's spacing). */
int64_t ustack_clock_unix_offset_us(void);

#endif
