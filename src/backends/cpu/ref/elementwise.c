/* elementwise.c — reference BatchNorm (as scale/shift), activations, add, mul, L2 norm. */
#include <math.h>

#include "ref_kernels.h"

void grt_ref_scale_shift(const float *x, float *y, int64_t n, int64_t c, int64_t inner, const float *scale,
                         const float *shift, grt_act act, float alpha, int nt) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < c; k++) {
            const float sc = scale[k], sh = shift[k];
            const float *xp = x + (i * c + k) * inner;
            float *yp = y + (i * c + k) * inner;
            for (int64_t j = 0; j < inner; j++) yp[j] = grt_ref_apply_act(xp[j] * sc + sh, act, alpha);
        }
}

void grt_ref_act(const float *x, float *y, int64_t n, grt_act act, float alpha, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++) y[i] = grt_ref_apply_act(x[i], act, alpha);
}

void grt_ref_add(const float *a, const float *b, float *y, int64_t n, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void grt_ref_mul(const float *a, const float *b, float *y, int64_t n, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

void grt_ref_l2norm(const float *x, float *y, int64_t s, int64_t c, int64_t p, float eps, int nt) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t i = 0; i < s; i++)
        for (int64_t q = 0; q < p; q++) {
            double ss = 0;
            for (int64_t k = 0; k < c; k++) {
                double v = x[(i * c + k) * p + q];
                ss += v * v;
            }
            double nrm = sqrt(ss);
            float inv = (float)(1.0 / (nrm > eps ? nrm : eps));
            for (int64_t k = 0; k < c; k++) y[(i * c + k) * p + q] = x[(i * c + k) * p + q] * inv;
        }
}
