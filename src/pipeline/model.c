/* model.c — gaitrt_model: loads a checkpoint, picks the model family, builds the graph and
 * its fused twin, and keeps backend states (prepared weights) shared by every session. */
#include <stdio.h>
#include <string.h>

#include "pipeline/pipeline.h"

gaitrt_model_params gaitrt_model_default_params(void) {
    gaitrt_model_params p;
    memset(&p, 0, sizeof p);
    p.strict = 1;
    return p;
}

/* Builds the unfused graph of family `fam` from sd (and the config at config_path, if any). */
static grt_status grt__model_build(const grt_model_family *fam, const grt_state_dict *sd, const char *config_path,
                                   int lenient, grt_built_model *bm) {
    grt_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (config_path && *config_path) {
        grt_status st = grt_config_load(config_path, &cfg);
        if (st != GRT_OK) return st;
    }
    memset(bm, 0, sizeof *bm);
    bm->lenient = lenient;
    grt_status st = fam->build(sd, cfg.have ? &cfg : NULL, bm);
    if (st != GRT_OK) {
        /* A family may fail after handing over its graph (e.g. counting costs runs out of
         * memory); bm was zeroed, so this frees exactly what it gave us. */
        grt_graph_free(bm->graph);
        bm->graph = NULL;
    }
    return st;
}

/* Checksum of a graph's constants (shapes and bits), 64-bit words through a multiply-xorshift
 * mix: enough to tell that weights read again are the ones built from the first time. */
static uint64_t grt__consts_sum(const grt_graph *g) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < g->n_values; i++) {
        const grt_value *v = &g->values[i];
        if (!v->is_const || !v->data) continue; /* (the fused graph has dropped what no node reads) */
        size_t n = 1;
        for (int d = 0; d < v->ndim; d++) {
            n *= (size_t)v->shape[d];
            h = (h ^ (uint64_t)v->shape[d]) * 0xff51afd7ed558ccdull;
        }
        const uint8_t *b = (const uint8_t *)v->data;
        size_t bytes = n * sizeof(float), k = 0;
        for (; k + 8 <= bytes; k += 8) {
            uint64_t w;
            memcpy(&w, b + k, 8);
            h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
            h ^= h >> 29;
        }
        for (; k < bytes; k++) h = (h ^ b[k]) * 0x100000001b3ull;
    }
    return h;
}

/* Builds the model from sd, which it frees as soon as the graph holds the weights (so that
 * loading holds at most two copies of them: the checkpoint's and the graph's, then the graph's
 * and the fused graph's). path names the source (it may be sd->path). */
static gaitrt_model *grt__model_from_sd(grt_state_dict *sd, const gaitrt_model_params *p, const char *path,
                                        const char *random_variant, uint64_t random_seed, int is_random) {
    const grt_model_family *fam = NULL;
    const char *config = p && p->config_path ? p->config_path : "";
    const int lenient = p && !p->strict;
    gaitrt_model *m = grt_calloc(1, sizeof *m);
    char *path_c = grt_strdup(path ? path : ""), *config_c = grt_strdup(config);
    char *variant_c = grt_strdup(random_variant ? random_variant : "");
    grt_built_model bm;
    memset(&bm, 0, sizeof bm);
    grt_graph *fused = NULL;
    if (!m || !path_c || !config_c || !variant_c) {
        grt_error(GAITRT_ERR_NOMEM, "%s: out of memory building the model", path);
        goto fail;
    }
    if (p && p->model_type && *p->model_type) {
        fam = grt_model_family_find(p->model_type);
        if (!fam) {
            grt_error(GAITRT_ERR_INVALID_ARG, "%s: unknown model type '%s' ---> HINT: the model types are %s", path,
                      p->model_type, grt_model_family_names());
            goto fail;
        }
    } else if (grt_model_detect(sd, &fam) != GRT_OK) {
        goto fail;
    }
    if (grt__model_build(fam, sd, config, lenient, &bm) != GRT_OK) goto fail;
    grt_state_dict_free(sd);
    sd = NULL;
    grt_mem_trim();
    /* The unfused graph's weights are released after fusion (only the conservative level reads
     * them, and it reads them again from the source): fusion takes them over instead of copying */
    const int keep = p && p->keep_reference_weights;
    const uint64_t ref_sum = keep ? 0 : grt__consts_sum(bm.graph);
    fused = keep ? grt_graph_fuse(bm.graph) : grt_graph_fuse_move(bm.graph);
    if (!fused) {
        grt_error(GAITRT_ERR_NOMEM, "%s: out of memory building the model", path_c);
        goto fail;
    }
    m->path = path_c;
    m->ref.config = config_c;
    m->ref.variant = variant_c;
    m->family = fam;
    m->graph = bm.graph;
    m->fused = fused;
    m->info = bm.info;
    m->ref.lenient = lenient;
    m->ref.random = is_random;
    m->ref.seed = random_seed;
    if (!keep) {
        m->ref.sum = ref_sum; /* (fusion took the unfused graph's weights: they count as released) */
        m->ref.released = 1;
        grt_mem_trim();
    } else {
        m->ref.fused_state = 2;
    }
    pthread_mutex_init(&m->mu, NULL);
    return m;
fail:
    grt_state_dict_free(sd);
    grt_graph_free(bm.graph);
    grt_free(m);
    grt_free(path_c);
    grt_free(config_c);
    grt_free(variant_c);
    return NULL;
}

