/* graph.c — building the layer graph and counting its parameters. Shape inference and the
 * memory plan are in plan.c, fusion in fuse.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"

static const char *grt__op_names[GRT_OP_COUNT] = {
    "input", "conv", "batchnorm", "act", "add", "mul", "maxpool", "temporal_max", "hpp", "sepfc",
    "concat", "slice", "l2norm", "reshape", "transpose", "softmax", "avgpool", "reduce", "mul_bcast", "tile_t",
    "label_mask"};

const char *grt_op_name(grt_op_type op) { return (unsigned)op < GRT_OP_COUNT ? grt__op_names[op] : "?"; }

grt_graph *grt_graph_new(void) {
    grt_graph *g = grt_calloc(1, sizeof *g);
    if (!g) grt_error(GAITRT_ERR_NOMEM, "out of memory creating a graph");
    if (g) g->output = -1;
    return g;
}

void grt_graph_free(grt_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) grt_free_aligned(g->values[i].data);
    grt_free(g->values);
    grt_free(g->nodes);
    grt_free(g);
}

static int grt__new_value(grt_graph *g) {
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? 2 * g->cap_values : 64;
        grt_value *v = grt_realloc(g->values, (size_t)cap * sizeof *v);
        if (!v) {
            grt_error(GAITRT_ERR_NOMEM, "out of memory growing the graph");
            return -1;
        }
        g->values = v;
        g->cap_values = cap;
    }
    memset(&g->values[g->n_values], 0, sizeof g->values[0]);
    return g->n_values++;
}

/* Appends a node with a fresh output value; returns the node pointer (NULL on error). */
static grt_node *grt__new_node(grt_graph *g, grt_op_type op, const char *name, int n_in, const int *in) {
    for (int i = 0; i < n_in; i++) {
        /* -1 is the result of an earlier call that failed (out of memory, usually) and said
         * why; we keep that error rather than replace it with this consequence of it. */
        if (in[i] < 0) return NULL;
        if (in[i] >= g->n_values) {
            grt_error(GAITRT_ERR_INTERNAL, "graph: node '%s' has an invalid input", name ? name : "?");
            return NULL;
        }
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        grt_node *n = grt_realloc(g->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            grt_error(GAITRT_ERR_NOMEM, "out of memory growing the graph");
            return NULL;
        }
        g->nodes = n;
        g->cap_nodes = cap;
    }
    int out = grt__new_value(g);
    if (out < 0) return NULL;
    grt_node *nd = &g->nodes[g->n_nodes++];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    snprintf(nd->name, sizeof nd->name, "%s", name ? name : grt_op_name(op));
    nd->n_in = n_in;
    for (int i = 0; i < n_in; i++) nd->in[i] = in[i];
    nd->out = out;
    return nd;
}

/* Adds constant value (key, shape) holding `own` (grt_malloc_aligned, taken even on
 * failure) or, when own is NULL, a new copy of `data` (zeros when data is NULL too). */
static int grt__const_add(grt_graph *g, const char *key, int ndim, const int64_t *shape, const float *data,
                          float *own) {
    /* Callers may pass the shape or key of another value (fusion copies a weight's shape), and
     * grt__new_value may move g->values: we copy both before it can. */
    if (ndim < 0 || ndim > GRT_MAX_DIMS) {
        grt_free_aligned(own);
        grt_error(GAITRT_ERR_INTERNAL, "graph: constant '%s' has rank %d", key ? key : "", ndim);
        return -1;
    }
    int64_t sh[GRT_MAX_DIMS];
    char k[sizeof g->values[0].key];
    for (int i = 0; i < ndim; i++) sh[i] = shape[i];
    snprintf(k, sizeof k, "%s", key ? key : "");
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (sh[i] < 0 || !grt_mul_size(n, (size_t)sh[i], &n)) {
            grt_free_aligned(own);
            grt_error(GAITRT_ERR_LIMIT, "graph: constant '%s' too large", k);
            return -1;
        }
    int v = grt__new_value(g);
    if (v < 0) {
        grt_free_aligned(own);
        return -1;
    }
    grt_value *val = &g->values[v];
    val->is_const = 1;
    val->ndim = ndim;
    for (int i = 0; i < ndim; i++) val->shape[i] = sh[i];
    snprintf(val->key, sizeof val->key, "%s", k);
    if (own) {
        val->data = own;
        return v;
    }
    val->data = grt_malloc_aligned(n * sizeof(float));
    if (!val->data) {
        g->n_values--;
        grt_error(GAITRT_ERR_NOMEM, "out of memory for constant '%s'", k);
        return -1;
    }
    if (data)
        memcpy(val->data, data, n * sizeof(float));
    else
        memset(val->data, 0, n * sizeof(float));
    return v;
}

