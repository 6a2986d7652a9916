/*
 * fast_head_avx2.c — AVX2 + FMA versions of the sequence head kernels (temporal max, HPP,
 * separate FCs); see fast_head.c for the contract of each and the portable versions. Built
 * with -mavx2 -mfma for this file only and called only when the CPU has both.
 *
 * Not here: anything that assumes a block size other than a multiple of 8 (those shapes go
 * to the portable versions).
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "fast_internal.h"

/* acc = v where v > acc or v is NaN: the reference's `if (v > m || isnan(v)) m = v`. */
static inline __m256 grt__max_nan(__m256 acc, __m256 v) {
    return _mm256_blendv_ps(_mm256_max_ps(v, acc), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

void grt_fast_temporal_max_avx2(const float *x, int64_t n, int64_t cb, int64_t t, int64_t hwb,
                                const grt_segment *seg, int n_seq, float *y, int nt) {
    (void)n;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t c = 0; c < cb; c++) {
            const grt_segment sg = seg[s];
            const float *xp = x + (((int64_t)sg.b * cb + c) * t + sg.t0) * hwb; /* (len, HWB) */
            float *yp = y + (s * cb + c) * hwb;                                    /* (HWB) */
            int64_t i = 0;
            /* 32 floats per pass: four independent chains hide the blend latency */
            for (; i + 32 <= hwb; i += 32) {
                __m256 m0 = _mm256_loadu_ps(xp + i), m1 = _mm256_loadu_ps(xp + i + 8);
                __m256 m2 = _mm256_loadu_ps(xp + i + 16), m3 = _mm256_loadu_ps(xp + i + 24);
                for (int64_t f = 1; f < sg.len; f++) {
                    const float *xf = xp + f * hwb + i;
                    m0 = grt__max_nan(m0, _mm256_loadu_ps(xf));
                    m1 = grt__max_nan(m1, _mm256_loadu_ps(xf + 8));
                    m2 = grt__max_nan(m2, _mm256_loadu_ps(xf + 16));
                    m3 = grt__max_nan(m3, _mm256_loadu_ps(xf + 24));
                }
                _mm256_storeu_ps(yp + i, m0);
                _mm256_storeu_ps(yp + i + 8, m1);
                _mm256_storeu_ps(yp + i + 16, m2);
                _mm256_storeu_ps(yp + i + 24, m3);
            }
            for (; i + 8 <= hwb; i += 8) {
                __m256 m0 = _mm256_loadu_ps(xp + i);
                for (int64_t f = 1; f < sg.len; f++) m0 = grt__max_nan(m0, _mm256_loadu_ps(xp + f * hwb + i));
                _mm256_storeu_ps(yp + i, m0);
            }
            for (; i < hwb; i++) {
                float m = xp[i];
                for (int64_t f = 1; f < sg.len; f++) {
                    const float v = xp[f * hwb + i];
                    if (v > m || isnan(v)) m = v;
                }
                yp[i] = m;
            }
        }
}

void grt_fast_hpp_avx2(const float *x, int64_t s_n, int64_t c_n, int64_t hw, int blk, const int *bins, int n_bins,
                       float *y, int nt) {
    if (blk % 8 != 0 || blk > 64) {
        grt_fast_hpp_c(x, s_n, c_n, hw, blk, bins, n_bins, y, nt);
        return;
    }
    const int64_t cb_n = (c_n + blk - 1) / blk;
    const int nv = blk / 8;
    int64_t parts = 0;
    for (int b = 0; b < n_bins; b++) parts += bins[b];
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t s = 0; s < s_n; s++)
        for (int64_t cb = 0; cb < cb_n; cb++) {
            const float *xp = x + (s * cb_n + cb) * hw * blk; /* (HW, B) */
            const int lanes = (int)(c_n - cb * blk < blk ? c_n - cb * blk : blk);
            int64_t part = 0;
            for (int b = 0; b < n_bins; b++) {
                const int64_t chunk = hw / bins[b];
                const __m256 len = _mm256_set1_ps((float)chunk);
                for (int64_t k = 0; k < bins[b]; k++, part++) {
                    float out[64];
                    for (int j = 0; j < nv; j++) {
                        __m256 sum = _mm256_setzero_ps(), mx = _mm256_set1_ps(-INFINITY);
                        const float *v = xp + k * chunk * blk + 8 * j; /* (chunk, B) column j */
                        for (int64_t i = 0; i < chunk; i++) {
                            const __m256 a = _mm256_loadu_ps(v + i * blk);
                            sum = _mm256_add_ps(sum, a); /* position order, as the reference */
                            mx = grt__max_nan(mx, a);
                        }
                        _mm256_storeu_ps(out + 8 * j, _mm256_add_ps(_mm256_div_ps(sum, len), mx));
                    }
                    for (int l = 0; l < lanes; l++) y[(s * c_n + cb * blk + l) * parts + part] = out[l];
                }
            }
        }
}

