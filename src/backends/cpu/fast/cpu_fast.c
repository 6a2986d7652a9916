/*
 * cpu_fast.c — the fast CPU backend ("cpu-fast"): oneDNN convolutions and pooling in a
 * channel-blocked layout kept from the first layer to the last, our own Winograd F(4x4, 3x3)
 * for the 3x3 stride-1 convolutions on AVX2 (fp32), our own SIMD kernels for the sequence
 * head, and the reference kernels for rare ops (each one named in `describe`).
 *
 *     prepare   once per model: weights reordered into the layout oneDNN picks (bf16 too when
 *               asked and the CPU has avx512_bf16) or transformed for Winograd, FC weights
 *               normalised when the model says so
 *     plan      once per batch shape: steps, one arena (activations + scratchpads), primitives
 *     run       executes the steps; allocates nothing
 *
 * Built without oneDNN, the backend is absent: grt_backend_cpu_fast() returns NULL and says
 * why. What this file deliberately is not: a second reference. Anything it cannot do fast it
 * hands to the reference kernels, never to a slower copy of them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fast_internal.h"

#ifdef GAITRT_HAVE_DNNL

#include <dnnl_debug.h>
#ifdef GAITRT_HAVE_OPENMP
#include <omp.h>
#endif

static int grt__threads(int requested) {
    if (requested > 0) return requested;
#ifdef GAITRT_HAVE_OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

static void grt__state_free(grt_fast_state *st) {
    if (!st) return;
    if (st->conv)
        for (int i = 0; i < st->g->n_nodes; i++)
            if (!st->conv[i].wino_lazy) grt_free_aligned(st->conv[i].wdata);
    if (st->fcw)
        for (int i = 0; i < st->g->n_nodes; i++) grt_free_aligned(st->fcw[i]);
    grt_free(st->conv);
    grt_free(st->fcw);
    grt_free(st->lowp_ok);
    if (st->eng) dnnl_engine_destroy(st->eng);
    grt_free(st);
}

/* The channel block oneDNN's fastest convolutions use on this CPU (8 on AVX2, 16 on AVX-512),
 * read from the layout it picks for a typical 3x3x3 convolution. */
/* The channel block of the activations: 16 where oneDNN prefers it, else 8. Asking oneDNN for
 * its preferred layout is not enough: with AVX-512 and AMX it prefers channels-last for the
 * probe (brgemm kernels), and 8-channel blocks then leave it its AVX2 kernels and no bf16
 * kernel at all (seen with oneDNN 2.6 on a Xeon with AMX). GAITRT_FAST_BLOCK=8|16 overrides
 * the choice (tests run the 16-block path on AVX2 CPUs that way). */
static int grt__try_block(const grt_fast_state *st, dnnl_format_tag_t tag, char *impl, size_t cap) {
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {1, 64, 4, 16, 16}, wd = {64, 64, 3, 3, 3}, st1 = {1, 1, 1}, p1 = {1, 1, 1};
    dnnl_memory_desc_init_by_tag(&src, 5, sd, st->adt, tag);
    dnnl_memory_desc_init_by_tag(&wei, 5, wd, st->adt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst, 5, sd, st->adt, tag);
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    int blk = 0;
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, NULL, &dst,
                                           st1, p1, p1) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &cd, NULL, st->eng, NULL) == dnnl_success) {
        const dnnl_memory_desc_t *m = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        const char *name = NULL;
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
        snprintf(impl, cap, "%s", name ? name : "?");
        if (m->format_kind == dnnl_blocked && m->format_desc.blocking.inner_nblks == 1 &&
            m->format_desc.blocking.inner_idxs[0] == 1)
            blk = (int)m->format_desc.blocking.inner_blks[0];
        dnnl_primitive_desc_destroy(pd);
    }
    return blk;
}

