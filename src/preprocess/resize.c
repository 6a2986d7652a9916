/*
 * resize.c — cv2.resize reproduced bit for bit: INTER_NEAREST, INTER_LINEAR, INTER_CUBIC and
 * INTER_AREA on uint8 images, and NEAREST / LINEAR / AREA on float64 images.
 *
 * OpenGait's pretreatment scripts call cv2.resize, so the aligned silhouettes are defined by
 * what OpenCV 4.6 computes, rounding included. We reproduce the x86-64 build Debian ships
 * (SSE2 baseline, no IPP, no OpenCL): the same coefficient tables (float arithmetic, then
 * rounded to 11-bit fixed point for uint8), the same border handling (edge rows and columns are
 * repeated), and the same two arithmetic paths of the vertical cubic pass — OpenCV's SIMD loop
 * converts to float and rounds to nearest-even for the first floor(width/8)*8 columns, while its
 * scalar tail uses integer shifts. Both matter: they differ by one grey level on some pixels.
 *
 * This is not a general image library: one channel only, no INTER_LANCZOS4, no _EXACT modes,
 * no cubic on float64. Speed comes from small tables and row caching, not from SIMD; the
 * arithmetic is written so that the compiler cannot reorder it (no FMA contraction).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "preprocess.h"

/* A fused multiply-add would change the float rounding of the cubic and area kernels. Builds
 * never enable FMA for this file, but a user's -march flags could: switch contraction off. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && defined(__FMA__)
#pragma GCC optimize("fp-contract=off")
#endif

#define COEF_BITS 11
#define COEF_SCALE (1 << COEF_BITS)

/* OpenCV's cvFloor / cvCeil / cvRound. cvRound is the SSE conversion in the current rounding
 * mode (to nearest, ties to even); we use the same instruction where we can, since lrintf is an
 * out-of-line call without -fno-math-errno. */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline int cv_round_d(double v) { return _mm_cvtsd_si32(_mm_set_sd(v)); }
static inline int cv_round_f(float v) { return _mm_cvtss_si32(_mm_set_ss(v)); }
#else
static inline int cv_round_d(double v) { return (int)lrint(v); }
static inline int cv_round_f(float v) { return (int)lrintf(v); }
#endif
static inline int cv_floor_d(double v) { int i = (int)v; return i - (i > v); }
static inline int cv_floor_f(float v) { int i = (int)v; return i - (i > v); }
static inline int cv_ceil_d(double v) { int i = (int)v; return i + (i < v); }

static inline uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }
static inline short sat_s16(int v) { return (short)(v < -32768 ? -32768 : v > 32767 ? 32767 : v); }
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- working memory: tables carved from one caller-supplied block --------------------------- */

typedef struct carve {
    uint8_t *p;
    size_t left;
} carve;

static void *carve_take(carve *c, size_t n) {
    uintptr_t a = ((uintptr_t)c->p + 63) & ~(uintptr_t)63;
    size_t pad = (size_t)(a - (uintptr_t)c->p);
    if (pad > c->left || n > c->left - pad) return NULL;
    c->p = (uint8_t *)a + n;
    c->left -= pad + n;
    return (void *)a;
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The decisions cv::hal::resize takes before choosing a kernel. */
typedef struct plan {
    double inv_sx, inv_sy; /* dst / src */
    double sx, sy;         /* src / dst */
    int isx, isy;
    int area_fast;
    grt_interp interp; /* after OpenCV's substitutions */
    int true_area;     /* INTER_AREA with both scales >= 1 */
} plan;

static plan make_plan(grt_interp interp, int sw, int sh, int dw, int dh) {
    plan p;
    p.inv_sx = (double)dw / sw;
    p.inv_sy = (double)dh / sh;
    p.sx = 1. / p.inv_sx;
    p.sy = 1. / p.inv_sy;
    p.isx = cv_round_d(p.sx);
    p.isy = cv_round_d(p.sy);
    p.area_fast = fabs(p.sx - p.isx) < DBL_EPSILON && fabs(p.sy - p.isy) < DBL_EPSILON;
    /* OpenCV: halving with INTER_LINEAR is done by the (equivalent, faster) area kernel. */
    if (interp == GRT_INTER_LINEAR && p.area_fast && p.isx == 2 && p.isy == 2) interp = GRT_INTER_AREA;
    p.interp = interp;
    p.true_area = interp == GRT_INTER_AREA && p.sx >= 1 && p.sy >= 1;
    return p;
}

static size_t generic_bytes(int ksize, int dw, int dh, size_t row_elem) {
    size_t n = 0;
    n += round64((size_t)dw * sizeof(int));               /* xofs */
    n += round64((size_t)dh * sizeof(int));               /* yofs */
    n += round64((size_t)dw * ksize * sizeof(float));     /* alpha (short or float) */
    n += round64((size_t)dh * ksize * sizeof(float));     /* beta */
    n += (size_t)ksize * round64((size_t)dw * row_elem);  /* horizontal row cache */
    return n + 64;
}

typedef struct area_tab {
    int si, di;
    float alpha;
} area_tab;

size_t grt_resize_work_bytes(grt_interp interp, int sw, int sh, int dw, int dh, int f64) {
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0) return 0;
    plan p = make_plan(interp, sw, sh, dw, dh);
    size_t elem = f64 ? sizeof(double) : sizeof(int);
    if (p.interp == GRT_INTER_NEAREST) return round64((size_t)dw * sizeof(int)) + 64;
    if (p.true_area) {
        if (p.area_fast) return round64(((size_t)p.isx * p.isy + dw) * sizeof(int)) + 64;
        return round64((size_t)sw * 2 * sizeof(area_tab)) + round64((size_t)sh * 2 * sizeof(area_tab)) +
               2 * round64((size_t)dw * (f64 ? sizeof(double) : sizeof(float))) + 64;
    }
    int ksize = p.interp == GRT_INTER_CUBIC ? 4 : 2;
    return generic_bytes(ksize, dw, dh, elem);
}

