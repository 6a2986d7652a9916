/* lower.c — lowering a graph to the CUDA backend's device program for one batch shape:
 * each graph value gets a device tensor in the layout its producer writes (NTHWC for
 * sequence data, (P, S, C) after pooling), layout and type changes are inserted only where
 * a consumer needs another one, reshape and transpose become views, and the tensors are
 * laid out in one arena by lifetime, reusing the space of dead ones and running elementwise
 * ops in place. Plain C: no CUDA calls, so the tests run it anywhere.
 *
 * What this file is not: an optimiser. It makes no choices about algorithms (cuda_conv.c
 * does, at plan time on the device) and fuses nothing the fusion pass has not fused. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cu_prog.h"

_Static_assert((int)GRT_ACT_NONE == GRT_CU_ACT_NONE && (int)GRT_ACT_RELU == GRT_CU_ACT_RELU &&
                   (int)GRT_ACT_LEAKY_RELU == GRT_CU_ACT_LEAKY && (int)GRT_ACT_SIGMOID == GRT_CU_ACT_SIGMOID,
               "cu_elem.h activation codes must equal grt_act");
_Static_assert((int)GRT_REDUCE_MAX == GRT_CU_REDUCE_MAX && (int)GRT_REDUCE_MEAN == GRT_CU_REDUCE_MEAN &&
                   (int)GRT_REDUCE_MEAN_MAX == GRT_CU_REDUCE_MEAN_MAX,
               "cu_elem.h reduction codes must equal grt_reduce_mode");
_Static_assert(GRT_CU_MAXD == GRT_MAX_DIMS && GRT_CU_MAXBINS == GRT_MAX_BINS, "cu_elem.h limits must equal graph.h's");

const int grt_cu_perm_cl5[5] = {0, 2, 3, 4, 1};
const int grt_cu_perm_cl4[4] = {0, 2, 3, 1};
const int grt_cu_perm_pm3[3] = {2, 0, 1};
static const int grt__ident[GRT_MAX_DIMS] = {0, 1, 2, 3, 4, 5, 6, 7};

#define GRT_CU_ALIGN 256 /* bytes: every tensor starts on a 256-byte boundary (cuDNN and vector loads like it) */

size_t grt_cu_dt_size(int dt) { return dt == GRT_CU_F32 ? 4 : 2; }

const char *grt_cu_dt_name(int dt) { return dt == GRT_CU_F16 ? "f16" : dt == GRT_CU_BF16 ? "bf16" : "f32"; }

void grt_cu_strides(const grt_cu_tensor *t, int64_t *st) {
    int64_t s = 1;
    for (int k = t->ndim - 1; k >= 0; k--) {
        st[t->perm[k]] = s;
        s *= t->shape[t->perm[k]];
    }
}

int grt_cu_perm_is(const grt_cu_tensor *t, const int *perm) {
    for (int k = 0; k < t->ndim; k++)
        if (t->perm[k] != perm[k]) return 0;
    return 1;
}

int grt_cu_layout_equiv(const grt_cu_tensor *t, const int *perm) {
    grt_cu_tensor u = *t;
    memcpy(u.perm, perm, sizeof(int) * (size_t)t->ndim);
    int64_t a[GRT_MAX_DIMS], b[GRT_MAX_DIMS];
    grt_cu_strides(t, a);
    grt_cu_strides(&u, b);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] > 1 && a[d] != b[d]) return 0;
    return 1;
}

int grt_cu_reshape_view(const grt_cu_tensor *x, int ynd, const int64_t *yshape, int *yperm) {
    /* x's dims of size > 1 in logical order, and in storage order */
    int lx[GRT_MAX_DIMS], px[GRT_MAX_DIMS], ly[GRT_MAX_DIMS], nx = 0, np = 0, ny = 0;
    for (int d = 0; d < x->ndim; d++)
        if (x->shape[d] > 1) lx[nx++] = d;
    for (int k = 0; k < x->ndim; k++)
        if (x->shape[x->perm[k]] > 1) px[np++] = x->perm[k];
    for (int d = 0; d < ynd; d++)
        if (yshape[d] > 1) ly[ny++] = d;
    /* groups of consecutive logical dims with equal products: x's [gx0[g], gx0[g+1]) <-> y's [gy0[g], gy0[g+1]) */
    int gx0[GRT_MAX_DIMS + 1], gy0[GRT_MAX_DIMS + 1], ng = 0, i = 0, j = 0;
    while (i < nx && j < ny) {
        gx0[ng] = i;
        gy0[ng] = j;
        int64_t a = x->shape[lx[i++]], b = yshape[ly[j++]];
        while (a != b) {
            if (a < b && i < nx)
                a *= x->shape[lx[i++]];
            else if (b < a && j < ny)
                b *= yshape[ly[j++]];
            else
                return 0;
        }
        ng++;
    }
    if (i != nx || j != ny) return 0;
    gx0[ng] = nx;
    gy0[ng] = ny;
    /* walk x's storage: each group must appear whole and in order; emit y's dims for it */
    int k = 0, ky = 0;
    while (k < np) {
        int g = -1;
        for (int q = 0; q < ng; q++)
            if (lx[gx0[q]] == px[k]) g = q;
        if (g < 0) return 0; /* storage enters this group in its middle */
        for (int q = gx0[g]; q < gx0[g + 1]; q++, k++)
            if (k >= np || px[k] != lx[q]) return 0;
        for (int q = gy0[g]; q < gy0[g + 1]; q++) yperm[ky++] = ly[q];
    }
    for (int d = 0; d < ynd; d++) /* size-1 dims anywhere: we put them last */
        if (yshape[d] <= 1) yperm[ky++] = d;
    return ky == ynd;
}

