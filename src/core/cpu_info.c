/* cpu_info.c — run-time detection of the CPU's SIMD features, cores and memory. We never
 * compile for the build machine (-march=native): kernels are chosen from this at run time. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
static uint64_t grt__xgetbv(void) {
    uint32_t a, d;
    __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
    return ((uint64_t)d << 32) | a;
}
#endif

static grt_cpu_info grt__ci;
static pthread_once_t grt__ci_once = PTHREAD_ONCE_INIT;

static void grt__detect(grt_cpu_info *ci) {
    memset(ci, 0, sizeof *ci);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ci->n_cores = n > 0 ? (int)n : 1;
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    if (pages > 0 && ps > 0) ci->mem_total = (int64_t)pages * ps;
    if (avail > 0 && ps > 0) ci->mem_avail = (int64_t)avail * ps;
    snprintf(ci->brand, sizeof ci->brand, "unknown CPU");
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? grt__xgetbv() : 0;
    int ymm_ok = (xcr0 & 6) == 6, zmm_ok = (xcr0 & 0xe6) == 0xe6, amx_ok = (xcr0 & 0x60000) == 0x60000;
    ci->fma = ((c >> 12) & 1) && ymm_ok;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        ci->avx2 = ((b >> 5) & 1) && ymm_ok;
        ci->avx512f = ((b >> 16) & 1) && zmm_ok;
        ci->avx512bw = ((b >> 30) & 1) && zmm_ok;
        ci->avx512vl = ((b >> 31) & 1) && zmm_ok;
        ci->avx512_vnni = ((c >> 11) & 1) && zmm_ok;
        ci->amx_bf16 = ((d >> 22) & 1) && amx_ok;
        ci->amx_int8 = ((d >> 25) & 1) && amx_ok;
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) ci->avx512_bf16 = ((a >> 5) & 1) && zmm_ok;
    }
    unsigned brand[12];
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2], &brand[4 * i + 3]);
        char s[49];
        memcpy(s, brand, 48);
        s[48] = 0;
        const char *p = s;
        while (*p == ' ') p++;
        snprintf(ci->brand, sizeof ci->brand, "%s", p);
    }
#endif
}

static void grt__detect_once(void) { grt__detect(&grt__ci); }

const grt_cpu_info *grt_cpu_info_get(void) {
    pthread_once(&grt__ci_once, grt__detect_once);
    return &grt__ci;
}

void grt_cpu_features_str(const grt_cpu_info *ci, char *buf, size_t len) {
    buf[0] = 0;
    size_t k = 0;
#define GRT_FEAT(f, s) if (ci->f && k < len) k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? " " : "", s)
    GRT_FEAT(avx2, "avx2");
    GRT_FEAT(fma, "fma");
    GRT_FEAT(avx512f, "avx512f");
    GRT_FEAT(avx512bw, "avx512bw");
    GRT_FEAT(avx512vl, "avx512vl");
    GRT_FEAT(avx512_vnni, "avx512_vnni");
    GRT_FEAT(avx512_bf16, "avx512_bf16");
    GRT_FEAT(amx_bf16, "amx_bf16");
    GRT_FEAT(amx_int8, "amx_int8");
#undef GRT_FEAT
    if (k == 0) snprintf(buf, len, "portable");
}
