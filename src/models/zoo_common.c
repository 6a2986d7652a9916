/* zoo_common.c — the building blocks of zoo.h: OpenGait's BasicBlock2D / BasicBlockP3D /
 * BasicBlock3D, the TP -> HPP -> FCs head, the BNNeck feature, cost accounting and random
 * weights. What it is not: a model family (those live in one file each). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "models/zoo.h"

const int zoo_s1[3] = {1, 1, 1};
const int zoo_p0[3] = {0, 0, 0};
const int zoo_p_hw1[3] = {0, 1, 1};
const int zoo_p_all1[3] = {1, 1, 1};

const grt_tensor *zoo_find(const grt_state_dict *sd, const char *fmt, ...) {
    char key[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    return grt_state_dict_find(sd, key);
}

int zoo_conv_bn(grt_builder *b, const char *name, const char *wkey, const char *bn, int x, const int s[3],
                const int p[3], grt_act act, int ndim, const int64_t *expect) {
    const grt_tensor *w = grt_state_dict_find(b->sd, wkey);
    int y = grt_builder_conv(b, name, wkey, x, s, p, ndim, expect);
    if (bn) y = grt_builder_bn(b, bn, y, w && w->ndim >= 1 ? w->shape[0] : -1);
    if (y >= 0 && act != GRT_ACT_NONE) {
        y = grt_graph_act(b->g, name, y, act, act == GRT_ACT_LEAKY_RELU ? 0.01f : 0.0f);
        if (y < 0) b->st = GAITRT_ERR_NOMEM;
    }
    return y;
}

/* Projection shortcut `<pre>.downsample.{0,1}`: a 1x1 conv (2-D [planes, in, 1, 1] or 3-D
 * [planes, in, 1, 1, 1]) with spatial stride, then BN. Returns x itself when there is none. */
static int zoo__shortcut(grt_builder *b, const char *pre, int x, int64_t inplanes, int64_t planes, int stride,
                         int project, int ndim) {
    char key[224], bn[224];
    snprintf(key, sizeof key, "%s.downsample.0.weight", pre);
    if (!project && !grt_builder_has(b, key)) return x;
    snprintf(bn, sizeof bn, "%s.downsample.1", pre);
    char name[224];
    snprintf(name, sizeof name, "%s.downsample", pre);
    const int s[3] = {1, stride, stride};
    const int64_t e4[4] = {planes, inplanes, 1, 1}, e5[5] = {planes, inplanes, 1, 1, 1};
    return zoo_conv_bn(b, name, key, bn, x, s, zoo_p0, GRT_ACT_NONE, ndim, ndim == 4 ? e4 : e5);
}

/* out = ReLU(y + identity) */
static int zoo__add_relu(grt_builder *b, const char *pre, int y, int identity) {
    char name[288];
    snprintf(name, sizeof name, "%s.add", pre);
    if (y >= 0 && identity >= 0) y = grt_graph_add(b->g, name, y, identity);
    else y = -1;
    snprintf(name, sizeof name, "%s.relu", pre);
    if (y >= 0) y = grt_graph_act(b->g, name, y, GRT_ACT_RELU, 0);
    return y;
}

int zoo_block_2d(grt_builder *b, const char *pre, int x, int64_t inplanes, int64_t planes, int stride, int project) {
    char key[256], bn[256], name[256];
    /* the shortcut first, so that the fusion pass can add it inside conv2 */
    int identity = zoo__shortcut(b, pre, x, inplanes, planes, stride, project, 4);
    const int s[3] = {1, stride, stride};
    const int64_t ea[4] = {planes, inplanes, 3, 3}, eb[4] = {planes, planes, 3, 3};
    snprintf(key, sizeof key, "%s.conv1.weight", pre);
    snprintf(bn, sizeof bn, "%s.bn1", pre);
    snprintf(name, sizeof name, "%s.conv1", pre);
    int y = zoo_conv_bn(b, name, key, bn, x, s, zoo_p_hw1, GRT_ACT_RELU, 4, ea);
    snprintf(key, sizeof key, "%s.conv2.weight", pre);
    snprintf(bn, sizeof bn, "%s.bn2", pre);
    snprintf(name, sizeof name, "%s.conv2", pre);
    y = zoo_conv_bn(b, name, key, bn, y, zoo_s1, zoo_p_hw1, GRT_ACT_NONE, 4, eb);
    return zoo__add_relu(b, pre, y, identity);
}

