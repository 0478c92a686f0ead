/*
 * `ustack plot`'s trace reader and SVG writer (apps/ustack/plot_svg.c,
 * compiled into this test directly: the CLI is not part of the library).
 * The SVG is checked for well-formed XML structure (every tag closed, in
 * order, one <svg> root) and for every coordinate lying in the viewBox.
 */
#include "../../apps/ustack/plot_svg.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define HEADER                                                                    \
    "time_us,event,state,local,remote,snd_una,snd_nxt,snd_una_rel,snd_nxt_rel,"  \
    "cwnd,ssthresh,in_flight,srtt_us,rttvar_us,rto_us,snd_wnd,retransmissions\n"

/* A row at time t (us) with the given relative SND.UNA/SND.NXT. */
static void add_row(struct plot_trace *t, uint64_t time_us, const char *ev, uint32_t una,
                    uint32_t nxt, unsigned cwnd)
{
    char line[512];
    snprintf(line, sizeof(line),
             "%llu,%s,ESTABLISHED,10.0.0.2:7,10.0.0.1:40000,%u,%u,%u,%u,%u,%s,%u,2000,"
             "1000,1000000,65535,0\n",
             (unsigned long long)time_us, ev, 1000 + una, 1000 + nxt, una, nxt, cwnd,
             cwnd ? "20000" : "", nxt - una);
    CHECK_EQ(plot_trace_add_line(t, line), 0);
}

static char *render(const struct plot_trace *t, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    int rc = plot_svg_write(t, "trace<&>.csv", f);
    fclose(f);
    if (rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- a small XML structure check -------------------------------------------- */

/* Every tag is closed in order, attributes are quoted, text has no bare
 * '<' or '&' other than entities, and there is exactly one root, <svg>. */
static bool xml_well_formed(const char *s, char *why, size_t len)
{
    char stack[32][16];
    int depth = 0, roots = 0;
    const char *p = s;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p)
            return snprintf(why, len, "unterminated declaration"), false;
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) &&
                strncmp(p, "&quot;", 6))
                return snprintf(why, len, "bare & at %ld", (long)(p - s)), false;
            p++;
            continue;
        }
        if (*p != '<') {
            if (depth == 0 && *p != '\n' && *p != ' ')
                return snprintf(why, len, "text outside the root"), false;
            p++;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t nlen = strcspn(name, " />\n");
        if (nlen == 0 || nlen >= sizeof(stack[0]))
            return snprintf(why, len, "bad tag name at %ld", (long)(p - s)), false;
        /* Find the end of the tag, honouring quotes. */
        const char *q = name + nlen;
        bool in_quote = false;
        for (; *q && (in_quote || *q != '>'); q++) {
            if (*q == '"')
                in_quote = !in_quote;
            else if (in_quote && *q == '<')
                return snprintf(why, len, "< inside an attribute"), false;
            else if (!in_quote && *q == '=' && q[1] != '"')
                return snprintf(why, len, "unquoted attribute at %ld", (long)(q - s)), false;
        }
        if (!*q)
            return snprintf(why, len, "unterminated tag"), false;
        bool self_closing = q[-1] == '/';
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], name, nlen) || stack[depth - 1][nlen])
                return snprintf(why, len, "mismatched </%.*s>", (int)nlen, name), false;
            depth--;
        } else if (!self_closing) {
            if (depth == 0)
                roots++;
            if (depth == 32)
                return snprintf(why, len, "too deep"), false;
            memcpy(stack[depth], name, nlen);
            stack[depth][nlen] = '\0';
            if (depth == 0 && strcmp(stack[0], "svg"))
                return snprintf(why, len, "root is <%s>", stack[0]), false;
            depth++;
        } else if (depth == 0) {
            return snprintf(why, len, "self-closing root"), false;
        }
        p = q + 1;
    }
    if (depth != 0)
        return snprintf(why, len, "%d tags left open", depth), false;
    if (roots != 1)
        return snprintf(why, len, "%d roots", roots), false;
    return true;
}

/* ---- coordinates ---------------------------------------------------------------- */

static bool in_box(double x, double y)
{
    return x >= 0 && x <= PLOT_W && y >= 0 && y <= PLOT_H;
}

/* Numbers of attribute `name` ("x1", "points", ...) everywhere in svg are
 * checked: for points, x,y pairs; for x-like or y-like attributes, one
 * coordinate. Returns how many values were checked, -1 on one outside. */
