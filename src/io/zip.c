/*
 * zip.c — read-only zip parsing over one in-memory buffer (see zip.h).
 *
 * We trust nothing in the archive: every offset and size is checked against the buffer
 * before it is used, zip64 fields are honoured only where the 32-bit field says so, and a
 * deflated entry must inflate to exactly its declared size within a ratio limit. This is
 * deliberately not a streaming reader and never writes.
 */
#include <stdlib.h>
#include <zlib.h>

#include "io/io_internal.h"
#include "io/zip.h"

#define ZIP_SIG_LOCAL 0x04034b50u
#define ZIP_SIG_CENTRAL 0x02014b50u
#define ZIP_SIG_EOCD 0x06054b50u
#define ZIP_SIG_EOCD64 0x06064b50u
#define ZIP_SIG_LOC64 0x07064b50u

/* Finds the end-of-central-directory record: the last signature whose comment length fits
 * the buffer. The comment is at most 65535 bytes, so we search no further back. */
static int zip_find_eocd(const uint8_t *buf, size_t len, size_t *pos) {
    if (len < 22) return 0;
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t p = len - 22 + 1; p-- > lo;) {
        if (grt_io_le32(buf + p) != ZIP_SIG_EOCD) continue;
        size_t clen = grt_io_le16(buf + p + 20);
        if (p + 22 + clen <= len) {
            *pos = p;
            return 1;
        }
    }
    return 0;
}

/* Replaces the 32-bit fields that say 0xFFFFFFFF with the 64-bit values of the zip64 extra
 * field (id 0x0001), which lists them in a fixed order and only when needed. */
static grt_status zip_apply_zip64_extra(const grt_zip *z, const uint8_t *x, size_t xlen, uint64_t *size,
                                        uint64_t *csize, uint64_t *off, int need_size, int need_csize, int need_off) {
    size_t p = 0;
    while (p + 4 <= xlen) {
        uint16_t id = grt_io_le16(x + p), sz = grt_io_le16(x + p + 2);
        if (sz > xlen - p - 4) return grt_error(GAITRT_ERR_FORMAT, "%s: zip extra field runs past its entry", z->name);
        if (id == 0x0001) {
            const uint8_t *q = x + p + 4;
            size_t left = sz;
            uint64_t *dst[3] = {size, csize, off};
            int need[3] = {need_size, need_csize, need_off};
            for (int i = 0; i < 3; i++) {
                if (!need[i]) continue;
                if (left < 8) return grt_error(GAITRT_ERR_FORMAT, "%s: zip64 extra field too short", z->name);
                *dst[i] = grt_io_le64(q);
                q += 8;
                left -= 8;
            }
            return GRT_OK;
        }
        p += 4 + (size_t)sz;
    }
    if (need_size || need_csize || need_off)
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip entry needs a zip64 extra field but has none", z->name);
    return GRT_OK;
}

static int zip_name_cmp(const grt_zip_entry *a, const grt_zip_entry *b) {
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c) return c;
    return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/* qsort has no context argument, so we sort pointers into the entry array. */
static int zip_ptr_cmp(const void *pa, const void *pb) {
    return zip_name_cmp(*(const grt_zip_entry *const *)pa, *(const grt_zip_entry *const *)pb);
}

