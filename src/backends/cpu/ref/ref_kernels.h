/*
 * ref_kernels.h — plain C reference kernels: the ground truth every fast path is tested
 * against. Simple loops in PyTorch's layouts, parallel over output elements only (so the
 * result is the same whatever the thread count), no SIMD intrinsics. Shapes are written
 * outermost-first: (N, C, T, H, W), T = frames.
 */
#ifndef GRT_REF_KERNELS_H
#define GRT_REF_KERNELS_H

#include "graph/graph.h"

/* y (N, Co, To, Ho, Wo) = conv(x (N, Ci, T, H, W), w (Co, Ci/g, kt, kh, kw)) + bias (Co)
 *                         [+ res (N, Co, To, Ho, Wo)], then act. */
void grt_ref_conv(const float *x, const int64_t xs[5], const float *w, const int64_t ws[5], const float *bias,
                  const float *res, float *y, const int64_t ys[5], const grt_conv_attr *c, int nt);

/* y = x * scale[c] + shift[c] over (N, C, inner), then act. x may equal y. */
void grt_ref_scale_shift(const float *x, float *y, int64_t n, int64_t c, int64_t inner, const float *scale,
                         const float *shift, grt_act act, float alpha, int nt);
/* y = act(x), elementwise; x may equal y. */
void grt_ref_act(const float *x, float *y, int64_t n, grt_act act, float alpha, int nt);
void grt_ref_add(const float *a, const float *b, float *y, int64_t n, int nt);
void grt_ref_mul(const float *a, const float *b, float *y, int64_t n, int nt);
/* (S, C, P): each part's C-vector divided by max(||v||, eps). */
void grt_ref_l2norm(const float *x, float *y, int64_t s, int64_t c, int64_t p, float eps, int nt);

/* y (N, C, To, Ho, Wo) = max pool of x (N, C, T, H, W); padding never wins (as -inf). */
void grt_ref_maxpool(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa, int nt);
/* y (S, C, H, W): y[s] = max over frames [t0, t0+len) of item b of x (N, C, T, H, W). */
void grt_ref_temporal_max(const float *x, const int64_t xs[5], float *y, const grt_segment *seg, int n_seq, int nt);
/* y (S, C, P) from x (S, C, H, W): for each bin count b, H*W split into b chunks; mean + max
 * of each chunk (or GeM: mean(clamp(x, eps)^p)^(1/p)). */
void grt_ref_hpp(const float *x, const int64_t xs[4], float *y, const grt_hpp_attr *h, float gem_p, int nt);
/* y (S, Co, P) from x (S, C, P) and w (P, C, Co): y[s, o, p] = sum_c x[s, c, p] * w[p, c, o].
 * normalize_weight: each w[p, :, o] column is L2-normalised first (SeparateFCs norm=True). */
void grt_ref_sepfc(const float *x, const int64_t xs[3], const float *w, int64_t co, int normalize_weight, float *y,
                   int nt);

/* Generic data movement over row-major tensors. */
void grt_ref_concat(const float *const *xs, const int64_t (*shapes)[GRT_MAX_DIMS], int n_x, int ndim, int axis,
                    float *y);
void grt_ref_slice(const float *x, const int64_t *shape, int ndim, int axis, int start, int len, float *y);
void grt_ref_transpose(const float *x, const int64_t *shape, int ndim, const int *perm, float *y);

/* ---- zoo ops (avgpool.c, reduce.c, broadcast.c) ---- */

/* y (N, C, To, Ho, Wo) = average pool of x (N, C, T, H, W); the divisor is the whole window
 * volume, zero padding included (PyTorch's count_include_pad=True). */
void grt_ref_avgpool(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa, int nt);
/* x viewed as (outer, len, inner): y (outer, inner) = max, mean or mean + max over len. */
void grt_ref_reduce(const float *x, int64_t outer, int64_t len, int64_t inner, grt_reduce_mode mode, float *y, int nt);
/* x viewed as (outer, len, inner): y = softmax over len (max subtracted first). */
void grt_ref_softmax(const float *x, int64_t outer, int64_t len, int64_t inner, float *y, int nt);
/* y (as) = a (as) * b (bs) where each dim of bs is 1 (broadcast) or equal to as's. */
void grt_ref_mul_bcast(const float *a, const int64_t *as, const float *b, const int64_t *bs, int ndim, float *y, int nt);
/* y (N, C, To, H, W) from x (N, C, T, H, W): frame t of y is frame t mod T of x. */
void grt_ref_tile_t(const float *x, const int64_t xs[5], int64_t to, float *y);
/* y[i] = gamma if bit (int)x[i] (truncated towards zero, 0..63) of labels is set, else 1 - gamma. */
void grt_ref_label_mask(const float *x, int64_t n, uint64_t labels, float gamma, float *y, int nt);

/* Runs node i of g with its reference kernel: ins[k] = data of the node's input k, res = the
 * conv's fused residual (or NULL), y = output; shapes from p. Graph inputs are not nodes this
 * runs (the caller copies them). Other backends use it for ops they have no kernel for. */
grt_status grt_ref_node(const grt_graph *g, const grt_plan *p, int i, const float *const *ins, const float *res, float *y,
                        const grt_segment *segments, int nt);

static inline float grt_ref_apply_act(float v, grt_act act, float alpha) {
    switch (act) {
    case GRT_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case GRT_ACT_LEAKY_RELU: return v > 0.0f ? v : v * alpha;
    case GRT_ACT_SIGMOID: return 1.0f / (1.0f + __builtin_expf(-v));
    default: return v;
    }
}

#endif
