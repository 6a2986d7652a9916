/*
 * skeleton.c — SkeletonGait's skeleton maps from 2-D keypoints, as OpenGait's
 * datasets/pretreatment_heatmap.py makes them with configs/skeletongait/pretreatment_heatmap.yaml
 * (spec: skeletongaitpp.md §3). Per sequence of [T, V, 3] keypoints (x, y, confidence):
 *
 *   A. COCO-18 (OpenPose) -> COCO-17 by OpenGait's joint map (the result is float64, as numpy's
 *      np.zeros makes it);
 *   B. joints at exactly (0, 0) are missing: filled by a k-NN imputer that follows scikit-learn's
 *      KNNImputer(missing_values=0, n_neighbors=4, weights="distance"); when some coordinate is
 *      missing in every frame the imputer drops that column, OpenGait's reshape fails and the
 *      table stays unfilled — we do the same;
 *   C. per frame: hip centre to (64, 64), body height to 85 px;
 *   D. a 128 x 128 canvas per map, each joint a Gaussian (sigma 8, cut at 3 sigma) scaled by its
 *      confidence, each of the 17 limbs a Gaussian tube around the segment; maximum over all;
 *   E. matplotlib's grey colour map: level floor(256 v) looked up in its 256-entry table, then
 *      x 255 and truncated (a few levels come out one lower than floor(256 v); we build the same
 *      table the same way);
 *   F. crop the rows with ink and a square window centred on the hip column, INTER_AREA to 64 x 64
 *      (float64, reproduced exactly by resize.c), x 255, truncated to uint8.
 *
 * Numpy decides the precision of each step by its dtype rules, and we follow them: joint
 * Gaussians are float32 (coordinates rounded to float32 first), limb distances float64 when the
 * keypoints are float64, the distance between the two joints of a limb in float64... The pose
 * dtype (float32 or float64) therefore matters and is part of grt_pose.
 *
 * What we cannot match bit for bit: numpy's own SIMD exp (we use the C library's exp/expf; they
 * differ by an ulp now and then, which moves a grey level by one on rare pixels), and
 * scikit-learn's distance formula in the imputer (|x|^2 - 2xy + |y|^2, which rounds differently
 * from our direct sum). docs/preprocessing.md states the tolerance.
 *
 * Not here: reading keypoint files (pose_io.c); SkeletonGait++'s pairing with silhouettes
 * (a pipeline concern).
 */
#include <math.h>
#include <string.h>

#include "preprocess.h"

/* Rounding is part of the contract here too. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && defined(__FMA__)
#pragma GCC optimize("fp-contract=off")
#endif

#define NJ 17

static const int coco18_to_17[NJ] = {0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10};
static const int limbs[17][2] = {{0, 1}, {0, 2}, {1, 3}, {2, 4}, {0, 5}, {5, 7}, {7, 9}, {0, 6}, {6, 8},
                                 {8, 10}, {5, 11}, {11, 13}, {13, 15}, {6, 12}, {12, 14}, {14, 16}, {11, 12}};
static const double EPS = 1e-3;

grt_skel_opts grt_skel_default_opts(void) {
    grt_skel_opts o;
    o.coco18 = -1;
    o.fill_missing = 1;
    o.canvas = 128;
    o.sigma = 8.0f;
    o.out_size = 64;
    o.align = 1;
    return o;
}

void grt_pose_release(grt_pose *p) {
    if (!p) return;
    grt_free(p->data);
    memset(p, 0, sizeof *p);
}

/* ---- B. k-NN filling ------------------------------------------------------------------------- */

/* X: T x D table (double), filled in place. Distances over the coordinates present in both
 * frames, scaled by D / (number present): scikit-learn's nan-Euclidean distance. */
