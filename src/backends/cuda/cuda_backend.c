/* cuda_backend.c — the CUDA backend: prepare uploads the weights once per model in the
 * compute precision (cuDNN's NHWC/NDHWC filter layout); plan lowers the graph for a batch
 * shape (lower.c), makes one device allocation for the arena, input staging and library
 * workspaces plus pinned host staging, picks an algorithm per convolution, runs the whole
 * forward once op by op (the trial run, where a refused fused call falls back), and captures
 * it as a CUDA graph; run copies the inputs to pinned memory and replays that graph:
 * H2D copy, every kernel, D2H copy of the (S, C, P) output, one synchronisation.
 *
 * What this file is not: a scheduler. One stream per plan, ops in graph order; the speed
 * comes from cuDNN/cuBLAS, tensor-core precisions, fused epilogues, and one graph launch
 * instead of a hundred kernel launches. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cu_backend.h"
#include "backends/cuda/cu_launch.h"
#include "backends/cuda/cuda_bench.h"

#define GRT_CU_BLAS_WS (32u << 20)        /* cuBLAS workspace: what NVIDIA advises for Hopper */
#define GRT_CU_FIND_WS_MAX ((size_t)256 << 20) /* cuDNN algorithms needing more are not considered */

grt_status grt_cu_check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return GRT_OK;
    (void)cudaGetLastError();
    /* not sticky: the session retries a smaller batch, then the CPU */
    if (e == cudaErrorMemoryAllocation)
        return grt_error(GAITRT_ERR_NOMEM, "CUDA %s failed: out of memory ---> HINT: a smaller batch or memory budget, or "
                         "fewer processes on the device (`nvidia-smi`)", what);
    return grt_error(GAITRT_ERR_DEVICE, "CUDA %s failed: %s ---> HINT: check `nvidia-smi`: the device may be out of memory, "
                     "busy or in an error state", what, cudaGetErrorString(e));
}

static void grt__append(char *buf, size_t cap, const char *msg) {
    if (strstr(buf, msg)) return; /* each fallback once */
    size_t k = strlen(buf);
    if (k + 8 >= cap) return;
    snprintf(buf + k, cap - k, "%s%s", k ? "; " : "", msg);
}

void grt_cu_note(grt_cu_plan *pl, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    GRT_LOG_WARN("%s", msg);
    grt__append(pl->notes, sizeof pl->notes, msg);
    pthread_mutex_lock(&pl->st->mu);
    grt__append(pl->st->notes, sizeof pl->st->notes, msg);
    pthread_mutex_unlock(&pl->st->mu);
}

static int grt__cdt(grt_precision p) {
    return p == GRT_PREC_F16 ? GRT_CU_F16 : p == GRT_PREC_BF16 ? GRT_CU_BF16 : GRT_CU_F32;
}

static const char *grt__prec_name(grt_precision p) {
    static const char *n[] = {"f32", "tf32", "bf16", "f16", "int8"};
    return (unsigned)p <= GRT_PREC_INT8 ? n[p] : "?";
}

/* ---- prepare / release ---------------------------------------------------------------- */

static void grt_cu_release(void *state) {
    grt_cu_state *s = state;
    if (!s) return;
    (void)cudaSetDevice(s->device);
    if (s->dweights) (void)cudaFree(s->dweights);
    (void)cudaGetLastError();
    grt_cu_libs_close(&s->libs);
    grt_cu_wpack_free(&s->wp);
    grt_cu_algo_cache_free(&s->algos);
    pthread_mutex_destroy(&s->mu);
    grt_free(s);
}

