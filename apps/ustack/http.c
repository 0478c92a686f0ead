/*
 * A small HTTP/1.1 server for `ustack serve --http` (see http.h).
 *
 * Each connection is a little state machine driven by http_conn_run():
 *   READ   collect a request head (bounded by HTTP_HEAD_MAX), parse it and
 *          prepare the response;
 *   SEND   push the response head and body through the send buffer, refilling
 *          a fixed chunk buffer from the file as it drains;
 *   DRAIN  after a response that closes the connection: our side is shut
 *          down, read and drop whatever the client still sends until it
 *          closes, so that closing never discards unread data (which would
 *          turn our close into a RST that can destroy the response in
 *          flight, RFC 9112 §9.6).
 * Requests on a keep-alive connection are answered one at a time: while a
 * response is being sent the connection does not read, so a client that
 * pipelines requests is held back by TCP flow control, not by our memory.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ustack/socket.h"
#include "ustack/stats.h"
#include "stat_table.h"
#include "ustack/tcp_info.h"
#include "ustack/ustack.h"

/* Bytes of response kept in memory per connection: the head, then file
 * data read from disk one chunk at a time. */
#define HTTP_OUT_CHUNK 16384
/* Largest built-in page we generate. */
#define HTTP_PAGE_MAX (256 * 1024)
/* Connections listed on the built-in page. */
#define HTTP_PAGE_CONNS 256

/* ---- request parsing ---------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

/* Next line of buf starting at *pos, without its CRLF (or bare LF, which
 * RFC 9112 §2.2 allows a recipient to accept). False at the end. */
static bool next_line(const char *buf, size_t len, size_t *pos, struct span *line)
{
    if (*pos >= len)
        return false;
    const char *start = buf + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n > 0 && start[n - 1] == '\r')
        n--;
    line->p = start;
    line->n = n;
    return true;
}

size_t http_head_length(const char *buf, size_t len)
{
    size_t pos = 0;
    bool seen_request_line = false;
    struct span line;
    while (next_line(buf, len, &pos, &line)) {
        /* A line is complete only once its LF has arrived. */
        if (buf[pos - 1] != '\n')
            return 0;
        if (line.n > 0)
            seen_request_line = true;
        else if (seen_request_line)
            return pos;
    }
    return 0;
}

