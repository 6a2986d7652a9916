/* xgait.c — XGait (xgait.md; Gait3D-Benchmark's class `XGait`): two ResNet9 backbones, on
 * the silhouettes (X) and on the raw parsing labels (Y); the global cross-granularity module
 * GCM (channel weights z from both streams' spatial means: G = X z[:C] + Y z[C:]); three part
 * cross-granularity modules PCM (up, middle, down: z from the mean + max of X's top quarter and
 * of Y weighted per pixel by gamma or 1 - gamma after the part's labels, output rows of the
 * part); then temporal max, HPP and four separate FCs, concatenated along the parts
 * (sil, par, gcm, pcm: 64 parts). Everything is per frame before the temporal max, so
 * sequences are packed as in GaitBase.
 *
 * Inputs, in the order of Gait3D-Benchmark's `ipts`: 0 = parsing labels, 1 = silhouettes,
 * both [T, 64, 64] cut to 44 columns. Both use BaseParsingCuttingTransform, which divides by
 * 255 only when the array's maximum is 255 (divisor 0 here); the parsing labels (0..11) are
 * therefore used as they are.
 *
 * What it is not: the four BNNecks (training heads). */
#include <stdio.h>
#include <string.h>

#include "models/zoo.h"

static int xg_match(const grt_state_dict *sd) {
    int score = 0;
    if (zoo_find(sd, "Backbone_sil.forward_block.conv1.conv.weight")) score += 8;
    if (zoo_find(sd, "Backbone_par.forward_block.conv1.conv.weight")) score += 8;
    if (zoo_find(sd, "gcm.fc.0.weight")) score += 4;
    if (zoo_find(sd, "pcm_up.gammas")) score += 2;
    return score >= 20 ? score : 0;
}

/* z = sigmoid(W2 ReLU(W1 [x; y])) per frame, x and y (N, C, T): the Linear layers
 * `<pre>.fc.{0,2}.weight` [out, in] as 1x1x1 convs over (N, 2C, T, 1, 1). */
static int xg_fc(grt_builder *b, const char *pre, int x, int y, int64_t c) {
    char key[96], name[96];
    snprintf(key, sizeof key, "%s.fc.0.weight", pre);
    const grt_tensor *t = grt_state_dict_find(b->sd, key);
    const int64_t hidden = t && t->ndim == 2 ? t->shape[0] : -1;
    const int64_t e0[2] = {hidden, 2 * c}, v0[5] = {hidden, 2 * c, 1, 1, 1};
    const int64_t e2[2] = {2 * c, hidden}, v2[5] = {2 * c, hidden, 1, 1, 1};
    int w0 = zoo_weight_view(b, key, 2, e0, 5, v0);
    snprintf(key, sizeof key, "%s.fc.2.weight", pre);
    int w2 = zoo_weight_view(b, key, 2, e2, 5, v2);
    if (x < 0 || y < 0 || w0 < 0 || w2 < 0) return -1;
    const int k1[3] = {1, 1, 1};
    const int xs[2] = {x, y};
    const int64_t s5[5] = {0, 2 * c, -1, 1, 1};
    snprintf(name, sizeof name, "%s.cat", pre);
    int z = grt_graph_concat(b->g, name, 2, xs, 1);
    if (z >= 0) z = grt_graph_reshape(b->g, name, z, 5, s5);
    snprintf(name, sizeof name, "%s.fc.0", pre);
    if (z >= 0) z = grt_graph_conv(b->g, name, z, w0, -1, k1, zoo_s1, zoo_p0, 1);
    if (z >= 0) z = grt_graph_act(b->g, name, z, GRT_ACT_RELU, 0);
    snprintf(name, sizeof name, "%s.fc.2", pre);
    if (z >= 0) z = grt_graph_conv(b->g, name, z, w2, -1, k1, zoo_s1, zoo_p0, 1);
    if (z >= 0) z = grt_graph_act(b->g, name, z, GRT_ACT_SIGMOID, 0);
    if (z < 0) b->st = GAITRT_ERR_NOMEM;
    return z;
}

