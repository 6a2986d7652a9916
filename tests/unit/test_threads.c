/* test_threads.c — several sessions over one shared model, embedding in parallel threads,
 * must give the same embeddings as one session alone (run under ThreadSanitizer in CI). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaitrt.h"
#include "test_util.h"

#define NT 4
#define T 6

static gaitrt_model *model;
static float frames[T * 64 * 44];
static float expect[4096];
static int per;

static void *worker(void *arg) {
    long id = (long)arg;
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.n_threads = 1;
    sp.level = id % 2 ? GAITRT_LEVEL_BALANCED : GAITRT_LEVEL_CONSERVATIVE;
    gaitrt_session *s = gaitrt_session_create(model, &sp);
    if (!s) return (void *)1;
    gaitrt_sequence q;
    memset(&q, 0, sizeof q);
    q.n_frames = T;
    q.inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, 64, 44, frames, 0};
    float out[4096];
    long bad = 0;
    for (int r = 0; r < 3; r++) {
        if (gaitrt_embed(s, &q, 1, out, (size_t)per) != GAITRT_OK || grt_rel_l2(out, expect, (size_t)per) > 1e-5) bad++;
    }
    gaitrt_session_free(s);
    return (void *)bad;
}

int main(void) {
    model = gaitrt_model_create_random("GaitBase:small", 11);
    CHECK(model != NULL);
    if (!model) return grt_test_finish("test_threads");
    gaitrt_model_info info;
    gaitrt_model_get_info(model, &info);
    per = info.embed_channels * info.embed_parts;
    for (int i = 0; i < T * 64 * 44; i++) frames[i] = (float)((i * 7919) % 13 < 6);
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.level = GAITRT_LEVEL_CONSERVATIVE;
    gaitrt_session *s = gaitrt_session_create(model, &sp);
    gaitrt_sequence q;
    memset(&q, 0, sizeof q);
    q.n_frames = T;
    q.inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, 64, 44, frames, 0};
    CHECK(gaitrt_embed(s, &q, 1, expect, (size_t)per) == GAITRT_OK);
    gaitrt_session_free(s);
    pthread_t th[NT];
    for (long i = 0; i < NT; i++) pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < NT; i++) {
        void *r;
        pthread_join(th[i], &r);
        CHECK_MSG(r == NULL, "thread %d: %ld bad results", i, (long)r);
    }
    gaitrt_model_free(model);
    return grt_test_finish("test_threads");
}
