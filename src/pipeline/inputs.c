/* inputs.c — arrays and sequences from files for the public API: .npy and OpenGait .pkl
 * arrays, OpenGait sequence folders (one .pkl per modality, sorted by name, as OpenGait's
 * loader reads them), matched to the model's inputs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/pipeline.h"
#include "pipeline/raw_frames.h"

static grt_status grt__to_array(grt_tensor *t, gaitrt_array *out, const char *path) {
    memset(out, 0, sizeof *out);
    if (t->ndim > 8) return grt_error(GAITRT_ERR_INPUT, "%s: array of rank %d", path, t->ndim);
    int64_t n = grt_tensor_numel(t);
    out->ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) out->shape[i] = t->shape[i];
    if (t->dtype == GRT_U8 || t->dtype == GRT_BOOL) {
        out->dtype = GAITRT_DTYPE_U8;
        out->data = t->data; /* take ownership */
        t->data = NULL;
        return GRT_OK;
    }
    float *f = grt_malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!f) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory converting the array", path);
    const uint8_t *d = t->data;
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case GRT_F32: f[i] = ((const float *)d)[i]; break;
        case GRT_F64: f[i] = (float)((const double *)d)[i]; break;
        case GRT_F16: f[i] = grt_f16_to_f32(((const uint16_t *)d)[i]); break;
        case GRT_BF16: f[i] = grt_bf16_to_f32(((const uint16_t *)d)[i]); break;
        case GRT_I64: f[i] = (float)((const int64_t *)d)[i]; break;
        case GRT_I32: f[i] = (float)((const int32_t *)d)[i]; break;
        case GRT_I16: f[i] = (float)((const int16_t *)d)[i]; break;
        case GRT_I8: f[i] = (float)((const int8_t *)d)[i]; break;
        default:
            grt_free(f);
            return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: arrays of %s are not supported", path, grt_dtype_name(t->dtype));
        }
    }
    out->dtype = GAITRT_DTYPE_F32;
    out->data = f;
    return GRT_OK;
}

static int grt__ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

