/* registry.c — the model families compiled in, and detection of a checkpoint's family from
 * its keys. Adding a family: write models/<name>.c defining a grt_model_family and list it here. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "models/models.h"

extern const grt_model_family grt_family_gaitbase;
extern const grt_model_family grt_family_deepgaitv2;
extern const grt_model_family grt_family_skeletongait;
extern const grt_model_family grt_family_skeletongaitpp;
extern const grt_model_family grt_family_gaitset;
extern const grt_model_family grt_family_gaitpart;
extern const grt_model_family grt_family_gaitgl;
extern const grt_model_family grt_family_xgait;

static const grt_model_family *const grt__families[] = {
    &grt_family_gaitbase,
    &grt_family_deepgaitv2,
    &grt_family_skeletongait,
    &grt_family_skeletongaitpp,
    &grt_family_gaitset,
    &grt_family_gaitpart,
    &grt_family_gaitgl,
    &grt_family_xgait,
};

const grt_model_family *const *grt_model_families(int *n) {
    *n = (int)(sizeof grt__families / sizeof grt__families[0]);
    return grt__families;
}

const grt_model_family *grt_model_family_find(const char *name) {
    int n;
    const grt_model_family *const *f = grt_model_families(&n);
    if (strcasecmp(name, "SkeletonGait++") == 0) name = "SkeletonGaitPP"; /* the paper's spelling */
    for (int i = 0; i < n; i++)
        if (strcasecmp(f[i]->name, name) == 0) return f[i];
    return NULL;
}

const char *grt_model_family_names(void) {
    static char list[256];
    if (!list[0]) {
        int n;
        const grt_model_family *const *f = grt_model_families(&n);
        size_t at = 0;
        for (int i = 0; i < n && at < sizeof list; i++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", f[i]->name);
    }
    return list;
}

const char *gaitrt_model_type(int i) {
    int n;
    const grt_model_family *const *f = grt_model_families(&n);
    return i >= 0 && i < n ? f[i]->name : NULL;
}

grt_status grt_model_detect(const grt_state_dict *sd, const grt_model_family **out) {
    int n, best = 0;
    const grt_model_family *const *f = grt_model_families(&n);
    *out = NULL;
    for (int i = 0; i < n; i++) {
        int s = f[i]->match(sd);
        if (s > best) {
            best = s;
            *out = f[i];
        }
    }
    if (*out) return GRT_OK;
    char keys[512] = "";
    size_t k = 0;
    for (int i = 0; i < sd->n && i < 6 && k < sizeof keys; i++)
        k += (size_t)snprintf(keys + k, sizeof keys - k, "%s'%s'", i ? ", " : "", sd->t[i].name);
    char fams[256] = "";
    k = 0;
    for (int i = 0; i < n && k < sizeof fams; i++) k += (size_t)snprintf(fams + k, sizeof fams - k, "%s%s", i ? ", " : "", f[i]->name);
    return grt_error(GAITRT_ERR_MODEL,
                     "%s: unknown architecture: its %d keys (%s%s) fit none of %s ---> HINT: pass --model-type if the keys "
                     "are ambiguous, or check that this is an OpenGait checkpoint",
                     sd->path ? sd->path : "checkpoint", sd->n, keys, sd->n > 6 ? ", ..." : "", fams);
}