void grt_fast_sepfc_avx2(const float *x, int64_t s_n, int64_t c_n, int64_t p_n, const float *w, int64_t co, float *y,
                         int nt) {
    if (co % 32 != 0) {
        grt_fast_sepfc_c(x, s_n, c_n, p_n, w, co, y, nt);
        return;
    }
    const int64_t ob_n = co / 32;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t p = 0; p < p_n; p++)
        for (int64_t ob = 0; ob < ob_n; ob++) {
            const float *wp = w + p * c_n * co + ob * 32; /* (C, 32), row stride co */
            int64_t s = 0;
            /* two sequences at a time share each load of w */
            for (; s + 2 <= s_n; s += 2) {
                __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
                       a3 = _mm256_setzero_ps();
                __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(),
                       b3 = _mm256_setzero_ps();
                const float *x0 = x + s * c_n * p_n + p, *x1 = x0 + c_n * p_n; /* (C) with stride P */
                for (int64_t c = 0; c < c_n; c++) {
                    const float *wr = wp + c * co;
                    const __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8), w2 = _mm256_loadu_ps(wr + 16),
                                 w3 = _mm256_loadu_ps(wr + 24);
                    const __m256 u = _mm256_broadcast_ss(x0 + c * p_n), v = _mm256_broadcast_ss(x1 + c * p_n);
                    a0 = _mm256_fmadd_ps(u, w0, a0);
                    a1 = _mm256_fmadd_ps(u, w1, a1);
                    a2 = _mm256_fmadd_ps(u, w2, a2);
                    a3 = _mm256_fmadd_ps(u, w3, a3);
                    b0 = _mm256_fmadd_ps(v, w0, b0);
                    b1 = _mm256_fmadd_ps(v, w1, b1);
                    b2 = _mm256_fmadd_ps(v, w2, b2);
                    b3 = _mm256_fmadd_ps(v, w3, b3);
                }
                float o[64];
                _mm256_storeu_ps(o, a0);
                _mm256_storeu_ps(o + 8, a1);
                _mm256_storeu_ps(o + 16, a2);
                _mm256_storeu_ps(o + 24, a3);
                _mm256_storeu_ps(o + 32, b0);
                _mm256_storeu_ps(o + 40, b1);
                _mm256_storeu_ps(o + 48, b2);
                _mm256_storeu_ps(o + 56, b3);
                for (int j = 0; j < 32; j++) {
                    y[(s * co + ob * 32 + j) * p_n + p] = o[j];
                    y[((s + 1) * co + ob * 32 + j) * p_n + p] = o[32 + j];
                }
            }
            for (; s < s_n; s++) {
                __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
                       a3 = _mm256_setzero_ps();
                const float *x0 = x + s * c_n * p_n + p;
                for (int64_t c = 0; c < c_n; c++) {
                    const float *wr = wp + c * co;
                    const __m256 u = _mm256_broadcast_ss(x0 + c * p_n);
                    a0 = _mm256_fmadd_ps(u, _mm256_loadu_ps(wr), a0);
                    a1 = _mm256_fmadd_ps(u, _mm256_loadu_ps(wr + 8), a1);
                    a2 = _mm256_fmadd_ps(u, _mm256_loadu_ps(wr + 16), a2);
                    a3 = _mm256_fmadd_ps(u, _mm256_loadu_ps(wr + 24), a3);
                }
                float o[32];
                _mm256_storeu_ps(o, a0);
                _mm256_storeu_ps(o + 8, a1);
                _mm256_storeu_ps(o + 16, a2);
                _mm256_storeu_ps(o + 24, a3);
                for (int j = 0; j < 32; j++) y[(s * co + ob * 32 + j) * p_n + p] = o[j];
            }
        }
}