/* X[rows] * z[:C] + Y[rows] * z[C:], z (N, 2C, T, 1, 1) broadcast over the map. */
static int xg_mix(grt_builder *b, const char *pre, int X, int Y, int z, int64_t c, int row0, int rows, int h) {
    if (X < 0 || Y < 0 || z < 0) return -1;
    char name[96];
    snprintf(name, sizeof name, "%s.z", pre);
    int zx = grt_graph_slice(b->g, name, z, 1, 0, (int)c), zy = grt_graph_slice(b->g, name, z, 1, (int)c, (int)c);
    if (rows != h) {
        snprintf(name, sizeof name, "%s.rows", pre);
        X = grt_graph_slice(b->g, name, X, 3, row0, rows);
        Y = grt_graph_slice(b->g, name, Y, 3, row0, rows);
    }
    snprintf(name, sizeof name, "%s.x", pre);
    int a = X >= 0 && zx >= 0 ? grt_graph_mul_bcast(b->g, name, X, zx) : -1;
    snprintf(name, sizeof name, "%s.y", pre);
    int d = Y >= 0 && zy >= 0 ? grt_graph_mul_bcast(b->g, name, Y, zy) : -1;
    int out = a >= 0 && d >= 0 ? grt_graph_add(b->g, pre, a, d) : -1;
    if (out < 0) b->st = GAITRT_ERR_NOMEM;
    return out;
}

