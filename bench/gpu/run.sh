#!/usr/bin/env bash
# bench/gpu/run.sh — everything the CUDA backend needs a GPU for, in one command for a lent
# GPU machine (run from the repository root of a copied working tree; nothing outside the
# machine is reachable, so it uses only what is installed there):
#   1. system facts (GPU, driver, nvcc, cuDNN/cuBLAS locations; PyTorch present or missing),
#   2. a Release build with CUDA (build-gpu/),
#   3. tests/cuda: test_cuda_host (no GPU needed) and test_cuda_gpu (every op, four precisions,
#      against the reference backend),
#   4. gaitrt_gpu_bench: GaitBase and DeepGaitV2-P3D at batch 1, 8, 64 x 30 frames in f32, tf32,
#      f16, bf16 — parity with the reference CPU backend first, then timings (median of N,
#      CUDA events, L2 flushed),
#   5. if PyTorch is there: the pipeline's GaitBase parity test against PyTorch, which runs on
#      the CUDA backend at the balanced level (f32, relative L2 <= 1e-5),
#   6. if PyTorch is there: gaitrt against PyTorch on the same GPU, host to host (`gaitrt bench
#      --device cuda --level aggressive --peers`: PyTorch fp32, AMP fp16, AMP bf16, torch.compile
#      with AMP fp16) for GaitBase, DeepGaitV2-P3D and DeepGaitV2-3D at each batch of BATCHES,
#   7. overlap: 256 sequences in runs of 64 with and without GAITRT_NO_OVERLAP (the session packs
#      one batch and downloads the one before while the GPU computes),
#   8. the aggressive level's fidelity on the demo silhouettes (cosine, rank order) on the GPU and
#      on the host CPU (bf16 where oneDNN has kernels for it, else relaxed fp32), and its CPU time;
#   9. (cpupeers, not in the default STEPS) the fast CPU backend on the host with 2 threads, in
#      8- and 16-channel blocks, against PyTorch and ONNX Runtime on the CPU.
# Results go to $OUT (default bench/results/gpu): run.log, test_cuda_host.log, test_cuda_gpu.log,
# bench.log, gpu_results.md, gpu_results.json, pytorch_parity.log, peers_*.json, peers.md.
#
# All steps take longer than one 10-minute command: STEPS picks some (default
# "tests,bench,parity,peers,overlap,fidelity"); the peers step alone takes about 6 minutes (torch.compile
# compiles each shape).
#
# Without the Debian -dev packages on the GPU machine: bench/gpu/prebuilt.sh pack (here), carry
# build-gpu/prebuilt.tar.xz, then bench/gpu/prebuilt.sh unpack and PREBUILT=1 bash bench/gpu/run.sh there.
#
# Knobs: STEPS, PREBUILT, GRT_SHARED_DATA (the sample data folder, default ../shared/data), REPS (20), BATCHES (1,8,64), MODELS (gaitbase,deepgaitv2), PRECISIONS (f32,tf32,f16,bf16),
# REF_SEQS (3: reference sequences checked per batch larger than that; the CPU reference backend
# needs seconds per sequence), SKIP_PYTORCH=1,
# SANITIZE=1 (test_cuda_gpu under compute-sanitizer too), CUDNN_ROOT (a cuDNN with include/ lib/).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT="${OUT:-$PWD/bench/results/gpu}"
mkdir -p "$OUT"
LOG="$OUT/run.log"
: >"$LOG"
JOBS=$(nproc 2>/dev/null || echo 4)
STATUS=0
say() { echo "$*" | tee -a "$LOG"; }
step() { say ""; say "== $* ($(date -u +%H:%M:%S))"; }

step "system"
{
  uname -srm
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm --format=csv 2>&1 || echo "nvidia-smi: not found"
  (nvcc --version 2>/dev/null || /usr/local/cuda/bin/nvcc --version) | tail -2
  cmake --version | head -1
  nproc
} 2>&1 | tee -a "$LOG"
if python3 -c 'import torch' >/dev/null 2>&1; then
  HAVE_TORCH=1
  python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tee -a "$LOG"
else
  HAVE_TORCH=0
  say "PyTorch: missing (the pipeline's parity test against PyTorch is skipped)"
fi

step "CUDA libraries"
if [ -z "${CUDNN_ROOT:-}" ] && [ ! -e /usr/local/cuda/include/cudnn.h ] && [ ! -e /usr/include/cudnn.h ]; then
  # the CUDA image may carry cuDNN only as PyTorch's wheel (nvidia-cudnn-cu13): headers and libraries are in it
  d=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
  if [ -n "$d" ] && [ -e "$d/include/cudnn.h" ]; then CUDNN_ROOT="$d"; fi
