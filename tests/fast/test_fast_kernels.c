/*
 * test_fast_kernels.c — the fast backend's head kernels one by one, for every ISA this CPU
 * runs (portable C, AVX2, AVX-512), against the reference kernels: temporal max and HPP on
 * the blocked layout (block 8 and 16, channel counts that leave a partial block, NaNs) must
 * match bit for bit; separate FCs to a relative L2 of 1e-6 (fp32 vs the reference's double
 * accumulation); max pooling bit for bit, average pooling within 1e-6. ISAs the CPU lacks
 * are reported as skipped. Then our Winograd convolution against the reference convolution,
 * and pooled by it (2x2 max, tile by tile) against pooling its output. And the portable
 * kernels of context modules (reductions, broadcast products, slices) on the blocked layout.
 */
#include <math.h>

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
    /* max and average pooling on the blocked layout: 2x2 stride 2, 3x3 stride 2 padded (odd
     * sizes), temporal 3 and 5 padded (GaitPart's templates): max bit for bit (NaN kept),
     * average within 1e-6 of the reference (which sums in another order) */
    {
        const struct { int64_t xs[5]; grt_pool_attr pa; } pc[] = {
            {{2, 13, 3, 8, 6}, {{1, 2, 2}, {1, 2, 2}, {0, 0, 0}}},
            {{2, 13, 3, 7, 5}, {{1, 3, 3}, {1, 2, 2}, {0, 1, 1}}},
            {{1, 21, 9, 1, 1}, {{3, 1, 1}, {1, 1, 1}, {1, 0, 0}}},
            {{1, 21, 9, 2, 1}, {{5, 1, 1}, {1, 1, 1}, {2, 0, 0}}},
        };
        for (int bi = 0; bi < 2; bi++)
            for (size_t q = 0; q < sizeof pc / sizeof pc[0]; q++)
                for (int avg = 0; avg < 2; avg++) {
                    const int blk = bi ? 16 : 8;
                    const int64_t *xs = pc[q].xs;
                    const grt_pool_attr *pa = &pc[q].pa;
                    int64_t ys[5] = {xs[0], xs[1], 0, 0, 0};
                    for (int d = 0; d < 3; d++) ys[2 + d] = (xs[2 + d] + 2 * pa->p[d] - pa->k[d]) / pa->s[d] + 1;
                    const int64_t in = xs[2] * xs[3] * xs[4], on = ys[2] * ys[3] * ys[4], cb = (xs[1] + blk - 1) / blk;
                    const int64_t numel = xs[0] * xs[1] * in, onum = ys[0] * ys[1] * on;
                    float *x = malloc(numel * sizeof(float)), *yr = malloc(onum * sizeof(float));
                    fill(x, numel, &r, !avg);
                    if (avg)
                        grt_ref_avgpool(x, xs, yr, ys, pa, 2);
                    else
                        grt_ref_maxpool(x, xs, yr, ys, pa, 2);
                    float *xb = to_blocked(x, xs[0], xs[1], in, blk), *yrb = to_blocked(yr, ys[0], ys[1], on, blk);
                    float *yb = calloc((size_t)(ys[0] * cb * on * blk), sizeof(float));
                    const int64_t xbs[5] = {xs[0], cb, xs[2], xs[3], xs[4]}, ybs[5] = {ys[0], cb, ys[2], ys[3], ys[4]};
                    k.pool(xb, xbs, yb, ybs, pa, avg, blk, 2);
                    const int64_t bn = ys[0] * cb * on * blk;
                    int64_t at = -1;
                    if (avg) {
                        double rel = grt_rel_l2(yb, yrb, (size_t)bn);
                        CHECK_MSG(rel <= 1e-6, "%s avgpool case %zu blk %d: rel L2 %.3g", k.isa_name, q, blk, rel);
                    } else {
                        CHECK_MSG(same(yb, yrb, bn, &at), "%s maxpool case %zu blk %d differs at %lld", k.isa_name, q, blk,
                                  (long long)at);
                    }
                    free(x), free(yr), free(xb), free(yrb), free(yb);
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
    printf("ISA %s: temporal max, HPP and max pooling bit-exact, average pooling and separate FCs within 1e-6\n",
           k.isa_name);
}

/* Winograd F(m x m, 3x3) against the reference convolution: frames of 1x1, 2x3, 11x7, 16x11
 * and 64x44 (tiles at every border, a tile count that is not a multiple of the block), with
 * and without bias, residual (the output holds it beforehand) and each activation. F(2x2)
 * stays within 3e-6 relative L2 of the reference's own fp32 sums (~1e-7 for narrow layers,
 * ~1.4e-6 over 512 input channels); F(4x4), the fp32 kernel of 2-D layers, within 1e-5, the
 * fp32 budget (~2-4x F(2x2)'s error on its points 0, +-1, 1/2, -2).
 * temporal = 1: the temporal F(2, 3) on a (3, 1, 1) kernel over the same shapes (odd and even
 * frame counts, one frame alone), within F(2x2)'s 3e-6; temporal = 3: a 3x3x3 kernel as three
 * F(m x m) passes (frame 0 and the last frame see two taps), within the 2-D bounds. */
static void check_wino(int m, int temporal) {
    const grt_cpu_info *ci_ = grt_cpu_info_get();
    if (!ci_->avx2 || !ci_->fma) {
        printf("winograd: no AVX2 here, SKIPPED\n");
        return;
    }
    const struct { int n, t, h, w, ci, co, bias, res; grt_act act; } cs[] = {
        {1, 1, 1, 1, 8, 16, 1, 0, GRT_ACT_NONE},     {2, 3, 2, 3, 16, 32, 0, 1, GRT_ACT_RELU},
        {1, 7, 11, 7, 24, 16, 1, 1, GRT_ACT_LEAKY_RELU}, {2, 5, 16, 11, 64, 48, 1, 1, GRT_ACT_RELU},
        {1, 2, 64, 44, 32, 32, 1, 0, GRT_ACT_RELU},   {1, 2, 16, 11, 512, 64, 1, 1, GRT_ACT_NONE},
        {2, 3, 8, 6, 16, 16, 1, 0, GRT_ACT_LEAKY_RELU},
    };
    const double tol = m == 4 && temporal != 1 ? 1e-5 : 3e-6;
    const char *what = temporal == 1 ? "temporal F(2,3)"
                       : temporal == 3 ? (m == 4 ? "3x3x3 as F(4x4,3x3) x 3" : "3x3x3 as F(2x2,3x3) x 3")
                                       : m == 4 ? "F(4x4,3x3)" : "F(2x2,3x3)";
    const int kt = temporal ? 3 : 1, ks = temporal == 1 ? 1 : 3;
    grt_rng r = {7};
    double worst = 0;
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        const int64_t n = cs[k].n, t = cs[k].t, h = cs[k].h, w = cs[k].w, ci = cs[k].ci, co = cs[k].co;
        const int64_t xs[5] = {n, ci, t, h, w}, ys[5] = {n, co, t, h, w};
        const int64_t ws[5] = {co, ci, kt, ks, ks};
        const int64_t xn = n * ci * t * h * w, yn = n * co * t * h * w;
        float *x = malloc(xn * sizeof(float)), *wt = malloc(co * ci * 27 * sizeof(float)), *b = malloc(co * sizeof(float));
        float *res = malloc(yn * sizeof(float)), *yr = malloc(yn * sizeof(float));
        fill(x, xn, &r, 0);
        fill(wt, co * ci * kt * ks * ks, &r, 0);
        fill(b, co, &r, 0);
        fill(res, yn, &r, 0);
        grt_conv_attr c = {{1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, 1, 0, cs[k].bias ? 0 : -1, cs[k].res ? 0 : -1,
                           cs[k].act, 0.1f};
        c.k[0] = kt, c.k[1] = c.k[2] = ks;
        c.p[0] = kt / 2, c.p[1] = c.p[2] = ks / 2;
        grt_ref_conv(x, xs, wt, ws, cs[k].bias ? b : NULL, cs[k].res ? res : NULL, yr, ys, &c, 2);
        CHECK(grt_fast_wino_fits(&c, ci, co, 8) == (temporal == 0) && grt_fast_wino_t_fits(&c, ci, co, 8) == (temporal == 1) &&
              grt_fast_wino_3d_fits(&c, ci, co, 8) == (temporal == 3));
        float *u = malloc((temporal == 1 ? 4 : grt_fast_wino_points(m) * kt) * ci * co * sizeof(float));
        if (temporal == 1)
            grt_fast_wino_t_pack(wt, ci, co, u);
        else if (temporal == 3)
            grt_fast_wino_3d_pack(wt, ci, co, m, u);
        else
            grt_fast_wino_pack(wt, ci, co, m, u);
        float *xb = to_blocked(x, n, ci, t * h * w, 8);
        float *yb = cs[k].res ? to_blocked(res, n, co, t * h * w, 8) : calloc(yn, sizeof(float));
        float *scr = malloc(temporal == 1 ? grt_fast_wino_t_scratch_bytes(n * ((t + 1) / 2) * h * w, ci, co, 2)
                                     : grt_fast_wino_scratch_bytes(n * t * ((h + m - 1) / m) * ((w + m - 1) / m), ci, co, 2, m));
        if (temporal == 3) {
            /* the same conv from the kernel as it is, one tap transformed per pass into the
             * front of a larger scratch (threads splitting the transform): bit-identical */
            const size_t sb = grt_fast_wino_scratch_bytes(n * t * ((h + m - 1) / m) * ((w + m - 1) / m), ci, co, 2, m);
            float *yl = malloc(yn * sizeof(float)), *scl = malloc(grt_fast_wino_3d_tap_bytes(ci, co, m) + sb);
            memcpy(yl, yb, yn * sizeof(float));
            grt_fast_wino_3d_conv_avx2(xb, yb, u, NULL, cs[k].bias ? b : NULL, n, t, h, w, ci, co, cs[k].res, cs[k].act,
                                       0.1f, m, 1, scr, 2);
            grt_fast_wino_3d_conv_avx2(xb, yl, NULL, wt, cs[k].bias ? b : NULL, n, t, h, w, ci, co, cs[k].res, cs[k].act,
                                       0.1f, m, 1, scl, 2);
            CHECK_MSG(memcmp(yl, yb, yn * sizeof(float)) == 0, "winograd %s case %zu: taps transformed per pass differ",
                      what, k);
            free(yl), free(scl);
        }
        /* on an AVX-512 CPU: the GEMMs with 512-bit registers (where Co/16 is even) and with
         * 256-bit ones give the same bits */
        const int n_isa = ci_->avx512f && temporal != 3 ? 2 : 1;
        float *y0 = malloc(yn * sizeof(float)), *y512 = malloc(yn * sizeof(float));
        memcpy(y0, yb, yn * sizeof(float));
        for (int pass = 0; pass < n_isa; pass++) {
            float *yo = pass == 0 ? yb : y512;
            if (pass) memcpy(y512, y0, yn * sizeof(float));
            grt_fast_wino_avx512_force(pass == 0 ? 0 : 1);
            if (temporal == 1)
                grt_fast_wino_t_conv_avx2(xb, yo, u, cs[k].bias ? b : NULL, n, t, h * w, ci, co, cs[k].res, cs[k].act,
                                          0.1f, scr, 2);
            else if (temporal == 0)
                grt_fast_wino_conv_avx2(xb, yo, u, cs[k].bias ? b : NULL, n, t, h, w, ci, co, cs[k].res, cs[k].act, 0.1f,
                                        m, 0, scr, 2);
            if (pass) CHECK_MSG(memcmp(yb, y512, yn * sizeof(float)) == 0, "winograd %s case %zu: AVX-512 GEMMs differ", what, k);
        }
        grt_fast_wino_avx512_force(-1);
        free(y0), free(y512);
        if (temporal == 0 && !cs[k].res && h % 2 == 0 && w % 2 == 0) {
            /* pooled by the conv, tile by tile: bit for bit the 2x2 max pooling of its output,
             * also where a NaN in the input made whole tiles NaN */
            const int64_t pn = n * co * t * (h / 2) * (w / 2), ps[5] = {n, co / 8, t, h / 2, w / 2};
            const int64_t us[5] = {n, co / 8, t, h, w};
            const grt_pool_attr pa = {{1, 2, 2}, {1, 2, 2}, {0, 0, 0}};
            float *yp = malloc(pn * sizeof(float)), *yq = malloc(pn * sizeof(float)), *yu = malloc(yn * sizeof(float));
            for (int with_nan = 0; with_nan < 2; with_nan++) {
                float *xn_ = malloc(xn * sizeof(float));
                memcpy(xn_, x, xn * sizeof(float));
                if (with_nan) xn_[xn / 2 + 3] = NAN;
                float *xbn = to_blocked(xn_, n, ci, t * h * w, 8);
                grt_fast_wino_conv_avx2(xbn, yu, u, cs[k].bias ? b : NULL, n, t, h, w, ci, co, 0, cs[k].act, 0.1f, m, 0,
                                        scr, 2);
                grt_fast_wino_conv_avx2(xbn, yp, u, cs[k].bias ? b : NULL, n, t, h, w, ci, co, 0, cs[k].act, 0.1f, m, 1,
                                        scr, 2);
                grt_fast_pool_c(yu, us, yq, ps, &pa, 0, 8, 2);
                int64_t at = -1, nans = 0;
                for (int64_t i = 0; i < pn; i++) nans += isnan(yp[i]);
                CHECK_MSG(same(yp, yq, pn, &at), "winograd %s case %zu: pooled output differs at %lld", what, k,
                          (long long)at);
                /* (ReLU maps NaN to 0 here as in the reference kernels; leaky ReLU keeps it) */
                CHECK_MSG((nans > 0) == (with_nan && cs[k].act != GRT_ACT_RELU), "winograd %s case %zu: %lld NaN in the "
                          "pooled output", what, k, (long long)nans);
                free(xn_), free(xbn);
            }
            free(yp), free(yq), free(yu);
        }
        float *yrb = to_blocked(yr, n, co, t * h * w, 8);
        double rel = grt_rel_l2(yb, yrb, (size_t)yn);
        printf("winograd %s N=%lld T=%lld frames %lldx%lld, %lld -> %lld channels: rel L2 %.3g\n", what, (long long)n,
               (long long)t, (long long)h, (long long)w, (long long)ci, (long long)co, rel);
        CHECK_MSG(rel <= tol, "winograd %s case %zu: rel L2 %.3g", what, k, rel);
        if (rel > worst) worst = rel;
        free(x), free(wt), free(b), free(res), free(yr), free(u), free(xb), free(yb), free(scr), free(yrb);
    }
    printf("winograd %s avx2: max rel L2 %.3g\n", what, worst);
}

/* Softmax, portable and AVX2, against the reference (double sums): lengths 1, 2 and 5, inner
 * sizes with a vector tail, logits spread over +-120 so that some exponentials underflow.
 * Outputs are probabilities: every one within 1e-6 of the reference, and rel L2 within 1e-6
 * (the float difference x - max rounds where logits reach hundreds; the reference subtracts
 * in double). */
static void check_softmax(void) {
    const grt_cpu_info *ci = grt_cpu_info_get();
    const struct { int64_t outer, len, inner; } cs[] = {{1, 2, 5419}, {3, 5, 77}, {2, 1, 9}, {1, 2, 8}};
    grt_rng r = {11};
    for (int v = 0; v < 2; v++) {
        if (v == 1 && !(ci->avx2 && ci->fma)) {
            printf("softmax avx2: no AVX2 here, SKIPPED\n");
            break;
        }
        double worst = 0, worst_l2 = 0;
        for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
            const int64_t n = cs[k].outer * cs[k].len * cs[k].inner;
            float *x = malloc(n * sizeof(float)), *yr = malloc(n * sizeof(float)), *yf = malloc(n * sizeof(float));
            fill(x, n, &r, 0);
            for (int64_t i = 0; i < n; i++) x[i] *= (i % 7 == 0) ? 120.0f : 4.0f;
            grt_ref_softmax(x, cs[k].outer, cs[k].len, cs[k].inner, yr, 2);
            if (v == 0) {
                /* the portable loop: what grt_fast_softmax runs without AVX2 */
                grt_cpu_info saved = *ci;
                ((grt_cpu_info *)ci)->avx2 = 0;
                grt_fast_softmax(x, cs[k].outer, cs[k].len, cs[k].inner, yf, 2);
                *(grt_cpu_info *)ci = saved;
            } else {
                grt_fast_softmax_avx2(x, cs[k].outer, cs[k].len, cs[k].inner, yf, 2);
            }
            for (int64_t i = 0; i < n; i++) {
                const double d = fabs((double)yf[i] - yr[i]);
                if (d > worst) worst = d;
            }
            const double l2 = grt_rel_l2(yf, yr, (size_t)n);
            if (l2 > worst_l2) worst_l2 = l2;
            free(x), free(yr), free(yf);
        }
        printf("softmax %s: worst element error %.3g, rel L2 %.3g\n", v ? "avx2" : "portable", worst, worst_l2);
        CHECK_MSG(worst <= 1e-6 && worst_l2 <= 1e-6, "softmax %s: worst element error %.3g, rel L2 %.3g",
                  v ? "avx2" : "portable", worst, worst_l2);
    }
}

