/* test_cuda_host.c — the CUDA backend's host side, on any machine (no GPU needed): the
 * no-device error path; 16-bit conversions against the core's; layout helpers, copy
 * simplification, segment checks, cuDNN descriptor dims, weight packing, algorithm choice
 * and its cache; the lowering of GaitBase- and DeepGaitV2-shaped graphs and of a graph with
 * every op (layouts, conversions, conv paths, arena without overlaps); and the lowered
 * programs run on the host with the GPU kernels' element functions against the reference
 * backend (float32: relative L2 <= 1e-5; float16 / bfloat16: cosine >= 0.9995). */
#include <string.h>

#include "backends/cuda/cu_prog.h"
#include "gpu_models.h"
#include "host_exec.h"
#include "test_cuda_common.h"

int grt_cuda_device_list(gaitrt_device_desc *out, int cap);

/* ---- no device ------------------------------------------------------------------------- */

static void test_no_device(void) {
    const grt_backend_i *cu = grt_backend_cuda();
    if (cu) {
        printf("no-device path: a CUDA device is present here (%s), not checked\n", cu->name);
        return;
    }
    const char *e = gaitrt_last_error();
    printf("no-device path: %s\n", e);
    CHECK(strstr(e, "no CUDA driver/device") != NULL);
    CHECK(strstr(e, "HINT") != NULL);
    gaitrt_device_desc d[4];
    CHECK(grt_cuda_device_list(d, 4) == 0);
    /* and the whole library still works: a session falls back to the CPU */
    gaitrt_device_desc all[8];
    int n = 0;
    CHECK(gaitrt_device_list(NULL, all, 8, &n) == GAITRT_OK);
    CHECK(n >= 1 && all[0].kind == GAITRT_DEVICE_CPU);
}

/* ---- 16-bit floats ------------------------------------------------------------------------ */

static void test_half(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float a = grt_cu_f16_to_f32((uint16_t)h), b = grt_f16_to_f32((uint16_t)h);
        float c = grt_cu_bf16_to_f32((uint16_t)h), d = grt_bf16_to_f32((uint16_t)h);
        if (isnan(b) ? !isnan(a) : memcmp(&a, &b, 4) != 0) bad++;
        if (isnan(d) ? !isnan(c) : memcmp(&c, &d, 4) != 0) bad++;
    }
    CHECK_MSG(bad == 0, "%d 16-bit patterns widen differently", bad);
    bad = 0;
    int n = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 4093, n++) {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, 4);
        uint16_t a = grt_cu_f32_to_f16(f), b = grt_f32_to_f16(f);
        uint16_t c = grt_cu_f32_to_bf16(f), d = grt_f32_to_bf16(f);
        if (isnan(f)) {
            if ((a & 0x7c00) != 0x7c00 || !(a & 0x3ff) || (c & 0x7f80) != 0x7f80 || !(c & 0x7f)) bad++;
        } else if (a != b || c != d) {
            if (bad < 5) fprintf(stderr, "f=%g: f16 %04x vs %04x, bf16 %04x vs %04x\n", f, a, b, c, d);
            bad++;
        }
    }
    /* ties and the edges of the half range */
    const float edge[] = {65504.0f, 65519.99f, 65520.0f, 6.1035156e-05f, 6.097555e-05f, 5.9604645e-08f, 2.9802322e-08f,
                          2.9802326e-08f, 1.0009766f, 1.0014648f, -0.0f, INFINITY};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        if (grt_cu_f32_to_f16(edge[i]) != grt_f32_to_f16(edge[i]) || grt_cu_f32_to_bf16(edge[i]) != grt_f32_to_bf16(edge[i])) bad++;
    CHECK_MSG(bad == 0, "%d of %d floats narrow differently", bad, n);
    printf("16-bit conversions: 65536 patterns widened, %d floats narrowed, %d differences\n", n, bad);
}

/* ---- small helpers ----------------------------------------------------------------------- */

