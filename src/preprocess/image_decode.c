/*
 * image_decode.c — PNG (libspng) and JPEG (TurboJPEG) files to 8-bit grey, the way
 * cv2.imread(path, cv2.IMREAD_GRAYSCALE) returns them in OpenCV 4.6.
 *
 * OpenCV does not convert colour to grey itself for these formats: it asks the codec library.
 * For PNG that is libpng's rgb_to_gray with coefficients 0.299 / 0.587 turned into 15-bit
 * fixed point (9797, 19234, 3737), truncating for 8-bit samples, rounding for 16-bit ones, and
 * going through libpng's gamma tables when the file declares a gamma (gAMA or sRGB). 16-bit
 * samples are reduced by keeping the high byte (png_set_strip_16); alpha is dropped without
 * compositing; palettes are expanded first. For JPEG libjpeg delivers luma directly (YCbCr ->
 * Y, RGB -> its own integer formula), and CMYK goes through OpenCV's integer CMYK -> grey.
 * Finally OpenCV applies the EXIF orientation (JPEG APP1; PNG eXIf, the one before the image
 * data first). We decode the raw samples with libspng and TurboJPEG and redo each of these
 * steps; plain 8-bit grey PNGs — silhouette frames — take a faster path of our own (chunk walk,
 * png_inflate.c, unfiltering) that hands anything unusual back to libspng.
 *
 * Not here: other formats (OpenCV reads BMP, TIFF, WebP... — we say so in the error), 16-bit
 * colour PNGs with a gamma chunk (we convert them without libpng's 16-bit gamma tables), and
 * truncated JPEGs, which libjpeg patches with grey and OpenCV accepts: we refuse them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

#ifdef GAITRT_HAVE_SPNG
#include <spng.h>
#include <zlib.h>
#endif
#ifdef GAITRT_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

grt_img_limits grt_img_default_limits(void) {
    grt_img_limits l;
    l.max_width = GRT_IMG_MAX_DIM;
    l.max_height = GRT_IMG_MAX_DIM;
    l.max_pixels = GRT_IMG_MAX_PIXELS;
    l.max_file_bytes = GRT_IMG_MAX_FILE_BYTES;
    return l;
}

void grt__pre_zs_destroy(void *zs) {
#ifdef GAITRT_HAVE_SPNG
    if (zs) {
        inflateEnd((z_stream *)zs);
        grt_free(zs);
    }
#else
    (void)zs;
#endif
}

void grt__pre_tj_destroy(void *tj) {
#ifdef GAITRT_HAVE_TURBOJPEG
    if (tj) tjDestroy((tjhandle)tj);
#else
    (void)tj;
#endif
}

static grt_status check_dims(const char *name, uint32_t w, uint32_t h, const grt_img_limits *lim) {
    if (w == 0 || h == 0) return grt_error(GAITRT_ERR_FORMAT, "%s: image has no pixels (%ux%u)", name, w, h);
    if (w > lim->max_width || h > lim->max_height || (uint64_t)w * h > lim->max_pixels)
        return grt_error(GAITRT_ERR_LIMIT,
                         "%s: image of %ux%u pixels exceeds the limit (%ux%u, %llu pixels) ---> HINT: silhouette frames are small; "
                         "is this the right file?",
                         name, w, h, lim->max_width, lim->max_height, (unsigned long long)lim->max_pixels);
    return GRT_OK;
}

/* ---- EXIF orientation, read the way OpenCV's ExifReader reads it ------------------------- */

typedef struct exif_rd {
    const uint8_t *d;
    size_t n;
    int le;
    int bad; /* a read went past the end: OpenCV stops parsing there (keeping what it found) */
} exif_rd;

static uint32_t ex_u16(exif_rd *r, size_t off) {
    if (r->bad || off + 1 >= r->n) {
        r->bad = 1;
        return 0;
    }
    return r->le ? (uint32_t)r->d[off] | (uint32_t)r->d[off + 1] << 8 : (uint32_t)r->d[off] << 8 | r->d[off + 1];
}

