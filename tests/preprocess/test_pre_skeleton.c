/* test_pre_skeleton.c — SkeletonGait skeleton maps against our numpy re-implementation of
 * OpenGait's pretreatment_heatmap.py (tests/reference/pre_opengait.py): float32 and float64
 * keypoints, missing joints (filled), a frame without detection, a joint never seen (no
 * filling), COCO-18 input, limbs shorter than a pixel, joints off the canvas. Bit-exactness is
 * not possible everywhere (numpy's SIMD exp vs the C library's), so the bar is >= 99.9 % of
 * pixels within +-1; we print how many are exactly equal. The k-NN filling is checked on its own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pre_testdata.h"
#include "preprocess/preprocess.h"

int main(void) {
    char ref[1024], path[1400];
    td_ref_dir(ref, sizeof ref);
    snprintf(path, sizeof path, "%s/skeleton.bin", ref);
    td_file f;
    if (!td_load(path, &f)) return 1;
    const td_array *names = td_get(&f, "names");
    CHECK(names != NULL);
    char list[4096] = {0};
    memcpy(list, names->data, names->numel < 4095 ? (size_t)names->numel : 4095);
    long long all = 0, eq = 0, pm1 = 0;
    for (char *nm = strtok(list, "\n"); nm; nm = strtok(NULL, "\n")) {
        char key[300];
        snprintf(key, sizeof key, "%s/pose", nm);
        const td_array *pose = td_get(&f, key);
        snprintf(key, sizeof key, "%s/maps", nm);
        const td_array *maps = td_get(&f, key);
        CHECK(pose && maps);
        if (!pose || !maps) continue;
        grt_pose p = {(int)pose->shape[0], (int)pose->shape[1], pose->dtype == TD_F64, pose->data};
        grt_skel_opts o = grt_skel_default_opts();
        size_t n = (size_t)maps->numel;
        uint8_t *out = malloc(n);
        int degenerate = -1;
        grt_status st = grt_skeleton_maps(&p, &o, out, n, &degenerate);
        CHECK_MSG(st == GRT_OK, "%s: %s", nm, gaitrt_last_error());
        CHECK(degenerate == 0);
        const uint8_t *r = maps->data;
        long long e = 0, w1 = 0, inked = 0;
        int maxd = 0, shown = 0;
        for (size_t k = 0; k < n; k++) {
            int d = abs((int)out[k] - (int)r[k]);
            e += d == 0;
            w1 += d <= 1;
            inked += r[k] != 0;
            if (d > maxd) maxd = d;
            if (d > 1 && shown < 5) {
                size_t plane = k / (64 * 64);
                printf("  %s frame %zu map %zu (%zu,%zu): ours %d, reference %d\n", nm, plane / 2, plane % 2, (k / 64) % 64,
                       k % 64, out[k], r[k]);
                shown++;
            }
        }
        printf("%-16s %s T=%2d V=%d: equal %lld/%zu, within +-1 %lld, max |diff| %d (%lld reference pixels inked)\n", nm,
               p.f64 ? "f64" : "f32", p.n_frames, p.n_joints, e, n, w1, maxd, inked);
        CHECK_MSG((double)w1 / (double)n >= 0.999, "%s: too many pixels off by more than 1", nm);
        all += (long long)n;
        eq += e;
        pm1 += w1;
        free(out);
    }
    printf("skeleton maps: %lld pixels, %.4f %% equal, %.4f %% within +-1\n", all, 100.0 * eq / all, 100.0 * pm1 / all);
    CHECK(all > 0);

    /* the filling step alone: same sums in the same order as the reference, so bit-exact */
    const td_array *kin = td_get(&f, "knn/in"), *kout = td_get(&f, "knn/out");
    CHECK(kin && kout);
    if (kin && kout) {
        int T = (int)kin->shape[0], D = (int)kin->shape[1];
        double *x = malloc(sizeof(double) * T * D);
        memcpy(x, kin->data, sizeof(double) * T * D);
        CHECK(grt_skel_knn_fill(x, T, D) == GRT_OK);
        int same = 0;
        double maxd = 0;
        for (int i = 0; i < T * D; i++) {
            double d = fabs(x[i] - ((const double *)kout->data)[i]);
            same += d == 0;
            if (d > maxd) maxd = d;
        }
        printf("knn fill: %d/%d values identical, max |diff| %.3g\n", same, T * D, maxd);
        CHECK(same == T * D);
        free(x);
    }

    /* argument checks */
    float one[17 * 3] = {0};
    grt_pose bad = {1, 16, 0, one};
    grt_skel_opts o = grt_skel_default_opts();
    uint8_t small[2 * 64 * 64];
    CHECK(grt_skeleton_maps(&bad, &o, small, sizeof small, NULL) == GAITRT_ERR_INPUT);
    grt_pose ok = {1, 17, 0, one};
    CHECK(grt_skeleton_maps(&ok, &o, small, 100, NULL) == GAITRT_ERR_INVALID_ARG);
    /* a frame with no vertical extent: maps left empty, counted */
    int deg = 0;
    CHECK(grt_skeleton_maps(&ok, &o, small, sizeof small, &deg) == GRT_OK);
    for (int i = 0; i < 17; i++) one[3 * i + 2] = 0.9f, one[3 * i] = 5.f, one[3 * i + 1] = 7.f;
    CHECK(grt_skeleton_maps(&ok, &o, small, sizeof small, &deg) == GRT_OK);
    CHECK(deg == 1);
    td_free(&f);
    return grt_test_finish("test_pre_skeleton");
}
