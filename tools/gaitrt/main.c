/* main.c — the gaitrt command: dispatches to subcommands. Uses only the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
            "  convert  CKPT OUT.safetensors            write a checkpoint's weights as safetensors\n"
            "  pretreat INPUT_ROOT OUTPUT_ROOT          OpenGait pretreatment of raw silhouette frames\n",
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
    if (!strcmp(cmd, "pretreat")) {
        if (grt_cmd_pretreat) return grt_cmd_pretreat(argc - 1, argv + 1);
        fprintf(stderr, "gaitrt pretreat: not built into this binary\n");
        return 6;
    }
    fprintf(stderr, "gaitrt: unknown command '%s'\n", cmd);
    usage(stderr);
    return 1;
}
