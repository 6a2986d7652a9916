/* test_cuda_zoo_host.c — every model family of the zoo (random weights, default
 * architecture), fused, lowered for the CUDA backend and run on the host with the GPU
 * kernels' element functions (host_exec.c), against the reference backend on the same
 * graph: float32 relative L2 <= 1e-5; float16 cosine >= 0.9995 for the cheaper families.
 * No GPU needed. It checks that the lowering handles each family's real op patterns (the
 * reshapes and transposes of GaitPart and GaitSet, SkeletonGait++'s fusion softmax, XGait's
 * broadcast masks, GaitGL's frame tiling) — what cuDNN would compute is not covered here. */
#include <string.h>

#include "host_exec.h"
#include "models/models.h"
#include "test_cuda_common.h"

int main(void) {
    int n = 0;
    const grt_model_family *const *fam = grt_model_families(&n);
    const int T = 2;
    for (int i = 0; i < n; i++) {
        grt_state_dict *sd = NULL;
        if (!fam[i]->random || fam[i]->random(NULL, 1, &sd) != GRT_OK) {
            printf("%-16s no random weights (%s), not checked\n", fam[i]->name, gaitrt_last_error());
            continue;
        }
        grt_built_model bm;
        memset(&bm, 0, sizeof bm);
        grt_status st = fam[i]->build(sd, NULL, &bm);
        grt_state_dict_free(sd);
        CHECK_MSG(st == GRT_OK, "%s: %s", fam[i]->name, gaitrt_last_error());
        if (st != GRT_OK) continue;
        grt_graph *g = grt_graph_fuse(bm.graph);
        grt_graph_free(bm.graph);
        CHECK(g != NULL);
        if (!g) continue;
        grt_batch_shape bs = {1, T, 1};
        grt_segment seg = {0, 0, T};
        const float *ins[GAITRT_MAX_INPUTS] = {NULL};
        float *bufs[GAITRT_MAX_INPUTS] = {NULL};
        for (int k = 0; k < bm.info.n_inputs; k++) {
            const gaitrt_model_input_desc *d = &bm.info.inputs[k];
            bufs[k] = grt_bb_silhouettes(0, 1, d->channels, T, d->height, d->width, 40 + (uint64_t)k);
            ins[k] = bufs[k];
        }
        const size_t no = tc_out_numel(g, &bs);
        float *ref = calloc(no, sizeof(float)), *out = calloc(no, sizeof(float));
        CHECK_MSG(tc_ref_run(g, &bs, &seg, ins, ref) == GRT_OK, "%s reference: %s", fam[i]->name, gaitrt_last_error());
        const int cheap = bm.info.macs_per_frame < 0.5e9;
        for (int cdt = GRT_CU_F32; cdt <= (cheap ? GRT_CU_F16 : GRT_CU_F32); cdt++) {
            grt_hx_opts o = {cdt, 1, 0};
            grt_cu_prog pr;
            for (size_t j = 0; j < no; j++) out[j] = NAN;
            st = grt_hx_run(g, &bs, &o, ins, &seg, out, &pr);
            CHECK_MSG(st == GRT_OK, "%s: %s", fam[i]->name, gaitrt_last_error());
            if (st != GRT_OK) continue;
            if (cdt == GRT_CU_F32) {
                const double e = grt_rel_l2(out, ref, no);
                printf("%-16s %-24.24s f32 rel L2 %.3g  (%d ops, %d layout changes, arena %.1f MB)\n", fam[i]->name, bm.info.variant,
                       e, pr.nop, pr.n_convert, (double)pr.arena_bytes / 1e6);
                CHECK_MSG(e <= 1e-5, "%s: relative L2 %.3g > 1e-5", fam[i]->name, e);
            } else {
                const double c = tc_min_cos(out, ref, 1, no);
                printf("%-16s %-24.24s f16 cosine %.6f\n", fam[i]->name, bm.info.variant, c);
                CHECK_MSG(c >= 0.9995, "%s f16: cosine %.6f < 0.9995", fam[i]->name, c);
            }
            grt_cu_prog_free(&pr);
        }
        for (int k = 0; k < bm.info.n_inputs; k++) free(bufs[k]);
        free(ref);
        free(out);
        grt_graph_free(g);
    }
    return grt_test_finish("test_cuda_zoo_host");
}
