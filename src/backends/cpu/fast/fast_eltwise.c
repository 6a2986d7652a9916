/*
 * fast_eltwise.c — the elementwise ops the fusion pass could not fold into a convolution:
 * a standalone BatchNorm (scale/shift + activation), activations, add and mul, on either the
 * blocked or the row-major layout. Plain loops the compiler vectorises: these ops move a few
 * bytes per FLOP, so memory, not SIMD width, sets their speed.
 *
 * And softmax, row-major: the reference kernel sums in double with two exp() per element,
 * this one computes each exponential once in float (SkeletonGait++'s fusion: 84 -> ~10 ms).
 *
 * And the small ops of context modules on the blocked layout (XGait's after its backbones):
 * mean / mean + max over positions, a product broadcast over positions or channels, slices.
 *
 * Not here: other reductions, layout changes.
 */
#include <math.h>
#include <string.h>

#include "fast_internal.h"

/* The reference backend's activation (ref_kernels.h) so results match bit for bit. */
static inline float grt__act(float v, grt_act act, float alpha) {
    switch (act) {
    case GRT_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case GRT_ACT_LEAKY_RELU: return v > 0.0f ? v : v * alpha;
    case GRT_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

/* x, y (outer, C, inner); scale, shift (C). */
void grt_fast_scale_shift_plain(const float *x, float *y, int64_t outer, int64_t c, int64_t inner,
                                const float *scale, const float *shift, grt_act act, float alpha, int nt) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < c; k++) {
            const float *xp = x + (o * c + k) * inner;
            float *yp = y + (o * c + k) * inner;
            const float a = scale[k], b = shift[k];
            if (act == GRT_ACT_NONE) {
                for (int64_t i = 0; i < inner; i++) yp[i] = xp[i] * a + b;
            } else if (act == GRT_ACT_RELU) {
                for (int64_t i = 0; i < inner; i++) {
                    const float v = xp[i] * a + b;
                    yp[i] = v > 0.0f ? v : 0.0f;
                }
            } else {
                for (int64_t i = 0; i < inner; i++) yp[i] = grt__act(xp[i] * a + b, act, alpha);
            }
        }
}

/* x, y (outer, Cb, inner, B); scale, shift (Cb * B). */
void grt_fast_scale_shift_blocked(const float *x, float *y, int64_t outer, int64_t cb, int64_t inner, int blk,
                                  const float *scale, const float *shift, grt_act act, float alpha, int nt) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < cb; k++) {
            const float *xp = x + (o * cb + k) * inner * blk;
            float *yp = y + (o * cb + k) * inner * blk;
            const float *a = scale + k * blk, *b = shift + k * blk;
            for (int64_t i = 0; i < inner; i++) {
                if (act == GRT_ACT_NONE || act == GRT_ACT_RELU) {
                    for (int l = 0; l < blk; l++) {
                        const float v = xp[i * blk + l] * a[l] + b[l];
                        yp[i * blk + l] = act == GRT_ACT_RELU ? (v > 0.0f ? v : 0.0f) : v;
                    }
                } else {
                    for (int l = 0; l < blk; l++) yp[i * blk + l] = grt__act(xp[i * blk + l] * a[l] + b[l], act, alpha);
                }
            }
        }
}

void grt_fast_act(const float *x, float *y, int64_t n, grt_act act, float alpha, int nt) {
    if (act == GRT_ACT_RELU) {
#pragma omp parallel for simd schedule(static) num_threads(nt)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    } else if (act == GRT_ACT_LEAKY_RELU) { /* its own loop: vectorised (the switch below is not) */
#pragma omp parallel for simd schedule(static) num_threads(nt)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * alpha;
    } else {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t i = 0; i < n; i++) y[i] = grt__act(x[i], act, alpha);
    }
}

void grt_fast_add(const float *a, const float *b, float *y, int64_t n, int nt) {
#pragma omp parallel for simd schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void grt_fast_mul(const float *a, const float *b, float *y, int64_t n, int nt) {
#pragma omp parallel for simd schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

/* y = softmax of x (outer, len, inner) over the middle axis; in float, each exponential
 * once, stored in y and then divided by the sum (within a few ulp of the reference). */
void grt_fast_softmax(const float *x, int64_t outer, int64_t len, int64_t inner, float *y, int nt) {
    const grt_cpu_info *ci = grt_cpu_info_get();
    if (ci->avx2 && ci->fma) {
        grt_fast_softmax_avx2(x, outer, len, inner, y, nt);
        return;
    }
    enum { CH = 512 }; /* positions per task: its maxima and sums stay on the stack */
    const int64_t chunks = (inner + CH - 1) / CH;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t cb = 0; cb < chunks; cb++) {
            const int64_t i0 = cb * CH, ni = inner - i0 < CH ? inner - i0 : CH;
            const float *xp = x + o * len * inner + i0;
            float *yp = y + o * len * inner + i0;
            float m[CH], s[CH];
            for (int64_t i = 0; i < ni; i++) m[i] = -INFINITY, s[i] = 0.0f;
            for (int64_t k = 0; k < len; k++)
                for (int64_t i = 0; i < ni; i++) m[i] = xp[k * inner + i] > m[i] ? xp[k * inner + i] : m[i];
            for (int64_t k = 0; k < len; k++)
                for (int64_t i = 0; i < ni; i++) {
                    const float e = expf(xp[k * inner + i] - m[i]);
                    yp[k * inner + i] = e;
                    s[i] += e;
                }
            for (int64_t k = 0; k < len; k++)
                for (int64_t i = 0; i < ni; i++) yp[k * inner + i] /= s[i];
        }
}

