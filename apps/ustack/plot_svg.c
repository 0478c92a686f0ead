/*
 * `ustack plot`: reading a trace CSV and drawing it as SVG (plot_svg.h).
 *
 * The picture is built in pixel space: every series becomes polylines of
 * (x, y) pixels, thinned to at most four points per pixel column (the
 * first, lowest, highest and last: a line drawn through them looks the
 * same as one through every point), so a trace of a million rows still
 * gives a file of a few hundred kilobytes. Every coordinate written is
 * inside the viewBox.
 */
#include "plot_svg.h"

#include <stdlib.h>
#include <string.h>

#include "ustack/trace.h"

/* ---- Reading ---------------------------------------------------------------- */

enum column {
    COL_OTHER,
    COL_TIME,
    COL_EVENT,
    COL_LOCAL,
    COL_REMOTE,
    COL_UNA_REL,
    COL_NXT_REL,
    COL_CWND,
    COL_SSTHRESH,
    COL_IN_FLIGHT,
    COL_SND_WND,
};

#define MAX_FIELDS 32
#define MAX_LINE 1024

static const struct {
    const char *name;
    enum column col;
} known_columns[] = {
    {"time_us", COL_TIME},          {"event", COL_EVENT},
    {"local", COL_LOCAL},           {"remote", COL_REMOTE},
    {"snd_una_rel", COL_UNA_REL},   {"snd_nxt_rel", COL_NXT_REL},
    {"cwnd", COL_CWND},             {"ssthresh", COL_SSTHRESH},
    {"in_flight", COL_IN_FLIGHT},   {"snd_wnd", COL_SND_WND},
};

void plot_trace_init(struct plot_trace *t)
{
    memset(t, 0, sizeof(*t));
}

void plot_trace_free(struct plot_trace *t)
{
    free(t->rows);
    plot_trace_init(t);
}

/* Split a copy of line at commas; the line break, if any, is dropped.
 * Returns the number of fields, or -1 if the line is too long or has
 * too many. */
