/*
 * fast_head_avx512.c — AVX-512 versions of the sequence head kernels (temporal max, HPP,
 * separate FCs); see fast_head.c for the contract of each. Built with the AVX-512 flags for
 * this file only and called only when the CPU has AVX-512 F/BW/VL.
 *
 * Not here: block sizes that are not a multiple of 16 or output counts that are not a
 * multiple of 64; those go to the AVX2 versions (every AVX-512 CPU has AVX2).
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "fast_internal.h"

/* acc = v where v > acc or v is NaN: the reference's `if (v > m || isnan(v)) m = v`. */
static inline __m512 grt__max_nan(__m512 acc, __m512 v) {
    return _mm512_mask_mov_ps(_mm512_max_ps(v, acc), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}

void grt_fast_temporal_max_avx512(const float *x, int64_t n, int64_t cb, int64_t t, int64_t hwb,
                                  const grt_segment *seg, int n_seq, float *y, int nt) {
    (void)n;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t c = 0; c < cb; c++) {
            const grt_segment sg = seg[s];
            const float *xp = x + (((int64_t)sg.b * cb + c) * t + sg.t0) * hwb; /* (len, HWB) */
            float *yp = y + (s * cb + c) * hwb;                                    /* (HWB) */
            int64_t i = 0;
            for (; i + 64 <= hwb; i += 64) {
                __m512 m0 = _mm512_loadu_ps(xp + i), m1 = _mm512_loadu_ps(xp + i + 16);
                __m512 m2 = _mm512_loadu_ps(xp + i + 32), m3 = _mm512_loadu_ps(xp + i + 48);
                for (int64_t f = 1; f < sg.len; f++) {
                    const float *xf = xp + f * hwb + i;
                    m0 = grt__max_nan(m0, _mm512_loadu_ps(xf));
                    m1 = grt__max_nan(m1, _mm512_loadu_ps(xf + 16));
                    m2 = grt__max_nan(m2, _mm512_loadu_ps(xf + 32));
                    m3 = grt__max_nan(m3, _mm512_loadu_ps(xf + 48));
                }
                _mm512_storeu_ps(yp + i, m0);
                _mm512_storeu_ps(yp + i + 16, m1);
                _mm512_storeu_ps(yp + i + 32, m2);
                _mm512_storeu_ps(yp + i + 48, m3);
            }
            for (; i < hwb; i += 16) {
                /* the tail under a mask: HWB need not be a multiple of 16 */
                const __mmask16 k = hwb - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (hwb - i)) - 1);
                __m512 m0 = _mm512_maskz_loadu_ps(k, xp + i);
                for (int64_t f = 1; f < sg.len; f++) m0 = grt__max_nan(m0, _mm512_maskz_loadu_ps(k, xp + f * hwb + i));
                _mm512_mask_storeu_ps(yp + i, k, m0);
            }
        }
}

void grt_fast_hpp_avx512(const float *x, int64_t s_n, int64_t c_n, int64_t hw, int blk, const int *bins, int n_bins,
                         float *y, int nt) {
    if (blk % 16 != 0 || blk > 64) {
        grt_fast_hpp_avx2(x, s_n, c_n, hw, blk, bins, n_bins, y, nt);
        return;
    }
    const int64_t cb_n = (c_n + blk - 1) / blk;
    const int nv = blk / 16;
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
                const __m512 len = _mm512_set1_ps((float)chunk);
                for (int64_t k = 0; k < bins[b]; k++, part++) {
                    float out[64];
                    for (int j = 0; j < nv; j++) {
                        __m512 sum = _mm512_setzero_ps(), mx = _mm512_set1_ps(-INFINITY);
                        const float *v = xp + k * chunk * blk + 16 * j; /* (chunk, B) column j */
                        for (int64_t i = 0; i < chunk; i++) {
                            const __m512 a = _mm512_loadu_ps(v + i * blk);
                            sum = _mm512_add_ps(sum, a); /* position order, as the reference */
                            mx = grt__max_nan(mx, a);
                        }
                        _mm512_storeu_ps(out + 16 * j, _mm512_add_ps(_mm512_div_ps(sum, len), mx));
                    }
                    for (int l = 0; l < lanes; l++) y[(s * c_n + cb * blk + l) * parts + part] = out[l];
                }
            }
        }
}

