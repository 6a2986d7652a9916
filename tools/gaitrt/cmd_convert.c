/* cmd_convert.c — `gaitrt convert CKPT OUT.safetensors`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int grt_cmd_convert(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--random")) {
        /* a checkpoint of a built-in architecture with random weights (benchmarks, tests) */
        gaitrt_status st = gaitrt_random_checkpoint_write(argv[2], 42, argv[3]);
        if (st != GAITRT_OK) return cli_fail("convert", st);
        printf("wrote %s (%s, random weights)\n", argv[3], argv[2]);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: gaitrt convert CKPT OUT.safetensors | gaitrt convert --random MODEL[:VARIANT] OUT.safetensors\n");
        return 1;
    }
    gaitrt_status st = gaitrt_checkpoint_convert(argv[1], argv[2]);
    if (st != GAITRT_OK) return cli_fail("convert", st);
    printf("wrote %s\n", argv[2]);
    return 0;
}
