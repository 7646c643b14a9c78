#!/bin/sh
# Builds the project the ways a user or a packager would, each in a directory of its own
# under build-matrix/, warnings as errors, and runs the tests each one can run:
#   default    the README's build (RelWithDebInfo)             no tests here (test.sh runs them)
#   release    -DCMAKE_BUILD_TYPE=Release (-O3)                unit tests
#   debian     Debian's packaging flags (dpkg-buildflags: -O2, stack protector,
#              _FORTIFY_SOURCE, -Werror=format-security, relro)  unit tests
#   clang      CC=clang CXX=clang++                            unit tests
#   clang-O0   the same without optimization or debug info:    unit tests
#              clang's warnings (its front end's) in about
#              half the time; what CI builds
#   sanitize   -DSANITIZE=ON (ASan + UBSan)                    unit and crash-lab tests
#   fuzz       -DFUZZ=ON (clang, libFuzzer: scripts/fuzz.sh)   each fuzz target for 10 s
# Run it before landing anything that touches the build. It takes long on 2 cores (a full
# build each): name the ones to run, or none for all.
#   scripts/build-matrix.sh [default|release|debian|clang|clang-O0|sanitize|fuzz ...]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
if ! command -v dpkg-buildflags >/dev/null; then  # the debian build's flags
    echo "build-matrix: installing dpkg-dev (dpkg-buildflags)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi
all="default release debian clang clang-O0 sanitize fuzz"
which="${*:-$all}"
jobs="$(nproc)"
failed=""

build() {  # NAME CMAKE_ARGS... (environment from the caller)
    name="$1"
    shift
    dir="build-matrix/$name"
    echo "=== $name: cmake $*"
    if ! cmake -S . -B "$dir" -DWERROR=ON "$@" >"$dir.log" 2>&1 ||
        ! cmake --build "$dir" -j"$jobs" >>"$dir.log" 2>&1; then
        grep -E "error|Error" "$dir.log" | head -20
        echo "=== $name: build FAILED (log: $dir.log)"
        failed="$failed $name"
        return 1
    fi
    echo "=== $name: built"
}

run_tests() {  # NAME CTEST_ARGS...
    name="$1"
    shift
    if (cd "build-matrix/$name" && ctest --output-on-failure -j"$jobs" "$@") \
        >>"build-matrix/$name.log" 2>&1; then
        echo "=== $name: $(grep 'tests passed' "build-matrix/$name.log" | tail -1)"
    else
        grep -E "tests passed|Failed|FAILED" "build-matrix/$name.log" | tail -10
        echo "=== $name: tests FAILED (log: build-matrix/$name.log)"
        failed="$failed $name"
    fi
}

mkdir -p build-matrix
for name in $which; do
    case "$name" in
        default)
            build default -DCMAKE_BUILD_TYPE=RelWithDebInfo || true ;;
        release)
            build release -DCMAKE_BUILD_TYPE=Release && run_tests release -L unit ;;
        debian)
            cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
            cxxflags="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
            ldflags="$(dpkg-buildflags --get LDFLAGS)"
            CFLAGS="$cflags" CXXFLAGS="$cxxflags" LDFLAGS="$ldflags" \
                build debian -DCMAKE_BUILD_TYPE=None && run_tests debian -L unit ;;
        clang)
            CC=clang CXX=clang++ build clang -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
                run_tests clang -L unit ;;
        clang-O0)
            CC=clang CXX=clang++ build clang-O0 -DCMAKE_BUILD_TYPE=None &&
                run_tests clang-O0 -L unit ;;
        sanitize)
            build sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANITIZE=ON &&
                run_tests sanitize -L "unit|crashlab" ;;
        fuzz)
            # its own build (the fuzz targets only) and run: scripts/fuzz.sh
            echo "=== fuzz: scripts/fuzz.sh --build build-matrix/fuzz --seconds 10"
            if scripts/fuzz.sh --build build-matrix/fuzz --seconds 10 >build-matrix/fuzz.log 2>&1; then
                echo "=== fuzz: $(tail -1 build-matrix/fuzz.log | sed "s/^fuzz: //")"
            else
                grep -E "FAILED|reproducer|rerun" build-matrix/fuzz.log | head -10
                echo "=== fuzz: FAILED (log: build-matrix/fuzz.log)"
                failed="$failed fuzz"
            fi ;;
        *)
            echo "build-matrix: unknown build $name (one of: $all)" >&2
            exit 2 ;;
    esac
done
if [ -n "$failed" ]; then
    echo "build-matrix: FAILED:$failed"
    exit 1
fi
echo "build-matrix: all passed ($which)"
