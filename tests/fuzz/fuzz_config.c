/*
 * fuzz_config.c — fuzz target for OpenGait YAML configs (src/pipeline/config.c, libyaml
 * underneath): grt_config_load_mem on any bytes. Anchors and aliases are part of the game:
 * a node may refer to itself.
 *
 * It checks the reading of model_cfg, not whether the values fit a checkpoint (the model
 * families do that when a model is built).
 */
#include "fuzz_util.h"
#include "pipeline/pipeline.h"

#define NAME "fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    grt_model_config cfg;
    grt_status st = grt_config_load_mem(data, size, NAME, &cfg);
    if (st) {
        fuzz_check_error(st, NAME);
        return 0;
    }
    if (!cfg.have) fuzz_fail("a config read without error but not marked as read", NAME);
    if (cfg.n_channels < 0 || cfg.n_channels > 8 || cfg.n_layers < 0 || cfg.n_layers > 8 || cfg.n_strides < 0 ||
        cfg.n_strides > 8 || cfg.n_bins < 0 || cfg.n_bins > 8)
        fuzz_fail("list count out of range", NAME);
    if (!memchr(cfg.model, 0, sizeof cfg.model) || !memchr(cfg.backbone, 0, sizeof cfg.backbone) ||
        !memchr(cfg.mode, 0, sizeof cfg.mode))
        fuzz_fail("unterminated string in the config", NAME);
    return 0;
}
