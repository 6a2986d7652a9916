/*
 * fast_graphs.h — small helpers for the fast CPU backend's tests and benchmark: random
 * weights, conv + BN blocks built directly with graph.h, GaitBase- and DeepGaitV2-P3D-shaped
 * graphs, and "run this graph on backend X" with the backend interface.
 *
 * Not a model loader: the graphs mirror the shapes of OpenGait's networks (spec/gaitbase.md,
 * spec/deepgaitv2.md) with random weights, which is all a backend comparison needs.
 */
#ifndef GRT_FAST_GRAPHS_H
#define GRT_FAST_GRAPHS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"

typedef struct fg_ctx {
    grt_graph *g;
    grt_rng rng;
    int n_const;
} fg_ctx;

/* A constant of the given shape with N(0, scale^2) entries. */
static inline int fg_rand(fg_ctx *c, int ndim, const int64_t *shape, float scale) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *d = malloc((size_t)n * sizeof(float));
    if (!d) return -1;
    for (int64_t i = 0; i < n; i++) d[i] = grt_rng_normal(&c->rng) * scale;
    char key[32];
    snprintf(key, sizeof key, "w%d", c->n_const++);
    int v = grt_graph_const(c->g, key, ndim, shape, d);
    free(d);
    return v;
}

/* A constant with entries uniform in [lo, hi). */
static inline int fg_uniform(fg_ctx *c, int64_t n, float lo, float hi) {
    float *d = malloc((size_t)n * sizeof(float));
    if (!d) return -1;
    for (int64_t i = 0; i < n; i++) d[i] = lo + (hi - lo) * grt_rng_uniform(&c->rng);
    char key[32];
    snprintf(key, sizeof key, "u%d", c->n_const++);
    int v = grt_graph_const(c->g, key, 1, &n, d);
    free(d);
    return v;
}

/* conv (Co, Ci/g, kt, kh, kw) with He-scaled weights; bias when with_bias. */
static inline int fg_conv(fg_ctx *c, const char *name, int x, int ci, int co, int kt, int kh, int kw, int st, int sh,
                          int sw, int pt, int ph, int pw, int groups, int with_bias) {
    int64_t ws[5] = {co, ci / groups, kt, kh, kw};
    int w = fg_rand(c, 5, ws, sqrtf(2.0f / (float)(ci / groups * kt * kh * kw)));
    int b = with_bias ? fg_uniform(c, co, -0.1f, 0.1f) : -1;
    const int k[3] = {kt, kh, kw}, s[3] = {st, sh, sw}, p[3] = {pt, ph, pw};
    return grt_graph_conv(c->g, name, x, w, b, k, s, p, groups);
}

/* BatchNorm with random statistics (the fusion pass folds it into the conv before it). */
static inline int fg_bn(fg_ctx *c, const char *name, int x, int ch) {
    int gamma = fg_uniform(c, ch, 0.5f, 1.5f), beta = fg_uniform(c, ch, -0.2f, 0.2f);
    int mean = fg_uniform(c, ch, -0.2f, 0.2f), var = fg_uniform(c, ch, 0.5f, 2.0f);
    return grt_graph_batchnorm(c->g, name, x, gamma, beta, mean, var, 1e-5f);
}

/* conv -> BN [-> relu] */
static inline int fg_cbr(fg_ctx *c, const char *name, int x, int ci, int co, int kt, int kh, int kw, int sh, int pt,
                         int ph, int relu) {
    int y = fg_conv(c, name, x, ci, co, kt, kh, kw, 1, sh, sh, pt, ph, ph, 1, 0);
    y = fg_bn(c, name, y, co);
    return relu ? grt_graph_act(c->g, name, y, GRT_ACT_RELU, 0) : y;
}

/* torchvision BasicBlock over frames (kt = 1). */
static inline int fg_basic2d(fg_ctx *c, const char *name, int x, int ci, int co, int s) {
    int id = x;
    if (s != 1 || ci != co) {
        id = fg_conv(c, name, x, ci, co, 1, 1, 1, 1, s, s, 0, 0, 0, 1, 0);
        id = fg_bn(c, name, id, co);
    }
    int y = fg_cbr(c, name, x, ci, co, 1, 3, 3, s, 0, 1, 1);
    y = fg_cbr(c, name, y, co, co, 1, 3, 3, 1, 0, 1, 0);
    y = grt_graph_add(c->g, name, y, id);
    return grt_graph_act(c->g, name, y, GRT_ACT_RELU, 0);
}

/* DeepGaitV2 BasicBlockP3D: per-frame 3x3, then a (3,1,1) temporal conv added to its own
 * input, per-frame 3x3, residual. */
