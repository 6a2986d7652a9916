/* test_zoo_kernels.c — the reference kernels of the model-zoo ops (softmax, average pool,
 * reduce, broadcasting multiply, frame tiling, label mask) against naive formulas written
 * out here, on odd sizes; and their shape inference through a small graph run on the
 * reference backend, including the error for a reduction over packed sequences. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/ref/ref_kernels.h"
#include "test_util.h"

static float rnd(grt_rng *r) { return grt_rng_uniform(r) * 2.0f - 1.0f; }

static void test_softmax(void) {
    grt_rng r = {1};
    /* (outer 3, len 4, inner 5) */
    float x[60], y[60];
    for (int i = 0; i < 60; i++) x[i] = 6.0f * rnd(&r);
    grt_ref_softmax(x, 3, 4, 5, y, 2);
    double maxe = 0;
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 5; i++) {
            double den = 0;
            for (int k = 0; k < 4; k++) den += exp(x[(o * 4 + k) * 5 + i]);
            for (int k = 0; k < 4; k++) {
                double e = fabs(y[(o * 4 + k) * 5 + i] - exp(x[(o * 4 + k) * 5 + i]) / den);
                if (e > maxe) maxe = e;
            }
        }
    printf("softmax: max abs error %.3g\n", maxe);
    CHECK(maxe < 1e-7);
}

