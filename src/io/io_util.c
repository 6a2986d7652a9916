/*
 * io_util.c — utilities shared by the io readers and writers: shape arithmetic, dtype widening
 * on load, whole-file reads and writes.
 *
 * Not a general file layer: no mmap, no streaming. Every reader takes the whole file in
 * memory, which keeps the bounds checks simple (one buffer, one length).
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "io/io_internal.h"

int grt_io_shape_numel(int ndim, const int64_t *shape, size_t *numel) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX) return 0;
        if (!grt_mul_size(n, (size_t)shape[i], &n)) return 0;
    }
    *numel = n;
    return 1;
}

void grt_io_convert(void *dst, grt_dtype dst_dt, const uint8_t *src, grt_dtype src_dt, size_t n) {
    if (dst_dt == src_dt) {
        memcpy(dst, src, n * grt_dtype_size(src_dt));
        return;
    }
    /* Only widening to F32 reaches here (callers decide the target dtype). */
    float *d = dst;
    switch (src_dt) {
    case GRT_F16:
        for (size_t i = 0; i < n; i++) d[i] = grt_f16_to_f32(grt_io_le16(src + 2 * i));
        break;
    case GRT_BF16:
        for (size_t i = 0; i < n; i++) d[i] = grt_bf16_to_f32(grt_io_le16(src + 2 * i));
        break;
    case GRT_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t bits = grt_io_le64(src + 8 * i);
            double v;
            memcpy(&v, &bits, 8);
            d[i] = (float)v;
        }
        break;
    default:
        break;
    }
}

grt_status grt_io_read_all(const char *path, uint8_t **data, size_t *len) {
    if (!path) return grt_error(GAITRT_ERR_INVALID_ARG, "no file name given");
    return grt_read_file(path, GRT_IO_MAX_FILE_BYTES, data, len);
}

grt_status grt_io_write_file(const char *path, const grt_io_chunk *chunks, int n_chunks) {
    if (!path) return grt_error(GAITRT_ERR_INVALID_ARG, "no output file name given");
    size_t plen = strlen(path);
    char *tmp = grt_malloc(plen + 32);
    if (!tmp) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", path);
    /* The pid keeps two processes writing the same name from sharing a temporary file. */
    snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        grt_status st = grt_error(GAITRT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        grt_free(tmp);
        return st;
    }
    int ok = 1;
    for (int i = 0; i < n_chunks && ok; i++)
        if (chunks[i].len && fwrite(chunks[i].data, 1, chunks[i].len, f) != chunks[i].len) ok = 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        int e = errno;
        remove(tmp);
        grt_free(tmp);
        return grt_error(GAITRT_ERR_IO, "%s: write failed: %s ---> HINT: check free disk space", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        grt_free(tmp);
        return grt_error(GAITRT_ERR_IO, "%s: cannot rename the finished file into place: %s", path, strerror(e));
    }
    grt_free(tmp);
    return GRT_OK;
}

void grt_io_gather(void *dst, grt_dtype dst_dt, const uint8_t *src, grt_dtype src_dt, int ndim,
                   const int64_t *shape, const int64_t *stride, int64_t offset) {
    size_t numel;
    if (!grt_io_shape_numel(ndim, shape, &numel) || numel == 0) return;
    size_t ssz = grt_dtype_size(src_dt), dsz = grt_dtype_size(dst_dt);
    uint8_t *d = dst;
    if (ndim == 0) {
        grt_io_convert(d, dst_dt, src + (size_t)offset * ssz, src_dt, 1);
        return;
    }
    /* We walk the output in row-major order with an index counter over the outer dims and
     * copy the innermost dim as one run when it is unit-strided. */
    int64_t idx[GRT_MAX_DIMS] = {0};
    int last = ndim - 1;
    int64_t inner = shape[last], istr = stride[last];
    size_t rows = numel / (size_t)inner;
    for (size_t r = 0; r < rows; r++) {
        int64_t base = offset;
        for (int k = 0; k < last; k++) base += idx[k] * stride[k];
        if (istr == 1) {
            grt_io_convert(d, dst_dt, src + (size_t)base * ssz, src_dt, (size_t)inner);
            d += (size_t)inner * dsz;
        } else {
            for (int64_t j = 0; j < inner; j++, d += dsz)
                grt_io_convert(d, dst_dt, src + (size_t)(base + j * istr) * ssz, src_dt, 1);
        }
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < shape[k]) break;
            idx[k] = 0;
        }
    }
}