static grt_status grt_cu_prepare(const grt_graph *g, const grt_backend_opts *o, void **state) {
    *state = NULL;
    grt_backend_opts opts;
    memset(&opts, 0, sizeof opts);
    if (o) opts = *o;
    if ((unsigned)opts.precision > GRT_PREC_F16)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: precision %s is not supported ---> HINT: use f32, tf32, f16 or bf16",
                         grt__prec_name(opts.precision));
    char why[160] = "";
    const int n = grt_cuda_device_count(why, sizeof why);
    if (n <= 0)
        return grt_error(GAITRT_ERR_DEVICE, "no CUDA driver/device: %s ---> HINT: install the NVIDIA driver or use the CPU backend", why);
    if (opts.device_index < 0 || opts.device_index >= n)
        return grt_error(GAITRT_ERR_INVALID_ARG, "CUDA device %d requested but %d present ---> HINT: device indices start at 0",
                         opts.device_index, n);
    grt_cu_state *s = grt_calloc(1, sizeof *s);
    if (!s) return grt_error(GAITRT_ERR_NOMEM, "out of memory preparing the CUDA backend");
    pthread_mutex_init(&s->mu, NULL);
    s->g = g;
    s->opts = opts;
    s->device = opts.device_index;
    s->cdt = grt__cdt(opts.precision);
    grt_status st = grt_cu_check(cudaSetDevice(s->device), "device selection");
    struct cudaDeviceProp p;
    if (st == GRT_OK) st = grt_cu_check(cudaGetDeviceProperties(&p, s->device), "device query");
    if (st != GRT_OK) {
        grt_cu_release(s);
        return st;
    }
    snprintf(s->dev_name, sizeof s->dev_name, "%.127s", p.name);
    s->cc_major = p.major;
    s->cc_minor = p.minor;
    s->sms = p.multiProcessorCount;
    if (s->cdt == GRT_CU_BF16 && p.major < 8) {
        grt_cu_release(s);
        return grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: %s needs compute capability 8.0, %s has %d.%d ---> HINT: use f16 or f32",
                         grt__prec_name(opts.precision), p.name, p.major, p.minor);
    }
    grt_cu_libs_open(&s->libs);
    if (!s->libs.have_cudnn) {
        char msg[256];
        snprintf(msg, sizeof msg, "cuDNN unavailable (%s): convolutions on the direct kernel", s->libs.cudnn_why);
        GRT_LOG_WARN("%s", msg);
        grt__append(s->notes, sizeof s->notes, msg);
    }
    if (!s->libs.have_cublas) {
        char msg[256];
        snprintf(msg, sizeof msg, "cuBLAS unavailable (%s): FCs on the direct kernel", s->libs.cublas_why);
        GRT_LOG_WARN("%s", msg);
        grt__append(s->notes, sizeof s->notes, msg);
    }
    /* weights: packed on the host once, one allocation and one copy to the device */
    if ((st = grt_cu_wpack_plan(g, s->cdt, &s->wp)) != GRT_OK) {
        grt_cu_release(s);
        return st;
    }
    if (s->wp.bytes) {
        void *blob = grt_malloc(s->wp.bytes);
        if (!blob) {
            grt_cu_release(s);
            return grt_error(GAITRT_ERR_NOMEM, "out of memory packing %.1f MiB of weights", (double)s->wp.bytes / 1048576.0);
        }
        st = grt_cu_wpack_fill(g, &s->wp, blob);
        if (st == GRT_OK) st = grt_cu_check(cudaMalloc(&s->dweights, s->wp.bytes), "allocation of the weights");
        if (st == GRT_OK) st = grt_cu_check(cudaMemcpy(s->dweights, blob, s->wp.bytes, cudaMemcpyHostToDevice), "upload of the weights");
        grt_free(blob);
        if (st != GRT_OK) {
            grt_cu_release(s);
            return st;
        }
    }
    snprintf(s->report, sizeof s->report, "cuda %s (sm_%d%d), %s, NTHWC", s->dev_name, s->cc_major, s->cc_minor,
             grt__prec_name(opts.precision));
    *state = s;
    return GRT_OK;
}

/* ---- executing ops ------------------------------------------------------------------------ */