static uint32_t ex_u32(exif_rd *r, size_t off) {
    if (r->bad || off + 3 >= r->n) {
        r->bad = 1;
        return 0;
    }
    const uint8_t *p = r->d + off;
    return r->le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                 : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Orientation 1..8 from a TIFF header + IFD0, 0 when absent. Tags OpenCV knows are read as it
 * reads them, because a failing read of any of them ends the scan. */
static int exif_orientation(const uint8_t *d, size_t n) {
    if (!d || n == 0) return 0;
    exif_rd r = {d, n, 0, 0};
    r.le = n > 1 && d[0] == 'I' && d[1] == 'I';
    if (ex_u16(&r, 2) != 0x2A || r.bad) return 0;
    size_t off = ex_u32(&r, 4);
    uint32_t count = ex_u16(&r, off);
    if (r.bad) return 0;
    off += 2;
    int orient = 0, have = 0;
    for (uint32_t e = 0; e < count && !r.bad; e++, off += 12) {
        uint32_t tag = ex_u16(&r, off);
        if (r.bad) break;
        switch (tag) {
        case 0x010E: case 0x010F: case 0x0110: case 0x0131: case 0x0132: case 0x8298: { /* strings */
            uint32_t size = ex_u32(&r, off + 4);
            uint64_t at = 8;
            if (size > 4) at = ex_u32(&r, off + 8);
            if (!r.bad && (at > n || at + size > n)) r.bad = 1;
            break;
        }
        case 0x0112: { /* orientation */
            uint32_t v = ex_u16(&r, off + 8);
            if (!r.bad && !have) {
                orient = (int)v;
                have = 1;
            }
            break;
        }
        case 0x011A: case 0x011B: case 0x013E: case 0x013F: case 0x0211: case 0x0214: { /* rationals */
            int k = tag == 0x013E ? 2 : (tag == 0x013F || tag == 0x0214) ? 6 : tag == 0x0211 ? 3 : 1;
            uint32_t at = ex_u32(&r, off + 8);
            for (int i = 0; i < k && !r.bad; i++) {
                ex_u32(&r, (size_t)at + 8u * i);
                ex_u32(&r, (size_t)at + 8u * i + 4);
            }
            break;
        }
        case 0x0128: case 0x0213:
            ex_u16(&r, off + 8);
            break;
        default:
            break;
        }
    }
    return orient >= 1 && orient <= 8 ? orient : 0;
}

/* Applies orientation o (OpenCV's ApplyExifOrientation) from src (w x h) into dst; the new size
 * is returned through w and h (5..8 transpose). */
static void apply_orientation(int o, const uint8_t *src, int *w, int *h, uint8_t *dst) {
    int W = *w, H = *h;
    int tr = o >= 5;
    int ow = tr ? H : W, oh = tr ? W : H;
    /* flips after the (optional) transpose: 2 horizontal, 3 both, 4 vertical; 6 h, 7 both, 8 v */
    int fx = o == 2 || o == 3 || o == 6 || o == 7;
    int fy = o == 3 || o == 4 || o == 7 || o == 8;
    for (int y = 0; y < oh; y++) {
        int ty = fy ? oh - 1 - y : y;
        for (int x = 0; x < ow; x++) {
            int tx = fx ? ow - 1 - x : x;
            /* (tx, ty) in the transposed-or-not image */
            dst[(size_t)y * ow + x] = tr ? src[(size_t)tx * W + ty] : src[(size_t)ty * W + tx];
        }
    }
    *w = ow;
    *h = oh;
}

static grt_status finish_orientation(int orient, grt_pre_work *wk, const uint8_t *img, int w, int h, const char *name,
                                     grt_gray *out) {
    if (orient <= 1) {
        out->width = w;
        out->height = h;
        out->data = img;
        return GRT_OK;
    }
    uint8_t *dst = grt_buf_reserve(&wk->image2, (size_t)w * h);
    if (!dst) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
    apply_orientation(orient, img, &w, &h, dst);
    out->width = w;
    out->height = h;
    out->data = dst;
    return GRT_OK;
}

/* ---- PNG ------------------------------------------------------------------------------------ */

#ifdef GAITRT_HAVE_SPNG

static void *sp_malloc(size_t n) { return grt_malloc(n); }
static void *sp_realloc(void *p, size_t n) { return grt_realloc(p, n); }
static void *sp_calloc(size_t c, size_t n) { return grt_calloc(c, n); }
static void sp_free(void *p) { grt_free(p); }

/* ---- the fast path: plain 8-bit grey PNGs ----

   Silhouette frames are 8-bit grey, non-interlaced PNGs, usually with every row Sub-filtered.
   libspng decodes them a row at a time (zlib then works with 200-byte outputs, below its fast
   loop) and unfilters byte by byte; that made decoding two thirds of our pretreatment time. For
   exactly this kind of file we walk the chunks ourselves (checking every CRC), inflate all the
   image data in one call and unfilter each row in a tight loop. Anything else — another colour
   type or depth, interlacing, a critical chunk other than IHDR/IDAT/IEND, IDATs that are not
   contiguous, a zlib stream that is not exactly the image size, a bad critical CRC — is left to
   libspng, which decodes it or produces the error message. test_pre_decode checks both paths
   give the same pixels, on every prefix and on random corruptions of real files. */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    return grt_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    grt_free(p);
}