int zoo_block_p3d(grt_builder *b, const char *pre, int x, int64_t inplanes, int64_t planes, int stride, int project) {
    char key[256], bn[256], name[256];
    int identity = zoo__shortcut(b, pre, x, inplanes, planes, stride, project, 5);
    const int s[3] = {1, stride, stride};
    const int64_t ea[4] = {planes, inplanes, 3, 3}, eb[4] = {planes, planes, 3, 3}, et[5] = {planes, planes, 3, 1, 1};
    /* a = ReLU(BN(conv3x3(x))) per frame: `conv1.forward_block.{0,1}` */
    snprintf(key, sizeof key, "%s.conv1.forward_block.0.weight", pre);
    snprintf(bn, sizeof bn, "%s.conv1.forward_block.1", pre);
    snprintf(name, sizeof name, "%s.conv1", pre);
    int a = zoo_conv_bn(b, name, key, bn, x, s, zoo_p_hw1, GRT_ACT_RELU, 4, ea);
    /* ReLU(a + sbn(shortcut3d(a))): the temporal 3-tap conv, zero padded at both ends */
    const int pt[3] = {1, 0, 0};
    snprintf(key, sizeof key, "%s.shortcut3d.weight", pre);
    snprintf(bn, sizeof bn, "%s.sbn", pre);
    snprintf(name, sizeof name, "%s.shortcut3d", pre);
    int t = zoo_conv_bn(b, name, key, bn, a, zoo_s1, pt, GRT_ACT_NONE, 5, et);
    snprintf(name, sizeof name, "%s.temporal", pre);
    int c = zoo__add_relu(b, name, t, a);
    /* BN(conv3x3(.)) per frame: `conv2.forward_block.{0,1}`, then the block shortcut */
    snprintf(key, sizeof key, "%s.conv2.forward_block.0.weight", pre);
    snprintf(bn, sizeof bn, "%s.conv2.forward_block.1", pre);
    snprintf(name, sizeof name, "%s.conv2", pre);
    c = zoo_conv_bn(b, name, key, bn, c, zoo_s1, zoo_p_hw1, GRT_ACT_NONE, 4, eb);
    return zoo__add_relu(b, pre, c, identity);
}

int zoo_block_3d(grt_builder *b, const char *pre, int x, int64_t inplanes, int64_t planes, int stride, int project) {
    char key[256], bn[256], name[256];
    int identity = zoo__shortcut(b, pre, x, inplanes, planes, stride, project, 5);
    const int s[3] = {1, stride, stride};
    const int64_t ea[5] = {planes, inplanes, 3, 3, 3}, eb[5] = {planes, planes, 3, 3, 3};
    snprintf(key, sizeof key, "%s.conv1.weight", pre);
    snprintf(bn, sizeof bn, "%s.bn1", pre);
    snprintf(name, sizeof name, "%s.conv1", pre);
    int y = zoo_conv_bn(b, name, key, bn, x, s, zoo_p_all1, GRT_ACT_RELU, 5, ea);
    snprintf(key, sizeof key, "%s.conv2.weight", pre);
    snprintf(bn, sizeof bn, "%s.bn2", pre);
    snprintf(name, sizeof name, "%s.conv2", pre);
    y = zoo_conv_bn(b, name, key, bn, y, zoo_s1, zoo_p_all1, GRT_ACT_NONE, 5, eb);
    return zoo__add_relu(b, pre, y, identity);
}

int zoo_resnet9(grt_builder *b, const char *prefix, int x, int64_t *width) {
    char key[192], bn[192], pre[192];
    snprintf(key, sizeof key, "%sconv1.conv.weight", prefix);
    snprintf(bn, sizeof bn, "%sbn1", prefix);
    const grt_tensor *c1 = grt_state_dict_find(b->sd, key);
    int64_t inplanes = c1 && c1->ndim == 4 ? c1->shape[0] : -1;
    const int64_t e1[4] = {inplanes, -1, 3, 3};
    snprintf(pre, sizeof pre, "%sconv1", prefix);
    x = zoo_conv_bn(b, pre, key, bn, x, zoo_s1, zoo_p_hw1, GRT_ACT_RELU, 4, e1);
    static const int stride[4] = {1, 2, 2, 1};
    for (int L = 1; L <= 4; L++) {
        snprintf(pre, sizeof pre, "%slayer%d.", prefix, L);
        int n = grt_builder_count_blocks(b->sd, pre);
        snprintf(key, sizeof key, "%slayer%d.0.conv1.weight", prefix, L);
        const grt_tensor *w = grt_state_dict_find(b->sd, key);
        int64_t planes = w && w->ndim == 4 ? w->shape[0] : -1;
        if (n < 1) grt_builder_weight(b, key, 4, (const int64_t[4]){-1, -1, 3, 3}); /* reports it missing */
        for (int i = 0; i < n; i++) {
            int s = i == 0 ? stride[L - 1] : 1;
            snprintf(pre, sizeof pre, "%slayer%d.%d", prefix, L, i);
            x = zoo_block_2d(b, pre, x, inplanes, planes, s, i == 0 && (s > 1 || inplanes != planes));
            inplanes = planes;
        }
    }
    *width = inplanes;
    return x;
}

