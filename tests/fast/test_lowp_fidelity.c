/* test_lowp_fidelity.c — reduced precision on the CPU (the aggressive level: bf16 with fp32
 * accumulation where the CPU has avx512_bf16, else relaxed fp32 — Winograd F(4x4, 3x3) on the 3x3x3
 * kernels too, where fp32 runs F(2x2))
 * against fp32 (balanced) on a retrieval set built from the real demo
 * silhouettes: every embedding's cosine with its fp32 twin >= 0.9995, and every probe ranks
 * the gallery in the same order. Two gallery entries whose fp32 distances differ by at most
 * 0.1% of the distance or 0.001 (the embeddings are normalised per part, so distances are in
 * units of a part vector's length) may swap: that is a tie, not a ranking. The absolute floor
 * matters with random weights, where every embedding sits close to every other (distances
 * about 0.1): bf16 carries 8 significant bits (2^-8 = 0.0039 of a value), and the cosine
 * bound above lets an embedding move by up to 0.03; a gap of 0.001 is below what either
 * precision can promise to order.
 *
 * Two models: GaitBase (2-D convolutions) and GaitGL (3x3x3 ones: relaxed fp32 differs from
 * fp32 only there, as fp32 already runs F(4x4) on 2-D layers).
 *
 * On a CPU with neither (no AVX2) the aggressive level runs plain fp32 (the session says so)
 * and this test reports SKIPPED (exit 77): there is nothing reduced to check.
 *
 * usage: test_lowp_fidelity SHARED_DATA_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gaitrt.h"
#include "test_util.h"

#define MAX_SEQ 32
#define WIN 24 /* frames per retrieval sequence: windows of the demo's ~60-frame sequences */

