/* cmd_info.c — `gaitrt info [-m CKPT] [--model-type T] [--config Y]`: version, CPU features,
 * devices with their scores; with a model, its inferred architecture, parameters and MACs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int grt_cmd_info(int argc, char **argv) {
    gaitrt_model_params mp = gaitrt_model_default_params();
    const char *ckpt = NULL, *model_name = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--checkpoint")) && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_name = argv[++i];
        else if (!strcmp(argv[i], "--model-type") && i + 1 < argc) mp.model_type = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) mp.config_path = argv[++i];
        else if (!strcmp(argv[i], "--no-strict")) mp.strict = 0;
        else {
            fprintf(stderr, "usage: gaitrt info [-m CKPT | --model NAME] [--model-type T] [--config YAML] [--no-strict]\n");
            return 1;
        }
    }
    gaitrt_model *m = NULL;
    if (ckpt) {
        m = gaitrt_model_load(ckpt, &mp);
        if (!m) return cli_fail("info", gaitrt_last_status());
    } else if (model_name) {
        m = gaitrt_model_create_random(model_name, 1);
        if (!m) return cli_fail("info", gaitrt_last_status());
    }
    printf("gaitrt %s\n", gaitrt_version());
    gaitrt_device_desc devs[9];
    int n = 0;
    gaitrt_device_list(m, devs, 9, &n);
    printf("devices (%d):\n", n);
    for (int i = 0; i < n && i < 9; i++) {
        const gaitrt_device_desc *d = &devs[i];
        printf("  [%d] %s %s: %s\n      %d %s, %.1f GiB total, %.1f GiB free, ~%.0f GFLOP/s fp32 peak, score %.1f%s%s\n", i,
               d->kind == GAITRT_DEVICE_CPU ? "cpu" : "cuda", d->kind == GAITRT_DEVICE_CPU ? "" : "", d->name, d->cores,
               d->kind == GAITRT_DEVICE_CPU ? "cores" : "SMs", (double)d->mem_total / (1 << 30),
               (double)d->mem_free / (1 << 30), d->peak_gflops_fp32, d->score, d->note[0] ? " — " : "", d->note);
        printf("      features: %s\n", d->features);
    }
    printf("model types:");
    for (int i = 0; gaitrt_model_type(i); i++) printf("%s %s", i ? "," : "", gaitrt_model_type(i));
    printf(" (DeepGaitV2 with a variant for --model: DeepGaitV2:2d|p3d|3d[-LLLL][-wW], e.g. DeepGaitV2:p3d-1441)\n");
    if (m) {
        size_t need = gaitrt_model_summary(m, NULL, 0);
        char *buf = malloc(need + 1);
        if (buf) {
            gaitrt_model_summary(m, buf, need + 1);
            fputs(buf, stdout);
            free(buf);
        }
        gaitrt_session_params sp = gaitrt_session_default_params();
        gaitrt_session *s = gaitrt_session_create(m, &sp);
        if (s) {
            char rep[4096];
            gaitrt_session_report(s, rep, sizeof rep);
            printf("default session: %s\n", rep);
            gaitrt_session_free(s);
        }
        gaitrt_model_free(m);
    }
    return 0;
}
