/*
 * k_grid.cuh — the launch geometry shared by the own kernels: 256 threads per block and a
 * grid-stride loop, with the grid capped so that one launch never needs more blocks than
 * the hardware queues at once. Not a tuning layer: every own kernel is memory-bound or a
 * fallback, and one geometry serves them all.
 */
#ifndef GRT_K_GRID_CUH
#define GRT_K_GRID_CUH

#include <stdint.h>

#define GRT_K_THREADS 256

static inline unsigned grt_k_blocks(int64_t n) {
    int64_t b = (n + GRT_K_THREADS - 1) / GRT_K_THREADS;
    if (b < 1) b = 1;
    if (b > 65536) b = 65536; /* the loop covers the rest */
    return (unsigned)b;
}

/* for (i = first; i < n; i += stride) */
#define GRT_K_LOOP(i, n)                                                                       \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                  \
         i += (int64_t)gridDim.x * blockDim.x)

#endif
