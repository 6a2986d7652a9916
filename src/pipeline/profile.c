/* profile.c — the session's profiler: per-layer events from the backends, per-run records,
 * CPU utilisation, GPU utilisation (NVML, CUDA sessions), and the reports built from them
 * (JSON, Chrome trace, session report). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pipeline/session.h"

#define GRT_MAX_KEPT_EVENTS 200000
/* One record per run is what the profile, trace and HTML report plot. A session that serves
 * embeds for days must not grow by a record per call, so we keep them only when profiling is
 * on, and at most this many (4 MB); CPU utilisation is summed either way. */
#define GRT_MAX_KEPT_RUNS 100000

static double grt__cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

grt_status grt_prof_init(grt_profiler *p, const gaitrt_session *s) {
    memset(p, 0, sizeof *p);
    const grt_graph *g = s->fused ? s->model->fused : s->model->graph;
    /* events of one run: one per node (and conversion), and again per chunk of frames when a
     * backend runs a long batch in chunks (ceil(frames / GRT_BACKEND_CHUNK_FRAMES) of them);
     * bounded, the rest is counted as dropped */
    int64_t frames = s->frame_budget > s->params.max_frames ? s->frame_budget : s->params.max_frames;
    if (frames < 720) frames = 720;
    const int64_t chunks = s->params.profile ? (frames + GRT_BACKEND_CHUNK_FRAMES - 1) / GRT_BACKEND_CHUNK_FRAMES + 1 : 1;
    const int64_t cap = (int64_t)(2 * g->n_nodes + 16) * chunks;
    p->run.cap = (int)(cap < 65536 ? cap : 65536);
    p->run.ev = grt_calloc((size_t)p->run.cap, sizeof *p->run.ev);
    if (!p->run.ev) return grt_error(GAITRT_ERR_NOMEM, "out of memory for the profiler");
    p->keep_runs = s->params.profile;
    p->t_first = grt_now_s();
    /* GPU utilisation is sampled for CUDA sessions that profile; without it (no NVML, a
     * device NVML does not know) the session goes on and the profile says why. */
    if (!s->params.profile)
        snprintf(p->gpu_note, sizeof p->gpu_note, "profiling was off for this session");
    else if (strcmp(s->bk->name, "cuda") != 0)
        snprintf(p->gpu_note, sizeof p->gpu_note, "CPU backend (%s): no GPU to sample", s->bk->name);
    else
        (void)grt_prof_gpu_attach(p, s->bk_opts.device_index);
    return GRT_OK;
}

grt_status grt_prof_gpu_attach(grt_profiler *p, int cuda_device_index) {
    grt_nvml_sampler_free(p->gpu);
    p->gpu = NULL;
    grt_status st = grt_nvml_sampler_start(cuda_device_index, GRT_NVML_INTERVAL_S, &p->gpu);
    if (st != GRT_OK) {
        snprintf(p->gpu_note, sizeof p->gpu_note, "%s", gaitrt_last_error());
        GRT_LOG_WARN("no GPU utilisation in the profile: %s", p->gpu_note);
        return st;
    }
    grt_gpu_summary sm;
    grt_nvml_sampler_copy(p->gpu, NULL, &sm);
    snprintf(p->gpu_note, sizeof p->gpu_note, "NVML (%.100s), CUDA device %d = %.60s (%.40s), every %.0f ms", grt_nvml_library_path(),
             cuda_device_index, sm.device_name, sm.matched_by, sm.interval_s * 1e3);
    return GRT_OK;
}

int grt_prof_gpu_read(const grt_profiler *p, grt_gpu_sample **samples, grt_gpu_summary *sum) {
    return grt_nvml_sampler_copy(p->gpu, samples, sum);
}

void grt_prof_release(grt_profiler *p) {
    grt_nvml_sampler_free(p->gpu);
    grt_free(p->run.ev);
    grt_free(p->events);
    grt_free(p->runs);
    memset(p, 0, sizeof *p);
}

