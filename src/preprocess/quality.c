/*
 * quality.c — a per-frame quality score for raw silhouette masks, and the checks behind it.
 *
 * Segmentation models produce frames that OpenGait's pretreatment happily aligns but that hurt
 * recognition: a person cut by the frame edge, two people merged, a mask broken into pieces,
 * a flicker to a different object for one frame. We measure, on the mask as decoded (before
 * alignment; foreground = value > threshold):
 *   fg ratio    foreground pixels / frame pixels           ok in [fg_min, fg_max]     (0.002, 0.60)
 *   aspect      bounding-box height / width                ok in [aspect_min, max]    (1.0, 5.0)
 *   fragments   largest 8-connected component / foreground ok when >= main_min        (0.75)
 *   border      foreground on the top or bottom image row  ok when it does not        (cut-off body)
 *   jump        centroid shift to the previous and to the next non-empty frame,
 *               divided by the box height; the smaller one ok when <= jump_max         (0.5)
 * (A genuine scene cut moves the centroid relative to one neighbour only; a one-frame glitch
 * moves it relative to both, which is why we take the smaller shift. At the ends of a sequence
 * a frame has one neighbour; we judge it only when that neighbour agrees with its own other
 * neighbour.)
 *
 * Each check gives a sub-score: 1 inside its range, and outside 0.5 * exp(-relative excess),
 * i.e. just below 0.5 and falling the further out it is; a frame touching the top/bottom edge
 * gets 0.25. The score is the smallest sub-score; an empty frame scores 0. With the default
 * min_score of 0.5 the filter therefore drops exactly the frames failing at least one check;
 * a lower min_score tolerates frames slightly out of range. The filter is off by default.
 *
 * Not here: any learned model, anything needing colour frames.
 */
#include <math.h>
#include <string.h>

#include "preprocess.h"

grt_quality_params grt_quality_default_params(void) {
    grt_quality_params q;
    q.threshold = 127;
    q.fg_min = 0.002f;
    q.fg_max = 0.60f;
    q.aspect_min = 1.0f;
    q.aspect_max = 5.0f;
    q.main_min = 0.75f;
    q.jump_max = 0.5f;
    q.min_score = 0.5f;
    return q;
}

/* Run-length connected components: runs of foreground per row, merged with union-find when
 * they touch a run of the row above (8-connectivity: overlap widened by one column). */
typedef struct run {
    int x0, x1; /* inclusive */
    int parent;
    int64_t size;
} run;

static int find_root(run *r, int i) {
    while (r[i].parent != i) {
        r[i].parent = r[r[i].parent].parent;
        i = r[i].parent;
    }
    return i;
}

static void unite(run *r, int a, int b) {
    a = find_root(r, a);
    b = find_root(r, b);
    if (a == b) return;
    if (a > b) {
        int t = a;
        a = b;
        b = t;
    }
    r[b].parent = a;
    r[a].size += r[b].size;
}

grt_status grt_quality_measure(const uint8_t *img, int w, int h, const grt_quality_params *qp, grt_pre_work *work,
                               grt_quality_stats *out) {
    if (!img || !qp || !work || !out || w <= 0 || h <= 0) return grt_error(GAITRT_ERR_INVALID_ARG, "quality: bad arguments");
    memset(out, 0, sizeof *out);
    out->area = (int64_t)w * h;
    out->bx0 = w;
    out->by0 = h;
    out->bx1 = -1;
    out->by1 = -1;
    out->jump = -1;
    size_t max_runs = (size_t)h * (size_t)((w + 1) / 2) + 1;
    size_t bytes;
    if (!grt_mul_size(max_runs, sizeof(run), &bytes)) return grt_error(GAITRT_ERR_LIMIT, "quality: frame too large");
    run *runs = grt_buf_reserve(&work->cc, bytes);
    if (!runs) return grt_error(GAITRT_ERR_NOMEM, "quality: out of memory");
    int n = 0, prev_start = 0, prev_end = 0;
    double sx = 0, sy = 0;
    int thr = qp->threshold;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = img + (size_t)y * w;
        int cur_start = n;
        int x = 0;
        while (x < w) {
            while (x < w && row[x] <= thr) x++;
            if (x >= w) break;
            int x0 = x;
            while (x < w && row[x] > thr) x++;
            int x1 = x - 1;
            run *r = &runs[n];
            r->x0 = x0;
            r->x1 = x1;
            r->parent = n;
            r->size = x1 - x0 + 1;
            out->fg += r->size;
            sx += (double)r->size * (x0 + x1) / 2.0;
            sy += (double)r->size * y;
            if (x0 < out->bx0) out->bx0 = x0;
            if (x1 > out->bx1) out->bx1 = x1;
            if (y < out->by0) out->by0 = y;
            out->by1 = y;
            for (int k = prev_start; k < prev_end; k++) {
                if (runs[k].x1 >= x0 - 1 && runs[k].x0 <= x1 + 1) unite(runs, k, n);
            }
            n++;
        }
        prev_start = cur_start;
        prev_end = n;
    }
    if (out->fg == 0) return GRT_OK;
    out->cx = sx / (double)out->fg;
    out->cy = sy / (double)out->fg;
    out->touches_tb = out->by0 == 0 || out->by1 == h - 1;
    out->touches_lr = out->bx0 == 0 || out->bx1 == w - 1;
    for (int i = 0; i < n; i++) {
        if (find_root(runs, i) == i) {
            out->n_components++;
            if (runs[i].size > out->largest) out->largest = runs[i].size;
        }
    }
    return GRT_OK;
}

