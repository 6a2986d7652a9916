/* test_match.c — distances, evaluation protocols and the gallery: OpenGait's part-averaged
 * distance against the formula, the CASIA-B cross-view protocol on embeddings whose answer
 * is known, rank-k / mAP / mINP on a hand-worked ranking, and enrol / identify / remove /
 * reopen of an SQLite gallery. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gaitrt.h"
#include "test_util.h"

#define C 4
#define P 3

static void vec(float *e, int seed, float noise) {
    unsigned s = (unsigned)seed * 2654435761u + 7;
    for (int i = 0; i < C * P; i++) {
        s = s * 1103515245u + 12345u;
        e[i] = (float)((s >> 8) & 1023) / 100.0f + noise * (float)(((s >> 3) & 15) - 7) / 700.0f;
    }
}

int main(void) {
    /* distance: mean over parts of the per-part Euclidean distance */
    float a[C * P], b[C * P];
    vec(a, 1, 0);
    vec(b, 2, 0);
    double want = 0;
    for (int p = 0; p < P; p++) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (a[c * P + p] - b[c * P + p]) * (a[c * P + p] - b[c * P + p]);
        want += sqrt(ss);
    }
    want /= P;
    CHECK(fabs(gaitrt_distance(a, b, C, P) - want) < 1e-4 * want);

    /* CASIA-B: 3 identities x 10 types x 3 views, each embedding = its identity's vector + small noise */
    const char *types[] = {"nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02"};
    const char *views[] = {"000", "090", "180"};
    const char *idn[] = {"075", "076", "077"};
    enum { N = 3 * 10 * 3 };
    float *emb = malloc(sizeof(float) * N * C * P);
    const char *ids[N], *ty[N], *vw[N];
    int k = 0;
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 10; t++)
            for (int v = 0; v < 3; v++, k++) {
                vec(emb + k * C * P, 100 + i, 1.0f);
                emb[k * C * P] += 0.01f * (float)(t * 3 + v); /* distinct sequences */
                ids[k] = idn[i];
                ty[k] = types[t];
                vw[k] = views[v];
                /* CL probes of identity 077 look like identity 075: every CL probe of 077 is wrong */
                if (i == 2 && t >= 8) vec(emb + k * C * P, 100, 1.0f);
            }
    gaitrt_eval_result r[8];
    int nr = 0;
    CHECK(gaitrt_evaluate(emb, N, C, P, ids, ty, vw, "casia-b", r, 8, &nr) == GAITRT_OK);
    CHECK(nr == 3);
    for (int q = 0; q < nr; q++) printf("casia-b %s: probes %d rank-1 %.2f\n", r[q].name, r[q].n_probes, r[q].rank1);
    CHECK(!strcmp(r[0].name, "NM") && fabs(r[0].rank1 - 100) < 1e-9 && r[0].n_probes == 18);
    CHECK(!strcmp(r[1].name, "BG") && fabs(r[1].rank1 - 100) < 1e-9);
    /* CL: one of three identities always wrong -> every cross-view cell 66.67 */
    CHECK(!strcmp(r[2].name, "CL") && fabs(r[2].rank1 - 66.67) < 1e-9);
    CHECK(gaitrt_evaluate(emb, N, C, P, ids, ty, vw, "no-such-protocol", r, 8, &nr) == GAITRT_ERR_INVALID_ARG);

    /* re-id style on a hand-worked ranking: 1 probe (nm-01 of 075, view 000) against gallery
     * nm-02/bg-02/cl-02 (same id + same view removed): correct matches at ranks 2 and 4. */
    const char *rid[6] = {"075", "076", "075", "077", "075", "075"};
    const char *rty[6] = {"nm-01", "nm-02", "bg-02", "nm-02", "cl-02", "cl-02"};
    const char *rvw[6] = {"000", "090", "090", "090", "090", "000"}; /* the last is the same view: removed */
    float re[6 * C * P];
    memset(re, 0, sizeof re);
    const float dist[6] = {0, 1, 2, 3, 4, 0.5f}; /* probe at 0; candidates at increasing distances */
    for (int i = 0; i < 6; i++) re[i * C * P] = dist[i];
    CHECK(gaitrt_evaluate(re, 6, C, P, rid, rty, rvw, "casia-b-cross-view", r, 8, &nr) == GAITRT_OK);
    printf("cross-view NM: probes %d rank-1 %.2f rank-5 %.2f mAP %.2f mINP %.2f\n", r[0].n_probes, r[0].rank1, r[0].rank5,
           r[0].map, r[0].minp);
    CHECK(r[0].n_probes == 1 && r[0].rank1 == 0 && r[0].rank5 == 100);
    CHECK(fabs(r[0].map - 100 * (1.0 / 2 + 2.0 / 4) / 2) < 1e-9); /* AP = (1/2 + 2/4) / 2 */
    CHECK(fabs(r[0].minp - 100 * 2.0 / 4) < 1e-9);                 /* INP = 2 / 4 */

    /* gallery */
    char path[512];
    snprintf(path, sizeof path, "%s/test_match_gallery.db", grt_test_env("GRT_BUILD_DIR", "."));
    unlink(path);
    gaitrt_gallery *g = gaitrt_gallery_open(path, C, P);
    CHECK_MSG(g != NULL, "%s", gaitrt_last_error());
    if (g) {
        float e[C * P];
        for (int i = 0; i < 3; i++) {
            vec(e, 100 + i, 0);
            CHECK(gaitrt_gallery_enroll(g, idn[i], e) == GAITRT_OK);
            vec(e, 100 + i, 2.0f);
            CHECK(gaitrt_gallery_enroll(g, idn[i], e) == GAITRT_OK);
        }
        CHECK(gaitrt_gallery_size(g) == 6);
        gaitrt_match m[5];
        int n = 0;
        vec(e, 101, 1.0f);
        CHECK(gaitrt_gallery_identify(g, e, 5, m, &n) == GAITRT_OK);
        CHECK(n == 3 && !strcmp(m[0].name, "076") && m[0].distance <= m[1].distance && m[1].distance <= m[2].distance);
        CHECK(gaitrt_gallery_remove(g, "076") == 2);
        gaitrt_gallery_close(g);
        g = gaitrt_gallery_open(path, C, P); /* persisted */
        CHECK(g && gaitrt_gallery_size(g) == 4);
        if (g) {
            CHECK(gaitrt_gallery_identify(g, e, 5, m, &n) == GAITRT_OK && n == 2 && strcmp(m[0].name, "076") != 0);
            gaitrt_gallery_close(g);
        }
        CHECK(gaitrt_gallery_open(path, C + 1, P) == NULL); /* another model's embeddings */
        printf("shape mismatch: %s\n", gaitrt_last_error());
        CHECK(strstr(gaitrt_last_error(), "test_match_gallery.db") != NULL);
    }
    free(emb);
    return grt_test_finish("test_match");
}