/* One model's check; 0 when it ran, 77 when its aggressive level has no reduced precision here. */
static int check_model(const char *type, const char *data_dir, int on_gpu) {
    gaitrt_model *m = gaitrt_model_create_random(type, 21);
    CHECK_MSG(m != NULL, "%s: %s", type, gaitrt_last_error());
    if (!m) return 0;
    printf("%s:\n", type);
    gaitrt_session_params sp = gaitrt_session_default_params();
    /* the CPU's reduced precision by default; "cuda" checks the GPU's aggressive level (f16) the same way */
    sp.device = on_gpu ? GAITRT_DEVICE_CUDA : GAITRT_DEVICE_CPU;
    sp.level = GAITRT_LEVEL_AGGRESSIVE;
    sp.normalize = 1;
    gaitrt_session *low = gaitrt_session_create(m, &sp);
    if (!low && on_gpu) {
        printf("  no CUDA device (%s)\n", gaitrt_last_error());
        gaitrt_model_free(m);
        return 77;
    }
    CHECK_MSG(low != NULL, "%s", gaitrt_last_error());
    char rep[4096] = "";
    if (low) gaitrt_session_report(low, rep, sizeof rep);
    const char *mode = on_gpu ? (strstr(rep, "\"backend\": \"cuda\"") ? "CUDA f16" : NULL)
                       : strstr(rep, "bf16 (fp32 accumulation)") ? "bf16" : strstr(rep, "fp32 relaxed") ? "relaxed fp32" : NULL;
    if (!low || !mode) {
        printf("  the aggressive level runs plain fp32 on this CPU, no reduced precision to check (%s)\n", rep);
        gaitrt_session_free(low);
        gaitrt_model_free(m);
        return 77;
    }
    sp.level = GAITRT_LEVEL_BALANCED;
    sp.device = GAITRT_DEVICE_CPU; /* the float32 side is always the CPU's */
    gaitrt_session *f32 = gaitrt_session_create(m, &sp);
    CHECK_MSG(f32 != NULL, "%s", gaitrt_last_error());

    /* the retrieval set: gallery = windows of the gallery folders, probes = the probe folders' */
    static const char *const sets[2] = {"gallery", "probe1"};
    gaitrt_sequence seqs[MAX_SEQ];
    gaitrt_sequence_data data[8];
    int is_probe[MAX_SEQ], n = 0, nd = 0;
    for (int s = 0; s < 2; s++)
        for (int id = 1; id <= 4 && nd < 8; id++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/silhouettes-demo/%s/%03d/undefined", data_dir, sets[s], id);
            if (gaitrt_sequence_load(m, path, NULL, &data[nd]) != GAITRT_OK) continue; /* probe1 has no 004 */
            const gaitrt_sequence *q = &data[nd].seq;
            const size_t frame = (size_t)q->inputs[0].channels * q->inputs[0].height * q->inputs[0].width *
                                 (q->inputs[0].dtype == GAITRT_DTYPE_U8 ? 1 : sizeof(float));
            for (int t0 = 0; t0 + WIN <= q->n_frames && n < MAX_SEQ; t0 += WIN / 2) {
                seqs[n] = *q;
                seqs[n].n_frames = WIN;
                seqs[n].inputs[0].data = (const uint8_t *)q->inputs[0].data + (size_t)t0 * frame;
                is_probe[n++] = s;
            }
            nd++;
        }
    printf("  retrieval set: %d sequences of %d frames from %d demo folders\n", n, WIN, nd);
    CHECK(n >= 8);
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    const int C = info.embed_channels, P = info.embed_parts, per = C * P;
    float *e32 = malloc(sizeof(float) * per * n), *elo = malloc(sizeof(float) * per * n);
    CHECK(gaitrt_embed(f32, seqs, n, e32, (size_t)per * n) == GAITRT_OK);
    CHECK(gaitrt_embed(low, seqs, n, elo, (size_t)per * n) == GAITRT_OK);
    const double worst = grt_min_cosine(elo, e32, n, per);
    printf("  worst per-embedding cosine %s vs fp32: %.9f (1 - cosine = %.3g)\n", mode, worst, 1.0 - worst);
    CHECK(worst >= 0.9995);
    /* every probe window against every gallery window */
    int np = 0, ng = 0, pi[MAX_SEQ], gi[MAX_SEQ];
    for (int i = 0; i < n; i++) {
        if (is_probe[i]) pi[np++] = i;
        else gi[ng++] = i;
    }
    float *pr32 = malloc(sizeof(float) * per * np), *g32 = malloc(sizeof(float) * per * ng);
    float *prlo = malloc(sizeof(float) * per * np), *glo = malloc(sizeof(float) * per * ng);
    for (int i = 0; i < np; i++) {
        memcpy(pr32 + i * per, e32 + pi[i] * per, sizeof(float) * per);
        memcpy(prlo + i * per, elo + pi[i] * per, sizeof(float) * per);
    }
    for (int i = 0; i < ng; i++) {
        memcpy(g32 + i * per, e32 + gi[i] * per, sizeof(float) * per);
        memcpy(glo + i * per, elo + gi[i] * per, sizeof(float) * per);
    }
    float *d32 = malloc(sizeof(float) * np * ng), *dlo = malloc(sizeof(float) * np * ng);
    CHECK(gaitrt_distance_matrix(pr32, np, g32, ng, C, P, 0, d32) == GAITRT_OK);
    CHECK(gaitrt_distance_matrix(prlo, np, glo, ng, C, P, 0, dlo) == GAITRT_OK);
    int swaps = 0, ties = 0;
    for (int p = 0; p < np; p++)
        for (int a = 0; a < ng; a++)
            for (int b = a + 1; b < ng; b++) {
                float x32 = d32[p * ng + a] - d32[p * ng + b], xlo = dlo[p * ng + a] - dlo[p * ng + b];
                if ((x32 < 0) == (xlo < 0)) continue;
                if (fabsf(x32) <= fmaxf(1e-3f, 1e-3f * fmaxf(d32[p * ng + a], d32[p * ng + b]))) {
                    ties++;
                } else {
                    swaps++;
                    printf("  probe %d: gallery %d, %d at fp32 distances %.6f, %.6f, at %s %.6f, %.6f\n", p, a, b,
                           d32[p * ng + a], d32[p * ng + b], mode, dlo[p * ng + a], dlo[p * ng + b]);
                }
            }
    printf("  rank order over %d probes x %d gallery: %d pairs swapped, %d near-ties swapped\n", np, ng, swaps, ties);
    CHECK(swaps == 0);
    free(pr32), free(g32), free(prlo), free(glo), free(d32), free(dlo), free(e32), free(elo);
    for (int i = 0; i < nd; i++) gaitrt_sequence_data_free(&data[i]);
    gaitrt_session_free(f32);
    gaitrt_session_free(low);
    gaitrt_model_free(m);
    return 0;
}

/* The rest of the zoo, lighter: per-embedding cosine >= 0.9995 on a few synthetic sequences
 * (a walking ellipse in every input: silhouettes, parsing labels by body height, pose maps),
 * as no demo data exists for pose or parsing inputs; the lengths differ, so models that batch
 * padded sequences run a padded batch. 0 when it ran, 77 when nothing reduced. */
