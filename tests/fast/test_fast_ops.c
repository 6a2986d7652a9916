/*
 * test_fast_ops.c — the fast CPU backend against the reference backend, op by op, on small
 * graphs with random weights: 2-D (kt = 1) and 3-D convolutions with strides, padding,
 * dilation, groups, residuals and every activation; odd sizes (H = 11, channels that are
 * not a multiple of the block); standalone BatchNorm, act, add, mul; max pooling; the head
 * (temporal max over packed segments of different lengths and over N > 1 items, HPP with
 * several bins and GeM, separate FCs with and without normalised weights, L2 norm); the
 * movement ops (concat, slice, reshape, transpose) and two graph inputs.
 *
 * Both backends run the same fused graph on the same input; the metric is the relative L2
 * error of the whole output, <= 1e-5 in fp32.
 */
#include "backends/cpu/fast/fast_internal.h"
#include "fast_graphs.h"
#include "test_util.h"

static double worst_rel;

/* A kernel family (the profile's op) and how many steps of the fast plan must run on it. */
typedef struct want_op {
    const char *op;
    int count;
} want_op;

/* Runs g (unfused; we fuse it as the session does) on both backends and compares; `want`
 * (NULL-terminated) names steps the fast plan must have (a fused path that silently fell back
 * would still match the reference, so the path is checked too). */
static void compare_prec(const char *name, grt_graph *raw, int n, int t, const grt_segment *seg, int n_seq,
                         const want_op *want, grt_precision prec);

static void compare_ex(const char *name, grt_graph *raw, int n, int t, const grt_segment *seg, int n_seq,
                       const want_op *want) {
    compare_prec(name, raw, n, t, seg, n_seq, want, GRT_PREC_F32);
}

/* prec bf16: the fast backend in bf16 (on CPUs with avx512_bf16) against the fp32 reference,
 * relative L2 <= 2e-2 (bf16 keeps 8 significant bits); the path checks then hold on any block. */
static void compare_prec(const char *name, grt_graph *raw, int n, int t, const grt_segment *seg, int n_seq,
                         const want_op *want, grt_precision prec) {
    const double tol = prec == GRT_PREC_BF16 ? 2e-2 : 1e-5;
    grt_graph *g = grt_graph_fuse(raw);
    CHECK_MSG(g != NULL, "%s: fusion failed: %s", name, gaitrt_last_error());
    if (!g) return;
    grt_batch_shape bs = {n, t, n_seq};
    grt_segment def[64];
    if (!seg) {
        for (int s = 0; s < n_seq; s++) def[s] = (grt_segment){s, 0, t};
        seg = def;
    }
    fg_runner ref, fast;
    int rr = fg_open(&ref, grt_backend_cpu_ref(), g, &bs, GRT_PREC_F32, 2);
    CHECK_MSG(rr == 0, "%s: reference backend: %s", name, gaitrt_last_error());
    int rf = fg_open(&fast, grt_backend_cpu_fast(), g, &bs, prec, 2);
    CHECK_MSG(rf == 0, "%s: fast backend: %s", name, gaitrt_last_error());
    if (rr == 0 && rf == 0) {
        grt_plan *p = NULL;
        grt_plan_create(g, &bs, &p);
        const int64_t out_n = p->v[g->output].numel;
        float *inputs[4] = {0};
        grt_rng rng = {1234};
        int k = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == GRT_OP_INPUT) {
                const grt_vplan *v = &p->v[g->nodes[i].out];
                inputs[k] = malloc((size_t)v->numel * sizeof(float));
                for (int64_t j = 0; j < v->numel; j++) inputs[k][j] = grt_rng_uniform(&rng);
                k++;
            }
        float *yr = calloc((size_t)out_n, sizeof(float)), *yf = calloc((size_t)out_n, sizeof(float));
        float *yf2 = calloc((size_t)out_n, sizeof(float));
        CHECK(fg_run(&ref, (const float *const *)inputs, seg, yr, NULL) == 0);
        int ok = fg_run(&fast, (const float *const *)inputs, seg, yf, NULL) == 0;
        CHECK_MSG(ok, "%s: fast run: %s", name, gaitrt_last_error());
        /* a second run on the same plan must give the same bits (no state leaks between runs) */
        CHECK(fg_run(&fast, (const float *const *)inputs, seg, yf2, NULL) == 0);
        CHECK_MSG(memcmp(yf, yf2, (size_t)out_n * sizeof(float)) == 0, "%s: second run differs", name);
        /* the paths exist with our AVX2 kernels on 8-channel blocks (the default there) */
        const grt_cpu_info *ci = grt_cpu_info_get();
        const char *fb = getenv("GAITRT_FAST_BLOCK");
        if (want && prec == GRT_PREC_F32 && (!ci->avx2 || !ci->fma || (fb && strcmp(fb, "8") != 0))) {
            printf("%s: path checks skipped (no AVX2 + FMA, or GAITRT_FAST_BLOCK=%s)\n", name, fb ? fb : "");
            want = NULL;
        }
        for (int w = 0; want && want[w].op; w++) {
            grt_prof_event ev[256];
            grt_prof prof = {ev, 0, 256, 0};
            CHECK(fg_run(&fast, (const float *const *)inputs, seg, yf2, &prof) == 0);
            int got = 0;
            for (int e = 0; e < prof.n; e++) got += strcmp(ev[e].op, want[w].op) == 0;
            CHECK_MSG(got == want[w].count, "%s: %d steps of '%s', expected %d", name, got, want[w].op, want[w].count);
        }
        double rel = grt_rel_l2(yf, yr, (size_t)out_n);
        char desc[1024];
        fast.bk->describe(fast.st, desc, sizeof desc);
        printf("%-28s out %-22s rel L2 %.3g  plan %.2f MiB (ref %.2f MiB)\n", name,
               grt_shape_str(p->v[g->output].ndim, p->v[g->output].shape, (char[64]){0}, 64), rel,
               fast.bk->plan_bytes(fast.pl) / 1048576.0, ref.bk->plan_bytes(ref.pl) / 1048576.0);
        if (getenv("GRT_TEST_VERBOSE")) printf("    %s\n", desc);
        for (int j = 0; j < 3 && j < out_n; j++) printf("    y[%d] fast %.7g ref %.7g\n", j, yf[j], yr[j]);
        CHECK_MSG(rel <= tol, "%s: relative L2 %.3g > %.0e", name, rel, tol);
        if (rel > worst_rel && prec == GRT_PREC_F32) worst_rel = rel;
        for (int j = 0; j < k; j++) free(inputs[j]);
        free(yr);
        free(yf);
        free(yf2);
        grt_plan_free(p);
    }
    fg_close(&ref);
    fg_close(&fast);
    grt_graph_free(g);
    grt_graph_free(raw);
}

