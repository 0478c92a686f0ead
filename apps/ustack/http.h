/*
 * A small HTTP/1.1 server on the event API (RFC 9110, RFC 9112), used by
 * `ustack serve --http PORT[:DIR]`.
 *
 * GET and HEAD only. With a directory, regular files below it are served
 * with Content-Length and a Content-Type chosen by extension; large files
 * are streamed from disk in chunks as the send buffer drains, never read
 * whole. Without a directory, a built-in page shows the stack's counters
 * and connections.
 *
 * The caller (serve.c) owns the socket and the event loop: it accepts, then
 * calls http_conn_run() whenever the socket may have become readable or
 * writable, and closes the socket when told to. Everything here runs on
 * the runner thread with the stack lock held.
 */
#ifndef USTACK_APP_HTTP_H
#define USTACK_APP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ustack;

/* Largest request head (request line + headers) we accept: a longer one is
 * answered with 431 (RFC 6585 §5). */
#define HTTP_HEAD_MAX 8192
/* Largest decoded request path. */
#define HTTP_PATH_MAX 1024

/* ---- request parsing (pure functions, no I/O) ------------------------- */

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_OTHER_KNOWN, /* a registered method we do not allow: 405 */
    HTTP_UNKNOWN,     /* not a method we know: 501 */
};

struct http_request {
    enum http_method method;
    int minor;                    /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    bool keep_alive;              /* persistence after this response */
    bool has_body;                /* Content-Length > 0 or Transfer-Encoding */
    char path[HTTP_PATH_MAX + 1]; /* percent-decoded, NUL-terminated */
};

/* Look for a complete request head at the start of buf. Returns 0 when more
 * bytes are needed, the head's length (including the blank line) when one
 * is complete. Leading empty lines count as part of the head (RFC 9112
 * §2.2 lets a server ignore them). */
size_t http_head_length(const char *buf, size_t len);

/* Parse a complete head of `len` bytes. Returns 0, or the HTTP status code
 * to answer with (400, 414, 505, ...) when the request is malformed. */
int http_parse_request(const char *head, size_t len, struct http_request *req);

/* Turn a decoded path into a relative file name below the served directory:
 * "/a/./b//c" -> "a/b/c", "/" -> "". Returns 0, or 403 when a segment is
 * ".." (no escaping the directory), or 400 when the result does not fit. */
int http_relative_path(const char *path, char *out, size_t outlen);

/* Content-Type for a file name, by extension. */
const char *http_content_type(const char *name);

/* ---- server and connections --------------------------------------------- */

struct http_server;
struct http_conn;

/* dir = NULL serves the built-in status page of stack st. NULL on failure
 * with a reason in err (e.g. the directory cannot be opened). */
struct http_server *http_server_new(struct ustack *st, const char *dir,
                                    char *err, size_t errlen);
void http_server_free(struct http_server *srv);

/* Totals since start, for the exit summary. */
struct http_totals {
    uint64_t connections, requests, body_bytes;
};
void http_server_totals(const struct http_server *srv, struct http_totals *out);

/* A connection on accepted socket sd (which stays the caller's). NULL when
 * out of memory. */
struct http_conn *http_conn_new(struct http_server *srv, int sd);
void http_conn_free(struct http_conn *c);

/* Bytes this connection received and handed to the send buffer so far. */
void http_conn_bytes(const struct http_conn *c, uint64_t *in, uint64_t *out);

enum http_status { HTTP_CONN_OPEN, HTTP_CONN_DONE };

/* Make all the progress possible without blocking: read requests, answer
 * them, stream bodies. HTTP_CONN_DONE when the caller should close the
 * socket and free c. */
enum http_status http_conn_run(struct http_conn *c);

#endif
