/* gpu_models.c — backbone-shaped graphs with random weights for the GPU benchmark and the
 * CUDA host tests (see gpu_models.h). Block structures follow OpenGait's BasicBlock2D,
 * BasicBlockP3D (2-D conv, temporal (3,1,1) conv added to its own input, 2-D conv) and
 * BasicBlock3D; every conv is followed by BatchNorm, as in the checkpoints, so the fusion
 * pass has the same work to do as on a real model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_models.h"

grt_bb_cfg grt_bb_gaitbase(void) {
    grt_bb_cfg c = {GRT_BB_2D, 1, 64, 44, {64, 128, 256, 512}, {1, 1, 1, 1}, {1, 2, 2, 1}, 1, {16}, 256};
    return c;
}

grt_bb_cfg grt_bb_deepgaitv2(const char *mode) {
    grt_bb_cfg c = {GRT_BB_P3D, 1, 64, 44, {64, 128, 256, 512}, {1, 4, 4, 1}, {1, 2, 2, 1}, 1, {16}, 256};
    if (mode && strcmp(mode, "2d") == 0) c.mode = GRT_BB_2D;
    if (mode && strcmp(mode, "3d") == 0) c.mode = GRT_BB_3D;
    return c;
}

typedef struct bb {
    grt_graph *g;
    grt_rng r;
    int bad;
} bb;

static int bb_const(bb *b, const char *key, int nd, const int64_t *sh, float std, float base) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= sh[d];
    float *v = malloc((size_t)n * sizeof(float));
    if (!v) {
        b->bad = 1;
        return -1;
    }
    for (int64_t i = 0; i < n; i++) v[i] = base + (std > 0 ? grt_rng_normal(&b->r) * std : grt_rng_uniform(&b->r) * -std);
    int id = grt_graph_const(b->g, key, nd, sh, v);
    free(v);
    if (id < 0) b->bad = 1;
    return id;
}

/* conv with kernel (kt, kh, kw), spatial stride s, "same" padding; He-scaled weights */
static int bb_conv(bb *b, const char *name, int x, int ci, int co, int kt, int kh, int kw, int s, int groups, int bias) {
    if (x < 0) return -1;
    int64_t ws[5] = {co, ci / groups, kt, kh, kw};
    int w = bb_const(b, name, 5, ws, sqrtf(2.0f / (float)(ci / groups * kt * kh * kw)), 0.0f);
    int64_t bs = co;
    int bi = bias ? bb_const(b, "bias", 1, &bs, 0.1f, 0.0f) : -1;
    int k[3] = {kt, kh, kw}, st[3] = {1, s, s}, p[3] = {kt / 2, kh / 2, kw / 2};
    int y = grt_graph_conv(b->g, name, x, w, bi, k, st, p, groups);
    if (y < 0) b->bad = 1;
    return y;
}

/* BatchNorm with statistics like a trained network's (as grt_sd_add_random_bn) */
static int bb_bn(bb *b, const char *name, int x, int c) {
    if (x < 0) return -1;
    int64_t cs = c;
    int gm = bb_const(b, "bn.weight", 1, &cs, -1.0f, 0.5f);
    int bt = bb_const(b, "bn.bias", 1, &cs, -0.2f, -0.1f);
    int mn = bb_const(b, "bn.running_mean", 1, &cs, -0.2f, -0.1f);
    int vr = bb_const(b, "bn.running_var", 1, &cs, -1.0f, 0.5f);
    int y = grt_graph_batchnorm(b->g, name, x, gm, bt, mn, vr, 1e-5f);
    if (y < 0) b->bad = 1;
    return y;
}

static int bb_relu(bb *b, const char *name, int x) {
    if (x < 0) return -1;
    int y = grt_graph_act(b->g, name, x, GRT_ACT_RELU, 0);
    if (y < 0) b->bad = 1;
    return y;
}

