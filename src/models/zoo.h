/*
 * zoo.h — building blocks shared by the model-zoo families (DeepGaitV2, SkeletonGait(++),
 * GaitSet, GaitPart, GaitGL, XGait): the residual blocks of OpenGait's modules.py, the
 * TP -> HPP -> SeparateFCs head, cost accounting and random-weight helpers. Every block
 * reads its weights through the checked builder, so a missing or misshapen key is reported
 * with the others at the end of the build.
 *
 * What this is not: a model. Each family composes these in its own file.
 *
 * Example (one per-frame conv -> BN -> ReLU, OpenGait keys `layer0.forward_block.{0,1}`):
 *
 *     x = zoo_conv_bn(b, "layer0", "layer0.forward_block.0.weight", "layer0.forward_block.1", x,
 *                     zoo_s1, zoo_p_hw1, GRT_ACT_RELU);
 */
#ifndef GRT_MODELS_ZOO_H
#define GRT_MODELS_ZOO_H

#include "models/models.h"

extern const int zoo_s1[3];     /* stride 1 */
extern const int zoo_p0[3];     /* no padding */
extern const int zoo_p_hw1[3];  /* (0, 1, 1): a per-frame 3x3 */
extern const int zoo_p_all1[3]; /* (1, 1, 1): a 3x3x3 */

/* printf-style lookup; NULL when absent. */
const grt_tensor *zoo_find(const grt_state_dict *sd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* conv (weight `wkey`, any 4-D/5-D shape checked against expect when given) -> BN `bn`
 * (NULL: none) -> act. Returns the output value or -1. */
int zoo_conv_bn(grt_builder *b, const char *name, const char *wkey, const char *bn, int x, const int s[3],
                const int p[3], grt_act act, int ndim, const int64_t *expect);

/* Residual blocks (deepgaitv2.md §3). `pre` is the block's key prefix, e.g.
 * "layer1.forward_block.0" (2-D) or "layer2.1" (P3D/3D). The projection shortcut is built
 * when `project` is set or its keys exist. Return the block output (N, planes, T, H', W'). */
int zoo_block_2d(grt_builder *b, const char *pre, int x, int64_t inplanes, int64_t planes, int stride, int project);
int zoo_block_p3d(grt_builder *b, const char *pre, int x, int64_t inplanes, int64_t planes, int stride, int project);
int zoo_block_3d(grt_builder *b, const char *pre, int x, int64_t inplanes, int64_t planes, int stride, int project);

/* torchvision ResNet9 as OpenGait's GaitBase/XGait backbones hold it, under `<prefix>`
 * (e.g. "Backbone_sil.forward_block."): conv1.conv -> bn1 -> ReLU -> layer1..4 of BasicBlocks
 * with strides [1, 2, 2, 1]. Returns (N, C4, T, H/4, W/4); *width gets C4. */
int zoo_resnet9(grt_builder *b, const char *prefix, int x, int64_t *width);

/* The shared DeepGaitV2-style head: temporal max (per sequence) -> HPP with one bin count of
 * `parts` rows -> SeparateFCs `fc_key` [parts, C, Co]. Returns (S, Co, parts). */
int zoo_head(grt_builder *b, int x, const char *fc_key, int64_t channels);

/* BNNeck feature (use_emb2): BN1d over the flattened (C*P) features, then each part's C-vector
 * L2-normalised. x is (S, C, P). */
int zoo_bnneck_emb2(grt_builder *b, const char *bn_prefix, int x, int64_t c, int64_t p);

/* Adds a constant from tensor `key` whose stored shape must be `expect` (ndim entries, -1 = any),
 * viewed with the new shape `view` (same element count). Returns the value id or -1. */
int zoo_weight_view(grt_builder *b, const char *key, int ndim, const int64_t *expect, int view_ndim, const int64_t *view);

/* Fills info's parameter counts (grt_model_fill_costs) and its MACs from runs of one sequence
 * at t_a and t_b frames: per frame = the MAC increase per frame (convolutions and FCs), per
 * sequence = the rest. Models that change the frame count (GaitGL's stride-3 LTA) pick lengths
 * where that rule is linear. */
grt_status zoo_costs(const grt_graph *g, const grt_state_dict *sd, gaitrt_model_info *info, int t_a, int t_b);

/* Random weights for `random()` (benchmarks): conv-like tensors He-initialised from their fan-in,
 * FCs with Xavier's scale. */
grt_status zoo_rand(grt_state_dict *sd, grt_rng *rng, const char *key, int ndim, const int64_t *shape);
grt_status zoo_rand_bn(grt_state_dict *sd, grt_rng *rng, const char *prefix, int64_t c);

/* DeepGaitV2 (and SkeletonGait, the same class on heat maps): shared by both families. */
grt_status zoo_deepgaitv2_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out,
                                const char *type);
int zoo_deepgaitv2_match(const grt_state_dict *sd, int *in_channels);
grt_status zoo_deepgaitv2_random(const char *mode, const int layers[4], int in_channels, int width, uint64_t seed,
                                 grt_state_dict **out);

#endif