fi
if [ -n "${CUDNN_ROOT:-}" ]; then
  export CUDNN_ROOT
  export LD_LIBRARY_PATH="$CUDNN_ROOT/lib:${LD_LIBRARY_PATH:-}"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas.so.13' && [ ! -e /usr/local/cuda/lib64/libcublas.so.13 ]; then
  d=$(python3 -c 'import nvidia.cublas as m; print(list(m.__path__)[0])' 2>/dev/null || true)
  if [ -n "$d" ] && [ -d "$d/lib" ]; then export LD_LIBRARY_PATH="$d/lib:${LD_LIBRARY_PATH:-}"; fi
fi
say "cuDNN headers: ${CUDNN_ROOT:-system (/usr/local/cuda or /usr)}"
say "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
{ ldconfig -p 2>/dev/null | grep -E 'libcudnn.so.9|libcublas.so.13' || true; ls /usr/local/cuda/lib64/libcublas.so.* /usr/local/cuda/lib64/libcudnn.so.* 2>/dev/null || true; } | tee -a "$LOG"

PYTHON=$(command -v python3 || echo /usr/bin/python3)
# builds targets in build-gpu/; with PREBUILT=1 (binaries from bench/gpu/prebuilt.sh) only checks them
build() {
  if [ "${PREBUILT:-0}" = 1 ]; then return 0; fi
  cmake --build build-gpu -j "$JOBS" --target "$@" >>"$LOG" 2>&1
}
if [ "${PREBUILT:-0}" = 1 ]; then
  step "prebuilt binaries (bench/gpu/prebuilt.sh), libraries from build-gpu/lib"
  export LD_LIBRARY_PATH="$PWD/build-gpu/lib:${LD_LIBRARY_PATH:-}"
  for b in gaitrt gaitrt_gpu_bench tests/cuda/test_cuda_host tests/cuda/test_cuda_gpu; do
    [ -x "build-gpu/$b" ] || { say "build-gpu/$b missing: run bench/gpu/prebuilt.sh unpack"; exit 1; }
  done
  ldd build-gpu/gaitrt 2>&1 | grep -E 'not found|dnnl' | tee -a "$LOG"
else
  step "build (Release, CUDA, build-gpu/)"
  if ! cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGAITRT_CUDA=ON -DGRT_PYTHON="$PYTHON" >>"$LOG" 2>&1; then
    say "configure failed (see run.log)"
    exit 1
  fi
  grep -E '^-- gaitrt:' "$LOG" | tail -12
  for t in grt_cuda test_cuda_host test_cuda_gpu gaitrt_gpu_bench; do
    if ! build "$t"; then
      say "build of $t failed (see run.log)"
      STATUS=1
    fi
  done
fi

STEPS="${STEPS:-tests,bench,parity,peers,overlap,fidelity}"
want() { case ",$STEPS," in *",$1,"*) return 0 ;; esac; return 1; }

if want tests; then
step "test_cuda_host (no GPU needed)"
if [ -x build-gpu/tests/cuda/test_cuda_host ]; then
  (cd build-gpu && timeout 300 ./tests/cuda/test_cuda_host) >"$OUT/test_cuda_host.log" 2>&1 || STATUS=1
  tail -3 "$OUT/test_cuda_host.log" | tee -a "$LOG"
fi

step "test_cuda_gpu (every op, f32/tf32/f16/bf16, vs the reference backend)"
if [ -x build-gpu/tests/cuda/test_cuda_gpu ]; then
  (cd build-gpu && timeout 400 ./tests/cuda/test_cuda_gpu) >"$OUT/test_cuda_gpu.log" 2>&1
  rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && STATUS=1
  grep -E 'device|rel L2|cosine|CHECK|OK|SKIPPED|fallbacks' "$OUT/test_cuda_gpu.log" | head -60 | tee -a "$LOG"
  say "test_cuda_gpu exit code: $rc"
  if [ "${SANITIZE:-0}" = 1 ] && command -v compute-sanitizer >/dev/null; then
    (cd build-gpu && timeout 600 compute-sanitizer --tool memcheck --error-exitcode 3 ./tests/cuda/test_cuda_gpu) >>"$OUT/test_cuda_gpu.log" 2>&1
    say "compute-sanitizer memcheck exit code: $?"
  fi
fi

step "test_threads (sessions in parallel threads, CUDA where the level allows it, against one session alone)"
if build test_threads && [ -x build-gpu/tests/unit/test_threads ]; then
  (cd build-gpu && timeout 300 ./tests/unit/test_threads) >"$OUT/test_threads.log" 2>&1 || STATUS=1
  tail -3 "$OUT/test_threads.log" | tee -a "$LOG"
