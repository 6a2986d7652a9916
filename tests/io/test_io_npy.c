/* test_io_npy.c — .npy: our writer and reader round trip every dtype; hand-made headers of
 * format versions 2.0 and 3.0, Fortran order, big-endian, structured and broken files; and,
 * when the Python fixtures exist, files numpy itself wrote, compared value by value. */
#include <unistd.h>

#include "io_test.h"

static void fill(grt_tensor *t) {
    uint8_t *p = t->data;
    for (size_t i = 0; i < t->nbytes; i++) p[i] = (uint8_t)(i * 31 + 7);
    if (t->dtype == GRT_BOOL)
        for (size_t i = 0; i < t->nbytes; i++) p[i] &= 1;
}

static void test_roundtrip(const char *dir) {
    grt_dtype dts[] = {GRT_F32, GRT_F64, GRT_F16, GRT_I64, GRT_I32, GRT_I16, GRT_I8, GRT_U8, GRT_BOOL};
    int64_t shapes[][3] = {{2, 3, 5}, {7, 0, 0}, {1, 70000, 0}};
    int ndims[] = {3, 1, 2};
    char path[1200];
    snprintf(path, sizeof path, "%s/grt_npy_rt_%ld.npy", dir, (long)getpid());
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        for (int s = 0; s < 3; s++) {
            grt_tensor t = {0}, u = {0};
            CHECK(grt_tensor_alloc(&t, dts[d], ndims[s], shapes[s]) == GRT_OK);
            fill(&t);
            CHECK_MSG(grt_npy_write(path, &t) == GRT_OK, "%s", gaitrt_last_error());
            size_t len;
            uint8_t *raw = tio_read(path, &len);
            CHECK(raw && len >= 128 && !memcmp(raw, "\x93NUMPY\x01\x00", 8));
            if (raw) CHECK((10 + raw[8] + 256 * raw[9]) % 64 == 0); /* data 64-byte aligned */
            free(raw);
            CHECK_MSG(grt_npy_read(path, &u) == GRT_OK, "%s", gaitrt_last_error());
            CHECK(u.dtype == t.dtype && u.ndim == t.ndim && !memcmp(u.shape, t.shape, sizeof(int64_t) * (size_t)t.ndim));
            CHECK(u.nbytes == t.nbytes && !memcmp(u.data, t.data, t.nbytes));
            grt_tensor_release(&t);
            grt_tensor_release(&u);
        }
    }
    /* 0-d */
    grt_tensor t = {0}, u = {0};
    CHECK(grt_tensor_alloc(&t, GRT_F64, 0, NULL) == GRT_OK);
    *(double *)t.data = 3.25;
    CHECK(grt_npy_write(path, &t) == GRT_OK);
    CHECK(grt_npy_read(path, &u) == GRT_OK && u.ndim == 0 && *(double *)u.data == 3.25);
    grt_tensor_release(&u);
    grt_tensor_release(&t);
    /* bfloat16 has no numpy dtype */
    int64_t sh[1] = {4};
    CHECK(grt_tensor_alloc(&t, GRT_BF16, 1, sh) == GRT_OK);
    CHECK_ERR(grt_npy_write(path, &t), GAITRT_ERR_UNSUPPORTED, path);
    grt_tensor_release(&t);
    unlink(path);
    /* A missing file names itself. */
    CHECK_ERR(grt_npy_read("/nonexistent/dir/x.npy", &u), GAITRT_ERR_IO, "/nonexistent/dir/x.npy");
}

/* A .npy built by hand: version, header text, data. */
static void mk(tb *b, int major, const char *header, const void *data, size_t n) {
    tb_raw(b, "\x93NUMPY", 6);
    tb_u8(b, (unsigned)major);
    tb_u8(b, 0);
    if (major == 1)
        tb_u16(b, (unsigned)strlen(header));
    else
        tb_u32(b, (uint32_t)strlen(header));
    tb_s(b, header);
    tb_raw(b, data, n);
}

