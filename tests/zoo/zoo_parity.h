/* zoo_parity.h — the parity driver shared by the model-zoo tests: it reads the manifest a
 * PyTorch reference script (tests/reference/zoo_*_ref.py) wrote, loads each checkpoint through
 * the public API, checks the model info against the reference's counts, and embeds every case
 * at the listed levels, comparing with the expected embeddings (relative L2 <= 1e-5). */
#ifndef GRT_ZOO_PARITY_H
#define GRT_ZOO_PARITY_H

#include "gaitrt.h"

/* Runs <GRT_REF_DIR>/<subdir>/manifest.txt. Skips the whole test (exit 77) when the reference
 * data is missing. Failures are counted by the test_util CHECKs. */
void zoo_run_manifest(const char *subdir);

/* Directory of the reference data of subdir (valid until the next call). */
const char *zoo_ref_dir(const char *subdir);

/* Loads <refdir>/<file> with the given type ("" = detect) and config (NULL = none). */
gaitrt_model *zoo_load(const char *subdir, const char *file, const char *type, const char *config);

/* Checks a random-weight model's counts against the specification's: the parameters exactly
 * (params > 0) or to the spec's two decimals in millions (params_m), the MACs per frame to its
 * one decimal in millions (macs_m < 0: not checked). */
void zoo_check_counts(const char *type, int64_t params, double params_m, double macs_m);

/* Failures counted by the driver's own checks (test_util's counter is per file). */
int zoo_parity_failures(void);

#ifdef GRT_TEST_UTIL_H
/* Ends a zoo test: the driver's failures and the test file's own. */
static inline int zoo_finish(const char *name) {
    grt_test_failures += zoo_parity_failures();
    return grt_test_finish(name);
}
#endif

#endif
