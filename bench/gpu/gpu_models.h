/*
 * gpu_models.h — graphs shaped like the gait backbones the CUDA backend must run, built
 * directly with the graph API and deterministic random weights: the ResNet-style backbone
 * shared by GaitBase and DeepGaitV2 (2-D, pseudo-3-D and 3-D blocks), with OpenGait's head
 * (temporal max, horizontal pyramid, separate FCs), and a small graph that uses every op of
 * graph.h at least once. Used by the GPU benchmark (full sizes) and the host tests (tiny
 * sizes).
 *
 * What this file is not: the model zoo. The real model families (src/models) build graphs
 * from checkpoints; these are for timing and parity, where only the shapes matter.
 *
 * Usage:
 *     grt_bb_cfg c = grt_bb_deepgaitv2("p3d");          // or grt_bb_gaitbase()
 *     grt_graph *g = grt_bb_build(&c, 7);               // unfused; grt_graph_fuse(g) for backends
 */
#ifndef GRT_GPU_MODELS_H
#define GRT_GPU_MODELS_H

#include "graph/graph.h"

typedef enum grt_bb_mode { GRT_BB_2D = 0, GRT_BB_P3D, GRT_BB_3D } grt_bb_mode;

typedef struct grt_bb_cfg {
    grt_bb_mode mode;    /* blocks of layers 2..4 (layer 1 is always 2-D, as in DeepGaitV2) */
    int in_ch, height, width;
    int channels[4];
    int layers[4];       /* blocks per layer */
    int strides[4];      /* spatial stride of each layer's first block */
    int n_bins, bins[4];
    int fc_out;          /* separate FCs: channels[3] -> fc_out per part */
} grt_bb_cfg;

/* GaitBase (OpenGait Baseline + ResNet9): channels [64,128,256,512], one block per layer,
 * strides [1,2,2,1], 16 bins, FCs 512 -> 256, input 1 x 64 x 44. */
grt_bb_cfg grt_bb_gaitbase(void);
/* DeepGaitV2 [1,4,4,1] in mode "2d", "p3d" or "3d" (Gait3D's configuration). */
grt_bb_cfg grt_bb_deepgaitv2(const char *mode);
/* Builds the unfused graph (BatchNorm as separate nodes, as a checkpoint would give). */
grt_graph *grt_bb_build(const grt_bb_cfg *c, uint64_t seed);
/* A small graph using every op of graph.h (label mask, frame tiling, 3-D and grouped convs,
 * BN, all activations, add, mul, max and average pool, softmax, reduce, broadcast mul,
 * concat, slice, transpose, reshape, temporal max, HPP, GeM, separate FCs with normalised
 * weights, L2 norm). Input 1 x 12 x 8; needs one sequence per item. */
grt_graph *grt_bb_all_ops(uint64_t seed);
/* (n, c, t, h, w) silhouette-like frames of items first .. first+n-1: a moving ellipse with
 * a few flipped pixels, binary like real silhouettes and never all zeros. An item's frames
 * depend only on (seed, its index), so a batch's item i equals a lone sequence i. */
float *grt_bb_silhouettes(int first, int n, int c, int t, int h, int w, uint64_t seed);
/* Multiply-adds of the graph's convolutions and FCs for the batch shape (for napkin math). */
double grt_bb_macs(const grt_graph *g, const grt_batch_shape *bs);

#endif
