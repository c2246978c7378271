#!/bin/bash
# The run command: installs what is missing, builds, and starts sockvisord in the
# foreground on conf/demo.ini (the demo HTTP server on 127.0.0.1:8080). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
# The demo config names its program "sockvisor-demo": find it in the build tree.
export PATH="$PWD/${BUILD_DIR:-build}:$PATH"
exec "${BUILD_DIR:-build}/sockvisord" -c conf/demo.ini "$@"
