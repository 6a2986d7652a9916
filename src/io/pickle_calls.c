/*
 * pickle_calls.c — the allow-list of the pickle reader: the few callables that torch, numpy
 * and Python write into the files we read, each modelled as a function that builds a value
 * from the call's arguments. Anything else a pickle tries to call is refused with
 * GAITRT_ERR_REFUSED, naming the callable and the file.
 *
 * What it deliberately is not: a way to run code. No entry here looks anything up, imports a
 * module or calls back into a file's content; names are compared as strings and nothing
 * else. It also holds the torch-specific pieces that come with those calls: tensor bounds
 * checks, the legacy `torch.storage._load_from_bytes` blob, and gathering a strided tensor.
 */
#include <stdio.h>

#include "io/io_internal.h"
#include "io/pickle.h"

/* ---- the allow-list ------------------------------------------------------------------------ */

typedef enum pk_fn {
    PK_REFUSE = 0,
    PK_REBUILD_TENSOR,      /* torch._utils._rebuild_tensor(_v2) */
    PK_REBUILD_PARAMETER,   /* torch._utils._rebuild_parameter(_with_state): the data tensor */
    PK_REBUILD_FROM_TYPE,   /* torch._tensor._rebuild_from_type_v2(func, type, args, state) */
    PK_LOAD_FROM_BYTES,     /* torch.storage._load_from_bytes(b): a legacy torch blob */
    PK_ORDERED_DICT,
    PK_NP_RECONSTRUCT,
    PK_NP_DTYPE,
    PK_NP_SCALAR,
    PK_NP_FROMBUFFER,
    PK_CODECS_ENCODE,       /* how protocol <= 2 writes bytes under Python 3 */
    PK_BYTES,
    PK_SET,
    PK_TUPLE,               /* torch.Size(tuple) */
    PK_OPAQUE,              /* harmless data we keep as an object without interpreting it */
} pk_fn;

static const struct {
    const char *module, *name;
    pk_fn fn;
} pk_allow[] = {
    {"torch._utils", "_rebuild_tensor_v2", PK_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_tensor", PK_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", PK_REBUILD_PARAMETER},
    {"torch._utils", "_rebuild_parameter_with_state", PK_REBUILD_PARAMETER},
    {"torch._tensor", "_rebuild_from_type_v2", PK_REBUILD_FROM_TYPE},
    {"torch.storage", "_load_from_bytes", PK_LOAD_FROM_BYTES},
    {"collections", "OrderedDict", PK_ORDERED_DICT},
    {"numpy.core.multiarray", "_reconstruct", PK_NP_RECONSTRUCT},
    {"numpy._core.multiarray", "_reconstruct", PK_NP_RECONSTRUCT},
    {"numpy", "dtype", PK_NP_DTYPE},
    {"numpy.core.multiarray", "scalar", PK_NP_SCALAR},
    {"numpy._core.multiarray", "scalar", PK_NP_SCALAR},
    {"numpy.core.numeric", "_frombuffer", PK_NP_FROMBUFFER},
    {"numpy._core.numeric", "_frombuffer", PK_NP_FROMBUFFER},
    {"_codecs", "encode", PK_CODECS_ENCODE},
    {"builtins", "bytes", PK_BYTES},
    {"builtins", "bytearray", PK_BYTES},
    {"builtins", "set", PK_SET},
    {"builtins", "frozenset", PK_SET},
    {"torch", "Size", PK_TUPLE},
    {"collections", "Counter", PK_OPAQUE},
    {"collections", "defaultdict", PK_OPAQUE},
    {"collections", "deque", PK_OPAQUE},
    {"builtins", "slice", PK_OPAQUE},
    {"builtins", "complex", PK_OPAQUE},
    {"builtins", "range", PK_OPAQUE},
    {"torch", "device", PK_OPAQUE},
    {"torch.torch_version", "TorchVersion", PK_OPAQUE},
    {"argparse", "Namespace", PK_OPAQUE},
    {"datetime", "datetime", PK_OPAQUE},
    {"datetime", "date", PK_OPAQUE},
    {"datetime", "timedelta", PK_OPAQUE},
    {"pathlib", "PosixPath", PK_OPAQUE},
    {"pathlib", "WindowsPath", PK_OPAQUE},
    {"pathlib", "PurePosixPath", PK_OPAQUE},
};

/* Modules whose classes exist to run code; NEWOBJ on them is refused too (REDUCE on any
 * name outside the allow-list is refused anyway). */
static const char *const pk_code_modules[] = {
    "os", "posix", "nt", "subprocess", "sys", "builtins", "shutil", "socket", "importlib", "runpy", "ctypes",
    "pty", "code", "codeop", "pickle", "_pickle", "marshal", "webbrowser", "multiprocessing", "commands",
    "platform", "signal", "threading", "asyncio", "pdb", "timeit", "operator", "functools", "types",
};

/* Python 2 names that pickle's fix_imports maps to their Python 3 modules (protocol <= 2
 * pickles written by Python 3 use them too: subprocess is written as "commands"). */
