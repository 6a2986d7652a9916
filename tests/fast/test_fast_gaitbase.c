/*
 * test_fast_gaitbase.c — a full-size GaitBase-shaped graph (ResNet9 64/128/256/512 on 64x44
 * silhouettes, 30 frames, HPP 16 bins, FCs 512 -> 256) with random weights and BatchNorm
 * statistics: the fast backend against the reference (which takes 10-20 s on two cores),
 * relative L2 <= 1e-5. Then bf16: on a CPU with avx512_bf16, every embedding's cosine with
 * the fp32 one must be >= 0.9995; elsewhere prepare must refuse bf16 with a clear message.
 */
#include "fast_graphs.h"
#include "test_util.h"

int main(void) {
    const grt_backend_i *fast = grt_backend_cpu_fast();
    if (!fast) TEST_SKIP("fast CPU backend not built: %s", gaitrt_last_error());
    grt_graph *raw = fg_gaitbase(7, 64, 44, 1.0f);
    grt_graph *g = grt_graph_fuse(raw);
    CHECK(g != NULL);
    if (!g) return grt_test_finish("test_fast_gaitbase");
    const int T = 30;
    grt_batch_shape bs = {1, T, 1};
    const grt_segment seg[1] = {{0, 0, T}};
    float *x = malloc((size_t)T * 64 * 44 * sizeof(float));
    grt_rng r = {99};
    /* silhouette-like input: mostly 0 or 1 with some grey edges */
    for (int i = 0; i < T * 64 * 44; i++) {
        float u = grt_rng_uniform(&r);
        x[i] = u < 0.55f ? 0.0f : u < 0.95f ? 1.0f : grt_rng_uniform(&r);
    }
    const float *in[1] = {x};
    const int64_t out_n = 256 * 16;
    float *yr = calloc(out_n, sizeof(float)), *yf = calloc(out_n, sizeof(float)), *yb = calloc(out_n, sizeof(float));

    fg_runner fr, rr;
    CHECK_MSG(fg_open(&fr, fast, g, &bs, GRT_PREC_F32, 2) == 0, "fast: %s", gaitrt_last_error());
    CHECK_MSG(fg_open(&rr, grt_backend_cpu_ref(), g, &bs, GRT_PREC_F32, 2) == 0, "ref: %s", gaitrt_last_error());
    char desc[1024];
    fr.bk->describe(fr.st, desc, sizeof desc);
    printf("fast backend: %s\n", desc);
    double t0 = grt_now_s();
    CHECK(fg_run(&fr, in, seg, yf, NULL) == 0);
    double t1 = grt_now_s();
    CHECK(fg_run(&rr, in, seg, yr, NULL) == 0);
    double t2 = grt_now_s();
    double rel = grt_rel_l2(yf, yr, (size_t)out_n);
    printf("GaitBase 1x%d: fast %.1f ms (first run), reference %.1f s; plan %.1f MiB (reference arena %.1f MiB)\n", T,
           (t1 - t0) * 1e3, t2 - t1, fr.bk->plan_bytes(fr.pl) / 1048576.0, rr.bk->plan_bytes(rr.pl) / 1048576.0);
    for (int j = 0; j < 4; j++) printf("    y[%d] fast %.7g ref %.7g\n", j * 1000, yf[j * 1000], yr[j * 1000]);
    printf("relative L2 fast vs reference: %.3g\n", rel);
    CHECK_MSG(rel <= 1e-5, "GaitBase relative L2 %.3g > 1e-5", rel);
    fg_close(&rr);

    /* the cap on F(4x4)'s extra weights: 0 keeps every 2-D 3x3 layer on F(2x2); 10 MiB fits the
     * four layers with the most output positions (0.3 + 0.3 + 1.25 + 5 MiB: 64x44, 64x44, 32x22,
     * then the first 16x11 one), not 256 -> 512 (10 MiB more) nor 512 -> 512 (20 MiB); 5.5 MiB
     * the first three; the default (40 MiB) fits all six (37 MiB). Each mix stays within 1e-5
     * of the reference. */
    static const struct { const char *cap, *f4, *f2; } caps[] = {
        {"0", NULL, "F(2x2,3x3):avx2 x6"},
        {"10", "F(4x4,3x3):avx2 x4", "F(2x2,3x3):avx2 x2"},
        /* the three widest maps (1.9 MiB), not the 16x11 256 -> 256 (5 MiB) smallest-first would take */
        {"5.5", "F(4x4,3x3):avx2 x3", "F(2x2,3x3):avx2 x3"},
        {NULL, "F(4x4,3x3):avx2 x6", NULL},
    };
    for (size_t k = 0; k < sizeof caps / sizeof caps[0] && grt_cpu_info_get()->avx2; k++) {
        if (caps[k].cap)
            setenv("GAITRT_WINO_F4_MIB", caps[k].cap, 1);
        else
            unsetenv("GAITRT_WINO_F4_MIB");
        fg_runner cr;
        CHECK_MSG(fg_open(&cr, fast, g, &bs, GRT_PREC_F32, 2) == 0, "cap %s: %s", caps[k].cap, gaitrt_last_error());
        char d2[1024];
        cr.bk->describe(cr.st, d2, sizeof d2);
        const char *cap = caps[k].cap ? caps[k].cap : "default";
        CHECK_MSG(caps[k].f4 ? strstr(d2, caps[k].f4) != NULL : strstr(d2, "F(4x4") == NULL, "cap %s MiB: %s", cap, d2);
        CHECK_MSG(caps[k].f2 ? strstr(d2, caps[k].f2) != NULL : strstr(d2, "F(2x2") == NULL, "cap %s MiB: %s", cap, d2);
        float *yc = calloc(out_n, sizeof(float));
        CHECK(fg_run(&cr, in, seg, yc, NULL) == 0);
        const double rc = grt_rel_l2(yc, yr, (size_t)out_n);
        printf("F(4x4) cap %s MiB: %s %s; relative L2 vs reference %.3g\n", cap, caps[k].f4 ? caps[k].f4 : "",
               caps[k].f2 ? caps[k].f2 : "", rc);
        CHECK_MSG(rc <= 1e-5, "cap %s: relative L2 %.3g > 1e-5", caps[k].cap, rc);
        free(yc);
        fg_close(&cr);
    }
    unsetenv("GAITRT_WINO_F4_MIB");

    /* bf16 */
    fg_runner br;
    grt_backend_opts o = {0};
    o.precision = GRT_PREC_BF16;
    o.n_threads = 2;
    void *st = NULL;
    grt_status s = fast->prepare(g, &o, &st);
    if (!grt_cpu_info_get()->avx512_bf16) {
        CHECK_MSG(s == GAITRT_ERR_UNSUPPORTED, "bf16 prepare should fail without avx512_bf16 (got %d)", (int)s);
        printf("bf16: SKIPPED (no avx512_bf16 here); prepare refused it: %s\n", gaitrt_last_error());
        CHECK(strstr(gaitrt_last_error(), "avx512_bf16") != NULL);
    } else {
        CHECK_MSG(s == GRT_OK, "bf16 prepare: %s", gaitrt_last_error());
        if (st) fast->release(st);
        CHECK_MSG(fg_open(&br, fast, g, &bs, GRT_PREC_BF16, 2) == 0, "bf16: %s", gaitrt_last_error());
        CHECK(fg_run(&br, in, seg, yb, NULL) == 0);
        /* the embedding of a sequence is (C, P) = 256 x 16 values */
        double cmin = grt_min_cosine(yb, yf, 1, out_n);
        printf("bf16 vs fp32: min cosine per embedding %.6f, relative L2 %.3g\n", cmin, grt_rel_l2(yb, yf, out_n));
        CHECK_MSG(cmin >= 0.9995, "bf16 cosine %.6f < 0.9995", cmin);
        fg_close(&br);
    }
    fg_close(&fr);
    free(x), free(yr), free(yf), free(yb);
    grt_graph_free(g);
    grt_graph_free(raw);
    return grt_test_finish("test_fast_gaitbase");
}
