/* test_nvml.c — GPU utilisation through NVML, on machines without a GPU: a missing or wrong
 * library gets a clean error (never a crash); opening is reference-counted and balanced (the
 * library is unloaded after the last close); with the fake driver (fake_nvml.c) the sampler
 * takes the expected values at about 20 ms with increasing times; and the profile JSON, the
 * Chrome trace and the HTML report carry them (a CPU session without them says why). */
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gaitrt.h"
#include "pipeline/nvml.h"
#include "pipeline/session.h"
#include "test_util.h"

#ifndef FAKE_NVML_PATH
#error "FAKE_NVML_PATH (the fake NVML library built beside this test) is not defined"
#endif

typedef void (*stats_fn)(int *inits, int *shutdowns, int *util_calls);

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    return b;
}

static cJSON *read_json(const char *path) {
    char *b = slurp(path);
    CHECK_MSG(b != NULL, "cannot read %s", path);
    if (!b) return NULL;
    cJSON *j = cJSON_Parse(b);
    CHECK_MSG(j != NULL, "%s is not valid JSON", path);
    free(b);
    return j;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    CHECK_MSG(cJSON_IsNumber(v), "\"%s\" is not a number", key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The fake's value for the k-th sample. */
static float fake_gpu(int k) { return (float)(10 * (k % 10 + 1)); }

/* (a) no NVML, or not NVML: clean errors, nothing held */
static void test_missing(void) {
    setenv(GRT_NVML_LIBRARY_ENV, "/nonexistent/libnvidia-ml.so.1", 1);
    CHECK(grt_nvml_open() == GAITRT_ERR_DEVICE);
    const char *e = gaitrt_last_error();
    printf("missing library: %s\n", e);
    CHECK(strstr(e, "NVML not found") != NULL && strstr(e, "/nonexistent/libnvidia-ml.so.1") != NULL);
    CHECK(strstr(e, "---> HINT") != NULL && strstr(e, GRT_NVML_LIBRARY_ENV) != NULL);
    CHECK(grt_nvml_refcount() == 0);
    grt_nvml_sampler *smp = (grt_nvml_sampler *)&smp;
    CHECK(grt_nvml_sampler_start(0, 0, &smp) == GAITRT_ERR_DEVICE);
    CHECK(smp == NULL);
    CHECK(strstr(gaitrt_last_error(), "NVML not found") != NULL);
    grt_nvml_close(); /* an extra close is ignored */
    CHECK(grt_nvml_refcount() == 0);
    grt_nvml_sampler_free(NULL);
    grt_gpu_summary sm;
    CHECK(grt_nvml_sampler_copy(NULL, NULL, &sm) == 0 && sm.n_samples == 0);

    /* a library that is not NVML */
    setenv(GRT_NVML_LIBRARY_ENV, "libm.so.6", 1);
    CHECK(grt_nvml_open() == GAITRT_ERR_DEVICE);
    printf("not NVML: %s\n", gaitrt_last_error());
    CHECK(strstr(gaitrt_last_error(), "lacks nvmlInit_v2") != NULL);
    CHECK(grt_nvml_refcount() == 0);
}

/* (c) reference counting: one init per first open, one shutdown per last close, unloaded after */
static void test_refcount(void) {
    setenv(GRT_NVML_LIBRARY_ENV, FAKE_NVML_PATH, 1);
    CHECK(strcmp(grt_nvml_library_path(), FAKE_NVML_PATH) == 0);
    CHECK(grt_nvml_open() == GAITRT_OK);
    CHECK(grt_nvml_open() == GAITRT_OK);
    CHECK(grt_nvml_refcount() == 2);
    void *h = dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_NOLOAD);
    CHECK(h != NULL);
    if (h) {
        stats_fn stats = (stats_fn)dlsym(h, "fake_nvml_stats");
        CHECK(stats != NULL);
        int in = -1, sh = -1, uc = -1;
        if (stats) stats(&in, &sh, &uc);
        CHECK(in == 1 && sh == 0);
        dlclose(h);
    }
    grt_nvml_close();
    CHECK(grt_nvml_refcount() == 1);
    grt_nvml_close();
    CHECK(grt_nvml_refcount() == 0);
    grt_nvml_close();
    CHECK(grt_nvml_refcount() == 0);
    h = dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_NOLOAD);
    CHECK_MSG(h == NULL, "the library is still loaded after the last close");
    if (h) dlclose(h);

    /* twice more, with the library held here so that its counters survive */
    void *hold = dlopen(FAKE_NVML_PATH, RTLD_NOW);
    CHECK(hold != NULL);
    if (!hold) return;
    stats_fn stats = (stats_fn)dlsym(hold, "fake_nvml_stats");
    int in0, sh0, uc, in, sh;
    stats(&in0, &sh0, &uc);
    for (int k = 0; k < 2; k++) {
        CHECK(grt_nvml_open() == GAITRT_OK);
        CHECK(grt_nvml_open() == GAITRT_OK);
        grt_nvml_close();
        grt_nvml_close();
    }
    stats(&in, &sh, &uc);
    CHECK(in - in0 == 2 && sh - sh0 == 2);
    CHECK(grt_nvml_refcount() == 0);

    /* nvmlInit_v2 failing, and a device NVML does not have */
    setenv("FAKE_NVML_INIT_RESULT", "9", 1);
    CHECK(grt_nvml_open() == GAITRT_ERR_DEVICE);
    printf("init fails: %s\n", gaitrt_last_error());
    CHECK(strstr(gaitrt_last_error(), "nvmlInit_v2 failed: Driver Not Loaded (code 9)") != NULL);
    CHECK(grt_nvml_refcount() == 0);
    unsetenv("FAKE_NVML_INIT_RESULT");
    grt_nvml_sampler *smp = NULL;
    CHECK(grt_nvml_sampler_start(3, 0, &smp) == GAITRT_ERR_DEVICE && smp == NULL);
    printf("no device 3: %s\n", gaitrt_last_error());
    CHECK(strstr(gaitrt_last_error(), "no device 3") != NULL);
    CHECK(grt_nvml_refcount() == 0);
    stats(&in, &sh, &uc);
    CHECK(in == sh);
    dlclose(hold);
}

