#!/bin/sh
# Checks that every C and C++ source of the project matches the repository's .clang-format
# (bpf/ has its own, in the kernel's C style). Run by ctest as the test `format`; to fix:
#   clang-format -i FILE...
#   scripts/check-format.sh [CLANG_FORMAT]
set -eu
cd "$(dirname "$0")/.."
clang_format="${1:-clang-format}"
# the folders that hold sources (a build directory, wherever it is, holds generated ones)
files=$(find bpf lib tools workloads crashlab tests \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) | sort)
# shellcheck disable=SC2086
if ! "$clang_format" --dry-run -Werror $files; then
    echo "check-format: the files above do not match .clang-format: clang-format -i them" >&2
    exit 1
fi
echo "check-format: $(echo "$files" | wc -l) files match .clang-format"
