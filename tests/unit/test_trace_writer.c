/*
 * `--trace DIR`'s writer (apps/ustack/trace_writer.c, compiled into this
 * test directly): one CSV file per connection, and its bounds.
 */
#include "../../apps/ustack/trace_writer.c"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static struct ustack_trace_row row(uint64_t id, uint16_t rport, enum ustack_trace_event ev)
{
    return (struct ustack_trace_row){
        .conn_id = id, .time_us = 1000 * id, .event = ev, .state = "ESTABLISHED",
        .local_addr = 0x0a000002, .remote_addr = 0x0a000001,
        .local_port = 7, .remote_port = rport, .iss = 100, .snd_una = 101, .snd_nxt = 201,
        .ssthresh = USTACK_TRACE_SSTHRESH_NONE, .in_flight = 100, .rto_us = 1000000,
    };
}

/* Files in dir, and the lines of the one whose name contains `part`. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int lines_of(const char *dir, const char *part, char *first, size_t len)
{
    DIR *d = opendir(dir);
    int n = -1;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strstr(e->d_name, part))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        char line[512];
        n = 0;
        while (f && fgets(line, sizeof(line), f))
            if (n++ == 0)
                snprintf(first, len, "%s", line);
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

TEST(trace_writer_one_file_per_connection_and_bounds)
{
    char base[] = "/tmp/ustack-trace-test.XXXXXX";
    REQUIRE(mkdtemp(base));
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/traces", base); /* created by the writer */
    char err[256];
    /* 2 files at most; 400 bytes per file: the header and three rows. */
    struct trace_writer *w = trace_writer_open(dir, 2, 400, 0, err, sizeof(err));
    REQUIRE(w);
    struct ustack_trace_row r1 = row(1, 40001, USTACK_TRACE_STATE);
    struct ustack_trace_row r2 = row(2, 40002, USTACK_TRACE_STATE);
    struct ustack_trace_row r3 = row(3, 40003, USTACK_TRACE_STATE);
    trace_writer_sink(w, &r1);
    trace_writer_sink(w, &r2);
    trace_writer_sink(w, &r3); /* past max_files: no file */
    for (int i = 0; i < 10; i++) {
        r1.event = USTACK_TRACE_ACK;
        trace_writer_sink(w, &r1); /* most past max_bytes: dropped */
    }
    r2.event = USTACK_TRACE_END;
    trace_writer_sink(w, &r2); /* closes connection 2's file */
    trace_writer_sink(w, &r2); /* a row after the end: ignored */
    trace_writer_flush(w);
    struct trace_writer_stats s;
    trace_writer_get_stats(w, &s);
    CHECK_EQ(s.files, 2);
    CHECK_EQ(s.conns_skipped, 1);
    CHECK_EQ(s.rows_dropped, 8);
    CHECK_EQ(s.rows + s.rows_dropped, 1 + 1 + 10 + 1);
    CHECK_EQ(s.write_errors, 0);
    trace_writer_close(w);

    CHECK_EQ(count_files(dir), 2);
    char first[512] = "";
    /* 10.0.0.2_7-10.0.0.1_40002-19700101T000000.002000Z.csv: header,
     * its state row, its end row. */
    CHECK_EQ(lines_of(dir, "10.0.0.2_7-10.0.0.1_40002-19700101T000000.002000Z.csv", first,
                      sizeof(first)),
             3);
    CHECK(!strncmp(first, "time_us,event,", 14));
    int n1 = lines_of(dir, "_40001-", first, sizeof(first));
    /* Header 146 bytes, the state row 86, ACK rows 84 each: two ACK rows
     * fit in 400 bytes, the other eight were dropped. */
    CHECK_EQ(n1, 4);
    CHECK_EQ(lines_of(dir, "_40003-", first, sizeof(first)), -1);
    remove_dir(dir);
    rmdir(base);
}

TEST(trace_writer_refuses_a_file_as_directory)
{
    char err[256] = "";
    CHECK(trace_writer_open("/dev/null", 1, 1000, 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "not a directory") != NULL);
}