int grt_graph_const(grt_graph *g, const char *key, int ndim, const int64_t *shape, const float *data) {
    return grt__const_add(g, key, ndim, shape, data, NULL);
}

int grt_graph_const_take(grt_graph *g, const char *key, int ndim, const int64_t *shape, float *data) {
    return grt__const_add(g, key, ndim, shape, NULL, data);
}

int grt_graph_input(grt_graph *g, int channels, int height, int width) {
    grt_node *n = grt__new_node(g, GRT_OP_INPUT, "input", 0, NULL);
    if (!n) return -1;
    n->a.input.index = g->n_inputs++;
    n->a.input.channels = channels;
    n->a.input.height = height;
    n->a.input.width = width;
    return n->out;
}

int grt_graph_conv(grt_graph *g, const char *name, int x, int weight, int bias, const int k[3], const int s[3],
                   const int p[3], int groups) {
    grt_node *n = grt__new_node(g, GRT_OP_CONV, name, 1, &x);
    if (!n) return -1;
    grt_conv_attr *c = &n->a.conv;
    for (int i = 0; i < 3; i++) {
        c->k[i] = k[i];
        c->s[i] = s[i];
        c->p[i] = p[i];
        c->d[i] = 1;
    }
    c->groups = groups > 0 ? groups : 1;
    c->weight = weight;
    c->bias = bias;
    c->residual = -1;
    c->act = GRT_ACT_NONE;
    if (k[0] > 1) g->temporal_mixing = 1;
    return n->out;
}

int grt_graph_batchnorm(grt_graph *g, const char *name, int x, int gamma, int beta, int mean, int var, float eps) {
    const grt_value *vg = &g->values[gamma];
    int64_t c = vg->shape[0];
    float *scale = grt_malloc((size_t)c * sizeof(float) * 2);
    if (!scale) {
        grt_error(GAITRT_ERR_NOMEM, "out of memory for batchnorm '%s'", name);
        return -1;
    }
    float *shift = scale + c;
    for (int64_t i = 0; i < c; i++) {
        double sc = (double)g->values[gamma].data[i] / sqrt((double)g->values[var].data[i] + (double)eps);
        scale[i] = (float)sc;
        shift[i] = (float)((double)g->values[beta].data[i] - (double)g->values[mean].data[i] * sc);
    }
    char key[160];
    snprintf(key, sizeof key, "%s(scale)", name);
    int vs = grt_graph_const(g, key, 1, &c, scale);
    snprintf(key, sizeof key, "%s(shift)", name);
    int vh = vs >= 0 ? grt_graph_const(g, key, 1, &c, shift) : -1;
    grt_free(scale);
    if (vh < 0) return -1;
    grt_node *n = grt__new_node(g, GRT_OP_BATCHNORM, name, 1, &x);
    if (!n) return -1;
    n->a.bn.scale = vs;
    n->a.bn.shift = vh;
    n->a.bn.gamma = gamma;
    n->a.bn.beta = beta;
    n->a.bn.mean = mean;
    n->a.bn.var = var;
    n->a.bn.eps = eps;
    return n->out;
}

int grt_graph_act(grt_graph *g, const char *name, int x, grt_act act, float alpha) {
    grt_node *n = grt__new_node(g, GRT_OP_ACT, name, 1, &x);
    if (!n) return -1;
    n->a.act.act = act;
    n->a.act.alpha = alpha;
    return n->out;
}

int grt_graph_add(grt_graph *g, const char *name, int a, int b) {
    int in[2] = {a, b};
    grt_node *n = grt__new_node(g, GRT_OP_ADD, name, 2, in);
    return n ? n->out : -1;
}

int grt_graph_mul(grt_graph *g, const char *name, int a, int b) {
    int in[2] = {a, b};
    grt_node *n = grt__new_node(g, GRT_OP_MUL, name, 2, in);
    return n ? n->out : -1;
}

int grt_graph_maxpool(grt_graph *g, const char *name, int x, const int k[3], const int s[3], const int p[3]) {
    grt_node *n = grt__new_node(g, GRT_OP_MAXPOOL, name, 1, &x);
    if (!n) return -1;
    for (int i = 0; i < 3; i++) {
        n->a.pool.k[i] = k[i];
        n->a.pool.s[i] = s[i];
        n->a.pool.p[i] = p[i];
    }
    if (k[0] > 1) g->temporal_mixing = 1;
    return n->out;
}

