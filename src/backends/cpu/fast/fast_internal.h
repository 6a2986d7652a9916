/*
 * fast_internal.h — shared internals of the fast CPU backend ("cpu-fast"): the head kernels
 * (temporal max, horizontal pyramid, separate FCs) with their per-ISA dispatch, our Winograd
 * convolution, the small elementwise kernels, and (when oneDNN is built in) the prepared
 * model state, the per-shape plan and its steps.
 *
 * Activations of convolutions live in oneDNN's channel-blocked layout from the first layer
 * to the last: 5-D values as (N, C/B, T, H, W, B) ("nCdhw8c" / "nCdhw16c"), 4-D values as
 * (S, C/B, H, W, B), where B (8 on AVX2, 16 on AVX-512) is the block oneDNN picks for the
 * CPU. Channels past C in the last block are padding. Everything that is not a convolution
 * or pooling reads that layout directly (head kernels) or, for rare ops, through a layout
 * conversion into the reference kernels' row-major layout.
 *
 * What this header is not: a public interface. Only cpu_fast.c exports a symbol
 * (grt_backend_cpu_fast); tests include this header to check the kernels one by one.
 */
#ifndef GRT_FAST_INTERNAL_H
#define GRT_FAST_INTERNAL_H

#include "backends/backend.h"

/* ---- head kernels (per ISA) ------------------------------------------------------------ */

typedef enum grt_fast_isa {
    GRT_FAST_ISA_C = 0, /* portable C */
    GRT_FAST_ISA_AVX2,
    GRT_FAST_ISA_AVX512,
} grt_fast_isa;

/* y (S, Cb, HWB) = max over the frames of each segment of x (N, Cb, T, HWB), where
 * HWB = H * W * B floats; segment s is frames [t0, t0 + len) of item b. NaN wins, as in
 * the reference kernel. */
typedef void (*grt_fast_tmax_fn)(const float *x, int64_t n, int64_t cb, int64_t t, int64_t hwb,
                                 const grt_segment *seg, int n_seq, float *y, int nt);
/* y (S, C, P) row-major from x (S, Cb, HW, B) blocked: for each bin count bins[i], the HW
 * positions split into bins[i] chunks; part value = sum / len + max of the chunk, summed in
 * position order (the reference's order, so the result is bit-identical). */
typedef void (*grt_fast_hpp_fn)(const float *x, int64_t s, int64_t c, int64_t hw, int blk, const int *bins,
                                int n_bins, float *y, int nt);
/* y (S, Co, P) from x (S, C, P) and w (P, C, Co): y[s, o, p] = sum_c x[s, c, p] * w[p, c, o],
 * fp32 accumulation. */
typedef void (*grt_fast_sepfc_fn)(const float *x, int64_t s, int64_t c, int64_t p, const float *w, int64_t co,
                                  float *y, int nt);

/* y (N, Cb, OT, OH, OW, B) = max (avg = 0) or average (avg = 1, the padding counted) pooling
 * of x (N, Cb, T, H, W, B), window/stride/padding per (t, h, w) in pa; xs[1] = ys[1] = Cb. */
typedef void (*grt_fast_pool_fn)(const float *x, const int64_t xs[5], float *y, const int64_t ys[5],
                                 const grt_pool_attr *pa, int avg, int blk, int nt);

typedef struct grt_fast_kernels {
    grt_fast_isa isa;
    const char *isa_name; /* "avx512", "avx2", "c" */
    grt_fast_tmax_fn temporal_max;
    grt_fast_hpp_fn hpp;
    grt_fast_sepfc_fn sepfc;
    grt_fast_pool_fn pool;
} grt_fast_kernels;

/* Fills k with the best kernels for this CPU that are not above `max_isa`. */
void grt_fast_kernels_select(grt_fast_kernels *k, grt_fast_isa max_isa);

