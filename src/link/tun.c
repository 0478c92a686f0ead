/*
 * TUN device link: bare IPv4/IPv6 packets to and from the kernel; or, with
 * kind USTACK_LINK_ETHERNET, a TAP device: Ethernet frames, the kernel's
 * side of the link an Ethernet interface with its own MAC that resolves
 * ustack's address with ARP. Everything else is the same for both.
 *
 * ustack_tun_open() creates the device and configures the kernel's end of it
 * itself, with ioctls on an AF_INET socket and one /proc/sys write, so that a
 * program using ustack needs no `ip` commands and no shell. The kernel-side
 * address gets a prefix route, so the kernel sends everything for that
 * subnet (including ustack's own address) into the device.
 *
 * With cfg->netns the device is created inside that named network namespace
 * (as made by `ip netns add NAME`, i.e. bound at /var/run/netns/NAME), while
 * the process itself stays where it was: a file descriptor keeps working
 * whichever namespace the thread that uses it is in.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ustack/link.h"

#define TUN_DEFAULT_MTU 1500
#define TUN_MIN_MTU 68 /* RFC 791: every IPv4 host must take 68-byte packets */
#define TUN_MAX_MTU 65535
/* The kernel queues packets for us to read in the device's transmit queue,
 * 500 packets by default: a burst larger than that (the FINs of thousands
 * of connections closed at once, a sender's window while we are busy) is
 * dropped there, and every drop costs a retransmission timeout. 4096
 * holds the bursts the benchmark's connection tests make (see
 * docs/BENCHMARKS.md) for 6 MiB of kernel memory at most. */
#define TUN_DEFAULT_TXQUEUELEN 4096
#define TUN_MAX_TXQUEUELEN 1000000

struct tun_link {
    struct ustack_link base; /* first, so a ustack_link * is a tun_link * */
    char ifname[IFNAMSIZ];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* What a user can do about a permission error: creating and configuring
 * the device needs CAP_NET_ADMIN; entering a namespace, CAP_SYS_ADMIN. */
static const char *perm_hint(int e)
{
    if (e == EPERM || e == EACCES)
        return " (run as root, or give the program the capability: "
               "sudo setcap cap_net_admin=ep PROGRAM)";
    return "";
}

static const char *netns_perm_hint(int e)
{
    if (e == EPERM || e == EACCES)
        return " (entering a namespace needs root, or: "
               "sudo setcap cap_net_admin,cap_sys_admin=ep PROGRAM)";
    return "";
}

/* ---- link operations ---------------------------------------------------- */

static int tun_send(struct ustack_link *link, const void *frame, size_t len)
{
    for (;;) {
        ssize_t n = write(link->fd, frame, len);
        if (n >= 0)
            /* TUN writes are all-or-nothing: one write is one packet. */
            return (size_t)n == len ? 0 : -EIO;
        if (errno != EINTR)
            return -errno;
    }
}

static ssize_t tun_recv(struct ustack_link *link, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(link->fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

static void tun_close(struct ustack_link *link)
{
    /* Closing the last descriptor of a non-persistent TUN device makes the
     * kernel delete it, with its addresses and routes. */
    if (link->fd >= 0)
        close(link->fd);
    free(link);
}

static const struct ustack_link_ops tun_ops = {
    .send = tun_send,
    .recv = tun_recv,
    .close = tun_close,
};

/* ---- validation --------------------------------------------------------- */

/* The kernel's own rules for interface names (dev_valid_name), checked here
 * to give a clear message; the name also becomes part of a /proc path. */
static int check_ifname(const char *name, char *err, size_t errlen)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= IFNAMSIZ) {
        set_err(err, errlen, "interface name must be 1 to %d characters", IFNAMSIZ - 1);
        return -1;
    }
    if (!strcmp(name, ".") || !strcmp(name, "..") || strpbrk(name, "/: \t\n")) {
        set_err(err, errlen, "invalid interface name '%s'", name);
        return -1;
    }
    return 0;
}

/* A namespace name becomes a path below /var/run/netns. */
static int check_netns_name(const char *name, char *err, size_t errlen)
{
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/') ||
        strlen(name) > 200) {
        set_err(err, errlen, "invalid network namespace name '%s'", name);
        return -1;
    }
    return 0;
}

/* ---- network namespaces ------------------------------------------------- */

/* Enter namespace `name`; *orig receives a descriptor of the namespace we
 * came from, for leave_netns(). */
