/* gpu_bench.c — parity and timing of the CUDA backend on a lent GPU (bench/gpu/run.sh runs
 * it): GaitBase (the real model family, random weights) and DeepGaitV2-P3D [1,4,4,1]-shaped
 * graphs, batches of 1, 8 and 64 sequences of 30 frames, in f32, tf32, f16 and bf16.
 *
 * Validate, then time (llm.c's dev/cuda habit): each configuration's output is compared
 * with the reference CPU backend on the same fused graph — all sequences of small batches,
 * an evenly spread sample of large ones, each sequence computed once on the CPU as a batch
 * of one (sequences are independent, and a sequence's frames do not depend on the batch it
 * is in) — float32 within relative L2 1e-5, tf32 within 1e-2, float16 / bfloat16 with
 * every embedding's cosine >= 0.9995. Then 3 warm-up runs, and the median of N: the wall
 * time of run() (pinned copies + graph replay + sync), and the device time of the replay
 * with CUDA events, L2 flushed before each.
 *
 * What this file is not: a test. It exits 1 when a parity check fails, but CI never runs
 * it (no GPU there); tests/cuda/test_cuda_gpu.c is the test.
 *
 * Usage: gaitrt_gpu_bench [--out DIR] [--models gaitbase,deepgaitv2] [--batches 1,8,64]
 *        [--frames 30] [--reps 20] [--ref-seqs 3] [--precisions f32,tf32,f16,bf16] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cuda/cuda_bench.h"
#include "gpu_models.h"
#include "models/models.h"

int grt_cuda_device_list(gaitrt_device_desc *out, int cap);

#define SEED 20240601u

typedef struct bopts {
    const char *out;
    int frames, reps, ref_seqs;
    int batches[8], n_batches;
    int model_mask;  /* 1 gaitbase, 2 deepgaitv2 */
    int prec_mask;   /* bit per grt_precision */
} bopts;

typedef struct refcache {
    const grt_graph *g;
    const grt_backend_i *bk;
    void *st, *pl;
    int frames, c, h, w;
    size_t per;
    float *rows[64];
    double secs;
    int count;
} refcache;