static int bb_add(bb *b, const char *name, int x, int y) {
    if (x < 0 || y < 0) return -1;
    int z = grt_graph_add(b->g, name, x, y);
    if (z < 0) b->bad = 1;
    return z;
}

static int bb_block(bb *b, grt_bb_mode mode, const char *pre, int x, int inpl, int planes, int s) {
    char n[96];
    /* the shortcut first: the fusion pass folds the add into the conv that follows it */
    int idn = x;
    if (s != 1 || inpl != planes) {
        snprintf(n, sizeof n, "%s.downsample", pre);
        idn = bb_bn(b, n, bb_conv(b, n, x, inpl, planes, 1, 1, 1, s, 1, 0), planes);
    }
    int y;
    if (mode == GRT_BB_3D) {
        snprintf(n, sizeof n, "%s.conv1", pre);
        y = bb_relu(b, n, bb_bn(b, n, bb_conv(b, n, x, inpl, planes, 3, 3, 3, s, 1, 0), planes));
        snprintf(n, sizeof n, "%s.conv2", pre);
        y = bb_bn(b, n, bb_conv(b, n, y, planes, planes, 3, 3, 3, 1, 1, 0), planes);
    } else {
        snprintf(n, sizeof n, "%s.conv1", pre);
        y = bb_relu(b, n, bb_bn(b, n, bb_conv(b, n, x, inpl, planes, 1, 3, 3, s, 1, 0), planes));
        if (mode == GRT_BB_P3D) { /* relu(y + bn(conv_t(y))) */
            snprintf(n, sizeof n, "%s.shortcut3d", pre);
            int t = bb_bn(b, n, bb_conv(b, n, y, planes, planes, 3, 1, 1, 1, 1, 0), planes);
            y = bb_relu(b, n, bb_add(b, n, t, y));
        }
        snprintf(n, sizeof n, "%s.conv2", pre);
        y = bb_bn(b, n, bb_conv(b, n, y, planes, planes, 1, 3, 3, 1, 1, 0), planes);
    }
    snprintf(n, sizeof n, "%s.add", pre);
    return bb_relu(b, n, bb_add(b, n, y, idn));
}

grt_graph *grt_bb_build(const grt_bb_cfg *c, uint64_t seed) {
    bb b = {grt_graph_new(), {seed}, 0};
    if (!b.g) return NULL;
    int x = grt_graph_input(b.g, c->in_ch, c->height, c->width);
    x = bb_relu(&b, "layer0", bb_bn(&b, "layer0", bb_conv(&b, "layer0", x, c->in_ch, c->channels[0], 1, 3, 3, 1, 1, 0), c->channels[0]));
    int inpl = c->channels[0];
    for (int L = 0; L < 4; L++) {
        for (int k = 0; k < c->layers[L]; k++) {
            char pre[32];
            snprintf(pre, sizeof pre, "layer%d.%d", L + 1, k);
            x = bb_block(&b, L == 0 ? GRT_BB_2D : c->mode, pre, x, inpl, c->channels[L], k == 0 ? c->strides[L] : 1);
            inpl = c->channels[L];
        }
    }
    if (x >= 0) x = grt_graph_temporal_max(b.g, "TP", x);
    if (x >= 0) x = grt_graph_hpp(b.g, "HPP", x, c->n_bins, c->bins);
    int parts = 0;
    for (int i = 0; i < c->n_bins; i++) parts += c->bins[i];
    int64_t fs[3] = {parts, inpl, c->fc_out};
    int fw = bb_const(&b, "FCs.fc_bin", 3, fs, 1.0f / sqrtf((float)inpl), 0.0f);
    if (x >= 0 && fw >= 0) x = grt_graph_sepfc(b.g, "FCs", x, fw, 0);
    if (x < 0 || b.bad) {
        grt_graph_free(b.g);
        return NULL;
    }
    grt_graph_set_output(b.g, x);
    return b.g;
}