void grt_prof_begin_run(grt_profiler *p, const grt_backend_i *bk, int items, int frames, int sequences) {
    (void)bk;
    p->run.n = 0;
    p->cpu_t0 = grt__cpu_s();
    p->wall_t0 = grt_now_s();
    if (!p->keep_runs) return;
    if (p->n_runs == p->cap_runs) {
        if (p->n_runs >= GRT_MAX_KEPT_RUNS) return; /* end_run sees no free record and keeps nothing */
        int cap = p->cap_runs ? 2 * p->cap_runs : 64;
        if (cap > GRT_MAX_KEPT_RUNS) cap = GRT_MAX_KEPT_RUNS;
        grt_run_rec *r = grt_realloc(p->runs, (size_t)cap * sizeof *r);
        if (!r) return; /* the record is lost, the run is not */
        p->runs = r;
        p->cap_runs = cap;
    }
    grt_run_rec *r = &p->runs[p->n_runs];
    memset(r, 0, sizeof *r);
    r->t0 = p->wall_t0;
    r->items = items;
    r->frames = frames;
    r->sequences = sequences;
    r->ev_begin = p->n_events;
}

void grt_prof_end_run(grt_profiler *p, const grt_backend_i *bk, int frames) {
    (void)bk;
    (void)frames;
    double now = grt_now_s();
    p->cpu_busy += grt__cpu_s() - p->cpu_t0;
    p->wall_busy += now - p->wall_t0;
    if (p->n_runs < p->cap_runs) {
        grt_run_rec *r = &p->runs[p->n_runs++];
        r->t1 = now;
        /* keep this run's events (bounded) */
        if (p->run.n && p->n_events + p->run.n <= GRT_MAX_KEPT_EVENTS) {
            if (p->n_events + p->run.n > p->cap_events) {
                int cap = p->cap_events ? p->cap_events : 1024;
                while (cap < p->n_events + p->run.n) cap *= 2;
                grt_prof_event *e = grt_realloc(p->events, (size_t)cap * sizeof *e);
                if (e) {
                    p->events = e;
                    p->cap_events = cap;
                }
            }
            if (p->n_events + p->run.n <= p->cap_events) {
                memcpy(p->events + p->n_events, p->run.ev, (size_t)p->run.n * sizeof *p->events);
                p->n_events += p->run.n;
            }
        }
        r->ev_end = p->n_events;
    }
}

static void grt__json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* "gpu_utilisation": {...} or null, and "gpu_utilisation_note", for the profile JSON. The
 * mean over the runs' spans leaves out the idle time between calls, which the overall mean
 * (the whole session since it was created) includes. */
static void grt__json_gpu(FILE *f, const grt_profiler *p) {
    grt_gpu_sample *v = NULL;
    grt_gpu_summary sm;
    int n = grt_prof_gpu_read(p, &v, &sm);
    if (p->gpu && sm.n_samples > 0) {
        double sum_in = 0;
        int n_in = 0;
        for (int i = 0, r = 0; i < n && r < p->n_runs; i++) { /* both in time order */
            while (r < p->n_runs && p->runs[r].t1 < v[i].t) r++;
            if (r < p->n_runs && v[i].t >= p->runs[r].t0) {
                sum_in += v[i].gpu_pct;
                n_in++;
            }
        }
        fprintf(f, ",\n  \"gpu_utilisation\": {\"device\": ");
        grt__json_str(f, sm.device_name);
        fprintf(f, ", \"cuda_device\": %d, \"driver\": ", sm.cuda_index);
        grt__json_str(f, sm.driver);
        fprintf(f, ", \"matched_by\": ");
        grt__json_str(f, sm.matched_by);
        fprintf(f, ", \"interval_ms\": %.1f, \"samples\": %lld, \"samples_kept\": %d, \"mean_gpu_percent\": %.2f, "
                   "\"max_gpu_percent\": %.1f, \"mean_memory_percent\": %.2f, \"peak_memory_used_bytes\": %lld, "
                   "\"memory_total_bytes\": %lld, \"samples_during_runs\": %d, \"mean_gpu_percent_during_runs\": ",
                sm.interval_s * 1e3, (long long)sm.n_samples, n, sm.mean_gpu_pct, sm.max_gpu_pct, sm.mean_mem_pct,
                (long long)sm.peak_mem_used, (long long)sm.mem_total, n_in);
        if (n_in)
            fprintf(f, "%.2f}", sum_in / n_in);
        else
            fprintf(f, "null}");
    } else {
        fprintf(f, ",\n  \"gpu_utilisation\": null");
    }
    char note[sizeof p->gpu_note + sizeof sm.error + 32];
    snprintf(note, sizeof note, "%s%s%s%s", p->gpu_note, sm.error[0] ? "; " : "", sm.error,
             p->gpu && sm.n_samples == 0 && !sm.error[0] ? "; no samples yet" : "");
    fprintf(f, ",\n  \"gpu_utilisation_note\": ");
    grt__json_str(f, note);
    grt_free(v);
}