static grt_status grt__fc(grt_cu_plan *pl, const grt_cu_op *op) {
    const grt_cu_gemm_desc *d = &op->d.gemm;
    const float *w = grt_cu_wptr(pl, pl->st->wp.fc_w[op->w]);
    const float *x = grt_cu_tptr(pl, op->in[0]);
    float *y = grt_cu_tptr(pl, op->out);
    if (!pl->blas || pl->fc_direct) return grt_cu_check((cudaError_t)grt_cu_launch_gemm(d, w, x, y, pl->stream), "FC kernel");
    const float one = 1.0f, zero = 0.0f;
    const cublasComputeType_t ct = pl->st->opts.precision == GRT_PREC_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    /* per part p: y_p^T (Co x S) = w_p^T (Co x C) x_p^T (C x S), all column-major views of
     * row-major data (see grt_cu_gemm_desc) */
    cublasStatus_t s = pl->st->libs.blas.GemmStridedBatchedEx(pl->blas, CUBLAS_OP_N, CUBLAS_OP_N, d->m, d->n, d->k, &one, w, CUDA_R_32F,
                                                             d->lda, d->sa, x, CUDA_R_32F, d->ldb, d->sb, &zero, y, CUDA_R_32F, d->ldc,
                                                             d->sc, d->batch, ct, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        return grt_error(grt_cu_blas_nomem(s)                     ? GAITRT_ERR_NOMEM
                         : s == CUBLAS_STATUS_EXECUTION_FAILED ? GAITRT_ERR_DEVICE
                                                               : GAITRT_ERR_UNSUPPORTED,
                         "cuBLAS GEMM: %s",
                         pl->st->libs.blas.GetStatusString(s));
    return GRT_OK;
}

static grt_status grt__run_op(grt_cu_plan *pl, int j) {
    const grt_cu_op *op = &pl->pr.op[j];
    const grt_cu_state *st = pl->st;
    const cudaStream_t s = pl->stream;
    const void *x = op->n_in ? grt_cu_tptr(pl, op->in[0]) : NULL;
    void *y = grt_cu_tptr(pl, op->out);
    int e = 0;
    switch (op->kind) {
    case GRT_CU_OP_COPY: e = grt_cu_launch_copy(&op->d.copy, x, y, s); break;
    case GRT_CU_OP_CONV:
        if (pl->masking && op->pad_mask) {
            const grt_cu_padmask_desc pm = grt_cu_padmask_of(&op->d.conv);
            grt_status ms = grt_cu_check((cudaError_t)grt_cu_launch_padmask(&pm, grt_cu_tptr(pl, op->in[0]), pl->dseg + 3 * pl->pr.n_seq, s),
                                         "padded-frame mask");
            if (ms != GRT_OK) return ms;
        }
        return grt_cu_conv_run(pl, j);
    case GRT_CU_OP_SCALE_SHIFT:
        e = grt_cu_launch_scale_shift(&op->d.ew, x, y, grt_cu_wptr(pl, st->wp.f32[op->w]), grt_cu_wptr(pl, st->wp.f32[op->b]), s);
        break;
    case GRT_CU_OP_ACT: e = grt_cu_launch_act(&op->d.ew, x, y, s); break;
    case GRT_CU_OP_ADD: e = grt_cu_launch_add(&op->d.ew, x, grt_cu_tptr(pl, op->in[1]), y, s); break;
    case GRT_CU_OP_MUL: e = grt_cu_launch_mul(&op->d.ew, x, grt_cu_tptr(pl, op->in[1]), y, s); break;
    case GRT_CU_OP_MAXPOOL:
    case GRT_CU_OP_AVGPOOL: e = grt_cu_launch_pool(&op->d.pool, x, y, s); break;
    case GRT_CU_OP_REDUCE: e = grt_cu_launch_reduce(&op->d.reduce, x, y, s); break;
    case GRT_CU_OP_SOFTMAX: e = grt_cu_launch_softmax(&op->d.softmax, x, y, s); break;
    case GRT_CU_OP_MUL_BCAST: e = grt_cu_launch_mul_bcast(&op->d.bcast, x, grt_cu_tptr(pl, op->in[1]), y, s); break;
    case GRT_CU_OP_LABEL_MASK: e = grt_cu_launch_label_mask(&op->d.mask, x, y, s); break;
    case GRT_CU_OP_TMAX: e = grt_cu_launch_tmax(&op->d.tmax, x, pl->dseg, y, s); break;
    case GRT_CU_OP_HPP: e = grt_cu_launch_hpp(&op->d.hpp, x, y, s); break;
    case GRT_CU_OP_FC: return grt__fc(pl, op);
    case GRT_CU_OP_L2NORM: e = grt_cu_launch_l2norm(&op->d.l2, x, y, s); break;
    default: return grt_error(GAITRT_ERR_INTERNAL, "CUDA backend: op kind %d", (int)op->kind);
    }
    return grt_cu_check((cudaError_t)e, grt_cu_kind_name(op->kind));
}

/* Enqueues the upload of slot's inputs and segment table. */
static grt_status grt__upload(grt_cu_plan *pl, int slot) {
    const grt_cu_prog *pr = &pl->pr;
    grt_status st;
    if (pr->stage_bytes &&
        (st = grt_cu_check(cudaMemcpyAsync(pl->stage, pl->hstage[slot], (size_t)pr->stage_bytes, cudaMemcpyHostToDevice, pl->stream),
                           "input upload")) != GRT_OK)
        return st;
    return grt_cu_check(cudaMemcpyAsync(pl->dseg, pl->hseg[slot], (size_t)GRT_CU_SEG_INTS(pr->n_seq, pl->gp->bs.n) * sizeof(int32_t),
                                        cudaMemcpyHostToDevice, pl->stream),
                        "segment upload");
}

/* Enqueues the download of the output to slot's pinned buffer. */
static grt_status grt__download(grt_cu_plan *pl, int slot) {
    const grt_cu_prog *pr = &pl->pr;
    return grt_cu_check(cudaMemcpyAsync(pl->hout[slot], grt_cu_tptr(pl, pr->out_t), (size_t)pr->t[pr->out_t].numel * sizeof(float),
                                        cudaMemcpyDeviceToHost, pl->stream),
                        "output download");
}

/* Enqueues the ops of the forward pass (device memory to device memory): trial synchronises
 * after every op, checks it, and falls back where a library refuses; prof records an event
 * before each op. */
static grt_status grt__enqueue(grt_cu_plan *pl, int trial, int prof) {
    const grt_cu_prog *pr = &pl->pr;
    const cudaStream_t s = pl->stream;
    grt_status st;
    for (int j = 0; j < pr->nop; j++) {
        grt_cu_op *op = &pl->pr.op[j];
        if (prof && (st = grt_cu_check(cudaEventRecord(pl->ev[j], s), "event record")) != GRT_OK) return st;
        st = grt__run_op(pl, j);
        while (st == GAITRT_ERR_UNSUPPORTED && trial && op->kind == GRT_CU_OP_CONV) {
            char why[256];
            snprintf(why, sizeof why, "%s", gaitrt_last_error());
            if (!grt_cu_conv_next_path(pl, j, why)) break;
            st = grt__run_op(pl, j);
        }
        if (st == GAITRT_ERR_UNSUPPORTED && trial && op->kind == GRT_CU_OP_FC && !pl->fc_direct) {
            grt_cu_note(pl, "FC '%s': cuBLAS refused (%s), direct kernel", grt_cu_op_name(pl->st->g, op), gaitrt_last_error());
            pl->fc_direct = 1;
            st = grt__run_op(pl, j);
        }
        if (st == GRT_OK && trial) st = grt_cu_check(cudaStreamSynchronize(s), "op");
        if (st != GRT_OK) return grt_error_prefix(st, "layer '%s' (%s): ", grt_cu_op_name(pl->st->g, op), grt_cu_kind_name(op->kind));
        if (trial && op->kind == GRT_CU_OP_CONV) grt_cu_conv_remember(pl, j);
    }
    if (prof && (st = grt_cu_check(cudaEventRecord(pl->ev[pr->nop], s), "event record")) != GRT_OK) return st;
    return GRT_OK;
}

/* Enqueues a whole run on slot's host buffers: upload, the graph (or the ops: always when
 * profiling, prof), download. A padded batch of a model with temporal convolutions takes the
 * graph that masks. */
static grt_status grt__forward(grt_cu_plan *pl, int slot, int padded, int prof) {
    grt_status st = grt__upload(pl, slot);
    padded = padded && pl->pr.n_pad_mask > 0;
    cudaGraphExec_t exec = prof ? NULL : padded ? pl->exec_pad : pl->exec;
    pl->masking = padded;
    if (st == GRT_OK) st = exec ? grt_cu_check(cudaGraphLaunch(exec, pl->stream), "graph launch") : grt__enqueue(pl, 0, prof);
    if (st == GRT_OK) st = grt__download(pl, slot);
    return st;
}

/* Records the ops of the forward pass as one CUDA graph (masking: the variant for padded
 * batches); the copies stay outside it, so that each run takes the pinned buffers of its own
 * slot. Failing that, runs keep launching op by op, which is correct, only slower. */
static void grt__capture(grt_cu_plan *pl, int masking, cudaGraph_t *graph, cudaGraphExec_t *exec) {
    cudaError_t e = cudaStreamBeginCapture(pl->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        grt_cu_note(pl, "CUDA graph capture unavailable (%s): ops launched one by one", cudaGetErrorString(e));
        return;
    }
    pl->masking = masking;
    grt_status st = grt__enqueue(pl, 0, 0);
    cudaGraph_t g = NULL;
    e = cudaStreamEndCapture(pl->stream, &g);
    if (st != GRT_OK || e != cudaSuccess || !g) {
        (void)cudaGetLastError();
        grt_cu_note(pl, "CUDA graph capture failed (%s): ops launched one by one",
                    st != GRT_OK ? gaitrt_last_error() : cudaGetErrorString(e));
        if (g) (void)cudaGraphDestroy(g);
        return;
    }
    e = cudaGraphInstantiate(exec, g, 0);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *exec = NULL;
        (void)cudaGraphDestroy(g);
        grt_cu_note(pl, "CUDA graph instantiation failed (%s): ops launched one by one", cudaGetErrorString(e));
        return;
    }
    *graph = g;
}

