/* k_direct.cu — the fallbacks for library work: a direct convolution (NTHWC, float32
 * accumulation, bias + residual + activation fused) for when cuDNN is missing or refuses a
 * shape, and a direct batched GEMM for the separate FCs when cuBLAS is missing. One thread
 * per output element. Deliberately simple and slow (no tiling, no tensor cores): they keep
 * a model running and are reported as fallbacks; they are not the fast path. */
#include "backends/cuda/cu_launch.h"
#include "backends/cuda/k_grid.cuh"

__global__ void grt_k_conv(grt_cu_conv_desc d, const void *x, const void *w, const float *bias, const void *res, void *y) {
    GRT_K_LOOP(i, d.n) grt_cu_conv_at(&d, x, w, bias, res, y, i);
}

__global__ void grt_k_gemm(grt_cu_gemm_desc d, int64_t n, const float *a, const float *b, float *c) {
    GRT_K_LOOP(i, n) grt_cu_gemm_at(&d, a, b, c, i);
}

extern "C" int grt_cu_launch_conv(const grt_cu_conv_desc *d, const void *x, const void *w, const float *bias,
                                  const void *res, void *y, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_conv<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, x, w, bias, res, y);
    return (int)cudaGetLastError();
}

extern "C" int grt_cu_launch_gemm(const grt_cu_gemm_desc *d, const float *w, const float *x, float *y, cudaStream_t s) {
    const int64_t n = (int64_t)d->m * d->n * d->batch;
    if (n <= 0) return 0;
    grt_k_gemm<<<grt_k_blocks(n), GRT_K_THREADS, 0, s>>>(*d, n, w, x, y);
    return (int)cudaGetLastError();
}
