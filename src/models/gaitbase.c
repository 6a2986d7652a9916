/* gaitbase.c — GaitBase: OpenGait's `Baseline` with the ResNet9 backbone (torchvision
 * BasicBlocks in SetBlockWrapper), temporal max, HPP and separate FCs. The architecture
 * (channels, blocks, input channels, parts) is read from the keys and shapes; strides and
 * bins, which no tensor records, come from the config or OpenGait's defaults ([1,2,2,1], [16]).
 * The BNNeck is a training head and is not built. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/models.h"

#define GB_PREFIX "Backbone.forward_block."

static int gb_match(const grt_state_dict *sd) {
    int score = 0;
    if (grt_state_dict_find(sd, GB_PREFIX "conv1.conv.weight")) score += 10;
    if (grt_state_dict_find(sd, GB_PREFIX "layer1.0.conv1.weight")) score += 5;
    if (grt_state_dict_find(sd, "FCs.fc_bin")) score += 2;
    return score >= 15 ? score : 0;
}

static grt_status gb_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    grt_builder b;
    grt_status st = grt_builder_init(&b, sd);
    if (st != GRT_OK) return st;
    const char *path = sd->path ? sd->path : "checkpoint";
    const grt_tensor *c1 = grt_state_dict_find(sd, GB_PREFIX "conv1.conv.weight");
    const grt_tensor *fc = grt_state_dict_find(sd, "FCs.fc_bin");
    if (!c1 || c1->ndim != 4 || !fc || fc->ndim != 3) {
        grt_builder_free(&b);
        return grt_error(GAITRT_ERR_MODEL, "%s: not a GaitBase checkpoint (needs '" GB_PREFIX "conv1.conv.weight' [C,in,3,3] and "
                         "'FCs.fc_bin' [parts,in,out])", path);
    }
    int strides[8] = {1, 2, 2, 1};
    int n_layers = 0;
    char key[192], name[192];
    while (n_layers < 8) {
        snprintf(key, sizeof key, GB_PREFIX "layer%d.0.conv1.weight", n_layers + 1);
        if (!grt_state_dict_find(sd, key)) break;
        n_layers++;
    }
    if (cfg && cfg->n_strides) {
        if (cfg->n_strides != n_layers) {
            grt_builder_free(&b);
            return grt_error(GAITRT_ERR_MODEL, "%s: the config gives %d strides but the checkpoint has %d layers", path,
                             cfg->n_strides, n_layers);
        }
        memcpy(strides, cfg->strides, sizeof(int) * (size_t)n_layers);
    } else if (n_layers != 4) {
        grt_builder_free(&b);
        return grt_error(GAITRT_ERR_MODEL, "%s: GaitBase with %d layers needs its strides from --config ---> HINT: pass the "
                         "OpenGait YAML it was trained with", path, n_layers);
    }
    int64_t parts = fc->shape[0];
    int bins[8] = {16}, n_bins = 1;
    if (cfg && cfg->n_bins) {
        n_bins = cfg->n_bins;
        memcpy(bins, cfg->bins, sizeof(int) * (size_t)n_bins);
    } else if (parts == 31) {
        int b5[5] = {16, 8, 4, 2, 1};
        n_bins = 5;
        memcpy(bins, b5, sizeof b5);
    } else {
        bins[0] = (int)parts;
    }
    int sum = 0;
    for (int i = 0; i < n_bins; i++) sum += bins[i];
    if (sum != parts) {
        grt_builder_free(&b);
        return grt_error(GAITRT_ERR_MODEL, "%s: bin_num sums to %d parts but 'FCs.fc_bin' has %lld", path, sum, (long long)parts);
    }
    const int H = cfg && cfg->height ? cfg->height : 64, W = cfg && cfg->width ? cfg->width : 44;
    const int64_t in_ch = c1->shape[1], c0 = c1->shape[0];
    int x = grt_graph_input(b.g, (int)in_ch, H, W);
    const int s1[3] = {1, 1, 1}, p1[3] = {0, 1, 1}, p0[3] = {0, 0, 0};
    int64_t e4[4] = {c0, in_ch, 3, 3};
    x = grt_builder_conv(&b, "conv1", GB_PREFIX "conv1.conv.weight", x, s1, p1, 4, e4);
    x = grt_builder_bn(&b, GB_PREFIX "bn1", x, c0);
    if (x >= 0) x = grt_graph_act(b.g, "relu", x, GRT_ACT_RELU, 0);
    int64_t inplanes = c0;
    char variant[96] = "channels=[";
    for (int L = 1; L <= n_layers; L++) {
        snprintf(key, sizeof key, GB_PREFIX "layer%d.", L);
        int nblocks = grt_builder_count_blocks(sd, key);
        snprintf(key, sizeof key, GB_PREFIX "layer%d.0.conv1.weight", L);
        const grt_tensor *w = grt_state_dict_find(sd, key);
        int64_t planes = w && w->ndim == 4 ? w->shape[0] : -1;
        snprintf(variant + strlen(variant), sizeof variant - strlen(variant), "%s%lld", L > 1 ? "," : "", (long long)planes);
        for (int i = 0; i < nblocks; i++) {
            int s = i == 0 ? strides[L - 1] : 1;
            int ss[3] = {1, s, s};
            char pre[160];
            snprintf(pre, sizeof pre, GB_PREFIX "layer%d.%d", L, i);
            int identity = x;
            snprintf(key, sizeof key, "%s.downsample.0.weight", pre);
            int need_ds = i == 0 && (s != 1 || inplanes != planes);
            if (need_ds || grt_state_dict_find(sd, key)) {
                int64_t e[4] = {planes, inplanes, 1, 1};
                snprintf(name, sizeof name, "layer%d.%d.downsample", L, i);
                identity = grt_builder_conv(&b, name, key, x, ss, p0, 4, e);
                snprintf(key, sizeof key, "%s.downsample.1", pre);
                identity = grt_builder_bn(&b, key, identity, planes);
            }
            int64_t ea[4] = {planes, inplanes, 3, 3}, eb[4] = {planes, planes, 3, 3};
            snprintf(key, sizeof key, "%s.conv1.weight", pre);
            snprintf(name, sizeof name, "layer%d.%d.conv1", L, i);
            int y = grt_builder_conv(&b, name, key, x, ss, p1, 4, ea);
            snprintf(key, sizeof key, "%s.bn1", pre);
            y = grt_builder_bn(&b, key, y, planes);
            if (y >= 0) y = grt_graph_act(b.g, name, y, GRT_ACT_RELU, 0);
            snprintf(key, sizeof key, "%s.conv2.weight", pre);
            snprintf(name, sizeof name, "layer%d.%d.conv2", L, i);
            y = grt_builder_conv(&b, name, key, y, s1, p1, 4, eb);
            snprintf(key, sizeof key, "%s.bn2", pre);
            y = grt_builder_bn(&b, key, y, planes);
            snprintf(name, sizeof name, "layer%d.%d.add", L, i);
            if (y >= 0 && identity >= 0) y = grt_graph_add(b.g, name, y, identity);
            snprintf(name, sizeof name, "layer%d.%d.relu", L, i);
            if (y >= 0) y = grt_graph_act(b.g, name, y, GRT_ACT_RELU, 0);
            x = y;
            inplanes = planes;
        }
    }
    /* an OpenGait config must agree with what the checkpoint says */
    if (cfg && cfg->have) {
        char why[256] = "";
        int L = n_layers;
        if (cfg->model[0] && strcmp(cfg->model, "Baseline") != 0)
            snprintf(why, sizeof why, "model_cfg.model is '%s', not Baseline", cfg->model);
        else if (cfg->backbone[0] && strcmp(cfg->backbone, "ResNet9") != 0)
            snprintf(why, sizeof why, "backbone_cfg.type is '%s', not ResNet9", cfg->backbone);
        else if (cfg->n_channels && cfg->n_channels != L)
            snprintf(why, sizeof why, "backbone_cfg.channels has %d entries, the checkpoint %d layers", cfg->n_channels, L);
        else if (cfg->n_layers && cfg->n_layers != L)
            snprintf(why, sizeof why, "backbone_cfg.layers has %d entries, the checkpoint %d layers", cfg->n_layers, L);
        else if (cfg->parts && cfg->parts != parts)
            snprintf(why, sizeof why, "SeparateFCs.parts_num is %d, 'FCs.fc_bin' has %lld parts", cfg->parts, (long long)parts);
        else if (cfg->in_channels && cfg->in_channels != in_ch)
            snprintf(why, sizeof why, "backbone_cfg.in_channel is %d, the checkpoint takes %lld", cfg->in_channels, (long long)in_ch);
        for (int l = 0; !why[0] && l < L; l++) {
            snprintf(key, sizeof key, GB_PREFIX "layer%d.", l + 1);
            int nb = grt_builder_count_blocks(sd, key);
            snprintf(key, sizeof key, GB_PREFIX "layer%d.0.conv1.weight", l + 1);
            const grt_tensor *w = grt_state_dict_find(sd, key);
            if (cfg->n_channels && w && w->ndim == 4 && w->shape[0] != cfg->channels[l])
                snprintf(why, sizeof why, "backbone_cfg.channels[%d] is %d, the checkpoint has %lld", l, cfg->channels[l],
                         (long long)w->shape[0]);
            else if (cfg->n_layers && nb != cfg->layers[l])
                snprintf(why, sizeof why, "backbone_cfg.layers[%d] is %d, the checkpoint has %d blocks", l, cfg->layers[l], nb);
        }
        if (why[0]) {
            grt_builder_free(&b);
            return grt_error(GAITRT_ERR_MODEL, "%s: the config %s disagrees with the checkpoint: %s ---> HINT: pass the YAML the "
                             "model was trained with", path, cfg->source, why);
        }
    }
    int64_t efc[3] = {parts, inplanes, -1};
    if (x >= 0) x = grt_graph_temporal_max(b.g, "TP", x);
    if (x >= 0) x = grt_graph_hpp(b.g, "HPP", x, n_bins, bins);
    int wfc = grt_builder_weight(&b, "FCs.fc_bin", 3, efc);
    if (x >= 0 && wfc >= 0) x = grt_graph_sepfc(b.g, "FCs", x, wfc, 0);
    static const char *const ignore[] = {"BNNecks.", NULL};
    st = grt_builder_complete(&b, x, 1, ignore, "GaitBase", out);
    if (st != GRT_OK) return st;
    gaitrt_model_info *info = &out->info;
    size_t vl = strlen(variant);
    snprintf(variant + vl, sizeof variant - vl, "] bins=%d parts=%lld", n_bins == 1 ? bins[0] : -1, (long long)parts);
    snprintf(info->variant, sizeof info->variant, "%s", variant);
    info->n_inputs = 1;
    snprintf(info->inputs[0].name, sizeof info->inputs[0].name, in_ch == 1 ? "silhouette" : "input");
    info->inputs[0].channels = (int)in_ch;
    info->inputs[0].height = H;
    info->inputs[0].width = W;
    info->inputs[0].stored_width = W == 44 ? 64 : W == 88 ? 128 : W;
    info->inputs[0].divisor = 255.0f;
    info->embed_channels = (int)fc->shape[2];
    info->embed_parts = (int)parts;
    return grt_model_fill_costs(out->graph, sd, info);
}

