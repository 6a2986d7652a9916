/* fuse.c — the fusion pass: BatchNorm folded into the preceding convolution's weights and
 * bias, activations and residual adds fused into the op that produces them. It makes a new
 * graph; the original (unfused) one stays the reference. */
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"

/* Copy of a graph with its constants: copied, or moved out of g when `move` (g's data are
 * then NULL, whatever happens). */
static grt_graph *grt__graph_copy(grt_graph *g, int move) {
    grt_graph *c = grt_graph_new();
    if (!c) return NULL;
    *c = *g;
    c->nodes = grt_malloc((size_t)(g->cap_nodes ? g->cap_nodes : 1) * sizeof *c->nodes);
    c->values = grt_calloc((size_t)(g->cap_values ? g->cap_values : 1), sizeof *c->values);
    if (!c->nodes || !c->values) {
        if (!c->values) c->n_values = 0; /* nothing to free; grt_graph_free walks n_values */
        goto fail;
    }
    memcpy(c->nodes, g->nodes, (size_t)g->n_nodes * sizeof *c->nodes);
    for (int i = 0; i < g->n_values; i++) {
        c->values[i] = g->values[i];
        c->values[i].data = NULL;
        if (move) {
            c->values[i].data = g->values[i].data;
            g->values[i].data = NULL;
        } else if (g->values[i].data) {
            int64_t n = 1;
            for (int d = 0; d < g->values[i].ndim; d++) n *= g->values[i].shape[d];
            c->values[i].data = grt_malloc_aligned((size_t)n * sizeof(float));
            if (!c->values[i].data) goto fail;
            memcpy(c->values[i].data, g->values[i].data, (size_t)n * sizeof(float));
        }
    }
    return c;
fail:
    if (move)
        for (int i = 0; i < g->n_values; i++) {
            grt_free_aligned(g->values[i].data);
            g->values[i].data = NULL;
        }
    grt_graph_free(c);
    grt_error(GAITRT_ERR_NOMEM, "out of memory copying the graph for fusion");
    return NULL;
}

/* Readers of each value (as input or residual), counted over live nodes. */
static void grt__count_readers(const grt_graph *g, const char *dead, int *readers) {
    memset(readers, 0, (size_t)g->n_values * sizeof(int));
    for (int i = 0; i < g->n_nodes; i++) {
        if (dead[i]) continue;
        const grt_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) readers[n->in[k]]++;
        if (n->op == GRT_OP_CONV && n->a.conv.residual >= 0) readers[n->a.conv.residual]++;
    }
    readers[g->output]++;
}

/* The single live reader of value v after node i, or -1. */
static int grt__sole_reader(const grt_graph *g, const char *dead, int v, int after) {
    for (int j = after + 1; j < g->n_nodes; j++) {
        if (dead[j]) continue;
        const grt_node *n = &g->nodes[j];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v) return j;
    }
    return -1;
}

static int grt__producer(const grt_graph *g, const char *dead, int v) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!dead[i] && g->nodes[i].out == v) return i;
    return -1;
}

/* Frees constant v's data when no live node reads it any more. */
static void grt__drop_if_unread(grt_graph *g, const char *dead, int v) {
    if (v < 0 || !g->values[v].is_const || v == g->output) return;
    for (int i = 0; i < g->n_nodes; i++) {
        if (dead[i]) continue;
        int refs[GRT_NODE_MAX_REFS];
        const int nr = grt_node_reads(&g->nodes[i], refs);
        for (int k = 0; k < nr; k++)
            if (refs[k] == v) return;
    }
    grt_free_aligned(g->values[v].data);
    g->values[v].data = NULL;
}

/* Frees the data of constants no node reads any more (a folded convolution's original
 * weights, folded BatchNorms' vectors): the fused graph then holds one copy of the weights,
 * not two. Shapes stay, so plans and reports are unchanged. */
static void grt__drop_unread_constants(grt_graph *g) {
    char *read = grt_calloc((size_t)g->n_values + 1, 1);
    if (!read) return; /* keeping them is correct, only larger */
    for (int i = 0; i < g->n_nodes; i++) {
        int refs[GRT_NODE_MAX_REFS];
        const int nr = grt_node_reads(&g->nodes[i], refs);
        for (int k = 0; k < nr; k++)
            if (refs[k] < g->n_values) read[refs[k]] = 1;
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_const && !read[v] && v != g->output) {
            grt_free_aligned(g->values[v].data);
            g->values[v].data = NULL;
        }
    grt_free(read);
}

static grt_graph *grt__fuse(grt_graph *src, int move);

grt_graph *grt_graph_fuse(const grt_graph *src) { return grt__fuse((grt_graph *)src, 0); }

grt_graph *grt_graph_fuse_move(grt_graph *src) { return grt__fuse(src, 1); }

