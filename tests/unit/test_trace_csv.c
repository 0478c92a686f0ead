/*
 * The CSV form of trace rows (ustack_trace_csv_header/_row).
 */
#include <string.h>

#include "test.h"
#include "ustack/trace.h"

static struct ustack_trace_row sample_row(void)
{
    return (struct ustack_trace_row){
        .conn_id = 1,
        .time_us = 1234567,
        .event = USTACK_TRACE_RTX,
        .state = "ESTABLISHED",
        .local_addr = 0x0a000002,
        .remote_addr = 0x0a000001,
        .local_port = 7,
        .remote_port = 40000,
        .iss = 4294967000u, /* relative numbers wrap past 2^32 */
        .snd_una = 4294967001u,
        .snd_nxt = 1000,
        .cwnd = 14600,
        .ssthresh = 7300,
        .in_flight = 1295,
        .srtt_us = 2500,
        .rttvar_us = 1250,
        .rto_us = 1000000,
        .snd_wnd = 65535,
        .retransmissions = 3,
    };
}

TEST(trace_csv_header_names_every_column)
{
    const char *h = ustack_trace_csv_header();
    CHECK(!strcmp(h, "time_us,event,state,local,remote,snd_una,snd_nxt,snd_una_rel,"
                     "snd_nxt_rel,cwnd,ssthresh,in_flight,srtt_us,rttvar_us,rto_us,"
                     "snd_wnd,retransmissions"));
}

TEST(trace_csv_row_fields)
{
    struct ustack_trace_row r = sample_row();
    char buf[USTACK_TRACE_CSV_MAX];
    int n = ustack_trace_csv_row(&r, buf, sizeof(buf));
    const char *want = "1234567,rtx,ESTABLISHED,10.0.0.2:7,10.0.0.1:40000,4294967001,1000,1,"
                       "1296,14600,7300,1295,2500,1250,1000000,65535,3\n";
    CHECK(!strcmp(buf, want));
    CHECK_EQ(n, strlen(want));
    /* As many fields as the header has columns. */
    size_t commas = 0, header_commas = 0;
    for (const char *p = buf; *p; p++)
        commas += *p == ',';
    for (const char *p = ustack_trace_csv_header(); *p; p++)
        header_commas += *p == ',';
    CHECK_EQ(commas, header_commas);
}

TEST(trace_csv_row_no_ssthresh_is_empty)
{
    struct ustack_trace_row r = sample_row();
    r.ssthresh = USTACK_TRACE_SSTHRESH_NONE;
    r.event = USTACK_TRACE_END;
    char buf[USTACK_TRACE_CSV_MAX];
    ustack_trace_csv_row(&r, buf, sizeof(buf));
    CHECK(strstr(buf, ",14600,,1295,") != NULL);
    CHECK(!strncmp(buf, "1234567,end,", 12));
}

TEST(trace_csv_row_largest_fits_and_small_buffer_is_reported)
{
    struct ustack_trace_row r = sample_row();
    r.time_us = UINT64_MAX;
    r.state = "SYN-RECEIVED";
    r.event = USTACK_TRACE_TIMEOUT;
    r.local_addr = r.remote_addr = 0xffffffff;
    r.local_port = r.remote_port = 65535;
    r.iss = 0;
    r.snd_una = r.snd_nxt = r.cwnd = r.ssthresh = r.in_flight = UINT32_MAX - 1;
    r.srtt_us = r.rttvar_us = r.rto_us = r.snd_wnd = r.retransmissions = UINT32_MAX;
    char buf[USTACK_TRACE_CSV_MAX];
    int n = ustack_trace_csv_row(&r, buf, sizeof(buf));
    CHECK(n > 0 && n < USTACK_TRACE_CSV_MAX);
    char small[16];
    CHECK(ustack_trace_csv_row(&r, small, sizeof(small)) == n);
    CHECK_EQ(strlen(small), sizeof(small) - 1);
}

TEST(trace_event_names)
{
    CHECK(!strcmp(ustack_trace_event_name(USTACK_TRACE_STATE), "state"));
    CHECK(!strcmp(ustack_trace_event_name(USTACK_TRACE_SEND), "send"));
    CHECK(!strcmp(ustack_trace_event_name(USTACK_TRACE_ACK), "ack"));
    CHECK(!strcmp(ustack_trace_event_name(USTACK_TRACE_CWND), "cwnd"));
    CHECK(!strcmp(ustack_trace_event_name(USTACK_TRACE_RTX), "rtx"));
    CHECK(!strcmp(ustack_trace_event_name(USTACK_TRACE_TIMEOUT), "timeout"));
    CHECK(!strcmp(ustack_trace_event_name(USTACK_TRACE_END), "end"));
    CHECK(!strcmp(ustack_trace_event_name((enum ustack_trace_event)99), "?"));
}