static inline int is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* Walks the chunks after IHDR. copy: gather the IDAT data into z. Returns 0 when the file is not
 * one the fast path takes (libspng then decides). */
static int walk_chunks(const uint8_t *b, size_t n, uint8_t *z, size_t *zlen, const uint8_t **exif, size_t *exif_len) {
    size_t i = 33, total = 0;
    int seen_idat = 0, after_idat = 0;
    const uint8_t *ex_pre = NULL, *ex_post = NULL;
    size_t ex_pre_len = 0, ex_post_len = 0;
    while (i + 12 <= n) {
        uint32_t len = be32(b + i);
        if (len > 0x7FFFFFFFu || len > n - i - 12) return 0;
        const uint8_t *type = b + i + 4, *data = b + i + 8;
        if (!is_letter(type[0]) || !is_letter(type[1]) || !is_letter(type[2]) || !is_letter(type[3])) return 0;
        int critical = !(type[0] & 0x20);
        if ((uint32_t)crc32(0L, type, 4 + len) != be32(data + len)) {
            if (critical) return 0;
            i += 12 + (size_t)len; /* as libpng: an ancillary chunk with a bad CRC is dropped */
            continue;
        }
        if (!memcmp(type, "IDAT", 4)) {
            if (after_idat) return 0;
            seen_idat = 1;
            if (z) memcpy(z + total, data, len);
            total += len;
        } else {
            if (seen_idat) after_idat = 1;
            if (!memcmp(type, "IEND", 4)) {
                if (!seen_idat || len != 0) return 0;
                *zlen = total;
                /* the first eXIf before the image data wins, else the first after it */
                *exif = ex_pre ? ex_pre : ex_post;
                *exif_len = ex_pre ? ex_pre_len : ex_post_len;
                return 1;
            }
            if (critical) return 0; /* PLTE in a grey image, a second IHDR, unknown critical chunks */
            if (!memcmp(type, "eXIf", 4) && len >= 2 && data[0] == data[1] && (data[0] == 'I' || data[0] == 'M')) {
                if (!seen_idat && !ex_pre) ex_pre = data, ex_pre_len = len;
                if (seen_idat && !ex_post) ex_post = data, ex_post_len = len;
            }
        }
        i += 12 + (size_t)len;
    }
    return 0; /* no IEND: truncated */
}

/* Adler-32 as zlib defines it. Filtered mask rows are mostly zero bytes, which leave s1 alone
 * and add s1 to s2 each: we take those eight at a time. */
static uint32_t adler32_fast(const uint8_t *p, size_t n) {
    const uint64_t MOD = 65521;
    uint64_t s1 = 1, s2 = 0;
    size_t i = 0;
    while (i < n) {
        size_t end = n - i > 4096 ? i + 4096 : n; /* reduce often enough that nothing overflows */
        while (i < end) {
            uint64_t v;
            if (i + 8 <= end && (memcpy(&v, p + i, 8), v == 0)) {
                s2 += 8 * s1;
                i += 8;
                continue;
            }
            s1 += p[i++];
            s2 += s1;
        }
        s1 %= MOD;
        s2 %= MOD;
    }
    return (uint32_t)(s2 << 16 | s1);
}

static inline uint8_t paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* The same DEFLATE stream through zlib (raw mode; the caller checks header and Adler-32).
 * Returns 1 when out was filled exactly; 0 otherwise, with *st set only for out-of-memory. */
static int png_zlib_inflate(grt_pre_work *wk, const uint8_t *z, size_t zlen, uint8_t *out, size_t out_len, const char *name,
                            grt_status *st) {
    *st = GRT_OK;
    z_stream *zs = wk->zs;
    if (!zs) {
        zs = grt_calloc(1, sizeof *zs);
        if (!zs) {
            *st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
            return 0;
        }
        zs->zalloc = z_alloc;
        zs->zfree = z_free;
        if (inflateInit2(zs, -15) != Z_OK) {
            grt_free(zs);
            *st = grt_error(GAITRT_ERR_NOMEM, "%s: cannot start zlib", name);
            return 0;
        }
        wk->zs = zs;
    } else if (inflateReset(zs) != Z_OK) {
        return 0;
    }
    zs->next_in = (Bytef *)(z + 2);
    zs->avail_in = (uInt)(zlen - 2);
    zs->next_out = out;
    zs->avail_out = (uInt)out_len;
    return inflate(zs, Z_FINISH) == Z_STREAM_END && zs->avail_out == 0 && zs->avail_in == 4;
}