static void test_helpers(void) {
    /* strides of NTHWC storage of an (N, C, T, H, W) tensor */
    grt_cu_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = 5;
    int64_t sh[5] = {2, 3, 4, 5, 6};
    memcpy(t.shape, sh, sizeof sh);
    memcpy(t.perm, grt_cu_perm_cl5, sizeof(int) * 5);
    int64_t st[8];
    grt_cu_strides(&t, st);
    CHECK(st[0] == 360 && st[1] == 1 && st[2] == 90 && st[3] == 18 && st[4] == 3);
    int nd, d[5], s[5];
    CHECK(grt_cu_conv_tensor_dims(&t, 1, &nd, d, s));
    CHECK(nd == 4 && d[0] == 8 && d[1] == 3 && d[2] == 5 && d[3] == 6 && s[0] == 90 && s[1] == 1 && s[2] == 18 && s[3] == 3);
    CHECK(grt_cu_conv_tensor_dims(&t, 0, &nd, d, s));
    CHECK(nd == 5 && d[0] == 2 && d[2] == 4 && s[0] == 360 && s[1] == 1 && s[2] == 90 && s[3] == 18 && s[4] == 3);
    t.shape[0] = 1 << 23; /* 2^23 * 360 elements: beyond cuDNN's int sizes */
    CHECK(!grt_cu_conv_tensor_dims(&t, 0, &nd, d, s));
    grt_value w;
    memset(&w, 0, sizeof w);
    w.ndim = 5;
    int64_t wsh[5] = {8, 4, 3, 1, 1};
    memcpy(w.shape, wsh, sizeof wsh);
    grt_cu_conv_filter_dims(&w, 0, &nd, d);
    CHECK(nd == 5 && d[0] == 8 && d[1] == 4 && d[2] == 3 && d[3] == 1 && d[4] == 1);
    wsh[2] = 1;
    wsh[3] = wsh[4] = 3;
    memcpy(w.shape, wsh, sizeof wsh);
    grt_cu_conv_filter_dims(&w, 1, &nd, d);
    CHECK(nd == 4 && d[0] == 8 && d[1] == 4 && d[2] == 3 && d[3] == 3);

    /* reshapes as views of channels-last storage */
    int yp[8];
    t.shape[0] = 2; /* (2, 3, 4, 5, 6) stored NTHWC */
    /* GaitPart's focal strips: (N, C, T, H, W) -> (N, C, 2T, H/2, W) stays NTHWC */
    grt_cu_tensor v = t;
    v.shape[3] = 10;
    const int64_t strips[5] = {2, 3, 8, 5, 6};
    CHECK(grt_cu_reshape_view(&v, 5, strips, yp) && yp[0] == 0 && yp[1] == 2 && yp[2] == 3 && yp[3] == 4 && yp[4] == 1);
    const int64_t merged[4] = {2, 12, 5, 6}; /* (C, T) merged: C is innermost in storage, T outer: no view */
    CHECK(!grt_cu_reshape_view(&t, 4, merged, yp));
    const int64_t frames[4] = {8, 3, 5, 6}; /* (N, T) of NTHWC are not adjacent logically: no view */
    CHECK(!grt_cu_reshape_view(&t, 4, frames, yp));
    grt_cu_tensor m4;
    memset(&m4, 0, sizeof m4);
    m4.ndim = 4;
    m4.shape[0] = 2, m4.shape[1] = 3, m4.shape[2] = 5, m4.shape[3] = 6;
    memcpy(m4.perm, grt_cu_perm_cl4, sizeof(int) * 4);
    const int64_t one_frame[5] = {2, 3, 1, 5, 6}; /* GaitSet: maps as one-frame items */
    CHECK(grt_cu_reshape_view(&m4, 5, one_frame, yp));
    grt_cu_tensor y5;
    memset(&y5, 0, sizeof y5);
    y5.ndim = 5;
    memcpy(y5.shape, one_frame, sizeof one_frame);
    memcpy(y5.perm, yp, sizeof(int) * 5);
    CHECK(grt_cu_layout_equiv(&y5, grt_cu_perm_cl5)); /* what a conv needs, without a copy */
    memcpy(y5.perm, grt_cu_perm_pm3, sizeof(int) * 3);
    y5.perm[3] = 3, y5.perm[4] = 4;
    CHECK(!grt_cu_layout_equiv(&y5, grt_cu_perm_cl5));

    /* segments */
    grt_segment ok[2] = {{0, 0, 3}, {1, 2, 3}}, bad1[1] = {{2, 0, 1}}, bad2[1] = {{0, 3, 3}}, bad3[1] = {{0, 0, 0}};
    int32_t rows[GRT_CU_SEG_INTS(2, 2)];
    int padded = -1;
    /* item 0 ends at frame 3 (two padded frames), item 1 at 5 */
    CHECK(grt_cu_segments(ok, 2, 2, 5, rows, &padded) == GRT_OK && rows[3] == 1 && rows[4] == 2 && rows[5] == 3);
    CHECK(rows[6] == 3 && rows[7] == 5 && padded == 1);
    grt_segment full[2] = {{0, 0, 5}, {1, 1, 4}};
    CHECK(grt_cu_segments(full, 2, 2, 5, rows, &padded) == GRT_OK && rows[6] == 5 && rows[7] == 5 && padded == 0);
    CHECK(grt_cu_segments(bad1, 1, 2, 5, rows, &padded) == GAITRT_ERR_INPUT);
    CHECK(grt_cu_segments(bad2, 1, 2, 5, rows, &padded) == GAITRT_ERR_INPUT);
    CHECK(strstr(gaitrt_last_error(), "outside the batch") != NULL);
    CHECK(grt_cu_segments(bad3, 1, 2, 5, rows, &padded) == GAITRT_ERR_INPUT);
    CHECK(grt_cu_segments(NULL, 1, 2, 5, rows, &padded) != GRT_OK);

    /* copy simplification keeps the mapping: random shapes, a permuted destination */
    grt_rng r = {11};
    int mism = 0;
    for (int trial = 0; trial < 200; trial++) {
        grt_cu_copy_desc a;
        memset(&a, 0, sizeof a);
        a.nd = 1 + (int)(grt_rng_uniform(&r) * 5);
        a.n = 1;
        for (int k = 0; k < a.nd; k++) {
            a.size[k] = 1 + (int64_t)(grt_rng_uniform(&r) * 4);
            a.n *= a.size[k];
        }
        /* destination packed in order; source packed in a random order */
        int64_t s2 = 1;
        for (int k = a.nd - 1; k >= 0; k--) {
            a.ds[k] = s2;
            s2 *= a.size[k];
        }
        int order[8];
        for (int k = 0; k < a.nd; k++) order[k] = k;
        for (int k = a.nd - 1; k > 0; k--) {
            int j = (int)(grt_rng_uniform(&r) * (k + 1));
            int tmp = order[k];
            order[k] = order[j];
            order[j] = tmp;
        }
        s2 = 1;
        for (int k = a.nd - 1; k >= 0; k--) {
            a.ss[order[k]] = s2;
            s2 *= a.size[order[k]];
        }
        a.soff = 5;
        a.doff = 3;
        grt_cu_copy_desc b = a;
        grt_cu_copy_simplify(&b);
        CHECK(b.nd >= 1 && b.nd <= a.nd && b.n == a.n);
        static float src[1100], d1[1100], d2[1100];
        for (int i = 0; i < 1100; i++) src[i] = (float)i;
        memset(d1, 0, sizeof d1);
        memset(d2, 0, sizeof d2);
        for (int64_t i = 0; i < a.n; i++) {
            grt_cu_copy_at(&a, src, d1, i);
            grt_cu_copy_at(&b, src, d2, i);
        }
        if (memcmp(d1, d2, sizeof d1) != 0) mism++;
    }
    CHECK_MSG(mism == 0, "%d simplified copies move other elements", mism);
}

