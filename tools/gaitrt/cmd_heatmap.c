/* cmd_heatmap.c — `gaitrt heatmap POSES OUT.pkl`: skeleton maps for SkeletonGait(++) from 2-D
 * keypoints (.pkl/.npy [T, V, 3] or the JSON layout of docs/preprocessing.md), as OpenGait's
 * heat-map script makes them: uint8 [T, 2, 64, 64] (limbs, joints), written as a pickled numpy
 * array (.pkl, OpenGait's dataset format) or .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int grt_cmd_heatmap(int argc, char **argv) {
    gaitrt_skeleton_params sp = gaitrt_skeleton_default_params();
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--coco18")) sp.coco18 = 1;
        else if (!strcmp(argv[i], "--coco17")) sp.coco18 = 0;
        else if (!strcmp(argv[i], "--no-fill")) sp.fill_missing = 0;
        else if (argv[i][0] != '-' && !in) in = argv[i];
        else if (argv[i][0] != '-' && !out) out = argv[i];
        else {
            in = NULL;
            break;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "usage: gaitrt heatmap POSES(.pkl|.npy|.json) OUT(.pkl|.npy) [--coco17|--coco18] [--no-fill]\n");
        return 1;
    }
    gaitrt_pose_sequence pose;
    gaitrt_status st = gaitrt_pose_load(in, &pose);
    if (st != GAITRT_OK) return cli_fail("heatmap", st);
    const int S = sp.out_size;
    size_t len = (size_t)pose.n_frames * 2 * S * S;
    uint8_t *maps = malloc(len ? len : 1);
    if (!maps) {
        gaitrt_pose_release(&pose);
        return 9;
    }
    st = gaitrt_skeleton_maps(&pose, &sp, maps, len);
    int rc = 0;
    if (st != GAITRT_OK) {
        rc = cli_fail("heatmap", st);
    } else {
        gaitrt_array a = {GAITRT_DTYPE_U8, 4, {pose.n_frames, 2, S, S}, maps};
        size_t n = strlen(out);
        st = n > 4 && !strcmp(out + n - 4, ".npy") ? gaitrt_array_save_npy(out, &a) : gaitrt_array_save_pkl(out, &a);
        if (st != GAITRT_OK) rc = cli_fail("heatmap", st);
        else printf("wrote %s: uint8 [%d, 2, %d, %d] (limbs, joints)\n", out, pose.n_frames, S, S);
    }
    free(maps);
    gaitrt_pose_release(&pose);
    return rc;
}
