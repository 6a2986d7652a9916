/*
 * fast_build.c — turns the fused graph into a flat list of steps for one batch shape, decides
 * where each value lives, lays every buffer out in one arena, and runs the steps.
 *
 * Layout policy: a value stays in the layout its producer wrote (blocked for convolutions and
 * pooling); a consumer that needs another layout gets a converted copy, made once and shared
 * by later consumers. In a GaitBase- or DeepGaitV2-shaped graph no conversion happens at all:
 * the first convolution reads the caller's (N, C, T, H, W) input in place and the head reads
 * the last convolution's blocked output.
 *
 * Memory policy: buffers live from their first to their last step and share the arena by
 * first fit, as graph/plan.c does for the reference. A convolution with a residual writes
 * into the residual's buffer when the residual dies there (oneDNN's sum post-op adds what the
 * output buffer holds), elementwise ops work in place, reshapes alias, and each primitive's
 * scratchpad is a buffer that lives for its one step. The arena is touched once when the plan
 * is made, so a run never faults a page in.
 *
 * Not here: the oneDNN descriptors themselves (fast_dnnl.c) or any kernel.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/ref/ref_kernels.h"
#include "fast_internal.h"

#ifdef GAITRT_HAVE_DNNL

#ifdef GAITRT_HAVE_OPENMP
#include <omp.h>
#endif

/* A value converted into another layout, kept for the value's later consumers. */
typedef struct grt__derived {
    int v;
    dnnl_memory_desc_t md;
    int buf;
} grt__derived;

typedef struct grt__builder {
    grt_fast_plan *fp;
    const grt_fast_state *st;
    const grt_graph *g;
    const grt_plan *p;
    int with_prims;
    int *last_reader;  /* per value: last node reading it (n_nodes for the output) */
    int *buf_last;     /* per buffer: last node reading any value stored in it; INT_MAX: never reuse in place */
    grt__derived *der;
    int n_der, cap_der;
    char *absorbed;    /* per node: computed inside an earlier node's step (a pooling after a Winograd conv, a strips branch) */
} grt__builder;

static grt_status grt__oom(void) { return grt_error(GAITRT_ERR_NOMEM, "cpu-fast: out of memory while planning"); }

static int grt__new_buf(grt__builder *b, size_t bytes, int input, int last) {
    grt_fast_plan *fp = b->fp;
    if (fp->n_buf == fp->cap_buf) {
        int cap = fp->cap_buf ? 2 * fp->cap_buf : 64;
        grt_fast_buf *nb = grt_realloc(fp->buf, (size_t)cap * sizeof *nb);
        int *nl = grt_realloc(b->buf_last, (size_t)cap * sizeof *nl);
        if (nb) fp->buf = nb;
        if (nl) b->buf_last = nl;
        if (!nb || !nl) return -1;
        fp->cap_buf = cap;
    }
    grt_fast_buf *bf = &fp->buf[fp->n_buf];
    memset(bf, 0, sizeof *bf);
    bf->bytes = (bytes + 63) & ~(size_t)63;
    bf->root = fp->n_buf;
    bf->input = input;
    bf->first = bf->last = -1;
    b->buf_last[fp->n_buf] = last;
    return fp->n_buf++;
}

static grt_fast_step *grt__new_step(grt__builder *b, grt_fast_step_kind kind, int node, const char *what) {
    grt_fast_plan *fp = b->fp;
    if (fp->n_step == fp->cap_step) {
        int cap = fp->cap_step ? 2 * fp->cap_step : 64;
        grt_fast_step *ns = grt_realloc(fp->step, (size_t)cap * sizeof *ns);
        if (!ns) return NULL;
        fp->step = ns;
        fp->cap_step = cap;
    }
    grt_fast_step *s = &fp->step[fp->n_step++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = node;
    s->what = what;
    s->out = -1;
    s->act_node = -1;
    return s;
}

static void grt__arg(grt_fast_step *s, int kind, int buf, void *ext, const dnnl_memory_desc_t *md) {
    grt_fast_arg *a = &s->arg[s->n_args++];
    a->kind = kind;
    a->buf = buf;
    a->ext = ext;
    a->md = *md;
}

/* Adds a scratchpad buffer for the step's primitive when it needs one. */
static grt_status grt__scratch(grt__builder *b, grt_fast_step *s) {
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(s->pd, dnnl_query_scratchpad_md, 0);
    if (!smd || dnnl_memory_desc_get_size(smd) == 0) return GRT_OK;
    int sb = grt__new_buf(b, dnnl_memory_desc_get_size(smd), -1, INT_MAX);
    if (sb < 0) return grt__oom();
    grt__arg(s, DNNL_ARG_SCRATCHPAD, sb, NULL, smd);
    return GRT_OK;
}

/* A reorder step: buffer `from` (layout smd) into buffer `to` (layout dmd). */
static grt_status grt__reorder(grt__builder *b, int node, int from, const dnnl_memory_desc_t *smd, int to,
                               const dnnl_memory_desc_t *dmd) {
    const grt_node *n = &b->g->nodes[node];
    if (dnnl_memory_desc_equal(smd, dmd)) {
        grt_fast_step *s = grt__new_step(b, GRT_FS_COPY, node, "copy");
        if (!s) return grt__oom();
        s->in[0] = from;
        s->n_in = 1;
        s->out = to;
        s->bytes = dnnl_memory_desc_get_size(smd);
        return GRT_OK;
    }
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = grt_fast_attr_new();
    if (!attr) return grt__oom();
    dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, smd, b->st->eng, dmd, b->st->eng, attr);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return grt_fast_dnnl_err(ds, "layout conversion", n->name);
    grt_fast_step *s = grt__new_step(b, GRT_FS_DNNL, node, "reorder");
    if (!s) {
        dnnl_primitive_desc_destroy(pd);
        return grt__oom();
    }
    s->pd = pd;
    grt__arg(s, DNNL_ARG_FROM, from, NULL, smd);
    grt__arg(s, DNNL_ARG_TO, to, NULL, dmd);
    b->fp->n_convert++;
    return grt__scratch(b, s);
}

/* The buffer holding value v in layout md, converting (once) when v lives elsewhere. */
static grt_status grt__need(grt__builder *b, int v, const dnnl_memory_desc_t *md, int node, int *buf) {
    grt_fast_plan *fp = b->fp;
    if (dnnl_memory_desc_equal(&fp->val_md[v], md)) {
        *buf = fp->val_buf[v];
        return GRT_OK;
    }
    for (int k = 0; k < b->n_der; k++)
        if (b->der[k].v == v && dnnl_memory_desc_equal(&b->der[k].md, md)) {
            *buf = b->der[k].buf;
            return GRT_OK;
        }
    if (b->n_der == b->cap_der) {
        int cap = b->cap_der ? 2 * b->cap_der : 16;
        grt__derived *nd = grt_realloc(b->der, (size_t)cap * sizeof *nd);
        if (!nd) return grt__oom();
        b->der = nd;
        b->cap_der = cap;
    }
    int nb = grt__new_buf(b, dnnl_memory_desc_get_size(md), -1, INT_MAX);
    if (nb < 0) return grt__oom();
    grt_status st = grt__reorder(b, node, fp->val_buf[v], &fp->val_md[v], nb, md);
    if (st != GRT_OK) return st;
    grt__derived *d = &b->der[b->n_der++];
    d->v = v;
    d->md = *md;
    d->buf = nb;
    *buf = nb;
    return GRT_OK;
}

/* May node i write its output over value v's buffer? Only when nothing reads that buffer
 * after i and it is not the caller's input. */
static int grt__can_overwrite(const grt__builder *b, int v, int i) {
    int bf = b->fp->val_buf[v];
    return b->fp->buf[bf].input < 0 && b->buf_last[bf] <= i;
}

/* Gives value v (produced by node i) a buffer: `reuse` (in place) or a new one. */
static grt_status grt__home(grt__builder *b, int v, const dnnl_memory_desc_t *md, int reuse) {
    grt_fast_plan *fp = b->fp;
    int bf = reuse;
    if (bf < 0) {
        bf = grt__new_buf(b, dnnl_memory_desc_get_size(md), -1, b->last_reader[v]);
        if (bf < 0) return grt__oom();
    } else if (b->last_reader[v] > b->buf_last[bf]) {
        b->buf_last[bf] = b->last_reader[v];
    }
    fp->val_buf[v] = bf;
    fp->val_md[v] = *md;
    return GRT_OK;
}

static void grt__plain_md(const grt__builder *b, int v, dnnl_memory_desc_t *md) {
    grt_fast_md_plain(md, b->p->v[v].ndim, b->p->v[v].shape, dnnl_f32);
}

static int grt__blocked_md(const grt__builder *b, int v, dnnl_data_type_t dt, dnnl_memory_desc_t *md) {
    return grt_fast_md_blocked(md, b->p->v[v].ndim, b->p->v[v].shape, dt, b->st->blk);
}

/* Node i through its reference kernel: every input row-major f32, output row-major f32. */
static grt_status grt__ref_node(grt__builder *b, int i) {
    const grt_node *n = &b->g->nodes[i];
    dnnl_memory_desc_t md;
    grt_fast_step tmp;
    memset(&tmp, 0, sizeof tmp);
    for (int k = 0; k < n->n_in; k++) {
        grt__plain_md(b, n->in[k], &md);
        grt_status st = grt__need(b, n->in[k], &md, i, &tmp.in[k]);
        if (st != GRT_OK) return st;
    }
    tmp.n_in = n->n_in;
    if (n->op == GRT_OP_CONV && n->a.conv.residual >= 0) {
        grt__plain_md(b, n->a.conv.residual, &md);
        grt_status st = grt__need(b, n->a.conv.residual, &md, i, &tmp.in[n->n_in]);
        if (st != GRT_OK) return st;
        tmp.n_in++;
    }
    grt__plain_md(b, n->out, &md);
    grt_status st = grt__home(b, n->out, &md, -1);
    if (st != GRT_OK) return st;
    grt_fast_step *s = grt__new_step(b, GRT_FS_REF, i, "reference");
    if (!s) return grt__oom();
    memcpy(s->in, tmp.in, sizeof s->in);
    s->n_in = tmp.n_in;
    s->out = b->fp->val_buf[n->out];
    b->fp->n_ref++;
    return GRT_OK;
}