/* ---- plan ------------------------------------------------------------------------------ */

static void grt_cu_plan_release(void *plan) {
    grt_cu_plan *pl = plan;
    if (!pl) return;
    (void)cudaSetDevice(pl->st->device);
    if (pl->stream) (void)cudaStreamSynchronize(pl->stream);
    if (pl->exec) (void)cudaGraphExecDestroy(pl->exec);
    if (pl->graph) (void)cudaGraphDestroy(pl->graph);
    if (pl->exec_pad) (void)cudaGraphExecDestroy(pl->exec_pad);
    if (pl->graph_pad) (void)cudaGraphDestroy(pl->graph_pad);
    for (int i = 0; i < pl->nev; i++)
        if (pl->ev[i]) (void)cudaEventDestroy(pl->ev[i]);
    for (int i = 0; i < GRT_BACKEND_IN_FLIGHT; i++)
        if (pl->done[i]) (void)cudaEventDestroy(pl->done[i]);
    if (pl->conv)
        for (int j = 0; j < pl->pr.nop; j++)
            if (pl->pr.op[j].kind == GRT_CU_OP_CONV) grt_cu_conv_release(pl, j);
    if (pl->blas) pl->st->libs.blas.Destroy(pl->blas);
#ifdef GAITRT_HAVE_CUDNN
    if (pl->dnn) pl->st->libs.dnn.Destroy(pl->dnn);
#endif
    if (pl->dws) (void)cudaFree(pl->dws);
    if (pl->dmem) (void)cudaFree(pl->dmem);
    if (pl->hmem) (void)cudaFreeHost(pl->hmem);
    if (pl->stream) (void)cudaStreamDestroy(pl->stream);
    (void)cudaGetLastError();
    grt_cu_prog_free(&pl->pr);
    grt_plan_free(pl->gp);
    grt_free(pl->conv);
    grt_free(pl->ev);
    grt_free(pl);
}

static int64_t grt__al(int64_t b) { return (b + 255) / 256 * 256; }

/* One line for describe(): what the plan chose. */
static void grt__summarise(grt_cu_plan *pl) {
    grt_cu_state *s = pl->st;
    int fused = 0, split = 0, direct = 0, algo_n[8] = {0};
    for (int j = 0; j < pl->pr.nop; j++) {
        const grt_cu_op *op = &pl->pr.op[j];
        if (op->kind != GRT_CU_OP_CONV) continue;
        if (op->path == GRT_CU_CONV_FUSED) fused++;
        else if (op->path == GRT_CU_CONV_SPLIT) split++;
        else direct++;
        if (op->path != GRT_CU_CONV_DIRECT && pl->conv[j].algo >= 0 && pl->conv[j].algo < 8) algo_n[pl->conv[j].algo]++;
    }
    char algos[160] = "";
    size_t k = 0;
    for (int a = 0; a < 8 && k < sizeof algos; a++)
        if (algo_n[a]) k += (size_t)snprintf(algos + k, sizeof algos - k, "%s%s x%d", k ? ", " : "", grt_cu_algo_name(a), algo_n[a]);
    pthread_mutex_lock(&s->mu);
    snprintf(s->report, sizeof s->report,
             "cuda %s (sm_%d%d), %s, NTHWC; convs: %d cuDNN fused, %d cuDNN + epilogue, %d direct%s%s%s; FCs: %s; "
             "%d layout changes; %s%s",
             s->dev_name, s->cc_major, s->cc_minor, grt__prec_name(s->opts.precision), fused, split, direct, k ? " (" : "", algos,
             k ? ")" : "", pl->blas && !pl->fc_direct ? "cuBLAS strided-batched GEMM" : "direct kernel", pl->pr.n_convert,
             pl->exec ? "one CUDA graph per run" : "op-by-op launches",
             pl->pr.n_pad_mask ? "; padded batches masked" : "");
    pthread_mutex_unlock(&s->mu);
}

