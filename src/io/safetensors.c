/*
 * safetensors.c — reading and writing safetensors files: an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
 * the raw little-endian tensor bytes.
 *
 * We validate what the format promises (offsets in range, consistent with shape and dtype,
 * not overlapping) and read nothing but dense tensors; we do not write metadata beyond
 * {"format": "pt"}, and we do not mmap.
 */
#include <stdio.h>
#include <stdlib.h>

#include "io/io_internal.h"
#include "io/json.h"

/* The safetensors reference implementation refuses headers above 100 MB; so do we. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)

static const struct {
    const char *name;
    grt_dtype dt;
} st_dtypes[] = {
    {"F32", GRT_F32}, {"F16", GRT_F16}, {"BF16", GRT_BF16}, {"F64", GRT_F64}, {"I64", GRT_I64},
    {"I32", GRT_I32}, {"I16", GRT_I16}, {"I8", GRT_I8},     {"U8", GRT_U8},   {"BOOL", GRT_BOOL},
};

static int st_dtype(const char *s, grt_dtype *dt) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(s, st_dtypes[i].name)) {
            *dt = st_dtypes[i].dt;
            return 1;
        }
    return 0;
}

static const char *st_dtype_name(grt_dtype dt) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
    return NULL;
}

typedef struct st_span {
    uint64_t begin, end;
    const char *name;
} st_span;

static int st_span_cmp(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

grt_status grt_io_safetensors_load(const uint8_t *buf, size_t len, const char *name, grt_state_dict *sd) {
    if (len < 8) return grt_error(GAITRT_ERR_FORMAT, "%s: too short for a safetensors file", name);
    uint64_t hlen = grt_io_le64(buf);
    if (hlen > ST_MAX_HEADER)
        return grt_error(GAITRT_ERR_LIMIT, "%s: safetensors header of %llu bytes exceeds the %llu-byte limit", name, (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen > len - 8)
        return grt_error(GAITRT_ERR_FORMAT, "%s: safetensors header of %llu bytes runs past the end of the %zu-byte file ---> HINT: the file is truncated", name, (unsigned long long)hlen, len);
    const uint8_t *data = buf + 8 + hlen;
    size_t dlen = len - 8 - (size_t)hlen;
    grt_pk_arena a;
    grt_pk_arena_init(&a, ((size_t)16 << 20) + 16 * (size_t)hlen);
    grt_json *root;
    st_span *spans = NULL;
    grt_status st = grt_json_parse(&a, (const char *)buf + 8, (size_t)hlen, name, &root);
    if (st) goto done;
    if (root->kind != GRT_JSON_OBJ) {
        st = grt_error(GAITRT_ERR_FORMAT, "%s: safetensors header is not a JSON object", name);
        goto done;
    }
    if (root->count > GRT_IO_MAX_TENSORS + 1) {
        st = grt_error(GAITRT_ERR_LIMIT, "%s: more than %d tensors", name, GRT_IO_MAX_TENSORS);
        goto done;
    }
    spans = grt_calloc(root->count ? root->count : 1, sizeof *spans);
    if (!spans) {
        st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    size_t nspans = 0;
    for (const grt_json *m = root->child; m && !st; m = m->next) {
        if (!strcmp(m->key, "__metadata__")) continue;
        const grt_json *jd = grt_json_get(m, "dtype"), *js = grt_json_get(m, "shape"), *jo = grt_json_get(m, "data_offsets");
        if (!jd || jd->kind != GRT_JSON_STR || !js || js->kind != GRT_JSON_ARR || !jo || jo->kind != GRT_JSON_ARR || jo->count != 2) {
            st = grt_error(GAITRT_ERR_FORMAT, "%s: tensor '%.200s' lacks dtype, shape or data_offsets in the safetensors header", name, m->key);
            break;
        }
        grt_dtype dt;
        if (!st_dtype(jd->str, &dt)) {
            st = grt_error(GAITRT_ERR_UNSUPPORTED, "%s: tensor '%.200s' has dtype %.32s (supported: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL)", name, m->key, jd->str);
            break;
        }
        if (js->count > GRT_MAX_DIMS) {
            st = grt_error(GAITRT_ERR_UNSUPPORTED, "%s: tensor '%.200s' has %zu dimensions (at most %d)", name, m->key, js->count, GRT_MAX_DIMS);
            break;
        }
        int64_t shape[GRT_MAX_DIMS];
        int nd = 0;
        for (const grt_json *e = js->child; e; e = e->next) {
            if (e->kind != GRT_JSON_NUM || !e->is_int || e->i < 0) {
                st = grt_error(GAITRT_ERR_FORMAT, "%s: tensor '%.200s' has a shape entry that is not a non-negative integer", name, m->key);
                break;
            }
            shape[nd++] = e->i;
        }
        if (st) break;
        const grt_json *b = jo->child, *e = b->next;
        size_t numel, nbytes;
        if (b->kind != GRT_JSON_NUM || !b->is_int || e->kind != GRT_JSON_NUM || !e->is_int || b->i < 0 || e->i < b->i ||
            (uint64_t)e->i > dlen) {
            st = grt_error(GAITRT_ERR_FORMAT, "%s: tensor '%.200s' has data_offsets outside the %zu data bytes ---> HINT: the file is truncated or corrupt", name, m->key, dlen);
            break;
        }
        if (!grt_io_shape_numel(nd, shape, &numel) || !grt_mul_size(numel, grt_dtype_size(dt), &nbytes) ||
            nbytes != (uint64_t)(e->i - b->i)) {
            char sh[128];
            st = grt_error(GAITRT_ERR_FORMAT, "%s: tensor '%.200s' of shape %s and dtype %s covers %lld bytes, which does not match its shape", name, m->key, grt_shape_str(nd, shape, sh, sizeof sh), jd->str, (long long)(e->i - b->i));
            break;
        }
        if (e->i > b->i) spans[nspans++] = (st_span){(uint64_t)b->i, (uint64_t)e->i, m->key}; /* empty ones cannot overlap */
        grt_tensor t;
        memset(&t, 0, sizeof t);
        grt_dtype dst = grt_io_is_float(dt) ? GRT_F32 : dt;
        if ((st = grt_tensor_alloc(&t, dst, nd, shape))) {
            grt_error_prefix(st, "%s: tensor '%.200s': ", name, m->key);
            break;
        }
        t.src_dtype = dt;
        grt_io_convert(t.data, dst, data + b->i, dt, numel);
        t.name = grt_strdup(m->key);
        if (!t.name) {
            grt_tensor_release(&t);
            st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        if ((st = grt_io_sd_add(sd, &t))) grt_tensor_release(&t);
    }
    if (st) goto done;
    qsort(spans, nspans, sizeof *spans, st_span_cmp);
    for (size_t i = 1; i < nspans; i++) {
        if (spans[i].begin < spans[i - 1].end) {
            st = grt_error(GAITRT_ERR_FORMAT, "%s: tensors '%.200s' and '%.200s' overlap in the data section ---> HINT: the file is corrupt or hostile", name, spans[i - 1].name, spans[i].name);
            break;
        }
    }