static void test_avgpool(void) {
    grt_rng r = {2};
    struct { int64_t xs[5]; grt_pool_attr pa; } cases[] = {
        {{2, 3, 7, 1, 1}, {{3, 1, 1}, {1, 1, 1}, {1, 0, 0}}}, /* GaitPart's 3-frame template */
        {{1, 2, 6, 1, 1}, {{5, 1, 1}, {1, 1, 1}, {2, 0, 0}}}, /* and its 5-frame one */
        {{1, 2, 2, 1, 1}, {{5, 1, 1}, {1, 1, 1}, {2, 0, 0}}}, /* shorter than the window */
        {{1, 2, 3, 5, 4}, {{1, 3, 3}, {1, 2, 2}, {0, 1, 1}}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int64_t *xs = cases[ci].xs;
        const grt_pool_attr *pa = &cases[ci].pa;
        int64_t ys[5] = {xs[0], xs[1], 0, 0, 0};
        for (int d = 0; d < 3; d++) ys[2 + d] = (xs[2 + d] + 2 * pa->p[d] - pa->k[d]) / pa->s[d] + 1;
        size_t nx = xs[0] * xs[1] * xs[2] * xs[3] * xs[4], ny = ys[0] * ys[1] * ys[2] * ys[3] * ys[4];
        float *x = malloc(nx * 4), *y = malloc(ny * 4);
        for (size_t i = 0; i < nx; i++) x[i] = rnd(&r);
        grt_ref_avgpool(x, xs, y, ys, pa, 2);
        double maxe = 0;
        for (int64_t n = 0; n < ys[0]; n++)
            for (int64_t c = 0; c < ys[1]; c++)
                for (int64_t t = 0; t < ys[2]; t++)
                    for (int64_t h = 0; h < ys[3]; h++)
                        for (int64_t w = 0; w < ys[4]; w++) {
                            double acc = 0;
                            for (int a = 0; a < pa->k[0]; a++)
                                for (int u = 0; u < pa->k[1]; u++)
                                    for (int v = 0; v < pa->k[2]; v++) {
                                        int64_t ti = t * pa->s[0] - pa->p[0] + a, hi = h * pa->s[1] - pa->p[1] + u,
                                                wi = w * pa->s[2] - pa->p[2] + v;
                                        if (ti < 0 || ti >= xs[2] || hi < 0 || hi >= xs[3] || wi < 0 || wi >= xs[4]) continue;
                                        acc += x[(((n * xs[1] + c) * xs[2] + ti) * xs[3] + hi) * xs[4] + wi];
                                    }
                            acc /= pa->k[0] * pa->k[1] * pa->k[2];
                            double e = fabs(acc - y[(((n * ys[1] + c) * ys[2] + t) * ys[3] + h) * ys[4] + w]);
                            if (e > maxe) maxe = e;
                        }
        printf("avgpool case %zu: max abs error %.3g\n", ci, maxe);
        CHECK(maxe < 1e-6);
        free(x);
        free(y);
    }
}

static void test_reduce(void) {
    grt_rng r = {3};
    float x[2 * 6 * 3], y[6];
    for (int i = 0; i < 36; i++) x[i] = rnd(&r);
    for (int mode = 0; mode < 3; mode++) {
        grt_ref_reduce(x, 2, 6, 3, (grt_reduce_mode)mode, y, 2);
        for (int o = 0; o < 2; o++)
            for (int i = 0; i < 3; i++) {
                double s = 0;
                float m = -FLT_MAX;
                for (int k = 0; k < 6; k++) {
                    float v = x[(o * 6 + k) * 3 + i];
                    s += v;
                    if (v > m) m = v;
                }
                double want = mode == GRT_REDUCE_MAX ? m : mode == GRT_REDUCE_MEAN ? s / 6 : s / 6 + m;
                CHECK(fabs(y[o * 3 + i] - want) < 1e-6);
            }
    }
    /* NaN wins a max, as in PyTorch */
    float xn[3] = {1, NAN, 2}, yn;
    grt_ref_reduce(xn, 1, 3, 1, GRT_REDUCE_MAX, &yn, 1);
    CHECK(isnan(yn));
}

static void test_mul_bcast_tile_mask(void) {
    grt_rng r = {4};
    /* a (2, 3, 4, 5) * b (2, 1, 4, 1) and * b2 (1, 3, 1, 5) */
    int64_t as[4] = {2, 3, 4, 5}, bs[4] = {2, 1, 4, 1}, bs2[4] = {1, 3, 1, 5};
    float a[120], b[8], b2[15], y[120];
    for (int i = 0; i < 120; i++) a[i] = rnd(&r);
    for (int i = 0; i < 8; i++) b[i] = rnd(&r);
    for (int i = 0; i < 15; i++) b2[i] = rnd(&r);
    grt_ref_mul_bcast(a, as, b, bs, 4, y, 2);
    int bad = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 5; l++) {
                    int ai = ((i * 3 + j) * 4 + k) * 5 + l;
                    bad += y[ai] != a[ai] * b[i * 4 + k];
                }
    grt_ref_mul_bcast(a, as, b2, bs2, 4, y, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 5; l++) {
                    int ai = ((i * 3 + j) * 4 + k) * 5 + l;
                    bad += y[ai] != a[ai] * b2[j * 5 + l];
                }
    CHECK(bad == 0);
    /* tiling (1, 2, 2, 1, 3) to 4 frames: a, b, a, b */
    int64_t xs[5] = {1, 2, 2, 1, 3};
    float x[12], t[24];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    grt_ref_tile_t(x, xs, 4, t);
    for (int c = 0; c < 2; c++)
        for (int f = 0; f < 4; f++)
            for (int k = 0; k < 3; k++) CHECK(t[(c * 4 + f) * 3 + k] == x[(c * 2 + f % 2) * 3 + k]);
    /* label mask: set {0, 2, 3, 11}, labels compared after truncation towards zero */
    float lab[8] = {0, 2, 3.7f, 11, 12, -1, 70, -0.5f}, m[8];
    uint64_t set = 1u | (1u << 2) | (1u << 3) | (1u << 11);
    grt_ref_label_mask(lab, 8, set, 0.75f, m, 1);
    const float want[8] = {0.75f, 0.75f, 0.75f, 0.75f, 0.25f, 0.25f, 0.25f, 0.75f};
    for (int i = 0; i < 8; i++) CHECK(m[i] == want[i]);
}

/* The ops through a graph: shapes from the plan, values from the backend's node dispatch.
 * x (N, 2, T, 4, 3) -> tile to 3 frames -> a = 3-frame average over T -> sm = softmax over C,
 * r = mean over (H, W) broadcast back, m = label mask of a -> max over T of sm * r * m. */