static long check_attr(const char *svg, const char *name, int kind /* 0 x, 1 y, 2 pairs */)
{
    char pat[16];
    snprintf(pat, sizeof(pat), " %s=\"", name);
    long n = 0;
    for (const char *p = strstr(svg, pat); p; p = strstr(p, pat)) {
        p += strlen(pat);
        char *end;
        if (kind < 2) {
            double v = strtod(p, &end);
            double lim = kind == 0 ? PLOT_W : PLOT_H;
            if (end == p || v < 0 || v > lim)
                return -1;
            n++;
            continue;
        }
        while (*p != '"') {
            double x = strtod(p, &end);
            if (end == p || *end != ',')
                return -1;
            double y = strtod(end + 1, &end);
            if (!in_box(x, y))
                return -1;
            n++;
            p = end;
            while (*p == ' ')
                p++;
        }
    }
    return n;
}

/* Absolute M/L pairs of every path's d attribute (relative moves are
 * checked through the absolute point they start from being inside). */
static long check_paths(const char *svg)
{
    long n = 0;
    for (const char *p = strstr(svg, " d=\""); p; p = strstr(p, " d=\"")) {
        p += 4;
        bool absolute = true;
        while (*p && *p != '"') {
            if (*p == 'M' || *p == 'L' || *p == 'm' || *p == 'l') {
                absolute = *p == 'M' || *p == 'L';
                p++;
                continue;
            }
            char *end;
            double x = strtod(p, &end);
            if (end == p) {
                p++;
                continue;
            }
            double y = strtod(end, &end);
            if (absolute && !in_box(x, y))
                return -1;
            n++;
            p = end;
        }
    }
    return n;
}

static void check_svg(const char *svg)
{
    char why[128] = "";
    bool ok = xml_well_formed(svg, why, sizeof(why));
    if (!ok)
        test_fail(__FILE__, __LINE__, "SVG not well formed: %s", why);
    CHECK(strstr(svg, "viewBox=\"0 0 960 760\"") != NULL);
    static const char *const xs[] = {"x", "x1", "x2", "cx"};
    static const char *const ys[] = {"y", "y1", "y2", "cy"};
    for (int i = 0; i < 4; i++) {
        CHECK(check_attr(svg, xs[i], 0) >= 0);
        CHECK(check_attr(svg, ys[i], 1) >= 0);
    }
    CHECK(check_attr(svg, "points", 2) >= 0);
    CHECK(check_paths(svg) >= 0);
}

/* ---- tests ------------------------------------------------------------------------ */

TEST(plot_svg_full_trace_is_well_formed_and_in_the_box)
{
    struct plot_trace t;
    plot_trace_init(&t);
    CHECK_EQ(plot_trace_add_line(&t, HEADER), 0);
    uint32_t una = 0, nxt = 1;
    for (int i = 0; i < 200; i++) {
        nxt += 1460;
        add_row(&t, 5000000 + (uint64_t)i * 1000, "send", una, nxt, 14600 + 100u * i);
        if (i % 50 == 49) {
            add_row(&t, 5000000 + (uint64_t)i * 1000 + 500, "timeout", una, nxt, 1460);
            add_row(&t, 5000000 + (uint64_t)i * 1000 + 500, "rtx", una, nxt, 1460);
        }
        una += 1460;
        add_row(&t, 5000000 + (uint64_t)i * 1000 + 900, "ack", una, nxt, 14600 + 100u * i);
    }
    CHECK_EQ(t.n, 200 * 2 + 8);
    CHECK_EQ(t.retransmissions, 4);
    CHECK_EQ(t.timeouts, 4);
    CHECK(t.has_cwnd);
    CHECK(!strcmp(t.local, "10.0.0.2:7"));
    CHECK(!strcmp(t.remote, "10.0.0.1:40000"));
    size_t len;
    char *svg = render(&t, &len);
    REQUIRE(svg);
    check_svg(svg);
    CHECK(strstr(svg, "10.0.0.2:7 \xe2\x86\x92 10.0.0.1:40000") != NULL);
    CHECK(strstr(svg, "trace&lt;&amp;&gt;.csv") != NULL); /* the name, escaped */
    CHECK(strstr(svg, "<polyline") != NULL);
    CHECK(strstr(svg, "4 retransmissions, 4 retransmission timeouts") != NULL);
    CHECK(strstr(svg, ">cwnd<") != NULL);
    free(svg);
    plot_trace_free(&t);
}

TEST(plot_svg_one_row)
{
    struct plot_trace t;
    plot_trace_init(&t);
    CHECK_EQ(plot_trace_add_line(&t, HEADER), 0);
    add_row(&t, 123, "state", 0, 1, 0);
    size_t len;
    char *svg = render(&t, &len);
    REQUIRE(svg);
    check_svg(svg);
    CHECK(strstr(svg, "1 rows over 0.000 s") != NULL);
    CHECK(strstr(svg, "cwnd (not reported)") != NULL);
    free(svg);
    plot_trace_free(&t);
}

