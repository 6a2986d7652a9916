/*
 * pkl.c — OpenGait's dataset .pkl files: one pickled numpy array per file (as the
 * pretreatment's pickle.dump writes it), or a pickled torch tensor, including the legacy
 * `torch.storage._load_from_bytes` form that pickle.dump(tensor) produces.
 *
 * Reading goes through the safe pickle reader (pickle.c), so a .pkl can never run code.
 * Writing produces a protocol-2 pickle of a numpy array that Python's pickle.load turns back
 * into the same array. We deliberately do not read pickles of lists, dicts or other objects.
 */
#include <stdio.h>

#include "io/io_internal.h"

/* A torch tensor is a view of a storage, and a view may repeat elements (stride 0), so a file of
 * a few hundred bytes can describe a dense array of any size. Real dataset files hold their
 * data, so we allow the dense result what the checkpoint loader allows: 8 times the file plus
 * 64 MiB. (numpy arrays carry their bytes and cannot expand.) */
static grt_status pkl_tensor_budget(const char *name, size_t file_len, const grt_pk_tensor *t) {
    size_t numel, nbytes, budget = GRT_IO_MAX_FILE_BYTES;
    if (file_len < (GRT_IO_MAX_FILE_BYTES - ((size_t)64 << 20)) / 8) budget = 8 * file_len + ((size_t)64 << 20);
    if (grt_io_shape_numel(t->ndim, t->shape, &numel) && grt_mul_size(numel, grt_dtype_size(t->storage->dtype), &nbytes) &&
        nbytes <= budget)
        return GRT_OK;
    char sh[128];
    return grt_error(GAITRT_ERR_LIMIT, "%s: the file's tensor of shape %s would take far more than the %zu bytes allowed for a %zu-byte file (its view repeats storage elements) ---> HINT: the file is corrupt or hostile; save the array itself with numpy", name, grt_shape_str(t->ndim, t->shape, sh, sizeof sh), budget, file_len);
}

grt_status grt_pkl_array_read_mem(const uint8_t *buf, size_t len, const char *name, grt_tensor *out) {
    if (!out) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_pkl_array_read_mem: out is NULL");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!buf || len == 0) return grt_error(GAITRT_ERR_FORMAT, "%s: empty file", name);
    grt_status st;
    grt_pv *root;
    if (len >= 4 && buf[0] == 'P' && buf[1] == 'K' && buf[2] == 3 && buf[3] == 4) {
        /* torch.save(tensor) under a .pkl name: a torch zip archive holding one tensor. */
        grt_io_torchzip *tz;
        if ((st = grt_io_torchzip_open(buf, len, name, &tz, &root))) return st;
        if (root->kind != GRT_PV_TENSOR) {
            grt_pv_kind k = root->kind; /* root lives in tz's arena */
            grt_io_torchzip_close(tz);
            return grt_error(GAITRT_ERR_FORMAT, "%s: torch archive holds a %s, not a tensor ---> HINT: checkpoints are read with the checkpoint loader", name, grt_pv_kind_name(k));
        }
        st = pkl_tensor_budget(name, len, root->u.tensor);
        if (!st) st = grt_io_torchzip_resolve(tz, root->u.tensor->storage);
        if (!st) st = grt_pk_tensor_materialize(name, "(the file's tensor)", root->u.tensor, 0, out);
        grt_io_torchzip_close(tz);
        return st;
    }
    if (buf[0] != 0x80 && buf[0] != '(' && buf[0] != 'c')
        return grt_error(GAITRT_ERR_FORMAT, "%s: not a pickle (first byte 0x%02x) ---> HINT: expected an OpenGait .pkl sequence file", name, buf[0]);
    grt_pk_arena a;
    grt_pk_arena_init(&a, grt_pk_default_alloc_limit(len));
    grt_pk_opts o = grt_pk_default_opts(name);
    o.allow_legacy_bytes = 1;
    st = grt_pk_load(&a, buf, len, &o, &root, NULL);
    if (!st) {
        if (root->kind == GRT_PV_NDARRAY) {
            if (root->u.nd->built == 0)
                st = grt_error(GAITRT_ERR_FORMAT, "%s: numpy array without its state (BUILD missing)", name);
            else
                st = grt_pk_ndarray_materialize(name, root->u.nd, out);
        } else if (root->kind == GRT_PV_TENSOR) {
            st = pkl_tensor_budget(name, len, root->u.tensor);
            if (!st) st = grt_pk_tensor_materialize(name, "(the file's tensor)", root->u.tensor, 0, out);
        } else {
            st = grt_error(GAITRT_ERR_FORMAT, "%s: the pickle holds a %s, not a numpy array or tensor ---> HINT: OpenGait .pkl files hold one array of shape (frames, H, W)", name, grt_pv_kind_name(root->kind));
        }
    }
    grt_pk_arena_free(&a);
    return st;
}

