/* test_pre_inflate.c — the fast path's DEFLATE decoder against zlib: every compression level
 * and strategy on random, zero, mask-like and text data of many sizes must decode identically;
 * on truncated and bit-flipped streams it may refuse (zlib then decides) but whenever it accepts,
 * zlib must accept the same stream with the same output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "test_util.h"
#include "preprocess/preprocess.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* zlib as the oracle: raw inflate that must fill out exactly; returns consumed bytes or -1 */
static long zlib_exact(const uint8_t *in, size_t n, uint8_t *out, size_t out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) return -1;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)out_len;
    int r = inflate(&zs, Z_FINISH);
    long used = (long)(n - zs.avail_in);
    inflateEnd(&zs);
    return r == Z_STREAM_END && zs.avail_out == 0 ? used : -1;
}

/* raw DEFLATE of src with a level and strategy */
static size_t deflate_raw(const uint8_t *src, size_t n, int level, int strategy, uint8_t *dst, size_t cap) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, strategy) != Z_OK) return 0;
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    int r = deflate(&zs, Z_FINISH);
    size_t out = cap - zs.avail_out;
    deflateEnd(&zs);
    return r == Z_STREAM_END ? out : 0;
}

int main(void) {
    const size_t sizes[] = {1, 2, 7, 100, 193 * 37, 40000, 70000, 200000};
    const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
    int cases = 0, fast_ok = 0, mutants = 0, mutants_taken = 0, disagree = 0;
    size_t cap = 300000;
    uint8_t *src = malloc(cap), *cmp = malloc(cap + 1024), *out = malloc(cap), *ref = malloc(cap), *mut = malloc(cap + 1024);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int kind = 0; kind < 4; kind++) {
            for (size_t i = 0; i < n; i++) {
                switch (kind) {
                case 0: src[i] = (uint8_t)rnd(); break;                                   /* random */
                case 1: src[i] = 0; break;                                                /* zeros */
                case 2: src[i] = (i % 193 == 0) ? 1 : ((i % 193) == 60 || (i % 193) == 90) ? 255 : 0; break; /* Sub-filtered mask */
                default: src[i] = "the quick brown fox jumps over the lazy dog "[i % 44]; break; /* text */
                }
            }
            for (int level = 0; level <= 9; level++) {
                for (size_t st = 0; st < sizeof strategies / sizeof strategies[0]; st++) {
                    size_t m = deflate_raw(src, n, level, strategies[st], cmp, cap + 1024);
                    if (!m) {
                        CHECK_MSG(0, "deflate failed");
                        continue;
                    }
                    cases++;
                    ptrdiff_t used = grt_inflate_exact(cmp, m, out, n);
                    if (used == (ptrdiff_t)m && !memcmp(out, src, n)) fast_ok++;
                    else CHECK_MSG(0, "size %zu kind %d level %d strategy %zu: not decoded (%td of %zu)", n, kind, level, st, used, m);
                    /* damaged copies: truncations and bit flips */
                    for (int k = 0; k < (n < 1000 ? 40 : 8); k++) {
                        size_t mlen = m;
                        memcpy(mut, cmp, m);
                        if (k % 4 == 0) mlen = rnd() % m;
                        else
                            for (int f = 0; f < 1 + k % 3; f++) mut[rnd() % m] ^= (uint8_t)(1u << (rnd() % 8));
                        mutants++;
                        ptrdiff_t u1 = grt_inflate_exact(mut, mlen, out, n);
                        if (u1 < 0) continue;
                        mutants_taken++;
                        long u2 = zlib_exact(mut, mlen, ref, n);
                        if (u2 != (long)u1 || memcmp(out, ref, n)) {
                            disagree++;
                            CHECK_MSG(0, "accepted a damaged stream differently from zlib (size %zu, used %td vs %ld)", n, u1, u2);
                        }
                    }
                }
            }
        }
    }
    /* a stream that does not fill the buffer, and one that overflows it */
    size_t m = deflate_raw(src, 1000, 6, Z_DEFAULT_STRATEGY, cmp, cap);
    CHECK(grt_inflate_exact(cmp, m, out, 999) < 0);
    CHECK(grt_inflate_exact(cmp, m, out, 1001) < 0);
    CHECK(grt_inflate_exact(cmp, 0, out, 10) < 0);
    printf("%d streams: %d decoded exactly; %d damaged streams, %d accepted (all as zlib does: %d disagreements)\n", cases, fast_ok,
           mutants, mutants_taken, disagree);
    free(src);
    free(cmp);
    free(out);
    free(ref);
    free(mut);
    return grt_test_finish("test_pre_inflate");
}