/* ---- INTER_NEAREST ------------------------------------------------------------------------ */

/* OpenCV: source index = floor(dst * (1 / (dst_size / src_size))) in double, clamped. */
static grt_status resize_nearest(const uint8_t *src, int sw, int sh, size_t sstride_b, uint8_t *dst, int dw, int dh,
                                 size_t dstride_b, size_t elem, const plan *p, carve *c) {
    int *xofs = carve_take(c, (size_t)dw * sizeof(int));
    if (!xofs) return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    double ifx = 1. / p->inv_sx, ify = 1. / p->inv_sy;
    for (int x = 0; x < dw; x++) {
        int sx = cv_floor_d(x * ifx);
        xofs[x] = (sx < sw - 1 ? sx : sw - 1);
    }
    for (int y = 0; y < dh; y++) {
        int sy = cv_floor_d(y * ify);
        if (sy > sh - 1) sy = sh - 1;
        const uint8_t *S = src + (size_t)sy * sstride_b;
        uint8_t *D = dst + (size_t)y * dstride_b;
        if (elem == 1) {
            for (int x = 0; x < dw; x++) D[x] = S[xofs[x]];
        } else {
            for (int x = 0; x < dw; x++) memcpy(D + (size_t)x * elem, S + (size_t)xofs[x] * elem, elem);
        }
    }
    return GRT_OK;
}

/* ---- separable kernels (LINEAR, CUBIC, and the "area" emulation when enlarging) -------------- */

static void interp_cubic(float x, float c[4]) {
    /* Keys' cubic with A = -0.75, evaluated in float in OpenCV's order. */
    const float A = -0.75f;
    float u = x + 1.f;
    c[0] = ((A * u - 5.f * A) * u + 8.f * A) * u - 4.f * A;
    c[1] = ((A + 2.f) * x - (A + 3.f)) * x * x + 1.f;
    float v = 1.f - x;
    c[2] = ((A + 2.f) * v - (A + 3.f)) * v * v + 1.f;
    c[3] = 1.f - c[0] - c[1] - c[2];
}

/* Source offsets and weights for one axis, as cv::hal::resize builds them. For the x axis also
 * the range [xmin, xmax) where every tap is inside the source. */
typedef struct axis_tab {
    int *ofs;
    short *iw;  /* uint8: weights x 2048 */
    float *fw;  /* float64 images: float weights */
    int lo, hi; /* xmin, xmax */
} axis_tab;

static void build_axis(axis_tab *t, int ssize, int dsize, double scale, double inv_scale, int ksize, int area_mode,
                       int fixpt, int clamp_ofs) {
    int ksize2 = ksize / 2;
    t->lo = 0;
    t->hi = dsize;
    for (int d = 0; d < dsize; d++) {
        int s;
        float f;
        if (!area_mode) {
            f = (float)((d + 0.5) * scale - 0.5);
            s = cv_floor_f(f);
            f -= (float)s;
        } else {
            s = cv_floor_d(d * scale);
            f = (float)((d + 1) - (s + 1) * inv_scale);
            f = f <= 0 ? 0.f : f - (float)cv_floor_f(f);
        }
        if (clamp_ofs) {
            /* The x axis: cubic keeps out-of-range offsets (the horizontal pass clamps each
             * tap); linear snaps to the edge pixel with weight 1. */
            if (s < ksize2 - 1) {
                t->lo = d + 1;
                if (s < 0 && ksize != 4) f = 0, s = 0;
            }
            if (s + ksize2 >= ssize) {
                if (d < t->hi) t->hi = d;
                if (s >= ssize - 1 && ksize != 4) f = 0, s = ssize - 1;
            }
        }
        t->ofs[d] = s;
        float cb[4];
        if (ksize == 4) {
            interp_cubic(f, cb);
        } else {
            cb[0] = 1.f - f;
            cb[1] = f;
        }
        for (int k = 0; k < ksize; k++) {
            if (fixpt)
                t->iw[d * ksize + k] = sat_s16(cv_round_f(cb[k] * COEF_SCALE));
            else
                t->fw[d * ksize + k] = cb[k];
        }
    }
}

