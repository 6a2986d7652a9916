/* test_cuda_common.h — what the CUDA tests share: silhouette-like inputs, the
 * reference backend on a graph, and the comparison metrics (relative L2 for float32, the
 * worst cosine over embeddings for the half precisions). */
#ifndef GRT_TEST_CUDA_COMMON_H
#define GRT_TEST_CUDA_COMMON_H

#include "backends/backend.h"
#include "gpu_models.h"
#include "test_util.h"

/* (N, C, T, H, W) silhouette-like frames (see grt_bb_silhouettes). */
static inline float *tc_silhouettes(int n, int c, int t, int h, int w, uint64_t seed) {
    return grt_bb_silhouettes(0, n, c, t, h, w, seed);
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
