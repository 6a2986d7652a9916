/* fake_nvml.c — a test double of NVML (libnvidia-ml.so.1) for test_nvml: the entry points
 * gaitrt's sampler calls, with deterministic answers, so the profiler's GPU utilisation is
 * tested on machines without a GPU. test_nvml points GAITRT_NVML_LIBRARY at this library.
 *
 * One device, "Fake GPU 0" at PCI bus id 0000:01:00.0, 16 GiB. The k-th utilisation query
 * since nvmlInit_v2 (k = 0, 1, ...) answers gpu = 10 * (k % 10 + 1) percent (10, 20, ..., 100, 10, ...),
 * memory = gpu / 2, and the memory query after it used = (k + 1) MiB.
 * Environment, read at nvmlInit_v2: FAKE_NVML_INIT_RESULT=<code> makes init fail with that code;
 * FAKE_NVML_UTIL_FAIL_AFTER=<n> makes utilisation queries after the n-th fail (Not Supported).
 *
 * What it is not: a model of NVML's behaviour beyond these answers. */
#include <stdlib.h>
#include <string.h>

#define FAKE_API __attribute__((visibility("default")))

typedef struct { unsigned int gpu, memory; } fake_util;
typedef struct { unsigned long long total, free, used; } fake_memory;
typedef struct fake_dev { int index; } fake_dev;

static fake_dev fake_device0 = {0};
static int fake_initialised;
static int fake_inits, fake_shutdowns, fake_util_calls, fake_fail_after = -1;

static int fake_env_int(const char *name, int dflt) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

FAKE_API void fake_nvml_stats(int *inits, int *shutdowns, int *util_calls) {
    *inits = fake_inits;
    *shutdowns = fake_shutdowns;
    *util_calls = fake_util_calls;
}

FAKE_API int nvmlInit_v2(void) {
    int r = fake_env_int("FAKE_NVML_INIT_RESULT", 0);
    if (r != 0) return r;
    fake_inits++;
    fake_initialised = 1;
    fake_util_calls = 0;
    fake_fail_after = fake_env_int("FAKE_NVML_UTIL_FAIL_AFTER", -1);
    return 0;
}

FAKE_API int nvmlShutdown(void) {
    if (!fake_initialised) return 1; /* NVML_ERROR_UNINITIALIZED */
    fake_initialised = 0;
    fake_shutdowns++;
    return 0;
}

FAKE_API const char *nvmlErrorString(int r) {
    switch (r) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 6: return "Not Found";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
    }
}

FAKE_API int nvmlDeviceGetHandleByIndex_v2(unsigned int index, fake_dev **dev) {
    if (!fake_initialised) return 1;
    if (index != 0 || !dev) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *dev = &fake_device0;
    return 0;
}

FAKE_API int nvmlDeviceGetHandleByPciBusId_v2(const char *bus, fake_dev **dev) {
    if (!fake_initialised) return 1;
    if (!bus || !dev) return 2;
    if (strcmp(bus, "0000:01:00.0") != 0 && strcmp(bus, "00000000:01:00.0") != 0) return 6; /* NOT_FOUND */
    *dev = &fake_device0;
    return 0;
}

FAKE_API int nvmlDeviceGetUtilizationRates(fake_dev *dev, fake_util *u) {
    if (!fake_initialised) return 1;
    if (dev != &fake_device0 || !u) return 2;
    if (fake_fail_after >= 0 && fake_util_calls >= fake_fail_after) return 3; /* NOT_SUPPORTED */
    int k = fake_util_calls++;
    u->gpu = 10u * (unsigned)(k % 10 + 1);
    u->memory = u->gpu / 2;
    return 0;
}

FAKE_API int nvmlDeviceGetMemoryInfo(fake_dev *dev, fake_memory *m) {
    if (!fake_initialised) return 1;
    if (dev != &fake_device0 || !m) return 2;
    m->total = 16ull << 30;
    m->used = (unsigned long long)(fake_util_calls > 0 ? fake_util_calls : 1) << 20;
    m->free = m->total - m->used;
    return 0;
}

FAKE_API int nvmlDeviceGetName(fake_dev *dev, char *name, unsigned int len) {
    if (!fake_initialised) return 1;
    if (dev != &fake_device0 || !name) return 2;
    const char *n = "Fake GPU 0";
    if (len < strlen(n) + 1) return 7; /* INSUFFICIENT_SIZE */
    memcpy(name, n, strlen(n) + 1);
    return 0;
}

FAKE_API int nvmlSystemGetDriverVersion(char *version, unsigned int len) {
    if (!fake_initialised) return 1;
    const char *v = "999.99";
    if (!version || len < strlen(v) + 1) return 7;
    memcpy(version, v, strlen(v) + 1);
    return 0;
}