static int grt__probe_block(const grt_fast_state *st) {
    const char *env = getenv("GAITRT_FAST_BLOCK");
    if (env && (!strcmp(env, "8") || !strcmp(env, "16"))) return atoi(env);
    char impl[64] = "";
    if (grt__try_block(st, dnnl_format_tag_any, impl, sizeof impl) == 16) return 16;
    /* bf16 on AVX-512: 16-channel blocks when oneDNN has a compiled AVX-512 kernel for them (it has
     * no bf16 kernel for 8-channel blocks). fp32 keeps 8-channel blocks there: our Winograd kernels
     * (GEMMs on 512-bit registers) beat oneDNN's fp32 AVX-512 kernels on 16-channel blocks (timed
     * on a 2-core AMX Xeon: 512 -> 512 at 16x11, 30 frames, 65-71 ms direct; GaitBase 1x30
     * 122 ms on Winograd) */
    if (st->adt == dnnl_bf16 && grt_cpu_info_get()->avx512f && grt__try_block(st, dnnl_nCdhw16c, impl, sizeof impl) == 16 &&
        strstr(impl, "avx512"))
        return 16;
    return 8;
}

/* bf16 mode: a value may be stored in bf16 when every reader takes bf16 (convolutions as
 * input or residual, max pooling) and it is not the output. */
static void grt__mark_lowp(grt_fast_state *st) {
    const grt_graph *g = st->g;
    for (int v = 0; v < g->n_values; v++) st->lowp_ok[v] = st->adt == dnnl_bf16 && v != g->output;
    for (int i = 0; i < g->n_nodes; i++) {
        const grt_node *n = &g->nodes[i];
        int ok = (n->op == GRT_OP_CONV && st->conv[i].path != GRT_FAST_CONV_REF) || n->op == GRT_OP_MAXPOOL;
        if (ok) continue;
        for (int k = 0; k < n->n_in; k++) st->lowp_ok[n->in[k]] = 0;
        if (n->op == GRT_OP_CONV && n->a.conv.residual >= 0) st->lowp_ok[n->a.conv.residual] = 0;
    }
}

/* Which 2-D 3x3 layers run Winograd F(4x4) (wino_m = 4, set here; the others F(2x2)). F(4x4)'s
 * transformed weights take 36/9 of the kernel, F(2x2)'s 16/9: 80 bytes more per (Ci, Co) pair.
 * Relaxed fp32 gives it every layer. At fp32 the extra weights are capped (GAITRT_WINO_F4_MIB,
 * default 40 MiB; 0: F(2x2) everywhere): the multiplies a layer saves per byte grow with its
 * output positions, so layers go first by positions per frame, then in graph order, while the
 * sum fits. GaitBase fits whole (37 MiB); models with twice its wide layers (XGait's two
 * backbones, DeepGaitV2-P3D's four 256-channel blocks) keep some 16x11 layers on F(2x2). */
static void grt__pick_f4(grt_fast_state *st, const grt_plan *p) {
    const grt_graph *g = st->g;
    if (st->adt != dnnl_f32 || st->k.isa < GRT_FAST_ISA_AVX2) return;
    double cap = 40.0 * 1024 * 1024;
    const char *env = getenv("GAITRT_WINO_F4_MIB");
    if (env) cap = atof(env) * 1024 * 1024;
    if (st->prec == GRT_PREC_F32_RELAXED) cap = 1e300;
    for (;;) { /* the undecided layer with the most positions; done when none is left */
        int best = -1;
        int64_t best_pos = 0, best_cc = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const grt_node *n = &g->nodes[i];
            if (n->op != GRT_OP_CONV || st->conv[i].wino_m) continue;
            const int64_t *xs = p->v[n->in[0]].shape, ci = xs[1], co = g->values[n->a.conv.weight].shape[0];
            if (!grt_fast_wino_fits(&n->a.conv, ci, co, st->blk)) continue;
            if (xs[3] * xs[4] > best_pos) best = i, best_pos = xs[3] * xs[4], best_cc = ci * co;
        }
        if (best < 0) return;
        const double extra = 80.0 * (double)best_cc;
        st->conv[best].wino_m = extra <= cap ? 4 : 2; /* 2: decided, F(2x2) */
        if (extra <= cap) cap -= extra;
    }
}

