/*
 * nvml.h — GPU utilisation through NVML for the session profiler (internal).
 *
 * NVML (libnvidia-ml.so.1, part of the NVIDIA driver) is opened at run time with dlopen, never
 * linked, so gaitrt starts on machines without a driver; there every call here returns
 * GAITRT_ERR_DEVICE with the loader's reason in the thread's error text. The environment
 * variable GAITRT_NVML_LIBRARY names another library to open instead (the tests point it at a
 * fake driver). Opening is reference-counted and thread-safe: NVML is initialised on the first
 * open and shut down on the last close.
 *
 * What this is not: a device manager or a power/clock monitor. It samples three numbers.
 *
 * Usage:
 *     grt_nvml_sampler *smp;
 *     if (grt_nvml_sampler_start(cuda_index, GRT_NVML_INTERVAL_S, &smp) != GRT_OK)
 *         log(gaitrt_last_error());          // "NVML not found: libnvidia-ml.so.1: cannot open ..."
 *     ... runs ...                            // a thread samples every 20 ms
 *     grt_gpu_sample *v; grt_gpu_summary sum;
 *     int n = grt_nvml_sampler_copy(smp, &v, &sum);   // any time, while it runs too
 *     grt_free(v);
 *     grt_nvml_sampler_free(smp);             // stops the thread, closes NVML
 */
#ifndef GRT_NVML_H
#define GRT_NVML_H

#include "core/core.h"

#define GRT_NVML_LIBRARY_ENV "GAITRT_NVML_LIBRARY"
#define GRT_NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"
#define GRT_NVML_INTERVAL_S 0.020
/* Samples kept (a ring: the newest win): about 11 minutes at 20 ms, 768 KiB. The summary
 * (means, maxima, count) covers every sample taken, kept or not. */
#define GRT_NVML_MAX_SAMPLES 32768

/* Opens (first call: dlopen + nvmlInit_v2) or takes another reference. */
grt_status grt_nvml_open(void);
/* Drops a reference; the last one shuts NVML down and closes the library. Extra closes are ignored. */
void grt_nvml_close(void);
/* References held now (for tests). */
int grt_nvml_refcount(void);
/* The library path the next first open uses (GAITRT_NVML_LIBRARY or libnvidia-ml.so.1). */
const char *grt_nvml_library_path(void);

/* One sample, times on the grt_now_s() clock (the profiler's). */
typedef struct grt_gpu_sample {
    double t;
    float gpu_pct;      /* kernels running, % of the last sample period (NVML's "gpu") */
    float mem_pct;      /* memory controller busy, % (NVML's "memory") */
    int64_t mem_used;   /* bytes of device memory in use (all processes) */
} grt_gpu_sample;

typedef struct grt_gpu_summary {
    int64_t n_samples;          /* taken since start (kept or not) */
    int n_kept;                 /* in the ring now */
    double mean_gpu_pct, max_gpu_pct, mean_mem_pct;
    int64_t peak_mem_used, mem_total;
    int cuda_index;
    int running;                /* the thread is still sampling */
    double interval_s;
    char device_name[96];
    char driver[80];
    char matched_by[96];        /* "PCI bus id 0000:01:00.0" or "index 0" */
    char error[256];            /* why sampling stopped early ("" if it did not) */
} grt_gpu_summary;

typedef struct grt_nvml_sampler grt_nvml_sampler;

/* Opens NVML, finds the device behind CUDA device cuda_index (by its PCI bus id when CUDA is
 * built in and can tell, else by index) and starts a thread that samples it every interval_s
 * seconds (<= 0: GRT_NVML_INTERVAL_S). On failure *out is NULL and the error text says why. */
grt_status grt_nvml_sampler_start(int cuda_index, double interval_s, grt_nvml_sampler **out);
/* Stops the thread (waits for it) and closes NVML; the samples stay readable. Idempotent. */
void grt_nvml_sampler_stop(grt_nvml_sampler *s);
/* Stops if needed and frees. NULL is fine. */
void grt_nvml_sampler_free(grt_nvml_sampler *s);
/* A consistent copy of the kept samples, oldest first, in *out (grt_malloc'd; NULL when none or
 * out of memory; the caller grt_frees it), and the summary. Returns the number copied. out may
 * be NULL for the summary alone. */
int grt_nvml_sampler_copy(const grt_nvml_sampler *s, grt_gpu_sample **out, grt_gpu_summary *sum);

#endif /* GRT_NVML_H */