size_t gaitrt_session_report(const gaitrt_session *s, char *buf, size_t len) {
    if (!s) return 0;
    char desc[512] = "";
    if (s->bk->describe) s->bk->describe(s->bk_state, desc, sizeof desc);
    const char *lv[] = {"conservative", "balanced", "aggressive"};
    const double util = s->prof.wall_busy > 0 ? s->prof.cpu_busy / s->prof.wall_busy : 0;
    char notes[2300];
    size_t k = 0;
    for (const char *c = s->notes; *c && k + 8 < sizeof notes; c++) {
        if (*c == '"' || *c == '\\') notes[k++] = '\\';
        notes[k++] = (*c >= 0x20) ? *c : ' ';
    }
    notes[k] = 0;
    int w = snprintf(buf, buf ? len : 0,
                     "{\"model\": \"%s\", \"variant\": \"%s\", \"backend\": \"%s\", \"kernels\": \"%s\", \"level\": \"%s\", "
                     "\"fused\": %s, \"batches\": %lld, \"sequences\": %lld, \"frame_budget\": %lld, "
                     "\"bytes_per_frame\": %lld, \"peak_plan_bytes\": %lld, \"fallbacks\": %d, \"cpu_utilisation\": %.3f, "
                     "\"notes\": \"%s\"}",
                     s->model->info.type, s->model->info.variant, s->bk->name, desc, lv[s->params.level],
                     s->fused ? "true" : "false", (long long)s->n_batches, (long long)s->n_sequences,
                     (long long)s->frame_budget, (long long)s->bytes_per_frame, (long long)s->peak_plan_bytes, s->fallbacks,
                     util, notes);
    return w > 0 ? (size_t)w : 0;
}

gaitrt_status gaitrt_session_write_profile(const gaitrt_session *s, const char *path) {
    if (!s || !path) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_session_write_profile: NULL argument");
    FILE *f = fopen(path, "w");
    if (!f) return grt_error(GAITRT_ERR_IO, "%s: cannot write the profile", path);
    const grt_profiler *p = &s->prof;
    char rep[4096];
    gaitrt_session_report(s, rep, sizeof rep);
    fprintf(f, "{\n  \"schema\": \"gaitrt-profile-1\",\n  \"session\": %s,\n  \"runs\": [", rep);
    for (int r = 0; r < p->n_runs; r++) {
        const grt_run_rec *rr = &p->runs[r];
        fprintf(f, "%s\n    {\"t0_ms\": %.4f, \"ms\": %.4f, \"items\": %d, \"frames\": %d, \"sequences\": %d}", r ? "," : "",
                (rr->t0 - p->t_first) * 1e3, (rr->t1 - rr->t0) * 1e3, rr->items, rr->frames, rr->sequences);
    }
    fprintf(f, "\n  ],\n  \"layers\": [");
    /* per-layer totals over all runs, in first-seen order */
    int n_layers = 0;
    typedef struct { const char *name, *op; double ms, flops, bytes; int count; } agg_t;
    agg_t *agg = grt_calloc((size_t)(p->n_events ? p->n_events : 1), sizeof *agg);
    if (!agg) {
        fclose(f);
        return grt_error(GAITRT_ERR_NOMEM, "out of memory writing the profile");
    }
    for (int e = 0; e < p->n_events; e++) {
        const grt_prof_event *ev = &p->events[e];
        int j = 0;
        while (j < n_layers && !(agg[j].name == ev->name && agg[j].op == ev->op)) j++;
        if (j == n_layers) {
            agg[j].name = ev->name;
            agg[j].op = ev->op;
            n_layers++;
        }
        agg[j].ms += (ev->t1 - ev->t0) * 1e3;
        agg[j].flops += ev->flops;
        agg[j].bytes += ev->bytes;
        agg[j].count++;
    }
    for (int j = 0; j < n_layers; j++) {
        fprintf(f, "%s\n    {\"name\": ", j ? "," : "");
        grt__json_str(f, agg[j].name);
        fprintf(f, ", \"op\": ");
        grt__json_str(f, agg[j].op);
        fprintf(f, ", \"calls\": %d, \"ms\": %.4f, \"gflop\": %.4f, \"mbytes\": %.3f, \"gflops\": %.2f}", agg[j].count, agg[j].ms,
                agg[j].flops / 1e9, agg[j].bytes / 1e6, agg[j].ms > 0 ? agg[j].flops / (agg[j].ms * 1e6) : 0);
    }
    grt_free(agg);
    fprintf(f, "\n  ],\n  \"dropped_events\": %d", p->run.dropped);
    grt__json_gpu(f, p);
    fprintf(f, "\n}\n");
    if (fclose(f) != 0) return grt_error(GAITRT_ERR_IO, "%s: write error", path);
    return GAITRT_OK;
}