grt_status grt_skel_knn_fill(double *X, int T, int D) {
    size_t nTD = (size_t)T * D;
    int any = 0;
    for (size_t i = 0; i < nTD; i++) any |= X[i] == 0.0;
    if (!any) return GRT_OK;
    for (int c = 0; c < D; c++) {
        int seen = 0;
        for (int t = 0; t < T; t++) seen |= X[(size_t)t * D + c] != 0.0;
        if (!seen) return GRT_OK; /* OpenGait falls back to the unfilled table */
    }
    double *orig = grt_malloc(nTD * sizeof(double));
    double *dist = grt_malloc((size_t)T * sizeof(double));
    int *pick = grt_malloc((size_t)T * sizeof(int) * 2);
    if (!orig || !dist || !pick) {
        grt_free(orig);
        grt_free(dist);
        grt_free(pick);
        return grt_error(GAITRT_ERR_NOMEM, "skeleton maps: out of memory filling keypoints");
    }
    memcpy(orig, X, nTD * sizeof(double));
    int *donor = pick + T;
    for (int r = 0; r < T; r++) {
        const double *xr = orig + (size_t)r * D;
        int missing = 0;
        for (int j = 0; j < D; j++) missing |= xr[j] == 0.0;
        if (!missing) continue;
        for (int f = 0; f < T; f++) {
            const double *xf = orig + (size_t)f * D;
            double sq = 0.0;
            int cnt = 0;
            for (int j = 0; j < D; j++) {
                if (xr[j] != 0.0 && xf[j] != 0.0) {
                    double d = xf[j] - xr[j];
                    sq = sq + d * d;
                    cnt++;
                }
            }
            dist[f] = cnt ? sqrt(sq * D / (double)cnt) : NAN;
        }
        for (int c = 0; c < D; c++) {
            if (xr[c] != 0.0) continue;
            int nd = 0, finite = 0;
            for (int f = 0; f < T; f++) {
                if (orig[(size_t)f * D + c] != 0.0) {
                    donor[nd++] = f;
                    finite |= !isnan(dist[f]);
                }
            }
            if (!finite) { /* no donor shares a coordinate: the column mean */
                double s = 0.0;
                for (int i = 0; i < nd; i++) s += orig[(size_t)donor[i] * D + c];
                X[(size_t)r * D + c] = s / nd;
                continue;
            }
            int k = nd < 4 ? nd : 4;
            /* the k nearest (missing distances last, ties by frame order), nearest first */
            for (int i = 0; i < k; i++) {
                int best = -1;
                double bd = 0;
                for (int q = 0; q < nd; q++) {
                    int used = 0;
                    for (int u = 0; u < i; u++) used |= pick[u] == q;
                    if (used) continue;
                    double dq = dist[donor[q]];
                    if (isnan(dq)) dq = INFINITY;
                    if (best < 0 || dq < bd) {
                        best = q;
                        bd = dq;
                    }
                }
                pick[i] = best;
            }
            int zero = 0;
            for (int i = 0; i < k; i++) zero |= dist[donor[pick[i]]] == 0.0;
            double num = 0.0, den = 0.0, wv[4];
            for (int i = 0; i < k; i++) {
                double d = dist[donor[pick[i]]];
                double w = zero ? (d == 0.0 ? 1.0 : 0.0) : 1.0 / d;
                if (isnan(w)) w = 0.0;
                wv[i] = w;
                num += w * orig[(size_t)donor[pick[i]] * D + c];
            }
            for (int i = 0; i < k; i++) den += wv[i];
            X[(size_t)r * D + c] = num / den;
        }
    }
    grt_free(orig);
    grt_free(dist);
    grt_free(pick);
    return GRT_OK;
}

/* ---- D. drawing ---------------------------------------------------------------------------------- */

/* Python's int() truncates toward zero; clamp first so that absurd coordinates stay defined. */
static int trunc_int(double v) {
    if (!(v > -1e9)) return -1000000000;
    if (v > 1e9) return 1000000000;
    return (int)v;
}

typedef struct canvas {
    float *px;
    int n; /* n x n */
    float sigma2f; /* (float)(sigma * sigma) */
    double sigma2;
    double reach;  /* 3 sigma */
} canvas;

/* One joint: float32 Gaussian c * exp(-d^2 / 2 / sigma^2) in the window [x-3s, x+3s]. */
static void draw_joint(canvas *cv, double x, double y, double c) {
    if (c < EPS) return;
    int x0 = trunc_int(x - cv->reach), x1 = trunc_int(x + cv->reach) + 1;
    int y0 = trunc_int(y - cv->reach), y1 = trunc_int(y + cv->reach) + 1;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > cv->n) x1 = cv->n;
    if (y1 > cv->n) y1 = cv->n;
    if (x0 >= x1 || y0 >= y1) return;
    float xf = (float)x, yf = (float)y, cf = (float)c;
    for (int py = y0; py < y1; py++) {
        float dy = (float)py - yf;
        float dy2 = dy * dy;
        float *row = cv->px + (size_t)py * cv->n;
        for (int px = x0; px < x1; px++) {
            float dx = (float)px - xf;
            float e = -(dx * dx + dy2);
            e = e / 2.0f;
            e = e / cv->sigma2f;
            float v = expf(e) * cf;
            if (v > row[px]) row[px] = v;
        }
    }
}