/* One output row (ot, oh) of one plane (item, channel block) of the blocked pooling; x and y
 * point at the plane. grt_fast_pool_rows runs it over every row, in parallel (fast_pool.c). */
typedef void (*grt_fast_pool_row_fn)(const float *x, const int64_t xs[5], float *y, const int64_t ys[5],
                                     const grt_pool_attr *pa, int avg, int64_t ot, int64_t oh, int blk);
void grt_fast_pool_rows(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa,
                        int avg, int blk, int nt, grt_fast_pool_row_fn row);
void grt_fast_pool_c(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa, int avg,
                     int blk, int nt);
void grt_fast_pool_avx2(const float *x, const int64_t xs[5], float *y, const int64_t ys[5], const grt_pool_attr *pa,
                        int avg, int blk, int nt);
void grt_fast_temporal_max_c(const float *x, int64_t n, int64_t cb, int64_t t, int64_t hwb, const grt_segment *seg,
                             int n_seq, float *y, int nt);
void grt_fast_hpp_c(const float *x, int64_t s, int64_t c, int64_t hw, int blk, const int *bins, int n_bins, float *y,
                    int nt);
void grt_fast_sepfc_c(const float *x, int64_t s, int64_t c, int64_t p, const float *w, int64_t co, float *y, int nt);
void grt_fast_temporal_max_avx2(const float *x, int64_t n, int64_t cb, int64_t t, int64_t hwb, const grt_segment *seg,
                                int n_seq, float *y, int nt);
void grt_fast_hpp_avx2(const float *x, int64_t s, int64_t c, int64_t hw, int blk, const int *bins, int n_bins, float *y,
                       int nt);
void grt_fast_sepfc_avx2(const float *x, int64_t s, int64_t c, int64_t p, const float *w, int64_t co, float *y, int nt);
void grt_fast_temporal_max_avx512(const float *x, int64_t n, int64_t cb, int64_t t, int64_t hwb,
                                  const grt_segment *seg, int n_seq, float *y, int nt);
void grt_fast_hpp_avx512(const float *x, int64_t s, int64_t c, int64_t hw, int blk, const int *bins, int n_bins,
                         float *y, int nt);
void grt_fast_sepfc_avx512(const float *x, int64_t s, int64_t c, int64_t p, const float *w, int64_t co, float *y,
                           int nt);

/* ---- Winograd F(m x m, 3x3) convolution, m = 2 or 4 (fast_wino.c, fast_wino_avx2.c) ---- */

#define GRT_WINO_LANES 8 /* channels per block it reads and writes (the AVX2 layout) */
#define GRT_WINO_TB_MAX 144 /* output tiles per block of work, at most (multiples of the GEMM's 6 rows) */
#define GRT_WINO_SKEW 16 /* floats between the transformed planes, against 4K aliasing */
#define GRT_WINO_KB_CHUNK 32 /* channel blocks of 8 per K chunk of the GEMMs: a 256 x 16 panel of U is 16 KiB */

/* 1 when conv c with Ci -> Co channels runs on it: kt = 1, 3x3, stride 1, pad (0, 1, 1), no
 * dilation or groups, Ci % 8 == 0, Co % 16 == 0, activation none / relu / leaky relu. */
int grt_fast_wino_fits(const grt_conv_attr *c, int64_t ci, int64_t co, int blk);
/* Transformed points per tile: (m + 2)^2. */
static inline int grt_fast_wino_points(int m) { return (m + 2) * (m + 2); }
/* w (Co, Ci, 1, 3, 3) -> u ((m+2)^2, Co/16, Ci, 16) = G w G^T per channel pair. */
void grt_fast_wino_pack(const float *w, int64_t ci, int64_t co, int m, float *u);
/* Output tiles per block of work for a conv of `ntiles` m x m tiles on nt threads. */
int grt_fast_wino_tile_block(int64_t ntiles, int64_t ci, int64_t co, int nt, int m);
size_t grt_fast_wino_scratch_bytes(int64_t ntiles, int64_t ci, int64_t co, int nt, int m);
/* y (N, Co/8, T, H, W, 8) = act(conv3x3(x (N, Ci/8, T, H, W, 8), u) + bias (Co) [+ y when sum]).
 * pool (H and W even, no sum): y is (N, Co/8, T, H/2, W/2, 8), the 2x2 stride-2 max pooling of
 * that (NaN wins), computed tile by tile.
 * scratch: grt_fast_wino_scratch_bytes(tiles, ci, co, nt, m) bytes, tiles = N*T*ceil(H/m)*ceil(W/m). */
