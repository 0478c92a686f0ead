/*
 * ustack_tcp_cc_from_name() (ustack/socket.h): the names the CLI and the
 * benchmark take for congestion control, and nothing else.
 */
#include "test.h"
#include "ustack/socket.h"

TEST(tcp_cc_from_name)
{
    CHECK_EQ(ustack_tcp_cc_from_name("newreno"), USTACK_TCP_CC_NEWRENO);
    CHECK_EQ(ustack_tcp_cc_from_name("cubic"), USTACK_TCP_CC_CUBIC);
    CHECK_EQ(ustack_tcp_cc_from_name("bbr"), USTACK_TCP_CC_BBR);
    CHECK_EQ(ustack_tcp_cc_from_name("BBR"), -1);
    CHECK_EQ(ustack_tcp_cc_from_name(""), -1);
    CHECK_EQ(ustack_tcp_cc_from_name("reno"), -1);
    CHECK_EQ(ustack_tcp_cc_from_name("cubic "), -1);
}
