#!/bin/sh
# Builds bench_pretreat against the static libraries of a CMake build folder (default: build).
# The benchmark is not part of the CMake project on purpose: it is run by hand, not by CTest.
set -e
B=${1:-build}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
LIBS="$B/libgrt_preprocess.a $B/libgrt_io.a $B/libgrt_core.a"
DEPS=$(pkg-config --libs spng libturbojpeg 2>/dev/null)
for p in libcjson yaml-0.1; do pkg-config --exists $p && DEPS="$DEPS $(pkg-config --libs $p)"; done
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -o "$B/bench_pretreat" "$SRC/bench/preprocess/bench_pretreat.c" \
    -I"$SRC/include" -I"$SRC/src" $LIBS $DEPS -lz -lm -lpthread -fopenmp
echo "$B/bench_pretreat"