gaitrt_status gaitrt_session_write_trace(const gaitrt_session *s, const char *path) {
    if (!s || !path) return grt_error(GAITRT_ERR_INVALID_ARG, "gaitrt_session_write_trace: NULL argument");
    FILE *f = fopen(path, "w");
    if (!f) return grt_error(GAITRT_ERR_IO, "%s: cannot write the trace", path);
    const grt_profiler *p = &s->prof;
    fprintf(f, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n");
    fprintf(f, "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"args\": {\"name\": \"gaitrt %s\"}}", s->bk->name);
    for (int r = 0; r < p->n_runs; r++) {
        const grt_run_rec *rr = &p->runs[r];
        fprintf(f, ",\n{\"name\": \"batch %d (%d seq, %d frames)\", \"cat\": \"run\", \"ph\": \"X\", \"pid\": 1, \"tid\": 1, "
                   "\"ts\": %.3f, \"dur\": %.3f}", r, rr->sequences, rr->frames, (rr->t0 - p->t_first) * 1e6,
                (rr->t1 - rr->t0) * 1e6);
    }
    for (int e = 0; e < p->n_events; e++) {
        const grt_prof_event *ev = &p->events[e];
        fprintf(f, ",\n{\"name\": ");
        grt__json_str(f, ev->name);
        fprintf(f, ", \"cat\": ");
        grt__json_str(f, ev->op);
        fprintf(f, ", \"ph\": \"X\", \"pid\": 1, \"tid\": %d, \"ts\": %.3f, \"dur\": %.3f, \"args\": {\"gflop\": %.4f, \"mbytes\": %.3f}}",
                2 + ev->thread, (ev->t0 - p->t_first) * 1e6, (ev->t1 - ev->t0) * 1e6, ev->flops / 1e9, ev->bytes / 1e6);
    }
    /* GPU utilisation as counter tracks (Perfetto draws one per argument) */
    grt_gpu_sample *v = NULL;
    int n = grt_prof_gpu_read(p, &v, NULL);
    for (int i = 0; i < n; i++) {
        const double ts = (v[i].t - p->t_first) * 1e6;
        fprintf(f, ",\n{\"name\": \"GPU utilisation %%\", \"cat\": \"gpu\", \"ph\": \"C\", \"pid\": 1, \"ts\": %.3f, "
                   "\"args\": {\"gpu\": %.1f, \"memory controller\": %.1f}}",
                ts, v[i].gpu_pct, v[i].mem_pct);
        fprintf(f, ",\n{\"name\": \"GPU memory used (MiB)\", \"cat\": \"gpu\", \"ph\": \"C\", \"pid\": 1, \"ts\": %.3f, "
                   "\"args\": {\"used\": %.1f}}",
                ts, (double)v[i].mem_used / 1048576.0);
    }
    grt_free(v);
    fprintf(f, "\n]}\n");
    if (fclose(f) != 0) return grt_error(GAITRT_ERR_IO, "%s: write error", path);
    return GAITRT_OK;
}
