/*
 * sequence.c — one sequence (a folder of frames, or frames in memory) through decoding, the
 * optional quality filter and the alignment, into a [T, S, S] uint8 array plus a per-file
 * report saying which frames were kept and why the others were not.
 *
 * Frames are taken in sorted file-name order (OpenGait sorts the paths). A frame that cannot
 * be read is dropped and reported instead of failing the whole sequence (OpenGait's script
 * would crash on it). Only out-of-memory and bad arguments are errors.
 *
 * Not here: walking a dataset root or writing files (dataset.c).
 */
#include <stdio.h>
#include <string.h>

#include "preprocess.h"

grt_seq_opts grt_seq_default_opts(void) {
    grt_seq_opts o;
    o.pre = grt_pre_default_opts();
    o.quality_filter = 0;
    o.qp = grt_quality_default_params();
    o.lim = grt_img_default_limits();
    return o;
}

void grt_seq_result_release(grt_seq_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n_files; i++) {
        grt_free(r->files[i].name);
        grt_free(r->files[i].detail);
    }
    grt_free(r->files);
    grt_free_aligned(r->frames);
    memset(r, 0, sizeof *r);
}

/* Where the frames come from: a folder (decode each file) or memory. */
typedef struct frame_src {
    const char *dir;
    char **names;
    const uint8_t *const *imgs;
    const int *widths, *heights;
} frame_src;

static grt_status get_frame(const frame_src *fs, int i, const grt_seq_opts *o, grt_pre_work *w, grt_gray *g,
                            char *path, size_t plen) {
    if (fs->dir) {
        snprintf(path, plen, "%s/%s", fs->dir, fs->names[i]);
        return grt_image_decode_file(path, &o->lim, w, g);
    }
    if (!fs->imgs[i] || fs->widths[i] <= 0 || fs->heights[i] <= 0)
        return grt_error(GAITRT_ERR_INPUT, "frame %d: no pixels (%dx%d)", i, fs->widths[i], fs->heights[i]);
    g->width = fs->widths[i];
    g->height = fs->heights[i];
    g->data = fs->imgs[i];
    return GRT_OK;
}

static grt_status run_sequence(const frame_src *fs, int n, const char *const *names, const grt_seq_opts *o,
                               grt_pre_work *w, grt_seq_result *out) {
    memset(out, 0, sizeof *out);
    int S = o->pre.img_size;
    if (S < 2 || S % 2 || S > 4096)
        return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: image size %d must be even and in [2, 4096]", S);
    out->size = S;
    out->files = grt_calloc(n ? (size_t)n : 1, sizeof *out->files);
    size_t fb = (size_t)S * S, total;
    if (!out->files || !grt_mul_size(fb, (size_t)(n ? n : 1), &total)) goto oom;
    out->frames = grt_malloc_aligned(total);
    if (!out->frames) goto oom;
    out->n_files = n;
    for (int i = 0; i < n; i++) {
        out->files[i].quality = -1.f;
        char tmp[32];
        const char *nm = names && names[i] ? names[i] : (snprintf(tmp, sizeof tmp, "frame %d", i), tmp);
        out->files[i].name = grt_strdup(nm);
        if (!out->files[i].name) goto oom;
    }
    grt_quality_stats *qs = NULL;
    if (o->quality_filter) {
        qs = grt_calloc(n ? (size_t)n : 1, sizeof *qs);
        if (!qs) goto oom;
    }
    /* Pass 1: every frame decoded, measured and aligned into slot i (compacted afterwards). */
    char path[4096];
    for (int i = 0; i < n; i++) {
        grt_frame_info *fi = &out->files[i];
        grt_gray g;
        grt_status st = get_frame(fs, i, o, w, &g, path, sizeof path);
        if (st == GAITRT_ERR_NOMEM) {
            grt_free(qs);
            grt_seq_result_release(out);
            return st;
        }
        if (st) {
            fi->status = GRT_DROP_DECODE;
            fi->detail = grt_strdup(gaitrt_last_error());
            continue;
        }
        if (qs) {
            grt_quality_params qp = o->qp;
            if (o->pre.mode == GRT_PRE_PARSING) qp.threshold = 0; /* labels: any part is foreground */
            st = grt_quality_measure(g.data, g.width, g.height, &qp, w, &qs[i]);
            if (st) {
                grt_free(qs);
                grt_seq_result_release(out);
                return st;
            }
        }
        int why;
        st = grt_pretreat_frame(g.data, g.width, g.height, &o->pre, w, out->frames + (size_t)i * fb, &why);
        if (st) {
            grt_free(qs);
            grt_seq_result_release(out);
            return st;
        }
        fi->status = why;
    }
    if (qs) {
        grt_quality_score_sequence(qs, n, &o->qp);
        for (int i = 0; i < n; i++) {
            grt_frame_info *fi = &out->files[i];
            if (fi->status == GRT_DROP_DECODE) continue;
            fi->quality = qs[i].score;
            fi->qflags = qs[i].flags;
            if (fi->status == GRT_DROP_NONE && qs[i].score < o->qp.min_score) fi->status = GRT_DROP_QUALITY;
        }
        grt_free(qs);
    }
    /* Pass 2: compact the kept frames. */
    int t = 0;
    for (int i = 0; i < n; i++) {
        if (out->files[i].status != GRT_DROP_NONE) continue;
        if (t != i) memmove(out->frames + (size_t)t * fb, out->frames + (size_t)i * fb, fb);
        t++;
    }
    out->n_kept = t;
    return GRT_OK;
oom:
    grt_seq_result_release(out);
    return grt_error(GAITRT_ERR_NOMEM, "pretreat: out of memory for a sequence of %d frames", n);
}

grt_status grt_pretreat_sequence_dir(const char *dir, const grt_seq_opts *o, grt_pre_work *w, grt_seq_result *out) {
    if (!dir || !o || !w || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: NULL argument");
    memset(out, 0, sizeof *out);
    char **names;
    int n;
    grt_status st = grt_pre_list_dir(dir, 0, grt_pre_is_frame_name, &names, &n);
    if (st) return st;
    frame_src fs = {dir, names, NULL, NULL, NULL};
    st = run_sequence(&fs, n, (const char *const *)names, o, w, out);
    grt_pre_free_names(names, n);
    return st;
}

grt_status grt_pretreat_sequence_frames(const uint8_t *const *imgs, const int *widths, const int *heights, int n,
                                        const char *const *names, const grt_seq_opts *o, grt_pre_work *w,
                                        grt_seq_result *out) {
    if (!o || !w || !out || n < 0 || (n > 0 && (!imgs || !widths || !heights)))
        return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: bad sequence arguments");
    frame_src fs = {NULL, NULL, imgs, widths, heights};
    return run_sequence(&fs, n, names, o, w, out);
}
