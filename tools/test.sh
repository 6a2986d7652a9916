#!/usr/bin/env bash
# The whole test suite: installs the Debian packages the tests need, builds gaitrt in
# Release and runs every test, then builds with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs the tests again (the slowest full-size parity cases are labelled `heavy` and the
# 10,000-embed soak `soak`; both run only in the Release pass, as do the reference kernels on the
# zoo tests' cases longer than 30 frames), fuzzes every parser for a
# bounded time, and runs the thread test under ThreadSanitizer. Tests whose reference tools are
# missing are reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# each part says how long it took (bash's SECONDS), so a slow part shows in the log
step() { echo "== [${SECONDS}s] $*"; }
bash tools/install-deps.sh --test

step "Release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

step "AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAITRT_SANITIZE=ON -DGAITRT_CUDA=OFF
cmake --build build-asan -j "$jobs"
# (the soak test is left to the Release pass: ASan's quarantine makes its RSS check meaningless)
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE "heavy|soak"

step "Fuzzing every parser for ${GAITRT_FUZZ_SECONDS:-20} s each (libFuzzer with clang, else the plain drivers)"
bash tests/fuzz/run_fuzz.sh "${GAITRT_FUZZ_SECONDS:-20}"

step "ThreadSanitizer: several sessions over one model in parallel threads"
# OpenMP's and oneDNN's thread pools are not TSan-instrumented, so this build leaves them out
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAITRT_TSAN=ON -DGAITRT_OPENMP=OFF -DGAITRT_DNNL=OFF -DGAITRT_CUDA=OFF \
  "-DGAITRT_TEST_ONLY=unit"
cmake --build build-tsan -j "$jobs" --target test_threads
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -R test_threads
step "done"
