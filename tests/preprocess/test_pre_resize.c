/* test_pre_resize.c — grt_resize_u8 / grt_resize_f64 against cv2.resize (OpenCV 4.6) on random
 * images of many sizes, every interpolation, shrinking and enlarging. We expect bit-exact
 * results; the test prints, per interpolation, how many pixels differ and by how much. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pre_testdata.h"
#include "preprocess/preprocess.h"

static const char *interp_name[] = {"nearest", "linear", "cubic", "area"};

int main(void) {
    char dir[1024], path[1200];
    td_ref_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/resize.bin", dir);
    td_file f;
    if (!td_load(path, &f)) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    const td_array *cnt = td_get(&f, "count");
    CHECK(cnt != NULL);
    int n_u8 = ((const int *)cnt->data)[0], n_f64 = ((const int *)cnt->data)[1];
    long long px[4] = {0}, bad[4] = {0}, cases[4] = {0}, bad_cases[4] = {0};
    int maxd[4] = {0};
    int printed = 0;
    size_t wcap = 0;
    void *work = NULL;
    for (int i = 0; i < n_u8; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "u8/%d/meta", i);
        const td_array *meta = td_get(&f, nm);
        snprintf(nm, sizeof nm, "u8/%d/dst", i);
        const td_array *dst = td_get(&f, nm);
        if (!meta || !dst) {
            CHECK_MSG(0, "case %d missing", i);
            continue;
        }
        const int *m = meta->data;
        snprintf(nm, sizeof nm, "src/%d", m[3]);
        const td_array *src = td_get(&f, nm);
        int interp = m[0], dw = m[1], dh = m[2];
        int sh = (int)src->shape[0], sw = (int)src->shape[1];
        size_t need = grt_resize_work_bytes((grt_interp)interp, sw, sh, dw, dh, 0);
        if (need > wcap) {
            free(work);
            work = malloc(need);
            wcap = need;
        }
        uint8_t *out = malloc((size_t)dw * dh);
        grt_status st = grt_resize_u8(src->data, sw, sh, sw, out, dw, dh, dw, (grt_interp)interp, work, wcap);
        CHECK_MSG(st == GRT_OK, "case %d: %s", i, gaitrt_last_error());
        const uint8_t *ref = dst->data;
        int case_bad = 0;
        for (int k = 0; k < dw * dh; k++) {
            int d = abs((int)out[k] - (int)ref[k]);
            if (d) {
                bad[interp]++;
                case_bad++;
                if (d > maxd[interp]) maxd[interp] = d;
                if (printed < 10) {
                    printf("  u8 case %d (%s %dx%d -> %dx%d) pixel (%d,%d): ours %d, cv2 %d\n", i, interp_name[interp], sw,
                           sh, dw, dh, k / dw, k % dw, out[k], ref[k]);
                    printed++;
                }
            }
        }
        px[interp] += (long long)dw * dh;
        cases[interp]++;
        if (case_bad) bad_cases[interp]++;
        free(out);
    }
    for (int k = 0; k < 4; k++) {
        printf("uint8 %-8s: %lld cases, %lld pixels, %lld differ (%lld cases), max |diff| %d\n", interp_name[k], cases[k],
               px[k], bad[k], bad_cases[k], maxd[k]);
        CHECK(bad[k] == 0);
    }
    long long fpx = 0, fbad = 0;
    double fmax = 0;
    for (int i = 0; i < n_f64; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "f64/%d/src", i);
        const td_array *src = td_get(&f, nm);
        snprintf(nm, sizeof nm, "f64/%d/meta", i);
        const td_array *meta = td_get(&f, nm);
        snprintf(nm, sizeof nm, "f64/%d/dst", i);
        const td_array *dst = td_get(&f, nm);
        const int *m = meta->data;
        int interp = m[0], dw = m[1], dh = m[2];
        int sh = (int)src->shape[0], sw = (int)src->shape[1];
        size_t need = grt_resize_work_bytes((grt_interp)interp, sw, sh, dw, dh, 1);
        if (need > wcap) {
            free(work);
            work = malloc(need);
            wcap = need;
        }
        double *out = malloc(sizeof(double) * dw * dh);
        grt_status st = grt_resize_f64(src->data, sw, sh, sw, out, dw, dh, dw, (grt_interp)interp, work, wcap);
        CHECK_MSG(st == GRT_OK, "f64 case %d: %s", i, gaitrt_last_error());
        const double *ref = dst->data;
        for (int k = 0; k < dw * dh; k++) {
            if (memcmp(&out[k], &ref[k], sizeof(double))) {
                fbad++;
                double d = fabs(out[k] - ref[k]);
                if (d > fmax) fmax = d;
                if (printed < 20) {
                    printf("  f64 case %d (%s %dx%d -> %dx%d) at %d: ours %.17g, cv2 %.17g\n", i, interp_name[interp], sw, sh,
                           dw, dh, k, out[k], ref[k]);
                    printed++;
                }
            }
        }
        fpx += (long long)dw * dh;
        free(out);
    }
    printf("float64: %d cases, %lld values, %lld not bit-identical, max |diff| %.3g\n", n_f64, fpx, fbad, fmax);
    CHECK(fbad == 0);
    free(work);
    td_free(&f);
    return grt_test_finish("test_pre_resize");
}
