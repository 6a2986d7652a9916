/*
 * fast_wino_avx512.c — the GEMMs of the Winograd convolution (fast_wino_avx2.c) with 512-bit
 * registers, for CPUs with AVX-512: the transforms and the layout (8-channel blocks) stay as
 * they are, only the P*P GEMMs M[xi] = V[xi] x U[xi] change. Each register block is 6 tiles x
 * 32 outputs (two 16-output panels of U, one zmm each: 12 accumulators), so every FMA does
 * 16 multiplies where the AVX2 block's do 8. Each output takes the same FMAs in the same
 * order as in the AVX2 block: the results are bit-identical.
 *
 * Not here: the transforms (memory-bound, AVX2 is enough), Co not a multiple of 32 (the
 * caller keeps the AVX2 GEMMs then).
 */
#include <immintrin.h>

#include "fast_internal.h"

/* Four 8-lane rows (c[j] + r * 8, j = 0..3: outputs 0..7, 8..15 of panel 0, then of panel 1)
 * of the 6 x 32 block (+)= a (kblocks, [TB, 8], stride astride) x (b0 | b1) (kblocks * 8, 16 each). */
static inline void grt__gemm6x32(const float *a, long astride, const float *b0, const float *b1, long kblocks,
                                 float *const c[4], int acc) {
    __m512 s[6][2];
    for (int r = 0; r < 6; r++)
        for (int h = 0; h < 2; h++) {
            if (acc) {
                const __m256 lo = _mm256_loadu_ps(c[2 * h] + r * 8), hi = _mm256_loadu_ps(c[2 * h + 1] + r * 8);
                s[r][h] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                                              _mm256_castps_pd(hi), 1));
            } else {
                s[r][h] = _mm512_setzero_ps();
            }
        }
    for (long kb = 0; kb < kblocks; kb++, a += astride, b0 += 128, b1 += 128) {
        for (int i = 0; i < 8; i++) {
            const __m512 w0 = _mm512_loadu_ps(b0 + i * 16), w1 = _mm512_loadu_ps(b1 + i * 16);
            __m512 x = _mm512_set1_ps(a[i]);
            s[0][0] = _mm512_fmadd_ps(x, w0, s[0][0]), s[0][1] = _mm512_fmadd_ps(x, w1, s[0][1]);
            x = _mm512_set1_ps(a[8 + i]);
            s[1][0] = _mm512_fmadd_ps(x, w0, s[1][0]), s[1][1] = _mm512_fmadd_ps(x, w1, s[1][1]);
            x = _mm512_set1_ps(a[16 + i]);
            s[2][0] = _mm512_fmadd_ps(x, w0, s[2][0]), s[2][1] = _mm512_fmadd_ps(x, w1, s[2][1]);
            x = _mm512_set1_ps(a[24 + i]);
            s[3][0] = _mm512_fmadd_ps(x, w0, s[3][0]), s[3][1] = _mm512_fmadd_ps(x, w1, s[3][1]);
            x = _mm512_set1_ps(a[32 + i]);
            s[4][0] = _mm512_fmadd_ps(x, w0, s[4][0]), s[4][1] = _mm512_fmadd_ps(x, w1, s[4][1]);
            x = _mm512_set1_ps(a[40 + i]);
            s[5][0] = _mm512_fmadd_ps(x, w0, s[5][0]), s[5][1] = _mm512_fmadd_ps(x, w1, s[5][1]);
        }
    }
    for (int r = 0; r < 6; r++)
        for (int h = 0; h < 2; h++) {
            _mm256_storeu_ps(c[2 * h] + r * 8, _mm512_castps512_ps256(s[r][h]));
            _mm256_storeu_ps(c[2 * h + 1] + r * 8, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s[r][h]), 1)));
        }
}

void grt_fast_wino_gemms_avx512(const float *V, long vs, float *M, const float *u, int nx, long cib, long cob, long nb,
                                long tb, size_t ms) {
    const long np = cob / 2, ci = cib * 8, nrg = (nb + 5) / 6;
    for (int xi = 0; xi < nx; xi++)
        for (long kb = 0; kb < cib; kb += GRT_WINO_KB_CHUNK) {
            const long kc = cib - kb < GRT_WINO_KB_CHUNK ? cib - kb : GRT_WINO_KB_CHUNK;
            for (long p = 0; p < np; p += 2) {
                const float *bp0 = u + (((size_t)xi * np + p) * ci + kb * 8) * 16, *bp1 = bp0 + (size_t)ci * 16;
                /* the next pair of panels into L2, as the AVX2 GEMMs do (see there) */
                long nlines;
                const float *next = grt_fast_wino_next_panel(u, nx, np, cib, xi, kb, p, 2, &nlines);
                const long per = (nlines + nrg - 1) / nrg;
                float *m0 = M + xi * ms + (size_t)(2 * p * tb) * 8;
                long pl = 0;
                for (long rg = 0; rg < nb; rg += 6) {
                    for (long q = 0; q < per && pl < nlines; q++, pl++) {
                        _mm_prefetch((const char *)next + pl * 64, _MM_HINT_T1);
                        _mm_prefetch((const char *)(next + (size_t)ci * 16) + pl * 64, _MM_HINT_T1);
                    }
                    float *const c[4] = {m0 + rg * 8, m0 + (tb + rg) * 8, m0 + (2 * tb + rg) * 8, m0 + (3 * tb + rg) * 8};
                    grt__gemm6x32(V + xi * vs + (kb * tb + rg) * 8, tb * 8, bp0, bp1, kc, c, kb > 0);
                }
            }
        }
}
