#!/usr/bin/env bash
# Installs the Debian packages gaitrt builds with (and, with --test, what its tests use:
# PyTorch, OpenCV and numpy for the reference scripts, clang for the fuzzers). Packages that
# are already installed are skipped, so this is quick on a prepared machine.
set -euo pipefail
pkgs="build-essential cmake pkg-config zlib1g-dev libspng-dev libturbojpeg0-dev libjpeg-dev libcjson-dev
      libyaml-dev libsqlite3-dev libdnnl-dev libomp-dev"
if [ "${1:-}" = "--test" ]; then
  pkgs="$pkgs python3 python3-numpy python3-torch python3-opencv clang libclang-rt-14-dev valgrind"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
echo "install-deps: installing$missing"
sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends $missing
