/*
 * The link interface: how frames leave and enter ustack.
 *
 * The stack core only ever calls ustack_link_send(). Receiving is the
 * runner's (or a test harness's) job: it calls ustack_link_recv() until the
 * link is empty and feeds each frame to ustack_input(). That split keeps the
 * core free of I/O, so tests can drive it with an in-memory link and a
 * virtual clock.
 */
#ifndef USTACK_LINK_H
#define USTACK_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ustack_link_kind {
    USTACK_LINK_IP,       /* frames are bare IP packets (TUN, IFF_NO_PI) */
    USTACK_LINK_ETHERNET, /* frames are Ethernet II frames (TAP) */
};

struct ustack_link;

struct ustack_link_ops {
    /* Send one frame. 0 on success, -errno on failure (e.g. -EAGAIN when the
     * device queue is full: the frame is lost, as on a real wire). */
    int (*send)(struct ustack_link *link, const void *frame, size_t len);
    /* Receive one frame into buf without blocking. Returns its length,
     * 0 when nothing is waiting, or -errno. A frame longer than cap is
     * truncated to cap (the stack then drops it as malformed). */
    ssize_t (*recv)(struct ustack_link *link, void *buf, size_t cap);
    /* Release the link and everything it owns (including the struct). */
    void (*close)(struct ustack_link *link);
    /* Optional (NULL for plain links): a link that holds frames for later
     * (the impairment decorator, ustack/impair.h) sends those due by `now`
     * and returns when it next needs a call, UINT64_MAX for never. A
     * deadline <= now means recv has a frame to give. The runner calls it
     * every iteration and includes the deadline in its wait. */
    uint64_t (*poll)(struct ustack_link *link, uint64_t now);
};

/* Every link implementation embeds this as its first member. */
struct ustack_link {
    const struct ustack_link_ops *ops;
    enum ustack_link_kind kind;
    unsigned mtu; /* largest IP packet the link carries, in bytes */
    int fd;       /* file descriptor to wait on for input, or -1 */
};

static inline int ustack_link_send(struct ustack_link *l, const void *f, size_t n)
{
    return l->ops->send(l, f, n);
}

static inline ssize_t ustack_link_recv(struct ustack_link *l, void *b, size_t cap)
{
    return l->ops->recv(l, b, cap);
}

/* UINT64_MAX (the same value as USTACK_NEVER) for links without a poll op. */
static inline uint64_t ustack_link_poll(struct ustack_link *l, uint64_t now)
{
    return l->ops->poll ? l->ops->poll(l, now) : UINT64_MAX;
}

static inline void ustack_link_close(struct ustack_link *l)
{
    if (l)
        l->ops->close(l);
}

/* ---- TUN and TAP devices (src/link/tun.c) -------------------------------- */

struct ustack_tun_config {
    const char *ifname;      /* device name, e.g. "ustack0" (required) */
    enum ustack_link_kind kind; /* USTACK_LINK_IP (the default): a TUN
                                   device, bare IP packets; or
                                   USTACK_LINK_ETHERNET: a TAP device,
                                   Ethernet frames (the kernel side then
                                   has a MAC and speaks ARP) */
    const char *netns;       /* create the device in /var/run/netns/NAME, or NULL */
    uint32_t kernel_addr;    /* kernel-side address, host byte order */
    unsigned prefix_len;     /* kernel-side prefix length, e.g. 24 */
    unsigned mtu;            /* 0 means 1500 */
    unsigned txqueuelen;     /* packets the kernel queues for us to read
                                (the device's transmit queue); 0 means
                                4096 (the kernel's own default is 500) */
};

/* Create and configure a TUN device (IFF_TUN | IFF_NO_PI), or a TAP device
 * (IFF_TAP | IFF_NO_PI) for kind USTACK_LINK_ETHERNET: address, prefix,
 * MTU, transmit queue length, IPv6 off, link up, fd non-blocking. Needs CAP_NET_ADMIN. On failure
 * returns NULL and writes a human-readable reason into err. */
struct ustack_link *ustack_tun_open(const struct ustack_tun_config *cfg,
                                    char *err, size_t errlen);

/* ---- In-memory link pair (src/link/memlink.c) ----------------------------- */

/* Two connected links: a frame sent on one is received on the other, in
 * order, with nothing lost. Each direction queues at most `capacity` frames
 * (more are dropped, -ENOBUFS). Used by the simulation and scripted tests. */
int ustack_memlink_pair(enum ustack_link_kind kind, unsigned mtu,
                        unsigned capacity, struct ustack_link **a,
                        struct ustack_link **b);

/* Number of frames waiting to be received on `link` (a memlink). */
unsigned ustack_memlink_pending(const struct ustack_link *link);

/* ---- pcap writer (src/link/pcap.c) ---------------------------------------- */

struct ustack_pcap;

/* Open FILE for writing a classic pcap capture. linktype is derived from
 * kind: LINKTYPE_RAW (101) for USTACK_LINK_IP, LINKTYPE_ETHERNET (1). */
struct ustack_pcap *ustack_pcap_open(const char *path, enum ustack_link_kind kind,
                                     char *err, size_t errlen);
/* Record one frame with a timestamp in microseconds since the Unix epoch. */
void ustack_pcap_write(struct ustack_pcap *p, uint64_t unix_us,
                       const void *frame, size_t len);
/* Push buffered frames to the file (writes are buffered; the writer also
 * flushes by itself when its last flush is over 100 ms old). Returns 0, or
 * -errno of the first write error (after which the capture stops growing). */
int ustack_pcap_flush(struct ustack_pcap *p);
/* Flush, close and free. Returns 0 or -errno of the first write error. */
int ustack_pcap_close(struct ustack_pcap *p);

#endif
