/*
 * fast_eltwise_avx2.c — AVX2 + FMA version of the fast backend's softmax (fast_eltwise.c has
 * the contract and the portable version). Built with -mavx2 -mfma for this file only and
 * called only when the CPU has both.
 *
 * The exponential is the classic range reduction e^x = 2^n e^r, n = round(x / ln 2),
 * |r| <= ln 2 / 2 (ln 2 split in two parts so r is exact), with a degree-6 polynomial for e^r
 * (Cephes' single-precision coefficients): within 2 ulp over the range softmax feeds it,
 * (-inf, 0]. Arguments below -87.3 give 0, NaN stays NaN.
 */
#include <immintrin.h>
#include <math.h>

#include "fast_internal.h"

static inline __m256 grt__exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.3f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(lo, _mm256_min_ps(hi, x)); /* NaN passes through (second operand) */
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

void grt_fast_softmax_avx2(const float *x, int64_t outer, int64_t len, int64_t inner, float *y, int nt) {
    enum { CH = 512 };
    const int64_t chunks = (inner + CH - 1) / CH;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t cb = 0; cb < chunks; cb++) {
            const int64_t i0 = cb * CH, ni = inner - i0 < CH ? inner - i0 : CH, nv = ni / 8 * 8;
            const float *xp = x + o * len * inner + i0;
            float *yp = y + o * len * inner + i0;
            for (int64_t i = 0; i < nv; i += 8) {
                __m256 m = _mm256_set1_ps(-INFINITY), s = _mm256_setzero_ps();
                for (int64_t k = 0; k < len; k++) m = _mm256_max_ps(_mm256_loadu_ps(xp + k * inner + i), m);
                for (int64_t k = 0; k < len; k++) {
                    const __m256 e = grt__exp256(_mm256_sub_ps(_mm256_loadu_ps(xp + k * inner + i), m));
                    _mm256_storeu_ps(yp + k * inner + i, e);
                    s = _mm256_add_ps(s, e);
                }
                for (int64_t k = 0; k < len; k++)
                    _mm256_storeu_ps(yp + k * inner + i, _mm256_div_ps(_mm256_loadu_ps(yp + k * inner + i), s));
            }
            for (int64_t i = nv; i < ni; i++) { /* the tail, as the portable version */
                float m = -INFINITY, s = 0.0f;
                for (int64_t k = 0; k < len; k++) m = xp[k * inner + i] > m ? xp[k * inner + i] : m;
                for (int64_t k = 0; k < len; k++) s += (yp[k * inner + i] = expf(xp[k * inner + i] - m));
                for (int64_t k = 0; k < len; k++) yp[k * inner + i] /= s;
            }
        }
}
