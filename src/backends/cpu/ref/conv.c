/* conv.c — reference convolution (1-D/2-D/3-D as kt/kh/kw), direct loops in NCTHW. Each
 * output plane is accumulated in a fixed order (ci, kt, kh, kw), so the result does not
 * depend on the number of threads. Deliberately not fast: see backends/cpu/fast. */
#include <string.h>

#include "ref_kernels.h"

void grt_ref_conv(const float *x, const int64_t xs[5], const float *w, const int64_t ws[5], const float *bias,
                  const float *res, float *y, const int64_t ys[5], const grt_conv_attr *c, int nt) {
    const int64_t N = xs[0], Ci = xs[1], T = xs[2], H = xs[3], W = xs[4];
    const int64_t Co = ys[1], To = ys[2], Ho = ys[3], Wo = ys[4];
    const int64_t cig = ws[1], kt = ws[2], kh = ws[3], kw = ws[4];
    const int64_t cog = Co / c->groups;
    const int st = c->s[0], sh = c->s[1], sw = c->s[2], pt = c->p[0], ph = c->p[1], pw = c->p[2];
    const int dt = c->d[0], dh = c->d[1], dw = c->d[2];
    (void)Ci;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t co = 0; co < Co; co++) {
            const int64_t g = co / cog;
            for (int64_t to = 0; to < To; to++) {
                float *yp = y + (((n * Co + co) * To + to) * Ho) * Wo;
                const float b = bias ? bias[co] : 0.0f;
                for (int64_t i = 0; i < Ho * Wo; i++) yp[i] = 0.0f;
                for (int64_t ci = 0; ci < cig; ci++) {
                    for (int64_t a = 0; a < kt; a++) {
                        const int64_t ti = to * st - pt + a * dt;
                        if (ti < 0 || ti >= T) continue;
                        const float *xp = x + (((n * xs[1] + g * cig + ci) * T + ti) * H) * W;
                        for (int64_t u = 0; u < kh; u++) {
                            for (int64_t v = 0; v < kw; v++) {
                                const float wv = w[(((co * cig + ci) * kt + a) * kh + u) * kw + v];
                                /* valid output columns: 0 <= wo*sw - pw + v*dw < W */
                                const int64_t off = v * dw - pw;
                                int64_t wo0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                                int64_t wo1 = (W - 1 - off) >= 0 ? (W - 1 - off) / sw + 1 : 0;
                                if (wo1 > Wo) wo1 = Wo;
                                for (int64_t ho = 0; ho < Ho; ho++) {
                                    const int64_t hi = ho * sh - ph + u * dh;
                                    if (hi < 0 || hi >= H) continue;
                                    const float *xr = xp + hi * W + off;
                                    float *yr = yp + ho * Wo;
                                    if (sw == 1) {
                                        for (int64_t wo = wo0; wo < wo1; wo++) yr[wo] += wv * xr[wo];
                                    } else {
                                        for (int64_t wo = wo0; wo < wo1; wo++) yr[wo] += wv * xr[wo * sw];
                                    }
                                }
                            }
                        }
                    }
                }
                const float *rp = res ? res + (((n * Co + co) * To + to) * Ho) * Wo : NULL;
                for (int64_t i = 0; i < Ho * Wo; i++) {
                    float v = yp[i] + b;
                    if (rp) v += rp[i];
                    yp[i] = grt_ref_apply_act(v, c->act, c->alpha);
                }
            }
        }
    }
}