fi
fi

step "parity and timing (gaitrt_gpu_bench)"
if want bench && [ -x build-gpu/gaitrt_gpu_bench ]; then
  timeout 480 build-gpu/gaitrt_gpu_bench --out "$OUT" --reps "${REPS:-20}" --batches "${BATCHES:-1,8,64}" \
    --models "${MODELS:-gaitbase,deepgaitv2}" --precisions "${PRECISIONS:-f32,tf32,f16,bf16}" --ref-seqs "${REF_SEQS:-3}" \
    2>&1 | tee "$OUT/bench.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && STATUS=1
  say "gaitrt_gpu_bench exit code: $rc"
fi

if want parity && [ "$HAVE_TORCH" = 1 ] && [ "${SKIP_PYTORCH:-0}" != 1 ]; then
  step "pipeline parity against PyTorch (GaitBase, CUDA backend at the balanced level)"
  if build test_gaitbase_parity gaitrt_cli; then
    if [ "${PREBUILT:-0}" = 1 ]; then # no CTest files: the generator and the test as CTest runs them
      mkdir -p build-gpu/ref
      { timeout 600 "$PYTHON" tests/reference/gaitbase_ref.py build-gpu/ref/gaitbase &&
        (cd build-gpu && GRT_REF_DIR=$PWD/ref GRT_PYTHON="$PYTHON" GRT_SOURCE_DIR=$PWD/.. GRT_BUILD_DIR=$PWD \
          timeout 900 ./tests/unit/test_gaitbase_parity small); } >"$OUT/pytorch_parity.log" 2>&1 || STATUS=1
    else
      (cd build-gpu && timeout 900 ctest --output-on-failure -R 'ref_gaitbase_generate|test_gaitbase_parity') >"$OUT/pytorch_parity.log" 2>&1 || STATUS=1
    fi
    grep -E 'rel L2|backend|Passed|Failed|tests passed|SKIPPED' "$OUT/pytorch_parity.log" | head -40 | tee -a "$LOG"
  else
    say "build of test_gaitbase_parity failed (see run.log)"
    STATUS=1
  fi
fi

if want peers && [ "$HAVE_TORCH" = 1 ] && [ "${SKIP_PYTORCH:-0}" != 1 ]; then
  step "gaitrt (aggressive, f16) against PyTorch on the same GPU, host to host"
  if build gaitrt_cli; then
    for m in GaitBase DeepGaitV2:p3d-1441 DeepGaitV2:3d-1441; do
      for b in $(echo "${BATCHES:-1,8,64}" | tr ',' ' '); do
        tag=$(echo "${m}_$b" | tr ':' '_')
        runs=30; [ "$b" -ge 64 ] && runs=15
        GAITRT_SOURCE_DIR=$PWD timeout 300 build-gpu/gaitrt bench --model "$m" --frames 30 --batch "$b" --device cuda \
          --level aggressive --runs $runs --peers --json "$OUT/peers_$tag.json" >"$OUT/peers_$tag.log" 2>&1 || STATUS=1
        grep -E 'latency|^  (PyTorch|torch)|missing' "$OUT/peers_$tag.log" | cut -c1-200 | tee -a "$LOG"
      done
    done
    python3 - "$OUT" <<'PY' 2>&1 | tee "$OUT/peers.md" | tee -a "$LOG"
