/* gaitpart.c — GaitPart (classic.md §2): the `Plain` backbone of ordinary and focal
 * convolutions (focal: one conv applied to each horizontal strip separately), per-frame HPP,
 * then the temporal feature aggregator (TFA): for each of the 16 parts, two micro-motion
 * templates (3- and 5-frame average + max pools) weighted by sigmoid scores from that part's
 * own 1-D convolutions over the frames, max over the frames; then separate FCs.
 *
 * The checkpoint records the convs but not which are focal nor their halving, so we take the
 * layouts of OpenGait's two configs (6 convs: CASIA-B, 8 convs: OU-MVLP/GREW); other layouts
 * are refused. The TFA runs on each sequence separately, so GaitPart mixes frames: one
 * sequence per batch item.
 *
 * Layout trick: a focal conv is a per-frame conv over (N, C, T*2^h, H/2^h, W) — each strip
 * becomes a "frame" with zero padding at its borders — so it needs no op of its own. The 16
 * parts' 1-D convs are one grouped conv over (N, 16*C, T, 1, 1) with groups = 16.
 *
 * What it is not: configurable by `layers_cfg` (the config reader does not parse it). */
#include <stdio.h>
#include <string.h>

#include "models/zoo.h"

#define GP_BB "Backbone.forward_block.feature."
#define GP_TFA "TFA.pooling_func."
#define GP_MAX_CONVS 16

static int gp_match(const grt_state_dict *sd) {
    int score = 0;
    if (zoo_find(sd, GP_BB "0.conv.weight")) score += 10;
    if (zoo_find(sd, GP_TFA "conv1d3x1.0.0.conv.weight")) score += 8;
    if (zoo_find(sd, "Head.fc_bin")) score += 2;
    return score >= 20 ? score : 0;
}

/* Sequential indices of the backbone's convs (`feature.<i>.conv.weight`), in order. */
static int gp_conv_indices(const grt_state_dict *sd, int *idx) {
    int n = 0;
    for (int i = 0; i < 64 && n < GP_MAX_CONVS; i++)
        if (zoo_find(sd, GP_BB "%d.conv.weight", i)) idx[n++] = i;
    return n;
}

/* Stacks the 16 parts' conv1d weights `<prefix>.<p>.<j>.conv.weight` (Co, Ci, k) into one
 * grouped-conv weight (P*Co, Ci, k, 1, 1); every part's shape is checked. */
static int gp_stack(grt_builder *b, const char *prefix, int j, int parts, int64_t co, int64_t ci, int64_t k) {
    char key[160];
    int64_t shape[5] = {parts * co, ci, k, 1, 1}, per = co * ci * k;
    float *data = grt_malloc((size_t)(parts * per) * sizeof(float));
    if (!data) {
        b->st = GAITRT_ERR_NOMEM;
        return -1;
    }
    int ok = 1;
    for (int p = 0; p < parts; p++) {
        snprintf(key, sizeof key, "%s.%d.%d.conv.weight", prefix, p, j);
        const grt_tensor *t = grt_builder_tensor(b, key);
        if (!t || t->ndim != 3 || t->dtype != GRT_F32 || t->shape[0] != co || t->shape[1] != ci || t->shape[2] != k) {
            const int64_t e[3] = {co, ci, k};
            grt_builder_weight(b, key, 3, e); /* records what is wrong */
            ok = 0;
            continue;
        }
        memcpy(data + p * per, t->data, (size_t)per * sizeof(float));
    }
    /* the stacked tensor carries the keys' pattern, so it counts as learnable parameters */
    snprintf(key, sizeof key, "%s.*.%d.conv.weight", prefix, j);
    int v = ok && b->st == GRT_OK ? grt_graph_const(b->g, key, 5, shape, data) : -1;
    if (ok && v < 0) b->st = GAITRT_ERR_NOMEM;
    grt_free(data);
    return v;
}

static int gp_gconv(grt_builder *b, const char *name, int x, int w, int kt, int groups) {
    if (x < 0 || w < 0) return -1;
    const int k[3] = {kt, 1, 1}, p[3] = {kt / 2, 0, 0};
    int y = grt_graph_conv(b->g, name, x, w, -1, k, zoo_s1, p, groups);
    if (y < 0) b->st = GAITRT_ERR_NOMEM;
    return y;
}

