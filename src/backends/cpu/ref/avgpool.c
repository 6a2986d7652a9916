/* avgpool.c — reference average pooling over (N, C, T, H, W) with PyTorch's default
 * count_include_pad=True: the divisor is always the full window volume, so zero padding
 * pulls border values towards zero (GaitPart's temporal templates rely on this). Not a
 * general pooling library: no ceil mode, no dilation. */
#include "ref_kernels.h"

void grt_ref_avgpool(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa, int nt) {
    const int64_t N = xs[0], C = xs[1], T = xs[2], H = xs[3], W = xs[4];
    const int64_t To = ys[2], Ho = ys[3], Wo = ys[4];
    const float div = (float)(pa->k[0] * pa->k[1] * pa->k[2]);
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            const float *xp = x + (n * C + c) * T * H * W;  /* (T, H, W) */
            float *yp = y + (n * C + c) * To * Ho * Wo;      /* (To, Ho, Wo) */
            for (int64_t to = 0; to < To; to++)
                for (int64_t ho = 0; ho < Ho; ho++)
                    for (int64_t wo = 0; wo < Wo; wo++) {
                        /* summed in window order (t, h, w), as PyTorch's CPU kernel does */
                        float sum = 0.0f;
                        for (int a = 0; a < pa->k[0]; a++) {
                            int64_t t = to * pa->s[0] - pa->p[0] + a;
                            if (t < 0 || t >= T) continue;
                            for (int u = 0; u < pa->k[1]; u++) {
                                int64_t h = ho * pa->s[1] - pa->p[1] + u;
                                if (h < 0 || h >= H) continue;
                                for (int v = 0; v < pa->k[2]; v++) {
                                    int64_t w = wo * pa->s[2] - pa->p[2] + v;
                                    if (w < 0 || w >= W) continue;
                                    sum += xp[(t * H + h) * W + w];
                                }
                            }
                        }
                        yp[(to * Ho + ho) * Wo + wo] = sum / div;
                    }
        }
}
