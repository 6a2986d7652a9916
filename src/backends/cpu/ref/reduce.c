/* reduce.c — reference reductions over a run of axes (max, mean, mean + max) and softmax
 * along one axis. Both see their input as (outer, len, inner): the reduced or normalised
 * axes are contiguous in the middle. Sums are accumulated in double, so the result is the
 * correctly rounded mean up to one float rounding whatever PyTorch's summation order. Not a
 * general reduction library: no sum/min/argmax, no keepdim (the graph reshapes instead). */
#include <math.h>

#include "ref_kernels.h"

void grt_ref_reduce(const float *x, int64_t outer, int64_t len, int64_t inner, grt_reduce_mode mode, float *y, int nt) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xp = x + o * len * inner + i; /* stride inner */
            double sum = 0;
            float m = -INFINITY;
            for (int64_t k = 0; k < len; k++) {
                const float v = xp[k * inner];
                sum += v;
                if (v > m || isnan(v)) m = v;
            }
            const float mean = (float)(sum / (double)len);
            y[o * inner + i] = mode == GRT_REDUCE_MAX ? m : mode == GRT_REDUCE_MEAN ? mean : mean + m;
        }
}

void grt_ref_softmax(const float *x, int64_t outer, int64_t len, int64_t inner, float *y, int nt) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xp = x + o * len * inner + i;
            float *yp = y + o * len * inner + i;
            float m = -INFINITY;
            for (int64_t k = 0; k < len; k++) m = xp[k * inner] > m ? xp[k * inner] : m;
            double sum = 0;
            for (int64_t k = 0; k < len; k++) sum += exp((double)xp[k * inner] - (double)m);
            for (int64_t k = 0; k < len; k++) yp[k * inner] = (float)(exp((double)xp[k * inner] - (double)m) / sum);
        }
}
