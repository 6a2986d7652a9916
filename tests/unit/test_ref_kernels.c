/* test_ref_kernels.c — every reference kernel against a naive formula written out here in
 * the most literal way (seven nested loops for a convolution), on odd sizes, strides,
 * padding, groups and several segments. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "backends/cpu/ref/ref_kernels.h"
#include "test_util.h"

static float rnd(grt_rng *r) { return grt_rng_uniform(r) * 2.0f - 1.0f; }

static void naive_conv(const float *x, const int64_t xs[5], const float *w, const int64_t ws[5], const float *b,
                       const float *res, float *y, const int64_t ys[5], const grt_conv_attr *c) {
    int64_t cog = ys[1] / c->groups;
    for (int64_t n = 0; n < ys[0]; n++)
        for (int64_t o = 0; o < ys[1]; o++)
            for (int64_t t = 0; t < ys[2]; t++)
                for (int64_t h = 0; h < ys[3]; h++)
                    for (int64_t q = 0; q < ys[4]; q++) {
                        double acc = b ? b[o] : 0;
                        int64_t g = o / cog;
                        for (int64_t i = 0; i < ws[1]; i++)
                            for (int64_t a = 0; a < ws[2]; a++)
                                for (int64_t u = 0; u < ws[3]; u++)
                                    for (int64_t v = 0; v < ws[4]; v++) {
                                        int64_t ti = t * c->s[0] - c->p[0] + a, hi = h * c->s[1] - c->p[1] + u,
                                                wi = q * c->s[2] - c->p[2] + v;
                                        if (ti < 0 || ti >= xs[2] || hi < 0 || hi >= xs[3] || wi < 0 || wi >= xs[4]) continue;
                                        acc += (double)x[(((n * xs[1] + g * ws[1] + i) * xs[2] + ti) * xs[3] + hi) * xs[4] + wi] *
                                               w[(((o * ws[1] + i) * ws[2] + a) * ws[3] + u) * ws[4] + v];
                                    }
                        size_t k = (((n * ys[1] + o) * ys[2] + t) * ys[3] + h) * ys[4] + q;
                        if (res) acc += res[k];
                        y[k] = grt_ref_apply_act((float)acc, c->act, c->alpha);
                    }
}

static void test_conv(void) {
    grt_rng r = {5};
    struct { int64_t xs[5]; int64_t co; int k[3], s[3], p[3], g; grt_act act; int res; } cases[] = {
        {{2, 3, 4, 11, 7}, 5, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, 1, GRT_ACT_RELU, 0},
        {{1, 4, 5, 9, 6}, 6, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, 1, GRT_ACT_NONE, 0},
        {{1, 4, 5, 9, 6}, 4, {3, 1, 1}, {1, 1, 1}, {1, 0, 0}, 1, GRT_ACT_NONE, 1},
        {{2, 4, 3, 8, 8}, 6, {3, 3, 3}, {1, 2, 2}, {1, 1, 1}, 2, GRT_ACT_LEAKY_RELU, 0},
        {{1, 6, 1, 5, 5}, 3, {1, 1, 1}, {1, 2, 2}, {0, 0, 0}, 1, GRT_ACT_RELU, 0},
        {{1, 2, 2, 4, 3}, 2, {1, 5, 5}, {1, 1, 1}, {0, 2, 2}, 1, GRT_ACT_SIGMOID, 1},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        grt_conv_attr c;
        memset(&c, 0, sizeof c);
        for (int d = 0; d < 3; d++) {
            c.k[d] = cases[ci].k[d];
            c.s[d] = cases[ci].s[d];
            c.p[d] = cases[ci].p[d];
            c.d[d] = 1;
        }
        c.groups = cases[ci].g;
        c.act = cases[ci].act;
        c.alpha = 0.1f;
        const int64_t *xs = cases[ci].xs;
        int64_t ws[5] = {cases[ci].co, xs[1] / c.groups, c.k[0], c.k[1], c.k[2]};
        int64_t ys[5] = {xs[0], cases[ci].co, 0, 0, 0};
        for (int d = 0; d < 3; d++) ys[2 + d] = (xs[2 + d] + 2 * c.p[d] - c.k[d]) / c.s[d] + 1;
        size_t nx = xs[0] * xs[1] * xs[2] * xs[3] * xs[4], nw = ws[0] * ws[1] * ws[2] * ws[3] * ws[4],
               ny = ys[0] * ys[1] * ys[2] * ys[3] * ys[4];
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(ws[0] * 4), *res = malloc(ny * 4), *y = malloc(ny * 4),
              *y2 = malloc(ny * 4);
        for (size_t i = 0; i < nx; i++) x[i] = rnd(&r);
        for (size_t i = 0; i < nw; i++) w[i] = rnd(&r);
        for (int64_t i = 0; i < ws[0]; i++) b[i] = rnd(&r);
        for (size_t i = 0; i < ny; i++) res[i] = rnd(&r);
        grt_ref_conv(x, xs, w, ws, b, cases[ci].res ? res : NULL, y, ys, &c, 2);
        naive_conv(x, xs, w, ws, b, cases[ci].res ? res : NULL, y2, ys, &c);
        double e = grt_rel_l2(y, y2, ny);
        printf("conv case %zu: rel L2 %.3g\n", ci, e);
        CHECK(e < 1e-6);
        free(x); free(w); free(b); free(res); free(y); free(y2);
    }
}

static void test_pooling(void) {
    grt_rng r = {9};
    /* temporal max over segments of a packed item and of a padded batch */
    int64_t xs[5] = {2, 3, 10, 4, 3};
    size_t nx = 2 * 3 * 10 * 4 * 3;
    float *x = malloc(nx * 4);
    for (size_t i = 0; i < nx; i++) x[i] = rnd(&r);
    grt_segment seg[3] = {{0, 0, 4}, {0, 4, 6}, {1, 2, 3}};
    float y[3 * 3 * 12];
    grt_ref_temporal_max(x, xs, y, seg, 3, 2);
    for (int s = 0; s < 3; s++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 12; i++) {
                float m = -FLT_MAX;
                for (int t = seg[s].t0; t < seg[s].t0 + seg[s].len; t++) {
                    float v = x[((seg[s].b * 3 + c) * 10 + t) * 12 + i];
                    if (v > m) m = v;
                }
                CHECK(y[(s * 3 + c) * 12 + i] == m);
            }
    /* HPP with bins [4, 2, 1] on (2, 3, 4, 3) */
    int64_t hs[4] = {2, 3, 4, 3};
    grt_hpp_attr h;
    memset(&h, 0, sizeof h);
    h.n_bins = 3;
    h.bins[0] = 4;
    h.bins[1] = 2;
    h.bins[2] = 1;
    float hy[2 * 3 * 7];
    grt_ref_hpp(x, hs, hy, &h, 0, 1);
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 3; c++) {
            const float *p = x + (s * 3 + c) * 12;
            int part = 0;
            for (int bi = 0; bi < 3; bi++) {
                int b = h.bins[bi], len = 12 / b;
                for (int k = 0; k < b; k++, part++) {
                    double sum = 0;
                    float m = -FLT_MAX;
                    for (int i = 0; i < len; i++) {
                        sum += p[k * len + i];
                        if (p[k * len + i] > m) m = p[k * len + i];
                    }
                    CHECK(fabs(hy[(s * 3 + c) * 7 + part] - (sum / len + m)) < 1e-6);
                }
            }
        }
    /* max pool 2x2 stride 2 with padding never winning */
    int64_t ps[5] = {1, 1, 1, 3, 3}, pys[5] = {1, 1, 1, 2, 2};
    float px[9] = {-1, -2, -3, -4, -5, -6, -7, -8, -9}, py[4];
    grt_pool_attr pa = {{1, 2, 2}, {1, 2, 2}, {0, 1, 1}};
    grt_ref_maxpool(px, ps, py, pys, &pa, 1);
    CHECK(py[0] == -1 && py[1] == -2 && py[2] == -4 && py[3] == -5);
    free(x);
}