static inline int fg_p3d(fg_ctx *c, const char *name, int x, int ci, int co, int s) {
    int id = x;
    if (s != 1 || ci != co) {
        id = fg_conv(c, name, x, ci, co, 1, 1, 1, 1, s, s, 0, 0, 0, 1, 0);
        id = fg_bn(c, name, id, co);
    }
    int a = fg_cbr(c, name, x, ci, co, 1, 3, 3, s, 0, 1, 1);
    int t = fg_conv(c, name, a, co, co, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0);
    t = fg_bn(c, name, t, co);
    int b = grt_graph_add(c->g, name, a, t);
    b = grt_graph_act(c->g, name, b, GRT_ACT_RELU, 0);
    int y = fg_cbr(c, name, b, co, co, 1, 3, 3, 1, 0, 1, 0);
    y = grt_graph_add(c->g, name, y, id);
    return grt_graph_act(c->g, name, y, GRT_ACT_RELU, 0);
}

/* The sequence head: temporal max, HPP with 16 bins, separate FCs (16, C, co). */
static inline int fg_head(fg_ctx *c, int x, int ch, int co) {
    x = grt_graph_temporal_max(c->g, "TP", x);
    const int bins[1] = {16};
    x = grt_graph_hpp(c->g, "HPP", x, 1, bins);
    int64_t fs[3] = {16, ch, co};
    int w = fg_rand(c, 3, fs, 0.044f);
    return grt_graph_sepfc(c->g, "FCs", x, w, 0);
}

/* GaitBase (ResNet9 [64,128,256,512], strides [1,2,2,1]) on 64x44 silhouettes; `width`
 * scales the channels (1.0 = the real network). */
static inline grt_graph *fg_gaitbase(uint64_t seed, int h, int w, float width) {
    fg_ctx c = {grt_graph_new(), {seed}, 0};
    if (!c.g) return NULL;
    int ch[4];
    for (int i = 0; i < 4; i++) ch[i] = (int)(64 * (1 << i) * width);
    int x = grt_graph_input(c.g, 1, h, w);
    x = fg_cbr(&c, "conv1", x, 1, ch[0], 1, 3, 3, 1, 0, 1, 1);
    const int st[4] = {1, 2, 2, 1};
    int in = ch[0];
    for (int l = 0; l < 4; l++) {
        char name[32];
        snprintf(name, sizeof name, "layer%d.0", l + 1);
        x = fg_basic2d(&c, name, x, in, ch[l], st[l]);
        in = ch[l];
    }
    x = fg_head(&c, x, ch[3], ch[3] / 2);
    grt_graph_set_output(c.g, x);
    return c.g;
}

/* DeepGaitV2-P3D with `layers` blocks per stage (layer1 is always 2-D). */
static inline grt_graph *fg_deepgaitv2_p3d(uint64_t seed, int h, int w, const int layers[4]) {
    fg_ctx c = {grt_graph_new(), {seed}, 0};
    if (!c.g) return NULL;
    const int ch[4] = {64, 128, 256, 512}, st[4] = {1, 2, 2, 1};
    int x = grt_graph_input(c.g, 1, h, w);
    x = fg_cbr(&c, "layer0", x, 1, 64, 1, 3, 3, 1, 0, 1, 1);
    int in = 64;
    for (int l = 0; l < 4; l++)
        for (int b = 0; b < layers[l]; b++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", l + 1, b);
            int s = b == 0 ? st[l] : 1;
            x = l == 0 ? fg_basic2d(&c, name, x, in, ch[l], s) : fg_p3d(&c, name, x, in, ch[l], s);
            in = ch[l];
        }
    x = fg_head(&c, x, 512, 256);
    grt_graph_set_output(c.g, x);
    return c.g;
}

/* One backend, prepared and planned for a batch shape. */
typedef struct fg_runner {
    const grt_backend_i *bk;
    void *st, *pl;
} fg_runner;

static inline int fg_open(fg_runner *r, const grt_backend_i *bk, const grt_graph *g, const grt_batch_shape *bs,
                          grt_precision prec, int threads) {
    memset(r, 0, sizeof *r);
    r->bk = bk;
    if (!bk) return -1;
    grt_backend_opts o = {0};
    o.precision = prec;
    o.n_threads = threads;
    if (bk->prepare(g, &o, &r->st) != GRT_OK) return -1;
    if (bk->plan(r->st, bs, &r->pl) != GRT_OK) {
        bk->release(r->st);
        r->st = NULL;
        return -1;
    }
    return 0;
}

static inline void fg_close(fg_runner *r) {
    if (r->pl) r->bk->plan_release(r->pl);
    if (r->st) r->bk->release(r->st);
    memset(r, 0, sizeof *r);
}

static inline int fg_run(fg_runner *r, const float *const *inputs, const grt_segment *seg, float *out, grt_prof *prof) {
    grt_run_args a = {inputs, seg, out, prof};
    return r->bk->run(r->pl, &a) == GRT_OK ? 0 : -1;
}


#endif
