/* gaitset.c — GaitSet (classic.md §1): per-frame set blocks, set pooling (max over each
 * sequence's frames) feeding a parallel "global" path of 2-D blocks, horizontal pyramid
 * pooling of both paths, separate FCs over the concatenated parts. Widths come from the
 * shapes; the bins ([16, 8, 4, 2, 1]) from the config or OpenGait's configs.
 *
 * What it is not: a model that mixes frames. Everything before set pooling is per frame, so
 * sequences of any lengths share a batch item as in GaitBase. */
#include <stdio.h>
#include <string.h>

#include "models/zoo.h"

static int gs_match(const grt_state_dict *sd) {
    int score = 0;
    if (zoo_find(sd, "set_block1.forward_block.0.conv.weight")) score += 10;
    if (zoo_find(sd, "gl_block2.0.conv.weight")) score += 8;
    if (zoo_find(sd, "Head.fc_bin")) score += 2;
    return score >= 20 ? score : 0;
}

/* conv (`<pre>.0.conv.weight`, same padding) -> LReLU -> conv (`<pre>.2.conv.weight`) -> LReLU
 * [-> MaxPool 2x2]: OpenGait's set and global blocks (indices 1, 3 are LReLUs, 4 the pool). */
static int gs_block(grt_builder *b, const char *pre, int x, int64_t cin, int pool) {
    char key[160], name[160];
    int64_t cout = -1;
    for (int j = 0; j < 2; j++) {
        snprintf(key, sizeof key, "%s.%d.conv.weight", pre, 2 * j);
        snprintf(name, sizeof name, "%s.%d", pre, 2 * j);
        const grt_tensor *w = grt_state_dict_find(b->sd, key);
        int64_t k = w && w->ndim == 4 ? w->shape[2] : 3;
        const int p[3] = {0, (int)(k / 2), (int)(k / 2)};
        const int64_t e[4] = {-1, j == 0 ? cin : cout, k, k};
        if (w && w->ndim == 4) cout = w->shape[0];
        x = zoo_conv_bn(b, name, key, NULL, x, zoo_s1, p, GRT_ACT_LEAKY_RELU, 4, e);
    }
    if (pool && x >= 0) {
        const int k[3] = {1, 2, 2};
        snprintf(name, sizeof name, "%s.pool", pre);
        x = grt_graph_maxpool(b->g, name, x, k, k, zoo_p0);
    }
    return x;
}

static int64_t gs_width(const grt_state_dict *sd, const char *key) {
    const grt_tensor *t = grt_state_dict_find(sd, key);
    return t && t->ndim == 4 ? t->shape[0] : -1;
}

/* (S, C, H, W) set-pooled maps as one-frame items (S, C, 1, H, W) for the 2-D global blocks. */
static int gs_as_frames(grt_builder *b, const char *name, int x, int h, int w) {
    const int64_t s5[5] = {0, 0, 1, h, w};
    return x >= 0 ? grt_graph_reshape(b->g, name, x, 5, s5) : -1;
}

static int gs_as_maps(grt_builder *b, const char *name, int x, int h, int w) {
    const int64_t s4[4] = {0, 0, h, w};
    return x >= 0 ? grt_graph_reshape(b->g, name, x, 4, s4) : -1;
}

