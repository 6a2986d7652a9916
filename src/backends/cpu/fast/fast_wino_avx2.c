/*
 * fast_wino_avx2.c — Winograd F(m x m, 3x3) convolution (m = 2 or 4), stride 1, padding 1,
 * on our blocked layout with 8 channels per block, AVX2 + FMA. See fast_wino.c for why and
 * when. P = m + 2 is the input patch and transformed tile size.
 *
 * Per block of TB output tiles (m x m outputs each; tiles of all frames in one index space):
 *   1. input transform  V = B^T d B of each P x P input patch, vectorised over 8 channels,
 *      stored as V[xi][Ci/8][TB][8] — which is exactly the packed A operand of the GEMM;
 *   2. P*P GEMMs        M[xi] (TB x Co) = V[xi] (TB x Ci) * U[xi] (Ci x Co), a 6 x 16 register
 *                       block (12 accumulators), K split in chunks that keep U's panel in L1;
 *   3. output transform Y = A^T M A, + bias, + what the output holds (residual, oneDNN's
 *      "sum" convention), activation, stored into the blocked output.
 * Threads take blocks; each has its own V and M in the caller's scratch.
 *
 * The temporal F(2, 3) at the end of this file runs the same three phases on (3, 1, 1)
 * kernels: tiles of two output frames, four transformed points, the same GEMM.
 *
 * On AVX-512 CPUs the GEMMs run with 512-bit registers (fast_wino_avx512.c, bit-identical).
 *
 * Not here: other block sizes, strides, dilation, groups.
 */
#include <immintrin.h>
#include <string.h>

#include "fast_internal.h"

#ifdef GAITRT_HAVE_OPENMP
#include <omp.h>
#endif

/* V[xi] = (B^T d B)[xi] for the 4x4 patch d of 8-vectors at p (row stride rs floats);
 * V[xi] goes to v + xi * vs. B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Columns j of d B
 * combine input columns (0,2), (1,2), (2,1), (1,3): in two halves, j = 0, 1 from columns 0..2
 * and j = 2, 3 from columns 1..3, each input loaded once per half (24 loads, not 32). */
static inline void grt__tf_in(const float *p, long rs, float *v, long vs) {
    for (int half = 0; half < 2; half++) {
        __m256 ra[4], rb[4]; /* columns 2 * half and 2 * half + 1 of d B, per row */
        for (int a = 0; a < 4; a++) {
            const float *q = p + a * rs + half * 8;
            const __m256 x0 = _mm256_loadu_ps(q), x1 = _mm256_loadu_ps(q + 8), x2 = _mm256_loadu_ps(q + 16);
            ra[a] = half == 0 ? _mm256_sub_ps(x0, x2) : _mm256_sub_ps(x1, x0);
            rb[a] = half == 0 ? _mm256_add_ps(x1, x2) : _mm256_sub_ps(x0, x2);
        }
        for (int k = 0; k < 2; k++) {
            const __m256 *r = k ? rb : ra;
            const int j = 2 * half + k;
            _mm256_storeu_ps(v + (0 + j) * vs, _mm256_sub_ps(r[0], r[2]));
            _mm256_storeu_ps(v + (4 + j) * vs, _mm256_add_ps(r[1], r[2]));
            _mm256_storeu_ps(v + (8 + j) * vs, _mm256_sub_ps(r[2], r[1]));
            _mm256_storeu_ps(v + (12 + j) * vs, _mm256_sub_ps(r[1], r[3]));
        }
    }
}

/* One 6-point B^T combination (F(4x4, 3x3) on the points 0, 1, -1, 1/2, -2):
 * B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0; 0 -2 -1 2 1 0; 0 1/2 -1 -1/2 1 0; 0 1 -3/2 -2 3/2 1],
 * evaluated through a = d3 - d1 and b = d4 - d2. */