/* Returns 1 when it decoded the file or found an error it reports itself (*st), 0 otherwise. */
static int png_fast_grey8(const uint8_t *b, size_t n, const char *name, const grt_img_limits *lim, grt_pre_work *wk,
                          grt_gray *out, grt_status *st) {
    if (n < 8 + 25 || wk->png_no_fast) return 0;
    const uint8_t *ih = b + 8;
    if (be32(ih) != 13 || memcmp(ih + 4, "IHDR", 4)) return 0;
    uint32_t W = be32(ih + 8), H = be32(ih + 12);
    /* depth 8, colour type 0 (grey), compression 0, filter 0, no interlace */
    if (ih[16] != 8 || ih[17] != 0 || ih[18] != 0 || ih[19] != 0 || ih[20] != 0) return 0;
    if ((uint32_t)crc32(0L, ih + 4, 17) != be32(ih + 21)) return 0;
    if (W == 0 || H == 0 || W > 0x7FFFFFFFu || H > 0x7FFFFFFFu) return 0;
    if ((*st = check_dims(name, W, H, lim))) return 1;
    size_t zlen = 0, exif_len = 0;
    const uint8_t *exif = NULL;
    if (!walk_chunks(b, n, NULL, &zlen, &exif, &exif_len)) return 0;
    size_t rowb = (size_t)W + 1, raw_n = rowb * H;
    if (zlen > 0xFFFFFFFFu || raw_n > 0xFFFFFFFFu) return 0;
    uint8_t *z = grt_buf_reserve(&wk->raw, zlen);
    uint8_t *fr = grt_buf_reserve(&wk->image2, raw_n);
    uint8_t *img = grt_buf_reserve(&wk->image, (size_t)W * H);
    if (!z || !fr || !img) {
        *st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory for a %ux%u image", name, W, H);
        return 1;
    }
    walk_chunks(b, n, z, &zlen, &exif, &exif_len);
    /* zlib header: deflate, window <= 32K, no preset dictionary, check bits right */
    if (zlen < 2 + 4 || (z[0] & 0x0F) != 8 || (z[0] >> 4) > 7 || (z[1] & 0x20) || ((unsigned)z[0] << 8 | z[1]) % 31) return 0;
    ptrdiff_t used = grt_inflate_exact(z + 2, zlen - 2, fr, raw_n);
    if (used < 0 || (size_t)used != zlen - 2 - 4) {
        /* not a stream our decoder takes: zlib's turn */
        if (!png_zlib_inflate(wk, z, zlen, fr, raw_n, name, st)) return *st != GRT_OK;
    }
    if (be32(z + zlen - 4) != adler32_fast(fr, raw_n)) return 0;
    for (uint32_t y = 0; y < H; y++) {
        const uint8_t *s = fr + (size_t)y * rowb + 1;
        uint8_t *d = img + (size_t)y * W;
        const uint8_t *up = y ? d - W : NULL;
        switch (s[-1]) {
        case 0:
            memcpy(d, s, W);
            break;
        case 1: { /* Sub: a running sum; masks are long runs of zero differences, 8 at a time */
            uint8_t a = 0;
            uint32_t x = 0;
            while (x < W) {
                uint64_t v;
                if (x + 8 <= W && (memcpy(&v, s + x, 8), v == 0)) {
                    memset(d + x, a, 8);
                    x += 8;
                    continue;
                }
                d[x] = a = (uint8_t)(s[x] + a);
                x++;
            }
            break;
        }
        case 2: /* Up */
            if (up)
                for (uint32_t x = 0; x < W; x++) d[x] = (uint8_t)(s[x] + up[x]);
            else
                memcpy(d, s, W);
            break;
        case 3: { /* Average */
            int a = 0;
            for (uint32_t x = 0; x < W; x++) d[x] = (uint8_t)(a = (uint8_t)(s[x] + ((a + (up ? up[x] : 0)) >> 1)));
            break;
        }
        case 4: { /* Paeth */
            int a = 0, c = 0;
            for (uint32_t x = 0; x < W; x++) {
                int bb = up ? up[x] : 0;
                d[x] = (uint8_t)(s[x] + paeth(a, bb, c));
                a = d[x];
                c = bb;
            }
            break;
        }
        default:
            return 0; /* invalid filter type: libspng reports it */
        }
    }
    *st = finish_orientation(exif ? exif_orientation(exif, exif_len) : 0, wk, img, (int)W, (int)H, name, out);
    return 1;
}