/* First and last non-zero byte of a row (lo > hi when there is none). Silhouette rows are
 * mostly background: outputs whose taps all fall outside [lo, hi] are 0 without computing. */
static void nonzero_span(const uint8_t *S, int n, int *lo, int *hi) {
    int a = 0, b = n - 1;
    uint64_t v;
    while (a + 8 <= n && (memcpy(&v, S + a, 8), v == 0)) a += 8;
    while (a < n && !S[a]) a++;
    while (b - 8 >= a && (memcpy(&v, S + b - 7, 8), v == 0)) b -= 8;
    while (b > a && !S[b]) b--;
    *lo = a;
    *hi = a < n ? b : -1;
}

/* Horizontal passes of one source row into a row of the cache. */
static void hrow_cubic_u8(const uint8_t *S, int sw, int *D, int dw, const axis_tab *xt, int *out_lo, int *out_hi) {
    int nz0, nz1;
    nonzero_span(S, sw, &nz0, &nz1);
    /* outputs [lo, hi) are the only ones whose taps reach a non-zero pixel (offsets ascend) */
    int lo = 0, hi = dw;
    if (nz0 > nz1) {
        lo = hi = 0;
    } else {
        /* binary searches: lo = first output whose last tap reaches nz0, hi = one past the
         * last output whose first tap is at most nz1 */
        int a = 0, b = dw;
        while (a < b) {
            int m = (a + b) / 2;
            if (clampi(xt->ofs[m] + 2, 0, sw - 1) < nz0) a = m + 1;
            else b = m;
        }
        lo = a;
        b = dw;
        while (a < b) {
            int m = (a + b) / 2;
            if (clampi(xt->ofs[m] - 1, 0, sw - 1) <= nz1) a = m + 1;
            else b = m;
        }
        hi = a;
    }
    if (lo > 0) memset(D, 0, (size_t)lo * sizeof(int));
    if (hi < dw) memset(D + hi, 0, (size_t)(dw - hi) * sizeof(int));
    for (int dx = lo; dx < hi; dx++) {
        const short *a = xt->iw + dx * 4;
        int sx = xt->ofs[dx];
        if (dx >= xt->lo && dx < xt->hi) {
            D[dx] = S[sx - 1] * a[0] + S[sx] * a[1] + S[sx + 1] * a[2] + S[sx + 2] * a[3];
        } else {
            int v = 0;
            for (int j = 0; j < 4; j++) v += S[clampi(sx - 1 + j, 0, sw - 1)] * a[j];
            D[dx] = v;
        }
    }
    *out_lo = lo;
    *out_hi = hi;
}

static void hrow_linear_u8(const uint8_t *S, int *D, int dw, const axis_tab *xt) {
    int dx = 0;
    for (; dx < xt->hi; dx++) {
        int sx = xt->ofs[dx];
        D[dx] = S[sx] * xt->iw[dx * 2] + S[sx + 1] * xt->iw[dx * 2 + 1];
    }
    for (; dx < dw; dx++) D[dx] = S[xt->ofs[dx]] * COEF_SCALE;
}

static void hrow_linear_f64(const double *S, double *D, int dw, const axis_tab *xt) {
    int dx = 0;
    for (; dx < xt->hi; dx++) {
        int sx = xt->ofs[dx];
        D[dx] = S[sx] * (double)xt->fw[dx * 2] + S[sx + 1] * (double)xt->fw[dx * 2 + 1];
    }
    for (; dx < dw; dx++) D[dx] = S[xt->ofs[dx]];
}

