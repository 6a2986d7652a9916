/* fc.c — reference separate fully-connected layers (one matrix per horizontal part). */
#include <math.h>

#include "ref_kernels.h"

void grt_ref_sepfc(const float *x, const int64_t xs[3], const float *w, int64_t co, int normalize_weight, float *y,
                   int nt) {
    const int64_t S = xs[0], C = xs[1], P = xs[2];
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t p = 0; p < P; p++)
        for (int64_t o = 0; o < co; o++) {
            const float *wp = w + p * C * co + o; /* column o of part p, stride co */
            float inv = 1.0f;
            if (normalize_weight) {
                double ss = 0;
                for (int64_t c = 0; c < C; c++) ss += (double)wp[c * co] * wp[c * co];
                double nrm = sqrt(ss);
                inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
            }
            for (int64_t s = 0; s < S; s++) {
                double acc = 0;
                for (int64_t c = 0; c < C; c++) acc += (double)x[(s * C + c) * P + p] * (double)(wp[c * co] * inv);
                y[(s * co + o) * P + p] = (float)acc;
            }
        }
}