/* ---- algorithm choice --------------------------------------------------------------------- */

static void test_algo(void) {
    grt_cu_algo_perf r[5] = {
        {GRT_CU_ALGO_WINOGRAD, 1, 0.10f, 0, 1, 0},
        {GRT_CU_ALGO_IMPLICIT_PRECOMP_GEMM, 1, 0.12f, 1 << 20, 1, 1}, /* tensor cores */
        {GRT_CU_ALGO_FFT, 1, 0.15f, 64 << 20, 1, 0},
        {GRT_CU_ALGO_IMPLICIT_GEMM, 1, 0.20f, 0, 1, 0},
        {GRT_CU_ALGO_GEMM, 0, 0.01f, 0, 1, 0}, /* failed: never */
    };
    CHECK(grt_cu_algo_pick(r, 5, GRT_PREC_F16, 0, (size_t)1 << 30) == 0);
    CHECK(grt_cu_algo_pick(r, 5, GRT_PREC_TF32, 0, (size_t)1 << 30) == 0);
    CHECK(grt_cu_algo_pick(r, 5, GRT_PREC_F32, 0, (size_t)1 << 30) == 3); /* no Winograd, no TF32, no FFT */
    r[0].deterministic = 0;
    CHECK(grt_cu_algo_pick(r, 5, GRT_PREC_F16, 1, (size_t)1 << 30) == 1);
    CHECK(grt_cu_algo_pick(r + 1, 2, GRT_PREC_F16, 0, 1 << 10) == -1); /* workspace too large */
    CHECK(grt_cu_algo_pick(r + 4, 1, GRT_PREC_F16, 0, (size_t)1 << 30) == -1);
    CHECK(strcmp(grt_cu_algo_name(GRT_CU_ALGO_IMPLICIT_PRECOMP_GEMM), "implicit-precomp-gemm") == 0);

    grt_cu_algo_cache c;
    memset(&c, 0, sizeof c);
    grt_cu_algo_key k1, k2;
    memset(&k1, 0, sizeof k1);
    k1.nd = 4;
    k1.x[0] = 30;
    k1.groups = 1;
    k2 = k1;
    k2.x[0] = 60;
    CHECK(grt_cu_algo_find(&c, &k1) == NULL);
    for (int i = 0; i < 100; i++) { /* growth */
        grt_cu_algo_key k = k1;
        k.w[0] = i + 1;
        grt_cu_algo_entry *e = grt_cu_algo_add(&c, &k);
        CHECK(e && e->algo == -1 && e->fused_ok == -1);
        e->algo = i % 8;
    }
    grt_cu_algo_entry *e = grt_cu_algo_add(&c, &k1);
    e->algo = 1;
    e->ws = 123;
    CHECK(grt_cu_algo_add(&c, &k1) == grt_cu_algo_find(&c, &k1)); /* no duplicate */
    CHECK(grt_cu_algo_find(&c, &k1)->ws == 123);
    /* a choice made while the device was short of memory is searched again when there is more */
    e = grt_cu_algo_find(&c, &k1);
    e->search_ws = (size_t)64 << 20;
    CHECK(grt_cu_algo_usable(e, (size_t)64 << 20) && grt_cu_algo_usable(e, (size_t)1 << 20));
    CHECK(!grt_cu_algo_usable(e, (size_t)256 << 20));
    CHECK(!grt_cu_algo_usable(NULL, 0));
    e->algo = -1;
    CHECK(!grt_cu_algo_usable(e, 0));
    e->algo = 1;
    CHECK(grt_cu_algo_find(&c, &k2) == NULL);
    k2.w[0] = 50;
    k2.x[0] = 30;
    CHECK(grt_cu_algo_find(&c, &k2) && grt_cu_algo_find(&c, &k2)->algo == 49 % 8);
    CHECK(c.n == 101);
    grt_cu_algo_cache_free(&c);
}