/* libpng's 8-bit gamma table (png_build_8bit_table + png_gamma_8bit_correct), gamma in units
 * of 1e-5 as libpng keeps it. */
static void png_gamma_table(int32_t g, uint8_t t[256]) {
    int significant = g < 95000 || g > 105000;
    for (int i = 0; i < 256; i++) {
        if (significant && i > 0 && i < 255)
            t[i] = (uint8_t)floor(255 * pow(i / 255., g * .00001) + .5);
        else
            t[i] = (uint8_t)i;
    }
}

static int32_t png_reciprocal(int32_t a) {
    double r = floor(1E10 / a + .5);
    return (r <= 2147483647. && r >= -2147483648.) ? (int32_t)r : 0;
}

/* The rgb_to_gray weights libpng derives from png_set_rgb_to_gray(png_ptr, 1, 0.299, 0.587). */
enum { RC = 9797, GC = 19234, BC = 32768 - 9797 - 19234 };

typedef struct png_gamma {
    int on;
    uint8_t to1[256], from1[256];
} png_gamma;

static inline uint8_t rgb8_to_grey(unsigned r, unsigned g, unsigned b, const png_gamma *gm) {
    if (r == g && r == b) return (uint8_t)r;
    if (gm->on) return gm->from1[(RC * gm->to1[r] + GC * gm->to1[g] + BC * gm->to1[b] + 16384) >> 15];
    return (uint8_t)((RC * r + GC * g + BC * b) >> 15);
}

/* libspng accepts a file whose IEND chunk lacks its checksum; libpng (so OpenCV) does not. We
 * walk the chunk headers to the IEND and check that it is whole. */
