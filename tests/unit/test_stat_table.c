/*
 * `ustack stat`'s table (apps/ustack/stat_table.c, compiled into this test
 * directly: the CLI is not part of the library): cells from a connection,
 * the control socket's line format both ways, answers, the table and JSON.
 */
#include "../../apps/ustack/stat_table.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static struct ustack_tcp_info established(void)
{
    return (struct ustack_tcp_info){
        .local_addr = 0x0a000002, .remote_addr = 0x0a000001,
        .local_port = 7, .remote_port = 40000,
        .state = "ESTABLISHED",
        .send_queue = 1000, .recv_queue = 20,
        .bytes_sent = 123456789, .bytes_received = 42,
        .retransmissions = 3,
        .srtt_us = 1500, .rttvar_us = 750, .rto_us = 1000000, .mss = 1448,
        .snd_wnd = 65535, .cwnd = 14480, .ssthresh = UINT32_MAX, .in_flight = 2896,
        .congestion = "newreno",
    };
}

static bool starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

static char *capture_table(const struct stat_conn *c, size_t n, bool json, size_t total)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (json)
        stat_print_json(f, c, n, total);
    else
        stat_print_table(f, c, n);
    fclose(f);
    return buf;
}

TEST(stat_cells_from_a_connection)
{
    struct ustack_tcp_info in = established();
    struct stat_conn sc;
    stat_conn_from_info(&sc, &in);
    CHECK(!strcmp(sc.cell[STAT_STATE], "ESTABLISHED"));
    CHECK(!strcmp(sc.cell[STAT_LOCAL], "10.0.0.2:7"));
    CHECK(!strcmp(sc.cell[STAT_REMOTE], "10.0.0.1:40000"));
    CHECK(!strcmp(sc.cell[STAT_CWND], "14480"));
    CHECK(!strcmp(sc.cell[STAT_SSTHRESH], "")); /* none yet */
    CHECK(!strcmp(sc.cell[STAT_CC], "newreno"));
    CHECK(!strcmp(sc.cell[STAT_SRTT], "1500"));
    CHECK(!strcmp(sc.cell[STAT_IN_FLIGHT], "2896"));
    CHECK(!strcmp(sc.cell[STAT_BYTES_SENT], "123456789"));
    CHECK(!strcmp(sc.cell[STAT_RETRANS], "3"));
    in.cwnd = 0;    /* not known */
    in.srtt_us = 0; /* no sample */
    stat_conn_from_info(&sc, &in);
    CHECK(!strcmp(sc.cell[STAT_CWND], ""));
    CHECK(!strcmp(sc.cell[STAT_SRTT], ""));
    CHECK(!strcmp(sc.cell[STAT_RTTVAR], ""));
    /* A listener: no peer, the accept queue as Recv-Q. */
    struct ustack_tcp_info l = {.local_port = 80, .state = "LISTEN", .listen_backlog = 5};
    stat_conn_from_info(&sc, &l);
    CHECK(!strcmp(sc.cell[STAT_LOCAL], "0.0.0.0:80"));
    CHECK(!strcmp(sc.cell[STAT_REMOTE], "*"));
    CHECK(!strcmp(sc.cell[STAT_RECV_Q], "5"));
    CHECK(!strcmp(sc.cell[STAT_RTO], ""));
}

TEST(stat_wire_round_trip)
{
    struct ustack_tcp_info in = established();
    struct stat_conn a, b;
    stat_conn_from_info(&a, &in);
    char line[STAT_WIRE_MAX];
    int n = stat_conn_to_wire(&a, line, sizeof(line));
    REQUIRE(n > 0);
    CHECK_EQ(strlen(line), n);
    CHECK(starts_with(line, "conn state=ESTABLISHED local=10.0.0.2:7 remote=10.0.0.1:40000 "));
    CHECK(line[n - 1] == '\n');
    CHECK_EQ(stat_conn_from_wire(&b, line), 0);
    CHECK_MEM(&a, &b, sizeof(a));
    /* Too small a buffer is refused, not cut. */
    CHECK_EQ(stat_conn_to_wire(&a, line, 40), -1);
}

