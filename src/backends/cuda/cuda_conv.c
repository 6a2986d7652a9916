/* cuda_conv.c — convolutions through cuDNN's legacy API: NHWC (2-D over N*T frames) or
 * NDHWC (3-D) descriptors over our NTHWC tensors, one algorithm per convolution chosen by
 * cudnnFindConvolutionForwardAlgorithmEx at plan time (remembered per model), and either the
 * fused cudnnConvolutionBiasActivationForward (bias + residual + ReLU in one call) or
 * cudnnConvolutionForward followed by our epilogue kernel. Accumulation is float32 in every
 * precision (the "pseudo-half" configurations for float16 / bfloat16).
 *
 * What this file is not: the cuDNN 9 graph API. The legacy calls cover what gait models
 * need (ReLU epilogues, residual adds), are capturable into CUDA graphs, and take a tenth of
 * the code; other activations run on our epilogue kernel after the library convolution. */
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cu_backend.h"
#include "backends/cuda/cu_launch.h"

#ifdef GAITRT_HAVE_CUDNN

static cudnnDataType_t grt__dnn_dt(int dt) {
    return dt == GRT_CU_F16 ? CUDNN_DATA_HALF : dt == GRT_CU_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

static grt_status grt__dnn(const grt_cu_plan *pl, cudnnStatus_t s, const char *layer, const char *what) {
    if (s == CUDNN_STATUS_SUCCESS) return GRT_OK;
    return grt_error(grt_cu_dnn_nomem(s) ? GAITRT_ERR_NOMEM : GAITRT_ERR_DEVICE, "cuDNN %s failed for layer '%s': %s", what,
                     layer, pl->st->libs.dnn.GetErrorString(s));
}

/* Re-describes conv op j's bias as float32 for the fused call. */
static grt_status grt__bias_f32(grt_cu_plan *pl, int j) {
    grt_cu_conv_rt *rt = &pl->conv[j];
    const grt_cu_op *op = &pl->pr.op[j];
    int nd = op->conv2d ? 4 : 5, co = (int)op->d.conv.Co;
    int bd[5] = {1, co, 1, 1, 1}, bs[5] = {co, 1, 1, 1, 1};
    if (pl->st->libs.dnn.SetTensorNdDescriptor(rt->bd, CUDNN_DATA_FLOAT, nd, bd, bs) != CUDNN_STATUS_SUCCESS)
        return GAITRT_ERR_UNSUPPORTED;
    rt->bias_f32 = 1;
    return GRT_OK;
}

/* The math mode we ask cuDNN for: tensor cores only where the precision allows them. */
static cudnnMathType_t grt__math(grt_precision p) {
    return p == GRT_PREC_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

grt_status grt_cu_conv_setup(grt_cu_plan *pl, int j, void *tmp_ws, size_t tmp_ws_bytes) {
    grt_cu_state *st = pl->st;
    const grt_cu_dnn_api *D = &st->libs.dnn;
    grt_cu_op *op = &pl->pr.op[j];
    grt_cu_conv_rt *rt = &pl->conv[j];
    const grt_node *node = &st->g->nodes[op->node];
    const grt_conv_attr *a = &node->a.conv;
    const grt_value *w = &st->g->values[a->weight];
    memset(rt, 0, sizeof *rt);
    if (op->path == GRT_CU_CONV_DIRECT) return GRT_OK;
    grt_status s = GRT_OK;
    const int dt = pl->pr.cdt;
    int nd, xd[5], xs[5], yd[5], ys[5], wd[5], wnd;
    if (!grt_cu_conv_tensor_dims(&pl->pr.t[op->in[0]], op->conv2d, &nd, xd, xs) ||
        !grt_cu_conv_tensor_dims(&pl->pr.t[op->out], op->conv2d, &nd, yd, ys)) {
        grt_cu_note(pl, "conv '%s': tensors beyond cuDNN's 32-bit sizes, direct kernel", node->name);
        op->path = GRT_CU_CONV_DIRECT;
        return GRT_OK;
    }
    grt_cu_conv_filter_dims(w, op->conv2d, &wnd, wd);
    const int sp = nd - 2; /* spatial dims */
    int pad[3], str[3], dil[3];
    for (int k = 0; k < sp; k++) {
        const int src = op->conv2d ? k + 1 : k; /* 2-D: (h, w) of (t, h, w) */
        pad[k] = a->p[src];
        str[k] = a->s[src];
        dil[k] = a->d[src];
    }
    rt->ready = 1; /* from here on, release destroys whatever was created */
    if ((s = grt__dnn(pl, D->CreateTensorDescriptor(&rt->xd), node->name, "descriptor")) != GRT_OK) return s;
    if ((s = grt__dnn(pl, D->CreateTensorDescriptor(&rt->yd), node->name, "descriptor")) != GRT_OK) return s;
    if ((s = grt__dnn(pl, D->CreateTensorDescriptor(&rt->bd), node->name, "descriptor")) != GRT_OK) return s;
    if ((s = grt__dnn(pl, D->CreateFilterDescriptor(&rt->wd), node->name, "descriptor")) != GRT_OK) return s;
    if ((s = grt__dnn(pl, D->CreateConvolutionDescriptor(&rt->cd), node->name, "descriptor")) != GRT_OK) return s;
    if ((s = grt__dnn(pl, D->CreateActivationDescriptor(&rt->ad), node->name, "descriptor")) != GRT_OK) return s;
    /* bias (1, Co, 1, 1[, 1]): in the output's type for the fused call */
    int bd[5] = {1, (int)w->shape[0], 1, 1, 1}, bs[5] = {(int)w->shape[0], 1, 1, 1, 1};
    if ((s = grt__dnn(pl, D->SetTensorNdDescriptor(rt->xd, grt__dnn_dt(dt), nd, xd, xs), node->name, "input descriptor")) != GRT_OK ||
        (s = grt__dnn(pl, D->SetTensorNdDescriptor(rt->yd, grt__dnn_dt(dt), nd, yd, ys), node->name, "output descriptor")) != GRT_OK ||
        (s = grt__dnn(pl, D->SetTensorNdDescriptor(rt->bd, grt__dnn_dt(dt), nd, bd, bs), node->name, "bias descriptor")) != GRT_OK ||
        (s = grt__dnn(pl, D->SetFilterNdDescriptor(rt->wd, grt__dnn_dt(dt), CUDNN_TENSOR_NHWC, wnd, wd), node->name, "filter descriptor")) != GRT_OK ||
        (s = grt__dnn(pl, D->SetConvolutionNdDescriptor(rt->cd, sp, pad, str, dil, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                      node->name, "convolution descriptor")) != GRT_OK ||
        (s = grt__dnn(pl, D->SetConvolutionGroupCount(rt->cd, a->groups > 0 ? a->groups : 1), node->name, "group count")) != GRT_OK ||
        (s = grt__dnn(pl, D->SetConvolutionMathType(rt->cd, grt__math(st->opts.precision)), node->name, "math type")) != GRT_OK ||
        (s = grt__dnn(pl, D->SetActivationDescriptor(rt->ad, a->act == GRT_ACT_RELU ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
                                                     CUDNN_NOT_PROPAGATE_NAN, 0.0), node->name, "activation")) != GRT_OK) {
        /* a configuration cuDNN does not describe (e.g. bfloat16 on an old version): ours */
        grt_cu_note(pl, "conv '%s': cuDNN refused the descriptors (%s), direct kernel", node->name, gaitrt_last_error());
        op->path = GRT_CU_CONV_DIRECT;
        return GRT_OK;
    }
    int od[5] = {0};
    if (D->GetConvolutionNdForwardOutputDim(rt->cd, rt->xd, rt->wd, nd, od) != CUDNN_STATUS_SUCCESS ||
        memcmp(od, yd, sizeof(int) * (size_t)nd) != 0) {
        /* a description we got wrong must not cost correctness: the direct kernel reads our layout */
        grt_cu_note(pl, "conv '%s': cuDNN's output shape (%d, %d, %d, %d) differs from the graph's (%d, %d, %d, %d), direct kernel",
                    node->name, od[0], od[1], od[2], od[3], yd[0], yd[1], yd[2], yd[3]);
        op->path = GRT_CU_CONV_DIRECT;
        return GRT_OK;
    }

    /* the algorithm: remembered, or measured now */
    grt_cu_algo_key *key = &rt->key;
    memset(key, 0, sizeof *key);
    key->nd = nd;
    memcpy(key->x, xd, sizeof(int) * (size_t)nd);
    memcpy(key->w, wd, sizeof(int) * (size_t)wnd);
    memcpy(key->pad, pad, sizeof(int) * (size_t)sp);
    memcpy(key->stride, str, sizeof(int) * (size_t)sp);
    memcpy(key->dil, dil, sizeof(int) * (size_t)sp);
    key->groups = a->groups;
    key->dt = dt;
    int have = 0, fused_ok = -1;
    pthread_mutex_lock(&st->mu);
    grt_cu_algo_entry *e = grt_cu_algo_find(&st->algos, key);
    if (grt_cu_algo_usable(e, tmp_ws_bytes)) {
        rt->algo = e->algo;
        rt->tensor_math = e->tensor_math;
        rt->math = e->math;
        rt->ws = e->ws;
        fused_ok = e->fused_ok;
        have = 1;
    }
    pthread_mutex_unlock(&st->mu);
    if (!have) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int got = 0;
        cudnnStatus_t fs = D->FindConvolutionForwardAlgorithmEx(pl->dnn, rt->xd, grt_cu_tptr(pl, op->in[0]), rt->wd,
                                                                grt_cu_wptr(pl, st->wp.conv_w[a->weight]), rt->cd, rt->yd,
                                                                grt_cu_tptr(pl, op->out), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                                                perf, tmp_ws, tmp_ws_bytes);
        if (grt_cu_dnn_nomem(fs))
            return grt_error(GAITRT_ERR_NOMEM, "cuDNN's algorithm search for layer '%s': %s", node->name, D->GetErrorString(fs));
        if (fs != CUDNN_STATUS_SUCCESS) {
            grt_cu_note(pl, "conv '%s': cuDNN found no algorithm (%s), direct kernel", node->name, D->GetErrorString(fs));
            op->path = GRT_CU_CONV_DIRECT;
            return GRT_OK;
        }
        grt_cu_algo_perf r[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        for (int i = 0; i < got; i++) {
            r[i].algo = (int)perf[i].algo;
            r[i].ok = perf[i].status == CUDNN_STATUS_SUCCESS;
            r[i].time_ms = perf[i].time;
            r[i].memory = perf[i].memory;
            r[i].deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
            r[i].tensor_math = perf[i].mathType == CUDNN_TENSOR_OP_MATH || perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
        }
        int pick = grt_cu_algo_pick(r, got, st->opts.precision, st->opts.deterministic, tmp_ws_bytes);
        if (pick < 0) {
            grt_cu_note(pl, "conv '%s': no cuDNN algorithm fits %s%s, direct kernel", node->name,
                        st->opts.precision == GRT_PREC_F32 ? "strict float32" : "the precision",
                        st->opts.deterministic ? " deterministically" : "");
            op->path = GRT_CU_CONV_DIRECT;
            return GRT_OK;
        }
        rt->algo = r[pick].algo;
        rt->tensor_math = r[pick].tensor_math;
        rt->ws = r[pick].memory;
        rt->math = (int)perf[pick].mathType;
        pthread_mutex_lock(&st->mu);
        e = grt_cu_algo_add(&st->algos, key);
        if (e) {
            if (e->algo != rt->algo) e->fused_ok = -1; /* learnt with another algorithm */
            e->algo = rt->algo;
            e->tensor_math = rt->tensor_math;
            e->math = rt->math;
            e->ws = rt->ws;
            e->search_ws = tmp_ws_bytes;
        }
        pthread_mutex_unlock(&st->mu);
    }
    /* cuDNN's advice: run the algorithm with the math type it was measured with */
    if ((s = grt__dnn(pl, D->SetConvolutionMathType(rt->cd, (cudnnMathType_t)rt->math), node->name, "math type")) != GRT_OK) return s;
    /* what an earlier plan learnt about the fused call for this shape */
    if (op->path == GRT_CU_CONV_FUSED && fused_ok == 0) op->path = GRT_CU_CONV_SPLIT;
    if (op->path == GRT_CU_CONV_FUSED && fused_ok == 2 && grt__bias_f32(pl, j) != GRT_OK) op->path = GRT_CU_CONV_SPLIT;
    return GRT_OK;
}

int grt_cu_conv_next_path(grt_cu_plan *pl, int j, const char *why) {
    grt_cu_op *op = &pl->pr.op[j];
    grt_cu_conv_rt *rt = &pl->conv[j];
    const char *layer = grt_cu_op_name(pl->st->g, op);
    if (op->path == GRT_CU_CONV_FUSED && !rt->bias_f32 && pl->pr.cdt != GRT_CU_F32 && grt__bias_f32(pl, j) == GRT_OK) {
        GRT_LOG_DEBUG("conv '%s': fused call refused with a %s bias (%s), trying a float32 bias", layer,
                      grt_cu_dt_name(pl->pr.cdt), why);
        return 1;
    }
    if (op->path == GRT_CU_CONV_FUSED) {
        grt_cu_note(pl, "conv '%s': cuDNN's fused call refused (%s), conv + epilogue kernel", layer, why);
        op->path = GRT_CU_CONV_SPLIT;
        rt->fused_refused = 1;
        grt_cu_conv_remember(pl, j);
        return 1;
    }
    if (op->path == GRT_CU_CONV_SPLIT) {
        grt_cu_note(pl, "conv '%s': cuDNN refused (%s), direct kernel", layer, why);
        op->path = GRT_CU_CONV_DIRECT;
        return 1;
    }
    return 0;
}

void grt_cu_conv_remember(grt_cu_plan *pl, int j) {
    const grt_cu_op *op = &pl->pr.op[j];
    const grt_cu_conv_rt *rt = &pl->conv[j];
    int v;
    if (!rt->ready) return;
    if (op->path == GRT_CU_CONV_FUSED)
        v = rt->bias_f32 ? 2 : 1;
    else if (rt->fused_refused)
        v = 0;
    else
        return; /* never meant to be fused: says nothing about the fused call */
    pthread_mutex_lock(&pl->st->mu);
    grt_cu_algo_entry *e = grt_cu_algo_find(&pl->st->algos, &rt->key);
    if (e) e->fused_ok = v;
    pthread_mutex_unlock(&pl->st->mu);
}

/* A failed launch is a device error; a refusal (not supported, bad parameter, a kernel
 * that did not compile) lets the trial run fall back to the next path. */
static grt_status grt__dnn_run_status(cudnnStatus_t s) {
    if (grt_cu_dnn_nomem(s)) return GAITRT_ERR_NOMEM;
    return CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_EXECUTION_FAILED ? GAITRT_ERR_DEVICE : GAITRT_ERR_UNSUPPORTED;
}

grt_status grt_cu_conv_run(grt_cu_plan *pl, int j) {
    grt_cu_state *st = pl->st;
    const grt_cu_op *op = &pl->pr.op[j];
    const grt_cu_conv_rt *rt = &pl->conv[j];
    const void *x = grt_cu_tptr(pl, op->in[0]), *res = grt_cu_tptr(pl, op->res);
    void *y = grt_cu_tptr(pl, op->out);
    const void *w = grt_cu_wptr(pl, st->wp.conv_w[op->w]);
    const float *bias = op->b >= 0 ? (const float *)grt_cu_wptr(pl, st->wp.f32[op->b]) : NULL;
    const grt_cu_conv_desc *cd = &op->d.conv;
    grt_cu_ew_desc ep = {cd->n, cd->Co, 1, cd->ydt, cd->act, cd->alpha};
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t s;
    switch (op->path) {
    case GRT_CU_CONV_FUSED:
        /* y = relu(conv(x) + z * alpha2 + bias); without a residual z is y itself, scaled by 0 */
        s = st->libs.dnn.ConvolutionBiasActivationForward(pl->dnn, &one, rt->xd, x, rt->wd, w, rt->cd, (cudnnConvolutionFwdAlgo_t)rt->algo,
                                                          pl->dws, pl->ws_bytes, res ? &one : &zero, rt->yd, res ? res : y, rt->bd,
                                                          grt_cu_wptr(pl, rt->bias_f32 ? st->wp.f32[op->b] : st->wp.bias_c[op->b]),
                                                          rt->ad, rt->yd, y);
        if (s != CUDNN_STATUS_SUCCESS)
            return grt_error(grt__dnn_run_status(s), "cuDNN fused conv: %s", st->libs.dnn.GetErrorString(s));
        return GRT_OK;
    case GRT_CU_CONV_SPLIT:
        s = st->libs.dnn.ConvolutionForward(pl->dnn, &one, rt->xd, x, rt->wd, w, rt->cd, (cudnnConvolutionFwdAlgo_t)rt->algo, pl->dws,
                                            pl->ws_bytes, &zero, rt->yd, y);
        if (s != CUDNN_STATUS_SUCCESS)
            return grt_error(grt__dnn_run_status(s), "cuDNN conv: %s", st->libs.dnn.GetErrorString(s));
        if (bias || res || cd->act != GRT_CU_ACT_NONE)
            return grt_cu_check((cudaError_t)grt_cu_launch_epilogue(&ep, y, bias, res, pl->stream), "epilogue kernel");
        return GRT_OK;
    default:
        return grt_cu_check((cudaError_t)grt_cu_launch_conv(cd, x, w, bias, res, y, pl->stream), "direct conv kernel");
    }
}

void grt_cu_conv_release(grt_cu_plan *pl, int j) {
    grt_cu_conv_rt *rt = &pl->conv[j];
    if (!rt->ready) return;
    const grt_cu_dnn_api *D = &pl->st->libs.dnn;
    if (rt->xd) D->DestroyTensorDescriptor(rt->xd);
    if (rt->yd) D->DestroyTensorDescriptor(rt->yd);
    if (rt->bd) D->DestroyTensorDescriptor(rt->bd);
    if (rt->wd) D->DestroyFilterDescriptor(rt->wd);
    if (rt->cd) D->DestroyConvolutionDescriptor(rt->cd);
    if (rt->ad) D->DestroyActivationDescriptor(rt->ad);
    memset(rt, 0, sizeof *rt);
}

#else /* built without cuDNN headers: every convolution runs on the direct kernel */

grt_status grt_cu_conv_setup(grt_cu_plan *pl, int j, void *tmp_ws, size_t tmp_ws_bytes) {
    (void)tmp_ws;
    (void)tmp_ws_bytes;
    memset(&pl->conv[j], 0, sizeof pl->conv[j]);
    pl->pr.op[j].path = GRT_CU_CONV_DIRECT;
    return GRT_OK;
}

grt_status grt_cu_conv_run(grt_cu_plan *pl, int j) {
    const grt_cu_op *op = &pl->pr.op[j];
    const grt_cu_state *st = pl->st;
    const float *bias = op->b >= 0 ? (const float *)grt_cu_wptr(pl, st->wp.f32[op->b]) : NULL;
    return grt_cu_check((cudaError_t)grt_cu_launch_conv(&op->d.conv, grt_cu_tptr(pl, op->in[0]),
                                                        grt_cu_wptr(pl, st->wp.conv_w[op->w]), bias,
                                                        grt_cu_tptr(pl, op->res), grt_cu_tptr(pl, op->out), pl->stream),
                        "direct conv kernel");
}

void grt_cu_conv_release(grt_cu_plan *pl, int j) { (void)pl, (void)j; }

int grt_cu_conv_next_path(grt_cu_plan *pl, int j, const char *why) {
    (void)pl, (void)j, (void)why;
    return 0;
}

void grt_cu_conv_remember(grt_cu_plan *pl, int j) { (void)pl, (void)j; }

#endif
