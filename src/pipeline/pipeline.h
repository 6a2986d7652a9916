/* pipeline.h — internals of the public handles: the model (graph + prepared backend states,
 * shared read-only by sessions) and the session (device choice, plans, batching, profile). */
#ifndef GRT_PIPELINE_H
#define GRT_PIPELINE_H

#include <pthread.h>

#include "backends/backend.h"
#include "models/models.h"

#define GRT_MAX_PREPARED 8

typedef struct grt_prepared {
    const grt_backend_i *bk;
    grt_backend_opts opts;
    int fused;
    void *state;
} grt_prepared;

struct gaitrt_model {
    char *path;         /* the checkpoint (or the random weights' name); owned */
    const grt_model_family *family;
    grt_graph *graph;   /* unfused: the reference; its weights may be released (ref below) */
    grt_graph *fused;   /* BN folded, activations and residuals fused */
    gaitrt_model_info info;
    /* Where released weights come from again: the checkpoint at `path` (with `config`), or the
     * family's random weights (variant, seed). The unfused graph's are released at load (`sum`
     * their checksum); the fused graph's that the first fused backend state owns a copy of
     * (fused_released[v] = 1) when it is prepared, until another fused state is prepared
     * (fused_state 0: may release, 1: released, 2: never again; fused_sum their checksum). */
    struct {
        int released, lenient, random, fused_state;
        char *config;   /* owned; "" when none */
        char *variant;  /* owned; "" when none */
        char *fused_released; /* per value of the fused graph; owned, NULL when none */
        uint64_t seed, sum, fused_sum;
    } ref;
    pthread_mutex_t mu; /* guards prepared[] and the reference weights */
    grt_prepared prepared[GRT_MAX_PREPARED];
    int n_prepared;
};

/* The model's unfused (fused = 0) or fused graph with every weight in memory: released ones
 * are read again and stay from then on. For code that runs a graph outside the model's
 * prepared states (tests of one backend on a model's graph). */
grt_status grt_model_graph(gaitrt_model *m, int fused, const grt_graph **g);

/* Backend state for (backend, options), prepared once per model and shared by sessions. */
grt_status grt_model_prepared(gaitrt_model *m, const grt_backend_i *bk, const grt_backend_opts *o, int fused,
                              void **state);

/* Reads an OpenGait YAML's model_cfg into a config (io/ does the parsing). */
grt_status grt_config_load(const char *path, grt_model_config *cfg);
/* The same for a YAML already in memory; path names it in messages. */
grt_status grt_config_load_mem(const uint8_t *buf, size_t len, const char *path, grt_model_config *cfg);

#endif
