/*
 * graph.h — the layer graph: a flat list of ops over values (activations and constant
 * weights), shape inference for a given batch shape, fusion passes and the memory plan.
 *
 * Conventions (every backend relies on them):
 *  - Activations are logically row-major float32. Sequence data is 5-D (N, C, T, H, W) —
 *    PyTorch's NCDHW with D = frames. A per-frame 2-D convolution is a convolution with
 *    kt = 1: OpenGait's SetBlockWrapper (frames folded into the batch) needs no op of its own.
 *  - Sequences enter as a batch of N items of T frames. Frame-independent models may pack
 *    several sequences of different lengths into one item (N = 1, T = sum of lengths), as
 *    OpenGait does with `seqL`; temporal pooling then reduces each segment separately
 *    (grt_segments). Models with temporal convolutions need one sequence per item; when
 *    grt_graph_pad_safe says so, shorter sequences may be padded with zero frames to the
 *    item's length (backends keep the padding zero in front of temporal convolutions).
 *  - A graph is immutable once built and shared by every session of a model; per-shape
 *    state (shapes, arena offsets) lives in a grt_plan.
 *
 * What this file is not: a general tensor library. Ops are the ones gait models need.
 */
#ifndef GRT_GRAPH_H
#define GRT_GRAPH_H

#include "core/core.h"

typedef enum grt_op_type {
    GRT_OP_INPUT = 0,   /* graph input k: (N, C, T, H, W) */
    GRT_OP_CONV,        /* (N,Ci,T,H,W) -> (N,Co,T',H',W'); weight (Co, Ci/g, kt, kh, kw); optional bias (Co);
                           fused post-ops: + residual value (same shape as output), then activation */
    GRT_OP_BATCHNORM,   /* per channel (axis 1) of any rank >= 2: y = x * scale + shift (scale/shift folded at build) */
    GRT_OP_ACT,         /* relu / leaky relu / sigmoid, elementwise */
    GRT_OP_ADD,         /* a + b (same shapes), then optional activation */
    GRT_OP_MUL,         /* a * b (same shapes) */
    GRT_OP_MAXPOOL,     /* (N,C,T,H,W) max pool with kernel/stride/pad per dim (kt, kh, kw) */
    GRT_OP_TEMPORAL_MAX,/* (N,C,T,H,W) -> (S,C,H,W): max over each sequence's frames (segments) */
    GRT_OP_HPP,         /* (S,C,H,W) -> (S,C,P): horizontal pooling pyramid, mean + max of each bin (or GeM) */
    GRT_OP_SEPFC,       /* (S,C,P) -> (S,Co,P): per-part matmul, weight (P, C, Co) input-major; optional L2-normalised weight */
    GRT_OP_CONCAT,      /* concatenate along an axis */
    GRT_OP_SLICE,       /* take [start, start+len) along an axis */
    GRT_OP_L2NORM,      /* (S,C,P): each part's C-vector divided by max(||x||, eps) */
    GRT_OP_RESHAPE,     /* same data, new shape (row-major reinterpretation); dims resolved at plan time */
    GRT_OP_TRANSPOSE,   /* permute axes */
    /* ops of the model zoo (DeepGaitV2's relatives, GaitSet/GaitPart/GaitGL, XGait) */
    GRT_OP_SOFTMAX,     /* softmax along one axis (SkeletonGait++'s attention fusion) */
    GRT_OP_AVGPOOL,     /* (N,C,T,H,W) average pool, kernel/stride/pad per dim (kt, kh, kw); the zero
                           padding counts in the divisor (PyTorch's count_include_pad=True) */
    GRT_OP_REDUCE,      /* max, mean or mean + max over axes [axis, axis + n_axes), which are removed */
    GRT_OP_MUL_BCAST,   /* a * b, b of the same rank with each dim 1 or a's: b is broadcast */
    GRT_OP_TILE_T,      /* (N,C,T,H,W) -> (N,C,T*r,H,W): when T < min_len the frames are repeated
                           r = ceil(min_len / T) times (GaitGL's rule for short sequences), else r = 1 */
    GRT_OP_LABEL_MASK,  /* elementwise on label maps: y = gamma if (int)x is in the label set, else 1 - gamma */
    GRT_OP_COUNT
} grt_op_type;

typedef enum grt_act {
    GRT_ACT_NONE = 0,
    GRT_ACT_RELU,
    GRT_ACT_LEAKY_RELU, /* alpha */
    GRT_ACT_SIGMOID,
} grt_act;

#define GRT_MAX_IN 4
#define GRT_MAX_BINS 8

typedef struct grt_conv_attr {
    int k[3], s[3], p[3], d[3]; /* (t, h, w) */
    int groups;
    int weight;   /* value id of (Co, Ci/g, kt, kh, kw) */
    int bias;     /* value id of (Co) or -1 */
    int residual; /* value id added to the output before act, or -1 */
    grt_act act;
    float alpha;
} grt_conv_attr;

