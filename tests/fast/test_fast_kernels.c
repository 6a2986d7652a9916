/*
 * test_fast_kernels.c — the fast backend's head kernels one by one, for every ISA this CPU
 * runs (portable C, AVX2, AVX-512), against the reference kernels: temporal max and HPP on
 * the blocked layout (block 8 and 16, channel counts that leave a partial block, NaNs) must
 * match bit for bit; separate FCs to a relative L2 of 1e-6 (fp32 vs the reference's double
 * accumulation). ISAs the CPU lacks are reported as skipped.
 */
#include "backends/cpu/fast/fast_internal.h"
#include "backends/cpu/ref/ref_kernels.h"
#include "test_util.h"

/* x (N, C, inner) row-major -> (N, Cb, inner, B) blocked, padding zero. */
static float *to_blocked(const float *x, int64_t n, int64_t c, int64_t inner, int blk) {
    const int64_t cb = (c + blk - 1) / blk;
    float *y = calloc((size_t)(n * cb * inner * blk), sizeof(float));
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t j = 0; j < inner; j++) y[((i * cb + k / blk) * inner + j) * blk + k % blk] = x[(i * c + k) * inner + j];
    return y;
}

static void fill(float *x, int64_t n, grt_rng *r, int with_nan) {
    for (int64_t i = 0; i < n; i++) x[i] = grt_rng_normal(r);
    if (with_nan && n > 7) x[n / 3] = NAN, x[n / 2 + 1] = NAN;
}

/* bitwise equality that treats every NaN as equal */
static int same(const float *a, const float *b, int64_t n, int64_t *where) {
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            *where = i;
            return 0;
        }
    }
    return 1;
}

static void check_isa(grt_fast_isa isa) {
    grt_fast_kernels k;
    grt_fast_kernels_select(&k, isa);
    if (k.isa != isa) {
        printf("ISA %d: not supported by this CPU, SKIPPED\n", (int)isa);
        return;
    }
    grt_rng r = {42};
    const int blks[2] = {8, 16};
    for (int bi = 0; bi < 2; bi++) {
        const int blk = blks[bi];
        /* temporal max: (N=2, C=13, T=9, H=5, W=3) with three segments */
        {
            const int64_t xs[5] = {2, 13, 9, 5, 3}, hw = 15, numel = 2 * 13 * 9 * 15;
            float *x = malloc(numel * sizeof(float));
            fill(x, numel, &r, 1);
            const grt_segment seg[3] = {{0, 0, 4}, {0, 4, 5}, {1, 2, 7}};
            float *yr = malloc(3 * 13 * hw * sizeof(float));
            grt_ref_temporal_max(x, xs, yr, seg, 3, 2);
            float *xb = to_blocked(x, 2, 13, 9 * hw, blk);
            const int64_t cb = (13 + blk - 1) / blk;
            float *yb = calloc((size_t)(3 * cb * hw * blk), sizeof(float));
            k.temporal_max(xb, 2, cb, 9, hw * blk, seg, 3, yb, 2);
            float *yrb = to_blocked(yr, 3, 13, hw, blk);
            int64_t at = -1;
            CHECK_MSG(same(yb, yrb, 3 * cb * hw * blk, &at), "%s temporal max blk %d differs at %lld", k.isa_name, blk,
                      (long long)at);
            free(x), free(yr), free(xb), free(yb), free(yrb);
        }
        /* HPP: (S=3, C=21, H=8, W=6), bins 8, 4, 2, 1 */
        {
            const int64_t xs[4] = {3, 21, 8, 6}, hw = 48, numel = 3 * 21 * 48;
            float *x = malloc(numel * sizeof(float));
            fill(x, numel, &r, 1);
            grt_hpp_attr h = {0};
            h.n_bins = 4;
            h.bins[0] = 8, h.bins[1] = 4, h.bins[2] = 2, h.bins[3] = 1;
            float *yr = malloc(3 * 21 * 15 * sizeof(float)), *yf = malloc(3 * 21 * 15 * sizeof(float));
            grt_ref_hpp(x, xs, yr, &h, 0.0f, 2);
            float *xb = to_blocked(x, 3, 21, hw, blk);
            k.hpp(xb, 3, 21, hw, blk, h.bins, h.n_bins, yf, 2);
            int64_t at = -1;
            CHECK_MSG(same(yf, yr, 3 * 21 * 15, &at), "%s hpp blk %d differs at %lld: %g vs %g", k.isa_name, blk,
                      (long long)at, at >= 0 ? yf[at] : 0.0, at >= 0 ? yr[at] : 0.0);
            free(x), free(yr), free(yf), free(xb);
        }
    }
    /* separate FCs: (S, C=72, P=5) x (5, 72, Co) for S = 1..3 and Co = 64, 40 (SIMD and tail) */
    for (int s_n = 1; s_n <= 3; s_n++)
        for (int oi = 0; oi < 2; oi++) {
            const int64_t c = 72, p = 5, co = oi ? 40 : 64, xs[3] = {s_n, c, p};
            float *x = malloc(s_n * c * p * sizeof(float)), *w = malloc(p * c * co * sizeof(float));
            fill(x, s_n * c * p, &r, 0);
            fill(w, p * c * co, &r, 0);
            float *yr = malloc(s_n * co * p * sizeof(float)), *yf = malloc(s_n * co * p * sizeof(float));
            grt_ref_sepfc(x, xs, w, co, 0, yr, 2);
            k.sepfc(x, s_n, c, p, w, co, yf, 2);
            double rel = grt_rel_l2(yf, yr, (size_t)(s_n * co * p));
            CHECK_MSG(rel <= 1e-6, "%s sepfc S=%d Co=%lld rel L2 %.3g", k.isa_name, s_n, (long long)co, rel);
            free(x), free(w), free(yr), free(yf);
        }
    printf("ISA %s: temporal max and HPP bit-exact, separate FCs within 1e-6\n", k.isa_name);
}

int main(void) {
    check_isa(GRT_FAST_ISA_C);
    check_isa(GRT_FAST_ISA_AVX2);
    check_isa(GRT_FAST_ISA_AVX512);
    return grt_test_finish("test_fast_kernels");
}
