/* cmd_convert.c — `gaitrt convert CKPT OUT.safetensors`. */
#include <stdio.h>

#include "cli.h"

int grt_cmd_convert(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gaitrt convert CKPT OUT.safetensors\n");
        return 1;
    }
    gaitrt_status st = gaitrt_checkpoint_convert(argv[1], argv[2]);
    if (st != GAITRT_OK) return cli_fail("convert", st);
    printf("wrote %s\n", argv[2]);
    return 0;
}