typedef struct grt_bn_attr {
    int scale, shift; /* value ids of (C): scale = gamma / sqrt(var + eps), shift = beta - mean * scale */
    int mean, var, gamma, beta; /* original statistics (kept for the reference kernel), or -1 */
    float eps;
    grt_act act;      /* fused activation */
    float alpha;
} grt_bn_attr;

typedef struct grt_pool_attr {
    int k[3], s[3], p[3];
} grt_pool_attr;

typedef enum grt_reduce_mode {
    GRT_REDUCE_MAX = 0,
    GRT_REDUCE_MEAN,
    GRT_REDUCE_MEAN_MAX, /* mean + max, as OpenGait's HPP and PartPooling */
} grt_reduce_mode;

typedef struct grt_hpp_attr {
    int n_bins;
    int bins[GRT_MAX_BINS];
    int gem;        /* 1: GeM pooling with learnable p (value id gem_p), 0: mean + max */
    int gem_p;
    float gem_eps;
} grt_hpp_attr;

typedef struct grt_node {
    grt_op_type op;
    char name[80];      /* layer name for reports, e.g. "layer2.0.conv1" */
    int in[GRT_MAX_IN]; /* value ids (activations) */
    int n_in;
    int out;            /* value id */
    union {
        grt_conv_attr conv;
        grt_bn_attr bn;
        struct { grt_act act; float alpha; } act;
        grt_pool_attr pool;
        grt_hpp_attr hpp;
        struct { int weight; int normalize_weight; } sepfc;
        struct { int axis; int start; int len; } slice;   /* also concat's axis */
        struct { float eps; } l2;
        struct { int ndim; int64_t shape[GRT_MAX_DIMS]; } reshape; /* -1: inferred; 0: copy input dim */
        struct { int ndim; int perm[GRT_MAX_DIMS]; } transpose;
        struct { int index; int channels, height, width; } input;
        struct { int axis; } softmax;
        struct { int axis; int n_axes; grt_reduce_mode mode; } reduce;
        struct { int min_len; } tile;
        struct { uint64_t labels; int gamma; } mask; /* labels: bit l set = label l in the set; gamma: value id (1) */
    } a;
} grt_node;

typedef struct grt_value {
    int is_const;      /* 1: weight (data owned by the graph) */
    int ndim;          /* constants: their shape; activations: filled by plan */
    int64_t shape[GRT_MAX_DIMS];
    float *data;       /* constants only */
    char key[128];     /* constants: checkpoint key it came from ("" when derived) */
} grt_value;

/* How frames of the batch map to sequences: sequence s is frames [t0, t0+len) of item b. */
typedef struct grt_segment { int b, t0, len; } grt_segment;

typedef struct grt_graph {
    grt_node *nodes;
    int n_nodes, cap_nodes;
    grt_value *values;
    int n_values, cap_values;
    int n_inputs;
    int output;            /* value id of the embedding (S, C, P) */
    int temporal_mixing;   /* 1: some op mixes frames before temporal pooling */
} grt_graph;

/* ---- building -------------------------------------------------------------------- */

grt_graph *grt_graph_new(void);
void grt_graph_free(grt_graph *g);
/* Adds a constant (copies data). Returns value id or -1 (error set). */
int grt_graph_const(grt_graph *g, const char *key, int ndim, const int64_t *shape, const float *data);
/* The same without a copy: takes data (from grt_malloc_aligned), freeing it on failure. */
int grt_graph_const_take(grt_graph *g, const char *key, int ndim, const int64_t *shape, float *data);
int grt_graph_input(grt_graph *g, int channels, int height, int width);
int grt_graph_conv(grt_graph *g, const char *name, int x, int weight, int bias, const int k[3], const int s[3],
                   const int p[3], int groups);
/* BatchNorm from the checkpoint's four vectors; scale/shift are precomputed in double. */
int grt_graph_batchnorm(grt_graph *g, const char *name, int x, int gamma, int beta, int mean, int var, float eps);
int grt_graph_act(grt_graph *g, const char *name, int x, grt_act act, float alpha);
int grt_graph_add(grt_graph *g, const char *name, int a, int b);
int grt_graph_mul(grt_graph *g, const char *name, int a, int b);
int grt_graph_maxpool(grt_graph *g, const char *name, int x, const int k[3], const int s[3], const int p[3]);
int grt_graph_temporal_max(grt_graph *g, const char *name, int x);
int grt_graph_hpp(grt_graph *g, const char *name, int x, int n_bins, const int *bins);
int grt_graph_gem_hpp(grt_graph *g, const char *name, int x, int n_bins, const int *bins, int p, float eps);
int grt_graph_sepfc(grt_graph *g, const char *name, int x, int weight, int normalize_weight);
int grt_graph_concat(grt_graph *g, const char *name, int n, const int *xs, int axis);
int grt_graph_slice(grt_graph *g, const char *name, int x, int axis, int start, int len);
int grt_graph_l2norm(grt_graph *g, const char *name, int x, float eps);
int grt_graph_reshape(grt_graph *g, const char *name, int x, int ndim, const int64_t *shape);
int grt_graph_transpose(grt_graph *g, const char *name, int x, int ndim, const int *perm);
/* Zoo ops (see grt_op_type). avgpool shares maxpool's attributes; reduce removes the axes it reduces. */
int grt_graph_softmax(grt_graph *g, const char *name, int x, int axis);
int grt_graph_avgpool(grt_graph *g, const char *name, int x, const int k[3], const int s[3], const int p[3]);
int grt_graph_reduce(grt_graph *g, const char *name, int x, int axis, int n_axes, grt_reduce_mode mode);
int grt_graph_mul_bcast(grt_graph *g, const char *name, int a, int b);
int grt_graph_tile_t(grt_graph *g, const char *name, int x, int min_len);
int grt_graph_label_mask(grt_graph *g, const char *name, int x, uint64_t labels, int gamma);
void grt_graph_set_output(grt_graph *g, int v);

