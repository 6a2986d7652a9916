/* test_gaitbase_parity.c — GaitBase from an OpenGait-style checkpoint written by our PyTorch
 * reference (tests/reference/gaitbase_ref.py): embeddings within relative L2 1e-5 for
 * T = 1, 7, 30, 100 and a batch of two sequences of different lengths, at the conservative
 * (reference kernels) and balanced levels; through the C API and `gaitrt embed --tensor`;
 * the architecture summary against the spec's counts; and a broken checkpoint's error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gaitrt.h"
#include "test_util.h"

static const char *refdir;

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void run_case(gaitrt_model *m, const char *variant, const char *cas, gaitrt_level level) {
    char path[1024];
    gaitrt_array in[2], ref;
    memset(in, 0, sizeof in);
    int n_in = 0;
    snprintf(path, sizeof path, "%s/gaitbase_%s_%s_in.npy", refdir, variant, cas);
    if (exists(path)) {
        CHECK(gaitrt_array_load(path, &in[0]) == GAITRT_OK);
        n_in = 1;
    } else {
        for (int j = 0; j < 2; j++) {
            snprintf(path, sizeof path, "%s/gaitbase_%s_%s_in%d.npy", refdir, variant, cas, j);
            CHECK_MSG(gaitrt_array_load(path, &in[j]) == GAITRT_OK, "%s", gaitrt_last_error());
        }
        n_in = 2;
    }
    snprintf(path, sizeof path, "%s/gaitbase_%s_%s_out.npy", refdir, variant, cas);
    CHECK(gaitrt_array_load(path, &ref) == GAITRT_OK);
    /* sequences: one per array row (same length), or one per file */
    gaitrt_sequence seqs[8];
    int n = 0;
    for (int j = 0; j < n_in; j++)
        for (int64_t i = 0; i < in[j].shape[0]; i++) {
            size_t per = (size_t)in[j].shape[1] * 64 * 44;
            seqs[n].n_frames = (int)in[j].shape[1];
            seqs[n].inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, 64, 44, (const float *)in[j].data + i * per, 0};
            n++;
        }
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.level = level;
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    CHECK(s != NULL);
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    size_t per = (size_t)info.embed_channels * info.embed_parts;
    float *out = calloc((size_t)n * per, sizeof(float));
    gaitrt_status st = gaitrt_embed(s, seqs, n, out, (size_t)n * per);
    CHECK_MSG(st == GAITRT_OK, "%s", gaitrt_last_error());
    CHECK((int64_t)n == ref.shape[0]);
    double err = grt_rel_l2(out, ref.data, (size_t)n * per);
    char rep[2048];
    gaitrt_session_report(s, rep, sizeof rep);
    printf("%-6s %-7s level %d: rel L2 %.3g  (out[0..2] %.6f %.6f %.6f ref %.6f %.6f %.6f)\n", variant, cas, level, err,
           out[0], out[1], out[2], ((float *)ref.data)[0], ((float *)ref.data)[1], ((float *)ref.data)[2]);
    CHECK_MSG(err <= 1e-5, "%s %s level %d: relative L2 error %.3g > 1e-5 (%s)", variant, cas, level, err, rep);
    free(out);
    gaitrt_session_free(s);
    for (int j = 0; j < n_in; j++) gaitrt_array_free(&in[j]);
    gaitrt_array_free(&ref);
}

