/*
 * png_inflate.c — a small, strict DEFLATE decoder (RFC 1951) for the grey-PNG fast path.
 *
 * Why: silhouette PNGs are a kilobyte of DEFLATE that expands to tens of kilobytes, almost all
 * of it long runs of zero bytes (row differences of a mask). zlib copies such matches a few
 * bytes at a time and was the largest single cost of the whole pretreatment; here a run with
 * distance 1 is a memset and a non-overlapping match a memcpy.
 *
 * What it is not: a general inflater. It decodes into a buffer of known size that it must fill
 * exactly, and it refuses — returns -1 — at the first thing it is not sure zlib would accept in
 * the same way: over-subscribed or incomplete Huffman codes (zlib accepts a few incomplete
 * ones), too many code lengths, a missing end-of-block code, invalid symbols, distances before
 * the start of the output, reading past the input, output overflow, a bad stored-block length.
 * The caller then hands the file to zlib/libspng, which decode it or report the error. So this
 * decoder never accepts a stream zlib rejects, and where it accepts one the output is defined by
 * the format. test_pre_decode compares it with libspng on real and corrupted files.
 */
#include <string.h>

#include "preprocess.h"

#define FAST_BITS 10
#define FAST_SIZE (1 << FAST_BITS)

typedef struct huff {
    uint16_t fast[FAST_SIZE]; /* (symbol << 4) | length for codes up to FAST_BITS; 0: longer */
    uint16_t count[16];       /* codes per length */
    uint16_t sym[320];        /* symbols ordered by (length, value) */
} huff;

typedef struct bitrd {
    const uint8_t *p, *start, *end;
    uint64_t bits;
    int n;       /* valid bits in `bits` */
    int padded;  /* zero bytes added past the end */
} bitrd;

