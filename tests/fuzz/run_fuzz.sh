#!/usr/bin/env bash
# run_fuzz.sh — fuzzes every parser for a bounded time under AddressSanitizer + UBSan.
#
#     tests/fuzz/run_fuzz.sh [SECONDS_PER_TARGET]        (default 20; FUZZ_SEED=S fixes the seed,
#                                                          FUZZ_PLAIN=1 uses the plain drivers)
#
# With clang and libFuzzer's runtime (Debian: clang, libclang-rt-14-dev) it builds build-fuzz/
# with -DGAITRT_FUZZ=ON and runs each fuzz_<parser>_libfuzzer, coverage-guided, starting from
# tests/fuzz/corpus/<parser>/ and tests/fuzz/crashers/<parser>/. Without them it builds the
# plain drivers with gcc's sanitizers and runs their deterministic mutation loop instead.
# New corpus units go to build-fuzz/corpus-work/ (the committed seeds are never changed).
#
# A crash, leak, timeout or over-large allocation stops with the failing input saved under
# build-fuzz/artifacts/<parser>/ (build-fuzz-plain/ without libFuzzer); once the bug is fixed, copy that file into
# tests/fuzz/crashers/<parser>/ so that CTest replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
seed=${FUZZ_SEED:-$(date +%Y%m%d)}
jobs=$(nproc 2>/dev/null || echo 2)
targets="zip pickle ckpt safetensors npy pkl image inflate pose config"
out=build-fuzz

have_libfuzzer() {
  command -v clang >/dev/null 2>&1 || return 1
  local d
  d=$(mktemp -d)
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$d/t.c"
  clang -fsanitize=fuzzer,address "$d/t.c" -o "$d/t" >/dev/null 2>&1
  local ok=$?
  rm -rf "$d"
  return $ok
}

if [ -z "${FUZZ_PLAIN:-}" ] && have_libfuzzer; then
  mode=libfuzzer
  CC=clang cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAITRT_FUZZ=ON -DGAITRT_SANITIZE=ON \
    -DGAITRT_CUDA=OFF -DGAITRT_DNNL=OFF -DGAITRT_TEST_ONLY=fuzz >/dev/null
else
  mode=plain
  out=build-fuzz-plain
  echo "run_fuzz: no libFuzzer (or FUZZ_PLAIN set): running the plain drivers' mutation loop (seed $seed)"
  cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAITRT_SANITIZE=ON -DGAITRT_CUDA=OFF -DGAITRT_DNNL=OFF \
    -DGAITRT_TEST_ONLY=fuzz >/dev/null
fi
cmake --build "$out" -j "$jobs" --target fuzz_targets >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
printf '\n%-12s %12s %10s %8s %10s  %s\n' target execs exec/s seeds corpus result
for p in $targets; do
  art="$out/artifacts/$p/"
  work="$out/corpus-work/$p"
  rm -rf "$work"
  mkdir -p "$art" "$work"
  dirs="tests/fuzz/corpus/$p"
  [ -d "tests/fuzz/crashers/$p" ] && dirs="$dirs tests/fuzz/crashers/$p"
  log="$out/fuzz-$p.log"
  rc=0
  if [ "$mode" = libfuzzer ]; then
    # shellcheck disable=SC2086
    "$out/tests/fuzz/fuzz_${p}_libfuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
      -print_final_stats=1 -seed="$seed" -artifact_prefix="$art" "$work" $dirs >"$log" 2>&1 || rc=$?
  else
    # shellcheck disable=SC2086
    "$out/tests/fuzz/fuzz_$p" -max_total_time="$secs" -timeout=10 -seed="$seed" -artifact_prefix="$art" $dirs \
      >"$log" 2>&1 || rc=$?
  fi
  execs=$(grep -o 'number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  seeds=$(find tests/fuzz/corpus/$p -type f | wc -l)
  corpus=$(( seeds + $(find "$work" -type f | wc -l) ))
  if [ "$rc" = 0 ]; then result=ok; else result="FAILED (exit $rc, see $log)"; status=1; fi
  printf '%-12s %12s %10s %8s %10s  %s\n' "$p" "$execs" "$(( ${execs:-0} / secs ))" "$seeds" "$corpus" "$result"
  if [ "$rc" != 0 ]; then
    grep -E 'ERROR|SUMMARY|violated|runtime error|written to|Test unit written' "$log" | head -8 | sed 's/^/    /'
  fi
done
if [ "$status" != 0 ]; then
  echo "run_fuzz: a fuzz target failed; the inputs are under $out/artifacts/. Fix the bug, then copy each input"
  echo "          into tests/fuzz/crashers/<parser>/ so that CTest replays it."
fi
exit $status