static int64_t numel_of(const int64_t *s, int ndim) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= s[d];
    return n;
}

/* The context-module kernels on the blocked layout (block 8 and 16, channel counts with a
 * partial block): reductions over a middle axis (max, mean, mean + max; lane chunks with a
 * tail; NaNs) bit for bit against the reference; products broadcast over positions (b
 * blocked, items 1 or N, 3-D and 5-D) or over channels (b one channel, row-major) and slices
 * along channels (whole blocks, a partial last one) and each position axis, all bit for bit
 * against the reference on the row-major data. */
static void check_context(void) {
    grt_rng r = {21};
    const int64_t rs[][3] = {{3, 176, 8}, {2, 5, 48}, {1, 7, 100}, {4, 1, 16}};
    for (size_t q = 0; q < sizeof rs / sizeof rs[0]; q++)
        for (int mode = GRT_REDUCE_MAX; mode <= GRT_REDUCE_MEAN_MAX; mode++) {
            const int64_t n = rs[q][0] * rs[q][1] * rs[q][2], on = rs[q][0] * rs[q][2];
            float *x = malloc(n * sizeof(float)), *yr = malloc(on * sizeof(float)), *yf = malloc(on * sizeof(float));
            fill(x, n, &r, 1);
            grt_ref_reduce(x, rs[q][0], rs[q][1], rs[q][2], (grt_reduce_mode)mode, yr, 2);
            grt_fast_reduce(x, rs[q][0], rs[q][1], rs[q][2], (grt_reduce_mode)mode, yf, 2);
            int64_t at = -1;
            CHECK_MSG(same(yf, yr, on, &at), "reduce case %zu mode %d differs at %lld", q, mode, (long long)at);
            free(x), free(yr), free(yf);
        }
    const struct { int nd; int64_t as[5], bs[5]; } ms[] = {
        {5, {2, 20, 3, 4, 5}, {2, 20, 3, 1, 1}}, {5, {2, 20, 3, 4, 5}, {1, 20, 1, 1, 1}},
        {5, {2, 13, 3, 4, 5}, {2, 13, 1, 4, 5}}, {5, {2, 20, 3, 4, 5}, {2, 1, 3, 4, 5}},
        {5, {2, 20, 3, 4, 5}, {1, 1, 3, 1, 5}},  {3, {2, 20, 7, 0, 0}, {2, 20, 1, 0, 0}},
        {3, {2, 9, 7, 0, 0}, {2, 1, 7, 0, 0}},   {5, {2, 20, 3, 4, 5}, {2, 1, 3, 4, 1}},
        {3, {1, 9, 7, 0, 0}, {1, 1, 1, 0, 0}},
    };
    const struct { int64_t xs[5]; int axis, start, len; } ss[] = {
        {{2, 20, 3, 4, 5}, 1, 8, 8}, {{2, 20, 3, 4, 5}, 1, 16, 4}, {{2, 20, 3, 4, 5}, 1, 0, 16}, {{2, 20, 3, 4, 5}, 2, 1, 2},
        {{2, 20, 3, 4, 5}, 3, 1, 2}, {{2, 13, 3, 4, 5}, 4, 2, 3},
    };
    for (int bi = 0; bi < 2; bi++) {
        const int blk = bi ? 16 : 8;
        for (size_t q = 0; q < sizeof ms / sizeof ms[0]; q++) {
            const int nd = ms[q].nd;
            const int64_t *as = ms[q].as, *bs = ms[q].bs, an = numel_of(as, nd), bn = numel_of(bs, nd);
            const int64_t pos = an / as[0] / as[1], bpos = bn / bs[0] / bs[1], cb = (as[1] + blk - 1) / blk;
            float *a = malloc(an * sizeof(float)), *b = malloc(bn * sizeof(float)), *yr = malloc(an * sizeof(float));
            fill(a, an, &r, 0);
            fill(b, bn, &r, 0);
            grt_ref_mul_bcast(a, as, b, bs, nd, yr, 2);
            const int b_blocked = bs[1] == as[1];
            float *ab = to_blocked(a, as[0], as[1], pos, blk), *yrb = to_blocked(yr, as[0], as[1], pos, blk);
            float *bb = b_blocked ? to_blocked(b, bs[0], bs[1], bpos, blk) : b;
            float *yb = calloc((size_t)(as[0] * cb * pos * blk), sizeof(float));
            grt_fast_mul_bcast_blocked(ab, as, bb, bs, nd, b_blocked, blk, yb, 2);
            /* padding lanes: a's zeros times a negative factor are -0 (still zero) */
            for (int64_t i = 0; i < as[0] * cb * pos * blk; i++)
                if ((i / (pos * blk)) % cb * blk + i % blk >= as[1]) yb[i] = 0.0f;
            int64_t at = -1;
            CHECK_MSG(same(yb, yrb, as[0] * cb * pos * blk, &at), "mul_bcast case %zu blk %d differs at %lld", q, blk,
                      (long long)at);
            if (b_blocked) free(bb);
            free(a), free(b), free(yr), free(ab), free(yrb), free(yb);
        }
        for (size_t q = 0; q < sizeof ss / sizeof ss[0]; q++) {
            const int64_t *xs = ss[q].xs, xn = numel_of(xs, 5);
            int64_t ys[5];
            memcpy(ys, xs, sizeof ys);
            ys[ss[q].axis] = ss[q].len;
            const int64_t yn = numel_of(ys, 5), xpos = xn / xs[0] / xs[1], ypos = yn / ys[0] / ys[1];
            float *x = malloc(xn * sizeof(float)), *yr = malloc(yn * sizeof(float));
            fill(x, xn, &r, 0);
            grt_ref_slice(x, xs, 5, ss[q].axis, ss[q].start, ss[q].len, yr);
            float *xb = to_blocked(x, xs[0], xs[1], xpos, blk), *yrb = to_blocked(yr, ys[0], ys[1], ypos, blk);
            const int64_t ybn = ys[0] * ((ys[1] + blk - 1) / blk) * ypos * blk;
            float *yb = malloc(ybn * sizeof(float));
            if (ss[q].axis == 1 && ss[q].start % blk) { /* not a whole-block slice at this block size */
                free(x), free(yr), free(xb), free(yrb), free(yb);
                continue;
            }
            grt_fast_slice_blocked(xb, xs, 5, ss[q].axis, ss[q].start, ss[q].len, blk, yb, 2);
            int64_t at = -1;
            CHECK_MSG(same(yb, yrb, ybn, &at), "slice case %zu blk %d differs at %lld", q, blk, (long long)at);
            free(x), free(yr), free(xb), free(yrb), free(yb);
        }
    }
    printf("context kernels (reduce, broadcast product, slice): bit-exact\n");
}