static int split(const char *line, char *buf, char *field[MAX_FIELDS])
{
    size_t len = strcspn(line, "\r\n");
    if (len >= MAX_LINE)
        return -1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    int n = 0;
    char *p = buf;
    for (;;) {
        if (n == MAX_FIELDS)
            return -1;
        field[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            return n;
        *comma = '\0';
        p = comma + 1;
    }
}

static int read_header(struct plot_trace *t, char *field[], int n)
{
    bool has_time = false;
    for (int i = 0; i < n; i++) {
        t->col[i] = COL_OTHER;
        for (size_t k = 0; k < sizeof(known_columns) / sizeof(known_columns[0]); k++)
            if (!strcmp(field[i], known_columns[k].name))
                t->col[i] = (int)known_columns[k].col;
        has_time |= t->col[i] == COL_TIME;
    }
    t->ncols = n;
    t->header_seen = true;
    return has_time ? 0 : -1;
}

/* A decimal number that fills the whole field. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static int event_of(const char *name)
{
    for (int ev = USTACK_TRACE_STATE; ev <= USTACK_TRACE_END; ev++)
        if (!strcmp(name, ustack_trace_event_name((enum ustack_trace_event)ev)))
            return ev;
    return -1;
}

/* A relative sequence number (mod 2^32) continued from the previous one:
 * the unwrapped value moves by the signed 32-bit difference. */
static double unwrap(double prev_unwrapped, uint32_t *last, uint64_t v, bool first)
{
    uint32_t now = (uint32_t)v;
    double out = first ? (double)now : prev_unwrapped + (double)(int32_t)(now - *last);
    *last = now;
    return out;
}

static void copy_addr(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

static int grow(struct plot_trace *t)
{
    if (t->n < t->cap)
        return 0;
    size_t cap = t->cap ? 2 * t->cap : 1024;
    struct plot_row *r = realloc(t->rows, cap * sizeof(*r));
    if (!r)
        return -1;
    t->rows = r;
    t->cap = cap;
    return 0;
}

/* Fill r from the fields of one data line. */
static bool read_row(struct plot_trace *t, char *field[], int n, struct plot_row *r,
                     uint64_t *time_us)
{
    const struct plot_row *prev = t->n ? &t->rows[t->n - 1] : NULL;
    bool have_time = false;
    *r = (struct plot_row){.event = -1, .ssthresh = -1};
    if (prev) {
        r->una = prev->una;
        r->nxt = prev->nxt;
    }
    for (int i = 0; i < n; i++) {
        uint64_t v = 0;
        bool num = parse_u64(field[i], &v);
        switch ((enum column)t->col[i]) {
        case COL_TIME:
            if (!num)
                return false;
            *time_us = v;
            have_time = true;
            break;
        case COL_EVENT:
            r->event = event_of(field[i]);
            break;
        case COL_LOCAL:
            if (!t->n)
                copy_addr(t->local, sizeof(t->local), field[i]);
            break;
        case COL_REMOTE:
            if (!t->n)
                copy_addr(t->remote, sizeof(t->remote), field[i]);
            break;
        case COL_UNA_REL:
            if (num)
                r->una = unwrap(r->una, &t->last_una, v, !prev);
            break;
        case COL_NXT_REL:
            if (num)
                r->nxt = unwrap(r->nxt, &t->last_nxt, v, !prev);
            break;
        case COL_CWND:
            r->cwnd = num ? (double)v : 0;
            break;
        case COL_SSTHRESH:
            r->ssthresh = num && v < UINT32_MAX ? (double)v : -1;
            break;
        case COL_IN_FLIGHT:
            r->in_flight = num ? (double)v : 0;
            break;
        case COL_SND_WND:
            r->snd_wnd = num ? (double)v : 0;
            break;
        case COL_OTHER:
            break;
        }
    }
    return have_time;
}

int plot_trace_add_line(struct plot_trace *t, const char *line)
{
    char buf[MAX_LINE], *field[MAX_FIELDS];
    int n = split(line, buf, field);
    if (!t->header_seen) {
        if (n < 1 || read_header(t, field, n) < 0) {
            t->bad_lines++;
            return -1;
        }
        return 0;
    }
    if (n != t->ncols) {
        t->bad_lines++;
        return -1;
    }
    if (t->n >= PLOT_MAX_ROWS) {
        t->ignored_rows++;
        return 0;
    }
    struct plot_row r;
    uint64_t time_us = 0;
    if (!read_row(t, field, n, &r, &time_us) || grow(t) < 0) {
        t->bad_lines++;
        return -1;
    }
    if (t->n == 0)
        t->t0_us = time_us;
    /* Rows are in time order; a step back (a hand-edited file) is held at
     * the previous time so the lines never run backwards. */
    r.t_s = time_us >= t->t0_us ? (double)(time_us - t->t0_us) / 1e6 : 0;
    if (t->n && r.t_s < t->rows[t->n - 1].t_s)
        r.t_s = t->rows[t->n - 1].t_s;
    t->retransmissions += r.event == USTACK_TRACE_RTX;
    t->timeouts += r.event == USTACK_TRACE_TIMEOUT;
    t->has_cwnd |= r.cwnd > 0;
    t->rows[t->n++] = r;
    return 0;
}

int plot_trace_read(struct plot_trace *t, FILE *in, char *err, size_t errlen)
{
    char line[MAX_LINE + 2];
    while (fgets(line, sizeof(line), in)) {
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(in)) {
            /* Longer than any trace line: skip the rest of it. */
            int c;
            while ((c = fgetc(in)) != EOF && c != '\n')
                ;
            t->bad_lines++;
            continue;
        }
        bool header = !t->header_seen;
        if (plot_trace_add_line(t, line) < 0 && header) {
            snprintf(err, errlen, "the first line is not a trace header (no time_us column)");
            return -1;
        }
    }
    if (ferror(in)) {
        snprintf(err, errlen, "read error");
        return -1;
    }
    if (!t->header_seen) {
        snprintf(err, errlen, "empty file: no trace header");
        return -1;
    }
    return 0;
}

/* ---- Scales ----------------------------------------------------------------- */

struct axis {
    double lo, hi;   /* data range, after rounding to ticks */
    double step;     /* between ticks, data units */
    double unit;     /* divisor for labels: 1, 1024, 1048576 */
    const char *unit_name;
    double p_lo, p_hi; /* pixel range: p_lo for lo, p_hi for hi */
};

/* 1, 2 or 5 times a power of ten, near range/target. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = 1;
    while (mag * 10 <= raw)
        mag *= 10;
    while (mag > raw)
        mag /= 10;
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static double floor_to(double v, double step)
{
    double k = (double)(long long)(v / step);
    if (k * step > v)
        k -= 1;
    return k * step;
}

static double ceil_to(double v, double step)
{
    double k = (double)(long long)(v / step);
    if (k * step < v)
        k += 1;
    return k * step;
}

static void axis_fit(struct axis *a, double lo, double hi, int ticks, bool bytes)
{
    if (!(hi > lo)) { /* one value, or none: give it some room */
        hi = lo + (bytes ? 1024 : 1);
    }
    a->unit = 1;
    a->unit_name = bytes ? "B" : "";
    if (bytes && hi >= 10 * 1048576.0) {
        a->unit = 1048576;
        a->unit_name = "MiB";
    } else if (bytes && hi >= 10 * 1024.0) {
        a->unit = 1024;
        a->unit_name = "KiB";
    }
    a->step = nice_step((hi - lo) / a->unit, ticks) * a->unit;
    a->lo = floor_to(lo, a->step);
    a->hi = ceil_to(hi, a->step);
    if (!(a->hi > a->lo))
        a->hi = a->lo + a->step;
}

