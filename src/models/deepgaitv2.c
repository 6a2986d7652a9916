/* deepgaitv2.c — DeepGaitV2 (deepgaitv2.md) in its three modes: `2d` (BasicBlock2D
 * everywhere), `p3d` (pseudo-3D blocks with a temporal 3-tap shortcut) and `3d` (3x3x3
 * blocks), with any block counts, widths and input channels — all read from the keys and
 * shapes. SkeletonGait (skeletongaitpp.md §6) is the same class on 2-channel heat maps; it is
 * registered as its own family (skeletongait.c) over the builder here.
 *
 * What it is not: the BNNeck classifier (a training head). The BNNeck's BatchNorm is built
 * only for `use_emb2` configs, which return the normalised BNNeck feature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/zoo.h"

typedef enum { DG_2D, DG_P3D, DG_3D } dg_mode;
static const char *const dg_mode_names[3] = {"2d", "p3d", "3d"};

/* Mode from the keys: 2d wraps every stage in SetBlockWrapper (`layer2.forward_block.`),
 * p3d has temporal shortcuts (`layer2.0.shortcut3d.weight`, kernel (3,1,1)), 3d has 5-D
 * 3x3x3 block convolutions. -1 if none fits. */
static int dg_detect_mode(const grt_state_dict *sd) {
    if (zoo_find(sd, "layer2.forward_block.0.conv1.weight")) return DG_2D;
    const grt_tensor *t = zoo_find(sd, "layer2.0.shortcut3d.weight");
    if (t && t->ndim == 5 && t->shape[2] == 3) return DG_P3D;
    t = zoo_find(sd, "layer2.0.conv1.weight");
    if (t && t->ndim == 5 && t->shape[2] == 3) return DG_3D;
    return -1;
}

int zoo_deepgaitv2_match(const grt_state_dict *sd, int *in_channels) {
    const grt_tensor *l0 = zoo_find(sd, "layer0.forward_block.0.weight");
    if (!l0 || l0->ndim != 4) return 0;
    if (in_channels) *in_channels = (int)l0->shape[1];
    int score = 10;
    if (zoo_find(sd, "layer1.forward_block.0.conv1.weight")) score += 5;
    if (zoo_find(sd, "FCs.fc_bin")) score += 2;
    if (dg_detect_mode(sd) >= 0) score += 3;
    return score >= 17 ? score : 0;
}

/* Key prefix of block i of stage L: 2-D stages are wrapped (`layerL.forward_block.i`). */
static void dg_block_prefix(char *buf, size_t len, int L, int i, int wrapped) {
    if (wrapped)
        snprintf(buf, len, "layer%d.forward_block.%d", L, i);
    else
        snprintf(buf, len, "layer%d.%d", L, i);
}

/* Width of stage L from its first block's first convolution (NULL-safe: -1). */
static int64_t dg_stage_width(const grt_state_dict *sd, int L, dg_mode mode) {
    const grt_tensor *t;
    if (L == 1 || mode == DG_2D)
        t = zoo_find(sd, "layer%d.forward_block.0.conv1.weight", L);
    else if (mode == DG_P3D)
        t = zoo_find(sd, "layer%d.0.conv1.forward_block.0.weight", L);
    else
        t = zoo_find(sd, "layer%d.0.conv1.weight", L);
    return t && t->ndim >= 4 ? t->shape[0] : -1;
}