static const char *grt__kind_names[GRT_CU_OP_COUNT] = {"copy",    "conv",     "scale_shift", "act",      "add",
                                                       "mul",     "maxpool",  "temporal_max", "hpp",     "sepfc",
                                                       "l2norm",  "avgpool",  "reduce",      "softmax", "mul_bcast",
                                                       "label_mask"};

const char *grt_cu_kind_name(grt_cu_kind k) { return (unsigned)k < GRT_CU_OP_COUNT ? grt__kind_names[k] : "?"; }

const char *grt_cu_op_name(const grt_graph *g, const grt_cu_op *op) {
    return op->node >= 0 ? g->nodes[op->node].name : "layout";
}

void grt_cu_prog_free(grt_cu_prog *pr) {
    if (!pr) return;
    grt_free(pr->t);
    grt_free(pr->op);
    memset(pr, 0, sizeof *pr);
}

/* ---- building ------------------------------------------------------------------------- */

typedef struct grt__conv_memo { int src, dst; } grt__conv_memo;

typedef struct grt__lctx {
    const grt_graph *g;
    const grt_plan *p;
    grt_cu_prog *pr;
    int have_cudnn;
    int *home;            /* per graph value: the tensor holding it */
    grt__conv_memo *memo; /* layout changes made so far (a value converted once serves every reader) */
    int nmemo, capmemo;
    grt_status st;
} grt__lctx;

static int grt__new_tensor(grt__lctx *c, int ndim, const int64_t *shape, const int *perm, int dt, int value) {
    grt_cu_prog *pr = c->pr;
    if (pr->nt == pr->cap_t) {
        int cap = pr->cap_t ? 2 * pr->cap_t : 64;
        grt_cu_tensor *t = grt_realloc(pr->t, (size_t)cap * sizeof *t);
        if (!t) {
            c->st = grt_error(GAITRT_ERR_NOMEM, "out of memory lowering the graph for CUDA");
            return -1;
        }
        pr->t = t;
        pr->cap_t = cap;
    }
    int id = pr->nt++;
    grt_cu_tensor *t = &pr->t[id];
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->perm[d] = perm[d];
        t->numel *= shape[d];
    }
    t->dt = dt;
    t->role = GRT_CU_ROLE_ARENA;
    t->root = id;
    t->first = t->last = -1;
    t->value = value;
    return id;
}

/* Appends an op; returns its index (the array may move: never keep pointers across calls). */
static int grt__new_op(grt__lctx *c, grt_cu_kind kind, int node) {
    grt_cu_prog *pr = c->pr;
    if (pr->nop == pr->cap_op) {
        int cap = pr->cap_op ? 2 * pr->cap_op : 64;
        grt_cu_op *o = grt_realloc(pr->op, (size_t)cap * sizeof *o);
        if (!o) {
            c->st = grt_error(GAITRT_ERR_NOMEM, "out of memory lowering the graph for CUDA");
            return -1;
        }
        pr->op = o;
        pr->cap_op = cap;
    }
    int id = pr->nop++;
    grt_cu_op *o = &pr->op[id];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->node = node;
    o->res = -1;
    o->out = -1;
    o->w = o->b = -1;
    if (node >= 0) o->flops = c->p->node_flops[node];
    return id;
}

void grt_cu_copy_simplify(grt_cu_copy_desc *d) {
    int k = 0;
    for (int i = 0; i < d->nd; i++) { /* drop size-1 dims */
        if (d->size[i] == 1) continue;
        d->size[k] = d->size[i];
        d->ss[k] = d->ss[i];
        d->ds[k] = d->ds[i];
        k++;
    }
    d->nd = k;
    k = 0;
    for (int i = 1; i < d->nd; i++) { /* merge dim i into dim k when contiguous in both */
        if (d->ss[k] == d->ss[i] * d->size[i] && d->ds[k] == d->ds[i] * d->size[i]) {
            d->size[k] *= d->size[i];
            d->ss[k] = d->ss[i];
            d->ds[k] = d->ds[i];
        } else {
            k++;
            d->size[k] = d->size[i];
            d->ss[k] = d->ss[i];
            d->ds[k] = d->ds[i];
        }
    }
    d->nd = d->nd ? k + 1 : 0;
    if (d->nd == 0) { /* a single element */
        d->nd = 1;
        d->size[0] = 1;
        d->ss[0] = d->ds[0] = 0;
    }
}

/* Copy of a region of logical shape L from src (at element offset soff) into dst (at doff),
 * iterated in dst's physical order. */
static void grt__copy_desc(const grt_cu_tensor *src, int64_t soff, const int64_t *L, const grt_cu_tensor *dst,
                           int64_t doff, grt_cu_copy_desc *d) {
    int64_t sst[GRT_MAX_DIMS], dst_st[GRT_MAX_DIMS];
    grt_cu_strides(src, sst);
    grt_cu_strides(dst, dst_st);
    memset(d, 0, sizeof *d);
    d->nd = dst->ndim;
    d->sdt = src->dt;
    d->ddt = dst->dt;
    d->n = 1;
    for (int k = 0; k < dst->ndim; k++) {
        int ld = dst->perm[k];
        d->size[k] = L[ld];
        d->ss[k] = sst[ld];
        d->ds[k] = dst_st[ld];
        d->n *= L[ld];
    }
    d->soff = soff;
    d->doff = doff;
    grt_cu_copy_simplify(d);
}

static int grt__emit_copy(grt__lctx *c, int node, int src, int64_t soff, const int64_t *L, int dst, int64_t doff) {
    int o = grt__new_op(c, GRT_CU_OP_COPY, node);
    if (o < 0) return -1;
    grt_cu_op *op = &c->pr->op[o];
    op->in[0] = src;
    op->n_in = 1;
    op->out = dst;
    grt__copy_desc(&c->pr->t[src], soff, L, &c->pr->t[dst], doff, &op->d.copy);
    return o;
}

