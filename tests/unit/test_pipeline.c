/* test_pipeline.c — the session pipeline: dynamic batching gives the same embeddings as one
 * sequence at a time (whatever the grouping and budget); an injected allocation failure
 * halves the batch, retries and is reported; levels agree within their tolerances; bad
 * input gets clear errors; profile JSON and Chrome trace are well-formed. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaitrt.h"
#include "test_util.h"

#define H 64
#define W 44

static float *make_frames(int t, int seed) {
    float *f = malloc((size_t)t * H * W * sizeof(float));
    unsigned s = (unsigned)seed * 2654435761u + 1;
    for (int i = 0; i < t; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double dx = (x - W / 2.0 - (i % 4) - seed % 3) / 10.0, dy = (y - H / 2.0) / 28.0;
                s = s * 1103515245u + 12345u;
                float noise = ((s >> 16) & 63) == 0 ? 1.0f : 0.0f;
                float v = dx * dx + dy * dy < 1.0 ? 1.0f : 0.0f;
                f[((size_t)i * H + y) * W + x] = noise > 0 ? 1.0f - v : v;
            }
    return f;
}

/* The CPU, also where a GPU is present: padded batches, the release of fused weights and
 * plans that follow the chunk are the CPU backends' behaviour (the CUDA backend's own tests are
 * tests/cuda; there, AUTO would choose it and run none of these paths). */
static gaitrt_session_params cpu_params(void) {
    gaitrt_session_params p = gaitrt_session_default_params();
    p.device = GAITRT_DEVICE_CPU;
    return p;
}

static gaitrt_session *session(gaitrt_model *m, gaitrt_level level, int max_batch, int64_t budget) {
    gaitrt_session_params sp = cpu_params();
    sp.level = level;
    sp.max_batch_size = max_batch;
    sp.memory_budget = budget;
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    CHECK_MSG(s != NULL, "%s", gaitrt_last_error());
    return s;
}

/* allocator that fails big allocations while armed (the activation arenas of big batches) */
static size_t fail_above;
static int failures;
static void *fail_malloc(size_t n, void *u) {
    (void)u;
    if (fail_above && n > fail_above) {
        failures++;
        return NULL;
    }
    return malloc(n);
}
static void *fail_realloc(void *p, size_t n, void *u) {
    (void)u;
    if (fail_above && n > fail_above) {
        failures++;
        return NULL;
    }
    return realloc(p, n);
}
static void fail_free(void *p, void *u) {
    (void)u;
    free(p);
}

/* Models with temporal convolutions: sequences whose lengths differ by at most the tolerance
 * share a batch padded with zero frames; the embeddings must equal one sequence at a time
 * (the padding is re-zeroed in front of every temporal convolution and temporal pooling reads
 * each sequence's own frames). */
