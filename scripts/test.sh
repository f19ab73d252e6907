#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs GoogleTest units and the
# integration tests (real server and simulator processes on loopback) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ ! -d ../shared/fixtures/nca-test ]; then
  echo "note: ../shared/fixtures/nca-test is absent: tests on NCA's real test artifacts will skip"
fi
ctest --test-dir "${AAJ_BUILD_DIR:-build}" --output-on-failure -j 2 --timeout 900