grt_graph *grt_bb_all_ops(uint64_t seed) {
    bb b = {grt_graph_new(), {seed}, 0};
    if (!b.g) return NULL;
    grt_graph *g = b.g;
    int x = grt_graph_input(g, 1, 12, 8);
    /* a label mask on the input, frames repeated up to 8 when the sequence is shorter */
    int64_t one = 1;
    float gv = 0.8f;
    int gamma = grt_graph_const(g, "mask.gamma", 1, &one, &gv);
    int lm = gamma >= 0 ? grt_graph_label_mask(g, "mask", x, (uint64_t)1 << 1, gamma) : -1;
    int tl = lm >= 0 ? grt_graph_tile_t(g, "tile", lm, 8) : -1;
    /* 2-D conv + BN + ReLU (fused), grouped 3-D conv with bias + leaky ReLU (conv + epilogue) */
    int c1 = bb_relu(&b, "c1", bb_bn(&b, "c1", bb_conv(&b, "c1", tl, 1, 4, 1, 3, 3, 1, 1, 0), 4));
    int c2 = bb_conv(&b, "c2", c1, 4, 6, 3, 3, 3, 1, 2, 1);
    if (c2 >= 0) c2 = grt_graph_act(g, "c2.act", c2, GRT_ACT_LEAKY_RELU, 0.1f);
    /* 3-D max pool; average pool, BN + sigmoid (not after a conv: stays a scale/shift), mul;
     * softmax over channels, mean + max over (h, w), broadcast back as an attention weight */
    int pk[3] = {3, 2, 2}, ps[3] = {1, 2, 2}, pp[3] = {1, 0, 0}, ak[3] = {1, 3, 3}, as[3] = {1, 1, 1}, ap[3] = {0, 1, 1};
    int p = c2 >= 0 ? grt_graph_maxpool(g, "pool", c2, pk, ps, pp) : -1;
    int av = p >= 0 ? grt_graph_avgpool(g, "avgpool", p, ak, as, ap) : -1;
    int b2 = bb_bn(&b, "bn2", av, 6);
    if (b2 >= 0) b2 = grt_graph_act(g, "bn2.sigmoid", b2, GRT_ACT_SIGMOID, 0);
    int m = b2 >= 0 ? grt_graph_mul(g, "mul", b2, p) : -1;
    int sm = m >= 0 ? grt_graph_softmax(g, "softmax", m, 1) : -1;
    int rd = sm >= 0 ? grt_graph_reduce(g, "reduce", sm, 3, 2, GRT_REDUCE_MEAN_MAX) : -1;
    int64_t att_shape[5] = {0, 0, 0, 1, 1};
    int att = rd >= 0 ? grt_graph_reshape(g, "att", rd, 5, att_shape) : -1;
    int mb = att >= 0 ? grt_graph_mul_bcast(g, "mul_bcast", p, att) : -1;
    /* frames and channels swapped, then reshaped back to p's shape: a reshape that mixes
     * dims (not a view), so the add needs a layout change */
    int tfc[5] = {0, 2, 1, 3, 4};
    int64_t mix_shape[5] = {0, 6, -1, 6, 4};
    int sw = p >= 0 ? grt_graph_transpose(g, "swap", p, 5, tfc) : -1;
    int mix = sw >= 0 ? grt_graph_reshape(g, "mix", sw, 5, mix_shape) : -1;
    int a = bb_add(&b, "add", mb, mix);
    if (a >= 0) a = grt_graph_act(g, "add.leaky", a, GRT_ACT_LEAKY_RELU, 0.2f);
    /* concat on channels, slice, two transposes that cancel (views), 1x1x1 conv + residual */
    int cat_in[2] = {a, p};
    int cat = a >= 0 ? grt_graph_concat(g, "cat", 2, cat_in, 1) : -1;
    int sl = cat >= 0 ? grt_graph_slice(g, "slice", cat, 1, 2, 8) : -1;
    int tp[5] = {0, 2, 1, 3, 4};
    int tr = sl >= 0 ? grt_graph_transpose(g, "tr", sl, 5, tp) : -1;
    int tr2 = tr >= 0 ? grt_graph_transpose(g, "tr2", tr, 5, tp) : -1;
    int c3 = bb_relu(&b, "c3", bb_add(&b, "c3.add", bb_conv(&b, "c3", tr2, 8, 8, 1, 1, 1, 1, 1, 1), tr2));
    int c4 = bb_conv(&b, "c4", c3, 8, 8, 1, 1, 1, 1, 1, 0); /* no bias, no act */
    /* head: temporal max, reshape (forces a layout change), HPP, GeM, concat on parts */
    int tm = c4 >= 0 ? grt_graph_temporal_max(g, "TP", c4) : -1;
    int64_t rs_shape[4] = {0, 0, -1, 1};
    int rs = tm >= 0 ? grt_graph_reshape(g, "reshape", tm, 4, rs_shape) : -1;
    int bins1[3] = {4, 2, 1}, bins2[2] = {2, 1};
    int hp = rs >= 0 ? grt_graph_hpp(g, "HPP", rs, 3, bins1) : -1;
    float pv = 3.0f;
    int gp = grt_graph_const(g, "gem.p", 1, &one, &pv);
    int gm = tm >= 0 && gp >= 0 ? grt_graph_gem_hpp(g, "GeM", tm, 2, bins2, gp, 1e-6f) : -1;
    int c5_in[2] = {hp, gm};
    int c5 = hp >= 0 && gm >= 0 ? grt_graph_concat(g, "parts", 2, c5_in, 2) : -1;
    int64_t fs[3] = {10, 8, 5};
    int fw = bb_const(&b, "fc", 3, fs, 0.3f, 0.0f);
    int fc = c5 >= 0 && fw >= 0 ? grt_graph_sepfc(g, "FCs", c5, fw, 1) : -1;
    int bn3 = bb_bn(&b, "bnneck", fc, 5);
    int out = bn3 >= 0 ? grt_graph_l2norm(g, "l2", bn3, 1e-12f) : -1;
    if (out < 0 || b.bad) {
        grt_graph_free(g);
        return NULL;
    }
    grt_graph_set_output(g, out);
    return g;
}