static const char *pk_norm_module(const char *m) {
    static const char *const map[][2] = {
        {"__builtin__", "builtins"}, {"copy_reg", "copyreg"}, {"commands", "subprocess"},
        {"cPickle", "pickle"},       {"exceptions", "builtins"}, {"UserDict", "collections"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(m, map[i][0])) return map[i][1];
    return m;
}

static pk_fn pk_lookup(const grt_pv *g) {
    const char *m = pk_norm_module(g->u.g.module);
    for (size_t i = 0; i < sizeof pk_allow / sizeof pk_allow[0]; i++)
        if (!strcmp(m, pk_allow[i].module) && !strcmp(g->u.g.name, pk_allow[i].name)) return pk_allow[i].fn;
    if (!strcmp(m, "torch") && grt_pk_storage_dtype(g->u.g.name) >= 0) return PK_OPAQUE;
    return PK_REFUSE;
}

static int pk_is_code_module(const char *module) {
    const char *m = pk_norm_module(module);
    for (size_t i = 0; i < sizeof pk_code_modules / sizeof pk_code_modules[0]; i++) {
        size_t n = strlen(pk_code_modules[i]);
        if (!strncmp(m, pk_code_modules[i], n) && (m[n] == 0 || m[n] == '.')) return 1;
    }
    return 0;
}

static grt_status pk_oom(grt_pk_vm *vm) {
    if (grt_pk_vm_arena(vm)->hit_limit)
        return grt_pk_fail(vm, GAITRT_ERR_LIMIT, "the pickle needs more than %zu bytes of values; refusing ---> HINT: the file is corrupt or hostile", grt_pk_vm_arena(vm)->limit);
    return grt_pk_fail(vm, GAITRT_ERR_NOMEM, "out of memory");
}

static grt_pv *pk_arg(const grt_pv *args, size_t i) {
    if (!args || args->kind != GRT_PV_TUPLE || i >= args->u.seq.n) return NULL;
    return args->u.seq.v[i];
}

static size_t pk_nargs(const grt_pv *args) { return args && args->kind == GRT_PV_TUPLE ? args->u.seq.n : 0; }

/* A shape or stride: a tuple or list of ints, at most GRT_MAX_DIMS of them. */
static grt_status pk_int_tuple(grt_pk_vm *vm, const grt_pv *v, const char *what, int64_t *dst, int *n) {
    if (!v || (v->kind != GRT_PV_TUPLE && v->kind != GRT_PV_LIST))
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "%s is not a tuple", what);
    if (v->u.seq.n > GRT_MAX_DIMS)
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "%s has %zu dimensions (at most %d supported)", what, v->u.seq.n, GRT_MAX_DIMS);
    for (size_t i = 0; i < v->u.seq.n; i++)
        if (!grt_pv_as_int(v->u.seq.v[i], &dst[i])) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "%s holds a non-integer", what);
    *n = (int)v->u.seq.n;
    return GRT_OK;
}

/* ---- torch ------------------------------------------------------------------------------- */

int grt_pk_storage_dtype(const char *c) {
    static const struct {
        const char *name;
        grt_dtype dt;
    } m[] = {
        {"FloatStorage", GRT_F32}, {"DoubleStorage", GRT_F64}, {"HalfStorage", GRT_F16},
        {"BFloat16Storage", GRT_BF16}, {"LongStorage", GRT_I64}, {"IntStorage", GRT_I32},
        {"ShortStorage", GRT_I16}, {"CharStorage", GRT_I8}, {"ByteStorage", GRT_U8}, {"BoolStorage", GRT_BOOL},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(c, m[i].name)) return (int)m[i].dt;
    return -1;
}

grt_status grt_pk_tensor_check(const char *file, const grt_pk_tensor *t) {
    const grt_pk_storage *s = t->storage;
    if (t->offset < 0) return grt_error(GAITRT_ERR_FORMAT, "%s: tensor has a negative storage offset", file);
    int empty = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) return grt_error(GAITRT_ERR_FORMAT, "%s: tensor has a negative size", file);
        if (t->stride[i] < 0) return grt_error(GAITRT_ERR_FORMAT, "%s: tensor has a negative stride", file);
        if (t->shape[i] == 0) empty = 1;
    }
    if (empty) {
        if (t->offset > s->numel) goto outside;
        return GRT_OK;
    }
    /* The last element a view touches is offset + sum((size-1)*stride); it must lie inside. */
    int64_t last = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        int64_t step;
        if (__builtin_mul_overflow(t->shape[i] - 1, t->stride[i], &step) || __builtin_add_overflow(last, step, &last))
            goto outside;
    }
    if (last >= s->numel) goto outside;
    return GRT_OK;
outside:;
    char sh[128], stv[128];
    grt_shape_str(t->ndim, t->shape, sh, sizeof sh);
    grt_shape_str(t->ndim, t->stride, stv, sizeof stv);
    return grt_error(GAITRT_ERR_FORMAT, "%s: tensor of shape %s with stride %s at offset %lld reaches outside its storage of %lld elements ---> HINT: the file is corrupt or hostile", file, sh, stv, (long long)t->offset, (long long)s->numel);
}

int grt_pk_storage_bytes(const grt_pk_storage *s, const uint8_t **p, size_t *n) {
    size_t es = grt_dtype_size(s->dtype);
    int64_t off = 0;
    /* Views chain to one root; we never build longer chains than that. */
    for (int hops = 0; s->base && hops < 4; hops++) {
        off += s->base_offset;
        s = s->base;
    }
    if (!s->data || s->base) return 0;
    *p = s->data + (size_t)off * es;
    *n = (size_t)(s->numel - off) * es;
    return 1;
}

static grt_status pk_rebuild_tensor(grt_pk_vm *vm, grt_pv *args, grt_pv **out) {
    const char *file = grt_pk_vm_name(vm);
    if (pk_nargs(args) < 4) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "_rebuild_tensor with %zu arguments", pk_nargs(args));
    grt_pv *s = pk_arg(args, 0);
    if (s->kind != GRT_PV_STORAGE)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "_rebuild_tensor on a %s instead of a storage", grt_pv_kind_name(s->kind));
    grt_pk_tensor *t = grt_pk_alloc(grt_pk_vm_arena(vm), sizeof *t);
    grt_pv *v = grt_pk_new(vm, GRT_PV_TENSOR);
    if (!t || !v) return pk_oom(vm);
    memset(t, 0, sizeof *t);
    t->storage = s->u.storage;
    if (!grt_pv_as_int(pk_arg(args, 1), &t->offset)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "tensor storage offset is not an integer");
    int nd_size = 0, nd_stride = 0;
    grt_status st = pk_int_tuple(vm, pk_arg(args, 2), "tensor size", t->shape, &nd_size);
    if (!st) st = pk_int_tuple(vm, pk_arg(args, 3), "tensor stride", t->stride, &nd_stride);
    if (st) return st;
    if (nd_size != nd_stride) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "tensor size and stride differ in length");
    t->ndim = nd_size;
    /* We check the view against its storage here, so a hostile tensor fails even when it
     * sits in a part of the file (the optimizer state) that nobody reads later. */
    if ((st = grt_pk_tensor_check(file, t))) return st;
    v->u.tensor = t;
    *out = v;
    return GRT_OK;
}