/* Pixel of value v, clamped to the axis' pixel range. */
static double axis_px(const struct axis *a, double v)
{
    double f = (v - a->lo) / (a->hi - a->lo);
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    return a->p_lo + f * (a->p_hi - a->p_lo);
}

/* Digits after the point that tell the ticks apart. */
static int tick_decimals(const struct axis *a)
{
    double s = a->step / a->unit;
    int d = 0;
    while (d < 6 && s < 0.999) {
        s *= 10;
        d++;
    }
    return d;
}

/* ---- Writing ------------------------------------------------------------------ */

#define MARGIN_L 92
#define MARGIN_R 28
#define SEQ_TOP 104
#define SEQ_BOTTOM 396
#define WIN_TOP 466
#define WIN_BOTTOM 700

static const char *const font = "font-family=\"DejaVu Sans,Helvetica,Arial,sans-serif\"";

/* Text content from the trace or a file name: escaped for XML. */
static void put_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            /* Control characters are not allowed in XML 1.0. */
            fputc((unsigned char)*s < 0x20 ? '?' : *s, out);
        }
    }
}

/* A series: the value of each row in data units, or < 0 for "no value"
 * (a gap in the line). */
typedef double (*series_fn)(const struct plot_row *r);

static double s_una(const struct plot_row *r) { return r->una; }
static double s_nxt(const struct plot_row *r) { return r->nxt; }
static double s_cwnd(const struct plot_row *r) { return r->cwnd > 0 ? r->cwnd : -1; }
static double s_ssthresh(const struct plot_row *r) { return r->ssthresh; }
static double s_in_flight(const struct plot_row *r) { return r->in_flight; }
static double s_snd_wnd(const struct plot_row *r) { return r->snd_wnd; }

struct pt {
    double x, y;
};

/* Thinning to four points per pixel column (see the top of the file). */
struct thinner {
    FILE *out;
    bool open;        /* a <polyline> is being written */
    int col;          /* current pixel column */
    struct pt first, last, lo, hi;
    int n;            /* points seen in this column */
    const char *style;
};

static void emit_pt(struct thinner *th, struct pt p)
{
    if (!th->open) {
        fprintf(th->out, "<polyline %s points=\"", th->style);
        th->open = true;
    }
    fprintf(th->out, "%.1f,%.1f ", p.x, p.y);
}

static void flush_col(struct thinner *th)
{
    if (th->n == 0)
        return;
    emit_pt(th, th->first);
    if (th->n > 1) {
        /* The extremes in the order they came is unknowable here; low
         * then high draws the same vertical stroke either way. */
        emit_pt(th, th->lo);
        emit_pt(th, th->hi);
        emit_pt(th, th->last);
    }
    th->n = 0;
}

static void th_add(struct thinner *th, struct pt p)
{
    int col = (int)p.x;
    if (th->n && col != th->col)
        flush_col(th);
    th->col = col;
    if (th->n == 0) {
        th->first = th->lo = th->hi = p;
    } else {
        if (p.y < th->lo.y)
            th->lo = p;
        if (p.y > th->hi.y)
            th->hi = p;
    }
    th->last = p;
    th->n++;
}

