/*
 * models.h — model families: each turns a checkpoint's state dict (plus an optional OpenGait
 * config) into a layer graph, inferring the architecture from key names and shapes.
 * Model files compose graph ops; they never touch a backend.
 */
#ifndef GRT_MODELS_H
#define GRT_MODELS_H

#include "graph/graph.h"
#include "io/io.h"

/* Architecture hints from an OpenGait YAML (model_cfg) or the command line; 0/empty = infer. */
typedef struct grt_model_config {
    char model[32];          /* model_cfg.model, e.g. "Baseline", "DeepGaitV2" */
    char backbone[32];       /* backbone_cfg.type */
    int channels[8], n_channels;
    int layers[8], n_layers;
    int strides[8], n_strides;
    int bins[8], n_bins;     /* bin_num */
    int parts;               /* SeparateFCs parts_num */
    int in_channels;
    char mode[8];            /* DeepGaitV2: "2d", "p3d", "3d" */
    int height, width;       /* input frame size after the test transform (default 64 x 44) */
    int use_emb2;
    int have;                /* 1 when filled from a config */
    char source[256];        /* the config file, for messages */
} grt_model_config;

typedef struct grt_built_model {
    int lenient;             /* in: 1 lets keys the architecture does not read pass (the model's strict = 0) */
    grt_graph *graph;        /* out, unfused: the reference */
    gaitrt_model_info info;
} grt_built_model;

typedef struct grt_model_family {
    const char *name;
    /* How well the keys fit this family: 0 = not this family; higher wins. */
    int (*match)(const grt_state_dict *sd);
    grt_status (*build)(const grt_state_dict *sd, const grt_model_config *cfg, grt_built_model *out);
    /* A state dict of this family's default architecture (variant: NULL or e.g. "p3d-1441")
     * with deterministic random weights, for benchmarks. */
    grt_status (*random)(const char *variant, uint64_t seed, grt_state_dict **out);
} grt_model_family;

const grt_model_family *const *grt_model_families(int *n);
/* By name, case-insensitive ("SkeletonGait++" is SkeletonGaitPP); NULL when unknown. */
const grt_model_family *grt_model_family_find(const char *name);
/* "GaitBase, DeepGaitV2, ...": the families compiled in, for messages. */
const char *grt_model_family_names(void);
/* Picks the family whose keys fit; error names the keys that fit nothing. */
grt_status grt_model_detect(const grt_state_dict *sd, const grt_model_family **out);

/* ---- builder: checked access to the state dict while a family builds its graph ------------ */

typedef struct grt_builder {
    const grt_state_dict *sd;
    grt_graph *g;
    char *used;              /* per state-dict entry */
    grt_status st;           /* first hard error (not key problems) */
    char problems[2048];     /* missing keys / wrong shapes, accumulated */
    int n_problems;
} grt_builder;

grt_status grt_builder_init(grt_builder *b, const grt_state_dict *sd);
void grt_builder_free(grt_builder *b);
int grt_builder_has(const grt_builder *b, const char *key);
/* Adds the tensor `key` as a graph constant after checking its shape (-1 in `shape` = any).
 * Problems are recorded, not returned at once, so that the final error lists them all. */
int grt_builder_weight(grt_builder *b, const char *key, int ndim, const int64_t *shape);
/* The tensor itself (NULL if missing), marked as used. */
const grt_tensor *grt_builder_tensor(grt_builder *b, const char *key);
/* BatchNorm from `<prefix>.{weight,bias,running_mean,running_var}` (num_batches_tracked is
 * ignored). Returns the output value. */
int grt_builder_bn(grt_builder *b, const char *prefix, int x, int64_t channels);
/* Conv with weight `<key>` (no bias), kernel from the weight's shape (2-D weights become kt = 1).
 * expect (ndim entries, -1 = any) checks the stored shape; NULL accepts any. */
int grt_builder_conv(grt_builder *b, const char *name, const char *key, int x, const int s[3], const int p[3],
                     int ndim, const int64_t *expect);
/* Ends the build: with strict, unexpected keys not matching any of `ignore` prefixes are
 * problems; every problem found makes this return GAITRT_ERR_MODEL listing them. */
grt_status grt_builder_finish(grt_builder *b, int strict, const char *const *ignore);
/* Ends a build: grt_builder_finish's checks (strict unless out->lenient), an error if `output` (the embedding value) is
 * missing, then the graph with its output moves to out->graph and out->info is reset with
 * its type, the graph's temporal mixing and min_frames = 1; the builder is freed either way.
 * The family then fills the rest of the info and counts the costs. */
grt_status grt_builder_complete(grt_builder *b, int output, int strict, const char *const *ignore, const char *type,
                                grt_built_model *out);
/* Number of conv-like key indices: counts `<prefix><i>.` for i = 0, 1, ... */
int grt_builder_count_blocks(const grt_state_dict *sd, const char *prefix);

/* Random state-dict helper: adds key with shape, filled N(0, std) (std <= 0: BN-like stats). */
grt_status grt_sd_add_random(grt_state_dict *sd, const char *key, int ndim, const int64_t *shape, grt_rng *rng,
                             float std);
grt_status grt_sd_add_random_bn(grt_state_dict *sd, const char *prefix, int64_t c, grt_rng *rng);
grt_state_dict *grt_sd_new(const char *name);

/* MACs per frame / per sequence and parameter counts from the graph (batch 1, T = 1). */
grt_status grt_model_fill_costs(const grt_graph *g, const grt_state_dict *sd, gaitrt_model_info *info);

#endif
