/*
 * fast_wino.c — the portable half of our Winograd F(m x m, 3x3) convolutions (m = 2, 4):
 * which layers may use them, the weight transform U = G g G^T done once at prepare time, and
 * the scratch size. The convolution itself is in fast_wino_avx2.c (its GEMMs on AVX-512 CPUs
 * in fast_wino_avx512.c).
 *
 * Why we have our own: oneDNN 2.6 offers Winograd only on AVX-512 and only for 2-D convs,
 * while the 3x3 stride-1 convolutions are ~85% of GaitBase's work.
 *
 * F(4x4, 3x3) does 36 multiplies per 4x4 outputs instead of 144 (4x fewer). Its accuracy
 * depends on the interpolation points: the common 0, +-1, +-2 give ~3.5-4.3e-6 relative L2
 * per layer against the exact sums over 512 input channels; 0, +-1, 1/2, -2 (ours) give
 * 2.4-2.9e-6 there and ~1e-6 over 64 channels (the direct fp32 convolution: ~3-6e-7). At
 * model level that is within 1.5x of F(2x2)'s error (1e-6 against the reference, a tenth of
 * the 1e-5 budget), so F(4x4) runs the 2-D 3x3 layers at fp32 (balanced level).
 *
 * F(2x2, 3x3) does 16 multiplies per 2x2 outputs instead of 36 (2.25x fewer), with
 * transforms of 0, +-1 and 1/2 only (~1e-7 per layer): it runs the 3x3x3 kernels at fp32,
 * whose taps are transformed per run from the graph's weights (cheap for F(2x2): sums and
 * halvings; a kept F(4x4) copy would be 4x those weights). Relaxed fp32 (the aggressive
 * level on CPUs without bf16) runs F(4x4) there too, with the transformed copy kept.
 *
 * The temporal F(2, 3) runs DeepGaitV2-P3D's (3, 1, 1) convolutions: 4 multiplies per two
 * output frames instead of 6 (1.5x fewer), with F(2x2)'s points, so its accuracy class.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fast_internal.h"

/* -1: not decided yet; else whether the GEMMs take the AVX-512 path */
static atomic_int grt__wino512 = -1;

int grt_fast_wino_avx512(void) {
    int v = atomic_load_explicit(&grt__wino512, memory_order_relaxed);
    if (v < 0) {
        v = grt_cpu_info_get()->avx512f && getenv("GAITRT_NO_AVX512_WINO") == NULL;
        atomic_store_explicit(&grt__wino512, v, memory_order_relaxed);
    }
    return v;
}

void grt_fast_wino_avx512_force(int on) {
    atomic_store_explicit(&grt__wino512, on < 0 ? -1 : on && grt_cpu_info_get()->avx512f, memory_order_relaxed);
}

int grt_fast_wino_fits(const grt_conv_attr *c, int64_t ci, int64_t co, int blk) {
    return blk == GRT_WINO_LANES && c->groups == 1 && c->k[0] == 1 && c->k[1] == 3 && c->k[2] == 3 && c->s[0] == 1 &&
           c->s[1] == 1 && c->s[2] == 1 && c->p[0] == 0 && c->p[1] == 1 && c->p[2] == 1 && c->d[0] == 1 && c->d[1] == 1 &&
           c->d[2] == 1 && ci % GRT_WINO_LANES == 0 && co % (2 * GRT_WINO_LANES) == 0 &&
           (c->act == GRT_ACT_NONE || c->act == GRT_ACT_RELU || c->act == GRT_ACT_LEAKY_RELU);
}

int grt_fast_wino_t_fits(const grt_conv_attr *c, int64_t ci, int64_t co, int blk) {
    return blk == GRT_WINO_LANES && c->groups == 1 && c->k[0] == 3 && c->k[1] == 1 && c->k[2] == 1 && c->s[0] == 1 &&
           c->s[1] == 1 && c->s[2] == 1 && c->p[0] == 1 && c->p[1] == 0 && c->p[2] == 0 && c->d[0] == 1 && c->d[1] == 1 &&
           c->d[2] == 1 && ci % GRT_WINO_LANES == 0 && co % (2 * GRT_WINO_LANES) == 0 &&
           (c->act == GRT_ACT_NONE || c->act == GRT_ACT_RELU || c->act == GRT_ACT_LEAKY_RELU);
}

