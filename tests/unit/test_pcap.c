/*
 * The pcap writer (src/link/pcap.c): the file it writes is read back and
 * checked field by field against the classic pcap format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "ustack/link.h"

struct tmpfile {
    char dir[64];
    char path[96];
};

static int tmp_make(struct tmpfile *t)
{
    strcpy(t->dir, "/tmp/ustack-pcap-test.XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/c.pcap", t->dir);
    return 0;
}

static void tmp_remove(struct tmpfile *t)
{
    unlink(t->path);
    rmdir(t->dir);
}

/* Whole file into a malloc'd buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(200000);
    *len = fread(buf, 1, 200000, f);
    fclose(f);
    return buf;
}

static uint32_t u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* host order, as written */
    return v;
}

static uint16_t u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(pcap_global_header_raw_ip)
{
    struct tmpfile t;
    REQUIRE(tmp_make(&t) == 0);
    char err[128];
    struct ustack_pcap *p = ustack_pcap_open(t.path, USTACK_LINK_IP, err, sizeof(err));
    REQUIRE(p != NULL);
    /* The header is on disk at once: an empty capture is a valid file. */
    CHECK_EQ(file_size(t.path), 24);
    CHECK_EQ(ustack_pcap_close(p), 0);
    size_t len;
    uint8_t *b = slurp(t.path, &len);
    REQUIRE(b && len == 24);
    CHECK_EQ(u32(b), 0xa1b2c3d4u);
    CHECK_EQ(u16(b + 4), 2);
    CHECK_EQ(u16(b + 6), 4);
    CHECK_EQ(u32(b + 8), 0);
    CHECK_EQ(u32(b + 12), 0);
    CHECK_EQ(u32(b + 16), 65535);
    CHECK_EQ(u32(b + 20), 101); /* LINKTYPE_RAW */
    free(b);
    tmp_remove(&t);
}

TEST(pcap_linktype_ethernet)
{
    struct tmpfile t;
    REQUIRE(tmp_make(&t) == 0);
    char err[128];
    struct ustack_pcap *p = ustack_pcap_open(t.path, USTACK_LINK_ETHERNET, err, sizeof(err));
    REQUIRE(p != NULL);
    ustack_pcap_close(p);
    size_t len;
    uint8_t *b = slurp(t.path, &len);
    REQUIRE(b && len == 24);
    CHECK_EQ(u32(b + 20), 1);
    free(b);
    tmp_remove(&t);
}

TEST(pcap_records_frames_with_timestamps)
{
    struct tmpfile t;
    REQUIRE(tmp_make(&t) == 0);
    char err[128];
    struct ustack_pcap *p = ustack_pcap_open(t.path, USTACK_LINK_IP, err, sizeof(err));
    REQUIRE(p != NULL);
    uint8_t f1[3] = {1, 2, 3};
    uint8_t f2[100];
    for (int i = 0; i < 100; i++)
        f2[i] = (uint8_t)(255 - i);
    ustack_pcap_write(p, 1700000000123456ull, f1, sizeof(f1));
    ustack_pcap_write(p, 1700000001000001ull, f2, sizeof(f2));
    ustack_pcap_write(p, 1700000002000000ull, f2, 0); /* empty frame */
    CHECK_EQ(ustack_pcap_close(p), 0);
    size_t len;
    uint8_t *b = slurp(t.path, &len);
    REQUIRE(b && len == 24 + (16 + 3) + (16 + 100) + 16);
    const uint8_t *r = b + 24;
    CHECK_EQ(u32(r), 1700000000u);
    CHECK_EQ(u32(r + 4), 123456);
    CHECK_EQ(u32(r + 8), 3);
    CHECK_EQ(u32(r + 12), 3);
    CHECK_MEM(r + 16, f1, 3);
    r += 16 + 3;
    CHECK_EQ(u32(r), 1700000001u);
    CHECK_EQ(u32(r + 4), 1);
    CHECK_EQ(u32(r + 8), 100);
    CHECK_MEM(r + 16, f2, 100);
    r += 16 + 100;
    CHECK_EQ(u32(r + 8), 0);
    CHECK_EQ(u32(r + 12), 0);
    free(b);
    tmp_remove(&t);
}

TEST(pcap_truncates_to_snaplen_keeping_original_length)
{
    struct tmpfile t;
    REQUIRE(tmp_make(&t) == 0);
    char err[128];
    struct ustack_pcap *p = ustack_pcap_open(t.path, USTACK_LINK_ETHERNET, err, sizeof(err));
    REQUIRE(p != NULL);
    size_t big = 70000;
    uint8_t *f = calloc(1, big);
    ustack_pcap_write(p, 0, f, big);
    ustack_pcap_close(p);
    CHECK_EQ(file_size(t.path), 24 + 16 + 65535);
    size_t len;
    uint8_t *b = slurp(t.path, &len);
    REQUIRE(b && len >= 40);
    CHECK_EQ(u32(b + 24 + 8), 65535);
    CHECK_EQ(u32(b + 24 + 12), 70000);
    free(b);
    free(f);
    tmp_remove(&t);
}

TEST(pcap_buffers_and_flushes_by_time_and_on_request)
{
    struct tmpfile t;
    REQUIRE(tmp_make(&t) == 0);
    char err[128];
    struct ustack_pcap *p = ustack_pcap_open(t.path, USTACK_LINK_IP, err, sizeof(err));
    REQUIRE(p != NULL);
    uint8_t f[10] = {0};
    uint64_t t0 = 1700000000000000ull;
    /* The first write flushes (the previous flush is "long" ago); the next
     * ones within 100 ms stay buffered. */
    ustack_pcap_write(p, t0, f, sizeof(f));
    CHECK_EQ(file_size(t.path), 24 + 26);
    ustack_pcap_write(p, t0 + 50000, f, sizeof(f));
    ustack_pcap_write(p, t0 + 99999, f, sizeof(f));
    CHECK_EQ(file_size(t.path), 24 + 26);
    /* 100 ms after the last flush: everything goes out. */
    ustack_pcap_write(p, t0 + 100000, f, sizeof(f));
    CHECK_EQ(file_size(t.path), 24 + 4 * 26);
    ustack_pcap_write(p, t0 + 100001, f, sizeof(f));
    CHECK_EQ(file_size(t.path), 24 + 4 * 26);
    CHECK_EQ(ustack_pcap_flush(p), 0);
    CHECK_EQ(file_size(t.path), 24 + 5 * 26);
    CHECK_EQ(ustack_pcap_close(p), 0);
    tmp_remove(&t);
}

TEST(pcap_open_failure_explains)
{
    char err[256] = "";
    struct ustack_pcap *p =
        ustack_pcap_open("/nonexistent-dir/x.pcap", USTACK_LINK_IP, err, sizeof(err));
    CHECK(p == NULL);
    CHECK(strstr(err, "/nonexistent-dir/x.pcap") != NULL);
    CHECK(strstr(err, strerror(ENOENT)) != NULL);
    /* NULL is accepted everywhere, as "no capture". */
    ustack_pcap_write(NULL, 0, "x", 1);
    CHECK_EQ(ustack_pcap_flush(NULL), 0);
    CHECK_EQ(ustack_pcap_close(NULL), 0);
}

TEST(pcap_write_error_is_reported)
{
    /* /dev/full accepts the open and fails every write with ENOSPC. */
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    char err[256];
    struct ustack_pcap *p = ustack_pcap_open("/dev/full", USTACK_LINK_IP, err, sizeof(err));
    /* The header flush at open already fails. */
    CHECK(p == NULL);
    CHECK(strstr(err, strerror(ENOSPC)) != NULL);
}