static grt_status xg_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    const char *path = sd->path ? sd->path : "checkpoint";
    const grt_tensor *cs = zoo_find(sd, "Backbone_sil.forward_block.conv1.conv.weight");
    const grt_tensor *cp = zoo_find(sd, "Backbone_par.forward_block.conv1.conv.weight");
    const grt_tensor *fc = zoo_find(sd, "FCs_sil.fc_bin");
    if (!cs || cs->ndim != 4 || !cp || cp->ndim != 4 || !fc || fc->ndim != 3)
        return grt_error(GAITRT_ERR_MODEL, "%s: not an XGait checkpoint (needs 'Backbone_sil.forward_block.conv1.conv.weight', "
                         "'Backbone_par.forward_block.conv1.conv.weight' and 'FCs_sil.fc_bin')", path);
    const int H = cfg && cfg->height ? cfg->height : 64, W = cfg && cfg->width ? cfg->width : 44;
    const int h = H / 4, w = W / 4; /* after the two stride-2 stages */
    if (h % 4 || h < 4)
        return grt_error(GAITRT_ERR_MODEL, "%s: XGait's part modules split %d feature rows into quarters ---> HINT: the input "
                         "height must be 64", path, h);
    grt_builder b;
    grt_status st = grt_builder_init(&b, sd);
    if (st != GRT_OK) return st;
    int pars = grt_graph_input(b.g, (int)cp->shape[1], H, W);
    int sils = grt_graph_input(b.g, (int)cs->shape[1], H, W);
    int64_t c = -1, c2 = -1;
    int X = zoo_resnet9(&b, "Backbone_sil.forward_block.", sils, &c);
    int Y = zoo_resnet9(&b, "Backbone_par.forward_block.", pars, &c2);
    if (c != c2) {
        grt_builder_free(&b);
        return grt_error(GAITRT_ERR_MODEL, "%s: the two backbones end with %lld and %lld channels", path, (long long)c,
                         (long long)c2);
    }
    /* GCM: spatial means of both streams */
    int mx = X >= 0 ? grt_graph_reduce(b.g, "gcm.mean_x", X, 3, 2, GRT_REDUCE_MEAN) : -1;
    int my = Y >= 0 ? grt_graph_reduce(b.g, "gcm.mean_y", Y, 3, 2, GRT_REDUCE_MEAN) : -1;
    int G = xg_mix(&b, "gcm", X, Y, xg_fc(&b, "gcm", mx, my, c), c, 0, h, h);
    /* PCM: M = the input labels at rows 4i, columns 4j (nearest), shared by the three parts;
     * x = mean + max of X's top quarter, also shared */
    const int k1[3] = {1, 1, 1}, s4[3] = {1, H / h, W / w};
    int M = pars >= 0 ? grt_graph_maxpool(b.g, "pcm.labels", pars, k1, s4, zoo_p0) : -1;
    int xq = X >= 0 ? grt_graph_slice(b.g, "pcm.top", X, 3, 0, h / 4) : -1;
    if (xq >= 0) xq = grt_graph_reduce(b.g, "pcm.top", xq, 3, 2, GRT_REDUCE_MEAN_MAX);
    static const char *const part[3] = {"pcm_up", "pcm_middle", "pcm_down"};
    /* label sets (bit l = label l): up {1}; middle {2,3,4,5,6,11}; down {7,8,9,10,11} */
    static const uint64_t labels[3] = {1u << 1, (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 11),
                                       (1u << 7) | (1u << 8) | (1u << 9) | (1u << 10) | (1u << 11)};
    const int row0[3] = {0, h / 4, 3 * h / 4}, nrows[3] = {h / 4, h / 2, h / 4};
    int P[3];
    char key[96], name[96];
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s.gammas", part[i]);
        const int64_t e1[1] = {1};
        int gamma = grt_builder_weight(&b, key, 1, e1);
        snprintf(name, sizeof name, "%s.mask", part[i]);
        int m = M >= 0 && gamma >= 0 ? grt_graph_label_mask(b.g, name, M, labels[i], gamma) : -1;
        snprintf(name, sizeof name, "%s.weighted", part[i]);
        int yw = Y >= 0 && m >= 0 ? grt_graph_mul_bcast(b.g, name, Y, m) : -1;
        snprintf(name, sizeof name, "%s.pool", part[i]);
        int yp = yw >= 0 ? grt_graph_reduce(b.g, name, yw, 3, 2, GRT_REDUCE_MEAN_MAX) : -1;
        P[i] = xg_mix(&b, part[i], X, Y, xg_fc(&b, part[i], xq, yp, c), c, row0[i], nrows[i], h);
    }
    int Pc = P[0] >= 0 && P[1] >= 0 && P[2] >= 0 ? grt_graph_concat(b.g, "pcm", 3, P, 3) : -1;
    /* four heads: TP -> HPP -> FCs, parts concatenated in the order sil, par, gcm, pcm */
    static const char *const fcs[4] = {"FCs_sil.fc_bin", "FCs_par.fc_bin", "FCs_gcm.fc_bin", "FCs_pcm.fc_bin"};
    const int streams[4] = {X, Y, G, Pc};
    int heads[4];
    for (int i = 0; i < 4; i++) heads[i] = streams[i] >= 0 ? zoo_head(&b, streams[i], fcs[i], c) : -1;
    int y = heads[0] >= 0 && heads[1] >= 0 && heads[2] >= 0 && heads[3] >= 0 ? grt_graph_concat(b.g, "parts", 4, heads, 2)
                                                                             : -1;
    static const char *const ignore[] = {"BNNecks_", NULL};
    st = grt_builder_complete(&b, y, 1, ignore, "XGait", out);
    if (st != GRT_OK) return st;
    gaitrt_model_info *info = &out->info;
    snprintf(info->variant, sizeof info->variant, "ResNet9 x2, C=%lld, parts=4x%lld", (long long)c, (long long)fc->shape[0]);
    info->n_inputs = 2;
    const char *names[2] = {"parsing", "silhouette"};
    const int chans[2] = {(int)cp->shape[1], (int)cs->shape[1]};
    for (int k = 0; k < 2; k++) {
        snprintf(info->inputs[k].name, sizeof info->inputs[k].name, "%s", names[k]);
        info->inputs[k].channels = chans[k];
        info->inputs[k].height = H;
        info->inputs[k].width = W;
        info->inputs[k].stored_width = W == 44 ? 64 : W == 88 ? 128 : W;
        info->inputs[k].divisor = 0.0f; /* BaseParsingCuttingTransform: /255 only if the max is 255 */
    }
    info->embed_channels = (int)fc->shape[2];
    info->embed_parts = (int)(4 * fc->shape[0]);
    return zoo_costs(out->graph, sd, info, 8, 9);
}