static grt_status zip_parse_entry(grt_zip *z, size_t *p, size_t cd_end, grt_zip_entry *e) {
    const uint8_t *b = z->buf;
    size_t q = *p;
    if (q + 46 > cd_end || grt_io_le32(b + q) != ZIP_SIG_CENTRAL)
        return grt_error(GAITRT_ERR_FORMAT, "%s: corrupt zip central directory at offset %zu ---> HINT: the file is truncated or not a zip archive", z->name, q);
    uint16_t flags = grt_io_le16(b + q + 8), method = grt_io_le16(b + q + 10);
    uint32_t crc = grt_io_le32(b + q + 16);
    uint64_t csize = grt_io_le32(b + q + 20), size = grt_io_le32(b + q + 24);
    size_t nlen = grt_io_le16(b + q + 28), xlen = grt_io_le16(b + q + 30), clen = grt_io_le16(b + q + 32);
    uint16_t disk = grt_io_le16(b + q + 34);
    uint64_t lh = grt_io_le32(b + q + 42);
    if (q + 46 + nlen + xlen + clen > cd_end)
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip central directory entry runs past the directory", z->name);
    const char *name = (const char *)(b + q + 46);
    const uint8_t *extra = b + q + 46 + nlen;
    grt_status st = zip_apply_zip64_extra(z, extra, xlen, &size, &csize, &lh, size == 0xffffffffu,
                                          csize == 0xffffffffu, lh == 0xffffffffu);
    if (st) return st;
    if (flags & 0x41)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: zip entry '%.*s' is encrypted ---> HINT: re-create the archive without a password", z->name, (int)(nlen > 200 ? 200 : nlen), name);
    if (disk != 0 && disk != 0xffff)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", z->name);
    if (method != 0 && method != 8)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: zip entry '%.*s' uses compression method %u (only stored and deflate are supported) ---> HINT: re-create the archive with `zip -0` or `zip -Z deflate`", z->name, (int)(nlen > 200 ? 200 : nlen), name, method);
    /* The local header repeats the name; its extra field may differ (torch pads it to align
     * the data), so the data starts after the local header's own lengths. */
    if (!grt_io_range_ok(z->len, lh, 30) || grt_io_le32(b + lh) != ZIP_SIG_LOCAL)
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip local header of '%.*s' is out of range or corrupt", z->name, (int)(nlen > 200 ? 200 : nlen), name);
    size_t lnlen = grt_io_le16(b + lh + 26), lxlen = grt_io_le16(b + lh + 28);
    uint64_t data_off = lh + 30 + lnlen + lxlen;
    if (lnlen != nlen || !grt_io_range_ok(z->len, lh + 30, lnlen) || memcmp(b + lh + 30, name, nlen) != 0)
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip local header name does not match the directory for '%.*s'", z->name, (int)(nlen > 200 ? 200 : nlen), name);
    if (!grt_io_range_ok(z->len, data_off, csize))
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip entry '%.*s' (%llu bytes at offset %llu) lies outside the file of %zu bytes ---> HINT: the file is truncated; download it again", z->name, (int)(nlen > 200 ? 200 : nlen), name, (unsigned long long)csize, (unsigned long long)data_off, z->len);
    if (method == 0 && csize != size)
        return grt_error(GAITRT_ERR_FORMAT, "%s: stored zip entry '%.*s' has compressed size %llu != size %llu", z->name, (int)(nlen > 200 ? 200 : nlen), name, (unsigned long long)csize, (unsigned long long)size);
    if (method == 8) {
        if (size > GRT_ZIP_MAX_ENTRY_BYTES || size / GRT_ZIP_MAX_RATIO > csize + 1)
            return grt_error(GAITRT_ERR_LIMIT, "%s: zip entry '%.*s' claims to inflate from %llu to %llu bytes; refusing a likely zip bomb", z->name, (int)(nlen > 200 ? 200 : nlen), name, (unsigned long long)csize, (unsigned long long)size);
    }
    e->name = name;
    e->name_len = nlen;
    e->comp_size = csize;
    e->size = size;
    e->data_off = data_off;
    e->crc = crc;
    e->method = method;
    *p = q + 46 + nlen + xlen + clen;
    return GRT_OK;
}