/* One limb from a to b: the squared distance to the segment (to the nearer end beyond it),
 * Gaussian in float64, value min(ca, cb). f64: keypoints are float64 (else float32). */
static void draw_limb(canvas *cv, const double *a, const double *b, double ca, double cb, int f64) {
    double v = cb < ca ? cb : ca;
    if (v < EPS) return;
    double mnx = a[0] < b[0] ? a[0] : b[0], mxx = a[0] < b[0] ? b[0] : a[0];
    double mny = a[1] < b[1] ? a[1] : b[1], mxy = a[1] < b[1] ? b[1] : a[1];
    int x0 = trunc_int(mnx - cv->reach), x1 = trunc_int(mxx + cv->reach) + 1;
    int y0 = trunc_int(mny - cv->reach), y1 = trunc_int(mxy + cv->reach) + 1;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > cv->n) x1 = cv->n;
    if (y1 > cv->n) y1 = cv->n;
    if (x0 >= x1 || y0 >= y1) return;
    /* |a - b|^2: a float32 difference squared in float64, or all float64 */
    double dab;
    if (f64) {
        double ex = a[0] - b[0], ey = a[1] - b[1];
        dab = ex * ex + ey * ey;
    } else {
        double ex = (double)((float)a[0] - (float)b[0]), ey = (double)((float)a[1] - (float)b[1]);
        dab = ex * ex + ey * ey;
    }
    if (dab < 1) { /* joints closer than a pixel: OpenGait draws joint a with its own score */
        draw_joint(cv, a[0], a[1], ca);
        return;
    }
    float axf = (float)a[0], ayf = (float)a[1], bxf = (float)b[0], byf = (float)b[1];
    float dabf = (float)dab;
    float ddxf = (float)b[0] - (float)a[0], ddyf = (float)b[1] - (float)a[1]; /* end - start, float32 */
    double ddx = b[0] - a[0], ddy = b[1] - a[1];
    for (int py = y0; py < y1; py++) {
        float *row = cv->px + (size_t)py * cv->n;
        float fy = (float)py;
        float day = fy - ayf, dby = fy - byf;
        float day2 = day * day, dby2 = dby * dby;
        for (int px = x0; px < x1; px++) {
            float fx = (float)px;
            float dax = fx - axf, dbx = fx - bxf;
            float d2a = dax * dax + day2;
            float d2b = dbx * dbx + dby2;
            float coeff = d2a - d2b;
            coeff = coeff + dabf;
            coeff = coeff / 2.0f;
            coeff = coeff / dabf;
            double d2;
            if (coeff <= 0.f) {
                d2 = (double)d2a;
            } else if (coeff >= 1.f) {
                d2 = (double)d2b;
            } else if (f64) {
                double prx = a[0] + (double)coeff * ddx;
                double pry = a[1] + (double)coeff * ddy;
                double gx = (double)fx - prx, gy = (double)fy - pry;
                d2 = gx * gx + gy * gy;
            } else {
                float t = coeff * ddxf;
                float prx = axf + t;
                t = coeff * ddyf;
                float pry = ayf + t;
                float gx = fx - prx, gy = fy - pry;
                float dl = gx * gx + gy * gy;
                d2 = (double)dl;
            }
            double p = exp(-d2 / 2. / cv->sigma2) * v;
            float pf = (float)p;
            if (pf > row[px]) row[px] = pf;
        }
    }
}

/* ---- E, F. to grey and align ------------------------------------------------------------------------ */

/* matplotlib's 'gray' LinearSegmentedColormap table (N = 256) as uint8 after * 255 and truncation:
 * xind = 255 * linspace(0, 1, 256); value = (xind - 0) / (255 - 0) * (1 - 0) + 0; ends 0 and 1. */
static void gray_table(uint8_t t[256]) {
    double step = 1.0 / 255;
    t[0] = 0;
    for (int i = 1; i < 255; i++) {
        double lin = (double)i * step;
        double xind = 255.0 * lin;
        double v = (xind - 0.0) / (255.0 - 0.0);
        v = v * (1.0 - 0.0) + 0.0;
        t[i] = (uint8_t)(v * 255);
    }
    t[255] = 255;
}

static void to_grey(const float *cv, int n, const uint8_t tab[256], uint8_t *g) {
    for (size_t i = 0; i < (size_t)n * n; i++) {
        float xa = cv[i] * 256.0f;
        uint8_t v;
        if (isnan(xa))
            v = 0;
        else if (xa >= 256.0f)
            v = 255; /* == 256 maps to the last entry; above is the 'over' colour, also white */
        else
            v = tab[xa > 0.f ? (int)xa : 0];
        g[i] = v;
    }
}