static void check_cli(const char *variant) {
    char cmd[4096], outp[1024], refp[1024];
    const char *bin = grt_test_env("GRT_BUILD_DIR", ".");
    snprintf(outp, sizeof outp, "%s/cli_%s_t30.npy", refdir, variant);
    snprintf(cmd, sizeof cmd, "%s/gaitrt embed --quiet -m %s/gaitbase_%s.pt --tensor %s/gaitbase_%s_t30_in.npy -o %s", bin, refdir,
             variant, refdir, variant, outp);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "command failed: %s", cmd);
    gaitrt_array a, r;
    snprintf(refp, sizeof refp, "%s/gaitbase_%s_t30_out.npy", refdir, variant);
    if (gaitrt_array_load(outp, &a) == GAITRT_OK && gaitrt_array_load(refp, &r) == GAITRT_OK) {
        CHECK(a.ndim == 3 && a.shape[0] == 1 && a.shape[1] == r.shape[1] && a.shape[2] == r.shape[2]);
        double err = grt_rel_l2(a.data, r.data, (size_t)(r.shape[0] * r.shape[1] * r.shape[2]));
        printf("cli embed --tensor %s t30: rel L2 %.3g\n", variant, err);
        CHECK(err <= 1e-5);
        gaitrt_array_free(&a);
        gaitrt_array_free(&r);
    } else {
        CHECK_MSG(0, "cannot read %s or %s", outp, refp);
    }
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "all";
    int do_small = strcmp(which, "full") != 0, do_full = strcmp(which, "small") != 0;
    refdir = grt_test_env("GRT_REF_DIR", "ref");
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/gaitbase", refdir);
    refdir = dir;
    char path[1200];
    snprintf(path, sizeof path, "%s/gaitbase_full.pt", refdir);
    if (!exists(path)) TEST_SKIP("no reference data in %s (PyTorch missing?)", refdir);

    gaitrt_model_params mp = gaitrt_model_default_params();
    /* small widths: every case at both levels */
    snprintf(path, sizeof path, "%s/gaitbase_small.pt", refdir);
    gaitrt_model *m = do_small ? gaitrt_model_load(path, &mp) : NULL;
    CHECK_MSG(m != NULL || !do_small, "%s", gaitrt_last_error());
    const char *cases[] = {"t1", "t7", "t30", "t100", "batch2"};
    for (int c = 0; m && c < 5; c++) {
        run_case(m, "small", cases[c], GAITRT_LEVEL_CONSERVATIVE);
        run_case(m, "small", cases[c], GAITRT_LEVEL_BALANCED);
    }
    gaitrt_model_free(m);

    /* full size: the spec's architecture and counts; reference kernels on few frames, the
     * balanced level (fast kernels) on every case */
    snprintf(path, sizeof path, "%s/gaitbase_full.pt", refdir);
    m = do_full ? gaitrt_model_load(path, &mp) : NULL;
    CHECK_MSG(m != NULL || !do_full, "%s", gaitrt_last_error());
    if (m) {
        gaitrt_model_info info;
        gaitrt_model_get_info(m, &info);
        printf("full: %s %s params %lld total %lld MACs/frame %.1f M\n", info.type, info.variant, (long long)info.n_params,
               (long long)info.n_params_total, info.macs_per_frame / 1e6);
        CHECK(strcmp(info.type, "GaitBase") == 0);
        CHECK(info.n_params == 6994112);                      /* gaitbase.md §6 */
        CHECK(info.n_params_total == 6994112 + 16 * 256 * 74 + 2 * 4096); /* with the BNNeck, K = 74: 7.31 M */
        CHECK(info.macs_per_frame > 1178.0e6 && info.macs_per_frame < 1178.2e6);
        CHECK(info.embed_channels == 256 && info.embed_parts == 16);
        run_case(m, "full", "t1", GAITRT_LEVEL_CONSERVATIVE);
        run_case(m, "full", "t7", GAITRT_LEVEL_CONSERVATIVE);
        for (int c = 0; c < 5; c++) run_case(m, "full", cases[c], GAITRT_LEVEL_BALANCED);
        gaitrt_model_free(m);
    }
    if (do_small) check_cli("small");
    if (do_full) check_cli("full");

    /* a checkpoint that does not fit: every problem named */
    snprintf(path, sizeof path, "%s/gaitbase_broken.pt", refdir);
    m = gaitrt_model_load(path, &mp);
    CHECK(m == NULL);
    const char *e = gaitrt_last_error();
    printf("broken: %s\n", e);
    CHECK(strstr(e, "gaitbase_broken.pt") != NULL);
    CHECK(strstr(e, "missing 'Backbone.forward_block.layer2.0.conv2.weight'") != NULL);
    CHECK(strstr(e, "layer3.0.bn1.running_var") != NULL);
    CHECK(strstr(e, "unexpected 'Extra.weight'") != NULL);
    gaitrt_model_free(m);
    /* strict = 0 lets keys the architecture does not read pass, and nothing else */
    mp.strict = 0;
    m = gaitrt_model_load(path, &mp);
    CHECK(m == NULL);
    e = gaitrt_last_error();
    CHECK(strstr(e, "missing 'Backbone.forward_block.layer2.0.conv2.weight'") != NULL);
    CHECK(strstr(e, "Extra.weight") == NULL);
    snprintf(path, sizeof path, "%s/gaitbase_extra.pt", refdir);
    if (do_small && exists(path)) {
        m = gaitrt_model_load(path, &mp);
        CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
        if (m) run_case(m, "small", "t7", GAITRT_LEVEL_CONSERVATIVE);
        gaitrt_model_free(m);
        mp.strict = 1;
        m = gaitrt_model_load(path, &mp);
        CHECK(m == NULL && strstr(gaitrt_last_error(), "unexpected 'Extra.weight'") != NULL);
        gaitrt_model_free(m);
    }
    return grt_test_finish("test_gaitbase_parity");
}