static grt_status grt_cu_plan_make(void *state, const grt_batch_shape *bs, void **out) {
    grt_cu_state *s = state;
    *out = NULL;
    grt_status st = grt_cu_check(cudaSetDevice(s->device), "device selection");
    if (st != GRT_OK) return st;
    grt_cu_plan *pl = grt_calloc(1, sizeof *pl);
    if (!pl) return grt_error(GAITRT_ERR_NOMEM, "out of memory planning for CUDA");
    pl->st = s;
    if ((st = grt_plan_create(s->g, bs, &pl->gp)) != GRT_OK) goto fail;
    if ((st = grt_cu_lower(s->g, pl->gp, s->cdt, s->libs.have_cudnn, &pl->pr)) != GRT_OK) goto fail;
    grt_cu_prog *pr = &pl->pr;
    pl->conv = grt_calloc((size_t)(pr->nop ? pr->nop : 1), sizeof *pl->conv);
    pl->ev = grt_calloc((size_t)pr->nop + 1, sizeof *pl->ev);
    if (!pl->conv || !pl->ev) {
        st = grt_error(GAITRT_ERR_NOMEM, "out of memory planning for CUDA");
        goto fail;
    }
    pl->nev = pr->nop + 1; /* only now: the release walks ev[0 .. nev) */
    if ((st = grt_cu_check(cudaStreamCreateWithFlags(&pl->stream, cudaStreamNonBlocking), "stream creation")) != GRT_OK) goto fail;
    for (int i = 0; i < pl->nev; i++)
        if ((st = grt_cu_check(cudaEventCreate(&pl->ev[i]), "event creation")) != GRT_OK) goto fail;
    for (int i = 0; i < GRT_BACKEND_IN_FLIGHT; i++)
        if ((st = grt_cu_check(cudaEventCreateWithFlags(&pl->done[i], cudaEventDisableTiming), "event creation")) != GRT_OK) goto fail;

    /* memory: one device block, one pinned host block */
    const int64_t out_bytes = pr->t[pr->out_t].numel * 4, seg_bytes = GRT_CU_SEG_INTS(pr->n_seq, bs->n) * 4;
    pl->blas_ws_bytes = s->libs.have_cublas ? GRT_CU_BLAS_WS : 0;
    const int64_t a_b = grt__al(pr->arena_bytes > 0 ? pr->arena_bytes : 256), s_b = grt__al(pr->stage_bytes), g_b = grt__al(seg_bytes);
    pl->dbytes = a_b + s_b + g_b + (int64_t)pl->blas_ws_bytes;
    if ((st = grt_cu_check(cudaMalloc(&pl->dmem, (size_t)pl->dbytes), "allocation of the activation arena")) != GRT_OK) {
        grt_error_prefix(st, "batch of %d x %d frames needs %.1f MiB on the device: ", bs->n, bs->t, (double)pl->dbytes / 1048576.0);
        goto fail;
    }
    pl->arena = pl->dmem;
    pl->stage = pl->arena + a_b;
    pl->dseg = (int32_t *)(pl->stage + s_b);
    pl->blas_ws = pl->blas_ws_bytes ? (char *)pl->dseg + g_b : NULL;
    const int64_t slot_b = s_b + g_b + grt__al(out_bytes);
    pl->hbytes = slot_b * GRT_BACKEND_IN_FLIGHT;
    if ((st = grt_cu_check(cudaHostAlloc(&pl->hmem, (size_t)pl->hbytes, cudaHostAllocDefault), "pinned host allocation")) != GRT_OK) goto fail;
    memset(pl->hmem, 0, (size_t)pl->hbytes); /* touch every page now, not during the first run */
    for (int i = 0; i < GRT_BACKEND_IN_FLIGHT; i++) {
        pl->hstage[i] = (char *)pl->hmem + i * slot_b;
        pl->hseg[i] = (int32_t *)(pl->hstage[i] + s_b);
        pl->hout[i] = (float *)((char *)pl->hseg[i] + g_b);
    }
    /* zeros in the arena: the algorithm search and the trial run read finite numbers */
    if ((st = grt_cu_check(cudaMemsetAsync(pl->dmem, 0, (size_t)pl->dbytes, pl->stream), "arena clear")) != GRT_OK) goto fail;
    for (int q = 0; q < pr->n_seq; q++) { /* a valid segment table for the trial run (slot 0), nothing padded */
        pl->hseg[0][3 * q] = q % bs->n;
        pl->hseg[0][3 * q + 1] = 0;
        pl->hseg[0][3 * q + 2] = bs->t;
    }
    for (int b = 0; b < bs->n; b++) pl->hseg[0][3 * pr->n_seq + b] = bs->t;

    /* libraries: per plan, so that sessions in different threads never share a handle */
    if (s->libs.have_cublas) {
        cublasStatus_t bst = s->libs.blas.Create(&pl->blas);
        if (bst == CUBLAS_STATUS_SUCCESS) bst = s->libs.blas.SetStream(pl->blas, pl->stream);
        if (bst == CUBLAS_STATUS_SUCCESS) bst = s->libs.blas.SetWorkspace(pl->blas, pl->blas_ws, pl->blas_ws_bytes);
        if (bst == CUBLAS_STATUS_SUCCESS) bst = s->libs.blas.SetMathMode(pl->blas, CUBLAS_DEFAULT_MATH);
        if (grt_cu_blas_nomem(bst)) {
            if (pl->blas) s->libs.blas.Destroy(pl->blas);
            pl->blas = NULL;
            st = grt_error(GAITRT_ERR_NOMEM, "cuBLAS handle: %s", s->libs.blas.GetStatusString(bst));
            goto fail;
        }
        if (bst != CUBLAS_STATUS_SUCCESS) {
            grt_cu_note(pl, "cuBLAS handle failed (%s): FCs on the direct kernel", s->libs.blas.GetStatusString(bst));
            if (pl->blas) s->libs.blas.Destroy(pl->blas);
            pl->blas = NULL;
        }
    }
    int dnn_ok = 0;
#ifdef GAITRT_HAVE_CUDNN
    if (s->libs.have_cudnn) {
        cudnnStatus_t dst = s->libs.dnn.Create(&pl->dnn);
        if (dst == CUDNN_STATUS_SUCCESS) dst = s->libs.dnn.SetStream(pl->dnn, pl->stream);
        dnn_ok = dst == CUDNN_STATUS_SUCCESS;
        if (grt_cu_dnn_nomem(dst)) {
            st = grt_error(GAITRT_ERR_NOMEM, "cuDNN handle: %s", s->libs.dnn.GetErrorString(dst));
            goto fail;
        }
        if (!dnn_ok) {
            grt_cu_note(pl, "cuDNN handle failed (%s): convolutions on the direct kernel", s->libs.dnn.GetErrorString(dst));
            if (pl->dnn) s->libs.dnn.Destroy(pl->dnn);
            pl->dnn = NULL;
        }
    }
#endif
    /* convolutions: descriptors and algorithms (the search needs a scratch workspace) */
    int n_lib = 0;
    for (int j = 0; j < pr->nop; j++)
        if (pr->op[j].kind == GRT_CU_OP_CONV) {
            if (!dnn_ok) pr->op[j].path = GRT_CU_CONV_DIRECT;
            n_lib += pr->op[j].path != GRT_CU_CONV_DIRECT;
        }
    if (n_lib) {
        size_t fr = 0, tot = 0, tmp_bytes = GRT_CU_FIND_WS_MAX;
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && fr / 4 < tmp_bytes) tmp_bytes = fr / 4;
        void *tmp = NULL;
        if (tmp_bytes && cudaMalloc(&tmp, tmp_bytes) != cudaSuccess) {
            (void)cudaGetLastError();
            tmp = NULL;
            tmp_bytes = 0;
        }
        for (int j = 0; j < pr->nop && st == GRT_OK; j++)
            if (pr->op[j].kind == GRT_CU_OP_CONV) st = grt_cu_conv_setup(pl, j, tmp, tmp_bytes);
        if (tmp) (void)cudaFree(tmp);
        if (st != GRT_OK) goto fail;
        for (int j = 0; j < pr->nop; j++)
            if (pr->op[j].kind == GRT_CU_OP_CONV && pr->op[j].path != GRT_CU_CONV_DIRECT && pl->conv[j].ws > pl->ws_bytes)
                pl->ws_bytes = pl->conv[j].ws;
        if (pl->ws_bytes && (st = grt_cu_check(cudaMalloc(&pl->dws, pl->ws_bytes), "allocation of the cuDNN workspace")) != GRT_OK)
            goto fail;
    }
    /* the trial run: every op once, checked one by one; then the graph */
    pl->masking = pr->n_pad_mask > 0; /* the mask kernels run too (nothing is padded here) */
    if ((st = grt__upload(pl, 0)) != GRT_OK || (st = grt__enqueue(pl, 1, 0)) != GRT_OK || (st = grt__download(pl, 0)) != GRT_OK)
        goto fail;
    if ((st = grt_cu_check(cudaStreamSynchronize(pl->stream), "trial run")) != GRT_OK) goto fail;
    grt__capture(pl, 0, &pl->graph, &pl->exec);
    if (pl->exec && pr->n_pad_mask > 0) grt__capture(pl, 1, &pl->graph_pad, &pl->exec_pad);
    for (int padded = 0; padded <= (pr->n_pad_mask > 0); padded++)
        if ((padded ? pl->exec_pad : pl->exec) &&
            ((st = grt__forward(pl, 0, padded, 0)) != GRT_OK || (st = grt_cu_check(cudaStreamSynchronize(pl->stream), "graph replay")) != GRT_OK))
            goto fail;
    grt__summarise(pl);
    *out = pl;
    return GRT_OK;
