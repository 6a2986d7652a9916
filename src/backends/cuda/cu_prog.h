/*
 * cu_prog.h — the host side of the CUDA backend that needs no GPU: the graph lowered to a
 * flat list of device ops over device tensors (each with its layout and storage type), the
 * arena layout of those tensors, the packing of weights into the layouts the kernels read,
 * and the bookkeeping of cuDNN algorithm choices. Everything here is plain C and is unit
 * tested on machines without CUDA devices (tests/cuda/); cuda_backend.c turns a program
 * into kernel launches and library calls.
 *
 * What this file is not: a second graph IR. The graph (graph/graph.h) stays the source of
 * truth for what is computed; a program only says where each value lives on the device and
 * which layout changes are needed between the ops that read it.
 *
 * Usage:
 *     grt_cu_wpack wp;  grt_cu_wpack_plan(g, GRT_CU_F16, &wp);       once per model
 *     grt_cu_prog pr;   grt_cu_lower(g, plan, GRT_CU_F16, &wp, &pr);  once per batch shape
 *     ... pr.op[i] in order, tensors at base + pr.t[k].off ...
 *     grt_cu_prog_free(&pr); grt_cu_wpack_free(&wp);
 */
#ifndef GRT_CU_PROG_H
#define GRT_CU_PROG_H

#include "backends/backend.h"
#include "backends/cuda/cu_elem.h"

/* ---- layouts ------------------------------------------------------------------------ */

/* Where a device tensor's bytes live. */
typedef enum grt_cu_role {
    GRT_CU_ROLE_ARENA = 0, /* the plan's activation arena (offsets from the memory plan) */
    GRT_CU_ROLE_STAGE,     /* input staging: float32 (N, C, T, H, W) as the caller gives it */
} grt_cu_role;

typedef struct grt_cu_tensor {
    int ndim;
    int64_t shape[GRT_MAX_DIMS]; /* logical (PyTorch) order */
    int perm[GRT_MAX_DIMS];      /* physical order, outermost first: perm[k] is a logical dim */
    int dt;                      /* GRT_CU_F32 / F16 / BF16 */
    int64_t numel;
    grt_cu_role role;
    int root;                    /* tensor whose storage this one shares (itself if none) */
    int first, last;             /* op producing it / last op reading it (-1: none) */
    int64_t off;                 /* bytes from the start of its role's region */
    int value;                   /* graph value it holds, or -1 for a converted copy */
} grt_cu_tensor;

/* The physical orders we use, by logical rank: NCTHW data stored NTHWC ("channels last,
 * frames second"), which is NHWC for a 2-D convolution over N*T frames and NDHWC for a 3-D
 * one, so one layout serves both without a copy; (S, C, H, W) stored SHWC; (S, C, P) stored
 * (P, S, C), the batched-GEMM layout of the separate FCs. */
extern const int grt_cu_perm_cl5[5];
extern const int grt_cu_perm_cl4[4];
extern const int grt_cu_perm_pm3[3];

/* Strides in elements of each logical dim of t (packed in its physical order). */
void grt_cu_strides(const grt_cu_tensor *t, int64_t *st);
int grt_cu_perm_is(const grt_cu_tensor *t, const int *perm);
/* 1 when t's bytes are laid out as they would be in the physical order perm: the same
 * strides for every dim of size > 1 (where a size-1 dim sits does not matter). */
int grt_cu_layout_equiv(const grt_cu_tensor *t, const int *perm);
/* The physical order that lets y (shape yshape) be a reshape of x without moving data, when
 * one exists: each run of x's dims that merges or splits into y's dims must be contiguous and
 * in order in x's storage. Returns 1 and fills yperm, or 0. */
int grt_cu_reshape_view(const grt_cu_tensor *x, int ynd, const int64_t *yshape, int *yperm);
size_t grt_cu_dt_size(int dt);
const char *grt_cu_dt_name(int dt);

/* ---- weights ----------------------------------------------------------------------- */

/* Byte offsets into one weight blob, per graph value id (-1: not needed in that form). */
typedef struct grt_cu_wpack {
    int n_values;
    int cdt;          /* compute storage type of convolution weights */
    int64_t *conv_w;  /* conv weights (Co, kt, kh, kw, Ci/g) in cdt: cuDNN's NHWC/NDHWC filter layout */
    int64_t *f32;     /* float32 copies: biases, BatchNorm scale/shift */
    int64_t *bias_c;  /* conv biases in cdt (cuDNN's fused call takes the bias in the output's type) */
    int64_t *fc_w;    /* separate-FC weights (P, C, Co) float32, columns L2-normalised when asked */
    char *fc_norm;    /* per value: 1 when its FC normalises the weight columns */
    size_t bytes;
} grt_cu_wpack;