static inline void grt__bt6(const __m256 d[6], __m256 o[6]) {
    const __m256 h3 = _mm256_set1_ps(1.5f), two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f);
    const __m256 a = _mm256_sub_ps(d[3], d[1]), b = _mm256_sub_ps(d[4], d[2]);
    o[0] = _mm256_fmadd_ps(h3, a, _mm256_add_ps(_mm256_sub_ps(d[0], d[2]), b));
    o[1] = _mm256_fmadd_ps(h3, _mm256_add_ps(d[2], d[3]), _mm256_add_ps(a, b));
    o[2] = _mm256_fmadd_ps(h3, _mm256_sub_ps(d[3], d[2]), _mm256_sub_ps(b, a));
    o[3] = _mm256_fmadd_ps(two, a, b);
    o[4] = _mm256_fnmadd_ps(half, a, b);
    o[5] = _mm256_fmadd_ps(h3, b, _mm256_sub_ps(_mm256_sub_ps(d[5], d[3]), a));
}

/* V[xi] = (B^T d B)[xi] for the 6x6 patch d of 8-vectors at p (row stride rs floats). */
static inline void grt__tf_in4(const float *p, long rs, float *v, long vs) {
    __m256 t[6][6], d[6], o[6];
    for (int c = 0; c < 6; c++) {
        for (int a = 0; a < 6; a++) d[a] = _mm256_loadu_ps(p + a * rs + c * 8);
        grt__bt6(d, o);
        for (int r = 0; r < 6; r++) t[r][c] = o[r];
    }
    for (int r = 0; r < 6; r++) {
        grt__bt6(t[r], o);
        for (int j = 0; j < 6; j++) _mm256_storeu_ps(v + (r * 6 + j) * vs, o[j]);
    }
}

/* One A^T combination of F(4x4, 3x3) on the points 0, 1, -1, 1/2, -2:
 * A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1] */
static inline void grt__at4(const __m256 m[6], __m256 o[4]) {
    const __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
    o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), _mm256_add_ps(m[3], m[4]));
    o[1] = _mm256_fmadd_ps(_mm256_set1_ps(0.5f), m[3], _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), m[4], d12));
    o[2] = _mm256_fmadd_ps(_mm256_set1_ps(0.25f), m[3], _mm256_fmadd_ps(_mm256_set1_ps(4.0f), m[4], s12));
    o[3] = _mm256_fmadd_ps(_mm256_set1_ps(0.125f), m[3], _mm256_add_ps(_mm256_fnmadd_ps(_mm256_set1_ps(8.0f), m[4], d12), m[5]));
}

/* c0, c1 (6, 8) (+)= a (kblocks, [TB, 8] with stride astride; rows 0..5) x b (kblocks * 8, 16):
 * the GEMM's register block. c0 takes outputs 0..7 of the panel, c1 outputs 8..15. */
static inline void grt__gemm6x16(const float *a, long astride, const float *b, long kblocks, float *c0, float *c1,
                                 int acc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    if (acc) {
        c00 = _mm256_loadu_ps(c0), c01 = _mm256_loadu_ps(c1);
        c10 = _mm256_loadu_ps(c0 + 8), c11 = _mm256_loadu_ps(c1 + 8);
        c20 = _mm256_loadu_ps(c0 + 16), c21 = _mm256_loadu_ps(c1 + 16);
        c30 = _mm256_loadu_ps(c0 + 24), c31 = _mm256_loadu_ps(c1 + 24);
        c40 = _mm256_loadu_ps(c0 + 32), c41 = _mm256_loadu_ps(c1 + 32);
        c50 = _mm256_loadu_ps(c0 + 40), c51 = _mm256_loadu_ps(c1 + 40);
    }
    for (long kb = 0; kb < kblocks; kb++, a += astride, b += 128) {
        for (int i = 0; i < 8; i++) {
            const __m256 b0 = _mm256_loadu_ps(b + i * 16), b1 = _mm256_loadu_ps(b + i * 16 + 8);
            __m256 x = _mm256_broadcast_ss(a + i);
            c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
            x = _mm256_broadcast_ss(a + 8 + i);
            c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
            x = _mm256_broadcast_ss(a + 16 + i);
            c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
            x = _mm256_broadcast_ss(a + 24 + i);
            c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
            x = _mm256_broadcast_ss(a + 32 + i);
            c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);
            x = _mm256_broadcast_ss(a + 40 + i);
            c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);
        }
    }
    _mm256_storeu_ps(c0, c00), _mm256_storeu_ps(c1, c01);
    _mm256_storeu_ps(c0 + 8, c10), _mm256_storeu_ps(c1 + 8, c11);
    _mm256_storeu_ps(c0 + 16, c20), _mm256_storeu_ps(c1 + 16, c21);
    _mm256_storeu_ps(c0 + 24, c30), _mm256_storeu_ps(c1 + 24, c31);
    _mm256_storeu_ps(c0 + 32, c40), _mm256_storeu_ps(c1 + 32, c41);
    _mm256_storeu_ps(c0 + 40, c50), _mm256_storeu_ps(c1 + 40, c51);
}

