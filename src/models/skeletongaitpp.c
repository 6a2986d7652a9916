/* skeletongaitpp.c — SkeletonGait++ (skeletongaitpp.md, OpenGait class `SkeletonGaitPP`):
 * a silhouette branch and a skeleton-map branch (per-frame conv, then BasicBlock2D stages),
 * fused per pixel by attention (a softmax between the two branches' scores), then
 * DeepGaitV2's P3D stages and head. Widths, block counts and the fusion's hidden width are
 * read from the shapes.
 *
 * Inputs, in OpenGait's `ipts` order: 0 = heat map (limb, joint) [T, 2, 64, 64], 1 = silhouette
 * [T, 64, 64] or [T, 64, 44]. Both are cut to 44 columns by the session's test transform:
 * §2 cuts the heat map to the silhouette's width and then the stack to 44, which for 64- or
 * 44-wide silhouettes is the same as cutting each 64-wide input by 10 columns a side.
 *
 * What it is not: the BNNeck classifier (a training head). */
#include <stdio.h>
#include <string.h>

#include "models/zoo.h"

static int sgpp_match(const grt_state_dict *sd) {
    int score = 0;
    if (zoo_find(sd, "sil_layer0.forward_block.0.weight")) score += 8;
    if (zoo_find(sd, "map_layer0.forward_block.0.weight")) score += 8;
    if (zoo_find(sd, "fusion.conv.forward_block.0.weight")) score += 4;
    if (zoo_find(sd, "layer2.0.shortcut3d.weight")) score += 2;
    return score >= 20 ? score : 0;
}

/* One branch: `<br>_layer0.forward_block.{0,1}` conv3x3 -> BN -> ReLU, then the
 * `<br>_layer1.forward_block.<i>` BasicBlock2D stage. */
static int sgpp_branch(grt_builder *b, const char *br, int x, int64_t in_ch, int64_t width) {
    char key[192], bn[192], pre[192];
    const int64_t e0[4] = {width, in_ch, 3, 3};
    snprintf(key, sizeof key, "%s_layer0.forward_block.0.weight", br);
    snprintf(bn, sizeof bn, "%s_layer0.forward_block.1", br);
    snprintf(pre, sizeof pre, "%s_layer0", br);
    x = zoo_conv_bn(b, pre, key, bn, x, zoo_s1, zoo_p_hw1, GRT_ACT_RELU, 4, e0);
    snprintf(pre, sizeof pre, "%s_layer1.forward_block.", br);
    int n = grt_builder_count_blocks(b->sd, pre);
    for (int i = 0; i < n; i++) {
        snprintf(pre, sizeof pre, "%s_layer1.forward_block.%d", br, i);
        x = zoo_block_2d(b, pre, x, width, width, 1, 0);
    }
    return x;
}

/* AttentionFusion: s = conv1x1 -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv1x1 on
 * concat(sil, map) (N, 2c, T, H, W); per channel c and pixel, (w_sil, w_map) = softmax(s[c],
 * s[c + C]); out = sil * w_sil + map * w_map. */
static int sgpp_fusion(grt_builder *b, int sil, int map, int64_t c, int64_t hidden, int H, int W) {
    int xs[2] = {sil, map};
    int f = sil >= 0 && map >= 0 ? grt_graph_concat(b->g, "fusion.concat", 2, xs, 1) : -1;
    const int64_t e0[4] = {hidden, 2 * c, 1, 1}, e3[4] = {hidden, hidden, 3, 3}, e6[4] = {2 * c, hidden, 1, 1};
    f = zoo_conv_bn(b, "fusion.conv.0", "fusion.conv.forward_block.0.weight", "fusion.conv.forward_block.1", f, zoo_s1,
                    zoo_p0, GRT_ACT_RELU, 4, e0);
    f = zoo_conv_bn(b, "fusion.conv.3", "fusion.conv.forward_block.3.weight", "fusion.conv.forward_block.4", f, zoo_s1,
                    zoo_p_hw1, GRT_ACT_RELU, 4, e3);
    f = zoo_conv_bn(b, "fusion.conv.6", "fusion.conv.forward_block.6.weight", NULL, f, zoo_s1, zoo_p0, GRT_ACT_NONE, 4, e6);
    /* (N, 2c, T, H, W) -> (N, 2, c, T, H, W): the pair (s[c], s[c + C]) along axis 1 */
    const int64_t pair[6] = {0, 2, c, -1, H, W}, back[5] = {0, c, -1, H, W};
    if (f >= 0) f = grt_graph_reshape(b->g, "fusion.pairs", f, 6, pair);
    if (f >= 0) f = grt_graph_softmax(b->g, "fusion.softmax", f, 1);
    int w_sil = f >= 0 ? grt_graph_slice(b->g, "fusion.w_sil", f, 1, 0, 1) : -1;
    int w_map = f >= 0 ? grt_graph_slice(b->g, "fusion.w_map", f, 1, 1, 1) : -1;
    if (w_sil >= 0) w_sil = grt_graph_reshape(b->g, "fusion.w_sil", w_sil, 5, back);
    if (w_map >= 0) w_map = grt_graph_reshape(b->g, "fusion.w_map", w_map, 5, back);
    int a = w_sil >= 0 ? grt_graph_mul(b->g, "fusion.sil", sil, w_sil) : -1;
    int m = w_map >= 0 ? grt_graph_mul(b->g, "fusion.map", map, w_map) : -1;
    int out = a >= 0 && m >= 0 ? grt_graph_add(b->g, "fusion", a, m) : -1;
    if (f >= 0 && out < 0) b->st = GAITRT_ERR_NOMEM;
    return out;
}

