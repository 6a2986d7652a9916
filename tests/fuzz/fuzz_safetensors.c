/*
 * fuzz_safetensors.c — fuzz target for safetensors files (src/io/safetensors.c and the JSON
 * reader in src/io/json.c), through grt_state_dict_load_mem as a checkpoint is loaded.
 *
 * Random changes to the 8-byte header length mostly make the input fail format detection, so
 * when the input has a JSON object at byte 8 but a length that does not fit, we also run a copy
 * whose length field covers up to the last '}': the mutations then reach the header parser.
 */
#include "fuzz_util.h"
#include "io/io.h"

#define NAME "fuzz.safetensors"

static void load(const uint8_t *data, size_t size) {
    grt_state_dict *sd = NULL;
    grt_status st = grt_state_dict_load_mem(data, size, NAME, &sd);
    if (st) {
        fuzz_check_error(st, NAME);
        if (sd) fuzz_fail("failed load returned a state dict", NAME);
        return;
    }
    for (int i = 0; i < sd->n; i++) {
        if (!sd->t[i].name) fuzz_fail("tensor without a name", NULL);
        fuzz_check_tensor(&sd->t[i]);
        if (grt_state_dict_find(sd, sd->t[i].name) != &sd->t[i]) fuzz_fail("two tensors share a name", sd->t[i].name);
    }
    grt_state_dict_free(sd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(data, size);
    if (size < 10 || data[8] != '{') return 0;
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)data[i] << (8 * i);
    if (hlen <= size - 8) return 0;
    size_t last = size;
    while (last > 8 && data[last - 1] != '}') last--;
    if (last <= 9) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    uint64_t fixed = last - 8;
    for (int i = 0; i < 8; i++) copy[i] = (uint8_t)(fixed >> (8 * i));
    load(copy, size);
    free(copy);
    return 0;
}
