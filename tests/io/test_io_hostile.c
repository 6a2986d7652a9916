/* test_io_hostile.c — every reader of src/io/ against broken and hostile files: truncation
 * at every 1/16th, random bit flips (with valid CRCs, so the pickle inside a checkpoint is
 * what gets fuzzed), each file fed to every reader, tensors whose strides reach outside
 * their storage, expand bombs, zip bombs, deep nesting, and allocation failures at every
 * point. Under ASan/UBSan nothing may crash or leak, and every error must name the file. */
#include <unistd.h>

#include "io_test.h"
#include "io/zip.h"

typedef enum { R_CKPT, R_PKL, R_NPY, R_COUNT } reader;

static grt_status run_reader(reader r, const uint8_t *p, size_t n, const char *name) {
    switch (r) {
    case R_CKPT: {
        grt_state_dict *sd = NULL;
        grt_status st = grt_state_dict_load_mem(p, n, name, &sd);
        if (!st) CHECK(sd && sd->n > 0);
        grt_state_dict_free(sd);
        return st;
    }
    case R_PKL:
    case R_NPY: {
        grt_tensor t;
        grt_status st = r == R_PKL ? grt_pkl_array_read_mem(p, n, name, &t) : grt_npy_read_mem(p, n, name, &t);
        if (!st) CHECK(t.data != NULL);
        if (st) CHECK(t.data == NULL);
        grt_tensor_release(&t);
        return st;
    }
    default: return GRT_OK;
    }
}

typedef struct input {
    const char *name;
    reader r;
    uint8_t *p;
    size_t n;
} input;

static void test_truncation(const input *in) {
    for (int k = 0; k < 16; k++) {
        size_t n = in->n * (size_t)k / 16;
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, in->p, n);
        grt_status st = run_reader(in->r, cut, n, in->name);
        CHECK_MSG(st != GRT_OK, "%s cut to %zu/%zu bytes loaded anyway", in->name, n, in->n);
        CHECK_MSG(strstr(gaitrt_last_error(), in->name) != NULL, "%s", gaitrt_last_error());
        free(cut);
    }
}

static void test_flips(const input *in, int iters, uint64_t seed) {
    grt_rng rng = {seed};
    uint8_t *m = malloc(in->n);
    int failed = 0;
    for (int it = 0; it < iters; it++) {
        memcpy(m, in->p, in->n);
        int flips = 1 + (int)(grt_rng_next(&rng) % 4);
        for (int f = 0; f < flips; f++) m[grt_rng_next(&rng) % in->n] ^= (uint8_t)(1u << (grt_rng_next(&rng) % 8));
        if (run_reader(in->r, m, in->n, in->name) != GRT_OK) {
            failed++;
            CHECK_MSG(strstr(gaitrt_last_error(), in->name) != NULL, "%s", gaitrt_last_error());
        }
    }
    free(m);
    printf("%s: %d bit-flip variants, %d refused, none crashed\n", in->name, iters, failed);
}

/* Every reader on every input: a mismatch is an error naming the file, never a crash. */
static void test_confusion(const input *in, int n) {
    for (int i = 0; i < n; i++)
        for (int r = 0; r < R_COUNT; r++) {
            if ((reader)r == in[i].r) continue;
            grt_status st = run_reader((reader)r, in[i].p, in[i].n, in[i].name);
            if (st) CHECK_MSG(strstr(gaitrt_last_error(), in[i].name) != NULL, "%s", gaitrt_last_error());
        }
}

/* The checkpoint's data.pkl mutated and re-zipped with correct CRCs, so the flips reach the
 * pickle reader and the tensor checks instead of stopping at the CRC. */
