#!/bin/bash
# The test command: installs what is missing, builds, and runs every test (unit and
# end to end). Exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 "$@"
