#!/usr/bin/env bash
# The CPU comparison with the peers, in one go: GaitBase 1x30 and 8x30, DeepGaitV2-P3D
# [1,4,4,1] 1x30, each with `gaitrt bench --peers` (same weights and input for every
# runtime, medians) at the balanced level (fp32), then at the aggressive level (bf16, or
# relaxed fp32 where the CPU has no bf16; with bf16, PyTorch's CPU autocast joins), written to bench/results/peers-<date>.md
# with the machine and commands (peers-<date>-<avx2|avx512|amx>.md).
# usage: bench/run_peers.sh [RUNS]   (bench/peers/setup_venv.sh first for the PyPI peers)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
bin=build/gaitrt
[ -x "$bin" ] || { echo "build first: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }
# the CPU's widest matrix unit names the file, so runs on different machines of a day stay apart
isa=avx2
grep -q -w avx512f /proc/cpuinfo && isa=avx512
grep -q -w amx_bf16 /proc/cpuinfo && isa=amx
res="bench/results/peers-$(date +%Y-%m-%d)-$isa.md"
mkdir -p bench/results
{
  echo "# gaitrt and its peers on the CPU ($(date -u +%Y-%m-%d))"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs," \
       "flags: $(grep -m1 -o -E 'avx512[a-z_]*|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "Load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  for spec in "GaitBase 30 1" "GaitBase 30 8" "DeepGaitV2:p3d-1441 30 1"; do
    set -- $spec
    echo "## $1, $3 x $2 frames"
    echo
    echo '```'
    echo "\$ $bin bench --model $1 --frames $2 --batch $3 --runs $runs --peers"
    "$bin" bench --model "$1" --frames "$2" --batch "$3" --runs "$runs" --peers --json "/tmp/peers-$1-$3.json" 2>&1
    echo
    # the aggressive level: bf16 where the CPU has it, with PyTorch's CPU autocast to bf16 as a peer
    echo "\$ $bin bench --model $1 --frames $2 --batch $3 --runs $runs --level aggressive --peers"
    "$bin" bench --model "$1" --frames "$2" --batch "$3" --runs "$runs" --level aggressive --peers 2>&1 |
      sed -E 's/.*"kernels": "([^"]*)".*/  kernels: \1/'
    echo '```'
    echo
  done
} | tee "$res"
echo "written to $res"
