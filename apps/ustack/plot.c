/*
 * `ustack plot TRACE.csv [-o OUT.svg]`: draw a connection trace (written by
 * --trace DIR) as an SVG picture (plot_svg.c). No stack is brought up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "plot_svg.h"

enum { KEY_OUTPUT = 'o' };

static const struct cli_option plot_options[] = {
    {"output", KEY_OUTPUT, "FILE", "write the SVG to FILE (default: TRACE with .svg; - stdout)"},
    {0, 0, 0, 0},
};

static const struct cli_command plot_command = {
    .name = "plot",
    .synopsis = "[-o OUT.svg] TRACE.csv",
    .description =
        "Draw a connection trace written by `--trace DIR` as an SVG picture with two\n"
        "graphs over the same time axis: the time-sequence graph (SND.UNA and SND.NXT\n"
        "relative to the ISS, retransmissions marked with a red x, retransmission\n"
        "timeouts as dashed red lines) and the windows (cwnd, ssthresh, bytes in\n"
        "flight, the peer's window). Open the SVG in any web browser.\n\n"
        "Example:\n"
        "  ustack serve --echo 7 --trace /tmp/traces\n"
        "  ustack plot /tmp/traces/10.0.0.2_7-10.0.0.1_40000-*.csv -o echo.svg",
    .options = plot_options,
    .min_operands = 1,
    .max_operands = 1,
};

static int plot_option(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    const char **output = ctx;
    if (key == KEY_OUTPUT) {
        *output = arg;
        return 0;
    }
    snprintf(err, errlen, "unhandled option %d", key);
    return -1;
}

/* TRACE.csv -> TRACE.svg (or TRACE + .svg). */
static char *default_output(const char *in)
{
    size_t n = strlen(in);
    if (n > 4 && !strcmp(in + n - 4, ".csv"))
        n -= 4;
    char *out = malloc(n + 5);
    if (out) {
        memcpy(out, in, n);
        memcpy(out + n, ".svg", 5);
    }
    return out;
}

/* The file name alone, for the picture's subtitle. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int write_svg(const struct plot_trace *t, const char *input, const char *output)
{
    bool to_stdout = !strcmp(output, "-");
    FILE *out = to_stdout ? stdout : fopen(output, "w");
    if (!out) {
        cli_error(plot_command.name, "%s: %s", output, strerror(errno));
        return 1;
    }
    int rc = plot_svg_write(t, base_name(input), out);
    if (!to_stdout && fclose(out) != 0)
        rc = -1;
    if (rc < 0) {
        cli_error(plot_command.name, "%s: write error", output);
        return 1;
    }
    return 0;
}

int cmd_plot(int argc, char **argv)
{
    const char *output = NULL;
    int first;
    int rc = cli_parse(&plot_command, argc, argv, NULL, plot_option, &output, &first);
    if (rc != CLI_PARSED)
        return rc == CLI_HELP_SHOWN ? 0 : 2;
    const char *input = argv[first];
    FILE *in = !strcmp(input, "-") ? stdin : fopen(input, "r");
    if (!in) {
        cli_error(plot_command.name, "%s: %s", input, strerror(errno));
        return 1;
    }
    struct plot_trace t;
    plot_trace_init(&t);
    char err[128];
    rc = plot_trace_read(&t, in, err, sizeof(err));
    if (in != stdin)
        fclose(in);
    if (rc < 0) {
        cli_error(plot_command.name, "%s: %s", input, err);
        plot_trace_free(&t);
        return 1;
    }
    if (t.bad_lines || t.ignored_rows)
        cli_error(plot_command.name, "%s: %zu lines not understood, %zu rows past the limit "
                  "of %d ignored", input, t.bad_lines, t.ignored_rows, PLOT_MAX_ROWS);
    char *def = output ? NULL : default_output(input);
    rc = (output || def) ? write_svg(&t, input, output ? output : def) : 1;
    if (rc == 0 && (output ? strcmp(output, "-") : 1))
        fprintf(stderr, "%s %s: %zu rows -> %s\n", CLI_PROG, plot_command.name, t.n,
                output ? output : def);
    free(def);
    plot_trace_free(&t);
    return rc;
}
