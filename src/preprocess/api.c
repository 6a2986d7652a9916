/*
 * api.c — the public preprocessing functions (declared in
 * gaitrt.h): argument checks, translation between the public and the internal types, and the
 * per-call working memory. All the work happens in the internal functions of preprocess.h.
 *
 * Not here: any logic of its own beyond that translation.
 */
#include <string.h>

#include "gaitrt.h"
#include "preprocess.h"

/* The public enums are the internal ones under other names. */
_Static_assert((int)GAITRT_PRETREAT_SILHOUETTE == (int)GRT_PRE_SILHOUETTE && (int)GAITRT_PRETREAT_CCPG == (int)GRT_PRE_CCPG &&
                   (int)GAITRT_PRETREAT_PARSING == (int)GRT_PRE_PARSING,
               "pretreat modes");
_Static_assert((int)GAITRT_FRAME_EMPTY == (int)GRT_DROP_EMPTY && (int)GAITRT_FRAME_NO_CENTER == (int)GRT_DROP_NO_CENTER &&
                   (int)GAITRT_FRAME_TOO_THIN == (int)GRT_DROP_TOO_THIN && (int)GAITRT_FRAME_UNREADABLE == (int)GRT_DROP_DECODE &&
                   (int)GAITRT_FRAME_LOW_QUALITY == (int)GRT_DROP_QUALITY && (int)GAITRT_FRAME_TOO_WIDE == (int)GRT_DROP_TOO_WIDE,
               "frame status");
_Static_assert(GAITRT_QUALITY_FG_RATIO == GRT_QF_FG_RATIO && GAITRT_QUALITY_ASPECT == GRT_QF_ASPECT &&
                   GAITRT_QUALITY_FRAGMENTS == GRT_QF_FRAGMENTS && GAITRT_QUALITY_BORDER == GRT_QF_BORDER &&
                   GAITRT_QUALITY_JUMP == GRT_QF_JUMP && GAITRT_QUALITY_EMPTY == GRT_QF_EMPTY,
               "quality flags");

const char *gaitrt_frame_status_str(gaitrt_frame_status s) { return grt_drop_name((int)s); }

gaitrt_pretreat_params gaitrt_pretreat_default_params(void) {
    gaitrt_pretreat_params p;
    memset(&p, 0, sizeof p);
    grt_quality_params q = grt_quality_default_params();
    p.img_size = 64;
    p.mode = GAITRT_PRETREAT_SILHOUETTE;
    p.n_threads = 0;
    p.quality_filter = 0;
    p.quality.fg_min = q.fg_min;
    p.quality.fg_max = q.fg_max;
    p.quality.aspect_min = q.aspect_min;
    p.quality.aspect_max = q.aspect_max;
    p.quality.main_min = q.main_min;
    p.quality.jump_max = q.jump_max;
    p.quality.min_score = q.min_score;
    p.max_image_dim = GRT_IMG_MAX_DIM;
    return p;
}

static grt_status to_seq_opts(const gaitrt_pretreat_params *p, grt_seq_opts *o) {
    *o = grt_seq_default_opts();
    if (!p) return GRT_OK;
    if (p->img_size < 2 || p->img_size % 2 || p->img_size > 4096)
        return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: img_size %d must be even and in [2, 4096] ---> HINT: OpenGait uses 64 or 128",
                         p->img_size);
    if ((unsigned)p->mode > GAITRT_PRETREAT_PARSING) return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: unknown mode %d", (int)p->mode);
    const gaitrt_quality_thresholds *q = &p->quality;
    if (p->quality_filter && !(q->fg_min >= 0 && q->fg_max > q->fg_min && q->aspect_min > 0 && q->aspect_max > q->aspect_min &&
                               q->main_min >= 0 && q->main_min <= 1 && q->jump_max > 0 && q->min_score >= 0 && q->min_score <= 1))
        return grt_error(GAITRT_ERR_INVALID_ARG, "pretreat: inconsistent quality thresholds ---> HINT: start from gaitrt_pretreat_default_params()");
    o->pre.img_size = p->img_size;
    o->pre.mode = (grt_pre_mode)p->mode;
    o->quality_filter = p->quality_filter != 0;
    o->qp.fg_min = q->fg_min;
    o->qp.fg_max = q->fg_max;
    o->qp.aspect_min = q->aspect_min;
    o->qp.aspect_max = q->aspect_max;
    o->qp.main_min = q->main_min;
    o->qp.jump_max = q->jump_max;
    o->qp.min_score = q->min_score;
    if (p->max_image_dim) o->lim.max_width = o->lim.max_height = p->max_image_dim;
    return GRT_OK;
}