/* Conv node i: oneDNN at the nominal shape decides the weights layout; we reorder once. */
static grt_status grt__prepare_conv(grt_fast_state *st, const grt_plan *p, int i) {
    const grt_node *n = &st->g->nodes[i];
    const grt_conv_attr *c = &n->a.conv;
    grt_fast_conv *fc = &st->conv[i];
    const int64_t *xs = p->v[n->in[0]].shape;
    fc->bias = c->bias >= 0 ? st->g->values[c->bias].data : NULL;
    /* oneDNN's 3-D 1x1 convolution with a spatial stride has no fast kernel; its 2-D one
     * does, and a conv that is 1x1 in (t, h) without padding there reads the same bytes */
    fc->fold_t = c->k[0] == 1 && c->k[1] == 1 && c->p[0] == 0 && c->p[1] == 0 && c->s[0] == 1 && c->d[0] == 1 &&
                 xs[3] % c->s[1] == 0;
    /* a purely temporal kernel (kt x 1 x 1) is a 2-D kernel over (T, H*W): oneDNN's 2-D
     * kernels run it faster than its 3-D ones, on the same bytes */
    if (!fc->fold_t && c->k[0] > 1 && c->k[1] == 1 && c->k[2] == 1 && c->s[1] == 1 && c->s[2] == 1 && c->p[1] == 0 &&
        c->p[2] == 0 && c->d[1] == 1 && c->d[2] == 1 && getenv("GAITRT_NO_FOLD_HW") == NULL)
        fc->fold_t = 2;
    /* either, with one position per frame (GaitPart's per-part temporal convs on (N, P*C, T, 1,
     * 1)), is a 2-D kernel over (1, T), 1 x kt: oneDNN's kernels then run along the row (the
     * frames) rather than one output per row, 3-4x faster */
    if (xs[3] * xs[4] == 1 && c->k[1] == 1 && c->k[2] == 1 && c->p[1] == 0 && c->p[2] == 0 && fc->fold_t &&
        getenv("GAITRT_NO_FOLD_ROW") == NULL)
        fc->fold_t = 3;
    const int64_t ci = xs[1], co = st->g->values[c->weight].shape[0];
    /* Our Winograd kernels (fast_wino.c), in this order:
     * 2-D 3x3 (wino_t 0): F(4x4), 4x fewer multiplies than oneDNN's direct kernel, within
     *   ~1e-6 of it per layer (3e-6 over 512 channels; fast_wino.c), on the layers
     *   grt__pick_f4 gave it; else F(2x2), 2.25x fewer, ~1e-7;
     * 3x3x3 (wino_t 3): three such passes, one per temporal tap: F(2x2) at fp32, F(4x4) at
     *   relaxed fp32 (see the weights below);
     * (3,1,1) (wino_t 1): temporal F(2,3), 1.5x fewer multiplies, F(2x2)'s accuracy. */
    const int wino_ok = st->adt == dnnl_f32 && st->k.isa >= GRT_FAST_ISA_AVX2;
    int kind = -1;
    if (wino_ok && grt_fast_wino_fits(c, ci, co, st->blk))
        kind = 0;
    else if (wino_ok && grt_fast_wino_3d_fits(c, ci, co, st->blk) && getenv("GAITRT_NO_WINO_3D") == NULL)
        kind = 3;
    else if (wino_ok && grt_fast_wino_t_fits(c, ci, co, st->blk) && getenv("GAITRT_NO_WINO_T") == NULL)
        kind = 1;
    if (kind >= 0) {
        fc->wino_t = kind;
        fc->wino_m = kind == 1 ? 2 : kind == 3 ? (st->prec == GRT_PREC_F32_RELAXED ? 4 : 2) : fc->wino_m ? fc->wino_m : 2;
        fc->fold_t = 0;
        /* 3x3x3 kernels hold most of a 3-D model's weights (DeepGaitV2-3D: 29.6 M parameters),
         * and their three transformed taps take 16/9 of that (4x for F(4x4)). At fp32 we read the
         * graph's kernel as it is (no copy: the graph keeps it) and transform one tap per pass,
         * into the step's scratch: the model's memory falls by 7/16 of those weights for a
         * transform costing a few % of a 30-frame run (less for longer batches). The relaxed
         * level keeps them transformed (speed first). */
        const float *w = st->g->values[c->weight].data;
        fc->wino_lazy = kind == 3 && fc->wino_m == 2 && getenv("GAITRT_WINO_3D_KEEP") == NULL;
        if (fc->wino_lazy) {
            fc->wdata = (void *)w;
            fc->wbytes = 0; /* (the graph's) */
        } else {
            const int64_t points = kind == 1 ? 4 : (kind == 3 ? 3 : 1) * grt_fast_wino_points(fc->wino_m);
            fc->wbytes = (size_t)(points * ci * co) * sizeof(float);
            fc->wdata = grt_malloc_aligned(fc->wbytes);
            if (!fc->wdata) return grt_error(GAITRT_ERR_NOMEM, "cpu-fast: out of memory for the weights of layer '%s'", n->name);
            if (kind == 0)
                grt_fast_wino_pack(w, ci, co, fc->wino_m, fc->wdata);
            else if (kind == 3)
                grt_fast_wino_3d_pack(w, ci, co, fc->wino_m, fc->wdata);
            else
                grt_fast_wino_t_pack(w, ci, co, fc->wdata);
        }
        fc->path = GRT_FAST_CONV_WINO;
        if (kind == 1)
            snprintf(fc->impl, sizeof fc->impl, "winograd F(2,3) over T:avx2");
        else
            snprintf(fc->impl, sizeof fc->impl, "winograd F(%dx%d,3x3)%s:avx2", fc->wino_m, fc->wino_m,
                     kind != 3 ? "" : fc->wino_lazy ? " x 3 taps, U per run" : " x 3 taps");
        return GRT_OK;
    }
    dnnl_primitive_desc_t pd = NULL;
    /* the output's data type (decided later, per value) does not change the weights layout */
    dnnl_status_t ds = grt_fast_conv_pd(st, p, i, NULL, st->adt, &pd);
    if (ds != dnnl_success && fc->fold_t) {
        fc->fold_t = 0;
        ds = grt_fast_conv_pd(st, p, i, NULL, st->adt, &pd);
    }
    if (ds != dnnl_success) {
        fc->path = GRT_FAST_CONV_REF;
        snprintf(fc->impl, sizeof fc->impl, "reference");
        GRT_LOG_WARN("cpu-fast: no oneDNN convolution for layer '%s' (%s); it runs on the reference kernel", n->name,
                     dnnl_status2str(ds));
        return GRT_OK;
    }
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(fc->impl, sizeof fc->impl, "%s", impl ? impl : "?");
    fc->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    fc->path = GRT_FAST_CONV_DNNL;
    return grt_fast_reorder_weights(st, i, &fc->wmd, &fc->wdata, &fc->wbytes);
}