static void test_padded_batches(const char *type, gaitrt_level level) {
    gaitrt_model *m = gaitrt_model_create_random(type, 11);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    CHECK(info.temporal_mixing && info.pad_batching);
    const int per = info.embed_channels * info.embed_parts;
    enum { NS = 7 };
    const int lens[NS] = {5, 8, 4, 8, 11, 6, 7};
    float *frames[NS];
    gaitrt_sequence seqs[NS];
    for (int i = 0; i < NS; i++) {
        frames[i] = make_frames(lens[i], 20 + i);
        seqs[i].n_frames = lens[i];
        seqs[i].inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, H, W, frames[i], 0};
    }
    float *one = malloc(sizeof(float) * NS * per), *pad = malloc(sizeof(float) * NS * per);
    gaitrt_session *s1 = session(m, level, 1, 0);
    for (int i = 0; i < NS; i++) CHECK(gaitrt_embed(s1, &seqs[i], 1, one + i * per, per) == GAITRT_OK);
    gaitrt_session_params sp = cpu_params();
    sp.level = level;
    sp.max_batch_size = 4;
    sp.seq_len_tolerance = 3;
    gaitrt_session *sp3 = gaitrt_session_create(m, &sp);
    CHECK_MSG(sp3 != NULL, "%s", gaitrt_last_error());
    /* twice: the second run finds stale frames in the reused input and activation buffers */
    for (int r = 0; r < 2; r++) CHECK(gaitrt_embed(sp3, seqs, NS, pad, NS * per) == GAITRT_OK);
    double e = grt_rel_l2(pad, one, (size_t)NS * per);
    char rep[4096];
    gaitrt_session_report(sp3, rep, sizeof rep);
    printf("%s %s: padded batches (tolerance 3) vs one at a time: rel L2 %.3g; %s\n", type,
           level == GAITRT_LEVEL_CONSERVATIVE ? "conservative" : "balanced", e, rep);
    CHECK(e <= 1e-6);
    /* sorted lengths 4 5 6 7 8 8 11: batches {4,5,6,7} {8,8,11}, twice */
    CHECK(strstr(rep, "\"batches\": 4,") != NULL);
    /* each sequence on its own matches too: the worst one, sequence by sequence */
    for (int i = 0; i < NS; i++) {
        double ei = grt_rel_l2(pad + i * per, one + i * per, (size_t)per);
        CHECK_MSG(ei <= 1e-6, "sequence %d (%d frames): rel L2 %.3g", i, lens[i], ei);
    }
    gaitrt_session_free(s1);
    gaitrt_session_free(sp3);
    for (int i = 0; i < NS; i++) free(frames[i]);
    free(one);
    free(pad);
    gaitrt_model_free(m);
}

/* A model whose time is strided or pooled (GaitGL) cannot be padded: the tolerance is
 * ignored, and the session says so. */
static void test_padding_refused(void) {
    gaitrt_model *m = gaitrt_model_create_random("GaitGL", 5);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    CHECK(info.temporal_mixing && !info.pad_batching);
    gaitrt_session_params sp = cpu_params();
    sp.seq_len_tolerance = 5;
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    CHECK_MSG(s != NULL, "%s", gaitrt_last_error());
    char rep[4096];
    if (s) gaitrt_session_report(s, rep, sizeof rep);
    CHECK(s && strstr(rep, "seq_len_tolerance 5 ignored") != NULL);
    gaitrt_session_free(s);
    sp.seq_len_tolerance = -1;
    CHECK(gaitrt_session_create(m, &sp) == NULL);
    gaitrt_model_free(m);
}

/* Frame-independent models: a long packed batch runs its frames in chunks (the temporal max
 * accumulates across them, the last chunk overlapping the one before); the embeddings must
 * equal one sequence at a time, and the plan must hold less than the whole batch would. */
