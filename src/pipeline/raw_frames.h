/* raw_frames.h — raw silhouette frames (PNG/JPEG) pretreated on the fly for embedding. */
#ifndef GRT_RAW_FRAMES_H
#define GRT_RAW_FRAMES_H

#include "pipeline/pipeline.h"

/* Pretreats the frames of folder `dir` exactly as `gaitrt pretreat` does (img_size = height)
 * into a uint8 [T, height, height] array; counts and describes dropped frames. */
grt_status grt_pretreat_sequence_for_model(const char *dir, int height, const gaitrt_pretreat_params *pp, gaitrt_array *out,
                                           int *n_dropped, char *note, size_t note_len);

#endif