int zoo_head(grt_builder *b, int x, const char *fc_key, int64_t channels) {
    const grt_tensor *fc = grt_state_dict_find(b->sd, fc_key);
    int64_t parts = fc && fc->ndim == 3 ? fc->shape[0] : 16;
    const int64_t efc[3] = {parts, channels, -1};
    int w = grt_builder_weight(b, fc_key, 3, efc);
    if (x >= 0) x = grt_graph_temporal_max(b->g, "TP", x);
    int bins[1] = {(int)parts};
    if (x >= 0) x = grt_graph_hpp(b->g, "HPP", x, 1, bins);
    if (x >= 0 && w >= 0) return grt_graph_sepfc(b->g, fc_key, x, w, 0);
    return -1;
}

int zoo_bnneck_emb2(grt_builder *b, const char *bn_prefix, int x, int64_t c, int64_t p) {
    /* (S, C, P) -> (S, C*P): element c*P + p, the channel-major flattening BNNecks.bn1d sees */
    const int64_t flat[2] = {0, c * p}, back[3] = {0, c, p};
    if (x >= 0) x = grt_graph_reshape(b->g, "BNNecks.flatten", x, 2, flat);
    x = grt_builder_bn(b, bn_prefix, x, c * p);
    if (x >= 0) x = grt_graph_reshape(b->g, "BNNecks.unflatten", x, 3, back);
    if (x >= 0) x = grt_graph_l2norm(b->g, "BNNecks.normalize", x, 1e-12f);
    return x;
}

int zoo_weight_view(grt_builder *b, const char *key, int ndim, const int64_t *expect, int view_ndim, const int64_t *view) {
    const grt_tensor *t = grt_builder_tensor(b, key);
    if (!t) {
        /* let the builder record it as missing */
        return grt_builder_weight(b, key, ndim, expect);
    }
    int ok = t->ndim == ndim && t->dtype == GRT_F32;
    for (int d = 0; ok && d < ndim; d++)
        if (expect[d] >= 0 && t->shape[d] != expect[d]) ok = 0;
    if (!ok) return grt_builder_weight(b, key, ndim, expect); /* records the shape problem */
    if (b->st != GRT_OK) return -1;
    int v = grt_graph_const(b->g, key, view_ndim, view, t->data);
    if (v < 0) b->st = GAITRT_ERR_NOMEM;
    return v;
}

static double zoo__macs(const grt_graph *g, int t, grt_status *st) {
    grt_batch_shape bs = {1, t, 1};
    grt_plan *p = NULL;
    *st = grt_plan_create(g, &bs, &p);
    if (*st != GRT_OK) return 0;
    double m = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == GRT_OP_CONV || g->nodes[i].op == GRT_OP_SEPFC) m += p->node_flops[i] / 2;
    grt_plan_free(p);
    return m;
}

grt_status zoo_costs(const grt_graph *g, const grt_state_dict *sd, gaitrt_model_info *info, int t_a, int t_b) {
    grt_status st = grt_model_fill_costs(g, sd, info);
    if (st != GRT_OK) return st;
    double ma = zoo__macs(g, t_a, &st);
    if (st != GRT_OK) return st;
    double mb = zoo__macs(g, t_b, &st);
    if (st != GRT_OK) return st;
    info->macs_per_frame = (mb - ma) / (double)(t_b - t_a);
    info->macs_per_sequence = ma - (double)t_a * info->macs_per_frame;
    return GRT_OK;
}

grt_status zoo_rand(grt_state_dict *sd, grt_rng *rng, const char *key, int ndim, const int64_t *shape) {
    /* FCs [parts, in, out]: Xavier; convs and linears: He from the fan-in */
    int64_t fan = 1;
    float std;
    if (ndim == 3 && strstr(key, "fc_bin")) {
        std = sqrtf(2.0f / (float)(shape[1] + shape[2]));
    } else {
        for (int d = 1; d < ndim; d++) fan *= shape[d];
        std = ndim <= 1 ? 0.5f : sqrtf(2.0f / (float)(fan > 0 ? fan : 1));
    }
    return grt_sd_add_random(sd, key, ndim, shape, rng, std);
}

grt_status zoo_rand_bn(grt_state_dict *sd, grt_rng *rng, const char *prefix, int64_t c) {
    return grt_sd_add_random_bn(sd, prefix, c, rng);
}
