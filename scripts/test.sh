#!/usr/bin/env bash
# The test command: installs dependencies (Debian packages), builds dory (Release, build/) and runs every test
# with CTest. Extra arguments go to ctest, e.g. `scripts/test.sh -L conformance`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 1200 "$@"
