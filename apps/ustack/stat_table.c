/*
 * The connection table (stat_table.h): cells, their wire form, and the
 * table and JSON printers.
 */
#include "stat_table.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/ustack.h"

enum kind {
    TEXT,  /* shown as it is */
    COUNT, /* a plain number */
    BYTES, /* a number of bytes: 1234, 56.7K, 8.9M */
    USEC,  /* microseconds: 850us, 12.3ms, 1.00s */
};

static const struct {
    const char *key, *title;
    enum kind kind;
} columns[STAT_NCOLS] = {
    [STAT_STATE] = {"state", "State", TEXT},
    [STAT_LOCAL] = {"local", "Local", TEXT},
    [STAT_REMOTE] = {"remote", "Remote", TEXT},
    [STAT_SEND_Q] = {"send_queue", "Send-Q", BYTES},
    [STAT_RECV_Q] = {"recv_queue", "Recv-Q", BYTES},
    [STAT_CWND] = {"cwnd", "cwnd", BYTES},
    [STAT_SSTHRESH] = {"ssthresh", "ssthresh", BYTES},
    [STAT_CC] = {"congestion", "cc", TEXT},
    [STAT_SRTT] = {"srtt_us", "srtt", USEC},
    [STAT_RTTVAR] = {"rttvar_us", "rttvar", USEC},
    [STAT_RTO] = {"rto_us", "rto", USEC},
    [STAT_IN_FLIGHT] = {"in_flight", "in-flight", BYTES},
    [STAT_SND_WND] = {"snd_wnd", "peer-wnd", BYTES},
    [STAT_MSS] = {"mss", "mss", COUNT},
    [STAT_BYTES_SENT] = {"bytes_sent", "sent", BYTES},
    [STAT_BYTES_RECEIVED] = {"bytes_received", "received", BYTES},
    [STAT_RETRANS] = {"retransmissions", "retrans", COUNT},
};

const char *stat_col_key(enum stat_col c)
{
    return (unsigned)c < STAT_NCOLS ? columns[c].key : "?";
}

const char *stat_col_title(enum stat_col c)
{
    return (unsigned)c < STAT_NCOLS ? columns[c].title : "?";
}

/* ---- From the stack ----------------------------------------------------------- */

static void set_u64(struct stat_conn *sc, enum stat_col c, uint64_t v)
{
    snprintf(sc->cell[c], STAT_CELL, "%llu", (unsigned long long)v);
}

static void set_addr(struct stat_conn *sc, enum stat_col c, uint32_t addr, uint16_t port)
{
    char a[16];
    snprintf(sc->cell[c], STAT_CELL, "%s:%u", ustack_format_ipv4(addr, a), port);
}

void stat_conn_from_info(struct stat_conn *sc, const struct ustack_tcp_info *in)
{
    memset(sc, 0, sizeof(*sc));
    snprintf(sc->cell[STAT_STATE], STAT_CELL, "%s", in->state ? in->state : "?");
    set_addr(sc, STAT_LOCAL, in->local_addr, in->local_port);
    /* A listener's algorithm is the one its connections start with. */
    snprintf(sc->cell[STAT_CC], STAT_CELL, "%s", in->congestion ? in->congestion : "");
    if (in->state && !strcmp(in->state, "LISTEN")) {
        /* A listener has no peer and sends nothing; like ss, its receive
         * queue is the accept queue. */
        snprintf(sc->cell[STAT_REMOTE], STAT_CELL, "*");
        set_u64(sc, STAT_SEND_Q, 0);
        set_u64(sc, STAT_RECV_Q, in->listen_backlog);
        return;
    }
    set_addr(sc, STAT_REMOTE, in->remote_addr, in->remote_port);
    set_u64(sc, STAT_SEND_Q, in->send_queue);
    set_u64(sc, STAT_RECV_Q, in->recv_queue);
    if (in->cwnd) /* 0: not established yet */
        set_u64(sc, STAT_CWND, in->cwnd);
    if (in->ssthresh != UINT32_MAX) /* none yet */
        set_u64(sc, STAT_SSTHRESH, in->ssthresh);
    if (in->srtt_us) { /* 0: no sample yet */
        set_u64(sc, STAT_SRTT, in->srtt_us);
        set_u64(sc, STAT_RTTVAR, in->rttvar_us);
    }
    set_u64(sc, STAT_RTO, in->rto_us);
    set_u64(sc, STAT_IN_FLIGHT, in->in_flight);
    set_u64(sc, STAT_SND_WND, in->snd_wnd);
    set_u64(sc, STAT_MSS, in->mss);
    set_u64(sc, STAT_BYTES_SENT, in->bytes_sent);
    set_u64(sc, STAT_BYTES_RECEIVED, in->bytes_received);
    set_u64(sc, STAT_RETRANS, in->retransmissions);
}