grt_status zoo_deepgaitv2_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out,
                                const char *type) {
    const char *path = sd->path ? sd->path : "checkpoint";
    const grt_tensor *l0 = zoo_find(sd, "layer0.forward_block.0.weight");
    const grt_tensor *fc = zoo_find(sd, "FCs.fc_bin");
    int mode = dg_detect_mode(sd);
    if (!l0 || l0->ndim != 4 || !fc || fc->ndim != 3 || mode < 0)
        return grt_error(GAITRT_ERR_MODEL,
                         "%s: not a %s checkpoint (needs 'layer0.forward_block.0.weight' [C,in,3,3], 'FCs.fc_bin' "
                         "[parts,in,out] and one of 'layer2.forward_block.0.conv1.weight' (2d), "
                         "'layer2.0.shortcut3d.weight' [C,C,3,1,1] (p3d) or a 5-D 'layer2.0.conv1.weight' (3d))",
                         path, type);
    if (cfg && cfg->mode[0] && strcmp(cfg->mode, dg_mode_names[mode]) != 0)
        return grt_error(GAITRT_ERR_MODEL, "%s: the config %s says mode '%s' but the keys are those of mode '%s' ---> HINT: "
                         "pass the config this checkpoint was trained with", path, cfg->source, cfg->mode, dg_mode_names[mode]);
    /* blocks per stage and stage widths */
    int blocks[5] = {0};
    int64_t width[5];
    char pre[160];
    width[0] = l0->shape[0];
    for (int L = 1; L <= 4; L++) {
        int wrapped = L == 1 || mode == DG_2D;
        snprintf(pre, sizeof pre, wrapped ? "layer%d.forward_block." : "layer%d.", L);
        blocks[L] = grt_builder_count_blocks(sd, pre);
        width[L] = dg_stage_width(sd, L, (dg_mode)mode);
        if (blocks[L] < 1 || width[L] < 1)
            return grt_error(GAITRT_ERR_MODEL, "%s: stage layer%d has no blocks with readable weights (looked for '%s0.…') "
                             "---> HINT: is this a %s checkpoint in mode %s?", path, L, pre, type, dg_mode_names[mode]);
    }
    if (cfg && cfg->n_layers) {
        int same = cfg->n_layers == 4;
        for (int i = 0; same && i < 4; i++) same = cfg->layers[i] == blocks[i + 1];
        if (!same)
            return grt_error(GAITRT_ERR_MODEL, "%s: the config %s gives layers [%d,%d,%d,%d] but the checkpoint has [%d,%d,%d,%d] "
                             "blocks per stage ---> HINT: pass the config this checkpoint was trained with", path, cfg->source,
                             cfg->layers[0], cfg->layers[1], cfg->layers[2], cfg->layers[3], blocks[1], blocks[2], blocks[3],
                             blocks[4]);
    }
    const int64_t in_ch = l0->shape[1];
    const int H = cfg && cfg->height ? cfg->height : 64, W = cfg && cfg->width ? cfg->width : 44;
    const int use_emb2 = cfg && cfg->use_emb2;

    grt_builder b;
    grt_status st = grt_builder_init(&b, sd);
    if (st != GRT_OK) return st;
    int x = grt_graph_input(b.g, (int)in_ch, H, W);
    /* layer0: per-frame conv3x3 -> BN -> ReLU */
    const int64_t e0[4] = {width[0], in_ch, 3, 3};
    x = zoo_conv_bn(&b, "layer0", "layer0.forward_block.0.weight", "layer0.forward_block.1", x, zoo_s1, zoo_p_hw1,
                    GRT_ACT_RELU, 4, e0);
    /* layer1: BasicBlock2D always; layers 2-4 of the mode's block type. Stage strides 1, 2, 2, 1. */
    static const int stride[5] = {0, 1, 2, 2, 1};
    int64_t inplanes = width[0];
    for (int L = 1; L <= 4; L++) {
        int wrapped = L == 1 || mode == DG_2D;
        for (int i = 0; i < blocks[L]; i++) {
            int s = i == 0 ? stride[L] : 1;
            int project = i == 0 && (s > 1 || inplanes != width[L]);
            dg_block_prefix(pre, sizeof pre, L, i, wrapped);
            if (wrapped)
                x = zoo_block_2d(&b, pre, x, inplanes, width[L], s, project);
            else if (mode == DG_P3D)
                x = zoo_block_p3d(&b, pre, x, inplanes, width[L], s, project);
            else
                x = zoo_block_3d(&b, pre, x, inplanes, width[L], s, project);
            inplanes = width[L];
        }
    }
    /* TP (max over each sequence's frames) -> HPP (16 one-row bins) -> FCs */
    x = zoo_head(&b, x, "FCs.fc_bin", width[4]);
    const int64_t parts = fc->shape[0], cout = fc->shape[2];
    if (use_emb2) x = zoo_bnneck_emb2(&b, "BNNecks.bn1d", x, cout, parts);
    static const char *const ignore[] = {"BNNecks.", NULL};
    st = grt_builder_complete(&b, x, 1, ignore, type, out);
    if (st != GRT_OK) return st;
    gaitrt_model_info *info = &out->info;
    snprintf(info->variant, sizeof info->variant, "%s layers=[%d,%d,%d,%d] channels=[%lld,%lld,%lld,%lld]%s",
             dg_mode_names[mode], blocks[1], blocks[2], blocks[3], blocks[4], (long long)width[1], (long long)width[2],
             (long long)width[3], (long long)width[4], use_emb2 ? " use_emb2" : "");
    info->n_inputs = 1;
    snprintf(info->inputs[0].name, sizeof info->inputs[0].name, "%s",
             in_ch == 1 ? "silhouette" : in_ch == 2 ? "heatmap" : "input");
    info->inputs[0].channels = (int)in_ch;
    info->inputs[0].height = H;
    info->inputs[0].width = W;
    info->inputs[0].stored_width = W == 44 ? 64 : W == 88 ? 128 : W;
    info->inputs[0].divisor = 255.0f;
    info->embed_channels = (int)cout;
    info->embed_parts = (int)parts;
    return zoo_costs(out->graph, sd, info, 8, 9);
}

