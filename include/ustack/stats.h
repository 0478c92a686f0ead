/*
 * ustack counters.
 *
 * Every frame the stack sees ends up counted: received, sent, or dropped for
 * a named reason. The list below is the single source of truth: it generates
 * the fields of struct ustack_stats and the table of printable names, so a
 * new counter is one line here and one increment where the event happens.
 *
 * Each layer owns its own block; X(layer, name, description).
 * Printed names are "layer.name", e.g. "ip.drop_bad_checksum".
 */
#ifndef USTACK_STATS_H
#define USTACK_STATS_H

#include <stddef.h>
#include <stdint.h>

#define USTACK_STATS_LINK(X)                                                  \
    X(link, rx_frames, "frames received from the link")                       \
    X(link, rx_bytes, "bytes received from the link")                         \
    X(link, tx_frames, "frames sent to the link")                             \
    X(link, tx_bytes, "bytes sent to the link")                               \
    X(link, tx_errors, "frames the link refused (device full or down)")       \
    X(link, drop_no_buffer, "outgoing frames dropped: packet pool empty")     \
    X(link, drop_ipv6, "IPv6 frames dropped (IPv6 is not supported)")         \
    X(link, drop_unknown_proto, "frames of an unknown network protocol")      \
    X(link, drop_empty, "zero-length frames")                                 \
    X(link, drop_short_frame, "Ethernet frames shorter than their header")    \
    X(link, drop_not_for_us, "Ethernet frames for another MAC or multicast")  \
    X(link, rx_batch_limit, "reads paused at the runner's batch cap")

#define USTACK_STATS_ARP(X)                                                   \
    X(arp, rx, "ARP packets received")                                        \
    X(arp, tx, "ARP packets sent")                                            \
    X(arp, rx_request, "requests for our address")                            \
    X(arp, rx_reply, "replies addressed to us")                               \
    X(arp, tx_request, "requests sent (resolving or re-checking)")            \
    X(arp, tx_reply, "replies sent")                                          \
    X(arp, tx_announce, "gratuitous ARP announcements sent")                  \
    X(arp, drop_malformed, "too short, not Ethernet/IPv4, or unknown op")     \
    X(arp, drop_bad_sender, "impossible sender MAC or IPv4 address")          \
    X(arp, conflict, "another host claims our IPv4 address")                  \
    X(arp, ignored, "not for us and about no neighbour we know")              \
    X(arp, learned, "neighbours added to the cache")                          \
    X(arp, confirmed, "cache entries set or confirmed by an answer")          \
    X(arp, evicted, "cache entries dropped to make room (oldest)")            \
    X(arp, stale, "entries used after their reachable time: re-checked")      \
    X(arp, queued, "packets held while their next hop is resolved")           \
    X(arp, drop_queue_full, "held packets dropped: queue full (oldest)")      \
    X(arp, resolve_failed, "neighbours that did not answer any request")      \
    X(arp, drop_unresolved, "held packets dropped: no answer")                \
    X(arp, drop_failed, "packets refused: neighbour recently unreachable")

#define USTACK_STATS_IP(X)                                                    \
    X(ip, rx, "IPv4 packets received")                                        \
    X(ip, tx, "IPv4 packets sent")                                            \
    X(ip, delivered, "IPv4 packets handed to a transport protocol")           \
    X(ip, drop_truncated, "frame shorter than a minimal IPv4 header")         \
    X(ip, drop_bad_version, "IP version field is not 4")                      \
    X(ip, drop_bad_ihl, "header length below 20 bytes or past the frame")     \
    X(ip, drop_bad_length, "total length longer than frame or below header")  \
    X(ip, drop_bad_checksum, "header checksum wrong")                         \
    X(ip, drop_bad_source, "impossible source address (RFC 1122 3.2.1.3)")    \
    X(ip, drop_not_ours, "destination address is not ours")                   \
    X(ip, drop_bad_options, "malformed IPv4 options")                         \
    X(ip, drop_unknown_protocol, "no handler for the IP protocol")            \
    X(ip, drop_too_big, "outgoing packets too large (DF set, or past 64 KiB)") \
    X(ip, drop_no_route, "outgoing packets to an address off our subnet")     \
    X(ip, frag_rx, "fragments received")                                      \
    X(ip, reasm_ok, "datagrams reassembled from fragments")                   \
    X(ip, reasm_duplicate, "identical copies of a fragment, ignored")         \
    X(ip, reasm_overlap, "datagrams dropped: fragments overlap or disagree")  \
    X(ip, reasm_too_big, "datagrams dropped: past the largest datagram size") \
    X(ip, reasm_bad_fragment, "fragments dropped: empty, or more follow and " \
                              "the length is not a multiple of 8")            \
    X(ip, reasm_timeout, "incomplete datagrams freed at the timeout")         \
    X(ip, reasm_evicted, "incomplete datagrams dropped to make room")         \
    X(ip, reasm_no_memory, "datagrams dropped: larger than all reassembly "   \
                           "memory")                                          \
    X(ip, frag_tx, "fragments sent")                                          \
    X(ip, frag_datagrams, "outgoing datagrams split into fragments")

