/*
 * cu_elem.h — the element functions of the CUDA backend's own kernels: each computes one
 * output element (or one column) from descriptors that the host fills at plan time. The
 * GPU kernels (k_*.cu) are grid-stride loops over these functions, and the host tests run
 * the very same functions in plain loops, so the index arithmetic, layouts and rounding of
 * every own kernel are checked against the reference backend on machines without a GPU.
 *
 * What this file is not: fast. The heavy work (convolutions, FC GEMMs) goes to cuDNN and
 * cuBLAS; these functions serve layout changes, pooling and elementwise ops, which are
 * memory-bound, and the fallbacks used when a library is missing or refuses a shape.
 *
 * Conventions:
 *  - Tensors are addressed by logical index (PyTorch order, e.g. (N, C, T, H, W)) through
 *    per-logical-dimension strides, so any physical order (NCTHW, NTHWC, (P, S, C), ...)
 *    works. Outputs are always iterated in their own physical order: element i is written
 *    at offset i, which keeps the writes of a warp contiguous.
 *  - Storage types are float32, float16 and bfloat16 (held as 16-bit patterns); the
 *    arithmetic is always float32 (float64 where the reference uses it).
 *  - Plain C11 when included from .c files; __host__ __device__ under nvcc.
 *
 * Usage (a kernel):
 *     __global__ void k(grt_cu_copy_desc d, const void *x, void *y) {
 *         for (int64_t i = ...grid-stride...) grt_cu_copy_at(&d, x, y, i);
 *     }
 */
#ifndef GRT_CU_ELEM_H
#define GRT_CU_ELEM_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define GRT_CU_HD static inline __host__ __device__
#else
#define GRT_CU_HD static inline
#endif

#define GRT_CU_MAXD 8 /* = GRT_MAX_DIMS */
#define GRT_CU_MAXBINS 8 /* = GRT_MAX_BINS */

/* Storage types of device tensors. */
enum { GRT_CU_F32 = 0, GRT_CU_F16 = 1, GRT_CU_BF16 = 2 };
/* Activations and reductions; the same values as grt_act and grt_reduce_mode (lower.c
 * checks this at compile time). */
enum { GRT_CU_ACT_NONE = 0, GRT_CU_ACT_RELU = 1, GRT_CU_ACT_LEAKY = 2, GRT_CU_ACT_SIGMOID = 3 };
enum { GRT_CU_REDUCE_MAX = 0, GRT_CU_REDUCE_MEAN = 1, GRT_CU_REDUCE_MEAN_MAX = 2 };

/* ---- 16-bit floats ------------------------------------------------------------------
 * On the device we use the intrinsics; on the host, bit manipulation with the same
 * round-to-nearest-even, so a host run of these functions rounds as the GPU does. */

GRT_CU_HD float grt_cu_f16_to_f32(uint16_t h) {
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(h));
#else
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

GRT_CU_HD uint16_t grt_cu_f32_to_f16(float f) {
#ifdef __CUDA_ARCH__
    return __half_as_ushort(__float2half_rn(f));
#else
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u)); /* inf / nan */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (ax >= 0x38800000u) { /* normal half */
        uint32_t r = ax - 0x38000000u; /* rebias exponent 127 -> 15 (in place) */
        uint32_t lsb = (r >> 13) & 1u;
        r += 0xfffu + lsb;
        return (uint16_t)(sign | (r >> 13));
    }
    if (ax < 0x33000000u) return (uint16_t)sign; /* below half the smallest subnormal */
    /* subnormal half, in units of 2^-24: the value is man * 2^(e - 150), so we drop the
     * low (126 - e) bits of the mantissa (14 to 24 of them) and round to nearest even */
    uint32_t e = ax >> 23, man = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;
    uint32_t q = man >> shift, rem = man & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
#endif
}