/* ResNet9 keys under prefix with OpenGait's widths, for random(). */
static grt_status xg_rand_resnet9(grt_state_dict *sd, grt_rng *rng, const char *prefix) {
    char key[160];
    const int64_t ch[4] = {64, 128, 256, 512};
    int64_t s1[4] = {64, 1, 3, 3};
    snprintf(key, sizeof key, "%sconv1.conv.weight", prefix);
    grt_status st = zoo_rand(sd, rng, key, 4, s1);
    snprintf(key, sizeof key, "%sbn1", prefix);
    if (st == GRT_OK) st = zoo_rand_bn(sd, rng, key, 64);
    int64_t in = 64;
    for (int L = 0; L < 4 && st == GRT_OK; L++) {
        int64_t p = ch[L], a[4] = {p, in, 3, 3}, c[4] = {p, p, 3, 3}, d[4] = {p, in, 1, 1};
        snprintf(key, sizeof key, "%slayer%d.0.conv1.weight", prefix, L + 1);
        st = zoo_rand(sd, rng, key, 4, a);
        snprintf(key, sizeof key, "%slayer%d.0.bn1", prefix, L + 1);
        if (st == GRT_OK) st = zoo_rand_bn(sd, rng, key, p);
        snprintf(key, sizeof key, "%slayer%d.0.conv2.weight", prefix, L + 1);
        if (st == GRT_OK) st = zoo_rand(sd, rng, key, 4, c);
        snprintf(key, sizeof key, "%slayer%d.0.bn2", prefix, L + 1);
        if (st == GRT_OK) st = zoo_rand_bn(sd, rng, key, p);
        if (st == GRT_OK && (L == 1 || L == 2 || in != p)) {
            snprintf(key, sizeof key, "%slayer%d.0.downsample.0.weight", prefix, L + 1);
            st = zoo_rand(sd, rng, key, 4, d);
            snprintf(key, sizeof key, "%slayer%d.0.downsample.1", prefix, L + 1);
            if (st == GRT_OK) st = zoo_rand_bn(sd, rng, key, p);
        }
        in = p;
    }
    return st;
}

static grt_status xg_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    if (variant && *variant && strcmp(variant, "gait3d"))
        return grt_error(GAITRT_ERR_INVALID_ARG, "XGait variant '%s': only gait3d exists", variant);
    grt_state_dict *sd = grt_sd_new("XGait (random weights)");
    if (!sd) return grt_error(GAITRT_ERR_NOMEM, "out of memory");
    grt_rng rng = {seed};
    char key[96];
    grt_status st = xg_rand_resnet9(sd, &rng, "Backbone_sil.forward_block.");
    if (st == GRT_OK) st = xg_rand_resnet9(sd, &rng, "Backbone_par.forward_block.");
    static const char *const mods[4] = {"gcm", "pcm_up", "pcm_middle", "pcm_down"};
    int64_t f0[2] = {32, 1024}, f2[2] = {1024, 32}, one = 1;
    for (int i = 0; i < 4 && st == GRT_OK; i++) {
        if (i > 0) {
            snprintf(key, sizeof key, "%s.gammas", mods[i]);
            st = grt_sd_add_random(sd, key, 1, &one, &rng, 0.0f);
            if (st == GRT_OK) ((float *)grt_state_dict_find(sd, key)->data)[0] = 0.75f; /* the initial gamma */
        }
        snprintf(key, sizeof key, "%s.fc.0.weight", mods[i]);
        if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 2, f0);
        snprintf(key, sizeof key, "%s.fc.2.weight", mods[i]);
        if (st == GRT_OK) st = zoo_rand(sd, &rng, key, 2, f2);
    }
    static const char *const fcs[4] = {"FCs_sil.fc_bin", "FCs_par.fc_bin", "FCs_gcm.fc_bin", "FCs_pcm.fc_bin"};
    int64_t f[3] = {16, 512, 256};
    for (int i = 0; i < 4 && st == GRT_OK; i++) st = zoo_rand(sd, &rng, fcs[i], 3, f);
    if (st != GRT_OK) {
        grt_state_dict_free(sd);
        return st;
    }
    *out = sd;
    return GRT_OK;
}

const grt_model_family grt_family_xgait = {"XGait", xg_match, xg_build, xg_random};