/* The output buffer of conv node i, which reads buffer sbuf: with a residual, the output
 * must hold the residual before the conv runs (oneDNN's sum post-op and our Winograd both add
 * what the output holds). We write over the residual when it dies here, else copy it. */
static grt_status grt__conv_out(grt__builder *b, int i, int sbuf, const dnnl_memory_desc_t *dst_v, int *obuf) {
    grt_fast_plan *fp = b->fp;
    const grt_node *n = &b->g->nodes[i];
    const int r = n->a.conv.residual;
    int reuse = -1;
    grt_status gs = GRT_OK;
    if (r >= 0) {
        if (grt__can_overwrite(b, r, i) && dnnl_memory_desc_equal(&fp->val_md[r], dst_v) && fp->val_buf[r] != sbuf) {
            reuse = fp->val_buf[r];
        } else {
            /* the residual is read later, or is the conv's input itself: copy it into a fresh output */
            gs = grt__home(b, n->out, dst_v, -1);
            if (gs == GRT_OK) reuse = fp->val_buf[n->out];
            if (gs == GRT_OK) gs = grt__reorder(b, i, fp->val_buf[r], &fp->val_md[r], reuse, dst_v);
        }
    }
    if (gs == GRT_OK) gs = grt__home(b, n->out, dst_v, reuse);
    *obuf = fp->val_buf[n->out];
    return gs;
}

/* The one node that reads value v (as an input or a residual), or -1: none, several, or v is
 * the graph's output. */
static int grt__only_reader(const grt__builder *b, int v) {
    if (v == b->g->output) return -1;
    int j = -1;
    for (int k = 0; k < b->g->n_nodes; k++) {
        const grt_node *r = &b->g->nodes[k];
        int reads = r->op == GRT_OP_CONV && r->a.conv.residual == v;
        for (int q = 0; q < r->n_in; q++) reads |= r->in[q] == v;
        if (!reads) continue;
        if (j >= 0) return -1;
        j = k;
    }
    return j;
}

/* The node that pools Winograd conv i's output when the conv can do it tile by tile (see
 * grt_fast_wino_conv_avx2): the output's only reader is a 1x2x2 max pooling of stride 1x2x2
 * without padding, H and W are even, the conv is 2-D without a residual. Else -1. GaitSet's
 * and GaitPart's backbones pool so after their first convolutions, the largest activations
 * of the model: the conv then writes a quarter of them and the pooling pass is gone.
 * Between the conv and the pooling there may be reshapes (via, n_via) that regroup rows into
 * frames or back (GaitPart's focal convolutions), keeping N, C and W, with an even row count
 * on both sides: the pairs of rows a 2x2 window takes are then the same in either shape, so
 * pooling before the reshape and after it give the same bytes. They are absorbed with the
 * pooling. */
static int grt__wino_pool_next(const grt__builder *b, int i, int *via, int *n_via) {
    const grt_node *n = &b->g->nodes[i];
    *n_via = 0;
    if (b->st->conv[i].wino_t != 0 || n->a.conv.residual >= 0 || getenv("GAITRT_NO_POOL_FUSION") != NULL) return -1;
    int v = n->out, j;
    for (;;) {
        const int64_t *vs = b->p->v[v].shape;
        if (b->p->v[v].ndim != 5 || vs[3] % 2 || vs[4] % 2) return -1;
        j = grt__only_reader(b, v);
        if (j <= i) return -1;
        const grt_node *r = &b->g->nodes[j];
        if (r->op != GRT_OP_RESHAPE) break;
        const int64_t *rs = b->p->v[r->out].shape;
        if (*n_via == 4 || b->p->v[r->out].ndim != 5 || rs[0] != vs[0] || rs[1] != vs[1] || rs[4] != vs[4]) return -1;
        via[(*n_via)++] = j;
        v = r->out;
    }
    const grt_node *pn = &b->g->nodes[j];
    const grt_pool_attr *pa = &pn->a.pool;
    if (pn->op != GRT_OP_MAXPOOL || pa->k[0] != 1 || pa->k[1] != 2 || pa->k[2] != 2 || pa->s[0] != 1 || pa->s[1] != 2 ||
        pa->s[2] != 2 || pa->p[0] != 0 || pa->p[1] != 0 || pa->p[2] != 0)
        return -1;
    return j;
}

/* ---- GaitGL's local branch: one 3x3x3 conv applied to each horizontal strip ----
 * The graph has it as the model defines it: a slice per strip, the conv (one weight) on each,
 * concats along H. Our 3x3x3 Winograd runs all strips in one step (strips as frames, see
 * grt_fast_wino_3d_conv_avx2), reading the blocked input in place and writing the blocked
 * concatenation: no slices, no per-strip convs, no concat, and a leaky ReLU after the concat
 * is applied by the same step. */

static int grt__producer(const grt_graph *g, int v) {
    for (int k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].out == v) return k;
    return -1;
}

typedef struct grt__strip_set {
    int n, conv[16], slice[16], inner[16], n_inner, top, act;
} grt__strip_set;

/* The convs under concat node k (axis 3), left to right, through concats read only by their parent. */
static int grt__strip_leaves(const grt__builder *b, int k, grt__strip_set *ss) {
    const grt_node *c = &b->g->nodes[k];
    for (int q = 0; q < c->n_in; q++) {
        const int pn = grt__producer(b->g, c->in[q]);
        if (pn < 0 || grt__only_reader(b, c->in[q]) != k) return 0;
        const grt_node *p = &b->g->nodes[pn];
        if (p->op == GRT_OP_CONCAT && p->a.slice.axis == 3) {
            if (ss->n_inner == 16 || !grt__strip_leaves(b, pn, ss)) return 0;
            ss->inner[ss->n_inner++] = pn;
        } else if (p->op == GRT_OP_CONV && ss->n < 16) {
            ss->conv[ss->n++] = pn;
        } else {
            return 0;
        }
    }
    return 1;
}

/* The leaves in ss are the strips of the input of slice node i: each conv reads its own
 * slice, strip j of the same source, all with one weight and the same attributes. */
static int grt__strip_check(const grt__builder *b, int i, grt__strip_set *ss) {
    const grt_graph *g = b->g;
    const grt_node *sl = &g->nodes[i];
    const int src = sl->in[0];
    const int64_t hs = sl->a.slice.len;
    if (ss->n < 2 || hs * ss->n != b->p->v[src].shape[3]) return 0;
    const grt_node *n0 = &g->nodes[ss->conv[0]];
    const grt_fast_conv *f0 = &b->st->conv[ss->conv[0]];
    if (f0->path != GRT_FAST_CONV_WINO || f0->wino_t != 3) return 0;
    for (int j = 0; j < ss->n; j++) {
        const grt_node *cj = &g->nodes[ss->conv[j]];
        const int sj = grt__producer(g, cj->in[0]);
        if (sj < 0) return 0;
        const grt_node *s_ = &g->nodes[sj];
        if (s_->op != GRT_OP_SLICE || s_->in[0] != src || s_->a.slice.axis != 3 || s_->a.slice.start != j * hs ||
            s_->a.slice.len != hs || grt__only_reader(b, s_->out) != ss->conv[j])
            return 0;
        const grt_conv_attr *a = &cj->a.conv, *a0 = &n0->a.conv;
        if (a->weight != a0->weight || a->bias != a0->bias || a->residual >= 0 || a->act != a0->act ||
            a->alpha != a0->alpha || memcmp(a->k, a0->k, sizeof a->k) || memcmp(a->s, a0->s, sizeof a->s) ||
            memcmp(a->p, a0->p, sizeof a->p) || memcmp(a->d, a0->d, sizeof a->d) || a->groups != a0->groups)
            return 0;
        ss->slice[j] = sj;
    }
    return ss->slice[0] == i;
}

/* Slice node i starts such a branch: fills ss and returns 1. */
static int grt__strip_find(const grt__builder *b, int i, grt__strip_set *ss) {
    const grt_graph *g = b->g;
    const grt_node *sl = &g->nodes[i];
    if (sl->op != GRT_OP_SLICE || sl->a.slice.axis != 3 || sl->a.slice.start != 0 || getenv("GAITRT_NO_STRIP_CONV") != NULL)
        return 0;
    const int src = sl->in[0];
    if (b->p->v[src].ndim != 5 || !grt_fast_md_is_blocked(&b->fp->val_md[src], b->st->blk) ||
        b->fp->val_md[src].data_type != dnnl_f32)
        return 0;
    const int c0 = grt__only_reader(b, sl->out);
    if (c0 < 0 || g->nodes[c0].op != GRT_OP_CONV) return 0;
    /* the concats above the first conv, lowest first; the highest one whose leaves are all the
     * strips' convs ends the branch (GaitGL's last stage concatenates it with the global conv) */
    int chain[8], nc = 0, top = grt__only_reader(b, g->nodes[c0].out);
    while (nc < 8 && top >= 0 && g->nodes[top].op == GRT_OP_CONCAT && g->nodes[top].a.slice.axis == 3) {
        chain[nc++] = top;
        top = grt__only_reader(b, g->nodes[top].out);
    }
    int found = 0;
    for (int k = nc - 1; k >= 0 && !found; k--) {
        memset(ss, 0, sizeof *ss);
        ss->top = chain[k];
        found = grt__strip_leaves(b, chain[k], ss) && grt__strip_check(b, i, ss) &&
                grt__blocked_md(b, g->nodes[chain[k]].out, dnnl_f32, &(dnnl_memory_desc_t){0});
    }
    ss->act = -1;
    if (!found) return 0;
    /* an activation after the concat, when the convs have none */
    const grt_node *n0 = &g->nodes[ss->conv[0]];
    const int an = grt__only_reader(b, g->nodes[ss->top].out);
    if (an >= 0 && n0->a.conv.act == GRT_ACT_NONE && g->nodes[an].op == GRT_OP_ACT &&
        (g->nodes[an].a.act.act == GRT_ACT_RELU || g->nodes[an].a.act.act == GRT_ACT_LEAKY_RELU))
        ss->act = an;
    return 1;
}