static grt_graph *grt__fuse(grt_graph *src, int move) {
    grt_graph *g = grt__graph_copy(src, move);
    if (!g) return NULL;
    char *dead = grt_calloc((size_t)(g->n_nodes ? g->n_nodes : 1), 1);
    int readers_cap = g->n_values ? g->n_values : 1;
    int *readers = grt_malloc((size_t)readers_cap * sizeof(int));
    if (!dead || !readers) {
        grt_free(dead);
        grt_free(readers);
        grt_graph_free(g);
        grt_error(GAITRT_ERR_NOMEM, "out of memory in the fusion pass");
        return NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        grt_node *n = &g->nodes[i];
        if (dead[i]) continue;
        if (g->n_values > readers_cap) { /* folding adds constants */
            int *r2 = grt_realloc(readers, (size_t)g->cap_values * sizeof(int));
            if (!r2) goto oom;
            readers = r2;
            readers_cap = g->cap_values;
        }
        grt__count_readers(g, dead, readers);
        if (readers[n->out] != 1 || n->out == g->output) continue;
        int j = grt__sole_reader(g, dead, n->out, i);
        if (j < 0) continue;
        grt_node *m = &g->nodes[j];
        int fused = 0;
        if (n->op == GRT_OP_CONV && m->op == GRT_OP_BATCHNORM && n->a.conv.residual < 0 && n->a.conv.act == GRT_ACT_NONE) {
            /* conv -> BN: w' = w * scale[co], b' = b * scale + shift */
            grt_conv_attr *c = &n->a.conv;
            grt_value *w = &g->values[c->weight];
            const float *scale = g->values[m->a.bn.scale].data, *shift = g->values[m->a.bn.shift].data;
            int64_t co = w->shape[0], per = 1;
            for (int d = 1; d < w->ndim; d++) per *= w->shape[d];
            float *nw = grt_malloc_aligned((size_t)(co * per) * sizeof(float));
            float *nb = grt_malloc((size_t)co * sizeof(float));
            if (!nw || !nb) {
                grt_free_aligned(nw);
                grt_free(nb);
                goto oom;
            }
            for (int64_t o = 0; o < co; o++) {
                for (int64_t k = 0; k < per; k++) nw[o * per + k] = w->data[o * per + k] * scale[o];
                nb[o] = (c->bias >= 0 ? g->values[c->bias].data[o] * scale[o] : 0.0f) + shift[o];
            }
            char key[160];
            snprintf(key, sizeof key, "%s(folded)", w->key);
            int vw = grt_graph_const_take(g, key, w->ndim, w->shape, nw); /* (nw is the graph's now) */
            int vb = vw >= 0 ? grt_graph_const(g, "(folded bias)", 1, &co, nb) : -1;
            grt_free(nb);
            if (vb < 0) goto oom;
            n = &g->nodes[i]; /* values may have moved; nodes did not */
            const int old_w = n->a.conv.weight;
            n->a.conv.weight = vw;
            grt__drop_if_unread(g, dead, old_w); /* so that fusing never holds three copies */
            n->a.conv.bias = vb;
            n->a.conv.act = m->a.bn.act;
            n->a.conv.alpha = m->a.bn.alpha;
            fused = 1;
        } else if ((n->op == GRT_OP_CONV || n->op == GRT_OP_BATCHNORM) && m->op == GRT_OP_ACT) {
            grt_act *act = n->op == GRT_OP_CONV ? &n->a.conv.act : &n->a.bn.act;
            float *alpha = n->op == GRT_OP_CONV ? &n->a.conv.alpha : &n->a.bn.alpha;
            if (*act == GRT_ACT_NONE) {
                *act = m->a.act.act;
                *alpha = m->a.act.alpha;
                fused = 1;
            }
        } else if (n->op == GRT_OP_CONV && m->op == GRT_OP_ADD && n->a.conv.residual < 0 && n->a.conv.act == GRT_ACT_NONE) {
            /* conv -> add(other): the other operand must exist before the conv runs */
            int other = m->in[0] == n->out ? m->in[1] : m->in[0];
            int prod = grt__producer(g, dead, other);
            if (other != n->out && prod < i) {
                n->a.conv.residual = other;
                fused = 1;
            }
        }
        if (fused) {
            /* node i now produces node j's output; j disappears */
            n->out = m->out;
            dead[j] = 1;
            i--; /* try to fuse the next consumer into the same node */
        }
    }
    /* compact */
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!dead[i]) g->nodes[k++] = g->nodes[i];
    g->n_nodes = k;
    grt_free(dead);
    grt_free(readers);
    grt__drop_unread_constants(g);
    return g;
oom:
    grt_free(dead);
    grt_free(readers);
    grt_graph_free(g);
    grt_error(GAITRT_ERR_NOMEM, "out of memory in the fusion pass");
    return NULL;
}
