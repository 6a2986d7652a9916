/* test_pre_dataset.c — the public preprocessing API end to end: gaitrt_pretreat_dir over the
 * synthetic dataset root and the real ../shared/data/silhouettes-demo, in every mode, with 1 and
 * 2 threads; the .pkl files are then opened by Python's pickle.load and compared with our
 * Python + cv2 re-implementation of OpenGait's pretreatment (tests/reference/pre_check_pkl.py).
 * Also gaitrt_pretreat_sequence / _frame, gaitrt_image_read_gray, and the error paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pre_testdata.h"
#include "gaitrt.h"

typedef struct counts {
    int calls, last_done, total, files, kept;
} counts;

static void on_progress(const gaitrt_pretreat_progress *p, void *user) {
    counts *c = user;
    c->calls++;
    c->last_done = p->done;
    c->total = p->total;
    c->files += p->n_files;
    c->kept += p->n_kept;
}

static int g_python_skipped;

/* 0 when the Python check passes (or cannot run: then we print SKIPPED for that part). */
static int python_check(const char *in, const char *out, int size, const char *mode) {
    char cmd[8192];
    const char *py = grt_test_env("GRT_PYTHON", "/usr/bin/python3");
    const char *src = grt_test_env("GRT_SOURCE_DIR", "..");
    snprintf(cmd, sizeof cmd, "%s %s/tests/reference/pre_check_pkl.py '%s' '%s' %d %s", py, src, in, out, size, mode);
    int rc = system(cmd);
    if (rc == -1) return 1;
    rc = WEXITSTATUS(rc);
    if (rc == 77) {
        printf("SKIPPED: pickle check (python3-opencv missing)\n");
        g_python_skipped = 1;
        return 0;
    }
    return rc;
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

int main(void) {
    char ref[1024], in[1400], out[1400], out2[1400], path[3000], path2[3200];
    td_ref_dir(ref, sizeof ref);
    snprintf(in, sizeof in, "%s/seq_synth", ref);
    const char *build = grt_test_env("GRT_BUILD_DIR", ".");
    struct {
        const char *mode;
        gaitrt_pretreat_mode m;
        int size;
        const char *root;
    } runs[] = {{"sil", GAITRT_PRETREAT_SILHOUETTE, 64, "seq_synth"},
                {"sil", GAITRT_PRETREAT_SILHOUETTE, 128, "seq_synth"},
                {"ccpg", GAITRT_PRETREAT_CCPG, 64, "seq_synth"},
                {"parsing", GAITRT_PRETREAT_PARSING, 64, "seq_parsing"}};
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        snprintf(in, sizeof in, "%s/%s", ref, runs[k].root);
        snprintf(out, sizeof out, "%s/pre_out/%s%d", build, runs[k].mode, runs[k].size);
        gaitrt_pretreat_params p = gaitrt_pretreat_default_params();
        p.mode = runs[k].m;
        p.img_size = runs[k].size;
        p.n_threads = 2;
        counts c = {0};
        p.progress = on_progress;
        p.progress_user = &c;
        gaitrt_pretreat_summary s;
        gaitrt_status st = gaitrt_pretreat_dir(in, out, &p, &s);
        CHECK_MSG(st == GAITRT_OK, "%s", gaitrt_last_error());
        printf("%s %d: %d sequences, %d written, %d empty, %d failed, frames %lld/%lld; %d progress calls\n", runs[k].mode,
               runs[k].size, s.n_sequences, s.n_written, s.n_empty, s.n_failed, (long long)s.n_kept, (long long)s.n_files,
               c.calls);
        CHECK(s.n_sequences == 4 && s.n_failed == 0 && s.n_written == 4);
        CHECK(c.calls == 4 && c.last_done == 4 && c.total == 4 && c.kept == s.n_kept && c.files == s.n_files);
        int64_t dropped = 0;
        for (int i = 0; i < 8; i++) dropped += s.n_dropped[i];
        CHECK(dropped == s.n_files - s.n_kept);
        CHECK_MSG(python_check(in, out, runs[k].size, runs[k].mode) == 0, "%s %d: pickles differ from the reference", runs[k].mode,
                  runs[k].size);
        if (k == 0) {
            /* one thread writes the same bytes */
            snprintf(out2, sizeof out2, "%s/pre_out/sil64_1thread", build);
            p.n_threads = 1;
            p.progress = NULL;
            CHECK(gaitrt_pretreat_dir(in, out2, &p, NULL) == GAITRT_OK);
            const char *seqs[] = {"walk/nm-01/090/090.pkl", "edge/cases/000/000.pkl", "sizes/mixed/180/180.pkl",
                                  "noisy/bg-02/036/036.pkl"};
            for (int i = 0; i < 4; i++) {
                snprintf(path, sizeof path, "%s/%s", out, seqs[i]);
                snprintf(path2, sizeof path2, "%s/%s", out2, seqs[i]);
                CHECK_MSG(files_equal(path, path2), "%s differs between 1 and 2 threads", seqs[i]);
            }
        }
    }

    /* the real frames */
    const char *shared = grt_test_env("GRT_SHARED_DATA", "../shared/data");
    snprintf(in, sizeof in, "%s/silhouettes-demo", shared);
    struct stat sb;
    if (stat(in, &sb) == 0) {
        snprintf(out, sizeof out, "%s/pre_out/demo64", build);
        gaitrt_pretreat_params p = gaitrt_pretreat_default_params();
        gaitrt_pretreat_summary s;
        CHECK(gaitrt_pretreat_dir(in, out, &p, &s) == GAITRT_OK);
        printf("silhouettes-demo: %d sequences, %d written, frames %lld/%lld\n", s.n_sequences, s.n_written, (long long)s.n_kept,
               (long long)s.n_files);
        CHECK(s.n_sequences == 8 && s.n_written == 8 && s.n_files == 460);
        CHECK(python_check(in, out, 64, "sil") == 0);
    } else {
        printf("SKIPPED part: %s not found\n", in);
    }

    /* one sequence, with a broken file in it */
    snprintf(path, sizeof path, "%s/pre_out/broken/a/b/c", build);
    char mk[12000];
    snprintf(mk, sizeof mk, "mkdir -p '%s' && cp '%s/seq_synth/walk/nm-01/090/'00[0-3].png '%s'/ && printf 'junk' > '%s/001b.png'",
             path, ref, path, path);
    CHECK(system(mk) == 0);
    gaitrt_pretreat_params p = gaitrt_pretreat_default_params();
    gaitrt_pretreat_result r;
    CHECK(gaitrt_pretreat_sequence(path, &p, &r) == GAITRT_OK);
    CHECK(r.n_files == 5 && r.n_frames == 4 && r.size == 64 && r.frames != NULL);
    for (int i = 0; i < r.n_files; i++)
        printf("  %s: %s%s%s\n", r.files[i].name, gaitrt_frame_status_str(r.files[i].status), r.files[i].detail ? " — " : "",
               r.files[i].detail ? r.files[i].detail : "");
    CHECK(!strcmp(r.files[2].name, "001b.png") && r.files[2].status == GAITRT_FRAME_UNREADABLE && r.files[2].detail &&
          strstr(r.files[2].detail, "001b.png"));
    /* the single-frame call agrees with the sequence */
    int w, h;
    snprintf(path2, sizeof path2, "%s/000.png", path);
    CHECK(gaitrt_image_read_gray(path2, NULL, 0, &w, &h) == GAITRT_OK && w == 192 && h == 192);
    uint8_t *img = malloc((size_t)w * h), frame[64 * 64];
    CHECK(gaitrt_image_read_gray(path2, img, 10, &w, &h) == GAITRT_ERR_INVALID_ARG);
    CHECK(gaitrt_image_read_gray(path2, img, (size_t)w * h, &w, &h) == GAITRT_OK);
    gaitrt_frame_status fs;
    CHECK(gaitrt_pretreat_frame(img, w, h, &p, frame, sizeof frame, &fs) == GAITRT_OK && fs == GAITRT_FRAME_KEPT);
    CHECK(!memcmp(frame, r.frames, sizeof frame));
    CHECK(gaitrt_pretreat_frame(img, w, h, &p, frame, 100, &fs) == GAITRT_ERR_INVALID_ARG);
    free(img);
    gaitrt_pretreat_result_release(&r);
    CHECK(r.frames == NULL && r.files == NULL);

    /* errors: one line, naming the path */
    snprintf(path, sizeof path, "%s/pre_out/no-such-root", build);
    gaitrt_status st = gaitrt_pretreat_dir(path, out, &p, NULL);
    printf("missing root -> %s: %s\n", gaitrt_status_str(st), gaitrt_last_error());
    CHECK(st == GAITRT_ERR_IO && strstr(gaitrt_last_error(), "no-such-root"));
    snprintf(path, sizeof path, "%s/pre_out/empty-root", build);
    mkdir(path, 0777);
    st = gaitrt_pretreat_dir(path, out, &p, NULL);
    printf("empty root -> %s: %s\n", gaitrt_status_str(st), gaitrt_last_error());
    CHECK(st == GAITRT_ERR_INPUT && strstr(gaitrt_last_error(), "HINT"));
    /* an output root that is a file: every sequence fails, each one reported */
    snprintf(in, sizeof in, "%s/seq_synth", ref);
    snprintf(path, sizeof path, "%s/pre_out/a-file", build);
    FILE *fp = fopen(path, "w");
    if (fp) fclose(fp);
    gaitrt_pretreat_summary s;
    st = gaitrt_pretreat_dir(in, path, &p, &s);
    printf("output is a file -> %s: %s\n", gaitrt_status_str(st), gaitrt_last_error());
    CHECK(st == GAITRT_ERR_IO);
    p.img_size = 63;
    CHECK(gaitrt_pretreat_dir(in, out, &p, NULL) == GAITRT_ERR_INVALID_ARG);
    CHECK(gaitrt_pretreat_sequence(NULL, &p, &r) == GAITRT_ERR_INVALID_ARG);
    if (g_python_skipped) printf("SKIPPED: the Python pickle checks could not run\n");
    return grt_test_finish("test_pre_dataset");
}
