/* plan.c — shape inference for a batch shape, FLOP/byte counts per node, and the memory
 * plan: every activation gets an offset in one arena, reusing space whose last reader has
 * run, so that a run never allocates. */
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"

static grt_status grt__shape_err(const grt_node *n, const char *what) {
    return grt_error(GAITRT_ERR_INPUT, "layer '%s' (%s): %s", n->name, grt_op_name(n->op), what);
}

static int64_t grt__out_dim(int64_t in, int k, int s, int p, int d) {
    int64_t eff = (int64_t)d * (k - 1) + 1;
    if (in + 2 * p < eff) return 0;
    return (in + 2 * p - eff) / s + 1;
}

static int64_t grt__numel(int ndim, const int64_t *sh) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= sh[i];
    return n;
}

/* Infers the output shape of node i from its inputs' shapes (already in p->v). */
static grt_status grt__infer(const grt_graph *g, grt_plan *p, int i) {
    const grt_node *n = &g->nodes[i];
    grt_vplan *o = &p->v[n->out];
    const grt_vplan *x = n->n_in > 0 ? &p->v[n->in[0]] : NULL;
    double flops = 0;
    switch (n->op) {
    case GRT_OP_INPUT:
        o->ndim = 5;
        o->shape[0] = p->bs.n;
        o->shape[1] = n->a.input.channels;
        o->shape[2] = p->bs.t;
        o->shape[3] = n->a.input.height;
        o->shape[4] = n->a.input.width;
        break;
    case GRT_OP_CONV: {
        const grt_conv_attr *c = &n->a.conv;
        const grt_value *w = &g->values[c->weight];
        if (x->ndim != 5) return grt__shape_err(n, "expects a 5-D input");
        if (x->shape[1] != w->shape[1] * c->groups) {
            char b1[64], b2[64];
            grt_error(GAITRT_ERR_INPUT, "layer '%s' (conv): input %s has %lld channels, weight %s expects %lld",
                      n->name, grt_shape_str(x->ndim, x->shape, b1, sizeof b1), (long long)x->shape[1],
                      grt_shape_str(w->ndim, w->shape, b2, sizeof b2), (long long)(w->shape[1] * c->groups));
            return GAITRT_ERR_INPUT;
        }
        o->ndim = 5;
        o->shape[0] = x->shape[0];
        o->shape[1] = w->shape[0];
        for (int d = 0; d < 3; d++) o->shape[2 + d] = grt__out_dim(x->shape[2 + d], c->k[d], c->s[d], c->p[d], c->d[d]);
        if (o->shape[2] <= 0 || o->shape[3] <= 0 || o->shape[4] <= 0) return grt__shape_err(n, "input smaller than the kernel");
        flops = 2.0 * (double)grt__numel(5, o->shape) * (double)(w->shape[1] * w->shape[2] * w->shape[3] * w->shape[4]);
        if (c->residual >= 0 && grt__numel(5, o->shape) != p->v[c->residual].numel)
            return grt__shape_err(n, "residual shape differs from the output");
        break;
    }
    case GRT_OP_BATCHNORM:
    case GRT_OP_ACT:
    case GRT_OP_L2NORM:
        if (n->op == GRT_OP_BATCHNORM && (x->ndim < 2 || x->shape[1] != g->values[n->a.bn.scale].shape[0]))
            return grt__shape_err(n, "channel count differs from the BatchNorm's");
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof o->shape);
        flops = (double)x->numel;
        break;
    case GRT_OP_ADD:
    case GRT_OP_MUL: {
        const grt_vplan *y = &p->v[n->in[1]];
        if (x->ndim != y->ndim || memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim) != 0)
            return grt__shape_err(n, "operands differ in shape");
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof o->shape);
        flops = (double)x->numel;
        break;
    }
    case GRT_OP_MAXPOOL: {
        const grt_pool_attr *pa = &n->a.pool;
        if (x->ndim != 5) return grt__shape_err(n, "expects a 5-D input");
        o->ndim = 5;
        o->shape[0] = x->shape[0];
        o->shape[1] = x->shape[1];
        for (int d = 0; d < 3; d++) o->shape[2 + d] = grt__out_dim(x->shape[2 + d], pa->k[d], pa->s[d], pa->p[d], 1);
        if (o->shape[2] <= 0 || o->shape[3] <= 0 || o->shape[4] <= 0) return grt__shape_err(n, "input smaller than the window");
        flops = (double)grt__numel(5, o->shape) * pa->k[0] * pa->k[1] * pa->k[2];
        break;
    }
    case GRT_OP_TEMPORAL_MAX:
        if (x->ndim != 5) return grt__shape_err(n, "expects a 5-D input");
        o->ndim = 4;
        o->shape[0] = p->bs.n_seq;
        o->shape[1] = x->shape[1];
        o->shape[2] = x->shape[3];
        o->shape[3] = x->shape[4];
        flops = (double)x->numel;
        break;
    case GRT_OP_HPP: {
        if (x->ndim != 4) return grt__shape_err(n, "expects (S, C, H, W)");
        int64_t parts = 0, hw = x->shape[2] * x->shape[3];
        for (int b = 0; b < n->a.hpp.n_bins; b++) {
            if (n->a.hpp.bins[b] <= 0 || hw % n->a.hpp.bins[b] != 0) return grt__shape_err(n, "H*W not divisible by a bin count");
            parts += n->a.hpp.bins[b];
        }
        o->ndim = 3;
        o->shape[0] = x->shape[0];
        o->shape[1] = x->shape[1];
        o->shape[2] = parts;
        flops = 2.0 * (double)x->numel * n->a.hpp.n_bins;
        break;
    }
    case GRT_OP_SEPFC: {
        const grt_value *w = &g->values[n->a.sepfc.weight]; /* (P, C, Co) */
        if (x->ndim != 3 || x->shape[2] != w->shape[0] || x->shape[1] != w->shape[1]) {
            char b1[64], b2[64];
            grt_error(GAITRT_ERR_INPUT, "layer '%s' (sepfc): input %s does not fit weight %s (parts, in, out)", n->name,
                      grt_shape_str(x->ndim, x->shape, b1, sizeof b1), grt_shape_str(w->ndim, w->shape, b2, sizeof b2));
            return GAITRT_ERR_INPUT;
        }
        o->ndim = 3;
        o->shape[0] = x->shape[0];
        o->shape[1] = w->shape[2];
        o->shape[2] = w->shape[0];
        flops = 2.0 * (double)x->shape[0] * (double)(w->shape[0] * w->shape[1] * w->shape[2]);
        break;
    }
    case GRT_OP_CONCAT: {
        int ax = n->a.slice.axis;
        if (ax < 0 || ax >= x->ndim) return grt__shape_err(n, "axis out of range");
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof o->shape);
        o->shape[ax] = 0;
        for (int k = 0; k < n->n_in; k++) {
            const grt_vplan *y = &p->v[n->in[k]];
            if (y->ndim != x->ndim) return grt__shape_err(n, "inputs differ in rank");
            for (int d = 0; d < x->ndim; d++)
                if (d != ax && y->shape[d] != x->shape[d]) return grt__shape_err(n, "inputs differ off the concat axis");
            o->shape[ax] += y->shape[ax];
        }
        break;
    }
    case GRT_OP_SLICE: {
        int ax = n->a.slice.axis;
        if (ax < 0 || ax >= x->ndim) return grt__shape_err(n, "axis out of range");
        if (n->a.slice.start < 0 || n->a.slice.len <= 0 || n->a.slice.start + n->a.slice.len > x->shape[ax])
            return grt__shape_err(n, "slice out of range");
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof o->shape);
        o->shape[ax] = n->a.slice.len;
        break;
    }
    case GRT_OP_RESHAPE: {
        int infer = -1;
        int64_t known = 1;
        o->ndim = n->a.reshape.ndim;
        for (int d = 0; d < o->ndim; d++) {
            int64_t s = n->a.reshape.shape[d];
            if (s == 0) s = d < x->ndim ? x->shape[d] : 1;
            if (s == -1) {
                infer = d;
                s = 1;
            } else {
                known *= s;
            }
            o->shape[d] = s;
        }
        if (infer >= 0) {
            if (known == 0 || x->numel % known) return grt__shape_err(n, "cannot infer a dimension");
            o->shape[infer] = x->numel / known;
        }
        if (grt__numel(o->ndim, o->shape) != x->numel) return grt__shape_err(n, "element count changes");
        break;
    }
    case GRT_OP_TRANSPOSE:
        if (n->a.transpose.ndim != x->ndim) return grt__shape_err(n, "permutation rank differs");
        o->ndim = x->ndim;
        for (int d = 0; d < x->ndim; d++) o->shape[d] = x->shape[n->a.transpose.perm[d]];
        break;
    case GRT_OP_SOFTMAX:
        if (n->a.softmax.axis < 0 || n->a.softmax.axis >= x->ndim) return grt__shape_err(n, "axis out of range");
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof o->shape);
        flops = 4.0 * (double)x->numel;
        break;
    case GRT_OP_AVGPOOL: {
        const grt_pool_attr *pa = &n->a.pool;
        if (x->ndim != 5) return grt__shape_err(n, "expects a 5-D input");
        o->ndim = 5;
        o->shape[0] = x->shape[0];
        o->shape[1] = x->shape[1];
        for (int d = 0; d < 3; d++) {
            if (2 * pa->p[d] > pa->k[d]) return grt__shape_err(n, "padding larger than half the window");
            o->shape[2 + d] = grt__out_dim(x->shape[2 + d], pa->k[d], pa->s[d], pa->p[d], 1);
        }
        if (o->shape[2] <= 0 || o->shape[3] <= 0 || o->shape[4] <= 0) return grt__shape_err(n, "input smaller than the window");
        flops = (double)grt__numel(5, o->shape) * pa->k[0] * pa->k[1] * pa->k[2];
        break;
    }
    case GRT_OP_REDUCE: {
        const int ax = n->a.reduce.axis, na = n->a.reduce.n_axes;
        if (ax < 0 || na < 1 || ax + na > x->ndim || x->ndim - na < 1) return grt__shape_err(n, "axes out of range");
        /* a reduction over frames treats each batch item as one sequence */
        if (x->ndim == 5 && ax <= 2 && 2 < ax + na && p->bs.n != p->bs.n_seq)
            return grt__shape_err(n, "reduces over the frames of an item that packs several sequences (the model must "
                                     "mark itself as mixing frames)");
        o->ndim = x->ndim - na;
        for (int d = 0; d < ax; d++) o->shape[d] = x->shape[d];
        for (int d = ax + na; d < x->ndim; d++) o->shape[d - na] = x->shape[d];
        flops = (n->a.reduce.mode == GRT_REDUCE_MEAN_MAX ? 2.0 : 1.0) * (double)x->numel;
        break;
    }
    case GRT_OP_MUL_BCAST: {
        const grt_vplan *y = &p->v[n->in[1]];
        if (x->ndim != y->ndim) return grt__shape_err(n, "operands differ in rank");
        for (int d = 0; d < x->ndim; d++)
            if (y->shape[d] != 1 && y->shape[d] != x->shape[d])
                return grt__shape_err(n, "the second operand does not broadcast to the first");
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof o->shape);
        flops = (double)x->numel;
        break;
    }
    case GRT_OP_TILE_T: {
        if (x->ndim != 5) return grt__shape_err(n, "expects a 5-D input");
        int64_t t = x->shape[2], m = n->a.tile.min_len;
        o->ndim = 5;
        memcpy(o->shape, x->shape, sizeof o->shape);
        if (t < m) o->shape[2] = t * ((m + t - 1) / t);
        break;
    }
    case GRT_OP_LABEL_MASK:
        if (p->v[n->a.mask.gamma].numel < 1) return grt__shape_err(n, "gamma is empty");
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof o->shape);
        flops = (double)x->numel;
        break;
    default:
        return grt__shape_err(n, "unknown op");
    }
    o->numel = grt__numel(o->ndim, o->shape);
    p->node_flops[i] = flops;
    double bytes = 4.0 * (double)o->numel;
    for (int k = 0; k < n->n_in; k++) bytes += 4.0 * (double)p->v[n->in[k]].numel;
    if (n->op == GRT_OP_CONV) bytes += 4.0 * (double)p->v[n->a.conv.weight].numel;
    if (n->op == GRT_OP_SEPFC) bytes += 4.0 * (double)p->v[n->a.sepfc.weight].numel;
    p->node_bytes[i] = bytes;
    p->total_flops += flops;
    return GRT_OK;
}

