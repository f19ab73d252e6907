#!/usr/bin/env bash
# Configures and builds aaj into build/ (Release with debug info, Ninja, ccache, -j2: the
# machines have two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${AAJ_BUILD_DIR:-build}"
JOBS="${AAJ_JOBS:-2}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
