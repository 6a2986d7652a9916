/* test_pre_oom.c — out of memory at every allocation in turn (SQLite's approach): a sequence
 * folder through gaitrt_pretreat_sequence (decoding, resizing, report), a dataset root through
 * gaitrt_pretreat_dir (one thread) and skeleton maps. Each call must either succeed or return
 * GAITRT_ERR_NOMEM with a message; never crash, never leak (the sanitizer build checks leaks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pre_testdata.h"
#include "gaitrt.h"

static long g_count, g_fail_at;

static void *t_malloc(size_t n, void *u) {
    (void)u;
    if (g_fail_at && ++g_count >= g_fail_at) return NULL;
    return malloc(n);
}
static void *t_realloc(void *p, size_t n, void *u) {
    (void)u;
    if (g_fail_at && ++g_count >= g_fail_at) return NULL;
    return realloc(p, n);
}
static void t_free(void *p, void *u) {
    (void)u;
    free(p);
}

typedef int (*case_fn)(void *ctx);

/* Runs fn with the N-th allocation failing, N = 1, 2, ... until it succeeds untouched. */
static void sweep(const char *what, case_fn fn, void *ctx) {
    gaitrt_allocator a = {t_malloc, t_realloc, t_free, NULL};
    gaitrt_set_allocator(&a);
    int nomem = 0, ok = 0;
    for (long n = 1; n < 20000; n++) {
        g_count = 0;
        g_fail_at = n;
        int st = fn(ctx);
        if (st == GAITRT_OK) {
            ok = 1;
            if (g_count < n) break; /* no allocation failed: we have covered them all */
            continue;
        }
        CHECK_MSG(st == GAITRT_ERR_NOMEM, "%s: allocation %ld failing gave '%s': %s", what, n, gaitrt_status_str(st),
                  gaitrt_last_error());
        nomem++;
    }
    g_fail_at = 0;
    gaitrt_set_allocator(NULL);
    printf("%-22s %d allocation failures handled\n", what, nomem);
    CHECK(ok && nomem > 0);
}

static int run_sequence(void *ctx) {
    gaitrt_pretreat_params p = gaitrt_pretreat_default_params();
    p.quality_filter = 1;
    gaitrt_pretreat_result r;
    int st = gaitrt_pretreat_sequence(ctx, &p, &r);
    if (!st) gaitrt_pretreat_result_release(&r);
    return st;
}

static int run_dir(void *ctx) {
    const char **io = ctx;
    gaitrt_pretreat_params p = gaitrt_pretreat_default_params();
    p.n_threads = 1;
    return gaitrt_pretreat_dir(io[0], io[1], &p, NULL);
}

static int run_skeleton(void *ctx) {
    const td_array *pose = ctx;
    gaitrt_pose_sequence ps = {(int)pose->shape[0], (int)pose->shape[1], pose->dtype == TD_F64, pose->data, NULL};
    gaitrt_skeleton_params sp = gaitrt_skeleton_default_params();
    size_t n = (size_t)ps.n_frames * 2 * 64 * 64;
    uint8_t *out = malloc(n);
    int st = gaitrt_skeleton_maps(&ps, &sp, out, n);
    free(out);
    return st;
}

int main(void) {
    char ref[1024], seq[1400], root[1400], out[1400], path[1400];
    td_ref_dir(ref, sizeof ref);
    snprintf(seq, sizeof seq, "%s/seq_synth/edge/cases/000", ref);
    sweep("pretreat_sequence", run_sequence, seq);
    snprintf(root, sizeof root, "%s/seq_parsing", ref);
    snprintf(out, sizeof out, "%s/pre_out/oom", grt_test_env("GRT_BUILD_DIR", "."));
    const char *io[2] = {root, out};
    sweep("pretreat_dir", run_dir, io);
    snprintf(path, sizeof path, "%s/skeleton.bin", ref);
    td_file f;
    if (td_load(path, &f)) {
        const td_array *pose = td_get(&f, "coco18_f32/pose");
        CHECK(pose != NULL);
        if (pose) sweep("skeleton_maps", run_skeleton, (void *)pose);
        td_free(&f);
    }
    return grt_test_finish("test_pre_oom");
}
