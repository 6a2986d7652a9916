/* test_cuda_gpu.c — the CUDA backend on a device, against the reference backend on the same
 * graph: a graph using every op, GaitBase- and DeepGaitV2-shaped backbones (fused and
 * unfused), in f32 (relative L2 <= 1e-5), tf32 (<= 1e-2) and f16 / bf16 (cosine >= 0.9995
 * per embedding); deterministic replays of the CUDA graph give the same bits; the profiled (op by op)
 * path agrees with the replay; a bad segment table is refused without poisoning the plan;
 * two runs in flight on one plan (submit, submit, collect, collect) give what run() gives,
 * and a session embedding many batches through them agrees with the CPU;
 * the device list describes the device. Exits 77 (skipped) where no device is present. */
#include <string.h>

#include "gpu_models.h"
#include "test_cuda_common.h"

int grt_cuda_device_list(gaitrt_device_desc *out, int cap);

static const char *prec_name(grt_precision p) {
    static const char *n[] = {"f32", "tf32", "bf16", "f16"};
    return n[p];
}

/* Two runs of one plan: the same bits when deterministic, else within rounding (a library
 * may pick an algorithm whose reduction order varies). */
static int same(const float *a, const float *b, size_t n, int deterministic) {
    if (memcmp(a, b, n * sizeof(float)) == 0) return 1;
    return !deterministic && grt_rel_l2(a, b, n) <= 1e-5;
}

static void check_graph(const grt_backend_i *cu, const char *what, const grt_graph *g, const grt_batch_shape *bs,
                        const grt_segment *seg, uint64_t seed) {
    const grt_node *in = &g->nodes[0];
    float *x = tc_silhouettes(bs->n, in->a.input.channels, bs->t, in->a.input.height, in->a.input.width, seed);
    const float *ins[1] = {x};
    const size_t n = tc_out_numel(g, bs);
    const int per = (int)(n / (size_t)bs->n_seq);
    float *ref = calloc(n, sizeof(float)), *out = calloc(n, sizeof(float)), *out2 = calloc(n, sizeof(float));
    CHECK(tc_ref_run(g, bs, seg, ins, ref) == GRT_OK);
    const grt_precision precs[4] = {GRT_PREC_F32, GRT_PREC_TF32, GRT_PREC_F16, GRT_PREC_BF16};
    for (int k = 0; k < 4; k++) {
        grt_backend_opts o;
        memset(&o, 0, sizeof o);
        o.precision = precs[k];
        o.deterministic = precs[k] == GRT_PREC_F32; /* then replays must agree bit for bit */
        void *st = NULL, *pl = NULL;
        grt_status s = cu->prepare(g, &o, &st);
        CHECK_MSG(s == GRT_OK, "%s %s prepare: %s", what, prec_name(precs[k]), gaitrt_last_error());
        if (s != GRT_OK) continue;
        s = cu->plan(st, bs, &pl);
        CHECK_MSG(s == GRT_OK, "%s %s plan: %s", what, prec_name(precs[k]), gaitrt_last_error());
        if (s == GRT_OK) {
            for (size_t i = 0; i < n; i++) out[i] = out2[i] = NAN;
            grt_run_args a = {ins, seg, out, NULL};
            CHECK_MSG(cu->run(pl, &a) == GRT_OK, "%s: %s", what, gaitrt_last_error());
            a.output = out2;
            CHECK(cu->run(pl, &a) == GRT_OK);
            CHECK_MSG(same(out, out2, n, o.deterministic), "%s %s: two replays differ", what, prec_name(precs[k]));
            /* the profiled path launches op by op */
            grt_prof prof;
            grt_prof_event ev[512];
            prof.ev = ev;
            prof.n = 0;
            prof.cap = 512;
            prof.dropped = 0;
            a.prof = &prof;
            CHECK(cu->run(pl, &a) == GRT_OK);
            CHECK(prof.n > 0);
            double diff = grt_rel_l2(out2, out, n);
            CHECK_MSG(diff <= 1e-6, "%s %s: profiled run differs from the replay by %.3g", what, prec_name(precs[k]), diff);
            char desc[512];
            cu->describe(st, desc, sizeof desc);
            if (precs[k] == GRT_PREC_F32 || precs[k] == GRT_PREC_TF32) {
                double e = grt_rel_l2(out, ref, n);
                const double tol = precs[k] == GRT_PREC_F32 ? 1e-5 : 1e-2;
                printf("%-28s %-4s rel L2 %.3g (%d profiled ops)\n   %s\n", what, prec_name(precs[k]), e, prof.n, desc);
                CHECK_MSG(e <= tol, "%s %s: relative L2 %.3g > %.0e", what, prec_name(precs[k]), e, tol);
            } else {
                double c = tc_min_cos(out, ref, bs->n_seq, (size_t)per);
                printf("%-28s %-4s min cosine %.6f\n   %s\n", what, prec_name(precs[k]), c, desc);
                CHECK_MSG(c >= 0.9995, "%s %s: cosine %.6f < 0.9995", what, prec_name(precs[k]), c);
            }
            /* a segment table that does not fit: refused, and the plan still runs */
            grt_segment bad[8];
            memcpy(bad, seg, sizeof(grt_segment) * (size_t)bs->n_seq);
            bad[0].len = bs->t + 1;
            grt_run_args ab = {ins, bad, out2, NULL};
            CHECK(cu->run(pl, &ab) == GAITRT_ERR_INPUT);
            a.prof = NULL;
            a.output = out2;
            CHECK(cu->run(pl, &a) == GRT_OK && same(out, out2, n, o.deterministic));
            cu->plan_release(pl);
        }
        cu->release(st);
    }
    free(x);
    free(ref);
    free(out);
    free(out2);
}

