/* raw_frames.c — raw silhouette frames (PNG/JPEG) pretreated on the fly for embedding,
 * through the same function `gaitrt pretreat` uses, so that both give the same frames. */
#include <stdio.h>
#include <string.h>

#include "pipeline/raw_frames.h"

grt_status grt_pretreat_sequence_for_model(const char *dir, int height, const gaitrt_pretreat_params *pp, gaitrt_array *out,
                                           int *n_dropped, char *note, size_t note_len) {
    gaitrt_pretreat_params p = pp ? *pp : gaitrt_pretreat_default_params();
    p.img_size = height;
    gaitrt_pretreat_result r;
    grt_status st = gaitrt_pretreat_sequence(dir, &p, &r);
    if (st != GRT_OK) return st;
    /* which frames were dropped and why: never silent */
    int dropped = 0;
    size_t k = 0;
    note[0] = 0;
    for (int i = 0; i < r.n_files; i++) {
        if (r.files[i].status == GAITRT_FRAME_KEPT) continue;
        if (dropped < 6 && k < note_len)
            k += (size_t)snprintf(note + k, note_len - k, "%s%s (%s)", dropped ? ", " : "", r.files[i].name,
                                  gaitrt_frame_status_str(r.files[i].status));
        dropped++;
    }
    if (dropped && k < note_len)
        snprintf(note + k, note_len - k, "%s: %d of %d frames dropped by pretreatment", dropped > 6 ? ", ..." : "", dropped,
                 r.n_files);
    *n_dropped = dropped;
    if (r.n_frames == 0) {
        gaitrt_pretreat_result_release(&r);
        return grt_error(GAITRT_ERR_INPUT, "%s: no usable frame among %d files (%s) ---> HINT: the silhouettes may be empty or "
                         "unreadable", dir, r.n_files, note[0] ? note : "none found");
    }
    memset(out, 0, sizeof *out);
    out->dtype = GAITRT_DTYPE_U8;
    out->ndim = 3;
    out->shape[0] = r.n_frames;
    out->shape[1] = r.size;
    out->shape[2] = r.size;
    size_t bytes = (size_t)r.n_frames * r.size * r.size;
    out->data = grt_malloc(bytes); /* a copy: the result's frames are an aligned block, arrays are not */
    if (out->data) memcpy(out->data, r.frames, bytes);
    gaitrt_pretreat_result_release(&r);
    if (!out->data) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory for %zu bytes of frames", dir, bytes);
    return GRT_OK;
}