static void th_break(struct thinner *th)
{
    flush_col(th);
    if (th->open)
        fputs("\"/>\n", th->out);
    th->open = false;
}

/* Draw one series as step lines (a value holds until the next row).
 * Of rows with the same time only the last counts: an ACK row and the
 * SEND row of the data it let out share a moment, and the bytes in
 * flight between the two never existed for any measurable time. */
static void draw_series(FILE *out, const struct plot_trace *t, series_fn fn,
                        const struct axis *x, const struct axis *y, const char *style)
{
    struct thinner th = {.out = out, .style = style};
    bool have_prev = false;
    double prev_y = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (i + 1 < t->n && t->rows[i + 1].t_s == t->rows[i].t_s)
            continue;
        double v = fn(&t->rows[i]);
        if (v < 0 || v > y->hi) { /* no value, or off the scale: a gap */
            th_break(&th);
            have_prev = false;
            continue;
        }
        double px = axis_px(x, t->rows[i].t_s), py = axis_px(y, v);
        if (have_prev)
            th_add(&th, (struct pt){px, prev_y});
        th_add(&th, (struct pt){px, py});
        prev_y = py;
        have_prev = true;
    }
    th_break(&th);
}

static void draw_grid_and_ticks(FILE *out, const struct axis *x, const struct axis *y,
                                bool bytes)
{
    double top = y->p_hi, bottom = y->p_lo;
    int dx = tick_decimals(x), dy = tick_decimals(y);
    fprintf(out, "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
    for (double v = x->lo; v <= x->hi + x->step / 2; v += x->step)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                axis_px(x, v), top, axis_px(x, v), bottom);
    for (double v = y->lo; v <= y->hi + y->step / 2; v += y->step)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x->p_lo,
                axis_px(y, v), x->p_hi, axis_px(y, v));
    fprintf(out, "</g>\n<g %s font-size=\"11\" fill=\"#333\">\n", font);
    for (double v = x->lo; v <= x->hi + x->step / 2; v += x->step)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n",
                axis_px(x, v), bottom + 15, dx, v);
    for (double v = y->lo; v <= y->hi + y->step / 2; v += y->step)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f%s%s</text>\n",
                x->p_lo - 6, axis_px(y, v) + 4, dy, v / y->unit, bytes ? " " : "",
                bytes ? y->unit_name : "");
    fprintf(out, "</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                 "fill=\"none\" stroke=\"#666\" stroke-width=\"1\"/>\n",
            x->p_lo, top, x->p_hi - x->p_lo, bottom - top);
}

struct legend_item {
    const char *label;
    const char *style; /* for a line swatch; NULL with marker */
    bool marker;       /* a red x instead of a line */
};

/* A panel's title at the left and its legend at the right, on one line
 * above the panel. */
static void draw_panel_head(FILE *out, double y, const char *title,
                            const struct legend_item *items, size_t n)
{
    fprintf(out, "<text x=\"%d\" y=\"%.1f\" %s font-size=\"13\" font-weight=\"bold\" "
                 "fill=\"#222\">%s</text>\n",
            MARGIN_L, y, font, title);
    /* Right-aligned: each item is a 22 px swatch, a gap and its label
     * (about 6.5 px per character at this size). */
    double width = 0;
    for (size_t i = 0; i < n; i++)
        width += 22 + 6 + 6.5 * (double)strlen(items[i].label) + 14;
    double x = PLOT_W - MARGIN_R - width;
    for (size_t i = 0; i < n; i++) {
        double sy = y - 4;
        if (items[i].marker)
            fprintf(out, "<path d=\"M%.1f %.1fl6 6m0 -6l-6 6\" stroke=\"#d62728\" "
                         "stroke-width=\"2\" fill=\"none\"/>\n",
                    x + 8, sy - 3);
        else
            fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>\n", x,
                    sy, x + 22, sy, items[i].style);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" %s font-size=\"12\" fill=\"#222\">%s</text>\n",
                x + 28, y, font, items[i].label);
        x += 22 + 6 + 6.5 * (double)strlen(items[i].label) + 14;
    }
}

/* Retransmissions: a red x at SND.UNA, at most one per 3-pixel cell;
 * timeouts: a dashed red line through both panels. */