static void test_chunked_batches(const char *type, gaitrt_level ref_level) {
    gaitrt_model *m = gaitrt_model_create_random(type, 13);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    CHECK(!info.temporal_mixing);
    const int per = info.embed_channels * info.embed_parts;
    enum { NS = 6 };
    const int lens[NS] = {40, 33, 70, 5, 12, 100}; /* 260 frames: 5 chunks of 52, segments across them */
    float *frames[NS][2];
    gaitrt_sequence seqs[NS];
    for (int i = 0; i < NS; i++) {
        seqs[i].n_frames = lens[i];
        for (int k = 0; k < info.n_inputs; k++) {
            frames[i][k] = make_frames(lens[i], 40 + i + 7 * k);
            seqs[i].inputs[k] = (gaitrt_input){GAITRT_DTYPE_F32, 1, H, W, frames[i][k], 0};
        }
    }
    float *one = malloc(sizeof(float) * NS * per), *all = malloc(sizeof(float) * NS * per);
    gaitrt_session *s1 = session(m, ref_level, 1, 0);
    for (int i = 0; i < NS; i++) CHECK(gaitrt_embed(s1, &seqs[i], 1, one + i * per, per) == GAITRT_OK);
    gaitrt_session_params bp = cpu_params();
    bp.profile = 1; /* every chunk's events fit the profile */
    gaitrt_session *sb = gaitrt_session_create(m, &bp);
    CHECK_MSG(sb != NULL, "%s", gaitrt_last_error());
    for (int r = 0; r < 2; r++) CHECK(gaitrt_embed(sb, seqs, NS, all, NS * per) == GAITRT_OK);
    CHECK(gaitrt_session_write_profile(sb, "test_pipeline_chunks.json") == GAITRT_OK);
    FILE *pf = fopen("test_pipeline_chunks.json", "r");
    char pj[1 << 16];
    size_t pn = pf ? fread(pj, 1, sizeof pj - 1, pf) : 0;
    if (pf) fclose(pf);
    pj[pn] = 0;
    const char *dr = strstr(pj, "\"dropped_events\": ");
    CHECK_MSG(dr && atoi(dr + 18) == 0, "%s: profile dropped events: %s", type, dr ? dr : "(no dropped_events)");
    char rep[4096];
    gaitrt_session_report(sb, rep, sizeof rep);
    double e = grt_rel_l2(all, one, (size_t)NS * per);
    printf("%s: one packed batch of 260 frames (chunked) vs one at a time: rel L2 %.3g; %s\n", type, e, rep);
    CHECK(e <= (ref_level == GAITRT_LEVEL_BALANCED ? 1e-6 : 1e-5));
    for (int i = 0; i < NS; i++) {
        double ei = grt_rel_l2(all + i * per, one + i * per, (size_t)per);
        CHECK_MSG(ei <= 1e-5, "%s sequence %d (%d frames): rel L2 %.3g", type, i, lens[i], ei);
    }
    /* the plan's memory follows the chunk: well below a quarter of 260 frames' worth */
    const char *pb = strstr(rep, "\"peak_plan_bytes\": "), *bf = strstr(rep, "\"bytes_per_frame\": ");
    CHECK(pb && bf);
    if (pb && bf) {
        double plan = atof(pb + 19), frame = atof(bf + 19);
        printf("  plan %.1f MiB; %.1f MiB for 260 frames at the graph's bytes per frame\n", plan / 1048576.0,
               260 * frame / 1048576.0);
        CHECK(plan < 0.5 * 260 * frame);
    }
    gaitrt_session_free(s1);
    gaitrt_session_free(sb);
    for (int i = 0; i < NS; i++)
        for (int k = 0; k < info.n_inputs; k++) free(frames[i][k]);
    free(one);
    free(all);
    gaitrt_model_free(m);
}

/* The unfused weights are released after fusion and read again from the checkpoint when a
 * conservative session first needs them: the same bits as keeping them; a checkpoint that
 * changed or went away in between is an error naming the file, and the other levels go on.
 * Likewise the fused graph's weights the first fast state owns a copy of: a second level
 * (another prepared state) reads them again, and its numbers are those of a model that kept
 * every weight. */
