/*
 * silhouette.c — one frame through OpenGait's silhouette alignment (datasets/pretreatment.py,
 * function imgs2pickle) and its two variants: CCPG's organize_ccpg.py (INTER_AREA, no sum
 * threshold, a centre in column 0 is fine) and the parsing-map version of pretreatment_gps.py -p
 * (INTER_NEAREST keeps the part labels; the mask label > 0 decides threshold, crop and centre).
 *
 * The steps, for an S x S output (S = 64 by default):
 *   1. drop the frame when the pixel sum is <= 10000 (for 0/255 masks: fewer than 40 pixels);
 *   2. keep the rows from the first to the last one with a non-zero pixel (all columns);
 *   3. resize to height S and width int(S * w / h) — Python's float division and truncation;
 *   4. centre = first column where the cumulative column sum exceeds half of the total; a frame
 *      without one, or (except CCPG) whose centre is column 0 — Python's `if not x_center` —
 *      is dropped;
 *   5. take columns [centre - S/2, centre + S/2), zero outside the image. OpenGait pads with S/2
 *      zero columns whenever the window touches an edge (left <= 0 or right >= width); the
 *      result is the same as taking the window with zeros outside, which is what we do.
 *
 * Not here: reading files (image_decode.c), the frame-quality filter (quality.c), GREW's
 * "store unchanged" mode (those frames are already aligned).
 */
#include <string.h>

#include "preprocess.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Sum of n bytes (16 at a time with SSE2's sum of absolute differences against zero). */
static uint64_t sum_bytes(const uint8_t *r, int n) {
    uint64_t s = 0;
    int x = 0;
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128(), zero = _mm_setzero_si128();
    for (; x + 16 <= n; x += 16) acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(r + x)), zero));
    uint64_t lanes[2];
    _mm_storeu_si128((__m128i *)lanes, acc);
    s = lanes[0] + lanes[1];
#endif
    for (; x < n; x++) s += r[x];
    return s;
}

grt_pre_opts grt_pre_default_opts(void) {
    grt_pre_opts o;
    o.img_size = 64;
    o.mode = GRT_PRE_SILHOUETTE;
    return o;
}

const char *grt_drop_name(int why) {
    switch (why) {
    case GRT_DROP_NONE: return "kept";
    case GRT_DROP_EMPTY: return "empty (pixel sum <= 10000)";
    case GRT_DROP_NO_CENTER: return "no centre column";
    case GRT_DROP_TOO_THIN: return "too thin to resize";
    case GRT_DROP_DECODE: return "unreadable";
    case GRT_DROP_QUALITY: return "low quality";
    case GRT_DROP_TOO_WIDE: return "too wide to resize";
    }
    return "unknown";
}

grt_status grt_pretreat_frame(const uint8_t *img, int w, int h, const grt_pre_opts *o, grt_pre_work *work,
                              uint8_t *out, int *why) {
    if (why) *why = GRT_DROP_NONE;
    if (!img || !o || !work || !out || !why || w <= 0 || h <= 0)
        return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: bad frame arguments (%dx%d)", w, h);
    int S = o->img_size;
    if (S < 2 || S % 2 || S > 4096)
        return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: image size %d must be even and in [2, 4096] ---> HINT: OpenGait uses 64 or 128",
                         S);
    int parsing = o->mode == GRT_PRE_PARSING;

    /* 1-2. pixel sum and the first / last rows with foreground. For parsing maps the mask is
     * 255 * (label > 0), so its sum is 255 x the number of labelled pixels. */
    uint64_t total = 0;
    int top = -1, btm = -1;
    for (int y = 0; y < h; y++) {
        const uint8_t *r = img + (size_t)y * w;
        uint64_t s = 0;
        if (parsing) {
            for (int x = 0; x < w; x++) s += r[x] != 0;
            s *= 255;
        } else {
            s = sum_bytes(r, w);
        }
        if (s) {
            if (top < 0) top = y;
            btm = y;
        }
        total += s;
    }
    if (o->mode != GRT_PRE_CCPG && total <= 10000) {
        *why = GRT_DROP_EMPTY;
        return GRT_OK;
    }
    if (top < 0) top = btm = 0; /* numpy's argmax of an all-false row mask */
    int ch = btm - top + 1;

    /* 3. the target width, computed exactly as Python does: int(S * (w / h)). */
    double nw = (double)S * ((double)w / (double)ch);
    if (nw >= (double)GRT_PRE_MAX_RESIZED_WIDTH + 1) {
        *why = GRT_DROP_TOO_WIDE;
        return GRT_OK;
    }
    int new_w = (int)nw;
    if (new_w == 0) {
        *why = GRT_DROP_TOO_THIN;
        return GRT_OK;
    }
    grt_interp interp = o->mode == GRT_PRE_CCPG ? GRT_INTER_AREA : parsing ? GRT_INTER_NEAREST : GRT_INTER_CUBIC;
    size_t wb = grt_resize_work_bytes(interp, w, ch, new_w, S, 0);
    uint8_t *r = grt_buf_reserve(&work->resized, (size_t)S * new_w);
    void *tab = grt_buf_reserve(&work->rtab, wb);
    if (!r || !tab) return grt_error(GAITRT_ERR_NOMEM, "pretreat: out of memory resizing a %dx%d frame", w, h);
    grt_status st = grt_resize_u8(img + (size_t)top * w, w, ch, w, r, new_w, S, new_w, interp, tab, wb);
    if (st) return st;

    /* 4. the mass-median column. Integer arithmetic: 2 * csum > total is Python's
     * csum > total / 2 for these (exactly representable) sums. */
    uint64_t *col = grt_buf_reserve(&work->image2, (size_t)new_w * sizeof(uint64_t));
    if (!col) return grt_error(GAITRT_ERR_NOMEM, "pretreat: out of memory");
    memset(col, 0, (size_t)new_w * sizeof(uint64_t));
    for (int y = 0; y < S; y++) {
        const uint8_t *row = r + (size_t)y * new_w;
        if (parsing)
            for (int x = 0; x < new_w; x++) col[x] += row[x] ? 255u : 0u;
        else
            for (int x = 0; x < new_w; x++) col[x] += row[x];
    }
    uint64_t tot = 0;
    for (int x = 0; x < new_w; x++) tot += col[x];
    int xc = -1;
    uint64_t cs = 0;
    for (int x = 0; x < new_w; x++) {
        cs += col[x];
        if (2 * cs > tot) {
            xc = x;
            break;
        }
    }
    if (xc < 0 || (xc == 0 && o->mode != GRT_PRE_CCPG)) {
        *why = GRT_DROP_NO_CENTER;
        return GRT_OK;
    }

    /* 5. the S-wide window around the centre, zeros outside. */
    int half = S / 2, left = xc - half;
    int x0 = left < 0 ? -left : 0;                      /* first output column inside the image */
    int x1 = new_w - left < S ? new_w - left : S;       /* one past the last */
    for (int y = 0; y < S; y++) {
        uint8_t *d = out + (size_t)y * S;
        const uint8_t *s = r + (size_t)y * new_w;
        if (x0 > 0) memset(d, 0, (size_t)x0);
        if (x1 > x0) memcpy(d + x0, s + left + x0, (size_t)(x1 - x0));
        if (x1 < S) memset(d + (x1 > x0 ? x1 : x0), 0, (size_t)(S - (x1 > x0 ? x1 : x0)));
    }
    return GRT_OK;
}