static float sub_low(double v, double lo) { return v >= lo ? 1.f : (float)(0.5 * exp(-(lo - v) / lo)); }
static float sub_high(double v, double hi) { return v <= hi ? 1.f : (float)(0.5 * exp(-(v - hi) / hi)); }

static double shift(const grt_quality_stats *a, const grt_quality_stats *b) {
    double dx = a->cx - b->cx, dy = a->cy - b->cy;
    return sqrt(dx * dx + dy * dy) / (double)(a->by1 - a->by0 + 1);
}

/* Nearest non-empty frame before (dir -1) or after (dir +1) frame i, or -1. */
static int neighbour(const grt_quality_stats *st, int n, int i, int dir) {
    for (int j = i + dir; j >= 0 && j < n; j += dir)
        if (st[j].fg) return j;
    return -1;
}

void grt_quality_score_sequence(grt_quality_stats *st, int n, const grt_quality_params *qp) {
    for (int i = 0; i < n; i++) {
        grt_quality_stats *s = &st[i];
        s->flags = 0;
        s->jump = -1;
        if (s->fg == 0) {
            s->score = 0.f;
            s->flags = GRT_QF_EMPTY;
            continue;
        }
        /* The jump. With neighbours on both sides: the smaller shift. With one neighbour j
         * only (sequence ends, empty frames around): j must itself agree with its other
         * neighbour, otherwise we cannot tell which of the two frames is the odd one. */
        int p = neighbour(st, n, i, -1), q = neighbour(st, n, i, +1);
        double best = -1;
        if (p >= 0 && q >= 0) {
            double a = shift(s, &st[p]), b = shift(s, &st[q]);
            best = a < b ? a : b;
        } else if (p >= 0 || q >= 0) {
            int j = p >= 0 ? p : q;
            int k = neighbour(st, n, j, p >= 0 ? -1 : +1);
            if (k >= 0 && shift(&st[j], &st[k]) <= qp->jump_max) best = shift(s, &st[j]);
        }
        s->jump = best;
        double bh = (double)(s->by1 - s->by0 + 1);
        double ratio = (double)s->fg / (double)s->area;
        double aspect = bh / (double)(s->bx1 - s->bx0 + 1);
        double share = (double)s->largest / (double)s->fg;
        float sc = 1.f, v;
        if ((v = sub_low(ratio, qp->fg_min)) < 1.f || (v = sub_high(ratio, qp->fg_max)) < 1.f) {
            s->flags |= GRT_QF_FG_RATIO;
            if (v < sc) sc = v;
        }
        if ((v = sub_low(aspect, qp->aspect_min)) < 1.f || (v = sub_high(aspect, qp->aspect_max)) < 1.f) {
            s->flags |= GRT_QF_ASPECT;
            if (v < sc) sc = v;
        }
        if ((v = sub_low(share, qp->main_min)) < 1.f) {
            s->flags |= GRT_QF_FRAGMENTS;
            if (v < sc) sc = v;
        }
        if (s->touches_tb) {
            s->flags |= GRT_QF_BORDER;
            if (0.25f < sc) sc = 0.25f;
        }
        if (best >= 0 && (v = sub_high(best, qp->jump_max)) < 1.f) {
            s->flags |= GRT_QF_JUMP;
            if (v < sc) sc = v;
        }
        s->score = sc;
    }
}