static void draw_marks(FILE *out, const struct plot_trace *t, const struct axis *x,
                       const struct axis *seq)
{
    double last_x = -100;
    fprintf(out, "<g stroke=\"#d62728\" stroke-width=\"1\" stroke-dasharray=\"4 3\">\n");
    for (size_t i = 0; i < t->n; i++) {
        if (t->rows[i].event != USTACK_TRACE_TIMEOUT)
            continue;
        double px = axis_px(x, t->rows[i].t_s);
        if (px - last_x < 2)
            continue;
        last_x = px;
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", px, SEQ_TOP, px,
                SEQ_BOTTOM);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", px, WIN_TOP, px,
                WIN_BOTTOM);
    }
    fprintf(out, "</g>\n");
    int last_cx = -1, last_cy = -1;
    bool open = false;
    for (size_t i = 0; i < t->n; i++) {
        if (t->rows[i].event != USTACK_TRACE_RTX)
            continue;
        double px = axis_px(x, t->rows[i].t_s), py = axis_px(seq, t->rows[i].una);
        int cx = (int)(px / 3), cy = (int)(py / 3);
        if (cx == last_cx && cy == last_cy)
            continue;
        last_cx = cx;
        last_cy = cy;
        if (!open)
            fprintf(out, "<path stroke=\"#d62728\" stroke-width=\"1.6\" fill=\"none\" d=\"");
        open = true;
        /* Keep the 3 px arms inside the picture even at its edge. */
        double mx = px < 3 ? 3 : px > PLOT_W - 3 ? PLOT_W - 3 : px;
        double my = py < 3 ? 3 : py > PLOT_H - 3 ? PLOT_H - 3 : py;
        fprintf(out, "M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f", mx - 3, my - 3, mx + 3,
                my + 3, mx - 3, my + 3, mx + 3, my - 3);
    }
    if (open)
        fprintf(out, "\"/>\n");
}

static void draw_title(FILE *out, const struct plot_trace *t, const char *title, double secs)
{
    fprintf(out, "<text x=\"%d\" y=\"30\" %s font-size=\"19\" font-weight=\"bold\" fill=\"#111\">"
                 "TCP trace: ",
            MARGIN_L, font);
    if (t->local[0] && t->remote[0]) {
        put_text(out, t->local);
        fputs(" \xe2\x86\x92 ", out); /* U+2192 RIGHTWARDS ARROW */
        put_text(out, t->remote);
    } else {
        put_text(out, title ? title : "(unnamed)");
    }
    fprintf(out, "</text>\n<text x=\"%d\" y=\"52\" %s font-size=\"12\" fill=\"#555\">"
                 "%zu rows over %.3f s; %u retransmissions, %u retransmission timeouts",
            MARGIN_L, font, t->n, secs, t->retransmissions, t->timeouts);
    if (title && t->local[0]) {
        fputs("; ", out);
        put_text(out, title);
    }
    fputs("</text>\n", out);
}

static void draw_empty(FILE *out)
{
    fprintf(out, "<text x=\"%d\" y=\"%d\" %s font-size=\"16\" fill=\"#555\" "
                 "text-anchor=\"middle\">This trace has no rows.</text>\n",
            PLOT_W / 2, PLOT_H / 2, font);
}

/* The data ranges of the two panels. The windows panel is scaled to what
 * congestion control does (cwnd, bytes in flight): the peer's window and
 * ssthresh count only where they are in proportion to it, else a
 * receive window of megabytes (window scaling) or a huge initial
 * threshold would flatten everything else; they are then drawn only where
 * they fit, and the legend says so. */
static void fit_axes(const struct plot_trace *t, struct axis *x, struct axis *seq,
                     struct axis *win)
{
    double seq_lo = 0, seq_hi = 0, core_hi = 0, wnd_hi = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct plot_row *r = &t->rows[i];
        if (i == 0 || r->una < seq_lo)
            seq_lo = r->una;
        if (r->nxt > seq_hi)
            seq_hi = r->nxt;
        if (r->cwnd > core_hi)
            core_hi = r->cwnd;
        if (r->in_flight > core_hi)
            core_hi = r->in_flight;
        if (r->snd_wnd > wnd_hi)
            wnd_hi = r->snd_wnd;
    }
    double base = core_hi > 0 ? core_hi : wnd_hi; /* nothing sent: the window */
    double win_hi = base;
    for (size_t i = 0; i < t->n; i++) {
        const struct plot_row *r = &t->rows[i];
        if (r->snd_wnd <= 2 * base && r->snd_wnd > win_hi)
            win_hi = r->snd_wnd;
        if (r->ssthresh >= 0 && r->ssthresh <= 2 * base && r->ssthresh > win_hi)
            win_hi = r->ssthresh;
    }
    double t_hi = t->n ? t->rows[t->n - 1].t_s : 0;
    axis_fit(x, 0, t_hi, 10, false);
    axis_fit(seq, seq_lo < 0 ? seq_lo : 0, seq_hi, 8, true);
    axis_fit(win, 0, win_hi, 4, true);
    x->p_lo = MARGIN_L;
    x->p_hi = PLOT_W - MARGIN_R;
    seq->p_lo = SEQ_BOTTOM;
    seq->p_hi = SEQ_TOP;
    win->p_lo = WIN_BOTTOM;
    win->p_hi = WIN_TOP;
}

