#!/bin/sh
# split-debug.sh BINARY DEBUG_ROOT
# Moves BINARY's debug information into DEBUG_ROOT/.build-id/xx/rest.debug, the layout gdb,
# eu-stack and crashlab search by build-id, then strips BINARY completely (.symtab too),
# leaving a .gnu_debuglink that names the debug file.
set -eu
bin=$1
root=$2
id=$(readelf -n "$bin" | awk '/Build ID:/ {print $3}')
if [ -z "$id" ]; then
    echo "split-debug: $bin has no build-id (link with --build-id)" >&2
    exit 1
fi
dir="$root/.build-id/$(echo "$id" | cut -c1-2)"
debug="$dir/$(echo "$id" | cut -c3-).debug"
mkdir -p "$dir"
# Compressed, as distributions ship them (and as the symbolizer must handle them).
objcopy --only-keep-debug --compress-debug-sections=zlib "$bin" "$debug"
chmod 0644 "$debug"
objcopy --strip-all --add-gnu-debuglink="$debug" "$bin" "$bin.stripped"
mv "$bin.stripped" "$bin"
