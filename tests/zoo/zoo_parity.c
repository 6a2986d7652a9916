/* zoo_parity.c — see zoo_parity.h. The manifest format is described in
 * tests/reference/zoo_common.py. */
#include "zoo_parity.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pipeline/pipeline.h"
#include "test_util.h"

int zoo_parity_failures(void) { return grt_test_failures; }

static double zoo_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *zoo_ref_dir(const char *subdir) {
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", grt_test_env("GRT_REF_DIR", "ref"), subdir);
    return dir;
}

gaitrt_model *zoo_load(const char *subdir, const char *file, const char *type, const char *config) {
    char path[1200], cpath[1200];
    snprintf(path, sizeof path, "%s/%s", zoo_ref_dir(subdir), file);
    gaitrt_model_params mp = gaitrt_model_default_params();
    if (type && *type) mp.model_type = type;
    if (config && *config) {
        snprintf(cpath, sizeof cpath, "%s/%s", zoo_ref_dir(subdir), config);
        mp.config_path = cpath;
    }
    return gaitrt_model_load(path, &mp);
}

void zoo_check_counts(const char *type, int64_t params, double params_m, double macs_m) {
    gaitrt_model *m = gaitrt_model_create_random(type, 1);
    CHECK_MSG(m != NULL, "%s: %s", type, gaitrt_last_error());
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    printf("%-22s %-12s %-52s params %lld (%.2f M) MACs/frame %.1f M\n", type, info.type, info.variant,
           (long long)info.n_params, info.n_params / 1e6, info.macs_per_frame / 1e6);
    if (params > 0)
        CHECK_MSG(info.n_params == params, "%s: %lld parameters, the spec counts %lld", type, (long long)info.n_params,
                  (long long)params);
    if (params_m > 0)
        CHECK_MSG(fabs(info.n_params / 1e6 - params_m) <= 0.00501, "%s: %.4f M parameters, the spec counts %.2f M", type,
                  info.n_params / 1e6, params_m);
    if (macs_m >= 0)
        CHECK_MSG(fabs(info.macs_per_frame / 1e6 - macs_m) <= 0.0501, "%s: %.3f M MACs per frame, the spec counts %.1f M", type,
              info.macs_per_frame / 1e6, macs_m);
    gaitrt_model_free(m);
}

/* ---- manifest -------------------------------------------------------------------------- */

typedef struct zoo_model_line {
    char name[96], file[128], config[128], type[40];
} zoo_model_line;

#define ZOO_MAX_MODELS 64

typedef struct zoo_state {
    const char *subdir;
    zoo_model_line models[ZOO_MAX_MODELS];
    int n_models;
    gaitrt_model *cur;
    char cur_name[96];
    double max_err[ZOO_MAX_MODELS][3];
} zoo_state;

static int zoo_find_model(zoo_state *z, const char *name) {
    for (int i = 0; i < z->n_models; i++)
        if (!strcmp(z->models[i].name, name)) return i;
    return -1;
}

static gaitrt_model *zoo_model(zoo_state *z, const char *name) {
    if (z->cur && !strcmp(z->cur_name, name)) return z->cur;
    gaitrt_model_free(z->cur);
    z->cur = NULL;
    int i = zoo_find_model(z, name);
    CHECK_MSG(i >= 0, "manifest: no model line for %s", name);
    if (i < 0) return NULL;
    double t0 = zoo_now();
    z->cur = zoo_load(z->subdir, z->models[i].file, z->models[i].type, z->models[i].config);
    CHECK_MSG(z->cur != NULL, "%s: %s", name, gaitrt_last_error());
    if (z->cur) printf("loaded %s in %.2f s\n", name, zoo_now() - t0);
    snprintf(z->cur_name, sizeof z->cur_name, "%s", name);
    return z->cur;
}

