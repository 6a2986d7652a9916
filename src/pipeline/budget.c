/* budget.c — memory-aware batch sizing: activation bytes per frame come from the graph's
 * memory plan (the arena at T = 16 and T = 32 frames), and the batch holds as many frames as
 * the budget allows. The budget is the caller's, or a quarter of the available memory. */
#include <stdio.h>

#include "pipeline/session.h"

grt_status grt_session_size_budget(gaitrt_session *s) {
    const grt_graph *g = s->fused ? s->model->fused : s->model->graph;
    grt_batch_shape a = {1, 16, 1}, b = {1, 32, 1};
    grt_plan *pa = NULL, *pb = NULL;
    grt_status st = grt_plan_create(g, &a, &pa);
    if (st == GRT_OK) st = grt_plan_create(g, &b, &pb);
    if (st != GRT_OK) {
        grt_plan_free(pa);
        return st;
    }
    int64_t per = (pb->arena_floats - pa->arena_floats) * 4 / 16;
    int64_t base = pa->arena_floats * 4 - per * 16;
    grt_plan_free(pa);
    grt_plan_free(pb);
    if (per <= 0) per = 1;
    /* input staging costs per frame too */
    for (int k = 0; k < s->model->info.n_inputs; k++) {
        const gaitrt_model_input_desc *d = &s->model->info.inputs[k];
        per += (int64_t)d->channels * d->height * d->width * 4;
    }
    s->bytes_per_frame = per;
    int64_t budget = s->params.memory_budget;
    if (budget <= 0) {
        const grt_cpu_info *ci = grt_cpu_info_get();
        budget = ci->mem_avail > 0 ? ci->mem_avail / 4 : (int64_t)2 << 30;
        if (budget > ((int64_t)8 << 30)) budget = (int64_t)8 << 30;
    }
    int64_t frames = (budget - (base > 0 ? base : 0)) / per;
    int64_t need = s->params.max_frames > 0 ? s->params.max_frames : 720;
    if (frames < need) {
        if (frames < 1) frames = 1;
        grt_session_note(s, "memory budget of %.1f MiB holds %lld frames per batch (%.2f MiB per frame); longer sequences "
                         "run one at a time and may exceed it", (double)budget / 1048576.0, (long long)frames,
                         (double)per / 1048576.0);
    }
    s->frame_budget = frames;
    return GRT_OK;
}