static int enter_netns(const char *name, int *orig, char *err, size_t errlen)
{
    char path[256];
    snprintf(path, sizeof(path), "/var/run/netns/%s", name);
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
        int e = errno;
        if (e == ENOENT)
            set_err(err, errlen,
                    "network namespace '%s' does not exist (create it with: ip netns add %s)",
                    name, name);
        else
            set_err(err, errlen, "cannot open %s: %s%s", path, strerror(e),
                    netns_perm_hint(e));
        return -1;
    }
    *orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*orig < 0) {
        int e = errno;
        set_err(err, errlen, "cannot open /proc/self/ns/net: %s", strerror(e));
        close(target);
        return -1;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
        int e = errno;
        if (e == EINVAL)
            set_err(err, errlen, "%s is not a network namespace", path);
        else
            set_err(err, errlen, "cannot enter network namespace '%s': %s%s", name,
                    strerror(e), netns_perm_hint(e));
        close(target);
        close(*orig);
        return -1;
    }
    close(target);
    return 0;
}

static int leave_netns(int orig, char *err, size_t errlen)
{
    int rc = setns(orig, CLONE_NEWNET);
    if (rc < 0)
        set_err(err, errlen, "cannot return to the original network namespace: %s",
                strerror(errno));
    close(orig);
    return rc;
}

/* ---- device configuration (in the current namespace) -------------------- */

/* "TUN" or "TAP", for messages. */
static const char *device_type(enum ustack_link_kind kind)
{
    return kind == USTACK_LINK_ETHERNET ? "TAP" : "TUN";
}

static int create_device(const char *ifname, enum ustack_link_kind kind, char *err,
                         size_t errlen)
{
    /* Non-blocking: the runner drains the device until it is empty.
     * Close-on-exec: a child process must not keep the device alive. */
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        set_err(err, errlen, "cannot open /dev/net/tun: %s%s%s", strerror(e),
                e == ENOENT ? " (is the tun module loaded? try: modprobe tun)" : "",
                perm_hint(e));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    /* IFF_NO_PI: no 4-byte packet-information prefix; each read or write
     * is exactly one IP packet (TUN) or one Ethernet frame (TAP). */
    ifr.ifr_flags = (kind == USTACK_LINK_ETHERNET ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        if (e == EBUSY)
            set_err(err, errlen, "interface %s already exists and is in use", ifname);
        else if (e == EINVAL)
            set_err(err, errlen,
                    "cannot create %s device %s: an interface of another type has that name",
                    device_type(kind), ifname);
        else
            set_err(err, errlen, "cannot create %s device %s: %s%s", device_type(kind), ifname,
                    strerror(e), perm_hint(e));
        close(fd);
        return -1;
    }
    return fd;
}

static void fill_sockaddr(struct sockaddr *sa, uint32_t addr)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    memcpy(sa, &sin, sizeof(sin));
}

static uint32_t prefix_to_mask(unsigned prefix_len)
{
    return prefix_len == 0 ? 0 : ~(uint32_t)0 << (32 - prefix_len);
}

/* One SIOCSIF* ioctl with a readable error. */
static int ifr_ioctl(int sock, unsigned long req, struct ifreq *ifr, const char *what,
                     char *err, size_t errlen)
{
    if (ioctl(sock, req, ifr) == 0)
        return 0;
    int e = errno;
    set_err(err, errlen, "cannot set %s of %s: %s%s", what, ifr->ifr_name, strerror(e),
            perm_hint(e));
    return -1;
}

/* Switch IPv6 off on the device before it goes up: otherwise the kernel
 * sends router solicitations and MLD reports into it, which ustack would
 * only count and drop. A kernel without IPv6 has no such file: fine. */
static int disable_ipv6(const char *ifname, char *err, size_t errlen)
{
    char path[128];
    snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        set_err(err, errlen, "cannot open %s: %s%s", path, strerror(e), perm_hint(e));
        return -1;
    }
    ssize_t n = write(fd, "1\n", 2);
    int e = errno;
    close(fd);
    if (n != 2) {
        set_err(err, errlen, "cannot write %s: %s", path, n < 0 ? strerror(e) : "short write");
        return -1;
    }
    return 0;
}

/* Kernel side: MTU, address and prefix (which adds the subnet route), IPv6
 * off, then up. */