static grt_status gb_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    /* variants: default (OpenGait's widths) or "small" (widths / 8, for quick tests) */
    int div = 1;
    if (variant && strcmp(variant, "small") == 0)
        div = 8;
    else if (variant && *variant)
        return grt_error(GAITRT_ERR_INVALID_ARG, "GaitBase has no variant '%s' (known: small)", variant);
    grt_state_dict *sd = grt_sd_new(div == 1 ? "GaitBase (random weights)" : "GaitBase:small (random weights)");
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "out of memory");
    grt_rng rng = {seed};
    const int64_t ch[4] = {64 / div, 128 / div, 256 / div, 512 / div};
    const int st[4] = {1, 2, 2, 1};
    char key[160];
    grt_status s = GRT_OK;
    int64_t sh[4] = {ch[0], 1, 3, 3};
    s = grt_sd_add_random(sd, GB_PREFIX "conv1.conv.weight", 4, sh, &rng, 0.47f);
    if (s == GRT_OK) s = grt_sd_add_random_bn(sd, GB_PREFIX "bn1", ch[0], &rng);
    int64_t in = ch[0];
    for (int L = 0; L < 4 && s == GRT_OK; L++) {
        int64_t p = ch[L];
        int64_t a[4] = {p, in, 3, 3}, bb[4] = {p, p, 3, 3}, d[4] = {p, in, 1, 1};
        snprintf(key, sizeof key, GB_PREFIX "layer%d.0.conv1.weight", L + 1);
        s = grt_sd_add_random(sd, key, 4, a, &rng, sqrtf(2.0f / (float)(in * 9)));
        snprintf(key, sizeof key, GB_PREFIX "layer%d.0.bn1", L + 1);
        if (s == GRT_OK) s = grt_sd_add_random_bn(sd, key, p, &rng);
        snprintf(key, sizeof key, GB_PREFIX "layer%d.0.conv2.weight", L + 1);
        if (s == GRT_OK) s = grt_sd_add_random(sd, key, 4, bb, &rng, sqrtf(2.0f / (float)(p * 9)));
        snprintf(key, sizeof key, GB_PREFIX "layer%d.0.bn2", L + 1);
        if (s == GRT_OK) s = grt_sd_add_random_bn(sd, key, p, &rng);
        if (s == GRT_OK && (st[L] != 1 || in != p)) {
            snprintf(key, sizeof key, GB_PREFIX "layer%d.0.downsample.0.weight", L + 1);
            s = grt_sd_add_random(sd, key, 4, d, &rng, sqrtf(2.0f / (float)in));
            snprintf(key, sizeof key, GB_PREFIX "layer%d.0.downsample.1", L + 1);
            if (s == GRT_OK) s = grt_sd_add_random_bn(sd, key, p, &rng);
        }
        in = p;
    }
    int64_t f[3] = {16, ch[3], 256 / div};
    if (s == GRT_OK) s = grt_sd_add_random(sd, "FCs.fc_bin", 3, f, &rng, 0.044f);
    if (s != GRT_OK) {
        grt_state_dict_free(sd);
        return s;
    }
    *out = sd;
    return GRT_OK;
}

const grt_model_family grt_family_gaitbase = {"GaitBase", gb_match, gb_build, gb_random};