static void compare(const char *name, grt_graph *raw, int n, int t, const grt_segment *seg, int n_seq) {
    compare_ex(name, raw, n, t, seg, n_seq, NULL);
}

#define NEWG(seed) fg_ctx c = {grt_graph_new(), {seed}, 0}

/* conv 1 -> 16 3x3 on odd frames (11 x 7), BN + relu: the caller's input read in place. */
static void t_conv2d_first(void) {
    NEWG(1);
    int x = grt_graph_input(c.g, 1, 11, 7);
    x = fg_cbr(&c, "c1", x, 1, 16, 1, 3, 3, 1, 0, 1, 1);
    grt_graph_set_output(c.g, x);
    compare("conv2d first layer", c.g, 1, 5, NULL, 1);
}

/* BasicBlocks: identity, stride 2 with a 1x1 projection (odd H: no 2-D folding; even H:
 * folded), channel change; N = 2 items. */
static void t_conv2d_blocks(int h, const char *name) {
    NEWG(2);
    int x = grt_graph_input(c.g, 1, h, 9);
    x = fg_cbr(&c, "stem", x, 1, 16, 1, 3, 3, 1, 0, 1, 1);
    x = fg_basic2d(&c, "b1", x, 16, 16, 1);
    x = fg_basic2d(&c, "b2", x, 16, 24, 2);
    x = fg_basic2d(&c, "b3", x, 24, 32, 1);
    grt_graph_set_output(c.g, x);
    compare(name, c.g, 2, 3, NULL, 2);
}