/* Rows past the last tile (nb of them) up to a multiple of 6 are zeroed, so that the GEMM
 * reads defined data. V is (nx, Ci/8, TB, 8) with xi stride vs. */
static void grt__wino_zero_rows(float *V, long vs, int nx, long cib, long nb, long tb) {
    for (long k = nb; k < (nb + 5) / 6 * 6; k++)
        for (int xi = 0; xi < nx; xi++)
            for (long c = 0; c < cib; c++) memset(V + xi * vs + (c * tb + k) * 8, 0, 8 * sizeof(float));
}

/* M[xi] (Co/8, TB, 8) = V[xi] (TB x Ci) * U[xi] (Ci x Co) for the nx transformed points of a
 * block of nb tiles; U is (nx, Co/16, Ci, 16); M[xi] starts at M + xi * ms.
 * Wide layers' U does not stay in the caches between blocks, and its panels are read 16 KiB
 * at a time 32 KiB apart, a pattern the hardware prefetcher follows badly (it stops at each
 * 4 KiB page): each row group of the GEMMs prefetches its share of the next panel into L2.
 * (512 -> 512 channels at 16x11, one thread: the GEMMs 9% faster.) */
static void grt__wino_gemms(const float *V, long vs, float *M, const float *u, int nx, long cib, long cob, long nb,
                            long tb, size_t ms) {
    if (cob % 4 == 0 && grt_fast_wino_avx512()) {
        grt_fast_wino_gemms_avx512(V, vs, M, u, nx, cib, cob, nb, tb, ms);
        return;
    }
    const long np = cob / 2, ci = cib * 8, nrg = (nb + 5) / 6;
    for (int xi = 0; xi < nx; xi++)
        for (long kb = 0; kb < cib; kb += GRT_WINO_KB_CHUNK) {
            const long kc = cib - kb < GRT_WINO_KB_CHUNK ? cib - kb : GRT_WINO_KB_CHUNK;
            for (long p = 0; p < np; p++) {
                const float *bp = u + (((size_t)xi * np + p) * ci + kb * 8) * 16;
                long nlines;
                const float *next = grt_fast_wino_next_panel(u, nx, np, cib, xi, kb, p, 1, &nlines);
                const long per = (nlines + nrg - 1) / nrg;
                float *m0 = M + xi * ms + (size_t)(2 * p * tb) * 8;
                long pl = 0;
                for (long rg = 0; rg < nb; rg += 6) {
                    for (long q = 0; q < per && pl < nlines; q++, pl++) _mm_prefetch((const char *)next + pl * 64, _MM_HINT_T1);
                    grt__gemm6x16(V + xi * vs + (kb * tb + rg) * 8, tb * 8, bp, kc, m0 + rg * 8, m0 + (tb + rg) * 8,
                                  kb > 0);
                }
            }
        }
}

/* This thread's part of the scratch: `per` floats each. */
static inline float *grt__thread_scratch(float *scratch, size_t per) {
#ifdef GAITRT_HAVE_OPENMP
    return scratch + per * (size_t)omp_get_thread_num();
#else
    (void)per;
    return scratch;
#endif
}