#define USTACK_STATS_ICMP(X)                                                  \
    X(icmp, rx, "ICMP messages received")                                     \
    X(icmp, tx, "ICMP messages sent")                                         \
    X(icmp, rx_echo_request, "echo requests received")                        \
    X(icmp, tx_echo_reply, "echo replies sent")                               \
    X(icmp, rx_echo_reply, "echo replies received")                           \
    X(icmp, tx_echo_request, "echo requests sent (ping)")                     \
    X(icmp, rx_dest_unreach, "destination unreachable messages received")     \
    X(icmp, rx_time_exceeded, "time exceeded messages received")              \
    X(icmp, rx_param_problem, "parameter problem messages received")          \
    X(icmp, tx_dest_unreach, "destination unreachable messages sent")         \
    X(icmp, tx_time_exceeded, "time exceeded messages sent (reassembly)")     \
    X(icmp, drop_truncated, "shorter than an ICMP header")                    \
    X(icmp, drop_bad_checksum, "ICMP checksum wrong")                         \
    X(icmp, drop_unknown_type, "ICMP type we do not handle")                  \
    X(icmp, drop_broadcast_echo, "echo request to broadcast (RFC 1122)")      \
    X(icmp, drop_bad_quote, "error quoting a malformed IP header")            \
    X(icmp, error_not_allowed, "errors not sent (RFC 1122 3.2.2 forbids)")    \
    X(icmp, rate_limited, "ICMP errors suppressed by the rate limit")