TEST(stat_wire_rejects_malformed_lines)
{
    struct stat_conn sc;
    CHECK_EQ(stat_conn_from_wire(&sc, "conn state=ESTABLISHED cwnd=10\n"), 0);
    CHECK(!strcmp(sc.cell[STAT_CWND], "10"));
    CHECK(!strcmp(sc.cell[STAT_SRTT], "")); /* absent: none */
    CHECK_EQ(stat_conn_from_wire(&sc, "conn future_column=7 state=LISTEN\n"), 0);
    CHECK(!strcmp(sc.cell[STAT_STATE], "LISTEN"));
    CHECK_EQ(stat_conn_from_wire(&sc, "con state=X\n"), -1);
    CHECK_EQ(stat_conn_from_wire(&sc, "connx state=X\n"), -1);
    CHECK_EQ(stat_conn_from_wire(&sc, "conn state\n"), -1);
    CHECK_EQ(stat_conn_from_wire(&sc, "conn state=<b>\n"), -1);
    CHECK_EQ(stat_conn_from_wire(&sc, "conn local=\"x\"\n"), -1);
    CHECK_EQ(stat_conn_from_wire(&sc, "conn state=ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"), -1);
}

TEST(stat_answer_parsing)
{
    struct stat_conn *c;
    size_t n, total;
    char err[128];
    const char *ok = "ustack-stat 1\nconn state=ESTABLISHED local=10.0.0.2:7\n"
                     "conn state=LISTEN local=0.0.0.0:7 remote=*\nend 2 5\n";
    CHECK_EQ(stat_parse_answer(ok, &c, &n, &total, err, sizeof(err)), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(total, 5);
    REQUIRE(c);
    CHECK(!strcmp(c[1].cell[STAT_REMOTE], "*"));
    free(c);
    CHECK_EQ(stat_parse_answer("ustack-stat 1\nend 0 0\n", &c, &n, &total, err, sizeof(err)), 0);
    CHECK_EQ(n, 0);
    free(c);
    static const char *const bad[] = {
        "error unknown request\n",
        "HTTP/1.1 200 OK\n",
        "ustack-stat 1\nconn state=ESTABLISHED\n",          /* no end */
        "ustack-stat 1\nconn state=ESTABLISHED\nend 2 2\n", /* count differs */
        "ustack-stat 1\nend 0 0",                           /* cut short */
        "ustack-stat 1\nconn state=a&b\nend 1 1\n",
        "ustack-stat 1\nend 1 0\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = (struct stat_conn *)1;
        CHECK_EQ(stat_parse_answer(bad[i], &c, &n, &total, err, sizeof(err)), -1);
        CHECK(c == NULL);
        CHECK(err[0] != '\0');
    }
}

TEST(stat_display_units)
{
    struct stat_conn sc;
    memset(&sc, 0, sizeof(sc));
    char buf[32];
    strcpy(sc.cell[STAT_SRTT], "850");
    CHECK(!strcmp(stat_cell_display(&sc, STAT_SRTT, buf, sizeof(buf)), "850us"));
    strcpy(sc.cell[STAT_SRTT], "1500");
    CHECK(!strcmp(stat_cell_display(&sc, STAT_SRTT, buf, sizeof(buf)), "1.5ms"));
    strcpy(sc.cell[STAT_RTO], "1000000");
    CHECK(!strcmp(stat_cell_display(&sc, STAT_RTO, buf, sizeof(buf)), "1.00s"));
    strcpy(sc.cell[STAT_CWND], "9999");
    CHECK(!strcmp(stat_cell_display(&sc, STAT_CWND, buf, sizeof(buf)), "9999"));
    strcpy(sc.cell[STAT_CWND], "65536");
    CHECK(!strcmp(stat_cell_display(&sc, STAT_CWND, buf, sizeof(buf)), "64.0K"));
    strcpy(sc.cell[STAT_BYTES_SENT], "1073741824");
    CHECK(!strcmp(stat_cell_display(&sc, STAT_BYTES_SENT, buf, sizeof(buf)), "1024.0M"));
    CHECK(!strcmp(stat_cell_display(&sc, STAT_SSTHRESH, buf, sizeof(buf)), "-"));
    strcpy(sc.cell[STAT_MSS], "1448");
    CHECK(!strcmp(stat_cell_display(&sc, STAT_MSS, buf, sizeof(buf)), "1448"));
}

TEST(stat_table_lines_up)
{
    struct ustack_tcp_info in = established();
    struct ustack_tcp_info l = {.local_port = 7, .state = "LISTEN"};
    struct stat_conn c[2];
    stat_conn_from_info(&c[0], &in);
    stat_conn_from_info(&c[1], &l);
    char *t = capture_table(c, 2, false, 2);
    REQUIRE(t);
    /* Three lines of the same width; every heading starts where its
     * column's text cells start. */
    char *line[3];
    line[0] = t;
    line[1] = strchr(line[0], '\n') + 1;
    line[2] = strchr(line[1], '\n') + 1;
    size_t w0 = strcspn(line[0], "\n"), w1 = strcspn(line[1], "\n"),
           w2 = strcspn(line[2], "\n");
    CHECK_EQ(w0, w1);
    CHECK_EQ(w1, w2);
    CHECK(line[2][w2] == '\n' && line[2][w2 + 1] == '\0');
    CHECK(!strncmp(line[0], "State", 5));
    size_t local = (size_t)(strstr(line[0], "Local") - line[0]);
    CHECK(!strncmp(line[1] + local, "10.0.0.2:7 ", 11));
    CHECK(!strncmp(line[2] + local, "0.0.0.0:7 ", 10));
    size_t remote = (size_t)(strstr(line[0], "Remote") - line[0]);
    CHECK(!strncmp(line[1] + remote, "10.0.0.1:40000", 14));
    /* Numbers are right-aligned: the srtt cell ends where its heading does. */
    char *srtt = strstr(line[0], "srtt");
    size_t srtt_end = (size_t)(srtt - line[0]) + 4;
    CHECK(!strncmp(line[1] + srtt_end - 5, "1.5ms", 5));
    CHECK(strstr(line[1], "ESTABLISHED") == line[1]);
    CHECK(strstr(line[1], "117.7M") != NULL); /* bytes sent */
    free(t);
    /* No connections: the heading alone. */
    t = capture_table(c, 0, false, 0);
    REQUIRE(t);
    CHECK_EQ(strchr(t, '\n') - t + 1, strlen(t));
    free(t);
}

TEST(stat_json)
{
    struct ustack_tcp_info in = established();
    struct stat_conn c;
    stat_conn_from_info(&c, &in);
    char *j = capture_table(&c, 1, true, 7);
    REQUIRE(j);
    CHECK(starts_with(j, "{\"connections\": [\n  {\"state\": \"ESTABLISHED\", \"local\": "
                         "\"10.0.0.2:7\", \"remote\": \"10.0.0.1:40000\", \"send_queue\": 1000,"));
    CHECK(strstr(j, "\"ssthresh\": null, \"congestion\": \"newreno\",") != NULL);
    CHECK(strstr(j, "\"cwnd\": 14480,") != NULL);
    CHECK(strstr(j, "\"retransmissions\": 3}") != NULL);
    CHECK(strstr(j, "], \"total\": 7}\n") != NULL);
    free(j);
    j = capture_table(&c, 0, true, 0);
    REQUIRE(j);
    CHECK(!strcmp(j, "{\"connections\": [], \"total\": 0}\n"));
    free(j);
}
