/* Shared by c-tests/test_multiproc.c and its helper c-tests/helpers/mp_peer.c:
 * the deterministic data pattern and the hex coding of buffers sent through
 * the pipes between them.
 *
 * Pattern: the byte at offset `off` of object (shard, lo) written with `seed`
 * depends on all four, so a byte from another object, another offset or
 * another version never matches by luck. Seed 0 means "zeros" (never
 * written, punched, or not published). */
#ifndef DAOS_RS_MP_COMMON_H
#define DAOS_RS_MP_COMMON_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t mp_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t mp_key(uint64_t seed, uint64_t shard, uint64_t lo)
{
    return mp_mix64(mp_mix64(seed * 0x100000001b3ull + shard) ^ lo);
}

/* buf[0..len) = the pattern of [off, off + len) */
static inline void mp_fill(uint8_t *buf, uint64_t seed, uint64_t shard, uint64_t lo,
                           uint64_t off, size_t len)
{
    if (seed == 0) {
        for (size_t i = 0; i < len; i++) buf[i] = 0;
        return;
    }
    uint64_t key = mp_key(seed, shard, lo);
    for (size_t i = 0; i < len;) {
        uint64_t o = off + i;
        uint64_t w = mp_mix64(key ^ (o >> 3));
        for (unsigned b = (unsigned)(o & 7); b < 8 && i < len; b++, i++)
            buf[i] = (uint8_t)(w >> (8 * b));
    }
}

/* Number of bytes of buf[0..len) that differ from the pattern of
 * [off, off + len); *first gets the object offset of the first one. */
static inline uint64_t mp_mismatch(const uint8_t *buf, uint64_t seed, uint64_t shard,
                                   uint64_t lo, uint64_t off, size_t len, uint64_t *first)
{
    uint64_t bad = 0;
    uint64_t key = mp_key(seed, shard, lo);
    for (size_t i = 0; i < len;) {
        uint64_t o = off + i;
        uint64_t w = seed ? mp_mix64(key ^ (o >> 3)) : 0;
        for (unsigned b = (unsigned)(o & 7); b < 8 && i < len; b++, i++) {
            if (buf[i] != (uint8_t)(w >> (8 * b))) {
                if (bad == 0 && first) *first = off + i;
                bad++;
            }
        }
    }
    return bad;
}

static inline void mp_hex(char *out, const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

static inline int mp_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes `n` hex digits (n even) into out; returns the byte count or -1.
 * "-" is the empty buffer. */
static inline long mp_unhex(uint8_t *out, const char *s, size_t n)
{
    if (n == 1 && s[0] == '-') return 0;
    if (n % 2) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int h = mp_hexval(s[2 * i]), l = mp_hexval(s[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return (long)(n / 2);
}

/* the longest line either side sends (a hex-coded global buffer fits easily) */
#define MP_LINE_MAX (256 * 1024)

#endif