/* Two runs in flight on one plan, each on its own input: the outputs of run() for each, in
 * the order submitted; a third submit, and a collect with none left, are refused. */
static void check_inflight(const grt_backend_i *cu, const grt_graph *g, const grt_batch_shape *bs, const grt_segment *seg) {
    const grt_node *in = &g->nodes[0];
    const int C = in->a.input.channels, H = in->a.input.height, W = in->a.input.width;
    const size_t nin = (size_t)bs->n * C * bs->t * H * W, n = tc_out_numel(g, bs);
    float *x[2] = {tc_silhouettes(bs->n, C, bs->t, H, W, 41), tc_silhouettes(bs->n, C, bs->t, H, W, 42)};
    float *want[2] = {calloc(n, sizeof(float)), calloc(n, sizeof(float))}, *got[2] = {calloc(n, sizeof(float)), calloc(n, sizeof(float))};
    grt_backend_opts o;
    memset(&o, 0, sizeof o);
    o.precision = GRT_PREC_F32;
    o.deterministic = 1;
    void *st = NULL, *pl = NULL;
    CHECK(cu->prepare(g, &o, &st) == GRT_OK);
    CHECK(st && cu->plan(st, bs, &pl) == GRT_OK);
    if (pl) {
        for (int r = 0; r < 2; r++) {
            const float *ins[1] = {x[r]};
            grt_run_args a = {ins, seg, want[r], NULL};
            CHECK(cu->run(pl, &a) == GRT_OK);
        }
        for (int r = 0; r < 2; r++) { /* packed into the staging input_buffer() gives, as a session does */
            float *stage = cu->input_buffer(pl, 0, nin);
            CHECK(stage != NULL);
            if (!stage) break;
            memcpy(stage, x[r], nin * sizeof(float));
            const float *ins[1] = {stage};
            grt_run_args a = {ins, seg, got[r], NULL};
            CHECK_MSG(cu->submit(pl, &a) == GRT_OK, "submit %d: %s", r, gaitrt_last_error());
        }
        CHECK(cu->input_buffer(pl, 0, nin) == NULL);
        const float *ins[1] = {x[0]};
        grt_run_args a = {ins, seg, got[0], NULL};
        CHECK(cu->submit(pl, &a) == GAITRT_ERR_BAD_STATE);
        CHECK(cu->collect(pl) == GRT_OK);
        CHECK(cu->collect(pl) == GRT_OK);
        CHECK(cu->collect(pl) == GAITRT_ERR_BAD_STATE);
        for (int r = 0; r < 2; r++) CHECK_MSG(memcmp(got[r], want[r], n * sizeof(float)) == 0, "run %d in flight differs from run()", r);
        cu->plan_release(pl);
    }
    if (st) cu->release(st);
    for (int r = 0; r < 2; r++) {
        free(x[r]);
        free(want[r]);
        free(got[r]);
    }
}

/* A CUDA session against a CPU session embedding one sequence at a time, strict f32 within
 * 1e-5 per embedding: GaitBase, 9 equal sequences in batches of 2 (two in flight on one plan,
 * then a batch of another shape); DeepGaitV2-3D, 7 sequences of 4..11 frames in padded batches
 * (lengths within 3 frames share one, padded frames zeroed in front of the temporal convs). */