static grt_status grt__strip_node(grt__builder *b, const grt__strip_set *ss) {
    const grt_graph *g = b->g;
    const grt_node *n0 = &g->nodes[ss->conv[0]];
    const int src = g->nodes[ss->slice[0]].in[0];
    const int outv = ss->act >= 0 ? g->nodes[ss->act].out : g->nodes[ss->top].out;
    dnnl_memory_desc_t omd;
    if (!grt__blocked_md(b, outv, dnnl_f32, &omd))
        return grt_error(GAITRT_ERR_INTERNAL, "cpu-fast: '%s': no blocked layout for the strips' output",
                         g->nodes[ss->top].name);
    grt_status gs = grt__home(b, outv, &omd, -1);
    if (gs != GRT_OK) return gs;
    const grt_vplan *xv = &b->p->v[src], *yv = &b->p->v[n0->out];
    const int m = b->st->conv[ss->conv[0]].wino_m;
    const int64_t tiles = xv->shape[0] * xv->shape[2] * ss->n * ((xv->shape[3] / ss->n + m - 1) / m) *
                          ((xv->shape[4] + m - 1) / m);
    size_t sbytes = grt_fast_wino_scratch_bytes(tiles, xv->shape[1], yv->shape[1], b->st->nt, m);
    if (b->st->conv[ss->conv[0]].wino_lazy) sbytes += grt_fast_wino_3d_tap_bytes(xv->shape[1], yv->shape[1], m);
    int scratch = grt__new_buf(b, sbytes, -1, INT_MAX);
    if (scratch < 0) return grt__oom();
    grt_fast_step *s = grt__new_step(b, GRT_FS_WINO, ss->conv[0], "conv(winograd, strips)");
    if (!s) return grt__oom();
    s->in[0] = b->fp->val_buf[src];
    s->in[1] = scratch;
    s->n_in = 2;
    s->out = b->fp->val_buf[outv];
    s->strips = ss->n;
    s->act_node = ss->act;
    s->name = g->nodes[ss->top].name;
    for (int j = 0; j < ss->n; j++) b->absorbed[ss->slice[j]] = b->absorbed[ss->conv[j]] = 1;
    for (int j = 0; j < ss->n_inner; j++) b->absorbed[ss->inner[j]] = 1;
    b->absorbed[ss->top] = 1;
    if (ss->act >= 0) b->absorbed[ss->act] = 1;
    return GRT_OK;
}

/* Conv node i on our Winograd kernel: blocked f32 in and out. */
static grt_status grt__wino_node(grt__builder *b, int i) {
    const grt_node *n = &b->g->nodes[i];
    const grt_vplan *xv = &b->p->v[n->in[0]], *yv = &b->p->v[n->out];
    dnnl_memory_desc_t smd, dmd, pmd;
    if (!grt__blocked_md(b, n->in[0], dnnl_f32, &smd) || !grt__blocked_md(b, n->out, dnnl_f32, &dmd)) return grt__ref_node(b, i);
    int via[4], n_via = 0;
    int pj = grt__wino_pool_next(b, i, via, &n_via);
    if (pj >= 0 && !grt__blocked_md(b, b->g->nodes[pj].out, dnnl_f32, &pmd)) pj = -1;
    int sbuf, obuf = -1;
    grt_status gs = grt__need(b, n->in[0], &smd, i, &sbuf);
    if (gs == GRT_OK && pj >= 0) {
        gs = grt__home(b, b->g->nodes[pj].out, &pmd, -1);
        if (gs == GRT_OK) obuf = b->fp->val_buf[b->g->nodes[pj].out];
        b->absorbed[pj] = 1;
        for (int k = 0; k < n_via; k++) b->absorbed[via[k]] = 1;
    } else if (gs == GRT_OK) {
        gs = grt__conv_out(b, i, sbuf, &dmd, &obuf);
    }
    if (gs != GRT_OK) return gs;
    const int m = b->st->conv[i].wino_m;
    size_t sbytes;
    if (b->st->conv[i].wino_t == 1) {
        const int64_t tiles = xv->shape[0] * ((xv->shape[2] + 1) / 2) * xv->shape[3] * xv->shape[4];
        sbytes = grt_fast_wino_t_scratch_bytes(tiles, xv->shape[1], yv->shape[1], b->st->nt);
    } else {
        const int64_t tiles = xv->shape[0] * xv->shape[2] * ((xv->shape[3] + m - 1) / m) * ((xv->shape[4] + m - 1) / m);
        sbytes = grt_fast_wino_scratch_bytes(tiles, xv->shape[1], yv->shape[1], b->st->nt, m);
        if (b->st->conv[i].wino_lazy) sbytes += grt_fast_wino_3d_tap_bytes(xv->shape[1], yv->shape[1], m);
    }
    int scratch = grt__new_buf(b, sbytes, -1, INT_MAX);
    if (scratch < 0) return grt__oom();
    grt_fast_step *s = grt__new_step(b, GRT_FS_WINO, i, pj >= 0 ? "conv(winograd)+maxpool" : "conv(winograd)");
    if (!s) return grt__oom();
    s->blocked = pj >= 0; /* pooled output */
    s->in[0] = sbuf;
    s->in[1] = scratch;
    s->n_in = 2;
    s->out = obuf;
    return GRT_OK;
}

static grt_status grt__conv_node(grt__builder *b, int i) {
    const grt_fast_state *st = b->st;
    grt_fast_plan *fp = b->fp;
    const grt_node *n = &b->g->nodes[i];
    const grt_conv_attr *c = &n->a.conv;
    const grt_fast_conv *fc = &st->conv[i];
    if (fc->path == GRT_FAST_CONV_WINO) return grt__wino_node(b, i);
    if (fc->path != GRT_FAST_CONV_DNNL) return grt__ref_node(b, i);
    dnnl_data_type_t dst_dt = st->adt == dnnl_bf16 && st->lowp_ok[n->out] ? dnnl_bf16 : dnnl_f32;
    dnnl_primitive_desc_t pd = NULL;
    void *wdata = fc->wdata;
    dnnl_status_t ds = grt_fast_conv_pd(st, b->p, i, &fc->wmd, dst_dt, &pd);
    if (ds != dnnl_success) {
        /* this batch shape wants other weights layout: reorder a private copy */
        ds = grt_fast_conv_pd(st, b->p, i, NULL, dst_dt, &pd);
        if (ds != dnnl_success) return grt__ref_node(b, i);
        if (b->with_prims) {
            void **ne = grt_realloc(fp->extra, (size_t)(fp->n_extra + 1) * sizeof *ne);
            if (!ne) {
                dnnl_primitive_desc_destroy(pd);
                return grt__oom();
            }
            fp->extra = ne;
            size_t bytes = 0;
            grt_status gs = grt_fast_reorder_weights(st, i, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                                                     &fp->extra[fp->n_extra], &bytes);
            if (gs != GRT_OK) {
                dnnl_primitive_desc_destroy(pd);
                return gs;
            }
            wdata = fp->extra[fp->n_extra++];
            fp->extra_bytes += bytes;
        }
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_desc_t src_v = *smd, dst_v = *dmd; /* as 5-D values */
    if (fc->fold_t) {
        const grt_vplan *xv = &b->p->v[n->in[0]], *yv = &b->p->v[n->out];
        dnnl_dims_t xd, yd;
        for (int d = 0; d < 5; d++) {
            xd[d] = xv->shape[d];
            yd[d] = yv->shape[d];
        }
        if (dnnl_memory_desc_reshape(&src_v, smd, 5, xd) != dnnl_success ||
            dnnl_memory_desc_reshape(&dst_v, dmd, 5, yd) != dnnl_success) {
            dnnl_primitive_desc_destroy(pd);
            return grt_error(GAITRT_ERR_INTERNAL, "cpu-fast: layer '%s': cannot view the 2-D layout as 5-D", n->name);
        }
    }
    int sbuf, obuf;
    grt_status gs = grt__need(b, n->in[0], &src_v, i, &sbuf);
    if (gs == GRT_OK) gs = grt__conv_out(b, i, sbuf, &dst_v, &obuf);
    if (gs != GRT_OK) {
        dnnl_primitive_desc_destroy(pd);
        return gs;
    }
    grt_fast_step *s = grt__new_step(b, GRT_FS_DNNL, i, "conv");
    if (!s) {
        dnnl_primitive_desc_destroy(pd);
        return grt__oom();
    }
    s->pd = pd;
    grt__arg(s, DNNL_ARG_SRC, sbuf, NULL, smd);
    grt__arg(s, DNNL_ARG_WEIGHTS, -1, wdata, wmd);
    if (c->bias >= 0) {
        dnnl_memory_desc_t bmd;
        dnnl_dims_t bd = {b->p->v[n->out].shape[1]};
        dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a);
        grt__arg(s, DNNL_ARG_BIAS, -1, (void *)fc->bias, &bmd);
    }
    grt__arg(s, DNNL_ARG_DST, fp->val_buf[n->out], NULL, dmd);
    return grt__scratch(b, s);
}

static grt_status grt__pool_node(grt__builder *b, int i) {
    grt_fast_plan *fp = b->fp;
    const grt_node *n = &b->g->nodes[i];
    const int x = n->in[0];
    dnnl_memory_desc_t smd;
    dnnl_data_type_t dt = grt_fast_md_is_blocked(&fp->val_md[x], b->st->blk) ? fp->val_md[x].data_type : dnnl_f32;
    if (!grt__blocked_md(b, x, dt, &smd)) return grt__ref_node(b, i);
    const char *what = n->op == GRT_OP_AVGPOOL ? "avgpool" : "maxpool";
    int sbuf;
    grt_status gs;
    if (dt == dnnl_f32 && getenv("GAITRT_DNNL_POOL") == NULL) {
        /* our kernel (fast_pool.c): oneDNN 2.6's pooling ran GaitPart's 2x2 pools at a third
         * of the memory's speed on AVX2 */
        dnnl_memory_desc_t dmd;
        if (!grt__blocked_md(b, n->out, dnnl_f32, &dmd)) return grt__ref_node(b, i);
        gs = grt__need(b, x, &smd, i, &sbuf);
        if (gs == GRT_OK) gs = grt__home(b, n->out, &dmd, -1);
        grt_fast_step *s = gs == GRT_OK ? grt__new_step(b, GRT_FS_POOL, i, what) : NULL;
        if (!s) return gs != GRT_OK ? gs : grt__oom();
        s->in[0] = sbuf;
        s->n_in = 1;
        s->out = b->fp->val_buf[n->out];
        s->blocked = n->op == GRT_OP_AVGPOOL;
        return GRT_OK;
    }
    dnnl_primitive_desc_t pd = NULL;
    if (grt_fast_pool_pd(b->st, b->p, i, &smd, &pd) != dnnl_success) return grt__ref_node(b, i);
    gs = grt__need(b, x, &smd, i, &sbuf);
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    if (gs == GRT_OK) gs = grt__home(b, n->out, dmd, -1);
    grt_fast_step *s = gs == GRT_OK ? grt__new_step(b, GRT_FS_DNNL, i, what) : NULL;
    if (!s) {
        dnnl_primitive_desc_destroy(pd);
        return gs != GRT_OK ? gs : grt__oom();
    }
    s->pd = pd;
    grt__arg(s, DNNL_ARG_SRC, sbuf, NULL, &smd);
    grt__arg(s, DNNL_ARG_DST, fp->val_buf[n->out], NULL, dmd);
    return grt__scratch(b, s);
}