static int configure_device(const struct ustack_tun_config *cfg, unsigned mtu,
                            char *err, size_t errlen)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        set_err(err, errlen, "cannot create a configuration socket: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, cfg->ifname, strlen(cfg->ifname));
    int rc = -1;

    ifr.ifr_mtu = (int)mtu;
    if (ifr_ioctl(sock, SIOCSIFMTU, &ifr, "MTU", err, errlen) < 0)
        goto out;
    ifr.ifr_qlen = (int)(cfg->txqueuelen ? cfg->txqueuelen : TUN_DEFAULT_TXQUEUELEN);
    if (ifr_ioctl(sock, SIOCSIFTXQLEN, &ifr, "transmit queue length", err, errlen) < 0)
        goto out;
    /* The address first, then the netmask: SIOCSIFADDR on a point-to-point
     * device starts as a /32, SIOCSIFNETMASK widens it to the prefix. */
    fill_sockaddr(&ifr.ifr_addr, cfg->kernel_addr);
    if (ifr_ioctl(sock, SIOCSIFADDR, &ifr, "address", err, errlen) < 0)
        goto out;
    fill_sockaddr(&ifr.ifr_netmask, prefix_to_mask(cfg->prefix_len));
    if (ifr_ioctl(sock, SIOCSIFNETMASK, &ifr, "netmask", err, errlen) < 0)
        goto out;
    if (disable_ipv6(cfg->ifname, err, errlen) < 0)
        goto out;
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
        set_err(err, errlen, "cannot read flags of %s: %s", cfg->ifname, strerror(errno));
        goto out;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ifr_ioctl(sock, SIOCSIFFLAGS, &ifr, "state (up)", err, errlen) < 0)
        goto out;
    rc = 0;
out:
    close(sock);
    return rc;
}

/* Create and configure the device in the current namespace; returns its
 * descriptor or -1. */
static int open_here(const struct ustack_tun_config *cfg, unsigned mtu, char *err,
                     size_t errlen)
{
    int fd = create_device(cfg->ifname, cfg->kind, err, errlen);
    if (fd < 0)
        return -1;
    if (configure_device(cfg, mtu, err, errlen) < 0) {
        close(fd); /* removes the half-configured device */
        return -1;
    }
    return fd;
}

struct ustack_link *ustack_tun_open(const struct ustack_tun_config *cfg, char *err,
                                    size_t errlen)
{
    unsigned mtu = cfg->mtu ? cfg->mtu : TUN_DEFAULT_MTU;
    if (check_ifname(cfg->ifname, err, errlen) < 0)
        return NULL;
    if (cfg->netns && check_netns_name(cfg->netns, err, errlen) < 0)
        return NULL;
    if (cfg->prefix_len > 32) {
        set_err(err, errlen, "prefix length %u is larger than 32", cfg->prefix_len);
        return NULL;
    }
    if (mtu < TUN_MIN_MTU || mtu > TUN_MAX_MTU) {
        set_err(err, errlen, "MTU %u is outside %d..%d", mtu, TUN_MIN_MTU, TUN_MAX_MTU);
        return NULL;
    }
    if (cfg->txqueuelen > TUN_MAX_TXQUEUELEN) {
        set_err(err, errlen, "transmit queue length %u is larger than %d", cfg->txqueuelen,
                TUN_MAX_TXQUEUELEN);
        return NULL;
    }
    struct tun_link *t = calloc(1, sizeof(*t));
    if (!t) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }

    int orig_ns = -1;
    if (cfg->netns && enter_netns(cfg->netns, &orig_ns, err, errlen) < 0) {
        free(t);
        return NULL;
    }
    int fd = open_here(cfg, mtu, err, errlen);
    /* Always go back, even after a failure: the caller's sockets and the
     * rest of the process expect the original namespace. If we cannot, the
     * thread is stranded in the wrong namespace, so fail loudly. */
    if (orig_ns >= 0) {
        char leave_err[128];
        if (leave_netns(orig_ns, leave_err, sizeof(leave_err)) < 0) {
            if (fd >= 0)
                close(fd);
            set_err(err, errlen, "%s", leave_err);
            free(t);
            return NULL;
        }
    }
    if (fd < 0) {
        free(t);
        return NULL;
    }

    t->base.ops = &tun_ops;
    t->base.kind = cfg->kind == USTACK_LINK_ETHERNET ? USTACK_LINK_ETHERNET : USTACK_LINK_IP;
    t->base.mtu = mtu;
    t->base.fd = fd;
    memcpy(t->ifname, cfg->ifname, strlen(cfg->ifname) + 1);
    return &t->base;
}
