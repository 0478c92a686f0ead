/*
 * `ustack plot`: a trace CSV (ustack/trace.h) in, an SVG picture out.
 *
 * Two graphs on one time axis:
 *  - time-sequence: SND.UNA and SND.NXT relative to the ISS, with every
 *    retransmission marked (a red x at SND.UNA) and every retransmission
 *    timeout (a dashed red line);
 *  - windows: cwnd, ssthresh (while there is one), bytes in flight and the
 *    peer's window.
 * Plain C and stdio: no dependencies. The reading side accepts the columns
 * in any order and ignores columns it does not know, so older or newer
 * traces still plot.
 */
#ifndef USTACK_APP_PLOT_SVG_H
#define USTACK_APP_PLOT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One parsed row; sequence numbers are unwrapped (monotonic past 2^32). */
struct plot_row {
    double t_s;              /* seconds since the first row */
    int event;               /* enum ustack_trace_event, -1 unknown */
    double una, nxt;         /* relative to ISS, unwrapped */
    double cwnd, ssthresh;   /* ssthresh < 0: none */
    double in_flight, snd_wnd;
};

#define PLOT_MAX_ROWS 5000000 /* more are ignored (and counted) */

struct plot_trace {
    struct plot_row *rows;
    size_t n, cap;
    uint64_t t0_us;           /* time_us of the first row */
    char local[32], remote[32]; /* from the first row, "" if absent */
    size_t bad_lines;         /* lines that were not rows */
    size_t ignored_rows;      /* past PLOT_MAX_ROWS */
    unsigned retransmissions; /* rtx rows */
    unsigned timeouts;        /* timeout rows */
    bool has_cwnd;            /* some row had cwnd > 0 */
    /* parsing state */
    int col[32];              /* field index -> column id */
    int ncols;
    bool header_seen;
    uint32_t last_una, last_nxt;
};

void plot_trace_init(struct plot_trace *t);
void plot_trace_free(struct plot_trace *t);

/* Feed one line (without or with its "\n"). The first line must be the
 * header. Returns 0, or -1 for a line that was not understood (counted in
 * bad_lines; a header without time_us makes every line bad). */
int plot_trace_add_line(struct plot_trace *t, const char *line);

/* Read a whole trace file. 0, or -1 with a message in err when the file
 * has no usable header. */
int plot_trace_read(struct plot_trace *t, FILE *in, char *err, size_t errlen);

/* The picture's size (the SVG's viewBox is 0 0 PLOT_W PLOT_H). */
#define PLOT_W 960
#define PLOT_H 760

/* Write the SVG document. title: what to call the trace when the rows do
 * not say (e.g. the file name). Returns 0, or -1 on a write error. */
int plot_svg_write(const struct plot_trace *t, const char *title, FILE *out);

#endif
