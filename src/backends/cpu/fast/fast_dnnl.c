/*
 * fast_dnnl.c — the fast CPU backend's bridge to oneDNN: memory descriptors for our two
 * layouts (row-major and channel-blocked), convolution and pooling primitive descriptors
 * built from a graph node, and weight reorders done once at prepare time.
 *
 * Convolutions keep their output in the blocked layout (nCdhw8c / nCdhw16c) and take their
 * input in whatever layout oneDNN asks for (blocked, or row-major for a first layer with one
 * or two channels, which is exactly the caller's input). In bf16 on a CPU with AMX they read
 * and write channels-last instead, where oneDNN has an AMX kernel for the layer (its AMX
 * kernels take no other layout; they run ten times faster than its AVX-512 bf16 ones here).
 * Residual adds and activations are post-ops (sum, then eltwise), so a residual block is one
 * primitive.
 *
 * Not here: deciding which layout each value lives in or when to convert (fast_build.c).
 */
#include <string.h>

#include "fast_internal.h"

#ifdef GAITRT_HAVE_DNNL
#include <dnnl_debug.h>

grt_status grt_fast_dnnl_err(dnnl_status_t s, const char *what, const char *name) {
    return grt_error(s == dnnl_out_of_memory ? GAITRT_ERR_NOMEM : GAITRT_ERR_INTERNAL,
                     "cpu-fast: oneDNN %s for layer '%s' failed: %s", what, name ? name : "?", dnnl_status2str(s));
}

void grt_fast_md_plain(dnnl_memory_desc_t *md, int ndim, const int64_t *shape, dnnl_data_type_t dt) {
    dnnl_dims_t dims, strides;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        dims[d] = shape[d];
        strides[d] = s;
        s *= shape[d];
    }
    memset(md, 0, sizeof *md);
    dnnl_memory_desc_init_by_strides(md, ndim, dims, dt, strides);
}

int grt_fast_md_blocked(dnnl_memory_desc_t *md, int ndim, const int64_t *shape, dnnl_data_type_t dt, int blk) {
    dnnl_format_tag_t tag;
    if (ndim == 5)
        tag = blk == 16 ? dnnl_nCdhw16c : dnnl_nCdhw8c;
    else if (ndim == 4)
        tag = blk == 16 ? dnnl_nChw16c : dnnl_nChw8c;
    else if (ndim == 3)
        tag = blk == 16 ? dnnl_nCw16c : dnnl_nCw8c; /* (N, C, T): per-frame vectors (XGait's context) */
    else
        return 0;
    dnnl_dims_t dims;
    for (int d = 0; d < ndim; d++) dims[d] = shape[d];
    memset(md, 0, sizeof *md);
    return dnnl_memory_desc_init_by_tag(md, ndim, dims, dt, tag) == dnnl_success;
}

int grt_fast_md_is_blocked(const dnnl_memory_desc_t *md, int blk) {
    if (md->format_kind != dnnl_blocked || md->ndims < 3 || md->ndims > 5) return 0;
    dnnl_memory_desc_t b;
    int64_t shape[5];
    for (int d = 0; d < md->ndims; d++) shape[d] = md->dims[d];
    if (!grt_fast_md_blocked(&b, md->ndims, shape, md->data_type, blk)) return 0;
    return dnnl_memory_desc_equal(&b, md);
}

dnnl_primitive_attr_t grt_fast_attr_new(void) {
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    /* we place every primitive's scratchpad in the plan's arena: no allocation during a run */
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    return attr;
}

/* Right padding that makes oneDNN's size rule give PyTorch's output size; never below 0. */
static int64_t grt__pad_r(int64_t in, int64_t out, int k, int s, int d, int pl) {
    int64_t pr = (out - 1) * s + (int64_t)(k - 1) * d + 1 - in - pl;
    return pr > 0 ? pr : 0;
}

/* The geometry of conv node i in oneDNN's terms (a 3-D conv, or a 2-D one over (T*H, W)). */
typedef struct grt__conv_geom {
    int nd;                       /* 5: 3-D conv; 4: folded to 2-D */
    int wnd;                      /* weight dims: nd, or nd + 1 with groups */
    dnnl_dims_t src, dst, wei, stride, dil, pl, pr;
} grt__conv_geom;

