/* peak.c — the machine's fp32 FMA peak, measured: independent FMA chains in the widest vectors
 * the CPU has (chosen at run time; per-function target attributes, never -march=native), timed
 * in CPU seconds so that a shared machine still gives the rate of the cores we would own.
 * `gaitrt bench` reports its "% of peak" against this number. */
#include <stdio.h>
#include <time.h>

#include "core/core.h"

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#if defined(__x86_64__)
#include <immintrin.h>
/* 12 independent FMA chains per thread in named registers (an array may live in memory),
 * enough to hide the FMA latency on every x86 core. */
#define FMA12(f)                                                                        \
    a0 = f(a0, b, c), a1 = f(a1, b, c), a2 = f(a2, b, c), a3 = f(a3, b, c), a4 = f(a4, b, c); \
    a5 = f(a5, b, c), a6 = f(a6, b, c), a7 = f(a7, b, c), a8 = f(a8, b, c), a9 = f(a9, b, c); \
    a10 = f(a10, b, c), a11 = f(a11, b, c)
/* One thread's chains; the OpenMP region lives in the caller because clang does not carry a
 * target attribute into an outlined parallel region. */
__attribute__((target("avx2,fma"))) static double fma_chains_avx2(long iters) {
    /* distinct starting values: equal chains would be merged by the compiler */
    __m256 a0 = _mm256_set1_ps(0.00f), a1 = _mm256_set1_ps(0.01f), a2 = _mm256_set1_ps(0.02f), a3 = _mm256_set1_ps(0.03f);
    __m256 a4 = _mm256_set1_ps(0.04f), a5 = _mm256_set1_ps(0.05f), a6 = _mm256_set1_ps(0.06f), a7 = _mm256_set1_ps(0.07f);
    __m256 a8 = _mm256_set1_ps(0.08f), a9 = _mm256_set1_ps(0.09f), a10 = _mm256_set1_ps(0.10f), a11 = _mm256_set1_ps(0.11f);
    const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (long it = 0; it < iters; it++) {
        FMA12(_mm256_fmadd_ps);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0];
}

static double fma_peak_avx2(int threads, long iters) {
    double t0 = cpu_s(), sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_chains_avx2(iters);
    double t = (cpu_s() - t0) / threads; /* per thread: the rate of cores we would own */
    if (sink == 12345.0) fputc(0, stderr); /* keeps the chains alive */
    return (double)iters * threads * 12 * 16 / t / 1e9;
}
/* One thread's chains; the OpenMP region lives in the caller because clang does not carry a
 * target attribute into an outlined parallel region. */
__attribute__((target("avx512f"))) static double fma_chains_avx512(long iters) {
    /* distinct starting values: equal chains would be merged by the compiler */
    __m512 a0 = _mm512_set1_ps(0.00f), a1 = _mm512_set1_ps(0.01f), a2 = _mm512_set1_ps(0.02f), a3 = _mm512_set1_ps(0.03f);
    __m512 a4 = _mm512_set1_ps(0.04f), a5 = _mm512_set1_ps(0.05f), a6 = _mm512_set1_ps(0.06f), a7 = _mm512_set1_ps(0.07f);
    __m512 a8 = _mm512_set1_ps(0.08f), a9 = _mm512_set1_ps(0.09f), a10 = _mm512_set1_ps(0.10f), a11 = _mm512_set1_ps(0.11f);
    const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    for (long it = 0; it < iters; it++) {
        FMA12(_mm512_fmadd_ps);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

static double fma_peak_avx512(int threads, long iters) {
    double t0 = cpu_s(), sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_chains_avx512(iters);
    double t = (cpu_s() - t0) / threads; /* per thread: the rate of cores we would own */
    if (sink == 12345.0) fputc(0, stderr); /* keeps the chains alive */
    return (double)iters * threads * 12 * 32 / t / 1e9;
}
#undef FMA12
#endif


double grt_cpu_measure_peak(int threads, const char **isa) {
    const grt_cpu_info *ci = grt_cpu_info_get();
    double best = 0;
    const char *name = "none";
    if (threads <= 0) threads = ci->n_cores;
#if defined(__x86_64__)
    for (int rep = 0; rep < 3; rep++) {
        double v = 0;
        if (ci->avx512f) {
            v = fma_peak_avx512(threads, 20000000);
            name = "avx512";
        } else if (ci->avx2 && ci->fma) {
            v = fma_peak_avx2(threads, 20000000);
            name = "avx2";
        }
        if (v > best) best = v;
    }
#endif
    if (isa) *isa = name;
    return best;
}

double gaitrt_cpu_peak_gflops(int threads) { return grt_cpu_measure_peak(threads, NULL); }
