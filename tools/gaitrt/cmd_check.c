/* cmd_check.c — `gaitrt check (-m CKPT | --model NAME)`: the numerical consistency report.
 * Runs the model on every available device and level on the same input and compares each
 * with the CPU reference (conservative level): relative L2 error and worst per-sequence
 * cosine, against each level's tolerance. Exit status 0 when all are within tolerance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void make_input(float *f, int n, int t, const gaitrt_model_input_desc *d) {
    unsigned s = 12345;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < t; i++)
            for (int c = 0; c < d->channels; c++)
                for (int y = 0; y < d->height; y++)
                    for (int x = 0; x < d->width; x++) {
                        double dx = (x - d->width / 2.0 - (i % 5) + b) / (d->width * 0.23), dy = (y - d->height / 2.0) / (d->height * 0.45);
                        s = s * 1103515245u + 12345u;
                        float v = dx * dx + dy * dy < 1.0 ? 1.0f : 0.0f;
                        if (((s >> 16) & 31) == 0) v = 1.0f - v;
                        f[((((size_t)b * t + i) * d->channels + c) * d->height + y) * d->width + x] = v;
                    }
}

int grt_cmd_check(int argc, char **argv) {
    gaitrt_model_params mp = gaitrt_model_default_params();
    const char *ckpt = NULL, *name = NULL;
    int frames = 30, batch = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--model-type") && i + 1 < argc) mp.model_type = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) mp.config_path = argv[++i];
        else if (!strcmp(argv[i], "--no-strict")) mp.strict = 0;
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: gaitrt check (-m CKPT | --model NAME) [--frames T] [--batch B]\n");
            return 1;
        }
    }
    if ((!ckpt) == (!name) || frames <= 0 || batch <= 0) {
        fprintf(stderr, "usage: gaitrt check (-m CKPT | --model NAME) [--frames T] [--batch B]\n");
        return 1;
    }
    mp.keep_reference_weights = 1; /* every level runs, the conservative one on the unfused graph */
    gaitrt_model *m = ckpt ? gaitrt_model_load(ckpt, &mp) : gaitrt_model_create_random(name, 7);
    if (!m) return cli_fail("check", gaitrt_last_status());
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    float *in[GAITRT_MAX_INPUTS] = {0};
    gaitrt_sequence *seqs = calloc((size_t)batch, sizeof *seqs);
    size_t per = (size_t)info.embed_channels * info.embed_parts;
    float *ref = malloc((size_t)batch * per * sizeof(float)), *got = malloc((size_t)batch * per * sizeof(float));
    int rc = 0;
    for (int k = 0; k < info.n_inputs; k++) {
        const gaitrt_model_input_desc *d = &info.inputs[k];
        size_t sz = (size_t)frames * d->channels * d->height * d->width;
        in[k] = malloc((size_t)batch * sz * sizeof(float));
        if (!in[k]) { rc = 9; goto done; }
        make_input(in[k], batch, frames, d);
        for (int b = 0; b < batch; b++) {
            seqs[b].n_frames = frames;
            seqs[b].inputs[k] = (gaitrt_input){GAITRT_DTYPE_F32, d->channels, d->height, d->width, in[k] + b * sz, 0};
        }
    }
    if (!seqs || !ref || !got) { rc = 9; goto done; }
    printf("numerical consistency of %s (%s), %d x %d frames, against the CPU reference (conservative):\n", info.type,
           info.variant, batch, frames);
    printf("  %-6s %-13s %-40s %12s %12s  %s\n", "device", "level", "backend", "rel L2", "min cosine", "verdict");
    const char *levels[3] = {"conservative", "balanced", "aggressive"};
    const gaitrt_device_kind devs[2] = {GAITRT_DEVICE_CPU, GAITRT_DEVICE_CUDA};
    for (int di = 0; di < 2; di++) {
        for (int lv = 0; lv < 3; lv++) {
            gaitrt_session_params sp = gaitrt_session_default_params();
            sp.device = devs[di];
            sp.level = (gaitrt_level)lv;
            gaitrt_session *s = gaitrt_session_create(m, &sp);
            if (!s) {
                if (di == 1) {
                    if (lv == 1) printf("  %-6s %-13s unavailable: %s\n", "cuda", "-", gaitrt_last_error());
                    continue;
                }
                rc = cli_fail("check", gaitrt_last_status());
                goto done;
            }
            char rep[4096], backend[64] = "?";
            gaitrt_session_report(s, rep, sizeof rep);
            const char *b = strstr(rep, "\"backend\": \"");
            if (b) sscanf(b + 12, "%63[^\"]", backend);
            if (di == 1 && !strstr(backend, "cuda")) { /* fell back: not a CUDA result */
                gaitrt_session_free(s);
                continue;
            }
            float *dst = di == 0 && lv == 0 ? ref : got;
            gaitrt_status st = gaitrt_embed(s, seqs, batch, dst, (size_t)batch * per);
            gaitrt_session_free(s);
            if (st != GAITRT_OK) {
                rc = cli_fail("check", st);
                goto done;
            }
            double num = 0, den = 0, mincos = 1;
            for (int q = 0; q < batch; q++) {
                double dd = 0, na = 0, nb = 0;
                for (size_t k = 0; k < per; k++) {
                    double a = dst[q * per + k], r = ref[q * per + k];
                    num += (a - r) * (a - r);
                    den += r * r;
                    dd += a * r;
                    na += a * a;
                    nb += r * r;
                }
                double c = dd / sqrt(na * nb + 1e-300);
                if (c < mincos) mincos = c;
            }
            double rel = sqrt(num / (den + 1e-300));
            int ok = lv == 2 ? mincos >= 0.9995 : rel <= 1e-5;
            if (!ok) rc = 12;
            printf("  %-6s %-13s %-40s %12.3g %12.7f  %s\n", di ? "cuda" : "cpu", levels[lv], backend, rel, mincos,
                   ok ? (lv == 2 ? "ok (cosine >= 0.9995)" : "ok (rel L2 <= 1e-5)") : "OUT OF TOLERANCE");
        }
    }
done:
    for (int k = 0; k < GAITRT_MAX_INPUTS; k++) free(in[k]);
    free(seqs);
    free(ref);
    free(got);
    gaitrt_model_free(m);
    return rc;
}
