/* cmd_match.c — `gaitrt enroll`, `gaitrt identify` (a gallery in an SQLite file) and
 * `gaitrt eval` (OpenGait protocols over embeddings written by `gaitrt embed --dataset`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Loads a model and embeds one sequence from a path; emb receives C x P floats. */
static int embed_one(gaitrt_model *m, gaitrt_session *s, const char *path, float *emb, size_t len, const char *cmd) {
    gaitrt_sequence_data d;
    gaitrt_status st = gaitrt_sequence_load(m, path, NULL, &d);
    if (st != GAITRT_OK) return cli_fail(cmd, st);
    st = gaitrt_embed(s, &d.seq, 1, emb, len);
    gaitrt_sequence_data_free(&d);
    if (st != GAITRT_OK) return cli_fail(cmd, st);
    return 0;
}

/* gaitrt enroll -m CKPT -g DB ID SEQ...   |   gaitrt identify -m CKPT -g DB [-k K] SEQ... */
static int gallery_cmd(int argc, char **argv, int identify) {
    const char *cmd = identify ? "identify" : "enroll";
    gaitrt_model_params mp = gaitrt_model_default_params();
    const char *ckpt = NULL, *db = NULL, *id = NULL;
    int k = 5, first = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(argv[i], "-g") && i + 1 < argc) db = argv[++i];
        else if (!strcmp(argv[i], "-k") && i + 1 < argc) k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model-type") && i + 1 < argc) mp.model_type = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) mp.config_path = argv[++i];
        else if (!strcmp(argv[i], "--no-strict")) mp.strict = 0;
        else if (argv[i][0] == '-') { first = -2; break; }
        else if (!identify && !id) id = argv[i];
        else { first = i; break; }
    }
    if (!ckpt || !db || first < 0 || (!identify && !id) || k <= 0 || k > 100) {
        fprintf(stderr, identify ? "usage: gaitrt identify -m CKPT -g GALLERY.db [-k K] SEQ...\n"
                                 : "usage: gaitrt enroll -m CKPT -g GALLERY.db IDENTITY SEQ...\n");
        return 1;
    }
    gaitrt_model *m = gaitrt_model_load(ckpt, &mp);
    if (!m) return cli_fail(cmd, gaitrt_last_status());
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    gaitrt_session_params sp = gaitrt_session_default_params();
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    gaitrt_gallery *g = s ? gaitrt_gallery_open(db, info.embed_channels, info.embed_parts) : NULL;
    size_t per = (size_t)info.embed_channels * info.embed_parts;
    float *emb = malloc(per * sizeof(float));
    int rc = 0;
    if (!s || !g || !emb) {
        rc = cli_fail(cmd, gaitrt_last_status());
        goto done;
    }
    for (int i = first; i < argc && rc == 0; i++) {
        if ((rc = embed_one(m, s, argv[i], emb, per, cmd)) != 0) break;
        if (!identify) {
            gaitrt_status st = gaitrt_gallery_enroll(g, id, emb);
            if (st != GAITRT_OK) rc = cli_fail(cmd, st);
            else printf("enrolled %s <- %s (gallery: %d sequences)\n", id, argv[i], gaitrt_gallery_size(g));
        } else {
            gaitrt_match best[100];
            int n = 0;
            gaitrt_status st = gaitrt_gallery_identify(g, emb, k, best, &n);
            if (st != GAITRT_OK) {
                rc = cli_fail(cmd, st);
                break;
            }
            printf("%s:\n", argv[i]);
            for (int q = 0; q < n; q++) printf("  %d. %-24s distance %.4f\n", q + 1, best[q].name, best[q].distance);
        }
    }
done:
    free(emb);
    gaitrt_gallery_close(g);
    gaitrt_session_free(s);
    gaitrt_model_free(m);
    return rc;
}

int grt_cmd_enroll(int argc, char **argv) { return gallery_cmd(argc, argv, 0); }
int grt_cmd_identify(int argc, char **argv) { return gallery_cmd(argc, argv, 1); }