float *grt_bb_silhouettes(int first, int n, int c, int t, int h, int w, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)n * c * t * h * w);
    if (!x) return NULL;
    for (int k = 0; k < n; k++) {
        const int i = first + k;
        grt_rng r = {seed * 1000003u + (uint64_t)i};
        for (int ch = 0; ch < c; ch++)
            for (int f = 0; f < t; f++) {
                const float cy = h * (0.45f + 0.1f * sinf(0.3f * (float)(f + 7 * i)));
                const float cx = w * (0.5f + 0.15f * cosf(0.4f * (float)(f + 3 * i)));
                const float ry = h * 0.35f, rx = w * (0.2f + 0.05f * (float)((i + ch) % 3));
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) {
                        const float dy = (y - cy) / ry, dx = (xx - cx) / rx;
                        float v = dy * dy + dx * dx <= 1.0f ? 1.0f : 0.0f;
                        if (grt_rng_uniform(&r) < 0.03f) v = 1.0f - v;
                        x[((((size_t)k * c + ch) * t + f) * h + y) * w + xx] = v;
                    }
            }
    }
    return x;
}

double grt_bb_macs(const grt_graph *g, const grt_batch_shape *bs) {
    grt_plan *p = NULL;
    if (grt_plan_create(g, bs, &p) != GRT_OK) return 0;
    double m = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == GRT_OP_CONV || g->nodes[i].op == GRT_OP_SEPFC) m += p->node_flops[i] / 2;
    grt_plan_free(p);
    return m;
}