/* SEPFC weights (P, C, Co): copied, each column L2-normalised when the model asks for it
 * (SeparateFCs norm=True), so a run multiplies only. */
static grt_status grt__prepare_fc(grt_fast_state *st, int i) {
    const grt_node *n = &st->g->nodes[i];
    const grt_value *w = &st->g->values[n->a.sepfc.weight];
    const int64_t P = w->shape[0], C = w->shape[1], Co = w->shape[2];
    float *d = grt_malloc_aligned((size_t)(P * C * Co) * sizeof(float));
    if (!d) return grt_error(GAITRT_ERR_NOMEM, "cpu-fast: out of memory for the weights of layer '%s'", n->name);
    memcpy(d, w->data, (size_t)(P * C * Co) * sizeof(float));
    if (n->a.sepfc.normalize_weight) {
        for (int64_t p = 0; p < P; p++)
            for (int64_t o = 0; o < Co; o++) {
                float *col = d + p * C * Co + o;
                double ss = 0;
                for (int64_t c = 0; c < C; c++) ss += (double)col[c * Co] * col[c * Co];
                const double nrm = sqrt(ss);
                const float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
                for (int64_t c = 0; c < C; c++) col[c * Co] *= inv;
            }
    }
    st->fcw[i] = d;
    return GRT_OK;
}

