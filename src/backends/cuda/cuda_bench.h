/*
 * cuda_bench.h — what bench/gpu needs from the CUDA backend beyond the backend interface:
 * the device time of a plan's forward pass, measured with CUDA events on the plan's own
 * stream around what run() replays (input upload, every op, output download), optionally
 * with the L2 cache flushed before each replay.
 *
 * What this file is not: part of the library's API. Only the benchmark uses it.
 */
#ifndef GRT_CUDA_BENCH_H
#define GRT_CUDA_BENCH_H

#include "core/core.h"

/* ms[0..reps) receives each replay's device time (the inputs of the plan's last run). */
grt_status grt_cuda_plan_time(void *plan, int reps, int flush_l2, float *ms);
/* 1 when run() replays one CUDA graph, 0 when it launches op by op. */
int grt_cuda_plan_uses_graph(const void *plan);

#endif