/* ---- the legacy blob inside torch.storage._load_from_bytes ---------------------------------- */

/* torch's legacy format: pickles of a magic number, a protocol version and system info,
 * then the object (storages as persistent ids), then the list of storage keys, then for
 * each key an 8-byte element count and the raw elements. */
static const uint8_t pk_legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
/* A blob from _load_from_bytes holds one storage (and perhaps views of it); the small cap
 * keeps the linear key search below cheap even when a hostile blob repeats ids. */
#define PK_LEGACY_MAX_STORAGES 64

typedef struct pk_legacy {
    grt_pk_storage *st[PK_LEGACY_MAX_STORAGES];
    size_t klen[PK_LEGACY_MAX_STORAGES];
    int n;
} pk_legacy;

static grt_pk_storage *pk_legacy_find(pk_legacy *lg, const grt_pv *key) {
    for (int i = 0; i < lg->n; i++)
        if (lg->klen[i] == key->u.s.n && !memcmp(lg->st[i]->key, key->u.s.p, key->u.s.n)) return lg->st[i];
    return NULL;
}

static grt_status pk_legacy_add(grt_pk_vm *vm, pk_legacy *lg, const grt_pv *key, grt_pk_storage *s) {
    if (lg->n >= PK_LEGACY_MAX_STORAGES)
        return grt_pk_fail(vm, GAITRT_ERR_LIMIT, "legacy torch blob references more than %d storages", PK_LEGACY_MAX_STORAGES);
    lg->klen[lg->n] = key->u.s.n;
    lg->st[lg->n++] = s;
    return GRT_OK;
}

static grt_status pk_legacy_persid(grt_pk_vm *vm, void *user, grt_pv *pid, grt_pv **out) {
    pk_legacy *lg = user;
    if (pid->kind != GRT_PV_TUPLE || pid->u.seq.n < 5 || !grt_pv_is_str(pid->u.seq.v[0], "storage"))
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "legacy torch blob holds a persistent id that is not a storage");
    grt_pv *cls = pid->u.seq.v[1], *key = pid->u.seq.v[2], *size = pid->u.seq.v[4];
    grt_pv *view = pid->u.seq.n > 5 ? pid->u.seq.v[5] : NULL;
    int dt = cls->kind == GRT_PV_GLOBAL && !strcmp(cls->u.g.module, "torch") ? grt_pk_storage_dtype(cls->u.g.name) : -1;
    if (dt < 0) return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "legacy torch blob uses an unknown storage type");
    int64_t numel;
    if (key->kind != GRT_PV_STR || !grt_pv_as_int(size, &numel) || numel < 0)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "malformed storage id in a legacy torch blob");
    grt_pk_storage *root = pk_legacy_find(lg, key);
    if (!root) {
        root = grt_pk_alloc(grt_pk_vm_arena(vm), sizeof *root);
        if (!root) return pk_oom(vm);
        memset(root, 0, sizeof *root);
        root->dtype = (grt_dtype)dt;
        root->numel = numel;
        root->key = grt_pk_strndup(vm, key->u.s.p, key->u.s.n);
        if (!root->key) return pk_oom(vm);
        grt_status st = pk_legacy_add(vm, lg, key, root);
        if (st) return st;
    } else if (root->dtype != (grt_dtype)dt || root->numel != numel || root->base) {
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob declares storage '%s' twice, differently", root->key);
    }
    grt_pk_storage *res = root;
    if (view && view->kind != GRT_PV_NONE) {
        /* (view_key, offset, view_size): a slice of the root storage. */
        int64_t off, vsize;
        if (view->kind != GRT_PV_TUPLE || view->u.seq.n < 3 || view->u.seq.v[0]->kind != GRT_PV_STR ||
            !grt_pv_as_int(view->u.seq.v[1], &off) || !grt_pv_as_int(view->u.seq.v[2], &vsize) || off < 0 || vsize < 0 ||
            off > numel || vsize > numel - off)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "malformed or out-of-range storage view in a legacy torch blob");
        res = pk_legacy_find(lg, view->u.seq.v[0]);
        if (res && (!res->base || res->base != root || res->base_offset != off || res->numel != vsize))
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob declares storage view twice, differently");
        if (!res) {
            res = grt_pk_alloc(grt_pk_vm_arena(vm), sizeof *res);
            if (!res) return pk_oom(vm);
            memset(res, 0, sizeof *res);
            res->dtype = root->dtype;
            res->numel = vsize;
            res->base = root;
            res->base_offset = off;
            res->key = grt_pk_strndup(vm, view->u.seq.v[0]->u.s.p, view->u.seq.v[0]->u.s.n);
            if (!res->key) return pk_oom(vm);
            grt_status st = pk_legacy_add(vm, lg, view->u.seq.v[0], res);
            if (st) return st;
        }
    }
    grt_pv *v = grt_pk_new(vm, GRT_PV_STORAGE);
    if (!v) return pk_oom(vm);
    v->u.storage = res;
    *out = v;
    return GRT_OK;
}

