/* cmd_bench.c — `gaitrt bench`: times N runs after warm-up inside one process and reports the
 * median (and min/max) latency, sequences/s, frames/s, GFLOP/s, % of the fp32 peak and peak
 * RSS; --json writes the same as JSON. Input: --tensor X.npy, or random silhouettes of
 * --frames T x --batch B (speed does not depend on the values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int grt_cmd_bench(int argc, char **argv) {
    gaitrt_model_params mp = gaitrt_model_default_params();
    gaitrt_session_params sp = gaitrt_session_default_params();
    const char *ckpt = NULL, *model_name = NULL, *json = NULL, *tensor = NULL;
    int frames = 30, batch = 1, runs = 10, warmup = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-m") && more) ckpt = argv[++i];
        else if (!strcmp(a, "--model") && more) model_name = argv[++i];
        else if (!strcmp(a, "--model-type") && more) mp.model_type = argv[++i];
        else if (!strcmp(a, "--config") && more) mp.config_path = argv[++i];
        else if (!strcmp(a, "--tensor") && more) tensor = argv[++i];
        else if (!strcmp(a, "--frames") && more) frames = atoi(argv[++i]);
        else if (!strcmp(a, "--batch") && more) batch = atoi(argv[++i]);
        else if (!strcmp(a, "--runs") && more) runs = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && more) warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && more) sp.n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--level") && more) {
            if (!cli_parse_level(argv[++i], &sp.level)) return 1;
        } else if (!strcmp(a, "--device") && more) {
            if (!cli_parse_device(argv[++i], &sp.device, &sp.device_index)) return 1;
        } else if (!strcmp(a, "--json") && more) json = argv[++i];
        else {
            fprintf(stderr, "usage: gaitrt bench (-m CKPT | --model NAME) [--tensor X.npy | --frames T --batch B] [--runs N] "
                            "[--warmup W] [--threads N] [--level L] [--device D] [--json OUT]\n");
            return 1;
        }
    }
    if ((!ckpt) == (!model_name) || frames <= 0 || batch <= 0 || runs <= 0 || warmup < 0) {
        fprintf(stderr, "gaitrt bench: give exactly one of -m CKPT or --model NAME, and positive --frames/--batch/--runs\n");
        return 1;
    }
    gaitrt_model *m = ckpt ? gaitrt_model_load(ckpt, &mp) : gaitrt_model_create_random(model_name, 42);
    if (!m) return cli_fail("bench", gaitrt_last_status());
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    sp.max_batch_size = batch > sp.max_batch_size ? batch : sp.max_batch_size;
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    if (!s) {
        gaitrt_model_free(m);
        return cli_fail("bench", gaitrt_last_status());
    }
    gaitrt_array ta;
    memset(&ta, 0, sizeof ta);
    float *data[GAITRT_MAX_INPUTS] = {0};
    gaitrt_sequence *seqs = NULL;
    int rc = 0;
    if (tensor) {
        gaitrt_status st = gaitrt_array_load(tensor, &ta);
        if (st != GAITRT_OK || ta.ndim < 4 || ta.dtype != GAITRT_DTYPE_F32 || info.n_inputs != 1) {
            rc = st != GAITRT_OK ? cli_fail("bench", st) : 8;
            if (st == GAITRT_OK) fprintf(stderr, "gaitrt bench: --tensor needs float32 [N,T,H,W] for a single-input model\n");
            goto done;
        }
        batch = (int)ta.shape[0];
        frames = (int)ta.shape[1];
    }
    seqs = calloc((size_t)batch, sizeof *seqs);
    if (!seqs) { rc = 9; goto done; }
    for (int k = 0; k < info.n_inputs; k++) {
        const gaitrt_model_input_desc *d = &info.inputs[k];
        size_t per = (size_t)frames * d->channels * d->height * d->width;
        if (tensor) {
            data[k] = NULL;
        } else {
            data[k] = malloc((size_t)batch * per * sizeof(float));
            if (!data[k]) { rc = 9; goto done; }
            /* a silhouette-like pattern: a filled ellipse that moves a little per frame */
            for (int b = 0; b < batch; b++)
                for (int t = 0; t < frames; t++)
                    for (int c = 0; c < d->channels; c++)
                        for (int y = 0; y < d->height; y++)
                            for (int x = 0; x < d->width; x++) {
                                double dx = (x - d->width / 2.0 - (t % 5)) / (d->width * 0.25), dy = (y - d->height / 2.0) / (d->height * 0.45);
                                data[k][((((size_t)b * frames + t) * d->channels + c) * d->height + y) * d->width + x] =
                                    dx * dx + dy * dy < 1.0 ? 1.0f : 0.0f;
                            }
        }
        for (int b = 0; b < batch; b++) {
            const float *base = tensor ? (const float *)ta.data : data[k];
            seqs[b].n_frames = frames;
            seqs[b].inputs[k] = (gaitrt_input){GAITRT_DTYPE_F32, d->channels, d->height, d->width, base + (size_t)b * per, 0};
        }
    }
    size_t per_out = (size_t)info.embed_channels * info.embed_parts;
    float *out = malloc((size_t)batch * per_out * sizeof(float));
    double *times = malloc((size_t)runs * sizeof(double));
    if (!out || !times) { free(out); free(times); rc = 9; goto done; }
    for (int r = 0; r < warmup + runs; r++) {
        double t0 = now_s();
        gaitrt_status st = gaitrt_embed(s, seqs, batch, out, (size_t)batch * per_out);
        double t1 = now_s();
        if (st != GAITRT_OK) {
            rc = cli_fail("bench", st);
            free(out);
            free(times);
            goto done;
        }
        if (r >= warmup) times[r - warmup] = t1 - t0;
    }
    qsort(times, (size_t)runs, sizeof(double), cmp_double);
    double med = runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    double gflop = 2.0 * (info.macs_per_frame * frames * batch + info.macs_per_sequence * batch) / 1e9;
    gaitrt_device_desc dev[9];
    int nd = 0;
    gaitrt_device_list(m, dev, 9, &nd);
    double peak = dev[0].peak_gflops_fp32;
    int threads = sp.n_threads > 0 ? sp.n_threads : dev[0].cores;
    if (sp.n_threads > 0 && dev[0].cores > 0) peak = peak * sp.n_threads / dev[0].cores;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char rep[4096];
    gaitrt_session_report(s, rep, sizeof rep);
    printf("gaitrt bench: %s (%s), %d x %d frames, %d threads, level %d\n", info.type, info.variant, batch, frames, threads, sp.level);
    printf("  session: %s\n", rep);
    printf("  latency: median %.2f ms (min %.2f, max %.2f) over %d runs after %d warm-up\n", med * 1e3, times[0] * 1e3,
           times[runs - 1] * 1e3, runs, warmup);
    printf("  throughput: %.2f sequences/s, %.1f frames/s\n", batch / med, batch * frames / med);
    printf("  compute: %.2f GFLOP per run, %.1f GFLOP/s = %.0f%% of the %.0f GFLOP/s fp32 peak (estimated from the features)\n",
           gflop, gflop / med, 100.0 * gflop / med / peak, peak);
    printf("  peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "gaitrt bench: cannot write %s\n", json);
            rc = 3;
        } else {
            fprintf(f, "{\"model\": \"%s\", \"variant\": \"%s\", \"batch\": %d, \"frames\": %d, \"threads\": %d, \"level\": %d, "
                       "\"runs\": %d, \"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, \"sequences_per_s\": %.3f, "
                       "\"frames_per_s\": %.2f, \"gflop\": %.4f, \"gflops\": %.2f, \"peak_gflops\": %.1f, \"peak_rss_mib\": %.1f, "
                       "\"session\": %s}\n",
                    info.type, info.variant, batch, frames, threads, sp.level, runs, med * 1e3, times[0] * 1e3,
                    times[runs - 1] * 1e3, batch / med, batch * frames / med, gflop, gflop / med, peak, ru.ru_maxrss / 1024.0, rep);
            fclose(f);
        }
    }
    free(out);
    free(times);
done:
    for (int k = 0; k < GAITRT_MAX_INPUTS; k++) free(data[k]);
    gaitrt_array_free(&ta);
    free(seqs);
    gaitrt_session_free(s);
    gaitrt_model_free(m);
    return rc;
}