void grt_fast_wino_conv_avx2(const float *x, float *y, const float *u, const float *bias, int64_t n, int64_t t,
                             int64_t h, int64_t w, int64_t ci, int64_t co, int sum, grt_act act, float alpha, int m,
                             int pool, float *scratch, int nt);

/* 3x3x3, stride 1, padding 1 (the rest as grt_fast_wino_fits) as three 2-D F(m x m) passes,
 * one per temporal tap: u is three grt_fast_wino_pack blocks (taps 0, 1, 2); scratch as for
 * the 2-D kernel over N*T frames.
 * Or, with w3 (the (Co, Ci, 3, 3, 3) kernel itself) instead of u (NULL): each pass first
 * transforms its tap into the front of scratch, which is then grt_fast_wino_3d_tap_bytes larger.
 * The weights then take 9/16 of the memory (one tap's transform at a time, in the plan's
 * arena), for one transform per run (bit-identical: the same transform). */
int grt_fast_wino_3d_fits(const grt_conv_attr *c, int64_t ci, int64_t co, int blk);
void grt_fast_wino_3d_pack(const float *w, int64_t ci, int64_t co, int m, float *u);
/* One tap (0..2) of grt_fast_wino_3d_pack into u (grt_fast_wino_3d_tap_bytes), on nt threads. */
void grt_fast_wino_3d_pack_tap(const float *w, int64_t ci, int64_t co, int m, int tap, float *u, int nt);
size_t grt_fast_wino_3d_tap_bytes(int64_t ci, int64_t co, int m);
/* strips > 1: the same conv on each of `strips` horizontal strips of H / strips rows, zero
 * padding at every strip's border (GaitGL's local branch); scratch then as for N*T*strips
 * frames of H / strips rows. */
void grt_fast_wino_3d_conv_avx2(const float *x, float *y, const float *u, const float *w3, const float *bias, int64_t n,
                                int64_t t, int64_t h, int64_t w, int64_t ci, int64_t co, int sum, grt_act act,
                                float alpha, int m, int strips, float *scratch, int nt);

/* The Winograd GEMMs M[xi] (Co/8, TB, 8) = V[xi] (Ci/8, TB, 8) x U[xi] (Co/16, Ci, 16) for
 * the nx points of a block of nb tiles (rows past nb up to a multiple of 6 zeroed), with
 * 512-bit registers (fast_wino_avx512.c); Co/16 even. Bit-identical to the AVX2 GEMMs. */
void grt_fast_wino_gemms_avx512(const float *V, long vs, float *M, const float *u, int nx, long cib, long cob, long nb,
                                long tb, size_t ms);
/* The U panel the GEMMs read after the one of point xi, K chunk kb, panel p (U as (nx, np, Ci,
 * 16), panels `step` at a time): the next panel(s), else the next K chunk, else the next point.
 * *lines: its 64-byte lines (those of one panel), 0 past the last point. Both GEMMs prefetch it. */
