/* broadcast.c — reference broadcasting multiply, frame tiling and label masks: the small
 * elementwise ops of XGait's alignment modules and GaitGL's short-sequence rule. Not general
 * broadcasting: only the second operand broadcasts, and both have the same rank. */
#include <math.h>

#include "ref_kernels.h"

void grt_ref_mul_bcast(const float *a, const int64_t *as, const float *b, const int64_t *bs, int ndim, float *y, int nt) {
    /* strides of b over a's index space: 0 along broadcast dims */
    int64_t bstr[GRT_MAX_DIMS], s = 1, total = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        bstr[d] = bs[d] == 1 ? 0 : s;
        s *= bs[d];
        total *= as[d];
    }
    /* rows of the innermost dim; each row's b offset computed from its index */
    const int64_t inner = ndim > 0 ? as[ndim - 1] : 1, rows = inner ? total / inner : 0;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, off = 0;
        for (int d = ndim - 2; d >= 0; d--) {
            off += (rem % as[d]) * bstr[d];
            rem /= as[d];
        }
        const float *ap = a + r * inner;
        float *yp = y + r * inner;
        const int64_t bi = ndim > 0 ? bstr[ndim - 1] : 0;
        for (int64_t k = 0; k < inner; k++) yp[k] = ap[k] * b[off + k * bi];
    }
}

void grt_ref_tile_t(const float *x, const int64_t xs[5], int64_t to, float *y) {
    const int64_t NC = xs[0] * xs[1], T = xs[2], HW = xs[3] * xs[4];
    for (int64_t i = 0; i < NC; i++)
        for (int64_t t = 0; t < to; t++) {
            const float *src = x + (i * T + t % T) * HW;
            float *dst = y + (i * to + t) * HW;
            for (int64_t k = 0; k < HW; k++) dst[k] = src[k];
        }
}

void grt_ref_label_mask(const float *x, int64_t n, uint64_t labels, float gamma, float *y, int nt) {
    const float other = 1.0f - gamma;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        /* labels are compared after truncation towards zero, as a cast to an integer tensor does
         * (so -0.5 is label 0); NaN and labels outside 0..63 are in no set */
        int in = v > -1.0f && v < 64.0f && ((labels >> (int)v) & 1u);
        y[i] = in ? gamma : other;
    }
}
