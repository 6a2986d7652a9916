/*
 * host_exec.h — runs the CUDA backend's lowered program on the host: the same lowering,
 * weight packing and arena layout as on the device, and the same element functions as the
 * GPU kernels (cu_elem.h), in plain loops. What differs from a GPU run is only what the
 * libraries do (cuDNN convolutions become the direct kernel's function, cuBLAS's GEMM a
 * column-major loop over the same parameters), so comparing a host run with the reference
 * backend checks layouts, conversions, the memory plan and every own kernel's arithmetic.
 *
 * What this file is not: a CPU backend. It is slow and exists for the tests.
 */
#ifndef GRT_HOST_EXEC_H
#define GRT_HOST_EXEC_H

#include "backends/cuda/cu_prog.h"

typedef struct grt_hx_opts {
    int cdt;          /* GRT_CU_F32 / F16 / BF16 */
    int have_cudnn;   /* lowering as with cuDNN (fused / split paths) or without (direct) */
    int gemm_kernel;  /* 1: FCs through grt_cu_gemm_at; 0: a column-major GEMM loop (cuBLAS's view) */
} grt_hx_opts;

/* Lowers g for bs and runs it on inputs (one float32 (N, C, T, H, W) array per graph input);
 * writes the (S, C, P) output. The arena is filled with NaN first, so a read of memory that
 * no op wrote shows up in the output. If prog is not NULL the program is kept there (free it
 * with grt_cu_prog_free). */
grt_status grt_hx_run(const grt_graph *g, const grt_batch_shape *bs, const grt_hx_opts *o, const float *const *inputs,
                      const grt_segment *seg, float *out, grt_cu_prog *prog);

#endif
