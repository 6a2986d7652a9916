/* test_zoo_gaitset.c — GaitSet against the PyTorch reference (tests/reference/zoo_gaitset_ref.py):
 * reduced and CASIA-B widths, T = 1, 30, 100 and two sequences of different lengths packed in
 * one batch item, at the conservative and balanced levels; the specification's counts
 * (classic.md §1: 2.59 M / 6.31 M parameters, 106.1 M MACs per frame + 77.9 M per sequence). */
#include "test_util.h"
#include "zoo_parity.h"

int main(void) {
    zoo_check_counts("GaitSet:casiab", 0, 2.59, 106.1);
    zoo_check_counts("GaitSet:oumvlp", 0, 6.31, -1);
    gaitrt_model *m = gaitrt_model_create_random("GaitSet", 1);
    if (m) {
        gaitrt_model_info info;
        gaitrt_model_get_info(m, &info);
        /* gl_block2/3 (77.9 M) and the head 62 x 128 x 256 run once per sequence */
        CHECK_MSG(fabs(info.macs_per_sequence / 1e6 - (77.9 + 62 * 128 * 256 / 1e6)) < 0.05, "%.2f M per sequence",
                  info.macs_per_sequence / 1e6);
        CHECK(info.embed_channels == 256 && info.embed_parts == 62 && !info.temporal_mixing);
        gaitrt_model_free(m);
    }
    zoo_run_manifest("zoo_gaitset");
    return zoo_finish("test_zoo_gaitset");
}