/* BatchNorm, activations, add, mul: on our blocked layout when the input has it (a bf16 one
 * widened to f32), elementwise ops also on any other f32 layout, else row-major. */
static grt_status grt__eltwise_node(grt__builder *b, int i) {
    grt_fast_plan *fp = b->fp;
    const grt_fast_state *st = b->st;
    const grt_node *n = &b->g->nodes[i];
    const int x = n->in[0];
    const dnnl_memory_desc_t *xmd = &fp->val_md[x];
    dnnl_memory_desc_t md;
    int blocked = grt_fast_md_is_blocked(xmd, st->blk) && grt__blocked_md(b, x, dnnl_f32, &md);
    if (!blocked) {
        if (n->op != GRT_OP_BATCHNORM && xmd->data_type == dnnl_f32 && xmd->format_kind == dnnl_blocked)
            md = *xmd; /* elementwise: any dense f32 layout will do, padding included */
        else
            grt__plain_md(b, x, &md);
    }
    int in[2] = {-1, -1};
    grt_status gs = grt__need(b, x, &md, i, &in[0]);
    if (gs == GRT_OK && n->n_in > 1) gs = grt__need(b, n->in[1], &md, i, &in[1]);
    if (gs != GRT_OK) return gs;
    int reuse = -1;
    if (in[0] == fp->val_buf[x] && grt__can_overwrite(b, x, i))
        reuse = in[0];
    else if (n->n_in > 1 && in[1] == fp->val_buf[n->in[1]] && grt__can_overwrite(b, n->in[1], i))
        reuse = in[1];
    if ((gs = grt__home(b, n->out, &md, reuse)) != GRT_OK) return gs;
    grt_fast_step_kind kind = n->op == GRT_OP_BATCHNORM ? GRT_FS_SCALE_SHIFT
                              : n->op == GRT_OP_ACT     ? GRT_FS_ACT
                              : n->op == GRT_OP_ADD     ? GRT_FS_ADD
                                                        : GRT_FS_MUL;
    grt_fast_step *s = grt__new_step(b, kind, i, grt_op_name(n->op));
    if (!s) return grt__oom();
    s->in[0] = in[0];
    s->in[1] = in[1];
    s->n_in = n->n_in;
    s->out = fp->val_buf[n->out];
    s->bytes = dnnl_memory_desc_get_size(&md);
    s->blocked = blocked;
    if (kind == GRT_FS_SCALE_SHIFT && blocked) {
        /* scale and shift spread over the blocked lanes, zero in the padding */
        const int64_t c = b->p->v[x].shape[1], cp = (c + st->blk - 1) / st->blk * st->blk;
        s->ss = grt_calloc((size_t)(2 * cp), sizeof(float));
        if (!s->ss) return grt__oom();
        memcpy(s->ss, b->g->values[n->a.bn.scale].data, (size_t)c * sizeof(float));
        memcpy(s->ss + cp, b->g->values[n->a.bn.shift].data, (size_t)c * sizeof(float));
    }
    return GRT_OK;
}

/* Temporal max, HPP and separate FCs: our own kernels. */
static grt_status grt__head_node(grt__builder *b, int i) {
    grt_fast_plan *fp = b->fp;
    const grt_node *n = &b->g->nodes[i];
    const int x = n->in[0];
    dnnl_memory_desc_t imd, omd;
    grt_fast_step_kind kind;
    if (n->op == GRT_OP_TEMPORAL_MAX) {
        if (!grt__blocked_md(b, x, dnnl_f32, &imd) || !grt__blocked_md(b, n->out, dnnl_f32, &omd)) return grt__ref_node(b, i);
        kind = GRT_FS_TMAX;
    } else if (n->op == GRT_OP_HPP) {
        if (n->a.hpp.gem || !grt__blocked_md(b, x, dnnl_f32, &imd)) return grt__ref_node(b, i);
        grt__plain_md(b, n->out, &omd);
        kind = GRT_FS_HPP;
    } else {
        grt__plain_md(b, x, &imd);
        grt__plain_md(b, n->out, &omd);
        kind = GRT_FS_SEPFC;
    }
    int in;
    grt_status gs = grt__need(b, x, &imd, i, &in);
    if (gs == GRT_OK) gs = grt__home(b, n->out, &omd, -1);
    if (gs != GRT_OK) return gs;
    grt_fast_step *s = grt__new_step(b, kind, i, grt_op_name(n->op));
    if (!s) return grt__oom();
    s->in[0] = in;
    s->n_in = 1;
    s->out = fp->val_buf[n->out];
    return GRT_OK;
}

/* May a blocked kernel read value x? When it lives blocked in f32, as it is; with AMX
 * convolutions (channels-last outputs), through one conversion to blocked f32, shared by its
 * readers (grt__need), rather than the reference kernel and two conversions. */
static int grt__blocked_readable(const grt__builder *b, int x) {
    const dnnl_memory_desc_t *md = &b->fp->val_md[x];
    if (grt_fast_md_is_blocked(md, b->st->blk)) return md->data_type == dnnl_f32;
    dnnl_memory_desc_t bmd;
    return b->st->nxc && md->format_kind == dnnl_blocked && grt__blocked_md(b, x, dnnl_f32, &bmd);
}

/* Buffer of value x in blocked f32 for node i (a conversion when it lives otherwise). */
static grt_status grt__blocked_input(grt__builder *b, int x, int i, int *buf) {
    dnnl_memory_desc_t bmd;
    if (!grt__blocked_md(b, x, dnnl_f32, &bmd))
        return grt_error(GAITRT_ERR_INTERNAL, "cpu-fast: no blocked layout for the input of '%s'", b->g->nodes[i].name);
    return grt__need(b, x, &bmd, i, buf);
}

/* Concat along channels on the blocked layout when every input but the last fills whole
 * blocks: per item, each input's blocks are one contiguous run of the output's (the last
 * input's padding lanes land in the output's). Anything else: the reference kernel. */
static grt_status grt__concat_node(grt__builder *b, int i) {
    const grt_node *n = &b->g->nodes[i];
    dnnl_memory_desc_t md;
    if (n->a.slice.axis < 1 || n->n_in > GRT_MAX_IN || !grt__blocked_md(b, n->out, dnnl_f32, &md)) return grt__ref_node(b, i);
    /* 3-D values (per-frame vectors) are blocked only where a blocked step made them */
    for (int k = 0; k < n->n_in && b->p->v[n->out].ndim == 3; k++)
        if (!grt_fast_md_is_blocked(&b->fp->val_md[n->in[k]], b->st->blk) && !grt__blocked_readable(b, n->in[k]))
            return grt__ref_node(b, i);
    for (int k = 0; k + 1 < n->n_in && n->a.slice.axis == 1; k++)
        if (b->p->v[n->in[k]].shape[1] % b->st->blk) return grt__ref_node(b, i);
    int in[GRT_MAX_IN];
    for (int k = 0; k < n->n_in; k++) {
        dnnl_memory_desc_t imd;
        if (!grt__blocked_md(b, n->in[k], dnnl_f32, &imd)) return grt__ref_node(b, i);
        grt_status gs = grt__need(b, n->in[k], &imd, i, &in[k]);
        if (gs != GRT_OK) return gs;
    }
    grt_status gs = grt__home(b, n->out, &md, -1);
    if (gs != GRT_OK) return gs;
    grt_fast_step *s = grt__new_step(b, GRT_FS_CONCAT_C, i, "concat");
    if (!s) return grt__oom();
    memcpy(s->in, in, sizeof(int) * (size_t)n->n_in);
    s->n_in = n->n_in;
    s->out = b->fp->val_buf[n->out];
    return GRT_OK;
}

/* A step of our own for node i on its input blocked in f32 (as it lives, or converted; see
 * grt__blocked_readable), the output in a new buffer of layout omd. */
static grt_status grt__unary_step(grt__builder *b, int i, grt_fast_step_kind kind, const char *what,
                                  const dnnl_memory_desc_t *omd) {
    const grt_node *n = &b->g->nodes[i];
    int in;
    grt_status gs = grt__blocked_input(b, n->in[0], i, &in);
    if (gs == GRT_OK) gs = grt__home(b, n->out, omd, -1);
    grt_fast_step *s = gs == GRT_OK ? grt__new_step(b, kind, i, what) : NULL;
    if (!s) return gs != GRT_OK ? gs : grt__oom();
    s->in[0] = in;
    s->n_in = 1;
    s->out = b->fp->val_buf[n->out];
    return GRT_OK;
}

/* GAITRT_NO_BLOCKED_CONTEXT=1 (A/B only): slices, broadcast products and reductions to
 * per-frame vectors on the reference kernels, as before they ran blocked. */
static int grt__no_blocked_context(void) { return getenv("GAITRT_NO_BLOCKED_CONTEXT") != NULL; }

/* A reduction over position axes (T, H, W) of a blocked value: the same reduction over
 * (outer, len, inner * block) floats, and its output is blocked too (3-D included: XGait's
 * per-frame means). GaitGL's and GaitPart's max over the frames. */
static grt_status grt__reduce_node(grt__builder *b, int i) {
    const grt_node *n = &b->g->nodes[i];
    const int x = n->in[0];
    dnnl_memory_desc_t omd;
    if (n->a.reduce.axis < 2 || (b->p->v[n->out].ndim == 3 && grt__no_blocked_context()) ||
        !grt__blocked_readable(b, x) || !grt__blocked_md(b, n->out, dnnl_f32, &omd))
        return grt__ref_node(b, i);
    return grt__unary_step(b, i, GRT_FS_REDUCE, "reduce", &omd);
}

/* A slice of a blocked value along a position axis, or along channels in whole blocks (the
 * last may be partial when it reaches the end): a copy of runs, blocked out. */