static int png_iend_complete(const uint8_t *b, size_t n) {
    size_t i = 8;
    while (i + 8 <= n) {
        uint32_t len = (uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 | (uint32_t)b[i + 2] << 8 | b[i + 3];
        if (!memcmp(b + i + 4, "IEND", 4)) {
            static const uint8_t crc[4] = {0xAE, 0x42, 0x60, 0x82};
            return len == 0 && i + 12 <= n && !memcmp(b + i + 8, crc, 4);
        }
        if ((uint64_t)len + 12 > n - i) return 0;
        i += (size_t)len + 12;
    }
    return 0;
}

static grt_status spng_fail(const char *name, int err, const char *what) {
    grt_status st = GAITRT_ERR_FORMAT;
    if (err == SPNG_EMEM) st = GAITRT_ERR_NOMEM;
    else if (err == SPNG_EUSER_WIDTH || err == SPNG_EUSER_HEIGHT || err == SPNG_ECHUNK_LIMITS) st = GAITRT_ERR_LIMIT;
    const char *hint = "";
    if (err == SPNG_EOF || err == SPNG_EIDAT_STREAM || err == SPNG_EIDAT_TOO_SHORT || err == SPNG_EIO)
        hint = " ---> HINT: the file looks truncated; was it copied completely?";
    else if (err == SPNG_ECHUNK_CRC)
        hint = " ---> HINT: a checksum does not match; the file is corrupt";
    return grt_error(st, "%s: corrupt PNG (%s: %s)%s", name, what, spng_strerror(err), hint);
}

static grt_status decode_png(const uint8_t *buf, size_t len, const char *name, const grt_img_limits *lim,
                             grt_pre_work *wk, grt_gray *out) {
    grt_status fast_st;
    if (png_fast_grey8(buf, len, name, lim, wk, out, &fast_st)) return fast_st;
    struct spng_alloc al = {sp_malloc, sp_realloc, sp_calloc, sp_free};
    spng_ctx *ctx = spng_ctx_new2(&al, 0);
    if (!ctx) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory opening the PNG decoder", name);
    grt_status st = GRT_OK;
    int err;
    /* As libpng: a bad checksum fails critical chunks and drops ancillary ones. */
    spng_set_crc_action(ctx, SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
    spng_set_image_limits(ctx, lim->max_width, lim->max_height);
    spng_set_chunk_limits(ctx, (size_t)64 << 20, (size_t)128 << 20);
    if ((err = spng_set_png_buffer(ctx, buf, len))) {
        st = spng_fail(name, err, "buffer");
        goto done;
    }
    struct spng_ihdr ih;
    if ((err = spng_get_ihdr(ctx, &ih))) {
        st = spng_fail(name, err, "header");
        goto done;
    }
    if ((st = check_dims(name, ih.width, ih.height, lim))) goto done;
    int W = (int)ih.width, H = (int)ih.height;

    /* What OpenCV's decoder learns before the image data: gamma and EXIF. */
    int32_t file_gamma = 100000;
    uint8_t intent;
    uint32_t gama;
    if (spng_get_srgb(ctx, &intent) == 0)
        file_gamma = 45455; /* libpng: sRGB implies this gamma */
    else if (spng_get_gama_int(ctx, &gama) == 0 && gama >= 16 && gama <= 625000000)
        file_gamma = (int32_t)gama;
    struct spng_exif ex;
    int orient = 0, have_exif = 0;
    if (spng_get_exif(ctx, &ex) == 0) {
        have_exif = 1;
        orient = exif_orientation((const uint8_t *)ex.data, ex.length);
    }

    uint8_t *img = grt_buf_reserve(&wk->image, (size_t)W * H);
    if (!img) {
        st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory for a %dx%d image", name, W, H);
        goto done;
    }
    if (ih.color_type == SPNG_COLOR_TYPE_GRAYSCALE && ih.bit_depth == 8) {
        /* The common case (silhouette masks): decode straight into place. */
        if ((err = spng_decode_image(ctx, img, (size_t)W * H, SPNG_FMT_PNG, 0))) {
            st = spng_fail(name, err, "image data");
            goto done;
        }
    } else {
        size_t rawlen;
        if ((err = spng_decoded_image_size(ctx, SPNG_FMT_RAW, &rawlen))) {
            st = spng_fail(name, err, "image size");
            goto done;
        }
        uint8_t *raw = grt_buf_reserve(&wk->raw, rawlen);
        if (!raw) {
            st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory for a %dx%d image", name, W, H);
            goto done;
        }
        if ((err = spng_decode_image(ctx, raw, rawlen, SPNG_FMT_RAW, 0))) {
            st = spng_fail(name, err, "image data");
            goto done;
        }
        size_t stride = rawlen / (size_t)H;
        int depth = ih.bit_depth;
        png_gamma gm;
        gm.on = 0;
        if (depth <= 8 && (ih.color_type == SPNG_COLOR_TYPE_TRUECOLOR || ih.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ||
                           ih.color_type == SPNG_COLOR_TYPE_INDEXED)) {
            /* libpng builds gamma tables for rgb_to_gray when the file gamma (or its screen
             * gamma, the reciprocal) differs from 1 by more than 5 %. */
            int32_t screen = png_reciprocal(file_gamma);
            int sig = file_gamma < 95000 || file_gamma > 105000 || screen < 95000 || screen > 105000;
            if (sig) {
                gm.on = 1;
                png_gamma_table(png_reciprocal(file_gamma), gm.to1);
                png_gamma_table(png_reciprocal(screen), gm.from1);
            }
        }
        switch (ih.color_type) {
        case SPNG_COLOR_TYPE_GRAYSCALE:
        case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: {
            int ch = ih.color_type == SPNG_COLOR_TYPE_GRAYSCALE ? 1 : 2;
            for (int y = 0; y < H; y++) {
                const uint8_t *s = raw + (size_t)y * stride;
                uint8_t *d = img + (size_t)y * W;
                if (depth == 16) {
                    for (int x = 0; x < W; x++) d[x] = s[(size_t)x * 2 * ch]; /* high byte */
                } else if (depth == 8) {
                    for (int x = 0; x < W; x++) d[x] = s[(size_t)x * ch];
                } else {
                    /* 1/2/4-bit grey is expanded by replicating the bits (x255, x85, x17). */
                    int per = 8 / depth, mask = (1 << depth) - 1, mul = 255 / mask;
                    for (int x = 0; x < W; x++) {
                        int v = (s[x / per] >> (8 - depth * (x % per + 1))) & mask;
                        d[x] = (uint8_t)(v * mul);
                    }
                }
            }
            break;
        }
        case SPNG_COLOR_TYPE_TRUECOLOR:
        case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: {
            int ch = ih.color_type == SPNG_COLOR_TYPE_TRUECOLOR ? 3 : 4;
            for (int y = 0; y < H; y++) {
                const uint8_t *s = raw + (size_t)y * stride;
                uint8_t *d = img + (size_t)y * W;
                if (depth == 8) {
                    for (int x = 0; x < W; x++, s += ch) d[x] = rgb8_to_grey(s[0], s[1], s[2], &gm);
                } else {
                    for (int x = 0; x < W; x++, s += 2 * ch) {
                        uint32_t r = (uint32_t)s[0] << 8 | s[1], g = (uint32_t)s[2] << 8 | s[3], b = (uint32_t)s[4] << 8 | s[5];
                        uint32_t g16 = (RC * r + GC * g + BC * b + 16384) >> 15;
                        d[x] = (uint8_t)(g16 >> 8);
                    }
                }
            }
            break;
        }
        case SPNG_COLOR_TYPE_INDEXED: {
            struct spng_plte pl;
            memset(&pl, 0, sizeof pl);
            if ((err = spng_get_plte(ctx, &pl))) {
                st = spng_fail(name, err, "palette");
                goto done;
            }
            /* libpng keeps 256 entries; indices past the palette read as black. */
            uint8_t lut[256];
            for (int i = 0; i < 256; i++) {
                if ((uint32_t)i < pl.n_entries)
                    lut[i] = rgb8_to_grey(pl.entries[i].red, pl.entries[i].green, pl.entries[i].blue, &gm);
                else
                    lut[i] = 0;
            }
            int per = 8 / depth, mask = (1 << depth) - 1;
            for (int y = 0; y < H; y++) {
                const uint8_t *s = raw + (size_t)y * stride;
                uint8_t *d = img + (size_t)y * W;
                if (depth == 8)
                    for (int x = 0; x < W; x++) d[x] = lut[s[x]];
                else
                    for (int x = 0; x < W; x++) d[x] = lut[(s[x / per] >> (8 - depth * (x % per + 1))) & mask];
            }
            break;
        }
        default:
            st = grt_error(GAITRT_ERR_FORMAT, "%s: PNG colour type %d is not valid", name, ih.color_type);
            goto done;
        }
    }
    /* OpenCV reads on to IEND (png_read_end): a file cut after the image data is an error, and
     * an eXIf chunk after the image data counts when there was none before it. */
    if ((err = spng_decode_chunks(ctx))) {
        st = spng_fail(name, err, "chunks after the image data");
        goto done;
    }
    if (!png_iend_complete(buf, len)) {
        st = grt_error(GAITRT_ERR_FORMAT, "%s: truncated PNG (the end chunk is incomplete) ---> HINT: was the file copied completely?",
                       name);
        goto done;
    }
    if (!have_exif && spng_get_exif(ctx, &ex) == 0) orient = exif_orientation((const uint8_t *)ex.data, ex.length);
    st = finish_orientation(orient, wk, img, W, H, name, out);
done:
    spng_ctx_free(ctx);
    return st;
}

#endif /* GAITRT_HAVE_SPNG */

/* ---- JPEG ----------------------------------------------------------------------------------- */

#ifdef GAITRT_HAVE_TURBOJPEG

/* The first APP1 segment before the scan, as libjpeg saves it for OpenCV (which then skips six
 * bytes, "Exif\0\0", without checking them). */
static int jpeg_orientation(const uint8_t *b, size_t n) {
    size_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xFF) return 0;
        uint8_t m = b[i + 1];
        if (m == 0xFF) {
            i++;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            i += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9) return 0; /* start of scan / end: no APP1 before the data */
        size_t seg = (size_t)b[i + 2] << 8 | b[i + 3];
        if (seg < 2 || i + 2 + seg > n) return 0;
        if (m == 0xE1) {
            size_t plen = seg - 2;
            if (plen <= 6) return 0;
            return exif_orientation(b + i + 4 + 6, plen - 6);
        }
        i += 2 + seg;
    }
    return 0;
}

