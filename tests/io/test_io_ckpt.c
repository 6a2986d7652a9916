/* test_io_ckpt.c — checkpoints to state dicts against torch itself: torch.save of an OpenGait
 * checkpoint {'model', 'optimizer' (SGD momentum buffers), 'scheduler' (MultiStepLR with a
 * Counter), 'iteration'} with float32/float16/bfloat16/float64/integer tensors, a transposed
 * tensor and views sharing one storage; {'state_dict': {'module.*'}}; a bare state dict; the
 * same archive deflated; legacy and hostile files; safetensors round trip and a Python-
 * written safetensors file; hand-made safetensors headers that lie. */
#include <unistd.h>

#include "io_test.h"

static void compare_to_ref(const grt_state_dict *sd, const char *ref_path, const char *what) {
    tref_set ref;
    if (!tref_load(ref_path, &ref)) {
        CHECK_MSG(0, "cannot read %s", ref_path);
        return;
    }
    CHECK_MSG(sd->n == ref.n, "%s: %d tensors, reference has %d", what, sd->n, ref.n);
    int matched = 0;
    for (int i = 0; i < ref.n; i++) {
        const grt_tensor *t = grt_state_dict_find(sd, ref.r[i].name);
        CHECK_MSG(t != NULL, "%s: '%s' missing", what, ref.r[i].name);
        if (t) {
            char w[512];
            snprintf(w, sizeof w, "%s['%s']", what, ref.r[i].name);
            int ok = tref_match(t, &ref.r[i], w);
            CHECK_MSG(ok, "%s", w);
            matched += ok;
        }
    }
    /* Order is the file's order (registration order for torch). */
    for (int i = 0; i < ref.n && i < sd->n; i++) CHECK_MSG(!strcmp(sd->t[i].name, ref.r[i].name), "%s: order at %d", what, i);
    printf("%s: %d/%d tensors match torch exactly\n", what, matched, ref.n);
    tref_free(&ref);
}

static grt_state_dict *load_ok(const char *path) {
    grt_state_dict *sd = NULL;
    grt_status st = grt_state_dict_load(path, &sd);
    CHECK_MSG(st == GRT_OK, "%s", gaitrt_last_error());
    return sd;
}

