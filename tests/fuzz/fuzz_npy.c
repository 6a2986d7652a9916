/*
 * fuzz_npy.c — fuzz target for numpy .npy files (src/io/npy.c): grt_npy_read_mem on any bytes.
 * An accepted array must have exactly the bytes its shape and dtype say.
 *
 * Only the reader; writing is covered by the io tests' round trips.
 */
#include "fuzz_util.h"
#include "io/io.h"

#define NAME "fuzz.npy"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    grt_tensor t;
    grt_status st = grt_npy_read_mem(data, size, NAME, &t);
    if (st) {
        fuzz_check_error(st, NAME);
        if (t.data) fuzz_fail("failed read left data behind", NAME);
        return 0;
    }
    fuzz_check_tensor(&t);
    grt_tensor_release(&t);
    return 0;
}