static void test_pickle_in_zip_flips(const input *in, int iters) {
    grt_zip z;
    if (grt_zip_open(&z, in->p, in->n, in->name) != GRT_OK) return;
    int n = z.n;
    tzip_entry *e = calloc((size_t)n, sizeof *e);
    char (*names)[256] = calloc((size_t)n, sizeof *names);
    uint8_t **owned = calloc((size_t)n, sizeof *owned);
    int pkl = -1;
    for (int i = 0; i < n; i++) {
        const uint8_t *p;
        size_t len;
        grt_zip_read(&z, i, &p, &len, &owned[i]);
        snprintf(names[i], sizeof names[i], "%.*s", (int)z.e[i].name_len, z.e[i].name);
        e[i] = (tzip_entry){names[i], p, len, 0, -1};
        if (strstr(names[i], "data.pkl")) pkl = i;
    }
    if (pkl >= 0) {
        grt_rng rng = {99};
        size_t plen = e[pkl].len;
        uint8_t *orig = malloc(plen), *m = malloc(plen);
        memcpy(orig, e[pkl].data, plen);
        int failed = 0;
        for (int it = 0; it < iters; it++) {
            memcpy(m, orig, plen);
            int flips = 1 + (int)(grt_rng_next(&rng) % 3);
            for (int f = 0; f < flips; f++) m[grt_rng_next(&rng) % plen] ^= (uint8_t)(1u << (grt_rng_next(&rng) % 8));
            e[pkl].data = m;
            tb b = {0};
            tzip_build(&b, e, n, 1);
            if (run_reader(R_CKPT, b.p, b.n, in->name) != GRT_OK) {
                failed++;
                CHECK_MSG(strstr(gaitrt_last_error(), in->name) != NULL, "%s", gaitrt_last_error());
            }
            tb_free(&b);
        }
        printf("%s: %d data.pkl bit-flip variants (valid CRC), %d refused, none crashed\n", in->name, iters, failed);
        free(orig);
        free(m);
    }
    for (int i = 0; i < n; i++) grt_free(owned[i]);
    free(e);
    free(names);
    free(owned);
    grt_zip_close(&z);
}

/* ---- hand-made torch checkpoints ------------------------------------------------------------ */

static const char *CK = "hand.pt";

/* {'model': {'w': tensor}} with one storage "0" of `numel` floats (the entry holds
 * entry_floats of them) and the given view. */
static void ckpt_one(tb *out, const char *cls, int64_t numel, size_t entry_floats, int64_t off, int nd,
                     const int64_t *size, const int64_t *stride) {
    tb pk = {0};
    TB_LIT(&pk, "\x80\x02}(");
    pk_ustr(&pk, "model");
    TB_LIT(&pk, "}(");
    pk_ustr(&pk, "w");
    pk_tensor(&pk, cls, "0", numel, off, nd, size, stride);
    TB_LIT(&pk, "uu.");
    float *data = calloc(entry_floats ? entry_floats : 1, sizeof(float));
    for (size_t i = 0; i < entry_floats; i++) data[i] = (float)i;
    const char *keys[] = {"0"};
    const uint8_t *datas[] = {(const uint8_t *)data};
    size_t lens[] = {entry_floats * sizeof(float)};
    tzip_torch(out, &pk, 1, keys, datas, lens);
    free(data);
    tb_free(&pk);
}

static grt_status load_ckpt(const tb *b, grt_state_dict **sd) { return grt_state_dict_load_mem(b->p, b->n, CK, sd); }