grt_status zoo_deepgaitv2_random(const char *mode_name, const int layers[4], int in_channels, int width, uint64_t seed,
                                 grt_state_dict **out) {
    int mode = !strcmp(mode_name, "2d") ? DG_2D : !strcmp(mode_name, "3d") ? DG_3D : DG_P3D;
    grt_state_dict *sd = grt_sd_new(in_channels == 2 ? "SkeletonGait (random weights)" : "DeepGaitV2 (random weights)");
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "out of memory");
    grt_rng rng = {seed};
    const int64_t w = width > 0 ? width : 64;
    const int64_t ch[5] = {w, w, 2 * w, 4 * w, 8 * w};
    static const int stride[5] = {0, 1, 2, 2, 1};
    char pre[160], key[192];
    int64_t s0[4] = {w, in_channels, 3, 3};
    grt_status st = zoo_rand(sd, &rng, "layer0.forward_block.0.weight", 4, s0);
    if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, "layer0.forward_block.1", w);
    int64_t in = w;
    for (int L = 1; L <= 4 && st == GRT_OK; L++) {
        int wrapped = L == 1 || mode == DG_2D;
        const int64_t p = ch[L];
        for (int i = 0; i < layers[L - 1] && st == GRT_OK; i++) {
            int s = i == 0 ? stride[L] : 1;
            int project = i == 0 && (s > 1 || in != p);
            dg_block_prefix(pre, sizeof pre, L, i, wrapped);
            if (wrapped || mode == DG_3D) {
                int nd = wrapped ? 4 : 5;
                int64_t a[5] = {p, in, 3, 3, 3}, c[5] = {p, p, 3, 3, 3};
                snprintf(key, sizeof key, "%s.conv1.weight", pre);
                st = zoo_rand(sd, &rng, key, nd, a);
                snprintf(key, sizeof key, "%s.bn1", pre);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
                snprintf(key, sizeof key, "%s.conv2.weight", pre);
                if (st == GRT_OK) st = zoo_rand(sd, &rng, key, nd, c);
                snprintf(key, sizeof key, "%s.bn2", pre);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
            } else {
                int64_t a[4] = {p, in, 3, 3}, c[4] = {p, p, 3, 3}, t[5] = {p, p, 3, 1, 1};
                snprintf(key, sizeof key, "%s.conv1.forward_block.0.weight", pre);
                st = zoo_rand(sd, &rng, key, 4, a);
                snprintf(key, sizeof key, "%s.conv1.forward_block.1", pre);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
                snprintf(key, sizeof key, "%s.conv2.forward_block.0.weight", pre);
                if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 4, c);
                snprintf(key, sizeof key, "%s.conv2.forward_block.1", pre);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
                snprintf(key, sizeof key, "%s.shortcut3d.weight", pre);
                if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 5, t);
                snprintf(key, sizeof key, "%s.sbn", pre);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
            }
            if (st == GRT_OK && project) {
                int64_t d[5] = {p, in, 1, 1, 1};
                snprintf(key, sizeof key, "%s.downsample.0.weight", pre);
                st = zoo_rand(sd, &rng, key, wrapped ? 4 : 5, d);
                snprintf(key, sizeof key, "%s.downsample.1", pre);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
            }
            in = p;
        }
    }
    int64_t f[3] = {16, 8 * w, 4 * w};
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "FCs.fc_bin", 3, f);
    if (st != GRT_OK) {
        grt_state_dict_free(sd);
        return st;
    }
    *out = sd;
    return GRT_OK;
}

/* ---- the DeepGaitV2 family --------------------------------------------------------------- */

static int dg_match(const grt_state_dict *sd) { return zoo_deepgaitv2_match(sd, NULL); }

static grt_status dg_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    return zoo_deepgaitv2_build(sd, cfg, out, "DeepGaitV2");
}

/* Variants: "p3d", "3d" or "2d", optionally with the block counts and a base width (channels
 * w, 2w, 4w, 8w; default 64): "p3d-1441", "3d-1111-w16" (default "p3d-1111"). */
static grt_status dg_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    char mode[8] = "p3d";
    int layers[4] = {1, 1, 1, 1}, width = 64;
    if (variant && *variant) {
        const char *dash = strchr(variant, '-');
        size_t ml = dash ? (size_t)(dash - variant) : strlen(variant);
        const char *wpart = dash ? strstr(dash + 1, "-w") : NULL;
        size_t bl = dash ? (wpart ? (size_t)(wpart - dash - 1) : strlen(dash + 1)) : 0;
        if (wpart) {
            char *end;
            long v = strtol(wpart + 2, &end, 10);
            width = *end || v < 1 || v > 1024 ? -1 : (int)v;
        }
        if (ml >= sizeof mode || (strncmp(variant, "2d", ml) && strncmp(variant, "p3d", ml) && strncmp(variant, "3d", ml)) ||
            (dash && (bl != 4 || strspn(dash + 1, "123456789") < 4)) || width < 0)
            return grt_error(GAITRT_ERR_INVALID_ARG, "DeepGaitV2 variant '%s': expected 2d, p3d or 3d, optionally with "
                             "block counts and a base width such as p3d-1441 or 3d-1111-w16", variant);
        memcpy(mode, variant, ml);
        mode[ml] = 0;
        for (int i = 0; dash && i < 4; i++) layers[i] = dash[1 + i] - '0';
    }
    return zoo_deepgaitv2_random(mode, layers, 1, width, seed, out);
}

const grt_model_family grt_family_deepgaitv2 = {"DeepGaitV2", dg_match, dg_build, dg_random};