/* The epilogue of one output vector: + bias, + what dst holds (sum), activation, store. */
static inline void grt__wino_store(float *dst, __m256 v, __m256 bv, int sum, grt_act act, __m256 va) {
    const __m256 zero = _mm256_setzero_ps();
    v = _mm256_add_ps(v, bv);
    if (sum) v = _mm256_add_ps(v, _mm256_loadu_ps(dst));
    if (act == GRT_ACT_RELU) v = _mm256_max_ps(v, zero);
    if (act == GRT_ACT_LEAKY_RELU) v = _mm256_blendv_ps(_mm256_mul_ps(v, va), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
    _mm256_storeu_ps(dst, v);
}

/* + bias, activation (the pooled epilogue: no sum) */
static inline __m256 grt__wino_act(__m256 v, __m256 bv, grt_act act, __m256 va) {
    const __m256 zero = _mm256_setzero_ps();
    v = _mm256_add_ps(v, bv);
    if (act == GRT_ACT_RELU) v = _mm256_max_ps(v, zero);
    if (act == GRT_ACT_LEAKY_RELU) v = _mm256_blendv_ps(_mm256_mul_ps(v, va), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
    return v;
}

/* max(a, b) with NaN winning, as PyTorch's max pooling (vmaxps alone would drop a NaN in a) */
static inline __m256 grt__nanmax(__m256 a, __m256 b) {
    return _mm256_blendv_ps(_mm256_max_ps(a, b), _mm256_add_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
}

/* The 2-D convolution over t frames of buffers that hold tbuf frames per (item, channel
 * block): x and y may point past the buffers' first frame (the 3-D decomposition below).
 * pool: a 2x2 stride-2 max pooling follows (H and W even): every tile's outputs fall in whole
 * pooling windows (tiles start at even rows and columns), so the tile writes the windows'
 * maxima into y of (N, Co/8, T, H/2, W/2, 8) and the full-size output never exists. */
static void grt__wino2d(const float *x, float *y, const float *u, const float *bias, int64_t n, int64_t t, int64_t tbuf,
                        int64_t h, int64_t w, int64_t ci, int64_t co, int sum, grt_act act, float alpha, int m,
                        int pool, float *scratch, int nt) {
    const int P = m + 2, nx = P * P;
    const long th = (long)(h + m - 1) / m, tw = (long)(w + m - 1) / m, tpf = th * tw, ntiles = (long)(n * t) * tpf;
    /* the block is chosen for the buffers' tiles (tbuf frames), as the scratch was sized: a pass
     * over fewer frames (the 3-D decomposition's shifted ones) must not take a larger block */
    const long nsized = (long)(n * tbuf) * tpf;
    const long tb = grt_fast_wino_tile_block(nsized, ci, co, nt, m);
    const long nblk = (ntiles + tb - 1) / tb, cib = (long)ci / 8, cob = (long)co / 8;
    const long hw8 = (long)(h * w) * 8, xcs = (long)tbuf * hw8; /* channel-block stride of a (N, Cb, T, H, W, 8) tensor */
    const long ph = pool ? (long)h / 2 : (long)h, pw = pool ? (long)w / 2 : (long)w; /* y's rows and columns */
    const long yhw8 = ph * pw * 8, ycs = (long)tbuf * yhw8;
    const long vs = cib * tb * 8 + GRT_WINO_SKEW;             /* xi stride of V, skewed against 4K aliasing */
    const size_t ms = (size_t)cob * tb * 8 + GRT_WINO_SKEW;   /* and of M: its 16 planes read per tile */
    const int nth = nt > 0 ? nt : 1; /* the threads the scratch holds (num_threads(0) would mean all) */
    const size_t per = grt_fast_wino_scratch_bytes(nsized, ci, co, nt, m) / sizeof(float) / (size_t)nth;
#pragma omp parallel num_threads(nth)
    {
        float *V = grt__thread_scratch(scratch, per);
        float *M = V + (size_t)nx * vs; /* (P*P, Co/8, TB, 8) */
        long xoff[GRT_WINO_TB_MAX], yoff[GRT_WINO_TB_MAX], th0[GRT_WINO_TB_MAX], tw0[GRT_WINO_TB_MAX];
#pragma omp for schedule(static)
        for (long bk = 0; bk < nblk; bk++) {
            const long first = bk * tb, nb = ntiles - first < tb ? ntiles - first : tb;
            /* tile coordinates, once per block */
            for (long k = 0; k < nb; k++) {
                const long tile = first + k, f = tile / tpf, r = tile % tpf, fn = f / (long)t, ft = f % (long)t;
                xoff[k] = (fn * cib * (long)tbuf + ft) * hw8;
                yoff[k] = (fn * cob * (long)tbuf + ft) * yhw8;
                th0[k] = m * (r / tw);
                tw0[k] = m * (r % tw);
            }
            /* 1. input transform, channel block outer: each input plane is read as a stream */
            for (long c = 0; c < cib; c++)
                for (long k = 0; k < nb; k++) {
                    const long h0 = th0[k] - 1, w0 = tw0[k] - 1;
                    const float *xp = x + xoff[k] + c * xcs;
                    float *vp = V + (c * tb + k) * 8;
                    if (c + 1 < cib) {
                        /* the same patch of the next plane: its new columns, every row */
                        const long hp = h0 < 0 ? 0 : h0, wp = w0 + P - 2 < w ? w0 + P - 2 : w - 1;
                        const float *pp = xp + xcs + (hp * w + (wp < 0 ? 0 : wp)) * 8;
                        for (int a = 0; a < P && hp + a < h; a++) _mm_prefetch((const char *)(pp + a * w * 8), _MM_HINT_T0);
                    }
                    if (h0 >= 0 && h0 + P - 1 < h && w0 >= 0 && w0 + P - 1 < w) {
                        if (m == 4)
                            grt__tf_in4(xp + (h0 * w + w0) * 8, (long)w * 8, vp, vs);
                        else
                            grt__tf_in(xp + (h0 * w + w0) * 8, (long)w * 8, vp, vs);
                    } else {
                        /* border tile: a zero-padded copy of the patch */
                        float patch[6 * 6 * 8];
                        for (int a = 0; a < P; a++)
                            for (int b = 0; b < P; b++) {
                                const long hh = h0 + a, ww = w0 + b;
                                const __m256 d = hh >= 0 && hh < h && ww >= 0 && ww < w ? _mm256_loadu_ps(xp + (hh * w + ww) * 8)
                                                                                       : _mm256_setzero_ps();
                                _mm256_storeu_ps(patch + (a * P + b) * 8, d);
                            }
                        if (m == 4)
                            grt__tf_in4(patch, P * 8, vp, vs);
                        else
                            grt__tf_in(patch, P * 8, vp, vs);
                    }
                }
            grt__wino_zero_rows(V, vs, nx, cib, nb, tb);
            /* 2. the P*P GEMMs */
            grt__wino_gemms(V, vs, M, u, nx, cib, cob, nb, tb, ms);
            /* 3. output transform */
            const __m256 va = _mm256_set1_ps(alpha);
            for (long c = 0; c < cob; c++) {
                const __m256 bv = bias ? _mm256_loadu_ps(bias + c * 8) : _mm256_setzero_ps();
                for (long k = 0; k < nb; k++) {
                    const float *mp = M + (c * tb + k) * 8;
                    __m256 o[16];
                    if (m == 4) {
                        __m256 s[4][6], col[6], r4[4];
                        for (int b = 0; b < 6; b++) {
                            for (int a = 0; a < 6; a++) col[a] = _mm256_loadu_ps(mp + (a * 6 + b) * ms);
                            grt__at4(col, r4);
                            for (int i = 0; i < 4; i++) s[i][b] = r4[i];
                        }
                        for (int i = 0; i < 4; i++) {
                            grt__at4(s[i], r4);
                            for (int j = 0; j < 4; j++) o[i * 4 + j] = r4[j];
                        }
                    } else {
                        /* A^T = [1 1 1 0; 0 1 -1 -1] */
                        __m256 s0[4], s1[4];
                        for (int b = 0; b < 4; b++) {
                            const __m256 m0 = _mm256_loadu_ps(mp + (0 + b) * ms), m1 = _mm256_loadu_ps(mp + (4 + b) * ms);
                            const __m256 m2 = _mm256_loadu_ps(mp + (8 + b) * ms), m3 = _mm256_loadu_ps(mp + (12 + b) * ms);
                            s0[b] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                            s1[b] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
                        }
                        o[0] = _mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]);
                        o[1] = _mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]);
                        o[2] = _mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]);
                        o[3] = _mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]);
                    }
                    float *yp = y + yoff[k] + c * ycs; /* plane of output channel block c */
                    if (pool) {
                        for (int q = 0; q < m * m; q++) o[q] = grt__wino_act(o[q], bv, act, va);
                        for (int q = 0; q < m * m; q += q % m == m - 2 ? m + 2 : 2) { /* top-left of each window */
                            const long hh = th0[k] + q / m, ww = tw0[k] + q % m;
                            if (hh >= h || ww >= w) continue;
                            const __m256 r = grt__nanmax(grt__nanmax(o[q], o[q + 1]), grt__nanmax(o[q + m], o[q + m + 1]));
                            _mm256_storeu_ps(yp + ((hh / 2) * pw + ww / 2) * 8, r);
                        }
                        continue;
                    }
                    for (int q = 0; q < m * m; q++) {
                        const long hh = th0[k] + q / m, ww = tw0[k] + q % m;
                        if (hh >= h || ww >= w) continue;
                        grt__wino_store(yp + (hh * w + ww) * 8, o[q], bv, sum, act, va);
                    }
                }
            }
        }
    }
}