static void zoo_info(zoo_state *z, const char *name, char *rest) {
    gaitrt_model *m = zoo_model(z, name);
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    printf("%s: %s %s; %d input(s); embedding %dx%d; params %lld (total %lld); MACs %.1f M/frame + %.2f M/sequence%s\n",
           name, info.type, info.variant, info.n_inputs, info.embed_channels, info.embed_parts, (long long)info.n_params,
           (long long)info.n_params_total, info.macs_per_frame / 1e6, info.macs_per_sequence / 1e6,
           info.temporal_mixing ? "; mixes frames" : "");
    for (char *tok = strtok(rest, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        if (!strcmp(k, "type")) {
            CHECK_MSG(!strcmp(info.type, v), "%s: type %s, expected %s", name, info.type, v);
        } else if (!strcmp(k, "params")) {
            CHECK_MSG(info.n_params == atoll(v), "%s: %lld parameters, the reference has %s", name, (long long)info.n_params, v);
        } else if (!strcmp(k, "total")) {
            CHECK_MSG(info.n_params_total == atoll(v), "%s: %lld tensors' elements, the reference has %s", name,
                      (long long)info.n_params_total, v);
        } else if (!strcmp(k, "macs")) {
            CHECK_MSG(fabs(info.macs_per_frame - atof(v)) <= 1.0, "%s: %.0f MACs per frame, the reference counts %s", name,
                      info.macs_per_frame, v);
        } else if (!strcmp(k, "seq_macs")) {
            CHECK_MSG(fabs(info.macs_per_sequence - atof(v)) <= 1.0, "%s: %.0f MACs per sequence, the reference counts %s",
                      name, info.macs_per_sequence, v);
        } else if (!strcmp(k, "embed")) {
            int c = 0, p = 0;
            sscanf(v, "%dx%d", &c, &p);
            CHECK_MSG(info.embed_channels == c && info.embed_parts == p, "%s: embedding %dx%d, expected %s", name,
                      info.embed_channels, info.embed_parts, v);
        } else if (!strcmp(k, "temporal")) {
            CHECK_MSG(info.temporal_mixing == atoi(v), "%s: temporal_mixing %d, expected %s", name, info.temporal_mixing, v);
        } else if (!strcmp(k, "inputs")) {
            CHECK_MSG(info.n_inputs == atoi(v), "%s: %d inputs, expected %s", name, info.n_inputs, v);
        } else if (!strcmp(k, "min_frames")) {
            CHECK_MSG(info.min_frames == atoi(v), "%s: min_frames %d, expected %s", name, info.min_frames, v);
        }
    }
}

#define ZOO_MAX_SEQ 8

/* Level 'f': the fused graph on the reference kernels, through the backend interface (the
 * balanced level runs the same graph on the fast backend). Packs the inputs as the session
 * does: one sequence per item for models that mix frames, all frames in one item otherwise. */
static gaitrt_status zoo_run_fused_ref(gaitrt_model *m, const gaitrt_sequence *seqs, int n, float *out) {
    const gaitrt_model_info *mi = &m->info;
    int tot = 0;
    for (int i = 0; i < n; i++) tot += seqs[i].n_frames;
    grt_batch_shape bs = {mi->temporal_mixing ? n : 1, mi->temporal_mixing ? seqs[0].n_frames : tot, n};
    grt_segment seg[ZOO_MAX_SEQ];
    float *in[GAITRT_MAX_INPUTS] = {0};
    for (int k = 0; k < mi->n_inputs; k++) {
        const gaitrt_model_input_desc *d = &mi->inputs[k];
        in[k] = calloc((size_t)bs.n * bs.t * d->channels * d->height * d->width, sizeof(float));
        int t0 = 0;
        for (int i = 0; i < n; i++) {
            const gaitrt_input *x = &seqs[i].inputs[k];
            const int b = mi->temporal_mixing ? i : 0, off = mi->temporal_mixing ? 0 : t0, T = seqs[i].n_frames;
            const int cut = (x->width - d->width) / 2;
            float div = 1.0f;
            if (x->dtype == GAITRT_DTYPE_U8) {
                div = d->divisor;
                if (div == 0.0f) {
                    int mx = 0;
                    for (size_t j = 0; j < (size_t)T * x->channels * x->height * x->width; j++)
                        mx = ((const uint8_t *)x->data)[j] > mx ? ((const uint8_t *)x->data)[j] : mx;
                    div = mx == 255 ? 255.0f : 1.0f;
                }
            }
            for (int f = 0; f < T; f++)
                for (int c = 0; c < d->channels; c++)
                    for (int h = 0; h < d->height; h++)
                        for (int w = 0; w < d->width; w++) {
                            size_t src = (((size_t)f * d->channels + c) * d->height + h) * x->width + w + cut;
                            float v = x->dtype == GAITRT_DTYPE_U8 ? ((const uint8_t *)x->data)[src] / div
                                                                  : ((const float *)x->data)[src];
                            in[k][((((size_t)b * d->channels + c) * bs.t + off + f) * d->height + h) * d->width + w] = v;
                        }
            seg[i] = (grt_segment){b, off, T};
            t0 += T;
        }
    }
    const grt_backend_i *bk = grt_backend_cpu_ref();
    grt_backend_opts o;
    memset(&o, 0, sizeof o);
    void *st = NULL, *pl = NULL;
    const grt_graph *fg = NULL;
    gaitrt_status rc = grt_model_graph(m, 1, &fg);
    if (rc == GAITRT_OK) rc = bk->prepare(fg, &o, &st);
    if (rc == GAITRT_OK) rc = bk->plan(st, &bs, &pl);
    if (rc == GAITRT_OK) {
        grt_run_args a = {(const float *const *)in, seg, out, NULL};
        rc = bk->run(pl, &a);
    }
    if (pl) bk->plan_release(pl);
    if (st) bk->release(st);
    for (int k = 0; k < GAITRT_MAX_INPUTS; k++) free(in[k]);
    return rc;
}

static void zoo_case(zoo_state *z, const char *name, const char *cas, const char *levels, const char *outf, char *seqspec) {
    gaitrt_model *m = zoo_model(z, name);
    if (!m) return;
    const char *dir = zoo_ref_dir(z->subdir);
    char path[1400];
    gaitrt_sequence seqs[ZOO_MAX_SEQ];
    gaitrt_array arrs[ZOO_MAX_SEQ][GAITRT_MAX_INPUTS];
    memset(seqs, 0, sizeof seqs);
    memset(arrs, 0, sizeof arrs);
    int n = 0, ok = 1;
    char *save = NULL;
    for (char *sq = strtok_r(seqspec, " \t\n", &save); sq && n < ZOO_MAX_SEQ; sq = strtok_r(NULL, " \t\n", &save), n++) {
        char *save2 = NULL;
        int k = 0;
        for (char *f = strtok_r(sq, ",", &save2); f && k < GAITRT_MAX_INPUTS; f = strtok_r(NULL, ",", &save2), k++) {
            char *colon = strrchr(f, ':');
            int raw = colon && colon[1] == 'r';
            if (colon) *colon = 0;
            snprintf(path, sizeof path, "%s/%s", dir, f);
            gaitrt_array *a = &arrs[n][k];
            if (gaitrt_array_load(path, a) != GAITRT_OK) {
                CHECK_MSG(0, "%s", gaitrt_last_error());
                ok = 0;
                continue;
            }
            int c = a->ndim == 4 ? (int)a->shape[1] : 1;
            seqs[n].n_frames = (int)a->shape[0];
            seqs[n].inputs[k] = (gaitrt_input){a->dtype, c, (int)a->shape[a->ndim - 2], (int)a->shape[a->ndim - 1], a->data,
                                               raw};
        }
    }
    gaitrt_array ref;
    memset(&ref, 0, sizeof ref);
    snprintf(path, sizeof path, "%s/%s", dir, outf);
    if (gaitrt_array_load(path, &ref) != GAITRT_OK) {
        CHECK_MSG(0, "%s", gaitrt_last_error());
        ok = 0;
    }
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    const size_t per = (size_t)info.embed_channels * info.embed_parts;
    if (ok) {
        CHECK_MSG(ref.shape[0] == n && (size_t)(ref.shape[1] * ref.shape[2]) == per, "%s %s: reference shape differs", name, cas);
        ok = ref.shape[0] == n && (size_t)(ref.shape[1] * ref.shape[2]) == per;
    }
    float *out = calloc((size_t)n * per + 1, sizeof(float));
    int mi = zoo_find_model(z, name);
#ifdef __SANITIZE_ADDRESS__
    int longest = 0;
    for (int i = 0; i < n; i++) longest = seqs[i].n_frames > longest ? seqs[i].n_frames : longest;
#endif
    for (const char *lv = levels; ok && *lv; lv++) {
        static const char *const lname[3] = {"conservative", "balanced    ", "fused-ref   "};
        const int li = *lv == 'c' ? 0 : *lv == 'b' ? 1 : 2;
#ifdef __SANITIZE_ADDRESS__
        /* under the sanitizers the reference kernels' long cases add time, not paths: the
         * 30-frame cases run them here, the Release pass runs every case */
        if (li == 0 && longest > 30) {
            printf("%-26s %-7s %s: left to the Release pass (sanitizers)\n", name, cas, lname[li]);
            continue;
        }
#endif
        gaitrt_session *s = NULL;
        double t0 = zoo_now();
        gaitrt_status st;
        if (li < 2) {
            gaitrt_session_params sp = gaitrt_session_default_params();
            sp.level = li == 0 ? GAITRT_LEVEL_CONSERVATIVE : GAITRT_LEVEL_BALANCED;
            s = gaitrt_session_create(m, &sp);
            CHECK_MSG(s != NULL, "%s", gaitrt_last_error());
            if (!s) continue;
            st = gaitrt_embed(s, seqs, n, out, (size_t)n * per);
        } else {
            st = zoo_run_fused_ref(m, seqs, n, out);
        }
        double dt = zoo_now() - t0;
        CHECK_MSG(st == GAITRT_OK, "%s %s level %c: %s", name, cas, *lv, gaitrt_last_error());
        if (st == GAITRT_OK) {
            double err = grt_rel_l2(out, ref.data, (size_t)n * per);
            const float *r = ref.data;
            printf("%-26s %-7s %s: rel L2 %.3g  (out %.6f %.6f %.6f ref %.6f %.6f %.6f) %.2f s\n", name, cas, lname[li], err,
                   out[0], out[1], out[2], r[0], r[1], r[2], dt);
            char rep[2048] = "";
            if (err > 1e-5 && s) gaitrt_session_report(s, rep, sizeof rep);
            CHECK_MSG(err <= 1e-5, "%s %s level %c: relative L2 error %.3g > 1e-5 (%s)", name, cas, *lv, err, rep);
            if (mi >= 0 && err > z->max_err[mi][li]) z->max_err[mi][li] = err;
        }
        gaitrt_session_free(s);
    }
    free(out);
    for (int i = 0; i < ZOO_MAX_SEQ; i++)
        for (int k = 0; k < GAITRT_MAX_INPUTS; k++)
            if (arrs[i][k].data) gaitrt_array_free(&arrs[i][k]);
    if (ref.data) gaitrt_array_free(&ref);
}

void zoo_run_manifest(const char *subdir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.txt", zoo_ref_dir(subdir));
    FILE *f = fopen(path, "r");
    if (!f) TEST_SKIP("no reference data in %s (PyTorch missing?)", zoo_ref_dir(subdir));
    static zoo_state z;
    memset(&z, 0, sizeof z);
    z.subdir = subdir;
    static char line[8192];
    double t0 = zoo_now();
    while (fgets(line, sizeof line, f)) {
        char kind[16] = "", name[96] = "";
        int used = 0;
        if (sscanf(line, "%15s %95s %n", kind, name, &used) < 2) continue;
        char *rest = line + used;
        if (!strcmp(kind, "model") && z.n_models < ZOO_MAX_MODELS) {
            zoo_model_line *ml = &z.models[z.n_models++];
            memset(ml, 0, sizeof *ml);
            snprintf(ml->name, sizeof ml->name, "%s", name);
            for (char *tok = strtok(rest, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
                if (!strncmp(tok, "config=", 7))
                    snprintf(ml->config, sizeof ml->config, "%s", tok + 7);
                else if (!strncmp(tok, "type=", 5))
                    snprintf(ml->type, sizeof ml->type, "%s", tok + 5);
                else
                    snprintf(ml->file, sizeof ml->file, "%s", tok);
            }
        } else if (!strcmp(kind, "info")) {
            zoo_info(&z, name, rest);
        } else if (!strcmp(kind, "case")) {
            char cas[32], levels[8], outf[160];
            int u2 = 0;
            if (sscanf(rest, "%31s %7s %159s %n", cas, levels, outf, &u2) == 3) zoo_case(&z, name, cas, levels, outf, rest + u2);
        }
    }
    fclose(f);
    gaitrt_model_free(z.cur);
    printf("\nmax relative L2 per model (conservative / balanced / fused graph on reference kernels), %.1f s:\n",
           zoo_now() - t0);
    for (int i = 0; i < z.n_models; i++)
        printf("  %-28s %.3g / %.3g / %.3g\n", z.models[i].name, z.max_err[i][0], z.max_err[i][1], z.max_err[i][2]);
}
