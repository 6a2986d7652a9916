/* eval.c — OpenGait's distances and evaluation protocols over embeddings [N, C, P]:
 * part-averaged Euclidean (or cosine) distances, the gait-style cross-view rank-1 matrix with
 * identical views excluded (CASIA-B, OU-MVLP), and re-id style CMC / mAP / mINP. Deliberately
 * only the arithmetic: reading datasets and running models is the pipeline's job. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

gaitrt_status gaitrt_distance_matrix(const float *probe, int np, const float *gallery, int ng, int channels, int parts,
                                     int cosine, float *out) {
    if (!probe || !gallery || !out || np < 0 || ng < 0 || channels <= 0 || parts <= 0)
        return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_distance_matrix: bad argument");
    const int C = channels, P = parts;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < np; i++)
        for (int j = 0; j < ng; j++) {
            const float *a = probe + (size_t)i * C * P, *b = gallery + (size_t)j * C * P;
            double acc = 0;
            for (int p = 0; p < P; p++) {
                double aa = 0, bb = 0, ab = 0;
                for (int c = 0; c < C; c++) {
                    double x = a[c * P + p], y = b[c * P + p];
                    aa += x * x;
                    bb += y * y;
                    ab += x * y;
                }
                if (cosine)
                    acc += ab / (sqrt(aa) * sqrt(bb) + 1e-12);
                else /* as OpenGait: sqrt(max(0, |a|^2 + |b|^2 - 2 a.b)) per part */
                    acc += sqrt(fmax(0.0, aa + bb - 2 * ab));
            }
            out[(size_t)i * ng + j] = (float)(cosine ? 1.0 - acc / P : acc / P);
        }
    return GAITRT_OK;
}

float gaitrt_distance(const float *a, const float *b, int channels, int parts) {
    float d = 0;
    if (gaitrt_distance_matrix(a, 1, b, 1, channels, parts, 0, &d) != GAITRT_OK) return NAN;
    return d;
}

typedef struct grt__cand { float d; int j; } grt__cand;
static int grt__cmp_cand(const void *a, const void *b) {
    const grt__cand *x = a, *y = b;
    return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->j - y->j);
}

