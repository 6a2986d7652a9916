/*
 * fuzz_inflate.c — differential fuzz target for the PNG fast path's own DEFLATE decoder
 * (grt_inflate_exact, src/preprocess/png_inflate.c) against zlib.
 *
 * The decoder promises to be stricter than zlib, never looser: when it accepts a stream, zlib
 * accepts it too, the bytes are the same, it consumed the same input, and it filled exactly the
 * size it was asked for. We run zlib first (raw DEFLATE, up to 64 KiB out), then ask our decoder
 * for zlib's size and for one byte less and one more (both must be refused). When zlib rejects
 * the stream, the first two input bytes give the size we ask for, and our decoder must refuse.
 *
 * It checks decoding only; the PNG chunk walk and unfiltering around it are exercised through
 * fuzz_image.c.
 */
#include <zlib.h>

#include "fuzz_util.h"
#include "preprocess/preprocess.h"

#define MAX_OUT ((size_t)64 << 10)

static ptrdiff_t ours(const uint8_t *in, size_t n, size_t out_len, uint8_t **out) {
    *out = malloc(out_len ? out_len : 1);
    if (!*out) abort();
    return grt_inflate_exact(in, n, *out, out_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t ask = (size_t)data[0] | (size_t)data[1] << 8;
    const uint8_t *in = data + 2;
    size_t n = size - 2;

    uint8_t *ref = malloc(MAX_OUT);
    if (!ref) abort();
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) abort();
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = ref;
    zs.avail_out = (uInt)MAX_OUT;
    int zok = inflate(&zs, Z_FINISH) == Z_STREAM_END;
    size_t zn = zs.total_out, zin = zs.total_in;
    inflateEnd(&zs);

    uint8_t *out;
    ptrdiff_t used = ours(in, n, zok ? zn : ask, &out);
    if (used >= 0) {
        if (!zok) fuzz_fail("grt_inflate_exact accepted a stream zlib rejects", NULL);
        if (memcmp(out, ref, zn) != 0) fuzz_fail("grt_inflate_exact and zlib decode different bytes", NULL);
        if ((size_t)used != zin) fuzz_fail("grt_inflate_exact and zlib consumed different lengths", NULL);
    }
    free(out);
    if (zok) {
        /* Exactly the size, or nothing: one byte short overflows, one byte more is not filled. */
        if (zn > 0 && ours(in, n, zn - 1, &out) >= 0) fuzz_fail("accepted a stream longer than the output", NULL);
        if (zn > 0) free(out);
        if (ours(in, n, zn + 1, &out) >= 0) fuzz_fail("accepted a stream shorter than the output", NULL);
        free(out);
    }
    free(ref);
    return 0;
}