/* 3x3x3 convs (pad 1, spatial stride 2), a 1x1x1 (1,2,2) projection and a residual. */
static void t_conv3d(void) {
    NEWG(3);
    int x = grt_graph_input(c.g, 2, 12, 10);
    int s = fg_conv(&c, "c0", x, 2, 16, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    s = grt_graph_act(c.g, "r0", s, GRT_ACT_RELU, 0);
    int id = fg_conv(&c, "ds", s, 16, 24, 1, 1, 1, 1, 2, 2, 0, 0, 0, 1, 0);
    id = fg_bn(&c, "dsbn", id, 24);
    int y = fg_conv(&c, "c1", s, 16, 24, 3, 3, 3, 1, 2, 2, 1, 1, 1, 1, 0);
    y = fg_bn(&c, "bn1", y, 24);
    y = grt_graph_act(c.g, "r1", y, GRT_ACT_RELU, 0);
    y = fg_conv(&c, "c2", y, 24, 24, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0);
    y = fg_bn(&c, "bn2", y, 24);
    y = grt_graph_add(c.g, "add", y, id);
    y = grt_graph_act(c.g, "r2", y, GRT_ACT_RELU, 0);
    grt_graph_set_output(c.g, y);
    compare("conv3d 3x3x3 block", c.g, 2, 6, NULL, 2);
}

/* DeepGaitV2 P3D blocks: the (3,1,1) conv reads and adds the same value. */
static void t_p3d(void) {
    NEWG(4);
    int x = grt_graph_input(c.g, 1, 16, 11);
    x = fg_cbr(&c, "l0", x, 1, 16, 1, 3, 3, 1, 0, 1, 1);
    x = fg_p3d(&c, "l2", x, 16, 32, 2);
    x = fg_p3d(&c, "l3", x, 32, 32, 1);
    grt_graph_set_output(c.g, x);
    compare("p3d blocks", c.g, 2, 7, NULL, 2);
}

/* Odd channels (5 -> 12 -> 20), a 3x5 kernel with dilation 2, groups, temporal stride
 * and padding, leaky relu and sigmoid post-ops. */
static void t_conv_odd(void) {
    NEWG(5);
    int x = grt_graph_input(c.g, 5, 11, 13);
    int y = fg_conv(&c, "c0", x, 5, 12, 1, 3, 5, 1, 1, 1, 0, 2, 4, 1, 1);
    y = grt_graph_act(c.g, "lrelu", y, GRT_ACT_LEAKY_RELU, 0.1f);
    grt_node *n = &c.g->nodes[c.g->n_nodes - 2];
    n->a.conv.d[1] = 2, n->a.conv.d[2] = 2; /* dilation: no builder argument, set on the node */
    y = fg_conv(&c, "c1", y, 12, 20, 3, 3, 3, 2, 1, 1, 1, 1, 1, 4, 1);
    y = grt_graph_act(c.g, "sig", y, GRT_ACT_SIGMOID, 0);
    grt_graph_set_output(c.g, y);
    compare("conv odd/dilated/grouped", c.g, 1, 7, NULL, 1);
}

/* Standalone BN on the input (row-major) and after an add (blocked), sigmoid and leaky relu
 * acts on blocked data, add and mul of two convs, 2-D and 3-D max pooling. */
static void t_eltwise_pool(void) {
    NEWG(6);
    int x = grt_graph_input(c.g, 3, 12, 10);
    int b0 = fg_bn(&c, "bn_in", x, 3);
    b0 = grt_graph_act(c.g, "bn_in_relu", b0, GRT_ACT_RELU, 0);
    int a = fg_conv(&c, "ca", b0, 3, 12, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    int b = fg_conv(&c, "cb", b0, 3, 12, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    int s = grt_graph_add(c.g, "add", a, b);
    int m = grt_graph_mul(c.g, "mul", a, b);
    s = fg_bn(&c, "bn_mid", s, 12);
    s = grt_graph_act(c.g, "sig", s, GRT_ACT_SIGMOID, 0);
    m = grt_graph_act(c.g, "lrelu", m, GRT_ACT_LEAKY_RELU, 0.2f);
    int y = grt_graph_add(c.g, "add2", s, m);
    const int k2[3] = {1, 2, 2}, s2[3] = {1, 2, 2}, p0[3] = {0, 0, 0};
    y = grt_graph_maxpool(c.g, "pool2d", y, k2, s2, p0);
    y = fg_conv(&c, "cc", y, 12, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    const int k3[3] = {3, 3, 3}, s3[3] = {1, 2, 2}, p1[3] = {1, 1, 1};
    y = grt_graph_maxpool(c.g, "pool3d", y, k3, s3, p1);
    grt_graph_set_output(c.g, y);
    compare("eltwise + maxpool", c.g, 2, 5, NULL, 2);
}

/* The head on a packed batch: 3 sequences of 5, 4 and 3 frames in one item (N = 1). */
static void t_head_packed(void) {
    NEWG(7);
    int x = grt_graph_input(c.g, 1, 16, 11);
    x = fg_cbr(&c, "c", x, 1, 24, 1, 3, 3, 1, 0, 1, 1);
    x = fg_basic2d(&c, "b", x, 24, 40, 1);
    x = grt_graph_temporal_max(c.g, "TP", x);
    const int bins[3] = {4, 2, 1};
    x = grt_graph_hpp(c.g, "HPP", x, 3, bins);
    int64_t fs[3] = {7, 40, 32};
    int w = fg_rand(&c, 3, fs, 0.1f);
    x = grt_graph_sepfc(c.g, "FCs", x, w, 0);
    grt_graph_set_output(c.g, x);
    const grt_segment seg[3] = {{0, 0, 5}, {0, 5, 4}, {0, 9, 3}};
    compare("head packed segments", c.g, 1, 12, seg, 3);
}

/* The head over N = 3 items, normalised FC weights, L2 norm; GeM pooling (reference path). */
static void t_head_batch(int gem) {
    NEWG(8);
    int x = grt_graph_input(c.g, 1, 16, 11);
    x = fg_cbr(&c, "c", x, 1, 32, 1, 3, 3, 1, 0, 1, 1);
    x = grt_graph_temporal_max(c.g, "TP", x);
    const int bins[2] = {16, 8};
    if (gem) {
        float pv = 6.5f;
        int64_t one = 1;
        int pp = grt_graph_const(c.g, "gem.p", 1, &one, &pv);
        x = grt_graph_gem_hpp(c.g, "GeM", x, 2, bins, pp, 1e-6f);
    } else {
        x = grt_graph_hpp(c.g, "HPP", x, 2, bins);
    }
    int64_t fs[3] = {24, 32, 64};
    int w = fg_rand(&c, 3, fs, 0.1f);
    x = grt_graph_sepfc(c.g, "FCs", x, w, 1);
    x = grt_graph_l2norm(c.g, "norm", x, 1e-12f);
    grt_graph_set_output(c.g, x);
    compare(gem ? "head GeM + L2 norm" : "head N=3 + normed FC", c.g, 3, 4, NULL, 3);
}

/* Concat of two blocked convs (reference path, converted), a conv after it (converted back),
 * slice, transpose, reshape; two graph inputs. */
static void t_movement(void) {
    NEWG(9);
    int x0 = grt_graph_input(c.g, 1, 10, 8);
    int x1 = grt_graph_input(c.g, 2, 10, 8);
    int a = fg_conv(&c, "ca", x0, 1, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    int b = fg_conv(&c, "cb", x1, 2, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    const int xs[2] = {a, b};
    int y = grt_graph_concat(c.g, "cat", 2, xs, 1);
    y = fg_conv(&c, "cc", y, 16, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    y = grt_graph_slice(c.g, "slice", y, 1, 3, 10);
    const int perm[5] = {0, 1, 2, 4, 3};
    y = grt_graph_transpose(c.g, "tr", y, 5, perm);
    const int64_t shp[3] = {0, 10, -1};
    y = grt_graph_reshape(c.g, "rs", y, 3, shp);
    y = grt_graph_act(c.g, "relu", y, GRT_ACT_RELU, 0);
    grt_graph_set_output(c.g, y);
    compare("concat/slice/transpose/reshape", c.g, 1, 3, NULL, 1);
}

/* Channel concats of three blocked convs: 8 + 16 + 5 channels (whole blocks, then a partial
 * last one: the blocked copy) and 5 + 8 (a partial block first: the reference kernel). */
static void t_concat_channels(void) {
    NEWG(10);
    int x0 = grt_graph_input(c.g, 1, 10, 8);
    int a = fg_conv(&c, "ca", x0, 1, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    int b = fg_conv(&c, "cb", x0, 1, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    int d = fg_conv(&c, "cd", x0, 1, 5, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    const int xs[3] = {a, b, d};
    int y = grt_graph_concat(c.g, "cat3", 3, xs, 1);
    y = fg_conv(&c, "cy", y, 29, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    const int zs[2] = {d, a};
    int z = grt_graph_concat(c.g, "cat2", 2, zs, 1);
    z = fg_conv(&c, "cz", z, 13, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    y = grt_graph_add(c.g, "sum", y, z);
    grt_graph_set_output(c.g, y);
    compare("channel concats (blocked and reference)", c.g, 2, 3, NULL, 1);
}

/* A residual that is read again later cannot be overwritten in place: the backend copies it. */
static void t_shared_residual(void) {
    NEWG(10);
    int x = grt_graph_input(c.g, 1, 9, 9);
    int a = fg_conv(&c, "a", x, 1, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    int y = fg_conv(&c, "y", a, 16, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    y = grt_graph_add(c.g, "add", y, a);
    y = grt_graph_add(c.g, "add_again", y, a);
    grt_graph_set_output(c.g, y);
    compare("residual read twice", c.g, 1, 4, NULL, 1);
}

/* GaitPart's shapes of computation: 2x2 max pooling straight after a Winograd conv (pooled by
 * the conv, tile by tile), and after a focal conv (rows split into strips as frames and back:
 * reshapes on the blocked layout, pooled by the conv through them); pools the conv cannot
 * take (a residual, a second reader, an odd width: our pooling kernel); the parts' temporal
 * part (parts outermost as groups, (3, 1, 1) and (1, 1, 1) grouped convs on one position per
 * frame, 3- and 5-frame average + max pools, max over the frames). */
static void t_focal_pool(void) {
    NEWG(12);
    const int k2[3] = {1, 2, 2}, s2[3] = {1, 2, 2}, p0[3] = {0, 0, 0};
    int x = grt_graph_input(c.g, 1, 16, 12);
    x = fg_conv(&c, "c0", x, 1, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    x = fg_cbr(&c, "c1", x, 16, 16, 1, 3, 3, 1, 0, 1, 1);
    x = grt_graph_maxpool(c.g, "pool1", x, k2, s2, p0); /* 8 x 6: fused */
    int r = fg_conv(&c, "c3", x, 16, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    r = grt_graph_add(c.g, "res", r, x);
    int y = grt_graph_maxpool(c.g, "pool3", r, k2, s2, p0); /* a residual conv: not fused */
    int z = fg_conv(&c, "c4", x, 16, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    int zp = grt_graph_maxpool(c.g, "pool4", z, k2, s2, p0); /* the conv's output is read twice: not fused */
    z = grt_graph_add(c.g, "z2", z, z);
    z = grt_graph_maxpool(c.g, "pool5", z, k2, s2, p0);
    y = grt_graph_add(c.g, "y1", grt_graph_add(c.g, "y0", y, zp), z);
    const int64_t strips[5] = {0, 0, -1, 2, 6}, back[5] = {0, 0, -1, 8, 6};
    int f = grt_graph_reshape(c.g, "focal", x, 5, strips);
    f = fg_cbr(&c, "c2", f, 16, 16, 1, 3, 3, 1, 0, 1, 1);
    f = grt_graph_reshape(c.g, "focal", f, 5, back);
    f = grt_graph_maxpool(c.g, "pool2", f, k2, s2, p0); /* 4 x 3: fused through the reshapes */
    y = grt_graph_add(c.g, "y2", y, f);
    y = fg_conv(&c, "c5", y, 16, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    y = grt_graph_maxpool(c.g, "pool6", y, k2, s2, p0); /* odd width: not fused, 2 x 1 */
    /* parts outermost: (N, C, T, P, 1) -> (N, P, C, T, 1) -> (N, P*C, T, 1, 1), grouped per part */
    const int perm[5] = {0, 3, 1, 2, 4};
    const int64_t parts[5] = {0, 32, -1, 1, 1};
    y = grt_graph_transpose(c.g, "parts", y, 5, perm);
    y = grt_graph_reshape(c.g, "parts", y, 5, parts);
    int sc = fg_conv(&c, "s0", y, 32, 8, 3, 1, 1, 1, 1, 1, 1, 0, 0, 2, 0);
    sc = grt_graph_act(c.g, "s0", sc, GRT_ACT_LEAKY_RELU, 0.01f);
    sc = fg_conv(&c, "s1", sc, 8, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 0);
    sc = grt_graph_act(c.g, "s1", sc, GRT_ACT_SIGMOID, 0);
    const int kt3[3] = {3, 1, 1}, kt5[3] = {5, 1, 1}, s1[3] = {1, 1, 1}, pt1[3] = {1, 0, 0}, pt2[3] = {2, 0, 0};
    int t3 = grt_graph_add(c.g, "t3", grt_graph_avgpool(c.g, "a3", y, kt3, s1, pt1), grt_graph_maxpool(c.g, "m3", y, kt3, s1, pt1));
    int t5 = grt_graph_add(c.g, "t5", grt_graph_avgpool(c.g, "a5", y, kt5, s1, pt2), grt_graph_maxpool(c.g, "m5", y, kt5, s1, pt2));
    y = grt_graph_add(c.g, "tsum", grt_graph_mul(c.g, "w3", t3, sc), t5);
    y = grt_graph_reduce(c.g, "tmax", y, 2, 1, GRT_REDUCE_MAX);
    grt_graph_set_output(c.g, y);
    const want_op want[] = {{"conv(winograd)+maxpool", 2}, {"maxpool", 6}, {"avgpool", 2}, {NULL, 0}};
    compare_ex("GaitPart-shaped (pool fusion, parts)", c.g, 2, 6, NULL, 2, want);
}

/* One 3x3x3 conv (one weight) on each of `strips` horizontal strips of x, concatenated back
 * along H through nested concats of at most GRT_MAX_IN inputs (GaitGL's local branch). */
static int strips_conv(fg_ctx *c, const char *name, int x, int ci, int co, int h, int strips) {
    const int64_t ws[5] = {co, ci, 3, 3, 3};
    const int w = fg_rand(c, 5, ws, sqrtf(2.0f / (float)(ci * 27)));
    const int k[3] = {3, 3, 3}, st[3] = {1, 1, 1}, p[3] = {1, 1, 1};
    int parts[8], groups[2], ng = 0;
    for (int j = 0; j < strips; j++)
        parts[j] = grt_graph_conv(c->g, name, grt_graph_slice(c->g, name, x, 3, j * (h / strips), h / strips), w, -1, k, st, p, 1);
    for (int j = 0; j < strips; j += GRT_MAX_IN) {
        const int nk = strips - j < GRT_MAX_IN ? strips - j : GRT_MAX_IN;
        groups[ng++] = grt_graph_concat(c->g, name, nk, parts + j, 3);
    }
    return ng > 1 ? grt_graph_concat(c->g, name, ng, groups, 3) : groups[0];
}

/* GaitGL's shapes of computation: the local branch as one step over strips (8 strips of 2 rows
 * through nested concats, leaky ReLU after the concat taken by the step; 2 strips of 8 rows
 * concatenated with the global conv along H, then leaky ReLU: a blocked concat along H), and
 * the max over the frames on the blocked layout. A branch that is not that (a bias on one
 * strip) runs as the graph says. */
static void t_strips(void) {
    NEWG(13);
    int x = grt_graph_input(c.g, 1, 16, 8);
    x = fg_conv(&c, "c0", x, 1, 16, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0);
    int g = fg_conv(&c, "A.global", x, 16, 16, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0);
    g = grt_graph_act(c.g, "A.global", g, GRT_ACT_LEAKY_RELU, 0.01f);
    int l = strips_conv(&c, "A.local", x, 16, 16, 16, 8);
    l = grt_graph_act(c.g, "A.local", l, GRT_ACT_LEAKY_RELU, 0.01f);
    x = grt_graph_add(c.g, "A", g, l);
    int gb = fg_conv(&c, "B.global", x, 16, 16, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0);
    int lb = strips_conv(&c, "B.local", x, 16, 16, 16, 2);
    const int both[2] = {gb, lb};
    x = grt_graph_act(c.g, "B", grt_graph_concat(c.g, "B", 2, both, 3), GRT_ACT_LEAKY_RELU, 0.01f); /* H 32 */
    /* not a strips branch: the second strip's conv has another weight */
    const int k3[3] = {3, 3, 3}, s1[3] = {1, 1, 1}, p1[3] = {1, 1, 1};
    const int64_t ws[5] = {16, 16, 3, 3, 3};
    const int w = fg_rand(&c, 5, ws, 0.1f), w2 = fg_rand(&c, 5, ws, 0.1f);
    int q[2] = {grt_graph_conv(c.g, "C.0", grt_graph_slice(c.g, "C.0", x, 3, 0, 16), w, -1, k3, s1, p1, 1),
                grt_graph_conv(c.g, "C.1", grt_graph_slice(c.g, "C.1", x, 3, 16, 16), w2, -1, k3, s1, p1, 1)};
    x = grt_graph_add(c.g, "C", x, grt_graph_concat(c.g, "C", 2, q, 3));
    x = grt_graph_reduce(c.g, "TP", x, 2, 1, GRT_REDUCE_MAX);
    x = grt_graph_act(c.g, "out", x, GRT_ACT_SIGMOID, 0); /* (the output's conversion is profiled with the last node) */
    grt_graph_set_output(c.g, x);
    const want_op want[] = {{"conv(winograd, strips)", 2}, {"reduce", 1}, {"concat", 2}, {NULL, 0}};
    compare_ex("GaitGL-shaped (strips, H concat, TP)", c.g, 2, 5, NULL, 2, want);
}

/* channel weights z (N, 2C, T, 1, 1) from two (N, C, T) vectors: concat, 1x1x1 convs, sigmoid */
static int ctx_fc(fg_ctx *c, const char *name, int a, int b, int ch) {
    const int both[2] = {a, b};
    const int64_t s5[5] = {0, 2 * ch, -1, 1, 1};
    int z = grt_graph_reshape(c->g, name, grt_graph_concat(c->g, name, 2, both, 1), 5, s5);
    z = grt_graph_act(c->g, name, fg_conv(c, name, z, 2 * ch, ch / 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0), GRT_ACT_RELU, 0);
    z = fg_conv(c, name, z, ch / 2, 2 * ch, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0);
    return grt_graph_act(c->g, name, z, GRT_ACT_SIGMOID, 0);
}

/* X[rows] * z[:C] + Y[rows] * z[C:] */
static int ctx_mix(fg_ctx *c, const char *name, int x, int y, int z, int ch, int row0, int rows) {
    int zx = grt_graph_slice(c->g, name, z, 1, 0, ch), zy = grt_graph_slice(c->g, name, z, 1, ch, ch);
    if (rows) x = grt_graph_slice(c->g, name, x, 3, row0, rows), y = grt_graph_slice(c->g, name, y, 3, row0, rows);
    return grt_graph_add(c->g, name, grt_graph_mul_bcast(c->g, name, x, zx), grt_graph_mul_bcast(c->g, name, y, zy));
}

/* XGait's context modules after its two backbones, on the blocked layout: spatial means to
 * per-frame vectors (N, C, T), their concat and 1x1x1 convs, channel weights sliced off and
 * broadcast over the map; label masks (the reference's: tiny) broadcast over the channels,
 * mean + max over the map; row slices mixed and concatenated along H. The graph of both context
 * tests: ch channels per side; second: one more ch -> ch conv on each side (on AMX it writes
 * channels-last). */
static void build_context(fg_ctx *c, int ch, int second) {
    int sil = grt_graph_input(c->g, 1, 8, 6), par = grt_graph_input(c->g, 1, 8, 6);
    int X = grt_graph_act(c->g, "X", fg_conv(c, "X", sil, 1, ch, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1), GRT_ACT_RELU, 0);
    int Y = grt_graph_act(c->g, "Y", fg_conv(c, "Y", par, 1, ch, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1), GRT_ACT_RELU, 0);
    if (second) {
        X = grt_graph_act(c->g, "X2", fg_conv(c, "X2", X, ch, ch, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1), GRT_ACT_RELU, 0);
        Y = grt_graph_act(c->g, "Y2", fg_conv(c, "Y2", Y, ch, ch, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1), GRT_ACT_RELU, 0);
    }
    int mx = grt_graph_reduce(c->g, "mean_x", X, 3, 2, GRT_REDUCE_MEAN);
    int my = grt_graph_reduce(c->g, "mean_y", Y, 3, 2, GRT_REDUCE_MEAN);
    int G = ctx_mix(c, "gcm", X, Y, ctx_fc(c, "gcm.fc", mx, my, ch), ch, 0, 0);
    /* labels 0..11 from the parsing input, a mask of them broadcast over Y's channels */
    const int64_t one[5] = {1, 1, 1, 1, 1};
    const int k1[3] = {1, 1, 1}, s1[3] = {1, 1, 1}, p0[3] = {0, 0, 0};
    int lw = grt_graph_const(c->g, "labels.w", 5, one, (const float[]){11.9f});
    int labels = grt_graph_conv(c->g, "labels", par, lw, -1, k1, s1, p0, 1);
    int m = grt_graph_label_mask(c->g, "mask", labels, (1u << 2) | (1u << 3) | (1u << 7), fg_uniform(c, 1, 0.6f, 0.9f));
    int yp = grt_graph_reduce(c->g, "pool", grt_graph_mul_bcast(c->g, "weighted", Y, m), 3, 2, GRT_REDUCE_MEAN_MAX);
    int xq = grt_graph_reduce(c->g, "top", grt_graph_slice(c->g, "top", X, 3, 0, 2), 3, 2, GRT_REDUCE_MEAN_MAX);
    int P = ctx_mix(c, "pcm", X, Y, ctx_fc(c, "pcm.fc", xq, yp, ch), ch, 2, 4);
    const int gp[2] = {G, P};
    int y = grt_graph_reduce(c->g, "TP", grt_graph_concat(c->g, "cat", 2, gp, 3), 2, 1, GRT_REDUCE_MAX);
    y = grt_graph_act(c->g, "out", y, GRT_ACT_SIGMOID, 0); /* (the output's conversion is profiled with the last node) */
    grt_graph_set_output(c->g, y);
}

static void t_context(void) {
    NEWG(14);
    build_context(&c, 24, 0); /* three blocks of 8: the channel slices fall on block edges */
    const want_op want[] = {{"mul_bcast", 5}, {"slice", 7}, {"reduce", 5}, {"reference", 1}, {NULL, 0}};
    compare_ex("XGait-shaped (context modules)", c.g, 2, 5, NULL, 2, want);
}

/* The same context modules in bf16 where the CPU has it, with a second conv on each side
 * (48 -> 48: on AMX it writes channels-last) and three 16-channel blocks: the reductions,
 * slices and broadcast products read the convs' outputs through one conversion to blocked f32
 * each, not on the reference kernels (only the label mask does, as at fp32). */
static void t_context_bf16(void) {
    if (!grt_cpu_info_get()->avx512_bf16) {
        printf("context modules in bf16: SKIPPED (no avx512_bf16 here)\n");
        return;
    }
    NEWG(15);
    build_context(&c, 48, 1);
    const want_op want[] = {{"mul_bcast", 5}, {"slice", 7}, {"reduce", 5}, {"reference", 1}, {NULL, 0}};
    compare_prec("XGait-shaped context, bf16", c.g, 2, 5, NULL, 2, want, GRT_PREC_BF16);
}

/* bf16 where the CPU has it: a layer whose weights were laid out at the nominal shape (32
 * frames) for a kernel that another frame count does not get (on AMX: XGait's 1024 -> 32 1x1
 * over a row of frames) must not end on oneDNN's reference convolution, which takes any
 * weights layout at 50x the time: the plan asks again with a private copy of the weights.
 * Every conv of the plan runs a compiled kernel, at 30 and at 17 frames, within bf16's
 * accuracy of the reference backend. */
static void t_bf16_no_ref_kernel(void) {
    if (!grt_cpu_info_get()->avx512_bf16) {
        printf("bf16 plans: SKIPPED (no avx512_bf16 here)\n");
        return;
    }
    NEWG(17);
    int x = grt_graph_input(c.g, 1024, 1, 1);
    x = fg_conv(&c, "row", x, 1024, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0);
    x = grt_graph_act(c.g, "r", x, GRT_ACT_RELU, 0);
    x = fg_conv(&c, "row3", x, 32, 32, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1);
    grt_graph_set_output(c.g, x);
    grt_graph *g = grt_graph_fuse(c.g);
    CHECK(g != NULL);
    for (int t = 30; g && t > 0; t = t == 30 ? 17 : 0) {
        grt_batch_shape bs = {1, t, 1};
        const grt_segment seg[1] = {{0, 0, t}};
        fg_runner lo, ref;
        CHECK_MSG(fg_open(&lo, grt_backend_cpu_fast(), g, &bs, GRT_PREC_BF16, 2) == 0, "bf16: %s", gaitrt_last_error());
        CHECK_MSG(fg_open(&ref, grt_backend_cpu_ref(), g, &bs, GRT_PREC_F32, 2) == 0, "ref: %s", gaitrt_last_error());
        if (lo.pl && ref.pl) {
            const int nref = grt_fast_plan_ref_convs(lo.pl);
            CHECK_MSG(nref == 0, "bf16 at %d frames: %d convolutions on oneDNN's reference kernel", t, nref);
            float *in = malloc(sizeof(float) * 1024 * t), *ya = malloc(sizeof(float) * 32 * t), *yb = malloc(sizeof(float) * 32 * t);
            grt_rng rng = {5};
            for (int i = 0; i < 1024 * t; i++) in[i] = grt_rng_uniform(&rng);
            const float *ins[1] = {in};
            CHECK(fg_run(&lo, ins, seg, ya, NULL) == 0);
            CHECK(fg_run(&ref, ins, seg, yb, NULL) == 0);
            const double rel = grt_rel_l2(ya, yb, (size_t)32 * t);
            printf("bf16 1x1 over a row of %d frames: %d reference convolutions, rel L2 vs fp32 reference %.3g\n", t, nref, rel);
            CHECK_MSG(rel < 2e-2, "bf16 at %d frames: rel L2 %.3g", t, rel);
            free(in), free(ya), free(yb);
        }
        fg_close(&lo);
        fg_close(&ref);
    }
    grt_graph_free(g);
    grt_graph_free(c.g);
}

int main(void) {
    if (!grt_backend_cpu_fast()) TEST_SKIP("fast CPU backend not built: %s", gaitrt_last_error());
    t_conv2d_first();
    t_bf16_no_ref_kernel();
    t_context_bf16();
    t_conv2d_blocks(11, "conv2d blocks H=11");
    t_conv2d_blocks(12, "conv2d blocks H=12 (folded)");
    t_conv3d();
    t_p3d();
    t_conv_odd();
    t_eltwise_pool();
    t_head_packed();
    t_head_batch(0);
    t_head_batch(1);
    t_movement();
    t_concat_channels();
    t_shared_residual();
    t_focal_pool();
    t_strips();
    t_context();
    printf("max relative L2 over all cases: %.3g\n", worst_rel);
    return grt_test_finish("test_fast_ops");
}
