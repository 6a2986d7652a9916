/* test_zoo_deepgaitv2.c — DeepGaitV2 (modes 2d, p3d, 3d; block counts [1,1,1,1], [1,4,4,1]
 * and others) and SkeletonGait (plain and use_emb2) against the PyTorch reference
 * (tests/reference/zoo_deepgaitv2_ref.py): every case at the conservative and balanced levels;
 * the specification's parameter and MAC counts (deepgaitv2.md §6, skeletongaitpp.md §7);
 * detection from the keys; a mode the config contradicts. */
#include <string.h>

#include "test_util.h"
#include "zoo_parity.h"

int main(void) {
    /* the spec's counts, on random weights (no checkpoint needed) */
    zoo_check_counts("DeepGaitV2:p3d-1111", 0, 8.03, 1385.7);
    zoo_check_counts("DeepGaitV2:p3d-1441", 0, 13.20, 2839.1);
    zoo_check_counts("DeepGaitV2:3d-1111", 0, 16.28, 3046.7);
    zoo_check_counts("DeepGaitV2:3d-1441", 0, 29.56, 6783.8);
    zoo_check_counts("DeepGaitV2:2d-1111", 6994112, 0, 1178.1); /* GaitBase's network under other key names */
    zoo_check_counts("SkeletonGait:1111", 0, 0, 1387.4);
    zoo_check_counts("SkeletonGait:1441", 0, 0, 2840.7);
    zoo_run_manifest("zoo_deepgaitv2");
    /* a checkpoint that does not fit: every problem named */
    gaitrt_model *m = zoo_load("zoo_deepgaitv2", "dgv2_broken.pt", NULL, NULL);
    CHECK(m == NULL);
    const char *e = gaitrt_last_error();
    printf("broken: %s\n", e);
    CHECK(strstr(e, "dgv2_broken.pt") != NULL);
    CHECK(strstr(e, "missing 'layer3.0.shortcut3d.weight'") != NULL);
    CHECK(strstr(e, "'layer2.0.sbn.running_var' has shape [7]") != NULL);
    CHECK(strstr(e, "unexpected 'Extra.weight'") != NULL);
    gaitrt_model_free(m);
    /* random-weight variants are spelled Family:variant; a bad one is named */
    m = gaitrt_model_create_random("DeepGaitV2:4d", 1);
    CHECK(m == NULL && strstr(gaitrt_last_error(), "4d") != NULL);
    return zoo_finish("test_zoo_deepgaitv2");
}
