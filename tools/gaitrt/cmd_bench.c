/* cmd_bench.c — `gaitrt bench`: times N runs after warm-up inside one process and reports the
 * median (and min/max) latency, sequences/s, frames/s, GFLOP/s, % of the fp32 peak and peak
 * RSS; --json writes the same as JSON. Input: --tensor X.npy, or random silhouettes of
 * --frames T x --batch B (speed does not depend on the values). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <unistd.h>

#include "cli.h"

/* ---- peers: PyTorch (Debian's and PyPI's, eager and compiled) and ONNX Runtime ---------------- */

typedef struct peer_spec {
    const char *label;
    const char *python; /* relative to the source dir when not absolute; a bare name is looked up in PATH */
    const char *mode;
    const char *device; /* "cpu" or "cuda" */
    const char *amp;    /* "" or an autocast type */
} peer_spec;

/* A bare program name found in PATH (the GPU machines' PyTorch is whatever python3 is there). */
static int find_in_path(const char *name, char *out, size_t cap) {
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n > 0 && (size_t)snprintf(out, cap, "%.*s/%s", (int)n, path, name) < cap && access(out, X_OK) == 0) return 1;
        path = end ? end + 1 : NULL;
    }
    return 0;
}

typedef struct peer_result {
    char label[96], version[128], missing[1400];
    double median_ms, min_ms, max_ms, rss_mib, rel_l2, device_ms;
    int ok;
    int failed; /* it ran and failed: its hint names the files in the peers' folder */
} peer_result;

static void run_peer(const peer_spec *ps, const char *src, const char *model, const char *weights, const char *input,
                     const char *expect, int runs, int warmup, int threads, peer_result *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", ps->label);
    r->rel_l2 = -1;
    char py[1024];
    /* GAITRT_PEER_PYTHON: the Python of the GPU peers, and of the current-torch CPU peers in
     * place of bench/.venv (a machine whose Python already has torch and onnxruntime) */
    const char *env_py = getenv("GAITRT_PEER_PYTHON");
    if ((!strchr(ps->python, '/') || strstr(ps->python, ".venv")) && env_py && *env_py)
        snprintf(py, sizeof py, "%s", env_py);
    else if (!strchr(ps->python, '/') && !find_in_path(ps->python, py, sizeof py))
        snprintf(py, sizeof py, "%s (in PATH)", ps->python);
    else if (ps->python[0] == '/')
        snprintf(py, sizeof py, "%s", ps->python);
    else if (strchr(ps->python, '/'))
        snprintf(py, sizeof py, "%s/%s", src, ps->python);
    if (access(py, X_OK) != 0) {
        snprintf(r->missing, sizeof r->missing, "%s not found%s", py,
                 strstr(ps->python, ".venv") ? " (run bench/setup_venv.sh)" : " (install python3-torch)");
        return;
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' '%s/bench/peers/torch_peer.py' --model '%s' --weights '%s' --input '%s' --mode %s --runs %d "
             "--warmup %d --threads %d --expect '%s' --device %s%s%s 2>&1", py, src, model, weights, input, ps->mode, runs, warmup,
             threads, expect, ps->device, ps->amp[0] ? " --amp " : "", ps->amp);
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(r->missing, sizeof r->missing, "cannot start %s", py);
        return;
    }
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof line, p))
        if (line[0] == '{') snprintf(last, sizeof last, "%s", line);
    int rc = pclose(p);
    cJSON *j = cJSON_Parse(last);
    if (!j) {
        snprintf(r->missing, sizeof r->missing, "peer failed (exit %d) ---> HINT: run the command by hand: %.150s", rc, cmd);
        r->failed = 1;
        return;
    }
    const cJSON *m = cJSON_GetObjectItem(j, "missing");
    if (cJSON_IsString(m)) {
        snprintf(r->missing, sizeof r->missing, "%s", m->valuestring);
    } else {
        const cJSON *v = cJSON_GetObjectItem(j, "version");
        snprintf(r->version, sizeof r->version, "%s", cJSON_IsString(v) ? v->valuestring : "?");
        r->median_ms = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "median_ms"));
        r->min_ms = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "min_ms"));
        r->max_ms = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "max_ms"));
        r->rss_mib = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "peak_rss_mib"));
        const cJSON *dm = cJSON_GetObjectItem(j, "device_median_ms");
        r->device_ms = cJSON_IsNumber(dm) ? dm->valuedouble : -1;
        const cJSON *e = cJSON_GetObjectItem(j, "rel_l2_vs_gaitrt");
        if (cJSON_IsNumber(e)) r->rel_l2 = e->valuedouble;
        r->ok = 1;
    }
    cJSON_Delete(j);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Removes the peers' scratch folder: what was written there (weights, input, outputs, the
 * exported ONNX model and its data) and the folder itself. */
