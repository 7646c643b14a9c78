#!/bin/sh
# The README's first command: install what is missing, build, and run the main job:
# the process vs thread vs coroutine comparison under ctxswitch-trace.
#   sudo scripts/main.sh [compare options...]
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh build
exec build/bin/ctxswitch-trace compare "$@"