static int check_zoo_model(const char *type) {
    gaitrt_model *m = gaitrt_model_create_random(type, 5);
    CHECK_MSG(m != NULL, "%s: %s", type, gaitrt_last_error());
    if (!m) return 0;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.device = GAITRT_DEVICE_CPU;
    sp.normalize = 1;
    sp.seq_len_tolerance = 4;
    sp.level = GAITRT_LEVEL_AGGRESSIVE;
    gaitrt_session *low = gaitrt_session_create(m, &sp);
    sp.level = GAITRT_LEVEL_BALANCED;
    gaitrt_session *f32 = gaitrt_session_create(m, &sp);
    CHECK_MSG(low && f32, "%s: %s", type, gaitrt_last_error());
    char rep[4096] = "";
    if (low) gaitrt_session_report(low, rep, sizeof rep);
    const char *mode = strstr(rep, "bf16 (fp32 accumulation)") ? "bf16" : strstr(rep, "fp32 relaxed") ? "relaxed fp32" : NULL;
    enum { NS = 3, T = 20 };
    float *buf[GAITRT_MAX_INPUTS] = {0};
    gaitrt_sequence seqs[NS];
    memset(seqs, 0, sizeof seqs);
    int ok = low && f32 && mode;
    for (int k = 0; ok && k < info.n_inputs; k++) {
        const gaitrt_model_input_desc *d = &info.inputs[k];
        const size_t frame = (size_t)d->channels * d->height * d->width;
        buf[k] = malloc(sizeof(float) * frame * T * NS);
        ok = buf[k] != NULL;
        for (int q = 0; ok && q < NS; q++)
            for (int t = 0; t < T; t++) {
                /* an ellipse swaying with the frame, a different size per sequence */
                const double cx = d->width * (0.5 + 0.12 * sin(0.6 * t + q)), cy = d->height * 0.5;
                const double rx = d->width * (0.18 + 0.03 * q), ry = d->height * 0.42;
                for (int c = 0; c < d->channels; c++)
                    for (int y = 0; y < d->height; y++)
                        for (int x = 0; x < d->width; x++) {
                            const double ex = (x - cx) / rx, ey = (y - cy) / ry, r = ex * ex + ey * ey;
                            float v = r <= 1.0 ? 1.0f : 0.0f;
                            if (d->divisor == 1.0f) v *= (float)(1 + (y * 6) / d->height); /* parsing labels */
                            else if (d->channels > 1) v = (float)exp(-2.0 * r) * (float)(c + 1) / d->channels; /* maps */
                            buf[k][(((size_t)q * T + t) * d->channels + c) * d->height * d->width + (size_t)y * d->width + x] = v;
                        }
            }
        for (int q = 0; ok && q < NS; q++) {
            seqs[q].n_frames = T - 3 * (q % 2); /* lengths differ: padded batches are checked too */
            seqs[q].inputs[k] = (gaitrt_input){GAITRT_DTYPE_F32, d->channels, d->height, d->width,
                                               buf[k] + (size_t)q * T * frame, 0};
        }
    }
    int rc = 77;
    if (ok) {
        const int per = info.embed_channels * info.embed_parts;
        float *e32 = malloc(sizeof(float) * per * NS), *elo = malloc(sizeof(float) * per * NS);
        CHECK_MSG(gaitrt_embed(f32, seqs, NS, e32, (size_t)per * NS) == GAITRT_OK, "%s: %s", type, gaitrt_last_error());
        CHECK_MSG(gaitrt_embed(low, seqs, NS, elo, (size_t)per * NS) == GAITRT_OK, "%s: %s", type, gaitrt_last_error());
        const double worst = grt_min_cosine(elo, e32, NS, per);
        printf("%s: worst per-embedding cosine %s vs fp32 over %d synthetic sequences: %.9f\n", type, mode, NS, worst);
        CHECK_MSG(worst >= 0.9995, "%s", type);
        free(e32), free(elo);
        rc = 0;
    }
    for (int k = 0; k < GAITRT_MAX_INPUTS; k++) free(buf[k]);
    gaitrt_session_free(f32);
    gaitrt_session_free(low);
    gaitrt_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_lowp_fidelity SHARED_DATA_DIR [cpu|cuda]\n");
        return 2;
    }
    char demo[1024];
    snprintf(demo, sizeof demo, "%s/silhouettes-demo", argv[1]);
    struct stat sb;
    if (stat(demo, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("SKIPPED: no shared sample data at %s\n", demo);
        return 77;
    }
    const int on_gpu = argc > 2 && !strcmp(argv[2], "cuda");
    int ran = 0;
    static const char *const types[2] = {"GaitBase", "GaitGL"};
    for (int i = 0; i < 2; i++) ran += check_model(types[i], argv[1], on_gpu) == 0;
    static const char *const zoo[] = {"GaitSet", "GaitPart", "DeepGaitV2:2d-1111", "DeepGaitV2:p3d-1441",
                                      "DeepGaitV2:3d-1111", "SkeletonGait++", "XGait"};
    for (size_t i = 0; !on_gpu && i < sizeof zoo / sizeof *zoo; i++) ran += check_zoo_model(zoo[i]) == 0;
    if (!ran) {
        printf("SKIPPED: no reduced precision to check here\n");
        return 77;
    }
    return grt_test_finish("test_lowp_fidelity");
}