static int grt__in_list(const char *s, const char *list) { /* list: comma separated */
    size_t n = strlen(s);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Re-id style over probe set and gallery set (index lists): CMC rank-1/5/10, mAP, mINP;
 * gallery entries with the probe's identity and view are skipped when exclude_same_view. */
static void grt__reid(const float *emb, int C, int P, const char *const *ids, const char *const *views, const int *pr, int npr,
                      const int *ga, int nga, int exclude_same_view, gaitrt_eval_result *r) {
    float *dist = grt_malloc((size_t)(nga ? nga : 1) * sizeof(float));
    grt__cand *cand = grt_malloc((size_t)(nga ? nga : 1) * sizeof *cand);
    float *pbuf = grt_malloc((size_t)C * P * sizeof(float)), *gbuf = grt_malloc((size_t)(nga ? nga : 1) * C * P * sizeof(float));
    double r1 = 0, r5 = 0, r10 = 0, ap = 0, inp = 0;
    int valid = 0;
    if (!dist || !cand || !pbuf || !gbuf) goto done;
    for (int j = 0; j < nga; j++) memcpy(gbuf + (size_t)j * C * P, emb + (size_t)ga[j] * C * P, (size_t)C * P * sizeof(float));
    for (int i = 0; i < npr; i++) {
        gaitrt_distance_matrix(emb + (size_t)pr[i] * C * P, 1, gbuf, nga, C, P, 0, dist);
        int m = 0;
        for (int j = 0; j < nga; j++) {
            if (exclude_same_view && !strcmp(ids[ga[j]], ids[pr[i]]) && !strcmp(views[ga[j]], views[pr[i]])) continue;
            cand[m].d = dist[j];
            cand[m].j = ga[j];
            m++;
        }
        qsort(cand, (size_t)m, sizeof *cand, grt__cmp_cand);
        int hits = 0, first = -1, last = -1;
        double sum_prec = 0;
        for (int k = 0; k < m; k++)
            if (!strcmp(ids[cand[k].j], ids[pr[i]])) {
                hits++;
                if (first < 0) first = k;
                last = k;
                sum_prec += (double)hits / (k + 1);
            }
        if (!hits) continue; /* probes without a correct match are skipped, as OpenGait does */
        valid++;
        r1 += first < 1;
        r5 += first < 5;
        r10 += first < 10;
        ap += sum_prec / hits;
        inp += (double)hits / (last + 1);
    }
done:
    r->n_probes = valid;
    r->rank1 = valid ? 100.0 * r1 / valid : 0;
    r->rank5 = valid ? 100.0 * r5 / valid : 0;
    r->rank10 = valid ? 100.0 * r10 / valid : 0;
    r->map = valid ? 100.0 * ap / valid : 0;
    r->minp = valid ? 100.0 * inp / valid : 0;
    grt_free(dist);
    grt_free(cand);
    grt_free(pbuf);
    grt_free(gbuf);
}

/* Gait style: rank-1 of probes of view v1 against the gallery restricted to view v2, averaged
 * over v2 != v1, then over v1 (identical views excluded). */
static double grt__cross_view(const float *emb, int C, int P, const char *const *ids, const char *const *views, const int *pr,
                              int npr, const int *ga, int nga, int *n_probes) {
    /* distinct views in sorted order */
    const char *vs[64];
    int nv = 0;
    for (int k = 0; k < npr + nga; k++) {
        const char *v = views[k < npr ? pr[k] : ga[k - npr]];
        int seen = 0;
        for (int q = 0; q < nv; q++) seen |= !strcmp(vs[q], v);
        if (!seen && nv < 64) vs[nv++] = v;
    }
    double total = 0;
    int n_v1 = 0;
    *n_probes = npr;
    float *d = grt_malloc((size_t)(nga ? nga : 1) * sizeof(float));
    float *g = grt_malloc((size_t)(nga ? nga : 1) * C * P * sizeof(float));
    if (!d || !g) {
        grt_free(d);
        grt_free(g);
        return 0;
    }
    for (int j = 0; j < nga; j++) memcpy(g + (size_t)j * C * P, emb + (size_t)ga[j] * C * P, (size_t)C * P * sizeof(float));
    for (int a = 0; a < nv; a++) {
        double acc_v1 = 0;
        int n_v2 = 0;
        for (int b = 0; b < nv; b++) {
            if (a == b) continue;
            int correct = 0, count = 0;
            for (int i = 0; i < npr; i++) {
                if (strcmp(views[pr[i]], vs[a])) continue;
                gaitrt_distance_matrix(emb + (size_t)pr[i] * C * P, 1, g, nga, C, P, 0, d);
                float best = INFINITY;
                int bj = -1;
                for (int j = 0; j < nga; j++)
                    if (!strcmp(views[ga[j]], vs[b]) && d[j] < best) {
                        best = d[j];
                        bj = ga[j];
                    }
                count++; /* probes without a gallery at this view count as errors */
                correct += bj >= 0 && !strcmp(ids[bj], ids[pr[i]]);
            }
            if (!count) continue;
            acc_v1 += round(10000.0 * correct / count) / 100.0; /* OpenGait rounds each cell to 2 decimals */
            n_v2++;
        }
        if (n_v2) {
            total += acc_v1 / n_v2;
            n_v1++;
        }
    }
    grt_free(d);
    grt_free(g);
    return n_v1 ? total / n_v1 : 0;
}

gaitrt_status gaitrt_evaluate(const float *emb, int n, int channels, int parts, const char *const *ids, const char *const *types,
                              const char *const *views, const char *protocol, gaitrt_eval_result *out, int cap, int *n_out) {
    if (!emb || !ids || !types || !views || !protocol || !n_out || n <= 0 || channels <= 0 || parts <= 0)
        return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_evaluate: bad argument");
    *n_out = 0;
    struct { const char *name, *probe; } conds[4];
    const char *gallery;
    int nc = 0, gait_style = 1;
    if (!strcmp(protocol, "casia-b")) {
        gallery = "nm-01,nm-02,nm-03,nm-04";
        conds[nc++] = (typeof(conds[0])){"NM", "nm-05,nm-06"};
        conds[nc++] = (typeof(conds[0])){"BG", "bg-01,bg-02"};
        conds[nc++] = (typeof(conds[0])){"CL", "cl-01,cl-02"};
    } else if (!strcmp(protocol, "oumvlp")) {
        gallery = "01";
        conds[nc++] = (typeof(conds[0])){"all", "00"};
    } else if (!strcmp(protocol, "casia-b-cross-view")) {
        gait_style = 0;
        gallery = "nm-02,bg-02,cl-02";
        conds[nc++] = (typeof(conds[0])){"NM", "nm-01"};
        conds[nc++] = (typeof(conds[0])){"BG", "bg-01"};
        conds[nc++] = (typeof(conds[0])){"CL", "cl-01"};
    } else {
        return grt_error(GAITRT_ERR_INVALID_ARG, "unknown protocol '%s' ---> HINT: casia-b, casia-b-cross-view or oumvlp", protocol);
    }
    int *pr = grt_malloc((size_t)n * sizeof(int)), *ga = grt_malloc((size_t)n * sizeof(int));
    if (!pr || !ga) {
        grt_free(pr);
        grt_free(ga);
        return grt_error(GAITRT_ERR_NOMEM, "out of memory evaluating");
    }
    int nga = 0;
    for (int k = 0; k < n; k++)
        if (grt__in_list(types[k], gallery)) ga[nga++] = k;
    for (int c = 0; c < nc && c < cap; c++) {
        int npr = 0;
        for (int k = 0; k < n; k++)
            if (grt__in_list(types[k], conds[c].probe)) pr[npr++] = k;
        gaitrt_eval_result *r = &out[c];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", conds[c].name);
        if (gait_style) {
            r->rank1 = grt__cross_view(emb, channels, parts, ids, views, pr, npr, ga, nga, &r->n_probes);
            r->map = r->minp = r->rank5 = r->rank10 = -1; /* not part of this protocol */
        } else {
            grt__reid(emb, channels, parts, ids, views, pr, npr, ga, nga, 1, r);
        }
        (*n_out)++;
    }
    grt_free(pr);
    grt_free(ga);
    if (nga == 0) return grt_error(GAITRT_ERR_INPUT, "protocol %s: no gallery sequences (types %s) among the %d given", protocol, gallery, n);
    return GAITRT_OK;
}
