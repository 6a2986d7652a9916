/* test_zoo_gaitpart.c — GaitPart against the PyTorch reference (tests/reference/zoo_gaitpart_ref.py):
 * both of OpenGait's backbone layouts (CASIA-B with focal convs of halving 2 and 3, OU-MVLP),
 * T = 1, 2, 30, 100 and a batch of two sequences, conservative and balanced levels; the
 * specification's counts (classic.md §2: 1.20 M / 4.84 M parameters; 106.1 M backbone MACs per
 * frame plus 0.655 M for the TFA's 1-D convs). */
#include "test_util.h"
#include "zoo_parity.h"

int main(void) {
    zoo_check_counts("GaitPart:casiab", 0, 1.20, 106.0646 + 0.6554);
    zoo_check_counts("GaitPart:oumvlp", 0, 4.84, -1);
    zoo_run_manifest("zoo_gaitpart");
    return zoo_finish("test_zoo_gaitpart");
}
