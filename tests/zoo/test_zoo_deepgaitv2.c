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
    return zoo_finish("test_zoo_deepgaitv2");
}