static const char *prec_name(grt_precision p) {
    static const char *n[] = {"f32", "tf32", "bf16", "f16"};
    return (unsigned)p < 4 ? n[p] : "?";
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static double median(const float *v, int n) {
    if (n <= 0) return NAN;
    float *c = malloc(sizeof(float) * (size_t)n);
    memcpy(c, v, sizeof(float) * (size_t)n);
    qsort(c, (size_t)n, sizeof(float), cmp_float);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

static double fmin_arr(const float *v, int n) {
    double m = INFINITY;
    for (int i = 0; i < n; i++)
        if (v[i] < m) m = v[i];
    return m;
}

static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    while (s && *s && n < cap) {
        out[n++] = atoi(s);
        s = strchr(s, ',');
        if (s) s++;
    }
    return n;
}

/* The reference output of sequence i alone (computed once, then reused by every batch). */
static const float *ref_row(refcache *rc, int i) {
    if (i < 0 || i >= 64) return NULL;
    if (rc->rows[i]) return rc->rows[i];
    float *x = grt_bb_silhouettes(i, 1, rc->c, rc->frames, rc->h, rc->w, SEED);
    float *y = malloc(sizeof(float) * rc->per);
    if (!x || !y) {
        free(x);
        free(y);
        return NULL;
    }
    const float *ins[1] = {x};
    grt_segment seg = {0, 0, rc->frames};
    grt_run_args a = {ins, &seg, y, NULL};
    double t0 = grt_now_s();
    grt_status st = rc->bk->run(rc->pl, &a);
    rc->secs += grt_now_s() - t0;
    rc->count++;
    free(x);
    if (st != GRT_OK) {
        fprintf(stderr, "reference run failed: %s\n", gaitrt_last_error());
        free(y);
        return NULL;
    }
    rc->rows[i] = y;
    return y;
}

static grt_graph *build_model(const char *name, int *c, int *h, int *w) {
    grt_graph *g = NULL;
    if (strcmp(name, "GaitBase") == 0) {
        const grt_model_family *fam = grt_model_family_find("GaitBase");
        grt_state_dict *sd = NULL;
        grt_built_model bm;
        memset(&bm, 0, sizeof bm);
        if (!fam || fam->random(NULL, 1, &sd) != GRT_OK) return NULL;
        grt_status st = fam->build(sd, NULL, &bm);
        grt_state_dict_free(sd);
        if (st != GRT_OK) return NULL;
        g = bm.graph;
    } else {
        grt_bb_cfg cfg = grt_bb_deepgaitv2("p3d");
        g = grt_bb_build(&cfg, 2);
    }
    if (!g) return NULL;
    *c = g->nodes[0].a.input.channels;
    *h = g->nodes[0].a.input.height;
    *w = g->nodes[0].a.input.width;
    grt_graph *f = grt_graph_fuse(g);
    grt_graph_free(g);
    return f;
}

int main(int argc, char **argv) {
    bopts o = {".", 30, 20, 3, {1, 8, 64}, 3, 3, 0xf};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--out") && v) o.out = argv[++i];
        else if (!strcmp(argv[i], "--frames") && v) o.frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && v) o.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ref-seqs") && v) o.ref_seqs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && v) o.n_batches = parse_list(argv[++i], o.batches, 8);
        else if (!strcmp(argv[i], "--models") && v) {
            o.model_mask = (strstr(v, "gaitbase") ? 1 : 0) | (strstr(v, "deepgaitv2") ? 2 : 0);
            i++;
        } else if (!strcmp(argv[i], "--precisions") && v) {
            o.prec_mask = 0;
            for (int p = 0; p < 4; p++) {
                const char *q = strstr(v, prec_name((grt_precision)p));
                /* "f32" is also inside "tf32": accept it only at the start or after a comma */
                while (q && q != v && q[-1] != ',') q = strstr(q + 1, prec_name((grt_precision)p));
                if (q) o.prec_mask |= 1 << p;
            }
            i++;
        } else {
            fprintf(stderr, "usage: %s [--out DIR] [--models gaitbase,deepgaitv2] [--batches 1,8,64] [--frames 30] [--reps 20] "
                            "[--ref-seqs 3] [--precisions f32,tf32,f16,bf16]\n", argv[0]);
            return 2;
        }
    }
    if (o.reps < 1) o.reps = 1;
    if (o.ref_seqs < 1) o.ref_seqs = 1;
    for (int b = 0; b < o.n_batches; b++)
        if (o.batches[b] < 1 || o.batches[b] > 64) {
            fprintf(stderr, "batches must be 1..64\n");
            return 2;
        }

    const grt_backend_i *cu = grt_backend_cuda();
    if (!cu) {
        printf("SKIPPED: no CUDA device (%s)\n", gaitrt_last_error());
        return 77;
    }
    gaitrt_device_desc dev[4];
    int nd = grt_cuda_device_list(dev, 4);
    char path[1024];
    snprintf(path, sizeof path, "%s/gpu_results.json", o.out);
    FILE *js = fopen(path, "w");
    snprintf(path, sizeof path, "%s/gpu_results.md", o.out);
    FILE *md = fopen(path, "w");
    if (!js || !md) {
        fprintf(stderr, "cannot write results under %s\n", o.out);
        return 2;
    }
    const double peak32 = nd > 0 ? dev[0].peak_gflops_fp32 : 0;
    fprintf(js, "{\"device\": \"%s\", \"features\": \"%s\", \"sms\": %d, \"peak_fp32_gflops\": %.0f, \"frames\": %d, \"reps\": %d, \"results\": [\n",
            nd > 0 ? dev[0].name : "?", nd > 0 ? dev[0].features : "", nd > 0 ? dev[0].cores : 0, peak32, o.frames, o.reps);
    fprintf(md, "# CUDA backend: parity and timing\n\nDevice: %s [%s], %d SMs, %s\n\n", nd > 0 ? dev[0].name : "?",
            nd > 0 ? dev[0].features : "", nd > 0 ? dev[0].cores : 0, nd > 0 ? dev[0].note : "");
    fprintf(md, "Sequences of %d frames (64x44 silhouettes); medians of %d runs after 3 warm-ups; device time = CUDA events "
                "around one graph replay (upload, all ops, download), L2 flushed before each; wall = run() incl. pinned copies.\n\n",
            o.frames, o.reps);
    fprintf(md, "| model | batch | prec | parity | device ms (min) | wall ms | seq/s | TFLOP/s | plan s | graph |\n");
    fprintf(md, "|---|---|---|---|---|---|---|---|---|---|\n");
    printf("%-12s %5s %-5s %-22s %14s %9s %9s %8s %7s\n", "model", "batch", "prec", "parity", "device ms(min)", "wall ms", "seq/s",
           "TFLOP/s", "plan s");

    int failures = 0, first_row = 1;
    char kernels[8][600];
    memset(kernels, 0, sizeof kernels);
    const char *models[2] = {"GaitBase", "DeepGaitV2-P3D"};
    for (int mi = 0; mi < 2; mi++) {
        if (!(o.model_mask & (1 << mi))) continue;
        int C = 1, H = 64, W = 44;
        grt_graph *g = build_model(models[mi], &C, &H, &W);
        if (!g) {
            fprintf(stderr, "%s: cannot build the graph: %s\n", models[mi], gaitrt_last_error());
            failures++;
            continue;
        }
        /* the reference backend, one sequence at a time */
        refcache rc;
        memset(&rc, 0, sizeof rc);
        rc.g = g;
        rc.bk = grt_backend_cpu_ref();
        rc.frames = o.frames;
        rc.c = C;
        rc.h = H;
        rc.w = W;
        grt_backend_opts ro;
        memset(&ro, 0, sizeof ro);
        grt_batch_shape b1 = {1, o.frames, 1};
        rc.per = 0;
        if (rc.bk->prepare(g, &ro, &rc.st) != GRT_OK || rc.bk->plan(rc.st, &b1, &rc.pl) != GRT_OK) {
            fprintf(stderr, "%s: reference backend: %s\n", models[mi], gaitrt_last_error());
            failures++;
        }
        {
            grt_plan *p = NULL;
            if (grt_plan_create(g, &b1, &p) == GRT_OK) rc.per = (size_t)p->v[g->output].numel;
            grt_plan_free(p);
        }
        void *states[4] = {NULL, NULL, NULL, NULL};
        for (int bi = 0; bi < o.n_batches; bi++) {
            const int B = o.batches[bi];
            grt_batch_shape bs = {B, o.frames, B};
            grt_segment *seg = malloc(sizeof *seg * (size_t)B);
            for (int i = 0; i < B; i++) seg[i] = (grt_segment){i, 0, o.frames};
            float *x = grt_bb_silhouettes(0, B, C, o.frames, H, W, SEED);
            float *y = malloc(sizeof(float) * rc.per * (size_t)B);
            float *wall = malloc(sizeof(float) * (size_t)o.reps), *dev_ms = malloc(sizeof(float) * (size_t)o.reps);
            const double macs = grt_bb_macs(g, &bs);
            /* which sequences the reference checks */
            int check[64], n_check = 0;
            if (o.ref_seqs >= B) {
                for (int i = 0; i < B; i++) check[n_check++] = i;
            } else {
                for (int k = 0; k < o.ref_seqs; k++) {
                    int i = o.ref_seqs == 1 ? 0 : (int)lround((double)(B - 1) * k / (o.ref_seqs - 1));
                    if (!n_check || check[n_check - 1] != i) check[n_check++] = i;
                }
            }
            for (int p = 0; p < 4; p++) {
                if (!(o.prec_mask & (1 << p))) continue;
                const grt_precision prec = (grt_precision)p;
                char parity[64] = "", err[256] = "";
                double dmed = NAN, dmin = NAN, wmed = NAN, plan_s = NAN;
                int used_graph = 0, ok = 1;
                if (!states[p]) {
                    grt_backend_opts co;
                    memset(&co, 0, sizeof co);
                    co.precision = prec;
                    if (cu->prepare(g, &co, &states[p]) != GRT_OK) {
                        snprintf(err, sizeof err, "prepare: %s", gaitrt_last_error());
                        states[p] = NULL;
                    }
                }
                void *pl = NULL;
                if (states[p]) {
                    double t0 = grt_now_s();
                    if (cu->plan(states[p], &bs, &pl) != GRT_OK) {
                        snprintf(err, sizeof err, "plan: %s", gaitrt_last_error());
                        pl = NULL;
                    }
                    plan_s = grt_now_s() - t0;
                }
                if (pl) {
                    const float *ins[1] = {x};
                    grt_run_args a = {ins, seg, y, NULL};
                    for (size_t i = 0; i < rc.per * (size_t)B; i++) y[i] = NAN;
                    if (cu->run(pl, &a) != GRT_OK) {
                        snprintf(err, sizeof err, "run: %s", gaitrt_last_error());
                    } else {
                        /* validate */
                        double num = 0, den = 0, worst = 1.0;
                        int nonfinite = 0;
                        for (int k = 0; k < n_check; k++) {
                            const float *r = ref_row(&rc, check[k]);
                            const float *q = y + (size_t)check[k] * rc.per;
                            if (!r) {
                                nonfinite = 1;
                                continue;
                            }
                            double ab = 0, aa = 0, bb = 0;
                            for (size_t i = 0; i < rc.per; i++) {
                                if (!isfinite(q[i])) nonfinite = 1;
                                double d = (double)q[i] - r[i];
                                num += d * d;
                                den += (double)r[i] * r[i];
                                ab += (double)q[i] * r[i];
                                aa += (double)q[i] * q[i];
                                bb += (double)r[i] * r[i];
                            }
                            double c = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
                            if (c < worst) worst = c;
                        }
                        double rel = den > 0 ? sqrt(num / den) : INFINITY;
                        if (nonfinite) rel = INFINITY, worst = -1;
                        if (prec == GRT_PREC_F32 || prec == GRT_PREC_TF32) {
                            ok = rel <= (prec == GRT_PREC_F32 ? 1e-5 : 1e-2);
                            snprintf(parity, sizeof parity, "relL2 %.2e %s (%d seq)", rel, ok ? "ok" : "FAIL", n_check);
                        } else {
                            ok = worst >= 0.9995;
                            snprintf(parity, sizeof parity, "cos>=%.6f %s (%d seq)", worst, ok ? "ok" : "FAIL", n_check);
                        }
                        /* time */
                        for (int r = 0; r < 3; r++) (void)cu->run(pl, &a);
                        int nw = 0;
                        for (int r = 0; r < o.reps; r++) {
                            double t0 = grt_now_s();
                            if (cu->run(pl, &a) != GRT_OK) {
                                snprintf(err, sizeof err, "timed run: %s", gaitrt_last_error());
                                break;
                            }
                            wall[nw++] = (float)((grt_now_s() - t0) * 1e3);
                        }
                        wmed = median(wall, nw);
                        if (grt_cuda_plan_time(pl, o.reps, 1, dev_ms) == GRT_OK) {
                            dmed = median(dev_ms, o.reps);
                            dmin = fmin_arr(dev_ms, o.reps);
                        } else {
                            snprintf(err, sizeof err, "timing: %s", gaitrt_last_error());
                        }
                        used_graph = grt_cuda_plan_uses_graph(pl);
                    }
                    cu->plan_release(pl);
                }
                if (err[0]) ok = 0;
                failures += !ok;
                if (states[p] && !kernels[mi * 4 + p][0]) cu->describe(states[p], kernels[mi * 4 + p], sizeof kernels[0]);
                const double tflops = isfinite(dmed) ? 2.0 * macs / (dmed * 1e-3) / 1e12 : NAN;
                const double seqs = isfinite(wmed) ? B / (wmed * 1e-3) : NAN;
                printf("%-14s %3d %-5s %-30s %8.3f (%7.3f) %9.3f %9.1f %8.2f %7.2f %s%s\n", models[mi], B, prec_name(prec),
                       parity[0] ? parity : "-", dmed, dmin, wmed, seqs, tflops, plan_s, used_graph ? "" : "(op by op)", err);
                fprintf(md, "| %s | %d | %s | %s | %.3f (%.3f) | %.3f | %.1f | %.2f | %.2f | %s |%s%s\n", models[mi], B, prec_name(prec),
                        parity[0] ? parity : "-", dmed, dmin, wmed, seqs, tflops, plan_s, used_graph ? "yes" : "no", err[0] ? " " : "", err);
                fprintf(js, "%s  {\"model\": \"%s\", \"batch\": %d, \"frames\": %d, \"precision\": \"%s\", \"gmac\": %.2f, "
                            "\"parity\": \"%s\", \"parity_ok\": %s, \"device_ms_median\": %.4f, \"device_ms_min\": %.4f, "
                            "\"wall_ms_median\": %.4f, \"seq_per_s\": %.2f, \"tflops\": %.3f, \"plan_s\": %.3f, \"cuda_graph\": %s, "
                            "\"error\": \"%s\"}",
                        first_row ? "" : ",\n", models[mi], B, o.frames, prec_name(prec), macs / 1e9, parity, ok ? "true" : "false",
                        isfinite(dmed) ? dmed : -1, isfinite(dmin) ? dmin : -1, isfinite(wmed) ? wmed : -1, isfinite(seqs) ? seqs : -1,
                        isfinite(tflops) ? tflops : -1, isfinite(plan_s) ? plan_s : -1, used_graph ? "true" : "false", err);
                first_row = 0;
                fflush(stdout);
                fflush(md);
                fflush(js);
            }
            free(seg);
            free(x);
            free(y);
            free(wall);
            free(dev_ms);
        }
        printf("%s: %d reference sequences on the CPU in %.1f s\n", models[mi], rc.count, rc.secs);
        fprintf(md, "\n%s: %.1f GMAC per sequence; %d reference sequences on the CPU (reference backend) in %.1f s\n\n", models[mi],
                grt_bb_macs(g, &(grt_batch_shape){1, o.frames, 1}) / 1e9, rc.count, rc.secs);
        for (int p = 0; p < 4; p++) {
            if (kernels[mi * 4 + p][0]) fprintf(md, "- %s %s: %s\n", models[mi], prec_name((grt_precision)p), kernels[mi * 4 + p]);
            if (states[p]) cu->release(states[p]);
        }
        fprintf(md, "\n");
        for (int i = 0; i < 64; i++) free(rc.rows[i]);
        if (rc.pl) rc.bk->plan_release(rc.pl);
        if (rc.st) rc.bk->release(rc.st);
        grt_graph_free(g);
    }
    fprintf(js, "\n], \"parity_failures\": %d}\n", failures);
    fprintf(md, "\nPeak fp32 estimate (CUDA cores x 2 x clock): %.1f TFLOP/s. Parity failures: %d.\n", peak32 / 1e3, failures);
    fclose(js);
    fclose(md);
    printf("parity failures: %d; results in %s/gpu_results.{md,json}\n", failures, o.out);
    return failures ? 1 : 0;
}
