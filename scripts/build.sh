#!/bin/bash
# Configures and builds into $BUILD_DIR (default build/). SV_SANITIZE=ON and SV_WERROR=ON
# are passed through to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DSV_SANITIZE="${SV_SANITIZE:-OFF}" -DSV_WERROR="${SV_WERROR:-OFF}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
