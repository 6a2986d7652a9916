/* test_zoo_gaitgl.c — GaitGL against the PyTorch reference (tests/reference/zoo_gaitgl_ref.py):
 * the CASIA-B and OU-MVLP/GREW branches and the BNNeck head; T = 1 and 2 (tiled to 3 and 4
 * frames), 5 (frames past a multiple of 3 dropped by the LTA), 30, 100 and a batch of two, at the
 * conservative and balanced levels; the specification's counts (classic.md §3: 12,616.6 M MACs
 * for 30 frames, i.e. 420.55 M per frame; 3.10 M parameters with Head1 for 74 classes). */
#include "test_util.h"
#include "zoo_parity.h"

int main(void) {
    /* 3.10 M = inference parameters + Head1 (64 x 128 x 74) */
    zoo_check_counts("GaitGL:casiab", 3096673 - 64 * 128 * 74, 0, 12616.6 / 30);
    /* 95.62 M with Head1 for K = 5153 (64 x 256 x 5153) */
    zoo_check_counts("GaitGL:oumvlp", 0, 95.62 - 64 * 256 * 5153 / 1e6, -1);
    zoo_run_manifest("zoo_gaitgl");
    return zoo_finish("test_zoo_gaitgl");
}
