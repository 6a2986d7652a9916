/*
 * test_alloc_fail.c — out-of-memory at every allocation of a whole run: checkpoint load,
 * session create and one embed, with the N-th allocation failing, for N = 1, 2, ... until a
 * run makes fewer than N allocations (SQLite's anomaly tests do the same).
 *
 * Every run must end in one of two ways: an error status (GAITRT_ERR_NOMEM, with a message
 * that says so), or success with the right embedding (the session may halve a batch or fall
 * back to other kernels when an allocation fails, and say so in its report). Nothing may
 * crash, and under the AddressSanitizer build LeakSanitizer checks at exit that every failed
 * run released what it had taken. We run it for the reference kernels and the default (fast)
 * ones, whose allocations differ.
 *
 * The checkpoint is the small GaitBase of tests/reference/gaitbase_ref.py (fixture
 * ref_gaitbase); without it (no torch) the test is skipped.
 */
#include <time.h>
#include <unistd.h>

#include "gaitrt.h"
#include "test_util.h"

/* The hook is process-wide and kernels may run on several threads, hence the atomics. */
typedef struct failer {
    long count;
    long fail_at; /* 0: never */
    long failed;
} failer;

static failer F;

static int should_fail(void) {
    long n = __atomic_add_fetch(&F.count, 1, __ATOMIC_RELAXED);
    if (n == __atomic_load_n(&F.fail_at, __ATOMIC_RELAXED)) {
        __atomic_add_fetch(&F.failed, 1, __ATOMIC_RELAXED);
        return 1;
    }
    return 0;
}
static void *f_malloc(size_t n, void *u) {
    (void)u;
    return should_fail() ? NULL : malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u) {
    (void)u;
    return should_fail() ? NULL : realloc(p, n);
}
static void f_free(void *p, void *u) {
    (void)u;
    free(p);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct outcome {
    int ok;            /* the whole run succeeded */
    gaitrt_status st;  /* else the error */
    const char *where; /* "load", "session", "embed" */
    char msg[1024];
} outcome;

/* One full run; fills out (embedding) when it succeeds. */
static outcome run(const char *ckpt, gaitrt_level level, const gaitrt_sequence *seq, float *out, size_t out_len) {
    outcome r = {0};
    gaitrt_model_params mp = gaitrt_model_default_params();
    gaitrt_model *m = gaitrt_model_load(ckpt, &mp);
    if (!m) {
        r.st = gaitrt_last_status();
        r.where = "load";
        snprintf(r.msg, sizeof r.msg, "%s", gaitrt_last_error());
        return r;
    }
    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.level = level;
    sp.n_threads = 1;
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    if (!s) {
        r.st = gaitrt_last_status();
        r.where = "session";
        snprintf(r.msg, sizeof r.msg, "%s", gaitrt_last_error());
        gaitrt_model_free(m);
        return r;
    }
    gaitrt_status st = gaitrt_embed(s, seq, 1, out, out_len);
    if (st) {
        r.st = st;
        r.where = "embed";
        snprintf(r.msg, sizeof r.msg, "%s", gaitrt_last_error());
    } else {
        r.ok = 1;
    }
    gaitrt_session_free(s);
    gaitrt_model_free(m);
    return r;
}

static void sweep(const char *ckpt, gaitrt_level level, const char *level_name, const gaitrt_sequence *seq,
                  const float *want, size_t n) {
    float *got = malloc(n * sizeof *got);
    gaitrt_allocator al = {f_malloc, f_realloc, f_free, NULL};
    long runs = 0, errors = 0, recovered = 0, total = 0;
    double t0 = now_s();
    for (long at = 1;; at++) {
        F.count = 0;
        F.failed = 0;
        F.fail_at = at;
        memset(got, 0, n * sizeof *got);
        gaitrt_set_allocator(&al);
        outcome r = run(ckpt, level, seq, got, n);
        gaitrt_set_allocator(NULL);
        runs++;
        if (F.failed == 0) { /* the run made fewer than `at` allocations: every one has failed once */
            total = F.count;
            CHECK_MSG(r.ok, "%s: the run without a failure failed: %s", level_name, r.msg);
            break;
        }
        if (r.ok) {
            recovered++;
            double err = grt_rel_l2(got, want, n);
            CHECK_MSG(err < 1e-4, "%s: allocation %ld failed, the run went on but the embedding is off (rel. L2 %.3g)",
                      level_name, at, err);
        } else {
            errors++;
            CHECK_MSG(r.st == GAITRT_ERR_NOMEM, "%s: allocation %ld failed in %s: status %s instead of out of memory: %s",
                      level_name, at, r.where, gaitrt_status_str(r.st), r.msg);
            CHECK_MSG(strstr(r.msg, "---> HINT:") != NULL, "%s: allocation %ld: message without a hint: %s", level_name, at,
                      r.msg);
        }
        if (grt_test_failures > 20) break;
    }
    printf("%s: %ld allocations in a full run; each failed once: %ld runs returned an error, %ld recovered with the "
           "right embedding (%.1f s)\n",
           level_name, total, errors, recovered, now_s() - t0);
    free(got);
}

int main(void) {
    const char *ref = grt_test_env("GRT_REF_DIR", NULL);
    if (!ref) TEST_SKIP("GRT_REF_DIR not set");
    char ckpt[1024], in_path[1024], out_path[1024];
    snprintf(ckpt, sizeof ckpt, "%s/gaitbase/gaitbase_small.pt", ref);
    snprintf(in_path, sizeof in_path, "%s/gaitbase/gaitbase_small_t7_in.npy", ref);
    snprintf(out_path, sizeof out_path, "%s/gaitbase/gaitbase_small_t7_out.npy", ref);
    if (access(ckpt, R_OK) != 0) TEST_SKIP("%s missing (the reference needs PyTorch)", ckpt);

    gaitrt_array in, ref_out;
    if (gaitrt_array_load(in_path, &in) != GAITRT_OK || gaitrt_array_load(out_path, &ref_out) != GAITRT_OK) {
        fprintf(stderr, "cannot read the reference arrays: %s\n", gaitrt_last_error());
        return 1;
    }
    /* (1, T, 64, 44) float32, already cut to the model's width */
    gaitrt_sequence seq;
    memset(&seq, 0, sizeof seq);
    seq.n_frames = (int)in.shape[1];
    seq.inputs[0] = (gaitrt_input){GAITRT_DTYPE_F32, 1, (int)in.shape[2], (int)in.shape[3], in.data, 0};
    size_t n = 1;
    for (int i = 0; i < ref_out.ndim; i++) n *= (size_t)ref_out.shape[i];

    /* The embedding without failures is the reference for runs that recover; it must match
     * PyTorch's too, or the sweep would compare against a wrong number. */
    float *want[2];
    gaitrt_level levels[2] = {GAITRT_LEVEL_CONSERVATIVE, GAITRT_LEVEL_BALANCED};
    const char *names[2] = {"conservative", "balanced"};
    for (int k = 0; k < 2; k++) {
        want[k] = malloc(n * sizeof(float));
        outcome r = run(ckpt, levels[k], &seq, want[k], n);
        CHECK_MSG(r.ok, "%s: %s", names[k], r.msg);
        double err = grt_rel_l2(want[k], ref_out.data, n);
        CHECK_MSG(err < 1e-4, "%s: embedding differs from PyTorch's (rel. L2 %.3g)", names[k], err);
    }
    if (grt_test_failures) return grt_test_finish("test_alloc_fail");
    for (int k = 0; k < 2; k++) sweep(ckpt, levels[k], names[k], &seq, want[k], n);
    for (int k = 0; k < 2; k++) free(want[k]);
    gaitrt_array_free(&in);
    gaitrt_array_free(&ref_out);
    return grt_test_finish("test_alloc_fail");
}