static void test_torch_files(const char *dir) {
    grt_state_dict *sd = load_ok(tio_path(dir, "ckpt_opengait.pt"));
    if (sd) {
        CHECK(!strcmp(sd->format, "torch-zip"));
        CHECK(!strcmp(sd->root_key, "model"));
        compare_to_ref(sd, tio_path(dir, "ckpt_opengait.ref"), "ckpt_opengait.pt");
        const grt_tensor *t = grt_state_dict_find(sd, "Backbone.forward_block.1.num_batches_tracked");
        CHECK(t && t->dtype == GRT_I64 && t->ndim == 0 && *(int64_t *)t->data == 1);
        t = grt_state_dict_find(sd, "extra.half");
        CHECK(t && t->dtype == GRT_F32 && t->src_dtype == GRT_F16);
        t = grt_state_dict_find(sd, "view.c"); /* base[2::10] of 0.5 * arange(100) */
        CHECK(t && t->shape[0] == 10 && ((float *)t->data)[0] == 1.0f && ((float *)t->data)[9] == 46.0f);
        CHECK(grt_state_dict_find(sd, "nope") == NULL);
        /* safetensors round trip: the same tensors, bit for bit */
        char out[1200];
        snprintf(out, sizeof out, "%s/grt_rt_%ld.safetensors", dir, (long)getpid());
        CHECK_MSG(grt_safetensors_write(sd, out) == GRT_OK, "%s", gaitrt_last_error());
        grt_state_dict *sd2 = load_ok(out);
        if (sd2) {
            CHECK(!strcmp(sd2->format, "safetensors") && sd2->n == sd->n);
            for (int i = 0; i < sd->n && i < sd2->n; i++) {
                const grt_tensor *a = &sd->t[i], *b = &sd2->t[i];
                CHECK_MSG(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->ndim == b->ndim &&
                              !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) && a->nbytes == b->nbytes &&
                              !memcmp(a->data, b->data, a->nbytes),
                          "safetensors round trip differs at '%s'", a->name);
            }
            grt_state_dict_free(sd2);
        }
        unlink(out);
        grt_state_dict_free(sd);
    }
    sd = load_ok(tio_path(dir, "ckpt_module.pt"));
    if (sd) {
        CHECK(!strcmp(sd->root_key, "state_dict"));
        compare_to_ref(sd, tio_path(dir, "ckpt_module.ref"), "ckpt_module.pt (module. stripped)");
        grt_state_dict_free(sd);
    }
    sd = load_ok(tio_path(dir, "ckpt_plain.pt"));
    if (sd) {
        CHECK(!strcmp(sd->root_key, ""));
        compare_to_ref(sd, tio_path(dir, "ckpt_plain.ref"), "ckpt_plain.pt");
        grt_state_dict_free(sd);
    }
    sd = load_ok(tio_path(dir, "ckpt_deflate.pt"));
    if (sd) {
        compare_to_ref(sd, tio_path(dir, "ckpt_plain.ref"), "ckpt_deflate.pt");
        grt_state_dict_free(sd);
    }
    sd = load_ok(tio_path(dir, "st_python.safetensors"));
    if (sd) {
        compare_to_ref(sd, tio_path(dir, "st_python.ref"), "st_python.safetensors");
        grt_state_dict_free(sd);
    }
    const char *p = tio_path(dir, "ckpt_legacy.pt");
    CHECK_ERR(grt_state_dict_load(p, &sd), GAITRT_ERR_UNSUPPORTED, p);
    CHECK(strstr(gaitrt_last_error(), "torch.save(torch.load(") && strstr(gaitrt_last_error(), "HINT"));
    CHECK(sd == NULL);
    p = tio_path(dir, "ckpt_notensors.pt");
    CHECK_ERR(grt_state_dict_load(p, &sd), GAITRT_ERR_FORMAT, p);
    CHECK(strstr(gaitrt_last_error(), "'epoch'") != NULL);
    /* torch.save(model): a pickled nn.Module, not a state dict; we say so. */
    p = tio_path(dir, "ckpt_module_object.pt");
    CHECK_ERR(grt_state_dict_load(p, &sd), GAITRT_ERR_FORMAT, p);
    CHECK(strstr(gaitrt_last_error(), "torch.nn.modules.linear.Linear") && strstr(gaitrt_last_error(), "state_dict()"));
    p = tio_path(dir, "evil_ckpt.pt");
    CHECK_ERR(grt_state_dict_load(p, &sd), GAITRT_ERR_REFUSED, p);
    CHECK(strstr(gaitrt_last_error(), "posix.system") != NULL);
    CHECK(!tio_exists(tio_path(dir, "evil_ran_ckpt")));
    /* A dataset .pkl is not a checkpoint. */
    p = tio_path(dir, "np_f4_p2.pkl");
    CHECK_ERR(grt_state_dict_load(p, &sd), GAITRT_ERR_FORMAT, p);
}

/* A safetensors file from a header string and data bytes. */
static void st_mk(tb *b, const char *json, size_t data_len) {
    tb_u64(b, strlen(json));
    tb_s(b, json);
    for (size_t i = 0; i < data_len; i++) tb_u8(b, (unsigned)i);
}

