/*
 * fuzz_zip.c — fuzz target for the zip reader (src/io/zip.c): grt_zip_open on any bytes, then
 * for every entry a lookup by its own name and a full read (stored or inflated, CRC checked).
 *
 * It checks the reader, not the torch layout on top of it (fuzz_ckpt.c does that). Entry
 * reads are capped at 64 per input so that one input cannot take seconds.
 */
#include "fuzz_util.h"
#include "io/zip.h"

#define NAME "fuzz.zip"

static void read_all(const uint8_t *data, size_t size) {
    grt_zip z;
    grt_status st = grt_zip_open(&z, data, size, NAME);
    if (st) {
        fuzz_check_error(st, NAME);
        grt_zip_close(&z);
        return;
    }
    for (int i = 0; i < z.n && i < 64; i++) {
        const grt_zip_entry *e = &z.e[i];
        if (e->data_off > size || e->comp_size > size - e->data_off) fuzz_fail("entry data outside the buffer", NAME);
        /* Names are unique (the reader refuses duplicates), so a lookup finds this entry
         * unless the name holds a NUL, which a C string cannot say. */
        if (e->name_len < 512 && !memchr(e->name, 0, e->name_len)) {
            char name[512];
            memcpy(name, e->name, e->name_len);
            name[e->name_len] = 0;
            if (grt_zip_find(&z, name) != i) fuzz_fail("grt_zip_find does not find an entry by its name", name);
        }
        const uint8_t *p;
        size_t n;
        uint8_t *owned;
        st = grt_zip_read(&z, i, &p, &n, &owned);
        if (st) {
            fuzz_check_error(st, NAME);
            if (owned) fuzz_fail("failed read left a block behind", NAME);
            continue;
        }
        if (n != e->size) fuzz_fail("read size differs from the declared size", NAME);
        fuzz_touch(p, n);
        grt_free(owned);
    }
    grt_zip_find(&z, "archive/data.pkl");
    grt_zip_close(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_all(data, size);
    /* Again with the stored members' CRCs made right (see fuzz_zip_fix_crcs). */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (fuzz_zip_fix_crcs(copy, size)) read_all(copy, size);
    free(copy);
    return 0;
}