static void grt__conv_geom_make(const grt_fast_state *st, const grt_plan *p, int i, grt__conv_geom *gm) {
    const grt_node *n = &st->g->nodes[i];
    const grt_conv_attr *c = &n->a.conv;
    const int64_t *xs = p->v[n->in[0]].shape, *ys = p->v[n->out].shape;
    const int64_t *ws = st->g->values[c->weight].shape; /* (Co, Ci/g, kt, kh, kw) */
    memset(gm, 0, sizeof *gm);
    int w0 = 0;
    if (c->groups > 1) {
        gm->wei[0] = c->groups;
        gm->wei[1] = ws[0] / c->groups;
        gm->wei[2] = ws[1];
        w0 = 3;
    } else {
        gm->wei[0] = ws[0];
        gm->wei[1] = ws[1];
        w0 = 2;
    }
    if (st->conv[i].fold_t == 3) {
        /* kt x 1 x 1 on one position per frame: the frames become the row, (1, T) with 1 x kt */
        gm->nd = 4;
        gm->src[0] = xs[0], gm->src[1] = xs[1], gm->src[2] = 1, gm->src[3] = xs[2];
        gm->dst[0] = ys[0], gm->dst[1] = ys[1], gm->dst[2] = 1, gm->dst[3] = ys[2];
        gm->wei[w0] = 1;
        gm->wei[w0 + 1] = ws[2];
        gm->stride[0] = 1, gm->stride[1] = c->s[0];
        gm->dil[0] = 0, gm->dil[1] = c->d[0] - 1;
        gm->pl[0] = 0, gm->pl[1] = c->p[0];
        gm->pr[0] = 0;
        gm->pr[1] = grt__pad_r(xs[2], ys[2], (int)ws[2], c->s[0], c->d[0], c->p[0]);
    } else if (st->conv[i].fold_t == 2) {
        /* kt x 1 x 1: rows and columns merge into one axis of H*W positions */
        gm->nd = 4;
        gm->src[0] = xs[0], gm->src[1] = xs[1], gm->src[2] = xs[2], gm->src[3] = xs[3] * xs[4];
        gm->dst[0] = ys[0], gm->dst[1] = ys[1], gm->dst[2] = ys[2], gm->dst[3] = ys[3] * ys[4];
        gm->wei[w0] = ws[2];
        gm->wei[w0 + 1] = 1;
        gm->stride[0] = c->s[0], gm->stride[1] = 1;
        gm->dil[0] = c->d[0] - 1, gm->dil[1] = 0;
        gm->pl[0] = c->p[0], gm->pl[1] = 0;
        gm->pr[0] = grt__pad_r(xs[2], ys[2], (int)ws[2], c->s[0], c->d[0], c->p[0]);
        gm->pr[1] = 0;
    } else if (st->conv[i].fold_t) {
        /* 1 x 1 in (t, h), no padding there: frames and rows merge into one axis of T*H rows,
         * and row r of the output reads row sh*r of the input (H is a multiple of sh). */
        gm->nd = 4;
        gm->src[0] = xs[0], gm->src[1] = xs[1], gm->src[2] = xs[2] * xs[3], gm->src[3] = xs[4];
        gm->dst[0] = ys[0], gm->dst[1] = ys[1], gm->dst[2] = ys[2] * ys[3], gm->dst[3] = ys[4];
        gm->wei[w0] = 1;
        gm->wei[w0 + 1] = ws[4];
        gm->stride[0] = c->s[1], gm->stride[1] = c->s[2];
        gm->dil[0] = 0, gm->dil[1] = c->d[2] - 1;
        gm->pl[0] = 0, gm->pl[1] = c->p[2];
        gm->pr[0] = 0;
        gm->pr[1] = grt__pad_r(xs[4], ys[4], (int)ws[4], c->s[2], c->d[2], c->p[2]);
    } else {
        gm->nd = 5;
        for (int d = 0; d < 5; d++) {
            gm->src[d] = xs[d];
            gm->dst[d] = ys[d];
        }
        for (int d = 0; d < 3; d++) {
            gm->wei[w0 + d] = ws[2 + d];
            gm->stride[d] = c->s[d];
            gm->dil[d] = c->d[d] - 1;
            gm->pl[d] = c->p[d];
            gm->pr[d] = grt__pad_r(xs[2 + d], ys[2 + d], (int)ws[2 + d], c->s[d], c->d[d], c->p[d]);
        }
    }
    gm->wnd = gm->nd + (c->groups > 1);
}