/* Vertical passes: combine ksize cached rows into one output row. */
static void vrow_cubic_u8(int *const *R, const short *b, uint8_t *dst, int dw, int lo, int hi) {
    /* OpenCV's SIMD loop (8 lanes with the SSE2 baseline): float weights b / 2^22, the sum
     * nested as r0*b0 + (r1*b1 + (r2*b2 + r3*b3)), rounded to nearest-even and saturated. */
    const float scale = 1.f / (float)(COEF_SCALE * COEF_SCALE);
    float b0 = b[0] * scale, b1 = b[1] * scale, b2 = b[2] * scale, b3 = b[3] * scale;
    const int *r0 = R[0], *r1 = R[1], *r2 = R[2], *r3 = R[3];
    /* outside [lo, hi) all four rows are 0, and so is the result on both paths */
    if (lo > 0) memset(dst, 0, (size_t)lo);
    if (hi < dw) memset(dst + hi, 0, (size_t)(dw - hi));
    int x = lo;
    int nvec = dw - dw % 8;
    if (nvec > hi) nvec = hi;
    for (; x < nvec; x++) {
        if (!(r0[x] | r1[x] | r2[x] | r3[x])) { /* background: 0 on both paths */
            dst[x] = 0;
            continue;
        }
        float t = (float)r3[x] * b3;
        t = (float)r2[x] * b2 + t;
        t = (float)r1[x] * b1 + t;
        t = (float)r0[x] * b0 + t;
        dst[x] = sat_u8(cv_round_f(t));
    }
    /* ... and its scalar tail: integer sum, + 2^21, arithmetic shift by 22. */
    for (; x < hi; x++) {
        int64_t s = (int64_t)r0[x] * b[0] + (int64_t)r1[x] * b[1] + (int64_t)r2[x] * b[2] + (int64_t)r3[x] * b[3];
        int64_t v = (s + ((int64_t)1 << 21)) >> 22;
        dst[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static void vrow_linear_u8(int *const *R, const short *b, uint8_t *dst, int dw) {
    /* OpenCV's uint8 linear vertical pass (SIMD and scalar agree): drop 4 bits, multiply by the
     * 11-bit weight keeping the high 16 bits, then round away the last 2 bits. */
    const int *r0 = R[0], *r1 = R[1];
    int b0 = b[0], b1 = b[1];
    for (int x = 0; x < dw; x++) {
        int v = (((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2;
        dst[x] = sat_u8(v);
    }
}

static void vrow_linear_f64(double *const *R, const float *b, double *dst, int dw) {
    double b0 = b[0], b1 = b[1];
    for (int x = 0; x < dw; x++) dst[x] = R[0][x] * b0 + R[1][x] * b1;
}

/* Row cache: cache[k] holds the horizontally resized source row tag[k]. For output row dy we
 * need rows clip(sy0 - ksize/2 + 1 + k); rows already computed are moved into place. */
typedef struct row_cache {
    void *row[4];
    int tag[4];
    int lo[4], hi[4]; /* outputs outside [lo, hi) are 0 (uint8 cubic rows; else the whole row) */
} row_cache;

static void cache_arrange(row_cache *rc, int ksize, const int *need, int *todo) {
    /* After this, slot k is meant to hold source row need[k]: todo[k] is 0 when it already does,
     * 1 when it must be computed, -1 - k0 when it is a copy of an earlier slot k0 (several k need
     * the same row at the borders). */
    for (int k = 0; k < ksize; k++) {
        int found = -1;
        for (int k1 = k; k1 < ksize; k1++) {
            if (rc->tag[k1] == need[k]) {
                found = k1;
                break;
            }
        }
        if (found >= 0) {
            void *tr = rc->row[k];
            int tt = rc->tag[k], tl = rc->lo[k], th = rc->hi[k];
            rc->row[k] = rc->row[found];
            rc->tag[k] = rc->tag[found];
            rc->lo[k] = rc->lo[found];
            rc->hi[k] = rc->hi[found];
            rc->row[found] = tr;
            rc->tag[found] = tt;
            rc->lo[found] = tl;
            rc->hi[found] = th;
            todo[k] = 0;
            continue;
        }
        todo[k] = 1;
        for (int k0 = 0; k0 < k; k0++) {
            if (need[k0] == need[k]) {
                todo[k] = -1 - k0;
                break;
            }
        }
        rc->tag[k] = need[k];
    }
}

static grt_status resize_generic_u8(const uint8_t *src, int sw, int sh, ptrdiff_t ss, uint8_t *dst, int dw, int dh,
                                    ptrdiff_t ds, const plan *p, carve *c) {
    int cubic = p->interp == GRT_INTER_CUBIC;
    int ksize = cubic ? 4 : 2, ksize2 = ksize / 2;
    int area_mode = p->interp == GRT_INTER_AREA;
    axis_tab xt, yt;
    xt.ofs = carve_take(c, (size_t)dw * sizeof(int));
    yt.ofs = carve_take(c, (size_t)dh * sizeof(int));
    xt.iw = carve_take(c, (size_t)dw * ksize * sizeof(float));
    yt.iw = carve_take(c, (size_t)dh * ksize * sizeof(float));
    xt.fw = yt.fw = NULL;
    row_cache rc;
    for (int k = 0; k < ksize; k++) {
        rc.row[k] = carve_take(c, (size_t)dw * sizeof(int));
        rc.tag[k] = -1;
        rc.lo[k] = 0;
        rc.hi[k] = dw;
    }
    if (!xt.ofs || !yt.ofs || !xt.iw || !yt.iw || !rc.row[ksize - 1])
        return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    build_axis(&xt, sw, dw, p->sx, p->inv_sx, ksize, area_mode, 1, 1);
    build_axis(&yt, sh, dh, p->sy, p->inv_sy, ksize, area_mode, 1, 0);

    for (int dy = 0; dy < dh; dy++) {
        int need[4], todo[4];
        for (int k = 0; k < ksize; k++) need[k] = clampi(yt.ofs[dy] - ksize2 + 1 + k, 0, sh - 1);
        cache_arrange(&rc, ksize, need, todo);
        for (int k = 0; k < ksize; k++) {
            if (todo[k] == 0) continue;
            if (todo[k] < 0) {
                int k0 = -1 - todo[k];
                memcpy(rc.row[k], rc.row[k0], (size_t)dw * sizeof(int));
                rc.lo[k] = rc.lo[k0];
                rc.hi[k] = rc.hi[k0];
            } else {
                const uint8_t *S = src + (ptrdiff_t)need[k] * ss;
                if (cubic) {
                    hrow_cubic_u8(S, sw, rc.row[k], dw, &xt, &rc.lo[k], &rc.hi[k]);
                } else {
                    hrow_linear_u8(S, rc.row[k], dw, &xt);
                    rc.lo[k] = 0;
                    rc.hi[k] = dw;
                }
            }
            rc.tag[k] = need[k];
        }
        int *R[4] = {rc.row[0], rc.row[1], ksize > 2 ? rc.row[2] : NULL, ksize > 2 ? rc.row[3] : NULL};
        uint8_t *D = dst + (ptrdiff_t)dy * ds;
        if (cubic) {
            int lo = dw, hi = 0;
            for (int k = 0; k < 4; k++) {
                if (rc.lo[k] >= rc.hi[k]) continue;
                if (rc.lo[k] < lo) lo = rc.lo[k];
                if (rc.hi[k] > hi) hi = rc.hi[k];
            }
            if (lo > hi) lo = hi = 0;
            vrow_cubic_u8(R, yt.iw + dy * 4, D, dw, lo, hi);
        } else
            vrow_linear_u8(R, yt.iw + dy * 2, D, dw);
    }
    return GRT_OK;
}

static grt_status resize_linear_f64(const double *src, int sw, int sh, ptrdiff_t ss, double *dst, int dw, int dh,
                                    ptrdiff_t ds, const plan *p, carve *c) {
    int area_mode = p->interp == GRT_INTER_AREA;
    axis_tab xt, yt;
    xt.ofs = carve_take(c, (size_t)dw * sizeof(int));
    yt.ofs = carve_take(c, (size_t)dh * sizeof(int));
    xt.fw = carve_take(c, (size_t)dw * 2 * sizeof(float));
    yt.fw = carve_take(c, (size_t)dh * 2 * sizeof(float));
    xt.iw = yt.iw = NULL;
    row_cache rc;
    for (int k = 0; k < 2; k++) {
        rc.row[k] = carve_take(c, (size_t)dw * sizeof(double));
        rc.tag[k] = -1;
        rc.lo[k] = 0;
        rc.hi[k] = dw;
    }
    if (!xt.ofs || !yt.ofs || !xt.fw || !yt.fw || !rc.row[1])
        return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    build_axis(&xt, sw, dw, p->sx, p->inv_sx, 2, area_mode, 0, 1);
    build_axis(&yt, sh, dh, p->sy, p->inv_sy, 2, area_mode, 0, 0);
    for (int dy = 0; dy < dh; dy++) {
        int need[2], todo[2];
        for (int k = 0; k < 2; k++) need[k] = clampi(yt.ofs[dy] + k, 0, sh - 1);
        cache_arrange(&rc, 2, need, todo);
        for (int k = 0; k < 2; k++) {
            if (todo[k] == 0) continue;
            if (todo[k] < 0)
                memcpy(rc.row[k], rc.row[-1 - todo[k]], (size_t)dw * sizeof(double));
            else
                hrow_linear_f64(src + (ptrdiff_t)need[k] * ss, rc.row[k], dw, &xt);
            rc.tag[k] = need[k];
        }
        double *R[2] = {rc.row[0], rc.row[1]};
        vrow_linear_f64(R, yt.fw + dy * 2, dst + (ptrdiff_t)dy * ds, dw);
    }
    return GRT_OK;
}

/* ---- INTER_AREA when shrinking -------------------------------------------------------------- */

/* OpenCV's computeResizeAreaTab: each destination cell covers [d*scale, (d+1)*scale) of the
 * source; partial source pixels get fractional weights (computed in double, stored as float). */
static int area_table(int ssize, int dsize, double scale, area_tab *tab) {
    int k = 0;
    for (int d = 0; d < dsize; d++) {
        double f1 = d * scale;
        double f2 = f1 + scale;
        double cell = scale < ssize - f1 ? scale : ssize - f1;
        int s1 = cv_ceil_d(f1), s2 = cv_floor_d(f2);
        if (s2 > ssize - 1) s2 = ssize - 1;
        if (s1 > s2) s1 = s2;
        if (s1 - f1 > 1e-3) {
            tab[k].di = d;
            tab[k].si = s1 - 1;
            tab[k++].alpha = (float)((s1 - f1) / cell);
        }
        for (int s = s1; s < s2; s++) {
            tab[k].di = d;
            tab[k].si = s;
            tab[k++].alpha = (float)(1.0 / cell);
        }
        if (f2 - s2 > 1e-3) {
            double part = f2 - s2 < 1. ? f2 - s2 : 1.;
            if (part > cell) part = cell;
            tab[k].di = d;
            tab[k].si = s2;
            tab[k++].alpha = (float)(part / cell);
        }
    }
    return k;
}

static grt_status area_tables(int sw, int sh, int dw, int dh, const plan *p, carve *c, area_tab **xt, int *nx,
                              area_tab **yt, int *ny) {
    *xt = carve_take(c, (size_t)sw * 2 * sizeof(area_tab));
    *yt = carve_take(c, (size_t)sh * 2 * sizeof(area_tab));
    if (!*xt || !*yt) return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    *nx = area_table(sw, dw, p->sx, *xt);
    *ny = area_table(sh, dh, p->sy, *yt);
    return GRT_OK;
}

static grt_status resize_area_u8(const uint8_t *src, int sw, int sh, ptrdiff_t ss, uint8_t *dst, int dw, int dh,
                                 ptrdiff_t ds, const plan *p, carve *c) {
    area_tab *xt, *yt;
    int nx, ny;
    grt_status st = area_tables(sw, sh, dw, dh, p, c, &xt, &nx, &yt, &ny);
    if (st) return st;
    float *buf = carve_take(c, (size_t)dw * sizeof(float));
    float *sum = carve_take(c, (size_t)dw * sizeof(float));
    if (!buf || !sum) return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    for (int x = 0; x < dw; x++) sum[x] = 0.f;
    int prev = ny ? yt[0].di : 0;
    for (int j = 0; j < ny; j++) {
        float beta = yt[j].alpha;
        int dy = yt[j].di;
        const uint8_t *S = src + (ptrdiff_t)yt[j].si * ss;
        for (int x = 0; x < dw; x++) buf[x] = 0.f;
        for (int k = 0; k < nx; k++) buf[xt[k].di] += (float)S[xt[k].si] * xt[k].alpha;
        if (dy != prev) {
            uint8_t *D = dst + (ptrdiff_t)prev * ds;
            for (int x = 0; x < dw; x++) {
                D[x] = sat_u8(cv_round_f(sum[x]));
                sum[x] = beta * buf[x];
            }
            prev = dy;
        } else {
            for (int x = 0; x < dw; x++) sum[x] += beta * buf[x];
        }
    }
    uint8_t *D = dst + (ptrdiff_t)prev * ds;
    for (int x = 0; x < dw; x++) D[x] = sat_u8(cv_round_f(sum[x]));
    return GRT_OK;
}

static grt_status resize_area_f64(const double *src, int sw, int sh, ptrdiff_t ss, double *dst, int dw, int dh,
                                  ptrdiff_t ds, const plan *p, carve *c) {
    area_tab *xt, *yt;
    int nx, ny;
    grt_status st = area_tables(sw, sh, dw, dh, p, c, &xt, &nx, &yt, &ny);
    if (st) return st;
    double *buf = carve_take(c, (size_t)dw * sizeof(double));
    double *sum = carve_take(c, (size_t)dw * sizeof(double));
    if (!buf || !sum) return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    for (int x = 0; x < dw; x++) sum[x] = 0.;
    int prev = ny ? yt[0].di : 0;
    for (int j = 0; j < ny; j++) {
        double beta = yt[j].alpha;
        int dy = yt[j].di;
        const double *S = src + (ptrdiff_t)yt[j].si * ss;
        for (int x = 0; x < dw; x++) buf[x] = 0.;
        for (int k = 0; k < nx; k++) buf[xt[k].di] += S[xt[k].si] * (double)xt[k].alpha;
        if (dy != prev) {
            double *D = dst + (ptrdiff_t)prev * ds;
            for (int x = 0; x < dw; x++) {
                D[x] = sum[x];
                sum[x] = beta * buf[x];
            }
            prev = dy;
        } else {
            for (int x = 0; x < dw; x++) sum[x] += beta * buf[x];
        }
    }
    double *D = dst + (ptrdiff_t)prev * ds;
    for (int x = 0; x < dw; x++) D[x] = sum[x];
    return GRT_OK;
}

/* Integer shrink factors: plain block averages. For uint8 and factor 2 OpenCV rounds with
 * (a + b + c + d + 2) >> 2; other factors multiply by the float 1/area and round to even. */
static grt_status resize_area_fast_u8(const uint8_t *src, int sw, int sh, ptrdiff_t ss, uint8_t *dst, int dw, int dh,
                                      ptrdiff_t ds, const plan *p, carve *c) {
    int kx = p->isx, ky = p->isy, area = kx * ky;
    int *ofs = carve_take(c, ((size_t)area + dw) * sizeof(int));
    if (!ofs) return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    for (int y = 0, k = 0; y < ky; y++)
        for (int x = 0; x < kx; x++) ofs[k++] = (int)(y * ss + x);
    float scale = 1.f / (float)area;
    int full_w = sw / kx;
    if (full_w > dw) full_w = dw;
    int twos = kx == 2 && ky == 2;
    for (int dy = 0; dy < dh; dy++) {
        uint8_t *D = dst + (ptrdiff_t)dy * ds;
        int sy0 = dy * ky;
        if (sy0 >= sh) {
            memset(D, 0, (size_t)dw);
            continue;
        }
        int w = sy0 + ky <= sh ? full_w : 0;
        const uint8_t *S0 = src + (ptrdiff_t)sy0 * ss;
        int dx = 0;
        if (twos) {
            const uint8_t *S1 = S0 + ss;
            for (; dx < w; dx++)
                D[dx] = (uint8_t)((S0[2 * dx] + S0[2 * dx + 1] + S1[2 * dx] + S1[2 * dx + 1] + 2) >> 2);
        } else {
            for (; dx < w; dx++) {
                const uint8_t *S = S0 + dx * kx;
                int s = 0;
                for (int k = 0; k < area; k++) s += S[ofs[k]];
                D[dx] = sat_u8(cv_round_f((float)s * scale));
            }
        }
        for (; dx < dw; dx++) {
            int sx0 = dx * kx, s = 0, count = 0;
            if (sx0 >= sw) D[dx] = 0;
            for (int y = 0; y < ky && sy0 + y < sh; y++) {
                const uint8_t *S = src + (ptrdiff_t)(sy0 + y) * ss + sx0;
                for (int x = 0; x < kx && sx0 + x < sw; x++) {
                    s += S[x];
                    count++;
                }
            }
            if (count) D[dx] = sat_u8(cv_round_f((float)s / (float)count));
        }
    }
    return GRT_OK;
}

static grt_status resize_area_fast_f64(const double *src, int sw, int sh, ptrdiff_t ss, double *dst, int dw, int dh,
                                       ptrdiff_t ds, const plan *p, carve *c) {
    int kx = p->isx, ky = p->isy, area = kx * ky;
    int *ofs = carve_take(c, ((size_t)area + dw) * sizeof(int));
    if (!ofs) return grt_error(GAITRT_ERR_INTERNAL, "resize: work buffer too small");
    for (int y = 0, k = 0; y < ky; y++)
        for (int x = 0; x < kx; x++) ofs[k++] = (int)(y * ss + x);
    double scale = (double)(1.f / (float)area);
    int full_w = sw / kx;
    if (full_w > dw) full_w = dw;
    for (int dy = 0; dy < dh; dy++) {
        double *D = dst + (ptrdiff_t)dy * ds;
        int sy0 = dy * ky;
        if (sy0 >= sh) {
            for (int x = 0; x < dw; x++) D[x] = 0.;
            continue;
        }
        int w = sy0 + ky <= sh ? full_w : 0;
        const double *S0 = src + (ptrdiff_t)sy0 * ss;
        int dx = 0;
        for (; dx < w; dx++) {
            const double *S = S0 + dx * kx;
            double s = 0.;
            int k = 0;
            /* OpenCV unrolls by four: s += ((a + b) + c) + d. */
            for (; k <= area - 4; k += 4) s += S[ofs[k]] + S[ofs[k + 1]] + S[ofs[k + 2]] + S[ofs[k + 3]];
            for (; k < area; k++) s += S[ofs[k]];
            D[dx] = s * scale;
        }
        for (; dx < dw; dx++) {
            int sx0 = dx * kx, count = 0;
            double s = 0.;
            if (sx0 >= sw) D[dx] = 0.;
            for (int y = 0; y < ky && sy0 + y < sh; y++) {
                const double *S = src + (ptrdiff_t)(sy0 + y) * ss + sx0;
                for (int x = 0; x < kx && sx0 + x < sw; x++) {
                    s += S[x];
                    count++;
                }
            }
            if (count) D[dx] = (double)((float)s / (float)count);
        }
    }
    return GRT_OK;
}

/* ---- entry points ------------------------------------------------------------------------ */

static grt_status check_args(const void *src, int sw, int sh, ptrdiff_t ss, const void *dst, int dw, int dh,
                             ptrdiff_t ds, grt_interp interp, void *work, size_t work_bytes, int f64) {
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || ss < sw || ds < dw)
        return grt_error(GAITRT_ERR_INVALID_ARG, "resize: bad image arguments (%dx%d -> %dx%d)", sw, sh, dw, dh);
    if ((unsigned)interp > GRT_INTER_AREA) return grt_error(GAITRT_ERR_INVALID_ARG, "resize: unknown interpolation %d", (int)interp);
    size_t need = grt_resize_work_bytes(interp, sw, sh, dw, dh, f64);
    if (need && (!work || work_bytes < need))
        return grt_error(GAITRT_ERR_INVALID_ARG, "resize: work buffer of %zu bytes, %zu needed", work_bytes, need);
    return GRT_OK;
}

grt_status grt_resize_u8(const uint8_t *src, int sw, int sh, ptrdiff_t ss, uint8_t *dst, int dw, int dh, ptrdiff_t ds,
                         grt_interp interp, void *work, size_t work_bytes) {
    grt_status st = check_args(src, sw, sh, ss, dst, dw, dh, ds, interp, work, work_bytes, 0);
    if (st) return st;
    if (sw == dw && sh == dh) { /* cv::resize copies when the size does not change */
        for (int y = 0; y < sh; y++) memcpy(dst + (ptrdiff_t)y * ds, src + (ptrdiff_t)y * ss, (size_t)sw);
        return GRT_OK;
    }
    plan p = make_plan(interp, sw, sh, dw, dh);
    carve c = {work, work_bytes};
    if (p.interp == GRT_INTER_NEAREST) return resize_nearest(src, sw, sh, (size_t)ss, dst, dw, dh, (size_t)ds, 1, &p, &c);
    if (p.true_area) {
        if (p.area_fast) return resize_area_fast_u8(src, sw, sh, ss, dst, dw, dh, ds, &p, &c);
        return resize_area_u8(src, sw, sh, ss, dst, dw, dh, ds, &p, &c);
    }
    return resize_generic_u8(src, sw, sh, ss, dst, dw, dh, ds, &p, &c);
}

grt_status grt_resize_f64(const double *src, int sw, int sh, ptrdiff_t ss, double *dst, int dw, int dh, ptrdiff_t ds,
                          grt_interp interp, void *work, size_t work_bytes) {
    grt_status st = check_args(src, sw, sh, ss, dst, dw, dh, ds, interp, work, work_bytes, 1);
    if (st) return st;
    if (sw == dw && sh == dh) {
        for (int y = 0; y < sh; y++)
            memcpy(dst + (ptrdiff_t)y * ds, src + (ptrdiff_t)y * ss, (size_t)sw * sizeof(double));
        return GRT_OK;
    }
    plan p = make_plan(interp, sw, sh, dw, dh);
    carve c = {work, work_bytes};
    if (p.interp == GRT_INTER_NEAREST)
        return resize_nearest((const uint8_t *)src, sw, sh, (size_t)ss * sizeof(double), (uint8_t *)dst, dw, dh,
                              (size_t)ds * sizeof(double), sizeof(double), &p, &c);
    if (p.true_area) {
        if (p.area_fast) return resize_area_fast_f64(src, sw, sh, ss, dst, dw, dh, ds, &p, &c);
        return resize_area_f64(src, sw, sh, ss, dst, dw, dh, ds, &p, &c);
    }
    if (p.interp == GRT_INTER_CUBIC)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "resize: INTER_CUBIC on float64 images is not implemented");
    return resize_linear_f64(src, sw, sh, ss, dst, dw, dh, ds, &p, &c);
}