gaitrt_status gaitrt_array_load(const char *path, gaitrt_array *out) {
    if (!path || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_array_load: NULL argument");
    memset(out, 0, sizeof *out);
    grt_tensor t;
    memset(&t, 0, sizeof t);
    grt_status st = grt__ends_with(path, ".npy") ? grt_npy_read(path, &t) : grt_pkl_array_read(path, &t);
    if (st != GRT_OK) return st;
    st = grt__to_array(&t, out, path);
    grt_tensor_release(&t);
    return st;
}

/* Views a public array as an internal tensor (no copy). */
static grt_status grt__as_tensor(const gaitrt_array *a, grt_tensor *t) {
    memset(t, 0, sizeof *t);
    if (!a || a->ndim < 0 || a->ndim > 8) return grt_error(GAITRT_ERR_INVALID_ARG, "array: bad rank");
    t->dtype = a->dtype == GAITRT_DTYPE_U8 ? GRT_U8 : GRT_F32;
    t->src_dtype = t->dtype;
    t->ndim = a->ndim;
    size_t n = grt_dtype_size(t->dtype);
    for (int i = 0; i < a->ndim; i++) {
        t->shape[i] = a->shape[i];
        n *= (size_t)a->shape[i];
    }
    t->data = a->data;
    t->nbytes = n;
    return GRT_OK;
}

gaitrt_status gaitrt_array_save_pkl(const char *path, const gaitrt_array *a) {
    grt_tensor t;
    if (!path) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_array_save_pkl: NULL path");
    grt_status st = grt__as_tensor(a, &t);
    return st != GRT_OK ? st : grt_pkl_array_write(path, &t);
}

gaitrt_status gaitrt_array_save_npy(const char *path, const gaitrt_array *a) {
    if (!path || !a || a->ndim < 0 || a->ndim > 8) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_array_save_npy: bad argument");
    grt_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = a->dtype == GAITRT_DTYPE_U8 ? GRT_U8 : GRT_F32;
    t.src_dtype = t.dtype;
    t.ndim = a->ndim;
    size_t n = grt_dtype_size(t.dtype);
    for (int i = 0; i < a->ndim; i++) {
        t.shape[i] = a->shape[i];
        n *= (size_t)a->shape[i];
    }
    t.data = a->data;
    t.nbytes = n;
    return grt_npy_write(path, &t);
}

void gaitrt_array_free(gaitrt_array *a) {
    if (!a) return;
    grt_free(a->data);
    memset(a, 0, sizeof *a);
}

void gaitrt_sequence_data_free(gaitrt_sequence_data *d) {
    if (!d) return;
    for (int i = 0; i < GAITRT_MAX_INPUTS; i++) gaitrt_array_free(&d->arrays[i]);
    memset(d, 0, sizeof *d);
}

/* Fits array a to model input k: [T,H,W] (C = 1) or [T,C,H,W]. */
static grt_status grt__fit_input(const gaitrt_model *m, int k, const gaitrt_array *a, gaitrt_input *in, int *frames,
                                 const char *path) {
    const gaitrt_model_input_desc *d = &m->info.inputs[k];
    int C, H, W;
    if (a->ndim == 3) {
        C = 1;
        H = (int)a->shape[1];
        W = (int)a->shape[2];
    } else if (a->ndim == 4) {
        C = (int)a->shape[1];
        H = (int)a->shape[2];
        W = (int)a->shape[3];
    } else {
        char sh[96];
        return grt_error(GAITRT_ERR_INPUT, "%s: array %s is not a sequence [T,H,W] or [T,C,H,W] ---> HINT: the first axis is frames",
                         path, grt_shape_str(a->ndim, a->shape, sh, sizeof sh));
    }
    if (C != d->channels || H != d->height || (W != d->width && W != d->stored_width)) {
        char sh[96];
        return grt_error(GAITRT_ERR_INPUT, "%s: frames of %s do not fit the model's %s input (%d x %d x %d, or %d wide before cutting)",
                         path, grt_shape_str(a->ndim, a->shape, sh, sizeof sh), d->name, d->channels, d->height, d->width,
                         d->stored_width);
    }
    if (a->shape[0] <= 0) return grt_error(GAITRT_ERR_INPUT, "%s: the sequence has no frames", path);
    in->dtype = a->dtype;
    in->channels = C;
    in->height = H;
    in->width = W;
    in->data = a->data;
    in->raw = 1;
    *frames = (int)a->shape[0];
    return GRT_OK;
}

static int grt__cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

gaitrt_status gaitrt_sequence_load(const gaitrt_model *m, const char *path, const gaitrt_pretreat_params *pp,
                                   gaitrt_sequence_data *out) {
    if (!m || !path || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_sequence_load: NULL argument");
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) return grt_error(GAITRT_ERR_IO, "%s: no such file or folder", path);
    grt_status st = GRT_OK;
    if (!S_ISDIR(sb.st_mode)) {
        if (m->info.n_inputs != 1)
            return grt_error(GAITRT_ERR_INPUT, "%s: %s takes %d inputs per sequence ---> HINT: give a sequence folder with one .pkl "
                             "per modality", path, m->info.type, m->info.n_inputs);
        if ((st = gaitrt_array_load(path, &out->arrays[0])) != GRT_OK) return st;
        out->n_arrays = 1;
        st = grt__fit_input(m, 0, &out->arrays[0], &out->seq.inputs[0], &out->seq.n_frames, path);
        if (st != GRT_OK) gaitrt_sequence_data_free(out);
        return st;
    }
    /* a folder: .pkl files (OpenGait layout) or raw frames */
    DIR *dir = opendir(path);
    if (!dir) return grt_error(GAITRT_ERR_IO, "%s: cannot open the folder", path);
    char *names[64];
    int n = 0, n_img = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const char *nm = e->d_name;
        if (grt__ends_with(nm, ".png") || grt__ends_with(nm, ".jpg") || grt__ends_with(nm, ".jpeg")) n_img++;
        if (!grt__ends_with(nm, ".pkl")) continue;
        if (n == 64) {
            st = grt_error(GAITRT_ERR_LIMIT, "%s: more than 64 .pkl files in one sequence folder", path);
            break;
        }
        names[n] = grt_strdup(nm);
        if (!names[n]) {
            st = grt_error(GAITRT_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(dir);
    if (st == GRT_OK && n == 0 && n_img > 0) {
        /* raw frames: pretreat on the fly (64x64 aligned silhouettes) */
        const gaitrt_model_input_desc *d = &m->info.inputs[0];
        if (m->info.n_inputs != 1 || d->channels != 1)
            st = grt_error(GAITRT_ERR_INPUT, "%s: raw frames can feed only single-input silhouette models, not %s", path, m->info.type);
        else
            st = grt_pretreat_sequence_for_model(path, d->height, pp, &out->arrays[0], &out->n_dropped, out->note, sizeof out->note);
        if (st == GRT_OK) {
            out->n_arrays = 1;
            st = grt__fit_input(m, 0, &out->arrays[0], &out->seq.inputs[0], &out->seq.n_frames, path);
        }
        if (st != GRT_OK) gaitrt_sequence_data_free(out);
        return st;
    }
    if (st == GRT_OK && n != m->info.n_inputs)
        st = grt_error(GAITRT_ERR_INPUT, "%s: %d .pkl file%s but %s takes %d input%s per sequence ---> HINT: one .pkl per modality, "
                       "in OpenGait's sorted-name order", path, n, n == 1 ? "" : "s", m->info.type, m->info.n_inputs,
                       m->info.n_inputs == 1 ? "" : "s");
    if (st == GRT_OK) qsort(names, (size_t)n, sizeof names[0], grt__cmp_str);
    for (int k = 0; st == GRT_OK && k < n; k++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[k]);
        st = gaitrt_array_load(full, &out->arrays[k]);
        out->n_arrays = k + 1;
        int t = 0;
        if (st == GRT_OK) st = grt__fit_input(m, k, &out->arrays[k], &out->seq.inputs[k], &t, full);
        if (st == GRT_OK && k > 0 && t != out->seq.n_frames)
            st = grt_error(GAITRT_ERR_INPUT, "%s: %d frames, but %s has %d: every modality of a sequence needs the same frames", full,
                           t, names[0], out->seq.n_frames);
        out->seq.n_frames = t;
    }
    for (int k = 0; k < n; k++) grt_free(names[k]);
    if (st != GRT_OK) gaitrt_sequence_data_free(out);
    return st;
}