/* Tensor t in the physical order perm and storage type dt: t itself, an earlier
 * conversion of it, or a new copy. */
static int grt__need(grt__lctx *c, int t, const int *perm, int dt) {
    if (t < 0) return -1;
    if (c->pr->t[t].dt == dt && grt_cu_layout_equiv(&c->pr->t[t], perm)) return t;
    for (int i = 0; i < c->nmemo; i++) {
        const grt_cu_tensor *d = &c->pr->t[c->memo[i].dst];
        if (c->memo[i].src == t && d->dt == dt && grt_cu_layout_equiv(d, perm)) return c->memo[i].dst;
    }
    if (c->nmemo == c->capmemo) {
        int cap = c->capmemo ? 2 * c->capmemo : 16;
        grt__conv_memo *m = grt_realloc(c->memo, (size_t)cap * sizeof *m);
        if (!m) {
            c->st = grt_error(GAITRT_ERR_NOMEM, "out of memory lowering the graph for CUDA");
            return -1;
        }
        c->memo = m;
        c->capmemo = cap;
    }
    int64_t shape[GRT_MAX_DIMS];
    memcpy(shape, c->pr->t[t].shape, sizeof shape);
    int d = grt__new_tensor(c, c->pr->t[t].ndim, shape, perm, dt, -1);
    if (d < 0) return -1;
    if (grt__emit_copy(c, -1, t, 0, shape, d, 0) < 0) return -1;
    c->memo[c->nmemo++] = (grt__conv_memo){t, d};
    c->pr->n_convert++;
    return d;
}

static void grt__fill_psize(const grt_cu_tensor *t, int64_t *psize, int *pperm) {
    for (int k = 0; k < t->ndim; k++) {
        pperm[k] = t->perm[k];
        psize[k] = t->shape[t->perm[k]];
    }
}

/* Output tensor of node i shaped as the plan says, in the given layout. */
static int grt__out_tensor(grt__lctx *c, int i, const int *perm, int dt) {
    const grt_node *n = &c->g->nodes[i];
    const grt_vplan *v = &c->p->v[n->out];
    int t = grt__new_tensor(c, v->ndim, v->shape, perm, dt, n->out);
    if (t >= 0) c->home[n->out] = t;
    return t;
}

