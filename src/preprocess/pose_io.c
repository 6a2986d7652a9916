/*
 * pose_io.c — 2-D keypoint sequences from files, for the skeleton maps.
 *
 *   .pkl   a pickled numpy array (what OpenGait's pretreatment.py --pose writes), via io.h
 *   .npy   a numpy array, via io.h
 *   .json  our layout: {"frames": [{"keypoints": [[x, y, score], ...]}, ...]}
 *          - "keypoints" may also be flat: [x0, y0, s0, x1, y1, s1, ...] (OpenPose style);
 *          - an empty list (or a missing "keypoints") is a frame where nobody was detected:
 *            every joint is (0, 0, 0), which the filling step treats as missing;
 *          - a bare top-level array of frames is accepted too.
 * Arrays may be [T, V, 3] or [T, V * 3] with V = 17 (COCO) or 18 (OpenPose COCO-18). float32
 * and float64 are kept as they are (the map arithmetic depends on it); integer arrays are read
 * as float64.
 *
 * Not here: GREW's raw 53-number rows (two leading fields) — drop those columns first.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "io/io.h"
#include "preprocess.h"

#ifdef GAITRT_HAVE_CJSON
#include <cjson/cJSON.h>
#endif

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcasecmp(s + n - k, suf);
}

static grt_status from_tensor(const char *path, grt_tensor *t, grt_pose *out) {
    int64_t T, V;
    if (t->ndim == 3 && t->shape[2] == 3) {
        T = t->shape[0];
        V = t->shape[1];
    } else if (t->ndim == 2 && t->shape[1] % 3 == 0) {
        T = t->shape[0];
        V = t->shape[1] / 3;
    } else {
        char sh[96];
        grt_shape_str(t->ndim, t->shape, sh, sizeof sh);
        return grt_error(GAITRT_ERR_INPUT, "%s: keypoints of shape %s, expected [T, V, 3] or [T, V*3] ---> HINT: (x, y, score) per joint", path,
                         sh);
    }
    if (V != 17 && V != 18)
        return grt_error(GAITRT_ERR_INPUT, "%s: %lld joints per frame, expected 17 (COCO) or 18 (OpenPose COCO-18)", path, (long long)V);
    if (T > (1 << 24)) return grt_error(GAITRT_ERR_LIMIT, "%s: %lld frames", path, (long long)T);
    size_t n = (size_t)T * (size_t)V * 3;
    out->n_frames = (int)T;
    out->n_joints = (int)V;
    if (t->dtype == GRT_F32 || t->dtype == GRT_F64) {
        out->f64 = t->dtype == GRT_F64;
        out->data = t->data; /* take ownership */
        t->data = NULL;
        return GRT_OK;
    }
    double *d = grt_malloc((n ? n : 1) * sizeof(double));
    if (!d) return grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case GRT_I64: d[i] = (double)((const int64_t *)t->data)[i]; break;
        case GRT_I32: d[i] = (double)((const int32_t *)t->data)[i]; break;
        case GRT_I16: d[i] = (double)((const int16_t *)t->data)[i]; break;
        case GRT_U8: d[i] = (double)((const uint8_t *)t->data)[i]; break;
        case GRT_F16: d[i] = (double)grt_f16_to_f32(((const uint16_t *)t->data)[i]); break;
        default:
            grt_free(d);
            return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: keypoints of dtype %s", path, grt_dtype_name(t->dtype));
        }
    }
    out->f64 = 1;
    out->data = d;
    return GRT_OK;
}

#ifdef GAITRT_HAVE_CJSON
static grt_status from_json(const char *path, const char *text, size_t len, grt_pose *out) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return grt_error(GAITRT_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", path, (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
    grt_status st = GRT_OK;
    double *d = NULL;
    const cJSON *frames = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "frames");
    if (!cJSON_IsArray(frames)) {
        st = grt_error(GAITRT_ERR_FORMAT, "%s: no \"frames\" array ---> HINT: {\"frames\": [{\"keypoints\": [[x, y, score], ...]}, ...]}", path);
        goto done;
    }
    int T = cJSON_GetArraySize(frames), V = 0;
    /* the joint count: from the first frame that has keypoints */
    const cJSON *fr;
    cJSON_ArrayForEach(fr, frames) {
        const cJSON *kp = cJSON_IsArray(fr) ? fr : cJSON_GetObjectItemCaseSensitive(fr, "keypoints");
        int n = cJSON_IsArray(kp) ? cJSON_GetArraySize(kp) : 0;
        if (!n) continue;
        V = cJSON_IsArray(cJSON_GetArrayItem(kp, 0)) ? n : n / 3;
        break;
    }
    if (V == 0) V = 17;
    if (V != 17 && V != 18) {
        st = grt_error(GAITRT_ERR_INPUT, "%s: %d joints per frame, expected 17 (COCO) or 18 (OpenPose COCO-18)", path, V);
        goto done;
    }
    d = grt_calloc((size_t)(T ? T : 1) * V * 3, sizeof(double));
    if (!d) {
        st = grt_error(GAITRT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    int t = 0;
    cJSON_ArrayForEach(fr, frames) {
        const cJSON *kp = cJSON_IsArray(fr) ? fr : cJSON_GetObjectItemCaseSensitive(fr, "keypoints");
        int n = cJSON_IsArray(kp) ? cJSON_GetArraySize(kp) : 0;
        if (n) {
            int nested = cJSON_IsArray(cJSON_GetArrayItem(kp, 0));
            if ((nested && n != V) || (!nested && n != 3 * V)) {
                st = grt_error(GAITRT_ERR_INPUT, "%s: frame %d has %d keypoint values, the first frame has %d joints", path, t, n, V);
                goto done;
            }
            for (int j = 0; j < V; j++) {
                for (int q = 0; q < 3; q++) {
                    const cJSON *v = nested ? cJSON_GetArrayItem(cJSON_GetArrayItem(kp, j), q) : cJSON_GetArrayItem(kp, 3 * j + q);
                    if (!cJSON_IsNumber(v)) {
                        st = grt_error(GAITRT_ERR_INPUT, "%s: frame %d joint %d: expected [x, y, score] numbers", path, t, j);
                        goto done;
                    }
                    d[((size_t)t * V + j) * 3 + q] = v->valuedouble;
                }
            }
        }
        t++;
    }
    out->n_frames = T;
    out->n_joints = V;
    out->f64 = 1;
    out->data = d;
    d = NULL;
done:
    grt_free(d);
    cJSON_Delete(root);
    return st;
}
#endif

grt_status grt_pose_load(const char *path, grt_pose *out) {
    if (!path || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "pose: NULL argument");
    memset(out, 0, sizeof *out);
    if (ends_with(path, ".json")) {
#ifdef GAITRT_HAVE_CJSON
        grt_buf b = {0};
        size_t len;
        grt_status st = grt_pre_read_file(path, (size_t)1 << 30, &b, &len);
        if (!st) st = from_json(path, b.p, len, out);
        grt_buf_release(&b);
        return st;
#else
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: JSON support is not built in ---> HINT: install libcjson-dev and rebuild", path);
#endif
    }
    grt_tensor t;
    memset(&t, 0, sizeof t);
    grt_status st;
    if (ends_with(path, ".npy"))
        st = grt_npy_read(path, &t);
    else if (ends_with(path, ".pkl") || ends_with(path, ".pickle"))
        st = grt_pkl_array_read(path, &t);
    else
        return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: keypoint files must be .pkl, .npy or .json", path);
    if (st) return st;
    st = from_tensor(path, &t, out);
    grt_tensor_release(&t);
    return st;
}