grt_status grt_pkl_array_read(const char *path, grt_tensor *out) {
    if (!out) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_pkl_array_read: out is NULL");
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    grt_status st = grt_io_read_all(path, &buf, &len);
    if (st) return st;
    st = grt_pkl_array_read_mem(buf, len, path, out);
    grt_free(buf);
    return st;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* Opcodes we emit (protocol 2). */
enum {
    OP_PROTO = 0x80, OP_GLOBAL = 'c', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_BININT = 'J', OP_LONG1 = 0x8a,
    OP_BINUNICODE = 'X', OP_EMPTY_TUPLE = ')', OP_MARK = '(', OP_TUPLE = 't', OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86,
    OP_TUPLE3 = 0x87, OP_REDUCE = 'R', OP_BUILD = 'b', OP_NONE = 'N', OP_TRUE = 0x88, OP_FALSE = 0x89, OP_STOP = '.',
};

typedef struct pw {
    uint8_t *p;
    size_t n, cap;
    int oom;
} pw;

static uint8_t *pw_room(pw *w, size_t k) {
    if (w->oom) return NULL;
    size_t need;
    if (!grt_add_size(w->n, k, &need)) {
        w->oom = 1;
        return NULL;
    }
    if (need > w->cap) {
        size_t nc = w->cap ? w->cap : 1024;
        while (nc < need) {
            if (nc > SIZE_MAX / 2) {
                w->oom = 1;
                return NULL;
            }
            nc *= 2;
        }
        uint8_t *np = grt_realloc(w->p, nc);
        if (!np) {
            w->oom = 1;
            return NULL;
        }
        w->p = np;
        w->cap = nc;
    }
    uint8_t *r = w->p + w->n;
    w->n += k;
    return r;
}

static void pw_byte(pw *w, uint8_t b) {
    uint8_t *r = pw_room(w, 1);
    if (r) *r = b;
}

static void pw_raw(pw *w, const void *s, size_t n) {
    uint8_t *r = pw_room(w, n);
    if (r && n) memcpy(r, s, n);
}

static void pw_global(pw *w, const char *module, const char *name) {
    pw_byte(w, OP_GLOBAL);
    pw_raw(w, module, strlen(module));
    pw_byte(w, '\n');
    pw_raw(w, name, strlen(name));
    pw_byte(w, '\n');
}

static void pw_str(pw *w, const char *s) {
    size_t n = strlen(s);
    uint8_t *r = pw_room(w, 5);
    if (!r) return;
    r[0] = OP_BINUNICODE;
    grt_io_put_le32(r + 1, (uint32_t)n);
    pw_raw(w, s, n);
}

static void pw_int(pw *w, int64_t v) {
    if (v >= 0 && v < 256) {
        pw_byte(w, OP_BININT1);
        pw_byte(w, (uint8_t)v);
    } else if (v >= 0 && v < 65536) {
        uint8_t *r = pw_room(w, 3);
        if (r) {
            r[0] = OP_BININT2;
            grt_io_put_le16(r + 1, (uint16_t)v);
        }
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        uint8_t *r = pw_room(w, 5);
        if (r) {
            r[0] = OP_BININT;
            grt_io_put_le32(r + 1, (uint32_t)(int32_t)v);
        }
    } else {
        uint8_t *r = pw_room(w, 10);
        if (r) {
            r[0] = OP_LONG1;
            r[1] = 8;
            grt_io_put_le64(r + 2, (uint64_t)v);
        }
    }
}

/* bytes under protocol 2 are written the way Python 3 does it: _codecs.encode(s, 'latin1')
 * with s the latin-1 decoding of the bytes, as UTF-8 in a BINUNICODE. */
static void pw_bytes(pw *w, const uint8_t *b, size_t n) {
    if (n == 0) {
        pw_global(w, "__builtin__", "bytes");
        pw_byte(w, OP_EMPTY_TUPLE);
        pw_byte(w, OP_REDUCE);
        return;
    }
    size_t u = n;
    for (size_t i = 0; i < n; i++) u += b[i] >> 7;
    if (u > UINT32_MAX) {
        w->oom = 2;
        return;
    }
    pw_global(w, "_codecs", "encode");
    uint8_t *r = pw_room(w, 5 + u);
    if (!r) return;
    r[0] = OP_BINUNICODE;
    grt_io_put_le32(r + 1, (uint32_t)u);
    r += 5;
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x80) {
            *r++ = b[i];
        } else {
            *r++ = (uint8_t)(0xc0 | (b[i] >> 6));
            *r++ = (uint8_t)(0x80 | (b[i] & 0x3f));
        }
    }
    pw_str(w, "latin1");
    pw_byte(w, OP_TUPLE2);
    pw_byte(w, OP_REDUCE);
}

