/* k_copy.cu — the strided copy kernel: layout changes (NCTHW <-> NTHWC, (S, C, P) <->
 * (P, S, C)), storage-type changes, slices and the pieces of a concat. One kernel for all of
 * them, driven by grt_cu_copy_desc. Not a transpose tuned with shared-memory tiles: the
 * copies it serves are a few per forward pass, next to convolutions that dominate. */
#include "backends/cuda/cu_launch.h"
#include "backends/cuda/k_grid.cuh"

__global__ void grt_k_copy(grt_cu_copy_desc d, const void *src, void *dst) {
    GRT_K_LOOP(i, d.n) grt_cu_copy_at(&d, src, dst, i);
}

extern "C" int grt_cu_launch_copy(const grt_cu_copy_desc *d, const void *src, void *dst, cudaStream_t s) {
    if (d->n <= 0) return 0;
    grt_k_copy<<<grt_k_blocks(d->n), GRT_K_THREADS, 0, s>>>(*d, src, dst);
    return (int)cudaGetLastError();
}