static void bench_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    if (rmdir(dir) != 0) fprintf(stderr, "gaitrt bench: could not remove the peers' folder %s\n", dir);
}

int grt_cmd_bench(int argc, char **argv) {
    gaitrt_model_params mp = gaitrt_model_default_params();
    gaitrt_session_params sp = gaitrt_session_default_params();
    const char *ckpt = NULL, *model_name = NULL, *json = NULL, *tensor = NULL;
    int frames = 30, batch = 1, runs = 10, warmup = 2, peers = 0, mixed = 0, one_at_a_time = 0, max_batch = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-m") && more) ckpt = argv[++i];
        else if (!strcmp(a, "--model") && more) model_name = argv[++i];
        else if (!strcmp(a, "--model-type") && more) mp.model_type = argv[++i];
        else if (!strcmp(a, "--config") && more) mp.config_path = argv[++i];
        else if (!strcmp(a, "--no-strict")) mp.strict = 0;
        else if (!strcmp(a, "--tensor") && more) tensor = argv[++i];
        else if (!strcmp(a, "--frames") && more) frames = atoi(argv[++i]);
        else if (!strcmp(a, "--batch") && more) batch = atoi(argv[++i]);
        else if (!strcmp(a, "--max-batch") && more) max_batch = atoi(argv[++i]);
        else if (!strcmp(a, "--runs") && more) runs = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && more) warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && more) sp.n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--memory-budget") && more) sp.memory_budget = (int64_t)(atof(argv[++i]) * 1048576.0);
        else if (!strcmp(a, "--seq-tolerance") && more) sp.seq_len_tolerance = atoi(argv[++i]);
        else if (!strcmp(a, "--level") && more) {
            if (!cli_parse_level(argv[++i], &sp.level)) return 1;
        } else if (!strcmp(a, "--precision") && more) {
            if (!cli_parse_precision(argv[++i], &sp.precision)) return 1;
        } else if (!strcmp(a, "--device") && more) {
            if (!cli_parse_device(argv[++i], &sp.device, &sp.device_index)) return 1;
        } else if (!strcmp(a, "--json") && more) json = argv[++i];
        else if (!strcmp(a, "--peers")) peers = 1;
        else if (!strcmp(a, "--mixed")) mixed = 1;
        else if (!strcmp(a, "--one-at-a-time")) one_at_a_time = 1;
        else {
            fprintf(stderr, "usage: gaitrt bench (-m CKPT | --model NAME) [--tensor X.npy | --frames T --batch B] [--runs N] "
                            "[--warmup W] [--threads N] [--level L] [--precision P] [--device D] [--json OUT] [--peers]\n"
                            "       [--memory-budget MiB] [--seq-tolerance F] [--max-batch M] (runs of at most M sequences)\n"
                            "       [--mixed] (B sequences of 20..120 frames)  [--one-at-a-time] (no batching)\n");
            return 1;
        }
    }
    if (mixed) frames = 120; /* buffer per sequence; lengths below */
    if (mixed && (peers || tensor)) {
        fprintf(stderr, "gaitrt bench: --mixed cannot be combined with --peers or --tensor\n");
        return 1;
    }
    if ((!ckpt) == (!model_name) || frames <= 0 || batch <= 0 || runs <= 0 || warmup < 0 || max_batch < 0) {
        fprintf(stderr, "gaitrt bench: give exactly one of -m CKPT or --model NAME, and positive --frames/--batch/--runs/--max-batch\n");
        return 1;
    }
    mp.keep_reference_weights = sp.level == GAITRT_LEVEL_CONSERVATIVE; /* it runs the unfused graph at once */
    gaitrt_model *m = ckpt ? gaitrt_model_load(ckpt, &mp) : gaitrt_model_create_random(model_name, 42);
    if (!m) return cli_fail("bench", gaitrt_last_status());
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    sp.max_batch_size = max_batch ? max_batch : batch > sp.max_batch_size ? batch : sp.max_batch_size;
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
            seqs[b].n_frames = mixed ? 20 + (b * 37) % 101 : frames;
            seqs[b].inputs[k] = (gaitrt_input){GAITRT_DTYPE_F32, d->channels, d->height, d->width, base + (size_t)b * per, 0};
        }
    }
    size_t per_out = (size_t)info.embed_channels * info.embed_parts;
    float *out = malloc((size_t)batch * per_out * sizeof(float));
    double *times = malloc((size_t)runs * sizeof(double));
    if (!out || !times) { free(out); free(times); rc = 9; goto done; }
    for (int r = 0; r < warmup + runs; r++) {
        double t0 = now_s();
        gaitrt_status st = GAITRT_OK;
        if (one_at_a_time)
            for (int b = 0; b < batch && st == GAITRT_OK; b++) st = gaitrt_embed(s, &seqs[b], 1, out + b * per_out, per_out);
        else
            st = gaitrt_embed(s, seqs, batch, out, (size_t)batch * per_out);
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
    long tot_frames = 0;
    for (int b = 0; b < batch; b++) tot_frames += seqs[b].n_frames;
    double gflop = 2.0 * (info.macs_per_frame * tot_frames + info.macs_per_sequence * batch) / 1e9;
    gaitrt_device_desc dev[9];
    int nd = 0;
    gaitrt_device_list(m, dev, 9, &nd);
    int threads = sp.n_threads > 0 ? sp.n_threads : dev[0].cores;
    double peak = gaitrt_cpu_peak_gflops(threads); /* measured here, now */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char rep[4096];
    gaitrt_session_report(s, rep, sizeof rep);
    printf("gaitrt bench: %s (%s), %d sequences, %ld frames%s, %d threads, level %d%s\n", info.type, info.variant, batch,
           tot_frames, mixed ? " (mixed lengths 20..120)" : "", threads, sp.level, one_at_a_time ? ", one sequence at a time" : "");
    printf("  session: %s\n", rep);
    printf("  latency: median %.2f ms (min %.2f, max %.2f) over %d runs after %d warm-up\n", med * 1e3, times[0] * 1e3,
           times[runs - 1] * 1e3, runs, warmup);
    printf("  throughput: %.2f sequences/s, %.1f frames/s\n", batch / med, tot_frames / med);
    printf("  compute: %.2f GFLOP per run (direct convolution count), %.1f GFLOP/s = %.0f%% of the %.0f GFLOP/s fp32 FMA peak "
           "measured here with %d threads%s\n", gflop, gflop / med, 100.0 * gflop / med / peak, peak, threads,
           gflop / med > peak ? " (above 100%: Winograd does the work with fewer multiplies)" : "");
    printf("  peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
    peer_result pr[5];
    int n_peers = 0, keep_dir = 0;
    if (peers) {
        const char *src = getenv("GAITRT_SOURCE_DIR") ? getenv("GAITRT_SOURCE_DIR") : GAITRT_SOURCE_DIR;
        const char *tmp = getenv("TMPDIR");
        char dir[256];
        snprintf(dir, sizeof dir, "%.200s/gaitrt-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "gaitrt bench: --peers needs a temporary folder (%s): %s\n", dir, strerror(errno));
            rc = 1;
        } else {
            char wpath[300], ipath[1000] = "", epath[300];
            snprintf(wpath, sizeof wpath, "%s/weights.safetensors", dir);
            snprintf(epath, sizeof epath, "%s/gaitrt_out.npy", dir);
            gaitrt_status st = ckpt ? GAITRT_OK : gaitrt_random_checkpoint_write(model_name, 42, wpath);
            /* one .npy per input, in the model's input order: [B, T, H, W], or [B, T, C, H, W] for
             * inputs of several channels (SkeletonGait++'s heatmaps); the peer gets them comma-separated */
            for (int k = 0; st == GAITRT_OK && k < info.n_inputs; k++) {
                const gaitrt_model_input_desc *d = &info.inputs[k];
                void *x = tensor ? ta.data : data[k];
                gaitrt_array ia = {GAITRT_DTYPE_F32, 4, {batch, frames, d->height, d->width}, x};
                if (d->channels > 1) ia = (gaitrt_array){GAITRT_DTYPE_F32, 5, {batch, frames, d->channels, d->height, d->width}, x};
                char one[300];
                if (k == 0)
                    snprintf(one, sizeof one, "%s/input.npy", dir);
                else
                    snprintf(one, sizeof one, "%s/input%d.npy", dir, k);
                st = gaitrt_array_save_npy(one, &ia);
                snprintf(ipath + strlen(ipath), sizeof ipath - strlen(ipath), "%s%s", k ? "," : "", one);
            }
            gaitrt_array oa = {GAITRT_DTYPE_F32, 3, {batch, info.embed_channels, info.embed_parts}, out};
            if (st == GAITRT_OK) st = gaitrt_array_save_npy(epath, &oa);
            if (st != GAITRT_OK) {
                rc = cli_fail("bench", st);
            } else {
                /* peers on the session's device: the CPU's against Debian's and PyPI's PyTorch and ONNX
                 * Runtime; a CUDA session's against PyTorch on the same GPU (GAITRT_PEER_PYTHON or python3) */
                const int on_gpu = strstr(rep, "\"backend\": \"cuda\"") != NULL;
                const peer_spec cpu_specs[5] = {{"PyTorch (Debian)", "/usr/bin/python3", "eager", "cpu", ""},
                                                {"PyTorch (PyPI)", "bench/.venv/bin/python", "eager", "cpu", ""},
                                                {"PyTorch (PyPI) torch.compile", "bench/.venv/bin/python", "compile", "cpu", ""},
                                                {"ONNX Runtime", "bench/.venv/bin/python", "onnx", "cpu", ""},
                                                {"PyTorch (PyPI) AMP bf16", "bench/.venv/bin/python", "eager", "cpu", "bf16"}};
                const peer_spec gpu_specs[4] = {{"PyTorch CUDA fp32", "python3", "eager", "cuda", ""},
                                                {"PyTorch CUDA AMP fp16", "python3", "eager", "cuda", "fp16"},
                                                {"PyTorch CUDA AMP bf16", "python3", "eager", "cuda", "bf16"},
                                                {"torch.compile CUDA AMP fp16", "python3", "compile", "cuda", "fp16"}};
                const peer_spec *specs = on_gpu ? gpu_specs : cpu_specs;
                /* gaitrt in bf16 on the CPU: PyTorch's CPU autocast to bf16 as a fifth peer */
                const int n_specs = on_gpu ? 4 : strstr(rep, "bf16 (fp32 accumulation)") ? 5 : 4;
                printf("peers (same weights and input, %d threads, median of %d runs):\n", threads, runs);
                printf("  %-30s %-44s %10s %9s %9s %10s %9s\n", "runtime", "version", "median ms", "gaitrt/x", "x/gaitrt", "RSS MiB",
                       "rel L2");
                printf("  %-30s %-44s %10.2f %9s %9s %10.1f %9s\n", "gaitrt", gaitrt_version(), med * 1e3, "1.00", "1.00",
                       ru.ru_maxrss / 1024.0, "-");
                for (int k = 0; k < n_specs; k++) {
                    run_peer(&specs[k], src, ckpt ? info.type : model_name, ckpt ? ckpt : wpath, ipath, epath, runs, warmup,
                             threads, &pr[k]);
                    n_peers++;
                    if (!pr[k].ok) {
                        printf("  %-30s missing: %s\n", pr[k].label, pr[k].missing);
                        keep_dir |= pr[k].failed;
                        continue;
                    }
                    printf("  %-30s %-44.44s %10.2f %9.2f %9.2f %10.1f %9.2g\n", pr[k].label, pr[k].version, pr[k].median_ms,
                           med * 1e3 / pr[k].median_ms, pr[k].median_ms / (med * 1e3), pr[k].rss_mib, pr[k].rel_l2);
                }
            }
            if (keep_dir)
                printf("  (the peers' files stay in %s for the commands above)\n", dir);
            else
                bench_remove_dir(dir);
        }
    }
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "gaitrt bench: cannot write %s\n", json);
            rc = 3;
        } else {
            fprintf(f, "{\"model\": \"%s\", \"variant\": \"%s\", \"batch\": %d, \"frames\": %d, \"threads\": %d, \"level\": %d, "
                       "\"runs\": %d, \"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, \"sequences_per_s\": %.3f, "
                       "\"frames_per_s\": %.2f, \"gflop\": %.4f, \"gflops\": %.2f, \"peak_gflops\": %.1f, \"peak_rss_mib\": %.1f, "
                       "\"session\": %s, \"peers\": [",
                    info.type, info.variant, batch, frames, threads, sp.level, runs, med * 1e3, times[0] * 1e3,
                    times[runs - 1] * 1e3, batch / med, tot_frames / med, gflop, gflop / med, peak, ru.ru_maxrss / 1024.0, rep);
            for (int k = 0; k < n_peers; k++) {
                if (pr[k].ok)
                    fprintf(f, "%s{\"peer\": \"%s\", \"version\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, "
                               "\"peak_rss_mib\": %.1f, \"rel_l2_vs_gaitrt\": %.3g, \"gaitrt_time_ratio\": %.4f, \"device_median_ms\": %.4f}",
                            k ? ", " : "", pr[k].label, pr[k].version, pr[k].median_ms, pr[k].min_ms, pr[k].max_ms, pr[k].rss_mib,
                            pr[k].rel_l2, med * 1e3 / pr[k].median_ms, pr[k].device_ms);
                else
                    fprintf(f, "%s{\"peer\": \"%s\", \"missing\": \"%s\"}", k ? ", " : "", pr[k].label, pr[k].missing);
            }
            fprintf(f, "]}\n");
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