grt_status grt_zip_open(grt_zip *z, const uint8_t *buf, size_t len, const char *name) {
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->len = len;
    z->name = name ? name : "<zip>";
    size_t eocd;
    if (!buf || !zip_find_eocd(buf, len, &eocd))
        return grt_error(GAITRT_ERR_FORMAT, "%s: no zip end-of-central-directory record ---> HINT: the file is truncated or not a zip archive", z->name);
    uint64_t n_entries = grt_io_le16(buf + eocd + 10);
    uint64_t cd_size = grt_io_le32(buf + eocd + 12), cd_off = grt_io_le32(buf + eocd + 16);
    uint16_t disk = grt_io_le16(buf + eocd + 4), cd_disk = grt_io_le16(buf + eocd + 6);
    /* A zip64 locator sits right before the classic record; torch writes one always. */
    if (eocd >= 20 && grt_io_le32(buf + eocd - 20) == ZIP_SIG_LOC64) {
        const uint8_t *loc = buf + eocd - 20;
        uint64_t off64 = grt_io_le64(loc + 8);
        if (grt_io_le32(loc + 16) > 1)
            return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", z->name);
        if (!grt_io_range_ok(len, off64, 56) || off64 + 56 > eocd - 20 || grt_io_le32(buf + off64) != ZIP_SIG_EOCD64)
            return grt_error(GAITRT_ERR_FORMAT, "%s: zip64 end record out of range or corrupt", z->name);
        const uint8_t *r = buf + off64;
        disk = grt_io_le32(r + 16) ? 1 : 0;
        cd_disk = grt_io_le32(r + 20) ? 1 : 0;
        n_entries = grt_io_le64(r + 32);
        cd_size = grt_io_le64(r + 40);
        cd_off = grt_io_le64(r + 48);
    } else if (n_entries == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip end record needs zip64 values but the zip64 locator is missing", z->name);
    }
    if (disk != 0 || cd_disk != 0)
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", z->name);
    if (!grt_io_range_ok(eocd, cd_off, cd_size))
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip central directory (offset %llu, %llu bytes) lies outside the file ---> HINT: the file is truncated or was written with data prepended", z->name, (unsigned long long)cd_off, (unsigned long long)cd_size);
    if (n_entries > GRT_ZIP_MAX_ENTRIES || n_entries > cd_size / 46)
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip claims %llu entries in a %llu-byte directory", z->name, (unsigned long long)n_entries, (unsigned long long)cd_size);
    z->e = grt_calloc(n_entries ? n_entries : 1, sizeof *z->e);
    const grt_zip_entry **ptrs = grt_calloc(n_entries ? n_entries : 1, sizeof *ptrs);
    z->sorted = grt_calloc(n_entries ? n_entries : 1, sizeof *z->sorted);
    if (!z->e || !ptrs || !z->sorted) {
        grt_free(ptrs);
        grt_zip_close(z);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory reading the zip directory", name ? name : "<zip>");
    }
    size_t p = (size_t)cd_off, cd_end = (size_t)(cd_off + cd_size);
    for (uint64_t i = 0; i < n_entries; i++) {
        grt_status st = zip_parse_entry(z, &p, cd_end, &z->e[i]);
        if (st) {
            grt_free(ptrs);
            grt_zip_close(z);
            return st;
        }
        ptrs[i] = &z->e[i];
        if (z->e[i].method == 8) z->inflated += z->e[i].size;
    }
    /* A bomb spreads its expansion over many entries that each look plausible; we bound
     * the sum as well, before inflating anything. */
    uint64_t budget = (uint64_t)len * 64 + ((uint64_t)256 << 20);
    if (z->inflated > budget || z->inflated > GRT_ZIP_MAX_ENTRY_BYTES) {
        grt_status st = grt_error(GAITRT_ERR_LIMIT, "%s: compressed zip entries claim %llu bytes in all, far more than a %zu-byte archive should hold; refusing a likely zip bomb", z->name, (unsigned long long)z->inflated, len);
        grt_free(ptrs);
        grt_zip_close(z);
        return st;
    }
    z->n = (int)n_entries;
    qsort(ptrs, n_entries, sizeof *ptrs, zip_ptr_cmp);
    for (int i = 0; i < z->n; i++) {
        z->sorted[i] = (int)(ptrs[i] - z->e);
        if (i > 0 && zip_name_cmp(ptrs[i - 1], ptrs[i]) == 0) {
            grt_status st = grt_error(GAITRT_ERR_FORMAT, "%s: zip archive holds the entry '%.*s' twice", z->name, (int)(ptrs[i]->name_len > 200 ? 200 : ptrs[i]->name_len), ptrs[i]->name);
            grt_free(ptrs);
            grt_zip_close(z);
            return st;
        }
    }
    grt_free(ptrs);
    return GRT_OK;
}

void grt_zip_close(grt_zip *z) {
    if (!z) return;
    grt_free(z->e);
    grt_free(z->sorted);
    z->e = NULL;
    z->sorted = NULL;
    z->n = 0;
}

