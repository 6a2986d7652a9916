/*
 * fuzz_util.h — checks shared by the fuzz targets: what must hold after a parser has seen any
 * input at all, whether it accepted it or not.
 *
 *   - a refusal is a status the caller can act on (never GAITRT_ERR_INTERNAL, never a bad
 *     argument: we pass good arguments), with a one-line message that names the file;
 *   - an accepted value is internally consistent (sizes match shapes, every byte readable).
 *
 * A violated property aborts, so the sanitizers and the drivers report it like a crash and
 * keep the input. Test-only code: no library rules apply here.
 */
#ifndef GRT_FUZZ_UTIL_H
#define GRT_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/core.h"

static inline void fuzz_fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz property violated: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* A refusal must be actionable: a known, non-internal status and a message naming `name`. */
static inline void fuzz_check_error(grt_status st, const char *name) {
    if (st == GRT_OK) return;
    const char *e = gaitrt_last_error();
    if (st < GAITRT_ERR_INVALID_ARG || st > GAITRT_ERR_INTERNAL) fuzz_fail("unknown status", e);
    if (st == GAITRT_ERR_INTERNAL) fuzz_fail("internal error on untrusted input", e);
    if (st == GAITRT_ERR_INVALID_ARG) fuzz_fail("invalid-argument error for good arguments", e);
    if (gaitrt_last_status() != st) fuzz_fail("gaitrt_last_status() differs from the returned status", e);
    if (!e || !*e) fuzz_fail("empty error message", name);
    if (!strstr(e, name)) fuzz_fail("error message does not name the file", e);
    if (strchr(e, '\n')) fuzz_fail("error message spans several lines", e);
}

/* Reads every byte, so that a wrong size is an overflow the sanitizer sees. */
static inline unsigned fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

/* A loaded tensor: its byte count follows from its shape and dtype, and all of it is there. */
static inline void fuzz_check_tensor(const grt_tensor *t) {
    if (t->ndim < 0 || t->ndim > GRT_MAX_DIMS) fuzz_fail("tensor rank out of range", t->name);
    size_t n = grt_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) fuzz_fail("negative extent", t->name);
        if (!grt_mul_size(n, (size_t)t->shape[i], &n)) fuzz_fail("tensor size overflows", t->name);
    }
    if (n != t->nbytes) fuzz_fail("tensor nbytes does not match its shape", t->name);
    if (!t->data) fuzz_fail("tensor without data", t->name);
    fuzz_touch(t->data, t->nbytes);
}

/* Rewrites the CRC-32 of every stored zip entry (central and local header) to match its data.
 * Random changes inside an archive's members almost always break their CRC, and the reader
 * rightly stops there; with the CRCs fixed, the mutations reach the parsers behind it (the
 * pickle in data.pkl). Returns 1 when something was changed. Only 32-bit sizes are handled. */
static inline uint32_t fuzz_le(const uint8_t *p, int n) {
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline int fuzz_zip_fix_crcs(uint8_t *b, size_t n) {
    int changed = 0;
    for (size_t q = 0; q + 46 <= n; q++) {
        if (b[q] != 'P' || b[q + 1] != 'K' || b[q + 2] != 1 || b[q + 3] != 2) continue;
        uint32_t method = fuzz_le(b + q + 10, 2), csize = fuzz_le(b + q + 20, 4), size = fuzz_le(b + q + 24, 4);
        uint32_t lh = fuzz_le(b + q + 42, 4);
        if (method != 0 || csize != size || size == 0xffffffffu || lh == 0xffffffffu) continue;
        if ((uint64_t)lh + 30 > n || fuzz_le(b + lh, 4) != 0x04034b50u) continue;
        uint64_t data = (uint64_t)lh + 30 + fuzz_le(b + lh + 26, 2) + fuzz_le(b + lh + 28, 2);
        if (data > n || size > n - data) continue;
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b + data, size);
        if (fuzz_le(b + q + 16, 4) == crc && fuzz_le(b + lh + 14, 4) == crc) continue;
        for (int i = 0; i < 4; i++) b[q + 16 + i] = b[lh + 14 + i] = (uint8_t)(crc >> (8 * i));
        changed = 1;
    }
    return changed;
}

#endif /* GRT_FUZZ_UTIL_H */
