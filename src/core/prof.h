/*
 * prof.h — the event sink backends write per-layer timings into. The session's profiler
 * (pipeline/) turns events into JSON, Chrome traces and reports. Recording never allocates:
 * the capacity is reserved before a run and events beyond it are counted as dropped.
 */
#ifndef GRT_PROF_H
#define GRT_PROF_H

#include "core/core.h"

typedef struct grt_prof_event {
    const char *name;  /* layer name (points into the graph; stable while the model lives) */
    const char *op;    /* op / kernel family */
    int node;
    int thread;        /* lane for the trace */
    double t0, t1;     /* seconds, grt_now_s() clock */
    double flops;
    double bytes;
} grt_prof_event;

typedef struct grt_prof {
    grt_prof_event *ev;
    int n, cap;
    int dropped;
} grt_prof;

static inline void grt_prof_add(grt_prof *p, const char *name, const char *op, int node, double t0, double t1,
                                double flops, double bytes) {
    if (!p) return;
    if (p->n >= p->cap) {
        p->dropped++;
        return;
    }
    grt_prof_event *e = &p->ev[p->n++];
    e->name = name;
    e->op = op;
    e->node = node;
    e->thread = 0;
    e->t0 = t0;
    e->t1 = t1;
    e->flops = flops;
    e->bytes = bytes;
}

#endif