/* ---- weights ------------------------------------------------------------------------------- */

static void test_wpack(void) {
    grt_graph *g = grt_graph_new();
    grt_rng r = {3};
    int x = grt_graph_input(g, 2, 4, 5);
    int64_t ws[5] = {3, 2, 2, 1, 3};
    float w[36], b[3] = {0.25f, -1.5f, 3.0f}, fw[2 * 3 * 4];
    for (int i = 0; i < 36; i++) w[i] = grt_rng_normal(&r);
    for (int i = 0; i < 24; i++) fw[i] = grt_rng_normal(&r);
    int wi = grt_graph_const(g, "w", 5, ws, w);
    int64_t bs = 3, fs[3] = {2, 3, 4};
    int bi = grt_graph_const(g, "b", 1, &bs, b);
    int fi = grt_graph_const(g, "fc", 3, fs, fw);
    int k[3] = {2, 1, 3}, s[3] = {1, 1, 1}, p[3] = {1, 0, 1};
    int y = grt_graph_conv(g, "conv", x, wi, bi, k, s, p, 1);
    y = grt_graph_temporal_max(g, "tp", y);
    int bins[1] = {2};
    y = grt_graph_hpp(g, "hpp", y, 1, bins);
    y = grt_graph_sepfc(g, "fc", y, fi, 1);
    grt_graph_set_output(g, y);
    for (int cdt = GRT_CU_F32; cdt <= GRT_CU_BF16; cdt++) {
        grt_cu_wpack wp;
        CHECK(grt_cu_wpack_plan(g, cdt, &wp) == GRT_OK);
        CHECK(wp.conv_w[wi] >= 0 && wp.f32[bi] >= 0 && wp.bias_c[bi] >= 0 && wp.fc_w[fi] >= 0 && wp.fc_norm[fi] == 1);
        CHECK(wp.conv_w[wi] % 256 == 0 && wp.f32[bi] % 256 == 0 && wp.fc_w[fi] % 256 == 0);
        CHECK(cdt == GRT_CU_F32 ? wp.bias_c[bi] == wp.f32[bi] : wp.bias_c[bi] != wp.f32[bi]);
        char *blob = malloc(wp.bytes);
        CHECK(grt_cu_wpack_fill(g, &wp, blob) == GRT_OK);
        int bad = 0;
        /* (Co, Ci, kt, kh, kw) -> (Co, kt, kh, kw, Ci), rounded to cdt */
        for (int o = 0; o < 3; o++)
            for (int c = 0; c < 2; c++)
                for (int kk = 0; kk < 6; kk++) {
                    float want = w[(o * 2 + c) * 6 + kk];
                    if (cdt == GRT_CU_F16) want = grt_f16_to_f32(grt_f32_to_f16(want));
                    if (cdt == GRT_CU_BF16) want = grt_bf16_to_f32(grt_f32_to_bf16(want));
                    if (grt_cu_ld(blob + wp.conv_w[wi], (o * 6 + kk) * 2 + c, cdt) != want) bad++;
                }
        CHECK_MSG(bad == 0, "conv weight packing: %d misplaced (cdt %d)", bad, cdt);
        const float *bf = (const float *)(blob + wp.f32[bi]);
        CHECK(bf[0] == 0.25f && bf[1] == -1.5f && bf[2] == 3.0f);
        CHECK(grt_cu_ld(blob + wp.bias_c[bi], 2, cdt) == 3.0f);
        const float *f = (const float *)(blob + wp.fc_w[fi]);
        for (int pp = 0; pp < 2; pp++)
            for (int o = 0; o < 4; o++) {
                double ss = 0;
                for (int c = 0; c < 3; c++) ss += (double)f[(pp * 3 + c) * 4 + o] * f[(pp * 3 + c) * 4 + o];
                CHECK(fabs(ss - 1.0) < 1e-5);
            }
        free(blob);
        grt_cu_wpack_free(&wp);
    }
    grt_graph_free(g);
}