static void to_report(const grt_frame_info *fi, gaitrt_frame_report *r) {
    r->name = fi->name;
    r->status = (gaitrt_frame_status)fi->status;
    r->quality = fi->quality;
    r->quality_flags = fi->qflags;
    r->detail = fi->detail;
}

gaitrt_status gaitrt_pretreat_sequence(const char *folder, const gaitrt_pretreat_params *p, gaitrt_pretreat_result *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!folder || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_pretreat_sequence: NULL argument");
    grt_seq_opts o;
    grt_status st = to_seq_opts(p, &o);
    if (st) return st;
    grt_pre_work w;
    grt_pre_work_init(&w);
    grt_seq_result r;
    st = grt_pretreat_sequence_dir(folder, &o, &w, &r);
    grt_pre_work_release(&w);
    if (st) return st;
    /* The reports and their strings go into one block, so that releasing them is one free. */
    size_t strbytes = 0;
    for (int i = 0; i < r.n_files; i++) {
        strbytes += strlen(r.files[i].name) + 1;
        if (r.files[i].detail) strbytes += strlen(r.files[i].detail) + 1;
    }
    size_t nrep = (size_t)r.n_files * sizeof(gaitrt_frame_report);
    char *blk = grt_malloc(nrep + strbytes + 1);
    if (!blk) {
        grt_seq_result_release(&r);
        return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory for the frame report", folder);
    }
    gaitrt_frame_report *rep = (gaitrt_frame_report *)blk;
    char *sp = blk + nrep;
    for (int i = 0; i < r.n_files; i++) {
        to_report(&r.files[i], &rep[i]);
        size_t n = strlen(r.files[i].name) + 1;
        memcpy(sp, r.files[i].name, n);
        rep[i].name = sp;
        sp += n;
        if (r.files[i].detail) {
            n = strlen(r.files[i].detail) + 1;
            memcpy(sp, r.files[i].detail, n);
            rep[i].detail = sp;
            sp += n;
        }
    }
    out->n_frames = r.n_kept;
    out->size = r.size;
    out->frames = r.n_kept ? r.frames : NULL;
    if (!r.n_kept) grt_free_aligned(r.frames);
    r.frames = NULL;
    out->n_files = r.n_files;
    out->files = rep;
    grt_seq_result_release(&r);
    return GRT_OK;
}

void gaitrt_pretreat_result_release(gaitrt_pretreat_result *r) {
    if (!r) return;
    grt_free_aligned(r->frames);
    grt_free(r->files);
    memset(r, 0, sizeof *r);
}

gaitrt_status gaitrt_pretreat_frame(const uint8_t *gray, int width, int height, const gaitrt_pretreat_params *p,
                                    uint8_t *out, size_t out_len, gaitrt_frame_status *status) {
    if (status) *status = GAITRT_FRAME_KEPT;
    if (!gray || !out || !status || width <= 0 || height <= 0)
        return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_pretreat_frame: bad arguments (%dx%d)", width, height);
    grt_seq_opts o;
    grt_status st = to_seq_opts(p, &o);
    if (st) return st;
    size_t need = (size_t)o.pre.img_size * o.pre.img_size;
    if (out_len < need)
        return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_pretreat_frame: output of %zu bytes, %zu needed", out_len, need);
    grt_pre_work w;
    grt_pre_work_init(&w);
    int why = 0;
    st = grt_pretreat_frame(gray, width, height, &o.pre, &w, out, &why);
    grt_pre_work_release(&w);
    *status = (gaitrt_frame_status)why;
    return st;
}

typedef struct dir_cb {
    const gaitrt_pretreat_params *p;
} dir_cb;