static grt_status grt__slice_node(grt__builder *b, int i) {
    const grt_node *n = &b->g->nodes[i];
    const int x = n->in[0], ax = n->a.slice.axis, blk = b->st->blk;
    const int64_t c = b->p->v[x].shape[1];
    dnnl_memory_desc_t omd;
    if (ax < 1 || grt__no_blocked_context() || !grt__blocked_readable(b, x) || !grt__blocked_md(b, n->out, dnnl_f32, &omd))
        return grt__ref_node(b, i);
    if (ax == 1 && (n->a.slice.start % blk || (n->a.slice.len % blk && n->a.slice.start + n->a.slice.len != c)))
        return grt__ref_node(b, i);
    return grt__unary_step(b, i, GRT_FS_SLICE, "slice", &omd);
}

/* a * b with b broadcast: over positions (b has a's channels, blocked) or over channels (b has
 * one, read row-major), a blocked; in place when a dies here. XGait's channel weights per
 * frame and its label masks. */
static grt_status grt__mul_bcast_node(grt__builder *b, int i) {
    grt_fast_plan *fp = b->fp;
    const grt_node *n = &b->g->nodes[i];
    const int x = n->in[0], m = n->in[1];
    const grt_vplan *xv = &b->p->v[x], *mv = &b->p->v[m];
    dnnl_memory_desc_t omd, mmd;
    if (grt__no_blocked_context() || !grt__blocked_readable(b, x) || xv->ndim != mv->ndim ||
        (mv->shape[0] != 1 && mv->shape[0] != xv->shape[0]) || !grt__blocked_md(b, n->out, dnnl_f32, &omd))
        return grt__ref_node(b, i);
    const int b_blocked = mv->shape[1] == xv->shape[1];
    if (!b_blocked && mv->shape[1] != 1) return grt__ref_node(b, i);
    if (b_blocked ? !grt__blocked_md(b, m, dnnl_f32, &mmd) : (grt__plain_md(b, m, &mmd), 0)) return grt__ref_node(b, i);
    int in[2];
    grt_status gs = grt__need(b, m, &mmd, i, &in[1]);
    if (gs == GRT_OK) gs = grt__blocked_input(b, x, i, &in[0]);
    if (gs != GRT_OK) return gs;
    /* in place over a (when a is its own buffer, not a converted copy), unless b is a view of
     * the same storage (its broadcast reads would see products already written) */
    const int reuse = in[0] == fp->val_buf[x] && grt__can_overwrite(b, x, i) && fp->buf[in[0]].root != fp->buf[in[1]].root
                          ? in[0] : -1;
    if ((gs = grt__home(b, n->out, &omd, reuse)) != GRT_OK) return gs;
    grt_fast_step *s = grt__new_step(b, GRT_FS_MUL_BCAST, i, "mul_bcast");
    if (!s) return grt__oom();
    s->in[0] = in[0];
    s->in[1] = in[1];
    s->n_in = 2;
    s->out = fp->val_buf[n->out];
    s->blocked = b_blocked;
    return GRT_OK;
}

/* A reshape that keeps N and C and only regroups the positions (T, H, W) reads the same bytes
 * in the channel-blocked layout as row-major: (N, C/b, positions, b) either way. GaitPart's
 * focal convolutions (rows into strips, strips into frames) stay blocked through it. */
static int grt__blocked_view(const grt__builder *b, int x, int y, dnnl_memory_desc_t *md) {
    const grt_vplan *xv = &b->p->v[x], *yv = &b->p->v[y];
    const dnnl_memory_desc_t *xmd = &b->fp->val_md[x];
    if (xv->ndim < 3 || yv->ndim < 3 || xv->shape[0] != yv->shape[0] || xv->shape[1] != yv->shape[1]) return 0;
    if (!grt_fast_md_is_blocked(xmd, b->st->blk)) return 0;
    return grt__blocked_md(b, y, xmd->data_type, md) && dnnl_memory_desc_get_size(md) == dnnl_memory_desc_get_size(xmd);
}

static grt_status grt__reshape_node(grt__builder *b, int i) {
    const grt_node *n = &b->g->nodes[i];
    dnnl_memory_desc_t md;
    int in;
    if (getenv("GAITRT_NO_BLOCKED_VIEW") == NULL && grt__blocked_view(b, n->in[0], n->out, &md))
        return grt__home(b, n->out, &md, b->fp->val_buf[n->in[0]]);
    grt__plain_md(b, n->in[0], &md);
    grt_status gs = grt__need(b, n->in[0], &md, i, &in);
    if (gs != GRT_OK) return gs;
    grt__plain_md(b, n->out, &md);
    return grt__home(b, n->out, &md, in); /* same bytes, new shape */
}

/* First fit over buffer lifetimes, in step order (as graph/plan.c). */
static grt_status grt__layout(grt_fast_plan *fp) {
    for (int k = 0; k < fp->n_step; k++) {
        const grt_fast_step *s = &fp->step[k];
        int ids[GRT_FAST_MAX_ARGS + GRT_MAX_IN + 1], n = 0;
        for (int a = 0; a < s->n_args; a++)
            if (s->arg[a].buf >= 0) ids[n++] = s->arg[a].buf;
        for (int a = 0; a < s->n_in; a++)
            if (s->in[a] >= 0) ids[n++] = s->in[a];
        if (s->out >= 0) ids[n++] = s->out;
        for (int j = 0; j < n; j++) {
            grt_fast_buf *bf = &fp->buf[ids[j]];
            if (bf->first < 0) bf->first = k;
            if (k > bf->last) bf->last = k;
        }
    }
    for (int k = 0; fp->chunk && k < fp->n_frame_steps; k++)
        if (fp->step[k].kind == GRT_FS_TMAX) fp->buf[fp->step[k].out].first = 0; /* maxima live across chunks */
    grt_fast_buf *ob = &fp->buf[fp->out_buf];
    ob->last = fp->n_step; /* read after the last step */
    if (ob->first < 0) ob->first = fp->n_step;
    typedef struct { size_t off, size; int buf; } blk_t;
    blk_t *live = grt_malloc((size_t)(fp->n_buf + 1) * sizeof *live);
    if (!live) return grt__oom();
    int nl = 0;
    size_t arena = 0;
    for (int k = 0; k <= fp->n_step; k++) {
        for (int j = 0; j < nl;) {
            if (fp->buf[live[j].buf].last < k) {
                memmove(&live[j], &live[j + 1], (size_t)(nl - j - 1) * sizeof *live);
                nl--;
            } else {
                j++;
            }
        }
        for (int bi = 0; bi < fp->n_buf; bi++) {
            grt_fast_buf *bf = &fp->buf[bi];
            if (bf->first != k || bf->input >= 0) continue;
            size_t off = 0;
            int pos = 0;
            for (; pos < nl; pos++) {
                if (live[pos].off >= off + bf->bytes) break;
                off = live[pos].off + live[pos].size;
            }
            memmove(&live[pos + 1], &live[pos], (size_t)(nl - pos) * sizeof *live);
            live[pos].off = off;
            live[pos].size = bf->bytes;
            live[pos].buf = bi;
            nl++;
            bf->off = off;
            if (off + bf->bytes > arena) arena = off + bf->bytes;
        }
    }
    grt_free(live);
    fp->arena_bytes = arena;
    return GRT_OK;
}

int grt_fast_plan_ref_convs(const grt_fast_plan *fp) {
    int n = 0;
    for (int k = 0; fp && k < fp->n_step; k++) {
        const grt_fast_step *s = &fp->step[k];
        const char *impl = NULL;
        if (s->kind != GRT_FS_DNNL || !s->pd || fp->st->g->nodes[s->node].op != GRT_OP_CONV) continue;
        dnnl_primitive_desc_query(s->pd, dnnl_query_impl_info_str, 0, &impl);
        n += impl && !strncmp(impl, "ref", 3);
    }
    return n;
}

void grt_fast_plan_free(grt_fast_plan *fp) {
    if (!fp) return;
    for (int k = 0; k < fp->n_step; k++) {
        grt_fast_step *s = &fp->step[k];
        for (int a = 0; a < s->n_args; a++)
            if (s->mem[a]) dnnl_memory_destroy(s->mem[a]);
        if (s->prim) dnnl_primitive_destroy(s->prim);
        if (s->pd) dnnl_primitive_desc_destroy(s->pd);
        grt_free(s->ss);
    }
    for (int k = 0; k < fp->n_extra; k++) grt_free_aligned(fp->extra[k]);
    if (fp->stream) dnnl_stream_destroy(fp->stream);
    grt_free(fp->extra);
    grt_free(fp->step);
    grt_free(fp->buf);
    grt_free(fp->val_buf);
    grt_free(fp->val_md);
    grt_free(fp->cseg);
    grt_free(fp->cmap);
    grt_free(fp->cfirst);
    grt_free(fp->bufptr);
    if (fp->own_arena) grt_free_aligned(fp->arena);
    grt_plan_free(fp->p);
    grt_free(fp);
}

/* Creates the primitives and their memory objects over the arena. */
static grt_status grt__instantiate(grt_fast_plan *fp) {
    const grt_fast_state *st = fp->st;
    dnnl_status_t ds = dnnl_stream_create(&fp->stream, st->eng, dnnl_stream_default_flags);
    if (ds != dnnl_success) return grt_fast_dnnl_err(ds, "stream creation", "-");
    for (int k = 0; k < fp->n_step; k++) {
        grt_fast_step *s = &fp->step[k];
        if (s->kind != GRT_FS_DNNL) continue;
        const char *name = st->g->nodes[s->node].name;
        if ((ds = dnnl_primitive_create(&s->prim, s->pd)) != dnnl_success) return grt_fast_dnnl_err(ds, s->what, name);
        for (int a = 0; a < s->n_args; a++) {
            const grt_fast_arg *ar = &s->arg[a];
            void *h = ar->ext;
            if (ar->buf >= 0) {
                const grt_fast_buf *bf = &fp->buf[ar->buf];
                h = bf->input >= 0 || !fp->arena ? DNNL_MEMORY_NONE : (char *)fp->arena + bf->off;
            }
            if ((ds = dnnl_memory_create(&s->mem[a], &ar->md, st->eng, h)) != dnnl_success)
                return grt_fast_dnnl_err(ds, "memory object", name);
            s->exec[a].arg = ar->kind;
            s->exec[a].memory = s->mem[a];
        }
    }
    return GRT_OK;
}