/* score = sigmoid(conv(LReLU(conv(x)))) for the parts' `conv1d3x<k>` branch. */
static int gp_score(grt_builder *b, const char *branch, int x, int parts, int64_t c, int64_t hidden, int k2) {
    char prefix[96], name[128];
    snprintf(prefix, sizeof prefix, GP_TFA "%s", branch);
    int w1 = gp_stack(b, prefix, 0, parts, hidden, c, 3), w2 = gp_stack(b, prefix, 2, parts, c, hidden, k2);
    snprintf(name, sizeof name, "TFA.%s.0", branch);
    int y = gp_gconv(b, name, x, w1, 3, parts);
    if (y >= 0) y = grt_graph_act(b->g, name, y, GRT_ACT_LEAKY_RELU, 0.01f);
    snprintf(name, sizeof name, "TFA.%s.2", branch);
    y = gp_gconv(b, name, y, w2, k2, parts);
    if (y >= 0) y = grt_graph_act(b->g, name, y, GRT_ACT_SIGMOID, 0);
    return y;
}

/* template = AvgPool1d(k, 1, k/2) + MaxPool1d(k, 1, k/2) over the frames */
static int gp_template(grt_builder *b, const char *name, int x, int k) {
    if (x < 0) return -1;
    const int kk[3] = {k, 1, 1}, p[3] = {k / 2, 0, 0};
    int a = grt_graph_avgpool(b->g, name, x, kk, zoo_s1, p);
    int m = a >= 0 ? grt_graph_maxpool(b->g, name, x, kk, zoo_s1, p) : -1;
    return m >= 0 ? grt_graph_add(b->g, name, a, m) : -1;
}

