#!/bin/sh
# The README's test command: install what is missing, build, run every test (ctest).
# Tests that need root and BPF skip without root, and fail instead when CI=true.
#   sudo scripts/test.sh [ctest arguments...]
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh build
cd build
exec ctest --output-on-failure --timeout 300 -j"$(nproc)" "$@"