static grt_status pk_load_from_bytes(grt_pk_vm *vm, grt_pv *args, grt_pv **out) {
    grt_pv *b = pk_arg(args, 0);
    const grt_pk_opts *po = grt_pk_vm_opts(vm);
    if (!po->allow_legacy_bytes)
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "torch.storage._load_from_bytes is not expected here (nested legacy blob)");
    if (!b || b->kind != GRT_PV_BYTES) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "_load_from_bytes needs bytes");
    const uint8_t *p = b->u.s.p;
    size_t len = b->u.s.n, pos = 0, used;
    if (len >= 512 && !memcmp(p + 257, "ustar", 5))
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "embedded torch blob uses the old tar format ---> HINT: re-save it with a newer torch");
    if (len >= 2 && p[0] == 'P' && p[1] == 'K')
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "embedded torch blob is a zip archive, not the legacy format");
    grt_pk_arena *a = grt_pk_vm_arena(vm);
    pk_legacy lg;
    lg.n = 0;
    grt_pk_opts o = *po;
    o.allow_legacy_bytes = 0; /* no blob inside a blob */
    o.persistent_load = NULL;
    /* Errors inside the blob report the blob's own offsets, so the name says where we are. */
    size_t nlen = strlen(po->name) + 48;
    char *bname = grt_pk_alloc(a, nlen);
    if (!bname) return pk_oom(vm);
    snprintf(bname, nlen, "%s (legacy torch blob in _load_from_bytes)", po->name);
    o.name = bname;
    grt_pv *magic, *proto, *info, *obj, *keys;
    grt_status st;
    if ((st = grt_pk_load(a, p + pos, len - pos, &o, &magic, &used))) return st;
    pos += used;
    if (magic->kind != GRT_PV_BIGINT || magic->u.s.n != 10 || memcmp(magic->u.s.p, pk_legacy_magic, 10) != 0)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bytes given to _load_from_bytes are not a legacy torch serialization (bad magic number)");
    if ((st = grt_pk_load(a, p + pos, len - pos, &o, &proto, &used))) return st;
    pos += used;
    int64_t pv;
    if (!grt_pv_as_int(proto, &pv) || pv != 1001)
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "legacy torch blob has an unknown protocol version");
    if ((st = grt_pk_load(a, p + pos, len - pos, &o, &info, &used))) return st;
    pos += used;
    grt_pv *le = grt_pv_dict_get(info, "little_endian");
    if (le && le->kind == GRT_PV_BOOL && !le->u.b)
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "legacy torch blob was written on a big-endian machine");
    o.persistent_load = pk_legacy_persid;
    o.user = &lg;
    if ((st = grt_pk_load(a, p + pos, len - pos, &o, &obj, &used))) return st;
    pos += used;
    o.persistent_load = NULL;
    if ((st = grt_pk_load(a, p + pos, len - pos, &o, &keys, &used))) return st;
    pos += used;
    if (keys->kind != GRT_PV_LIST && keys->kind != GRT_PV_TUPLE)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob: storage key list is a %s", grt_pv_kind_name(keys->kind));
    for (size_t i = 0; i < keys->u.seq.n; i++) {
        grt_pv *k = keys->u.seq.v[i];
        grt_pk_storage *s = k->kind == GRT_PV_STR ? pk_legacy_find(&lg, k) : NULL;
        if (!s || s->base)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob lists data for a storage it never declared");
        if (s->data) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob holds data for storage '%s' twice", s->key);
        if (!grt_io_range_ok(len, pos, 8)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob truncated in its storage data");
        uint64_t cnt = grt_io_le64(p + pos);
        pos += 8;
        if (cnt != (uint64_t)s->numel)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob: storage '%s' has %llu elements, declared %lld", s->key, (unsigned long long)cnt, (long long)s->numel);
        size_t nbytes;
        if (!grt_mul_size((size_t)cnt, grt_dtype_size(s->dtype), &nbytes) || !grt_io_range_ok(len, pos, nbytes))
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "legacy torch blob truncated in the data of storage '%s' ---> HINT: the file is incomplete", s->key);
        s->data = p + pos;
        pos += nbytes;
    }
    if (obj->kind != GRT_PV_STORAGE)
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "legacy torch blob holds a %s, not a storage", grt_pv_kind_name(obj->kind));
    *out = obj;
    return GRT_OK;
}

/* ---- numpy --------------------------------------------------------------------------------- */

/* numpy's dtype strings as pickles carry them: "f4", "u1", "b1", maybe with an order char. */
static grt_status pk_np_dtype(grt_pk_vm *vm, grt_pv *args, grt_pv **out) {
    grt_pv *s = pk_arg(args, 0);
    if (!s || s->kind != GRT_PV_STR) {
        /* dtype(some_class) and structured dtypes: we keep an unknown dtype and refuse
         * only if an array that uses it is read. */
        s = NULL;
    }
    grt_pk_dtype *d = grt_pk_alloc(grt_pk_vm_arena(vm), sizeof *d);
    grt_pv *v = grt_pk_new(vm, GRT_PV_DTYPE);
    if (!d || !v) return pk_oom(vm);
    memset(d, 0, sizeof *d);
    d->order = '=';
    if (s) {
        size_t n = s->u.s.n < sizeof d->str - 1 ? s->u.s.n : sizeof d->str - 1;
        memcpy(d->str, s->u.s.p, n);
        const char *c = d->str;
        if (*c == '<' || *c == '>' || *c == '|' || *c == '=') d->order = *c++;
        if (*c == 'f' || *c == 'i' || *c == 'u' || *c == 'b') {
            char k = *c++;
            int sz = 0;
            while (*c >= '0' && *c <= '9' && sz < 100) sz = sz * 10 + (*c++ - '0');
            if (*c == 0 && ((k == 'f' && (sz == 2 || sz == 4 || sz == 8)) || (k == 'i' && (sz == 1 || sz == 2 || sz == 4 || sz == 8)) ||
                            (k == 'u' && sz == 1) || (k == 'b' && sz == 1))) {
                d->kind = k;
                d->size = sz;
            }
        }
    } else {
        snprintf(d->str, sizeof d->str, "?");
    }
    v->u.dtype = d;
    *out = v;
    return GRT_OK;
}

