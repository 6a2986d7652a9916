/*
 * npy.c — numpy's .npy files: the magic "\x93NUMPY", a version, a header that is a Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, then the raw
 * elements.
 *
 * We read format versions 1.0, 2.0 and 3.0 with the simple little-endian dtypes and gather
 * Fortran-order data into C order. We deliberately do not read structured dtypes, object
 * arrays, big-endian data or .npz archives, and the header parser understands only the
 * literal forms numpy writes.
 */
#include <stdio.h>

#include "io/io_internal.h"

/* numpy descr strings we accept and the dtype they give. */
static int npy_descr(const char *d, size_t n, grt_dtype *dt, int *big_endian) {
    *big_endian = 0;
    if (n < 2) return 0;
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') return 0;
    char kind = d[1];
    int size = 0;
    for (size_t i = 2; i < n; i++) {
        if (d[i] < '0' || d[i] > '9' || size > 100) return 0;
        size = size * 10 + (d[i] - '0');
    }
    if (order == '>' && size > 1) {
        *big_endian = 1;
        return 0;
    }
    switch (kind) {
    case 'f':
        if (size == 2) *dt = GRT_F16;
        else if (size == 4) *dt = GRT_F32;
        else if (size == 8) *dt = GRT_F64;
        else return 0;
        return 1;
    case 'i':
        if (size == 1) *dt = GRT_I8;
        else if (size == 2) *dt = GRT_I16;
        else if (size == 4) *dt = GRT_I32;
        else if (size == 8) *dt = GRT_I64;
        else return 0;
        return 1;
    case 'u':
        if (size != 1) return 0;
        *dt = GRT_U8;
        return 1;
    case 'b':
        if (size != 1) return 0;
        *dt = GRT_BOOL;
        return 1;
    }
    return 0;
}

/* ---- the header: a one-level dict literal --------------------------------------------------- */

typedef struct npy_lex {
    const char *p;
    size_t n, i;
} npy_lex;

static void npy_ws(npy_lex *l) {
    while (l->i < l->n && (l->p[l->i] == ' ' || l->p[l->i] == '\t' || l->p[l->i] == '\n' || l->p[l->i] == '\r')) l->i++;
}

