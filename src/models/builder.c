/* builder.c — checked access to a state dict while a model family builds its graph:
 * every tensor is looked up by its OpenGait key, its shape checked, its use recorded, so the
 * final error can list every missing, misshapen and unexpected key at once. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/models.h"

static int grt__find_index(const grt_state_dict *sd, const char *key) {
    for (int i = 0; i < sd->n; i++)
        if (strcmp(sd->t[i].name, key) == 0) return i;
    return -1;
}

static void grt__problem(grt_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void grt__problem(grt_builder *b, const char *fmt, ...) {
    size_t k = strlen(b->problems);
    b->n_problems++;
    if (k + 8 >= sizeof b->problems) return;
    if (k) k += (size_t)snprintf(b->problems + k, sizeof b->problems - k, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->problems + k, sizeof b->problems - k, fmt, ap);
    va_end(ap);
}

grt_status grt_builder_init(grt_builder *b, const grt_state_dict *sd) {
    memset(b, 0, sizeof *b);
    b->sd = sd;
    b->used = grt_calloc((size_t)(sd->n ? sd->n : 1), 1);
    b->g = grt_graph_new();
    if (!b->used || !b->g) {
        grt_builder_free(b);
        return grt_error(GAITRT_ERR_NOMEM, "out of memory building the model");
    }
    return GRT_OK;
}

void grt_builder_free(grt_builder *b) {
    grt_free(b->used);
    grt_graph_free(b->g);
    b->used = NULL;
    b->g = NULL;
}

int grt_builder_has(const grt_builder *b, const char *key) { return grt__find_index(b->sd, key) >= 0; }

const grt_tensor *grt_builder_tensor(grt_builder *b, const char *key) {
    int i = grt__find_index(b->sd, key);
    if (i < 0) return NULL;
    b->used[i] = 1;
    return &b->sd->t[i];
}

int grt_builder_weight(grt_builder *b, const char *key, int ndim, const int64_t *shape) {
    if (b->st != GRT_OK) return -1;
    int i = grt__find_index(b->sd, key);
    if (i < 0) {
        grt__problem(b, "missing '%s'", key);
        return -1;
    }
    b->used[i] = 1;
    const grt_tensor *t = &b->sd->t[i];
    int ok = t->ndim == ndim && t->dtype == GRT_F32;
    for (int d = 0; ok && d < ndim; d++)
        if (shape[d] >= 0 && t->shape[d] != shape[d]) ok = 0;
    if (!ok) {
        char want[96], got[96];
        int64_t w[GRT_MAX_DIMS];
        for (int d = 0; d < ndim; d++) w[d] = shape[d];
        grt__problem(b, "'%s' has shape %s %s, expected %s", key, grt_shape_str(t->ndim, t->shape, got, sizeof got),
                     grt_dtype_name(t->dtype), grt_shape_str(ndim, w, want, sizeof want));
        return -1;
    }
    int v = grt_graph_const(b->g, key, t->ndim, t->shape, t->data);
    if (v < 0) b->st = GAITRT_ERR_NOMEM;
    return v;
}

int grt_builder_bn(grt_builder *b, const char *prefix, int x, int64_t c) {
    char k[4][160];
    static const char *sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    int v[4];
    for (int i = 0; i < 4; i++) {
        snprintf(k[i], sizeof k[i], "%s.%s", prefix, sfx[i]);
        v[i] = grt_builder_weight(b, k[i], 1, &c);
    }
    char nb[160];
    snprintf(nb, sizeof nb, "%s.num_batches_tracked", prefix);
    (void)grt_builder_tensor(b, nb);
    if (x < 0 || v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return -1;
    int out = grt_graph_batchnorm(b->g, prefix, x, v[0], v[1], v[2], v[3], 1e-5f);
    if (out < 0) b->st = GAITRT_ERR_NOMEM;
    return out;
}

int grt_builder_conv(grt_builder *b, const char *name, const char *key, int x, const int s[3], const int p[3],
                     int ndim, const int64_t *expect) {
    const grt_tensor *t = grt_builder_tensor(b, key);
    if (!t) {
        grt__problem(b, "missing '%s'", key);
        return -1;
    }
    int bad = expect && t->ndim != ndim;
    for (int d = 0; expect && !bad && d < ndim; d++)
        if (expect[d] >= 0 && t->shape[d] != expect[d]) bad = 1;
    if (bad) {
        char want[96], got[96];
        grt__problem(b, "'%s' has shape %s, expected %s", key, grt_shape_str(t->ndim, t->shape, got, sizeof got),
                     grt_shape_str(ndim, expect, want, sizeof want));
        return -1;
    }
    if (t->ndim != 4 && t->ndim != 5) {
        char got[96];
        grt__problem(b, "'%s' has shape %s, expected a 4-D or 5-D convolution weight", key,
                     grt_shape_str(t->ndim, t->shape, got, sizeof got));
        return -1;
    }
    int64_t shape5[5];
    if (t->ndim == 4) {
        shape5[0] = t->shape[0];
        shape5[1] = t->shape[1];
        shape5[2] = 1;
        shape5[3] = t->shape[2];
        shape5[4] = t->shape[3];
    } else {
        memcpy(shape5, t->shape, sizeof shape5);
    }
    if (x < 0 || b->st != GRT_OK) return -1;
    int w = grt_graph_const(b->g, key, 5, shape5, t->data);
    if (w < 0) {
        b->st = GAITRT_ERR_NOMEM;
        return -1;
    }
    int k[3] = {(int)shape5[2], (int)shape5[3], (int)shape5[4]};
    int out = grt_graph_conv(b->g, name, x, w, -1, k, s, p, 1);
    if (out < 0) b->st = GAITRT_ERR_NOMEM;
    return out;
}

static int grt__has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

grt_status grt_builder_finish(grt_builder *b, int strict, const char *const *ignore) {
    if (b->st != GRT_OK) return grt_error(b->st, "%s: out of memory building the model", b->sd->path ? b->sd->path : "");
    if (strict) {
        for (int i = 0; i < b->sd->n; i++) {
            if (b->used[i]) continue;
            const char *k = b->sd->t[i].name;
            int ign = 0;
            for (int j = 0; ignore && ignore[j]; j++)
                if (grt__has_prefix(k, ignore[j])) ign = 1;
            if (!ign) grt__problem(b, "unexpected '%s'", k);
        }
    }
    if (b->n_problems)
        return grt_error(GAITRT_ERR_MODEL,
                         "%s: the checkpoint does not fit the architecture (%d problem%s): %s ---> HINT: check --model-type / "
                         "--config, or that this checkpoint was saved by OpenGait",
                         b->sd->path ? b->sd->path : "checkpoint", b->n_problems, b->n_problems > 1 ? "s" : "",
                         b->problems);
    return GRT_OK;
}

grt_status grt_builder_complete(grt_builder *b, int output, int strict, const char *const *ignore, const char *type,
                                grt_built_model *out) {
    grt_status st = grt_builder_finish(b, strict && !out->lenient, ignore);
    if (st == GRT_OK && output < 0)
        st = grt_error_prefix(gaitrt_last_status() ? gaitrt_last_status() : GAITRT_ERR_INTERNAL, "%s: building %s failed: ",
                              b->sd->path ? b->sd->path : "checkpoint", type);
    if (st != GRT_OK) {
        grt_builder_free(b);
        return st;
    }
    grt_graph_set_output(b->g, output);
    memset(&out->info, 0, sizeof out->info);
    snprintf(out->info.type, sizeof out->info.type, "%s", type);
    out->info.temporal_mixing = b->g->temporal_mixing;
    out->info.pad_batching = grt_graph_pad_safe(b->g);
    out->info.min_frames = 1;
    out->graph = b->g;
    b->g = NULL;
    grt_builder_free(b);
    return GRT_OK;
}

int grt_builder_count_blocks(const grt_state_dict *sd, const char *prefix) {
    size_t pl = strlen(prefix);
    int maxi = -1;
    for (int i = 0; i < sd->n; i++) {
        const char *k = sd->t[i].name;
        if (strncmp(k, prefix, pl) != 0) continue;
        const char *q = k + pl;
        if (*q < '0' || *q > '9') continue;
        int v = 0;
        while (*q >= '0' && *q <= '9' && v < 100000) v = v * 10 + (*q++ - '0');
        if (*q == '.' && v > maxi) maxi = v;
    }
    return maxi + 1;
}

grt_state_dict *grt_sd_new(const char *name) {
    grt_state_dict *sd = grt_calloc(1, sizeof *sd);
    if (!sd) return NULL;
    sd->path = grt_strdup(name);
    snprintf(sd->format, sizeof sd->format, "random");
    if (!sd->path) {
        grt_free(sd);
        return NULL;
    }
    return sd;
}

static grt_tensor *grt__sd_push(grt_state_dict *sd, const char *key, grt_dtype dt, int ndim, const int64_t *shape) {
    grt_tensor *t = grt_realloc(sd->t, (size_t)(sd->n + 1) * sizeof *t);
    if (!t) return NULL;
    sd->t = t;
    grt_tensor *x = &sd->t[sd->n];
    memset(x, 0, sizeof *x);
    if (grt_tensor_alloc(x, dt, ndim, shape) != GRT_OK) return NULL;
    x->name = grt_strdup(key);
    if (!x->name) {
        grt_tensor_release(x);
        return NULL;
    }
    sd->n++;
    return x;
}

grt_status grt_sd_add_random(grt_state_dict *sd, const char *key, int ndim, const int64_t *shape, grt_rng *rng,
                             float std) {
    grt_tensor *t = grt__sd_push(sd, key, GRT_F32, ndim, shape);
    if (!t) return grt_error(GAITRT_ERR_NOMEM, "out of memory making random weights");
    float *d = t->data;
    int64_t n = grt_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) d[i] = grt_rng_normal(rng) * std;
    return GRT_OK;
}

grt_status grt_sd_add_random_bn(grt_state_dict *sd, const char *prefix, int64_t c, grt_rng *rng) {
    static const char *sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    char key[160];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "%s.%s", prefix, sfx[i]);
        grt_tensor *t = grt__sd_push(sd, key, GRT_F32, 1, &c);
        if (!t) return grt_error(GAITRT_ERR_NOMEM, "out of memory making random weights");
        float *d = t->data;
        for (int64_t j = 0; j < c; j++) {
            float u = grt_rng_uniform(rng);
            d[j] = i == 0 ? 0.5f + u : i == 1 ? 0.2f * (u - 0.5f) : i == 2 ? 0.2f * (u - 0.5f) : 0.5f + u;
        }
    }
    snprintf(key, sizeof key, "%s.num_batches_tracked", prefix);
    int64_t none[1] = {0};
    grt_tensor *t = grt__sd_push(sd, key, GRT_I64, 0, none);
    if (!t) return grt_error(GAITRT_ERR_NOMEM, "out of memory making random weights");
    return GRT_OK;
}

grt_status grt_model_fill_costs(const grt_graph *g, const grt_state_dict *sd, gaitrt_model_info *info) {
    /* MACs per frame = conv MACs at T = 2 minus T = 1 (temporal padding makes T = 1 cheaper
     * for kt = 3 convs, so we take the per-frame increment at a steady length), per sequence = the rest. */
    grt_batch_shape b1 = {1, 8, 1}, b2 = {1, 9, 1};
    grt_plan *p1 = NULL, *p2 = NULL;
    grt_status st = grt_plan_create(g, &b1, &p1);
    if (st == GRT_OK) st = grt_plan_create(g, &b2, &p2);
    if (st == GRT_OK) {
        double f1 = p1->total_flops / 2, f2 = p2->total_flops / 2, conv1 = 0, conv2 = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == GRT_OP_CONV) {
                conv1 += p1->node_flops[i] / 2;
                conv2 += p2->node_flops[i] / 2;
            }
        info->macs_per_frame = conv2 - conv1;
        double seq = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == GRT_OP_SEPFC) seq += p1->node_flops[i] / 2;
        info->macs_per_sequence = seq;
        (void)f1;
        (void)f2;
    }
    grt_plan_free(p1);
    grt_plan_free(p2);
    info->n_params = grt_graph_param_count(g);
    int64_t total = 0;
    for (int i = 0; sd && i < sd->n; i++) {
        const char *k = sd->t[i].name;
        if (strstr(k, "running_") || strstr(k, "num_batches_tracked")) continue;
        total += grt_tensor_numel(&sd->t[i]);
    }
    info->n_params_total = total;
    return st;
}
