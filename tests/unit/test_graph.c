/* test_graph.c — graph building, shape inference, the memory plan (no two live values
 * overlap; space is reused), the fusion pass (same numbers, fewer nodes) and clear errors
 * on shapes that do not fit. */
#include <string.h>

#include "backends/backend.h"
#include "test_util.h"

static int conv_bn_relu(grt_graph *g, grt_rng *r, int x, int ci, int co, int stride, int res, const char *name) {
    float *w = malloc((size_t)co * ci * 9 * 4), *v[4];
    for (int i = 0; i < co * ci * 9; i++) w[i] = grt_rng_normal(r) * 0.2f;
    int64_t ws[5] = {co, ci, 1, 3, 3}, cs = co;
    int wid = grt_graph_const(g, name, 5, ws, w);
    int k[3] = {1, 3, 3}, s[3] = {1, stride, stride}, p[3] = {0, 1, 1};
    int y = grt_graph_conv(g, name, x, wid, -1, k, s, p, 1);
    int ids[4];
    for (int j = 0; j < 4; j++) {
        v[j] = malloc((size_t)co * 4);
        for (int i = 0; i < co; i++) v[j][i] = j == 3 || j == 0 ? 0.5f + grt_rng_uniform(r) : grt_rng_uniform(r) - 0.5f;
        ids[j] = grt_graph_const(g, "bn", 1, &cs, v[j]);
        free(v[j]);
    }
    y = grt_graph_batchnorm(g, name, y, ids[0], ids[1], ids[2], ids[3], 1e-5f);
    if (res >= 0) y = grt_graph_add(g, "add", y, res);
    y = grt_graph_act(g, "relu", y, GRT_ACT_RELU, 0);
    free(w);
    return y;
}

static grt_graph *small_net(void) {
    grt_rng r = {1};
    grt_graph *g = grt_graph_new();
    int x = grt_graph_input(g, 1, 16, 12);
    x = conv_bn_relu(g, &r, x, 1, 4, 1, -1, "c1");
    int y = conv_bn_relu(g, &r, x, 4, 4, 1, -1, "c2");
    y = conv_bn_relu(g, &r, y, 4, 4, 1, x, "c3"); /* residual */
    y = conv_bn_relu(g, &r, y, 4, 8, 2, -1, "c4");
    y = grt_graph_temporal_max(g, "TP", y);
    int bins[1] = {8};
    y = grt_graph_hpp(g, "HPP", y, 1, bins);
    float *fw = malloc(8 * 8 * 6 * 4);
    for (int i = 0; i < 8 * 8 * 6; i++) fw[i] = grt_rng_normal(&r);
    int64_t fs[3] = {8, 8, 6};
    int f = grt_graph_const(g, "fc", 3, fs, fw);
    free(fw);
    y = grt_graph_sepfc(g, "FCs", y, f, 0);
    grt_graph_set_output(g, y);
    return g;
}

static void run(const grt_graph *g, const grt_batch_shape *bs, const grt_segment *seg, const float *in, float *out) {
    const grt_backend_i *bk = grt_backend_cpu_ref();
    grt_backend_opts o = {0};
    void *st = NULL, *pl = NULL;
    CHECK(bk->prepare(g, &o, &st) == GRT_OK);
    CHECK(bk->plan(st, bs, &pl) == GRT_OK);
    const float *ins[1] = {in};
    grt_run_args a = {ins, seg, out, NULL};
    CHECK(bk->run(pl, &a) == GRT_OK);
    bk->plan_release(pl);
    bk->release(st);
}