/* The Winograd tile blocks: narrow layers 48 tiles; wide ones the block that gives the
 * busiest thread the fewest tiles under a static split (the largest such), a multiple of 6. */
static void check_tile_blocks(void) {
    CHECK(grt_fast_wino_tile_block(5280, 64, 64, 2, 4) == 48);
    CHECK(grt_fast_wino_tile_block(720, 512, 512, 2, 4) == 120); /* not 144: 5 blocks, 432 tiles against 288 */
    CHECK(grt_fast_wino_tile_block(768, 512, 512, 2, 4) == 96);
    CHECK(grt_fast_wino_tile_block(360, 512, 512, 2, 4) == 90);
    CHECK(grt_fast_wino_tile_block(2880, 256, 512, 2, 4) == 144);
    for (int nt = 1; nt <= 4; nt++)
        for (int64_t n = 1; n <= 3000; n += 7) {
            const int tb = grt_fast_wino_tile_block(n, 512, 512, nt, 4);
            const int64_t nblk = (n + tb - 1) / tb, first = (nblk + nt - 1) / nt;
            const int64_t load = first * tb < n ? first * tb : n, ideal = (n + nt - 1) / nt;
            CHECK_MSG(tb % 6 == 0 && tb >= 48 && tb <= GRT_WINO_TB_MAX, "%d tiles, %d threads: block %d", (int)n, nt, tb);
            /* within one block of the even split, at worst */
            CHECK_MSG(load <= ideal + tb, "%d tiles, %d threads: block %d gives the first thread %d", (int)n, nt, tb, (int)load);
        }
}