/* gaitrt eval EMB.npy [--labels L.tsv] --protocol P */
int grt_cmd_eval(int argc, char **argv) {
    const char *embp = NULL, *labels = NULL, *protocol = "casia-b";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--labels") && i + 1 < argc) labels = argv[++i];
        else if (!strcmp(argv[i], "--protocol") && i + 1 < argc) protocol = argv[++i];
        else if (argv[i][0] != '-' && !embp) embp = argv[i];
        else {
            embp = NULL;
            break;
        }
    }
    if (!embp) {
        fprintf(stderr, "usage: gaitrt eval EMB.npy [--labels EMB.labels.tsv] [--protocol casia-b|casia-b-cross-view|oumvlp]\n"
                        "  EMB.npy and its labels come from: gaitrt embed -m CKPT --dataset ROOT -o EMB.npy\n");
        return 1;
    }
    char lp[4096];
    if (!labels) {
        size_t n = strlen(embp);
        snprintf(lp, sizeof lp, "%.*s.labels.tsv", (int)(n > 4 && !strcmp(embp + n - 4, ".npy") ? n - 4 : n), embp);
        labels = lp;
    }
    gaitrt_array e;
    gaitrt_status st = gaitrt_array_load(embp, &e);
    if (st != GAITRT_OK) return cli_fail("eval", st);
    if (e.ndim != 3 || e.dtype != GAITRT_DTYPE_F32) {
        fprintf(stderr, "gaitrt eval: bad input: %s: expected float32 [N, C, P] embeddings\n", embp);
        gaitrt_array_free(&e);
        return 8;
    }
    int n = (int)e.shape[0], rc = 0, got = 0;
    char **ids = calloc((size_t)n, sizeof *ids), **types = calloc((size_t)n, sizeof *types), **views = calloc((size_t)n, sizeof *views);
    FILE *f = fopen(labels, "r");
    char line[2048];
    if (!f) {
        fprintf(stderr, "gaitrt eval: i/o error: %s: cannot open the labels ---> HINT: gaitrt embed --dataset writes them\n", labels);
        rc = 3;
        goto done;
    }
    while (fgets(line, sizeof line, f)) {
        int idx;
        char a[512], b[512], c[512];
        if (sscanf(line, "%d\t%511[^\t]\t%511[^\t]\t%511[^\t\n]", &idx, a, b, c) != 4) continue; /* header */
        if (idx < 0 || idx >= n) {
            fprintf(stderr, "gaitrt eval: bad input: %s: row index %d outside the %d embeddings\n", labels, idx, n);
            rc = 8;
            break;
        }
        free(ids[idx]);
        free(types[idx]);
        free(views[idx]);
        ids[idx] = strdup(a);
        types[idx] = strdup(b);
        views[idx] = strdup(c);
        got++;
    }
    fclose(f);
    if (rc == 0 && got != n) {
        fprintf(stderr, "gaitrt eval: bad input: %s labels %d rows, %s has %d embeddings\n", labels, got, embp, n);
        rc = 8;
    }
    if (rc == 0) {
        gaitrt_eval_result r[8];
        int nr = 0;
        st = gaitrt_evaluate(e.data, n, (int)e.shape[1], (int)e.shape[2], (const char *const *)ids, (const char *const *)types,
                             (const char *const *)views, protocol, r, 8, &nr);
        if (st != GAITRT_OK) {
            rc = cli_fail("eval", st);
        } else {
            printf("protocol %s, %d sequences:\n", protocol, n);
            for (int q = 0; q < nr; q++) {
                printf("  %-4s probes %5d  rank-1 %6.2f%%", r[q].name, r[q].n_probes, r[q].rank1);
                if (r[q].map >= 0) printf("  rank-5 %6.2f%%  rank-10 %6.2f%%  mAP %6.2f%%  mINP %6.2f%%", r[q].rank5, r[q].rank10, r[q].map, r[q].minp);
                printf("\n");
            }
        }
    }
done:
    for (int i = 0; i < n; i++) {
        free(ids[i]);
        free(types[i]);
        free(views[i]);
    }
    free(ids);
    free(types);
    free(views);
    gaitrt_array_free(&e);
    return rc;
}
