/*
 * cu_launch.h — C entry points to the CUDA backend's own kernels (k_*.cu). Each enqueues
 * one grid-stride kernel over a descriptor from cu_elem.h on the given stream and returns
 * the launch's cudaError_t (as int, 0 = success); none synchronises, none allocates, so all
 * of them can be captured into a CUDA graph.
 *
 * Shapes follow the descriptors: the pointers are device pointers to tensors laid out as
 * the descriptor says (see cu_elem.h for each element function).
 *
 * What this file is not: a place for policy. Which kernel runs, and where a tensor lives,
 * is decided by the lowering (lower.c) and the backend (cuda_backend.c).
 */
#ifndef GRT_CU_LAUNCH_H
#define GRT_CU_LAUNCH_H

#include <cuda_runtime_api.h>

#include "backends/cuda/cu_elem.h"

#ifdef __cplusplus
extern "C" {
#endif

int grt_cu_launch_copy(const grt_cu_copy_desc *d, const void *src, void *dst, cudaStream_t s);
/* y = act(x * scale[c] + shift[c]); scale, shift (C) float32 */
int grt_cu_launch_scale_shift(const grt_cu_ew_desc *d, const void *x, void *y, const float *scale, const float *shift,
                              cudaStream_t s);
int grt_cu_launch_act(const grt_cu_ew_desc *d, const void *x, void *y, cudaStream_t s);
int grt_cu_launch_add(const grt_cu_ew_desc *d, const void *a, const void *b, void *y, cudaStream_t s);
int grt_cu_launch_mul(const grt_cu_ew_desc *d, const void *a, const void *b, void *y, cudaStream_t s);
/* y = act(y + bias[c] + res), after a library convolution */
int grt_cu_launch_epilogue(const grt_cu_ew_desc *d, void *y, const float *bias, const void *res, cudaStream_t s);
int grt_cu_launch_l2norm(const grt_cu_l2_desc *d, const void *x, void *y, cudaStream_t s);
/* y (N, To, Ho, Wo, Co) = conv(x (N, T, H, W, Ci), w (Co, kt, kh, kw, Ci/g)) + bias [+ res], act */
int grt_cu_launch_conv(const grt_cu_conv_desc *d, const void *x, const void *w, const float *bias, const void *res,
                       void *y, cudaStream_t s);
/* max or average pool (d->avg) */
int grt_cu_launch_pool(const grt_cu_pool_desc *d, const void *x, void *y, cudaStream_t s);
/* y float32 (output of the reduction), x any layout */
int grt_cu_launch_reduce(const grt_cu_reduce_desc *d, const void *x, float *y, cudaStream_t s);
int grt_cu_launch_softmax(const grt_cu_softmax_desc *d, const void *x, void *y, cudaStream_t s);
int grt_cu_launch_mul_bcast(const grt_cu_bcast_desc *d, const void *a, const void *b, void *y, cudaStream_t s);
/* zeroes item b's frames from ends[b] on (ends: N int32 on the device) */
int grt_cu_launch_padmask(const grt_cu_padmask_desc *d, void *x, const int32_t *ends, cudaStream_t s);
int grt_cu_launch_label_mask(const grt_cu_mask_desc *d, const void *x, void *y, cudaStream_t s);
/* y (S, C, H, W) float32; seg (S, 3) int32 on the device */
int grt_cu_launch_tmax(const grt_cu_tmax_desc *d, const void *x, const int32_t *seg, float *y, cudaStream_t s);
/* y (S, C, P) float32 */
int grt_cu_launch_hpp(const grt_cu_hpp_desc *d, const void *x, float *y, cudaStream_t s);
/* y (P, S, Co) = x (P, S, C) @ w (P, C, Co), float32: the fallback without cuBLAS */
int grt_cu_launch_gemm(const grt_cu_gemm_desc *d, const float *w, const float *x, float *y, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif /* GRT_CU_LAUNCH_H */