static void test_reference_weights(void) {
    const char *dir = grt_test_env("GRT_BUILD_DIR", ".");
    char path[1024];
    snprintf(path, sizeof path, "%s/test_pipeline_ref_weights.safetensors", dir);
    CHECK_MSG(gaitrt_random_checkpoint_write("GaitBase:small", 11, path) == GAITRT_OK, "%s", gaitrt_last_error());
    gaitrt_model_params mp = gaitrt_model_default_params();
    gaitrt_model *lazy = gaitrt_model_load(path, &mp);
    mp.keep_reference_weights = 1;
    gaitrt_model *kept = gaitrt_model_load(path, &mp);
    mp.keep_reference_weights = 0;
    gaitrt_model *gone = gaitrt_model_load(path, &mp);
    CHECK_MSG(lazy && kept && gone, "%s", gaitrt_last_error());
    if (!lazy || !kept || !gone) goto out;
    float *fr = make_frames(6, 1);
    gaitrt_sequence q;
    q.n_frames = 6;
    q.inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, H, W, fr, 0};
    float a[4096], b[4096];
    gaitrt_model_info info;
    gaitrt_model_get_info(lazy, &info);
    const int per = info.embed_channels * info.embed_parts;
    gaitrt_session *sl = session(lazy, GAITRT_LEVEL_CONSERVATIVE, 1, 0);
    gaitrt_session *sk = session(kept, GAITRT_LEVEL_CONSERVATIVE, 1, 0);
    CHECK(sl && sk && gaitrt_embed(sl, &q, 1, a, per) == GAITRT_OK && gaitrt_embed(sk, &q, 1, b, per) == GAITRT_OK);
    CHECK(memcmp(a, b, (size_t)per * sizeof(float)) == 0);
    gaitrt_session_free(sl);
    gaitrt_session_free(sk);
    for (int lv = GAITRT_LEVEL_BALANCED; lv <= GAITRT_LEVEL_AGGRESSIVE; lv++) {
        gaitrt_session *s2 = session(lazy, (gaitrt_level)lv, 1, 0), *s3 = session(kept, (gaitrt_level)lv, 1, 0);
        CHECK(s2 && s3 && gaitrt_embed(s2, &q, 1, a, per) == GAITRT_OK && gaitrt_embed(s3, &q, 1, b, per) == GAITRT_OK);
        CHECK_MSG(memcmp(a, b, (size_t)per * sizeof(float)) == 0, "level %d: released and kept weights differ", lv);
        gaitrt_session_free(s2);
        gaitrt_session_free(s3);
    }
    /* a new batch shape on the first fast state (plans built after the release) */
    gaitrt_session *sb2 = session(lazy, GAITRT_LEVEL_BALANCED, 4, 0), *sk2 = session(kept, GAITRT_LEVEL_BALANCED, 4, 0);
    gaitrt_sequence q3[3] = {q, q, q};
    float a3[3 * 4096], b3[3 * 4096];
    CHECK(sb2 && sk2 && gaitrt_embed(sb2, q3, 3, a3, 3 * per) == GAITRT_OK && gaitrt_embed(sk2, q3, 3, b3, 3 * per) == GAITRT_OK);
    CHECK(memcmp(a3, b3, (size_t)(3 * per) * sizeof(float)) == 0);
    gaitrt_session_free(sb2);
    gaitrt_session_free(sk2);

    /* the file changes under a model that released its unfused weights, and the fused ones
     * its balanced state owns */
    gaitrt_session *sg = session(gone, GAITRT_LEVEL_BALANCED, 1, 0);
    CHECK(sg && gaitrt_embed(sg, &q, 1, a, per) == GAITRT_OK);
    CHECK(gaitrt_random_checkpoint_write("GaitBase:small", 12, path) == GAITRT_OK);
    gaitrt_session_params sp = cpu_params();
    sp.level = GAITRT_LEVEL_AGGRESSIVE;
    gaitrt_session *sa = gaitrt_session_create(gone, &sp);
    char rep[4096] = "";
    if (sa) gaitrt_session_report(sa, rep, sizeof rep);
    printf("changed checkpoint, aggressive: %s\n", sa ? rep : gaitrt_last_error());
    /* the aggressive level falls back to fp32 (the balanced state it shares), and says why */
    CHECK(sa != NULL && strstr(rep, "changed") != NULL && strstr(rep, "\"level\": \"aggressive\"") != NULL);
    gaitrt_session_free(sa);
    CHECK(gaitrt_embed(sg, &q, 1, b, per) == GAITRT_OK && memcmp(a, b, (size_t)per * sizeof(float)) == 0);
    gaitrt_session_free(sg);
    sp.level = GAITRT_LEVEL_CONSERVATIVE;
    gaitrt_session *sc = gaitrt_session_create(gone, &sp);
    printf("changed checkpoint: %s\n", sc ? "(no error)" : gaitrt_last_error());
    CHECK(sc == NULL && gaitrt_last_status() == GAITRT_ERR_MODEL);
    CHECK(strstr(gaitrt_last_error(), path) != NULL && strstr(gaitrt_last_error(), "changed") != NULL);
    gaitrt_session_free(sc);
    /* ... and goes away */
    remove(path);
    sc = gaitrt_session_create(gone, &sp);
    printf("missing checkpoint: %s\n", sc ? "(no error)" : gaitrt_last_error());
    CHECK(sc == NULL && strstr(gaitrt_last_error(), path) != NULL);
    gaitrt_session_free(sc);
    /* the fused graph never depended on the file */
    gaitrt_session *sbal = session(gone, GAITRT_LEVEL_BALANCED, 1, 0);
    CHECK(sbal && gaitrt_embed(sbal, &q, 1, a, per) == GAITRT_OK);
    gaitrt_session_free(sbal);
    free(fr);