/* ---- The wire form -------------------------------------------------------------- */

int stat_conn_to_wire(const struct stat_conn *sc, char *buf, size_t len)
{
    size_t off = 0;
    int n = snprintf(buf, len, "conn");
    if (n < 0 || (size_t)n >= len)
        return -1;
    off = (size_t)n;
    for (int c = 0; c < STAT_NCOLS; c++) {
        n = snprintf(buf + off, len - off, " %s=%s", columns[c].key, sc->cell[c]);
        if (n < 0 || (size_t)n >= len - off)
            return -1;
        off += (size_t)n;
    }
    if (off + 2 > len)
        return -1;
    buf[off++] = '\n';
    buf[off] = '\0';
    return (int)off;
}

/* What a cell may hold: addresses, states, numbers. Nothing that would
 * need quoting in a table, in JSON or in HTML. */
static bool cell_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == ':' || ch == '-' || ch == '*' || ch == '_' || ch == '?';
}

static int column_of(const char *key, size_t len)
{
    for (int c = 0; c < STAT_NCOLS; c++)
        if (strlen(columns[c].key) == len && !strncmp(columns[c].key, key, len))
            return c;
    return -1;
}

int stat_conn_from_wire(struct stat_conn *sc, const char *line)
{
    memset(sc, 0, sizeof(*sc));
    if (strncmp(line, "conn", 4) || (line[4] != ' ' && line[4] != '\n' && line[4]))
        return -1;
    const char *p = line + 4;
    while (*p == ' ')
        p++;
    while (*p && *p != '\n' && *p != '\r') {
        size_t word = strcspn(p, " \r\n");
        const char *eq = memchr(p, '=', word);
        if (!eq)
            return -1;
        size_t vlen = word - (size_t)(eq + 1 - p);
        if (vlen >= STAT_CELL)
            return -1;
        for (size_t i = 0; i < vlen; i++)
            if (!cell_char(eq[1 + i]))
                return -1;
        int c = column_of(p, (size_t)(eq - p));
        if (c >= 0) {
            memcpy(sc->cell[c], eq + 1, vlen);
            sc->cell[c][vlen] = '\0';
        }
        p += word;
        while (*p == ' ')
            p++;
    }
    return 0;
}

static int answer_error(char *err, size_t errlen, const char *what, const char *line)
{
    size_t len = strcspn(line, "\r\n");
    snprintf(err, errlen, "%s: '%.*s'", what, (int)(len > 80 ? 80 : len), line);
    return -1;
}