static grt_status decode_jpeg(const uint8_t *buf, size_t len, const char *name, const grt_img_limits *lim,
                              grt_pre_work *wk, grt_gray *out) {
    if (!wk->tj) {
        wk->tj = tjInitDecompress();
        if (!wk->tj) return grt_error(GAITRT_ERR_NOMEM, "%s: cannot start the JPEG decoder: %s", name, tjGetErrorStr2(NULL));
    }
    tjhandle tj = (tjhandle)wk->tj;
    int w, h, sub, cs;
    if (len > (size_t)0xFFFFFFFFu) return grt_error(GAITRT_ERR_LIMIT, "%s: JPEG larger than 4 GiB", name);
    if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &sub, &cs)) {
        grt_error(GAITRT_ERR_FORMAT, "%s: corrupt JPEG header (%s)", name, tjGetErrorStr2(tj));
        /* TurboJPEG leaves the decompressor mid-way after an error: start afresh next time. */
        tjDestroy(tj);
        wk->tj = NULL;
        return GAITRT_ERR_FORMAT;
    }
    if (w <= 0 || h <= 0) return grt_error(GAITRT_ERR_FORMAT, "%s: JPEG has no pixels (%dx%d)", name, w, h);
    grt_status st = check_dims(name, (uint32_t)w, (uint32_t)h, lim);
    if (st) return st;
    uint8_t *img = grt_buf_reserve(&wk->image, (size_t)w * h);
    if (!img) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory for a %dx%d image", name, w, h);
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    uint8_t *dst = img;
    if (cmyk) {
        dst = grt_buf_reserve(&wk->raw, (size_t)w * h * 4);
        if (!dst) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory for a %dx%d image", name, w, h);
    }
    /* Default flags: accurate integer IDCT and smooth chroma upsampling, as libjpeg defaults
     * (what OpenCV uses). A warning (e.g. premature end of data) makes this return -1. */
    if (tjDecompress2(tj, buf, (unsigned long)len, dst, w, 0, h, cmyk ? TJPF_CMYK : TJPF_GRAY, 0)) {
        int warn = tjGetErrorCode(tj) == TJERR_WARNING;
        grt_error(GAITRT_ERR_FORMAT, "%s: %s JPEG (%s)%s", name, warn ? "truncated or damaged" : "corrupt", tjGetErrorStr2(tj),
                  warn ? " ---> HINT: OpenCV would decode the damaged part as grey; re-extract the frame" : "");
        tjDestroy(tj);
        wk->tj = NULL;
        return GAITRT_ERR_FORMAT;
    }
    if (cmyk) {
        /* OpenCV's CMYK -> grey: c' = k - (255 - c) * k / 256 ..., then 0.299 R' + 0.587 G' +
         * 0.114 B' in 14-bit fixed point, with R' from C, G' from M, B' from Y. */
        const uint8_t *s = dst;
        for (size_t i = 0; i < (size_t)w * h; i++, s += 4) {
            int c = s[0], m = s[1], y = s[2], k = s[3];
            c = k - ((255 - c) * k >> 8);
            m = k - ((255 - m) * k >> 8);
            y = k - ((255 - y) * k >> 8);
            img[i] = (uint8_t)((y * 1868 + m * 9617 + c * 4899 + (1 << 13)) >> 14);
        }
    }
    return finish_orientation(jpeg_orientation(buf, len), wk, img, w, h, name, out);
}

