/* test_pre_quality.c — the frame-quality checks on hand-made masks: a clean walker passes; a
 * mask in pieces, a body cut by the frame edge, a lying shape, a speck, a one-frame jump and an
 * empty frame each fail their own check; the filter drops exactly those (and reports why). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "preprocess/preprocess.h"

enum { W = 160, H = 128 };

static void rect(uint8_t *img, int x0, int y0, int x1, int y1) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (x >= 0 && y >= 0 && x < W && y < H) img[y * W + x] = 255;
}

static void person(uint8_t *img, int cx, int top) {
    rect(img, cx - 5, top, cx + 5, top + 10);        /* head */
    rect(img, cx - 10, top + 10, cx + 10, top + 55); /* torso */
    rect(img, cx - 9, top + 55, cx - 2, top + 100);  /* legs */
    rect(img, cx + 2, top + 55, cx + 9, top + 100);
}

int main(void) {
    enum { N = 10 };
    uint8_t *f[N];
    for (int i = 0; i < N; i++) f[i] = calloc(W * H, 1);
    for (int i = 0; i < N; i++) person(f[i], 30 + 2 * i, 12);
    memset(f[2], 0, W * H);
    person(f[2], 30, 12);
    rect(f[2], 70, 10, 90, 50);                       /* a second blob: fragments */
    memset(f[3], 0, W * H);
    person(f[3], 36, 40);                             /* cut by the bottom edge */
    memset(f[4], 0, W * H);
    rect(f[4], 5, 60, 90, 80);                        /* lying: aspect */
    memset(f[5], 0, W * H);
    rect(f[5], 40, 60, 44, 64);                       /* a speck: foreground ratio (and too small to align) */
    memset(f[7], 0, W * H);
    person(f[7], 140, 12);                            /* jumps away for one frame */
    memset(f[9], 0, W * H);                           /* empty */
    const unsigned want[N] = {0, 0, GRT_QF_FRAGMENTS, GRT_QF_BORDER, GRT_QF_ASPECT, GRT_QF_FG_RATIO, 0, GRT_QF_JUMP, 0, GRT_QF_EMPTY};

    grt_pre_work w;
    grt_pre_work_init(&w);
    grt_quality_params qp = grt_quality_default_params();
    grt_quality_stats st[N];
    for (int i = 0; i < N; i++) CHECK(grt_quality_measure(f[i], W, H, &qp, &w, &st[i]) == GRT_OK);
    CHECK(st[0].n_components == 1 && st[2].n_components == 2);
    CHECK(st[0].fg == 10 * 10 + 20 * 45 + 2 * 7 * 45);
    CHECK(st[0].bx0 == 20 && st[0].bx1 == 39 && st[0].by0 == 12 && st[0].by1 == 111);
    grt_quality_score_sequence(st, N, &qp);
    for (int i = 0; i < N; i++) {
        printf("frame %d: fg %lld, components %d, jump %.2f, score %.3f, flags 0x%x\n", i, (long long)st[i].fg,
               st[i].n_components, st[i].jump, (double)st[i].score, st[i].flags);
        /* the frames next to the jump see it too, but only relative to one side: not flagged */
        CHECK_MSG(st[i].flags == want[i], "frame %d: flags 0x%x, expected 0x%x", i, st[i].flags, want[i]);
        CHECK_MSG((st[i].score >= qp.min_score) == (want[i] == 0), "frame %d: score %.3f", i, (double)st[i].score);
    }
    CHECK(st[0].score == 1.f && st[9].score == 0.f);

    /* through the sequence code: filter off keeps OpenGait's choices, filter on drops the rest */
    const uint8_t *imgs[N];
    int ws[N], hs[N];
    for (int i = 0; i < N; i++) imgs[i] = f[i], ws[i] = W, hs[i] = H;
    grt_seq_opts o = grt_seq_default_opts();
    grt_seq_result r0, r1;
    CHECK(grt_pretreat_sequence_frames(imgs, ws, hs, N, NULL, &o, &w, &r0) == GRT_OK);
    o.quality_filter = 1;
    CHECK(grt_pretreat_sequence_frames(imgs, ws, hs, N, NULL, &o, &w, &r1) == GRT_OK);
    printf("filter off: %d kept; filter on: %d kept\n", r0.n_kept, r1.n_kept);
    CHECK(r0.files[0].quality == -1.f);
    CHECK(r0.files[5].status == GRT_DROP_EMPTY && r0.files[9].status == GRT_DROP_EMPTY);
    CHECK(r0.n_kept == 8);
    for (int i = 0; i < N; i++) {
        int expect = want[i] == 0 ? GRT_DROP_NONE : (i == 5 || i == 9) ? GRT_DROP_EMPTY : GRT_DROP_QUALITY;
        CHECK_MSG(r1.files[i].status == expect, "frame %d: %s, expected %s", i, grt_drop_name(r1.files[i].status),
                  grt_drop_name(expect));
        CHECK(r1.files[i].qflags == want[i]);
    }
    CHECK(r1.n_kept == 4);
    /* a lower threshold tolerates frames just outside a range */
    o.qp.min_score = 0.2f;
    grt_seq_result r2;
    CHECK(grt_pretreat_sequence_frames(imgs, ws, hs, N, NULL, &o, &w, &r2) == GRT_OK);
    printf("min_score 0.2: %d kept\n", r2.n_kept);
    CHECK(r2.n_kept > r1.n_kept && r2.n_kept <= r0.n_kept);
    grt_seq_result_release(&r0);
    grt_seq_result_release(&r1);
    grt_seq_result_release(&r2);
    grt_pre_work_release(&w);
    for (int i = 0; i < N; i++) free(f[i]);
    return grt_test_finish("test_pre_quality");
}