/* Mean or mean + max of x (outer, len, inner) over the middle axis, as the reference kernel
 * computes it (sums in double in the same order, NaN wins the max), so the results are the
 * same bits; here the lanes of a chunk of `inner` advance together and vectorise. */
void grt_fast_reduce(const float *x, int64_t outer, int64_t len, int64_t inner, grt_reduce_mode mode, float *y, int nt) {
    enum { CH = 64 };
    const int64_t chunks = (inner + CH - 1) / CH;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t cb = 0; cb < chunks; cb++) {
            const int64_t i0 = cb * CH, ni = inner - i0 < CH ? inner - i0 : CH;
            const float *xp = x + o * len * inner + i0;
            double sum[CH];
            float m[CH];
            for (int64_t i = 0; i < ni; i++) sum[i] = 0.0, m[i] = -INFINITY;
            for (int64_t k = 0; k < len; k++)
                for (int64_t i = 0; i < ni; i++) {
                    const float v = xp[k * inner + i];
                    sum[i] += v;
                    m[i] = v > m[i] || v != v ? v : m[i];
                }
            float *yp = y + o * inner + i0;
            for (int64_t i = 0; i < ni; i++) {
                const float mean = (float)(sum[i] / (double)len);
                yp[i] = mode == GRT_REDUCE_MAX ? m[i] : mode == GRT_REDUCE_MEAN ? mean : mean + m[i];
            }
        }
}

/* The position strides of b over a's positions (0 along b's broadcast dims), in positions. */
static void grt__bcast_strides(const int64_t *as, const int64_t *bs, int ndim, int64_t *bstr) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 2; d--) {
        bstr[d] = bs[d] == 1 && as[d] != 1 ? 0 : s;
        s *= bs[d];
    }
}

void grt_fast_mul_bcast_blocked(const float *a, const int64_t *as, const float *b, const int64_t *bs, int ndim,
                                int b_blocked, int blk, float *y, int nt) {
    const int64_t cb = (as[1] + blk - 1) / blk;
    int64_t bstr[GRT_MAX_DIMS] = {0}, pos = 1, bpos = 1;
    grt__bcast_strides(as, bs, ndim, bstr);
    for (int d = 2; d < ndim; d++) pos *= as[d], bpos *= bs[d];
    const int64_t wlast = ndim > 2 ? as[ndim - 1] : 1, wstr = ndim > 2 ? bstr[ndim - 1] : 0, rows = pos / wlast;
    /* b's item and channel-block strides in floats: blocked (N, Cb, positions, B) or one
     * channel row-major (N, 1, positions) */
    const int64_t bn = bs[0] == 1 ? 0 : (b_blocked ? cb * bpos * blk : bpos), bc = b_blocked ? bpos * blk : 0;
#pragma omp parallel for collapse(3) schedule(static) num_threads(nt)
    for (int64_t n = 0; n < as[0]; n++)
        for (int64_t c = 0; c < cb; c++)
            for (int64_t r = 0; r < rows; r++) {
                int64_t boff = 0, rem = r; /* b's position of row r's first element */
                for (int d = ndim - 2; d >= 2; d--) {
                    boff += (rem % as[d]) * bstr[d];
                    rem /= as[d];
                }
                const float *ap = a + ((n * cb + c) * pos + r * wlast) * blk;
                float *yp = y + ((n * cb + c) * pos + r * wlast) * blk;
                if (b_blocked) {
                    const float *bq = b + n * bn + c * bc + boff * blk;
                    for (int64_t w = 0; w < wlast; w++)
                        for (int l = 0; l < blk; l++) yp[w * blk + l] = ap[w * blk + l] * bq[w * wstr * blk + l];
                } else {
                    const float *bq = b + n * bn + boff;
                    for (int64_t w = 0; w < wlast; w++) {
                        const float f = bq[w * wstr];
                        for (int l = 0; l < blk; l++) yp[w * blk + l] = ap[w * blk + l] * f;
                    }
                }
            }
}

void grt_fast_slice_blocked(const float *x, const int64_t *xs, int ndim, int axis, int64_t start, int64_t len, int blk,
                            float *y, int nt) {
    /* x as (outer, X, inner) floats along the sliced axis; channels count in blocks */
    int64_t outer = xs[0], dim = axis == 1 ? (xs[1] + blk - 1) / blk : xs[axis], inner = blk;
    if (axis == 1) start /= blk, len = (len + blk - 1) / blk;
    for (int d = 1; d < axis; d++) outer *= d == 1 ? (xs[1] + blk - 1) / blk : xs[d];
    for (int d = axis + 1; d < ndim; d++) inner *= xs[d];
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        memcpy(y + o * len * inner, x + (o * dim + start) * inner, (size_t)(len * inner) * sizeof(float));
}
