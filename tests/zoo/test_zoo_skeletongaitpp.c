/* test_zoo_skeletongaitpp.c — SkeletonGait++ against the PyTorch reference
 * (tests/reference/zoo_skeletongaitpp_ref.py): two inputs (heat maps stored 64 wide, silhouettes
 * stored 64 or 44 wide) assembled as skeletongaitpp.md §2 says, blocks [1,1,1,1] and
 * [1,4,4,1], every case at the conservative and balanced levels; the specification's counts
 * (§7); and that a SkeletonGait++ checkpoint is not taken for DeepGaitV2. */
#include <string.h>

#include "test_util.h"
#include "zoo_parity.h"

int main(void) {
    zoo_check_counts("SkeletonGaitPP:1111", 0, 8.10, 1599.9);
    zoo_check_counts("SkeletonGaitPP:1441", 0, 13.27, 3053.2);
    zoo_run_manifest("zoo_skeletongaitpp");
    /* forcing another family names what does not fit */
    gaitrt_model *m = zoo_load("zoo_skeletongaitpp", "sgpp_1111_small.pt", "DeepGaitV2", NULL);
    CHECK(m == NULL);
    printf("as DeepGaitV2: %s\n", gaitrt_last_error());
    CHECK(strstr(gaitrt_last_error(), "layer0.forward_block.0.weight") != NULL);
    gaitrt_model_free(m);
    return zoo_finish("test_zoo_skeletongaitpp");
}