/* Frames per chunk for a batch of a frame-independent model, or 0 for the whole batch at once.
 * framed[v] is set for the values that hold frames (before temporal pooling). Chunks need
 * single-channel inputs (a chunk of the caller's input is then one contiguous run) and frame
 * values that never read a per-sequence value. */
static int grt__chunk_frames(const grt_graph *g, const grt_batch_shape *bs, char *framed) {
    if (g->temporal_mixing || bs->n != 1 || bs->t <= GRT_FAST_CHUNK_FRAMES) return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const grt_node *n = &g->nodes[i];
        if (n->op == GRT_OP_INPUT) {
            if (n->a.input.channels != 1) return 0;
            framed[n->out] = 1;
            continue;
        }
        int any = 0;
        for (int k = 0; k < n->n_in; k++) any |= framed[n->in[k]];
        if (!any || n->op == GRT_OP_TEMPORAL_MAX) continue;
        for (int k = 0; k < n->n_in; k++)
            if (!framed[n->in[k]] && !g->values[n->in[k]].is_const) return 0;
        if (n->op == GRT_OP_CONV && n->a.conv.residual >= 0 && !framed[n->a.conv.residual]) return 0;
        framed[n->out] = 1;
    }
    if (framed[g->output]) return 0;
    const int nc = (bs->t + GRT_FAST_CHUNK_FRAMES - 1) / GRT_FAST_CHUNK_FRAMES;
    return (bs->t + nc - 1) / nc;
}

/* Chunked plan: temporal max steps get a scratch for the chunk's maxima, and the steps are
 * reordered (stably) so that everything on frames and the temporal maxima come first. Returns
 * 0 when a temporal max did not get the fast kernel (the plan is then made unchunked). */
static int grt__chunk_steps(grt__builder *b, const char *framed) {
    grt_fast_plan *fp = b->fp;
    const grt_graph *g = b->g;
    for (int k = 0; k < fp->n_step; k++) {
        grt_fast_step *s = &fp->step[k];
        if (g->nodes[s->node].op != GRT_OP_TEMPORAL_MAX) continue;
        if (s->kind != GRT_FS_TMAX) return 0;
        int tmp = grt__new_buf(b, fp->buf[s->out].bytes, -1, INT_MAX);
        if (tmp < 0) return -1;
        s = &fp->step[k];
        s->in[1] = tmp;
        s->n_in = 2;
    }
    grt_fast_step *tmp = grt_malloc((size_t)fp->n_step * sizeof *tmp);
    if (!tmp) return -1;
    int m = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < fp->n_step; k++) {
            const grt_node *n = &g->nodes[fp->step[k].node];
            int frame = framed[n->out] || n->op == GRT_OP_TEMPORAL_MAX;
            if (frame == (pass == 0)) tmp[m++] = fp->step[k];
            if (pass == 0 && frame) fp->n_frame_steps = m;
        }
    memcpy(fp->step, tmp, (size_t)m * sizeof *tmp);
    grt_free(tmp);
    return 1;
}

static grt_status grt__plan_build(const grt_fast_state *st, const grt_batch_shape *bs, int with_prims, int allow_chunk,
                                  grt_fast_plan **out);

grt_status grt_fast_plan_build(const grt_fast_state *st, const grt_batch_shape *bs, int with_prims,
                               grt_fast_plan **out) {
    return grt__plan_build(st, bs, with_prims, 1, out);
}

static grt_status grt__plan_build(const grt_fast_state *st, const grt_batch_shape *bs, int with_prims, int allow_chunk,
                                  grt_fast_plan **out) {
    *out = NULL;
    const grt_graph *g = st->g;
    grt_fast_plan *fp = grt_calloc(1, sizeof *fp);
    char *framed = grt_calloc((size_t)g->n_values + 1, 1);
    if (!fp || !framed) {
        grt_free(fp);
        grt_free(framed);
        return grt__oom();
    }
    fp->st = st;
    fp->out_buf = -1;
    fp->total_t = bs->t;
    fp->chunk = allow_chunk ? grt__chunk_frames(g, bs, framed) : 0;
    grt_batch_shape pbs = *bs;
    if (fp->chunk) pbs.t = fp->chunk;
    grt__builder b;
    memset(&b, 0, sizeof b);
    b.fp = fp;
    b.st = st;
    b.g = g;
    b.with_prims = with_prims;
    grt_status gs = grt_plan_create(g, &pbs, &fp->p);
    if (gs != GRT_OK) {
        grt_free(fp);
        grt_free(framed);
        return gs;
    }
    b.p = fp->p;
    fp->val_buf = grt_malloc((size_t)g->n_values * sizeof *fp->val_buf);
    fp->val_md = grt_calloc((size_t)g->n_values, sizeof *fp->val_md);
    b.last_reader = grt_malloc((size_t)g->n_values * sizeof(int));
    b.absorbed = grt_calloc((size_t)g->n_nodes + 1, 1);
    if (!fp->val_buf || !fp->val_md || !b.last_reader || !b.absorbed) {
        gs = grt__oom();
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) {
        fp->val_buf[v] = -1;
        b.last_reader[v] = fp->p->v[v].last;
    }

#ifdef GAITRT_HAVE_OPENMP
    const int prev_threads = omp_get_max_threads();
    omp_set_num_threads(st->nt); /* oneDNN sizes its work split by the threads at creation */
#endif
    for (int i = 0; i < g->n_nodes && gs == GRT_OK; i++) {
        const grt_node *n = &g->nodes[i];
        dnnl_memory_desc_t md;
        if (b.absorbed[i]) continue;
        switch (n->op) {
        case GRT_OP_INPUT: {
            grt__plain_md(&b, n->out, &md);
            int bf = grt__new_buf(&b, dnnl_memory_desc_get_size(&md), n->a.input.index, INT_MAX);
            if (bf < 0) {
                gs = grt__oom();
                break;
            }
            fp->val_buf[n->out] = bf;
            fp->val_md[n->out] = md;
            break;
        }
        case GRT_OP_CONV: gs = grt__conv_node(&b, i); break;
        case GRT_OP_MAXPOOL:
        case GRT_OP_AVGPOOL: gs = grt__pool_node(&b, i); break;
        case GRT_OP_BATCHNORM:
        case GRT_OP_ACT:
        case GRT_OP_ADD:
        case GRT_OP_MUL: gs = grt__eltwise_node(&b, i); break;
        case GRT_OP_TEMPORAL_MAX:
        case GRT_OP_HPP:
        case GRT_OP_SEPFC: gs = grt__head_node(&b, i); break;
        case GRT_OP_RESHAPE: gs = grt__reshape_node(&b, i); break;
        case GRT_OP_CONCAT: gs = grt__concat_node(&b, i); break;
        case GRT_OP_REDUCE: gs = grt__reduce_node(&b, i); break;
        case GRT_OP_MUL_BCAST: gs = grt__mul_bcast_node(&b, i); break;
        case GRT_OP_SLICE: {
            grt__strip_set ss;
            gs = grt__strip_find(&b, i, &ss) ? grt__strip_node(&b, &ss) : grt__slice_node(&b, i);
            break;
        }
        default: gs = grt__ref_node(&b, i); break;
        }
    }
    if (gs == GRT_OK) {
        dnnl_memory_desc_t md;
        grt__plain_md(&b, g->output, &md);
        gs = grt__need(&b, g->output, &md, g->n_nodes - 1, &fp->out_buf);
    }
#ifdef GAITRT_HAVE_OPENMP
    omp_set_num_threads(prev_threads);
#endif
    if (gs == GRT_OK && fp->chunk) {
        int r = grt__chunk_steps(&b, framed);
        if (r < 0) gs = grt__oom();
        if (r == 0) { /* no fast temporal max here: the whole batch at once */
            grt_free(b.last_reader);
            grt_free(b.buf_last);
            grt_free(b.der);
            grt_free(b.absorbed);
            grt_free(framed);
            grt_fast_plan_free(fp);
            return grt__plan_build(st, bs, with_prims, 0, out);
        }
        fp->cseg = grt_malloc((size_t)bs->n_seq * sizeof *fp->cseg);
        fp->cmap = grt_malloc((size_t)bs->n_seq * sizeof *fp->cmap);
        fp->cfirst = grt_malloc((size_t)bs->n_seq);
        if (gs == GRT_OK && (!fp->cseg || !fp->cmap || !fp->cfirst)) gs = grt__oom();
    }
    if (gs == GRT_OK) gs = grt__layout(fp);
    if (gs == GRT_OK && with_prims) {
        fp->bufptr = grt_calloc((size_t)fp->n_buf, sizeof *fp->bufptr);
        fp->own_arena = with_prims == 1;
        fp->arena = fp->own_arena ? grt_malloc_aligned(fp->arena_bytes ? fp->arena_bytes : 64) : NULL;
        if (!fp->bufptr || (fp->own_arena && !fp->arena)) {
            gs = grt_error(GAITRT_ERR_NOMEM, "cpu-fast: out of memory: the activation arena needs %.1f MiB for a batch of "
                           "%d x %d frames ---> HINT: use smaller batches", (double)fp->arena_bytes / 1048576.0, bs->n, bs->t);
        } else {
            if (fp->arena) memset(fp->arena, 0, fp->arena_bytes); /* every page faulted in now, not during a run */
#ifdef GAITRT_HAVE_OPENMP
            omp_set_num_threads(st->nt);
#endif
            gs = grt__instantiate(fp);
            /* start the OpenMP pool now: the first run should not create threads */
#pragma omp parallel num_threads(st->nt)
            { (void)0; }
#ifdef GAITRT_HAVE_OPENMP
            omp_set_num_threads(prev_threads);
#endif
        }
    }
done:
    grt_free(framed);
    grt_free(b.last_reader);
    grt_free(b.buf_last);
    grt_free(b.der);
    grt_free(b.absorbed);
    if (gs != GRT_OK) {
        grt_fast_plan_free(fp);
        return gs;
    }
    *out = fp;
    return GRT_OK;
}

/* ---- running ------------------------------------------------------------------------- */