static grt_status grt__lower_node(grt__lctx *c, int i) {
    const grt_graph *g = c->g;
    const grt_node *n = &g->nodes[i];
    grt_cu_prog *pr = c->pr;
    const int cdt = pr->cdt;
    int x = n->n_in > 0 ? c->home[n->in[0]] : -1;
    for (int k = 0; k < n->n_in; k++)
        if (g->values[n->in[k]].is_const || (n->op == GRT_OP_CONV && n->a.conv.residual >= 0 && g->values[n->a.conv.residual].is_const))
            return grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: layer '%s' (%s) reads a constant as an activation ---> HINT: "
                             "run this model on the CPU backend", n->name, grt_op_name(n->op));
    for (int k = 0; k < n->n_in; k++)
        if (c->home[n->in[k]] < 0)
            return grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: layer '%s' reads a value nothing produced", n->name);
    int o, y;
    switch (n->op) {
    case GRT_OP_INPUT: {
        const grt_vplan *v = &c->p->v[n->out];
        int k = n->a.input.index;
        if (k < 0 || k >= GRT_MAX_IN) return grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: input index %d", k);
        int s = grt__new_tensor(c, 5, v->shape, grt__ident, GRT_CU_F32, -1);
        if (s < 0) return c->st;
        pr->t[s].role = GRT_CU_ROLE_STAGE;
        pr->t[s].off = pr->stage_bytes;
        pr->stage_bytes += (pr->t[s].numel * 4 + GRT_CU_ALIGN - 1) / GRT_CU_ALIGN * GRT_CU_ALIGN;
        pr->in_t[k] = s;
        if (k + 1 > pr->n_inputs) pr->n_inputs = k + 1;
        if ((y = grt__out_tensor(c, i, grt_cu_perm_cl5, cdt)) < 0) return c->st;
        if (grt__emit_copy(c, i, s, 0, v->shape, y, 0) < 0) return c->st;
        return GRT_OK;
    }
    case GRT_OP_CONV: {
        const grt_conv_attr *a = &n->a.conv;
        int xc = grt__need(c, x, grt_cu_perm_cl5, cdt);
        int rc = a->residual >= 0 ? grt__need(c, c->home[a->residual], grt_cu_perm_cl5, cdt) : -1;
        if (xc < 0 || (a->residual >= 0 && rc < 0)) return c->st != GRT_OK ? c->st : grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: conv input");
        if ((y = grt__out_tensor(c, i, grt_cu_perm_cl5, cdt)) < 0) return c->st;
        if ((o = grt__new_op(c, GRT_CU_OP_CONV, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        op->in[0] = xc;
        op->n_in = 1;
        op->res = rc;
        op->out = y;
        op->w = a->weight;
        op->b = a->bias;
        op->conv2d = a->k[0] == 1 && a->s[0] == 1 && a->p[0] == 0 && a->d[0] == 1;
        /* as the reference backend: a temporal kernel over an activation of a model that mixes frames */
        op->pad_mask = g->temporal_mixing && a->k[0] > 1 && !g->values[n->in[0]].is_const;
        pr->n_pad_mask += op->pad_mask;
        op->path = !c->have_cudnn ? GRT_CU_CONV_DIRECT
                   : (a->act == GRT_ACT_RELU && a->bias >= 0) ? GRT_CU_CONV_FUSED
                                                               : GRT_CU_CONV_SPLIT;
        grt_cu_conv_desc *d = &op->d.conv;
        const grt_cu_tensor *tx = &pr->t[xc], *ty = &pr->t[y];
        const grt_value *w = &g->values[a->weight];
        d->n = ty->numel;
        d->N = tx->shape[0];
        d->Ci = tx->shape[1];
        d->T = tx->shape[2];
        d->H = tx->shape[3];
        d->W = tx->shape[4];
        d->Co = ty->shape[1];
        d->To = ty->shape[2];
        d->Ho = ty->shape[3];
        d->Wo = ty->shape[4];
        for (int k = 0; k < 3; k++) {
            d->k[k] = (int)w->shape[2 + k];
            d->s[k] = a->s[k];
            d->p[k] = a->p[k];
            d->dl[k] = a->d[k];
        }
        d->cig = w->shape[1];
        d->cog = d->Co / (a->groups > 0 ? a->groups : 1);
        d->xdt = d->wdt = d->ydt = cdt;
        d->act = a->act;
        d->alpha = a->alpha;
        return GRT_OK;
    }
    case GRT_OP_BATCHNORM:
    case GRT_OP_ACT:
    case GRT_OP_L2NORM: {
        const grt_cu_tensor *tx = &pr->t[x];
        int perm[GRT_MAX_DIMS];
        memcpy(perm, tx->perm, sizeof perm);
        if ((y = grt__out_tensor(c, i, perm, tx->dt)) < 0) return c->st;
        grt_cu_kind kind = n->op == GRT_OP_BATCHNORM ? GRT_CU_OP_SCALE_SHIFT : n->op == GRT_OP_ACT ? GRT_CU_OP_ACT : GRT_CU_OP_L2NORM;
        if ((o = grt__new_op(c, kind, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        tx = &pr->t[x];
        op->in[0] = x;
        op->n_in = 1;
        op->out = y;
        int64_t st[GRT_MAX_DIMS];
        grt_cu_strides(tx, st);
        if (n->op == GRT_OP_L2NORM) {
            if (tx->ndim != 3) return grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: l2norm '%s' on a %d-D tensor", n->name, tx->ndim);
            grt_cu_l2_desc *d = &op->d.l2;
            d->n = tx->shape[0] * tx->shape[2];
            d->C = tx->shape[1];
            d->P = tx->shape[2];
            for (int k = 0; k < 3; k++) d->st[k] = st[k];
            d->eps = n->a.l2.eps;
            d->dt = tx->dt;
        } else {
            grt_cu_ew_desc *d = &op->d.ew;
            d->n = tx->numel;
            d->dt = tx->dt;
            d->C = tx->ndim >= 2 ? tx->shape[1] : 1;
            d->cstride = tx->ndim >= 2 ? st[1] : 1;
            if (n->op == GRT_OP_BATCHNORM) {
                op->w = n->a.bn.scale;
                op->b = n->a.bn.shift;
                d->act = n->a.bn.act;
                d->alpha = n->a.bn.alpha;
            } else {
                d->act = n->a.act.act;
                d->alpha = n->a.act.alpha;
            }
        }
        return GRT_OK;
    }
    case GRT_OP_ADD:
    case GRT_OP_MUL: {
        int perm[GRT_MAX_DIMS];
        memcpy(perm, pr->t[x].perm, sizeof perm);
        const int dt = pr->t[x].dt;
        int b = grt__need(c, c->home[n->in[1]], perm, dt);
        if (b < 0) return c->st != GRT_OK ? c->st : grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: operand of '%s'", n->name);
        if ((y = grt__out_tensor(c, i, perm, dt)) < 0) return c->st;
        if ((o = grt__new_op(c, n->op == GRT_OP_ADD ? GRT_CU_OP_ADD : GRT_CU_OP_MUL, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        op->in[0] = x;
        op->in[1] = b;
        op->n_in = 2;
        op->out = y;
        op->d.ew.n = pr->t[y].numel;
        op->d.ew.dt = dt;
        op->d.ew.C = 1;
        op->d.ew.cstride = 1;
        return GRT_OK;
    }
    case GRT_OP_MAXPOOL:
    case GRT_OP_AVGPOOL: {
        int perm[GRT_MAX_DIMS];
        memcpy(perm, pr->t[x].perm, sizeof perm);
        if ((y = grt__out_tensor(c, i, perm, pr->t[x].dt)) < 0) return c->st;
        if ((o = grt__new_op(c, n->op == GRT_OP_MAXPOOL ? GRT_CU_OP_MAXPOOL : GRT_CU_OP_AVGPOOL, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        const grt_cu_tensor *tx = &pr->t[x], *ty = &pr->t[y];
        op->in[0] = x;
        op->n_in = 1;
        op->out = y;
        grt_cu_pool_desc *d = &op->d.pool;
        d->n = ty->numel;
        grt__fill_psize(ty, d->psize, d->pperm);
        int64_t st[GRT_MAX_DIMS];
        grt_cu_strides(tx, st);
        for (int k = 0; k < 5; k++) {
            d->in[k] = tx->shape[k];
            d->is[k] = st[k];
        }
        for (int k = 0; k < 3; k++) {
            d->k[k] = n->a.pool.k[k];
            d->s[k] = n->a.pool.s[k];
            d->p[k] = n->a.pool.p[k];
        }
        d->avg = n->op == GRT_OP_AVGPOOL;
        d->dt = tx->dt;
        return GRT_OK;
    }
    case GRT_OP_REDUCE: {
        /* the output keeps the input's order of the dims that remain */
        const int ax = n->a.reduce.axis, na = n->a.reduce.n_axes;
        const grt_cu_tensor *tx0 = &pr->t[x];
        int perm[GRT_MAX_DIMS], k2 = 0;
        for (int k = 0; k < tx0->ndim; k++) {
            const int d = tx0->perm[k];
            if (d >= ax && d < ax + na) continue;
            perm[k2++] = d < ax ? d : d - na;
        }
        if ((y = grt__out_tensor(c, i, perm, GRT_CU_F32)) < 0) return c->st;
        if ((o = grt__new_op(c, GRT_CU_OP_REDUCE, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        const grt_cu_tensor *tx = &pr->t[x], *ty = &pr->t[y];
        op->in[0] = x;
        op->n_in = 1;
        op->out = y;
        grt_cu_reduce_desc *d = &op->d.reduce;
        int64_t st[GRT_MAX_DIMS];
        grt_cu_strides(tx, st);
        d->n = ty->numel;
        d->ond = ty->ndim;
        grt__fill_psize(ty, d->psize, d->pperm);
        for (int k = 0; k < ty->ndim; k++) d->ost[k] = st[k < ax ? k : k + na];
        d->rnd = na;
        d->len = 1;
        for (int j = 0; j < na; j++) {
            d->rsize[j] = tx->shape[ax + j];
            d->rst[j] = st[ax + j];
            d->len *= tx->shape[ax + j];
        }
        d->mode = n->a.reduce.mode;
        d->dt = tx->dt;
        return GRT_OK;
    }
    case GRT_OP_SOFTMAX:
    case GRT_OP_LABEL_MASK: {
        int perm[GRT_MAX_DIMS];
        memcpy(perm, pr->t[x].perm, sizeof perm);
        if ((y = grt__out_tensor(c, i, perm, pr->t[x].dt)) < 0) return c->st;
        if ((o = grt__new_op(c, n->op == GRT_OP_SOFTMAX ? GRT_CU_OP_SOFTMAX : GRT_CU_OP_LABEL_MASK, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        const grt_cu_tensor *tx = &pr->t[x];
        op->in[0] = x;
        op->n_in = 1;
        op->out = y;
        if (n->op == GRT_OP_SOFTMAX) {
            grt_cu_softmax_desc *d = &op->d.softmax;
            d->nd = tx->ndim;
            d->axis = n->a.softmax.axis;
            memcpy(d->shape, tx->shape, sizeof d->shape);
            grt_cu_strides(tx, d->st);
            d->n = tx->numel / (tx->shape[d->axis] ? tx->shape[d->axis] : 1);
            d->dt = tx->dt;
        } else {
            const grt_value *gv = &g->values[n->a.mask.gamma];
            if (!gv->is_const || !gv->data)
                return grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: label mask '%s' needs a constant gamma", n->name);
            op->d.mask.n = tx->numel;
            op->d.mask.labels = n->a.mask.labels;
            op->d.mask.gamma = gv->data[0];
            op->d.mask.dt = tx->dt;
        }
        return GRT_OK;
    }
    case GRT_OP_MUL_BCAST: {
        int perm[GRT_MAX_DIMS];
        memcpy(perm, pr->t[x].perm, sizeof perm);
        const int b = c->home[n->in[1]];
        if ((y = grt__out_tensor(c, i, perm, pr->t[x].dt)) < 0) return c->st;
        if ((o = grt__new_op(c, GRT_CU_OP_MUL_BCAST, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        const grt_cu_tensor *ty = &pr->t[y], *tb = &pr->t[b];
        op->in[0] = x;
        op->in[1] = b;
        op->n_in = 2;
        op->out = y;
        grt_cu_bcast_desc *d = &op->d.bcast;
        int64_t bst[GRT_MAX_DIMS];
        grt_cu_strides(tb, bst);
        d->n = ty->numel;
        d->nd = ty->ndim;
        grt__fill_psize(ty, d->psize, d->pperm);
        for (int k = 0; k < ty->ndim; k++) d->bst[k] = tb->shape[k] == 1 ? 0 : bst[k];
        d->adt = ty->dt;
        d->bdt = tb->dt;
        return GRT_OK;
    }
    case GRT_OP_TILE_T: {
        /* r copies of the input, one per repeat, or a view when nothing repeats */
        int perm[GRT_MAX_DIMS];
        memcpy(perm, pr->t[x].perm, sizeof perm);
        if ((y = grt__out_tensor(c, i, perm, pr->t[x].dt)) < 0) return c->st;
        const int64_t T = pr->t[x].shape[2], To = pr->t[y].shape[2];
        if (To == T) {
            pr->t[y].root = x;
            return GRT_OK;
        }
        int64_t yst[GRT_MAX_DIMS], L[GRT_MAX_DIMS];
        grt_cu_strides(&pr->t[y], yst);
        memcpy(L, pr->t[x].shape, sizeof L);
        for (int64_t r = 0; r * T < To; r++)
            if (grt__emit_copy(c, i, x, 0, L, y, r * T * yst[2]) < 0) return c->st;
        return GRT_OK;
    }
    case GRT_OP_TEMPORAL_MAX: {
        const int *perm = grt_cu_layout_equiv(&pr->t[x], grt_cu_perm_cl5) ? grt_cu_perm_cl4 : grt__ident;
        if ((y = grt__out_tensor(c, i, perm, GRT_CU_F32)) < 0) return c->st;
        if ((o = grt__new_op(c, GRT_CU_OP_TMAX, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        const grt_cu_tensor *tx = &pr->t[x], *ty = &pr->t[y];
        op->in[0] = x;
        op->n_in = 1;
        op->out = y;
        grt_cu_tmax_desc *d = &op->d.tmax;
        d->n = ty->numel;
        grt__fill_psize(ty, d->psize, d->pperm);
        int64_t st[GRT_MAX_DIMS];
        grt_cu_strides(tx, st);
        for (int k = 0; k < 5; k++) d->is[k] = st[k];
        d->dt = tx->dt;
        return GRT_OK;
    }
    case GRT_OP_HPP: {
        if ((y = grt__out_tensor(c, i, grt_cu_perm_pm3, GRT_CU_F32)) < 0) return c->st;
        if ((o = grt__new_op(c, GRT_CU_OP_HPP, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        const grt_cu_tensor *tx = &pr->t[x], *ty = &pr->t[y];
        op->in[0] = x;
        op->n_in = 1;
        op->out = y;
        grt_cu_hpp_desc *d = &op->d.hpp;
        d->n = ty->numel;
        grt__fill_psize(ty, d->psize, d->pperm);
        int64_t st[GRT_MAX_DIMS];
        grt_cu_strides(tx, st);
        for (int k = 0; k < 4; k++) d->is[k] = st[k];
        d->H = tx->shape[2];
        d->W = tx->shape[3];
        d->n_bins = n->a.hpp.n_bins;
        for (int b = 0; b < n->a.hpp.n_bins; b++) d->bins[b] = n->a.hpp.bins[b];
        d->gem = n->a.hpp.gem;
        d->gem_p = n->a.hpp.gem ? g->values[n->a.hpp.gem_p].data[0] : 0.0f;
        d->gem_eps = n->a.hpp.gem_eps;
        d->dt = tx->dt;
        return GRT_OK;
    }
    case GRT_OP_SEPFC: {
        int xc = grt__need(c, x, grt_cu_perm_pm3, GRT_CU_F32);
        if (xc < 0) return c->st;
        if ((y = grt__out_tensor(c, i, grt_cu_perm_pm3, GRT_CU_F32)) < 0) return c->st;
        if ((o = grt__new_op(c, GRT_CU_OP_FC, i)) < 0) return c->st;
        grt_cu_op *op = &pr->op[o];
        const grt_cu_tensor *tx = &pr->t[xc], *ty = &pr->t[y];
        op->in[0] = xc;
        op->n_in = 1;
        op->out = y;
        op->w = n->a.sepfc.weight;
        const int64_t S = tx->shape[0], C = tx->shape[1], P = tx->shape[2], Co = ty->shape[1];
        if (S > INT_MAX || C > INT_MAX || Co > INT_MAX || P > INT_MAX)
            return grt_error(GAITRT_ERR_LIMIT, "CUDA backend: separate FC '%s' is too large for one GEMM", n->name);
        grt_cu_gemm_desc *d = &op->d.gemm;
        d->m = (int)Co;
        d->n = (int)S;
        d->k = (int)C;
        d->lda = (int)Co;
        d->ldb = (int)C;
        d->ldc = (int)Co;
        d->sa = C * Co;
        d->sb = S * C;
        d->sc = S * Co;
        d->batch = (int)P;
        return GRT_OK;
    }
    case GRT_OP_CONCAT: {
        int perm[GRT_MAX_DIMS];
        memcpy(perm, pr->t[x].perm, sizeof perm);
        if ((y = grt__out_tensor(c, i, perm, pr->t[x].dt)) < 0) return c->st;
        const int ax = n->a.slice.axis;
        int64_t yst[GRT_MAX_DIMS], base = 0;
        grt_cu_strides(&pr->t[y], yst);
        for (int k = 0; k < n->n_in; k++) {
            int xk = c->home[n->in[k]];
            if (xk < 0) return grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: concat '%s' input %d", n->name, k);
            int64_t L[GRT_MAX_DIMS];
            memcpy(L, pr->t[xk].shape, sizeof L);
            if (grt__emit_copy(c, i, xk, 0, L, y, base * yst[ax]) < 0) return c->st;
            base += L[ax];
        }
        return GRT_OK;
    }
    case GRT_OP_SLICE: {
        int perm[GRT_MAX_DIMS];
        memcpy(perm, pr->t[x].perm, sizeof perm);
        if ((y = grt__out_tensor(c, i, perm, pr->t[x].dt)) < 0) return c->st;
        int64_t xst[GRT_MAX_DIMS], L[GRT_MAX_DIMS];
        grt_cu_strides(&pr->t[x], xst);
        memcpy(L, pr->t[y].shape, sizeof L);
        if (grt__emit_copy(c, i, x, (int64_t)n->a.slice.start * xst[n->a.slice.axis], L, y, 0) < 0) return c->st;
        return GRT_OK;
    }
    case GRT_OP_RESHAPE: {
        /* a view of x's storage when the reshape only merges, splits or adds size-1 dims
         * that lie together in it; else a view of a row-major copy */
        const grt_vplan *v = &c->p->v[n->out];
        int perm[GRT_MAX_DIMS], xc = x;
        if (!grt_cu_reshape_view(&pr->t[x], v->ndim, v->shape, perm)) {
            memcpy(perm, grt__ident, sizeof perm);
            if ((xc = grt__need(c, x, grt__ident, pr->t[x].dt)) < 0) return c->st;
        }
        if ((y = grt__out_tensor(c, i, perm, pr->t[xc].dt)) < 0) return c->st;
        pr->t[y].root = xc;
        return GRT_OK;
    }
    case GRT_OP_TRANSPOSE: {
        /* A view: y's logical dim d is x's dim tp[d], so y's physical order lists, for each
         * of x's physical dims, the y dim that maps to it. */
        const int *tp = n->a.transpose.perm;
        const grt_cu_tensor *tx = &pr->t[x];
        int perm[GRT_MAX_DIMS];
        for (int k = 0; k < tx->ndim; k++) {
            perm[k] = -1;
            for (int d = 0; d < tx->ndim; d++)
                if (tp[d] == tx->perm[k]) perm[k] = d;
            if (perm[k] < 0) return grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: transpose '%s' is not a permutation", n->name);
        }
        if ((y = grt__out_tensor(c, i, perm, pr->t[x].dt)) < 0) return c->st;
        pr->t[y].root = x;
        return GRT_OK;
    }
    default:
        return grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: op %s (layer '%s') is not implemented", grt_op_name(n->op), n->name);
    }
}

/* ---- lifetimes, in-place ops and the arena ------------------------------------------ */

static int grt__find(const grt_cu_prog *pr, int t) {
    while (pr->t[t].root != t) t = pr->t[t].root;
    return t;
}

static int grt__inplace_kind(grt_cu_kind k) {
    return k == GRT_CU_OP_ACT || k == GRT_CU_OP_SCALE_SHIFT || k == GRT_CU_OP_ADD || k == GRT_CU_OP_MUL ||
           k == GRT_CU_OP_L2NORM || k == GRT_CU_OP_SOFTMAX || k == GRT_CU_OP_MUL_BCAST || k == GRT_CU_OP_LABEL_MASK;
}

typedef struct grt__blk { int64_t off, size; int root; } grt__blk;

static grt_status grt__layout(grt_cu_prog *pr) {
    const int nt = pr->nt, nop = pr->nop;
    int *rlast = grt_malloc((size_t)(nt ? nt : 1) * sizeof(int));
    grt__blk *blk = grt_malloc((size_t)(nt + 1) * sizeof *blk);
    char *placed = grt_calloc((size_t)(nt ? nt : 1), 1);
    if (!rlast || !blk || !placed) {
        grt_free(rlast);
        grt_free(blk);
        grt_free(placed);
        return grt_error(GAITRT_ERR_NOMEM, "out of memory laying out the CUDA arena");
    }
    for (int t = 0; t < nt; t++) pr->t[t].first = pr->t[t].last = -1;
    for (int j = 0; j < nop; j++) {
        const grt_cu_op *op = &pr->op[j];
        for (int k = 0; k < op->n_in; k++) pr->t[op->in[k]].last = j;
        if (op->res >= 0) pr->t[op->res].last = j;
        if (pr->t[op->out].first < 0) pr->t[op->out].first = j;
    }
    pr->t[pr->out_t].last = nop; /* read back after the last op */
    for (int t = 0; t < nt; t++) rlast[t] = -1;
    for (int t = 0; t < nt; t++) {
        int r = grt__find(pr, t);
        if (pr->t[t].last > rlast[r]) rlast[r] = pr->t[t].last;
    }
    /* In place: an elementwise op writes over its first input when nothing reads that
     * storage later (the same rule as the graph's plan, applied to device tensors). */
    for (int j = 0; j < nop; j++) {
        const grt_cu_op *op = &pr->op[j];
        if (!grt__inplace_kind(op->kind)) continue;
        int r = grt__find(pr, op->in[0]), y = op->out;
        const grt_cu_tensor *tx = &pr->t[op->in[0]], *ty = &pr->t[y];
        if (pr->t[r].role != GRT_CU_ROLE_ARENA || rlast[r] != j || grt__find(pr, y) != y) continue;
        if (tx->dt != ty->dt || tx->numel != ty->numel || tx->ndim != ty->ndim || !grt_cu_perm_is(tx, ty->perm)) continue;
        /* another operand in the same storage is read at other positions (a view, a broadcast):
         * writing over it while other threads read it would race; the very same tensor read at
         * the same position (x + x) is fine */
        int shared = 0;
        for (int k = 1; k < op->n_in; k++)
            if (grt__find(pr, op->in[k]) == r && !(op->in[k] == op->in[0] && op->kind != GRT_CU_OP_MUL_BCAST)) shared = 1;
        if (shared) continue;
        pr->t[y].root = r;
        if (rlast[y] > rlast[r]) rlast[r] = rlast[y];
    }
    /* First fit in op order over the roots' lifetimes [first, rlast]. */
    int nb = 0;
    int64_t arena = 0;
    for (int j = 0; j < nop; j++) {
        for (int b = 0; b < nb;) {
            if (rlast[blk[b].root] < j) {
                memmove(&blk[b], &blk[b + 1], (size_t)(nb - b - 1) * sizeof *blk);
                nb--;
            } else {
                b++;
            }
        }
        int v = pr->op[j].out;
        if (grt__find(pr, v) != v || placed[v] || pr->t[v].role != GRT_CU_ROLE_ARENA) continue;
        const int64_t size = ((int64_t)((size_t)pr->t[v].numel * grt_cu_dt_size(pr->t[v].dt)) + GRT_CU_ALIGN - 1) /
                             GRT_CU_ALIGN * GRT_CU_ALIGN;
        int64_t off = 0;
        int pos = 0;
        for (; pos < nb; pos++) {
            if (blk[pos].off - off >= size) break;
            off = blk[pos].off + blk[pos].size;
        }
        memmove(&blk[pos + 1], &blk[pos], (size_t)(nb - pos) * sizeof *blk);
        blk[pos] = (grt__blk){off, size, v};
        nb++;
        placed[v] = 1;
        pr->t[v].off = off;
        if (off + size > arena) arena = off + size;
    }
    for (int t = 0; t < nt; t++) {
        if (pr->t[t].role != GRT_CU_ROLE_ARENA) continue;
        int r = grt__find(pr, t);
        pr->t[t].off = pr->t[r].off;
        pr->t[t].root = r; /* flatten */
    }
    /* lifetimes of roots, for the tests and reports */
    for (int t = 0; t < nt; t++)
        if (pr->t[t].root == t && pr->t[t].role == GRT_CU_ROLE_ARENA) pr->t[t].last = rlast[t];
    pr->arena_bytes = arena;
    grt_free(rlast);
    grt_free(blk);
    grt_free(placed);
    return GRT_OK;
}

grt_status grt_cu_lower(const grt_graph *g, const grt_plan *p, int cdt, int have_cudnn, grt_cu_prog *out) {
    memset(out, 0, sizeof *out);
    out->cdt = cdt;
    out->out_t = -1;
    out->n_seq = p->bs.n_seq;
    for (int k = 0; k < GRT_MAX_IN; k++) out->in_t[k] = -1;
    grt__lctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.p = p;
    c.pr = out;
    c.have_cudnn = have_cudnn;
    c.home = grt_malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof(int));
    if (!c.home) return grt_error(GAITRT_ERR_NOMEM, "out of memory lowering the graph for CUDA");
    for (int v = 0; v < g->n_values; v++) c.home[v] = -1;
    grt_status st = GRT_OK;
    for (int i = 0; i < g->n_nodes && st == GRT_OK; i++) st = grt__lower_node(&c, i);
    if (st == GRT_OK) {
        int o = g->output >= 0 ? c.home[g->output] : -1;
        if (o < 0) {
            st = grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: the graph's output is not computed");
        } else {
            const grt_cu_tensor *to = &out->t[o];
            if (to->ndim != 3) {
                st = grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: the graph's output is %d-D, expected (S, C, P)", to->ndim);
            } else {
                /* the final conversion to the caller's layout is not a change between ops:
                 * n_convert counts only the inner ones */
                const int inner = out->n_convert;
                out->out_t = grt__need(&c, o, grt__ident, GRT_CU_F32);
                out->n_convert = inner;
                if (out->out_t < 0) st = c.st != GRT_OK ? c.st : grt_error(GAITRT_ERR_INTERNAL, "CUDA lowering: output");
            }
        }
    }
    if (st == GRT_OK) {
        for (int j = 0; j < out->nop; j++) { /* bytes each op moves (for reports and napkin math) */
            grt_cu_op *op = &out->op[j];
            double b = (double)out->t[op->out].numel * (double)grt_cu_dt_size(out->t[op->out].dt);
            for (int k = 0; k < op->n_in; k++) b += (double)out->t[op->in[k]].numel * (double)grt_cu_dt_size(out->t[op->in[k]].dt);
            if (op->res >= 0) b += (double)out->t[op->res].numel * (double)grt_cu_dt_size(out->t[op->res].dt);
            if (op->w >= 0) {
                const grt_value *w = &g->values[op->w];
                int64_t nw = 1;
                for (int d = 0; d < w->ndim; d++) nw *= w->shape[d];
                b += (double)nw * (op->kind == GRT_CU_OP_CONV ? (double)grt_cu_dt_size(cdt) : 4.0);
            }
            op->bytes = b;
        }
        st = grt__layout(out);
    }
    grt_free(c.home);
    grt_free(c.memo);
    if (st != GRT_OK) grt_cu_prog_free(out);
    return st;
}

/* ---- segment checks and cuDNN dims, used by the backend ---------------------------------- */

grt_status grt_cu_segments(const grt_segment *seg, int n_seq, int n, int t, int32_t *rows, int *padded) {
    if (!seg) return grt_error(GAITRT_ERR_INVALID_ARG, "CUDA backend: no segment table for %d sequences", n_seq);
    for (int s = 0; s < n_seq; s++) {
        const grt_segment *q = &seg[s];
        if (q->b < 0 || q->b >= n || q->t0 < 0 || q->len < 1 || q->t0 > t - q->len)
            return grt_error(GAITRT_ERR_INPUT, "sequence %d (item %d, frames %d..%d) lies outside the batch of %d x %d frames "
                             "---> HINT: the segment table must match the batch shape the plan was made for",
                             s, q->b, q->t0, q->t0 + q->len - 1, n, t);
        rows[3 * s] = q->b;
        rows[3 * s + 1] = q->t0;
        rows[3 * s + 2] = q->len;
    }
    int32_t *ends = rows + 3 * n_seq;
    *padded = 0;
    for (int b = 0; b < n; b++) {
        ends[b] = (int32_t)grt_pad_item_end(seg, n_seq, b);
        *padded |= ends[b] < t;
    }
    return GRT_OK;
}

int grt_cu_conv_tensor_dims(const grt_cu_tensor *t, int conv2d, int *nd, int dims[5], int strides[5]) {
    const int64_t N = t->shape[0], C = t->shape[1], T = t->shape[2], H = t->shape[3], W = t->shape[4];
    int64_t d[5], s[5];
    if (conv2d) {
        *nd = 4;
        d[0] = N * T, d[1] = C, d[2] = H, d[3] = W;
        s[0] = H * W * C, s[1] = 1, s[2] = W * C, s[3] = C;
    } else {
        *nd = 5;
        d[0] = N, d[1] = C, d[2] = T, d[3] = H, d[4] = W;
        s[0] = T * H * W * C, s[1] = 1, s[2] = H * W * C, s[3] = W * C, s[4] = C;
    }
    for (int k = 0; k < *nd; k++) {
        if (d[k] > INT_MAX || s[k] > INT_MAX || N * T * H * W * C > INT_MAX) return 0;
        dims[k] = (int)d[k];
        strides[k] = (int)s[k];
    }
    return 1;
}

void grt_cu_conv_filter_dims(const grt_value *w, int conv2d, int *nd, int dims[5]) {
    dims[0] = (int)w->shape[0];
    dims[1] = (int)w->shape[1];
    if (conv2d) {
        *nd = 4;
        dims[2] = (int)w->shape[3];
        dims[3] = (int)w->shape[4];
    } else {
        *nd = 5;
        dims[2] = (int)w->shape[2];
        dims[3] = (int)w->shape[3];
        dims[4] = (int)w->shape[4];
    }
}
