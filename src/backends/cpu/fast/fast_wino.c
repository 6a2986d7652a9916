/*
 * fast_wino.c — the portable half of our Winograd F(2x2, 3x3) convolution: which layers may
 * use it, the weight transform U = G g G^T done once at prepare time, and the scratch size.
 * The convolution itself is in fast_wino_avx2.c.
 *
 * Why we have our own: oneDNN 2.6 offers Winograd only on AVX-512 and only for 2-D convs,
 * while the 3x3 stride-1 convolutions are ~85% of GaitBase's work. F(2x2, 3x3) does 16
 * multiplies per 2x2 outputs instead of 36 (2.25x fewer), and its transforms use only
 * 0, +-1 and 1/2, so fp32 results stay within ~1e-7 relative L2 of the direct convolution:
 * well inside our 1e-5 budget, hence on by default. We deliberately do not use F(4x4, 3x3):
 * its larger transform constants cost accuracy we would have to argue for.
 */
#include <string.h>

#include "fast_internal.h"

int grt_fast_wino_fits(const grt_conv_attr *c, int64_t ci, int64_t co, int blk) {
    return blk == GRT_WINO_LANES && c->groups == 1 && c->k[0] == 1 && c->k[1] == 3 && c->k[2] == 3 && c->s[0] == 1 &&
           c->s[1] == 1 && c->s[2] == 1 && c->p[0] == 0 && c->p[1] == 1 && c->p[2] == 1 && c->d[0] == 1 && c->d[1] == 1 &&
           c->d[2] == 1 && ci % GRT_WINO_LANES == 0 && co % (2 * GRT_WINO_LANES) == 0 &&
           (c->act == GRT_ACT_NONE || c->act == GRT_ACT_RELU || c->act == GRT_ACT_LEAKY_RELU);
}

/* w (Co, Ci, 1, 3, 3) -> u (16, Co/16, Ci, 16): for each of the 16 points of the transformed
 * 4x4 tile, the weights laid out as the GEMM's B panels (16 outputs per row). */
void grt_fast_wino_pack(const float *w, int64_t ci, int64_t co, float *u) {
    const int64_t np = co / 16;
    for (int64_t o = 0; o < co; o++)
        for (int64_t i = 0; i < ci; i++) {
            const float *g = w + (o * ci + i) * 9; /* (3, 3): kh, kw */
            float gt[4][3], t[4][4];
            /* G g: G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] */
            for (int c = 0; c < 3; c++) {
                gt[0][c] = g[c];
                gt[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
                gt[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
                gt[3][c] = g[6 + c];
            }
            /* (G g) G^T */
            for (int r = 0; r < 4; r++) {
                t[r][0] = gt[r][0];
                t[r][1] = 0.5f * (gt[r][0] + gt[r][1] + gt[r][2]);
                t[r][2] = 0.5f * (gt[r][0] - gt[r][1] + gt[r][2]);
                t[r][3] = gt[r][2];
            }
            for (int xi = 0; xi < 16; xi++) u[((xi * np + o / 16) * ci + i) * 16 + o % 16] = t[xi / 4][xi % 4];
        }
}

int grt_fast_wino_tile_block(int64_t ntiles, int64_t ci, int64_t co, int nt) {
    /* wide layers re-read all of U (16 * Ci * Co floats) once per block: bigger blocks pay
     * for their larger V and M there; narrow layers prefer blocks that stay in L2. We keep at
     * least two blocks per thread so the static split stays balanced. */
    int tb = ci * co >= 256 * 512 ? GRT_WINO_TB_MAX : 48;
    while (tb > 48 && (ntiles + tb - 1) / tb < 2 * (int64_t)(nt > 0 ? nt : 1)) tb -= 48;
    return tb;
}

size_t grt_fast_wino_scratch_bytes(int64_t ntiles, int64_t ci, int64_t co, int nt) {
    /* per thread: V (16, Ci/8, TB, 8) with a skewed stride, M (16, Co/8, TB, 8) */
    const int64_t tb = grt_fast_wino_tile_block(ntiles, ci, co, nt);
    const size_t per = (size_t)16 * (size_t)(ci * tb + GRT_WINO_SKEW) + (size_t)16 * (size_t)(co * tb);
    return per * sizeof(float) * (size_t)(nt > 0 ? nt : 1);
}
