/* wpack.c — packing a graph's constants into the one weight blob the CUDA backend uploads
 * per model: convolution weights reordered to (Co, kt, kh, kw, Ci/g) — cuDNN's NHWC/NDHWC
 * filter layout, which our direct kernel reads too — in the compute type; biases and
 * BatchNorm vectors as float32 (plus the bias in the compute type for cuDNN's fused call);
 * separate-FC weights as float32 with their columns normalised once here rather than per run.
 *
 * What this file is not: a quantiser. Narrowing to float16/bfloat16 rounds to nearest even,
 * exactly as the device does; nothing is calibrated. */
#include <math.h>
#include <string.h>

#include "backends/cuda/cu_prog.h"

#define GRT_WP_ALIGN 256

static int64_t grt__numel(const grt_value *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

static int64_t grt__take(size_t *off, int64_t bytes) {
    int64_t at = (int64_t)*off;
    *off += (size_t)((bytes + GRT_WP_ALIGN - 1) / GRT_WP_ALIGN * GRT_WP_ALIGN);
    return at;
}

void grt_cu_wpack_free(grt_cu_wpack *wp) {
    if (!wp) return;
    grt_free(wp->conv_w);
    grt_free(wp->f32);
    grt_free(wp->bias_c);
    grt_free(wp->fc_w);
    grt_free(wp->fc_norm);
    memset(wp, 0, sizeof *wp);
}

grt_status grt_cu_wpack_plan(const grt_graph *g, int cdt, grt_cu_wpack *wp) {
    memset(wp, 0, sizeof *wp);
    const int nv = g->n_values ? g->n_values : 1;
    wp->n_values = g->n_values;
    wp->cdt = cdt;
    wp->conv_w = grt_malloc((size_t)nv * sizeof(int64_t));
    wp->f32 = grt_malloc((size_t)nv * sizeof(int64_t));
    wp->bias_c = grt_malloc((size_t)nv * sizeof(int64_t));
    wp->fc_w = grt_malloc((size_t)nv * sizeof(int64_t));
    wp->fc_norm = grt_calloc((size_t)nv, 1);
    if (!wp->conv_w || !wp->f32 || !wp->bias_c || !wp->fc_w || !wp->fc_norm) {
        grt_cu_wpack_free(wp);
        return grt_error(GAITRT_ERR_NOMEM, "out of memory packing weights for CUDA");
    }
    for (int v = 0; v < g->n_values; v++) wp->conv_w[v] = wp->f32[v] = wp->bias_c[v] = wp->fc_w[v] = -1;
    size_t off = 0;
    const int64_t csz = (int64_t)grt_cu_dt_size(cdt);
    for (int i = 0; i < g->n_nodes; i++) {
        const grt_node *n = &g->nodes[i];
        switch (n->op) {
        case GRT_OP_CONV: {
            const grt_conv_attr *a = &n->a.conv;
            const grt_value *w = &g->values[a->weight];
            if (!w->is_const || w->ndim != 5)
                return grt_cu_wpack_free(wp), grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: conv '%s' needs a constant 5-D weight", n->name);
            if (wp->conv_w[a->weight] < 0) wp->conv_w[a->weight] = grt__take(&off, grt__numel(w) * csz);
            if (a->bias >= 0) {
                const grt_value *b = &g->values[a->bias];
                if (wp->f32[a->bias] < 0) wp->f32[a->bias] = grt__take(&off, grt__numel(b) * 4);
                if (wp->bias_c[a->bias] < 0)
                    wp->bias_c[a->bias] = cdt == GRT_CU_F32 ? wp->f32[a->bias] : grt__take(&off, grt__numel(b) * csz);
            }
            break;
        }
        case GRT_OP_BATCHNORM:
            if (wp->f32[n->a.bn.scale] < 0) wp->f32[n->a.bn.scale] = grt__take(&off, grt__numel(&g->values[n->a.bn.scale]) * 4);
            if (wp->f32[n->a.bn.shift] < 0) wp->f32[n->a.bn.shift] = grt__take(&off, grt__numel(&g->values[n->a.bn.shift]) * 4);
            break;
        case GRT_OP_SEPFC: {
            const int w = n->a.sepfc.weight;
            if (g->values[w].ndim != 3)
                return grt_cu_wpack_free(wp), grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: sepfc '%s' needs a (P, C, Co) weight", n->name);
            if (wp->fc_w[w] < 0) {
                wp->fc_w[w] = grt__take(&off, grt__numel(&g->values[w]) * 4);
                wp->fc_norm[w] = (char)(n->a.sepfc.normalize_weight != 0);
            } else if (wp->fc_norm[w] != (char)(n->a.sepfc.normalize_weight != 0)) {
                return grt_cu_wpack_free(wp), grt_error(GAITRT_ERR_UNSUPPORTED, "CUDA backend: weight of sepfc '%s' is shared "
                                                        "with and without column normalisation", n->name);
            }
            break;
        }
        default:
            break;
        }
    }
    wp->bytes = off;
    return GRT_OK;
}

int grt_cu_wpack_holds(const grt_cu_wpack *wp, int v) {
    return v >= 0 && v < wp->n_values && (wp->conv_w[v] >= 0 || wp->f32[v] >= 0 || wp->bias_c[v] >= 0 || wp->fc_w[v] >= 0);
}

grt_status grt_cu_wpack_fill(const grt_graph *g, const grt_cu_wpack *wp, void *blob) {
    char *base = blob;
    memset(blob, 0, wp->bytes);
    for (int v = 0; v < wp->n_values; v++) {
        const grt_value *val = &g->values[v];
        if (!val->is_const) continue;
        if (!val->data) {
            if (grt_cu_wpack_holds(wp, v))
                return grt_error(GAITRT_ERR_INTERNAL, "CUDA weights: constant %d (%s) has no data to upload", v,
                                 val->key[0] ? val->key : "derived");
            continue;
        }
        const int64_t n = grt__numel(val);
        if (wp->conv_w[v] >= 0) {
            /* (Co, cig, kt, kh, kw) -> (Co, kt, kh, kw, cig) */
            const int64_t co = val->shape[0], cig = val->shape[1], kv = val->shape[2] * val->shape[3] * val->shape[4];
            void *dst = base + wp->conv_w[v];
            for (int64_t o = 0; o < co; o++)
                for (int64_t c = 0; c < cig; c++)
                    for (int64_t k = 0; k < kv; k++)
                        grt_cu_st(dst, (o * kv + k) * cig + c, wp->cdt, val->data[(o * cig + c) * kv + k]);
        }
        if (wp->f32[v] >= 0) memcpy(base + wp->f32[v], val->data, (size_t)n * sizeof(float));
        if (wp->bias_c[v] >= 0 && wp->bias_c[v] != wp->f32[v])
            for (int64_t i = 0; i < n; i++) grt_cu_st(base + wp->bias_c[v], i, wp->cdt, val->data[i]);
        if (wp->fc_w[v] >= 0) {
            float *dst = (float *)(base + wp->fc_w[v]);
            memcpy(dst, val->data, (size_t)n * sizeof(float));
            if (wp->fc_norm[v]) {
                /* as the reference: inv = 1 / max(||w[p, :, o]||, 1e-12) in double, applied in float */
                const int64_t P = val->shape[0], C = val->shape[1], Co = val->shape[2];
                for (int64_t p = 0; p < P; p++)
                    for (int64_t o = 0; o < Co; o++) {
                        float *col = dst + p * C * Co + o;
                        double ss = 0;
                        for (int64_t c = 0; c < C; c++) ss += (double)col[c * Co] * col[c * Co];
                        const double nrm = sqrt(ss);
                        const float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
                        for (int64_t c = 0; c < C; c++) col[c * Co] = col[c * Co] * inv;
                    }
            }
        }
    }
    return GRT_OK;
}