static void test_handmade_checkpoints(void) {
    grt_state_dict *sd;
    tb b = {0};
    /* A good one: a transposed view at offset 2 of a 12-element storage: w[i][j] = 2 + i + 3j. */
    int64_t sz[2] = {3, 2}, st[2] = {1, 3};
    ckpt_one(&b, "FloatStorage", 12, 12, 2, 2, sz, st);
    CHECK_MSG(load_ckpt(&b, &sd) == GRT_OK, "%s", gaitrt_last_error());
    if (sd) {
        const float *w = sd->t[0].data;
        CHECK(sd->n == 1 && !strcmp(sd->t[0].name, "w") && !strcmp(sd->root_key, "model"));
        CHECK(w[0] == 2 && w[1] == 5 && w[2] == 3 && w[3] == 6 && w[4] == 4 && w[5] == 7);
        grt_state_dict_free(sd);
    }
    tb_free(&b);
    struct {
        int64_t numel;
        size_t entry;
        int64_t off;
        int nd;
        int64_t size[3], stride[3];
        gaitrt_status want;
        const char *says;
    } bad[] = {
        {4, 4, 0, 2, {3, 3}, {3, 1}, GAITRT_ERR_FORMAT, "outside"},             /* extent 9 > 4 */
        {12, 12, 0, 2, {3, 3}, {4, 5}, GAITRT_ERR_FORMAT, "outside"},           /* stride past the end */
        {12, 12, 11, 1, {2}, {1}, GAITRT_ERR_FORMAT, "outside"},                /* offset + extent */
        {12, 12, 13, 1, {0}, {1}, GAITRT_ERR_FORMAT, "outside"},                /* empty, offset past the end */
        {12, 12, 0, 1, {2}, {-1}, GAITRT_ERR_FORMAT, "negative stride"},
        {12, 12, -1, 1, {2}, {1}, GAITRT_ERR_FORMAT, "negative"},
        {12, 12, 0, 1, {-2}, {1}, GAITRT_ERR_FORMAT, "negative size"},
        {12, 12, 0, 2, {2, 2}, {INT64_MAX / 2 + 1, 1}, GAITRT_ERR_FORMAT, "outside"}, /* overflow */
        {100, 12, 0, 1, {12}, {1}, GAITRT_ERR_FORMAT, "declares"},              /* storage larger than its entry */
        {1, 1, 0, 3, {100000, 100000, 1000}, {0, 0, 0}, GAITRT_ERR_LIMIT, "would take"}, /* expand bomb */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ckpt_one(&b, "FloatStorage", bad[i].numel, bad[i].entry, bad[i].off, bad[i].nd, bad[i].size, bad[i].stride);
        CHECK_ERR(load_ckpt(&b, &sd), bad[i].want, CK);
        CHECK_MSG(strstr(gaitrt_last_error(), bad[i].says) != NULL, "case %zu: %s", i, gaitrt_last_error());
        tb_free(&b);
    }
    int64_t one[1] = {1}, unit[1] = {1};
    ckpt_one(&b, "ComplexFloatStorage", 1, 2, 0, 1, one, unit);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_UNSUPPORTED, CK);
    tb_free(&b);

    /* A bad tensor where nobody looks (the optimizer) still fails: we check every view. */
    tb pk = {0};
    TB_LIT(&pk, "\x80\x02}(");
    pk_ustr(&pk, "model");
    TB_LIT(&pk, "}(");
    pk_ustr(&pk, "w");
    pk_tensor(&pk, "FloatStorage", "0", 4, 0, 1, (int64_t[]){4}, unit);
    tb_u8(&pk, 'u');
    pk_ustr(&pk, "optimizer");
    pk_tensor(&pk, "FloatStorage", "0", 4, 0, 1, (int64_t[]){40}, unit);
    TB_LIT(&pk, "u.");
    float four[4] = {1, 2, 3, 4};
    const char *keys[] = {"0", "../../etc/passwd"};
    const uint8_t *datas[] = {(const uint8_t *)four, (const uint8_t *)four};
    size_t lens[] = {16, 16};
    tzip_torch(&b, &pk, 1, keys, datas, lens);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_FORMAT, CK);
    tb_free(&b);
    tb_free(&pk);
    /* A storage key with no entry, and one that tries a path. */
    TB_LIT(&pk, "\x80\x02}(");
    pk_ustr(&pk, "w");
    pk_tensor(&pk, "FloatStorage", "../../etc/passwd", 4, 0, 1, (int64_t[]){4}, unit);
    TB_LIT(&pk, "u.");
    tzip_torch(&b, &pk, 1, keys, datas, lens);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_FORMAT, CK);
    CHECK(strstr(gaitrt_last_error(), "no entry") != NULL);
    tb_free(&b);
    tb_free(&pk);
    /* Deep nesting inside data.pkl. */
    TB_LIT(&pk, "\x80\x02");
    for (int i = 0; i < 3000; i++) tb_u8(&pk, '(');
    tb_u8(&pk, '.');
    tzip_torch(&b, &pk, 0, NULL, NULL, NULL);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_LIMIT, CK);
    tb_free(&b);
    tb_free(&pk);
    /* A zip bomb as a storage: deflated, declaring 64 GiB. */
    TB_LIT(&pk, "\x80\x02}(");
    pk_ustr(&pk, "w");
    pk_tensor(&pk, "FloatStorage", "0", 4, 0, 1, (int64_t[]){4}, unit);
    TB_LIT(&pk, "u.");
    uint8_t *zeros = calloc(1, 1 << 20);
    tzip_entry ze[] = {{"archive/data.pkl", pk.p, pk.n, 0, -1}, {"archive/data/0", zeros, 1 << 20, 1, (int64_t)1 << 36}};
    tzip_build(&b, ze, 2, 1);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_LIMIT, CK);
    tb_free(&b);
    /* The same storage deflated honestly loads. */
    ze[1] = (tzip_entry){"archive/data/0", (const uint8_t *)four, 16, 1, -1};
    tzip_build(&b, ze, 2, 0);
    CHECK_MSG(load_ckpt(&b, &sd) == GRT_OK, "%s", gaitrt_last_error());
    if (sd) CHECK(((float *)sd->t[0].data)[3] == 4);
    grt_state_dict_free(sd);
    tb_free(&b);
    tb_free(&pk);
    free(zeros);
    /* A checkpoint from a big-endian machine (torch >= 2.1 records the byte order). */
    tb_raw(&pk, "\x80\x02}.", 4);
    tzip_entry be[] = {{"archive/data.pkl", pk.p, pk.n, 0, -1}, {"archive/byteorder", (const uint8_t *)"big", 3, 0, -1}};
    tzip_build(&b, be, 2, 1);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_UNSUPPORTED, CK);
    CHECK(strstr(gaitrt_last_error(), "big-endian") != NULL);
    tb_free(&b);
    tb_free(&pk);
    /* Two data.pkl, and none. */
    tzip_entry two[] = {{"a/data.pkl", (const uint8_t *)"\x80\x02}.", 4, 0, -1}, {"b/data.pkl", (const uint8_t *)"\x80\x02}.", 4, 0, -1}};
    tzip_build(&b, two, 2, 0);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_FORMAT, CK);
    tb_free(&b);
    tzip_build(&b, two, 0, 0);
    CHECK_ERR(load_ckpt(&b, &sd), GAITRT_ERR_FORMAT, CK);
    tb_free(&b);
}