int grt_graph_temporal_max(grt_graph *g, const char *name, int x) {
    grt_node *n = grt__new_node(g, GRT_OP_TEMPORAL_MAX, name, 1, &x);
    return n ? n->out : -1;
}

static int grt__hpp(grt_graph *g, const char *name, int x, int n_bins, const int *bins, int gem, int p, float eps) {
    if (n_bins < 1 || n_bins > GRT_MAX_BINS) {
        grt_error(GAITRT_ERR_INTERNAL, "graph: hpp '%s' with %d bins", name, n_bins);
        return -1;
    }
    grt_node *n = grt__new_node(g, GRT_OP_HPP, name, 1, &x);
    if (!n) return -1;
    n->a.hpp.n_bins = n_bins;
    for (int i = 0; i < n_bins; i++) n->a.hpp.bins[i] = bins[i];
    n->a.hpp.gem = gem;
    n->a.hpp.gem_p = p;
    n->a.hpp.gem_eps = eps;
    return n->out;
}

int grt_graph_hpp(grt_graph *g, const char *name, int x, int n_bins, const int *bins) {
    return grt__hpp(g, name, x, n_bins, bins, 0, -1, 0);
}

int grt_graph_gem_hpp(grt_graph *g, const char *name, int x, int n_bins, const int *bins, int p, float eps) {
    return grt__hpp(g, name, x, n_bins, bins, 1, p, eps);
}

int grt_graph_sepfc(grt_graph *g, const char *name, int x, int weight, int normalize_weight) {
    grt_node *n = grt__new_node(g, GRT_OP_SEPFC, name, 1, &x);
    if (!n) return -1;
    n->a.sepfc.weight = weight;
    n->a.sepfc.normalize_weight = normalize_weight;
    return n->out;
}

int grt_graph_concat(grt_graph *g, const char *name, int n_x, const int *xs, int axis) {
    if (n_x < 1 || n_x > GRT_MAX_IN) {
        grt_error(GAITRT_ERR_INTERNAL, "graph: concat '%s' of %d inputs", name, n_x);
        return -1;
    }
    grt_node *n = grt__new_node(g, GRT_OP_CONCAT, name, n_x, xs);
    if (!n) return -1;
    n->a.slice.axis = axis;
    return n->out;
}

int grt_graph_slice(grt_graph *g, const char *name, int x, int axis, int start, int len) {
    grt_node *n = grt__new_node(g, GRT_OP_SLICE, name, 1, &x);
    if (!n) return -1;
    n->a.slice.axis = axis;
    n->a.slice.start = start;
    n->a.slice.len = len;
    return n->out;
}

int grt_graph_l2norm(grt_graph *g, const char *name, int x, float eps) {
    grt_node *n = grt__new_node(g, GRT_OP_L2NORM, name, 1, &x);
    if (!n) return -1;
    n->a.l2.eps = eps;
    return n->out;
}

int grt_graph_reshape(grt_graph *g, const char *name, int x, int ndim, const int64_t *shape) {
    grt_node *n = grt__new_node(g, GRT_OP_RESHAPE, name, 1, &x);
    if (!n) return -1;
    n->a.reshape.ndim = ndim;
    for (int i = 0; i < ndim; i++) n->a.reshape.shape[i] = shape[i];
    return n->out;
}

int grt_graph_transpose(grt_graph *g, const char *name, int x, int ndim, const int *perm) {
    grt_node *n = grt__new_node(g, GRT_OP_TRANSPOSE, name, 1, &x);
    if (!n) return -1;
    n->a.transpose.ndim = ndim;
    for (int i = 0; i < ndim; i++) n->a.transpose.perm[i] = perm[i];
    return n->out;
}

int grt_graph_softmax(grt_graph *g, const char *name, int x, int axis) {
    grt_node *n = grt__new_node(g, GRT_OP_SOFTMAX, name, 1, &x);
    if (!n) return -1;
    n->a.softmax.axis = axis;
    return n->out;
}

