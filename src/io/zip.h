/*
 * zip.h — a read-only zip reader over an in-memory buffer, enough for the archives
 * torch.save writes (stored entries, zip64 end records, data descriptors) and for the
 * deflated entries other zip programs produce.
 *
 * It is not a general archiver: no writing, no encryption, no multi-disk archives, no
 * compression methods other than stored (0) and deflate (8).
 *
 * Usage:
 *
 *     grt_zip z;
 *     if (grt_zip_open(&z, buf, len, "model.pt") != GRT_OK) return ...;
 *     int i = grt_zip_find(&z, "archive/data.pkl");
 *     const uint8_t *p; size_t n; uint8_t *owned;
 *     grt_zip_read(&z, i, &p, &n, &owned);   // p points into buf (stored) or into owned
 *     ...
 *     grt_free(owned);
 *     grt_zip_close(&z);
 */
#ifndef GRT_IO_ZIP_H
#define GRT_IO_ZIP_H

#include "core/core.h"

/* Limits: a deflated entry may not claim to expand more than this many times (deflate's
 * own maximum is about 1032:1), nor beyond GRT_ZIP_MAX_ENTRY_BYTES; and all deflated
 * entries together may not claim more than 64 times the archive plus 256 MiB. */
#define GRT_ZIP_MAX_RATIO 1100
#define GRT_ZIP_MAX_ENTRY_BYTES ((uint64_t)16 << 30)
#define GRT_ZIP_MAX_ENTRIES 1000000

typedef struct grt_zip_entry {
    const char *name;     /* points into the buffer; not NUL-terminated */
    size_t name_len;
    uint64_t comp_size;
    uint64_t size;        /* uncompressed */
    uint64_t data_off;    /* offset of the entry's data in the buffer (after the local header) */
    uint32_t crc;
    uint16_t method;      /* 0 stored, 8 deflate */
} grt_zip_entry;

typedef struct grt_zip {
    const uint8_t *buf;
    size_t len;
    const char *name;      /* for messages (not owned) */
    int n;
    grt_zip_entry *e;      /* n entries in directory order */
    int *sorted;           /* entry indices sorted by name, for grt_zip_find */
    uint64_t inflated;     /* declared uncompressed bytes of all deflated entries */
} grt_zip;

/* Parses the end records and the central directory and checks every entry's local header
 * and data range against the buffer. The buffer must outlive the grt_zip. */
grt_status grt_zip_open(grt_zip *z, const uint8_t *buf, size_t len, const char *name);
void grt_zip_close(grt_zip *z);

/* Index of the entry with this exact name, or -1. */
int grt_zip_find(const grt_zip *z, const char *entry_name);

/* The entry's uncompressed bytes. Stored entries point into the buffer (*owned = NULL);
 * deflated ones are inflated into a new block the caller frees with grt_free(*owned).
 * The CRC-32 is checked in both cases. */
grt_status grt_zip_read(const grt_zip *z, int idx, const uint8_t **data, size_t *len, uint8_t **owned);

#endif /* GRT_IO_ZIP_H */
