/* test_inflight.c — the session's side of submit/collect (a GPU computes one batch while the
 * session finishes the one before and packs the next), on machines without a GPU.
 *
 * A session of the real CPU backend is given a backend that keeps its contract the strict
 * way: submit() only records the run (inputs must already be in the staging input_buffer()
 * gave for this submit, segments are copied, the caller's arrays may change at once) and
 * collect() computes it, on the real plan, and writes the output then. A session that packs
 * into a buffer still in use, finishes batches out of order, writes an output before its
 * collect, or leaves a plan with runs in flight when another shape needs the arena gives
 * different embeddings (or an ASan report) here. The embeddings must be bit-identical to the
 * same session with run() alone. And the session's answers to a device that runs out of memory
 * or refuses a run: smaller batches, then the CPU; the refused plan made again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaitrt.h"
#include "pipeline/session.h"
#include "test_util.h"

#define SLOTS GRT_BACKEND_IN_FLIGHT
#define MAXSEQ 256

static const grt_backend_i *real; /* the session's own backend */
static int n_submit, n_collect, max_pending, n_contract; /* n_contract: contract breaches seen */

typedef struct dplan {
    void *inner;
    grt_batch_shape bs;
    float *stage[SLOTS][GAITRT_MAX_INPUTS];
    size_t stage_numel[SLOTS][GAITRT_MAX_INPUTS];
    grt_segment segs[SLOTS][MAXSEQ];
    const float *inputs[SLOTS][GAITRT_MAX_INPUTS];
    float *dst[SLOTS];
    int next, pending, bad;
} dplan;

static dplan *dwrap(void *inner, const grt_batch_shape *bs) {
    dplan *d = calloc(1, sizeof *d);
    d->inner = inner;
    d->bs = *bs;
    return d;
}

/* A device with little memory: plans for more than oom_above sequences fail as a CUDA
 * allocation does (-1: never); fail_submit: the next submit fails as a refused library call
 * does, and its plan is unusable from then on; nomem_submit: the next submit of more than one
 * sequence runs out of memory (a library's workspace); nomem_collect: the next collect does. */
static int oom_above = -1, n_oom, fail_submit, nomem_submit, nomem_collect;

static grt_status d_plan(void *st, const grt_batch_shape *bs, void **out) {
    if (oom_above >= 0 && bs->n_seq > oom_above) {
        n_oom++;
        return grt_error(GAITRT_ERR_NOMEM, "CUDA device allocation failed: out of memory (%d sequences)", bs->n_seq);
    }
    void *inner = NULL;
    grt_status s = real->plan(st, bs, &inner);
    if (s == GRT_OK) *out = dwrap(inner, bs);
    return s;
}

static grt_status d_plan_shared(void *st, const grt_batch_shape *bs, void **out) {
    if (oom_above >= 0 && bs->n_seq > oom_above) {
        n_oom++;
        return grt_error(GAITRT_ERR_NOMEM, "CUDA device allocation failed: out of memory (%d sequences)", bs->n_seq);
    }
    void *inner = NULL;
    grt_status s = real->plan_shared(st, bs, &inner);
    if (s == GRT_OK) *out = dwrap(inner, bs);
    return s;
}

static void d_plan_bind(void *p, void *arena) {
    dplan *d = p;
    if (d->pending) n_contract++; /* its runs would compute in the new arena, or in a freed one */
    real->plan_bind(d->inner, arena);
}

static void d_plan_release(void *p) {
    dplan *d = p;
    if (!d) return;
    if (d->pending) n_contract++;
    real->plan_release(d->inner);
    for (int i = 0; i < SLOTS; i++)
        for (int k = 0; k < GAITRT_MAX_INPUTS; k++) free(d->stage[i][k]);
    free(d);
}

static int64_t d_plan_bytes(const void *p) { return real->plan_bytes(((const dplan *)p)->inner); }