static void test_graph_ops(void) {
    grt_graph *g = grt_graph_new();
    int x = grt_graph_input(g, 2, 4, 3);
    int t = grt_graph_tile_t(g, "tile", x, 3);
    int k[3] = {3, 1, 1}, s[3] = {1, 1, 1}, p[3] = {1, 0, 0};
    int a = grt_graph_avgpool(g, "avg", t, k, s, p);
    int sm = grt_graph_softmax(g, "softmax", a, 1);
    int r = grt_graph_reduce(g, "mean_hw", a, 3, 2, GRT_REDUCE_MEAN);   /* (N, 2, T) */
    int64_t r5[5] = {0, 0, 0, 1, 1};
    r = grt_graph_reshape(g, "r5", r, 5, r5);
    int y = grt_graph_mul_bcast(g, "mul", sm, r);
    int64_t one = 1;
    float gamma = 0.75f;
    int gv = grt_graph_const(g, "gamma", 1, &one, &gamma);
    int msk = grt_graph_label_mask(g, "mask", a, 1u, gv);                /* label set {0} */
    y = grt_graph_mul(g, "masked", y, msk);
    y = grt_graph_reduce(g, "tmax", y, 2, 1, GRT_REDUCE_MAX);            /* (N, 2, 4, 3) */
    int64_t rs[3] = {0, 2, -1};
    y = grt_graph_reshape(g, "flat", y, 3, rs);                          /* (N, 2, 12) */
    grt_graph_set_output(g, y);
    CHECK(g->temporal_mixing == 1);
    grt_plan *pl = NULL;
    grt_batch_shape b1 = {2, 1, 2};
    CHECK(grt_plan_create(g, &b1, &pl) == GRT_OK);
    if (pl) {
        CHECK(pl->v[t].shape[2] == 3);
        CHECK(pl->v[g->output].ndim == 3 && pl->v[g->output].shape[0] == 2 && pl->v[g->output].shape[2] == 12);
        grt_plan_free(pl);
    }
    const grt_backend_i *bk = grt_backend_cpu_ref();
    grt_backend_opts o;
    memset(&o, 0, sizeof o);
    void *st = NULL, *plan = NULL;
    CHECK(bk->prepare(g, &o, &st) == GRT_OK);
    CHECK(bk->plan(st, &b1, &plan) == GRT_OK);
    float in[2 * 2 * 12], out[2 * 24];
    grt_rng rng = {5};
    for (int i = 0; i < 48; i++) in[i] = 3.0f * rnd(&rng);
    const float *ins[1] = {in};
    grt_segment seg[2] = {{0, 0, 1}, {1, 0, 1}};
    grt_run_args ra = {ins, seg, out, NULL};
    CHECK(bk->run(plan, &ra) == GRT_OK);
    /* T = 1 tiled to three equal frames: the window average is 2/3, 1, 2/3 of the value */
    int bad = 0;
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 2; c++) {
            double mean[2] = {0, 0};
            for (int cc = 0; cc < 2; cc++)
                for (int i = 0; i < 12; i++) mean[cc] += in[(n * 2 + cc) * 12 + i] / 12.0;
            for (int i = 0; i < 12; i++) {
                double v = in[(n * 2 + c) * 12 + i], u = in[(n * 2 + 1 - c) * 12 + i], want = -INFINITY;
                for (int f = 0; f < 3; f++) {
                    double sc = f == 1 ? 1.0 : 2.0 / 3.0, av = v * sc;
                    double smv = 1.0 / (1.0 + exp(u * sc - av));
                    double mv = av > -1.0 && av < 1.0 ? 0.75 : 0.25; /* (int)av == 0 */
                    double val = smv * mean[c] * sc * mv;
                    if (val > want) want = val;
                }
                if (fabs(out[(n * 2 + c) * 12 + i] - want) > 1e-5 * (1 + fabs(want))) {
                    if (bad < 5) printf("n %d c %d i %d: got %g want %g (v %g u %g)\n", n, c, i, out[(n * 2 + c) * 12 + i], want, v, u);
                    bad++;
                }
            }
        }
    CHECK_MSG(bad == 0, "%d graph values differ", bad);
    bk->plan_release(plan);
    bk->release(st);
    /* a reduction over the frames of a packed item is refused, naming the layer */
    grt_batch_shape packed = {1, 4, 2};
    CHECK(grt_plan_create(g, &packed, &pl) == GAITRT_ERR_INPUT);
    printf("packed: %s\n", gaitrt_last_error());
    CHECK(strstr(gaitrt_last_error(), "tmax") != NULL);
    CHECK(strcmp(grt_op_name(GRT_OP_LABEL_MASK), "label_mask") == 0 && strcmp(grt_op_name(GRT_OP_SOFTMAX), "softmax") == 0);
    grt_graph_free(g);
}

int main(void) {
    test_softmax();
    test_avgpool();
    test_reduce();
    test_mul_bcast_tile_mask();
    test_graph_ops();
    return grt_test_finish("test_zoo_kernels");
}