#endif /* GAITRT_HAVE_TURBOJPEG */

/* ---- entry points -------------------------------------------------------------------------- */

grt_status grt_image_decode_mem(const uint8_t *buf, size_t len, const char *name, const grt_img_limits *lim,
                                grt_pre_work *w, grt_gray *out) {
    if (!name) name = "(memory)";
    if (!w || !out || (!buf && len)) return grt_error(GAITRT_ERR_INVALID_ARG, "%s: bad arguments to the image decoder", name);
    grt_img_limits dl = grt_img_default_limits();
    if (!lim) lim = &dl;
    memset(out, 0, sizeof *out);
    if (len == 0) return grt_error(GAITRT_ERR_FORMAT, "%s: empty file ---> HINT: the frame was not written completely", name);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (len >= 8 && !memcmp(buf, png_sig, 8)) {
#ifdef GAITRT_HAVE_SPNG
        return decode_png(buf, len, name, lim, w, out);
#else
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: PNG support is not built in ---> HINT: install libspng-dev and rebuild", name);
#endif
    }
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) {
#ifdef GAITRT_HAVE_TURBOJPEG
        return decode_jpeg(buf, len, name, lim, w, out);
#else
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: JPEG support is not built in ---> HINT: install libturbojpeg0-dev and rebuild", name);
#endif
    }
    if (len >= 8 && !memcmp(buf, png_sig, 4))
        return grt_error(GAITRT_ERR_FORMAT, "%s: corrupt PNG signature ---> HINT: was the file transferred in text mode?", name);
    return grt_error(GAITRT_ERR_UNSUPPORTED,
                     "%s: not a PNG or JPEG file (first bytes %02x %02x %02x %02x) ---> HINT: convert the frames to PNG", name,
                     buf[0], len > 1 ? buf[1] : 0, len > 2 ? buf[2] : 0, len > 3 ? buf[3] : 0);
}

grt_status grt_image_decode_file(const char *path, const grt_img_limits *lim, grt_pre_work *w, grt_gray *out) {
    if (!path || !w || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "image decode: NULL argument");
    grt_img_limits dl = grt_img_default_limits();
    if (!lim) lim = &dl;
    size_t len;
    grt_status st = grt_pre_read_file(path, lim->max_file_bytes, &w->file, &len);
    if (st) return st;
    return grt_image_decode_mem(w->file.p, len, path, lim, w, out);
}