/* ---- lowering ------------------------------------------------------------------------------ */

/* Live tensors never share bytes; every tensor starts 256-byte aligned inside the arena. */
static void check_arena(const grt_cu_prog *pr, const char *what) {
    int bad = 0;
    for (int a = 0; a < pr->nt; a++) {
        const grt_cu_tensor *x = &pr->t[a];
        if (x->role != GRT_CU_ROLE_ARENA) continue;
        const int64_t sx = x->numel * (int64_t)grt_cu_dt_size(x->dt);
        if (x->off % 256 || x->off + sx > pr->arena_bytes) bad++;
        if (x->root != a) {
            if (x->off != pr->t[x->root].off) bad++;
            continue;
        }
        if (x->first < 0) continue;
        for (int b = a + 1; b < pr->nt; b++) {
            const grt_cu_tensor *y = &pr->t[b];
            if (y->role != GRT_CU_ROLE_ARENA || y->root != b || y->first < 0) continue;
            const int64_t sy = y->numel * (int64_t)grt_cu_dt_size(y->dt);
            const int la = x->last < x->first ? x->first : x->last, lb = y->last < y->first ? y->first : y->last;
            const int live = x->first <= lb && y->first <= la;
            const int overlap = x->off < y->off + sy && y->off < x->off + sx;
            if (live && overlap) {
                if (bad < 3) fprintf(stderr, "%s: tensors %d and %d overlap while both live\n", what, a, b);
                bad++;
            }
        }
    }
    CHECK_MSG(bad == 0, "%s: %d arena problems", what, bad);
}

