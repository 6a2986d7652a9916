/* test_cuda_common.h — helpers shared by the CUDA tests: silhouette-like inputs, the
 * reference backend on a graph, and the comparison metrics (relative L2 for float32, the
 * worst cosine over embeddings for the half precisions). */
#ifndef GRT_TEST_CUDA_COMMON_H
#define GRT_TEST_CUDA_COMMON_H

#include "backends/backend.h"
#include "test_util.h"

/* (N, C, T, H, W) frames of a moving ellipse with a few flipped pixels: binary like real
 * silhouettes, never all zeros. */
static inline float *tc_silhouettes(int n, int c, int t, int h, int w, uint64_t seed) {
    grt_rng r = {seed};
    float *x = malloc(sizeof(float) * (size_t)n * c * t * h * w);
    if (!x) return NULL;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int f = 0; f < t; f++) {
                const float cy = h * (0.45f + 0.1f * sinf(0.3f * (float)(f + 7 * i))), cx = w * (0.5f + 0.15f * cosf(0.4f * (float)(f + 3 * i)));
                const float ry = h * 0.35f, rx = w * (0.2f + 0.05f * (float)((i + ch) % 3));
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) {
                        float dy = (y - cy) / ry, dx = (xx - cx) / rx;
                        float v = dy * dy + dx * dx <= 1.0f ? 1.0f : 0.0f;
                        if (grt_rng_uniform(&r) < 0.03f) v = 1.0f - v;
                        x[((((size_t)i * c + ch) * t + f) * h + y) * w + xx] = v;
                    }
            }
    return x;
}

/* Runs g on the reference backend. */
static inline grt_status tc_ref_run(const grt_graph *g, const grt_batch_shape *bs, const grt_segment *seg,
                                    const float *const *in, float *out) {
    const grt_backend_i *bk = grt_backend_cpu_ref();
    grt_backend_opts o;
    memset(&o, 0, sizeof o);
    void *st = NULL, *pl = NULL;
    grt_status s = bk->prepare(g, &o, &st);
    if (s == GRT_OK) s = bk->plan(st, bs, &pl);
    if (s == GRT_OK) {
        grt_run_args a = {in, seg, out, NULL};
        s = bk->run(pl, &a);
    }
    if (pl) bk->plan_release(pl);
    if (st) bk->release(st);
    return s;
}

/* Worst cosine similarity between corresponding embeddings (n of len floats each). */
static inline double tc_min_cos(const float *a, const float *b, int n, size_t len) {
    double worst = 1.0;
    for (int s = 0; s < n; s++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < len; i++) {
            double x = a[s * len + i], y = b[s * len + i];
            if (!isfinite(x)) return -2.0;
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        double c = (aa > 0 && bb > 0) ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
        if (c < worst) worst = c;
    }
    return worst;
}

/* Output elements (S * C * P) of g for bs. */
static inline size_t tc_out_numel(const grt_graph *g, const grt_batch_shape *bs) {
    grt_plan *p = NULL;
    if (grt_plan_create(g, bs, &p) != GRT_OK) return 0;
    size_t n = (size_t)p->v[g->output].numel;
    grt_plan_free(p);
    return n;
}

#endif