static grt_status gp_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    const char *path = sd->path ? sd->path : "checkpoint";
    const grt_tensor *head = zoo_find(sd, "Head.fc_bin");
    const grt_tensor *t31 = zoo_find(sd, GP_TFA "conv1d3x1.0.0.conv.weight");
    int idx[GP_MAX_CONVS];
    int n_conv = gp_conv_indices(sd, idx);
    if (!head || head->ndim != 3 || !t31 || t31->ndim != 3 || n_conv < 1)
        return grt_error(GAITRT_ERR_MODEL, "%s: not a GaitPart checkpoint (needs '" GP_BB "0.conv.weight', 'Head.fc_bin' and "
                         "'" GP_TFA "conv1d3x1.0.0.conv.weight' [hidden,C,3])", path);
    /* halving per conv: OpenGait's layers_cfg for CASIA-B and for OU-MVLP/GREW */
    static const int casiab_idx[6] = {0, 2, 5, 7, 10, 12}, casiab_h[6] = {0, 0, 2, 2, 3, 3};
    static const int oumvlp_idx[8] = {0, 2, 5, 7, 10, 12, 14, 16}, oumvlp_h[8] = {0, 0, 0, 0, 3, 3, 3, 3};
    const int *halving = NULL;
    if (n_conv == 6 && !memcmp(idx, casiab_idx, sizeof casiab_idx)) halving = casiab_h;
    if (n_conv == 8 && !memcmp(idx, oumvlp_idx, sizeof oumvlp_idx)) halving = oumvlp_h;
    if (!halving)
        return grt_error(GAITRT_ERR_MODEL, "%s: GaitPart backbone with %d convs at indices %d, %d, ... is not one of OpenGait's "
                         "layouts (CASIA-B: 6 convs, OU-MVLP/GREW: 8); the checkpoint does not record which convs are focal",
                         path, n_conv, idx[0], n_conv > 1 ? idx[1] : -1);
    const int parts = (int)head->shape[0];
    const int64_t hidden = t31->shape[0];
    const int H = cfg && cfg->height ? cfg->height : 64, W = cfg && cfg->width ? cfg->width : 44;
    grt_builder b;
    grt_status st = grt_builder_init(&b, sd);
    if (st != GRT_OK) return st;
    const grt_tensor *first = zoo_find(sd, GP_BB "%d.conv.weight", idx[0]);
    int64_t cin = first && first->ndim == 4 ? first->shape[1] : 1;
    int x = grt_graph_input(b.g, (int)cin, H, W);
    int h = H, w = W;
    char key[160], name[160];
    for (int i = 0; i < n_conv; i++) {
        if (i > 0 && idx[i] - idx[i - 1] == 3 && x >= 0) { /* an `M` between the two convs: MaxPool 2x2 */
            const int k[3] = {1, 2, 2};
            snprintf(name, sizeof name, "feature.%d", idx[i] - 1);
            x = grt_graph_maxpool(b.g, name, x, k, k, zoo_p0);
            h /= 2, w /= 2;
        }
        snprintf(key, sizeof key, GP_BB "%d.conv.weight", idx[i]);
        snprintf(name, sizeof name, "feature.%d", idx[i]);
        const grt_tensor *t = grt_state_dict_find(sd, key);
        const int64_t k = t && t->ndim == 4 ? t->shape[2] : 3;
        const int64_t e[4] = {-1, cin, k, k};
        const int p[3] = {0, (int)(k / 2), (int)(k / 2)};
        const int strips = 1 << halving[i];
        if (strips > 1 && h % strips) {
            grt_builder_free(&b);
            return grt_error(GAITRT_ERR_MODEL, "%s: focal conv %s cannot split %d rows into %d equal strips ---> HINT: the "
                             "input height must be 64 (or a multiple of 32)", path, name, h, strips);
        }
        /* focal conv: strips as frames (N, C, T*strips, h/strips, w), back to (N, Co, T, h, w) */
        const int64_t as_strips[5] = {0, 0, -1, h / strips, w}, back[5] = {0, 0, -1, h, w};
        if (strips > 1 && x >= 0) x = grt_graph_reshape(b.g, name, x, 5, as_strips);
        x = zoo_conv_bn(&b, name, key, NULL, x, zoo_s1, p, GRT_ACT_LEAKY_RELU, 4, e);
        if (strips > 1 && x >= 0) x = grt_graph_reshape(b.g, name, x, 5, back);
        if (t && t->ndim == 4) cin = t->shape[0];
    }
    const int64_t c = cin;
    /* per-frame HPP: (N, C, T, h, w) -> (N, C*T, h, w) -> (N, C*T, P) -> (N, C, T, P) */
    const int64_t s1[4] = {0, -1, h, w}, s2[4] = {0, c, -1, parts}, s3[5] = {0, parts * c, -1, 1, 1};
    int bins[1] = {parts};
    if (x >= 0) x = grt_graph_reshape(b.g, "HPP.frames", x, 4, s1);
    if (x >= 0) x = grt_graph_hpp(b.g, "HPP", x, 1, bins);
    if (x >= 0) x = grt_graph_reshape(b.g, "HPP.frames", x, 4, s2);
    /* parts outermost: (N, P, C, T) -> (N, P*C, T, 1, 1), a grouped layout for the parts' convs */
    const int perm[4] = {0, 3, 1, 2};
    if (x >= 0) x = grt_graph_transpose(b.g, "TFA.parts", x, 4, perm);
    if (x >= 0) x = grt_graph_reshape(b.g, "TFA.parts", x, 5, s3);
    int s31 = gp_score(&b, "conv1d3x1", x, parts, c, hidden, 1);
    int s33 = gp_score(&b, "conv1d3x3", x, parts, c, hidden, 3);
    int f31 = gp_template(&b, "TFA.template3", x, 3), f33 = gp_template(&b, "TFA.template5", x, 5);
    f31 = f31 >= 0 && s31 >= 0 ? grt_graph_mul(b.g, "TFA.mtb1", f31, s31) : -1;
    f33 = f33 >= 0 && s33 >= 0 ? grt_graph_mul(b.g, "TFA.mtb2", f33, s33) : -1;
    int y = f31 >= 0 && f33 >= 0 ? grt_graph_add(b.g, "TFA.sum", f31, f33) : -1;
    /* max over the frames -> (N, P*C, 1, 1) -> (N, P, C) -> (N, C, P) */
    if (y >= 0) y = grt_graph_reduce(b.g, "TFA.max", y, 2, 1, GRT_REDUCE_MAX);
    const int64_t s4[3] = {0, parts, c};
    const int perm2[3] = {0, 2, 1};
    if (y >= 0) y = grt_graph_reshape(b.g, "TFA.out", y, 3, s4);
    if (y >= 0) y = grt_graph_transpose(b.g, "TFA.out", y, 3, perm2);
    const int64_t eh[3] = {parts, c, -1};
    int wh = grt_builder_weight(&b, "Head.fc_bin", 3, eh);
    y = y >= 0 && wh >= 0 ? grt_graph_sepfc(b.g, "Head", y, wh, 0) : -1;
    st = grt_builder_complete(&b, y, 1, NULL, "GaitPart", out);
    if (st != GRT_OK) return st;
    gaitrt_model_info *info = &out->info;
    snprintf(info->variant, sizeof info->variant, "%s layout, %d convs, C=%lld, parts=%d",
             n_conv == 6 ? "CASIA-B" : "OU-MVLP", n_conv, (long long)c, parts);
    info->n_inputs = 1;
    snprintf(info->inputs[0].name, sizeof info->inputs[0].name, "silhouette");
    info->inputs[0].channels = first && first->ndim == 4 ? (int)first->shape[1] : 1;
    info->inputs[0].height = H;
    info->inputs[0].width = W;
    info->inputs[0].stored_width = W == 44 ? 64 : W == 88 ? 128 : W;
    info->inputs[0].divisor = 255.0f;
    info->embed_channels = (int)head->shape[2];
    info->embed_parts = parts;
    return zoo_costs(out->graph, sd, info, 8, 9);
}

