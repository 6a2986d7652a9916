/* main.c — the gaitrt command: dispatches to subcommands. Uses only the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paths longer than PATH_MAX (4 KiB) cannot exist; snprintf cutting them is fine. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

double cli_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress(const char *what, int done, int total, double t_start) {
    const int width = 30;
    int fill = total > 0 ? (int)((double)done / total * width) : width;
    double el = cli_now_s() - t_start, rate = el > 0 ? done / el : 0, eta = rate > 0 ? (total - done) / rate : 0;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = 0;
    fprintf(stderr, "\r%s [%s] %d/%d  %.1f seq/s  ETA %dm%02ds ", what, bar, done, total, rate, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of the subfolders of dir (hidden ones skipped). */
static int subdirs(const char *dir, char ***out, int *n) {
    DIR *d = opendir(dir);
    *out = NULL;
    *n = 0;
    if (!d) return -1;
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(*out, (size_t)cap * sizeof *t);
            if (!t) break;
            *out = t;
        }
        (*out)[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_str);
    return 0;
}

int cli_dataset_list(const char *root, char ***paths, char ***labels, int *n) {
    char **ids = NULL;
    int nid = 0, cap = 0;
    *paths = NULL;
    *labels = NULL;
    *n = 0;
    if (subdirs(root, &ids, &nid) != 0) return -1;
    for (int i = 0; i < nid; i++) {
        char p1[4096], **types = NULL;
        int nt = 0;
        snprintf(p1, sizeof p1, "%s/%s", root, ids[i]);
        subdirs(p1, &types, &nt);
        for (int t = 0; t < nt; t++) {
            char p2[4096], **views = NULL;
            int nv = 0;
            snprintf(p2, sizeof p2, "%s/%s", p1, types[t]);
            subdirs(p2, &views, &nv);
            for (int v = 0; v < nv; v++) {
                if (*n == cap) {
                    cap = cap ? 2 * cap : 256;
                    char **a = realloc(*paths, (size_t)cap * sizeof *a), **b = a ? realloc(*labels, (size_t)cap * sizeof *b) : NULL;
                    if (a) *paths = a;
                    if (!a || !b) return -1;
                    *labels = b;
                }
                char p3[4096], lab[1024];
                snprintf(p3, sizeof p3, "%s/%s", p2, views[v]);
                snprintf(lab, sizeof lab, "%s\t%s\t%s", ids[i], types[t], views[v]);
                (*paths)[*n] = strdup(p3);
                (*labels)[*n] = strdup(lab);
                (*n)++;
                free(views[v]);
            }
            free(views);
            free(types[t]);
        }
        free(types);
        free(ids[i]);
    }
    free(ids);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "gaitrt %s — gait-recognition inference runtime for OpenGait checkpoints\n\n"
            "usage: gaitrt <command> [options]\n\n"
            "commands:\n"
            "  info     [-m CKPT]                       version, CPU features, devices; with -m a model summary\n"
            "  embed    -m CKPT -o OUT.npy INPUT...     embeddings [N, C, P] of sequences (see `gaitrt embed --help`)\n"
            "  bench    -m CKPT | --model NAME          latency, throughput, memory (see `gaitrt bench --help`)\n"
            "  check    -m CKPT | --model NAME          numerical consistency over devices and levels\n"
            "  profile  compare A.json B.json           two profiles side by side\n"
            "  enroll   -m CKPT -g DB ID SEQ...          add sequences of an identity to a gallery\n"
            "  identify -m CKPT -g DB [-k K] SEQ...      nearest identities in the gallery\n"
            "  eval     EMB.npy --protocol P             rank-1 / mAP / mINP (embeddings from embed --dataset)\n"
            "  convert  CKPT OUT.safetensors            write a checkpoint's weights as safetensors\n"
            "  pretreat INPUT_ROOT OUTPUT_ROOT          OpenGait pretreatment of raw silhouette frames\n"
            "  heatmap  POSES OUT.pkl                   skeleton maps (SkeletonGait) from 2-D keypoints\n",
            gaitrt_version());
}

int cli_exit_code(gaitrt_status st) {
    switch (st) {
    case GAITRT_OK: return 0;
    case GAITRT_ERR_INVALID_ARG: return 2;
    case GAITRT_ERR_IO: return 3;
    case GAITRT_ERR_FORMAT: case GAITRT_ERR_LIMIT: return 4;
    case GAITRT_ERR_REFUSED: return 5;
    case GAITRT_ERR_UNSUPPORTED: return 6;
    case GAITRT_ERR_MODEL: return 7;
    case GAITRT_ERR_INPUT: return 8;
    case GAITRT_ERR_NOMEM: return 9;
    case GAITRT_ERR_DEVICE: return 10;
    default: return 11;
    }
}

int cli_fail(const char *cmd, gaitrt_status st) {
    const char *e = gaitrt_last_error();
    fprintf(stderr, "gaitrt %s: %s: %s\n", cmd, gaitrt_status_str(st), e && *e ? e : "(no detail)");
    return cli_exit_code(st);
}

int cli_parse_level(const char *s, gaitrt_level *out) {
    if (!strcmp(s, "conservative")) *out = GAITRT_LEVEL_CONSERVATIVE;
    else if (!strcmp(s, "balanced")) *out = GAITRT_LEVEL_BALANCED;
    else if (!strcmp(s, "aggressive")) *out = GAITRT_LEVEL_AGGRESSIVE;
    else return 0;
    return 1;
}

int cli_parse_precision(const char *s, gaitrt_precision *out) {
    for (int k = 0; gaitrt_precision_name((gaitrt_precision)k); k++)
        if (!strcmp(s, gaitrt_precision_name((gaitrt_precision)k))) {
            *out = (gaitrt_precision)k;
            return 1;
        }
    fprintf(stderr, "gaitrt: unknown precision '%s' (auto, f32, tf32, f16 or bf16)\n", s);
    return 0;
}

int cli_parse_device(const char *s, gaitrt_device_kind *kind, int *index) {
    *index = 0;
    if (!strcmp(s, "auto")) *kind = GAITRT_DEVICE_AUTO;
    else if (!strcmp(s, "cpu")) *kind = GAITRT_DEVICE_CPU;
    else if (!strncmp(s, "cuda", 4)) {
        *kind = GAITRT_DEVICE_CUDA;
        if (s[4] == ':') *index = atoi(s + 5);
        else if (s[4]) return 0;
    } else return 0;
    return 1;
}

void cli_log_to_stderr(gaitrt_log_level lvl, const char *msg, void *user) {
    int min = user ? *(const int *)user : GAITRT_LOG_WARN;
    if ((int)lvl < min) return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "gaitrt: %s: %s\n", names[lvl], msg);
}

int main(int argc, char **argv) {
    static int log_min = GAITRT_LOG_WARN;
    gaitrt_log_set(cli_log_to_stderr, &log_min);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gaitrt %s\n", gaitrt_version());
        return 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "info")) return grt_cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "embed")) return grt_cmd_embed(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return grt_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return grt_cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "check")) return grt_cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "profile")) return grt_cmd_profile(argc - 1, argv + 1);
    if (!strcmp(cmd, "enroll")) return grt_cmd_enroll(argc - 1, argv + 1);
    if (!strcmp(cmd, "identify")) return grt_cmd_identify(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return grt_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "heatmap")) return grt_cmd_heatmap(argc - 1, argv + 1);
    if (!strcmp(cmd, "pretreat")) {
        return grt_cmd_pretreat(argc - 1, argv + 1);
    }
    fprintf(stderr, "gaitrt: unknown command '%s'\n", cmd);
    usage(stderr);
    return 1;
}
