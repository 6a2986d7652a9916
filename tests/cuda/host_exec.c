/* host_exec.c — the CUDA backend's program run on the host (see host_exec.h). */
#include <stdlib.h>
#include <string.h>

#include "host_exec.h"

typedef struct hx {
    const grt_cu_prog *pr;
    const grt_cu_wpack *wp;
    char *arena, *stage, *blob;
    int32_t *seg;
} hx;

static void *tp(const hx *h, int t) {
    if (t < 0) return NULL;
    const grt_cu_tensor *x = &h->pr->t[t];
    return (x->role == GRT_CU_ROLE_STAGE ? h->stage : h->arena) + x->off;
}

static void *wpt(const hx *h, int64_t off) { return off < 0 ? NULL : h->blob + off; }

/* cuBLAS's column-major strided-batched GEMM, written out: C_p = A_p B_p */
static void colmajor_gemm(const grt_cu_gemm_desc *d, const float *a, const float *b, float *c) {
    for (int p = 0; p < d->batch; p++)
        for (int j = 0; j < d->n; j++)
            for (int i = 0; i < d->m; i++) {
                double acc = 0;
                for (int l = 0; l < d->k; l++)
                    acc += (double)a[p * d->sa + i + (int64_t)l * d->lda] * (double)b[p * d->sb + l + (int64_t)j * d->ldb];
                c[p * d->sc + i + (int64_t)j * d->ldc] = (float)acc;
            }
}

static void run_op(const hx *h, const grt_cu_op *op, int gemm_kernel) {
    const grt_cu_wpack *wp = h->wp;
    const void *x = op->n_in ? tp(h, op->in[0]) : NULL;
    void *y = tp(h, op->out);
    switch (op->kind) {
    case GRT_CU_OP_COPY:
        for (int64_t i = 0; i < op->d.copy.n; i++) grt_cu_copy_at(&op->d.copy, x, y, i);
        break;
    case GRT_CU_OP_CONV: {
        const grt_cu_conv_desc *d = &op->d.conv;
        const void *w = wpt(h, wp->conv_w[op->w]);
        const float *bias = op->b >= 0 ? wpt(h, wp->f32[op->b]) : NULL;
        const void *res = tp(h, op->res);
        if (op->path == GRT_CU_CONV_SPLIT) {
            /* the library writes the bare convolution, our epilogue kernel finishes it */
            grt_cu_conv_desc bare = *d;
            bare.act = GRT_CU_ACT_NONE;
            for (int64_t i = 0; i < d->n; i++) grt_cu_conv_at(&bare, x, w, NULL, NULL, y, i);
            grt_cu_ew_desc ep = {d->n, d->Co, 1, d->ydt, d->act, d->alpha};
            for (int64_t i = 0; i < d->n; i++) grt_cu_epilogue_at(&ep, y, bias, res, i);
        } else {
            for (int64_t i = 0; i < d->n; i++) grt_cu_conv_at(d, x, w, bias, res, y, i);
        }
        break;
    }
    case GRT_CU_OP_SCALE_SHIFT:
        for (int64_t i = 0; i < op->d.ew.n; i++)
            grt_cu_scale_shift_at(&op->d.ew, x, y, wpt(h, wp->f32[op->w]), wpt(h, wp->f32[op->b]), i);
        break;
    case GRT_CU_OP_ACT:
        for (int64_t i = 0; i < op->d.ew.n; i++) grt_cu_act_at(&op->d.ew, x, y, i);
        break;
    case GRT_CU_OP_ADD:
        for (int64_t i = 0; i < op->d.ew.n; i++) grt_cu_add_at(&op->d.ew, x, tp(h, op->in[1]), y, i);
        break;
    case GRT_CU_OP_MUL:
        for (int64_t i = 0; i < op->d.ew.n; i++) grt_cu_mul_at(&op->d.ew, x, tp(h, op->in[1]), y, i);
        break;
    case GRT_CU_OP_MAXPOOL:
    case GRT_CU_OP_AVGPOOL:
        for (int64_t i = 0; i < op->d.pool.n; i++) grt_cu_pool_at(&op->d.pool, x, y, i);
        break;
    case GRT_CU_OP_REDUCE:
        for (int64_t i = 0; i < op->d.reduce.n; i++) grt_cu_reduce_at(&op->d.reduce, x, y, i);
        break;
    case GRT_CU_OP_SOFTMAX:
        for (int64_t i = 0; i < op->d.softmax.n; i++) grt_cu_softmax_at(&op->d.softmax, x, y, i);
        break;
    case GRT_CU_OP_MUL_BCAST:
        for (int64_t i = 0; i < op->d.bcast.n; i++) grt_cu_mul_bcast_at(&op->d.bcast, x, tp(h, op->in[1]), y, i);
        break;
    case GRT_CU_OP_LABEL_MASK:
        for (int64_t i = 0; i < op->d.mask.n; i++) grt_cu_label_mask_at(&op->d.mask, x, y, i);
        break;
    case GRT_CU_OP_TMAX:
        for (int64_t i = 0; i < op->d.tmax.n; i++) grt_cu_tmax_at(&op->d.tmax, x, h->seg, y, i);
        break;
    case GRT_CU_OP_HPP:
        for (int64_t i = 0; i < op->d.hpp.n; i++) grt_cu_hpp_at(&op->d.hpp, x, y, i);
        break;
    case GRT_CU_OP_FC: {
        const grt_cu_gemm_desc *d = &op->d.gemm;
        const float *w = wpt(h, wp->fc_w[op->w]);
        if (gemm_kernel) {
            const int64_t n = (int64_t)d->m * d->n * d->batch;
            for (int64_t i = 0; i < n; i++) grt_cu_gemm_at(d, w, x, y, i);
        } else {
            colmajor_gemm(d, w, x, y);
        }
        break;
    }
    case GRT_CU_OP_L2NORM:
        for (int64_t i = 0; i < op->d.l2.n; i++) grt_cu_l2_at(&op->d.l2, x, y, i);
        break;
    default:
        break;
    }
}

