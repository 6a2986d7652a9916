/* nvml.c — NVML opened at run time and a sampler thread for the profiler (see nvml.h).
 *
 * We declare the handful of NVML types and entry points we call ourselves (their ABI has been
 * stable since NVML's _v2 functions), so building needs no NVML header and running needs no
 * NVML library: without one, opening fails with the loader's message and the profile says so.
 *
 * What this file is not: a general NVML binding. Policy (when to sample, what to report) is the
 * profiler's (profile.c). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef GAITRT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "pipeline/nvml.h"

/* ---- the NVML API subset (nvml.h, driver 450 and later) ------------------------------- */

typedef int grt__nvml_ret;                 /* nvmlReturn_t; NVML_SUCCESS is 0 */
typedef struct grt__nvml_dev_st *grt__nvml_dev; /* nvmlDevice_t */
typedef struct { unsigned int gpu, memory; } grt__nvml_util;                 /* nvmlUtilization_t */
typedef struct { unsigned long long total, free, used; } grt__nvml_memory;  /* nvmlMemory_t */

#define GRT__NVML_SUCCESS 0
#define GRT__NVML_NAME_LEN 96    /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define GRT__NVML_DRIVER_LEN 80  /* NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE */

typedef struct grt__nvml_api {
    grt__nvml_ret (*init)(void);                                        /* nvmlInit_v2 */
    grt__nvml_ret (*shutdown)(void);                                    /* nvmlShutdown */
    grt__nvml_ret (*by_index)(unsigned int, grt__nvml_dev *);           /* nvmlDeviceGetHandleByIndex_v2 */
    grt__nvml_ret (*by_pci)(const char *, grt__nvml_dev *);             /* nvmlDeviceGetHandleByPciBusId_v2 (optional) */
    grt__nvml_ret (*utilization)(grt__nvml_dev, grt__nvml_util *);      /* nvmlDeviceGetUtilizationRates */
    grt__nvml_ret (*memory)(grt__nvml_dev, grt__nvml_memory *);         /* nvmlDeviceGetMemoryInfo */
    grt__nvml_ret (*name)(grt__nvml_dev, char *, unsigned int);         /* nvmlDeviceGetName */
    grt__nvml_ret (*driver)(char *, unsigned int);                      /* nvmlSystemGetDriverVersion */
    const char *(*error_string)(grt__nvml_ret);                         /* nvmlErrorString (optional) */
} grt__nvml_api;

/* The library is process-wide (like the CUDA driver): one handle, one reference count. */
static pthread_mutex_t grt__nvml_mu = PTHREAD_MUTEX_INITIALIZER;
static int grt__nvml_refs;
static void *grt__nvml_so;
static grt__nvml_api grt__nvml;
static char grt__nvml_path[512];

#define GRT__NVML_HINT "---> HINT: NVML comes with the NVIDIA driver; set " GRT_NVML_LIBRARY_ENV " to its path if it is elsewhere"

/* NVML's names for its codes, for libraries without nvmlErrorString. */
static const char *grt__nvml_code_name(grt__nvml_ret r) {
    switch (r) {
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 5: return "Already Initialized";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 8: return "Insufficient External Power";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 15: return "GPU is lost";
    case 18: return "Driver/library version mismatch";
    default: return "Unknown Error";
    }
}

static const char *grt__nvml_str(const grt__nvml_api *api, grt__nvml_ret r) {
    const char *s = api->error_string ? api->error_string(r) : NULL;
    return s ? s : grt__nvml_code_name(r);
}

const char *grt_nvml_library_path(void) {
    const char *env = getenv(GRT_NVML_LIBRARY_ENV);
    return env && *env ? env : GRT_NVML_DEFAULT_LIBRARY;
}

