/* test_zoo_xgait.c — XGait against the PyTorch reference (tests/reference/zoo_xgait_ref.py):
 * parsing labels and silhouettes stored 64 wide (cut and divided by the runtime:
 * labels by 1, silhouettes by 255), reduced and Gait3D widths, T = 1, 30, 100 and two
 * sequences of different lengths packed in one item, at the conservative and balanced levels;
 * the specification's counts (xgait.md §5: 18,444,675 parameters, 2 x 1,178.1 M MACs per frame
 * plus < 1 M for the alignment modules). */
#include <string.h>

#include "test_util.h"
#include "zoo_parity.h"

int main(void) {
    zoo_check_counts("XGait", 18444675, 0, -1);
    gaitrt_model *m = gaitrt_model_create_random("XGait", 1);
    if (m) {
        gaitrt_model_info info;
        gaitrt_model_get_info(m, &info);
        CHECK_MSG(info.macs_per_frame > 2356.2e6 && info.macs_per_frame < 2357.2e6, "%.1f M MACs per frame",
                  info.macs_per_frame / 1e6);
        CHECK(info.n_inputs == 2 && !strcmp(info.inputs[0].name, "parsing") && info.inputs[0].divisor == 0.0f);
        CHECK(info.embed_channels == 256 && info.embed_parts == 64 && !info.temporal_mixing);
        gaitrt_model_free(m);
    }
    zoo_run_manifest("zoo_xgait");
    return zoo_finish("test_zoo_xgait");
}