void grt_fast_wino_conv_avx2(const float *x, float *y, const float *u, const float *bias, int64_t n, int64_t t,
                             int64_t h, int64_t w, int64_t ci, int64_t co, int sum, grt_act act, float alpha, int m,
                             int pool, float *scratch, int nt) {
    grt__wino2d(x, y, u, bias, n, t, t, h, w, ci, co, sum, act, alpha, m, pool, scratch, nt);
}

/* Tap `tap`'s transformed weights: in u, or transformed now from w3 into utap. */
static const float *grt__tap(const float *u, const float *w3, float *utap, int64_t ci, int64_t co, int m, int tap,
                             int nt) {
    if (!w3) return u + (size_t)tap * (grt_fast_wino_3d_tap_bytes(ci, co, m) / sizeof(float));
    grt_fast_wino_3d_pack_tap(w3, ci, co, m, tap, utap, nt);
    return utap;
}

/* A 3x3x3 convolution (padding 1 everywhere) as three 2-D F(m x m) convolutions, one per
 * temporal tap dt, on frames shifted by dt - 1: y[1..T) = conv_0(x[0..T-1)), y[0..T-1) +=
 * conv_2(x[1..T)), then y += conv_1(x) with the bias and the activation, which thus see the
 * whole sum. Frame 0 is zeroed first (conv_0 does not reach it) unless y holds a residual.
 * With strips > 1 each frame's rows are that many strips of H / strips rows, each padded on
 * its own: the 2-D passes see strips as frames (the same bytes in the blocked layout), and a
 * shift by one frame is a shift by `strips` of them. */