fail:
    grt_cu_plan_release(pl);
    return st;
}

static int64_t grt_cu_plan_bytes(const void *plan) {
    const grt_cu_plan *pl = plan;
    return pl->dbytes + (int64_t)pl->ws_bytes;
}

/* ---- run ---------------------------------------------------------------------------------- */

/* The pinned staging of input k for the next submit: the session packs sequences straight
 * into it (one host copy fewer per run: 22 MB for 64 sequences of 30 silhouettes). */
static float *grt_cu_input_buffer(void *plan, int k, size_t numel) {
    grt_cu_plan *pl = plan;
    if (!pl || pl->bad || pl->pending >= GRT_BACKEND_IN_FLIGHT || k < 0 || k >= pl->pr.n_inputs || pl->pr.in_t[k] < 0) return NULL;
    const grt_cu_tensor *t = &pl->pr.t[pl->pr.in_t[k]];
    return (size_t)t->numel == numel ? (float *)(void *)(pl->hstage[pl->next] + t->off) : NULL;
}

/* Fills slot's pinned segment table and staging from the run's arguments. */
static grt_status grt__stage(grt_cu_plan *pl, int slot, const grt_run_args *a, int *padded) {
    const grt_cu_prog *pr = &pl->pr;
    grt_status st = grt_cu_segments(a->segments, pr->n_seq, pl->gp->bs.n, pl->gp->bs.t, pl->hseg[slot], padded);
    if (st != GRT_OK) return st;
    for (int k = 0; k < pr->n_inputs; k++) {
        if (pr->in_t[k] < 0) continue;
        if (!a->inputs[k]) return grt_error(GAITRT_ERR_INVALID_ARG, "CUDA run: input %d is NULL", k);
        const grt_cu_tensor *t = &pr->t[pr->in_t[k]];
        if ((const char *)a->inputs[k] != pl->hstage[slot] + t->off) /* else packed there by the caller */
            memcpy(pl->hstage[slot] + t->off, a->inputs[k], (size_t)t->numel * sizeof(float));
    }
    return GRT_OK;
}

