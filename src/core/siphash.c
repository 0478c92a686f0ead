/*
 * SipHash-2-4, written from the description in the SipHash paper (§2):
 * four 64-bit words of state initialised from the key and four constants;
 * each 8-byte little-endian message word m is absorbed as v3 ^= m, two
 * SipRounds, v0 ^= m; the last word carries the message length in its top
 * byte; finalisation is v2 ^= 0xff and four SipRounds; the output is
 * v0 ^ v1 ^ v2 ^ v3.
 */
#include "core/siphash.h"

static uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

struct sip_state {
    uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

/* Absorb one message word: the "2" in SipHash-2-4 is two rounds here. */
static void sip_compress(struct sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

struct siphash_key siphash_key_from_bytes(const uint8_t bytes[SIPHASH_KEY_LEN])
{
    struct siphash_key k = {load_le64(bytes), load_le64(bytes + 8)};
    return k;
}

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* The constants spell "somepseudorandomlygeneratedbytes". */
    struct sip_state s = {
        key->k0 ^ 0x736f6d6570736575ull,
        key->k1 ^ 0x646f72616e646f6dull,
        key->k0 ^ 0x6c7967656e657261ull,
        key->k1 ^ 0x7465646279746573ull,
    };
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8)
        sip_compress(&s, load_le64(p + i));

    /* Last word: the remaining 0..7 bytes, and len mod 256 on top. */
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)p[full + i] << (8 * i);
    sip_compress(&s, last);

    /* Finalisation: the "4" in SipHash-2-4. */
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
