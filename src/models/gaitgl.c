/* gaitgl.c — GaitGL (classic.md §3) in both of OpenGait's architecture branches: CASIA-B
 * (one GLConv per stage, local strips from halving 3) and OU-MVLP/GREW (two GLConvs per stage,
 * halving 1, a second stem conv), told apart by their keys. A GLConv is a global 3x3x3 conv
 * plus the same local 3x3x3 conv applied to each horizontal strip; the LTA is a stride-3
 * temporal conv, so T' = floor(T / 3) output frames; sequences shorter than 3 frames are first
 * tiled along T (1 frame -> 3 copies, 2 frames -> a, b, a, b), which the graph does itself.
 *
 * The embedding is the output of `Bn` (BatchNorm1d over the Head0 features, per channel
 * shared by the 64 parts); with the BNNeck head (gaitgl_GREW_BNNeck.yaml) it is Head0's
 * output. What it is not: the classifiers (`Head1`, `BNNecks.fc_bin`). */
#include <stdio.h>
#include <string.h>

#include "models/zoo.h"

static int gl_match(const grt_state_dict *sd) {
    int score = 0;
    if (zoo_find(sd, "conv3d.0.conv3d.weight")) score += 8;
    if (zoo_find(sd, "LTA.0.conv3d.weight")) score += 8;
    if (zoo_find(sd, "Head0.fc_bin")) score += 4;
    return score >= 20 ? score : 0;
}

static int gl_lrelu(grt_builder *b, const char *name, int x) {
    int y = x >= 0 ? grt_graph_act(b->g, name, x, GRT_ACT_LEAKY_RELU, 0.01f) : -1;
    if (x >= 0 && y < 0) b->st = GAITRT_ERR_NOMEM;
    return y;
}

/* GLConv `<pre>.{global,local}_conv3d.conv3d.weight` [Co, Ci, 3, 3, 3] at height h. */
static int gl_glconv(grt_builder *b, const char *pre, int x, int64_t cin, int h, int halving, int fm_sign, int64_t *cout) {
    char key[160], name[160];
    snprintf(key, sizeof key, "%s.global_conv3d.conv3d.weight", pre);
    const grt_tensor *t = grt_state_dict_find(b->sd, key);
    const int64_t co = t && t->ndim == 5 ? t->shape[0] : -1;
    const int64_t e[5] = {co, cin, 3, 3, 3};
    snprintf(name, sizeof name, "%s.global", pre);
    int g = grt_builder_conv(b, name, key, x, zoo_s1, zoo_p_all1, 5, e);
    /* the local conv: one weight, applied to each strip (zero padding at the strip borders) */
    snprintf(key, sizeof key, "%s.local_conv3d.conv3d.weight", pre);
    int w = zoo_weight_view(b, key, 5, e, 5, e);
    const int strips = 1 << halving;
    *cout = co;
    if (h % strips) {
        b->st = grt_error(GAITRT_ERR_MODEL, "%s: GLConv '%s' cannot split %d rows into %d strips ---> HINT: the input height "
                          "must be 64", b->sd->path ? b->sd->path : "checkpoint", pre, h, strips);
        return -1;
    }
    int parts[8], n = 0, l = -1;
    for (int s = 0; s < strips && x >= 0 && w >= 0; s++) {
        snprintf(name, sizeof name, "%s.local.%d", pre, s);
        int xs = strips > 1 ? grt_graph_slice(b->g, name, x, 3, s * (h / strips), h / strips) : x;
        parts[n++] = xs >= 0 ? grt_graph_conv(b->g, name, xs, w, -1, (const int[3]){3, 3, 3}, zoo_s1, zoo_p_all1, 1) : -1;
        if (parts[n - 1] < 0) b->st = GAITRT_ERR_NOMEM;
    }
    if (n == strips && b->st == GRT_OK) {
        /* re-concatenated along H, at most GRT_MAX_IN at a time */
        snprintf(name, sizeof name, "%s.local", pre);
        if (n == 1) {
            l = parts[0];
        } else {
            int groups[8], ng = 0;
            for (int i = 0; i < n; i += GRT_MAX_IN) {
                int k = n - i < GRT_MAX_IN ? n - i : GRT_MAX_IN;
                groups[ng++] = k > 1 ? grt_graph_concat(b->g, name, k, parts + i, 3) : parts[i];
            }
            l = ng > 1 ? grt_graph_concat(b->g, name, ng, groups, 3) : groups[0];
        }
    }
    if (g < 0 || l < 0) return -1;
    snprintf(name, sizeof name, "%s", pre);
    if (fm_sign) {
        int both[2] = {g, l};
        return gl_lrelu(b, name, grt_graph_concat(b->g, name, 2, both, 3)); /* H doubles */
    }
    char n1[176], n2[176];
    snprintf(n1, sizeof n1, "%s.global", pre);
    snprintf(n2, sizeof n2, "%s.local", pre);
    int a = gl_lrelu(b, n1, g), c = gl_lrelu(b, n2, l);
    return a >= 0 && c >= 0 ? grt_graph_add(b->g, name, a, c) : -1;
}

