#!/usr/bin/env bash
# bench/gpu/prebuilt.sh — the GPU runs from binaries built on the development machine, for GPU
# machines that have the driver, CMake and nvcc but not the Debian -dev packages gaitrt links
# (oneDNN, libspng, libjpeg-turbo, cJSON, libyaml, SQLite).
#
#   here:     bash bench/gpu/prebuilt.sh pack
#             builds build-gpu/ (Release, CUDA for sm_80 and sm_90) and writes
#             build-gpu/prebuilt.tar.xz: the binaries bench/gpu/run.sh runs, and the shared
#             libraries they need that a bare Ubuntu/Debian image may lack (under lib/);
#   there:    bash bench/gpu/prebuilt.sh unpack && PREBUILT=1 STEPS=tests,bench bash bench/gpu/run.sh
#             (the archive carried to the GPU machine beside the working tree, e.g. as the
#             only ignored path the device tool carries).
#
# The C library, libstdc++ and libgcc_s are the machine's own (the binaries need glibc >= the
# development machine's, 2.36). cuBLAS and cuDNN are opened at run time from the machine (CUDA
# toolkit, or PyTorch's nvidia-* wheels: run.sh finds them); the CUDA runtime is linked in.
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN="gaitrt gaitrt_gpu_bench tests/cuda/test_cuda_host tests/cuda/test_cuda_gpu tests/unit/test_gaitbase_parity tests/fast/test_lowp_fidelity tests/unit/test_threads"
SYSTEM_LIBS='^(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux-x86-64|linux-vdso|libcuda|libnvidia-ml)\.'

case "${1:-}" in
pack)
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGAITRT_CUDA=ON -DGRT_PYTHON=/usr/bin/python3 >/dev/null
  cmake --build build-gpu -j "$(nproc)" --target gaitrt_cli gaitrt_gpu_bench test_cuda_host test_cuda_gpu \
    test_gaitbase_parity test_lowp_fidelity test_threads >/dev/null
  stage=build-gpu/prebuilt
  rm -rf "$stage"
  mkdir -p "$stage/lib"
  for b in $BIN; do
    [ -x "build-gpu/$b" ] || { echo "prebuilt: build-gpu/$b was not built" >&2; exit 1; }
    mkdir -p "$stage/$(dirname "$b")"
    cp "build-gpu/$b" "$stage/$b"
    ldd "build-gpu/$b" | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
      name=$(basename "$lib")
      if ! echo "$name" | grep -Eq "$SYSTEM_LIBS"; then cp -L "$lib" "$stage/lib/$name"; fi
    done
  done
  tar -C build-gpu -cJf build-gpu/prebuilt.tar.xz prebuilt
  echo "prebuilt: build-gpu/prebuilt.tar.xz ($(du -h build-gpu/prebuilt.tar.xz | cut -f1)): $(ls "$stage/lib" | tr '\n' ' ')"
  ;;
unpack)
  [ -f build-gpu/prebuilt.tar.xz ] || { echo "prebuilt: no build-gpu/prebuilt.tar.xz here" >&2; exit 1; }
  tar -C build-gpu -xJf build-gpu/prebuilt.tar.xz
  cp -a build-gpu/prebuilt/. build-gpu/
  echo "prebuilt: unpacked into build-gpu/ (libraries in build-gpu/lib)"
  ;;
*)
  echo "usage: bash bench/gpu/prebuilt.sh pack|unpack" >&2
  exit 2
  ;;
esac
