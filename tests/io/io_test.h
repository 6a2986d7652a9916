/* io_test.h — code shared by the tests of src/io/: a byte builder for hand-made pickles
 * and zips, a small zip writer, the GRTREF01 reference reader (written by
 * tests/reference/io_make_fixtures.py), tensor comparison and a failing allocator.
 *
 * Test-only code: it may print and exit; the library never does. */
#ifndef GRT_IO_TEST_H
#define GRT_IO_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/io.h"
#include "test_util.h"

/* ---- files --------------------------------------------------------------------------- */

static inline uint8_t *tio_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static inline int tio_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static inline int tio_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* $GRT_REF_DIR/io when the Python fixtures were written there, else NULL. */
static inline const char *tio_fixture_dir_or_null(void) {
    static char dir[1024];
    const char *r = grt_test_env("GRT_REF_DIR", NULL);
    if (!r) return NULL;
    snprintf(dir, sizeof dir, "%s/io", r);
    char ok[1100];
    snprintf(ok, sizeof ok, "%s/fixtures.ok", dir);
    return tio_exists(ok) ? dir : NULL;
}

/* The fixture directory, or the end of the test: failures so far fail it, otherwise it is
 * reported as skipped (exit 77) with a visible SKIPPED line. */
static inline const char *tio_fixture_dir_or_finish(const char *test) {
    const char *d = tio_fixture_dir_or_null();
    if (d) return d;
    if (grt_test_failures) exit(grt_test_finish(test));
    TEST_SKIP("%s: python fixtures missing in $GRT_REF_DIR/io (torch or numpy not installed?)", test);
    return NULL;
}

/* dir/name in one of four rotating static buffers (enough for one call's arguments). */
static inline const char *tio_path(const char *dir, const char *name) {
    static char buf[4][2048];
    static int k;
    k = (k + 1) % 4;
    size_t a = strlen(dir), b = strlen(name);
    if (a + b + 2 > sizeof buf[k]) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        exit(1);
    }
    memcpy(buf[k], dir, a);
    buf[k][a] = '/';
    memcpy(buf[k] + a + 1, name, b + 1);
    return buf[k];
}

/* The error text names the file (every loader promises it). */
#define CHECK_ERR(st_expr, want, name)                                                                    \
    do {                                                                                                  \
        gaitrt_status st_ = (st_expr);                                                                    \
        CHECK_MSG(st_ == (want), "status %d (%s), wanted %d: %s", st_, gaitrt_status_str(st_), (want),     \
                  gaitrt_last_error());                                                                   \
        CHECK_MSG(strstr(gaitrt_last_error(), (name)) != NULL, "error does not name '%s': %s", (name),   \
                  gaitrt_last_error());                                                                   \
    } while (0)

/* ---- a byte builder ------------------------------------------------------------------- */

typedef struct tb {
    uint8_t *p;
    size_t n, cap;
} tb;