int main(void) {
    grt_graph *g = small_net();
    grt_batch_shape bs = {1, 9, 2};
    grt_plan *p = NULL;
    CHECK(grt_plan_create(g, &bs, &p) == GRT_OK);
    /* live ranges that overlap in time must not overlap in space (aliases share a root) */
    int64_t total = 0;
    for (int a = 0; a < g->n_values; a++) {
        if (g->values[a].is_const) continue;
        total += p->v[a].numel;
        for (int b = a + 1; b < g->n_values; b++) {
            if (g->values[b].is_const || p->v[a].offset == p->v[b].offset) continue;
            int la = p->v[a].last < 0 ? p->v[a].first : p->v[a].last, lb = p->v[b].last < 0 ? p->v[b].first : p->v[b].last;
            int live = p->v[a].first <= lb && p->v[b].first <= la;
            int overlap = p->v[a].offset < p->v[b].offset + p->v[b].numel && p->v[b].offset < p->v[a].offset + p->v[a].numel;
            CHECK_MSG(!(live && overlap), "values %d and %d overlap while both live", a, b);
        }
    }
    printf("arena %lld floats for %lld floats of activations\n", (long long)p->arena_floats, (long long)total);
    CHECK(p->arena_floats < total); /* reuse happened */
    grt_plan_free(p);

    /* fused graph: fewer nodes, same numbers */
    grt_graph *f = grt_graph_fuse(g);
    CHECK(f != NULL);
    printf("nodes: %d unfused, %d fused\n", g->n_nodes, f->n_nodes);
    CHECK(f->n_nodes < g->n_nodes);
    int n_conv = 0;
    for (int i = 0; i < f->n_nodes; i++) {
        CHECK(f->nodes[i].op != GRT_OP_BATCHNORM && f->nodes[i].op != GRT_OP_ACT && f->nodes[i].op != GRT_OP_ADD);
        n_conv += f->nodes[i].op == GRT_OP_CONV && f->nodes[i].a.conv.residual >= 0;
    }
    CHECK(n_conv == 1);
    grt_rng r = {4};
    float in[9 * 16 * 12], o1[2 * 6 * 8], o2[2 * 6 * 8];
    for (int i = 0; i < 9 * 16 * 12; i++) in[i] = grt_rng_uniform(&r);
    grt_segment seg[2] = {{0, 0, 4}, {0, 4, 5}};
    run(g, &bs, seg, in, o1);
    run(f, &bs, seg, in, o2);
    double e = grt_rel_l2(o2, o1, 2 * 6 * 8);
    printf("fused vs unfused: rel L2 %.3g\n", e);
    CHECK(e < 1e-6);

    /* fusion that takes the constants over instead of copying them: the same fused graph
     * (bit for bit), and the source keeps its nodes and shapes with no constant data left */
    grt_graph *gm = small_net(); /* the same net again, to take from */
    grt_graph *fm = grt_graph_fuse_move(gm);
    CHECK(fm != NULL && fm->n_nodes == f->n_nodes && fm->n_values == f->n_values);
    int same = 1, left = 0;
    for (int v = 0; fm && v < fm->n_values; v++) {
        const grt_value *a = &f->values[v], *b = &fm->values[v];
        if (!a->data != !b->data) same = 0;
        if (a->data && b->data) {
            size_t nel = 1;
            for (int d = 0; d < a->ndim; d++) nel *= (size_t)a->shape[d];
            same &= a->ndim == b->ndim && memcmp(a->data, b->data, nel * sizeof(float)) == 0;
        }
    }
    for (int v = 0; v < gm->n_values; v++) left += gm->values[v].data != NULL;
    CHECK_MSG(same, "fusing by moving the constants gave another graph");
    CHECK_MSG(left == 0, "%d constants left in the graph fusion took them from", left);
    CHECK(gm->n_nodes == g->n_nodes);
    run(fm, &bs, seg, in, o1);
    CHECK(memcmp(o1, o2, sizeof o1) == 0);
    grt_graph_free(fm);
    grt_graph_free(gm);
    grt_graph_free(f);

    /* an input that does not fit: the error names the layer */
    grt_batch_shape bad = {1, 0, 1};
    CHECK(grt_plan_create(g, &bad, &p) == GAITRT_ERR_INPUT);
    grt_graph *g2 = grt_graph_new();
    int x = grt_graph_input(g2, 3, 8, 8);
    int64_t ws[5] = {4, 2, 1, 3, 3};
    int w = grt_graph_const(g2, "w", 5, ws, NULL);
    int k[3] = {1, 3, 3}, s[3] = {1, 1, 1}, pd[3] = {0, 1, 1};
    x = grt_graph_conv(g2, "mismatch", x, w, -1, k, s, pd, 1);
    grt_graph_set_output(g2, x);
    grt_batch_shape b1 = {1, 1, 1};
    CHECK(grt_plan_create(g2, &b1, &p) == GAITRT_ERR_INPUT);
    printf("error: %s\n", gaitrt_last_error());
    CHECK(strstr(gaitrt_last_error(), "mismatch") != NULL);
    grt_graph_free(g2);
    grt_graph_free(g);
    return grt_test_finish("test_graph");
}