int stat_parse_answer(const char *text, struct stat_conn **conns, size_t *n, size_t *total,
                      char *err, size_t errlen)
{
    *conns = NULL;
    *n = *total = 0;
    if (!strncmp(text, "error ", 6))
        return answer_error(err, errlen, "the server said", text + 6);
    if (strncmp(text, "ustack-stat 1\n", 14))
        return answer_error(err, errlen, "not a stat answer", text);
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    struct stat_conn *out = calloc(lines ? lines : 1, sizeof(*out));
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t count = 0;
    for (const char *p = strchr(text, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
        if (!strchr(p, '\n'))
            break; /* an unterminated last line: the answer was cut */
        unsigned long long listed, all;
        char extra;
        if (!strncmp(p, "end ", 4)) {
            if (sscanf(p, "end %llu %llu%c", &listed, &all, &extra) != 3 || extra != '\n' ||
                listed != count || all < listed) {
                free(out);
                return answer_error(err, errlen, "bad end line", p);
            }
            *conns = out;
            *n = count;
            *total = (size_t)all;
            return 0;
        }
        if (stat_conn_from_wire(&out[count], p) < 0) {
            free(out);
            return answer_error(err, errlen, "bad connection line", p);
        }
        count++;
    }
    free(out);
    snprintf(err, errlen, "the answer ended early (no end line)");
    return -1;
}

/* ---- For people ------------------------------------------------------------------- */

const char *stat_cell_display(const struct stat_conn *sc, enum stat_col c, char *buf,
                              size_t len)
{
    const char *raw = sc->cell[c];
    if (!raw[0])
        return "-";
    if (columns[c].kind == TEXT || columns[c].kind == COUNT)
        return raw;
    char *end;
    double v = strtod(raw, &end);
    if (*end)
        return raw; /* not a number after all: show what came */
    if (columns[c].kind == USEC) {
        if (v < 1000)
            snprintf(buf, len, "%.0fus", v);
        else if (v < 1e6)
            snprintf(buf, len, "%.1fms", v / 1e3);
        else
            snprintf(buf, len, "%.2fs", v / 1e6);
    } else if (v < 10000) {
        snprintf(buf, len, "%.0f", v);
    } else if (v < 10 * 1048576.0) {
        snprintf(buf, len, "%.1fK", v / 1024);
    } else if (v < 10 * 1073741824.0) {
        snprintf(buf, len, "%.1fM", v / 1048576);
    } else {
        snprintf(buf, len, "%.1fG", v / 1073741824);
    }
    return buf;
}

void stat_print_table(FILE *out, const struct stat_conn *conns, size_t n)
{
    int width[STAT_NCOLS];
    char buf[32];
    for (int c = 0; c < STAT_NCOLS; c++) {
        width[c] = (int)strlen(columns[c].title);
        for (size_t i = 0; i < n; i++) {
            int w = (int)strlen(stat_cell_display(&conns[i], (enum stat_col)c, buf, sizeof(buf)));
            if (w > width[c])
                width[c] = w;
        }
    }
    /* Text left-aligned, numbers right-aligned, two spaces apart. */
    for (int c = 0; c < STAT_NCOLS; c++)
        fprintf(out, "%s%*s", c ? "  " : "", columns[c].kind == TEXT ? -width[c] : width[c],
                columns[c].title);
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < STAT_NCOLS; c++)
            fprintf(out, "%s%*s", c ? "  " : "",
                    columns[c].kind == TEXT ? -width[c] : width[c],
                    stat_cell_display(&conns[i], (enum stat_col)c, buf, sizeof(buf)));
        fputc('\n', out);
    }
}

void stat_print_json(FILE *out, const struct stat_conn *conns, size_t n, size_t total)
{
    fputs("{\"connections\": [", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n  {" : "\n  {", out);
        for (int c = 0; c < STAT_NCOLS; c++) {
            const char *raw = conns[i].cell[c];
            fprintf(out, "%s\"%s\": ", c ? ", " : "", columns[c].key);
            /* Cells hold only cell_char()s: nothing to escape. */
            if (columns[c].kind == TEXT)
                fprintf(out, "\"%s\"", raw);
            else if (!raw[0] || strspn(raw, "0123456789") != strlen(raw))
                fputs("null", out);
            else
                fputs(raw, out);
        }
        fputc('}', out);
    }
    fprintf(out, "%s], \"total\": %zu}\n", n ? "\n" : "", total);
}
