/*
 * fuzz_pickle.c — fuzz target for the pickle machine (src/io/pickle.c) and its allow-list
 * (src/io/pickle_calls.c): grt_pk_load on any bytes, as a checkpoint's data.pkl would be run,
 * legacy torch blobs allowed.
 *
 * Persistent ids are answered as a torch zip would answer them, but from a block of zeros
 * instead of archive entries, so that tensors built from them can be materialised too. The
 * value tree that comes back is then walked (iteratively and bounded: values may share
 * children or form cycles) and every tensor and numpy array in it is materialised. The zip
 * and state-dict layers around the pickle have their own target (fuzz_ckpt.c).
 */
#include "fuzz_util.h"
#include "io/io_internal.h"
#include "io/pickle.h"

#define NAME "fuzz.pkl"

/* Storage bytes for persistent ids: zeros, enough for 4096 float64. */
static const uint8_t zeros[4096 * 8];

static grt_status persid(grt_pk_vm *vm, void *user, grt_pv *pid, grt_pv **out) {
    (void)user;
    if (pid->kind != GRT_PV_TUPLE || pid->u.seq.n < 5 || !grt_pv_is_str(pid->u.seq.v[0], "storage"))
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "persistent id that is not a torch storage");
    grt_pv *cls = pid->u.seq.v[1], *key = pid->u.seq.v[2];
    int64_t numel;
    int dt = cls->kind == GRT_PV_GLOBAL ? grt_pk_storage_dtype(cls->u.g.name) : -1;
    if (dt < 0 || key->kind != GRT_PV_STR || !grt_pv_as_int(pid->u.seq.v[4], &numel) || numel < 0 ||
        (uint64_t)numel * grt_dtype_size((grt_dtype)dt) > sizeof zeros)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "storage id the fuzz target does not serve");
    grt_pk_storage *s = grt_pk_alloc(grt_pk_vm_arena(vm), sizeof *s);
    grt_pv *v = grt_pk_new(vm, GRT_PV_STORAGE);
    if (!s || !v) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
    memset(s, 0, sizeof *s);
    s->dtype = (grt_dtype)dt;
    s->numel = numel;
    s->key = grt_pk_strndup(vm, key->u.s.p, key->u.s.n);
    s->data = zeros;
    if (!s->key) return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
    v->u.storage = s;
    *out = v;
    return GRT_OK;
}

/* Checks a materialised tensor and frees it; materialising may refuse, naming the file. */
static void take(grt_status st, grt_tensor *t) {
    if (st) {
        fuzz_check_error(st, NAME);
        if (t->data) fuzz_fail("failed materialise left data behind", NAME);
        return;
    }
    fuzz_check_tensor(t);
    grt_tensor_release(t);
}

#define MAX_VISITS 4096
#define MAX_STACK 256

static void walk(grt_pv *root) {
    grt_pv *stack[MAX_STACK];
    int sp = 0, visits = 0, tensors = 0;
    stack[sp++] = root;
    while (sp && visits++ < MAX_VISITS) {
        grt_pv *v = stack[--sp];
        if (!v) fuzz_fail("NULL value in the tree", NAME);
        grt_tensor t;
        switch (v->kind) {
        case GRT_PV_LIST: case GRT_PV_TUPLE: case GRT_PV_SET:
            for (size_t i = 0; i < v->u.seq.n && sp < MAX_STACK; i++) stack[sp++] = v->u.seq.v[i];
            break;
        case GRT_PV_DICT:
            for (size_t i = 0; i < v->u.dict.n && sp + 1 < MAX_STACK; i++) {
                stack[sp++] = v->u.dict.k[i];
                stack[sp++] = v->u.dict.v[i];
            }
            grt_pv_dict_get(v, "model");
            break;
        case GRT_PV_OBJECT:
            if (v->u.obj.args && sp < MAX_STACK) stack[sp++] = v->u.obj.args;
            if (v->u.obj.state && sp < MAX_STACK) stack[sp++] = v->u.obj.state;
            if (v->u.obj.items && sp < MAX_STACK) stack[sp++] = v->u.obj.items;
            break;
        case GRT_PV_STR: case GRT_PV_BYTES: case GRT_PV_BIGINT:
            fuzz_touch(v->u.s.p, v->u.s.n);
            break;
        case GRT_PV_TENSOR:
            /* The budget a real loader applies (fuzz_ckpt.c checks it) is not here, so we
             * materialise only tensors of modest size. */
            if (tensors++ < 16) {
                size_t numel;
                if (grt_io_shape_numel(v->u.tensor->ndim, v->u.tensor->shape, &numel) && numel <= (1u << 20))
                    take(grt_pk_tensor_materialize(NAME, "'t'", v->u.tensor, 1, &t), &t);
            }
            break;
        case GRT_PV_NDARRAY:
            if (v->u.nd->built == 1 && tensors++ < 16) take(grt_pk_ndarray_materialize(NAME, v->u.nd, &t), &t);
            break;
        default:
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    grt_pk_arena a;
    grt_pk_arena_init(&a, grt_pk_default_alloc_limit(size));
    grt_pk_opts o = grt_pk_default_opts(NAME);
    o.persistent_load = persid;
    o.allow_legacy_bytes = 1;
    grt_pv *root = NULL;
    size_t used = 0;
    grt_status st = grt_pk_load(&a, data, size, &o, &root, &used);
    if (st) {
        fuzz_check_error(st, NAME);
    } else {
        if (!root) fuzz_fail("load succeeded without a value", NAME);
        if (used == 0 || used > size) fuzz_fail("bad end offset", NAME);
        walk(root);
    }
    grt_pk_arena_free(&a);
    return 0;
}