static void test_safetensors_handmade(void) {
    const char *N = "hand.safetensors";
    grt_state_dict *sd;
    tb b = {0};
    st_mk(&b, "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[4,5]}}", 5);
    CHECK_MSG(grt_state_dict_load_mem(b.p, b.n, N, &sd) == GRT_OK, "%s", gaitrt_last_error());
    if (sd) {
        CHECK(sd->n == 2 && sd->t[0].dtype == GRT_F32 && sd->t[0].src_dtype == GRT_F16 && sd->t[1].ndim == 0);
        CHECK(((float *)sd->t[0].data)[0] == grt_f16_to_f32(0x0100));
        CHECK(*(uint8_t *)sd->t[1].data == 4);
        grt_state_dict_free(sd);
    }
    tb_free(&b);
    struct {
        const char *json;
        size_t data;
        gaitrt_status want;
        const char *says;
    } bad[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, GAITRT_ERR_FORMAT, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, GAITRT_ERR_FORMAT, "does not match"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, GAITRT_ERR_FORMAT, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, GAITRT_ERR_FORMAT, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, GAITRT_ERR_FORMAT, "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8, GAITRT_ERR_FORMAT, "does not match"},
        {"{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, GAITRT_ERR_UNSUPPORTED, "C64"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, GAITRT_ERR_FORMAT, "lacks"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, GAITRT_ERR_FORMAT, "twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, GAITRT_ERR_FORMAT, "JSON"},
        {"{\"a\\u0000\":{}}", 4, GAITRT_ERR_FORMAT, "NUL"},
        {"[1,2]", 0, GAITRT_ERR_FORMAT, "unknown checkpoint format"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_mk(&b, bad[i].json, bad[i].data);
        CHECK_ERR(grt_state_dict_load_mem(b.p, b.n, N, &sd), bad[i].want, N);
        CHECK_MSG(strstr(gaitrt_last_error(), bad[i].says) != NULL, "case %zu: %s", i, gaitrt_last_error());
        tb_free(&b);
    }
    /* Deep nesting in the header stops at the depth limit, not on the C stack. */
    tb_u64(&b, 200000);
    for (int i = 0; i < 100000; i++) tb_u8(&b, i == 0 ? '{' : '[');
    for (int i = 0; i < 100000; i++) tb_u8(&b, ']');
    b.p[8] = '{';
    CHECK(grt_state_dict_load_mem(b.p, b.n, N, &sd) != GRT_OK);
    tb_free(&b);
    /* {"a":[[[[...]]]]} */
    tb c = {0};
    tb_s(&c, "{\"a\":");
    for (int i = 0; i < 5000; i++) tb_u8(&c, '[');
    for (int i = 0; i < 5000; i++) tb_u8(&c, ']');
    tb_u8(&c, '}');
    tb_u64(&b, c.n);
    tb_raw(&b, c.p, c.n);
    CHECK_ERR(grt_state_dict_load_mem(b.p, b.n, N, &sd), GAITRT_ERR_LIMIT, N);
    tb_free(&b);
    tb_free(&c);
    /* Header length beyond the file (declared 1 TiB; detection sends it to the torch-or-
     * unknown branch), and beyond the 100 MB limit with a real '{'. */
    tb_u64(&b, (uint64_t)1 << 40);
    tb_s(&b, "{\"a\":1}");
    CHECK_ERR(grt_state_dict_load_mem(b.p, b.n, N, &sd), GAITRT_ERR_FORMAT, N);
    tb_free(&b);
    /* Detection: garbage, a short file, a plain pickle. */
    CHECK_ERR(grt_state_dict_load_mem((const uint8_t *)"garbage garbage garbage", 23, N, &sd), GAITRT_ERR_FORMAT, N);
    CHECK_ERR(grt_state_dict_load_mem((const uint8_t *)"PK", 2, N, &sd), GAITRT_ERR_FORMAT, N);
    CHECK_ERR(grt_state_dict_load_mem((const uint8_t *)"\x80\x02K\x01.\x00\x00\x00\x00", 9, N, &sd), GAITRT_ERR_FORMAT, N);
    CHECK_ERR(grt_state_dict_load("/nonexistent/ckpt.pt", &sd), GAITRT_ERR_IO, "/nonexistent/ckpt.pt");
}

int main(void) {
    test_safetensors_handmade();
    const char *dir = tio_fixture_dir_or_finish("test_io_ckpt");
    test_torch_files(dir);
    return grt_test_finish("test_io_ckpt");
}
