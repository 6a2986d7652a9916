/* algo.c — choosing among cuDNN's measured convolution algorithms, and remembering the
 * choice per model and precision so that a second plan (another batch shape, another
 * session) with the same convolution shape skips the measurement. Plain C: the measured
 * results arrive here in our own struct, so the policy is tested without a GPU.
 *
 * What this file is not: an autotuner. cudnnFind measures; we only filter what it found by
 * what the precision and the determinism setting allow. */
#include <string.h>

#include "backends/cuda/cu_prog.h"

static const char *grt__algo_names[8] = {"implicit-gemm", "implicit-precomp-gemm", "gemm", "direct",
                                         "fft", "fft-tiling", "winograd", "winograd-nonfused"};

const char *grt_cu_algo_name(int algo) { return algo >= 0 && algo < 8 ? grt__algo_names[algo] : "?"; }

int grt_cu_algo_pick(const grt_cu_algo_perf *r, int n, grt_precision prec, int deterministic, size_t ws_cap) {
    for (int i = 0; i < n; i++) {
        const grt_cu_algo_perf *a = &r[i];
        if (!a->ok || a->memory > ws_cap) continue;
        if (deterministic && !a->deterministic) continue;
        if (prec == GRT_PREC_F32) {
            /* plain float32 must stay within ~1e-6 of the reference per layer: no TF32, and
             * none of the transform-based algorithms, whose rounding differs in kind */
            if (a->tensor_math) continue;
            if (a->algo == GRT_CU_ALGO_FFT || a->algo == GRT_CU_ALGO_FFT_TILING || a->algo == GRT_CU_ALGO_WINOGRAD ||
                a->algo == GRT_CU_ALGO_WINOGRAD_NONFUSED)
                continue;
        }
        return i;
    }
    return -1;
}

static int grt__key_eq(const grt_cu_algo_key *a, const grt_cu_algo_key *b) { return memcmp(a, b, sizeof *a) == 0; }

grt_cu_algo_entry *grt_cu_algo_find(grt_cu_algo_cache *c, const grt_cu_algo_key *k) {
    for (int i = 0; i < c->n; i++)
        if (grt__key_eq(&c->e[i].key, k)) return &c->e[i];
    return NULL;
}

grt_cu_algo_entry *grt_cu_algo_add(grt_cu_algo_cache *c, const grt_cu_algo_key *k) {
    grt_cu_algo_entry *e = grt_cu_algo_find(c, k);
    if (e) return e;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        grt_cu_algo_entry *ne = grt_realloc(c->e, (size_t)cap * sizeof *ne);
        if (!ne) return NULL;
        c->e = ne;
        c->cap = cap;
    }
    e = &c->e[c->n++];
    memset(e, 0, sizeof *e);
    e->key = *k;
    e->algo = -1;
    e->fused_ok = -1;
    return e;
}

void grt_cu_algo_cache_free(grt_cu_algo_cache *c) {
    grt_free(c->e);
    memset(c, 0, sizeof *c);
}

int grt_cu_algo_usable(const grt_cu_algo_entry *e, size_t search_ws) {
    return e != NULL && e->algo >= 0 && e->search_ws >= search_ws;
}
