/* config.c — reads the architecture hints of an OpenGait YAML (model_cfg) with libyaml:
 * model, backbone_cfg (type, channels, layers, strides, in_channel(s), mode), SeparateFCs
 * parts_num, bin_num, use_emb2. Only what the checkpoint cannot tell is used; the rest is
 * checked against the checkpoint by the model family.
 *
 * The YAML is untrusted like any other input: anchors and aliases can make a node refer to
 * itself, so every walk over the document is bounded in depth. grt_config_load_mem parses a
 * buffer (the fuzz target uses it); grt_config_load reads a file and calls it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"

#ifdef GAITRT_HAVE_YAML
#include <yaml.h>

static yaml_node_t *grt__map_get(yaml_document_t *d, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static void grt__scalar(yaml_node_t *n, char *out, size_t len) {
    if (n && n->type == YAML_SCALAR_NODE) snprintf(out, len, "%s", (const char *)n->data.scalar.value);
}

static int grt__int(yaml_node_t *n, int *out) {
    if (!n || n->type != YAML_SCALAR_NODE) return 0;
    char *end;
    errno = 0;
    long v = strtol((const char *)n->data.scalar.value, &end, 10);
    if (errno || *end || v < -1000000 || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

/* Nested lists deeper than this are malformed for our keys (OpenGait nests one level). An
 * alias can make a sequence contain itself, so without a bound the walk would never end. */
#define GRT__MAX_NEST 4

/* A sequence of ints (or one int) into out[cap]; returns the count, or -1 if malformed. */
static int grt__ints(yaml_document_t *d, yaml_node_t *n, int *out, int cap, int depth) {
    if (!n) return 0;
    if (n->type == YAML_SCALAR_NODE) return cap > 0 && grt__int(n, out) ? 1 : -1;
    if (n->type != YAML_SEQUENCE_NODE || depth >= GRT__MAX_NEST) return -1;
    int k = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        if (k == cap) return -1;
        yaml_node_t *e = yaml_document_get_node(d, *it);
        /* nested lists (bin_num per stage, some configs) are flattened */
        if (e && e->type == YAML_SEQUENCE_NODE) {
            int m = grt__ints(d, e, out + k, cap - k, depth + 1);
            if (m < 0) return -1;
            k += m;
        } else if (!grt__int(e, &out[k++])) {
            return -1;
        }
    }
    return k;
}

grt_status grt_config_load_mem(const uint8_t *buf, size_t len, const char *path, grt_model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!path) path = "<memory>";
    if (!buf && len) return grt_error(GAITRT_ERR_INVALID_ARG, "%s: NULL buffer", path);
    grt_status st = GRT_OK;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return grt_error(GAITRT_ERR_NOMEM, "%s: cannot initialise the YAML parser", path);
    yaml_parser_set_input_string(&parser, buf ? buf : (const unsigned char *)"", len);
    if (!yaml_parser_load(&parser, &doc)) {
        st = grt_error(GAITRT_ERR_FORMAT, "%s: YAML error at line %zu: %s ---> HINT: pass the OpenGait config (configs/<model>/*.yaml) unchanged",
                       path, parser.problem_mark.line + 1, parser.problem ? parser.problem : "malformed");
        yaml_parser_delete(&parser);
        return st;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *mc = grt__map_get(&doc, root, "model_cfg");
    if (!mc) {
        st = grt_error(GAITRT_ERR_FORMAT, "%s: no model_cfg section ---> HINT: pass the OpenGait config the model was trained with", path);
    } else {
        grt__scalar(grt__map_get(&doc, mc, "model"), cfg->model, sizeof cfg->model);
        /* Baseline-style configs say backbone_cfg; DeepGaitV2 / SkeletonGait say Backbone */
        yaml_node_t *bb = grt__map_get(&doc, mc, "backbone_cfg");
        if (!bb) bb = grt__map_get(&doc, mc, "Backbone");
        grt__scalar(grt__map_get(&doc, bb, "type"), cfg->backbone, sizeof cfg->backbone);
        grt__scalar(grt__map_get(&doc, mc, "mode"), cfg->mode, sizeof cfg->mode);
        if (!cfg->mode[0]) grt__scalar(grt__map_get(&doc, bb, "mode"), cfg->mode, sizeof cfg->mode);
        int bad = 0;
        yaml_node_t *chs = grt__map_get(&doc, bb, "channels");
        if (!chs) chs = grt__map_get(&doc, mc, "channels");
        if ((cfg->n_channels = grt__ints(&doc, chs, cfg->channels, 8, 0)) < 0) bad = 1;
        if ((cfg->n_layers = grt__ints(&doc, grt__map_get(&doc, bb, "layers"), cfg->layers, 8, 0)) < 0) bad = 1;
        if ((cfg->n_strides = grt__ints(&doc, grt__map_get(&doc, bb, "strides"), cfg->strides, 8, 0)) < 0) bad = 1;
        if ((cfg->n_bins = grt__ints(&doc, grt__map_get(&doc, mc, "bin_num"), cfg->bins, 8, 0)) < 0) bad = 1;
        yaml_node_t *fcs = grt__map_get(&doc, mc, "SeparateFCs");
        grt__int(grt__map_get(&doc, fcs, "parts_num"), &cfg->parts);
        if (!grt__int(grt__map_get(&doc, bb, "in_channel"), &cfg->in_channels))
            grt__int(grt__map_get(&doc, bb, "in_channels"), &cfg->in_channels);
        char emb2[16] = "";
        grt__scalar(grt__map_get(&doc, mc, "use_emb2"), emb2, sizeof emb2);
        cfg->use_emb2 = strcmp(emb2, "true") == 0 || strcmp(emb2, "True") == 0;
        if (bad) st = grt_error(GAITRT_ERR_FORMAT, "%s: model_cfg has a malformed list (channels, layers, strides or bin_num) ---> HINT: each must be a list of at most 8 integers", path);
        cfg->have = 1;
        snprintf(cfg->source, sizeof cfg->source, "%s", path);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return st;
}

grt_status grt_config_load(const char *path, grt_model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    uint8_t *buf = NULL;
    size_t len = 0;
    grt_status st = grt_read_file(path, (size_t)16 << 20, &buf, &len);
    if (st != GRT_OK) return st;
    st = grt_config_load_mem(buf, len, path, cfg);
    grt_free(buf);
    return st;
}
#else
grt_status grt_config_load_mem(const uint8_t *buf, size_t len, const char *path, grt_model_config *cfg) {
    (void)buf;
    (void)len;
    memset(cfg, 0, sizeof *cfg);
    return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: gaitrt was built without libyaml, so --config is unavailable ---> HINT: install libyaml-dev and rebuild", path ? path : "<memory>");
}

grt_status grt_config_load(const char *path, grt_model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    return grt_error(GAITRT_ERR_UNSUPPORTED, "%s: gaitrt was built without libyaml, so --config is unavailable ---> HINT: install libyaml-dev and rebuild", path);
}
#endif