static void check_session_batches(const char *type, const int *lens, int NS, int max_batch, int tolerance) {
    gaitrt_model *m = gaitrt_model_create_random(type, 9);
    CHECK(m != NULL);
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    const size_t per = (size_t)info.embed_channels * info.embed_parts;
    gaitrt_sequence q[16];
    memset(q, 0, sizeof q);
    float *fr[16];
    for (int i = 0; i < NS; i++) {
        fr[i] = tc_silhouettes(1, 1, lens[i], 64, 44, 100 + (uint64_t)i);
        q[i].n_frames = lens[i];
        q[i].inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, 64, 44, fr[i], 0};
    }
    float *cpu = calloc(NS * per, sizeof(float)), *gpu = calloc(NS * per, sizeof(float));
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.level = GAITRT_LEVEL_BALANCED;
    sp.precision = GAITRT_PRECISION_F32;
    /* the CUDA session first: the model releases the graph's weights the GPU holds, and the
       CPU session after it has them read again */
    sp.device = GAITRT_DEVICE_CUDA;
    sp.max_batch_size = max_batch;
    sp.seq_len_tolerance = tolerance;
    gaitrt_session *sg = gaitrt_session_create(m, &sp);
    sp.max_batch_size = 1;
    sp.seq_len_tolerance = 0;
    sp.device = GAITRT_DEVICE_CPU;
    gaitrt_session *sc = gaitrt_session_create(m, &sp);
    CHECK_MSG(sc && sg, "%s", gaitrt_last_error());
    if (sc && sg) {
        CHECK(gaitrt_embed(sc, q, NS, cpu, NS * per) == GAITRT_OK);
        for (int r = 0; r < 2; r++) {
            CHECK_MSG(gaitrt_embed(sg, q, NS, gpu, NS * per) == GAITRT_OK, "%s", gaitrt_last_error());
            for (int i = 0; i < NS; i++) {
                double e = grt_rel_l2(gpu + i * per, cpu + i * per, per);
                CHECK_MSG(e <= 1e-5, "%s session batches, sequence %d (%d frames): rel L2 %.3g vs the CPU", type, i, lens[i], e);
            }
        }
        char rep[4096];
        gaitrt_session_report(sg, rep, sizeof rep);
        printf("%s on CUDA, %d sequences, max batch %d, tolerance %d: %s\n", type, NS, max_batch, tolerance, rep);
        CHECK(tolerance == 0 || strstr(rep, "ignored") == NULL);
    }
    gaitrt_session_free(sc);
    gaitrt_session_free(sg);
    for (int i = 0; i < NS; i++) free(fr[i]);
    free(cpu);
    free(gpu);
    gaitrt_model_free(m);
}

int main(void) {
    const grt_backend_i *cu = grt_backend_cuda();
    if (!cu) TEST_SKIP("no CUDA device (%s)", gaitrt_last_error());
    gaitrt_device_desc d[4];
    int nd = grt_cuda_device_list(d, 4);
    CHECK(nd >= 1);
    for (int i = 0; i < nd; i++)
        printf("device %d: %s [%s] %d SMs, %.1f/%.1f GiB free, peak fp32 %.1f TFLOP/s; %s\n", d[i].index, d[i].name, d[i].features,
               d[i].cores, d[i].mem_free / 1073741824.0, d[i].mem_total / 1073741824.0, d[i].peak_gflops_fp32 / 1e3, d[i].note);
    CHECK(nd < 1 || (strncmp(d[0].features, "sm_", 3) == 0 && d[0].cores > 0 && d[0].mem_total > 0));

    grt_batch_shape bs = {2, 5, 3}, b2 = {2, 5, 2};
    grt_segment seg3[3] = {{0, 0, 2}, {0, 2, 3}, {1, 0, 5}}, seg2[2] = {{0, 0, 5}, {1, 1, 4}};
    grt_graph *g = grt_bb_all_ops(31), *f = grt_graph_fuse(g);
    check_graph(cu, "all ops fused", f, &b2, seg2, 1);
    check_graph(cu, "all ops unfused", g, &b2, seg2, 2);
    grt_graph_free(f);
    grt_graph_free(g);

    grt_bb_cfg c = {GRT_BB_2D, 1, 32, 22, {16, 32, 32, 64}, {1, 1, 1, 1}, {1, 2, 2, 1}, 1, {8}, 32};
    g = grt_bb_build(&c, 32);
    f = grt_graph_fuse(g);
    check_graph(cu, "GaitBase-shaped fused", f, &bs, seg3, 3);
    check_graph(cu, "GaitBase-shaped unfused", g, &bs, seg3, 4);
    check_inflight(cu, f, &bs, seg3);
    grt_graph_free(f);
    grt_graph_free(g);

    c.mode = GRT_BB_P3D;
    c.layers[1] = c.layers[2] = 2;
    g = grt_bb_build(&c, 33);
    f = grt_graph_fuse(g);
    check_graph(cu, "DeepGaitV2-P3D-shaped fused", f, &b2, seg2, 5);
    grt_graph_free(f);
    grt_graph_free(g);

    c.mode = GRT_BB_3D;
    g = grt_bb_build(&c, 34);
    f = grt_graph_fuse(g);
    check_graph(cu, "DeepGaitV2-3D-shaped fused", f, &b2, seg2, 6);
    grt_graph_free(f);
    grt_graph_free(g);
    const int eq[9] = {6, 6, 6, 6, 6, 6, 6, 6, 6}, mixed[7] = {5, 8, 4, 8, 11, 6, 7};
    check_session_batches("GaitBase:small", eq, 9, 2, 0);
    check_session_batches("DeepGaitV2:3d-1111-w8", mixed, 7, 4, 3);
    return grt_test_finish("test_cuda_gpu");
}
