/* cuda_device.c — what the pipeline sees of CUDA devices: the list for the device manager
 * (name, multiprocessors, memory, compute capability, a peak float32 estimate) and the
 * probe behind grt_backend_cuda(). We link the CUDA runtime statically; it opens the driver
 * (libcuda.so.1) only when first asked, so on a machine without a driver or a GPU the
 * first query returns an error, which we turn into "no devices", never a crash.
 *
 * What this file is not: a benchmark. The peak is cores x 2 x clock from the device's
 * attributes; bench/gpu/run.sh measures. */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "backends/cuda/cu_backend.h"
#include "pipeline/pipeline.h"

/* float32 lanes per multiprocessor by compute capability (from NVIDIA's tables) */
static int grt__fp32_per_sm(int major, int minor) {
    if (major >= 9) return 128;                 /* Hopper, Blackwell */
    if (major == 8) return minor == 0 ? 64 : 128; /* A100: 64; Ampere consumer, Ada: 128 */
    if (major == 7) return 64;                  /* Volta, Turing */
    if (major == 6) return minor == 0 ? 64 : 128;
    return 128;
}

int grt_cuda_device_count(char *why, size_t len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why) snprintf(why, len, "%s", cudaGetErrorString(e));
        (void)cudaGetLastError(); /* do not leave the error for the next call to find */
        return 0;
    }
    if (n <= 0 && why) snprintf(why, len, "the driver sees no CUDA device");
    return n > 0 ? n : 0;
}

void grt_cuda_features(int major, int minor, char *buf, size_t len) {
    snprintf(buf, len, "sm_%d%d%s%s%s", major, minor, major >= 7 ? " tc-fp16" : "", major >= 8 ? " tc-bf16" : "",
             major >= 8 ? " tc-tf32" : "");
}

int grt_cuda_device_list(gaitrt_device_desc *out, int cap) {
    int n = grt_cuda_device_count(NULL, 0);
    if (n <= 0 || cap <= 0 || !out) return 0;
    int prev = 0, drv = 0;
    (void)cudaGetDevice(&prev);
    (void)cudaDriverGetVersion(&drv);
    int k = 0;
    for (int i = 0; i < n && k < cap; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
            (void)cudaGetLastError();
            continue;
        }
        gaitrt_device_desc *d = &out[k++];
        memset(d, 0, sizeof *d);
        d->kind = GAITRT_DEVICE_CUDA;
        d->index = i;
        snprintf(d->name, sizeof d->name, "%.127s", p.name);
        grt_cuda_features(p.major, p.minor, d->features, sizeof d->features);
        d->cores = p.multiProcessorCount;
        d->mem_total = (int64_t)p.totalGlobalMem;
        size_t fr = 0, tot = 0;
        /* free memory needs a context on that device (the runtime creates the primary one) */
        if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
            d->mem_free = (int64_t)fr;
            d->mem_total = (int64_t)tot;
        } else {
            (void)cudaGetLastError();
        }
        int khz = 0;
        if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, i) != cudaSuccess) {
            (void)cudaGetLastError();
            khz = 0;
        }
        d->peak_gflops_fp32 = (double)p.multiProcessorCount * grt__fp32_per_sm(p.major, p.minor) * 2.0 * (double)khz / 1e6;
        snprintf(d->note, sizeof d->note, "compute capability %d.%d, %d SMs at %.2f GHz, driver %d.%d, peak fp32 ~%.1f TFLOP/s",
                 p.major, p.minor, p.multiProcessorCount, khz / 1e6, drv / 1000, (drv % 1000) / 10,
                 d->peak_gflops_fp32 / 1e3);
    }
    (void)cudaSetDevice(prev);
    return k;
}