grt_status grt_hx_run(const grt_graph *g, const grt_batch_shape *bs, const grt_hx_opts *o, const float *const *inputs,
                      const grt_segment *seg, float *out, grt_cu_prog *prog) {
    grt_plan *p = NULL;
    grt_cu_prog pr;
    grt_cu_wpack wp;
    memset(&pr, 0, sizeof pr);
    memset(&wp, 0, sizeof wp);
    hx h = {&pr, &wp, NULL, NULL, NULL, NULL};
    grt_status st = grt_plan_create(g, bs, &p);
    if (st == GRT_OK) st = grt_cu_lower(g, p, o->cdt, o->have_cudnn, &pr);
    if (st == GRT_OK) st = grt_cu_wpack_plan(g, o->cdt, &wp);
    if (st == GRT_OK) {
        h.arena = malloc((size_t)pr.arena_bytes + 1);
        h.stage = malloc((size_t)pr.stage_bytes + 1);
        h.blob = malloc(wp.bytes + 1);
        h.seg = malloc((size_t)GRT_CU_SEG_INTS(bs->n_seq, bs->n) * sizeof(int32_t));
        if (!h.arena || !h.stage || !h.blob || !h.seg) st = grt_error(GAITRT_ERR_NOMEM, "host exec: out of memory");
    }
    int padded = 0;
    if (st == GRT_OK) st = grt_cu_segments(seg, bs->n_seq, bs->n, bs->t, h.seg, &padded);
    if (st == GRT_OK) {
        memset(h.arena, 0xff, (size_t)pr.arena_bytes); /* NaN in every storage type */
        st = grt_cu_wpack_fill(g, &wp, h.blob);
    }
    if (st == GRT_OK) {
        for (int k = 0; k < pr.n_inputs; k++) {
            const grt_cu_tensor *t = &pr.t[pr.in_t[k]];
            memcpy(h.stage + t->off, inputs[k], (size_t)t->numel * sizeof(float));
        }
        for (int j = 0; j < pr.nop; j++) {
            const grt_cu_op *op = &pr.op[j];
            if (padded && op->pad_mask) { /* as the backend does in front of a temporal convolution */
                const grt_cu_padmask_desc pm = grt_cu_padmask_of(&op->d.conv);
                for (int64_t i = 0; i < pm.n; i++) grt_cu_padmask_at(&pm, tp(&h, op->in[0]), h.seg + 3 * bs->n_seq, i);
            }
            run_op(&h, op, o->gemm_kernel);
        }
        memcpy(out, tp(&h, pr.out_t), (size_t)pr.t[pr.out_t].numel * sizeof(float));
    }
    free(h.arena);
    free(h.stage);
    free(h.blob);
    free(h.seg);
    grt_cu_wpack_free(&wp);
    grt_plan_free(p);
    if (prog && st == GRT_OK)
        *prog = pr;
    else
        grt_cu_prog_free(&pr);
    return st;
}