TEST(plot_svg_empty_trace)
{
    struct plot_trace t;
    plot_trace_init(&t);
    FILE *f = fmemopen((void *)HEADER, strlen(HEADER), "r");
    REQUIRE(f);
    char err[128];
    CHECK_EQ(plot_trace_read(&t, f, err, sizeof(err)), 0);
    fclose(f);
    CHECK_EQ(t.n, 0);
    size_t len;
    char *svg = render(&t, &len);
    REQUIRE(svg);
    check_svg(svg);
    CHECK(strstr(svg, "no rows") != NULL);
    CHECK(strstr(svg, "<polyline") == NULL);
    free(svg);
    plot_trace_free(&t);
}

TEST(plot_trace_read_rejects_what_is_not_a_trace)
{
    struct plot_trace t;
    char err[128];
    static const char *const bad[] = {"", "hello,world\n1,2\n"};
    for (int i = 0; i < 2; i++) {
        plot_trace_init(&t);
        FILE *f = fmemopen((void *)bad[i], strlen(bad[i]) + 1, "r");
        REQUIRE(f);
        CHECK_EQ(plot_trace_read(&t, f, err, sizeof(err)), -1);
        fclose(f);
        plot_trace_free(&t);
    }
    /* Broken lines after a good header are skipped and counted. */
    plot_trace_init(&t);
    CHECK_EQ(plot_trace_add_line(&t, HEADER), 0);
    CHECK_EQ(plot_trace_add_line(&t, "1,2,3\n"), -1);
    CHECK_EQ(plot_trace_add_line(&t, "x,ack,ESTABLISHED,a,b,1,1,1,1,0,,0,0,0,0,0,0\n"), -1);
    CHECK_EQ(plot_trace_add_line(&t, "5,ack,ESTABLISHED,a,b,1,1,1,1,0,,0,0,0,0,0,0\n"), 0);
    CHECK_EQ(t.bad_lines, 2);
    CHECK_EQ(t.n, 1);
    plot_trace_free(&t);
}

TEST(plot_trace_unwraps_sequence_numbers_and_orders_time)
{
    struct plot_trace t;
    plot_trace_init(&t);
    CHECK_EQ(plot_trace_add_line(&t, "time_us,snd_una_rel,snd_nxt_rel,event\n"), 0);
    CHECK_EQ(plot_trace_add_line(&t, "1000,4294967000,4294967200,send\n"), 0);
    CHECK_EQ(plot_trace_add_line(&t, "2000,100,300,ack\n"), 0); /* past 2^32 */
    CHECK_EQ(plot_trace_add_line(&t, "1500,200,300,ack\n"), 0); /* time steps back */
    REQUIRE(t.n == 3);
    CHECK(t.rows[1].una == 4294967296.0 + 100);
    CHECK(t.rows[1].nxt == 4294967296.0 + 300);
    CHECK(t.rows[1].t_s == 0.001);
    CHECK(t.rows[2].t_s == t.rows[1].t_s);
    CHECK_EQ(t.rows[1].event, USTACK_TRACE_ACK);
    size_t len;
    char *svg = render(&t, &len);
    REQUIRE(svg);
    check_svg(svg);
    free(svg);
    plot_trace_free(&t);
}

TEST(plot_svg_thins_long_traces)
{
    struct plot_trace t;
    plot_trace_init(&t);
    CHECK_EQ(plot_trace_add_line(&t, HEADER), 0);
    for (uint32_t i = 0; i < 100000; i++)
        add_row(&t, i * 10ull, i % 1000 == 0 ? "rtx" : "ack", i * 100, i * 100 + 5000,
                10000 + (i * 7919) % 5000);
    size_t len;
    char *svg = render(&t, &len);
    REQUIRE(svg);
    check_svg(svg);
    /* Four points per pixel column at most, per series: far below one
     * point per row. */
    CHECK(len < 600 * 1024);
    free(svg);
    plot_trace_free(&t);
}

/* The checks above can fail: they catch what they are meant to. */
TEST(plot_svg_checks_catch_broken_documents)
{
    char why[128];
    CHECK(xml_well_formed("<svg><g></g></svg>", why, sizeof(why)));
    CHECK(!xml_well_formed("<svg><g></svg>", why, sizeof(why)));
    CHECK(!xml_well_formed("<svg x=1></svg>", why, sizeof(why)));
    CHECK(!xml_well_formed("<svg>a & b</svg>", why, sizeof(why)));
    CHECK(!xml_well_formed("<svg></svg><svg></svg>", why, sizeof(why)));
    CHECK(!xml_well_formed("<html></html>", why, sizeof(why)));
    CHECK(check_attr("<svg><line x1=\"961\"/></svg>", "x1", 0) < 0);
    CHECK(check_attr("<svg><polyline points=\"1,2 3,-4 \"/></svg>", "points", 2) < 0);
    CHECK(check_attr("<svg><polyline points=\"1,2 3,4 \"/></svg>", "points", 2) == 2);
    CHECK(check_paths("<svg><path d=\"M1 2L3 800\"/></svg>") < 0);
}