static int pk_dtype_to_grt(const grt_pk_dtype *d, grt_dtype *dt) {
    if (!d->kind) return 0;
    if (d->order == '>' && d->size > 1) return 0;
    switch (d->kind) {
    case 'f': *dt = d->size == 2 ? GRT_F16 : d->size == 4 ? GRT_F32 : GRT_F64; return 1;
    case 'i': *dt = d->size == 1 ? GRT_I8 : d->size == 2 ? GRT_I16 : d->size == 4 ? GRT_I32 : GRT_I64; return 1;
    case 'u': *dt = GRT_U8; return 1;
    case 'b': *dt = GRT_BOOL; return 1;
    }
    return 0;
}

/* Bytes of an array's raw data: bytes, or the str a Python 2 pickle (or latin-1 decoding)
 * left for it. */
static grt_status pk_latin1_bytes(grt_pk_vm *vm, const grt_pv *s, const uint8_t **p, size_t *n);

static grt_status pk_fill_ndarray(grt_pk_vm *vm, grt_pk_ndarray *a, const grt_pv *shape, grt_pv *dtype, int fortran,
                                  const grt_pv *raw) {
    grt_status st = pk_int_tuple(vm, shape, "numpy array shape", a->shape, &a->ndim);
    if (st) return st;
    if (!dtype || dtype->kind != GRT_PV_DTYPE) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy array without a dtype");
    a->dtype = dtype;
    a->fortran = fortran;
    grt_dtype dt;
    if (!pk_dtype_to_grt(dtype->u.dtype, &dt)) {
        if (dtype->u.dtype->kind && dtype->u.dtype->order == '>')
            return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "numpy array is big-endian ('%s') ---> HINT: convert it with a.astype(a.dtype.newbyteorder('<'))", dtype->u.dtype->str);
        a->built = -1; /* an array we cannot represent (object, structured, ...) */
        return GRT_OK;
    }
    size_t numel, nbytes;
    if (!grt_io_shape_numel(a->ndim, a->shape, &numel) || !grt_mul_size(numel, grt_dtype_size(dt), &nbytes))
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy array shape is negative or too large");
    if (!raw || raw->kind == GRT_PV_LIST) {
        a->built = -1; /* object arrays pickle their items as a list */
        return GRT_OK;
    }
    const uint8_t *p;
    size_t n;
    if (raw->kind == GRT_PV_BYTES || (raw->kind == GRT_PV_STR && (raw->flags & GRT_PV_F_RAW8))) {
        p = raw->u.s.p;
        n = raw->u.s.n;
    } else if (raw->kind == GRT_PV_STR) {
        if ((st = pk_latin1_bytes(vm, raw, &p, &n))) return st;
    } else {
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy array data is a %s", grt_pv_kind_name(raw->kind));
    }
    if (n != nbytes)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy array data has %zu bytes, its shape and dtype need %zu", n, nbytes);
    a->data = p;
    a->nbytes = n;
    a->built = 1;
    return GRT_OK;
}

static grt_status pk_np_reconstruct(grt_pk_vm *vm, grt_pv *args, grt_pv **out) {
    grt_pv *sub = pk_arg(args, 0);
    if (!sub || sub->kind != GRT_PV_GLOBAL || strncmp(sub->u.g.module, "numpy", 5) || strcmp(sub->u.g.name, "ndarray"))
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "numpy _reconstruct of a type other than numpy.ndarray");
    grt_pk_ndarray *a = grt_pk_alloc(grt_pk_vm_arena(vm), sizeof *a);
    grt_pv *v = grt_pk_new(vm, GRT_PV_NDARRAY);
    if (!a || !v) return pk_oom(vm);
    memset(a, 0, sizeof *a);
    v->u.nd = a;
    *out = v;
    return GRT_OK;
}

static grt_status pk_np_frombuffer(grt_pk_vm *vm, grt_pv *args, grt_pv **out) {
    grt_pv *order = pk_arg(args, 3);
    if (pk_nargs(args) < 4 || !order || order->kind != GRT_PV_STR)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy _frombuffer with bad arguments");
    grt_pk_ndarray *a = grt_pk_alloc(grt_pk_vm_arena(vm), sizeof *a);
    grt_pv *v = grt_pk_new(vm, GRT_PV_NDARRAY);
    if (!a || !v) return pk_oom(vm);
    memset(a, 0, sizeof *a);
    grt_status st = pk_fill_ndarray(vm, a, pk_arg(args, 2), pk_arg(args, 1), grt_pv_is_str(order, "F"), pk_arg(args, 0));
    if (st) return st;
    v->u.nd = a;
    *out = v;
    return GRT_OK;
}

/* numpy scalars (np.float64(0.1) in a scheduler state): an int or float if we know the
 * dtype, an opaque object otherwise. */