/* Reads released weights again (m->mu held): the same source, the same build (and fusion,
 * for the fused graph's), the same checksum, or an error that names the file. */
static grt_status grt__model_reload(gaitrt_model *m, int fused) {
    if (fused ? m->ref.fused_state != 1 : !m->ref.released) return GRT_OK;
    const char *level = fused ? "a new device or level" : "the conservative level";
    grt_state_dict *sd = NULL;
    grt_status st = m->ref.random ? m->family->random(m->ref.variant[0] ? m->ref.variant : NULL, m->ref.seed, &sd)
                                  : grt_state_dict_load(m->path, &sd);
    if (st != GRT_OK) return grt_error_prefix(st, "%s reads the model's weights again: ", level);
    grt_built_model bm;
    st = grt__model_build(m->family, sd, m->ref.config, m->ref.lenient, &bm);
    grt_state_dict_free(sd);
    if (st != GRT_OK) return grt_error_prefix(st, "%s: rebuilding the model's graph for %s: ", m->path, level);
    grt_graph *g = bm.graph;
    if (fused) {
        g = grt_graph_fuse_move(bm.graph);
        grt_graph_free(bm.graph);
        if (!g) return grt_error_prefix(GAITRT_ERR_NOMEM, "%s: fusing the model's graph again for %s: ", m->path, level);
    }
    grt_graph *mine = fused ? m->fused : m->graph;
    int same = g->n_values == mine->n_values && grt__consts_sum(g) == (fused ? m->ref.fused_sum : m->ref.sum);
    for (int i = 0; same && i < mine->n_values; i++) {
        const grt_value *a = &mine->values[i], *b = &g->values[i];
        same = a->is_const == b->is_const && a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof a->shape[0] * (size_t)a->ndim);
    }
    if (!same) {
        grt_graph_free(g);
        return grt_error(GAITRT_ERR_MODEL,
                         "%s: the checkpoint's weights are not the ones loaded (the file changed since); %s reads "
                         "released weights from it again ---> HINT: load the model again, or load it with "
                         "keep_reference_weights = 1 to keep them in memory",
                         m->path, level);
    }
    for (int i = 0; i < mine->n_values; i++)
        if (mine->values[i].is_const && (fused ? m->ref.fused_released[i] : 1) && g->values[i].data) {
            grt_free_aligned(mine->values[i].data);
            mine->values[i].data = g->values[i].data;
            g->values[i].data = NULL;
        }
    grt_graph_free(g);
    grt_mem_trim();
    if (fused)
        m->ref.fused_state = 2;
    else
        m->ref.released = 0;
    return GRT_OK;
}

/* After the first state prepared on the fused graph (m->mu held): the constants it owns a
 * copy of are released from the graph, when it is the only fused state so far. */
