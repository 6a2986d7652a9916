/*
 * fast_head.c — the sequence head of the fast CPU backend in portable C, and the choice of
 * the per-ISA versions (fast_head_avx2.c, fast_head_avx512.c) at run time: temporal max
 * over each sequence's frames, the horizontal pooling pyramid (mean + max), separate FCs.
 *
 * The temporal max and HPP read the convolutions' channel-blocked layout directly, so the
 * backbone's output is never converted. The portable versions are the fallback on CPUs
 * without AVX2 and the yardstick the SIMD versions are tested against. Deliberately not here:
 * GeM pooling (rare; it runs through the reference kernel) and anything oneDNN does.
 */
#include <math.h>
#include <string.h>

#include "fast_internal.h"

void grt_fast_kernels_select(grt_fast_kernels *k, grt_fast_isa max_isa) {
    const grt_cpu_info *ci = grt_cpu_info_get();
    k->isa = GRT_FAST_ISA_C;
    k->isa_name = "c";
    k->temporal_max = grt_fast_temporal_max_c;
    k->hpp = grt_fast_hpp_c;
    k->sepfc = grt_fast_sepfc_c;
    k->pool = grt_fast_pool_c;
    if (max_isa >= GRT_FAST_ISA_AVX2 && ci->avx2 && ci->fma) {
        k->isa = GRT_FAST_ISA_AVX2;
        k->isa_name = "avx2";
        k->temporal_max = grt_fast_temporal_max_avx2;
        k->hpp = grt_fast_hpp_avx2;
        k->sepfc = grt_fast_sepfc_avx2;
        k->pool = grt_fast_pool_avx2;
    }
    /* BW and VL come with every AVX-512 CPU that runs these kernels well (not Xeon Phi). */
    if (max_isa >= GRT_FAST_ISA_AVX512 && ci->avx512f && ci->avx512bw && ci->avx512vl && ci->avx2 && ci->fma) {
        k->isa = GRT_FAST_ISA_AVX512;
        k->isa_name = "avx512";
        k->temporal_max = grt_fast_temporal_max_avx512;
        k->hpp = grt_fast_hpp_avx512;
        k->sepfc = grt_fast_sepfc_avx512;
    }
}

/* x (N, Cb, T, HWB) -> y (S, Cb, HWB). One task per (sequence, channel block): each reads its
 * frames once, front to back, and keeps its output row in L1. */
void grt_fast_temporal_max_c(const float *x, int64_t n, int64_t cb, int64_t t, int64_t hwb, const grt_segment *seg,
                             int n_seq, float *y, int nt) {
    (void)n;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t c = 0; c < cb; c++) {
            const grt_segment sg = seg[s];
            const float *xp = x + (((int64_t)sg.b * cb + c) * t + sg.t0) * hwb; /* (len, HWB) */
            float *yp = y + (s * cb + c) * hwb;                                    /* (HWB) */
            memcpy(yp, xp, (size_t)hwb * sizeof(float));
            for (int64_t f = 1; f < sg.len; f++) {
                const float *xf = xp + f * hwb;
                for (int64_t i = 0; i < hwb; i++) {
                    const float v = xf[i];
                    if (v > yp[i] || isnan(v)) yp[i] = v;
                }
            }
        }
}

/* x (S, Cb, HW, B) -> y (S, C, P). */
void grt_fast_hpp_c(const float *x, int64_t s_n, int64_t c_n, int64_t hw, int blk, const int *bins, int n_bins,
                    float *y, int nt) {
    const int64_t cb_n = (c_n + blk - 1) / blk;
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
                for (int64_t k = 0; k < bins[b]; k++, part++) {
                    float sum[64], mx[64];
                    for (int l = 0; l < blk; l++) {
                        sum[l] = 0.0f;
                        mx[l] = -INFINITY;
                    }
                    for (int64_t i = 0; i < chunk; i++) {
                        const float *v = xp + (k * chunk + i) * blk; /* (B) */
                        for (int l = 0; l < blk; l++) {
                            sum[l] += v[l];
                            if (v[l] > mx[l] || isnan(v[l])) mx[l] = v[l];
                        }
                    }
                    for (int l = 0; l < lanes; l++) y[(s * c_n + cb * blk + l) * parts + part] = sum[l] / (float)chunk + mx[l];
                }
            }
        }
}

/* x (S, C, P), w (P, C, Co) -> y (S, Co, P). Tasks: (part, block of 64 outputs); each
 * keeps its 64 columns of w (C x 64 floats) hot in L2 while it walks the sequences. */
void grt_fast_sepfc_c(const float *x, int64_t s_n, int64_t c_n, int64_t p_n, const float *w, int64_t co, float *y,
                      int nt) {
    const int64_t ob_n = (co + 63) / 64;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t p = 0; p < p_n; p++)
        for (int64_t ob = 0; ob < ob_n; ob++) {
            const int64_t o0 = ob * 64, ow = co - o0 < 64 ? co - o0 : 64;
            const float *wp = w + p * c_n * co + o0; /* (C, ow), row stride co */
            for (int64_t s = 0; s < s_n; s++) {
                float acc[64] = {0};
                for (int64_t c = 0; c < c_n; c++) {
                    const float xv = x[(s * c_n + c) * p_n + p];
                    const float *wr = wp + c * co;
                    for (int64_t j = 0; j < ow; j++) acc[j] += xv * wr[j];
                }
                for (int64_t j = 0; j < ow; j++) y[(s * co + o0 + j) * p_n + p] = acc[j];
            }
        }
}