static grt_status pk_np_scalar(grt_pk_vm *vm, grt_pv *callable, grt_pv *args, grt_pv **out) {
    grt_pv *d = pk_arg(args, 0), *b = pk_arg(args, 1);
    grt_dtype dt;
    const uint8_t *p = NULL;
    size_t n = 0;
    if (b && b->kind == GRT_PV_BYTES) {
        p = b->u.s.p;
        n = b->u.s.n;
    } else if (b && b->kind == GRT_PV_STR) {
        grt_status st = pk_latin1_bytes(vm, b, &p, &n);
        if (st) return st;
    }
    if (d && d->kind == GRT_PV_DTYPE && p && pk_dtype_to_grt(d->u.dtype, &dt) && n == grt_dtype_size(dt)) {
        grt_pv *v;
        if (grt_io_is_float(dt)) {
            float f;
            double x;
            if (dt == GRT_F64) {
                uint64_t bits = grt_io_le64(p);
                memcpy(&x, &bits, 8);
            } else {
                grt_io_convert(&f, GRT_F32, p, dt, 1);
                x = f;
            }
            v = grt_pk_new(vm, GRT_PV_FLOAT);
            if (v) v->u.f = x;
        } else {
            int64_t i = 0;
            switch (dt) {
            case GRT_I8: i = (int8_t)p[0]; break;
            case GRT_U8: case GRT_BOOL: i = p[0]; break;
            case GRT_I16: i = (int16_t)grt_io_le16(p); break;
            case GRT_I32: i = (int32_t)grt_io_le32(p); break;
            default: i = (int64_t)grt_io_le64(p); break;
            }
            v = grt_pk_new(vm, dt == GRT_BOOL ? GRT_PV_BOOL : GRT_PV_INT);
            if (v) {
                if (dt == GRT_BOOL)
                    v->u.b = i != 0;
                else
                    v->u.i = i;
            }
        }
        if (!v) return pk_oom(vm);
        *out = v;
        return GRT_OK;
    }
    grt_pv *v = grt_pk_new(vm, GRT_PV_OBJECT);
    if (!v) return pk_oom(vm);
    v->u.obj.callable = callable;
    v->u.obj.args = args;
    *out = v;
    return GRT_OK;
}

/* ---- builtins ------------------------------------------------------------------------------ */

/* A str's code points as bytes (each below 256): what `s.encode('latin1')` gives. */
static grt_status pk_latin1_bytes(grt_pk_vm *vm, const grt_pv *s, const uint8_t **p, size_t *n) {
    const uint8_t *src = s->u.s.p;
    size_t len = s->u.s.n, k = 0;
    uint8_t *d = grt_pk_alloc(grt_pk_vm_arena(vm), len ? len : 1);
    if (!d) return pk_oom(vm);
    for (size_t i = 0; i < len;) {
        uint8_t c = src[i];
        if (c < 0x80) {
            d[k++] = c;
            i++;
        } else if ((c & 0xe0) == 0xc0 && i + 1 < len && (src[i + 1] & 0xc0) == 0x80) {
            uint32_t cp = ((uint32_t)(c & 0x1f) << 6) | (src[i + 1] & 0x3f);
            if (cp > 0xff) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "latin-1 encoding of a str with a character above U+00FF");
            d[k++] = (uint8_t)cp;
            i += 2;
        } else {
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "latin-1 encoding of a str that is not valid UTF-8 below U+0100");
        }
    }
    *p = d;
    *n = k;
    return GRT_OK;
}

static grt_status pk_new_bytes(grt_pk_vm *vm, const uint8_t *p, size_t n, grt_pv **out) {
    grt_pv *v = grt_pk_new(vm, GRT_PV_BYTES);
    if (!v) return pk_oom(vm);
    v->u.s.p = p;
    v->u.s.n = n;
    *out = v;
    return GRT_OK;
}

/* _codecs.encode(str, encoding) and bytes/bytearray(...) as protocol 0-2 pickles use them. */
static grt_status pk_encode(grt_pk_vm *vm, grt_pv *s, grt_pv *enc, grt_pv **out) {
    if (!s || s->kind != GRT_PV_STR) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "encode() of a non-string");
    if (!enc || grt_pv_is_str(enc, "utf-8") || grt_pv_is_str(enc, "utf8") || grt_pv_is_str(enc, "ascii"))
        return pk_new_bytes(vm, s->u.s.p, s->u.s.n, out);
    if (grt_pv_is_str(enc, "latin1") || grt_pv_is_str(enc, "latin-1") || grt_pv_is_str(enc, "iso-8859-1") ||
        grt_pv_is_str(enc, "iso8859-1")) {
        if (s->flags & GRT_PV_F_RAW8) return pk_new_bytes(vm, s->u.s.p, s->u.s.n, out);
        const uint8_t *p;
        size_t n;
        grt_status st = pk_latin1_bytes(vm, s, &p, &n);
        if (st) return st;
        return pk_new_bytes(vm, p, n, out);
    }
    return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "encode() with an encoding we do not model");
}

static grt_status pk_bytes(grt_pk_vm *vm, grt_pv *args, grt_pv **out) {
    grt_pv *a0 = pk_arg(args, 0);
    if (!a0) return pk_new_bytes(vm, (const uint8_t *)"", 0, out);
    if (a0->kind == GRT_PV_BYTES) return pk_new_bytes(vm, a0->u.s.p, a0->u.s.n, out);
    if (a0->kind == GRT_PV_STR) return pk_encode(vm, a0, pk_arg(args, 1), out);
    if (a0->kind == GRT_PV_LIST || a0->kind == GRT_PV_TUPLE) {
        size_t n = a0->u.seq.n;
        uint8_t *d = grt_pk_alloc(grt_pk_vm_arena(vm), n ? n : 1);
        if (!d) return pk_oom(vm);
        for (size_t i = 0; i < n; i++) {
            int64_t x;
            if (!grt_pv_as_int(a0->u.seq.v[i], &x) || x < 0 || x > 255)
                return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bytes() of a list with a non-byte item");
            d[i] = (uint8_t)x;
        }
        return pk_new_bytes(vm, d, n, out);
    }
    return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "bytes() of a %s", grt_pv_kind_name(a0->kind));
}

