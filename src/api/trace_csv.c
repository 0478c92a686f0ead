/*
 * The CSV form of a trace row (include/ustack/trace.h). Formatting only:
 * writing the lines somewhere is the caller's business.
 */
#include <stdio.h>

#include "ustack/trace.h"
#include "ustack/ustack.h"

const char *ustack_trace_csv_header(void)
{
    return "time_us,event,state,local,remote,snd_una,snd_nxt,snd_una_rel,"
           "snd_nxt_rel,cwnd,ssthresh,in_flight,srtt_us,rttvar_us,rto_us,"
           "snd_wnd,retransmissions";
}

int ustack_trace_csv_row(const struct ustack_trace_row *r, char *buf, size_t len)
{
    char la[16], ra[16], ssthresh[12] = "";
    if (r->ssthresh != USTACK_TRACE_SSTHRESH_NONE)
        snprintf(ssthresh, sizeof(ssthresh), "%u", r->ssthresh);
    return snprintf(buf, len,
                    "%llu,%s,%s,%s:%u,%s:%u,%u,%u,%u,%u,%u,%s,%u,%u,%u,%u,%u,%u\n",
                    (unsigned long long)r->time_us, ustack_trace_event_name(r->event),
                    r->state ? r->state : "?", ustack_format_ipv4(r->local_addr, la),
                    r->local_port, ustack_format_ipv4(r->remote_addr, ra), r->remote_port,
                    r->snd_una, r->snd_nxt, r->snd_una - r->iss, r->snd_nxt - r->iss,
                    r->cwnd, ssthresh, r->in_flight, r->srtt_us, r->rttvar_us, r->rto_us,
                    r->snd_wnd, r->retransmissions);
}