dnnl_status_t grt_fast_conv_pd(const grt_fast_state *st, const grt_plan *p, int i, const dnnl_memory_desc_t *wmd,
                               dnnl_data_type_t dst_dt, dnnl_primitive_desc_t *pd) {
    const grt_node *n = &st->g->nodes[i];
    const grt_conv_attr *c = &n->a.conv;
    grt__conv_geom gm;
    grt__conv_geom_make(st, p, i, &gm);
    dnnl_memory_desc_t src, wei, bia, dst;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&src, gm.nd, gm.src, st->adt, dnnl_format_tag_any)) != dnnl_success) return s;
    if (wmd)
        wei = *wmd;
    else if ((s = dnnl_memory_desc_init_by_tag(&wei, gm.wnd, gm.wei, st->adt, dnnl_format_tag_any)) != dnnl_success)
        return s;
    if (c->bias >= 0) {
        dnnl_dims_t bd = {gm.dst[1]};
        if ((s = dnnl_memory_desc_init_by_tag(&bia, 1, bd, dnnl_f32, dnnl_a)) != dnnl_success) return s;
    }
    dnnl_primitive_attr_t attr = grt_fast_attr_new();
    dnnl_post_ops_t po = NULL;
    if (!attr || dnnl_post_ops_create(&po) != dnnl_success) {
        if (attr) dnnl_primitive_attr_destroy(attr);
        return dnnl_out_of_memory;
    }
    /* sum first: oneDNN adds what the output buffer holds (the residual) before the activation */
    if (c->residual >= 0) dnnl_post_ops_append_sum(po, 1.0f);
    if (c->act == GRT_ACT_RELU) dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (c->act == GRT_ACT_LEAKY_RELU) dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, c->alpha, 0.0f);
    if (c->act == GRT_ACT_SIGMOID) dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_logistic, 0.0f, 0.0f);
    s = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    /* AMX: channels-last in and out, taken only when oneDNN runs it on AMX; then the output in
     * our blocked layout; if no implementation takes it, the one oneDNN likes */
    for (int attempt = st->nxc ? -1 : 0; attempt < 2 && s == dnnl_success; attempt++) {
        dnnl_memory_desc_t src_a = src;
        if (attempt < 0) {
            const dnnl_format_tag_t nxc = gm.nd == 5 ? dnnl_ndhwc : dnnl_nhwc;
            if (dnnl_memory_desc_init_by_tag(&src_a, gm.nd, gm.src, st->adt, nxc) != dnnl_success ||
                dnnl_memory_desc_init_by_tag(&dst, gm.nd, gm.dst, dst_dt, nxc) != dnnl_success)
                continue;
        } else if (attempt == 0) {
            int64_t sh[5];
            for (int d = 0; d < gm.nd; d++) sh[d] = gm.dst[d];
            if (!grt_fast_md_blocked(&dst, gm.nd, sh, dst_dt, st->blk)) continue;
        } else if ((s = dnnl_memory_desc_init_by_tag(&dst, gm.nd, gm.dst, dst_dt, dnnl_format_tag_any)) != dnnl_success) {
            break;
        }
        dnnl_convolution_desc_t cd;
        s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_a,
                                                       &wei, c->bias >= 0 ? &bia : NULL, &dst, gm.stride, gm.dil, gm.pl,
                                                       gm.pr);
        if (s != dnnl_success && attempt < 0) {
            s = dnnl_success;
            continue;
        }
        if (s != dnnl_success) break;
        s = dnnl_primitive_desc_create(pd, &cd, attr, st->eng, NULL);
        if (s == dnnl_success && attempt < 0) {
            const char *impl = NULL;
            dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl);
            if (impl && strstr(impl, "amx")) break;
            dnnl_primitive_desc_destroy(*pd);
            *pd = NULL;
        }
        if (s == dnnl_success && attempt >= 0) break;
        if (attempt < 1) s = dnnl_success; /* try again: blocked, then "any" */
    }
    dnnl_primitive_attr_destroy(attr);
    /* with the weights' layout fixed (the one prepared for the nominal shape), oneDNN's reference
     * convolution takes anything: refuse it, so that the caller asks again with weights of any
     * layout (a private copy) and gets a compiled kernel. (XGait's 1024 -> 32 1x1 over a row of
     * 30 frames: AMX at 32 frames, not at 30, then the reference kernel at 50 ms instead of 1.) */
    if (s == dnnl_success && wmd) {
        const char *impl = NULL;
        dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl);
        if (impl && !strncmp(impl, "ref", 3)) {
            dnnl_primitive_desc_destroy(*pd);
            *pd = NULL;
            s = dnnl_unimplemented;
        }
    }
    return s;
}