/* set/frozenset(iterable), torch.Size(tuple): copy the items. */
static grt_status pk_copy_seq(grt_pk_vm *vm, grt_pv_kind kind, grt_pv *args, grt_pv **out) {
    grt_pv *src = pk_arg(args, 0);
    grt_pv *v = grt_pk_new(vm, kind);
    if (!v) return pk_oom(vm);
    if (src) {
        if (src->kind != GRT_PV_LIST && src->kind != GRT_PV_TUPLE && src->kind != GRT_PV_SET)
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "%s() of a %s", kind == GRT_PV_SET ? "set" : "tuple", grt_pv_kind_name(src->kind));
        for (size_t i = 0; i < src->u.seq.n; i++)
            if (!grt_pk_seq_push(vm, v, src->u.seq.v[i])) return pk_oom(vm);
    }
    *out = v;
    return GRT_OK;
}

static grt_status pk_ordered_dict(grt_pk_vm *vm, grt_pv *args, grt_pv **out) {
    grt_pv *v = grt_pk_new(vm, GRT_PV_DICT);
    if (!v) return pk_oom(vm);
    grt_pv *src = pk_arg(args, 0);
    if (src) {
        /* OrderedDict([(k, v), ...]) as protocol 0/1 may write it. */
        if (src->kind == GRT_PV_DICT) {
            for (size_t i = 0; i < src->u.dict.n; i++)
                if (!grt_pk_dict_set(vm, v, src->u.dict.k[i], src->u.dict.v[i])) return pk_oom(vm);
        } else if (src->kind == GRT_PV_LIST || src->kind == GRT_PV_TUPLE) {
            for (size_t i = 0; i < src->u.seq.n; i++) {
                grt_pv *pr = src->u.seq.v[i];
                if ((pr->kind != GRT_PV_TUPLE && pr->kind != GRT_PV_LIST) || pr->u.seq.n != 2)
                    return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "OrderedDict() item is not a pair");
                if (!grt_pk_dict_set(vm, v, pr->u.seq.v[0], pr->u.seq.v[1])) return pk_oom(vm);
            }
        } else {
            return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "OrderedDict() of a %s", grt_pv_kind_name(src->kind));
        }
    }
    *out = v;
    return GRT_OK;
}

static grt_status pk_refuse(grt_pk_vm *vm, const grt_pv *g, const char *how) {
    if (!strncmp(g->u.g.module, "torch", 5) && !strncmp(g->u.g.name, "_rebuild", 8))
        return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "the file holds a kind of tensor we do not read (%s.%s) ---> HINT: save plain dense tensors (e.g. .to_dense()) or use safetensors", g->u.g.module, g->u.g.name);
    const char *m = pk_norm_module(g->u.g.module);
    char alias[600] = "";
    if (m != g->u.g.module) snprintf(alias, sizeof alias, " (written as %s.%s)", g->u.g.module, g->u.g.name);
    return grt_pk_fail(vm, GAITRT_ERR_REFUSED, "refusing to %s %s.%s%s: gaitrt never runs code from a file ---> HINT: if you trust the file, load it in Python and save the tensors with safetensors", how, m, g->u.g.name, alias);
}

grt_status grt_pk_call(grt_pk_vm *vm, grt_pv *callable, grt_pv *args, grt_pv **out) {
    if (callable->kind != GRT_PV_GLOBAL)
        return grt_pk_fail(vm, GAITRT_ERR_REFUSED, "refusing to call a %s (only named, allow-listed callables are modelled)", grt_pv_kind_name(callable->kind));
    if (args->kind != GRT_PV_TUPLE)
        return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "call of %s.%s with arguments that are not a tuple", callable->u.g.module, callable->u.g.name);
    switch (pk_lookup(callable)) {
    case PK_REBUILD_TENSOR: return pk_rebuild_tensor(vm, args, out);
    case PK_REBUILD_PARAMETER: {
        grt_pv *t = pk_arg(args, 0);
        if (!t || t->kind != GRT_PV_TENSOR) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "_rebuild_parameter of a non-tensor");
        *out = t;
        return GRT_OK;
    }
    case PK_REBUILD_FROM_TYPE: {
        /* (func, new_type, args, state): the tensor is func(*args); the subclass is dropped. */
        grt_pv *fn = pk_arg(args, 0), *fa = pk_arg(args, 2);
        if (!fn || fn->kind != GRT_PV_GLOBAL || pk_lookup(fn) != PK_REBUILD_TENSOR || !fa)
            return grt_pk_fail(vm, GAITRT_ERR_UNSUPPORTED, "_rebuild_from_type_v2 of something other than a plain tensor");
        return grt_pk_call(vm, fn, fa, out);
    }
    case PK_LOAD_FROM_BYTES: return pk_load_from_bytes(vm, args, out);
    case PK_ORDERED_DICT: return pk_ordered_dict(vm, args, out);
    case PK_NP_RECONSTRUCT: return pk_np_reconstruct(vm, args, out);
    case PK_NP_DTYPE: return pk_np_dtype(vm, args, out);
    case PK_NP_SCALAR: return pk_np_scalar(vm, callable, args, out);
    case PK_NP_FROMBUFFER: return pk_np_frombuffer(vm, args, out);
    case PK_CODECS_ENCODE: return pk_encode(vm, pk_arg(args, 0), pk_arg(args, 1), out);
    case PK_BYTES: return pk_bytes(vm, args, out);
    case PK_SET: return pk_copy_seq(vm, GRT_PV_SET, args, out);
    case PK_TUPLE: return pk_copy_seq(vm, GRT_PV_TUPLE, args, out);
    case PK_OPAQUE: {
        grt_pv *v = grt_pk_new(vm, GRT_PV_OBJECT);
        if (!v) return pk_oom(vm);
        v->u.obj.callable = callable;
        v->u.obj.args = args;
        *out = v;
        return GRT_OK;
    }
    case PK_REFUSE: break;
    }
    return pk_refuse(vm, callable, "call");
}