static float *d_input_buffer(void *p, int k, size_t numel) {
    dplan *d = p;
    if (d->pending >= SLOTS || k < 0 || k >= GAITRT_MAX_INPUTS) return NULL;
    float **b = &d->stage[d->next][k];
    if (d->stage_numel[d->next][k] < numel) {
        free(*b);
        *b = malloc(numel * sizeof(float));
        d->stage_numel[d->next][k] = numel;
    }
    /* poison: a packer that skips part of it shows */
    for (size_t i = 0; i < numel; i++) (*b)[i] = NAN;
    return *b;
}

static grt_status d_submit(void *p, const grt_run_args *a) {
    dplan *d = p;
    if (d->bad) return grt_error(GAITRT_ERR_BAD_STATE, "deferred plan failed earlier");
    if (fail_submit) {
        fail_submit = 0;
        d->bad = 1;
        return grt_error(GAITRT_ERR_UNSUPPORTED, "cuDNN refused a convolution (deferred test)");
    }
    if (nomem_submit && d->bs.n_seq > 1) {
        nomem_submit = 0;
        d->bad = 1;
        return grt_error(GAITRT_ERR_NOMEM, "cuBLAS GEMM: out of memory (deferred test)");
    }
    if (d->pending >= SLOTS) {
        n_contract++;
        return grt_error(GAITRT_ERR_BAD_STATE, "submit with %d runs in flight", d->pending);
    }
    const int slot = d->next;
    /* the models here have one input */
    if (a->inputs[0] != d->stage[slot][0]) n_contract++; /* not packed where input_buffer() said */
    d->inputs[slot][0] = a->inputs[0];
    if (d->bs.n_seq > MAXSEQ) return grt_error(GAITRT_ERR_INVALID_ARG, "too many sequences");
    memcpy(d->segs[slot], a->segments, (size_t)d->bs.n_seq * sizeof(grt_segment));
    d->dst[slot] = a->output;
    d->next = (slot + 1) % SLOTS;
    d->pending++;
    n_submit++;
    if (d->pending > max_pending) max_pending = d->pending;
    return GRT_OK;
}

static grt_status d_collect(void *p) {
    dplan *d = p;
    if (d->pending <= 0) {
        n_contract++;
        return grt_error(GAITRT_ERR_BAD_STATE, "collect with nothing in flight");
    }
    const int slot = (d->next - d->pending + SLOTS) % SLOTS;
    d->pending--;
    n_collect++;
    if (nomem_collect) {
        nomem_collect = 0;
        d->bad = 1;
        return grt_error(GAITRT_ERR_NOMEM, "CUDA forward pass failed: out of memory (deferred test)");
    }
    grt_run_args a = {d->inputs[slot], d->segs[slot], d->dst[slot], NULL};
    grt_status st = real->run(d->inner, &a);
    /* the staging is free again: scribble on it so that a late reader sees garbage */
    for (size_t i = 0; i < d->stage_numel[slot][0]; i++) d->stage[slot][0][i] = NAN;
    if (st != GRT_OK) d->bad = 1;
    return st;
}

static grt_status d_run(void *p, const grt_run_args *a) {
    dplan *d = p;
    if (d->pending) n_contract++; /* run() while submitted runs wait */
    return real->run(d->inner, a);
}

static grt_backend_i deferred;

static void defer_session(gaitrt_session *s) {
    real = s->bk;
    deferred = *real;
    deferred.name = "deferred";
    deferred.plan = d_plan;
    deferred.plan_shared = real->plan_shared ? d_plan_shared : NULL;
    deferred.plan_bind = real->plan_bind ? d_plan_bind : NULL;
    deferred.plan_release = d_plan_release;
    deferred.plan_bytes = d_plan_bytes;
    deferred.run = d_run;
    deferred.input_buffer = d_input_buffer;
    deferred.submit = d_submit;
    deferred.collect = d_collect;
    s->bk = &deferred;
}

