/*
 * fuzz_pkl.c — fuzz target for OpenGait's dataset .pkl files (src/io/pkl.c): a pickled numpy
 * array or torch tensor (plain pickle, legacy _load_from_bytes blob, or torch.save zip), read
 * with grt_pkl_array_read_mem from any bytes.
 *
 * The pickle machine underneath has its own target (fuzz_pickle.c); this one covers what pkl.c
 * adds: picking the root value, building arrays and tensors from it, and the size budget.
 */
#include "fuzz_util.h"
#include "io/io.h"

#define NAME "fuzz.pkl"

static void read_one(const uint8_t *data, size_t size) {
    grt_tensor t;
    grt_status st = grt_pkl_array_read_mem(data, size, NAME, &t);
    if (st) {
        fuzz_check_error(st, NAME);
        if (t.data) fuzz_fail("failed read left data behind", NAME);
        return;
    }
    fuzz_check_tensor(&t);
    grt_tensor_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_one(data, size);
    /* A torch.save'd tensor is a zip: again with its members' CRCs made right. */
    if (size < 4 || data[0] != 'P' || data[1] != 'K') return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (fuzz_zip_fix_crcs(copy, size)) read_one(copy, size);
    free(copy);
    return 0;
}