static inline void refill(bitrd *b) {
    if (b->end - b->p >= 8) {
        uint64_t v;
        memcpy(&v, b->p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        b->bits |= v << b->n;
        b->p += (63 - b->n) >> 3;
        b->n |= 56;
        return;
    }
    while (b->n <= 56) {
        uint64_t byte = 0;
        if (b->p < b->end)
            byte = *b->p++;
        else
            b->padded++;
        b->bits |= byte << b->n;
        b->n += 8;
    }
}

static inline uint32_t getbits(bitrd *b, int k) {
    uint32_t v = (uint32_t)(b->bits & ((1ull << k) - 1));
    b->bits >>= k;
    b->n -= k;
    return v;
}

/* Input bytes consumed so far (a partly used byte counts), or -1 past the real input. */
static ptrdiff_t consumed(const bitrd *b) {
    ptrdiff_t real_in_buf = (ptrdiff_t)(b->n / 8) - b->padded;
    if (real_in_buf < 0) return -1;
    return (b->p - b->start) - real_in_buf;
}

static int build(huff *h, const uint8_t *len, int n) {
    memset(h->count, 0, sizeof h->count);
    for (int i = 0; i < n; i++) h->count[len[i]]++;
    h->count[0] = 0;
    int left = 1;
    for (int l = 1; l < 16; l++) {
        left <<= 1;
        left -= h->count[l];
        if (left < 0) return -1; /* over-subscribed */
    }
    if (left > 0) return -1; /* incomplete: zlib allows some of these; let zlib decide */
    uint16_t offs[16];
    offs[1] = 0;
    for (int l = 1; l < 15; l++) offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
    for (int i = 0; i < n; i++)
        if (len[i]) h->sym[offs[len[i]]++] = (uint16_t)i;
    /* fast table: canonical codes, bit-reversed because DEFLATE sends them most significant
     * bit first into a least-significant-bit-first stream */
    memset(h->fast, 0, sizeof h->fast);
    int code = 0, k = 0;
    for (int l = 1; l < 16; l++) {
        for (int c = 0; c < h->count[l]; c++, k++, code++) {
            if (l > FAST_BITS) continue;
            int rev = 0;
            for (int i = 0; i < l; i++) rev |= ((code >> i) & 1) << (l - 1 - i);
            for (int fill = rev; fill < FAST_SIZE; fill += 1 << l) h->fast[fill] = (uint16_t)(h->sym[k] << 4 | l);
        }
        code <<= 1;
    }
    return 0;
}

/* Needs >= 15 valid bits in b. */
static inline int decode(bitrd *b, const huff *h) {
    uint16_t e = h->fast[b->bits & (FAST_SIZE - 1)];
    if (e) {
        getbits(b, e & 15);
        return e >> 4;
    }
    /* codes longer than FAST_BITS: canonical decoding one bit at a time */
    int code = 0, first = 0, index = 0;
    for (int l = 1; l < 16; l++) {
        code |= (int)getbits(b, 1);
        int cnt = h->count[l];
        if (code - cnt < first) return h->sym[index + (code - first)];
        index += cnt;
        first += cnt;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                       193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static int codes(bitrd *b, const huff *lit, const huff *dist, uint8_t *out, size_t *o, size_t out_len) {
    for (;;) {
        refill(b);
        int sym = decode(b, lit);
        if (sym < 0) return -1;
        if (sym < 256) {
            if (*o >= out_len) return -1;
            out[(*o)++] = (uint8_t)sym;
            continue;
        }
        if (sym == 256) return 0;
        sym -= 257;
        if (sym >= 29) return -1;
        size_t len = len_base[sym] + getbits(b, len_extra[sym]);
        int ds = decode(b, dist);
        if (ds < 0 || ds >= 30) return -1;
        size_t d = dist_base[ds] + getbits(b, dist_extra[ds]);
        if (d > *o || len > out_len - *o) return -1;
        uint8_t *dst = out + *o;
        const uint8_t *src = dst - d;
        if (d == 1)
            memset(dst, src[0], len);
        else if (d >= len)
            memcpy(dst, src, len);
        else
            for (size_t i = 0; i < len; i++) dst[i] = src[i];
        *o += len;
    }
}

ptrdiff_t grt_inflate_exact(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len) {
    bitrd b = {in, in, in + in_len, 0, 0, 0};
    size_t o = 0;
    /* the two tables are large for the stack of a worker thread: keep them off it */
    huff *h = grt_malloc(2 * sizeof(huff));
    if (!h) return -1;
    huff *lit = &h[0], *dist = &h[1];
    int last;
    ptrdiff_t ret = -1;
    do {
        refill(&b);
        last = (int)getbits(&b, 1);
        int type = (int)getbits(&b, 2);
        if (type == 0) { /* stored: to the byte boundary, LEN, NLEN, raw bytes */
            getbits(&b, b.n & 7);
            ptrdiff_t pos = consumed(&b);
            if (pos < 0 || (size_t)pos + 4 > in_len) goto done;
            const uint8_t *q = in + pos;
            size_t len = (size_t)q[0] | (size_t)q[1] << 8, nlen = (size_t)q[2] | (size_t)q[3] << 8;
            if (len != (~nlen & 0xFFFF) || len > in_len - (size_t)pos - 4 || len > out_len - o) goto done;
            memcpy(out + o, q + 4, len);
            o += len;
            b.p = q + 4 + len;
            b.bits = 0;
            b.n = 0;
            b.padded = 0;
        } else if (type == 1) { /* fixed codes */
            uint8_t l[320];
            int i = 0;
            for (; i < 144; i++) l[i] = 8;
            for (; i < 256; i++) l[i] = 9;
            for (; i < 280; i++) l[i] = 7;
            for (; i < 288; i++) l[i] = 8;
            if (build(lit, l, 288)) goto done;
            for (i = 0; i < 30; i++) l[i] = 5;
            /* 30 five-bit codes are an incomplete set (32 slots); zlib builds 32 with the two
             * invalid distances. We do the same so the code is complete; 30/31 are refused. */
            l[30] = l[31] = 5;
            if (build(dist, l, 32)) goto done;
            if (codes(&b, lit, dist, out, &o, out_len)) goto done;
        } else if (type == 2) { /* dynamic codes */
            int nlen = (int)getbits(&b, 5) + 257, ndist = (int)getbits(&b, 5) + 1, ncode = (int)getbits(&b, 4) + 4;
            if (nlen > 286 || ndist > 30) goto done;
            static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
            uint8_t l[320];
            memset(l, 0, 19);
            refill(&b);
            for (int i = 0; i < ncode; i++) {
                if (b.n < 3) refill(&b);
                l[order[i]] = (uint8_t)getbits(&b, 3);
            }
            if (build(lit, l, 19)) goto done;
            int i = 0;
            while (i < nlen + ndist) {
                refill(&b);
                int sym = decode(&b, lit);
                if (sym < 0) goto done;
                if (sym < 16) {
                    l[i++] = (uint8_t)sym;
                    continue;
                }
                int rep;
                uint8_t v = 0;
                if (sym == 16) {
                    if (i == 0) goto done;
                    v = l[i - 1];
                    rep = 3 + (int)getbits(&b, 2);
                } else if (sym == 17) {
                    rep = 3 + (int)getbits(&b, 3);
                } else {
                    rep = 11 + (int)getbits(&b, 7);
                }
                if (i + rep > nlen + ndist) goto done;
                while (rep--) l[i++] = v;
            }
            if (l[256] == 0) goto done; /* no end-of-block code */
            if (build(lit, l, nlen) || build(dist, l + nlen, ndist)) goto done;
            if (codes(&b, lit, dist, out, &o, out_len)) goto done;
        } else {
            goto done;
        }
        if (consumed(&b) < 0) goto done;
    } while (!last);
    if (o == out_len) ret = consumed(&b);
done:
    grt_free(h);
    return ret;
}