static void test_handmade(void) {
    const char *N = "hand.npy";
    float f[6] = {0, 1, 2, 3, 4, 5};
    grt_tensor t;
    tb b = {0};
    /* version 2 and 3 headers; Python 2 style 'L' longs */
    mk(&b, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n", f, sizeof f);
    CHECK(grt_npy_read_mem(b.p, b.n, N, &t) == GRT_OK && t.shape[1] == 3 && ((float *)t.data)[5] == 5);
    grt_tensor_release(&t);
    tb_free(&b);
    mk(&b, 3, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (6,)}", f, sizeof f);
    CHECK(grt_npy_read_mem(b.p, b.n, N, &t) == GRT_OK && t.ndim == 1 && t.shape[0] == 6);
    grt_tensor_release(&t);
    tb_free(&b);
    /* Fortran order (2, 3): memory holds column after column */
    mk(&b, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f, sizeof f);
    CHECK(grt_npy_read_mem(b.p, b.n, N, &t) == GRT_OK);
    if (t.data) {
        const float *o = t.data; /* C order: row 0 = f[0], f[2], f[4] */
        CHECK(o[0] == 0 && o[1] == 2 && o[2] == 4 && o[3] == 1 && o[4] == 3 && o[5] == 5);
    }
    grt_tensor_release(&t);
    tb_free(&b);
    struct {
        int major;
        const char *h;
        size_t n;
        gaitrt_status want;
        const char *says;
    } bad[] = {
        {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", 24, GAITRT_ERR_UNSUPPORTED, "big-endian"},
        {1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", 24, GAITRT_ERR_UNSUPPORTED, "structured"},
        {1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24, GAITRT_ERR_UNSUPPORTED, "c8"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }", 24, GAITRT_ERR_FORMAT, "needs"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 24, GAITRT_ERR_FORMAT, "needs"},
        {1, "{'descr': '<f4', 'shape': (6,), }", 24, GAITRT_ERR_FORMAT, "missing"},
        {1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,), }", 24, GAITRT_ERR_FORMAT, "fortran"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }", 24, GAITRT_ERR_UNSUPPORTED, "dimensions"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 24, GAITRT_ERR_FORMAT, "shape"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 24, GAITRT_ERR_LIMIT, "large"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", 24, GAITRT_ERR_FORMAT, "unknown key"},
        {1, "not a dict", 24, GAITRT_ERR_FORMAT, "header"},
        {4, "{}", 0, GAITRT_ERR_UNSUPPORTED, "version"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mk(&b, bad[i].major, bad[i].h, f, bad[i].n);
        CHECK_ERR(grt_npy_read_mem(b.p, b.n, N, &t), bad[i].want, N);
        CHECK_MSG(strstr(gaitrt_last_error(), bad[i].says) != NULL, "case %zu: %s", i, gaitrt_last_error());
        CHECK(t.data == NULL);
        tb_free(&b);
    }
    /* header length past the end, and every truncation of a good file */
    mk(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f, sizeof f);
    for (size_t n = 0; n < b.n; n++) {
        CHECK_ERR(grt_npy_read_mem(b.p, n, N, &t), GAITRT_ERR_FORMAT, N);
    }
    tb_free(&b);
}

static void test_numpy_written(void) {
    const char *dir = tio_fixture_dir_or_null();
    if (!dir) {
        fprintf(stderr, "SKIPPED (part): numpy-written .npy files (no python fixtures)\n");
        return;
    }
    const char *names[] = {"npy_f4", "npy_f8", "npy_f2", "npy_u1", "npy_i1", "npy_i2", "npy_i4", "npy_i8", "npy_b1",
                           "npy_fortran", "npy_fortran_i8", "npy_scalar", "npy_empty", "npy_v2", "npy_v3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char f[256], r[256];
        snprintf(f, sizeof f, "%s.npy", names[i]);
        snprintf(r, sizeof r, "%s.ref", names[i]);
        tref_set ref;
        grt_tensor t;
        CHECK(tref_load(tio_path(dir, r), &ref) && ref.n == 1);
        grt_status st = grt_npy_read(tio_path(dir, f), &t);
        CHECK_MSG(st == GRT_OK, "%s", gaitrt_last_error());
        if (!st && ref.n == 1) CHECK_MSG(tref_match(&t, &ref.r[0], names[i]), "%s", names[i]);
        grt_tensor_release(&t);
        tref_free(&ref);
    }
    grt_tensor t;
    CHECK_ERR(grt_npy_read(tio_path(dir, "npy_bigendian.npy"), &t), GAITRT_ERR_UNSUPPORTED, "npy_bigendian.npy");
    CHECK_ERR(grt_npy_read(tio_path(dir, "npy_structured.npy"), &t), GAITRT_ERR_UNSUPPORTED, "npy_structured.npy");
    printf("numpy-written .npy files: %zu compared\n", sizeof names / sizeof names[0]);
}

int main(void) {
    test_roundtrip(grt_test_env("TMPDIR", "/tmp"));
    test_handmade();
    test_numpy_written();
    return grt_test_finish("test_io_npy");
}