/* tchar of RFC 9110 §5.6.2: the characters of a token. */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
        (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_token(struct span s)
{
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (!is_tchar((unsigned char)s.p[i]))
            return false;
    return true;
}

static bool span_eq(struct span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static bool span_ieq(struct span s, const char *lit)
{
    return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0;
}

/* Methods are case-sensitive (RFC 9110 §9.1). */
static enum http_method classify_method(struct span m)
{
    static const char *const other[] = {"POST",    "PUT",   "DELETE", "CONNECT",
                                        "OPTIONS", "TRACE", "PATCH"};
    if (span_eq(m, "GET"))
        return HTTP_GET;
    if (span_eq(m, "HEAD"))
        return HTTP_HEAD;
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        if (span_eq(m, other[i]))
            return HTTP_OTHER_KNOWN;
    return HTTP_UNKNOWN;
}

/* "HTTP/1.1" -> minor 1. A later 1.x is answered as 1.1 (RFC 9110 §2.5);
 * another major version gets 505. Returns 0 or a status code. */
static int parse_version(struct span v, int *minor)
{
    if (v.n != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[6] != '.' ||
        v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
        return 400;
    if (v.p[5] != '1')
        return 505;
    *minor = v.p[7] == '0' ? 0 : 1;
    return 0;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decode the path of a request target (RFC 3986 §2.1) into out,
 * stopping at the query or fragment. An absolute-form target (RFC 9112
 * §3.2.2) is reduced to its path. Returns 0 or a status code. */
static int decode_target(struct span t, char *out, size_t outlen)
{
    size_t i = 0, o = 0;
    if (t.n > 7 && (strncasecmp(t.p, "http://", 7) == 0 ||
                    strncasecmp(t.p, "https://", 8) == 0)) {
        i = (size_t)((const char *)memchr(t.p, ':', t.n) - t.p) + 3;
        while (i < t.n && t.p[i] != '/' && t.p[i] != '?' && t.p[i] != '#')
            i++;
        if (i == t.n || t.p[i] != '/') {
            snprintf(out, outlen, "/");
            return 0;
        }
    } else if (t.n == 0 || t.p[0] != '/') {
        return 400;
    }
    for (; i < t.n && t.p[i] != '?' && t.p[i] != '#'; i++) {
        unsigned char ch = (unsigned char)t.p[i];
        if (ch <= ' ' || ch == 0x7f)
            return 400;
        if (ch == '%') {
            int hi = i + 2 < t.n ? hex_value(t.p[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(t.p[i + 2]) : -1;
            if (lo < 0)
                return 400;
            ch = (unsigned char)(hi << 4 | lo);
            if (ch == 0) /* a NUL would cut the file name short */
                return 400;
            i += 2;
        }
        if (o + 1 >= outlen)
            return 414;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

/* Split the request line "METHOD SP TARGET SP VERSION" (RFC 9112 §3). */
static int parse_request_line(struct span line, struct http_request *req)
{
    const char *sp1 = memchr(line.p, ' ', line.n);
    if (!sp1)
        return 400;
    struct span method = {line.p, (size_t)(sp1 - line.p)};
    struct span rest = {sp1 + 1, line.n - method.n - 1};
    const char *sp2 = memchr(rest.p, ' ', rest.n);
    if (!sp2)
        return 400;
    struct span target = {rest.p, (size_t)(sp2 - rest.p)};
    struct span version = {sp2 + 1, rest.n - target.n - 1};
    if (!is_token(method))
        return 400;
    int status = parse_version(version, &req->minor);
    if (status)
        return status;
    req->method = classify_method(method);
    /* The path matters only for the methods we serve ("OPTIONS *" gets its
     * 405, not a 400 about the asterisk). */
    if (req->method != HTTP_GET && req->method != HTTP_HEAD)
        return 0;
    if (target.n > 4 * HTTP_PATH_MAX)
        return 414;
    return decode_target(target, req->path, sizeof(req->path));
}

/* Does the comma-separated list in v contain token tok (any case)? */
static bool list_has(struct span v, const char *tok)
{
    size_t i = 0;
    while (i < v.n) {
        while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        size_t start = i;
        while (i < v.n && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t')
            i++;
        struct span item = {v.p + start, i - start};
        if (item.n && span_ieq(item, tok))
            return true;
    }
    return false;
}

struct head_fields {
    int hosts;
    bool conn_close, conn_keep_alive;
    bool has_length, has_transfer_encoding;
    unsigned long long length;
};

/* Content-Length is 1*DIGIT; repeated values must agree (RFC 9112 §6.3). */
static int parse_content_length(struct span v, struct head_fields *h)
{
    if (v.n == 0 || v.n > 18)
        return 400;
    unsigned long long n = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return 400;
        n = n * 10 + (unsigned)(v.p[i] - '0');
    }
    if (h->has_length && h->length != n)
        return 400;
    h->has_length = true;
    h->length = n;
    return 0;
}

/* One "name: value" field line (RFC 9112 §5). */
static int parse_field(struct span line, struct head_fields *h)
{
    /* Obsolete line folding: rejecting it is allowed (RFC 9112 §5.2). */
    if (line.p[0] == ' ' || line.p[0] == '\t')
        return 400;
    const char *colon = memchr(line.p, ':', line.n);
    if (!colon)
        return 400;
    /* No whitespace between name and colon (RFC 9112 §5.1): is_token
     * rejects it along with every other non-token byte. */
    struct span name = {line.p, (size_t)(colon - line.p)};
    if (!is_token(name))
        return 400;
    struct span v = {colon + 1, line.n - name.n - 1};
    while (v.n && (v.p[0] == ' ' || v.p[0] == '\t'))
        v.p++, v.n--;
    while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
        v.n--;
    if (span_ieq(name, "Host")) {
        h->hosts++;
    } else if (span_ieq(name, "Connection")) {
        h->conn_close |= list_has(v, "close");
        h->conn_keep_alive |= list_has(v, "keep-alive");
    } else if (span_ieq(name, "Content-Length")) {
        return parse_content_length(v, h);
    } else if (span_ieq(name, "Transfer-Encoding")) {
        h->has_transfer_encoding = true;
    }
    return 0;
}

int http_parse_request(const char *head, size_t len, struct http_request *req)
{
    memset(req, 0, sizeof(*req));
    size_t pos = 0;
    struct span line = {head, 0};
    /* Skip empty lines before the request line (RFC 9112 §2.2). */
    while (next_line(head, len, &pos, &line) && line.n == 0)
        ;
    if (line.n == 0)
        return 400;
    int status = parse_request_line(line, req);
    if (status)
        return status;
    struct head_fields h = {0};
    while (next_line(head, len, &pos, &line) && line.n > 0) {
        status = parse_field(line, &h);
        if (status)
            return status;
    }
    /* HTTP/1.1 requests carry exactly one Host (RFC 9112 §3.2). */
    if (h.hosts > 1 || (req->minor == 1 && h.hosts == 0))
        return 400;
    req->has_body = h.has_transfer_encoding || (h.has_length && h.length > 0);
    /* Persistence: RFC 9112 §9.3. */
    if (req->minor >= 1)
        req->keep_alive = !h.conn_close;
    else
        req->keep_alive = h.conn_keep_alive && !h.conn_close;
    return 0;
}

int http_relative_path(const char *path, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = path;
    if (outlen == 0)
        return 400;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - seg);
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.')
            return 403;
        if (o + (o ? 1 : 0) + n + 1 > outlen)
            return 400;
        if (o)
            out[o++] = '/';
        memcpy(out + o, seg, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

const char *http_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"xml", "application/xml"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"pdf", "application/pdf"},
        {"wasm", "application/wasm"},
        {"gz", "application/gzip"},
        {"tar", "application/x-tar"},
    };
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* ---- server and connection state ---------------------------------------- */

struct http_server {
    struct ustack *st;
    int dir_fd; /* the served directory, or -1 for the built-in page */
    struct http_totals totals;
};

enum conn_state { CONN_READ, CONN_SEND, CONN_DRAIN };

struct http_conn {
    struct http_server *srv;
    int sd;
    enum conn_state state;
    bool close_after; /* shut down once this response is sent */
    int minor;        /* HTTP minor version of the current request */
    uint64_t bytes_in, bytes_out;

    size_t in_len;
    char in[HTTP_HEAD_MAX];

    /* Response bytes not yet accepted by the send buffer: out[out_off..out_len). */
    size_t out_off, out_len;
    char out[HTTP_OUT_CHUNK];

    /* Body still to be read into out: from a file or from memory. */
    int file_fd;
    uint64_t file_off, file_left;
    char *page;
    size_t page_len, page_off;
};

struct http_server *http_server_new(struct ustack *st, const char *dir, char *err,
                                    size_t errlen)
{
    struct http_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->st = st;
    srv->dir_fd = -1;
    if (dir) {
        srv->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (srv->dir_fd < 0) {
            snprintf(err, errlen, "cannot open directory %s: %s", dir,
                     strerror(errno));
            free(srv);
            return NULL;
        }
    }
    return srv;
}

void http_server_free(struct http_server *srv)
{
    if (!srv)
        return;
    if (srv->dir_fd >= 0)
        close(srv->dir_fd);
    free(srv);
}

void http_server_totals(const struct http_server *srv, struct http_totals *out)
{
    *out = srv->totals;
}

struct http_conn *http_conn_new(struct http_server *srv, int sd)
{
    struct http_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->srv = srv;
    c->sd = sd;
    c->state = CONN_READ;
    c->file_fd = -1;
    srv->totals.connections++;
    return c;
}

/* Drop whatever body source the current response had. */
static void end_body(struct http_conn *c)
{
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    c->file_left = 0;
    free(c->page);
    c->page = NULL;
    c->page_len = c->page_off = 0;
}

void http_conn_bytes(const struct http_conn *c, uint64_t *in, uint64_t *out)
{
    *in = c->bytes_in;
    *out = c->bytes_out;
}

void http_conn_free(struct http_conn *c)
{
    if (!c)
        return;
    end_body(c);
    free(c);
}

/* ---- building responses ------------------------------------------------- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* The Date header field (RFC 9110 §6.6.1), IMF-fixdate. */
static void format_date(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) ||
        strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Put the status line and header fields into the (empty) output buffer. */
static void start_response(struct http_conn *c, int status, const char *type,
                           uint64_t length, const char *extra)
{
    char date[64];
    format_date(date, sizeof(date));
    const char *connection = "";
    if (c->close_after)
        connection = "Connection: close\r\n";
    else if (c->minor == 0)
        connection = "Connection: keep-alive\r\n";
    int n = snprintf(c->out, sizeof(c->out),
                     "HTTP/1.1 %d %s\r\n"
                     "Server: ustack\r\n"
                     "Date: %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %llu\r\n"
                     "%s%s\r\n",
                     status, reason_phrase(status), date, type,
                     (unsigned long long)length, extra ? extra : "", connection);
    /* The head is a few hundred bytes: it always fits. */
    c->out_off = 0;
    c->out_len = n > 0 && (size_t)n < sizeof(c->out) ? (size_t)n : 0;
}

/* A short HTML body explaining an error status. */
static void respond_error(struct http_conn *c, int status, bool head_only)
{
    char body[160];
    int n = snprintf(body, sizeof(body),
                     "<!DOCTYPE html>\n<html><body><h1>%d %s</h1></body></html>\n",
                     status, reason_phrase(status));
    size_t len = n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0;
    const char *extra = status == 405 ? "Allow: GET, HEAD\r\n" : NULL;
    start_response(c, status, "text/html; charset=utf-8", len, extra);
    if (!head_only && c->out_len + len <= sizeof(c->out)) {
        memcpy(c->out + c->out_len, body, len);
        c->out_len += len;
    }
}

/* A growable text buffer for the built-in page, capped at HTTP_PAGE_MAX. */
struct page {
    char *p;
    size_t len, cap;
    bool truncated;
};

static void page_printf(struct page *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void page_printf(struct page *pg, const char *fmt, ...)
{
    if (pg->truncated)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = pg->cap - pg->len;
        int n = vsnprintf(pg->p ? pg->p + pg->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            pg->truncated = true;
            return;
        }
        if ((size_t)n < room) {
            pg->len += (size_t)n;
            return;
        }
        size_t want = pg->len + (size_t)n + 1;
        size_t cap = pg->cap ? pg->cap : 4096;
        while (cap < want)
            cap *= 2;
        if (cap > HTTP_PAGE_MAX) {
            pg->truncated = true;
            return;
        }
        char *p = realloc(pg->p, cap);
        if (!p) {
            pg->truncated = true;
            return;
        }
        pg->p = p;
        pg->cap = cap;
    }
}

/* Every counter, "name value" per line: easy for scripts to read. */
static void page_stats_text(struct page *pg, struct ustack *st)
{
    struct ustack_stats stats;
    size_t count;
    const struct ustack_stat_info *t = ustack_stat_table(&count);
    ustack_get_stats(st, &stats);
    for (size_t i = 0; i < count; i++)
        page_printf(pg, "%s %llu\n", t[i].name,
                    (unsigned long long)ustack_stat_value(&stats, &t[i]));
}

struct conn_rows {
    struct page *pg;
    size_t shown;
};

/* One table row per connection, up to HTTP_PAGE_CONNS (called by TCP with
 * the stack held; only formats). The columns are `ustack stat`'s
 * (stat_table.h), whose cells need no HTML escaping. */
static void conn_row(void *ctx, const struct ustack_tcp_info *ci)
{
    struct conn_rows *rows = ctx;
    if (rows->shown >= HTTP_PAGE_CONNS)
        return;
    rows->shown++;
    struct stat_conn sc;
    char buf[32];
    stat_conn_from_info(&sc, ci);
    page_printf(rows->pg, "<tr>");
    for (int c = 0; c < STAT_NCOLS; c++)
        page_printf(rows->pg, "<td>%s</td>",
                    stat_cell_display(&sc, (enum stat_col)c, buf, sizeof(buf)));
    page_printf(rows->pg, "</tr>\n");
}

static void page_connections_html(struct page *pg, struct ustack *st)
{
    struct page rows_pg = {0};
    struct conn_rows rows = {&rows_pg, 0};
    int total = ustack_tcp_connections(st, conn_row, &rows);
    page_printf(pg, "<h2>TCP connections (%d)</h2>\n<table>\n<tr>", total);
    for (int c = 0; c < STAT_NCOLS; c++)
        page_printf(pg, "<th>%s</th>", stat_col_title((enum stat_col)c));
    page_printf(pg, "</tr>\n");
    if (rows_pg.len)
        page_printf(pg, "%.*s", (int)rows_pg.len, rows_pg.p);
    page_printf(pg, "</table>\n");
    if (total > 0 && (size_t)total > rows.shown)
        page_printf(pg, "<p>... and %zu more</p>\n", (size_t)total - rows.shown);
    free(rows_pg.p);
}

static void page_stats_html(struct page *pg, struct ustack *st)
{
    struct ustack_stats stats;
    size_t count;
    const struct ustack_stat_info *t = ustack_stat_table(&count);
    ustack_get_stats(st, &stats);
    page_printf(pg, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                    "<title>ustack</title>\n<style>body{font-family:sans-serif}"
                    "td,th{padding:0 1em;text-align:left}"
                    ".zero{color:#999}</style></head><body>\n"
                    "<h1>ustack</h1>\n");
    page_connections_html(pg, st);
    page_printf(pg, "<h2>Counters</h2>\n<p>As plain text: "
                    "<a href=\"/stats.txt\">/stats.txt</a></p>\n<table>\n");
    for (size_t i = 0; i < count; i++) {
        uint64_t v = ustack_stat_value(&stats, &t[i]);
        page_printf(pg, "<tr%s><td>%s</td><td>%llu</td><td>%s</td></tr>\n",
                    v ? "" : " class=\"zero\"", t[i].name, (unsigned long long)v,
                    t[i].description);
    }
    page_printf(pg, "</table>\n</body></html>\n");
}

static void serve_builtin(struct http_conn *c, const struct http_request *req,
                          bool head_only)
{
    struct page pg = {0};
    const char *type;
    if (strcmp(req->path, "/") == 0 || strcmp(req->path, "/index.html") == 0) {
        page_stats_html(&pg, c->srv->st);
        type = "text/html; charset=utf-8";
    } else if (strcmp(req->path, "/stats.txt") == 0) {
        page_stats_text(&pg, c->srv->st);
        type = "text/plain; charset=utf-8";
    } else {
        respond_error(c, 404, head_only);
        return;
    }
    if (pg.truncated && pg.len == 0) {
        free(pg.p);
        respond_error(c, 500, head_only);
        return;
    }
    start_response(c, 200, type, pg.len, NULL);
    if (head_only) {
        free(pg.p);
        return;
    }
    c->page = pg.p;
    c->page_len = pg.len;
    c->page_off = 0;
}

/* Open rel below dir_fd without leaving it: openat2 with RESOLVE_BENEATH
 * also refuses symlinks that point outside (Linux 5.6). Older kernels fall
 * back to openat with O_NOFOLLOW; ".." segments are already refused. */
static int open_beneath(int dir_fd, const char *rel)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    struct open_how how = {
        .flags = (uint64_t)flags,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dir_fd, rel, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS)
        fd = openat(dir_fd, rel, flags | O_NOFOLLOW);
    return (int)fd;
}

static int open_error_status(int err)
{
    return err == EACCES || err == EPERM || err == EXDEV || err == ELOOP ? 403
                                                                         : 404;
}

/* Open the file a path names: a directory means its index.html. Returns an
 * fd of a regular file (size in *size, name for the type in *name) or -status. */
static int open_target(int dir_fd, const char *rel, off_t *size, const char **name)
{
    int fd = open_beneath(dir_fd, rel[0] ? rel : ".");
    if (fd < 0)
        return -open_error_status(errno);
    struct stat sb;
    *name = rel;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        int index = openat(fd, "index.html",
                           O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
        int err = errno;
        close(fd);
        if (index < 0)
            return -open_error_status(err);
        fd = index;
        *name = "index.html";
        if (fstat(fd, &sb) != 0)
            sb.st_mode = 0;
    } else if (fstat(fd, &sb) != 0) {
        sb.st_mode = 0;
    }
    /* Only regular files: no devices, FIFOs or sockets. */
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return -404;
    }
    *size = sb.st_size;
    return fd;
}

static void serve_file(struct http_conn *c, const struct http_request *req,
                       bool head_only)
{
    char rel[HTTP_PATH_MAX + 1];
    int status = http_relative_path(req->path, rel, sizeof(rel));
    if (status) {
        respond_error(c, status, head_only);
        return;
    }
    off_t size = 0;
    const char *name = rel;
    int fd = open_target(c->srv->dir_fd, rel, &size, &name);
    if (fd < 0) {
        respond_error(c, -fd, head_only);
        return;
    }
    start_response(c, 200, http_content_type(name), (uint64_t)size, NULL);
    if (head_only) {
        close(fd);
        return;
    }
    c->file_fd = fd;
    c->file_off = 0;
    c->file_left = (uint64_t)size;
}

/* Parse the head in in[0..len) and prepare the response in out. */
static void handle_request(struct http_conn *c, size_t len)
{
    struct http_request req;
    c->srv->totals.requests++;
    int status = http_parse_request(c->in, len, &req);
    c->minor = req.minor;
    /* After a malformed request the framing of what follows is unknown, and
     * we never read request bodies: close in both cases. */
    c->close_after = status != 0 || !req.keep_alive || req.has_body;
    if (status) {
        respond_error(c, status, false);
        return;
    }
    bool head_only = req.method == HTTP_HEAD;
    if (req.method == HTTP_UNKNOWN) {
        c->close_after = true;
        respond_error(c, 501, false);
    } else if (req.method == HTTP_OTHER_KNOWN) {
        respond_error(c, 405, false);
    } else if (c->srv->dir_fd < 0) {
        serve_builtin(c, &req, head_only);
    } else {
        serve_file(c, &req, head_only);
    }
}

/* ---- moving bytes ------------------------------------------------------- */

/* Top up the output buffer from the body source. -1 when the file cannot
 * deliver the bytes its Content-Length promised. */
static int refill(struct http_conn *c)
{
    size_t room = sizeof(c->out) - c->out_len;
    if (room == 0)
        return 0;
    if (c->file_left > 0) {
        size_t want = c->file_left < room ? (size_t)c->file_left : room;
        ssize_t n;
        do {
            n = pread(c->file_fd, c->out + c->out_len, want, (off_t)c->file_off);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) /* error, or the file shrank under us */
            return -1;
        c->out_len += (size_t)n;
        c->file_off += (uint64_t)n;
        c->file_left -= (uint64_t)n;
        c->srv->totals.body_bytes += (uint64_t)n;
    } else if (c->page_off < c->page_len) {
        size_t n = c->page_len - c->page_off;
        if (n > room)
            n = room;
        memcpy(c->out + c->out_len, c->page + c->page_off, n);
        c->out_len += n;
        c->page_off += n;
        c->srv->totals.body_bytes += n;
    }
    return 0;
}

/* Send the response. 1 = all of it is in the send buffer, 0 = the send
 * buffer is full (wait for WRITABLE), -1 = the connection failed. */
static int pump(struct http_conn *c)
{
    struct ustack *st = c->srv->st;
    for (;;) {
        if (c->out_off == c->out_len)
            c->out_off = c->out_len = 0;
        if (refill(c) < 0)
            return -1;
        if (c->out_len == 0)
            return 1;
        ssize_t n = ustack_send(st, c->sd, c->out + c->out_off,
                                c->out_len - c->out_off, 0);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return -1;
        c->out_off += (size_t)n;
        c->bytes_out += (uint64_t)n;
    }
}

/* The response is out: wait for the next request, or close. */
static void finish_response(struct http_conn *c)
{
    end_body(c);
    if (c->close_after) {
        ustack_shutdown(c->srv->st, c->sd, SHUT_WR);
        c->state = CONN_DRAIN;
    } else {
        c->state = CONN_READ;
    }
}

/* One step of reading a request head. 1 = state changed (go on), 0 = wait,
 * -1 = close. */
static int read_step(struct http_conn *c)
{
    size_t head = http_head_length(c->in, c->in_len);
    if (head) {
        handle_request(c, head);
        /* Keep what follows the head: a pipelined next request. */
        memmove(c->in, c->in + head, c->in_len - head);
        c->in_len -= head;
        c->state = CONN_SEND;
        return 1;
    }
    if (c->in_len == sizeof(c->in)) {
        c->close_after = true;
        c->minor = 1;
        respond_error(c, 431, false);
        c->in_len = 0;
        c->state = CONN_SEND;
        return 1;
    }
    ssize_t n = ustack_recv(c->srv->st, c->sd, c->in + c->in_len,
                            sizeof(c->in) - c->in_len, 0);
    if (n == -EAGAIN)
        return 0;
    if (n <= 0) /* end of stream (maybe mid-request) or a failed connection */
        return -1;
    c->in_len += (size_t)n;
    c->bytes_in += (uint64_t)n;
    return 1;
}

/* Read and drop input until the peer closes. 0 = wait, -1 = close now. */
static int drain_step(struct http_conn *c)
{
    for (;;) {
        ssize_t n = ustack_recv(c->srv->st, c->sd, c->in, sizeof(c->in), 0);
        if (n == -EAGAIN)
            return 0;
        if (n <= 0)
            return -1;
        c->bytes_in += (uint64_t)n;
    }
}

enum http_status http_conn_run(struct http_conn *c)
{
    for (;;) {
        int r;
        switch (c->state) {
        case CONN_READ:
            r = read_step(c);
            break;
        case CONN_SEND:
            r = pump(c);
            if (r == 1)
                finish_response(c);
            break;
        case CONN_DRAIN:
        default:
            r = drain_step(c);
            break;
        }
        if (r < 0)
            return HTTP_CONN_DONE;
        if (r == 0)
            return HTTP_CONN_OPEN;
    }
}
