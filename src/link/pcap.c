/*
 * Classic pcap capture writer (the format of tcpdump -w; readable by
 * tcpdump, tshark and Wireshark).
 *
 * File layout: a 24-byte global header, then for each frame a 16-byte
 * record header and the frame bytes. Everything is written in host byte
 * order; readers recognise the byte order from the magic number.
 *
 * Writes go through a stdio buffer, so capturing costs no system call per
 * frame. To let someone read a capture while it grows (or after a crash),
 * the buffer is flushed whenever the previous flush is more than
 * PCAP_FLUSH_US old, and whenever the owner calls ustack_pcap_flush() (the
 * CLI does so after each batch of frames and on SIGUSR1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/link.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define PCAP_SNAPLEN 65535u
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101 /* bare IPv4/IPv6 packets */

#define PCAP_BUFFER_SIZE (64 * 1024)
#define PCAP_FLUSH_US 100000u /* 100 ms */

struct ustack_pcap {
    FILE *f;
    uint64_t last_flush_us; /* timestamp of the frame that caused the last flush */
    int error;              /* first errno seen; once set, writing stops */
};

/* The two on-disk headers, as plain integers in host order: no struct
 * padding, written field by field. */
static int put_u32(FILE *f, uint32_t v)
{
    return fwrite(&v, sizeof(v), 1, f) == 1 ? 0 : -1;
}

static int put_u16(FILE *f, uint16_t v)
{
    return fwrite(&v, sizeof(v), 1, f) == 1 ? 0 : -1;
}

static int write_global_header(FILE *f, uint32_t linktype)
{
    int rc = 0;
    rc |= put_u32(f, PCAP_MAGIC_US);
    rc |= put_u16(f, PCAP_VERSION_MAJOR);
    rc |= put_u16(f, PCAP_VERSION_MINOR);
    rc |= put_u32(f, 0); /* thiszone: timestamps are UTC */
    rc |= put_u32(f, 0); /* sigfigs: unused by every reader */
    rc |= put_u32(f, PCAP_SNAPLEN);
    rc |= put_u32(f, linktype);
    return rc;
}

struct ustack_pcap *ustack_pcap_open(const char *path, enum ustack_link_kind kind,
                                     char *err, size_t errlen)
{
    struct ustack_pcap *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* "e": close-on-exec, so child processes do not inherit the capture. */
    p->f = fopen(path, "wbe");
    if (!p->f) {
        snprintf(err, errlen, "cannot create capture file %s: %s", path, strerror(errno));
        free(p);
        return NULL;
    }
    setvbuf(p->f, NULL, _IOFBF, PCAP_BUFFER_SIZE);
    uint32_t linktype = kind == USTACK_LINK_IP ? LINKTYPE_RAW : LINKTYPE_ETHERNET;
    /* Flush the header at once: an empty capture is still a valid file. */
    if (write_global_header(p->f, linktype) < 0 || fflush(p->f) != 0) {
        snprintf(err, errlen, "cannot write capture file %s: %s", path, strerror(errno));
        fclose(p->f);
        free(p);
        return NULL;
    }
    return p;
}

static void note_error(struct ustack_pcap *p)
{
    if (!p->error)
        p->error = errno ? errno : EIO;
}

void ustack_pcap_write(struct ustack_pcap *p, uint64_t unix_us, const void *frame,
                       size_t len)
{
    if (!p || p->error)
        return;
    uint32_t incl = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : (uint32_t)len;
    uint32_t orig = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    int rc = 0;
    rc |= put_u32(p->f, (uint32_t)(unix_us / 1000000u));
    rc |= put_u32(p->f, (uint32_t)(unix_us % 1000000u));
    rc |= put_u32(p->f, incl);
    rc |= put_u32(p->f, orig);
    if (rc == 0 && incl && fwrite(frame, incl, 1, p->f) != 1)
        rc = -1;
    if (rc < 0) {
        note_error(p);
        return;
    }
    /* Time-based flush. A clock that steps backwards also triggers one. */
    if (unix_us - p->last_flush_us >= PCAP_FLUSH_US) {
        p->last_flush_us = unix_us;
        if (fflush(p->f) != 0)
            note_error(p);
    }
}

int ustack_pcap_flush(struct ustack_pcap *p)
{
    if (!p)
        return 0;
    if (!p->error && fflush(p->f) != 0)
        note_error(p);
    return -p->error;
}

int ustack_pcap_close(struct ustack_pcap *p)
{
    if (!p)
        return 0;
    if (!p->error && fflush(p->f) != 0)
        note_error(p);
    if (fclose(p->f) != 0 && !p->error)
        p->error = errno ? errno : EIO;
    int rc = -p->error;
    free(p);
    return rc;
}