int grt_zip_find(const grt_zip *z, const char *entry_name) {
    grt_zip_entry key = {.name = entry_name, .name_len = strlen(entry_name)};
    int lo = 0, hi = z->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = zip_name_cmp(&z->e[z->sorted[mid]], &key);
        if (c == 0) return z->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* zlib's uInt lengths are 32-bit, so we feed large buffers in slices. */
static uint32_t zip_crc(const uint8_t *p, uint64_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* zlib's own allocations go through ours too, so the failing-allocator tests reach them. */
static voidpf zip_zalloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    return grt_calloc(items, size);
}
static void zip_zfree(voidpf opaque, voidpf p) {
    (void)opaque;
    grt_free(p);
}

grt_status grt_zip_read(const grt_zip *z, int idx, const uint8_t **data, size_t *len, uint8_t **owned) {
    *data = NULL;
    *len = 0;
    *owned = NULL;
    if (idx < 0 || idx >= z->n) return grt_error(GAITRT_ERR_INTERNAL, "%s: zip entry index %d out of range", z->name, idx);
    const grt_zip_entry *e = &z->e[idx];
    int nl = (int)(e->name_len > 200 ? 200 : e->name_len);
    const uint8_t *src = z->buf + e->data_off;
    if (e->method == 0) {
        if (zip_crc(src, e->size) != e->crc)
            return grt_error(GAITRT_ERR_FORMAT, "%s: CRC mismatch in zip entry '%.*s' ---> HINT: the file is corrupt; download it again", z->name, nl, e->name);
        *data = src;
        *len = (size_t)e->size;
        return GRT_OK;
    }
    if (e->size > SIZE_MAX - 1) return grt_error(GAITRT_ERR_LIMIT, "%s: zip entry '%.*s' too large", z->name, nl, e->name);
    uint8_t *out = grt_malloc((size_t)e->size ? (size_t)e->size : 1);
    if (!out) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory inflating zip entry '%.*s' (%llu bytes)", z->name, nl, e->name, (unsigned long long)e->size);
    z_stream s;
    memset(&s, 0, sizeof s);
    s.zalloc = zip_zalloc;
    s.zfree = zip_zfree;
    if (inflateInit2(&s, -15) != Z_OK) {
        grt_free(out);
        return grt_error(GAITRT_ERR_NOMEM, "%s: cannot start inflating zip entry '%.*s'", z->name, nl, e->name);
    }
    uint64_t in_left = e->comp_size, out_left = e->size;
    const uint8_t *in = src;
    uint8_t *o = out;
    int rc = Z_OK;
    /* We give zlib one extra byte of room past the declared size: a stream that wants to
     * write it is longer than declared, and we stop it there. */
    uint8_t spill;
    int spilled = 0;
    while (rc == Z_OK) {
        if (s.avail_in == 0 && in_left) {
            s.next_in = (Bytef *)in;
            s.avail_in = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
            in += s.avail_in;
            in_left -= s.avail_in;
        }
        if (s.avail_out == 0) {
            if (out_left) {
                s.next_out = o;
                s.avail_out = out_left > 0x40000000u ? 0x40000000u : (uInt)out_left;
                o += s.avail_out;
                out_left -= s.avail_out;
            } else if (!spilled) {
                s.next_out = &spill;
                s.avail_out = 1;
                spilled = 1;
            } else {
                break;
            }
        }
        rc = inflate(&s, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && s.avail_in == 0 && in_left == 0) break;
        if (rc == Z_BUF_ERROR && s.avail_out == 0) rc = Z_OK;
    }
    uint64_t produced = s.total_out;
    inflateEnd(&s);
    if (rc != Z_STREAM_END || produced != e->size) {
        grt_free(out);
        if (rc == Z_MEM_ERROR) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory inflating zip entry '%.*s'", z->name, nl, e->name);
        return grt_error(GAITRT_ERR_FORMAT, "%s: zip entry '%.*s' does not inflate to its declared %llu bytes ---> HINT: the file is corrupt or truncated", z->name, nl, e->name, (unsigned long long)e->size);
    }
    if (zip_crc(out, e->size) != e->crc) {
        grt_free(out);
        return grt_error(GAITRT_ERR_FORMAT, "%s: CRC mismatch in zip entry '%.*s' ---> HINT: the file is corrupt; download it again", z->name, nl, e->name);
    }
    *data = out;
    *len = (size_t)e->size;
    *owned = out;
    return GRT_OK;
}
