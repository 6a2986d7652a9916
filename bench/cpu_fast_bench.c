/*
 * cpu_fast_bench.c — times the fast CPU backend on GaitBase- and DeepGaitV2-P3D-shaped
 * graphs (random weights, 64x44 frames): validate against the reference first (a short
 * sequence), warm up, then the median of N runs, with GFLOP/s and the share of the fp32 FMA
 * peak — both the 448 GFLOP/s of the reference machine (shared/MACHINE.md, 2 threads of
 * AVX-512) and the peak we measure here with an FMA loop of the widest vectors this CPU has
 * (timed in CPU seconds, so other jobs on the machine do not lower it). Wall-clock medians
 * need an idle machine; the GFLOP per CPU-second figure is the one to trust when it is not.
 *
 *     cpu_fast_bench [--model gaitbase|p3d|p3d-1441] [--batch N]... [--frames T] [--runs R]
 *                    [--threads K] [--bf16] [--profile]
 *
 * Not a test (nothing is asserted beyond the validation) and not a peer comparison.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fast_graphs.h"
#include "test_util.h"

#ifdef GAITRT_HAVE_OPENMP
#include <omp.h>
#endif

/* Process CPU seconds: our work whether or not other jobs share the cores. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static grt_graph *make_model(const char *model) {
    if (!strcmp(model, "gaitbase")) return fg_gaitbase(7, 64, 44, 1.0f);
    const int l1111[4] = {1, 1, 1, 1}, l1441[4] = {1, 4, 4, 1};
    if (!strcmp(model, "p3d")) return fg_deepgaitv2_p3d(7, 64, 44, l1111);
    if (!strcmp(model, "p3d-1441")) return fg_deepgaitv2_p3d(7, 64, 44, l1441);
    return NULL;
}

static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

int main(int argc, char **argv) {
    const char *model = "gaitbase";
    int batches[8] = {0}, n_batches = 0, frames = 30, runs = 0, threads = 2, bf16 = 0, profile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc && n_batches < 8) batches[n_batches++] = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else {
            fprintf(stderr, "usage: %s [--model gaitbase|p3d|p3d-1441] [--batch N]... [--frames T] [--runs R] "
                            "[--threads K] [--bf16] [--profile]\n", argv[0]);
            return 2;
        }
    }
    if (!n_batches) batches[n_batches++] = 1, batches[n_batches++] = 8;
    const grt_backend_i *fast = grt_backend_cpu_fast();
    if (!fast) {
        fprintf(stderr, "cpu-fast unavailable: %s\n", gaitrt_last_error());
        return 1;
    }
    grt_graph *raw = make_model(model);
    if (!raw) {
        fprintf(stderr, "unknown model '%s'\n", model);
        return 2;
    }
    grt_graph *g = grt_graph_fuse(raw);
    const grt_cpu_info *ci = grt_cpu_info_get();
    char feats[256];
    grt_cpu_features_str(ci, feats, sizeof feats);
    const char *peak_isa;
    const double peak = grt_cpu_measure_peak(threads, &peak_isa), ref_peak = threads == 1 ? 222.0 : 448.0;
    printf("CPU: %s, %d cores [%s]; load average %.2f\n", ci->brand, ci->n_cores, feats, loadavg());
    printf("fp32 FMA peak measured here (%s, %d threads): %.0f GFLOP/s; reference machine (MACHINE.md): %.0f GFLOP/s\n",
           peak_isa, threads, peak, ref_peak);
    const grt_precision prec = bf16 ? GRT_PREC_BF16 : GRT_PREC_F32;

    /* validate on a short sequence before timing anything */
    {
        const int t = 4;
        grt_batch_shape bs = {1, t, 1};
        grt_segment seg = {0, 0, t};
        float *x = malloc((size_t)t * 64 * 44 * sizeof(float));
        grt_rng r = {5};
        for (int i = 0; i < t * 64 * 44; i++) x[i] = grt_rng_uniform(&r) < 0.5f ? 0.0f : 1.0f;
        const float *in[1] = {x};
        float *yr = calloc(256 * 16, sizeof(float)), *yf = calloc(256 * 16, sizeof(float));
        fg_runner fr, rr;
        if (fg_open(&fr, fast, g, &bs, prec, threads) || fg_open(&rr, grt_backend_cpu_ref(), g, &bs, GRT_PREC_F32, threads)) {
            fprintf(stderr, "prepare/plan failed: %s\n", gaitrt_last_error());
            return 1;
        }
        char desc[1024];
        fast->describe(fr.st, desc, sizeof desc);
        printf("backend: %s\n", desc);
        if (fg_run(&fr, in, &seg, yf, NULL) || fg_run(&rr, in, &seg, yr, NULL)) {
            fprintf(stderr, "run failed: %s\n", gaitrt_last_error());
            return 1;
        }
        printf("validation 1x%d vs reference: relative L2 %.3g, min cosine %.6f\n", t, grt_rel_l2(yf, yr, 256 * 16),
               grt_min_cosine(yf, yr, 1, 256 * 16));
        fg_close(&fr);
        fg_close(&rr);
        free(x), free(yr), free(yf);
    }

    for (int bi = 0; bi < n_batches; bi++) {
        const int n = batches[bi];
        grt_batch_shape bs = {n, frames, n};
        grt_segment seg[64];
        for (int s = 0; s < n && s < 64; s++) seg[s] = (grt_segment){s, 0, frames};
        grt_plan *p = NULL;
        if (n > 64 || grt_plan_create(g, &bs, &p) != GRT_OK) {
            fprintf(stderr, "batch %d: %s\n", n, gaitrt_last_error());
            return 1;
        }
        const double flops = p->total_flops;
        const size_t in_n = (size_t)n * frames * 64 * 44;
        float *x = malloc(in_n * sizeof(float)), *y = calloc((size_t)n * 256 * 16, sizeof(float));
        grt_rng r = {11};
        for (size_t i = 0; i < in_n; i++) x[i] = grt_rng_uniform(&r) < 0.5f ? 0.0f : 1.0f;
        const float *in[1] = {x};
        fg_runner fr;
        double tp0 = grt_now_s();
        if (fg_open(&fr, fast, g, &bs, prec, threads)) {
            fprintf(stderr, "batch %d: %s\n", n, gaitrt_last_error());
            return 1;
        }
        double tplan = grt_now_s() - tp0;
        int nr = runs > 0 ? runs : (n == 1 ? 15 : 5);
        double *ts = malloc((size_t)nr * sizeof(double));
        for (int w = 0; w < 2; w++) fg_run(&fr, in, seg, y, NULL);
        double la0 = loadavg(), c0 = cpu_s();
        for (int k = 0; k < nr; k++) {
            double t0 = grt_now_s();
            if (fg_run(&fr, in, seg, y, NULL)) {
                fprintf(stderr, "run failed: %s\n", gaitrt_last_error());
                return 1;
            }
            ts[k] = grt_now_s() - t0;
        }
        /* CPU seconds per run: robust to other jobs taking our cores, but OpenMP's spinning
         * threads count too, so it understates the kernels' efficiency a little */
        const double cpu_per_run = (cpu_s() - c0) / nr;
        qsort(ts, (size_t)nr, sizeof(double), cmp_d);
        const double med = ts[nr / 2], gf = flops / med / 1e9;
        printf("%s %dx%d %s: median %.1f ms (min %.1f, max %.1f, %d runs) | %.1f GFLOP | %.0f GFLOP/s | %.1f%% of %.0f "
               "(MACHINE.md) | %.1f%% of %.0f measured here | %.0f GFLOP per CPU-s (%.0f%% of one core's %.0f) | prepare+plan "
               "%.2f s, plan memory %.1f MiB | load %.2f\n",
               model, n, frames, bf16 ? "bf16" : "fp32", med * 1e3, ts[0] * 1e3, ts[nr - 1] * 1e3, nr, flops / 1e9, gf,
               100.0 * gf / ref_peak, ref_peak, 100.0 * gf / peak, peak, flops / cpu_per_run / 1e9,
               100.0 * flops / cpu_per_run / 1e9 / (peak / threads), peak / threads, tplan,
               fast->plan_bytes(fr.pl) / 1048576.0, la0);
        if (profile) {
            grt_prof prof = {0};
            prof.cap = 4096;
            prof.ev = calloc((size_t)prof.cap, sizeof *prof.ev);
            double tot[1024] = {0};
            const int reps = 3;
            for (int rep = 0; rep < reps; rep++) {
                prof.n = 0;
                fg_run(&fr, in, seg, y, &prof);
                for (int e = 0; e < prof.n; e++)
                    if (prof.ev[e].node < 1024) tot[prof.ev[e].node] += prof.ev[e].t1 - prof.ev[e].t0;
            }
            printf("  per layer (mean of %d runs):\n", reps);
            for (int e = 0; e < prof.n; e++) {
                const grt_prof_event *ev = &prof.ev[e];
                double t = tot[ev->node] / reps;
                printf("    %-22s %-12s %8.2f ms %7.1f GFLOP/s\n", ev->name, ev->op, t * 1e3,
                       t > 0 ? ev->flops / t / 1e9 : 0.0);
            }
            free(prof.ev);
        }
        fg_close(&fr);
        free(ts), free(x), free(y);
        grt_plan_free(p);
    }
    grt_graph_free(g);
    grt_graph_free(raw);
    return 0;
}