static inline const float *grt_fast_wino_next_panel(const float *u, int nx, long np, long cib, int xi, long kb, long p,
                                                    int step, long *lines) {
    long nxi = xi, nkb = kb, npn = p + step;
    if (npn == np) npn = 0, nkb += GRT_WINO_KB_CHUNK;
    if (nkb >= cib) nkb = 0, nxi++;
    const long nkc = cib - nkb < GRT_WINO_KB_CHUNK ? cib - nkb : GRT_WINO_KB_CHUNK;
    *lines = nxi < nx ? nkc * 8 * 16 * (long)sizeof(float) / 64 : 0;
    return u + (((size_t)nxi * np + npn) * (cib * 8) + nkb * 8) * 16;
}
/* 1 when the Winograd GEMMs run on AVX-512 here (the CPU has it; GAITRT_NO_AVX512_WINO unset). */
int grt_fast_wino_avx512(void);
/* Tests: 1 / 0 forces the AVX-512 GEMMs on (where the CPU has AVX-512) / off; -1 decides again. */
void grt_fast_wino_avx512_force(int on);

/* Temporal F(2, 3) (fast_wino_avx2.c): 1 when conv c runs on it: kernel (3, 1, 1), stride 1,
 * padding (1, 0, 0), no dilation or groups, Ci % 8 == 0, Co % 16 == 0, activation as above. */
int grt_fast_wino_t_fits(const grt_conv_attr *c, int64_t ci, int64_t co, int blk);
/* w (Co, Ci, 3, 1, 1) -> u (4, Co/16, Ci, 16) = G w per channel pair. */
void grt_fast_wino_t_pack(const float *w, int64_t ci, int64_t co, float *u);
size_t grt_fast_wino_t_scratch_bytes(int64_t ntiles, int64_t ci, int64_t co, int nt);
/* y (N, Co/8, T, HW, 8) = act(conv3x1x1(x (N, Ci/8, T, HW, 8), u) + bias [+ y when sum]);
 * scratch: grt_fast_wino_t_scratch_bytes(N * ceil(T/2) * HW, ci, co, nt) bytes. */
void grt_fast_wino_t_conv_avx2(const float *x, float *y, const float *u, const float *bias, int64_t n, int64_t t,
                               int64_t hw, int64_t ci, int64_t co, int sum, grt_act act, float alpha, float *scratch,
                               int nt);

/* ---- elementwise kernels (portable C; the compiler vectorises them) ------------------- */

/* y = act(x * scale[k] + shift[k]) over (outer, K, inner) where k indexes the middle axis.
 * For the blocked layout the caller passes K = Cb * B "lanes" with inner = HW and the lane
 * in the last axis: see grt_fast_scale_shift_blocked. x may equal y. */
void grt_fast_scale_shift_plain(const float *x, float *y, int64_t outer, int64_t c, int64_t inner,
                                const float *scale, const float *shift, grt_act act, float alpha, int nt);
/* x, y (outer, Cb, inner, B); scale, shift (Cb * B), zero past the real channels. */
void grt_fast_scale_shift_blocked(const float *x, float *y, int64_t outer, int64_t cb, int64_t inner, int blk,
                                  const float *scale, const float *shift, grt_act act, float alpha, int nt);
/* y (n) = act(x (n)); x may equal y. */
void grt_fast_act(const float *x, float *y, int64_t n, grt_act act, float alpha, int nt);
/* y (n) = a (n) + b (n) or a * b; y may equal a or b. */
void grt_fast_add(const float *a, const float *b, float *y, int64_t n, int nt);
void grt_fast_mul(const float *a, const float *b, float *y, int64_t n, int nt);
/* y (outer, len, inner) = softmax of x over the middle axis, in float. */
void grt_fast_softmax(const float *x, int64_t outer, int64_t len, int64_t inner, float *y, int nt);
void grt_fast_softmax_avx2(const float *x, int64_t outer, int64_t len, int64_t inner, float *y, int nt);
/* y (outer, inner) = max, mean or mean + max of x (outer, len, inner) over the middle axis:
 * the reference kernel's bits (double sums in order, NaN wins the max), vectorised. */