static grt_status gl_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    const char *path = sd->path ? sd->path : "checkpoint";
    const grt_tensor *c0 = zoo_find(sd, "conv3d.0.conv3d.weight");
    const grt_tensor *h0 = zoo_find(sd, "Head0.fc_bin");
    const int deep = zoo_find(sd, "GLConvA0.0.global_conv3d.conv3d.weight") != NULL;
    if (!c0 || c0->ndim != 5 || !h0 || h0->ndim != 3 ||
        (!deep && !zoo_find(sd, "GLConvA0.global_conv3d.conv3d.weight")))
        return grt_error(GAITRT_ERR_MODEL, "%s: not a GaitGL checkpoint (needs 'conv3d.0.conv3d.weight' [C,1,3,3,3], "
                         "'Head0.fc_bin' and 'GLConvA0.global_conv3d.conv3d.weight' (CASIA-B) or "
                         "'GLConvA0.0.global_conv3d.conv3d.weight' (OU-MVLP/GREW))", path);
    const int have_bn = zoo_find(sd, "Bn.weight") != NULL;
    if (!have_bn && !zoo_find(sd, "BNNecks.fc_bin"))
        return grt_error(GAITRT_ERR_MODEL, "%s: GaitGL without 'Bn.weight' (original head) or 'BNNecks.fc_bin' (BNNeck head)",
                         path);
    const int halving = deep ? 1 : 3;
    const int H = cfg && cfg->height ? cfg->height : 64, W = cfg && cfg->width ? cfg->width : 44;
    grt_builder b;
    grt_status st = grt_builder_init(&b, sd);
    if (st != GRT_OK) return st;
    int x = grt_graph_input(b.g, (int)c0->shape[1], H, W);
    /* sequences shorter than 3 frames are tiled: 1 -> 3 copies, 2 -> 2 copies */
    x = x >= 0 ? grt_graph_tile_t(b.g, "tile", x, 3) : -1;
    /* stem: Conv3d 3x3x3 + LReLU (twice in the deep branch: `conv3d.0`, `conv3d.2`) */
    int64_t c = c0->shape[0];
    const int64_t es0[5] = {c, c0->shape[1], 3, 3, 3}, es1[5] = {c, c, 3, 3, 3};
    x = zoo_conv_bn(&b, "conv3d.0", "conv3d.0.conv3d.weight", NULL, x, zoo_s1, zoo_p_all1, GRT_ACT_LEAKY_RELU, 5, es0);
    if (deep) x = zoo_conv_bn(&b, "conv3d.2", "conv3d.2.conv3d.weight", NULL, x, zoo_s1, zoo_p_all1, GRT_ACT_LEAKY_RELU, 5, es1);
    /* LTA: Conv3d (3,1,1) stride (3,1,1), no padding, + LReLU: T' = floor(T / 3) */
    const int64_t elta[5] = {c, c, 3, 1, 1};
    const int s3[3] = {3, 1, 1};
    x = zoo_conv_bn(&b, "LTA", "LTA.0.conv3d.weight", NULL, x, s3, zoo_p0, GRT_ACT_LEAKY_RELU, 5, elta);
    /* GLConv stages; MaxPool (1,2,2) after A0; B2's last GLConv concatenates along H */
    static const char *const stage[3] = {"GLConvA0", "GLConvA1", "GLConvB2"};
    int h = H;
    char pre[64];
    for (int s = 0; s < 3; s++) {
        for (int j = 0; j < (deep ? 2 : 1); j++) {
            if (deep)
                snprintf(pre, sizeof pre, "%s.%d", stage[s], j);
            else
                snprintf(pre, sizeof pre, "%s", stage[s]);
            int fm = s == 2 && j == (deep ? 1 : 0);
            int64_t co = -1;
            x = gl_glconv(&b, pre, x, c, h, halving, fm, &co);
            c = co;
            if (fm) h *= 2;
        }
        if (s == 0 && x >= 0) {
            const int k[3] = {1, 2, 2};
            x = grt_graph_maxpool(b.g, "MaxPool0", x, k, k, zoo_p0);
            h /= 2;
        }
    }
    /* TP: max over the T' frames of the item (one sequence per item) -> GeM HPP (64 bins) */
    if (x >= 0) x = grt_graph_reduce(b.g, "TP", x, 2, 1, GRT_REDUCE_MAX);
    const int64_t ep[1] = {1};
    int p = grt_builder_weight(&b, "HPP.p", 1, ep);
    const int parts = (int)h0->shape[0];
    int bins[1] = {parts};
    if (x >= 0 && p >= 0) x = grt_graph_gem_hpp(b.g, "HPP", x, 1, bins, p, 1e-6f);
    const int64_t eh[3] = {parts, c, -1};
    int wh = grt_builder_weight(&b, "Head0.fc_bin", 3, eh);
    x = x >= 0 && wh >= 0 ? grt_graph_sepfc(b.g, "Head0", x, wh, 0) : -1;
    const int64_t cout = h0->shape[2];
    if (have_bn) x = grt_builder_bn(&b, "Bn", x, cout);
    static const char *const ignore[] = {"Head1.", "BNNecks.", NULL};
    st = grt_builder_complete(&b, x, 1, ignore, "GaitGL", out);
    if (st != GRT_OK) return st;
    gaitrt_model_info *info = &out->info;
    snprintf(info->variant, sizeof info->variant, "%s branch, C=%lld, %s head", deep ? "OU-MVLP/GREW" : "CASIA-B",
             (long long)c, have_bn ? "Bn" : "BNNeck");
    info->n_inputs = 1;
    snprintf(info->inputs[0].name, sizeof info->inputs[0].name, "silhouette");
    info->inputs[0].channels = (int)c0->shape[1];
    info->inputs[0].height = H;
    info->inputs[0].width = W;
    info->inputs[0].stored_width = W == 44 ? 64 : W == 88 ? 128 : W;
    info->inputs[0].divisor = 255.0f;
    info->embed_channels = (int)cout;
    info->embed_parts = parts;
    /* min_frames stays 1: shorter sequences are tiled inside the graph */
    /* lengths that are multiples of 3, where T' = T / 3 is linear in T */
    return zoo_costs(out->graph, sd, info, 30, 60);
}

