/* cpu_ref.c — the reference CPU backend: interprets the graph node by node with the plain
 * C kernels of this folder, activations in one arena laid out by the graph's memory plan.
 * It is the conservative level and the ground truth for every other backend. */
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"
#include "ref_kernels.h"

#ifdef GAITRT_HAVE_OPENMP
#include <omp.h>
#endif

typedef struct grt_ref_state {
    const grt_graph *g;
    int nt;
} grt_ref_state;

typedef struct grt_ref_plan {
    const grt_ref_state *st;
    grt_plan *p;
    float *arena;
    int own;          /* 1: the arena is the plan's (else the caller's, see plan_bind) */
} grt_ref_plan;

static int grt__threads(int requested) {
    if (requested > 0) return requested;
#ifdef GAITRT_HAVE_OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

static grt_status grt_ref_prepare(const grt_graph *g, const grt_backend_opts *o, void **state) {
    grt_ref_state *s = grt_calloc(1, sizeof *s);
    if (!s) return grt_error(GAITRT_ERR_NOMEM, "out of memory preparing the reference backend");
    s->g = g;
    s->nt = grt__threads(o ? o->n_threads : 0);
    *state = s;
    return GRT_OK;
}

static void grt_ref_release(void *state) { grt_free(state); }

static grt_status grt__ref_plan(void *state, const grt_batch_shape *bs, int own, void **plan) {
    grt_ref_state *s = state;
    grt_ref_plan *rp = grt_calloc(1, sizeof *rp);
    if (!rp) return grt_error(GAITRT_ERR_NOMEM, "out of memory planning");
    rp->st = s;
    rp->own = own;
    grt_status st = grt_plan_create(s->g, bs, &rp->p);
    if (st != GRT_OK) {
        grt_free(rp);
        return st;
    }
    if (!own) {
        *plan = rp;
        return GRT_OK;
    }
    size_t bytes;
    if (!grt_mul_size((size_t)rp->p->arena_floats, sizeof(float), &bytes) || !(rp->arena = grt_malloc_aligned(bytes))) {
        double mib = (double)rp->p->arena_floats * 4.0 / 1048576.0;
        grt_plan_free(rp->p);
        grt_free(rp);
        return grt_error(GAITRT_ERR_NOMEM, "out of memory: the activation arena needs %.1f MiB for a batch of %d x %d frames",
                         mib, bs->n, bs->t);
    }
    memset(rp->arena, 0, bytes); /* touch every page now, not during the first run */
    *plan = rp;
    return GRT_OK;
}

static grt_status grt_ref_plan_make(void *state, const grt_batch_shape *bs, void **plan) {
    return grt__ref_plan(state, bs, 1, plan);
}
static grt_status grt_ref_plan_shared(void *state, const grt_batch_shape *bs, void **plan) {
    return grt__ref_plan(state, bs, 0, plan);
}
static void grt_ref_plan_bind(void *plan, void *arena) { ((grt_ref_plan *)plan)->arena = arena; }

static void grt_ref_plan_release(void *plan) {
    grt_ref_plan *rp = plan;
    if (!rp) return;
    if (rp->own) grt_free_aligned(rp->arena);
    grt_plan_free(rp->p);
    grt_free(rp);
}

static int64_t grt_ref_plan_bytes(const void *plan) {
    const grt_ref_plan *rp = plan;
    return rp->p->arena_floats * 4;
}

grt_status grt_ref_node(const grt_graph *g, const grt_plan *p, int i, const float *const *ins, const float *res, float *y,
                        const grt_segment *segments, int nt) {
    const grt_node *n = &g->nodes[i];
    const grt_vplan *o = &p->v[n->out];
    const grt_vplan *x = n->n_in ? &p->v[n->in[0]] : NULL;
    const float *xd = n->n_in ? ins[0] : NULL;
    switch (n->op) {
    case GRT_OP_CONV: {
        const grt_conv_attr *c = &n->a.conv;
        grt_ref_conv(xd, x->shape, g->values[c->weight].data, g->values[c->weight].shape,
                     c->bias >= 0 ? g->values[c->bias].data : NULL, res, y, o->shape, c, nt);
        break;
    }
    case GRT_OP_BATCHNORM: {
        int64_t inner = 1;
        for (int d = 2; d < x->ndim; d++) inner *= x->shape[d];
        grt_ref_scale_shift(xd, y, x->shape[0], x->shape[1], inner, g->values[n->a.bn.scale].data,
                            g->values[n->a.bn.shift].data, n->a.bn.act, n->a.bn.alpha, nt);
        break;
    }
    case GRT_OP_ACT:
        grt_ref_act(xd, y, o->numel, n->a.act.act, n->a.act.alpha, nt);
        break;
    case GRT_OP_ADD:
        grt_ref_add(xd, ins[1], y, o->numel, nt);
        break;
    case GRT_OP_MUL:
        grt_ref_mul(xd, ins[1], y, o->numel, nt);
        break;
    case GRT_OP_MAXPOOL:
        grt_ref_maxpool(xd, x->shape, y, o->shape, &n->a.pool, nt);
        break;
    case GRT_OP_TEMPORAL_MAX:
        grt_ref_temporal_max(xd, x->shape, y, segments, p->bs.n_seq, nt);
        break;
    case GRT_OP_HPP:
        grt_ref_hpp(xd, x->shape, y, &n->a.hpp, n->a.hpp.gem ? g->values[n->a.hpp.gem_p].data[0] : 0.0f, nt);
        break;
    case GRT_OP_SEPFC:
        grt_ref_sepfc(xd, x->shape, g->values[n->a.sepfc.weight].data, o->shape[1], n->a.sepfc.normalize_weight, y, nt);
        break;
    case GRT_OP_CONCAT: {
        int64_t shapes[GRT_MAX_IN][GRT_MAX_DIMS];
        for (int k = 0; k < n->n_in; k++) memcpy(shapes[k], p->v[n->in[k]].shape, sizeof shapes[k]);
        grt_ref_concat(ins, (const int64_t(*)[GRT_MAX_DIMS])shapes, n->n_in, o->ndim, n->a.slice.axis, y);
        break;
    }
    case GRT_OP_SLICE:
        grt_ref_slice(xd, x->shape, x->ndim, n->a.slice.axis, n->a.slice.start, n->a.slice.len, y);
        break;
    case GRT_OP_L2NORM:
        grt_ref_l2norm(xd, y, o->shape[0], o->shape[1], o->shape[2], n->a.l2.eps, nt);
        break;
    case GRT_OP_RESHAPE:
        if (y != xd) memmove(y, xd, (size_t)o->numel * sizeof(float));
        break;
    case GRT_OP_TRANSPOSE:
        grt_ref_transpose(xd, x->shape, x->ndim, n->a.transpose.perm, y);
        break;
    case GRT_OP_SOFTMAX: {
        int64_t outer = 1, inner = 1;
        const int ax = n->a.softmax.axis;
        for (int d = 0; d < ax; d++) outer *= x->shape[d];
        for (int d = ax + 1; d < x->ndim; d++) inner *= x->shape[d];
        grt_ref_softmax(xd, outer, x->shape[ax], inner, y, nt);
        break;
    }
    case GRT_OP_AVGPOOL:
        grt_ref_avgpool(xd, x->shape, y, o->shape, &n->a.pool, nt);
        break;
    case GRT_OP_REDUCE: {
        int64_t outer = 1, len = 1, inner = 1;
        const int ax = n->a.reduce.axis, na = n->a.reduce.n_axes;
        for (int d = 0; d < ax; d++) outer *= x->shape[d];
        for (int d = ax; d < ax + na; d++) len *= x->shape[d];
        for (int d = ax + na; d < x->ndim; d++) inner *= x->shape[d];
        grt_ref_reduce(xd, outer, len, inner, n->a.reduce.mode, y, nt);
        break;
    }
    case GRT_OP_MUL_BCAST:
        grt_ref_mul_bcast(xd, x->shape, ins[1], p->v[n->in[1]].shape, x->ndim, y, nt);
        break;
    case GRT_OP_TILE_T:
        grt_ref_tile_t(xd, x->shape, o->shape[2], y);
        break;
    case GRT_OP_LABEL_MASK:
        grt_ref_label_mask(xd, o->numel, n->a.mask.labels, g->values[n->a.mask.gamma].data[0], y, nt);
        break;
    default:
        return grt_error(GAITRT_ERR_INTERNAL, "reference backend: op %s not implemented", grt_op_name(n->op));
    }
    return GRT_OK;
}

static grt_status grt_ref_run(void *plan, const grt_run_args *a) {
    grt_ref_plan *rp = plan;
    const grt_graph *g = rp->st->g;
    const grt_plan *p = rp->p;
    const int nt = rp->st->nt;
    if (!rp->arena) return grt_error(GAITRT_ERR_INTERNAL, "reference backend: a shared plan ran before it was bound to memory");
#define VAL(id_) (g->values[id_].is_const ? g->values[id_].data : rp->arena + p->v[id_].offset)
    const int padded = g->temporal_mixing && grt_pad_any(a->segments, p->bs.n_seq, p->bs.n, p->bs.t);
    for (int i = 0; i < g->n_nodes; i++) {
        const grt_node *n = &g->nodes[i];
        const grt_vplan *o = &p->v[n->out];
        float *y = rp->arena + o->offset;
        double t0 = a->prof ? grt_now_s() : 0;
        if (n->op == GRT_OP_INPUT) {
            memcpy(y, a->inputs[n->a.input.index], (size_t)o->numel * sizeof(float));
        } else {
            const float *ins[GRT_MAX_IN];
            for (int k = 0; k < n->n_in; k++) ins[k] = VAL(n->in[k]);
            const float *res = n->op == GRT_OP_CONV && n->a.conv.residual >= 0 ? VAL(n->a.conv.residual) : NULL;
            if (padded && n->op == GRT_OP_CONV && n->a.conv.k[0] > 1 && !g->values[n->in[0]].is_const)
                /* padded frames read as the zeros of the convolution's own padding; only the
                   padding changes, so later readers of this value see the same real frames */
                grt_pad_mask_value(rp->arena + p->v[n->in[0]].offset, &p->v[n->in[0]], a->segments, p->bs.n_seq);
            grt_status st = grt_ref_node(g, p, i, ins, res, y, a->segments, nt);
            if (st != GRT_OK) return st;
        }
        if (a->prof) grt_prof_add(a->prof, n->name, grt_op_name(n->op), i, t0, grt_now_s(), p->node_flops[i], p->node_bytes[i]);
    }
    memcpy(a->output, rp->arena + p->v[g->output].offset, (size_t)p->v[g->output].numel * sizeof(float));
#undef VAL
    return GRT_OK;
}

static void grt_ref_describe(const void *state, char *buf, size_t len) {
    const grt_ref_state *s = state;
    snprintf(buf, len, "reference C kernels, fp32, %d threads", s->nt);
}

static const grt_backend_i grt__ref = {
    .name = "cpu-ref",
    .pads = 1,
    .prepare = grt_ref_prepare,
    .release = grt_ref_release,
    .plan = grt_ref_plan_make,
    .plan_release = grt_ref_plan_release,
    .plan_bytes = grt_ref_plan_bytes,
    .plan_shared = grt_ref_plan_shared,
    .plan_bind = grt_ref_plan_bind,
    .run = grt_ref_run,
    .describe = grt_ref_describe,
};

const grt_backend_i *grt_backend_cpu_ref(void) { return &grt__ref; }
