/*
 * fast_pool_avx2.c — AVX2 row kernel of the blocked pooling (fast_pool.c has the contract,
 * the portable version and the parallel loop over rows). Built with -mavx2 -mfma for this
 * file only.
 *
 * A block of 8 channels is one vector, of 16 two. Max pooling keeps NaN as PyTorch does:
 * vmaxps drops a NaN operand, so the lanes that saw one are collected in a mask and set at
 * the end. Average pooling adds in window order and multiplies by 1 / volume, as the
 * portable version (bit-identical to it).
 */
#include <immintrin.h>
#include <math.h>

#include "fast_internal.h"

static inline __attribute__((always_inline)) void grt__pool_row_avx2(const float *x, const int64_t xs[5], float *y,
                                                                      const int64_t ys[5], const grt_pool_attr *pa,
                                                                      int avg, int64_t ot, int64_t oh, const int V) {
    const int64_t t0 = ot * pa->s[0] - pa->p[0], h0 = oh * pa->s[1] - pa->p[1];
    const int64_t ta = t0 < 0 ? 0 : t0, tb = t0 + pa->k[0] < xs[2] ? t0 + pa->k[0] : xs[2];
    const int64_t ha = h0 < 0 ? 0 : h0, hb = h0 + pa->k[1] < xs[3] ? h0 + pa->k[1] : xs[3];
    const __m256 inv = _mm256_set1_ps(1.0f / (float)(pa->k[0] * pa->k[1] * pa->k[2]));
    const int64_t B = 8 * V;
    for (int64_t ow = 0; ow < ys[4]; ow++) {
        const int64_t w0 = ow * pa->s[2] - pa->p[2];
        const int64_t wa = w0 < 0 ? 0 : w0, wb = w0 + pa->k[2] < xs[4] ? w0 + pa->k[2] : xs[4];
        __m256 acc[2], nan[2];
        for (int v = 0; v < V; v++) {
            acc[v] = avg ? _mm256_setzero_ps() : _mm256_set1_ps(-INFINITY);
            nan[v] = _mm256_setzero_ps();
        }
        for (int64_t t = ta; t < tb; t++)
            for (int64_t h = ha; h < hb; h++)
                for (int64_t w = wa; w < wb; w++) {
                    const float *xp = x + ((t * xs[3] + h) * xs[4] + w) * B;
                    for (int v = 0; v < V; v++) {
                        const __m256 a = _mm256_loadu_ps(xp + 8 * v);
                        if (avg) {
                            acc[v] = _mm256_add_ps(acc[v], a);
                        } else {
                            acc[v] = _mm256_max_ps(a, acc[v]);
                            nan[v] = _mm256_or_ps(nan[v], _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
                        }
                    }
                }
        float *yp = y + ow * B;
        for (int v = 0; v < V; v++) {
            const __m256 r = avg ? _mm256_mul_ps(acc[v], inv) : _mm256_blendv_ps(acc[v], _mm256_set1_ps(NAN), nan[v]);
            _mm256_storeu_ps(yp + 8 * v, r);
        }
    }
}

static void grt__pool_row_avx2_any(const float *x, const int64_t xs[5], float *y, const int64_t ys[5],
                                   const grt_pool_attr *pa, int avg, int64_t ot, int64_t oh, int blk) {
    if (blk == 16)
        grt__pool_row_avx2(x, xs, y, ys, pa, avg, ot, oh, 2);
    else
        grt__pool_row_avx2(x, xs, y, ys, pa, avg, ot, oh, 1);
}

void grt_fast_pool_avx2(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa,
                        int avg, int blk, int nt) {
    grt_fast_pool_rows(x, xs, y, ys, pa, avg, blk, nt, grt__pool_row_avx2_any);
}