/* A node we have no fast kernel for: its reference kernel on our buffers (same layout). */
static grt_status grt__run_ref(const grt_fast_plan *fp, const grt_fast_step *s, const grt_run_args *a) {
    const grt_graph *g = fp->st->g;
    const grt_node *n = &g->nodes[s->node];
    if (n->op == GRT_OP_INPUT || n->op == GRT_OP_RESHAPE) return GRT_OK; /* reshape aliases; input has no step */
    const float *ins[GRT_MAX_IN];
    for (int k = 0; k < n->n_in; k++) ins[k] = fp->bufptr[s->in[k]];
    if (n->op == GRT_OP_SOFTMAX) {
        const grt_vplan *xv = &fp->p->v[n->in[0]];
        const int ax = n->a.softmax.axis;
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < ax; d++) outer *= xv->shape[d];
        for (int d = ax + 1; d < xv->ndim; d++) inner *= xv->shape[d];
        grt_fast_softmax(ins[0], outer, xv->shape[ax], inner, (float *)fp->bufptr[s->out], fp->st->nt);
        return GRT_OK;
    }
    const float *res = n->op == GRT_OP_CONV && n->a.conv.residual >= 0 ? fp->bufptr[s->in[1]] : NULL;
    return grt_ref_node(g, fp->p, s->node, ins, res, (float *)fp->bufptr[s->out], a->segments, fp->st->nt);
}

static grt_status grt__check_segments(const grt_fast_plan *fp, const grt_segment *seg) {
    const grt_plan *p = fp->p;
    if (!seg) return grt_error(GAITRT_ERR_INVALID_ARG, "cpu-fast: the run has no segments (one per sequence)");
    for (int s = 0; s < p->bs.n_seq; s++)
        if (seg[s].b < 0 || seg[s].b >= p->bs.n || seg[s].t0 < 0 || seg[s].len < 1 || seg[s].t0 + seg[s].len > fp->total_t)
            return grt_error(GAITRT_ERR_INVALID_ARG, "cpu-fast: segment %d (item %d, frames %d..%d) lies outside the batch "
                             "of %d x %d frames", s, seg[s].b, seg[s].t0, seg[s].t0 + seg[s].len, p->bs.n, fp->total_t);
    return GRT_OK;
}

/* Padded batch: the frames after each item's sequences are zeroed in the buffer a temporal
 * convolution reads (see grt_graph_pad_safe). Graph inputs arrive zero-padded. The buffer is
 * in our blocked layout, or in whatever layout oneDNN chose for the convolution's input
 * (channels-last, another channel block): then element by element through its strides. */
static grt_status grt__mask_padding(const grt_fast_plan *fp, int buf, const dnnl_memory_desc_t *md, const int64_t xs[5],
                                    const grt_run_args *a) {
    if (buf < 0 || fp->buf[buf].input >= 0 || md->ndims < 4) return GRT_OK;
    const int blk = fp->st->blk;
    /* the value is (N, C, T, H, W); the primitive may see it as (N, C, T, H*W) or (N, C, 1, T)
     * (a temporal kernel run as 2-D), which are the same bytes when blocked */
    const int64_t n = xs[0], c = xs[1], t = xs[2], hw = xs[3] * xs[4];
    const size_t elem = md->data_type == dnnl_bf16 ? 2 : 4;
    if (grt_fast_md_is_blocked(md, blk)) {
        grt_pad_mask_frames((void *)fp->bufptr[buf], n, (c + blk - 1) / blk, t, hw * blk, elem, a->segments, fp->p->bs.n_seq);
        return GRT_OK;
    }
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    if (md->format_kind != dnnl_blocked || md->dims[2] != t || bd->inner_nblks > 1 ||
        (bd->inner_nblks == 1 && bd->inner_idxs[0] != 1))
        return grt_error(GAITRT_ERR_INTERNAL, "cpu-fast: cannot zero the padded frames of a convolution input in this layout "
                         "---> HINT: set seq_len_tolerance to 0 (equal lengths per batch)");
    const int64_t ib = bd->inner_nblks == 1 ? bd->inner_blks[0] : 1;
    const int64_t h = md->dims[3], w = md->ndims == 5 ? md->dims[4] : 1, sw = md->ndims == 5 ? bd->strides[4] : 0;
    char *base = (char *)fp->bufptr[buf] + (size_t)md->offset0 * elem;
    for (int64_t b = 0; b < n; b++) {
        const int64_t end = grt_pad_item_end(a->segments, fp->p->bs.n_seq, b);
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t f = end; f < t; f++)
                for (int64_t y = 0; y < h; y++)
                    for (int64_t x = 0; x < w; x++) {
                        const int64_t off = b * bd->strides[0] + (ch / ib) * bd->strides[1] + f * bd->strides[2] +
                                            y * bd->strides[3] + x * sw + ch % ib;
                        memset(base + (size_t)off * elem, 0, elem);
                    }
    }
    return GRT_OK;
}

/* Steps [k0, k1) of a run. In frame chunks, temporal max reduces the chunk's segments (n_cseg
 * of them, fp->cseg) into scratch and merges them into the sequences' running maxima. */