static grt_cu_prog lower(const grt_graph *g, const grt_batch_shape *bs, int cdt, int cudnn) {
    grt_plan *p = NULL;
    grt_cu_prog pr;
    memset(&pr, 0, sizeof pr);
    CHECK(grt_plan_create(g, bs, &p) == GRT_OK);
    if (p) CHECK_MSG(grt_cu_lower(g, p, cdt, cudnn, &pr) == GRT_OK, "%s", gaitrt_last_error());
    grt_plan_free(p);
    return pr;
}

static grt_bb_cfg tiny(grt_bb_mode mode, int l1, int l2) {
    grt_bb_cfg c = {mode, 1, 16, 12, {4, 8, 8, 16}, {1, l1, l2, 1}, {1, 2, 2, 1}, 1, {4}, 6};
    return c;
}

static void test_lowering(void) {
    /* GaitBase-shaped: after fusion only convs; NTHWC throughout, no layout change */
    grt_bb_cfg c = tiny(GRT_BB_2D, 1, 1);
    grt_graph *g = grt_bb_build(&c, 5), *f = grt_graph_fuse(g);
    grt_batch_shape bs = {2, 5, 3};
    grt_cu_prog pr = lower(f, &bs, GRT_CU_F16, 1);
    int kinds[GRT_CU_OP_COUNT] = {0}, fused = 0, split = 0, c2d = 0;
    for (int j = 0; j < pr.nop; j++) {
        const grt_cu_op *op = &pr.op[j];
        kinds[op->kind]++;
        if (op->kind == GRT_CU_OP_CONV) {
            fused += op->path == GRT_CU_CONV_FUSED;
            split += op->path == GRT_CU_CONV_SPLIT;
            c2d += op->conv2d;
            CHECK(grt_cu_perm_is(&pr.t[op->out], grt_cu_perm_cl5) && pr.t[op->out].dt == GRT_CU_F16);
        }
        if (op->kind == GRT_CU_OP_TMAX) CHECK(grt_cu_perm_is(&pr.t[op->out], grt_cu_perm_cl4) && pr.t[op->out].dt == GRT_CU_F32);
        if (op->kind == GRT_CU_OP_HPP || op->kind == GRT_CU_OP_FC) CHECK(grt_cu_perm_is(&pr.t[op->out], grt_cu_perm_pm3));
    }
    printf("GaitBase-shaped (tiny), f16: %d ops: %d convs (%d fused, %d + epilogue, %d 2-D over frames), %d copies, %d layout changes, arena %lld bytes\n",
           pr.nop, kinds[GRT_CU_OP_CONV], fused, split, c2d, kinds[GRT_CU_OP_COPY], pr.n_convert, (long long)pr.arena_bytes);
    CHECK(kinds[GRT_CU_OP_CONV] == 12 && fused == 9 && split == 3 && c2d == 12);
    CHECK(kinds[GRT_CU_OP_COPY] == 2 && pr.n_convert == 0); /* the input and the output only */
    CHECK(kinds[GRT_CU_OP_TMAX] == 1 && kinds[GRT_CU_OP_HPP] == 1 && kinds[GRT_CU_OP_FC] == 1);
    CHECK(kinds[GRT_CU_OP_SCALE_SHIFT] == 0 && kinds[GRT_CU_OP_ADD] == 0 && kinds[GRT_CU_OP_ACT] == 0);
    check_arena(&pr, "gaitbase f16");
    grt_cu_prog_free(&pr);
    pr = lower(f, &bs, GRT_CU_F32, 0);
    for (int j = 0; j < pr.nop; j++)
        if (pr.op[j].kind == GRT_CU_OP_CONV) CHECK(pr.op[j].path == GRT_CU_CONV_DIRECT);
    grt_cu_prog_free(&pr);
    /* unfused: BN, ReLU and add run as our kernels, in place where their input dies */
    pr = lower(g, &bs, GRT_CU_F32, 1);
    int inplace = 0;
    for (int j = 0; j < pr.nop; j++) {
        const grt_cu_op *op = &pr.op[j];
        if ((op->kind == GRT_CU_OP_ACT || op->kind == GRT_CU_OP_SCALE_SHIFT || op->kind == GRT_CU_OP_ADD) &&
            pr.t[op->out].root != op->out)
            inplace++;
    }
    printf("GaitBase-shaped (tiny), unfused f32: %d ops, %d in place, arena %lld bytes\n", pr.nop, inplace, (long long)pr.arena_bytes);
    CHECK(inplace > 10);
    check_arena(&pr, "gaitbase unfused");
    grt_cu_prog_free(&pr);
    grt_graph_free(f);
    grt_graph_free(g);

    /* DeepGaitV2-shaped (P3D): temporal convs are 3-D, their residual is their own input */
    c = tiny(GRT_BB_P3D, 2, 2);
    g = grt_bb_build(&c, 6);
    f = grt_graph_fuse(g);
    grt_batch_shape b2 = {2, 5, 2};
    pr = lower(f, &b2, GRT_CU_BF16, 1);
    int c3d = 0, self_res = 0;
    for (int j = 0; j < pr.nop; j++)
        if (pr.op[j].kind == GRT_CU_OP_CONV && !pr.op[j].conv2d) {
            c3d++;
            CHECK(pr.op[j].d.conv.k[0] == 3 && pr.op[j].d.conv.p[0] == 1);
            self_res += pr.op[j].res == pr.op[j].in[0];
        }
    CHECK(c3d == 5 && self_res == 5);
    CHECK(pr.n_convert == 0);
    check_arena(&pr, "deepgaitv2 p3d bf16");
    grt_cu_prog_free(&pr);
    grt_graph_free(f);
    grt_graph_free(g);

    /* every op: layout changes only where a consumer needs another layout */
    g = grt_bb_all_ops(9);
    CHECK(g != NULL);
    int ops[GRT_OP_COUNT] = {0}, absent = 0;
    for (int i = 0; g && i < g->n_nodes; i++) ops[g->nodes[i].op]++;
    for (int k = 0; k < GRT_OP_COUNT; k++)
        if (!ops[k]) {
            fprintf(stderr, "all-ops graph: no %s node (a new op needs a CUDA lowering and a case here)\n", grt_op_name((grt_op_type)k));
            absent++;
        }
    CHECK(absent == 0);
    f = grt_graph_fuse(g);
    pr = lower(f, &b2, GRT_CU_F16, 1);
    memset(kinds, 0, sizeof kinds);
    fused = split = 0;
    for (int j = 0; j < pr.nop; j++) {
        kinds[pr.op[j].kind]++;
        if (pr.op[j].kind == GRT_CU_OP_CONV) {
            fused += pr.op[j].path == GRT_CU_CONV_FUSED;
            split += pr.op[j].path == GRT_CU_CONV_SPLIT;
        }
    }
    int missing = 0;
    for (int k = 0; k < GRT_CU_OP_COUNT; k++)
        if (!kinds[k]) {
            fprintf(stderr, "all-ops graph: no %s op\n", grt_cu_kind_name((grt_cu_kind)k));
            missing++;
        }
    printf("all-ops graph, f16: %d ops, %d layout changes, %d fused / %d split convs\n", pr.nop, pr.n_convert, fused, split);
    CHECK(missing == 0);
    CHECK(fused == 2 && split == 2);
    CHECK(pr.n_convert == 2); /* the reshape that mixes frames and channels (row-major copy, then back to the
                               * add's layout); the other reshapes and transposes are views */
    check_arena(&pr, "all ops f16");
    grt_cu_prog_free(&pr);
    grt_graph_free(f);
    grt_graph_free(g);
}