static void grt__model_release_owned(gaitrt_model *m, const grt_backend_i *bk, void *state) {
    if (m->ref.fused_state != 0 || !bk->owns_constant) return;
    for (int i = 0; i < m->n_prepared; i++)
        if (m->prepared[i].fused) return;
    grt_graph *g = m->fused;
    char *rel = grt_calloc((size_t)g->n_values + 1, 1);
    if (!rel) return; /* keeping them is correct, only larger */
    int any = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_const && g->values[v].data && v != g->output && bk->owns_constant(state, v)) rel[v] = 1, any = 1;
    if (!any) {
        grt_free(rel);
        return;
    }
    m->ref.fused_sum = grt__consts_sum(g);
    for (int v = 0; v < g->n_values; v++)
        if (rel[v]) {
            grt_free_aligned(g->values[v].data);
            g->values[v].data = NULL;
        }
    m->ref.fused_released = rel;
    m->ref.fused_state = 1;
    grt_mem_trim();
}

gaitrt_model *gaitrt_model_load(const char *path, const gaitrt_model_params *p) {
    if (!path) {
        grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_model_load: path is NULL");
        return NULL;
    }
    grt_state_dict *sd = NULL;
    if (grt_state_dict_load(path, &sd) != GRT_OK) return NULL;
    return grt__model_from_sd(sd, p, path, NULL, 0, 0);
}

/* The family and variant named by "Family" or "Family:variant". */
static const grt_model_family *grt__family_variant(const char *model_type, const char **variant) {
    const grt_model_family *fam = model_type ? grt_model_family_find(model_type) : NULL;
    *variant = NULL;
    if (!fam) {
        /* variants are spelled "Family:variant" */
        char base[64];
        snprintf(base, sizeof base, "%s", model_type ? model_type : "");
        char *colon = strchr(base, ':');
        if (colon) *colon = 0;
        fam = grt_model_family_find(base);
        if (!fam || !fam->random) {
            grt_error(GAITRT_ERR_INVALID_ARG, "unknown model type '%s' ---> HINT: the model types are %s (DeepGaitV2 "
                      "takes a variant: DeepGaitV2:p3d-1441, DeepGaitV2:3d-1111-w16)", model_type ? model_type : "(null)",
                      grt_model_family_names());
            return NULL;
        }
    }
    const char *colon = model_type ? strchr(model_type, ':') : NULL;
    *variant = colon ? colon + 1 : NULL;
    return fam;
}

gaitrt_model *gaitrt_model_create_random(const char *model_type, uint64_t seed) {
    const char *variant;
    const grt_model_family *fam = grt__family_variant(model_type, &variant);
    if (!fam) return NULL;
    grt_state_dict *sd = NULL;
    if (fam->random(variant, seed, &sd) != GRT_OK) return NULL;
    gaitrt_model_params p = gaitrt_model_default_params();
    p.model_type = fam->name;
    return grt__model_from_sd(sd, &p, sd->path, variant, seed, 1);
}

void gaitrt_model_free(gaitrt_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_prepared; i++) m->prepared[i].bk->release(m->prepared[i].state);
    grt_graph_free(m->graph);
    grt_graph_free(m->fused);
    grt_free(m->path);
    grt_free(m->ref.config);
    grt_free(m->ref.variant);
    grt_free(m->ref.fused_released);
    pthread_mutex_destroy(&m->mu);
    grt_free(m);
}

gaitrt_status gaitrt_model_get_info(const gaitrt_model *m, gaitrt_model_info *out) {
    if (!m || !out) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_model_get_info: NULL argument");
    *out = m->info;
    return GAITRT_OK;
}