static grt_status grt__usable(const grt_cu_plan *pl, const grt_run_args *a) {
    if (!pl || !a || !a->inputs || !a->output) return grt_error(GAITRT_ERR_INVALID_ARG, "CUDA run: NULL argument");
    if (pl->bad)
        return grt_error(GAITRT_ERR_BAD_STATE, "CUDA plan unusable after an earlier device error ---> HINT: create a new session");
    return GRT_OK;
}

/* Enqueues a run on the next slot (copies, graph, download, then the slot's event) and
 * returns: the caller packs the next batch while the device computes this one. */
static grt_status grt_cu_submit(void *plan, const grt_run_args *a) {
    grt_cu_plan *pl = plan;
    grt_status st = grt__usable(pl, a);
    if (st != GRT_OK) return st;
    if (pl->pending >= GRT_BACKEND_IN_FLIGHT)
        return grt_error(GAITRT_ERR_BAD_STATE, "CUDA submit: %d runs already in flight on this plan; collect one first", pl->pending);
    const int slot = pl->next;
    int padded = 0;
    if ((st = grt__stage(pl, slot, a, &padded)) != GRT_OK) return st; /* a bad segment table: nothing enqueued, the plan stays usable */
    if ((st = grt_cu_check(cudaSetDevice(pl->st->device), "device selection")) != GRT_OK) return st;
    if ((st = grt__forward(pl, slot, padded, 0)) == GRT_OK) st = grt_cu_check(cudaEventRecord(pl->done[slot], pl->stream), "event record");
    if (st != GRT_OK) {
        pl->bad = 1; /* a failed launch may leave the context unusable: never run this plan again */
        return st;
    }
    pl->dst[slot] = a->output;
    pl->next = (slot + 1) % GRT_BACKEND_IN_FLIGHT;
    pl->pending++;
    return GRT_OK;
}

/* Waits for the oldest run submitted and not collected, and copies its output out. */
static grt_status grt_cu_collect(void *plan) {
    grt_cu_plan *pl = plan;
    if (!pl) return grt_error(GAITRT_ERR_INVALID_ARG, "CUDA collect: NULL plan");
    if (pl->pending <= 0) return grt_error(GAITRT_ERR_BAD_STATE, "CUDA collect: no run in flight");
    const int slot = (pl->next - pl->pending + GRT_BACKEND_IN_FLIGHT) % GRT_BACKEND_IN_FLIGHT;
    pl->pending--;
    (void)cudaSetDevice(pl->st->device);
    grt_status st = grt_cu_check(cudaEventSynchronize(pl->done[slot]), "forward pass");
    if (st != GRT_OK) {
        pl->bad = 1;
        return st;
    }
    memcpy(pl->dst[slot], pl->hout[slot], (size_t)pl->pr.t[pl->pr.out_t].numel * sizeof(float));
    return GRT_OK;
}

static grt_status grt_cu_run(void *plan, const grt_run_args *a) {
    grt_cu_plan *pl = plan;
    grt_status st;
    if (pl && pl->pending) /* its collect would return the older run's output, not this one's */
        return grt_error(GAITRT_ERR_BAD_STATE, "CUDA run: %d submitted runs not collected", pl->pending);
    if (!a || !a->prof) {
        if ((st = grt_cu_submit(plan, a)) != GRT_OK) return st;
        return grt_cu_collect(plan);
    }
    /* profiled: op by op with an event before each, on a plan with nothing in flight */
    if ((st = grt__usable(pl, a)) != GRT_OK) return st;
    const grt_cu_prog *pr = &pl->pr;
    const int slot = pl->next;
    int padded = 0;
    if ((st = grt__stage(pl, slot, a, &padded)) != GRT_OK) return st;
    if ((st = grt_cu_check(cudaSetDevice(pl->st->device), "device selection")) != GRT_OK) return st;
    const double t0 = grt_now_s();
    st = grt__forward(pl, slot, padded, 1);
    grt_status sy = grt_cu_check(cudaStreamSynchronize(pl->stream), "forward pass");
    if (st == GRT_OK) st = sy;
    if (st != GRT_OK) {
        pl->bad = 1;
        return st;
    }
    memcpy(a->output, pl->hout[slot], (size_t)pr->t[pr->out_t].numel * sizeof(float));
    /* per-op device times, placed on the host clock from the start of the enqueue */
    for (int j = 0; j < pr->nop; j++) {
        float ms0 = 0, ms1 = 0;
        if (cudaEventElapsedTime(&ms0, pl->ev[0], pl->ev[j]) != cudaSuccess ||
            cudaEventElapsedTime(&ms1, pl->ev[0], pl->ev[j + 1]) != cudaSuccess) {
            (void)cudaGetLastError();
            break;
        }
        const grt_cu_op *op = &pr->op[j];
        const char *opname = op->node >= 0 ? grt_op_name(pl->st->g->nodes[op->node].op) : "convert";
        grt_prof_add(a->prof, grt_cu_op_name(pl->st->g, op), opname, op->node, t0 + ms0 * 1e-3, t0 + ms1 * 1e-3, op->flops, op->bytes);
    }
    return GRT_OK;
}