int grt_graph_avgpool(grt_graph *g, const char *name, int x, const int k[3], const int s[3], const int p[3]) {
    grt_node *n = grt__new_node(g, GRT_OP_AVGPOOL, name, 1, &x);
    if (!n) return -1;
    for (int i = 0; i < 3; i++) {
        n->a.pool.k[i] = k[i];
        n->a.pool.s[i] = s[i];
        n->a.pool.p[i] = p[i];
    }
    if (k[0] > 1) g->temporal_mixing = 1;
    return n->out;
}

int grt_graph_reduce(grt_graph *g, const char *name, int x, int axis, int n_axes, grt_reduce_mode mode) {
    if (axis < 0 || n_axes < 1 || axis + n_axes > GRT_MAX_DIMS) {
        grt_error(GAITRT_ERR_INTERNAL, "graph: reduce '%s' over axes [%d, %d)", name, axis, axis + n_axes);
        return -1;
    }
    grt_node *n = grt__new_node(g, GRT_OP_REDUCE, name, 1, &x);
    if (!n) return -1;
    n->a.reduce.axis = axis;
    n->a.reduce.n_axes = n_axes;
    n->a.reduce.mode = mode;
    return n->out;
}

int grt_graph_mul_bcast(grt_graph *g, const char *name, int a, int b) {
    int in[2] = {a, b};
    grt_node *n = grt__new_node(g, GRT_OP_MUL_BCAST, name, 2, in);
    return n ? n->out : -1;
}

int grt_graph_tile_t(grt_graph *g, const char *name, int x, int min_len) {
    grt_node *n = grt__new_node(g, GRT_OP_TILE_T, name, 1, &x);
    if (!n) return -1;
    n->a.tile.min_len = min_len > 0 ? min_len : 1;
    /* repeating frames only makes sense when an item is one sequence */
    g->temporal_mixing = 1;
    return n->out;
}

int grt_graph_label_mask(grt_graph *g, const char *name, int x, uint64_t labels, int gamma) {
    if (gamma < 0 || gamma >= g->n_values || !g->values[gamma].is_const) {
        grt_error(GAITRT_ERR_INTERNAL, "graph: label mask '%s' needs a constant gamma", name);
        return -1;
    }
    grt_node *n = grt__new_node(g, GRT_OP_LABEL_MASK, name, 1, &x);
    if (!n) return -1;
    n->a.mask.labels = labels;
    n->a.mask.gamma = gamma;
    return n->out;
}

void grt_graph_set_output(grt_graph *g, int v) { g->output = v; }

int64_t grt_graph_param_count(const grt_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < g->n_values; i++) {
        const grt_value *v = &g->values[i];
        /* derived constants (folded BN) and BN running statistics are not learnable parameters */
        if (!v->is_const || !v->key[0] || strchr(v->key, '(') || strstr(v->key, "running_")) continue;
        int64_t k = 1;
        for (int d = 0; d < v->ndim; d++) k *= v->shape[d];
        n += k;
    }
    return n;
}

/* Time axis of value v from two plans that differ only in T (7 and 11 frames, N = 2): the one
 * axis whose size follows T, with every other axis equal and the items first; -1 when T is
 * gone (pooled) or merged into another axis. */
static int grt__time_axis(const grt_plan *a, const grt_plan *b, int v) {
    const grt_vplan *x = &a->v[v], *y = &b->v[v];
    if (x->ndim != y->ndim || x->ndim < 2 || x->shape[0] != 2) return -1;
    int ax = -1;
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] == y->shape[d]) continue;
        if (ax >= 0 || x->shape[d] != 7 || y->shape[d] != 11) return -1;
        ax = d;
    }
    return ax;
}