/* Checks n samples against the fake's sequence; returns their mean GPU %. */
static double check_samples(const grt_gpu_sample *v, int n, double t_lo, double t_hi) {
    double sum = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].gpu_pct != fake_gpu(i) || v[i].mem_pct != fake_gpu(i) / 2 || v[i].mem_used != (int64_t)(i + 1) << 20 ||
            v[i].t < t_lo || v[i].t > t_hi || (i && v[i].t <= v[i - 1].t)) {
            if (!bad)
                fprintf(stderr, "sample %d: t %.4f (%.4f..%.4f) gpu %.0f mem %.0f used %lld\n", i, v[i].t, t_lo, t_hi, v[i].gpu_pct,
                        v[i].mem_pct, (long long)v[i].mem_used);
            bad++;
        }
        sum += v[i].gpu_pct;
    }
    CHECK_MSG(bad == 0, "%d samples differ from the fake's sequence", bad);
    return n ? sum / n : 0;
}

/* (b) the sampler with the fake driver */
static void test_sampler(void) {
    setenv(GRT_NVML_LIBRARY_ENV, FAKE_NVML_PATH, 1);
    grt_nvml_sampler *smp = NULL;
    double t0 = grt_now_s();
    CHECK_MSG(grt_nvml_sampler_start(0, 0.020, &smp) == GAITRT_OK, "%s", gaitrt_last_error());
    if (!smp) return;
    CHECK(grt_nvml_refcount() == 1);
    sleep_ms(150);
    grt_nvml_sampler_stop(smp);
    double t1 = grt_now_s();
    CHECK(grt_nvml_refcount() == 0);
    grt_gpu_sample *v = NULL;
    grt_gpu_summary sm;
    int n = grt_nvml_sampler_copy(smp, &v, &sm);
    printf("sampler: %d samples in %.0f ms, %s (%s, driver %s), mean %.1f%% max %.0f%%\n", n, (t1 - t0) * 1e3, sm.device_name,
           sm.matched_by, sm.driver, sm.mean_gpu_pct, sm.max_gpu_pct);
    CHECK_MSG(n >= 3 && n <= 12, "%d samples in 150 ms at 20 ms", n);
    CHECK(sm.n_samples == n && sm.n_kept == n && !sm.running && sm.error[0] == 0);
    CHECK(strcmp(sm.device_name, "Fake GPU 0") == 0 && strcmp(sm.driver, "999.99") == 0);
    CHECK(strcmp(sm.matched_by, "index 0") == 0); /* no CUDA device here: matched by index */
    CHECK(sm.mem_total == 16ll << 30 && sm.peak_mem_used == (int64_t)n << 20);
    double mean = check_samples(v, n, t0, t1);
    CHECK(fabs(sm.mean_gpu_pct - mean) < 1e-9 && fabs(sm.mean_mem_pct - mean / 2) < 1e-9);
    CHECK(sm.max_gpu_pct == fake_gpu(n > 10 ? 9 : n - 1));
    if (n >= 2) {
        double gap = (v[n - 1].t - v[0].t) / (n - 1);
        printf("sampler: mean gap %.1f ms\n", gap * 1e3);
        CHECK(gap >= 0.015 && gap <= 0.150);
    }
    grt_free(v);
    grt_nvml_sampler_stop(smp); /* idempotent */
    grt_nvml_sampler_free(smp);

    /* a device whose utilisation stops answering: the thread gives up and says why */
    setenv("FAKE_NVML_UTIL_FAIL_AFTER", "3", 1);
    CHECK(grt_nvml_sampler_start(0, 0.010, &smp) == GAITRT_OK);
    unsetenv("FAKE_NVML_UTIL_FAIL_AFTER");
    if (!smp) return;
    for (int k = 0; k < 100; k++) { /* 3 samples and 5 failures take about 80 ms */
        grt_nvml_sampler_copy(smp, NULL, &sm);
        if (!sm.running) break;
        sleep_ms(20);
    }
    n = grt_nvml_sampler_copy(smp, &v, &sm);
    printf("failing device: %d samples, %s\n", n, sm.error);
    CHECK(!sm.running && n == 3 && sm.n_samples == 3);
    CHECK(strstr(sm.error, "nvmlDeviceGetUtilizationRates: Not Supported (code 3)") != NULL);
    grt_free(v);
    grt_nvml_sampler_free(smp);
    CHECK(grt_nvml_refcount() == 0);
}