done:
    grt_free(spans);
    grt_pk_arena_free(&a);
    return st;
}

grt_status grt_safetensors_write(const grt_state_dict *sd, const char *path) {
    if (!sd || !path) return grt_error(GAITRT_ERR_INVALID_ARG, "grt_safetensors_write: NULL argument");
    grt_io_sb h = {0};
    grt_io_sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < sd->n; i++) {
        const grt_tensor *t = &sd->t[i];
        const char *dn = st_dtype_name(t->dtype);
        size_t numel, nbytes;
        if (!t->name || !dn || !grt_io_shape_numel(t->ndim, t->shape, &numel) ||
            !grt_mul_size(numel, grt_dtype_size(t->dtype), &nbytes) || nbytes != t->nbytes || (nbytes && !t->data)) {
            grt_io_sb_free(&h);
            return grt_error(GAITRT_ERR_INVALID_ARG, "%s: tensor %d ('%s') is not a valid dense tensor to write", path, i, t->name ? t->name : "?");
        }
        grt_io_sb_printf(&h, ",");
        grt_io_sb_json_str(&h, t->name);
        grt_io_sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dn);
        for (int d = 0; d < t->ndim; d++) grt_io_sb_printf(&h, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        grt_io_sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + nbytes));
        off += nbytes;
    }
    grt_io_sb_printf(&h, "}");
    /* Readers like the data to start 8-byte aligned; JSON allows trailing spaces. */
    while (!h.oom && (h.n % 8) != 0) grt_io_sb_printf(&h, " ");
    if (h.oom) {
        grt_io_sb_free(&h);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    grt_io_chunk *ch = grt_calloc((size_t)sd->n + 2, sizeof *ch);
    if (!ch) {
        grt_io_sb_free(&h);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", path);
    }
    uint8_t lenbuf[8];
    grt_io_put_le64(lenbuf, h.n);
    ch[0] = (grt_io_chunk){lenbuf, 8};
    ch[1] = (grt_io_chunk){h.p, h.n};
    for (int i = 0; i < sd->n; i++) ch[i + 2] = (grt_io_chunk){sd->t[i].data, sd->t[i].nbytes};
    grt_status st = grt_io_write_file(path, ch, sd->n + 2);
    grt_free(ch);
    grt_io_sb_free(&h);
    return st;
}