int grt_graph_pad_safe(const grt_graph *g) {
    if (!g->temporal_mixing) return 0; /* packed models need no padding */
    const grt_batch_shape b7 = {2, 7, 2}, b11 = {2, 11, 2};
    grt_plan *p7 = NULL, *p11 = NULL;
    int *tax = grt_malloc(((size_t)g->n_values + 1) * sizeof(int)); /* time axis of framed values, else -1 */
    int ok = tax && grt_plan_create(g, &b7, &p7) == GRT_OK && grt_plan_create(g, &b11, &p11) == GRT_OK;
    for (int v = 0; ok && v < g->n_values; v++) tax[v] = -1;
    for (int i = 0; i < g->n_nodes && ok; i++) {
        const grt_node *n = &g->nodes[i];
        int t_in = n->op == GRT_OP_INPUT ? 2 : -1;
        for (int k = 0; k < n->n_in; k++)
            if (tax[n->in[k]] >= 0) t_in = tax[n->in[k]];
        if (t_in < 0) continue;             /* after temporal pooling: per sequence */
        if (n->op == GRT_OP_TEMPORAL_MAX) continue; /* reads each sequence's own frames */
        const int t_out = grt__time_axis(p7, p11, n->out);
        ok = t_out >= 0;                    /* frames must stay frames of their item */
        switch (n->op) {
        case GRT_OP_INPUT:
        case GRT_OP_BATCHNORM:
        case GRT_OP_ACT:
        case GRT_OP_ADD:
        case GRT_OP_MUL:
        case GRT_OP_RESHAPE:
        case GRT_OP_TRANSPOSE: break;
        case GRT_OP_CONV: {
            const grt_conv_attr *c = &n->a.conv;
            ok = ok && (c->k[0] == 1 ? c->s[0] == 1 && c->p[0] == 0
                                     : c->s[0] == 1 && 2 * c->p[0] == c->d[0] * (c->k[0] - 1));
            break;
        }
        case GRT_OP_MAXPOOL:
        case GRT_OP_AVGPOOL: ok = ok && n->a.pool.k[0] == 1 && n->a.pool.s[0] == 1 && n->a.pool.p[0] == 0; break;
        case GRT_OP_CONCAT:
        case GRT_OP_SLICE: ok = ok && n->a.slice.axis != t_in; break;
        case GRT_OP_SOFTMAX: ok = ok && n->a.softmax.axis != t_in; break;
        default: ok = 0; break; /* reductions, tiling, pooling over parts: not known to be per frame */
        }
        tax[n->out] = t_out;
    }
    grt_plan_free(p7);
    grt_plan_free(p11);
    grt_free(tax);
    grt_error_clear();
    return ok;
}

int64_t grt_pad_item_end(const grt_segment *seg, int n_seq, int64_t b) {
    int64_t end = 0;
    for (int s = 0; s < n_seq; s++)
        if (seg[s].b == b && seg[s].t0 + seg[s].len > end) end = seg[s].t0 + seg[s].len;
    return end;
}

int grt_pad_any(const grt_segment *seg, int n_seq, int n_items, int t) {
    if (!seg) return 0;
    for (int b = 0; b < n_items; b++)
        if (grt_pad_item_end(seg, n_seq, b) < t) return 1;
    return 0;
}

void grt_pad_mask_frames(void *x, int64_t n, int64_t cb, int64_t t, int64_t inner, size_t elem, const grt_segment *seg,
                         int n_seq) {
    for (int64_t b = 0; b < n; b++) {
        const int64_t end = grt_pad_item_end(seg, n_seq, b);
        if (end >= t) continue;
        for (int64_t c = 0; c < cb; c++)
            memset((char *)x + (size_t)(((b * cb + c) * t + end) * inner) * elem, 0, (size_t)((t - end) * inner) * elem);
    }
}

void grt_pad_mask_value(float *x, const grt_vplan *xv, const grt_segment *seg, int n_seq) {
    grt_pad_mask_frames(x, xv->shape[0], xv->shape[1], xv->shape[2], xv->shape[3] * xv->shape[4], sizeof(float), seg, n_seq);
}

int grt_node_reads(const grt_node *n, int refs[GRT_NODE_MAX_REFS]) {
    int k = 0;
#define GRT__REF(v_)                   \
    do {                               \
        if ((v_) >= 0) refs[k++] = (v_); \
    } while (0)
    for (int i = 0; i < n->n_in && i < GRT_MAX_IN; i++) GRT__REF(n->in[i]);
    switch (n->op) {
    case GRT_OP_CONV:
        GRT__REF(n->a.conv.weight);
        GRT__REF(n->a.conv.bias);
        GRT__REF(n->a.conv.residual);
        break;
    case GRT_OP_BATCHNORM:
        GRT__REF(n->a.bn.scale);
        GRT__REF(n->a.bn.shift);
        GRT__REF(n->a.bn.mean);
        GRT__REF(n->a.bn.var);
        GRT__REF(n->a.bn.gamma);
        GRT__REF(n->a.bn.beta);
        break;
    case GRT_OP_SEPFC: GRT__REF(n->a.sepfc.weight); break;
    case GRT_OP_HPP:
        if (n->a.hpp.gem) GRT__REF(n->a.hpp.gem_p);
        break;
    case GRT_OP_LABEL_MASK: GRT__REF(n->a.mask.gamma); break;
    default: break;
    }
#undef GRT__REF
    return k;
}