static float *make_frames(int t, int seed) {
    float *f = malloc(sizeof(float) * (size_t)t * 64 * 44);
    for (int i = 0; i < t * 64 * 44; i++) f[i] = (float)(((i + seed * 131) * 7919u) % 17u < 8u);
    return f;
}

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* n sequences of lens[], batched by the session's params, with and without deferral. */
static void check_model(const char *type, gaitrt_level level, const int *lens, int n, int max_batch, int tolerance,
                        int expect_pipelined) {
    gaitrt_model *m = gaitrt_model_create_random(type, 7);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    const size_t per = (size_t)info.embed_channels * info.embed_parts;
    float *frames[64];
    gaitrt_sequence seqs[64];
    memset(seqs, 0, sizeof seqs);
    for (int i = 0; i < n; i++) {
        frames[i] = make_frames(lens[i], i);
        seqs[i].n_frames = lens[i];
        seqs[i].inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, 64, 44, frames[i], 0};
    }
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.device = GAITRT_DEVICE_CPU;
    sp.level = level;
    sp.max_batch_size = max_batch;
    sp.seq_len_tolerance = tolerance;
    float *want = calloc((size_t)n * per, sizeof(float)), *got = calloc((size_t)n * per, sizeof(float));
    gaitrt_session *s0 = gaitrt_session_create(m, &sp), *s1 = gaitrt_session_create(m, &sp);
    CHECK_MSG(s0 && s1, "%s", gaitrt_last_error());
    if (!s0 || !s1) goto done;
    CHECK(gaitrt_embed(s0, seqs, n, want, (size_t)n * per) == GAITRT_OK);
    defer_session(s1);
    n_submit = n_collect = max_pending = n_contract = 0;
    /* twice: the second finds the plans cached and their staging used */
    for (int r = 0; r < 2; r++) {
        memset(got, 0, (size_t)n * per * sizeof(float));
        gaitrt_status st = gaitrt_embed(s1, seqs, n, got, (size_t)n * per);
        CHECK_MSG(st == GAITRT_OK, "%s: %s", type, gaitrt_last_error());
        CHECK_MSG(same_bits(got, want, (size_t)n * per), "%s run %d: deferred runs differ from run()", type, r);
    }
    printf("%s: %d sequences, max batch %d: %d submits, %d collects, up to %d in flight, %d contract breaches\n", type, n,
           max_batch, n_submit, n_collect, max_pending, n_contract);
    CHECK(n_submit == n_collect && n_submit > 0);
    /* the CPU utilisation covers calls whose batches overlap */
    char rep[4096];
    gaitrt_session_report(s1, rep, sizeof rep);
    const char *u = strstr(rep, "\"cpu_utilisation\": ");
    CHECK_MSG(u && atof(u + 19) > 0.0, "%s", rep);
    CHECK(n_contract == 0);
    CHECK(max_pending == (expect_pipelined ? 2 : 1));

    /* a bad sequence in a later batch: the error names it, the batch in flight is collected,
       and the session goes on */
    if (n >= 4) {
        float keep = frames[n - 1][100];
        frames[n - 1][100] = NAN;
        n_submit = n_collect = 0;
        gaitrt_status st = gaitrt_embed(s1, seqs, n, got, (size_t)n * per);
        CHECK(st == GAITRT_ERR_INPUT);
        CHECK_MSG(strstr(gaitrt_last_error(), "non-finite") != NULL, "%s", gaitrt_last_error());
        CHECK_MSG(n_submit == n_collect, "%d submitted, %d collected after an error", n_submit, n_collect);
        frames[n - 1][100] = keep;
        CHECK(gaitrt_embed(s1, seqs, n, got, (size_t)n * per) == GAITRT_OK);
        CHECK(same_bits(got, want, (size_t)n * per));
    }
    /* profiling: every batch through run(), timed on its own */
    gaitrt_session_free(s1);
    sp.profile = 1;
    s1 = gaitrt_session_create(m, &sp);
    CHECK(s1 != NULL);
    if (s1) {
        defer_session(s1);
        n_submit = 0;
        memset(got, 0, (size_t)n * per * sizeof(float));
        CHECK(gaitrt_embed(s1, seqs, n, got, (size_t)n * per) == GAITRT_OK);
        CHECK(n_submit == 0);
        CHECK(same_bits(got, want, (size_t)n * per));
    }