static grt_status gs_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    const char *path = sd->path ? sd->path : "checkpoint";
    const grt_tensor *c0 = zoo_find(sd, "set_block1.forward_block.0.conv.weight");
    const grt_tensor *head = zoo_find(sd, "Head.fc_bin");
    if (!c0 || c0->ndim != 4 || !head || head->ndim != 3)
        return grt_error(GAITRT_ERR_MODEL, "%s: not a GaitSet checkpoint (needs 'set_block1.forward_block.0.conv.weight' "
                         "[C,in,5,5] and 'Head.fc_bin' [parts,in,out])", path);
    int bins[GRT_MAX_BINS] = {16, 8, 4, 2, 1}, n_bins = 5;
    if (cfg && cfg->n_bins) {
        if (cfg->n_bins > GRT_MAX_BINS) return grt_error(GAITRT_ERR_MODEL, "%s: the config has %d bins (at most %d)", path,
                                                         cfg->n_bins, GRT_MAX_BINS);
        n_bins = cfg->n_bins;
        memcpy(bins, cfg->bins, sizeof(int) * (size_t)n_bins);
    }
    int sum = 0;
    for (int i = 0; i < n_bins; i++) sum += bins[i];
    if (2 * sum != head->shape[0])
        return grt_error(GAITRT_ERR_MODEL, "%s: 'Head.fc_bin' has %lld parts but the bins [%d,...] give 2 x %d ---> HINT: pass "
                         "the config (bin_num) the model was trained with", path, (long long)head->shape[0], bins[0], sum);
    const int H = cfg && cfg->height ? cfg->height : 64, W = cfg && cfg->width ? cfg->width : 44;
    const int64_t ci = c0->shape[1], c1 = gs_width(sd, "set_block1.forward_block.2.conv.weight"),
                  c2 = gs_width(sd, "set_block2.forward_block.2.conv.weight"),
                  c3 = gs_width(sd, "set_block3.forward_block.2.conv.weight");
    grt_builder b;
    grt_status st = grt_builder_init(&b, sd);
    if (st != GRT_OK) return st;
    const int h1 = H / 2, w1 = W / 2, h2 = h1 / 2, w2 = w1 / 2;
    int x = grt_graph_input(b.g, (int)ci, H, W);
    /* 1. o1 = set_block1(x); g = gl_block2(SP(o1)) */
    int o = gs_block(&b, "set_block1.forward_block", x, ci, 1);
    int g = o >= 0 ? grt_graph_temporal_max(b.g, "SP1", o) : -1;
    g = gs_as_frames(&b, "SP1.frames", g, h1, w1);
    g = gs_block(&b, "gl_block2", g, c1, 1);
    /* 2. o2 = set_block2(o1); g = gl_block3(g + SP(o2)) */
    o = gs_block(&b, "set_block2.forward_block", o, c1, 1);
    int sp = o >= 0 ? grt_graph_temporal_max(b.g, "SP2", o) : -1;
    sp = gs_as_frames(&b, "SP2.frames", sp, h2, w2);
    g = g >= 0 && sp >= 0 ? grt_graph_add(b.g, "gl_block2.add", g, sp) : -1;
    g = gs_block(&b, "gl_block3", g, c2, 0);
    /* 3. o3 = SP(set_block3(o2)); g = g + o3 */
    o = gs_block(&b, "set_block3.forward_block", o, c2, 0);
    o = o >= 0 ? grt_graph_temporal_max(b.g, "SP3", o) : -1;
    g = gs_as_maps(&b, "gl_block3.maps", g, h2, w2);
    g = g >= 0 && o >= 0 ? grt_graph_add(b.g, "gl_block3.add", g, o) : -1;
    /* 4. HPP of both paths, o3's parts first, then the separate FCs */
    int f[2] = {o >= 0 ? grt_graph_hpp(b.g, "HPP.set", o, n_bins, bins) : -1,
                g >= 0 ? grt_graph_hpp(b.g, "HPP.gl", g, n_bins, bins) : -1};
    int y = f[0] >= 0 && f[1] >= 0 ? grt_graph_concat(b.g, "HPP", 2, f, 2) : -1;
    const int64_t eh[3] = {2 * sum, c3, -1};
    int wh = grt_builder_weight(&b, "Head.fc_bin", 3, eh);
    y = y >= 0 && wh >= 0 ? grt_graph_sepfc(b.g, "Head", y, wh, 0) : -1;
    st = grt_builder_complete(&b, y, 1, NULL, "GaitSet", out);
    if (st != GRT_OK) return st;
    gaitrt_model_info *info = &out->info;
    snprintf(info->variant, sizeof info->variant, "channels=[%lld,%lld,%lld] parts=%lld", (long long)c1, (long long)c2,
             (long long)c3, (long long)head->shape[0]);
    info->n_inputs = 1;
    snprintf(info->inputs[0].name, sizeof info->inputs[0].name, "silhouette");
    info->inputs[0].channels = (int)ci;
    info->inputs[0].height = H;
    info->inputs[0].width = W;
    info->inputs[0].stored_width = W == 44 ? 64 : W == 88 ? 128 : W;
    info->inputs[0].divisor = 255.0f;
    info->embed_channels = (int)head->shape[2];
    info->embed_parts = (int)head->shape[0];
    return zoo_costs(out->graph, sd, info, 8, 9);
}

/* Variants: "casiab" (in_channels [1,32,64,128]; default) or "oumvlp" ([1,64,128,256], also GREW). */
static grt_status gs_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    int64_t c[4] = {1, 32, 64, 128};
    if (variant && *variant) {
        if (!strcmp(variant, "oumvlp") || !strcmp(variant, "grew")) {
            c[1] = 64, c[2] = 128, c[3] = 256;
        } else if (strcmp(variant, "casiab")) {
            return grt_error(GAITRT_ERR_INVALID_ARG, "GaitSet variant '%s': expected casiab, oumvlp or grew", variant);
        }
    }
    grt_state_dict *sd = grt_sd_new("GaitSet (random weights)");
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "out of memory");
    grt_rng rng = {seed};
    char key[128];
    grt_status st = GRT_OK;
    static const char *const blocks[5] = {"set_block1.forward_block", "set_block2.forward_block", "set_block3.forward_block",
                                          "gl_block2", "gl_block3"};
    static const int level[5] = {1, 2, 3, 2, 3};
    for (int i = 0; i < 5 && st == GRT_OK; i++) {
        const int L = level[i];
        int64_t k = i == 0 ? 5 : 3;
        int64_t a[4] = {c[L], c[L - 1], k, k}, bb[4] = {c[L], c[L], 3, 3};
        snprintf(key, sizeof key, "%s.0.conv.weight", blocks[i]);
        st = zoo_rand(sd, &rng, key, 4, a);
        snprintf(key, sizeof key, "%s.2.conv.weight", blocks[i]);
        if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 4, bb);
    }
    int64_t h[3] = {62, c[3], 256};
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "Head.fc_bin", 3, h);
    if (st != GRT_OK) {
        grt_state_dict_free(sd);
        return st;
    }
    *out = sd;
    return GRT_OK;
}

const grt_model_family grt_family_gaitset = {"GaitSet", gs_match, gs_build, gs_random};
