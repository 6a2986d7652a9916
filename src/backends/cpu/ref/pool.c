/* pool.c — reference pooling: max pool, temporal max per sequence, horizontal pyramid. */
#include <float.h>
#include <math.h>

#include "ref_kernels.h"

void grt_ref_maxpool(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa, int nt) {
    const int64_t N = xs[0], C = xs[1], T = xs[2], H = xs[3], W = xs[4];
    const int64_t To = ys[2], Ho = ys[3], Wo = ys[4];
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            const float *xp = x + (n * C + c) * T * H * W;
            float *yp = y + (n * C + c) * To * Ho * Wo;
            for (int64_t to = 0; to < To; to++)
                for (int64_t ho = 0; ho < Ho; ho++)
                    for (int64_t wo = 0; wo < Wo; wo++) {
                        float m = -INFINITY;
                        for (int a = 0; a < pa->k[0]; a++) {
                            int64_t t = to * pa->s[0] - pa->p[0] + a;
                            if (t < 0 || t >= T) continue;
                            for (int u = 0; u < pa->k[1]; u++) {
                                int64_t h = ho * pa->s[1] - pa->p[1] + u;
                                if (h < 0 || h >= H) continue;
                                for (int v = 0; v < pa->k[2]; v++) {
                                    int64_t w = wo * pa->s[2] - pa->p[2] + v;
                                    if (w < 0 || w >= W) continue;
                                    float val = xp[(t * H + h) * W + w];
                                    if (val > m || isnan(val)) m = val;
                                }
                            }
                        }
                        yp[(to * Ho + ho) * Wo + wo] = m;
                    }
        }
}

void grt_ref_temporal_max(const float *x, const int64_t xs[5], float *y, const grt_segment *seg, int n_seq, int nt) {
    const int64_t C = xs[1], T = xs[2], HW = xs[3] * xs[4];
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t c = 0; c < C; c++) {
            const grt_segment sg = seg[s];
            const float *xp = x + ((sg.b * C + c) * T + sg.t0) * HW;
            float *yp = y + (s * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) yp[i] = xp[i];
            for (int64_t t = 1; t < sg.len; t++)
                for (int64_t i = 0; i < HW; i++) {
                    float v = xp[t * HW + i];
                    if (v > yp[i] || isnan(v)) yp[i] = v;
                }
        }
}

void grt_ref_hpp(const float *x, const int64_t xs[4], float *y, const grt_hpp_attr *h, float gem_p, int nt) {
    const int64_t S = xs[0], C = xs[1], HW = xs[2] * xs[3];
    int64_t P = 0;
    for (int b = 0; b < h->n_bins; b++) P += h->bins[b];
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t s = 0; s < S; s++)
        for (int64_t c = 0; c < C; c++) {
            const float *xp = x + (s * C + c) * HW;
            float *yp = y + (s * C + c) * P;
            int64_t part = 0;
            for (int b = 0; b < h->n_bins; b++) {
                const int64_t chunk = HW / h->bins[b];
                for (int64_t k = 0; k < h->bins[b]; k++, part++) {
                    const float *cp = xp + k * chunk;
                    if (h->gem) {
                        double acc = 0;
                        for (int64_t i = 0; i < chunk; i++) {
                            float v = cp[i] < h->gem_eps ? h->gem_eps : cp[i];
                            acc += pow((double)v, (double)gem_p);
                        }
                        yp[part] = (float)pow(acc / (double)chunk, 1.0 / (double)gem_p);
                    } else {
                        /* PyTorch computes mean and max separately in float; we sum in float
                         * in index order, as its CPU reduction does for short rows. */
                        float sum = 0.0f, m = -INFINITY;
                        for (int64_t i = 0; i < chunk; i++) {
                            sum += cp[i];
                            if (cp[i] > m || isnan(cp[i])) m = cp[i];
                        }
                        yp[part] = sum / (float)chunk + m;
                    }
                }
            }
        }
}