static inline void tb_raw(tb *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n) nc *= 2;
        b->p = realloc(b->p, nc);
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}
static inline void tb_u8(tb *b, unsigned v) {
    uint8_t c = (uint8_t)v;
    tb_raw(b, &c, 1);
}
static inline void tb_u16(tb *b, unsigned v) {
    tb_u8(b, v & 0xff);
    tb_u8(b, (v >> 8) & 0xff);
}
static inline void tb_u32(tb *b, uint32_t v) {
    for (int i = 0; i < 4; i++) tb_u8(b, (v >> (8 * i)) & 0xff);
}
static inline void tb_u64(tb *b, uint64_t v) {
    for (int i = 0; i < 8; i++) tb_u8(b, (unsigned)((v >> (8 * i)) & 0xff));
}
static inline void tb_s(tb *b, const char *s) { tb_raw(b, s, strlen(s)); }
/* A string literal with embedded NULs, counted by the compiler. */
#define TB_LIT(b, lit) tb_raw((b), (lit), sizeof(lit) - 1)
static inline void tb_free(tb *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Pickle pieces. */
static inline void pk_global(tb *b, const char *m, const char *n) {
    tb_u8(b, 'c');
    tb_s(b, m);
    tb_u8(b, '\n');
    tb_s(b, n);
    tb_u8(b, '\n');
}
static inline void pk_ustr(tb *b, const char *s) { /* BINUNICODE */
    tb_u8(b, 'X');
    tb_u32(b, (uint32_t)strlen(s));
    tb_s(b, s);
}
static inline void pk_int(tb *b, int64_t v) {
    if (v >= 0 && v < 256) {
        tb_u8(b, 'K');
        tb_u8(b, (unsigned)v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        tb_u8(b, 'J');
        tb_u32(b, (uint32_t)(int32_t)v);
    } else {
        tb_u8(b, 0x8a);
        tb_u8(b, 8);
        tb_u64(b, (uint64_t)v);
    }
}
static inline void pk_ints_tuple(tb *b, int n, const int64_t *v) {
    tb_u8(b, '(');
    for (int i = 0; i < n; i++) pk_int(b, v[i]);
    tb_u8(b, 't');
}

/* ('storage', torch.<cls>, key, 'cpu', numel) BINPERSID */
static inline void pk_storage(tb *b, const char *cls, const char *key, int64_t numel) {
    tb_u8(b, '(');
    pk_ustr(b, "storage");
    pk_global(b, "torch", cls);
    pk_ustr(b, key);
    pk_ustr(b, "cpu");
    pk_int(b, numel);
    tb_u8(b, 't');
    tb_u8(b, 'Q');
}

/* _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) */
static inline void pk_tensor(tb *b, const char *cls, const char *key, int64_t numel, int64_t off, int nd,
                             const int64_t *size, const int64_t *stride) {
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    tb_u8(b, '(');
    pk_storage(b, cls, key, numel);
    pk_int(b, off);
    pk_ints_tuple(b, nd, size);
    pk_ints_tuple(b, nd, stride);
    tb_u8(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    tb_u8(b, ')');
    tb_u8(b, 'R');
    tb_u8(b, 't');
    tb_u8(b, 'R');
}

/* ---- a zip writer (stored or deflated entries, optional zip64 records) ------------------- */

typedef struct tzip_entry {
    const char *name;
    const uint8_t *data;
    size_t len;
    int deflate;
    int64_t fake_size; /* >= 0: declare this uncompressed size instead of the real one */
} tzip_entry;

static inline size_t tz_deflate(const uint8_t *in, size_t n, uint8_t **out) {
    z_stream s;
    memset(&s, 0, sizeof s);
    deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&s, n) + 16;
    *out = malloc(cap);
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    s.next_out = *out;
    s.avail_out = (uInt)cap;
    deflate(&s, Z_FINISH);
    size_t k = s.total_out;
    deflateEnd(&s);
    return k;
}

/* Writes entries into b; zip64: always add zip64 extra fields and end records (as torch). */
static inline void tzip_build(tb *b, const tzip_entry *e, int n, int zip64) {
    uint64_t *off = calloc((size_t)n, sizeof *off), *csz = calloc((size_t)n, sizeof *csz);
    uint32_t *crc = calloc((size_t)n, sizeof *crc);
    for (int i = 0; i < n; i++) {
        uint8_t *comp = NULL;
        const uint8_t *d = e[i].data;
        size_t dl = e[i].len;
        if (e[i].deflate) {
            dl = tz_deflate(e[i].data, e[i].len, &comp);
            d = comp;
        }
        crc[i] = (uint32_t)crc32(0, e[i].data, (uInt)e[i].len);
        csz[i] = dl;
        off[i] = b->n;
        tb_u32(b, 0x04034b50);
        tb_u16(b, 20);
        tb_u16(b, 0);
        tb_u16(b, e[i].deflate ? 8 : 0);
        tb_u32(b, 0);
        tb_u32(b, crc[i]);
        tb_u32(b, (uint32_t)dl);
        tb_u32(b, (uint32_t)(e[i].fake_size >= 0 ? (uint64_t)e[i].fake_size : e[i].len));
        tb_u16(b, (unsigned)strlen(e[i].name));
        tb_u16(b, 0);
        tb_s(b, e[i].name);
        tb_raw(b, d, dl);
        free(comp);
    }
    uint64_t cd = b->n;
    for (int i = 0; i < n; i++) {
        uint64_t usz = e[i].fake_size >= 0 ? (uint64_t)e[i].fake_size : e[i].len;
        int big = zip64 || usz >= 0xffffffffu;
        tb_u32(b, 0x02014b50);
        tb_u16(b, 45);
        tb_u16(b, 45);
        tb_u16(b, 0);
        tb_u16(b, e[i].deflate ? 8 : 0);
        tb_u32(b, 0);
        tb_u32(b, crc[i]);
        tb_u32(b, big ? 0xffffffffu : (uint32_t)csz[i]);
        tb_u32(b, big ? 0xffffffffu : (uint32_t)usz);
        tb_u16(b, (unsigned)strlen(e[i].name));
        tb_u16(b, big ? 28 : 0);
        tb_u16(b, 0);
        tb_u16(b, 0);
        tb_u16(b, 0);
        tb_u32(b, 0);
        tb_u32(b, big ? 0xffffffffu : (uint32_t)off[i]);
        tb_s(b, e[i].name);
        if (big) {
            tb_u16(b, 1);
            tb_u16(b, 24);
            tb_u64(b, usz);
            tb_u64(b, csz[i]);
            tb_u64(b, off[i]);
        }
    }
    uint64_t cd_size = b->n - cd;
    if (zip64) {
        uint64_t z64 = b->n;
        tb_u32(b, 0x06064b50);
        tb_u64(b, 44);
        tb_u16(b, 45);
        tb_u16(b, 45);
        tb_u32(b, 0);
        tb_u32(b, 0);
        tb_u64(b, (uint64_t)n);
        tb_u64(b, (uint64_t)n);
        tb_u64(b, cd_size);
        tb_u64(b, cd);
        tb_u32(b, 0x07064b50);
        tb_u32(b, 0);
        tb_u64(b, z64);
        tb_u32(b, 1);
    }
    tb_u32(b, 0x06054b50);
    tb_u16(b, 0);
    tb_u16(b, 0);
    tb_u16(b, zip64 ? 0xffff : (unsigned)n);
    tb_u16(b, zip64 ? 0xffff : (unsigned)n);
    tb_u32(b, zip64 ? 0xffffffffu : (uint32_t)cd_size);
    tb_u32(b, zip64 ? 0xffffffffu : (uint32_t)cd);
    tb_u16(b, 0);
    free(off);
    free(csz);
    free(crc);
}

/* A torch-style checkpoint zip: archive/data.pkl plus archive/data/<k> storages. */
static inline void tzip_torch(tb *out, const tb *pkl, int n_storages, const char *const *keys,
                              const uint8_t *const *data, const size_t *lens) {
    tzip_entry e[16];
    char names[16][64];
    int n = 0;
    e[n++] = (tzip_entry){"archive/data.pkl", pkl->p, pkl->n, 0, -1};
    for (int i = 0; i < n_storages && n < 15; i++) {
        snprintf(names[n], sizeof names[n], "archive/data/%s", keys[i]);
        e[n] = (tzip_entry){names[n], data[i], lens[i], 0, -1};
        n++;
    }
    e[n++] = (tzip_entry){"archive/version", (const uint8_t *)"3\n", 2, 0, -1};
    tzip_build(out, e, n, 1);
}

/* ---- GRTREF01 references ---------------------------------------------------------------- */

typedef struct tref {
    char name[256], dtype[16], src[16];
    int ndim;
    int64_t shape[8];
    uint8_t *data;
    size_t nbytes;
} tref;

typedef struct tref_set {
    int n;
    tref *r;
} tref_set;

static inline int tref_load(const char *path, tref_set *s) {
    memset(s, 0, sizeof *s);
    size_t len;
    uint8_t *b = tio_read(path, &len);
    if (!b) return 0;
    size_t p = 0;
#define TAKE(dst, k)                                     \
    do {                                                 \
        if (p + (k) > len) goto bad;                     \
        memcpy((dst), b + p, (k));                       \
        p += (k);                                        \
    } while (0)
    char magic[8];
    uint32_t ver, n;
    TAKE(magic, 8);
    if (memcmp(magic, "GRTREF01", 8)) goto bad;
    TAKE(&ver, 4);
    TAKE(&n, 4);
    if (ver != 1 || n > 100000) goto bad;
    s->r = calloc(n ? n : 1, sizeof *s->r);
    s->n = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        tref *r = &s->r[i];
        uint32_t k;
        TAKE(&k, 4);
        if (k >= sizeof r->name) goto bad;
        TAKE(r->name, k);
        TAKE(&k, 4);
        if (k >= sizeof r->dtype) goto bad;
        TAKE(r->dtype, k);
        TAKE(&k, 4);
        if (k >= sizeof r->src) goto bad;
        TAKE(r->src, k);
        uint32_t nd;
        TAKE(&nd, 4);
        if (nd > 8) goto bad;
        r->ndim = (int)nd;
        TAKE(r->shape, 8 * nd);
        uint64_t nb;
        TAKE(&nb, 8);
        if (nb > len - p) goto bad;
        r->data = malloc(nb ? nb : 1);
        TAKE(r->data, nb);
        r->nbytes = nb;
    }
#undef TAKE
    free(b);
    return 1;
bad:
    free(b);
    fprintf(stderr, "bad reference file %s\n", path);
    return 0;
}

static inline void tref_free(tref_set *s) {
    for (int i = 0; i < s->n; i++) free(s->r[i].data);
    free(s->r);
    memset(s, 0, sizeof *s);
}

/* Exact comparison: every conversion on load is exact or rounds like torch's .float(). */
static inline int tref_match(const grt_tensor *t, const tref *r, const char *what) {
    int ok = 1;
    if (strcmp(grt_dtype_name(t->dtype), r->dtype) || strcmp(grt_dtype_name(t->src_dtype), r->src)) {
        fprintf(stderr, "%s: dtype %s (src %s), want %s (src %s)\n", what, grt_dtype_name(t->dtype),
                grt_dtype_name(t->src_dtype), r->dtype, r->src);
        ok = 0;
    }
    if (t->ndim != r->ndim || memcmp(t->shape, r->shape, sizeof(int64_t) * (size_t)r->ndim)) {
        char a[128], b[128];
        fprintf(stderr, "%s: shape %s, want %s\n", what, grt_shape_str(t->ndim, t->shape, a, sizeof a),
                grt_shape_str(r->ndim, r->shape, b, sizeof b));
        ok = 0;
    }
    if (ok && (t->nbytes != r->nbytes || memcmp(t->data, r->data, r->nbytes))) {
        fprintf(stderr, "%s: data differs (%zu vs %zu bytes)\n", what, t->nbytes, r->nbytes);
        if (t->dtype == GRT_F32 && t->nbytes == r->nbytes) {
            const float *a = t->data, *b = (const float *)r->data;
            for (size_t i = 0, shown = 0; i < t->nbytes / 4 && shown < 4; i++)
                if (a[i] != b[i]) {
                    fprintf(stderr, "   [%zu] %.9g vs %.9g\n", i, a[i], b[i]);
                    shown++;
                }
        }
        ok = 0;
    }
    return ok;
}

/* ---- a failing allocator: the N-th allocation (0-based) and all after it fail ----------- */

typedef struct tfail {
    long count, fail_at;
} tfail;

static inline void *tfail_malloc(size_t n, void *u) {
    tfail *f = u;
    if (f->fail_at >= 0 && f->count++ >= f->fail_at) return NULL;
    return malloc(n);
}
static inline void *tfail_realloc(void *p, size_t n, void *u) {
    tfail *f = u;
    if (f->fail_at >= 0 && f->count++ >= f->fail_at) return NULL;
    return realloc(p, n);
}
static inline void tfail_free(void *p, void *u) {
    (void)u;
    free(p);
}

#endif /* GRT_IO_TEST_H */