GRT_CU_HD float grt_cu_bf16_to_f32(uint16_t b) {
#ifdef __CUDA_ARCH__
    return __bfloat162float(__ushort_as_bfloat16(b));
#else
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

GRT_CU_HD uint16_t grt_cu_f32_to_bf16(float f) {
#ifdef __CUDA_ARCH__
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
#else
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet nan */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
#endif
}

/* Element i of a tensor of storage type dt, as float. */
GRT_CU_HD float grt_cu_ld(const void *p, int64_t i, int dt) {
    if (dt == GRT_CU_F16) return grt_cu_f16_to_f32(((const uint16_t *)p)[i]);
    if (dt == GRT_CU_BF16) return grt_cu_bf16_to_f32(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}

GRT_CU_HD void grt_cu_st(void *p, int64_t i, int dt, float v) {
    if (dt == GRT_CU_F16)
        ((uint16_t *)p)[i] = grt_cu_f32_to_f16(v);
    else if (dt == GRT_CU_BF16)
        ((uint16_t *)p)[i] = grt_cu_f32_to_bf16(v);
    else
        ((float *)p)[i] = v;
}

GRT_CU_HD float grt_cu_act(float v, int act, float alpha) {
    switch (act) {
    case GRT_CU_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case GRT_CU_ACT_LEAKY: return v > 0.0f ? v : v * alpha;
    case GRT_CU_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

/* Output element i, iterated in physical order (sizes psize, outermost first; pperm[k] is
 * the logical dim of physical dim k), as a logical index. */
GRT_CU_HD void grt_cu_logical(int64_t i, int nd, const int64_t *psize, const int *pperm, int64_t *lidx) {
    for (int k = nd - 1; k >= 0; k--) {
        lidx[pperm[k]] = i % psize[k];
        i /= psize[k];
    }
}

/* ---- strided copy: layout changes, type changes, slices, concat pieces ---------------- */

typedef struct grt_cu_copy_desc {
    int nd;                    /* iteration dims (after merging contiguous ones) */
    int sdt, ddt;              /* source / destination storage types */
    int64_t n;                 /* elements */
    int64_t size[GRT_CU_MAXD]; /* iteration sizes, destination's physical order */
    int64_t ss[GRT_CU_MAXD];   /* source stride of each iteration dim */
    int64_t ds[GRT_CU_MAXD];   /* destination stride of each iteration dim */
    int64_t soff, doff;        /* element offsets of the source / destination region */
} grt_cu_copy_desc;

GRT_CU_HD void grt_cu_copy_at(const grt_cu_copy_desc *d, const void *src, void *dst, int64_t i) {
    int64_t so = d->soff, dof = d->doff;
    for (int k = d->nd - 1; k >= 0; k--) {
        int64_t q = i % d->size[k];
        i /= d->size[k];
        so += q * d->ss[k];
        dof += q * d->ds[k];
    }
    grt_cu_st(dst, dof, d->ddt, grt_cu_ld(src, so, d->sdt));
}

/* ---- elementwise: BatchNorm as scale/shift, activation, add, mul, conv epilogue ------- */

typedef struct grt_cu_ew_desc {
    int64_t n;       /* elements */
    int64_t C;       /* channels (logical dim 1) */
    int64_t cstride; /* physical stride of the channel dim: channel of element i = (i / cstride) % C */
    int dt;          /* storage type of every operand (inputs and output share one layout) */
    int act;
    float alpha;
} grt_cu_ew_desc;

/* y[i] = act(x[i] * scale[c] + shift[c]); x may equal y. scale, shift: (C) float32. */
GRT_CU_HD void grt_cu_scale_shift_at(const grt_cu_ew_desc *d, const void *x, void *y, const float *scale,
                                     const float *shift, int64_t i) {
    int64_t c = (i / d->cstride) % d->C;
    grt_cu_st(y, i, d->dt, grt_cu_act(grt_cu_ld(x, i, d->dt) * scale[c] + shift[c], d->act, d->alpha));
}

GRT_CU_HD void grt_cu_act_at(const grt_cu_ew_desc *d, const void *x, void *y, int64_t i) {
    grt_cu_st(y, i, d->dt, grt_cu_act(grt_cu_ld(x, i, d->dt), d->act, d->alpha));
}

GRT_CU_HD void grt_cu_add_at(const grt_cu_ew_desc *d, const void *a, const void *b, void *y, int64_t i) {
    grt_cu_st(y, i, d->dt, grt_cu_ld(a, i, d->dt) + grt_cu_ld(b, i, d->dt));
}

GRT_CU_HD void grt_cu_mul_at(const grt_cu_ew_desc *d, const void *a, const void *b, void *y, int64_t i) {
    grt_cu_st(y, i, d->dt, grt_cu_ld(a, i, d->dt) * grt_cu_ld(b, i, d->dt));
}

/* After a convolution computed by a library: y[i] = act(y[i] + bias[c] + res[i]) (in the
 * reference's order). bias: (C) float32 or NULL; res: same layout and type as y, or NULL. */
GRT_CU_HD void grt_cu_epilogue_at(const grt_cu_ew_desc *d, void *y, const float *bias, const void *res, int64_t i) {
    float v = grt_cu_ld(y, i, d->dt);
    if (bias) v += bias[(i / d->cstride) % d->C];
    if (res) v += grt_cu_ld(res, i, d->dt);
    grt_cu_st(y, i, d->dt, grt_cu_act(v, d->act, d->alpha));
}

/* ---- direct convolution (the fallback when cuDNN is missing or refuses a shape) ------- */

typedef struct grt_cu_conv_desc {
    int64_t n;                          /* output elements */
    int64_t N, Ci, T, H, W;             /* input (N, Ci, T, H, W), stored (N, T, H, W, Ci) */
    int64_t Co, To, Ho, Wo;             /* output, stored (N, To, Ho, Wo, Co) */
    int k[3], s[3], p[3], dl[3];        /* (t, h, w) */
    int64_t cig, cog;                   /* channels per group in / out */
    int xdt, wdt, ydt;                  /* residual: ydt */
    int act;
    float alpha;
} grt_cu_conv_desc;

/* y (N, To, Ho, Wo, Co) = conv(x (N, T, H, W, Ci), w (Co, kt, kh, kw, Ci/g)) + bias (Co)
 * [+ res (N, To, Ho, Wo, Co)], then act. Accumulates in float32. */
GRT_CU_HD void grt_cu_conv_at(const grt_cu_conv_desc *d, const void *x, const void *w, const float *bias,
                              const void *res, void *y, int64_t i) {
    int64_t r = i;
    const int64_t co = r % d->Co;
    r /= d->Co;
    const int64_t wo = r % d->Wo;
    r /= d->Wo;
    const int64_t ho = r % d->Ho;
    r /= d->Ho;
    const int64_t to = r % d->To;
    const int64_t n = r / d->To;
    const int64_t g = co / d->cog;
    float acc = 0.0f;
    for (int a = 0; a < d->k[0]; a++) {
        const int64_t ti = to * d->s[0] - d->p[0] + (int64_t)a * d->dl[0];
        if (ti < 0 || ti >= d->T) continue;
        for (int u = 0; u < d->k[1]; u++) {
            const int64_t hi = ho * d->s[1] - d->p[1] + (int64_t)u * d->dl[1];
            if (hi < 0 || hi >= d->H) continue;
            for (int v = 0; v < d->k[2]; v++) {
                const int64_t wi = wo * d->s[2] - d->p[2] + (int64_t)v * d->dl[2];
                if (wi < 0 || wi >= d->W) continue;
                const int64_t xo = (((n * d->T + ti) * d->H + hi) * d->W + wi) * d->Ci + g * d->cig;
                const int64_t wof = (((co * d->k[0] + a) * d->k[1] + u) * d->k[2] + v) * d->cig;
                for (int64_t ci = 0; ci < d->cig; ci++) acc += grt_cu_ld(x, xo + ci, d->xdt) * grt_cu_ld(w, wof + ci, d->wdt);
            }
        }
    }
    float val = acc + (bias ? bias[co] : 0.0f);
    if (res) val += grt_cu_ld(res, i, d->ydt);
    grt_cu_st(y, i, d->ydt, grt_cu_act(val, d->act, d->alpha));
}

/* ---- pooling -------------------------------------------------------------------------- */

/* Max or average pool over (t, h, w) of a 5-D tensor in any layout; the output has the
 * input's layout. The average divides by the whole window, padding included (PyTorch's
 * count_include_pad=True), and sums in window order (t, h, w) as the reference does. */
typedef struct grt_cu_pool_desc {
    int64_t n;
    int64_t psize[5];   /* output sizes in physical order */
    int pperm[5];       /* output (and input) physical order */
    int64_t in[5];      /* input logical shape (N, C, T, H, W) */
    int64_t is[5];      /* input logical strides */
    int k[3], s[3], p[3];
    int avg;            /* 0: max, 1: average */
    int dt;
} grt_cu_pool_desc;

GRT_CU_HD void grt_cu_pool_at(const grt_cu_pool_desc *d, const void *x, void *y, int64_t i) {
    int64_t l[5];
    grt_cu_logical(i, 5, d->psize, d->pperm, l);
    const int64_t base = l[0] * d->is[0] + l[1] * d->is[1];
    float m = -INFINITY, sum = 0.0f;
    for (int a = 0; a < d->k[0]; a++) {
        const int64_t t = l[2] * d->s[0] - d->p[0] + a;
        if (t < 0 || t >= d->in[2]) continue;
        for (int u = 0; u < d->k[1]; u++) {
            const int64_t h = l[3] * d->s[1] - d->p[1] + u;
            if (h < 0 || h >= d->in[3]) continue;
            for (int v = 0; v < d->k[2]; v++) {
                const int64_t w = l[4] * d->s[2] - d->p[2] + v;
                if (w < 0 || w >= d->in[4]) continue;
                const float val = grt_cu_ld(x, base + t * d->is[2] + h * d->is[3] + w * d->is[4], d->dt);
                sum += val;
                if (val > m || val != val) m = val; /* NaN wins, as in the reference */
            }
        }
    }
    grt_cu_st(y, i, d->dt, d->avg ? sum / (float)(d->k[0] * d->k[1] * d->k[2]) : m);
}

/* Temporal max per sequence: y (S, C, H, W) float32 from x (N, C, T, H, W).
 * seg: (S, 3) int32 rows (item b, first frame t0, frames len), checked on the host. */
typedef struct grt_cu_tmax_desc {
    int64_t n;
    int64_t psize[4]; /* output sizes in physical order */
    int pperm[4];
    int64_t is[5];    /* input logical strides */
    int dt;           /* input storage type */
} grt_cu_tmax_desc;

GRT_CU_HD void grt_cu_tmax_at(const grt_cu_tmax_desc *d, const void *x, const int32_t *seg, float *y, int64_t i) {
    int64_t l[4];
    grt_cu_logical(i, 4, d->psize, d->pperm, l);
    const int64_t b = seg[l[0] * 3], t0 = seg[l[0] * 3 + 1], len = seg[l[0] * 3 + 2];
    const int64_t off = b * d->is[0] + l[1] * d->is[1] + l[2] * d->is[3] + l[3] * d->is[4];
    float m = grt_cu_ld(x, off + t0 * d->is[2], d->dt);
    for (int64_t t = 1; t < len; t++) {
        const float v = grt_cu_ld(x, off + (t0 + t) * d->is[2], d->dt);
        if (v > m || v != v) m = v;
    }
    y[i] = m;
}

/* Horizontal pooling pyramid: y (S, C, P) float32 from x (S, C, H, W); the flattened H*W
 * of each (s, c) is cut into bins[b] chunks for every bin count b; each chunk gives
 * mean + max, or GeM: mean(max(x, eps)^p)^(1/p). */
typedef struct grt_cu_hpp_desc {
    int64_t n;
    int64_t psize[3]; /* output sizes in physical order */
    int pperm[3];
    int64_t is[4];    /* input logical strides */
    int64_t H, W;
    int n_bins;
    int bins[GRT_CU_MAXBINS];
    int gem;
    float gem_p, gem_eps;
    int dt;           /* input storage type */
} grt_cu_hpp_desc;

GRT_CU_HD void grt_cu_hpp_at(const grt_cu_hpp_desc *d, const void *x, float *y, int64_t i) {
    int64_t l[3];
    grt_cu_logical(i, 3, d->psize, d->pperm, l);
    int b = 0;
    int64_t k = l[2];
    while (b < d->n_bins - 1 && k >= d->bins[b]) k -= d->bins[b++];
    const int64_t chunk = d->H * d->W / d->bins[b];
    const int64_t base = l[0] * d->is[0] + l[1] * d->is[1];
    if (d->gem) {
        double acc = 0;
        for (int64_t j = k * chunk; j < (k + 1) * chunk; j++) {
            float v = grt_cu_ld(x, base + (j / d->W) * d->is[2] + (j % d->W) * d->is[3], d->dt);
            if (v < d->gem_eps) v = d->gem_eps;
            acc += pow((double)v, (double)d->gem_p);
        }
        y[i] = (float)pow(acc / (double)chunk, 1.0 / (double)d->gem_p);
    } else {
        float sum = 0.0f, m = -INFINITY;
        for (int64_t j = k * chunk; j < (k + 1) * chunk; j++) {
            const float v = grt_cu_ld(x, base + (j / d->W) * d->is[2] + (j % d->W) * d->is[3], d->dt);
            sum += v;
            if (v > m || v != v) m = v;
        }
        y[i] = sum / (float)chunk + m;
    }
}

/* Max, mean or mean + max over a run of axes, which disappear: y float32 in any layout
 * (iterated in its physical order) from x in any layout. Sums in float64, as the reference. */
typedef struct grt_cu_reduce_desc {
    int64_t n;                   /* output elements */
    int ond;                     /* output rank */
    int64_t psize[GRT_CU_MAXD];  /* output sizes in physical order */
    int pperm[GRT_CU_MAXD];
    int64_t ost[GRT_CU_MAXD];    /* input stride of each output logical dim */
    int rnd;                     /* reduced dims, outermost first */
    int64_t rsize[GRT_CU_MAXD], rst[GRT_CU_MAXD];
    int64_t len;                 /* elements reduced per output */
    int mode;
    int dt;                      /* input storage type */
} grt_cu_reduce_desc;

GRT_CU_HD void grt_cu_reduce_at(const grt_cu_reduce_desc *d, const void *x, float *y, int64_t i) {
    int64_t l[GRT_CU_MAXD], base = 0;
    grt_cu_logical(i, d->ond, d->psize, d->pperm, l);
    for (int k = 0; k < d->ond; k++) base += l[k] * d->ost[k];
    double sum = 0;
    float m = -INFINITY;
    for (int64_t k = 0; k < d->len; k++) {
        int64_t r = k, off = base;
        for (int j = d->rnd - 1; j >= 0; j--) {
            off += (r % d->rsize[j]) * d->rst[j];
            r /= d->rsize[j];
        }
        const float v = grt_cu_ld(x, off, d->dt);
        sum += v;
        if (v > m || v != v) m = v;
    }
    const float mean = (float)(sum / (double)d->len);
    y[i] = d->mode == GRT_CU_REDUCE_MAX ? m : d->mode == GRT_CU_REDUCE_MEAN ? mean : mean + m;
}

/* ---- attention-style elementwise ops ------------------------------------------------------- */

/* Softmax along one axis of a tensor in any layout; work item i is one column (the other
 * dims' index in row-major order); x may equal y. Max in float, exponentials and sum in
 * float64, as the reference. */
typedef struct grt_cu_softmax_desc {
    int64_t n;                  /* columns */
    int nd, axis;
    int64_t shape[GRT_CU_MAXD]; /* logical */
    int64_t st[GRT_CU_MAXD];    /* logical strides (x and y share the layout) */
    int dt;
} grt_cu_softmax_desc;

GRT_CU_HD void grt_cu_softmax_at(const grt_cu_softmax_desc *d, const void *x, void *y, int64_t i) {
    int64_t off = 0, r = i;
    for (int k = d->nd - 1; k >= 0; k--) {
        if (k == d->axis) continue;
        off += (r % d->shape[k]) * d->st[k];
        r /= d->shape[k];
    }
    const int64_t len = d->shape[d->axis], sa = d->st[d->axis];
    float m = -INFINITY;
    for (int64_t k = 0; k < len; k++) {
        const float v = grt_cu_ld(x, off + k * sa, d->dt);
        m = v > m ? v : m;
    }
    double sum = 0;
    for (int64_t k = 0; k < len; k++) sum += exp((double)grt_cu_ld(x, off + k * sa, d->dt) - (double)m);
    for (int64_t k = 0; k < len; k++)
        grt_cu_st(y, off + k * sa, d->dt, (float)(exp((double)grt_cu_ld(x, off + k * sa, d->dt) - (double)m) / sum));
}

/* y = a * b, b broadcast along its size-1 dims; y has a's layout and type, b any layout and
 * type. */
typedef struct grt_cu_bcast_desc {
    int64_t n;
    int nd;
    int64_t psize[GRT_CU_MAXD]; /* y's (and a's) sizes in physical order */
    int pperm[GRT_CU_MAXD];
    int64_t bst[GRT_CU_MAXD];   /* b's stride per logical dim, 0 where it broadcasts */
    int adt, bdt;
} grt_cu_bcast_desc;

GRT_CU_HD void grt_cu_mul_bcast_at(const grt_cu_bcast_desc *d, const void *a, const void *b, void *y, int64_t i) {
    int64_t l[GRT_CU_MAXD], off = 0;
    grt_cu_logical(i, d->nd, d->psize, d->pperm, l);
    for (int k = 0; k < d->nd; k++) off += l[k] * d->bst[k];
    grt_cu_st(y, i, d->adt, grt_cu_ld(a, i, d->adt) * grt_cu_ld(b, off, d->bdt));
}

/* Label maps: y = gamma where (int)x (truncated, 0..63) is in the label set, else 1 - gamma. */
typedef struct grt_cu_mask_desc {
    int64_t n;
    uint64_t labels; /* bit l set: label l in the set */
    float gamma;
    int dt;
} grt_cu_mask_desc;

GRT_CU_HD void grt_cu_label_mask_at(const grt_cu_mask_desc *d, const void *x, void *y, int64_t i) {
    const float v = grt_cu_ld(x, i, d->dt);
    const int in = v > -1.0f && v < 64.0f && ((d->labels >> (int)v) & 1u);
    grt_cu_st(y, i, d->dt, in ? d->gamma : 1.0f - d->gamma);
}

/* Padded batches: zeroes the frames of item b at and after ends[b] (the end of its
 * sequences) in an (N, T, inner) tensor stored packed (a convolution's NTHWC input, inner =
 * H * W * C), in front of a temporal convolution, so that they read as its zero padding.
 * Element i; the other elements are left as they are. */
typedef struct grt_cu_padmask_desc {
    int64_t n;        /* N * T * inner */
    int64_t T, inner;
    int dt;
} grt_cu_padmask_desc;

/* The mask of a convolution's input (its NTHWC x). */
static inline grt_cu_padmask_desc grt_cu_padmask_of(const grt_cu_conv_desc *c) {
    const grt_cu_padmask_desc d = {c->N * c->T * c->H * c->W * c->Ci, c->T, c->H * c->W * c->Ci, c->xdt};
    return d;
}

GRT_CU_HD void grt_cu_padmask_at(const grt_cu_padmask_desc *d, void *x, const int32_t *ends, int64_t i) {
    const int64_t f = i / d->inner;
    if (f % d->T >= ends[f / d->T]) grt_cu_st(x, i, d->dt, 0.0f);
}

/* ---- head ------------------------------------------------------------------------------ */

/* L2 normalisation of each (s, p) column over C of an (S, C, P) tensor in any layout;
 * work item i = s * P + p; x may equal y (a column is read whole before it is written). */
typedef struct grt_cu_l2_desc {
    int64_t n;        /* S * P */
    int64_t C, P;
    int64_t st[3];    /* logical strides (x and y share the layout) */
    float eps;
    int dt;
} grt_cu_l2_desc;

GRT_CU_HD void grt_cu_l2_at(const grt_cu_l2_desc *d, const void *x, void *y, int64_t i) {
    const int64_t s = i / d->P, p = i % d->P, base = s * d->st[0] + p * d->st[2];
    double ss = 0;
    for (int64_t c = 0; c < d->C; c++) {
        const double v = grt_cu_ld(x, base + c * d->st[1], d->dt);
        ss += v * v;
    }
    const double nrm = sqrt(ss);
    const float inv = (float)(1.0 / (nrm > d->eps ? nrm : (double)d->eps));
    for (int64_t c = 0; c < d->C; c++) {
        const int64_t o = base + c * d->st[1];
        grt_cu_st(y, o, d->dt, grt_cu_ld(x, o, d->dt) * inv);
    }
}

/* Separate FCs as a batched GEMM over parts: y (P, S, Co) = x (P, S, C) @ w (P, C, Co),
 * all float32 row-major. `gemm` holds cuBLAS's column-major view of the same product:
 * per batch p, C' (m x n, ldc) = A' (m x k, lda) B' (k x n, ldb) with A' = w_p^T, B' = x_p^T,
 * C' = y_p^T, so that m = Co, n = S, k = C. */
typedef struct grt_cu_gemm_desc {
    int m, n, k;
    int lda, ldb, ldc;
    int64_t sa, sb, sc; /* batch strides (elements) */
    int batch;
} grt_cu_gemm_desc;

/* One output element (the fallback without cuBLAS): i over (P, n, m) = (P, S, Co). */
GRT_CU_HD void grt_cu_gemm_at(const grt_cu_gemm_desc *d, const float *a, const float *b, float *c, int64_t i) {
    const int64_t row = i % d->m, r = i / d->m, col = r % d->n, p = r / d->n;
    const float *ap = a + p * d->sa + row, *bp = b + p * d->sb + col * (int64_t)d->ldb;
    float acc = 0.0f;
    for (int l = 0; l < d->k; l++) acc += ap[(int64_t)l * d->lda] * bp[l];
    c[p * d->sc + col * (int64_t)d->ldc + row] = acc;
}

#endif /* GRT_CU_ELEM_H */
