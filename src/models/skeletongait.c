/* skeletongait.c — SkeletonGait (skeletongaitpp.md §6): OpenGait's DeepGaitV2 class on the
 * two skeleton-map channels (limbs, joints). Its keys are DeepGaitV2's; what tells it apart
 * is the 2-channel `layer0.forward_block.0.weight`, so it wins detection over DeepGaitV2 for
 * those checkpoints. The CCPG config's `use_emb2: true` (the normalised BNNeck feature) needs
 * --config. The network itself is built by deepgaitv2.c. */
#include <string.h>

#include "models/zoo.h"

static int sg_match(const grt_state_dict *sd) {
    int in_ch = 0;
    int s = zoo_deepgaitv2_match(sd, &in_ch);
    return s && in_ch == 2 ? s + 1 : 0;
}

static grt_status sg_build(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out) {
    return zoo_deepgaitv2_build(sd, cfg, out, "SkeletonGait");
}

/* Variants: the block counts, "1111" (OU-MVLP, CCPG, SUSTech1K; default) or "1441" (Gait3D, GREW). */
static grt_status sg_random(const char *variant, uint64_t seed, grt_state_dict **out) {
    int layers[4] = {1, 1, 1, 1};
    if (variant && *variant) {
        if (strcmp(variant, "1111") && strcmp(variant, "1441"))
            return grt_error(GAITRT_ERR_INVALID_ARG, "SkeletonGait variant '%s': expected 1111 or 1441", variant);
        for (int i = 0; i < 4; i++) layers[i] = variant[i] - '0';
    }
    return zoo_deepgaitv2_random("p3d", layers, 2, 64, seed, out);
}

const grt_model_family grt_family_skeletongait = {"SkeletonGait", sg_match, sg_build, sg_random};
