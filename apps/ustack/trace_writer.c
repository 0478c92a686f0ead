/*
 * `--trace DIR`: one CSV file per traced connection (see trace_writer.h).
 *
 * The stack numbers traced connections 1, 2, 3, ... in the order of their
 * first row (ustack/trace.h), so the file of connection n is simply slot
 * n - 1 of a table of max_files slots, and a connection numbered past
 * max_files gets no file: no search and no allocation per row.
 */
#include "trace_writer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ustack/ustack.h"

struct trace_file {
    FILE *f;          /* NULL: not opened yet, or closed */
    uint64_t bytes;   /* written so far */
    bool full;        /* reached max_bytes */
    bool dirty;       /* written since the last flush */
    bool done;        /* ended (or failed): never opened again */
};

struct trace_writer {
    char *dir;
    unsigned max_files;
    uint64_t max_bytes;
    int64_t unix_offset_us;
    struct trace_file *file;   /* max_files slots */
    unsigned *dirty;           /* slots written since the last flush */
    unsigned ndirty;
    uint64_t highest_id;       /* for counting skipped connections */
    struct trace_writer_stats stats;
};

struct trace_writer *trace_writer_open(const char *dir, unsigned max_files,
                                       uint64_t max_bytes, int64_t unix_offset_us,
                                       char *err, size_t errlen)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "--trace %s: %s", dir, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "--trace %s: not a directory", dir);
        return NULL;
    }
    struct trace_writer *w = calloc(1, sizeof(*w));
    if (w) {
        w->dir = strdup(dir);
        w->file = calloc(max_files ? max_files : 1, sizeof(*w->file));
        w->dirty = calloc(max_files ? max_files : 1, sizeof(*w->dirty));
    }
    if (!w || !w->dir || !w->file || !w->dirty) {
        trace_writer_close(w);
        snprintf(err, errlen, "--trace: out of memory");
        return NULL;
    }
    w->max_files = max_files;
    w->max_bytes = max_bytes;
    w->unix_offset_us = unix_offset_us;
    return w;
}

/* DIR/LOCAL_LPORT-REMOTE_RPORT-YYYYmmddTHHMMSS.uuuuuuZ.csv */
static int file_name(const struct trace_writer *w, const struct ustack_trace_row *r,
                     char *buf, size_t len)
{
    int64_t unix_us = (int64_t)r->time_us + w->unix_offset_us;
    time_t secs = (time_t)(unix_us / 1000000);
    struct tm tm;
    char when[64] = "unknown-time";
    if (unix_us >= 0 && gmtime_r(&secs, &tm))
        snprintf(when, sizeof(when), "%04d%02d%02dT%02d%02d%02d.%06dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(unix_us % 1000000));
    char la[16], ra[16];
    int n = snprintf(buf, len, "%s/%s_%u-%s_%u-%s.csv", w->dir,
                     ustack_format_ipv4(r->local_addr, la), r->local_port,
                     ustack_format_ipv4(r->remote_addr, ra), r->remote_port, when);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* The file of r's connection, created at its first row; NULL when the
 * connection gets none (past max_files, ended, or the file failed). */
static struct trace_file *file_for(struct trace_writer *w, const struct ustack_trace_row *r)
{
    if (r->conn_id > w->highest_id) {
        w->highest_id = r->conn_id; /* a connection's first row */
        if (r->conn_id > w->max_files) {
            w->stats.conns_skipped++;
            return NULL;
        }
    }
    if (r->conn_id == 0 || r->conn_id > w->max_files)
        return NULL;
    struct trace_file *tf = &w->file[r->conn_id - 1];
    if (tf->f || tf->done)
        return tf->f ? tf : NULL;
    char path[4096];
    tf->done = true; /* one attempt per connection */
    if (file_name(w, r, path, sizeof(path)) < 0 || !(tf->f = fopen(path, "wx"))) {
        w->stats.conns_skipped++;
        return NULL;
    }
    tf->done = false;
    w->stats.files++;
    const char *h = ustack_trace_csv_header();
    fprintf(tf->f, "%s\n", h);
    tf->bytes = strlen(h) + 1;
    return tf;
}

static void file_close(struct trace_writer *w, struct trace_file *tf)
{
    if (fclose(tf->f) != 0)
        w->stats.write_errors++;
    tf->f = NULL;
    tf->done = true;
}

void trace_writer_sink(void *ctx, const struct ustack_trace_row *row)
{
    struct trace_writer *w = ctx;
    struct trace_file *tf = file_for(w, row);
    if (!tf)
        return;
    char line[USTACK_TRACE_CSV_MAX];
    int n = ustack_trace_csv_row(row, line, sizeof(line));
    if (n <= 0 || (size_t)n >= sizeof(line) || tf->full ||
        tf->bytes + (uint64_t)n > w->max_bytes) {
        tf->full = true;
        w->stats.rows_dropped++;
    } else {
        fwrite(line, 1, (size_t)n, tf->f);
        tf->bytes += (uint64_t)n;
        w->stats.rows++;
        if (!tf->dirty) {
            tf->dirty = true;
            w->dirty[w->ndirty++] = (unsigned)(tf - w->file);
        }
    }
    if (row->event == USTACK_TRACE_END)
        file_close(w, tf); /* its slot stays on the dirty list: harmless */
}

void trace_writer_flush(struct trace_writer *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < w->ndirty; i++) {
        struct trace_file *tf = &w->file[w->dirty[i]];
        tf->dirty = false;
        if (tf->f && fflush(tf->f) != 0) {
            w->stats.write_errors++;
            file_close(w, tf);
        }
    }
    w->ndirty = 0;
}

void trace_writer_get_stats(const struct trace_writer *w, struct trace_writer_stats *out)
{
    *out = w->stats;
}

void trace_writer_close(struct trace_writer *w)
{
    if (!w)
        return;
    for (unsigned i = 0; w->file && i < w->max_files; i++)
        if (w->file[i].f)
            file_close(w, &w->file[i]);
    free(w->file);
    free(w->dirty);
    free(w->dir);
    free(w);
}