static const cJSON *field(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k); }

/* the profiler: JSON, trace and report with and without GPU samples */
static void test_profile(void) {
    gaitrt_model *m = gaitrt_model_create_random("GaitBase:small", 3);
    CHECK_MSG(m != NULL, "%s", gaitrt_last_error());
    if (!m) return;
    gaitrt_model_info info;
    gaitrt_model_get_info(m, &info);
    const int per = info.embed_channels * info.embed_parts, T = 4, H = 64, W = 44;
    float *frames = calloc((size_t)T * H * W, sizeof(float));
    for (int i = 0; i < T * H * W; i++) frames[i] = (float)((i * 7919) % 13 < 6);
    gaitrt_sequence seq = {T, {{GAITRT_DTYPE_F32, 1, H, W, frames, 0}}};
    float *out = malloc((size_t)per * sizeof(float));

    gaitrt_session_params sp = gaitrt_session_default_params();
    sp.device = GAITRT_DEVICE_CPU;
    sp.level = GAITRT_LEVEL_CONSERVATIVE; /* the reference kernels: this test is about the profiler */
    sp.profile = 1;
    gaitrt_session *s = gaitrt_session_create(m, &sp);
    CHECK_MSG(s != NULL, "%s", gaitrt_last_error());
    if (!s) {
        gaitrt_model_free(m);
        return;
    }
    const char *dir = grt_test_env("GRT_BUILD_DIR", ".");
    char pj[1024], tj[1024], hj[1024];
    snprintf(pj, sizeof pj, "%s/test_nvml_profile.json", dir);
    snprintf(tj, sizeof tj, "%s/test_nvml_trace.json", dir);
    snprintf(hj, sizeof hj, "%s/test_nvml_report.html", dir);

    /* a CPU session: null, and why */
    CHECK(s->prof.gpu == NULL && strncmp(s->prof.gpu_note, "CPU backend", 11) == 0);
    CHECK(gaitrt_embed(s, &seq, 1, out, per) == GAITRT_OK);
    CHECK(gaitrt_session_write_profile(s, pj) == GAITRT_OK);
    cJSON *j = read_json(pj);
    if (j) {
        CHECK(cJSON_IsNull(field(j, "gpu_utilisation")));
        const cJSON *note = field(j, "gpu_utilisation_note");
        CHECK(cJSON_IsString(note) && strncmp(note->valuestring, "CPU backend", 11) == 0);
        CHECK(cJSON_IsArray(field(j, "layers")) && cJSON_IsNumber(field(j, "dropped_events")));
        cJSON_Delete(j);
    }

    /* attached without NVML: null, and the loader's reason */
    setenv(GRT_NVML_LIBRARY_ENV, "/nonexistent/libnvidia-ml.so.1", 1);
    CHECK(grt_prof_gpu_attach(&s->prof, 0) == GAITRT_ERR_DEVICE && s->prof.gpu == NULL);
    CHECK(gaitrt_session_write_profile(s, pj) == GAITRT_OK);
    CHECK(gaitrt_session_write_trace(s, tj) == GAITRT_OK);
    CHECK(gaitrt_session_write_report(s, hj) == GAITRT_OK);
    if ((j = read_json(pj))) {
        const cJSON *note = field(j, "gpu_utilisation_note");
        CHECK(cJSON_IsNull(field(j, "gpu_utilisation")));
        CHECK(cJSON_IsString(note) && strstr(note->valuestring, "NVML not found: /nonexistent/libnvidia-ml.so.1") != NULL);
        if (cJSON_IsString(note)) printf("profile note without NVML: %s\n", note->valuestring);
        cJSON_Delete(j);
    }
    char *html = slurp(hj);
    CHECK(html && strstr(html, "No GPU utilisation: NVML not found") != NULL);
    free(html);

    /* attached to the fake */
    setenv(GRT_NVML_LIBRARY_ENV, FAKE_NVML_PATH, 1);
    CHECK_MSG(grt_prof_gpu_attach(&s->prof, 0) == GAITRT_OK, "%s", gaitrt_last_error());
    CHECK(s->prof.gpu != NULL && strstr(s->prof.gpu_note, "Fake GPU 0") != NULL);
    for (int k = 0; k < 3; k++) {
        CHECK(gaitrt_embed(s, &seq, 1, out, per) == GAITRT_OK);
        sleep_ms(50);
    }
    /* stopped, so that the files and our copy see the same samples */
    grt_nvml_sampler_stop(s->prof.gpu);
    grt_gpu_sample *v = NULL;
    grt_gpu_summary sm;
    int n = grt_prof_gpu_read(&s->prof, &v, &sm);
    CHECK_MSG(n >= 3, "%d samples", n);
    double mean = check_samples(v, n, s->prof.t_first, grt_now_s());
    CHECK(gaitrt_session_write_profile(s, pj) == GAITRT_OK);
    CHECK(gaitrt_session_write_trace(s, tj) == GAITRT_OK);
    CHECK(gaitrt_session_write_report(s, hj) == GAITRT_OK);
    if ((j = read_json(pj))) {
        const cJSON *g = field(j, "gpu_utilisation");
        CHECK(cJSON_IsObject(g));
        if (cJSON_IsObject(g)) {
            CHECK(cJSON_IsString(field(g, "device")) && strcmp(field(g, "device")->valuestring, "Fake GPU 0") == 0);
            CHECK(num(g, "samples") == n && num(g, "samples_kept") == n && num(g, "cuda_device") == 0);
            CHECK(fabs(num(g, "mean_gpu_percent") - mean) < 0.006);
            CHECK(fabs(num(g, "mean_memory_percent") - mean / 2) < 0.006);
            CHECK(num(g, "max_gpu_percent") == sm.max_gpu_pct);
            CHECK(num(g, "peak_memory_used_bytes") == (double)((int64_t)n << 20));
            CHECK(num(g, "memory_total_bytes") == (double)(16ll << 30));
            CHECK(fabs(num(g, "interval_ms") - 20) < 1e-9);
            CHECK(num(g, "samples_during_runs") >= 0);
        }
        const cJSON *note = field(j, "gpu_utilisation_note");
        CHECK(cJSON_IsString(note) && strstr(note->valuestring, "NVML") != NULL);
        if (cJSON_IsString(note)) printf("profile note with the fake: %s\n", note->valuestring);
        CHECK(cJSON_IsString(field(j, "schema")) && cJSON_IsObject(field(j, "session")) && cJSON_IsArray(field(j, "runs")));
        cJSON_Delete(j);
    }
    if ((j = read_json(tj))) {
        const cJSON *ev = field(j, "traceEvents"), *e;
        int nc = 0, nm = 0, nx = 0, bad = 0;
        double last_ts = -1;
        cJSON_ArrayForEach(e, ev) {
            const cJSON *ph = field(e, "ph"), *name = field(e, "name");
            if (!cJSON_IsString(ph)) continue;
            if (!strcmp(ph->valuestring, "X")) nx++;
            if (strcmp(ph->valuestring, "C") != 0 || !cJSON_IsString(name)) continue;
            const cJSON *args = field(e, "args");
            double ts = num(e, "ts");
            if (!strcmp(name->valuestring, "GPU utilisation %")) {
                if (nc < n && (num(args, "gpu") != v[nc].gpu_pct || num(args, "memory controller") != v[nc].mem_pct)) bad++;
                if (ts < last_ts || ts < 0) bad++;
                last_ts = ts;
                nc++;
            } else if (!strcmp(name->valuestring, "GPU memory used (MiB)")) {
                if (nm < n && num(args, "used") != (double)(nm + 1)) bad++;
                nm++;
            }
        }
        printf("trace: %d counter samples, %d complete events\n", nc, nx);
        CHECK(nc == n && nm == n && bad == 0 && nx > 5);
        cJSON_Delete(j);
    }
    html = slurp(hj);
    CHECK(html && strstr(html, "<h2>GPU utilisation</h2>") != NULL && strstr(html, "<polyline") != NULL &&
          strstr(html, "Fake GPU 0") != NULL);
    free(html);
    grt_free(v);

    gaitrt_session_free(s); /* frees the sampler */
    CHECK(grt_nvml_refcount() == 0);
    /* a session that does not profile says so */
    sp.profile = 0;
    s = gaitrt_session_create(m, &sp);
    CHECK(s && s->prof.gpu == NULL && strstr(s->prof.gpu_note, "profiling was off") != NULL);
    gaitrt_session_free(s);
    gaitrt_model_free(m);
    free(frames);
    free(out);
}

int main(void) {
    test_missing();
    test_refcount();
    test_sampler();
    test_profile();
    CHECK(grt_nvml_refcount() == 0);
    return grt_test_finish("test_nvml");
}
