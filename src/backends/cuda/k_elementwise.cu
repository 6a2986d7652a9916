/* k_elementwise.cu — elementwise kernels: BatchNorm as scale/shift, activations, add, mul,
 * broadcast mul, label masks, the epilogue after a library convolution (bias + residual +
 * activation), softmax along an axis and the L2 normalisation of (S, C, P) columns. Each thread handles elements i, i + stride, ...; the
 * element functions are in cu_elem.h. Not vectorised: correctness first, and after fusion
 * these run rarely (GaitBase needs none of them). */
#include "backends/cuda/cu_launch.h"
#include "backends/cuda/k_grid.cuh"

__global__ void grt_k_scale_shift(grt_cu_ew_desc d, const void *x, void *y, const float *scale, const float *shift) {
    GRT_K_LOOP(i, d.n) grt_cu_scale_shift_at(&d, x, y, scale, shift, i);
}

__global__ void grt_k_act(grt_cu_ew_desc d, const void *x, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_act_at(&d, x, y, i);
}

__global__ void grt_k_add(grt_cu_ew_desc d, const void *a, const void *b, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_add_at(&d, a, b, y, i);
}

__global__ void grt_k_mul(grt_cu_ew_desc d, const void *a, const void *b, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_mul_at(&d, a, b, y, i);
}

__global__ void grt_k_epilogue(grt_cu_ew_desc d, void *y, const float *bias, const void *res) {
    GRT_K_LOOP(i, d.n) grt_cu_epilogue_at(&d, y, bias, res, i);
}

__global__ void grt_k_l2norm(grt_cu_l2_desc d, const void *x, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_l2_at(&d, x, y, i);
}

__global__ void grt_k_softmax(grt_cu_softmax_desc d, const void *x, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_softmax_at(&d, x, y, i);
}

/* One block row per frame (blockIdx.y): the frames of an item before its end return at once,
 * so a batch with little padding costs little more than the launch. */
__global__ void grt_k_padmask(grt_cu_padmask_desc d, void *x, const int32_t *ends) {
    const int64_t f = blockIdx.y + (int64_t)blockIdx.z * gridDim.y;
    if (f * d.inner >= d.n || f % d.T < ends[f / d.T]) return;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < d.inner; j += (int64_t)gridDim.x * blockDim.x)
        grt_cu_padmask_at(&d, x, ends, f * d.inner + j);
}

__global__ void grt_k_mul_bcast(grt_cu_bcast_desc d, const void *a, const void *b, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_mul_bcast_at(&d, a, b, y, i);
}

__global__ void grt_k_label_mask(grt_cu_mask_desc d, const void *x, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_label_mask_at(&d, x, y, i);
}

extern "C" int grt_cu_launch_softmax(const grt_cu_softmax_desc *d, const void *x, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_softmax<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_mul_bcast(const grt_cu_bcast_desc *d, const void *a, const void *b, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_mul_bcast<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, a, b, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_padmask(const grt_cu_padmask_desc *d, void *x, const int32_t *ends, cudaStream_t s) {
    if (d->n <= 0 || d->inner <= 0) return 0;
    const int64_t frames = d->n / d->inner, per = (d->inner + GRT_K_THREADS - 1) / GRT_K_THREADS;
    const unsigned fy = (unsigned)(frames < 65535 ? frames : 65535);
    dim3 grid((unsigned)(per < 32 ? per : 32), fy, (unsigned)((frames + fy - 1) / fy));
    grt_k_padmask<<<grid, GRT_K_THREADS, 0, s>>>(*d, x, ends);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_label_mask(const grt_cu_mask_desc *d, const void *x, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_label_mask<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_scale_shift(const grt_cu_ew_desc *d, const void *x, void *y, const float *scale,
                                         const float *shift, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_scale_shift<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y, scale, shift);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_act(const grt_cu_ew_desc *d, const void *x, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_act<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_add(const grt_cu_ew_desc *d, const void *a, const void *b, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_add<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, a, b, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_mul(const grt_cu_ew_desc *d, const void *a, const void *b, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_mul<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, a, b, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_epilogue(const grt_cu_ew_desc *d, void *y, const float *bias, const void *res,
                                      cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_epilogue<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, y, bias, res);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_l2norm(const grt_cu_l2_desc *d, const void *x, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_l2norm<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y);
    return (int)cudaGetLastError();
}