static grt_status grt__nvml_load_locked(void) {
    snprintf(grt__nvml_path, sizeof grt__nvml_path, "%s", grt_nvml_library_path());
    (void)dlerror();
    void *so = dlopen(grt__nvml_path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        const char *e = dlerror();
        return grt_error(GAITRT_ERR_DEVICE, "NVML not found: %s " GRT__NVML_HINT, e ? e : grt__nvml_path);
    }
    grt__nvml_api api;
    memset(&api, 0, sizeof api);
    static const struct { const char *sym; size_t off; int required; } syms[] = {
        {"nvmlInit_v2", offsetof(grt__nvml_api, init), 1},
        {"nvmlShutdown", offsetof(grt__nvml_api, shutdown), 1},
        {"nvmlDeviceGetHandleByIndex_v2", offsetof(grt__nvml_api, by_index), 1},
        {"nvmlDeviceGetHandleByPciBusId_v2", offsetof(grt__nvml_api, by_pci), 0},
        {"nvmlDeviceGetUtilizationRates", offsetof(grt__nvml_api, utilization), 1},
        {"nvmlDeviceGetMemoryInfo", offsetof(grt__nvml_api, memory), 1},
        {"nvmlDeviceGetName", offsetof(grt__nvml_api, name), 1},
        {"nvmlSystemGetDriverVersion", offsetof(grt__nvml_api, driver), 1},
        {"nvmlErrorString", offsetof(grt__nvml_api, error_string), 0},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *fn = dlsym(so, syms[i].sym);
        if (!fn && syms[i].required) {
            dlclose(so);
            return grt_error(GAITRT_ERR_DEVICE, "NVML: %s lacks %s (not NVML, or older than driver 450) " GRT__NVML_HINT,
                             grt__nvml_path, syms[i].sym);
        }
        /* dlsym gives a data pointer; POSIX guarantees it converts to the function's type */
        memcpy((char *)&api + syms[i].off, &fn, sizeof fn);
    }
    grt__nvml_ret r = api.init();
    if (r != GRT__NVML_SUCCESS) {
        const char *why = grt__nvml_str(&api, r);
        char msg[160];
        snprintf(msg, sizeof msg, "%s", why); /* the string lives in the library we close next */
        dlclose(so);
        return grt_error(GAITRT_ERR_DEVICE, "NVML (%s): nvmlInit_v2 failed: %s (code %d) ---> HINT: check the driver with nvidia-smi",
                         grt__nvml_path, msg, r);
    }
    grt__nvml_so = so;
    grt__nvml = api;
    return GRT_OK;
}

grt_status grt_nvml_open(void) {
    pthread_mutex_lock(&grt__nvml_mu);
    grt_status st = GRT_OK;
    if (grt__nvml_refs == 0) st = grt__nvml_load_locked();
    if (st == GRT_OK) grt__nvml_refs++;
    pthread_mutex_unlock(&grt__nvml_mu);
    return st;
}

void grt_nvml_close(void) {
    pthread_mutex_lock(&grt__nvml_mu);
    if (grt__nvml_refs > 0 && --grt__nvml_refs == 0) {
        grt__nvml_ret r = grt__nvml.shutdown();
        if (r != GRT__NVML_SUCCESS) GRT_LOG_WARN("nvmlShutdown: %s (code %d)", grt__nvml_str(&grt__nvml, r), r);
        dlclose(grt__nvml_so);
        grt__nvml_so = NULL;
        memset(&grt__nvml, 0, sizeof grt__nvml);
    }
    pthread_mutex_unlock(&grt__nvml_mu);
}

int grt_nvml_refcount(void) {
    pthread_mutex_lock(&grt__nvml_mu);
    int n = grt__nvml_refs;
    pthread_mutex_unlock(&grt__nvml_mu);
    return n;
}

/* ---- the sampler ------------------------------------------------------------------------ */

/* Consecutive failed samples after which the thread gives up (and says why). */
#define GRT__NVML_MAX_FAILS 5

struct grt_nvml_sampler {
    grt__nvml_api api;     /* copied at start: the thread reads only its own struct */
    grt__nvml_dev dev;
    pthread_t thread;
    int have_thread;
    int nvml_open;         /* holds a reference to the library */
    pthread_mutex_t mu;    /* guards everything below */
    pthread_cond_t cv;     /* wakes the thread to stop */
    int stop;
    grt_gpu_sample *ring;  /* grows to GRT_NVML_MAX_SAMPLES, then wraps */
    int cap, n, head;      /* head: the oldest when full */
    double sum_gpu, sum_mem;
    grt_gpu_summary sum;
};