#define STYLE_UNA "fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\""
#define STYLE_NXT "fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"1.5\""
#define STYLE_CWND "fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"3\" stroke-opacity=\"0.75\""
#define STYLE_SSTHRESH "fill=\"none\" stroke=\"#9467bd\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\""
#define STYLE_IN_FLIGHT "fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.2\""
#define STYLE_SND_WND "fill=\"none\" stroke=\"#7f7f7f\" stroke-width=\"1.2\" stroke-dasharray=\"2 3\""
#define STYLE_TIMEOUT "stroke=\"#d62728\" stroke-width=\"1\" stroke-dasharray=\"4 3\""

int plot_svg_write(const struct plot_trace *t, const char *title, FILE *out)
{
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
                 "height=\"%d\" viewBox=\"0 0 %d %d\">\n"
                 "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
            PLOT_W, PLOT_H, PLOT_W, PLOT_H, PLOT_W, PLOT_H);
    struct axis x, seq, win;
    fit_axes(t, &x, &seq, &win);
    draw_title(out, t, title, t->n ? t->rows[t->n - 1].t_s : 0);
    if (t->n == 0) {
        draw_empty(out);
    } else {
        static const struct legend_item seq_legend[] = {
            {"SND.UNA", STYLE_UNA, false},
            {"SND.NXT", STYLE_NXT, false},
            {"retransmission", NULL, true},
            {"timeout", STYLE_TIMEOUT, false},
        };
        bool wnd_off = false, ssthresh_off = false;
        for (size_t i = 0; i < t->n; i++) {
            wnd_off |= t->rows[i].snd_wnd > win.hi;
            ssthresh_off |= t->rows[i].ssthresh > win.hi;
        }
        struct legend_item win_legend[] = {
            {t->has_cwnd ? "cwnd" : "cwnd (not reported)", STYLE_CWND, false},
            {ssthresh_off ? "ssthresh (gaps: above)" : "ssthresh", STYLE_SSTHRESH, false},
            {"in flight", STYLE_IN_FLIGHT, false},
            {wnd_off ? "peer window (gaps: above)" : "peer window", STYLE_SND_WND, false},
        };
        draw_panel_head(out, SEQ_TOP - 14,
                        "Time-sequence (bytes after the ISS)",
                        seq_legend, 4);
        draw_grid_and_ticks(out, &x, &seq, true);
        draw_panel_head(out, WIN_TOP - 14, "Windows", win_legend, 4);
        draw_grid_and_ticks(out, &x, &win, true);
        draw_series(out, t, s_snd_wnd, &x, &win, STYLE_SND_WND);
        /* cwnd broad underneath, bytes in flight thin on top: while
         * the window is what limits sending the two coincide. */
        draw_series(out, t, s_ssthresh, &x, &win, STYLE_SSTHRESH);
        draw_series(out, t, s_cwnd, &x, &win, STYLE_CWND);
        draw_series(out, t, s_in_flight, &x, &win, STYLE_IN_FLIGHT);
        draw_series(out, t, s_nxt, &x, &seq, STYLE_NXT);
        draw_series(out, t, s_una, &x, &seq, STYLE_UNA);
        draw_marks(out, t, &x, &seq);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" %s font-size=\"12\" fill=\"#333\" "
                     "text-anchor=\"middle\">time since the first row (s)</text>\n",
                (x.p_lo + x.p_hi) / 2, WIN_BOTTOM + 36, font);
    }
    fputs("</svg>\n", out);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
