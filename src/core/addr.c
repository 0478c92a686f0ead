/*
 * Parsing and printing dotted-quad IPv4 addresses, strictly: exactly four
 * decimal parts 0..255, no leading '+', no trailing junk.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ustack/ustack.h"

static const char *parse_part(const char *s, unsigned *out)
{
    unsigned v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 4) {
        v = v * 10 + (unsigned)(*s - '0');
        s++;
        digits++;
    }
    if (digits == 0 || digits > 3 || v > 255)
        return NULL;
    *out = v;
    return s;
}

static const char *parse_quad(const char *s, uint32_t *addr)
{
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        unsigned part;
        s = parse_part(s, &part);
        if (!s)
            return NULL;
        a = a << 8 | part;
        if (i < 3 && *s++ != '.')
            return NULL;
    }
    *addr = a;
    return s;
}

int ustack_parse_ipv4(const char *s, uint32_t *addr)
{
    s = parse_quad(s, addr);
    return (s && *s == '\0') ? 0 : -1;
}

int ustack_parse_cidr(const char *s, uint32_t *addr, unsigned *prefix_len)
{
    s = parse_quad(s, addr);
    if (!s || *s != '/')
        return -1;
    unsigned len;
    s = parse_part(s + 1, &len);
    if (!s || *s != '\0' || len > 32)
        return -1;
    *prefix_len = len;
    return 0;
}

char *ustack_format_ipv4(uint32_t a, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}