/* 1 when sequences of different lengths may share a batch item padded with zero frames:
 * before temporal pooling, every op that mixes frames is a convolution with temporal stride
 * 1 and "same" zero padding (a backend re-zeroes the padded frames of its input, see
 * grt_pad_mask_frames), every other op is per frame, and temporal pooling reads each
 * sequence's own frames. Strided or pooled time (GaitGL), temporal pooling with -inf
 * padding (GaitPart) and reshapes of time give 0: such models batch equal lengths only. */
int grt_graph_pad_safe(const grt_graph *g);

/* Zeroes frames [end_b, T) of every item b of a (N, Cb, T, inner) activation, where end_b is
 * the end of the sequences in item b (segments); elem is the element size in bytes. Called
 * by backends before a temporal convolution when a batch is padded. */
void grt_pad_mask_frames(void *x, int64_t n, int64_t cb, int64_t t, int64_t inner, size_t elem, const grt_segment *seg,
                         int n_seq);
/* The frame after the last of item b's sequences. */
int64_t grt_pad_item_end(const grt_segment *seg, int n_seq, int64_t b);
/* 1 when some item of the batch has frames after its sequences' end. */
int grt_pad_any(const grt_segment *seg, int n_seq, int n_items, int t);

/* Number of parameters in the constants (after build, before fusion). */
int64_t grt_graph_param_count(const grt_graph *g);
/* The values node n reads: its inputs and the constants its attributes name (weights, bias,
 * residual, BatchNorm vectors, ...); returns how many were written to refs. */
#define GRT_NODE_MAX_REFS (GRT_MAX_IN + 6)
int grt_node_reads(const grt_node *n, int refs[GRT_NODE_MAX_REFS]);

/* ---- passes ---------------------------------------------------------------------- */

/* Returns a new graph with BatchNorm folded into the preceding convolution (bias), and
 * activations / residual adds fused into the convolution or BN that produces them. The
 * result computes the same function up to rounding. */
grt_graph *grt_graph_fuse(const grt_graph *g);
/* The same, moving g's constants into the result instead of copying them: g keeps its nodes
 * and shapes, its constants' data become NULL (as after releasing them), also on failure. The
 * model's memory at load then peaks at one copy of the weights plus the largest layer's. */
grt_graph *grt_graph_fuse_move(grt_graph *g);

/* ---- shapes and the memory plan ---------------------------------------------------- */

typedef struct grt_batch_shape {
    int n;        /* items */
    int t;        /* frames per item */
    int n_seq;    /* sequences (segments) */
} grt_batch_shape;

typedef struct grt_vplan {
    int ndim;
    int64_t shape[GRT_MAX_DIMS];
    int64_t numel;
    int64_t offset;     /* in floats, into the arena (activations); -1 for constants */
    int first, last;    /* node indices producing / last reading it */
} grt_vplan;

typedef struct grt_plan {
    const grt_graph *g;
    grt_batch_shape bs;
    grt_vplan *v;       /* per value */
    int64_t arena_floats;
    double *node_flops; /* per node (2 * MACs for convs/FCs) */
    double *node_bytes; /* per node: bytes read + written (activations and weights) */
    double total_flops;
} grt_plan;

/* Infers every shape for the batch shape and lays activations out in one arena, reusing
 * the space of values whose last reader has run. In-place ops (act, bn) share their input's
 * space when that input dies there. */
grt_status grt_plan_create(const grt_graph *g, const grt_batch_shape *bs, grt_plan **out);
void grt_plan_free(grt_plan *p);

const char *grt_op_name(grt_op_type op);

/* grt_pad_mask_frames for an fp32 (N, C, T, H, W) value laid out row-major as the plan says. */
void grt_pad_mask_value(float *x, const grt_vplan *xv, const grt_segment *seg, int n_seq);

#endif /* GRT_GRAPH_H */