grt_status grt_cu_wpack_plan(const grt_graph *g, int cdt, grt_cu_wpack *wp);
/* Fills a host buffer of wp->bytes (then copied to the device once). A constant the plan
 * packs whose data the graph does not hold (released, never read back) is an error, not zeros. */
grt_status grt_cu_wpack_fill(const grt_graph *g, const grt_cu_wpack *wp, void *blob);
/* 1 when the blob holds constant v (in one layout or another). */
int grt_cu_wpack_holds(const grt_cu_wpack *wp, int v);
void grt_cu_wpack_free(grt_cu_wpack *wp);

/* ---- ops ----------------------------------------------------------------------------- */

typedef enum grt_cu_kind {
    GRT_CU_OP_COPY = 0,    /* layout / type change, slice, one input of a concat, one repeat of a frame tiling */
    GRT_CU_OP_CONV,        /* cuDNN (fused or + epilogue) or the direct kernel */
    GRT_CU_OP_SCALE_SHIFT, /* unfused BatchNorm */
    GRT_CU_OP_ACT,
    GRT_CU_OP_ADD,
    GRT_CU_OP_MUL,
    GRT_CU_OP_MAXPOOL,
    GRT_CU_OP_TMAX,
    GRT_CU_OP_HPP,
    GRT_CU_OP_FC,          /* cuBLAS strided-batched GEMM, or the direct kernel */
    GRT_CU_OP_L2NORM,
    GRT_CU_OP_AVGPOOL,
    GRT_CU_OP_REDUCE,
    GRT_CU_OP_SOFTMAX,
    GRT_CU_OP_MUL_BCAST,
    GRT_CU_OP_LABEL_MASK,
    GRT_CU_OP_COUNT
} grt_cu_kind;

/* How a convolution runs (chosen at plan time, may fall back after a trial run). */
typedef enum grt_cu_conv_path {
    GRT_CU_CONV_FUSED = 0, /* cudnnConvolutionBiasActivationForward: bias + residual + ReLU in one call */
    GRT_CU_CONV_SPLIT,     /* cudnnConvolutionForward, then our epilogue kernel */
    GRT_CU_CONV_DIRECT,    /* our direct kernel (float32 accumulation, any act) */
} grt_cu_conv_path;

typedef struct grt_cu_op {
    grt_cu_kind kind;
    int node;             /* graph node, or -1 for an inserted layout change */
    int in[GRT_MAX_IN];   /* tensor ids */
    int n_in;
    int res;              /* conv residual tensor, or -1 */
    int out;
    int w, b;             /* value ids: conv weight / bias; BN scale / shift; FC weight (w) */
    int conv2d;           /* conv with kt = 1 over N*T frames (2-D descriptors) */
    int pad_mask;         /* temporal conv: in a padded batch its input's padded frames are zeroed first */
    grt_cu_conv_path path;
    double flops, bytes;
    union {
        grt_cu_copy_desc copy;
        grt_cu_conv_desc conv;
        grt_cu_ew_desc ew;
        grt_cu_pool_desc pool;
        grt_cu_tmax_desc tmax;
        grt_cu_hpp_desc hpp;
        grt_cu_l2_desc l2;
        grt_cu_gemm_desc gemm;
        grt_cu_reduce_desc reduce;
        grt_cu_softmax_desc softmax;
        grt_cu_bcast_desc bcast;
        grt_cu_mask_desc mask;
    } d;
} grt_cu_op;

typedef struct grt_cu_prog {
    grt_cu_tensor *t;
    int nt, cap_t;
    grt_cu_op *op;
    int nop, cap_op;
    int cdt;
    int n_inputs;
    int in_t[GRT_MAX_IN];    /* staging tensor of each graph input */
    int out_t;               /* (S, C, P) float32 row-major, alive to the end */
    int n_seq;               /* rows of the segment table */
    int64_t arena_bytes;     /* activation arena */
    int64_t stage_bytes;     /* input staging */
    int n_convert;           /* layout changes the lowering inserted (not counting inputs/output) */
    int n_pad_mask;          /* convolutions with pad_mask */
} grt_cu_prog;

/* Lowers graph g (normally the fused one) for the shapes in plan p. Convolutions get
 * GRT_CU_CONV_FUSED when cuDNN can fuse their epilogue (ReLU with a bias), else SPLIT;
 * have_cudnn = 0 makes every one DIRECT. Lays out the arena. */