static grt_status align_map(const uint8_t *g, int n, int out, double *work_d, double *res, grt_buf *rtab, uint8_t *dst) {
    int top = -1, btm = -1;
    for (int y = 0; y < n; y++) {
        const uint8_t *row = g + (size_t)y * n;
        int ink = 0;
        for (int x = 0; x < n; x++) ink |= row[x];
        if (ink) {
            if (top < 0) top = y;
            btm = y;
        }
    }
    if (top < 0) top = btm = 0;
    int h = btm - top + 1;
    int c0 = n / 2 - h / 2, c1 = n / 2 + h / 2 + 1;
    if (c0 < 0) c0 = 0; /* cannot happen for h <= n; kept for safety */
    if (c1 > n) c1 = n;
    int cw = c1 - c0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < cw; x++) work_d[(size_t)y * cw + x] = g[(size_t)(top + y) * n + c0 + x] / 255.;
    size_t wb = grt_resize_work_bytes(GRT_INTER_AREA, cw, h, out, out, 1);
    void *tab = grt_buf_reserve(rtab, wb);
    if (!tab) return grt_error(GAITRT_ERR_NOMEM, "skeleton maps: out of memory");
    grt_status st = grt_resize_f64(work_d, cw, h, cw, res, out, out, out, GRT_INTER_AREA, tab, wb);
    if (st) return st;
    for (int i = 0; i < out * out; i++) {
        double v = res[i] * 255;
        dst[i] = (uint8_t)(v >= 255. ? 255 : v > 0. ? (int)v : 0);
    }
    return GRT_OK;
}

/* ---- the sequence ------------------------------------------------------------------------------------- */

