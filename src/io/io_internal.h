/*
 * io_internal.h — small pieces shared by the readers and writers of src/io/: little-endian
 * loads from byte buffers, dtype conversion on load, whole-buffer file writes, and the entry
 * points one file of src/io/ calls in another (state-dict building, torch zip archives).
 *
 * This is not an API for other rooms; everything here is internal to src/io/ and carries the
 * `grt_io_` prefix. We assume a little-endian host (x86-64, aarch64): tensor bytes are copied
 * between files and memory as they are.
 */
#ifndef GRT_IO_INTERNAL_H
#define GRT_IO_INTERNAL_H

#include <string.h>

#include "io/io.h"
#include "io/pickle.h"

/* Loads from a byte buffer in little-endian order. The caller has checked the bounds; we
 * use memcpy so that unaligned reads are fine on every target. */
static inline uint16_t grt_io_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t grt_io_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t grt_io_le64(const uint8_t *p) {
    return (uint64_t)grt_io_le32(p) | ((uint64_t)grt_io_le32(p + 4) << 32);
}
static inline void grt_io_put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void grt_io_put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void grt_io_put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* 1 when the range [off, off+n) lies inside a buffer of len bytes (no overflow possible). */
static inline int grt_io_range_ok(size_t len, uint64_t off, uint64_t n) {
    return off <= len && n <= len - off;
}

/* Element count of a shape with overflow and limit checks: returns 0 when the product
 * overflows or any extent is negative. */
int grt_io_shape_numel(int ndim, const int64_t *shape, size_t *numel);

/* True for the dtypes we widen to F32 on checkpoint load. */
static inline int grt_io_is_float(grt_dtype dt) {
    return dt == GRT_F32 || dt == GRT_F64 || dt == GRT_F16 || dt == GRT_BF16;
}

/* Copies n elements of src_dt (little-endian bytes at src) into dst as dst_dt. Supported:
 * the same dtype (plain copy) and F16/BF16/F64/F32 -> F32. */
void grt_io_convert(void *dst, grt_dtype dst_dt, const uint8_t *src, grt_dtype src_dt, size_t n);

/* Gathers a strided view (offset and strides in elements, non-negative and checked against
 * the source by the caller) into dense row-major dst, converting as grt_io_convert does. */
void grt_io_gather(void *dst, grt_dtype dst_dt, const uint8_t *src, grt_dtype src_dt, int ndim,
                   const int64_t *shape, const int64_t *stride, int64_t offset);

/* Writes a whole file atomically enough for our use: a temporary name, then rename, so a
 * failed write never leaves a half file under the final name. `chunks` are written in order. */
typedef struct grt_io_chunk {
    const void *data;
    size_t len;
} grt_io_chunk;
grt_status grt_io_write_file(const char *path, const grt_io_chunk *chunks, int n_chunks);

/* Reads a whole file with the io size limit, naming the file in any error. */
grt_status grt_io_read_all(const char *path, uint8_t **data, size_t *len);

/* ---- state dicts (ckpt.c) ---------------------------------------------------------------- */

grt_state_dict *grt_io_sd_new(const char *path, const char *format);
/* Appends t (ownership moves to sd; t is zeroed). Enforces GRT_IO_MAX_TENSORS. */
grt_status grt_io_sd_add(grt_state_dict *sd, grt_tensor *t);
/* Strips a `module.` prefix present on every key and refuses duplicate keys. */
grt_status grt_io_sd_finish(grt_state_dict *sd);

/* Readers behind grt_state_dict_load_mem, by format (the buffer is the whole file). */
grt_status grt_io_safetensors_load(const uint8_t *buf, size_t len, const char *name, grt_state_dict *sd);

/* A torch zip checkpoint opened and its data.pkl run: the root value plus what is needed to
 * fetch storage bytes on demand (so optimizer buffers nobody reads are never inflated). */
typedef struct grt_io_torchzip grt_io_torchzip;
grt_status grt_io_torchzip_open(const uint8_t *buf, size_t len, const char *name, grt_io_torchzip **out,
                                grt_pv **root);
/* Fills s->data from the storage's zip entry (a no-op once done). */
grt_status grt_io_torchzip_resolve(grt_io_torchzip *tz, grt_pk_storage *s);
void grt_io_torchzip_close(grt_io_torchzip *tz);

/* The hint for legacy torch files: one printf argument, the file name, used three times. */
#define GRT_IO_CONVERT_HINT_FMT                                                                          \
    "---> HINT: convert it once with Python: python -c \"import torch; torch.save(torch.load('%s', "   \
    "map_location='cpu'), '%s.zip.pt')\" then load %s.zip.pt (or `gaitrt convert` it to safetensors)"

#endif /* GRT_IO_INTERNAL_H */