/* ---- allocation failures ------------------------------------------------------------------------ */

static void test_alloc_failures(const input *in) {
    tfail f = {0, -1};
    gaitrt_allocator a = {tfail_malloc, tfail_realloc, tfail_free, &f};
    int ok_at = -1;
    for (long n = 0; n < 20000 && ok_at < 0; n++) {
        f.count = 0;
        f.fail_at = n;
        gaitrt_set_allocator(&a);
        grt_status st = run_reader(in->r, in->p, in->n, in->name);
        gaitrt_set_allocator(NULL);
        if (st == GRT_OK) {
            ok_at = (int)n;
        } else {
            CHECK_MSG(st == GAITRT_ERR_NOMEM, "%s, allocation %ld failing: %s (%s)", in->name, n, gaitrt_status_str(st), gaitrt_last_error());
            CHECK_MSG(strstr(gaitrt_last_error(), in->name) != NULL, "%s", gaitrt_last_error());
        }
    }
    CHECK_MSG(ok_at >= 0, "%s never loaded with failing allocations", in->name);
    printf("%s: allocation failure at each of the first %d allocations handled\n", in->name, ok_at);
}

static void add_file(input *in, int *n, const char *path, const char *name, reader r) {
    size_t len;
    uint8_t *p = tio_read(path, &len);
    if (!p) {
        fprintf(stderr, "SKIPPED (part): %s not found\n", path);
        return;
    }
    in[*n] = (input){name, r, p, len};
    (*n)++;
}