void grt_fast_wino_3d_conv_avx2(const float *x, float *y, const float *u, const float *w3, const float *bias, int64_t n,
                                int64_t t, int64_t h, int64_t w, int64_t ci, int64_t co, int sum, grt_act act,
                                float alpha, int m, int strips, float *scratch, int nt) {
    const size_t fs = (size_t)(h * w) * 8;
    const int64_t s = strips > 1 ? strips : 1, hs = h / s;
    float *utap = scratch;
    if (w3) scratch += grt_fast_wino_3d_tap_bytes(ci, co, m) / sizeof(float);
    if (t > 1) {
        if (!sum)
            for (int64_t b = 0; b < n * (co / 8); b++) memset(y + (size_t)b * (size_t)t * fs, 0, fs * sizeof(float));
        grt__wino2d(x, y + fs, grt__tap(u, w3, utap, ci, co, m, 0, nt), NULL, n, (t - 1) * s, t * s, hs, w, ci, co, sum,
                    GRT_ACT_NONE, 0.0f, m, 0, scratch, nt);
        grt__wino2d(x + fs, y, grt__tap(u, w3, utap, ci, co, m, 2, nt), NULL, n, (t - 1) * s, t * s, hs, w, ci, co, 1,
                    GRT_ACT_NONE, 0.0f, m, 0, scratch, nt);
        sum = 1;
    }
    grt__wino2d(x, y, grt__tap(u, w3, utap, ci, co, m, 1, nt), bias, n, t * s, t * s, hs, w, ci, co, sum, act, alpha, m,
                0, scratch, nt);
}

/* Temporal F(2, 3): a (3, 1, 1) convolution with padding (1, 0, 0) over (N, Ci/8, T, HW, 8).
 * A tile is two output frames of one position; its four input frames (zeros outside the
 * sequence) transform as B^T d = (d0 - d2, d1 + d2, d2 - d1, d1 - d3), four GEMMs run as in
 * 2-D, and A^T m = (m0 + m1 + m2, m1 - m2 - m3) gives the two frames. Tiles are numbered
 * position-fastest, so a block reads each input plane as a stream. */
