/* test_pre_pose.c — keypoints from files (JSON layout, .npy, .pkl through io) and the public
 * gaitrt_skeleton_maps on them, against the reference maps of the same poses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pre_testdata.h"
#include "gaitrt.h"

static void check_maps(const char *what, const gaitrt_pose_sequence *ps, const td_array *maps) {
    gaitrt_skeleton_params sp = gaitrt_skeleton_default_params();
    size_t n = (size_t)maps->numel;
    uint8_t *out = malloc(n);
    gaitrt_status st = gaitrt_skeleton_maps(ps, &sp, out, n);
    CHECK_MSG(st == GAITRT_OK, "%s: %s", what, gaitrt_last_error());
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += out[i] == ((const uint8_t *)maps->data)[i];
    printf("%-28s T=%d V=%d %s: %zu/%zu pixels equal\n", what, ps->n_frames, ps->n_joints, ps->is_double ? "f64" : "f32", same, n);
    CHECK(same == n);
    free(out);
}

int main(void) {
    char ref[1024], path[1400];
    td_ref_dir(ref, sizeof ref);
    snprintf(path, sizeof path, "%s/skeleton.bin", ref);
    td_file f;
    if (!td_load(path, &f)) return 1;
    const td_array *mpose = td_get(&f, "missing_f32/pose"), *mmaps = td_get(&f, "missing_f32/maps");
    const td_array *wpose = td_get(&f, "walk_f64/pose"), *wmaps = td_get(&f, "walk_f64/maps");
    CHECK(mpose && mmaps && wpose && wmaps);

    /* JSON: numbers come back as double; the values are the float32 ones, so as float32 the maps match */
    gaitrt_pose_sequence ps;
    snprintf(path, sizeof path, "%s/pose_missing.json", ref);
    gaitrt_status st = gaitrt_pose_load(path, &ps);
    CHECK_MSG(st == GAITRT_OK, "%s", gaitrt_last_error());
    if (!st) {
        CHECK(ps.n_frames == (int)mpose->shape[0] && ps.n_joints == 17 && ps.is_double);
        size_t n = (size_t)ps.n_frames * 17 * 3;
        float *fl = malloc(n * sizeof(float));
        int exact = 1;
        for (size_t i = 0; i < n; i++) {
            fl[i] = (float)((const double *)ps.data)[i];
            exact &= (double)fl[i] == ((const double *)ps.data)[i] && fl[i] == ((const float *)mpose->data)[i];
        }
        CHECK(exact);
        gaitrt_pose_sequence as32 = {ps.n_frames, 17, 0, fl, NULL};
        check_maps("json (as float32)", &as32, mmaps);
        free(fl);
        gaitrt_pose_release(&ps);
    }
    snprintf(path, sizeof path, "%s/pose_walk_f64.npy", ref);
    st = gaitrt_pose_load(path, &ps);
    CHECK_MSG(st == GAITRT_OK, "%s", gaitrt_last_error());
    if (!st) {
        check_maps("npy float64", &ps, wmaps);
        gaitrt_pose_release(&ps);
    }
    snprintf(path, sizeof path, "%s/pose_missing_f32.pkl", ref);
    st = gaitrt_pose_load(path, &ps);
    CHECK_MSG(st == GAITRT_OK, "%s", gaitrt_last_error());
    if (!st) {
        check_maps("pkl float32", &ps, mmaps);
        gaitrt_pose_release(&ps);
    }
    /* errors name the file */
    snprintf(path, sizeof path, "%s/decode/grey8.png", ref);
    st = gaitrt_pose_load(path, &ps);
    printf("png as pose -> %s: %s\n", gaitrt_status_str(st), gaitrt_last_error());
    CHECK(st == GAITRT_ERR_UNSUPPORTED && strstr(gaitrt_last_error(), "grey8.png"));
    snprintf(path, sizeof path, "%s/pre_bad_pose.json", grt_test_env("GRT_BUILD_DIR", "."));
    FILE *fp = fopen(path, "w");
    fputs("{\"frames\": [{\"keypoints\": [[1, 2, 0.5]]}]}", fp);
    fclose(fp);
    st = gaitrt_pose_load(path, &ps);
    printf("one joint -> %s: %s\n", gaitrt_status_str(st), gaitrt_last_error());
    CHECK(st == GAITRT_ERR_INPUT);
    fp = fopen(path, "w");
    fputs("{\"frames\": [{\"keypoints\": [[1, 2, 0.5]", fp);
    fclose(fp);
    st = gaitrt_pose_load(path, &ps);
    printf("cut JSON -> %s: %s\n", gaitrt_status_str(st), gaitrt_last_error());
    CHECK(st == GAITRT_ERR_FORMAT);
    td_free(&f);
    return grt_test_finish("test_pre_pose");
}