int main(void) {
    test_handmade_checkpoints();
    input in[32];
    int n = 0;
    /* Always available: a hand-made checkpoint, .npy and .pkl written by us. */
    tb b = {0};
    int64_t sz[2] = {3, 4}, st[2] = {4, 1};
    ckpt_one(&b, "FloatStorage", 12, 12, 0, 2, sz, st);
    in[n++] = (input){"made.pt", R_CKPT, b.p, b.n};
    {
        char path[1200];
        snprintf(path, sizeof path, "%s/grt_hostile_%ld", grt_test_env("TMPDIR", "/tmp"), (long)getpid());
        grt_tensor t = {0};
        int64_t shape[3] = {3, 8, 8};
        grt_tensor_alloc(&t, GRT_U8, 3, shape);
        for (size_t i = 0; i < t.nbytes; i++) ((uint8_t *)t.data)[i] = (uint8_t)(i * 7);
        grt_npy_write(path, &t);
        add_file(in, &n, path, "made.npy", R_NPY);
        grt_pkl_array_write(path, &t);
        add_file(in, &n, path, "made.pkl", R_PKL);
        unlink(path);
        grt_tensor_release(&t);
    }
    const char *shared = grt_test_env("GRT_SHARED_DATA", NULL);
    if (shared) {
        char p[1200];
        snprintf(p, sizeof p, "%s/opengait-pkl/Image02_videos_001_nm-01_000_000.pkl", shared);
        add_file(in, &n, p, "Image02.pkl", R_PKL);
        snprintf(p, sizeof p, "%s/opengait-pkl/Image04_videos_0.pkl", shared);
        add_file(in, &n, p, "Image04.pkl", R_PKL);
    }
    const char *fx = tio_fixture_dir_or_null();
    if (fx) {
        add_file(in, &n, tio_path(fx, "ckpt_opengait.pt"), "ckpt_opengait.pt", R_CKPT);
        add_file(in, &n, tio_path(fx, "ckpt_deflate.pt"), "ckpt_deflate.pt", R_CKPT);
        add_file(in, &n, tio_path(fx, "st_python.safetensors"), "st_python.safetensors", R_CKPT);
        add_file(in, &n, tio_path(fx, "tp_view.pkl"), "tp_view.pkl", R_PKL);
        add_file(in, &n, tio_path(fx, "np_f4_p0.pkl"), "np_f4_p0.pkl", R_PKL);
        add_file(in, &n, tio_path(fx, "np_fortran_p5.pkl"), "np_fortran_p5.pkl", R_PKL);
        add_file(in, &n, tio_path(fx, "npy_fortran.npy"), "npy_fortran.npy", R_NPY);
    } else {
        fprintf(stderr, "SKIPPED (part): python fixtures missing; fuzzing only built-in and real files\n");
    }
    for (int i = 0; i < n; i++) {
        CHECK_MSG(run_reader(in[i].r, in[i].p, in[i].n, in[i].name) == GRT_OK, "%s: %s", in[i].name, gaitrt_last_error());
        test_truncation(&in[i]);
        test_flips(&in[i], in[i].n > 50000 ? 300 : 1500, 1000 + (uint64_t)i);
        if (in[i].r == R_CKPT) test_pickle_in_zip_flips(&in[i], 1500);
        test_alloc_failures(&in[i]);
    }
    test_confusion(in, n);
    for (int i = 0; i < n; i++) free(in[i].p);
    return grt_test_finish("test_io_hostile");
}