static int npy_eat(npy_lex *l, char c) {
    npy_ws(l);
    if (l->i < l->n && l->p[l->i] == c) {
        l->i++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes (numpy never writes any in these keys and values). */
static int npy_str(npy_lex *l, const char **s, size_t *n) {
    npy_ws(l);
    if (l->i >= l->n || (l->p[l->i] != '\'' && l->p[l->i] != '"')) return 0;
    char q = l->p[l->i++];
    size_t st = l->i;
    while (l->i < l->n && l->p[l->i] != q) {
        if (l->p[l->i] == '\\') return 0;
        l->i++;
    }
    if (l->i >= l->n) return 0;
    *s = l->p + st;
    *n = l->i - st;
    l->i++;
    return 1;
}

static int npy_int(npy_lex *l, int64_t *v) {
    npy_ws(l);
    size_t st = l->i;
    int64_t x = 0;
    while (l->i < l->n && l->p[l->i] >= '0' && l->p[l->i] <= '9') {
        if (x > (INT64_MAX - 9) / 10) return 0;
        x = x * 10 + (l->p[l->i++] - '0');
    }
    if (l->i == st) return 0;
    if (l->i < l->n && l->p[l->i] == 'L') l->i++; /* Python 2 longs */
    *v = x;
    return 1;
}

static int npy_word(npy_lex *l, const char *w) {
    npy_ws(l);
    size_t k = strlen(w);
    if (l->n - l->i >= k && !memcmp(l->p + l->i, w, k)) {
        l->i += k;
        return 1;
    }
    return 0;
}

static grt_status npy_bad(const char *name, const char *what) {
    return grt_error(GAITRT_ERR_FORMAT, "%s: malformed .npy header: %s ---> HINT: the file is corrupt or not written by numpy", name, what);
}

grt_status grt_npy_read_mem(const uint8_t *buf, size_t len, const char *name, grt_tensor *out) {
    if (!out) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_npy_read_mem: out is NULL");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!buf || len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return grt_error(GAITRT_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", name);
    int major = buf[6];
    size_t hstart, hlen;
    if (major == 1) {
        hstart = 10;
        hlen = grt_io_le16(buf + 8);
    } else if (major == 2 || major == 3) {
        if (len < 12) return npy_bad(name, "truncated");
        hstart = 12;
        hlen = grt_io_le32(buf + 8);
    } else {
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported (1.0-3.0 are)", name, major, buf[7]);
    }
    if (!grt_io_range_ok(len, hstart, hlen))
        return grt_error(GAITRT_ERR_FORMAT, "%s: .npy header of %zu bytes runs past the end of the file ---> HINT: the file is truncated", name, hlen);
    npy_lex l = {(const char *)buf + hstart, hlen, 0};
    const char *descr = NULL;
    size_t descr_n = 0;
    int have_fortran = 0, fortran = 0, have_shape = 0, nd = 0;
    int64_t shape[GRT_MAX_DIMS];
    if (!npy_eat(&l, '{')) return npy_bad(name, "expected '{'");
    while (!npy_eat(&l, '}')) {
        const char *k;
        size_t kn;
        if (!npy_str(&l, &k, &kn) || !npy_eat(&l, ':')) return npy_bad(name, "expected a quoted key and ':'");
        if (kn == 5 && !memcmp(k, "descr", 5)) {
            if (!npy_str(&l, &descr, &descr_n)) {
                npy_ws(&l);
                if (l.i < l.n && l.p[l.i] == '[')
                    return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: structured .npy arrays are not supported ---> HINT: save each field as its own array", name);
                return npy_bad(name, "descr is not a string");
            }
        } else if (kn == 13 && !memcmp(k, "fortran_order", 13)) {
            if (npy_word(&l, "True"))
                fortran = 1;
            else if (!npy_word(&l, "False"))
                return npy_bad(name, "fortran_order is not True or False");
            have_fortran = 1;
        } else if (kn == 5 && !memcmp(k, "shape", 5)) {
            if (!npy_eat(&l, '(')) return npy_bad(name, "shape is not a tuple");
            while (!npy_eat(&l, ')')) {
                int64_t v;
                if (nd >= GRT_MAX_DIMS)
                    return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: .npy array has more than %d dimensions", name, GRT_MAX_DIMS);
                if (!npy_int(&l, &v)) return npy_bad(name, "shape holds a non-integer");
                shape[nd++] = v;
                if (!npy_eat(&l, ',')) {
                    if (!npy_eat(&l, ')')) return npy_bad(name, "expected ',' or ')' in shape");
                    break;
                }
            }
            have_shape = 1;
        } else {
            return npy_bad(name, "unknown key");
        }
        if (!npy_eat(&l, ',')) {
            if (!npy_eat(&l, '}')) return npy_bad(name, "expected ',' or '}'");
            break;
        }
    }
    if (!descr || !have_fortran || !have_shape) return npy_bad(name, "descr, fortran_order or shape missing");
    grt_dtype dt;
    int big;
    if (!npy_descr(descr, descr_n, &dt, &big)) {
        if (big)
            return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: .npy array is big-endian ('%.*s') ---> HINT: re-save it little-endian: np.save(f, a.astype(a.dtype.newbyteorder('<')))", name, (int)(descr_n > 32 ? 32 : descr_n), descr);
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: .npy dtype '%.*s' is not supported (f2 f4 f8 i1 i2 i4 i8 u1 b1 are) ---> HINT: convert it with a.astype(np.float32)", name, (int)(descr_n > 32 ? 32 : descr_n), descr);
    }
    size_t numel, nbytes;
    if (!grt_io_shape_numel(nd, shape, &numel) || !grt_mul_size(numel, grt_dtype_size(dt), &nbytes))
        return grt_error(GAITRT_ERR_LIMIT, "%s: .npy shape is too large", name);
    size_t dstart = hstart + hlen;
    if (len - dstart != nbytes) {
        char sh[128];
        return grt_error(GAITRT_ERR_FORMAT, "%s: .npy data has %zu bytes, shape %s of %s needs %zu ---> HINT: the file is truncated or corrupt", name, len - dstart, grt_shape_str(nd, shape, sh, sizeof sh), grt_dtype_name(dt), nbytes);
    }
    grt_status st = grt_tensor_alloc(out, dt, nd, shape);
    if (st) return grt_error_prefix(st, "%s: ", name);
    if (numel == 0) return GRT_OK; /* an empty dimension may sit beside huge ones: no strides to compute */
    if (!fortran || nd < 2) {
        memcpy(out->data, buf + dstart, nbytes);
        return GRT_OK;
    }
    int64_t stride[GRT_MAX_DIMS], s = 1;
    for (int i = 0; i < nd; i++) {
        stride[i] = s;
        s *= shape[i];
    }
    grt_io_gather(out->data, dt, buf + dstart, dt, nd, shape, stride, 0);
    return GRT_OK;
}

grt_status grt_npy_read(const char *path, grt_tensor *out) {
    if (!out) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_npy_read: out is NULL");
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    grt_status st = grt_io_read_all(path, &buf, &len);
    if (st) return st;
    st = grt_npy_read_mem(buf, len, path, out);
    grt_free(buf);
    return st;
}

/* numpy's descr for our dtypes; NULL for bfloat16, which numpy does not have. */
static const char *npy_descr_of(grt_dtype dt) {
    switch (dt) {
    case GRT_F32: return "<f4";
    case GRT_F64: return "<f8";
    case GRT_F16: return "<f2";
    case GRT_I64: return "<i8";
    case GRT_I32: return "<i4";
    case GRT_I16: return "<i2";
    case GRT_I8: return "|i1";
    case GRT_U8: return "|u1";
    case GRT_BOOL: return "|b1";
    default: return NULL;
    }
}

grt_status grt_npy_write(const char *path, const grt_tensor *t) {
    if (!path || !t) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_npy_write: NULL argument");
    const char *d = npy_descr_of(t->dtype);
    if (!d)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: numpy has no %s dtype ---> HINT: convert the tensor to float32 first", path, grt_dtype_name(t->dtype));
    size_t numel, nbytes;
    if (t->ndim < 0 || t->ndim > GRT_MAX_DIMS || !grt_io_shape_numel(t->ndim, t->shape, &numel) ||
        !grt_mul_size(numel, grt_dtype_size(t->dtype), &nbytes) || nbytes != t->nbytes || (nbytes && !t->data))
        return grt_error(GAITRT_ERR_INVALID_ARG, "%s: not a valid dense tensor to write", path);
    char hdr[512];
    int k = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", d);
    for (int i = 0; i < t->ndim; i++) k += snprintf(hdr + k, sizeof hdr - (size_t)k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    k += snprintf(hdr + k, sizeof hdr - (size_t)k, t->ndim == 1 ? ",), }" : "), }");
    /* numpy pads with spaces and a final newline so the data starts 64-byte aligned. */
    size_t total = 10 + (size_t)k + 1;
    size_t pad = (64 - total % 64) % 64;
    uint8_t pre[10];
    memcpy(pre, "\x93NUMPY\x01\x00", 8);
    grt_io_put_le16(pre + 8, (uint16_t)((size_t)k + pad + 1));
    char full[512 + 64 + 2];
    memcpy(full, hdr, (size_t)k);
    memset(full + k, ' ', pad);
    full[(size_t)k + pad] = '\n';
    grt_io_chunk ch[3] = {{pre, 10}, {full, (size_t)k + pad + 1}, {t->data, nbytes}};
    return grt_io_write_file(path, ch, 3);
}