void grt_fast_wino_t_conv_avx2(const float *x, float *y, const float *u, const float *bias, int64_t n, int64_t t,
                               int64_t hw, int64_t ci, int64_t co, int sum, grt_act act, float alpha, float *scratch,
                               int nt) {
    const int nx = 4;
    const long tp = (long)(t + 1) / 2, ntiles = (long)n * tp * (long)hw;
    const long tb = grt_fast_wino_tile_block(ntiles, ci, co, nt, 2);
    const long nblk = (ntiles + tb - 1) / tb, cib = (long)ci / 8, cob = (long)co / 8;
    const long fs = (long)hw * 8, xcs = (long)t * fs; /* frame and channel-block strides */
    const long vs = cib * tb * 8 + GRT_WINO_SKEW;
    const size_t ms = (size_t)cob * tb * 8 + GRT_WINO_SKEW;
    const int nth = nt > 0 ? nt : 1; /* as in grt__wino2d */
    const size_t per = grt_fast_wino_t_scratch_bytes(ntiles, ci, co, nt) / sizeof(float) / (size_t)nth;
#pragma omp parallel num_threads(nth)
    {
        float *V = grt__thread_scratch(scratch, per);
        float *M = V + (size_t)nx * vs;
        long xoff[GRT_WINO_TB_MAX], yoff[GRT_WINO_TB_MAX], f0[GRT_WINO_TB_MAX];
#pragma omp for schedule(static)
        for (long bk = 0; bk < nblk; bk++) {
            const long first = bk * tb, nb = ntiles - first < tb ? ntiles - first : tb;
            for (long k = 0; k < nb; k++) {
                const long tile = first + k, pos = tile % (long)hw, q = tile / (long)hw, pr = q % tp, in = q / tp;
                f0[k] = 2 * pr;
                xoff[k] = in * cib * xcs + pos * 8;
                yoff[k] = in * cob * xcs + pos * 8;
            }
            /* 1. input transform */
            const __m256 zero = _mm256_setzero_ps();
            for (long c = 0; c < cib; c++)
                for (long k = 0; k < nb; k++) {
                    const float *xp = x + xoff[k] + c * xcs;
                    const long a = f0[k] - 1;
                    const __m256 d0 = a >= 0 ? _mm256_loadu_ps(xp + a * fs) : zero;
                    const __m256 d1 = _mm256_loadu_ps(xp + (a + 1) * fs);
                    const __m256 d2 = a + 2 < t ? _mm256_loadu_ps(xp + (a + 2) * fs) : zero;
                    const __m256 d3 = a + 3 < t ? _mm256_loadu_ps(xp + (a + 3) * fs) : zero;
                    float *vp = V + (c * tb + k) * 8;
                    _mm256_storeu_ps(vp, _mm256_sub_ps(d0, d2));
                    _mm256_storeu_ps(vp + vs, _mm256_add_ps(d1, d2));
                    _mm256_storeu_ps(vp + 2 * vs, _mm256_sub_ps(d2, d1));
                    _mm256_storeu_ps(vp + 3 * vs, _mm256_sub_ps(d1, d3));
                }
            grt__wino_zero_rows(V, vs, nx, cib, nb, tb);
            /* 2. the four GEMMs */
            grt__wino_gemms(V, vs, M, u, nx, cib, cob, nb, tb, ms);
            /* 3. output transform */
            const __m256 va = _mm256_set1_ps(alpha);
            for (long c = 0; c < cob; c++) {
                const __m256 bv = bias ? _mm256_loadu_ps(bias + c * 8) : zero;
                for (long k = 0; k < nb; k++) {
                    const float *mp = M + (c * tb + k) * 8;
                    const __m256 m0 = _mm256_loadu_ps(mp), m1 = _mm256_loadu_ps(mp + ms);
                    const __m256 m2 = _mm256_loadu_ps(mp + 2 * ms), m3 = _mm256_loadu_ps(mp + 3 * ms);
                    float *yp = y + yoff[k] + c * xcs + f0[k] * fs;
                    grt__wino_store(yp, _mm256_add_ps(_mm256_add_ps(m0, m1), m2), bv, sum, act, va);
                    if (f0[k] + 1 < t) grt__wino_store(yp + fs, _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3), bv, sum, act, va);
                }
            }
        }
    }
}