dnnl_status_t grt_fast_pool_pd(const grt_fast_state *st, const grt_plan *p, int i, const dnnl_memory_desc_t *src,
                               dnnl_primitive_desc_t *pd) {
    const grt_node *n = &st->g->nodes[i];
    const grt_pool_attr *pa = &n->a.pool;
    const int64_t *xs = p->v[n->in[0]].shape, *ys = p->v[n->out].shape;
    dnnl_dims_t stride, kernel, dil, pl, pr;
    for (int d = 0; d < 3; d++) {
        stride[d] = pa->s[d];
        kernel[d] = pa->k[d];
        dil[d] = 0;
        pl[d] = pa->p[d];
        pr[d] = grt__pad_r(xs[2 + d], ys[2 + d], pa->k[d], pa->s[d], 1, pa->p[d]);
    }
    dnnl_memory_desc_t dst;
    if (!grt_fast_md_blocked(&dst, 5, ys, src->data_type, st->blk)) return dnnl_invalid_arguments;
    dnnl_pooling_v2_desc_t pdsc;
    const dnnl_alg_kind_t alg = n->op == GRT_OP_AVGPOOL ? dnnl_pooling_avg_include_padding : dnnl_pooling_max;
    dnnl_status_t s = dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg, src, &dst,
                                                        stride, kernel, dil, pl, pr);
    if (s != dnnl_success) return s;
    dnnl_primitive_attr_t attr = grt_fast_attr_new();
    if (!attr) return dnnl_out_of_memory;
    s = dnnl_primitive_desc_create(pd, &pdsc, attr, st->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

dnnl_status_t grt_fast_reorder_once(dnnl_engine_t eng, const dnnl_memory_desc_t *smd, void *src,
                                    const dnnl_memory_desc_t *dmd, void *dst) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t ms = NULL, md = NULL;
    dnnl_stream_t strm = NULL;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, smd, eng, dmd, eng, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&prim, pd);
    if (s == dnnl_success) s = dnnl_memory_create(&ms, smd, eng, src);
    if (s == dnnl_success) s = dnnl_memory_create(&md, dmd, eng, dst);
    if (s == dnnl_success) s = dnnl_stream_create(&strm, eng, dnnl_stream_default_flags);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        s = dnnl_primitive_execute(prim, strm, 2, args);
        if (s == dnnl_success) s = dnnl_stream_wait(strm);
    }
    if (strm) dnnl_stream_destroy(strm);
    if (md) dnnl_memory_destroy(md);
    if (ms) dnnl_memory_destroy(ms);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return s;
}

grt_status grt_fast_reorder_weights(const grt_fast_state *st, int i, const dnnl_memory_desc_t *wmd, void **data,
                                    size_t *bytes) {
    const grt_node *n = &st->g->nodes[i];
    const grt_value *w = &st->g->values[n->a.conv.weight];
    /* our weights are row-major (Co, Ci/g, kt, kh, kw): the same bytes as oneDNN's plain
     * (g, Co/g, Ci/g, ...) or, folded, (Co, Ci/g, 1, kw) */
    int64_t sh[DNNL_MAX_NDIMS];
    for (int d = 0; d < wmd->ndims; d++) sh[d] = wmd->dims[d];
    dnnl_memory_desc_t umd;
    grt_fast_md_plain(&umd, wmd->ndims, sh, dnnl_f32);
    *bytes = dnnl_memory_desc_get_size(wmd);
    *data = grt_malloc_aligned(*bytes ? *bytes : 1);
    if (!*data) return grt_error(GAITRT_ERR_NOMEM, "cpu-fast: out of memory for the weights of layer '%s'", n->name);
    memset(*data, 0, *bytes);
    dnnl_status_t s = grt_fast_reorder_once(st->eng, &umd, w->data, wmd, *data);
    if (s != dnnl_success) {
        grt_free_aligned(*data);
        *data = NULL;
        return grt_fast_dnnl_err(s, "weight reorder", n->name);
    }
    return GRT_OK;
}

#endif /* GAITRT_HAVE_DNNL */
