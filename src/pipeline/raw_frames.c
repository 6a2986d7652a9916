/* raw_frames.c — glue from the pipeline to the preprocessing room for raw frame folders. */
#include "pipeline/raw_frames.h"

grt_status grt_pretreat_sequence_for_model(const char *dir, int height, gaitrt_array *out, int *n_dropped, char *note,
                                           size_t note_len) {
    (void)height;
    (void)out;
    (void)n_dropped;
    (void)note;
    (void)note_len;
    return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: raw frame folders are not supported yet ---> HINT: run `gaitrt pretreat` first", dir);
}