static struct timespec grt__ts_of(double t) {
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Takes one sample (no lock held: NVML calls can take a while). 0 and why on failure. */
static int grt__sample(grt_nvml_sampler *s, grt_gpu_sample *x, char *why, size_t len) {
    grt__nvml_util u;
    grt__nvml_memory m;
    grt__nvml_ret r = s->api.utilization(s->dev, &u);
    if (r != GRT__NVML_SUCCESS) {
        snprintf(why, len, "nvmlDeviceGetUtilizationRates: %s (code %d)", grt__nvml_str(&s->api, r), r);
        return 0;
    }
    r = s->api.memory(s->dev, &m);
    if (r != GRT__NVML_SUCCESS) {
        snprintf(why, len, "nvmlDeviceGetMemoryInfo: %s (code %d)", grt__nvml_str(&s->api, r), r);
        return 0;
    }
    x->t = grt_now_s();
    x->gpu_pct = (float)(u.gpu > 100 ? 100 : u.gpu);
    x->mem_pct = (float)(u.memory > 100 ? 100 : u.memory);
    x->mem_used = m.used > (unsigned long long)INT64_MAX ? INT64_MAX : (int64_t)m.used;
    return 1;
}

/* Appends under s->mu. Growing may fail (the user's allocator): the sample is then dropped
 * from the ring, never from the summary. */
static void grt__push(grt_nvml_sampler *s, const grt_gpu_sample *x) {
    grt_gpu_summary *sm = &s->sum;
    sm->n_samples++;
    s->sum_gpu += x->gpu_pct;
    s->sum_mem += x->mem_pct;
    if (x->gpu_pct > sm->max_gpu_pct) sm->max_gpu_pct = x->gpu_pct;
    if (x->mem_used > sm->peak_mem_used) sm->peak_mem_used = x->mem_used;
    sm->mean_gpu_pct = s->sum_gpu / (double)sm->n_samples;
    sm->mean_mem_pct = s->sum_mem / (double)sm->n_samples;
    if (s->n == s->cap && s->cap < GRT_NVML_MAX_SAMPLES) {
        int cap = s->cap ? 2 * s->cap : 256;
        if (cap > GRT_NVML_MAX_SAMPLES) cap = GRT_NVML_MAX_SAMPLES;
        grt_gpu_sample *r = grt_realloc(s->ring, (size_t)cap * sizeof *r);
        if (r) {
            s->ring = r;
            s->cap = cap;
        }
    }
    if (s->n < s->cap) {
        s->ring[s->n++] = *x;
    } else if (s->cap == GRT_NVML_MAX_SAMPLES) {
        s->ring[s->head] = *x; /* full: overwrite the oldest */
        s->head = (s->head + 1) % s->cap;
    }
}

static void *grt__sampler_main(void *arg) {
    grt_nvml_sampler *s = arg;
    const double dt = s->sum.interval_s;
    double next = grt_now_s();
    int fails = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        grt_gpu_sample x;
        char why[200];
        int ok = grt__sample(s, &x, why, sizeof why);
        pthread_mutex_lock(&s->mu);
        if (ok) {
            fails = 0;
            grt__push(s, &x);
        } else if (++fails >= GRT__NVML_MAX_FAILS) {
            snprintf(s->sum.error, sizeof s->sum.error, "sampling stopped after %d failures: %s", fails, why);
            break;
        }
        /* fixed ticks, no drift; after a stall (a slow NVML call) we skip the missed ticks */
        next += dt;
        double now = grt_now_s();
        if (next < now) next = now + dt;
        struct timespec dl = grt__ts_of(next);
        while (!s->stop) {
            int rc = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
            if (rc == ETIMEDOUT) break;
        }
    }
    s->sum.running = 0;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The PCI bus id of CUDA device i ("0000:01:00.0"): NVML numbers devices in PCI order over all
 * GPUs, CUDA by speed and after CUDA_VISIBLE_DEVICES, so indices need not agree. */
static int grt__cuda_pci_bus_id(int i, char *buf, int len) {
#ifdef GAITRT_HAVE_CUDA
    if (cudaDeviceGetPCIBusId(buf, len, i) == cudaSuccess) return 1;
    (void)cudaGetLastError(); /* do not leave the error for the backend to find */
#else
    (void)i;
    (void)buf;
    (void)len;
#endif
    return 0;
}

static grt_status grt__find_device(grt_nvml_sampler *s, int cuda_index) {
    char pci[32];
    grt__nvml_ret r;
    if (s->api.by_pci && grt__cuda_pci_bus_id(cuda_index, pci, (int)sizeof pci)) {
        r = s->api.by_pci(pci, &s->dev);
        if (r == GRT__NVML_SUCCESS) {
            snprintf(s->sum.matched_by, sizeof s->sum.matched_by, "PCI bus id %s", pci);
            return GRT_OK;
        }
        GRT_LOG_WARN("NVML does not know CUDA device %d's PCI bus id %s (%s); trying index %d", cuda_index, pci,
                     grt__nvml_str(&s->api, r), cuda_index);
    }
    r = s->api.by_index((unsigned int)cuda_index, &s->dev);
    if (r != GRT__NVML_SUCCESS)
        return grt_error(GAITRT_ERR_DEVICE, "NVML: no device %d: %s (code %d) ---> HINT: NVML counts all GPUs in PCI order, "
                                            "ignoring CUDA_VISIBLE_DEVICES",
                         cuda_index, grt__nvml_str(&s->api, r), r);
    snprintf(s->sum.matched_by, sizeof s->sum.matched_by, "index %d", cuda_index);
    return GRT_OK;
}

grt_status grt_nvml_sampler_start(int cuda_index, double interval_s, grt_nvml_sampler **out) {
    if (!out) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_nvml_sampler_start: out is NULL");
    *out = NULL;
    if (cuda_index < 0) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_nvml_sampler_start: negative device index %d", cuda_index);
    grt_nvml_sampler *s = grt_calloc(1, sizeof *s);
    if (!s) return grt_error(GAITRT_ERR_NOMEM, "out of memory for the GPU sampler");
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* grt_now_s's clock */
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->sum.cuda_index = cuda_index;
    s->sum.interval_s = interval_s > 0 ? interval_s : GRT_NVML_INTERVAL_S;

    grt_status st = grt_nvml_open();
    if (st != GRT_OK) {
        grt_nvml_sampler_free(s);
        return st;
    }
    s->nvml_open = 1;
    pthread_mutex_lock(&grt__nvml_mu);
    s->api = grt__nvml;
    pthread_mutex_unlock(&grt__nvml_mu);
    if ((st = grt__find_device(s, cuda_index)) != GRT_OK) {
        grt_nvml_sampler_free(s);
        return st;
    }
    char buf[GRT__NVML_NAME_LEN] = "";
    grt__nvml_ret r = s->api.name(s->dev, buf, sizeof buf);
    snprintf(s->sum.device_name, sizeof s->sum.device_name, "%s", r == GRT__NVML_SUCCESS ? buf : "(unknown)");
    char drv[GRT__NVML_DRIVER_LEN] = "";
    r = s->api.driver(drv, sizeof drv);
    snprintf(s->sum.driver, sizeof s->sum.driver, "%s", r == GRT__NVML_SUCCESS ? drv : "(unknown)");
    grt__nvml_memory m;
    if (s->api.memory(s->dev, &m) == GRT__NVML_SUCCESS)
        s->sum.mem_total = m.total > (unsigned long long)INT64_MAX ? INT64_MAX : (int64_t)m.total;

    s->sum.running = 1;
    int rc = pthread_create(&s->thread, NULL, grt__sampler_main, s);
    if (rc != 0) {
        s->sum.running = 0;
        grt_nvml_sampler_free(s);
        return grt_error(GAITRT_ERR_INTERNAL, "cannot start the GPU sampler thread: %s ---> HINT: the process may be at its thread limit",
                         strerror(rc));
    }
    s->have_thread = 1;
    *out = s;
    return GRT_OK;
}

void grt_nvml_sampler_stop(grt_nvml_sampler *s) {
    if (!s) return;
    if (s->have_thread) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        s->have_thread = 0;
    }
    if (s->nvml_open) {
        grt_nvml_close();
        s->nvml_open = 0;
    }
}

void grt_nvml_sampler_free(grt_nvml_sampler *s) {
    if (!s) return;
    grt_nvml_sampler_stop(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    grt_free(s->ring);
    grt_free(s);
}

int grt_nvml_sampler_copy(const grt_nvml_sampler *cs, grt_gpu_sample **out, grt_gpu_summary *sum) {
    grt_nvml_sampler *s = (grt_nvml_sampler *)cs; /* the lock is the only thing we change */
    if (out) *out = NULL;
    if (!s) {
        if (sum) memset(sum, 0, sizeof *sum);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    if (sum) {
        *sum = s->sum;
        sum->n_kept = s->n;
    }
    int n = 0;
    if (out && s->n > 0) {
        grt_gpu_sample *v = grt_malloc((size_t)s->n * sizeof *v);
        if (v) {
            int first = s->n == s->cap ? s->head : 0; /* head is 0 until the ring wraps */
            for (int i = 0; i < s->n; i++) v[i] = s->ring[(first + i) % s->n];
            n = s->n;
            *out = v;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}
