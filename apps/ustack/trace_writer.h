/*
 * `--trace DIR`: the CLI's trace sink (ustack/trace.h). One CSV file per
 * traced connection in DIR, named by its four-tuple and the wall-clock
 * time of its first row:
 *
 *   DIR/10.0.0.2_7-10.0.0.1_40000-20240501T101010.123456Z.csv
 *
 * holding ustack_trace_csv_header() and one ustack_trace_csv_row() line
 * per row. A file is closed when its connection's last row (END) arrives.
 *
 * Bounded: at most max_files files are created in a run (connections
 * after that are not written), and a file stops growing at max_bytes
 * (later rows of that connection are dropped; the file stays valid CSV).
 * Both are counted and reported by trace_writer_close().
 */
#ifndef USTACK_APP_TRACE_WRITER_H
#define USTACK_APP_TRACE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ustack/trace.h"

#define TRACE_DEFAULT_MAX_FILES 64
#define TRACE_DEFAULT_MAX_BYTES (16u << 20)

struct trace_writer;

struct trace_writer_stats {
    uint64_t files;          /* files created */
    uint64_t rows;           /* rows written */
    uint64_t rows_dropped;   /* rows past a file's max_bytes */
    uint64_t conns_skipped;  /* connections past max_files, or whose file
                                could not be created */
    uint64_t write_errors;   /* files that failed to write (disk full...) */
};

/* Write into dir (created if missing, one level). unix_offset_us turns
 * stack time into Unix time for the file names. NULL with a message in
 * err on failure. */
struct trace_writer *trace_writer_open(const char *dir, unsigned max_files,
                                       uint64_t max_bytes, int64_t unix_offset_us,
                                       char *err, size_t errlen);

/* The sink to register with ustack_set_trace_sink(st, trace_writer_sink, w). */
void trace_writer_sink(void *ctx, const struct ustack_trace_row *row);

/* Push buffered rows to the files (cheap when nothing changed): called
 * once per loop iteration so a running trace can be followed. */
void trace_writer_flush(struct trace_writer *w);

void trace_writer_get_stats(const struct trace_writer *w, struct trace_writer_stats *out);

/* Close every file and free w (NULL is fine). */
void trace_writer_close(struct trace_writer *w);

#endif