out:
    remove(path);
    gaitrt_model_free(lazy);
    gaitrt_model_free(kept);
    gaitrt_model_free(gone);
}

/* A precision asked for instead of the level's: kept where the device runs it, else the
 * level's with a note; out-of-range values are refused. On the CPU: f32 at the aggressive
 * level is exactly the balanced level; tf32 and f16 are GPU-only; bf16 runs where the CPU and
 * oneDNN have it, else relaxed fp32, said so. */
static void test_precision(gaitrt_model *m, const gaitrt_sequence *q, int per) {
    gaitrt_session_params sp = cpu_params();
    sp.precision = (gaitrt_precision)7;
    CHECK(gaitrt_session_create(m, &sp) == NULL && gaitrt_last_status() == GAITRT_ERR_INVALID_ARG);
    float ref[4096], out[4096];
    gaitrt_session *b = session(m, GAITRT_LEVEL_BALANCED, 1, 0);
    CHECK(b && gaitrt_embed(b, q, 1, ref, per) == GAITRT_OK);
    static const struct { gaitrt_level level; gaitrt_precision p; const char *note; int exact; } cases[] = {
        {GAITRT_LEVEL_AGGRESSIVE, GAITRT_PRECISION_F32, NULL, 1},
        {GAITRT_LEVEL_BALANCED, GAITRT_PRECISION_F16, "precision f16 is GPU-only", 1},
        {GAITRT_LEVEL_BALANCED, GAITRT_PRECISION_TF32, "precision tf32 is GPU-only", 1},
        {GAITRT_LEVEL_BALANCED, GAITRT_PRECISION_BF16, NULL, 0},
        {GAITRT_LEVEL_CONSERVATIVE, GAITRT_PRECISION_F16, "precision f16 ignored", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sp = cpu_params();
        sp.level = cases[k].level;
        sp.precision = cases[k].p;
        gaitrt_session *s = gaitrt_session_create(m, &sp);
        CHECK_MSG(s != NULL, "%s", gaitrt_last_error());
        if (!s) continue;
        char rep[4096];
        CHECK(gaitrt_embed(s, q, 1, out, per) == GAITRT_OK);
        gaitrt_session_report(s, rep, sizeof rep);
        double e = grt_rel_l2(out, ref, (size_t)per);
        printf("precision case %zu: rel L2 %.3g vs balanced; %.200s\n", k, e, strstr(rep, "\"kernels\"") ? strstr(rep, "\"kernels\"") : rep);
        if (cases[k].note) CHECK_MSG(strstr(rep, cases[k].note) != NULL, "case %zu: no note '%s' in %s", k, cases[k].note, rep);
        if (cases[k].exact) CHECK_MSG(memcmp(out, ref, (size_t)per * sizeof(float)) == 0, "case %zu: rel L2 %.3g", k, e);
        if (cases[k].p == GAITRT_PRECISION_BF16)
            CHECK_MSG(strstr(rep, "bf16 (fp32 accumulation)") || (strstr(rep, "fp32 relaxed") && strstr(rep, "bf16 unavailable")),
                      "bf16 asked: %s", rep);
        CHECK(e <= 1e-2);
        gaitrt_session_free(s);
    }
    gaitrt_session_free(b);
}

/* The model types compiled in, as users name them: listed in order, unknown ones refused with
 * the list in the message, the paper's spelling of SkeletonGait++ accepted. */
static void test_model_types(void) {
    int n = 0, xgait = 0;
    for (; gaitrt_model_type(n); n++) xgait |= !strcmp(gaitrt_model_type(n), "XGait");
    CHECK_MSG(n == 8 && xgait && !strcmp(gaitrt_model_type(0), "GaitBase"), "%d model types", n);
    CHECK(gaitrt_model_type(-1) == NULL && gaitrt_model_type(n) == NULL);
    CHECK(gaitrt_model_create_random("GaitBass", 1) == NULL);
    CHECK_MSG(strstr(gaitrt_last_error(), "'GaitBass'") && strstr(gaitrt_last_error(), "GaitPart, GaitGL, XGait"), "%s",
              gaitrt_last_error());
    gaitrt_model *m = gaitrt_model_create_random("skeletongait++", 1);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    gaitrt_model_info info;
    if (m && gaitrt_model_get_info(m, &info) == GAITRT_OK) CHECK_MSG(!strcmp(info.type, "SkeletonGaitPP"), "%s", info.type);
    gaitrt_model_free(m);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "padded")) { /* the padded-batch cases alone (e.g. with GAITRT_FAST_BLOCK=16) */
        test_padded_batches("DeepGaitV2:3d-1111-w8", GAITRT_LEVEL_BALANCED);
        return grt_test_finish("test_pipeline padded");
    }
    test_model_types();
    gaitrt_model *m = gaitrt_model_create_random("GaitBase:small", 3);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    if (!m) return grt_test_finish("test_pipeline");
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    const int per = info.embed_channels * info.embed_parts;
    enum { NS = 6 };
    const int lens[NS] = {5, 1, 9, 3, 9, 2};
    float *frames[NS];
    gaitrt_sequence seqs[NS];
    for (int i = 0; i < NS; i++) {
        frames[i] = make_frames(lens[i], i);
        seqs[i].n_frames = lens[i];
        seqs[i].inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, H, W, frames[i], 0};
    }
    float one[NS * 4096], all[NS * 4096], tmp[NS * 4096];

    /* one sequence at a time, conservative: the baseline */
    gaitrt_session *s1 = session(m, GAITRT_LEVEL_CONSERVATIVE, 1, 0);
    for (int i = 0; i < NS; i++) CHECK(gaitrt_embed(s1, &seqs[i], 1, one + i * per, per) == GAITRT_OK);
    /* all at once, conservative: packing must not change a bit */
    gaitrt_session *s8 = session(m, GAITRT_LEVEL_CONSERVATIVE, 8, 0);
    CHECK(gaitrt_embed(s8, seqs, NS, all, NS * per) == GAITRT_OK);
    double e = grt_rel_l2(all, one, (size_t)NS * per);
    printf("batched vs one at a time (conservative): rel L2 %.3g\n", e);
    CHECK(e <= 1e-6);
    /* a budget of a few frames per batch: smaller groups, same numbers, and a note */
    gaitrt_session *sb = session(m, GAITRT_LEVEL_CONSERVATIVE, 8, 6 << 20);
    CHECK(gaitrt_embed(sb, seqs, NS, tmp, NS * per) == GAITRT_OK);
    e = grt_rel_l2(tmp, one, (size_t)NS * per);
    char rep[4096];
    gaitrt_session_report(sb, rep, sizeof rep);
    printf("small budget: rel L2 %.3g, report %s\n", e, rep);
    CHECK(e <= 1e-6);
    CHECK(strstr(rep, "memory budget") != NULL);

    /* injected allocation failure: the batch is halved and retried, and it shows */
    gaitrt_session *sf = session(m, GAITRT_LEVEL_CONSERVATIVE, 8, 0);
    gaitrt_allocator al = {fail_malloc, fail_realloc, fail_free, NULL};
    gaitrt_set_allocator(&al);
    fail_above = (size_t)6 * 1024 * 1024; /* the arena of 29 packed frames (~8 MiB) exceeds this; 9 frames do not */
    gaitrt_status st = gaitrt_embed(sf, seqs, NS, tmp, NS * per);
    fail_above = 0;
    gaitrt_set_allocator(NULL);
    CHECK_MSG(st == GAITRT_OK, "%s", gaitrt_last_error());
    gaitrt_session_report(sf, rep, sizeof rep);
    printf("injected failure (%d failed allocations): %s\n", failures, rep);
    CHECK(failures > 0);
    CHECK(strstr(rep, "\"fallbacks\": 0") == NULL);
    CHECK(strstr(rep, "retrying") != NULL);
    CHECK(grt_rel_l2(tmp, one, (size_t)NS * per) <= 1e-6);

    /* levels */
    gaitrt_session *sbal = session(m, GAITRT_LEVEL_BALANCED, 8, 0);
    CHECK(gaitrt_embed(sbal, seqs, NS, tmp, NS * per) == GAITRT_OK);
    e = grt_rel_l2(tmp, one, (size_t)NS * per);
    printf("balanced vs conservative: rel L2 %.3g\n", e);
    CHECK(e <= 1e-5);
    gaitrt_session *sagg = session(m, GAITRT_LEVEL_AGGRESSIVE, 8, 0);
    CHECK(gaitrt_embed(sagg, seqs, NS, tmp, NS * per) == GAITRT_OK);
    double worst = grt_min_cosine(tmp, one, NS, per);
    gaitrt_session_report(sagg, rep, sizeof rep);
    printf("aggressive: worst cosine %.6f (%s)\n", worst, rep);
    CHECK(worst >= 0.9995);

    /* normalisation */
    gaitrt_session_params sp = cpu_params();
    sp.normalize = 1;
    gaitrt_session *sn = gaitrt_session_create(m, &sp);
    CHECK(gaitrt_embed(sn, seqs, 1, tmp, per) == GAITRT_OK);
    for (int p = 0; p < info.embed_parts; p++) {
        double ss = 0;
        for (int c = 0; c < info.embed_channels; c++) ss += tmp[c * info.embed_parts + p] * tmp[c * info.embed_parts + p];
        CHECK(fabs(ss - 1) < 1e-4);
    }

    /* bad input: empty sequence, wrong shape, NaN, too small an output */
    gaitrt_sequence bad = seqs[0];
    bad.n_frames = 0;
    CHECK(gaitrt_embed(s1, &bad, 1, tmp, per) == GAITRT_ERR_INPUT);
    CHECK(strstr(gaitrt_last_error(), "empty") != NULL);
    bad = seqs[0];
    bad.inputs[0].height = 32;
    CHECK(gaitrt_embed(s1, &bad, 1, tmp, per) == GAITRT_ERR_INPUT);
    printf("wrong shape: %s\n", gaitrt_last_error());
    frames[0][17] = NAN;
    CHECK(gaitrt_embed(s1, &seqs[0], 1, tmp, per) == GAITRT_ERR_INPUT);
    printf("NaN: %s\n", gaitrt_last_error());
    CHECK(strstr(gaitrt_last_error(), "non-finite") != NULL);
    frames[0][17] = 0;
    CHECK(gaitrt_embed(s1, seqs, 2, tmp, per) == GAITRT_ERR_INVALID_ARG);
    /* the session still works after bad input */
    CHECK(gaitrt_embed(s1, &seqs[1], 1, tmp, per) == GAITRT_OK);

    /* profile JSON and Chrome trace */
    sp = cpu_params();
    sp.profile = 1;
    gaitrt_session *sprof = gaitrt_session_create(m, &sp);
    CHECK(gaitrt_embed(sprof, seqs, NS, tmp, NS * per) == GAITRT_OK);
    const char *dir = grt_test_env("GRT_BUILD_DIR", ".");
    char pj[1024], tj[1024];
    snprintf(pj, sizeof pj, "%s/test_pipeline_profile.json", dir);
    snprintf(tj, sizeof tj, "%s/test_pipeline_trace.json", dir);
    CHECK(gaitrt_session_write_profile(sprof, pj) == GAITRT_OK);
    CHECK(gaitrt_session_write_trace(sprof, tj) == GAITRT_OK);
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(k ? tj : pj, "rb");
        CHECK(f != NULL);
        if (!f) continue;
        static char buf[1 << 22];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        cJSON *j = cJSON_Parse(buf);
        CHECK_MSG(j != NULL, "%s is not valid JSON", k ? tj : pj);
        if (!j) continue;
        if (k == 0) {
            CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "schema")));
            cJSON *layers = cJSON_GetObjectItem(j, "layers"), *runs = cJSON_GetObjectItem(j, "runs");
            CHECK(cJSON_IsArray(layers) && cJSON_GetArraySize(layers) > 5);
            CHECK(cJSON_IsArray(runs) && cJSON_GetArraySize(runs) >= 1);
            cJSON *l0 = cJSON_GetArrayItem(layers, 0);
            CHECK(cJSON_IsString(cJSON_GetObjectItem(l0, "name")) && cJSON_IsNumber(cJSON_GetObjectItem(l0, "ms")) &&
                  cJSON_IsNumber(cJSON_GetObjectItem(l0, "gflop")));
            CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "session")));
            /* GPU utilisation: an object (CUDA with NVML) or null, and always a note saying which */
            cJSON *gpu = cJSON_GetObjectItem(j, "gpu_utilisation"), *note = cJSON_GetObjectItem(j, "gpu_utilisation_note");
            cJSON *bkn = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "session"), "backend");
            CHECK(cJSON_IsObject(gpu) || cJSON_IsNull(gpu));
            CHECK(cJSON_IsString(note) && note->valuestring[0]);
            if (cJSON_IsString(bkn) && strcmp(bkn->valuestring, "cuda") != 0)
                CHECK(cJSON_IsNull(gpu) && cJSON_IsString(note) && strncmp(note->valuestring, "CPU backend", 11) == 0);
        } else {
            cJSON *ev = cJSON_GetObjectItem(j, "traceEvents");
            CHECK(cJSON_IsArray(ev) && cJSON_GetArraySize(ev) > 5);
            int nx = 0;
            cJSON *e2;
            cJSON_ArrayForEach(e2, ev) {
                cJSON *ph = cJSON_GetObjectItem(e2, "ph");
                if (cJSON_IsString(ph) && !strcmp(ph->valuestring, "X")) {
                    nx++;
                    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(e2, "ts")) && cJSON_IsNumber(cJSON_GetObjectItem(e2, "dur")));
                }
            }
            CHECK(nx > 5);
        }
        cJSON_Delete(j);
    }

    gaitrt_session_free(s1);
    gaitrt_session_free(s8);
    gaitrt_session_free(sb);
    gaitrt_session_free(sf);
    gaitrt_session_free(sbal);
    gaitrt_session_free(sagg);
    gaitrt_session_free(sn);
    gaitrt_session_free(sprof);
    test_precision(m, &seqs[2], per);
    gaitrt_model_free(m);
    for (int i = 0; i < NS; i++) free(frames[i]);
    test_padded_batches("DeepGaitV2:3d-1111-w8", GAITRT_LEVEL_CONSERVATIVE);
    test_padded_batches("DeepGaitV2:p3d-1111-w8", GAITRT_LEVEL_CONSERVATIVE);
    test_padded_batches("DeepGaitV2:3d-1111-w8", GAITRT_LEVEL_BALANCED);
    test_padded_batches("DeepGaitV2:p3d-1221", GAITRT_LEVEL_BALANCED);
    test_padding_refused();
    test_reference_weights();
    test_chunked_batches("GaitBase:small", GAITRT_LEVEL_CONSERVATIVE);
    test_chunked_batches("GaitBase:small", GAITRT_LEVEL_BALANCED);
    test_chunked_batches("GaitSet", GAITRT_LEVEL_BALANCED);
    return grt_test_finish("test_pipeline");
}
