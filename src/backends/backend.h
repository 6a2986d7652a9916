/*
 * backend.h — the interface every compute backend implements (a struct of function
 * pointers, as ggml's backend interface). A backend sees a graph, never a model: it
 * prepares the graph's weights once per model (layouts, precision), makes a plan per batch
 * shape (all memory allocated there), and runs plans.
 *
 * Life cycle:
 *     void *st;  bk->prepare(graph, &opts, &st);          once per model and backend
 *     void *pl;  bk->plan(st, &batch_shape, &pl);           once per batch shape
 *     bk->run(pl, &args);                                   many times, no allocation
 *     bk->plan_release(pl); bk->release(st);
 *
 * Inputs are float32 (N, C, T, H, W) row-major per graph input; the output is float32
 * (S, C, P) row-major. A backend may keep activations in any layout between the two.
 */
#ifndef GRT_BACKEND_H
#define GRT_BACKEND_H

#include "core/prof.h"
#include "graph/graph.h"

typedef enum grt_precision {
    GRT_PREC_F32 = 0,
    GRT_PREC_TF32,
    GRT_PREC_BF16,
    GRT_PREC_F16,
    GRT_PREC_INT8,
    GRT_PREC_F32_RELAXED, /* fp32 data and arithmetic, faster algorithms with larger rounding error
                             (CPU: Winograd F(4x4, 3x3) also on 3x3x3 kernels, whose fp32 runs F(2x2)); held
                             to the reduced-precision contract */
} grt_precision;

/* A backend that runs a long batch in chunks of frames (cpu-fast, frame-independent models)
 * makes ceil(frames / GRT_BACKEND_CHUNK_FRAMES) chunks; profilers size their buffers by it. */
#define GRT_BACKEND_CHUNK_FRAMES 64

typedef struct grt_backend_opts {
    grt_precision precision;
    int n_threads;     /* 0: all cores */
    int device_index;  /* CUDA device */
    int deterministic; /* conservative level: same bits whatever the threads */
} grt_backend_opts;

typedef struct grt_run_args {
    const float *const *inputs;  /* per graph input, (N, C, T, H, W) */
    const grt_segment *segments; /* n_seq entries: which frames form each sequence */
    float *output;               /* (S, C, P) */
    grt_prof *prof;              /* NULL: no profiling */
} grt_run_args;

typedef struct grt_backend_i {
    const char *name;            /* "cpu-ref", "cpu-fast", "cuda" */
    int pads;                    /* 1: run() zeroes an item's frames after its sequences' end in front of
                                    every temporal convolution, so padded batches are exact */
    grt_status (*prepare)(const grt_graph *g, const grt_backend_opts *o, void **state);
    void (*release)(void *state);
    grt_status (*plan)(void *state, const grt_batch_shape *bs, void **plan);
    void (*plan_release)(void *plan);
    int64_t (*plan_bytes)(const void *plan);  /* device/host memory the plan holds (activations); for a
                                                  shared plan, the bytes its arena must have */
    /* Optional (NULL: not offered): a plan that holds no activation memory of its own, and the
     * call that points it at plan_bytes bytes (64-byte aligned) of the caller's before a run.
     * A session keeps one arena for all its plans this way, not one per batch shape. */
    grt_status (*plan_shared)(void *state, const grt_batch_shape *bs, void **plan);
    void (*plan_bind)(void *plan, void *arena);
    grt_status (*run)(void *plan, const grt_run_args *a);
    /* Describes the kernels chosen for the model (for reports): "oneDNN nChw16c f32, ..." */
    void (*describe)(const void *state, char *buf, size_t len);
    /* Optional (NULL: no): 1 when the prepared state holds its own copy of constant `value` and
     * none of its plans or runs reads the graph's, so the model may release the graph's. */
    int (*owns_constant)(const void *state, int value);
    /* Optional (NULL: not offered): the plan's own host memory (pinned, for a GPU) where input k,
     * numel floats, may be written before run(); run() skips its copy when inputs[k] is it. */
    float *(*input_buffer)(void *plan, int k, size_t numel);
    /* Optional (NULL: run() only): run() in two halves, so that the caller prepares the next
     * batch while the device computes this one. submit() enqueues a run and returns; collect()
     * waits for the oldest submitted run not yet collected and writes its output where its
     * args said (the args' arrays may be reused as soon as submit returns). At most
     * GRT_BACKEND_IN_FLIGHT runs of a plan are submitted and not collected; input_buffer()
     * gives the staging of the next submit. Profiled runs go through run(). After an error
     * of either, the plan is unusable (collect() of the others still returns). */
    grt_status (*submit)(void *plan, const grt_run_args *a);
    grt_status (*collect)(void *plan);
} grt_backend_i;

#define GRT_BACKEND_IN_FLIGHT 2

/* The backends compiled in. Each returns NULL when it cannot run here (the reason in the
 * thread's error text): e.g. the CUDA backend without a driver. */
const grt_backend_i *grt_backend_cpu_ref(void);
const grt_backend_i *grt_backend_cpu_fast(void);
const grt_backend_i *grt_backend_cuda(void);

#endif /* GRT_BACKEND_H */