/* One line for reports: kernels chosen, layout, conversions and reference fallbacks. */
static void grt__describe_make(grt_fast_state *st, const grt_fast_plan *fp) {
    const grt_graph *g = st->g;
    const dnnl_version_t *ver = dnnl_version();
    char *b = st->describe;
    size_t len = sizeof st->describe, k = 0;
#define PUT(...) (k += (size_t)snprintf(b + (k < len ? k : len), k < len ? len - k : 0, __VA_ARGS__))
    int n_amx = 0;
    for (int i = 0; i < g->n_nodes; i++) n_amx += g->nodes[i].op == GRT_OP_CONV && strstr(st->conv[i].impl, "amx") != NULL;
    PUT("oneDNN %d.%d.%d %s, activations nCdhw%dc %s", ver->major, ver->minor, ver->patch,
        st->adt == dnnl_bf16 ? "bf16 (fp32 accumulation)" : st->prec == GRT_PREC_F32_RELAXED ? "fp32 relaxed" : "fp32", st->blk,
        n_amx ? "for other ops, channels-last (ndhwc) from one AMX convolution to the next" : "end to end");
    /* convolutions grouped by implementation */
    const char *seen[16];
    int cnt[16], ns = 0, n_conv = 0, n_fold = 0, n_fold_hw = 0, n_fold_row = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op != GRT_OP_CONV) continue;
        n_conv++;
        n_fold += st->conv[i].path == GRT_FAST_CONV_DNNL && st->conv[i].fold_t == 1;
        n_fold_hw += st->conv[i].path == GRT_FAST_CONV_DNNL && st->conv[i].fold_t == 2;
        n_fold_row += st->conv[i].path == GRT_FAST_CONV_DNNL && st->conv[i].fold_t == 3;
        int j = 0;
        while (j < ns && strcmp(seen[j], st->conv[i].impl) != 0) j++;
        if (j == ns && ns < 16) {
            seen[ns] = st->conv[i].impl;
            cnt[ns++] = 0;
        }
        if (j < ns) cnt[j]++;
    }
    PUT("; %d convs:", n_conv);
    for (int j = 0; j < ns; j++) PUT("%s %s x%d", j ? "," : "", seen[j], cnt[j]);
    if (n_fold) PUT(" (%d 1x1 run as 2-D over T*H)", n_fold);
    if (n_fold_hw) PUT(" (%d kt x 1 x 1 run as 2-D over (T, H*W))", n_fold_hw);
    if (n_fold_row) PUT(" (%d kt x 1 x 1 run as 1 x kt over a row of T frames)", n_fold_row);
    PUT("; fused post-ops: residual sum + activation; head kernels %s (temporal max, HPP, separate FCs)", st->k.isa_name);
    if (fp) {
        PUT("; layout conversions: %d", fp->n_convert);
        if (fp->n_ref) {
            PUT("; reference fallbacks (%d):", fp->n_ref);
            int shown = 0;
            for (int s = 0; s < fp->n_step && shown < 6; s++)
                if (fp->step[s].kind == GRT_FS_REF) {
                    const grt_node *n = &g->nodes[fp->step[s].node];
                    PUT(" %s(%s)", n->name, grt_op_name(n->op));
                    shown++;
                }
            if (fp->n_ref > shown) PUT(" ...");
        } else {
            PUT("; reference fallbacks: none");
        }
    }
    PUT("; %d threads", st->nt);
#undef PUT
}

