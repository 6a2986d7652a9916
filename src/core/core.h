/*
 * core.h — internal foundation shared by every room of gaitrt: errors, logging, allocation
 * (with the user's hooks and test-time failure injection), tensors and small utilities.
 * Internal names carry the `grt_` prefix; nothing here is part of the public API.
 */
#ifndef GRT_CORE_H
#define GRT_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gaitrt.h"

typedef gaitrt_status grt_status;

#define GRT_OK GAITRT_OK

/* ---- errors: one thread-local message, set where the problem is found --------------- */

/* Sets the thread-local error text (printf-style) and returns st, so that
 *     return grt_error(GAITRT_ERR_FORMAT, "%s: truncated zip directory ---> HINT: ...", path);
 * reads as one statement. */
grt_status grt_error(grt_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current error text with more context ("while loading X: ") and returns st. */
grt_status grt_error_prefix(grt_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void grt_error_clear(void);

/* ---- logging --------------------------------------------------------------------- */

void grt_log(gaitrt_log_level lvl, const char *func, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define GRT_LOG_INFO(...) grt_log(GAITRT_LOG_INFO, __func__, __VA_ARGS__)
#define GRT_LOG_WARN(...) grt_log(GAITRT_LOG_WARN, __func__, __VA_ARGS__)
#define GRT_LOG_DEBUG(...) grt_log(GAITRT_LOG_DEBUG, __func__, __VA_ARGS__)

/* ---- allocation: every allocation of the library goes through these ---------------- */

void *grt_malloc(size_t n);
void *grt_calloc(size_t count, size_t size); /* overflow-checked */
void *grt_realloc(void *p, size_t n);
void grt_free(void *p);
char *grt_strdup(const char *s);
/* 64-byte aligned block (for SIMD kernels); free with grt_free_aligned. */
void *grt_malloc_aligned(size_t n);
void grt_free_aligned(void *p);
/* After freeing a model's worth of memory: hands libc's free pages back to the system (glibc:
 * malloc_trim), so that the process's resident memory falls too. No-op with user hooks. */
void grt_mem_trim(void);

/* Overflow-checked size arithmetic: return 0 on overflow, 1 otherwise. */
static inline int grt_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int grt_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* ---- tensors ------------------------------------------------------------------------ */

#define GRT_MAX_DIMS 8

typedef enum grt_dtype {
    GRT_F32 = 0,
    GRT_F64,
    GRT_F16,
    GRT_BF16,
    GRT_I64,
    GRT_I32,
    GRT_I16,
    GRT_I8,
    GRT_U8,
    GRT_BOOL,
    GRT_DTYPE_COUNT
} grt_dtype;

size_t grt_dtype_size(grt_dtype t);
const char *grt_dtype_name(grt_dtype t); /* "float32", "int64", ... (numpy names) */

/* A dense row-major tensor that owns its data (grt_malloc'd). Used for checkpoint tensors,
 * arrays read from .npy/.pkl and host-side inputs. */
typedef struct grt_tensor {
    char *name;            /* optional (state-dict key) */
    grt_dtype dtype;       /* dtype of data */
    grt_dtype src_dtype;   /* dtype in the file (e.g. F16 converted to F32 on load) */
    int ndim;
    int64_t shape[GRT_MAX_DIMS];
    void *data;
    size_t nbytes;
} grt_tensor;

int64_t grt_tensor_numel(const grt_tensor *t);
/* Allocates data for the given shape (zeroed). */
grt_status grt_tensor_alloc(grt_tensor *t, grt_dtype dt, int ndim, const int64_t *shape);
void grt_tensor_release(grt_tensor *t); /* frees name and data, zeroes the struct */
/* "[16, 512, 256]" into buf */
const char *grt_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

/* Half-precision conversions (exact, round-to-nearest-even where narrowing). */
float grt_f16_to_f32(uint16_t h);
float grt_bf16_to_f32(uint16_t b);
uint16_t grt_f32_to_f16(float f);
uint16_t grt_f32_to_bf16(float f);

/* ---- small utilities ---------------------------------------------------------------- */

double grt_now_s(void);                 /* monotonic seconds */
/* Reads a whole file (limit: max_bytes, 0 = no limit). */
grt_status grt_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len);

/* Deterministic PRNG (splitmix64 / xoshiro-free): used for random weights in benchmarks. */
typedef struct grt_rng { uint64_t s; } grt_rng;
uint64_t grt_rng_next(grt_rng *r);
float grt_rng_uniform(grt_rng *r);  /* [0, 1) */
float grt_rng_normal(grt_rng *r);

/* ---- CPU features (run-time detection) ------------------------------------------------ */

typedef struct grt_cpu_info {
    int n_cores;        /* online logical CPUs */
    int avx2, fma, avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16, amx_bf16, amx_int8;
    char brand[64];
    int64_t mem_total, mem_avail; /* bytes */
} grt_cpu_info;
const grt_cpu_info *grt_cpu_info_get(void);
/* "avx2 fma avx512f ..." */
void grt_cpu_features_str(const grt_cpu_info *ci, char *buf, size_t len);
/* The fp32 FMA peak measured with `threads` threads (0: all cores), GFLOP/s; isa names the
 * vectors used. About 0.2 s. */
double grt_cpu_measure_peak(int threads, const char **isa);

#endif /* GRT_CORE_H */