/* ---- the programs run on the host against the reference -------------------------------- */

static void parity(const char *what, const grt_graph *g, const grt_batch_shape *bs, const grt_segment *seg, uint64_t seed) {
    const grt_node *in = &g->nodes[0];
    float *x = tc_silhouettes(bs->n, in->a.input.channels, bs->t, in->a.input.height, in->a.input.width, seed);
    const float *ins[1] = {x};
    size_t n = tc_out_numel(g, bs);
    float *ref = calloc(n, sizeof(float)), *out = calloc(n, sizeof(float));
    CHECK(tc_ref_run(g, bs, seg, ins, ref) == GRT_OK);
    const int per = (int)(n / (size_t)bs->n_seq);
    static const char *dtn[3] = {"f32", "f16", "bf16"};
    for (int cdt = GRT_CU_F32; cdt <= GRT_CU_BF16; cdt++)
        for (int lib = 0; lib < 2; lib++) {
            grt_hx_opts o = {cdt, lib, !lib};
            for (size_t i = 0; i < n; i++) out[i] = NAN;
            grt_status st = grt_hx_run(g, bs, &o, ins, seg, out, NULL);
            CHECK_MSG(st == GRT_OK, "%s: %s", what, gaitrt_last_error());
            if (cdt == GRT_CU_F32) {
                double e = grt_rel_l2(out, ref, n);
                printf("%-28s %-4s %-6s rel L2 %.3g  (out[0..1] %.6f %.6f ref %.6f %.6f)\n", what, dtn[cdt], lib ? "cudnn" : "direct",
                       e, out[0], out[1], ref[0], ref[1]);
                CHECK_MSG(e <= 1e-5, "%s %s: relative L2 %.3g > 1e-5", what, dtn[cdt], e);
            } else {
                double c = tc_min_cos(out, ref, bs->n_seq, (size_t)per);
                printf("%-28s %-4s %-6s min cosine %.6f\n", what, dtn[cdt], lib ? "cudnn" : "direct", c);
                CHECK_MSG(c >= 0.9995, "%s %s: cosine %.6f < 0.9995", what, dtn[cdt], c);
            }
        }
    free(x);
    free(ref);
    free(out);
}

