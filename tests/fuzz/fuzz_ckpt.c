/*
 * fuzz_ckpt.c — fuzz target for torch checkpoints (src/io/ckpt.c): any bytes through
 * grt_state_dict_load_mem, which detects the format; the seeds are torch.save zip archives, so
 * this mostly exercises the zip layout, data.pkl, persistent ids, storages and tensor views.
 *
 * Safetensors files go through the same entry point but have their own seeds and target
 * (fuzz_safetensors.c). An accepted state dict must hold consistent, fully readable tensors
 * under unique names. Each input is also run once more with the CRCs of its stored members
 * rewritten to match (see fuzz_zip_fix_crcs).
 */
#include "fuzz_util.h"
#include "io/io.h"

#define NAME "fuzz.pt"

static void check_state_dict(const grt_state_dict *sd) {
    for (int i = 0; i < sd->n; i++) {
        const grt_tensor *t = &sd->t[i];
        if (!t->name || !*t->name) fuzz_fail("tensor without a name", NULL);
        fuzz_check_tensor(t);
        if (grt_state_dict_find(sd, t->name) != t) fuzz_fail("two tensors share a name", t->name);
    }
}

static void load(const uint8_t *data, size_t size) {
    grt_state_dict *sd = NULL;
    grt_status st = grt_state_dict_load_mem(data, size, NAME, &sd);
    if (st) {
        fuzz_check_error(st, NAME);
        if (sd) fuzz_fail("failed load returned a state dict", NAME);
        return;
    }
    check_state_dict(sd);
    grt_state_dict_free(sd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(data, size);
    /* Again with the CRCs of the stored members made right, so that a change inside data.pkl
     * or a storage reaches the pickle and tensor code instead of the CRC check. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (fuzz_zip_fix_crcs(copy, size)) load(copy, size);
    free(copy);
    return 0;
}