static grt_status grt__run_steps(grt_fast_plan *fp, const grt_run_args *a, int k0, int k1, int n_cseg, double *t0p) {
    const grt_fast_state *st = fp->st;
    const grt_graph *g = st->g;
    const grt_plan *p = fp->p;
    const int nt = st->nt, blk = st->blk;
    grt_status gs = GRT_OK;
    double t0 = *t0p;
    const int padded = g->temporal_mixing && grt_pad_any(a->segments, p->bs.n_seq, p->bs.n, p->bs.t);
    for (int k = k0; k < k1 && gs == GRT_OK; k++) {
        grt_fast_step *s = &fp->step[k];
        const grt_node *n = &g->nodes[s->node];
        if (padded && n->op == GRT_OP_CONV && n->a.conv.k[0] > 1) {
            if (s->kind == GRT_FS_DNNL && !strcmp(s->what, "conv")) {
                for (int j = 0; j < s->n_args; j++)
                    if (s->arg[j].kind == DNNL_ARG_SRC && gs == GRT_OK)
                        gs = grt__mask_padding(fp, s->arg[j].buf, &s->arg[j].md, p->v[n->in[0]].shape, a);
            } else if (s->kind == GRT_FS_WINO && fp->buf[s->in[0]].input < 0) {
                const int64_t *xs = p->v[n->in[0]].shape; /* (N, C, T, H, W), blocked; H of one strip */
                grt_pad_mask_frames((void *)fp->bufptr[s->in[0]], xs[0], (xs[1] + blk - 1) / blk, xs[2],
                                    xs[3] * xs[4] * blk * (s->strips > 1 ? s->strips : 1), sizeof(float), a->segments,
                                    p->bs.n_seq);
            } else if (s->kind == GRT_FS_REF && fp->buf[s->in[0]].input < 0) {
                grt_pad_mask_value((float *)fp->bufptr[s->in[0]], &p->v[n->in[0]], a->segments, p->bs.n_seq);
            }
        }
        const float *x = s->n_in > 0 ? fp->bufptr[s->in[0]] : NULL;
        float *y = s->out >= 0 ? (float *)fp->bufptr[s->out] : NULL;
        switch (s->kind) {
        case GRT_FS_DNNL: {
            for (int j = 0; j < s->n_args; j++)
                if (s->arg[j].buf >= 0 && fp->buf[s->arg[j].buf].input >= 0)
                    dnnl_memory_set_data_handle(s->mem[j], (void *)fp->bufptr[s->arg[j].buf]);
            dnnl_status_t ds = dnnl_primitive_execute(s->prim, fp->stream, s->n_args, s->exec);
            if (ds != dnnl_success) gs = grt_fast_dnnl_err(ds, s->what, n->name);
            break;
        }
        case GRT_FS_COPY: memcpy(y, x, s->bytes); break;
        case GRT_FS_TMAX: {
            const int64_t *xs = p->v[n->in[0]].shape; /* (N, C, T, H, W) */
            const int64_t cb = (xs[1] + blk - 1) / blk, hwb = xs[3] * xs[4] * blk;
            if (!fp->chunk) {
                st->k.temporal_max(x, xs[0], cb, xs[2], hwb, a->segments, p->bs.n_seq, y, nt);
                break;
            }
            float *tmp = (float *)fp->bufptr[s->in[1]];
            st->k.temporal_max(x, xs[0], cb, xs[2], hwb, fp->cseg, n_cseg, tmp, nt);
            const int64_t per = cb * hwb;
            for (int j = 0; j < n_cseg; j++) {
                float *yj = y + (int64_t)fp->cmap[j] * per;
                const float *tj = tmp + (int64_t)j * per;
                if (fp->cfirst[j]) {
                    memcpy(yj, tj, (size_t)per * sizeof(float));
                } else {
#pragma omp parallel for schedule(static) num_threads(nt)
                    for (int64_t i = 0; i < per; i++)
                        if (tj[i] > yj[i] || isnan(tj[i])) yj[i] = tj[i];
                }
            }
            break;
        }
        case GRT_FS_REDUCE: {
            const grt_vplan *xv = &p->v[n->in[0]];
            const int ax = n->a.reduce.axis, na = n->a.reduce.n_axes;
            int64_t outer = xv->shape[0] * ((xv->shape[1] + blk - 1) / blk), len = 1, inner = blk;
            for (int d = 2; d < ax; d++) outer *= xv->shape[d];
            for (int d = ax; d < ax + na; d++) len *= xv->shape[d];
            for (int d = ax + na; d < xv->ndim; d++) inner *= xv->shape[d];
            if (n->a.reduce.mode == GRT_REDUCE_MAX) {
                const grt_segment all = {0, 0, (int)len}; /* the temporal max over one run of len */
                st->k.temporal_max(x, 1, outer, len, inner, &all, 1, y, nt);
            } else {
                grt_fast_reduce(x, outer, len, inner, n->a.reduce.mode, y, nt);
            }
            break;
        }
        case GRT_FS_SLICE: {
            const grt_vplan *xv = &p->v[n->in[0]];
            grt_fast_slice_blocked(x, xv->shape, xv->ndim, n->a.slice.axis, n->a.slice.start, n->a.slice.len, blk, y, nt);
            break;
        }
        case GRT_FS_MUL_BCAST: {
            const grt_vplan *xv = &p->v[n->in[0]], *mv = &p->v[n->in[1]];
            grt_fast_mul_bcast_blocked(x, xv->shape, fp->bufptr[s->in[1]], mv->shape, xv->ndim, s->blocked, blk, y, nt);
            break;
        }
        case GRT_FS_POOL: {
            const int64_t *xv = p->v[n->in[0]].shape, *yv = p->v[n->out].shape;
            const int64_t xs[5] = {xv[0], (xv[1] + blk - 1) / blk, xv[2], xv[3], xv[4]};
            const int64_t ys[5] = {yv[0], (yv[1] + blk - 1) / blk, yv[2], yv[3], yv[4]};
            st->k.pool(x, xs, y, ys, &n->a.pool, s->blocked, blk, nt);
            break;
        }
        case GRT_FS_HPP: {
            const int64_t *xs = p->v[n->in[0]].shape; /* (S, C, H, W) */
            st->k.hpp(x, xs[0], xs[1], xs[2] * xs[3], blk, n->a.hpp.bins, n->a.hpp.n_bins, y, nt);
            break;
        }
        case GRT_FS_SEPFC: {
            const int64_t *xs = p->v[n->in[0]].shape; /* (S, C, P) */
            st->k.sepfc(x, xs[0], xs[1], xs[2], st->fcw[s->node], p->v[n->out].shape[1], y, nt);
            break;
        }
        case GRT_FS_SCALE_SHIFT: {
            const grt_vplan *xv = &p->v[n->in[0]];
            int64_t inner = 1;
            for (int d = 2; d < xv->ndim; d++) inner *= xv->shape[d];
            if (s->blocked) {
                const int64_t cb = (xv->shape[1] + blk - 1) / blk;
                grt_fast_scale_shift_blocked(x, y, xv->shape[0], cb, inner, blk, s->ss, s->ss + cb * blk, n->a.bn.act,
                                             n->a.bn.alpha, nt);
            } else {
                grt_fast_scale_shift_plain(x, y, xv->shape[0], xv->shape[1], inner, g->values[n->a.bn.scale].data,
                                           g->values[n->a.bn.shift].data, n->a.bn.act, n->a.bn.alpha, nt);
            }
            break;
        }
        case GRT_FS_ACT: grt_fast_act(x, y, (int64_t)(s->bytes / sizeof(float)), n->a.act.act, n->a.act.alpha, nt); break;
        case GRT_FS_ADD: grt_fast_add(x, fp->bufptr[s->in[1]], y, (int64_t)(s->bytes / sizeof(float)), nt); break;
        case GRT_FS_MUL: grt_fast_mul(x, fp->bufptr[s->in[1]], y, (int64_t)(s->bytes / sizeof(float)), nt); break;
        case GRT_FS_REF: gs = grt__run_ref(fp, s, a); break; /* the loop stops on an error; threads restored below */
        case GRT_FS_CONCAT_C: {
            const grt_vplan *yv = &p->v[n->out];
            const int axis = n->a.slice.axis;
            if (axis >= 2) {
                /* along a position axis: per (item, channel block, outer positions), each input's
                 * run of positions in turn */
                int64_t outer = yv->shape[0] * ((yv->shape[1] + blk - 1) / blk), orun = blk;
                for (int d = 2; d < axis; d++) outer *= yv->shape[d];
                for (int d = axis; d < yv->ndim; d++) orun *= yv->shape[d];
                int64_t krun[GRT_MAX_IN];
                for (int k = 0; k < s->n_in; k++) {
                    krun[k] = orun / yv->shape[axis] * p->v[n->in[k]].shape[axis];
                }
#pragma omp parallel for schedule(static) num_threads(nt)
                for (int64_t o = 0; o < outer; o++) {
                    float *yo = y + o * orun;
                    for (int k = 0; k < s->n_in; k++) {
                        memcpy(yo, (const float *)fp->bufptr[s->in[k]] + o * krun[k], (size_t)krun[k] * sizeof(float));
                        yo += krun[k];
                    }
                }
                break;
            }
            int64_t inner = 1;
            for (int d = 2; d < yv->ndim; d++) inner *= yv->shape[d];
            const int64_t cbo = (yv->shape[1] + blk - 1) / blk, run = inner * blk;
            for (int64_t b = 0; b < yv->shape[0]; b++) {
                int64_t off = 0;
                for (int k = 0; k < s->n_in; k++) {
                    const int64_t cbk = (p->v[n->in[k]].shape[1] + blk - 1) / blk;
                    memcpy(y + (b * cbo + off) * run, (const float *)fp->bufptr[s->in[k]] + b * cbk * run,
                           (size_t)(cbk * run) * sizeof(float));
                    off += cbk;
                }
            }
            break;
        }
        case GRT_FS_WINO: {
            const int64_t *xs = p->v[n->in[0]].shape, *ys = p->v[n->out].shape; /* (N, C, T, H, W) */
            const grt_conv_attr *c = &n->a.conv;
            const grt_fast_conv *fc = &st->conv[s->node];
            if (fc->wino_t == 3) {
                const int strips = s->strips > 1 ? s->strips : 1;
                const grt_node *an = s->act_node >= 0 ? &g->nodes[s->act_node] : NULL;
                grt_fast_wino_3d_conv_avx2(x, y, fc->wino_lazy ? NULL : fc->wdata, fc->wino_lazy ? fc->wdata : NULL,
                                           fc->bias, xs[0], xs[2], xs[3] * strips, xs[4], xs[1], ys[1], c->residual >= 0,
                                           an ? an->a.act.act : c->act, an ? an->a.act.alpha : c->alpha, fc->wino_m,
                                           strips, (float *)fp->bufptr[s->in[1]], nt);
            } else if (fc->wino_t == 1)
                grt_fast_wino_t_conv_avx2(x, y, fc->wdata, fc->bias, xs[0], xs[2], xs[3] * xs[4], xs[1], ys[1],
                                          c->residual >= 0, c->act, c->alpha, (float *)fp->bufptr[s->in[1]], nt);
            else
                grt_fast_wino_conv_avx2(x, y, fc->wdata, fc->bias, xs[0], xs[2], xs[3], xs[4], xs[1], ys[1],
                                        c->residual >= 0, c->act, c->alpha, fc->wino_m, s->blocked,
                                        (float *)fp->bufptr[s->in[1]], nt);
            break;
        }
        }
        /* one profile event per graph node, covering its conversions */
        if (a->prof && (k + 1 == fp->n_step || fp->step[k + 1].node != s->node)) {
            double t1 = grt_now_s();
            const double sn = s->strips > 1 ? s->strips : 1; /* one conv node stands for all strips */
            grt_prof_add(a->prof, s->name ? s->name : n->name, s->what, s->node, t0, t1, p->node_flops[s->node] * sn,
                         p->node_bytes[s->node] * sn);
            t0 = t1;
        }
    }
    *t0p = t0;
    return gs;
}

void grt_fast_plan_bind(void *plan, void *arena) {
    grt_fast_plan *fp = plan;
    if (fp->arena == arena) return;
    fp->arena = arena;
    for (int k = 0; k < fp->n_step; k++) {
        grt_fast_step *s = &fp->step[k];
        if (s->kind != GRT_FS_DNNL || !s->prim) continue;
        for (int a = 0; a < s->n_args; a++)
            if (s->arg[a].buf >= 0 && fp->buf[s->arg[a].buf].input < 0)
                dnnl_memory_set_data_handle(s->mem[a], (char *)arena + fp->buf[s->arg[a].buf].off);
    }
}

grt_status grt_fast_plan_run(grt_fast_plan *fp, const grt_run_args *a) {
    const grt_fast_state *st = fp->st;
    if (!fp->arena) return grt_error(GAITRT_ERR_INTERNAL, "cpu-fast: a shared plan ran before it was bound to memory");
    const grt_graph *g = st->g;
    const grt_plan *p = fp->p;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == GRT_OP_TEMPORAL_MAX) {
            grt_status gs = grt__check_segments(fp, a->segments);
            if (gs != GRT_OK) return gs;
            break;
        }
    for (int k = 0; k < fp->n_buf; k++) {
        const grt_fast_buf *bf = &fp->buf[k];
        fp->bufptr[k] = bf->input >= 0 ? (const void *)a->inputs[bf->input] : (const void *)((char *)fp->arena + bf->off);
    }
#ifdef GAITRT_HAVE_OPENMP
    const int prev_threads = omp_get_max_threads();
    omp_set_num_threads(st->nt); /* oneDNN runs on the caller's OpenMP pool: one size for all */
#endif
    grt_status gs = GRT_OK;
    double t0 = a->prof ? grt_now_s() : 0.0;
    if (!fp->chunk) {
        gs = grt__run_steps(fp, a, 0, fp->n_step, 0, &t0);
    } else {
        /* chunks of K frames; the last one ends at the batch's end and may overlap the one
         * before (max is idempotent, so frames seen twice change nothing) */
        const int K = fp->chunk, T = fp->total_t, nc = (T + K - 1) / K;
        int prev_end = 0;
        for (int c = 0; c < nc && gs == GRT_OK; c++) {
            const int start = c * K + K > T ? T - K : c * K;
            for (int i = 0; i < g->n_nodes; i++) {
                const grt_node *n = &g->nodes[i];
                if (n->op != GRT_OP_INPUT) continue;
                const int64_t *xs = p->v[n->out].shape; /* (1, 1, K, H, W) */
                fp->bufptr[fp->val_buf[n->out]] = a->inputs[n->a.input.index] + (size_t)start * (size_t)(xs[3] * xs[4]);
            }
            int m = 0;
            for (int q = 0; q < p->bs.n_seq; q++) {
                const grt_segment sg = a->segments[q];
                const int lo = sg.t0 > start ? sg.t0 : start, hi = sg.t0 + sg.len < start + K ? sg.t0 + sg.len : start + K;
                if (lo >= hi) continue;
                fp->cseg[m] = (grt_segment){0, lo - start, hi - lo};
                fp->cmap[m] = q;
                fp->cfirst[m] = sg.t0 >= prev_end;
                m++;
            }
            gs = grt__run_steps(fp, a, 0, fp->n_frame_steps, m, &t0);
            prev_end = start + K;
        }
        if (gs == GRT_OK) gs = grt__run_steps(fp, a, fp->n_frame_steps, fp->n_step, 0, &t0);
    }
#ifdef GAITRT_HAVE_OPENMP
    omp_set_num_threads(prev_threads);
#endif
    if (gs != GRT_OK) return gs;
    memcpy(a->output, fp->bufptr[fp->out_buf], (size_t)p->v[g->output].numel * sizeof(float));
    return GRT_OK;
}

#endif /* GAITRT_HAVE_DNNL */