#define USTACK_STATS_TCP(X)                                                   \
    X(tcp, rx, "TCP segments received")                                       \
    X(tcp, tx, "TCP segments sent")                                           \
    X(tcp, tx_data_bytes, "data bytes sent, retransmissions included")        \
    X(tcp, rx_data_bytes, "data bytes accepted in order")                     \
    X(tcp, drop_truncated, "shorter than a TCP header")                       \
    X(tcp, drop_bad_offset, "data offset below 5 words or past the end")      \
    X(tcp, drop_bad_checksum, "TCP checksum wrong")                           \
    X(tcp, drop_broadcast, "to a broadcast address (RFC 1122 4.2.3.10)")      \
    X(tcp, bad_options, "malformed option lists (parsing stopped)")           \
    X(tcp, drop_no_buffer, "segments not sent: packet pool empty")            \
    X(tcp, rst_sent, "RST segments sent")                                     \
    X(tcp, rst_rx, "RST segments that closed a connection")                   \
    X(tcp, rst_closed_port, "segments for no connection (RST sent)")          \
    X(tcp, drop_rst_bad_seq, "RST outside the window or unacceptable")        \
    X(tcp, drop_unacceptable, "segments failing the sequence test")           \
    X(tcp, rx_probe_acks, "window probes at RCV.NXT-1: their ACK taken")      \
    X(tcp, drop_bad_ack, "ACK outside RFC 5961 5.2 limits")                   \
    X(tcp, drop_ack_unsent, "ACK for data not yet sent")                      \
    X(tcp, drop_no_ack, "no ACK bit in a synchronized state")                 \
    X(tcp, rx_out_of_order, "segments held for reassembly")                   \
    X(tcp, drop_out_of_order, "past RCV.NXT, reassembly queue full")          \
    X(tcp, drop_in_state, "segments the state has no use for")                \
    X(tcp, challenge_ack, "RFC 5961 challenge ACKs sent")                     \
    X(tcp, challenge_ack_limited, "challenge ACKs rate-limited")              \
    X(tcp, active_opens, "connect() calls that sent a SYN")                   \
    X(tcp, passive_opens, "SYNs that made a SYN-RECEIVED entry")              \
    X(tcp, established, "connections that reached ESTABLISHED")               \
    X(tcp, syn_queue_full, "SYNs that found the SYN queue full")              \
    X(tcp, accept_queue_full, "handshakes held: accept queue full")           \
    X(tcp, drop_conn_limit, "refused: max_connections reached")               \
    X(tcp, drop_no_memory, "refused: allocation failed")                      \
    X(tcp, syncookies_sent, "SYN-ACKs carrying a SYN cookie")                 \
    X(tcp, syncookies_valid, "ACKs with a valid SYN cookie")                  \
    X(tcp, syncookies_invalid, "ACKs with a bad or stale SYN cookie")         \
    X(tcp, drop_syn_no_cookie, "SYNs dropped: queue full, no cookies")        \
    X(tcp, retransmits, "segments retransmitted")                             \
    X(tcp, rto_expired, "retransmission timeouts")                            \
    X(tcp, dup_acks_rx, "duplicate ACKs received (RFC 5681 2)")               \
    X(tcp, fast_retransmits, "retransmissions on 3 duplicate ACKs")           \
    X(tcp, partial_ack_retransmits, "retransmissions on a partial ACK "       \
                                    "(RFC 6582)")                             \
    X(tcp, limited_transmits, "new segments sent on the first or second "    \
                              "duplicate ACK (RFC 3042)")                     \
    X(tcp, sack_recoveries, "fast recoveries driven by SACK (RFC 6675)")      \
    X(tcp, sack_retransmits, "holes retransmitted in SACK recovery")          \
    X(tcp, sack_rescue_retransmits, "rescue retransmissions (RFC 6675 "       \
                                    "NextSeg rule 4)")                        \
    X(tcp, sack_board_full, "SACK blocks or ranges forgotten: scoreboard "   \
                            "full")                                           \
    X(tcp, idle_restarts, "cwnd cut to the restart window after idle "       \
                          "(RFC 5681 4.1)")                                   \
    X(tcp, delayed_acks, "ACKs sent when the delayed-ACK timer ran out")      \
    X(tcp, window_updates, "window updates sent after the user read")         \
    X(tcp, window_probes, "zero-window probes sent")                          \
    X(tcp, keepalive_probes, "keep-alive probes sent")                        \
    X(tcp, timeout_aborts, "connections failed with ETIMEDOUT")               \
    X(tcp, keepalive_aborts, "... of which: keep-alive probes unanswered")    \
    X(tcp, user_timeout_aborts, "... of which: the user timeout ran out")     \
    X(tcp, resets, "connections reset by the peer")                           \
    X(tcp, rst_data_after_close, "RST sent: data after close")                \
    X(tcp, rst_unread_close, "RST sent: closed with unread data")             \
    X(tcp, icmp_rx, "ICMP errors quoting a TCP segment we sent")              \
    X(tcp, icmp_unmatched, "... for no connection of ours: ignored")          \
    X(tcp, icmp_bad_seq, "... quoting a seq outside SND.UNA..SND.NXT-1")      \
    X(tcp, icmp_frag_needed, "fragmentation needed: MSS lowered, resent")     \
    X(tcp, icmp_frag_ignored, "fragmentation needed: not smaller, or bogus")  \
    X(tcp, icmp_pmtu_floor, "reported MTU below our floor: floor, no DF")     \
    X(tcp, icmp_soft, "soft errors kept to report at a timeout")              \
    X(tcp, icmp_refused, "port/protocol unreachable aborted a connect()")     \
    X(tcp, icmp_hard_as_soft, "port/protocol unreachable once synchronized")  \
    X(tcp, time_wait_expired, "TIME-WAIT connections that ran out")           \
    X(tcp, fin_wait_2_timeout, "orphaned FIN-WAIT-2 timed out")               \
    X(tcp, drop_paws, "old timestamp (RFC 7323 PAWS): dropped, ACK sent")     \
    X(tcp, drop_no_timestamp, "no timestamp though negotiated (RFC 7323 "     \
                              "3.2)")                                         \
    X(tcp, ts_rtt_samples, "RTT samples taken from timestamp echoes")         \
    X(tcp, wscale_clamped, "window scale above 14 in a SYN (14 used)")        \
    X(tcp, rcv_wnd_retracted, "window edge moved back: buffer too full to "   \
                              "round up to the scale (RFC 7323 2.4)")         \
    X(tcp, sack_blocks_rx, "SACK blocks received and valid (RFC 2018)")       \
    X(tcp, sack_blocks_invalid, "SACK blocks ignored: empty, outside "        \
                                "SND.UNA..SND.NXT, or not negotiated")        \
    X(tcp, sack_acks_tx, "ACKs sent carrying SACK blocks")                    \
    X(tcp, tlp_probes, "tail loss probes sent (RFC 8985 7)")                  \
    X(tcp, tlp_repairs, "... whose ACK showed they repaired a lost tail")     \
    X(tcp, tlp_ack_losses, "... D-SACKed: only the ACKs had been lost")       \
    X(tcp, tlp_sack_recoveries, "recoveries started by the probe timer")      \
    X(tcp, tlp_stall_retransmits, "SND.UNA resent: SACK recovery stalled")    \
    X(tcp, lost_retransmits, "retransmissions found lost in SACK recovery")

