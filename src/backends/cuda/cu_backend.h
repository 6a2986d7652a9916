/*
 * cu_backend.h — the CUDA backend's handles, shared by cuda_backend.c (prepare / plan /
 * run) and cuda_conv.c (cuDNN convolutions). The state holds what is per model and
 * precision (weights on the device, opened libraries, remembered algorithm choices) and is
 * shared by every session of the model; a plan holds what is per batch shape (the arena,
 * the stream, the library handles, the captured CUDA graph) and is used by one session.
 *
 * What this file is not: public. Nothing outside src/backends/cuda includes it.
 */
#ifndef GRT_CU_BACKEND_H
#define GRT_CU_BACKEND_H

#include <pthread.h>

#include <cuda_runtime_api.h>

#include "backends/cuda/cu_libs.h"
#include "backends/cuda/cu_prog.h"

typedef struct grt_cu_state {
    const grt_graph *g;          /* the (fused) graph; owned by the model */
    grt_backend_opts opts;
    int device;
    int cdt;                     /* storage type of activations and conv weights */
    char dev_name[128];
    int cc_major, cc_minor, sms;
    grt_cu_libs libs;
    grt_cu_wpack wp;
    void *dweights;              /* the packed weights (wp.bytes) */
    pthread_mutex_t mu;          /* guards algos, report and notes: sessions plan concurrently */
    grt_cu_algo_cache algos;
    char report[512];            /* what the latest plan chose */
    char notes[320];             /* fallbacks so far */
} grt_cu_state;

/* cuDNN objects of one convolution op. */
typedef struct grt_cu_conv_rt {
    int ready;
#ifdef GAITRT_HAVE_CUDNN
    cudnnTensorDescriptor_t xd, yd, bd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnActivationDescriptor_t ad;
#endif
    int algo;
    int tensor_math;
    int math;                    /* cudnnMathType_t */
    int bias_f32;                /* the fused call takes a float32 bias (see grt_cu_conv_next_path) */
    int fused_refused;           /* the trial run moved it off the fused call */
    size_t ws;
    grt_cu_algo_key key;
} grt_cu_conv_rt;

typedef struct grt_cu_plan {
    grt_cu_state *st;
    grt_plan *gp;                /* shapes and FLOP counts of the graph for this batch shape */
    grt_cu_prog pr;
    cudaStream_t stream;
    void *dmem;                  /* one device allocation: arena | staging | segments | cuBLAS workspace */
    char *arena, *stage;
    int32_t *dseg;               /* (S, 3) */
    void *blas_ws;
    size_t blas_ws_bytes;
    void *dws;                   /* cuDNN workspace (sized after the algorithms are chosen) */
    size_t ws_bytes;
    void *hmem;                  /* pinned host memory: per run in flight, staging | segments | output */
    char *hstage[GRT_BACKEND_IN_FLIGHT];
    int32_t *hseg[GRT_BACKEND_IN_FLIGHT];
    float *hout[GRT_BACKEND_IN_FLIGHT];
    float *dst[GRT_BACKEND_IN_FLIGHT];          /* where collect() writes each run's output */
    cudaEvent_t done[GRT_BACKEND_IN_FLIGHT];    /* recorded after each run's download */
    int next, pending;           /* the slot of the next submit; runs submitted, not collected */
    int64_t dbytes, hbytes;
    cublasHandle_t blas;         /* NULL without cuBLAS: FCs run on our kernel */
    int fc_direct;               /* cuBLAS refused a GEMM in the trial run: FCs run on our kernel */
#ifdef GAITRT_HAVE_CUDNN
    cudnnHandle_t dnn;
#endif
    grt_cu_conv_rt *conv;        /* per op (convolutions only) */
    cudaGraph_t graph, graph_pad;
    cudaGraphExec_t exec;        /* NULL: ops are launched one by one */
    cudaGraphExec_t exec_pad;    /* the same with the padded frames zeroed in front of temporal convs
                                    (models with n_pad_mask > 0; used for padded batches) */
    int masking;                 /* ops enqueued now zero padded frames (pad_mask convs) */
    cudaEvent_t *ev;             /* profiling: before each op, and one after the last */
    int nev;
    int bad;                     /* a device error happened: the plan is unusable */
    char notes[320];             /* fallbacks taken while planning */
} grt_cu_plan;

/* cuda_device.c: number of devices the runtime sees (0 with the reason in why when the
 * driver or a device is missing), and the features string "sm_90 tc-fp16 tc-bf16 tc-tf32". */
int grt_cuda_device_count(char *why, size_t len);
void grt_cuda_features(int major, int minor, char *buf, size_t len);

/* Records a fallback (logged, and listed by describe()). */
void grt_cu_note(grt_cu_plan *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

grt_status grt_cu_check(cudaError_t e, const char *what);

/* cuda_conv.c: descriptors and algorithm for conv op j (may change its path to a fallback). */
grt_status grt_cu_conv_setup(grt_cu_plan *pl, int j, void *tmp_ws, size_t tmp_ws_bytes);
/* Enqueues conv op j on the plan's stream. On a cuDNN refusal returns GAITRT_ERR_UNSUPPORTED
 * (nothing enqueued) so that the trial run can fall back; errors of the launch itself are
 * GAITRT_ERR_DEVICE. */
grt_status grt_cu_conv_run(grt_cu_plan *pl, int j);
void grt_cu_conv_release(grt_cu_plan *pl, int j);
/* After cuDNN refused conv op j's path (in the trial run): moves it to the next one — the
 * fused call with a float32 bias, then cuDNN + our epilogue, then our direct kernel — and
 * notes why. Returns 0 when no path is left. */
int grt_cu_conv_next_path(grt_cu_plan *pl, int j, const char *why);
/* Remembers, per model, how the fused call fared for conv op j's shape. */
void grt_cu_conv_remember(grt_cu_plan *pl, int j);

/* Device pointers of tensor t and of a packed weight (byte offset, -1: none). */
static inline void *grt_cu_tptr(const grt_cu_plan *pl, int t) {
    if (t < 0) return NULL;
    const grt_cu_tensor *x = &pl->pr.t[t];
    return (x->role == GRT_CU_ROLE_STAGE ? pl->stage : pl->arena) + x->off;
}
static inline void *grt_cu_wptr(const grt_cu_plan *pl, int64_t off) {
    return off < 0 ? NULL : (char *)pl->st->dweights + off;
}

#endif /* GRT_CU_BACKEND_H */