void grt_fast_reduce(const float *x, int64_t outer, int64_t len, int64_t inner, grt_reduce_mode mode, float *y, int nt);
/* y = a * b on the blocked layout: a (N, C, positions...) as (N, Cb, P, B) of shape as[ndim];
 * b of shape bs, each position dim 1 (broadcast) or a's, bs[0] 1 or a's; b_blocked = 1: b is
 * blocked with a's channels, 0: b has one channel (broadcast over them) and is row-major. */
void grt_fast_mul_bcast_blocked(const float *a, const int64_t *as, const float *b, const int64_t *bs, int ndim,
                                int b_blocked, int blk, float *y, int nt);
/* y = x[..., start : start + len, ...] along `axis` on the blocked layout of shape xs[ndim];
 * along channels (axis 1) start is a multiple of blk and len is too or reaches the end. */
void grt_fast_slice_blocked(const float *x, const int64_t *xs, int ndim, int axis, int64_t start, int64_t len, int blk,
                            float *y, int nt);

#ifdef GAITRT_HAVE_DNNL
#include <dnnl.h>

/* ---- prepared model (shared by every plan of the model) -------------------------------- */

typedef enum grt_fast_conv_path {
    GRT_FAST_CONV_DNNL = 0, /* oneDNN, activations blocked */
    GRT_FAST_CONV_REF,      /* reference kernel on row-major data (no oneDNN implementation) */
    GRT_FAST_CONV_WINO,     /* our Winograd F(2x2, 3x3) (or temporal F(2, 3)), activations blocked */
} grt_fast_conv_path;

/* One convolution's prepared weights. */
typedef struct grt_fast_conv {
    grt_fast_conv_path path;
    int wino_m;                /* GRT_FAST_CONV_WINO: output tile m (2: F(2x2,3x3); 4: F(4x4,3x3), relaxed) */
    int wino_t;                /* GRT_FAST_CONV_WINO: 1 = temporal F(2, 3) on a (3, 1, 1) kernel;
                                  3 = a 3x3x3 kernel as three F(m x m) passes */
    int wino_lazy;             /* wino_t 3: wdata is the graph's kernel as it is (not owned), each
                                  run transforms one tap at a time into the step's scratch */
    int fold_t;                /* 1: run as a 2-D conv over (N, C, T*H, W) (1x1, kt = 1, no pad);
                                  2: over (N, C, T, H*W) (kt x 1 x 1, purely temporal: P3D's shortcut);
                                  3: over (N, C, 1, T), 1 x kt (kt x 1 x 1 with H*W = 1: GaitPart's parts;
                                     kt may be 1) */
    dnnl_memory_desc_t wmd;    /* weights in the layout the primitive wants */
    void *wdata;               /* (Co, Ci/g, kt, kh, kw) reordered into wmd, or Winograd's u; owned */
    size_t wbytes;
    const float *bias;         /* (Co) points into the graph, or NULL */
    char impl[48];             /* oneDNN implementation name at the nominal shape */
} grt_fast_conv;

typedef struct grt_fast_state {
    const grt_graph *g;
    int nt;
    grt_precision prec;
    dnnl_data_type_t adt;      /* convolution activation data type: f32 or bf16 */
    int blk;                   /* channel block B of the activation layout */
    int nxc;                   /* bf16 on AMX: convolutions read and write channels-last (ndhwc),
                                  the layout oneDNN's AMX kernels take; other ops stay blocked */
    dnnl_engine_t eng;
    grt_fast_kernels k;
    grt_fast_conv *conv;       /* per node (only conv nodes used) */
    float **fcw;               /* per node: SEPFC weights (P, C, Co), column-normalised when asked; owned */
    char *lowp_ok;             /* per value: 1 when every reader takes bf16 (convs, pooling) */
    char describe[1024];
} grt_fast_state;

/* ---- per batch shape: buffers, steps ---------------------------------------------------- */