void grt_fast_sepfc_avx512(const float *x, int64_t s_n, int64_t c_n, int64_t p_n, const float *w, int64_t co, float *y,
                           int nt) {
    if (co % 64 != 0) {
        grt_fast_sepfc_avx2(x, s_n, c_n, p_n, w, co, y, nt);
        return;
    }
    const int64_t ob_n = co / 64;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t p = 0; p < p_n; p++)
        for (int64_t ob = 0; ob < ob_n; ob++) {
            const float *wp = w + p * c_n * co + ob * 64; /* (C, 64), row stride co */
            int64_t s = 0;
            /* two sequences at a time share each load of w */
            for (; s + 2 <= s_n; s += 2) {
                __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
                       a3 = _mm512_setzero_ps();
                __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(),
                       b3 = _mm512_setzero_ps();
                const float *x0 = x + s * c_n * p_n + p, *x1 = x0 + c_n * p_n; /* (C) with stride P */
                for (int64_t c = 0; c < c_n; c++) {
                    const float *wr = wp + c * co;
                    const __m512 w0 = _mm512_loadu_ps(wr), w1 = _mm512_loadu_ps(wr + 16), w2 = _mm512_loadu_ps(wr + 32),
                                 w3 = _mm512_loadu_ps(wr + 48);
                    const __m512 u = _mm512_set1_ps(x0[c * p_n]), v = _mm512_set1_ps(x1[c * p_n]);
                    a0 = _mm512_fmadd_ps(u, w0, a0);
                    a1 = _mm512_fmadd_ps(u, w1, a1);
                    a2 = _mm512_fmadd_ps(u, w2, a2);
                    a3 = _mm512_fmadd_ps(u, w3, a3);
                    b0 = _mm512_fmadd_ps(v, w0, b0);
                    b1 = _mm512_fmadd_ps(v, w1, b1);
                    b2 = _mm512_fmadd_ps(v, w2, b2);
                    b3 = _mm512_fmadd_ps(v, w3, b3);
                }
                float o[128];
                _mm512_storeu_ps(o, a0);
                _mm512_storeu_ps(o + 16, a1);
                _mm512_storeu_ps(o + 32, a2);
                _mm512_storeu_ps(o + 48, a3);
                _mm512_storeu_ps(o + 64, b0);
                _mm512_storeu_ps(o + 80, b1);
                _mm512_storeu_ps(o + 96, b2);
                _mm512_storeu_ps(o + 112, b3);
                for (int j = 0; j < 64; j++) {
                    y[(s * co + ob * 64 + j) * p_n + p] = o[j];
                    y[((s + 1) * co + ob * 64 + j) * p_n + p] = o[64 + j];
                }
            }
            for (; s < s_n; s++) {
                __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
                       a3 = _mm512_setzero_ps();
                const float *x0 = x + s * c_n * p_n + p;
                for (int64_t c = 0; c < c_n; c++) {
                    const float *wr = wp + c * co;
                    const __m512 u = _mm512_set1_ps(x0[c * p_n]);
                    a0 = _mm512_fmadd_ps(u, _mm512_loadu_ps(wr), a0);
                    a1 = _mm512_fmadd_ps(u, _mm512_loadu_ps(wr + 16), a1);
                    a2 = _mm512_fmadd_ps(u, _mm512_loadu_ps(wr + 32), a2);
                    a3 = _mm512_fmadd_ps(u, _mm512_loadu_ps(wr + 48), a3);
                }
                float o[64];
                _mm512_storeu_ps(o, a0);
                _mm512_storeu_ps(o + 16, a1);
                _mm512_storeu_ps(o + 32, a2);
                _mm512_storeu_ps(o + 48, a3);
                for (int j = 0; j < 64; j++) y[(s * co + ob * 64 + j) * p_n + p] = o[j];
            }
        }
}