static void dir_progress(const grt_dataset_progress *g, void *user) {
    const dir_cb *cb = user;
    gaitrt_pretreat_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.done = g->done;
    pr.total = g->total;
    pr.sequence = g->sequence;
    pr.status = g->status;
    pr.error = g->error;
    pr.written = g->written;
    gaitrt_frame_report stack[256], *rep = NULL;
    if (g->result) {
        pr.n_files = g->result->n_files;
        pr.n_kept = g->result->n_kept;
        rep = pr.n_files <= 256 ? stack : grt_malloc((size_t)pr.n_files * sizeof *rep);
        if (rep)
            for (int i = 0; i < pr.n_files; i++) to_report(&g->result->files[i], &rep[i]);
        pr.files = rep; /* NULL if that allocation failed: counts are still right */
    }
    cb->p->progress(&pr, cb->p->progress_user);
    if (rep && rep != stack) grt_free(rep);
}

gaitrt_status gaitrt_pretreat_dir(const char *input_root, const char *output_root, const gaitrt_pretreat_params *p,
                                  gaitrt_pretreat_summary *summary) {
    if (summary) memset(summary, 0, sizeof *summary);
    if (!input_root || !output_root) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_pretreat_dir: NULL root");
    grt_dataset_opts o;
    memset(&o, 0, sizeof o);
    grt_status st = to_seq_opts(p, &o.seq);
    if (st) return st;
    o.n_threads = p ? p->n_threads : 0;
    dir_cb cb = {p};
    if (p && p->progress) {
        o.progress = dir_progress;
        o.progress_user = &cb;
    }
    grt_dataset_summary s;
    st = grt_pretreat_dataset(input_root, output_root, &o, &s);
    if (summary) {
        summary->n_sequences = s.n_sequences;
        summary->n_written = s.n_written;
        summary->n_empty = s.n_empty;
        summary->n_failed = s.n_failed;
        summary->n_files = s.n_files;
        summary->n_kept = s.n_kept;
        for (int i = 0; i < 8; i++) summary->n_dropped[i] = s.n_dropped[i];
    }
    return st;
}

gaitrt_status gaitrt_image_read_gray(const char *path, uint8_t *out, size_t out_len, int *width, int *height) {
    if (!path || !width || !height) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_image_read_gray: NULL argument");
    grt_pre_work w;
    grt_pre_work_init(&w);
    grt_gray g;
    grt_status st = grt_image_decode_file(path, NULL, &w, &g);
    if (!st) {
        *width = g.width;
        *height = g.height;
        size_t need = (size_t)g.width * g.height;
        if (out) {
            if (out_len < need)
                st = grt_error(GAITRT_ERR_INVALID_ARG, "%s: output of %zu bytes, the %dx%d image needs %zu", path, out_len, g.width,
                               g.height, need);
            else
                memcpy(out, g.data, need);
        }
    }
    grt_pre_work_release(&w);
    return st;
}

gaitrt_status gaitrt_pose_load(const char *path, gaitrt_pose_sequence *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_pose_load: NULL argument");
    grt_pose p;
    grt_status st = grt_pose_load(path, &p);
    if (st) return st;
    out->n_frames = p.n_frames;
    out->n_joints = p.n_joints;
    out->is_double = p.f64;
    out->data = p.data;
    out->owned = p.data;
    return GRT_OK;
}

void gaitrt_pose_release(gaitrt_pose_sequence *pose) {
    if (!pose) return;
    grt_free(pose->owned);
    memset(pose, 0, sizeof *pose);
}

gaitrt_skeleton_params gaitrt_skeleton_default_params(void) {
    gaitrt_skeleton_params p;
    p.coco18 = -1;
    p.fill_missing = 1;
    p.out_size = 64;
    return p;
}

gaitrt_status gaitrt_skeleton_maps(const gaitrt_pose_sequence *pose, const gaitrt_skeleton_params *p, uint8_t *out,
                                   size_t out_len) {
    if (!pose) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_skeleton_maps: NULL pose");
    grt_skel_opts o = grt_skel_default_opts();
    if (p) {
        o.coco18 = p->coco18;
        o.fill_missing = p->fill_missing != 0;
        o.out_size = p->out_size;
    }
    grt_pose gp;
    gp.n_frames = pose->n_frames;
    gp.n_joints = pose->n_joints;
    gp.f64 = pose->is_double != 0;
    gp.data = (void *)pose->data;
    return grt_skeleton_maps(&gp, &o, out, out_len, NULL);
}