static grt_status grt_fast_prepare(const grt_graph *g, const grt_backend_opts *o, void **state) {
    *state = NULL;
    const grt_precision prec = o ? o->precision : GRT_PREC_F32;
    const grt_cpu_info *ci = grt_cpu_info_get();
    if (prec != GRT_PREC_F32 && prec != GRT_PREC_BF16 && prec != GRT_PREC_F32_RELAXED)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "cpu-fast: precision %d is not supported on the CPU ---> HINT: use fp32, "
                         "or bf16 on a CPU with avx512_bf16", (int)prec);
    if (prec == GRT_PREC_F32_RELAXED && !ci->avx2)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "cpu-fast: relaxed fp32 (Winograd F(4x4,3x3)) needs AVX2 ---> HINT: use fp32");
    if (prec == GRT_PREC_BF16 && !ci->avx512_bf16) {
        char feats[160];
        grt_cpu_features_str(ci, feats, sizeof feats);
        return grt_error(GAITRT_ERR_UNSUPPORTED, "cpu-fast: bf16 needs a CPU with avx512_bf16; this %s has [%s] ---> "
                         "HINT: use fp32 here", ci->brand, feats);
    }
    grt_fast_state *st = grt_calloc(1, sizeof *st);
    if (!st) return grt_error(GAITRT_ERR_NOMEM, "cpu-fast: out of memory preparing the model");
    st->g = g;
    st->nt = grt__threads(o ? o->n_threads : 0);
    st->prec = prec;
    st->adt = prec == GRT_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    grt_fast_kernels_select(&st->k, GRT_FAST_ISA_AVX512);
    st->conv = grt_calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *st->conv);
    st->fcw = grt_calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *st->fcw);
    st->lowp_ok = grt_calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    grt_status gs = GRT_OK;
    grt_plan *p = NULL;
    grt_fast_plan *fp = NULL;
    if (!st->conv || !st->fcw || !st->lowp_ok) {
        grt__state_free(st);
        return grt_error(GAITRT_ERR_NOMEM, "cpu-fast: out of memory preparing the model");
    }
    dnnl_status_t ds = dnnl_engine_create(&st->eng, dnnl_cpu, 0);
    if (ds != dnnl_success) {
        grt__state_free(st);
        return grt_fast_dnnl_err(ds, "CPU engine creation", "-");
    }
#ifdef GAITRT_HAVE_OPENMP
    const int prev_threads = omp_get_max_threads();
    omp_set_num_threads(st->nt);
#endif
    st->blk = grt__probe_block(st);
    /* bf16 with AMX: convolutions channels-last, where oneDNN's AMX kernels run (each layer
     * checked in grt_fast_conv_pd); GAITRT_NO_AMX=1 keeps the AVX-512 bf16 kernels */
    st->nxc = st->adt == dnnl_bf16 && ci->amx_bf16 && getenv("GAITRT_NO_AMX") == NULL;
    /* shapes at a nominal batch: one sequence of a few dozen frames (spatial sizes come from
     * the graph's inputs; temporal kernels need enough frames) */
    for (int t0 = 32; t0 <= 512; t0 *= 2) {
        grt_batch_shape bs = {1, t0, 1};
        grt_error_clear();
        if ((gs = grt_plan_create(g, &bs, &p)) == GRT_OK) break;
    }
    if (gs == GRT_OK) grt__pick_f4(st, p);
    for (int i = 0; gs == GRT_OK && i < g->n_nodes; i++) {
        if (g->nodes[i].op == GRT_OP_CONV) gs = grt__prepare_conv(st, p, i);
        if (g->nodes[i].op == GRT_OP_SEPFC) gs = grt__prepare_fc(st, i);
    }
#ifdef GAITRT_HAVE_OPENMP
    omp_set_num_threads(prev_threads);
#endif
    /* bf16 only where oneDNN has compiled kernels for it: its reference implementation runs
     * bf16 convolutions a hundred times slower than fp32 (seen with oneDNN 2.6 on a CPU with
     * avx512_bf16 that it ran at avx2), so the session takes relaxed fp32 instead */
    for (int i = 0; gs == GRT_OK && st->adt == dnnl_bf16 && i < g->n_nodes; i++)
        if (g->nodes[i].op == GRT_OP_CONV && (st->conv[i].path == GRT_FAST_CONV_REF || strstr(st->conv[i].impl, "ref")))
            gs = grt_error(GAITRT_ERR_UNSUPPORTED, "oneDNN %d.%d has no bf16 convolution kernel for this CPU (layer '%s' would "
                           "run on '%s')", dnnl_version()->major, dnnl_version()->minor, g->nodes[i].name, st->conv[i].impl);
    if (gs == GRT_OK) {
        grt__mark_lowp(st);
        /* a dry plan at the nominal shape counts the conversions and fallbacks for describe */
        grt_batch_shape bs = p->bs;
        if (grt_fast_plan_build(st, &bs, 0, &fp) != GRT_OK) fp = NULL;
        grt__describe_make(st, fp);
        grt_fast_plan_free(fp);
        grt_error_clear();
    }
    grt_plan_free(p);
    if (gs != GRT_OK) {
        grt__state_free(st);
        return grt_error_prefix(gs, "preparing the fast CPU backend: ");
    }
    *state = st;
    return GRT_OK;
}

