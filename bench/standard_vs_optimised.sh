#!/usr/bin/env bash
# "Standard vs optimised" on a mixed-length workload (B sequences of 20..120 frames):
#   standard            one sequence at a time, conservative level (reference kernels)
#   one-at-a-time fast  one sequence at a time, balanced level (isolates the batching gain)
#   optimised           the pipeline's batching, balanced level
#   optimised bf16      the pipeline's batching, aggressive level (bf16 where the CPU has it)
# Each runs in its own process (so peak RSS is its own); the summary with ratios is printed
# and written to bench/results/standard_vs_optimised-<date>.md.
# usage: bench/standard_vs_optimised.sh [MODEL] [SEQUENCES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-GaitBase}
seqs=${2:-8}
runs=${3:-3}
bin=build/gaitrt
[ -x "$bin" ] || { echo "build first: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }
out=$(mktemp -d)
run() { # name, extra args
  local name=$1; shift
  echo "== $name" >&2
  "$bin" bench --model "$model" --mixed --batch "$seqs" --runs "$@" --json "$out/$name.json" >&2
}
run standard 1 --warmup 0 --one-at-a-time --level conservative
run one_at_a_time_fast "$runs" --one-at-a-time --level balanced
run optimised "$runs" --level balanced
run optimised_bf16 "$runs" --level aggressive
mkdir -p bench/results
res="bench/results/standard_vs_optimised-$(date +%Y-%m-%d).md"
python3 - "$out" "$model" "$seqs" "$runs" "$res" <<'PY'
import json, os, platform, subprocess, sys
out, model, seqs, runs, res = sys.argv[1:6]
r = {k: json.load(open(os.path.join(out, k + ".json"))) for k in ("standard", "one_at_a_time_fast", "optimised", "optimised_bf16")}
s = r["standard"]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
lines = [f"# Standard vs optimised: {model}, {seqs} sequences of 20..120 frames",
         "", f"Command: `bench/standard_vs_optimised.sh {model} {seqs} {runs}`  ",
         f"Machine: {cpu}, {os.cpu_count()} CPUs ({platform.machine()}); medians (standard: 1 run).", "",
         "| configuration | median ms | sequences/s | frames/s | peak RSS MiB | backend | speed-up vs standard | RSS vs standard |",
         "|---|---|---|---|---|---|---|---|"]
for k, label in (("standard", "standard (one at a time, conservative)"), ("one_at_a_time_fast", "one at a time, balanced"),
                 ("optimised", "batched, balanced"), ("optimised_bf16", "batched, aggressive")):
    x = r[k]
    lines.append(f"| {label} | {x['median_ms']:.1f} | {x['sequences_per_s']:.3f} | {x['frames_per_s']:.1f} | {x['peak_rss_mib']:.1f} | "
                 f"{x['session']['backend']} | {s['median_ms'] / x['median_ms']:.2f}x | {x['peak_rss_mib'] / s['peak_rss_mib']:.2f}x |")
b, o = r["one_at_a_time_fast"], r["optimised"]
lines += ["", f"Batching alone (same kernels): throughput {o['sequences_per_s'] / b['sequences_per_s']:.2f}x, "
          f"peak RSS {o['peak_rss_mib'] / b['peak_rss_mib']:.2f}x."]
open(res, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print("\nwritten to", res)
PY
