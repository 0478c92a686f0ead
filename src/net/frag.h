/*
 * IPv4 reassembly (RFC 791 §3.2, RFC 815, RFC 1122 §3.3.2).
 */
#ifndef USTACK_NET_FRAG_H
#define USTACK_NET_FRAG_H

#include <stddef.h>
#include <stdint.h>

struct ustack;
struct ustack_reasm_config;
struct ip4_rx;

/* Reassembly memory is handed out in blocks of this many bytes. */
#define FRAG_BLOCK 1024

/* Replace zero fields with their defaults and clamp the rest. */
void frag_config_defaults(struct ustack_reasm_config *c);

/* Allocate the reassembly table and memory. 0 or -ENOMEM. */
int frag_init(struct ustack *st);
void frag_destroy(struct ustack *st);

/* A validated fragment for us (MF set or a non-zero offset). Holds its
 * data; when the datagram is complete, delivers it with ip4_deliver(). */
void frag_input(struct ustack *st, const struct ip4_rx *rx);

/* Free datagrams whose time is up (with an ICMP time exceeded when
 * fragment zero arrived). Returns the next deadline or USTACK_NEVER. */
uint64_t frag_timer(struct ustack *st, uint64_t now);

/* Bytes of reassembly memory in use (whole blocks), and incomplete
 * datagrams held: for tests and diagnostics. */
size_t frag_bytes_held(const struct ustack *st);
unsigned frag_datagrams_held(const struct ustack *st);

#endif