static void grt_fast_release(void *state) { grt__state_free(state); }

static grt_status grt_fast_plan_make(void *state, const grt_batch_shape *bs, void **plan) {
    grt_fast_plan *fp = NULL;
    grt_status gs = grt_fast_plan_build(state, bs, 1, &fp);
    *plan = fp;
    return gs;
}

static grt_status grt_fast_plan_shared(void *state, const grt_batch_shape *bs, void **plan) {
    grt_fast_plan *fp = NULL;
    grt_status gs = grt_fast_plan_build(state, bs, 2, &fp);
    *plan = fp;
    return gs;
}

static void grt_fast_plan_release(void *plan) { grt_fast_plan_free(plan); }

static int64_t grt_fast_plan_bytes(const void *plan) {
    const grt_fast_plan *fp = plan;
    return (int64_t)(fp->arena_bytes + (fp->own_arena ? fp->extra_bytes : 0)); /* shared: what the arena must hold */
}

static grt_status grt_fast_run(void *plan, const grt_run_args *a) { return grt_fast_plan_run(plan, a); }

static void grt_fast_describe(const void *state, char *buf, size_t len) {
    const grt_fast_state *st = state;
    snprintf(buf, len, "%s", st->describe);
}

/* Winograd weights are transformed at prepare and read from there only; SEPFC weights are
 * copied. oneDNN's are reordered too, but a plan for a new batch shape may reorder them again
 * from the graph or fall back to the reference kernel, so those stay the graph's. */
static int grt_fast_owns_constant(const void *state, int v) {
    const grt_fast_state *st = state;
    const grt_graph *g = st->g;
    int readers = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const grt_node *n = &g->nodes[i];
        int refs[GRT_NODE_MAX_REFS];
        const int nr = grt_node_reads(n, refs);
        for (int k = 0; k < nr; k++) {
            if (refs[k] != v) continue;
            readers++;
            const int owned = (n->op == GRT_OP_CONV && n->a.conv.weight == v && st->conv[i].path == GRT_FAST_CONV_WINO &&
                               st->conv[i].wdata && !st->conv[i].wino_lazy) ||
                              (n->op == GRT_OP_SEPFC && n->a.sepfc.weight == v && st->fcw[i]);
            if (!owned) return 0;
        }
    }
    return readers > 0;
}

static const grt_backend_i grt__fast = {
    .name = "cpu-fast",
    .pads = 1,
    .prepare = grt_fast_prepare,
    .release = grt_fast_release,
    .plan = grt_fast_plan_make,
    .plan_release = grt_fast_plan_release,
    .plan_bytes = grt_fast_plan_bytes,
    .plan_shared = grt_fast_plan_shared,
    .plan_bind = grt_fast_plan_bind,
    .run = grt_fast_run,
    .describe = grt_fast_describe,
    .owns_constant = grt_fast_owns_constant,
};

const grt_backend_i *grt_backend_cpu_fast(void) { return &grt__fast; }

#else /* !GAITRT_HAVE_DNNL */

const grt_backend_i *grt_backend_cpu_fast(void) {
    grt_error(GAITRT_ERR_UNSUPPORTED, "cpu-fast: built without oneDNN ---> HINT: install libdnnl-dev and rebuild "
              "(the reference backend still works)");
    return NULL;
}

#endif /* GAITRT_HAVE_DNNL */
