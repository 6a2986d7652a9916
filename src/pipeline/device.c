/* device.c — the device manager's view: the CPU (cores, SIMD features, memory) and, when
 * built in, CUDA devices, each scored for the model at hand. The score estimates sequences
 * per second from the device's peak and the model's MACs per frame; an unusable device
 * scores 0 and says why. (A Metal/Accelerate backend for Apple machines would add its
 * device here and its kernels under backends/metal/; these machines have none.) */
#include <stdio.h>
#include <string.h>

#include "pipeline/pipeline.h"

/* Implemented by the CUDA backend when built in. */
int grt_cuda_device_list(gaitrt_device_desc *out, int cap);

static double grt__cpu_peak(const grt_cpu_info *ci) {
    /* fp32 FLOP per cycle per core: 2 FMA units x (16 lanes AVX-512 | 8 AVX2 | 4 SSE) x 2;
     * we assume ~3 GHz (the nominal clock is not what these machines run at). */
    double lanes = ci->avx512f ? 16 : ci->avx2 ? 8 : 4;
    return (double)ci->n_cores * 2 * lanes * 2 * 3.0;
}

gaitrt_status gaitrt_device_list(const gaitrt_model *m, gaitrt_device_desc *out, int cap, int *n) {
    if (!n || (cap > 0 && !out)) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_device_list: NULL argument");
    gaitrt_device_desc all[9];
    int k = 0;
    const grt_cpu_info *ci = grt_cpu_info_get();
    gaitrt_device_desc *c = &all[k++];
    memset(c, 0, sizeof *c);
    c->kind = GAITRT_DEVICE_CPU;
    snprintf(c->name, sizeof c->name, "%s", ci->brand);
    grt_cpu_features_str(ci, c->features, sizeof c->features);
    c->cores = ci->n_cores;
    c->mem_total = ci->mem_total;
    c->mem_free = ci->mem_avail;
    c->peak_gflops_fp32 = grt__cpu_peak(ci);
    int nc = grt_cuda_device_list(all + k, 8);
    if (nc > 0) k += nc;
    double macs = m ? m->info.macs_per_frame : 1.2e9;
    for (int i = 0; i < k; i++) {
        gaitrt_device_desc *d = &all[i];
        if (d->peak_gflops_fp32 <= 0) {
            d->score = 0;
            continue;
        }
        /* frames per second at an attainable ~60% of peak */
        d->score = 0.6 * d->peak_gflops_fp32 * 1e9 / (2.0 * macs);
        if (d->kind == GAITRT_DEVICE_CPU)
            snprintf(d->note, sizeof d->note, "~%.0f frames/s estimated at 60%% of %.0f GFLOP/s", d->score, d->peak_gflops_fp32);
    }
    *n = k;
    for (int i = 0; i < k && i < cap; i++) out[i] = all[i];
    return GAITRT_OK;
}
