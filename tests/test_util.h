/* test_util.h — tiny helpers shared by the C tests: checks that count failures, comparison
 * with relative L2 error (the parity metric), and paths to data. */
#ifndef GRT_TEST_UTIL_H
#define GRT_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grt_test_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            grt_test_failures++;                                                     \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            grt_test_failures++;                                             \
        }                                                                    \
    } while (0)

/* Relative L2 error ||a - b|| / ||b|| (b is the reference); non-finite a counts as failure. */
static inline double grt_rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Lowest cosine similarity between matching rows (embeddings) of a and b, each (s, d). */
static inline double grt_min_cosine(const float *a, const float *b, int64_t s, int64_t d) {
    double worst = 1.0;
    for (int64_t i = 0; i < s; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int64_t j = 0; j < d; j++) {
            ab += (double)a[i * d + j] * b[i * d + j];
            aa += (double)a[i * d + j] * a[i * d + j];
            bb += (double)b[i * d + j] * b[i * d + j];
        }
        double c = ab / (sqrt(aa * bb) + 1e-30);
        if (c < worst) worst = c;
    }
    return worst;
}

static inline const char *grt_test_env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

#define TEST_SKIP(...)                        \
    do {                                      \
        fprintf(stderr, "SKIPPED: " __VA_ARGS__); \
        fprintf(stderr, "\n");                \
        exit(77);                             \
    } while (0)

static inline int grt_test_finish(const char *name) {
    if (grt_test_failures) {
        printf("%s: NOT OK (%d failures)\n", name, grt_test_failures);
        return 1;
    }
    printf("%s: OK\n", name);
    return 0;
}

#endif