import glob, json, os, sys
print("| model | batch | gaitrt ms | " + " | ".join(["PyTorch fp32", "AMP fp16", "AMP bf16", "torch.compile AMP fp16"]) + " |")
print("|---|---|---|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(sys.argv[1], "peers_*.json"))):
    d = json.load(open(f))
    cells = [f"{p['median_ms']:.2f} ({p['median_ms'] / d['median_ms']:.2f}x)" if "median_ms" in p else "missing" for p in d["peers"]]
    print(f"| {d['model']} {d['variant'].split(' ')[0]} | {d['batch']} | {d['median_ms']:.2f} | " + " | ".join(cells) + " |")
PY
  else
    say "build of gaitrt failed (see run.log)"
    STATUS=1
  fi
fi

if want overlap; then
  step "overlap: many batches per call, packing and download of one batch beside the next one's compute"
  if build gaitrt_cli; then
    for m in GaitBase DeepGaitV2:p3d-1441; do
      for ov in 1 0; do
        tag=$(echo "${m}_ov$ov" | tr ':' '_')
        no=""; [ "$ov" = 0 ] && no=1
        GAITRT_NO_OVERLAP=$no timeout 240 build-gpu/gaitrt bench --model "$m" --frames 30 --batch 256 --max-batch 64 \
          --device cuda --level aggressive --runs 15 --json "$OUT/overlap_$tag.json" >"$OUT/overlap_$tag.log" 2>&1 || STATUS=1
        say "$m 256 x 30 in runs of 64, overlap $ov: $(grep -E 'latency' "$OUT/overlap_$tag.log" | head -1 | cut -c1-160)"
      done
    done
  else
    say "build of gaitrt failed (see run.log)"
    STATUS=1
  fi
fi

if want fidelity; then
step "aggressive level: fidelity on the demo silhouettes (GPU f16; host CPU bf16 or relaxed fp32) and CPU time"
grep -o -E 'avx512_bf16|amx_bf16|avx512f ' /proc/cpuinfo | sort -u | tr '\n' ' ' | tee -a "$LOG"; say ""
DATA="${GRT_SHARED_DATA:-$PWD/../shared/data}"
if build test_lowp_fidelity gaitrt_cli; then
  for dv in cuda cpu; do
    timeout 300 build-gpu/tests/fast/test_lowp_fidelity "$DATA" $dv >"$OUT/fidelity_$dv.log" 2>&1
    rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && STATUS=1
    tail -4 "$OUT/fidelity_$dv.log" | cut -c1-300 | tee -a "$LOG"
  done
  for lv in balanced aggressive; do
    for b in 1 8; do
      timeout 120 build-gpu/gaitrt bench --model GaitBase --frames 30 --batch $b --runs 7 --device cpu --level $lv \
        --json "$OUT/cpu_${lv}_$b.json" 2>&1 | grep -E 'session|latency|throughput' | cut -c1-240 | tee -a "$LOG"
    done
  done
  python3 - "$OUT" <<'PY' 2>&1 | tee -a "$LOG"
import json, os, sys
o = sys.argv[1]
for b in (1, 8):
    try:
        f = json.load(open(os.path.join(o, f"cpu_balanced_{b}.json")))
        a = json.load(open(os.path.join(o, f"cpu_aggressive_{b}.json")))
    except OSError:
        continue
    print(f"GaitBase {b}x30 on the host CPU: aggressive/balanced time {a['median_ms'] / f['median_ms']:.2f}x "
          f"({a['median_ms']:.1f} ms vs {f['median_ms']:.1f} ms)")
PY
else
  say "build of test_lowp_fidelity / gaitrt failed (see run.log)"
fi
fi

if want cpupeers; then
  # The fast CPU backend's targets are set for a 2-core AVX-512 machine; this host is one with more
  # cores. Two threads, and both channel-block layouts: 8 (our AVX2 Winograd kernels on the 3x3
  # stride-1 layers, oneDNN's AVX2 kernels elsewhere) and 16 (oneDNN's AVX-512 kernels everywhere),
  # so that the layout an AVX-512 CPU gets by default can be chosen by measurement.
  step "host CPU, 2 threads: gaitrt balanced (8- and 16-channel blocks) against PyTorch / ONNX Runtime on the CPU"
  grep -o -E 'avx512f |avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ' | tee -a "$LOG"; say ""
  if build gaitrt_cli; then
    for spec in GaitBase:1 GaitBase:8 DeepGaitV2:p3d-1441:1; do
      m=${spec%:*}; b=${spec##*:}
      for blk in 8 16; do
        tag=$(echo "cpu_${m}_${b}_blk$blk" | tr ':' '_')
        peers=""; [ "$blk" = 8 ] && [ "$HAVE_TORCH" = 1 ] && peers="--peers"
        GAITRT_PEER_PYTHON=$(command -v python3) GAITRT_FAST_BLOCK=$blk GAITRT_SOURCE_DIR=$PWD timeout 400 build-gpu/gaitrt bench --model "$m" --frames 30 --batch "$b" \
          --device cpu --threads 2 --runs 7 $peers --json "$OUT/$tag.json" >"$OUT/$tag.log" 2>&1 || STATUS=1
        say "-- $m ${b}x30, blocks of $blk:"
        grep -E 'session|latency|peak|^  (PyTorch|torch|ONNX)|missing' "$OUT/$tag.log" | cut -c1-200 | tee -a "$LOG"
      done
    done
  else
    say "build of gaitrt failed (see run.log)"
    STATUS=1
  fi
fi

step "summary"
[ -f "$OUT/gpu_results.md" ] && cat "$OUT/gpu_results.md"
say "run.sh exit status: $STATUS"
exit $STATUS
