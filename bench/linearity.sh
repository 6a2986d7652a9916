#!/usr/bin/env bash
# Does time grow linearly with frames and with batch (no cliff)? Runs `gaitrt bench` for one
# sequence of 15..240 frames and for 1..32 sequences of 30 frames, each in its own process
# (peak RSS is its own), and prints ms per frame and peak RSS; written to
# bench/results/linearity-<date>-<avx2|avx512|amx>.md.
# usage: bench/linearity.sh [MODEL] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-GaitBase}
runs=${2:-5}
bin=build/gaitrt
[ -x "$bin" ] || { echo "build first: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for spec in "15 1" "30 1" "60 1" "120 1" "240 1" "30 2" "30 4" "30 8" "30 16" "30 32"; do
  set -- $spec
  echo "== $1 frames x $2 sequences" >&2
  "$bin" bench --model "$model" --frames "$1" --batch "$2" --runs "$runs" --json "$out/$1x$2.json" >/dev/null
done
mkdir -p bench/results
isa=avx2  # the CPU's widest matrix unit names the file (see run_peers.sh)
grep -q -w avx512f /proc/cpuinfo && isa=avx512
grep -q -w amx_bf16 /proc/cpuinfo && isa=amx
res="bench/results/linearity-$(date +%Y-%m-%d)-$isa.md"
python3 - "$out" "$model" "$runs" "$res" <<'PY'
import glob, json, os, subprocess, sys
out, model, runs, res = sys.argv[1:5]
rows = []
for f in glob.glob(os.path.join(out, "*.json")):
    d = json.load(open(f))
    rows.append(d)
rows.sort(key=lambda d: (d["batch"] > 1, d["batch"], d["frames"]))
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
base = next(d for d in rows if d["batch"] == 1 and d["frames"] == 30)
bpf = base["median_ms"] / 30
lines = [f"# Linearity: {model}, time per frame against frames and batch", "",
         f"Command: `bench/linearity.sh {model} {runs}`  ",
         f"Machine: {cpu}, {os.cpu_count()} CPUs; medians of {runs} runs, each configuration in its own process.", "",
         "| sequences x frames | total frames | median ms | ms per frame | vs 1x30 | GFLOP/s | peak RSS MiB |",
         "|---|---|---|---|---|---|---|"]
for d in rows:
    tf = d["batch"] * d["frames"]
    lines.append(f"| {d['batch']} x {d['frames']} | {tf} | {d['median_ms']:.1f} | {d['median_ms'] / tf:.2f} | "
                 f"{d['median_ms'] / tf / bpf:.2f}x | {d['gflops']:.1f} | {d['peak_rss_mib']:.1f} |")
open(res, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print("\nwritten to", res)
PY