/* Variants: "casiab" (default) or "oumvlp" (also GREW). */
static grt_status gp_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    int ou = 0;
    if (variant && *variant) {
        if (!strcmp(variant, "oumvlp") || !strcmp(variant, "grew"))
            ou = 1;
        else if (strcmp(variant, "casiab"))
            return grt_error(GAITRT_ERR_INVALID_ARG, "GaitPart variant '%s': expected casiab, oumvlp or grew", variant);
    }
    static const int ca_idx[6] = {0, 2, 5, 7, 10, 12}, ou_idx[8] = {0, 2, 5, 7, 10, 12, 14, 16};
    static const int64_t ca_w[6] = {32, 32, 64, 64, 128, 128}, ou_w[8] = {32, 32, 64, 64, 128, 128, 256, 256};
    const int n = ou ? 8 : 6;
    const int *idx = ou ? ou_idx : ca_idx;
    const int64_t *wd = ou ? ou_w : ca_w;
    grt_state_dict *sd = grt_sd_new("GaitPart (random weights)");
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "out of memory");
    grt_rng rng = {seed};
    char key[128];
    grt_status st = GRT_OK;
    int64_t cin = 1;
    for (int i = 0; i < n && st == GRT_OK; i++) {
        int64_t k = i == 0 ? 5 : 3, s[4] = {wd[i], cin, k, k};
        snprintf(key, sizeof key, GP_BB "%d.conv.weight", idx[i]);
        st = zoo_rand(sd, &rng, key, 4, s);
        cin = wd[i];
    }
    const int64_t c = cin, hid = c / 4;
    int64_t h[3] = {16, c, ou ? 256 : 128};
    if (st == GRT_OK) st = zoo_rand(sd, &rng, "Head.fc_bin", 3, h);
    for (int br = 0; br < 2 && st == GRT_OK; br++)
        for (int p = 0; p < 16 && st == GRT_OK; p++) {
            int64_t a[3] = {hid, c, 3}, bb[3] = {c, hid, br ? 3 : 1};
            snprintf(key, sizeof key, GP_TFA "conv1d3x%d.%d.0.conv.weight", br ? 3 : 1, p);
            st = zoo_rand(sd, &rng, key, 3, a);
            snprintf(key, sizeof key, GP_TFA "conv1d3x%d.%d.2.conv.weight", br ? 3 : 1, p);
            if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 3, bb);
        }
    if (st != GRT_OK) {
        grt_state_dict_free(sd);
        return st;
    }
    *out = sd;
    return GRT_OK;
}

const grt_model_family grt_family_gaitpart = {"GaitPart", gp_match, gp_build, gp_random};
