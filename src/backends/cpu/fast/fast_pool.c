/*
 * fast_pool.c — max and average pooling on the channel-blocked layout, portable C (the
 * fallback, and the yardstick fast_pool_avx2.c is tested against). One task per output row
 * of a channel block; the lanes of the block are the innermost loop.
 *
 * Max pooling skips the padding (PyTorch pads with -inf) and lets NaN through, as PyTorch's
 * max_pool does; average pooling counts the padding (count_include_pad=True), so the divisor
 * is always the window's volume.
 */
#include <math.h>

#include "fast_internal.h"

static inline __attribute__((always_inline)) void grt__pool_row(const float *x, const int64_t xs[5], float *y,
                                                                 const int64_t ys[5], const grt_pool_attr *pa, int avg,
                                                                 int64_t ot, int64_t oh, const int B) {
    const int64_t t0 = ot * pa->s[0] - pa->p[0], h0 = oh * pa->s[1] - pa->p[1];
    const int64_t ta = t0 < 0 ? 0 : t0, tb = t0 + pa->k[0] < xs[2] ? t0 + pa->k[0] : xs[2];
    const int64_t ha = h0 < 0 ? 0 : h0, hb = h0 + pa->k[1] < xs[3] ? h0 + pa->k[1] : xs[3];
    const float inv = 1.0f / (float)(pa->k[0] * pa->k[1] * pa->k[2]);
    for (int64_t ow = 0; ow < ys[4]; ow++) {
        const int64_t w0 = ow * pa->s[2] - pa->p[2];
        const int64_t wa = w0 < 0 ? 0 : w0, wb = w0 + pa->k[2] < xs[4] ? w0 + pa->k[2] : xs[4];
        float acc[16];
        for (int l = 0; l < B; l++) acc[l] = avg ? 0.0f : -INFINITY;
        for (int64_t t = ta; t < tb; t++)
            for (int64_t h = ha; h < hb; h++)
                for (int64_t w = wa; w < wb; w++) {
                    const float *xp = x + ((t * xs[3] + h) * xs[4] + w) * B;
                    if (avg) {
                        for (int l = 0; l < B; l++) acc[l] += xp[l];
                    } else {
                        for (int l = 0; l < B; l++) acc[l] = xp[l] > acc[l] || xp[l] != xp[l] ? xp[l] : acc[l];
                    }
                }
        float *yp = y + ow * B;
        for (int l = 0; l < B; l++) yp[l] = avg ? acc[l] * inv : acc[l];
    }
}

static void grt__pool_row_c(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa,
                            int avg, int64_t ot, int64_t oh, int blk) {
    if (blk == 16)
        grt__pool_row(x, xs, y, ys, pa, avg, ot, oh, 16);
    else
        grt__pool_row(x, xs, y, ys, pa, avg, ot, oh, 8);
}

/* Every ISA's pooling: one task per output row (plane, ot, oh), computed by `row`. */
void grt_fast_pool_rows(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa,
                        int avg, int blk, int nt, grt_fast_pool_row_fn row) {
    const int64_t planes = xs[0] * xs[1], xplane = xs[2] * xs[3] * xs[4] * blk, yplane = ys[2] * ys[3] * ys[4] * blk;
#pragma omp parallel for collapse(3) schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t ot = 0; ot < ys[2]; ot++)
            for (int64_t oh = 0; oh < ys[3]; oh++)
                row(x + pl * xplane, xs, y + pl * yplane + (ot * ys[3] + oh) * ys[4] * blk, ys, pa, avg, ot, oh, blk);
}

void grt_fast_pool_c(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa, int avg,
                     int blk, int nt) {
    grt_fast_pool_rows(x, xs, y, ys, pa, avg, blk, nt, grt__pool_row_c);
}