grt_status grt_pk_newobj(grt_pk_vm *vm, grt_pv *cls, grt_pv *args, grt_pv *kwargs, grt_pv **out) {
    if (cls->kind != GRT_PV_GLOBAL)
        return grt_pk_fail(vm, GAITRT_ERR_REFUSED, "refusing to instantiate a %s (only named classes are modelled)", grt_pv_kind_name(cls->kind));
    if (args->kind != GRT_PV_TUPLE) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "NEWOBJ with arguments that are not a tuple");
    pk_fn fn = pk_lookup(cls);
    if (fn == PK_ORDERED_DICT) return pk_ordered_dict(vm, args, out);
    if (fn == PK_SET) return pk_copy_seq(vm, GRT_PV_SET, args, out);
    if (fn == PK_REFUSE && pk_is_code_module(cls->u.g.module)) return pk_refuse(vm, cls, "instantiate");
    /* cls.__new__ without __init__: plain data (argparse.Namespace, dict subclasses); we
     * keep it as an object whose BUILD state and items we store but never interpret. */
    grt_pv *v = grt_pk_new(vm, GRT_PV_OBJECT);
    if (!v) return pk_oom(vm);
    v->u.obj.callable = cls;
    v->u.obj.args = args;
    (void)kwargs;
    *out = v;
    return GRT_OK;
}

grt_status grt_pk_build(grt_pk_vm *vm, grt_pv *obj, grt_pv *state) {
    switch (obj->kind) {
    case GRT_PV_NDARRAY: {
        grt_pk_ndarray *a = obj->u.nd;
        if (a->built) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy array state set twice");
        /* (version, shape, dtype, is_fortran, rawdata); very old pickles omit the version. */
        size_t n = pk_nargs(state), b = n == 5 ? 1 : 0;
        if (n != 4 && n != 5) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy array state has %zu items", n);
        int64_t fortran = 0;
        grt_pv *fv = pk_arg(state, b + 2);
        if (!grt_pv_as_int(fv, &fortran)) return grt_pk_fail(vm, GAITRT_ERR_FORMAT, "numpy array state: is_fortran is not a bool");
        return pk_fill_ndarray(vm, a, pk_arg(state, b), pk_arg(state, b + 1), fortran != 0, pk_arg(state, b + 3));
    }
    case GRT_PV_DTYPE: {
        /* (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]) */
        grt_pv *order = pk_arg(state, 1), *names = pk_arg(state, 3);
        if (order && order->kind == GRT_PV_STR && order->u.s.n == 1 && strchr("<>|=", order->u.s.p[0]))
            obj->u.dtype->order = (char)order->u.s.p[0];
        if (names && names->kind != GRT_PV_NONE) obj->u.dtype->kind = 0; /* structured */
        return GRT_OK;
    }
    case GRT_PV_OBJECT:
        obj->u.obj.state = state;
        return GRT_OK;
    default:
        /* OrderedDict's state is its _metadata attribute; tensors and the rest carry nothing
         * we use. Python would set attributes; we have none to set. */
        return GRT_OK;
    }
}

/* ---- materializing tensors and arrays ------------------------------------------------------ */

grt_status grt_pk_tensor_materialize(const char *file, const char *what, const grt_pk_tensor *t, int to_f32,
                                     grt_tensor *out) {
    memset(out, 0, sizeof *out);
    const uint8_t *data;
    size_t unused;
    if (!grt_pk_storage_bytes(t->storage, &data, &unused))
        return grt_error(GAITRT_ERR_FORMAT, "%s: tensor %s has no data for its storage '%s'", file, what, t->storage->key ? t->storage->key : "?");
    grt_status st = grt_pk_tensor_check(file, t);
    if (st) return st;
    grt_dtype src = t->storage->dtype;
    grt_dtype dst = to_f32 && grt_io_is_float(src) ? GRT_F32 : src;
    if ((st = grt_tensor_alloc(out, dst, t->ndim, t->shape)))
        return grt_error_prefix(st, "%s: tensor %s: ", file, what);
    out->src_dtype = src;
    grt_io_gather(out->data, dst, data, src, t->ndim, t->shape, t->stride, t->offset);
    return GRT_OK;
}

grt_status grt_pk_ndarray_materialize(const char *file, const grt_pk_ndarray *a, grt_tensor *out) {
    memset(out, 0, sizeof *out);
    grt_dtype dt;
    if (a->built != 1 || !pk_dtype_to_grt(a->dtype->u.dtype, &dt))
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: numpy array of dtype '%s' is not supported (we read f2/f4/f8, i1-i8, u1, b1) ---> HINT: convert it with a.astype(np.float32)", file, a->dtype ? a->dtype->u.dtype->str : "?");
    grt_status st = grt_tensor_alloc(out, dt, a->ndim, a->shape);
    if (st) return grt_error_prefix(st, "%s: ", file);
    if (out->nbytes == 0) return GRT_OK; /* an empty dimension may sit beside huge ones: no strides to compute */
    if (!a->fortran || a->ndim < 2) {
        memcpy(out->data, a->data, a->nbytes);
        return GRT_OK;
    }
    /* Fortran order: the first index varies fastest; we gather with column-major strides. */
    int64_t stride[GRT_MAX_DIMS];
    int64_t s = 1;
    for (int i = 0; i < a->ndim; i++) {
        stride[i] = s;
        s *= a->shape[i];
    }
    grt_io_gather(out->data, dt, a->data, dt, a->ndim, a->shape, stride, 0);
    return GRT_OK;
}