grt_status grt_cu_lower(const grt_graph *g, const grt_plan *p, int cdt, int have_cudnn, grt_cu_prog *out);
void grt_cu_prog_free(grt_cu_prog *pr);
const char *grt_cu_kind_name(grt_cu_kind k);
/* Name of an op for reports: the graph node's, or "layout" for an inserted change. */
const char *grt_cu_op_name(const grt_graph *g, const grt_cu_op *op);

/* Merges adjacent iteration dims of a copy that are contiguous in both tensors and drops
 * size-1 dims (fewer divisions per element); the copy it describes is unchanged. */
void grt_cu_copy_simplify(grt_cu_copy_desc *d);

/* Checks a segment table against the batch shape; writes (b, t0, len) int32 rows, then the
 * end of each item's sequences (n int32: the frame after its last; padded frames follow it):
 * GRT_CU_SEG_INTS(n_seq, n) in all. Returns in *padded whether some item ends before t. */
#define GRT_CU_SEG_INTS(n_seq, n) (3 * (int64_t)(n_seq) + (int64_t)(n))
grt_status grt_cu_segments(const grt_segment *seg, int n_seq, int n, int t, int32_t *rows, int *padded);

/* cuDNN tensor dims and strides of a conv operand in NCHW / NCDHW order as cuDNN wants
 * them (the data itself is NTHWC): nd = 4 for a 2-D conv over N*T frames, else 5.
 * Returns 0 when a dim does not fit in int. */
int grt_cu_conv_tensor_dims(const grt_cu_tensor *t, int conv2d, int *nd, int dims[5], int strides[5]);
/* Filter dims (Co, Ci/g, [kt,] kh, kw) for the NHWC filter format. */
void grt_cu_conv_filter_dims(const grt_value *w, int conv2d, int *nd, int dims[5]);

/* ---- cuDNN algorithm choice -------------------------------------------------------------- */

/* One result of cudnnFind..., in our own terms (algo numbers are cuDNN's, 0..7). */
typedef struct grt_cu_algo_perf {
    int algo;
    int ok;             /* status was success */
    float time_ms;
    size_t memory;
    int deterministic;
    int tensor_math;    /* ran on tensor cores (TF32 for float data) */
} grt_cu_algo_perf;

enum {
    GRT_CU_ALGO_IMPLICIT_GEMM = 0,
    GRT_CU_ALGO_IMPLICIT_PRECOMP_GEMM = 1,
    GRT_CU_ALGO_GEMM = 2,
    GRT_CU_ALGO_DIRECT = 3,
    GRT_CU_ALGO_FFT = 4,
    GRT_CU_ALGO_FFT_TILING = 5,
    GRT_CU_ALGO_WINOGRAD = 6,
    GRT_CU_ALGO_WINOGRAD_NONFUSED = 7,
};

/* The fastest acceptable result (results come sorted by time), or -1. float32 accepts
 * no tensor-core math and no FFT/Winograd (their rounding would eat the 1e-5 budget);
 * deterministic accepts only deterministic algorithms; none may need more than ws_cap. */
int grt_cu_algo_pick(const grt_cu_algo_perf *r, int n, grt_precision prec, int deterministic, size_t ws_cap);
const char *grt_cu_algo_name(int algo);

/* Choices remembered per model and precision, keyed by everything the choice depends on. */
typedef struct grt_cu_algo_key {
    int nd;
    int x[5], w[5];
    int pad[3], stride[3], dil[3];
    int groups, dt;
    int fused;          /* the fused call (its algorithm set may differ) */
} grt_cu_algo_key;

typedef struct grt_cu_algo_entry {
    grt_cu_algo_key key;
    int algo;
    int tensor_math;
    int math;           /* the library's math-type value the algorithm was measured with */
    size_t ws;
    size_t search_ws;   /* the workspace the search could offer (less when the device was short of memory) */
    int fused_ok;       /* -1 untried, 0 refused at the trial run, 1 ran, 2 ran with a float32 bias */
} grt_cu_algo_entry;

typedef struct grt_cu_algo_cache {
    grt_cu_algo_entry *e;
    int n, cap;
} grt_cu_algo_cache;

grt_cu_algo_entry *grt_cu_algo_find(grt_cu_algo_cache *c, const grt_cu_algo_key *k);
grt_cu_algo_entry *grt_cu_algo_add(grt_cu_algo_cache *c, const grt_cu_algo_key *k);
void grt_cu_algo_cache_free(grt_cu_algo_cache *c);
/* 1 when e holds a choice a plan that can offer search_ws bytes to the search may take: one
 * made with at least that much room (a choice made while the device was short of memory is
 * searched again when there is more). */
int grt_cu_algo_usable(const grt_cu_algo_entry *e, size_t search_ws);

#endif /* GRT_CU_PROG_H */
