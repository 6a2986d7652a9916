/* test_io_pkl.c — OpenGait dataset .pkl files: the three real sample files (two numpy uint8
 * sequences, one torch tensor in the legacy `torch.storage._load_from_bytes` form) checked
 * against values Python computed; numpy arrays pickled by Python with protocols 0-5 in
 * every supported dtype (Fortran order, 0-d, empty, numpy 2 module names); torch tensors
 * pickled with pickle.dump; and hostile pickles that would run commands. */
#include <zlib.h>

#include "io_test.h"

static uint32_t crc_of(const grt_tensor *t) { return (uint32_t)crc32(0, t->data, (uInt)t->nbytes); }

static void test_real_files(void) {
    const char *base = grt_test_env("GRT_SHARED_DATA", NULL);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/opengait-pkl", base ? base : "");
    if (!base || !tio_exists(dir)) {
        fprintf(stderr, "SKIPPED (part): real .pkl samples not found in %s\n", dir);
        return;
    }
    /* Values from Python: pickle.load(f); zlib.crc32(a.tobytes()); a.astype(int64).sum() */
    struct {
        const char *file;
        int64_t t;
        uint32_t crc;
        int64_t sum;
        uint8_t at_5_32_30;
    } u8[] = {
        {"Image02_videos_001_nm-01_000_000.pkl", 10, 0xd18271c4u, 2412368, 116},
        {"Image03_videos_001_nm-01_000_000.pkl", 20, 0xadb32fa9u, 4813440, 253},
    };
    for (int i = 0; i < 2; i++) {
        grt_tensor t;
        grt_status st = grt_pkl_array_read(tio_path(dir, u8[i].file), &t);
        CHECK_MSG(st == GRT_OK, "%s", gaitrt_last_error());
        if (st) continue;
        CHECK(t.dtype == GRT_U8 && t.ndim == 3 && t.shape[0] == u8[i].t && t.shape[1] == 64 && t.shape[2] == 64);
        int64_t sum = 0;
        for (size_t k = 0; k < t.nbytes; k++) sum += ((uint8_t *)t.data)[k];
        CHECK(sum == u8[i].sum);
        CHECK(crc_of(&t) == u8[i].crc);
        CHECK(((uint8_t *)t.data)[5 * 4096 + 32 * 64 + 30] == u8[i].at_5_32_30);
        printf("%s: uint8 (%lld, 64, 64), sum %lld, crc %08x: OK\n", u8[i].file, (long long)t.shape[0], (long long)sum, crc_of(&t));
        grt_tensor_release(&t);
    }
    /* The legacy torch form: a float32 (4, 256, 31) tensor saved from cuda:0. */
    grt_tensor t;
    grt_status st = grt_pkl_array_read(tio_path(dir, "Image04_videos_0.pkl"), &t);
    CHECK_MSG(st == GRT_OK, "%s", gaitrt_last_error());
    if (!st) {
        CHECK(t.dtype == GRT_F32 && t.ndim == 3 && t.shape[0] == 4 && t.shape[1] == 256 && t.shape[2] == 31);
        const uint32_t *w = t.data;
        CHECK(w[0] == 0xbdfe481au && w[1] == 0xbd505528u && w[2] == 0xbee51d3eu && w[4 * 256 * 31 - 1] == 3190090072u);
        CHECK(crc_of(&t) == 0x0e163abfu);
        double sum = 0;
        for (int k = 0; k < 4 * 256 * 31; k++) sum += ((float *)t.data)[k];
        CHECK(fabs(sum - 27.320401212084107) < 1e-9);
        printf("Image04_videos_0.pkl: float32 (4, 256, 31), sum %.12f, crc %08x: OK\n", sum, crc_of(&t));
        grt_tensor_release(&t);
    }
}

static int check_pkl(const char *dir, const char *name) {
    char f[256], r[256];
    snprintf(f, sizeof f, "%s.pkl", name);
    snprintf(r, sizeof r, "%s.ref", name);
    tref_set ref;
    if (!tref_load(tio_path(dir, r), &ref) || ref.n != 1) {
        CHECK_MSG(0, "reference %s unreadable", r);
        return 0;
    }
    grt_tensor t;
    grt_status st = grt_pkl_array_read(tio_path(dir, f), &t);
    CHECK_MSG(st == GRT_OK, "%s", gaitrt_last_error());
    int ok = !st && tref_match(&t, &ref.r[0], name);
    CHECK_MSG(ok, "%s", name);
    grt_tensor_release(&t);
    tref_free(&ref);
    return ok;
}

static void test_python_written(const char *dir) {
    const char *codes[] = {"f4", "f8", "f2", "u1", "i1", "i2", "i4", "i8", "b1"};
    int n = 0, ok = 0;
    char name[64];
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++)
        for (int p = 0; p <= 5; p++) {
            snprintf(name, sizeof name, "np_%s_p%d", codes[c], p);
            ok += check_pkl(dir, name);
            n++;
        }
    const char *extra[] = {"np_fortran", "np_fortran_i2", "np_scalar", "np_empty", "np_sil"};
    for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++)
        for (int p = 2; p <= 5; p += (p == 2 ? 2 : 1)) {
            snprintf(name, sizeof name, "%s_p%d", extra[e], p);
            ok += check_pkl(dir, name);
            n++;
        }
    const char *more[] = {"np_numpy2_p2", "tp_f32", "tp_transposed", "tp_i64", "tp_f16", "tp_u8", "tp_view", "tp_zip"};
    for (size_t e = 0; e < sizeof more / sizeof more[0]; e++) {
        ok += check_pkl(dir, more[e]);
        n++;
    }
    printf("python-pickled arrays and tensors: %d/%d match\n", ok, n);
    grt_tensor t;
    const char *p = tio_path(dir, "np_list.pkl");
    CHECK_ERR(grt_pkl_array_read(p, &t), GAITRT_ERR_FORMAT, p);
    CHECK(strstr(gaitrt_last_error(), "list") != NULL);
    /* A torch checkpoint is not a sequence array either. */
    p = tio_path(dir, "ckpt_plain.pt");
    CHECK_ERR(grt_pkl_array_read(p, &t), GAITRT_ERR_FORMAT, p);
}

static void test_hostile(const char *dir) {
    const char *cases[][2] = {
        {"evil_system_p2.pkl", "posix.system"}, {"evil_system_p4.pkl", "posix.system"},
        {"evil_eval_p2.pkl", "eval"},           {"evil_eval_p4.pkl", "builtins.eval"},
        {"evil_popen_p2.pkl", "subprocess.Popen (written as commands.Popen)"}, {"evil_popen_p4.pkl", "subprocess.Popen"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        grt_tensor t;
        const char *p = tio_path(dir, cases[i][0]);
        CHECK_ERR(grt_pkl_array_read(p, &t), GAITRT_ERR_REFUSED, p);
        CHECK_MSG(strstr(gaitrt_last_error(), cases[i][1]) != NULL, "%s", gaitrt_last_error());
        CHECK(t.data == NULL);
    }
    /* Had any of them run, they would have created these files. */
    const char *markers[] = {"evil_ran_system", "evil_ran_eval", "evil_ran_popen", "evil_ran_ckpt"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        CHECK_MSG(!tio_exists(tio_path(dir, markers[i])), "%s exists", markers[i]);
    printf("hostile pickles: refused, nothing ran\n");
}

int main(void) {
    test_real_files();
    const char *dir = tio_fixture_dir_or_finish("test_io_pkl");
    test_python_written(dir);
    test_hostile(dir);
    return grt_test_finish("test_io_pkl");
}
