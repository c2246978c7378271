#!/bin/bash
# Builds the libFuzzer targets (tests/fuzz, clang) into $BUILD_DIR (default build-fuzz) and
# runs each for SV_FUZZ_SECONDS (default 20) on its seed corpus, as ctest tests labelled
# "fuzz", two at a time. CI runs this briefly; for a long run of one target see README
# "Fuzzing". A crash leaves its input in $BUILD_DIR/tests/fuzz/crash-NAME-*, and the
# target run on that file replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build-fuzz}
CC=clang cmake -S . -B "$BUILD_DIR" -DSV_FUZZ=ON -DSV_FUZZ_SECONDS="${SV_FUZZ_SECONDS:-20}" >/dev/null
cmake --build "$BUILD_DIR" --target fuzz -j"$(nproc)"
cd "$BUILD_DIR"
ctest -L fuzz -j2 --output-on-failure "$@"
