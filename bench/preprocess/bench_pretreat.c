/*
 * bench_pretreat.c — times gaitrt's silhouette pretreatment on one thread: decoding alone
 * (gaitrt_image_read_gray) and the whole per-sequence path (gaitrt_pretreat_sequence: decode,
 * crop, INTER_CUBIC, centre, pad), over every sequence of a dataset root. Public API only.
 * The Python peer and the validation live in bench_pretreat.py, which runs this program.
 *
 * usage: bench_pretreat ROOT [--reps N] [--size S] [--ccpg] [--validate OUT_ROOT]
 * prints one JSON object on stdout.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gaitrt.h"
#include "preprocess/public_api.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this process: on a shared machine it moves less than wall time. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted sub-folders (or files) of dir */
static int list(const char *dir, int want_dir, char ***out) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 16;
    char **v = malloc(sizeof(char *) * cap);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) continue;
        if (n == cap) v = realloc(v, sizeof(char *) * (cap *= 2));
        v[n++] = strdup(p);
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp);
    *out = v;
    return n;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pretreat ROOT [--reps N] [--size S] [--ccpg] [--validate OUT_ROOT]\n");
        return 1;
    }
    const char *root = argv[1], *validate = NULL;
    int reps = 5;
    gaitrt_pretreat_params p = gaitrt_pretreat_default_params();
    p.n_threads = 1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) p.img_size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ccpg")) p.mode = GAITRT_PRETREAT_CCPG;
        else if (!strcmp(argv[i], "--validate") && i + 1 < argc) validate = argv[++i];
    }
    if (validate) { /* the same code path the command line uses, one thread */
        gaitrt_pretreat_summary s;
        if (gaitrt_pretreat_dir(root, validate, &p, &s)) {
            fprintf(stderr, "bench_pretreat: %s\n", gaitrt_last_error());
            return 1;
        }
        printf("{\"validate\": \"%s\", \"sequences\": %d, \"frames\": %lld}\n", validate, s.n_written, (long long)s.n_kept);
        return 0;
    }
    /* the sequences and their files */
    char **seqs = NULL;
    int nseq = 0, cap = 0;
    char **ids, **types, **views;
    int ni = list(root, 1, &ids);
    for (int a = 0; a < ni; a++) {
        int nt = list(ids[a], 1, &types);
        for (int b = 0; b < nt; b++) {
            int nv = list(types[b], 1, &views);
            for (int c = 0; c < nv; c++) {
                if (nseq == cap) seqs = realloc(seqs, sizeof(char *) * (cap = cap ? 2 * cap : 64));
                seqs[nseq++] = views[c];
            }
            free(views);
        }
    }
    char ***files = calloc(nseq, sizeof(char **));
    int *nfiles = calloc(nseq, sizeof(int));
    long long total_files = 0;
    for (int s = 0; s < nseq; s++) total_files += nfiles[s] = list(seqs[s], 0, &files[s]);
    uint8_t *img = malloc(4096 * 4096);
    double *t_dec = calloc(reps + 1, sizeof(double)), *t_all = calloc(reps + 1, sizeof(double));
    double *c_all = calloc(reps + 1, sizeof(double));
    long long kept = 0;
    for (int r = 0; r <= reps; r++) { /* r == 0: warm-up (page cache, allocator) */
        double t0 = now_s();
        for (int s = 0; s < nseq; s++)
            for (int k = 0; k < nfiles[s]; k++) {
                int w, h;
                if (gaitrt_image_read_gray(files[s][k], img, 4096 * 4096, &w, &h)) {
                    fprintf(stderr, "bench_pretreat: %s\n", gaitrt_last_error());
                    return 1;
                }
            }
        double t1 = now_s(), c1 = cpu_s();
        kept = 0;
        for (int s = 0; s < nseq; s++) {
            gaitrt_pretreat_result res;
            if (gaitrt_pretreat_sequence(seqs[s], &p, &res)) {
                fprintf(stderr, "bench_pretreat: %s\n", gaitrt_last_error());
                return 1;
            }
            kept += res.n_frames;
            gaitrt_pretreat_result_release(&res);
        }
        double t2 = now_s(), c2 = cpu_s();
        if (r) {
            t_dec[r - 1] = t1 - t0;
            t_all[r - 1] = t2 - t1;
            c_all[r - 1] = c2 - c1;
        }
    }
    qsort(t_dec, reps, sizeof(double), cmp_d);
    qsort(t_all, reps, sizeof(double), cmp_d);
    qsort(c_all, reps, sizeof(double), cmp_d);
    double md = t_dec[reps / 2], ma = t_all[reps / 2], mc = c_all[reps / 2];
    printf("{\"sequences\": %d, \"files\": %lld, \"kept\": %lld, \"reps\": %d, \"decode_s\": %.6f, \"pretreat_s\": %.6f, "
           "\"decode_us_per_frame\": %.2f, \"pretreat_us_per_frame\": %.2f, \"pretreat_cpu_us_per_frame\": %.2f, "
           "\"frames_per_s\": %.1f}\n",
           nseq, total_files, kept, reps, md, ma, 1e6 * md / total_files, 1e6 * ma / total_files, 1e6 * mc / total_files,
           total_files / ma);
    return 0;
}