static void grt__pack(const float *w, int64_t gs, int64_t ci, int64_t co, int m, float *u);

int grt_fast_wino_3d_fits(const grt_conv_attr *c, int64_t ci, int64_t co, int blk) {
    grt_conv_attr c2 = *c;
    if (c->k[0] != 3 || c->p[0] != 1 || c->s[0] != 1 || c->d[0] != 1) return 0;
    c2.k[0] = 1, c2.p[0] = 0;
    return grt_fast_wino_fits(&c2, ci, co, blk);
}

/* G of F(m x m, 3x3): (m + 2) x 3. F(2x2): points 0, +-1, inf; F(4x4): 0, +-1, 1/2, -2, inf. */
static const double grt__g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double grt__g4[6][3] = {{1, 0, 0},
                                     {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                     {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                     {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                     {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                     {0, 0, 1}};

/* w (Co, Ci, 1, 3, 3) -> u (P*P, Co/16, Ci, 16), P = m + 2: for each point of the transformed
 * P x P tile, the weights laid out as the GEMM's B panels (16 outputs per row). The transform
 * is computed in double and rounded once. */
void grt_fast_wino_pack(const float *w, int64_t ci, int64_t co, int m, float *u) { grt__pack(w, 9, ci, co, m, u); }

/* grt_fast_wino_pack for kernels `gs` floats apart (27: one temporal tap of a 3x3x3 kernel). */
static void grt__pack(const float *w, int64_t gs, int64_t ci, int64_t co, int m, float *u) {
    const int P = m + 2, nx = P * P;
    const double(*G)[3] = m == 4 ? grt__g4 : grt__g2;
    const int64_t np = co / 16;
    for (int64_t o = 0; o < co; o++)
        for (int64_t i = 0; i < ci; i++) {
            const float *g = w + (o * ci + i) * gs; /* (3, 3): kh, kw */
            double gt[6][3], t[6][6];
            for (int r = 0; r < P; r++) /* G g */
                for (int c = 0; c < 3; c++) gt[r][c] = G[r][0] * g[c] + G[r][1] * g[3 + c] + G[r][2] * g[6 + c];
            for (int r = 0; r < P; r++) /* (G g) G^T */
                for (int c = 0; c < P; c++) t[r][c] = gt[r][0] * G[c][0] + gt[r][1] * G[c][1] + gt[r][2] * G[c][2];
            for (int xi = 0; xi < nx; xi++) u[((xi * np + o / 16) * ci + i) * 16 + o % 16] = (float)t[xi / P][xi % P];
        }
}

void grt_fast_wino_t_pack(const float *w, int64_t ci, int64_t co, float *u) {
    const int64_t np = co / 16;
    for (int64_t o = 0; o < co; o++)
        for (int64_t i = 0; i < ci; i++) {
            const float *g = w + (o * ci + i) * 3; /* (3): kt */
            for (int xi = 0; xi < 4; xi++) {
                const double v = grt__g2[xi][0] * g[0] + grt__g2[xi][1] * g[1] + grt__g2[xi][2] * g[2];
                u[((xi * np + o / 16) * ci + i) * 16 + o % 16] = (float)v;
            }
        }
}

/* One tap of a 3x3x3 kernel for F(2x2): G g G^T with G's rows (1 0 0), (1 1 1)/2, (1 -1 1)/2,
 * (0 0 1) is sums and halvings only, done in float on 16 output channels at once (one line of
 * u per point), so that a run can afford to do it (a 512 x 512 tap in ~3 ms on two threads). Not bit-identical
 * to the double transform above (within an ulp); every 3x3x3 F(2x2) kernel uses this one. */
static void grt__pack3_f2(const float *w, int64_t ci, int64_t co, int tap, float *u, int nt) {
    const int64_t np = co / 16, ps = np * ci * 16; /* floats between two points' planes */
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t ob = 0; ob < np; ob++)
        for (int64_t i = 0; i < ci; i++) {
            float g[9][16], gt[4][3][16];
            for (int l = 0; l < 16; l++) {
                const float *src = w + ((ob * 16 + l) * ci + i) * 27 + tap * 9;
                for (int k = 0; k < 9; k++) g[k][l] = src[k];
            }
            for (int c = 0; c < 3; c++) /* G g, per column */
                for (int l = 0; l < 16; l++) {
                    const float s = g[c][l] + g[6 + c][l];
                    gt[0][c][l] = g[c][l];
                    gt[1][c][l] = 0.5f * (s + g[3 + c][l]);
                    gt[2][c][l] = 0.5f * (s - g[3 + c][l]);
                    gt[3][c][l] = g[6 + c][l];
                }
            float *dst = u + (ob * ci + i) * 16;
            for (int r = 0; r < 4; r++) /* (G g) G^T, per row */
                for (int l = 0; l < 16; l++) {
                    const float s = gt[r][0][l] + gt[r][2][l];
                    dst[(r * 4 + 0) * ps + l] = gt[r][0][l];
                    dst[(r * 4 + 1) * ps + l] = 0.5f * (s + gt[r][1][l]);
                    dst[(r * 4 + 2) * ps + l] = 0.5f * (s - gt[r][1][l]);
                    dst[(r * 4 + 3) * ps + l] = gt[r][2][l];
                }
        }
}

void grt_fast_wino_3d_pack(const float *w, int64_t ci, int64_t co, int m, float *u) {
    const size_t per = grt_fast_wino_3d_tap_bytes(ci, co, m) / sizeof(float);
    for (int dt = 0; dt < 3; dt++) grt_fast_wino_3d_pack_tap(w, ci, co, m, dt, u + (size_t)dt * per, 1);
}

void grt_fast_wino_3d_pack_tap(const float *w, int64_t ci, int64_t co, int m, int tap, float *u, int nt) {
    if (m == 2)
        grt__pack3_f2(w, ci, co, tap, u, nt);
    else
        grt__pack(w + tap * 9, 27, ci, co, m, u);
}

size_t grt_fast_wino_3d_tap_bytes(int64_t ci, int64_t co, int m) {
    return (size_t)grt_fast_wino_points(m) * (size_t)(ci * co) * sizeof(float);
}

int grt_fast_wino_tile_block(int64_t ntiles, int64_t ci, int64_t co, int nt, int m) {
    /* Wide layers re-read all of U (P*P * Ci * Co floats) once per block: bigger blocks pay
     * for their larger V and M there; narrow layers prefer blocks that stay in L2 (48 tiles).
     * The blocks are split between the threads statically, the first threads taking one more
     * when they do not divide evenly, so a wide layer takes the block (a multiple of the GEMM's
     * 6 rows) that gives the busiest thread the fewest tiles, the largest such. E.g. 720 tiles
     * (60 frames of 16x11, F(4x4)) on two threads: 144 gives 5 blocks, 432 tiles against 288;
     * 120 gives 360 each. (F(4x4) measured the same with blocks of 48, 96 and 144 tiles when
     * they split evenly: within 3% on GaitBase.) */
    (void)m;
    if (ci * co < 256 * 512) return 48;
    const int64_t threads = nt > 0 ? nt : 1;
    int best = 48;
    int64_t best_load = -1;
    for (int tb = GRT_WINO_TB_MAX; tb >= 48; tb -= 6) {
        const int64_t nblk = (ntiles + tb - 1) / tb, first = (nblk + threads - 1) / threads;
        const int64_t load = first * tb < ntiles ? first * tb : ntiles; /* the first thread's tiles */
        if (best_load < 0 || load < best_load) best = tb, best_load = load;
    }
    return best;
}

static size_t grt__scratch_bytes(int64_t ntiles, int64_t ci, int64_t co, int nt, int m, int64_t nx) {
    /* per thread: V (nx, Ci/8, TB, 8) and M (nx, Co/8, TB, 8), each with a skewed xi stride */
    const int64_t tb = grt_fast_wino_tile_block(ntiles, ci, co, nt, m);
    const size_t per = (size_t)nx * (size_t)(ci * tb + GRT_WINO_SKEW) + (size_t)nx * (size_t)(co * tb + GRT_WINO_SKEW);
    return per * sizeof(float) * (size_t)(nt > 0 ? nt : 1);
}

size_t grt_fast_wino_scratch_bytes(int64_t ntiles, int64_t ci, int64_t co, int nt, int m) {
    return grt__scratch_bytes(ntiles, ci, co, nt, m, grt_fast_wino_points(m));
}

size_t grt_fast_wino_t_scratch_bytes(int64_t ntiles, int64_t ci, int64_t co, int nt) {
    return grt__scratch_bytes(ntiles, ci, co, nt, 2, 4);
}