/* A wide 3x3x3 conv on few frames: its shifted passes cover fewer frames than the scratch was
 * sized for, and must not take a larger tile block than it holds. */
static void check_wino_3d_few_frames(void) {
    const grt_cpu_info *ci_ = grt_cpu_info_get();
    if (!ci_->avx2 || !ci_->fma) return;
    grt_rng r = {11};
    const int64_t ci = 256, co = 512;
    /* 3x3x3 on two frames of 16x11, 256 -> 512: its shifted passes cover one frame (48 tiles)
     * in scratch sized for both (96): one thread and two alike, within the exact scratch (the
     * sanitizers' build sees a pass that takes a larger block than the scratch holds) */
    const int64_t t3 = 2, h3 = 16, w3 = 11, x3n = ci * t3 * h3 * w3, y3n = co * t3 * h3 * w3, tiles = t3 * 8 * 6;
    float *x3 = malloc(x3n * sizeof(float)), *wt3 = malloc(co * ci * 27 * sizeof(float));
    float *u3 = malloc(3 * 16 * ci * co * sizeof(float)), *ya = malloc(y3n * sizeof(float)), *yb = malloc(y3n * sizeof(float));
    fill(x3, x3n, &r, 0);
    fill(wt3, co * ci * 27, &r, 0);
    grt_fast_wino_3d_pack(wt3, ci, co, 2, u3);
    for (int nt = 1; nt <= 2; nt++) {
        float *sc = malloc(grt_fast_wino_scratch_bytes(tiles, ci, co, nt, 2));
        grt_fast_wino_3d_conv_avx2(x3, nt == 1 ? ya : yb, u3, NULL, NULL, 1, t3, h3, w3, ci, co, 0, GRT_ACT_NONE, 0.0f, 2, 1,
                                   sc, nt);
        free(sc);
    }
    CHECK_MSG(memcmp(ya, yb, y3n * sizeof(float)) == 0, "winograd 3x3x3 %d -> %d on %d frames: two threads differ from one",
              (int)ci, (int)co, (int)t3);
    free(x3), free(wt3), free(u3), free(ya), free(yb);
}

int main(void) {
    check_tile_blocks();
    check_wino_3d_few_frames();
    check_softmax();
    check_context();
    check_wino(2, 0);
    check_wino(4, 0);
    check_wino(2, 1);
    check_wino(2, 3);
    check_wino(4, 3);
    check_isa(GRT_FAST_ISA_C);
    check_isa(GRT_FAST_ISA_AVX2);
    check_isa(GRT_FAST_ISA_AVX512);
    return grt_test_finish("test_fast_kernels");
}
