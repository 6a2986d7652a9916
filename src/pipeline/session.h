/* session.h — the session object and its profiler (internal). */
#ifndef GRT_SESSION_H
#define GRT_SESSION_H

#include "pipeline/nvml.h"
#include "pipeline/pipeline.h"

#define GRT_PLAN_CACHE 4

typedef struct grt_plan_slot {
    grt_batch_shape bs;
    void *plan;
    void *bound;     /* the session arena the plan points at (shared plans) */
    uint64_t stamp;
} grt_plan_slot;

/* A batch handed to the backend whose output is not yet in the caller's array. */
typedef struct grt_batch_rec {
    void *plan;                /* NULL: none */
    grt_batch_shape bs;
    int async;                 /* submitted (collect() pending), else run to the end already */
    int slot;                  /* its output buffer */
    int n;
    int idx[256];              /* the sequences, as indices into the caller's array */
} grt_batch_rec;

/* One run (batch) as the profiler keeps it. */
typedef struct grt_run_rec {
    double t0, t1;
    int items, frames, sequences;
    int ev_begin, ev_end;   /* events of this run in grt_profiler.events */
} grt_run_rec;

typedef struct grt_profiler {
    grt_prof run;             /* events of the current run (backends write here) */
    grt_prof_event *events;   /* all events kept (bounded) */
    int n_events, cap_events;
    grt_run_rec *runs;        /* kept only when profiling (params.profile), and bounded */
    int n_runs, cap_runs;
    int keep_runs;
    double cpu_t0, wall_t0;   /* CPU time / wall time at the start of the current run */
    double cpu_busy, wall_busy; /* summed over runs: for CPU utilisation */
    double t_first;
    grt_nvml_sampler *gpu;    /* GPU utilisation (CUDA sessions with profiling on); NULL: see gpu_note */
    char gpu_note[320];       /* why there is no GPU utilisation, or how it is sampled */
} grt_profiler;

struct gaitrt_session {
    gaitrt_model *model;
    gaitrt_session_params params;
    const grt_backend_i *bk;
    void *bk_state;            /* owned by the model */
    grt_backend_opts bk_opts;
    int fused;
    int pad_tolerance;         /* frames by which lengths in one padded batch may differ (0: equal) */
    grt_plan_slot plans[GRT_PLAN_CACHE];
    uint64_t stamp;
    void *arena;               /* activations of every plan, when the backend shares (plan_shared) */
    int64_t arena_bytes;
    int64_t frame_budget;      /* frames per batch within the memory budget */
    int64_t bytes_per_frame;   /* activation memory per frame (from the memory plan) */
    int64_t peak_plan_bytes;
    float *inbuf[GAITRT_MAX_INPUTS];
    size_t inbuf_cap[GAITRT_MAX_INPUTS];
    float *outbuf[GRT_BACKEND_IN_FLIGHT]; /* a batch's output, one per batch in flight */
    size_t outbuf_cap[GRT_BACKEND_IN_FLIGHT];
    int no_overlap;            /* GAITRT_NO_OVERLAP set: a submitting backend runs each batch to the end (for A/B) */
    grt_batch_rec flight;      /* the batch submitted and not yet collected (plan NULL: none) */
    void *failed_plan;         /* a cached plan whose run failed: released, not reused */
    int oom_cap;               /* > 0: sequences per batch that fitted the device after memory ran out */
    grt_segment *segs;
    size_t segs_cap;
    int *order;
    size_t order_cap;
    int poisoned;
    char poison_reason[256];
    char notes[2048];          /* fallbacks and decisions, in order */
    int fallbacks;
    int64_t n_batches, n_sequences;
    grt_profiler prof;
};

void grt_session_note(gaitrt_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
grt_status grt_session_size_budget(gaitrt_session *s);

grt_status grt_prof_init(grt_profiler *p, const gaitrt_session *s);
void grt_prof_release(grt_profiler *p);
void grt_prof_begin_run(grt_profiler *p, const grt_backend_i *bk, int items, int frames, int sequences);
void grt_prof_end_run(grt_profiler *p, const grt_backend_i *bk, int frames);
/* Starts sampling GPU utilisation of CUDA device cuda_device_index through NVML for the
 * profile (grt_prof_init does it for CUDA sessions with profiling on; calling it again
 * restarts). On failure the reason goes to the profile's "gpu_utilisation_note", to the log
 * and to the error text; the session goes on without it. */
grt_status grt_prof_gpu_attach(grt_profiler *p, int cuda_device_index);
/* The GPU samples kept (oldest first; grt_malloc'd in *samples, the caller frees) and their
 * summary; returns how many (0 when there is no sampler: sum is zeroed). */
int grt_prof_gpu_read(const grt_profiler *p, grt_gpu_sample **samples, grt_gpu_summary *sum);

#endif