/* Variants: "casiab" (default; channels [32,64,128]) or "oumvlp" ([32,64,128,256], also GREW). */
static grt_status gl_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    int deep = 0;
    if (variant && *variant) {
        if (!strcmp(variant, "oumvlp") || !strcmp(variant, "grew"))
            deep = 1;
        else if (strcmp(variant, "casiab"))
            return grt_error(GAITRT_ERR_INVALID_ARG, "GaitGL variant '%s': expected casiab, oumvlp or grew", variant);
    }
    grt_state_dict *sd = grt_sd_new("GaitGL (random weights)");
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "out of memory");
    grt_rng rng = {seed};
    char key[128];
    const int64_t ch[4] = {32, 64, 128, deep ? 256 : 128};
    int64_t s0[5] = {32, 1, 3, 3, 3}, s1[5] = {32, 32, 3, 3, 3}, lta[5] = {32, 32, 3, 1, 1};
    grt_status st = zoo_rand(sd, &rng, "conv3d.0.conv3d.weight", 5, s0);
    if (st == GRT_OK && deep) st = zoo_rand(sd, &rng, "conv3d.2.conv3d.weight", 5, s1);
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "LTA.0.conv3d.weight", 5, lta);
    static const char *const stage[3] = {"GLConvA0", "GLConvA1", "GLConvB2"};
    for (int s = 0; s < 3 && st == GRT_OK; s++)
        for (int j = 0; j < (deep ? 2 : 1) && st == GRT_OK; j++) {
            const int64_t ci = j == 0 ? ch[s] : ch[s + 1], co = deep || s < 2 ? ch[s + 1] : ch[2];
            int64_t w[5] = {co, ci, 3, 3, 3};
            for (int gl = 0; gl < 2 && st == GRT_OK; gl++) {
                if (deep)
                    snprintf(key, sizeof key, "%s.%d.%s_conv3d.conv3d.weight", stage[s], j, gl ? "local" : "global");
                else
                    snprintf(key, sizeof key, "%s.%s_conv3d.conv3d.weight", stage[s], gl ? "local" : "global");
                st = zoo_rand(sd, &rng, key, 5, w);
            }
        }
    const int64_t c = deep ? 256 : 128, one = 1;
    int64_t h[3] = {64, c, c};
    if (st == GRT_OK) st = grt_sd_add_random(sd, "HPP.p", 1, &one, &rng, 0.0f);
    if (st == GRT_OK) {
        const grt_tensor *p = grt_state_dict_find(sd, "HPP.p");
        ((float *)p->data)[0] = 6.5f; /* OpenGait's initial GeM exponent */
        st = zoo_rand(sd, &rng, "Head0.fc_bin", 3, h);
    }
    if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, "Bn", c);
    if (st != GRT_OK) {
        grt_state_dict_free(sd);
        return st;
    }
    *out = sd;
    return GRT_OK;
}

const grt_model_family grt_family_gaitgl = {"GaitGL", gl_match, gl_build, gl_random};