grt_status grt_pkl_array_write(const char *path, const grt_tensor *t) {
    if (!path || !t) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_pkl_array_write: NULL argument");
    /* numpy's dtype('<name>', False, True) then setstate (3, '<byteorder>', ...). */
    const char *code, *order;
    switch (t->dtype) {
    case GRT_F32: code = "f4"; order = "<"; break;
    case GRT_F64: code = "f8"; order = "<"; break;
    case GRT_F16: code = "f2"; order = "<"; break;
    case GRT_I64: code = "i8"; order = "<"; break;
    case GRT_I32: code = "i4"; order = "<"; break;
    case GRT_I16: code = "i2"; order = "<"; break;
    case GRT_I8: code = "i1"; order = "|"; break;
    case GRT_U8: code = "u1"; order = "|"; break;
    case GRT_BOOL: code = "b1"; order = "|"; break;
    default:
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: numpy has no %s dtype ---> HINT: convert the tensor to float32 first", path, grt_dtype_name(t->dtype));
    }
    size_t numel, nbytes;
    if (t->ndim < 0 || t->ndim > GRT_MAX_DIMS || !grt_io_shape_numel(t->ndim, t->shape, &numel) ||
        !grt_mul_size(numel, grt_dtype_size(t->dtype), &nbytes) || nbytes != t->nbytes || (nbytes && !t->data))
        return grt_error(GAITRT_ERR_INVALID_ARG, "%s: not a valid dense tensor to write", path);
    pw w = {0};
    pw_byte(&w, OP_PROTO);
    pw_byte(&w, 2);
    /* _reconstruct(ndarray, (0,), b'b') makes an empty array; BUILD then sets its state. */
    pw_global(&w, "numpy.core.multiarray", "_reconstruct");
    pw_global(&w, "numpy", "ndarray");
    pw_int(&w, 0);
    pw_byte(&w, OP_TUPLE1);
    pw_bytes(&w, (const uint8_t *)"b", 1);
    pw_byte(&w, OP_TUPLE3);
    pw_byte(&w, OP_REDUCE);
    /* state: (1, shape, dtype, is_fortran, rawdata) */
    pw_byte(&w, OP_MARK);
    pw_int(&w, 1);
    pw_byte(&w, OP_MARK);
    for (int i = 0; i < t->ndim; i++) pw_int(&w, t->shape[i]);
    pw_byte(&w, OP_TUPLE);
    pw_global(&w, "numpy", "dtype");
    pw_str(&w, code);
    pw_byte(&w, OP_FALSE);
    pw_byte(&w, OP_TRUE);
    pw_byte(&w, OP_TUPLE3);
    pw_byte(&w, OP_REDUCE);
    pw_byte(&w, OP_MARK);
    pw_int(&w, 3);
    pw_str(&w, order);
    pw_byte(&w, OP_NONE);
    pw_byte(&w, OP_NONE);
    pw_byte(&w, OP_NONE);
    pw_int(&w, -1);
    pw_int(&w, -1);
    pw_int(&w, 0);
    pw_byte(&w, OP_TUPLE);
    pw_byte(&w, OP_BUILD);
    pw_byte(&w, OP_FALSE);
    pw_bytes(&w, t->data, nbytes);
    pw_byte(&w, OP_TUPLE);
    pw_byte(&w, OP_BUILD);
    pw_byte(&w, OP_STOP);
    if (w.oom) {
        grt_free(w.p);
        if (w.oom == 2)
            return grt_error(GAITRT_ERR_LIMIT, "%s: array too large for a protocol-2 pickle (over 4 GiB of text) ---> HINT: write it as .npy instead", path);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory building the pickle", path);
    }
    grt_io_chunk ch = {w.p, w.n};
    grt_status st = grt_io_write_file(path, &ch, 1);
    grt_free(w.p);
    return st;
}