#define USTACK_STATS_UDP(X)                                                   \
    X(udp, rx, "UDP datagrams received")                                      \
    X(udp, tx, "UDP datagrams sent")                                          \
    X(udp, delivered, "datagrams queued to a socket")                         \
    X(udp, rx_no_checksum, "datagrams sent without a checksum (RFC 768)")     \
    X(udp, read_truncated, "datagrams cut short by a small receive buffer")   \
    X(udp, drop_truncated, "shorter than a UDP header")                       \
    X(udp, drop_bad_length, "length field below 8 or past the IP payload")    \
    X(udp, drop_bad_checksum, "UDP checksum wrong")                           \
    X(udp, no_port, "no socket for the port (ICMP unreachable, if allowed)")  \
    X(udp, drop_wrong_peer, "not from the connected peer (as no_port)")       \
    X(udp, drop_broadcast_no_port, "broadcast to a port with no socket")      \
    X(udp, drop_rcvq_full, "receive queue full (datagrams or bytes)")         \
    X(udp, drop_no_memory, "receive queue storage could not be allocated")    \
    X(udp, tx_too_big, "not sent: larger than IP can carry (EMSGSIZE)")       \
    X(udp, tx_no_buffer, "not sent: packet pool empty (ENOBUFS)")             \
    X(udp, icmp_errors, "ICMP errors passed to a connected socket")           \
    X(udp, icmp_errors_unmatched, "ICMP errors matching no connected socket")

#define USTACK_STATS(X)                                                       \
    USTACK_STATS_LINK(X)                                                      \
    USTACK_STATS_ARP(X)                                                       \
    USTACK_STATS_IP(X)                                                        \
    USTACK_STATS_ICMP(X)                                                      \
    USTACK_STATS_TCP(X)                                                       \
    USTACK_STATS_UDP(X)

struct ustack_stats {
#define USTACK_STATS_FIELD(layer, name, desc) uint64_t layer##_##name;
    USTACK_STATS(USTACK_STATS_FIELD)
#undef USTACK_STATS_FIELD
};

/* One row of the printable counter table. */
struct ustack_stat_info {
    const char *name;        /* "ip.drop_bad_checksum" */
    const char *description; /* one line for humans */
    size_t offset;           /* offsetof(struct ustack_stats, field) */
};

/* The table of every counter, in declaration order; *count gets its length. */
const struct ustack_stat_info *ustack_stat_table(size_t *count);

/* Value of counter row `info` in `stats`. */
uint64_t ustack_stat_value(const struct ustack_stats *stats,
                           const struct ustack_stat_info *info);

#endif