static grt_status sgpp_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    const char *path = sd->path ? sd->path : "checkpoint";
    const grt_tensor *s0 = zoo_find(sd, "sil_layer0.forward_block.0.weight");
    const grt_tensor *m0 = zoo_find(sd, "map_layer0.forward_block.0.weight");
    const grt_tensor *f0 = zoo_find(sd, "fusion.conv.forward_block.0.weight");
    const grt_tensor *fc = zoo_find(sd, "FCs.fc_bin");
    if (!s0 || s0->ndim != 4 || !m0 || m0->ndim != 4 || !f0 || f0->ndim != 4 || !fc || fc->ndim != 3)
        return grt_error(GAITRT_ERR_MODEL, "%s: not a SkeletonGait++ checkpoint (needs 4-D 'sil_layer0.forward_block.0.weight', "
                         "'map_layer0.forward_block.0.weight', 'fusion.conv.forward_block.0.weight' and 'FCs.fc_bin')", path);
    const int64_t c0 = s0->shape[0], hidden = f0->shape[0];
    int blocks[5] = {0};
    int64_t width[5] = {c0, c0, 0, 0, 0};
    for (int L = 2; L <= 4; L++) {
        char pre[64];
        snprintf(pre, sizeof pre, "layer%d.", L);
        blocks[L] = grt_builder_count_blocks(sd, pre);
        const grt_tensor *w = zoo_find(sd, "layer%d.0.conv1.forward_block.0.weight", L);
        width[L] = w && w->ndim == 4 ? w->shape[0] : -1;
        if (blocks[L] < 1 || width[L] < 1)
            return grt_error(GAITRT_ERR_MODEL, "%s: stage layer%d has no P3D blocks (looked for "
                             "'layer%d.0.conv1.forward_block.0.weight')", path, L, L);
    }
    blocks[1] = grt_builder_count_blocks(sd, "sil_layer1.forward_block.");
    const int H = cfg && cfg->height ? cfg->height : 64, W = cfg && cfg->width ? cfg->width : 44;
    grt_builder b;
    grt_status st = grt_builder_init(&b, sd);
    if (st != GRT_OK) return st;
    /* inputs in OpenGait's order: heat map (input 0), silhouette (input 1) */
    int maps = grt_graph_input(b.g, (int)m0->shape[1], H, W);
    int sils = grt_graph_input(b.g, (int)s0->shape[1], H, W);
    int s = sgpp_branch(&b, "sil", sils, s0->shape[1], c0);
    int m = sgpp_branch(&b, "map", maps, m0->shape[1], c0);
    int x = sgpp_fusion(&b, s, m, c0, hidden, H, W);
    static const int stride[5] = {0, 1, 2, 2, 1};
    int64_t inplanes = c0;
    char pre[64];
    for (int L = 2; L <= 4; L++)
        for (int i = 0; i < blocks[L]; i++) {
            int sd_ = i == 0 ? stride[L] : 1;
            snprintf(pre, sizeof pre, "layer%d.%d", L, i);
            x = zoo_block_p3d(&b, pre, x, inplanes, width[L], sd_, i == 0 && (sd_ > 1 || inplanes != width[L]));
            inplanes = width[L];
        }
    x = zoo_head(&b, x, "FCs.fc_bin", width[4]);
    const int64_t parts = fc->shape[0], cout = fc->shape[2];
    const int use_emb2 = cfg && cfg->use_emb2;
    if (use_emb2) x = zoo_bnneck_emb2(&b, "BNNecks.bn1d", x, cout, parts);
    static const char *const ignore[] = {"BNNecks.", NULL};
    st = grt_builder_complete(&b, x, 1, ignore, "SkeletonGaitPP", out);
    if (st != GRT_OK) return st;
    gaitrt_model_info *info = &out->info;
    snprintf(info->variant, sizeof info->variant, "blocks=[%d,%d,%d,%d] channels=[%lld,%lld,%lld,%lld] fusion=%lld%s",
             blocks[1], blocks[2], blocks[3], blocks[4], (long long)c0, (long long)width[2], (long long)width[3],
             (long long)width[4], (long long)hidden, use_emb2 ? " use_emb2" : "");
    info->n_inputs = 2;
    const char *names[2] = {"heatmap", "silhouette"};
    const int chans[2] = {(int)m0->shape[1], (int)s0->shape[1]};
    for (int k = 0; k < 2; k++) {
        snprintf(info->inputs[k].name, sizeof info->inputs[k].name, "%s", names[k]);
        info->inputs[k].channels = chans[k];
        info->inputs[k].height = H;
        info->inputs[k].width = W;
        info->inputs[k].stored_width = W == 44 ? 64 : W == 88 ? 128 : W;
        info->inputs[k].divisor = 255.0f;
    }
    info->embed_channels = (int)cout;
    info->embed_parts = (int)parts;
    return zoo_costs(out->graph, sd, info, 8, 9);
}