static void test_parity(void) {
    grt_batch_shape bs = {2, 5, 3};
    grt_segment seg3[3] = {{0, 0, 2}, {0, 2, 3}, {1, 0, 5}}; /* three sequences packed in two items */
    grt_segment seg2[2] = {{0, 0, 5}, {1, 1, 4}};
    grt_batch_shape b2 = {2, 5, 2};

    grt_bb_cfg c = tiny(GRT_BB_2D, 1, 1);
    grt_graph *g = grt_bb_build(&c, 21), *f = grt_graph_fuse(g);
    parity("GaitBase-shaped fused", f, &bs, seg3, 1);
    parity("GaitBase-shaped unfused", g, &bs, seg3, 2);
    grt_graph_free(f);
    grt_graph_free(g);

    /* padded: item 1's sequence ends two frames before the batch's; its padded frames are
       zeroed in front of every temporal convolution, as the reference backend does */
    grt_segment segp[2] = {{0, 0, 5}, {1, 0, 3}};
    c = tiny(GRT_BB_P3D, 2, 2);
    g = grt_bb_build(&c, 22);
    f = grt_graph_fuse(g);
    parity("DeepGaitV2-P3D-shaped fused", f, &b2, seg2, 3);
    parity("DeepGaitV2-P3D-shaped padded", f, &b2, segp, 7);
    grt_cu_prog pr = lower(f, &b2, GRT_CU_F16, 1);
    CHECK_MSG(pr.n_pad_mask > 0, "P3D: %d masked convolutions", pr.n_pad_mask);
    grt_cu_prog_free(&pr);
    grt_graph_free(f);
    grt_graph_free(g);

    c = tiny(GRT_BB_3D, 1, 1);
    g = grt_bb_build(&c, 23);
    f = grt_graph_fuse(g);
    parity("DeepGaitV2-3D-shaped fused", f, &b2, seg2, 4);
    parity("DeepGaitV2-3D-shaped padded", f, &b2, segp, 8);
    grt_graph_free(f);
    grt_graph_free(g);

    g = grt_bb_all_ops(24);
    f = grt_graph_fuse(g);
    parity("all ops fused", f, &b2, seg2, 5);
    parity("all ops unfused", g, &b2, seg2, 6);
    grt_graph_free(f);
    grt_graph_free(g);
}

int main(void) {
    test_no_device();
    test_half();
    test_helpers();
    test_algo();
    test_wpack();
    test_lowering();
    test_parity();
    return grt_test_finish("test_cuda_host");
}
