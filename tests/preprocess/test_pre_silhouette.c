/* test_pre_silhouette.c — sequence folders through grt_pretreat_sequence_dir against our
 * Python + cv2 re-implementation of OpenGait's pretreatment (tests/reference/pre_opengait.py):
 * synthetic sequences full of corner cases (empty, tiny, border-touching, one-row, holes, grey
 * edges, odd frame sizes) in every mode (silhouette 64/128, CCPG, parsing 64/128), and the real
 * frames of ../shared/data/silhouettes-demo. Same frames kept, and we aim for every pixel equal
 * (the bar is >= 99.9 % of pixels within +-1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pre_testdata.h"
#include "preprocess/preprocess.h"

static long long g_px, g_eq, g_pm1;
static int g_seq, g_seq_same_frames;

static void compare(const char *label, const grt_seq_result *r, const td_array *frames, const td_array *status) {
    int n = (int)status->shape[0];
    const int *ref_st = status->data;
    int same = r->n_files == n;
    for (int i = 0; same && i < n; i++) {
        if (r->files[i].status != ref_st[i]) {
            printf("  %s: frame %d (%s): ours %s, reference %s\n", label, i, r->files[i].name,
                   grt_drop_name(r->files[i].status), grt_drop_name(ref_st[i]));
            same = 0;
        }
    }
    CHECK_MSG(same, "%s: kept frames differ", label);
    g_seq++;
    if (same) g_seq_same_frames++;
    int T = (int)frames->shape[0];
    CHECK_MSG(T == r->n_kept, "%s: %d frames kept, reference %d", label, r->n_kept, T);
    if (T != r->n_kept) return;
    int S = r->size;
    CHECK(T == 0 || (frames->shape[1] == S && frames->shape[2] == S));
    const uint8_t *ref = frames->data;
    long long n_px = (long long)T * S * S, eq = 0, pm1 = 0;
    int maxd = 0;
    for (long long k = 0; k < n_px; k++) {
        int d = abs((int)r->frames[k] - (int)ref[k]);
        if (d == 0) eq++;
        if (d <= 1) pm1++;
        if (d > maxd) maxd = d;
    }
    g_px += n_px;
    g_eq += eq;
    g_pm1 += pm1;
    printf("%-40s T=%3d  equal %lld/%lld  max |diff| %d\n", label, T, eq, n_px, maxd);
    CHECK_MSG(n_px == 0 || (double)pm1 / (double)n_px >= 0.999, "%s: only %lld/%lld pixels within +-1", label, pm1, n_px);
}

static void run_mode(const char *root, const char *seq, const char *mode, int size, grt_pre_mode m, const td_file *f,
                     grt_pre_work *w) {
    char dir[2048], key[512];
    snprintf(dir, sizeof dir, "%s/%s", root, seq);
    grt_seq_opts o = grt_seq_default_opts();
    o.pre.img_size = size;
    o.pre.mode = m;
    grt_seq_result r;
    grt_status st = grt_pretreat_sequence_dir(dir, &o, w, &r);
    CHECK_MSG(st == GRT_OK, "%s: %s", dir, gaitrt_last_error());
    if (st) return;
    snprintf(key, sizeof key, "%s/%s%d/frames", seq, mode, size);
    const td_array *fr = td_get(f, key);
    snprintf(key, sizeof key, "%s/%s%d/status", seq, mode, size);
    const td_array *stt = td_get(f, key);
    CHECK_MSG(fr && stt, "reference for %s missing", key);
    char label[600];
    snprintf(label, sizeof label, "%s [%s %d]", seq, mode, size);
    if (fr && stt) compare(label, &r, fr, stt);
    grt_seq_result_release(&r);
}

int main(void) {
    char ref[1024], path[3000];
    td_ref_dir(ref, sizeof ref);
    grt_pre_work w;
    grt_pre_work_init(&w);

    td_file syn;
    snprintf(path, sizeof path, "%s/sil_synth.bin", ref);
    if (!td_load(path, &syn)) return 1;
    const char *seqs[] = {"walk/nm-01/090", "edge/cases/000", "sizes/mixed/180", "noisy/bg-02/036"};
    char root[1400], proot[1400];
    snprintf(root, sizeof root, "%s/seq_synth", ref);
    snprintf(proot, sizeof proot, "%s/seq_parsing", ref);
    for (int i = 0; i < 4; i++) {
        run_mode(root, seqs[i], "sil", 64, GRT_PRE_SILHOUETTE, &syn, &w);
        run_mode(root, seqs[i], "sil", 128, GRT_PRE_SILHOUETTE, &syn, &w);
        run_mode(root, seqs[i], "ccpg", 64, GRT_PRE_CCPG, &syn, &w);
        run_mode(proot, seqs[i], "parsing", 64, GRT_PRE_PARSING, &syn, &w);
        run_mode(proot, seqs[i], "parsing", 128, GRT_PRE_PARSING, &syn, &w);
    }
    /* the in-memory entry point gives the same result as the folder one */
    {
        grt_seq_opts o = grt_seq_default_opts();
        snprintf(path, sizeof path, "%s/edge/cases/000", root);
        grt_seq_result a, b;
        CHECK(grt_pretreat_sequence_dir(path, &o, &w, &a) == GRT_OK);
        uint8_t *imgs[64];
        int ws[64], hs[64];
        const char *names[64];
        grt_pre_work w2;
        grt_pre_work_init(&w2);
        for (int i = 0; i < a.n_files && i < 64; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, a.files[i].name);
            grt_gray g;
            CHECK(grt_image_decode_file(p, NULL, &w2, &g) == GRT_OK);
            imgs[i] = malloc((size_t)g.width * g.height);
            memcpy(imgs[i], g.data, (size_t)g.width * g.height);
            ws[i] = g.width;
            hs[i] = g.height;
            names[i] = a.files[i].name;
        }
        CHECK(grt_pretreat_sequence_frames((const uint8_t *const *)imgs, ws, hs, a.n_files, names, &o, &w2, &b) == GRT_OK);
        CHECK(a.n_kept == b.n_kept && !memcmp(a.frames, b.frames, (size_t)a.n_kept * 64 * 64));
        for (int i = 0; i < a.n_files; i++) {
            CHECK(a.files[i].status == b.files[i].status);
            free(imgs[i]);
        }
        grt_seq_result_release(&a);
        grt_seq_result_release(&b);
        grt_pre_work_release(&w2);
    }
    td_free(&syn);

    /* the real frames, read where they are */
    const char *shared = grt_test_env("GRT_SHARED_DATA", "../shared/data");
    td_file real;
    snprintf(path, sizeof path, "%s/sil_real.bin", ref);
    if (td_load(path, &real) && real.n > 0) {
        char demo[1400];
        snprintf(demo, sizeof demo, "%s/silhouettes-demo", shared);
        const char *ids[] = {"gallery/001/undefined", "gallery/002/undefined", "gallery/003/undefined", "gallery/004/undefined",
                             "probe1/001/undefined",  "probe1/002/undefined",  "probe1/003/undefined",  "probe1/004/undefined"};
        for (int i = 0; i < 8; i++) {
            run_mode(demo, ids[i], "sil", 64, GRT_PRE_SILHOUETTE, &real, &w);
            run_mode(demo, ids[i], "sil", 128, GRT_PRE_SILHOUETTE, &real, &w);
            run_mode(demo, ids[i], "ccpg", 64, GRT_PRE_CCPG, &real, &w);
        }
    } else {
        printf("SKIPPED part: real silhouettes not found under %s\n", shared);
    }
    td_free(&real);
    printf("total: %d sequence runs, %d with the same frames kept; pixels equal %lld/%lld (%.5f %%), within +-1 %.5f %%\n", g_seq,
           g_seq_same_frames, g_eq, g_px, g_px ? 100.0 * g_eq / g_px : 100.0, g_px ? 100.0 * g_pm1 / g_px : 100.0);
    grt_pre_work_release(&w);
    return grt_test_finish("test_pre_silhouette");
}