/* Variants: block counts "1111" (CCPG, SUSTech1K; default) or "1441" (Gait3D, GREW). */
static grt_status sgpp_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    int blocks[4] = {1, 1, 1, 1};
    if (variant && *variant) {
        if (strcmp(variant, "1111") && strcmp(variant, "1441"))
            return grt_error(GAITRT_ERR_INVALID_ARG, "SkeletonGaitPP variant '%s': expected 1111 or 1441", variant);
        for (int i = 0; i < 4; i++) blocks[i] = variant[i] - '0';
    }
    grt_state_dict *sd = grt_sd_new("SkeletonGaitPP (random weights)");
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "out of memory");
    grt_rng rng = {seed};
    char key[160];
    grt_status st = GRT_OK;
    const char *br[2] = {"sil", "map"};
    for (int k = 0; k < 2 && st == GRT_OK; k++) {
        int64_t w0[4] = {64, k + 1, 3, 3}, c3[4] = {64, 64, 3, 3};
        snprintf(key, sizeof key, "%s_layer0.forward_block.0.weight", br[k]);
        st = zoo_rand(sd, &rng, key, 4, w0);
        snprintf(key, sizeof key, "%s_layer0.forward_block.1", br[k]);
        if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, 64);
        for (int i = 0; i < blocks[0] && st == GRT_OK; i++) {
            for (int j = 1; j <= 2 && st == GRT_OK; j++) {
                snprintf(key, sizeof key, "%s_layer1.forward_block.%d.conv%d.weight", br[k], i, j);
                st = zoo_rand(sd, &rng, key, 4, c3);
                snprintf(key, sizeof key, "%s_layer1.forward_block.%d.bn%d", br[k], i, j);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, 64);
            }
        }
    }
    int64_t f0[4] = {4, 128, 1, 1}, f3[4] = {4, 4, 3, 3}, f6[4] = {128, 4, 1, 1};
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "fusion.conv.forward_block.0.weight", 4, f0);
    if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, "fusion.conv.forward_block.1", 4);
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "fusion.conv.forward_block.3.weight", 4, f3);
    if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, "fusion.conv.forward_block.4", 4);
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "fusion.conv.forward_block.6.weight", 4, f6);
    const int64_t ch[5] = {0, 64, 128, 256, 512};
    for (int L = 2; L <= 4 && st == GRT_OK; L++) {
        const int64_t p = ch[L], in0 = ch[L - 1];
        for (int i = 0; i < blocks[L - 1] && st == GRT_OK; i++) {
            int64_t in = i == 0 ? in0 : p;
            int64_t a[4] = {p, in, 3, 3}, c[4] = {p, p, 3, 3}, t[5] = {p, p, 3, 1, 1}, d[5] = {p, in0, 1, 1, 1};
            snprintf(key, sizeof key, "layer%d.%d.conv1.forward_block.0.weight", L, i);
            st = zoo_rand(sd, &rng, key, 4, a);
            snprintf(key, sizeof key, "layer%d.%d.conv1.forward_block.1", L, i);
            if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
            snprintf(key, sizeof key, "layer%d.%d.conv2.forward_block.0.weight", L, i);
            if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 4, c);
            snprintf(key, sizeof key, "layer%d.%d.conv2.forward_block.1", L, i);
            if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
            snprintf(key, sizeof key, "layer%d.%d.shortcut3d.weight", L, i);
            if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 5, t);
            snprintf(key, sizeof key, "layer%d.%d.sbn", L, i);
            if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
            if (i == 0 && st == GRT_OK) {
                snprintf(key, sizeof key, "layer%d.0.downsample.0.weight", L);
                st = zoo_rand(sd, &rng, key, 5, d);
                snprintf(key, sizeof key, "layer%d.0.downsample.1", L);
                if (st == GRT_OK) st = zoo_rand_bn(sd, &rng, key, p);
            }
        }
    }
    int64_t f[3] = {16, 512, 256};
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "FCs.fc_bin", 3, f);
    if (st != GRT_OK) {
        grt_state_dict_free(sd);
        return st;
    }
    *out = sd;
    return GRT_OK;
}

const grt_model_family grt_family_skeletongaitpp = {"SkeletonGaitPP", sgpp_match, sgpp_build, sgpp_random};
