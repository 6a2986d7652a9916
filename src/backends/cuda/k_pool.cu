/* k_pool.cu — pooling kernels: max / average pool over (t, h, w), reductions over a run of
 * axes, temporal max over each sequence's frames (the segment table lives on the device, so one captured graph serves any packing
 * of sequences into the batch shape), and the horizontal pooling pyramid. One thread per
 * output element; the element functions are in cu_elem.h. Not tiled through shared
 * memory: each reads its inputs once, and these run once per forward pass. */
#include "backends/cuda/cu_launch.h"
#include "backends/cuda/k_grid.cuh"

__global__ void grt_k_pool(grt_cu_pool_desc d, const void *x, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_pool_at(&d, x, y, i);
}

__global__ void grt_k_reduce(grt_cu_reduce_desc d, const void *x, float *y) {
    GRT_K_LOOP(i, d.n) grt_cu_reduce_at(&d, x, y, i);
}

__global__ void grt_k_tmax(grt_cu_tmax_desc d, const void *x, const int32_t *seg, float *y) {
    GRT_K_LOOP(i, d.n) grt_cu_tmax_at(&d, x, seg, y, i);
}

__global__ void grt_k_hpp(grt_cu_hpp_desc d, const void *x, float *y) {
    GRT_K_LOOP(i, d.n) grt_cu_hpp_at(&d, x, y, i);
}

extern "C" int grt_cu_launch_pool(const grt_cu_pool_desc *d, const void *x, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_pool<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_reduce(const grt_cu_reduce_desc *d, const void *x, float *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_reduce<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_tmax(const grt_cu_tmax_desc *d, const void *x, const int32_t *seg, float *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_tmax<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, seg, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_hpp(const grt_cu_hpp_desc *d, const void *x, float *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_hpp<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, y);
    return (int)cudaGetLastError();
}