size_t gaitrt_model_summary(const gaitrt_model *m, char *buf, size_t len) {
    if (!m) return 0;
    char tmp[256];
    size_t k = 0;
#define APPEND(...)                                                          \
    do {                                                                     \
        int w_ = snprintf(tmp, sizeof tmp, __VA_ARGS__);                     \
        if (w_ > 0) {                                                        \
            if (buf && k < len) snprintf(buf + k, len - k, "%s", tmp);       \
            k += (size_t)w_;                                                 \
        }                                                                    \
    } while (0)
    const gaitrt_model_info *i = &m->info;
    APPEND("model: %s (%s)\n", i->type, i->variant);
    for (int j = 0; j < i->n_inputs; j++)
        APPEND("input %d: %s, %d x %d x %d per frame (stored width %d, divisor %g)\n", j, i->inputs[j].name,
               i->inputs[j].channels, i->inputs[j].height, i->inputs[j].width, i->inputs[j].stored_width,
               (double)i->inputs[j].divisor);
    APPEND("embedding: [N, %d, %d]\n", i->embed_channels, i->embed_parts);
    APPEND("parameters: %lld for inference (%.2f M); %lld in the checkpoint (%.2f M)\n", (long long)i->n_params,
           (double)i->n_params / 1e6, (long long)i->n_params_total, (double)i->n_params_total / 1e6);
    APPEND("MACs: %.1f M per frame (%.3f GFLOP), %.1f M per sequence\n", i->macs_per_frame / 1e6,
           2 * i->macs_per_frame / 1e9, i->macs_per_sequence / 1e6);
    APPEND("temporal mixing: %s\n", !i->temporal_mixing ? "no (sequences are packed)"
                                      : i->pad_batching ? "yes (one sequence per batch item; lengths within seq_len_tolerance padded)"
                                                        : "yes (one sequence per batch item; equal lengths only)");
    /* layer list at T = 1 */
    grt_batch_shape bs = {1, 1, 1};
    grt_plan *p = NULL;
    if (grt_plan_create(m->graph, &bs, &p) == GRT_OK) {
        APPEND("layers (one frame):\n");
        for (int n = 0; n < m->graph->n_nodes; n++) {
            const grt_node *nd = &m->graph->nodes[n];
            char sh[96];
            APPEND("  %-28s %-13s -> %s\n", nd->name, grt_op_name(nd->op),
                   grt_shape_str(p->v[nd->out].ndim, p->v[nd->out].shape, sh, sizeof sh));
        }
        grt_plan_free(p);
    }
#undef APPEND
    return k;
}

grt_status grt_model_graph(gaitrt_model *m, int fused, const grt_graph **g) {
    pthread_mutex_lock(&m->mu);
    grt_status st = grt__model_reload(m, fused);
    if (st == GRT_OK && fused) m->ref.fused_state = 2; /* the caller reads the graph's weights from now on */
    pthread_mutex_unlock(&m->mu);
    *g = st == GRT_OK ? (fused ? m->fused : m->graph) : NULL;
    return st;
}

grt_status grt_model_prepared(gaitrt_model *m, const grt_backend_i *bk, const grt_backend_opts *o, int fused,
                              void **state) {
    grt_status st = GRT_OK;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n_prepared; i++) {
        grt_prepared *p = &m->prepared[i];
        if (p->bk == bk && p->fused == fused && memcmp(&p->opts, o, sizeof *o) == 0) {
            *state = p->state;
            pthread_mutex_unlock(&m->mu);
            return GRT_OK;
        }
    }
    if (m->n_prepared == GRT_MAX_PREPARED) {
        st = grt_error(GAITRT_ERR_LIMIT, "too many backend configurations for one model (%d)", GRT_MAX_PREPARED);
    } else {
        void *s = NULL;
        st = grt__model_reload(m, fused);
        if (st == GRT_OK) st = bk->prepare(fused ? m->fused : m->graph, o, &s);
        if (st == GRT_OK) {
            if (fused) grt__model_release_owned(m, bk, s);
            grt_prepared *p = &m->prepared[m->n_prepared++];
            p->bk = bk;
            p->opts = *o;
            p->fused = fused;
            p->state = s;
            *state = s;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

gaitrt_status gaitrt_random_checkpoint_write(const char *model_type, uint64_t seed, const char *path) {
    const char *variant;
    const grt_model_family *fam = grt__family_variant(model_type, &variant);
    if (!fam) return gaitrt_last_status();
    if (!path) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_random_checkpoint_write: path is NULL");
    grt_state_dict *sd = NULL;
    grt_status st = fam->random(variant, seed, &sd);
    if (st != GRT_OK) return st;
    st = grt_safetensors_write(sd, path);
    grt_state_dict_free(sd);
    return st;
}

gaitrt_status gaitrt_checkpoint_convert(const char *ckpt_path, const char *out_path) {
    if (!ckpt_path || !out_path) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_checkpoint_convert: NULL path");
    grt_state_dict *sd = NULL;
    grt_status st = grt_state_dict_load(ckpt_path, &sd);
    if (st != GRT_OK) return st;
    st = grt_safetensors_write(sd, out_path);
    grt_state_dict_free(sd);
    return st;
}