done:
    gaitrt_session_free(s0);
    gaitrt_session_free(s1);
    for (int i = 0; i < n; i++) free(frames[i]);
    free(want);
    free(got);
    gaitrt_model_free(m);
}

/* A device that runs out of memory: the session releases its cached plans and halves the batch
 * until it fits, and when one sequence does not fit it goes on on the CPU; a plan whose run
 * failed is not reused. Every step is a note, and the embeddings are the CPU's. */
static void check_fallbacks(void) {
    gaitrt_model *m = gaitrt_model_create_random("GaitBase:small", 7);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    const size_t per = (size_t)info.embed_channels * info.embed_parts;
    enum { N = 8 };
    float *frames[N];
    gaitrt_sequence seqs[N];
    memset(seqs, 0, sizeof seqs);
    for (int i = 0; i < N; i++) {
        frames[i] = make_frames(6, i);
        seqs[i].n_frames = 6;
        seqs[i].inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, 64, 44, frames[i], 0};
    }
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.device = GAITRT_DEVICE_CPU;
    sp.max_batch_size = N;
    float want[N * 4096], got[N * 4096];
    char rep[8192];
    gaitrt_session *s0 = gaitrt_session_create(m, &sp);
    CHECK(s0 && gaitrt_embed(s0, seqs, N, want, N * per) == GAITRT_OK);
    /* room for 2 sequences: 8 -> 4 -> 2 */
    gaitrt_session *s1 = gaitrt_session_create(m, &sp);
    CHECK(s1 != NULL);
    if (s1) {
        defer_session(s1);
        oom_above = 2, n_oom = 0;
        CHECK_MSG(gaitrt_embed(s1, seqs, N, got, N * per) == GAITRT_OK, "%s", gaitrt_last_error());
        gaitrt_session_report(s1, rep, sizeof rep);
        CHECK_MSG(n_oom == 2 && strstr(rep, "batch of 8 sequences") && strstr(rep, "retrying with 2"), "%d: %s", n_oom, rep);
        CHECK(s1->bk == &deferred);
        CHECK(grt_rel_l2(got, want, N * per) <= 1e-6);
        /* a refused run: that call fails, the session does not, the plan is made again */
        fail_submit = 1;
        CHECK(gaitrt_embed(s1, seqs, N, got, N * per) == GAITRT_ERR_UNSUPPORTED);
        memset(got, 0, sizeof got);
        CHECK_MSG(gaitrt_embed(s1, seqs, N, got, N * per) == GAITRT_OK, "%s", gaitrt_last_error());
        CHECK(grt_rel_l2(got, want, N * per) <= 1e-6);
    }
    gaitrt_session_free(s1);
    /* a run (not a plan) out of memory: the batch halved, the failed plan released once and
       forgotten (a later plan may get its address) */
    s1 = gaitrt_session_create(m, &sp);
    CHECK(s1 != NULL);
    if (s1) {
        defer_session(s1);
        nomem_submit = 1;
        memset(got, 0, sizeof got);
        CHECK_MSG(gaitrt_embed(s1, seqs, N, got, N * per) == GAITRT_OK, "%s", gaitrt_last_error());
        gaitrt_session_report(s1, rep, sizeof rep);
        CHECK_MSG(strstr(rep, "batch of 8 sequences") && strstr(rep, "retrying with 4"), "%s", rep);
        CHECK(s1->failed_plan == NULL);
        CHECK(grt_rel_l2(got, want, N * per) <= 1e-6);
        CHECK(gaitrt_embed(s1, seqs, N, got, N * per) == GAITRT_OK && grt_rel_l2(got, want, N * per) <= 1e-6);
    }
    gaitrt_session_free(s1);
    /* the batch before fails when it is finished (sequences of two lengths: two shapes, one
       sequence per batch): the call fails, naming it; the next batch is not retried on the CPU as
       if it had run out of memory itself, which would leave the failed batch's rows unwritten */
    sp.max_batch_size = 1;
    s1 = gaitrt_session_create(m, &sp);
    CHECK(s1 != NULL);
    if (s1) {
        defer_session(s1);
        seqs[1].n_frames = 5;
        nomem_collect = 1;
        const gaitrt_status st = gaitrt_embed(s1, seqs, 2, got, 2 * per);
        CHECK_MSG(st == GAITRT_ERR_DEVICE && strstr(gaitrt_last_error(), "finishing the batch before"), "%d: %s", (int)st,
                  gaitrt_last_error());
        CHECK(s1->bk == &deferred);
        seqs[1].n_frames = 6;
    }
    nomem_collect = 0;
    sp.max_batch_size = N;
    gaitrt_session_free(s1);
    /* room for none: 8 -> 4 -> 2 -> 1 -> the CPU */
    s1 = gaitrt_session_create(m, &sp);
    CHECK(s1 != NULL);
    if (s1) {
        defer_session(s1);
        oom_above = 0, n_oom = 0;
        memset(got, 0, sizeof got);
        CHECK_MSG(gaitrt_embed(s1, seqs, N, got, N * per) == GAITRT_OK, "%s", gaitrt_last_error());
        gaitrt_session_report(s1, rep, sizeof rep);
        CHECK_MSG(n_oom == 4 && strstr(rep, "out of memory even for one sequence") && strstr(rep, "goes on on the CPU (cpu-fast)"),
                  "%d: %s", n_oom, rep);
        CHECK(s1->bk == real);
        CHECK(grt_rel_l2(got, want, N * per) <= 1e-6);
        printf("out of memory on a device: halved to 2 sequences, then to the CPU; %s\n", strstr(rep, "\"notes\"") ? "noted" : "");
    }
    oom_above = -1;
    gaitrt_session_free(s0);
    gaitrt_session_free(s1);
    gaitrt_model_free(m);
    for (int i = 0; i < N; i++) free(frames[i]);
}

