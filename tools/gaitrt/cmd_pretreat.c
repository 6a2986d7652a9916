/*
 * cmd_pretreat.c — `gaitrt pretreat INPUT_ROOT OUTPUT_ROOT`: OpenGait's dataset pretreatment
 * (datasets/pretreatment.py and its CCPG / parsing variants) for a whole folder tree of raw
 * frames, with a progress bar and a summary of the frames that were dropped and why.
 *
 * Uses only the public API (gaitrt.h and the preprocessing declarations meant for it). Not here:
 * skeleton maps (a library call, no command yet).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gaitrt.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: gaitrt pretreat INPUT_ROOT OUTPUT_ROOT [options]\n"
            "\n"
            "  INPUT_ROOT/<id>/<type>/<view>/*.png|jpg -> OUTPUT_ROOT/<id>/<type>/<view>/<view>.pkl\n"
            "  (uint8 [T, S, S] pickles, as OpenGait's datasets/pretreatment.py writes them)\n"
            "\n"
            "options:\n"
            "  --img-size S        output frames S x S (64, default; 128)\n"
            "  --ccpg              CCPG's alignment (INTER_AREA, no empty-frame threshold)\n"
            "  --parsing           parsing maps (labels kept, INTER_NEAREST), as pretreatment_gps.py -p\n"
            "  --threads N         sequences in parallel (default: all cores)\n"
            "  --quality-filter    drop frames failing the quality checks (off by default)\n"
            "  --min-score X       quality score below which frames are dropped (default 0.5)\n"
            "  --report FILE       write every dropped frame (sequence, file, reason, score) as TSV\n"
            "  --quiet             no progress bar and no summary\n");
}

typedef struct progress_state {
    int bar;          /* draw the bar (stderr is a terminal and not --quiet) */
    int quiet;
    FILE *report;
    double t0;
    double last_draw; /* redraw at most ten times a second */
} progress_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_progress(const gaitrt_pretreat_progress *p, void *user) {
    progress_state *ps = user;
    if (ps->report && p->files) {
        for (int i = 0; i < p->n_files; i++) {
            const gaitrt_frame_report *r = &p->files[i];
            if (r->status == GAITRT_FRAME_KEPT) continue;
            fprintf(ps->report, "%s\t%s\t%s\t", p->sequence, r->name, gaitrt_frame_status_str(r->status));
            if (r->quality >= 0)
                fprintf(ps->report, "%.3f", (double)r->quality);
            else
                fputs("-", ps->report);
            fprintf(ps->report, "\t%s\n", r->detail ? r->detail : "");
        }
    }
    if (p->status != GAITRT_OK && !ps->quiet) {
        /* a failed sequence is worth a line of its own; the run goes on */
        fprintf(stderr, "%sgaitrt pretreat: %s: %s\n", ps->bar ? "\r\033[K" : "", p->sequence, p->error ? p->error : "failed");
    }
    if (!ps->bar) return;
    double t = now_s();
    if (p->done < p->total && t - ps->last_draw < 0.1) return;
    ps->last_draw = t;
    double el = t - ps->t0;
    double rate = el > 0 ? p->done / el : 0;
    int width = 30, fill = p->total ? (int)((double)width * p->done / p->total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    int eta = rate > 0 ? (int)((p->total - p->done) / rate + 0.5) : 0;
    fprintf(stderr, "\r[%s] %d/%d sequences  %.1f seq/s  ETA %d:%02d ", bar, p->done, p->total, rate, eta / 60, eta % 60);
    if (p->done == p->total) fputc('\n', stderr);
    fflush(stderr);
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < -1000000 || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

int grt_cmd_pretreat(int argc, char **argv) {
    gaitrt_pretreat_params p = gaitrt_pretreat_default_params();
    const char *pos[2] = {NULL, NULL};
    const char *report_path = NULL;
    int npos = 0, quiet = 0, ccpg = 0, parsing = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char opt[64];
        /* --opt=value or --opt value */
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof opt) {
            memcpy(opt, a, (size_t)(eq - a));
            opt[eq - a] = 0;
            val = eq + 1;
            a = opt;
        }
        int takes = !strcmp(a, "--img-size") || !strcmp(a, "--threads") || !strcmp(a, "-j") || !strcmp(a, "--report") ||
                    !strcmp(a, "--min-score");
        if (takes && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gaitrt pretreat: %s needs a value\n", a);
                return 1;
            }
            val = argv[++i];
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--img-size")) {
            if (!parse_int(val, &p.img_size) || p.img_size < 2 || p.img_size % 2) {
                fprintf(stderr, "gaitrt pretreat: --img-size must be an even number (64 or 128), not '%s'\n", val);
                return 1;
            }
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-j")) {
            if (!parse_int(val, &p.n_threads) || p.n_threads < 0) {
                fprintf(stderr, "gaitrt pretreat: --threads must be a number >= 0, not '%s'\n", val);
                return 1;
            }
        } else if (!strcmp(a, "--min-score")) {
            char *end;
            double v = strtod(val, &end);
            if (!*val || *end || !(v >= 0 && v <= 1)) {
                fprintf(stderr, "gaitrt pretreat: --min-score must be in [0, 1], not '%s'\n", val);
                return 1;
            }
            p.quality.min_score = (float)v;
        } else if (!strcmp(a, "--report")) {
            report_path = val;
        } else if (!strcmp(a, "--ccpg")) {
            ccpg = 1;
        } else if (!strcmp(a, "--parsing")) {
            parsing = 1;
        } else if (!strcmp(a, "--quality-filter")) {
            p.quality_filter = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gaitrt pretreat: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "gaitrt pretreat: unexpected argument '%s' (INPUT_ROOT and OUTPUT_ROOT given already)\n", a);
            return 1;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 1;
    }
    if (ccpg && parsing) {
        fprintf(stderr, "gaitrt pretreat: --ccpg and --parsing exclude each other\n");
        return 1;
    }
    p.mode = ccpg ? GAITRT_PRETREAT_CCPG : parsing ? GAITRT_PRETREAT_PARSING : GAITRT_PRETREAT_SILHOUETTE;

    progress_state ps;
    memset(&ps, 0, sizeof ps);
    ps.quiet = quiet;
    ps.bar = !quiet && isatty(STDERR_FILENO);
    ps.t0 = now_s();
    if (report_path) {
        ps.report = fopen(report_path, "w");
        if (!ps.report) {
            fprintf(stderr, "gaitrt pretreat: cannot write the report %s\n", report_path);
            return cli_exit_code(GAITRT_ERR_IO);
        }
        fputs("sequence\tfile\treason\tquality\tdetail\n", ps.report);
    }
    p.progress = on_progress;
    p.progress_user = &ps;
    gaitrt_pretreat_summary s;
    gaitrt_status st = gaitrt_pretreat_dir(pos[0], pos[1], &p, &s);
    if (ps.report) fclose(ps.report);
    if (!quiet && s.n_sequences > 0) {
        int64_t dropped = s.n_files - s.n_kept;
        printf("pretreated %d sequences in %.1f s: %d written, %d without a valid frame, %d failed; frames kept %lld of %lld",
               s.n_sequences, now_s() - ps.t0, s.n_written, s.n_empty, s.n_failed, (long long)s.n_kept, (long long)s.n_files);
        if (dropped > 0) {
            printf(" (dropped:");
            const char *sep = " ";
            for (int k = 1; k < 8; k++) {
                if (!s.n_dropped[k]) continue;
                printf("%s%lld %s", sep, (long long)s.n_dropped[k], gaitrt_frame_status_str((gaitrt_frame_status)k));
                sep = ", ";
            }
            printf(")");
        }
        printf("\n");
    }
    if (st != GAITRT_OK) {
        fprintf(stderr, "gaitrt pretreat: %s: %s\n", gaitrt_status_str(st), gaitrt_last_error());
        return cli_exit_code(st);
    }
    return 0;
}