static void test_fc_norm_movement(void) {
    grt_rng r = {3};
    int64_t xs[3] = {2, 5, 3};
    float x[30], w[3 * 5 * 4], y[2 * 4 * 3];
    for (int i = 0; i < 30; i++) x[i] = rnd(&r);
    for (int i = 0; i < 60; i++) w[i] = rnd(&r);
    for (int norm = 0; norm < 2; norm++) {
        grt_ref_sepfc(x, xs, w, 4, norm, y, 2);
        for (int s = 0; s < 2; s++)
            for (int o = 0; o < 4; o++)
                for (int p = 0; p < 3; p++) {
                    double acc = 0, nn = 0;
                    for (int c = 0; c < 5; c++) nn += w[(p * 5 + c) * 4 + o] * w[(p * 5 + c) * 4 + o];
                    for (int c = 0; c < 5; c++) acc += x[(s * 5 + c) * 3 + p] * w[(p * 5 + c) * 4 + o] / (norm ? sqrt(nn) : 1.0);
                    CHECK(fabs(y[(s * 4 + o) * 3 + p] - acc) < 1e-5);
                }
    }
    float l[30];
    grt_ref_l2norm(x, l, 2, 5, 3, 1e-12f, 1);
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < 3; p++) {
            double ss = 0;
            for (int c = 0; c < 5; c++) ss += l[(s * 5 + c) * 3 + p] * l[(s * 5 + c) * 3 + p];
            CHECK(fabs(ss - 1) < 1e-5);
        }
    /* transpose (2,5,3) -> (3,2,5), then slice and concat back */
    int64_t sh[3] = {2, 5, 3};
    int perm[3] = {2, 0, 1};
    float t[30];
    grt_ref_transpose(x, sh, 3, perm, t);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 5; c++) CHECK(t[(a * 2 + b) * 5 + c] == x[(b * 5 + c) * 3 + a]);
    float s1[12], s2[18], cat[30];
    grt_ref_slice(x, sh, 3, 1, 0, 2, s1);
    grt_ref_slice(x, sh, 3, 1, 2, 3, s2);
    const float *parts[2] = {s1, s2};
    int64_t shapes[2][GRT_MAX_DIMS] = {{2, 2, 3}, {2, 3, 3}};
    grt_ref_concat(parts, (const int64_t(*)[GRT_MAX_DIMS])shapes, 2, 3, 1, cat);
    CHECK(memcmp(cat, x, sizeof cat) == 0);
}

int main(void) {
    test_conv();
    test_pooling();
    test_fc_norm_movement();
    return grt_test_finish("test_ref_kernels");
}