/* A buffer of the plan: arena storage, an alias of another buffer, or a graph input. */
typedef struct grt_fast_buf {
    size_t bytes;
    int root;      /* buffer that owns the storage (itself when not an alias) */
    int input;     /* >= 0: graph input index (caller's memory, read-only) */
    int first, last; /* steps using it (roots: over all aliases) */
    size_t off;    /* arena offset (roots in the arena) */
} grt_fast_buf;

typedef enum grt_fast_step_kind {
    GRT_FS_DNNL = 0,   /* a oneDNN primitive: conv, pooling, reorder */
    GRT_FS_COPY,       /* memcpy between buffers of the same layout */
    GRT_FS_TMAX,       /* temporal max, blocked */
    GRT_FS_HPP,        /* HPP mean + max, blocked in, row-major out */
    GRT_FS_SEPFC,      /* separate FCs, row-major */
    GRT_FS_SCALE_SHIFT,/* standalone BatchNorm */
    GRT_FS_ACT,
    GRT_FS_ADD,
    GRT_FS_MUL,
    GRT_FS_REF,        /* the reference kernel of the node, row-major buffers */
    GRT_FS_WINO,       /* Winograd convolution: in[0] input, in[1] scratch, out output */
    GRT_FS_CONCAT_C,   /* concat, blocked: along channels (every input but the last whole blocks) or positions */
    GRT_FS_POOL,       /* max or average pooling, blocked f32 (blocked = 1: average) */
    GRT_FS_REDUCE,     /* max / mean over position axes, blocked f32 in and out */
    GRT_FS_SLICE,      /* slice along channels (whole blocks) or a position axis, blocked */
    GRT_FS_MUL_BCAST,  /* a * b broadcast over positions (b blocked) or over channels (b row-major, blocked = 0) */
} grt_fast_step_kind;

#define GRT_FAST_MAX_ARGS 6
/* Longest run of frames a frame-independent model's batch is computed in (see chunk below). */
#define GRT_FAST_CHUNK_FRAMES GRT_BACKEND_CHUNK_FRAMES

typedef struct grt_fast_arg {
    int kind;                  /* DNNL_ARG_* */
    int buf;                   /* plan buffer, or -1: ext */
    void *ext;                 /* weights / bias owned by the state */
    dnnl_memory_desc_t md;
} grt_fast_arg;

typedef struct grt_fast_step {
    grt_fast_step_kind kind;
    int node;                  /* graph node it belongs to */
    const char *what;          /* kernel family for reports (static string) */
    /* oneDNN */
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    int n_args;
    grt_fast_arg arg[GRT_FAST_MAX_ARGS];
    dnnl_memory_t mem[GRT_FAST_MAX_ARGS];
    dnnl_exec_arg_t exec[GRT_FAST_MAX_ARGS];
    /* own kernels and copies: buffers read (in) and written (out) */
    int in[GRT_MAX_IN];
    int n_in;
    int out;
    size_t bytes;              /* GRT_FS_COPY */
    int blocked;               /* elementwise: 1 when operating on the blocked layout; GRT_FS_POOL:
                                  1 average; GRT_FS_WINO: 1 the output is 2x2 max-pooled */
    float *ss;                 /* GRT_FS_SCALE_SHIFT blocked: padded (scale, shift), owned */
    /* GRT_FS_WINO over strips (GaitGL's local convs, one per strip, as one step): the strips,
     * the node whose activation it applies (-1: the conv's own), the name it is profiled under */
    int strips, act_node;
    const char *name;
} grt_fast_step;

