/*
 * The connection table of `ustack stat`, the SIGUSR1 output and the HTTP
 * status page: one list of columns, so all three show the same thing.
 *
 * A connection is held as text cells, the raw values (numbers in bytes
 * and microseconds, "" for "none"): that is what travels over the
 * control socket (ctl.c), one line per connection of KEY=VALUE words,
 *
 *   conn state=ESTABLISHED local=10.0.0.2:7 remote=10.0.0.1:40000 ...
 *
 * and what the printers turn into a table for people (milliseconds,
 * KiB) or JSON for programs (numbers, null for none).
 */
#ifndef USTACK_APP_STAT_TABLE_H
#define USTACK_APP_STAT_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "ustack/tcp_info.h"

enum stat_col {
    STAT_STATE,
    STAT_LOCAL,
    STAT_REMOTE,
    STAT_SEND_Q,
    STAT_RECV_Q,
    STAT_CWND,
    STAT_SSTHRESH,
    STAT_CC,
    STAT_SRTT,
    STAT_RTTVAR,
    STAT_RTO,
    STAT_IN_FLIGHT,
    STAT_SND_WND,
    STAT_MSS,
    STAT_BYTES_SENT,
    STAT_BYTES_RECEIVED,
    STAT_RETRANS,
    STAT_NCOLS
};

#define STAT_CELL 24 /* longest cell value + 1 */

struct stat_conn {
    char cell[STAT_NCOLS][STAT_CELL];
};

/* The key of a column ("state", "srtt_us", ...) and its table heading. */
const char *stat_col_key(enum stat_col c);
const char *stat_col_title(enum stat_col c);

void stat_conn_from_info(struct stat_conn *sc, const struct ustack_tcp_info *info);

/* "conn k=v k=v ...\n" into buf; returns the length, or -1 if buf is too
 * small (STAT_WIRE_MAX always suffices). */
#define STAT_WIRE_MAX (STAT_NCOLS * (STAT_CELL + 24) + 8)
int stat_conn_to_wire(const struct stat_conn *sc, char *buf, size_t len);

/* Parse one "conn ..." line (the line break is optional). Unknown keys
 * are skipped (a newer server); a malformed line returns -1. */
int stat_conn_from_wire(struct stat_conn *sc, const char *line);

/* A whole answer of the control socket (ctl.h): "ustack-stat 1", conn
 * lines, "end LISTED TOTAL". On success *conns (malloc'd, free it) holds
 * *n connections and *total says how many the server had. -1 with a
 * message in err for anything else (an "error ..." line included). */
int stat_parse_answer(const char *text, struct stat_conn **conns, size_t *n, size_t *total,
                      char *err, size_t errlen);

/* A cell as people read it: "12.3ms", "64.0K", "-" for none. */
const char *stat_cell_display(const struct stat_conn *sc, enum stat_col c, char *buf,
                              size_t len);

/* The whole table: a heading line, then one line per connection. */
void stat_print_table(FILE *out, const struct stat_conn *conns, size_t n);

/* A JSON document: {"connections": [{...}, ...], "total": total}. */
void stat_print_json(FILE *out, const struct stat_conn *conns, size_t n, size_t total);

#endif
