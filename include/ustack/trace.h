/*
 * Per-connection TCP traces: one row of the sender's state at each moment
 * that matters, for plotting and for learning how TCP behaves.
 *
 * The stack formats nothing and writes nothing itself: it calls the sink
 * you register with a struct ustack_trace_row, on the thread that is inside
 * the stack (the runner's, or one holding ustack_runner_lock), and the sink
 * decides what to do with it (the `ustack` command writes one CSV file per
 * connection). ustack_trace_csv_row() formats a row as the CSV line those
 * files use.
 *
 * Which connections are traced:
 *  - a socket with the option USTACK_TCP_TRACE set to 1 (ustack/socket.h);
 *    a listener passes it to the connections it accepts;
 *  - every connection created while ustack_set_trace_all(st, true) is on.
 * A connection that is not traced costs one branch at each trace point.
 *
 * When rows are produced (the `event` of the row):
 *  - STATE    the connection changed state (RFC 9293 §3.3.2)
 *  - SEND     new sequence space went out: SND.NXT moved (one row per
 *             output burst, not per segment)
 *  - ACK      an acknowledgment moved SND.UNA
 *  - CWND     an acknowledgment that did not move SND.UNA (a duplicate
 *             ACK) changed cwnd or ssthresh
 *  - RTX      a segment was sent again (fast retransmit, partial ACK,
 *             go-back-N after a timeout)
 *  - TIMEOUT  the retransmission timer expired (the row shows the backed-
 *             off RTO; the retransmission follows as an RTX row)
 *  - END      the connection block is freed: the connection's last row
 * Listeners produce no rows.
 */
#ifndef USTACK_TRACE_H
#define USTACK_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ustack;

enum ustack_trace_event {
    USTACK_TRACE_STATE,
    USTACK_TRACE_SEND,
    USTACK_TRACE_ACK,
    USTACK_TRACE_CWND,
    USTACK_TRACE_RTX,
    USTACK_TRACE_TIMEOUT,
    USTACK_TRACE_END,
};

/* "state", "send", "ack", "cwnd", "rtx", "timeout", "end"; "?" otherwise. */
const char *ustack_trace_event_name(enum ustack_trace_event ev);

/* ssthresh before the first loss: "no threshold yet". */
#define USTACK_TRACE_SSTHRESH_NONE UINT32_MAX

/* One row: the sender's state right after the event. Sequence numbers are
 * the absolute 32-bit values; subtract iss for numbers relative to the
 * start of the connection (the SYN is ISS, the first data byte ISS+1). */
struct ustack_trace_row {
    uint64_t conn_id;        /* the connection within its stack: 1, 2, 3...
                                in the order of their first rows */
    uint64_t time_us;        /* stack time (ustack_now), microseconds */
    enum ustack_trace_event event;
    const char *state;       /* "ESTABLISHED", ... (static storage) */
    uint32_t local_addr, remote_addr; /* host byte order */
    uint16_t local_port, remote_port;
    uint32_t iss;            /* our initial sequence number */
    uint32_t snd_una, snd_nxt;
    uint32_t cwnd;           /* congestion window, bytes; 0 until the
                                connection is established */
    uint32_t ssthresh;       /* bytes; USTACK_TRACE_SSTHRESH_NONE = none yet */
    uint32_t in_flight;      /* bytes in flight as congestion control
                                counts them (what cwnd limits): sent and
                                neither acknowledged nor SACKed; during
                                SACK recovery RFC 6675's pipe. At most
                                SND.NXT - SND.UNA */
    uint32_t srtt_us, rttvar_us; /* RFC 6298 estimator; 0 until measured */
    uint32_t rto_us;         /* current retransmission timeout */
    uint32_t snd_wnd;        /* the window the peer offers, bytes */
    uint32_t retransmissions; /* segments retransmitted so far */
};

/* Called for every row. Must not call back into the stack. */
typedef void (*ustack_trace_fn)(void *ctx, const struct ustack_trace_row *row);

/* Register the sink (NULL: none; rows are then not produced at all). */
void ustack_set_trace_sink(struct ustack *st, ustack_trace_fn fn, void *ctx);

/* Trace every connection created from now on (active opens and accepted
 * ones alike), as if each had USTACK_TCP_TRACE set. */
void ustack_set_trace_all(struct ustack *st, bool on);

/* ---- CSV (the format of `ustack serve --trace DIR` files) ----------------
 *
 * The header line, then one line per row:
 *   time_us,event,state,local,remote,snd_una,snd_nxt,snd_una_rel,
 *   snd_nxt_rel,cwnd,ssthresh,in_flight,srtt_us,rttvar_us,rto_us,snd_wnd,
 *   retransmissions
 * local/remote are A.B.C.D:PORT, *_rel are SND.UNA/SND.NXT minus ISS
 * (modulo 2^32), ssthresh is empty while there is none yet, every other
 * number is a plain decimal. No field needs quoting.
 */

/* The header line, without a line break. */
const char *ustack_trace_csv_header(void);

/* Format row as one CSV line with a trailing "\n" into buf. Returns the
 * length (without the NUL), like snprintf: a value >= len means buf was too
 * small (USTACK_TRACE_CSV_MAX always suffices). */
int ustack_trace_csv_row(const struct ustack_trace_row *row, char *buf, size_t len);
#define USTACK_TRACE_CSV_MAX 256

#endif