/* Ops whose output may overwrite their (first) input. */
static int grt__can_inplace(const grt_node *n) {
    return n->op == GRT_OP_ACT || n->op == GRT_OP_BATCHNORM || n->op == GRT_OP_L2NORM;
}

typedef struct grt__block { int64_t off, size; int root; } grt__block;

grt_status grt_plan_create(const grt_graph *g, const grt_batch_shape *bs, grt_plan **out) {
    *out = NULL;
    if (bs->n <= 0 || bs->t <= 0 || bs->n_seq <= 0) return grt_error(GAITRT_ERR_INPUT, "empty batch (n=%d, t=%d, sequences=%d)", bs->n, bs->t, bs->n_seq);
    if (g->output < 0) return grt_error(GAITRT_ERR_INTERNAL, "graph has no output");
    grt_plan *p = grt_calloc(1, sizeof *p);
    int nv = g->n_values, nn = g->n_nodes;
    int *root = NULL, *last = NULL;
    grt__block *blocks = NULL;
    if (!p) return grt_error(GAITRT_ERR_NOMEM, "out of memory planning the graph");
    p->g = g;
    p->bs = *bs;
    p->v = grt_calloc((size_t)nv, sizeof *p->v);
    p->node_flops = grt_calloc((size_t)nn, sizeof(double));
    p->node_bytes = grt_calloc((size_t)nn, sizeof(double));
    root = grt_malloc((size_t)nv * sizeof(int));
    last = grt_malloc((size_t)nv * sizeof(int));
    blocks = grt_malloc((size_t)(nv + 1) * sizeof *blocks);
    grt_status st = GRT_OK;
    if (!p->v || !p->node_flops || !p->node_bytes || !root || !last || !blocks) {
        st = grt_error(GAITRT_ERR_NOMEM, "out of memory planning the graph");
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        grt_vplan *vp = &p->v[v];
        vp->offset = -1;
        vp->first = vp->last = -1;
        root[v] = v;
        last[v] = -1;
        if (g->values[v].is_const) {
            vp->ndim = g->values[v].ndim;
            memcpy(vp->shape, g->values[v].shape, sizeof vp->shape);
            vp->numel = grt__numel(vp->ndim, vp->shape);
        }
    }
    for (int i = 0; i < nn; i++) {
        if ((st = grt__infer(g, p, i)) != GRT_OK) goto done;
        const grt_node *n = &g->nodes[i];
        p->v[n->out].first = i;
        for (int k = 0; k < n->n_in; k++) last[n->in[k]] = i;
        if (n->op == GRT_OP_CONV && n->a.conv.residual >= 0) last[n->a.conv.residual] = i;
    }
    last[g->output] = nn; /* the output lives to the end */
    for (int v = 0; v < nv; v++) p->v[v].last = last[v];

    /* Storage roots: reshape always shares its input's storage; in-place ops share it when
     * every alias of that storage is last read here. rlast[r] = last read of any alias. */
    int *rlast = last; /* reuse: rlast[root] accumulates over aliases */
    for (int i = 0; i < nn; i++) {
        const grt_node *n = &g->nodes[i];
        if (n->n_in == 0) continue;
        int r = root[n->in[0]];
        if (g->values[r].is_const) continue;
        if (n->op == GRT_OP_RESHAPE || (grt__can_inplace(n) && rlast[r] == i && r != g->output)) {
            root[n->out] = r;
            if (last[n->out] > rlast[r]) rlast[r] = last[n->out];
        }
    }
    /* Lay out roots over their lifetimes [first, rlast] with first-fit in offset order. */
    int nb = 0;
    int64_t arena = 0;
    for (int i = 0; i < nn; i++) {
        const grt_node *n = &g->nodes[i];
        /* free blocks whose root died before node i */
        for (int b = 0; b < nb;) {
            if (rlast[blocks[b].root] < i) {
                memmove(&blocks[b], &blocks[b + 1], (size_t)(nb - b - 1) * sizeof *blocks);
                nb--;
            } else {
                b++;
            }
        }
        int v = n->out;
        if (root[v] != v) {
            p->v[v].offset = p->v[root[v]].offset;
            continue;
        }
        int64_t size = (p->v[v].numel + 15) & ~(int64_t)15; /* 64-byte aligned slots */
        int64_t off = 0;
        int pos = 0;
        for (; pos < nb; pos++) {
            if (blocks[pos].off - off >= size) break;
            off = blocks[pos].off + blocks[pos].size;
        }
        memmove(&blocks[pos + 1], &blocks[pos], (size_t)(nb - pos) * sizeof *blocks);
        blocks[pos] = (grt__block){off, size, v};
        nb++;
        p->v[v].offset = off;
        if (off + size > arena) arena = off + size;
    }
    p->arena_floats = arena;
done:
    grt_free(root);
    grt_free(last);
    grt_free(blocks);
    if (st != GRT_OK) {
        grt_plan_free(p);
        return st;
    }
    *out = p;
    return GRT_OK;
}

void grt_plan_free(grt_plan *p) {
    if (!p) return;
    grt_free(p->v);
    grt_free(p->node_flops);
    grt_free(p->node_bytes);
    grt_free(p);
}