int main(void) {
    /* packed frames: equal lengths, batches of 2 share one plan (two in flight), then a batch of
       another shape (the one in flight is finished before its plan is made) */
    const int eq[9] = {6, 6, 6, 6, 6, 6, 6, 6, 6};
    check_model("GaitBase:small", GAITRT_LEVEL_BALANCED, eq, 9, 2, 0, 1);
    check_model("GaitBase:small", GAITRT_LEVEL_CONSERVATIVE, eq, 9, 2, 0, 1);
    /* lengths far apart: every batch a new shape, never two in flight */
    const int apart[5] = {4, 20, 40, 70, 100};
    check_model("GaitBase:small", GAITRT_LEVEL_BALANCED, apart, 5, 1, 0, 0);
    /* lengths close together: a device's packed batches share a plan rounded up to 16 frames (the
       frames past the sequences zero), so they overlap */
    const int close[5] = {4, 9, 5, 7, 12};
    check_model("GaitBase:small", GAITRT_LEVEL_BALANCED, close, 5, 1, 0, 1);
    /* temporal model, padded batches of different lengths within the tolerance, and equal ones */
    const int tl[8] = {5, 5, 5, 5, 6, 8, 8, 7};
    check_model("DeepGaitV2:3d-1111-w8", GAITRT_LEVEL_BALANCED, tl, 8, 2, 3, 1);
    check_fallbacks();
    return grt_test_finish("test_inflight");
}