grt_status grt_skeleton_maps(const grt_pose *pose, const grt_skel_opts *o, uint8_t *out, size_t out_len,
                             int *n_degenerate) {
    if (n_degenerate) *n_degenerate = 0;
    if (!pose || !o || (!out && out_len) || (!pose->data && pose->n_frames))
        return grt_error(GAITRT_ERR_INVALID_ARG, "skeleton maps: NULL argument");
    int T = pose->n_frames, V = pose->n_joints;
    if (T < 0) return grt_error(GAITRT_ERR_INVALID_ARG, "skeleton maps: %d frames", T);
    int c18 = o->coco18 < 0 ? V == 18 : o->coco18;
    if (V != (c18 ? 18 : 17))
        return grt_error(GAITRT_ERR_INPUT, "skeleton maps: keypoints have %d joints, expected %d (%s) ---> HINT: COCO-17 or OpenPose COCO-18 [T, V, 3]",
                         V, c18 ? 18 : 17, c18 ? "COCO-18" : "COCO-17");
    int C = o->canvas, S = o->out_size;
    if (C < 2 || C > 4096 || S < 1 || S > 4096 || !(o->sigma > 0) || !o->align)
        return grt_error(GAITRT_ERR_INVALID_ARG, "skeleton maps: canvas %d, output %d, sigma %g, align %d not supported", C, S,
                         (double)o->sigma, o->align);
    size_t need = (size_t)T * 2 * S * S;
    if (out_len < need)
        return grt_error(GAITRT_ERR_INVALID_ARG, "skeleton maps: output of %zu bytes, %zu needed ([%d, 2, %d, %d])", out_len, need, T,
                         S, S);
    if (T == 0) return GRT_OK;
    /* float64 as soon as the input is, or after the COCO-18 conversion (np.zeros is float64). */
    int f64 = pose->f64 || c18;

    size_t nxy = (size_t)T * NJ * 2;
    double *xy = grt_malloc(nxy * sizeof(double));
    double *conf = grt_malloc((size_t)T * NJ * sizeof(double));
    float *cvs = grt_malloc((size_t)C * C * sizeof(float));
    uint8_t *grey = grt_malloc((size_t)C * C);
    double *wd = grt_malloc((size_t)C * C * sizeof(double));
    double *res = grt_malloc((size_t)S * S * sizeof(double));
    grt_buf rtab = {0};
    grt_status st = GRT_OK;
    if (!xy || !conf || !cvs || !grey || !wd || !res) {
        st = grt_error(GAITRT_ERR_NOMEM, "skeleton maps: out of memory for %d frames", T);
        goto done;
    }
    /* A: load (and reorder) into double, values exactly those of the pose's dtype */
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < NJ; j++) {
            int src = c18 ? coco18_to_17[j] : j;
            size_t k = ((size_t)t * V + src) * 3;
            double v[3];
            for (int q = 0; q < 3; q++)
                v[q] = pose->f64 ? ((const double *)pose->data)[k + q] : (double)((const float *)pose->data)[k + q];
            xy[((size_t)t * NJ + j) * 2] = v[0];
            xy[((size_t)t * NJ + j) * 2 + 1] = v[1];
            conf[(size_t)t * NJ + j] = v[2];
        }
    }
    /* B */
    if (o->fill_missing) {
        if ((st = grt_skel_knn_fill(xy, T, NJ * 2))) goto done;
        if (!f64)
            for (size_t i = 0; i < nxy; i++) xy[i] = (double)(float)xy[i];
    }
    uint8_t tab[256];
    gray_table(tab);
    canvas cv = {cvs, C, (float)((double)o->sigma * o->sigma), (double)o->sigma * o->sigma, 3.0 * (double)o->sigma};
    /* the normaliser's constants, as Python computes them from the canvas height */
    double target = floor(C / 1.5), centre = (double)(C / 2);
    for (int t = 0; t < T; t++) {
        double *p = xy + (size_t)t * NJ * 2;
        const double *c = conf + (size_t)t * NJ;
        uint8_t *dst = out + (size_t)t * 2 * S * S;
        /* C: centre and scale, in the pose's dtype */
        int degenerate = 0;
        if (f64) {
            double hx = (p[22] + p[24]) / 2., hy = (p[23] + p[25]) / 2.;
            double ymax = -INFINITY, ymin = INFINITY;
            for (int j = 0; j < NJ; j++) {
                p[2 * j] = p[2 * j] - hx;
                p[2 * j + 1] = p[2 * j + 1] - hy;
                if (p[2 * j + 1] > ymax) ymax = p[2 * j + 1];
                if (p[2 * j + 1] < ymin) ymin = p[2 * j + 1];
            }
            double f = target / (ymax - ymin);
            for (int j = 0; j < 2 * NJ; j++) p[j] = p[j] * f + centre;
            degenerate = !isfinite(f);
        } else {
            float hx = ((float)p[22] + (float)p[24]) / 2.f, hy = ((float)p[23] + (float)p[25]) / 2.f;
            float ymax = -INFINITY, ymin = INFINITY;
            float q[2 * NJ];
            for (int j = 0; j < NJ; j++) {
                q[2 * j] = (float)p[2 * j] - hx;
                q[2 * j + 1] = (float)p[2 * j + 1] - hy;
                if (q[2 * j + 1] > ymax) ymax = q[2 * j + 1];
                if (q[2 * j + 1] < ymin) ymin = q[2 * j + 1];
            }
            float f = (float)target / (ymax - ymin);
            for (int j = 0; j < 2 * NJ; j++) {
                float v = q[j] * f;
                v = v + (float)centre;
                p[j] = v;
            }
            degenerate = !isfinite(f);
        }
        for (int j = 0; j < 2 * NJ && !degenerate; j++) degenerate = !isfinite(p[j]);
        if (degenerate) {
            /* No vertical extent (e.g. no joint detected and nothing to fill from): OpenGait
             * would stop with an error here; we leave this frame's maps empty and count it. */
            memset(dst, 0, (size_t)2 * S * S);
            if (n_degenerate) (*n_degenerate)++;
            continue;
        }
        /* D-F, limbs into channel 0, joints into channel 1 */
        for (int m = 0; m < 2; m++) {
            memset(cvs, 0, (size_t)C * C * sizeof(float));
            if (m == 0) {
                for (int l = 0; l < 17; l++) {
                    int ia = limbs[l][0], ib = limbs[l][1];
                    draw_limb(&cv, p + 2 * ia, p + 2 * ib, c[ia], c[ib], f64);
                }
            } else {
                for (int j = 0; j < NJ; j++) draw_joint(&cv, p[2 * j], p[2 * j + 1], c[j]);
            }
            to_grey(cvs, C, tab, grey);
            if ((st = align_map(grey, C, S, wd, res, &rtab, dst + (size_t)m * S * S))) goto done;
        }
    }
done:
    grt_free(xy);
    grt_free(conf);
    grt_free(cvs);
    grt_free(grey);
    grt_free(wd);
    grt_free(res);
    grt_buf_release(&rtab);
    return st;
}