typedef struct grt_fast_plan {
    const grt_fast_state *st;
    grt_plan *p;               /* shapes, FLOPs per node */
    dnnl_stream_t stream;
    grt_fast_buf *buf;
    int n_buf, cap_buf;
    grt_fast_step *step;
    int n_step, cap_step;
    int *val_buf;              /* per value: buffer holding it in its home layout */
    dnnl_memory_desc_t *val_md;/* per value: its home layout */
    int out_buf;               /* buffer with the output, row-major f32 */
    /* Frame chunks (frame-independent models, long packed batches): the steps before temporal
     * pooling, [0, n_frame_steps), run on `chunk` frames at a time and the temporal max
     * accumulates over chunks; the steps after it run once. Activation memory then follows
     * the chunk, not the batch. chunk = 0: the whole batch at once. */
    int chunk, total_t, n_frame_steps;
    grt_segment *cseg;         /* per run: the chunk's segments */
    int *cmap;                 /* chunk segment -> batch sequence */
    char *cfirst;              /* chunk segment: first chunk this sequence appears in */
    void *arena;
    size_t arena_bytes;
    int own_arena;             /* 0: the caller's memory (grt_fast_plan_bind) */
    void **extra;              /* weights reordered for this shape only (rare), owned */
    int n_extra;
    size_t extra_bytes;
    int n_convert;             /* layout conversions inserted */
    int n_ref;                 /* nodes run by reference kernels */
    const void **bufptr;       /* per buffer, resolved at run */
} grt_fast_plan;

/* fast_dnnl.c: oneDNN helpers */
grt_status grt_fast_dnnl_err(dnnl_status_t s, const char *what, const char *name);
void grt_fast_md_plain(dnnl_memory_desc_t *md, int ndim, const int64_t *shape, dnnl_data_type_t dt);
/* Blocked layout for a 3-D, 4-D or 5-D shape; returns 0 for other ranks. */
int grt_fast_md_blocked(dnnl_memory_desc_t *md, int ndim, const int64_t *shape, dnnl_data_type_t dt, int blk);
int grt_fast_md_is_blocked(const dnnl_memory_desc_t *md, int blk);
dnnl_primitive_attr_t grt_fast_attr_new(void);
/* Creates the convolution primitive descriptor of node i for the shapes in p. wmd: the
 * prepared weights layout, or NULL for "any". dst_dt: data type of the output. */
dnnl_status_t grt_fast_conv_pd(const grt_fast_state *st, const grt_plan *p, int i, const dnnl_memory_desc_t *wmd,
                               dnnl_data_type_t dst_dt, dnnl_primitive_desc_t *pd);
dnnl_status_t grt_fast_pool_pd(const grt_fast_state *st, const grt_plan *p, int i, const dnnl_memory_desc_t *src,
                               dnnl_primitive_desc_t *pd);
/* Reorders the graph's (Co, Ci/g, kt, kh, kw) f32 weights of conv node i into wmd. */
grt_status grt_fast_reorder_weights(const grt_fast_state *st, int i, const dnnl_memory_desc_t *wmd, void **data,
                                    size_t *bytes);
/* One-off reorder of a whole buffer (used at prepare time). */
dnnl_status_t grt_fast_reorder_once(dnnl_engine_t eng, const dnnl_memory_desc_t *smd, void *src,
                                    const dnnl_memory_desc_t *dmd, void *dst);

/* fast_build.c: builds the steps and lays out memory for a batch shape. with_prims = 0 only
 * counts (describe at prepare time): no arena, no primitives; 1: primitives and an arena of
 * its own; 2: primitives, and the arena is the caller's (grt_fast_plan_bind before a run). */
grt_status grt_fast_plan_build(const grt_fast_state *st, const grt_batch_shape *bs, int with_prims,
                               grt_fast_plan **out);
void grt_fast_plan_bind(void *plan, void *arena);
void grt_fast_plan_free(grt_fast_plan *fp);
/* Convolution steps of the plan that oneDNN runs on its reference implementation ("ref:..."):
 * none, unless oneDNN has no compiled kernel for the layer at all (tests). */
int grt_fast_plan_ref_convs(const grt_fast_plan *fp);
grt_status grt_fast_plan_run(grt_fast_plan *fp, const grt_run_args *a);

#endif /* GAITRT_HAVE_DNNL */

#endif /* GRT_FAST_INTERNAL_H */