static void grt_cu_describe(const void *state, char *buf, size_t len) {
    grt_cu_state *s = (grt_cu_state *)state; /* the lock is the only thing we change */
    pthread_mutex_lock(&s->mu);
    snprintf(buf, len, "%s%s%s", s->report, s->notes[0] ? "; fallbacks: " : "", s->notes);
    pthread_mutex_unlock(&s->mu);
}

/* Every constant packed into the device blob is read from there only (plans take shapes from
 * the graph, and constants' values only for label-mask gammas and GeM exponents, which are
 * not packed), so the model may release the graph's copy. */
static int grt_cu_owns_constant(const void *state, int v) {
    const grt_cu_state *s = state;
    return s != NULL && grt_cu_wpack_holds(&s->wp, v);
}

/* Preparing, planning and releasing take one lock for the process. A plan captures its CUDA
 * graphs from its own stream (thread-local capture mode), and the calls that other threads' plans
 * make meanwhile may synchronise the device (cudaMalloc, cudaFree, cudaMemcpy of the weights, a
 * trial run's wait), which can invalidate a capture in progress; concurrent algorithm searches
 * would also time each other. Plans are made once per batch shape, so serialising them costs
 * little; runs (graph launches, async copies, event waits) take no lock. */
static pthread_mutex_t grt__make_mu = PTHREAD_MUTEX_INITIALIZER;

static grt_status grt_cu_prepare_locked(const grt_graph *g, const grt_backend_opts *o, void **state) {
    pthread_mutex_lock(&grt__make_mu);
    grt_status st = grt_cu_prepare(g, o, state);
    pthread_mutex_unlock(&grt__make_mu);
    return st;
}

static void grt_cu_release_locked(void *state) {
    pthread_mutex_lock(&grt__make_mu);
    grt_cu_release(state);
    pthread_mutex_unlock(&grt__make_mu);
}

static grt_status grt_cu_plan_make_locked(void *state, const grt_batch_shape *bs, void **out) {
    pthread_mutex_lock(&grt__make_mu);
    grt_status st = grt_cu_plan_make(state, bs, out);
    pthread_mutex_unlock(&grt__make_mu);
    return st;
}

static void grt_cu_plan_release_locked(void *plan) {
    pthread_mutex_lock(&grt__make_mu);
    grt_cu_plan_release(plan);
    pthread_mutex_unlock(&grt__make_mu);
}

static const grt_backend_i grt__cuda = {
    .name = "cuda",
    .pads = 1,
    .prepare = grt_cu_prepare_locked,
    .release = grt_cu_release_locked,
    .plan = grt_cu_plan_make_locked,
    .plan_release = grt_cu_plan_release_locked,
    .plan_bytes = grt_cu_plan_bytes,
    .run = grt_cu_run,
    .input_buffer = grt_cu_input_buffer,
    .submit = grt_cu_submit,
    .collect = grt_cu_collect,
    .describe = grt_cu_describe,
    .owns_constant = grt_cu_owns_constant,
};

const grt_backend_i *grt_backend_cuda(void) {
    char why[160] = "";
    if (grt_cuda_device_count(why, sizeof why) <= 0) {
        grt_error(GAITRT_ERR_DEVICE, "no CUDA driver/device: %s ---> HINT: install the NVIDIA driver, check `nvidia-smi`, or "
                  "use the CPU backend", why);
        return NULL;
    }
    return &grt__cuda;
}

/* ---- timing for bench/gpu (cuda_bench.h) ---------------------------------------------------- */

int grt_cuda_plan_uses_graph(const void *plan) { return ((const grt_cu_plan *)plan)->exec != NULL; }

grt_status grt_cuda_plan_time(void *plan, int reps, int flush_l2, float *ms) {
    grt_cu_plan *pl = plan;
    if (pl->bad) return grt_error(GAITRT_ERR_BAD_STATE, "CUDA plan unusable after an earlier device error");
    grt_status st = grt_cu_check(cudaSetDevice(pl->st->device), "device selection");
    if (st != GRT_OK) return st;
    cudaEvent_t a = NULL, b = NULL;
    void *junk = NULL;
    const size_t junk_bytes = (size_t)256 << 20; /* several times any L2 so far */
    if ((st = grt_cu_check(cudaEventCreate(&a), "event creation")) != GRT_OK ||
        (st = grt_cu_check(cudaEventCreate(&b), "event creation")) != GRT_OK)
        goto done;
    if (flush_l2 && cudaMalloc(&junk, junk_bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        junk = NULL;
    }
    for (int r = 0; r < reps && st == GRT_OK; r++) {
        if (junk) st = grt_cu_check(cudaMemsetAsync(junk, r & 0xff, junk_bytes, pl->stream), "L2 flush");
        if (st == GRT_OK) st = grt_cu_check(cudaEventRecord(a, pl->stream), "event record");
        if (st == GRT_OK) st = grt__forward(pl, 0, 0, 0);
        if (st == GRT_OK) st = grt_cu_check(cudaEventRecord(b, pl->stream), "event record");
        if (st == GRT_OK) st = grt_cu_check(cudaEventSynchronize(b), "timed replay");
        if (st == GRT_OK) st = grt_cu_check(cudaEventElapsedTime(&ms[r], a, b), "event time");
    }
done:
    if (junk) (void)cudaFree(junk);
    if (a) (void)cudaEventDestroy(a);
    if (b) (void)cudaEventDestroy(b);
    if (st != GRT_OK) pl->bad = 1;
    return st;
}
