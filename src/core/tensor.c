/* tensor.c — owning dense tensors, dtypes and half-precision conversion. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

size_t grt_dtype_size(grt_dtype t) {
    switch (t) {
    case GRT_F64: case GRT_I64: return 8;
    case GRT_F32: case GRT_I32: return 4;
    case GRT_F16: case GRT_BF16: case GRT_I16: return 2;
    case GRT_I8: case GRT_U8: case GRT_BOOL: return 1;
    default: return 0;
    }
}

const char *grt_dtype_name(grt_dtype t) {
    static const char *names[] = {"float32", "float64", "float16", "bfloat16", "int64",
                                  "int32",   "int16",   "int8",    "uint8",    "bool"};
    return (unsigned)t < GRT_DTYPE_COUNT ? names[t] : "?";
}

int64_t grt_tensor_numel(const grt_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

grt_status grt_tensor_alloc(grt_tensor *t, grt_dtype dt, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > GRT_MAX_DIMS) return grt_error(GAITRT_ERR_INVALID_ARG, "tensor rank %d out of range", ndim);
    size_t n = grt_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !grt_mul_size(n, (size_t)shape[i], &n))
            return grt_error(GAITRT_ERR_LIMIT, "tensor shape too large");
    }
    t->dtype = dt;
    t->src_dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = n;
    t->data = grt_calloc(1, n ? n : 1);
    if (!t->data) return grt_error(GAITRT_ERR_NOMEM, "out of memory allocating a tensor of %zu bytes", n);
    return GRT_OK;
}

void grt_tensor_release(grt_tensor *t) {
    if (!t) return;
    grt_free(t->name);
    grt_free(t->data);
    memset(t, 0, sizeof *t);
}

const char *grt_shape_str(int ndim, const int64_t *shape, char *buf, size_t len) {
    size_t k = 0;
    if (len == 0) return buf;
    buf[0] = 0;
    k += (size_t)snprintf(buf + k, len - k, "[");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}

float grt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float grt_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t grt_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

uint16_t grt_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00);
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow to inf */
    if (ax < 0x38800000u) {                                 /* subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f)); /* a / 2^-24 */
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1) - 0x38000000u;
    return (uint16_t)(sign | (r >> 13));
}
