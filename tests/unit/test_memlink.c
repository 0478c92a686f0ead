/*
 * The in-memory link pair: order, bounds, MTU, truncation, independence of
 * the two directions, and closing the ends in either order.
 */
#include <errno.h>

#include "test.h"
#include "ustack/link.h"

TEST(memlink_delivers_in_order_both_ways)
{
    struct ustack_link *a, *b;
    REQUIRE(ustack_memlink_pair(USTACK_LINK_IP, 1500, 8, &a, &b) == 0);
    CHECK_EQ(a->mtu, 1500);
    CHECK_EQ(a->kind, USTACK_LINK_IP);
    CHECK_EQ(a->fd, -1);
    for (uint8_t i = 0; i < 5; i++) {
        uint8_t f[3] = {i, (uint8_t)(i + 1), (uint8_t)(i + 2)};
        CHECK_EQ(ustack_link_send(a, f, 1 + i % 3), 0);
    }
    uint8_t back[1] = {0x99};
    CHECK_EQ(ustack_link_send(b, back, 1), 0);
    CHECK_EQ(ustack_memlink_pending(b), 5);
    CHECK_EQ(ustack_memlink_pending(a), 1);
    uint8_t buf[1500];
    for (uint8_t i = 0; i < 5; i++) {
        CHECK_EQ(ustack_link_recv(b, buf, sizeof(buf)), 1 + i % 3);
        CHECK_EQ(buf[0], i);
    }
    CHECK_EQ(ustack_link_recv(b, buf, sizeof(buf)), 0);
    CHECK_EQ(ustack_link_recv(a, buf, sizeof(buf)), 1);
    CHECK_EQ(buf[0], 0x99);
    ustack_link_close(a);
    ustack_link_close(b);
}

TEST(memlink_bounded_and_reusable)
{
    struct ustack_link *a, *b;
    REQUIRE(ustack_memlink_pair(USTACK_LINK_IP, 100, 3, &a, &b) == 0);
    uint8_t f[100] = {0}, buf[100];
    /* Fill, overflow, drain one, and wrap around the ring many times. */
    for (int round = 0; round < 10; round++) {
        while (ustack_memlink_pending(b) < 3) {
            f[0] = (uint8_t)round;
            CHECK_EQ(ustack_link_send(a, f, 10), 0);
        }
        CHECK_EQ(ustack_link_send(a, f, 10), -ENOBUFS);
        CHECK_EQ(ustack_link_recv(b, buf, sizeof(buf)), 10);
    }
    CHECK_EQ(ustack_memlink_pending(b), 2);
    ustack_link_close(b); /* closing either end first is fine */
    ustack_link_close(a);
}

TEST(memlink_mtu_and_truncation)
{
    struct ustack_link *a, *b;
    REQUIRE(ustack_memlink_pair(USTACK_LINK_IP, 576, 4, &a, &b) == 0);
    static uint8_t f[2000], buf[2000];
    for (size_t i = 0; i < sizeof(f); i++)
        f[i] = (uint8_t)i;
    CHECK_EQ(ustack_link_send(a, f, 577), -EMSGSIZE);
    CHECK_EQ(ustack_link_send(a, f, 576), 0);
    CHECK_EQ(ustack_link_send(a, f, 0), 0);
    /* A receive buffer smaller than the frame gets its first bytes. */
    CHECK_EQ(ustack_link_recv(b, buf, 100), 100);
    CHECK_MEM(buf, f, 100);
    CHECK_EQ(ustack_link_recv(b, buf, sizeof(buf)), 0); /* the empty frame */
    CHECK_EQ(ustack_memlink_pending(b), 0);
    ustack_link_close(a);
    ustack_link_close(b);
    /* Ethernet frames may carry a 14-byte header on top of the MTU. */
    REQUIRE(ustack_memlink_pair(USTACK_LINK_ETHERNET, 1500, 1, &a, &b) == 0);
    CHECK_EQ(ustack_link_send(a, f, 1514), 0);
    CHECK_EQ(ustack_link_recv(b, buf, sizeof(buf)), 1514);
    CHECK_EQ(ustack_link_send(a, f, 1515), -EMSGSIZE);
    ustack_link_close(a);
    ustack_link_close(b);
}

TEST(memlink_rejects_zero_capacity)
{
    struct ustack_link *a = NULL, *b = NULL;
    CHECK_EQ(ustack_memlink_pair(USTACK_LINK_IP, 1500, 0, &a, &b), -EINVAL);
    /* MTU 0 means the default. */
    REQUIRE(ustack_memlink_pair(USTACK_LINK_IP, 0, 1, &a, &b) == 0);
    CHECK_EQ(a->mtu, 1500);
    ustack_link_close(a);
    ustack_link_close(b);
}
